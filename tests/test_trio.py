"""trio's ``SSLStream`` over tlsfast contexts.

trio drives an ``SSLObject`` (``context.wrap_bio``) over the stdlib's own
``ssl.MemoryBIO`` objects, so this exercises the compiled implementation's
adapter BIO path and its stdlib-compatible exceptions (``SSLWantReadError``
steers trio's retry loop; any other ``SSLError`` must become trio's
``BrokenResourceError``).  Transports: ``trio.testing.memory_stream_pair``
and a loopback TCP connection.  Every test runs under ``trio.fail_after``.
"""

import hashlib
import random
import ssl

import pytest
import trio
import trio.testing

from helpers import ROLES, VERSION_NAMES, VERSIONS, role_modules

pytestmark = pytest.mark.timeout(60)

TIME_LIMIT = 20.0
SIZE = 1 << 20
DATA = random.Random(7).randbytes(SIZE)
DIGEST = hashlib.sha256(DATA).hexdigest()


async def _memory_transport():
    return trio.testing.memory_stream_pair()


async def _tcp_transport():
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    try:
        client = await trio.testing.open_stream_to_socket_listener(listeners[0])
        server = await listeners[0].accept()
    finally:
        for listener in listeners:
            await listener.aclose()
    return client, server


TRANSPORTS = {"memory": _memory_transport, "tcp": _tcp_transport}


async def _receive_exactly(stream, n: int) -> tuple[int, str]:
    """Receive ``n`` bytes (or up to EOF); return (count, sha256 hex)."""
    h, got = hashlib.sha256(), 0
    for _ in range(n + 1):  # >= 1 byte per call: bounded
        if got >= n:
            break
        chunk = await stream.receive_some(min(65536, n - got))
        if not chunk:
            break
        h.update(chunk)
        got += len(chunk)
    return got, h.hexdigest()


async def _send_in_chunks(stream, data: bytes, chunk: int = 100_000):
    view = memoryview(data)
    for start in range(0, len(data), chunk):
        await stream.send_all(view[start:start + chunk])


def _streams(client_context, server_context, transport_pair, **client_kwargs):
    client_transport, server_transport = transport_pair
    client = trio.SSLStream(client_transport, client_context,
                            server_hostname="localhost", **client_kwargs)
    server = trio.SSLStream(server_transport, server_context, server_side=True)
    return client, server


async def _bulk_exchange(client, server, version):
    """Handshake, 1 MiB each way at the same time, then aclose() from the
    client; the server sees EOF and closes too."""
    results = {}

    async def client_side():
        await client.do_handshake()
        results["client_version"] = client.version()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_send_in_chunks, client, DATA)
            results["client_got"] = await _receive_exactly(client, SIZE)
        await client.aclose()

    async def server_side():
        await server.do_handshake()
        results["server_version"] = server.version()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_send_in_chunks, server, DATA[::-1])
            results["server_got"] = await _receive_exactly(server, SIZE)
        results["server_eof"] = await server.receive_some(1024)
        await server.aclose()

    with trio.fail_after(TIME_LIMIT):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client_side)
            nursery.start_soon(server_side)

    assert results["client_version"] == VERSION_NAMES[version]
    assert results["server_version"] == results["client_version"]
    assert results["server_got"] == (SIZE, DIGEST)
    assert results["client_got"] == (SIZE, hashlib.sha256(DATA[::-1]).hexdigest())
    assert results["server_eof"] == b""


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("role", ROLES)
def test_sslstream_bulk(impl, client_ctx, server_ctx, role, version, transport):
    cmod, smod = role_modules(impl, role)
    cctx, sctx = client_ctx(cmod, version), server_ctx(smod, version)

    async def main():
        client, server = _streams(cctx, sctx, await TRANSPORTS[transport]())
        await _bulk_exchange(client, server, version)
        # trio really drove the implementation under test
        for stream, mod in ((client, cmod), (server, smod)):
            if mod is impl:
                assert isinstance(stream._ssl_object, impl.SSLObject)

    trio.run(main)


def test_sslstream_alpn_and_attributes(impl, certs, client_ctx, server_ctx):
    cctx, sctx = client_ctx(impl), server_ctx(impl)
    cctx.set_alpn_protocols(["h2", "http/1.1"])
    sctx.set_alpn_protocols(["http/1.1"])

    async def main():
        client, server = _streams(cctx, sctx, trio.testing.memory_stream_pair())
        with trio.fail_after(TIME_LIMIT):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(client.do_handshake)
                nursery.start_soon(server.do_handshake)
            assert client.selected_alpn_protocol() == server.selected_alpn_protocol() == "http/1.1"
            assert client.getpeercert(binary_form=True) == certs.server.leaf_der
            assert client.cipher() == server.cipher()
            assert client.server_side is False and server.server_side is True
            assert client.server_hostname == "localhost"
            await client.send_all(b"ping")
            assert await server.receive_some(10) == b"ping"
            async with trio.open_nursery() as nursery:
                nursery.start_soon(client.aclose)
                nursery.start_soon(server.aclose)

    trio.run(main)


def test_sslstream_unwrap(impl, client_ctx, server_ctx):
    """``SSLStream.unwrap()`` (close_notify both ways) hands back the
    transport, and clear text flows after it."""
    cctx, sctx = client_ctx(impl, "1.2"), server_ctx(impl, "1.2")

    async def main():
        client, server = _streams(cctx, sctx, trio.testing.memory_stream_pair())
        with trio.fail_after(TIME_LIMIT):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(client.do_handshake)
                nursery.start_soon(server.do_handshake)
            await client.send_all(b"secret")
            assert await server.receive_some(10) == b"secret"
            results = {}

            async def unwrap(name, stream):
                results[name] = await stream.unwrap()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(unwrap, "client", client)
                nursery.start_soon(unwrap, "server", server)
            (ctrans, ctrail), (strans, strail) = results["client"], results["server"]
            assert ctrail == b"" and strail == b""
            await ctrans.send_all(b"clear text")
            assert await strans.receive_some(100) == b"clear text"
            await ctrans.aclose()
            await strans.aclose()

    trio.run(main)


def test_sslstream_verification_failure_is_broken_resource(impl, certs, client_ctx, server_ctx):
    """A rejected certificate surfaces as trio.BrokenResourceError whose
    cause is the stdlib's SSLCertVerificationError."""
    cctx = client_ctx(impl, cafile=certs.other_ca_pem)
    sctx = server_ctx(impl)

    async def main():
        client, server = _streams(cctx, sctx, trio.testing.memory_stream_pair())
        errors = {}

        async def side(name, stream):
            try:
                await stream.do_handshake()
            except trio.BrokenResourceError as exc:
                errors[name] = exc
                # the failed side hangs up, so the other one sees EOF
                await stream.transport_stream.aclose()

        with trio.fail_after(TIME_LIMIT):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(side, "client", client)
                nursery.start_soon(side, "server", server)
        assert isinstance(errors["client"].__cause__, ssl.SSLCertVerificationError)
        assert errors["client"].__cause__.verify_code == 20
        assert isinstance(errors["server"].__cause__, ssl.SSLError)

    trio.run(main)
