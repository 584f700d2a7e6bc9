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

try:
    import gevent as _gevent  # noqa: F401
    from gevent import socket as _gsocket
    from gevent.exceptions import ConcurrentObjectUseError
    from gevent.socket import cancel_wait_ex as _cancel_wait_ex
    from gevent.socket import timeout_default as _timeout_default
    from gevent.socket import wait as _wait_on_watcher
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess
    raise _green.missing_library(__name__, "gevent", _exc) from _exc

import socket as _stdsocket

import tlsfast as _tlsfast

from ._common import WANT_READ

_GeventSocket = _gsocket.socket
_socket_timeout = _stdsocket.timeout

__all__ = [
    "SSLSocket", "SSLContext", "GreenContext", "green_context", "wrap_socket",
    "create_default_context", "ConcurrentObjectUseError", "WSGIHandler",
]


class SSLSocket(_green.GreenTLSMixin, _GeventSocket):
    """A cooperative TLS socket for gevent (``ssl.SSLSocket`` API).

    Made by ``SSLContext.wrap_socket`` / ``GreenContext.wrap_socket`` /
    ``wrap_socket`` (and, in a monkey-patched program, by any tlsfast
    context's ``wrap_socket`` given a gevent socket); the constructor is
    ``tlsfast._green.GreenTLSMixin.__init__`` (arguments, attributes and
    exceptions there).  ``self._sock`` is the tlsfast socket (non-blocking)
    while TLS is up, so attributes this class does not define
    (``export_keying_material``...) reach it.

    The I/O methods mirror ``ssl.SSLSocket``'s with the green waits and
    timeouts of ``tlsfast._green.GreenTLSMixin``.  While one waits, a
    second greenlet waiting for the same event on this socket gets
    ``ConcurrentObjectUseError``, and ``close()`` from another greenlet
    wakes the waiter with ``OSError`` (``EBADF``, gevent's
    ``cancel_wait_ex``).
    """

    # -- hooks of GreenTLSMixin ------------------------------------------

    def _socket_to_adopt(self, sock):
        return sock

    def _adopt(self, family, type_, proto, fileno, timeout):
        _GeventSocket.__init__(self, family, type_, proto, fileno=fileno)
        self.timeout = timeout

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


(SSLContext, GreenContext, green_context, wrap_socket,
 create_default_context) = _green.context_factories(SSLSocket, __name__, _tlsfast.SSLContext)


def _make_wsgi_handler():
    from gevent import pywsgi

    class WSGIHandler(pywsgi.WSGIHandler):
        """``gevent.pywsgi.WSGIHandler`` that sends a response's headers and
        its first body piece with one ``sendmsg`` (``_green.sendmsg_all``)
        instead of two ``sendall`` calls: over a tlsfast green socket both
        go in one TLS record (one ``write`` syscall) when they fit in 16
        KiB, and a large body fills whole records from its first byte.
        Pass it as ``WSGIServer(..., handler_class=WSGIHandler)``; on a
        plain gevent socket it is one ``sendmsg`` syscall instead of two
        ``send``.  Errors are recorded and raised as gevent's own
        ``_sendall`` does (``OSError``, ``socket.timeout``,
        ``ssl.SSLError``)."""

        _tlsfast_held = None    # pieces _sendall keeps back meanwhile

        def _write_with_headers(self, data):
            self._tlsfast_held = held = []
            try:
                super()._write_with_headers(data)
            finally:
                self._tlsfast_held = None
            try:
                _green.sendmsg_all(self.socket, held)
            except OSError as ex:       # as gevent's _sendall
                self.status = "socket error: %s" % ex
                if self.code > 0:
                    self.code = -self.code
                raise
            self.response_length += sum(map(len, held))

        def _sendall(self, data):
            held = self._tlsfast_held
            if held is None:
                super()._sendall(data)
            else:
                held.append(data)

    WSGIHandler.__module__ = __name__
    return WSGIHandler


def __getattr__(name):
    # gevent.pywsgi is imported on first use only
    if name == "WSGIHandler":
        handler = globals()["WSGIHandler"] = _make_wsgi_handler()
        return handler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
