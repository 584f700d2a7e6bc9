"""tlsfast's pure-Python implementation, over the stdlib ``ssl`` module.

Theory of operation
-------------------
Everything here is the stdlib's: ``SSLContext``, ``SSLSocket`` and
``SSLObject`` are thin subclasses of their ``ssl`` namesakes, so the
context configuration, certificate handling, blocking/timeout I/O and every
stdlib method behave exactly as in ``ssl`` (and use the same OpenSSL that
CPython's ``_ssl`` links).  ``SSLContext`` only swaps in the two wrapper
classes through the stdlib's own ``sslsocket_class`` / ``sslobject_class``
hooks, so ``wrap_socket`` / ``wrap_bio`` and ``SSLSocket.accept`` hand out
tlsfast objects.

The one addition is the non-raising fast path of ``tlsfast._protocol``
(``try_do_handshake``, ``try_recv_into``, ``try_send``, ``try_unwrap``,
``wanted_events``), written once in ``_FastPathMixin`` and shared by both
wrapper classes.  Each method calls the C-level ``_ssl._SSLSocket`` object
(``self._sslobj``) directly -- skipping the Python-level checks of
``SSLSocket.recv_into`` / ``send`` -- and turns ``SSLWantReadError`` /
``SSLWantWriteError`` into the codes ``WANT_READ`` / ``WANT_WRITE``.  The
stdlib offers no other way to learn "would block", so this implementation
still pays for one exception per would-block; the compiled one does not.

Wrapper-specific behaviour goes through four small hooks (``_tls_handshake``,
``_tls_read``, ``_tls_write``, ``_tls_shutdown``): ``SSLObject`` calls the
C-level object, ``SSLSocket`` its own stdlib-compatible methods.

Threads: the stdlib lets two threads into one ``SSL*`` (it releases the GIL
around ``SSL_read`` / ``SSL_write`` and waits for the transport inside
them).  ``SSLSocket`` does not: every call into the C-level object runs under
one lock and never waits there -- on a blocking or timeout socket it runs
non-blocking and the wait happens outside the lock (see the comment at the
top of ``SSLSocket``).  ``SSLObject`` (memory BIOs, never waits) is left as
the stdlib's.
"""

import _socket as _csocket
import _ssl as _ssl_c
import contextlib as _contextlib
import errno as _errno
import functools as _functools
import math as _math
import os as _os
import select as _select
import socket as _socket
import ssl as _ssl
import sys as _sys
import threading as _threading
import time as _time
import types as _types

from ._common import (
    CHAIN_AS_DER,
    DEFAULT_CIPHERS,
    EVENTS_FOR_CODE,
    HANDSHAKE_TIMEOUT,
    SYSCALL_ERRNO_RAISES,
    READ_TIMEOUT,
    WANT_READ,
    WANT_WRITE,
    WRITE_TIMEOUT,
    Purpose,
)
from ._green import green_wrap_socket as _green_wrap_socket
from ._helpers import create_default_context as _create_default_context
from ._helpers import check_session, check_wrap_args, not_a_context, stdlib_original
from ._helpers import check_sendmsg_args as _check_sendmsg_args
from ._helpers import join_buffers as _join_buffers


def _rebound(value, namespace, owner):
    """``value`` (a function, or a method / property made of functions) of
    ssl.py's ``SSLSocket`` body, re-made with module globals ``namespace``
    and its ``super()`` cell naming the class ``owner``."""
    if isinstance(value, (classmethod, staticmethod)):
        return type(value)(_rebound(value.__func__, namespace, owner))
    if isinstance(value, property):
        return property(*[f and _rebound(f, namespace, owner)
                          for f in (value.fget, value.fset, value.fdel)], value.__doc__)
    if not isinstance(value, _types.FunctionType):
        return value
    code, cells = value.__code__, value.__closure__
    if cells:
        cells = tuple(_types.CellType(owner) if name == "__class__" else cell
                      for name, cell in zip(code.co_freevars, cells))
    func = _types.FunctionType(code, namespace, value.__name__, value.__defaults__, cells)
    func.__kwdefaults__ = value.__kwdefaults__
    func.__dict__.update(value.__dict__)
    func.__doc__, func.__qualname__, func.__module__ = (
        value.__doc__, value.__qualname__, value.__module__)
    return func


def _on_real_socket(cls):
    """ssl.py's ``SSLSocket`` class ``cls`` when it derives from the real
    ``socket.socket``; else a copy of it that does.

    gevent's ``patch_all()`` patches ``socket`` and then imports ``ssl``: in
    such a program (tlsfast imported after it) ssl.py's ``class
    SSLSocket(socket)`` took gevent's socket class, which holds a
    ``_socket.socket`` instead of being one, so neither the stdlib's C code
    nor this module can drive it.  The copy has ssl.py's own functions, with
    ssl.py's globals naming the copy (``super(SSLSocket, self)``) and their
    ``super()`` cells bound to it; ``isinstance`` against that gevent-based
    ``ssl.SSLSocket`` is then false."""
    if issubclass(cls, _csocket.socket):
        return cls
    real_socket = stdlib_original(_socket, "socket")
    copy = type(cls.__name__, (real_socket,), {
        "__module__": cls.__module__, "__qualname__": cls.__qualname__,
        "__doc__": cls.__doc__})
    namespace = dict(vars(_ssl), SSLSocket=copy, socket=real_socket)
    for name, value in vars(cls).items():
        if name not in ("__dict__", "__weakref__", "__module__", "__qualname__", "__doc__"):
            setattr(copy, name, _rebound(value, namespace, copy))
    return copy


# the stdlib's classes even in a monkey-patched process
_StdlibSSLContext = stdlib_original(_ssl, "SSLContext")
_StdlibSSLSocket = _on_real_socket(stdlib_original(_ssl, "SSLSocket"))
_StdlibSSLObject = stdlib_original(_ssl, "SSLObject")
_CSSLContext = _StdlibSSLContext.__mro__[1]      # _ssl._SSLContext, the C type
_CSSLSocket = _ssl_c._SSLSocket                   # the C-level ``_sslobj``

SSLWantReadError = _ssl.SSLWantReadError
SSLWantWriteError = _ssl.SSLWantWriteError
SSLZeroReturnError = _ssl.SSLZeroReturnError
SSLEOFError = _ssl.SSLEOFError
SSLError = _ssl.SSLError

_StdlibSocket = _csocket.socket       # the C type: its timeout, never ours
_suppress = _contextlib.suppress
_monotonic = _time.monotonic
_POLLIN = _select.POLLIN
_POLLOUT = _select.POLLOUT
# eventlet's monkey_patch() deletes select.poll (its hub cannot serve it);
# gevent's patch_all() makes it cooperative: use that one while it is there
_original_poll = stdlib_original(_select, "poll")

_EVENT_READ = EVENTS_FOR_CODE[WANT_READ]
_EVENT_WRITE = EVENTS_FOR_CODE[WANT_WRITE]

SSLSession = _ssl.SSLSession


class MemoryBIO:
    """``ssl.MemoryBIO`` plus ``read_into`` (the stdlib's type cannot be
    subclassed, so this holds one; ``SSLContext.wrap_bio`` unwraps it)."""

    __slots__ = ("_bio", "__dict__")

    def __init__(self):
        self._bio = bio = _ssl.MemoryBIO()
        # each message moves through read() / write(): the instance calls
        # the stdlib's methods directly (the methods below document them)
        self.read, self.write = bio.read, bio.write

    @property
    def pending(self):
        """int: bytes waiting to be read."""
        return self._bio.pending

    @property
    def eof(self):
        """bool: ``write_eof()`` was called and every byte has been read."""
        return self._bio.eof

    def read(self, size=-1):
        """Up to ``size`` (int) pending bytes (all when < 0) as ``bytes``;
        ``b''`` when empty.  ``ssl.MemoryBIO.read`` (``BIO_read``): raises
        ``TypeError`` for a non-integer ``size``, ``OverflowError`` when it
        does not fit in a C int."""
        return self._bio.read(size)

    def write(self, data):
        """Append bytes-like ``data``; returns the count (bytes).
        ``ssl.MemoryBIO.write`` (``BIO_write``): raises ``TypeError`` for a
        non bytes-like object, ``OverflowError`` above 2**31-1 bytes,
        ``ssl.SSLError`` after ``write_eof()`` (even for empty ``data``)."""
        return self._bio.write(data)

    def write_eof(self):
        """Mark end of stream: once drained, reads report EOF (``eof`` is
        True) and an ``SSLObject`` reading from it sees the transport closed;
        later ``write()`` calls raise ``ssl.SSLError``.  ``ssl.MemoryBIO.write_eof``;
        raises nothing."""
        self._bio.write_eof()

    def read_into(self, buffer, nbytes=0):
        """Move up to ``nbytes`` (<= 0: ``len(buffer)``) pending bytes into the
        writable bytes-like ``buffer``; returns the count (0 when empty).
        Raises ``TypeError`` for a read-only buffer, ``ValueError`` if
        ``nbytes`` > ``len(buffer)``.  (The stdlib's BIO can only return a new
        ``bytes``, so this copies twice; the compiled one copies once.)"""
        with memoryview(buffer) as view:
            if view.readonly:
                raise TypeError(
                    f"read-write bytes-like object is required, not {type(buffer).__name__!r}")
            with view.cast("B") as target:
                if nbytes <= 0:
                    nbytes = len(target)
                elif nbytes > len(target):
                    raise ValueError("nbytes is greater than the length of the buffer")
                data = self._bio.read(nbytes)
                target[:len(data)] = data
                return len(data)


OPENSSL_VERSION = _ssl.OPENSSL_VERSION
OPENSSL_VERSION_INFO = _ssl.OPENSSL_VERSION_INFO
OPENSSL_VERSION_NUMBER = _ssl.OPENSSL_VERSION_NUMBER
RAND_bytes = _ssl.RAND_bytes
RAND_status = _ssl.RAND_status
RAND_add = _ssl.RAND_add


def _stdlib_bio(bio):
    return bio._bio if isinstance(bio, MemoryBIO) else bio


class _FastPathMixin:
    """The non-raising fast path, shared by ``SSLSocket`` and ``SSLObject``.

    Each ``try_*`` method makes one call through a hook (``_tls_handshake``,
    ``_tls_read``, ``_tls_write``, ``_tls_shutdown``) and turns the want
    exceptions into ``WANT_READ`` / ``WANT_WRITE`` (``_tlsfast_failed``).
    The defaults call the C-level ``self._sslobj``; ``try_recv_into`` /
    ``try_send`` of an ``SSLObject`` call it without a hook
    (``_tlsfast_direct``: no Python frame between them and ``SSL_read``);
    the socket goes through its serialised methods (one call in its turn
    when nothing has to wait).
    """

    # selectors mask the last try_* call waits for (instance attribute once set)
    _wanted_events = 0
    # the C-level object try_recv_into / try_send may call without a hook
    # (an instance attribute: SSLObject sets it, SSLSocket sets None)
    _tlsfast_direct = None

    # -- hooks (SSLObject uses these defaults: its _sslobj is never None) --
    def _tls_handshake(self):
        self._sslobj.do_handshake()

    def _tls_read(self, nbytes, buffer):
        return self._sslobj.read(nbytes, buffer)

    def _tls_write(self, data):
        return self._sslobj.write(data)

    def _tls_shutdown(self):
        self._sslobj.shutdown()

    def _try(self, call, *args):
        """``call(*args)``, with the want exceptions returned as codes."""
        try:
            result = call(*args)
        except BaseException as exc:
            return self._tlsfast_failed(exc, False)
        self._wanted_events = 0
        return result

    def _tlsfast_failed(self, exc, reading):
        """What a ``try_*`` call whose call into the SSL* raised ``exc``
        returns (and the ``wanted_events`` it leaves): ``WANT_READ`` /
        ``WANT_WRITE`` for the want errors; when ``reading``, 0 at the end
        of the stream (close_notify, or a ragged EOF with
        ``suppress_ragged_eofs``); else it raises ``exc``."""
        if isinstance(exc, SSLWantReadError):
            self._wanted_events = _EVENT_READ
            return WANT_READ
        if isinstance(exc, SSLWantWriteError):
            self._wanted_events = _EVENT_WRITE
            return WANT_WRITE
        self._wanted_events = 0
        if reading and (isinstance(exc, SSLZeroReturnError) or (
                isinstance(exc, SSLEOFError) and getattr(self, "suppress_ragged_eofs", False))):
            return 0
        raise exc

    # -- fast path -----------------------------------------------------------
    @property
    def wanted_events(self):
        """``selectors`` event mask (int) the last ``try_*`` call waits for.

        ``selectors.EVENT_READ`` after a ``WANT_READ`` return,
        ``selectors.EVENT_WRITE`` after ``WANT_WRITE``, 0 after a call that
        completed (or raised), and 0 before any ``try_*`` call.  Never
        raises.  No stdlib counterpart.
        """
        return self._wanted_events

    def try_do_handshake(self):
        """Advance the TLS handshake without blocking; return an ``int``.

        Returns 0 when the handshake is complete (calling it again then
        returns 0 at once), ``WANT_READ`` (-1) / ``WANT_WRITE`` (-2) when it
        must be called again once the transport is readable / writable.

        Mirrors ``SSLSocket.do_handshake()`` / ``SSLObject.do_handshake()``
        on a non-blocking socket or memory BIOs, minus the want exceptions.
        On a socket with a timeout or a blocking socket it blocks like them
        (and then never returns ``WANT_*``).

        Raises ``ssl.SSLCertVerificationError`` when the peer's certificate
        is rejected, ``ssl.SSLError`` (or a subclass: ``SSLEOFError`` when
        the peer closed mid-handshake, ``SSLZeroReturnError``,
        ``SSLSyscallError``) for other TLS failures, ``OSError`` (e.g.
        ``ENOTCONN`` while a non-blocking ``connect`` is still in progress,
        ``ConnectionResetError``) for transport failures, and ``ValueError``
        when the socket is closed or unwrapped.
        """
        code = self._try(self._tls_handshake)
        return 0 if code is None else code

    def try_recv_into(self, buffer, nbytes=0):
        """Decrypt up to ``nbytes`` bytes into ``buffer``; return an ``int``.

        ``buffer`` is any writable object with the buffer protocol
        (``bytearray``, writable ``memoryview``, ...); ``nbytes`` is a byte
        count, ``0`` (or negative) meaning the whole buffer; larger than the
        buffer raises ``ValueError``.  Returns the number of bytes written at the start of
        ``buffer`` (> 0); 0 at end of stream -- the peer's close_notify, or
        an EOF without it (ragged EOF) when ``suppress_ragged_eofs`` is true
        (sockets only); else ``WANT_READ`` / ``WANT_WRITE``.  A single call
        returns at most one TLS record (16 KiB): call it until it returns
        ``WANT_*`` before waiting, or check ``pending()``.  An empty
        ``buffer`` returns 0 (as the stdlib does): do not pass one.

        Mirrors ``SSLSocket.recv_into(buffer, nbytes)`` /
        ``SSLSocket.read(nbytes, buffer)``, with one difference: a
        close_notify that arrives after our own (which the stdlib reports as
        ``SSLZeroReturnError``) also returns 0.

        Raises ``ssl.SSLEOFError`` on a ragged EOF when ragged EOFs are not
        suppressed (always on an ``SSLObject``), ``ssl.SSLError`` for other
        TLS failures, ``OSError`` for transport failures, ``TypeError`` when
        ``buffer`` is not a writable buffer, and ``ValueError`` when the
        socket is closed or unwrapped.
        """
        # (flat: this and try_send are the per-message calls of an event
        # loop; the want exceptions cost more than anything else here)
        if nbytes > 0 and (type(buffer) is not bytearray or nbytes > len(buffer)):
            _check_nbytes(buffer, nbytes)
        try:
            sslobj = self._tlsfast_direct
            result = (sslobj.read(nbytes, buffer) if sslobj is not None
                      else self._tls_read(nbytes, buffer))
        except BaseException as exc:
            return self._tlsfast_failed(exc, True)
        self._wanted_events = 0
        return result

    def try_send(self, data):
        """Encrypt and send ``data``; return an ``int``.

        ``data`` is any object with the buffer protocol.  Returns the number
        of plaintext bytes taken (``len(data)`` in bytes: the stdlib does not
        enable OpenSSL's partial writes; 0 for empty ``data``), or
        ``WANT_READ`` / ``WANT_WRITE``.  After a ``WANT_*`` return the call
        must be repeated with the same data (the buffer may move; OpenSSL may
        already have sent part of it and resumes where it stopped).

        Mirrors ``SSLSocket.write(data)`` / ``SSLSocket.send(data)`` on a
        non-blocking socket, minus the want exceptions.

        Raises ``ssl.SSLError`` for TLS failures (for instance writing after
        the TLS shutdown started), ``OSError`` for transport failures
        (``BrokenPipeError``, ``ConnectionResetError``), ``TypeError`` when
        ``data`` is not a buffer, and ``ValueError`` when the socket is
        closed or unwrapped (where ``SSLSocket.send`` would fall back to a
        plain-text send, this refuses, like ``SSLSocket.write``).
        """
        try:
            sslobj = self._tlsfast_direct
            result = sslobj.write(data) if sslobj is not None else self._tls_write(data)
        except BaseException as exc:
            return self._tlsfast_failed(exc, False)
        self._wanted_events = 0
        return result

    def try_sendv(self, buffers):
        """Encrypt and send the bytes-like objects of ``buffers``, in order,
        as one stream; return an ``int``.

        ``buffers`` is an iterable (``list``, ``tuple`` ...) of objects with
        the buffer protocol.  They are joined into one ``bytes`` (one copy)
        and written with one ``SSL_write``, so they fill as few TLS records
        as fit (16 KiB of plaintext each) instead of one record per buffer.
        Returns the plaintext bytes taken -- all of them, as ``try_send``
        (the stdlib does not enable partial writes), 0 when there are none
        -- or ``WANT_READ`` / ``WANT_WRITE``: then call again with the same
        buffers (OpenSSL may hold an encrypted part and resumes it).

        Mirrors ``try_send(b"".join(buffers))``; the compiled
        implementation writes large buffers from their own memory instead.

        Raises as ``try_send``, and ``TypeError`` when ``buffers`` is not an
        iterable of bytes-like objects (a single ``bytes`` included).
        """
        data = _join_buffers(buffers)
        if not data:
            if self._sslobj is None:
                raise ValueError("Write on closed or unwrapped SSL socket.")
            return 0
        return self._try(self._tls_write, data)

    def try_unwrap(self):
        """Perform the TLS shutdown without blocking; return an ``int``.

        Sends our close_notify alert (once) and waits for the peer's.
        Returns 0 when both have been exchanged, else ``WANT_READ`` /
        ``WANT_WRITE``: call it again when the transport is ready.
        Application data that the peer sends meanwhile is not returned.

        Mirrors ``SSLSocket.unwrap()`` / ``SSLObject.unwrap()``: once the
        shutdown completes, an ``SSLSocket`` drops its TLS layer exactly as
        ``unwrap()`` does (it stays open as a plain socket, ``recv`` / ``send``
        then move clear text, and the ``try_*`` methods raise
        ``ValueError``); an ``SSLObject`` stays as it is.  ``unwrap()``
        returns the socket; use the object itself here.

        Raises ``ssl.SSLEOFError`` / ``ssl.SSLSyscallError`` when the peer
        closed the transport without a close_notify, ``ssl.SSLError`` for
        other TLS failures (e.g. shutdown before the handshake finished),
        ``OSError`` for transport failures, and ``ValueError`` when the
        socket is closed or already unwrapped.
        """
        code = self._try(self._tls_shutdown)
        return 0 if code is None else code


def _not_in_stdlib(openssl, shown=None):
    """Decorator: the method raises ``NotImplementedError`` naming it (or
    ``shown``) and ``openssl``, the call the stdlib does not expose.  The
    arguments first go to the decorated template (which does nothing), so
    a wrong call raises ``TypeError`` as in the compiled implementation,
    and ``inspect.signature`` shows the template's parameters."""
    def decorate(template):
        what = f"{shown or template.__name__ + '()'} ({openssl})"

        @_functools.wraps(template)
        def method(*args, **kwargs):
            template(*args, **kwargs)
            raise NotImplementedError(
                f"{what} is not available in tlsfast's pure-Python implementation: "
                "the stdlib ssl module (Python "
                f"{_sys.version_info[0]}.{_sys.version_info[1]}) does not expose it; "
                "use the compiled implementation (TLSFAST_IMPL=c)")
        method.__doc__ = f"Raises ``NotImplementedError``: the stdlib has no {what}."
        return method
    return decorate


class _BeyondStdlibMixin:
    """The compiled implementation's additions from pyOpenSSL's
    ``Connection``: what the stdlib can answer is answered, the rest raises
    ``NotImplementedError`` naming what the stdlib lacks."""

    @_not_in_stdlib("SSL_export_keying_material")
    def export_keying_material(self, label, length, context=None): pass

    @_not_in_stdlib("SSL_get_finished")
    def get_finished(self): pass

    @_not_in_stdlib("SSL_get_peer_finished")
    def get_peer_finished(self): pass

    @_not_in_stdlib("SSL_get_client_random")
    def client_random(self): pass

    @_not_in_stdlib("SSL_get_server_random")
    def server_random(self): pass

    @_not_in_stdlib("SSL_key_update")
    def key_update(self, request_peer=False): pass

    @_not_in_stdlib("SSL_renegotiate")
    def renegotiate(self): pass

    @_not_in_stdlib("SSL_renegotiate_pending")
    def renegotiate_pending(self): pass

    @_not_in_stdlib("SSL_peek_ex")
    def peek(self, len=1024): pass

    @_not_in_stdlib("SSL_peek", "recv(n, MSG_PEEK) / recv_into(..., MSG_PEEK)")
    def _peek_flag(self): pass

    @_not_in_stdlib("SSL_get_peer_cert_chain")
    def get_peer_cert_chain(self, binary_form=False): pass

    if CHAIN_AS_DER:    # the stdlib's, public from 3.13 (its _sslobj has them)
        def get_verified_chain(self, binary_form=True):
            """``ssl.SSLSocket.get_verified_chain`` (``SSL_get0_verified_chain``):
            a ``list`` of DER ``bytes``, leaf to trust anchor, ``[]`` when
            there is none; the stdlib's certificate dicts with
            ``binary_form=False`` (as the compiled implementation)."""
            return self._tlsfast_chain(_CSSLSocket.get_verified_chain, binary_form)

        def get_unverified_chain(self, binary_form=True):
            """``ssl.SSLSocket.get_unverified_chain``: the certificates the
            peer sent, leaf first, as ``get_verified_chain``'s ``list``."""
            return self._tlsfast_chain(_CSSLSocket.get_unverified_chain, binary_form)

        def _tlsfast_chain(self, method, binary_form):
            if self._sslobj is None:
                raise ValueError("No SSL wrapper around " + str(self))
            chain = self._tlsfast_inspect(method)
            if chain is None:
                return []
            # (public API only: PEM, then DER; _ssl.ENCODING_DER is private)
            return [_ssl.PEM_cert_to_DER_cert(cert.public_bytes()) if binary_form
                    else cert.get_info()
                    for cert in chain]
    else:
        @_not_in_stdlib("SSL_get0_verified_chain")
        def get_verified_chain(self, binary_form=False): pass

        @_not_in_stdlib("SSL_get_peer_cert_chain")
        def get_unverified_chain(self, binary_form=True): pass

    def _tlsfast_inspect(self, method):
        # a read-only question to the C-level object (SSLSocket adds its lock)
        return method(self._sslobj)

    def want_read(self):
        """True when the last fast-path call waits for incoming data."""
        return self._wanted_events == _EVENT_READ

    def want_write(self):
        """True when the last fast-path call waits for the transport to drain."""
        return self._wanted_events == _EVENT_WRITE

    def cipher_bits(self):
        """Secret bits of the cipher in use, or None (from ``cipher()``)."""
        cipher = self.cipher()
        return None if cipher is None else cipher[2]


def _with_original_globals(func):
    """A copy of the ssl.py function ``func`` whose module globals
    ``SSLSocket`` / ``SSLObject`` / ``SSLContext`` are the stdlib's original
    classes even in a monkey-patched process (the other globals: as at
    import)."""
    namespace = dict(func.__globals__)
    namespace.update(SSLSocket=_StdlibSSLSocket, SSLObject=_StdlibSSLObject,
                     SSLContext=_StdlibSSLContext)
    clone = _types.FunctionType(func.__code__, namespace, func.__name__,
                                func.__defaults__, func.__closure__)
    clone.__kwdefaults__ = func.__kwdefaults__
    clone.__doc__ = func.__doc__
    return clone


_UNSET = object()

#: 3.9's ssl: no TLS 1.2 floor, a wider cipher list, and read(0) fails
_PRE_310_DEFAULTS = _sys.version_info < (3, 10)


def _is_empty(data):
    with memoryview(data) as view:
        return not view.nbytes


def _buffer_nbytes(buffer):
    """The size of the bytes-like ``buffer`` in bytes."""
    if type(buffer) is bytearray:
        return len(buffer)
    with memoryview(buffer) as view:
        return view.nbytes


def _check_nbytes(buffer, nbytes):
    """Raise ``ValueError`` when ``nbytes`` is larger than the writable
    ``buffer`` (in bytes), as ``socket.recv_into`` does."""
    with memoryview(buffer) as view:
        if nbytes > view.nbytes:
            raise ValueError("nbytes is greater than the length of the buffer")


def _read_length(len, buffer):
    """What 3.10+ reads for ``read(len, buffer)`` with ``len <= 0``: the
    whole buffer, or nothing without one (3.9's _ssl read 0 bytes and
    failed with SSLEOFError; a negative ``len`` without a buffer stays its
    ValueError)."""
    if buffer is None:
        return 0
    with memoryview(buffer) as view:
        return view.nbytes

class _Op:
    """One kind of call into the C-level ``_ssl._SSLSocket`` (named as the
    compiled engine's ``OP_*``): its unbound method, what a timeout says (a
    shutdown says "read" or "write" by what it waited for), and how a
    missing TLS layer is reported (as the stdlib's ``ssl.SSLSocket``)."""

    __slots__ = ("call", "timed_out", "no_tls")

    def __init__(self, call, timed_out, no_tls):
        self.call, self.timed_out, self.no_tls = call, timed_out, no_tls


OP_HANDSHAKE = _Op(_CSSLSocket.do_handshake, HANDSHAKE_TIMEOUT, "No SSL wrapper around {}")
OP_READ = _Op(_CSSLSocket.read, READ_TIMEOUT, "Read on closed or unwrapped SSL socket.")
OP_WRITE = _Op(_CSSLSocket.write, WRITE_TIMEOUT, "Write on closed or unwrapped SSL socket.")
OP_SHUTDOWN = _Op(_CSSLSocket.shutdown, None, "No SSL wrapper around {}")


_real_sleep = stdlib_original(_time, "sleep")

#: SSLSocket._tlsfast_token before the handshake completed (always empty)
_NO_TOKEN_YET = []


class _Turn:
    """Who may call into one SSL*: a reentrant lock whose uncontended
    path costs two list operations.

    ``token`` holds one item while nobody is inside.  The per-message
    paths pop it (``list.pop`` is atomic under the GIL, and much cheaper
    than ``RLock.acquire``, which parses its arguments), make one call
    into the SSL* that never waits, and append it back; when the pop finds
    the list empty they take the general path, ``with turn:``, which
    serialises through an RLock and then takes the token, spinning (with
    ``sleep``) only while a per-message call is inside -- one non-waiting
    OpenSSL call.  Nested ``with`` in one thread takes it once."""

    __slots__ = ("token", "_lock", "_depth")

    def __init__(self):
        self.token = [True]
        self._lock = _threading.RLock()
        self._depth = 0

    def __enter__(self):
        self._lock.acquire()
        if self._depth == 0:
            token, spins = self.token, 0
            while True:
                try:
                    token.pop()
                    break
                except IndexError:
                    spins += 1
                    _real_sleep(0 if spins < 100 else 0.0002)
                except BaseException:
                    self._lock.release()
                    raise
        self._depth += 1
        return self

    def __exit__(self, *exc_info):
        self._depth -= 1
        if self._depth == 0:
            self.token.append(True)
        self._lock.release()


def _locked_inspector(name):
    """ssl.SSLSocket's method ``name``, run in the socket's ``_tlsfast_io``
    turn: never while another thread is inside the SSL*."""
    base = getattr(_StdlibSSLSocket, name)

    @_functools.wraps(base)
    def method(self, *args, **kwargs):
        token = self._tlsfast_token
        try:
            token.pop()
        except IndexError:      # taken: wait for the turn
            with self._tlsfast_io:
                return base(self, *args, **kwargs)
        try:
            return base(self, *args, **kwargs)
        finally:
            token.append(True)
    method.__doc__ = (f"``ssl.SSLSocket.{name}``, never while another thread "
                      "is inside the SSL*.")
    return method


class SSLSocket(_BeyondStdlibMixin, _FastPathMixin, _StdlibSSLSocket):
    """``ssl.SSLSocket`` plus the non-raising fast path (see the mixin).

    Created by ``SSLContext.wrap_socket()`` (no public constructor).
    """

    # Threads.  The stdlib's _ssl releases the GIL around every SSL_* call
    # without a lock, and on a blocking or timeout socket it also waits for
    # the transport inside that call: two threads (a reader and a writer,
    # say) end up inside one SSL* at once, which OpenSSL does not allow
    # (bad record MACs, crashes).  This class keeps them apart:
    #
    # * ``_tlsfast_io`` (a ``_Turn``) is held around every call into the
    #   C-level ``_sslobj`` -- and never while waiting.  On a blocking or
    #   timeout socket the call runs with the socket's real timeout set to
    #   0.0 (so _ssl does not wait inside it); a want-read / want-write is
    #   then waited for here with ``poll()``, outside the lock, up to one
    #   deadline per call, and the call repeated.  The user's timeout is kept
    #   in ``_tlsfast_timeout``: ``gettimeout`` / ``getblocking`` /
    #   ``timeout`` report it.  The real timeout stays 0.0 from the first
    #   such call on (``_tlsfast_nb``; switching it costs a system call each
    #   way) and is given back wherever the plain socket shows again: a
    #   handshake's end (as the stdlib), ``settimeout``, ``unwrap``,
    #   ``shutdown``, ``detach``.
    # * The uncontended path costs what the stdlib's does: ``recv_into`` /
    #   ``recv`` / ``read`` / ``send`` / ``write`` after the handshake make
    #   one call into ``_sslobj`` in the turn (``recv_into`` itself: one
    #   Python frame, as the stdlib's costs; ``_tlsfast_write``) and take
    #   the general path (``_tlsfast_run``: deadlines, ``poll()``) only when
    #   that call has to wait.  That call must not run Python code that
    #   asks for the turn again (``_Turn``): before the handshake completed
    #   (an ``sni_callback`` runs inside the SSL_read that drives a server's
    #   handshake) everything takes the general path, whose turn is
    #   reentrant.
    # * ``_tlsfast_wr`` keeps writers in turn (a write waiting for the
    #   transport has a record half sent, which another write would corrupt).
    # * ``_tlsfast_hs`` lets one thread drive the handshake; a read or
    #   write started meanwhile waits for it (``_handshake_first``).

    # ssl.py's own _create, run with its module globals naming the original
    # classes: it calls ``super(SSLSocket, self)`` through the module
    # global, which gevent / eventlet monkey-patching replaces (TypeError)
    _create = classmethod(_with_original_globals(_StdlibSSLSocket._create.__func__))

    def __new__(cls, *args, **kwargs):
        # ssl.py's _create makes the socket with ``cls.__new__`` and never
        # calls ``__init__`` (there is no public constructor): the per-socket
        # state starts here, before _create's handshake needs it
        self = super().__new__(cls, *args, **kwargs)
        self._tlsfast_io = turn = _Turn()
        # the turn's uncontended path, from the handshake's end on (until
        # then an empty list: every pop fails, every call takes the general
        # path; nothing is ever appended to it)
        self._tlsfast_token = _NO_TOKEN_YET
        self._tlsfast_wr = _threading.RLock()
        self._tlsfast_hs = _threading.RLock()
        self._tlsfast_timeout = _UNSET      # the user's; _UNSET: the socket's own
        self._tlsfast_nb = False            # the real timeout is 0.0
        self._tlsfast_done = False          # the handshake completed once
        self._tlsfast_direct = None         # try_* go through _tls_read / _tls_write
        return self

    # -- context and session: checked when assigned, also before connect() -----
    @property
    def context(self):
        """The ``SSLContext``; assigning another switches the connection to
        it (e.g. from an ``sni_callback``).  Assigning anything but an
        ``SSLContext`` raises ``TypeError``, also before the socket is
        connected (the stdlib fails there with ``AttributeError``)."""
        return self._context

    @context.setter
    def context(self, ctx):
        if not isinstance(ctx, SSLContext):
            raise not_a_context(ctx)
        if self._sslobj is not None:
            self._sslobj.context = ctx
        self._context = ctx

    @property
    def session(self):
        """The ``SSLSession`` of this connection, or None without a TLS
        layer.  Assigning raises ``TypeError`` for a non-``SSLSession`` and
        ``ValueError`` on a server side -- also before the socket is
        connected, where the stdlib only stores the value (a session of
        another context is refused at ``connect()`` there)."""
        return _StdlibSSLSocket.session.__get__(self)

    @session.setter
    def session(self, session):
        if self._sslobj is None and session is not None:
            check_session(session, _ssl.SSLSession, self.server_side)
        _StdlibSSLSocket.session.__set__(self, session)

    # -- the user's timeout ----------------------------------------------------
    def settimeout(self, value):
        """``socket.settimeout``: ``None`` (blocking), 0.0 (non-blocking) or
        seconds (float); raises ``ValueError`` for a negative value and
        ``TypeError`` for a non-number."""
        with self._tlsfast_io:
            _StdlibSocket.settimeout(self, value)
            self._tlsfast_timeout = timeout = _StdlibSocket.gettimeout(self)
            self._tlsfast_nb = timeout == 0.0

    def _tlsfast_give_back(self):
        """The socket's real timeout back to the user's (it may have stayed
        0.0 since a blocking call), where the plain socket shows again."""
        with self._tlsfast_io:
            if self._tlsfast_nb and self._tlsfast_timeout is not _UNSET:
                self._tlsfast_nb = self._tlsfast_timeout == 0.0
                _StdlibSocket.settimeout(self, self._tlsfast_timeout)

    def setblocking(self, flag):
        """``socket.setblocking``: ``settimeout(None)`` when ``flag`` is true,
        else ``settimeout(0.0)``."""
        self.settimeout(None if flag else 0.0)

    def gettimeout(self):
        """``socket.gettimeout``: the timeout in seconds, or ``None``."""
        timeout = self._tlsfast_timeout
        return _StdlibSocket.gettimeout(self) if timeout is _UNSET else timeout

    def getblocking(self):
        """``socket.getblocking``: False only in non-blocking mode."""
        return self.gettimeout() != 0.0

    timeout = property(gettimeout, doc="``socket.timeout``: the timeout in seconds, or None.")

    # -- read-only questions to the SSL*: they wait for a call another
    #    thread runs in it ----------------------------------------------------
    pending = _locked_inspector("pending")
    getpeercert = _locked_inspector("getpeercert")
    cipher = _locked_inspector("cipher")
    shared_ciphers = _locked_inspector("shared_ciphers")
    version = _locked_inspector("version")
    selected_alpn_protocol = _locked_inspector("selected_alpn_protocol")
    compression = _locked_inspector("compression")
    get_channel_binding = _locked_inspector("get_channel_binding")
    verify_client_post_handshake = _locked_inspector("verify_client_post_handshake")

    def _tlsfast_inspect(self, method):
        with self._tlsfast_io:
            return method(self._tlsfast_sslobj(OP_HANDSHAKE))

    # -- one TLS call, serialised ------------------------------------------------
    def _tlsfast_sslobj(self, op):
        sslobj = self._sslobj
        if sslobj is None:
            raise ValueError(op.no_tls.format(self))
        return sslobj

    def _tlsfast_run(self, op, timeout, *args):
        """``op`` (an ``OP_*``) on ``self._sslobj`` with ``args``, with no
        other thread inside the SSL*; ``timeout`` (None, 0.0 or seconds) as
        the stdlib's."""
        lock = self._tlsfast_io
        if timeout == 0.0:
            with lock:
                return op.call(self._tlsfast_sslobj(op), *args)
        deadline = None if timeout is None else _monotonic() + timeout
        while True:             # ends by a return, a raise or the deadline
            with lock:
                sslobj = self._tlsfast_sslobj(op)
                if not self._tlsfast_nb:
                    # (a descriptor closed under the socket fails here with
                    # EBADF; the call then reports it as the stdlib's would)
                    with _suppress(OSError):
                        _StdlibSocket.settimeout(self, 0.0)
                        self._tlsfast_nb = True
                try:
                    return op.call(sslobj, *args)
                except SSLWantReadError:
                    event = _POLLIN
                except SSLWantWriteError:
                    event = _POLLOUT
            revents = self._tlsfast_wait(op, event, deadline)
            if self._sslobj is None:
                # closed (or unwrapped) by another thread meanwhile.  Woken
                # by the event waited for (the EOF of a shutdown()), the
                # stdlib's next read sees that end of the stream: an EOF,
                # b'' when ragged EOFs are suppressed.  Woken because the
                # descriptor went away (POLLNVAL), it fails on it: that
                # OSError (EBADF) on 3.9 and 3.13+, an EOF on 3.10 to 3.12.
                if SYSCALL_ERRNO_RAISES and not revents & event:
                    raise OSError(_errno.EBADF, _os.strerror(_errno.EBADF))
                raise SSLEOFError(_ssl.SSL_ERROR_EOF, "EOF occurred in violation of protocol "
                                  "(the socket was closed while this call waited)")

    def _tlsfast_wait(self, op, event, deadline):
        """poll() the descriptor for ``event`` until ``deadline``; returns
        the events that ended the wait (0: the socket was already closed)."""
        fd = self.fileno()
        if fd < 0:      # closed by another thread meanwhile
            return 0
        if deadline is None:
            wait_ms = None
        else:
            remaining = deadline - _monotonic()
            wait_ms = _math.ceil(remaining * 1000) if remaining > 0 else 0
        poller = getattr(_select, "poll", _original_poll)()
        poller.register(fd, event)
        ready = poller.poll(wait_ms)
        if not ready and wait_ms is not None:
            raise _socket.timeout(op.timed_out or (READ_TIMEOUT if event == _POLLIN
                                                   else WRITE_TIMEOUT))
        return ready[0][1] if ready else 0

    # -- the stdlib's methods, through _tlsfast_run ---------------------------
    def do_handshake(self, block=False):
        """``ssl.SSLSocket.do_handshake``: run the TLS handshake
        (``SSL_do_handshake``).  ``block`` (bool) makes a non-blocking
        socket wait as a blocking one for this call.  On blocking/timeout
        sockets one thread at a time drives it (others wait for it).

        Raises ``OSError`` (``ENOTCONN``) when not connected,
        ``ssl.SSLWantReadError`` / ``ssl.SSLWantWriteError`` on a
        non-blocking socket that must wait, ``socket.timeout`` when the
        timeout expires, ``ssl.SSLCertVerificationError`` /
        ``ssl.SSLError`` for TLS failures."""
        self._check_connected()
        if self._sslobj is None and self.fileno() < 0:
            raise OSError(_errno.EBADF, _os.strerror(_errno.EBADF))
        timeout = self.gettimeout()
        if timeout == 0.0 and block:
            timeout = None
        try:
            with self._tlsfast_hs:
                self._tlsfast_run(OP_HANDSHAKE, timeout)
                self._tlsfast_handshake_done()
        finally:
            # as the stdlib, which restores the timeout here: a descriptor
            # closed under the socket raises OSError(EBADF)
            with self._tlsfast_io:
                timeout = self.gettimeout()
                _StdlibSocket.settimeout(self, timeout)
                self._tlsfast_nb = timeout == 0.0

    def _tlsfast_handshake_done(self):
        self._tlsfast_done = True
        self._tlsfast_token = self._tlsfast_io.token

    def _handshake_first(self):
        # (a fatal error puts OpenSSL back "in init": version() is None
        # again, so remember that the handshake once completed)
        if self._tlsfast_done or self._sslobj is None:
            return
        with self._tlsfast_io:
            sslobj = self._sslobj
            done = sslobj is not None and sslobj.version() is not None
        if done:
            self._tlsfast_handshake_done()
        elif self.gettimeout() != 0.0:
            self.do_handshake()

    def read(self, len=1024, buffer=None):
        """``ssl.SSLSocket.read``: decrypt up to ``len`` bytes (``SSL_read``)
        into ``buffer`` (returns the count) or a new ``bytes``; waits for a
        handshake another thread drives.  Returns 0 / ``b''`` at the end of
        the stream (and on a ragged EOF when ``suppress_ragged_eofs``).

        Raises ``ValueError`` once closed or unwrapped, the want errors on
        a non-blocking socket, ``socket.timeout``, ``ssl.SSLError``."""
        if buffer is None and self._tlsfast_done and len > 0 and self._sslobj is not None:
            return self._tlsfast_read_bytes(len)
        return self._tlsfast_read_wait(len, buffer)

    def _tlsfast_read_bytes(self, len):
        # read(len) / recv(len) once the handshake completed: recv_into's
        # fast path, into a new buffer
        buffer = bytearray(len)
        del buffer[self.recv_into(buffer, len):]
        return bytes(buffer)

    def _tlsfast_read_wait(self, len, buffer):
        # read()'s general path: the handshake first, deadlines, waits
        self._handshake_first()
        if _PRE_310_DEFAULTS and (len == 0 or (len < 0 and buffer is not None)):
            len = _read_length(len, buffer)
            if len == 0:
                return b"" if buffer is None else 0
        try:
            if buffer is not None:
                return self._tlsfast_run(OP_READ, self.gettimeout(), len, buffer)
            return self._tlsfast_run(OP_READ, self.gettimeout(), len)
        except SSLError as exc:
            if exc.args[0] == _ssl.SSL_ERROR_EOF and self.suppress_ragged_eofs:
                return b"" if buffer is None else 0
            raise

    def write(self, data):
        """``ssl.SSLSocket.write``: encrypt and send all of ``data`` (a
        buffer; ``SSL_write``); returns its length.  Writers take turns.

        Raises ``ValueError`` once closed or unwrapped, the want errors on
        a non-blocking socket, ``socket.timeout``, ``ssl.SSLError`` and
        ``OSError`` for transport failures."""
        if self._tlsfast_done and not _PRE_310_DEFAULTS:
            return self._tlsfast_write(data)
        return self._tlsfast_write_wait(data)

    def _tlsfast_write(self, data):
        """``write(data)`` once the handshake completed (as ``recv_into``):
        one call into the SSL* in the turn, the general
        path only if that call has to wait (or there is no TLS layer).  A
        blocking or timeout writer first takes the writers' turn, without
        waiting for it (a writer that waits for the transport has a record
        half sent); non-blocking writers never wait with one."""
        if self._tlsfast_timeout == 0.0:
            return self._tlsfast_write_now(data)
        turn = self._tlsfast_wr
        if not turn.acquire(False):     # another writer waits for the transport
            return self._tlsfast_write_wait(data)
        try:
            return self._tlsfast_write_now(data)
        finally:
            turn.release()

    def _tlsfast_write_now(self, data):
        token = self._tlsfast_token
        try:
            token.pop()
        except IndexError:      # taken: the general path waits for the turn
            return self._tlsfast_write_wait(data)
        try:
            sslobj = self._sslobj
            if sslobj is not None and self._tlsfast_nb:
                return sslobj.write(data)
        except (SSLWantReadError, SSLWantWriteError):
            if self._tlsfast_timeout == 0.0:
                raise
        finally:
            token.append(True)
        # (a blocking writer still holds the writers' turn: its record may
        # be half sent)
        return self._tlsfast_write_wait(data)

    def _tlsfast_write_wait(self, data):
        # write()'s general path: the handshake first, deadlines, waits
        self._handshake_first()
        if _PRE_310_DEFAULTS and _is_empty(data):  # 3.9's _ssl fails on 0 bytes
            return 0
        with self._tlsfast_wr:
            return self._tlsfast_run(OP_WRITE, self.gettimeout(), data)

    def send(self, data, flags=0):
        """``ssl.SSLSocket.send``: ``write(data)`` on a TLS socket (``flags``
        must be 0: ``ValueError``), ``socket.send`` once unwrapped."""
        if self._sslobj is None or flags:
            return super().send(data, flags)
        if self._tlsfast_done and not _PRE_310_DEFAULTS:
            return self._tlsfast_write(data)
        return self._tlsfast_write_wait(data)

    def sendall(self, data, flags=0):
        """``ssl.SSLSocket.sendall``; blocking/timeout writers take turns."""
        with self._tlsfast_wr:
            return super().sendall(data, flags)

    def sendmsg(self, buffers, ancdata=(), flags=0, address=None):
        """Encrypt and send the bytes-like objects of ``buffers`` (an
        iterable), in order, in as few TLS records as fit (16 KiB of
        plaintext each): they are joined into one ``bytes`` and written as
        ``write`` does; returns their total length (``int``).  The
        stdlib's ``SSLSocket.sendmsg`` raises ``NotImplementedError``; this
        is ``socket.sendmsg`` for data only.

        Raises ``NotImplementedError`` for non-empty ``ancdata``,
        ``ValueError`` for non-zero ``flags`` or an ``address``,
        ``TypeError`` when ``buffers`` is not an iterable of bytes-like
        objects, and what ``write`` raises (``SSLWantWriteError`` on a
        non-blocking socket: call again with the same buffers).  Without a
        TLS layer it is ``socket.sendmsg`` (cleartext, as ``send``)."""
        if self._sslobj is None:
            return _StdlibSocket.sendmsg(self, buffers, ancdata, flags, address)
        _check_sendmsg_args(self, ancdata, flags, address)
        return self.write(_join_buffers(buffers))

    def unwrap(self):
        """``ssl.SSLSocket.unwrap``: the TLS shutdown (``SSL_shutdown``, our
        close_notify then the peer's); returns this socket, now plain.

        Raises ``ValueError`` when there is no TLS layer, the want errors
        on a non-blocking socket, ``socket.timeout``, ``ssl.SSLError``."""
        sock = self._tlsfast_run(OP_SHUTDOWN, self.gettimeout())
        with self._tlsfast_io:
            self._sslobj = None
            self._tlsfast_give_back()
        return sock

    def shutdown(self, how):
        """``ssl.SSLSocket.shutdown``: drop the TLS layer (no close_notify)
        and ``socket.shutdown(how)`` the connection; the plain socket keeps
        the user's timeout.  Raises ``OSError`` as ``socket.shutdown``
        (``ValueError`` for a bad ``how`` on some platforms)."""
        with self._tlsfast_io:
            try:
                super().shutdown(how)
            finally:
                self._tlsfast_give_back()

    def detach(self):
        """``socket.detach``: close the socket object without closing the
        descriptor, and return it (an ``int``), in the user's blocking mode
        (``settimeout``).  Raises nothing."""
        with _suppress(OSError):
            self._tlsfast_give_back()
        return super().detach()

    def _tls_handshake(self):
        self.do_handshake()

    # the fast path's hooks: once the handshake completed, recv_into's /
    # write's fast path; before it, read() / write() (see the class comment)
    def _tls_read(self, nbytes, buffer):
        if self._tlsfast_done:
            return self.recv_into(buffer, nbytes if nbytes > 0 else _buffer_nbytes(buffer))
        return self.read(nbytes, buffer)

    def _tls_write(self, data):
        if self._tlsfast_done and not _PRE_310_DEFAULTS:
            return self._tlsfast_write(data)
        return self.write(data)

    def _tls_shutdown(self):
        self.unwrap()

    def _set_read_ahead(self, flag):
        """The compiled implementation's read-ahead switch
        (``SSL_set_read_ahead``); the stdlib's ``ssl`` has none, so this
        returns False and OpenSSL keeps reading one record at a time (no
        bytes beyond it are ever held where a selector cannot see them).
        Raises ``ValueError`` without a TLS connection, as the compiled one."""
        if self._sslobj is None:
            raise ValueError("no TLS connection: socket not connected, closed or unwrapped")
        return False

    def _transport_reader(self, transport):
        """None: the compiled implementation's readable-event callback for
        tlsfast.asyncio's transport has no pure-Python twin (the transport
        reads in its own Python methods)."""
        return None

    def _transport_write_function(self):
        """None: tlsfast.asyncio's transport writes in Python here (the
        compiled implementation gives a compiled ``write``)."""
        return None

    def _has_pending(self):
        """True when OpenSSL holds decrypted bytes not yet returned
        (``pending()``: without read-ahead nothing else is held); False
        without a TLS connection."""
        return self._sslobj is not None and self.pending() > 0

    def recv(self, buflen=1024, flags=0):
        """``ssl.SSLSocket.recv``; ``socket.MSG_PEEK`` raises
        ``NotImplementedError`` (the compiled implementation supports it)."""
        if not flags and self._tlsfast_done and buflen > 0:
            return self._tlsfast_read_bytes(buflen)
        if flags == _socket.MSG_PEEK and self._sslobj is not None:
            self._peek_flag()
        return super().recv(buflen, flags)

    def recv_into(self, buffer, nbytes=None, flags=0):
        """``ssl.SSLSocket.recv_into``, except that ``nbytes`` larger than the
        buffer raises ``ValueError`` (as ``socket.recv_into`` does) where the
        stdlib silently reads less; same in both implementations."""
        # the per-message path (see the class comment), written out here:
        # one Python frame between the caller and SSL_read
        # (a bytearray's len() is its size in bytes; any other buffer's
        # default size is what the running stdlib says -- items on 3.9,
        # bytes later -- so it takes the general path, as do flags)
        if not flags and (nbytes is not None or type(buffer) is bytearray):
            if nbytes is None:
                nbytes = len(buffer)        # ssl.SSLSocket.recv_into's default
            elif type(buffer) is not bytearray or nbytes > len(buffer):
                _check_nbytes(buffer, nbytes)
            token = self._tlsfast_token
            try:
                token.pop()
            except IndexError:      # taken, or no handshake yet: the general path
                return self._tlsfast_recv_into(buffer, nbytes, flags)
            try:
                sslobj = self._sslobj
                if sslobj is not None and self._tlsfast_nb and nbytes > 0:
                    return sslobj.read(nbytes, buffer)
            except (SSLWantReadError, SSLWantWriteError):
                if self._tlsfast_timeout == 0.0:
                    raise
            except SSLError as exc:
                if exc.args[0] == _ssl.SSL_ERROR_EOF and self.suppress_ragged_eofs:
                    return 0
                raise
            finally:
                token.append(True)
            # has to wait, no TLS layer, or nbytes <= 0: the general path
        return self._tlsfast_recv_into(buffer, nbytes, flags)

    def _tlsfast_recv_into(self, buffer, nbytes, flags):
        # recv_into's general path: ssl.SSLSocket's (through read())
        if flags == _socket.MSG_PEEK and self._sslobj is not None:
            self._peek_flag()
        if self._sslobj is not None and nbytes:
            _check_nbytes(buffer, nbytes)
        return super().recv_into(buffer, nbytes, flags)




class SSLObject(_BeyondStdlibMixin, _FastPathMixin, _StdlibSSLObject):
    """``ssl.SSLObject`` (memory BIOs) plus the non-raising fast path.

    Created by ``SSLContext.wrap_bio()`` (no public constructor).  The codes
    mean: ``WANT_READ`` -- feed more bytes into the incoming ``MemoryBIO``;
    ``WANT_WRITE`` does not occur with memory BIOs.  After every call, send
    what the outgoing ``MemoryBIO`` holds.
    """

    @classmethod
    def _create(cls, *args, **kwargs):
        self = super()._create(*args, **kwargs)
        # try_recv_into / try_send call it directly (an SSLObject's C-level
        # object never changes): no Python frame between them and SSL_read
        self._tlsfast_direct = self._sslobj
        return self

    if _sys.version_info < (3, 10):
        def read(self, len=1024, buffer=None):
            """``ssl.SSLObject.read``; ``len <= 0`` reads nothing (``b''``)
            or, with a ``buffer``, up to its size, as from 3.10 (3.9's
            ``SSL_read`` of 0 bytes raised ``SSLEOFError``)."""
            if len == 0 or (len < 0 and buffer is not None):
                len = _read_length(len, buffer)
                if len == 0:
                    return b"" if buffer is None else 0
            return super().read(len, buffer)

        def write(self, data):
            """``ssl.SSLObject.write``; empty ``data`` writes nothing and
            returns 0, as from 3.10 (3.9's raised ``SSLEOFError``)."""
            if _is_empty(data):
                return 0
            return super().write(data)


_VERSION_FLEXIBLE = (_ssl.PROTOCOL_TLS, _ssl.PROTOCOL_TLS_CLIENT, _ssl.PROTOCOL_TLS_SERVER)


class SSLContext(_StdlibSSLContext):
    """``ssl.SSLContext`` whose ``wrap_socket`` / ``wrap_bio`` return tlsfast's
    ``SSLSocket`` / ``SSLObject``.

    Two differences from the stdlib, both shared with the compiled
    implementation: a ``PROTOCOL_TLS_SERVER`` context starts with
    ``ssl.OP_NO_RENEGOTIATION`` set (servers refuse client-initiated
    renegotiation; clear it in ``options`` to allow it), and ``wrap_bio``
    refuses ``check_hostname`` without ``server_hostname``.  Everything else
    -- constructor, exceptions, warnings -- is the stdlib's (the
    ``options``, ``verify_flags``, ``verify_mode``, ``minimum_version`` and
    ``maximum_version`` properties are redefined only to work under
    gevent / eventlet monkey-patching, with ssl.py's behaviour).
    """

    @_not_in_stdlib("SSL_CTX_set_tlsext_ticket_key_evp_cb")
    def set_session_ticket_keys(self, keys): pass

    sslsocket_class = SSLSocket
    sslobject_class = SSLObject

    # ssl.py's property setters reach the C type through the *module global*
    # ``SSLContext`` (``super(SSLContext, SSLContext)``); once gevent or
    # eventlet patch that global, they recurse.  These go to the C type
    # directly, with ssl.py's conversions.
    def _c_property(name, wrap):
        base = getattr(_CSSLContext, name)

        def get(self):
            return wrap(base.__get__(self))

        def set(self, value):
            base.__set__(self, value)
        return property(get, set, doc=f"``ssl.SSLContext.{name}``")

    options = _c_property("options", _ssl.Options)
    verify_flags = _c_property("verify_flags", _ssl.VerifyFlags)
    verify_mode = _c_property("verify_mode", _ssl.VerifyMode)
    maximum_version = _c_property("maximum_version", _ssl.TLSVersion)
    del _c_property

    @property
    def minimum_version(self):
        """``ssl.SSLContext.minimum_version``."""
        return _ssl.TLSVersion(_CSSLContext.minimum_version.__get__(self))

    @minimum_version.setter
    def minimum_version(self, value):
        if value == _ssl.TLSVersion.SSLv3:      # as ssl.py
            self.options &= ~_ssl.Options.OP_NO_SSLv3
        _CSSLContext.minimum_version.__set__(self, value)

    def __init__(self, protocol=None, *args, **kwargs):
        # as the compiled implementation: servers refuse renegotiation
        if protocol == _ssl.PROTOCOL_TLS_SERVER:
            self.options |= _ssl.OP_NO_RENEGOTIATION
        if _PRE_310_DEFAULTS and self.protocol in _VERSION_FLEXIBLE:
            # tlsfast's defaults on every Python: 3.9's ssl had no TLS 1.2
            # floor and a wider cipher list (the 3.10 defaults)
            _CSSLContext.minimum_version.__set__(self, _ssl.TLSVersion.TLSv1_2)
            self.set_ciphers(DEFAULT_CIPHERS)

    def wrap_socket(self, sock, server_side=False, do_handshake_on_connect=True,
                    suppress_ragged_eofs=True, server_hostname=None, session=None):
        """``ssl.SSLContext.wrap_socket`` (same arguments, result and
        exceptions), returning a tlsfast ``SSLSocket`` -- or, given a gevent
        or eventlet socket (a monkey-patched program), that library's
        cooperative tlsfast socket (``tlsfast._green.green_wrap_socket``), as
        the compiled implementation does."""
        green = _green_wrap_socket(self, sock, server_side, do_handshake_on_connect,
                                   suppress_ragged_eofs, server_hostname, session)
        if green is not None:
            return green
        return super().wrap_socket(sock, server_side, do_handshake_on_connect,
                                   suppress_ragged_eofs, server_hostname, session)

    def wrap_bio(self, incoming, outgoing, server_side=False, server_hostname=None,
                 session=None):
        """``ssl.SSLContext.wrap_bio``, also taking tlsfast ``MemoryBIO``
        objects.  Like the compiled implementation (and ``wrap_socket``), it
        raises ``ValueError`` for ``check_hostname`` without
        ``server_hostname`` -- the stdlib would then verify no name at all --
        and for ``server_side`` with a ``server_hostname``."""
        check_wrap_args(self.check_hostname, server_side, server_hostname, sslobject=True)
        return super().wrap_bio(_stdlib_bio(incoming), _stdlib_bio(outgoing),
                                server_side, server_hostname, session)


def create_default_context(purpose=Purpose.SERVER_AUTH, *, cafile=None,
                           capath=None, cadata=None):
    """Return a tlsfast ``SSLContext`` with the stdlib's default settings.

    Same as ``ssl.create_default_context``: ``Purpose.SERVER_AUTH`` (for
    client sockets) gives ``PROTOCOL_TLS_CLIENT`` with ``CERT_REQUIRED`` and
    host name checking; ``Purpose.CLIENT_AUTH`` (for server sockets) gives
    ``PROTOCOL_TLS_SERVER``.  ``cafile`` / ``capath`` (paths) / ``cadata``
    (PEM ``str`` or DER bytes) go to ``load_verify_locations``; without them
    a verifying context loads the system's default CA certificates.  When
    the ``SSLKEYLOGFILE`` environment variable is set (and Python is not run
    with ``-E``), TLS secrets are logged to that file.

    Raises ``TypeError`` when ``purpose`` is not a ``Purpose`` / ASN.1
    object, ``ValueError`` for another purpose, and ``ssl.SSLError`` /
    ``OSError`` when the given CA certificates cannot be loaded.
    """
    return _create_default_context(SSLContext, purpose, cafile, capath, cadata)


__all__ = [
    "SSLContext", "SSLSocket", "SSLObject", "SSLSession", "MemoryBIO",
    "create_default_context", "OPENSSL_VERSION", "OPENSSL_VERSION_INFO",
    "OPENSSL_VERSION_NUMBER", "RAND_bytes", "RAND_status", "RAND_add",
]
