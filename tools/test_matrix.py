#!/usr/bin/env python3
"""``make test-matrix``: the whole suite on every CPython >= 3.9 on the machine.

For each interpreter found (pyenv's versions, then ``python3.X`` on ``PATH``,
then the system's ``/usr/bin/python3``; one per minor version, the first
found wins) this runs the README's own commands in a venv of that version::

    make test test-stdlib PY=<interpreter> VENV=.venv-matrix/<X.Y>

(``VENV=.venv``, the default one, for the interpreter running this script)
so each version builds its own extension (``tlsfast/_tls_c.cpython-3XY-*.so``
beside the others), checks that the compiled implementation loads
(``check-c``), runs ``pytest`` over both implementations and then CPython's
``test_ssl`` of *that* version (``tests/stdlib/run_test_ssl.py``).  Output
goes to ``build/matrix/<X.Y>.log``; a table of the counts is printed at the
end.  Exit status 1 if any version failed (or none was found).

Uses only the stdlib: it runs under whatever ``python3`` starts it.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIN_VERSION = (3, 9)
PYTEST_LINE = re.compile(r"^=*\s*(?P<body>(\d+ (passed|failed|errors?|skipped|xfailed|xpassed|"
                         r"warnings?|deselected)(, )?)+)( in [\d.]+s.*)?=*\s*$")
STDLIB_LINE = re.compile(r"^test_ssl: (?P<body>\d+ passed, \d+ failed, \d+ skipped)")


def interpreter_version(path):
    """``(major, minor, micro, free_threaded)`` of a CPython, or None."""
    code = ("import sys, sysconfig; print(sys.implementation.name, *sys.version_info[:3], "
            "int(bool(sysconfig.get_config_var('Py_GIL_DISABLED'))))")
    try:
        out = subprocess.run([path, "-c", code], capture_output=True, text=True,
                             timeout=30).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    if len(out) != 5 or out[0] != "cpython":
        return None
    return int(out[1]), int(out[2]), int(out[3]), out[4] == "1"


def candidates():
    """Interpreter paths in order of preference."""
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found = sorted(glob.glob(os.path.join(root, "versions", "*", "bin", "python3")))
    for minor in range(MIN_VERSION[1], 30):
        path = shutil.which(f"python3.{minor}")
        if path:
            found.append(path)
    found.append("/usr/bin/python3")
    return [p for p in found if os.path.isfile(p)]


def discover():
    """``{"3.X": (path, "3.X.Y")}``, one per minor version >= MIN_VERSION.

    Free-threaded builds are left out: tlsfast does not claim support for
    them yet (docs/design.rst, "Free-threaded CPython")."""
    chosen = {}
    for path in candidates():
        info = interpreter_version(path)
        if info is None or info[:2] < MIN_VERSION or info[3]:
            continue
        key = f"{info[0]}.{info[1]}"
        if key not in chosen:
            chosen[key] = (os.path.realpath(path), "%d.%d.%d" % info[:3])
    return dict(sorted(chosen.items(), key=lambda kv: tuple(map(int, kv[0].split(".")))))


def summarize(log_text):
    """(pytest summary, test_ssl summary for python, for c) from a log."""
    pytest_body, stdlib = None, []
    for line in log_text.splitlines():
        line = line.strip()
        m = PYTEST_LINE.match(line)
        if m and ("passed" in line or "failed" in line):
            pytest_body = m.group("body")
        m = STDLIB_LINE.match(line)
        if m:
            stdlib.append(m.group("body"))
    return pytest_body, stdlib


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", action="append", default=[], metavar="X.Y",
                    help="run just these minor versions (repeatable)")
    ap.add_argument("--targets", default="test test-stdlib",
                    help="make targets to run per version (default: %(default)s)")
    ap.add_argument("--list", action="store_true", help="print the interpreters found and exit")
    args = ap.parse_args(argv)

    found = discover()
    if args.only:
        found = {k: v for k, v in found.items() if k in args.only}
    if args.list or not found:
        for key, (path, full) in found.items():
            print(f"{key}: {full} {path}")
        if not found:
            print("test-matrix: no CPython >= 3.9 found", file=sys.stderr)
            return 1
        return 0

    logdir = os.path.join(ROOT, "build", "matrix")
    os.makedirs(logdir, exist_ok=True)
    make = os.environ.get("MAKE", "make")
    rows = []
    for key, (path, full) in found.items():
        log_path = os.path.join(logdir, f"{key}.log")
        # the interpreter running this script is the Makefile's $(PY): its
        # venv is the default .venv (make test, make docs) rather than a copy
        same = os.path.realpath(sys.executable) == path
        venv = ".venv" if same else os.path.join(".venv-matrix", key)
        cmd = [make, "--no-print-directory", *args.targets.split(), f"PY={path}", f"VENV={venv}"]
        print(f"== CPython {full} ({path}): {' '.join(cmd)} > {os.path.relpath(log_path, ROOT)}",
              flush=True)
        start = time.monotonic()
        with open(log_path, "w") as log:
            rc = subprocess.call(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        took = time.monotonic() - start
        with open(log_path) as log:
            text = log.read()
        pytest_body, stdlib = summarize(text)
        rows.append((full, rc, took, pytest_body, stdlib))
        status = "ok" if rc == 0 else f"FAILED (exit {rc})"
        print(f"   {status} in {took:.0f} s: pytest {pytest_body or '-'}; "
              f"test_ssl {' / '.join(stdlib) or '-'}", flush=True)
        if rc != 0:
            print("   last lines of the log:")
            for line in text.splitlines()[-25:]:
                print("   | " + line)

    print()
    header = ("python", "result", "seconds", "pytest (c + python)", "test_ssl python", "test_ssl c")
    table = [header]
    for full, rc, took, pytest_body, stdlib in rows:
        stdlib = (stdlib + ["-", "-"])[:2]
        table.append((full, "ok" if rc == 0 else "FAILED", f"{took:.0f}", pytest_body or "-",
                      *stdlib))
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for i, row in enumerate(table):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    failed = [r[0] for r in rows if r[1] != 0]
    counts = {"passed": 0, "failed": 0}
    for _, _, _, pytest_body, stdlib in rows:
        for body in [pytest_body or ""] + stdlib:
            for n, what in re.findall(r"(\d+) (passed|failed|errors?)", body):
                counts["passed" if what == "passed" else "failed"] += int(n)
    versions = ", ".join(r[0] for r in rows)
    if failed:
        print(f"\ntest-matrix: FAILED on {', '.join(failed)} (of {versions})")
        counts["failed"] = max(counts["failed"], 1)
    else:
        print(f"\ntest-matrix: every version passed ({versions})")
    # the closing line CI reads: tests summed over every version
    print(f"matrix: {counts['passed']} passed, {counts['failed']} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
