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

import os
import re
import resource
import selectors
import signal
import socket
import subprocess
import sys
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


# -- the demo server, ``python -m tlsfast serve``, one process or one per core

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVE_IMPLS = ("c-floor", "tlsfast-c", "tlsfast-python")
SERVE_START_TIMEOUT = 30.0
SERVE_STOP_TIMEOUT = 15.0
_SERVE_PORT = re.compile(r"^listening on https://127\.0\.0\.1:(\d+)/$", re.M)
_SERVE_WORKERS = re.compile(r"^workers: (\d+) ", re.M)
_SERVE_STOPPED = re.compile(r"^stopped \(signal SIGTERM\): \d+ requests on (\d+) connections, "
                            r"(\d+) errors")


def _read_until(proc, out, done, deadline):
    """Append the server's output to the list ``out`` (raw reads: a
    buffered reader would hide lines from select) until ``done(text)`` or
    EOF; raises BenchError at ``deadline`` (monotonic)."""
    fd = proc.stdout.fileno()
    with selectors.DefaultSelector() as sel:
        sel.register(fd, READ)
        while not done("".join(out)):
            if not sel.select(max(0.0, deadline - time.monotonic())):
                raise BenchError(f"tlsfast serve: no output in time: {''.join(out)[-500:]}")
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            out.append(chunk.decode("utf-8", "replace"))


def serve_echo(name, p, ctx):
    """``python -m tlsfast serve --workers W`` (W: a number or "auto")
    echoing for ``c_floor peer-load``; the C floor runs its one-process echo
    server (the ``echo`` command) instead."""
    if name == "c-floor":
        return ctx.cfloor.run("echo", conns=p["conns"], total=p["total"], size=p["size"])
    env = dict(os.environ, TLSFAST_IMPL=name.split("-", 1)[1], PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    env.pop("SSLKEYLOGFILE", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tlsfast", "serve", "--port", "0", "--workers", str(p["workers"]),
         "--cert", ctx.certs.chain["ecdsa"], "--duration", "300"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    lines = []
    peer = None
    try:
        _read_until(proc, lines, lambda text: "\nstop with Ctrl-C" in text,
                    time.monotonic() + SERVE_START_TIMEOUT)
        text = "".join(lines)
        started = _SERVE_PORT.search(text)
        if started is None or "\nstop with Ctrl-C" not in text:
            raise BenchError(f"tlsfast serve did not start: {text[-500:]}")
        workers = _SERVE_WORKERS.search(text)
        workers = int(workers.group(1)) if workers else 1
        peer = _peer(ctx, "peer-load", int(started.group(1)), p["conns"], p["total"], p["size"])
        peer_result = wait_peer(peer)
        before = _children_cpu_ns()              # the peer reaped, the servers not yet
        proc.send_signal(signal.SIGTERM)
        _read_until(proc, lines, lambda text: False, time.monotonic() + SERVE_STOP_TIMEOUT)
        proc.wait(SERVE_STOP_TIMEOUT)
        server_cpu_ns = _children_cpu_ns() - before
    except subprocess.TimeoutExpired:
        raise BenchError("tlsfast serve did not stop on SIGTERM") from None
    finally:
        for child in (peer, proc):
            if child is not None and child.poll() is None:
                child.kill()
                child.wait()
        proc.stdout.close()
    out = "".join(lines)
    stopped = _SERVE_STOPPED.search(out.splitlines()[-1] if out.strip() else "")
    check(proc.returncode == 0 and stopped is not None,
          "tlsfast serve: exit %s: %s", proc.returncode, out[-500:])
    check(int(stopped.group(1)) == p["conns"], "tlsfast serve: %s connections of %d",
          stopped.group(1), p["conns"])
    check(stopped.group(2) == "0", "tlsfast serve: %s errors", stopped.group(2))
    # the load generator verified every echo.  The servers' CPU time covers
    # their whole life (start-up, the handshakes, the echoes), unlike the
    # other rows' CPU figure, so it is kept beside the sample, not as its cpu
    return {"ops": peer_result["requests"], "wall_ns": peer_result["elapsed_ns"],
            "cpu_ns": None, "echoed_bytes": peer_result["requests"] * p["size"],
            "peer": peer_result, "workers": workers, "server_life_cpu_ns": server_cpu_ns}


def _children_cpu_ns():
    """User + system CPU of this process's reaped children (the supervisor
    counts its reaped workers in its own), ns."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return round((usage.ru_utime + usage.ru_stime) * 1e9)


def serve_post(raw, p):
    if "workers" not in raw:                 # the C floor: as the echo rows
        return post(raw, p)
    quota = -(-p["total"] // p["conns"])
    check(raw["ops"] == quota * p["conns"], "echo: %d requests of %d", raw["ops"],
          quota * p["conns"])
    return raw


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
    for name, workers, what in (("echo_1000_serve", 1, "one process"),
                                ("echo_1000_workers", "auto", "--workers auto (one per core)")):
        rows.append(Workload(
            name, "echo", f"tlsfast serve echo, 1,000 connections, {what}", "rate",
            quick={"conns": 1000, "total": 20000, "size": 64, "workers": workers},
            full={"conns": 1000, "total": 60000, "size": 64, "workers": workers},
            runner=serve_echo, post=serve_post, impls=SERVE_IMPLS, quick_max_reps=2,
            note="python -m tlsfast serve (the stdlib and pyOpenSSL have no try_* fast path "
                 "it could run on); the C floor column is its one-process echo server; "
                 "wall time only"))
    return rows
