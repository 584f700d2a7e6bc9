"""The stdlib's protocol modules over tlsfast contexts, against real servers
on loopback (tests/protocol_servers.py): http.client, urllib.request and
http.server; smtplib (``starttls``, ``SMTP_SSL``) against aiosmtpd; imaplib
(``starttls``, ``IMAP4_SSL``) and ftplib (``FTP_TLS``: ``auth()`` then
``login()``, ``prot_p()`` transfers both ways, ``ccc()``) against small
socketserver servers.

Each protocol case runs in both directions: the stdlib client with a
tlsfast context against the server with a stdlib one, and the other way
round (tlsfast under socketserver and aiosmtpd, including the server's half
of STARTTLS, of the FTP data connections' close_notify and of ``CCC``).  The
servers log the TLS version each command arrived under, so the cases check
that credentials went encrypted and that ``CCC`` really went back to
cleartext.
"""

from __future__ import annotations

import ftplib
import http.client
import imaplib
import io
import smtplib
import ssl
import urllib.request

import pytest

from helpers import IO_TIMEOUT, VERSION_NAMES
from protocol_servers import (
    HOST,
    MESSAGE,
    PASSWORD,
    USER,
    ftp_server,
    https_server,
    imap_server,
    smtp_server,
)
from library_support import DIRECTIONS, assert_tlsfast, contexts, tlsfast_end  # noqa: F401

pytestmark = pytest.mark.timeout(60)

TLS_VERSIONS = set(VERSION_NAMES.values())


def commands(server) -> list[tuple[str, bool]]:
    """The server's log as (command, arrived over TLS)."""
    return [(cmd, version in TLS_VERSIONS) for cmd, version in server.log]


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------

@pytest.mark.parametrize("direction", DIRECTIONS)
def test_http_client_and_http_server(impl, contexts, direction):
    """``http.client.HTTPSConnection(context=)`` against ``http.server``,
    two requests on one kept-alive connection."""
    cctx, sctx = contexts(direction)
    with https_server(sctx) as server:
        conn = http.client.HTTPSConnection("localhost", server.port, context=cctx,
                                           timeout=IO_TIMEOUT)
        try:
            bodies = []
            for path in ("/one", "/two"):
                conn.request("GET", path)
                bodies.append(conn.getresponse().read())
            client_sock = conn.sock
        finally:
            conn.close()
    version = server.log[0][1]
    assert bodies == [f"hello over {version} at /one".encode(),
                      f"hello over {version} at /two".encode()]
    assert server.connections[0] is server.connections[1]      # kept alive
    tlsfast_end(impl, direction, client_sock, server.connections[0])


def test_urllib_request_urlopen_context(impl, client_ctx, server_ctx):
    with https_server(server_ctx(ssl)) as server:
        with urllib.request.urlopen(server.url + "/urlopen", context=client_ctx(impl),
                                    timeout=IO_TIMEOUT) as resp:
            assert_tlsfast(impl, resp.fp.raw._sock)
            body = resp.read()
    assert body == f"hello over {server.log[0][1]} at /urlopen".encode()


# --------------------------------------------------------------------------
# SMTP (aiosmtpd)
# --------------------------------------------------------------------------

MAIL = b"Subject: over TLS\r\n\r\n" + b"a line of mail\r\n" * 1000


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_smtplib_starttls(impl, contexts, direction):
    cctx, sctx = contexts(direction)
    with smtp_server(sctx) as server:
        with smtplib.SMTP(HOST, server.port, local_hostname="localhost",
                          timeout=IO_TIMEOUT) as smtp:
            smtp.ehlo()
            assert smtp.has_extn("starttls") and not smtp.has_extn("auth")
            assert smtp.starttls(context=cctx)[0] == 220
            smtp.ehlo()
            assert smtp.has_extn("auth")        # offered only over TLS
            smtp.login(USER, PASSWORD)
            smtp.sendmail("bob@example.org", ["alice@example.org"], MAIL)
            client_sock, client_version = smtp.sock, smtp.sock.version()
    (content, version), = server.messages
    assert content.replace(b"\r\n", b"\n") == MAIL.replace(b"\r\n", b"\n")
    assert version == client_version and server.logins == [USER]
    if direction == "impl-client":
        assert_tlsfast(impl, client_sock)
    else:
        assert type(client_sock).__module__ == "ssl"
        assert_tlsfast(impl, server.ssl_objects[0])


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_smtplib_smtp_ssl(impl, contexts, direction):
    cctx, sctx = contexts(direction)
    with smtp_server(sctx, implicit=True) as server:
        with smtplib.SMTP_SSL(HOST, server.port, local_hostname="localhost",
                              context=cctx, timeout=IO_TIMEOUT) as smtp:
            smtp.login(USER, PASSWORD)
            smtp.sendmail("bob@example.org", ["alice@example.org"], MAIL)
            client_sock, client_version = smtp.sock, smtp.sock.version()
    (content, version), = server.messages
    assert version == client_version and server.logins == [USER]
    tlsfast_end(impl, direction, client_sock, server.ssl_objects[0])


# --------------------------------------------------------------------------
# IMAP4
# --------------------------------------------------------------------------

def _imap_session(imap) -> None:
    imap.login(USER, PASSWORD)
    assert imap.select("INBOX") == ("OK", [b"1"])
    typ, data = imap.fetch("1", "(RFC822)")
    assert typ == "OK" and data[0][1] == MESSAGE
    assert imap.noop()[0] == "OK"


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_imaplib_starttls(impl, contexts, direction):
    cctx, sctx = contexts(direction)
    with imap_server(sctx) as server:
        imap = imaplib.IMAP4(HOST, server.port, timeout=IO_TIMEOUT)
        try:
            assert "STARTTLS" in imap.capabilities
            assert imap.starttls(ssl_context=cctx)[0] == "OK"
            assert "STARTTLS" not in imap.capabilities     # asked again, over TLS
            _imap_session(imap)
            client_sock = imap.sock
        finally:
            imap.logout()
    assert commands(server) == [
        ("CAPABILITY", False), ("STARTTLS", False), ("CAPABILITY", True), ("LOGIN", True),
        ("SELECT", True), ("FETCH", True), ("NOOP", True), ("LOGOUT", True)]
    tlsfast_end(impl, direction, client_sock, server.sockets[0])


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_imaplib_imap4_ssl(impl, contexts, direction):
    cctx, sctx = contexts(direction)
    with imap_server(sctx, implicit=True) as server:
        imap = imaplib.IMAP4_SSL(HOST, server.port, ssl_context=cctx, timeout=IO_TIMEOUT)
        try:
            _imap_session(imap)
            client_sock = imap.sock
        finally:
            imap.logout()
    assert all(tls for _, tls in commands(server))
    tlsfast_end(impl, direction, client_sock, server.sockets[0])


# --------------------------------------------------------------------------
# FTP
# --------------------------------------------------------------------------

FILES = {"data.bin": bytes(range(256)) * 400, "notes.txt": b"over TLS\r\n" * 10}


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_ftplib_ftp_tls(impl, contexts, direction):
    """``auth()`` then ``login()`` (once failed with ``503 Already using
    TLS``: ``login()`` re-sent AUTH when the socket did not pass for an
    ``ssl.SSLSocket``), ``prot_p()`` transfers in both directions, each
    data connection closed with close_notify both ways, then ``ccc()``."""
    cctx, sctx = contexts(direction)
    upload = b"uploaded over TLS\n" * 3000
    with ftp_server(sctx, FILES) as server:
        ftp = ftplib.FTP_TLS(context=cctx, timeout=IO_TIMEOUT)
        try:
            ftp.connect(HOST, server.port)
            assert ftp.auth().startswith("234")
            assert ftp.login(USER, PASSWORD).startswith("230")
            client_sock = ftp.sock
            ftp.prot_p()
            chunks: list = []
            ftp.retrbinary("RETR data.bin", chunks.append)
            ftp.storbinary("STOR upload.bin", io.BytesIO(upload))
            names = ftp.nlst()
            assert ftp.ccc().startswith("200")
            # unwrap() leaves the same socket object, speaking cleartext
            # (ftplib keeps reading replies through its makefile())
            assert ftp.sock is client_sock and client_sock.version() is None
            assert ftp.pwd() == "/"
        finally:
            ftp.close()
    assert b"".join(chunks) == FILES["data.bin"]
    assert server.files["upload.bin"] == upload
    assert names == sorted([*FILES, "upload.bin"])
    assert commands(server) == [
        ("AUTH", False), ("USER", True), ("PASS", True), ("PBSZ", True), ("PROT", True),
        ("TYPE", True), ("PASV", True), ("RETR", True), ("TYPE", True), ("PASV", True),
        ("STOR", True), ("TYPE", True), ("PASV", True), ("NLST", True), ("CCC", True),
        ("PWD", False)]
    assert len(server.data_tls) == 3 and set(server.data_tls) <= TLS_VERSIONS
    tlsfast_end(impl, direction, client_sock, server.sockets[0])
