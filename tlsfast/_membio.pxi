# MemoryBIO (the stdlib's ``ssl.MemoryBIO`` over an OpenSSL BIO_s_mem) and the
# adapter that lets ``wrap_bio`` take any object with MemoryBIO's methods
# (trio and asyncio pass the stdlib's own ``ssl.MemoryBIO``).
#
# Native path: ciphertext written to a tlsfast MemoryBIO is copied once, into
# the BIO, where SSL_read_ex decrypts it; SSL_write_ex's output waits in the
# outgoing BIO until ``read()`` / ``read_into()`` take it.
# Adapter path: the SSL* reads and writes through Python calls on the foreign
# object (one bytes object per call); correct, not the fast path.

cdef class MemoryBIO:
    """MemoryBIO()
--

An in-memory byte FIFO for TLS records: ``ssl.MemoryBIO``.

    Wraps an OpenSSL memory BIO (``BIO_s_mem``).  Used in pairs with
    ``SSLContext.wrap_bio(incoming, outgoing)``.
    """
    def __cinit__(self):
        ERR_clear_error()
        self.bio = BIO_new(BIO_s_mem())
        if self.bio == NULL:
            raise _ssl_error_from_queue(None, "failed to allocate BIO")
        # an empty BIO means "retry later", not end of file
        BIO_set_mem_eof_return(self.bio, -1)

    def __dealloc__(self):
        if self.bio != NULL:
            BIO_free(self.bio)

    @property
    def pending(self):
        """int: bytes waiting to be read (``BIO_ctrl_pending``)."""
        return BIO_ctrl_pending(self.bio)

    @property
    def eof(self):
        """bool: ``write_eof()`` was called and every byte has been read."""
        return self.eof_written and BIO_ctrl_pending(self.bio) == 0

    def read(self, Py_ssize_t size=-1):
        """Read and return up to ``size`` bytes (all pending bytes when
        ``size`` < 0) as ``bytes``; b'' when empty.  Raises ``ssl.SSLError``
        if the BIO fails."""
        cdef size_t avail = BIO_ctrl_pending(self.bio)
        cdef size_t got = 0
        if size < 0 or <size_t>size > avail:
            size = avail
        if size == 0:
            return b""
        out = PyBytes_FromStringAndSize(NULL, size)
        # a memory BIO does not consult the error queue: no clearing on the
        # hot path, the queue is only read when the call fails
        if BIO_read_ex(self.bio, PyBytes_AS_STRING(out), size, &got) != 1:
            raise _ssl_error_from_queue()
        return out if <Py_ssize_t>got == size else out[:got]

    def read_into(self, buffer, Py_ssize_t nbytes=0):
        """Move up to ``nbytes`` (<= 0: ``len(buffer)``) pending bytes into the
        writable bytes-like ``buffer`` without creating a bytes object; returns
        the count (0 when empty).  tlsfast addition.  Raises ``TypeError`` for a
        read-only buffer, ``ValueError`` if ``nbytes`` > ``len(buffer)``."""
        cdef Py_buffer view
        cdef size_t got = 0
        try:
            PyObject_GetBuffer(buffer, &view, PyBUF_WRITABLE)
        except (BufferError, TypeError):
            raise TypeError(
                f"read-write bytes-like object is required, not {type(buffer).__name__!r}") from None
        try:
            if nbytes <= 0:
                nbytes = view.len
            elif nbytes > view.len:
                raise ValueError("nbytes is greater than the length of the buffer")
            if nbytes == 0 or BIO_ctrl_pending(self.bio) == 0:
                return 0
            BIO_read_ex(self.bio, view.buf, nbytes, &got)
            return got
        finally:
            PyBuffer_Release(&view)

    def write(self, data):
        """Append the bytes-like ``data``; returns the count.  Raises
        ``ssl.SSLError`` after ``write_eof()``, ``TypeError`` for a
        non bytes-like object, ``OverflowError`` above 2**31-1 bytes."""
        cdef Py_buffer view
        if PyBytes_CheckExact(data):
            # immutable and kept alive by the caller: no buffer export needed
            return self._append(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            return self._append(<const char *>view.buf, view.len)
        finally:
            PyBuffer_Release(&view)

    cdef inline Py_ssize_t _append(self, const char *buf, Py_ssize_t n) except -1:
        # write()'s checks and copy, for a buffer held by the caller
        cdef size_t written = 0
        if n > 0x7fffffff:
            raise OverflowError(f"string longer than {0x7fffffff} bytes")
        if self.eof_written:
            raise _SSLError("cannot write() after write_eof()")
        if n == 0:
            return 0
        if BIO_write_ex(self.bio, buf, <size_t>n, &written) != 1:
            raise _ssl_error_from_queue()
        return <Py_ssize_t>written

    def write_eof(self):
        """Mark end of stream: once drained, reads report EOF (``eof`` is True)
        and an ``SSLObject`` reading from it sees the transport closed."""
        self.eof_written = True
        BIO_clear_retry_flags(self.bio)
        BIO_set_mem_eof_return(self.bio, 0)


# --- the adapter for foreign MemoryBIO-like objects -------------------------

cdef BIO_METHOD *_py_bio_method = NULL


# The adapter BIO owns a strong reference to its Python object (taken in
# _bio_for, dropped in _py_bio_destroy): SSL_free may call into the BIO after
# the garbage collector has cleared the engine's own references.

cdef int _py_bio_write(BIO *b, const char *data, size_t n, size_t *written) noexcept with gil:
    cdef void *p = BIO_get_data(b)
    BIO_clear_retry_flags(b)
    if p == NULL:
        return 0
    target = <object>p
    try:
        count = target.write(data[:n])
        if not 0 <= count <= n:
            raise ValueError(f"{type(target).__name__}.write() returned {count!r} "
                             f"for {n} bytes")
        written[0] = count
        return 1
    except BaseException as exc:
        _unraisable(exc, target)
        return 0


cdef int _py_bio_read(BIO *b, char *out, size_t n, size_t *readbytes) noexcept with gil:
    cdef void *p = BIO_get_data(b)
    cdef bytes data
    BIO_clear_retry_flags(b)
    if p == NULL:
        return 0
    source = <object>p
    try:
        data = bytes(source.read(n))
        if len(data) > n:
            raise ValueError(f"{type(source).__name__}.read({n}) returned {len(data)} bytes")
        if len(data) == 0:
            readbytes[0] = 0
            if not source.eof:
                BIO_set_retry_read(b)
            return 0
        memcpy(out, <const char *>data, len(data))
        readbytes[0] = len(data)
        return 1
    except BaseException as exc:
        _unraisable(exc, source)
        return 0


cdef long _py_bio_ctrl(BIO *b, int cmd, long num, void *ptr) noexcept with gil:
    cdef void *p = BIO_get_data(b)
    if cmd == BIO_CTRL_FLUSH:
        return 1
    if p == NULL or (cmd != BIO_CTRL_PENDING and cmd != BIO_CTRL_EOF):
        return 0
    obj = <object>p
    try:
        if cmd == BIO_CTRL_PENDING:
            return obj.pending
        if cmd == BIO_CTRL_EOF:
            return 1 if obj.eof else 0
    except BaseException as exc:
        _unraisable(exc, obj)
    return 0


cdef int _py_bio_create(BIO *b) noexcept nogil:
    BIO_set_init(b, 1)
    return 1


cdef int _py_bio_destroy(BIO *b) noexcept with gil:
    cdef void *p = BIO_get_data(b)
    BIO_set_data(b, NULL)
    if p != NULL:
        Py_DECREF(<object>p)
    return 1


cdef BIO *_bio_for(object obj) except NULL:
    """A BIO* reading/writing ``obj``: its own BIO for a tlsfast MemoryBIO
    (a new reference), else an adapter BIO calling ``obj``'s methods and
    holding a reference to it."""
    global _py_bio_method
    cdef BIO *b
    if isinstance(obj, MemoryBIO):
        b = (<MemoryBIO>obj).bio
        BIO_up_ref(b)
        return b
    for name in ("read", "write", "write_eof"):
        if not callable(getattr(obj, name, None)):
            raise TypeError(f"expected a MemoryBIO-like object, got {type(obj).__name__!r}")
    if _py_bio_method == NULL:
        _py_bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                      b"tlsfast python BIO adapter")
        BIO_meth_set_write_ex(_py_bio_method, _py_bio_write)
        BIO_meth_set_read_ex(_py_bio_method, _py_bio_read)
        BIO_meth_set_ctrl(_py_bio_method, _py_bio_ctrl)
        BIO_meth_set_create(_py_bio_method, _py_bio_create)
        BIO_meth_set_destroy(_py_bio_method, _py_bio_destroy)
    ERR_clear_error()
    b = BIO_new(_py_bio_method)
    if b == NULL:
        raise _ssl_error_from_queue()
    Py_INCREF(obj)          # dropped by _py_bio_destroy
    BIO_set_data(b, <void *>obj)
    return b
