"""Type stubs for ``tlsfast.gevent`` (checked by ``tests/test_typing.py``).

gevent ships no type information: its classes are ``Any`` here, tlsfast's
own methods are typed."""

from _typeshed import ReadableBuffer, StrOrBytesPath
from typing import Any

from gevent.exceptions import ConcurrentObjectUseError as ConcurrentObjectUseError  # type: ignore[import-untyped, unused-ignore]
from gevent.socket import socket as _GeventSocket  # type: ignore[import-untyped, unused-ignore]

import tlsfast
from tlsfast._green import GreenContextBase, GreenSSLContext, GreenTLSMixin, _AnyContext

__all__ = [
    "SSLSocket", "SSLContext", "GreenContext", "green_context", "wrap_socket",
    "create_default_context", "ConcurrentObjectUseError", "WSGIHandler",
]

from gevent.pywsgi import WSGIHandler as _GeventWSGIHandler  # type: ignore[import-untyped, unused-ignore]

class WSGIHandler(_GeventWSGIHandler):  # type: ignore[misc]
    """gevent's WSGI handler sending headers and the first body piece in
    one ``sendmsg`` (one TLS record when they fit)."""

class SSLSocket(GreenTLSMixin, _GeventSocket):  # type: ignore[misc]
    """A cooperative TLS socket for gevent (``ssl.SSLSocket`` API)."""

    def __init__(
        self,
        sock: Any,
        context: _AnyContext,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | None = None,
        session: tlsfast.SSLSession | None = None,
    ) -> None: ...
    def send(self, data: ReadableBuffer, flags: int = 0, timeout: float | None = ...) -> int: ...
    def accept(self) -> tuple[SSLSocket, Any]: ...
    def shutdown(self, how: int) -> None: ...
    def detach(self) -> int: ...

class GreenContext(GreenContextBase[SSLSocket]):
    """An existing tlsfast context whose ``wrap_socket`` returns
    ``tlsfast.gevent.SSLSocket``; usable as gevent servers' ``ssl_context=``."""

class SSLContext(GreenSSLContext[SSLSocket]):
    """A tlsfast ``SSLContext`` whose ``wrap_socket`` returns cooperative
    ``tlsfast.gevent.SSLSocket`` objects."""

def green_context(context: _AnyContext) -> GreenContext: ...
def wrap_socket(
    sock: Any,
    context: _AnyContext,
    server_side: bool = False,
    do_handshake_on_connect: bool = True,
    suppress_ragged_eofs: bool = True,
    server_hostname: str | None = None,
    session: tlsfast.SSLSession | None = None,
) -> SSLSocket: ...
def create_default_context(
    purpose: tlsfast.Purpose = ...,
    *,
    cafile: StrOrBytesPath | None = None,
    capath: StrOrBytesPath | None = None,
    cadata: str | ReadableBuffer | None = None,
) -> SSLContext: ...
