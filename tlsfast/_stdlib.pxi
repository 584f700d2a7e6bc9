# Every name the compiled module takes from the stdlib (ssl, socket,
# selectors, errno), looked up once at import (uvloop's includes/stdlib.pxi),
# and the callback error report that serves every .pxi.

from cpython.exc cimport PyErr_SetObject, PyErr_WriteUnraisable

from errno import EBADF as errno_EBADF, EINPROGRESS as errno_EINPROGRESS, \
    ENOTCONN as errno_ENOTCONN, EWOULDBLOCK as errno_EWOULDBLOCK
from tlsfast._helpers import stdlib_original as _stdlib_original
from tlsfast._helpers import check_session as _helper_check_session
from tlsfast._helpers import not_a_context as _not_a_context
import _socket as _c_socket

# ssl: exception classes (tlsfast raises the stdlib's own), enums, constants
cdef object _SSLError = _ssl.SSLError
cdef object _SSLZeroReturnError = _ssl.SSLZeroReturnError
cdef object _SSLSyscallError = _ssl.SSLSyscallError
cdef object _SSLEOFError = _ssl.SSLEOFError
cdef object _SSLCertVerificationError = _ssl.SSLCertVerificationError
cdef object _SSL_ERROR_EOF = _ssl.SSL_ERROR_EOF
cdef object _PROTOCOL_TLS = _ssl.PROTOCOL_TLS
cdef object _PROTOCOL_TLS_CLIENT = _ssl.PROTOCOL_TLS_CLIENT
cdef object _PROTOCOL_TLS_SERVER = _ssl.PROTOCOL_TLS_SERVER
cdef object _TLSVersion = _ssl.TLSVersion
cdef object _Options = _ssl.Options
cdef object _VerifyMode = _ssl.VerifyMode
cdef object _VerifyFlags = _ssl.VerifyFlags
cdef object _Purpose = _ssl.Purpose

# ssl: the classes tlsfast's public ones derive from (isinstance checks of
# libraries), the stdlib's own even when gevent/eventlet patched the module
# socket: the real socket.socket, even when gevent/eventlet patched the module
_StdlibSocket = _stdlib_original(socket, "socket")

_StdlibSSLContext = _stdlib_original(_ssl, "SSLContext")
_StdlibSSLObject = _stdlib_original(_ssl, "SSLObject")
_StdlibSSLSocket = _stdlib_original(_ssl, "SSLSocket")
if not issubclass(_StdlibSSLSocket, _c_socket.socket):
    # ssl first imported after gevent patched socket (patch_all() does
    # that): the stdlib's SSLSocket derives from gevent's socket class, which
    # tlsfast cannot drive; the plain socket it is then (docs/gevent.rst)
    _StdlibSSLSocket = _StdlibSocket
cdef object _socket_socket = _StdlibSocket
# the C-level getters behind socket.socket's family / type properties
cdef object _SOCKET_FAMILY = _c_socket.socket.family
cdef object _SOCKET_TYPE = _c_socket.socket.type
cdef int _AF_INET = socket.AF_INET
cdef int _AF_INET6 = socket.AF_INET6
cdef object _socket_timeout = socket.timeout
cdef int _MSG_PEEK = socket.MSG_PEEK

# selectors: the events ``wanted_events`` reports
cdef int _EVENT_READ = _selectors.EVENT_READ
cdef int _EVENT_WRITE = _selectors.EVENT_WRITE


cdef bint _is_inet(object sock) except -1:
    """True for an AF_INET / AF_INET6 socket: one C-level read of the
    family (socket.socket's ``family`` property builds an enum member)."""
    cdef int family
    if isinstance(sock, _c_socket.socket):
        family = _SOCKET_FAMILY.__get__(sock)
    else:
        family = sock.family
    return family == _AF_INET or family == _AF_INET6


cdef void _unraisable(object exc, object where) noexcept:
    """Report an exception raised inside an OpenSSL callback like the stdlib
    does (``sys.unraisablehook``)."""
    PyErr_SetObject(type(exc), exc)
    PyErr_WriteUnraisable(where)
