"""Socket timeouts: reads, writes and handshakes against peers that stall."""

import os
import socket
import ssl
import threading
import time

import pytest

from helpers import BioPeer, recv_exactly

pytestmark = pytest.mark.timeout(20)

TIMEOUT = 0.2
#: a timed-out call must return no sooner than this...
EARLY = 0.8 * TIMEOUT
#: ...and no later than this (generous: the machine is shared)
LATE = 3.0


def _assert_timed_out(excinfo, started, timeout=TIMEOUT):
    elapsed = time.monotonic() - started
    assert type(excinfo.value) is socket.timeout  # TimeoutError in 3.10+
    assert "timed out" in str(excinfo.value)
    assert 0.8 * timeout <= elapsed <= LATE + timeout, elapsed


@pytest.mark.parametrize("api", ["recv", "recv_into", "read"])
def test_recv_times_out_on_silent_peer(impl, net, client_ctx, server_ctx, api):
    client, server = net.tls_pair(client_ctx(impl), server_ctx(ssl))
    client.settimeout(TIMEOUT)
    assert client.gettimeout() == TIMEOUT
    buf = bytearray(10)
    call = {"recv": lambda: client.recv(10), "read": lambda: client.read(10),
            "recv_into": lambda: client.recv_into(buf)}[api]
    started = time.monotonic()
    with pytest.raises(socket.timeout) as info:
        call()
    _assert_timed_out(info, started)
    assert buf == bytearray(10)
    # the connection survives the timeout
    server.sendall(b"late")
    client.settimeout(5)
    assert recv_exactly(client, 4) == b"late"


@pytest.mark.parametrize("side", ["client", "server"])
def test_handshake_times_out_on_silent_peer(impl, net, client_ctx, server_ctx, side):
    raw_client, raw_server = net.tcp_pair(client_timeout=TIMEOUT, server_timeout=TIMEOUT)
    started = time.monotonic()
    with pytest.raises(socket.timeout) as info:
        if side == "client":  # the server accepted but never answers
            client_ctx(impl).wrap_socket(raw_client, server_hostname="localhost")
        else:  # the client connected but never sends a ClientHello
            server_ctx(impl).wrap_socket(raw_server, server_side=True)
    _assert_timed_out(info, started)


def test_explicit_handshake_times_out(impl, net, client_ctx):
    raw_client, _ = net.tcp_pair(client_timeout=None)
    sock = net.track(client_ctx(impl).wrap_socket(
        raw_client, server_hostname="localhost", do_handshake_on_connect=False))
    sock.settimeout(TIMEOUT)
    started = time.monotonic()
    with pytest.raises(socket.timeout) as info:
        sock.do_handshake()
    _assert_timed_out(info, started)


def test_send_times_out_when_peer_does_not_read(impl, net, client_ctx, server_ctx):
    client, server = net.tls_pair(client_ctx(impl), server_ctx(ssl),
                                  tcp_kwargs={"client_sndbuf": 4096, "server_rcvbuf": 4096})
    client.settimeout(TIMEOUT)
    data = os.urandom(8 << 20)  # far more than the socket buffers hold
    started = time.monotonic()
    with pytest.raises(socket.timeout) as info:
        client.sendall(data)
    _assert_timed_out(info, started)


def test_timeout_bounds_the_whole_read(impl, net, certs, client_ctx, server_ctx):
    """The timeout is the total duration of one call (stdlib >= 3.5), not a
    per-wait limit: a peer trickling one byte every 50 ms of a record does not
    keep ``recv`` alive."""
    raw_client, raw_server = net.tcp_pair()
    bio = BioPeer(server_ctx(ssl), raw_server)
    hs = net.peer(bio.handshake)
    client = net.track(client_ctx(impl).wrap_socket(raw_client, server_hostname="localhost"))
    hs.result()
    record = bio.encrypt(b"x" * 1000)
    stop = threading.Event()

    def trickle():
        raw_server.sendall(record[:10])
        # 5 s of trickle (never the last byte): a per-wait timeout would
        # return after ~5.5 s, beyond LATE
        for i in range(10, min(110, len(record) - 1)):
            if stop.wait(0.05):
                return
            raw_server.sendall(record[i:i + 1])

    net.peer(trickle)
    timeout = 0.5
    client.settimeout(timeout)
    started = time.monotonic()
    try:
        with pytest.raises(socket.timeout) as info:
            client.recv(2000)
    finally:
        stop.set()
    _assert_timed_out(info, started, timeout)


def test_unwrap_times_out_waiting_for_close_notify(impl, net, client_ctx, server_ctx):
    """``unwrap()`` with a timeout against a peer that never answers our
    close_notify: ``socket.timeout`` within bounds, with the stdlib's message
    for that step ("The read operation timed out"), checked on the stdlib
    too.  (A shutdown stuck on a full send buffer names the write instead;
    that state cannot be set up reliably: a send that fills the buffer leaves
    a record pending, and a shutdown then fails with BAD_WRITE_RETRY.)"""
    def run(mod):
        client, _server = net.tls_pair(client_ctx(mod), server_ctx(ssl))
        client.settimeout(TIMEOUT)
        started = time.monotonic()
        with pytest.raises(socket.timeout) as info:
            client.unwrap()
        _assert_timed_out(info, started)
        return str(info.value)

    got, ref = run(impl), run(ssl)
    assert ref.endswith("The read operation timed out"), ref
    assert got.endswith("The read operation timed out"), got


# --------------------------------------------------------------------------
# the user's timeout, whatever the engine does with the descriptor
# --------------------------------------------------------------------------

@pytest.mark.parametrize("timeout", [None, 5.0])
def test_mode_switches_after_blocking_io(impl, net, client_ctx, server_ctx, timeout):
    """Blocking (or timeout) reads and writes, then ``settimeout(0.0)``:
    the next ``recv`` on a quiet connection raises ``SSLWantReadError`` at
    once; back to the timeout, it waits for data a peer sends 0.2 s later.
    (The pure-Python twin leaves the descriptor non-blocking between calls;
    ``settimeout`` must still take effect at once, both ways.)"""
    client, server = net.tls_pair(client_ctx(impl), server_ctx(ssl))
    client.settimeout(timeout)
    for i in range(3):
        client.sendall(b"ping %d" % i)
        assert recv_exactly(server, 6) == b"ping %d" % i
        server.sendall(b"pong %d" % i)
        assert recv_exactly(client, 6) == b"pong %d" % i
    client.settimeout(0.0)
    assert client.gettimeout() == 0.0 and not client.getblocking()
    started = time.monotonic()
    with pytest.raises(ssl.SSLWantReadError):
        client.recv(10)
    assert time.monotonic() - started < 1.0
    client.settimeout(timeout)
    assert client.gettimeout() == timeout and client.getblocking()
    sender = threading.Timer(0.2, server.sendall, (b"late",))
    sender.start()
    try:
        started = time.monotonic()
        assert client.recv(10) == b"late"
        assert time.monotonic() - started >= 0.1
    finally:
        sender.join()


@pytest.mark.parametrize("timeout", [None, 5.0])
def test_descriptor_mode_given_back(impl, net, client_ctx, server_ctx, timeout):
    """After blocking (or timeout) I/O, the plain socket left by
    ``unwrap()`` reads in the mode the user set, and a ``detach()``-ed
    descriptor is in the mode the socket had: blocking for ``None``,
    non-blocking for a timeout (as ``socket.settimeout`` leaves it)."""
    client, server = net.tls_pair(client_ctx(impl), server_ctx(ssl))
    client.settimeout(timeout)
    client.sendall(b"hello")
    assert recv_exactly(server, 5) == b"hello"
    server.sendall(b"world")
    assert recv_exactly(client, 5) == b"world"
    server_unwrap = net.peer(server.unwrap)
    plain = client.unwrap()
    net.track(server_unwrap.result())
    assert plain.gettimeout() == timeout
    # a plain recv on a quiet connection waits (a non-blocking descriptor
    # would raise BlockingIOError at once) for what the peer sends later
    sender = threading.Timer(0.2, server.sendall, (b"plain",))
    sender.start()
    try:
        assert recv_exactly(plain, 5) == b"plain"
    finally:
        sender.join()
    fd = plain.detach()
    try:
        assert os.get_blocking(fd) is (timeout is None)
    finally:
        os.close(fd)
