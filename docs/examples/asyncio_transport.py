"""asyncio on tlsfast's own TLS transport (docs/asyncio.rst).

``tlsfast.asyncio`` runs TLS on the socket's descriptor, driven by the
loop's reader / writer callbacks: no ``MemoryBIO`` in between.  Its entry
points take asyncio's arguments; ``install(loop)`` routes a loop's own
methods to it for tlsfast contexts, so asyncio's stream functions, aiohttp
and websockets use it unchanged.  Runs by itself on free loopback ports,
with aiohttp and websockets when they are installed, and exits.
"""

from __future__ import annotations

import asyncio
import tempfile

# the certificates and the line handler of the memory-BIO page's example
from asyncio_streams import handle, make_certs

import tlsfast
import tlsfast.asyncio

from typing import Any


# [start quickstart]
async def quickstart(server_context: tlsfast.SSLContext,
                     client_context: tlsfast.SSLContext) -> bytes:
    server = await tlsfast.asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    async with server:
        reader, writer = await tlsfast.asyncio.open_connection(
            "127.0.0.1", port, ssl=client_context, server_hostname="localhost")
        print(type(writer.transport).__name__, writer.get_extra_info("cipher")[0])
        writer.write(b"hello\n")
        reply = await reader.readline()
        writer.close()
        await writer.wait_closed()
    return reply
# [end quickstart]


# [start install]
async def with_install(server_context: tlsfast.SSLContext,
                       client_context: tlsfast.SSLContext) -> bytes:
    loop = tlsfast.asyncio.install(asyncio.get_running_loop())
    # from here on, asyncio's own functions use tlsfast's transport for
    # tlsfast contexts (and the loop's SSL transport for any other)
    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    async with server:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_context, server_hostname="localhost")
        assert isinstance(writer.transport, tlsfast.asyncio.TLSTransport)
        writer.write(b"routed\n")
        reply = await reader.readline()
        writer.close()
        await writer.wait_closed()
    tlsfast.asyncio.uninstall(loop)
    return reply
# [end install]


# [start aiohttp]
async def with_aiohttp(server_context: tlsfast.SSLContext,
                       client_context: tlsfast.SSLContext) -> str:
    import aiohttp
    from aiohttp import web

    async def hello(request: web.Request) -> web.Response:
        assert request.transport is not None
        tls = request.transport.get_extra_info("ssl_object")
        return web.Response(text=f"hello over {tls.version()}")

    tlsfast.asyncio.install(asyncio.get_running_loop())
    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"https://127.0.0.1:{port}/", ssl=client_context) as resp:
                return await resp.text()
    finally:
        await runner.cleanup()
# [end aiohttp]


# [start websockets]
async def with_websockets(server_context: tlsfast.SSLContext,
                          client_context: tlsfast.SSLContext) -> Any:
    import websockets

    async def echo(ws: Any, *path: str) -> None:  # websockets < 10.1 also passes the path
        async for message in ws:
            await ws.send(message)

    tlsfast.asyncio.install(asyncio.get_running_loop())
    async with websockets.serve(echo, "127.0.0.1", 0, ssl=server_context) as server:
        port = list(server.sockets)[0].getsockname()[1]
        async with websockets.connect(f"wss://127.0.0.1:{port}", ssl=client_context) as ws:
            await ws.send("ping")
            return await ws.recv()
# [end websockets]


async def run_all(server_context: tlsfast.SSLContext,
                  client_context: tlsfast.SSLContext) -> list[Any]:
    results: list[Any] = [await quickstart(server_context, client_context),
               await with_install(server_context, client_context)]
    for name, fn in (("aiohttp", with_aiohttp), ("websockets", with_websockets)):
        try:
            __import__(name)
        except ImportError:
            print(f"{name} not installed: skipped")
            continue
        results.append(await fn(server_context, client_context))
    return results


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        cafile, certfile = make_certs(d)
        contexts = (tlsfast.SSLContext(tlsfast.PROTOCOL_TLS_SERVER),
                    tlsfast.create_default_context(cafile=cafile))
        contexts[0].load_cert_chain(certfile)
    server_context, client_context = contexts
    results = asyncio.run(asyncio.wait_for(run_all(server_context, client_context), 30))
    assert results[:2] == [b"HELLO\n", b"ROUTED\n"], results
    assert results[2:] in ([], ["hello over TLSv1.3"], ["hello over TLSv1.3", "ping"]), results
    print(f"tlsfast.asyncio ({tlsfast.__impl__}):", results)


if __name__ == "__main__":
    main()
