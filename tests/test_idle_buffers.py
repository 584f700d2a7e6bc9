"""Record buffers of idle connections.

An idle connection (its last read found nothing, or its handshake just
ended) holds no 16 KiB+ record buffers: the compiled implementation frees
them then (``SSL_free_buffers``, where OpenSSL has the CVE-2024-4741 fix)
and keeps them while data flows; elsewhere, as the stdlib,
``SSL_MODE_RELEASE_BUFFERS`` frees them after every record.  What is
measured: the bytes glibc's ``malloc`` has handed out (``mallinfo2``),
which counts OpenSSL's buffers and nothing of Python's small-object arenas.
"""

import ctypes
import ctypes.util
import socket

import pytest

from helpers import IO_TIMEOUT

pytestmark = pytest.mark.timeout(30)

RECORD_BUFFER = 16 * 1024      # the smaller of OpenSSL's two record buffers
SLACK = 4 * 1024               # Python's own malloc traffic between readings


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
        "uordblks", "fordblks", "keepcost")]


def _mallinfo2():
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    try:
        fn = libc.mallinfo2
    except AttributeError:
        pytest.skip("glibc < 2.33: no mallinfo2")
    fn.restype = _MallInfo2
    return fn


def frees_when_idle(impl):
    """Whether ``impl`` keeps buffers while busy and frees them when idle
    (compiled, OpenSSL with the SSL_free_buffers fix: 3.0.14, 3.1.6, 3.2.2,
    3.3.1 and later)."""
    if impl.name != "c":
        return False
    major, minor, _, patch, _ = impl.OPENSSL_VERSION_INFO
    if major != 3 or minor >= 4:
        return major >= 3
    return patch >= (14, 6, 2, 1)[minor]


def _pair(impl, client_ctx, server_ctx):
    a, b = socket.socketpair()
    a.settimeout(IO_TIMEOUT)
    b.settimeout(IO_TIMEOUT)
    client = client_ctx(impl).wrap_socket(a, server_hostname="localhost",
                                          do_handshake_on_connect=False)
    server = server_ctx(impl).wrap_socket(b, server_side=True, do_handshake_on_connect=False)
    for end in (client, server):
        end.setblocking(False)
    for _ in range(100):
        done = 0
        for end in (client, server):
            try:
                end.do_handshake()
                done += 1
            except (impl.SSLWantReadError, impl.SSLWantWriteError):
                pass
        if done == 2:
            return client, server
    raise AssertionError("handshake did not finish")


def _idle(impl, *ends):
    """Read every end until it finds nothing (TLS 1.3 tickets included)."""
    buf = bytearray(65536)
    for end in ends:
        with pytest.raises(impl.SSLWantReadError):
            end.recv_into(buf)


def _recv_exactly(impl, end, n):
    out = bytearray()
    for _ in range(1000):
        try:
            out += end.recv(n - len(out))
        except impl.SSLWantReadError:
            continue
        if len(out) == n:
            return bytes(out)
    raise AssertionError(f"received {len(out)} of {n}")


def test_idle_connections_hold_no_record_buffers(impl, client_ctx, server_ctx):
    allocated = _mallinfo2()
    client, server = _pair(impl, client_ctx, server_ctx)
    with client, server:
        # one exchange first: the client keeps a handshake buffer of
        # OpenSSL's until its first write after the tickets
        for sender, receiver in ((client, server), (server, client)):
            sender.sendall(b"w")
            assert _recv_exactly(impl, receiver, 1) == b"w"
        _idle(impl, client, server)
        idle = allocated().uordblks
        # (the first record after an idle period is written as under
        # RELEASE_BUFFERS; from the second on the buffer stays)
        client.sendall(b"x" * 64)
        client.sendall(b"y" * 64)
        busy = allocated().uordblks
        assert _recv_exactly(impl, server, 128) == b"x" * 64 + b"y" * 64
        _idle(impl, server, client)
        again = allocated().uordblks
        if frees_when_idle(impl):
            # no malloc/free per record: the write buffer stays while busy
            assert busy - idle >= RECORD_BUFFER
        else:
            assert busy - idle < SLACK
        assert again - idle < SLACK


def test_connection_works_after_idle_periods(impl, client_ctx, server_ctx):
    """Buffers freed and made again between messages of every size, both
    directions, with several records in flight at once."""
    client, server = _pair(impl, client_ctx, server_ctx)
    with client, server:
        for size in (1, 64, 16384, 16385, 70000):
            for sender, receiver in ((client, server), (server, client)):
                _idle(impl, client, server)
                payload = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
                sent = 0
                received = bytearray()
                for _ in range(10000):
                    if sent < size:
                        try:
                            sent += sender.send(payload[sent:])
                        except impl.SSLWantWriteError:
                            pass
                    try:
                        received += receiver.recv(65536)
                    except impl.SSLWantReadError:
                        pass
                    if len(received) == size:
                        break
                assert bytes(received) == payload
                assert receiver.pending() == 0


def test_a_record_cut_in_two_survives_the_idle_point(impl, client_ctx, server_ctx):
    """A read that finds half a record is not idle (SSL_free_buffers must
    keep the half it holds: CVE-2024-4741); the other half completes it."""
    cctx, sctx = client_ctx(impl), server_ctx(impl)
    c_in, c_out, s_in, s_out = (impl.MemoryBIO() for _ in range(4))
    client = cctx.wrap_bio(c_in, c_out, server_hostname="localhost")
    server = sctx.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(20):
        for end, out, peer_in in ((client, c_out, s_in), (server, s_out, c_in)):
            try:
                end.do_handshake()
            except impl.SSLWantReadError:
                pass
            peer_in.write(out.read())
    for end in (client, server):
        with pytest.raises(impl.SSLWantReadError):
            end.read(1)
    for cut in (3, 5, 200, -1):      # -1: all but the last byte
        client.write(b"half and half" * 100)
        record = c_out.read()
        s_in.write(record[:cut])
        with pytest.raises(impl.SSLWantReadError):
            server.read(2000)
        s_in.write(record[cut:])
        assert server.read(2000) == b"half and half" * 100
        assert server.pending() == 0
