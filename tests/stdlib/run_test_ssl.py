#!/usr/bin/env python3
"""Run CPython's own ``test.test_ssl`` with tlsfast in place of ``ssl``.

Usage::

    python3 tests/stdlib/run_test_ssl.py --impl c [-k PATTERN ...] [-v]
    python3 tests/stdlib/run_test_ssl.py --impl python      # the baseline

test_ssl is not copied into this repository: it is imported from the running
interpreter's ``test`` package (CPython 3.11: ``Lib/test/test_ssl.py`` with
``certdata/`` and ``ssl_servers.py``).

How the substitution works
--------------------------
Before ``test.test_ssl`` is imported, ``sys.modules["ssl"]`` is replaced by a
*shim*: a new module object holding every name of the real ``ssl`` module,
except that

* ``SSLContext``, ``SSLSocket``, ``SSLSession``, ``create_default_context``
  (and its alias ``_create_default_https_context``), ``RAND_bytes``,
  ``RAND_status``, ``OPENSSL_VERSION*`` come from the implementation module
  (``tlsfast._tls_c`` or ``tlsfast._tls_py``) and ``get_server_certificate``
  from ``tlsfast``;
* every other plain function of ``ssl.py`` (``_create_unverified_context`` =
  ``_create_stdlib_context``, ``wrap_socket``...) is re-bound to the shim's
  namespace, so the ``SSLContext`` it builds is tlsfast's.

So both ends of every on-the-wire test (test_ssl's echo servers and its
clients), ``http.client``/``urllib.request`` and ``test.ssl_servers`` all use
tlsfast.  ``SSLObject``, ``MemoryBIO`` and the stdlib's internals (``_ssl``,
the exception classes, enums, constants) stay as they are.  A shim rather
than assigning into the real module: ``ssl.py``'s own property setters call
``super(SSLContext, SSLContext)`` through the module global, which would
recurse forever once that global is a subclass (``--impl python``).

Running
-------
The parent process loads the test list, then runs the tests in a worker
subprocess (``--worker``) which records each outcome as a JSON line.  Each
test gets ``--per-test-timeout`` seconds (SIGALRM raises ``TestTimeout`` in
it); a worker that still hangs or crashes is killed by ``faulthandler``
(traceback kept) and the parent resumes with a fresh worker after the test
that died.  ``--total-timeout`` bounds the whole run; wrap it in
``timeout(1)`` anyway.  Only loopback is used: the ``network`` resource stays
disabled (``--use`` picks the enabled ``test.support`` resources).

Tests listed in ``EXCLUDED`` (see ``tests/stdlib/README.md``) are skipped for
the implementation they name: memory-BIO / ``SSLObject`` tests (a later
issue) and tests that poke CPython internals.  ``--no-exclude`` runs them;
``--membio`` substitutes tlsfast's ``SSLObject``/``MemoryBIO`` as well and
runs the memory-BIO tests.  Failures listed in ``KNOWN`` are still run and
counted, only annotated (the summary names any failure not listed there).

Exit status: 0 when no test failed, errored, timed out or crashed, else 1.
The last line reads ``test_ssl: N passed, N failed, N skipped``.

This file is deliberately not named ``test_*.py``: pytest must not collect
it, and importing it runs nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
IMPL_MODULES = {"c": "tlsfast._tls_c", "python": "tlsfast._tls_py"}
MODULE = "test.test_ssl"

# --------------------------------------------------------------------------
# classification (tests/stdlib/README.md has the reasons in full)
# --------------------------------------------------------------------------

MEMORY_BIO = "later issue: memory BIO"
INTERNALS = "n/a: CPython internals"

#: impl -> {"Class.test": (category, one-line reason)}: skipped unless --no-exclude
EXCLUDED: dict[str, dict[str, tuple[str, str]]] = {
    "c": {
        # (c) memory BIO: wrap_bio / SSLObject / MemoryBIO.  The shim keeps the
        # stdlib's SSLObject and MemoryBIO, so these would test a mix of both
        # (or the stdlib alone); ``--membio`` substitutes tlsfast's and runs them.
        "ContextTests.test_context_custom_class": (MEMORY_BIO, "sslobject_class subclass of ssl.SSLObject + wrap_bio"),
        "SSLErrorTests.test_bad_server_hostname": (MEMORY_BIO, "wrap_bio(server_hostname=...) argument checks"),
        "MemoryBIOTests.test_read_write": (MEMORY_BIO, "MemoryBIO alone"),
        "MemoryBIOTests.test_eof": (MEMORY_BIO, "MemoryBIO alone"),
        "MemoryBIOTests.test_pending": (MEMORY_BIO, "MemoryBIO alone"),
        "MemoryBIOTests.test_buffer_types": (MEMORY_BIO, "MemoryBIO alone"),
        "MemoryBIOTests.test_error_types": (MEMORY_BIO, "MemoryBIO alone"),
        "SSLObjectTests.test_private_init": (MEMORY_BIO, "SSLObject() constructor"),
        "SSLObjectTests.test_unwrap": (MEMORY_BIO, "client and server SSLObject over wrap_bio"),
        "SimpleBackgroundTests.test_bio_handshake": (MEMORY_BIO, "wrap_bio handshake against the echo server (+ sslobj._sslobj.owner)"),
        "SimpleBackgroundTests.test_bio_read_write_data": (MEMORY_BIO, "wrap_bio read/write against the echo server"),
        "SimpleBackgroundTests.test_transport_eof": (MEMORY_BIO, "wrap_bio + incoming.write_eof()"),
        # (b) CPython internals
        "TestPostHandshakeAuth.test_internal_chain_client": (INTERNALS, "s._sslobj.get_verified_chain()/get_unverified_chain(), _ssl.Certificate"),
        "TestPostHandshakeAuth.test_internal_chain_server": (INTERNALS, "echo server calls sslconn._sslobj.get_verified_chain(); hangs the client"),
        "TestSSLDebug.test_msg_callback": (INTERNALS, "SSLContext._msg_callback (private debug hook)"),
        "TestSSLDebug.test_msg_callback_tls12": (INTERNALS, "SSLContext._msg_callback (private debug hook)"),
        "SimpleBackgroundTests.test_bio_handshake": (INTERNALS, "sslobj._sslobj.owner (private); the rest passes"),
    },
    "python": {},
}

DELIBERATE = "deliberate difference"
if sys.version_info < (3, 10):
    # 3.9's create_default_context made PROTOCOL_TLS contexts; tlsfast's
    # makes PROTOCOL_TLS_CLIENT / _SERVER ones on every Python, as 3.10+
    # (docs/porting.rst, "Python versions")
    for _excluded in EXCLUDED.values():
        _excluded["ContextTests.test_create_default_context"] = (
            DELIBERATE, "PROTOCOL_TLS_CLIENT/_SERVER from create_default_context on 3.9 too")

# tlsfast's SSLSocket.sendmsg(buffers) encrypts the buffers (coalesced
# writes, docs/nonblocking.rst); test_ssl asserts the stdlib's
# NotImplementedError (test_recv_send then waits for a reply to data it
# thinks was refused; test_wrapped_unconnected gets the plain socket's
# EPIPE).  tests/test_sendv.py and tests/test_api.py cover both paths.
for _excluded in EXCLUDED.values():
    _excluded["ThreadedTests.test_recv_send"] = (
        DELIBERATE, "sendmsg() sends (the stdlib raises NotImplementedError)")
    _excluded["BasicSocketTests.test_wrapped_unconnected"] = (
        DELIBERATE, "sendmsg() on an unconnected socket is socket.sendmsg (the stdlib raises "
        "NotImplementedError)")

A = "a: real difference"
#: impl -> {"Class.test": (category, note)}: run and counted, annotated in the summary
#: (tests/stdlib/README.md has the diagnosis and the proposed fix of each)
KNOWN: dict[str, dict[str, tuple[str, str]]] = {
    "c": {},
    "python": {},
}


def excluded_for(impl: str, membio: bool, no_exclude: bool) -> dict[str, tuple[str, str]]:
    if no_exclude:
        return {}
    return {k: v for k, v in EXCLUDED.get(impl, {}).items()
            if not (membio and v[0] == MEMORY_BIO)}


def _short_id(test_id: str) -> str:
    """``test.test_ssl.Class.test_x`` -> ``Class.test_x``."""
    return test_id[len(MODULE) + 1:] if test_id.startswith(MODULE + ".") else test_id


# --------------------------------------------------------------------------
# the ssl shim
# --------------------------------------------------------------------------

def install_ssl_shim(impl_name: str, membio: bool = False):
    """Replace ``sys.modules['ssl']`` by a copy whose TLS classes are
    tlsfast's (see the module docstring).  Returns (shim, impl module)."""
    import importlib
    import types

    os.environ["TLSFAST_IMPL"] = impl_name     # steers ``import tlsfast``
    import ssl as real_ssl

    import tlsfast
    impl = importlib.import_module(IMPL_MODULES[impl_name])
    if tlsfast.__impl__ != impl_name:
        raise SystemExit(f"tlsfast.__impl__ is {tlsfast.__impl__!r}, wanted {impl_name!r}")

    replacements = {
        id(real_ssl.SSLContext): impl.SSLContext,
        id(real_ssl.SSLSocket): impl.SSLSocket,
        id(real_ssl.SSLSession): impl.SSLSession,
        id(real_ssl.create_default_context): impl.create_default_context,
        id(real_ssl.RAND_bytes): impl.RAND_bytes,
        id(real_ssl.RAND_status): impl.RAND_status,
        id(real_ssl.get_server_certificate): tlsfast.get_server_certificate,
    }
    by_name = {
        "OPENSSL_VERSION": impl.OPENSSL_VERSION,
        "OPENSSL_VERSION_INFO": impl.OPENSSL_VERSION_INFO,
        "OPENSSL_VERSION_NUMBER": impl.OPENSSL_VERSION_NUMBER,
    }
    if membio:   # memory-BIO mode too: tlsfast's SSLObject and MemoryBIO
        by_name["SSLObject"] = impl.SSLObject
        by_name["MemoryBIO"] = impl.MemoryBIO
    shim = types.ModuleType("ssl", real_ssl.__doc__)
    ns = shim.__dict__
    for name, value in vars(real_ssl).items():
        if name in ("__name__", "__doc__"):
            continue
        ns[name] = value
    for name, value in list(ns.items()):
        if name in by_name:
            ns[name] = by_name[name]
        elif id(value) in replacements:
            ns[name] = replacements[id(value)]
        elif isinstance(value, types.FunctionType) and value.__module__ == "ssl":
            fn = types.FunctionType(value.__code__, ns, value.__name__,
                                    value.__defaults__, value.__closure__)
            fn.__kwdefaults__ = value.__kwdefaults__
            fn.__doc__ = value.__doc__
            fn.__qualname__ = value.__qualname__
            fn.__module__ = "ssl"
            ns[name] = fn
    ns["__tlsfast_impl__"] = impl_name
    ns["__real_ssl__"] = real_ssl
    sys.modules["ssl"] = shim
    # stdlib modules imported before the shim keep their own ``ssl`` global
    for modname in ("http.client", "urllib.request", "test.ssl_servers", "asyncio.sslproto"):
        mod = sys.modules.get(modname)
        if mod is not None and getattr(mod, "ssl", None) is real_ssl:
            mod.ssl = shim
    return shim, impl


def load_test_module(impl_name: str, use_resources, verbose: int, membio: bool = False):
    """Install the shim, configure ``test.support`` then import test_ssl."""
    shim, impl = install_ssl_shim(impl_name, membio)
    from test import support
    support.use_resources = list(use_resources)   # None would mean "all", network included
    support.verbose = verbose
    import importlib
    mod = importlib.import_module(MODULE)
    assert mod.ssl is shim, "test_ssl did not pick up the ssl shim"
    return mod


def load_suite(module, patterns=None, ids=None):
    import unittest
    loader = unittest.TestLoader()
    if ids is not None:
        return loader.loadTestsFromNames(ids)
    if patterns:
        loader.testNamePatterns = [p if "*" in p else f"*{p}*" for p in patterns]
    return loader.loadTestsFromModule(module)


def iter_tests(suite):
    import unittest
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from iter_tests(t)
        else:
            yield t


# --------------------------------------------------------------------------
# worker: runs a list of tests, one JSON line per event
# --------------------------------------------------------------------------

class TestTimeout(BaseException):
    """Raised in the main thread by SIGALRM when a test overruns."""


def open_worker_outputs(args):
    """(crash log file, ``emit(**record)``): faulthandler writes to the
    first, ``emit`` appends one JSON line to ``args.results``."""
    import faulthandler

    crash_log = open(args.crash_log, "a", buffering=1)
    faulthandler.enable(file=crash_log, all_threads=True)
    out = open(args.results, "a", buffering=1)

    def emit(**record):
        out.write(json.dumps(record) + "\n")
        out.flush()

    return crash_log, emit


def run_recorded(suite, emit, crash_log, per_test: float) -> None:
    """Run ``suite``, each test bounded by ``per_test`` seconds (SIGALRM,
    then faulthandler 30 s later), emitting start / result / fixture events
    and finally ``done``."""
    import faulthandler
    import unittest


    def on_alarm(signum, frame):
        # re-arm: a hanging tearDown / cleanup is interrupted too
        signal.setitimer(signal.ITIMER_REAL, 10.0)
        raise TestTimeout(f"test exceeded the per-test timeout ({per_test:g}s)")

    signal.signal(signal.SIGALRM, on_alarm)

    class Result(unittest.TestResult):
        def startTest(self, test):
            super().startTest(test)
            self._t0 = time.monotonic()
            self._errs = []
            self._outcome = "pass"
            emit(event="start", id=test.id())
            faulthandler.dump_traceback_later(per_test + 30, exit=True, file=crash_log)
            signal.setitimer(signal.ITIMER_REAL, per_test)

        def _record(self, outcome, err=None, detail=None):
            rank = ["pass", "skip", "xfail", "xpass", "fail", "error", "timeout"]
            if rank.index(outcome) > rank.index(self._outcome):
                self._outcome = outcome
            if err is not None:
                detail = "".join(traceback.format_exception(*err))
            if detail:
                self._errs.append(detail)

        def addError(self, test, err):
            super().addError(test, err)
            if isinstance(test, unittest.TestCase):
                self._record("timeout" if issubclass(err[0], TestTimeout) else "error", err)
            else:   # setUpClass / setUpModule / cleanup failure (_ErrorHolder)
                emit(event="fixture_error", id=str(test), detail="".join(traceback.format_exception(*err)))

        def addFailure(self, test, err):
            super().addFailure(test, err)
            self._record("fail", err)

        def addSubTest(self, test, subtest, err):
            super().addSubTest(test, subtest, err)
            if err is not None:
                kind = "fail" if issubclass(err[0], test.failureException) else "error"
                if issubclass(err[0], TestTimeout):
                    kind = "timeout"
                self._record(kind, None, f"{subtest.id()}:\n" + "".join(traceback.format_exception(*err)))

        def addSkip(self, test, reason):
            super().addSkip(test, reason)
            if isinstance(test, unittest.TestCase):
                self._record("skip", detail=reason)
            else:
                emit(event="fixture_skip", id=str(test), detail=reason)

        def addExpectedFailure(self, test, err):
            super().addExpectedFailure(test, err)
            self._record("xfail")

        def addUnexpectedSuccess(self, test):
            super().addUnexpectedSuccess(test)
            self._record("xpass")

        def stopTest(self, test):
            signal.setitimer(signal.ITIMER_REAL, 0)
            faulthandler.cancel_dump_traceback_later()
            dt = time.monotonic() - self._t0
            emit(event="result", id=test.id(), outcome=self._outcome,
                 seconds=round(dt, 3), detail="\n".join(self._errs))
            super().stopTest(test)

    result = Result()
    unittest.installHandler()
    try:
        suite.run(result)
    except TestTimeout:   # fired in module/class fixtures outside a test
        emit(event="fixture_error", id="(fixtures)", detail=traceback.format_exc())
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    emit(event="done")


def run_worker(args) -> int:
    import unittest

    crash_log, emit = open_worker_outputs(args)
    module = load_test_module(args.impl, args.use, max(0, args.verbose - 1), args.membio)
    with open(args.ids_file) as f:
        ids = [line.strip() for line in f if line.strip()]
    excluded = excluded_for(args.impl, args.membio, args.no_exclude)
    for test_id in ids:
        entry = excluded.get(_short_id(test_id))
        if entry is not None:
            cls_name, meth = _short_id(test_id).split(".", 1)
            cls = getattr(module, cls_name)
            setattr(cls, meth, unittest.skip(f"[excluded] {entry[0]}: {entry[1]}")(getattr(cls, meth)))
    suite = load_suite(module, ids=ids)
    run_recorded(suite, emit, crash_log, args.per_test_timeout)
    return 0


# --------------------------------------------------------------------------
# parent: lists tests, drives workers, prints the summary
# --------------------------------------------------------------------------

def _first_line(detail: str) -> str:
    """The exception line of a traceback (its last non-empty line)."""
    lines = [line for line in (detail or "").strip().splitlines() if line.strip()]
    if not lines:
        return ""
    for line in reversed(lines):
        if not line.startswith(" ") and not line.startswith("Traceback"):
            return line.strip()[:200]
    return lines[-1].strip()[:200]


def run_parent(args) -> int:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [args.tlsfast_path] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.pop("TLSFAST_IMPL", None)
    env["PYTHONFAULTHANDLER"] = "1"

    # list the tests in a subprocess too: the parent never imports tlsfast
    list_cmd = [sys.executable, os.path.abspath(__file__), "--impl", args.impl, "--list-only"]
    if args.membio:
        list_cmd.append("--membio")
    for p in args.k or []:
        list_cmd += ["-k", p]
    proc = subprocess.run(list_cmd, env=env, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        print("could not load test.test_ssl with tlsfast substituted", file=sys.stderr)
        return 2
    all_ids = [line for line in proc.stdout.splitlines() if line.startswith(MODULE + ".")]
    if not all_ids:
        print("no test matched", file=sys.stderr)
        return 2
    if args.list:
        print("\n".join(all_ids))
        return 0

    workdir = tempfile.mkdtemp(prefix="tlsfast-test_ssl-")
    results: dict[str, dict] = {}
    fixture_events: list[dict] = []
    started_total = time.monotonic()
    deadline = started_total + args.total_timeout
    remaining = list(all_ids)
    worker_no = 0
    print(f"test_ssl with tlsfast impl={args.impl}: {len(all_ids)} tests "
          f"(per-test timeout {args.per_test_timeout:g}s, total {args.total_timeout:g}s)", flush=True)

    while remaining and time.monotonic() < deadline:
        worker_no += 1
        ids_file = os.path.join(workdir, f"ids.{worker_no}")
        res_file = os.path.join(workdir, f"results.{worker_no}")
        crash_file = os.path.join(workdir, f"crash.{worker_no}")
        with open(ids_file, "w") as f:
            f.write("\n".join(remaining) + "\n")
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--impl", args.impl,
               "--ids-file", ids_file, "--results", res_file, "--crash-log", crash_file,
               "--per-test-timeout", str(args.per_test_timeout)]
        cmd += ["-v"] * args.verbose
        for r in args.use:
            cmd += ["--use", r]
        if args.no_exclude:
            cmd.append("--no-exclude")
        if args.membio:
            cmd.append("--membio")
        child = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL)
        state = {"started": None, "done": False}
        open(res_file, "a").close()
        with open(res_file) as res:
            rc = None
            while rc is None:
                try:
                    rc = child.wait(timeout=1.0)
                except subprocess.TimeoutExpired:
                    if time.monotonic() >= deadline:
                        child.kill()
                        child.wait()
                        rc = "total-timeout"
                _read_events(res, state, results, fixture_events, args)
            _read_events(res, state, results, fixture_events, args)
        started, done = state["started"], state["done"]
        remaining = [t for t in remaining if t not in results]
        if done:
            break
        crash_text = ""
        if os.path.exists(crash_file):
            with open(crash_file) as f:
                crash_text = f.read()
        if started is not None:
            outcome = "notrun" if rc == "total-timeout" else "crash"
            results[started] = dict(id=started, outcome=outcome, seconds=None,
                                    detail=f"worker exit status {rc}\n{crash_text[-6000:]}")
            _progress(results[started], args)
            remaining = [t for t in remaining if t != started]
        elif rc != "total-timeout":
            print(f"worker {worker_no} died outside a test (status {rc}):\n{crash_text[-3000:]}",
                  file=sys.stderr)
            break
    for t in remaining:
        results.setdefault(t, dict(id=t, outcome="notrun", seconds=None,
                                   detail="not run: total timeout reached, or a class/module fixture failed "
                                          "(see FIXTURE ERROR above)"))
    elapsed = time.monotonic() - started_total
    if not any(r["outcome"] == "crash" for r in results.values()):
        shutil.rmtree(workdir, ignore_errors=True)
    return summarize(args, all_ids, results, fixture_events, elapsed)


def _read_events(res, state, results, fixture_events, args):
    """Consume the complete JSON lines the worker appended so far."""
    while True:
        pos = res.tell()
        line = res.readline()
        if not line.endswith("\n"):
            res.seek(pos)
            return
        rec = json.loads(line)
        if rec["event"] == "start":
            state["started"] = rec["id"]
        elif rec["event"] == "result":
            results[rec["id"]] = rec
            state["started"] = None
            _progress(rec, args)
        elif rec["event"] in ("fixture_error", "fixture_skip"):
            fixture_events.append(rec)
        elif rec["event"] == "done":
            state["done"] = True


def _progress(rec, args):
    if args.verbose or rec["outcome"] not in ("pass", "skip"):
        secs = f" ({rec['seconds']:.2f}s)" if rec.get("seconds") is not None else ""
        print(f"  {rec['outcome']:8s} {_short_id(rec['id'])}{secs}", flush=True)


FAILING = ("fail", "error", "timeout", "crash", "notrun", "xpass")


def summarize(args, all_ids, results, fixture_events, elapsed) -> int:
    excluded = excluded_for(args.impl, args.membio, args.no_exclude)
    known = KNOWN.get(args.impl, {})
    counts: dict[str, int] = {}
    bad = []
    for t in all_ids:
        rec = results[t]
        outcome = rec["outcome"]
        if outcome == "skip" and _short_id(t) in excluded:
            outcome = "excluded"
        counts[outcome] = counts.get(outcome, 0) + 1
        if outcome in FAILING:
            bad.append(rec)

    if bad and not args.quiet:
        print("\n" + "=" * 78 + "\nDETAILS\n" + "=" * 78)
        for rec in bad:
            print(f"--- {rec['outcome'].upper()}: {_short_id(rec['id'])}")
            print((rec.get("detail") or "").rstrip())
            print()
    for ev in fixture_events:
        if ev["event"] == "fixture_error":
            print(f"--- FIXTURE ERROR: {ev['id']}\n{ev['detail']}")

    print("\n" + "=" * 78)
    print(f"SUMMARY impl={args.impl}  ({elapsed:.0f}s)")
    print("=" * 78)
    if bad:
        width = max(len(_short_id(r["id"])) for r in bad)
        for rec in bad:
            sid = _short_id(rec["id"])
            note = known.get(sid)
            tag = f"[{note[0]}] " if note else ""
            print(f"{rec['outcome']:8s} {sid:{width}s}  {tag}{_first_line(rec.get('detail', ''))}")
    by_category: dict[str, int] = {}
    for t in all_ids:
        if _short_id(t) in excluded and results[t]["outcome"] == "skip":
            cat, why = excluded[_short_id(t)]
            by_category[cat] = by_category.get(cat, 0) + 1
            if args.verbose:
                print(f"  excluded {_short_id(t)}: {cat}: {why}")
    if by_category:
        print("excluded: " + ", ".join(f"{n} {cat}" for cat, n in sorted(by_category.items())))
    print("counts: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    n_failed = sum(counts.get(k, 0) for k in FAILING)
    n_skipped = counts.get("skip", 0) + counts.get("excluded", 0)
    n_passed = counts.get("pass", 0) + counts.get("xfail", 0)
    unknown = [_short_id(r["id"]) for r in bad if _short_id(r["id"]) not in known]
    if bad:
        print(f"{len(bad) - len(unknown)} of the {len(bad)} failures are classified in KNOWN "
              f"(tests/stdlib/README.md); not classified: {len(unknown)}"
              + (": " + ", ".join(unknown) if unknown else ""))
    print(f"test_ssl: {n_passed} passed, {n_failed} failed, {n_skipped} skipped")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"impl": args.impl, "counts": counts,
                       "results": [results[t] for t in all_ids],
                       "fixture_events": fixture_events}, f, indent=1)
    return 1 if n_failed else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--impl", choices=sorted(IMPL_MODULES), default="c")
    p.add_argument("-k", action="append", metavar="PATTERN",
                   help="only tests whose id matches (substring or fnmatch pattern); repeatable")
    p.add_argument("-v", "--verbose", action="count", default=0,
                   help="-v: list every test; -vv: also test.support.verbose")
    p.add_argument("-q", "--quiet", action="store_true", help="no tracebacks, summary only")
    p.add_argument("--per-test-timeout", type=float, default=60.0)
    p.add_argument("--total-timeout", type=float, default=1500.0)
    p.add_argument("--use", action="append", default=None, metavar="RESOURCE",
                   help="test.support resources to enable (default: walltime; "
                        "never use 'network': test_ssl's network tests leave the machine)")
    p.add_argument("--no-exclude", action="store_true",
                   help="also run the tests EXCLUDED for this implementation")
    p.add_argument("--membio", action=argparse.BooleanOptionalAction, default=True,
                   help="also substitute tlsfast's SSLObject/MemoryBIO and run the memory-BIO "
                        "tests (default; --no-membio keeps the stdlib's)")
    p.add_argument("--json", metavar="FILE", help="write every outcome to FILE")
    p.add_argument("--list", action="store_true", help="list the test ids and exit")
    p.add_argument("--tlsfast-path", default=ROOT,
                   help="directory holding the tlsfast package (default: this checkout)")
    # internal
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--list-only", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--ids-file", help=argparse.SUPPRESS)
    p.add_argument("--results", help=argparse.SUPPRESS)
    p.add_argument("--crash-log", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.use is None:
        args.use = ["walltime"]
    if "network" in args.use:
        p.error("the 'network' resource stays disabled (loopback only)")

    if args.list_only:
        module = load_test_module(args.impl, args.use, 0, args.membio)
        for t in iter_tests(load_suite(module, args.k)):
            print(t.id())
        return 0
    if args.worker:
        return run_worker(args)
    return run_parent(args)


if __name__ == "__main__":
    sys.exit(main())
