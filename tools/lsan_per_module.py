"""pytest plugin for ASan runs: a LeakSanitizer check after each test module,
so that a leak can be pinned to the module that made it.

    cd HARDEN_DIR/asan/src && PYTHONPATH=$PWD/tools LD_PRELOAD=... \
        python -m pytest -p lsan_per_module tests ...        (make asan does this)

After the teardown of each module's last test (and a ``gc.collect()``) it
calls ``__lsan_do_recoverable_leak_check()``, which reports every leak found
so far, framed by two ``lsan-per-module: ...`` lines written with
``__sanitizer_report_error_summary`` (so they land in ASAN_OPTIONS'
``log_path`` file with the report).  A leak that first shows up after module
M was made by M (or its fixtures).  ``tools/sanitizer_report.py`` reads these
markers.  Does nothing without the LeakSanitizer runtime.
"""

from __future__ import annotations

import ctypes
import gc

import pytest

try:
    _lib = ctypes.CDLL(None)
    _check = _lib.__lsan_do_recoverable_leak_check
    _check.restype = ctypes.c_int
    _mark = _lib.__sanitizer_report_error_summary
    _mark.argtypes = [ctypes.c_char_p]
except (AttributeError, OSError):
    _check = _mark = None


def _run_check(module):
    gc.collect()
    _mark(f"lsan-per-module: checking after {module}".encode())
    found = _check()
    _mark(f"lsan-per-module: done after {module}: {'leaks' if found else 'no leaks'}".encode())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    yield       # the module's fixtures are torn down by now when it is its last test
    if _check is not None and (nextitem is None or nextitem.path != item.path):
        _run_check(item.nodeid.split("::")[0])
