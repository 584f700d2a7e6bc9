"""Cooperative tlsfast sockets for gevent (``pip install tlsfast[gevent]``).

``tlsfast.gevent.SSLSocket`` is a ``gevent.socket.socket`` speaking TLS
through tlsfast.  Where ``gevent.ssl`` drives the stdlib's ``_ssl`` and
catches an ``SSLWantReadError`` per would-block, this calls tlsfast's
non-raising fast path (``try_recv_into`` / ``try_send`` /
``try_do_handshake`` / ``try_unwrap``) on a tlsfast socket kept in
non-blocking mode, and on ``WANT_READ`` / ``WANT_WRITE`` waits on the
socket's own hub watchers (``_read_event`` / ``_write_event``) -- so two
greenlets waiting to read (or to write) the same socket get gevent's
``ConcurrentObjectUseError``, exactly as with gevent's sockets, and
``close()`` from another greenlet wakes a waiter with ``EBADF``.  The
socket's timeout (``settimeout``) bounds each whole call and raises
``socket.timeout``; timeout 0.0 behaves like a non-blocking
``ssl.SSLSocket`` (``SSLWantReadError`` / ``SSLWantWriteError``).
``makefile()`` is gevent's (a ``SocketIO`` over these methods).

Getting one::

    import tlsfast, tlsfast.gevent

    ctx = tlsfast.gevent.SSLContext(tlsfast.PROTOCOL_TLS_SERVER)   # green context
    ctx.load_cert_chain("cert.pem", "key.pem")
    # or make any existing tlsfast context (either implementation) green:
    ctx = tlsfast.gevent.green_context(some_tlsfast_context)
    # or wrap one socket:
    tls = tlsfast.gevent.wrap_socket(sock, ctx, server_hostname="example.org")

Serving HTTPS with gevent's servers: pass the green context as ``ssl_context``::

    from gevent.pywsgi import WSGIServer
    WSGIServer(("0.0.0.0", 8443), app, ssl_context=ctx).serve_forever()
    # gevent.server.StreamServer(addr, handle, ssl_context=ctx) likewise

Design choice: ``ssl_context=``, no ``patch()``.  gevent's ``StreamServer``
(and so ``WSGIServer``) already accepts any object with a
``wrap_socket(sock, server_side=True, ...)`` as ``ssl_context`` and calls
it in the connection's own greenlet, so a green tlsfast context is all a
server needs: explicit, per server, nothing global.  A ``patch()`` swapping
``gevent.ssl`` / ``ssl.SSLContext`` for tlsfast would also change every
*client* library in the process (``urllib3``, ``http.client``, ``smtplib``
...), which check ``isinstance(x, ssl.SSLContext)`` / ``ssl.SSLSocket`` --
the compiled tlsfast classes are not stdlib subclasses, so those checks
would break in code that never asked for tlsfast -- and it would depend on
import and monkey-patching order.  Opting in where the TLS is terminated
gets the speed without that risk.

Both tlsfast implementations work: ``SSLContext`` / ``create_default_context``
use the one ``import tlsfast`` selected (``TLSFAST_IMPL``); ``green_context``
and ``wrap_socket`` take a context of either.  Monkey-patching is not
needed (this module uses gevent's sockets and hub directly); it is
harmless with either implementation (the pure-Python one subclasses the
stdlib's original ``ssl`` classes, also after ``patch_all()``).

Differences from ``gevent.ssl``: ``unwrap()`` raises like the stdlib when
the peer closes without close_notify (gevent swallows ``SSLEOFError``);
``accept()`` on a listening green socket handshakes there, as the stdlib
does, when ``do_handshake_on_connect`` -- servers should rather wrap in the
connection's greenlet, as ``StreamServer`` does.
"""

from __future__ import annotations

from . import _green
from ._helpers import check_wrap_args

try:
    import gevent as _gevent  # noqa: F401
    from gevent import socket as _gsocket
    from gevent.exceptions import ConcurrentObjectUseError
    from gevent.socket import cancel_wait_ex as _cancel_wait_ex
    from gevent.socket import timeout_default as _timeout_default
    from gevent.socket import wait as _wait_on_watcher
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess
    raise _green.missing_library(__name__, "gevent", _exc) from _exc

import errno as _errno
import socket as _stdsocket

import tlsfast as _tlsfast

from ._common import WANT_READ, Purpose

_GeventSocket = _gsocket.socket
_socket_timeout = _stdsocket.timeout
_SOL_SOCKET = _stdsocket.SOL_SOCKET
_SO_TYPE = _stdsocket.SO_TYPE
_SOCK_STREAM = _stdsocket.SOCK_STREAM

__all__ = [
    "SSLSocket", "SSLContext", "GreenContext", "green_context", "wrap_socket",
    "create_default_context", "ConcurrentObjectUseError",
]


class SSLSocket(_green.GreenTLSMixin, _GeventSocket):
    """A cooperative TLS socket for gevent (``ssl.SSLSocket`` API).

    Made by ``SSLContext.wrap_socket`` / ``GreenContext.wrap_socket`` /
    ``wrap_socket``: takes over ``sock`` (a gevent or stdlib stream socket,
    detached here) and, when it is connected, puts tlsfast's TLS on it
    (handshaking now if ``do_handshake_on_connect``); a socket connected
    later gets it in ``connect()``.  ``self._sock`` is the tlsfast socket
    (non-blocking) while TLS is up, so attributes this class does not define
    (``export_keying_material``...) reach it.

    Arguments as ``SSLContext.wrap_socket``; they become the attributes
    ``server_side`` (bool), ``server_hostname`` (``str`` or None),
    ``do_handshake_on_connect`` and ``suppress_ragged_eofs`` (bool).  The
    constructor raises ``ValueError`` for the stdlib's argument conflicts
    (``server_hostname`` or ``session`` with ``server_side``; a context
    with ``check_hostname`` and no ``server_hostname``; a non-blocking
    socket with ``do_handshake_on_connect``), ``NotImplementedError`` for
    a non-stream socket, ``ssl.SSLError`` for an unconnected socket with
    data already received (as the stdlib), ``OSError`` (``ENOTCONN``) for
    a server-side socket neither connected nor listening (an accepted
    connection the peer already reset), and what ``do_handshake`` raises.
    The argument and socket-type checks (all but the non-blocking one)
    leave ``sock`` as it is; after them its descriptor belongs to this
    object and is closed on error.

    The I/O methods mirror ``ssl.SSLSocket``'s with the green waits and
    timeouts of ``tlsfast._green.GreenTLSMixin``.  While one waits, a
    second greenlet waiting for the same event on this socket gets
    ``ConcurrentObjectUseError``, and ``close()`` from another greenlet
    wakes the waiter with ``OSError`` (``EBADF``, gevent's
    ``cancel_wait_ex``).
    """

    def __init__(self, sock, context, server_side=False, do_handshake_on_connect=True,
                 suppress_ragged_eofs=True, server_hostname=None, session=None):
        context = _green.plain_context(context)
        check_wrap_args(context.check_hostname, server_side, server_hostname, session)
        if sock.getsockopt(_SOL_SOCKET, _SO_TYPE) != _SOCK_STREAM:
            raise NotImplementedError("only stream sockets are supported")
        timeout = sock.gettimeout()
        family, type_, proto = sock.family, sock.type, sock.proto
        fd = sock.detach()
        _GeventSocket.__init__(self, family, type_, proto, fileno=fd)
        self.timeout = timeout
        self._init_tls_state(context, server_side, do_handshake_on_connect,
                             suppress_ragged_eofs, server_hostname, session)
        try:
            try:
                self._sock.getpeername()
            except OSError as e:
                if e.errno != _errno.ENOTCONN:
                    raise
                self._check_not_connected(self._sock)
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

    # -- hooks of GreenTLSMixin ------------------------------------------

    def _raw_socket(self):
        return self._sock

    def _set_raw_socket(self, sock):
        self._sock = sock

    def _green_wait(self, code, timeout, message):
        watcher = self._read_event if code == WANT_READ else self._write_event
        if watcher is None:  # closed (maybe by another greenlet)
            raise _cancel_wait_ex()
        if timeout is None:
            _wait_on_watcher(watcher, None, None, self.hub)
        else:
            _wait_on_watcher(watcher, timeout, _socket_timeout(message), self.hub)

    def _finish(self, call, args, code, message, block=False):
        # the common case inlined: no timeout -> wait on the watchers directly
        timeout = self.timeout
        if timeout is not None and not (block and timeout == 0.0):
            return _green.GreenTLSMixin._finish(self, call, args, code, message, block)
        hub = self.hub
        while True:
            watcher = self._read_event if code == WANT_READ else self._write_event
            if watcher is None:  # closed (maybe by another greenlet)
                raise _cancel_wait_ex()
            _wait_on_watcher(watcher, None, None, hub)
            code = call(*args)
            if code >= 0:
                return code

    # gevent's plain sendall calls send(chunk, flags, timeout=...)
    def send(self, data, flags=0, timeout=_timeout_default):
        """``GreenTLSMixin.send`` (``ssl.SSLSocket.send``: encrypt, return
        the plaintext byte count taken) while TLS is up, where ``timeout``
        is ignored (the socket's timeout applies); without a TLS layer,
        gevent's plain ``send`` with ``timeout`` (seconds)."""
        if self._sslobj is None:
            return _GeventSocket.send(self, data, flags, timeout)
        return _green.GreenTLSMixin.send(self, data, flags)

    # -- connect / accept --------------------------------------------------

    def accept(self):
        """Accept a connection: ``(SSLSocket, address)``, server side,
        handshaken here if ``do_handshake_on_connect``; mirrors
        ``ssl.SSLSocket.accept``.  Raises what gevent's ``accept`` raises
        (``socket.timeout("timed out")``, ``BlockingIOError`` when
        non-blocking) and what the constructor raises for the new
        connection (handshake failures, ``OSError`` when the peer already
        reset it), which is then closed."""
        newsock, addr = _GeventSocket.accept(self)
        try:
            return type(self)(newsock, self._context, server_side=True,
                             do_handshake_on_connect=self.do_handshake_on_connect,
                             suppress_ragged_eofs=self.suppress_ragged_eofs), addr
        except BaseException:
            newsock.close()
            raise

    # -- teardown ------------------------------------------------------------

    def shutdown(self, how):
        """``socket.shutdown(how)`` after dropping the TLS layer (no
        close_notify; use ``unwrap`` for one), waking greenlets waiting on
        this socket; as ``ssl.SSLSocket.shutdown``.  Raises ``OSError``
        (``ENOTCONN`` on an unconnected socket)."""
        self._sslobj = None
        _GeventSocket.shutdown(self, how)

    def _real_close(self, *args, **kwargs):
        self._sslobj = None
        _GeventSocket._real_close(self, *args, **kwargs)

    def detach(self):
        """Drop the TLS layer (no close_notify) and return the descriptor
        (``int``), leaving this object closed; as ``ssl.SSLSocket.detach``."""
        self._sslobj = None
        return _GeventSocket.detach(self)

    def _extra_repr(self):
        tls = self._sslobj
        return f" server={self.server_side}, cipher={tls.cipher() if tls is not None else ''!r}"


class GreenContext(_green.GreenContextBase):
    """An existing tlsfast context (either implementation) whose
    ``wrap_socket`` returns ``tlsfast.gevent.SSLSocket``; everything else
    is the context's own.  Usable as ``ssl_context=`` of gevent servers."""

    __slots__ = ()
    _socket_class = SSLSocket


def green_context(context) -> GreenContext:
    """Make ``context`` (a tlsfast ``SSLContext`` of either implementation)
    hand out cooperative gevent sockets."""
    return GreenContext(context)


def wrap_socket(sock, context, server_side=False, do_handshake_on_connect=True,
                suppress_ragged_eofs=True, server_hostname=None, session=None) -> SSLSocket:
    """Wrap ``sock`` with tlsfast ``context`` (either implementation) into a
    cooperative ``SSLSocket``; arguments and exceptions as its constructor."""
    return SSLSocket(sock, context, server_side=server_side,
                     do_handshake_on_connect=do_handshake_on_connect,
                     suppress_ragged_eofs=suppress_ragged_eofs,
                     server_hostname=server_hostname, session=session)


SSLContext = _green.make_context_class(_tlsfast.SSLContext, SSLSocket, __name__)


def create_default_context(purpose=Purpose.SERVER_AUTH, *, cafile=None, capath=None,
                           cadata=None):
    """``tlsfast.create_default_context`` (same arguments and exceptions)
    returning a green ``SSLContext``."""
    from ._helpers import create_default_context as _create
    return _create(SSLContext, purpose, cafile, capath, cadata)
