"""asyncio streams over tlsfast contexts (docs/memory-bio.rst).

asyncio's TLS runs an ``SSLObject`` over the stdlib's ``ssl.MemoryBIO``
objects (``context.wrap_bio``); a tlsfast context plugs in as the ``ssl=``
argument, and the compiled implementation reads those foreign BIOs through
its adapter BIO.  Runs by itself on a free loopback port and exits.
"""

from __future__ import annotations

import asyncio
import os
import tempfile

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


# [start asyncio]
async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Echo lines back in upper case until the client closes."""
    while line := await reader.readline():
        writer.write(line.upper())
        await writer.drain()
    writer.close()
    await writer.wait_closed()


async def run(server_context: tlsfast.SSLContext,
              client_context: tlsfast.SSLContext) -> list[bytes]:
    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    async with server:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_context, server_hostname="localhost")
        tls = writer.get_extra_info("ssl_object")       # tlsfast's SSLObject
        print(type(tls).__module__, type(tls).__name__, tls.version(), tls.cipher()[0])
        replies = []
        for word in (b"hello", b"tls", b"world"):
            writer.write(word + b"\n")
            await writer.drain()
            replies.append(await reader.readline())
        writer.close()
        await writer.wait_closed()
    return replies
# [end asyncio]


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        cafile, certfile = make_certs(d)
        server_context = tlsfast.SSLContext(tlsfast.PROTOCOL_TLS_SERVER)
        server_context.load_cert_chain(certfile)
        client_context = tlsfast.create_default_context(cafile=cafile)
    replies = asyncio.run(asyncio.wait_for(run(server_context, client_context), 20))
    assert replies == [b"HELLO\n", b"TLS\n", b"WORLD\n"], replies
    print(f"asyncio over tlsfast ({tlsfast.__impl__}):", b" ".join(r.strip() for r in replies).decode())


if __name__ == "__main__":
    main()
