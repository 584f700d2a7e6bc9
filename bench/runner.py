"""The method: round-robin, medians over repetitions, ratios within one.

Each repetition runs every selected workload once per implementation, the
implementations in round-robin order rotated by one each repetition (so none
always runs first or last).  A repetition's ratios are computed from that
repetition's figures (``impl cost / C floor cost`` and ``impl cost / stdlib
cost``); the report gives the median over repetitions of each figure and of
each ratio.  A workload's *cost* is wall time per operation (ns), or bytes
per connection for the memory rows; CPU time per operation (``process_time``
/ ``getrusage``-style clocks of the measured process) is kept beside it.

A TLS workload can name a no-TLS reference row (``Workload.plain``): the
same loop over plain sockets, C floor and one Python column
(``python-plain``).  Each repetition then also gives this row's figures
divided by that row's figures of the same repetition (the C floor by the C
floor without TLS, every Python column by Python without TLS), and the
*bound*: what tlsfast (c) would cost, as a ratio to the C floor, if its TLS
work cost exactly what the C floor's does, ``(Python no TLS + C TLS - C no
TLS) / C TLS``.  Wall time and CPU time of the measured process alike.
"""

import gc
import statistics
import time
from dataclasses import dataclass, field

from .common import TLS_IMPLS, BenchError, check


@dataclass
class Target:
    """A goal for tlsfast (c): its cost divided by ``against``'s, median over
    repetitions, at most ``max_ratio``."""
    against: str
    max_ratio: float
    impl: str = "tlsfast-c"

    def describe(self, unit):
        if self.against == "c-floor":
            return f"<= {self.max_ratio:g}x C"
        if unit in ("rate", "MB/s"):
            return f">= {1 / self.max_ratio:.3g}x {self.against}'s rate"
        return f"<= {self.max_ratio:g}x {self.against}"


@dataclass
class Workload:
    """One row of the report.

    ``unit``: how figures are shown -- "ns" (ns per call), "rate" (ops/s),
    "MB/s" (``bytes_per_op`` per op), "bytes" (per connection).  ``py(impl,
    params)`` and the C floor's ``c`` command return raw dicts with ``ops``,
    ``wall_ns`` and ``cpu_ns``; ``post(raw, params)`` (optional) checks and
    normalises them.  ``subprocess=True``: ``py`` is called with the
    implementation's *name* and does its own process handling (memory).
    ``plain``: the name of this row's no-TLS reference row (see the module
    docstring); both must be selected for the ratios to appear."""
    name: str
    group: str
    title: str
    unit: str
    quick: dict
    full: dict
    py: object = None
    c: str = None
    impls: tuple = TLS_IMPLS
    target: object = None
    targets: tuple = ()
    post: object = None
    bytes_per_op: int = 0
    subprocess: bool = False
    max_reps: int = 0         # at most this many repetitions (0: all)
    quick_max_reps: int = 0   # the same with --quick
    runner: object = None     # custom: runner(impl_name, params, ctx) -> raw
    note: str = ""
    plain: str = ""           # the no-TLS reference row of this one (module docstring)

    def all_targets(self):
        return ([self.target] if self.target else []) + list(self.targets)

    def reps_cap(self, quick):
        return (self.quick_max_reps or self.max_reps) if quick else self.max_reps

    def params(self, quick):
        return dict(self.quick if quick else self.full)


@dataclass
class Sample:
    cost: float          # ns per op (wall) or bytes per connection
    cpu_cost: float      # CPU ns per op of the measured process (None for memory)
    ops: int
    raw: dict = field(default_factory=dict)


def to_sample(w, raw):
    check(raw.get("ops", 0) > 0, "%s: no operations measured", w.name)
    if w.unit == "bytes":
        return Sample(raw["bytes_per_conn"], None, raw["ops"], raw)
    cpu = raw["cpu_ns"]           # None: a row that measures wall time only
    return Sample(raw["wall_ns"] / raw["ops"], None if cpu is None else cpu / raw["ops"],
                  raw["ops"], raw)


def display(w, cost):
    """The figure people read: ns/call, ops/s, MB/s, or KiB/connection."""
    if cost is None:
        return None
    if w.unit == "ns":
        return cost
    if w.unit == "rate":
        return 1e9 / cost
    if w.unit == "MB/s":
        return w.bytes_per_op / cost * 1e3
    if w.unit == "bytes":
        return cost / 1024
    raise ValueError(w.unit)


UNIT_LABEL = {"ns": "ns/call", "rate": "/s", "MB/s": "MB/s", "bytes": "KiB/conn"}


class Context:
    """What workloads need from the run: certificates, the implementations,
    the C floor process."""

    def __init__(self, certs, impls, cfloor, quick):
        self.certs = certs
        self.impls = impls
        self.cfloor = cfloor
        self.quick = quick


def run_one(w, name, params, ctx):
    if w.runner is not None:
        raw = w.runner(name, params, ctx)
    elif name == "c-floor":
        raw = ctx.cfloor.run(w.c, **params)
    else:
        gc.collect()
        raw = w.py(ctx.impls[name], params)
    if w.post is not None:
        raw = w.post(raw, params)
    return to_sample(w, raw)


def run(workloads, ctx, reps, impl_names, progress=None, log=print):
    """Run ``reps`` repetitions; returns the per-workload results (dicts)."""
    results = {}
    for w in workloads:
        names = [n for n in impl_names if n in w.impls]
        results[w.name] = {"workload": w, "impls": names, "samples": {n: [] for n in names},
                           "ratios": {}, "errors": {}, "reps_run": 0}
    for rep in range(reps):
        rep_samples = {}
        for w in workloads:
            res = results[w.name]
            cap = w.reps_cap(ctx.quick)
            if cap and rep >= cap:
                continue
            started = time.monotonic()
            names = res["impls"]
            k = rep % len(names) if names else 0
            order = names[k:] + names[:k]
            params = w.params(ctx.quick)
            this = {}
            for name in order:
                if name in res["errors"]:
                    continue
                if progress is not None:
                    progress.set_postfix_str(f"{w.name} {name}", refresh=True)
                try:
                    this[name] = run_one(w, name, params, ctx)
                except Exception as exc:   # noqa: BLE001 - reported, never a figure
                    msg = str(exc) if isinstance(exc, BenchError) else f"{type(exc).__name__}: {exc}"
                    res["errors"][name] = msg
                    log(f"  {w.name} [{name}]: {msg}")
                finally:
                    if progress is not None:
                        progress.update(1)
            rep_samples[w.name] = this
            for name, s in this.items():
                res["samples"][name].append(s)
            for ref in ("c-floor", "stdlib"):
                if ref in this:
                    for name, s in this.items():
                        res["ratios"].setdefault(ref, {}).setdefault(name, []).append(
                            s.cost / this[ref].cost)
                        if s.cpu_cost is not None and this[ref].cpu_cost:
                            res["ratios"].setdefault(ref + "/cpu", {}).setdefault(name, []).append(
                                s.cpu_cost / this[ref].cpu_cost)
            res["reps_run"] += 1
            res["elapsed_s"] = res.get("elapsed_s", 0.0) + time.monotonic() - started
        for w in workloads:
            if w.plain in rep_samples and w.name in rep_samples:
                _plain_ratios(results[w.name], rep_samples[w.name], rep_samples[w.plain])
    return [summarize(results[w.name]) for w in workloads]


PLAIN_OF = {"c-floor": "c-floor"}    # every other column: "python-plain"


def _plain_ratios(res, this, plain):
    """One repetition's ratios of a TLS row (``this``) to its no-TLS row
    (``plain``), and the bound (module docstring), wall and CPU."""
    for name, s in this.items():
        ref = plain.get(PLAIN_OF.get(name, "python-plain"))
        if ref is None:
            continue
        res["ratios"].setdefault("plain", {}).setdefault(name, []).append(s.cost / ref.cost)
        if s.cpu_cost is not None and ref.cpu_cost:
            res["ratios"].setdefault("plain/cpu", {}).setdefault(name, []).append(
                s.cpu_cost / ref.cpu_cost)
    c_tls, c_plain, py_plain = this.get("c-floor"), plain.get("c-floor"), plain.get("python-plain")
    if c_tls and c_plain and py_plain:
        res.setdefault("bound", []).append((py_plain.cost + c_tls.cost - c_plain.cost) / c_tls.cost)
        if c_tls.cpu_cost and c_plain.cpu_cost is not None and py_plain.cpu_cost is not None:
            res.setdefault("bound/cpu", []).append(
                (py_plain.cpu_cost + c_tls.cpu_cost - c_plain.cpu_cost) / c_tls.cpu_cost)


def median(xs):
    return statistics.median(xs) if xs else None


def summarize(res):
    w = res["workload"]
    out = {
        "name": w.name, "group": w.group, "title": w.title, "unit": w.unit,
        "unit_label": UNIT_LABEL[w.unit], "note": w.note, "reps": res["reps_run"],
        "elapsed_s": round(res.get("elapsed_s", 0.0), 2),
        "impls": {}, "errors": res["errors"], "targets": [],
        "plain": w.plain, "bound": median(res.get("bound", [])),
        "bound_cpu": median(res.get("bound/cpu", [])),
    }
    for name in res["impls"]:
        samples = res["samples"][name]
        if not samples:
            continue
        cost = median([s.cost for s in samples])
        cpu = median([s.cpu_cost for s in samples if s.cpu_cost is not None])
        ratio_c = median(res["ratios"].get("c-floor", {}).get(name, []))
        ratio_std = median(res["ratios"].get("stdlib", {}).get(name, []))
        ratio_c_cpu = median(res["ratios"].get("c-floor/cpu", {}).get(name, []))
        out["impls"][name] = {
            "value": display(w, cost), "cost": cost, "cpu_cost": cpu,
            "cpu_value": display(w, cpu) if w.unit != "bytes" else None,
            "x_c": ratio_c, "x_c_cpu": ratio_c_cpu, "x_stdlib": ratio_std,
            "x_plain": median(res["ratios"].get("plain", {}).get(name, [])),
            "x_plain_cpu": median(res["ratios"].get("plain/cpu", {}).get(name, [])),
            "n": len(samples), "ops": samples[0].ops,
            "samples": [{"cost": s.cost, "cpu_cost": s.cpu_cost,
                         **{k: v for k, v in s.raw.items() if k not in ("ok", "workload")}}
                        for s in samples],
        }
    for t in w.all_targets():
        got = out["impls"].get(t.impl, {}).get("x_c" if t.against == "c-floor" else "x_stdlib")
        out["targets"].append({
            "impl": t.impl, "against": t.against, "max_ratio": t.max_ratio,
            "text": t.describe(w.unit), "ratio": got,
            "met": None if got is None else bool(got <= t.max_ratio),
        })
    return out


def now():
    return time.strftime("%Y-%m-%d %H:%M:%S %Z")


MODULES = ("percall", "stream", "pingpong", "echo", "handshake", "membio", "memory")


def all_workloads():
    """Every workload, in report order (module by module)."""
    import importlib
    out = []
    for name in MODULES:
        out += importlib.import_module(f"{__package__}.{name}").workloads()
    return out
