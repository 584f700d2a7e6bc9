"""The asyncio transport of ``tlsfast.asyncio``: TLS on the socket's own
descriptor, driven by the loop's reader / writer callbacks.

asyncio's SSL transport (``asyncio.sslproto``) runs the TLS engine over two
``MemoryBIO``s and a plain socket transport underneath; every record crosses
Python twice.  Here the engine reads and writes the descriptor itself
(tlsfast's socket mode, ``SSL_set_fd`` in the compiled implementation) and
each would-block is a return code (``try_*`` methods, docs/nonblocking.rst),
so one readable event costs one ``SSL_read_ex`` per record and no exception.

The protocol-facing behaviour follows asyncio's SSL transport (CPython 3.11+
``sslproto``): connection_made after the handshake, the same handshake /
shutdown timeouts and errors, eof_received then connection_lost(None) on a
close_notify or a bare EOF, flow control with the same defaults.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import selectors
import socket
import warnings

from ._common import (
    WANT_READ,
    WANT_WRITE,
    CertificateError,
    SSLEOFError,
    SSLError,
    SSLSyscallError,
)

try:  # the wrapper asyncio's own transports give for "socket" (3.8+)
    from asyncio.trsock import TransportSocket as _TransportSocket
except ImportError:  # pragma: no cover - every supported Python has it
    _TransportSocket = None

logger = logging.getLogger("tlsfast.asyncio")

_EVENT_READ = selectors.EVENT_READ
_EVENT_WRITE = selectors.EVENT_WRITE

#: asyncio's defaults (asyncio.constants): seconds
SSL_HANDSHAKE_TIMEOUT = 60.0
SSL_SHUTDOWN_TIMEOUT = 30.0
#: asyncio's SSL transport write-buffer high-water mark (3.11+: 512 KiB);
#: the low-water mark defaults to a quarter of it
FLOW_CONTROL_HIGH_WATER_SSL_WRITE = 512 * 1024
#: after this many writes on a closed transport, each one logs a warning
#: (asyncio.constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES)
LOG_THRESHOLD_FOR_CONNLOST_WRITES = 5

#: the largest TLS record's plaintext: a read that returns less emptied its
#: record, and then only ``_has_pending()`` tells whether OpenSSL holds more
#: (records it read ahead); a full-size one suggests more in the kernel
MAX_RECORD = 16384
#: plaintext buffer for ``Protocol`` (asyncio's SSL transport reads 256 KiB)
READ_BUFFER_SIZE = 256 * 1024
#: bytes decrypted per readable event before giving the loop a turn back
#: (the rest is read in a ``call_soon``, never left to the selector)
READ_BUDGET = 256 * 1024
#: small buffers queued behind a blocked write are joined up to this size,
#: so they leave in as few records as fit
COALESCE_LIMIT = 64 * 1024

# connection states (the compiled implementation's reader and write()
# in _transport_reader.pxi compare _state with "WRAPPED", and read
# _backlog, _closing, _reading_paused, _read_wants, _buffered, _protocol)
_HANDSHAKE = "HANDSHAKE"
_WRAPPED = "WRAPPED"
_SHUTDOWN = "SHUTDOWN"
_CLOSED = "CLOSED"


def flow_control_limits(high=None, low=None, default_high=FLOW_CONTROL_HIGH_WATER_SSL_WRITE):
    """(high, low) from optional ``high`` / ``low`` (bytes), as asyncio's
    ``add_flowcontrol_defaults``: ``low`` defaults to ``high // 4``, ``high``
    to ``4 * low`` or ``default_high``.  Raises ``ValueError`` unless
    ``high >= low >= 0``."""
    if high is None:
        high = default_high if low is None else 4 * low
    if low is None:
        low = high // 4
    if not high >= low >= 0:
        raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
    return high, low


class TLSTransport(asyncio.Transport):
    """An ``asyncio.Transport`` speaking TLS on a connected non-blocking
    socket it owns.

    Created by ``tlsfast.asyncio``'s entry points (not directly): ``sslsock``
    is a tlsfast ``SSLSocket`` from ``wrap_socket(...,
    do_handshake_on_connect=False)`` on a non-blocking socket; ``waiter`` a
    future completed when the handshake ends (result None, or its
    exception).  The protocol's ``connection_made`` is called once the
    handshake succeeded, never if it failed, and not at all with
    ``call_connection_made=False`` (``start_tls``: the protocol already
    had it from the plain transport, as in asyncio).
    """

    # asyncio's loop.start_tls() accepts this transport (TLS inside TLS
    # through asyncio's sslproto), as it accepts its own SSL transport
    _start_tls_compatible = True

    def __init__(self, loop, sslsock, protocol, sslcontext, *, waiter=None,
                 server_side=False, ssl_handshake_timeout=None,
                 ssl_shutdown_timeout=None, call_connection_made=True):
        super().__init__()
        self._loop = loop
        self._sslsock = sslsock
        self._fd = sslsock.fileno()
        self._side = "server" if server_side else "client"
        self._call_connection_made = call_connection_made
        self._waiter = waiter
        self._handshake_timeout = (SSL_HANDSHAKE_TIMEOUT if ssl_handshake_timeout is None
                                   else ssl_handshake_timeout)
        self._shutdown_timeout = (SSL_SHUTDOWN_TIMEOUT if ssl_shutdown_timeout is None
                                  else ssl_shutdown_timeout)
        self._extra = {
            "sslcontext": sslcontext,
            "socket": _TransportSocket(sslsock) if _TransportSocket else sslsock,
        }
        try:
            self._extra["sockname"] = sslsock.getsockname()
        except OSError:
            self._extra["sockname"] = None
        try:
            self._extra["peername"] = sslsock.getpeername()
        except OSError:
            self._extra["peername"] = None

        self._state = _HANDSHAKE
        self._closing = False          # close() / abort() called, or connection lost
        self._protocol_connected = False
        self._conn_lost = 0            # writes after the connection went away
        self._connection_lost_called = False
        self._eof = False              # the peer ended its stream

        # what each pending operation waits for (a selectors mask, 0 = nothing)
        self._op_wants = 0             # handshake / shutdown
        self._read_wants = _EVENT_READ
        self._write_wants = 0
        self._reading_paused = False
        self._read_scheduled = False
        self._reader_on = False
        self._writer_on = False

        self._backlog = collections.deque()
        self._backlog_size = 0
        self._high_water, self._low_water = flow_control_limits()
        self._protocol_paused = False

        self._read_buffer = None
        self._read_view = None
        # OpenSSL reads ahead (compiled implementation): one recv per record
        # instead of two (header, then body); the bytes it takes beyond a
        # record stay inside OpenSSL, which every read loop below checks
        # with _has_pending() before going back to the selector
        sslsock._set_read_ahead(True)
        self._has_pending = sslsock._has_pending
        self._handshake_timer = None
        self._shutdown_timer = None
        self._set_protocol(protocol)
        self._start_handshake()

    def __repr__(self):
        info = [self.__class__.__name__, self._side, f"fd={self._fd}", self._state.lower()]
        if self._closing:
            info.append("closing")
        if self._backlog_size:
            info.append(f"bufsize={self._backlog_size}")
        return "<{}>".format(" ".join(info))

    # ------------------------------------------------------------------
    # asyncio.BaseTransport
    # ------------------------------------------------------------------

    def get_extra_info(self, name, default=None):
        """The keys of asyncio's SSL transport: ``sslcontext``,
        ``ssl_object`` (the tlsfast ``SSLSocket``: it answers what
        ``ssl.SSLObject`` does), ``peercert``, ``cipher``, ``compression``
        (after the handshake), ``socket``, ``peername``, ``sockname``;
        ``default`` for any other."""
        return self._extra.get(name, default)

    def set_protocol(self, protocol):
        """Switch to ``protocol`` (an ``asyncio.Protocol`` or
        ``asyncio.BufferedProtocol``) for the data still to come."""
        self._set_protocol(protocol)
        self._protocol_connected = self._state != _HANDSHAKE

    def _set_protocol(self, protocol):
        self._protocol = protocol
        self._buffered = isinstance(protocol, asyncio.BufferedProtocol)

    def get_protocol(self):
        return self._protocol

    def is_closing(self):
        return self._closing

    def close(self):
        """Stop reading, send what the write buffer holds, then close_notify
        (answering the peer's within ``ssl_shutdown_timeout``), then close the
        socket; ``connection_lost(None)`` follows (``TimeoutError`` when the
        shutdown timed out).  asyncio's SSL transport's ``close()``."""
        if self._closing:
            return
        self._closing = True
        if self._state == _HANDSHAKE:
            self._force_close(None)
            return
        self._reading_paused = True
        self._shutdown_timer = self._loop.call_later(
            self._shutdown_timeout, self._check_shutdown_timeout)
        if not self._backlog:
            self._start_shutdown()
        else:
            self._sync_registration()

    def abort(self):
        """Close at once: drop the write buffer, no close_notify;
        ``connection_lost(None)`` follows."""
        self._force_close(None)

    def __del__(self, _warn=warnings.warn):
        sslsock = getattr(self, "_sslsock", None)
        if sslsock is not None and sslsock.fileno() != -1:
            _warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            sslsock.close()

    # ------------------------------------------------------------------
    # reading side
    # ------------------------------------------------------------------

    def is_reading(self):
        return not self._reading_paused and not self._closing

    def pause_reading(self):
        """Deliver no more data until ``resume_reading()``."""
        if self._closing or self._reading_paused:
            return
        self._reading_paused = True
        self._sync_registration()

    def resume_reading(self):
        """Deliver data again, starting with what OpenSSL already holds."""
        if self._closing or not self._reading_paused:
            return
        self._reading_paused = False
        if self._state == _WRAPPED:
            self._sync_registration()
            # plaintext may sit inside OpenSSL, where no selector sees it
            self._schedule_read()

    # ------------------------------------------------------------------
    # writing side
    # ------------------------------------------------------------------

    def set_write_buffer_limits(self, high=None, low=None):
        """Pause the protocol's writing above ``high`` bytes of buffered
        plaintext, resume it at ``low`` or below (defaults: 512 KiB and a
        quarter of ``high``, asyncio's SSL transport's).  Raises
        ``ValueError`` unless ``high >= low >= 0``."""
        self._high_water, self._low_water = flow_control_limits(high, low)
        self._maybe_pause_protocol()

    def get_write_buffer_limits(self):
        """(low, high) in bytes, as asyncio."""
        return self._low_water, self._high_water

    def get_write_buffer_size(self):
        """Plaintext bytes accepted by ``write()`` and not yet taken by
        the TLS engine."""
        return self._backlog_size

    def can_write_eof(self):
        """False: TLS has no half-close (asyncio's SSL transport's answer)."""
        return False

    def write_eof(self):
        """Raises ``NotImplementedError``, as asyncio's SSL transport."""
        raise NotImplementedError("tlsfast's TLS transport does not support write_eof()")

    def write(self, data):
        """Encrypt and send ``data`` (bytes, bytearray or memoryview): now
        as far as the socket takes it, the rest from the write buffer.
        Raises ``TypeError`` for other types; after ``close()`` or a lost
        connection the data is dropped (with a warning after a few), as in
        asyncio."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data: expecting a bytes-like instance, got {type(data).__name__}")
        if self._closing or self._state != _WRAPPED:
            self._dropped_write()
            return
        if not data:
            return
        if self._backlog:
            self._queue(data)
            self._maybe_pause_protocol()
            return
        self._send_now(self._sslsock.try_send, data,
                       data.nbytes if isinstance(data, memoryview) else len(data))

    # the compiled implementation's write() falls back to this one
    _python_write = write

    def _send_now(self, send, data, total):
        """Offer ``data`` (``total`` bytes) to the engine at once -- ``send``
        is ``try_send`` of one buffer or ``try_sendv`` of a list -- and
        queue what the socket leaves; an engine error ends the transport
        (``_fatal_error``)."""
        try:
            n = send(data)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal write error on TLS transport")
            return
        if n != total:
            self._write_rest(b"".join(data) if isinstance(data, list) else data, n)

    def _write_rest(self, data, n):
        """``write()`` after a ``try_send`` of ``data`` that returned ``n``
        (fewer bytes than ``data`` holds, or a WANT code): queue the rest
        (after a WANT code, all of it: the engine takes the same bytes
        again from the head of the write buffer)."""
        if n > 0:
            data = memoryview(data).cast("B")[n:]
            self._write_wants = self._sslsock.wanted_events or _EVENT_WRITE
        else:
            self._write_wants = self._sslsock.wanted_events
        # after a WANT code the same bytes must be offered again (OpenSSL
        # may have sent part of their record already)
        self._queue(data)
        self._sync_registration()
        self._maybe_pause_protocol()

    def writelines(self, list_of_data):
        """``write()`` of the buffers (an iterable of bytes, bytearray or
        memoryview) in order, in as few TLS records as fit: with nothing
        queued they go to the engine's ``try_sendv`` straight from their
        own memory, and only what the socket does not take is joined and
        queued.  Raises ``TypeError`` for other item types (nothing is
        written then); after ``close()`` the data is dropped, as
        ``write()``."""
        buffers = list(list_of_data)
        for item in buffers:
            if not isinstance(item, (bytes, bytearray, memoryview)):
                raise TypeError("data: expecting a bytes-like instance, "
                                f"got {type(item).__name__}")
        if self._backlog or self._closing or self._state != _WRAPPED or len(buffers) < 2:
            data = b"".join(buffers)
            if data:
                self.write(data)
            return
        self._send_now(self._sslsock.try_sendv, buffers,
                       sum(memoryview(b).nbytes for b in buffers))

    def _queue(self, data):
        if not isinstance(data, bytes):
            data = bytes(data)  # the caller may reuse its buffer
        self._backlog.append(data)
        self._backlog_size += len(data)

    def _dropped_write(self):
        if self._conn_lost >= LOG_THRESHOLD_FOR_CONNLOST_WRITES:
            logger.warning("TLS connection is closed")
        self._conn_lost += 1

    def _do_write(self):
        """Hand the write buffer to the engine until it blocks or empties."""
        backlog = self._backlog
        sslsock = self._sslsock
        try:
            while backlog:
                chunk = backlog[0]
                if len(chunk) < COALESCE_LIMIT and len(backlog) > 1 and self._write_wants == 0:
                    chunk = self._coalesce()
                n = sslsock.try_send(chunk)
                if n < 0:
                    self._write_wants = sslsock.wanted_events
                    break
                self._write_wants = 0
                self._backlog_size -= n
                if n == len(chunk):
                    backlog.popleft()
                else:
                    backlog[0] = memoryview(chunk)[n:]
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal write error on TLS transport")
            return
        if not backlog:
            self._write_wants = 0
            self._maybe_resume_protocol()
            if self._closing and self._state == _WRAPPED:
                self._start_shutdown()
                return
        else:
            self._maybe_resume_protocol()
        self._sync_registration()

    def _coalesce(self):
        # only when no WANT retry is pending: a retried write must see the
        # same bytes first, so the head is joined only before its first try
        backlog = self._backlog
        parts, size = [], 0
        while backlog and size < COALESCE_LIMIT:
            part = backlog.popleft()
            parts.append(part)
            size += len(part)
        chunk = b"".join(parts)
        backlog.appendleft(chunk)
        return chunk

    def _maybe_pause_protocol(self):
        if self._backlog_size > self._high_water and not self._protocol_paused:
            self._protocol_paused = True
            self._tell_protocol("pause_writing")

    def _maybe_resume_protocol(self):
        if self._protocol_paused and self._backlog_size <= self._low_water:
            self._protocol_paused = False
            self._tell_protocol("resume_writing")

    def _tell_protocol(self, name):
        # a failing flow-control callback is the loop's error, not the connection's
        try:
            getattr(self._protocol, name)()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._loop.call_exception_handler({
                "message": f"protocol.{name}() failed",
                "exception": exc, "transport": self, "protocol": self._protocol})

    # ------------------------------------------------------------------
    # the descriptor's registrations
    # ------------------------------------------------------------------

    def _sync_registration(self):
        """Register the descriptor for exactly what the pending operations
        wait for."""
        wants = self._op_wants
        if self._state == _WRAPPED:
            if not self._reading_paused:
                wants |= self._read_wants
            if self._backlog:
                wants |= self._write_wants or _EVENT_WRITE
        reader = bool(wants & _EVENT_READ)
        writer = bool(wants & _EVENT_WRITE)
        loop = self._loop
        if reader != self._reader_on:
            self._reader_on = reader
            if reader:
                # the compiled implementation's callback does the common
                # case in C and calls back into this class for the rest;
                # made per registration (the loop holds it, not the
                # transport: no reference cycle)
                callback = self._sslsock._transport_reader(self)
                loop.add_reader(self._fd, self._on_readable if callback is None else callback)
            else:
                loop.remove_reader(self._fd)
        if writer == self._writer_on:
            return
        self._writer_on = writer
        if writer:
            loop.add_writer(self._fd, self._on_writable)
        else:
            loop.remove_writer(self._fd)

    def _on_readable(self):
        # the common case in fewer Python frames (each costs about as much
        # as the TLS record's own bookkeeping): connected, nothing queued
        # to write, a read waiting for readability
        if (self._state == _WRAPPED and not self._backlog and not self._reading_paused
                and self._read_wants == _EVENT_READ):
            self._do_read()
            return
        self._on_ready(_EVENT_READ)

    def _on_writable(self):
        self._on_ready(_EVENT_WRITE)

    def _on_ready(self, event):
        state = self._state
        if state == _WRAPPED:
            if self._backlog and (self._write_wants or _EVENT_WRITE) == event:
                self._do_write()
            if (self._state == _WRAPPED and not self._reading_paused
                    and self._read_wants == event):
                self._do_read()
        elif state == _HANDSHAKE:
            self._do_handshake()
        elif state == _SHUTDOWN:
            self._do_shutdown()

    # ------------------------------------------------------------------
    # handshake
    # ------------------------------------------------------------------

    def _start_handshake(self):
        self._handshake_timer = self._loop.call_later(
            self._handshake_timeout, self._check_handshake_timeout)
        self._do_handshake()

    def _check_handshake_timeout(self):
        if self._state == _HANDSHAKE:
            msg = (f"SSL handshake is taking longer than {self._handshake_timeout} "
                   f"seconds: aborting the connection")
            self._on_handshake_complete(ConnectionAbortedError(msg))

    def _do_handshake(self):
        try:
            rc = self._sslsock.try_do_handshake()
        except SSLEOFError as exc:
            # the peer closed mid-handshake: asyncio reports the bare EOF
            # of its socket transport as ConnectionResetError
            err = ConnectionResetError("Connection lost during the TLS handshake")
            err.__cause__ = exc
            self._on_handshake_complete(err)
            return
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._on_handshake_complete(exc)
            return
        if rc < 0:
            self._op_wants = self._sslsock.wanted_events
            self._sync_registration()
            return
        self._on_handshake_complete(None)

    def _on_handshake_complete(self, exc):
        if self._handshake_timer is not None:
            self._handshake_timer.cancel()
            self._handshake_timer = None
        self._op_wants = 0
        if exc is None:
            sslsock = self._sslsock
            try:
                peercert = sslsock.getpeercert()
            except BaseException as err:  # noqa: BLE001 - reported as the handshake's
                exc = err
        if exc is not None:
            if isinstance(exc, CertificateError):
                msg = "SSL handshake failed on verifying the certificate"
            else:
                msg = "SSL handshake failed"
            self._state = _CLOSED
            self._closing = True
            self._report(exc, msg)
            self._release()
            self._wake_waiter(exc)
            return
        self._extra.update(peercert=peercert, cipher=sslsock.cipher(),
                           compression=sslsock.compression(), ssl_object=sslsock)
        self._state = _WRAPPED
        self._protocol_connected = True
        if self._call_connection_made:
            self._protocol.connection_made(self)
        self._wake_waiter(None)
        if self._state == _WRAPPED and not self._closing:
            self._sync_registration()
            # data may have come with the handshake's last flight
            self._schedule_read()
        elif self._state == _WRAPPED:
            self._sync_registration()

    def _wake_waiter(self, exc):
        waiter, self._waiter = self._waiter, None
        if waiter is None or waiter.done():
            return
        if exc is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(exc)

    # ------------------------------------------------------------------
    # reading
    # ------------------------------------------------------------------

    def _schedule_read(self):
        if not self._read_scheduled:
            self._read_scheduled = True
            self._loop.call_soon(self._scheduled_read)

    def _scheduled_read(self):
        self._read_scheduled = False
        if self._state == _WRAPPED and not self._reading_paused:
            self._do_read()

    def _do_read(self):
        try:
            if self._buffered:
                self._read_buffered()
            else:
                self._read_copied()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal read error on TLS transport")

    def _read_copied(self):
        if self._read_buffer is None:
            self._read_buffer = bytearray(READ_BUFFER_SIZE)
            self._read_view = memoryview(self._read_buffer)
        view = self._read_view
        sslsock = self._sslsock
        has_pending = self._has_pending
        total = 0
        offset = 0
        n = sslsock.try_recv_into(view)
        while n > 0:
            offset += n
            total += n
            # a record shorter than the maximum, and nothing more inside
            # OpenSSL (decrypted or read ahead): whatever comes next is in
            # the kernel, where the selector sees it
            if n < MAX_RECORD and not has_pending():
                break
            if total >= READ_BUDGET:
                self._schedule_read()
                break
            if READ_BUFFER_SIZE - offset < MAX_RECORD:
                self._protocol.data_received(bytes(view[:offset]))
                offset = 0
                if self._state != _WRAPPED or self._reading_paused:
                    return
            n = sslsock.try_recv_into(view[offset:])
        if offset:
            self._protocol.data_received(bytes(view[:offset]))
        if n <= 0 or self._read_wants != _EVENT_READ:
            self._after_read(n)

    def _read_buffered(self):
        sslsock = self._sslsock
        protocol = self._protocol
        has_pending = self._has_pending
        total = 0
        while True:
            buf = protocol.get_buffer(-1)
            view = memoryview(buf)
            size = view.nbytes
            if not size:
                raise RuntimeError("get_buffer() returned an empty buffer")
            if view.format != "B" or view.ndim != 1:
                view = view.cast("B")
            offset = 0
            n = sslsock.try_recv_into(view)
            while n > 0:
                offset += n
                if offset >= size or (n < MAX_RECORD and not has_pending()):
                    break
                n = sslsock.try_recv_into(view[offset:])
            if offset:
                total += offset
                protocol.buffer_updated(offset)
            if offset < size or n <= 0:
                break
            # the protocol's buffer is full: more may wait inside OpenSSL
            if self._state != _WRAPPED or self._reading_paused:
                return
            if total >= READ_BUDGET or not has_pending():
                self._schedule_read()
                return
        if n <= 0 or self._read_wants != _EVENT_READ:
            self._after_read(n)

    def _after_read(self, n):
        if n > 0:
            if self._read_wants != _EVENT_READ:
                # a read that waited for writability went through
                self._read_wants = _EVENT_READ
                self._sync_registration()
            return
        if n == 0:
            self._on_eof()
            return
        # the code itself, not ``wanted_events``: the protocol's
        # data_received() may have written since (an echo), and a write
        # that went through leaves the socket wanting nothing
        wants = _EVENT_WRITE if n == WANT_WRITE else _EVENT_READ
        if wants != self._read_wants:
            self._read_wants = wants
            self._sync_registration()

    def _on_eof(self):
        """The peer's close_notify, or an EOF without it: asyncio calls
        eof_received() for both, then closes (sending close_notify)."""
        self._eof = True
        self._reading_paused = True
        try:
            keep_open = self._protocol.eof_received()
            if keep_open:
                logger.warning("returning true from eof_received() has no effect when using ssl")
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Error calling eof_received()")
            return
        self.close()

    # ------------------------------------------------------------------
    # shutdown and teardown
    # ------------------------------------------------------------------

    def _start_shutdown(self):
        self._state = _SHUTDOWN
        self._do_shutdown()

    def _check_shutdown_timeout(self):
        if self._state in (_WRAPPED, _SHUTDOWN):
            self._force_close(asyncio.TimeoutError("SSL shutdown timed out"))

    def _do_shutdown(self):
        try:
            rc = self._sslsock.try_unwrap()
        except (SSLEOFError, SSLSyscallError, ConnectionError):
            # the peer left without answering our close_notify: asyncio's
            # SSL transport sees a plain EOF there and closes cleanly
            self._force_close(None)
            return
        except SSLError as exc:
            # after the peer's own end of stream there is nothing to agree on
            self._force_close(None if self._eof else exc)
            return
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error on TLS shutdown")
            return
        if rc < 0:
            self._op_wants = self._sslsock.wanted_events
            self._sync_registration()
            return
        self._op_wants = 0
        self._force_close(None)

    def _report(self, exc, message):
        if isinstance(exc, OSError):
            if self._loop.get_debug():
                logger.debug("%r: %s", self, message, exc_info=True)
        elif not isinstance(exc, asyncio.CancelledError):
            self._loop.call_exception_handler({
                "message": message, "exception": exc,
                "transport": self, "protocol": self._protocol})

    def _fatal_error(self, exc, message="Fatal error on TLS transport"):
        self._report(exc, message)
        self._force_close(exc)

    def _force_close(self, exc):
        """Release the descriptor now and tell the protocol (once)."""
        if self._state == _CLOSED:
            return
        was_connected = self._protocol_connected and self._state != _HANDSHAKE
        handshaking = self._state == _HANDSHAKE
        self._state = _CLOSED
        self._closing = True
        self._backlog.clear()
        self._backlog_size = 0
        self._release()
        if handshaking:
            if self._handshake_timer is not None:
                self._handshake_timer.cancel()
                self._handshake_timer = None
            self._wake_waiter(exc if exc is not None else ConnectionAbortedError(
                "TLS transport closed during the handshake"))
        if was_connected and not self._connection_lost_called:
            self._connection_lost_called = True
            self._loop.call_soon(self._call_connection_lost, exc)

    def _release(self):
        if self._shutdown_timer is not None:
            self._shutdown_timer.cancel()
            self._shutdown_timer = None
        if self._reader_on:
            self._reader_on = False
            self._loop.remove_reader(self._fd)
        if self._writer_on:
            self._writer_on = False
            self._loop.remove_writer(self._fd)
        self._op_wants = 0
        sslsock = self._sslsock
        if sslsock is not None:
            sslsock.close()

    def _call_connection_lost(self, exc):
        protocol = self._protocol
        try:
            protocol.connection_lost(exc)
        finally:
            self._protocol = None
            self._read_buffer = self._read_view = None


class CompiledTLSTransport(TLSTransport):
    """``TLSTransport`` on a compiled-implementation ``SSLSocket``: the
    same class but for ``write()``, whose common case (non-empty bytes,
    connected, nothing queued) runs in C; a Python frame per write costs
    about as much as the record's own bookkeeping."""

    __slots__ = ()


def transport_class(sslsock):
    """The transport class for ``sslsock`` (a tlsfast ``SSLSocket``):
    ``CompiledTLSTransport`` on the compiled implementation, else
    ``TLSTransport``."""
    write = sslsock._transport_write_function()
    if write is None:
        return TLSTransport
    if "write" not in CompiledTLSTransport.__dict__:
        # set on first use: this module imports nothing compiled
        CompiledTLSTransport.write = write
    return CompiledTLSTransport
