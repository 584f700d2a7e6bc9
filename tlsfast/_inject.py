"""Process-wide use of tlsfast: ``inject_into_ssl()`` / ``extract_from_ssl()``.

The names and semantics are truststore's: injecting replaces
``ssl.SSLContext`` with tlsfast's class, so every context made afterwards --
by ``ssl.create_default_context()``, ``ssl._create_unverified_context()``
(smtplib, imaplib, ftplib, poplib), ``http.client``, ``urllib.request``,
asyncio, httpx, websockets, aiohttp... -- is a tlsfast one.  The stdlib's
functions look ``SSLContext`` up in their module at call time, so replacing
the one name reaches all of them; a library that copied the name at its
import (``from ssl import SSLContext``: urllib3) has its copy replaced too,
and the contexts urllib3 / requests / aiohttp build once at their import are
rebuilt.  Contexts that exist before injection stay stdlib ones.

Extracting puts every replaced name back.  Both are idempotent and hold a
lock, so concurrent calls cannot interleave.
"""

from __future__ import annotations

import ssl as _ssl
import sys
import threading

_lock = threading.Lock()
#: (module, attribute) -> the value injection replaced
_replaced: dict = {}


def _copies():
    """``(module, attribute, value_factory)`` for every place injection
    changes: the ``ssl`` module's class, then the copies and prebuilt
    contexts of the libraries already imported (a library imported later
    reads the injected ``ssl`` names itself)."""
    import tlsfast

    yield _ssl, "SSLContext", lambda: tlsfast.SSLContext
    urllib3_ssl = sys.modules.get("urllib3.util.ssl_")
    if urllib3_ssl is not None and getattr(urllib3_ssl, "SSLContext", None) is not None:
        yield urllib3_ssl, "SSLContext", lambda: tlsfast.SSLContext
    adapters = sys.modules.get("requests.adapters")
    if adapters is not None and getattr(adapters, "_preloaded_ssl_context", None) is not None:
        yield adapters, "_preloaded_ssl_context", lambda: _requests_context(adapters)
    connector = sys.modules.get("aiohttp.connector")
    if connector is not None and hasattr(connector, "_make_ssl_context"):
        for name, verified in (("_SSL_CONTEXT_VERIFIED", True),
                               ("_SSL_CONTEXT_UNVERIFIED", False)):
            if getattr(connector, name, None) is not None:
                yield connector, name, (lambda v=verified: connector._make_ssl_context(v))


def _requests_context(adapters):
    """requests' preloaded context, made again the way requests makes it."""
    ctx = adapters.create_urllib3_context()
    ctx.load_verify_locations(adapters.extract_zipped_paths(adapters.DEFAULT_CA_BUNDLE_PATH))
    return ctx


def inject_into_ssl() -> None:
    """Make every library in the process use tlsfast: replace
    ``ssl.SSLContext`` with ``tlsfast.SSLContext`` (the live implementation),
    urllib3's copy of it, and the contexts requests and aiohttp prebuilt at
    their import.  Contexts made before the call stay stdlib ones.  A
    second call does nothing.  Mirrors ``truststore.inject_into_ssl()``;
    raises nothing of its own (a library's context factory may raise what
    ``load_verify_locations`` raises, and then nothing is replaced)."""
    with _lock:
        if (_ssl, "SSLContext") in _replaced:
            return
        originals = {}
        try:
            for module, name, factory in _copies():
                originals[(module, name)] = getattr(module, name)
                setattr(module, name, factory())
        except BaseException:
            for (module, name), value in originals.items():
                setattr(module, name, value)
            raise
        _replaced.update(originals)


def extract_from_ssl() -> None:
    """Undo ``inject_into_ssl()``: put back every name it replaced (contexts
    made meanwhile stay tlsfast ones).  Does nothing when tlsfast is not
    injected.  Mirrors ``truststore.extract_from_ssl()``."""
    with _lock:
        for (module, name), value in _replaced.items():
            setattr(module, name, value)
        _replaced.clear()

