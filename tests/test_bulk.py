"""Bulk transfers (16 MiB, sha256-checked) and file objects from makefile()."""

import hashlib
import os
import ssl

import pytest

from helpers import ROLES, recv_digest, recv_exactly, role_modules

pytestmark = pytest.mark.timeout(60)

SIZE = 16 << 20


@pytest.fixture(scope="module")
def bulk_data():
    data = os.urandom(SIZE)
    return data, hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("mode", ["blocking", "timeout"])
@pytest.mark.parametrize("direction", ["impl-sends", "impl-receives"])
@pytest.mark.parametrize("role", ROLES)
def test_sendall_16mib(impl, net, client_ctx, server_ctx, bulk_data, role, direction, mode):
    """``role`` says which end(s) are impl; the impl end (the client when both
    are) sends or receives in this thread, in blocking or timeout mode."""
    data, digest = bulk_data
    cmod, smod = role_modules(impl, role)
    timeout = None if mode == "blocking" else 5.0
    client, server = net.tls_pair(client_ctx(cmod), server_ctx(smod))
    mine, theirs = (client, server) if cmod is impl else (server, client)
    mine.settimeout(timeout)

    if direction == "impl-sends":
        reader = net.peer(recv_digest, theirs, SIZE)
        assert mine.sendall(memoryview(data)) is None
        assert reader.result(timeout=60) == (SIZE, digest)
    else:
        writer = net.peer(theirs.sendall, data)
        assert recv_digest(mine, SIZE) == (SIZE, digest)
        writer.result(timeout=60)
    # the stream is still in step afterwards
    mine.sendall(b"end")
    assert recv_exactly(theirs, 3) == b"end"


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_sendall_accepts_buffers(impl, net, client_ctx, server_ctx, kind):
    client, server = net.tls_pair(client_ctx(impl), server_ctx(ssl))
    payload = os.urandom(100_000)
    reader = net.peer(recv_exactly, server, len(payload))
    client.sendall(kind(payload))
    assert reader.result() == payload


def test_makefile_rb(impl, net, client_ctx, server_ctx):
    client, server = net.tls_pair(client_ctx(impl), server_ctx(ssl))
    lines = [f"line {i}: {'x' * i}\n".encode() for i in range(200)]
    blob = os.urandom(300_000)

    def serve():
        server.sendall(b"".join(lines) + blob)
        return server.unwrap()  # close_notify: the reader sees EOF

    peer = net.peer(serve)
    with client.makefile("rb") as f:
        for line in lines:
            assert f.readline() == line
        assert f.read(1000) == blob[:1000]
        assert f.read() == blob[1000:]  # to EOF
        assert f.read() == b""
    client.unwrap()
    net.track(peer.result())


def test_makefile_wb_and_text(impl, net, client_ctx, server_ctx):
    client, server = net.tls_pair(client_ctx(impl), server_ctx(ssl))
    with client.makefile("wb") as f:
        f.write(b"binary\n")
        f.write(b"y" * 100_000)
        f.flush()
    assert recv_exactly(server, 7 + 100_000) == b"binary\n" + b"y" * 100_000

    server.sendall("héllo\nwörld\n".encode("utf-8"))
    with client.makefile("r", encoding="utf-8", newline="\n") as f:
        assert f.readline() == "héllo\n"
        assert f.readline() == "wörld\n"
