"""Ping-pong round trips over TCP loopback.

The measured process accepts one TLS connection from ``c_floor peer-echo``
(another process, echoing every byte back until close_notify), then COUNT
times: writes a 64-byte message (its first byte the round number), waits for
the echo (``selectors`` on want-read; ``epoll`` in C), reads it into a
64-byte buffer and compares it with what it sent.  Figure: round trips per
second, so mostly two wake-ups and four syscalls per round trip.
"""

import selectors
import time

from .common import BenchError, accept_one, check, listen_tcp
from .stream import _peer, wait_peer

_now = time.perf_counter_ns
_cpu = time.process_time_ns


def _loop_fast(conn, msgs, count, size, select):
    send, recv = conn.try_send, conn.try_recv_into
    buf = bytearray(size)
    view = memoryview(buf)
    for i in range(count):
        m = msgs[i & 255]
        if send(m) != size:
            raise BenchError("ping not sent whole")
        got = 0
        while got < size:
            r = recv(view[got:] if got else buf)
            if r > 0:
                got += r
            elif r == 0:
                raise BenchError("unexpected EOF")
            elif not select(10):
                raise BenchError("no echo within 10 s")
        if buf != m:
            raise BenchError(f"echo {i} differs")


def _loop_exc(conn, msgs, count, size, select, want, eof):
    send, recv = conn.send, conn.recv_into
    buf = bytearray(size)
    view = memoryview(buf)
    for i in range(count):
        m = msgs[i & 255]
        if send(m) != size:
            raise BenchError("ping not sent whole")
        got = 0
        while got < size:
            try:
                r = recv(view[got:] if got else buf)
            except want:
                if not select(10):
                    raise BenchError("no echo within 10 s") from None
                continue
            except eof:
                r = 0
            if r == 0:
                raise BenchError("unexpected EOF")
            got += r
        if buf != m:
            raise BenchError(f"echo {i} differs")


def pingpong(name, p, ctx):
    if name == "c-floor":
        return ctx.cfloor.run("pingpong", **p)
    impl = ctx.impls[name]
    size, count = p["size"], p["count"]
    msgs = [bytes([i]) + b"p" * (size - 1) for i in range(256)]
    lsock, port = listen_tcp()
    peer = _peer(ctx, "peer-echo", port)
    conn = None
    try:
        conn = accept_one(impl, lsock)
        sel = selectors.DefaultSelector()
        sel.register(conn.fileno(), selectors.EVENT_READ)
        c0 = _cpu()
        t0 = _now()
        if impl.style == "fast":
            _loop_fast(conn, msgs, count, size, sel.select)
        else:
            _loop_exc(conn, msgs, count, size, sel.select, (impl.WantRead, impl.WantWrite),
                      impl.EOFErrors)
        t1 = _now()
        c1 = _cpu()
        sel.close()
        _close_notify(impl, conn)
        peer_result = wait_peer(peer)
    finally:
        if peer.poll() is None:
            peer.kill()
            peer.wait()
        if conn is not None:
            impl.close(conn)
        lsock.close()
    return {"ops": count, "wall_ns": t1 - t0, "cpu_ns": c1 - c0, "peer": peer_result}


def _close_notify(impl, conn):
    """Send close_notify so the peer ends (untimed)."""
    if impl.name == "pyopenssl":
        try:
            conn.shutdown()
        except (impl.WantRead, impl.WantWrite):
            pass
        return
    try:
        conn.unwrap()
    except (impl.WantRead, impl.WantWrite, OSError):
        pass


def check_echoed(raw, p):
    check(raw["peer"]["echoed"] == p["size"] * p["count"], "pingpong: peer echoed %s of %d bytes",
          raw["peer"]["echoed"], p["size"] * p["count"])
    return raw


def workloads():
    from .runner import Workload, Target
    return [
        Workload("pingpong", "latency", "ping-pong 64 B, TCP loopback", "rate",
                 quick={"size": 64, "count": 3000}, full={"size": 64, "count": 15000},
                 runner=pingpong, post=check_echoed, target=Target("c-floor", 1.10)),
    ]
