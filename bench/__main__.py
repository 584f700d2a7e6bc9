"""``python -m bench`` (from a checkout; ``make bench``): tlsfast side by side
with the stdlib ``ssl``, pyOpenSSL and a C floor (straight libssl), on the
same machine.  See ``bench/__init__.py`` and ``docs/benchmarks.md``.

The suite is a tool of the repository, beside the ``tlsfast`` package it
measures (which it imports like any user would): it is not installed with
the package.

``main(argv) -> int``: 0 when every figure was measured (and, with
``--check-targets``, every target met); 1 when a workload failed its own
checks; 2 for usage errors and a missing dependency; 3 when
``--check-targets`` found a target missed.
"""

import argparse
import fnmatch
import os
import shlex
import sys
import time

_EXTRAS_HINT = "install the bench extras: pip install -e '.[bench]' (or: make bench)"


def _missing_modules(impls):
    missing = []
    for module, why in (("trustme", "certificates"), ("tqdm", "progress bar"),
                        ("matplotlib", "plot")):
        try:
            __import__(module)
        except ImportError:
            missing.append(f"{module} ({why})")
    if "pyopenssl" in impls:
        try:
            __import__("OpenSSL.SSL")
        except ImportError:
            missing.append("pyOpenSSL (or leave it out: --impls without pyopenssl)")
    return missing


def build_parser():
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run tlsfast's benchmark suite (bench/): tlsfast (c), tlsfast (python), "
        "stdlib ssl, pyOpenSSL and a C floor on libssl, interleaved; medians, ratios, "
        "a table, JSON, Markdown and a PNG plot.")
    p.add_argument("--quick", action="store_true",
                   help="fewer operations and repetitions (about 3 minutes on 2 cores)")
    p.add_argument("--only", action="append", metavar="PATTERN",
                   help="run the workloads whose name or group matches PATTERN (fnmatch, "
                   "or a substring; comma-separated or repeated)")
    p.add_argument("--reps", type=int, metavar="N",
                   help="repetitions (default: 3 with --quick, else 7)")
    p.add_argument("--out", metavar="DIR", help="where results go (default: bench/results/)")
    p.add_argument("--impls", metavar="LIST",
                   help="comma-separated subset of c-floor,tlsfast-c,tlsfast-python,stdlib,"
                   "pyopenssl,python-plain (python-plain: the Python side of the no-TLS rows)")
    p.add_argument("--update-docs", action="store_true",
                   help="also rewrite docs/benchmarks.md and docs/_static/benchmarks.png")
    p.add_argument("--check-targets", action="store_true",
                   help="exit 3 when a tlsfast (c) target is missed")
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    return p


def _select(workloads, patterns):
    if not patterns:
        return list(workloads)
    pats = [x.strip() for p in patterns for x in p.split(",") if x.strip()]
    return [w for w in workloads
            if any(fnmatch.fnmatch(w.name, p) or fnmatch.fnmatch(w.group, p) or p in w.name
                   for p in pats)]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    command = shlex.join(["python", "-m", "bench", *argv])
    bench_dir = os.path.dirname(os.path.abspath(__file__))
    from bench import common, report, runner

    workloads = _select(runner.all_workloads(), args.only)
    if args.list:
        for w in workloads:
            target = "; ".join(t.describe(w.unit) for t in w.all_targets())
            print(f"{w.name:18} {w.group:10} {w.title}" + (f"  [target: {target}]" if target else ""))
        return 0
    if not workloads:
        print(f"bench: no workload matches {args.only}", file=sys.stderr)
        return 2
    impls = list(common.IMPLS)
    if args.impls:
        impls = [x.strip() for x in args.impls.split(",") if x.strip()]
        unknown = [x for x in impls if x not in common.IMPLS]
        if unknown:
            print(f"bench: unknown implementation(s) {unknown}; "
                  f"choose from {','.join(common.IMPLS)}", file=sys.stderr)
            return 2
    missing = _missing_modules(impls)
    if missing:
        print("bench: missing " + ", ".join(missing) + f"; {_EXTRAS_HINT}", file=sys.stderr)
        return 2
    reps = args.reps if args.reps is not None else (3 if args.quick else 7)
    if reps < 1:
        print("bench: --reps must be >= 1", file=sys.stderr)
        return 2
    out_dir = args.out or os.path.join(bench_dir, "results")

    from tqdm import tqdm
    tqdm.monitor_interval = 0          # no monitor thread in the measured process
    from bench import cfloor

    started = time.monotonic()
    certs = common.Certs()
    cf = None
    try:
        try:
            binary, compile_cmd = cfloor.build()
            py = common.load_impls(certs, [n for n in impls if n != "c-floor"])
        except common.BenchError as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 2
        cf = cfloor.CFloor(certs)
        env = report.environment(cf.run("info"), compile_cmd)
        ctx = runner.Context(certs, py, cf, args.quick)
        total = sum(min(reps, w.reps_cap(args.quick) or reps) * len([n for n in impls if n in w.impls])
                    for w in workloads)
        print(f"bench: {len(workloads)} workloads x {len(impls)} implementations, "
              f"{reps} repetitions{' (quick)' if args.quick else ''}; "
              f"load average {env['load_average_start']}", file=sys.stderr)
        with tqdm(total=total, unit="run", dynamic_ncols=True, file=sys.stderr) as bar:
            results = runner.run(workloads, ctx, reps, impls, progress=bar,
                                 log=lambda m: tqdm.write(m, file=sys.stderr))
    finally:
        if cf is not None:
            cf.close()
        certs.cleanup()
    env["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    env["duration_s"] = round(time.monotonic() - started, 1)
    env["reps"] = reps
    env["quick"] = args.quick
    print(report.terminal(results, env))
    paths = report.write_outputs(results, env, vars(args), out_dir, command,
                                 update_docs=args.update_docs)
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    print(f"({env['duration_s']} s)")
    if any(r["errors"] for r in results):
        return 1
    if args.check_targets and any(t["met"] is False for r in results for t in r["targets"]):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
