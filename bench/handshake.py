"""Full TLS 1.3 handshakes per second, RSA-2048 and ECDSA P-256 server
certificates (each from its own trustme CA; the client verifies the chain
and the name ``localhost``).

Per handshake, both ends in this thread: a new socketpair (non-blocking),
client and server objects over it, handshake steps alternating client then
server until both are done, then both closed (no close_notify).  The count
of finished handshakes is the figure's numerator; the last connection of
each run is checked for TLS 1.3 and the cipher suite.  No session reuse:
every handshake is a full one (the client never offers a ticket).

``handshake_resumed``
    the same loop, TLS 1.3 resumption: every client offers one session
    (``wrap_socket(..., session=)``; ``SSL_set_session`` in C) taken from a
    first full handshake with the same server context after reading its
    tickets; resumption is psk_dhe_ke (a fresh X25519 exchange, no
    certificate, no signature).  The last connection of each run must report
    ``session_reused`` on both ends.
``handshake_resumed_keys``
    the same, but the session was issued by *another process*
    (``c_floor peer-issue``: a TLS server on a TCP connection the measured
    process accepts) holding the same session ticket key, and this process's
    server opens the ticket with it (``SSLContext.set_session_ticket_keys``;
    ``SSL_CTX_set_tlsext_ticket_key_evp_cb`` in C): a fleet of processes
    behind a load balancer.  Only tlsfast (c) and the C floor have shared
    ticket keys.
"""

import os
import socket
import subprocess
import time

from .cfloor import peer_cmd
from .common import HOSTNAME, BenchError, check, listen_tcp

_now = time.perf_counter_ns
_cpu = time.process_time_ns


def _fast_step(conn):
    """tlsfast's step: ``try_do_handshake`` (0 when done, no exception)."""
    return conn.try_do_handshake() == 0


def _loop(impl, kind, count, session=None, server_side="ecdsa"):
    """``count`` handshakes, each on a fresh socketpair; the number that
    finished.  Steps are each implementation's natural non-blocking API:
    tlsfast's fast path, the want exceptions for the stdlib and pyOpenSSL
    (``Impl.handshake_step``).  ``session``: every client offers it (and
    the last connection must have resumed it) against the server context
    ``server_side`` (``Impl.ctx``)."""
    step = _fast_step if impl.style == "fast" else impl.handshake_step
    socketpair = socket.socketpair
    if session is None:
        client, server = impl.client, impl.server
    else:
        cctx, sctx = impl.ctx("client"), impl.ctx(server_side)

        def client(sock):
            return cctx.wrap_socket(sock, server_hostname=HOSTNAME,
                                    do_handshake_on_connect=False, session=session)

        def server(sock, kind):
            return sctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
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
            if session is not None:
                check(c.session_reused and s.session_reused,
                      "%s: the session was not resumed", impl.name)
        impl.close(c, s)
    return done


def _timed(impl, kind, count, session=None, server_side="ecdsa"):
    c0 = _cpu()
    t0 = _now()
    done = _loop(impl, kind, count, session, server_side)
    t1 = _now()
    c1 = _cpu()
    if done != count:
        raise BenchError(f"{done} of {count} handshakes finished")
    return {"ops": done, "wall_ns": t1 - t0, "cpu_ns": c1 - c0}


def handshakes(impl, p):
    return _timed(impl, p["cert"], p["count"])


def _local_session(impl):
    """A session from a full handshake with this process's server context
    (the tickets read by ``Impl.pair``)."""
    c, s = impl.pair()
    session = c.session
    impl.close(c, s)
    return session


#: the session ticket key the measured process and ``c_floor peer-issue``
#: share (one per run, the layout of ``set_session_ticket_keys``)
TICKET_KEY = os.urandom(80)


def _keyed_ctx(impl):
    """The ECDSA server context of ``impl``, sealing and opening tickets
    with ``TICKET_KEY``."""
    side = "ecdsa-keyed"
    if side not in impl._ctx:
        ctx = impl._make_ctx("ecdsa")
        ctx.set_session_ticket_keys([TICKET_KEY])
        impl._ctx[side] = ctx
    return impl._ctx[side]


def _session_from_peer(impl, certs):
    """A session issued by another process holding ``TICKET_KEY``
    (``c_floor peer-issue``): the peer connects to us over TCP loopback and
    is the TLS server there; we are the client and wait for its one byte,
    which comes after the tickets."""
    lsock, port = listen_tcp(backlog=4)
    peer = subprocess.Popen(peer_cmd(certs, "peer-issue", port, TICKET_KEY.hex()),
                            stdout=subprocess.PIPE, text=True)
    try:
        lsock.settimeout(10)
        sock, _ = lsock.accept()
        sock.settimeout(10)
        conn = impl.ctx("client").wrap_socket(sock, server_hostname=HOSTNAME)
        check(conn.recv(1) == b"t", "peer-issue sent no byte")
        session = conn.session
        conn.close()
        out, _ = peer.communicate(timeout=10)
        check(peer.returncode == 0 and '"issued": 1' in out, "peer-issue failed: %r", out)
    finally:
        if peer.poll() is None:
            peer.kill()
            peer.wait()
        lsock.close()
    return session


def resumed(impl, p):
    session = _local_session(impl)
    return _timed(impl, "ecdsa", p["count"], session)


def resumed_keys(impl, p):
    _keyed_ctx(impl)
    session = _session_from_peer(impl, impl.certs)
    return _timed(impl, "ecdsa", p["count"], session, "ecdsa-keyed")


def workloads():
    from .runner import Workload, Target
    return [
        Workload("handshake_ecdsa", "handshake", "full handshakes, ECDSA P-256 (both ends)", "rate",
                 quick={"cert": "ecdsa", "count": 120}, full={"cert": "ecdsa", "count": 500},
                 py=handshakes, c="handshake", target=Target("c-floor", 1.03)),
        Workload("handshake_rsa", "handshake", "full handshakes, RSA-2048 (both ends)", "rate",
                 quick={"cert": "rsa", "count": 60}, full={"cert": "rsa", "count": 250},
                 py=handshakes, c="handshake", target=Target("c-floor", 1.03)),
        Workload("handshake_resumed", "handshake", "resumed handshakes, TLS 1.3 ticket (both ends)",
                 "rate", quick={"count": 200}, full={"count": 800},
                 py=resumed, c="handshake_resumed",
                 impls=("c-floor", "tlsfast-c", "tlsfast-python", "stdlib"),
                 target=Target("c-floor", 1.05)),
        Workload("handshake_resumed_keys", "handshake",
                 "resumed handshakes, ticket from another process (shared keys)", "rate",
                 quick={"count": 200, "keys": TICKET_KEY.hex()},
                 full={"count": 800, "keys": TICKET_KEY.hex()},
                 py=resumed_keys, c="handshake_resumed", impls=("c-floor", "tlsfast-c"),
                 target=Target("c-floor", 1.05)),
    ]
