"""The API both implementations satisfy (``_tls_c`` and ``_tls_py``).

``tests/test_api.py`` checks every name here exists on both implementations
with a compatible signature.  Semantics are the stdlib ``ssl`` module's unless
a docstring says otherwise; the additions are the non-raising fast path:

``try_do_handshake() -> int``
    0 when the handshake is complete, else ``WANT_READ`` / ``WANT_WRITE``.
``try_recv_into(buffer, nbytes=0) -> int``
    decrypted bytes written into ``buffer`` (> 0), 0 at a clean EOF
    (close_notify; or a ragged EOF when ``suppress_ragged_eofs``), or
    ``WANT_READ`` / ``WANT_WRITE``.  Real errors still raise.
``try_send(data) -> int``
    plaintext bytes taken from ``data`` (> 0, possibly fewer than
    ``len(data)``), or ``WANT_READ`` / ``WANT_WRITE``.  After a short write
    ``wanted_events`` is ``EVENT_WRITE`` when the rest must wait for the
    socket to drain (send the rest at once and you get ``WANT_WRITE``).
``try_sendv(buffers) -> int``
    ``try_send`` for the bytes-like objects of the iterable ``buffers`` as
    one stream, in as few TLS records as fit (16 KiB of plaintext each):
    plaintext bytes taken across them (0 when there are none; the compiled
    implementation may take fewer than all), or ``WANT_READ`` /
    ``WANT_WRITE`` when none were taken.  Retry with the same buffers after
    a want code, with the rest after a short count.
``try_unwrap() -> int``
    0 when the TLS shutdown is complete (close_notify sent and received),
    else ``WANT_READ`` / ``WANT_WRITE``.
``wanted_events -> int``
    the ``selectors`` event mask the last fast-path call waits for:
    ``EVENT_READ``, ``EVENT_WRITE`` or 0 when it waits for nothing.
"""

from __future__ import annotations

import socket
import sys
from typing import Any, Callable, Iterable, Optional, Protocol, Union, runtime_checkable

Buffer = Any  # any object exporting the buffer protocol


@runtime_checkable
class SSLSessionProtocol(Protocol):
    id: bytes
    time: int
    timeout: int
    ticket_lifetime_hint: int
    has_ticket: bool


class _TLSConnectionProtocol(Protocol):
    """What ``ssl.SSLSocket`` and ``ssl.SSLObject`` share."""

    context: Any
    server_side: bool
    server_hostname: Optional[str]
    session: Optional[SSLSessionProtocol]
    session_reused: Optional[bool]

    # stdlib-compatible (raise SSLWantReadError / SSLWantWriteError)
    def read(self, len: int = 1024, buffer: Optional[Buffer] = None) -> Union[bytes, int]: ...
    def write(self, data: Buffer) -> int: ...
    def pending(self) -> int: ...
    def getpeercert(self, binary_form: bool = False) -> Any: ...
    def cipher(self) -> Optional[tuple]: ...
    def shared_ciphers(self) -> Optional[list]: ...
    def compression(self) -> Optional[str]: ...
    def version(self) -> Optional[str]: ...
    def selected_alpn_protocol(self) -> Optional[str]: ...
    def get_channel_binding(self, cb_type: str = "tls-unique") -> Optional[bytes]: ...
    def verify_client_post_handshake(self) -> None: ...

    # fast path (never raise for want-read / want-write)
    def try_do_handshake(self) -> int: ...
    def try_recv_into(self, buffer: Buffer, nbytes: int = 0) -> int: ...
    def try_send(self, data: Buffer) -> int: ...
    def try_sendv(self, buffers: Iterable[Buffer]) -> int: ...
    def try_unwrap(self) -> int: ...
    @property
    def wanted_events(self) -> int: ...


@runtime_checkable
class SSLSocketProtocol(_TLSConnectionProtocol, Protocol):
    """A ``socket.socket`` subclass speaking TLS (``ssl.SSLSocket``)."""

    suppress_ragged_eofs: bool
    do_handshake_on_connect: bool

    def do_handshake(self, block: bool = False) -> None: ...
    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes: ...
    def recv_into(self, buffer: Buffer, nbytes: Optional[int] = None, flags: int = 0) -> int: ...
    def send(self, data: Buffer, flags: int = 0) -> int: ...
    def sendall(self, data: Buffer, flags: int = 0) -> None: ...
    def sendmsg(self, buffers: Iterable[Buffer], ancdata: Iterable = (), flags: int = 0,
                address: Any = None) -> int: ...
    def unwrap(self) -> socket.socket: ...


@runtime_checkable
class SSLObjectProtocol(_TLSConnectionProtocol, Protocol):
    """``ssl.SSLObject``: TLS over two memory BIOs (``wrap_bio``); the
    ``try_*`` methods return ``WANT_READ`` when ``incoming`` lacks data."""

    def do_handshake(self) -> None: ...
    def unwrap(self) -> None: ...


@runtime_checkable
class MemoryBIOProtocol(Protocol):
    """``ssl.MemoryBIO`` (either implementation's takes the other's, and
    the stdlib's, in ``wrap_bio``)."""

    @property
    def pending(self) -> int: ...
    @property
    def eof(self) -> bool: ...
    def read(self, size: int = -1, /) -> bytes: ...
    def write(self, b: Buffer, /) -> int: ...
    def write_eof(self) -> None: ...
    def read_into(self, buffer: Buffer, /) -> int: ...


@runtime_checkable
class SSLContextProtocol(Protocol):
    """``ssl.SSLContext``, owning its own ``SSL_CTX*`` in the compiled one."""

    protocol: Any
    verify_mode: Any
    check_hostname: bool
    hostname_checks_common_name: bool
    verify_flags: Any
    minimum_version: Any
    maximum_version: Any
    options: Any
    num_tickets: int
    keylog_filename: Optional[str]
    post_handshake_auth: bool
    sni_callback: Optional[Callable]
    if sys.version_info >= (3, 10):     # as ssl.SSLContext
        security_level: int

    def load_cert_chain(self, certfile, keyfile=None, password=None) -> None: ...
    def load_verify_locations(self, cafile=None, capath=None, cadata=None) -> None: ...
    def load_default_certs(self, purpose=...) -> None: ...
    def set_default_verify_paths(self) -> None: ...
    def set_ciphers(self, ciphers: str) -> None: ...
    def get_ciphers(self) -> list: ...
    def set_alpn_protocols(self, protocols) -> None: ...
    def set_ecdh_curve(self, name) -> None: ...
    def session_stats(self) -> dict: ...
    def cert_store_stats(self) -> dict: ...
    def get_ca_certs(self, binary_form: bool = False) -> list: ...
    def wrap_socket(self, sock, server_side=False, do_handshake_on_connect=True,
                    suppress_ragged_eofs=True, server_hostname=None, session=None) -> SSLSocketProtocol: ...
    def wrap_bio(self, incoming, outgoing, server_side=False, server_hostname=None,
                 session=None) -> SSLObjectProtocol: ...


#: names every implementation module exports besides ``_common``'s
IMPLEMENTATION_NAMES = (
    "SSLContext", "SSLSocket", "SSLObject", "MemoryBIO", "SSLSession", "create_default_context",
    "OPENSSL_VERSION", "OPENSSL_VERSION_INFO", "OPENSSL_VERSION_NUMBER",
    "RAND_bytes", "RAND_status", "RAND_add",
)
