"""tlsfast: a fast TLS socket layer for non-blocking Python event loops.

Two implementations share one API (``tlsfast._protocol``):

* ``tlsfast._tls_c`` -- Cython calling libssl (OpenSSL 3) directly;
* ``tlsfast._tls_py`` -- pure Python over the stdlib ``ssl`` module.

The environment variable ``TLSFAST_IMPL`` picks one: ``c`` or ``python``.
When it is set, that implementation must load or ``import tlsfast`` fails
with ``ImportError`` saying why; when unset, the compiled one is tried
first, then pure Python -- with a ``RuntimeWarning`` when a compiled build
of tlsfast later on ``sys.path`` is shadowed by this one (for example a
source checkout, run from its directory, in front of ``pip install .``'s
build).  ``tlsfast.__impl__`` names the live one (``"c"`` or ``"python"``);
``python -m tlsfast info`` says why.
"""

import os as _os
import ssl as _stdlib_ssl

from ._common import *  # noqa: F401,F403  (constants, exceptions, codes)
from ._common import __all__ as _common_all
from ._protocol import IMPLEMENTATION_NAMES as _IMPL_NAMES

__version__ = "0.1.0"


def _load(name):
    if name == "c":
        from . import _tls_c as impl
    elif name == "python":
        from . import _tls_py as impl
    else:
        raise ImportError(
            f"TLSFAST_IMPL={name!r} is not an implementation: use 'c' or 'python'"
        )
    return impl


_requested = _os.environ.get("TLSFAST_IMPL", "").strip().lower()
_c_import_error = None  # str: why the compiled module did not load, when it did not
if _requested:
    try:
        _impl = _load(_requested)
    except ImportError as exc:
        if _requested != "c":
            raise
        from ._impl_choice import why_not_compiled as _why
        _message, _present = _why(list(__path__), exc)
        raise ImportError(
            f"TLSFAST_IMPL=c but the compiled implementation tlsfast._tls_c is "
            f"not available: {_message}") from (exc if _present else None)
    __impl__ = _requested
else:
    try:
        _impl = _load("c")
        __impl__ = "c"
    except ImportError as exc:
        _c_import_error = str(exc)
        _impl = _load("python")
        __impl__ = "python"
        from ._impl_choice import shadowed_compiled_builds as _shadowed
        if _shadowed(__path__):
            # a compiled build is installed but this one is imported: the
            # fallback would go unnoticed (the usual cause: started in a
            # source checkout after a non-editable install)
            import warnings as _warnings
            from ._impl_choice import why_not_compiled as _why
            _warnings.warn("tlsfast runs its pure-Python implementation: "
                           + _why(list(__path__), exc)[0], RuntimeWarning, stacklevel=2)

globals().update({name: getattr(_impl, name) for name in _IMPL_NAMES})

from ._helpers import create_unverified_context as _unverified_context  # noqa: E402
from ._helpers import get_protocol_name, get_server_certificate  # noqa: E402
from ._inject import extract_from_ssl, inject_into_ssl  # noqa: E402

__all__ = list(_common_all) + list(_IMPL_NAMES) + [
    "get_server_certificate", "get_protocol_name", "inject_into_ssl", "extract_from_ssl",
    "__impl__"]


# ssl.py's private helpers that other stdlib modules call (http.client,
# urllib.request, smtplib, imaplib, ftplib, poplib), so that
# ``sys.modules["ssl"] = tlsfast`` serves them too
def _create_unverified_context(protocol=None, **kwargs):
    """``ssl._create_unverified_context`` making a tlsfast ``SSLContext``
    (``tlsfast._helpers.create_unverified_context`` has the details)."""
    return _unverified_context(SSLContext, protocol, **kwargs)  # noqa: F405


_create_stdlib_context = _create_unverified_context
_create_default_https_context = create_default_context  # noqa: F405

# what the stdlib removed in 3.12, where the running one still has it
if hasattr(_stdlib_ssl, "wrap_socket"):
    from ._helpers import RAND_pseudo_bytes, match_hostname, wrap_socket  # noqa: E402,F401
    __all__ += ["RAND_pseudo_bytes", "match_hostname", "wrap_socket"]
