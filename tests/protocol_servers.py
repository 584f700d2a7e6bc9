"""Small real servers on loopback for the library matrix (tests/test_libraries*.py).

Each speaks just enough of its protocol for the stdlib's client (and the
libraries built on it) to run a whole session, and does its TLS -- implicit,
or the in-band upgrade (``STARTTLS``, ``AUTH TLS``) and, for FTP, the
downgrade (``CCC``) -- with whatever context the test hands in: a stdlib
one when the client under test is tlsfast, tlsfast's when the server is.

* ``https_server``: :mod:`http.server` (HTTP/1.1 keep-alive), TLS per
  connection in the connection's own thread.
* ``smtp_server``: aiosmtpd's SMTP protocol on an asyncio loop of its own
  (``STARTTLS``, ``AUTH PLAIN`` only over TLS, implicit TLS for ``SMTP_SSL``).
* ``imap_server`` / ``ftp_server``: :mod:`socketserver` line servers.

What a session did is recorded on the server object (``server.log``: each
command with the TLS version it arrived under, None for cleartext), so a
test can check that the password travelled encrypted and the command after
``CCC`` did not.  Every socket has a timeout, every loop a bound, and each
server stops on leaving its ``with`` block.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import socket
import socketserver
import ssl
import threading
from typing import Iterator, Optional

from helpers import IO_TIMEOUT, JOIN_TIMEOUT

HOST = "127.0.0.1"
USER, PASSWORD = "alice", "s3cret"
#: most commands one session may send before the server hangs up
MAX_COMMANDS = 100


def tls_version(sock) -> Optional[str]:
    """The TLS version ``sock`` speaks, None for a plain socket."""
    return sock.version() if isinstance(sock, ssl.SSLSocket) else None


@contextlib.contextmanager
def _serving(server: socketserver.BaseServer) -> Iterator:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True, name=f"serve-{type(server).__name__}")
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(JOIN_TIMEOUT)


class _TLSServerMixin:
    """A ``ThreadingTCPServer`` on 127.0.0.1, port 0, whose ``context``
    wraps each accepted connection (when ``implicit``) in the connection's
    own thread, so one failed handshake never stalls the accept loop."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, handler, context, *, implicit: bool):
        self.context, self.implicit = context, implicit
        self.log: list[tuple[str, Optional[str]]] = []
        self.sockets: list = []      # each TLS socket a session used, in order
        self.errors: list[BaseException] = []
        super().__init__((HOST, 0), handler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def handle_error(self, request, client_address):
        pass    # the exception is in ``errors``

    def finish_request(self, request, client_address):
        request.settimeout(IO_TIMEOUT)
        try:
            if self.implicit:
                request = self.context.wrap_socket(request, server_side=True)
            super().finish_request(request, client_address)
        except Exception as exc:  # noqa: BLE001 - kept for the test to assert on
            self.errors.append(exc)
            raise
        finally:
            request.close()


# --------------------------------------------------------------------------
# HTTPS
# --------------------------------------------------------------------------

class _HTTPSHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = f"hello over {tls_version(self.connection)} at {self.path}".encode()
        self.server.log.append((f"GET {self.path}", tls_version(self.connection)))
        self.server.connections.append(self.connection)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class HTTPSServer(_TLSServerMixin, http.server.ThreadingHTTPServer):
    def __init__(self, context):
        self.connections: list = []     # the TLS socket of each request
        super().__init__(_HTTPSHandler, context, implicit=True)

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"


def https_server(context):
    """``with https_server(ctx) as srv``: ``GET <path>`` answers
    ``hello over <TLS version> at <path>`` (keep-alive, Content-Length)."""
    return _serving(HTTPSServer(context))


# --------------------------------------------------------------------------
# line protocols on socketserver
# --------------------------------------------------------------------------

class _LineHandler(socketserver.BaseRequestHandler):
    """One session of a CRLF line protocol; ``do_<COMMAND>(arg)`` answers a
    command (returning False ends the session)."""

    greeting = ""

    def setup(self):
        self._use(self.request)

    def _use(self, sock):
        if tls_version(sock):
            self.server.sockets.append(sock)
        self.sock = sock
        self.rfile = sock.makefile("rb")

    def start_tls(self):
        """The server side of an in-band upgrade, after the reply that
        announced it (the client sends nothing until that arrives)."""
        self.rfile.close()
        self._use(self.server.context.wrap_socket(self.sock, server_side=True))

    def finish(self):
        self.rfile.close()
        self.sock.close()

    def stop_tls(self):
        """Back to cleartext: close_notify both ways (``SSLSocket.unwrap``)."""
        self.rfile.close()
        self._use(self.sock.unwrap())

    def reply(self, *lines: str) -> None:
        self.sock.sendall("".join(line + "\r\n" for line in lines).encode())

    def readline(self) -> Optional[str]:
        line = self.rfile.readline(4096)
        return line.rstrip(b"\r\n").decode("utf-8", "replace") if line else None

    def handle(self):
        self.reply(self.greeting)
        for _ in range(MAX_COMMANDS):
            line = self.readline()
            if line is None:
                return
            if self.dispatch(line) is False:
                return

    def run(self, command: str, arg: str, *prefix: str):
        """Log ``command`` with the TLS version it came under and run it."""
        self.server.log.append((command, tls_version(self.sock)))
        method = getattr(self, "do_" + command, None)
        if method is None:
            return self.reply(*prefix, "502 Command not implemented")
        return method(arg)

    def dispatch(self, line: str):
        raise NotImplementedError


class LineServer(_TLSServerMixin, socketserver.ThreadingTCPServer):
    allow_reuse_address = True


# -- IMAP4 -----------------------------------------------------------------

MESSAGE = (b"From: bob@example.org\r\nTo: alice@example.org\r\nSubject: over TLS\r\n\r\n"
           + b"line of the body\r\n" * 2000)   # 36 kB: several TLS records


class _IMAPHandler(_LineHandler):
    """IMAP4rev1: CAPABILITY, STARTTLS, LOGIN (refused in cleartext, as
    real servers do with LOGINDISABLED), SELECT, FETCH 1 (RFC822) as a
    literal, NOOP, LOGOUT."""

    greeting = "* OK IMAP4rev1 test server ready"

    def dispatch(self, line):
        tag, _, rest = line.partition(" ")
        command, _, arg = rest.partition(" ")
        self.tag = tag
        return self.run(command.upper(), arg)

    def done(self, *untagged: str, status: str = "OK"):
        self.reply(*untagged, f"{self.tag} {status} completed")

    def do_CAPABILITY(self, arg):
        caps = "IMAP4rev1 AUTH=PLAIN" if tls_version(self.sock) else \
            "IMAP4rev1 STARTTLS LOGINDISABLED"
        self.done(f"* CAPABILITY {caps}")

    def do_STARTTLS(self, arg):
        if tls_version(self.sock):
            return self.done(status="BAD already using TLS")
        self.done()
        self.start_tls()

    def do_LOGIN(self, arg):
        user, _, password = arg.partition(" ")
        if not tls_version(self.sock):
            return self.done(status="NO [PRIVACYREQUIRED] LOGIN over cleartext")
        if (user, password.strip('"')) != (USER, PASSWORD):
            return self.done(status="NO [AUTHENTICATIONFAILED]")
        self.done()

    def do_SELECT(self, arg):
        self.done("* 1 EXISTS", "* 0 RECENT", "* FLAGS (\\Seen)")

    def do_FETCH(self, arg):
        self.sock.sendall(b"* 1 FETCH (RFC822 {%d}\r\n" % len(MESSAGE) + MESSAGE + b")\r\n")
        self.done()

    def do_NOOP(self, arg):
        self.done()

    def do_LOGOUT(self, arg):
        self.done("* BYE logging out")
        return False


def imap_server(context, *, implicit: bool = False):
    """``with imap_server(ctx) as srv``: IMAP4 on ``srv.port`` (implicit TLS
    for ``IMAP4_SSL``, else STARTTLS)."""
    return _serving(LineServer(_IMAPHandler, context, implicit=implicit))


# -- FTP -------------------------------------------------------------------

class _FTPHandler(_LineHandler):
    """FTP with RFC 4217 TLS: AUTH TLS (503 when the connection already is
    TLS, as vsftpd and ProFTPD answer), USER/PASS, PBSZ, PROT P/C, PASV, TYPE,
    RETR, STOR, NLST, CCC (back to a cleartext control connection), NOOP,
    PWD, QUIT.  Files live in ``server.files``."""

    greeting = "220 test FTP server ready"

    def setup(self):
        super().setup()
        self.prot_p = False
        self.passive: Optional[socket.socket] = None

    def finish(self):
        if self.passive is not None:
            self.passive.close()
        super().finish()

    def dispatch(self, line):
        command, _, arg = line.partition(" ")
        return self.run(command.upper(), arg)

    def do_AUTH(self, arg):
        if tls_version(self.sock):
            return self.reply("503 Already using TLS")
        if arg.upper() not in ("TLS", "TLS-C", "SSL"):
            return self.reply("504 AUTH type not supported")
        self.reply("234 AUTH TLS successful")
        self.start_tls()

    def do_USER(self, arg):
        self.user = arg
        self.reply("331 Password required")

    def do_PASS(self, arg):
        ok = (getattr(self, "user", None), arg) == (USER, PASSWORD)
        self.reply("230 Login successful" if ok else "530 Login incorrect")

    def do_PBSZ(self, arg):
        self.reply("200 PBSZ=0")

    def do_PROT(self, arg):
        if arg.upper() not in ("P", "C"):
            return self.reply("504 PROT level not supported")
        self.prot_p = arg.upper() == "P"
        self.reply(f"200 Protection level set to {arg.upper()}")

    def do_TYPE(self, arg):
        self.reply(f"200 Type set to {arg}")

    def do_PASV(self, arg):
        if self.passive is not None:
            self.passive.close()
        self.passive = socket.create_server((HOST, 0))
        self.passive.settimeout(IO_TIMEOUT)
        port = self.passive.getsockname()[1]
        self.reply(f"227 Entering Passive Mode (127,0,0,1,{port >> 8},{port & 255})")

    @contextlib.contextmanager
    def data_connection(self):
        """Accept the PASV connection, TLS on it with PROT P; the transfer
        ends with close_notify both ways, then the 226."""
        if self.passive is None:
            self.reply("425 Use PASV first")
            yield None
            return
        conn, _ = self.passive.accept()
        self.passive.close()
        self.passive = None
        conn.settimeout(IO_TIMEOUT)
        self.reply("150 Opening data connection")
        try:
            if self.prot_p:
                conn = self.server.context.wrap_socket(conn, server_side=True)
            self.server.data_tls.append(tls_version(conn))
            yield conn
            if self.prot_p:
                conn = conn.unwrap()
        finally:
            conn.close()
        self.reply("226 Transfer complete")

    def do_RETR(self, arg):
        data = self.server.files.get(arg)
        if data is None:
            return self.reply("550 No such file")
        with self.data_connection() as conn:
            if conn is not None:
                conn.sendall(data)

    def do_NLST(self, arg):
        with self.data_connection() as conn:
            if conn is not None:
                conn.sendall("".join(f"{name}\r\n" for name in sorted(self.server.files)).encode())

    def do_STOR(self, arg):
        with self.data_connection() as conn:
            if conn is not None:
                chunks = []
                for _ in range(10000):  # >= 1 byte per recv: bounded
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
                self.server.files[arg] = b"".join(chunks)

    def do_CCC(self, arg):
        if not tls_version(self.sock):
            return self.reply("533 Command channel is already cleartext")
        self.reply("200 Command channel cleared")
        self.stop_tls()

    def do_NOOP(self, arg):
        self.reply("200 NOOP ok")

    def do_PWD(self, arg):
        self.reply('257 "/" is the current directory')

    def do_QUIT(self, arg):
        self.reply("221 Goodbye")
        return False


class FTPServer(LineServer):
    def __init__(self, context, files: dict):
        self.files = dict(files)
        self.data_tls: list[Optional[str]] = []   # TLS version of each data connection
        super().__init__(_FTPHandler, context, implicit=False)


def ftp_server(context, files: dict):
    """``with ftp_server(ctx, {"name": b"data"}) as srv``: explicit FTPS
    (``AUTH TLS``) on ``srv.port``."""
    return _serving(FTPServer(context, files))


# --------------------------------------------------------------------------
# SMTP: aiosmtpd on its own loop thread
# --------------------------------------------------------------------------

class SMTPServer:
    """aiosmtpd's ``SMTP`` protocol served from a loop in a thread (its
    ``Controller`` cannot listen on port 0).  ``messages``: (content, TLS
    version of the transport that carried DATA) per message; ``logins``:
    the users that authenticated."""

    def __init__(self, context, *, implicit: bool):
        self.context, self.implicit = context, implicit
        self.messages: list[tuple[bytes, Optional[str]]] = []
        self.logins: list[str] = []
        self.ssl_objects: list = []      # the TLS object each message came over
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                        name="smtp-server-loop")
        self.server: Optional[asyncio.AbstractServer] = None

    async def handle_DATA(self, server, session, envelope):
        ssl_object = server.transport.get_extra_info("ssl_object")
        self.ssl_objects.append(ssl_object)
        self.messages.append((envelope.content, ssl_object.version() if ssl_object else None))
        return "250 Message accepted for delivery"

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult
        ok = (auth_data.login, auth_data.password) == (USER.encode(), PASSWORD.encode())
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)

    def _protocol(self):
        from aiosmtpd.smtp import SMTP
        return SMTP(self, hostname="localhost", loop=self.loop, timeout=IO_TIMEOUT,
                    authenticator=self._authenticate,
                    tls_context=None if self.implicit else self.context,
                    # implicit TLS is TLS from the first byte: AUTH may go
                    auth_require_tls=not self.implicit)

    def __enter__(self) -> "SMTPServer":
        self._thread.start()
        start = self.loop.create_server(self._protocol, HOST, 0,
                                        ssl=self.context if self.implicit else None)
        self.server = asyncio.run_coroutine_threadsafe(start, self.loop).result(IO_TIMEOUT)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc_info):
        async def stop():
            self.server.close()
            await asyncio.wait_for(self.server.wait_closed(), IO_TIMEOUT)
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop(), self.loop).result(IO_TIMEOUT)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(JOIN_TIMEOUT)
        if not self._thread.is_alive():
            self.loop.close()


def smtp_server(context, *, implicit: bool = False) -> SMTPServer:
    """``with smtp_server(ctx) as srv``: SMTP with STARTTLS (or implicit
    TLS for ``SMTP_SSL``) on ``srv.port``; AUTH PLAIN/LOGIN as USER/PASSWORD."""
    return SMTPServer(context, implicit=implicit)
