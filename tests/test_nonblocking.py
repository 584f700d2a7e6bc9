"""Non-blocking sockets: handshake and data through both paths of the API
(exceptions / ``try_*`` codes with ``wanted_events``), WANT_WRITE under
back-pressure, and ``pending()``."""

import hashlib
import os
import selectors
import ssl
import time

import pytest

from helpers import (IO_TIMEOUT, READ_APIS, VERSIONS, NonBlocking, Step, read_via, recv_digest,
                     recv_exactly, wait_for)

pytestmark = pytest.mark.timeout(30)

PATHS = NonBlocking.PATHS


def _nonblocking_side(net, impl, client_ctx, server_ctx, side, version):
    """An impl socket of ``side`` in non-blocking mode, not yet hand-shaken,
    and a peer thread running a stdlib end (timeout mode) that, after its
    handshake, echoes back 5 bytes reversed and then sends close_notify."""
    raw_client, raw_server = net.tcp_pair(
        client_timeout=0.0 if side == "client" else IO_TIMEOUT,
        server_timeout=0.0 if side == "server" else IO_TIMEOUT)

    def stdlib_peer(wrap):
        sock = net.track(wrap())
        data = recv_exactly(sock, 5)
        sock.sendall(data[::-1])
        return sock.unwrap()

    # the peer starts only when asked, so a test can make its first attempt
    # while nothing can have arrived yet
    if side == "client":
        sock = client_ctx(impl, version).wrap_socket(
            raw_client, server_hostname="localhost", do_handshake_on_connect=False)
        start_peer = lambda: net.peer(stdlib_peer, lambda: server_ctx(ssl, version).wrap_socket(
            raw_server, server_side=True))
    else:
        sock = server_ctx(impl, version).wrap_socket(
            raw_server, server_side=True, do_handshake_on_connect=False)
        start_peer = lambda: net.peer(stdlib_peer, lambda: client_ctx(ssl, version).wrap_socket(
            raw_client, server_hostname="localhost"))
    return net.track(sock), start_peer


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("side", ["client", "server"])
def test_nonblocking_handshake_and_data(impl, net, client_ctx, server_ctx, side, version, path):
    nb = NonBlocking(impl, path)
    sock, start_peer = _nonblocking_side(net, impl, client_ctx, server_ctx, side, version)
    assert sock.gettimeout() == 0.0
    assert sock.getblocking() is False

    # the peer is not running yet: the handshake must wait, for reading
    first = nb.attempt(sock, "handshake")
    assert not first.done and first.events == selectors.EVENT_READ
    peer = start_peer()
    nb.complete(sock, "handshake")
    assert sock.version() == {"1.2": "TLSv1.2", "1.3": "TLSv1.3"}[version]

    # nothing sent yet by the peer: reading must want to read, and must not
    # touch the buffer
    buf = bytearray(b"\xee" * 64)
    step = nb.attempt(sock, "recv_into", buf)
    assert step == nb.attempt(sock, "recv_into", buf)  # and again
    assert not step.done and step.events == selectors.EVENT_READ
    assert buf == b"\xee" * 64
    if path == "exception":
        with pytest.raises(ssl.SSLWantReadError) as info:
            sock.recv(10)
        assert type(info.value) is ssl.SSLWantReadError
        assert info.value.args[0] == ssl.SSL_ERROR_WANT_READ
        assert impl.SSLWantReadError is ssl.SSLWantReadError
    else:
        assert sock.try_recv_into(buf) == impl.WANT_READ == -1
        assert sock.wanted_events == selectors.EVENT_READ

    assert nb.complete(sock, "send", b"hello") == 5
    got = bytearray()
    for _ in range(10):  # 5 bytes in at most a few reads
        n = nb.complete(sock, "recv_into", buf, 5 - len(got))
        assert n > 0
        got += buf[:n]
        if len(got) == 5:
            break
    assert got == b"olleh"

    # the peer's close_notify: a clean EOF; then we answer it
    assert nb.complete(sock, "recv_into", buf) == 0
    assert nb.complete(sock, "unwrap") == 0
    peer.result().close()


@pytest.mark.parametrize("version", VERSIONS)
def test_fast_path_impl_to_impl_one_thread(impl, net, client_ctx, server_ctx, version):
    """Both ends in one thread, one selector, fast path only: handshake,
    1 MiB each way at once, then a full TLS shutdown."""
    nb = NonBlocking(impl, "fast")
    raw_client, raw_server = net.tcp_pair(client_timeout=0.0, server_timeout=0.0)
    client = net.track(client_ctx(impl, version).wrap_socket(
        raw_client, server_hostname="localhost", do_handshake_on_connect=False))
    server = net.track(server_ctx(impl, version).wrap_socket(
        raw_server, server_side=True, do_handshake_on_connect=False))
    assert client.wanted_events == 0 and server.wanted_events == 0

    # -- handshake, interleaved
    done = {}
    first = {}
    end = time.monotonic() + IO_TIMEOUT
    with selectors.DefaultSelector() as sel:
        for _ in range(1000):
            waits = {}
            for sock in (client, server):
                if sock in done:
                    continue
                step = nb.attempt(sock, "handshake")
                first.setdefault(sock, step)
                if step.done:
                    done[sock] = step.value
                else:
                    waits[sock] = step.events
            if len(done) == 2 or time.monotonic() > end:
                break
            for sock, events in waits.items():
                sel.register(sock, events)
            sel.select(max(0.0, end - time.monotonic()))
            for sock in waits:
                sel.unregister(sock)
    assert done == {client: 0, server: 0}
    # the client's first call sent the ClientHello and then wanted to read
    assert first[client] == Step(False, events=selectors.EVENT_READ)
    assert client.version() == server.version()

    # -- 1 MiB each way, concurrently
    size, chunk = 1 << 20, 1 << 16
    data = {client: os.urandom(size), server: os.urandom(size)}
    other = {client: server, server: client}
    sent = {client: 0, server: 0}
    hashes = {client: hashlib.sha256(), server: hashlib.sha256()}
    received = {client: 0, server: 0}
    buf = bytearray(chunk)
    end = time.monotonic() + 20
    with selectors.DefaultSelector() as sel:
        for _ in range(100000):
            if all(received[s] == size for s in received) or time.monotonic() > end:
                break
            wants = {client: 0, server: 0}
            progress = False
            for sock in (client, server):
                if sent[sock] < size:
                    view = memoryview(data[sock])[sent[sock]:sent[sock] + chunk]
                    step = nb.attempt(sock, "send", view)
                    if step.done:
                        assert 0 < step.value <= len(view)
                        sent[sock] += step.value
                        progress = True
                    else:
                        wants[sock] |= step.events
                if received[sock] < size:
                    step = nb.attempt(sock, "recv_into", buf)
                    if step.done:
                        assert step.value > 0, "unexpected EOF"
                        hashes[sock].update(memoryview(buf)[:step.value])
                        received[sock] += step.value
                        progress = True
                    else:
                        wants[sock] |= step.events
            if progress:
                continue
            for sock, events in wants.items():
                if events:
                    sel.register(sock, events)
            sel.select(max(0.0, end - time.monotonic()))
            for sock, events in wants.items():
                if events:
                    sel.unregister(sock)
    for sock in (client, server):
        assert sent[sock] == size
        assert received[other[sock]] == size
        assert hashes[other[sock]].hexdigest() == hashlib.sha256(data[sock]).hexdigest()
    assert client.pending() == 0 and server.pending() == 0

    # -- shutdown: the client starts; it must wait for the server's reply
    step = nb.attempt(client, "unwrap")
    assert not step.done and step.events == selectors.EVENT_READ
    assert client.try_unwrap() == impl.WANT_READ
    assert nb.complete(server, "recv_into", buf) == 0   # close_notify seen
    assert nb.complete(server, "unwrap") == 0
    assert nb.complete(client, "unwrap") == 0
    assert client.wanted_events == 0 and server.wanted_events == 0


@pytest.mark.parametrize("path", PATHS)
def test_want_write_under_backpressure(impl, net, client_ctx, server_ctx, path):
    """A small send buffer and a peer that does not read: sending stops with
    want-write; once the peer drains, everything arrives intact."""
    nb = NonBlocking(impl, path)
    client, server = net.tls_pair(
        client_ctx(impl), server_ctx(ssl),
        tcp_kwargs={"client_sndbuf": 4096, "server_rcvbuf": 4096})
    client.setblocking(False)
    size, chunk = 8 << 20, 1 << 16
    data = os.urandom(size)
    view = memoryview(data)
    offset = 0

    # phase 1: nobody reads; bounded by the data size and the clock
    end = time.monotonic() + IO_TIMEOUT
    blocked = None
    while offset < size and time.monotonic() < end:
        step = nb.attempt(client, "send", view[offset:offset + chunk])
        if not step.done:
            blocked = step
            break
        assert 0 < step.value <= chunk
        offset += step.value
    assert blocked is not None, f"{offset} bytes went out without want-write"
    assert blocked.events == selectors.EVENT_WRITE
    assert offset < size
    if path == "fast":
        assert client.wanted_events == selectors.EVENT_WRITE
        assert client.try_send(view[offset:offset + chunk]) == impl.WANT_WRITE == -2
    else:
        with pytest.raises(ssl.SSLWantWriteError) as info:
            client.send(view[offset:offset + chunk])
        assert type(info.value) is ssl.SSLWantWriteError
        assert impl.SSLWantWriteError is ssl.SSLWantWriteError

    # phase 2: the peer drains; the same bytes are offered again until done
    reader = net.peer(recv_digest, server, size)
    for _ in range(size):
        if offset >= size:
            break
        offset += nb.complete(client, "send", view[offset:offset + chunk])
    assert offset == size
    assert reader.result() == (size, hashlib.sha256(data).hexdigest())


@pytest.mark.parametrize("api", READ_APIS)
@pytest.mark.parametrize("version", VERSIONS)
def test_pending_after_partial_read(impl, net, client_ctx, server_ctx, version, api):
    """A 16 KiB record read 100 bytes at a time: the rest is decrypted and
    buffered in the TLS layer (pending), not in the kernel (select)."""
    client, server = net.tls_pair(client_ctx(impl, version), server_ctx(ssl, version))
    record = os.urandom(16384)
    server.sendall(record)  # one SSL_write, one full-size record
    if api == "try_recv_into":
        client.setblocking(False)
        wait_for(client, selectors.EVENT_READ)

    assert client.pending() == 0 or api == "try_recv_into"
    first = read_via(impl, client, api, 100)
    assert first == record[:100]
    assert client.pending() == len(record) - 100
    with selectors.DefaultSelector() as sel:
        sel.register(client, selectors.EVENT_READ)
        assert sel.select(0) == [], "the kernel still holds record bytes"
    rest = read_via(impl, client, api, 65536)  # one record's worth at most
    assert rest == record[100:]
    assert client.pending() == 0


def test_engine_lookup_follows_class_changes(impl, net, client_ctx, server_ctx):
    """The socket methods find the engine through ``_sslobj`` however the
    instance's class defines it at the time: the compiled module reads the
    slot directly only while the type is the one it checked and unchanged."""
    client, server = net.tls_pair(client_ctx(impl), server_ctx(ssl))
    server.sendall(b"x" * 100)
    buf = bytearray(10)
    client.settimeout(IO_TIMEOUT)
    assert client.recv_into(buf, 10) == 10
    client.setblocking(False)
    assert client.pending() == 90
    base = type(client)

    class Sub(base):
        pass

    client.__class__ = Sub
    try:
        assert client.pending() == 90 and client.recv_into(buf, 10) == 10
        Sub._sslobj = property(lambda self: None)   # the plain socket now
        assert client.pending() == 0
        with pytest.raises(BlockingIOError):         # the kernel holds nothing
            client.recv_into(buf, 10)
        del Sub._sslobj
        assert client.pending() == 80 and client.try_recv_into(buf, 10) == 10
        base.__getattribute__ = lambda self, name: (
            None if name == "_sslobj" else object.__getattribute__(self, name))
        try:
            assert client.pending() == 0
        finally:
            del base.__getattribute__
        assert client.pending() == 70 and client.recv_into(buf) == 10
    finally:
        client.__class__ = base
    assert client.pending() == 60 and client.recv_into(buf) == 10 and buf == b"x" * 10
