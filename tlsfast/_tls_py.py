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

import os as _os
import ssl as _ssl
import sys as _sys

from ._common import (
    CERT_NONE,
    CERT_REQUIRED,
    EVENTS_FOR_CODE,
    PROTOCOL_TLS_CLIENT,
    PROTOCOL_TLS_SERVER,
    WANT_READ,
    WANT_WRITE,
    Purpose,
)

SSLWantReadError = _ssl.SSLWantReadError
SSLWantWriteError = _ssl.SSLWantWriteError
SSLZeroReturnError = _ssl.SSLZeroReturnError
SSLEOFError = _ssl.SSLEOFError

_EVENT_READ = EVENTS_FOR_CODE[WANT_READ]
_EVENT_WRITE = EVENTS_FOR_CODE[WANT_WRITE]

SSLSession = _ssl.SSLSession
MemoryBIO = _ssl.MemoryBIO
OPENSSL_VERSION = _ssl.OPENSSL_VERSION
OPENSSL_VERSION_INFO = _ssl.OPENSSL_VERSION_INFO
OPENSSL_VERSION_NUMBER = _ssl.OPENSSL_VERSION_NUMBER
RAND_bytes = _ssl.RAND_bytes
RAND_status = _ssl.RAND_status


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
        count, ``0`` (or negative, or larger than the buffer) meaning the
        whole buffer.  Returns the number of bytes written at the start of
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


class SSLSocket(_FastPathMixin, _ssl.SSLSocket):
    """``ssl.SSLSocket`` plus the non-raising fast path (see the mixin).

    Created by ``SSLContext.wrap_socket()`` (no public constructor).
    """

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


class SSLObject(_FastPathMixin, _ssl.SSLObject):
    """``ssl.SSLObject`` (memory BIOs) plus the non-raising fast path.

    Created by ``SSLContext.wrap_bio()`` (no public constructor).  The codes
    mean: ``WANT_READ`` -- feed more bytes into the incoming ``MemoryBIO``;
    ``WANT_WRITE`` does not occur with memory BIOs.  After every call, send
    what the outgoing ``MemoryBIO`` holds.
    """


class SSLContext(_ssl.SSLContext):
    """``ssl.SSLContext`` whose ``wrap_socket`` / ``wrap_bio`` return tlsfast's
    ``SSLSocket`` / ``SSLObject``.  Everything else is the stdlib's."""

    sslsocket_class = SSLSocket
    sslobject_class = SSLObject


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
    if not isinstance(purpose, _ssl._ASN1Object):
        raise TypeError(purpose)
    if purpose == Purpose.SERVER_AUTH:
        context = SSLContext(PROTOCOL_TLS_CLIENT)
        context.verify_mode = CERT_REQUIRED
        context.check_hostname = True
    elif purpose == Purpose.CLIENT_AUTH:
        context = SSLContext(PROTOCOL_TLS_SERVER)
    else:
        raise ValueError(purpose)
    if cafile or capath or cadata:
        context.load_verify_locations(cafile, capath, cadata)
    elif context.verify_mode != CERT_NONE:
        # may fail silently, like the stdlib
        context.load_default_certs(purpose)
    keylogfile = _os.environ.get("SSLKEYLOGFILE")
    if keylogfile and not _sys.flags.ignore_environment:
        context.keylog_filename = keylogfile
    return context


__all__ = [
    "SSLContext", "SSLSocket", "SSLObject", "SSLSession", "MemoryBIO",
    "create_default_context", "OPENSSL_VERSION", "OPENSSL_VERSION_INFO",
    "OPENSSL_VERSION_NUMBER", "RAND_bytes", "RAND_status",
]
