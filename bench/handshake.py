"""Full TLS 1.3 handshakes per second, RSA-2048 and ECDSA P-256 server
certificates (each from its own trustme CA; the client verifies the chain
and the name ``localhost``).

Per handshake, both ends in this thread: a new socketpair (non-blocking),
client and server objects over it, handshake steps alternating client then
server until both are done, then both closed (no close_notify).  The count
of finished handshakes is the figure's numerator; the last connection of
each run is checked for TLS 1.3 and the cipher suite.  No session reuse:
every handshake is a full one (the client never offers a ticket).
"""

import socket
import time

from .common import BenchError

_now = time.perf_counter_ns
_cpu = time.process_time_ns


def _fast_step(conn):
    """tlsfast's step: ``try_do_handshake`` (0 when done, no exception)."""
    return conn.try_do_handshake() == 0


def _loop(impl, kind, count):
    """``count`` full handshakes, each on a fresh socketpair; the number
    that finished.  Steps are each implementation's natural non-blocking
    API: tlsfast's fast path, the want exceptions for the stdlib and
    pyOpenSSL (``Impl.handshake_step``)."""
    step = _fast_step if impl.style == "fast" else impl.handshake_step
    client, server = impl.client, impl.server
    socketpair = socket.socketpair
    done = 0
    for i in range(count):
        a, b = socketpair()
        a.setblocking(False)
        b.setblocking(False)
        c = client(a)
        s = server(b, kind)
        cd = sd = False
        for _ in range(100):
            if not cd:
                cd = step(c)
            if not sd:
                sd = step(s)
            if cd and sd:
                done += 1
                break
        if i == count - 1:
            impl.check(c)
            impl.check(s)
        impl.close(c, s)
    return done


def handshakes(impl, p):
    kind, count = p["cert"], p["count"]
    c0 = _cpu()
    t0 = _now()
    done = _loop(impl, kind, count)
    t1 = _now()
    c1 = _cpu()
    if done != count:
        raise BenchError(f"{done} of {count} handshakes finished")
    return {"ops": done, "wall_ns": t1 - t0, "cpu_ns": c1 - c0}


def workloads():
    from .runner import Workload, Target
    return [
        Workload("handshake_ecdsa", "handshake", "full handshakes, ECDSA P-256 (both ends)", "rate",
                 quick={"cert": "ecdsa", "count": 120}, full={"cert": "ecdsa", "count": 500},
                 py=handshakes, c="handshake", target=Target("c-floor", 1.03)),
        Workload("handshake_rsa", "handshake", "full handshakes, RSA-2048 (both ends)", "rate",
                 quick={"cert": "rsa", "count": 60}, full={"cert": "rsa", "count": 250},
                 py=handshakes, c="handshake", target=Target("c-floor", 1.03)),
    ]
