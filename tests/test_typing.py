"""The package's typing (PEP 561, docs/typing.rst), against both implementations.

* ``py.typed`` and the stubs (``tlsfast/*.pyi``) are in the package under test.
* ``mypy --strict`` passes on the documentation's examples -- every
  ``docs/examples/*.py`` and every page's ``>>>`` session, extracted as
  ``tests/test_docs_examples.py`` runs them (one module per page, on the
  page's own line numbers) -- with the project's mypy configuration
  (``[tool.mypy]`` in pyproject.toml); in a checkout the stubs themselves
  are checked too.
* ``mypy.stubtest`` compares the stubs with the runtime, once per
  implementation (``TLSFAST_IMPL=c`` / ``python``, since ``import
  tlsfast`` picks one): every public name, every signature.
* The stubs' base classes are the runtime's (stubtest does not compare
  them): ``tlsfast.SSLContext`` really is an ``ssl.SSLContext``...
* ``inspect.signature`` works for every public callable tlsfast defines.

The last three run ``tests/typing_probe.py`` or stubtest in a fresh
interpreter per implementation.  Nothing here is skipped: mypy is in the
``test`` extra on every supported Python.
"""

from __future__ import annotations

import doctest
import glob
import os
import shutil
import subprocess
import sys

import pytest

from conftest import tlsfast_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, "tests")
DOCS = os.path.join(ROOT, "docs")
IMPLS = ("c", "python")
TIMEOUT = 120

pytestmark = pytest.mark.timeout(TIMEOUT + 30)

#: what one implementation lacks by design, which one stub (declaring what
#: tlsfast documents) cannot say: (implementation, applies, stubtest path,
#: why).  An entry that no longer applies fails the test (stubtest reports
#: unused allowlist entries), so the list cannot go stale.
IMPLEMENTATION_ONLY = [
    ("python", sys.version_info < (3, 13), "tlsfast.SSLContext.set_psk_client_callback",
     "TLS-PSK: the stdlib has it from 3.13; the compiled implementation on every "
     "version (docs/beyond-stdlib.rst, tests/test_psk.py)"),
    ("python", sys.version_info < (3, 13), "tlsfast.SSLContext.set_psk_server_callback",
     "the same"),
]
# (SSLContext.security_level, declared for every version but in the
# pure-Python implementation from 3.10 only, as the stdlib's, needs no entry:
# stubtest cannot tell a missing attribute from one set in __init__)


def _package_dir() -> str:
    return os.path.join(tlsfast_path(), "tlsfast")


def _run(args: list, cwd: str, impl: str | None = None,
         env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("TLSFAST_IMPL", "MYPYPATH")}
    env["PYTHONPATH"] = os.pathsep.join(
        [tlsfast_path(), HERE] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env["PYTHONWARNINGS"] = "ignore"     # (eventlet warns that it is deprecated)
    if impl is not None:
        env["TLSFAST_IMPL"] = impl
    env.update(env_extra or {})
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT, stdin=subprocess.DEVNULL)


def _report(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


def _stub_dir(tmp_path) -> str:
    """The package's stubs alone (a package of .pyi files), for mypy_path:
    stubtest builds every module of the package it finds, and the
    implementation's .py sources are no stubs."""
    target = tmp_path / "stubs" / "tlsfast"
    target.mkdir(parents=True)
    for path in glob.glob(os.path.join(_package_dir(), "*.pyi")) + [
            os.path.join(_package_dir(), "py.typed")]:
        shutil.copy(path, target)
    return str(tmp_path / "stubs")


def test_marker_and_stubs_are_in_the_package():
    names = set(os.listdir(_package_dir()))
    assert "py.typed" in names
    for module in ("__init__", "gevent", "eventlet", "_green"):
        assert f"{module}.pyi" in names, sorted(names)


# --------------------------------------------------------------------------
# mypy --strict on the documentation's examples
# --------------------------------------------------------------------------

def _doctest_modules(directory) -> dict[str, str]:
    """Each page's ``>>>`` session as a module whose lines are the page's
    (mypy's line numbers point into the page): {module path: page path}."""
    paths = {}
    for page in sorted(glob.glob(os.path.join(DOCS, "**", "*.rst"), recursive=True)):
        if os.sep + "_build" + os.sep in page:
            continue
        with open(page, encoding="utf-8") as f:
            examples = doctest.DocTestParser().get_examples(f.read(), page)
        if not examples:
            continue
        lines: list[str] = []
        for example in examples:
            lines += [""] * (example.lineno - len(lines))
            lines += example.source.splitlines()
        name = os.path.relpath(page, DOCS)[:-4].replace(os.sep, "_").replace("-", "_")
        path = os.path.join(directory, f"page_{name}.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        paths[path] = os.path.relpath(page, ROOT)
    return paths


def test_docs_examples_pass_mypy_strict(tmp_path):
    sessions = tmp_path / "sessions"
    sessions.mkdir()
    pages = _doctest_modules(sessions)
    assert pages, "no >>> sessions found in docs/"
    files = sorted(glob.glob(os.path.join(DOCS, "examples", "*.py"))) + sorted(pages)
    env_extra = {}
    if os.path.abspath(tlsfast_path()) == ROOT:
        # a checkout: tlsfast (and its stubs, checked too) from here; an
        # installed package is found in site-packages, through py.typed
        env_extra["MYPYPATH"] = ROOT
        files += sorted(glob.glob(os.path.join(_package_dir(), "*.pyi")))
    proc = _run([sys.executable, "-m", "mypy", "--config-file", os.path.join(ROOT, "pyproject.toml"),
                 "--strict", "--cache-dir", str(tmp_path / "cache"), "--no-error-summary",
                 "--show-error-codes", *files], str(tmp_path), env_extra=env_extra)
    report = proc.stdout
    for module, page in pages.items():
        report = report.replace(module, page)
    assert proc.returncode == 0 and not proc.stdout.strip(), f"{report}\n{proc.stderr}"


# --------------------------------------------------------------------------
# the stubs against each implementation
# --------------------------------------------------------------------------

@pytest.mark.parametrize("impl", IMPLS)
def test_stubs_match_the_runtime(impl, tmp_path):
    """``mypy.stubtest``: names, kinds and signatures of the stubs against
    the live implementation."""
    stubs = _stub_dir(tmp_path)
    config = tmp_path / "mypy.ini"
    config.write_text(f"[mypy]\nmypy_path = {stubs}\n")
    allowlist = tmp_path / "allowlist.txt"
    allowlist.write_text("".join(f"{path}  # {why}\n" for who, applies, path, why
                                 in IMPLEMENTATION_ONLY if who == impl and applies))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    proc = _run([sys.executable, "-m", "mypy.stubtest", "--mypy-config-file", str(config),
                 "--allowlist", str(allowlist), "--concise", "tlsfast"], str(cwd), impl)
    assert proc.returncode == 0, _report(proc)


@pytest.mark.parametrize("impl", IMPLS)
def test_stub_bases_are_the_runtime_bases(impl, tmp_path):
    proc = _run([sys.executable, os.path.join(HERE, "typing_probe.py"), "bases",
                 _stub_dir(tmp_path)], str(tmp_path), impl)
    assert proc.returncode == 0, _report(proc)
    assert proc.stdout.startswith(f"implementation {impl}: 0 problem(s)"), _report(proc)


# --------------------------------------------------------------------------
# inspect.signature
# --------------------------------------------------------------------------

@pytest.mark.parametrize("impl", IMPLS)
def test_every_public_callable_has_a_signature(impl, tmp_path):
    proc = _run([sys.executable, os.path.join(HERE, "typing_probe.py"), "signatures"],
                str(tmp_path), impl)
    assert proc.returncode == 0, _report(proc)
    assert proc.stdout.startswith(f"implementation {impl}: 0 problem(s)"), _report(proc)
