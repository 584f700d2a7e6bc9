"""The libraries users put tlsfast under, for real (docs/porting.rst,
"Libraries tested"): asyncio, aiohttp, websockets, anyio, httpx/httpcore,
urllib3/requests and trustme, each handed a tlsfast context where it takes an
``ssl.SSLContext``, in every direction it has.

The far end is the same library (or the stdlib's server) with a *stdlib*
context, so a failure points at tlsfast.  Every case checks the data that
crossed and that the TLS object the library ended up using is tlsfast's --
a library that quietly built its own context would fail here.  Loopback
only; each asyncio / anyio case runs under one overall time limit.

The stdlib's protocol clients and servers (http.client, smtplib, imaplib,
ftplib, http.server) are in test_libraries_stdlib.py.
"""

from __future__ import annotations

import _ssl
import asyncio
import socket
import ssl
import sys
import threading
import urllib.request

import pytest

from helpers import IO_TIMEOUT, JOIN_TIMEOUT, VERSION_NAMES, Peer
from library_support import DIRECTIONS, TIME_LIMIT, assert_tlsfast, contexts, run, tlsfast_end  # noqa: F401
from protocol_servers import HOST, https_server

pytestmark = pytest.mark.timeout(60)


# --------------------------------------------------------------------------
# asyncio
# --------------------------------------------------------------------------

@pytest.mark.parametrize("direction", DIRECTIONS)
def test_asyncio_open_connection_and_start_server(impl, contexts, direction):
    cctx, sctx = contexts(direction)
    seen = {}

    async def handle(reader, writer):
        seen["server"] = writer.get_extra_info("ssl_object")
        line = await reader.readline()
        writer.write(line.upper())
        await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_server(handle, HOST, 0, ssl=sctx)
        port = server.sockets[0].getsockname()[1]
        async with server:
            reader, writer = await asyncio.open_connection(
                HOST, port, ssl=cctx, server_hostname="localhost")
            seen["client"] = writer.get_extra_info("ssl_object")
            writer.write(b"ping over tls\n")
            answer = await reader.read()
            writer.close()
            await writer.wait_closed()
            return answer

    assert run(main()) == b"PING OVER TLS\n"
    tlsfast_end(impl, direction, seen["client"], seen["server"])


class _Collector(asyncio.Protocol):
    """A plain-then-TLS protocol: keeps what arrives, wakes a waiter."""

    def __init__(self):
        self.transport = None
        self.data = bytearray()
        self.arrived = asyncio.Event()

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.data += data
        self.arrived.set()

    async def take(self, n: int) -> bytes:
        for _ in range(n + 1):      # >= 1 byte per wake-up: bounded
            if len(self.data) >= n:
                break
            self.arrived.clear()
            await self.arrived.wait()
        data, self.data = bytes(self.data[:n]), self.data[n:]
        return data


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_asyncio_loop_start_tls(impl, contexts, direction):
    """``loop.start_tls`` upgrades a plain connection on both ends (what
    asyncpg, aiosmtplib and aiosmtpd do)."""
    cctx, sctx = contexts(direction)

    async def main():
        loop = asyncio.get_running_loop()
        server_proto = _Collector()
        server = await loop.create_server(lambda: server_proto, HOST, 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            transport, client_proto = await loop.create_connection(_Collector, HOST, port)
            transport.write(b"STARTTLS")
            assert await server_proto.take(8) == b"STARTTLS"
            client_tls, server_tls = await asyncio.gather(
                loop.start_tls(transport, client_proto, cctx, server_hostname="localhost"),
                loop.start_tls(server_proto.transport, server_proto, sctx, server_side=True))
            client_tls.write(b"ping")
            assert await server_proto.take(4) == b"ping"
            server_tls.write(b"pong")
            assert await client_proto.take(4) == b"pong"
            objs = (client_tls.get_extra_info("ssl_object"), server_tls.get_extra_info("ssl_object"))
            client_tls.close()
            server_tls.close()
            return objs

    client_obj, server_obj = run(main())
    tlsfast_end(impl, direction, client_obj, server_obj)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="StreamWriter.start_tls is new in 3.11")
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_asyncio_streamwriter_start_tls(impl, contexts, direction):
    cctx, sctx = contexts(direction)
    seen = {}

    async def handle(reader, writer):
        assert await reader.readline() == b"STARTTLS\n"
        writer.write(b"go ahead\n")
        await writer.drain()
        await writer.start_tls(sctx)
        seen["server"] = writer.get_extra_info("ssl_object")
        writer.write((await reader.readline()).upper())
        await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_server(handle, HOST, 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(b"STARTTLS\n")
            assert await reader.readline() == b"go ahead\n"
            await writer.start_tls(cctx, server_hostname="localhost")
            seen["client"] = writer.get_extra_info("ssl_object")
            writer.write(b"now encrypted\n")
            answer = await reader.read()
            writer.close()
            return answer

    assert run(main()) == b"NOW ENCRYPTED\n"
    tlsfast_end(impl, direction, seen["client"], seen["server"])


# --------------------------------------------------------------------------
# aiohttp
# --------------------------------------------------------------------------

def _aiohttp_app(seen: list, release: "asyncio.Event | None" = None):
    """``GET /`` answers ``hello over <TLS version>``; with ``release``, the
    second half of the body waits for it, so the client's connection (and
    its transport) is still held when the client looks at it."""
    from aiohttp import web

    async def hello(request):
        ssl_object = request.transport.get_extra_info("ssl_object")
        seen.append(ssl_object)
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await resp.prepare(request)
        await resp.write(b"hello over ")
        if release is not None:
            await asyncio.wait_for(release.wait(), IO_TIMEOUT)
        await resp.write(ssl_object.version().encode())
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get("/", hello)
    return app


def _aiohttp_round_trip(sctx, make_session, **get_kwargs):
    """``GET /`` from an aiohttp server (AppRunner + TCPSite with ``sctx``)
    through the session ``make_session()`` returns; (status, body, the
    client's ssl_object, the server's)."""
    import aiohttp
    from aiohttp import web
    seen: list = []

    async def main():
        release = asyncio.Event()
        runner = web.AppRunner(_aiohttp_app(seen, release))
        await runner.setup()
        try:
            await web.TCPSite(runner, HOST, 0, ssl_context=sctx).start()
            url = f"https://localhost:{runner.addresses[0][1]}/"
            async with make_session() as session:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=IO_TIMEOUT),
                                       **get_kwargs) as resp:
                    ssl_object = resp.connection.transport.get_extra_info("ssl_object")
                    release.set()
                    return resp.status, await resp.text(), ssl_object
        finally:
            await runner.cleanup()

    status, text, ssl_object = run(main())
    return status, text, ssl_object, seen[0]


@pytest.mark.parametrize("how", ["ClientSession.get(ssl=)", "TCPConnector(ssl=)"])
def test_aiohttp_client(impl, contexts, how):
    import aiohttp
    cctx, sctx = contexts("impl-client")
    if how == "TCPConnector(ssl=)":
        result = _aiohttp_round_trip(
            sctx, lambda: aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=cctx)))
    else:
        result = _aiohttp_round_trip(sctx, aiohttp.ClientSession, ssl=cctx)
    status, text, client_obj, server_obj = result
    assert (status, text) == (200, f"hello over {client_obj.version()}")
    tlsfast_end(impl, "impl-client", client_obj, server_obj)


def test_aiohttp_server_app_runner(impl, contexts):
    """AppRunner + TCPSite(ssl_context=tlsfast context), aiohttp's client
    with a stdlib context."""
    import aiohttp
    cctx, sctx = contexts("impl-server")
    status, text, client_obj, server_obj = _aiohttp_round_trip(sctx, aiohttp.ClientSession,
                                                               ssl=cctx)
    assert (status, text) == (200, f"hello over {server_obj.version()}")
    tlsfast_end(impl, "impl-server", client_obj, server_obj)


def test_aiohttp_server_run_app(impl, contexts):
    """``web.run_app(..., ssl_context=tlsfast context)`` (its own loop, in a
    thread), fetched with urllib over a stdlib context."""
    from aiohttp import web
    cctx, sctx = contexts("impl-server")
    seen: list = []
    loop = asyncio.new_event_loop()
    sock = socket.create_server((HOST, 0))
    port = sock.getsockname()[1]

    def serve():
        web.run_app(_aiohttp_app(seen), sock=sock, ssl_context=sctx, loop=loop,
                    handle_signals=False, print=None, shutdown_timeout=1.0)

    def graceful_exit():
        raise web.GracefulExit

    server = Peer(serve, name="aiohttp-run_app")
    server.start()
    try:
        with urllib.request.urlopen(f"https://localhost:{port}/", context=cctx,
                                    timeout=IO_TIMEOUT) as resp:
            body = resp.read().decode()
    finally:
        loop.call_soon_threadsafe(graceful_exit)
        server.result()
        sock.close()
    assert body == f"hello over {seen[0].version()}"
    assert_tlsfast(impl, seen[0])


# --------------------------------------------------------------------------
# websockets
# --------------------------------------------------------------------------

@pytest.mark.parametrize("direction", DIRECTIONS)
def test_websockets_sync(impl, contexts, direction):
    from websockets.sync.client import connect
    from websockets.sync.server import serve
    cctx, sctx = contexts(direction)
    if direction == "impl-server":
        # The far end is websockets' sync client on a stdlib socket: its
        # reader thread sits in recv() from the end of the TLS handshake
        # while the caller's thread sends the HTTP upgrade request, and the
        # stdlib lets SSL_read and SSL_write run in one SSL* at once.  The
        # reader takes the server's TLS 1.3 NewSessionTickets inside
        # OpenSSL's handshake state machine, which writes through a
        # buffering BIO it frees unflushed: a request SSL_write reported
        # sent meanwhile never reaches the wire (the client times out
        # waiting for the response), or the stream is corrupted -- with a
        # stdlib server as with tlsfast's.  Without tickets that reader has
        # nothing to take and the far end is reliable; tlsfast's own socket
        # keeps the two threads apart (test_threads.py,
        # test_writes_while_the_reader_takes_tickets).
        sctx.num_tickets = 0
    seen = {}

    def echo(ws):
        seen["server"] = ws.socket
        for message in ws:
            ws.send(message)

    with serve(echo, HOST, 0, ssl=sctx) as server:
        port = server.socket.getsockname()[1]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            with connect(f"wss://localhost:{port}/", ssl=cctx, open_timeout=IO_TIMEOUT,
                         close_timeout=IO_TIMEOUT) as ws:
                seen["client"] = ws.socket
                ws.send("ping")
                assert ws.recv(timeout=IO_TIMEOUT) == "ping"
                ws.send(b"\x00binary" * 5000)
                assert ws.recv(timeout=IO_TIMEOUT) == b"\x00binary" * 5000
        finally:
            server.shutdown()
            thread.join(JOIN_TIMEOUT)
    tlsfast_end(impl, direction, seen["client"], seen["server"])


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_websockets_asyncio(impl, contexts, direction):
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import serve
    cctx, sctx = contexts(direction)
    seen = {}

    async def echo(ws):
        seen["server"] = ws.transport.get_extra_info("ssl_object")
        async for message in ws:
            await ws.send(message)

    async def main():
        async with serve(echo, HOST, 0, ssl=sctx) as server:
            port = server.sockets[0].getsockname()[1]
            async with connect(f"wss://localhost:{port}/", ssl=cctx, open_timeout=IO_TIMEOUT,
                               close_timeout=IO_TIMEOUT) as ws:
                seen["client"] = ws.transport.get_extra_info("ssl_object")
                await ws.send("ping")
                assert await ws.recv() == "ping"
                await ws.send(b"\x00binary" * 5000)
                assert await ws.recv() == b"\x00binary" * 5000

    run(main())
    tlsfast_end(impl, direction, seen["client"], seen["server"])


# --------------------------------------------------------------------------
# anyio
# --------------------------------------------------------------------------

def _anyio_echo_session(impl, direction, cctx, sctx, connect):
    """A TLSListener echo server and ``connect(port)`` as the client; returns
    (reply, client ssl_object, server ssl_object)."""
    import anyio
    from anyio.abc import SocketAttribute
    from anyio.streams.tls import TLSAttribute, TLSListener
    seen = {}

    async def echo(stream):
        async with stream:
            seen["server"] = stream.extra(TLSAttribute.ssl_object)
            await stream.send((await stream.receive()).upper())

    async def main():
        with anyio.fail_after(TIME_LIMIT):
            listener = TLSListener(await anyio.create_tcp_listener(local_host=HOST), sctx)
            port = listener.listener.extra(SocketAttribute.local_port)
            async with anyio.create_task_group() as tg:
                tg.start_soon(listener.serve, echo)
                async with await connect(port) as stream:
                    seen["client"] = stream.extra(TLSAttribute.ssl_object)
                    await stream.send(b"ping over anyio")
                    reply = await stream.receive()
                tg.cancel_scope.cancel()
            await listener.aclose()
            return reply

    reply = anyio.run(main)
    assert reply == b"PING OVER ANYIO"
    tlsfast_end(impl, direction, seen["client"], seen["server"])


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_anyio_connect_tcp_and_tls_listener(impl, contexts, direction):
    import anyio
    cctx, sctx = contexts(direction)

    async def connect(port):
        return await anyio.connect_tcp(HOST, port, tls=True, ssl_context=cctx,
                                       tls_hostname="localhost")

    _anyio_echo_session(impl, direction, cctx, sctx, connect)


def test_anyio_tls_connectable(impl, contexts):
    import anyio
    from anyio.streams.tls import TLSConnectable
    cctx, sctx = contexts("impl-client")

    async def connect(port):
        connectable = TLSConnectable(anyio.TCPConnectable(HOST, port), ssl_context=cctx,
                                     hostname="localhost")
        return await connectable.connect()

    _anyio_echo_session(impl, "impl-client", cctx, sctx, connect)


# --------------------------------------------------------------------------
# httpx / httpcore
# --------------------------------------------------------------------------

def _check_ssl_object_extra(impl, ssl_object, version: str) -> None:
    """What httpcore's users call on the ``ssl_object`` network-stream extra
    (the compiled build's sync stream hands out tlsfast's engine object, the
    stdlib's ``sock._sslobj``)."""
    assert ssl_object is not None
    assert ssl_object.selected_alpn_protocol() == "http/1.1"
    assert ssl_object.version() == version
    cert = ssl_object.getpeercert()
    assert ("DNS", "localhost") in cert["subjectAltName"]
    assert isinstance(ssl_object.getpeercert(True), bytes)
    name, protocol, bits = ssl_object.cipher()
    assert protocol == version and bits >= 128
    assert ssl_object.compression() is None
    assert ssl_object.server_hostname == "localhost" and ssl_object.server_side is False


#: the public names of the stdlib's ``sock._sslobj`` (``_ssl._SSLSocket``)
#: on the running Python
STDLIB_SSLOBJ_NAMES = sorted(n for n in dir(_ssl._SSLSocket) if not n.startswith("_"))


@pytest.mark.parametrize("name", STDLIB_SSLOBJ_NAMES)
def test_compiled_sslobj_has_the_stdlib_sslobj_names(name):
    """httpcore's sync stream hands out ``sock._sslobj`` as its
    ``ssl_object`` extra: on the compiled build that is tlsfast's engine,
    which must answer what the stdlib's ``_ssl._SSLSocket`` does."""
    from tlsfast import _tls_c
    assert hasattr(_tls_c._SSLConnection, name)


@pytest.fixture
def alpn_https_server(server_ctx):
    """A stdlib HTTPS server that agrees on ALPN ``http/1.1``."""
    sctx = server_ctx(ssl)
    sctx.set_alpn_protocols(["http/1.1"])
    with https_server(sctx) as server:
        yield server


def test_httpx_sync_verify_context(impl, client_ctx, alpn_https_server):
    import httpx
    with httpx.Client(verify=client_ctx(impl), timeout=IO_TIMEOUT) as client:
        with client.stream("GET", alpn_https_server.url + "/sync") as resp:
            stream = resp.extensions["network_stream"]
            assert_tlsfast(impl, stream.get_extra_info("socket"))
            ssl_object = stream.get_extra_info("ssl_object")
            version = alpn_https_server.log[0][1]
            _check_ssl_object_extra(impl, ssl_object, version)
            body = resp.read()
    assert (resp.status_code, body) == (200, f"hello over {version} at /sync".encode())


def test_httpx_async_verify_context(impl, client_ctx, alpn_https_server):
    import httpx

    async def main():
        async with httpx.AsyncClient(verify=client_ctx(impl), timeout=IO_TIMEOUT) as client:
            async with client.stream("GET", alpn_https_server.url + "/async") as resp:
                ssl_object = resp.extensions["network_stream"].get_extra_info("ssl_object")
                return resp.status_code, await resp.aread(), ssl_object

    status, body, ssl_object = run(main())
    version = alpn_https_server.log[0][1]
    assert (status, body) == (200, f"hello over {version} at /async".encode())
    assert_tlsfast(impl, ssl_object)
    _check_ssl_object_extra(impl, ssl_object, version)


# --------------------------------------------------------------------------
# urllib3 / requests
# --------------------------------------------------------------------------

@pytest.fixture
def stdlib_https_server(server_ctx):
    with https_server(server_ctx(ssl)) as server:
        yield server


def test_urllib3_pool_manager_ssl_context(impl, client_ctx, stdlib_https_server):
    import urllib3
    url = stdlib_https_server.url + "/urllib3"
    with urllib3.PoolManager(ssl_context=client_ctx(impl), timeout=IO_TIMEOUT,
                             retries=False) as pool:
        conn = pool.connection_from_url(url)._get_conn()
        conn.connect()
        assert_tlsfast(impl, conn.sock)
        assert conn.is_verified
        conn.close()
        resp = pool.request("GET", url)
    version = stdlib_https_server.log[0][1]
    assert (resp.status, resp.data) == (200, f"hello over {version} at /urllib3".encode())


def test_requests_adapter_ssl_context(impl, client_ctx, stdlib_https_server):
    """requests takes a context through its transport adapter's pool
    manager (its ``verify=`` takes only a path or a bool)."""
    import requests
    from requests.adapters import HTTPAdapter

    ctx = client_ctx(impl)

    class ContextAdapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            super().init_poolmanager(*args, ssl_context=ctx, **kwargs)

    url = stdlib_https_server.url + "/requests"
    with requests.Session() as session:
        session.mount("https://", ContextAdapter())
        with session.get(url, timeout=IO_TIMEOUT, stream=True) as resp:
            sock = resp.raw.connection.sock     # held until the body is read
            body = resp.text
    version = stdlib_https_server.log[0][1]
    assert (resp.status_code, body) == (200, f"hello over {version} at /requests")
    assert_tlsfast(impl, sock)


# --------------------------------------------------------------------------
# trustme
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trustme_ca():
    import trustme
    return trustme.CA()


def test_trustme_configure_trust(impl, net, trustme_ca):
    """``CA.configure_trust`` on a tlsfast client context, against a stdlib
    server with a certificate from that CA."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    trustme_ca.issue_cert("localhost").configure_cert(server)
    client = impl.SSLContext(impl.PROTOCOL_TLS_CLIENT)
    trustme_ca.configure_trust(client)
    csock, ssock = net.tls_pair(client, server)
    assert_tlsfast(impl, csock)
    assert ("DNS", "localhost") in csock.getpeercert()["subjectAltName"]
    assert csock.version() in VERSION_NAMES.values()


def test_trustme_configure_cert(impl, net, trustme_ca):
    """``LeafCert.configure_cert`` on a tlsfast server context, verified by
    a stdlib client trusting the CA."""
    leaf = trustme_ca.issue_cert("localhost")
    server = impl.SSLContext(impl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(server)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    trustme_ca.configure_trust(client)
    csock, ssock = net.tls_pair(client, server)
    assert_tlsfast(impl, ssock)
    assert csock.getpeercert(binary_form=True) == ssl.PEM_cert_to_DER_cert(
        leaf.cert_chain_pems[0].bytes().decode())
