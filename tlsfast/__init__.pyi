"""Type stubs for ``tlsfast`` (PEP 561; the package ships ``py.typed``).

One stub for both implementations (``TLSFAST_IMPL=c`` / ``python``): the
public API of ``tlsfast.__all__``.  ``SSLContext``, ``SSLSocket`` and
``SSLObject`` are typed as subclasses of the stdlib's ``ssl`` classes (they
pass ``isinstance`` checks against them) and declare what tlsfast adds --
the non-raising fast path (``try_*``, ``wanted_events``) and the methods
the stdlib does not expose -- or types more precisely.  ``MemoryBIO`` and
``SSLSession`` are tlsfast's own classes (the stdlib's cannot be
subclassed); ``wrap_bio`` takes either ``MemoryBIO``.  Constants, enums and
exceptions are the stdlib's own objects, re-exported.

``tests/test_typing.py`` checks these stubs against both implementations
(``mypy.stubtest``) and type-checks the documentation's examples with them.
"""

import socket
import ssl
import sys
from _typeshed import ReadableBuffer, StrOrBytesPath, WriteableBuffer
from collections.abc import Callable, Iterable
from typing import Any, Final, Literal, final, overload
from typing_extensions import Self, TypeAlias, deprecated

# the stdlib's constants: the same objects
from ssl import (
    ALERT_DESCRIPTION_ACCESS_DENIED as ALERT_DESCRIPTION_ACCESS_DENIED,
    ALERT_DESCRIPTION_BAD_CERTIFICATE as ALERT_DESCRIPTION_BAD_CERTIFICATE,
    ALERT_DESCRIPTION_BAD_CERTIFICATE_HASH_VALUE as ALERT_DESCRIPTION_BAD_CERTIFICATE_HASH_VALUE,
    ALERT_DESCRIPTION_BAD_CERTIFICATE_STATUS_RESPONSE as ALERT_DESCRIPTION_BAD_CERTIFICATE_STATUS_RESPONSE,
    ALERT_DESCRIPTION_BAD_RECORD_MAC as ALERT_DESCRIPTION_BAD_RECORD_MAC,
    ALERT_DESCRIPTION_CERTIFICATE_EXPIRED as ALERT_DESCRIPTION_CERTIFICATE_EXPIRED,
    ALERT_DESCRIPTION_CERTIFICATE_REVOKED as ALERT_DESCRIPTION_CERTIFICATE_REVOKED,
    ALERT_DESCRIPTION_CERTIFICATE_UNKNOWN as ALERT_DESCRIPTION_CERTIFICATE_UNKNOWN,
    ALERT_DESCRIPTION_CERTIFICATE_UNOBTAINABLE as ALERT_DESCRIPTION_CERTIFICATE_UNOBTAINABLE,
    ALERT_DESCRIPTION_CLOSE_NOTIFY as ALERT_DESCRIPTION_CLOSE_NOTIFY,
    ALERT_DESCRIPTION_DECODE_ERROR as ALERT_DESCRIPTION_DECODE_ERROR,
    ALERT_DESCRIPTION_DECOMPRESSION_FAILURE as ALERT_DESCRIPTION_DECOMPRESSION_FAILURE,
    ALERT_DESCRIPTION_DECRYPT_ERROR as ALERT_DESCRIPTION_DECRYPT_ERROR,
    ALERT_DESCRIPTION_HANDSHAKE_FAILURE as ALERT_DESCRIPTION_HANDSHAKE_FAILURE,
    ALERT_DESCRIPTION_ILLEGAL_PARAMETER as ALERT_DESCRIPTION_ILLEGAL_PARAMETER,
    ALERT_DESCRIPTION_INSUFFICIENT_SECURITY as ALERT_DESCRIPTION_INSUFFICIENT_SECURITY,
    ALERT_DESCRIPTION_INTERNAL_ERROR as ALERT_DESCRIPTION_INTERNAL_ERROR,
    ALERT_DESCRIPTION_NO_RENEGOTIATION as ALERT_DESCRIPTION_NO_RENEGOTIATION,
    ALERT_DESCRIPTION_PROTOCOL_VERSION as ALERT_DESCRIPTION_PROTOCOL_VERSION,
    ALERT_DESCRIPTION_RECORD_OVERFLOW as ALERT_DESCRIPTION_RECORD_OVERFLOW,
    ALERT_DESCRIPTION_UNEXPECTED_MESSAGE as ALERT_DESCRIPTION_UNEXPECTED_MESSAGE,
    ALERT_DESCRIPTION_UNKNOWN_CA as ALERT_DESCRIPTION_UNKNOWN_CA,
    ALERT_DESCRIPTION_UNKNOWN_PSK_IDENTITY as ALERT_DESCRIPTION_UNKNOWN_PSK_IDENTITY,
    ALERT_DESCRIPTION_UNRECOGNIZED_NAME as ALERT_DESCRIPTION_UNRECOGNIZED_NAME,
    ALERT_DESCRIPTION_UNSUPPORTED_CERTIFICATE as ALERT_DESCRIPTION_UNSUPPORTED_CERTIFICATE,
    ALERT_DESCRIPTION_UNSUPPORTED_EXTENSION as ALERT_DESCRIPTION_UNSUPPORTED_EXTENSION,
    ALERT_DESCRIPTION_USER_CANCELLED as ALERT_DESCRIPTION_USER_CANCELLED,
    CERT_NONE as CERT_NONE,
    CERT_OPTIONAL as CERT_OPTIONAL,
    CERT_REQUIRED as CERT_REQUIRED,
    CHANNEL_BINDING_TYPES as CHANNEL_BINDING_TYPES,
    HAS_ALPN as HAS_ALPN,
    HAS_ECDH as HAS_ECDH,
    HAS_NEVER_CHECK_COMMON_NAME as HAS_NEVER_CHECK_COMMON_NAME,
    HAS_NPN as HAS_NPN,
    HAS_SNI as HAS_SNI,
    HAS_SSLv2 as HAS_SSLv2,
    HAS_SSLv3 as HAS_SSLv3,
    HAS_TLSv1 as HAS_TLSv1,
    HAS_TLSv1_1 as HAS_TLSv1_1,
    HAS_TLSv1_2 as HAS_TLSv1_2,
    HAS_TLSv1_3 as HAS_TLSv1_3,
    OP_ALL as OP_ALL,
    OP_CIPHER_SERVER_PREFERENCE as OP_CIPHER_SERVER_PREFERENCE,
    OP_ENABLE_MIDDLEBOX_COMPAT as OP_ENABLE_MIDDLEBOX_COMPAT,
    OP_IGNORE_UNEXPECTED_EOF as OP_IGNORE_UNEXPECTED_EOF,
    OP_NO_COMPRESSION as OP_NO_COMPRESSION,
    OP_NO_RENEGOTIATION as OP_NO_RENEGOTIATION,
    OP_NO_SSLv2 as OP_NO_SSLv2,
    OP_NO_SSLv3 as OP_NO_SSLv3,
    OP_NO_TICKET as OP_NO_TICKET,
    OP_NO_TLSv1 as OP_NO_TLSv1,
    OP_NO_TLSv1_1 as OP_NO_TLSv1_1,
    OP_NO_TLSv1_2 as OP_NO_TLSv1_2,
    OP_NO_TLSv1_3 as OP_NO_TLSv1_3,
    OP_SINGLE_DH_USE as OP_SINGLE_DH_USE,
    OP_SINGLE_ECDH_USE as OP_SINGLE_ECDH_USE,
    PROTOCOL_SSLv23 as PROTOCOL_SSLv23,
    PROTOCOL_TLS as PROTOCOL_TLS,
    PROTOCOL_TLS_CLIENT as PROTOCOL_TLS_CLIENT,
    PROTOCOL_TLS_SERVER as PROTOCOL_TLS_SERVER,
    PROTOCOL_TLSv1 as PROTOCOL_TLSv1,
    PROTOCOL_TLSv1_1 as PROTOCOL_TLSv1_1,
    PROTOCOL_TLSv1_2 as PROTOCOL_TLSv1_2,
    SSL_ERROR_EOF as SSL_ERROR_EOF,
    SSL_ERROR_INVALID_ERROR_CODE as SSL_ERROR_INVALID_ERROR_CODE,
    SSL_ERROR_SSL as SSL_ERROR_SSL,
    SSL_ERROR_SYSCALL as SSL_ERROR_SYSCALL,
    SSL_ERROR_WANT_CONNECT as SSL_ERROR_WANT_CONNECT,
    SSL_ERROR_WANT_READ as SSL_ERROR_WANT_READ,
    SSL_ERROR_WANT_WRITE as SSL_ERROR_WANT_WRITE,
    SSL_ERROR_WANT_X509_LOOKUP as SSL_ERROR_WANT_X509_LOOKUP,
    SSL_ERROR_ZERO_RETURN as SSL_ERROR_ZERO_RETURN,
    VERIFY_CRL_CHECK_CHAIN as VERIFY_CRL_CHECK_CHAIN,
    VERIFY_CRL_CHECK_LEAF as VERIFY_CRL_CHECK_LEAF,
    VERIFY_DEFAULT as VERIFY_DEFAULT,
    VERIFY_X509_STRICT as VERIFY_X509_STRICT,
    VERIFY_X509_TRUSTED_FIRST as VERIFY_X509_TRUSTED_FIRST,
)

from ssl import (
    AlertDescription as AlertDescription,
    CertificateError as CertificateError,
    DefaultVerifyPaths as DefaultVerifyPaths,
    DER_cert_to_PEM_cert as DER_cert_to_PEM_cert,
    Options as Options,
    PEM_FOOTER as PEM_FOOTER,
    PEM_HEADER as PEM_HEADER,
    PEM_cert_to_DER_cert as PEM_cert_to_DER_cert,
    Purpose as Purpose,
    SSLCertVerificationError as SSLCertVerificationError,
    SSLEOFError as SSLEOFError,
    SSLError as SSLError,
    SSLErrorNumber as SSLErrorNumber,
    SSLSyscallError as SSLSyscallError,
    SSLWantReadError as SSLWantReadError,
    SSLWantWriteError as SSLWantWriteError,
    SSLZeroReturnError as SSLZeroReturnError,
    TLSVersion as TLSVersion,
    VerifyFlags as VerifyFlags,
    VerifyMode as VerifyMode,
    cert_time_to_seconds as cert_time_to_seconds,
    get_default_verify_paths as get_default_verify_paths,
    get_protocol_name as get_protocol_name,
)

if sys.version_info >= (3, 10):
    from ssl import (
        VERIFY_ALLOW_PROXY_CERTS as VERIFY_ALLOW_PROXY_CERTS,
        VERIFY_X509_PARTIAL_CHAIN as VERIFY_X509_PARTIAL_CHAIN,
    )
if sys.version_info >= (3, 12):
    from ssl import (
        OP_ENABLE_KTLS as OP_ENABLE_KTLS,
        OP_LEGACY_SERVER_CONNECT as OP_LEGACY_SERVER_CONNECT,
    )
if sys.version_info >= (3, 13):
    from ssl import HAS_PSK as HAS_PSK
if sys.version_info < (3, 12):
    from ssl import match_hostname as match_hostname

__all__ = [
    "WANT_READ", "WANT_WRITE", "EVENTS_FOR_CODE",
    "SSLError", "SSLZeroReturnError", "SSLWantReadError", "SSLWantWriteError",
    "SSLSyscallError", "SSLEOFError", "SSLCertVerificationError", "CertificateError",
    "TLSVersion", "Options", "VerifyMode", "VerifyFlags", "AlertDescription",
    "SSLErrorNumber", "Purpose", "DefaultVerifyPaths",
    "DER_cert_to_PEM_cert", "PEM_cert_to_DER_cert", "cert_time_to_seconds",
    "get_default_verify_paths", "PEM_HEADER", "PEM_FOOTER",
    "SSLContext", "SSLSocket", "SSLObject", "MemoryBIO", "SSLSession", "create_default_context",
    "OPENSSL_VERSION", "OPENSSL_VERSION_INFO", "OPENSSL_VERSION_NUMBER",
    "RAND_bytes", "RAND_status", "RAND_add",
    "get_server_certificate", "get_protocol_name", "inject_into_ssl", "extract_from_ssl",
    "__impl__",
    # the stdlib's constants (tlsfast._common.CONSTANT_NAMES)

    "ALERT_DESCRIPTION_ACCESS_DENIED", "ALERT_DESCRIPTION_BAD_CERTIFICATE",
    "ALERT_DESCRIPTION_BAD_CERTIFICATE_HASH_VALUE",
    "ALERT_DESCRIPTION_BAD_CERTIFICATE_STATUS_RESPONSE", "ALERT_DESCRIPTION_BAD_RECORD_MAC",
    "ALERT_DESCRIPTION_CERTIFICATE_EXPIRED", "ALERT_DESCRIPTION_CERTIFICATE_REVOKED",
    "ALERT_DESCRIPTION_CERTIFICATE_UNKNOWN", "ALERT_DESCRIPTION_CERTIFICATE_UNOBTAINABLE",
    "ALERT_DESCRIPTION_CLOSE_NOTIFY", "ALERT_DESCRIPTION_DECODE_ERROR",
    "ALERT_DESCRIPTION_DECOMPRESSION_FAILURE", "ALERT_DESCRIPTION_DECRYPT_ERROR",
    "ALERT_DESCRIPTION_HANDSHAKE_FAILURE", "ALERT_DESCRIPTION_ILLEGAL_PARAMETER",
    "ALERT_DESCRIPTION_INSUFFICIENT_SECURITY", "ALERT_DESCRIPTION_INTERNAL_ERROR",
    "ALERT_DESCRIPTION_NO_RENEGOTIATION", "ALERT_DESCRIPTION_PROTOCOL_VERSION",
    "ALERT_DESCRIPTION_RECORD_OVERFLOW", "ALERT_DESCRIPTION_UNEXPECTED_MESSAGE",
    "ALERT_DESCRIPTION_UNKNOWN_CA", "ALERT_DESCRIPTION_UNKNOWN_PSK_IDENTITY",
    "ALERT_DESCRIPTION_UNRECOGNIZED_NAME", "ALERT_DESCRIPTION_UNSUPPORTED_CERTIFICATE",
    "ALERT_DESCRIPTION_UNSUPPORTED_EXTENSION", "ALERT_DESCRIPTION_USER_CANCELLED",
    "CERT_NONE", "CERT_OPTIONAL", "CERT_REQUIRED", "CHANNEL_BINDING_TYPES", "HAS_ALPN",
    "HAS_ECDH", "HAS_NEVER_CHECK_COMMON_NAME", "HAS_NPN", "HAS_SNI", "HAS_SSLv2",
    "HAS_SSLv3", "HAS_TLSv1", "HAS_TLSv1_1", "HAS_TLSv1_2", "HAS_TLSv1_3", "OP_ALL",
    "OP_CIPHER_SERVER_PREFERENCE", "OP_ENABLE_MIDDLEBOX_COMPAT", "OP_IGNORE_UNEXPECTED_EOF",
    "OP_NO_COMPRESSION", "OP_NO_RENEGOTIATION", "OP_NO_SSLv2", "OP_NO_SSLv3",
    "OP_NO_TICKET", "OP_NO_TLSv1", "OP_NO_TLSv1_1", "OP_NO_TLSv1_2", "OP_NO_TLSv1_3",
    "OP_SINGLE_DH_USE", "OP_SINGLE_ECDH_USE", "PROTOCOL_SSLv23", "PROTOCOL_TLS",
    "PROTOCOL_TLS_CLIENT", "PROTOCOL_TLS_SERVER", "PROTOCOL_TLSv1", "PROTOCOL_TLSv1_1",
    "PROTOCOL_TLSv1_2", "SSL_ERROR_EOF", "SSL_ERROR_INVALID_ERROR_CODE", "SSL_ERROR_SSL",
    "SSL_ERROR_SYSCALL", "SSL_ERROR_WANT_CONNECT", "SSL_ERROR_WANT_READ",
    "SSL_ERROR_WANT_WRITE", "SSL_ERROR_WANT_X509_LOOKUP", "SSL_ERROR_ZERO_RETURN",
    "VERIFY_CRL_CHECK_CHAIN", "VERIFY_CRL_CHECK_LEAF", "VERIFY_DEFAULT",
    "VERIFY_X509_STRICT", "VERIFY_X509_TRUSTED_FIRST",
]
if sys.version_info >= (3, 10):
    __all__ += ["VERIFY_ALLOW_PROXY_CERTS", "VERIFY_X509_PARTIAL_CHAIN"]
if sys.version_info >= (3, 12):
    __all__ += ["OP_ENABLE_KTLS", "OP_LEGACY_SERVER_CONNECT"]
if sys.version_info >= (3, 13):
    __all__ += ["HAS_PSK"]
if sys.version_info < (3, 12):
    __all__ += ["RAND_pseudo_bytes", "match_hostname", "wrap_socket"]

__version__: str
#: the live implementation: "c" (Cython over libssl) or "python" (over ssl)
__impl__: Literal["c", "python"]

# -- the non-raising fast path: what a try_* method returns instead of
#    raising ssl.SSLWantReadError / ssl.SSLWantWriteError
WANT_READ: Final = -1
WANT_WRITE: Final = -2
#: selectors event per fast-path code
EVENTS_FOR_CODE: Final[dict[int, int]]

OPENSSL_VERSION: Final[str]
OPENSSL_VERSION_INFO: Final[tuple[int, int, int, int, int]]
OPENSSL_VERSION_NUMBER: Final[int]

#: a certificate as the stdlib's getpeercert() dict: each key holds its own
#: type ("subject": a tuple of RDNs, "notAfter": a str...), so the values
#: are Any here, where typeshed's union needs a cast before any use
_CertDict: TypeAlias = dict[str, Any]
#: either MemoryBIO: tlsfast's, or the stdlib's (asyncio, trio)
_AnyMemoryBIO: TypeAlias = MemoryBIO | ssl.MemoryBIO

@final
class MemoryBIO:
    """``ssl.MemoryBIO`` plus ``read_into``; ``wrap_bio`` takes it (or the
    stdlib's)."""

    def __init__(self) -> None: ...
    @property
    def pending(self) -> int: ...
    @property
    def eof(self) -> bool: ...
    def read(self, size: int = -1) -> bytes: ...
    def read_into(self, buffer: WriteableBuffer, nbytes: int = 0) -> int: ...
    def write(self, data: ReadableBuffer) -> int: ...
    def write_eof(self) -> None: ...

@final
class SSLSession:
    """A TLS session (``ssl.SSLSession``): from ``SSLSocket.session``, given
    back to ``wrap_socket(..., session=)`` / ``wrap_bio`` to resume.  No
    public constructor."""

    @property
    def id(self) -> bytes: ...
    @property
    def time(self) -> int: ...
    @property
    def timeout(self) -> int: ...
    @property
    def ticket_lifetime_hint(self) -> int: ...
    @property
    def has_ticket(self) -> bool: ...

class SSLSocket(ssl.SSLSocket):
    """``ssl.SSLSocket`` plus the fast path; made by
    ``SSLContext.wrap_socket`` (no public constructor)."""

    context: SSLContext
    # tlsfast's own sessions (the compiled implementation's SSLSession is
    # not the stdlib's type)
    session: SSLSession | None  # type: ignore[assignment]
    do_handshake_on_connect: bool
    suppress_ragged_eofs: bool
    def __new__(cls, *args: Any, **kwargs: Any) -> Self: ...
    # (Python methods: the arguments may be passed by keyword)
    def settimeout(self, value: float | None) -> None: ...
    def setblocking(self, flag: bool) -> None: ...
    def accept(self) -> tuple[SSLSocket, socket._RetAddress]: ...
    @overload
    def getpeercert(self, binary_form: Literal[False] = False) -> _CertDict | None: ...
    @overload
    def getpeercert(self, binary_form: Literal[True]) -> bytes | None: ...
    @overload
    def getpeercert(self, binary_form: bool) -> _CertDict | bytes | None: ...
    # -- the fast path (docs/nonblocking.rst): a byte count, 0 (done / end
    #    of stream) or WANT_READ / WANT_WRITE; real errors still raise
    @property
    def wanted_events(self) -> int: ...
    def try_do_handshake(self) -> int: ...
    def try_recv_into(self, buffer: WriteableBuffer, nbytes: int = 0) -> int: ...
    def try_send(self, data: ReadableBuffer) -> int: ...
    def try_sendv(self, buffers: Iterable[ReadableBuffer]) -> int: ...
    def try_unwrap(self) -> int: ...
    def want_read(self) -> bool: ...
    def want_write(self) -> bool: ...
    # the stdlib's raises NotImplementedError; tlsfast's sends data (no ancdata)
    def sendmsg(  # type: ignore[override]
        self,
        buffers: Iterable[ReadableBuffer],
        ancdata: Iterable[tuple[int, int, ReadableBuffer]] = (),
        flags: int = 0,
        address: Any = None,
    ) -> int: ...
    # -- beyond the stdlib (docs/beyond-stdlib.rst; the pure-Python
    #    implementation raises NotImplementedError where ssl cannot answer)
    def cipher_bits(self) -> int | None: ...
    def client_random(self) -> bytes | None: ...
    def server_random(self) -> bytes | None: ...
    def export_keying_material(
        self, label: str | bytes, length: int, context: ReadableBuffer | None = None
    ) -> bytes: ...
    def get_finished(self) -> bytes | None: ...
    def get_peer_finished(self) -> bytes | None: ...
    def key_update(self, request_peer: bool = False) -> None: ...
    def renegotiate(self) -> None: ...
    def renegotiate_pending(self) -> bool: ...
    def peek(self, len: int = 1024) -> bytes: ...
    @overload
    def get_peer_cert_chain(self, binary_form: Literal[False] = False) -> list[_CertDict] | None: ...
    @overload
    def get_peer_cert_chain(self, binary_form: Literal[True]) -> list[bytes] | None: ...
    @overload
    def get_peer_cert_chain(self, binary_form: bool) -> list[_CertDict] | list[bytes] | None: ...
    # Python 3.13's (public there: DER bytes by default); a tlsfast
    # extension before (certificate dicts by default, None when none)
    if sys.version_info >= (3, 13):
        @overload
        def get_verified_chain(self, binary_form: Literal[True] = True) -> list[bytes]: ...
        @overload
        def get_verified_chain(self, binary_form: Literal[False]) -> list[_CertDict]: ...
        @overload
        def get_verified_chain(self, binary_form: bool) -> list[bytes] | list[_CertDict]: ...
    else:
        @overload
        def get_verified_chain(self, binary_form: Literal[False] = False) -> list[_CertDict] | None: ...
        @overload
        def get_verified_chain(self, binary_form: Literal[True]) -> list[bytes] | None: ...
        @overload
        def get_verified_chain(self, binary_form: bool) -> list[bytes] | list[_CertDict] | None: ...
    @overload
    def get_unverified_chain(self, binary_form: Literal[True] = True) -> list[bytes]: ...
    @overload
    def get_unverified_chain(self, binary_form: Literal[False]) -> list[_CertDict]: ...
    @overload
    def get_unverified_chain(self, binary_form: bool) -> list[bytes] | list[_CertDict]: ...


class SSLObject(ssl.SSLObject):
    """``ssl.SSLObject`` (memory BIOs) plus the fast path; made by
    ``SSLContext.wrap_bio`` (no public constructor)."""

    context: SSLContext
    session: SSLSession | None  # type: ignore[assignment]
    # the stdlib's read(len, buffer) returns the count written into buffer
    @overload  # type: ignore[override]
    def read(self, len: int = 1024, buffer: None = None) -> bytes: ...
    @overload
    def read(self, len: int, buffer: WriteableBuffer) -> int: ...
    @overload
    def read(self, len: int = 1024, *, buffer: WriteableBuffer) -> int: ...
    @overload
    def getpeercert(self, binary_form: Literal[False] = False) -> _CertDict | None: ...
    @overload
    def getpeercert(self, binary_form: Literal[True]) -> bytes | None: ...
    @overload
    def getpeercert(self, binary_form: bool) -> _CertDict | bytes | None: ...
    # -- the fast path (docs/nonblocking.rst): a byte count, 0 (done / end
    #    of stream) or WANT_READ / WANT_WRITE; real errors still raise
    @property
    def wanted_events(self) -> int: ...
    def try_do_handshake(self) -> int: ...
    def try_recv_into(self, buffer: WriteableBuffer, nbytes: int = 0) -> int: ...
    def try_send(self, data: ReadableBuffer) -> int: ...
    def try_sendv(self, buffers: Iterable[ReadableBuffer]) -> int: ...
    def try_unwrap(self) -> int: ...
    def want_read(self) -> bool: ...
    def want_write(self) -> bool: ...
    # -- beyond the stdlib (docs/beyond-stdlib.rst; the pure-Python
    #    implementation raises NotImplementedError where ssl cannot answer)
    def cipher_bits(self) -> int | None: ...
    def client_random(self) -> bytes | None: ...
    def server_random(self) -> bytes | None: ...
    def export_keying_material(
        self, label: str | bytes, length: int, context: ReadableBuffer | None = None
    ) -> bytes: ...
    def get_finished(self) -> bytes | None: ...
    def get_peer_finished(self) -> bytes | None: ...
    def key_update(self, request_peer: bool = False) -> None: ...
    def renegotiate(self) -> None: ...
    def renegotiate_pending(self) -> bool: ...
    def peek(self, len: int = 1024) -> bytes: ...
    @overload
    def get_peer_cert_chain(self, binary_form: Literal[False] = False) -> list[_CertDict] | None: ...
    @overload
    def get_peer_cert_chain(self, binary_form: Literal[True]) -> list[bytes] | None: ...
    @overload
    def get_peer_cert_chain(self, binary_form: bool) -> list[_CertDict] | list[bytes] | None: ...
    # Python 3.13's (public there: DER bytes by default); a tlsfast
    # extension before (certificate dicts by default, None when none)
    if sys.version_info >= (3, 13):
        @overload
        def get_verified_chain(self, binary_form: Literal[True] = True) -> list[bytes]: ...
        @overload
        def get_verified_chain(self, binary_form: Literal[False]) -> list[_CertDict]: ...
        @overload
        def get_verified_chain(self, binary_form: bool) -> list[bytes] | list[_CertDict]: ...
    else:
        @overload
        def get_verified_chain(self, binary_form: Literal[False] = False) -> list[_CertDict] | None: ...
        @overload
        def get_verified_chain(self, binary_form: Literal[True]) -> list[bytes] | None: ...
        @overload
        def get_verified_chain(self, binary_form: bool) -> list[bytes] | list[_CertDict] | None: ...
    @overload
    def get_unverified_chain(self, binary_form: Literal[True] = True) -> list[bytes]: ...
    @overload
    def get_unverified_chain(self, binary_form: Literal[False]) -> list[_CertDict]: ...
    @overload
    def get_unverified_chain(self, binary_form: bool) -> list[bytes] | list[_CertDict]: ...


class SSLContext(ssl.SSLContext):
    """``ssl.SSLContext`` whose ``wrap_socket`` / ``wrap_bio`` return
    tlsfast's ``SSLSocket`` / ``SSLObject``; a ``PROTOCOL_TLS_SERVER``
    context starts with ``OP_NO_RENEGOTIATION`` set."""

    sslsocket_class: type[SSLSocket]
    sslobject_class: type[SSLObject]
    # (the default is None, or PROTOCOL_TLS in 3.9's stdlib: the same context)
    def __new__(cls, protocol: int | None = ..., *args: Any, **kwargs: Any) -> Self: ...
    def __init__(self, protocol: int | None = None, *args: Any, **kwargs: Any) -> None: ...
    # ssl.SSLContext's from Python 3.10 / 3.13; the compiled implementation
    # has them on every version, the pure-Python one where the running ssl
    # has them
    security_level: int
    def set_psk_client_callback(
        self, callback: Callable[[str | None], tuple[str | None, ReadableBuffer]] | None
    ) -> None: ...
    def set_psk_server_callback(
        self, callback: Callable[[str | None], ReadableBuffer] | None, identity_hint: str | None = None
    ) -> None: ...
    # tlsfast's own (docs/beyond-stdlib.rst); NotImplementedError in the
    # pure-Python implementation
    def set_session_ticket_keys(self, keys: Iterable[ReadableBuffer] | None) -> None: ...
    def wrap_socket(  # type: ignore[override]
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: SSLSession | None = None,
    ) -> SSLSocket: ...
    def wrap_bio(  # type: ignore[override]
        self,
        incoming: _AnyMemoryBIO,
        outgoing: _AnyMemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: SSLSession | None = None,
    ) -> SSLObject: ...

def create_default_context(
    purpose: Purpose = ...,
    *,
    cafile: StrOrBytesPath | None = None,
    capath: StrOrBytesPath | None = None,
    cadata: str | ReadableBuffer | None = None,
) -> SSLContext: ...
def get_server_certificate(
    addr: tuple[str, int],
    ssl_version: int | None = None,
    ca_certs: StrOrBytesPath | None = None,
    timeout: float | None = None,
) -> str: ...
def inject_into_ssl() -> None: ...
def extract_from_ssl() -> None: ...
def RAND_bytes(n: int, /) -> bytes: ...
def RAND_status() -> bool: ...
def RAND_add(string: str | ReadableBuffer, entropy: float, /) -> None: ...

if sys.version_info < (3, 12):
    @deprecated("Deprecated since Python 3.7; removed in Python 3.12. Use `SSLContext.wrap_socket()` instead.")
    def wrap_socket(
        sock: socket.socket,
        keyfile: StrOrBytesPath | None = None,
        certfile: StrOrBytesPath | None = None,
        server_side: bool = False,
        cert_reqs: int = ...,
        ssl_version: int = ...,
        ca_certs: StrOrBytesPath | None = None,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        ciphers: str | None = None,
    ) -> SSLSocket: ...
    @deprecated("Deprecated since Python 3.6; removed in Python 3.12. Use `RAND_bytes()` instead.")
    def RAND_pseudo_bytes(n: int) -> tuple[bytes, bool]: ...
