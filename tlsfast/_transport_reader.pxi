# The readable-event callback of tlsfast.asyncio's transport
# (tlsfast/_transport.py) in the compiled implementation.
#
# Per round trip the transport's Python frames cost about as much as the TLS
# record itself (callgrind: each frame a few hundred instructions), and a
# readable event used to take two of them before the protocol saw its data.
# Here the common case -- connected, nothing queued to write, reading, the
# read waiting for readability -- decrypts straight from the socket in C
# and hands the record to the protocol; every other case (handshake,
# shutdown, a queued write, a want-write read, end of stream, errors, more
# than one record) goes to the transport's own Python methods, so the
# behaviour stays the transport's.

cdef enum:
    _TR_MAX_RECORD = 16384      # the largest TLS record's plaintext
    _TR_EVENT_READ = 1          # selectors.EVENT_READ


cdef class _TransportReader:
    """``loop.add_reader`` callback for a ``TLSTransport`` on a compiled
    ``SSLSocket`` (``SSLSocket._transport_reader``)."""

    cdef object transport
    cdef object sslsock

    def __cinit__(self, transport, sslsock):
        self.transport = transport
        self.sslsock = sslsock

    def __call__(self):
        t = self.transport
        if not (t._state == "WRAPPED" and not t._backlog and not t._reading_paused
                and t._read_wants == _TR_EVENT_READ):
            t._on_ready(_TR_EVENT_READ)
            return
        sslobj = _engine_of(self.sslsock)
        if sslobj is None:
            t._on_ready(_TR_EVENT_READ)
            return
        try:
            if t._buffered:
                self._read_buffered(t, <_SSLConnection>sslobj)
            else:
                self._read_copied(t, <_SSLConnection>sslobj)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            t._fatal_error(exc, "Fatal read error on TLS transport")

    cdef int _read_copied(self, t, _SSLConnection conn) except -1:
        cdef char buf[_TR_MAX_RECORD]
        cdef Py_ssize_t n = conn._io(OP_READ, buf, _TR_MAX_RECORD, False)
        cdef bint more
        if n <= 0:
            t._after_read(n)
            return 0
        data = PyBytes_FromStringAndSize(buf, n)
        more = n == _TR_MAX_RECORD or SSL_has_pending(conn.ssl) == 1
        t._protocol.data_received(data)
        if more and t._state == "WRAPPED" and not t._reading_paused:
            t._read_copied()
        return 0

    cdef int _read_buffered(self, t, _SSLConnection conn) except -1:
        cdef Py_buffer view
        cdef Py_ssize_t n, size
        cdef bint more
        protocol = t._protocol
        target = protocol.get_buffer(-1)
        if _get_buffer(target, &view, PyBUF_WRITABLE) != 0:
            _not_writable(target)
        try:
            size = view.len
            if size == 0:
                raise RuntimeError("get_buffer() returned an empty buffer")
            n = conn._io(OP_READ, <char *>view.buf, <size_t>size, False)
        finally:
            PyBuffer_Release(&view)
        if n <= 0:
            t._after_read(n)
            return 0
        more = n == _TR_MAX_RECORD or n == size or SSL_has_pending(conn.ssl) == 1
        protocol.buffer_updated(n)
        if more and t._state == "WRAPPED" and not t._reading_paused:
            t._read_buffered()
        return 0


@cython.binding(True)   # a method of the transport's class (the module default is False)
def _transport_write(self, data):
    """``TLSTransport.write`` on a compiled ``SSLSocket``: the common case
    -- non-empty ``bytes``, connected, nothing queued -- encrypts and sends
    in C; a partial write goes on in ``_write_rest``, and every other case
    (other types, a closed transport, a queued backlog) is the Python
    ``write`` itself (``_python_write``), with its errors."""
    cdef Py_ssize_t n
    if (PyBytes_CheckExact(data) and PyBytes_GET_SIZE(data) > 0 and not self._closing
            and self._state == "WRAPPED" and not self._backlog):
        sslobj = _engine_of(self._sslsock)
        if isinstance(sslobj, _SSLConnection):
            try:
                n = (<_SSLConnection>sslobj).write_from(data, False)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, "Fatal write error on TLS transport")
                return
            if n != PyBytes_GET_SIZE(data):
                self._write_rest(data, n)
            return
    self._python_write(data)
