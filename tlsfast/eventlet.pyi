"""Type stubs for ``tlsfast.eventlet`` (checked by ``tests/test_typing.py``).

eventlet ships no type information: its classes are ``Any`` here, tlsfast's
own methods are typed."""

import types
from _typeshed import ReadableBuffer, StrOrBytesPath
from typing import Any

from eventlet.greenio.base import GreenSocket as _GreenSocket  # type: ignore[import-untyped, unused-ignore]
from eventlet.hubs import IOClosed as IOClosed  # type: ignore[import-untyped, unused-ignore]

import tlsfast
from tlsfast._green import GreenContextBase, GreenSSLContext, GreenTLSMixin, _AnyContext

__all__ = [
    "GreenSSLSocket", "SSLSocket", "SSLContext", "GreenContext", "green_context",
    "wrap_socket", "wrap_ssl", "create_default_context", "IOClosed",
]

class GreenSSLSocket(GreenTLSMixin, _GreenSocket):  # type: ignore[misc]
    """A cooperative TLS socket for eventlet (``ssl.SSLSocket`` API);
    attributes it does not define are the underlying socket's."""

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
    def __getattr__(self, name: str) -> Any: ...
    def fileno(self) -> int: ...
    def getsockname(self) -> Any: ...
    def getpeername(self) -> Any: ...
    def getsockopt(self, *args: Any) -> Any: ...
    def setsockopt(self, *args: Any) -> None: ...
    def bind(self, address: Any) -> None: ...
    def listen(self, *args: Any) -> None: ...
    @property
    def family(self) -> int: ...
    @property
    def type(self) -> int: ...
    @property
    def proto(self) -> int: ...
    def accept(self) -> tuple[GreenSSLSocket, Any]: ...
    def shutdown(self, how: int) -> None: ...
    def close(self) -> None: ...
    def detach(self) -> int: ...

SSLSocket = GreenSSLSocket

class GreenContext(GreenContextBase[GreenSSLSocket]):
    """An existing tlsfast context whose ``wrap_socket`` returns
    ``GreenSSLSocket``."""

class SSLContext(GreenSSLContext[GreenSSLSocket]):
    """A tlsfast ``SSLContext`` whose ``wrap_socket`` returns cooperative
    ``tlsfast.eventlet.GreenSSLSocket`` objects."""

def green_context(context: _AnyContext) -> GreenContext: ...
def wrap_socket(
    sock: Any,
    context: _AnyContext,
    server_side: bool = False,
    do_handshake_on_connect: bool = True,
    suppress_ragged_eofs: bool = True,
    server_hostname: str | None = None,
    session: tlsfast.SSLSession | None = None,
) -> GreenSSLSocket: ...
def create_default_context(
    purpose: tlsfast.Purpose = ...,
    *,
    cafile: StrOrBytesPath | None = None,
    capath: StrOrBytesPath | None = None,
    cadata: str | ReadableBuffer | None = None,
) -> SSLContext: ...
def wrap_ssl(
    sock: Any,
    certificate: StrOrBytesPath | None = None,
    private_key: StrOrBytesPath | None = None,
    server_side: bool = False,
    cert_reqs: int | None = None,
    ssl_version: int | None = None,
    ca_certs: StrOrBytesPath | None = None,
    do_handshake_on_connect: bool = True,
    suppress_ragged_eofs: bool = True,
    ciphers: str | None = None,
    *,
    context: _AnyContext | None = None,
    server_hostname: str | None = None,
    certfile: StrOrBytesPath | None = None,
    keyfile: StrOrBytesPath | None = None,
    password: Any = None,
    impl: types.ModuleType | None = None,
) -> GreenSSLSocket: ...
