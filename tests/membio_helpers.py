"""Memory-BIO plumbing for ``test_membio`` / ``test_beyond_stdlib``.

A ``BioPair`` is a client and a server ``SSLObject`` (of any context module:
an ``impl`` namespace or the stdlib ``ssl``), each over its own incoming /
outgoing ``MemoryBIO`` pair, all in one thread.  The test is the network: it
moves ciphertext with ``to_server()`` / ``to_client()`` (or byte by byte, or
truncated), so every interleaving is deterministic.  Every loop is bounded.
"""

from __future__ import annotations

import ssl
import sys
from typing import Iterator, Optional

#: which MemoryBIO class an implementation's SSLObject runs over
BIO_KINDS = ("tlsfast", "stdlib")

#: stdlib-style ``SSLWantReadError`` / fast-path ``WANT_READ`` -> None
WANT = None


def bio_class(mod, kind: str):
    """``mod.MemoryBIO`` for kind ``"tlsfast"``, the stdlib's ``ssl.MemoryBIO``
    for ``"stdlib"`` (and always for the stdlib module itself)."""
    assert kind in BIO_KINDS, kind
    if mod is ssl or kind == "stdlib":
        return ssl.MemoryBIO
    return mod.MemoryBIO


def has_fast_path(obj) -> bool:
    """True for tlsfast objects (``try_*`` methods), False for the stdlib's."""
    return hasattr(obj, "try_do_handshake")


def split_records(data: bytes) -> list[tuple[int, int]]:
    """(content type, payload length) of each TLS record in ``data``, which
    must hold whole records only."""
    out, i = [], 0
    for _ in range(len(data) // 5 + 1):
        if i >= len(data):
            return out
        assert len(data) - i >= 5, f"truncated record header at {i}"
        length = int.from_bytes(data[i + 3:i + 5], "big")
        assert len(data) - i - 5 >= length, f"truncated record at {i}"
        out.append((data[i], length))
        i += 5 + length
    raise AssertionError("unreachable")


def record_ends(data: bytes) -> set[int]:
    """Offsets just past the end of each record (``data[:k]`` whole records)."""
    ends, k = set(), 0
    for _, length in split_records(data):
        k += 5 + length
        ends.add(k)
    return ends


class End:
    """One side of a ``BioPair``: the SSLObject and its two BIOs."""

    def __init__(self, name: str, obj, incoming, outgoing):
        self.name, self.obj, self.incoming, self.outgoing = name, obj, incoming, outgoing
        self.handshake_done = False

    def __repr__(self):
        return f"<End {self.name} {type(self.obj).__module__}>"

    def step(self) -> bool:
        """One non-blocking handshake attempt (the fast path on tlsfast
        objects, which must agree with ``wanted_events``); True once done."""
        if self.handshake_done:
            return True
        if has_fast_path(self.obj):
            code = self.obj.try_do_handshake()
            assert code in (0, -1), f"{self.name}: try_do_handshake() -> {code!r}"
            if code == 0:
                assert self.obj.wanted_events == 0
                self.handshake_done = True
            else:
                assert self.obj.wanted_events == 1  # selectors.EVENT_READ
        else:
            try:
                self.obj.do_handshake()
                self.handshake_done = True
            except ssl.SSLWantReadError:
                pass
        return self.handshake_done

    def read_some(self, n: int = 1 << 16) -> Optional[bytes]:
        """One ``read(n)``: bytes (b'' at EOF), or WANT (None)."""
        try:
            return self.obj.read(n)
        except ssl.SSLWantReadError:
            return WANT

    def read_available(self, limit: int = 1 << 24) -> bytes:
        """Everything decryptable from what ``incoming`` holds now."""
        out = bytearray()
        for _ in range(limit // 1024 + 16):
            chunk = self.read_some()
            if not chunk:  # WANT or EOF
                return bytes(out)
            out += chunk
            assert len(out) <= limit, f"{self.name}: more than {limit} bytes"
        raise AssertionError(f"{self.name}: read loop did not end")


class BioPair:
    """A client and a server SSLObject talking through memory BIOs."""

    def __init__(self, client_context, server_context, *,
                 client_bio=ssl.MemoryBIO, server_bio=ssl.MemoryBIO,
                 server_hostname: Optional[str] = "localhost", session=None):
        ci, co = client_bio(), client_bio()
        si, so = server_bio(), server_bio()
        kwargs = {"server_hostname": server_hostname}
        if session is not None:
            kwargs["session"] = session
        self.client = End("client", client_context.wrap_bio(ci, co, **kwargs), ci, co)
        self.server = End("server", server_context.wrap_bio(si, so, server_side=True), si, so)

    @property
    def ends(self):
        return self.client, self.server

    def peer(self, end: End) -> End:
        return self.server if end is self.client else self.client

    def move(self, sender: End, nbytes: int = -1) -> bytes:
        """Move (up to ``nbytes`` of) ``sender``'s ciphertext to its peer."""
        data = sender.outgoing.read(nbytes)
        if data:
            self.peer(sender).incoming.write(data)
        return data

    def to_server(self) -> bytes:
        return self.move(self.client)

    def to_client(self) -> bytes:
        return self.move(self.server)

    def handshake(self, max_rounds: int = 16) -> "BioPair":
        """Run the handshake to completion on both ends.  The last flight
        (TLS 1.3 session tickets) is delivered but not read."""
        for _ in range(max_rounds):
            self.client.step()
            self.to_server()
            self.server.step()
            self.to_client()
            if self.client.handshake_done and self.server.handshake_done:
                return self
        raise AssertionError(f"handshake unfinished after {max_rounds} rounds")

    def flights(self) -> Iterator[tuple[End, bytes]]:
        """Drive the handshake one flight at a time, yielding
        ``(receiver, flight)``: the caller delivers ``flight`` into
        ``receiver.incoming`` (whole, in pieces, or truncated and then
        stops iterating); on resumption the receiver takes its handshake
        step.  Ends once nothing is left to send: after the flight that
        completes the handshake on both ends, or after the one that follows
        it (TLS 1.3 session tickets; the receiver is then already done)."""
        sender = self.client
        sender.step()
        for _ in range(16):
            flight = sender.outgoing.read()
            if not flight:
                return
            receiver = self.peer(sender)
            yield receiver, flight
            if receiver.handshake_done:
                return
            receiver.step()
            sender = receiver
        raise AssertionError("more than 16 flights")

    def transfer(self, sender: End, data: bytes, *, chunk: int = 1 << 16) -> bytes:
        """``sender`` writes ``data``; its peer reads it all; returns what the
        peer read (equal to ``data`` unless something is broken)."""
        receiver = self.peer(sender)
        got = bytearray()
        for start in range(0, len(data), chunk):
            assert sender.obj.write(data[start:start + chunk]) == len(data[start:start + chunk])
            self.move(sender)
            got += receiver.read_available()
        self.move(receiver)  # e.g. a KeyUpdate answer
        return bytes(got)

    def exchange(self, tag: bytes = b"ping") -> None:
        """One round trip proving the connection still works both ways."""
        assert self.transfer(self.client, tag + b"->") == tag + b"->"
        assert self.transfer(self.server, b"<-" + tag) == b"<-" + tag


def not_implemented_message(what: str) -> str:
    """The pure-Python implementation's NotImplementedError text for
    ``what`` (e.g. ``"peek() (SSL_peek_ex)"``)."""
    v = sys.version_info
    return (f"{what} is not available in tlsfast's pure-Python implementation: "
            f"the stdlib ssl module (Python {v[0]}.{v[1]}) does not expose it; "
            "use the compiled implementation (TLSFAST_IMPL=c)")
