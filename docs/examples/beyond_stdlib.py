"""What the compiled implementation adds to the stdlib API
(docs/beyond-stdlib.rst).

Keying-material export, Finished messages, handshake randoms, peek /
MSG_PEEK, TLS 1.3 key updates, TLS 1.2 renegotiation, certificate chains,
want_read / want_write, cipher_bits.  Compiled implementation only: the
pure-Python one raises NotImplementedError for most of these (the stdlib
does not expose them).  Runs by itself over socket pairs and memory BIOs
(trustme certificates) and exits.
"""

from __future__ import annotations

# docs-example: impls=c

import os
import socket
import tempfile
import threading
from typing import Any

import trustme

import tlsfast

assert tlsfast.__impl__ == "c", "these methods need the compiled implementation"


def make_certs(directory: str) -> tuple[str, str]:
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost")
    ca_path = os.path.join(directory, "ca.pem")
    chain_path = os.path.join(directory, "server.pem")
    ca.cert_pem.write_to_path(ca_path)
    leaf.private_key_and_cert_chain_pem.write_to_path(chain_path)
    return ca_path, chain_path


def connected_pair(client_ctx: tlsfast.SSLContext, server_ctx: tlsfast.SSLContext,
                   ) -> tuple[tlsfast.SSLSocket, tlsfast.SSLSocket]:
    """A handshaken (client, server) pair of tlsfast sockets over a socketpair."""
    a, b = socket.socketpair()
    a.settimeout(10)
    b.settimeout(10)
    result: dict[str, tlsfast.SSLSocket] = {}
    server = threading.Thread(
        target=lambda: result.update(tls=server_ctx.wrap_socket(b, server_side=True)))
    server.start()
    client = client_ctx.wrap_socket(a, server_hostname="localhost")
    server.join(10)
    return client, result["tls"]


# [start exporter]
def keying_material(client: tlsfast.SSLSocket, server: tlsfast.SSLSocket) -> None:
    """RFC 5705 / RFC 8446 7.5: both ends derive the same secret bytes."""
    k1 = client.export_keying_material("EXPORTER-my-protocol", 32, b"context")
    k2 = server.export_keying_material("EXPORTER-my-protocol", 32, b"context")
    assert k1 == k2 and len(k1) == 32
    # the Finished messages and the handshake randoms, seen from both ends
    assert client.get_finished() == server.get_peer_finished()
    assert client.client_random() == server.client_random()
    server_random = client.server_random()      # None before the handshake
    assert server_random is not None and len(server_random) == 32
    print("exported 32 bytes of keying material, identical on both ends")
# [end exporter]


# [start peek]
def peek(client: tlsfast.SSLSocket, server: tlsfast.SSLSocket) -> None:
    server.sendall(b"hello world")
    assert client.peek(5) == b"hello"                     # left in place
    assert client.recv(5, socket.MSG_PEEK) == b"hello"     # the same, socket style
    assert client.recv(11) == b"hello world"               # now consumed
    print("peek / MSG_PEEK: data seen without consuming it")
# [end peek]


# [start key_update]
def key_update(client: tlsfast.SSLSocket, server: tlsfast.SSLSocket) -> None:
    """TLS 1.3: new traffic keys without a new handshake."""
    client.key_update(request_peer=True)     # ours now, and ask the server for its own
    client.sendall(b"ping")                  # the KeyUpdate goes out before this record
    assert server.recv(4) == b"ping"         # the server processes it (and updates)
    server.sendall(b"pong")
    assert client.recv(4) == b"pong"
    print("key update: traffic keys replaced in both directions, data kept flowing")
# [end key_update]


# [start chains]
def chains(client: tlsfast.SSLSocket) -> None:
    sent = client.get_peer_cert_chain() or []            # what the server sent
    verified = client.get_verified_chain(binary_form=False) or []   # leaf .. trust anchor
    der = client.get_verified_chain(binary_form=True) or []
    print("peer sent", len(sent), "certificate(s); verified chain:",
          " -> ".join(dict(rdn[0] for rdn in c["subject"]).get("organizationalUnitName", "?")
                      for c in verified))
    assert der[0] == client.getpeercert(binary_form=True)
    print("cipher_bits:", client.cipher_bits())
# [end chains]


# [start want]
def want_flags(client: tlsfast.SSLSocket) -> None:
    client.setblocking(False)
    buf = bytearray(100)
    assert client.try_recv_into(buf) == tlsfast.WANT_READ   # nothing sent to us
    assert client.want_read() and not client.want_write()
    client.setblocking(True)
    print("want_read() after a fast-path call that needs data: True")
# [end want]


# [start renegotiate]
OP_ALLOW_CLIENT_RENEGOTIATION = 1 << 8     # SSL_OP_ALLOW_CLIENT_RENEGOTIATION (OpenSSL 3)


def pump(src: End, dst: End) -> int:
    data = src.outgoing.read()
    dst.incoming.write(data)
    return len(data)


class End:
    def __init__(self, ctx: tlsfast.SSLContext, **kw: Any) -> None:
        self.incoming, self.outgoing = tlsfast.MemoryBIO(), tlsfast.MemoryBIO()
        self.tls = ctx.wrap_bio(self.incoming, self.outgoing, **kw)


def renegotiation(cafile: str, certfile: str) -> None:
    """TLS 1.2 renegotiation, client-initiated, over memory BIOs."""
    server_ctx = tlsfast.SSLContext(tlsfast.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(certfile)
    server_ctx.maximum_version = tlsfast.TLSVersion.TLSv1_2
    # tlsfast servers refuse renegotiation by default (OP_NO_RENEGOTIATION);
    # this one opts in, and OpenSSL 3 also wants client-initiated ones allowed
    server_ctx.options = (server_ctx.options & ~tlsfast.OP_NO_RENEGOTIATION) \
        | OP_ALLOW_CLIENT_RENEGOTIATION
    client_ctx = tlsfast.create_default_context(cafile=cafile)
    client, server = End(client_ctx, server_hostname="localhost"), End(server_ctx, server_side=True)
    for _ in range(10):
        c, s = client.tls.try_do_handshake(), server.tls.try_do_handshake()
        pump(client, server)
        pump(server, client)
        if c == s == 0:
            break
    first = client.tls.get_finished()

    client.tls.renegotiate()                  # only starts it (SSL_renegotiate)
    assert client.tls.renegotiate_pending()
    for _ in range(10):                       # reads and writes drive it to completion
        client.tls.try_send(b"x")
        pump(client, server)
        server.tls.try_recv_into(bytearray(10))
        pump(server, client)
        client.tls.try_recv_into(bytearray(10))
        if not client.tls.renegotiate_pending():
            break
    assert not client.tls.renegotiate_pending()
    assert client.tls.get_finished() != first  # a new handshake happened
    print("TLS 1.2 renegotiation completed:", client.tls.version())
# [end renegotiate]


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        cafile, certfile = make_certs(d)
        server_ctx = tlsfast.SSLContext(tlsfast.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(certfile)
        client_ctx = tlsfast.create_default_context(cafile=cafile)
        client, server = connected_pair(client_ctx, server_ctx)
        with client, server:
            keying_material(client, server)
            peek(client, server)
            key_update(client, server)
            chains(client)
            want_flags(client)
        renegotiation(cafile, certfile)


if __name__ == "__main__":
    main()
