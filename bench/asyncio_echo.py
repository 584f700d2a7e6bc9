#!/usr/bin/env python3
"""1 KiB echo round trips over loopback on asyncio (and uvloop): tlsfast's
transport (``tlsfast.asyncio``) vs asyncio's own SSL transport with a stdlib
context (``ssl=``) vs plain TCP, on the same loop.

    python bench/asyncio_echo.py [--reps N] [--trips N] [--apis protocol,buffered,streams]
                                 [--loops asyncio,uvloop] [--impls c,python]
                                 [--json FILE] [--profile CONFIG]

A *configuration* is (loop, API, transport): loop ``asyncio`` or
``uvloop`` (when installed); API ``protocol`` (``data_received``),
``buffered`` (``BufferedProtocol``) or ``streams`` (StreamReader /
StreamWriter); transport ``tlsfast-c`` / ``tlsfast-python`` (tlsfast's
transport, that implementation's context), ``stdlib`` (the loop's SSL
transport, stdlib ``ssl.SSLContext``) or ``plain`` (TCP).  Client and
server run in the same loop, one connection, one 1 KiB message in flight:
each round trip is two TLS records written and two read, plus the loop's
turns.  TLS 1.3, X25519, a trustme ECDSA certificate.

Each repetition runs every configuration once (``--trips`` round trips
after 200 unmeasured ones), the order rotated by one between repetitions;
ratios are taken inside a repetition (tlsfast / plain, stdlib / plain, and
stdlib / tlsfast as tlsfast's speed-up) and the report gives their medians
over repetitions: on a shared, noisy machine the ratios are the figures to
read, not the absolute times.

``--profile CONFIG`` (e.g. ``asyncio/protocol/tlsfast-c``) runs that
configuration once under cProfile instead and prints where the time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import ssl
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import tlsfast.asyncio as ta  # noqa: E402

SIZE = 1024
WARMUP = 200
MESSAGE = os.urandom(SIZE)


# --------------------------------------------------------------------------
# contexts
# --------------------------------------------------------------------------

def make_certs(directory):
    import trustme
    ca = trustme.CA(key_type=trustme.KeyType.ECDSA)
    leaf = ca.issue_cert("localhost", "127.0.0.1", key_type=trustme.KeyType.ECDSA)
    ca_pem = os.path.join(directory, "ca.pem")
    ca.cert_pem.write_to_path(ca_pem)
    chain = os.path.join(directory, "server.pem")
    leaf.private_key_and_cert_chain_pem.write_to_path(chain)
    return ca_pem, chain


def contexts(transport, certs):
    """(server context, client context) for ``transport``; None for plain."""
    if transport == "plain":
        return None, None
    if transport == "stdlib":
        mod = ssl
    else:
        import importlib
        mod = importlib.import_module(
            {"tlsfast-c": "tlsfast._tls_c", "tlsfast-python": "tlsfast._tls_py"}[transport])
    ca_pem, chain = certs
    sctx = mod.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(chain)
    cctx = mod.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.load_verify_locations(ca_pem)
    for ctx in (sctx, cctx):
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
        ctx.set_ecdh_curve("X25519")
    return sctx, cctx


# --------------------------------------------------------------------------
# echo, three ways
# --------------------------------------------------------------------------

class EchoServer(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


class BufferedEchoServer(asyncio.BufferedProtocol):
    def __init__(self):
        self.buffer = bytearray(65536)
        self.view = memoryview(self.buffer)

    def connection_made(self, transport):
        self.transport = transport

    def get_buffer(self, sizehint):
        return self.view

    def buffer_updated(self, nbytes):
        self.transport.write(bytes(self.view[:nbytes]))


class PingClient(asyncio.Protocol):
    """Sends MESSAGE, waits for SIZE bytes back, ``trips`` times."""

    def __init__(self):
        self.got = 0
        self.waiter = None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self._received(len(data))

    def _received(self, n):
        self.got += n
        if self.got >= SIZE and self.waiter is not None:
            self.got -= SIZE
            self.waiter.set_result(None)

    def connection_lost(self, exc):
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc or ConnectionResetError("closed"))

    async def trips(self, count):
        loop = asyncio.get_running_loop()
        write = self.transport.write
        for _ in range(count):
            self.waiter = loop.create_future()
            write(MESSAGE)
            await self.waiter


class BufferedPingClient(PingClient, asyncio.BufferedProtocol):
    def __init__(self):
        super().__init__()
        self.view = memoryview(bytearray(65536))

    def get_buffer(self, sizehint):
        return self.view

    def buffer_updated(self, nbytes):
        self._received(nbytes)


async def _connect(loop, transport_name, api, port, cctx):
    factory = BufferedPingClient if api == "buffered" else PingClient
    kwargs = {} if cctx is None else {"ssl": cctx, "server_hostname": "localhost"}
    if transport_name.startswith("tlsfast"):
        return await ta.create_connection(loop, factory, "127.0.0.1", port, **kwargs)
    return await loop.create_connection(factory, "127.0.0.1", port, **kwargs)


async def _serve(loop, transport_name, api, sctx):
    kwargs = {} if sctx is None else {"ssl": sctx}
    tls = transport_name.startswith("tlsfast")
    if api == "streams":
        async def handle(reader, writer):
            try:
                while True:
                    data = await reader.readexactly(SIZE)
                    writer.write(data)
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()
        start = ta.start_server if tls else asyncio.start_server
        return await start(handle, "127.0.0.1", 0, **kwargs)
    factory = BufferedEchoServer if api == "buffered" else EchoServer
    if tls:
        return await ta.create_server(loop, factory, "127.0.0.1", 0, **kwargs)
    return await loop.create_server(factory, "127.0.0.1", 0, **kwargs)


async def echo_run(transport_name, api, trips, certs):
    """Wall ns per round trip (after WARMUP unmeasured ones)."""
    loop = asyncio.get_running_loop()
    sctx, cctx = contexts(transport_name, certs)
    server = await _serve(loop, transport_name, api, sctx)
    port = server.sockets[0].getsockname()[1]
    try:
        if api == "streams":
            kwargs = {} if cctx is None else {"ssl": cctx, "server_hostname": "localhost"}
            opener = ta.open_connection if transport_name.startswith("tlsfast") else asyncio.open_connection
            reader, writer = await opener("127.0.0.1", port, **kwargs)

            async def go(count):
                for _ in range(count):
                    writer.write(MESSAGE)
                    await writer.drain()
                    await reader.readexactly(SIZE)
            await go(WARMUP)
            t0 = time.perf_counter_ns()
            await go(trips)
            elapsed = time.perf_counter_ns() - t0
            writer.close()
        else:
            transport, client = await _connect(loop, transport_name, api, port, cctx)
            await client.trips(WARMUP)
            t0 = time.perf_counter_ns()
            await client.trips(trips)
            elapsed = time.perf_counter_ns() - t0
            transport.close()
    finally:
        server.close()
    await asyncio.sleep(0.01)
    return elapsed / trips


def new_loop(kind):
    if kind == "uvloop":
        import uvloop
        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def run_config(config, trips, certs):
    loop_kind, api, transport_name = config.split("/")
    loop = new_loop(loop_kind)
    try:
        return loop.run_until_complete(asyncio.wait_for(
            echo_run(transport_name, api, trips, certs), 120))
    finally:
        loop.close()


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--trips", type=int, default=3000)
    p.add_argument("--apis", default="protocol,buffered,streams")
    p.add_argument("--loops", default="asyncio,uvloop")
    p.add_argument("--impls", default="c", help="tlsfast implementations: c,python")
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--profile", metavar="CONFIG")
    args = p.parse_args(argv)

    loops = [x for x in args.loops.split(",") if x]
    if "uvloop" in loops:
        try:
            import uvloop  # noqa: F401
        except ImportError:
            print("uvloop not installed: asyncio rows only")
            loops.remove("uvloop")
    transports = [f"tlsfast-{i}" for i in args.impls.split(",") if i] + ["stdlib", "plain"]
    configs = [f"{lk}/{api}/{t}" for lk in loops for api in args.apis.split(",")
               for t in transports]

    with tempfile.TemporaryDirectory() as tmp:
        certs = make_certs(tmp)
        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            cost = run_config(args.profile, args.trips, certs)
            prof.disable()
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(25)
            print(f"{args.profile}: {cost / 1000:.1f} us per round trip under cProfile")
            print(out.getvalue())
            return 0
        samples = {c: [] for c in configs}
        ratios = {}
        for rep in range(args.reps):
            order = configs[rep % len(configs):] + configs[:rep % len(configs)]
            this = {c: run_config(c, args.trips, certs) for c in order}
            for c, cost in this.items():
                samples[c].append(cost)
            for lk in loops:
                for api in args.apis.split(","):
                    plain = this[f"{lk}/{api}/plain"]
                    stdlib = this[f"{lk}/{api}/stdlib"]
                    for t in transports:
                        key = f"{lk}/{api}/{t}"
                        ratios.setdefault(key, {"/plain": [], "stdlib/": []})
                        ratios[key]["/plain"].append(this[key] / plain)
                        ratios[key]["stdlib/"].append(stdlib / this[key])
            print(f"repetition {rep + 1}/{args.reps} done", file=sys.stderr)

    rows = []
    print(f"\n1 KiB echo round trips, one connection, same loop; medians of "
          f"{args.reps} interleaved repetitions of {args.trips} trips")
    print(f"{'configuration':36} {'us/trip':>8} {'÷ plain':>8} {'stdlib ÷ this':>14}")
    for c in configs:
        med = statistics.median(samples[c]) / 1000
        r_plain = statistics.median(ratios[c]["/plain"])
        r_std = statistics.median(ratios[c]["stdlib/"])
        rows.append({"config": c, "us_per_trip": med, "ratio_to_plain": r_plain,
                     "stdlib_over_this": r_std, "samples_us": [s / 1000 for s in samples[c]]})
        print(f"{c:36} {med:8.1f} {r_plain:8.2f} {r_std:14.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"reps": args.reps, "trips": args.trips, "python": sys.version,
                       "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
