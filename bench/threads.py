"""Thread scaling: aggregate TLS throughput with 1, 2 and 4 threads, each
thread on its own connection, tlsfast's compiled implementation against the
stdlib ``ssl`` in the same run, interleaved.

    python3 bench/threads.py                 # 3 rounds of 1.0 s per figure
    python3 bench/threads.py --seconds 2 --rounds 5 --threads 1,2,4,8

Set-up: a peer process (this script with ``--serve``; always the compiled
implementation, so only the measured side changes) accepts the connections
and, per connection, either sinks what it receives (``upload``) or sends
256 KiB writes as fast as it can (``download``).  The measured process opens
N loopback connections with the implementation under test, starts N threads
at once (a barrier), and each thread ``sendall``s 256 KiB chunks / reads
with ``recv_into`` a 256 KiB buffer for the measuring window; the figure is
the bytes moved by all threads together divided by the window (MB/s,
10^6 bytes).  TLS 1.3, the default cipher suite (the same for both), a
trustme ECDSA certificate.  Rounds run in the order round -> threads ->
implementation (which one goes first alternates), so slow drifts of a
shared machine hit both alike; the table shows each figure's median over
the rounds and its spread.

This measures how much of the work escapes the GIL: with the stdlib the
GIL is released around every SSL_read/SSL_write; the compiled engine keeps
it for transfers below 64 KiB and releases it above (both apply here) and
around every poll().  The peer process competes for the same cores, so on
a 2-core machine the ceiling is low: read the figures as relative.
"""

from __future__ import annotations

import argparse
import importlib
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CHUNK = 256 * 1024


def _tlsfast_c():
    sys.path.insert(0, ROOT)
    os.environ.pop("TLSFAST_IMPL", None)
    mod = importlib.import_module("tlsfast._tls_c")
    common = importlib.import_module("tlsfast._common")
    return mod, common


def _make_certs(directory):
    import trustme
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost")
    paths = {"ca": os.path.join(directory, "ca.pem"),
             "chain": os.path.join(directory, "chain.pem"),
             "key": os.path.join(directory, "key.pem")}
    ca.cert_pem.write_to_path(paths["ca"])
    with open(paths["chain"], "wb") as f:
        for blob in leaf.cert_chain_pems:
            f.write(blob.bytes())
    leaf.private_key_pem.write_to_path(paths["key"])
    return paths


# --------------------------------------------------------------------------
# the peer process
# --------------------------------------------------------------------------

def serve(chain, key, ready_fd):
    mod, common = _tlsfast_c()
    ctx = mod.SSLContext(common.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain, key)
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    os.write(ready_fd, f"{lsock.getsockname()[1]}\n".encode())
    os.close(ready_fd)
    payload = os.urandom(CHUNK)

    def handle(raw):
        raw.settimeout(30)
        try:
            sock = ctx.wrap_socket(raw, server_side=True)
            mode = sock.recv(1)
            if mode == b"U":
                buf = bytearray(CHUNK)
                while sock.recv_into(buf):
                    pass
            elif mode == b"D":
                while True:
                    sock.sendall(payload)
        except (OSError, ValueError):
            pass
        finally:
            raw.close()

    while True:
        raw, _ = lsock.accept()
        threading.Thread(target=handle, args=(raw,), daemon=True).start()


# --------------------------------------------------------------------------
# the measured side
# --------------------------------------------------------------------------

def measure(ctx, port, threads, direction, seconds):
    """Aggregate MB/s of ``threads`` connections moving data for ``seconds``."""
    socks = []
    for _ in range(threads):
        raw = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock = ctx.wrap_socket(raw, server_hostname="localhost")
        sock.sendall(b"U" if direction == "upload" else b"D")
        socks.append(sock)
    barrier = threading.Barrier(threads + 1)
    stop = threading.Event()
    counts = [0] * threads
    errors = []
    payload = os.urandom(CHUNK)

    def work(i):
        sock = socks[i]
        buf = bytearray(CHUNK)
        n = 0
        try:
            barrier.wait(30)
            if direction == "upload":
                while not stop.is_set():
                    sock.sendall(payload)
                    n += CHUNK
            else:
                while not stop.is_set():
                    got = sock.recv_into(buf)
                    if not got:
                        raise RuntimeError("peer closed")
                    n += got
        except Exception as exc:  # noqa: BLE001 - reported
            errors.append(exc)
        counts[i] = n

    workers = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(threads)]
    for w in workers:
        w.start()
    barrier.wait(30)
    t0 = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for w in workers:
        w.join(30)
    elapsed = time.perf_counter() - t0
    for sock in socks:
        try:
            sock.close()
        except OSError:
            pass
    if errors:
        raise RuntimeError(f"{len(errors)} worker(s) failed: {errors[0]!r}")
    return sum(counts) / elapsed / 1e6


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="measuring window per figure")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", default="1,2,4")
    parser.add_argument("--serve", nargs=3, metavar=("CHAIN", "KEY", "FD"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve[0], args.serve[1], int(args.serve[2]))
        return 0

    counts = [int(x) for x in args.threads.split(",")]
    mod, common = _tlsfast_c()
    with tempfile.TemporaryDirectory(prefix="tlsfast-threads-") as tmp:
        paths = _make_certs(tmp)
        rfd, wfd = os.pipe()
        peer = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve",
                                 paths["chain"], paths["key"], str(wfd)], pass_fds=(wfd,))
        os.close(wfd)
        with os.fdopen(rfd) as ready:
            port = int(ready.readline())
        try:
            contexts = {}
            for name, m in (("tlsfast-c", mod), ("stdlib", ssl)):
                ctx = m.SSLContext(common.PROTOCOL_TLS_CLIENT)
                ctx.load_verify_locations(paths["ca"])
                ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
                contexts[name] = ctx
            results = {}
            names = list(contexts)
            for r in range(args.rounds):
                for direction in ("upload", "download"):
                    for n in counts:
                        # alternate which implementation goes first
                        for name in (names if r % 2 == 0 else names[::-1]):
                            mbps = measure(contexts[name], port, n, direction, args.seconds)
                            results.setdefault((direction, n, name), []).append(mbps)
                print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
        finally:
            peer.kill()
            peer.wait(10)

    print(f"# thread scaling, {args.rounds} rounds x {args.seconds:g} s, median MB/s "
          f"({os.cpu_count()} CPUs, {ssl.OPENSSL_VERSION}, Python {sys.version.split()[0]})")
    print(f"{'direction':<9} {'threads':>7} {'tlsfast-c':>10} {'stdlib':>10} {'c/stdlib':>9} "
          f"{'c vs 1 thr':>10} {'stdlib vs 1':>11}   spread (min-max) c | stdlib")
    for direction in ("upload", "download"):
        base = {name: statistics.median(results[(direction, counts[0], name)])
                for name in contexts}
        for n in counts:
            c = statistics.median(results[(direction, n, "tlsfast-c")])
            s = statistics.median(results[(direction, n, "stdlib")])
            rc, rs = results[(direction, n, "tlsfast-c")], results[(direction, n, "stdlib")]
            print(f"{direction:<9} {n:>7} {c:>10.0f} {s:>10.0f} {c / s:>9.2f} "
                  f"{c / base['tlsfast-c']:>10.2f} {s / base['stdlib']:>11.2f}   "
                  f"{min(rc):.0f}-{max(rc):.0f} | {min(rs):.0f}-{max(rs):.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
