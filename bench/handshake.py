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

from .common import HOSTNAME, BenchError

_now = time.perf_counter_ns
_cpu = time.process_time_ns


def _fast(impl, kind, count):
    cwrap = impl.ctx("client").wrap_socket
    swrap = impl.ctx(kind).wrap_socket
    socketpair = socket.socketpair
    done = 0
    for i in range(count):
        a, b = socketpair()
        a.setblocking(False)
        b.setblocking(False)
        c = cwrap(a, server_hostname=HOSTNAME, do_handshake_on_connect=False)
        s = swrap(b, server_side=True, do_handshake_on_connect=False)
        cd = sd = False
        for _ in range(100):
            if not cd:
                cd = c.try_do_handshake() == 0
            if not sd:
                sd = s.try_do_handshake() == 0
            if cd and sd:
                done += 1
                break
        if i == count - 1:
            impl.check(c)
            impl.check(s)
        c.close()
        s.close()
    return done


def _exc(impl, kind, count):
    cwrap = impl.ctx("client").wrap_socket
    swrap = impl.ctx(kind).wrap_socket
    socketpair = socket.socketpair
    want = (impl.WantRead, impl.WantWrite)
    done = 0
    for i in range(count):
        a, b = socketpair()
        a.setblocking(False)
        b.setblocking(False)
        c = cwrap(a, server_hostname=HOSTNAME, do_handshake_on_connect=False)
        s = swrap(b, server_side=True, do_handshake_on_connect=False)
        cd = sd = False
        for _ in range(100):
            if not cd:
                try:
                    c.do_handshake()
                    cd = True
                except want:
                    pass
            if not sd:
                try:
                    s.do_handshake()
                    sd = True
                except want:
                    pass
            if cd and sd:
                done += 1
                break
        if i == count - 1:
            impl.check(c)
            impl.check(s)
        c.close()
        s.close()
    return done


def _pyopenssl(impl, kind, count):
    SSL = impl.SSL
    Connection = SSL.Connection
    cctx, sctx = impl.ctx("client"), impl.ctx(kind)
    client_setup = impl._client_setup
    socketpair = socket.socketpair
    want = (impl.WantRead, impl.WantWrite)
    done = 0
    for i in range(count):
        a, b = socketpair()
        a.setblocking(False)
        b.setblocking(False)
        c = Connection(cctx, a)
        client_setup(c)
        s = Connection(sctx, b)
        s.set_accept_state()
        cd = sd = False
        for _ in range(100):
            if not cd:
                try:
                    c.do_handshake()
                    cd = True
                except want:
                    pass
            if not sd:
                try:
                    s.do_handshake()
                    sd = True
                except want:
                    pass
            if cd and sd:
                done += 1
                break
        if i == count - 1:
            impl.check(c)
            impl.check(s)
        a.close()
        b.close()
    return done


def handshakes(impl, p):
    kind, count = p["cert"], p["count"]
    loop = {"fast": _fast, "exc": _exc, "pyopenssl": _pyopenssl}[impl.style]
    c0 = _cpu()
    t0 = _now()
    done = loop(impl, kind, count)
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
