"""The documentation's examples run, so the docs cannot drift.

* Every ``docs/examples/*.py`` runs as a subprocess (bounded: ``TIMEOUT``
  seconds, killed after) once per implementation (``TLSFAST_IMPL=c`` and
  ``python``), unless a line ``# docs-example: impls=c`` narrows it; it must
  exit 0 without a traceback.  The examples use loopback and trustme
  certificates only and stop by themselves.
* Every ``>>>`` session in ``docs/**/*.rst`` runs with the stdlib's
  ``doctest`` (``python -m doctest``), per implementation.
* Every ``literalinclude`` in the pages names an existing example and
  existing ``start-after`` / ``end-before`` markers, and every example is
  included by some page.
* No page shows Python code the suite does not run: ``code-block:: python``
  / ``pycon`` are refused (use ``literalinclude`` or a ``>>>`` session).
* Shell commands shown in ``code-block:: sh`` / ``console`` blocks refer to
  things that exist: ``make`` targets in the Makefile, ``python -m
  tlsfast`` subcommands and their options (checked against ``--help``),
  and ``docs/examples`` paths.

The Sphinx build itself (``make docs``, warnings are errors) is separate:
Sphinx is in the ``docs`` extra, not the ``test`` one.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import subprocess
import sys

import pytest

from conftest import tlsfast_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
EXAMPLES_DIR = os.path.join(DOCS, "examples")
TIMEOUT = 120
IMPLS = ("c", "python")

EXAMPLES = sorted(
    os.path.basename(p) for p in glob.glob(os.path.join(EXAMPLES_DIR, "*.py"))
    if not os.path.basename(p).startswith("_"))
PAGES = sorted(
    p for p in glob.glob(os.path.join(DOCS, "**", "*.rst"), recursive=True)
    if os.sep + "_build" + os.sep not in p)


def _rel(path: str) -> str:
    return os.path.relpath(path, ROOT)


def _example_impls(name: str) -> tuple[str, ...]:
    with open(os.path.join(EXAMPLES_DIR, name), encoding="utf-8") as f:
        m = re.search(r"^# docs-example: impls=([\w,]+)\s*$", f.read(), re.M)
    return tuple(m.group(1).split(",")) if m else IMPLS


def _env(impl: str) -> dict:
    env = dict(os.environ)
    env["TLSFAST_IMPL"] = impl
    env["PYTHONPATH"] = os.pathsep.join(
        [tlsfast_path()] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.pop("SSLKEYLOGFILE", None)
    env["PYTHONWARNINGS"] = "ignore::DeprecationWarning"
    return env


def _run(args: list, impl: str, cwd: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, cwd=cwd, env=_env(impl), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        pytest.fail(f"{args} did not finish in {timeout} s\n--- stdout\n{out}\n--- stderr\n{err}")


# --------------------------------------------------------------------------
# the examples run
# --------------------------------------------------------------------------

EXAMPLE_CASES = [pytest.param(name, impl, id=f"{name[:-3]}-{impl}")
                 for name in EXAMPLES for impl in _example_impls(name)]


def test_examples_exist():
    assert len(EXAMPLES) >= 10, EXAMPLES


@pytest.mark.timeout(TIMEOUT + 30)
@pytest.mark.parametrize("name, impl", EXAMPLE_CASES)
def test_example_runs(name, impl, tmp_path):
    proc = _run([sys.executable, os.path.join(EXAMPLES_DIR, name)], impl, str(tmp_path))
    report = f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    assert proc.returncode == 0, f"{name} ({impl}) exited {proc.returncode}\n{report}"
    assert "Traceback" not in proc.stderr, report
    assert proc.stdout.strip(), f"{name} printed nothing\n{report}"


# --------------------------------------------------------------------------
# doctest sessions in the pages run
# --------------------------------------------------------------------------

DOCTEST_PAGES = [p for p in PAGES if re.search(r"^\s*>>> ", open(p, encoding="utf-8").read(), re.M)]


def test_some_pages_have_doctests():
    assert DOCTEST_PAGES, "no >>> sessions found in docs/"


@pytest.mark.timeout(TIMEOUT + 30)
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("page", DOCTEST_PAGES, ids=[_rel(p) for p in DOCTEST_PAGES])
def test_page_doctests(page, impl, tmp_path):
    proc = _run([sys.executable, "-m", "doctest", "-o", "ELLIPSIS", "-o", "NORMALIZE_WHITESPACE",
                 page], impl, str(tmp_path))
    assert proc.returncode == 0, f"{_rel(page)} ({impl}):\n{proc.stdout}\n{proc.stderr}"


# --------------------------------------------------------------------------
# includes point at real examples and markers; every example is shown
# --------------------------------------------------------------------------

_DIRECTIVE = re.compile(r"^(\s*)\.\. ([\w:-]+)::[ \t]*(.*)$")


def _directives(page: str):
    """(name, argument, {option: value}, body lines, line number) per directive."""
    with open(page, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        m = _DIRECTIVE.match(line)
        if not m:
            continue
        indent = len(m.group(1))
        options, body = {}, []
        j = i + 1
        while j < len(lines) and (not lines[j].strip() or
                                  len(lines[j]) - len(lines[j].lstrip()) > indent):
            text = lines[j].strip()
            om = re.match(r"^:([\w-]+):\s*(.*)$", text)
            if om and not body:
                options[om.group(1)] = om.group(2)
            elif text or body:
                body.append(lines[j])
            j += 1
        yield m.group(2), m.group(3).strip(), options, body, i + 1


def _includes():
    for page in PAGES:
        for name, arg, options, _, lineno in _directives(page):
            if name == "literalinclude":
                yield page, lineno, os.path.normpath(os.path.join(os.path.dirname(page), arg)), options


def test_literalincludes_resolve():
    problems = []
    for page, lineno, target, options in _includes():
        where = f"{_rel(page)}:{lineno}"
        if not os.path.isfile(target):
            problems.append(f"{where}: {_rel(target)} does not exist")
            continue
        with open(target, encoding="utf-8") as f:
            text = f.read()
        for opt in ("start-after", "end-before"):
            if opt in options and options[opt] not in text:
                problems.append(f"{where}: marker {options[opt]!r} not in {_rel(target)}")
    assert not problems, "\n".join(problems)


def test_every_example_is_shown():
    shown = {os.path.basename(t) for _, _, t, _ in _includes()
             if os.path.dirname(t) == EXAMPLES_DIR}
    missing = sorted(set(EXAMPLES) - shown)
    assert not missing, f"examples no page includes: {missing}"


def test_no_unrun_python_blocks():
    problems = []
    for page in PAGES:
        for name, arg, _, _, lineno in _directives(page):
            if name in ("code-block", "code", "sourcecode") and arg.lower() in (
                    "python", "python3", "py", "pycon", "default", ""):
                problems.append(f"{_rel(page)}:{lineno}: .. {name}:: {arg} (not run by the tests)")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------
# shell commands refer to things that exist
# --------------------------------------------------------------------------

def _shell_commands():
    for page in PAGES:
        for name, arg, _, body, lineno in _directives(page):
            if name not in ("code-block", "code") or arg not in ("sh", "console", "shell", "bash"):
                continue
            for line in body:
                cmd = line.strip()
                if cmd.startswith("$ "):
                    cmd = cmd[2:]
                elif arg == "console":
                    continue                       # output lines
                cmd = cmd.split("#", 1)[0].strip()
                if cmd:
                    yield _rel(page), lineno, cmd


def _make_targets() -> set:
    with open(os.path.join(ROOT, "Makefile"), encoding="utf-8") as f:
        text = f.read()
    targets = set(re.findall(r"^([\w.-]+):", text, re.M))
    for phony in re.findall(r"^\.PHONY:(.*)$", text, re.M):
        targets.update(phony.split())
    return targets


def test_shell_commands_refer_to_existing_things(tmp_path):
    targets = _make_targets()
    helps: dict = {}
    problems = []
    commands = list(_shell_commands())
    assert commands, "no shell commands found in the pages"
    for page, lineno, cmd in commands:
        where = f"{page}:{lineno}: {cmd}"
        try:
            words = shlex.split(cmd)
        except ValueError:
            continue
        while words and re.match(r"^\w+=", words[0]):     # VAR=value prefixes
            words = words[1:]
        if not words:
            continue
        if words[0] == "make":
            for word in words[1:]:
                if not word.startswith("-") and "=" not in word and word not in targets:
                    problems.append(f"{where}: no make target {word!r}")
        elif words[:3] in (["python", "-m", "tlsfast"], ["python3", "-m", "tlsfast"],
                           [".venv/bin/python", "-m", "tlsfast"]) and len(words) > 3:
            sub = words[3]
            if sub not in helps:
                proc = _run([sys.executable, "-m", "tlsfast", sub, "--help"], "c", str(tmp_path), 60)
                helps[sub] = proc.stdout if proc.returncode == 0 else None
            if helps[sub] is None:
                problems.append(f"{where}: 'python -m tlsfast {sub} --help' failed")
                continue
            for word in words[4:]:
                opt = word.split("=", 1)[0]
                if opt.startswith("--") and opt not in helps[sub]:
                    problems.append(f"{where}: {opt} is not an option of 'tlsfast {sub}'")
        for word in words:
            if word.startswith("docs/examples/") and not os.path.exists(os.path.join(ROOT, word)):
                problems.append(f"{where}: {word} does not exist")
    assert not problems, "\n".join(problems)
