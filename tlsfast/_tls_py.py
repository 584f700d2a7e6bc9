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

Wrapper-specific behaviour goes through three small hooks: ``_handshake_obj``
(the socket checks it is connected first, like ``SSLSocket.do_handshake``),
``_io_obj`` (the socket raises ``ValueError`` once closed or unwrapped) and
``_after_unwrap`` (the socket drops its TLS layer, like
``SSLSocket.unwrap``).
"""

import socket as _socket
import ssl as _ssl
import sys as _sys
import threading as _threading

from ._common import (
    EVENTS_FOR_CODE,
    WANT_READ,
    WANT_WRITE,
    Purpose,
)
from ._helpers import create_default_context as _create_default_context
from ._helpers import stdlib_original

# the stdlib's classes even in a monkey-patched process
_StdlibSSLContext = stdlib_original(_ssl, "SSLContext")
_StdlibSSLSocket = stdlib_original(_ssl, "SSLSocket")
_StdlibSSLObject = stdlib_original(_ssl, "SSLObject")
_CSSLContext = _StdlibSSLContext.__mro__[1]      # _ssl._SSLContext, the C type

SSLWantReadError = _ssl.SSLWantReadError
SSLWantWriteError = _ssl.SSLWantWriteError
SSLZeroReturnError = _ssl.SSLZeroReturnError
SSLEOFError = _ssl.SSLEOFError

_EVENT_READ = EVENTS_FOR_CODE[WANT_READ]
_EVENT_WRITE = EVENTS_FOR_CODE[WANT_WRITE]

SSLSession = _ssl.SSLSession


class MemoryBIO:
    """``ssl.MemoryBIO`` plus ``read_into`` (the stdlib's type cannot be
    subclassed, so this holds one; ``SSLContext.wrap_bio`` unwraps it)."""

    __slots__ = ("_bio",)

    def __init__(self):
        self._bio = _ssl.MemoryBIO()

    @property
    def pending(self):
        """int: bytes waiting to be read."""
        return self._bio.pending

    @property
    def eof(self):
        """bool: ``write_eof()`` was called and every byte has been read."""
        return self._bio.eof

    def read(self, size=-1):
        """Up to ``size`` pending bytes (all when < 0) as ``bytes``."""
        return self._bio.read(size)

    def write(self, data):
        """Append bytes-like ``data``; returns the count.  ``ssl.SSLError``
        after ``write_eof()``."""
        return self._bio.write(data)

    def write_eof(self):
        """Mark end of stream."""
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


def _stdlib_bio(bio):
    return bio._bio if isinstance(bio, MemoryBIO) else bio


class _FastPathMixin:
    """The non-raising fast path, shared by ``SSLSocket`` and ``SSLObject``.

    Needs ``self._sslobj`` (the stdlib's ``_ssl._SSLSocket``); wrappers
    adapt it through the ``_handshake_obj`` / ``_io_obj`` / ``_after_unwrap``
    hooks.
    """

    # selectors mask the last try_* call waits for (instance attribute once set)
    _wanted_events = 0

    # -- hooks (SSLObject uses these defaults: its _sslobj is never None) --
    def _handshake_obj(self):
        return self._sslobj

    def _io_obj(self, what):
        return self._sslobj

    def _after_unwrap(self):
        pass

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
        sslobj = self._handshake_obj()
        try:
            sslobj.do_handshake()
        except SSLWantReadError:
            self._wanted_events = _EVENT_READ
            return WANT_READ
        except SSLWantWriteError:
            self._wanted_events = _EVENT_WRITE
            return WANT_WRITE
        except BaseException:
            self._wanted_events = 0
            raise
        self._wanted_events = 0
        return 0

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
        sslobj = self._io_obj("Read")
        if nbytes > 0:
            with memoryview(buffer) as view:
                if nbytes > view.nbytes:
                    raise ValueError("nbytes is greater than the length of the buffer")
        try:
            n = sslobj.read(nbytes, buffer)
        except SSLWantReadError:
            self._wanted_events = _EVENT_READ
            return WANT_READ
        except SSLWantWriteError:
            self._wanted_events = _EVENT_WRITE
            return WANT_WRITE
        except SSLZeroReturnError:
            self._wanted_events = 0
            return 0
        except SSLEOFError:
            self._wanted_events = 0
            if getattr(self, "suppress_ragged_eofs", False):
                return 0
            raise
        except BaseException:
            self._wanted_events = 0
            raise
        self._wanted_events = 0
        return n

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
        sslobj = self._io_obj("Write")
        try:
            n = sslobj.write(data)
        except SSLWantWriteError:
            self._wanted_events = _EVENT_WRITE
            return WANT_WRITE
        except SSLWantReadError:
            self._wanted_events = _EVENT_READ
            return WANT_READ
        except BaseException:
            self._wanted_events = 0
            raise
        self._wanted_events = 0
        return n

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
        sslobj = self._io_obj("Unwrap")
        try:
            sslobj.shutdown()
        except SSLWantReadError:
            self._wanted_events = _EVENT_READ
            return WANT_READ
        except SSLWantWriteError:
            self._wanted_events = _EVENT_WRITE
            return WANT_WRITE
        except BaseException:
            self._wanted_events = 0
            raise
        self._wanted_events = 0
        self._after_unwrap()
        return 0


def _not_in_stdlib(what):
    def method(self, *args, **kwargs):
        raise NotImplementedError(
            f"{what} is not available in tlsfast's pure-Python implementation: "
            "the stdlib ssl module (Python "
            f"{_sys.version_info[0]}.{_sys.version_info[1]}) does not expose it; "
            "use the compiled implementation (TLSFAST_IMPL=c)")
    method.__name__ = what.split("(")[0]
    method.__doc__ = f"Raises ``NotImplementedError``: the stdlib has no {what}."
    return method


class _BeyondStdlibMixin:
    """The compiled implementation's additions from pyOpenSSL's
    ``Connection``: what the stdlib can answer is answered, the rest raises
    ``NotImplementedError`` naming what the stdlib lacks."""

    export_keying_material = _not_in_stdlib("export_keying_material() (SSL_export_keying_material)")
    get_finished = _not_in_stdlib("get_finished() (SSL_get_finished)")
    get_peer_finished = _not_in_stdlib("get_peer_finished() (SSL_get_peer_finished)")
    client_random = _not_in_stdlib("client_random() (SSL_get_client_random)")
    server_random = _not_in_stdlib("server_random() (SSL_get_server_random)")
    key_update = _not_in_stdlib("key_update() (SSL_key_update)")
    renegotiate = _not_in_stdlib("renegotiate() (SSL_renegotiate)")
    renegotiate_pending = _not_in_stdlib("renegotiate_pending() (SSL_in_init)")
    peek = _not_in_stdlib("peek() (SSL_peek_ex)")
    _peek_flag = _not_in_stdlib("recv(n, MSG_PEEK) / recv_into(..., MSG_PEEK) (SSL_peek)")
    get_peer_cert_chain = _not_in_stdlib("get_peer_cert_chain() (SSL_get_peer_cert_chain)")
    get_verified_chain = _not_in_stdlib("get_verified_chain() (SSL_get0_verified_chain)")

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


_LOCKS_GUARD = _threading.Lock()


class SSLSocket(_BeyondStdlibMixin, _FastPathMixin, _StdlibSSLSocket):
    """``ssl.SSLSocket`` plus the non-raising fast path (see the mixin).

    Created by ``SSLContext.wrap_socket()`` (no public constructor).
    """

    # The stdlib's _ssl releases the GIL around SSL_* calls without a lock:
    # two threads can be inside one SSL* at once.  Blocking/timeout sockets
    # serialise the handshake (a read or write while another thread
    # handshakes waits for it) and writers (a write waiting for the
    # transport has a record half sent).
    def _tlsfast_lock(self, name):
        lock = self.__dict__.get(name)
        if lock is None:
            with _LOCKS_GUARD:
                lock = self.__dict__.setdefault(name, _threading.RLock())
        return lock

    def do_handshake(self, block=False):
        """``ssl.SSLSocket.do_handshake``; on blocking/timeout sockets one thread
        at a time drives it (others wait), see the class comment."""
        if self._sslobj is None or (self.gettimeout() == 0.0 and not block):
            return super().do_handshake(block)
        with self._tlsfast_lock("_tlsfast_hs"):
            if not self.__dict__.get("_tlsfast_done"):
                super().do_handshake(block)
                self.__dict__["_tlsfast_done"] = True

    def _handshake_first(self):
        # (a fatal error puts OpenSSL back "in init": version() is None
        # again, so remember that the handshake once completed)
        if self.__dict__.get("_tlsfast_done") or self._sslobj is None:
            return
        if self._sslobj.version() is not None:
            self.__dict__["_tlsfast_done"] = True
        elif self.gettimeout() != 0.0:
            self.do_handshake()

    def read(self, len=1024, buffer=None):
        """``ssl.SSLSocket.read``; waits for a handshake another thread drives."""
        self._handshake_first()
        return super().read(len, buffer)

    def write(self, data):
        self._handshake_first()
        if self.gettimeout() == 0.0:
            return super().write(data)
        with self._tlsfast_lock("_tlsfast_wr"):
            return super().write(data)

    def send(self, data, flags=0):
        """``ssl.SSLSocket.send``; blocking/timeout writers take turns."""
        self._handshake_first()
        if self.gettimeout() == 0.0:
            return super().send(data, flags)
        with self._tlsfast_lock("_tlsfast_wr"):
            return super().send(data, flags)

    def sendall(self, data, flags=0):
        """``ssl.SSLSocket.sendall``; blocking/timeout writers take turns."""
        self._handshake_first()
        if self.gettimeout() == 0.0:
            return super().sendall(data, flags)
        with self._tlsfast_lock("_tlsfast_wr"):
            return super().sendall(data, flags)

    def _handshake_obj(self):
        # like SSLSocket.do_handshake(): OSError(ENOTCONN) when not connected
        self._check_connected()
        sslobj = self._sslobj
        if sslobj is None:
            raise ValueError("No SSL wrapper around " + str(self))
        return sslobj

    def _io_obj(self, what):
        sslobj = self._sslobj
        if sslobj is None:
            if what == "Unwrap":
                raise ValueError("No SSL wrapper around " + str(self))
            raise ValueError(what + " on closed or unwrapped SSL socket.")
        return sslobj

    def _after_unwrap(self):
        # SSLSocket.unwrap(): the socket object stays, its TLS layer goes
        self._sslobj = None

    def recv(self, buflen=1024, flags=0):
        """``ssl.SSLSocket.recv``; ``socket.MSG_PEEK`` raises
        ``NotImplementedError`` (the compiled implementation supports it)."""
        if flags == _socket.MSG_PEEK and self._sslobj is not None:
            self._peek_flag()
        self._handshake_first()
        return super().recv(buflen, flags)

    def recv_into(self, buffer, nbytes=None, flags=0):
        """``ssl.SSLSocket.recv_into``, except that ``nbytes`` larger than the
        buffer raises ``ValueError`` (as ``socket.recv_into`` does) where the
        stdlib silently reads less; same in both implementations."""
        if flags == _socket.MSG_PEEK and self._sslobj is not None:
            self._peek_flag()
        if self._sslobj is not None and nbytes:
            with memoryview(buffer) as view:
                if nbytes > view.nbytes:
                    raise ValueError("nbytes is greater than the length of the buffer")
        self._handshake_first()
        return super().recv_into(buffer, nbytes, flags)


class SSLObject(_BeyondStdlibMixin, _FastPathMixin, _StdlibSSLObject):
    """``ssl.SSLObject`` (memory BIOs) plus the non-raising fast path.

    Created by ``SSLContext.wrap_bio()`` (no public constructor).  The codes
    mean: ``WANT_READ`` -- feed more bytes into the incoming ``MemoryBIO``;
    ``WANT_WRITE`` does not occur with memory BIOs.  After every call, send
    what the outgoing ``MemoryBIO`` holds.
    """


class SSLContext(_StdlibSSLContext):
    """``ssl.SSLContext`` whose ``wrap_socket`` / ``wrap_bio`` return tlsfast's
    ``SSLSocket`` / ``SSLObject``.  Everything else is the stdlib's."""

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

    def wrap_bio(self, incoming, outgoing, server_side=False, server_hostname=None,
                 session=None):
        """``ssl.SSLContext.wrap_bio``, also taking tlsfast ``MemoryBIO``
        objects.  Like the compiled implementation (and ``wrap_socket``), it
        raises ``ValueError`` for ``check_hostname`` without
        ``server_hostname`` -- the stdlib would then verify no name at all --
        and for ``server_side`` with a ``server_hostname``."""
        if server_side and server_hostname:
            raise ValueError("server_hostname can only be specified in client mode")
        if self.check_hostname and not server_hostname:
            raise ValueError("check_hostname requires server_hostname")
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
    "OPENSSL_VERSION_NUMBER", "RAND_bytes", "RAND_status",
]
