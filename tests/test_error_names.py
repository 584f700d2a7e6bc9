"""``SSLError.library`` / ``.reason`` match the stdlib's on the running Python.

The compiled implementation takes the mnemonics from a table setup.py
generates out of the OpenSSL headers it compiles against
(``tlsfast/_error_codes.h``), never from CPython's private tables (gone since
3.12).  Each case provokes one real failure twice, on the same Python: once
with tlsfast at the end under test and once with the stdlib there, and
compares exception type, ``library``, ``reason`` and ``args[0]``.
"""

import socket
import ssl

import pytest

from helpers import RAGGED_EOF_IS_CLEAN
from membio_helpers import BioPair
from conftest import load_impl

pytestmark = pytest.mark.timeout(30)


def _names(exc):
    assert isinstance(exc, BaseException), f"no failure: {exc!r}"
    return (type(exc), getattr(exc, "library", None), getattr(exc, "reason", None),
            exc.args[0] if exc.args else None)


def _bad_certificate(net, certs, client_ctx, server_ctx, mod):
    """Client verifies against another CA: CERTIFICATE_VERIFY_FAILED."""
    hs = net.handshake(client_ctx(mod, cafile=certs.other_ca_pem), server_ctx(ssl))
    return hs.client_exc


def _wrong_version_client(net, certs, client_ctx, server_ctx, mod):
    """Client speaks TLS 1.2 at most, server 1.3 only: the client reads a
    protocol_version alert (TLSV1_ALERT_PROTOCOL_VERSION)."""
    return net.handshake(client_ctx(mod, "1.2"), server_ctx(ssl, "1.3")).client_exc


def _wrong_version_server(net, certs, client_ctx, server_ctx, mod):
    """The server side of the same: UNSUPPORTED_PROTOCOL."""
    return net.handshake(client_ctx(ssl, "1.2"), server_ctx(mod, "1.3")).server_exc


def _http_request_to_tls_port(net, certs, client_ctx, server_ctx, mod):
    """Plain HTTP sent to a TLS server: HTTP_REQUEST."""
    client, raw = net.tcp_pair()
    client.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    try:
        net.track(server_ctx(mod).wrap_socket(raw, server_side=True))
    except Exception as exc:  # noqa: BLE001 - compared by the test
        return exc
    return None


def _http_answer_to_tls_client(net, certs, client_ctx, server_ctx, mod):
    """A TLS client answered in plain HTTP: WRONG_VERSION_NUMBER."""
    raw, server = net.tcp_pair()

    def answer():
        server.recv(4096)
        server.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    peer = net.peer(answer)
    try:
        net.track(client_ctx(mod).wrap_socket(raw, server_hostname="localhost"))
    except Exception as exc:  # noqa: BLE001
        return exc
    finally:
        peer.wait()
    return None


def _no_shared_cipher(net, certs, client_ctx, server_ctx, mod):
    """TLS 1.2 with disjoint cipher lists, seen by the server: NO_SHARED_CIPHER."""
    cctx, sctx = client_ctx(ssl, "1.2"), server_ctx(mod, "1.2")
    cctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    sctx.set_ciphers("ECDHE-ECDSA-AES256-GCM-SHA384")
    return net.handshake(cctx, sctx).server_exc


def _no_shared_cipher_client(net, certs, client_ctx, server_ctx, mod):
    """The client side of the same: the server's handshake_failure alert."""
    cctx, sctx = client_ctx(mod, "1.2"), server_ctx(ssl, "1.2")
    cctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    sctx.set_ciphers("ECDHE-ECDSA-AES256-GCM-SHA384")
    return net.handshake(cctx, sctx).client_exc


def _unexpected_eof(net, certs, client_ctx, server_ctx, mod):
    """The peer closes TCP without close_notify, ragged EOFs not suppressed:
    UNEXPECTED_EOF_WHILE_READING (an SSLEOFError)."""
    client, server = net.tls_pair(client_ctx(mod), server_ctx(ssl),
                                  client_kwargs={"suppress_ragged_eofs": False})
    server.shutdown(socket.SHUT_RDWR)   # the stdlib's shutdown() sends no close_notify
    try:
        client.recv(10)
    except Exception as exc:  # noqa: BLE001
        return exc
    return None


CASES = {
    "bad-certificate": _bad_certificate,
    "wrong-version-client": _wrong_version_client,
    "wrong-version-server": _wrong_version_server,
    "http-request-to-tls-port": _http_request_to_tls_port,
    "http-answer-to-tls-client": _http_answer_to_tls_client,
    "no-shared-cipher-server": _no_shared_cipher,
    "no-shared-cipher-client": _no_shared_cipher_client,
    "unexpected-eof": _unexpected_eof,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_library_and_reason_match_the_stdlib(impl, net, certs, client_ctx, server_ctx, case):
    fn = CASES[case]
    ref = fn(net, certs, client_ctx, server_ctx, ssl)
    got = fn(net, certs, client_ctx, server_ctx, impl)
    if case == "unexpected-eof" and RAGGED_EOF_IS_CLEAN:
        # 3.9 (OP_IGNORE_UNEXPECTED_EOF): the end of the stream, no error
        assert ref is got is None
        return
    assert isinstance(ref, ssl.SSLError), f"the stdlib did not fail: {ref!r}"
    assert ref.library and ref.reason, f"the stdlib names nothing here: {ref!r}"
    assert _names(got) == _names(ref), f"{got!r} vs the stdlib's {ref!r}"
    assert f"[{ref.library}: {ref.reason}]" in str(got)


def test_no_renegotiation(client_ctx, server_ctx):
    """A TLS 1.2 renegotiation refused by a stdlib server: the compiled
    client's error is NO_RENEGOTIATION in library SSL.  Only the compiled
    implementation can start a renegotiation (the stdlib has no call for it,
    so the pure-Python one has none either): the expected names are the
    ones OpenSSL's headers give ``SSL_R_NO_RENEGOTIATION``."""
    pair = BioPair(client_ctx(load_impl("c"), "1.2"), server_ctx(ssl, "1.2")).handshake()
    client, server = pair.client.obj, pair.server.obj
    pair.exchange()
    client.renegotiate()
    with pytest.raises(ssl.SSLWantReadError):
        client.read(100)
    pair.to_server()
    with pytest.raises(ssl.SSLWantReadError):
        server.read(100)
    pair.to_client()
    with pytest.raises(ssl.SSLError) as ei:
        client.read(100)
    assert type(ei.value) is ssl.SSLError
    assert (ei.value.library, ei.value.reason) == ("SSL", "NO_RENEGOTIATION")
    assert "[SSL: NO_RENEGOTIATION]" in str(ei.value)


def test_table_is_generated_from_the_headers():
    """The compiled module's names agree with OpenSSL's own strings for the
    same codes: every reason has ``ERR_reason_error_string`` text, and a few
    well-known codes have their well-known names."""
    c = load_impl("c").module
    libs, reasons = c._error_names()
    assert libs[20] == "SSL" and libs[11] == "X509" and libs[9] == "PEM"
    assert len(reasons) > 1000
    assert reasons[(20, 134)] == "CERTIFICATE_VERIFY_FAILED"
    assert reasons[(20, 294)] == "UNEXPECTED_EOF_WHILE_READING"
    assert all(isinstance(k, tuple) and len(k) == 2 for k in reasons)
