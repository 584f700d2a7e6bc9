"""A TLS echo server on ``selectors`` and tlsfast's non-raising fast path
(docs/nonblocking.rst).

One thread, one selector, every socket non-blocking.  Each connection is
driven by ``Connection.step()``, which calls ``try_do_handshake`` /
``try_recv_into`` / ``try_send`` / ``try_unwrap`` until one of them returns
``WANT_READ`` or ``WANT_WRITE``, then tells the loop which selector events
to wait for (``sock.wanted_events``).  No ``SSLWantReadError`` is raised or
caught anywhere.

Run as a script it serves 20 clients (threads with ordinary blocking tlsfast
sockets, some sending 1 MiB) on a free loopback port, checks every echo and
exits.
"""

from __future__ import annotations

import os
import selectors
import socket
import tempfile
import threading
import time

import trustme

import tlsfast

TURNS = 16          # reads + sends per step before giving others a turn


# [start connection]
class Connection:
    """One TLS connection: handshake -> echo -> closing -> done."""

    def __init__(self, tls: tlsfast.SSLSocket) -> None:
        self.tls = tls
        self.state = "handshake"
        self.unsent = bytearray()       # plaintext read but not yet echoed

    def step(self, buf: memoryview) -> int:
        """Advance as far as possible without blocking.  Returns the selector
        events to wait for, RUN_AGAIN (decrypted data may still be buffered
        inside OpenSSL, where no selector can see it), or DONE."""
        tls = self.tls
        if self.state == "handshake":
            if tls.try_do_handshake() < 0:          # WANT_READ / WANT_WRITE
                return tls.wanted_events
            self.state = "echo"
        if self.state == "echo":
            for _ in range(TURNS):
                if self.unsent:
                    n = tls.try_send(self.unsent)   # same data again after a WANT
                    if n < 0:
                        return tls.wanted_events
                    del self.unsent[:n]
                    continue
                n = tls.try_recv_into(buf)          # decrypts straight into buf
                if n < 0:
                    return tls.wanted_events
                if n == 0:                          # peer's close_notify (or EOF)
                    self.state = "closing"
                    break
                self.unsent += buf[:n]
            else:
                return RUN_AGAIN
        if self.state == "closing":
            try:
                if tls.try_unwrap() < 0:            # our close_notify, then theirs
                    return tls.wanted_events
            except OSError:                         # peer left without close_notify
                pass
            self.state = "done"
        return DONE


RUN_AGAIN = -1
DONE = 0
# [end connection]


# [start loop]
def serve(listener: socket.socket, context: tlsfast.SSLContext, max_connections: int) -> int:
    """Accept and echo until ``max_connections`` connections have finished."""
    sel = selectors.DefaultSelector()
    listener.setblocking(False)
    sel.register(listener, selectors.EVENT_READ, None)
    buf = memoryview(bytearray(65536))       # one read buffer for every connection
    ready = []                               # connections that returned RUN_AGAIN
    finished = failed = 0

    def run(conn: Connection) -> None:
        nonlocal finished, failed
        if conn.state == "done":             # closed earlier in this turn
            return
        try:
            events = conn.step(buf)
        except OSError as exc:               # ssl.SSLError is an OSError
            print("connection failed:", exc)
            conn.state, events, failed = "done", DONE, failed + 1
        if events == DONE:
            sel.unregister(conn.tls)
            conn.tls.close()
            finished += 1
        elif events == RUN_AGAIN:
            ready.append(conn)
        elif events != sel.get_key(conn.tls).events:
            sel.modify(conn.tls, events, conn)

    while finished < max_connections:
        for key, _ in sel.select(timeout=0 if ready else 1.0):
            if key.data is None:                 # the listener: new connections
                while True:
                    try:
                        raw, _ = listener.accept()
                    except BlockingIOError:
                        break
                    raw.setblocking(False)
                    tls = context.wrap_socket(raw, server_side=True,
                                              do_handshake_on_connect=False)
                    conn = Connection(tls)
                    sel.register(tls, selectors.EVENT_READ, conn)
                    run(conn)
            else:
                run(key.data)
        again, ready[:] = ready[:], []
        for conn in again:
            run(conn)
    sel.close()
    return failed
# [end loop]


def make_certs(directory: str) -> tuple[str, str]:
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", "127.0.0.1")
    ca_path = os.path.join(directory, "ca.pem")
    chain_path = os.path.join(directory, "server.pem")
    ca.cert_pem.write_to_path(ca_path)
    leaf.private_key_and_cert_chain_pem.write_to_path(chain_path)
    return ca_path, chain_path


def client(port: int, cafile: str, payload: bytes, results: list[bytes | None],
           i: int) -> None:
    context = tlsfast.create_default_context(cafile=cafile)
    with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            sender = threading.Thread(target=tls.sendall, args=(payload,))
            sender.start()
            got = bytearray()
            while len(got) < len(payload):
                chunk = tls.recv(65536)
                if not chunk:
                    break
                got += chunk
            sender.join()
            tls.unwrap()                 # clean TLS shutdown: close_notify both ways
    results[i] = bytes(got)


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        cafile, certfile = make_certs(d)
        context = tlsfast.SSLContext(tlsfast.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certfile)
        listener = socket.create_server(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        payloads = [os.urandom(1 << 20 if i % 5 == 0 else 1000 + i) for i in range(20)]
        results: list[bytes | None] = [None] * len(payloads)
        threads = [threading.Thread(target=client, args=(port, cafile, p, results, i), daemon=True)
                   for i, p in enumerate(payloads)]
        start = time.monotonic()
        for t in threads:
            t.start()
        failed = serve(listener, context, len(payloads))
        for t in threads:
            t.join(30)
        listener.close()
    assert failed == 0, f"{failed} connections failed"
    assert results == payloads, "echo mismatch"
    print(f"selectors server: {len(payloads)} connections, {sum(map(len, payloads))} bytes "
          f"echoed in {time.monotonic() - start:.2f} s with tlsfast ({tlsfast.__impl__})")


if __name__ == "__main__":
    main()
