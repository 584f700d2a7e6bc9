"""Pytest-side support for the library matrix (tests/test_libraries.py,
tests/test_libraries_stdlib.py): the two directions of a library that has a
client and a server, the contexts for each, and the check that the end under
test really ran on tlsfast."""

from __future__ import annotations

import asyncio
import ssl

import pytest

#: bound for one whole asyncio / anyio case, in seconds
TIME_LIMIT = 20.0
#: the directions of a library that has both a client and a server: impl's
#: context on that side, the stdlib's on the other
DIRECTIONS = ("impl-client", "impl-server")


def run(coro):
    """Run ``coro`` on a fresh asyncio loop, bounded by TIME_LIMIT."""
    return asyncio.run(asyncio.wait_for(coro, TIME_LIMIT))


def assert_tlsfast(impl, obj) -> None:
    """``obj`` (what a library exposes as its TLS socket or object) is impl's:
    a library that quietly built its own context fails here."""
    assert isinstance(obj, (impl.SSLSocket, impl.SSLObject)), \
        f"{type(obj).__module__}.{type(obj).__qualname__} is not tlsfast's ({impl.name})"


def tlsfast_end(impl, direction: str, client_obj, server_obj) -> None:
    """The end under test used impl's objects, the other end the stdlib's."""
    ours, theirs = (client_obj, server_obj) if direction == "impl-client" else (server_obj, client_obj)
    assert_tlsfast(impl, ours)
    assert type(theirs).__module__ == "ssl", type(theirs)


@pytest.fixture
def contexts(impl, server_ctx, client_ctx):
    """``contexts(direction)`` -> (client context, server context): impl's
    on the side under test, the stdlib's on the other."""
    def make(direction: str):
        assert direction in DIRECTIONS, direction
        client_mod = impl if direction == "impl-client" else ssl
        server_mod = impl if direction == "impl-server" else ssl
        return client_ctx(client_mod), server_ctx(server_mod)
    return make
