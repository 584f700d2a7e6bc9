"""Shared helpers for the behavioural suite (no pytest fixtures here: see conftest).

Everything that blocks is bounded: sockets carry timeouts, threads are joined
with a limit, subprocesses are waited for with a limit and killed on cleanup,
and every retry loop has both an iteration cap and a deadline.

"Context module" below means either the stdlib ``ssl`` module or the ``impl``
namespace from conftest: both expose ``SSLContext``, ``PROTOCOL_TLS_*`` and
``TLSVersion``, so the same helper builds a stdlib peer or an impl peer.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import os
import queue
import re
import selectors
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Optional

#: default bound for one blocking socket operation in a test
IO_TIMEOUT = 10.0
#: default bound for joining a peer thread (longer than IO_TIMEOUT so the
#: peer's own socket timeout fires first and its exception is reported)
JOIN_TIMEOUT = IO_TIMEOUT + 5.0
#: TLS 1.2 / 1.3 as pytest parameters
VERSIONS = ("1.2", "1.3")

# -- what the running Python's ssl does differently (both implementations
#    follow it; tlsfast/_common.py has the same table) ----------------------
#: 3.9 sets OP_IGNORE_UNEXPECTED_EOF: a TCP EOF without close_notify (after
#: or during the handshake, or inside a record) reads as a clean close
RAGGED_EOF_IS_CLEAN = sys.version_info < (3, 10)
#: a reset (or another errno) under SSL_read / SSL_write is that OSError on
#: 3.9 and from 3.13 (CPython gh-115627); 3.10 to 3.12 report an EOF
RESET_IS_OSERROR = sys.version_info < (3, 10) or sys.version_info >= (3, 13)

#: the stdlib's default cipher list from 3.10: tlsfast's on every Python
DEFAULT_CIPHERS_310 = ("@SECLEVEL=2:ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES:DHE+AES:"
                       "!aNULL:!eNULL:!aDSS:!SHA1:!AESCCM")


def with_tlsfast_floor(ctx):
    """A stdlib context as a reference for tlsfast's defaults: unchanged
    from 3.10; on 3.9, whose ssl had neither, given the TLS 1.2 floor and
    the 3.10 cipher list tlsfast keeps on every Python (deliberate
    differences, docs/porting.rst)."""
    if sys.version_info < (3, 10) and ctx.protocol in (
            ssl.PROTOCOL_TLS, ssl.PROTOCOL_TLS_CLIENT, ssl.PROTOCOL_TLS_SERVER):
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(DEFAULT_CIPHERS_310)
    return ctx


_TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
#: ``version()`` strings
VERSION_NAMES = {"1.2": "TLSv1.2", "1.3": "TLSv1.3"}


# --------------------------------------------------------------------------
# certificates
# --------------------------------------------------------------------------

@dataclasses.dataclass
class KeyPair:
    """A certificate (chain) and key on disk, plus the leaf in PEM / DER."""

    chain: str
    key: str
    leaf_pem: str

    @property
    def leaf_der(self) -> bytes:
        return ssl.PEM_cert_to_DER_cert(self.leaf_pem)

    def decoded(self) -> dict:
        """The dict stdlib ``getpeercert()`` returns for this certificate."""
        return ssl._ssl._test_decode_cert(self.chain)


@dataclasses.dataclass
class Certs:
    """Every certificate the suite uses, issued once per session."""

    ca_pem: str            # the CA that signed everything below
    server: KeyPair        # localhost, 127.0.0.1, ::1
    alt: KeyPair           # alt.example (SNI context switch)
    client: KeyPair        # client@example.org (client-cert auth)
    expired: KeyPair       # localhost, expired in 2001
    cn_only: KeyPair       # CN=localhost, no SAN entries
    encrypted: KeyPair     # localhost, key encrypted with PASSWORD
    other_ca_pem: str      # an unrelated CA: verifying with it fails (20)

    PASSWORD = "s3cret-pässword"


def _write_leaf(directory: str, name: str, leaf) -> KeyPair:
    chain = os.path.join(directory, f"{name}-chain.pem")
    key = os.path.join(directory, f"{name}-key.pem")
    with open(chain, "wb") as f:
        for blob in leaf.cert_chain_pems:
            f.write(blob.bytes())
    leaf.private_key_pem.write_to_path(key)
    return KeyPair(chain, key, leaf.cert_chain_pems[0].bytes().decode("ascii"))


def make_certs(directory: str) -> Certs:
    import trustme
    from cryptography.hazmat.primitives import serialization

    ca = trustme.CA()
    ca_pem = os.path.join(directory, "ca.pem")
    ca.cert_pem.write_to_path(ca_pem)
    other = trustme.CA()
    other_ca_pem = os.path.join(directory, "other-ca.pem")
    other.cert_pem.write_to_path(other_ca_pem)

    server = _write_leaf(directory, "server", ca.issue_cert("localhost", "127.0.0.1", "::1"))
    alt = _write_leaf(directory, "alt", ca.issue_cert("alt.example"))
    client = _write_leaf(directory, "client", ca.issue_cert("client@example.org"))
    expired = _write_leaf(directory, "expired", ca.issue_cert(
        "localhost", "127.0.0.1",
        not_before=datetime.datetime(2000, 1, 1),
        not_after=datetime.datetime(2001, 1, 1)))
    cn_only = _write_leaf(directory, "cn-only", ca.issue_cert(common_name="localhost"))

    leaf = ca.issue_cert("localhost", "127.0.0.1")
    encrypted = _write_leaf(directory, "encrypted", leaf)
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), None)
    with open(encrypted.key, "wb") as f:
        f.write(key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(Certs.PASSWORD.encode("utf-8"))))
    return Certs(ca_pem, server, alt, client, expired, cn_only, encrypted, other_ca_pem)


# --------------------------------------------------------------------------
# contexts
# --------------------------------------------------------------------------

def pin_version(ctx, version: Optional[str]):
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = _TLS_VERSIONS[version]
    return ctx


def server_context(mod, certs: Certs, version: Optional[str] = None,
                   keypair: Optional[KeyPair] = None):
    """``PROTOCOL_TLS_SERVER`` context of module ``mod`` serving ``keypair``."""
    ctx = mod.SSLContext(mod.PROTOCOL_TLS_SERVER)
    kp = keypair or certs.server
    ctx.load_cert_chain(kp.chain, kp.key)
    return pin_version(ctx, version)


def client_context(mod, certs: Certs, version: Optional[str] = None,
                   cafile: Optional[str] = None):
    """``PROTOCOL_TLS_CLIENT`` context of ``mod`` trusting the test CA."""
    ctx = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile or certs.ca_pem)
    return pin_version(ctx, version)


#: who runs the implementation under test in a two-party test
ROLES = ("impl-client", "impl-server", "impl-both")


def role_modules(impl, role: str):
    """(client module, server module) for ``role``; the other side is stdlib."""
    assert role in ROLES, role
    client = impl if role in ("impl-client", "impl-both") else ssl
    server = impl if role in ("impl-server", "impl-both") else ssl
    return client, server


# --------------------------------------------------------------------------
# threads
# --------------------------------------------------------------------------

class Peer(threading.Thread):
    """Runs ``fn(*args)`` in a daemon thread; ``result()`` joins with a bound
    and returns the value or re-raises the exception of the thread."""

    def __init__(self, fn: Callable, *args, name: Optional[str] = None):
        super().__init__(name=name or f"peer-{getattr(fn, '__name__', 'fn')}", daemon=True)
        self._fn, self._args = fn, args
        self.value: Any = None
        self.exc: Optional[BaseException] = None

    def run(self):
        try:
            self.value = self._fn(*self._args)
        except BaseException as exc:  # noqa: BLE001 - re-raised by result()
            self.exc = exc

    def wait(self, timeout: float = JOIN_TIMEOUT) -> None:
        self.join(timeout)
        if self.is_alive():
            raise AssertionError(f"{self.name} still running after {timeout}s")

    def result(self, timeout: float = JOIN_TIMEOUT):
        self.wait(timeout)
        if self.exc is not None:
            raise self.exc
        return self.value

    def error(self, timeout: float = JOIN_TIMEOUT) -> Optional[BaseException]:
        """Join and return the thread's exception (None if it succeeded)."""
        self.wait(timeout)
        return self.exc


# --------------------------------------------------------------------------
# outcomes: compare what impl does with what the stdlib does
# --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Outcome:
    raised: Optional[type]
    value: Any = None
    exc: Optional[BaseException] = None

    def __repr__(self):
        if self.raised is None:
            return f"<returned {self.value!r}>"
        return f"<raised {self.raised.__name__}: {self.exc}>"


def outcome(fn: Callable, *args, **kwargs) -> Outcome:
    try:
        return Outcome(None, fn(*args, **kwargs))
    except Exception as exc:  # noqa: BLE001 - the point is to record it
        return Outcome(type(exc), None, exc)


# --------------------------------------------------------------------------
# sockets
# --------------------------------------------------------------------------

def set_linger_reset(sock: socket.socket) -> None:
    """Make ``close()`` send a TCP RST instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def recv_exactly(sock, n: int, *, deadline: float = IO_TIMEOUT) -> bytes:
    """Read exactly ``n`` bytes (or fail), bounded in calls and time."""
    chunks, got = [], 0
    end = time.monotonic() + deadline
    for _ in range(n + 10):
        if got >= n:
            break
        if time.monotonic() > end:
            raise AssertionError(f"recv_exactly: {got}/{n} bytes after {deadline}s")
        data = sock.recv(n - got)
        if not data:
            raise AssertionError(f"recv_exactly: EOF after {got}/{n} bytes")
        chunks.append(data)
        got += len(data)
    return b"".join(chunks)


def recv_until(sock, marker: bytes, *, limit: int = 1 << 16,
               deadline: float = IO_TIMEOUT) -> bytes:
    """Read until ``marker`` is seen (or EOF), bounded in size and time."""
    data = b""
    end = time.monotonic() + deadline
    while marker not in data and len(data) < limit:
        if time.monotonic() > end:
            raise AssertionError(f"recv_until({marker!r}): only {data!r} after {deadline}s")
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def recv_all(sock, *, limit: int = 1 << 20, deadline: float = IO_TIMEOUT) -> bytes:
    """Read to EOF (``b''``), bounded in size and time."""
    data = bytearray()
    end = time.monotonic() + deadline
    while len(data) <= limit:
        if time.monotonic() > end:
            raise AssertionError(f"recv_all: no EOF after {deadline}s ({len(data)} bytes)")
        chunk = sock.recv(65536)
        if not chunk:
            return bytes(data)
        data += chunk
    raise AssertionError(f"recv_all: more than {limit} bytes")


def recv_digest(sock, nbytes: int, *, deadline: float = 60.0) -> tuple[int, str]:
    """``recv_into`` up to ``nbytes`` (or EOF); return (count, sha256 hex)."""
    h = hashlib.sha256()
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    got = 0
    end = time.monotonic() + deadline
    for _ in range(nbytes + 1):  # at least one byte per call, so bounded
        if got >= nbytes:
            break
        if time.monotonic() > end:
            raise AssertionError(f"recv_digest: {got}/{nbytes} bytes after {deadline}s")
        n = sock.recv_into(buf, min(len(buf), nbytes - got))
        if n == 0:
            break
        h.update(view[:n])
        got += n
    return got, h.hexdigest()


class BioPeer:
    """A stdlib ``ssl.SSLObject`` over ``MemoryBIO``s on a raw socket: a TLS
    peer whose ciphertext the test controls byte by byte (half records,
    trickles, EOF at any point)."""

    def __init__(self, ctx, raw: socket.socket, *, server_side: bool = True,
                 server_hostname: Optional[str] = None):
        self.raw = raw
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.incoming, self.outgoing, server_side=server_side,
                                server_hostname=server_hostname)

    def flush(self) -> None:
        data = self.outgoing.read()
        if data:
            self.raw.sendall(data)

    def handshake(self, deadline: float = IO_TIMEOUT) -> "BioPeer":
        end = time.monotonic() + deadline
        for _ in range(1000):
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.flush()
            if time.monotonic() > end:
                raise AssertionError(f"BioPeer handshake unfinished after {deadline}s")
            chunk = self.raw.recv(65536)
            if not chunk:
                raise AssertionError("BioPeer: EOF during the handshake")
            self.incoming.write(chunk)
        self.flush()  # the last flight (and TLS 1.3 session tickets)
        return self

    def encrypt(self, data: bytes) -> bytes:
        """The TLS records carrying ``data``, not sent."""
        self.obj.write(data)
        return self.outgoing.read()


# --------------------------------------------------------------------------
# non-blocking drivers
# --------------------------------------------------------------------------

def wait_for(sock, events: int, timeout: float = IO_TIMEOUT) -> None:
    """Wait until ``sock`` is ready for ``events`` (a selectors mask)."""
    assert events in (selectors.EVENT_READ, selectors.EVENT_WRITE,
                      selectors.EVENT_READ | selectors.EVENT_WRITE), events
    with selectors.DefaultSelector() as sel:
        sel.register(sock, events)
        if not sel.select(timeout):
            raise AssertionError(f"socket not ready for {events} within {timeout}s")


@dataclasses.dataclass(frozen=True)
class Step:
    """One non-blocking attempt: finished with ``value``, or waiting for
    ``events`` (a selectors mask)."""

    done: bool
    value: Any = None
    events: int = 0


class NonBlocking:
    """Non-blocking TLS calls through one of the two paths of the API:

    ``"exception"``: the stdlib-compatible methods, which raise
    SSLWantReadError / SSLWantWriteError;
    ``"fast"``: the ``try_*`` methods, which return WANT_READ / WANT_WRITE
    and must then report the matching ``wanted_events`` (and never raise
    for want-read / want-write).
    """

    PATHS = ("exception", "fast")
    _EXC = {
        "handshake": lambda s: s.do_handshake() or 0,
        "send": lambda s, data: s.send(data),
        "recv_into": lambda s, buf, nbytes=0: s.recv_into(buf, nbytes),
        "unwrap": lambda s: s.unwrap() and 0,
    }
    _FAST = {
        "handshake": lambda s: s.try_do_handshake(),
        "send": lambda s, data: s.try_send(data),
        "recv_into": lambda s, buf, nbytes=0: s.try_recv_into(buf, nbytes),
        "unwrap": lambda s: s.try_unwrap(),
    }

    def __init__(self, impl, path: str):
        assert path in self.PATHS, path
        self.impl, self.path = impl, path

    def attempt(self, sock, op: str, *args) -> Step:
        if self.path == "exception":
            try:
                return Step(True, self._EXC[op](sock, *args))
            except ssl.SSLWantReadError:
                return Step(False, events=selectors.EVENT_READ)
            except ssl.SSLWantWriteError:
                return Step(False, events=selectors.EVENT_WRITE)
        try:
            code = self._FAST[op](sock, *args)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError) as exc:
            raise AssertionError(f"try_{op} raised {type(exc).__name__}: {exc}") from exc
        assert type(code) is int, f"try_{op} returned {code!r}"
        if code >= 0:
            # a short write (part of the data taken) waits for writability for
            # the rest; anything else that completed waits for nothing
            short_write = op == "send" and code < memoryview(args[0]).nbytes
            expected = (0, selectors.EVENT_WRITE) if short_write else (0,)
            assert sock.wanted_events in expected, (op, code, sock.wanted_events)
            return Step(True, code)
        assert code in (self.impl.WANT_READ, self.impl.WANT_WRITE), (op, code)
        events = self.impl.EVENTS_FOR_CODE[code]
        assert sock.wanted_events == events, (op, code, sock.wanted_events)
        return Step(False, events=events)

    def complete(self, sock, op: str, *args, deadline: float = IO_TIMEOUT,
                 max_steps: int = 10000, trace: Optional[list] = None):
        """Repeat ``op`` until it finishes, waiting on ``sock`` in between;
        appends each awaited event mask to ``trace``."""
        end = time.monotonic() + deadline
        for _ in range(max_steps):
            step = self.attempt(sock, op, *args)
            if step.done:
                return step.value
            if trace is not None:
                trace.append(step.events)
            remaining = end - time.monotonic()
            if remaining <= 0:
                break
            wait_for(sock, step.events, remaining)
        raise AssertionError(f"{self.path} {op} unfinished after {deadline}s / {max_steps} steps")


#: the ways to read decrypted data, for ``read_via``
READ_APIS = ("recv", "recv_into", "read", "try_recv_into")


def read_via(impl, sock, api: str, n: int = 100) -> bytes:
    """One read of up to ``n`` bytes through ``api`` (b'' at EOF);
    ``try_recv_into`` waits with the fast path until it has an answer."""
    if api == "recv":
        return sock.recv(n)
    if api == "read":
        return sock.read(n)
    buf = bytearray(n)
    if api == "recv_into":
        k = sock.recv_into(buf, n)
    else:
        assert api == "try_recv_into", api
        k = NonBlocking(impl, "fast").complete(sock, "recv_into", buf, n)
    return bytes(buf[:k])


# --------------------------------------------------------------------------
# subprocesses (openssl, curl, python)
# --------------------------------------------------------------------------

class Process:
    """A subprocess whose combined output is collected by a reader thread,
    so waiting for a line is bounded and the pipe never fills up."""

    def __init__(self, args, *, stdin=subprocess.PIPE, env=None, **popen):
        self.args = list(args)
        self.proc = subprocess.Popen(
            self.args, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=env, bufsize=0, **popen)
        self._lines: "queue.Queue[Optional[str]]" = queue.Queue()
        self._all: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True,
                                        name=f"reader-{os.path.basename(self.args[0])}")
        self._reader.start()

    def _read(self):
        try:
            for raw in iter(self.proc.stdout.readline, b""):
                line = raw.decode("utf-8", "replace")
                self._all.append(line)
                self._lines.put(line)
        except (ValueError, OSError):   # the pipe was closed under us: the end
            pass
        self._lines.put(None)

    @property
    def output(self) -> str:
        return "".join(self._all)

    def wait_for_line(self, pattern: str, timeout: float = IO_TIMEOUT) -> re.Match:
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                break
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                raise AssertionError(f"{self.args[:2]} exited ({self.proc.poll()}) "
                                     f"before printing {pattern!r}:\n{self.output}")
            m = rx.search(line)
            if m:
                return m
        raise AssertionError(f"{self.args[:2]}: no {pattern!r} within {timeout}s:\n{self.output}")

    def finish(self, timeout: float = IO_TIMEOUT) -> int:
        """Wait for exit (bounded) and for all output to be read."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.args[:2]} did not exit in {timeout}s:\n{self.output}")
        self._reader.join(timeout)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
        self._reader.join(2.0)      # EOF reaches it once the process is gone
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    close = kill
