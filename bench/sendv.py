#!/usr/bin/env python3
"""Coalesced writes: a response written as headers + body, three ways.

    python bench/sendv.py [--impls c,python,stdlib] [--n N] [--reps R]
                          [--header BYTES] [--body BYTES] [--only VARIANT]

Per response, on a TLS 1.3 (AES-256-GCM) server socket over loopback TCP
whose peer (another thread, raw socket under its finished handshake)
drains the ciphertext without decrypting it:

* ``2x sendall``   ``sendall(headers)``, ``sendall(body)`` (what
                   gevent.pywsgi does): one TLS record each
* ``join+sendall`` ``sendall(headers + body)``: one record, one copy in
                   Python
* ``sendmsg``      ``sendmsg([headers, body])`` (tlsfast only): one record
                   while they fit in 16 KiB, large bodies straight from
                   their memory

The implementations are tlsfast's (``c``, ``python``) and the stdlib's
``ssl`` (``stdlib``; no ``sendmsg`` there).  Each repetition runs every
(implementation, variant) for N responses, in an order rotated between
repetitions; the report gives the median ns per response and the median
of the within-repetition ratios to ``2x sendall`` of the same
implementation, and the TLS records per response, counted exactly from the
ciphertext the peer received: (ciphertext - plaintext) / 22 bytes (TLS 1.3
record header 5 + content type 1 + GCM tag 16; the server sends no session
tickets).  ``--only sendmsg`` etc. runs one variant (for callgrind: run
twice with two N and subtract).
"""

from __future__ import annotations

import argparse
import os
import socket
import ssl
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

VARIANTS = ("2x sendall", "join+sendall", "sendmsg")
OVERHEAD = 5 + 1 + 16


def _module(impl: str):
    if impl == "stdlib":
        return ssl
    import importlib
    return importlib.import_module({"c": "tlsfast._tls_c", "python": "tlsfast._tls_py"}[impl])


class Conn:
    """A server socket of ``impl`` and a draining peer counting bytes."""

    def __init__(self, impl: str, certdir: str):
        mod = _module(impl)
        sctx = mod.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(os.path.join(certdir, "server.pem"), os.path.join(certdir, "server.key"))
        sctx.num_tickets = 0
        sctx.set_ciphers("ECDHE+AESGCM")
        cctx = ssl.create_default_context(cafile=os.path.join(certdir, "ca.pem"))
        lsock = socket.create_server(("127.0.0.1", 0))
        raw_client = socket.create_connection(lsock.getsockname())
        raw_server, _ = lsock.accept()
        lsock.close()
        for s in (raw_client, raw_server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        done = {}
        t = threading.Thread(target=lambda: done.setdefault(
            "c", cctx.wrap_socket(raw_client, server_hostname="localhost")))
        t.start()
        self.sock = sctx.wrap_socket(raw_server, server_side=True)
        t.join(10)
        self.client = done["c"]
        # the peer reads the raw ciphertext under its finished handshake
        self.raw = socket.socket(fileno=os.dup(self.client.fileno()))
        self.received = 0
        self._stop = False
        self.drainer = threading.Thread(target=self._drain, daemon=True)
        self.drainer.start()

    def _drain(self):
        buf = bytearray(1 << 20)
        while True:
            n = self.raw.recv_into(buf)
            if not n:
                return
            self.received += n

    def wait_for(self, total: int, timeout: float = 30.0):
        end = time.monotonic() + timeout
        while self.received < total:
            if time.monotonic() > end:
                raise RuntimeError(f"peer got {self.received} of {total} bytes")
            time.sleep(0.001)

    def close(self):
        self.sock.close()
        self.raw.close()
        self.client.close()


def run_variant(conn: Conn, variant: str, header: bytes, body: bytes, n: int):
    sock = conn.sock
    start_bytes = conn.received
    sendall = sock.sendall
    t0 = time.perf_counter_ns()
    if variant == "2x sendall":
        for _ in range(n):
            sendall(header)
            sendall(body)
    elif variant == "join+sendall":
        for _ in range(n):
            sendall(header + body)
    else:
        sendmsg = sock.sendmsg
        pieces = [header, body]
        for _ in range(n):
            sendmsg(pieces)
    elapsed = time.perf_counter_ns() - t0
    plain = n * (len(header) + len(body))
    # the ciphertext is plaintext + OVERHEAD per record: wait for it all
    deadline = time.monotonic() + 30
    last = -1
    while True:
        got = conn.received - start_bytes
        if got >= plain and (got - plain) % OVERHEAD == 0 and got == last:
            break
        if time.monotonic() > deadline:
            raise RuntimeError("ciphertext did not settle")
        last = got
        time.sleep(0.02)
    return elapsed / n, (got - plain) / OVERHEAD / n


def make_certs(directory: str) -> None:
    import trustme
    ca = trustme.CA()
    ca.cert_pem.write_to_path(os.path.join(directory, "ca.pem"))
    leaf = ca.issue_cert("localhost", "127.0.0.1")
    leaf.cert_chain_pems[0].write_to_path(os.path.join(directory, "server.pem"))
    leaf.private_key_pem.write_to_path(os.path.join(directory, "server.key"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--impls", default="c,python,stdlib")
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--header", type=int, default=120)
    ap.add_argument("--body", type=int, default=13)
    ap.add_argument("--only", choices=VARIANTS)
    args = ap.parse_args(argv)
    header, body = b"h" * args.header, b"b" * args.body
    impls = [i for i in args.impls.split(",") if i]
    combos = [(i, v) for i in impls for v in ((args.only,) if args.only else VARIANTS)
              if not (i == "stdlib" and v == "sendmsg")]
    results: dict = {c: [] for c in combos}
    with tempfile.TemporaryDirectory() as certdir:
        make_certs(certdir)
        conns = {i: Conn(i, certdir) for i in impls}
        try:
            for rep in range(args.reps):
                k = rep % len(combos)
                for impl, variant in combos[k:] + combos[:k]:
                    results[(impl, variant)].append(
                        run_variant(conns[impl], variant, header, body, args.n))
        finally:
            for c in conns.values():
                c.close()
    print(f"# {args.reps} reps x {args.n} responses, header {args.header} B, body {args.body} B")
    print(f"{'impl':7s} {'variant':13s} {'ns/resp':>9s} {'ratio':>7s} {'records/resp':>13s}")
    for impl, variant in combos:
        ns = statistics.median(r[0] for r in results[(impl, variant)])
        recs = statistics.median(r[1] for r in results[(impl, variant)])
        base = results.get((impl, "2x sendall"))
        ratio = (statistics.median(a[0] / b[0] for a, b in zip(results[(impl, variant)], base))
                 if base else float("nan"))
        print(f"{impl:7s} {variant:13s} {ns:9.0f} {ratio:6.2f}x {recs:13.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
