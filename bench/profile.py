"""Where one workload's time goes, library by library, in every implementation.

    python -m bench.profile handshake_ecdsa
    python -m bench.profile pingpong --impls c-floor,tlsfast-c,stdlib --counts 3000,15000

Each (implementation, count) runs the workload once in its own process under
``perf record -e cpu-clock`` (a software clock: no hardware counters needed;
``--no-inherit``, so peer processes are not counted), at two counts; the
samples per shared object of the short run are subtracted from the long
run's, so start-up, imports and certificate loading cancel out.  The result
is microseconds per operation spent in libcrypto, libssl, libc, the kernel,
the Python interpreter and tlsfast's compiled module -- sampling at F Hz
stretches every figure alike (compare columns, not with the bench's wall
times).  The rows tell what a ratio to the C floor is made of: the
difference in libssl + libcrypto is OpenSSL doing more (or the same with
colder caches), in the interpreter and the kernel it is the cost of being a
Python program, and tlsfast's own share is its module's row.

Needs ``perf`` (``linux-perf``) with ``perf_event_paranoid`` <= 2.
"""

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

GROUPS = (
    ("libcrypto", re.compile(r"^libcrypto")),
    ("libssl", re.compile(r"^libssl")),
    ("libc", re.compile(r"^(libc|libm|ld-linux|libpthread)[.-]")),
    ("kernel", re.compile(r"^\[kernel")),
    ("python", re.compile(r"^(libpython|python)")),
    ("tlsfast module", re.compile(r"^_tls_c\.")),
)


def _group(dso):
    for name, pattern in GROUPS:
        if pattern.search(dso):
            return name
    return "other"


def _child(workload, impl, count, param, certs_dir):
    """Run ``workload`` once for ``impl`` with ``param`` = ``count`` (this
    process is the one perf records)."""
    from bench import cfloor, common, runner
    w = next(x for x in runner.all_workloads() if x.name == workload)
    params = w.params(quick=False)
    params[param] = count
    certs = common.Certs(certs_dir)
    cf = cfloor.CFloor(certs) if w.runner is not None else None
    try:
        ctx = runner.Context(certs, common.load_impls(certs, [impl]), cf, quick=False)
        sample = runner.run_one(w, impl, params, ctx)
    finally:
        if cf is not None:
            cf.close()
    print(json.dumps({"ops": sample.ops}))


def _samples(data_file):
    out = subprocess.run(["perf", "report", "-i", data_file, "-n", "--sort", "dso", "--stdio"],
                         capture_output=True, text=True, check=True).stdout
    counts = collections.Counter()
    for line in out.splitlines():
        m = re.match(r"\s*[\d.]+%\s+(\d+)\s+(\S+)", line)
        if m:
            counts[_group(m.group(2))] += int(m.group(1))
    return counts


def _record(cmd, data_file, freq, stdin=None):
    subprocess.run(["perf", "record", "-q", "--no-inherit", "-e", "cpu-clock", "-F", str(freq),
                    "-o", data_file, "--", *cmd], input=stdin, text=True, check=True,
                   stdout=subprocess.DEVNULL)
    return _samples(data_file)


def profile(workload, impls, counts, param, freq, tmp):
    """{impl: {group: microseconds per operation}}."""
    from bench import cfloor, common, runner
    w = next((x for x in runner.all_workloads() if x.name == workload), None)
    if w is None:
        raise SystemExit(f"bench.profile: no workload {workload!r} (python -m bench --list)")
    binary, _ = cfloor.build()
    certs = common.Certs(os.path.join(tmp, "certs"))
    params = w.params(quick=False)
    if param not in params:
        raise SystemExit(f"bench.profile: {workload} has no parameter {param!r}: {params}")
    result = {}
    for impl in impls:
        if impl not in w.impls:
            continue
        per_count = []
        for count in counts:
            data_file = os.path.join(tmp, f"{impl}-{count}.data")
            if impl == "c-floor":
                line = " ".join([w.c or w.name] + [f"{k}={count if k == param else v}"
                                                  for k, v in params.items()])
                per_count.append(_record([binary, "serve", certs.dir], data_file, freq,
                                         stdin=line + "\n"))
            else:
                per_count.append(_record(
                    [sys.executable, "-m", "bench.profile", "--child", workload, impl,
                     str(count), param, certs.dir], data_file, freq))
        ops = counts[1] - counts[0]
        usec = 1e6 / freq
        result[impl] = {g: (per_count[1][g] - per_count[0][g]) * usec / ops
                        for g in set(per_count[0]) | set(per_count[1])}
    return result


def table(result):
    impls = list(result)
    groups = [g for g, _ in GROUPS] + ["other"]
    lines = ["| us/op | " + " | ".join(impls) + " |",
             "|:---|" + "---:|" * len(impls)]
    for g in groups + ["total"]:
        row = [sum(result[i].values()) if g == "total" else result[i].get(g, 0.0) for i in impls]
        if g != "total" and all(abs(x) < 0.05 for x in row):
            continue
        lines.append(f"| {g} | " + " | ".join(f"{x:.1f}" for x in row) + " |")
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        _, workload, impl, count, param, certs_dir = argv
        _child(workload, impl, int(count), param, certs_dir)
        return 0
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n")[0])
    p.add_argument("workload", help="a workload name (python -m bench --list)")
    p.add_argument("--impls", default="c-floor,tlsfast-c,stdlib",
                   help="comma-separated implementations (default: %(default)s)")
    p.add_argument("--counts", default="500,3000",
                   help="the two operation counts, short,long (default: %(default)s)")
    p.add_argument("--param", default="count", help="the workload parameter the counts set")
    p.add_argument("--freq", type=int, default=10000, help="samples per second (default: 10000)")
    args = p.parse_args(argv)
    if shutil.which("perf") is None:
        print("bench.profile: perf is missing (apt-get install linux-perf)", file=sys.stderr)
        return 2
    counts = [int(x) for x in args.counts.split(",")]
    if len(counts) != 2 or not 0 < counts[0] < counts[1]:
        print("bench.profile: --counts takes two increasing counts", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="tlsfast-profile-") as tmp:
        result = profile(args.workload, [x.strip() for x in args.impls.split(",")], counts,
                         args.param, args.freq, tmp)
    print(f"{args.workload}: microseconds per operation by library, perf cpu-clock at "
          f"{args.freq} Hz, runs of {counts[1]} minus {counts[0]} operations")
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
