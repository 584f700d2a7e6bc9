"""The core shared by ``tlsfast.gevent`` and ``tlsfast.eventlet``.

Imports no green library: each green module supplies its own hub wait.

How a green TLS socket works
----------------------------
The green object holds an ordinary tlsfast ``SSLSocket`` (``self._sslobj``,
of either implementation) kept in **non-blocking** mode (timeout 0.0) for
its whole life.  Every TLS operation calls the non-raising fast path once
(``try_recv_into``, ``try_send``, ``try_do_handshake``, ``try_unwrap``): a
byte count (or 0) is returned at once; ``WANT_READ`` / ``WANT_WRITE`` make
the green object wait on its hub for that event (``_green_wait``) and call
again.  No exception is raised or caught per would-block (the pure-Python
implementation still raises one inside its ``try_*``: the stdlib offers no
other way), and no Python layer sits between the green method and the C
call on the fast path.

The user-visible timeout (``settimeout``) lives on the green object: one
deadline per call (like the stdlib; for ``sendall``, over all its waits),
set when the call first has to wait, raising ``socket.timeout`` with the
stdlib's messages.  Timeout
0.0 means non-blocking: a would-block raises ``ssl.SSLWantReadError`` /
``ssl.SSLWantWriteError`` as ``ssl.SSLSocket`` does.

A socket that is not connected yet (client before ``connect``, listening
sockets) has no TLS layer: ``_sslobj`` is None and the plain green socket
methods apply; ``connect`` wraps it once the TCP connection is up.
"""

from __future__ import annotations

import errno as _errno
import socket as _socket
import time as _time

from ._common import (
    WANT_READ,
    WANT_WRITE,
    SSLError,
    SSLWantReadError,
    SSLWantWriteError,
)

_monotonic = _time.monotonic
_socket_timeout = _socket.timeout

READ_TIMEOUT = "The read operation timed out"
WRITE_TIMEOUT = "The write operation timed out"
HANDSHAKE_TIMEOUT = "The handshake operation timed out"

_UNSET = object()
_BYTES_TYPES = (bytes, bytearray)


def missing_library(module: str, library: str, exc: BaseException) -> ImportError:
    """The ImportError ``tlsfast.<library>`` raises when ``library`` is missing."""
    err = ImportError(
        f"{module} needs the {library!r} package, which could not be imported "
        f"({exc}); install it with: pip install tlsfast[{library}]")
    err.name = library
    return err


def _want_error(code: int):
    if code == WANT_READ:
        return SSLWantReadError(2, "The operation did not complete (read)")
    return SSLWantWriteError(3, "The operation did not complete (write)")


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
            "tlsfast's pure-Python implementation subclasses the stdlib ssl classes, "
            "so it must be imported before gevent / eventlet monkey-patch the ssl "
            "module (or use the compiled implementation, TLSFAST_IMPL=c)")
    return tls


def check_wrap_args(context, server_side, server_hostname, session):
    """The stdlib's argument checks, done before any descriptor changes hands."""
    if server_side:
        if server_hostname:
            raise ValueError("server_hostname can only be specified in server mode")
        if session is not None:
            raise ValueError("session can only be specified in client mode")
    if getattr(context, "check_hostname", False) and not server_hostname:
        raise ValueError("check_hostname requires server_hostname")


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
        f"Like ``SSLContext.wrap_socket`` but returns a cooperative "
        f"``{module}.{socket_class.__name__}``.")
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


class GreenTLSMixin:
    """TLS methods of a green socket (mixed in before the green library's
    socket class, whose methods serve the plain, not-yet-TLS state).

    The subclass provides:

    ``_green_wait(code, timeout, message)``
        wait once on the hub until the descriptor is readable (``code ==
        WANT_READ``) or writable (``WANT_WRITE``); ``timeout`` in seconds or
        None; raise ``socket.timeout(message)`` when it expires.
    ``_raw_socket()`` / ``_set_raw_socket(sock)``
        the socket object the green socket currently drives.
    ``_plain_recv`` / ``_plain_recv_into`` / ``_plain_send`` / ``_plain_sendall``
        the green library's own methods, used while there is no TLS layer.
    ``gettimeout()``
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

    # -- construction helpers ---------------------------------------------

    def _init_tls_state(self, context, server_side, do_handshake_on_connect,
                        suppress_ragged_eofs, server_hostname, session):
        self._context = plain_context(context)
        self._session = session
        self._sslobj = None
        self.server_side = bool(server_side)
        self.server_hostname = server_hostname
        self.do_handshake_on_connect = do_handshake_on_connect
        self.suppress_ragged_eofs = suppress_ragged_eofs

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
        """Connect cooperatively, then put TLS on (and handshake if
        ``do_handshake_on_connect``).  Raises ``ValueError`` on a server-side
        or already connected socket, ``OSError`` for connect errors and what
        ``do_handshake`` raises."""
        self._real_connect(addr, False)

    def connect_ex(self, addr):
        """Like ``connect`` but returns an errno for connect errors."""
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
        ``connect``, or a connection the peer already reset).  Like the
        stdlib (CVE-2023-40217), refuse one whose receive buffer still holds
        data: it must not be read later as if it came through TLS."""
        if self.server_side and not raw.getsockopt(_socket.SOL_SOCKET, _socket.SO_ACCEPTCONN):
            # accepted, then reset by the peer: nothing to serve
            raise OSError(_errno.ENOTCONN, "the peer disconnected before the TLS handshake")
        try:
            data = raw.recv(1)
        except OSError as e:
            if e.errno not in (_errno.ENOTCONN, _errno.EINVAL):
                raise
            data = b""
        if data:
            reason = "Closed before TLS handshake with data in recv buffer."
            exc = SSLError(_errno.ENOTCONN, reason)
            exc.reason = reason
            exc.library = None
            raise exc
        self._connected = False

    def _check_connected(self):
        if not self._connected:
            # raises OSError(ENOTCONN) like the stdlib
            self.getpeername()

    # -- waiting -------------------------------------------------------------

    def _deadline(self, code, block=False):
        timeout = self.gettimeout()
        if timeout is None:
            return None
        if timeout == 0.0:
            if block:
                return None
            raise _want_error(code)
        return _monotonic() + timeout

    def _wait_until(self, code, deadline, message):
        if deadline is None:
            self._green_wait(code, None, message)
            return
        remaining = deadline - _monotonic()
        if remaining <= 0.0:
            raise _socket_timeout(message)
        self._green_wait(code, remaining, message)

    def _finish(self, call, args, code, message, block=False):
        """``call(*args)`` returned ``code`` (< 0): wait and repeat until it
        returns a count, within the socket's timeout."""
        deadline = self._deadline(code, block)
        while True:
            self._wait_until(code, deadline, message)
            code = call(*args)
            if code >= 0:
                return code

    # -- reading -------------------------------------------------------------

    def recv_into(self, buffer, nbytes=None, flags=0):
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
        tls = self._sslobj
        if tls is None:
            return self._plain_recv(buflen, flags)
        if flags:
            raise ValueError(
                f"non-zero flags not allowed in calls to recv() on {self.__class__}")
        return self._recv_bytes(tls, buflen)

    def read(self, len=1024, buffer=None):  # noqa: A002 - stdlib signature
        """Read up to ``len`` bytes (``bytes``), or into ``buffer`` (the count)."""
        tls = self._sslobj
        if tls is None:
            raise ValueError("Read on closed or unwrapped SSL socket.")
        if buffer is None:
            return self._recv_bytes(tls, len)
        if len < 0:
            raise ValueError("size should not be negative")
        n = tls.try_recv_into(buffer, len)
        if n >= 0:
            return n
        try:
            return self._finish(tls.try_recv_into, (buffer, len), n, READ_TIMEOUT)
        except self._eof_errors:
            return 0

    def pending(self):
        tls = self._sslobj
        return 0 if tls is None else tls.pending()

    # -- writing -------------------------------------------------------------

    def _send_tls(self, tls, data):
        n = tls.try_send(data)
        if n >= 0:
            return n
        return self._finish(tls.try_send, (data,), n, WRITE_TIMEOUT)

    def write(self, data):
        """Encrypt and send ``data``; returns the count taken."""
        tls = self._sslobj
        if tls is None:
            raise ValueError("Write on closed or unwrapped SSL socket.")
        return self._send_tls(tls, data)

    def send(self, data, flags=0):
        tls = self._sslobj
        if tls is None:
            return self._plain_send(data, flags)
        if flags:
            raise ValueError(
                f"non-zero flags not allowed in calls to send() on {self.__class__}")
        return self._send_tls(tls, data)

    def sendall(self, data, flags=0):
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
            sent = 0
            deadline = _UNSET
            while True:
                if n > 0:
                    sent += n
                    if sent >= total:
                        return None
                    n = try_send(chunk[sent:])
                    continue
                if not total:
                    return None
                if n == 0:  # cannot happen for non-empty data; never spin
                    raise OSError("TLS send accepted no data")
                if deadline is _UNSET:
                    deadline = self._deadline(n)
                self._wait_until(n, deadline, WRITE_TIMEOUT)
                n = try_send(chunk[sent:] if sent else chunk)

    # -- handshake and shutdown ------------------------------------------------

    def do_handshake(self, block=False):
        """Perform the TLS handshake, waiting cooperatively."""
        self._check_connected()
        tls = self._sslobj
        if tls is None:
            raise ValueError(f"No SSL wrapper around {self}")
        code = tls.try_do_handshake()
        if code < 0:
            self._finish(tls.try_do_handshake, (), code, HANDSHAKE_TIMEOUT, block)

    def unwrap(self):
        """Exchange close_notify alerts cooperatively and drop the TLS layer;
        returns this socket, now carrying cleartext."""
        tls = self._sslobj
        if tls is None:
            raise ValueError(f"No SSL wrapper around {self}")
        code = tls.try_unwrap()
        if code < 0:
            self._finish(tls.try_unwrap, (), code, READ_TIMEOUT)
        self._sslobj = None
        return self

    # -- inspection ------------------------------------------------------------

    @property
    def context(self):
        return self._context

    @context.setter
    def context(self, ctx):
        ctx = plain_context(ctx)
        if self._sslobj is not None:
            self._sslobj.context = ctx
        self._context = ctx

    @property
    def session(self):
        tls = self._sslobj
        return None if tls is None else tls.session

    @session.setter
    def session(self, session):
        self._session = session
        if self._sslobj is not None:
            self._sslobj.session = session

    @property
    def session_reused(self):
        tls = self._sslobj
        return None if tls is None else tls.session_reused

    def getpeercert(self, binary_form=False):
        self._check_connected()
        tls = self._sslobj
        if tls is None:
            raise ValueError(f"No SSL wrapper around {self}")
        return tls.getpeercert(binary_form)

    def cipher(self):
        tls = self._sslobj
        return None if tls is None else tls.cipher()

    def shared_ciphers(self):
        tls = self._sslobj
        return None if tls is None else tls.shared_ciphers()

    def compression(self):
        tls = self._sslobj
        return None if tls is None else tls.compression()

    def version(self):
        tls = self._sslobj
        return None if tls is None else tls.version()

    def selected_alpn_protocol(self):
        tls = self._sslobj
        return None if tls is None else tls.selected_alpn_protocol()

    def selected_npn_protocol(self):
        return None

    def get_channel_binding(self, cb_type="tls-unique"):
        tls = self._sslobj
        if tls is None:
            if cb_type not in _socket_channel_binding_types():
                raise ValueError(f"{cb_type} channel binding type not implemented")
            return None
        return tls.get_channel_binding(cb_type)

    def verify_client_post_handshake(self):
        tls = self._sslobj
        if tls is None:
            raise ValueError(f"No SSL wrapper around {self}")
        return tls.verify_client_post_handshake()

    def dup(self):
        raise NotImplementedError(f"Can't dup() {self.__class__.__name__} instances")

    def recvfrom(self, buflen=1024, flags=0):
        if self._sslobj is not None:
            raise ValueError(f"recvfrom not allowed on instances of {self.__class__}")
        return super().recvfrom(buflen, flags)

    def recvfrom_into(self, buffer, nbytes=None, flags=0):
        if self._sslobj is not None:
            raise ValueError(f"recvfrom_into not allowed on instances of {self.__class__}")
        return super().recvfrom_into(buffer, nbytes or 0, flags)

    def sendto(self, data, flags_or_addr, addr=None):
        if self._sslobj is not None:
            raise ValueError(f"sendto not allowed on instances of {self.__class__}")
        if addr is None:
            return super().sendto(data, flags_or_addr)
        return super().sendto(data, flags_or_addr, addr)

    def recvmsg(self, *args, **kwargs):
        raise NotImplementedError(f"recvmsg not allowed on instances of {self.__class__}")

    def recvmsg_into(self, *args, **kwargs):
        raise NotImplementedError(f"recvmsg_into not allowed on instances of {self.__class__}")

    def sendmsg(self, *args, **kwargs):
        raise NotImplementedError(f"sendmsg not allowed on instances of {self.__class__}")


def _socket_channel_binding_types():
    import ssl
    return ssl.CHANNEL_BINDING_TYPES
