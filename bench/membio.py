"""Memory-BIO mode (``SSLObject`` over two ``MemoryBIO``; pyOpenSSL's
``Connection(ctx, None)``; ``BIO_s_mem`` in C), both ends in one thread.

``membio_stream_64``
    per message: the client writes 64 bytes, the bytes its outgoing BIO holds
    are moved to the server's incoming BIO (``read(65536)`` then ``write``),
    the server reads 64 bytes into a buffer.  Figure: messages per second.
``membio_handshake``
    full handshakes (ECDSA P-256): new BIOs and objects, then handshake steps
    alternating client, move, server, move until both are done.
"""

import time

from .common import BenchError, check

_now = time.perf_counter_ns
_cpu = time.process_time_ns
BIG = 65536


def _handshake_stdlib_like(impl):
    c, c_in, c_out, s, s_in, s_out = impl.bio_pair()
    want = (impl.WantRead, impl.WantWrite)
    cd = sd = False
    for _ in range(100):
        if not cd:
            try:
                c.do_handshake()
                cd = True
            except want:
                pass
        s_in.write(c_out.read(BIG))
        if not sd:
            try:
                s.do_handshake()
                sd = True
            except want:
                pass
        c_in.write(s_out.read(BIG))
        if cd and sd:
            return c, c_in, c_out, s, s_in, s_out
    raise BenchError("memory-BIO handshake did not finish")


def _move_pyopenssl(src, dst, want):
    try:
        dst.bio_write(src.bio_read(BIG))
    except want:
        pass


def _handshake_pyopenssl(impl):
    c, _, _, s, _, _ = impl.bio_pair()
    want = impl.WantRead
    cd = sd = False
    for _ in range(100):
        if not cd:
            try:
                c.do_handshake()
                cd = True
            except (impl.WantRead, impl.WantWrite):
                pass
        _move_pyopenssl(c, s, want)
        if not sd:
            try:
                s.do_handshake()
                sd = True
            except (impl.WantRead, impl.WantWrite):
                pass
        _move_pyopenssl(s, c, want)
        if cd and sd:
            return c, s
    raise BenchError("memory-BIO handshake did not finish")


def membio_stream(impl, p):
    size, count = p["size"], p["count"]
    payload = b"m" * size
    buf = bytearray(size)
    got = 0
    rng = range(count)
    if impl.style == "pyopenssl":
        c, s = _handshake_pyopenssl(impl)
        impl.check(c)
        impl.check(s)
        _drain_pyopenssl(impl, c, s)
        send, take, put, recv = c.send, c.bio_read, s.bio_write, s.recv_into
        c0 = _cpu()
        t0 = _now()
        for _ in rng:
            send(payload)
            put(take(BIG))
            got += recv(buf, size)
        t1 = _now()
        c1 = _cpu()
    else:
        c, c_in, c_out, s, s_in, s_out = _handshake_stdlib_like(impl)
        impl.check(c)
        impl.check(s)
        _drain(impl, c, c_in, c_out, s, s_in, s_out)
        take, put = c_out.read, s_in.write
        if impl.style == "fast":
            send, recv = c.try_send, s.try_recv_into
            c0 = _cpu()
            t0 = _now()
            for _ in rng:
                send(payload)
                put(take(BIG))
                got += recv(buf, size)
            t1 = _now()
            c1 = _cpu()
        else:
            write, read = c.write, s.read
            c0 = _cpu()
            t0 = _now()
            for _ in rng:
                write(payload)
                put(take(BIG))
                got += read(size, buf)
            t1 = _now()
            c1 = _cpu()
    check(got == size * count and buf == payload, "received %d of %d bytes", got, size * count)
    return {"ops": count, "wall_ns": t1 - t0, "cpu_ns": c1 - c0, "bytes": got}


def _drain(impl, c, c_in, c_out, s, s_in, s_out):
    """Read the session tickets now (untimed), so no timed read meets them."""
    buf = bytearray(1)
    for obj in (c, s):
        try:
            obj.read(1, buf)
            raise BenchError("unexpected application data")
        except impl.WantRead:
            pass
        s_in.write(c_out.read(BIG))
        c_in.write(s_out.read(BIG))


def _drain_pyopenssl(impl, c, s):
    buf = bytearray(1)
    for obj in (c, s):
        try:
            obj.recv_into(buf, 1)
            raise BenchError("unexpected application data")
        except impl.WantRead:
            pass
        _move_pyopenssl(c, s, impl.WantRead)
        _move_pyopenssl(s, c, impl.WantRead)


def membio_handshake(impl, p):
    count = p["count"]
    hs = _handshake_pyopenssl if impl.style == "pyopenssl" else _handshake_stdlib_like
    done = 0
    c0 = _cpu()
    t0 = _now()
    for i in range(count):
        objs = hs(impl)
        done += 1
        if i == count - 1:
            impl.check(objs[0])
            impl.check(objs[3] if len(objs) == 6 else objs[1])
    t1 = _now()
    c1 = _cpu()
    check(done == count, "%d of %d handshakes", done, count)
    return {"ops": count, "wall_ns": t1 - t0, "cpu_ns": c1 - c0}


def workloads():
    from .runner import Workload, Target
    return [
        Workload("membio_stream_64", "membio", "memory-BIO stream 64 B (both ends)", "rate",
                 quick={"size": 64, "count": 30000}, full={"size": 64, "count": 150000},
                 py=membio_stream, c="membio_stream",
                 targets=(Target("c-floor", 1.15), Target("stdlib", 1 / 1.3))),
        Workload("membio_handshake", "membio", "memory-BIO handshakes, ECDSA P-256", "rate",
                 quick={"count": 120}, full={"count": 500}, py=membio_handshake,
                 c="membio_handshake"),
    ]
