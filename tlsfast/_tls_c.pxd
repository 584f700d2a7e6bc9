# tlsfast._tls_c: the compiled module's classes, their C fields and their
# C-level methods, in one place.  The definitions (docstrings, bodies) are in
# the .pxi files _tls_c.pyx includes; the declarations below are what a
# reader needs to see how the objects are built:
#
#   _SSLContext    (_context.pxi)     the engine's context, owns the SSL_CTX*
#   _SSLConnection (_connection.pxi)  the engine: one SSL*, the _io_* layers
#   _SSLObject     (_sslobject.pxi)   the engine over two BIOs
#   MemoryBIO      (_membio.pxi)      a BIO_s_mem FIFO
#   SSLSession     (_session.pxi)     an SSL_SESSION reference
#
# The classes users hold -- SSLContext, SSLSocket, SSLObject -- are Python
# classes deriving from these and from the stdlib's (_sslcontext.pxi,
# _sslsocket.pxi, _sslobject.pxi).

cimport cython
from tlsfast._openssl cimport *

cdef extern from "_peek_bio.h" nogil:
    # the socket-mode read BIO (see the header: batches of records per
    # recv(2), nothing taken from the kernel that OpenSSL did not consume)
    ctypedef struct tlsfast_peek_t:
        pass
    BIO *tlsfast_peek_bio_new(int fd, int peek_first)
    tlsfast_peek_t *tlsfast_peek_of(BIO *b)
    void tlsfast_peek_begin(tlsfast_peek_t *st, size_t hint)
    int tlsfast_peek_widen(tlsfast_peek_t *st)
    void tlsfast_peek_settle(tlsfast_peek_t *st)
    size_t tlsfast_peek_unserved(tlsfast_peek_t *st)


cdef struct _AlpnConfig:
    const unsigned char *wire     # points into _SSLContext._alpn_protocols
    unsigned int len


cdef struct _Gather:
    # write_vector's buffers: the exports it holds while OpenSSL may read them
    Py_buffer *views
    Py_ssize_t count
    char *staging           # RECORD_BYTES for joining small buffers; NULL until needed


cdef class _PasswordInfo:
    cdef object password       # bytes, or a callable
    cdef object error          # exception raised inside the callback
    cdef int size_error


cdef class _SSLContext:
    cdef SSL_CTX *ctx
    cdef object _protocol
    cdef bint _check_hostname
    cdef bint _post_handshake_auth
    cdef unsigned int _hostflags
    cdef object _sni_callback
    cdef object _psk_client_callback
    cdef object _psk_server_callback
    cdef object _keylog_filename
    cdef object _keylog_file
    cdef bytes _alpn_protocols
    cdef _AlpnConfig alpn
    cdef object _public          # weakref.ref to the SSLContext holding this core
    cdef bytes _ticket_keys      # set_session_ticket_keys: 80-byte keys, joined

    cdef inline SSL_CTX *_checked(self) except NULL
    cdef _check_version_settable(self)
    cdef int _version_arg(self, value, int minimum) except -1
    cdef _add_ca_data(self, bytes data, bint pem)


@cython.final
cdef class MemoryBIO:
    cdef BIO *bio
    cdef bint eof_written

    cdef inline Py_ssize_t _append(self, const char *buf, Py_ssize_t n) except -1


@cython.final
cdef class SSLSession:
    cdef SSL_SESSION *session
    cdef _SSLContext ctx

    @staticmethod
    cdef SSLSession _wrap(SSL_SESSION *session, _SSLContext ctx)


cdef class _SSLConnection:
    cdef SSL *ssl
    cdef int fd
    cdef _SSLContext ctx          # the core of ``_context``: its SSL_CTX* is SSL_get_SSL_CTX's
    cdef object _context          # the public SSLContext now in use (``context`` property)
    cdef object _initial_context  # the one first wrapped: its core's address is the
                                  # SNI callback's argument, keep it alive
    cdef object _owner            # weakref.ref to the SSLSocket
    cdef double timeout           # seconds; < 0 blocking, 0 non-blocking
    cdef readonly bint server_side
    """True for the server end of the connection (read-only)."""
    cdef public bint suppress_ragged_eofs
    """When true, an EOF of the transport without close_notify (ragged
    EOF) reads as end of stream (0 / ``b""``) instead of raising
    ``ssl.SSLEOFError``.  False by default on an ``SSLObject``; a socket's
    engine takes ``wrap_socket``'s flag."""
    cdef readonly object server_hostname
    """``str`` given as ``server_hostname`` (IDNA A-label form), or None
    (read-only)."""
    cdef int wanted               # last fast-path code: 0, _WANT_READ, _WANT_WRITE
    cdef bint busy                # an SSL_* call is in progress
    cdef unsigned long busy_thread
    cdef int shutdown_zeros
    cdef bint data_phase          # RELEASE_BUFFERS cleared after the handshake (_idle)
    cdef bint idled               # buffers freed at the last idle point (_idle)
    cdef uint64_t idle_read, idle_written   # the transport's byte counts then
    cdef unsigned long writer       # thread owning the write side (0: none)
    cdef unsigned long handshaker   # thread driving the handshake (0: none)
    cdef object _incoming, _outgoing   # BIO mode: keep the Python BIO objects alive
    cdef object _deferred         # a read's failure after it had bytes: the next read's


    # set-up
    @staticmethod
    cdef _SSLConnection create(object context, object sock, bint server_side,
                               object server_hostname, object session,
                               bint suppress_ragged_eofs)
    cdef int _attach_bios(self, object incoming, object outgoing, object session) except -1
    cdef int _init_ssl(self, object context, bint server_side, object server_hostname) except -1
    cdef owner_object(self)
    cdef int set_timeout(self, object timeout) except -1
    cdef int _attach_socket(self, bint tcp) except -1

    # waiting and turns
    cdef int _wait_not_busy(self) except -1
    cdef int _wait(self, int code, double deadline, int op) except -1
    cdef int _claim_turn(self, int turn, double deadline, int op) except -1

    # the layers of one operation (the call map at the top of _connection.pxi)
    cdef inline Py_ssize_t _io(self, int op, char *buf, size_t n, bint raise_want) except -100
    cdef Py_ssize_t _io_blocking(self, int op, char *buf, size_t n, bint raise_want,
                                 _Gather *gather) except -100
    cdef inline Py_ssize_t _io_attempt(self, int op, char *buf, size_t n,
                                       bint raise_want) except -100
    cdef inline int _io_call(self, SSL *ssl, int op, char *buf, size_t n, bint release,
                             size_t *done, int *saved_errno, int *retval) noexcept
    cdef inline Py_ssize_t _io_fast(self, int op, char *buf, size_t n,
                                    bint raise_want) except -100
    cdef Py_ssize_t _io_fast_failed(self, int op, char *buf, size_t n, bint raise_want,
                                    int err, int ret, int saved_errno) except -100
    cdef Py_ssize_t _io_loop(self, int op, char *buf, size_t n, bint raise_want,
                             double deadline, size_t total) except -100
    cdef void _idle(self, bint waiting) noexcept
    cdef Py_ssize_t _io_outcome(self, int op, int err, int ret, int saved_errno,
                                bint raise_want) except -100
    cdef object _want_exception(self, int code)

    # the caller's buffers
    cdef Py_ssize_t read_into(self, object buffer, Py_ssize_t nbytes, int op,
                              bint raise_want, bint clamp=*) except -100
    cdef object read_bytes(self, Py_ssize_t n, int op)
    cdef Py_ssize_t _read_fill(self, char *buf, size_t n, bint raise_want) except -100
    cdef Py_ssize_t _fill_more(self, char *buf, size_t n, size_t total,
                               tlsfast_peek_t *st) except -100
    cdef Py_ssize_t _take_deferred(self) except -100
    cdef Py_ssize_t write_from(self, object data, bint raise_want) except -100
    cdef Py_ssize_t write_vector(self, object buffers, bint raise_want) except -100
    cdef Py_ssize_t _gather_loop(self, _Gather *g, double deadline, bint raise_want) except -100

    # state checks and inspection
    cdef inline int _guard(self) except -1
    cdef int _require_handshake(self) except -1
    cdef list _chain(self, stack_st_X509 *sk, bint binary_form)
    cdef object _chain_result(self, stack_st_X509 *sk, bint binary_form)


cdef class _SSLObject(_SSLConnection):
    pass


cdef class _Absent:
    cdef object name
