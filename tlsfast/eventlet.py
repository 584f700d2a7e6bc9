"""Cooperative tlsfast sockets for eventlet (``pip install tlsfast[eventlet]``).

``tlsfast.eventlet.GreenSSLSocket`` is an ``eventlet.greenio.GreenSocket``
speaking TLS through tlsfast.  Where ``eventlet.green.ssl`` drives the
stdlib's ``_ssl`` and catches an ``SSLError`` per would-block, this calls
tlsfast's non-raising fast path (``try_recv_into`` / ``try_send`` /
``try_do_handshake`` / ``try_unwrap``) on a tlsfast socket kept in
non-blocking mode and, on ``WANT_READ`` / ``WANT_WRITE``, parks the
greenthread with ``eventlet.hubs.trampoline(fd, read=True / write=True,
timeout=...)``.  Semantics follow eventlet's green sockets: a second
greenthread waiting to read (or write) the same socket gets the hub's
``RuntimeError("Second simultaneous read ...")``; the socket's timeout
bounds each whole call and raises ``socket.timeout``; timeout 0.0 behaves
like a non-blocking ``ssl.SSLSocket``; a descriptor obsoleted under a
waiting reader (``IOClosed``) reads as end of stream, as in
``eventlet.green.ssl``.

Serving HTTPS with ``eventlet.wsgi``::

    import eventlet, eventlet.wsgi, tlsfast.eventlet

    sock = tlsfast.eventlet.wrap_ssl(eventlet.listen(("0.0.0.0", 8443)),
                                     certificate="cert.pem", private_key="key.pem",
                                     server_side=True)
    eventlet.wsgi.server(sock, app)

or with a configured context (a tlsfast context of either implementation,
or the green ``tlsfast.eventlet.SSLContext``)::

    sock = tlsfast.eventlet.wrap_socket(eventlet.listen(addr), ctx, server_side=True)

``accept()`` on such a listening socket returns the connection *without*
handshaking (as ``eventlet.green.ssl`` does): the handshake runs in the
connection's own greenthread at its first read or write (or an explicit
``do_handshake()``), so a client that stalls or vanishes mid-handshake
never holds up the accept loop.

Clients: ``wrap_ssl(eventlet.connect(addr), server_hostname="example.org",
ca_certs="ca.pem")``.  Unlike eventlet's ``wrap_ssl`` (``CERT_NONE`` by
default), a client without a ``context`` verifies the server certificate
(``ca_certs`` or the system's CAs) unless ``cert_reqs=ssl.CERT_NONE`` is
passed, and checks the host name when ``server_hostname`` is given.

Both tlsfast implementations work: ``SSLContext`` / ``wrap_ssl`` without a
context use the one ``import tlsfast`` selected (``TLSFAST_IMPL``) unless
``impl`` names another; ``wrap_socket`` / ``green_context`` take a context
of either.  Monkey-patching is not needed; it is harmless with either
implementation.
"""

from __future__ import annotations

from . import _green

try:
    import eventlet as _eventlet  # noqa: F401
    from eventlet.greenio.base import GreenSocket as _GreenSocket
    from eventlet.greenio.base import set_nonblocking as _set_nonblocking
    from eventlet.greenio.base import socket_accept as _socket_accept
    from eventlet.greenio.base import socket_timeout as _socket_timeout
    from eventlet.hubs import IOClosed, notify_opened as _notify_opened
    from eventlet.hubs import _threadlocal as _hubs_threadlocal
    from eventlet.hubs import trampoline as _trampoline
    from eventlet.patcher import original as _original
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess
    raise _green.missing_library(__name__, "eventlet", _exc) from _exc

import errno as _errno
import socket as _stdsocket

import tlsfast as _tlsfast

from ._common import CERT_NONE, CERT_REQUIRED, PROTOCOL_TLS_CLIENT, PROTOCOL_TLS_SERVER, WANT_READ

_original_socket = _original("socket").socket

__all__ = [
    "GreenSSLSocket", "SSLSocket", "SSLContext", "GreenContext", "green_context",
    "wrap_socket", "wrap_ssl", "create_default_context", "IOClosed",
]


class GreenSSLSocket(_green.GreenTLSMixin, _GreenSocket):
    """A cooperative TLS socket for eventlet (``ssl.SSLSocket`` API).

    Made by ``SSLContext.wrap_socket`` / ``GreenContext.wrap_socket`` /
    ``wrap_socket`` / ``wrap_ssl`` (and, in a monkey-patched program, by
    any tlsfast context's ``wrap_socket`` given an eventlet socket); the
    constructor is ``tlsfast._green.GreenTLSMixin.__init__`` (arguments,
    attributes and exceptions there), taking over an eventlet
    ``GreenSocket``'s descriptor or a stdlib socket's, and raising
    ``ValueError`` when ``sock`` is already a ``GreenSSLSocket``.
    ``self.fd`` is the socket driven underneath: the tlsfast socket
    (non-blocking) while TLS is up, so attributes this class does not
    define reach it.

    The I/O methods mirror ``ssl.SSLSocket``'s with the green waits and
    timeouts of ``tlsfast._green.GreenTLSMixin``.  While one waits, a
    second greenthread waiting for the same event on this socket gets
    ``RuntimeError("Second simultaneous read ...")`` (or "write"), and
    ``close()`` from another greenthread wakes the waiter with
    ``IOClosed`` (an ``OSError``), which reads turn into end of stream.
    Without a TLS layer the plain methods are eventlet's (whose ``recv``
    on an unconnected socket waits rather than raising ``ENOTCONN``).
    """

    _eof_errors = (IOClosed,)

    def __getattr__(self, name):
        # GreenSocket caches delegated attributes; self.fd changes when TLS
        # starts, so look them up every time instead
        fd = self.__dict__.get("fd")
        if fd is None:
            raise AttributeError(name)
        return getattr(fd, name)

    # -- hooks of GreenTLSMixin ------------------------------------------

    def _socket_to_adopt(self, sock):
        if isinstance(sock, GreenSSLSocket):
            raise ValueError("the socket is already a GreenSSLSocket")
        return sock.fd if isinstance(sock, _GreenSocket) else sock

    def _adopt(self, family, type_, proto, fileno, timeout):
        # a fresh socket object owns the descriptor: the caller's object
        # (and a GreenSocket's __del__ closing it) no longer can close it
        raw = _original_socket(family, type_, proto, fileno=fileno)
        _set_nonblocking(raw)
        self.fd = raw
        self._closed = False
        self.settimeout(timeout)

    def _raw_socket(self):
        return self.fd

    def _set_raw_socket(self, sock):
        self.fd = sock

    def _green_wait(self, code, timeout, message):
        if self._closed:
            raise IOClosed()
        _trampoline(self.fd, read=code == WANT_READ, write=code != WANT_READ,
                    timeout=timeout,
                    timeout_exc=None if timeout is None else _socket_timeout(message),
                    mark_as_closed=self._mark_as_closed)

    # -- the plain socket methods GreenSocket binds once in __init__ ----------

    def fileno(self):
        """The descriptor (``int``), -1 once closed or detached."""
        return self.fd.fileno()

    def getsockname(self):
        """``socket.getsockname`` of the socket driven underneath."""
        return self.fd.getsockname()

    def getpeername(self):
        """``socket.getpeername``; ``OSError`` (``ENOTCONN``) when not connected."""
        return self.fd.getpeername()

    def getsockopt(self, *args):
        """``socket.getsockopt`` of the socket driven underneath."""
        return self.fd.getsockopt(*args)

    def setsockopt(self, *args):
        """``socket.setsockopt`` of the socket driven underneath."""
        return self.fd.setsockopt(*args)

    def bind(self, address):
        """``socket.bind`` of the socket driven underneath."""
        return self.fd.bind(address)

    def listen(self, *args):
        """``socket.listen`` of the socket driven underneath."""
        return self.fd.listen(*args)

    @property
    def family(self):
        """The address family (``socket.AddressFamily``)."""
        return self.fd.family

    @property
    def type(self):
        """The socket type (``socket.SOCK_STREAM``)."""
        return self.fd.type

    @property
    def proto(self):
        """The protocol number (``int``)."""
        return self.fd.proto

    # -- connect / accept ----------------------------------------------------

    def accept(self):
        """Accept a connection: ``(GreenSSLSocket, address)``, server side.
        The handshake is left to the new socket's first read / write (or
        ``do_handshake()``), in whichever greenthread serves it.  A
        connection the peer already reset is dropped and the next one
        accepted: one client's failure never reaches the accept loop (where
        ``eventlet.wsgi.server`` would stop serving on ``ECONNRESET``).
        The socket's timeout bounds the whole wait (``socket.timeout("timed
        out")``); non-blocking it raises ``BlockingIOError``."""
        fd = self.fd
        deadline = None
        while True:
            res = _socket_accept(fd)
            if res is None:
                if self.act_non_blocking:
                    raise BlockingIOError(_errno.EWOULDBLOCK, "accept would block")
                timeout = self.gettimeout()
                if timeout is not None:
                    if deadline is None:
                        deadline = _green._monotonic() + timeout
                    timeout = max(0.0, deadline - _green._monotonic())
                self._trampoline(fd, read=True, timeout=timeout,
                                 timeout_exc=_socket_timeout("timed out"))
                continue
            client, addr = res
            _notify_opened(client.fileno())
            client.settimeout(_stdsocket.getdefaulttimeout())
            try:
                conn = type(self)(client, self._context, server_side=True,
                                  do_handshake_on_connect=False,
                                  suppress_ragged_eofs=self.suppress_ragged_eofs)
            except OSError:
                client.close()
                continue
            if not conn._connected:     # the peer went away before the wrap
                conn.close()
                continue
            return conn, addr

    # -- teardown ------------------------------------------------------------

    def shutdown(self, how):
        """``socket.shutdown(how)`` after dropping the TLS layer (no
        close_notify; use ``unwrap`` for one), as ``ssl.SSLSocket.shutdown``.
        Raises ``OSError`` (``ENOTCONN`` on an unconnected socket)."""
        self._sslobj = None
        return self.fd.shutdown(how)

    def close(self):
        """Close (once no ``makefile()`` object is left); a greenthread still
        waiting on this socket is woken with ``IOClosed`` (reads then see
        end of stream) instead of waiting on a descriptor that is gone."""
        fd = self.fd
        if fd is None:
            return
        fileno = fd.fileno()
        if fileno >= 0 and getattr(fd, "_io_refs", 0) <= 0:
            # this thread's hub, if it has one (never create one from close/__del__)
            hub = getattr(_hubs_threadlocal, "hub", None)
            if hub is not None:
                try:
                    hub.mark_as_reopened(fileno)   # defang its listeners, queue IOClosed
                    if hub.closed:
                        hub.schedule_call_global(0, _noop)  # deliver on the next loop turn
                except Exception:  # noqa: BLE001 - best effort, e.g. a hub shutting down
                    pass
        fd.close()
        if fd.fileno() == -1:  # really closed (no makefile() object left)
            self._sslobj = None

    def detach(self):
        """Drop the TLS layer (no close_notify) and return the descriptor
        (``int``), as ``ssl.SSLSocket.detach``; do not use this object
        afterwards."""
        self._sslobj = None
        return self.fd.detach()

    def __repr__(self):
        tls = self._sslobj
        return (f"<{type(self).__module__}.{type(self).__name__} fd={self.fileno()} "
                f"server={self.server_side} cipher={tls.cipher() if tls is not None else None!r}>")


SSLSocket = GreenSSLSocket


def _noop():
    pass


(SSLContext, GreenContext, green_context, wrap_socket,
 create_default_context) = _green.context_factories(GreenSSLSocket, __name__, _tlsfast.SSLContext)


def wrap_ssl(sock, certificate=None, private_key=None, server_side=False,
             cert_reqs=None, ssl_version=None, ca_certs=None,
             do_handshake_on_connect=True, suppress_ragged_eofs=True, ciphers=None,
             *, context=None, server_hostname=None, certfile=None, keyfile=None,
             password=None, impl=None) -> GreenSSLSocket:
    """``eventlet.wrap_ssl`` over tlsfast: a ``GreenSSLSocket`` around ``sock``.

    ``certificate`` / ``private_key`` (aliases ``certfile`` / ``keyfile``)
    are PEM paths loaded with ``load_cert_chain``.  Without ``context`` one
    is built with the implementation module ``impl`` (default: the one
    ``import tlsfast`` selected): a server context (``server_side``), or a
    client context verifying the peer against ``ca_certs`` (else the system
    CAs) unless ``cert_reqs=CERT_NONE``, checking the host name when
    ``server_hostname`` is given.  ``ssl_version`` pins a ``TLSVersion``
    (minimum and maximum) when given as one; ``ciphers`` goes to
    ``set_ciphers``.  With ``context``, the other TLS options must not be
    given (``ValueError``).  Also raises what ``load_cert_chain`` /
    ``load_verify_locations`` / ``set_ciphers`` raise (``OSError`` for a
    missing file, ``ssl.SSLError``) and what the ``GreenSSLSocket``
    constructor raises.
    """
    certfile = certfile or certificate
    keyfile = keyfile or private_key
    if context is None:
        mod = impl or _tlsfast
        if server_side:
            ctx = mod.SSLContext(PROTOCOL_TLS_SERVER)
            if cert_reqs is not None:
                ctx.verify_mode = cert_reqs
        else:
            ctx = mod.SSLContext(PROTOCOL_TLS_CLIENT)
            verify = CERT_REQUIRED if cert_reqs is None else cert_reqs
            ctx.check_hostname = bool(server_hostname) and verify != CERT_NONE
            ctx.verify_mode = verify
        if ca_certs:
            ctx.load_verify_locations(ca_certs)
        elif not server_side and ctx.verify_mode != CERT_NONE:
            ctx.load_default_certs()
        if certfile:
            ctx.load_cert_chain(certfile, keyfile, password)
        if ciphers:
            ctx.set_ciphers(ciphers)
        if isinstance(ssl_version, _tlsfast.TLSVersion):
            ctx.minimum_version = ctx.maximum_version = ssl_version
        context = ctx
    elif any(v is not None for v in (certfile, keyfile, cert_reqs, ssl_version, ca_certs,
                                      ciphers, password)):
        raise ValueError("wrap_ssl: pass either context or the TLS options, not both")
    return GreenSSLSocket(sock, context, server_side=server_side,
                          do_handshake_on_connect=do_handshake_on_connect,
                          suppress_ragged_eofs=suppress_ragged_eofs,
                          server_hostname=server_hostname)
