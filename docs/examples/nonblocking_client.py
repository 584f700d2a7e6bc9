"""A non-blocking TLS client on the fast path (docs/nonblocking.rst).

Non-blocking ``connect``, handshake, request and response, and a clean TLS
shutdown, all driven by one ``selectors`` wait per ``WANT_*`` code, with a
deadline.  Run as a script it talks to the threaded echo server of
``threaded_server.py`` (same directory) on a free loopback port and exits.
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import tempfile
import threading
import time

import tlsfast
from threaded_server import TLSEchoServer, make_certs


# [start client]
class Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def wait(self, sel: selectors.BaseSelector, sock: socket.socket, events: int) -> None:
        """Wait until ``sock`` is ready for ``events`` or raise TimeoutError."""
        sel.modify(sock, events)
        remaining = self.end - time.monotonic()
        if remaining <= 0 or not sel.select(remaining):
            raise TimeoutError("the exchange took too long")


def exchange(host: str, port: int, context: tlsfast.SSLContext, message: bytes,
             timeout: float = 10.0) -> bytes:
    """Connect, handshake, send ``message``, read as many bytes back."""
    deadline = Deadline(timeout)
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setblocking(False)
    err = raw.connect_ex((host, port))
    if err not in (0, errno.EINPROGRESS):
        raise OSError(err, os.strerror(err))
    with selectors.DefaultSelector() as sel:
        sel.register(raw, selectors.EVENT_WRITE)
        deadline.wait(sel, raw, selectors.EVENT_WRITE)        # TCP connected
        err = raw.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, os.strerror(err))
        sel.unregister(raw)
        # do_handshake_on_connect=False: a non-blocking socket cannot
        # handshake inside wrap_socket; the loop below does it.
        tls = context.wrap_socket(raw, server_hostname=host, do_handshake_on_connect=False)
        sel.register(tls, selectors.EVENT_READ)
        with tls:
            while tls.try_do_handshake() < 0:
                deadline.wait(sel, tls, tls.wanted_events)
            print("handshake done:", tls.version(), tls.cipher())

            view = memoryview(message)
            while view:
                n = tls.try_send(view)        # bytes taken, or WANT_READ / WANT_WRITE
                if n < 0:
                    deadline.wait(sel, tls, tls.wanted_events)
                    continue
                view = view[n:]

            reply = bytearray(len(message))
            got = 0
            while got < len(reply):
                n = tls.try_recv_into(memoryview(reply)[got:])
                if n < 0:
                    deadline.wait(sel, tls, tls.wanted_events)
                elif n == 0:
                    raise ConnectionError("the server closed the connection early")
                else:
                    got += n

            while tls.try_unwrap() < 0:        # send close_notify, wait for theirs
                deadline.wait(sel, tls, tls.wanted_events)
    return bytes(reply)
# [end client]


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        cafile, certfile = make_certs(d)
        with TLSEchoServer(("127.0.0.1", 0), certfile) as server:
            threading.Thread(target=server.serve_forever, daemon=True).start()
            context = tlsfast.create_default_context(cafile=cafile)
            message = os.urandom(300_000)
            reply = exchange("127.0.0.1", server.server_address[1], context, message)
            server.shutdown()
    assert reply == message
    print(f"{len(reply)} bytes echoed over a non-blocking tlsfast ({tlsfast.__impl__}) client")


if __name__ == "__main__":
    main()
