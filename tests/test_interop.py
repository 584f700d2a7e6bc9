"""Interoperability with other TLS stacks' command-line tools:
``openssl s_server`` / ``openssl s_client`` / ``curl`` (OpenSSL builds, but
their own state machines and defaults)."""

import socket
import ssl
import subprocess

import pytest

from helpers import IO_TIMEOUT, VERSION_NAMES, VERSIONS, recv_all, recv_until

pytestmark = [pytest.mark.interop, pytest.mark.timeout(30)]

OPENSSL_FLAG = {"1.2": "-tls1_2", "1.3": "-tls1_3"}
CURL_FLAGS = {"1.2": ["--tlsv1.2", "--tls-max", "1.2"], "1.3": ["--tlsv1.3"]}


# --------------------------------------------------------------------------
# impl client -> openssl s_server
# --------------------------------------------------------------------------

def _connect(net, ctx, port):
    raw = net.track(socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT))
    return net.track(ctx.wrap_socket(raw, server_hostname="localhost"))


@pytest.mark.parametrize("version", VERSIONS)
def test_client_against_openssl_www(impl, net, certs, client_ctx, version):
    proc, port = net.openssl_server("-cert", certs.server.chain, "-key", certs.server.key,
                                    "-www", OPENSSL_FLAG[version])
    client = _connect(net, client_ctx(impl, version), port)
    assert client.version() == VERSION_NAMES[version]
    assert client.getpeercert(True) == certs.server.leaf_der
    cipher = client.cipher()[0]
    client.sendall(b"GET / HTTP/1.0\r\n\r\n")
    page = recv_all(client).decode("latin-1")
    client.close()
    assert page.startswith("HTTP/1.0 200 ok\r\n"), page[:200]
    # s_server's status page states what it negotiated: same as our view
    assert f"New, {VERSION_NAMES[version]}, Cipher is {cipher}\n" in page
    assert f"Protocol  : {VERSION_NAMES[version]}\n" in page
    assert proc.finish() == 0, proc.output


@pytest.mark.parametrize("version", VERSIONS)
def test_client_against_openssl_echo(impl, net, certs, client_ctx, version):
    proc, port = net.openssl_server("-cert", certs.server.chain, "-key", certs.server.key,
                                    "-rev", OPENSSL_FLAG[version])
    client = _connect(net, client_ctx(impl, version), port)
    cipher = client.cipher()[0]
    for line in (b"hello tlsfast\n", b"x" * 5000 + b"y\n"):
        client.sendall(line)
        assert recv_until(client, b"\n") == line[:-1][::-1] + b"\n"
    client.close()
    assert proc.finish() == 0, proc.output
    assert "CONNECTION CLOSED" in proc.output
    assert cipher in proc.output  # s_server logs the suite it agreed on


# --------------------------------------------------------------------------
# openssl s_client / curl -> impl server
# --------------------------------------------------------------------------

def _http_server(net, impl_ctx):
    """A one-connection HTTP server on an impl SSLSocket, in a peer thread;
    returns (port, peer).  The peer's result is (request head, version,
    cipher name) as the impl server saw them."""
    lsock = net.listener()

    def serve():
        raw, _ = lsock.accept()
        raw.settimeout(IO_TIMEOUT)
        with impl_ctx.wrap_socket(raw, server_side=True) as sock:
            head = recv_until(sock, b"\r\n\r\n")
            version, cipher = sock.version(), sock.cipher()[0]
            body = f"hello from tlsfast over {version} with {cipher}\n".encode()
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                         b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            try:
                sock.unwrap()
            except OSError:
                pass  # the client may just close
            return head, version, cipher

    return lsock.getsockname()[1], net.peer(serve, name="http-server")


@pytest.mark.parametrize("version", VERSIONS)
def test_openssl_client_against_server(impl, net, certs, server_ctx, version):
    port, peer = _http_server(net, server_ctx(impl, version))
    done = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
         "-CAfile", certs.ca_pem, "-verify_return_error", "-brief", "-ign_eof",
         OPENSSL_FLAG[version]],
        input=b"GET /s_client HTTP/1.0\r\nHost: localhost\r\n\r\n",
        capture_output=True, timeout=20)
    out, err = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 0, out + err
    head, seen_version, cipher = peer.result()
    assert head.startswith(b"GET /s_client HTTP/1.0\r\n")
    assert seen_version == VERSION_NAMES[version]
    assert "Verification: OK" in err
    assert f"Protocol version: {VERSION_NAMES[version]}" in err
    assert f"Ciphersuite: {cipher}" in err
    assert "HTTP/1.1 200 OK" in out
    assert f"hello from tlsfast over {VERSION_NAMES[version]} with {cipher}" in out


@pytest.mark.parametrize("version", VERSIONS)
def test_curl_against_server(impl, net, certs, server_ctx, version):
    port, peer = _http_server(net, server_ctx(impl, version))
    done = subprocess.run(
        ["curl", "-sS", "--max-time", "15", "--cacert", certs.ca_pem,
         "--resolve", f"localhost:{port}:127.0.0.1", *CURL_FLAGS[version],
         "-w", "\n%{http_code} %{ssl_verify_result}", f"https://localhost:{port}/curl"],
        capture_output=True, timeout=20)
    out = done.stdout.decode()
    assert done.returncode == 0, out + done.stderr.decode()
    head, seen_version, cipher = peer.result()
    assert head.startswith(b"GET /curl HTTP/1.1\r\n")
    assert seen_version == VERSION_NAMES[version]
    body, status = out.rsplit("\n", 1)
    assert body == f"hello from tlsfast over {VERSION_NAMES[version]} with {cipher}\n"
    assert status == "200 0"


def test_curl_rejects_server_with_unknown_ca(impl, net, certs, server_ctx):
    """curl with a CA that did not sign the server's certificate: curl fails
    with its "peer certificate cannot be authenticated" code (60), and the
    impl server reports an alert as ssl.SSLError."""
    port, peer = _http_server(net, server_ctx(impl))
    done = subprocess.run(
        ["curl", "-sS", "--max-time", "15", "--cacert", certs.other_ca_pem,
         "--resolve", f"localhost:{port}:127.0.0.1", f"https://localhost:{port}/"],
        capture_output=True, timeout=20)
    assert done.returncode == 60, done.stderr.decode()
    exc = peer.error()
    assert isinstance(exc, ssl.SSLError), repr(exc)
