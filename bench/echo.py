"""A ``selectors``-driven non-blocking TLS echo server (``epoll`` in C).

The measured process listens; ``c_floor peer-load`` (another process) opens
CONNS connections (64 connects in flight at a time), handshakes them all,
then each connection sends a 64-byte request, waits for its echo, checks it
and sends the next one (one request in flight per connection) until TOTAL
requests are done; then it sends close_notify on each and closes.

The server, identical in every implementation: accept every pending
connection, wrap it server-side, handshake it non-blocking; on a readable
connection read (64 KiB buffer) until want-read, writing each chunk straight
back (kept and retried on want-write).  It ends when every connection has
closed.  Figure: requests per second as the load generator counts them
(verified echoes over its wall time); the CPU column is the server's CPU time
per request from the moment every handshake had finished.

With one connection this is latency-bound, with 1,000 throughput-bound; the
C floor server may be faster than the C load generator can drive it (its
CPU-time column then shows what it would do).
"""

import selectors
import socket
import time

from tlsfast._common import WANT_READ

from .common import RECV_BUF, BenchError, check, listen_tcp
from .stream import _peer, wait_peer

_now = time.perf_counter_ns
_cpu = time.process_time_ns

READ = selectors.EVENT_READ
WRITE = selectors.EVENT_WRITE


class _Conn:
    __slots__ = ("sock", "ready", "events", "pending")

    def __init__(self, sock):
        self.sock = sock
        self.ready = False
        self.events = READ
        self.pending = None


def _serve(impl, lsock, conns, timeout=20.0):
    """Run the echo server until every one of ``conns`` connections has
    closed; returns (echoed bytes, cpu and wall stamps when all were ready)."""
    sel = selectors.DefaultSelector()
    select, modify, unregister = sel.select, sel.modify, sel.unregister
    server = impl.server
    fast = impl.style == "fast"
    want = (impl.WantRead, impl.WantWrite)
    eof = impl.EOFErrors
    buf = bytearray(RECV_BUF)
    mv = memoryview(buf)
    lsock.setblocking(False)
    sel.register(lsock, READ, None)
    handshaken = closed = echoed = 0
    ready_at = None
    while closed < conns:
        events = select(timeout)
        if not events:
            raise BenchError(f"echo server idle for {timeout} s "
                             f"({handshaken} handshaken, {closed} closed of {conns})")
        for key, _ in events:
            st = key.data
            if st is None:
                while True:
                    try:
                        sock, _ = lsock.accept()
                    except BlockingIOError:
                        break
                    sock.setblocking(False)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)   # as in C
                    conn = server(sock)
                    st = _Conn(conn)
                    sel.register(conn, READ, st)
                continue
            sock = st.sock
            if not st.ready:
                if fast:
                    r = sock.try_do_handshake()
                    if r:
                        ev = sock.wanted_events
                        if ev != st.events:
                            modify(sock, ev, st)
                            st.events = ev
                        continue
                else:
                    try:
                        sock.do_handshake()
                    except impl.WantRead:
                        if st.events != READ:
                            modify(sock, READ, st)
                            st.events = READ
                        continue
                    except impl.WantWrite:
                        if st.events != WRITE:
                            modify(sock, WRITE, st)
                            st.events = WRITE
                        continue
                st.ready = True
                handshaken += 1
                if handshaken == conns:
                    ready_at = (_cpu(), _now())
                if st.events != READ:
                    modify(sock, READ, st)
                    st.events = READ
            if st.pending is not None:
                n = _send(fast, sock, st.pending, want)
                if n < 0:
                    continue
                echoed += n
                st.pending = None
                modify(sock, READ, st)
                st.events = READ
            if fast:
                recv, send = sock.try_recv_into, sock.try_send
                while True:
                    n = recv(buf)
                    if n > 0:
                        w = send(mv[:n])
                        if w == n:
                            echoed += n
                            continue
                        st.pending = bytes(mv[max(w, 0):n])
                        if w > 0:
                            echoed += w
                        modify(sock, WRITE, st)
                        st.events = WRITE
                        break
                    if n == WANT_READ:
                        break
                    if n == 0:
                        unregister(sock)
                        sock.close()
                        closed += 1
                        break
                    break    # WANT_WRITE while reading: wait for the next event
            else:
                recv, send = sock.recv_into, sock.send
                while True:
                    try:
                        n = recv(buf)
                    except want:
                        break
                    except eof:
                        n = 0
                    if n == 0:
                        unregister(sock)
                        sock.close()
                        closed += 1
                        break
                    try:
                        w = send(mv[:n])
                    except want:
                        w = 0
                    if w == n:
                        echoed += n
                        continue
                    st.pending = bytes(mv[w:n])
                    echoed += w
                    modify(sock, WRITE, st)
                    st.events = WRITE
                    break
    sel.close()
    end = (_cpu(), _now())
    if ready_at is None:
        raise BenchError("not every connection finished its handshake")
    return echoed, ready_at, end


def _send(fast, sock, data, want):
    if fast:
        n = sock.try_send(data)
        return n if n == len(data) or n < 0 else -1
    try:
        n = sock.send(data)
    except want:
        return -1
    return n if n == len(data) else -1


def echo(name, p, ctx):
    if name == "c-floor":
        return ctx.cfloor.run("echo", **p)
    impl = ctx.impls[name]
    conns, total, size = p["conns"], p["total"], p["size"]
    lsock, port = listen_tcp(backlog=4096)
    peer = _peer(ctx, "peer-load", port, conns, total, size)
    try:
        echoed, (c0, t0), (c1, t1) = _serve(impl, lsock, conns)
        peer_result = wait_peer(peer)
    finally:
        if peer.poll() is None:
            peer.kill()
            peer.wait()
        lsock.close()
    return {"ops": echoed // size, "wall_ns": t1 - t0, "cpu_ns": c1 - c0,
            "echoed_bytes": echoed, "peer": peer_result}


def post(raw, p):
    """Requests/s as the load generator saw them; the server's CPU."""
    peer = raw["peer"]
    requests = peer["requests"]
    quota = -(-p["total"] // p["conns"])
    check(requests == quota * p["conns"], "echo: %d requests of %d", requests, quota * p["conns"])
    check(raw["echoed_bytes"] == requests * p["size"], "echo: server echoed %d bytes for %d requests",
          raw["echoed_bytes"], requests)
    out = dict(raw)
    out["ops"] = requests
    out["wall_ns"] = peer["elapsed_ns"]
    out["server_wall_ns"] = raw["wall_ns"]
    return out


def workloads():
    from .runner import Workload, Target
    rows = []
    for conns, quick, full in ((1, 3000, 15000), (100, 12000, 40000), (1000, 20000, 60000)):
        target = Target("stdlib", 0.5) if conns == 1000 else None
        rows.append(Workload(
            f"echo_{conns}", "echo", f"selectors echo, {conns:,} connection{'s' * (conns > 1)}",
            "rate", quick={"conns": conns, "total": quick, "size": 64},
            full={"conns": conns, "total": full, "size": 64}, runner=echo, post=post,
            target=target, quick_max_reps=2 if conns >= 1000 else 0))
    return rows
