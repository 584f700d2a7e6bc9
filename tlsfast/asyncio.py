"""TLS for asyncio on tlsfast's own transport (docs/asyncio.rst).

``create_connection``, ``create_server``, ``open_connection``,
``start_server`` and ``start_tls`` take asyncio's arguments (the loop's
methods' and the ``asyncio`` functions') and give TLS connections whose
transport (``tlsfast._transport.TLSTransport``) runs the TLS engine on the
socket's descriptor, driven by the loop's ``add_reader`` / ``add_writer``:
no ``MemoryBIO`` in between, no exception per would-block.  They need a
tlsfast ``SSLContext`` (either implementation's).

``install(loop)`` makes a loop's own ``create_connection``,
``create_server`` and ``start_tls`` use them whenever they are given a
tlsfast context (anything else stays the loop's), so unchanged asyncio code
(``asyncio.open_connection``, aiohttp, websockets...) runs on this
transport; ``loop_factory()`` makes such a loop.  Stock asyncio loops and
uvloop both work: only public loop and transport methods are used.

How a socket gets here: asyncio's loop connects or accepts it (with all of
its options) into a plain transport, which hands the descriptor over before
reading anything -- a ``dup()`` of the descriptor, then ``abort()`` of the
plain transport, which closes its own copy without shutting the connection
down.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import weakref

from ._transport import (
    SSL_HANDSHAKE_TIMEOUT,
    SSL_SHUTDOWN_TIMEOUT,
    TLSTransport,
    logger,
    transport_class,
)

__all__ = [
    "TLSTransport", "create_connection", "create_server", "open_connection",
    "start_server", "start_tls", "install", "uninstall", "loop_factory",
    "is_tlsfast_context", "SSL_HANDSHAKE_TIMEOUT", "SSL_SHUTDOWN_TIMEOUT",
]

_IMPLEMENTATION_MODULES = ("tlsfast._tls_c", "tlsfast._tls_py")


def is_tlsfast_context(obj) -> bool:
    """True when ``obj`` is an ``SSLContext`` of either tlsfast
    implementation (which are also ``ssl.SSLContext`` instances; a stdlib
    context is not one of these).  Never raises."""
    for name in _IMPLEMENTATION_MODULES:
        module = sys.modules.get(name)
        if module is not None and isinstance(obj, module.SSLContext):
            return True
    return False


def _require_context(ssl, function: str, *, server_side: bool):
    """The tlsfast context to use for ``ssl`` (``True``: the live
    implementation's ``create_default_context()``, client side only)."""
    if ssl is True and not server_side:
        import tlsfast
        return tlsfast.create_default_context()
    if is_tlsfast_context(ssl):
        return ssl
    if ssl is True:
        raise ValueError("Server side SSL needs a valid SSLContext")
    what = f"{type(ssl).__module__}.{type(ssl).__qualname__}"
    raise TypeError(
        f"tlsfast.asyncio.{function}() needs a tlsfast SSLContext "
        f"(tlsfast.SSLContext / tlsfast.create_default_context()"
        f"{'' if server_side else ', or True'}), got {what}; a stdlib "
        f"ssl.SSLContext goes to the loop's own {function}()")


def _check_timeouts(ssl_handshake_timeout, ssl_shutdown_timeout):
    # asyncio's messages (base_events)
    if ssl_handshake_timeout is not None and ssl_handshake_timeout <= 0:
        raise ValueError(f"ssl_handshake_timeout should be a positive number, "
                         f"got {ssl_handshake_timeout}")
    if ssl_shutdown_timeout is not None and ssl_shutdown_timeout <= 0:
        raise ValueError(f"ssl_shutdown_timeout should be a positive number, "
                         f"got {ssl_shutdown_timeout}")


# --------------------------------------------------------------------------
# taking the descriptor over from a plain asyncio transport
# --------------------------------------------------------------------------

def _detach_socket(transport) -> socket.socket:
    """A new non-blocking socket on the connection of ``transport`` (a
    plain socket transport of the loop), which is closed without shutting
    the connection down.  Raises ``TypeError`` when the transport has no
    socket."""
    tsock = transport.get_extra_info("socket")
    if tsock is None:
        raise TypeError(f"transport {transport!r} has no socket to take TLS over")
    if transport.is_reading():
        # unregisters the descriptor while it is still open (an epoll
        # registration outlives a closed descriptor whose duplicate lives)
        transport.pause_reading()
    fd = os.dup(tsock.fileno())
    try:
        sock = socket.socket(fileno=fd)
    except BaseException:
        os.close(fd)
        raise
    sock.setblocking(False)
    # the plain transport's connection_lost goes to a protocol that ignores it
    transport.set_protocol(asyncio.Protocol())
    transport.abort()
    return sock


class _Handoff(asyncio.Protocol):
    """The protocol of a plain transport the loop just connected or
    accepted: takes its socket over in ``connection_made``, before the
    loop reads from it, and gives it to ``on_socket`` when set."""

    def __init__(self, on_socket=None):
        self.sock = None
        self._on_socket = on_socket

    def connection_made(self, transport):
        self.sock = _detach_socket(transport)
        if self._on_socket is not None:
            self._on_socket(self.sock)


async def _handshake(loop, sock, protocol, sslcontext, *, server_side, server_hostname,
                     ssl_handshake_timeout, ssl_shutdown_timeout, call_connection_made=True):
    """Wrap ``sock`` and run the handshake; the transport once done.
    Raises the handshake's error (asyncio's types: ``ssl.SSLError``,
    ``ConnectionResetError`` for an EOF, ``ConnectionAbortedError`` for
    the timeout); cancelled, the connection is aborted."""
    waiter = loop.create_future()
    try:
        sslsock = sslcontext.wrap_socket(sock, server_side=server_side,
                                         server_hostname=server_hostname or None,
                                         do_handshake_on_connect=False)
    except BaseException:
        sock.close()
        raise
    transport = transport_class(sslsock)(
        loop, sslsock, protocol, sslcontext, waiter=waiter, server_side=server_side,
        ssl_handshake_timeout=ssl_handshake_timeout,
        ssl_shutdown_timeout=ssl_shutdown_timeout,
        call_connection_made=call_connection_made)
    try:
        await waiter
    except BaseException:
        transport.abort()
        raise
    return transport


# --------------------------------------------------------------------------
# entry points (asyncio's signatures)
# --------------------------------------------------------------------------

async def create_connection(loop, protocol_factory, host=None, port=None, *, ssl=True,
                            server_hostname=None, ssl_handshake_timeout=None,
                            ssl_shutdown_timeout=None, **kwargs):
    """``loop.create_connection(protocol_factory, host, port, ssl=...)`` on
    tlsfast's transport; returns ``(transport, protocol)`` once the TLS
    handshake is done.

    ``ssl`` is a tlsfast ``SSLContext`` (or True: ``tlsfast.create_default_context()``);
    ``server_hostname`` (str) defaults to ``host``; ``ssl_handshake_timeout``
    / ``ssl_shutdown_timeout`` are seconds (default 60 / 30, asyncio's).
    Every other keyword (``family``, ``proto``, ``flags``, ``sock``,
    ``local_addr``, ``happy_eyeballs_delay``, ``interleave``...) goes to
    the loop's ``create_connection``, which makes the TCP connection.

    Raises ``TypeError`` for a context that is not tlsfast's (a stdlib
    ``ssl.SSLContext``), ``ValueError`` for a non-positive timeout or no
    ``server_hostname`` without ``host``, what the loop's connect raises
    (``OSError``...), and the handshake's errors as asyncio's SSL transport:
    ``ssl.SSLCertVerificationError`` / ``ssl.SSLError``,
    ``ConnectionResetError`` when the peer closes mid-handshake,
    ``ConnectionAbortedError`` after ``ssl_handshake_timeout``.
    """
    sslcontext = _require_context(ssl, "create_connection", server_side=False)
    _check_timeouts(ssl_handshake_timeout, ssl_shutdown_timeout)
    if server_hostname is None:
        if not host:
            raise ValueError("You must set server_hostname when using ssl without a host")
        server_hostname = host
    plain, handoff = await _original(loop, "create_connection")(
        _Handoff, host, port, **kwargs)
    protocol = protocol_factory()
    transport = await _handshake(
        loop, handoff.sock, protocol, sslcontext, server_side=False,
        server_hostname=server_hostname, ssl_handshake_timeout=ssl_handshake_timeout,
        ssl_shutdown_timeout=ssl_shutdown_timeout)
    return transport, protocol


async def create_server(loop, protocol_factory, host=None, port=None, *, ssl,
                        ssl_handshake_timeout=None, ssl_shutdown_timeout=None, **kwargs):
    """``loop.create_server(protocol_factory, host, port, ssl=...)`` on
    tlsfast's transport; returns the loop's ``asyncio.Server`` (its
    ``close()``, ``serve_forever()``, ``sockets``... are the loop's).

    ``ssl`` is a tlsfast server ``SSLContext``; the timeouts are seconds
    (default 60 / 30).  Other keywords (``family``, ``flags``, ``sock``,
    ``backlog``, ``reuse_address``, ``reuse_port``, ``start_serving``...)
    go to the loop's ``create_server``.  Each accepted connection gets
    ``protocol_factory()`` and, after its handshake, ``connection_made``;
    a failed handshake is logged (loop debug mode), as asyncio does.

    Raises ``TypeError`` for a context that is not tlsfast's, ``ValueError``
    for a non-positive timeout, and what the loop's ``create_server``
    raises (``OSError`` when the address is in use...).  One difference
    from asyncio: the server counts a connection until its handshake
    starts, so ``Server.wait_closed()`` does not wait for TLS connections.
    """
    sslcontext = _require_context(ssl, "create_server", server_side=True)
    _check_timeouts(ssl_handshake_timeout, ssl_shutdown_timeout)

    def accepted(sock):
        _serve_connection(loop, sock, protocol_factory, sslcontext,
                          ssl_handshake_timeout, ssl_shutdown_timeout)

    return await _original(loop, "create_server")(
        lambda: _Handoff(accepted), host, port, **kwargs)


def _serve_connection(loop, sock, protocol_factory, sslcontext,
                      ssl_handshake_timeout, ssl_shutdown_timeout):
    try:
        protocol = protocol_factory()
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        sock.close()
        loop.call_exception_handler({
            "message": "protocol_factory() failed for an incoming TLS connection",
            "exception": exc})
        return
    task = loop.create_task(_handshake(
        loop, sock, protocol, sslcontext, server_side=True, server_hostname=None,
        ssl_handshake_timeout=ssl_handshake_timeout,
        ssl_shutdown_timeout=ssl_shutdown_timeout))
    task.add_done_callback(_handshake_done)


def _handshake_done(task):
    if task.cancelled():
        return
    exc = task.exception()  # retrieved either way: never "never retrieved"
    if exc is not None and task.get_loop().get_debug():
        logger.debug("TLS handshake of an incoming connection failed", exc_info=exc)


async def start_tls(loop, transport, protocol, sslcontext, *, server_side=False,
                    server_hostname=None, ssl_handshake_timeout=None,
                    ssl_shutdown_timeout=None):
    """``loop.start_tls(transport, protocol, sslcontext, ...)``: TLS on the
    connection of the plain ``transport``; returns the new transport
    (tlsfast's), whose protocol is ``protocol``, after the handshake.
    As in asyncio, ``protocol.connection_made`` is not called again.

    The plain transport is closed (its descriptor handed over, its
    protocol not told); asyncio instead keeps it under the TLS transport.
    When it has no socket or unsent data, or is a TLS transport itself,
    the loop's own ``start_tls`` runs instead (asyncio's ``sslproto`` over
    that transport, which accepts tlsfast contexts too).

    Raises ``TypeError`` for a context that is not tlsfast's or a
    ``transport`` that is not an asyncio transport (None...),
    ``ValueError`` for a non-positive timeout, and the handshake's errors
    as ``create_connection``.
    """
    sslcontext = _require_context(sslcontext, "start_tls", server_side=True)
    _check_timeouts(ssl_handshake_timeout, ssl_shutdown_timeout)
    if not callable(getattr(transport, "get_extra_info", None)):
        # asyncio's message (base_events.start_tls)
        raise TypeError(f"transport {transport!r} is not supported by start_tls()")
    if (transport.get_extra_info("socket") is None or transport.get_write_buffer_size()
            or transport.get_extra_info("sslcontext") is not None):
        # taking the descriptor over would lose the unsent bytes or the
        # outer TLS layer; the loop's sslproto stacks on the transport
        kwargs = {}
        if ssl_shutdown_timeout is not None:
            kwargs["ssl_shutdown_timeout"] = ssl_shutdown_timeout
        return await _original(loop, "start_tls")(
            transport, protocol, sslcontext, server_side=server_side,
            server_hostname=server_hostname, ssl_handshake_timeout=ssl_handshake_timeout,
            **kwargs)
    sock = _detach_socket(transport)
    return await _handshake(
        loop, sock, protocol, sslcontext, server_side=server_side,
        server_hostname=server_hostname, ssl_handshake_timeout=ssl_handshake_timeout,
        ssl_shutdown_timeout=ssl_shutdown_timeout, call_connection_made=False)


async def open_connection(host=None, port=None, *, limit=2 ** 16, ssl=True, **kwargs):
    """``asyncio.open_connection`` on tlsfast's transport: returns
    ``(StreamReader, StreamWriter)``; keywords and errors as
    ``create_connection`` (``limit``: the reader's buffer limit, bytes)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limit, loop=loop)
    protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
    transport, _ = await create_connection(loop, lambda: protocol, host, port,
                                           ssl=ssl, **kwargs)
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    return reader, writer


async def start_server(client_connected_cb, host=None, port=None, *, limit=2 ** 16,
                       ssl, **kwargs):
    """``asyncio.start_server`` on tlsfast's transport:
    ``client_connected_cb(reader, writer)`` (a function or coroutine
    function) per connection after its handshake; returns the
    ``asyncio.Server``.  Keywords and errors as ``create_server``."""
    loop = asyncio.get_running_loop()

    def factory():
        reader = asyncio.StreamReader(limit=limit, loop=loop)
        return asyncio.StreamReaderProtocol(reader, client_connected_cb, loop=loop)

    return await create_server(loop, factory, host, port, ssl=ssl, **kwargs)


# --------------------------------------------------------------------------
# routing a loop's own methods
# --------------------------------------------------------------------------

_ROUTED = ("create_connection", "create_server", "start_tls")
#: loop -> its own bound methods, for the loops install() changed
_ORIGINALS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _original(loop, name):
    originals = _ORIGINALS.get(loop)
    if originals is not None:
        return originals[name]
    return getattr(loop, name)


def install(loop):
    """Route ``loop.create_connection``, ``loop.create_server`` and
    ``loop.start_tls`` given a tlsfast context to tlsfast's transport;
    given anything else (a stdlib context, ``ssl=True``, no TLS) they stay
    the loop's.  Returns ``loop``; installing twice changes nothing.
    Works on any loop whose instances take attributes (asyncio's, uvloop's);
    raises ``TypeError`` for one that does not."""
    if not hasattr(loop, "__dict__"):
        raise TypeError(f"{type(loop).__name__} instances do not take attributes: "
                        f"tlsfast.asyncio.install() cannot route them")
    if loop in _ORIGINALS:
        return loop
    originals = {name: getattr(loop, name) for name in _ROUTED}

    def router(name, ours):
        async def routed(protocol_factory, host=None, port=None, *, ssl=None, **kwargs):
            if is_tlsfast_context(ssl):
                return await ours(loop, protocol_factory, host, port, ssl=ssl, **kwargs)
            return await originals[name](protocol_factory, host, port, ssl=ssl, **kwargs)
        return routed

    async def routed_start_tls(transport, protocol, sslcontext, **kwargs):
        if is_tlsfast_context(sslcontext):
            return await start_tls(loop, transport, protocol, sslcontext, **kwargs)
        return await originals["start_tls"](transport, protocol, sslcontext, **kwargs)

    routed = {"create_connection": router("create_connection", create_connection),
              "create_server": router("create_server", create_server),
              "start_tls": routed_start_tls}
    for name, fn in routed.items():
        fn.__name__ = fn.__qualname__ = name
        fn.__doc__ = getattr(originals[name], "__doc__", None)
        setattr(loop, name, fn)
    _ORIGINALS[loop] = originals
    return loop


def uninstall(loop):
    """Undo ``install(loop)`` (nothing if it was not installed)."""
    if _ORIGINALS.pop(loop, None) is not None:
        for name in _ROUTED:
            loop.__dict__.pop(name, None)


def loop_factory(base=None):
    """A new event loop with ``install()`` applied: ``base()`` (default
    ``asyncio.new_event_loop``; ``uvloop.new_event_loop`` for uvloop).
    Passes as ``asyncio.run(main(), loop_factory=tlsfast.asyncio.loop_factory)``
    (3.12+) or ``asyncio.Runner(loop_factory=...)`` (3.11+)."""
    return install((base or asyncio.new_event_loop)())
