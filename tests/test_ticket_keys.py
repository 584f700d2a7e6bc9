"""Session tickets shared by several server processes:
``SSLContext.set_session_ticket_keys`` (docs/beyond-stdlib.rst, "Sessions").

Two real server processes on loopback; a client gets a ticket from the
first and offers it to the second, which resumes the session exactly when it
holds the key the ticket was sealed with.
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import textwrap

import pytest

from conftest import tlsfast_path
from helpers import IO_TIMEOUT

SERVER = textwrap.dedent("""
    import socket, sys, tlsfast
    chain, key, version, hexkeys = sys.argv[1:5]
    ctx = tlsfast.SSLContext(tlsfast.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain, key)
    ctx.maximum_version = getattr(tlsfast.TLSVersion, version)
    if hexkeys:
        ctx.set_session_ticket_keys([bytes.fromhex(k) for k in hexkeys.split(",")])
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(30)
    print(listener.getsockname()[1], flush=True)
    for _ in range(int(sys.argv[5])):
        raw, _ = listener.accept()
        with ctx.wrap_socket(raw, server_side=True) as tls:
            tls.sendall(b"reused" if tls.session_reused else b"full..")
            tls.recv(1)
""")


class Servers:
    def __init__(self, certs):
        self.certs = certs
        self.procs = []

    def start(self, version, keys, connections=1):
        env = dict(os.environ, TLSFAST_IMPL="c", PYTHONPATH=tlsfast_path())
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, self.certs.server.chain, self.certs.server.key,
             version, ",".join(k.hex() for k in keys), str(connections)],
            env=env, stdout=subprocess.PIPE, text=True)
        self.procs.append(proc)
        return int(proc.stdout.readline())

    def close(self):
        for proc in self.procs:
            proc.kill()
            proc.wait(IO_TIMEOUT)
            proc.stdout.close()


@pytest.fixture
def servers(certs):
    s = Servers(certs)
    yield s
    s.close()


def _visit(ctx, port, session=None):
    """Connect, read the server's verdict (which also brings the TLS 1.3
    ticket), return (verdict, session); the client must agree with the
    server on whether the session was resumed."""
    with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as tls:
            verdict = tls.recv(6)
            assert tls.session_reused is (verdict == b"reused")
            tls.sendall(b"x")
            return verdict, tls.session


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_tickets_resume_across_processes_that_share_the_keys(impl, servers, certs, version):
    """Any client (either implementation, or the stdlib's) resumes on a
    second process holding the first's key; the rotated list ``[new, old]``
    still opens old tickets; a process with other keys does a full
    handshake."""
    old, new, other = os.urandom(80), os.urandom(80), os.urandom(80)
    ctx = impl.create_default_context(cafile=certs.ca_pem)
    first = servers.start(version, [old])
    verdict, session = _visit(ctx, first)
    assert verdict == b"full.." and session is not None
    assert _visit(ctx, servers.start(version, [old]), session)[0] == b"reused"
    assert _visit(ctx, servers.start(version, [new, old]), session)[0] == b"reused"
    assert _visit(ctx, servers.start(version, [other]), session)[0] == b"full.."


def test_without_shared_keys_another_process_cannot_resume(servers, certs):
    ctx = ssl.create_default_context(cafile=certs.ca_pem)
    verdict, session = _visit(ctx, servers.start("TLSv1_3", []))
    assert verdict == b"full.."
    assert _visit(ctx, servers.start("TLSv1_3", []), session)[0] == b"full.."


def test_ticket_keys_bad_input():
    from tlsfast import _tls_c
    ctx = _tls_c.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with pytest.raises(ValueError, match="80 bytes"):
        ctx.set_session_ticket_keys([b"\0" * 79])
    with pytest.raises(ValueError, match="at least one"):
        ctx.set_session_ticket_keys([])
    with pytest.raises(ValueError, match="same name"):
        ctx.set_session_ticket_keys([b"a" * 16 + b"\1" * 64, b"a" * 16 + b"\2" * 64])
    with pytest.raises(TypeError):
        ctx.set_session_ticket_keys(["not bytes" * 10])
    ctx.set_session_ticket_keys([bytearray(80)])
    ctx.set_session_ticket_keys(None)


def test_pure_python_implementation_says_it_cannot():
    from tlsfast import _tls_py
    ctx = _tls_py.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with pytest.raises(NotImplementedError, match="compiled implementation"):
        ctx.set_session_ticket_keys([os.urandom(80)])
