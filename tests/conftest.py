"""Fixtures for the behavioural suite.

``impl``
    parametrized over ``c`` / ``python``: a namespace holding every public
    name of ``tlsfast._common`` plus the implementation module's
    (``tlsfast._tls_c`` / ``tlsfast._tls_py``), imported directly so both run
    in one process.  A module that fails to import makes its tests ERROR with
    the import error: nothing is ever skipped, so a broken build cannot hide
    behind the pure-Python fallback.
``certs``
    a session-wide trustme CA and the certificates the tests use, on disk.
``server_ctx`` / ``client_ctx``
    factories: ``server_ctx(mod, version=None, keypair=None)`` and
    ``client_ctx(mod, version=None, cafile=None)`` where ``mod`` is ``impl``
    or the stdlib ``ssl`` module and ``version`` is ``"1.2"`` / ``"1.3"``.
``net``
    per-test owner of sockets, peer threads and subprocesses, all cleaned
    up at teardown; also builds TCP and TLS connection pairs.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import socket
import sys
import types
from typing import Optional

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)  # ``import helpers`` from the test modules

# The suite imports both implementations directly; TLSFAST_IMPL only steers
# ``import tlsfast`` (which the implementation modules trigger as their
# parent package), so a value left in the environment must not make that
# package import fail before a test even gets to its own module.
os.environ.pop("TLSFAST_IMPL", None)

# eventlet's green DNS (greendns) imports dnspython, whose releases before
# 2.9 (the newest on Python 3.9 and 3.10) import httpcore, which imports trio
# -- under eventlet's import patching trio then fails on GreenSocket (no
# sendmsg) and ``import eventlet`` itself raises (httpx, in the test extras,
# brings httpcore).  The suite resolves no names through eventlet, so
# greendns is switched off with eventlet's own switch, for this process and
# every subprocess it starts.
os.environ.setdefault("EVENTLET_NO_GREENDNS", "yes")

if importlib.util.find_spec("tlsfast") is None:  # not installed: use the checkout
    sys.path.insert(0, ROOT)

import helpers  # noqa: E402
from helpers import IO_TIMEOUT, KeyPair, Peer, Process  # noqa: E402

IMPL_MODULES = {"c": "tlsfast._tls_c", "python": "tlsfast._tls_py"}


def tlsfast_path() -> str:
    """The directory holding the ``tlsfast`` package under test (for
    subprocesses' PYTHONPATH)."""
    spec = importlib.util.find_spec("tlsfast")
    assert spec is not None and spec.origin, "tlsfast package not found"
    return os.path.dirname(os.path.dirname(spec.origin))


class Impl(types.SimpleNamespace):
    def __repr__(self):
        return f"<impl {self.name}>"


def load_impl(name: str) -> Impl:
    """Import one implementation; import errors propagate (never skip)."""
    common = importlib.import_module("tlsfast._common")
    module = importlib.import_module(IMPL_MODULES[name])
    names = {n: getattr(common, n) for n in common.__all__}
    names.update({n: getattr(module, n) for n in dir(module) if not n.startswith("_")})
    names.update(name=name, module=module)
    return Impl(**names)


@pytest.fixture(params=["c", "python"], ids=["c", "python"])
def impl(request) -> Impl:
    return load_impl(request.param)


# --------------------------------------------------------------------------
# certificates and contexts
# --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def certs(tmp_path_factory) -> helpers.Certs:
    return helpers.make_certs(str(tmp_path_factory.mktemp("certs")))


@pytest.fixture
def server_ctx(certs):
    def make(mod, version: Optional[str] = None, keypair: Optional[KeyPair] = None):
        return helpers.server_context(mod, certs, version, keypair)
    return make


@pytest.fixture
def client_ctx(certs):
    def make(mod, version: Optional[str] = None, cafile: Optional[str] = None):
        return helpers.client_context(mod, certs, version, cafile)
    return make


# --------------------------------------------------------------------------
# sockets, peers, processes
# --------------------------------------------------------------------------

class Handshake(types.SimpleNamespace):
    """Both ends of one attempted handshake (sockets or exceptions)."""

    client: object = None
    server: object = None
    client_exc: Optional[BaseException] = None
    server_exc: Optional[BaseException] = None


class Net:
    """Owns everything a test opens; ``close()`` releases it all."""

    def __init__(self):
        self._resources: list = []
        self._peers: list[Peer] = []

    def track(self, obj):
        self._resources.append(obj)
        return obj

    # -- plain TCP ---------------------------------------------------------
    def listener(self, host: str = "127.0.0.1", *, rcvbuf: Optional[int] = None,
                 sndbuf: Optional[int] = None) -> socket.socket:
        """A listening socket on ``host`` port 0 (buffer sizes set before
        ``listen()`` so accepted sockets inherit them)."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        lsock = self.track(socket.socket(family, socket.SOCK_STREAM))
        if rcvbuf:
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if sndbuf:
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        lsock.bind((host, 0))
        lsock.listen(8)
        lsock.settimeout(IO_TIMEOUT)
        return lsock

    def tcp_pair(self, host: str = "127.0.0.1", *,
                 client_timeout: Optional[float] = IO_TIMEOUT,
                 server_timeout: Optional[float] = IO_TIMEOUT,
                 client_sndbuf: Optional[int] = None, client_rcvbuf: Optional[int] = None,
                 server_sndbuf: Optional[int] = None, server_rcvbuf: Optional[int] = None):
        """A connected (client, server) TCP pair over loopback.
        A timeout of ``None`` leaves that socket in blocking mode."""
        lsock = self.listener(host, rcvbuf=server_rcvbuf, sndbuf=server_sndbuf)
        client = self.track(socket.socket(lsock.family, socket.SOCK_STREAM))
        if client_sndbuf:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, client_sndbuf)
        if client_rcvbuf:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, client_rcvbuf)
        client.settimeout(IO_TIMEOUT)
        client.connect(lsock.getsockname()[:2])
        server, _ = lsock.accept()
        self.track(server)
        lsock.close()
        client.settimeout(client_timeout)
        server.settimeout(server_timeout)
        return client, server

    # -- threads -----------------------------------------------------------
    def peer(self, fn, *args, name: Optional[str] = None) -> Peer:
        """Start ``fn(*args)`` in a tracked daemon thread."""
        p = Peer(fn, *args, name=name)
        self._peers.append(p)
        p.start()
        return p

    # -- TLS pairs ---------------------------------------------------------
    def handshake(self, client_context, server_context, *,
                  server_hostname: Optional[str] = "localhost",
                  client_kwargs: Optional[dict] = None,
                  server_kwargs: Optional[dict] = None,
                  client_timeout: Optional[float] = IO_TIMEOUT,
                  server_timeout: Optional[float] = IO_TIMEOUT,
                  host: str = "127.0.0.1",
                  tcp_kwargs: Optional[dict] = None) -> Handshake:
        """Wrap both ends of a fresh TCP pair: the server in a peer thread,
        the client here.  Never raises for TLS errors: they are returned."""
        raw_client, raw_server = self.tcp_pair(
            host, client_timeout=client_timeout, server_timeout=server_timeout,
            **(tcp_kwargs or {}))

        def wrap(ctx, raw, kwargs, **more):
            # do_handshake_on_connect=False: hand-shake explicitly here
            kwargs = dict(kwargs or {})
            sock = self.track(ctx.wrap_socket(raw, **more, **kwargs))
            if kwargs.get("do_handshake_on_connect", True) is False:
                sock.do_handshake()
            return sock

        srv = self.peer(lambda: wrap(server_context, raw_server, server_kwargs,
                                     server_side=True), name="tls-server")
        result = Handshake()
        try:
            result.client = wrap(client_context, raw_client, client_kwargs,
                                 server_hostname=server_hostname)
        except Exception as exc:  # noqa: BLE001 - returned to the test
            result.client_exc = exc
            raw_client.close()  # let the server see EOF at once
        result.server_exc = srv.error()
        result.server = srv.value
        return result

    def tls_pair(self, client_context, server_context, **kwargs):
        """``handshake()`` that must succeed: returns (client, server)."""
        hs = self.handshake(client_context, server_context, **kwargs)
        if hs.client_exc is not None:
            raise hs.client_exc
        if hs.server_exc is not None:
            raise hs.server_exc
        return hs.client, hs.server

    # -- subprocesses ------------------------------------------------------
    def process(self, args, **kwargs) -> Process:
        return self.track(Process(args, **kwargs))

    def openssl_server(self, *args: str) -> tuple[Process, int]:
        """``openssl s_server`` on 127.0.0.1, port 0, one connection;
        returns the process and the port it printed."""
        proc = self.process(["openssl", "s_server", "-accept", "127.0.0.1:0",
                             "-naccept", "1", *args])
        m = proc.wait_for_line(r"^ACCEPT\s+\S*:(\d+)\s*$")
        return proc, int(m.group(1))

    def close(self):
        for obj in reversed(self._resources):
            try:
                obj.close()
            except Exception:  # noqa: BLE001 - best effort cleanup
                pass
        for p in self._peers:
            p.join(2.0)
        self._resources.clear()


@pytest.fixture
def net():
    n = Net()
    try:
        yield n
    finally:
        n.close()
