"""Reads that take every record already received.

The compiled implementation's ``recv_into`` / ``recv`` / ``read`` /
``try_recv_into`` fill the caller's buffer from every record already there
(sockets and memory BIOs), as a plain socket's ``recv`` returns everything
available; the stdlib-based twin returns one record a call, as the stdlib.
For both: no byte lost or reordered across calls, ``pending()`` exact, an
event loop never left in ``select()`` while a record is buffered, and the
cleartext a peer sends after its close_notify left on the socket for
``unwrap()``."""

import fcntl
import os
import selectors
import ssl
import struct
import termios
import time

import pytest

from helpers import IO_TIMEOUT, RAGGED_EOF_IS_CLEAN, VERSIONS
from membio_helpers import BioPair

pytestmark = pytest.mark.timeout(60)

# 40 records of 64 B, neighbours distinct: a lost or reordered record shows
RECORDS = [bytes([65 + i % 26]) * 64 for i in range(40)]
DATA = b"".join(RECORDS)
MAX_CALLS = 1000


def fills(impl) -> bool:
    """True where one read takes every record available."""
    return impl.name == "c"


def queued(sock) -> int:
    """Bytes waiting in the kernel's receive queue of ``sock``."""
    raw = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
    return struct.unpack("i", raw)[0]


def wait_queued(sock, at_least: int) -> int:
    """Wait until the kernel holds at least ``at_least`` bytes for ``sock``
    and stops getting more (the peer's records all arrived)."""
    deadline = time.monotonic() + IO_TIMEOUT
    last, stable = -1, 0
    while time.monotonic() < deadline:
        n = queued(sock)
        stable = stable + 1 if (n >= at_least and n == last) else 0
        if stable >= 3:
            return n
        last = n
        time.sleep(0.01)
    raise AssertionError(f"only {queued(sock)} bytes arrived, expected >= {at_least}")


def send_records(sender, records=RECORDS):
    for record in records:      # one write, one record
        sender.sendall(record)


def read_once(sock, api: str, buf: bytearray) -> bytes:
    if api == "recv_into":
        return bytes(buf[:sock.recv_into(buf)])
    if api == "read_buffer":
        return bytes(buf[:sock.read(len(buf), buf)])
    if api == "try_recv_into":
        n = sock.try_recv_into(buf)
        assert n >= 0, n
        return bytes(buf[:n])
    assert api == "recv"
    return sock.recv(len(buf))


def read_exactly(read, total: int) -> bytes:
    got = b""
    for _ in range(MAX_CALLS):
        if len(got) >= total:
            break
        chunk = read()
        assert chunk, f"EOF after {len(got)} of {total} bytes"
        got += chunk
    return got


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("api", ["recv_into", "read_buffer", "try_recv_into", "recv"])
def test_one_read_takes_every_received_record(net, impl, client_ctx, server_ctx, version, api):
    """40 records waiting in the kernel: one call returns all of them
    (compiled), or the first of them (the twin); the rest follows in
    order."""
    client, server = net.tls_pair(client_ctx(impl, version), server_ctx(impl, version))
    send_records(client)
    wait_queued(server, len(DATA))
    buf = bytearray(1 << 16)
    first = read_once(server, api, buf)
    if fills(impl):
        assert first == DATA
    else:
        assert first == RECORDS[0]
    rest = read_exactly(lambda: read_once(server, api, buf), len(DATA) - len(first))
    assert first + rest == DATA
    assert server.pending() == 0


@pytest.mark.parametrize("timeout", [None, 3.0, 0.0])
def test_never_waits_for_a_second_record(net, impl, client_ctx, server_ctx, timeout):
    """One record arrived and the buffer could hold many: the read returns
    it at once (blocking, timeout, non-blocking)."""
    client, server = net.tls_pair(client_ctx(impl), server_ctx(impl))
    server.settimeout(timeout)
    client.sendall(RECORDS[0])
    wait_queued(server, len(RECORDS[0]))
    buf = bytearray(1 << 16)
    t0 = time.monotonic()
    n = server.recv_into(buf)
    assert (n, bytes(buf[:n])) == (64, RECORDS[0])
    assert time.monotonic() - t0 < 2.0
    if timeout == 0.0:
        assert server.try_recv_into(buf) == impl.WANT_READ
        with pytest.raises(ssl.SSLWantReadError):
            server.recv_into(buf)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("size", [100, 64, 7])
def test_small_buffer_is_filled_exactly_and_pending_is_exact(net, impl, client_ctx, server_ctx,
                                                             version, size):
    """A buffer smaller than what arrived: each compiled read fills it to the
    last byte (records split across calls), nothing lost or reordered; after
    every call ``pending()`` is what is left of the record being read, and
    reading exactly that much returns it."""
    client, server = net.tls_pair(client_ctx(impl, version), server_ctx(impl, version))
    send_records(client)
    wait_queued(server, len(DATA))
    buf = bytearray(size)
    got = b""
    for _ in range(MAX_CALLS):
        if len(got) == len(DATA):
            break
        n = server.recv_into(buf)
        if fills(impl):
            assert n == min(size, len(DATA) - len(got))
        assert n > 0
        got += bytes(buf[:n])
        pending = server.pending()
        assert pending == (-len(got)) % 64, (len(got), pending)
        if 0 < pending < size:
            assert server.recv_into(buf, pending) == pending
            got += bytes(buf[:pending])
            assert server.pending() == 0
    assert got == DATA


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("size", [1 << 16, 100])
def test_memory_bio_read_takes_every_record_in_incoming(impl, client_ctx, server_ctx, version,
                                                        size):
    """Memory BIOs: with 40 records in ``incoming`` a compiled ``read(n,
    buffer)`` / ``try_recv_into`` fills the buffer from all of them (to the
    last byte when it is smaller); order and content kept; ``incoming``
    drained of complete records once a read returned less than asked."""
    pair = BioPair(client_ctx(impl, version), server_ctx(impl, version)).handshake()
    pair.client.read_available()            # TLS 1.3 tickets
    for record in RECORDS:
        pair.client.obj.write(record)
    pair.to_server()
    obj, buf = pair.server.obj, bytearray(size)
    got = b""
    for call in range(MAX_CALLS):
        if len(got) == len(DATA):
            break
        n = obj.read(size, buf) if call % 2 else obj.try_recv_into(buf)
        assert n > 0, n
        if fills(impl):
            assert n == min(size, len(DATA) - len(got))
        got += bytes(buf[:n])
        assert obj.pending() == (-len(got)) % 64
    assert got == DATA
    assert pair.server.incoming.pending == 0
    assert obj.try_recv_into(buf) == impl.WANT_READ
    with pytest.raises(ssl.SSLWantReadError):
        obj.read(size, buf)


@pytest.mark.parametrize("loop", ["until-short", "pending"])
def test_selectors_loop_never_waits_on_buffered_records(net, impl, client_ctx, server_ctx, loop):
    """A non-blocking event loop reading into a 100-byte buffer, bursts of
    records between its turns: it never sits in ``select()`` while a
    record is already buffered in the process (a read-ahead that kept whole
    records inside OpenSSL would hang it; ``select`` is bounded).

    ``until-short``: read until a call returns less than the buffer (the
    compiled reads' contract: everything received is then drained; the
    stdlib-style twin stops at a record's end, the kernel still readable),
    then select.  ``pending``: the stdlib idiom -- one read per event, then
    read while ``pending()``."""
    client, server = net.tls_pair(client_ctx(impl), server_ctx(impl))
    server.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(server, selectors.EVENT_READ)
    buf = bytearray(100)
    expected = got = b""
    try:
        for burst in range(6):
            send_records(client, RECORDS[burst:burst + 15])
            expected += b"".join(RECORDS[burst:burst + 15])
            wait_queued(server, 1)
            for _ in range(MAX_CALLS):
                if len(got) == len(expected):
                    break
                assert sel.select(timeout=3.0), \
                    f"select() waited with {len(expected) - len(got)} bytes sent and unread"
                n = server.try_recv_into(buf)
                if n == impl.WANT_READ:
                    continue
                assert n > 0
                got += bytes(buf[:n])
                if loop == "until-short":
                    while n == len(buf):
                        n = server.try_recv_into(buf)
                        if n < 0:
                            break
                        got += bytes(buf[:n])
                else:
                    while server.pending():
                        n = server.try_recv_into(buf)
                        assert n > 0
                        got += bytes(buf[:n])
            assert got == expected
    finally:
        sel.close()


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("size", [1 << 16, 100])
def test_unwrap_leaves_cleartext_after_close_notify(net, impl, client_ctx, server_ctx, version,
                                                    size):
    """The peer sends records, its close_notify and cleartext at once
    (STARTTLS / FTP CCC) and all of it sits in the kernel before the first
    read: the reads return the records and then EOF, ``unwrap()`` completes
    and the plain socket reads the cleartext -- no byte of it was taken by
    the TLS layer."""
    client, server = net.tls_pair(client_ctx(ssl, version), server_ctx(impl, version))
    send_records(client)
    client.setblocking(False)
    with pytest.raises(ssl.SSLWantReadError):
        client.unwrap()             # close_notify sent, the server's not read
    cleartext = b"220 cleartext after close_notify\r\n"
    os.write(client.fileno(), cleartext)
    wait_queued(server, len(DATA) + len(cleartext))
    buf = bytearray(size)
    got = b""
    for _ in range(MAX_CALLS):
        n = server.recv_into(buf)
        if n == 0:
            break
        got += bytes(buf[:n])
    assert got == DATA
    assert queued(server) == len(cleartext)
    plain = server.unwrap()
    assert plain.recv(1000) == cleartext


def test_ragged_eof_after_records(net, impl, client_ctx, server_ctx):
    """The peer sends records and closes without close_notify: the reads
    return every record first, then the ragged EOF (``SSLEOFError``; on
    3.9 the end of the stream), and again on the next read."""
    client, server = net.tls_pair(client_ctx(ssl), server_ctx(impl),
                                  server_kwargs={"suppress_ragged_eofs": False})
    send_records(client)
    client.shutdown(2)              # the stdlib drops TLS: no close_notify
    wait_queued(server, len(DATA))
    buf = bytearray(1 << 16)
    got, error = b"", None
    for _ in range(MAX_CALLS):
        try:
            n = server.recv_into(buf)
        except ssl.SSLError as exc:
            error = exc
            break
        if n == 0:
            break
        got += bytes(buf[:n])
    assert got == DATA
    if RAGGED_EOF_IS_CLEAN:
        assert error is None
    else:
        assert type(error) is ssl.SSLEOFError
        with pytest.raises(ssl.SSLError):
            server.recv_into(buf)


@pytest.mark.parametrize("version", VERSIONS)
def test_memory_bio_bytes_after_close_notify_stay_in_incoming(impl, client_ctx, server_ctx,
                                                              version):
    """Memory BIOs: records, the peer's close_notify and cleartext all in
    ``incoming``: the reads return the records then EOF, and the cleartext
    is still in ``incoming`` for the application to take."""
    pair = BioPair(client_ctx(impl, version), server_ctx(impl, version)).handshake()
    pair.client.read_available()            # TLS 1.3 tickets
    for record in RECORDS:
        pair.client.obj.write(record)
    with pytest.raises(ssl.SSLWantReadError):
        pair.client.obj.unwrap()            # close_notify written, the server's not read
    pair.to_server()
    cleartext = b"220 cleartext after close_notify\r\n"
    pair.server.incoming.write(cleartext)
    obj, buf = pair.server.obj, bytearray(1 << 16)
    got = b""
    for _ in range(MAX_CALLS):
        n = obj.try_recv_into(buf)
        assert n >= 0, n
        if n == 0:
            break
        got += bytes(buf[:n])
    assert got == DATA
    assert pair.server.incoming.read() == cleartext
