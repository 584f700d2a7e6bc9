"""Shared pieces of the hardening tests (``test_faults``, ``test_threads``,
``test_security_defaults``); the general fixtures stay in conftest/helpers.

Differential testing
    Every fault test runs the same scripted situation twice: once with a
    stdlib ``ssl`` context, once with the implementation under test, and
    compares what the two observed (``Trace``): each call's result or
    exception, summarised by ``summary()`` -- type, ``args[0]`` / errno,
    ``library``, ``reason``, ``verify_code`` and the message without the
    source location (``(_ssl.c:1006)`` vs ``(_tls_c.pyx)``).  The stdlib is
    the specification; a literal expectation is added only where the issue
    asks for one.

Scripted peers
    The peer is a raw loopback socket the test drives by hand: it reads the
    ClientHello record, answers with bytes of its choosing (garbage, alerts,
    a truncated flight produced by a stdlib ``SSLObject`` over
    ``MemoryBIO``s, hand-made records), then half-closes, resets (SO_LINGER
    0) or stalls.  Handshake faults run in one thread: the client sends its
    ClientHello in non-blocking mode first, the peer answers, then the client
    finishes in timeout mode -- so nothing races.

Isolated thread scenarios
    Two threads inside one ``SSLSocket`` is exactly where a TLS layer can
    crash the process (the stdlib releases the GIL around SSL_read/SSL_write
    without any lock).  ``run_isolated()`` runs such a scenario in a child
    interpreter with ``faulthandler`` on and returns its JSON report, so a
    segfault fails one test instead of killing the run.  The scenarios are
    in this module (``THREAD_SCENARIOS``) because the child imports it.

Everything is bounded: sockets carry timeouts, loops have iteration caps and
deadlines, children are killed after a limit.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import random
import re
import select
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import types
from typing import Any, Callable, Optional

from helpers import IO_TIMEOUT, BioPeer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

_TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}

# --------------------------------------------------------------------------
# outcomes
# --------------------------------------------------------------------------

_LOCATION = re.compile(r"\s*\((?:_ssl\.c:\d+|_tls_c\.pyx)\)|^_ssl\.c:\d+: ")


def clean_message(text: str) -> str:
    """An exception message without the source location suffix."""
    return _LOCATION.sub("", text).strip()


def summary(exc: Optional[BaseException]) -> Optional[tuple]:
    """What the two implementations must agree on about one exception."""
    if exc is None:
        return None
    if isinstance(exc, ssl.SSLError):
        return (type(exc).__name__, exc.args[0] if exc.args else None,
                exc.library, exc.reason, getattr(exc, "verify_code", None),
                clean_message(str(exc)))
    if isinstance(exc, OSError):
        return (type(exc).__name__, exc.errno, clean_message(str(exc)))
    return (type(exc).__name__, clean_message(str(exc)))


class Trace:
    """The ordered record of what one run observed: ``(step, kind, value)``
    with kind ``"ok"`` (value: the result) or ``"raised"`` (value: summary)."""

    def __init__(self):
        self.events: list[tuple] = []
        self.exceptions: dict[str, BaseException] = {}

    def call(self, step: str, fn: Callable, *args, keep: Callable = lambda v: v):
        """Run ``fn(*args)``; record its result (through ``keep``) or its
        exception.  Returns (ok, value-or-exception)."""
        try:
            value = fn(*args)
        except Exception as exc:  # noqa: BLE001 - recorded
            self.events.append((step, "raised", summary(exc)))
            self.exceptions[step] = exc
            return False, exc
        self.events.append((step, "ok", keep(value)))
        return True, value

    def note(self, step: str, value: Any) -> None:
        self.events.append((step, "ok", value))

    def read_all(self, sock, *, size: int = 4096, into: bool = False,
                 limit: int = 1 << 20, deadline: float = IO_TIMEOUT) -> bytes:
        """Read until b'' or an exception; records ``("data", bytes)`` then
        ``("end", ...)``.  ``into``: ``recv_into`` a ``size`` buffer."""
        data = bytearray()
        end = time.monotonic() + deadline
        buf = bytearray(size)
        exc = None
        for _ in range(limit + 1):
            if time.monotonic() > end:
                raise AssertionError(f"read_all: no end after {deadline}s ({len(data)} bytes)")
            try:
                if into:
                    n = sock.recv_into(buf, size)
                    chunk = bytes(buf[:n])
                else:
                    chunk = sock.recv(size)
            except Exception as e:  # noqa: BLE001 - recorded
                exc = e
                break
            if not chunk:
                break
            data += chunk
            if len(data) > limit:
                raise AssertionError(f"read_all: more than {limit} bytes")
        self.events.append(("data", "ok", bytes(data)))
        if exc is None:
            self.events.append(("end", "ok", b""))
        else:
            self.events.append(("end", "raised", summary(exc)))
            self.exceptions["end"] = exc
        return bytes(data)

    def get(self, step: str):
        for name, kind, value in self.events:
            if name == step:
                return kind, value
        raise KeyError(step)

    def __repr__(self):
        return "\n".join(f"  {s}: {k} {v!r}" for s, k, v in self.events)


def assert_same(got: Trace, ref: Trace, what: str = "") -> None:
    """The implementation observed exactly what the stdlib observed."""
    assert got.events == ref.events, (
        f"{what}: implementation and stdlib differ\nimplementation:\n{got!r}\nstdlib:\n{ref!r}")


def assert_clear_message(exc: BaseException) -> None:
    """An exception a user can act on: a real message, which for an
    ``SSLError`` carrying OpenSSL's reason names that reason."""
    text = clean_message(str(exc))
    assert text and text != "None" and len(text) >= 8, repr(exc)
    if isinstance(exc, ssl.SSLError) and exc.reason:
        assert exc.reason in text, repr(exc)


# --------------------------------------------------------------------------
# contexts
# --------------------------------------------------------------------------

def pin(ctx, version: Optional[str]):
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = _TLS_VERSIONS[version]
    return ctx


def client_context(mod, ca_pem: str, version: Optional[str] = None):
    ctx = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca_pem)
    return pin(ctx, version)


def server_context(mod, chain: str, key: str, version: Optional[str] = None):
    ctx = mod.SSLContext(mod.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain, key)
    return pin(ctx, version)


def load_impl(name: str) -> types.SimpleNamespace:
    """The ``impl`` namespace of conftest, for child interpreters (which do
    not import pytest)."""
    common = importlib.import_module("tlsfast._common")
    module = importlib.import_module({"c": "tlsfast._tls_c", "python": "tlsfast._tls_py"}[name])
    names = {n: getattr(common, n) for n in common.__all__}
    names.update({n: getattr(module, n) for n in dir(module) if not n.startswith("_")})
    names.update(name=name, module=module)
    return types.SimpleNamespace(**names)


# --------------------------------------------------------------------------
# TLS records by hand
# --------------------------------------------------------------------------

CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE, APPLICATION_DATA = 20, 21, 22, 23
#: TLS record payload limits (RFC 8446 5.1/5.2, RFC 5246 6.2.3)
MAX_PLAINTEXT = 1 << 14


def record(content_type: int, body: bytes, version: int = 0x0303) -> bytes:
    return struct.pack(">BHH", content_type, version, len(body)) + body


def alert(description: int, level: int = 2) -> bytes:
    return record(ALERT, bytes([level, description]))


def record_lengths(data: bytes) -> list[int]:
    """Total length (header included) of each whole record in ``data``."""
    out, i = [], 0
    for _ in range(len(data) // 5 + 1):
        if len(data) - i < 5:
            break
        n = 5 + int.from_bytes(data[i + 3:i + 5], "big")
        if len(data) - i < n:
            break
        out.append(n)
        i += n
    return out


def recv_exact(sock: socket.socket, n: int, deadline: float = IO_TIMEOUT) -> bytes:
    out = bytearray()
    end = time.monotonic() + deadline
    for _ in range(n + 1):
        if len(out) >= n:
            return bytes(out)
        if time.monotonic() > end:
            break
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise AssertionError(f"peer: EOF after {len(out)}/{n} bytes")
        out += chunk
    raise AssertionError(f"peer: {len(out)}/{n} bytes after {deadline}s")


def read_record(sock: socket.socket, deadline: float = IO_TIMEOUT) -> bytes:
    """One whole TLS record from a raw socket."""
    header = recv_exact(sock, 5, deadline)
    return header + recv_exact(sock, int.from_bytes(header[3:5], "big"), deadline)


def recv_available(sock: socket.socket, wait: float = 0.0, limit: int = 1 << 22) -> bytes:
    """What has arrived on ``sock`` (waiting up to ``wait`` for a first byte)."""
    out = bytearray()
    for _ in range(limit // 65536 + 2):
        r, _, _ = select.select([sock], [], [], wait if not out else 0)
        if not r:
            break
        chunk = sock.recv(65536)
        if not chunk:
            break
        out += chunk
    return bytes(out)


# --------------------------------------------------------------------------
# loopback TCP with prompt cleanup
# --------------------------------------------------------------------------

class Loopback:
    """One listening socket handing out connected (client, server) pairs; a
    sweep of hundreds of connections closes each pair as it goes."""

    def __init__(self, host: str = "127.0.0.1"):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.lsock = socket.socket(family, socket.SOCK_STREAM)
        self.lsock.bind((host, 0))
        self.lsock.listen(16)
        self.lsock.settimeout(IO_TIMEOUT)
        self._open: list[socket.socket] = []

    def pair(self, *, sndbuf: Optional[int] = None, rcvbuf: Optional[int] = None):
        client = socket.socket(self.lsock.family, socket.SOCK_STREAM)
        self._open.append(client)
        if sndbuf:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        client.settimeout(IO_TIMEOUT)
        client.connect(self.lsock.getsockname()[:2])
        server, _ = self.lsock.accept()
        self._open.append(server)
        # no Nagle: a small record a peer sends is on the wire at once (a RST
        # right after it must not discard it from the send queue)
        for s in (client, server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if rcvbuf:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        server.settimeout(IO_TIMEOUT)
        return client, server

    def track(self, sock):
        self._open.append(sock)
        return sock

    def release(self):
        """Close every socket handed out so far."""
        for s in self._open:
            with contextlib.suppress(OSError):
                s.close()
        self._open.clear()

    def close(self):
        self.release()
        self.lsock.close()


def set_linger_reset(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def reset(sock: socket.socket) -> None:
    """Abort the connection: the peer gets a TCP RST."""
    set_linger_reset(sock)
    sock.close()


TCP_CLOSE = 7


def tcp_state(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]


def wait_tcp_state(sock: socket.socket, state: int, deadline: float = 2.0) -> bool:
    """Wait (bounded) until the kernel's TCP state of ``sock`` is ``state``
    (e.g. TCP_CLOSE once a RST arrived)."""
    end = time.monotonic() + deadline
    for _ in range(2000):
        if tcp_state(sock) == state:
            return True
        if time.monotonic() > end:
            return False
        time.sleep(0.001)
    return False


def wait_inq(sock: socket.socket, nbytes: int, deadline: float = 2.0) -> int:
    """Wait (bounded) until ``nbytes`` have arrived in the receive queue of
    ``sock`` (SIOCINQ); returns the count seen."""
    import fcntl
    import termios
    end = time.monotonic() + deadline
    n = 0
    for _ in range(4000):
        n = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0" * 4))[0]
        if n >= nbytes or time.monotonic() > end:
            break
        time.sleep(0.0005)
    return n


def wait_readable(sock, timeout: float = IO_TIMEOUT) -> bool:
    r, _, _ = select.select([sock], [], [], timeout)
    return bool(r)


# --------------------------------------------------------------------------
# scripted handshakes
# --------------------------------------------------------------------------

class ServerFlight:
    """A stdlib ``SSLObject`` server answering one ClientHello: its first
    flight (ServerHello ... ServerHelloDone / server Finished) as bytes."""

    def __init__(self, server_ctx, client_hello: bytes):
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = server_ctx.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.incoming.write(client_hello)
        with contextlib.suppress(ssl.SSLWantReadError):
            self.obj.do_handshake()
        self.flight = self.outgoing.read()


def start_client(ctx, raw: socket.socket, *, server_hostname: Optional[str] = "localhost",
                 suppress_ragged_eofs: bool = True):
    """Wrap ``raw`` and send the ClientHello without waiting for the answer
    (one non-blocking handshake step).  The socket is left non-blocking."""
    sock = ctx.wrap_socket(raw, server_hostname=server_hostname, do_handshake_on_connect=False,
                           suppress_ragged_eofs=suppress_ragged_eofs)
    sock.setblocking(False)
    try:
        sock.do_handshake()
    except ssl.SSLWantReadError:
        pass
    else:
        raise AssertionError("handshake finished without an answer")
    return sock


def half_close(peer: socket.socket) -> None:
    """FIN to the client while still accepting (and discarding) what it sends,
    so no RST races with the data already sent."""
    with contextlib.suppress(OSError):
        peer.shutdown(socket.SHUT_WR)


# --------------------------------------------------------------------------
# an established connection with a hand-driven stdlib peer
# --------------------------------------------------------------------------

class ByHand(BioPeer):
    """A stdlib ``SSLObject`` over ``MemoryBIO``s on a raw socket
    (``helpers.BioPeer``): the peer of the socket under test, handshaken with
    it in one thread; afterwards the test writes records (whole, cut,
    corrupted, crafted) as it likes."""

    def handshake_with(self, sock, deadline: float = IO_TIMEOUT) -> None:
        """Drive both ends; ``sock`` (the socket under test) must be
        non-blocking and is left in timeout mode (``IO_TIMEOUT``)."""
        end = time.monotonic() + deadline
        peer_done = sock_done = False
        for _ in range(200):
            if not peer_done:
                try:
                    self.obj.do_handshake()
                    peer_done = True
                except ssl.SSLWantReadError:
                    pass
            self.flush()
            if not sock_done:
                try:
                    sock.do_handshake()
                    sock_done = True
                except ssl.SSLWantReadError:
                    pass
            if sock_done and peer_done:
                break
            data = recv_available(self.raw, 0.05)
            if data:
                self.incoming.write(data)
            if time.monotonic() > end:
                raise AssertionError("by-hand handshake unfinished")
        else:
            raise AssertionError("by-hand handshake: too many steps")
        sock.settimeout(IO_TIMEOUT)

    def feed(self, data: bytes) -> None:
        self.incoming.write(data)

    def close_notify(self) -> bytes:
        """Our close_notify record, not sent."""
        with contextlib.suppress(ssl.SSLWantReadError):
            self.obj.unwrap()
        return self.outgoing.read()


@contextlib.contextmanager
def established(loop: Loopback, ctx, peer_ctx, *, server_side: bool = False, **kwargs):
    """(socket under test, its ``ByHand`` peer) after a complete handshake;
    the socket under test is the client unless ``server_side``.  Every
    socket of ``loop`` is closed on exit."""
    raw_c, raw_s = loop.pair()
    try:
        if server_side:
            sock = loop.track(ctx.wrap_socket(raw_s, server_side=True,
                                              do_handshake_on_connect=False, **kwargs))
            sock.setblocking(False)
            peer = ByHand(peer_ctx, raw_c, server_side=False, server_hostname="localhost")
        else:
            sock = loop.track(ctx.wrap_socket(raw_c, server_hostname="localhost",
                                              do_handshake_on_connect=False, **kwargs))
            sock.setblocking(False)
            peer = ByHand(peer_ctx, raw_s)
        peer.handshake_with(sock)
        yield sock, peer
    finally:
        loop.release()


# --------------------------------------------------------------------------
# isolated thread scenarios (run in a child interpreter)
# --------------------------------------------------------------------------

def frame(writer: int, seq: int, size: int) -> bytes:
    """A self-checking unit: writer id, sequence number, length, payload."""
    fill = (seq * 31 + writer * 7) & 0xFF
    return struct.pack(">BIH", writer, seq, size) + bytes([fill]) * size


class FrameParser:
    """Parses a stream of ``frame()``s; anything else is corruption."""

    HEADER = 7

    def __init__(self, writers: int):
        self.buf = bytearray()
        self.seen: dict[int, list[int]] = {w: [] for w in range(writers)}
        self.corrupt: Optional[str] = None

    def feed(self, data: bytes) -> None:
        self.buf += data
        for _ in range(len(self.buf) // self.HEADER + 1):
            if self.corrupt or len(self.buf) < self.HEADER:
                return
            w, seq, size = struct.unpack(">BIH", self.buf[:self.HEADER])
            if w not in self.seen:
                self.corrupt = f"bad writer id {w} (seq field {seq}, size {size})"
                return
            if len(self.buf) < self.HEADER + size:
                return
            payload = bytes(self.buf[self.HEADER:self.HEADER + size])
            if payload != frame(w, seq, size)[self.HEADER:]:
                self.corrupt = f"garbled payload in writer {w} frame {seq}"
                return
            self.seen[w].append(seq)
            del self.buf[:self.HEADER + size]

    def check_order(self) -> Optional[str]:
        """Each writer's frames in order, none twice, none skipped."""
        for w, seqs in self.seen.items():
            if seqs != list(range(len(seqs))):
                bad = next(i for i, s in enumerate(seqs) if s != i)
                return f"writer {w}: frame {seqs[bad]} at position {bad} (duplicated or lost)"
        return None


def _exc_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class _Recorder:
    """Collects thread errors in a child scenario."""

    def __init__(self):
        self.errors: dict[str, str] = {}
        self.lock = threading.Lock()

    def run(self, name: str, fn: Callable, *args) -> threading.Thread:
        def target():
            try:
                fn(*args)
            except BaseException as exc:  # noqa: BLE001 - reported
                with self.lock:
                    self.errors[name] = _exc_text(exc)
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        return t


def _join_all(threads, deadline: float) -> list[str]:
    end = time.monotonic() + deadline
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    return [t.name for t in threads if t.is_alive()]


def _tls_pair(impl, cfg, *, version=None, sndbuf=None, rcvbuf=None,
              client_kwargs=None, handshake=True, server_delay=0.0):
    """(impl client SSLSocket, stdlib server SSLSocket) over loopback."""
    loop = Loopback()
    raw_c, raw_s = loop.pair(sndbuf=sndbuf, rcvbuf=rcvbuf)
    if rcvbuf:
        raw_c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if sndbuf:
        raw_s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    sctx = server_context(ssl, cfg["chain"], cfg["key"], version)
    cctx = client_context(impl, cfg["ca"], version)
    box: dict = {}

    def serve():
        if server_delay:
            time.sleep(server_delay)
        box["server"] = sctx.wrap_socket(raw_s, server_side=True)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    client = cctx.wrap_socket(raw_c, server_hostname="localhost",
                              do_handshake_on_connect=handshake, **(client_kwargs or {}))
    if not handshake:
        return client, t, box, loop
    t.join(IO_TIMEOUT)
    return client, box["server"], loop


def scenario_duplex(impl, cfg, total=4 << 20, version=None):
    """One thread writes ``total`` bytes (mixed chunk sizes, some >= 64 KiB)
    while another reads the echo from the same SSLSocket."""
    client, server, loop = _tls_pair(impl, cfg, version=version)
    rec = _Recorder()
    rng = random.Random(7)
    sizes = []
    left = total
    for _ in range(100000):
        if left <= 0:
            break
        n = min(left, rng.choice((1, 100, 1500, 16384, 16385, 65536, 200000)))
        sizes.append(n)
        left -= n
    blob = random.Random(3).randbytes(total)
    sent_digest = hashlib.sha256(blob).hexdigest()
    got = {}

    def echo():
        buf = bytearray(1 << 17)
        for _ in range(total + 1):
            n = server.recv_into(buf)
            if not n:
                return
            server.sendall(memoryview(buf)[:n])

    def writer():
        view = memoryview(blob)
        pos = 0
        for n in sizes:
            client.sendall(view[pos:pos + n])
            pos += n

    def reader():
        h = hashlib.sha256()
        count = 0
        buf = bytearray(1 << 17)
        end = time.monotonic() + 30
        for i in range(total + 1):
            if count >= total or time.monotonic() > end:
                break
            # alternate small and large reads
            size = 1000 if i % 2 else len(buf)
            n = client.recv_into(buf, size)
            if not n:
                break
            h.update(memoryview(buf)[:n])
            count += n
        got.update(count=count, digest=h.hexdigest())

    threads = [rec.run("echo", echo), rec.run("writer", writer), rec.run("reader", reader)]
    stuck = _join_all(threads[1:], 40)
    with contextlib.suppress(OSError):
        client.close()
    loop.close()
    return {"errors": rec.errors, "stuck": stuck, "total": total, "sent": sent_digest,
            "received": got.get("digest"), "count": got.get("count")}


def scenario_two_writers(impl, cfg, frames=60, version=None, backpressure=True, sizes="mixed",
                         buffers=32768):
    """Two threads ``sendall`` frames (each <= 16 KiB: one record) on one
    SSLSocket; small socket buffers and a slow reader make the writes wait
    for the transport (want-write) in the middle of a record.  ``sizes``:
    "mixed" (both writers vary their frame sizes) or "short-long" (writer 0
    always writes 2000-byte frames, writer 1 15000-byte ones)."""
    small = buffers if backpressure else None
    client, server, loop = _tls_pair(impl, cfg, version=version, sndbuf=small, rcvbuf=small)
    client.settimeout(3)
    rec = _Recorder()
    parser = FrameParser(2)
    writers_done = threading.Event()
    server.settimeout(0.5)

    def peer():
        end = time.monotonic() + 30
        for _ in range(frames * 100):
            if time.monotonic() > end:
                return
            if sum(len(s) for s in parser.seen.values()) >= 2 * frames:
                return
            try:
                data = server.recv(65536)
            except socket.timeout:
                if writers_done.is_set():
                    return  # the writers gave up: nothing more will come
                continue
            if not data:
                return
            if not parser.corrupt:
                parser.feed(data)  # after corruption: drain only, so the writers finish
            if backpressure:
                time.sleep(0.0005)

    def writer(w):
        for seq in range(frames):
            if sizes == "mixed":
                size = 1000 + (seq * 977 + w * 3001) % (16384 - 1000 - FrameParser.HEADER)
            else:
                size = 15000 if w else 2000
            client.sendall(frame(w, seq, size))

    p = rec.run("peer", peer)
    writers = [rec.run(f"writer{w}", writer, w) for w in (0, 1)]
    stuck = _join_all(writers, 30)
    writers_done.set()
    p.join(15)
    stuck += [p.name] if p.is_alive() else []
    with contextlib.suppress(OSError):
        client.close()
    loop.close()
    return {"errors": rec.errors, "stuck": stuck, "frames": frames,
            "seen": {str(w): len(s) for w, s in parser.seen.items()},
            "corrupt": parser.corrupt, "order": parser.check_order()}


def scenario_handshake_and_recv(impl, cfg, version=None, iterations=10, delay=0.08,
                                one_cpu=True):
    """Thread H runs do_handshake() (the server answers ``delay`` s late);
    thread R calls recv() meanwhile; the main thread counts its own Python
    loop turns.  Repeated on fresh connections (the interleavings differ
    from run to run); stops at the first failure.  ``one_cpu``: the child
    runs on one CPU, so the threads woken by the server's answer run one
    after the other (the interleaving a loaded machine produces)."""
    if one_cpu and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    runs = []
    for i in range(iterations):
        client, server_thread, box, loop = _tls_pair(
            impl, cfg, version=version, handshake=False, server_delay=delay)
        client.settimeout(2.0)
        rec = _Recorder()
        got = {}

        # even runs: the handshake starts first and recv() comes while it
        # waits; odd runs: recv() comes first (it starts the handshake
        # itself) and do_handshake() follows while recv() waits
        reader_first = i % 2 == 1

        def handshake():
            if reader_first:
                time.sleep(delay / 4)
            t0 = time.monotonic()
            client.do_handshake()
            got["handshake_s"] = time.monotonic() - t0

        def reader():
            if not reader_first:
                time.sleep(delay / 4)
            got["recv"] = client.recv(100).decode()

        h = rec.run("handshake", handshake)
        r = rec.run("reader", reader)
        gaps = _Gaps()  # the main thread runs Python code while both wait
        gaps.spin(lambda: False, delay / 2)
        server_thread.join(10)
        server = box.get("server")
        if server is not None:
            with contextlib.suppress(OSError):
                server.sendall(b"after the handshake")
        stuck = _join_all([h, r], 10)
        runs.append({"reader_first": reader_first,
                     "errors": rec.errors, "stuck": stuck, "turns": gaps.turns,
                     "recv": got.get("recv"), "handshake_s": got.get("handshake_s"),
                     "server": server is not None,
                     "version": client.version() if not stuck else None})
        with contextlib.suppress(OSError):
            client.close()
        loop.close()
        if rec.errors or stuck:
            break
    return {"runs": runs, "iterations": iterations}


def scenario_stress(impl, cfg, seconds=2.0, version=None):
    """Four threads on one connection for ``seconds``: a sender, a receiver
    (echo through the peer), and two inspectors calling pending(),
    getpeercert(), cipher(), version(), getpeercert(True)."""
    client, server, loop = _tls_pair(impl, cfg, version=version)
    rec = _Recorder()
    stop = threading.Event()
    sent = hashlib.sha256()
    counts = {"sent": 0, "received": 0, "inspections": 0}
    received = hashlib.sha256()
    expected_cert = client.getpeercert()
    expected_der = client.getpeercert(True)
    expected_cipher = client.cipher()

    def echo():
        buf = bytearray(1 << 16)
        for _ in range(1 << 24):
            n = server.recv_into(buf)
            if not n:
                return
            server.sendall(memoryview(buf)[:n])

    def sender():
        rng = random.Random(1)
        for i in range(10 ** 6):
            if stop.is_set():
                break
            chunk = bytes([i & 0xFF]) * rng.choice((1, 300, 5000, 16384, 70000))
            # counted before it is sent: the receiver may get the echo of
            # the last chunk before this thread runs again, and must not
            # then wait for more
            sent.update(chunk)
            counts["sent"] += len(chunk)
            client.sendall(chunk)
        counts["sender_done"] = True

    def receiver():
        buf = bytearray(1 << 17)
        end = time.monotonic() + seconds + 15
        for i in range(10 ** 7):
            if counts.get("sender_done") and counts["received"] >= counts["sent"]:
                break
            if time.monotonic() > end:
                raise AssertionError(f"receiver: {counts['received']}/{counts['sent']} bytes")
            n = client.recv_into(buf, 2000 if i % 3 else len(buf))
            if not n:
                raise AssertionError("receiver: unexpected EOF")
            received.update(memoryview(buf)[:n])
            counts["received"] += n

    def inspector(k):
        for i in range(10 ** 7):
            if stop.is_set():
                break
            assert client.pending() >= 0
            if (i + k) % 2:
                assert client.getpeercert() == expected_cert
                assert client.cipher() == expected_cipher
            else:
                assert client.getpeercert(True) == expected_der
                assert client.version() in ("TLSv1.2", "TLSv1.3")
            counts["inspections"] += 1

    threads = [rec.run("echo", echo), rec.run("sender", sender), rec.run("receiver", receiver),
               rec.run("inspector0", inspector, 0), rec.run("inspector1", inspector, 1)]
    time.sleep(seconds)
    stop.set()
    stuck = _join_all(threads[1:], 25)
    out = {"errors": rec.errors, "stuck": stuck, "sent": counts["sent"],
           "received": counts["received"], "inspections": counts["inspections"],
           "sent_digest": sent.hexdigest(), "received_digest": received.hexdigest()}
    with contextlib.suppress(OSError):
        client.close()
    loop.close()
    return out


class _Gaps:
    """Counts turns of a pure-Python loop and the longest pause between two
    turns: the proof that this thread got the GIL meanwhile."""

    def __init__(self):
        self.turns = 0
        self.max_gap = 0.0

    def spin(self, until: Callable[[], bool], deadline: float, nap: float = 0.0) -> None:
        """Loop until ``until()`` or ``deadline`` seconds; with ``nap`` each
        turn also sleeps (lets the other threads have the GIL at once
        instead of after a switch interval)."""
        end = time.monotonic() + deadline
        last = time.monotonic()
        for _ in range(10 ** 9):
            now = time.monotonic()
            self.max_gap = max(self.max_gap, now - last - nap)
            last = now
            self.turns += 1
            if until() or now > end:
                return
            if nap:
                time.sleep(nap)


def scenario_gil_recv(impl, cfg, window=0.3):
    """A thread blocks in recv() on a blocking SSLSocket (nothing to read);
    meanwhile the main thread runs Python code for ``window`` seconds, then
    sends the data that wakes the reader.  If recv() held the GIL while
    blocked this deadlocks (the watchdog then kills the child)."""
    import faulthandler
    faulthandler.dump_traceback_later(20, exit=True)
    client, server, loop = _tls_pair(impl, cfg)
    client.settimeout(None)
    rec = _Recorder()
    got = {}
    started = threading.Event()

    def reader():
        started.set()
        got["data"] = client.recv(100).decode()

    t = rec.run("reader", reader)
    started.wait(5)
    time.sleep(0.05)  # now inside recv, waiting
    gaps = _Gaps()
    gaps.spin(lambda: False, window)
    blocked_all_along = "data" not in got
    server.sendall(b"wake up")
    stuck = _join_all([t], 10)
    faulthandler.cancel_dump_traceback_later()
    client.close()
    loop.close()
    return {"errors": rec.errors, "stuck": stuck, "turns": gaps.turns, "max_gap": gaps.max_gap,
            "blocked_all_along": blocked_all_along, "data": got.get("data")}


def scenario_gil_sendall(impl, cfg, nbytes=1 << 20):
    """A thread sendall()s 1 MiB on a blocking SSLSocket to a slow reader
    (pausing 20 ms after every 64 KiB, 64 KiB socket buffers); meanwhile the main thread runs
    Python code.  Reports its turns and longest pause."""
    import faulthandler
    faulthandler.dump_traceback_later(30, exit=True)
    client, server, loop = _tls_pair(impl, cfg, sndbuf=65536, rcvbuf=65536)
    client.settimeout(None)
    rec = _Recorder()
    blob = random.Random(5).randbytes(nbytes)
    got = {}

    def slow_reader():
        h = hashlib.sha256()
        count = 0
        since_pause = 0
        for _ in range(nbytes + 1):
            if count >= nbytes:
                break
            data = server.recv(16384)
            if not data:
                break
            h.update(data)
            count += len(data)
            since_pause += len(data)
            if since_pause >= 65536:
                since_pause = 0
                time.sleep(0.02)
        got.update(count=count, digest=h.hexdigest())

    def sender():
        t0 = time.monotonic()
        client.sendall(blob)
        got["send_s"] = time.monotonic() - t0

    r = rec.run("reader", slow_reader)
    s = rec.run("sender", sender)
    gaps = _Gaps()
    gaps.spin(lambda: not s.is_alive(), 20, nap=0.001)
    stuck = _join_all([s, r], 20)
    faulthandler.cancel_dump_traceback_later()
    client.close()
    loop.close()
    return {"errors": rec.errors, "stuck": stuck, "turns": gaps.turns, "max_gap": gaps.max_gap,
            "send_s": got.get("send_s"), "count": got.get("count"),
            "digest_ok": got.get("digest") == hashlib.sha256(blob).hexdigest()}


def scenario_writes_while_taking_tickets(impl, cfg, iterations=100, frames=300, num_tickets=2):
    """The websockets sync client's pattern: as soon as the client's TLS 1.3
    handshake returns, one thread blocks in recv() -- its SSL_read takes the
    server's NewSessionTickets as they arrive -- while the handshaking
    thread sendall()s ``frames`` small frames.  Over a socketpair (no TCP
    delays: the tickets land in the middle of the writes).  Fresh
    connections, ``iterations`` of them, stopping at the first that goes
    wrong; the server checks that every frame arrived, whole and in order,
    then answers the reader."""
    sctx = server_context(ssl, cfg["chain"], cfg["key"], "1.3")
    sctx.num_tickets = num_tickets
    cctx = client_context(impl, cfg["ca"], "1.3")
    expected = b"".join(frame(0, seq, 40) for seq in range(frames))
    runs = 0
    failure = None
    for _ in range(iterations):
        raw_c, raw_s = socket.socketpair()
        for raw in (raw_c, raw_s):
            raw.settimeout(IO_TIMEOUT)
        rec = _Recorder()
        got = {}

        def peer():
            server = sctx.wrap_socket(raw_s, server_side=True)
            server.settimeout(2.0)
            data = bytearray()
            for _ in range(len(expected)):      # >= 1 byte per recv: bounded
                if len(data) >= len(expected):
                    break
                chunk = server.recv(65536)
                if not chunk:
                    break
                data += chunk
            got["received"] = bytes(data)
            server.sendall(b"done")

        def reader():
            got["reply"] = client.recv(100)

        threads = [rec.run("peer", peer)]
        client = cctx.wrap_socket(raw_c, server_hostname="localhost")
        threads.append(rec.run("reader", reader))
        try:
            for seq in range(frames):
                client.sendall(frame(0, seq, 40))
        except OSError as exc:
            rec.errors["writer"] = _exc_text(exc)
        stuck = _join_all(threads, 15)
        for sock in (client, raw_c, raw_s):
            with contextlib.suppress(OSError):
                sock.close()
        runs += 1
        received = got.get("received")
        if stuck or rec.errors or received != expected or got.get("reply") != b"done":
            failure = {"run": runs - 1, "stuck": stuck, "errors": rec.errors,
                       "received": None if received is None else len(received),
                       "expected": len(expected), "intact": received == expected,
                       "reply": repr(got.get("reply"))}
            break
    return {"runs": runs, "iterations": iterations, "failure": failure}


THREAD_SCENARIOS = {
    "gil_recv": scenario_gil_recv,
    "gil_sendall": scenario_gil_sendall,
    "duplex": scenario_duplex,
    "two_writers": scenario_two_writers,
    "handshake_and_recv": scenario_handshake_and_recv,
    "stress": scenario_stress,
    "writes_while_taking_tickets": scenario_writes_while_taking_tickets,
}


def run_isolated(impl_name: str, scenario: str, cfg: dict, *, timeout: float = 60.0,
                 **params) -> dict:
    """Run ``THREAD_SCENARIOS[scenario](impl, cfg, **params)`` in a child
    interpreter; returns its report, or raises AssertionError with the
    child's output when it crashed or hung."""
    tlsfast_dir = os.path.dirname(os.path.dirname(importlib.import_module("tlsfast").__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, tlsfast_dir]))
    env.pop("TLSFAST_IMPL", None)
    arg = json.dumps({"impl": impl_name, "scenario": scenario, "cfg": cfg, "params": params})
    try:
        proc = subprocess.run([sys.executable, "-X", "faulthandler", os.path.abspath(__file__), arg],
                              capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"{scenario}[{impl_name}] hung for {timeout}s:\n"
                             f"{exc.stdout or ''}{exc.stderr or ''}") from None
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise AssertionError(f"{scenario}[{impl_name}] child exited with {proc.returncode} "
                             f"(negative: killed by that signal):\n{proc.stdout}\n{proc.stderr}")
    return json.loads(lines[-1][len("RESULT "):])


def _child_main(argv) -> int:
    spec = json.loads(argv[1])
    impl = load_impl(spec["impl"])
    fn = THREAD_SCENARIOS[spec["scenario"]]
    result = fn(impl, spec["cfg"], **spec["params"])
    print("RESULT " + json.dumps(result), flush=True)
    return 0


# --------------------------------------------------------------------------
# certificates with hand-picked names (security defaults)
# --------------------------------------------------------------------------

def issue_custom_leaf(ca, directory: str, name: str, *, dns: tuple = (), ips: tuple = (),
                      common_name: Optional[str] = None):
    """A leaf signed by the trustme ``ca`` with exactly these SAN entries --
    for names trustme itself refuses to put in a dNSName (partial wildcards,
    an IP address written as a DNS name).  Returns (chain path, key path)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), None)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
                        if common_name else [])
    sans = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(ca_cert.subject)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                              critical=False))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=not common_name)
    cert = builder.sign(ca_key, hashes.SHA256())
    chain = os.path.join(directory, f"{name}-chain.pem")
    key_path = os.path.join(directory, f"{name}-key.pem")
    with open(chain, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return chain, key_path


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv))
