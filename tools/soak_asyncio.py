#!/usr/bin/env python3
"""Soak test of ``tlsfast.asyncio``: many concurrent connections, and many
connect/close cycles with the descriptor count and RSS checked.

    python tools/soak_asyncio.py [--impl c|python|stdlib] [--loop asyncio|uvloop]
    make soak-asyncio                 (every combination; SOAK_ASYNCIO_ARGS=...)

``--impl c`` / ``python``: tlsfast contexts of that implementation on a loop
with ``tlsfast.asyncio.install()``, so ``asyncio.start_server`` /
``asyncio.open_connection`` run tlsfast's transport at both ends.
``--impl stdlib``: the stdlib's ``ssl`` contexts and asyncio's own SSL
transport (the reference figures).  TLS 1.3, an ECDSA certificate from
trustme, loopback only.

Two phases in one event loop, the server and the clients in this process
(``cycles`` runs first, on a heap not yet grown by ``concurrent``):

``concurrent``
    an echo server and ``--clients`` (1,000) clients connected at the same
    time; each sends ``--payload`` bytes of its own random data, reads the
    echo back and compares every byte, then closes.  All of them are
    connected before any starts sending (a barrier), so the loop really
    holds that many TLS connections at once.
``cycles``
    ``--cycles`` (10,000) connect / handshake / 64-byte echo / close
    cycles, ``--parallel`` at a time.  Descriptors (``/proc/self/fd``) and
    RSS (``/proc/self/status`` VmRSS) are measured after ``--warmup``
    cycles and at the end, once the server has closed every connection:
    the descriptor count must be back where it was (``--max-fd-growth``,
    default 0) and RSS may grow by at most ``--max-rss-growth-mb``.

Every wait is bounded (``--time-limit`` per phase).  ``ulimit -n`` is raised
to what the phases need (``resource.setrlimit``, up to the hard limit).
Exit status: 0 when both phases passed, 1 when a check failed.
Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < needed:
            raise SystemExit(f"RLIMIT_NOFILE hard limit {hard} < {needed} descriptors needed")


def make_contexts(impl: str):
    """(server_ctx, client_ctx) for ``impl``: tlsfast's or the stdlib's."""
    import trustme
    if impl == "stdlib":
        import ssl as module
    else:
        os.environ["TLSFAST_IMPL"] = impl
        sys.path.insert(0, ROOT)
        import tlsfast as module
        if module.__impl__ != impl:
            raise SystemExit(f"tlsfast.__impl__ is {module.__impl__!r}, wanted {impl!r}")
    ca = trustme.CA(key_type=trustme.KeyType.ECDSA)
    cert = ca.issue_cert("localhost", "127.0.0.1", key_type=trustme.KeyType.ECDSA)
    tmp = tempfile.mkdtemp(prefix="soak-asyncio-")
    chain, key, ca_pem = (os.path.join(tmp, n) for n in ("chain.pem", "key.pem", "ca.pem"))
    with open(chain, "wb") as f:
        f.write(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(key)
    ca.cert_pem.write_to_path(ca_pem)
    server = module.SSLContext(module.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(chain, key)
    client = module.SSLContext(module.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(ca_pem)
    for ctx in (server, client):
        ctx.minimum_version = module.TLSVersion.TLSv1_3
    return server, client


class Echo:
    """The echo server's connection handler, counting live connections."""

    def __init__(self):
        self.active = 0
        self.served = 0
        self.errors: list[BaseException] = []

    async def __call__(self, reader, writer):
        self.active += 1
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError) as exc:
            self.errors.append(exc)
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass
            self.active -= 1
            self.served += 1

    async def quiesce(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.active and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if self.active:
            raise TimeoutError(f"{self.active} server connections still open after {timeout}s")


async def echo_once(port, client_ctx, payload: bytes) -> None:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=client_ctx, server_hostname="localhost")
    try:
        writer.write(payload)
        await writer.drain()
        echoed = await reader.readexactly(len(payload))
        if echoed != payload:
            raise AssertionError("echoed bytes differ from the bytes sent")
    finally:
        writer.close()
        await writer.wait_closed()


async def phase_concurrent(args, server_ctx, client_ctx) -> dict:
    echo = Echo()
    server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=server_ctx,
                                        backlog=args.clients + 100)
    port = server.sockets[0].getsockname()[1]
    connected = 0
    all_connected = asyncio.Event()
    peak = {"client_fds": 0}

    async def client(i: int):
        nonlocal connected
        payload = os.urandom(args.payload)
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_ctx, server_hostname="localhost")
        try:
            connected += 1
            if connected == args.clients:
                peak["client_fds"] = fd_count()
                all_connected.set()
            await all_connected.wait()
            writer.write(payload)
            await writer.drain()
            echoed = await reader.readexactly(len(payload))
            if echoed != payload:
                raise AssertionError(f"client {i}: echoed bytes differ")
            return len(echoed)
        finally:
            writer.close()
            await writer.wait_closed()

    fds0 = fd_count()
    t0 = time.monotonic()
    try:
        results = await asyncio.wait_for(
            asyncio.gather(*(client(i) for i in range(args.clients)), return_exceptions=True),
            args.time_limit)
    finally:
        server.close()
    await echo.quiesce(30)
    await server.wait_closed()
    elapsed = time.monotonic() - t0
    failures = [r for r in results if isinstance(r, BaseException)]
    ok_bytes = sum(r for r in results if isinstance(r, int))
    gc.collect()
    fds1 = fd_count()
    out = dict(phase="concurrent", clients=args.clients, payload=args.payload,
               ok=len(results) - len(failures), failed=len(failures),
               bytes_checked=ok_bytes, seconds=round(elapsed, 2),
               fds_before=fds0, fds_all_connected=peak["client_fds"], fds_after=fds1,
               server_errors=len(echo.errors))
    out["passed"] = (not failures and ok_bytes == args.clients * args.payload
                     and fds1 <= fds0 + args.max_fd_growth
                     and peak["client_fds"] >= fds0 + 2 * args.clients)
    if failures:
        out["first_failure"] = repr(failures[0])
    return out


async def phase_cycles(args, server_ctx, client_ctx) -> dict:
    echo = Echo()
    server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=server_ctx, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    payload = b"x" * 64
    counter = {"next": 0}
    failures: list[BaseException] = []

    async def run(total: int):
        async def worker():
            while counter["next"] < total:
                counter["next"] += 1
                try:
                    await echo_once(port, client_ctx, payload)
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    failures.append(exc)
        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(args.parallel))),
                               args.time_limit)
        await echo.quiesce(30)

    t0 = time.monotonic()
    try:
        await run(args.warmup)
        gc.collect()
        await asyncio.sleep(0.1)
        fds0, rss0 = fd_count(), rss_kib()
        await run(args.warmup + args.cycles)
        gc.collect()
        await asyncio.sleep(0.1)
        fds1, rss1 = fd_count(), rss_kib()
    finally:
        server.close()
    await server.wait_closed()
    growth_mb = (rss1 - rss0) / 1024
    out = dict(phase="cycles", cycles=args.cycles, warmup=args.warmup, parallel=args.parallel,
               failed=len(failures), seconds=round(time.monotonic() - t0, 2),
               fds_before=fds0, fds_after=fds1, rss_before_mb=round(rss0 / 1024, 1),
               rss_after_mb=round(rss1 / 1024, 1), rss_growth_mb=round(growth_mb, 2),
               served=echo.served)
    out["passed"] = (not failures and fds1 <= fds0 + args.max_fd_growth
                     and growth_mb <= args.max_rss_growth_mb
                     and echo.served == args.warmup + args.cycles)
    if failures:
        out["first_failure"] = repr(failures[0])
    return out


async def main_async(args) -> list[dict]:
    server_ctx, client_ctx = make_contexts(args.impl)
    if args.impl != "stdlib":
        import tlsfast.asyncio
        tlsfast.asyncio.install(asyncio.get_running_loop())
    results = []
    # cycles first: after the concurrent phase the heap holds the freed
    # buffers of 2,000 connections, which a leak could reuse unseen in RSS
    if "cycles" in args.phase:
        results.append(await phase_cycles(args, server_ctx, client_ctx))
    if "concurrent" in args.phase:
        results.append(await phase_concurrent(args, server_ctx, client_ctx))
    return results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--impl", choices=("c", "python", "stdlib"), default="c")
    p.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    p.add_argument("--phase", action="append", choices=("concurrent", "cycles"))
    p.add_argument("--clients", type=int, default=1000)
    p.add_argument("--payload", type=int, default=32 * 1024, help="bytes per client")
    p.add_argument("--cycles", type=int, default=10000)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--parallel", type=int, default=20)
    p.add_argument("--max-fd-growth", type=int, default=0)
    p.add_argument("--max-rss-growth-mb", type=float, default=8.0)
    p.add_argument("--time-limit", type=float, default=300.0, help="seconds per phase")
    p.add_argument("--json", metavar="FILE")
    args = p.parse_args(argv)
    args.phase = args.phase or ["concurrent", "cycles"]
    raise_fd_limit(2 * args.clients + 256)
    if args.loop == "uvloop":
        import uvloop
        factory = uvloop.new_event_loop
    else:
        factory = asyncio.new_event_loop
    loop = factory()
    try:
        results = loop.run_until_complete(main_async(args))
    finally:
        loop.close()
    label = f"impl={args.impl} loop={args.loop}"
    for r in results:
        print(f"{label} " + " ".join(f"{k}={v}" for k, v in r.items()), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"impl": args.impl, "loop": args.loop, "results": results}, f, indent=1)
    return 0 if all(r["passed"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
