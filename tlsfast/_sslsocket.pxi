# SSLSocket: the socket.socket subclass users hold (``ssl.SSLSocket``).
#
# A plain Python class (compiled by Cython) because it must inherit from
# ``socket.socket`` -- through the stdlib's ``ssl.SSLSocket``, so that
# libraries checking ``isinstance(sock, ssl.SSLSocket)`` take it; every name
# ``ssl.SSLSocket`` defines is defined again here (tests/test_api.py checks
# that none falls through), the plain socket's are inherited.  While connected it owns ``self._sslobj``, the
# ``_SSLConnection`` engine, and hands every byte to it; without one (not yet
# connected, unwrapped, closed) it behaves as the plain socket it wraps.

from tlsfast._common import EVENTS_FOR_CODE as _EVENTS_FOR_CODE

from functools import partial
from tlsfast._helpers import check_wrap_args as _check_wrap_args
from tlsfast._helpers import check_sendmsg_args as _check_sendmsg_args
from tlsfast._helpers import pre_handshake_data_error as _pre_handshake_data_error


from cpython.object cimport PyObject

# ``self._sslobj`` read at its slot offset: the one place tlsfast looks at
# CPython's type internals (``tp_version_tag``); see _slot_cache.h.
cdef extern from "_slot_cache.h":
    int _slot_init "tlsfast_slot_init" (object descr) noexcept
    PyObject *_slot_get "tlsfast_slot_get" (object obj) noexcept
    void _slot_learn "tlsfast_slot_learn" (object obj, object name) noexcept


cdef inline object _engine_of(object sock):
    """``sock._sslobj`` (an SSLSocket's engine or None), read straight from
    the slot when the type allows (see ``tlsfast_slot_get``)."""
    cdef PyObject *p = _slot_get(sock)
    if p != NULL:
        return <object>p
    return _engine_lookup(sock)


cdef object _engine_lookup(object sock):
    engine = sock._sslobj
    _slot_learn(sock, "_sslobj")
    return engine


# a Python class: its methods are cyfunctions, which show a "clinic"
# signature line in __doc__ as text; keep the plain one there
@cython.embedsignature.format("c")
class SSLSocket(_StdlibSSLSocket):
    """A TLS connection over a stream socket: ``ssl.SSLSocket``, made by
    ``SSLContext.wrap_socket``.

    stdlib-compatible methods (``recv``, ``recv_into``, ``read``, ``send``,
    ``write``, ``sendall``, ``do_handshake``, ``unwrap``) raise
    ``ssl.SSLWantReadError`` / ``ssl.SSLWantWriteError`` on a non-blocking
    socket; with a timeout or blocking they wait (``poll`` without the GIL) up
    to the timeout and raise ``socket.timeout``.  The fast path
    (``try_do_handshake``, ``try_recv_into``, ``try_send``, ``try_unwrap``,
    ``wanted_events``) returns ``WANT_READ`` / ``WANT_WRITE`` instead.

    Without a TLS layer (not connected yet, after ``unwrap()`` or
    ``close()``) ``recv``, ``recv_into``, ``send`` and ``sendall`` are the
    plain socket's (cleartext, as in the stdlib) and the TLS-only methods
    raise ``ValueError``.

    Public attributes: ``server_side`` (bool); ``server_hostname`` (``str``
    in IDNA A-label form, e.g. ``"xn--bcher-kva.example"``, or None on the
    server side); ``do_handshake_on_connect`` and ``suppress_ragged_eofs``
    (bool flags, as passed to ``wrap_socket``).
    """

    # slots: the hot path reads ``_sslobj`` on every call (a slot is one
    # indexed load, a dict entry a hash lookup) and idle connections are
    # smaller; ``__dict__`` stays for users' own attributes
    __slots__ = ("_sslobj", "_context", "_session", "_connected", "server_side",
                 "server_hostname", "do_handshake_on_connect", "suppress_ragged_eofs")

    def __init__(self, *args, **kwargs):
        raise TypeError(
            f"{self.__class__.__name__} does not have a public constructor. "
            "Instances are returned by SSLContext.wrap_socket().")

    @classmethod
    def _create(cls, sock, server_side=False, do_handshake_on_connect=True,
                suppress_ragged_eofs=True, server_hostname=None, context=None,
                session=None):
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) != socket.SOCK_STREAM:
            raise NotImplementedError("only stream sockets are supported")
        _check_wrap_args(_core_of(context)._check_hostname, server_side, server_hostname,
                         session)
        if isinstance(sock, _c_socket.socket):
            # the plain ints: socket.socket's family / type properties build
            # an enum member each (a tenth of wrap_socket's own work)
            kwargs = dict(family=_SOCKET_FAMILY.__get__(sock), type=_SOCKET_TYPE.__get__(sock),
                          proto=sock.proto, fileno=sock.fileno())
        else:
            kwargs = dict(family=sock.family, type=sock.type, proto=sock.proto,
                          fileno=sock.fileno())
        self = cls.__new__(cls, **kwargs)
        _socket_socket.__init__(self, **kwargs)
        sock_timeout = sock.gettimeout()
        sock.detach()
        # from here the new socket owns the descriptor: close it on any
        # failure (a bad server_hostname, a failed handshake...), as 3.13
        try:
            self._context = context
            self._session = session
            self._closed = False
            self._sslobj = None
            self.server_side = bool(server_side)
            self.server_hostname = context._encode_hostname(server_hostname)
            self.do_handshake_on_connect = do_handshake_on_connect
            self.suppress_ragged_eofs = suppress_ragged_eofs
            _socket_socket.settimeout(self, sock_timeout)
            try:
                self.getpeername()
            except OSError as e:
                if e.errno != errno_ENOTCONN:
                    raise
                connected = False
                _refuse_pre_handshake_data(self, e.errno)
            else:
                connected = True
            self._connected = connected
            if connected:
                self._sslobj = _SSLConnection.create(
                    context, self, self.server_side, self.server_hostname,
                    session, suppress_ragged_eofs)
                if do_handshake_on_connect:
                    if sock_timeout == 0.0:
                        raise ValueError("do_handshake_on_connect should not be specified "
                                         "for non-blocking sockets")
                    self.do_handshake()
        except BaseException:
            self.close()
            raise
        return self

    # -- attributes ------------------------------------------------------

    @property
    def context(self):
        """The ``SSLContext``; assigning another switches the connection to
        it (``SSL_set_SSL_CTX``, e.g. from an ``sni_callback``).  Assigning
        anything but a tlsfast ``SSLContext`` raises ``TypeError``, also
        before the socket is connected (the stdlib fails there with
        ``AttributeError``)."""
        return self._context

    @context.setter
    def context(self, ctx):
        _core_of(ctx)
        if self._sslobj is not None:
            self._sslobj.context = ctx
        self._context = ctx

    @property
    def session(self):
        """The ``SSLSession`` of this connection (``SSL_get1_session``), or
        None without a TLS layer.  Assign one on a client before the
        handshake to resume it (``SSL_set_session``).  Assigning raises
        ``TypeError`` for a non-``SSLSession``, ``ValueError`` on a server
        side, after the handshake or for a session of another context --
        also before the socket is connected (where the stdlib only stores
        the value and its ``connect`` raises); None clears it there."""
        if self._sslobj is not None:
            return self._sslobj.session
        return None

    @session.setter
    def session(self, session):
        if self._sslobj is None and session is not None:
            _check_session(session, self.server_side, _core_of(self._context))
        self._session = session
        if self._sslobj is not None:
            self._sslobj.session = session

    @property
    def session_reused(self):
        """True if the handshake resumed a session (``SSL_session_reused``)."""
        if self._sslobj is not None:
            return self._sslobj.session_reused
        return None

    @property
    def wanted_events(self):
        """``selectors`` event mask the last fast-path call waits for
        (``EVENT_READ``, ``EVENT_WRITE``, or 0)."""
        if self._sslobj is not None:
            return self._sslobj.wanted_events
        return 0

    def dup(self):
        """Raises ``NotImplementedError``, as the stdlib: a TLS connection
        cannot be shared by two socket objects."""
        raise NotImplementedError(f"Can't dup() {self.__class__.__name__} instances")

    def _checkClosed(self, msg=None):
        pass

    def _check_connected(self):
        if not self._connected:
            # raises OSError(ENOTCONN) like the stdlib
            self.getpeername()

    # -- timeouts: the engine follows the socket ----------------------------

    def settimeout(self, value):
        """Like ``socket.settimeout`` (seconds, 0.0 or None); the descriptor
        stays non-blocking underneath while TLS is active."""
        _socket_socket.settimeout(self, value)
        if self._sslobj is not None:
            (<_SSLConnection>self._sslobj).set_timeout(_socket_socket.gettimeout(self))

    def setblocking(self, flag):
        """Like ``socket.setblocking``."""
        self.settimeout(None if flag else 0.0)

    # -- handshake -------------------------------------------------------

    def do_handshake(self, block=False):
        """Perform the TLS handshake (``SSL_do_handshake``).

        Blocking / timeout sockets: returns when done or raises
        ``socket.timeout``; non-blocking: raises ``SSLWantReadError`` /
        ``SSLWantWriteError`` until done (``block=True`` waits anyway).
        Raises ``ssl.SSLCertVerificationError`` when verification fails and
        ``ssl.SSLError`` for other protocol failures; ``OSError``
        (``ENOTCONN``) when not connected."""
        self._check_connected()
        if self._sslobj is None:
            if self.fileno() == -1:
                raise OSError(errno_EBADF, os.strerror(errno_EBADF))
            raise ValueError(f"No SSL wrapper around {self}")
        timeout = self.gettimeout()
        try:
            if timeout == 0.0 and block:
                self.settimeout(None)
            self._sslobj.do_handshake()
        finally:
            # as the stdlib: re-applies the mode (and fails on a dead descriptor)
            self.settimeout(timeout)

    def try_do_handshake(self):
        """Fast path of ``do_handshake`` (``SSL_do_handshake``); returns an
        ``int``: 0 when done (and on later calls), else ``WANT_READ`` /
        ``WANT_WRITE``: call again when the socket is readable / writable
        (``wanted_events``).  On a blocking socket or one with a timeout it
        blocks like ``do_handshake`` (``socket.timeout``).  Raises
        ``ssl.SSLCertVerificationError`` when the peer's certificate is
        rejected, ``ssl.SSLError`` (``SSLEOFError`` when the peer closes
        mid-handshake) for other TLS failures, ``OSError`` (e.g.
        ``ConnectionResetError``) for transport ones, ``ValueError`` without
        a TLS connection (not connected, closed, unwrapped)."""
        sslobj = self._sslobj
        if sslobj is None:
            raise ValueError("no TLS connection: socket not connected, closed or unwrapped")
        return (<_SSLConnection>sslobj)._io(OP_HANDSHAKE, NULL, 0, False)

    # -- connect / accept ----------------------------------------------------

    def _real_connect(self, addr, connect_ex):
        if self.server_side:
            raise ValueError("can't connect in server-side mode")
        if self._connected or self._sslobj is not None:
            raise ValueError("attempt to connect already-connected SSLSocket!")
        if connect_ex:
            rc = _socket_socket.connect_ex(self, addr)
        else:
            rc = None
            _socket_socket.connect(self, addr)
        if rc in (None, 0, errno_EINPROGRESS, errno_EWOULDBLOCK):
            self._sslobj = _SSLConnection.create(
                self._context, self, False, self.server_hostname, self._session,
                self.suppress_ragged_eofs)
        if not rc:
            self._connected = True
            if self.do_handshake_on_connect:
                self.do_handshake()
        return rc

    def connect(self, addr):
        """Connect to ``addr`` (``socket.connect``) then, if
        ``do_handshake_on_connect``, perform the handshake, raising its
        exceptions (``ssl.SSLCertVerificationError``, ``ssl.SSLError``,
        ``socket.timeout``...).  Raises ``ValueError`` on a server-side
        socket or one already connected, ``OSError`` when the TCP connect
        fails."""
        self._real_connect(addr, False)

    def connect_ex(self, addr):
        """Like ``connect`` but returns the TCP connect's errno (0,
        ``EINPROGRESS`` on a non-blocking socket, ``ECONNREFUSED``...)
        instead of raising it; the ``ValueError`` and the handshake's
        exceptions still raise."""
        return self._real_connect(addr, True)

    def accept(self):
        """Accept a connection on this listening socket (``socket.accept``):
        returns ``(SSLSocket, address)``, the new socket server-side with
        this socket's context, ``do_handshake_on_connect`` and
        ``suppress_ragged_eofs``.  With ``do_handshake_on_connect`` its
        handshake runs before returning, in the accepting thread; its
        exceptions (``ssl.SSLError``...) propagate and the new socket is
        closed."""
        newsock, addr = _socket_socket.accept(self)
        newsock = self._context.wrap_socket(
            newsock, do_handshake_on_connect=self.do_handshake_on_connect,
            suppress_ragged_eofs=self.suppress_ragged_eofs, server_side=True)
        return newsock, addr

    # -- reading -------------------------------------------------------------

    def read(self, len=1024, buffer=None):
        """Read up to ``len`` bytes: returns ``bytes``, or with ``buffer``
        (writable bytes-like) the count decrypted into it (``SSL_read_ex``).
        Takes every record already received while there is room (see
        ``recv_into``).  0 / b'' at end of stream.  Raises ``ValueError`` on a closed or
        unwrapped socket or ``len`` < 0, ``TypeError`` for a read-only buffer,
        ``SSLWantReadError``/``SSLWantWriteError`` (non-blocking),
        ``socket.timeout``, ``SSLEOFError`` for a ragged EOF unless
        ``suppress_ragged_eofs``."""
        sslobj = _engine_of(self)
        if sslobj is None:
            raise ValueError("Read on closed or unwrapped SSL socket.")
        if buffer is not None:
            return (<_SSLConnection>sslobj).read_into(buffer, len, OP_READ, True, True)
        return (<_SSLConnection>sslobj).read_bytes(len, OP_READ)

    def recv(self, buflen=1024, flags=0):
        """Receive up to ``buflen`` decrypted bytes (``bytes``; b'' at EOF),
        taking every record already received (see ``recv_into``).
        ``flags`` may be 0 or ``socket.MSG_PEEK`` (leave the data in place,
        ``SSL_peek_ex``; tlsfast addition); others raise ``ValueError``.
        Without a TLS layer it is ``socket.recv``.  See ``read`` for the
        rest."""
        sslobj = _engine_of(self)
        if sslobj is None:
            return _socket_socket.recv(self, buflen, flags)
        if flags == 0:
            return (<_SSLConnection>sslobj).read_bytes(buflen, OP_READ)
        if flags == _MSG_PEEK:
            return (<_SSLConnection>sslobj).read_bytes(buflen, OP_PEEK)
        raise ValueError(f"non-zero flags not allowed in calls to recv() on {self.__class__}")

    def recv_into(self, buffer, nbytes=None, flags=0):
        """Decrypt up to ``nbytes`` (None / 0 / negative: ``len(buffer)``, as
        the stdlib) straight into ``buffer`` (writable bytes-like; no
        intermediate copy) and return the count (0 at EOF).

        Like a plain socket's ``recv_into`` and unlike the stdlib's (one
        TLS record a call), one call decrypts every record already
        received while the buffer has room: it waits (blocking / timeout
        socket) only for the first, never for a second, and never raises
        ``SSLWantReadError`` once it has bytes (a failure met after them
        is raised by the next call).  One ``recv(2)`` can bring many
        records: tlsfast peeks at the socket and removes from the kernel
        only the bytes OpenSSL consumed, so records not decrypted yet stay
        where ``select()`` sees them and ``unwrap()`` leaves the cleartext
        that follows the peer's close_notify on the socket (OpenSSL's
        read-ahead, ``SSL_set_read_ahead``, is not used; with
        ``OP_ENABLE_KTLS``, whose kernel TLS needs OpenSSL's own socket
        BIO, there is no peeking and each record costs its own reads).  ``flags`` may be
        0 or ``socket.MSG_PEEK`` (tlsfast addition: ``SSL_peek_ex``).  Raises
        ``TypeError`` for a read-only buffer, ``ValueError`` for ``nbytes`` >
        ``len(buffer)`` (the stdlib silently reads less) or other ``flags``;
        see ``read`` for the rest."""
        cdef int op = OP_READ
        cdef Py_ssize_t n = 0  # as the stdlib: None, 0 or negative mean the whole buffer
        sslobj = _engine_of(self)
        if sslobj is None:
            if nbytes is None:
                nbytes = 0
            return _socket_socket.recv_into(self, buffer, nbytes, flags)
        if flags != 0:
            if flags != _MSG_PEEK:
                raise ValueError(f"non-zero flags not allowed in calls to recv_into() on {self.__class__}")
            op = OP_PEEK
        if nbytes is not None:
            n = nbytes
        return (<_SSLConnection>sslobj).read_into(buffer, n, op, True)

    def try_recv_into(self, buffer, nbytes=0):
        """Fast path of ``recv_into`` (``SSL_read_ex``): decrypt up to
        ``nbytes`` bytes into ``buffer`` (writable bytes-like; ``nbytes`` <=
        0 means ``len(buffer)``, more is a ``ValueError``); returns an
        ``int``: the count (> 0), 0 at end of stream (the peer's
        close_notify, even after our own, or a ragged EOF with
        ``suppress_ragged_eofs``) or for an empty buffer, else ``WANT_READ``
        / ``WANT_WRITE`` instead of raising.  One call takes every record
        already received while ``buffer`` has room (see ``recv_into``;
        never ``WANT_*`` once it has bytes): a count below ``nbytes``
        means everything received was drained and it is safe to wait in
        ``select()``; after a full buffer, call again (or check
        ``pending()``) first.  Blocks like ``recv_into`` on a
        blocking / timeout socket (``socket.timeout``).  Raises
        ``ssl.SSLEOFError`` on a ragged EOF unless ``suppress_ragged_eofs``,
        ``ssl.SSLError`` / ``OSError`` for other failures, ``TypeError``
        for a read-only buffer, ``ValueError`` without a TLS connection."""
        sslobj = _engine_of(self)
        if sslobj is None:
            raise ValueError("no TLS connection: socket not connected, closed or unwrapped")
        return (<_SSLConnection>sslobj).read_into(buffer, nbytes, OP_READ, False)

    def recvfrom(self, buflen=1024, flags=0):
        """``socket.recvfrom`` without a TLS layer; raises ``ValueError``
        while TLS is active (as the stdlib)."""
        if self._sslobj is not None:
            raise ValueError(f"recvfrom not allowed on instances of {self.__class__}")
        return _socket_socket.recvfrom(self, buflen, flags)

    def recvfrom_into(self, buffer, nbytes=None, flags=0):
        """``socket.recvfrom_into`` without a TLS layer; raises
        ``ValueError`` while TLS is active (as the stdlib)."""
        if self._sslobj is not None:
            raise ValueError(f"recvfrom_into not allowed on instances of {self.__class__}")
        return _socket_socket.recvfrom_into(self, buffer, nbytes or 0, flags)

    def recvmsg(self, *args, **kwargs):
        """Raises ``NotImplementedError`` (as the stdlib)."""
        raise NotImplementedError(f"recvmsg not allowed on instances of {self.__class__}")

    def recvmsg_into(self, *args, **kwargs):
        """Raises ``NotImplementedError`` (as the stdlib)."""
        raise NotImplementedError(f"recvmsg_into not allowed on instances of {self.__class__}")

    def pending(self):
        """Decrypted bytes already buffered in OpenSSL (``SSL_pending``):
        read them before waiting on a selector.  Records received but not
        decrypted are not counted: they stay in the kernel's socket buffer
        (tlsfast uses no OpenSSL read-ahead), where ``select()`` sees
        them."""
        sslobj = _engine_of(self)
        if sslobj is None:
            return 0
        return SSL_pending((<_SSLConnection>sslobj).ssl)

    def _set_read_ahead(self, flag):
        """Let OpenSSL read ahead (``SSL_set_read_ahead``, ``flag``: bool):
        one ``recv`` then takes a record whole (header and body) and any
        that follow it, instead of two ``recv`` calls per record; what it
        took beyond the record returned stays inside OpenSSL, where no
        selector sees it, so a reader checks ``_has_pending()`` before
        waiting.  For tlsfast's asyncio transport, which owns the socket
        (``unwrap()`` would leave the read-ahead bytes in OpenSSL); returns
        True (the pure-Python implementation returns False: the stdlib has
        no such switch).  Raises ``ValueError`` without a TLS connection."""
        sslobj = _engine_of(self)
        if sslobj is None:
            raise ValueError("no TLS connection: socket not connected, closed or unwrapped")
        SSL_set_read_ahead((<_SSLConnection>sslobj).ssl, 1 if flag else 0)
        return True

    def _transport_reader(self, transport):
        """The readable-event callback for tlsfast.asyncio's ``transport``
        on this socket: the common case (one record for the protocol) in C,
        the rest through the transport's Python methods.  The pure-Python
        implementation returns None (the transport then reads in Python)."""
        return _TransportReader(transport, self)

    def _transport_write_function(self):
        """The compiled ``write`` for tlsfast.asyncio's transport on this
        socket (the common case in C; see ``_transport_write``); the
        pure-Python implementation returns None."""
        return _transport_write

    def _has_pending(self):
        """True when OpenSSL holds received bytes not yet returned:
        decrypted ones, or records (whole or partial) read ahead
        (``SSL_has_pending``); False without a TLS connection."""
        sslobj = _engine_of(self)
        if sslobj is None:
            return False
        return SSL_has_pending((<_SSLConnection>sslobj).ssl) == 1

    # -- writing -------------------------------------------------------------

    def write(self, data):
        """Encrypt and send ``data`` (bytes-like) straight from its buffer
        (``SSL_write_ex``); returns the count taken: all of it on blocking
        sockets, possibly fewer on non-blocking ones.  Raises ``ValueError``
        on a closed/unwrapped socket, ``TypeError`` for a non bytes-like
        object, ``SSLWantWriteError``/``SSLWantReadError`` (non-blocking, retry
        with the same data), ``socket.timeout``, ``OSError`` (e.g.
        ``BrokenPipeError``)."""
        sslobj = _engine_of(self)
        if sslobj is None:
            raise ValueError("Write on closed or unwrapped SSL socket.")
        return (<_SSLConnection>sslobj).write_from(data, True)

    def send(self, data, flags=0):
        """Encrypt and send ``data`` as ``write`` does and return the count
        of plaintext bytes taken; raises as ``write``, plus ``ValueError``
        for non-zero ``flags``.  Without a TLS layer (not connected yet,
        unwrapped) it is ``socket.send``: cleartext, as in the stdlib."""
        sslobj = _engine_of(self)
        if sslobj is None:
            return _socket_socket.send(self, data, flags)
        if flags != 0:
            raise ValueError(f"non-zero flags not allowed in calls to send() on {self.__class__}")
        return (<_SSLConnection>sslobj).write_from(data, True)

    def try_send(self, data):
        """Fast path of ``send`` (``SSL_write_ex``): encrypt ``data`` (any
        C-contiguous bytes-like object); returns an ``int``: plaintext bytes
        taken (> 0, maybe fewer than ``len(data)`` on a non-blocking socket:
        partial writes are on; 0 only for empty data) or ``WANT_WRITE`` /
        ``WANT_READ`` instead of raising; after a ``WANT_*`` call again with
        the same data.  Blocks like ``send`` on a blocking / timeout socket.
        Raises ``ssl.SSLError`` (e.g. after the TLS shutdown started),
        ``OSError`` (``BrokenPipeError``...), ``socket.timeout``,
        ``TypeError`` for a non bytes-like object, ``ValueError`` without a
        TLS connection (``send`` would send cleartext)."""
        sslobj = _engine_of(self)
        if sslobj is None:
            raise ValueError("no TLS connection: socket not connected, closed or unwrapped")
        return (<_SSLConnection>sslobj).write_from(data, False)

    def sendall(self, data, flags=0):
        """Send all of ``data`` (bytes-like) through ``write``; returns None.
        With a timeout, it bounds the whole call: ``socket.timeout`` even
        while data moves.  On a non-blocking socket it raises
        ``SSLWantWriteError`` when the kernel buffer fills, as the stdlib
        does.  In both cases the count sent is unknown (use ``try_send``).
        Raises as ``write`` otherwise, ``ValueError`` for non-zero
        ``flags``.  Without a TLS layer it is ``socket.sendall``
        (cleartext)."""
        sslobj = self._sslobj
        if sslobj is None:
            return _socket_socket.sendall(self, data, flags)
        if flags != 0:
            raise ValueError(f"non-zero flags not allowed in calls to sendall() on {self.__class__}")
        with memoryview(data) as view, view.cast("B") as byte_view:
            amount = len(byte_view)
            count = 0
            while count < amount:
                count += (<_SSLConnection>sslobj).write_from(byte_view[count:], True)

    def sendto(self, data, flags_or_addr, addr=None):
        """``socket.sendto`` without a TLS layer; raises ``ValueError``
        while TLS is active (as the stdlib)."""
        if self._sslobj is not None:
            raise ValueError(f"sendto not allowed on instances of {self.__class__}")
        if addr is None:
            return _socket_socket.sendto(self, data, flags_or_addr)
        return _socket_socket.sendto(self, data, flags_or_addr, addr)

    def sendmsg(self, buffers, ancdata=(), flags=0, address=None):
        """Encrypt and send the bytes-like objects of ``buffers`` (an
        iterable), in order, in as few TLS records as fit (16 KiB of
        plaintext each; see ``try_sendv``); returns the plaintext bytes
        taken (``int``): all of them on a blocking socket or one with a
        timeout (one deadline for the whole call), possibly fewer on a
        non-blocking one (send the rest next).  The stdlib's
        ``SSLSocket.sendmsg`` raises ``NotImplementedError``; this is
        ``socket.sendmsg`` for data only.

        Raises ``NotImplementedError`` for non-empty ``ancdata`` (control
        messages cannot travel through TLS), ``ValueError`` for non-zero
        ``flags`` (as ``send``) or an ``address`` (as ``sendto``),
        ``TypeError`` when ``buffers`` is not an iterable of bytes-like
        objects, and as ``send`` otherwise: ``SSLWantWriteError`` /
        ``SSLWantReadError`` when a non-blocking socket takes nothing (call
        again with the same buffers), ``socket.timeout``, ``ssl.SSLError``,
        ``OSError``.  Without a TLS layer (not connected yet, unwrapped,
        closed) it is ``socket.sendmsg``: cleartext, as ``send``."""
        sslobj = self._sslobj
        if sslobj is None:
            return _socket_socket.sendmsg(self, buffers, ancdata, flags, address)
        _check_sendmsg_args(self, ancdata, flags, address)
        return (<_SSLConnection>sslobj).write_vector(buffers, True)

    def try_sendv(self, buffers):
        """Fast path of ``sendmsg(buffers)`` (``SSL_write_ex``, one call per
        16 KiB record): encrypt the bytes-like objects of ``buffers`` (an
        iterable), in order, as one stream in as few TLS records as fit:
        small buffers are joined into one record, large ones encrypted
        straight from their memory.  Returns an ``int``: the plaintext bytes
        taken, counted across the buffers (> 0; on a non-blocking socket
        maybe fewer than all: send the rest, the bytes from that count on,
        however cut; 0 only when there are none) or ``WANT_WRITE`` /
        ``WANT_READ`` when none were taken (then call again with the same
        buffers).  Blocks like ``sendmsg`` on a blocking / timeout socket.
        Raises ``ssl.SSLError``, ``OSError`` (``BrokenPipeError``...),
        ``socket.timeout``, ``TypeError`` when ``buffers`` is not an
        iterable of bytes-like objects (a single ``bytes`` included),
        ``ValueError`` without a TLS connection."""
        sslobj = _engine_of(self)
        if sslobj is None:
            raise ValueError("no TLS connection: socket not connected, closed or unwrapped")
        return (<_SSLConnection>sslobj).write_vector(buffers, False)

    def sendfile(self, file, offset=0, count=None):
        """Send a file through TLS (via ``send``, as the stdlib does)."""
        if self._sslobj is not None:
            return self._sendfile_use_send(file, offset, count)
        return _socket_socket.sendfile(self, file, offset, count)

    # -- shutdown --------------------------------------------------------------

    def unwrap(self):
        """Send close_notify, wait for the peer's (``SSL_shutdown``) and return
        this socket as a plain one carrying cleartext.  Non-blocking: raises
        ``SSLWantReadError``/``SSLWantWriteError`` until done; with a
        timeout ``socket.timeout``.  Raises ``ssl.SSLEOFError`` or
        ``OSError`` (e.g. ``ConnectionResetError``) when the peer left
        without close_notify, ``ssl.SSLError`` before the handshake
        completed, ``ValueError`` when there is no TLS layer."""
        sslobj = self._sslobj
        if sslobj is None:
            raise ValueError(f"No SSL wrapper around {self}")
        s = sslobj.shutdown()
        self._sslobj = None
        self._restore_blocking()
        return s

    def try_unwrap(self):
        """Fast path of ``unwrap`` (``SSL_shutdown``): sends close_notify
        (once); returns 0 when both alerts are exchanged (the socket is then
        plain, as after ``unwrap()``), else ``WANT_READ`` / ``WANT_WRITE``.
        Blocks like ``unwrap`` on a blocking / timeout socket.  Raises
        ``ssl.SSLEOFError`` or ``OSError`` when the peer left without
        close_notify, ``ssl.SSLError`` before the handshake completed or
        after a fatal error (``SHUTDOWN_WHILE_IN_INIT``), ``ValueError``
        when there is no TLS layer."""
        sslobj = self._sslobj
        if sslobj is None:
            raise ValueError(f"No SSL wrapper around {self}")
        rc = (<_SSLConnection>sslobj)._io(OP_SHUTDOWN, NULL, 0, False)
        if rc == 0:
            self._sslobj = None
            self._restore_blocking()
        return rc

    def _restore_blocking(self):
        # the engine forced O_NONBLOCK; give the plain socket its own mode back
        if self.fileno() != -1:
            _socket_socket.settimeout(self, _socket_socket.gettimeout(self))

    def shutdown(self, how):
        """``socket.shutdown`` after dropping the TLS layer (no close_notify),
        as the stdlib: the socket is a plain one afterwards, in its own
        blocking mode again."""
        if self._sslobj is not None:
            self._sslobj = None
            self._restore_blocking()
        _socket_socket.shutdown(self, how)

    def _real_close(self):
        self._sslobj = None
        _socket_socket._real_close(self)

    # -- inspection ----------------------------------------------------------

    def getpeercert(self, binary_form=False):
        """The peer's certificate: the stdlib's dict (``{}`` when not
        verified), DER ``bytes`` with ``binary_form=True``, or None when the
        peer sent none.  Raises ``ValueError`` before the handshake,
        ``OSError`` (ENOTCONN) when not connected, and ``AttributeError``
        after ``unwrap()`` or ``close()`` (as the stdlib)."""
        self._check_connected()
        return self._sslobj.getpeercert(binary_form)

    def selected_npn_protocol(self):
        """Always None: NPN is not supported (deprecated in the stdlib)."""
        return None

    def selected_alpn_protocol(self):
        """The ALPN protocol agreed on (``str``) or None."""
        if self._sslobj is None:
            return None
        return self._sslobj.selected_alpn_protocol()

    def cipher(self):
        """``(name, protocol, secret_bits)`` of the cipher in use, or None."""
        if self._sslobj is None:
            return None
        return self._sslobj.cipher()

    def shared_ciphers(self):
        """Ciphers offered by the client and enabled here (server side), as
        ``cipher()`` tuples; None on the client side or without a connection."""
        if self._sslobj is None:
            return None
        return self._sslobj.shared_ciphers()

    def compression(self):
        """Always None: OpenSSL 3 builds have no TLS compression."""
        return None

    def version(self):
        """Negotiated protocol (``"TLSv1.3"``...) or None before the handshake."""
        if self._sslobj is None:
            return None
        return self._sslobj.version()

    def get_channel_binding(self, cb_type="tls-unique"):
        """RFC 5929 channel binding data (``bytes``) or None; ``ValueError``
        for an unsupported ``cb_type``."""
        if self._sslobj is None:
            if cb_type not in _ssl.CHANNEL_BINDING_TYPES:
                raise ValueError(f"{cb_type} channel binding type not implemented")
            return None
        return self._sslobj.get_channel_binding(cb_type)

    def verify_client_post_handshake(self):
        """Server side, TLS 1.3: request the client's certificate now
        (``SSL_verify_client_post_handshake``); raises ``ssl.SSLError`` when not
        possible and ``ValueError`` without a connection."""
        if self._sslobj is None:
            raise ValueError("No SSL wrapper around " + str(self))
        return self._sslobj.verify_client_post_handshake()

    # -- beyond the stdlib: delegated to the engine (see _connection.pxi) ----

    def _engine(self):
        sslobj = self._sslobj
        if sslobj is None:
            raise ValueError("no TLS connection: socket not connected, closed or unwrapped")
        return sslobj

    def peek(self, len=1024):
        """Up to ``len`` decrypted bytes as ``bytes``, left in place
        (``SSL_peek_ex``; b'' at end of stream); same as ``recv(len,
        socket.MSG_PEEK)``.  Raises like ``read``: ``SSLWantReadError``
        (non-blocking), ``socket.timeout``, ``ssl.SSLEOFError`` on a ragged
        EOF unless ``suppress_ragged_eofs``; ``ValueError`` for ``len`` < 0
        or without a TLS connection."""
        return self._engine().peek(len)

    def export_keying_material(self, label, length, context=None):
        """RFC 5705 / RFC 8446 7.5 exporter (``SSL_export_keying_material``):
        ``length`` bytes (>= 1) for ``label`` (ASCII ``str`` or bytes-like)
        and ``context`` (bytes-like, or None: no context, unlike ``b""``).
        Raises ``ValueError`` without a TLS connection, before the handshake
        or for ``length`` < 1, ``TypeError`` for other argument types,
        ``ssl.SSLError`` when OpenSSL refuses (see
        ``SSLObject.export_keying_material``)."""
        return self._engine().export_keying_material(label, length, context)

    def get_finished(self):
        """Latest Finished message sent (``bytes``) or None
        (``SSL_get_finished``); ``ValueError`` without a TLS connection."""
        return self._engine().get_finished()

    def get_peer_finished(self):
        """Latest Finished message received (``bytes``) or None
        (``SSL_get_peer_finished``); ``ValueError`` without a TLS
        connection."""
        return self._engine().get_peer_finished()

    def client_random(self):
        """ClientHello random (32 ``bytes``) or None before a session exists
        (``SSL_get_client_random``); ``ValueError`` without a TLS
        connection."""
        return self._engine().client_random()

    def server_random(self):
        """ServerHello random (32 ``bytes``) or None before a session exists
        (``SSL_get_server_random``); ``ValueError`` without a TLS
        connection."""
        return self._engine().server_random()

    def key_update(self, request_peer=False):
        """TLS 1.3 key update (``SSL_key_update``), asking the peer to update
        too with ``request_peer=True``; see ``SSLObject.key_update``.
        Raises ``ValueError`` without a TLS connection or before the
        handshake, ``ssl.SSLError`` on TLS 1.2."""
        return self._engine().key_update(request_peer)

    def renegotiate(self):
        """Start a TLS <= 1.2 renegotiation (``SSL_renegotiate``); later
        reads and writes complete it.  tlsfast servers refuse it by default
        (that read raises ``ssl.SSLError``, reason ``NO_RENEGOTIATION``); see
        ``SSLObject.renegotiate``.  Raises ``ValueError`` without a TLS
        connection or before the handshake, ``ssl.SSLError`` on TLS 1.3."""
        return self._engine().renegotiate()

    def renegotiate_pending(self):
        """True from ``renegotiate()`` until that renegotiation completes
        (``SSL_renegotiate_pending``); ``ValueError`` without a TLS
        connection."""
        return self._engine().renegotiate_pending()

    def get_peer_cert_chain(self, binary_form=False):
        """Certificates the peer sent (``SSL_get_peer_cert_chain``), leaf
        first: a ``list`` of the stdlib's certificate dicts, or of DER
        ``bytes`` with ``binary_form=True``; None before the handshake or
        when the peer sent none.  On the server side OpenSSL leaves the
        client's leaf out (use ``getpeercert``).  ``ValueError`` without a
        TLS connection."""
        return self._engine().get_peer_cert_chain(binary_form)

    def get_verified_chain(self, binary_form=CHAIN_AS_DER):
        """The chain OpenSSL built, leaf to trust anchor
        (``SSL_get0_verified_chain``).  With ``CERT_NONE`` it is built but
        not checked (it may stop short of an anchor).  From Python 3.13, as
        the stdlib's: a ``list`` of DER ``bytes``, ``[]`` when there is none;
        before (a tlsfast extension): the stdlib's certificate dicts, None
        when there is none.  ``binary_form`` (bool) picks either form.
        ``ValueError`` without a TLS connection."""
        return self._engine().get_verified_chain(binary_form)

    def get_unverified_chain(self, binary_form=True):
        """The certificates the peer sent, leaf first (also on the server
        side): Python 3.13's ``get_unverified_chain`` (a tlsfast extension
        before): a ``list`` of DER ``bytes`` (dicts with
        ``binary_form=False``), ``[]`` when there is none.  ``ValueError``
        without a TLS connection."""
        return self._engine().get_unverified_chain(binary_form)

    def want_read(self):
        """True when the last fast-path call waits for incoming data
        (``wanted_events == EVENT_READ``); ``ValueError`` without a TLS
        connection."""
        return self._engine().want_read()

    def want_write(self):
        """True when the last fast-path call waits for the socket to drain
        (``wanted_events == EVENT_WRITE``); ``ValueError`` without a TLS
        connection."""
        return self._engine().want_write()

    def cipher_bits(self):
        """Secret bits of the current cipher (``SSL_CIPHER_get_bits``), or
        None before the handshake; ``ValueError`` without a TLS
        connection."""
        return self._engine().cipher_bits()


_slot_init(SSLSocket.__dict__["_sslobj"])


def _refuse_pre_handshake_data(sock, err):
    """CVE-2023-40217 (``_helpers.pre_handshake_data_error``), on the
    socket's own non-blocking ``recv``; the new socket is then closed by
    ``_create``."""
    timeout = _socket_socket.gettimeout(sock)
    _socket_socket.settimeout(sock, 0.0)
    try:
        exc = _pre_handshake_data_error(partial(_socket_socket.recv, sock), err)
    finally:
        _socket_socket.settimeout(sock, timeout)
    if exc is not None:
        raise exc


