"""SNI callbacks (context switching, alerts) and ALPN negotiation."""

import select
import socket
import ssl
import sys

import pytest

from helpers import ROLES, VERSIONS, recv_exactly, role_modules

pytestmark = pytest.mark.timeout(30)


def test_sni_callback_arguments(impl, net, client_ctx, server_ctx):
    sctx = server_ctx(impl)
    calls = []

    def callback(sslsock, server_name, context):
        calls.append((sslsock, server_name, context))

    sctx.sni_callback = callback
    assert sctx.sni_callback is callback
    client, server = net.tls_pair(client_ctx(ssl), sctx)
    assert len(calls) == 1
    sslsock, server_name, context = calls[0]
    assert isinstance(sslsock, impl.SSLSocket)
    assert sslsock is server
    assert server_name == "localhost"
    assert context is sctx


def test_sni_callback_without_server_name(impl, net, client_ctx, server_ctx):
    """An IP address is not sent as SNI: the callback gets None."""
    sctx = server_ctx(impl)
    names = []
    sctx.sni_callback = lambda sock, name, ctx: names.append(name)
    net.tls_pair(client_ctx(ssl), sctx, server_hostname="127.0.0.1")
    assert names == [None]


@pytest.mark.parametrize("version", VERSIONS)
def test_sni_switches_context(impl, net, certs, client_ctx, server_ctx, version):
    default = server_ctx(impl, version)
    alt = server_ctx(impl, version, keypair=certs.alt)
    seen = []

    def callback(sslsock, server_name, context):
        seen.append(server_name)
        if server_name == "alt.example":
            sslsock.context = alt

    default.sni_callback = callback
    client, server = net.tls_pair(client_ctx(ssl, version), default,
                                  server_hostname="alt.example")
    assert seen == ["alt.example"]
    assert client.getpeercert() == certs.alt.decoded()
    assert client.getpeercert(True) == certs.alt.leaf_der
    assert server.context is alt
    client.sendall(b"via alt")
    assert recv_exactly(server, 7) == b"via alt"

    # without the switch the default certificate is served
    client, server = net.tls_pair(client_ctx(ssl, version), default)
    assert seen == ["alt.example", "localhost"]
    assert client.getpeercert(True) == certs.server.leaf_der
    assert server.context is default


@pytest.mark.parametrize("alert, reason", [
    (ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE, "SSLV3_ALERT_HANDSHAKE_FAILURE"),
    (ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME, "TLSV1_UNRECOGNIZED_NAME"),
    (ssl.ALERT_DESCRIPTION_ACCESS_DENIED, "TLSV1_ALERT_ACCESS_DENIED"),
])
def test_sni_callback_alert_aborts(impl, net, client_ctx, server_ctx, alert, reason):
    sctx = server_ctx(impl)
    sctx.sni_callback = lambda sock, name, ctx: alert
    hs = net.handshake(client_ctx(ssl), sctx)
    assert type(hs.client_exc) is ssl.SSLError, repr(hs.client_exc)
    assert hs.client_exc.reason == reason
    assert hs.client is None
    assert isinstance(hs.server_exc, ssl.SSLError), repr(hs.server_exc)


def test_sni_callback_exception_aborts(impl, net, client_ctx, server_ctx, monkeypatch):
    """An exception in the callback is reported through sys.unraisablehook
    (as the stdlib does) and the handshake fails with handshake_failure."""
    sctx = server_ctx(impl)
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)

    def callback(sock, name, ctx):
        raise RuntimeError("boom from sni")

    sctx.sni_callback = callback
    hs = net.handshake(client_ctx(ssl), sctx)
    assert type(hs.client_exc) is ssl.SSLError, repr(hs.client_exc)
    assert hs.client_exc.reason == "SSLV3_ALERT_HANDSHAKE_FAILURE"
    assert isinstance(hs.server_exc, ssl.SSLError)
    assert [type(u.exc_value) for u in unraisable] == [RuntimeError]
    assert str(unraisable[0].exc_value) == "boom from sni"


def test_sni_callback_must_be_callable(impl):
    ctx = impl.SSLContext(impl.PROTOCOL_TLS_SERVER)
    with pytest.raises(TypeError) as info:
        ctx.sni_callback = 42
    assert type(info.value) is TypeError
    ctx.sni_callback = None
    assert ctx.sni_callback is None


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("client_protos, server_protos, expected", [
    (["h2", "http/1.1"], ["http/1.1"], "http/1.1"),
    (["http/1.1", "h2"], ["h2", "http/1.1"], "h2"),        # the server's preference wins
    (["h2"], ["spdy/3", "h2"], "h2"),
    (["h2"], ["http/1.1"], None),                           # no overlap
    (["h2"], None, None),                                   # server does no ALPN
    (None, ["h2"], None),                                   # client does no ALPN
], ids=["one-common", "server-preference", "one-each", "no-overlap", "server-none", "client-none"])
def test_alpn(impl, net, client_ctx, server_ctx, role, version,
              client_protos, server_protos, expected):
    cmod, smod = role_modules(impl, role)
    cctx, sctx = client_ctx(cmod, version), server_ctx(smod, version)
    if client_protos is not None:
        cctx.set_alpn_protocols(client_protos)
    if server_protos is not None:
        sctx.set_alpn_protocols(server_protos)
    client, server = net.tls_pair(cctx, sctx)
    assert client.selected_alpn_protocol() == expected
    assert server.selected_alpn_protocol() == expected


@pytest.mark.parametrize("path", ["try_recv_into", "recv_into", "blocking recv"])
def test_sni_callback_asks_the_socket_while_a_read_drives_the_handshake(
        impl, net, client_ctx, server_ctx, path):
    """No handshake call: the server's first read drives the handshake, and
    the sni_callback (run inside that SSL_read) asks the socket questions
    -- which must not wait for the read that runs it (the pure-Python
    twin's per-message path holds its turn inside the call)."""
    sctx = server_ctx(impl)
    answers = []

    def callback(sslsock, server_name, context):
        answers.append((sslsock.pending(), sslsock.version(), sslsock.cipher(),
                        sslsock.selected_alpn_protocol()))

    sctx.sni_callback = callback
    a, b = socket.socketpair()
    net.track(a), net.track(b)
    server = net.track(sctx.wrap_socket(b, server_side=True, do_handshake_on_connect=False))

    def client_side():
        client = client_ctx(ssl).wrap_socket(a, server_hostname="localhost")
        client.sendall(b"first")
        return client

    peer = net.peer(client_side)
    buf = bytearray(16)
    if path == "blocking recv":
        server.settimeout(10)
        n = server.recv_into(buf)
    else:
        server.setblocking(False)
        n = None
        for _ in range(2000):
            if path == "try_recv_into":
                n = server.try_recv_into(buf)
                if n >= 0:
                    break
            else:
                try:
                    n = server.recv_into(buf)
                    break
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    pass
            select.select([server], [], [], 1.0)
    net.track(peer.result())
    assert bytes(buf[:n]) == b"first"[:n] and n > 0
    assert len(answers) == 1
    pending, version, cipher, alpn = answers[0]
    assert pending == 0 and alpn is None
    # (during the SNI step nothing is negotiated yet)
    assert version is None or version.startswith("TLS")
    assert cipher is None or isinstance(cipher, tuple)
