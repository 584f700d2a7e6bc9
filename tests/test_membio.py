"""Memory-BIO mode: ``MemoryBIO``, ``SSLContext.wrap_bio`` and ``SSLObject``.

Everything runs in one thread: both ends are SSLObjects and the test moves
the ciphertext between their BIOs (``membio_helpers.BioPair``), so records
can be truncated, trickled byte by byte or cut off by an EOF at any offset.
The reference for every stdlib-visible behaviour is the stdlib's own
``ssl.SSLObject`` / ``ssl.MemoryBIO``.
"""

import array
import hashlib
import os
import random
import selectors
import ssl
import subprocess
import sys
import textwrap

import pytest

from conftest import tlsfast_path
from helpers import RAGGED_EOF_IS_CLEAN, ROLES, VERSION_NAMES, VERSIONS, outcome, role_modules
from membio_helpers import (
    BIO_KINDS,
    WANT,
    BioPair,
    bio_class,
    has_fast_path,
    record_ends,
    split_records,
)

pytestmark = pytest.mark.timeout(60)


def make_pair(cmod, smod, client_ctx, server_ctx, version=None, bio_kind="tlsfast", **kwargs):
    return BioPair(client_ctx(cmod, version), server_ctx(smod, version),
                   client_bio=bio_class(cmod, bio_kind), server_bio=bio_class(smod, bio_kind),
                   **kwargs)


def payload(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def error_signature(exc: BaseException):
    """What must match the stdlib's exception: class and SSL fields."""
    return (type(exc), getattr(exc, "errno", None), getattr(exc, "library", None),
            getattr(exc, "reason", None))


# --------------------------------------------------------------------------
# MemoryBIO
# --------------------------------------------------------------------------

def _bio_script(bio):
    """Drive a MemoryBIO through the stdlib-visible API; returns outcomes."""
    r = []
    r.append(("pending0", bio.pending, bio.eof))
    r.append(("read-empty", outcome(bio.read), outcome(bio.read, 5), outcome(bio.read, 0)))
    r.append(("write-bytes", outcome(bio.write, b"hello")))
    r.append(("write-bytearray", outcome(bio.write, bytearray(b" world"))))
    r.append(("write-memoryview-slice", outcome(bio.write, memoryview(b"xabcx")[1:4])))
    r.append(("write-array", outcome(bio.write, array.array("H", [0x4142, 0x4344]))))
    r.append(("write-empty", outcome(bio.write, b"")))
    r.append(("write-str", outcome(bio.write, "text").raised))
    r.append(("write-int", outcome(bio.write, 5).raised))
    r.append(("write-noncontiguous", outcome(bio.write, memoryview(b"abcdef")[::2]).raised))
    r.append(("pending1", bio.pending, bio.eof))
    r.append(("read3", outcome(bio.read, 3)))
    r.append(("read-neg-is-all", outcome(bio.read, -1)))
    r.append(("pending2", bio.pending, bio.eof))
    bio.write(b"tail")
    bio.write_eof()
    r.append(("after-eof-pending", bio.pending, bio.eof))
    r.append(("write-after-eof", outcome(bio.write, b"more").raised,
              outcome(bio.write, b"").raised))
    r.append(("read-tail", outcome(bio.read, 100), bio.pending, bio.eof))
    r.append(("read-at-eof", outcome(bio.read), bio.eof))
    bio.write_eof()  # idempotent
    r.append(("eof-again", bio.eof))
    return r


def test_memorybio_matches_stdlib(impl):
    mine, ref = impl.MemoryBIO(), ssl.MemoryBIO()
    assert _bio_script(mine) == _bio_script(ref)


def test_memorybio_semantics(impl):
    bio = impl.MemoryBIO()
    assert (bio.pending, bio.eof, bio.read()) == (0, False, b"")
    assert bio.write(b"abc") == 3
    assert bio.write(bytearray(b"def")) == 3
    assert bio.write(memoryview(b"--ghi--")[2:5]) == 3
    assert bio.pending == 9
    assert bio.read(2) == b"ab"
    assert bio.read() == b"cdefghi"
    assert bio.pending == 0 and bio.eof is False
    bio.write(b"last")
    bio.write_eof()
    assert bio.eof is False  # not until drained
    with pytest.raises(ssl.SSLError) as ei:
        bio.write(b"x")
    assert "write_eof" in str(ei.value)
    assert bio.read() == b"last"
    assert bio.eof is True
    assert bio.read() == b""


def test_memorybio_large(impl):
    bio = impl.MemoryBIO()
    data = payload(3 << 20, 1)
    for start in range(0, len(data), 1 << 20):
        assert bio.write(memoryview(data)[start:start + (1 << 20)]) == 1 << 20
    assert bio.pending == len(data)
    out = bytearray()
    buf = bytearray(100_000)
    for _ in range(100):
        n = bio.read_into(buf)
        if n == 0:
            break
        out += buf[:n]
    assert hashlib.sha256(out).digest() == hashlib.sha256(data).digest()


def test_memorybio_read_into(impl):
    bio = impl.MemoryBIO()
    buf = bytearray(b"." * 10)
    assert bio.read_into(buf) == 0                      # empty: 0, nothing written
    assert buf == b"." * 10
    bio.write(b"0123456789abcdef")
    assert bio.read_into(buf, 3) == 3                   # nbytes
    assert buf == b"012......."
    view = memoryview(buf)
    assert bio.read_into(view[5:9]) == 4                # a slice, nbytes 0 = its length
    assert buf == b"012..3456."
    assert bio.read_into(buf, 0) == 9                   # 0 = len(buffer), only 9 pending
    assert buf == b"789abcdef."
    assert bio.pending == 0

    bio.write(b"xyz")
    target = array.array("B", [0] * 4)
    assert bio.read_into(target) == 3
    assert target.tobytes() == b"xyz\x00"

    bio.write(b"keep")
    for readonly in (b"12345678", memoryview(bytearray(8)).toreadonly()):
        with pytest.raises(TypeError):
            bio.read_into(readonly)
    for bad in (None, 12, "text"):
        with pytest.raises(TypeError):
            bio.read_into(bad)
    with pytest.raises(ValueError):
        bio.read_into(bytearray(4), 5)                  # nbytes > len(buffer)
    with pytest.raises(ValueError):
        bio.read_into(bytearray(4), 5)
    assert bio.pending == 4                             # failed calls consumed nothing
    assert bio.read_into(bytearray()) == 0
    small = bytearray(2)
    assert bio.read_into(small) == 2 and small == b"ke"
    assert bio.read() == b"ep"

    bio.write_eof()
    assert bio.eof is True
    assert bio.read_into(bytearray(4)) == 0


def test_sslobject_has_no_public_constructor(impl):
    with pytest.raises(TypeError):
        impl.SSLObject()
    with pytest.raises(TypeError):
        impl.SSLObject(impl.MemoryBIO(), impl.MemoryBIO())


def test_wrap_bio_rejects_non_bios(impl, client_ctx):
    ctx = client_ctx(impl)
    for bad in (None, b"bytes", object()):
        with pytest.raises(TypeError):
            ctx.wrap_bio(bad, impl.MemoryBIO(), server_hostname="localhost")
        with pytest.raises(TypeError):
            ctx.wrap_bio(impl.MemoryBIO(), bad, server_hostname="localhost")


def test_wrap_bio_argument_errors_match_stdlib(impl, client_ctx, server_ctx):
    def attempts(mod):
        cctx, sctx = client_ctx(mod), server_ctx(mod)
        bio = bio_class(mod, "tlsfast")
        # (wrap_bio without server_hostname on a check_hostname context, and
        # server_side with a server_hostname, are accepted by the stdlib but
        # refused by the compiled implementation "like wrap_socket", as its
        # docstring says: deliberate, not compared here)
        return [
            outcome(cctx.wrap_bio, bio(), bio(), server_hostname="").raised,
            outcome(cctx.wrap_bio, bio(), bio(), server_hostname=".lead").raised,
            outcome(cctx.wrap_bio, bio(), bio(), server_hostname="a\x00b").raised,
            outcome(sctx.wrap_bio, bio(), bio(), server_side=True,
                    session=object()).raised,
        ]
    assert attempts(impl) == attempts(ssl)


# --------------------------------------------------------------------------
# handshake and data
# --------------------------------------------------------------------------

@pytest.mark.parametrize("bio_kind", BIO_KINDS)
@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("role", ROLES)
def test_handshake_and_data(impl, certs, client_ctx, server_ctx, role, version, bio_kind):
    cmod, smod = role_modules(impl, role)
    cctx, sctx = client_ctx(cmod, version), server_ctx(smod, version)
    pair = BioPair(cctx, sctx, client_bio=bio_class(cmod, bio_kind),
                   server_bio=bio_class(smod, bio_kind))
    client, server = pair.client.obj, pair.server.obj
    assert client.context is cctx and server.context is sctx
    for obj, mod in ((client, cmod), (server, smod)):
        if mod is impl:
            assert isinstance(obj, impl.SSLObject)

    # before the handshake: the stdlib's answers
    for obj in (client, server):
        assert obj.version() is None
        assert obj.cipher() is None
        assert obj.session_reused is False
        assert obj.pending() == 0
        with pytest.raises(ValueError):
            obj.getpeercert()
    assert (client.server_side, server.server_side) == (False, True)
    assert (client.server_hostname, server.server_hostname) == ("localhost", None)

    pair.handshake()

    for obj in (client, server):
        assert obj.version() == VERSION_NAMES[version]
        assert obj.compression() is None
        assert obj.selected_alpn_protocol() is None
        assert obj.session_reused is False
    assert client.cipher() == server.cipher()
    assert client.cipher()[1] == VERSION_NAMES[version]
    assert client.getpeercert(binary_form=True) == certs.server.leaf_der
    assert client.getpeercert()["subjectAltName"] == certs.server.decoded()["subjectAltName"]
    assert server.getpeercert() is None
    assert client.context is cctx and server.context is sctx
    shared = server.shared_ciphers()
    assert shared and server.cipher() in shared
    assert client.get_channel_binding("tls-unique") == server.get_channel_binding("tls-unique")
    assert len(client.get_channel_binding("tls-unique")) in (12, 32, 48)

    up, down = payload(200_000, 2), payload(150_000, 3)
    assert pair.transfer(pair.client, up) == up
    assert pair.transfer(pair.server, down) == down

    # pending(): decrypted bytes left over from a partial read
    server.write(b"0123456789" * 100)
    pair.to_client()
    assert client.read(10) == b"0123456789"
    assert client.pending() == 990
    assert client.read(2000) == b"0123456789" * 99
    assert client.pending() == 0


@pytest.mark.parametrize("bio_kind", BIO_KINDS)
def test_read_into_buffers(impl, client_ctx, server_ctx, bio_kind):
    pair = make_pair(impl, impl, client_ctx, server_ctx, bio_kind=bio_kind).handshake()
    client, server = pair.client.obj, pair.server.obj

    def send(data):
        server.write(data)
        pair.to_client()

    send(b"hello world")
    buf = bytearray(b"#" * 32)
    assert client.read(5, buf) == 5
    assert buf == b"hello" + b"#" * 27
    view = memoryview(buf)
    assert client.read(0, view[10:20]) == 6          # len 0: the whole slice
    assert buf == b"hello" + b"#" * 5 + b" world" + b"#" * 16

    send(b"abcdef")
    small = bytearray(4)
    # stdlib: ``len`` larger than the buffer reads what fits
    assert client.read(10, small) == 4 and small == b"abcd"
    assert client.read(10) == b"ef"

    send(b"xyz")
    target = array.array("b", [0] * 8)
    assert client.read(8, target) == 3
    assert target.tobytes()[:3] == b"xyz"

    send(b"still here")
    with pytest.raises(TypeError):
        client.read(4, b"read-only")
    with pytest.raises(ValueError):
        client.read(-1)
    assert client.read(100) == b"still here"           # failed calls consumed nothing

    # write(): any bytes-like object
    for data in (bytearray(b"ba"), memoryview(b"--mv--")[2:4], array.array("B", b"ar")):
        assert client.write(data) == 2
    pair.to_server()
    assert pair.server.read_available() == b"bamvar"
    with pytest.raises(TypeError):
        client.write("text")
    assert client.write(b"") == 0


# --------------------------------------------------------------------------
# the fast path over memory BIOs
# --------------------------------------------------------------------------

@pytest.mark.parametrize("bio_kind", BIO_KINDS)
def test_fast_path_codes(impl, client_ctx, server_ctx, bio_kind):
    pair = make_pair(impl, impl, client_ctx, server_ctx, bio_kind=bio_kind)
    client, server = pair.client.obj, pair.server.obj
    assert client.wanted_events == 0

    assert client.try_do_handshake() == impl.WANT_READ
    assert client.wanted_events == selectors.EVENT_READ
    assert client.want_read() is True and client.want_write() is False
    hello = pair.client.outgoing.read()
    assert hello[:1] == b"\x16" and split_records(hello)[0][0] == 22   # a ClientHello record
    assert server.try_do_handshake() == impl.WANT_READ                  # nothing arrived yet
    assert pair.server.outgoing.pending == 0
    pair.server.incoming.write(hello)
    pair.handshake()
    assert client.try_do_handshake() == 0 and client.wanted_events == 0
    assert client.want_read() is False

    pair.client.read_available()          # TLS 1.3 tickets
    buf = bytearray(64)
    for obj in (client, server):
        assert obj.try_recv_into(buf) == impl.WANT_READ
        assert obj.wanted_events == selectors.EVENT_READ
        assert obj.want_read() is True and obj.want_write() is False
        with pytest.raises(ssl.SSLWantReadError) as ei:
            obj.read(10)
        assert ei.value.errno == ssl.SSL_ERROR_WANT_READ
        assert obj.try_send(b"abc") == 3
        assert obj.wanted_events == 0
        assert obj.want_read() is False and obj.want_write() is False
    pair.to_server()
    pair.to_client()
    assert server.try_recv_into(buf) == 3 and buf[:3] == b"abc"
    assert client.try_recv_into(buf, 2) == 2 and buf[:2] == b"ab"
    assert client.pending() == 1
    assert client.try_recv_into(buf) == 1 and buf[:1] == b"c"
    assert client.try_recv_into(buf) == impl.WANT_READ


# --------------------------------------------------------------------------
# records trickled one byte at a time
# --------------------------------------------------------------------------

def _feed_byte_by_byte(receiver, data, on_byte):
    """Write ``data`` into ``receiver.incoming`` one byte at a time, calling
    ``on_byte(k)`` after byte ``k`` (1-based count of bytes delivered)."""
    for k in range(1, len(data) + 1):
        receiver.incoming.write(data[k - 1:k])
        on_byte(k)


@pytest.mark.parametrize("bio_kind", BIO_KINDS)
@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("role", ROLES)
def test_records_fed_byte_by_byte(impl, client_ctx, server_ctx, role, version, bio_kind):
    cmod, smod = role_modules(impl, role)
    pair = make_pair(cmod, smod, client_ctx, server_ctx, version, bio_kind)

    # the handshake: every flight, every prefix
    nflights = 0
    for receiver, flight in pair.flights():
        if receiver.handshake_done:
            # TLS 1.3 tickets: stay queued for the data phase below
            receiver.incoming.write(flight)
            continue
        nflights += 1
        fast = has_fast_path(receiver.obj)

        def on_byte(k, receiver=receiver, flight=flight, fast=fast):
            if k == len(flight):
                return
            if fast:
                code = receiver.obj.try_do_handshake()
                assert code == -1, f"{receiver} flight {nflights}: byte {k}/{len(flight)}: {code}"
                assert receiver.obj.wanted_events == selectors.EVENT_READ
                if k % 2:
                    with pytest.raises(ssl.SSLWantReadError):
                        receiver.obj.do_handshake()
            else:
                with pytest.raises(ssl.SSLWantReadError):
                    receiver.obj.do_handshake()
            assert receiver.outgoing.pending == 0, f"{receiver} answered a partial flight at {k}"

        _feed_byte_by_byte(receiver, flight, on_byte)
        # resuming flights() makes the receiver take its step
    assert nflights == (4 if version == "1.2" else 3)
    assert pair.client.handshake_done and pair.server.handshake_done
    assert pair.client.obj.version() == VERSION_NAMES[version]

    # application data: two full records and a short one, both directions
    for sender, seed in ((pair.server, 10), (pair.client, 11)):
        receiver = pair.peer(sender)
        data = payload(2 * 16384 + 123, seed)
        sender.obj.write(data)
        wire = receiver.incoming.read() + sender.outgoing.read()   # queued tickets first
        ends = record_ends(wire)
        got = bytearray()
        buf = bytearray(1 << 16)
        fast = has_fast_path(receiver.obj)

        def on_byte(k, receiver=receiver, ends=ends, fast=fast):
            produced = 0
            for _ in range(8):
                if fast:
                    n = receiver.obj.try_recv_into(buf)
                    if n == -1:
                        assert receiver.obj.wanted_events == selectors.EVENT_READ
                        break
                    assert n > 0, (k, n)
                    chunk = buf[:n]
                else:
                    chunk = receiver.read_some()
                    if chunk is WANT:
                        break
                    assert chunk, k
                got.extend(chunk)
                produced += len(chunk)
            else:
                raise AssertionError("read loop did not end")
            if k not in ends:
                assert produced == 0, f"data before the record was complete (byte {k})"

        _feed_byte_by_byte(receiver, wire, on_byte)
        assert bytes(got) == data
    pair.exchange()


# --------------------------------------------------------------------------
# EOF (write_eof) at every offset
# --------------------------------------------------------------------------

def _handshake_eof(pair, flight_index, offset):
    """Deliver flights before ``flight_index``, then ``offset`` bytes of it,
    then EOF; return (receiver, flight length, exception or None)."""
    for i, (receiver, flight) in enumerate(pair.flights()):
        if i < flight_index:
            receiver.incoming.write(flight)
            continue
        if offset >= len(flight):
            return receiver, len(flight), None
        receiver.incoming.write(flight[:offset])
        receiver.incoming.write_eof()
        obj = receiver.obj
        try:
            if has_fast_path(obj) and offset % 2:
                obj.try_do_handshake()
            else:
                obj.do_handshake()
        except Exception as exc:  # noqa: BLE001 - returned to the test
            return receiver, len(flight), exc
        raise AssertionError(f"{receiver}: handshake went on after EOF at {offset}/{len(flight)}")
    raise AssertionError(f"no flight {flight_index}")


@pytest.mark.parametrize("bio_kind", BIO_KINDS)
@pytest.mark.parametrize("version", VERSIONS)
def test_eof_at_every_offset_of_the_handshake(impl, client_ctx, server_ctx, version, bio_kind):
    cctx, sctx = client_ctx(impl, version), server_ctx(impl, version)
    bio = bio_class(impl, bio_kind)
    ref_cctx, ref_sctx = client_ctx(ssl, version), server_ctx(ssl, version)
    nflights = 4 if version == "1.2" else 3
    total = 0
    for index in range(nflights):
        # what the stdlib's SSLObject raises at this point
        _, ref_len, ref_exc = _handshake_eof(BioPair(ref_cctx, ref_sctx), index, 1)
        assert ref_exc is not None
        expected = error_signature(ref_exc)
        if RAGGED_EOF_IS_CLEAN:     # 3.9: the EOF reads as a close
            assert expected[0] is ssl.SSLZeroReturnError
        else:
            assert expected[0] is ssl.SSLEOFError and expected[1] == ssl.SSL_ERROR_EOF
        for offset in range(5000):
            pair = BioPair(cctx, sctx, client_bio=bio, server_bio=bio)
            receiver, length, exc = _handshake_eof(pair, index, offset)
            if exc is None:
                break  # the whole flight (its length varies: ECDSA signatures)
            assert error_signature(exc) == expected, (index, offset, length, exc)
            assert "EOF" in str(exc)
            total += 1
        assert offset >= 40, f"flight {index} only {offset} bytes"
    assert total > 700


@pytest.mark.parametrize("bio_kind", BIO_KINDS)
@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("reader", ["client", "server"])
def test_eof_at_every_offset_of_a_record(impl, client_ctx, server_ctx, reader, version, bio_kind):
    """Record A arrives whole, record B cut at every offset, then EOF: A's
    data is still delivered, then the stdlib's SSLEOFError (on 3.9, whose
    contexts set OP_IGNORE_UNEXPECTED_EOF: the end of the stream, b'')."""
    cctx, sctx = client_ctx(impl, version), server_ctx(impl, version)
    bio = bio_class(impl, bio_kind)
    first, second = b"first record", b"second record " * 8

    def attempt(ccontext, scontext, offset, bio, use_fast):
        pair = BioPair(ccontext, scontext, client_bio=bio, server_bio=bio).handshake()
        pair.client.read_available()   # TLS 1.3 tickets
        recv_end = pair.client if reader == "client" else pair.server
        send_end = pair.peer(recv_end)
        send_end.obj.write(first)
        a = send_end.outgoing.read()
        send_end.obj.write(second)
        b = send_end.outgoing.read()
        if offset > len(b):
            return None
        recv_end.incoming.write(a + b[:offset])
        recv_end.incoming.write_eof()
        obj = recv_end.obj
        got, buf = [], bytearray(1000)
        for _ in range(4):
            try:
                if use_fast:
                    n = obj.try_recv_into(buf)
                    data = bytes(buf[:max(n, 0)])
                    assert n >= 0, (offset, n)
                else:
                    data = obj.read(1000)
                if not data:
                    assert RAGGED_EOF_IS_CLEAN, offset
                    error = "end of stream"
                    break
                got.append(data)
            except ssl.SSLError as exc:
                error = exc
                break
        else:
            raise AssertionError(f"no error at offset {offset}: {got}")
        # data delivered before the cut is all there, in order (one read
        # may return both records: the compiled reads take every record
        # available)
        assert b"".join(got) == (first + second if offset == len(b) else first), offset
        # and the error (or the end) sticks
        if isinstance(error, str):
            assert obj.read(1000) == b""
        else:
            with pytest.raises(ssl.SSLError) as again:
                obj.read(1000)
            assert type(again.value) is type(error)
        return error

    ref_exc = attempt(client_ctx(ssl, version), server_ctx(ssl, version), 7, ssl.MemoryBIO, False)
    expected = ref_exc if RAGGED_EOF_IS_CLEAN else error_signature(ref_exc)
    if not RAGGED_EOF_IS_CLEAN:
        assert expected[0] is ssl.SSLEOFError
    count = 0
    for offset in range(300):
        exc = attempt(cctx, sctx, offset, bio, offset % 2 == 1)
        if exc is None:
            break
        assert (exc if isinstance(exc, str) else error_signature(exc)) == expected, (offset, exc)
        count += 1
    assert count > 100


# --------------------------------------------------------------------------
# close_notify
# --------------------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("role", ROLES)
def test_unwrap_through_bios(impl, client_ctx, server_ctx, role, version):
    cmod, smod = role_modules(impl, role)
    pair = make_pair(cmod, smod, client_ctx, server_ctx, version).handshake()
    client, server = pair.client.obj, pair.server.obj
    pair.client.read_available()

    # the server says goodbye after some data: the data is not lost
    server.write(b"last words")
    if has_fast_path(server):
        assert server.try_unwrap() == impl.WANT_READ
        assert server.wanted_events == selectors.EVENT_READ
    else:
        with pytest.raises(ssl.SSLWantReadError):
            server.unwrap()
    pair.to_client()
    assert client.read(100) == b"last words"
    assert client.read(100) == b""
    if has_fast_path(client):
        assert client.try_recv_into(bytearray(10)) == 0
        assert client.wanted_events == 0
    assert client.read(100) == b""

    # the client may still write before answering
    assert client.write(b"reply") == 5
    assert client.unwrap() is None        # peer's close_notify already in: done at once
    pair.to_server()
    assert server.read(100) == b"reply"
    if has_fast_path(server):
        assert server.try_unwrap() == 0
        assert server.wanted_events == 0
    else:
        assert server.unwrap() is None

    # both sides closed: what the stdlib does
    for obj in (client, server):
        with pytest.raises(ssl.SSLZeroReturnError):
            obj.read(10)
        with pytest.raises(ssl.SSLError) as ei:
            obj.write(b"late")
        assert ei.value.reason == "PROTOCOL_IS_SHUTDOWN"
        if has_fast_path(obj):
            assert obj.try_recv_into(bytearray(10)) == 0
    assert pair.client.outgoing.pending == pair.server.outgoing.pending == 0


def test_unwrap_before_handshake_matches_stdlib(impl, client_ctx):
    def attempt(mod):
        bio = bio_class(mod, "tlsfast")
        obj = client_ctx(mod).wrap_bio(bio(), bio(), server_hostname="localhost")
        exc = outcome(obj.unwrap).exc
        return error_signature(exc) if exc else None
    assert attempt(impl) == attempt(ssl)


# --------------------------------------------------------------------------
# lifetime: the SSL* outlives the Python BIO objects it calls
# --------------------------------------------------------------------------

_GC_SCRIPT = textwrap.dedent("""
    import gc, importlib, ssl, sys
    m = importlib.import_module(sys.argv[1])
    ctx = m.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE

    class PyBIO:  # MemoryBIO's methods, not its type (the adapter path)
        def __init__(self): self.inner = ssl.MemoryBIO()
        def read(self, n=-1): return self.inner.read(n)
        def write(self, b): return self.inner.write(b)
        def write_eof(self): self.inner.write_eof()
        @property
        def pending(self): return self.inner.pending
        @property
        def eof(self): return self.inner.eof

    kinds = [ssl.MemoryBIO, m.MemoryBIO] + ([PyBIO] if sys.argv[2] == "c" else [])
    for i in range(300):
        bio = kinds[i % len(kinds)]
        incoming, outgoing = bio(), bio()
        obj = ctx.wrap_bio(incoming, outgoing)
        try:
            obj.do_handshake()      # mid-handshake: OpenSSL's buffering BIO is pushed
        except ssl.SSLWantReadError:
            pass
        cycle = [obj]
        cycle.append(cycle)         # the GC clears obj before the list lets go of it
        del obj, incoming, outgoing, cycle
        gc.collect()
        junk = [bio() for _ in range(20)]   # reuse whatever was freed
    print("survived")
""")


def test_gc_of_sslobject_in_a_cycle_mid_handshake(impl):
    """An SSLObject over Python-level BIOs (the stdlib's MemoryBIO, any
    MemoryBIO-like object) collected from a reference cycle while its
    handshake is in progress: SSL_free() still calls into the BIOs after the
    GC cleared the object's references.  Runs in a child process because
    the failure mode is a segfault."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [tlsfast_path(), env.get("PYTHONPATH")]))
    env.pop("TLSFAST_IMPL", None)
    proc = subprocess.run([sys.executable, "-c", _GC_SCRIPT, impl.module.__name__, impl.name], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "survived", (
        f"child exited {proc.returncode}\n{proc.stdout}\n{proc.stderr[-3000:]}")
