"""Certificate and host name verification, client certificates, defaults."""

import inspect
import socket
import ssl
import sys

import pytest

from helpers import ROLES, VERSIONS, recv_exactly, role_modules

pytestmark = pytest.mark.timeout(30)

# case -> (server keypair attr, client cafile attr or None, server_hostname,
#          verify_code, verify_message)
FAILURES = {
    "wrong-host": ("server", None, "wrong.example", 62,
                   "Hostname mismatch, certificate is not valid for 'wrong.example'."),
    "wrong-ip": ("server", None, "127.0.0.2", 64,
                 "IP address mismatch, certificate is not valid for '127.0.0.2'."),
    "unknown-ca": ("server", "other_ca_pem", "localhost", 20,
                   "unable to get local issuer certificate"),
    "expired": ("expired", None, "localhost", 10, "certificate has expired"),
}


def _failing_handshake(net, certs, client_ctx, server_ctx, client_mod, server_mod, case):
    keypair, cafile, hostname, _, _ = FAILURES[case]
    cctx = client_ctx(client_mod, cafile=getattr(certs, cafile) if cafile else None)
    sctx = server_ctx(server_mod, keypair=getattr(certs, keypair))
    return net.handshake(cctx, sctx, server_hostname=hostname)


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_client_verification_failure(impl, net, certs, client_ctx, server_ctx, case):
    _, _, _, code, message = FAILURES[case]
    hs = _failing_handshake(net, certs, client_ctx, server_ctx, impl, ssl, case)
    exc = hs.client_exc
    assert type(exc) is ssl.SSLCertVerificationError, repr(exc)
    assert isinstance(exc, impl.SSLCertVerificationError)
    assert exc.verify_code == code
    assert exc.verify_message == message
    assert exc.library == "SSL"
    assert exc.reason == "CERTIFICATE_VERIFY_FAILED"
    assert exc.args[0] == ssl.SSL_ERROR_SSL
    assert message in str(exc)
    assert hs.client is None
    # the server was told by an alert, and failed too
    assert isinstance(hs.server_exc, ssl.SSLError), repr(hs.server_exc)

    # the stdlib client, same situation: same verdict
    ref = _failing_handshake(net, certs, client_ctx, server_ctx, ssl, ssl, case).client_exc
    assert (ref.verify_code, ref.verify_message, ref.library, ref.reason) == \
        (exc.verify_code, exc.verify_message, exc.library, exc.reason)


@pytest.mark.parametrize("case", ["unknown-ca", "wrong-host"])
def test_server_sees_client_alert(impl, net, certs, client_ctx, server_ctx, case):
    """An impl server whose client rejects its certificate raises SSLError
    with the alert the stdlib server reports."""
    hs = _failing_handshake(net, certs, client_ctx, server_ctx, ssl, impl, case)
    ref = _failing_handshake(net, certs, client_ctx, server_ctx, ssl, ssl, case)
    assert type(hs.client_exc) is ssl.SSLCertVerificationError
    assert type(hs.server_exc) is type(ref.server_exc) is ssl.SSLError, repr(hs.server_exc)
    assert hs.server_exc.library == ref.server_exc.library == "SSL"
    assert hs.server_exc.reason == ref.server_exc.reason
    assert hs.server_exc.reason.startswith(("SSLV3_ALERT_", "TLSV1_ALERT_")), hs.server_exc.reason


def test_cert_none_connects_to_anything(impl, net, certs, client_ctx, server_ctx):
    cctx = client_ctx(impl, cafile=certs.other_ca_pem)
    cctx.check_hostname = False
    cctx.verify_mode = impl.CERT_NONE
    assert cctx.verify_mode == ssl.CERT_NONE
    client, server = net.tls_pair(cctx, server_ctx(ssl, keypair=certs.expired),
                                  server_hostname="wrong.example")
    # not validated: the stdlib gives an empty dict, but the DER is there
    assert client.getpeercert() == {}
    assert client.getpeercert(True) == certs.expired.leaf_der
    client.sendall(b"ok")
    assert recv_exactly(server, 2) == b"ok"


def test_cert_none_with_check_hostname_is_refused(impl):
    ctx = impl.SSLContext(impl.PROTOCOL_TLS_CLIENT)
    assert ctx.check_hostname is True
    with pytest.raises(ValueError) as info:
        ctx.verify_mode = impl.CERT_NONE
    assert type(info.value) is ValueError
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    # and switching check_hostname back on upgrades CERT_NONE, as in ssl
    ctx.check_hostname = False
    ctx.verify_mode = impl.CERT_NONE
    ctx.check_hostname = True
    assert ctx.verify_mode == ssl.CERT_REQUIRED


def test_check_hostname_requires_server_hostname(impl, net, client_ctx):
    raw, _ = net.tcp_pair()
    with pytest.raises(ValueError) as info:
        client_ctx(impl).wrap_socket(raw)
    assert type(info.value) is ValueError
    assert "server_hostname" in str(info.value)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("role", ROLES)
def test_client_certificate_accepted(impl, net, certs, client_ctx, server_ctx, role, version):
    cmod, smod = role_modules(impl, role)
    sctx = server_ctx(smod, version)
    sctx.verify_mode = smod.CERT_REQUIRED
    sctx.load_verify_locations(certs.ca_pem)
    cctx = client_ctx(cmod, version)
    cctx.load_cert_chain(certs.client.chain, certs.client.key)
    client, server = net.tls_pair(cctx, sctx)
    assert server.getpeercert() == certs.client.decoded()
    assert server.getpeercert(True) == certs.client.leaf_der
    assert server.getpeercert()["subjectAltName"] == (("email", "client@example.org"),)
    client.sendall(b"authenticated")
    assert recv_exactly(server, 13) == b"authenticated"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("role", ROLES)
def test_client_certificate_missing(impl, net, certs, client_ctx, server_ctx, role, version):
    cmod, smod = role_modules(impl, role)
    sctx = server_ctx(smod, version)
    sctx.verify_mode = smod.CERT_REQUIRED
    sctx.load_verify_locations(certs.ca_pem)
    hs = net.handshake(client_ctx(cmod, version), sctx)

    assert type(hs.server_exc) is ssl.SSLError, repr(hs.server_exc)
    assert hs.server_exc.reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE"
    if version == "1.2":
        # the server refuses inside the client's handshake
        assert type(hs.client_exc) is ssl.SSLError, repr(hs.client_exc)
        assert hs.client_exc.reason == "SSLV3_ALERT_HANDSHAKE_FAILURE"
    else:
        # TLS 1.3: the client finished first; the alert comes with its first read
        assert hs.client_exc is None, repr(hs.client_exc)
        with pytest.raises(ssl.SSLError) as info:
            hs.client.recv(10)
        assert type(info.value) is ssl.SSLError
        assert info.value.reason == "TLSV13_ALERT_CERTIFICATE_REQUIRED"
        assert info.value.library == "SSL"


def test_create_default_context_defaults(impl):
    ctx = impl.create_default_context()
    ref = ssl.create_default_context()
    assert isinstance(ctx, impl.SSLContext)
    assert ctx.protocol == ssl.PROTOCOL_TLS_CLIENT
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname is True
    assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert ctx.options & ssl.OP_NO_COMPRESSION
    assert ctx.options & ssl.OP_NO_SSLv3
    assert ctx.options == ref.options
    assert ctx.verify_flags == ref.verify_flags
    # the system trust store was loaded like the stdlib loads it
    assert ctx.cert_store_stats() == ref.cert_store_stats()


def test_create_default_context_server_purpose(impl):
    ctx = impl.create_default_context(impl.Purpose.CLIENT_AUTH)
    ref = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    assert isinstance(ctx, impl.SSLContext)
    assert ctx.protocol == ssl.PROTOCOL_TLS_SERVER
    # (3.9's stdlib made a PROTOCOL_TLS context here; tlsfast, as 3.10+, a server one)
    assert ref.protocol == (ssl.PROTOCOL_TLS if sys.version_info < (3, 10)
                            else ssl.PROTOCOL_TLS_SERVER)
    assert ctx.verify_mode == ref.verify_mode
    assert ctx.check_hostname is ref.check_hostname is False
    # one deliberate difference: tlsfast servers refuse renegotiation by default
    assert ctx.options == ref.options | ssl.OP_NO_RENEGOTIATION


def test_create_default_context_cafile_verifies(impl, net, certs, server_ctx):
    ctx = impl.create_default_context(cafile=certs.ca_pem)
    client, _ = net.tls_pair(ctx, server_ctx(ssl))
    assert client.getpeercert() == certs.server.decoded()
    hs = net.handshake(impl.create_default_context(cafile=certs.other_ca_pem), server_ctx(ssl))
    assert type(hs.client_exc) is ssl.SSLCertVerificationError
    assert hs.client_exc.verify_code == 20


@pytest.mark.parametrize("hostname", ["127.0.0.1", "::1", "localhost"])
def test_ip_and_dns_san_match(impl, net, certs, client_ctx, server_ctx, hostname):
    """IP SANs are matched as addresses (the connection itself is over
    127.0.0.1; only the checked name differs)."""
    client, _ = net.tls_pair(client_ctx(impl), server_ctx(ssl), server_hostname=hostname)
    assert client.server_hostname == hostname
    assert client.getpeercert() == certs.server.decoded()


def test_hostname_checks_common_name(impl, net, certs, client_ctx, server_ctx):
    """A certificate with the name only in its CN: accepted while
    hostname_checks_common_name is on (the stdlib default here), refused
    with verify_code 62 once it is off."""
    sctx = server_ctx(ssl, keypair=certs.cn_only)
    cctx = client_ctx(impl)
    assert cctx.hostname_checks_common_name == ssl.SSLContext(
        ssl.PROTOCOL_TLS_CLIENT).hostname_checks_common_name
    cctx.hostname_checks_common_name = True
    client, _ = net.tls_pair(cctx, sctx)
    assert dict(x[0] for x in client.getpeercert()["subject"])["commonName"] == "localhost"

    cctx = client_ctx(impl)
    cctx.hostname_checks_common_name = False
    assert cctx.hostname_checks_common_name is False
    hs = net.handshake(cctx, sctx)
    assert type(hs.client_exc) is ssl.SSLCertVerificationError, repr(hs.client_exc)
    assert hs.client_exc.verify_code == 62
    assert hs.client_exc.verify_message == \
        "Hostname mismatch, certificate is not valid for 'localhost'."


def test_verify_uses_only_loaded_cas(impl, net, certs, server_ctx):
    """A client context that loaded no CA at all rejects the server (20)."""
    cctx = impl.SSLContext(impl.PROTOCOL_TLS_CLIENT)
    hs = net.handshake(cctx, server_ctx(ssl))
    assert type(hs.client_exc) is ssl.SSLCertVerificationError
    assert hs.client_exc.verify_code == 20
    assert isinstance(hs.client_exc, socket.error)  # SSLError is an OSError


@pytest.mark.parametrize("ca", ["none", "right-ca", "other-ca"])
def test_get_server_certificate_as_the_stdlib(impl, net, certs, monkeypatch, ca):
    """``tlsfast.get_server_certificate`` against ``openssl s_server`` with
    the ``alt.example`` certificate, reached as 127.0.0.1: without
    ``ca_certs`` nothing is verified; with the right CA the chain is and the
    name is not (as the stdlib: the address is not in the certificate); with
    another CA it fails with ``SSLCertVerificationError``.  The stdlib's
    function gives the same outcome from a second server."""
    import tlsfast
    monkeypatch.setattr(tlsfast, "SSLContext", impl.SSLContext)
    ca_certs = {"none": None, "right-ca": certs.ca_pem, "other-ca": certs.other_ca_pem}[ca]

    def fetch(func):
        proc, port = net.openssl_server("-cert", certs.alt.chain, "-key", certs.alt.key)
        try:
            # (the stdlib's ``timeout`` argument is new in 3.10)
            kwargs = {"timeout": 10} if "timeout" in inspect.signature(func).parameters else {}
            return func(("127.0.0.1", port), ca_certs=ca_certs, **kwargs)
        except ssl.SSLCertVerificationError as exc:
            return exc

    got, ref = fetch(tlsfast.get_server_certificate), fetch(ssl.get_server_certificate)
    if ca == "other-ca":
        assert isinstance(ref, ssl.SSLCertVerificationError)
        assert isinstance(got, ssl.SSLCertVerificationError), got
        assert got.verify_code == ref.verify_code == 20     # unable to get local issuer
    else:
        assert ssl.PEM_cert_to_DER_cert(got) == ssl.PEM_cert_to_DER_cert(certs.alt.leaf_pem)
        assert ssl.PEM_cert_to_DER_cert(ref) == ssl.PEM_cert_to_DER_cert(got)
