"""Per-call costs on a socketpair connection (both ends in this thread).

``recv_into64``    ns per ``recv_into(buf, 64)`` of data already decrypted
                   and buffered in OpenSSL: the peer sends one 16 KiB record,
                   the first read (which decrypts it) is not timed, the next
                   255 are.  Every implementation calls ``recv_into``
                   (tlsfast's stdlib-compatible method);
``wantread_exc``   ns per ``recv_into`` on an empty non-blocking socket,
                   raising the want-read exception (caught);
``wantread_fast``  the same through ``try_recv_into`` returning ``WANT_READ``
                   (tlsfast only: the others have no such path; the C floor
                   is ``SSL_read_ex`` + ``SSL_get_error``);
``record_kernel``  ns per read (a 64-byte buffer) of one 64-byte record
                   waiting in the kernel's socket buffer: OpenSSL reads its
                   header and body (two ``read(2)``; tlsfast: a peek and a
                   discard) and decrypts it.  64 records are queued, then
                   read, untimed writes between batches.  The buffer holds
                   one message so that each read takes one record: with a
                   larger one tlsfast's reads take every record available.

(Folded in from the first ``bench/micro.py``.)
"""

import time

from tlsfast._common import WANT_READ

from .common import RECORD, RECV_BUF, BenchError, check

READ = 64
KERNEL_BATCH = 64

_now = time.perf_counter_ns
_cpu = time.process_time_ns


def send_all(impl, conn, data):
    """Untimed helper: write all of ``data`` on a non-blocking connection
    whose peer is read elsewhere (the socket buffer must take it)."""
    view = memoryview(data)
    for _ in range(100000):
        try:
            n = conn.send(view)
        except (impl.WantRead, impl.WantWrite):
            continue
        view = view[n:]
        if not len(view):
            return
    raise BenchError("send_all: the socket buffer did not take the data")


def _first_read(impl, conn, buf, n):
    for _ in range(10000):
        try:
            return conn.recv_into(buf, n)
        except (impl.WantRead, impl.WantWrite):
            pass
    raise BenchError("first read: no data")


def recv_into64(impl, p):
    c, s = impl.pair()
    buf = bytearray(READ)
    payload = b"x" * RECORD
    wall = cpu = calls = 0
    per_record = RECORD // READ - 1
    rng = range(per_record)
    recv_into = c.recv_into
    try:
        for _ in range(p["records"]):
            send_all(impl, s, payload)
            check(_first_read(impl, c, buf, READ) == READ, "first read")
            c0 = _cpu()
            t0 = _now()
            for _ in rng:
                recv_into(buf, READ)
            t1 = _now()
            c1 = _cpu()
            # 255 reads of 64 bytes each leave nothing: anything short would
            check(c.pending() == 0 and buf == b"x" * READ, "short reads")
            wall += t1 - t0
            cpu += c1 - c0
            calls += per_record
    finally:
        impl.close(c, s)
    return {"ops": calls, "wall_ns": wall, "cpu_ns": cpu}


def wantread_exc(impl, p):
    c, s = impl.pair()
    buf = bytearray(READ)
    n = p["count"]
    rng = range(n)
    recv_into = c.recv_into
    err = impl.WantRead
    wants = 0
    try:
        c0 = _cpu()
        t0 = _now()
        for _ in rng:
            try:
                recv_into(buf, READ)
            except err:
                wants += 1
        t1 = _now()
        c1 = _cpu()
    finally:
        impl.close(c, s)
    check(wants == n, "want-read raised %d times of %d", wants, n)
    return {"ops": n, "wall_ns": t1 - t0, "cpu_ns": c1 - c0}


def wantread_fast(impl, p):
    c, s = impl.pair()
    buf = bytearray(READ)
    n = p["count"]
    rng = range(n)
    try_recv_into = c.try_recv_into
    acc = 0
    try:
        c0 = _cpu()
        t0 = _now()
        for _ in rng:
            acc += try_recv_into(buf, READ)
        t1 = _now()
        c1 = _cpu()
    finally:
        impl.close(c, s)
    check(acc == WANT_READ * n, "try_recv_into did not return WANT_READ every time")
    return {"ops": n, "wall_ns": t1 - t0, "cpu_ns": c1 - c0}


def record_kernel(impl, p):
    c, s = impl.pair()
    size, count = p["size"], p["count"]
    msg = b"k" * size
    buf = bytearray(size)       # one message a read (see the module doc)
    recv = c.try_recv_into if impl.style == "fast" else c.recv_into
    done = got = wall = cpu = 0
    try:
        while done < count:
            batch = min(KERNEL_BATCH, count - done)
            for _ in range(batch):
                send_all(impl, s, msg)
            rng = range(batch)
            c0 = _cpu()
            t0 = _now()
            for _ in rng:
                got += recv(buf)
            t1 = _now()
            c1 = _cpu()
            wall += t1 - t0
            cpu += c1 - c0
            done += batch
    except (impl.WantRead, impl.WantWrite) as exc:
        raise BenchError(f"record not in the kernel buffer: {exc!r}") from exc
    finally:
        impl.close(c, s)
    check(got == count * size, "read %d of %d bytes", got, count * size)
    return {"ops": count, "wall_ns": wall, "cpu_ns": cpu}


def workloads():
    from .runner import Workload, Target
    return [
        Workload("recv_into64", "percall", "recv_into(64) of decrypted data", "ns",
                 quick={"records": 100}, full={"records": 600}, py=recv_into64,
                 c="recv_into64", target=Target("c-floor", 4.0)),
        Workload("wantread_exc", "percall", "want-read, exception path", "ns",
                 quick={"count": 30000}, full={"count": 150000}, py=wantread_exc,
                 c="wantread"),
        Workload("wantread_fast", "percall", "want-read, fast path (try_recv_into)", "ns",
                 quick={"count": 30000}, full={"count": 150000}, py=wantread_fast,
                 c="wantread", impls=("c-floor", "tlsfast-c", "tlsfast-python"),
                 target=Target("c-floor", 1.5)),
        Workload("record_kernel", "percall", "recv_into of one 64 B record in the kernel", "ns",
                 quick={"size": 64, "count": 15000}, full={"size": 64, "count": 80000},
                 py=record_kernel, c="record_kernel", target=Target("c-floor", 1.10)),
    ]
