"""One-way streams and bulk transfer.

``stream_pair_64``, ``stream_pair_1k``
    a socketpair, both ends in this thread: the client writes COUNT messages
    of 64 B / 1 KiB (one write each: one TLS record each) until the socket
    buffer is full, then the server reads (64 KiB buffer) until want-read,
    and again; figure: messages per second (sender + receiver work).
``tcp_stream_64``, ``tcp_stream_1k``
    TCP loopback, the peer in another process (``c_floor peer-source``)
    sending COUNT messages; the measured process receives them with a
    ``selectors``-driven non-blocking read loop; figure: messages per second.
    The peer starts on a one-byte go and checks the receiver's byte count
    acknowledgement at the end.
``stream_pair_64_ra``, ``tcp_stream_64_ra``
    the same as ``stream_pair_64`` / ``tcp_stream_64`` with the C floor's
    reading end in read-ahead mode (``SSL_set_read_ahead``: one ``read(2)``
    brings as many records as its buffer holds, where the stdlib's settings
    read each record's header and body separately).  The Python
    implementations run unchanged: tlsfast (c) gets its batches from its
    own reader (a peek of many records, then a discard of what OpenSSL
    consumed), which keeps ``unwrap()`` exact where read-ahead cannot.
``bulk_64k``
    like ``stream_pair`` with 64 KiB writes; figure: MB/s.
"""

import json
import selectors
import struct
import subprocess
import time

from .cfloor import peer_cmd
from .common import RECV_BUF, BenchError, accept_one, check, listen_tcp
from .percall import send_all

_now = time.perf_counter_ns
_cpu = time.process_time_ns


def _stream_fast(c, s, size, count, buf):
    send, recv = c.try_send, s.try_recv_into
    payload = b"s" * size
    cur, clen = payload, size
    sent = received = 0
    total = size * count
    while received < total:
        while sent < count:
            r = send(cur)
            if r == clen:
                sent += 1
                if clen != size:
                    cur, clen = payload, size
            elif r < 0:
                break
            else:                       # partial write: the rest next
                cur = memoryview(cur)[r:]
                clen -= r
        while True:
            r = recv(buf)
            if r > 0:
                received += r
            elif r == 0:
                raise BenchError("unexpected EOF")
            else:
                break
    return received


def _stream_exc(c, s, size, count, buf, want, eof):
    send, recv = c.send, s.recv_into
    payload = b"s" * size
    cur, clen = payload, size
    sent = received = 0
    total = size * count
    while received < total:
        while sent < count:
            try:
                r = send(cur)
            except want:
                break
            if r == clen:
                sent += 1
                if clen != size:
                    cur, clen = payload, size
            else:
                cur = memoryview(cur)[r:]
                clen -= r
        while True:
            try:
                r = recv(buf)
            except want:
                break
            except eof:
                r = 0
            if r == 0:
                raise BenchError("unexpected EOF")
            received += r
    return received


def stream_pair(impl, p):
    size, count = p["size"], p["count"]
    c, s = impl.pair()
    buf = bytearray(RECV_BUF)
    try:
        c0 = _cpu()
        t0 = _now()
        if impl.style == "fast":
            got = _stream_fast(c, s, size, count, buf)
        else:
            got = _stream_exc(c, s, size, count, buf, (impl.WantRead, impl.WantWrite),
                              impl.EOFErrors)
        t1 = _now()
        c1 = _cpu()
    finally:
        impl.close(c, s)
    check(got == size * count and buf[0] == ord("s"), "received %d of %d bytes", got, size * count)
    return {"ops": count, "wall_ns": t1 - t0, "cpu_ns": c1 - c0, "bytes": got}


def _peer(ctx, mode, port, *args, stdin=subprocess.DEVNULL):
    return subprocess.Popen(peer_cmd(ctx.certs, mode, port, *args), stdin=stdin,
                            stdout=subprocess.PIPE, text=True)


def stop_peer(proc):
    """Kill the peer process if it is still running (a workload that failed)."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def wait_peer(proc, timeout=60):
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise BenchError("peer process timed out") from None
    try:
        result = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise BenchError(f"peer printed no result (exit {proc.returncode}): {out!r}") from None
    if proc.returncode != 0 or result.get("ok") is False:
        raise BenchError(f"peer failed (exit {proc.returncode}): {result.get('error', out)}")
    return result


def tcp_stream(name, p, ctx):
    """Runner for the TCP stream: the C floor or a Python implementation."""
    if name == "c-floor":
        return ctx.cfloor.run("tcp_stream", **p)
    impl = ctx.impls[name]
    size, count = p["size"], p["count"]
    total = size * count
    lsock, port = listen_tcp()
    peer = _peer(ctx, "peer-source", port, size, count)
    conn = None
    try:
        conn = accept_one(impl, lsock)
        sel = selectors.DefaultSelector()
        sel.register(conn.fileno(), selectors.EVENT_READ)
        select = sel.select
        buf = bytearray(RECV_BUF)
        received = 0
        send_all(impl, conn, b"g")
        c0 = _cpu()
        t0 = _now()
        if impl.style == "fast":
            recv = conn.try_recv_into
            while received < total:
                r = recv(buf)
                if r > 0:
                    received += r
                elif r == 0:
                    raise BenchError("unexpected EOF")
                elif not select(10):
                    raise BenchError(f"stalled at {received} bytes")
        else:
            recv = conn.recv_into
            want, eof = (impl.WantRead, impl.WantWrite), impl.EOFErrors
            while received < total:
                try:
                    r = recv(buf)
                except want:
                    if not select(10):
                        raise BenchError(f"stalled at {received} bytes") from None
                    continue
                except eof:
                    r = 0
                if r == 0:
                    raise BenchError("unexpected EOF")
                received += r
        t1 = _now()
        c1 = _cpu()
        sel.close()
        check(received == total and buf[0] == ord("s"), "received %d of %d", received, total)
        send_all(impl, conn, struct.pack("<Q", received))
        peer_result = wait_peer(peer)
    finally:
        stop_peer(peer)
        if conn is not None:
            impl.close(conn)
        lsock.close()
    return {"ops": count, "wall_ns": t1 - t0, "cpu_ns": c1 - c0, "bytes": received,
            "peer": peer_result}


def check_peer_ack(raw, p):
    total = p["size"] * p["count"]
    check(raw["bytes"] == total and raw["peer"]["acknowledged"] == total,
          "tcp_stream: peer acknowledged %s of %d", raw["peer"].get("acknowledged"), total)
    return raw


def check_bytes(raw, p):
    check(raw["bytes"] == p["size"] * p["count"], "stream: %s of %d bytes", raw["bytes"],
          p["size"] * p["count"])
    return raw


def workloads():
    from .runner import Workload, Target
    return [
        Workload("stream_pair_64", "stream", "stream 64 B, socketpair (both ends)", "rate",
                 quick={"size": 64, "count": 30000}, full={"size": 64, "count": 150000},
                 py=stream_pair, c="stream_pair", post=check_bytes, target=Target("c-floor", 1.15)),
        Workload("stream_pair_1k", "stream", "stream 1 KiB, socketpair (both ends)", "rate",
                 quick={"size": 1024, "count": 20000}, full={"size": 1024, "count": 100000},
                 py=stream_pair, c="stream_pair", post=check_bytes),
        Workload("stream_pair_64_ra", "stream",
                 "stream 64 B, socketpair (both ends), C with read-ahead", "rate",
                 quick={"size": 64, "count": 30000, "read_ahead": 1},
                 full={"size": 64, "count": 150000, "read_ahead": 1},
                 py=stream_pair, c="stream_pair", post=check_bytes, target=Target("c-floor", 1.10)),
        Workload("tcp_stream_64", "stream", "stream 64 B, TCP loopback (receiver)", "rate",
                 quick={"size": 64, "count": 30000}, full={"size": 64, "count": 150000},
                 runner=tcp_stream, post=check_peer_ack, target=Target("c-floor", 1.0)),
        Workload("tcp_stream_64_ra", "stream",
                 "stream 64 B, TCP loopback (receiver), C with read-ahead", "rate",
                 quick={"size": 64, "count": 30000, "read_ahead": 1},
                 full={"size": 64, "count": 150000, "read_ahead": 1},
                 runner=tcp_stream, post=check_peer_ack, target=Target("c-floor", 1.10)),
        Workload("tcp_stream_1k", "stream", "stream 1 KiB, TCP loopback (receiver)", "rate",
                 quick={"size": 1024, "count": 20000}, full={"size": 1024, "count": 100000},
                 runner=tcp_stream, post=check_peer_ack),
        Workload("bulk_64k", "stream", "bulk, 64 KiB writes, socketpair (both ends)", "MB/s",
                 quick={"size": 65536, "count": 1000}, full={"size": 65536, "count": 6000},
                 py=stream_pair, c="stream_pair", post=check_bytes, bytes_per_op=65536,
                 target=Target("c-floor", 1.03)),
    ]
