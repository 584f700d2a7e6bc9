"""Type stubs for ``tlsfast.asyncio`` (checked by ``tests/test_typing.py``)."""

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final

import tlsfast

__all__ = [
    "TLSTransport", "create_connection", "create_server", "open_connection",
    "start_server", "start_tls", "install", "uninstall", "loop_factory",
    "is_tlsfast_context", "SSL_HANDSHAKE_TIMEOUT", "SSL_SHUTDOWN_TIMEOUT",
]

SSL_HANDSHAKE_TIMEOUT: Final[float]
SSL_SHUTDOWN_TIMEOUT: Final[float]

class TLSTransport(asyncio.Transport):
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sslsock: tlsfast.SSLSocket,
        protocol: asyncio.BaseProtocol,
        sslcontext: tlsfast.SSLContext,
        *,
        waiter: asyncio.Future[None] | None = None,
        server_side: bool = False,
        ssl_handshake_timeout: float | None = None,
        ssl_shutdown_timeout: float | None = None,
        call_connection_made: bool = True,
    ) -> None: ...
    def __del__(self) -> None: ...
    def get_extra_info(self, name: str, default: Any = None) -> Any: ...
    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None: ...
    def get_protocol(self) -> asyncio.BaseProtocol: ...
    def is_closing(self) -> bool: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...
    def is_reading(self) -> bool: ...
    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...
    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None: ...
    def get_write_buffer_limits(self) -> tuple[int, int]: ...
    def get_write_buffer_size(self) -> int: ...
    def can_write_eof(self) -> bool: ...
    def write_eof(self) -> None: ...
    def write(self, data: bytes | bytearray | memoryview) -> None: ...
    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None: ...

def is_tlsfast_context(obj: object) -> bool: ...
async def create_connection(
    loop: asyncio.AbstractEventLoop,
    protocol_factory: Callable[[], asyncio.BaseProtocol],
    host: str | None = None,
    port: int | None = None,
    *,
    ssl: tlsfast.SSLContext | bool = True,
    server_hostname: str | None = None,
    ssl_handshake_timeout: float | None = None,
    ssl_shutdown_timeout: float | None = None,
    **kwargs: Any,
) -> tuple[TLSTransport, asyncio.BaseProtocol]: ...
async def create_server(
    loop: asyncio.AbstractEventLoop,
    protocol_factory: Callable[[], asyncio.BaseProtocol],
    host: str | None = None,
    port: int | None = None,
    *,
    ssl: tlsfast.SSLContext,
    ssl_handshake_timeout: float | None = None,
    ssl_shutdown_timeout: float | None = None,
    **kwargs: Any,
) -> asyncio.Server: ...
async def start_tls(
    loop: asyncio.AbstractEventLoop,
    transport: asyncio.BaseTransport,
    protocol: asyncio.BaseProtocol,
    sslcontext: tlsfast.SSLContext,
    *,
    server_side: bool = False,
    server_hostname: str | None = None,
    ssl_handshake_timeout: float | None = None,
    ssl_shutdown_timeout: float | None = None,
) -> asyncio.Transport: ...
async def open_connection(
    host: str | None = None,
    port: int | None = None,
    *,
    limit: int = 65536,
    ssl: tlsfast.SSLContext | bool = True,
    **kwargs: Any,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]: ...
async def start_server(
    client_connected_cb: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None] | None],
    host: str | None = None,
    port: int | None = None,
    *,
    limit: int = 65536,
    ssl: tlsfast.SSLContext,
    **kwargs: Any,
) -> asyncio.Server: ...
def install(loop: asyncio.AbstractEventLoop) -> asyncio.AbstractEventLoop: ...
def uninstall(loop: asyncio.AbstractEventLoop) -> None: ...
def loop_factory(
    base: Callable[[], asyncio.AbstractEventLoop] | None = None,
) -> asyncio.AbstractEventLoop: ...
