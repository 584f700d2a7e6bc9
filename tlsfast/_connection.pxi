# _SSLConnection: the engine.  One SSL* on a socket file descriptor.
#
# State machine (``SSL_is_init_finished`` / ``SSL_get_shutdown`` hold the
# truth; the engine keeps no copy of it):
#
#   HANDSHAKE --do_handshake--> OPEN --shutdown--> CLOSING --peer close_notify--> CLOSED
#
# Every operation goes through ``_io``: one non-blocking SSL_* call, then
#   success                  -> return the byte count (0 = clean EOF for reads)
#   want-read / want-write   -> non-blocking socket: return WANT_READ/WANT_WRITE
#                               (fast path) or raise SSLWant*Error (stdlib path);
#                               socket with a timeout / blocking: poll() without
#                               the GIL until the deadline, then call again
#   anything else            -> the exception from ``_errors.pxi``'s table.
#
# Call map: what each layer of one operation adds, outermost first.  Every
# layer is an ``_io_*`` method; ``_ssl_call`` is the one C-level function.
#
#   _io(op, buf, n, raise_want)   picks the route by transport
#   |-- _io_blocking              blocking / timeout socket: the deadline, and
#   |                             turns (_claim_turn: one writer at a time;
#   |                             nobody else while a thread drives an
#   |                             unfinished handshake)
#   `-- _io_attempt               picks the route by operation
#       |-- _io_fast              hot path: a read, or a write that keeps the
#       |                         GIL, non-blocking, nobody inside: one call,
#       |                         no loop (_io_fast_failed: its failure)
#       `-- _io_loop              the general case: the GIL policy (release for
#                                 handshakes, shutdowns, big writes), partial
#                                 writes, waits (_wait: poll() without the
#                                 GIL), retries
#           both call ->
#           _io_call              the busy flag (no two threads inside the
#                                 SSL*), GIL released or kept
#           `-- _ssl_call         the SSL_* call itself: clean error queue
#                                 before, SSL_get_error and errno after
#   _io_outcome                   the verdict on a failed call: want code or
#                                 SSLWant*Error, 0 at EOF, else _exception_for
#                                 (_errors.pxi)
#
# Reads (OP_READ) enter through _read_fill, around _io: the first
# SSL_read_ex as above, then _fill_more's further calls while the caller's
# buffer has room and the next record is already in the process (decrypted
# in OpenSSL, peeked by the socket reader of _peek_bio.h, or in the incoming
# memory BIO).  A read returns everything received, as a plain socket's
# recv(), and one recv(2) can bring many records -- without OpenSSL's
# read-ahead, which would keep records where select() cannot see them and
# swallow the cleartext that follows a close_notify (unwrap()).
#
# GIL policy: the GIL is kept for every read (one SSL_read_ex decrypts at
# most one 16 KiB record, less work than releasing and re-taking the GIL; a
# filling read decrypts at most what the caller's buffer holds) and
# for writes below GIL_RELEASE_BYTES; it is released for handshakes
# (public-key operations), shutdown, writes of GIL_RELEASE_BYTES or more, and
# every poll().  ``busy`` marks that an SSL_* call is in progress on this
# SSL*; a second thread arriving meanwhile (possible whenever the GIL was
# released, or a callback ran Python code) waits until it clears, so two
# threads are never inside one SSL* -- while one thread waits in poll() for
# data, another may send on the same socket.

from cpython.exc cimport PyErr_CheckSignals
from cpython.mem cimport PyMem_Malloc, PyMem_Free
from cpython.pythread cimport PyThread_get_thread_ident
from posix.fcntl cimport fcntl, F_GETFL, F_SETFL, O_NONBLOCK
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC
from posix.unistd cimport usleep

cdef extern from "<poll.h>" nogil:
    struct pollfd:
        int fd
        short events
        short revents
    int poll(pollfd *fds, unsigned long nfds, int timeout)
    enum:
        POLLIN
        POLLOUT

cdef enum:
    _WANT_READ = -1
    _WANT_WRITE = -2
    GIL_RELEASE_BYTES = 65536
    # the most plaintext one TLS record carries (SSL3_RT_MAX_PLAIN_LENGTH):
    # write_vector cuts the caller's buffers into pieces of this size
    RECORD_BYTES = 16384
    # buffers whose Py_buffer exports fit on write_vector's stack
    GATHER_ON_STACK = 8

cdef enum Turn:                   # what _claim_turn waits for
    WRITER_TURN
    HANDSHAKE_TURN

cdef enum Op:
    OP_HANDSHAKE
    OP_READ
    OP_PEEK
    OP_WRITE
    OP_SHUTDOWN

cdef tuple _TIMEOUT_MESSAGES = (      # per Op
    HANDSHAKE_TIMEOUT,
    READ_TIMEOUT,
    READ_TIMEOUT,
    WRITE_TIMEOUT,
    READ_TIMEOUT,
)


cdef inline double _monotonic() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9


cdef extern from "Python.h":
    # PyObject_GetBuffer without Cython's exception check: read_into tests
    # the result itself and only then enters _not_writable's try/except
    int _get_buffer "PyObject_GetBuffer" (object obj, Py_buffer *view, int flags) noexcept


cdef int _pending_error() except -1:
    """Re-raise, in Cython's error handling, the exception already set."""
    return -1


cdef int _not_contiguous() except -1:
    """PyObject_GetBuffer(PyBUF_SIMPLE) failed (its exception is set): as
    ``except BufferError as exc: raise TypeError(...) from None``."""
    try:
        _pending_error()
    except BufferError as exc:
        raise TypeError(f"a contiguous bytes-like object is required: {exc}") from None
    return -1


cdef int _not_bytes_like(object item) except -1:
    """PyObject_GetBuffer(PyBUF_SIMPLE) of one of ``write_vector``'s
    buffers failed (its exception is set): a TypeError naming it, as
    ``socket.sendmsg``'s."""
    try:
        _pending_error()
    except BufferError as exc:
        raise TypeError(f"a C-contiguous bytes-like object is required ({exc})") from None
    except TypeError:
        raise TypeError(f"a bytes-like object is required, not {type(item).__name__!r}") from None
    return -1


cdef int _not_writable(object buffer) except -1:
    """PyObject_GetBuffer(PyBUF_WRITABLE) failed (its exception is set):
    BufferError / TypeError become the stdlib's TypeError, as
    ``except (BufferError, TypeError): raise TypeError(...) from None``."""
    try:
        _pending_error()
    except (BufferError, TypeError):
        raise TypeError(
            f"read-write bytes-like object is required, not {type(buffer).__name__!r}") from None
    return -1


cdef inline int _ssl_call(SSL *ssl, int op, char *buf, size_t n, size_t *done,
                          int *saved_errno, int *retval) noexcept nogil:
    """One SSL_* call with a clean error queue; returns SSL_get_error()'s
    verdict (SSL_ERROR_NONE on success) with errno read right after and the
    call's return value in ``retval``."""
    cdef int ret
    # The queue must be empty before the call.  ERR_clear_error() walks and
    # frees all 16 slots (a fifth of a small read's cost), so peek first.
    if ERR_peek_error() != 0:
        ERR_clear_error()
    _clear_errno()
    if op == OP_READ:
        ret = SSL_read_ex(ssl, buf, n, done)
    elif op == OP_WRITE:
        ret = SSL_write_ex(ssl, buf, n, done)
    elif op == OP_PEEK:
        ret = SSL_peek_ex(ssl, buf, n, done)
    elif op == OP_HANDSHAKE:
        ret = SSL_do_handshake(ssl)
    else:
        ret = SSL_shutdown(ssl)
        if ret >= 0:
            done[0] = <size_t>ret   # 1: finished, 0: close_notify sent only
            saved_errno[0] = errno
            retval[0] = ret
            return SSL_ERROR_NONE
    saved_errno[0] = errno
    retval[0] = ret
    if ret == 1:
        return SSL_ERROR_NONE
    return SSL_get_error(ssl, ret)


cdef int _check_session(object session, bint server_side, _SSLContext ctx) except -1:
    """The stdlib's checks of a session assigned to a connection of ``ctx``,
    with its messages (the handshake-state one is the engine's)."""
    _helper_check_session(session, SSLSession, server_side)
    if (<SSLSession>session).ctx is not ctx:
        raise ValueError("Session refers to a different SSLContext.")
    return 0


cdef class _SSLConnection:
    """The ``SSL*`` behind one ``SSLSocket`` (the stdlib's ``_ssl._SSLSocket``),
    and the base of ``SSLObject`` (memory-BIO mode, ``fd == -1``)."""
    def __cinit__(self, *args, **kwargs):
        # only SSLContext.wrap_socket / wrap_bio make these: an object from a
        # bare __new__ would hand a NULL SSL* to OpenSSL
        if not args or args[0] is not _CREATE_TOKEN:
            raise TypeError(f"{type(self).__name__} does not have a public constructor. "
                            "Instances are returned by SSLContext.wrap_bio() / wrap_socket().")
        self.ssl = NULL
        self.fd = -1

    def __dealloc__(self):
        if self.ssl != NULL:
            # Freeing an SSL* that never sent close_notify makes OpenSSL mark
            # its session not resumable; like CPython, keep it resumable.
            SSL_set_shutdown(self.ssl, SSL_SENT_SHUTDOWN | SSL_get_shutdown(self.ssl))
            SSL_free(self.ssl)
            self.ssl = NULL

    @staticmethod
    cdef _SSLConnection create(object context, object sock, bint server_side,
                               object server_hostname, object session,
                               bint suppress_ragged_eofs):
        """Socket mode: the SSL* reads and writes ``sock``'s descriptor."""
        cdef _SSLConnection self = _SSLConnection.__new__(_SSLConnection, _CREATE_TOKEN)
        self._owner = weakref.ref(sock)
        self.fd = sock.fileno()
        self.suppress_ragged_eofs = suppress_ragged_eofs
        self._init_ssl(context, server_side, server_hostname)
        self._attach_socket(_is_inet(sock))
        if session is not None:
            self.session = session
        self.set_timeout(sock.gettimeout())
        return self

    cdef int _attach_socket(self, bint tcp) except -1:
        """Socket mode's BIO, for reads and writes on ``fd``:
        ``_peek_bio.h``'s, which brings several records per recv(2) during
        a read without ever taking from the kernel a byte OpenSSL did not
        consume (``tcp``: from a read's first record on, where a peek costs
        no more than a read) and writes as the socket BIO does.  With
        ``OP_ENABLE_KTLS`` it is a socket BIO (``SSL_set_fd``): kernel TLS
        needs one."""
        cdef BIO *bio
        ERR_clear_error()
        if SSL_get_options(self.ssl) & SSL_OP_ENABLE_KTLS:
            if SSL_set_fd(self.ssl, self.fd) != 1:
                raise _ssl_error_from_queue()
            return 0
        bio = tlsfast_peek_bio_new(self.fd, tcp)
        if bio == NULL:
            raise _ssl_error_from_queue()
        SSL_set_bio(self.ssl, bio, bio)     # one BIO both ways: takes one reference
        return 0

    cdef int _attach_bios(self, object incoming, object outgoing, object session) except -1:
        """BIO mode: the SSL* reads ``incoming`` and writes ``outgoing``."""
        cdef BIO *rbio = _bio_for(incoming)
        cdef BIO *wbio
        try:
            wbio = _bio_for(outgoing)
        except BaseException:
            BIO_free(rbio)
            raise
        self._incoming = incoming
        self._outgoing = outgoing
        SSL_set_bio(self.ssl, rbio, wbio)     # takes both references
        self.timeout = 0.0
        if session is not None:
            self.session = session
        return 0

    cdef int _init_ssl(self, object context, bint server_side, object server_hostname) except -1:
        cdef _SSLContext ctx = _core_of(context)
        cdef SSL_CTX *c = ctx._checked()
        cdef X509_VERIFY_PARAM *param
        cdef bytes packed_ip, host
        if _CHECK_CONTEXT_SIDE:     # (3.10+; 3.9's handshake fails instead)
            if server_side and ctx.protocol == _PROTOCOL_TLS_CLIENT:
                raise _located_ssl_error(
                    "Cannot create a server socket with a PROTOCOL_TLS_CLIENT context")
            if not server_side and ctx.protocol == _PROTOCOL_TLS_SERVER:
                raise _located_ssl_error(
                    "Cannot create a client socket with a PROTOCOL_TLS_SERVER context")
        self.ctx = ctx
        self._context = context
        self._initial_context = context
        self.server_side = server_side
        self.server_hostname = server_hostname
        ERR_clear_error()
        self.ssl = SSL_new(c)
        if self.ssl == NULL:
            raise _ssl_error_from_queue()
        SSL_set_app_data(self.ssl, <void *>self)   # borrowed: the engine outlives its SSL*
        if server_hostname is not None:
            if not server_hostname or server_hostname.startswith("."):
                raise ValueError("server_hostname cannot be an empty string or start with a leading dot.")
            host = server_hostname.encode("ascii")
            if b"\x00" in host:
                raise TypeError("argument must be encoded string without null bytes, not str")
            packed_ip = _parse_ip(server_hostname)
            if packed_ip is None and SSL_set_tlsext_host_name(self.ssl, host) != 1:
                raise _ssl_error_from_queue()
            if ctx._check_hostname:
                param = SSL_get0_param(self.ssl)
                X509_VERIFY_PARAM_set_hostflags(param, ctx._hostflags)
                if packed_ip is not None:
                    ok = X509_VERIFY_PARAM_set1_ip(param, <const unsigned char *>(<char *>packed_ip),
                                                   len(packed_ip))
                else:
                    ok = X509_VERIFY_PARAM_set1_host(param, host, len(host))
                if ok != 1:
                    raise _ssl_error_from_queue()
        if server_side:
            SSL_set_accept_state(self.ssl)
        else:
            if ctx._post_handshake_auth:
                SSL_set_post_handshake_auth(self.ssl, 1)
            SSL_set_connect_state(self.ssl)
        return 0

    cdef owner_object(self):
        """The user-facing object: the SSLSocket, or the SSLObject itself."""
        return self._owner() if self._owner is not None else self

    cdef int set_timeout(self, object timeout) except -1:
        """Follow the socket's timeout (None, 0.0 or seconds); the descriptor
        itself stays O_NONBLOCK so OpenSSL never blocks."""
        cdef int flags
        self.timeout = -1.0 if timeout is None else timeout
        flags = fcntl(self.fd, F_GETFL)
        if flags != -1 and not (flags & O_NONBLOCK):
            fcntl(self.fd, F_SETFL, flags | O_NONBLOCK)
        return 0

    # ------------------------------------------------------------------
    # the one loop every operation goes through

    cdef int _wait_not_busy(self) except -1:
        cdef unsigned long me = PyThread_get_thread_ident()
        cdef int spins = 0
        while self.busy:
            if self.busy_thread == me:
                raise RuntimeError("re-entrant call into the same TLS connection (from a callback)")
            with nogil:
                usleep(50 if spins < 100 else 1000)
            spins += 1
        return 0

    cdef int _wait(self, int code, double deadline, int op) except -1:
        """poll() the descriptor for ``code``'s event without the GIL, up to
        ``deadline`` (monotonic seconds; < 0 = none).  Raises socket.timeout
        (a shutdown names what it waited for, as the stdlib's)."""
        cdef pollfd p
        cdef int rc, ms, saved
        cdef double remaining
        cdef int named = OP_WRITE if op == OP_SHUTDOWN and code == _WANT_WRITE else op
        p.fd = self.fd
        p.events = POLLIN if code == _WANT_READ else POLLOUT
        while True:
            if deadline < 0:
                ms = -1
            else:
                remaining = deadline - _monotonic()
                if remaining <= 0:
                    raise _socket_timeout(_TIMEOUT_MESSAGES[named])
                ms = <int>(remaining * 1000.0) + 1
            with nogil:
                rc = poll(&p, 1, ms)
                saved = errno
            if rc > 0:
                return 0
            if rc == 0:
                if deadline >= 0 and _monotonic() >= deadline:
                    raise _socket_timeout(_TIMEOUT_MESSAGES[named])
                continue
            if saved == EINTR:
                PyErr_CheckSignals()
                continue
            raise OSError(saved, os.strerror(saved))

    cdef int _claim_turn(self, int turn, double deadline, int op) except -1:
        """Wait (GIL released) until no other thread owns ``turn``:
        ``WRITER_TURN`` (the write side) or ``HANDSHAKE_TURN`` (driving an
        unfinished handshake; a read or write stops waiting once it is
        done); then own it."""
        cdef unsigned long me = PyThread_get_thread_ident()
        cdef unsigned long owner
        cdef int spins = 0
        while True:
            owner = self.writer if turn == WRITER_TURN else self.handshaker
            if owner == 0 or owner == me:
                break
            if turn == HANDSHAKE_TURN and SSL_is_init_finished(self.ssl) and op != OP_HANDSHAKE:
                return 0
            if deadline >= 0 and _monotonic() >= deadline:
                raise _socket_timeout(_TIMEOUT_MESSAGES[op])
            with nogil:
                usleep(50 if spins < 100 else 1000)
            spins += 1
        if turn == WRITER_TURN:
            self.writer = me
        else:
            self.handshaker = me
        return 0

    @cython.final
    cdef inline Py_ssize_t _io(self, int op, char *buf, size_t n, bint raise_want) except -100:
        if self.fd < 0 or self.timeout == 0 or self.ssl == NULL:
            return self._io_attempt(op, buf, n, raise_want)
        return self._io_blocking(op, buf, n, raise_want, NULL)

    @cython.final
    cdef Py_ssize_t _io_blocking(self, int op, char *buf, size_t n, bint raise_want,
                                 _Gather *gather) except -100:
        """``_io`` on a blocking socket or one with a timeout; with a
        ``gather`` (op OP_WRITE, ``buf``/``n`` unused), ``write_vector``'s
        pieces under one turn and one deadline."""
        cdef double deadline = -1.0
        cdef unsigned long me
        cdef bint own_write = False
        me = PyThread_get_thread_ident()
        if self.timeout > 0:
            deadline = _monotonic() + self.timeout
        # A blocking/timeout write may wait in poll() with a record half
        # sent; the next SSL_write (any thread) would finish that record and
        # be credited with it.  A handshake in progress would be driven by a
        # concurrent SSL_read/SSL_write and leave its own thread polling for
        # data that thread consumed.  So: one writer at a time, and nobody
        # else while another thread drives an unfinished handshake.
        if op == OP_HANDSHAKE or not SSL_is_init_finished(self.ssl):
            self._claim_turn(HANDSHAKE_TURN, deadline, op)
        try:
            if op == OP_WRITE or op == OP_SHUTDOWN:
                self._claim_turn(WRITER_TURN, deadline, op)
                own_write = True
            if gather != NULL:
                return self._gather_loop(gather, deadline, raise_want)
            return self._io_attempt(op, buf, n, raise_want)
        finally:
            if own_write:
                self.writer = 0
            if self.handshaker == me:
                self.handshaker = 0

    @cython.final
    cdef inline Py_ssize_t _io_attempt(self, int op, char *buf, size_t n, bint raise_want) except -100:
        """Run ``op`` to completion as the socket's timeout allows.

        Returns READ/PEEK: bytes read (0 = EOF); WRITE: bytes written (all of
        ``n`` unless non-blocking); HANDSHAKE/SHUTDOWN: 0.  Non-blocking and
        not done: _WANT_READ/_WANT_WRITE, or SSLWant*Error if ``raise_want``.
        """
        if self.timeout == 0 and not self.busy and self.ssl != NULL and (
                op == OP_READ or op == OP_PEEK or
                (op == OP_WRITE and (self.fd < 0 or n < GIL_RELEASE_BYTES))):
            return self._io_fast(op, buf, n, raise_want)
        return self._io_loop(op, buf, n, raise_want,
                             _monotonic() + self.timeout if self.timeout > 0 else -1.0, 0)

    @cython.final
    cdef inline int _io_call(self, SSL *ssl, int op, char *buf, size_t n, bint release,
                          size_t *done, int *saved_errno, int *retval) noexcept:
        """One ``_ssl_call`` with the busy flag up (the caller made sure no
        other thread is inside), without the GIL when ``release``; a thread
        that drove the handshake to its end lets the others in."""
        cdef int err
        self.busy = True
        self.busy_thread = PyThread_get_thread_ident()
        if release:
            with nogil:
                err = _ssl_call(ssl, op, buf, n, done, saved_errno, retval)
        else:
            err = _ssl_call(ssl, op, buf, n, done, saved_errno, retval)
        self.busy = False
        if self.handshaker != 0 and SSL_is_init_finished(ssl) and \
                self.handshaker == PyThread_get_thread_ident():
            self.handshaker = 0
        return err

    @cython.final
    cdef inline Py_ssize_t _io_fast(self, int op, char *buf, size_t n,
                                        bint raise_want) except -100:
        """The fast path of ``_io_attempt``: a read, or a write that keeps the
        GIL (``_io_loop``'s ``release`` false), on a non-blocking transport
        (any memory-BIO one) with nobody else inside this SSL*.  The same
        steps as one turn of ``_io_loop``, which such a call cannot need more
        of: a read is never continued after success, with timeout 0 a want-*
        is reported, not waited for, and a partial write (one record taken)
        goes on in ``_io_loop`` from what was taken."""
        cdef int err, saved_errno = 0, ret = 0
        cdef size_t done = 0
        err = self._io_call(self.ssl, op, buf, n, False, &done, &saved_errno, &ret)
        if err == SSL_ERROR_NONE:
            if op == OP_WRITE and done < n:
                return self._io_loop(op, buf, n, raise_want, -1.0, done)
            self.wanted = 0
            return <Py_ssize_t>done
        return self._io_fast_failed(op, buf, n, raise_want, err, ret, saved_errno)

    @cython.final
    cdef Py_ssize_t _io_fast_failed(self, int op, char *buf, size_t n, bint raise_want,
                              int err, int ret, int saved_errno) except -100:
        """``_io_fast``'s failed call (out of line: the hot path stays
        small enough to inline)."""
        if self.timeout == 0 or (err != SSL_ERROR_WANT_READ and err != SSL_ERROR_WANT_WRITE):
            return self._io_outcome(op, err, ret, saved_errno, raise_want)
        # A callback made the socket blocking meanwhile: wait as _io_loop
        # would, with the deadline of the timeout on entry (none), then go on.
        self._wait(_WANT_READ if err == SSL_ERROR_WANT_READ else _WANT_WRITE, -1.0, op)
        return self._io_loop(op, buf, n, raise_want, -1.0, 0)

    @cython.final
    cdef Py_ssize_t _io_loop(self, int op, char *buf, size_t n, bint raise_want,
                             double deadline, size_t total) except -100:
        """``_io_attempt``'s general case; ``deadline``: monotonic seconds or
        < 0 for none, from the timeout when ``_io_attempt`` was entered;
        ``total``: bytes of a write already taken (0 but after a partial
        write in ``_io_fast``)."""
        cdef int err, code, saved_errno = 0, ret = 0
        cdef char *p
        cdef size_t done = 0
        cdef bint release
        cdef SSL *ssl = self.ssl
        if ssl == NULL:
            raise ValueError("the TLS connection is closed")
        # BIO mode keeps the GIL: its BIOs may call back into Python.  Reads
        # keep it too: one SSL_read_ex decrypts at most one 16 KiB record.
        release = self.fd >= 0 and (
            op == OP_HANDSHAKE or op == OP_SHUTDOWN or (op == OP_WRITE and n >= GIL_RELEASE_BYTES))
        if op == OP_SHUTDOWN:
            self.shutdown_zeros = 0
        while True:
            if self.busy:
                self._wait_not_busy()
            # (handshake and shutdown pass buf == NULL: no arithmetic on it)
            p = buf + total if buf != NULL else NULL
            err = self._io_call(ssl, op, p, n - total, release, &done, &saved_errno, &ret)
            if err == SSL_ERROR_NONE:
                if op == OP_WRITE:
                    total += done
                    if total < n:
                        continue
                    self.wanted = 0
                    return <Py_ssize_t>total
                if op == OP_SHUTDOWN and done == 0:
                    self.shutdown_zeros += 1
                    if self.shutdown_zeros < 2:
                        continue
                if op == OP_HANDSHAKE:
                    self._idle(False)
                self.wanted = 0
                return <Py_ssize_t>done if (op == OP_READ or op == OP_PEEK) else 0
            if (err == SSL_ERROR_WANT_READ or err == SSL_ERROR_WANT_WRITE) and (
                    self.timeout != 0 or total):
                code = _WANT_READ if err == SSL_ERROR_WANT_READ else _WANT_WRITE
                if self.timeout == 0:
                    # a short write: report what was taken, and that the
                    # rest waits for ``code``'s event
                    self.wanted = code
                    return <Py_ssize_t>total
                if code == _WANT_READ and (op == OP_READ or op == OP_PEEK):
                    self._idle(True)
                self._wait(code, deadline, op)
                continue
            return self._io_outcome(op, err, ret, saved_errno, raise_want)

    @cython.final
    cdef inline void _idle(self, bint waiting) noexcept:
        """The connection waits for its peer (a read found nothing, or the
        handshake just ended): give its record buffers back, 16 KiB+ each
        way.  The first time, the handshake being done, turn
        SSL_MODE_RELEASE_BUFFERS off (it stays on during the handshake, so
        connections in the middle of one hold no buffers between flights):
        from now on the buffers stay while data flows.  SSL_free_buffers keeps them while a record is partly read or
        written, or decrypted data is unread.  A non-blocking read that
        finds nothing *again*, no byte read or written since the last free
        (an event loop polling an idle connection), leaves the read buffer
        OpenSSL set up for it until the next idle point: SSL_free_buffers
        walks all 32 record slots, more than the poll itself costs.
        ``waiting``: a blocking read is about to sleep in poll(); free in
        any case."""
        cdef uint64_t nread, nwritten
        if not _FREE_IDLE_BUFFERS or not SSL_is_init_finished(self.ssl):
            return
        if not self.data_phase:
            SSL_clear_mode(self.ssl, SSL_MODE_RELEASE_BUFFERS)
            self.data_phase = True
        nread = BIO_number_read(SSL_get_rbio(self.ssl))
        nwritten = BIO_number_written(SSL_get_wbio(self.ssl))
        if self.idled and not waiting and nread == self.idle_read \
                and nwritten == self.idle_written:
            return
        if SSL_free_buffers(self.ssl):
            self.idled = True
            self.idle_read = nread
            self.idle_written = nwritten

    @cython.final
    cdef Py_ssize_t _io_outcome(self, int op, int err, int ret, int saved_errno,
                             bint raise_want) except -100:
        """What a failed call that moved nothing and will not wait (the
        transport is non-blocking, or ``err`` is no want-*) returns or raises:
        _WANT_READ/_WANT_WRITE or SSLWant*Error (``raise_want``), 0 at EOF,
        else the exception from ``_errors.pxi``'s table."""
        cdef int code
        cdef SSL *ssl = self.ssl
        if err == SSL_ERROR_WANT_READ or err == SSL_ERROR_WANT_WRITE:
            code = _WANT_READ if err == SSL_ERROR_WANT_READ else _WANT_WRITE
            self.wanted = code
            if code == _WANT_READ and (op == OP_READ or op == OP_PEEK):
                self._idle(False)
            if raise_want:
                ERR_clear_error()
                raise self._want_exception(code)
            return code
        if err == SSL_ERROR_ZERO_RETURN and (op == OP_READ or op == OP_PEEK) and (
                not raise_want or SSL_get_shutdown(ssl) == SSL_RECEIVED_SHUTDOWN):
            # the peer's close_notify: EOF.  Once we sent ours too, the
            # stdlib raises SSLZeroReturnError instead; the fast path
            # reports 0 either way.
            ERR_clear_error()
            self.wanted = 0
            return 0
        exc = _exception_for(ssl, err, ret, saved_errno, self.server_hostname, self.fd >= 0)
        if (op == OP_READ or op == OP_PEEK) and self.suppress_ragged_eofs \
                and isinstance(exc, _SSLEOFError):
            self.wanted = 0
            return 0
        raise exc

    cdef object _want_exception(self, int code):
        return _want_error(code, _WHERE)

    # ------------------------------------------------------------------
    # buffers in and out

    @cython.final
    cdef Py_ssize_t read_into(self, object buffer, Py_ssize_t nbytes, int op,
                              bint raise_want, bint clamp=False) except -100:
        """Decrypt up to ``nbytes`` (<= 0: the whole buffer) straight into
        the caller's writable ``buffer``.  ``nbytes`` > ``len(buffer)`` is a
        ``ValueError`` (socket ``recv_into`` semantics) unless ``clamp``
        (``read(len, buffer)`` semantics: the stdlib reads less)."""
        cdef Py_buffer view
        cdef Py_ssize_t r
        # (no try/except around the call: it costs on every read)
        if _get_buffer(buffer, &view, PyBUF_WRITABLE) != 0:
            _not_writable(buffer)
        try:
            if nbytes <= 0 or (clamp and nbytes > view.len):
                nbytes = view.len
            elif nbytes > view.len:
                raise ValueError("nbytes is greater than the length of the buffer")
            if nbytes == 0:
                return 0
            if op == OP_READ:
                r = self._read_fill(<char *>view.buf, <size_t>nbytes, raise_want)
            else:
                r = self._io(op, <char *>view.buf, <size_t>nbytes, raise_want)
        finally:
            PyBuffer_Release(&view)
        return r

    cdef object read_bytes(self, Py_ssize_t n, int op):
        cdef Py_ssize_t r
        if n < 0:
            raise ValueError("size should not be negative")
        if n == 0:
            return b""
        out = PyBytes_FromStringAndSize(NULL, n)
        if op == OP_READ:
            r = self._read_fill(PyBytes_AS_STRING(out), <size_t>n, True)
        else:
            r = self._io(op, PyBytes_AS_STRING(out), <size_t>n, True)
        return out if r == n else out[:r]

    @cython.final
    cdef Py_ssize_t _read_fill(self, char *buf, size_t n, bint raise_want) except -100:
        """A read of up to ``n`` bytes into ``buf`` that takes every record
        already received, as a plain socket's recv() returns everything
        available: the first SSL_read_ex as ``_io`` (it may wait, or report
        or raise want-*), then, once that brought bytes, ``_fill_more``.
        In socket mode the read BIO may peek a batch of records in one
        recv(2) meanwhile (``_peek_bio.h``); settling it afterwards removes
        from the kernel exactly what OpenSSL consumed.  A failure that
        ``_fill_more`` met after bytes was kept for this next read
        (``_deferred``): it is reported first, as the read that met it
        would have."""
        cdef tlsfast_peek_t *st = NULL
        cdef Py_ssize_t r
        if self._deferred is not None:
            return self._take_deferred()
        if self.fd >= 0 and self.ssl != NULL:
            st = tlsfast_peek_of(SSL_get_rbio(self.ssl))
        if st == NULL:
            r = self._io(OP_READ, buf, n, raise_want)
            if r > 0 and <size_t>r < n:
                r = self._fill_more(buf, n, <size_t>r, NULL)
            return r
        # worth peeking: the ciphertext of n bytes in 64 B records (+34 %).
        # Not more: a peek copies every queued segment it covers.
        tlsfast_peek_begin(st, n + (n >> 1) + 32)
        try:
            r = self._io(OP_READ, buf, n, raise_want)
            if r > 0 and <size_t>r < n:
                r = self._fill_more(buf, n, <size_t>r, st)
        finally:
            tlsfast_peek_settle(st)
        return r

    @cython.final
    cdef Py_ssize_t _fill_more(self, char *buf, size_t n, size_t total,
                               tlsfast_peek_t *st) except -100:
        """After a read brought ``total`` bytes: more SSL_read_ex calls
        while ``buf`` has room and the next bytes are already in user space
        (decrypted in OpenSSL, ``SSL_pending``; ciphertext peeked by ``st``,
        or in the incoming memory BIO).  Never waits and never reports
        want-*: the first call that would need the transport (want-read,
        want-write) or meets the peer's close_notify (which the next read
        meets again) ends the loop.  Any other failure (a bad record, a
        ragged EOF) is kept in ``_deferred`` for the next read.  Returns
        the new total."""
        cdef int err, saved_errno = 0, ret = 0
        cdef size_t done = 0
        cdef SSL *ssl = self.ssl
        # a reader that did not peek for the first record tries the kernel
        # once now (want-read ends the loop at no more cost than a read)
        cdef bint try_kernel = st != NULL and tlsfast_peek_widen(st)
        cdef unsigned long me
        err = SSL_ERROR_NONE
        if total < n and not self.busy:
            # busy for the whole loop, as _io_call marks one call: no Python
            # code runs between the calls
            me = PyThread_get_thread_ident()
            self.busy = True
            self.busy_thread = me
            while total < n and (
                    try_kernel or SSL_pending(ssl) > 0 or
                    (tlsfast_peek_unserved(st) > 0 if st != NULL else
                     (self.fd < 0 and BIO_ctrl_pending(SSL_get_rbio(ssl)) > 0))):
                try_kernel = False
                err = _ssl_call(ssl, OP_READ, buf + total, n - total, &done, &saved_errno, &ret)
                if err != SSL_ERROR_NONE:
                    break
                total += done
            self.busy = False
            if self.handshaker == me and SSL_is_init_finished(ssl):
                self.handshaker = 0
        if err != SSL_ERROR_NONE:
            if err != SSL_ERROR_WANT_READ and err != SSL_ERROR_WANT_WRITE and \
                    err != SSL_ERROR_ZERO_RETURN:
                self._deferred = _exception_for(ssl, err, ret, saved_errno,
                                                self.server_hostname, self.fd >= 0)
            ERR_clear_error()
        self.wanted = 0
        return <Py_ssize_t>total

    cdef Py_ssize_t _take_deferred(self) except -100:
        """Report the failure ``_fill_more`` kept, as ``_io_outcome``
        would have: 0 for a ragged EOF with ``suppress_ragged_eofs``, else
        raise it."""
        exc = self._deferred
        self._deferred = None
        if self.suppress_ragged_eofs and isinstance(exc, _SSLEOFError):
            self.wanted = 0
            return 0
        raise exc

    @cython.final
    cdef Py_ssize_t write_from(self, object data, bint raise_want) except -100:
        """Encrypt straight from the caller's ``data`` (any C-contiguous
        bytes-like object)."""
        cdef Py_buffer view
        cdef Py_ssize_t r
        if PyBytes_CheckExact(data):
            # immutable, and the caller's reference keeps it alive until we
            # return: its bytes stay put without a buffer export
            if PyBytes_GET_SIZE(data) == 0:
                return 0
            return self._io(OP_WRITE, PyBytes_AS_STRING(data),
                            <size_t>PyBytes_GET_SIZE(data), raise_want)
        # (no try/except around the call: it costs on every write)
        if _get_buffer(data, &view, PyBUF_SIMPLE) != 0:
            _not_contiguous()
        try:
            if view.len == 0:
                return 0
            r = self._io(OP_WRITE, <char *>view.buf, <size_t>view.len, raise_want)
        finally:
            PyBuffer_Release(&view)
        return r

    @cython.final
    cdef Py_ssize_t write_vector(self, object buffers, bint raise_want) except -100:
        """Encrypt the bytes-like objects of the iterable ``buffers``, in
        order, as one stream in as few TLS records as fit (the caller's
        memory, each export held until we return): returns the plaintext
        bytes taken (all of them unless non-blocking; 0 when there are
        none), else as ``write_from``.  See ``_gather_loop`` for the
        pieces."""
        cdef Py_buffer on_stack[GATHER_ON_STACK]
        cdef _Gather g
        cdef Py_ssize_t i, got = 0
        if type(buffers) is not list and type(buffers) is not tuple:
            if isinstance(buffers, (bytes, bytearray, memoryview, str)):
                raise TypeError(f"buffers must be an iterable of bytes-like objects, "
                                f"not a single {type(buffers).__name__!r}")
            try:
                buffers = list(buffers)
            except TypeError:
                raise TypeError(f"buffers must be an iterable of bytes-like objects, "
                                f"not {type(buffers).__name__!r}") from None
        g.count = len(buffers)
        if g.count == 0:
            return 0
        g.staging = NULL
        if g.count <= GATHER_ON_STACK:
            g.views = &on_stack[0]
        else:
            g.views = <Py_buffer *>PyMem_Malloc(g.count * sizeof(Py_buffer))
            if g.views == NULL:
                raise MemoryError()
        try:
            for i in range(g.count):
                item = buffers[i]
                if _get_buffer(item, &g.views[i], PyBUF_SIMPLE) != 0:
                    _not_bytes_like(item)
                got += 1
            if self.fd < 0 or self.timeout == 0 or self.ssl == NULL:
                return self._gather_loop(&g, -1.0, raise_want)
            return self._io_blocking(OP_WRITE, NULL, 0, raise_want, &g)
        finally:
            for i in range(got):
                PyBuffer_Release(&g.views[i])
            if g.views != &on_stack[0]:
                PyMem_Free(g.views)
            PyMem_Free(g.staging)

    @cython.final
    cdef Py_ssize_t _gather_loop(self, _Gather *g, double deadline,
                                 bint raise_want) except -100:
        """``write_vector``'s writes.  The stream is cut into pieces of
        RECORD_BYTES (one full record each), the last one shorter: a piece
        that lies in one buffer is written from it (whole records straight
        from a large buffer in one call), one that spans several is joined
        in ``staging`` first.  Each piece is one ``_io_attempt`` (non-blocking:
        the fast path) or ``_io_loop`` (blocking: ``deadline``, monotonic
        seconds or < 0).

        Retrying after a short count or a want code: OpenSSL may hold an
        encrypted record of the piece it could not send, and takes it back
        only from a write at least that long that starts with the same
        bytes (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER lets the address change).
        The cut depends only on the bytes from where the caller resumes, and
        a piece is never shorter than min(RECORD_BYTES, what is left), so a
        retry with the same buffers, or the rest of them (more appended is
        fine), starts with such a write."""
        cdef Py_buffer *v = g.views
        cdef Py_ssize_t i = 0, j, k, count = g.count
        cdef Py_ssize_t off = 0, avail, n, r, take, total = 0
        cdef char *p
        while True:
            while i < count and off == v[i].len:
                i += 1
                off = 0
            if i == count:
                return total
            avail = v[i].len - off
            k = i + 1           # the next buffer with bytes
            while k < count and v[k].len == 0:
                k += 1
            if avail >= RECORD_BYTES or k == count:
                # whole records straight from the buffer; a short tail
                # joins the next buffers' bytes unless none follow
                p = <char *>v[i].buf + off
                n = avail if k == count else avail - avail % RECORD_BYTES
            else:
                if g.staging == NULL:
                    g.staging = <char *>PyMem_Malloc(RECORD_BYTES)
                    if g.staging == NULL:
                        raise MemoryError()
                p = g.staging
                memcpy(p, <char *>v[i].buf + off, avail)
                n = avail
                j = k
                while j < count and n < RECORD_BYTES:
                    take = min(v[j].len, RECORD_BYTES - n)
                    if take:
                        memcpy(p + n, v[j].buf, take)
                        n += take
                    j += 1
            if self.timeout == 0:
                r = self._io_attempt(OP_WRITE, p, <size_t>n, raise_want and total == 0)
            else:
                r = self._io_loop(OP_WRITE, p, <size_t>n, raise_want, deadline, 0)
            if r < 0:
                # nothing of this piece taken: the earlier pieces' count, the
                # want code stays in ``wanted``
                return total if total else r
            total += r
            if r < n:
                return total
            # step over the piece
            while r > 0:
                take = min(r, v[i].len - off)
                off += take
                r -= take
                if off == v[i].len and r > 0:
                    i += 1
                    off = 0

    # ------------------------------------------------------------------
    # operations (stdlib-compatible names)

    def do_handshake(self):
        """Perform the TLS handshake (``SSL_do_handshake``); returns None.
        A non-blocking transport or memory BIOs: raises ``SSLWantReadError``
        / ``SSLWantWriteError`` until done (memory BIOs: feed ``incoming``
        and send ``outgoing``'s data, then call again); a socket with a
        timeout: ``socket.timeout``.  Raises
        ``ssl.SSLCertVerificationError`` when the peer's certificate is
        rejected, ``ssl.SSLError`` for other TLS failures (``SSLEOFError``
        at EOF of the transport), ``OSError`` for socket failures."""
        self._io(OP_HANDSHAKE, NULL, 0, True)

    def try_do_handshake(self):
        """Fast path of ``do_handshake``; returns an ``int``: 0 when done
        (and on later calls), else ``WANT_READ`` / ``WANT_WRITE`` instead of
        raising (with memory BIOs always ``WANT_READ``: ``outgoing`` never
        fills).  Raises what ``do_handshake`` raises for real errors
        (``ssl.SSLCertVerificationError``, ``ssl.SSLError``, ``OSError``)."""
        return self._io(OP_HANDSHAKE, NULL, 0, False)

    def read(self, Py_ssize_t len=1024, buffer=None):
        """Read up to ``len`` decrypted bytes (``SSL_read_ex``): ``bytes``, or
        with ``buffer`` (writable bytes-like) the count written into it
        (``len`` <= 0 or larger than the buffer: the whole buffer, as the
        stdlib).  Unlike the stdlib's (one TLS record a call), one call
        takes every complete record already in ``incoming`` while there is
        room, and never raises ``SSLWantReadError`` once it has bytes; a
        failure met after them is raised by the next call.  b''/0 after
        the peer's close_notify.  Raises
        ``SSLWantReadError`` when the transport has no data yet,
        ``SSLZeroReturnError`` once both close_notify were exchanged,
        ``SSLEOFError`` on a truncated stream (EOF without close_notify)
        unless ``suppress_ragged_eofs``, ``TypeError`` for a read-only
        buffer, ``ValueError`` for a negative ``len`` without buffer."""
        if buffer is None:
            return self.read_bytes(len, OP_READ)
        return self.read_into(buffer, len, OP_READ, True, True)

    def write(self, data):
        """Encrypt ``data`` (C-contiguous bytes-like) straight from its buffer
        (``SSL_write_ex``); returns the count taken (all of it with memory
        BIOs, 0 for empty data).  Raises ``SSLWantReadError`` when the
        handshake needs the peer's data, ``SSLWantWriteError`` when a
        non-blocking socket is full (never with memory BIOs),
        ``TypeError`` for a non bytes-like object, ``ssl.SSLError`` after
        shutdown (``PROTOCOL_IS_SHUTDOWN``)."""
        return self.write_from(data, True)

    def pending(self):
        """Decrypted bytes buffered inside OpenSSL (``SSL_pending``): what a
        read returns without new data.  Received records not yet decrypted
        are not counted: they stay in ``incoming`` (memory BIOs) or in the
        kernel (sockets: tlsfast uses no OpenSSL read-ahead), where
        ``select()`` sees them."""
        return SSL_pending(self.ssl) if self.ssl != NULL else 0

    def shutdown(self):
        """Send close_notify and wait for the peer's (``SSL_shutdown``), as
        the stdlib's ``_ssl._SSLSocket.shutdown``: returns the owner socket in
        socket mode, None in memory-BIO mode (``SSLObject.unwrap`` wraps it).
        Raises ``SSLWantReadError``/``SSLWantWriteError`` until done on a
        non-blocking transport, ``ssl.SSLEOFError`` when the peer closes
        without close_notify, ``ssl.SSLError`` before the handshake
        completed, ``socket.timeout``.  ``ssl.SSLObject`` has no
        ``shutdown``: there, use ``unwrap()``."""
        self._io(OP_SHUTDOWN, NULL, 0, True)
        return self.owner_object() if self.fd >= 0 else None


    def try_recv_into(self, buffer, Py_ssize_t nbytes=0):
        """Fast path of ``read(nbytes, buffer)`` (``SSL_read_ex``): decrypt
        up to ``nbytes`` bytes into ``buffer`` (writable bytes-like;
        ``nbytes`` <= 0 means ``len(buffer)``, more is a ``ValueError``);
        returns an ``int``: the count (> 0), 0 at end of stream (the peer's
        close_notify, even after our own; a ragged EOF with
        ``suppress_ragged_eofs``) or for an empty buffer, else ``WANT_READ``
        / ``WANT_WRITE`` instead of raising.  One call decrypts every
        complete record already in ``incoming`` while ``buffer`` has room
        (never ``WANT_*`` once it has bytes): a count below ``nbytes``
        means nothing complete is left.  Raises ``ssl.SSLEOFError`` on a ragged EOF
        unless ``suppress_ragged_eofs``, ``ssl.SSLError`` for other TLS
        failures, ``TypeError`` for a read-only buffer."""
        return self.read_into(buffer, nbytes, OP_READ, False)

    def try_send(self, data):
        """Fast path of ``write`` (``SSL_write_ex``): encrypt ``data``
        (C-contiguous bytes-like); returns an ``int``: plaintext bytes taken
        (all of ``data`` with memory BIOs; 0 for empty data) or
        ``WANT_READ`` / ``WANT_WRITE`` instead of raising (then call again
        with the same data).  Raises ``ssl.SSLError`` (e.g. after shutdown),
        ``TypeError`` for a non bytes-like object."""
        return self.write_from(data, False)

    def try_sendv(self, buffers):
        """Fast path of a gathering write: encrypt the bytes-like objects of
        ``buffers`` (an iterable, e.g. a ``list`` of ``bytes`` /
        ``memoryview``), in order, as one stream in as few TLS records as
        fit -- ``ceil(total / 16384)`` -- with ``SSL_write_ex`` straight from
        their memory (small buffers are joined into one 16 KiB record
        first).  Returns an ``int``: the plaintext bytes taken, counted
        across the buffers (all of them with memory BIOs; 0 for no bytes),
        or ``WANT_READ`` / ``WANT_WRITE`` when none were taken: then call
        again with the same buffers; after a short count, with the rest
        (the bytes from that count on, cut as you like; more appended is
        fine).  Raises ``ssl.SSLError`` (e.g. after shutdown),
        ``TypeError`` when ``buffers`` is not an iterable of bytes-like
        objects (a single ``bytes`` included)."""
        return self.write_vector(buffers, False)

    def try_unwrap(self):
        """Fast path of ``unwrap`` (``SSL_shutdown``): sends close_notify
        (once); returns an ``int``: 0 when both close_notify alerts are
        exchanged, else ``WANT_READ`` / ``WANT_WRITE`` instead of raising.
        Raises ``ssl.SSLEOFError`` at an EOF without the peer's close_notify,
        ``ssl.SSLError`` before the handshake completed or after a fatal
        error (``SHUTDOWN_WHILE_IN_INIT``)."""
        return self._io(OP_SHUTDOWN, NULL, 0, False)

    # ------------------------------------------------------------------
    # beyond the stdlib (pyOpenSSL's Connection has these)

    cdef inline int _guard(self) except -1:
        """Wait while another thread is inside this SSL* (see GIL policy).
        The same thread may come back in from a callback (an ``sni_callback``
        setting ``sslsocket.context``): that is not I/O and is allowed."""
        if self.busy and self.busy_thread != PyThread_get_thread_ident():
            self._wait_not_busy()
        return 0

    cdef int _require_handshake(self) except -1:
        self._guard()
        if self.ssl == NULL or not SSL_is_init_finished(self.ssl):
            raise ValueError("handshake not done yet")
        return 0

    def peek(self, Py_ssize_t len=1024):
        """Return up to ``len`` decrypted bytes (``bytes``) without
        consuming them (``SSL_peek_ex``); b'' at EOF.  Raises like ``read``
        (``SSLWantReadError``, ``SSLEOFError``, ``ValueError`` for ``len``
        < 0)."""
        return self.read_bytes(len, OP_PEEK)

    def export_keying_material(self, label, Py_ssize_t length, context=None):
        """Keying material exported from the session (RFC 5705 / RFC 8446
        section 7.5, ``SSL_export_keying_material``): ``length`` bytes for
        ``label`` (``str`` or ``bytes``) and an optional ``context``
        (bytes-like; None means no context, which differs from empty).
        Raises ``ValueError`` before the handshake or for ``length`` < 1
        (``UnicodeEncodeError`` for a non-ASCII ``str`` label),
        ``TypeError`` for other argument types, ``ssl.SSLError`` if OpenSSL
        refuses (on TLS 1.2 a reserved label such as ``"master secret"``)."""
        cdef bytes blabel = label.encode("ascii") if isinstance(label, str) else bytes(memoryview(label))
        cdef bytes bctx = None if context is None else bytes(memoryview(context))
        self._require_handshake()
        if length < 1:
            raise ValueError("length must be positive")
        out = PyBytes_FromStringAndSize(NULL, length)
        ERR_clear_error()
        if SSL_export_keying_material(
                self.ssl, <unsigned char *>PyBytes_AS_STRING(out), length,
                blabel, len(blabel),
                NULL if bctx is None else <const unsigned char *>(<char *>bctx),
                0 if bctx is None else len(bctx), bctx is not None) != 1:
            raise _ssl_error_from_queue()
        return out

    def get_finished(self):
        """The latest Finished message this side sent (``bytes``), or None
        before one was sent (``SSL_get_finished``)."""
        cdef char buf[128]
        cdef size_t n = SSL_get_finished(self.ssl, buf, sizeof(buf))
        return buf[:n] if n else None

    def get_peer_finished(self):
        """The latest Finished message received from the peer, or None
        (``SSL_get_peer_finished``)."""
        cdef char buf[128]
        cdef size_t n = SSL_get_peer_finished(self.ssl, buf, sizeof(buf))
        return buf[:n] if n else None

    def client_random(self):
        """The ClientHello random (32 ``bytes``), or None before a session
        exists (``SSL_get_client_random``)."""
        cdef unsigned char buf[32]
        if SSL_get_session(self.ssl) == NULL:
            return None
        n = SSL_get_client_random(self.ssl, buf, 32)
        return (<char *>buf)[:n]

    def server_random(self):
        """The ServerHello random (32 ``bytes``), or None before a session
        exists (``SSL_get_server_random``)."""
        cdef unsigned char buf[32]
        if SSL_get_session(self.ssl) == NULL:
            return None
        n = SSL_get_server_random(self.ssl, buf, 32)
        return (<char *>buf)[:n]

    def key_update(self, request_peer=False):
        """TLS 1.3: switch to new traffic keys (``SSL_key_update``); with
        ``request_peer=True`` also ask the peer to update its keys.  The
        KeyUpdate message is sent now when the transport can take it, else
        with the next write.  Raises ``ValueError`` before the handshake,
        ``ssl.SSLError`` on TLS 1.2 or if OpenSSL refuses."""
        self._require_handshake()
        ERR_clear_error()
        if SSL_key_update(self.ssl, SSL_KEY_UPDATE_REQUESTED if request_peer
                          else SSL_KEY_UPDATE_NOT_REQUESTED) != 1:
            raise _ssl_error_from_queue()
        self._io(OP_HANDSHAKE, NULL, 0, False)

    def renegotiate(self):
        """TLS <= 1.2: ask for a renegotiation (``SSL_renegotiate``).  Only
        starts it: the following reads and writes drive it to completion
        (``renegotiate_pending()`` says when it is done).  A tlsfast server
        refuses it by default (``OP_NO_RENEGOTIATION``; OpenSSL 3 servers also
        refuse client-initiated renegotiation unless
        ``SSL_OP_ALLOW_CLIENT_RENEGOTIATION`` is set), and the client then
        gets ``ssl.SSLError`` (reason ``NO_RENEGOTIATION``) from that read.
        Raises ``ValueError`` before the handshake, ``ssl.SSLError`` on
        TLS 1.3."""
        self._require_handshake()
        ERR_clear_error()
        if SSL_renegotiate(self.ssl) != 1:
            raise _ssl_error_from_queue()

    def renegotiate_pending(self):
        """True from ``renegotiate()`` until that renegotiation has completed
        (``SSL_renegotiate_pending``)."""
        self._guard()
        return bool(SSL_renegotiate_pending(self.ssl))

    cdef list _chain(self, stack_st_X509 *sk, bint binary_form):
        cdef int i
        if sk == NULL:
            return None
        return [_certificate_to_der(sk_X509_value(sk, i)) if binary_form
                else _decode_certificate(sk_X509_value(sk, i))
                for i in range(sk_X509_num(sk))]

    def get_peer_cert_chain(self, binary_form=False):
        """The certificates the peer sent, leaf first (on the server side
        OpenSSL leaves the leaf out), as a ``list`` of stdlib certificate
        dicts or, with ``binary_form=True``, DER ``bytes``; None before the
        handshake or when none were sent (``SSL_get_peer_cert_chain``)."""
        return self._chain(SSL_get_peer_cert_chain(self.ssl), binary_form)

    @cython.binding(True)   # (the default is a module value)
    def get_verified_chain(self, binary_form=CHAIN_AS_DER):
        """The chain OpenSSL built and verified, leaf to trust anchor
        (``SSL_get0_verified_chain``), as ``get_peer_cert_chain``'s
        ``list``.  With ``CERT_NONE`` it is built but not checked (it may
        stop short of an anchor).

        As the stdlib's from Python 3.13 (where it is public): DER ``bytes``
        by default and ``[]`` when there is none.  Before 3.13 (a tlsfast
        extension there): the stdlib's certificate dicts by default and None
        when there is none.  ``binary_form`` (bool) picks either form."""
        return self._chain_result(SSL_get0_verified_chain(self.ssl), binary_form)

    def get_unverified_chain(self, binary_form=True):
        """The certificates the peer sent, leaf first, on the server side
        too (``SSL_get_peer_cert_chain``, with ``SSL_get0_peer_certificate``
        in front where OpenSSL leaves it out): Python 3.13's
        ``get_unverified_chain``, a tlsfast extension before.  DER ``bytes``
        (the dicts with ``binary_form=False``); ``[]`` when there is none."""
        cdef stack_st_X509 *sk = SSL_get_peer_cert_chain(self.ssl)
        if sk == NULL:
            return []
        chain = self._chain(sk, binary_form)
        if self.server_side:
            leaf = self.getpeercert(binary_form) if SSL_is_init_finished(self.ssl) else None
            if leaf:
                chain.insert(0, leaf)
        return chain

    cdef object _chain_result(self, stack_st_X509 *sk, bint binary_form):
        chain = self._chain(sk, binary_form)
        if chain is None and CHAIN_AS_DER:
            return []
        return chain

    def want_read(self):
        """True when the last fast-path call stopped for want of incoming data."""
        return self.wanted == _WANT_READ

    def want_write(self):
        """True when the last fast-path call stopped because the transport was full."""
        return self.wanted == _WANT_WRITE

    def cipher_bits(self):
        """Secret bits of the cipher in use (``SSL_CIPHER_get_bits``), or None."""
        cdef const SSL_CIPHER *c = SSL_get_current_cipher(self.ssl)
        return None if c == NULL else SSL_CIPHER_get_bits(c, NULL)

    @property
    def wanted_events(self):
        """``selectors`` mask the last fast-path call waits for: ``EVENT_READ``,
        ``EVENT_WRITE`` or 0."""
        if self.wanted == _WANT_READ:
            return _EVENT_READ
        if self.wanted == _WANT_WRITE:
            return _EVENT_WRITE
        return 0

    # ------------------------------------------------------------------
    # inspection

    @property
    def owner(self):
        """The object users hold for this connection (the ``SSLSocket``, or
        the ``SSLObject`` itself), as ``_ssl._SSLSocket.owner``; assigning
        makes another object the one callbacks receive (a weak reference
        is kept)."""
        return self.owner_object()

    @owner.setter
    def owner(self, value):
        self._owner = None if value is None else weakref.ref(value)

    @property
    def context(self):
        """The ``SSLContext``; assigning another switches the connection to it
        (``SSL_set_SSL_CTX``, e.g. from an ``sni_callback``).  Raises
        ``TypeError`` for a non-tlsfast context."""
        return self._context

    @context.setter
    def context(self, context):
        cdef _SSLContext ctx = _core_of(context)
        self._guard()
        if SSL_set_SSL_CTX(self.ssl, ctx._checked()) == NULL:
            raise _ssl_error_from_queue()
        self.ctx = ctx
        self._context = context

    @property
    def session(self):
        """The ``SSLSession`` (``SSL_get1_session``) or None.  Set it on a client
        before the handshake to resume; setting raises ``TypeError`` for a
        non-session, ``ValueError`` on a server, after the handshake or for a
        session of another context."""
        cdef SSL_SESSION *s = SSL_get1_session(self.ssl)
        if s == NULL:
            return None
        return SSLSession._wrap(s, self.ctx)

    @session.setter
    def session(self, value):
        _check_session(value, self.server_side, self.ctx)
        self._guard()
        if SSL_is_init_finished(self.ssl):
            raise ValueError("Cannot set session after handshake.")
        ERR_clear_error()
        if SSL_set_session(self.ssl, (<SSLSession>value).session) != 1:
            raise _ssl_error_from_queue()

    @property
    def session_reused(self):
        """True when the handshake resumed a session (``SSL_session_reused``)."""
        return bool(SSL_session_reused(self.ssl))

    def getpeercert(self, binary_form=False):
        """The peer certificate: the stdlib's dict (``{}`` when not verified),
        DER ``bytes`` with ``binary_form``, None when there is none.  Raises
        ``ValueError`` before the handshake."""
        cdef X509 *cert
        if not SSL_is_init_finished(self.ssl):
            raise ValueError("handshake not done yet")
        cert = SSL_get1_peer_certificate(self.ssl)
        if cert == NULL:
            return None
        try:
            if binary_form:
                return _certificate_to_der(cert)
            if not (SSL_get_verify_mode(self.ssl) & SSL_VERIFY_PEER):
                return {}
            return _decode_certificate(cert)
        finally:
            X509_free(cert)

    def cipher(self):
        """``(name, protocol, secret_bits)`` of the current cipher or None."""
        return _cipher_to_tuple(SSL_get_current_cipher(self.ssl))

    def compression(self):
        """Always None: OpenSSL 3 builds have no TLS compression (the
        stdlib's ``_ssl._SSLSocket.compression()``, which httpcore's
        ``ssl_object`` extra hands to its users)."""
        return None

    def shared_ciphers(self):
        """Server side: the ciphers both ends enable, as ``cipher()`` tuples;
        None on a client."""
        cdef stack_st_SSL_CIPHER *server = SSL_get_ciphers(self.ssl)
        cdef stack_st_SSL_CIPHER *client = SSL_get_client_ciphers(self.ssl)
        cdef int i, j
        cdef const SSL_CIPHER *c
        if server == NULL or client == NULL:
            return None
        result = []
        for i in range(sk_SSL_CIPHER_num(server)):
            c = sk_SSL_CIPHER_value(server, i)
            for j in range(sk_SSL_CIPHER_num(client)):
                if sk_SSL_CIPHER_value(client, j) == c:
                    result.append(_cipher_to_tuple(c))
                    break
        return result

    def version(self):
        """Negotiated protocol (``"TLSv1.3"``...) or None before the handshake."""
        if not SSL_is_init_finished(self.ssl):
            return None
        return SSL_get_version(self.ssl).decode("ascii")

    def selected_alpn_protocol(self):
        """The ALPN protocol agreed on (``str``) or None."""
        cdef const unsigned char *data = NULL
        cdef unsigned int n = 0
        SSL_get0_alpn_selected(self.ssl, &data, &n)
        if data == NULL or n == 0:
            return None
        return data[:n].decode("ascii", "surrogateescape")

    def get_channel_binding(self, cb_type="tls-unique"):
        """RFC 5929 ``tls-unique`` data (``bytes``) or None before the
        handshake; ``ValueError`` for another ``cb_type``."""
        cdef char buf[128]
        cdef size_t n
        if cb_type != "tls-unique":
            raise ValueError(f"'{cb_type}' channel binding type not implemented")
        # RFC 5929: the first Finished message of the handshake
        if bool(SSL_session_reused(self.ssl)) ^ (not self.server_side):
            n = SSL_get_finished(self.ssl, buf, sizeof(buf))
        else:
            n = SSL_get_peer_finished(self.ssl, buf, sizeof(buf))
        if n == 0:
            return None
        return buf[:n]

    def verify_client_post_handshake(self):
        """Server, TLS 1.3: request the client certificate now
        (``SSL_verify_client_post_handshake``); ``ssl.SSLError`` when not
        possible (TLS 1.2, client did not offer post-handshake auth)."""
        self._guard()
        ERR_clear_error()
        if SSL_verify_client_post_handshake(self.ssl) != 1:
            raise _ssl_error_from_queue()


cdef object _parse_ip(str host):
    """Packed address when ``host`` is an IPv4/IPv6 literal, else None."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            return socket.inet_pton(family, host)
        except (OSError, ValueError):
            pass
    return None
