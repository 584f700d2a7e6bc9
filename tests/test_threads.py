"""Threads: one SSLSocket shared by several threads, many connections in
parallel, and the compiled engine's GIL policy.

Several threads inside one ``SSLSocket`` is where a TLS layer can crash the
whole process (the stdlib releases the GIL around ``SSL_read``/``SSL_write``
without a lock; the pure-Python twin adds one), so those scenarios run in a
child interpreter (``fault_helpers.run_isolated``, faulthandler on, killed
after a bound): a crash or a hang fails one test with the child's traceback.
The scenarios themselves are in ``fault_helpers`` (the child imports them).

Expectations:

* full duplex (one thread reading, one writing): both directions intact
  (sha256), on both implementations;
* two writers: never silent corruption (each writer's frames arrive whole
  and in order, or the connection fails with a clear exception).  The
  compiled engine keeps two threads out of one ``SSL*`` (the busy flag of
  ``_connection.pxi``), and so does the pure-Python twin (one lock around
  every call into the stdlib's ``_sslobj``, waits outside it), so all data
  must arrive and no writer may fail -- where the stdlib itself fails now and
  then with ``BAD_LENGTH`` / ``bad record mac``;
* a writer while the reader takes the TLS 1.3 tickets right after the
  handshake (the websockets sync client's pattern): every frame arrives
  (the stdlib corrupts the stream within ten connections: bad record mac);
* a handshake running in one thread while another calls recv(): the reader
  waits and then gets the data, the handshake completes (both
  implementations: the issue asks for it, and a lock makes it possible);
* four threads hammering one connection for 1 s: no crash, the echoed data
  intact, getpeercert()/cipher() stable;
* the GIL is not held while a thread waits in recv() on a blocking socket or
  in a 1 MiB sendall() to a slow reader: another thread keeps running Python.

Throughput figures for 1/2/4 threads live in ``bench/threads.py``.
"""

from __future__ import annotations

import hashlib
import random
import ssl
import threading
import time

import pytest

from fault_helpers import run_isolated
from helpers import recv_digest

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def cfg(certs):
    return {"ca": certs.ca_pem, "chain": certs.server.chain, "key": certs.server.key}


def _no_trouble(report):
    assert not report["stuck"], f"threads still running: {report}"
    assert not report["errors"], f"thread errors: {report['errors']}"


# --------------------------------------------------------------------------
# one SSLSocket, several threads
# --------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_full_duplex_echo(impl, cfg, version):
    """A writer thread sends 4 MiB (chunks of 1 B .. 200 KB: the compiled
    engine keeps the GIL for writes below 64 KiB and releases it above)
    while a reader thread reads the echo (1000 B and 128 KiB reads)."""
    report = run_isolated(impl.name, "duplex", cfg, version=version)
    _no_trouble(report)
    assert report["count"] == report["total"]
    assert report["received"] == report["sent"]


@pytest.mark.parametrize("transport", ["free", "backpressure-mixed", "backpressure-short-long"])
def test_two_writers(impl, cfg, transport):
    """Two threads sendall() frames of <= 16 KiB (one record each) on the
    same SSLSocket.  ``free``: roomy buffers, a fast reader; the other two:
    32 KiB socket buffers and a slow reader, so a writer waits for the transport
    with a record half sent (``short-long``: 2000-byte frames against
    15000-byte ones)."""
    kwargs = {"backpressure": transport != "free",
              "sizes": "short-long" if transport.endswith("short-long") else "mixed"}
    report = run_isolated(impl.name, "two_writers", cfg, **kwargs)
    assert not report["stuck"], report
    # never silent corruption: what arrived is whole frames, in order
    assert report["corrupt"] is None, f"corrupted stream: {report}"
    assert report["order"] is None, f"frames duplicated or lost: {report}"
    # both implementations keep two threads out of one SSL*: both writers
    # complete
    assert not report["errors"], f"writers failed: {report}"
    assert report["seen"] == {"0": report["frames"], "1": report["frames"]}, report


def test_writes_while_the_reader_takes_tickets(impl, cfg):
    """As soon as a TLS 1.3 handshake returns, a reader thread blocks in
    recv() -- its SSL_read takes the server's two NewSessionTickets as they
    arrive, inside OpenSSL's handshake state machine -- while the
    handshaking thread sendall()s 300 small frames, on 100 fresh
    connections: all frames arrive intact, the reader gets the server's
    answer, on both implementations.

    Seen failing with the stdlib's own socket as the client (it calls
    SSL_read and SSL_write on one SSL* at once): bad record mac within the
    first ten connections, and now and then a write that SSL_write
    reported done never reaches the wire (the request websockets' sync
    client sends after connect() is lost, the client times out)."""
    report = run_isolated(impl.name, "writes_while_taking_tickets", cfg)
    assert report["failure"] is None, report
    assert report["runs"] == report["iterations"] == 100, report


def test_handshake_in_one_thread_recv_in_another(impl, cfg):
    """Thread H runs do_handshake() against a server that answers 80 ms
    late; thread R calls recv() meanwhile: it waits, then gets the data sent
    after the handshake, and H's handshake completes; the main thread kept
    running Python code.  Ten fresh connections, alternately H first and R
    first (R's recv() then starts the handshake itself), the child pinned to
    one CPU so the threads the server's answer wakes run one after the
    other.  Every run must work, on both implementations.

    Seen failing: compiled -- R's SSL_read drives the handshake and
    consumes the server's flight while H waits in poll() for it: H times
    out (every R-first run).  Pure-Python twin -- the stdlib runs R's
    SSL_read and H's SSL_do_handshake inside the SSL* at the same time:
    BAD_SIGNATURE / bad record mac / ASN1 errors, the same poll() hang,
    and now and then a segmentation fault."""
    report = run_isolated(impl.name, "handshake_and_recv", cfg)
    runs = report["runs"]
    assert runs[0]["turns"] >= 1000, runs[0]
    for i, run in enumerate(runs):
        order = "recv first" if run["reader_first"] else "handshake first"
        assert not run["stuck"] and not run["errors"], f"run {i} ({order}): {run}"
        assert run["server"] and run["recv"] == "after the handshake", (i, run)
        assert run["version"] in ("TLSv1.2", "TLSv1.3")
        assert run["handshake_s"] >= 0.02, (i, run)  # it waited for the server
    assert len(runs) == report["iterations"]


def test_four_threads_hammer_one_connection(impl, cfg):
    report = run_isolated(impl.name, "stress", cfg, seconds=1.0)
    _no_trouble(report)
    assert report["sent"] > 0 and report["inspections"] > 0
    assert report["received"] == report["sent"]
    assert report["received_digest"] == report["sent_digest"]


# --------------------------------------------------------------------------
# the GIL policy of the compiled engine
# --------------------------------------------------------------------------

@pytest.mark.parametrize("timeout", [None, 2.0])
def test_other_calls_while_a_reader_waits(impl, net, client_ctx, server_ctx, timeout):
    """Thread R waits in recv() (blocking, or a 2 s timeout) on a quiet
    connection.  Meanwhile the main thread sees the timeout it set
    (``gettimeout``, ``getblocking``, ``timeout``: the pure-Python twin runs
    each call into the stdlib with a real timeout of 0.0 and waits outside
    its lock), asks ``cipher()`` / ``pending()`` / ``getpeercert()`` and
    sends a message: none of these waits for R (the ``SSL*`` is free while R
    waits).  The peer then echoes the message, and R gets exactly it."""
    client, server = net.tls_pair(client_ctx(impl), server_ctx(ssl))
    client.settimeout(timeout)
    server.settimeout(5.0)
    got = []

    def reader():
        got.append(client.recv(100))

    r = threading.Thread(target=reader, daemon=True)
    r.start()
    time.sleep(0.2)                     # R is now waiting
    assert r.is_alive()
    t0 = time.monotonic()
    for _ in range(50):
        assert client.gettimeout() == timeout
        assert client.timeout == timeout
        assert client.getblocking() is True
        assert client.cipher()[1] == "TLSv1.3"
        assert client.pending() == 0
        assert client.getpeercert()["subjectAltName"]
    assert client.send(b"ping while R waits") == 18
    assert time.monotonic() - t0 < 1.0, "the calls waited for the reader"
    assert server.recv(100) == b"ping while R waits"
    server.sendall(b"pong")
    r.join(5.0)
    assert not r.is_alive()
    assert got == [b"pong"]
    assert client.gettimeout() == timeout


def test_gil_released_while_blocked_in_recv(impl, cfg):
    """recv() on a blocking socket with nothing to read: another thread runs
    Python code the whole time (a held GIL would deadlock: the data is sent
    by that other thread)."""
    report = run_isolated(impl.name, "gil_recv", cfg, window=0.3)
    _no_trouble(report)
    assert report["blocked_all_along"]
    assert report["data"] == "wake up"
    assert report["turns"] >= 1000, report
    assert report["max_gap"] < 0.5, report  # a held GIL: the whole wait (or a deadlock)


def test_gil_released_during_big_sendall_to_slow_reader(impl, cfg):
    """sendall(1 MiB) on a blocking socket to a reader that pauses: the
    main thread keeps running Python code (1 ms naps) meanwhile."""
    report = run_isolated(impl.name, "gil_sendall", cfg)
    _no_trouble(report)
    assert report["digest_ok"] and report["count"] == 1 << 20
    assert report["send_s"] >= 0.1, report  # it really waited for the reader
    assert report["turns"] >= 20, report
    assert report["max_gap"] < 0.5, report  # a held GIL: the whole wait (or a deadlock)


# --------------------------------------------------------------------------
# one connection per thread
# --------------------------------------------------------------------------

@pytest.mark.parametrize("threads", [1, 2, 4])
def test_connection_per_thread_bulk(impl, net, client_ctx, server_ctx, threads):
    """``threads`` threads, each with its own impl-to-impl connection, send
    4 MiB client->server and 1 MiB back at the same time: every byte right."""
    up, down = 4 << 20, 1 << 20
    pairs = [net.tls_pair(client_ctx(impl), server_ctx(impl)) for _ in range(threads)]
    blobs = [random.Random(i).randbytes(up) for i in range(threads)]
    backs = [random.Random(100 + i).randbytes(down) for i in range(threads)]

    def client_side(i):
        client, _ = pairs[i]
        client.sendall(blobs[i])
        return recv_digest(client, down, deadline=30)

    def server_side(i):
        _, server = pairs[i]
        server.sendall(backs[i])
        return recv_digest(server, up, deadline=30)

    t0 = time.monotonic()
    peers = [net.peer(client_side, i, name=f"client{i}") for i in range(threads)]
    peers += [net.peer(server_side, i, name=f"server{i}") for i in range(threads)]
    results = [p.result(40) for p in peers]
    assert time.monotonic() - t0 < 40
    for i in range(threads):
        assert results[i] == (down, hashlib.sha256(backs[i]).hexdigest())
        assert results[threads + i] == (up, hashlib.sha256(blobs[i]).hexdigest())


# --------------------------------------------------------------------------
# the pure-Python twin's turn (its lock with a list-pop uncontended path)
# --------------------------------------------------------------------------

def test_twin_turn_waits_for_a_per_message_call():
    """``tlsfast._tls_py._Turn``: while a per-message call holds the token
    (popped), the general path (``with turn``) waits, then enters once it
    is back; two general paths exclude each other; nested ``with`` in one
    thread takes the token once, and an exception gives it back."""
    from tlsfast import _tls_py

    turn = _tls_py._Turn()
    turn.token.pop()                    # a per-message call is inside
    inside = []

    def general(name):
        with turn:
            inside.append(name)
            assert not turn.token
            time.sleep(0.1)
            inside.append(name)

    threads = [threading.Thread(target=general, args=(k,), daemon=True) for k in "ab"]
    for t in threads:
        t.start()
    time.sleep(0.2)
    assert inside == [], "entered while the token was out"
    turn.token.append(True)
    for t in threads:
        t.join(10)
        assert not t.is_alive()
    # each went in and out before the other came in
    assert sorted(inside) == ["a", "a", "b", "b"]
    assert inside[0] == inside[1] and inside[2] == inside[3]
    assert turn.token == [True]
    with pytest.raises(ZeroDivisionError):
        with turn:
            with turn:
                assert turn.token == []
                1 / 0
    assert turn.token == [True]
