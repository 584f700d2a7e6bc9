"""End-to-end tests of the command line: ``python -m tlsfast serve`` and ``info``.

Every test runs once per implementation (fixture ``impl_name``, which sets
``TLSFAST_IMPL`` in the subprocess's environment).  The demo server runs as a
subprocess on 127.0.0.1, port 0, with its throw-away certificate in a temporary
directory; clients are curl and ``openssl s_client`` (when installed) and the
stdlib ``ssl`` module.  A ``c`` parameter whose module does not import FAILS:
a fallback to the pure-Python implementation must never hide a broken build.

Everything is bounded: subprocess waits and line reads have timeouts, sockets
carry ``IO_TIMEOUT``, and every server also has ``--duration`` as a backstop.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time

import pytest

from helpers import IO_TIMEOUT, Process

IMPLS = ["c", "python"]
IMPL_MODULES = {"c": "tlsfast._tls_c", "python": "tlsfast._tls_py"}
STARTUP_TIMEOUT = 30.0   # import + certificate generation on a busy machine
EXIT_TIMEOUT = 15.0
BACKSTOP = 120           # --duration of the shared server: it never outlives the run
FIRST_LINE = r"^listening on https://127\.0\.0\.1:(\d+)/$"


def _tlsfast_root() -> str:
    """Directory holding the ``tlsfast`` package under test (PYTHONPATH)."""
    spec = importlib.util.find_spec("tlsfast")
    assert spec is not None and spec.origin, "tlsfast is not importable"
    return os.path.dirname(os.path.dirname(spec.origin))


def _env(impl: str) -> dict:
    env = dict(os.environ)
    env["TLSFAST_IMPL"] = impl
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (_tlsfast_root(), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("SSLKEYLOGFILE", None)
    return env


def _import_check(impl: str) -> subprocess.CompletedProcess:
    code = (f"import importlib, tlsfast; importlib.import_module({IMPL_MODULES[impl]!r}); "
            "print(tlsfast.__impl__)")
    return subprocess.run([sys.executable, "-c", code], env=_env(impl), capture_output=True,
                          text=True, timeout=STARTUP_TIMEOUT)


def _import_failure(impl: str):
    """None when TLSFAST_IMPL=impl loads that implementation, else why not."""
    res = _import_check(impl)
    if res.returncode == 0 and res.stdout.strip() == impl:
        return None
    return (f"TLSFAST_IMPL={impl}: {IMPL_MODULES[impl]} does not load "
            f"(rc={res.returncode}, impl={res.stdout.strip()!r}):\n{res.stderr}")


@pytest.fixture(scope="module", params=IMPLS)
def impl_name(request) -> str:
    """``"c"`` / ``"python"``, the value of ``TLSFAST_IMPL`` for subprocesses."""
    failure = _import_failure(request.param)
    if failure:
        pytest.fail(failure)  # never skip: the fallback must not hide a broken build
    return request.param


@pytest.mark.parametrize("impl", IMPLS)
def test_implementation_imports(impl):
    failure = _import_failure(impl)
    assert failure is None, failure


# --------------------------------------------------------------------------
# the server subprocess
# --------------------------------------------------------------------------

class DemoServer:
    """``python -m tlsfast serve --port 0`` and what its banner said."""

    def __init__(self, impl: str, cert_dir, *extra: str, **popen):
        self.impl = impl
        self.cert_dir = str(cert_dir)
        self.proc = Process(
            [sys.executable, "-m", "tlsfast", "serve", "--port", "0",
             "--cert-dir", self.cert_dir, *extra],
            stdin=subprocess.DEVNULL, env=_env(impl), **popen)
        try:
            self.port = int(self.proc.wait_for_line(FIRST_LINE, STARTUP_TIMEOUT).group(1))
            self.first_line = self.proc.output.splitlines()[0]
            curl = self.proc.wait_for_line(r"^\s*(curl --cacert .*)$", STARTUP_TIMEOUT)
            self.curl_args = shlex.split(curl.group(1))
            self.ca = self.curl_args[2]
            self.proc.wait_for_line(r"^stop with Ctrl-C", STARTUP_TIMEOUT)
        except BaseException:
            self.proc.kill()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.proc.kill()    # never leave a server behind, even when failing

    def stop(self, sig=signal.SIGTERM) -> int:
        if self.proc.proc.poll() is None:
            self.proc.proc.send_signal(sig)
        return self.proc.finish(EXIT_TIMEOUT)

    def client(self, version: str | None = None) -> ssl.SSLSocket:
        """A stdlib TLS client connected to the server, verifying it."""
        ctx = ssl.create_default_context(cafile=self.ca)
        ctx.set_alpn_protocols(["http/1.1"])
        if version:
            ctx.minimum_version = ctx.maximum_version = getattr(
                ssl.TLSVersion, "TLSv" + version.replace(".", "_"))
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=IO_TIMEOUT)
        try:
            return ctx.wrap_socket(raw, server_hostname="localhost")
        except BaseException:
            raw.close()
            raise


@pytest.fixture(scope="module")
def server(impl_name, tmp_path_factory):
    srv = DemoServer(impl_name, tmp_path_factory.mktemp(f"certs-{impl_name}"),
                     "--duration", str(BACKSTOP))
    try:
        yield srv
    finally:
        try:
            srv.stop()
        finally:
            srv.proc.kill()


class Reader:
    """Buffered, bounded reads of HTTP responses from a socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self, end: float) -> bool:
        if time.monotonic() > end:
            raise AssertionError(f"timed out; buffered: {self.buf!r}")
        chunk = self.sock.recv(65536)
        self.buf += chunk
        return bool(chunk)

    def until(self, marker: bytes) -> bytes:
        end = time.monotonic() + IO_TIMEOUT
        while marker not in self.buf:
            if not self._fill(end):
                raise AssertionError(f"EOF before {marker!r}; buffered: {self.buf!r}")
        data, _, self.buf = self.buf.partition(marker)
        return data + marker

    def exactly(self, n: int) -> bytes:
        end = time.monotonic() + IO_TIMEOUT
        while len(self.buf) < n:
            if not self._fill(end):
                raise AssertionError(f"EOF after {len(self.buf)}/{n} bytes")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def at_eof(self) -> bool:
        return not self.buf and not self._fill(time.monotonic() + IO_TIMEOUT)

    def response(self, head: bool = False):
        """(status, headers with lower-case names, body)."""
        lines = self.until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        version, status, _ = lines[0].split(" ", 2)
        assert version == "HTTP/1.1", lines[0]
        headers = dict(line.split(": ", 1) for line in lines[1:] if line)
        headers = {k.lower(): v for k, v in headers.items()}
        body = b"" if head else self.exactly(int(headers["content-length"]))
        return int(status), headers, body.decode("utf-8")


def _get(path="/", *, method="GET", extra=""):
    return f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n".encode()


# --------------------------------------------------------------------------
# banner and info
# --------------------------------------------------------------------------

def test_banner(server, impl_name):
    assert re.fullmatch(FIRST_LINE, server.first_line)
    out = server.proc.output
    assert f"implementation: {impl_name} (tlsfast " in out
    assert re.search(r"^OpenSSL: OpenSSL 3\.", out, re.M), out
    assert server.ca == os.path.join(server.cert_dir, "ca.pem")
    assert f"CA certificate: {server.ca}" in out
    assert server.curl_args[-1] == f"https://localhost:{server.port}/"
    with open(server.ca) as f:
        assert f.read().startswith("-----BEGIN CERTIFICATE-----")
    key = os.path.join(server.cert_dir, "key.pem")
    assert os.stat(key).st_mode & 0o077 == 0, "private key readable by others"


def test_info(impl_name):
    res = subprocess.run([sys.executable, "-m", "tlsfast", "info"], env=_env(impl_name),
                         capture_output=True, text=True, timeout=STARTUP_TIMEOUT)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert f"implementation: {impl_name} ({IMPL_MODULES[impl_name]})" in out
    assert f"\nwhy: TLSFAST_IMPL={impl_name} asks for it\n" in out
    assert f"\npackage: {os.path.join(_tlsfast_root(), 'tlsfast')}\n" in out
    assert re.search(r"^tlsfast: \d+\.\d+", out, re.M), out
    assert re.search(r"^OpenSSL: OpenSSL 3\.", out, re.M), out
    assert f"Python: {sys.version.split()[0]}" in out
    assert re.search(r"^  HAS_ALPN: True$", out, re.M), out


# --------------------------------------------------------------------------
# external clients
# --------------------------------------------------------------------------

@pytest.mark.interop
def test_curl(server, impl_name):
    if shutil.which("curl") is None:
        pytest.skip("curl not installed")
    url = server.curl_args[-1]
    # the banner's curl line as printed, twice the URL: keep-alive reuse
    res = subprocess.run(server.curl_args + ["-sS", "--max-time", str(IO_TIMEOUT), url + "2"],
                         capture_output=True, text=True, timeout=IO_TIMEOUT + 5)
    assert res.returncode == 0, res.stderr
    assert f"({impl_name} implementation)" in res.stdout
    assert "ALPN: http/1.1" in res.stdout
    assert "request 1 on this connection: GET /\n" in res.stdout
    assert "request 2 on this connection: GET /2\n" in res.stdout


@pytest.mark.interop
@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_openssl_s_client_echo(server, version):
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    client = Process(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{server.port}",
         "-servername", "localhost", "-CAfile", server.ca, "-verify_return_error",
         "-verify_hostname", "localhost", f"-tls{version.replace('.', '_')}",
         "-brief", "-nocommands"])
    try:
        client.proc.stdin.write(f"hello tlsfast over TLS {version}\n".encode())
        client.proc.stdin.flush()
        client.wait_for_line(rf"^Protocol version: TLSv{re.escape(version)}$")
        client.wait_for_line(r"^Verification: OK$")
        client.wait_for_line(rf"^hello tlsfast over TLS {re.escape(version)}$")
        client.proc.stdin.close()  # EOF: s_client says close_notify and exits
        assert client.finish() == 0, client.output
    finally:
        client.kill()


# --------------------------------------------------------------------------
# stdlib ssl client
# --------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_http_get(server, impl_name, version):
    with server.client(version) as sock:
        assert sock.selected_alpn_protocol() == "http/1.1"
        sock.sendall(_get(extra="Connection: close\r\n"))
        reader = Reader(sock)
        status, headers, body = reader.response()
        assert status == 200
        assert headers["connection"] == "close"
        assert headers["content-type"].startswith("text/plain")
        assert f"({impl_name} implementation)" in body
        assert f"TLS version: TLSv{version}\n" in body
        assert f"cipher: {sock.cipher()[0]} " in body
        assert reader.at_eof()  # close_notify, then EOF


def test_keep_alive_two_requests(server):
    with server.client() as sock:
        reader = Reader(sock)
        for n in (1, 2):
            sock.sendall(_get(f"/req{n}"))
            status, headers, body = reader.response()
            assert status == 200
            assert headers["connection"] == "keep-alive"
            assert f"request {n} on this connection: GET /req{n}\n" in body


def test_pipelined_head_and_close(server):
    with server.client() as sock:
        sock.sendall(_get("/a") + _get("/b", method="HEAD")
                     + _get("/c", extra="Connection: close\r\n") + _get("/never"))
        reader = Reader(sock)
        _, _, body_a = reader.response()
        status, headers, _ = reader.response(head=True)
        assert status == 200 and int(headers["content-length"]) > 0
        _, headers, body_c = reader.response()
        assert "request 1 on this connection: GET /a\n" in body_a
        assert "request 3 on this connection: GET /c\n" in body_c
        assert headers["connection"] == "close"
        assert reader.at_eof()  # nothing after Connection: close


def test_other_method_and_request_body(server):
    with server.client() as sock:
        reader = Reader(sock)
        sock.sendall(_get("/form", method="POST", extra="Content-Length: 5\r\n") + b"x=1&y")
        status, headers, _ = reader.response()
        assert status == 405 and headers["allow"] == "GET, HEAD"
        sock.sendall(_get("/after"))  # the body was skipped, not parsed
        status, _, body = reader.response()
        assert status == 200 and "request 2 on this connection: GET /after\n" in body


def test_echo(server):
    with server.client() as sock:
        reader = Reader(sock)
        for data in (b"ping \x00\xff not HTTP\n", b"GET / HTTP/1.1\r\n\r\n", b"x" * 100_000):
            sock.sendall(data)  # once echoing, HTTP-looking bytes are echoed too
            assert reader.exactly(len(data)) == data


# --------------------------------------------------------------------------
# stopping by itself and on signals
# --------------------------------------------------------------------------

def test_max_requests_exits(impl_name, tmp_path):
    with DemoServer(impl_name, tmp_path, "--max-requests", "2", "--duration", "60") as srv:
        with srv.client() as sock:
            reader = Reader(sock)
            sock.sendall(_get("/1"))
            assert reader.response()[1]["connection"] == "keep-alive"
            sock.sendall(_get("/2"))
            assert reader.response()[1]["connection"] == "close"
            assert reader.at_eof()
        assert srv.proc.finish(EXIT_TIMEOUT) == 0, srv.proc.output
        assert "stopped (served 2 requests): 2 requests" in srv.proc.output


def test_duration_exits(impl_name, tmp_path):
    with DemoServer(impl_name, tmp_path, "--duration", "0.5") as srv:
        assert srv.proc.finish(EXIT_TIMEOUT) == 0, srv.proc.output
        assert "stopped (duration elapsed)" in srv.proc.output


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_clean_shutdown(impl_name, tmp_path, sig):
    with DemoServer(impl_name, tmp_path, "--duration", "60") as srv:
        with srv.client() as sock:
            reader = Reader(sock)
            sock.sendall(_get())
            assert reader.response()[0] == 200
            srv.proc.proc.send_signal(sig)
            assert reader.at_eof()  # the open connection got a close_notify...
            sock.unwrap()           # ...and the TLS shutdown completes
        assert srv.proc.finish(EXIT_TIMEOUT) == 0, srv.proc.output
        assert f"stopped (signal {sig.name})" in srv.proc.output
        assert "Traceback" not in srv.proc.output


# --------------------------------------------------------------------------
# --workers: processes sharing one port (SO_REUSEPORT) and the ticket keys
# --------------------------------------------------------------------------

WORKERS_LINE = r"^workers: 2 \(pids (\d+) (\d+)\)$"
# connections until one lands on the other worker (the kernel picks by a
# hash of the client's address and port): 2**-40 to miss it
LANDING_TRIES = 40
GROUP_STOP_BOUND = 5.0   # seconds from SIGTERM to the exit of the whole group
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"),
    reason="--workers needs Linux's SO_REUSEPORT load balancing; /proc shows the workers")


class Workers(DemoServer):
    """``serve --workers 2``: the port, the CA and the two worker pids."""

    def __init__(self, impl: str, cert_dir, **popen):
        super().__init__(impl, cert_dir, "--workers", "2", "--duration", "60", **popen)
        match = re.search(WORKERS_LINE, self.proc.output, re.M)
        assert match, self.proc.output
        self.pids = {int(match.group(1)), int(match.group(2))}
        self.ctx = ssl.create_default_context(cafile=self.ca)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_3

    def visit(self, session=None):
        """One request on a new TLS 1.3 connection offering ``session``;
        (pid of the worker that answered, session_reused as the client and
        the server saw it, the session to offer next)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=IO_TIMEOUT) as raw:
            with self.ctx.wrap_socket(raw, server_hostname="localhost", session=session) as sock:
                sock.sendall(_get(extra="Connection: close\r\n"))
                status, _, body = Reader(sock).response()  # brings the ticket too
                assert status == 200, body
                pid = int(re.search(r"^process: worker [12] of 2 \(pid (\d+)\)$", body,
                                    re.M).group(1))
                server_saw = re.search(r"^session reused: (yes|no)$", body, re.M).group(1)
                assert server_saw == ("yes" if sock.session_reused else "no"), body
                return pid, sock.session_reused, sock.session


def _gone(pid: int) -> bool:
    """The process has exited (a zombie counts: whoever adopted it reaps it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _wait_gone(pids, timeout: float) -> set:
    """The pids still running after ``timeout`` seconds (polled)."""
    end = time.monotonic() + timeout
    while True:
        alive = {pid for pid in pids if not _gone(pid)}
        if not alive or time.monotonic() >= end:
            return alive
        time.sleep(0.05)


@linux_only
def test_workers_serve_resume_on_any_worker_and_stop_together(impl_name, tmp_path):
    with Workers(impl_name, tmp_path) as srv:
        # compiled: a key of the supervisor's (set_session_ticket_keys); the
        # twin has no such call and shares OpenSSL's, inherited at fork
        tickets = {"c": "one key made at start-up, shared by the workers",
                   "python": "OpenSSL's own key of the context, inherited by the workers "
                             "(set_session_ticket_keys needs the compiled implementation)"}
        assert f"\nsession tickets: {tickets[impl_name]}\n" in srv.proc.output
        first, reused, session = srv.visit()
        assert first in srv.pids and not reused
        # the ticket from the first worker resumes on both
        seen, requests = {first}, 1
        for _ in range(LANDING_TRIES):
            pid, reused, _ = srv.visit(session)
            requests += 1
            assert reused, f"no resumption on worker pid {pid} (ticket from pid {first})"
            seen.add(pid)
            if seen == srv.pids:
                break
        assert seen == srv.pids, f"every connection landed on {seen}"
        with srv.client() as sock:   # open during the stop: it gets a close_notify
            reader = Reader(sock)
            sock.sendall(_get())
            assert reader.response()[0] == 200
            requests += 1
            started = time.monotonic()
            srv.proc.proc.send_signal(signal.SIGTERM)
            assert reader.at_eof()
        assert srv.proc.finish(EXIT_TIMEOUT) == 0, srv.proc.output
        assert time.monotonic() - started < GROUP_STOP_BOUND, srv.proc.output
        assert not _wait_gone(srv.pids, 0), srv.proc.output
        out = srv.proc.output
        for pid in srv.pids:
            assert re.search(rf"^worker [12] \(pid {pid}\) stopped \(signal SIGTERM\)", out,
                             re.M), out
        total = re.search(r"^stopped \(signal SIGTERM\): (\d+) requests on (\d+) "
                          r"connections, 0 errors, 2 workers$", out, re.M)
        assert total, out
        assert total.groups() == (str(requests), str(requests)), out
        assert "Traceback" not in out


def _killed(victim: int, outcome: str) -> str:
    """The supervisor's stderr line for worker ``victim`` killed by SIGKILL."""
    return (rf"^tlsfast serve: worker [12] \(pid {victim}\) killed by SIGKILL "
            rf"\({outcome}\); (\d) of 2 workers serving$")


@linux_only
def test_a_dead_worker_is_restarted_and_resumes_old_tickets(impl_name, tmp_path):
    with Workers(impl_name, tmp_path) as srv:
        _, _, session = srv.visit()      # a ticket from the workers started first
        victim, survivor = sorted(srv.pids)
        os.kill(victim, signal.SIGKILL)
        line = srv.proc.wait_for_line(_killed(victim, r"restarted as pid (\d+)"))
        replacement = int(line.group(1))
        assert line.group(2) == "2" and replacement not in srv.pids
        # the new worker joined the group, and holds the same ticket keys
        seen = set()
        for _ in range(LANDING_TRIES):
            pid, reused, _ = srv.visit(session)
            assert reused, f"no resumption on pid {pid}"
            assert pid in (survivor, replacement)
            seen.add(pid)
            if seen == {survivor, replacement}:
                break
        assert seen == {survivor, replacement}, f"every connection landed on {seen}"
        srv.proc.proc.send_signal(signal.SIGTERM)
        assert srv.proc.finish(EXIT_TIMEOUT) == 1, srv.proc.output
        last = srv.proc.output.splitlines()[-1]
        assert re.fullmatch(rf"tlsfast serve: error: 1 worker failure: worker [12] "
                            rf"\(pid {victim}\) killed by SIGKILL \(restarted as pid "
                            rf"{replacement}\)", last), srv.proc.output
        assert not _wait_gone([survivor, replacement], 0)


@linux_only
def test_a_crash_loop_is_not_restarted_and_the_others_serve_on(impl_name, tmp_path):
    from tlsfast._server import RESTART_LIMIT, RESTART_WINDOW
    with Workers(impl_name, tmp_path) as srv:
        victim, survivor = sorted(srv.pids)
        started = time.monotonic()
        for _ in range(RESTART_LIMIT):
            os.kill(victim, signal.SIGKILL)
            victim = int(srv.proc.wait_for_line(
                _killed(victim, r"restarted as pid (\d+)")).group(1))
        if time.monotonic() - started > RESTART_WINDOW - 2:
            pytest.skip(f"{RESTART_LIMIT} restarts took longer than the crash-loop window")
        os.kill(victim, signal.SIGKILL)
        line = srv.proc.wait_for_line(_killed(
            victim, rf"not restarted: {RESTART_LIMIT} restarts within {RESTART_WINDOW:g} s"))
        assert line.group(1) == "1"
        for _ in range(4):
            assert srv.visit()[0] == survivor
        srv.proc.proc.send_signal(signal.SIGTERM)
        assert srv.proc.finish(EXIT_TIMEOUT) == 1, srv.proc.output
        last = srv.proc.output.splitlines()[-1]
        assert last.startswith(f"tlsfast serve: error: {RESTART_LIMIT + 1} worker failures: "), last
        assert not _wait_gone([survivor], 0)


@linux_only
def test_workers_ctrl_c_counts_once(impl_name, tmp_path):
    """Ctrl-C reaches every process of the terminal's process group.  The
    workers ignore SIGINT (a forked child would otherwise keep Python's
    KeyboardInterrupt handler and die mid-connection) and stop on the
    supervisor's SIGTERM: the open connection gets its close_notify."""
    with Workers(impl_name, tmp_path, start_new_session=True) as srv:
        with srv.client() as sock:
            reader = Reader(sock)
            sock.sendall(_get())
            assert reader.response()[0] == 200
            os.killpg(srv.proc.proc.pid, signal.SIGINT)
            assert reader.at_eof()
            sock.unwrap()
        assert srv.proc.finish(EXIT_TIMEOUT) == 0, srv.proc.output
        assert "stopped (signal SIGINT): " in srv.proc.output


@linux_only
def test_workers_stop_when_the_supervisor_is_killed(impl_name, tmp_path):
    srv = Workers(impl_name, tmp_path)
    try:
        srv.proc.proc.kill()
        srv.proc.finish(EXIT_TIMEOUT)
        assert not _wait_gone(srv.pids, GROUP_STOP_BOUND), srv.proc.output
        srv.proc.finish(EXIT_TIMEOUT)   # their output too: the pipe's last writers are gone
        assert srv.proc.output.count("stopped (the supervisor is gone)") == 2, srv.proc.output
        assert "Traceback" not in srv.proc.output
    finally:
        for pid in srv.pids:   # never leave a worker behind, even when failing
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)


@linux_only
def test_workers_do_not_join_a_group_already_on_the_port(impl_name, pems):
    """Another SO_REUSEPORT group on the port (a second ``serve --workers``
    by the same user) would share its connections with ours: refused as a
    port in use."""
    with socket.create_server(("127.0.0.1", 0), reuse_port=True) as taken:
        port = taken.getsockname()[1]
        _serve_error(impl_name, "--cert", pems["chain"], "--key", pems["key"],
                     "--port", str(port), "--workers", "2",
                     words=[f"127.0.0.1:{port}", "in use", "--port"])


@linux_only
def test_workers_auto_is_one_per_cpu():
    from tlsfast.__main__ import build_parser
    cpus = len(os.sched_getaffinity(0))
    for value in ("auto", "0", "AUTO"):
        assert build_parser().parse_args(["serve", "--workers", value]).workers == cpus
    assert build_parser().parse_args(["serve"]).workers == 1


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "1025", ""])
def test_workers_not_a_count(impl_name, value):
    _serve_error(impl_name, "--workers", value, status=2,
                 words=["--workers", f"invalid worker count '{value}'",
                        "expected an integer 1-1024, or 0 / 'auto' for one per CPU"])


# --------------------------------------------------------------------------
# plain HTTP sent to the TLS port
# --------------------------------------------------------------------------

def _read_to_eof(sock) -> bytes:
    """Everything until the server's FIN; a reset raises ConnectionResetError."""
    data, end = b"", time.monotonic() + IO_TIMEOUT
    while time.monotonic() < end:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    raise AssertionError(f"no EOF within {IO_TIMEOUT} s; got {data!r}")


@pytest.mark.parametrize("body_size", [0, 256 * 1024], ids=["GET", "POST-256KiB"])
def test_plain_http_gets_400_not_reset(server, impl_name, body_size):
    request = _get(method="POST" if body_size else "GET",
                   extra=f"Content-Length: {body_size}\r\n" if body_size else "")
    with socket.create_connection(("127.0.0.1", server.port), timeout=IO_TIMEOUT) as sock:
        # all of it before reading: the server must read (and drop) what is
        # unread before closing, or the kernel answers the close with a reset
        sock.sendall(request + b"x" * body_size)
        data = _read_to_eof(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0] == "HTTP/1.1 400 Bad Request", data
    assert "Connection: close" in lines
    assert f"Server: tlsfast/0.1.0 ({impl_name})" in lines
    assert f"Content-Length: {len(body)}" in lines
    text = body.decode()
    assert "the plain HTTP request was sent to an HTTPS port" in text
    assert f"https://127.0.0.1:{server.port}/" in text
    with server.client() as tls:  # the next TLS client is served as before
        tls.sendall(_get(extra="Connection: close\r\n"))
        assert Reader(tls).response()[0] == 200


@pytest.mark.interop
def test_curl_plain_http(server):
    if shutil.which("curl") is None:
        pytest.skip("curl not installed")
    res = subprocess.run(["curl", "-sS", "--max-time", str(IO_TIMEOUT), "-w", "%{http_code}",
                          f"http://127.0.0.1:{server.port}/"],
                         capture_output=True, text=True, timeout=IO_TIMEOUT + 5)
    assert res.returncode == 0, res.stderr   # an answer, not "connection reset"
    assert res.stdout.endswith("400"), res.stdout
    assert "This port speaks HTTPS" in res.stdout


# --------------------------------------------------------------------------
# errors: one line on stderr, exit status 2 (usage) or 1 (run time)
# --------------------------------------------------------------------------

def _cli(impl: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlsfast", *args], env=_env(impl),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=STARTUP_TIMEOUT, **kwargs)


def _serve_error(impl: str, *args: str, status: int = 1, words=(), **kwargs) -> str:
    """Run ``serve`` with ``args`` (``--duration`` as a backstop): it must exit
    with ``status`` and one stderr line naming ``words``, without a traceback."""
    res = _cli(impl, "serve", *args, "--duration", "5", **kwargs)
    where = f"serve {' '.join(args)}: rc={res.returncode}\n{res.stdout}\n{res.stderr}"
    assert res.returncode == status, where
    assert "Traceback" not in res.stderr + res.stdout, where
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tlsfast serve: error: "), where
    for word in words:
        assert word in lines[0], f"{word!r} not in: {lines[0]}"
    return lines[0]


@pytest.fixture(scope="module")
def pems(certs, tmp_path_factory):
    """Certificate files for the error cases: paths by name."""
    d = tmp_path_factory.mktemp("cli-pems")
    files = {"cert-only": certs.server.leaf_pem.encode(), "garbage": b"not a certificate\n"}
    for name, data in files.items():
        (d / f"{name}.pem").write_bytes(data)
    return {"chain": certs.server.chain, "key": certs.server.key, "other-key": certs.alt.key,
            "cert-only": str(d / "cert-only.pem"), "garbage": str(d / "garbage.pem"),
            "missing": str(d / "missing.pem")}


@pytest.mark.parametrize("value", ["abc", "70000", "-1", "4.5"])
def test_port_not_a_port(impl_name, value):
    _serve_error(impl_name, "--port", value, status=2,
                 words=["--port", f"invalid port '{value}'", "expected an integer 0-65535"])


@pytest.mark.parametrize("option, value", [("--duration", "soon"), ("--duration", "nan"),
                                           ("--max-requests", "0")])
def test_bad_number(impl_name, option, value):
    _serve_error(impl_name, option, value, status=2, words=[option, f"'{value}'", "> 0"])


def test_key_without_cert(impl_name, pems):
    _serve_error(impl_name, "--key", pems["key"], status=2, words=["--key needs --cert"])


def test_missing_cert(impl_name, pems):
    _serve_error(impl_name, "--cert", pems["missing"],
                 words=["--cert", pems["missing"], "no such file"])


def test_missing_key(impl_name, pems):
    _serve_error(impl_name, "--cert", pems["chain"], "--key", pems["missing"],
                 words=["--key", pems["missing"], "no such file"])


def test_key_does_not_match(impl_name, pems):
    _serve_error(impl_name, "--cert", pems["chain"], "--key", pems["other-key"],
                 words=["--key", pems["other-key"], "does not match", pems["chain"]])


def test_cert_without_key(impl_name, pems):
    _serve_error(impl_name, "--cert", pems["cert-only"],
                 words=["--cert", pems["cert-only"], "no private key", "--key FILE"])


def test_cert_not_pem(impl_name, pems):
    _serve_error(impl_name, "--cert", pems["garbage"], "--key", pems["key"],
                 words=["--cert", pems["garbage"], "no PEM certificate"])


def test_key_not_pem(impl_name, pems):
    _serve_error(impl_name, "--cert", pems["chain"], "--key", pems["garbage"],
                 words=["--key", pems["garbage"], "no PEM private key"])


def test_port_in_use(impl_name, pems):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        _serve_error(impl_name, "--cert", pems["chain"], "--key", pems["key"],
                     "--port", str(port),
                     words=[f"127.0.0.1:{port}", "in use", "--port"])


def _unprivileged_port_start() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
            return int(f.read())
    except OSError:
        return 1024


def _drop_net_bind_service():
    """preexec_fn: take CAP_NET_BIND_SERVICE out of the bounding set, so the
    program exec'd next has no right to privileged ports even as root."""
    import ctypes
    PR_CAPBSET_DROP, CAP_NET_BIND_SERVICE = 24, 10
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_CAPBSET_DROP, CAP_NET_BIND_SERVICE, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_privileged_port(impl_name, pems):
    if not sys.platform.startswith("linux"):
        pytest.skip("privileged ports are set up the Linux way here")
    if _unprivileged_port_start() <= 1:
        pytest.skip("no privileged ports: net.ipv4.ip_unprivileged_port_start is "
                    f"{_unprivileged_port_start()}")
    # a real EACCES from bind(): root keeps its uid but loses the capability
    preexec = _drop_net_bind_service if os.geteuid() == 0 else None
    probe = subprocess.run(
        [sys.executable, "-c", "import socket; socket.create_server(('127.0.0.1', 1))"],
        preexec_fn=preexec, capture_output=True, text=True, timeout=STARTUP_TIMEOUT)
    if "PermissionError" not in probe.stderr:
        pytest.skip(f"binding port 1 here does not fail with EACCES: rc={probe.returncode} "
                    f"{probe.stderr.strip()[-200:]}")
    _serve_error(impl_name, "--cert", pems["chain"], "--key", pems["key"], "--port", "1",
                 preexec_fn=preexec,
                 words=["127.0.0.1:1", "permission denied", "CAP_NET_BIND_SERVICE", "--port"])


def test_host_does_not_resolve(impl_name, pems):
    # an IPv6 scope that names no interface fails in getaddrinfo itself,
    # without a DNS query
    host = "::1%no-such-interface"
    _serve_error(impl_name, "--cert", pems["chain"], "--key", pems["key"], "--host", host,
                 words=[f"--host '{host}'", "does not resolve"])


def test_host_not_this_machine(impl_name, pems):
    try:
        with open("/proc/sys/net/ipv4/ip_nonlocal_bind") as f:
            if f.read().strip() != "0":
                pytest.skip("net.ipv4.ip_nonlocal_bind lets any address be bound")
    except OSError:
        pass
    # TEST-NET-1 (RFC 5737): bind() fails locally; nothing is sent anywhere
    _serve_error(impl_name, "--cert", pems["chain"], "--key", pems["key"],
                 "--host", "192.0.2.1",
                 words=["192.0.2.1:8443", "--host 192.0.2.1", "not an address of this machine"])


def test_verbose_shows_traceback(impl_name, pems):
    res = _cli(impl_name, "serve", "--cert", pems["missing"], "-v")
    assert res.returncode == 1, res.stderr
    lines = res.stderr.splitlines()
    assert lines[0] == "Traceback (most recent call last):", res.stderr
    assert any(line.startswith("FileNotFoundError") for line in lines), res.stderr
    assert lines[-1].startswith(f"tlsfast serve: error: --cert {pems['missing']}: no such file")


# --------------------------------------------------------------------------
# which build is live: a source checkout in front of an installed build
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def checkout_and_install(tmp_path_factory):
    """``checkout/tlsfast``: the package sources without a compiled module;
    ``site/tlsfast``: the package with it, as ``pip install .`` leaves it in
    site-packages, its directory on ``PYTHONPATH``.  The subprocesses run
    with ``python -S``: no site-packages, so the tlsfast installed in the
    test environment (an editable install's finder would supply
    ``tlsfast._tls_c`` to any ``tlsfast`` package) stays out.
    (tools/check_dist.py does the same with a real ``pip install`` of the
    sdist.)"""
    src = os.path.join(_tlsfast_root(), "tlsfast")
    if not any(n.startswith("_tls_c.") and n.endswith((".so", ".pyd")) for n in os.listdir(src)):
        pytest.fail(f"no compiled tlsfast._tls_c in {src}")
    base = tmp_path_factory.mktemp("shadow")
    checkout, site = base / "checkout", base / "site"
    shutil.copytree(src, checkout / "tlsfast",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyd", "*.c"))
    pyx = checkout / "tlsfast" / "_tls_c.pyx"
    if not pyx.exists():  # the package under test is an installed one (make dist-check)
        pyx.write_text("# stands for the Cython source of a checkout\n")
    shutil.copytree(src, site / "tlsfast", ignore=shutil.ignore_patterns(
        "__pycache__", "*.c", "*.pyx", "*.pxi", "*.pxd", "*.h", "*.html"))
    return str(checkout), str(site / "tlsfast")


def _env_without_impl(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("TLSFAST_IMPL", "PYTHONPATH", "PYTHONSAFEPATH")}
    env.update(extra)
    return env


def test_info_explains_shadowed_build(checkout_and_install):
    checkout, installed = checkout_and_install
    res = subprocess.run([sys.executable, "-S", "-m", "tlsfast", "info"], cwd=checkout,
                         env=_env_without_impl(PYTHONPATH=os.path.dirname(installed)),
                         capture_output=True, text=True, timeout=STARTUP_TIMEOUT)
    assert res.returncode == 0, res.stderr
    assert "implementation: python (tlsfast._tls_py)" in res.stdout
    assert f"package: {os.path.join(checkout, 'tlsfast')}" in res.stdout
    why = re.search(r"^why: (.*)$", res.stdout, re.M).group(1)
    assert ("the tlsfast in the current directory (a source checkout without a compiled "
            f"extension) shadows the installed one at {installed}") in why
    assert "RuntimeWarning: tlsfast runs its pure-Python implementation" in res.stderr
    # elsewhere the installed build is the one imported
    res = subprocess.run([sys.executable, "-S", "-m", "tlsfast", "info"],
                         cwd=os.path.dirname(checkout),
                         env=_env_without_impl(PYTHONPATH=os.path.dirname(installed)),
                         capture_output=True, text=True, timeout=STARTUP_TIMEOUT)
    assert "implementation: c (tlsfast._tls_c)" in res.stdout, res.stdout + res.stderr
    assert f"package: {installed}" in res.stdout
    assert "why: the compiled module loaded (TLSFAST_IMPL is not set" in res.stdout


@pytest.mark.parametrize("installed", [True, False], ids=["shadowing", "no-build"])
def test_impl_c_import_error_explains(checkout_and_install, installed):
    checkout, site_pkg = checkout_and_install
    env = _env_without_impl(TLSFAST_IMPL="c")
    if installed:
        env["PYTHONPATH"] = os.path.dirname(site_pkg)
    res = subprocess.run([sys.executable, "-S", "-c", "import tlsfast"], cwd=checkout, env=env,
                         capture_output=True, text=True, timeout=STARTUP_TIMEOUT)
    assert res.returncode == 1
    last = res.stderr.splitlines()[-1]
    assert last.startswith("ImportError: TLSFAST_IMPL=c but the compiled implementation "
                           "tlsfast._tls_c is not available: the tlsfast in the current "
                           "directory (a source checkout without a compiled extension)"), last
    if installed:
        assert f"shadows the installed one at {site_pkg}" in last
    else:
        assert "has no tlsfast._tls_c module: build it with 'pip install .'" in last
    assert "circular import" not in res.stderr


def test_broken_compiled_module_explained(checkout_and_install, tmp_path):
    """A compiled module that is there but does not load: its own error is
    the explanation (and the ImportError's cause)."""
    checkout = tmp_path / "checkout"
    shutil.copytree(os.path.join(checkout_and_install[0], "tlsfast"), checkout / "tlsfast")
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    (checkout / "tlsfast" / f"_tls_c{suffix}").write_bytes(b"not a shared object\n")
    env = _env_without_impl()
    res = subprocess.run([sys.executable, "-S", "-m", "tlsfast", "info"], cwd=checkout, env=env,
                         capture_output=True, text=True, timeout=STARTUP_TIMEOUT)
    assert res.returncode == 0, res.stderr
    assert "implementation: python (tlsfast._tls_py)" in res.stdout
    assert (f"tlsfast._tls_c is in {checkout / 'tlsfast'} but did not load: "
            in res.stdout), res.stdout
    assert "RuntimeWarning" not in res.stderr  # nothing compiled is shadowed
    res = subprocess.run([sys.executable, "-S", "-c", "import tlsfast"], cwd=checkout,
                         env=dict(env, TLSFAST_IMPL="c"),
                         capture_output=True, text=True, timeout=STARTUP_TIMEOUT)
    assert res.returncode == 1
    assert "The above exception was the direct cause" in res.stderr
    assert res.stderr.splitlines()[-1].startswith(
        "ImportError: TLSFAST_IMPL=c but the compiled implementation tlsfast._tls_c is not "
        f"available: tlsfast._tls_c is in {checkout / 'tlsfast'} but did not load: "), res.stderr
