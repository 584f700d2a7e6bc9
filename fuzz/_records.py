"""The record-level fuzz logic shared by ``fuzz_server.py`` (the fuzzed end is
a server: the input plays the client) and ``fuzz_client.py`` (the reverse).

Input: byte 0 = flags (``_harness.F_*``), the rest = payload.

Handshake modes (flags & 3 in {0, 1}): the payload is what the peer sends,
fed into the fuzzed end's incoming ``MemoryBIO`` whole (mode 0) or in chunks
of ``payload[0] % 64 + 1`` bytes (mode 1), with a handshake step after each
write; then EOF.  The fuzzed client sends its ClientHello first (discarded).
Seeds are real flights recorded by ``fuzz/make_corpus.py``.

Established modes (flags & 3 in {2, 3}): a real handshake with an in-process
tlsfast peer first, then the payload is an operation script (below) mixing
raw fuzz bytes, valid records from the peer (application data, KeyUpdate,
renegotiation, post-handshake auth, close_notify), corrupted or truncated
valid records, and operations of the fuzzed end.
"""

from __future__ import annotations

import ssl

import _harness as H
from _harness import Finding, PROTOCOL_ERRORS, feature, outcome_key, bucket

MAX_OPS = 64


class Reader:
    """Consumes the script bytes; past the end everything reads as 0."""

    def __init__(self, data):
        self.data, self.pos = data, 0

    def left(self):
        return len(self.data) - self.pos

    def byte(self):
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def u16(self):
        return self.byte() << 8 | self.byte()

    def take(self, n):
        out = self.data[self.pos:self.pos + n]
        self.pos += len(out)
        return out


def _ends(role, flags):
    """(fuzzed, peer) Sides for ``role`` (the fuzzed end's role)."""
    stdlib_bio = bool(flags & H.F_STDLIB_BIO)
    raising = bool(flags & H.F_RAISING)
    if role == "server":
        target = H.Side(H.server_context(flags), server_side=True,
                        stdlib_bio=stdlib_bio, raising=raising)
        peer = H.Side(H.client_context(flags & ~H.F_KEYLOG), server_side=False)
    else:
        target = H.Side(H.client_context(flags), server_side=False,
                        stdlib_bio=stdlib_bio, raising=raising)
        peer = H.Side(H.server_context(flags & ~H.F_KEYLOG), server_side=True)
    return target, peer


def _guard(tag, fn, *args):
    """Run one operation of the fuzzed end; documented exceptions are
    outcomes (and features), anything else propagates as a finding."""
    try:
        result = fn(*args)
    except PROTOCOL_ERRORS as exc:
        feature(tag, *outcome_key(exc))
        return exc
    feature(tag, "ok", result is None, bucket(result) if isinstance(result, int)
            else bucket(len(result)) if isinstance(result, bytes) else 0)
    return result


def run_handshake(role, flags, payload):
    if role == "server":
        target = H.Side(H.server_context(flags), server_side=True,
                        stdlib_bio=bool(flags & H.F_STDLIB_BIO), raising=bool(flags & H.F_RAISING))
    else:
        target = H.Side(H.client_context(flags), server_side=False,
                        stdlib_bio=bool(flags & H.F_STDLIB_BIO), raising=bool(flags & H.F_RAISING))
        _guard("hs-first", target.step)
        target.drain()
    if (flags & H.MODE_MASK) == H.MODE_CHUNKED and payload:
        size, payload = payload[0] % 64 + 1, payload[1:]
    else:
        size = max(len(payload), 1)
    failed = False
    for start in range(0, len(payload), size):
        target.incoming.write(payload[start:start + size])
        r = _guard("hs-step", target.step)
        out = target.drain()
        feature("hs-out", bucket(len(out)), target.done)
        if isinstance(r, BaseException):
            failed = True
            break
        if target.done:
            break
    if target.done and not failed:
        # a forged flight completed the handshake: keep reading what is left
        for _ in range(8):
            r = _guard("hs-read", target.read, 4096)
            if not r:
                break
    if not failed:
        target.incoming.write_eof()
        if target.done:
            _guard("hs-eof", target.read, 1024)
        else:
            _guard("hs-eof", target.step)
    H.probe(target.obj)
    H.check_unraisable()


class Script:
    """The established-connection operation script."""

    def __init__(self, role, flags, payload):
        self.role, self.flags = role, flags
        self.r = Reader(payload)
        self.target, self.peer = _ends(role, flags)
        self.held = b""           # ciphertext from the peer not delivered yet

    # -- moving ciphertext ----------------------------------------------
    def deliver(self, data):
        if data:
            try:
                self.target.incoming.write(data)
            except ssl.SSLError as exc:      # after op_eof: "cannot write() after write_eof()"
                feature("deliver", *outcome_key(exc))

    def peer_out(self):
        return self.peer.drain()

    def to_peer(self):
        """Deliver the fuzzed end's output to the peer and let it process it;
        peer failures only mark it dead."""
        data = self.target.drain()
        if data and not self.peer.dead:
            self.peer.incoming.write(data)
            try:
                for _ in range(4):
                    got = self.peer.read(1 << 14)
                    if not got:
                        break
            except (ssl.SSLError, ValueError) as exc:
                feature("peer-err", *outcome_key(exc))
                self.peer.dead = True

    def peer_do(self, fn, *args):
        if self.peer.dead:
            return None
        try:
            return fn(*args)
        except (ssl.SSLError, ValueError) as exc:
            feature("peer-op-err", *outcome_key(exc))
            return exc

    # -- the operations --------------------------------------------------
    def op_raw(self):
        self.deliver(self.r.take(self.r.byte()))

    def op_record(self):
        ctype = self.r.byte()
        version = self.r.u16()
        body = self.r.take(self.r.u16() & 0x7fff)
        length = self.r.u16() if self.r.byte() & 1 else len(body)   # maybe lie about it
        self.deliver(bytes([ctype]) + version.to_bytes(2, "big") + length.to_bytes(2, "big") + body)

    def op_peer_write(self):
        n = self.r.u16() % 20000 + 1
        self.peer_do(self.peer.obj.write, b"p" * n)
        self.deliver(self.peer_out())

    def op_peer_write_corrupt(self):
        n = self.r.byte() + 1
        pos, xor = self.r.u16(), self.r.byte() or 1
        self.peer_do(self.peer.obj.write, b"c" * n)
        data = bytearray(self.peer_out())
        if data:
            data[pos % len(data)] ^= xor
        self.deliver(bytes(data))

    def op_peer_write_split(self):
        """A valid record cut at a fuzzed offset: the head now, the tail held
        back for a later 'release' (or never)."""
        n = self.r.byte() + 1
        cut = self.r.u16()
        self.peer_do(self.peer.obj.write, b"s" * n)
        data = self.held + self.peer_out()
        cut = cut % (len(data) + 1)
        self.deliver(data[:cut])
        self.held = data[cut:]

    def op_release(self):
        self.deliver(self.held)
        self.held = b""

    def op_peer_key_update(self):
        self.peer_do(self.peer.obj.key_update, bool(self.r.byte() & 1))
        self.deliver(self.peer_out())

    def op_peer_shutdown(self):
        self.peer_do(self.peer.shutdown)
        self.deliver(self.peer_out())

    def op_peer_renegotiate(self):
        self.peer_do(self.peer.obj.renegotiate)
        self.peer_do(self.peer.obj.write, b"r")
        self.deliver(self.peer_out())

    def op_peer_pha(self):
        if self.peer.obj.server_side:
            self.peer_do(self.peer.obj.verify_client_post_handshake)
            self.peer_do(self.peer.obj.write, b"h")
        self.deliver(self.peer_out())

    def op_peer_drop(self):
        """The peer's next output is lost (a replay later is a fuzz choice)."""
        self.held = self.peer_out()

    def op_read(self):
        n = self.r.u16() % 40000
        _guard("read", self.target.read, n)

    def op_peek(self):
        _guard("peek", self.target.obj.peek, self.r.u16() % 40000)

    def op_read_stdlib(self):
        """read(len, buffer) and read(len) of the stdlib API whatever the flags."""
        n = self.r.byte()
        if n & 1:
            buf = bytearray(n)
            _guard("read-buf", self.target.obj.read, self.r.byte() - 64, buf)
        else:
            _guard("read-len", self.target.obj.read, n)

    def op_write(self):
        n = self.r.u16() % 40000 + 1
        _guard("write", self.target.write, b"w" * n)
        self.to_peer()

    def op_key_update(self):
        _guard("key-update", self.target.obj.key_update, bool(self.r.byte() & 1))
        self.to_peer()

    def op_renegotiate(self):
        _guard("renegotiate", self.target.obj.renegotiate)
        self.to_peer()

    def op_shutdown(self):
        _guard("shutdown", self.target.shutdown)
        self.to_peer()

    def op_handshake(self):
        _guard("handshake", self.target.step)
        self.to_peer()

    def op_probe(self):
        H.probe(self.target.obj)

    def op_eof(self):
        self.target.incoming.write_eof()

    def op_to_peer(self):
        self.to_peer()
        self.deliver(self.peer_out())

    def op_pha(self):
        if self.target.obj.server_side:
            _guard("pha", self.target.obj.verify_client_post_handshake)
            _guard("pha-write", self.target.write, b"q")
        self.to_peer()
        self.deliver(self.peer_out())

    def op_exporter(self):
        n = self.r.byte()
        label = self.r.take(self.r.byte() & 31)
        ctx = self.r.take(n & 31) if n & 32 else None
        _guard("exporter", self.target.obj.export_keying_material, label, (n & 0x3f) + 1, ctx)

    OPS = [op_raw, op_record, op_peer_write, op_peer_write_corrupt, op_peer_write_split,
           op_release, op_peer_key_update, op_peer_shutdown, op_peer_renegotiate, op_peer_pha,
           op_peer_drop, op_read, op_peek, op_read_stdlib, op_write, op_key_update,
           op_renegotiate, op_shutdown, op_handshake, op_probe, op_eof, op_to_peer,
           op_pha, op_exporter]

    def run(self):
        client, server = ((self.peer, self.target) if self.role == "server"
                          else (self.target, self.peer))
        if not H.handshake(client, server):
            raise Finding("in-process handshake did not complete")
        feature("established", self.target.obj.version())
        for _ in range(MAX_OPS):
            if self.r.left() <= 0:
                break
            opcode = self.r.byte() % len(self.OPS)
            self.OPS[opcode](self)
            feature("op", opcode, self.target.obj.pending() > 0,
                    bucket(self.target.incoming.pending))
        # drain what is decryptable, then look at the final state
        for _ in range(16):
            r = _guard("final-read", self.target.read, 1 << 16)
            if not r:
                break
        H.probe(self.target.obj)
        H.check_unraisable()


def one_input(role, data):
    if not data:
        return
    flags, payload = data[0], data[1:]
    if (flags & H.MODE_MASK) in (H.MODE_HANDSHAKE, H.MODE_CHUNKED):
        run_handshake(role, flags, payload)
    else:
        Script(role, flags, payload).run()


def main(role, argv):
    import atheris
    import sys
    H.load()
    H.init_features()
    atheris.Setup(argv, lambda data: one_input(role, data))
    atheris.Fuzz()
