"""An HTTPS server on gevent's pywsgi, with tlsfast doing the TLS
(docs/gevent.rst).

``tlsfast.gevent.SSLContext`` is a context whose ``wrap_socket`` returns
cooperative tlsfast sockets; gevent's servers take it as ``ssl_context=``.
No monkey-patching.  Run as a script: serves on a free loopback port, 50
greenlets fetch a page each over tlsfast green client sockets, exits.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any

import gevent
import gevent.pool
from gevent import socket
from gevent.pywsgi import WSGIServer

import trustme

import tlsfast
import tlsfast.gevent


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
    body = f"hello from gevent + tlsfast ({tlsfast.__impl__})\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]


def make_server(certfile: str) -> WSGIServer:
    context = tlsfast.gevent.SSLContext(tlsfast.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile)
    # the handshake runs in each connection's own greenlet
    return WSGIServer(("127.0.0.1", 0), app, ssl_context=context, log=None)
# [end server]


# [start client]
def fetch(port: int, context: tlsfast.gevent.SSLContext) -> bytes:
    """One HTTPS GET over a cooperative tlsfast client socket."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    with context.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        reply = bytearray()
        while chunk := tls.recv(65536):
            reply += chunk
    return bytes(reply)
# [end client]


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        cafile, certfile = make_certs(d)
        server = make_server(certfile)
        server.start()
        client_context = tlsfast.gevent.create_default_context(cafile=cafile)
        try:
            with gevent.Timeout(30):
                pool = gevent.pool.Pool(50)
                replies = pool.map(lambda _: fetch(server.server_port, client_context), range(50))
        finally:
            server.stop(timeout=5)
    assert all(r.startswith(b"HTTP/1.1 200 OK") and r.endswith(b"tlsfast (%s)\n" % tlsfast.__impl__.encode())
               for r in replies), replies[:1]
    print(f"gevent pywsgi: {len(replies)} HTTPS requests served by tlsfast ({tlsfast.__impl__})")


if __name__ == "__main__":
    main()
