"""Why ``import tlsfast`` runs the implementation it runs, in words.

Used by ``tlsfast/__init__.py`` when the compiled module does not load (the
``ImportError`` of ``TLSFAST_IMPL=c``, the fallback warning) and by
``python -m tlsfast info``.

The case worth explaining: after ``pip install .`` the compiled build sits in
site-packages, but Python puts the directory it starts in (``python -m``,
``python -c``, the interactive prompt) first on ``sys.path``.  Started in the
checkout, it imports the checkout's ``tlsfast/`` instead -- sources without a
compiled module unless built in place -- which falls back to pure Python
while the installed build goes unused.  Only ``sys.path`` and the files
there are read; nothing is imported.
"""

import importlib.machinery
import os
import sys

C_MODULE = "_tls_c"


def has_compiled(directory):
    """True when ``directory`` (str, a ``tlsfast`` package directory) holds
    ``_tls_c`` built for this interpreter (one of
    :data:`importlib.machinery.EXTENSION_SUFFIXES`).  Never raises."""
    try:
        names = set(os.listdir(directory))
    except OSError:
        return False
    return any(C_MODULE + suffix in names for suffix in importlib.machinery.EXTENSION_SUFFIXES)


def shadowed_compiled_builds(package_dirs):
    """Other ``tlsfast`` packages on ``sys.path`` that hold a compiled module.

    ``package_dirs`` (iterable of str): the live package's ``__path__``.
    Returns a list of directories (str, real paths) in ``sys.path`` order;
    never raises."""
    ours = {os.path.realpath(d) for d in package_dirs}
    found = []
    for entry in sys.path:
        if not isinstance(entry, str):
            continue
        candidate = os.path.realpath(os.path.join(entry or os.curdir, "tlsfast"))
        if candidate in ours or candidate in found:
            continue
        if os.path.isfile(os.path.join(candidate, "__init__.py")) and has_compiled(candidate):
            found.append(candidate)
    return found


def describe_package(directory):
    """``"the tlsfast in the current directory (a source checkout without a
    compiled extension)"`` and the like, for ``directory`` (str)."""
    try:
        cwd = os.path.realpath(os.getcwd())
    except OSError:  # the working directory was removed
        cwd = None
    real = os.path.realpath(directory)
    if os.path.dirname(real) == cwd:
        where = "the tlsfast in the current directory"
    else:
        where = f"the tlsfast at {real}"
    if has_compiled(real):
        return f"{where} (with a compiled extension)"
    if os.path.exists(os.path.join(real, C_MODULE + ".pyx")):
        return f"{where} (a source checkout without a compiled extension)"
    return f"{where} (installed without a compiled extension)"


def why_not_compiled(package_dirs, error):
    """Why ``tlsfast._tls_c`` is not live, and what to do: ``(sentence,
    present)``.

    ``package_dirs`` (list of str): the live package's ``__path__``;
    ``error`` (``ImportError`` or str): what importing ``_tls_c`` raised.
    ``present`` is True when the module file exists but failed to load (the
    import error then matters: a missing libssl, a build for another
    Python), False when it is absent (Python's message for that, "cannot
    import name ... (most likely due to a circular import)", misleads).
    Never raises."""
    if any(has_compiled(d) for d in package_dirs):
        return (f"tlsfast.{C_MODULE} is in {package_dirs[0]} but did not load: {error}",
                True)
    here = describe_package(package_dirs[0])
    shadowed = shadowed_compiled_builds(package_dirs)
    if shadowed:
        return (f"{here} shadows the installed one at {shadowed[0]}, which is compiled: "
                "run from another directory (or with 'python -P' on Python 3.11+), "
                "or build the checkout in place ('make build')", False)
    return (f"{here} has no tlsfast.{C_MODULE} module: build it with 'pip install .' "
            "(needs a C compiler and OpenSSL >= 3.0 headers), or in a checkout "
            "with 'make build'", False)


def explain(package):
    """One line for ``python -m tlsfast info``: why ``package`` (the
    imported ``tlsfast`` module) runs ``package.__impl__``."""
    requested = os.environ.get("TLSFAST_IMPL", "").strip().lower()
    if requested:
        return f"TLSFAST_IMPL={requested} asks for it"
    if package.__impl__ == "c":
        return "the compiled module loaded (TLSFAST_IMPL is not set: compiled first)"
    sentence, _ = why_not_compiled(list(package.__path__), package._c_import_error)
    return f"TLSFAST_IMPL is not set and the compiled module is unavailable: {sentence}"
