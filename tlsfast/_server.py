"""``python -m tlsfast serve``: a demo HTTPS / TLS echo server on ``selectors``.

It drives TLS only through tlsfast's non-raising fast path
(``try_do_handshake``, ``try_recv_into``, ``try_send``, ``try_unwrap`` and
``wanted_events``), so it runs unchanged on either implementation.

Each connection is a small state machine::

    DETECT --first byte not a letter--> HANDSHAKE --handshake done--> OPEN
       |     OPEN --peer EOF / Connection: close / server stopping--> CLOSING
       |     CLOSING --close_notify exchanged--> CLOSED
       +--first byte an ASCII letter (plain HTTP)--> REFUSING --> CLOSED

DETECT peeks at the first byte the client sent without consuming it, as
nginx does: a TLS ClientHello's record starts with 0x16, an HTTP request
line with the first letter of its method.  Plain HTTP gets ``400 Bad
Request`` in clear text, saying that the port speaks HTTPS, then a lingering
close (our FIN, then the client's bytes read and dropped until its FIN) so
that the answer arrives instead of a TCP reset.  Anything else goes on to
the TLS handshake, the peeked byte still in the socket.

``Connection.step()`` advances it as far as it can without blocking and
returns what to wait for: a ``selectors`` event mask (the socket's
``wanted_events``), ``RUN_AGAIN`` (it gave up its turn while decrypted data
may still be buffered inside OpenSSL, where no selector can see it) or
``DONE``.  ``Server`` owns the selector and re-registers each socket with the
mask its last step returned.

In the OPEN state the first decrypted bytes decide the protocol: an HTTP/1.x
request line gets HTTP (GET/HEAD, keep-alive, pipelining,
``Connection: close``); anything else is echoed back verbatim.

With ``--workers N`` (N > 1) a ``Supervisor`` forks N worker processes, each
running its own ``Server`` on its own listening socket, all bound to the same
address with ``SO_REUSEPORT`` so that the Linux kernel spreads new
connections over them.  The server context is made once, before the fork, so
every worker holds the same certificate and the same session ticket keys: a
client resumes on whichever worker it lands.
"""

import email.utils
import enum
import errno
import os
import re
import selectors
import shlex
import signal
import socket
import sys
import time
import traceback
from http import HTTPStatus

import tlsfast

DONE = 0          # step() result: the connection is finished, close it
RUN_AGAIN = -1    # step() result: run again soon without waiting for events

READ_BUFFER_SIZE = 64 * 1024   # one TLS record is at most 16 KiB
SEND_CHUNK = 64 * 1024         # plaintext handed to one try_send call
TURNS_PER_STEP = 32            # reads + sends per step, for fairness
MAX_HEADER_BYTES = 16 * 1024   # request line + headers
ACCEPTS_PER_WAKE = 64

HANDSHAKE_TIMEOUT = 10.0       # seconds
IDLE_TIMEOUT = 60.0
CLOSE_TIMEOUT = 2.0            # waiting for the peer's close_notify
STOP_GRACE = 3.0               # finishing open connections when stopping
TICK = 0.25                    # longest select() wait: signals, timeouts
KILL_MARGIN = 2.0              # after STOP_GRACE, a worker still running is killed
RESTART_LIMIT = 5              # failed workers restarted within RESTART_WINDOW,
RESTART_WINDOW = 10.0          # seconds; beyond that a crash loop is let die
TICKET_KEY_SIZE = 80           # bytes: SSLContext.set_session_ticket_keys

_REQUEST_LINE = re.compile(rb"([A-Z]{1,16}) ([\x21-\x7e]+) HTTP/(1\.[01])")
# what the start of a request line can look like before its end arrives
_REQUEST_PREFIX = re.compile(rb"[A-Z]{1,16}(?: [\x21-\x7e]*(?: [\x21-\x7e]*)?)?\r?")
_HEADER_END = re.compile(rb"\r?\n\r?\n")


def http_response(status, body, *, close, head=False, extra=""):
    """An HTTP/1.1 response with a text/plain ``body`` (str), as bytes."""
    payload = body.encode()
    return (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        f"Server: tlsfast/{tlsfast.__version__} ({tlsfast.__impl__})\r\n"
        f"Date: {email.utils.formatdate(usegmt=True)}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(payload)}\r\n"
        f"Connection: {'close' if close else 'keep-alive'}\r\n"
        f"{extra}\r\n"
    ).encode("latin-1") + (b"" if head else payload)


class State(enum.Enum):
    DETECT = "detect"
    REFUSING = "refusing"
    HANDSHAKE = "handshake"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class Connection:
    """One TLS connection: the state machine and its HTTP / echo protocol."""

    def __init__(self, server, sock, peer):
        self.server = server
        self.sock = sock                 # the TCP socket, then its TLS wrapper
        self.fd = sock.fileno()          # the same descriptor in both
        self.peer = peer
        self.state = State.DETECT
        self.deadline = time.monotonic() + HANDSHAKE_TIMEOUT
        self.registered = 0              # events the selector watches for us
        self.protocol = None             # "http" or "echo" once sniffed
        self.inbuf = bytearray()         # HTTP bytes not parsed yet
        self.outbuf = bytearray()        # plaintext queued for sending
        self.sending = None              # chunk a try_send must be repeated with
        self.close_when_flushed = False
        self.skip_body = 0               # request body bytes still to discard
        self.requests = 0
        self.tls_info = ""

    # -- the state machine ------------------------------------------------
    def step(self):
        """Advance without blocking; return events to wait for, RUN_AGAIN or DONE."""
        if self.state is State.DETECT:
            first = self._peek()
            if first is None:
                return selectors.EVENT_READ
            if not first:                        # EOF before a byte
                return DONE
            if first.isalpha():                  # bytes: ASCII letters only
                self._enter_refusing()
            else:
                self.sock = self.server.context.wrap_socket(
                    self.sock, server_side=True, do_handshake_on_connect=False)
                self.state = State.HANDSHAKE
        if self.state is State.REFUSING:
            return self._refusing_step()
        sock = self.sock
        if self.state is State.HANDSHAKE:
            if sock.try_do_handshake() < 0:
                return sock.wanted_events
            self._enter_open()
        if self.state is State.OPEN:
            events = self._open_step()
            if events is not None:
                return events
            self._enter_closing()
        if self.state is State.CLOSING:
            try:
                if sock.try_unwrap() < 0:
                    return sock.wanted_events
            except OSError as exc:
                # the peer left without its close_notify, or sent data after ours
                self.server.log(f"{self.name}: no clean TLS shutdown: {exc}")
            self.state = State.CLOSED
        return DONE

    def _peek(self):
        """The first byte received, left in the socket; b"" at EOF, None
        while nothing has arrived."""
        try:
            return self.sock.recv(1, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return None

    def _enter_refusing(self):
        self.state = State.REFUSING
        self.deadline = time.monotonic() + CLOSE_TIMEOUT
        host, port = self.sock.getsockname()[:2]
        url = f"https://{f'[{host}]' if ':' in host else host}:{port}/"
        self.outbuf += http_response(
            400, "This port speaks HTTPS: the plain HTTP request was sent to an "
            f"HTTPS port.\nUse {url} instead.\n", close=True)
        self.server.log(f"{self.name}: plain HTTP on the TLS port: answered 400")

    def _refusing_step(self):
        """REFUSING: send the 400, shut our side, read until the peer's FIN.

        Closing with the request still unread would make the kernel send a
        reset, which can destroy the answer before the client reads it."""
        sock = self.sock
        for _ in range(TURNS_PER_STEP):
            try:
                if self.outbuf:
                    del self.outbuf[:sock.send(self.outbuf)]
                    if not self.outbuf:
                        sock.shutdown(socket.SHUT_WR)
                    continue
                if not sock.recv_into(self.server.read_view):
                    return DONE
            except (BlockingIOError, InterruptedError):
                return selectors.EVENT_WRITE if self.outbuf else selectors.EVENT_READ
        return RUN_AGAIN

    def _enter_open(self):
        self.state = State.OPEN
        self.deadline = time.monotonic() + IDLE_TIMEOUT
        cipher = self.sock.cipher()
        self.tls_info = (
            f"TLS version: {self.sock.version()}\n"
            f"cipher: {cipher[0]} ({cipher[2]} bits)\n"
            f"ALPN: {self.sock.selected_alpn_protocol()}\n"
        )
        self.server.log(f"{self.name}: {self.sock.version()} {cipher[0]}")

    def _enter_closing(self):
        self.state = State.CLOSING
        self.deadline = time.monotonic() + CLOSE_TIMEOUT

    def _open_step(self):
        """OPEN: flush queued output, then read; None means "go to CLOSING"."""
        sock = self.sock
        for _ in range(TURNS_PER_STEP):
            if self.sending is not None or self.outbuf:
                if self.sending is None:
                    self.sending = bytes(self.outbuf[:SEND_CHUNK])
                    del self.outbuf[:SEND_CHUNK]
                if sock.try_send(self.sending) < 0:
                    return sock.wanted_events    # repeat with the same chunk
                self.sending = None
                self.deadline = time.monotonic() + IDLE_TIMEOUT
                continue
            if self.close_when_flushed:
                return None
            view = self.server.read_view         # shared: consumed at once
            n = sock.try_recv_into(view)
            if n < 0:
                return sock.wanted_events
            if n == 0:                           # close_notify or EOF
                return None
            self.deadline = time.monotonic() + IDLE_TIMEOUT
            self._received(view[:n])
        return RUN_AGAIN

    def request_close(self):
        """Finish what is queued, then close (the server is stopping)."""
        self.close_when_flushed = True

    def expire(self):
        """The deadline passed: return True to drop the connection now
        (a client that keeps sending after a REFUSING answer may then see
        a reset, as from nginx after its lingering time)."""
        if self.state is State.OPEN:
            self.close_when_flushed = True
            self.outbuf.clear()  # a peer that stopped reading gets no more
            if self.sending is None:
                self._enter_closing()
                return False
        return True

    @property
    def name(self):
        host, port = self.peer[:2]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    # -- protocol ---------------------------------------------------------
    def _received(self, data):
        if self.protocol == "echo":
            self.outbuf += data
            return
        self.inbuf += data
        if self.protocol is None:
            self.protocol = self._sniff()
            if self.protocol is None:
                return                           # need more bytes to decide
            if self.protocol == "echo":
                self.outbuf += self.inbuf
                self.inbuf.clear()
                return
        self._handle_http()

    def _sniff(self):
        """"http" if inbuf starts with an HTTP/1.x request line, "echo" if it
        cannot, None while undecided."""
        buf = self.inbuf
        newline = buf.find(b"\n")
        if newline < 0:
            if len(buf) < MAX_HEADER_BYTES and _REQUEST_PREFIX.fullmatch(buf):
                return None
            return "echo"
        line = buf[:newline].rstrip(b"\r")
        return "http" if _REQUEST_LINE.fullmatch(line) else "echo"

    def _handle_http(self):
        while not self.close_when_flushed:
            if self.skip_body:
                taken = min(self.skip_body, len(self.inbuf))
                del self.inbuf[:taken]
                self.skip_body -= taken
                if self.skip_body:
                    return
            end = _HEADER_END.search(self.inbuf)
            if end is None:
                if len(self.inbuf) > MAX_HEADER_BYTES:
                    self._respond(431, "request header too large\n", close=True)
                return
            head = bytes(self.inbuf[:end.start()])
            del self.inbuf[:end.end()]
            self._handle_request(head)

    def _handle_request(self, head):
        lines = head.split(b"\n")
        request = _REQUEST_LINE.fullmatch(lines[0].rstrip(b"\r"))
        if request is None:
            self._respond(400, "bad request line\n", close=True)
            return
        method, target, version = request.groups()
        headers = {}
        for line in lines[1:]:
            name, colon, value = line.rstrip(b"\r").partition(b":")
            if not colon or not name or name != name.strip():
                self._respond(400, "bad header line\n", close=True)
                return
            headers[name.lower()] = value.strip()
        tokens = {t.strip() for t in headers.get(b"connection", b"").lower().split(b",")}
        if version == b"1.1":
            keep_alive = b"close" not in tokens
        else:
            keep_alive = b"keep-alive" in tokens
        if b"transfer-encoding" in headers:
            self._respond(501, "chunked request bodies are not supported\n", close=True)
            return
        length = headers.get(b"content-length", b"0")
        if not length.isdigit():
            self._respond(400, "bad Content-Length\n", close=True)
            return
        self.skip_body = int(length)
        self.requests += 1
        last = self.server.count_request()
        close = last or not keep_alive
        if method not in (b"GET", b"HEAD"):
            self._respond(405, "only GET and HEAD are served\n", close=close,
                          extra="Allow: GET, HEAD\r\n")
            return
        path = target.decode("ascii", "replace")
        body = (
            f"Hello from tlsfast {tlsfast.__version__} "
            f"({tlsfast.__impl__} implementation)\n"
            f"{self.tls_info}"
            f"OpenSSL: {tlsfast.OPENSSL_VERSION}\n"
            f"session reused: {'yes' if self.sock.session_reused else 'no'}\n"
            f"process: {self.server.ident}\n"
            f"request {self.requests} on this connection: {method.decode()} {path}\n"
        )
        self._respond(200, body, close=close, head=(method == b"HEAD"))

    def _respond(self, status, body, *, close=False, head=False, extra=""):
        close = close or self.server.stopping
        self.outbuf += http_response(status, body, close=close, head=head, extra=extra)
        if close:
            self.close_when_flushed = True


class Server:
    """The event loop: a listening socket and its connections on one selector."""

    def __init__(self, context, listener, *, max_requests=None, duration=None,
                 verbose=False, ident=None, supervisor=None):
        self.context = context
        # who answers, in the HTTP body: "pid N" or "worker I of N (pid P)"
        self.ident = ident or f"pid {os.getpid()}"
        # a worker's parent: when it is gone (killed), the worker stops too
        self.supervisor = supervisor
        self.listener = listener
        self.max_requests = max_requests
        self.end_time = None if duration is None else time.monotonic() + duration
        self.verbose = verbose
        self.selector = selectors.DefaultSelector()
        # one read buffer for all connections: each read is parsed or copied
        # into the connection's queues before the next one
        self.read_view = memoryview(bytearray(READ_BUFFER_SIZE))
        self.connections = set()
        self.ready = []                  # connections that returned RUN_AGAIN
        self.stop_reason = None
        self.stopping = False
        self.grace_end = None
        self.served = 0
        self.accepted = 0
        self.errors = 0

    def log(self, message):
        if self.verbose:
            if self.supervisor is not None:
                message = f"{self.ident}: {message}"
            # one write: the workers share stderr (print() writes the newline apart)
            sys.stderr.write(message + "\n")
            sys.stderr.flush()

    def request_stop(self, reason):
        """Ask the loop to stop (safe from a signal handler); a second
        request while stopping drops the open connections at once."""
        if self.stop_reason is None:
            self.stop_reason = reason
        elif self.stopping:
            self.grace_end = 0.0

    def count_request(self):
        """Count one HTTP request; True when it is the last one to serve."""
        self.served += 1
        if self.max_requests is not None and self.served >= self.max_requests:
            self.request_stop(f"served {self.served} requests")
            return True
        return False

    def serve(self):
        self.listener.setblocking(False)
        self.selector.register(self.listener, selectors.EVENT_READ, None)
        try:
            while True:
                now = time.monotonic()
                if self.end_time is not None and now >= self.end_time:
                    self.request_stop("duration elapsed")
                if self.supervisor is not None and os.getppid() != self.supervisor:
                    self.request_stop("the supervisor is gone")
                if self.stop_reason is not None and not self.stopping:
                    self._begin_stop()
                if self.stopping and (not self.connections or now >= self.grace_end):
                    break
                timeout = 0 if self.ready else TICK
                for key, _ in self.selector.select(timeout):
                    if key.data is None:
                        self._accept()
                    elif key.data in self.connections:
                        self._run(key.data)
                ready, self.ready = self.ready, []
                for conn in ready:
                    if conn in self.connections:
                        self._run(conn)
                self._expire(time.monotonic())
        finally:
            for conn in list(self.connections):
                self._close(conn)
            self._close_listener()
            self.selector.close()
        return self.stop_reason

    def _begin_stop(self):
        self.stopping = True
        self.grace_end = time.monotonic() + STOP_GRACE
        self._close_listener()
        for conn in list(self.connections):
            if conn.state in (State.DETECT, State.HANDSHAKE):
                self._close(conn)
            else:
                conn.request_close()
                self._run(conn)

    def _close_listener(self):
        if self.listener.fileno() >= 0:
            self.selector.unregister(self.listener)
            self.listener.close()

    def _accept(self):
        for _ in range(ACCEPTS_PER_WAKE):
            try:
                raw, peer = self.listener.accept()
            except BlockingIOError:
                return
            except OSError as exc:  # e.g. EMFILE: retry on the next wake-up
                self.log(f"accept: {exc}")
                self.errors += 1
                return
            try:
                raw.setblocking(False)
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError as exc:
                self.log(f"accept: {exc}")
                self.errors += 1
                raw.close()
                continue
            self.accepted += 1
            conn = Connection(self, raw, peer)
            self.connections.add(conn)
            # by descriptor: it outlives the TCP socket object, which the
            # TLS wrapper takes over after DETECT
            self.selector.register(conn.fd, selectors.EVENT_READ, conn)
            conn.registered = selectors.EVENT_READ
            self._run(conn)

    def _run(self, conn):
        try:
            events = conn.step()
        except OSError as exc:  # ssl.SSLError is an OSError
            if exc.errno not in (errno.ECONNRESET, errno.EPIPE):
                self.errors += 1
            self.log(f"{conn.name}: {conn.state.value}: {exc}")
            events = DONE
        if events == DONE:
            self._close(conn)
        elif events == RUN_AGAIN:
            self.ready.append(conn)
        elif events != conn.registered:
            self.selector.modify(conn.fd, events, conn)
            conn.registered = events

    def _expire(self, now):
        for conn in [c for c in self.connections if c.deadline <= now]:
            self.log(f"{conn.name}: timed out in state {conn.state.value}")
            if conn.expire():
                self._close(conn)
            else:
                self._run(conn)

    def _close(self, conn):
        self.connections.discard(conn)
        try:
            self.selector.unregister(conn.fd)
        except (KeyError, ValueError):
            pass
        conn.state = State.CLOSED
        conn.sock.close()


# -- setup ---------------------------------------------------------------
class CLIError(Exception):
    """A failure the user can fix.  ``python -m tlsfast`` prints the message
    (which names the file, port or option and what to do) as one line on
    stderr and exits with status 1."""


PEM_SCAN_BYTES = 1 << 20   # read of a certificate or key file to explain a failure
_PEM_CERT = re.compile(rb"^-----BEGIN (?:TRUSTED )?CERTIFICATE-----", re.M)
_PEM_KEY = re.compile(rb"^-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----", re.M)
_READ_PROBLEMS = {
    errno.ENOENT: "no such file",
    errno.EISDIR: "is a directory",
    errno.EACCES: "permission denied (not readable by this user)",
}


def make_demo_certs(cert_dir):
    """Create a throw-away CA and a server certificate for localhost,
    127.0.0.1 and ::1 with trustme; return (ca, cert, key) absolute paths.
    Raises CLIError without trustme or when ``cert_dir`` is not writable."""
    try:
        import trustme
    except ImportError:
        raise CLIError(
            "creating a demo certificate needs trustme: pip install 'tlsfast[demo]', "
            "or pass --cert FILE (and --key FILE)") from None
    cert_dir = os.path.abspath(cert_dir)
    try:
        os.makedirs(cert_dir, exist_ok=True)
        ca = trustme.CA(organization_name="tlsfast demo CA")
        leaf = ca.issue_cert("localhost", "127.0.0.1", "::1")
        ca_path = os.path.join(cert_dir, "ca.pem")
        cert_path = os.path.join(cert_dir, "cert.pem")
        key_path = os.path.join(cert_dir, "key.pem")
        ca.cert_pem.write_to_path(ca_path)
        with open(cert_path, "wb") as f:
            for pem in leaf.cert_chain_pems:
                f.write(pem.bytes())
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "wb") as f:
            f.write(leaf.private_key_pem.bytes())
        os.chmod(key_path, 0o600)
    except OSError as exc:
        raise CLIError(
            f"--cert-dir {cert_dir}: cannot write the demo certificate there "
            f"({exc.strerror or exc}); choose a writable --cert-dir") from exc
    return ca_path, cert_path, key_path


def _read_pem(path, option, hint):
    """The start of the file ``option`` names; CLIError if it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read(PEM_SCAN_BYTES)
    except OSError as exc:
        problem = _READ_PROBLEMS.get(exc.errno, f"cannot read it ({exc.strerror or exc})")
        raise CLIError(f"{option} {path}: {problem}; {hint}") from exc


def load_server_context(cert_path, key_path):
    """A server SSLContext with the certificate chain ``cert_path`` and the
    private key ``key_path`` (None: the key is in ``cert_path``), as
    ``SSLContext.load_cert_chain``.  Raises CLIError naming the file at
    fault: missing or unreadable, no PEM certificate, no PEM private key, or
    a key that does not match the certificate."""
    cert = _read_pem(cert_path, "--cert", "give a PEM certificate chain, or leave out "
                     "--cert for a throw-away demo certificate")
    key = cert if key_path is None else _read_pem(
        key_path, "--key", f"give the PEM private key of the certificate in --cert {cert_path}")
    context = tlsfast.SSLContext(tlsfast.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert_path, key_path)
    except tlsfast.SSLError as exc:
        raise CLIError(_cert_problem(cert_path, key_path, cert, key, exc)) from exc
    except OSError as exc:  # the file changed since it was read
        raise CLIError(f"cannot load --cert {cert_path}: {exc}") from exc
    return context


def _cert_problem(cert_path, key_path, cert, key, exc):
    """Which of the two files a load_cert_chain SSLError is about, in words."""
    key_desc = f"--key {key_path}" if key_path else f"the private key in --cert {cert_path}"
    if getattr(exc, "reason", None) == "KEY_VALUES_MISMATCH":
        return (f"{key_desc} does not match the certificate in --cert {cert_path}; "
                "give the private key the certificate was issued for")
    if not _PEM_CERT.search(cert):
        return (f"--cert {cert_path} holds no PEM certificate (no '-----BEGIN CERTIFICATE-----' "
                f"line); give a PEM certificate chain (DER converts with 'openssl x509 "
                f"-inform der -in {shlex.quote(cert_path)} -out cert.pem')")
    if not _PEM_KEY.search(key):
        if key_path is None:
            return (f"--cert {cert_path} holds a certificate but no private key; "
                    "pass the key file with --key FILE")
        return (f"--key {key_path} holds no PEM private key (no '-----BEGIN ... PRIVATE "
                "KEY-----' line); give the certificate's private key in PEM")
    return (f"cannot load --cert {cert_path} with {key_desc}: {exc}; check that they are "
            "the PEM certificate chain and its unencrypted private key")


def _unprivileged_port_start():
    """The lowest port a process without CAP_NET_BIND_SERVICE may bind (Linux
    sysctl net.ipv4.ip_unprivileged_port_start; 1024 elsewhere)."""
    try:
        with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 1024


def _listen(host, port, reuse_port=False):
    """A listening TCP socket on ``host`` (name or address) and ``port``
    (int, 0: any free one), with ``SO_REUSEPORT`` when ``reuse_port``.
    Raises CLIError when the host does not resolve, the port is in use or
    privileged, or the address is not this machine's."""
    try:
        family, _, _, _, addr = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else str(exc)
        raise CLIError(
            f"--host {host!r} does not resolve ({reason}); give an address of this machine "
            "(127.0.0.1, ::1, 0.0.0.0 for all) or a name that resolves to one") from exc
    where = f"[{addr[0]}]:{port}" if family == socket.AF_INET6 else f"{addr[0]}:{port}"
    try:
        return socket.create_server(addr, family=family, backlog=128, reuse_port=reuse_port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            problem = ("the port is in use (another server is listening there); stop it "
                       "or choose another --port (--port 0 picks a free one)")
        elif exc.errno == errno.EACCES and 0 < port < _unprivileged_port_start():
            problem = (f"permission denied: ports below {_unprivileged_port_start()} need "
                       "root or the CAP_NET_BIND_SERVICE capability; choose --port "
                       f"{_unprivileged_port_start()} or above (--port 0 picks a free one)")
        elif exc.errno == errno.EADDRNOTAVAIL:
            problem = (f"--host {host} is not an address of this machine; give 127.0.0.1, "
                       "::1, 0.0.0.0 (all addresses) or one of this machine's addresses")
        else:
            problem = f"{exc.strerror or exc}; check --host and --port"
        raise CLIError(f"cannot listen on {where}: {problem}") from exc


def reuse_port_available():
    """True where ``SO_REUSEPORT`` spreads connections over the listening
    sockets sharing a port (Linux 3.9+); the BSDs and macOS have the option,
    but hand every connection to one of the sockets, and Windows lacks it."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _listen_group(host, port, count):
    """``count`` listening sockets on one address with ``SO_REUSEPORT``: the
    first on ``port`` (0: a free one), the others on the port it got."""
    if not reuse_port_available():
        raise CLIError(
            f"--workers {count} needs SO_REUSEPORT load balancing, which only Linux has "
            f"(this is {sys.platform}); run one process (--workers 1)")
    if port:
        # SO_REUSEPORT would let these sockets join any group already on the
        # port under this user id (another serve --workers): a plain bind
        # first, so that a port in use is an error as for one process
        _listen(host, port).close()
    first = _listen(host, port, reuse_port=True)
    listeners = [first]
    try:
        for _ in range(count - 1):
            listeners.append(_listen(host, first.getsockname()[1], reuse_port=True))
    except BaseException:
        for sock in listeners:
            sock.close()
        raise
    return listeners


def share_ticket_keys(context):
    """Give ``context`` one random session ticket key (``os.urandom``; it
    lives in this process's memory only, and in the workers' after the
    fork).  Returns a line for the banner saying how tickets are shared."""
    try:
        context.set_session_ticket_keys([os.urandom(TICKET_KEY_SIZE)])
    except NotImplementedError:
        # the stdlib has no ticket key API; the key OpenSSL made for this
        # context when it was created is copied into every worker by fork()
        return ("session tickets: OpenSSL's own key of the context, inherited by the "
                "workers (set_session_ticket_keys needs the compiled implementation)")
    return "session tickets: one key made at start-up, shared by the workers"


def run(args):
    """``serve`` subcommand: set up, print the banner, run until stopped;
    returns the exit status (0).  ``args`` is the argparse namespace of
    ``python -m tlsfast serve``; ``args.workers`` > 1 forks that many
    worker processes (see ``Supervisor``).  Raises CLIError when the
    certificate or key cannot be loaded, the address cannot be listened on,
    ``SO_REUSEPORT`` is missing (workers), or a worker failed."""
    ca_path = None
    if args.cert:
        cert_path, key_path = args.cert, args.key
    else:
        ca_path, cert_path, key_path = make_demo_certs(args.cert_dir)

    context = load_server_context(cert_path, key_path)
    context.set_alpn_protocols(["http/1.1"])
    keylog = os.environ.get("SSLKEYLOGFILE")
    if keylog and not sys.flags.ignore_environment:
        context.keylog_filename = keylog

    workers = getattr(args, "workers", 1)
    if workers > 1:
        listeners = _listen_group(args.host, args.port, workers)
    else:
        listeners = [_listen(args.host, args.port)]
    host, port = listeners[0].getsockname()[:2]
    url_host = f"[{host}]" if ":" in host else host
    print(f"listening on https://{url_host}:{port}/", flush=True)
    print(f"implementation: {tlsfast.__impl__} (tlsfast {tlsfast.__version__})")
    print(f"OpenSSL: {tlsfast.OPENSSL_VERSION}")
    if ca_path:
        ca = shlex.quote(ca_path)
        print(f"CA certificate: {ca_path}")
        print(f"certificate: {cert_path}  key: {key_path}")
        print("try:")
        print(f"  curl --cacert {ca} https://localhost:{port}/")
        print(f"  openssl s_client -connect 127.0.0.1:{port} -CAfile {ca}   (echo)")
    else:
        print(f"certificate: {cert_path}  key: {key_path or cert_path}")
    options = dict(max_requests=args.max_requests, duration=args.duration,
                   verbose=args.verbose)
    if workers > 1:
        print(share_ticket_keys(context))
        return Supervisor(context, listeners, options).run()
    print("stop with Ctrl-C", flush=True)

    server = Server(context, listeners[0], **options)

    def on_signal(signum, frame):
        server.request_stop(f"signal {signal.Signals(signum).name}")

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        reason = server.serve()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"stopped ({reason}): {server.served} requests on {server.accepted} "
          f"connections, {server.errors} errors", flush=True)
    return 0


def _exit_description(code):
    """An exit code of os.waitstatus_to_exitcode, in words."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


class Supervisor:
    """``serve --workers N``: N forked worker processes, one ``Server`` on one
    of ``listeners`` each, and this process watching them.

    ``SIGTERM`` or ``SIGINT`` here is passed on to every worker as
    ``SIGTERM`` (a second one drops their open connections at once, as for
    one process); a worker still running ``STOP_GRACE + KILL_MARGIN``
    seconds later is killed.  The workers ignore ``SIGINT`` themselves, so
    that Ctrl-C, which the terminal sends to the whole process group, counts
    once.  A worker whose supervisor is gone stops by itself.

    A worker that dies while the group is serving (a signal or a non-zero
    exit, not its own ``--duration`` / ``--max-requests``) is reported on
    stderr at once, the kernel sends new connections to the listening
    sockets still open, and the worker is restarted: a
    new listening socket joins the ``SO_REUSEPORT`` group and a new worker
    is forked from this process, with the same context and ticket keys (so
    tickets issued before resume there).  More than ``RESTART_LIMIT``
    failures within ``RESTART_WINDOW`` seconds is a crash loop: the dead
    worker then stays dead and the others serve on.

    ``run()`` returns 0 when every worker stopped cleanly (signal,
    ``--duration``, ``--max-requests``, each counted per worker) and no
    worker failed on the way; else it raises CLIError naming every failure
    (restarted or not)."""

    # waited for with sigwaitinfo, blocked meanwhile (no handler runs);
    # getattr: Windows has no SIGCHLD (and no workers)
    SIGNALS = frozenset(getattr(signal, name) for name in ("SIGCHLD", "SIGINT", "SIGTERM")
                        if hasattr(signal, name))

    def __init__(self, context, listeners, options):
        self.context = context
        self.listeners = listeners
        self.options = options
        self.count = len(listeners)
        self.address = listeners[0].getsockname()[:2]   # (host, port) of the group
        self.pids = {}                   # live worker pid -> worker number
        self.restarts = []               # monotonic times of recent restarts
        # set by run(), kept for restarts: the workers' report pipe, this
        # process's pid and the signal mask a worker goes back to
        self.report_r = self.report_w = None
        self.supervisor = None
        self.blocked = None
        self.failures = []               # "worker I (pid P) ..." for the error
        self.stop_reason = None
        self.kill_at = None              # monotonic time to kill stragglers

    def run(self):
        self.report_r, self.report_w = os.pipe()
        self.supervisor = os.getpid()
        self.blocked = signal.pthread_sigmask(signal.SIG_BLOCK, self.SIGNALS)
        try:
            for number, listener in enumerate(self.listeners, 1):
                self._spawn(number, listener)
            pids = " ".join(str(pid) for pid in self.pids)
            print(f"workers: {self.count} (pids {pids})")
            print("stop with Ctrl-C", flush=True)
            self._supervise()
        finally:
            for pid in self.pids:
                os.kill(pid, signal.SIGKILL)
            for listener in self.listeners:
                listener.close()
            self._reap(block=True, expected=True)
            signal.pthread_sigmask(signal.SIG_SETMASK, self.blocked)
            os.close(self.report_w)      # the workers' ends are closed: EOF below
            with open(self.report_r, "rb") as f:
                reports = f.read().decode().splitlines()
        served = accepted = errors = 0
        reasons = []
        for line in reports:
            fields = line.split(" ", 3)
            served += int(fields[0])
            accepted += int(fields[1])
            errors += int(fields[2])
            if fields[3] not in reasons:
                reasons.append(fields[3])
        reason = self.stop_reason or ", ".join(reasons) or "every worker ended"
        print(f"stopped ({reason}): {served} requests on {accepted} connections, "
              f"{errors} errors, {self.count} workers", flush=True)
        if self.failures:
            count = len(self.failures)
            raise CLIError(f"{count} worker failure{'s' if count > 1 else ''}: "
                           + "; ".join(self.failures))
        return 0

    def _spawn(self, number, listener):
        """Fork worker ``number`` serving ``listener`` (closed here once the
        worker has it: no connection may wait on a socket no one accepts
        from); returns its pid."""
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.close(self.report_r)
            self._worker(number, listener, self.report_w, self.blocked,
                         self.supervisor)    # no return
        self.pids[pid] = number
        listener.close()
        return pid

    def _restart(self, number):
        """A new worker ``number`` on a new socket of the group; returns
        what happened, for the failure's report."""
        now = time.monotonic()
        self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW]
        if len(self.restarts) >= RESTART_LIMIT:
            return (f"not restarted: {len(self.restarts)} restarts within "
                    f"{RESTART_WINDOW:g} s")
        try:
            listener = _listen(*self.address, reuse_port=True)
        except (OSError, CLIError) as exc:
            return f"not restarted: {exc}"
        self.restarts.append(now)
        return f"restarted as pid {self._spawn(number, listener)}"

    def _supervise(self):
        while True:
            self._reap(block=False)
            if not self.pids:
                return
            if self.kill_at is None:
                info = signal.sigwaitinfo(self.SIGNALS)
            else:
                timeout = self.kill_at - time.monotonic()
                info = signal.sigtimedwait(self.SIGNALS, timeout) if timeout > 0 else None
                if info is None:
                    self._kill_stragglers()
                    continue
            if info.si_signo in (signal.SIGINT, signal.SIGTERM):
                self._stop(signal.Signals(info.si_signo).name)

    def _stop(self, name):
        if self.stop_reason is None:
            self.stop_reason = f"signal {name}"
            self.kill_at = time.monotonic() + STOP_GRACE + KILL_MARGIN
        for pid in self.pids:
            os.kill(pid, signal.SIGTERM)

    def _kill_stragglers(self):
        for pid, number in self.pids.items():
            self.failures.append(f"worker {number} (pid {pid}) did not stop within "
                                 f"{STOP_GRACE + KILL_MARGIN:g} s and was killed")
            os.kill(pid, signal.SIGKILL)
        self._reap(block=True, expected=True)

    def _reap(self, block, expected=False):
        """Collect the workers that ended; report the ones that failed
        (unless ``expected``: killed by us, already reported)."""
        while self.pids:
            try:
                pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
            except ChildProcessError:
                self.pids.clear()
                return
            if pid == 0:
                return
            number = self.pids.pop(pid, None)
            if number is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            if code == 0 or expected:
                continue
            what = f"worker {number} (pid {pid}) {_exit_description(code)}"
            if self.stop_reason is None:
                what += f" ({self._restart(number)})"
            self.failures.append(what)
            print(f"tlsfast serve: {what}; {len(self.pids)} of {self.count} workers "
                  "serving", file=sys.stderr, flush=True)

    def _worker(self, number, listener, report_fd, blocked, supervisor):
        """The child after fork(): serve on ``listener``, then leave with
        os._exit (never back into the parent's code)."""
        status = 1
        try:
            for other in self.listeners:
                if other is not listener:
                    other.close()
            pid = os.getpid()
            ident = f"worker {number} of {self.count} (pid {pid})"
            # the pid taken before fork(): os.getppid() here would already
            # name the adopting process if the supervisor died meanwhile
            server = Server(self.context, listener, ident=ident,
                            supervisor=supervisor, **self.options)

            def on_signal(signum, frame):
                server.request_stop(f"signal {signal.Signals(signum).name}")

            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, on_signal)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            reason = server.serve()
            # one write: print() writes the newline apart, and the workers'
            # lines would interleave on a shared, unbuffered stdout
            sys.stdout.write(f"worker {number} (pid {pid}) stopped ({reason}): {server.served} "
                             f"requests on {server.accepted} connections, {server.errors} "
                             "errors\n")
            sys.stdout.flush()
            try:
                os.write(report_fd, f"{server.served} {server.accepted} {server.errors} "
                         f"{reason}\n".encode())
            except BrokenPipeError:
                pass                     # the supervisor is gone: no one to tell
            status = 0
        except BaseException:
            try:
                traceback.print_exc()
            except BaseException:
                pass
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(status)
