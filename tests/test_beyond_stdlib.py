"""TLS capabilities the stdlib lacks, on ``SSLSocket`` and ``SSLObject``.

The compiled implementation provides them (values checked against the other
end, against ``openssl s_server`` and against trustme's certificates); the
pure-Python one raises ``NotImplementedError`` naming the missing stdlib
support, except ``want_read`` / ``want_write`` / ``cipher_bits``, which both
implement.  Every test runs over both implementations: on ``python`` it
checks the exact ``NotImplementedError`` where the compiled one is checked
for values.
"""

import hashlib
import os
import random
import select
import selectors
import socket
import ssl
import sys
import time

import pytest

from conftest import load_impl

#: 3.13 made get_verified_chain() / get_unverified_chain() public (DER, [] for none)
CHAIN_AS_DER = sys.version_info >= (3, 13)
from helpers import IO_TIMEOUT, ROLES, VERSION_NAMES, VERSIONS, recv_exactly, role_modules
from membio_helpers import BioPair, not_implemented_message, split_records

pytestmark = pytest.mark.timeout(60)

#: what the pure-Python implementation's message names, per method
WHAT = {
    "export_keying_material": "export_keying_material() (SSL_export_keying_material)",
    "get_finished": "get_finished() (SSL_get_finished)",
    "get_peer_finished": "get_peer_finished() (SSL_get_peer_finished)",
    "client_random": "client_random() (SSL_get_client_random)",
    "server_random": "server_random() (SSL_get_server_random)",
    "key_update": "key_update() (SSL_key_update)",
    "renegotiate": "renegotiate() (SSL_renegotiate)",
    "renegotiate_pending": "renegotiate_pending() (SSL_renegotiate_pending)",
    "peek": "peek() (SSL_peek_ex)",
    "get_peer_cert_chain": "get_peer_cert_chain() (SSL_get_peer_cert_chain)",
    "get_verified_chain": "get_verified_chain() (SSL_get0_verified_chain)",
    "get_unverified_chain": "get_unverified_chain() (SSL_get_peer_cert_chain)",
}
#: arguments for calling each of them
CALLS = {
    "export_keying_material": (("EXPERIMENTAL-tlsfast", 32), {}),
    "get_finished": ((), {}),
    "get_peer_finished": ((), {}),
    "client_random": ((), {}),
    "server_random": ((), {}),
    "key_update": ((), {"request_peer": True}),
    "renegotiate": ((), {}),
    "renegotiate_pending": ((), {}),
    "peek": ((5,), {}),
    "get_peer_cert_chain": ((True,), {}),
    "get_verified_chain": ((), {"binary_form": True}),
    "get_unverified_chain": ((), {}),
}

LABEL = "EXPERIMENTAL-tlsfast-test"
#: SSL_OP_ALLOW_CLIENT_RENEGOTIATION (OpenSSL 3.0; the ssl module has no name for it)
OP_ALLOW_CLIENT_RENEGOTIATION = 1 << 8
#: ciphertext payload of a TLS 1.3 KeyUpdate record: 4-byte header + 1 byte,
#: the inner content type, a 16-byte AEAD tag (every TLS 1.3 suite)
KEY_UPDATE_RECORD = 4 + 1 + 1 + 16


def assert_not_implemented(obj, name, *args, **kwargs):
    with pytest.raises(NotImplementedError) as ei:
        getattr(obj, name)(*args, **kwargs)
    assert str(ei.value) == not_implemented_message(WHAT[name])


def python_refuses(impl, obj, *names) -> bool:
    """On the pure-Python implementation assert the exact refusal of each
    method in ``names`` (with CALLS' arguments) and return True."""
    if impl.name != "python":
        return False
    for name in names:
        args, kwargs = CALLS[name]
        assert_not_implemented(obj, name, *args, **kwargs)
    return True


def bio_pair(cmod, smod, client_ctx, server_ctx, version=None, **kwargs):
    return BioPair(client_ctx(cmod, version), server_ctx(smod, version), **kwargs).handshake()


def der(pem) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem if isinstance(pem, str) else pem.decode("ascii"))


# --------------------------------------------------------------------------
# a CA with an intermediate, for the chain tests
# --------------------------------------------------------------------------

class ChainCerts:
    def __init__(self, directory):
        import trustme

        root = trustme.CA()
        inter = root.create_child_ca()
        self.root_pem = os.path.join(directory, "root.pem")
        root.cert_pem.write_to_path(self.root_pem)
        self.root_der = der(root.cert_pem.bytes())
        self.inter_der = der(inter.cert_pem.bytes())
        self.server_chain, self.server_key, self.server_der = self._leaf(
            directory, "server", inter.issue_cert("localhost", "127.0.0.1"))
        self.client_chain, self.client_key, self.client_der = self._leaf(
            directory, "client", inter.issue_cert("client@example.org"))

    @staticmethod
    def _leaf(directory, name, leaf):
        chain = os.path.join(directory, f"{name}-chain.pem")
        key = os.path.join(directory, f"{name}-key.pem")
        with open(chain, "wb") as f:
            for blob in leaf.cert_chain_pems:      # leaf, intermediate
                f.write(blob.bytes())
        leaf.private_key_pem.write_to_path(key)
        return chain, key, der(leaf.cert_chain_pems[0].bytes())

    def contexts(self, mod, client_cert=False):
        sctx = mod.SSLContext(mod.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(self.server_chain, self.server_key)
        cctx = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
        cctx.load_verify_locations(self.root_pem)
        if client_cert:
            sctx.verify_mode = ssl.CERT_REQUIRED
            sctx.load_verify_locations(self.root_pem)
            cctx.load_cert_chain(self.client_chain, self.client_key)
        return cctx, sctx


@pytest.fixture(scope="module")
def chain_certs(tmp_path_factory):
    return ChainCerts(str(tmp_path_factory.mktemp("chain")))


# --------------------------------------------------------------------------
# the pure-Python refusals, all in one place
# --------------------------------------------------------------------------

def test_every_method_on_both_objects(impl, net, client_ctx, server_ctx):
    """Each beyond-stdlib method exists on SSLSocket and SSLObject: it works
    in the compiled implementation and raises the exact NotImplementedError
    in the pure-Python one; recv(n, MSG_PEEK) / recv_into(..., MSG_PEEK)
    likewise."""
    pair = bio_pair(impl, impl, client_ctx, server_ctx)
    pair.exchange()
    client_sock, server_sock = net.tls_pair(client_ctx(impl), server_ctx(impl))
    server_sock.sendall(b"hello")
    for obj in (pair.client.obj, client_sock):
        if impl.name == "python":
            # 3.13's stdlib has the chains: the pure-Python one answers those
            python_refuses(impl, obj, *(n for n in WHAT if not (
                CHAIN_AS_DER and n in ("get_verified_chain", "get_unverified_chain"))))
        else:
            for name, (args, kwargs) in CALLS.items():
                try:
                    getattr(obj, name)(*args, **kwargs)
                except ssl.SSLError:
                    # TLS 1.3: no renegotiation; SSLObject: nothing to peek at
                    assert name in ("renegotiate", "peek"), name
        assert obj.cipher_bits() == obj.cipher()[2]
        assert obj.want_write() is False
    if impl.name == "python":
        for call in (lambda: client_sock.recv(5, socket.MSG_PEEK),
                     lambda: client_sock.recv_into(bytearray(5), 5, socket.MSG_PEEK)):
            with pytest.raises(NotImplementedError) as ei:
                call()
            message = str(ei.value)
            assert "MSG_PEEK" in message and "SSL_peek" in message, message
            assert "pure-Python implementation" in message and "TLSFAST_IMPL=c" in message
    # nothing above consumed the data
    assert recv_exactly(client_sock, 5) == b"hello"


# --------------------------------------------------------------------------
# exporters (RFC 5705 / RFC 8446 7.5)
# --------------------------------------------------------------------------

@pytest.mark.interop
@pytest.mark.parametrize("version", VERSIONS)
def test_export_keying_material_matches_openssl(impl, net, certs, client_ctx, version):
    proc, port = net.openssl_server(
        "-cert", certs.server.chain, "-key", certs.server.key,
        "-keymatexport", LABEL, "-keymatexportlen", "40",
        "-tls1_2" if version == "1.2" else "-tls1_3")
    raw = net.track(socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT))
    tls = net.track(client_ctx(impl, version).wrap_socket(raw, server_hostname="localhost"))
    assert tls.version() == VERSION_NAMES[version]
    m = proc.wait_for_line(r"Keying material: ([0-9A-Fa-f]+)")
    expected = bytes.fromhex(m.group(1))
    assert len(expected) == 40
    if not python_refuses(impl, tls, "export_keying_material"):
        assert tls.export_keying_material(LABEL, 40) == expected
        assert tls.export_keying_material(LABEL.encode("ascii"), 40) == expected
        assert tls.export_keying_material(LABEL, 40, None) == expected
    _close_openssl(proc, tls)


def _close_openssl(proc, tls):
    """Hang up and let s_server (-naccept 1) exit on its own, its output
    read to the end (a kill at teardown races the fixture's reader thread)."""
    tls.close()
    assert proc.finish() == 0, proc.output


@pytest.mark.parametrize("version", VERSIONS)
def test_export_keying_material_both_ends(impl, net, client_ctx, server_ctx, version):
    pair = bio_pair(impl, impl, client_ctx, server_ctx, version)
    client, server = pair.client.obj, pair.server.obj
    if python_refuses(impl, client, "export_keying_material"):
        return
    for length in (1, 16, 32, 100, 1000):
        for context in (None, b"", b"ctx", bytearray(b"ctx"), memoryview(b"-ctx-")[1:4], b"\0" * 300):
            value = client.export_keying_material(LABEL, length, context)
            assert isinstance(value, bytes) and len(value) == length
            assert server.export_keying_material(LABEL, length, context) == value
    ekm = client.export_keying_material
    assert ekm(LABEL, 32, b"ctx") != ekm(LABEL, 32, b"other")
    assert ekm(LABEL, 32) != ekm(LABEL + "2", 32)
    assert ekm(LABEL, 32, b"ctx") != ekm(LABEL, 32)
    if version == "1.2":
        # RFC 5705: "no context" and an empty context are different inputs
        assert ekm(LABEL, 32) != ekm(LABEL, 32, b"")
    else:
        # RFC 8446 7.5: an absent context is the same as an empty one
        assert ekm(LABEL, 32) == ekm(LABEL, 32, b"")
    # another connection, other secrets
    other = bio_pair(impl, impl, client_ctx, server_ctx, version)
    assert other.client.obj.export_keying_material(LABEL, 32) != ekm(LABEL, 32)

    with pytest.raises(ValueError):
        ekm(LABEL, 0)
    if version == "1.2":
        # a label reserved by TLS 1.2 itself
        with pytest.raises(ssl.SSLError):
            ekm("key expansion", 16)
    fresh = client_ctx(impl, version).wrap_bio(impl.MemoryBIO(), impl.MemoryBIO(),
                                               server_hostname="localhost")
    with pytest.raises(ValueError):
        fresh.export_keying_material(LABEL, 16)

    # the same through SSLSocket
    csock, ssock = net.tls_pair(client_ctx(impl, version), server_ctx(impl, version))
    assert csock.export_keying_material(LABEL, 48, b"x") == ssock.export_keying_material(LABEL, 48, b"x")
    pair.exchange()


# --------------------------------------------------------------------------
# Finished messages, tls-unique
# --------------------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("role", ROLES)
def test_finished_messages(impl, client_ctx, server_ctx, role, version):
    cmod, smod = role_modules(impl, role)
    cctx, sctx = client_ctx(cmod, version), server_ctx(smod, version)
    pair = BioPair(cctx, sctx)
    mine = [e for e in pair.ends if (cmod if e is pair.client else smod) is impl]
    if impl.name != "python":
        for end in mine:
            assert end.obj.get_finished() is None and end.obj.get_peer_finished() is None
    pair.handshake()
    client, server = pair.client.obj, pair.server.obj
    # the stdlib's tls-unique agrees on both ends whatever the implementation
    binding = client.get_channel_binding("tls-unique")
    assert binding == server.get_channel_binding("tls-unique")
    if python_refuses(impl, mine[0].obj, "get_finished", "get_peer_finished"):
        return

    size = 12 if version == "1.2" else (48 if "SHA384" in client.cipher()[0] else 32)
    for end in mine:
        sent, received = end.obj.get_finished(), end.obj.get_peer_finished()
        assert len(sent) == len(received) == size and sent != received
        other = pair.peer(end)
        if other in mine:
            assert sent == other.obj.get_peer_finished()
            assert received == other.obj.get_finished()
        # RFC 5929: tls-unique is the first Finished of the handshake, the
        # client's in a full handshake
        assert binding == (sent if end is pair.client else received)

    if version == "1.2":
        # abbreviated handshake: the server's Finished comes first
        pair.exchange()
        resumed = BioPair(cctx, sctx, session=client.session).handshake()
        assert resumed.client.obj.session_reused is True
        first = resumed.client.obj.get_channel_binding("tls-unique")
        assert first == resumed.server.obj.get_channel_binding("tls-unique")
        for end in resumed.ends:
            if end.name in (e.name for e in mine):
                server_finished = (end.obj.get_finished() if end is resumed.server
                                   else end.obj.get_peer_finished())
                assert first == server_finished


# --------------------------------------------------------------------------
# ClientHello / ServerHello randoms
# --------------------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
def test_client_and_server_random(impl, net, client_ctx, server_ctx, version):
    pair = BioPair(client_ctx(impl, version), server_ctx(impl, version))
    client, server = pair.client.obj, pair.server.obj
    if python_refuses(impl, client, "client_random", "server_random"):
        return
    for obj in (client, server):
        assert obj.client_random() is None and obj.server_random() is None
    pair.handshake()
    cr, sr = client.client_random(), client.server_random()
    assert isinstance(cr, bytes) and len(cr) == 32
    assert isinstance(sr, bytes) and len(sr) == 32
    assert cr != sr
    assert server.client_random() == cr and server.server_random() == sr
    again = bio_pair(impl, impl, client_ctx, server_ctx, version)
    assert again.client.obj.client_random() != cr
    assert again.server.obj.server_random() != sr
    csock, ssock = net.tls_pair(client_ctx(impl, version), server_ctx(impl, version))
    assert csock.client_random() == ssock.client_random()
    assert csock.server_random() == ssock.server_random()
    assert len(csock.client_random()) == 32


# --------------------------------------------------------------------------
# peek
# --------------------------------------------------------------------------

def test_peek_sslobject(impl, client_ctx, server_ctx):
    pair = bio_pair(impl, impl, client_ctx, server_ctx)
    client, server = pair.client.obj, pair.server.obj
    pair.client.read_available()   # TLS 1.3 tickets
    if python_refuses(impl, client, "peek"):
        return
    with pytest.raises(ssl.SSLWantReadError):
        client.peek(5)
    server.write(b"hello world")
    pair.to_client()
    assert client.peek(5) == b"hello"
    assert client.peek(5) == b"hello"
    assert client.pending() == 11
    assert client.peek(100) == b"hello world"
    assert client.read(3) == b"hel"
    assert client.peek(100) == b"lo world"
    assert client.read(100) == b"lo world"
    with pytest.raises(ssl.SSLWantReadError):
        client.peek(5)
    with pytest.raises(ValueError):
        client.peek(-1)
    assert client.peek(0) == b""
    server.write(b"bye")
    with pytest.raises(ssl.SSLWantReadError):
        server.unwrap()
    pair.to_client()
    assert client.peek(10) == b"bye"
    assert client.read(10) == b"bye"
    assert client.peek(10) == b""          # close_notify: EOF, like read()


def test_peek_sslsocket(impl, net, client_ctx, server_ctx):
    client, server = net.tls_pair(client_ctx(impl), server_ctx(impl))
    server.sendall(b"0123456789")
    if python_refuses(impl, client, "peek"):
        assert recv_exactly(client, 10) == b"0123456789"
        return
    assert client.recv(4, socket.MSG_PEEK) == b"0123"
    assert client.recv(4, socket.MSG_PEEK) == b"0123"
    assert client.peek(6) == b"012345"
    buf = bytearray(8)
    assert client.recv_into(buf, 3, socket.MSG_PEEK) == 3 and buf[:3] == b"012"
    assert client.pending() == 10
    assert client.recv(2) == b"01"
    assert client.recv(100, socket.MSG_PEEK) == b"23456789"
    assert recv_exactly(client, 8) == b"23456789"
    with pytest.raises(ValueError):
        client.recv(4, socket.MSG_OOB)
    # peek waits like recv (socket with a timeout)
    server.sendall(b"late")
    assert client.recv(10, socket.MSG_PEEK) == b"late"
    assert client.recv(10) == b"late"


# --------------------------------------------------------------------------
# TLS 1.3 key update
# --------------------------------------------------------------------------

def _key_updates(wire: bytes) -> int:
    return sum(1 for kind, length in split_records(wire) if kind == 23 and length == KEY_UPDATE_RECORD)


@pytest.mark.parametrize("role", ROLES)
def test_key_update_while_data_flows_memory_bios(impl, client_ctx, server_ctx, role):
    cmod, smod = role_modules(impl, role)
    pair = bio_pair(cmod, smod, client_ctx, server_ctx, "1.3")
    mine = [e for e in pair.ends if (cmod if e is pair.client else smod) is impl]
    if python_refuses(impl, mine[0].obj, "key_update"):
        return

    # a lone update: exactly one KeyUpdate record goes out at once
    end = mine[0]
    end.obj.key_update()
    lone = end.outgoing.read()
    assert _key_updates(lone) == 1 and len(split_records(lone)) == 1
    pair.peer(end).incoming.write(lone)
    pair.client.read_available()            # TLS 1.3 tickets
    pair.exchange(b"x" * 100)

    rng = random.Random(1234)
    sent = {e.name: bytearray() for e in pair.ends}
    received = {e.name: bytearray() for e in pair.ends}
    wire = {e.name: bytearray() for e in pair.ends}
    backlog = {e.name: bytearray() for e in pair.ends}
    calls = {e.name: 0 for e in pair.ends}

    def collect(e):
        ct = e.outgoing.read()
        wire[e.name] += ct
        backlog[e.name] += ct

    def deliver(e, nbytes):
        peer = pair.peer(e)
        chunk = bytes(backlog[e.name][:nbytes])
        del backlog[e.name][:nbytes]
        peer.incoming.write(chunk)
        received[peer.name] += peer.read_available()
        collect(peer)

    for i in range(60):
        for e in pair.ends:
            data = rng.randbytes(rng.randrange(100, 3000))
            assert e.obj.write(data) == len(data)
            sent[e.name] += data
            if e in mine and i % 9 == (1 if e is pair.client else 5):
                e.obj.key_update(request_peer=True)
                calls[e.name] += 1
            collect(e)
        for e in pair.ends:   # a random cut of the ciphertext each way
            deliver(e, rng.randrange(0, len(backlog[e.name]) + 1))
    for _ in range(3):
        for e in pair.ends:
            deliver(e, len(backlog[e.name]))
    for e in pair.ends:       # answers to the last requests go out with these
        e.obj.write(b"final " + e.name.encode())
        sent[e.name] += b"final " + e.name.encode()
        collect(e)
    for e in pair.ends:
        deliver(e, len(backlog[e.name]))

    for e in pair.ends:
        peer = pair.peer(e)
        assert hashlib.sha256(received[peer.name]).digest() == hashlib.sha256(sent[e.name]).digest()
        # its own updates, plus at least one answer to the peer's requests
        expected = calls[e.name] + (1 if calls[peer.name] else 0)
        assert _key_updates(wire[e.name]) >= expected, (e.name, calls)
    assert sum(calls.values()) >= 6
    pair.exchange(b"after")


@pytest.mark.parametrize("peer", ["tlsfast", "stdlib"])
def test_key_update_while_data_flows_sockets(impl, net, client_ctx, server_ctx, peer):
    smod = impl if peer == "tlsfast" else ssl
    client, server = net.tls_pair(client_ctx(impl, "1.3"), server_ctx(smod, "1.3"))
    if python_refuses(impl, client, "key_update"):
        return
    rounds = 40

    def chunk(who, i):
        return random.Random(f"{who}{i}").randbytes(2000 + 97 * i)

    def run(sock, me, other, updates):
        digest = hashlib.sha256()
        for i in range(rounds):
            sock.sendall(chunk(me, i))
            if updates and i % 5 == (0 if me == "c" else 2):
                sock.key_update(request_peer=True)
            data = recv_exactly(sock, len(chunk(other, i)))
            assert data == chunk(other, i), (me, i)
            digest.update(data)
        return digest.hexdigest()

    srv = net.peer(run, server, "s", "c", smod is impl, name="key-update-server")
    run(client, "c", "s", True)
    srv.result()
    client.sendall(b"still usable")
    assert recv_exactly(server, 12) == b"still usable"
    server.sendall(b"yes")
    assert recv_exactly(client, 3) == b"yes"


def test_key_update_refusals(impl, client_ctx, server_ctx):
    pair = bio_pair(impl, impl, client_ctx, server_ctx, "1.2")
    if python_refuses(impl, pair.client.obj, "key_update"):
        return
    for end in pair.ends:
        with pytest.raises(ssl.SSLError):
            end.obj.key_update(request_peer=True)
        with pytest.raises(ssl.SSLError):
            end.obj.key_update()
    pair.exchange()                         # refused, connection unharmed
    fresh = client_ctx(impl, "1.3").wrap_bio(impl.MemoryBIO(), impl.MemoryBIO(),
                                             server_hostname="localhost")
    with pytest.raises(ValueError):
        fresh.key_update()


# --------------------------------------------------------------------------
# TLS 1.2 renegotiation
# --------------------------------------------------------------------------

def test_server_contexts_refuse_renegotiation_by_default(impl):
    assert impl.SSLContext(impl.PROTOCOL_TLS_SERVER).options & ssl.OP_NO_RENEGOTIATION


def test_renegotiate_refused_by_tlsfast_server(impl, client_ctx, server_ctx):
    """A compiled TLS 1.2 client renegotiating against a tlsfast server (of
    either implementation) with default settings: refused."""
    c = load_impl("c")
    pair = BioPair(client_ctx(c, "1.2"), server_ctx(impl, "1.2")).handshake()
    client, server = pair.client.obj, pair.server.obj
    pair.exchange()
    assert client.renegotiate() is None
    assert client.renegotiate_pending() is True
    with pytest.raises(ssl.SSLWantReadError):
        client.read(100)                                # the ClientHello is out by now
    assert client.renegotiate_pending() is True
    hello = pair.to_server()
    assert split_records(hello)[0][0] == 22            # an (encrypted) ClientHello
    with pytest.raises(ssl.SSLWantReadError):
        server.read(100)                                # answers with a no_renegotiation alert
    pair.to_client()
    with pytest.raises(ssl.SSLError) as ei:
        client.read(100)
    assert type(ei.value) is ssl.SSLError
    assert ei.value.reason == "NO_RENEGOTIATION"
    if impl.name == "python":
        python_refuses(impl, server, "renegotiate", "renegotiate_pending")


def _allowing_server_ctx(mod, server_ctx):
    ctx = server_ctx(mod, "1.2")
    ctx.options = (int(ctx.options) & ~int(ssl.OP_NO_RENEGOTIATION)) | OP_ALLOW_CLIENT_RENEGOTIATION
    return ctx


def _drive_renegotiation(pair, rounds=10):
    """Data both ways, tolerating the want-read a write meets while the
    renegotiation handshake is under way (the write is retried later), until
    the client's renegotiation is done; all the data must arrive."""
    queued = {e.name: [] for e in pair.ends}
    expected = {e.name: bytearray() for e in pair.ends}
    got = {e.name: bytearray() for e in pair.ends}
    for i in range(rounds):
        for e in pair.ends:
            queued[e.name].append(b"<%s %d>" % (e.name.encode(), i))
            while queued[e.name]:
                try:
                    e.obj.write(queued[e.name][0])
                except ssl.SSLWantReadError:
                    break
                expected[e.name] += queued[e.name].pop(0)
            pair.move(e)
            peer = pair.peer(e)
            got[peer.name] += peer.read_available()
            pair.move(peer)
        if i >= 2 and not pair.client.obj.renegotiate_pending() and not any(queued.values()):
            break
    assert not pair.client.obj.renegotiate_pending(), "renegotiation unfinished"
    assert got["server"] == expected["client"] and got["client"] == expected["server"]


@pytest.mark.parametrize("server_mod", ["tlsfast", "stdlib"])
def test_renegotiate_completes_memory_bios(impl, client_ctx, server_ctx, server_mod):
    smod = impl if server_mod == "tlsfast" else ssl
    pair = BioPair(client_ctx(impl, "1.2"), _allowing_server_ctx(smod, server_ctx)).handshake()
    client, server = pair.client.obj, pair.server.obj
    if python_refuses(impl, client, "renegotiate", "renegotiate_pending"):
        return
    assert client.renegotiate_pending() is False
    finished, random_before = client.get_finished(), client.client_random()
    client.renegotiate()
    assert client.renegotiate_pending() is True
    _drive_renegotiation(pair)
    assert client.renegotiate_pending() is False
    assert client.get_finished() != finished           # a new handshake happened
    assert client.client_random() != random_before
    assert client.version() == "TLSv1.2"
    pair.exchange(b"after")


def test_renegotiate_with_peer_data_in_flight_memory_bios(impl, client_ctx, server_ctx):
    """Application data from the server already queued when the client asks
    to renegotiate: it must be delivered, and the renegotiation complete."""
    pair = BioPair(client_ctx(impl, "1.2"), _allowing_server_ctx(impl, server_ctx)).handshake()
    client, server = pair.client.obj, pair.server.obj
    if python_refuses(impl, client, "renegotiate"):
        return
    finished = client.get_finished()
    server.write(b"in flight")
    pair.to_client()
    client.renegotiate()
    assert client.read(100) == b"in flight"
    _drive_renegotiation(pair)
    assert client.renegotiate_pending() is False
    assert client.get_finished() != finished


def test_renegotiate_refused_on_tls13(impl, client_ctx, server_ctx):
    pair = bio_pair(impl, impl, client_ctx, server_ctx, "1.3")
    if python_refuses(impl, pair.client.obj, "renegotiate"):
        return
    with pytest.raises(ssl.SSLError):
        pair.client.obj.renegotiate()
    pair.client.read_available()
    pair.exchange()
    fresh = client_ctx(impl, "1.2").wrap_bio(impl.MemoryBIO(), impl.MemoryBIO(),
                                             server_hostname="localhost")
    with pytest.raises(ValueError):
        fresh.renegotiate()


def _openssl_reneg_server(net, certs):
    proc, port = net.openssl_server("-cert", certs.server.chain, "-key", certs.server.key,
                                    "-tls1_2", "-client_renegotiation")
    return proc, port


def _say(proc, line: bytes):
    """Make s_server send ``line`` (lines of more than 2 bytes are data, not commands)."""
    proc.proc.stdin.write(line + b"\n")
    proc.proc.stdin.flush()


def _connect(net, impl, client_ctx, port):
    raw = net.track(socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT))
    return net.track(client_ctx(impl, "1.2").wrap_socket(raw, server_hostname="localhost"))


def _finish_renegotiation(proc, tls, tag):
    """Data both ways until the renegotiation is done (bounded)."""
    for i in range(4):
        _say(proc, b"pong-%s-%d" % (tag, i))
        expected = b"pong-%s-%d\n" % (tag, i)
        assert recv_exactly(tls, len(expected)) == expected
        tls.sendall(b"ping-%s-%d\n" % (tag, i))
        proc.wait_for_line("ping-%s-%d" % (tag.decode(), i))
        if not tls.renegotiate_pending():
            return


@pytest.mark.interop
def test_renegotiate_completes_against_openssl(impl, net, certs, client_ctx):
    """``openssl s_server -tls1_2 -client_renegotiation`` accepts a client's
    renegotiation (OpenSSL 3 refuses it without that flag)."""
    proc, port = _openssl_reneg_server(net, certs)
    tls = _connect(net, impl, client_ctx, port)
    proc.wait_for_line(r"^CIPHER is")
    if python_refuses(impl, tls, "renegotiate", "renegotiate_pending"):
        return _close_openssl(proc, tls)
    finished, random_before = tls.get_finished(), tls.client_random()
    assert tls.renegotiate_pending() is False
    tls.renegotiate()
    _finish_renegotiation(proc, tls, b"a")
    assert tls.renegotiate_pending() is False
    assert tls.get_finished() != finished
    assert tls.client_random() != random_before
    _close_openssl(proc, tls)
    assert "1 server renegotiates" in proc.output


@pytest.mark.interop
def test_renegotiate_only_starts_it(impl, net, certs, client_ctx):
    """``renegotiate()`` starts the renegotiation; reads and writes after it
    complete it (``renegotiate_pending()`` True until then), also on a
    socket with a timeout."""
    proc, port = _openssl_reneg_server(net, certs)
    tls = _connect(net, impl, client_ctx, port)
    proc.wait_for_line(r"^CIPHER is")
    if python_refuses(impl, tls, "renegotiate", "renegotiate_pending"):
        return _close_openssl(proc, tls)
    tls.renegotiate()
    assert tls.renegotiate_pending() is True
    _finish_renegotiation(proc, tls, b"b")
    assert tls.renegotiate_pending() is False
    _close_openssl(proc, tls)


@pytest.mark.interop
def test_renegotiate_with_peer_data_in_flight_against_openssl(impl, net, certs, client_ctx):
    """s_server's data already on its way when the client renegotiates (a
    protocol where both ends talk): the data arrives, the renegotiation
    completes, the connection survives."""
    proc, port = _openssl_reneg_server(net, certs)
    tls = _connect(net, impl, client_ctx, port)
    proc.wait_for_line(r"^CIPHER is")
    if python_refuses(impl, tls, "renegotiate"):
        return _close_openssl(proc, tls)
    finished = tls.get_finished()
    _say(proc, b"early-data")
    readable, _, _ = select.select([tls], [], [], IO_TIMEOUT)
    assert readable and tls.pending() == 0     # in the kernel, not yet read
    tls.renegotiate()
    assert recv_exactly(tls, 11) == b"early-data\n"
    _finish_renegotiation(proc, tls, b"c")
    assert tls.renegotiate_pending() is False
    assert tls.get_finished() != finished
    _close_openssl(proc, tls)


# --------------------------------------------------------------------------
# certificate chains
# --------------------------------------------------------------------------

def _check_chains(impl, chain_certs, client, server, client_cert):
    cc = chain_certs
    if impl.name == "python":
        assert_not_implemented(client, "get_peer_cert_chain", True)
        if not CHAIN_AS_DER:    # the stdlib has no verified chain before 3.13
            python_refuses(impl, client, "get_verified_chain", "get_unverified_chain")
            return
    else:
        # the client sees what the server sent: leaf + intermediate
        assert client.get_peer_cert_chain(binary_form=True) == [cc.server_der, cc.inter_der]
        decoded = client.get_peer_cert_chain(binary_form=False)
        assert decoded[0] == client.getpeercert()
        assert decoded[1]["subject"] == decoded[0]["issuer"]
        # OpenSSL leaves the client's leaf out of the server's peer chain
        assert server.get_peer_cert_chain(True) == ([cc.inter_der] if client_cert else None)
    assert client.get_unverified_chain() == [cc.server_der, cc.inter_der]
    assert client.get_verified_chain(binary_form=True) == [cc.server_der, cc.inter_der, cc.root_der]
    verified = client.get_verified_chain(binary_form=False)
    assert verified[0] == client.getpeercert()
    assert verified[1]["subject"] == verified[0]["issuer"]
    assert verified[2]["subject"] == verified[2]["issuer"] == verified[1]["issuer"]
    # 3.13's default form (DER, [] for none); before, the dicts (None for none)
    assert client.get_verified_chain() == (client.get_verified_chain(True) if CHAIN_AS_DER
                                           else verified)
    if client_cert:
        assert server.get_unverified_chain() == [cc.client_der, cc.inter_der]
        assert server.get_verified_chain(True) == [cc.client_der, cc.inter_der, cc.root_der]
        assert server.getpeercert(True) == cc.client_der
    else:
        assert server.get_unverified_chain() == []
        assert server.get_verified_chain(True) == ([] if CHAIN_AS_DER else None)


@pytest.mark.parametrize("client_cert", [False, True], ids=["server-auth", "mutual-auth"])
def test_cert_chains_sslobject(impl, chain_certs, client_cert):
    cctx, sctx = chain_certs.contexts(impl, client_cert)
    pair = BioPair(cctx, sctx)
    if impl.name != "python":
        assert pair.client.obj.get_peer_cert_chain() is None
        assert pair.client.obj.get_verified_chain() == ([] if CHAIN_AS_DER else None)
        assert pair.client.obj.get_unverified_chain() == []
    pair.handshake()
    _check_chains(impl, chain_certs, pair.client.obj, pair.server.obj, client_cert)


@pytest.mark.parametrize("client_cert", [False, True], ids=["server-auth", "mutual-auth"])
def test_cert_chains_sslsocket(impl, net, chain_certs, client_cert):
    cctx, sctx = chain_certs.contexts(impl, client_cert)
    client, server = net.tls_pair(cctx, sctx)
    _check_chains(impl, chain_certs, client, server, client_cert)


def test_cert_chains_trustme_fixture(impl, certs, client_ctx, server_ctx):
    """The shared trustme CA (no intermediate): leaf sent, leaf + CA verified."""
    pair = bio_pair(impl, impl, client_ctx, server_ctx)
    if impl.name == "python" and not CHAIN_AS_DER:
        python_refuses(impl, pair.client.obj, "get_peer_cert_chain", "get_verified_chain")
        return
    assert pair.client.obj.get_unverified_chain() == [certs.server.leaf_der]
    assert pair.client.obj.get_verified_chain(True) == [certs.server.leaf_der, der(open(certs.ca_pem).read())]


# --------------------------------------------------------------------------
# want_read / want_write / cipher_bits: both implementations
# --------------------------------------------------------------------------

def test_want_read_sslobject(impl, client_ctx, server_ctx):
    pair = BioPair(client_ctx(impl), server_ctx(impl))
    client = pair.client.obj
    assert client.want_read() is False and client.want_write() is False
    assert client.try_do_handshake() == impl.WANT_READ
    assert client.want_read() is True and client.want_write() is False
    pair.handshake()
    pair.client.read_available()
    buf = bytearray(10)
    assert client.try_recv_into(buf) == impl.WANT_READ
    assert client.want_read() is True
    pair.server.obj.write(b"x")
    pair.to_client()
    assert client.try_recv_into(buf) == 1
    assert client.want_read() is False and client.want_write() is False


def test_want_read_and_write_sslsocket(impl, net, client_ctx, server_ctx):
    client, server = net.tls_pair(
        client_ctx(impl), server_ctx(impl),
        tcp_kwargs={"client_sndbuf": 8192, "server_rcvbuf": 8192})
    client.settimeout(0.0)
    buf = bytearray(100)
    assert client.try_recv_into(buf) == impl.WANT_READ
    assert client.want_read() is True and client.want_write() is False
    assert client.wanted_events == selectors.EVENT_READ
    block = b"w" * 65536
    deadline = time.monotonic() + IO_TIMEOUT
    for _ in range(2000):
        code = client.try_send(block)
        if code == impl.WANT_WRITE:
            break
        assert code > 0 and time.monotonic() < deadline
    else:
        raise AssertionError("the transport never filled up")
    assert client.want_write() is True and client.want_read() is False
    assert client.wanted_events == selectors.EVENT_WRITE


@pytest.mark.parametrize("version", VERSIONS)
def test_cipher_bits(impl, net, client_ctx, server_ctx, version):
    pair = BioPair(client_ctx(impl, version), server_ctx(impl, version))
    assert pair.client.obj.cipher_bits() is None
    pair.handshake()
    for end in pair.ends:
        bits = end.obj.cipher_bits()
        assert bits == end.obj.cipher()[2] and bits in (128, 256)
    client, server = net.tls_pair(client_ctx(impl, version), server_ctx(impl, version))
    assert client.cipher_bits() == client.cipher()[2] == server.cipher_bits()
    cctx = client_ctx(impl, version)
    if version == "1.2":
        cctx.set_ciphers("ECDHE+AES128")
        expected = 128
        pair = BioPair(cctx, server_ctx(impl, version)).handshake()
        assert pair.client.obj.cipher_bits() == expected == pair.client.obj.cipher()[2]


# --------------------------------------------------------------------------
# sessions over memory BIOs
# --------------------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("role", ROLES)
def test_session_reuse_memory_bios(impl, client_ctx, server_ctx, role, version):
    cmod, smod = role_modules(impl, role)
    cctx, sctx = client_ctx(cmod, version), server_ctx(smod, version)
    before = int(time.time())
    pair = BioPair(cctx, sctx).handshake()
    if version == "1.3":
        # the tickets are in the client's incoming BIO, not yet read
        early = pair.client.obj.session
        assert early is not None and early.has_ticket is False
    pair.exchange()                               # the client reads: tickets processed
    session = pair.client.obj.session
    assert isinstance(session, cmod.SSLSession)
    assert isinstance(session.id, bytes) and len(session.id) == 32
    assert session.has_ticket is True
    assert session.timeout == 7200
    assert session.ticket_lifetime_hint == 7200
    assert before - 2 <= session.time <= int(time.time()) + 2
    assert pair.server.obj.session_reused is False

    resumed = BioPair(cctx, sctx, session=session).handshake()
    assert resumed.client.obj.session_reused is True
    assert resumed.server.obj.session_reused is True
    resumed.exchange()
    if version == "1.2":
        assert resumed.client.obj.session.id == session.id
        assert resumed.client.obj.session == session
    else:
        assert resumed.client.obj.session.id != session.id     # a fresh ticket

    # the session setter, before the handshake
    late = BioPair(cctx, sctx)
    late.client.obj.session = session
    late.handshake()
    assert late.client.obj.session_reused is True

    # another server context knows neither the session nor the ticket key
    other = BioPair(cctx, server_ctx(smod, version), session=session).handshake()
    assert other.client.obj.session_reused is False
    other.exchange()


def test_session_argument_errors_match_stdlib(impl, client_ctx, server_ctx):
    def attempts(mod):
        cctx, sctx = client_ctx(mod), server_ctx(mod)
        pair = BioPair(cctx, sctx).handshake()
        pair.exchange()
        session = pair.client.obj.session
        bio = ssl.MemoryBIO
        return [
            type(session).__name__.replace("SSLSession", "Session"),   # (3.9's name)
            outcome_type(lambda: sctx.wrap_bio(bio(), bio(), server_side=True, session=session)),
            outcome_type(lambda: setattr(pair.client.obj, "session", session)),   # after handshake
            outcome_type(lambda: setattr(pair.server.obj, "session", session)),   # server side
            outcome_type(lambda: setattr(BioPair(cctx, sctx).client.obj, "session", "nope")),
            outcome_type(lambda: cctx.wrap_bio(bio(), bio(), server_hostname="localhost",
                                               session=b"nope")),
        ]
    assert attempts(impl) == attempts(ssl)


def outcome_type(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the type is the point
        return type(exc)
    return None
