"""Fault injection: peers that misbehave on purpose.

Every test scripts one misbehaving peer (a raw loopback socket the test
drives by hand, answering with bytes of its choosing or with the output of a
stdlib ``SSLObject`` over ``MemoryBIO``s) and plays the same script against a
stdlib client/server and against the implementation under test.  What the
two observe (``fault_helpers.Trace``: each call's result, or the exception's
type, ``args[0]``/errno, ``library``, ``reason`` and message without the
source location) must be identical: the stdlib is the specification.  Where
the issue names an expectation (SSLEOFError for a cut flight, the alert's
name in ``reason``, RECORD_OVERFLOW-like reasons, timeouts within bounds,
data before a cut delivered exactly once) it is asserted too.

Situations:

* garbage instead of a ServerHello / ClientHello;
* the server's first flight cut at every byte offset, an application-data
  record cut at every byte offset (then FIN);
* TCP RST (SO_LINGER 0) during the handshake and mid-stream;
* a peer that stalls forever: handshake, read and write timeouts;
* a record header announcing 2^14+2048+1 bytes (and other oversized ones);
* fatal alerts in plaintext during the handshake and encrypted afterwards;
* close_notify arriving while we keep writing;
* the descriptor closed under the SSLSocket (os.close, and close() from
  another thread while one is blocked in recv with a timeout).

What the stdlib does (Python 3.11, OpenSSL 3.0), so what is required:

* a cut anywhere in the server's first flight: SSLEOFError
  (UNEXPECTED_EOF_WHILE_READING); the whole TLS 1.3 flight completes the
  client's handshake;
* a cut application-data record: the records before it, once, then
  SSLEOFError (or b'' with suppress_ragged_eofs);
* RST: ConnectionResetError during the handshake; after it, data already
  received is still delivered, then the reset reads as a ragged EOF and a
  send raises SSLEOFError;
* a record header of 2^14+2048+1 bytes: SSLError PACKET_LENGTH_TOO_LONG
  (both versions); 2^14+256+1 in TLS 1.3: ENCRYPTED_LENGTH_TOO_LONG;
* fatal alerts: SSLError whose reason is the alert's name
  (SSLV3_ALERT_HANDSHAKE_FAILURE, ...); a warning close_notify during the
  handshake: SSLZeroReturnError;
* close_notify while writing: writes go on succeeding while the peer's
  socket is open; once it is closed, SSLEOFError; reads give the data, then
  b''.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import ssl
import threading
import time

import pytest

from helpers import RAGGED_EOF_IS_CLEAN, RESET_IS_OSERROR
from fault_helpers import (APPLICATION_DATA, CHANGE_CIPHER_SPEC, HANDSHAKE, TCP_CLOSE, Loopback,
                           ServerFlight, Trace, alert, assert_clear_message, assert_same,
                           client_context, established, half_close, read_record, record,
                           record_lengths, recv_available, reset, server_context, start_client,
                           wait_inq, wait_readable, wait_tcp_state)

pytestmark = pytest.mark.timeout(120)

VERSIONS = ("1.2", "1.3")
#: a stalled peer: the socket timeout of the side under test
STALL = 0.15
#: a timed-out call returns no sooner than 0.8 * STALL and no later than
#: STALL + LATE (generous: the machine is shared)
LATE = 3.0

#: stdlib traces, computed once per situation and reused for both impls
_STDLIB: dict = {}


@pytest.fixture
def loop():
    lb = Loopback()
    yield lb
    lb.close()


def cctx(mod, certs, version=None):
    return client_context(mod, certs.ca_pem, version)


def sctx(mod, certs, version=None):
    return server_context(mod, certs.server.chain, certs.server.key, version)


def against_stdlib(impl, key, run) -> tuple[Trace, Trace]:
    """``run(mod)`` with the stdlib (cached per ``key``) and with ``impl``;
    the traces must be equal.  Returns (impl trace, stdlib trace)."""
    if key not in _STDLIB:
        _STDLIB[key] = run(ssl)
    ref = _STDLIB[key]
    got = run(impl)
    assert_same(got, ref, repr(key))
    return got, ref


def client_hello(certs, version=None) -> bytes:
    """A real ClientHello record (from a stdlib client over memory BIOs)."""
    obj = cctx(ssl, certs, version).wrap_bio(ssl.MemoryBIO(), out := ssl.MemoryBIO(),
                                             server_hostname="localhost")
    with contextlib.suppress(ssl.SSLWantReadError):
        obj.do_handshake()
    return out.read()


# --------------------------------------------------------------------------
# scripted handshakes
# --------------------------------------------------------------------------

def client_meets(mod, certs, loop, answer, *, version=None, suppress=True,
                 timeout=5.0, read=True) -> Trace:
    """The client of ``mod`` sends its ClientHello; ``answer(raw_server,
    client_hello)`` replies by hand; then the client finishes its handshake
    (timeout mode) and, if that worked, reads to the end."""
    tr = Trace()
    raw_c, raw_s = loop.pair()
    try:
        client = loop.track(start_client(cctx(mod, certs, version), raw_c,
                                         suppress_ragged_eofs=suppress))
        hello = read_record(raw_s)
        assert hello[0] == HANDSHAKE and hello[5] == 1, hello[:6]
        answer(raw_s, hello)
        client.settimeout(timeout)
        ok, _ = tr.call("handshake", client.do_handshake)
        if ok:
            tr.note("version", client.version())
            if read:
                tr.read_all(client)
    finally:
        loop.release()
    return tr


def server_meets(mod, certs, loop, send, *, version=None, timeout=5.0) -> Trace:
    """``send(raw_client)`` writes by hand; then the server of ``mod``
    handshakes (timeout mode)."""
    tr = Trace()
    raw_c, raw_s = loop.pair()
    try:
        send(raw_c)
        raw_s.settimeout(timeout)
        tr.call("handshake", lambda: loop.track(
            sctx(mod, certs, version).wrap_socket(raw_s, server_side=True)),
            keep=lambda s: s.version())
    finally:
        loop.release()
    return tr


def then_half_close(data: bytes):
    def answer(raw, hello=None):
        raw.sendall(data)
        half_close(raw)
    return answer


# --------------------------------------------------------------------------
# garbage instead of a hello
# --------------------------------------------------------------------------

_RNG = random.Random(20260601)
GARBAGE = {
    "http": b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
    "zeros": bytes(64),
    "random": _RNG.randbytes(300),
    "unknown-content-type": record(99, b"x" * 10),
    "garbled-hello": record(HANDSHAKE, b"\x02\x00\x00\x0agarbage!!!"),
    "hello-length-overflow": record(HANDSHAKE, b"\x02\xff\xff\xff" + bytes(40)),
    "application-data-first": record(APPLICATION_DATA, b"x" * 32),
    "ccs-first": record(CHANGE_CIPHER_SPEC, b"\x01"),
    "empty-handshake-record": record(HANDSHAKE, b""),
    "sslv2-hello": b"\x80\x2e\x01\x00\x02\x00\x15\x00\x00\x00\x10" + bytes(37),
    "record-version-9.9": record(HANDSHAKE, b"\x02\x00\x00\x00", version=0x0909),
    "truncated-header": b"\x16\x03",
}


@pytest.mark.parametrize("kind", sorted(GARBAGE))
def test_garbage_instead_of_server_hello(impl, certs, loop, kind):
    got, _ = against_stdlib(
        impl, ("garbage-to-client", kind),
        lambda mod: client_meets(mod, certs, loop, then_half_close(GARBAGE[kind])))
    kind_, value = got.get("handshake")
    assert kind_ == "raised", got
    exc = got.exceptions["handshake"]
    assert isinstance(exc, (ssl.SSLError, OSError))
    assert_clear_message(exc)


CLIENT_GARBAGE = dict(GARBAGE, **{
    "http": b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "server-hello-to-server": record(HANDSHAKE, b"\x02\x00\x00\x26\x03\x03" + bytes(34)),
})


@pytest.mark.parametrize("kind", sorted(CLIENT_GARBAGE))
def test_garbage_instead_of_client_hello(impl, certs, loop, kind):
    got, _ = against_stdlib(
        impl, ("garbage-to-server", kind),
        lambda mod: server_meets(mod, certs, loop, then_half_close(CLIENT_GARBAGE[kind])))
    assert got.get("handshake")[0] == "raised", got
    assert_clear_message(got.exceptions["handshake"])


# --------------------------------------------------------------------------
# truncation at every byte offset
# --------------------------------------------------------------------------

def _flight_length(certs, loop, version) -> int:
    """Length of the server's first flight for this configuration (it
    varies by a byte or two with the DER length of the ECDSA signature)."""
    key = ("flight-length", version)
    if key not in _STDLIB:
        raw_c, raw_s = loop.pair()
        try:
            loop.track(start_client(cctx(ssl, certs, version), raw_c))
            _STDLIB[key] = len(ServerFlight(sctx(ssl, certs, version), read_record(raw_s)).flight)
        finally:
            loop.release()
    return _STDLIB[key]


def _cut_position(k: int, nominal: int, actual: int) -> int:
    """Offset ``k`` of a ``nominal``-byte flight mapped onto this
    connection's ``actual``-byte flight: counted from the start in the first
    half, from the end in the second (so the Finished message, after the
    variable-length signature, is cut at the same place every time)."""
    return k if k <= nominal // 2 else actual - (nominal - k)


def _flight_sweep(mod, certs, loop, version, nominal) -> list:
    server = sctx(ssl, certs, version)
    client = cctx(mod, certs, version)
    out = []
    for k in range(nominal + 1):
        raw_c, raw_s = loop.pair()
        try:
            sock = loop.track(start_client(client, raw_c))
            flight = ServerFlight(server, read_record(raw_s)).flight
            cut = _cut_position(k, nominal, len(flight))
            raw_s.sendall(flight[:cut])
            half_close(raw_s)
            sock.settimeout(5.0)
            tr = Trace()
            ok, _ = tr.call("handshake", sock.do_handshake)
            if ok:
                tr.read_all(sock)
            out.append((k, cut == len(flight), tr))
        finally:
            loop.release()
    return out


@pytest.mark.parametrize("version", VERSIONS)
def test_server_flight_cut_at_every_offset(impl, certs, loop, version):
    """The server's first flight (ServerHello .. ServerHelloDone in 1.2,
    .. server Finished in 1.3) cut after k bytes, then FIN, for every k."""
    nominal = _flight_length(certs, loop, version)
    key = ("flight-sweep", version)
    if key not in _STDLIB:
        _STDLIB[key] = _flight_sweep(ssl, certs, loop, version, nominal)
    ref = _STDLIB[key]
    got = _flight_sweep(impl, certs, loop, version, nominal)
    differ = [(k, g.events, r.events) for (k, _, g), (_, _, r) in zip(got, ref)
              if g.events != r.events]
    assert not differ, (f"{len(differ)} of {len(got)} offsets differ from the stdlib; "
                        f"first: {differ[:3]}")
    for k, whole, tr in got:
        if not whole or version == "1.2":
            # an incomplete handshake: EOF in violation of protocol (3.9,
            # OP_IGNORE_UNEXPECTED_EOF: the connection "closed")
            assert tr.get("handshake")[0] == "raised", (k, tr)
            exc = tr.exceptions["handshake"]
            if RAGGED_EOF_IS_CLEAN:
                assert type(exc) is ssl.SSLZeroReturnError, (k, exc)
                continue
            assert type(exc) is ssl.SSLEOFError, (k, exc)
            assert exc.reason == "UNEXPECTED_EOF_WHILE_READING"
            assert_clear_message(exc)
        else:  # TLS 1.3: the whole flight is all the client needs
            assert tr.get("handshake") == ("ok", None), (k, tr)
            assert tr.get("data") == ("ok", b"")


#: the payload of the record cut at every offset
CUT_PAYLOAD = bytes(range(40))


def _record_sweep(mod, certs, loop, version, suppress, size, into) -> list:
    """Records A and B whole, then record C cut at every offset, then FIN."""
    a, b, c = b"A" * 50, b"B" * 3000, CUT_PAYLOAD
    server = sctx(ssl, certs, version)
    client = cctx(mod, certs, version)
    out = []
    record_c = None
    for k in range(10 ** 4):
        with established(loop, client, server, suppress_ragged_eofs=suppress) as (sock, peer):
            whole = peer.encrypt(a) + peer.encrypt(b)
            this_c = peer.encrypt(c)
            assert len(record_lengths(this_c)) == 1
            record_c = record_c or this_c
            assert len(this_c) == len(record_c)  # same cipher every time
            peer.raw.sendall(whole + this_c[:k])
            half_close(peer.raw)
            tr = Trace()
            tr.read_all(sock, size=size, into=into)
            out.append((k, tr))
        if k >= len(record_c):
            break
    return out


@pytest.mark.parametrize("suppress, read", [(False, "recv-7"), (False, "recv_into-64k"),
                                            (True, "recv-7")],
                         ids=["strict-recv-7", "strict-recv_into-64k", "suppress-recv-7"])
@pytest.mark.parametrize("version", VERSIONS)
def test_application_record_cut_at_every_offset(impl, certs, loop, version, suppress, read):
    """What came before the cut is returned exactly once -- never the part
    of the cut record, never twice -- then EOF as the stdlib reports it
    (SSLEOFError, or b'' with suppress_ragged_eofs).  ``recv-7`` splits
    every record over several calls; ``recv_into-64k`` takes each whole."""
    size, into = (7, False) if read == "recv-7" else (65536, True)
    key = ("record-sweep", version, suppress, read)
    if key not in _STDLIB:
        _STDLIB[key] = _record_sweep(ssl, certs, loop, version, suppress, size, into)
    ref = _STDLIB[key]
    got = _record_sweep(impl, certs, loop, version, suppress, size, into)
    assert len(got) == len(ref)
    differ = [(k, g.events, r.events) for (k, g), (_, r) in zip(got, ref) if g.events != r.events]
    assert not differ, (f"{len(differ)} of {len(got)} offsets differ from the stdlib; "
                        f"first: {differ[:3]}")
    before = b"A" * 50 + b"B" * 3000
    last = len(got) - 1
    for k, tr in got:
        assert tr.get("data") == ("ok", before if k < last else before + CUT_PAYLOAD), k
        end = tr.get("end")
        if suppress or RAGGED_EOF_IS_CLEAN:     # (3.9: OP_IGNORE_UNEXPECTED_EOF)
            assert end == ("ok", b""), (k, end)
        else:
            assert end[0] == "raised" and end[1][0] == "SSLEOFError", (k, end)
            assert end[1][3] == "UNEXPECTED_EOF_WHILE_READING"


# --------------------------------------------------------------------------
# TCP reset
# --------------------------------------------------------------------------

def _rst_answer(certs, version, when):
    def answer(raw, hello):
        flight = ServerFlight(sctx(ssl, certs, version), hello).flight
        if when == "mid-flight":
            raw.sendall(flight[:len(flight) // 2])
        elif when == "after-flight":
            raw.sendall(flight)
        reset(raw)
    return answer


@pytest.mark.parametrize("when", ["before-answer", "mid-flight", "after-flight"])
@pytest.mark.parametrize("version", VERSIONS)
def test_reset_during_handshake_client(impl, certs, loop, version, when):
    got, _ = against_stdlib(
        impl, ("rst-handshake-client", version, when),
        lambda mod: client_meets(mod, certs, loop, _rst_answer(certs, version, when),
                                 version=version))
    if when != "after-flight":
        kind, value = got.get("handshake")
        assert kind == "raised" and value[0] == "ConnectionResetError", got


@pytest.mark.parametrize("when", ["mid-hello", "after-hello"])
def test_reset_during_handshake_server(impl, certs, loop, when):
    hello = client_hello(certs)

    def send(raw):
        raw.sendall(hello[:len(hello) // 2] if when == "mid-hello" else hello)
        reset(raw)

    got, _ = against_stdlib(impl, ("rst-handshake-server", when),
                            lambda mod: server_meets(mod, certs, loop, send))
    assert got.get("handshake")[0] == "raised", got


def _stream_reset(mod, certs, loop, version, suppress, how):
    """After the handshake: data, then a RST; the client reads and writes."""
    tr = Trace()
    with established(loop, cctx(mod, certs, version), sctx(ssl, certs, version),
                     suppress_ragged_eofs=suppress) as (sock, peer):
        first = peer.encrypt(b"first record")
        second = peer.encrypt(b"second record" * 10)
        if how == "after-read":
            peer.raw.sendall(first)
            tr.call("recv", sock.recv, 100)
            reset(peer.raw)
        else:
            data = first + (second if how == "unread" else second[:len(second) // 2])
            peer.raw.sendall(data)
            wait_inq(sock, len(data))  # all of it arrived before the RST
            reset(peer.raw)
        wait_tcp_state(sock, TCP_CLOSE)
        tr.read_all(sock)
        tr.call("recv-again", sock.recv, 100)
        tr.call("send", sock.send, b"into the void")
    return tr


@pytest.mark.parametrize("how", ["after-read", "unread", "mid-record"])
@pytest.mark.parametrize("suppress", [False, True], ids=["strict", "suppress"])
@pytest.mark.parametrize("version", VERSIONS)
def test_reset_mid_stream(impl, certs, loop, version, suppress, how):
    got, _ = against_stdlib(
        impl, ("rst-stream", version, suppress, how),
        lambda mod: _stream_reset(mod, certs, loop, version, suppress, how))
    # data that arrived before the RST is delivered, once
    expected = {"after-read": b"", "unread": b"first record" + b"second record" * 10,
                "mid-record": b"first record"}[how]
    assert got.get("data") == ("ok", expected)


# --------------------------------------------------------------------------
# stalls: timeouts fire within bounds
# --------------------------------------------------------------------------

def _timed(tr: Trace, step: str, fn, *args) -> float:
    t0 = time.monotonic()
    tr.call(step, fn, *args)
    return time.monotonic() - t0


def _assert_timeout(tr: Trace, step: str, elapsed: float) -> None:
    kind, value = tr.get(step)
    assert kind == "raised" and value[0] == socket.timeout.__name__, tr
    assert "timed out" in value[-1]
    assert 0.8 * STALL <= elapsed <= STALL + LATE, elapsed


def _stalled_client(mod, certs, loop, version, stage):
    tr = Trace()
    raw_c, raw_s = loop.pair()
    try:
        sock = loop.track(start_client(cctx(mod, certs, version), raw_c))
        hello = read_record(raw_s)
        if stage == "partial-flight":
            flight = ServerFlight(sctx(ssl, certs, version), hello).flight
            raw_s.sendall(flight[:len(flight) // 2])
        sock.settimeout(STALL)
        tr.elapsed = _timed(tr, "handshake", sock.do_handshake)
    finally:
        loop.release()
    return tr


@pytest.mark.parametrize("stage", ["silent", "partial-flight"])
@pytest.mark.parametrize("version", VERSIONS)
def test_handshake_times_out_client(impl, certs, loop, version, stage):
    got, _ = against_stdlib(impl, ("stall-client", version, stage),
                            lambda mod: _stalled_client(mod, certs, loop, version, stage))
    _assert_timeout(got, "handshake", got.elapsed)


@pytest.mark.parametrize("stage", ["silent", "partial-hello"])
def test_handshake_times_out_server(impl, certs, loop, stage):
    hello = client_hello(certs)

    def run(mod):
        tr = Trace()
        raw_c, raw_s = loop.pair()
        try:
            if stage == "partial-hello":
                raw_c.sendall(hello[:len(hello) // 2])
            raw_s.settimeout(STALL)
            tr.elapsed = _timed(tr, "handshake", lambda: loop.track(
                sctx(mod, certs).wrap_socket(raw_s, server_side=True)))
        finally:
            loop.release()
        return tr

    got, _ = against_stdlib(impl, ("stall-server", stage), run)
    _assert_timeout(got, "handshake", got.elapsed)


def _stalled_read(mod, certs, loop, version, stage):
    tr = Trace()
    with established(loop, cctx(mod, certs, version), sctx(ssl, certs, version)) as (sock, peer):
        first = peer.encrypt(b"complete")
        second = peer.encrypt(b"cut in two" * 100)
        if stage == "silent":
            peer.raw.sendall(first)
        else:
            peer.raw.sendall(first + second[:len(second) // 2])
        tr.call("recv-first", sock.recv, 4096)
        sock.settimeout(STALL)
        tr.elapsed = _timed(tr, "recv-stalled", sock.recv, 4096)
        # the connection survives the timeout; the rest of the record completes it
        sock.settimeout(5.0)
        peer.raw.sendall(second[len(second) // 2:] if stage != "silent" else second)
        tr.call("recv-rest", sock.recv, 4096)
        tr.call("pending", sock.pending)
    return tr


@pytest.mark.parametrize("stage", ["silent", "mid-record"])
@pytest.mark.parametrize("version", VERSIONS)
def test_read_times_out(impl, certs, loop, version, stage):
    got, _ = against_stdlib(impl, ("stall-read", version, stage),
                            lambda mod: _stalled_read(mod, certs, loop, version, stage))
    assert got.get("recv-first") == ("ok", b"complete")
    _assert_timeout(got, "recv-stalled", got.elapsed)
    assert got.get("recv-rest") == ("ok", b"cut in two" * 100)  # once, whole


def test_write_times_out(impl, certs, loop):
    """The peer never reads: sendall fills both socket buffers, then times out."""
    def run(mod):
        tr = Trace()
        with established(loop, cctx(mod, certs), sctx(ssl, certs)) as (sock, peer):
            sock.settimeout(STALL)
            tr.elapsed = _timed(tr, "sendall", sock.sendall, bytes(32 << 20))
        return tr

    got, _ = against_stdlib(impl, ("stall-write",), run)
    _assert_timeout(got, "sendall", got.elapsed)


# --------------------------------------------------------------------------
# oversized records
# --------------------------------------------------------------------------

#: record lengths above what a peer may send: 2^14+2048+1 (> TLS 1.2's
#: ciphertext limit), 2^14+256+1 (> TLS 1.3's), and the largest header value
OVERSIZED = {"2^14+2048+1": (1 << 14) + 2048 + 1, "2^14+256+1": (1 << 14) + 256 + 1,
             "65535": 65535}


def _oversized(mod, certs, loop, version, length, side):
    tr = Trace()
    if side == "client":
        ctx, peer_ctx = cctx(mod, certs, version), sctx(ssl, certs, version)
    else:
        ctx, peer_ctx = sctx(mod, certs, version), cctx(ssl, certs, version)
    with established(loop, ctx, peer_ctx, server_side=(side == "server")) as (sock, peer):
        good = peer.encrypt(b"good record")
        junk = random.Random(length).randbytes(length)
        peer.raw.sendall(good + record(APPLICATION_DATA, junk))
        tr.read_all(sock)
    return tr


@pytest.mark.parametrize("side", ["client", "server"])
@pytest.mark.parametrize("length", sorted(OVERSIZED))
@pytest.mark.parametrize("version", VERSIONS)
def test_oversized_record(impl, certs, loop, version, length, side):
    got, _ = against_stdlib(
        impl, ("oversized", version, length, side),
        lambda mod: _oversized(mod, certs, loop, version, OVERSIZED[length], side))
    assert got.get("data") == ("ok", b"good record")
    kind, value = got.get("end")
    assert kind == "raised" and value[0] == "SSLError", got
    exc = got.exceptions["end"]
    assert_clear_message(exc)
    if length == "2^14+2048+1" or (version == "1.3" and length != "65535"):
        # the header alone is over the limit: refused before decrypting
        assert exc.reason in ("ENCRYPTED_LENGTH_TOO_LONG", "RECORD_OVERFLOW",
                              "PACKET_LENGTH_TOO_LONG"), exc


# --------------------------------------------------------------------------
# alerts
# --------------------------------------------------------------------------

#: alert description -> the reason OpenSSL names it by
FATAL_ALERTS = {
    10: "SSLV3_ALERT_UNEXPECTED_MESSAGE",
    20: "SSLV3_ALERT_BAD_RECORD_MAC",
    40: "SSLV3_ALERT_HANDSHAKE_FAILURE",
    47: "SSLV3_ALERT_ILLEGAL_PARAMETER",
    48: "TLSV1_ALERT_UNKNOWN_CA",
    49: "TLSV1_ALERT_ACCESS_DENIED",
    50: "TLSV1_ALERT_DECODE_ERROR",
    70: "TLSV1_ALERT_PROTOCOL_VERSION",
    71: "TLSV1_ALERT_INSUFFICIENT_SECURITY",
    80: "TLSV1_ALERT_INTERNAL_ERROR",
    112: "TLSV1_UNRECOGNIZED_NAME",
}


@pytest.mark.parametrize("description", sorted(FATAL_ALERTS))
def test_fatal_alert_instead_of_server_hello(impl, certs, loop, description):
    got, _ = against_stdlib(
        impl, ("alert-to-client", description),
        lambda mod: client_meets(mod, certs, loop, then_half_close(alert(description))))
    kind, value = got.get("handshake")
    assert kind == "raised" and value[0] == "SSLError", got
    exc = got.exceptions["handshake"]
    assert exc.reason == FATAL_ALERTS[description]
    assert exc.args[0] == ssl.SSL_ERROR_SSL
    assert "alert" in str(exc).lower() or "unrecognized name" in str(exc)


@pytest.mark.parametrize("description", [20, 40, 70, 80])
def test_fatal_alert_instead_of_client_hello(impl, certs, loop, description):
    got, _ = against_stdlib(
        impl, ("alert-to-server", description),
        lambda mod: server_meets(mod, certs, loop, then_half_close(alert(description))))
    kind, value = got.get("handshake")
    assert kind == "raised", got
    assert_clear_message(got.exceptions["handshake"])


@pytest.mark.parametrize("kind", ["warning-close_notify", "warning-user_canceled",
                                  "warning-no_renegotiation", "unknown-description"])
def test_other_alerts_during_handshake(impl, certs, loop, kind):
    data = {"warning-close_notify": alert(0, level=1),
            "warning-user_canceled": alert(90, level=1),
            "warning-no_renegotiation": alert(100, level=1),
            "unknown-description": alert(222)}[kind]
    got, _ = against_stdlib(impl, ("other-alert", kind),
                            lambda mod: client_meets(mod, certs, loop, then_half_close(data)))
    assert got.get("handshake")[0] == "raised", got
    assert_clear_message(got.exceptions["handshake"])


def _encrypted_alert(mod, certs, loop, version, trigger):
    """After the handshake the by-hand peer rejects what we sent (a corrupted
    record / an oversized one) and answers with an encrypted fatal alert."""
    tr = Trace()
    with established(loop, cctx(mod, certs, version), sctx(ssl, certs, version)) as (sock, peer):
        sock.sendall(b"to be corrupted")
        sent = recv_available(peer.raw, 2.0)
        if trigger == "bad_record_mac":
            damaged = sent[:-1] + bytes([sent[-1] ^ 0x55])  # the AEAD tag
        else:  # record_overflow
            damaged = record(APPLICATION_DATA, bytes((1 << 14) + 2048 + 1))
        peer.feed(damaged)
        try:
            peer.obj.read(100)
            raise AssertionError("the peer accepted a damaged record")
        except ssl.SSLError:
            pass
        data_then_alert = peer.outgoing.read()
        peer.raw.sendall(data_then_alert)
        half_close(peer.raw)
        tr.read_all(sock)
        tr.call("send-after", sock.send, b"x")
    return tr


@pytest.mark.parametrize("trigger, reason", [
    ("bad_record_mac", "SSLV3_ALERT_BAD_RECORD_MAC"),
    ("record_overflow", "TLSV1_ALERT_RECORD_OVERFLOW"),
])
@pytest.mark.parametrize("version", VERSIONS)
def test_encrypted_fatal_alert_after_handshake(impl, certs, loop, version, trigger, reason):
    got, _ = against_stdlib(impl, ("encrypted-alert", version, trigger),
                            lambda mod: _encrypted_alert(mod, certs, loop, version, trigger))
    kind, value = got.get("end")
    assert kind == "raised", got
    assert got.exceptions["end"].reason == reason


# --------------------------------------------------------------------------
# close_notify while we write
# --------------------------------------------------------------------------

def _close_notify_while_writing(mod, certs, loop, version, then):
    tr = Trace()
    with established(loop, cctx(mod, certs, version), sctx(ssl, certs, version)) as (sock, peer):
        peer.raw.sendall(peer.encrypt(b"last words") + peer.close_notify())
        if then == "closes":
            peer.raw.close()  # FIN; our next records will draw a RST
        for i in range(4):
            ok, _ = tr.call(f"send{i}", sock.send, bytes([i]) * 1000)
            if ok and then == "closes":
                wait_tcp_state(sock, TCP_CLOSE)  # the RST for that data is here
        tr.call("recv0", sock.recv, 100)
        tr.call("recv1", sock.recv, 100)
        tr.call("recv2", sock.recv, 100)
        tr.call("send-after-eof", sock.send, b"more")
        if then == "keeps-open":
            tr.note("peer-got", sum(record_lengths(recv_available(peer.raw, 0.2))) > 0)
    return tr


@pytest.mark.parametrize("then", ["keeps-open", "closes"])
@pytest.mark.parametrize("version", VERSIONS)
def test_close_notify_while_writing(impl, certs, loop, version, then):
    """The peer says close_notify (and keeps its socket open, or closes it)
    while we keep writing: each write succeeds or fails as with the stdlib,
    and reads then give the data before the close_notify, then EOF."""
    got, _ = against_stdlib(impl, ("close-notify-writing", version, then),
                            lambda mod: _close_notify_while_writing(mod, certs, loop, version,
                                                                    then))
    assert got.get("recv0") == ("ok", b"last words")
    if then == "keeps-open":
        assert got.get("recv1") == ("ok", b"")
        assert got.get("recv2") == ("ok", b"")


# --------------------------------------------------------------------------
# the descriptor closed under the SSLSocket
# --------------------------------------------------------------------------

FD_OPS = {
    "recv": lambda s: s.recv(100),
    "recv_into": lambda s: s.recv_into(bytearray(100)),
    "send": lambda s: s.send(b"data"),
    "sendall": lambda s: s.sendall(b"data" * 10000),
    "pending": lambda s: s.pending(),
    "getpeercert": lambda s: bool(s.getpeercert()),
    "cipher": lambda s: s.cipher()[1],
    "unwrap": lambda s: s.unwrap() and None,
    "do_handshake": lambda s: s.do_handshake(),
    "close": lambda s: s.close(),
}


@pytest.mark.parametrize("mode", ["timeout", "non-blocking"])
@pytest.mark.parametrize("op", sorted(FD_OPS))
def test_fd_closed_under_the_socket(impl, certs, loop, op, mode):
    """``os.close(sock.fileno())`` then one call: the stdlib's exception
    type (or result), no crash.  Nothing may open a descriptor in between
    (it would get the same number), so the call follows at once and the
    socket object is detached, not closed, afterwards."""
    def run(mod):
        tr = Trace()
        with established(loop, cctx(mod, certs), sctx(ssl, certs)) as (sock, peer):
            peer.raw.sendall(peer.encrypt(b"waiting"))
            wait_readable(sock)
            sock.settimeout({"blocking": None, "timeout": 2.0, "non-blocking": 0.0}[mode])
            os.close(sock.fileno())
            try:
                tr.call(op, FD_OPS[op], sock)
                tr.call("again", FD_OPS["recv"], sock)
            finally:
                with contextlib.suppress(OSError):
                    sock.detach()  # never close the (freed) number again
        return tr

    got, _ = against_stdlib(impl, ("fd-closed", op, mode), run)
    for step in (op, "again"):
        if step in got.exceptions:
            assert_clear_message(got.exceptions[step])


@pytest.mark.parametrize("how", ["close", "shutdown-then-close"])
def test_close_from_another_thread_while_blocked_in_recv(impl, certs, loop, how):
    """Thread B closes the SSLSocket while thread A waits in recv() with a
    0.5 s timeout: A gets an error (or EOF) within bounds, nothing crashes."""
    timeout = 0.5

    def run(mod):
        tr = Trace()
        with established(loop, cctx(mod, certs), sctx(ssl, certs)) as (sock, peer):
            sock.settimeout(timeout)

            def closer():
                time.sleep(0.2)
                if how == "shutdown-then-close":
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

            t = threading.Thread(target=closer, daemon=True)
            t.start()
            t0 = time.monotonic()
            tr.call("recv", sock.recv, 100)
            tr.elapsed = time.monotonic() - t0
            t.join(5)
            assert not t.is_alive()
            tr.call("recv-after", sock.recv, 100)
            tr.note("fileno", sock.fileno())
        if how == "shutdown-then-close" and RESET_IS_OSERROR:
            # The EOF of shutdown() wakes recv's poll(); the close() right
            # after races with the read that follows, in the stdlib as here:
            # read first, the end of the stream (b''); close first, EBADF
            # (an OSError from 3.13 and on 3.9, an EOF in between).  Either
            # order is a right answer.
            tr.events = [("recv", "EOF or EBADF", None)
                         if e[0] == "recv" and (e[1:] == ("ok", b"")
                                                or (e[1] == "raised" and e[2][:2] == ("OSError", 9)))
                         else e for e in tr.events]
        return tr

    got, _ = against_stdlib(impl, ("close-from-thread", how), run)
    assert got.elapsed <= timeout + LATE, got.elapsed
    if how == "close":  # close() does not wake poll(): the timeout does
        assert got.elapsed >= 0.8 * timeout
    for step in ("recv", "recv-after"):
        if step in got.exceptions:
            assert_clear_message(got.exceptions[step])
