"""An HTTPS server on eventlet.wsgi, with tlsfast doing the TLS
(docs/eventlet.rst).

``tlsfast.eventlet.wrap_ssl`` wraps a listening green socket; each accepted
connection handshakes in its own greenthread.  No monkey-patching.  Run as
a script: serves on a free loopback port, 50 greenthreads fetch a page each
over tlsfast green client sockets, exits.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable
from typing import Any

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402
import eventlet.wsgi  # noqa: E402

import trustme  # noqa: E402

import tlsfast  # noqa: E402
import tlsfast.eventlet  # noqa: E402


def make_certs(directory: str) -> tuple[str, str]:
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", "127.0.0.1")
    ca_path = os.path.join(directory, "ca.pem")
    chain_path = os.path.join(directory, "server.pem")
    ca.cert_pem.write_to_path(ca_path)
    leaf.private_key_and_cert_chain_pem.write_to_path(chain_path)
    return ca_path, chain_path


# [start server]
def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    body = f"hello from eventlet + tlsfast ({tlsfast.__impl__})\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]


def start_server(certfile: str) -> tuple[Any, int]:
    listener = eventlet.listen(("127.0.0.1", 0))
    tls_listener = tlsfast.eventlet.wrap_ssl(listener, certificate=certfile, server_side=True)
    port = tls_listener.getsockname()[1]
    thread = eventlet.spawn(eventlet.wsgi.server, tls_listener, app, log_output=False)
    return thread, port
# [end server]


# [start client]
def fetch(port: int, cafile: str) -> bytes:
    """One HTTPS GET over a cooperative tlsfast client socket."""
    raw = eventlet.connect(("127.0.0.1", port))
    tls = tlsfast.eventlet.wrap_ssl(raw, server_hostname="localhost", ca_certs=cafile)
    with tls:
        tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        reply = bytearray()
        while chunk := tls.recv(65536):
            reply += chunk
    return bytes(reply)
# [end client]


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        cafile, certfile = make_certs(d)
        thread, port = start_server(certfile)
        try:
            with eventlet.Timeout(30):
                pool = eventlet.GreenPool(50)
                replies = list(pool.imap(lambda _: fetch(port, cafile), range(50)))
        finally:
            thread.kill()
    assert all(r.startswith(b"HTTP/1.1 200 OK") and r.endswith(b"tlsfast (%s)\n" % tlsfast.__impl__.encode())
               for r in replies), replies[:1]
    print(f"eventlet.wsgi: {len(replies)} HTTPS requests served by tlsfast ({tlsfast.__impl__})")


if __name__ == "__main__":
    main()
