#!/usr/bin/env python3
"""urllib3's own TLS tests with ``sys.modules["ssl"] = tlsfast``, compared
with the same tests under the stdlib's ``ssl``.

Usage (from a checkout with the compiled build in place, ``make build``;
CPython 3.10 or later, as urllib3 2.8 requires)::

    python tools/third_party_suite.py                   # stdlib, python, c
    python tools/third_party_suite.py --impl c -k alpn  # one mode, a subset
    python tools/third_party_suite.py --hypercorn /path/to/urllib3-hypercorn

or ``make test-third-party`` (``THIRD_PARTY_ARGS`` passes options).

What it does
------------
1. Downloads urllib3's sdist from PyPI (``pip download``; the sdist carries
   ``test/`` and ``dummyserver/``), of the urllib3 version pinned below, into
   ``build/third-party/`` and unpacks it.
2. Makes a venv there, on the running interpreter (tlsfast's compiled module
   is built for it), with urllib3 from that sdist and its test dependencies
   at the versions of its ``uv.lock``.  tlsfast itself comes from the
   checkout (``PYTHONPATH``), never from the venv.
3. Runs the TLS test modules (``TLS_TESTS``) three times, each in a fresh
   interpreter: with the stdlib's ``ssl``, then with ``sys.modules["ssl"] =
   tlsfast`` for ``TLSFAST_IMPL=python`` and ``c``, set before pytest imports
   anything.  Both ends use tlsfast then: urllib3's clients, and its test
   servers (hypercorn, its socket-level servers), which build their contexts
   from ``ssl.SSLContext``.  Each run checks that urllib3's contexts really
   were tlsfast's.
4. Compares the outcome of every test with the stdlib run and prints one
   table; lists each test whose outcome differs.

Loopback only: pytest-socket (``--allow-hosts``) refuses every connection
to another address, and the tests that aim at urllib3's unroutable "tarpit"
address (``TARPIT_HOST``) or need the network are deselected.

urllib3's test servers come from its fork of hypercorn (the ASGI ``tls``
extension its ``/certificate`` and ``/alpn_protocol`` endpoints read, and a
``_transport`` extension its proxy tests use), which is not on PyPI.
Without ``--hypercorn`` (a local checkout of that fork, branch
``urllib3-changes``) PyPI's hypercorn is installed and the tests on those
endpoints fail in every run alike; the comparison is per test, so they do
not hide a difference.

Exit status: 0 when no test that passes under the stdlib fails under
tlsfast (other than the differences by design in ``KNOWN``), else 1.  Each run's last line reads
``urllib3 <mode>: N passed, N failed, N skipped``.
"""

from __future__ import annotations

import argparse
import ast
import glob
import os
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.path.join(ROOT, "build", "third-party")

URLLIB3_VERSION = "2.8.0"
MIN_PYTHON = (3, 10)        # its Requires-Python
#: urllib3 2.8.0's test dependency group at its uv.lock's versions (hypercorn
#: is the fork's version number: see --hypercorn)
TEST_REQUIREMENTS = [
    "anyio[trio]==4.13.0", "h2==4.3.0", "httpx==0.28.1", "pysocks==1.7.1",
    "pytest==9.1.1", "pytest-socket==0.7.0", "pytest-timeout==2.4.0",
    "quart==0.20.0", "quart-trio==0.12.0", "trio==0.33.0", "werkzeug==3.1.8",
    "flask==3.1.3", "cryptography>=44.0.2", "idna>=3.10", "trustme==1.2.1",
]
PYPI_HYPERCORN = "hypercorn==0.15.0"

#: the modules of urllib3's suite that exercise TLS on the wire
TLS_TESTS = [
    "test/with_dummyserver/test_https.py",
    "test/with_dummyserver/test_socketlevel.py",
    "test/with_dummyserver/test_proxy_poolmanager.py",
    "test/test_ssltransport.py",
    "test/test_ssl.py",
]
#: urllib3's unroutable address for connect timeouts: a test that names it
#: is never run here (``tarpit_tests``)
TARPIT_NAME = "TARPIT_HOST"
#: tests whose outcome differs by design (test function name -> why); a
#: difference listed here is reported but does not fail the run
KNOWN = {
    "test_start_closed_socket": (
        "SSLTransport over a closed socket with a check_hostname context and no "
        "server_hostname: tlsfast's wrap_bio refuses that with ValueError, as "
        "wrap_socket does (docs/porting.rst, 'wrap_bio refuses check_hostname "
        "without server_hostname'); the stdlib's accepts it and the handshake "
        "then meets the closed socket (OSError)"),
}
LOOPBACK = "127.0.0.1,::1,localhost"
MODES = ("stdlib", "python", "c")
RUN_TIMEOUT = 1800          # seconds for one whole run
TEST_TIMEOUT = 60           # seconds for one test (pytest-timeout)


def log(msg: str) -> None:
    print(msg, flush=True)


def run(cmd, **kwargs) -> None:
    subprocess.run(cmd, check=True, **kwargs)


def fetch_sdist() -> str:
    """The unpacked urllib3 sdist (downloaded once)."""
    src = os.path.join(WORK, f"urllib3-{URLLIB3_VERSION}")
    if os.path.isdir(os.path.join(src, "test")):
        return src
    dist = os.path.join(WORK, "dist")
    os.makedirs(dist, exist_ok=True)
    run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
         f"urllib3=={URLLIB3_VERSION}", "-d", dist], timeout=600)
    archive, = glob.glob(os.path.join(dist, f"urllib3-{URLLIB3_VERSION}.tar.gz"))
    with tarfile.open(archive) as tar:
        if sys.version_info >= (3, 12):
            tar.extractall(WORK, filter="data")
        else:
            tar.extractall(WORK)
    return src


def make_venv(src: str, hypercorn: str) -> str:
    """The venv's python, with urllib3 from ``src`` and its test deps."""
    tag = f"{sys.version_info[0]}.{sys.version_info[1]}"
    venv = os.path.join(WORK, f"venv-{tag}")
    python = os.path.join(venv, "bin", "python")
    stamp = os.path.join(venv, f".stamp-{URLLIB3_VERSION}-{os.path.basename(hypercorn)}")
    if os.path.exists(stamp):
        return python
    run([sys.executable, "-m", "venv", "--clear", venv], timeout=300)
    pip = [python, "-m", "pip", "install", "-q"]
    # one resolver call: quart's "hypercorn" requirement is met by ``hypercorn``
    run(pip + TEST_REQUIREMENTS + [hypercorn], timeout=900)
    run(pip + ["--no-deps", src], timeout=600)
    open(stamp, "w").close()
    return python


def tarpit_tests(src: str) -> list[str]:
    """Names of the test functions in TLS_TESTS that use TARPIT_HOST."""
    names = set()
    for path in TLS_TESTS:
        with open(os.path.join(src, path)) as f:
            text = f.read()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_") and \
                    TARPIT_NAME in (ast.get_source_segment(text, node) or ""):
                names.add(node.name)
    return sorted(names)


def run_mode(python: str, src: str, mode: str, extra: list[str]) -> str:
    """One run of the suite; returns its JUnit XML report's path."""
    report = os.path.join(WORK, f"junit-{mode}.xml")
    extra = list(extra)
    keywords = " and ".join(f"not {name}" for name in tarpit_tests(src))
    if "-k" in extra:   # pytest keeps only the last -k: fold the caller's in
        i = extra.index("-k")
        keywords = f"({extra[i + 1]}) and {keywords}"
        del extra[i:i + 2]
    env = dict(os.environ, PYTHONPATH=ROOT, PYTHONDONTWRITEBYTECODE="1")
    env.pop("TLSFAST_IMPL", None)
    if mode != "stdlib":
        env["TLSFAST_IMPL"] = mode
    args = ["-q", "-p", "no:cacheprovider", f"--junitxml={report}",
            f"--timeout={TEST_TIMEOUT}", f"--allow-hosts={LOOPBACK}",
            "-m", "not requires_network", "-k", keywords, *TLS_TESTS, *extra]
    cmd = [python, os.path.abspath(__file__), "--inner", mode, "--", *args]
    log(f"\n== urllib3 {URLLIB3_VERSION} TLS tests, ssl = {mode}")
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=src, env=env, timeout=RUN_TIMEOUT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with open(os.path.join(WORK, f"output-{mode}.txt"), "w") as f:
        f.write(proc.stdout)
    tail = [line for line in proc.stdout.splitlines() if line.strip()][-3:]
    log("\n".join(tail) + f"\n({time.monotonic() - start:.0f} s, exit {proc.returncode}; "
        f"full output in {os.path.relpath(f.name, ROOT)})")
    if "ssl module under test:" not in proc.stdout:
        raise SystemExit(f"the {mode} run did not get as far as its check; see the output")
    return report


def outcomes(report: str) -> dict[str, str]:
    """test id -> passed / failed / error / skipped, from a JUnit report."""
    result = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        kinds = {child.tag for child in case}
        if "error" in kinds:
            result[name] = "error"
        elif "failure" in kinds:
            result[name] = "failed"
        elif "skipped" in kinds:
            result[name] = "skipped"
        else:
            result[name] = "passed"
    return result


def summary(mode: str, res: dict[str, str]) -> str:
    """``urllib3 <mode>: N passed, N failed, N skipped`` (errors count as
    failed)."""
    n = {k: sum(1 for v in res.values() if v == k) for k in ("passed", "failed", "error", "skipped")}
    return (f"urllib3 {mode}: {n['passed']} passed, {n['failed'] + n['error']} failed, "
            f"{n['skipped']} skipped")


def known(test_id: str):
    """Why ``test_id`` differs by design, or None."""
    name = test_id.rsplit("::", 1)[-1].split("[", 1)[0]
    return KNOWN.get(name)


def compare(results: dict[str, dict[str, str]]) -> int:
    kinds = ("passed", "failed", "error", "skipped")
    log(f"\n{'ssl':<8}" + "".join(f"{k:>9}" for k in kinds) + f"{'total':>8}")
    for mode, res in results.items():
        counts = [sum(1 for v in res.values() if v == k) for k in kinds]
        log(f"{mode:<8}" + "".join(f"{n:>9}" for n in counts) + f"{len(res):>8}")
    base = results.get("stdlib")
    status = 0
    if base is None:
        return status
    for mode, res in results.items():
        if mode == "stdlib":
            continue
        diff = sorted(t for t in base.keys() | res.keys() if base.get(t) != res.get(t))
        regressions = [t for t in diff if base.get(t) == "passed" and known(t) is None]
        log(f"\n{mode}: {len(diff)} tests differ from the stdlib run, "
            f"{len(regressions)} of them unexplained failures")
        for t in diff:
            why = known(t)
            log(f"  {t}: stdlib {base.get(t)}, tlsfast {res.get(t)}"
                + (f"\n    known: {why}" if why else ""))
        status |= bool(regressions)
    return status


def inner(mode: str, args: list[str]) -> int:
    """In the venv: swap ``ssl`` before pytest imports anything, run pytest."""
    if mode != "stdlib":
        import tlsfast
        assert tlsfast.__impl__ == mode, (tlsfast.__impl__, mode)
        sys.modules["ssl"] = tlsfast
    import pytest
    status = pytest.main(args)
    import ssl

    import urllib3.util.ssl_
    ctx = urllib3.util.ssl_.create_urllib3_context()
    where = type(ctx).__module__
    print(f"ssl module under test: {ssl.__name__}; urllib3's contexts: {where}")
    if mode != "stdlib" and not where.startswith("tlsfast"):
        print("urllib3 did not use tlsfast: the run proves nothing")
        return 3
    return int(status)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", action="append", choices=MODES,
                        help="run only this mode (repeatable; default: all three)")
    parser.add_argument("--hypercorn", default=PYPI_HYPERCORN,
                        help="pip requirement or local checkout of urllib3's hypercorn fork")
    parser.add_argument("--inner", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    opts, unknown = parser.parse_known_args()
    extra = unknown + opts.pytest_args
    if opts.inner:
        return inner(opts.inner, extra)
    if sys.version_info < MIN_PYTHON:
        parser.error(f"urllib3 {URLLIB3_VERSION} needs Python "
                     f"{'.'.join(map(str, MIN_PYTHON))} or later")
    os.makedirs(WORK, exist_ok=True)
    src = fetch_sdist()
    python = make_venv(src, opts.hypercorn)
    results = {}
    for mode in opts.impl or MODES:
        results[mode] = outcomes(run_mode(python, src, mode, extra))
        log(summary(mode, results[mode]))
    return compare(results)


if __name__ == "__main__":
    sys.exit(main())
