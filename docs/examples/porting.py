"""Porting from ``ssl``: what is identical and what differs (docs/porting.rst).

Every difference listed on the porting page is checked here, on whichever
implementation ``TLSFAST_IMPL`` selects.  Runs by itself over socket pairs
(trustme certificates) and exits.
"""

from __future__ import annotations

import os
import socket
import ssl
import tempfile
import threading
from types import ModuleType
from typing import Any

import trustme

import tlsfast


def make_certs(directory: str) -> tuple[trustme.CA, str, str]:
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost")
    ca_path = os.path.join(directory, "ca.pem")
    chain_path = os.path.join(directory, "server.pem")
    ca.cert_pem.write_to_path(ca_path)
    leaf.private_key_and_cert_chain_pem.write_to_path(chain_path)
    return ca, ca_path, chain_path


def connected_pair(client_ctx: tlsfast.SSLContext, server_ctx: tlsfast.SSLContext,
                   ) -> tuple[tlsfast.SSLSocket, tlsfast.SSLSocket]:
    a, b = socket.socketpair()
    a.settimeout(10)
    b.settimeout(10)
    result: dict[str, Any] = {}

    def serve() -> None:
        try:
            result["tls"] = server_ctx.wrap_socket(b, server_side=True)
        except OSError as exc:
            result["error"] = exc
            b.close()

    server = threading.Thread(target=serve)
    server.start()
    try:
        client = client_ctx.wrap_socket(a, server_hostname="localhost")
    finally:
        server.join(10)
    return client, result["tls"]


# [start same]
def stdlib_code(ssl: ModuleType, host: str, port_or_pair: socket.socket, cafile: str) -> str:
    """Written for the stdlib ``ssl`` module; runs unchanged with
    ``import tlsfast as ssl``."""
    context = ssl.create_default_context(cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["h2", "http/1.1"])
    try:
        tls = context.wrap_socket(port_or_pair, server_hostname=host)
    except ssl.SSLCertVerificationError as exc:     # the stdlib's own class
        return f"refused: {exc.verify_message} (verify_code {exc.verify_code})"
    with tls:
        return f"{tls.version()} {tls.cipher()[0]} alpn={tls.selected_alpn_protocol()}"
# [end same]


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        ca, cafile, certfile = make_certs(d)
        server_ctx = tlsfast.SSLContext(tlsfast.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(certfile)
        server_ctx.set_alpn_protocols(["http/1.1"])

        # --- identical: the same code, the same exceptions -------------------
        assert tlsfast.SSLError is ssl.SSLError
        assert tlsfast.SSLWantReadError is ssl.SSLWantReadError
        for host in ("localhost", "example.org"):    # the certificate is for localhost
            a, b = socket.socketpair()
            a.settimeout(10)
            b.settimeout(10)
            peer = threading.Thread(target=_serve_quietly, args=(server_ctx, b))
            peer.start()
            print(f"import tlsfast as ssl, {host}:", stdlib_code(tlsfast, host, a, cafile))
            peer.join(10)

        client_ctx = tlsfast.create_default_context(cafile=cafile)
        client, server = connected_pair(client_ctx, server_ctx)
        with client, server:
            # [start recv_into]
            buf = bytearray(4)
            server.sendall(b"12345678")
            try:
                client.recv_into(buf, 8)      # the stdlib would silently read 4
            except ValueError as exc:
                print("recv_into(buf, 8) with len(buf) == 4:", exc)
            assert client.recv_into(buf) == 4 and buf == b"1234"
            assert client.recv_into(buf, 4) == 4 and buf == b"5678"
            # [end recv_into]

            # [start peek]
            server.sendall(b"peek")
            try:
                assert client.recv(4, socket.MSG_PEEK) == b"peek"   # SSL_peek_ex
                assert client.peek(2) == b"pe"
                print("recv(n, MSG_PEEK) and peek(): supported")
            except NotImplementedError as exc:                       # pure Python
                print("MSG_PEEK:", exc)
            assert client.recv(10) == b"peek"
            # [end peek]

            # [start beyond]
            try:
                key = client.export_keying_material("EXPORTER-example", 16)
                print("export_keying_material:", key.hex())
            except NotImplementedError as exc:
                print("pure Python:", exc)
            # [end beyond]

        # [start renegotiation]
        fresh = tlsfast.SSLContext(tlsfast.PROTOCOL_TLS_SERVER)
        assert fresh.options & tlsfast.OP_NO_RENEGOTIATION          # the stdlib's is clear
        assert not ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).options & ssl.OP_NO_RENEGOTIATION
        # [end renegotiation]

        # [start wrap_bio]
        try:
            client_ctx.wrap_bio(tlsfast.MemoryBIO(), tlsfast.MemoryBIO())   # no server_hostname
            raise AssertionError("wrap_bio without server_hostname was accepted")
        except ValueError as exc:
            print("wrap_bio without server_hostname:", exc)
        # [end wrap_bio]

        # [start isinstance]
        ctx = tlsfast.SSLContext(tlsfast.PROTOCOL_TLS_CLIENT)
        assert isinstance(ctx, ssl.SSLContext)     # both implementations
        ca.configure_trust(ctx)                    # trustme type-checks the context
        server_context = tlsfast.SSLContext(tlsfast.PROTOCOL_TLS_SERVER)
        ca.issue_cert("localhost").configure_cert(server_context)
        # final stdlib types: tlsfast's session and BIO classes are its own
        print("MemoryBIO is ssl.MemoryBIO:", isinstance(tlsfast.MemoryBIO(), ssl.MemoryBIO))
        # [end isinstance]

    print(f"porting checks done with tlsfast ({tlsfast.__impl__})")


def _serve_quietly(ctx: tlsfast.SSLContext, sock: socket.socket) -> None:
    try:
        with ctx.wrap_socket(sock, server_side=True):
            pass
    except OSError:
        sock.close()


if __name__ == "__main__":
    main()
