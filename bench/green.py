#!/usr/bin/env python3
"""HTTPS requests per second of gevent's and eventlet's WSGI servers, with
TLS through tlsfast's green modules vs the libraries' own SSL.

    python bench/green.py [--quick] [--client py|wrk] [--impls c,python] [--plain]
                          [--reps N] [--seconds S] [--connections K] [--json FILE]

Servers (each its own process, all started once and kept running), each
kind with TLS through tlsfast (``tlsfast-c``) and through the library's own
SSL (``gevent.ssl`` / ``green.ssl``):

* ``pywsgi``   gevent.pywsgi.WSGIServer(ssl_context=tlsfast.gevent.SSLContext
               | gevent.ssl.SSLContext)
* ``evwsgi``   eventlet.wsgi.server(<tlsfast.eventlet.SSLContext
               | eventlet.green.ssl.SSLContext>.wrap_socket(listener))
* ``pywsgi-sendmsg``  the same, with ``handler_class=tlsfast.gevent.WSGIHandler``
               on the tlsfast (and plain) servers: headers and body in one
               ``sendmsg``, one TLS record; the native server keeps pywsgi's
               handler (gevent.ssl sockets refuse ``sendmsg``), so its
               tlsfast / native ratio beside ``pywsgi``'s shows the gain
* ``gstream``  gevent.server.StreamServer(ssl_context=...) running a
               20-line keep-alive HTTP responder (no WSGI: shows the TLS
               layer's share without a framework's per-request Python)
* ``evraw``    the same responder in an eventlet accept loop

(``--impls c,python`` adds the pure-Python tlsfast as ``tlsfast-python``.)
``--plain`` adds, per kind, the same server serving plain HTTP over TCP
(``plain-tcp``: no TLS at all, the client talks plain TCP too): what a TLS
layer costing nothing would give, so plain / native is the upper bound of
tlsfast / native for that kind -- the room the framework leaves a TLS layer.
(Approximately: plain goes through the library's plain socket methods,
e.g. gevent's ``sendall`` with a ``getsockopt(SO_SNDBUF)`` per call, which
a TLS socket's own methods may skip.)
Same 13-byte response body, same certificate (trustme), TLS 1.3 with
X25519 on every server, TCP_NODELAY on every server socket (pywsgi sends
headers and body in two writes), no monkey-patching.

Load comes from another process: ``--client py`` (default) is a threaded
stdlib-``ssl`` client with K persistent connections (keep-alive) or a new
connection and full handshake per request (``Connection: close``);
``--client wrk`` runs ``wrk`` instead (``apt-get install wrk``; the script
stops with a message if it is missing -- it installs nothing).  Where the
OS allows, the server is pinned to CPU 0 and the client to CPU 1.

Each repetition measures, per (mode, server kind), the native and the
tlsfast servers back to back in ABBA order (native, tlsfast, tlsfast,
native; each half of ``--seconds``), so a load change on a shared machine
hits both alike (with ``--plain``: native, tlsfast, plain, plain, tlsfast,
native); the (mode, kind) groups rotate between repetitions.  The
report gives per configuration the median requests/s and the median server
CPU time per request (the server's time on CPU over the run, from
/proc/PID/task/*/schedstat, divided by the requests served) over the repetitions, and per kind and
mode the median of the within-repetition ratios tlsfast / native.  With
``--plain`` a second table puts next to each tlsfast / native ratio the
bound plain / native (median of the within-repetition ratios) and the TLS
layer's own server CPU per request, native - plain and tlsfast - plain
(medians of the within-repetition differences).  The CPU ratio is the
steadier figure on a busy machine; requests/s also depends on the client
and on whatever else runs.

Everything is bounded: servers get a backstop lifetime, every client run a
duration and a subprocess timeout, every socket a timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BODY = b"hello, world\n"
SERVER_BACKSTOP = 3600.0
GROUP = "X25519"

# --------------------------------------------------------------------------
# servers (run as: green.py --_serve LIB TLS IMPL CERTDIR)
# --------------------------------------------------------------------------


def _app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(BODY)))])
    return [BODY]


def _tls13(ctx):
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_ecdh_curve(GROUP)
    return ctx


RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
            + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)

#: server kinds: (green library, what serves)
KINDS = {
    "pywsgi": ("gevent", "gevent.pywsgi.WSGIServer"),
    "pywsgi-sendmsg": ("gevent", "gevent.pywsgi.WSGIServer, tlsfast.gevent.WSGIHandler on "
                                 "tlsfast's and plain sockets (headers + body in one sendmsg)"),
    "evwsgi": ("eventlet", "eventlet.wsgi.server"),
    "gstream": ("gevent", "gevent.server.StreamServer + a 20-line HTTP responder"),
    "evraw": ("eventlet", "eventlet accept loop + the same HTTP responder"),
}


def _responder(sock):
    """The minimal keep-alive HTTP/1.1 responder of the gstream / evraw
    servers: one fixed response per request head, one sendall each."""
    buf = bytearray(65536)
    pending = b""
    try:
        while True:
            n = sock.recv_into(buf)
            if not n:
                return
            pending += buf[:n]
            while True:
                end = pending.find(b"\r\n\r\n")
                if end < 0:
                    break
                head, pending = pending[:end], pending[end + 4:]
                sock.sendall(RESPONSE)
                if b"onnection: close" in head:
                    return
    except OSError:
        pass
    finally:
        sock.close()


def serve(kind: str, tls: str, impl: str, certdir: str) -> None:
    chain, key = os.path.join(certdir, "server.pem"), os.path.join(certdir, "server.key")
    lib = KINDS[kind][0]
    if lib == "gevent":
        import gevent
        import gevent.server
        import gevent.socket
        from gevent.pywsgi import WSGIServer
        if tls == "plain":
            ctx = None
        elif tls == "tlsfast":
            import tlsfast.gevent as tg
            ctx = tg.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        else:
            import gevent.ssl
            ctx = gevent.ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if ctx is not None:
            ctx.load_cert_chain(chain, key)
            _tls13(ctx)
        listener = gevent.socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # pywsgi writes the headers and the body with two sendall() calls:
        # without TCP_NODELAY (inherited by accepted sockets on Linux) the
        # body waits for the client's delayed ACK (~40 ms) with either TLS
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1024)
        tls_args = {} if ctx is None else {"ssl_context": ctx}
        if kind == "pywsgi-sendmsg" and tls != "native":
            # gevent.ssl's sockets refuse sendmsg: native keeps the stock handler
            import tlsfast.gevent as tg
            tls_args["handler_class"] = tg.WSGIHandler
        if kind.startswith("pywsgi"):
            server = WSGIServer(listener, _app, log=None, **tls_args)
        else:
            server = gevent.server.StreamServer(
                listener, lambda sock, addr: _responder(sock), **tls_args)
        server.start()
        print(f"PORT {listener.getsockname()[1]}", flush=True)
        gevent.sleep(SERVER_BACKSTOP)
    else:
        import warnings
        warnings.simplefilter("ignore")
        import eventlet
        import eventlet.wsgi
        listener = eventlet.listen(("127.0.0.1", 0), backlog=1024)
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls == "plain":
            sock = listener
        else:
            if tls == "tlsfast":
                import tlsfast.eventlet as te
                ctx = te.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            else:
                from eventlet.green import ssl as gssl
                ctx = gssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(chain, key)
            _tls13(ctx)
            sock = ctx.wrap_socket(listener, server_side=True)
        print(f"PORT {sock.getsockname()[1]}", flush=True)
        with eventlet.Timeout(SERVER_BACKSTOP, False):
            if kind == "evwsgi":
                eventlet.wsgi.server(sock, _app, log_output=False, max_size=4096)
            else:
                pool = eventlet.GreenPool(4096)
                while True:
                    conn, _ = sock.accept()
                    pool.spawn_n(_responder, conn)


# --------------------------------------------------------------------------
# the Python load generator
# (run as: green.py --_client MODE TRANSPORT PORT CA SECONDS K, TRANSPORT tls|plain)
# --------------------------------------------------------------------------

def _read_response(sock, buf: bytearray) -> bytearray:
    """Read one response (headers + Content-Length body); returns leftovers."""
    for _ in range(1000):
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            break
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("EOF before the response headers")
        buf += chunk
    else:
        raise ConnectionError("no response headers")
    head = bytes(buf[:end])
    m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
    if not head.startswith(b"HTTP/1.1 200") or not m:
        raise ConnectionError(f"bad response {head[:60]!r}")
    total = end + 4 + int(m.group(1))
    for _ in range(1000):
        if len(buf) >= total:
            break
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("EOF in the body")
        buf += chunk
    if buf[end + 4:total] != BODY:
        raise ConnectionError("wrong body")
    del buf[:total]
    return buf


def client(mode: str, transport: str, port: int, ca: str, seconds: float,
           conns: int) -> None:
    ctx = _tls13(ssl.create_default_context(cafile=ca)) if transport == "tls" else None
    keep = mode == "keepalive"
    request = (b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n" if keep else
               b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    counts = [0] * conns
    errors: list = []
    start = threading.Event()
    stop_at = [0.0]

    def connect():
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return raw if ctx is None else ctx.wrap_socket(raw, server_hostname="localhost")

    def worker(i):
        sock = connect() if keep else None
        buf = bytearray()
        start.wait(30)
        n = 0
        try:
            while time.monotonic() < stop_at[0]:
                if sock is None:
                    sock = connect()
                sock.sendall(request)
                buf = _read_response(sock, buf)
                n += 1
                if not keep:
                    sock.close()
                    sock = None
                    buf = bytearray()
        except Exception as exc:  # noqa: BLE001 - reported
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            counts[i] = n
            if sock is not None:
                sock.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(conns)]
    for t in threads:
        t.start()
    time.sleep(0.2)  # keep-alive connections are up
    cpu0 = time.process_time()
    t0 = time.monotonic()
    stop_at[0] = t0 + seconds
    start.set()
    for t in threads:
        t.join(seconds + 30)
    elapsed = time.monotonic() - t0
    print(json.dumps({"requests": sum(counts), "seconds": elapsed,
                      "client_cpu": time.process_time() - cpu0, "errors": errors[:3]}),
          flush=True)


# --------------------------------------------------------------------------
# the driver
# --------------------------------------------------------------------------

def _pin(pid: int, cpu: int) -> None:
    try:
        if len(os.sched_getaffinity(0)) > 1:
            os.sched_setaffinity(pid, {cpu})
    except (AttributeError, OSError):
        pass


def _cpu_seconds(pid: int) -> float:
    """CPU time of every thread of ``pid``: nanoseconds on CPU from
    /proc/PID/task/*/schedstat (precise), else clock ticks from /proc/PID/stat."""
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        return total / 1e9
    except (OSError, ValueError, IndexError):
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_certs(directory: str) -> str:
    import trustme
    ca = trustme.CA()
    ca.cert_pem.write_to_path(os.path.join(directory, "ca.pem"))
    leaf = ca.issue_cert("localhost", "127.0.0.1")
    leaf.cert_chain_pems[0].write_to_path(os.path.join(directory, "server.pem"))
    for blob in leaf.cert_chain_pems[1:]:
        blob.write_to_path(os.path.join(directory, "server.pem"), append=True)
    leaf.private_key_pem.write_to_path(os.path.join(directory, "server.key"))
    return os.path.join(directory, "ca.pem")


class Server:
    def __init__(self, kind: str, tls: str, impl: str, certdir: str):
        self.kind, self.tls, self.impl = kind, tls, impl
        self.lib = KINDS[kind][0]
        self.name = f"{kind}/" + (
            f"tlsfast-{impl}" if tls == "tlsfast" else "plain-tcp" if tls == "plain" else
            ("gevent.ssl" if self.lib == "gevent" else "green.ssl"))
        self.transport = "plain" if tls == "plain" else "tls"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            filter(None, [ROOT, os.environ.get("PYTHONPATH")])), PYTHONUNBUFFERED="1")
        env["TLSFAST_IMPL"] = impl
        # the server's log goes to a file: a pipe nobody reads would fill up
        # (pywsgi logs every aborted connection) and freeze the server
        self.log_path = os.path.join(certdir, f"{kind}-{tls}-{impl}.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--_serve", kind, tls, impl, certdir],
            stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL, env=env)
        line = self._readline(30.0)
        if not line.startswith("PORT "):
            self.close()
            raise RuntimeError(f"{self.name} did not start: {line!r} {self.log_tail()}")
        self.port = int(line.split()[1])
        _pin(self.proc.pid, 0)

    def _readline(self, timeout: float) -> str:
        out: list = []
        t = threading.Thread(target=lambda: out.append(self.proc.stdout.readline()), daemon=True)
        t.start()
        t.join(timeout)
        return out[0].decode().strip() if out else ""

    def cpu(self) -> float:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited ({self.proc.returncode}): {self.log_tail()}")
        return _cpu_seconds(self.proc.pid)

    def log_tail(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-2000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def close(self):
        self._log.close()
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass


def run_py_client(mode: str, transport: str, port: int, ca: str, seconds: float,
                  conns: int) -> dict:
    proc = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--_client", mode, transport, str(port),
         ca, str(seconds), str(conns)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    _pin(proc.pid, 1)
    try:
        out, err = proc.communicate(timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise RuntimeError("client timed out")
    lines = [ln for ln in out.decode().splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"client failed ({proc.returncode}): {err.decode()[-1500:]}")
    return json.loads(lines[-1])


def run_wrk(mode: str, transport: str, port: int, ca: str, seconds: float,
            conns: int) -> dict:
    wrk = shutil.which("wrk")
    headers = [] if mode == "keepalive" else ["-H", "Connection: close"]
    cmd = ["taskset", "-c", "1"] if shutil.which("taskset") else []
    cmd += [wrk, "-t1", f"-c{conns}", f"-d{max(1, int(round(seconds)))}s", "--latency",
            *headers, f"{'http' if transport == 'plain' else 'https'}://127.0.0.1:{port}/"]
    proc = subprocess.run(cmd, capture_output=True, timeout=seconds + 60,
                          stdin=subprocess.DEVNULL)
    text = proc.stdout.decode()
    m = re.search(r"(\d+) requests in ([\d.]+)(m?s)", text)
    if proc.returncode != 0 or not m:
        raise RuntimeError(f"wrk failed: {text[-800:]} {proc.stderr.decode()[-800:]}")
    secs = float(m.group(2)) / (1000.0 if m.group(3) == "ms" else 1.0)
    errors = re.findall(r"(Socket errors:.*|Non-2xx.*)", text)
    return {"requests": int(m.group(1)), "seconds": secs, "client_cpu": None, "errors": errors}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2 repetitions of 1 s")
    ap.add_argument("--client", choices=("py", "wrk"), default="py")
    ap.add_argument("--impls", default="c", help="tlsfast implementations: c,python")
    ap.add_argument("--plain", action="store_true",
                    help="also serve each kind over plain TCP (no TLS): the bound row, "
                         "plain / native = what a TLS layer costing nothing would reach")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--modes", default="keepalive,close")
    ap.add_argument("--servers", default="pywsgi,evwsgi,gstream,evraw",
                    help="server kinds: " + ", ".join(f"{k} ({v[1]})" for k, v in KINDS.items()))
    ap.add_argument("--json", help="write every measurement here")
    args = ap.parse_args(argv)
    if args.quick:
        args.reps, args.seconds = 2, 1.0
    if args.client == "wrk" and not shutil.which("wrk"):
        print("bench/green.py: --client wrk needs the 'wrk' program, which is not "
              "installed (e.g. apt-get install wrk); nothing was installed. "
              "Use --client py (the default) instead.", file=sys.stderr)
        return 2
    import importlib.util
    for mod in ("gevent", "eventlet", "trustme"):
        if importlib.util.find_spec(mod) is None:
            print(f"bench/green.py needs {mod!r}: pip install tlsfast[gevent,eventlet] trustme",
                  file=sys.stderr)
            return 2
    impls = [i for i in args.impls.split(",") if i]
    kinds = [k for k in args.servers.split(",") if k]
    for k in kinds:
        if k not in KINDS:
            ap.error(f"unknown server kind {k!r}")
    modes = [m for m in args.modes.split(",") if m]
    run_client = run_py_client if args.client == "py" else run_wrk

    with tempfile.TemporaryDirectory(prefix="tlsfast-green-bench-") as certdir:
        ca = make_certs(certdir)
        servers = []
        try:
            for kind in kinds:
                servers.append(Server(kind, "native", impls[0], certdir))
                for impl in impls:
                    servers.append(Server(kind, "tlsfast", impl, certdir))
                if args.plain:
                    servers.append(Server(kind, "plain", impls[0], certdir))
            results = []
            groups = [(mode, kind) for mode in modes for kind in kinds]
            print(f"# {len(groups) * (1 + len(impls) + args.plain)} configurations x {args.reps} "
                  f"repetitions x {args.seconds:g} s (two halves, ABBA order), "
                  f"client={args.client}, {args.connections} connections", flush=True)
            by_kind = {k: [s for s in servers if s.kind == k] for k in kinds}
            for rep in range(args.reps):
                k = rep % len(groups)
                for mode, kind in groups[k:] + groups[:k]:
                    # native, tlsfast..., [plain, plain,] tlsfast... reversed, native: each
                    # configuration measured twice, symmetric in time, so a
                    # load change on the shared machine hits all alike
                    group = by_kind[kind]
                    order = group + group[::-1]
                    totals = {srv.name: [0, 0.0, 0.0, []] for srv in group}
                    for srv in order:
                        run_client(mode, srv.transport, srv.port, ca, 0.3,
                                   min(4, args.connections))  # warm-up
                        cpu0 = srv.cpu()
                        r = run_client(mode, srv.transport, srv.port, ca, args.seconds / 2,
                                       args.connections)
                        t = totals[srv.name]
                        t[0] += r["requests"]
                        t[1] += r["seconds"]
                        t[2] += srv.cpu() - cpu0
                        t[3] += r["errors"]
                    for srv in group:
                        n, secs, cpu, errors = totals[srv.name]
                        rps = n / secs if secs > 0 else 0.0
                        rec = {"rep": rep, "mode": mode, "server": srv.name, "kind": srv.kind,
                               "tls": srv.tls, "impl": srv.impl, "rps": rps, "requests": n,
                               "server_cpu_us_per_req": 1e6 * cpu / max(1, n),
                               "errors": errors[:4]}
                        results.append(rec)
                        if not n:
                            print(f"rep {rep} {mode} {srv.name}: NO REQUESTS {errors[:2]}",
                                  flush=True)
                        print(f"rep {rep} {mode:9s} {srv.name:22s} {rps:9.0f} req/s  "
                              f"server {rec['server_cpu_us_per_req']:6.0f} us/req", flush=True)
        finally:
            for s in servers:
                s.close()

    report(results, kinds, modes, impls)
    if args.plain:
        report_bound(results, kinds, modes, impls)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=1)
    return 0


def report(results, kinds, modes, impls) -> None:
    print("\n## medians over repetitions")
    print(f"{'mode':10s} {'server':22s} {'req/s':>9s} {'server us/req':>14s}")
    names = []
    for r in results:
        if r["server"] not in names:
            names.append(r["server"])
    for mode in modes:
        for name in names:
            rs = [r for r in results if r["mode"] == mode and r["server"] == name]
            if rs:
                print(f"{mode:10s} {name:22s} {statistics.median(r['rps'] for r in rs):9.0f} "
                      f"{statistics.median(r['server_cpu_us_per_req'] for r in rs):14.0f}")
    print("\n## tlsfast / native, median of within-repetition ratios")
    print(f"{'mode':10s} {'server':10s} {'impl':7s} {'req/s ratio':>12s} {'CPU/req ratio':>14s}")
    for mode in modes:
        for kind in kinds:
            for impl in impls:
                pairs = [(sel[("tlsfast", impl)], sel[("native", None)])
                         for sel in _by_rep(results, mode, kind, ("tlsfast", impl))]
                if pairs:
                    print(f"{mode:10s} {kind:10s} {impl:7s} {_med_rps(pairs):11.2f}x "
                          f"{_med_cpu(pairs):13.2f}x")
    print("(CPU/req ratio: native server CPU per request / tlsfast's; > 1 means tlsfast is cheaper)")
    if any(r["tls"] == "plain" for r in results):
        print("(plain-tcp rows: no TLS at all -- the bound, not a TLS layer)")


def _by_rep(results, mode, kind, other):
    """Per repetition (in order) of (mode, kind) where both the native server
    and ``other`` ((tls, impl or None)) have served requests: the records keyed
    by (tls, impl for tlsfast else None)."""
    out = []
    for rep in sorted({r["rep"] for r in results}):
        sel = {(r["tls"], r["impl"] if r["tls"] == "tlsfast" else None): r
               for r in results if r["rep"] == rep and r["mode"] == mode and r["kind"] == kind}
        if all(sel.get(key) and sel[key]["rps"] > 0 for key in (other, ("native", None))):
            out.append(sel)
    return out


def _med_rps(pairs) -> float:
    """Median over (x, native) record pairs of req/s x / native."""
    return statistics.median(x["rps"] / native["rps"] for x, native in pairs)


def _med_cpu(pairs) -> float:
    """Median over (x, native) record pairs of server CPU per request native / x."""
    return statistics.median(native["server_cpu_us_per_req"]
                             / max(1e-9, x["server_cpu_us_per_req"]) for x, native in pairs)


def report_bound(results, kinds, modes, impls) -> None:
    """tlsfast / native next to plain / native, the ratio a TLS layer costing
    nothing would reach, and the TLS layers' own server CPU per request
    (CPU per request minus plain TCP's), all medians of within-repetition figures."""
    print("\n## the bound: plain TCP / native (a zero-cost TLS layer) next to tlsfast / native")
    print(f"{'mode':10s} {'server':10s} {'impl':7s} {'req/s: tlsfast':>14s} {'plain':>6s} "
          f"{'CPU/req: tlsfast':>16s} {'plain':>6s} "
          f"{'TLS us/req: native':>18s} {'tlsfast':>8s}")
    for mode in modes:
        for kind in kinds:
            for impl in impls:
                sels = [sel for sel in _by_rep(results, mode, kind, ("tlsfast", impl))
                        if sel.get(("plain", None)) and sel[("plain", None)]["rps"] > 0]
                if not sels:
                    continue
                fast = [(sel[("tlsfast", impl)], sel[("native", None)]) for sel in sels]
                plain = [(sel[("plain", None)], sel[("native", None)]) for sel in sels]
                print(f"{mode:10s} {kind:10s} {impl:7s} {_med_rps(fast):13.2f}x "
                      f"{_med_rps(plain):5.2f}x {_med_cpu(fast):15.2f}x {_med_cpu(plain):5.2f}x "
                      f"{_med_tls_cost(sels, ('native', None)):18.1f} "
                      f"{_med_tls_cost(sels, ('tlsfast', impl)):8.1f}")
    print("(plain: the plain-TCP server vs native, which no TLS layer can beat (up to the "
          "plain socket methods' own overhead).  TLS us/req: server CPU per request minus "
          "plain TCP's, the TLS layer's own cost)")


def _med_tls_cost(sels, key) -> float:
    """Median over repetitions of server CPU per request of ``key`` minus plain TCP's."""
    return statistics.median(sel[key]["server_cpu_us_per_req"]
                             - sel[("plain", None)]["server_cpu_us_per_req"] for sel in sels)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--_serve":
        serve(*sys.argv[2:6])
    elif len(sys.argv) > 1 and sys.argv[1] == "--_client":
        client(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], float(sys.argv[6]),
               int(sys.argv[7]))
    else:
        sys.exit(main())
