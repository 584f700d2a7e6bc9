"""Soak test: many connections, checking that memory stays flat.

    python tools/soak.py [--cycles 100000] [--bio-cycles 100000] [--json out.json]
    make soak                       (the same, nice'd; SOAK_ARGS=... to change)

Two phases, both on the compiled implementation (``TLSFAST_IMPL=c``), TLS 1.3:

``socket``
    ``--cycles`` connect / handshake / transfer / close cycles over TCP
    loopback: a tlsfast server in a thread of this process (blocking
    accept loop, echo), a tlsfast client here.  Half the cycles close with a
    TLS shutdown (``unwrap``) first.  Client sockets close with SO_LINGER 0
    so that 100,000 connections do not run the ephemeral ports out through
    TIME_WAIT.
``bio``
    ``--bio-cycles`` full handshakes between two SSLObjects over memory
    BIOs, a small transfer each way, then shutdown; one cycle in ten runs
    over the stdlib's ``ssl.MemoryBIO`` (tlsfast's Python BIO adapter).

For each phase: RSS (``/proc/self/status`` VmRSS) after a warm-up
(``--warmup`` of the cycles) and at the end, with the growth between them and
its slope per 10,000 cycles from samples along the way; ``tracemalloc``
snapshots at the same two points (``--no-tracemalloc`` to skip) and the
largest differences by line, to tell Python-object growth from native
growth.  Exit status 1 if a phase grew more than ``--max-growth-mb`` (RSS)
or ``--max-py-growth-kb`` (tracemalloc), 2 if a cycle failed.

Bounded: ``--time-limit`` seconds per phase (the phase stops early and says
so).  Not part of the test suite.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time
import tracemalloc

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

os.environ.setdefault("TLSFAST_IMPL", "c")
try:
    import importlib.util
    if importlib.util.find_spec("tlsfast") is None:   # not installed: the checkout
        sys.path.insert(0, ROOT)
except ImportError:
    sys.path.insert(0, ROOT)

import tlsfast  # noqa: E402

PAYLOAD = os.urandom(4096)
LINGER_RST = struct.pack("ii", 1, 0)


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def make_certs(directory: str):
    import trustme
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", "127.0.0.1")
    cafile = os.path.join(directory, "ca.pem")
    chain = os.path.join(directory, "server.pem")
    ca.cert_pem.write_to_path(cafile)
    leaf.private_key_and_cert_chain_pem.write_to_path(chain)
    return cafile, chain


def contexts(cafile: str, chain: str):
    server = tlsfast.SSLContext(tlsfast.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(chain)
    server.minimum_version = ssl.TLSVersion.TLSv1_3
    client = tlsfast.SSLContext(tlsfast.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(cafile)
    client.minimum_version = ssl.TLSVersion.TLSv1_3
    return client, server


# --- phase 1: sockets over loopback --------------------------------------------

class EchoServer(threading.Thread):
    """Blocking tlsfast server: one connection at a time, echo until EOF."""

    def __init__(self, ctx):
        super().__init__(name="soak-server", daemon=True)
        self.ctx = ctx
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self.listener.getsockname()[1]
        self.errors = 0
        self.last_error = None
        self.stop = False

    def run(self):
        while not self.stop:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            raw.settimeout(10)
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                with self.ctx.wrap_socket(raw, server_side=True) as conn:
                    while True:
                        data = conn.recv(65536)
                        if not data:
                            try:
                                conn.unwrap()
                            except (OSError, ValueError):
                                pass
                            break
                        conn.sendall(data)
            except (OSError, ValueError) as exc:
                # the client resets after its own close (SO_LINGER 0): only
                # count what happens before the transfer completed
                if not isinstance(exc, (ConnectionResetError, BrokenPipeError)):
                    self.errors += 1
                    self.last_error = exc
            finally:
                raw.close()

    def close(self):
        self.stop = True
        self.listener.close()


def socket_cycle(ctx, port: int, i: int) -> None:
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            n = 256 + (i % 16) * 256
            s.sendall(PAYLOAD[:n])
            got = 0
            while got < n:
                chunk = s.recv(65536)
                if not chunk:
                    raise ConnectionError(f"EOF after {got} of {n} bytes")
                got += len(chunk)
            if i % 2:
                s.unwrap()
    finally:
        raw.close()


# --- phase 2: memory BIOs --------------------------------------------------------

def bio_cycle(cctx, sctx, i: int) -> None:
    bio = ssl.MemoryBIO if i % 10 == 0 else tlsfast.MemoryBIO
    ci, co, si, so = bio(), bio(), bio(), bio()
    client = cctx.wrap_bio(ci, co, server_hostname="localhost")
    server = sctx.wrap_bio(si, so, server_side=True)
    for _ in range(10):
        c = client.try_do_handshake()
        si.write(co.read())
        s = server.try_do_handshake()
        ci.write(so.read())
        if c == 0 and s == 0:
            break
    else:
        raise RuntimeError("memory-BIO handshake did not finish")
    n = 100 + i % 1000
    client.write(PAYLOAD[:n])
    si.write(co.read())
    assert len(server.read(n)) == n
    server.write(PAYLOAD[:n])
    ci.write(so.read())
    assert len(client.read(n)) == n
    # close_notify both ways
    try:
        client.unwrap()
    except ssl.SSLWantReadError:
        pass
    si.write(co.read())
    try:
        server.unwrap()
    except ssl.SSLWantReadError:
        pass
    ci.write(so.read())
    client.unwrap()


# --- the measuring loop -------------------------------------------------------------

def run_phase(name, cycle, n, args):
    from tqdm import tqdm
    warmup = max(1, int(n * args.warmup))
    sample_every = max(1, n // 50)
    samples = []          # (cycle, rss kB) after warm-up
    snap0 = None
    base_rss = None
    failures = 0
    last_failure = None
    start = time.monotonic()
    stopped_early = False
    done = 0
    bar = tqdm(total=n, desc=f"soak {name}", unit="cyc", mininterval=2.0,
               file=sys.stderr, dynamic_ncols=True)
    for i in range(n):
        try:
            cycle(i)
        except Exception as exc:  # noqa: BLE001 - counted, reported
            failures += 1
            last_failure = repr(exc)
            if failures > max(10, n // 1000):
                bar.close()
                raise RuntimeError(f"{name}: too many failed cycles, last: {last_failure}")
        done = i + 1
        bar.update(1)
        if done == warmup:
            gc.collect()
            base_rss = rss_kb()
            samples.append((done, base_rss))
            if args.tracemalloc:
                tracemalloc.start(8)
                snap0 = tracemalloc.take_snapshot()
        elif done > warmup and done % sample_every == 0:
            gc.collect()
            samples.append((done, rss_kb()))
            bar.set_postfix(rss_mb=f"{samples[-1][1] / 1024:.1f}")
        if time.monotonic() - start > args.time_limit:
            stopped_early = True
            break
    bar.close()
    gc.collect()
    end_rss = rss_kb()
    if base_rss is None:
        base_rss = end_rss
    samples.append((done, end_rss))
    top = []
    py_growth = 0
    if args.tracemalloc and snap0 is not None:
        snap1 = tracemalloc.take_snapshot()
        tracemalloc.stop()
        filters = [tracemalloc.Filter(False, tracemalloc.__file__),
                   tracemalloc.Filter(False, "<frozen importlib._bootstrap>")]
        diffs = snap1.filter_traces(filters).compare_to(snap0.filter_traces(filters), "lineno")
        py_growth = sum(d.size_diff for d in diffs)
        for d in diffs[:10]:
            frame = d.traceback[0]
            top.append({"where": f"{frame.filename}:{frame.lineno}", "size_diff_b": d.size_diff,
                        "count_diff": d.count_diff})
    elapsed = time.monotonic() - start
    slope = 0.0
    if len(samples) >= 3:
        xs = [s[0] for s in samples]
        ys = [s[1] for s in samples]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        den = sum((x - mx) ** 2 for x in xs)
        if den:
            slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den * 10000
    return {
        "phase": name,
        "cycles": done,
        "requested": n,
        "stopped_early": stopped_early,
        "failures": failures,
        "last_failure": last_failure,
        "seconds": round(elapsed, 1),
        "cycles_per_s": round(done / elapsed, 1) if elapsed else None,
        "warmup_cycles": warmup,
        "rss_after_warmup_mb": round(base_rss / 1024, 2),
        "rss_end_mb": round(end_rss / 1024, 2),
        "rss_growth_mb": round((end_rss - base_rss) / 1024, 2),
        "rss_slope_kb_per_10k": round(slope, 1),
        "rss_max_mb": round(max(s[1] for s in samples) / 1024, 2),
        "py_growth_kb": round(py_growth / 1024, 1),
        "tracemalloc_top": top,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cycles", type=int, default=100_000, help="socket cycles (0: skip)")
    ap.add_argument("--bio-cycles", type=int, default=100_000, help="memory-BIO cycles (0: skip)")
    ap.add_argument("--warmup", type=float, default=0.05, help="fraction of cycles before the baseline")
    ap.add_argument("--time-limit", type=float, default=3600, help="seconds per phase at most")
    ap.add_argument("--max-growth-mb", type=float, default=8.0)
    ap.add_argument("--max-py-growth-kb", type=float, default=512.0)
    ap.add_argument("--no-tracemalloc", dest="tracemalloc", action="store_false")
    ap.add_argument("--json", help="write the results here too")
    args = ap.parse_args(argv)

    if tlsfast.__impl__ != "c":
        sys.exit("soak: the compiled implementation is not loaded")
    print(f"soak: tlsfast {tlsfast.__impl__} from {os.path.dirname(tlsfast.__file__)}, "
          f"{tlsfast.OPENSSL_VERSION}, pid {os.getpid()}", file=sys.stderr)
    results = []
    with tempfile.TemporaryDirectory() as d:
        cctx, sctx = contexts(*make_certs(d))
        if args.cycles:
            server = EchoServer(sctx)
            server.start()
            try:
                r = run_phase("socket", lambda i: socket_cycle(cctx, server.port, i),
                              args.cycles, args)
            finally:
                server.close()
            r["server_errors"] = server.errors
            r["server_last_error"] = repr(server.last_error) if server.last_error else None
            results.append(r)
        if args.bio_cycles:
            results.append(run_phase("bio", lambda i: bio_cycle(cctx, sctx, i),
                                     args.bio_cycles, args))
    status = 0
    for r in results:
        verdict = "flat"
        if r["rss_growth_mb"] > args.max_growth_mb or r["py_growth_kb"] > args.max_py_growth_kb:
            verdict = "GROWING"
            status = max(status, 1)
        if r["failures"] or r.get("server_errors"):
            status = 2
        print(f"soak {r['phase']}: {r['cycles']}/{r['requested']} cycles in {r['seconds']} s "
              f"({r['cycles_per_s']}/s){' (time limit)' if r['stopped_early'] else ''}; "
              f"RSS {r['rss_after_warmup_mb']} MiB after {r['warmup_cycles']} warm-up cycles -> "
              f"{r['rss_end_mb']} MiB at the end: {r['rss_growth_mb']:+} MiB "
              f"(slope {r['rss_slope_kb_per_10k']:+} kB/10k cycles); tracemalloc "
              f"{r['py_growth_kb']:+} kB; failures {r['failures']}"
              f"{', server errors %d' % r['server_errors'] if 'server_errors' in r else ''}: {verdict}")
        for t in r["tracemalloc_top"][:5]:
            print(f"    {t['size_diff_b']:+8d} B {t['count_diff']:+6d} blocks  {t['where']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "impl": tlsfast.__impl__,
                       "openssl": tlsfast.OPENSSL_VERSION}, f, indent=2)
    return status


if __name__ == "__main__":
    sys.exit(main())
