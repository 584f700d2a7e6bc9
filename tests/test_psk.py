"""TLS-PSK: ``set_psk_client_callback`` / ``set_psk_server_callback``.

Python 3.13 added them to ``ssl.SSLContext``; the compiled implementation
has them on every Python (a tlsfast extension before 3.13), the pure-Python
one where the running ``ssl`` has them.  Each test runs the implementation
under test on one end and the compiled one on the other, both ways round.
"""

import socket
import ssl
import sys

import pytest

from conftest import load_impl

pytestmark = pytest.mark.timeout(30)

PSK = bytes.fromhex("deadbeef")


def _has_psk(mod):
    return hasattr(mod.SSLContext, "set_psk_client_callback")


@pytest.fixture
def psk_impl(impl):
    """``impl`` where it has TLS-PSK; elsewhere check that the running
    ``ssl`` lacks it too (no more than the stdlib) and skip."""
    if not _has_psk(impl):
        assert impl.name == "python" and not _has_psk(ssl), impl
        assert sys.version_info < (3, 13)
        pytest.skip("the stdlib ssl has no TLS-PSK before Python 3.13")
    return impl


def _contexts(cmod, smod, version, client_cb, server_cb, hint=None):
    cctx = cmod.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname = False
    cctx.verify_mode = ssl.CERT_NONE
    sctx = smod.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    for ctx in (cctx, sctx):
        if version == "1.2":
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        else:
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.set_ciphers("PSK")
    cctx.set_psk_client_callback(client_cb)
    sctx.set_psk_server_callback(server_cb, hint)
    return cctx, sctx


@pytest.mark.parametrize("version", ["1.2", "1.3"])
@pytest.mark.parametrize("side", ["client", "server"])
def test_psk_handshake_identity_and_hint(psk_impl, net, version, side):
    c = load_impl("c")
    cmod, smod = (psk_impl, c) if side == "client" else (c, psk_impl)
    seen = {}

    def client_cb(hint):
        seen["hint"] = hint
        return "客户身份", PSK          # UTF-8 identities

    def server_cb(identity):
        seen["identity"] = identity
        return PSK

    cctx, sctx = _contexts(cmod, smod, version, client_cb, server_cb, hint="身份暗示")
    client, server = net.tls_pair(cctx, sctx, server_hostname=None)
    client.sendall(b"over psk")
    assert server.recv(8) == b"over psk"
    assert client.version() == {"1.2": "TLSv1.2", "1.3": "TLSv1.3"}[version]
    assert seen["identity"] == "客户身份"
    # TLS 1.3 sends no identity hint
    assert seen["hint"] == ("身份暗示" if version == "1.2" else None)


@pytest.mark.parametrize("side", ["client", "server"])
def test_wrong_psk_fails_the_handshake(psk_impl, net, side):
    c = load_impl("c")
    cmod, smod = (psk_impl, c) if side == "client" else (c, psk_impl)
    cctx, sctx = _contexts(cmod, smod, "1.2", lambda hint: (None, bytes.fromhex("cafebabe")),
                           lambda identity: PSK)
    hs = net.handshake(cctx, sctx, server_hostname=None)
    assert isinstance(hs.client_exc, ssl.SSLError), hs.client_exc
    assert isinstance(hs.server_exc, ssl.SSLError), hs.server_exc


def test_callback_errors_are_unraisable_and_fail(psk_impl, net, monkeypatch):
    c = load_impl("c")
    caught = []
    monkeypatch.setattr(sys, "unraisablehook", caught.append)

    def broken(identity):
        raise RuntimeError("no key for you")

    cctx, sctx = _contexts(c, psk_impl, "1.2", lambda hint: ("id", PSK), broken)
    hs = net.handshake(cctx, sctx, server_hostname=None)
    assert isinstance(hs.server_exc, ssl.SSLError) and isinstance(hs.client_exc, ssl.SSLError)
    assert [type(u.exc_value) for u in caught] == [RuntimeError]

    caught.clear()
    cctx, sctx = _contexts(psk_impl, c, "1.2", lambda hint: "not a tuple", lambda i: PSK)
    hs = net.handshake(cctx, sctx, server_hostname=None)
    assert isinstance(hs.client_exc, ssl.SSLError)
    # (the stdlib's C parser reports a non-tuple as SystemError)
    assert [type(u.exc_value) for u in caught] == [
        SystemError if psk_impl.name == "python" else TypeError]


def test_wrong_side_and_argument_errors(psk_impl):
    client = psk_impl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    server = psk_impl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with pytest.raises(ssl.SSLError, match="Cannot add PSK server callback"):
        client.set_psk_server_callback(lambda identity: PSK)
    with pytest.raises(ssl.SSLError, match="Cannot add PSK client callback"):
        server.set_psk_client_callback(lambda hint: (None, PSK))
    with pytest.raises(TypeError):
        client.set_psk_client_callback(42)
    with pytest.raises(TypeError):
        server.set_psk_server_callback(42)
    # None removes them
    client.set_psk_client_callback(None)
    server.set_psk_server_callback(None)


def test_no_callback_no_psk(psk_impl, net):
    """A PSK-only server whose client sets no callback: no handshake."""
    c = load_impl("c")
    cctx, sctx = _contexts(psk_impl, c, "1.2", lambda hint: (None, PSK), lambda i: PSK)
    cctx.set_psk_client_callback(None)
    hs = net.handshake(cctx, sctx, server_hostname=None)
    assert isinstance(hs.client_exc, (ssl.SSLError, OSError)), hs.client_exc
    assert not isinstance(hs.client_exc, socket.timeout)
