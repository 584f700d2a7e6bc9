"""Green-library scenarios, run in a subprocess by tests/test_green.py so
that gevent's and eventlet's hubs (and any monkey-patching) never touch the
pytest process.

    python scenarios.py suite LIB IMPL CA CHAIN KEY [NAME ...]
        run the in-process scenarios (all, or the NAMEs) and print one JSON
        object per scenario on its own line: {"name", "ok", "data", "error"}.
    python scenarios.py serve LIB IMPL CA CHAIN KEY
        serve HTTPS through tlsfast with LIB's WSGI server (gevent: pywsgi,
        eventlet: eventlet.wsgi) on 127.0.0.1 port 0; print
        "LISTENING <port>", then serve until killed (backstop: BACKSTOP s).

LIB is gevent or eventlet, IMPL c or python (TLSFAST_IMPL must match: the
green SSLContext classes use the selected implementation).  Everything is
bounded: each scenario runs under the library's Timeout, every socket wait
has a timeout, every loop a cap.  Monkey-patched programs: patched.py.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import random
import socket
import ssl
import struct
import sys
import time
import traceback
import warnings

warnings.simplefilter("ignore")  # eventlet's deprecation banner

SCENARIO_TIMEOUT = 40.0
BACKSTOP = 150.0
MIB = 1 << 20
N_CLIENTS = 200


# --------------------------------------------------------------------------
# the two libraries behind one small interface
# --------------------------------------------------------------------------

class Kit:
    """What the scenarios need from a green library."""

    def __init__(self, lib: str, impl_name: str, ca: str, chain: str, key: str):
        import tlsfast
        self.tlsfast = tlsfast
        self.lib = lib
        self.impl = importlib.import_module({"c": "tlsfast._tls_c",
                                             "python": "tlsfast._tls_py"}[impl_name])
        self.impl_module = self.impl.__name__
        self.ca, self.chain, self.key = ca, chain, key
        assert tlsfast.__impl__ == impl_name, (tlsfast.__impl__, impl_name)
        if lib == "gevent":
            import gevent
            import gevent.server
            import gevent.socket
            import tlsfast.gevent as green
            self.g = gevent
            self.green = green
            self.Timeout = gevent.Timeout
            self.concurrent_error = green.ConcurrentObjectUseError
        else:
            import eventlet
            import tlsfast.eventlet as green
            self.g = eventlet
            self.green = green
            self.Timeout = eventlet.Timeout
            self.concurrent_error = RuntimeError
        # server: the module's green SSLContext class (selected impl);
        # client: an implementation context made green by green_context()
        self.server_ctx = green.SSLContext(tlsfast.PROTOCOL_TLS_SERVER)
        self.server_ctx.load_cert_chain(chain, key)
        plain_client = self.impl.SSLContext(tlsfast.PROTOCOL_TLS_CLIENT)
        plain_client.load_verify_locations(ca)
        self.client_ctx = green.green_context(plain_client)

    # -- greenlets -----------------------------------------------------------
    def spawn(self, fn, *args, **kwargs):
        return self.g.spawn(fn, *args, **kwargs)

    def sleep(self, seconds=0):
        self.g.sleep(seconds)

    def wait(self, thread, timeout=SCENARIO_TIMEOUT):
        """The result of a spawned greenlet (re-raising its exception)."""
        if self.lib == "gevent":
            thread.join(timeout)
            if not thread.ready():
                raise AssertionError(f"greenlet unfinished after {timeout}s")
            return thread.get()
        with self.Timeout(timeout, AssertionError(f"greenthread unfinished after {timeout}s")):
            return thread.wait()

    def kill(self, thread):
        thread.kill()

    # -- sockets -------------------------------------------------------------
    def listen(self, backlog=1024):
        if self.lib == "gevent":
            sock = self.g.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            sock.listen(backlog)
            return sock
        return self.g.listen(("127.0.0.1", 0), backlog=backlog)

    def connect(self, port):
        if self.lib == "gevent":
            return self.g.socket.create_connection(("127.0.0.1", port), timeout=10)
        return self.g.connect(("127.0.0.1", port))

    def unconnected(self):
        if self.lib == "gevent":
            return self.g.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        from eventlet.green import socket as gsocket
        return gsocket.socket(socket.AF_INET, socket.SOCK_STREAM)

    def client(self, port, **kwargs):
        kwargs.setdefault("server_hostname", "localhost")
        return self.client_ctx.wrap_socket(self.connect(port), **kwargs)

    def server_wrap(self, sock, **kwargs):
        return self.server_ctx.wrap_socket(sock, server_side=True, **kwargs)

    def serve_forever(self, handle, listener=None):
        """Accept TLS connections and run ``handle(sock)`` in a greenlet each:
        gevent through StreamServer(ssl_context=...), eventlet through a
        listening GreenSSLSocket's accept() (lazy handshake).  Returns
        (port, stop)."""
        listener = listener or self.listen()
        port = listener.getsockname()[1]
        if self.lib == "gevent":
            import gevent.pool
            pool = gevent.pool.Pool(2000)
            server = self.g.server.StreamServer(
                listener, lambda s, addr: handle(s), ssl_context=self.server_ctx, spawn=pool)
            server.start()

            def stop():
                pool.join(timeout=5)  # let handlers finish before the server goes
                server.stop(timeout=1)
            return port, stop
        tls_listener = self.green.wrap_socket(listener, self.server_ctx, server_side=True)
        pool = self.g.GreenPool(2000)

        def handshake_then_handle(s):
            # accept() leaves the handshake to the first I/O: do it now, so
            # handlers that start by waiting behave as with gevent
            s.do_handshake()
            handle(s)

        def loop():
            while True:
                s, _ = tls_listener.accept()
                pool.spawn(handshake_then_handle, s)

        acceptor = self.spawn(loop)

        def stop():
            acceptor.kill()
            with self.Timeout(5, False):
                pool.waitall()
            tls_listener.close()
        return port, stop


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def payload(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def recv_exact(sock, n: int) -> bytes:
    out = bytearray()
    for _ in range(n + 1):
        if len(out) >= n:
            break
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise AssertionError(f"EOF after {len(out)}/{n} bytes")
        out += chunk
    return bytes(out)


def recv_digest(sock, size: int) -> tuple[int, str]:
    h = hashlib.sha256()
    buf = bytearray(65536)
    view = memoryview(buf)
    got = 0
    for _ in range(size + 1):
        if got >= size:
            break
        n = sock.recv_into(buf, min(len(buf), size - got))
        if not n:
            break
        h.update(view[:n])
        got += n
    return got, h.hexdigest()


def expect_raises(exc_types, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc_types as exc:
        return exc
    raise AssertionError(f"{getattr(fn, '__name__', fn)} did not raise {exc_types}")


# --------------------------------------------------------------------------
# scenarios: each returns a JSON-able dict (asserting on the way)
# --------------------------------------------------------------------------

def sc_many_clients(kit: Kit) -> dict:
    """N_CLIENTS concurrent clients, each uploading 1 MiB and downloading
    1 MiB through a tlsfast green server; every byte hash-checked."""
    served = []

    def handle(sock):
        seed, size = struct.unpack("!QQ", recv_exact(sock, 16))
        got, digest = recv_digest(sock, size)
        sock.sendall(bytes.fromhex(digest))
        sock.sendall(payload(seed ^ 0xFFFF, size))
        served.append((got, type(sock._sslobj).__module__))
        sock.close()

    port, stop = kit.serve_forever(handle)

    def client(i):
        s = kit.client(port)
        try:
            s.settimeout(30)
            data = payload(i, MIB)
            s.sendall(struct.pack("!QQ", i, MIB))
            s.sendall(data)
            if recv_exact(s, 32) != hashlib.sha256(data).digest():
                return "upload digest mismatch"
            got, digest = recv_digest(s, MIB)
            want = hashlib.sha256(payload(i ^ 0xFFFF, MIB)).hexdigest()
            if (got, digest) != (MIB, want):
                return f"download mismatch ({got} bytes)"
            return "ok"
        finally:
            s.close()

    t0 = time.monotonic()
    threads = [kit.spawn(client, i) for i in range(N_CLIENTS)]
    results = []
    for t in threads:
        try:
            results.append(kit.wait(t))
        except Exception as exc:  # noqa: BLE001 - counted below
            results.append(f"{type(exc).__name__}: {exc}")
    elapsed = time.monotonic() - t0
    stop()
    bad = [r for r in results if r != "ok"]
    assert not bad, bad[:5]
    assert len(served) == N_CLIENTS and all(g == MIB for g, _ in served), len(served)
    return {"clients": len(results), "elapsed": elapsed,
            "server_tls_modules": sorted({m for _, m in served})}


def _silent_listener(kit: Kit):
    """A TCP listener that accepts and never says anything; returns (port, stop)."""
    lsock = kit.listen(16)
    held = []

    def loop():
        while True:
            conn, _ = lsock.accept()
            held.append(conn)

    t = kit.spawn(loop)

    def stop():
        kit.kill(t)
        for c in held:
            c.close()
        lsock.close()
    return lsock.getsockname()[1], stop


def sc_timeout_handshake(kit: Kit) -> dict:
    """A silent server: the client's handshake times out (socket.timeout)."""
    port, stop = _silent_listener(kit)
    try:
        raw = kit.connect(port)
        raw.settimeout(0.3)
        t0 = time.monotonic()
        exc = expect_raises(socket.timeout, kit.client_ctx.wrap_socket, raw,
                            server_hostname="localhost")
        return {"elapsed": time.monotonic() - t0, "exc": type(exc).__name__, "msg": str(exc)}
    finally:
        stop()


def sc_timeout_recv(kit: Kit) -> dict:
    """An established connection whose peer stays silent: recv times out
    within bound, and data arriving later is still read."""
    release = []

    def handle(sock):
        for _ in range(200):
            if release:
                break
            kit.sleep(0.02)
        sock.sendall(b"late")
        kit.sleep(0.5)
        sock.close()

    port, stop = kit.serve_forever(handle)
    try:
        s = kit.client(port)
        s.settimeout(0.3)
        t0 = time.monotonic()
        exc = expect_raises(socket.timeout, s.recv, 100)
        elapsed = time.monotonic() - t0
        release.append(1)
        s.settimeout(5)
        late = recv_exact(s, 4)
        s.close()
        return {"elapsed": elapsed, "exc": type(exc).__name__, "msg": str(exc),
                "late": late.decode()}
    finally:
        stop()


def _held_open(kit: Kit, released: list, polls: int = 250):
    """A server handler that holds its connection, never reading, until
    ``released`` is non-empty (or ``polls`` x 20 ms), then closes it."""
    def handle(sock):
        for _ in range(polls):
            if released:
                break
            kit.sleep(0.02)
        sock.close()
    return handle


def sc_timeout_send(kit: Kit) -> dict:
    """A peer that stops reading: sendall times out (socket.timeout) within
    bound once the socket buffers are full; the deadline covers the whole
    sendall."""
    done = []
    port, stop = kit.serve_forever(_held_open(kit, done))
    try:
        s = kit.client(port)
        s.settimeout(0.3)
        t0 = time.monotonic()
        exc = expect_raises(socket.timeout, s.sendall, b"x" * (32 * MIB))
        elapsed = time.monotonic() - t0
        done.append(1)
        s.close()
        return {"elapsed": elapsed, "exc": type(exc).__name__, "msg": str(exc)}
    finally:
        stop()


def sc_timeout_server_side(kit: Kit) -> dict:
    """A client that connects and never sends its ClientHello: the server's
    handshake times out."""
    lsock = kit.listen(16)
    port = lsock.getsockname()[1]
    raw_client = kit.connect(port)
    try:
        conn, _ = lsock.accept()
        conn.settimeout(0.3)
        t0 = time.monotonic()
        exc = expect_raises(socket.timeout, kit.server_wrap, conn)
        return {"elapsed": time.monotonic() - t0, "exc": type(exc).__name__}
    finally:
        raw_client.close()
        lsock.close()


def sc_concurrent_read(kit: Kit) -> dict:
    """Two greenlets reading one socket: the second gets the library's
    concurrent-use error (gevent: ConcurrentObjectUseError, eventlet:
    RuntimeError 'Second simultaneous read')."""
    def handle(sock):
        kit.sleep(0.4)
        sock.sendall(b"x")
        kit.sleep(0.2)
        sock.close()

    port, stop = kit.serve_forever(handle)
    try:
        s = kit.client(port)
        s.settimeout(5)
        first = kit.spawn(s.recv, 10)
        kit.sleep(0.1)  # first is now waiting on the hub
        exc = expect_raises(kit.concurrent_error, s.recv, 10)
        data = kit.wait(first)
        s.close()
        return {"exc": type(exc).__name__, "msg": str(exc)[:80], "first": data.decode()}
    finally:
        stop()


def sc_close_wakes_reader(kit: Kit) -> dict:
    """close() from another greenlet wakes a reader blocked on the socket
    (gevent: OSError EBADF; eventlet: end of stream)."""
    done = []
    port, stop = kit.serve_forever(_held_open(kit, done, 150))
    try:
        s = kit.client(port)
        s.settimeout(10)

        def reader():
            try:
                return ("data", s.recv(10).decode())
            except OSError as exc:
                return ("error", type(exc).__name__, exc.errno)

        t = kit.spawn(reader)
        kit.sleep(0.1)
        t0 = time.monotonic()
        s.close()
        outcome = kit.wait(t, 5)
        done.append(1)
        return {"outcome": list(outcome), "elapsed": time.monotonic() - t0,
                "closed_fileno": s.fileno()}
    finally:
        stop()


def sc_unwrap(kit: Kit) -> dict:
    """TLS, then both sides unwrap() concurrently, then cleartext over the
    same connection (STARTTLS in reverse)."""
    out = {}

    def handle(sock):
        line = recv_exact(sock, 6)
        sock.sendall(line.upper())
        plain = sock.unwrap()
        out["server_same_object"] = plain is sock
        out["server_version_after"] = sock.version()
        plain.sendall(b"clear from server")
        out["server_got"] = recv_exact(plain, 17).decode()
        plain.close()

    port, stop = kit.serve_forever(handle)
    try:
        s = kit.client(port)
        s.settimeout(10)
        s.sendall(b"unwrap")
        out["reply"] = recv_exact(s, 6).decode()
        version = s.version()
        plain = s.unwrap()
        out["client_version_before"] = version
        out["client_version_after"] = plain.version()
        out["client_got"] = recv_exact(plain, 17).decode()
        plain.sendall(b"clear from client")
        exc = expect_raises(ValueError, plain.unwrap)
        out["second_unwrap"] = type(exc).__name__
        kit.sleep(0.2)
        plain.close()
        return out
    finally:
        stop()


def sc_close_behaviour(kit: Kit) -> dict:
    """close(): peer sees EOF; makefile keeps the connection until closed;
    I/O after close raises; close twice is harmless; context manager closes."""
    out = {}
    events = []

    def handle(sock):
        f = sock.makefile("rwb")
        line = f.readline()
        f.write(b"echo:" + line)
        f.flush()
        events.append(("server_line", line.decode()))
        rest = sock.recv(10)  # client closes -> EOF
        events.append(("server_eof", rest.decode()))
        f.close()
        sock.close()

    port, stop = kit.serve_forever(handle)
    try:
        s = kit.client(port)
        s.settimeout(10)
        f = s.makefile("rwb")
        f.write(b"hello\n")
        f.flush()
        s.close()  # the file still holds the connection
        out["reply_after_close_with_file"] = f.readline().decode()
        f.close()  # now the socket really closes
        for _ in range(100):
            if len(events) >= 2:
                break
            kit.sleep(0.02)
        out["server"] = [list(e) for e in events]
        out["fileno_after"] = s.fileno()
        exc = expect_raises((OSError, ValueError), s.send, b"x")
        out["send_after_close"] = type(exc).__name__
        s.close()  # again: no error
        with kit.client(port) as s2:
            s2.settimeout(10)
            s2.sendall(b"ctx\n")
            out["ctx_reply"] = recv_exact(s2, 9).decode()
        out["ctx_closed_fileno"] = s2.fileno()
        return out
    finally:
        stop()


def sc_peer_close(kit: Kit) -> dict:
    """The server closes without close_notify, and after one: recv gives b''."""
    def handle(sock):
        mode = recv_exact(sock, 1)
        sock.sendall(b"bye")
        if mode == b"n":
            sock.unwrap().close()      # close_notify then TCP close
        else:
            sock.close()               # TCP close only (ragged EOF)

    port, stop = kit.serve_forever(handle)
    out = {}
    try:
        for mode in ("n", "r"):
            s = kit.client(port)
            s.settimeout(10)
            s.sendall(mode.encode())
            data = recv_exact(s, 3)
            if mode == "n":
                out["notify"] = [data.decode(), s.recv(10).decode()]
                s.unwrap().close() if s._sslobj is not None else s.close()
            else:
                out["ragged"] = [data.decode(), s.recv(10).decode()]
                s.close()
        return out
    finally:
        stop()


def sc_read_into_small_buffer(kit: Kit) -> dict:
    """read(len, buffer) as the stdlib: ``len`` larger than the buffer (the
    default 1024 included), 0 or negative all mean the whole buffer."""
    def handle(sock):
        recv_exact(sock, 1)
        sock.sendall(b"0123456789AB")
        recv_exact(sock, 1)

    port, stop = kit.serve_forever(handle)
    try:
        s = kit.client(port)
        s.settimeout(10)
        s.sendall(b"go")
        out = []
        for length in (None, 8, 0, -1):
            buf = bytearray(3)
            n = s.read(buffer=buf) if length is None else s.read(length, buf)
            out.append(bytes(buf[:n]).decode())
        s.close()
        return {"reads": out}
    finally:
        stop()


def sc_nonblocking(kit: Kit) -> dict:
    """timeout 0.0: would-block raises SSLWantReadError like ssl.SSLSocket."""
    def handle(sock):
        kit.sleep(0.5)
        sock.close()

    port, stop = kit.serve_forever(handle)
    try:
        s = kit.client(port)
        s.setblocking(False)
        exc = expect_raises(ssl.SSLWantReadError, s.recv, 10)
        exc2 = expect_raises(ssl.SSLWantReadError, s.recv_into, bytearray(10))
        s.close()
        return {"exc": type(exc).__name__, "exc2": type(exc2).__name__}
    finally:
        stop()


def sc_connect_later(kit: Kit) -> dict:
    """wrap an unconnected socket, then connect(): TLS and handshake happen
    in connect; ALPN, peer certificate and version visible through the green
    socket; connect_ex too."""
    def handle(sock):
        sock.sendall(b"hi")
        kit.sleep(0.3)
        sock.close()

    kit.server_ctx.set_alpn_protocols(["h2", "http/1.1"])
    kit.client_ctx.set_alpn_protocols(["http/1.1"])
    port, stop = kit.serve_forever(handle)
    try:
        sock = kit.unconnected()
        sock.settimeout(10)
        s = kit.client_ctx.wrap_socket(sock, server_hostname="localhost")
        before = [s.version(), s.cipher()]
        s.connect(("127.0.0.1", port))
        out = {"before": before, "version": s.version(), "alpn": s.selected_alpn_protocol(),
               "peer_san": s.getpeercert()["subjectAltName"][0][1],
               "tls_module": type(s._sslobj).__module__, "data": recv_exact(s, 2).decode()}
        s.close()
        sock2 = kit.unconnected()
        sock2.settimeout(10)
        s2 = kit.client_ctx.wrap_socket(sock2, server_hostname="localhost")
        out["connect_ex"] = s2.connect_ex(("127.0.0.1", port))
        out["data2"] = recv_exact(s2, 2).decode()
        s2.close()
        return out
    finally:
        stop()
        kit.server_ctx.set_alpn_protocols(["http/1.1"])
        kit.client_ctx.set_alpn_protocols(["http/1.1"])


def sc_listening_accept(kit: Kit) -> dict:
    """A listening green TLS socket: accept() returns green TLS sockets
    (gevent: handshaken in accept; eventlet: at the first read/write)."""
    lsock = kit.green.wrap_socket(kit.listen(16), kit.server_ctx, server_side=True)
    port = lsock.getsockname()[1]
    out = {}

    def server():
        conn, _ = lsock.accept()
        out["accepted_class"] = type(conn).__name__
        out["version_at_accept"] = conn.version()
        conn.settimeout(10)
        conn.sendall(recv_exact(conn, 4)[::-1])
        conn.close()

    t = kit.spawn(server)
    try:
        s = kit.client(port)
        s.settimeout(10)
        s.sendall(b"abcd")
        out["reply"] = recv_exact(s, 4).decode()
        kit.wait(t, 10)
        s.close()
        return out
    finally:
        lsock.close()


def sc_wrap_ssl(kit: Kit) -> dict:
    """eventlet only: the wrap_ssl() helper on both ends (certificate /
    private_key server, ca_certs + server_hostname client, impl chosen)."""
    if kit.lib != "eventlet":
        return {"skipped": "eventlet only"}
    import eventlet
    green = kit.green
    listener = green.wrap_ssl(eventlet.listen(("127.0.0.1", 0)), certificate=kit.chain,
                              private_key=kit.key, server_side=True, impl=kit.impl)
    port = listener.getsockname()[1]

    def server():
        conn, _ = listener.accept()
        conn.sendall(recv_exact(conn, 3).upper())
        kit.sleep(0.2)
        conn.close()

    t = kit.spawn(server)
    try:
        c = green.wrap_ssl(eventlet.connect(("127.0.0.1", port)), ca_certs=kit.ca,
                           server_hostname="localhost", impl=kit.impl)
        c.sendall(b"abc")
        out = {"reply": recv_exact(c, 3).decode(), "tls_module": type(c._sslobj).__module__,
               "verified": bool(c.getpeercert())}
        c.close()
        kit.wait(t, 10)
        # a client that verifies against the system CAs rejects the test CA
        bad = eventlet.connect(("127.0.0.1", port))
        def doomed():
            conn = listener.accept()[0]
            try:
                conn.recv(1)
            except ssl.SSLError as exc:  # the client's "unknown ca" alert
                return exc.reason
            finally:
                conn.close()

        t2 = kit.spawn(doomed)
        exc = expect_raises(ssl.SSLCertVerificationError, green.wrap_ssl, bad,
                            server_hostname="localhost", impl=kit.impl)
        out["unverified_rejected"] = type(exc).__name__
        out["server_saw"] = kit.wait(t2, 10)
        return out
    finally:
        listener.close()


def sc_unwrap_timeout(kit: Kit) -> dict:
    """unwrap() with a peer that neither answers close_notify nor reads:
    waiting for the peer's close_notify times out as a read, and -- once
    the transport is full, our close_notify stuck behind a record -- waiting
    to send it times out as a write (the stdlib's messages)."""
    release = []
    port, stop = kit.serve_forever(_held_open(kit, release))
    out = {}
    try:
        for case in ("read", "write"):
            s = kit.client(port)
            s.settimeout(0.3)
            if case == "write":
                expect_raises(socket.timeout, s.sendall, b"x" * (32 * MIB))
            t0 = time.monotonic()
            exc = expect_raises(socket.timeout, s.unwrap)
            out[case] = {"exc": type(exc).__name__, "msg": str(exc),
                         "elapsed": time.monotonic() - t0}
            s.close()
        return out
    finally:
        release.append(1)
        stop()


def _probe_server_wrap(wrap, sock) -> dict:
    """What wrap_socket(sock, server_side=True) of an unconnected socket
    gives, and what the result then does."""
    try:
        s = wrap(sock)
    except Exception as exc:  # noqa: BLE001 - the outcome is the result
        sock.close()
        return {"wrap": [type(exc).__name__, getattr(exc, "errno", None), str(exc)]}
    out = {"wrap": "ok", "server_side": s.server_side, "version": s.version(),
           "cipher": s.cipher()}
    calls = (("do_handshake", s.do_handshake), ("getpeercert", s.getpeercert),
             ("connect", lambda: s.connect(("127.0.0.1", 9))))
    for name, call in calls:
        try:
            call()
            out[name] = "returned"
        except Exception as exc:  # noqa: BLE001 - the outcome is the result
            out[name] = [type(exc).__name__, getattr(exc, "errno", None), str(exc)]
    s.close()
    return out


def sc_server_wrap_unconnected(kit: Kit) -> dict:
    """wrap_socket(unconnected, server_side=True) with tlsfast's green
    context, the stdlib's ssl and the library's own green ssl (none of
    these calls waits: nothing is connected)."""
    stdlib_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    stdlib_ctx.load_cert_chain(kit.chain, kit.key)
    if kit.lib == "gevent":
        import gevent.ssl as library_ssl
        library_ctx = library_ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    else:
        from eventlet.green import ssl as library_ssl
        library_ctx = library_ssl.GreenSSLContext(ssl.PROTOCOL_TLS_SERVER)
    library_ctx.load_cert_chain(kit.chain, kit.key)
    return {
        "tlsfast": _probe_server_wrap(kit.server_wrap, kit.unconnected()),
        "stdlib": _probe_server_wrap(
            lambda s: stdlib_ctx.wrap_socket(s, server_side=True),
            socket.socket(socket.AF_INET, socket.SOCK_STREAM)),
        "library": _probe_server_wrap(
            lambda s: library_ctx.wrap_socket(s, server_side=True), kit.unconnected()),
    }


def _counting_client(kit: Kit, port: int):
    """A stdlib SSLObject over a raw green socket, so that the test sees
    every record the server sends; returns (raw, obj, incoming, outgoing)."""
    ctx = ssl.create_default_context(cafile=kit.ca)
    raw = kit.connect(port)
    raw.settimeout(10)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    for _ in range(100):
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            raw.sendall(outgoing.read())
            chunk = raw.recv(65536)
            assert chunk, "EOF in the handshake"
            incoming.write(chunk)
    raw.sendall(outgoing.read())
    return raw, obj, incoming, outgoing


def _read_records(raw, obj, incoming, marker: bytes) -> tuple[bytes, list[int]]:
    """Read until the plaintext ends with ``marker``; returns it and the
    lengths of the application-data records read on the way."""
    wire, plain = bytearray(), bytearray()
    for _ in range(10_000):
        if plain.endswith(marker):
            break
        chunk = raw.recv(1 << 20)
        assert chunk, f"EOF after {len(plain)} bytes"
        wire += chunk
        incoming.write(chunk)
        while True:
            try:
                plain += obj.read(1 << 20)
            except ssl.SSLWantReadError:
                break
    lengths, i = [], 0
    while i + 5 <= len(wire):
        length = int.from_bytes(wire[i + 3:i + 5], "big")
        if wire[i] == 23:
            lengths.append(length)
        i += 5 + length
    return bytes(plain), lengths


def sc_sendmsg(kit: Kit) -> dict:
    """The green sendmsg: several buffers in one record, a large one in
    whole records, every byte in order; the no-TLS checks."""
    out = {}
    big = payload(7, 100_000)

    def handle(sock):
        sock.settimeout(10)
        out["small"] = sock.sendmsg([b"a" * 100, b"b" * 200, b"c" * 300, b"|"])
        sock.recv(1)
        from tlsfast._green import sendmsg_all
        sendmsg_all(sock, [b"h" * 200, big, b"#"])
        for bad in (b"abc", [5]):
            out.setdefault("type_errors", []).append(
                type(expect_raises(TypeError, sock.sendmsg, bad)).__name__)
        out["ancdata"] = type(expect_raises(
            NotImplementedError, sock.sendmsg, [b"x"],
            [(socket.SOL_SOCKET, socket.SCM_RIGHTS, b"\0\0\0\0")])).__name__
        sock.recv(1)

    port, stop = kit.serve_forever(handle)
    try:
        raw, obj, incoming, outgoing = _counting_client(kit, port)
        plain, small = _read_records(raw, obj, incoming, b"|")
        assert plain == b"a" * 100 + b"b" * 200 + b"c" * 300 + b"|"
        obj.write(b"!")
        raw.sendall(outgoing.read())
        plain, large = _read_records(raw, obj, incoming, b"#")
        assert plain == b"h" * 200 + big + b"#", len(plain)
        out["records_small"], out["records_large"] = small, large
        obj.write(b"!")
        raw.sendall(outgoing.read())
        raw.close()
    finally:
        stop()
    return out


def sc_wsgi_records(kit: Kit) -> dict:
    """Application-data records per response (100 and 40000-byte
    bodies): gevent.pywsgi's stock handler and tlsfast.gevent.WSGIHandler;
    eventlet.wsgi (its own 16 KiB BufferedWriter joins small writes)."""
    def app(environ, start_response):
        body = b"x" * int(environ.get("QUERY_STRING") or 100)
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(body)))])
        return [body]

    out = {}
    if kit.lib == "eventlet":
        import eventlet.wsgi
        listener = kit.green.GreenSSLSocket(kit.listen(), kit.server_ctx, server_side=True)
        server = kit.spawn(eventlet.wsgi.server, listener, app, log_output=False)
        try:
            for size in (100, 40_000):
                raw, obj, incoming, outgoing = _counting_client(kit, listener.getsockname()[1])
                obj.write(f"GET /?{size} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                raw.sendall(outgoing.read())
                out[f"eventlet_{size}"] = _wsgi_exchange(raw, obj, incoming, size)
                raw.close()
        finally:
            server.kill()
        return out
    from gevent.pywsgi import WSGIHandler as Stock, WSGIServer
    for name, handler in (("stock", Stock), ("tlsfast", kit.green.WSGIHandler)):
        server = WSGIServer(kit.listen(), app, ssl_context=kit.server_ctx, log=None,
                            handler_class=handler)
        server.start()
        try:
            for size in (100, 40_000):
                raw, obj, incoming, outgoing = _counting_client(kit, server.address[1])
                obj.write(f"GET /?{size} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                raw.sendall(outgoing.read())
                out[f"{name}_{size}"] = _wsgi_exchange(raw, obj, incoming, size)
                raw.close()
        finally:
            server.stop(timeout=1)
    return out


def _wsgi_exchange(raw, obj, incoming, size: int) -> list:
    plain, lengths = _read_records(raw, obj, incoming, b"x" * min(size, 50))
    head, _, body = plain.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert body == b"x" * size, len(body)
    return lengths


SCENARIOS = {name[3:]: fn for name, fn in globals().items() if name.startswith("sc_")}


def run_suite(kit: Kit, names: list[str]) -> None:
    for name in names or list(SCENARIOS):
        t0 = time.monotonic()
        record = {"name": name, "ok": False, "data": None, "error": None}
        try:
            with kit.Timeout(SCENARIO_TIMEOUT, AssertionError(f"{name}: over {SCENARIO_TIMEOUT}s")):
                record["data"] = SCENARIOS[name](kit)
            record["ok"] = True
        except BaseException:  # noqa: BLE001 - reported to the test
            record["error"] = traceback.format_exc()
        record["seconds"] = round(time.monotonic() - t0, 3)
        print(json.dumps(record), flush=True)


# --------------------------------------------------------------------------
# serve: the libraries' WSGI servers over tlsfast
# --------------------------------------------------------------------------

def make_app(kit: Kit, stats: dict):
    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/stats":
            body = json.dumps(stats).encode()
        elif path == "/echo":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            data = environ["wsgi.input"].read(length) if length else b""
            body = json.dumps({"length": len(data),
                               "sha256": hashlib.sha256(data).hexdigest()}).encode()
        elif path == "/big":
            n = int(environ.get("QUERY_STRING") or MIB)
            body = payload(n, n)
        else:
            body = b"hello from tlsfast " + environ["wsgi.url_scheme"].encode()
        stats["requests"] = stats.get("requests", 0) + 1
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    return app


def run_serve(kit: Kit) -> None:
    stats = {"lib": kit.lib, "tls_modules": [], "wrapped": 0, "requests": 0}

    def note(sock):
        if sock._sslobj is None:  # the peer reset before the wrap: no TLS, dead socket
            stats["unconnected"] = stats.get("unconnected", 0) + 1
            return sock
        stats["wrapped"] += 1
        mod = type(sock._sslobj).__module__
        if mod not in stats["tls_modules"]:
            stats["tls_modules"].append(mod)
        return sock

    app = make_app(kit, stats)
    if kit.lib == "gevent":
        from gevent.pywsgi import WSGIServer

        class CountingContext(kit.green.GreenContext):
            __slots__ = ()

            def wrap_socket(self, sock, **kwargs):
                return note(super().wrap_socket(sock, **kwargs))

        ctx = CountingContext(kit.server_ctx)
        server = WSGIServer(kit.listen(), app, ssl_context=ctx, log=None)
        server.start()
        print(f"LISTENING {server.address[1]}", flush=True)
        kit.g.sleep(BACKSTOP)
        server.stop(timeout=1)
    else:
        import eventlet.wsgi

        class CountingSocket(kit.green.GreenSSLSocket):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                if self.server_side and self._sslobj is not None:
                    note(self)

        listener = CountingSocket(kit.listen(), kit.server_ctx, server_side=True)
        print(f"LISTENING {listener.getsockname()[1]}", flush=True)
        server = kit.spawn(eventlet.wsgi.server, listener, app, log_output=False)
        kit.sleep(BACKSTOP)
        server.kill()


def main(argv: list[str]) -> int:
    mode, lib, impl_name, ca, chain, key, *names = argv
    if os.environ.get("TLSFAST_IMPL") != impl_name:
        raise SystemExit(f"TLSFAST_IMPL must be {impl_name!r}")
    kit = Kit(lib, impl_name, ca, chain, key)
    if mode == "suite":
        run_suite(kit, names)
    elif mode == "serve":
        run_serve(kit)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
