"""Process-wide use: ``tlsfast.inject_into_ssl()`` / ``extract_from_ssl()``
and ``sys.modules["ssl"] = tlsfast`` (docs/porting.rst, "Every library in
the process").

Each case runs a fresh interpreter (the changes are process-wide): an HTTPS
server on loopback (a stdlib context made before any change), then the
stdlib's and real libraries' clients with their *default* contexts, which
must turn out to be tlsfast's.  ``SSL_CERT_FILE`` makes the test CA the
default trust store, so the default contexts verify the server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from conftest import tlsfast_path
from helpers import IO_TIMEOUT

SERVER = textwrap.dedent("""
    import http.server, ssl, sys, threading
    _server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _server_ctx.load_cert_chain(sys.argv[1], sys.argv[2])

    class _Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"hello over TLS"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    _httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    _httpd.socket = _server_ctx.wrap_socket(_httpd.socket, server_side=True)
    threading.Thread(target=_httpd.serve_forever, daemon=True).start()
    URL = f"https://localhost:{_httpd.server_address[1]}/"

    def is_tlsfast(obj):
        return type(obj).__module__.startswith("tlsfast")

    async def fetch():
        # GET / through asyncio with ssl=True: asyncio's default context
        import asyncio
        port = int(URL.rsplit(":", 1)[1].strip("/"))
        reader, writer = await asyncio.open_connection("localhost", port, ssl=True)
        assert is_tlsfast(writer.get_extra_info("ssl_object"))
        writer.write(b"GET / HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n")
        data = await reader.read()
        writer.close()
        return data
""")

INJECT = SERVER + textwrap.dedent("""
    import asyncio, http.client, urllib.request
    import requests, urllib3
    import tlsfast

    tlsfast.inject_into_ssl()
    tlsfast.inject_into_ssl()                      # idempotent
    assert ssl.SSLContext is tlsfast.SSLContext
    assert is_tlsfast(ssl.create_default_context())
    assert is_tlsfast(ssl._create_stdlib_context())          # smtplib, imaplib, ftplib

    # http.client / urllib.request: ssl._create_default_https_context()
    with urllib.request.urlopen(URL, timeout=10) as resp:
        assert is_tlsfast(resp.fp.raw._sock), type(resp.fp.raw._sock)
        assert resp.read() == b"hello over TLS"

    # urllib3 and requests, imported before the injection
    assert is_tlsfast(urllib3.util.ssl_.create_urllib3_context())
    with urllib3.PoolManager() as pool:
        conn = pool.connection_from_url(URL)._get_conn()
        conn.connect()
        assert is_tlsfast(conn.sock), type(conn.sock)
        conn.close()
        assert pool.request("GET", URL, timeout=10).data == b"hello over TLS"
    with requests.Session() as session:
        conn = session.get_adapter(URL).get_connection(URL)._get_conn() \
            if hasattr(session.get_adapter(URL), "get_connection") else None
        if conn is not None:
            conn.connect()
            assert is_tlsfast(conn.sock), type(conn.sock)
            conn.close()
        assert session.get(URL, timeout=10, verify=sys.argv[3]).content == b"hello over TLS"

    # asyncio: ssl=True makes its default context
    assert asyncio.run(fetch()).endswith(b"hello over TLS")

    tlsfast.extract_from_ssl()
    tlsfast.extract_from_ssl()                     # idempotent
    assert not is_tlsfast(ssl.create_default_context())
    assert not is_tlsfast(urllib3.util.ssl_.create_urllib3_context())
    # (not urllib.request.urlopen: from 3.13 its cached opener keeps the
    # context it made while tlsfast was injected)
    conn = http.client.HTTPSConnection("localhost", int(URL.rsplit(":", 1)[1].strip("/")),
                                       timeout=10)
    conn.request("GET", "/")
    assert not is_tlsfast(conn.sock), type(conn.sock)
    assert conn.getresponse().read() == b"hello over TLS"
    conn.close()
    print("ok", tlsfast.__impl__)
""")

SYS_MODULES = textwrap.dedent("""
    import sys
    import ssl as _stdlib_ssl                      # for the test server only
    import tlsfast
    sys.modules["ssl"] = tlsfast
""") + SERVER.replace("import http.server, ssl, sys, threading",
                      "import http.server, sys, threading\nssl = _stdlib_ssl") + \
    textwrap.dedent("""
    import asyncio, urllib.request, http.client, smtplib, ftplib
    assert http.client.ssl is tlsfast and smtplib.ssl is tlsfast
    assert is_tlsfast(tlsfast.create_default_context())
    with urllib.request.urlopen(URL, timeout=10) as resp:
        assert is_tlsfast(resp.fp.raw._sock), type(resp.fp.raw._sock)
        assert resp.read() == b"hello over TLS"

    assert asyncio.run(fetch()).endswith(b"hello over TLS")
    print("ok", tlsfast.__impl__)
""")


def _run(impl, program, certs):
    env = dict(os.environ, TLSFAST_IMPL=impl.name, PYTHONPATH=tlsfast_path(),
               SSL_CERT_FILE=certs.ca_pem)
    env.pop("SSL_CERT_DIR", None)
    proc = subprocess.run(
        [sys.executable, "-c", program, certs.server.chain, certs.server.key, certs.ca_pem],
        env=env, capture_output=True, text=True, timeout=IO_TIMEOUT * 6)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["ok", impl.name]


def test_inject_into_ssl_reaches_every_client_and_extract_undoes_it(impl, certs):
    _run(impl, INJECT, certs)


def test_sys_modules_ssl_is_tlsfast(impl, certs):
    """``sys.modules["ssl"] = tlsfast`` before the stdlib's clients are
    imported: they find every name they use from ``ssl`` in tlsfast."""
    _run(impl, SYS_MODULES, certs)


def test_inject_is_a_noop_for_names_it_did_not_replace():
    """extract_from_ssl() without inject_into_ssl() changes nothing."""
    import ssl

    import tlsfast
    before = ssl.SSLContext
    tlsfast.extract_from_ssl()
    assert ssl.SSLContext is before
