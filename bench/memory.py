"""Memory per idle connection: the RSS delta of a fresh server process
holding CONNS handshaken, idle TLS connections, divided by CONNS.

Each implementation runs in a process of its own (``python -m bench.memory``
for the Python ones, ``c_floor serve`` for C) so no earlier workload's heap
is counted.  The process makes its contexts, listens, reads its RSS
(``/proc/self/statm``), starts ``c_floor peer-hold`` (another process opening
CONNS connections, 64 connects in flight), accepts and handshakes them all
with a ``selectors`` (``epoll``) loop, drops every selector registration,
collects garbage and reads its RSS again.  What is counted: the socket
objects, the TLS objects and OpenSSL's per-connection state and buffers --
not the kernel's socket buffers, which are the same for everyone.

RLIMIT_NOFILE is raised to its hard limit; when that is below CONNS + 64 the
row measures the largest count allowed and says so (``conns`` in the JSON).
"""

import gc
import json
import os
import resource
import selectors
import subprocess
import sys
import time

from .common import BenchError, Certs, check, listen_tcp

RESERVED_FDS = 64


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def allowed_conns(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        return want
    return max(1, min(want, hard - RESERVED_FDS))


def raise_nofile(conns):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = conns + RESERVED_FDS
    if hard != resource.RLIM_INFINITY:
        target = min(target, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def child(impl_name, conns, certdir, cfloor_bin):
    """The measured server process (a Python implementation)."""
    from .common import load_impls
    raise_nofile(conns)
    impl = load_impls(Certs(certdir), [impl_name])[impl_name]
    impl.ctx("ecdsa")
    lsock, port = listen_tcp(backlog=4096)
    lsock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ, None)
    held = []
    gc.collect()
    before = rss_bytes()
    peer = subprocess.Popen([cfloor_bin, "peer-hold", certdir, str(port), str(conns)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    t0 = time.perf_counter_ns()
    c0 = time.process_time_ns()
    step = impl.handshake_step
    while len(held) < conns:
        events = sel.select(20)
        if not events:
            peer.kill()
            raise BenchError(f"memory: stuck at {len(held)} of {conns} handshakes")
        for key, _ in events:
            if key.data is None:
                while True:
                    try:
                        sock, _ = lsock.accept()
                    except BlockingIOError:
                        break
                    sock.setblocking(False)
                    conn = impl.server(sock)
                    sel.register(conn, selectors.EVENT_READ, conn)
                continue
            conn = key.data
            if step(conn):
                sel.unregister(conn)
                held.append(conn)
    c1 = time.process_time_ns()
    t1 = time.perf_counter_ns()
    impl.check(held[-1])
    sel.unregister(lsock)
    sel.close()
    events = key = conn = None
    gc.collect()
    after = rss_bytes()
    out, _ = peer.communicate(timeout=60)
    peer_result = json.loads(out.strip().splitlines()[-1])
    check(peer.returncode == 0 and peer_result.get("established") == conns,
          "memory: peer held %s of %d", peer_result.get("established"), conns)
    impl.close(*held)
    lsock.close()
    return {"ops": conns, "wall_ns": t1 - t0, "cpu_ns": c1 - c0, "conns": conns,
            "rss_before": before, "rss_after": after,
            "bytes_per_conn": (after - before) / conns, "peer": peer_result}


def memory(name, p, ctx):
    """Runner: a fresh process per implementation and repetition."""
    from .cfloor import BINARY
    conns = allowed_conns(p["conns"])
    if name == "c-floor":
        cmd = [BINARY, "serve", ctx.certs.dir]
        inp = f"memory conns={conns}\n"
    else:
        import tlsfast
        # the child imports this suite and the very tlsfast this process uses
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        here = os.path.dirname(os.path.dirname(os.path.abspath(tlsfast.__file__)))
        cmd = [sys.executable, "-m", "bench.memory", name, str(conns), ctx.certs.dir, BINARY]
        inp = ""
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [here, repo] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.run(cmd, input=inp, capture_output=True, text=True, timeout=300,
                          env=None if name == "c-floor" else env)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or lines or ["no output"])[-1]
        raise BenchError(f"memory child failed (exit {proc.returncode}): {tail}")
    raw = json.loads(lines[-1])
    if raw.get("ok") is False:
        raise BenchError(raw.get("error"))
    check(raw["conns"] == conns and raw["ops"] == conns, "memory: %s connections", raw.get("conns"))
    if conns != p["conns"]:
        raw["note"] = f"RLIMIT_NOFILE hard limit allows {conns} of {p['conns']}"
    return raw


def workloads():
    from .runner import Workload, Target
    rows = []
    for conns in (1000, 10000):
        allowed = allowed_conns(conns)
        note = "" if allowed == conns else (
            f"RLIMIT_NOFILE's hard limit forbids {conns:,}: measured at {allowed:,}")
        rows.append(Workload(
            f"memory_{conns // 1000}k", "memory", f"memory per idle connection, {allowed:,} conns",
            "bytes", quick={"conns": conns}, full={"conns": conns}, runner=memory,
            max_reps=1 if conns >= 10000 else 3, quick_max_reps=1, target=Target("stdlib", 1.0),
            note=note))
    return rows


def main(argv):
    impl_name, conns, certdir, cfloor_bin = argv[0], int(argv[1]), argv[2], argv[3]
    try:
        result = child(impl_name, conns, certdir, cfloor_bin)
    except BenchError as exc:
        print(json.dumps({"ok": False, "error": str(exc)}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
