"""Closing: close_notify / unwrap, ragged EOFs, truncated records, resets.

The expectations are the stdlib's (Python 3.11 + OpenSSL 3), measured:

* ragged EOF (TCP FIN without close_notify) after the handshake:
  ``suppress_ragged_eofs=True`` -> ``b''``; ``False`` -> ``SSLEOFError``
  (on 3.9, whose contexts set ``OP_IGNORE_UNEXPECTED_EOF``, ``b''`` too)
  (args[0] == SSL_ERROR_EOF, library "SSL", reason
  "UNEXPECTED_EOF_WHILE_READING");
* EOF in the middle of a record: exactly the same as a ragged EOF (OpenSSL 3
  reports both as UNEXPECTED_EOF_WHILE_READING), so it is also suppressed
  by ``suppress_ragged_eofs=True``;
* TCP RST after the handshake: up to 3.12 *not* ConnectionResetError.  recv
  behaves like a ragged EOF (b'' / SSLEOFError with library None), and send
  raises SSLEOFError whatever ``suppress_ragged_eofs`` says; from 3.13
  (CPython gh-115627) both raise ConnectionResetError;
* TCP RST during the handshake: ConnectionResetError (errno ECONNRESET);
  a FIN during the handshake: SSLEOFError;
* reading after *we* sent close_notify and then received the peer's:
  ``SSLZeroReturnError`` (args[0] == SSL_ERROR_ZERO_RETURN), while reading
  after only the peer's close_notify returns b''.
"""

import errno
import selectors
import socket
import ssl

import pytest

from helpers import (RAGGED_EOF_IS_CLEAN, READ_APIS, RESET_IS_OSERROR, ROLES, VERSIONS, BioPeer, NonBlocking, read_via, recv_exactly,
                     role_modules, set_linger_reset, wait_for)

pytestmark = pytest.mark.timeout(30)

def _close_without_notify(sslsock, reset=False):
    """Close the TCP connection under a stdlib SSLSocket without sending a
    close_notify: FIN, or RST when ``reset``."""
    raw = socket.socket(fileno=sslsock.detach())
    if reset:
        set_linger_reset(raw)
    raw.close()


# --------------------------------------------------------------------------
# close_notify
# --------------------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("role", ROLES)
def test_unwrap_both_sides_then_cleartext(impl, net, client_ctx, server_ctx, role, version):
    cmod, smod = role_modules(impl, role)
    client, server = net.tls_pair(client_ctx(cmod, version), server_ctx(smod, version))
    client.sendall(b"encrypted")
    assert recv_exactly(server, 9) == b"encrypted"

    server_unwrap = net.peer(server.unwrap)
    plain_client = net.track(client.unwrap())
    plain_server = net.track(server_unwrap.result())
    # (the stdlib returns the SSLSocket object itself, now without TLS)
    for plain, tls in ((plain_client, client), (plain_server, server)):
        assert isinstance(plain, socket.socket)
        assert plain.fileno() == tls.fileno() != -1
    assert client.version() is None and server.version() is None

    plain_client.sendall(b"cleartext from client")
    assert recv_exactly(plain_server, 21) == b"cleartext from client"
    plain_server.sendall(b"cleartext from server")
    assert recv_exactly(plain_client, 21) == b"cleartext from server"


@pytest.mark.parametrize("timeout", [None, 5.0])
def test_shutdown_leaves_a_plain_socket_in_its_own_mode(impl, net, client_ctx, server_ctx,
                                                        timeout):
    """``shutdown(SHUT_WR)`` drops the TLS layer, as the stdlib: afterwards
    ``recv`` is the plain socket's, blocking (or waiting up to the timeout)
    as the socket was set -- not a ``BlockingIOError`` from the descriptor
    the engine had made non-blocking."""
    client, server = net.tls_pair(client_ctx(ssl, "1.3"), server_ctx(impl, "1.3"))
    server.settimeout(timeout)
    server.sendall(b"bye")
    assert recv_exactly(client, 3) == b"bye"
    server.shutdown(socket.SHUT_WR)
    assert server.version() is None
    closer = net.peer(lambda: (client.recv(16), client.close()))
    # read as a plain socket up to the peer's FIN (whatever ciphertext the
    # peer still sends is only bytes now)
    for _ in range(100):
        if server.recv(4096) == b"":
            break
    else:
        pytest.fail("no EOF after 100 reads")
    closer.result()
    assert server.gettimeout() == timeout


@pytest.mark.parametrize("api", READ_APIS)
@pytest.mark.parametrize("version", VERSIONS)
def test_read_after_peer_close_notify(impl, net, client_ctx, server_ctx, version, api):
    client, server = net.tls_pair(client_ctx(impl, version), server_ctx(ssl, version))
    server.sendall(b"last words")
    peer = net.peer(server.unwrap)  # close_notify, then waits for ours

    assert recv_exactly(client, 10) == b"last words"
    if api == "try_recv_into":
        client.setblocking(False)
    assert read_via(impl, client, api) == b""
    assert read_via(impl, client, api) == b""  # and it stays at EOF
    assert client.pending() == 0
    if api == "try_recv_into":
        assert client.try_recv_into(bytearray(10)) == 0
        assert client.wanted_events == 0
        assert NonBlocking(impl, "fast").complete(client, "unwrap") == 0
        plain = None
    else:
        plain = net.track(client.unwrap())  # answers the close_notify
    peer_plain = net.track(peer.result())
    if plain is not None:
        plain.sendall(b"clear")
        assert recv_exactly(peer_plain, 5) == b"clear"


@pytest.mark.parametrize("version", VERSIONS)
def test_read_after_both_close_notifies_is_zero_return(impl, net, client_ctx, server_ctx,
                                                       version):
    """We start the shutdown (non-blocking, so unwrap wants to read), the
    peer answers; now the stdlib-compatible reads raise SSLZeroReturnError
    while the fast path reports a clean EOF (0)."""
    client, server = net.tls_pair(client_ctx(impl, version), server_ctx(ssl, version))
    client.setblocking(False)
    with pytest.raises(ssl.SSLWantReadError):
        client.unwrap()  # our close_notify is out; theirs has not come

    def answer():
        assert server.recv(10) == b""
        return server.unwrap()

    net.track(net.peer(answer).result())
    wait_for(client, selectors.EVENT_READ)

    for call in (lambda: client.recv(10), lambda: client.recv_into(bytearray(10))):
        with pytest.raises(ssl.SSLZeroReturnError) as info:
            call()
        assert type(info.value) is ssl.SSLZeroReturnError
        assert info.value.args[0] == ssl.SSL_ERROR_ZERO_RETURN
    assert client.try_recv_into(bytearray(10)) == 0
    plain = net.track(client.unwrap())
    assert isinstance(plain, socket.socket)


# --------------------------------------------------------------------------
# EOF without close_notify
# --------------------------------------------------------------------------

@pytest.mark.parametrize("api", READ_APIS)
@pytest.mark.parametrize("suppress", [True, False], ids=["suppress", "strict"])
@pytest.mark.parametrize("version", VERSIONS)
def test_ragged_eof(impl, net, client_ctx, server_ctx, version, suppress, api):
    client, server = net.tls_pair(client_ctx(impl, version), server_ctx(ssl, version),
                                  client_kwargs={"suppress_ragged_eofs": suppress})
    assert client.suppress_ragged_eofs is suppress
    if api == "try_recv_into":
        client.setblocking(False)
    server.sendall(b"data")
    _close_without_notify(server)

    assert recv_exactly(client, 4) == b"data"  # what came before the EOF
    if suppress or RAGGED_EOF_IS_CLEAN:
        assert read_via(impl, client, api) == b""
        assert read_via(impl, client, api) == b""
    else:
        with pytest.raises(ssl.SSLEOFError) as info:
            read_via(impl, client, api)
        exc = info.value
        assert type(exc) is ssl.SSLEOFError
        assert exc.args[0] == ssl.SSL_ERROR_EOF
        assert exc.library == "SSL"
        assert exc.reason == "UNEXPECTED_EOF_WHILE_READING"
        with pytest.raises(ssl.SSLEOFError):  # and again
            read_via(impl, client, api)


@pytest.mark.parametrize("api", ["recv", "try_recv_into"])
@pytest.mark.parametrize("suppress", [True, False], ids=["suppress", "strict"])
@pytest.mark.parametrize("version", VERSIONS)
def test_eof_in_the_middle_of_a_record(impl, net, client_ctx, server_ctx, version,
                                       suppress, api):
    raw_client, raw_server = net.tcp_pair()
    bio = BioPeer(server_ctx(ssl, version), raw_server)
    hs = net.peer(bio.handshake)
    client = net.track(client_ctx(impl, version).wrap_socket(
        raw_client, server_hostname="localhost", suppress_ragged_eofs=suppress))
    hs.result()
    if api == "try_recv_into":
        client.setblocking(False)

    whole = bio.encrypt(b"complete")
    record = bio.encrypt(b"A" * 1000)
    assert record[0] == 23 and len(record) > 1000  # one application_data record
    raw_server.sendall(whole + record[:len(record) // 2])
    raw_server.close()

    assert read_via(impl, client, api) == b"complete"
    if suppress or RAGGED_EOF_IS_CLEAN:  # as the stdlib: a ragged EOF
        assert read_via(impl, client, api) == b""
    else:
        with pytest.raises(ssl.SSLEOFError) as info:
            read_via(impl, client, api)
        assert type(info.value) is ssl.SSLEOFError
        assert info.value.args[0] == ssl.SSL_ERROR_EOF
        assert info.value.reason == "UNEXPECTED_EOF_WHILE_READING"


# --------------------------------------------------------------------------
# TCP reset
# --------------------------------------------------------------------------

@pytest.mark.parametrize("api", READ_APIS)
@pytest.mark.parametrize("suppress", [True, False], ids=["suppress", "strict"])
@pytest.mark.parametrize("version", VERSIONS)
def test_peer_reset_while_reading(impl, net, client_ctx, server_ctx, version, suppress, api):
    client, server = net.tls_pair(client_ctx(impl, version), server_ctx(ssl, version),
                                  client_kwargs={"suppress_ragged_eofs": suppress})
    server.sendall(b"before reset")
    assert recv_exactly(client, 12) == b"before reset"
    if api == "try_recv_into":
        client.setblocking(False)
    _close_without_notify(server, reset=True)
    wait_for(client, selectors.EVENT_READ)  # the RST is here

    if RESET_IS_OSERROR:
        with pytest.raises(ConnectionResetError):
            read_via(impl, client, api)
    elif suppress:
        assert read_via(impl, client, api) == b""
    else:
        with pytest.raises(ssl.SSLEOFError) as info:
            read_via(impl, client, api)
        assert type(info.value) is ssl.SSLEOFError  # not ConnectionResetError
        assert info.value.args[0] == ssl.SSL_ERROR_EOF


@pytest.mark.parametrize("api", ["send", "sendall", "try_send"])
@pytest.mark.parametrize("suppress", [True, False], ids=["suppress", "strict"])
def test_peer_reset_while_writing(impl, net, client_ctx, server_ctx, suppress, api):
    client, server = net.tls_pair(client_ctx(impl), server_ctx(ssl),
                                  client_kwargs={"suppress_ragged_eofs": suppress})
    _close_without_notify(server, reset=True)
    wait_for(client, selectors.EVENT_READ)  # the RST is here
    call = {"send": client.send, "sendall": client.sendall, "try_send": client.try_send}[api]
    if RESET_IS_OSERROR:
        with pytest.raises(ConnectionResetError):
            call(b"into the void")
        return
    with pytest.raises(ssl.SSLEOFError) as info:
        call(b"into the void")
    assert type(info.value) is ssl.SSLEOFError
    assert info.value.args[0] == ssl.SSL_ERROR_EOF


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
@pytest.mark.parametrize("side", ["client", "server"])
def test_peer_gone_during_handshake(impl, net, client_ctx, server_ctx, side, reset):
    """The peer reads what we sent, then closes (FIN) or resets (RST)."""

    def attempt(mod):
        raw_client, raw_server = net.tcp_pair()
        mine, theirs = (raw_client, raw_server) if side == "client" else (raw_server, raw_client)

        def silent_peer():
            theirs.settimeout(0.15)
            try:
                for _ in range(100):
                    if not theirs.recv(65536):
                        break
            except socket.timeout:
                pass
            if reset:
                set_linger_reset(theirs)
            theirs.close()

        net.peer(silent_peer)
        with pytest.raises(OSError) as info:
            if side == "client":
                client_ctx(mod).wrap_socket(mine, server_hostname="localhost")
            else:
                server_ctx(mod).wrap_socket(mine, server_side=True)
        return info.value

    exc = attempt(impl)
    if reset:
        assert type(exc) is ConnectionResetError, repr(exc)
        assert exc.errno == errno.ECONNRESET
    elif RAGGED_EOF_IS_CLEAN:
        # 3.9 (OP_IGNORE_UNEXPECTED_EOF): the EOF ends the handshake as a
        # close; then OpenSSL's alert meets the closed socket.  As the stdlib.
        ref = attempt(ssl)
        assert (type(exc), exc.errno) == (type(ref), ref.errno), (exc, ref)
    else:
        assert type(exc) is ssl.SSLEOFError, repr(exc)
        assert exc.reason == "UNEXPECTED_EOF_WHILE_READING"


@pytest.mark.parametrize("side, garbage, reason", [
    ("server", b"GET / HTTP/1.0\r\n\r\n", "HTTP_REQUEST"),
    ("client", b"HTTP/1.0 200 OK\r\n\r\n", "WRONG_VERSION_NUMBER"),
])
def test_not_tls_at_all(impl, net, client_ctx, server_ctx, side, garbage, reason):
    raw_client, raw_server = net.tcp_pair()
    if side == "server":
        raw_client.sendall(garbage)
        call = lambda: server_ctx(impl).wrap_socket(raw_server, server_side=True)  # noqa: E731
    else:
        raw_server.sendall(garbage)
        call = lambda: client_ctx(impl).wrap_socket(raw_client, server_hostname="localhost")  # noqa: E731
    with pytest.raises(ssl.SSLError) as info:
        call()
    assert type(info.value) is ssl.SSLError
    assert info.value.args[0] == ssl.SSL_ERROR_SSL
    assert info.value.library == "SSL"
    assert info.value.reason == reason
