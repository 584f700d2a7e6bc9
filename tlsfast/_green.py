"""The core shared by ``tlsfast.gevent`` and ``tlsfast.eventlet``.

Imports no green library: each green module supplies its socket base class
and three hooks (see ``GreenTLSMixin``): which socket object's descriptor a
wrap takes over, how the green socket adopts that descriptor, and the one
hub wait.  Everything else -- the constructor, the wait loop, every TLS
method and the context factories -- is written once here.

How a green TLS socket works
----------------------------
The green object holds an ordinary tlsfast ``SSLSocket`` (``self._sslobj``,
of either implementation) kept in **non-blocking** mode (timeout 0.0) for
its whole life.  Every TLS operation calls the non-raising fast path once
(``try_recv_into``, ``try_send``, ``try_do_handshake``, ``try_unwrap``): a
byte count (or 0) is returned at once; ``WANT_READ`` / ``WANT_WRITE`` make
the green object wait on its hub for that event (``_green_wait``) and call
again (``_finish``).  No exception is raised or caught per would-block (the
pure-Python implementation still raises one inside its ``try_*``: the
stdlib offers no other way), and no Python layer sits between the green
method and the C call on the fast path.

The user-visible timeout (``settimeout``) lives on the green object: one
deadline per call (like the stdlib; for ``sendall``, over all its waits),
set when the call first has to wait, raising ``socket.timeout`` with the
stdlib's messages.  Timeout
0.0 means non-blocking: a would-block raises ``ssl.SSLWantReadError`` /
``ssl.SSLWantWriteError`` as ``ssl.SSLSocket`` does.

A socket that is not connected yet (client before ``connect``, listening
sockets) has no TLS layer: ``_sslobj`` is None and the plain green socket
methods apply; ``connect`` wraps it once the TCP connection is up.

Plain contexts in monkey-patched programs
-----------------------------------------
After gevent's ``patch_all()`` or eventlet's ``monkey_patch()`` the sockets
every library makes are green.  Both implementations' ``SSLContext.wrap_socket``
ask ``green_wrap_socket`` first: given such a socket it returns this
layer's green socket for it (as gevent's patched ``ssl`` returns its own),
so a plain ``tlsfast.create_default_context()`` never blocks the hub.
"""

from __future__ import annotations

import errno as _errno
import socket as _socket
import sys as _sys
import time as _time
from importlib import import_module as _import_module

from ._helpers import check_sendmsg_args, check_wrap_args, pre_handshake_data_error
from ._helpers import create_default_context as create_default
from ._common import (
    CHANNEL_BINDING_TYPES,
    HANDSHAKE_TIMEOUT,
    READ_TIMEOUT,
    WANT_READ,
    WRITE_TIMEOUT,
    Purpose,
    want_error,
)

_monotonic = _time.monotonic
_socket_timeout = _socket.timeout


_UNSET = object()
_BYTES_TYPES = (bytes, bytearray)
_SEQUENCE_TYPES = (list, tuple)
_SINGLE_TYPES = (bytes, bytearray, memoryview, str)   # try_sendv's TypeError


def missing_library(module: str, library: str, exc: BaseException) -> ImportError:
    """The ImportError ``tlsfast.<library>`` raises when ``library`` is missing."""
    err = ImportError(
        f"{module} needs the {library!r} package, which could not be imported "
        f"({exc}); install it with: pip install tlsfast[{library}]")
    err.name = library
    return err


def plain_context(ctx):
    """The tlsfast context behind ``ctx`` (a green context class or proxy)."""
    inner = getattr(ctx, "_tlsfast_context", None)
    return ctx if inner is None else inner


def plain_wrap_socket(ctx, raw, *, server_side, suppress_ragged_eofs,
                      server_hostname, session):
    """Wrap ``raw`` (a connected plain socket in non-blocking mode) with
    the tlsfast implementation's own ``wrap_socket``, never a green one."""
    base = getattr(type(ctx), "_tlsfast_base", None) or type(ctx)
    tls = base.wrap_socket(
        ctx, raw, server_side=server_side, do_handshake_on_connect=False,
        suppress_ragged_eofs=suppress_ragged_eofs,
        server_hostname=server_hostname, session=session)
    if not hasattr(tls, "try_recv_into"):
        tls.close()
        raise TypeError(
            f"{type(ctx).__module__}.{type(ctx).__name__}.wrap_socket returned "
            f"{type(tls).__module__}.{type(tls).__name__}, not a tlsfast socket: "
            "the green layer drives tlsfast's non-raising fast path (try_recv_into, "
            "try_send ...), which only tlsfast's SSLSocket has")
    return tls


class GreenTLSMixin:
    """TLS methods of a green socket (mixed in before the green library's
    socket class, whose methods serve the plain, not-yet-TLS state).

    Every I/O method mirrors its ``ssl.SSLSocket`` namesake with these
    differences, spelled out once here (the public classes' docstrings add
    what their library does to a waiter):

    * it waits on the hub, not in the kernel; the socket's timeout
      (``settimeout``, seconds) is one deadline per call, over all its
      waits, and raises ``socket.timeout`` with the stdlib's message;
    * timeout 0.0: a would-block raises ``ssl.SSLWantReadError`` /
      ``ssl.SSLWantWriteError`` at once, as a non-blocking ``ssl.SSLSocket``;
    * without a TLS layer (not connected yet, unwrapped, closed, detached)
      ``recv`` / ``recv_into`` / ``send`` / ``sendall`` are the green
      library's plain methods (cleartext; ``OSError`` such as ``EBADF``
      once closed), while ``read`` / ``write`` / ``unwrap`` raise
      ``ValueError`` (``do_handshake`` too, once connected).

    The subclass (mixin first, then the library's socket class) provides:

    ``_socket_to_adopt(sock)``
        the socket object whose descriptor a wrap of ``sock`` takes over
        (``sock`` itself, or the real socket inside a green wrapper); raises
        ``ValueError`` for a socket the library refuses to wrap.
    ``_adopt(family, type, proto, fileno, timeout)``
        make this object the library's green socket for descriptor
        ``fileno`` (now owned by it) with ``timeout`` (seconds or None).
    ``_green_wait(code, timeout, message)``
        wait once on the hub until the descriptor is readable (``code ==
        WANT_READ``) or writable (``WANT_WRITE``); ``timeout`` in seconds or
        None; raise ``socket.timeout(message)`` when it expires.
    ``_raw_socket()`` / ``_set_raw_socket(sock)``
        the socket object the green socket currently drives.
    ``gettimeout()``, and the plain socket methods (``recv``, ``send``,
        ``connect`` ...) used while there is no TLS layer.
    """

    #: the tlsfast SSLSocket (non-blocking) while TLS is up, else None
    _sslobj = None
    _connected = False
    _context = None
    _session = None
    server_side = False
    server_hostname = None
    do_handshake_on_connect = True
    suppress_ragged_eofs = True
    #: exceptions of ``_green_wait`` that mean "closed under us": reads return EOF
    _eof_errors: tuple = ()

    def __init__(self, sock, context, server_side=False, do_handshake_on_connect=True,
                 suppress_ragged_eofs=True, server_hostname=None, session=None):
        """Take over ``sock`` and, when it is connected, put tlsfast's TLS on
        it (handshaking now if ``do_handshake_on_connect``); a socket
        connected later gets it in ``connect()``.

        ``sock`` is a stream socket: the green library's or a stdlib one,
        whose descriptor this object now owns (``sock`` is detached).
        ``context`` is a tlsfast ``SSLContext`` of either implementation
        (or a green context, unwrapped to it).  The other arguments are
        ``SSLContext.wrap_socket``'s and become the attributes
        ``server_side`` (bool), ``server_hostname`` (``str`` or None),
        ``do_handshake_on_connect`` and ``suppress_ragged_eofs`` (bool).
        Mirrors ``ssl.SSLSocket``'s construction by ``wrap_socket``.

        Raises ``ValueError`` for the stdlib's argument conflicts
        (``server_hostname`` or ``session`` with ``server_side``; a context
        with ``check_hostname`` and no ``server_hostname``; a non-blocking
        socket with ``do_handshake_on_connect``) and for a socket the
        library refuses, ``NotImplementedError`` for a non-stream socket,
        ``ssl.SSLError`` for an unconnected socket with data already
        received and ``ConnectionResetError`` for one the peer reset (both
        as the stdlib; an unconnected server-side socket is wrapped without
        TLS, as there), and what ``do_handshake`` raises.  The argument and
        socket-type checks (all but the non-blocking one) leave ``sock`` as
        it is; after them its descriptor belongs to this object and is
        closed on error.
        """
        context = plain_context(context)
        check_wrap_args(context.check_hostname, server_side, server_hostname, session)
        owner = self._socket_to_adopt(sock)
        if owner.getsockopt(_socket.SOL_SOCKET, _socket.SO_TYPE) != _socket.SOCK_STREAM:
            raise NotImplementedError("only stream sockets are supported")
        timeout = sock.gettimeout()
        self._adopt(owner.family, owner.type, owner.proto, owner.detach(), timeout)
        self._context = context
        self._session = session
        self._sslobj = None
        self.server_side = bool(server_side)
        self.server_hostname = server_hostname
        self.do_handshake_on_connect = do_handshake_on_connect
        self.suppress_ragged_eofs = suppress_ragged_eofs
        try:
            raw = self._raw_socket()
            try:
                raw.getpeername()
            except OSError as e:
                if e.errno != _errno.ENOTCONN:
                    raise
                self._check_not_connected(raw)
            else:
                self._start_tls()
                if do_handshake_on_connect:
                    if timeout == 0.0:
                        raise ValueError("do_handshake_on_connect should not be "
                                         "specified for non-blocking sockets")
                    self.do_handshake()
        except BaseException:
            self.close()
            raise

    # -- without a TLS layer: the green socket class (next in the MRO) --------

    def _plain_recv(self, buflen, flags):
        return super().recv(buflen, flags)

    def _plain_recv_into(self, buffer, nbytes, flags):
        return super().recv_into(buffer, nbytes or 0, flags)

    def _plain_send(self, data, flags):
        return super().send(data, flags)

    def _plain_sendall(self, data, flags):
        return super().sendall(data, flags)

    # -- connect (the green socket class follows this mixin in the MRO) ------

    def _real_connect(self, addr, connect_ex):
        if self.server_side:
            raise ValueError("can't connect in server-side mode")
        if self._connected or self._sslobj is not None:
            raise ValueError("attempt to connect already-connected SSLSocket!")
        if connect_ex:
            rc = super().connect_ex(addr)
        else:
            rc = None
            super().connect(addr)
        if not rc:
            self._start_tls()
            if self.do_handshake_on_connect:
                self.do_handshake()
        return rc

    def connect(self, addr):
        """Connect cooperatively to ``addr``, then put TLS on (and handshake
        if ``do_handshake_on_connect``); mirrors ``ssl.SSLSocket.connect``.
        The TCP connect and the handshake each get the socket's timeout.
        Raises ``ValueError`` on a server-side or already connected socket,
        ``OSError`` (``socket.timeout("timed out")``, ``ConnectionRefusedError``
        ...) for connect errors and what ``do_handshake`` raises."""
        self._real_connect(addr, False)

    def connect_ex(self, addr):
        """Like ``connect`` but returns 0 or the connect error's errno
        (``int``); mirrors ``ssl.SSLSocket.connect_ex``.  ``ValueError`` and
        the handshake's exceptions are still raised.  Non-blocking (timeout
        0.0) it returns ``EINPROGRESS`` without TLS: unlike the stdlib,
        ``do_handshake`` then raises ``ValueError``; call ``connect_ex``
        again once writable: it puts TLS on when it returns 0 (and, with
        ``do_handshake_on_connect``, raises ``ssl.SSLWantReadError`` from
        the handshake's start: go on with ``do_handshake()``)."""
        return self._real_connect(addr, True)

    def _start_tls(self):
        """Put the TLS layer on the (connected) raw socket."""
        raw = self._raw_socket()
        raw.settimeout(0.0)
        tls = plain_wrap_socket(
            self._context, raw, server_side=self.server_side,
            suppress_ragged_eofs=self.suppress_ragged_eofs,
            server_hostname=self.server_hostname, session=self._session)
        self._set_raw_socket(tls)
        if getattr(tls, "_sslobj", True) is None:
            # the peer reset between our connected check and the wrap
            raise OSError(_errno.ENOTCONN, "the peer disconnected before the TLS handshake")
        tls.settimeout(0.0)
        self._sslobj = tls
        self._connected = True
        self.server_hostname = tls.server_hostname
        return tls

    def _check_not_connected(self, raw):
        """``raw`` is not connected (a listening socket, a client before
        ``connect``, a server-side socket not connected yet, or a
        connection the peer already reset).  As the stdlib, such a socket
        is wrapped without TLS -- ``connect`` (client) or nothing (server)
        brings it later -- after reading one byte (``raw`` is non-blocking):
        a pending reset raises its ``ConnectionResetError``, and
        (CVE-2023-40217) data already received raises ``ssl.SSLError``: it
        must not be read later as if it came through TLS."""
        exc = pre_handshake_data_error(raw.recv, _errno.ENOTCONN)
        if exc is not None:
            raise exc
        self._connected = False

    def _check_connected(self):
        if not self._connected:
            # raises OSError(ENOTCONN) like the stdlib
            self.getpeername()

    # -- waiting: the one loop ------------------------------------------------

    def _deadline(self, code, block=False):
        """The monotonic deadline of a call that must now wait for ``code``:
        None without a timeout (or non-blocking with ``block``); non-blocking,
        the want error to raise."""
        timeout = self.gettimeout()
        if timeout is None:
            return None
        if timeout == 0.0:
            if block:
                return None
            raise want_error(code)
        return _monotonic() + timeout

    def _finish(self, call, args, code, message, block=False, deadline=_UNSET):
        """``call(*args)`` returned ``code`` (< 0): wait on the hub for what
        it wants and call again until it returns a count (>= 0), by
        ``deadline`` (the socket's timeout from now unless given).  On
        expiry raise ``socket.timeout(message)``; ``message`` None names
        the event waited for, as the stdlib's shutdown does ("The read
        operation timed out" / "The write operation timed out")."""
        if deadline is _UNSET:
            deadline = self._deadline(code, block)
        wait = self._green_wait
        while True:
            text = message or (READ_TIMEOUT if code == WANT_READ else WRITE_TIMEOUT)
            if deadline is None:
                wait(code, None, text)
            else:
                remaining = deadline - _monotonic()
                if remaining <= 0.0:
                    raise _socket_timeout(text)
                wait(code, remaining, text)
            code = call(*args)
            if code >= 0:
                return code

    # -- reading -------------------------------------------------------------

    def recv_into(self, buffer, nbytes=None, flags=0):
        """Decrypt up to ``nbytes`` bytes into ``buffer``; return the count.

        Mirrors ``ssl.SSLSocket.recv_into`` (``SSL_read_ex``), waiting on
        the hub (see the class docstring).  ``buffer`` is a writable buffer
        (``bytearray``, writable ``memoryview`` ...); ``nbytes`` None or 0
        means ``len(buffer)``.  Returns what has been received: the
        compiled implementation fills the buffer from every record already
        there (waiting only for the first), the pure-Python one returns at
        most one TLS record (16 KiB), as the stdlib; 0 at end of stream: the peer's close_notify, a ragged EOF when
        ``suppress_ragged_eofs``, or (eventlet) the socket closed by another
        greenthread meanwhile.

        Raises ``ValueError`` for non-zero ``flags``, a negative ``nbytes``
        or one larger than the buffer, ``TypeError`` for a read-only
        buffer, ``socket.timeout("The read operation timed out")``,
        ``ssl.SSLWantReadError`` when non-blocking, ``ssl.SSLEOFError`` on a
        ragged EOF when not suppressed, ``ssl.SSLError`` for other TLS
        failures and ``OSError`` for transport failures.
        """
        tls = self._sslobj
        if tls is None:
            return self._plain_recv_into(buffer, nbytes, flags)
        if flags:
            raise ValueError(
                f"non-zero flags not allowed in calls to recv_into() on {self.__class__}")
        if nbytes is None:
            nbytes = 0
        elif nbytes < 0:
            raise ValueError("negative buffersize in recv_into")
        n = tls.try_recv_into(buffer, nbytes)
        if n >= 0:
            return n
        try:
            return self._finish(tls.try_recv_into, (buffer, nbytes), n, READ_TIMEOUT)
        except self._eof_errors:
            return 0

    def _recv_bytes(self, tls, size):
        if size < 0:
            raise ValueError("negative buffersize in recv")
        buf = bytearray(size)
        n = tls.try_recv_into(buf, size) if size else 0
        if n < 0:
            try:
                n = self._finish(tls.try_recv_into, (buf, size), n, READ_TIMEOUT)
            except self._eof_errors:
                return b""
        if n != size:
            del buf[n:]
        return bytes(buf)

    def recv(self, buflen=1024, flags=0):
        """Read up to ``buflen`` bytes of plaintext; return ``bytes``.

        Mirrors ``ssl.SSLSocket.recv`` (``SSL_read_ex``), waiting on the hub
        (see the class docstring).  Returns what has been received, as
        ``recv_into``; ``b""`` at end of stream (as ``recv_into`` returns 0) and for
        ``buflen`` 0.  Raises as ``recv_into`` does: ``ValueError`` for
        non-zero ``flags`` or a negative ``buflen``, ``socket.timeout("The
        read operation timed out")``, ``ssl.SSLWantReadError`` when
        non-blocking, ``ssl.SSLEOFError`` / ``ssl.SSLError`` / ``OSError``.
        """
        tls = self._sslobj
        if tls is None:
            return self._plain_recv(buflen, flags)
        if flags:
            raise ValueError(
                f"non-zero flags not allowed in calls to recv() on {self.__class__}")
        return self._recv_bytes(tls, buflen)

    def read(self, len=1024, buffer=None):  # noqa: A002 - stdlib signature
        """Read up to ``len`` bytes: ``bytes``, or the count written into ``buffer``.

        Mirrors ``ssl.SSLSocket.read`` (``SSL_read_ex``), waiting on the hub
        (see the class docstring); results and exceptions as ``recv`` /
        ``recv_into``, except: ``ValueError("Read on closed or unwrapped SSL
        socket.")`` without a TLS layer (never a cleartext read).  With a
        ``buffer``, as in the stdlib, ``len`` <= 0 or larger than the buffer
        (the default 1024 with a smaller buffer) means the whole buffer.
        """
        tls = self._sslobj
        if tls is None:
            raise ValueError("Read on closed or unwrapped SSL socket.")
        if buffer is None:
            return self._recv_bytes(tls, len)
        if len > 0:
            with memoryview(buffer) as view:
                if len > view.nbytes:
                    len = 0     # noqa: A001 - the whole buffer, as the stdlib
        else:
            len = 0             # noqa: A001
        n = tls.try_recv_into(buffer, len)
        if n >= 0:
            return n
        try:
            return self._finish(tls.try_recv_into, (buffer, len), n, READ_TIMEOUT)
        except self._eof_errors:
            return 0

    def pending(self):
        """Decrypted bytes (int) readable without waiting (``SSL_pending``),
        0 without a TLS layer; mirrors ``ssl.SSLSocket.pending``."""
        tls = self._sslobj
        return 0 if tls is None else tls.pending()

    # -- writing -------------------------------------------------------------

    def _send_tls(self, tls, data):
        n = tls.try_send(data)
        if n >= 0:
            return n
        return self._finish(tls.try_send, (data,), n, WRITE_TIMEOUT)

    def write(self, data):
        """Encrypt and send ``data``; return the plaintext byte count taken.

        Mirrors ``ssl.SSLSocket.write`` (``SSL_write_ex``), waiting on the
        hub (see the class docstring).  ``data`` is any bytes-like object.
        The compiled implementation enables partial writes, so the count
        may be smaller than ``len(data)`` when the transport is slow; the
        pure-Python one (as the stdlib) takes all of it.

        Raises ``ValueError("Write on closed or unwrapped SSL socket.")``
        without a TLS layer (never a cleartext write), ``TypeError`` for
        non-bytes-like ``data``, ``socket.timeout("The write operation
        timed out")``, ``ssl.SSLWantWriteError`` (or ``SSLWantReadError``)
        when non-blocking, ``ssl.SSLError`` for TLS failures and ``OSError``
        (``BrokenPipeError``, ``ConnectionResetError``) for transport ones.
        """
        tls = self._sslobj
        if tls is None:
            raise ValueError("Write on closed or unwrapped SSL socket.")
        return self._send_tls(tls, data)

    def send(self, data, flags=0):
        """Encrypt and send ``data``; return the plaintext byte count taken.

        Mirrors ``ssl.SSLSocket.send``: ``write`` (see there, including the
        partial counts of the compiled implementation) plus ``ValueError``
        for non-zero ``flags``; without a TLS layer it is the green
        library's plain ``send`` (cleartext), as in the stdlib.
        """
        tls = self._sslobj
        if tls is None:
            return self._plain_send(data, flags)
        if flags:
            raise ValueError(
                f"non-zero flags not allowed in calls to send() on {self.__class__}")
        return self._send_tls(tls, data)

    def sendall(self, data, flags=0):
        """Encrypt and send all of ``data`` (bytes-like); return None.

        Mirrors ``ssl.SSLSocket.sendall``, waiting on the hub (see the class
        docstring): the socket's timeout is one deadline for the whole
        call.  Raises as ``send`` does (``socket.timeout("The write
        operation timed out")``, ``ssl.SSLWantWriteError`` when
        non-blocking ...); after such an error how much was sent is
        unknown.  Without a TLS layer it is the green library's plain
        ``sendall``.
        """
        tls = self._sslobj
        if tls is None:
            return self._plain_sendall(data, flags)
        if flags:
            raise ValueError(
                f"non-zero flags not allowed in calls to sendall() on {self.__class__}")
        try_send = tls.try_send
        n = try_send(data)
        if n >= 0 and type(data) in _BYTES_TYPES and n == len(data):
            return None  # the common case: all taken at once
        with memoryview(data) as view, view.cast("B") as chunk:
            total = len(chunk)
            if not total:
                return None
            sent = 0
            deadline = _UNSET      # one deadline over all the waits
            while True:
                if n < 0:
                    if deadline is _UNSET:
                        deadline = self._deadline(n)
                    rest = chunk[sent:] if sent else chunk
                    n = self._finish(try_send, (rest,), n, WRITE_TIMEOUT, deadline=deadline)
                if n == 0:  # cannot happen for non-empty data; never spin
                    raise OSError("TLS send accepted no data")
                sent += n
                if sent >= total:
                    return None
                n = try_send(chunk[sent:])

    # -- handshake and shutdown ------------------------------------------------

    def do_handshake(self, block=False):
        """Perform the TLS handshake (``SSL_do_handshake``); return None.

        Mirrors ``ssl.SSLSocket.do_handshake``, waiting on the hub (see the
        class docstring); after the handshake it returns at once.
        ``block=True`` on a non-blocking socket (timeout 0.0) waits without
        a deadline instead of raising the want errors, as in the stdlib.

        Raises ``OSError`` (``ENOTCONN``) before the socket is connected,
        ``ValueError`` without a TLS layer (closed, unwrapped),
        ``ssl.SSLCertVerificationError`` when the peer's certificate (or
        host name) is rejected, ``ssl.SSLError`` (``SSLEOFError`` when the
        peer closes mid-handshake) for other TLS failures, ``OSError`` for
        transport failures, ``socket.timeout("The handshake operation
        timed out")`` and, non-blocking, ``ssl.SSLWantReadError`` /
        ``ssl.SSLWantWriteError``.
        """
        self._check_connected()
        tls = self._sslobj
        if tls is None:
            raise ValueError(f"No SSL wrapper around {self}")
        code = tls.try_do_handshake()
        if code < 0:
            self._finish(tls.try_do_handshake, (), code, HANDSHAKE_TIMEOUT, block)

    def unwrap(self):
        """Shut TLS down (``SSL_shutdown``) and return this socket, now cleartext.

        Mirrors ``ssl.SSLSocket.unwrap``, waiting on the hub (see the class
        docstring): sends our close_notify, waits for the peer's
        (application data arriving meanwhile is discarded), then drops the
        TLS layer: ``recv`` / ``send`` move cleartext, ``read`` / ``write``
        / ``unwrap`` raise ``ValueError``.

        Raises ``ValueError`` without a TLS layer (closed, already
        unwrapped, not connected), ``ssl.SSLEOFError`` (or ``OSError``) when
        the peer closed without close_notify (``gevent.ssl`` swallows it;
        the stdlib does not), ``ssl.SSLError`` for other TLS failures (e.g.
        before the handshake), ``socket.timeout`` naming what it waited for
        as the stdlib's does ("The read operation timed out" waiting for the
        peer's close_notify, "The write operation timed out" waiting to send
        ours) and, non-blocking, ``ssl.SSLWantReadError`` /
        ``ssl.SSLWantWriteError``.
        """
        tls = self._sslobj
        if tls is None:
            raise ValueError(f"No SSL wrapper around {self}")
        code = tls.try_unwrap()
        if code < 0:
            self._finish(tls.try_unwrap, (), code, None)
        self._sslobj = None
        return self

    # -- inspection ------------------------------------------------------------

    @property
    def context(self):
        """The tlsfast ``SSLContext`` in use (a ``GreenContext`` is unwrapped
        to its context), as ``ssl.SSLSocket.context``.  Assigning one (e.g.
        from an SNI callback) forwards it to the TLS layer, where the
        compiled implementation raises ``TypeError`` for a non-tlsfast
        context; without a TLS layer it is kept for ``connect``."""
        return self._context

    @context.setter
    def context(self, ctx):
        ctx = plain_context(ctx)
        if self._sslobj is not None:
            self._sslobj.context = ctx
        self._context = ctx

    @property
    def session(self):
        """The TLS session (``SSLSession``), None before the handshake or
        without a TLS layer; as ``ssl.SSLSocket.session``.  Assigning one
        keeps it for ``connect`` and, with a TLS layer, forwards it:
        ``TypeError`` for a non-``SSLSession``, ``ValueError`` after the
        handshake or on a server-side socket."""
        tls = self._sslobj
        return None if tls is None else tls.session

    @session.setter
    def session(self, session):
        self._session = session
        if self._sslobj is not None:
            self._sslobj.session = session

    @property
    def session_reused(self):
        """True when the handshake resumed ``session`` (``SSL_session_reused``),
        None without a TLS layer."""
        tls = self._sslobj
        return None if tls is None else tls.session_reused

    def getpeercert(self, binary_form=False):
        """The peer's certificate, as ``ssl.SSLSocket.getpeercert``: the
        stdlib's ``dict`` (``{}`` when not verified), DER ``bytes`` with
        ``binary_form``, or None when the peer sent none.  Raises
        ``OSError`` (``ENOTCONN``) before the socket is connected and
        ``ValueError`` before the handshake or without a TLS layer."""
        self._check_connected()
        tls = self._sslobj
        if tls is None:
            raise ValueError(f"No SSL wrapper around {self}")
        return tls.getpeercert(binary_form)

    def cipher(self):
        """``(name, protocol, secret_bits)`` of the negotiated cipher, None
        before the handshake or without a TLS layer (as the stdlib)."""
        tls = self._sslobj
        return None if tls is None else tls.cipher()

    def shared_ciphers(self):
        """Server side: the ``list`` of ``(name, protocol, secret_bits)`` the
        client offered and we support; None on the client side, before the
        handshake or without a TLS layer (as the stdlib)."""
        tls = self._sslobj
        return None if tls is None else tls.shared_ciphers()

    def compression(self):
        """The compression algorithm (``str``) or None: always None in
        practice (OpenSSL disables TLS compression), and without a TLS
        layer."""
        tls = self._sslobj
        return None if tls is None else tls.compression()

    def version(self):
        """The protocol version (``"TLSv1.3"`` ...), None before the
        handshake or without a TLS layer (``SSL_get_version``)."""
        tls = self._sslobj
        return None if tls is None else tls.version()

    def selected_alpn_protocol(self):
        """The ALPN protocol (``str``) agreed in the handshake, or None."""
        tls = self._sslobj
        return None if tls is None else tls.selected_alpn_protocol()

    def selected_npn_protocol(self):
        """Always None: NPN is not supported (deprecated in the stdlib)."""
        return None

    def get_channel_binding(self, cb_type="tls-unique"):
        """Channel binding data (``bytes``, RFC 5929) for ``cb_type``, None
        before the handshake or without a TLS layer.  Raises
        ``ValueError`` for a type other than ``"tls-unique"`` (the
        stdlib's ``ssl.CHANNEL_BINDING_TYPES``)."""
        tls = self._sslobj
        if tls is None:
            if cb_type not in CHANNEL_BINDING_TYPES:
                raise ValueError(f"{cb_type} channel binding type not implemented")
            return None
        return tls.get_channel_binding(cb_type)

    def verify_client_post_handshake(self):
        """Server side, TLS 1.3: request the client's certificate
        (``SSL_verify_client_post_handshake``); it arrives with a later
        read.  Raises ``ssl.SSLError`` when OpenSSL refuses (client side,
        client without ``post_handshake_auth``, TLS 1.2) and ``ValueError``
        without a TLS layer."""
        tls = self._sslobj
        if tls is None:
            raise ValueError(f"No SSL wrapper around {self}")
        return tls.verify_client_post_handshake()

    def dup(self):
        """Raises ``NotImplementedError``, as ``ssl.SSLSocket.dup``."""
        raise NotImplementedError(f"Can't dup() {self.__class__.__name__} instances")

    def recvfrom(self, buflen=1024, flags=0):
        """The plain ``recvfrom``; ``ValueError`` while TLS is up (as the stdlib)."""
        if self._sslobj is not None:
            raise ValueError(f"recvfrom not allowed on instances of {self.__class__}")
        return super().recvfrom(buflen, flags)

    def recvfrom_into(self, buffer, nbytes=None, flags=0):
        """The plain ``recvfrom_into``; ``ValueError`` while TLS is up (as the stdlib)."""
        if self._sslobj is not None:
            raise ValueError(f"recvfrom_into not allowed on instances of {self.__class__}")
        return super().recvfrom_into(buffer, nbytes or 0, flags)

    def sendto(self, data, flags_or_addr, addr=None):
        """The plain ``sendto``; ``ValueError`` while TLS is up (as the stdlib)."""
        if self._sslobj is not None:
            raise ValueError(f"sendto not allowed on instances of {self.__class__}")
        if addr is None:
            return super().sendto(data, flags_or_addr)
        return super().sendto(data, flags_or_addr, addr)

    def recvmsg(self, *args, **kwargs):
        """Raises ``NotImplementedError``, as ``ssl.SSLSocket.recvmsg``."""
        raise NotImplementedError(f"recvmsg not allowed on instances of {self.__class__}")

    def recvmsg_into(self, *args, **kwargs):
        """Raises ``NotImplementedError``, as ``ssl.SSLSocket.recvmsg_into``."""
        raise NotImplementedError(f"recvmsg_into not allowed on instances of {self.__class__}")

    def sendmsg(self, buffers, ancdata=(), flags=0, address=None):
        """Encrypt and send the bytes-like objects of ``buffers`` (an
        iterable), in order, in as few TLS records as fit (16 KiB of
        plaintext each: the TLS socket's ``try_sendv``); return the
        plaintext byte count taken (``int``), waiting on the hub until some
        is (see the class docstring).  As ``send``, the compiled
        implementation may take fewer than all (send the rest next:
        ``sendmsg_all`` loops), the pure-Python one takes all.  The
        stdlib's ``SSLSocket.sendmsg`` raises ``NotImplementedError``; this
        is ``socket.sendmsg`` for data only.

        Raises ``NotImplementedError`` for non-empty ``ancdata``,
        ``ValueError`` for non-zero ``flags`` or an ``address``,
        ``TypeError`` when ``buffers`` is not an iterable of bytes-like
        objects, and what ``send`` raises (``socket.timeout("The write
        operation timed out")``, ``ssl.SSLWantWriteError`` when
        non-blocking, ``ssl.SSLError``, ``OSError``).  Without a TLS layer
        it is the green library's plain ``sendmsg`` (cleartext, as
        ``send``).
        """
        tls = self._sslobj
        if tls is None:
            return super().sendmsg(buffers, ancdata, flags, address)
        check_sendmsg_args(self, ancdata, flags, address)
        if type(buffers) not in _SEQUENCE_TYPES and not isinstance(buffers, _SINGLE_TYPES):
            buffers = list(buffers)     # a retry needs them again
        n = tls.try_sendv(buffers)
        if n >= 0:
            return n
        return self._finish(tls.try_sendv, (buffers,), n, WRITE_TIMEOUT)


def sendmsg_all(sock, buffers):
    """Send all the bytes-like objects of ``buffers`` (a sequence) through
    ``sock.sendmsg`` -- a green TLS socket's coalesces them into as few
    TLS records as fit; a plain socket's is one ``sendmsg`` syscall --
    calling it again with the rest after a short count; returns None.
    Each call has the socket's timeout.  Raises what ``sock.sendmsg``
    raises (then how much was sent is unknown)."""
    rest = [view for view in (memoryview(b).cast("B") for b in buffers) if view]
    while rest:
        n = sock.sendmsg(rest)
        if n <= 0:      # cannot happen for a non-empty rest; never spin
            raise OSError("sendmsg accepted no data")
        while rest and n >= len(rest[0]):
            n -= len(rest.pop(0))
        if n:
            rest[0] = rest[0][n:]



# -- context factories: one set per green module ------------------------------

def make_context_class(base, socket_class, module: str):
    """A subclass of the implementation context ``base`` whose ``wrap_socket``
    returns ``socket_class`` (green) sockets."""

    def wrap_socket(self, sock, server_side=False, do_handshake_on_connect=True,
                    suppress_ragged_eofs=True, server_hostname=None, session=None):
        return socket_class(
            sock, self, server_side=server_side,
            do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs,
            server_hostname=server_hostname, session=session)

    wrap_socket.__doc__ = (
        f"Like ``SSLContext.wrap_socket`` (same arguments) but returns a "
        f"cooperative ``{module}.{socket_class.__name__}``; raises what its "
        f"constructor raises.")
    wrap_socket.__qualname__ = "SSLContext.wrap_socket"
    wrap_socket.__module__ = module
    impl = base.__module__.rsplit(".", 1)[-1]
    return type("SSLContext", (base,), {
        "__module__": module,
        "__qualname__": "SSLContext",
        "__doc__": (f"A tlsfast ``SSLContext`` ({impl}) whose ``wrap_socket`` "
                    f"returns cooperative ``{module}.{socket_class.__name__}`` objects."),
        "wrap_socket": wrap_socket,
        "_tlsfast_base": base,
    })


class GreenContextBase:
    """Adapter making an existing tlsfast context (of either implementation)
    hand out green sockets: ``wrap_socket`` is green, every other attribute
    (read or assigned) is the wrapped context's.  Subclasses set
    ``_socket_class``."""

    __slots__ = ("_tlsfast_context",)
    _socket_class = None

    def __init__(self, context):
        object.__setattr__(self, "_tlsfast_context", plain_context(context))

    @property
    def context(self):
        """The wrapped tlsfast context."""
        return self._tlsfast_context

    def wrap_socket(self, sock, server_side=False, do_handshake_on_connect=True,
                    suppress_ragged_eofs=True, server_hostname=None, session=None):
        """Like ``SSLContext.wrap_socket`` (same arguments) but returns a
        cooperative socket of ``_socket_class`` over the wrapped context;
        raises what that class's constructor raises."""
        return self._socket_class(
            sock, self._tlsfast_context, server_side=server_side,
            do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs,
            server_hostname=server_hostname, session=session)

    def __getattr__(self, name):
        return getattr(self._tlsfast_context, name)

    def __setattr__(self, name, value):
        setattr(self._tlsfast_context, name, value)

    def __repr__(self):
        return f"<{type(self).__module__}.{type(self).__name__} for {self._tlsfast_context!r}>"


def context_factories(socket_class, module: str, impl_context) -> tuple:
    """The context factories of the green module ``module`` whose socket
    class is ``socket_class``: its ``SSLContext`` class (``impl_context``,
    the selected implementation's, with a green ``wrap_socket``),
    ``GreenContext``, ``green_context``, ``wrap_socket`` and
    ``create_default_context``."""
    name = f"{module}.{socket_class.__name__}"
    green_class = make_context_class(impl_context, socket_class, module)

    green_adapter = type("GreenContext", (GreenContextBase,), {
        "__module__": module,
        "__qualname__": "GreenContext",
        "__slots__": (),
        "_socket_class": socket_class,
        "__doc__": (f"An existing tlsfast context (either implementation) whose "
                    f"``wrap_socket`` returns ``{name}``; everything else is the "
                    f"context's own.  Usable as ``ssl_context=`` of servers that "
                    f"only call ``wrap_socket``."),
    })

    def green_context(context):
        return green_adapter(context)

    green_context.__doc__ = (
        f"Make ``context`` (a tlsfast ``SSLContext`` of either implementation) "
        f"hand out cooperative ``{name}`` sockets: returns a ``GreenContext``.")

    def wrap_socket(sock, context, server_side=False, do_handshake_on_connect=True,
                    suppress_ragged_eofs=True, server_hostname=None, session=None):
        return socket_class(sock, context, server_side=server_side,
                            do_handshake_on_connect=do_handshake_on_connect,
                            suppress_ragged_eofs=suppress_ragged_eofs,
                            server_hostname=server_hostname, session=session)

    wrap_socket.__doc__ = (
        f"Wrap ``sock`` with tlsfast ``context`` (either implementation) into a "
        f"cooperative ``{name}``; arguments and exceptions as its constructor.")

    def create_default_context(purpose=Purpose.SERVER_AUTH, *, cafile=None, capath=None,
                               cadata=None):
        return create_default(green_class, purpose, cafile, capath, cadata)

    create_default_context.__doc__ = (
        "``tlsfast.create_default_context`` (same arguments, defaults and "
        "exceptions: ``ssl.create_default_context``'s) returning this module's "
        "green ``SSLContext``.")

    for func in (green_context, wrap_socket, create_default_context):
        func.__module__ = module
        func.__qualname__ = func.__name__
    return green_class, green_adapter, green_context, wrap_socket, create_default_context


# -- plain contexts in monkey-patched programs ----------------------------------

#: (module, class, tlsfast module): the green libraries' socket classes, found
#: in sys.modules only -- a library nobody imported made no socket
_GREEN_SOCKET_TYPES = (
    ("gevent.socket", "socket", "tlsfast.gevent"),
    ("eventlet.greenio.base", "GreenSocket", "tlsfast.eventlet"),
)
#: socket type -> tlsfast green socket class for it, or None (plain sockets)
_green_class_cache: dict = {}


def _green_class_for(sock_type):
    modules = _sys.modules
    for module_name, class_name, tlsfast_module in _GREEN_SOCKET_TYPES:
        module = modules.get(module_name)
        if module is not None and issubclass(sock_type, getattr(module, class_name)):
            return _import_module(tlsfast_module).SSLSocket
    return None


def green_wrap_socket(context, sock, server_side, do_handshake_on_connect,
                      suppress_ragged_eofs, server_hostname, session):
    """What ``SSLContext.wrap_socket`` (both implementations) returns for a
    green library's socket: a ``tlsfast.gevent.SSLSocket`` for a gevent
    socket, a ``tlsfast.eventlet.GreenSSLSocket`` for an eventlet one --
    as gevent's patched ``ssl`` hands out its own cooperative sockets -- or
    None for any other socket (the caller wraps it itself).  Arguments as
    ``wrap_socket``'s (``context`` is the tlsfast context); raises what the
    green socket's constructor raises.  Costs one dict lookup per wrap once
    the socket's type has been seen; never imports a green library."""
    sock_type = type(sock)
    try:
        green_class = _green_class_cache[sock_type]
    except KeyError:
        green_class = _green_class_cache[sock_type] = _green_class_for(sock_type)
    if green_class is None:
        return None
    return green_class(sock, context, server_side=server_side,
                       do_handshake_on_connect=do_handshake_on_connect,
                       suppress_ragged_eofs=suppress_ragged_eofs,
                       server_hostname=server_hostname, session=session)
