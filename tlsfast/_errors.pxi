# OpenSSL error -> stdlib exception: the one table (cf. CPython's
# PySSL_SetError / fill_and_set_sslerror and pyOpenSSL's _raise_ssl_error).
#
# ``_exception_for(ssl, ssl_err, ret, saved_errno, hostname, has_socket)`` is
# called (by the engine's ``_io_outcome``) right after a failed SSL_* call with
# SSL_get_error()'s value and the errno read at once.
# Every exception is one of the stdlib's classes, with ``args == (code, msg)``
# (code = ``ssl.SSL_ERROR_*``) and ``library`` / ``reason`` set as the stdlib
# sets them; certificate failures also carry ``verify_code`` /
# ``verify_message``.

# Library and reason mnemonics (``SSLError.library`` / ``.reason``): from
# ``_error_codes.h``, which setup.py generates from the ERR_LIB_* and
# <LIB>_R_* macros of the OpenSSL headers this module is compiled against.
# Never from CPython's private tables (``_ssl.err_codes_to_names`` is gone
# since 3.12), so every Python gets the same names.
cdef extern from "_error_codes.h":
    ctypedef struct tlsfast_code_name:
        int lib
        int reason
        const char *name
    const tlsfast_code_name *tlsfast_lib_names
    const tlsfast_code_name *tlsfast_reason_names


cdef dict _code_names(const tlsfast_code_name *table, bint by_reason):
    """{lib: name} or {(lib, reason): name} from a NULL-terminated table."""
    cdef dict names = {}
    cdef size_t i = 0
    while table[i].name != NULL:
        name = table[i].name.decode("ascii")
        if by_reason:
            names[(table[i].lib, table[i].reason)] = name
        else:
            names[table[i].lib] = name
        i += 1
    return names


cdef dict _LIB_NAMES = _code_names(tlsfast_lib_names, False)
cdef dict _REASON_NAMES = _code_names(tlsfast_reason_names, True)


# ssl.SSL_ERROR_* numbers (the exception's args[0])
cdef enum:
    PY_SSL_ERROR_SSL = 1
    PY_SSL_ERROR_WANT_READ = 2
    PY_SSL_ERROR_WANT_WRITE = 3
    PY_SSL_ERROR_WANT_X509_LOOKUP = 4
    PY_SSL_ERROR_SYSCALL = 5
    PY_SSL_ERROR_ZERO_RETURN = 6
    PY_SSL_ERROR_WANT_CONNECT = 7
    PY_SSL_ERROR_EOF = 8
    PY_SSL_ERROR_INVALID_ERROR_CODE = 10

_WHERE = "_tls_c.pyx"

# SSL_ERROR_SYSCALL with errno set after an ``_ex`` call (ret 0): as the
# running Python's _ssl (tlsfast._common.SYSCALL_ERRNO_RAISES)
cdef bint _SYSCALL_ERRNO_RAISES = _SYSCALL_ERRNO_RAISES_PY

# SSL_get_error() value -> (exception class, args[0], fixed message or None)
# ``None`` as message: the message comes from the OpenSSL error queue.
# (SSL_ERROR_WANT_READ / _WRITE never get here: the engine returns or raises
# them itself, through tlsfast._common.want_error.)
cdef dict _SSL_GET_ERROR_TABLE = {
    SSL_ERROR_ZERO_RETURN: (_SSLZeroReturnError, PY_SSL_ERROR_ZERO_RETURN,
                            "TLS/SSL connection has been closed (EOF)"),
    SSL_ERROR_WANT_X509_LOOKUP: (_SSLError, PY_SSL_ERROR_WANT_X509_LOOKUP,
                                 "The operation did not complete (X509 lookup)"),
    SSL_ERROR_WANT_CONNECT: (_SSLError, PY_SSL_ERROR_WANT_CONNECT,
                             "The operation did not complete (connect)"),
}


cdef object _make_ssl_exception(object cls, int code, object errstr,
                                unsigned long e, long verify_code=0,
                                object hostname=None):
    """Build ``cls((code, message))`` with the stdlib's attributes set."""
    cdef int lib = ERR_GET_LIB(e) if e else 0
    cdef int reason = ERR_GET_REASON(e) if e else 0
    cdef const char *cs
    lib_name = _LIB_NAMES.get(lib) if e else None
    reason_name = _REASON_NAMES.get((lib, reason)) if e else None
    if errstr is None and e:
        cs = ERR_reason_error_string(e)
        if cs != NULL:
            errstr = cs.decode("utf-8", "replace")
    if errstr is None:
        errstr = "unknown error"
    verify_message = None
    if cls is _SSLCertVerificationError:
        if verify_code == X509_V_ERR_HOSTNAME_MISMATCH:
            verify_message = f"Hostname mismatch, certificate is not valid for {hostname!r}."
        elif verify_code == X509_V_ERR_IP_ADDRESS_MISMATCH:
            verify_message = f"IP address mismatch, certificate is not valid for {hostname!r}."
        else:
            cs = X509_verify_cert_error_string(verify_code)
            verify_message = cs.decode("utf-8", "replace") if cs != NULL else "unknown"
        msg = f"[{lib_name}: {reason_name}] {errstr}: {verify_message} ({_WHERE})"
    elif reason_name is not None and lib_name is not None:
        msg = f"[{lib_name}: {reason_name}] {errstr} ({_WHERE})"
    elif lib_name is not None:
        msg = f"[{lib_name}] {errstr} ({_WHERE})"
    else:
        msg = f"{errstr} ({_WHERE})"
    exc = cls(code, msg)
    exc.library = lib_name
    exc.reason = reason_name
    if cls is _SSLCertVerificationError:
        exc.verify_code = verify_code
        exc.verify_message = verify_message
    return exc


cdef object _located_ssl_error(str message):
    """``ssl.SSLError(0, "<message> (<where>)")``, no library or reason:
    what the stdlib raises for its own misuse checks (``_setSSLError``)."""
    exc = _SSLError(0, f"{message} ({_WHERE})")
    exc.library = None
    exc.reason = None
    return exc


cdef object _ssl_error_from_queue(object cls=None, object errstr=None):
    """An ``SSLError`` from the newest entry of the OpenSSL error queue, for
    failures outside SSL_read/SSL_write (loading keys, setting ciphers...).
    Clears the queue."""
    cdef unsigned long e = ERR_peek_last_error()
    ERR_clear_error()
    return _make_ssl_exception(_SSLError if cls is None else cls,
                               PY_SSL_ERROR_SSL, errstr, e)


cdef object _exception_for(SSL *ssl, int ssl_err, int ret, int saved_errno,
                           object hostname, bint has_socket):
    """The exception for SSL_get_error() == ssl_err after an SSL_* call that
    returned ``ret`` with ``errno == saved_errno``.  Clears the error queue.

    SSL_ERROR_SYSCALL with an empty queue follows the running Python's
    ``_ssl``.  From 3.10 to 3.12 the ``_ex`` calls' 0 on failure is reported
    as an EOF (``SSLEOFError``, even for a connection reset) and only a
    handshake or shutdown returning -1 with errno set is an ``OSError`` of
    that errno; on 3.9 (SSL_read's -1) and from 3.13 (CPython gh-115627) any
    errno gives the ``OSError`` (``ConnectionResetError``...)."""
    cdef unsigned long e = ERR_peek_last_error()
    cdef long verify_code = 0
    entry = _SSL_GET_ERROR_TABLE.get(ssl_err)
    if entry is not None:
        cls, code, errstr = entry
    elif ssl_err == SSL_ERROR_SYSCALL:
        if e == 0:
            if has_socket and saved_errno != 0 and (ret == -1 or _SYSCALL_ERRNO_RAISES):
                ERR_clear_error()
                return OSError(saved_errno, os.strerror(saved_errno))
            if ret == 0 or ret == -1 or not has_socket:
                cls, code, errstr = _SSLEOFError, PY_SSL_ERROR_EOF, \
                    "EOF occurred in violation of protocol"
            else:
                cls, code, errstr = _SSLSyscallError, PY_SSL_ERROR_SYSCALL, \
                    "Some I/O error occurred"
        else:
            cls, code, errstr = _SSLSyscallError, PY_SSL_ERROR_SYSCALL, None
    elif ssl_err == SSL_ERROR_SSL:
        cls, code, errstr = _SSLError, PY_SSL_ERROR_SSL, None
        if e == 0:
            errstr = "A failure in the SSL library occurred"
        elif ERR_GET_LIB(e) == ERR_LIB_SSL:
            if ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED:
                cls = _SSLCertVerificationError
                verify_code = SSL_get_verify_result(ssl) if ssl != NULL else 0
            elif ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING:
                cls, code, errstr = _SSLEOFError, PY_SSL_ERROR_EOF, \
                    "EOF occurred in violation of protocol"
    else:
        cls, code, errstr = _SSLError, PY_SSL_ERROR_INVALID_ERROR_CODE, \
            "Invalid error code"
    exc = _make_ssl_exception(cls, code, errstr, e, verify_code, hostname)
    ERR_clear_error()
    return exc


def _error_names():
    """``({lib: name}, {(lib, reason): name})``: copies of the generated
    tables, for tests."""
    return dict(_LIB_NAMES), dict(_REASON_NAMES)
