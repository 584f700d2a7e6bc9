"""A blocking HTTPS client with tlsfast (docs/quickstart.rst).

    python docs/examples/quickstart_client.py
        starts the demo server (``python -m tlsfast serve``) on a free
        loopback port with a throw-away certificate, fetches one page from
        it, and exits;
    python docs/examples/quickstart_client.py --port 8443 --cafile .tlsfast-demo/ca.pem
        talks to a ``make serve`` already running instead.
"""

from __future__ import annotations

import argparse
import re
import socket
import subprocess
import sys
import tempfile

import tlsfast


# [start client]
def fetch(host: str, port: int, cafile: str, path: str = "/") -> tuple[str, str]:
    """GET ``path`` over HTTPS; return (status line, body)."""
    # A client context with the stdlib's secure defaults: TLS >= 1.2, the
    # server's certificate verified against ``cafile`` and its host name
    # checked against ``server_hostname``.
    context = tlsfast.create_default_context(cafile=cafile)
    with socket.create_connection((host, port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            print("connected with", tls.version(), tls.cipher())
            cert = tls.getpeercert() or {}      # the stdlib's dict (None: no certificate)
            names = [value for kind, value in cert["subjectAltName"]]
            print("server certificate valid for", ", ".join(names))
            request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
            tls.sendall(request.encode("ascii"))
            reply = bytearray()
            buf = bytearray(16384)
            while True:
                n = tls.recv_into(buf)      # decrypts straight into buf
                if n == 0:                  # the server closed: end of the reply
                    break
                reply += buf[:n]
    head, _, body = bytes(reply).partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), body.decode()
# [end client]


def start_demo_server(cert_dir: str) -> tuple[subprocess.Popen[str], int, str]:
    """``python -m tlsfast serve`` on a free port, serving one request."""
    server = subprocess.Popen(
        [sys.executable, "-m", "tlsfast", "serve", "--port", "0", "--cert-dir", cert_dir,
         "--max-requests", "1", "--duration", "30"],
        stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    port = cafile = None
    for line in server.stdout:
        m = re.match(r"listening on https://[^:]+:(\d+)/", line)
        if m:
            port = int(m.group(1))
        if line.startswith("CA certificate: "):
            cafile = line.split(": ", 1)[1].strip()
        if port and cafile:
            return server, port, cafile
    raise RuntimeError("the demo server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, help="a running server's port (default: start one)")
    parser.add_argument("--cafile", help="the CA certificate to verify it with")
    args = parser.parse_args()
    if args.port:
        status, body = fetch(args.host, args.port, args.cafile)
    else:
        with tempfile.TemporaryDirectory() as cert_dir:
            server, port, cafile = start_demo_server(cert_dir)
            try:
                status, body = fetch(args.host, port, cafile)
            finally:
                server.communicate(timeout=30)
    print(status)
    print(body, end="")
    assert status == "HTTP/1.1 200 OK", status
    assert f"({tlsfast.__impl__} implementation)" in body or args.port


if __name__ == "__main__":
    main()
