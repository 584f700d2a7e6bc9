"""Coalesced writes: ``SSLSocket.sendmsg(buffers)`` and ``try_sendv(buffers)``
(socket and memory BIO), both implementations.

Record counts are taken by a real peer: a stdlib ``SSLObject`` over the raw
loopback socket (``helpers.BioPeer``) reads the ciphertext, splits it into
records and decrypts it, or the ``outgoing`` BIO of a memory-BIO pair.
"""

from __future__ import annotations

import hashlib
import os
import selectors
import socket
import ssl
import time

import pytest

from helpers import IO_TIMEOUT, BioPeer, wait_for
from membio_helpers import BioPair, split_records

RECORD = 16384
APPLICATION_DATA = 23


def _tls_server_and_peer(net, impl, certs, **tcp):
    """A tlsfast server-side socket (blocking, with a timeout) and a stdlib
    BioPeer client on the raw other end; the server sends no session
    tickets, so every record after the handshake is the test's data."""
    sctx = impl.SSLContext(impl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(certs.server.chain, certs.server.key)
    sctx.num_tickets = 0
    cctx = ssl.create_default_context(cafile=certs.ca_pem)
    raw_client, raw_server = net.tcp_pair(**tcp)
    peer = BioPeer(cctx, raw_client, server_side=False, server_hostname="localhost")
    srv = net.peer(lambda: net.track(sctx.wrap_socket(raw_server, server_side=True)))
    peer.handshake()
    return srv.result(), peer


def _receive(peer: BioPeer, nbytes: int, deadline: float = IO_TIMEOUT):
    """Read ciphertext until ``nbytes`` of plaintext are decrypted; returns
    (plaintext, [(content type, length) of every record read])."""
    raw, plain = bytearray(), bytearray()
    end = time.monotonic() + deadline
    while len(plain) < nbytes:
        assert time.monotonic() < end, f"got {len(plain)} of {nbytes} bytes"
        peer.raw.settimeout(max(0.01, end - time.monotonic()))
        chunk = peer.raw.recv(1 << 20)
        assert chunk, f"EOF after {len(plain)} of {nbytes} bytes"
        raw += chunk
        peer.incoming.write(chunk)
        while True:
            try:
                data = peer.obj.read(1 << 20)
            except ssl.SSLWantReadError:
                break
            plain += data
    return bytes(plain), split_records(bytes(raw))


def _drop(buffers: list, n: int) -> list:
    """The bytes of ``buffers`` from byte ``n`` on, as a list of views."""
    rest = [memoryview(b).cast("B") for b in buffers]
    while n:
        if n >= len(rest[0]):
            n -= len(rest.pop(0))
        else:
            rest[0] = rest[0][n:]
            n = 0
    return rest


@pytest.mark.parametrize("api", ["sendmsg", "try_sendv"])
@pytest.mark.parametrize("sizes, records", [
    ((120, 40, 300), 1),                    # headers, a chunk header, a body: one record
    ((200, 100_000), 7),                    # ceil(100200 / 16384): no short record after the headers
    ((10,) * 3000, 2),                      # 30000 bytes in many pieces
    ((RECORD, RECORD, 5), 3),
    ((0, 7, 0, 9, 0), 1),
])
def test_buffers_fill_few_records(net, impl, certs, api, sizes, records):
    server, peer = _tls_server_and_peer(net, impl, certs)
    buffers = [os.urandom(n) for n in sizes]
    buffers[-1] = bytearray(buffers[-1])    # any bytes-like object
    total = sum(sizes)
    sent = getattr(server, api)(buffers)
    assert sent == total
    plain, recs = _receive(peer, total)
    assert plain == b"".join(buffers)
    assert [t for t, _ in recs] == [APPLICATION_DATA] * records
    # every record but the last is full (TLS 1.3: 16 KiB + type byte + tag)
    assert len({length for _, length in recs[:-1]}) <= 1


def test_one_record_per_send_without_it(net, impl, certs):
    """The baseline the coalescing removes: one record per ``send``."""
    server, peer = _tls_server_and_peer(net, impl, certs)
    for piece in (b"a" * 120, b"b" * 40, b"c" * 300):
        server.sendall(piece)
    _, recs = _receive(peer, 460)
    assert len(recs) == 3


def test_partial_writes_keep_every_byte_in_order(net, impl, certs):
    """Non-blocking ``try_sendv`` on a socket that fills: the compiled
    implementation reports short counts, both report ``WANT_WRITE`` when
    nothing is taken; retrying with the rest (more appended at every wait)
    delivers every byte once, in order."""
    server, peer = _tls_server_and_peer(
        net, impl, certs, server_sndbuf=8192, client_rcvbuf=8192)
    server.setblocking(False)
    sizes = [7, 3000, 40_000, 1, 16_383, 250_000, 12, 90_000, 5]
    buffers = [os.urandom(n) for n in sizes]
    sent_stream = hashlib.sha256()
    expected = sum(sizes)
    rest, waits, shorts, appended = list(buffers), 0, 0, 0
    end = time.monotonic() + IO_TIMEOUT
    received = bytearray()
    for _ in range(100_000):
        if not rest:
            break
        assert time.monotonic() < end
        n = server.try_sendv(rest)
        if n < 0:
            assert n == impl.WANT_WRITE and server.wanted_events == selectors.EVENT_WRITE
            waits += 1
            if waits == 1:
                # the peer starts reading only now: the socket was full
                reader = net.peer(lambda: _receive(peer, expected + 3 * 64, deadline=60))
            if appended < 3:        # a retry may carry more at its end
                extra = os.urandom(64)
                rest.append(extra)
                buffers.append(extra)
                appended += 1
            wait_for(server, selectors.EVENT_WRITE)
            continue
        assert n > 0
        total_rest = sum(memoryview(b).nbytes for b in rest)
        assert n <= total_rest
        if n < total_rest:
            shorts += 1
            assert server.wanted_events == selectors.EVENT_WRITE
        rest = _drop(rest, n)
    assert not rest
    assert waits > 0, "the socket never filled: the test proves nothing"
    if impl.name == "c":
        assert shorts > 0
    plain, _ = reader.result()
    for b in buffers:
        sent_stream.update(b)
    assert len(plain) == expected + appended * 64
    assert hashlib.sha256(plain).hexdigest() == sent_stream.hexdigest()


def test_blocking_sendmsg_large_with_timeout(net, impl, certs):
    server, peer = _tls_server_and_peer(net, impl, certs, server_sndbuf=8192)
    buffers = [os.urandom(70_000), b"x" * 10, os.urandom(200_000)]
    reader = net.peer(lambda: _receive(peer, 270_010, deadline=60))
    assert server.sendmsg(buffers) == 270_010
    plain, recs = reader.result()
    assert plain == b"".join(buffers)
    assert len(recs) == -(-270_010 // RECORD)


@pytest.mark.parametrize("buffers", [[], (), [b""], [b"", bytearray(), memoryview(b"")],
                                     iter([])])
def test_no_bytes(net, impl, certs, buffers):
    server, _ = _tls_server_and_peer(net, impl, certs)
    assert server.try_sendv(buffers) == 0
    assert server.sendmsg([]) == 0
    assert server.wanted_events == 0


@pytest.mark.parametrize("bad", [5, None, b"abc", bytearray(b"abc"), "text", [b"ok", "text"],
                                 [5], [memoryview(bytearray(10))[::2]], [b"a", None]])
def test_wrong_types(net, impl, certs, bad):
    server, peer = _tls_server_and_peer(net, impl, certs)
    with pytest.raises(TypeError):
        server.try_sendv(bad)
    with pytest.raises(TypeError):
        server.sendmsg(bad)
    # nothing was sent: the connection still works
    assert server.try_sendv([b"after"]) == 5
    assert _receive(peer, 5)[0] == b"after"


def test_sendmsg_arguments(net, impl, certs):
    server, peer = _tls_server_and_peer(net, impl, certs)
    fds = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, b"\0\0\0\0")]
    with pytest.raises(NotImplementedError):
        server.sendmsg([b"x"], fds)
    with pytest.raises(ValueError):
        server.sendmsg([b"x"], [], socket.MSG_DONTWAIT)
    with pytest.raises(ValueError):
        server.sendmsg([b"x"], [], 0, ("127.0.0.1", 9))
    with pytest.raises(TypeError):
        server.sendmsg([b"x"], 5)
    assert server.sendmsg([b"x"], [], 0, None) == 1
    assert server.sendmsg(iter([b"y", b"z"]), iter(())) == 2
    assert _receive(peer, 3)[0] == b"xyz"


def test_closed_and_unwrapped(net, impl, certs):
    server, _ = _tls_server_and_peer(net, impl, certs)
    server.close()
    with pytest.raises(ValueError):
        server.try_sendv([b"x"])
    with pytest.raises(ValueError):
        server.try_sendv([])
    with pytest.raises(OSError) as info:     # the plain socket's, as send()
        server.sendmsg([b"x"])
    assert info.value.errno == 9    # EBADF


def test_memory_bio_one_record(impl, client_ctx, server_ctx):
    pair = BioPair(client_ctx(impl), server_ctx(impl),
                   client_bio=impl.MemoryBIO, server_bio=impl.MemoryBIO)
    pair.handshake()
    pair.client.outgoing.read()
    assert pair.client.obj.try_sendv([]) == 0
    n = pair.client.obj.try_sendv([b"GET / HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"])
    assert n == 27
    wire = pair.client.outgoing.read()
    assert [t for t, _ in split_records(wire)] == [APPLICATION_DATA]
    pair.server.incoming.write(wire)
    assert pair.server.obj.read(100) == b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    big = [b"h" * 100, os.urandom(3 * RECORD)]
    assert pair.client.obj.try_sendv(big) == 100 + 3 * RECORD
    assert len(split_records(pair.client.outgoing.read())) == 4
    with pytest.raises(TypeError):
        pair.client.obj.try_sendv(b"x")


def test_full_socket_nonblocking_raises_and_timeout(net, impl, certs):
    """A peer that does not read: non-blocking ``sendmsg`` raises
    ``SSLWantWriteError`` once nothing more is taken (as ``send``); with a
    timeout it raises ``socket.timeout`` with the stdlib's write message."""
    server, _ = _tls_server_and_peer(net, impl, certs, server_sndbuf=8192, client_rcvbuf=8192)
    server.setblocking(False)
    chunk = [b"x" * 100, os.urandom(50_000)]
    for _ in range(1000):
        if server.try_sendv(chunk) < 0:
            break
    else:
        pytest.fail("the socket never filled")
    with pytest.raises(ssl.SSLWantWriteError):
        server.sendmsg(chunk)
    server.settimeout(0.3)
    t0 = time.monotonic()
    with pytest.raises(socket.timeout) as info:
        for _ in range(100):
            server.sendmsg(chunk)
    assert str(info.value) == "The write operation timed out"
    assert time.monotonic() - t0 < 5
