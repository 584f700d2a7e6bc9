"""TLS session resumption with ``SSLSession`` (docs/beyond-stdlib.rst).

The first connection does a full handshake; its ``session`` is handed to
the next ``wrap_socket(..., session=...)``, which resumes it (no
certificate exchange, ``session_reused`` is True).  Both implementations.
Runs against the threaded echo server of ``threaded_server.py`` on a free
loopback port and exits.
"""

from __future__ import annotations

import socket
import tempfile
import threading

import tlsfast
from threaded_server import TLSEchoServer, make_certs


# [start sessions]
def connect(port: int, context: tlsfast.SSLContext,
            session: tlsfast.SSLSession | None = None) -> tlsfast.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    tls = context.wrap_socket(raw, server_hostname="localhost", session=session)
    # TLS 1.3 sends session tickets after the handshake: they arrive with
    # the first data we read, so do one round trip before taking the session
    tls.sendall(b"ping")
    assert tls.recv(4) == b"ping"
    return tls


def resume(port: int, context: tlsfast.SSLContext) -> None:
    with connect(port, context) as first:
        session = first.session                  # an SSLSession (None before connecting)
        assert session is not None
        print("first connection: reused =", first.session_reused,
              "| ticket:", session.has_ticket, "| lifetime hint:",
              session.ticket_lifetime_hint, "s")
        first.unwrap()
    with connect(port, context, session=session) as second:
        print("second connection: reused =", second.session_reused)
        assert second.session_reused
        second.unwrap()
# [end sessions]


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        cafile, certfile = make_certs(d)
        with TLSEchoServer(("127.0.0.1", 0), certfile) as server:
            threading.Thread(target=server.serve_forever, daemon=True).start()
            context = tlsfast.create_default_context(cafile=cafile)
            resume(server.server_address[1], context)
            server.shutdown()
    print(f"session resumed with tlsfast ({tlsfast.__impl__})")


if __name__ == "__main__":
    main()
