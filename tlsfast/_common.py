"""Names both implementations share: stdlib constants, enums, exceptions, codes.

tlsfast re-uses the stdlib ``ssl`` module's exception classes and enums
(``tlsfast.SSLWantReadError is ssl.SSLWantReadError``), so ``except
ssl.SSLError`` keeps working on code ported with ``import tlsfast as ssl``.

Fast-path return codes (see ``docs/nonblocking``):

``WANT_READ`` (-1)
    the call needs the socket readable (``selectors.EVENT_READ``) and must be
    repeated with the same arguments.
``WANT_WRITE`` (-2)
    the call needs the socket writable (``selectors.EVENT_WRITE``).

Every other return of a ``try_*`` method is ``>= 0``: a byte count, or 0 for a
clean end of stream (close_notify, or a ragged EOF with
``suppress_ragged_eofs=True``).
"""

import selectors as _selectors
import ssl as _ssl
import sys as _sys

WANT_READ = -1
WANT_WRITE = -2

#: the stdlib's ``socket.timeout`` messages for a blocking or timeout call
#: that ran out of time (not exported: every implementation raises them)
HANDSHAKE_TIMEOUT = "The handshake operation timed out"
READ_TIMEOUT = "The read operation timed out"
WRITE_TIMEOUT = "The write operation timed out"

# --- what differs between CPython versions (docs/porting.rst, "Python
# versions"): each implementation follows the running Python's ``ssl``,
# except where tlsfast's secure defaults (TLS >= 1.2, this cipher list) hold
# on every version.  Not exported.

#: the default cipher list of both implementations on every Python (the
#: stdlib's since 3.10; 3.9's is OpenSSL's DEFAULT minus a few)
DEFAULT_CIPHERS = ("@SECLEVEL=2:ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES:DHE+AES:"
                   "!aNULL:!eNULL:!aDSS:!SHA1:!AESCCM")
#: 3.10 started warning DeprecationWarning for PROTOCOL_TLS & co, the old
#: TLSVersion values and the OP_NO_SSL*/OP_NO_TLS* options
WARN_DEPRECATED = _sys.version_info >= (3, 10)
#: 3.9 used SSL_read/SSL_write and set OP_IGNORE_UNEXPECTED_EOF on every
#: context (a ragged EOF reads as a clean close)
IGNORE_UNEXPECTED_EOF = _sys.version_info < (3, 10)
#: SSL_ERROR_SYSCALL with errno set is that OSError (ConnectionResetError,
#: EBADF...) before 3.10 (SSL_read's -1) and from 3.13 (CPython gh-115627);
#: 3.10 to 3.12 report it after SSL_read_ex / SSL_write_ex as an EOF
SYSCALL_ERRNO_RAISES = _sys.version_info < (3, 10) or _sys.version_info >= (3, 13)

#: 3.10 refuses a client connection on a PROTOCOL_TLS_SERVER context (and
#: the reverse) when it is created; 3.9 let the handshake fail ("called a
#: function you should not call")
CHECK_CONTEXT_SIDE = _sys.version_info >= (3, 10)

#: SSLContext.options takes a C long before 3.12 (-1 sets every bit), an
#: unsigned 64-bit int from 3.12 (-1 is an OverflowError)
OPTIONS_SIGNED = _sys.version_info < (3, 12)

#: 3.13's create_default_context adds these verify flags (RFC 5280 chain
#: building: stop at the first trust anchor; no workarounds for broken
#: certificates)
DEFAULT_CONTEXT_VERIFY_FLAGS = (_ssl.VERIFY_X509_PARTIAL_CHAIN | _ssl.VERIFY_X509_STRICT
                                if _sys.version_info >= (3, 13) else 0)

#: 3.13 made SSLSocket/SSLObject.get_verified_chain() (and the new
#: get_unverified_chain()) public, returning DER bytes ([] when none)
CHAIN_AS_DER = _sys.version_info >= (3, 13)

# --- the only private names of ``ssl.py`` tlsfast uses, here and nowhere
# else; each exists (same meaning) in CPython 3.9 to 3.13 (make test-matrix,
# tests/test_api.py::test_stdlib_private_names):
#: the enum ``SSLContext.protocol`` returns (``PROTOCOL_TLS_CLIENT``...)
SSLMethod = _ssl._SSLMethod
#: the base class of ``ssl.Purpose`` members (``create_default_context``'s
#: type check and ``load_default_certs``)
ASN1Object = _ssl._ASN1Object

#: selector events per fast-path code (``wanted_events`` property)
EVENTS_FOR_CODE = {
    WANT_READ: _selectors.EVENT_READ,
    WANT_WRITE: _selectors.EVENT_WRITE,
}

# --- exceptions: the stdlib's own classes ---------------------------------
SSLError = _ssl.SSLError
SSLZeroReturnError = _ssl.SSLZeroReturnError
SSLWantReadError = _ssl.SSLWantReadError
SSLWantWriteError = _ssl.SSLWantWriteError
SSLSyscallError = _ssl.SSLSyscallError
SSLEOFError = _ssl.SSLEOFError
SSLCertVerificationError = _ssl.SSLCertVerificationError
CertificateError = _ssl.CertificateError


def want_error(code, where=None):
    """The exception a stdlib-compatible call raises where the fast path
    returns ``code`` (``WANT_READ`` / ``WANT_WRITE``): ``ssl.SSLWantReadError``
    / ``ssl.SSLWantWriteError`` with the stdlib's ``args``
    (``SSL_ERROR_WANT_*``, message) and no ``library`` / ``reason``.
    ``where`` (str) is appended to the message as the stdlib appends its
    source file.  The one place both implementations' want-errors are made."""
    if code == WANT_READ:
        cls, number, what = SSLWantReadError, _ssl.SSL_ERROR_WANT_READ, "read"
    else:
        cls, number, what = SSLWantWriteError, _ssl.SSL_ERROR_WANT_WRITE, "write"
    message = f"The operation did not complete ({what})"
    exc = cls(number, message if where is None else f"{message} ({where})")
    exc.library = None
    exc.reason = None
    return exc

# --- enums and constants: the stdlib's names and values --------------------
TLSVersion = _ssl.TLSVersion
Options = _ssl.Options
VerifyMode = _ssl.VerifyMode
VerifyFlags = _ssl.VerifyFlags
AlertDescription = _ssl.AlertDescription
SSLErrorNumber = _ssl.SSLErrorNumber
Purpose = _ssl.Purpose
DefaultVerifyPaths = _ssl.DefaultVerifyPaths

_CONSTANT_PREFIXES = (
    "CERT_", "OP_", "PROTOCOL_", "VERIFY_", "ALERT_DESCRIPTION_", "SSL_ERROR_",
    "HAS_", "CHANNEL_BINDING_TYPES",
)
CONSTANT_NAMES = sorted(
    name for name in dir(_ssl)
    if name.startswith(_CONSTANT_PREFIXES)   # HAS_TLSv1_3, OP_NO_TLSv1... included
)
globals().update({name: getattr(_ssl, name) for name in CONSTANT_NAMES})

# --- module helpers: pure functions with no TLS state, re-used as they are --
DER_cert_to_PEM_cert = _ssl.DER_cert_to_PEM_cert
PEM_cert_to_DER_cert = _ssl.PEM_cert_to_DER_cert
cert_time_to_seconds = _ssl.cert_time_to_seconds
get_default_verify_paths = _ssl.get_default_verify_paths
PEM_HEADER = _ssl.PEM_HEADER
PEM_FOOTER = _ssl.PEM_FOOTER

__all__ = [
    "WANT_READ", "WANT_WRITE", "EVENTS_FOR_CODE",
    "SSLError", "SSLZeroReturnError", "SSLWantReadError", "SSLWantWriteError",
    "SSLSyscallError", "SSLEOFError", "SSLCertVerificationError", "CertificateError",
    "TLSVersion", "Options", "VerifyMode", "VerifyFlags", "AlertDescription",
    "SSLErrorNumber", "Purpose", "DefaultVerifyPaths",
    "DER_cert_to_PEM_cert", "PEM_cert_to_DER_cert", "cert_time_to_seconds",
    "get_default_verify_paths", "PEM_HEADER", "PEM_FOOTER",
] + CONSTANT_NAMES
