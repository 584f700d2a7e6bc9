# cython: language_level=3
"""tlsfast._tls_c -- the compiled implementation: Cython calling libssl.

Theory of operation
-------------------
``SSLContext`` (``_context.pxi``) owns an ``SSL_CTX*`` configured the way the
stdlib configures its own.  ``SSLContext.wrap_socket`` builds an ``SSLSocket``
(``_sslsocket.pxi``), a ``socket.socket`` subclass; once the socket is
connected it owns a ``_SSLConnection`` engine (``_connection.pxi``) holding the
``SSL*`` attached to the socket's file descriptor with ``SSL_set_fd``.
Ciphertext moves between the kernel and OpenSSL only; plaintext moves between
OpenSSL and the caller's buffer (``Py_buffer``) only.

The engine never lets OpenSSL block: the descriptor is switched to
``O_NONBLOCK`` for the lifetime of the engine.  Every SSL_* call either
completes or reports want-read / want-write.  Then, depending on the socket's
timeout, the engine

* returns ``WANT_READ`` / ``WANT_WRITE`` (non-blocking; the fast path) or raises
  ``SSLWantReadError`` / ``SSLWantWriteError`` (stdlib-compatible methods), or
* waits in ``poll()`` with the GIL released, bounded by the deadline
  (blocking / timeout modes) and retries.

Because waits happen outside OpenSSL, one thread may block in ``recv`` while
another ``send``s on the same socket: only the short, non-blocking SSL_* calls
are serialised (see "GIL policy" in ``_connection.pxi``).
"""

cimport cython
from cpython.ref cimport Py_INCREF, Py_DECREF
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_WRITABLE, PyBUF_SIMPLE
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_GET_SIZE
from libc.errno cimport errno, EINTR
from libc.string cimport memcmp, memcpy, strlen

from tlsfast._openssl cimport *

import operator
import os
import socket
import ssl as _ssl
import selectors as _selectors
import sys
import warnings
import weakref

from tlsfast._common import (HANDSHAKE_TIMEOUT, READ_TIMEOUT, WANT_READ, WANT_WRITE,
                             WRITE_TIMEOUT, DEFAULT_CIPHERS, WARN_DEPRECATED,
                             IGNORE_UNEXPECTED_EOF, CHAIN_AS_DER, CHECK_CONTEXT_SIDE,
                             OPTIONS_SIGNED,
                             SSLMethod as _SSLMethod, ASN1Object as _ASN1Object,
                             SYSCALL_ERRNO_RAISES as _SYSCALL_ERRNO_RAISES_PY,
                             want_error as _want_error)

cdef extern from *:
    """
    #include <openssl/opensslv.h>
    #if OPENSSL_VERSION_NUMBER < 0x30000000L
    #error "tlsfast needs OpenSSL >= 3.0 (found an older <openssl/opensslv.h>)"
    #endif
    #include <errno.h>
    static inline void tlsfast_clear_errno(void) { errno = 0; }
    """
    void _clear_errno "tlsfast_clear_errno" () nogil

cdef object _CREATE_TOKEN = object()   # only our factories make engines and sessions

include "_stdlib.pxi"
include "_errors.pxi"
include "_certs.pxi"
include "_session.pxi"
include "_context.pxi"
include "_membio.pxi"
include "_connection.pxi"
include "_sslobject.pxi"
include "_sslsocket.pxi"
include "_transport_reader.pxi"
include "_sslcontext.pxi"


# --- module-level values -----------------------------------------------------

def _openssl_version_info():
    cdef unsigned long n = OpenSSL_version_num()
    status = n & 0xF
    n >>= 4
    patch = n & 0xFF
    n >>= 8
    fix = n & 0xFF
    n >>= 8
    minor = n & 0xFF
    n >>= 8
    return (n & 0xFF, minor, fix, patch, status)

OPENSSL_VERSION = OpenSSL_version(OPENSSL_VERSION_CONST).decode("ascii")
OPENSSL_VERSION_NUMBER = OpenSSL_version_num()
OPENSSL_VERSION_INFO = _openssl_version_info()
#: the OpenSSL headers this module was compiled against
_OPENSSL_API_VERSION_NUMBER = OPENSSL_VERSION_NUMBER


def RAND_bytes(n, /):
    """Return ``n`` (int, bytes) cryptographically strong random bytes.

    Mirrors ``ssl.RAND_bytes`` (OpenSSL ``RAND_bytes``).  Raises
    ``ValueError`` if ``n`` is negative, ``OverflowError`` if it does not fit
    in a C int, ``ssl.SSLError`` if the generator fails.
    """
    cdef int num = n
    if num < 0:
        raise ValueError("num must be positive")
    out = PyBytes_FromStringAndSize(NULL, num)
    ERR_clear_error()
    if c_RAND_bytes(<unsigned char *>PyBytes_AS_STRING(out), num) != 1:
        raise _ssl_error_from_queue()
    return out


def RAND_status():
    """Return True if the OpenSSL generator is seeded (``RAND_status``)."""
    return c_RAND_status() == 1


def RAND_add(string, double entropy, /):
    """Mix ``string`` (``str``, UTF-8 encoded, or a bytes-like object) into
    the OpenSSL generator's state; ``entropy`` (float) is a lower bound on
    the entropy it holds, in bytes (RFC 4086).  Mirrors ``ssl.RAND_add``
    (OpenSSL ``RAND_add``).  Raises ``TypeError`` for another type and
    ``OverflowError`` for more than ``INT_MAX`` bytes."""
    cdef const unsigned char[::1] view
    if isinstance(string, str):
        string = string.encode("utf-8")
    view = memoryview(string).cast("B")
    if view.shape[0] > 0x7FFFFFFF:
        raise OverflowError("string is too long")
    c_RAND_add(&view[0] if view.shape[0] else NULL, <int>view.shape[0], entropy)


@cython.binding(True)   # a builtin's text signature cannot show an object default
def create_default_context(purpose=_ssl.Purpose.SERVER_AUTH, *, cafile=None,
                           capath=None, cadata=None):
    """Return a new ``SSLContext`` with the stdlib's secure defaults.

    Mirrors ``ssl.create_default_context``: for ``Purpose.SERVER_AUTH`` (a
    client context) ``PROTOCOL_TLS_CLIENT`` with ``CERT_REQUIRED`` and
    ``check_hostname``; for ``Purpose.CLIENT_AUTH`` ``PROTOCOL_TLS_SERVER``.
    CA certificates come from ``cafile``/``capath``/``cadata`` when given,
    else from the system default paths.  ``SSLKEYLOGFILE`` sets
    ``keylog_filename``.  Raises ``TypeError`` / ``ValueError`` for a bad
    ``purpose`` and whatever ``load_verify_locations`` raises.
    """
    from tlsfast._helpers import create_default_context as _create
    return _create(SSLContext, purpose, cafile, capath, cadata)
