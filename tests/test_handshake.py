"""Handshakes in every role and mode, and what a connected socket reports."""

import socket
import ssl
import sys

import pytest

from helpers import ROLES, VERSION_NAMES, VERSIONS, recv_exactly, role_modules, with_tlsfast_floor

pytestmark = pytest.mark.timeout(30)

MODES = ("blocking", "timeout", "explicit")

#: 3.9's ssl answers shared_ciphers() with the socket's own cipher list
#: (SSL_get_ciphers) on either side and before the handshake; 3.10 made it
#: the server's shared list, None elsewhere.  The compiled implementation
#: answers as 3.10+ everywhere; the pure-Python one as the running stdlib.
OWN_LIST_AS_SHARED = sys.version_info < (3, 10)


def _stdlib_based(mod):
    return mod is ssl or getattr(mod, "name", None) == "python"


def _mode_kwargs(mode, is_impl):
    """(socket timeout, wrap_socket kwargs) for the side of ``mode``."""
    if not is_impl:
        return 10.0, {}
    if mode == "blocking":
        return None, {}
    if mode == "timeout":
        return 5.0, {}
    return 10.0, {"do_handshake_on_connect": False}  # "explicit"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("role", ROLES)
def test_handshake_and_connection_info(impl, net, certs, client_ctx, server_ctx,
                                       role, version, mode):
    cmod, smod = role_modules(impl, role)
    cctx, sctx = client_ctx(cmod, version), server_ctx(smod, version)
    ctimeout, ckw = _mode_kwargs(mode, cmod is impl)
    stimeout, skw = _mode_kwargs(mode, smod is impl)
    client, server = net.tls_pair(cctx, sctx, client_timeout=ctimeout, server_timeout=stimeout,
                                  client_kwargs=ckw, server_kwargs=skw)

    for sock, mod, ctx, timeout in ((client, cmod, cctx, ctimeout),
                                    (server, smod, sctx, stimeout)):
        assert isinstance(sock, mod.SSLSocket)
        assert isinstance(sock, socket.socket)
        assert sock.context is ctx
        assert sock.gettimeout() == timeout
        assert sock.version() == VERSION_NAMES[version]
        assert sock.compression() is None
    assert client.server_side is False and server.server_side is True
    assert client.server_hostname == "localhost" and server.server_hostname is None

    # both ends agree on the cipher; it is a (name, protocol, bits) triple
    cipher = client.cipher()
    assert cipher == server.cipher()
    name, proto, bits = cipher
    assert isinstance(name, str) and name
    assert proto == VERSION_NAMES[version]
    assert isinstance(bits, int) and bits >= 128

    # shared_ciphers(): the server's list of what both support, None on a client
    shared = server.shared_ciphers()
    assert isinstance(shared, list) and shared
    assert all(isinstance(c, tuple) and len(c) == 3 for c in shared)
    assert cipher in shared
    if OWN_LIST_AS_SHARED and _stdlib_based(cmod):
        assert isinstance(client.shared_ciphers(), list)
    else:
        assert client.shared_ciphers() is None

    # the client sees exactly the certificate the CA issued
    assert client.getpeercert() == certs.server.decoded()
    assert client.getpeercert(True) == certs.server.leaf_der
    # no client certificate was asked for
    assert server.getpeercert() is None
    assert server.getpeercert(True) is None

    if version == "1.2":
        cb = client.get_channel_binding("tls-unique")
        assert isinstance(cb, bytes) and len(cb) == 12
        assert cb == server.get_channel_binding("tls-unique")

    # and data flows both ways
    client.sendall(b"ping")
    assert recv_exactly(server, 4) == b"ping"
    server.sendall(b"pong!")
    assert recv_exactly(client, 5) == b"pong!"


def test_getpeercert_dict_shape(impl, net, certs, client_ctx, server_ctx):
    """The keys and the value formats of the decoded certificate dict."""
    client, _ = net.tls_pair(client_ctx(impl), server_ctx(ssl))
    cert = client.getpeercert()
    assert set(cert) >= {"subject", "issuer", "subjectAltName", "notBefore",
                         "notAfter", "serialNumber", "version"}
    assert cert["subjectAltName"] == (("DNS", "localhost"), ("IP Address", "127.0.0.1"),
                                      ("IP Address", "0:0:0:0:0:0:0:1"))
    assert cert["version"] == 3
    assert isinstance(cert["serialNumber"], str) and int(cert["serialNumber"], 16) > 0
    assert ssl.cert_time_to_seconds(cert["notAfter"]) > ssl.cert_time_to_seconds(cert["notBefore"])
    # the same connection seen by a stdlib client gives the same dict
    std_client, _ = net.tls_pair(client_ctx(ssl), server_ctx(ssl))
    assert std_client.getpeercert() == cert


@pytest.mark.parametrize("side", ["client", "server"])
def test_state_before_explicit_handshake(impl, net, client_ctx, server_ctx, side):
    """With do_handshake_on_connect=False nothing is negotiated until
    do_handshake(); the queries answer like the stdlib's."""
    raw_client, raw_server = net.tcp_pair()
    if side == "client":
        sock = net.track(client_ctx(impl).wrap_socket(
            raw_client, server_hostname="localhost", do_handshake_on_connect=False))
        peer = net.peer(lambda: net.track(server_ctx(ssl).wrap_socket(raw_server, server_side=True)))
    else:
        sock = net.track(server_ctx(impl).wrap_socket(
            raw_server, server_side=True, do_handshake_on_connect=False))
        peer = net.peer(lambda: net.track(client_ctx(ssl).wrap_socket(
            raw_client, server_hostname="localhost")))

    assert sock.version() is None
    assert sock.cipher() is None
    if OWN_LIST_AS_SHARED and _stdlib_based(impl):
        assert isinstance(sock.shared_ciphers(), list)
    else:
        assert sock.shared_ciphers() is None
    assert sock.compression() is None
    assert sock.selected_alpn_protocol() is None
    assert sock.get_channel_binding("tls-unique") is None
    assert sock.pending() == 0
    assert sock.session_reused is False
    with pytest.raises(ValueError) as info:
        sock.getpeercert()
    assert type(info.value) is ValueError
    assert "handshake" in str(info.value)

    sock.do_handshake()
    other = peer.result()
    assert sock.version() == other.version() is not None
    assert sock.cipher() == other.cipher()


def test_channel_binding_unknown_type(impl, net, client_ctx, server_ctx):
    client, _ = net.tls_pair(client_ctx(impl, "1.2"), server_ctx(ssl, "1.2"))
    with pytest.raises(ValueError) as info:
        client.get_channel_binding("tls-server-end-point-bogus")
    assert type(info.value) is ValueError
    assert impl.CHANNEL_BINDING_TYPES == ssl.CHANNEL_BINDING_TYPES == ["tls-unique"]


@pytest.mark.parametrize("protocol", ["PROTOCOL_TLS_CLIENT", "PROTOCOL_TLS_SERVER"])
def test_default_cipher_list_matches_stdlib(impl, protocol):
    """A fresh context enables the same cipher suites as ``ssl.SSLContext``."""
    ours = impl.SSLContext(getattr(impl, protocol))
    theirs = with_tlsfast_floor(ssl.SSLContext(getattr(ssl, protocol)))
    assert [c["name"] for c in ours.get_ciphers()] == [c["name"] for c in theirs.get_ciphers()]
    assert ours.get_ciphers() == theirs.get_ciphers()


@pytest.mark.parametrize("protocol", ["PROTOCOL_TLS_CLIENT", "PROTOCOL_TLS_SERVER"])
def test_fresh_context_attributes_match_stdlib(impl, protocol):
    ours = impl.SSLContext(getattr(impl, protocol))
    theirs = with_tlsfast_floor(ssl.SSLContext(getattr(ssl, protocol)))
    for attr in ("protocol", "verify_mode", "check_hostname", "minimum_version",
                 "maximum_version", "verify_flags", "post_handshake_auth",
                 "hostname_checks_common_name", "security_level", "keylog_filename",
                 "sni_callback"):
        if hasattr(theirs, attr):       # (security_level: from 3.10)
            assert getattr(ours, attr) == getattr(theirs, attr), attr
    # one deliberate difference: tlsfast servers refuse renegotiation by default
    expected = theirs.options
    if protocol == "PROTOCOL_TLS_SERVER":
        expected |= ssl.OP_NO_RENEGOTIATION
    assert ours.options == expected
    assert type(ours.verify_mode) is ssl.VerifyMode
    assert type(ours.minimum_version) is ssl.TLSVersion
    assert type(ours.options) is ssl.Options
    if protocol == "PROTOCOL_TLS_SERVER":
        assert ours.num_tickets == theirs.num_tickets == 2
