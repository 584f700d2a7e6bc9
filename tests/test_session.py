"""TLS session resumption (1.2 and 1.3), session objects, statistics, tickets."""

import ssl
import time

import pytest

from helpers import ROLES, VERSIONS, recv_exactly, role_modules

pytestmark = pytest.mark.timeout(30)

SESSION_STATS_KEYS = {
    "number", "connect", "connect_good", "connect_renegotiate", "accept",
    "accept_good", "accept_renegotiate", "hits", "misses", "timeouts", "cache_full",
}


def _exchange(client, server):
    """One round trip; the client's read also picks up TLS 1.3 tickets."""
    server.sendall(b"ticket?")
    assert recv_exactly(client, 7) == b"ticket?"
    client.sendall(b"ok")
    assert recv_exactly(server, 2) == b"ok"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("role", ROLES)
def test_session_resumption(impl, net, client_ctx, server_ctx, role, version):
    cmod, smod = role_modules(impl, role)
    cctx, sctx = client_ctx(cmod, version), server_ctx(smod, version)
    before = int(time.time())

    client, server = net.tls_pair(cctx, sctx)
    assert client.session_reused is False and server.session_reused is False
    _exchange(client, server)
    session = client.session
    assert session is not None
    assert isinstance(session, cmod.SSLSession)
    assert isinstance(session.id, bytes) and len(session.id) == 32
    assert session.has_ticket is True
    assert session.timeout == 7200
    assert session.ticket_lifetime_hint == 7200
    assert before - 2 <= session.time <= int(time.time()) + 2
    client.close()
    server.close()

    client, server = net.tls_pair(cctx, sctx, client_kwargs={"session": session})
    assert client.session_reused is True
    assert server.session_reused is True
    assert client.version() == {"1.2": "TLSv1.2", "1.3": "TLSv1.3"}[version]
    _exchange(client, server)
    if version == "1.2":
        # a TLS 1.2 resumption continues the very same session
        assert client.session == session
        assert client.session.id == session.id
    else:
        # TLS 1.3 issues a fresh ticket on the resumed connection
        assert client.session.id != session.id

    if cmod is impl:
        stats = cctx.session_stats()
        assert set(stats) == SESSION_STATS_KEYS
        assert stats["connect"] == stats["connect_good"] == 2
        assert stats["hits"] == 1
        assert stats["accept"] == 0
    if smod is impl:
        stats = sctx.session_stats()
        assert set(stats) == SESSION_STATS_KEYS
        assert stats["accept"] == stats["accept_good"] == 2
        assert stats["hits"] == 1
        assert stats["connect"] == 0


@pytest.mark.parametrize("version", VERSIONS)
def test_session_assignment_before_handshake(impl, net, client_ctx, server_ctx, version):
    """``sslsock.session = s`` on an unconnected client works like session=."""
    cctx, sctx = client_ctx(impl, version), server_ctx(ssl, version)
    client, server = net.tls_pair(cctx, sctx)
    _exchange(client, server)
    session = client.session

    raw_client, raw_server = net.tcp_pair()
    peer = net.peer(lambda: net.track(sctx.wrap_socket(raw_server, server_side=True)))
    sock = net.track(cctx.wrap_socket(raw_client, server_hostname="localhost",
                                      do_handshake_on_connect=False))
    sock.session = session
    sock.do_handshake()
    assert peer.result().session_reused is True
    assert sock.session_reused is True


def test_session_from_other_context_is_refused(impl, net, client_ctx, server_ctx):
    cctx = client_ctx(impl)
    client, server = net.tls_pair(cctx, server_ctx(ssl))
    _exchange(client, server)
    raw_client, _ = net.tcp_pair()
    other = client_ctx(impl)
    with pytest.raises(ValueError) as info:
        other.wrap_socket(raw_client, server_hostname="localhost",
                          do_handshake_on_connect=False, session=client.session)
    assert type(info.value) is ValueError


def test_session_setter_checks(impl, net, client_ctx, server_ctx):
    client, server = net.tls_pair(client_ctx(impl), server_ctx(ssl))
    _exchange(client, server)
    with pytest.raises(TypeError) as info:
        client.session = 5
    assert type(info.value) is TypeError
    with pytest.raises(ValueError) as info:
        client.session = client.session  # after the handshake
    assert type(info.value) is ValueError


def test_session_stats_fresh(impl):
    for proto in (impl.PROTOCOL_TLS_CLIENT, impl.PROTOCOL_TLS_SERVER):
        stats = impl.SSLContext(proto).session_stats()
        assert stats == ssl.SSLContext(proto).session_stats()
        assert set(stats) == SESSION_STATS_KEYS
        assert all(v == 0 for v in stats.values())


def test_num_tickets(impl, net, client_ctx, server_ctx):
    sctx = server_ctx(impl, "1.3")
    assert sctx.num_tickets == 2
    sctx.num_tickets = 1
    assert sctx.num_tickets == 1
    sctx.num_tickets = 0
    assert sctx.num_tickets == 0

    # no tickets: the client's session cannot be resumed
    cctx = client_ctx(ssl, "1.3")
    client, server = net.tls_pair(cctx, sctx)
    _exchange(client, server)
    assert client.session is None or client.session.has_ticket is False
    if client.session is not None:
        client2, server2 = net.tls_pair(cctx, sctx, client_kwargs={"session": client.session})
        assert client2.session_reused is False and server2.session_reused is False

    with pytest.raises(ValueError):
        sctx.num_tickets = -1
    cctx = impl.SSLContext(impl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(ValueError) as info:
        cctx.num_tickets = 1
    assert type(info.value) is ValueError
    assert cctx.num_tickets == 2
