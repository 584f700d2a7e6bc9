#!/usr/bin/env python3
"""1 KiB echo round trips over loopback on asyncio (and uvloop): tlsfast's
transport (``tlsfast.asyncio``) beside asyncio's own SSL transport with a
stdlib context (``ssl=``), aiofastnet's transport, plain TCP on the same
loop, and the C floor's echo server.

    python bench/asyncio_echo.py [--reps N] [--trips N] [--apis protocol,buffered,streams]
                                 [--loops asyncio,uvloop] [--impls c,python]
                                 [--scenarios same,process,process1000]
                                 [--transports tlsfast,stdlib,aiofastnet,plain]
                                 [--json FILE] [--plot FILE] [--profile CONFIG]

A *configuration* is (scenario, loop, API, transport).

Scenarios:

* ``same``: client and server in the same loop, one connection, one 1 KiB
  message in flight (each round trip is two TLS records written and two
  read, plus the loop's turns); ``--trips`` round trips after 200
  unmeasured ones.
* ``process``: the Python process runs the echo server only; the client is
  the C floor's load generator in another process (``c_floor peer-load``,
  ``peer-load-plain`` for the plain rows), one connection, ``--trips``
  requests of 1 KiB, one in flight; the time is the generator's, from its
  last handshake to its last echo.
* ``process1000``: the same with 1,000 connections, one request in flight
  on each, ``--trips`` x 10 requests in all.

The process scenarios have a C floor row: the C floor's epoll echo server
(``c_floor serve`` command ``echo``) driven by the same generator.

Loop ``asyncio`` or ``uvloop`` (when installed); API ``protocol``
(``data_received``), ``buffered`` (``BufferedProtocol``) or ``streams``
(StreamReader / StreamWriter); transport ``tlsfast-c`` / ``tlsfast-python``
(tlsfast's transport, that implementation's context), ``stdlib`` (the
loop's SSL transport, stdlib ``ssl.SSLContext``), ``aiofastnet``
(aiofastnet's entry points with the same stdlib context, when installed) or
``plain`` (the loop's TCP).  TLS 1.3, X25519, TLS_AES_256_GCM_SHA384, a
trustme ECDSA certificate (bench/common.py's).

Each repetition runs every configuration once, the order rotated by one
between repetitions; ratios are taken inside a repetition (this / plain,
stdlib / this as the speed-up over asyncio+stdlib, aiofastnet / this, and
this / C floor) and the report gives their medians over repetitions: on a
shared, noisy machine the ratios are the figures to read, not the absolute
times.

``--profile CONFIG`` (e.g. ``same/asyncio/protocol/tlsfast-c``) runs that
configuration once under cProfile instead and prints where the time goes;
``--repeat-config CONFIG`` runs it once plainly (for callgrind / perf).
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
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import tlsfast.asyncio as ta  # noqa: E402
from bench import cfloor  # noqa: E402
from bench.common import CIPHERSUITE, Certs  # noqa: E402

SIZE = 1024
WARMUP = 200
MESSAGE = os.urandom(SIZE)
#: connections of the process1000 scenario, and its requests per --trips
MANY = 1000
MANY_FACTOR = 10
SCENARIOS = ("same", "process", "process1000")
C_FLOOR = "c-floor"


# --------------------------------------------------------------------------
# contexts
# --------------------------------------------------------------------------

def contexts(transport, certs):
    """(server context, client context) for ``transport``; None for plain."""
    if transport == "plain":
        return None, None
    if transport in ("stdlib", "aiofastnet"):
        mod = ssl
    else:
        import importlib
        mod = importlib.import_module(
            {"tlsfast-c": "tlsfast._tls_c", "tlsfast-python": "tlsfast._tls_py"}[transport])
    sctx = mod.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(certs.chain["ecdsa"])
    cctx = mod.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.load_verify_locations(certs.ca)
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


def _entry(transport_name, name):
    """The entry point ``name`` (create_connection, create_server,
    open_connection, start_server) for ``transport_name``, called with the
    loop first for create_*, as tlsfast.asyncio and aiofastnet take it."""
    if transport_name.startswith("tlsfast"):
        return getattr(ta, name)
    if transport_name == "aiofastnet":
        import aiofastnet
        fn = getattr(aiofastnet, name)
        if name in ("open_connection", "start_server"):
            return lambda *a, **k: fn(asyncio.get_running_loop(), *a, **k)
        return fn
    if name in ("open_connection", "start_server"):
        return getattr(asyncio, name)
    return lambda loop, *a, **k: getattr(loop, name)(*a, **k)


async def _connect(loop, transport_name, api, port, cctx):
    factory = BufferedPingClient if api == "buffered" else PingClient
    kwargs = {} if cctx is None else {"ssl": cctx, "server_hostname": "localhost"}
    return await _entry(transport_name, "create_connection")(
        loop, factory, "127.0.0.1", port, **kwargs)


async def _serve(loop, transport_name, api, sctx):
    kwargs = {"backlog": 1024} if sctx is None else {"ssl": sctx, "backlog": 1024}
    if api == "streams":
        async def handle(reader, writer):
            try:
                while True:
                    data = await reader.readexactly(SIZE)
                    writer.write(data)
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            writer.close()
        return await _entry(transport_name, "start_server")(handle, "127.0.0.1", 0, **kwargs)
    factory = BufferedEchoServer if api == "buffered" else EchoServer
    return await _entry(transport_name, "create_server")(
        loop, factory, "127.0.0.1", 0, **kwargs)


async def _same_loop(loop, transport_name, api, port, cctx, trips):
    if api == "streams":
        kwargs = {} if cctx is None else {"ssl": cctx, "server_hostname": "localhost"}
        reader, writer = await _entry(transport_name, "open_connection")(
            "127.0.0.1", port, **kwargs)

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
    return elapsed / trips


async def _other_process(transport_name, port, conns, total, certs):
    """Run the C load generator against ``port``; ns per request from
    its own clock (last handshake to last echo)."""
    mode = "peer-load-plain" if transport_name == "plain" else "peer-load"
    proc = subprocess.Popen(cfloor.peer_cmd(certs, mode, port, conns, total, SIZE),
                            stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while proc.poll() is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{mode} did not finish in 300 s")
            await asyncio.sleep(0.02)
        out = proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} failed (exit {proc.returncode}): {out.strip()}")
    result = json.loads(out)
    if result["requests"] != total:
        raise RuntimeError(f"{mode}: {result['requests']} of {total} requests echoed")
    return result["elapsed_ns"] / total


async def echo_run(scenario, transport_name, api, trips, certs):
    """Wall ns per round trip."""
    loop = asyncio.get_running_loop()
    sctx, cctx = contexts(transport_name, certs)
    server = await _serve(loop, transport_name, api, sctx)
    port = server.sockets[0].getsockname()[1]
    try:
        if scenario == "same":
            cost = await _same_loop(loop, transport_name, api, port, cctx, trips)
        else:
            conns, total = (1, trips) if scenario == "process" else (MANY, trips * MANY_FACTOR)
            cost = await _other_process(transport_name, port, conns, total, certs)
    finally:
        server.close()
    await asyncio.sleep(0.01)
    return cost


def new_loop(kind):
    if kind == "uvloop":
        import uvloop
        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def run_config(config, trips, certs, floor=None):
    scenario, loop_kind, api, transport_name = config.split("/")
    if transport_name == C_FLOOR:
        conns, total = (1, trips) if scenario == "process" else (MANY, trips * MANY_FACTOR)
        result = floor.run("echo", conns=conns, total=total, size=SIZE)
        if result["peer"]["requests"] != total:
            raise RuntimeError(f"C floor echo: {result['peer']['requests']} of {total}")
        return result["peer"]["elapsed_ns"] / total
    loop = new_loop(loop_kind)
    try:
        return loop.run_until_complete(asyncio.wait_for(
            echo_run(scenario, transport_name, api, trips, certs), 600))
    finally:
        loop.close()


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------

def _ratios(this, configs):
    """Per-repetition ratios of every configuration to the others of its
    (scenario, loop, API) group and to the C floor of its scenario."""
    out = {}
    for key, cost in this.items():
        scenario, lk, api, t = key.split("/")
        group = f"{scenario}/{lk}/{api}/"
        r = {}
        for other, name in (("plain", "/plain"), ("stdlib", "stdlib/"),
                            ("aiofastnet", "aiofastnet/")):
            if group + other in this:
                ratio = this[key] / this[group + other] if name == "/plain" \
                    else this[group + other] / this[key]
                r[name] = ratio
        floor = f"{scenario}/c/-/{C_FLOOR}"
        if floor in this:
            r["/c-floor"] = this[key] / this[floor]
        out[key] = r
    return out


def plot(rows, path):
    """One panel per scenario: each configuration's cost per round trip
    over plain TCP on the same loop and API (the C floor over the plain
    asyncio protocol row)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    scenarios = [s for s in SCENARIOS if any(r["config"].startswith(s + "/") for r in rows)]
    fig, axes = plt.subplots(1, len(scenarios), figsize=(6 * len(scenarios), 7), squeeze=False)
    for ax, scenario in zip(axes[0], scenarios):
        mine = [r for r in rows if r["config"].startswith(scenario + "/")]
        labels = [r["config"].split("/", 1)[1] for r in mine]
        values = [r["us_per_trip"] for r in mine]
        colors = ["tab:green" if "tlsfast" in lab else "tab:orange" if "aiofastnet" in lab
                  else "tab:blue" if "stdlib" in lab else "tab:red" if C_FLOOR in lab
                  else "tab:gray" for lab in labels]
        ax.barh(range(len(labels)), values, color=colors)
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels(labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("µs per 1 KiB round trip (median; lower is better)")
        ax.set_title({"same": "client in the same loop, 1 connection",
                      "process": "C client in another process, 1 connection",
                      "process1000": f"C client in another process, {MANY} connections"}[scenario],
                     fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--trips", type=int, default=3000)
    p.add_argument("--apis", default="protocol,buffered,streams")
    p.add_argument("--loops", default="asyncio,uvloop")
    p.add_argument("--impls", default="c", help="tlsfast implementations: c,python")
    p.add_argument("--scenarios", default="same", help="same,process,process1000")
    p.add_argument("--transports", default="tlsfast,stdlib,aiofastnet,plain",
                   help="tlsfast (per --impls), stdlib, aiofastnet, plain")
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--plot", metavar="FILE", help="PNG (matplotlib)")
    p.add_argument("--profile", metavar="CONFIG")
    p.add_argument("--repeat-config", metavar="CONFIG")
    p.add_argument("--certs", metavar="DIR", help="keep the certificates in DIR (made once): "
                   "runs to subtract under callgrind then share them")
    args = p.parse_args(argv)

    loops = [x for x in args.loops.split(",") if x]
    if "uvloop" in loops:
        try:
            import uvloop  # noqa: F401
        except ImportError:
            print("uvloop not installed: asyncio rows only", file=sys.stderr)
            loops.remove("uvloop")
    transports = []
    for t in args.transports.split(","):
        if t == "tlsfast":
            transports += [f"tlsfast-{i}" for i in args.impls.split(",") if i]
        elif t == "aiofastnet":
            try:
                import aiofastnet  # noqa: F401
                transports.append(t)
            except ImportError:
                print("aiofastnet not installed: no aiofastnet rows", file=sys.stderr)
        elif t:
            transports.append(t)
    scenarios = [x for x in args.scenarios.split(",") if x]
    for x in scenarios:
        if x not in SCENARIOS:
            p.error(f"unknown scenario {x!r}")
    apis = [x for x in args.apis.split(",") if x]
    configs = [f"{sc}/{lk}/{api}/{t}" for sc in scenarios for lk in loops for api in apis
               for t in transports]
    configs += [f"{sc}/c/-/{C_FLOOR}" for sc in scenarios if sc != "same"]

    certs = Certs(args.certs)
    floor = None
    try:
        if any(C_FLOOR in c for c in configs) or any(sc != "same" for sc in scenarios):
            cfloor.build()
        if any(C_FLOOR in c for c in configs):
            floor = cfloor.CFloor(certs)
        if args.profile or args.repeat_config:
            config = args.profile or args.repeat_config
            prof = cProfile.Profile() if args.profile else None
            if prof:
                prof.enable()
            cost = run_config(config, args.trips, certs, floor)
            if prof:
                prof.disable()
                out = io.StringIO()
                pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(30)
                print(out.getvalue())
            print(f"{config}: {cost / 1000:.1f} us per round trip"
                  + (" under cProfile" if prof else ""))
            return 0
        samples = {c: [] for c in configs}
        ratios = {c: {} for c in configs}
        for rep in range(args.reps):
            order = configs[rep % len(configs):] + configs[:rep % len(configs)]
            this = {c: run_config(c, args.trips, certs, floor) for c in order}
            for c, cost in this.items():
                samples[c].append(cost)
            for c, r in _ratios(this, configs).items():
                for name, value in r.items():
                    ratios[c].setdefault(name, []).append(value)
            print(f"repetition {rep + 1}/{args.reps} done", file=sys.stderr)
    finally:
        if floor is not None:
            floor.close()
        certs.cleanup()

    names = ["/plain", "stdlib/", "aiofastnet/", "/c-floor"]
    print(f"\n1 KiB echo round trips ({CIPHERSUITE}); medians of {args.reps} interleaved "
          f"repetitions; --trips {args.trips}")
    print("ratios: /plain = this ÷ plain TCP (same loop and API); stdlib/ = asyncio+stdlib ÷ "
          "this (speed-up); aiofastnet/ = aiofastnet ÷ this (≥ 1: faster than aiofastnet); "
          "/c-floor = this ÷ the C floor's echo server")
    print(f"{'configuration':44} {'us/trip':>8}" + "".join(f" {n:>12}" for n in names))
    rows = []
    for c in configs:
        med = statistics.median(samples[c]) / 1000
        row = {"config": c, "us_per_trip": med, "samples_us": [s / 1000 for s in samples[c]]}
        cells = []
        for n in names:
            if n in ratios[c]:
                row[n] = statistics.median(ratios[c][n])
                cells.append(f" {row[n]:12.2f}")
            else:
                cells.append(f" {'-':>12}")
        rows.append(row)
        print(f"{c:44} {med:8.1f}" + "".join(cells))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"reps": args.reps, "trips": args.trips, "python": sys.version,
                       "many_connections": MANY, "load_average": os.getloadavg(),
                       "rows": rows}, f, indent=1)
    if args.plot:
        plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
