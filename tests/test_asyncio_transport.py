"""tlsfast.asyncio: the TLS transport on the socket's descriptor, its entry
points and install(loop), over loopback with real peers (tlsfast itself,
the stdlib's ssl in a thread, openssl s_client, curl, aiohttp, websockets),
on stock asyncio and on uvloop (where it installs), both implementations.

Every test runs one fresh loop under ``asyncio.wait_for`` (``run``), so a
hang fails in bounded time.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import ssl
import sys
import time

import pytest
from helpers import IO_TIMEOUT, set_linger_reset

import tlsfast.asyncio as ta
from tlsfast._transport import CompiledTLSTransport, TLSTransport

try:
    import uvloop
except ImportError:  # the test extra installs it wherever a wheel exists
    uvloop = None

#: bound for one whole test's event-loop run (seconds)
RUN_TIMEOUT = 20.0


@pytest.fixture(params=["asyncio", "uvloop"])
def new_loop(request):
    """A loop factory: stock asyncio's, or uvloop's."""
    if request.param == "uvloop":
        if uvloop is None:
            pytest.skip("uvloop is not installed for this Python (no wheel)")
        return uvloop.new_event_loop
    return asyncio.new_event_loop


def run(new_loop, main, timeout=RUN_TIMEOUT):
    """``main()`` on a new loop, bounded by ``timeout``; returns its result
    and the loop's exception-handler calls (list of context dicts)."""
    loop = new_loop()
    reported = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        result = loop.run_until_complete(asyncio.wait_for(main(), timeout))
        return result, reported
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.wait(pending, timeout=5))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


# --------------------------------------------------------------------------
# protocols
# --------------------------------------------------------------------------

class Recorder(asyncio.Protocol):
    """Records every callback; ``wait_bytes(n)`` / ``lost`` to await."""

    def __init__(self):
        self.loop = asyncio.get_running_loop()
        self.events = []
        self.data = bytearray()
        self.transport = None
        self.lost = self.loop.create_future()
        self._more = asyncio.Event()

    def connection_made(self, transport):
        self.transport = transport
        self.events.append("made")

    def data_received(self, data):
        assert isinstance(data, bytes)
        self.data += data
        self._more.set()

    def eof_received(self):
        self.events.append("eof")

    def connection_lost(self, exc):
        self.events.append(("lost", exc))
        self.lost.set_result(exc)
        self._more.set()

    async def wait_bytes(self, n):
        while len(self.data) < n:
            if self.lost.done():
                raise AssertionError(f"connection lost after {len(self.data)}/{n} bytes")
            self._more.clear()
            await self._more.wait()
        return bytes(self.data[:n])


class Echo(Recorder):
    def data_received(self, data):
        super().data_received(data)
        self.transport.write(data)


class BufferedEcho(asyncio.BufferedProtocol):
    """Echoes from its own buffer; remembers which buffers were filled."""

    def __init__(self):
        self.buffer = bytearray(4096)
        self.filled = []
        self.events = []

    def connection_made(self, transport):
        self.transport = transport

    def get_buffer(self, sizehint):
        return self.buffer

    def buffer_updated(self, nbytes):
        self.filled.append(nbytes)
        self.transport.write(bytes(self.buffer[:nbytes]))

    def eof_received(self):
        self.events.append("eof")

    def connection_lost(self, exc):
        self.events.append(("lost", exc))


class BufferedRecorder(Recorder, asyncio.BufferedProtocol):
    """A Recorder reading through get_buffer()/buffer_updated() into one
    small buffer (so records larger than it take several calls)."""

    def __init__(self, size=1000):
        super().__init__()
        self.buffer = memoryview(bytearray(size))

    def get_buffer(self, sizehint):
        return self.buffer

    def buffer_updated(self, nbytes):
        Recorder.data_received(self, bytes(self.buffer[:nbytes]))


async def echo_server(loop, impl_ctx, factory=Echo, **kwargs):
    server = await ta.create_server(loop, factory, "127.0.0.1", 0, ssl=impl_ctx, **kwargs)
    return server, server.sockets[0].getsockname()[1]


async def connect(loop, port, cctx, factory=Recorder, **kwargs):
    """tlsfast.asyncio.create_connection to 127.0.0.1:port as "localhost"."""
    return await ta.create_connection(loop, factory, "127.0.0.1", port, ssl=cctx,
                                      server_hostname="localhost", **kwargs)


def collecting(cls, *args):
    """(protocol factory, list of the protocols it made)."""
    made = []

    def factory():
        made.append(cls(*args))
        return made[-1]

    return factory, made


# --------------------------------------------------------------------------
# echo: Protocol, BufferedProtocol, streams
# --------------------------------------------------------------------------

def test_echo_protocol_and_extra_info(impl, new_loop, server_ctx, client_ctx, certs):
    sctx, cctx = server_ctx(impl), client_ctx(impl)

    async def main():
        loop = asyncio.get_running_loop()
        server, port = await echo_server(loop, sctx)
        transport, proto = await connect(loop, port, cctx)
        # the compiled implementation's class differs only in write()
        assert type(transport) is (CompiledTLSTransport if impl.name == "c" else TLSTransport)
        messages = [os.urandom(1 + i * 37) for i in range(50)]
        total = 0
        for m in messages:
            transport.write(m)
            total += len(m)
            await proto.wait_bytes(total)
        assert bytes(proto.data) == b"".join(messages)
        info = {k: transport.get_extra_info(k) for k in (
            "sslcontext", "ssl_object", "peercert", "cipher", "compression",
            "socket", "peername", "sockname")}
        info["fileno"] = info["socket"].fileno()
        info["version"] = info["ssl_object"].version()
        info["socket_peer"] = info["socket"].getpeername()
        transport.close()
        assert transport.is_closing()
        assert await proto.lost is None
        server.close()
        await server.wait_closed()
        return info, proto.events

    (info, events), reported = run(new_loop, main)
    assert info["sslcontext"] is cctx
    assert info["version"] == "TLSv1.3"
    assert isinstance(info["ssl_object"], impl.SSLSocket)
    assert ("DNS", "localhost") in info["peercert"]["subjectAltName"]
    assert info["cipher"][1] == "TLSv1.3"
    assert info["compression"] is None
    assert info["fileno"] > 2
    assert info["socket_peer"] == info["peername"]
    assert info["peername"][0] == "127.0.0.1"
    assert info["sockname"][0] == "127.0.0.1"
    assert events == ["made", ("lost", None)]
    assert reported == []


def test_writelines_gathers_without_a_copy_and_keeps_the_rest(impl, new_loop, server_ctx,
                                                            client_ctx):
    """writelines() hands several buffers to the engine at once
    (try_sendv): small pieces leave in one record, a 4 MiB list the socket
    takes only in part keeps the rest queued in order, a writelines()
    behind a queued write waits its turn, and a non-bytes item raises
    TypeError with nothing written."""
    sctx, cctx = server_ctx(impl), client_ctx(impl)
    sent = {}

    async def main():
        loop = asyncio.get_running_loop()
        server, port = await echo_server(loop, sctx)
        transport, proto = await connect(loop, port, cctx)
        sslsock = transport.get_extra_info("ssl_object")
        calls = []
        real = sslsock.try_sendv

        def counting(buffers):
            calls.append(len(buffers))
            return real(buffers)

        sslsock.try_sendv = counting
        head = [b"GET / HTTP/1.1\r\n", bytearray(b"Host: x\r\n"), memoryview(b"\r\n")]
        transport.writelines(head)
        with pytest.raises(TypeError):
            transport.writelines([b"ok", "text"])
        big = [os.urandom(1 << 20) for _ in range(4)]
        transport.writelines([b"<"] + big + [b">"])
        sent["queued"] = transport.get_write_buffer_size()
        transport.writelines([b"after", b";"])
        expected = b"".join(bytes(p) for p in head) + b"<" + b"".join(big) + b">after;"
        got = await proto.wait_bytes(len(expected))
        sent["calls"] = calls
        transport.close()
        await proto.lost
        server.close()
        return got, expected

    got, expected = run(new_loop, main)[0]
    assert got == expected
    # the first two lists went to try_sendv whole; the last one was queued
    # behind the rest of the big one
    assert sent["calls"][:2] == [3, 6]
    assert 0 < sent["queued"] <= (4 << 20) + 2


def test_write_types_partial_write_and_closed(impl, new_loop, server_ctx, client_ctx):
    """bytes, bytearray and memoryview writes (the compiled write() takes
    non-empty bytes itself and hands the rest to the Python one), a 4 MiB
    bytes write the socket takes only in part (the rest queued, the write
    buffer reporting it), empty writes, and writes after close() dropped:
    the echo returns every byte in order."""
    sctx, cctx = server_ctx(impl), client_ctx(impl)

    async def main():
        loop = asyncio.get_running_loop()
        server, port = await echo_server(loop, sctx)
        transport, proto = await connect(loop, port, cctx)
        big = os.urandom(4 << 20)
        parts = [b"bytes;", bytearray(b"bytearray;"), memoryview(b"..memoryview;")[2:], b"",
                 big, b"after;"]
        for part in parts:
            transport.write(part)
            if part is big:
                queued = transport.get_write_buffer_size()
        expected = b"".join(bytes(p) for p in parts)
        got = await proto.wait_bytes(len(expected))
        transport.close()
        transport.write(b"dropped")
        with pytest.raises(TypeError):
            transport.write("text")
        await proto.lost
        server.close()
        return got, expected, queued

    (got, expected, queued), _ = run(new_loop, main)
    assert got == expected
    # the compiled engine writes partially (the rest queued); the stdlib's
    # SSL_write has no partial writes, so there all of it waits for WANT_WRITE
    assert 0 < queued <= (4 << 20)
    if impl.name == "c":
        assert queued < (4 << 20)


def test_buffered_protocol_decrypts_into_its_buffer(impl, new_loop, server_ctx, client_ctx):
    """BufferedProtocol on both sides: the server's buffer_updated sees the
    bytes in the very buffer its get_buffer() returned; a client buffer
    smaller than a record gets it in several calls, nothing lost."""
    sctx, cctx = server_ctx(impl), client_ctx(impl)
    factory, servers = collecting(BufferedEcho)

    async def main():
        loop = asyncio.get_running_loop()
        server, port = await echo_server(loop, sctx, factory)
        transport, proto = await connect(loop, port, cctx, lambda: BufferedRecorder(1000))
        payload = os.urandom(3000)
        transport.write(payload)
        got = await proto.wait_bytes(len(payload))
        transport.close()
        await proto.lost
        server.close()
        return got, payload

    (got, payload), _ = run(new_loop, main)
    assert got == payload
    (srv,) = servers
    assert sum(srv.filled) == len(payload)
    assert all(0 < n <= 4096 for n in srv.filled)


def test_streams(impl, new_loop, server_ctx, client_ctx):
    sctx, cctx = server_ctx(impl), client_ctx(impl)

    async def handle(reader, writer):
        while True:
            line = await reader.readline()
            if not line:
                break
            writer.write(line.upper())
            await writer.drain()
        writer.close()

    async def main():
        server = await ta.start_server(handle, "127.0.0.1", 0, ssl=sctx)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await ta.open_connection("127.0.0.1", port, ssl=cctx,
                                                  server_hostname="localhost")
        assert isinstance(writer.transport, TLSTransport)
        lines = []
        for i in range(20):
            writer.write(b"line %d\n" % i)
            await writer.drain()
            lines.append(await reader.readline())
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return lines

    lines, _ = run(new_loop, main)
    assert lines == [b"LINE %d\n" % i for i in range(20)]


# --------------------------------------------------------------------------
# flow control
# --------------------------------------------------------------------------

class Sender(Recorder):
    """Writes ``total`` bytes in 32 KiB pieces, honouring pause_writing;
    records the write buffer size each time it is paused."""

    def __init__(self, total, high):
        super().__init__()
        self.total, self.high = total, high
        self.sent = 0
        self.digest = hashlib.sha256()
        self.paused_sizes = []
        self.done = self.loop.create_future()
        self._paused = False

    def connection_made(self, transport):
        super().connection_made(transport)
        transport.set_write_buffer_limits(high=self.high)
        self._send()

    def pause_writing(self):
        self._paused = True
        self.paused_sizes.append(self.transport.get_write_buffer_size())

    def resume_writing(self):
        self._paused = False
        self.loop.call_soon(self._send)

    def _send(self):
        while not self._paused and self.sent < self.total:
            piece = os.urandom(min(32768, self.total - self.sent))
            self.digest.update(piece)
            self.sent += len(piece)
            self.transport.write(piece)
        if self.sent >= self.total and not self.done.done():
            self.done.set_result(None)


def test_slow_reader_bounded_write_buffer(impl, new_loop, server_ctx, client_ctx):
    """The server sends 6 MiB to a client that stops reading for a while:
    the server's write buffer stops at the high-water mark (plus the piece
    that crossed it), the protocol is paused and resumed, nothing is lost."""
    sctx, cctx = server_ctx(impl), client_ctx(impl)
    total, high = 6 << 20, 64 << 10
    factory, senders = collecting(Sender, total, high)

    async def main():
        loop = asyncio.get_running_loop()
        server, port = await echo_server(loop, sctx, factory)
        transport, proto = await connect(loop, port, cctx)
        transport.pause_reading()
        assert not transport.is_reading()
        await asyncio.sleep(0.3)
        (sender,) = senders
        assert sender.paused_sizes, "the sender was never paused"
        assert len(proto.data) == 0
        transport.resume_reading()
        assert transport.is_reading()
        await proto.wait_bytes(total)
        await sender.done
        transport.close()
        await proto.lost
        server.close()
        return bytes(proto.data), sender

    data, sender = run(new_loop, main)[0]
    assert len(data) == total
    assert hashlib.sha256(data).hexdigest() == sender.digest.hexdigest()
    assert max(sender.paused_sizes) <= high + 32768
    assert sender.transport.get_write_buffer_limits() == (high // 4, high)



def test_cancel_while_drain_waits_on_slow_reader(impl, new_loop, server_ctx, client_ctx):
    """A task writing through StreamWriter is cancelled while its drain()
    waits on a server that does not read: the cancellation reaches the
    task only, the transport stays open and usable, and once the server
    reads, it gets every byte written (the cancelled task's included, in
    order, then a trailer written after the cancellation), then a clean
    close: close_notify, connection_lost(None) on both sides."""
    sctx, cctx = server_ctx(impl), client_ctx(impl)
    high = 64 << 10
    chunk_size, max_total = 32 << 10, 64 << 20

    class SlowReader(Recorder):
        def connection_made(self, transport):
            super().connection_made(transport)
            transport.pause_reading()

    factory, servers = collecting(SlowReader)

    async def main():
        loop = asyncio.get_running_loop()
        server, port = await echo_server(loop, sctx, factory)
        reader, writer = await ta.open_connection("127.0.0.1", port, ssl=cctx,
                                                  server_hostname="localhost")
        writer.transport.set_write_buffer_limits(high=high)
        sent = hashlib.sha256()
        state = {"total": 0, "in_drain": False}

        async def produce():
            while state["total"] < max_total:
                piece = os.urandom(chunk_size)
                sent.update(piece)
                state["total"] += len(piece)
                writer.write(piece)
                state["in_drain"] = True
                await writer.drain()
                state["in_drain"] = False

        task = loop.create_task(produce())
        deadline = loop.time() + 5
        while writer.transport.get_write_buffer_size() <= high and not task.done():
            assert loop.time() < deadline, "the write buffer never filled"
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        assert state["in_drain"] and not task.done()
        buffered = writer.transport.get_write_buffer_size()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not writer.transport.is_closing()
        assert writer.transport.get_write_buffer_size() == buffered
        writer.write(b"trailer")
        sent.update(b"trailer")
        total = state["total"] + len(b"trailer")
        (srv,) = servers
        srv.transport.resume_reading()
        await srv.wait_bytes(total)
        writer.close()
        await writer.wait_closed()
        server_exc = await srv.lost
        server.close()
        return bytes(srv.data), total, sent.hexdigest(), srv.events, server_exc, buffered

    (received, total, digest, events, server_exc, buffered), reported = run(new_loop, main)
    assert buffered > high
    assert len(received) == total
    assert hashlib.sha256(received).hexdigest() == digest
    assert events == ["made", "eof", ("lost", None)] and server_exc is None
    assert reported == []

def test_write_buffer_limits_validation(impl, server_ctx, client_ctx):
    sctx, cctx = server_ctx(impl), client_ctx(impl)

    async def main():
        loop = asyncio.get_running_loop()
        server, port = await echo_server(loop, sctx)
        transport, proto = await connect(loop, port, cctx)
        assert transport.get_write_buffer_limits() == (128 * 1024, 512 * 1024)
        with pytest.raises(ValueError):
            transport.set_write_buffer_limits(high=10, low=20)
        with pytest.raises(TypeError):
            transport.write("text")
        assert transport.can_write_eof() is False
        with pytest.raises(NotImplementedError):
            transport.write_eof()
        transport.abort()
        assert await proto.lost is None
        server.close()

    run(asyncio.new_event_loop, main)


# --------------------------------------------------------------------------
# closing: close_notify both ways, EOF without it
# --------------------------------------------------------------------------

def test_close_notify_both_directions(impl, new_loop, server_ctx, client_ctx):
    """Client close(): the server gets eof_received then connection_lost(None);
    then the reverse direction on a second connection."""
    sctx, cctx = server_ctx(impl), client_ctx(impl)
    factory, servers = collecting(Recorder)

    async def main():
        loop = asyncio.get_running_loop()
        server, port = await echo_server(loop, sctx, factory)
        results = []
        for closer in ("client", "server"):
            transport, proto = await connect(loop, port, cctx)
            transport.write(b"ping")
            while not servers or len(servers[-1].data) < 4:
                await asyncio.sleep(0.01)
            srv = servers[-1]
            (transport if closer == "client" else srv.transport).close()
            await asyncio.wait_for(asyncio.gather(proto.lost, srv.lost), IO_TIMEOUT)
            results.append((closer, proto.events, srv.events))
        server.close()
        return results

    results, reported = run(new_loop, main)
    (_, c1, s1), (_, c2, s2) = results
    assert c1 == ["made", ("lost", None)]
    assert s1 == ["made", "eof", ("lost", None)]
    assert c2 == ["made", "eof", ("lost", None)]
    assert s2 == ["made", ("lost", None)]
    assert reported == []


def _stdlib_server(net, certs, behaviour):
    """A stdlib-ssl server thread for one connection; ``behaviour(sock)``
    runs after the handshake and its result is the thread's."""
    lsock = net.listener()

    def serve():
        raw, _ = lsock.accept()
        raw.settimeout(IO_TIMEOUT)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certs.server.chain, certs.server.key)
        sock = ctx.wrap_socket(raw, server_side=True, suppress_ragged_eofs=False)
        net.track(sock)
        return behaviour(sock)

    return lsock.getsockname()[1], net.peer(serve, name="stdlib-server")


def test_close_sends_close_notify(impl, new_loop, net, certs, client_ctx):
    """Our close() reaches a stdlib peer as a close_notify (recv() returns
    b'' where a bare EOF raises SSLEOFError), and the peer's answering
    close_notify completes our shutdown: connection_lost(None)."""
    cctx = client_ctx(impl)

    def behaviour(sock):
        data = sock.recv(100)
        tail = sock.recv(100)
        sock.unwrap()
        return data, tail

    port, peer = _stdlib_server(net, certs, behaviour)

    async def main():
        loop = asyncio.get_running_loop()
        transport, proto = await connect(loop, port, cctx)
        transport.write(b"bye")
        await asyncio.sleep(0.05)
        transport.close()
        exc = await proto.lost
        return exc, proto.events, await loop.run_in_executor(None, peer.result)

    (exc, events, (data, tail)), _ = run(new_loop, main)
    assert exc is None
    assert events == ["made", ("lost", None)]
    assert (data, tail) == (b"bye", b"")


def test_eof_without_close_notify(impl, new_loop, net, certs, client_ctx):
    """The peer sends data then closes TCP without close_notify: the data
    arrives, then eof_received and connection_lost(None), as asyncio's SSL
    transport does."""
    cctx = client_ctx(impl)

    def behaviour(sock):
        sock.sendall(b"last words")
        sock.close()  # the stdlib's close() sends no close_notify

    port, peer = _stdlib_server(net, certs, behaviour)

    async def main():
        loop = asyncio.get_running_loop()
        transport, proto = await connect(loop, port, cctx)
        exc = await proto.lost
        await loop.run_in_executor(None, peer.result)
        return exc, proto.events, bytes(proto.data)

    (exc, events, data), _ = run(new_loop, main)
    assert (exc, events, data) == (None, ["made", "eof", ("lost", None)], b"last words")


# --------------------------------------------------------------------------
# bad peers
# --------------------------------------------------------------------------

def test_handshake_timeout_silent_server(impl, new_loop, net, client_ctx):
    """A server that accepts and says nothing: ConnectionAbortedError with
    asyncio's message after ssl_handshake_timeout, no descriptor left."""
    cctx = client_ctx(impl)
    lsock = net.listener()
    port = lsock.getsockname()[1]

    async def main():
        loop = asyncio.get_running_loop()
        fds = []
        for _ in range(3):  # the first round may open the loop's own descriptors
            with pytest.raises(ConnectionAbortedError) as info:
                await connect(loop, port, cctx, ssl_handshake_timeout=0.2)
            await asyncio.sleep(0.05)
            fds.append(open_fds())
        return str(info.value), fds[0], fds[-1]

    (msg, before, after), _ = run(new_loop, main)
    assert msg == ("SSL handshake is taking longer than 0.2 seconds: "
                   "aborting the connection")
    assert after <= before


def test_handshake_timeout_silent_client(impl, new_loop, server_ctx):
    """A client that connects and sends nothing: the server drops it after
    ssl_handshake_timeout, the protocol never sees connection_made."""
    sctx = server_ctx(impl)
    factory, made = collecting(Recorder)

    async def main():
        loop = asyncio.get_running_loop()
        server, port = await echo_server(loop, sctx, factory, ssl_handshake_timeout=0.3)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        start = loop.time()
        data = await reader.read()  # EOF once the server gave up
        elapsed = loop.time() - start
        writer.close()
        server.close()
        return data, elapsed

    (data, elapsed), _ = run(new_loop, main)
    assert data == b""
    assert 0.2 <= elapsed < 5
    assert len(made) == 1 and made[0].events == []


def test_plain_http_to_tls_server(impl, new_loop, server_ctx, client_ctx):
    """Plain HTTP to the TLS server: the connection is closed, no protocol
    sees connection_made, and the server goes on serving TLS."""
    sctx, cctx = server_ctx(impl), client_ctx(impl)
    factory, made = collecting(Echo)

    async def main():
        loop = asyncio.get_running_loop()
        server, port = await echo_server(loop, sctx, factory)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        try:
            answer = await reader.read()
        except ConnectionResetError:
            answer = b""
        writer.close()
        assert not answer.startswith(b"HTTP/")
        transport, proto = await connect(loop, port, cctx)
        transport.write(b"still serving")
        got = await proto.wait_bytes(13)
        transport.close()
        await proto.lost
        server.close()
        return got

    got, _ = run(new_loop, main)
    assert got == b"still serving"
    assert made[0].events == []


def test_reset_mid_handshake(impl, new_loop, net, client_ctx):
    """The server reads the ClientHello and resets: ConnectionResetError,
    as asyncio reports a peer lost during the handshake."""
    cctx = client_ctx(impl)
    lsock = net.listener()

    def serve():
        raw, _ = lsock.accept()
        raw.settimeout(IO_TIMEOUT)
        raw.recv(5)
        set_linger_reset(raw)
        raw.close()

    peer = net.peer(serve)

    async def main():
        loop = asyncio.get_running_loop()
        with pytest.raises(ConnectionResetError):
            await connect(loop, lsock.getsockname()[1], cctx)
        await loop.run_in_executor(None, peer.result)

    run(new_loop, main)


def test_bad_certificate_fails_handshake(impl, new_loop, server_ctx, client_ctx, certs):
    sctx, cctx = server_ctx(impl), client_ctx(impl, cafile=certs.other_ca_pem)

    async def main():
        loop = asyncio.get_running_loop()
        server, port = await echo_server(loop, sctx)
        with pytest.raises(ssl.SSLCertVerificationError):
            await connect(loop, port, cctx)
        server.close()

    run(new_loop, main)


def test_cancel_during_handshake(impl, new_loop, net, client_ctx):
    """Cancelling create_connection mid-handshake raises CancelledError and
    releases the descriptor."""
    cctx = client_ctx(impl)
    lsock = net.listener()

    async def main():
        loop = asyncio.get_running_loop()
        fds = []
        for _ in range(3):  # the first round may open the loop's own descriptors
            task = loop.create_task(connect(loop, lsock.getsockname()[1], cctx))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.sleep(0.05)
            fds.append(open_fds())
        return fds[0], fds[-1]

    (before, after), _ = run(new_loop, main)
    assert after <= before


# --------------------------------------------------------------------------
# entry points: argument checks, start_tls, install
# --------------------------------------------------------------------------

def test_stdlib_context_refused(impl, certs):
    stdlib_ctx = ssl.create_default_context(cafile=certs.ca_pem)

    async def main():
        loop = asyncio.get_running_loop()
        with pytest.raises(TypeError, match="needs a tlsfast SSLContext"):
            await ta.create_connection(loop, Recorder, "127.0.0.1", 1, ssl=stdlib_ctx)
        with pytest.raises(TypeError, match="needs a tlsfast SSLContext"):
            await ta.create_server(loop, Recorder, "127.0.0.1", 0, ssl=stdlib_ctx)
        with pytest.raises(TypeError, match="needs a tlsfast SSLContext"):
            await ta.open_connection("127.0.0.1", 1, ssl=None)
        with pytest.raises(ValueError, match="ssl_handshake_timeout should be a positive"):
            await ta.create_connection(loop, Recorder, "127.0.0.1", 1,
                                       ssl=impl.SSLContext(impl.PROTOCOL_TLS_CLIENT),
                                       ssl_handshake_timeout=0)
        with pytest.raises(ValueError, match="You must set server_hostname"):
            await ta.create_connection(loop, Recorder, None, None,
                                       ssl=impl.SSLContext(impl.PROTOCOL_TLS_CLIENT))

    run(asyncio.new_event_loop, main)


class StartTLSServer(asyncio.Protocol):
    """Plain text until "STARTTLS\\n", then TLS (tlsfast.asyncio.start_tls),
    then an echo."""

    def __init__(self, sctx):
        self.sctx = sctx

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        if data == b"STARTTLS\n":
            self.transport.write(b"OK\n")
            asyncio.get_running_loop().create_task(self.upgrade())
        else:
            self.transport.write(data)

    async def upgrade(self):
        loop = asyncio.get_running_loop()
        self.transport = await ta.start_tls(loop, self.transport, self, self.sctx,
                                            server_side=True)


def test_start_tls_both_sides(impl, new_loop, server_ctx, client_ctx):
    sctx, cctx = server_ctx(impl), client_ctx(impl)

    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: StartTLSServer(sctx), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        plain, proto = await loop.create_connection(Recorder, "127.0.0.1", port)
        plain.write(b"STARTTLS\n")
        assert await proto.wait_bytes(3) == b"OK\n"
        proto.data.clear()
        transport = await ta.start_tls(loop, plain, proto, cctx,
                                       server_hostname="localhost")
        assert isinstance(transport, TLSTransport)
        assert plain.is_closing()
        transport.write(b"secret")
        got = await proto.wait_bytes(6)
        version = transport.get_extra_info("ssl_object").version()
        transport.close()
        await proto.lost
        server.close()
        return got, version, proto.events

    (got, version, events), _ = run(new_loop, main)
    assert (got, version) == (b"secret", "TLSv1.3")
    # connection_made for the plain transport only (asyncio's start_tls
    # does not call it again), one connection_lost
    assert events == ["made", ("lost", None)]



def test_start_tls_refuses_a_non_transport(impl, server_ctx):
    """start_tls() given something that is not a transport (None): asyncio's
    TypeError, from tlsfast.asyncio.start_tls and an installed loop alike."""
    sctx = server_ctx(impl)

    async def main():
        loop = ta.install(asyncio.get_running_loop())
        for start_tls in (functools.partial(ta.start_tls, loop), loop.start_tls):
            with pytest.raises(TypeError, match="transport None is not supported by start_tls"):
                await start_tls(None, None, sctx)

    run(asyncio.new_event_loop, main)

@pytest.mark.skipif(sys.version_info < (3, 11), reason="StreamWriter.start_tls is 3.11+")
def test_stream_writer_start_tls_after_install(impl, new_loop, server_ctx, client_ctx):
    """StreamWriter.start_tls() (loop.start_tls underneath) on an installed
    loop: the writer's transport becomes tlsfast's, the streams go on."""
    sctx, cctx = server_ctx(impl), client_ctx(impl)

    async def main():
        loop = ta.install(asyncio.get_running_loop())
        server = await loop.create_server(lambda: StartTLSServer(sctx), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"STARTTLS\n")
        assert await reader.readexactly(3) == b"OK\n"
        await writer.start_tls(cctx, server_hostname="localhost")
        kind = type(writer.transport)
        writer.write(b"over tls\n")
        line = await reader.readline()
        writer.close()
        await writer.wait_closed()
        server.close()
        return kind, line

    (kind, line), _ = run(new_loop, main)
    assert issubclass(kind, TLSTransport) and line == b"over tls\n"


def test_shutdown_timeout_silent_peer(impl, new_loop, net, certs, client_ctx):
    """A peer that never answers our close_notify: connection_lost gets
    asyncio's TimeoutError("SSL shutdown timed out") after
    ssl_shutdown_timeout."""
    cctx = client_ctx(impl)

    def behaviour(sock):
        sock.recv(10)  # the handshake is done; wait, silent, until our close_notify
        time.sleep(1.0)

    port, peer = _stdlib_server(net, certs, behaviour)

    async def main():
        loop = asyncio.get_running_loop()
        transport, proto = await connect(loop, port, cctx, ssl_shutdown_timeout=0.3)
        start = loop.time()
        transport.close()
        exc = await proto.lost
        elapsed = loop.time() - start
        await loop.run_in_executor(None, peer.result)
        return exc, elapsed

    (exc, elapsed), _ = run(new_loop, main)
    assert type(exc) is asyncio.TimeoutError
    assert str(exc) == "SSL shutdown timed out"
    assert 0.2 <= elapsed < 1.0


def test_install_routes_tlsfast_contexts_only(impl, new_loop, server_ctx, client_ctx, certs):
    """After install(loop): asyncio.open_connection / start_server with a
    tlsfast context run on TLSTransport; with a stdlib context on the
    loop's own SSL transport."""
    sctx, cctx = server_ctx(impl), client_ctx(impl)
    stdlib_cctx = ssl.create_default_context(cafile=certs.ca_pem)
    seen = []

    async def handle(reader, writer):
        seen.append(type(writer.transport))
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()

    async def main():
        loop = ta.install(asyncio.get_running_loop())
        assert ta.install(loop) is loop
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=sctx)
        port = server.sockets[0].getsockname()[1]
        kinds = []
        for ctx in (cctx, stdlib_cctx):
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=ctx, server_hostname="localhost")
            kinds.append(type(writer.transport))
            writer.write(b"hi\n")
            assert await reader.readline() == b"hi\n"
            writer.close()
            await writer.wait_closed()
        server.close()
        ta.uninstall(loop)
        return kinds

    kinds, _ = run(new_loop, main)
    assert issubclass(kinds[0], TLSTransport)
    assert not issubclass(kinds[1], TLSTransport)
    assert len(seen) == 2 and all(issubclass(kind, TLSTransport) for kind in seen)


# --------------------------------------------------------------------------
# real peers: openssl s_client, curl, aiohttp, websockets
# --------------------------------------------------------------------------

class HTTPOnce(Recorder):
    """Answers one HTTP request with a small body, then close()s."""

    def data_received(self, data):
        super().data_received(data)
        if b"\r\n\r\n" in self.data:
            version = self.transport.get_extra_info("ssl_object").version()
            body = f"hello over {version}\n".encode()
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                 b"Connection: close\r\nContent-Length: %d\r\n\r\n"
                                 % len(body) + body)
            self.transport.close()


async def _run_tool(*args):
    proc = await asyncio.create_subprocess_exec(
        *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    request = b"GET /tool HTTP/1.0\r\nHost: localhost\r\n\r\n" if args[0] == "openssl" else b""
    out, err = await asyncio.wait_for(proc.communicate(request), IO_TIMEOUT)
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.interop
@pytest.mark.parametrize("tool", ["openssl", "curl"])
def test_command_line_clients(impl, new_loop, server_ctx, certs, tool):
    sctx = server_ctx(impl)
    factory, protos = collecting(HTTPOnce)

    async def main():
        loop = asyncio.get_running_loop()
        server, port = await echo_server(loop, sctx, factory)
        if tool == "openssl":
            args = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                    "-servername", "localhost", "-CAfile", certs.ca_pem,
                    "-verify_return_error", "-brief", "-ign_eof"]
        else:
            args = ["curl", "-sS", "--max-time", "10", "--cacert", certs.ca_pem,
                    "--resolve", f"localhost:{port}:127.0.0.1", f"https://localhost:{port}/tool"]
        result = await _run_tool(*args)
        await asyncio.wait_for(protos[0].lost, IO_TIMEOUT)
        server.close()
        return result

    (rc, out, err), _ = run(new_loop, main)
    assert rc == 0, out + err
    assert "hello over TLSv1.3" in out
    assert protos[0].data.startswith(b"GET /tool HTTP/1.")
    if tool == "openssl":
        assert "Verification: OK" in err


def test_aiohttp_client_and_server(impl, new_loop, server_ctx, client_ctx):
    aiohttp = pytest.importorskip("aiohttp")
    from aiohttp import web
    sctx, cctx = server_ctx(impl), client_ctx(impl)
    transports = []

    async def hello(request):
        transports.append(type(request.transport))
        version = request.transport.get_extra_info("ssl_object").version()
        # big enough that the client still holds the connection after the headers
        return web.Response(text=f"hi {version} " + "x" * (1 << 20))

    async def main():
        app = web.Application()
        app.router.add_get("/", hello)
        runner = web.AppRunner(app)
        ta.install(asyncio.get_running_loop())
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=sctx).start()
        port = runner.addresses[0][1]
        texts = []
        async with aiohttp.ClientSession() as session:
            for _ in range(3):  # the second and third reuse the connection
                async with session.get(f"https://127.0.0.1:{port}/", ssl=cctx) as resp:
                    transports.append(type(resp.connection.transport))
                    texts.append(await resp.text())
        await runner.cleanup()
        return texts

    texts, _ = run(new_loop, main)
    assert texts == ["hi TLSv1.3 " + "x" * (1 << 20)] * 3
    assert transports and all(issubclass(kind, TLSTransport) for kind in transports)


def test_websockets(impl, new_loop, server_ctx, client_ctx):
    websockets = pytest.importorskip("websockets")
    sctx, cctx = server_ctx(impl), client_ctx(impl)
    transports = []

    async def echo(ws, *args):  # older websockets pass the path too
        transports.append(type(ws.transport))
        async for message in ws:
            await ws.send(message)

    async def main():
        ta.install(asyncio.get_running_loop())
        async with websockets.serve(echo, "127.0.0.1", 0, ssl=sctx) as server:
            port = list(server.sockets)[0].getsockname()[1]
            async with websockets.connect(f"wss://127.0.0.1:{port}", ssl=cctx) as ws:
                transports.append(type(ws.transport))
                answers = []
                for message in ("hello", b"\x00\x01" * 5000, "x" * 100_000):
                    await ws.send(message)
                    answers.append(await ws.recv())
        return answers

    answers, _ = run(new_loop, main)
    assert answers == ["hello", b"\x00\x01" * 5000, "x" * 100_000]
    assert len(transports) == 2 and all(issubclass(kind, TLSTransport) for kind in transports)


def test_install_refuses_loop_without_attributes():
    class Sealed:
        __slots__ = ("create_connection", "create_server", "start_tls")

    with pytest.raises(TypeError, match="do not take attributes"):
        ta.install(Sealed())
