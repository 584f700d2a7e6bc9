"""Pytest-side support for tests/test_green.py.

The green libraries never run in the pytest process: every scenario runs in
a subprocess (bounded by a timeout):

* ``tests/green/scenarios.py suite``: the in-process scenarios of one
  (library, implementation), run once per module and cached; each reports
  a JSON record that one test asserts on;
* ``tests/green/scenarios.py serve``: the library's WSGI server over
  tlsfast, which the tests drive from here with ``requests``, ``urllib3``,
  ``curl`` and raw sockets;
* ``tests/green/patched.py``: monkey-patched programs using plain tlsfast
  contexts (``SlowHTTPSServer`` here is the server their ticker test
  fetches from);
* gunicorn (``Gunicorn``) with tests/green/gunicorn_conf.py's
  ``ssl_context`` hook, driven by ``requests``, raw sockets and ``curl``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import socket
import ssl
import subprocess
import sys
import time
from typing import Optional

import pytest

from conftest import tlsfast_path
from helpers import IO_TIMEOUT, Process, recv_until, set_linger_reset

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = os.path.join(HERE, "green", "scenarios.py")
SUITE_TIMEOUT = 100.0    # one subprocess running every in-process scenario
STARTUP_TIMEOUT = 30.0   # imports on a busy machine
MIB = 1 << 20


def env_for(impl_name: str) -> dict:
    env = dict(os.environ)
    env["TLSFAST_IMPL"] = impl_name
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [tlsfast_path(), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("SSLKEYLOGFILE", None)
    return env


def cert_args(certs) -> list:
    return [certs.ca_pem, certs.server.chain, certs.server.key]


def payload(seed: int, size: int) -> bytes:
    """Same bytes as scenarios.payload (the server's /big?N body is payload(N, N))."""
    return random.Random(seed).randbytes(size)


# --------------------------------------------------------------------------
# suite: one subprocess per (library, implementation), results cached
# --------------------------------------------------------------------------

class SuiteResults:
    """Runs ``scenarios.py suite`` once per implementation (lazily) and hands
    each test its scenario's record."""

    def __init__(self, lib: str):
        self.lib = lib
        self._runs: dict = {}

    def _run(self, impl_name: str, certs) -> dict:
        cmd = [sys.executable, SCENARIOS, "suite", self.lib, impl_name, *cert_args(certs)]
        try:
            proc = subprocess.run(cmd, env=env_for(impl_name), capture_output=True,
                                  timeout=SUITE_TIMEOUT, stdin=subprocess.DEVNULL)
            out, err, rc = proc.stdout, proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as exc:
            out, err, rc = exc.stdout or b"", exc.stderr or b"", "timeout"
        records = {}
        for line in out.decode("utf-8", "replace").splitlines():
            if line.startswith("{"):
                rec = json.loads(line)
                records[rec["name"]] = rec
        return {"records": records, "rc": rc,
                "stderr": err.decode("utf-8", "replace")[-4000:]}

    def get(self, impl_name: str, certs, name: str) -> dict:
        if impl_name not in self._runs:
            self._runs[impl_name] = self._run(impl_name, certs)
        run = self._runs[impl_name]
        rec = run["records"].get(name)
        if rec is None:
            pytest.fail(f"{self.lib}/{impl_name}: scenario {name!r} did not report "
                        f"(exit {run['rc']}); stderr:\n{run['stderr']}")
        if not rec["ok"]:
            pytest.fail(f"{self.lib}/{impl_name} {name}:\n{rec['error']}")
        return rec["data"]


# --------------------------------------------------------------------------
# serve: the library's WSGI server over tlsfast, one per implementation
# --------------------------------------------------------------------------

class Servers:
    """``scenarios.py serve`` subprocesses, one per implementation, started
    on first use and killed by ``close()``."""

    def __init__(self, lib: str):
        self.lib = lib
        self._procs: dict = {}

    def port(self, impl_name: str, certs) -> int:
        if impl_name not in self._procs:
            proc = Process([sys.executable, SCENARIOS, "serve", self.lib, impl_name,
                            *cert_args(certs)], env=env_for(impl_name))
            self._procs[impl_name] = proc
            m = proc.wait_for_line(r"^LISTENING (\d+)$", timeout=STARTUP_TIMEOUT)
            proc.port = int(m.group(1))
        proc = self._procs[impl_name]
        assert proc.proc.poll() is None, f"{self.lib} server exited:\n{proc.output}"
        return proc.port

    def output(self, impl_name: str) -> str:
        proc = self._procs.get(impl_name)
        return proc.output if proc else ""

    def close(self):
        for proc in self._procs.values():
            proc.kill()
        self._procs.clear()


def base_url(port: int) -> str:
    return f"https://127.0.0.1:{port}"


def stats(port: int, ca: str) -> dict:
    import requests
    r = requests.get(base_url(port) + "/stats", verify=ca, timeout=IO_TIMEOUT)
    r.raise_for_status()
    return r.json()


def check_requests(port: int, ca: str, impl_module: str) -> dict:
    """Keep-alive requests Session verifying the CA: small, large and POSTed
    bodies, all hash-checked."""
    import requests
    url = base_url(port)
    before = stats(port, ca)
    with requests.Session() as s:
        r = s.get(url + "/", verify=ca, timeout=IO_TIMEOUT)
        assert r.status_code == 200 and r.content == b"hello from tlsfast https", r.content
        for n in (1, 100_000, 3 * MIB + 7):
            r = s.get(f"{url}/big?{n}", verify=ca, timeout=IO_TIMEOUT)
            assert r.status_code == 200
            assert hashlib.sha256(r.content).digest() == hashlib.sha256(payload(n, n)).digest(), n
        body = payload(99, 2 * MIB)
        r = s.post(url + "/echo", data=body, verify=ca, timeout=IO_TIMEOUT)
        assert r.json() == {"length": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    after = stats(port, ca)
    assert after["tls_modules"] == [impl_module], after
    # one keep-alive connection for the five requests, one for the stats call;
    # "requests" counts the first stats call and the five
    assert after["wrapped"] - before["wrapped"] == 2, (before, after)
    assert after["requests"] - before["requests"] == 6, (before, after)
    return after


def check_urllib3(port: int, ca: str, other_ca: str) -> None:
    import urllib3
    with urllib3.PoolManager(ca_certs=ca, cert_reqs="CERT_REQUIRED") as pm:
        for _ in range(3):
            r = pm.request("GET", base_url(port) + "/", timeout=IO_TIMEOUT, retries=False)
            assert r.status == 200 and r.data == b"hello from tlsfast https"
        r = pm.request("GET", base_url(port) + "/big?65537", timeout=IO_TIMEOUT, retries=False)
        assert r.data == payload(65537, 65537)
    # and verification really happens: an unrelated CA is rejected
    with urllib3.PoolManager(ca_certs=other_ca, cert_reqs="CERT_REQUIRED") as pm:
        with pytest.raises(urllib3.exceptions.SSLError):
            pm.request("GET", base_url(port) + "/", timeout=IO_TIMEOUT, retries=False)


def check_curl(port: int, ca: str, tmp_path) -> None:
    curl = shutil.which("curl")
    assert curl, "curl is not installed (.ci/run installs it)"
    out_small = tmp_path / "small"
    out_big = tmp_path / "big"
    upload = tmp_path / "upload"
    body = payload(7, 500_000)
    upload.write_bytes(body)
    host = f"localhost:{port}"
    cmd = [curl, "-sS", "--fail", "--max-time", "20", "--cacert", ca,
           "--resolve", f"{host}:127.0.0.1",
           f"https://{host}/", "-o", str(out_small),
           f"https://{host}/big?1048577", "-o", str(out_big)]
    proc = subprocess.run(cmd, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr.decode()
    assert out_small.read_bytes() == b"hello from tlsfast https"
    assert out_big.read_bytes() == payload(1048577, 1048577)
    proc = subprocess.run([curl, "-sS", "--fail", "--max-time", "20", "--cacert", ca,
                           "--resolve", f"{host}:127.0.0.1", "--data-binary", f"@{upload}",
                           f"https://{host}/echo"],
                          capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr.decode()
    assert json.loads(proc.stdout) == {"length": len(body),
                                       "sha256": hashlib.sha256(body).hexdigest()}


def _client_hello() -> bytes:
    """The first flight of a real TLS client (a ClientHello)."""
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def _tls_client(port: int, ca: str) -> ssl.SSLSocket:
    ctx = ssl.create_default_context(cafile=ca)
    raw = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def _fresh_request_ok(port: int, ca: str) -> None:
    import requests
    r = requests.get(base_url(port) + "/big?4097", verify=ca, timeout=IO_TIMEOUT)
    assert r.status_code == 200 and r.content == payload(4097, 4097)


def check_vanishing_clients(port: int, ca: str) -> dict:
    """Clients that vanish mid-handshake, stall, or vanish mid-body / mid-
    response do not wedge the server: a fresh client is answered after
    each (and while a stalled one is still connected)."""
    hello = _client_hello()
    done = []
    # 1. half a ClientHello, then FIN; then half a ClientHello, then RST
    for reset in (False, True):
        s = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        s.sendall(hello[: len(hello) // 2])
        if reset:
            set_linger_reset(s)
        s.close()
        _fresh_request_ok(port, ca)
        done.append(f"mid-handshake {'rst' if reset else 'fin'}")
    # 2. cleartext HTTP on the TLS port
    s = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    s.settimeout(5)
    try:
        s.recv(100)
    except OSError:
        pass
    s.close()
    _fresh_request_ok(port, ca)
    done.append("cleartext")
    # 3. stalled clients: connected, silent; served around them
    stalled = [socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
               for _ in range(3)]
    stalled[1].sendall(hello[:10])
    try:
        _fresh_request_ok(port, ca)
        done.append("while stalled")
    finally:
        for s in stalled:
            s.close()
    # 4. mid-body: 1 MB announced, 10 kB sent, then RST
    s = _tls_client(port, ca)
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000\r\n\r\n")
    s.sendall(b"x" * 10_000)
    set_linger_reset(s)
    s.close()
    _fresh_request_ok(port, ca)
    done.append("mid-body")
    # 5. mid-response: a 5 MB response, 1 kB read, then RST
    s = _tls_client(port, ca)
    s.sendall(b"GET /big?5000000 HTTP/1.1\r\nHost: localhost\r\n\r\n")
    head = recv_until(s, b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:100]
    set_linger_reset(s)
    s.close()
    _fresh_request_ok(port, ca)
    done.append("mid-response")
    # 6. a burst of clients resetting before the server even wraps them
    #    (eventlet.wsgi stops its accept loop when accept() raises
    #    ECONNRESET / ENOTCONN, as eventlet.green.ssl's accept does here)
    for _ in range(30):
        s = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        s.sendall(b"\x16\x03\x01\x00\x05hello")
        set_linger_reset(s)
        s.close()
    time.sleep(0.2)
    _fresh_request_ok(port, ca)
    done.append("reset burst")
    # 7. a burst of abandoned handshakes, then normal service
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        s.sendall(hello)
        s.close()
    t0 = time.monotonic()
    _fresh_request_ok(port, ca)
    done.append("burst")
    return {"done": done, "last_request_seconds": time.monotonic() - t0}


# --------------------------------------------------------------------------
# imports
# --------------------------------------------------------------------------

def run_python(code: str, impl_name: Optional[str] = None) -> subprocess.CompletedProcess:
    env = env_for(impl_name or "python")
    if impl_name is None:
        env.pop("TLSFAST_IMPL", None)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          timeout=60, stdin=subprocess.DEVNULL, text=True)


def check_import_without_library(lib: str) -> None:
    """``import tlsfast.<lib>`` with ``lib`` unavailable: an ImportError naming
    the extra to install."""
    code = (f"import sys; sys.modules[{lib!r}] = None\n"
            "try:\n"
            f"    import tlsfast.{lib}\n"
            "except ImportError as exc:\n"
            "    print('IMPORTERROR', exc.name, exc)\n"
            "else:\n"
            "    print('IMPORTED')\n")
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"IMPORTERROR {lib} "), proc.stdout
    assert f"pip install tlsfast[{lib}]" in proc.stdout, proc.stdout


def check_tlsfast_does_not_import(lib: str) -> None:
    code = ("import sys, tlsfast, tlsfast._tls_py\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('gevent', 'eventlet', 'greenlet')))\n")
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", proc.stdout
    proc = run_python(f"import sys, tlsfast.{lib}; print({lib!r} in sys.modules)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "True"


# --------------------------------------------------------------------------
# monkey-patched programs with plain tlsfast contexts (tests/green/patched.py)
# --------------------------------------------------------------------------

PATCHED = os.path.join(HERE, "green", "patched.py")
SLOW_DELAY = 0.4   # seconds the slow server waits before answering


class SlowHTTPSServer:
    """An HTTPS server of the stdlib's (``http.server`` in threads of this
    process, so nothing it does depends on a green hub) answering every GET
    ``b"slow ok"`` after ``delay`` seconds."""

    def __init__(self, certs, delay: float = SLOW_DELAY):
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                time.sleep(delay)
                body = b"slow ok"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(certs.server.chain, certs.server.key)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        # handshakes in the handler threads, not in the accept loop
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True,
                                            do_handshake_on_connect=False)
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(IO_TIMEOUT)


def run_patched(mode: str, lib: str, impl_name: str, order: str, *args) -> dict:
    """``patched.py MODE LIB ORDER ARGS...`` with ``TLSFAST_IMPL=impl_name``:
    its JSON record's data (failing the test with its traceback)."""
    cmd = [sys.executable, PATCHED, mode, lib, order, *map(str, args)]
    proc = subprocess.run(cmd, env=env_for(impl_name), capture_output=True,
                          timeout=SUITE_TIMEOUT, stdin=subprocess.DEVNULL)
    lines = [ln for ln in proc.stdout.decode("utf-8", "replace").splitlines()
             if ln.startswith("{")]
    assert lines, (f"{mode} program printed nothing (exit {proc.returncode}):\n"
                   + proc.stderr.decode("utf-8", "replace")[-3000:])
    rec = json.loads(lines[-1])
    assert rec["ok"], rec["error"]
    return rec["data"]


# --------------------------------------------------------------------------
# gunicorn with the ssl_context server hook (tests/green/gunicorn_conf.py)
# --------------------------------------------------------------------------

def _gunicorn_has_option(flag: str) -> bool:
    from gunicorn.config import KNOWN_SETTINGS
    return any(flag in (setting.cli or ()) for setting in KNOWN_SETTINGS)


class Gunicorn:
    """A real gunicorn (one ``worker`` process) on 127.0.0.1, serving
    tests/green/gunicorn_app.py over TLS from the ``ssl_context`` hook:
    ``context`` "tlsfast" (TLSFAST_IMPL=``impl_name``) or "stdlib"
    (gunicorn's default context, the reference); ``alpn`` a protocol list."""

    def __init__(self, worker: str, impl_name: str, certs, *, context: str = "tlsfast",
                 alpn: Optional[list] = None):
        env = env_for(impl_name)
        env["GREEN_TEST_CONTEXT"] = context
        if alpn:
            env["GREEN_TEST_ALPN"] = ",".join(alpn)
        args = [sys.executable, "-m", "gunicorn",
                "-c", os.path.join(HERE, "green", "gunicorn_conf.py"),
                "--chdir", os.path.join(HERE, "green"),
                "-k", worker, "-w", "1", "-b", "127.0.0.1:0", "--graceful-timeout", "1",
                "--certfile", certs.server.chain, "--keyfile", certs.server.key]
        if _gunicorn_has_option("--no-control-socket"):   # (a per-user socket file)
            args.append("--no-control-socket")
        self.proc = Process(args + ["gunicorn_app:app"], env=env, stdin=subprocess.DEVNULL)
        try:
            m = self.proc.wait_for_line(r"Listening at: https://127\.0\.0\.1:(\d+)",
                                        timeout=STARTUP_TIMEOUT)
            self.port = int(m.group(1))
            self.proc.wait_for_line(r"Booting worker", timeout=STARTUP_TIMEOUT)
        except BaseException:
            self.close()
            raise

    def close(self):
        if self.proc.proc.poll() is None:
            self.proc.proc.terminate()      # the master stops its worker
            try:
                self.proc.proc.wait(IO_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _still_open(sock: socket.socket) -> bool:
    """The peer has neither closed nor reset ``sock`` (and sent nothing)."""
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def check_serves_around_stalled_clients(port: int, ca: str, clients: int = 10) -> dict:
    """While three clients stall (one connected and silent, one halfway
    through its ClientHello, one past the handshake with half a request),
    ``clients`` concurrent fresh clients are all answered; returns each
    answer body and the slowest request's seconds."""
    import concurrent.futures

    import requests

    hello = _client_hello()
    stalled = []
    try:
        stalled.append(socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT))
        half = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        stalled.append(half)
        half.sendall(hello[: len(hello) // 2])
        stalled.append(_tls_client(port, ca))
        stalled[-1].sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
        time.sleep(0.2)   # the server now holds all three

        def fetch(_):
            t0 = time.monotonic()
            r = requests.get(base_url(port) + "/", verify=ca, timeout=IO_TIMEOUT)
            return r.status_code, r.text, time.monotonic() - t0

        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(fetch, range(clients)))
        still_open = [_still_open(s) for s in stalled[:2]]
    finally:
        for s in stalled:
            s.close()
    return {"statuses": sorted({r[0] for r in results}), "bodies": sorted({r[1] for r in results}),
            "slowest": max(r[2] for r in results), "stalled_open": still_open}


def curl_http_version(port: int, ca: str) -> dict:
    """One GET with curl offering ALPN h2 and http/1.1: its exit status,
    the HTTP version it spoke and the body."""
    curl = shutil.which("curl")
    assert curl, "curl is not installed (.ci/run installs it)"
    host = f"localhost:{port}"
    proc = subprocess.run([curl, "-sS", "--http2", "--max-time", "10", "--cacert", ca,
                           "--resolve", f"{host}:127.0.0.1", "-w", "\n%{http_version}",
                           f"https://{host}/"],
                          capture_output=True, timeout=30, stdin=subprocess.DEVNULL, text=True)
    body, _, version = proc.stdout.rpartition("\n")
    return {"rc": proc.returncode, "http_version": version, "body": body,
            "stderr": proc.stderr.strip()}
