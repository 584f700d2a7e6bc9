"""Per-call micro-benchmarks: tlsfast (c), tlsfast (python) and stdlib ``ssl``.

Workloads (each implementation as the client of a socketpair connection whose
server end is the stdlib, TLS 1.3, same cipher):

* ``recv_into64``  -- ns per ``recv_into(buf, 64)`` of data already decrypted
  and buffered in OpenSSL (the first read of each 16 KiB record, which
  decrypts it, is not timed);
* ``wantread_exc`` -- ns per ``recv_into`` on an empty non-blocking socket,
  raising ``SSLWantReadError`` (caught);
* ``wantread_fast`` -- the same through ``try_recv_into`` returning
  ``WANT_READ`` (tlsfast only; the stdlib has no such path).

Method: implementations run round-robin inside each repetition; a
repetition's ratios are computed from that repetition's figures; the report
gives medians over repetitions.  Run: ``python bench/micro.py [--reps 15]``.
"""

import argparse
import json
import os
import socket
import ssl
import statistics
import sys
import time

import trustme

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tlsfast._tls_py as _py  # noqa: E402

try:
    import tlsfast._tls_c as _c  # noqa: E402
except ImportError:
    _c = None

RECORD = 16384
READ = 64


def _pair(client_ctx, server_ctx):
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    client = client_ctx.wrap_socket(a, server_hostname="localhost", do_handshake_on_connect=False)
    server = server_ctx.wrap_socket(b, server_side=True, do_handshake_on_connect=False)
    done = [False, False]
    for _ in range(1000):
        for i, s in enumerate((client, server)):
            if done[i]:
                continue
            try:
                s.do_handshake()
                done[i] = True
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
        if all(done):
            return client, server
    raise RuntimeError("handshake did not finish")


class Setup:
    def __init__(self):
        ca = trustme.CA()
        cert = ca.issue_cert("localhost")
        self.server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(self.server_ctx)
        self.ca_pem = ca.cert_pem.bytes().decode()

    def client_ctx(self, mod):
        ctx = mod.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cadata=self.ca_pem)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        return ctx


def bench_recv_into64(client, server, records=40):
    buf = bytearray(READ)
    payload = b"x" * RECORD
    total_ns = 0
    calls = 0
    for _ in range(records):
        server.sendall(payload)
        # first read decrypts the record: not timed
        got = None
        for _ in range(10000):
            try:
                got = client.recv_into(buf, READ)
                break
            except ssl.SSLWantReadError:
                pass
        assert got == READ, got
        n = RECORD // READ - 1
        recv_into = client.recv_into
        t0 = time.perf_counter_ns()
        for _ in range(n):
            recv_into(buf, READ)
        total_ns += time.perf_counter_ns() - t0
        calls += n
    return total_ns / calls


def bench_wantread_exc(client, n=20000):
    buf = bytearray(READ)
    recv_into = client.recv_into
    err = ssl.SSLWantReadError
    t0 = time.perf_counter_ns()
    for _ in range(n):
        try:
            recv_into(buf, READ)
        except err:
            pass
    return (time.perf_counter_ns() - t0) / n


def bench_wantread_fast(client, n=20000):
    buf = bytearray(READ)
    try_recv_into = client.try_recv_into
    t0 = time.perf_counter_ns()
    for _ in range(n):
        try_recv_into(buf, READ)
    return (time.perf_counter_ns() - t0) / n


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--json", help="write the raw figures here")
    args = ap.parse_args(argv)
    if _c is None:
        sys.exit("tlsfast._tls_c is not built: run `make build` first")
    setup = Setup()
    impls = {"stdlib": ssl, "tlsfast-c": _c, "tlsfast-python": _py}
    conns = {name: _pair(setup.client_ctx(mod), setup.server_ctx) for name, mod in impls.items()}
    for name, (client, _) in conns.items():
        assert client.version() == "TLSv1.3", (name, client.version())
    rows = {k: {name: [] for name in impls} for k in ("recv_into64", "wantread_exc", "wantread_fast")}
    for _ in range(args.reps):
        for name, (client, server) in conns.items():
            rows["recv_into64"][name].append(bench_recv_into64(client, server))
            rows["wantread_exc"][name].append(bench_wantread_exc(client))
            if name != "stdlib":
                rows["wantread_fast"][name].append(bench_wantread_fast(client))
    print(f"tlsfast micro-benchmarks: {args.reps} repetitions, medians; "
          f"Python {sys.version.split()[0]}, {ssl.OPENSSL_VERSION}")
    print(f"{'workload':<16}{'stdlib ns':>11}{'c ns':>9}{'python ns':>11}{'c/stdlib':>10}")
    result = {}
    for work, per in rows.items():
        med = {name: statistics.median(v) for name, v in per.items() if v}
        std = per["stdlib"] or per["tlsfast-c"] if work == "wantread_fast" else per["stdlib"]
        if work == "wantread_fast":
            # fast path vs the stdlib's only way (the exception), same repetition
            std = rows["wantread_exc"]["stdlib"]
        ratios = [c / s for c, s in zip(per["tlsfast-c"], std)]
        result[work] = {"median_ns": med, "c_over_stdlib": statistics.median(ratios)}
        print(f"{work:<16}{statistics.median(std):>11.0f}{med['tlsfast-c']:>9.0f}"
              f"{med['tlsfast-python']:>11.0f}{statistics.median(ratios):>10.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
