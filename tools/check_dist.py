#!/usr/bin/env python3
"""``make dist-check``: the sdist and the wheel, built from a fresh clone, checked.

1. ``git clone`` the checkout's HEAD into a temporary directory and run
   ``python -m build`` there (build isolation: setuptools, wheel and Cython
   come from the package index, as for any user; ``TLSFAST_BUILD=c`` makes a
   failed compile fatal).
2. The wheel: its tag is this interpreter's (``cpXY-cpXY-<platform>``, never
   ``py3-none-any``, which would mean the extension was not built) and it
   holds the package, the compiled module and the typing (``py.typed``
   and every ``tlsfast/*.pyi``), and no C, Cython or test files.
3. The sdist: it holds what a build needs (``setup.py``, ``pyproject.toml``,
   the ``.pyx`` / ``.pxi`` / ``.pxd`` / ``.h`` sources, the typing files,
   README, LICENSE) and no generated file (``_tls_c.c``, ``_error_codes.h``, ``.so``).
4. A fresh venv installs the **sdist** (so the extension is compiled from
   it, against this machine's OpenSSL headers) with the ``test`` extra.
   Run from the clone, whose ``tlsfast/`` (sources, nothing compiled)
   shadows the installed build, ``python -m tlsfast info`` must say so and
   ``TLSFAST_IMPL=c`` must fail with an ``ImportError`` that says so.  Then
   the suite runs against the installed package from a copy of the clone
   without its ``tlsfast/`` directory.

Exit status 1 on the first failed check.  ``--keep`` leaves the directory.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WHEEL_FORBIDDEN = re.compile(r"(\.c|\.pyx|\.pxi|\.pxd|\.h)$|(^|/)tests?/")
SDIST_REQUIRED = ("setup.py", "pyproject.toml", "README.md", "LICENSE", "tlsfast/__init__.py",
                  "tlsfast/_tls_c.pyx", "tlsfast/_tls_c.pxd", "tlsfast/_openssl.pxd",
                  "tlsfast/_connection.pxi",
                  "tlsfast/_slot_cache.h", "tlsfast/_tls_py.py")
#: the typing of the package (PEP 561): the marker and every stub, in the
#: wheel and in the sdist (which builds the wheel)
TYPING_FILES = ("tlsfast/py.typed",) + tuple(sorted(
    os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "tlsfast", "*.pyi"))))
SDIST_FORBIDDEN = re.compile(r"(_tls_c\.c|_error_codes\.h|\.so|\.pyc)$")


def run(cmd, **kwargs):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kwargs)


def fail(message):
    print(f"dist-check: FAILED: {message}", flush=True)
    sys.exit(1)


def check_wheel(path):
    name = os.path.basename(path)
    abi = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    expected = f"-{abi}-{abi}-{platform}.whl"
    if not name.endswith(expected):
        fail(f"wheel {name}: tag is not {expected[1:-4]} (was the extension built?)")
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    bad = [n for n in names if WHEEL_FORBIDDEN.search(n)]
    if bad:
        fail(f"wheel {name} holds build or test files: {bad}")
    ext = [n for n in names if re.match(r"tlsfast/_tls_c\..*\.so$", n)]
    for required in ("tlsfast/__init__.py", "tlsfast/_tls_py.py", "tlsfast/gevent.py") + TYPING_FILES:
        if required not in names:
            fail(f"wheel {name} lacks {required}")
    if not ext:
        fail(f"wheel {name} lacks the compiled module tlsfast/_tls_c.*.so")
    print(f"dist-check: wheel {name}: {len(names)} files, {ext[0]}, no C/Cython/test files")


def check_sdist(path):
    name = os.path.basename(path)
    with tarfile.open(path) as tf:
        names = [n.split("/", 1)[1] for n in tf.getnames() if "/" in n]
    missing = [n for n in SDIST_REQUIRED + TYPING_FILES if n not in names]
    if missing:
        fail(f"sdist {name} lacks {missing}")
    bad = [n for n in names if SDIST_FORBIDDEN.search(n)]
    if bad:
        fail(f"sdist {name} holds generated files: {bad}")
    print(f"dist-check: sdist {name}: {len(names)} files, sources complete, nothing generated")


def check_shadowing(py, checkout):
    """From ``checkout`` the source tlsfast is imported in front of the
    installed build: the fallback must be explained, never silent."""
    installed = subprocess.run(
        [py, "-c", "import os, tlsfast; print(os.path.dirname(tlsfast.__file__))"],
        cwd=os.path.dirname(checkout), capture_output=True, text=True, check=True).stdout.strip()
    env = {k: v for k, v in os.environ.items() if k not in ("TLSFAST_IMPL", "PYTHONPATH")}
    info = subprocess.run([py, "-m", "tlsfast", "info"], cwd=checkout, env=env,
                          capture_output=True, text=True)
    expected = ("the tlsfast in the current directory (a source checkout without a compiled "
                f"extension) shadows the installed one at {installed}")
    if info.returncode != 0 or expected not in info.stdout or "RuntimeWarning" not in info.stderr:
        fail(f"'python -m tlsfast info' in the checkout does not explain the shadowed build "
             f"(rc={info.returncode}):\n{info.stdout}{info.stderr}")
    forced = subprocess.run([py, "-c", "import tlsfast"], cwd=checkout,
                            env=dict(env, TLSFAST_IMPL="c"), capture_output=True, text=True)
    last = (forced.stderr.splitlines() or [""])[-1]
    if forced.returncode == 0 or not last.startswith("ImportError: TLSFAST_IMPL=c") \
            or expected not in last:
        fail(f"TLSFAST_IMPL=c in the checkout: no ImportError explaining the shadowed build "
             f"(rc={forced.returncode}):\n{forced.stderr}")
    print(f"dist-check: in the checkout, info and TLSFAST_IMPL=c explain that it shadows "
          f"{installed}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--no-suite", action="store_true", help="skip step 4 (install and test)")
    ap.add_argument("pytest_args", nargs="*", help="extra pytest arguments for step 4")
    args = ap.parse_args(argv)

    tmp = tempfile.mkdtemp(prefix="tlsfast-dist-")
    try:
        src, dist = os.path.join(tmp, "src"), os.path.join(tmp, "dist")
        run(["git", "clone", "-q", ROOT, src])
        env = dict(os.environ, TLSFAST_BUILD="c")
        venv_build = os.path.join(tmp, "build-venv")
        run([sys.executable, "-m", "venv", venv_build])
        bpy = os.path.join(venv_build, "bin", "python")
        run([bpy, "-m", "pip", "install", "-q", "build"])
        run([bpy, "-m", "build", "--outdir", dist, src], env=env,
            stdout=subprocess.DEVNULL)
        wheels = glob.glob(os.path.join(dist, "*.whl"))
        sdists = glob.glob(os.path.join(dist, "*.tar.gz"))
        if len(wheels) != 1 or len(sdists) != 1:
            fail(f"expected one wheel and one sdist, got {os.listdir(dist)}")
        check_wheel(wheels[0])
        check_sdist(sdists[0])
        if args.no_suite:
            return 0

        venv = os.path.join(tmp, "venv")
        run([sys.executable, "-m", "venv", venv])
        py = os.path.join(venv, "bin", "python")
        run([py, "-m", "pip", "install", "-q", "--upgrade", "pip"])
        run([py, "-m", "pip", "install", "-q", f"tlsfast[test] @ file://{sdists[0]}"], env=env)
        run([py, "-c", "import tlsfast, tlsfast._tls_c; assert tlsfast.__impl__ == 'c', "
                       "tlsfast.__impl__; print('installed from the sdist:', tlsfast.__file__)"],
            cwd=tmp)
        check_shadowing(py, src)
        # the suite against the installed package: a copy of the clone
        # without its tlsfast/ (tests and docs read files beside them)
        shutil.rmtree(os.path.join(src, "tlsfast"))
        run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", *args.pytest_args],
            cwd=src)
        print("dist-check: the sdist installs in a fresh venv and passes the suite")
        return 0
    finally:
        if args.keep:
            print(f"dist-check: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
