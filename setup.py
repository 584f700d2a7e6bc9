"""Defines the one extension, ``tlsfast._tls_c``; metadata is in pyproject.toml.

OpenSSL is found with ``pkg-config openssl``.  Override with
``TLSFAST_OPENSSL_PREFIX=/opt/openssl`` (uses ``include/`` and ``lib/`` or
``lib64/`` below it).  ``TLSFAST_BUILD=python`` skips the extension;
``TLSFAST_BUILD=c`` makes any failure to build it fatal (the default is to
warn and ship the pure-Python implementation only).
Extra C flags (sanitizers, coverage) come from ``CFLAGS`` / ``LDFLAGS``.
"""

import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

MODE = os.environ.get("TLSFAST_BUILD", "auto").lower()


def openssl_flags():
    prefix = os.environ.get("TLSFAST_OPENSSL_PREFIX")
    if prefix:
        libdirs = [d for d in (os.path.join(prefix, "lib64"), os.path.join(prefix, "lib"))
                   if os.path.isdir(d)]
        return [os.path.join(prefix, "include")], libdirs, ["ssl", "crypto"]
    if shutil.which("pkg-config"):
        try:
            cflags = subprocess.check_output(
                ["pkg-config", "--cflags-only-I", "openssl"], text=True).split()
            libs = subprocess.check_output(["pkg-config", "--libs", "openssl"], text=True).split()
        except subprocess.CalledProcessError:
            cflags, libs = [], ["-lssl", "-lcrypto"]
    else:
        cflags, libs = [], ["-lssl", "-lcrypto"]
    incs = [f[2:] for f in cflags if f.startswith("-I")]
    libdirs = [f[2:] for f in libs if f.startswith("-L")]
    names = [f[2:] for f in libs if f.startswith("-l")] or ["ssl", "crypto"]
    return incs, libdirs, names


class OptionalBuildExt(build_ext):
    """Turns a failed compile into a warning unless TLSFAST_BUILD=c."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any toolchain failure
            self._fail(exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            self._fail(exc)

    def _fail(self, exc):
        if MODE == "c":
            raise
        sys.stderr.write(
            "\n*** WARNING: tlsfast's compiled implementation did not build "
            f"({exc}).\n*** Installing the pure-Python implementation only; "
            "set TLSFAST_BUILD=c to make this fatal.\n\n")


def extensions():
    if MODE == "python":
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        if MODE == "c":
            raise
        sys.stderr.write("*** WARNING: Cython missing: pure-Python tlsfast only\n")
        return []
    incs, libdirs, libs = openssl_flags()
    ext = Extension(
        "tlsfast._tls_c",
        ["tlsfast/_tls_c.pyx"],
        include_dirs=incs,
        library_dirs=libdirs,
        runtime_library_dirs=libdirs if os.environ.get("TLSFAST_OPENSSL_PREFIX") else [],
        libraries=libs,
        define_macros=[("OPENSSL_API_COMPAT", "30000"), ("OPENSSL_NO_DEPRECATED", "1")],
    )
    directives = {
        "language_level": "3",
        "embedsignature": True,
        # methods of the cdef classes (SSLObject, MemoryBIO, SSLContext) as
        # plain method descriptors, not cyfunctions: CPython specialises the
        # call (about 130 instructions less per call; callgrind, membio
        # stream).  "clinic" signatures keep them introspectable
        # (inspect.signature, autodoc).  SSLSocket is a Python class: its
        # methods stay cyfunctions (see the decorator in _sslsocket.pxi).
        "binding": False,
        "embedsignature.format": "clinic",
        "freethreading_compatible": False,
    }
    if os.environ.get("TLSFAST_CYTHON_TRACE"):
        directives.update(linetrace=True, profile=True)
        ext.define_macros.append(("CYTHON_TRACE_NOGIL", "1"))
    try:
        return cythonize([ext], compiler_directives=directives,
                         annotate=bool(os.environ.get("TLSFAST_ANNOTATE")))
    except Exception as exc:  # noqa: BLE001
        if MODE == "c":
            raise
        sys.stderr.write(f"*** WARNING: cythonize failed ({exc}): pure-Python tlsfast only\n")
        return []


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
