"""Memory-BIO mode: TLS without a socket (docs/memory-bio.rst).

A client ``SSLObject`` and a server ``SSLObject``, each over a pair of
tlsfast ``MemoryBIO`` objects; the "network" is a function that moves the
ciphertext one side wrote into the other side's incoming BIO.  This is what
a sans-IO protocol library or an event loop that owns its sockets does.
Runs by itself (trustme certificates, no network at all) and exits.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import trustme

import tlsfast


def make_certs(directory: str) -> tuple[str, str]:
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost")
    ca_path = os.path.join(directory, "ca.pem")
    chain_path = os.path.join(directory, "server.pem")
    ca.cert_pem.write_to_path(ca_path)
    leaf.private_key_and_cert_chain_pem.write_to_path(chain_path)
    return ca_path, chain_path


# [start endpoint]
class Endpoint:
    """One side of a TLS connection in memory: an SSLObject and its two BIOs."""

    def __init__(self, context: tlsfast.SSLContext, **wrap_args: Any) -> None:
        self.incoming = tlsfast.MemoryBIO()     # ciphertext from the peer
        self.outgoing = tlsfast.MemoryBIO()     # ciphertext for the peer
        self.tls = context.wrap_bio(self.incoming, self.outgoing, **wrap_args)
        self.wire = bytearray(65536)            # reused for outgoing.read_into()

    def transmit_to(self, peer: Endpoint) -> int:
        """Move everything this side has written into the peer's incoming BIO."""
        moved = 0
        while self.outgoing.pending:
            n = self.outgoing.read_into(self.wire)   # no bytes object per chunk
            peer.incoming.write(memoryview(self.wire)[:n])
            moved += n
        return moved


def handshake(client: Endpoint, server: Endpoint) -> None:
    """Drive both handshakes with the non-raising fast path."""
    for _ in range(10):
        c = client.tls.try_do_handshake()        # 0 when done, else WANT_READ
        client.transmit_to(server)
        s = server.tls.try_do_handshake()
        server.transmit_to(client)
        if c == 0 and s == 0:
            return
    raise RuntimeError("handshake did not finish")
# [end endpoint]


# [start data]
def send_and_receive(sender: Endpoint, receiver: Endpoint, data: bytes) -> bytes:
    """``sender`` encrypts ``data``; ``receiver`` decrypts it into a buffer."""
    view = memoryview(data)
    while view:
        n = sender.tls.try_send(view)        # memory BIOs never return WANT_WRITE
        view = view[n:]
    sender.transmit_to(receiver)
    out = bytearray(len(data))
    got = 0
    while got < len(out):
        n = receiver.tls.try_recv_into(memoryview(out)[got:])
        if n == tlsfast.WANT_READ:               # needs more ciphertext: none left
            raise RuntimeError("incomplete record")
        got += n
    return bytes(out)


def close(client: Endpoint, server: Endpoint) -> None:
    """TLS shutdown: close_notify both ways."""
    assert client.tls.try_unwrap() == tlsfast.WANT_READ   # sent ours, wait for theirs
    client.transmit_to(server)
    assert server.tls.try_recv_into(bytearray(1)) == 0    # the server sees EOF
    assert server.tls.try_unwrap() == 0                   # and answers
    server.transmit_to(client)
    assert client.tls.try_unwrap() == 0
# [end data]


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        cafile, certfile = make_certs(d)
        server_ctx = tlsfast.SSLContext(tlsfast.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(certfile)
        client_ctx = tlsfast.create_default_context(cafile=cafile)

    client = Endpoint(client_ctx, server_hostname="localhost")
    server = Endpoint(server_ctx, server_side=True)
    handshake(client, server)
    print("handshake done:", client.tls.version(), client.tls.cipher())

    request = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
    assert send_and_receive(client, server, request) == request
    body = os.urandom(200_000)                    # several 16 KiB records
    assert send_and_receive(server, client, body) == body

    # The stdlib-compatible methods work too: read() raises SSLWantReadError
    # when the incoming BIO has no complete record.
    try:
        client.tls.read(10)
    except tlsfast.SSLWantReadError:
        print("read() with nothing to read: SSLWantReadError, as in the stdlib")

    close(client, server)
    print(f"memory BIOs: {len(request) + len(body)} bytes through tlsfast ({tlsfast.__impl__})")


if __name__ == "__main__":
    main()
