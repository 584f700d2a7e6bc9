"""Ping-pong round trips over TCP loopback.

``pingpong``: the measured process accepts one TLS connection from
``c_floor peer-echo`` (another process, echoing every byte back until
close_notify), then COUNT times: writes a 64-byte message (its first byte
the round number), waits for the echo (``selectors`` on want-read; ``epoll``
in C), reads it into a 64-byte buffer and compares it with what it sent.
Figure: round trips per second, so mostly two wake-ups and four syscalls per
round trip.

``pingpong_plain``: the same loop without TLS, the reference that says how
much of ``pingpong``'s cost is TLS and how much is the loop itself.  The
measured process accepts a plain TCP connection from ``c_floor
peer-echo-plain`` (echoing every byte until EOF) and runs ``_loop_fast``'s
shape on a non-blocking ``socket.socket``: ``send``, ``recv_into`` until 64
bytes, ``selectors`` select on ``BlockingIOError`` (EAGAIN; a Python socket
raises it, so the loop is ``_loop_exc`` with that exception).  Two columns
only: the C floor (``pingpong_plain`` in ``c_floor.c``: write(2), read(2),
epoll_wait) and ``python-plain``, one figure for Python since no TLS
implementation is involved.  ``pingpong`` names it as its ``plain`` row, so
the report divides, repetition by repetition, the C floor's TLS figure by its
no-TLS one and each Python column's by Python's no-TLS one, and gives the
bound for tlsfast (c): ``(Python no TLS + C TLS - C no TLS) / C TLS``, the
ratio to the C floor tlsfast (c) would reach if its TLS work cost exactly
what the C floor's does (wall time, and CPU time of the measured process).

``python -m bench.pingpong IMPL COUNT`` runs one of them once, for
``valgrind --tool=callgrind --dump-before=time_perf_counter_ns`` (the
second dump is the timed loop) or ``strace -c`` at two counts, subtracted.
"""

import contextlib
import selectors
import socket
import time

from .common import BenchError, accept_one, check, listen_tcp
from .stream import _peer, stop_peer, wait_peer

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


def _messages(size):
    return [bytes([i]) + b"p" * (size - 1) for i in range(256)]


def _timed(fd, loop):
    """``loop(select)`` between the clocks, ``select`` waiting for ``fd`` to
    be readable; returns (wall ns, CPU ns of this process)."""
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    try:
        c0 = _cpu()
        t0 = _now()
        loop(sel.select)
        t1 = _now()
        c1 = _cpu()
    finally:
        sel.close()
    return t1 - t0, c1 - c0


@contextlib.contextmanager
def _with_peer(ctx, mode):
    """A listening socket and ``c_floor MODE`` connecting to it; the peer is
    killed if still running on the way out (a workload that failed)."""
    lsock, port = listen_tcp()
    peer = _peer(ctx, mode, port)
    try:
        yield lsock, peer
    finally:
        stop_peer(peer)
        lsock.close()


def pingpong_plain(name, p, ctx):
    """The no-TLS reference: the C floor's plain mode, or ``python-plain``."""
    if name == "c-floor":
        return ctx.cfloor.run("pingpong_plain", **p)
    check(name == "python-plain", "pingpong_plain: no TLS, so no %s column", name)
    size, count = p["size"], p["count"]
    msgs = _messages(size)
    with _with_peer(ctx, "peer-echo-plain") as (lsock, peer):
        lsock.settimeout(10.0)
        sock, _ = lsock.accept()
        with sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            # a Python socket raises on EAGAIN: _loop_exc's shape, no EOF but 0
            wall, cpu = _timed(sock.fileno(), lambda select: _loop_exc(
                sock, msgs, count, size, select, BlockingIOError, ()))
        peer_result = wait_peer(peer)      # the close is its EOF
    return {"ops": count, "wall_ns": wall, "cpu_ns": cpu, "peer": peer_result}


def pingpong(name, p, ctx):
    if name == "c-floor":
        return ctx.cfloor.run("pingpong", **p)
    impl = ctx.impls[name]
    size, count = p["size"], p["count"]
    msgs = _messages(size)
    with _with_peer(ctx, "peer-echo") as (lsock, peer):
        conn = accept_one(impl, lsock)
        try:
            if impl.style == "fast":
                loop = lambda select: _loop_fast(conn, msgs, count, size, select)  # noqa: E731
            else:
                loop = lambda select: _loop_exc(  # noqa: E731
                    conn, msgs, count, size, select, (impl.WantRead, impl.WantWrite),
                    impl.EOFErrors)
            wall, cpu = _timed(conn.fileno(), loop)
            _close_notify(impl, conn)
            peer_result = wait_peer(peer)
        finally:
            impl.close(conn)
    return {"ops": count, "wall_ns": wall, "cpu_ns": cpu, "peer": peer_result}


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
                 runner=pingpong, post=check_echoed, target=Target("c-floor", 1.10),
                 plain="pingpong_plain"),
        Workload("pingpong_plain", "latency", "ping-pong 64 B, TCP loopback, no TLS", "rate",
                 quick={"size": 64, "count": 3000}, full={"size": 64, "count": 15000},
                 runner=pingpong_plain, post=check_echoed, impls=("c-floor", "python-plain"),
                 note="plain sockets, no TLS: what pingpong's ratios without TLS divide by"),
    ]


def main(argv=None):
    """``python -m bench.pingpong IMPL COUNT``: one untimed-by-the-suite run
    of ``pingpong`` (or, for ``python-plain``, ``pingpong_plain``) with COUNT
    round trips, printing the raw figures -- for ``valgrind --tool=callgrind``
    or ``strace -c`` at two COUNTs, subtracted."""
    import argparse
    import json
    from .cfloor import build
    from .common import Certs, load_impls
    from .runner import Context
    ap = argparse.ArgumentParser(prog="python -m bench.pingpong")
    ap.add_argument("impl", choices=["tlsfast-c", "tlsfast-python", "stdlib", "pyopenssl",
                                     "python-plain"])
    ap.add_argument("count", type=int)
    args = ap.parse_args(argv)
    build()
    certs = Certs()
    try:
        ctx = Context(certs, load_impls(certs, [args.impl]), None, True)
        p = {"size": 64, "count": args.count}
        run = pingpong_plain if args.impl == "python-plain" else pingpong
        raw = check_echoed(run(args.impl, p, ctx), p)
    finally:
        certs.cleanup()
    print(json.dumps({k: raw[k] for k in ("ops", "wall_ns", "cpu_ns")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
