"""A threaded TLS echo server with tlsfast (docs/quickstart.rst).

One thread per connection (``socketserver.ThreadingTCPServer``), blocking
sockets with a timeout, the handshake done in the connection's thread so a
slow client never holds up ``accept()``.  Run as a script it serves on a free
loopback port with a throw-away trustme certificate, runs 8 concurrent
clients that each send 256 KiB and check the echo, and exits.
"""

from __future__ import annotations

import hashlib
import os
import socket
import socketserver
import tempfile
import threading

import trustme

import tlsfast


def make_certs(directory: str) -> tuple[str, str]:
    """A throw-away CA and a certificate for localhost / 127.0.0.1."""
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", "127.0.0.1")
    ca_path = os.path.join(directory, "ca.pem")
    chain_path = os.path.join(directory, "server.pem")   # key + certificate chain
    ca.cert_pem.write_to_path(ca_path)
    leaf.private_key_and_cert_chain_pem.write_to_path(chain_path)
    return ca_path, chain_path


# [start server]
class TLSEchoHandler(socketserver.BaseRequestHandler):
    """Runs in the connection's own thread."""

    server: TLSEchoServer

    def handle(self) -> None:
        raw = self.request
        raw.settimeout(10.0)                    # bounds the handshake and every recv/send
        try:
            tls = self.server.context.wrap_socket(raw, server_side=True)
        except (OSError, tlsfast.SSLError) as exc:   # a port scanner, a client that
            print("handshake failed:", exc)           # does not trust us...
            return
        with tls:
            buf = bytearray(65536)
            while True:
                n = tls.recv_into(buf)
                if n == 0:                      # close_notify (or EOF): done
                    break
                tls.sendall(memoryview(buf)[:n])
            try:
                tls.unwrap()                    # answer the client's close_notify
            except OSError:                     # it left without one
                pass


class TLSEchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], certfile: str) -> None:
        super().__init__(address, TLSEchoHandler)
        self.context = tlsfast.SSLContext(tlsfast.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certfile)
# [end server]


# [start client]
def echo_client(port: int, cafile: str, payload: bytes) -> bytes:
    context = tlsfast.create_default_context(cafile=cafile)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            received = bytearray()
            sender = threading.Thread(target=tls.sendall, args=(payload,))
            sender.start()                      # one thread sends while this one reads
            buf = bytearray(65536)
            while len(received) < len(payload):
                n = tls.recv_into(buf)
                if n == 0:
                    break
                received += buf[:n]
            sender.join()
            tls.unwrap()                        # clean shutdown: close_notify both ways
    return bytes(received)
# [end client]


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        cafile, certfile = make_certs(d)
        with TLSEchoServer(("127.0.0.1", 0), certfile) as server:
            port = server.server_address[1]
            threading.Thread(target=server.serve_forever, daemon=True).start()
            payloads = [os.urandom(256 * 1024) for _ in range(8)]
            results: list[bytes | None] = [None] * len(payloads)

            def run(i: int) -> None:
                results[i] = echo_client(port, cafile, payloads[i])

            clients = [threading.Thread(target=run, args=(i,)) for i in range(len(payloads))]
            for t in clients:
                t.start()
            for t in clients:
                t.join(60)
            server.shutdown()
    for payload, got in zip(payloads, results):
        assert got == payload, "echo mismatch"
    digest = hashlib.sha256(b"".join(payloads)).hexdigest()[:16]
    print(f"{len(payloads)} clients echoed {sum(map(len, payloads))} bytes "
          f"(sha256 {digest}...) with tlsfast ({tlsfast.__impl__})")


if __name__ == "__main__":
    main()
