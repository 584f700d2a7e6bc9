"""Monkey-patched programs using PLAIN tlsfast contexts, run in a subprocess
by tests/test_green.py: the library patches first (``gevent.monkey.patch_all()``
/ ``eventlet.monkey_patch()``), with tlsfast imported before it (ORDER
``before``) or after it (``after``); TLSFAST_IMPL picks the implementation.

    python patched.py ticker LIB ORDER CA PORT
        fetch https://localhost:PORT/ (a server that answers after a delay)
        with http.client through the stdlib's ssl (the reference),
        tlsfast.create_default_context() and tlsfast.SSLContext(...), while
        a ticker greenlet counts TICK-second sleeps; one JSON record.
    python patched.py wsgi LIB ORDER CA CHAIN KEY
        serve HTTPS with LIB's WSGI server (gevent.pywsgi.WSGIServer with
        ssl_context=<plain tlsfast context>; eventlet.wsgi.server on a
        listening socket wrapped by a plain tlsfast context), fetched by
        requests (on the library's green ssl) from 20 greenlets in this
        process; one JSON record.

Every record is {"ok", "data", "error"}.  Everything is bounded: the whole
program by the library's Timeout, every socket by a timeout.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
import warnings

warnings.simplefilter("ignore")  # eventlet's deprecation banner, gevent's late-ssl note

PROGRAM_TIMEOUT = 40.0
TICK = 0.02


def patch(lib: str, order: str):
    """Patch as a real program does, tlsfast imported before or after; return
    the library module."""
    if order == "before":
        import tlsfast  # noqa: F401
    if lib == "gevent":
        from gevent import monkey
        monkey.patch_all()
        import gevent as green
    else:
        import eventlet as green
        green.monkey_patch()
    import tlsfast  # noqa: F401,F811
    return green


def run_ticker(green, ca: str, port: int) -> dict:
    import http.client
    import ssl

    import tlsfast

    ticks = [0]

    def ticker():
        for _ in range(100_000):
            green.sleep(TICK)
            ticks[0] += 1

    def fetch(ctx) -> dict:
        ticks[0] = 0
        t = green.spawn(ticker)
        t0 = time.monotonic()
        conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
        try:
            conn.request("GET", "/")
            sock_class = type(conn.sock).__module__ + "." + type(conn.sock).__name__
            body = conn.getresponse().read().decode()
        finally:
            conn.close()
        elapsed = time.monotonic() - t0
        t.kill()
        return {"ticks": ticks[0], "elapsed": elapsed, "body": body, "socket": sock_class}

    plain = tlsfast.SSLContext(tlsfast.PROTOCOL_TLS_CLIENT)
    plain.load_verify_locations(ca)
    return {
        "impl": tlsfast.__impl__,
        "tick": TICK,
        "stdlib": fetch(ssl.create_default_context(cafile=ca)),
        "create_default_context": fetch(tlsfast.create_default_context(cafile=ca)),
        "SSLContext": fetch(plain),
    }


def run_wsgi(lib: str, green, ca: str, chain: str, key: str) -> dict:
    import hashlib
    import ssl

    import requests

    import tlsfast

    wrapped = []

    def app(environ, start_response):
        n = int(environ.get("QUERY_STRING") or 10)
        body = hashlib.sha256(str(n).encode()).hexdigest().encode() * (n // 64 + 1)
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(len(body)))])
        return [body]

    ctx = tlsfast.create_default_context(tlsfast.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(chain, key)
    if lib == "gevent":
        from gevent.pywsgi import WSGIServer

        class Counting:
            """ssl_context= that records what the plain context hands out."""

            def wrap_socket(self, sock, **kwargs):
                tls = ctx.wrap_socket(sock, **kwargs)
                wrapped.append(type(tls).__module__ + "." + type(tls).__name__)
                return tls

        server = WSGIServer(("127.0.0.1", 0), app, ssl_context=Counting(), log=None)
        server.start()
        port = server.address[1]
        stop = server.stop
    else:
        import eventlet.wsgi
        listener = ctx.wrap_socket(green.listen(("127.0.0.1", 0)), server_side=True)
        wrapped.append(type(listener).__module__ + "." + type(listener).__name__)
        port = listener.getsockname()[1]
        thread = green.spawn(eventlet.wsgi.server, listener, app, log_output=False)
        stop = thread.kill

    def fetch(i):
        with requests.Session() as s:
            ok = []
            for n in (10, 70_000, 10):
                r = s.get(f"https://localhost:{port}/?{n}", verify=ca, timeout=20)
                want = hashlib.sha256(str(n).encode()).hexdigest().encode() * (n // 64 + 1)
                ok.append(r.status_code == 200 and r.content == want)
            return all(ok)

    t0 = time.monotonic()
    threads = [green.spawn(fetch, i) for i in range(20)]
    results = [t.get() if lib == "gevent" else t.wait() for t in threads]
    data = {"impl": tlsfast.__impl__, "ok_clients": sum(results),
            "seconds": time.monotonic() - t0, "server_sockets": sorted(set(wrapped)),
            "ssl_context_class": ssl.SSLContext.__module__ + "." + ssl.SSLContext.__name__}
    stop()
    return data


def main(argv: list[str]) -> int:
    mode, lib, order, *args = argv
    record = {"ok": False, "data": None, "error": None}
    try:
        green = patch(lib, order)
        with green.Timeout(PROGRAM_TIMEOUT, AssertionError(f"{mode}: over {PROGRAM_TIMEOUT}s")):
            if mode == "ticker":
                ca, port = args
                record["data"] = run_ticker(green, ca, int(port))
            elif mode == "wsgi":
                record["data"] = run_wsgi(lib, green, *args)
            else:
                raise SystemExit(f"unknown mode {mode!r}")
        record["ok"] = True
    except BaseException:  # noqa: BLE001 - reported to the test
        record["error"] = traceback.format_exc()
    print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
