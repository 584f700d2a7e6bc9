"""trio's ``SSLStream`` over tlsfast contexts (docs/memory-bio.rst).

trio drives an ``SSLObject`` (``context.wrap_bio``) over the stdlib's own
``ssl.MemoryBIO`` objects; a tlsfast context is all it needs.  A TCP
server and client on a free loopback port, 1 MiB each way, then exit.
"""

from __future__ import annotations

import hashlib
import os
import tempfile

import trio
import trustme

import tlsfast


def make_certs(directory: str) -> tuple[str, str]:
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", "127.0.0.1")
    ca_path = os.path.join(directory, "ca.pem")
    chain_path = os.path.join(directory, "server.pem")
    ca.cert_pem.write_to_path(ca_path)
    leaf.private_key_and_cert_chain_pem.write_to_path(chain_path)
    return ca_path, chain_path


# [start trio]
async def serve_one(listener: trio.SocketListener, context: tlsfast.SSLContext,
                    done: trio.Event) -> None:
    """Accept one TCP connection, put TLS on it, echo until EOF."""
    tcp = await listener.accept()
    stream = trio.SSLStream(tcp, context, server_side=True)
    async with stream:
        while data := await stream.receive_some(65536):
            await stream.send_all(data)
    done.set()


async def client(port: int, context: tlsfast.SSLContext, payload: bytes) -> str:
    tcp = await trio.open_tcp_stream("127.0.0.1", port)
    stream = trio.SSLStream(tcp, context, server_hostname="localhost")
    received = hashlib.sha256()
    async with stream:
        await stream.do_handshake()
        print("trio SSLStream with", type(context).__module__, stream.version(),
              stream.cipher()[0])
        async with trio.open_nursery() as nursery:
            nursery.start_soon(stream.send_all, payload)
            got = 0
            while got < len(payload):
                chunk = await stream.receive_some(65536)
                received.update(chunk)
                got += len(chunk)
    return received.hexdigest()


async def run(server_context: tlsfast.SSLContext, client_context: tlsfast.SSLContext,
              payload: bytes) -> str:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    done = trio.Event()
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve_one, listeners[0], server_context, done)
            digest = await client(port, client_context, payload)
            await done.wait()
    await listeners[0].aclose()
    return digest
# [end trio]


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        cafile, certfile = make_certs(d)
        server_context = tlsfast.SSLContext(tlsfast.PROTOCOL_TLS_SERVER)
        server_context.load_cert_chain(certfile)
        client_context = tlsfast.create_default_context(cafile=cafile)
    payload = os.urandom(1 << 20)
    digest = trio.run(run, server_context, client_context, payload)
    assert digest == hashlib.sha256(payload).hexdigest()
    print(f"trio: 1 MiB echoed through tlsfast ({tlsfast.__impl__}), sha256 checked")


if __name__ == "__main__":
    main()
