"""Bad arguments and calls on closed sockets: every case is run against the
stdlib too, and the implementation must raise exactly the stdlib's exception
type (and, where the stdlib accepts the input, behave the same way).  A
failing call must not eat data the TLS layer already holds, nor send any."""

import errno
import selectors
import socket
import ssl
import sys

import pytest

from helpers import Certs, outcome, recv_exactly, wait_for

pytestmark = pytest.mark.timeout(20)


def _pair(net, client_ctx, server_ctx, mod):
    """A connected pair whose client is ``mod``'s, with b"precious" already
    delivered to the client's kernel buffer (not yet read).  TLS 1.2, so that
    no session ticket arrives after the handshake: "readable" then means the
    record is there."""
    client, server = net.tls_pair(client_ctx(mod, "1.2"), server_ctx(ssl, "1.2"))
    server.sendall(b"precious")
    wait_for(client, selectors.EVENT_READ)
    return client, server


def _assert_same_raise(got, ref, expected=None):
    assert ref.raised is not None, f"the stdlib accepted this: {ref}"
    if expected is not None:
        assert ref.raised is expected, f"the stdlib changed: {ref}"
    assert got.raised is ref.raised, f"impl {got} but stdlib {ref}"
    if type(ref.exc) in (OSError, FileNotFoundError, IsADirectoryError):
        assert got.exc.errno == ref.exc.errno


# --------------------------------------------------------------------------
# data calls on a connected socket
# --------------------------------------------------------------------------

SOCKET_CASES = {
    # name: (call, the stdlib's exception type)
    "send-str": (lambda s: s.send("text"), TypeError),
    "send-none": (lambda s: s.send(None), TypeError),
    "send-int": (lambda s: s.send(5), TypeError),
    "send-flags": (lambda s: s.send(b"x", socket.MSG_OOB), ValueError),
    "sendall-str": (lambda s: s.sendall("text"), TypeError),
    "sendall-list": (lambda s: s.sendall([1, 2]), TypeError),
    "write-str": (lambda s: s.write("text"), TypeError),
    "recv-str-size": (lambda s: s.recv("10"), TypeError),
    "recv-float-size": (lambda s: s.recv(1.5), TypeError),
    "recv-negative": (lambda s: s.recv(-1), ValueError),
    "read-negative": (lambda s: s.read(-1), ValueError),
    # (MSG_PEEK is a deliberate tlsfast addition, tested in test_beyond_stdlib)
    "recv-flags": (lambda s: s.recv(10, socket.MSG_OOB), ValueError),
    "recv_into-flags": (lambda s: s.recv_into(bytearray(10), 10, socket.MSG_OOB), ValueError),
    "recv_into-bytes": (lambda s: s.recv_into(b"read-only buffer"), TypeError),
    "recv_into-readonly-view": (lambda s: s.recv_into(memoryview(b"read-only")), TypeError),
    "recv_into-str": (lambda s: s.recv_into("text buffer"), TypeError),
    "recv_into-float-nbytes": (lambda s: s.recv_into(bytearray(10), 2.0), TypeError),
}


@pytest.mark.parametrize("case", sorted(SOCKET_CASES))
def test_bad_data_call(impl, net, client_ctx, server_ctx, case):
    call, expected = SOCKET_CASES[case]
    client, server = _pair(net, client_ctx, server_ctx, impl)
    ref_client, _ = _pair(net, client_ctx, server_ctx, ssl)
    got = outcome(call, client)
    _assert_same_raise(got, outcome(call, ref_client), expected)

    # nothing was lost, nothing was sent, the connection still works
    assert recv_exactly(client, 8) == b"precious"
    client.sendall(b"after")
    assert recv_exactly(server, 5) == b"after"


def test_recv_into_nbytes_larger_than_buffer(impl, net, client_ctx, server_ctx):
    """tlsfast's recv_into refuses nbytes > len(buffer) with ValueError, as
    socket.recv_into does (ssl.SSLSocket.recv_into silently reads less:
    a deliberate difference).  Not a byte may land outside the buffer and
    the data stays readable."""
    client, _ = _pair(net, client_ctx, server_ctx, impl)
    backing = bytearray(b"\xee" * 16)
    view = memoryview(backing)[:4]
    with pytest.raises(ValueError) as info:
        client.recv_into(view, 8)
    assert type(info.value) is ValueError
    assert backing == b"\xee" * 16
    assert recv_exactly(client, 8) == b"precious"


def test_try_recv_into_nbytes_larger_than_buffer(impl, net, client_ctx, server_ctx):
    """The fast path either refuses (ValueError) or fills just the buffer."""
    client, _ = _pair(net, client_ctx, server_ctx, impl)
    backing = bytearray(b"\xee" * 16)
    view = memoryview(backing)[:4]
    client.setblocking(False)
    got = outcome(client.try_recv_into, view, 8)
    client.setblocking(True)
    assert backing[4:] == b"\xee" * 12
    if got.raised is not None:
        assert got.raised is ValueError, got
        assert recv_exactly(client, 8) == b"precious"
    else:
        assert got.value == 4, got
        assert backing[:4] == b"prec"
        assert recv_exactly(client, 4) == b"ious"


class _LenRaises(bytearray):
    def __len__(self):
        raise ZeroDivisionError("len() must not be asked")


@pytest.mark.parametrize("make", [
    lambda: __import__("array").array("I", [0, 0, 0, 0]),
    lambda: _LenRaises(16),
    lambda: memoryview(bytearray(16)).cast("I"),
], ids=["array-I", "len-raises", "memoryview-I"])
def test_recv_into_default_size_as_the_stdlib(impl, net, client_ctx, server_ctx, make):
    """recv_into(buffer) without nbytes sizes the buffer as the running
    stdlib does (a multi-byte item format counts bytes, not items, and
    len() is not needed): same count, same bytes, same exception."""
    ref_client, _ = _pair(net, client_ctx, server_ctx, ssl)
    ref_buf = make()
    ref = outcome(ref_client.recv_into, ref_buf)
    client, _ = _pair(net, client_ctx, server_ctx, impl)
    buf = make()
    got = outcome(client.recv_into, buf)
    if impl.name == "c":
        # the compiled implementation counts bytes on every Python, as the
        # stdlib does from 3.11 (before, it took len(): items, and len()
        # had to work)
        assert (got.raised, got.value) == (None, 8)
        assert bytes(memoryview(buf).cast("B"))[:8] == b"precious"
    else:
        assert (got.raised, got.value) == (ref.raised, ref.value)
        assert bytes(memoryview(buf).cast("B")) == bytes(memoryview(ref_buf).cast("B"))
    if sys.version_info >= (3, 11):
        assert (ref.raised, ref.value) == (None, 8)


def test_recv_into_negative_nbytes_reads_whole_buffer(impl, net, client_ctx, server_ctx):
    """Another stdlib quirk: recv_into(buf, -1) reads up to len(buf)."""
    ref_client, _ = _pair(net, client_ctx, server_ctx, ssl)
    ref = outcome(ref_client.recv_into, bytearray(4), -1)
    client, _ = _pair(net, client_ctx, server_ctx, impl)
    buf = bytearray(4)
    got = outcome(client.recv_into, buf, -1)
    assert (got.raised, got.value) == (ref.raised, ref.value) == (None, 4)
    assert buf == b"prec"
    assert recv_exactly(client, 4) == b"ious"


@pytest.mark.parametrize("call", [
    lambda s: s.try_recv_into(b"read-only buffer"),
    lambda s: s.try_recv_into("text"),
    lambda s: s.try_send("text"),
    lambda s: s.try_send(None),
], ids=["try_recv_into-bytes", "try_recv_into-str", "try_send-str", "try_send-none"])
def test_bad_fast_path_call(impl, net, client_ctx, server_ctx, call):
    client, server = _pair(net, client_ctx, server_ctx, impl)
    client.setblocking(False)
    with pytest.raises(TypeError) as info:
        call(client)
    assert type(info.value) is TypeError
    client.setblocking(True)
    assert recv_exactly(client, 8) == b"precious"
    client.sendall(b"after")
    assert recv_exactly(server, 5) == b"after"


def test_empty_reads_and_writes(impl, net, client_ctx, server_ctx):
    client, server = _pair(net, client_ctx, server_ctx, impl)
    assert client.recv(0) == b""
    assert client.recv_into(bytearray(0)) == 0
    assert client.send(b"") == 0
    client.sendall(b"")
    assert recv_exactly(client, 8) == b"precious"


# --------------------------------------------------------------------------
# a closed SSLSocket
# --------------------------------------------------------------------------

CLOSED_CASES = {
    "recv": (lambda s: s.recv(10), OSError),
    "recv_into": (lambda s: s.recv_into(bytearray(10)), OSError),
    "send": (lambda s: s.send(b"x"), OSError),
    "sendall": (lambda s: s.sendall(b"x"), OSError),
    "read": (lambda s: s.read(10), ValueError),
    "write": (lambda s: s.write(b"x"), ValueError),
    "do_handshake": (lambda s: s.do_handshake(), OSError),
    "unwrap": (lambda s: s.unwrap(), ValueError),
    "settimeout": (lambda s: s.settimeout(1), OSError),
}


@pytest.mark.parametrize("case", sorted(CLOSED_CASES))
def test_call_on_closed_socket(impl, net, client_ctx, server_ctx, case):
    call, expected = CLOSED_CASES[case]
    client, _ = _pair(net, client_ctx, server_ctx, impl)
    ref_client, _ = _pair(net, client_ctx, server_ctx, ssl)
    client.close()
    ref_client.close()
    got, ref = outcome(call, client), outcome(call, ref_client)
    _assert_same_raise(got, ref, expected)
    if expected is OSError:
        assert got.exc.errno == errno.EBADF


def test_queries_on_closed_socket(impl, net, client_ctx, server_ctx):
    client, _ = _pair(net, client_ctx, server_ctx, impl)
    client.close()
    assert client.fileno() == -1
    assert client.version() is None
    assert client.cipher() is None
    assert client.pending() == 0
    assert client.selected_alpn_protocol() is None
    client.close()  # twice is fine


# --------------------------------------------------------------------------
# contexts and wrap_socket
# --------------------------------------------------------------------------

def _ctx(mod, server=False):
    return mod.SSLContext(mod.PROTOCOL_TLS_SERVER if server else mod.PROTOCOL_TLS_CLIENT)


CONTEXT_CASES = {
    # name: (call(mod, certs, net), the stdlib's exception type)
    "context-protocol-99": (lambda m, c, n: m.SSLContext(99), ValueError),
    "context-protocol-str": (lambda m, c, n: m.SSLContext("tls"), TypeError),
    "wrap-int": (lambda m, c, n: _ctx(m).wrap_socket(42, server_hostname="localhost"),
                 AttributeError),
    "wrap-none": (lambda m, c, n: _ctx(m).wrap_socket(None, server_hostname="localhost"),
                  AttributeError),
    "wrap-udp": (lambda m, c, n: _ctx(m).wrap_socket(
        n.track(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)),
        server_hostname="localhost"), NotImplementedError),
    "wrap-hostname-int": (lambda m, c, n: _ctx(m).wrap_socket(
        n.track(socket.socket()), server_hostname=5), AttributeError),
    "wrap-hostname-empty": (lambda m, c, n: _ctx(m).wrap_socket(
        n.track(socket.socket()), server_hostname=""), ValueError),
    "wrap-server-with-hostname": (lambda m, c, n: _ctx(m, True).wrap_socket(
        n.track(socket.socket()), server_side=True, server_hostname="localhost"), ValueError),
    "load_cert_chain-int": (lambda m, c, n: _ctx(m, True).load_cert_chain(123), TypeError),
    "load_cert_chain-none": (lambda m, c, n: _ctx(m, True).load_cert_chain(None), TypeError),
    "load_cert_chain-missing": (lambda m, c, n: _ctx(m, True).load_cert_chain(
        "/nonexistent/tlsfast/cert.pem"), FileNotFoundError),
    "load_cert_chain-missing-key": (lambda m, c, n: _ctx(m, True).load_cert_chain(
        c.server.chain, "/nonexistent/tlsfast/key.pem"), FileNotFoundError),
    "load_cert_chain-directory": (lambda m, c, n: _ctx(m, True).load_cert_chain(
        "/tmp"), IsADirectoryError),
    "load_cert_chain-not-pem": (lambda m, c, n: _ctx(m, True).load_cert_chain(__file__),
                                ssl.SSLError),
    "load_cert_chain-key-mismatch": (lambda m, c, n: _ctx(m, True).load_cert_chain(
        c.server.chain, c.alt.key), ssl.SSLError),
    "load_cert_chain-password-int": (lambda m, c, n: _ctx(m, True).load_cert_chain(
        c.encrypted.chain, c.encrypted.key, password=5), TypeError),
    "load_cert_chain-password-too-long": (lambda m, c, n: _ctx(m, True).load_cert_chain(
        c.encrypted.chain, c.encrypted.key, password="x" * 2000), ValueError),
    "load_cert_chain-password-callback-int": (lambda m, c, n: _ctx(m, True).load_cert_chain(
        c.encrypted.chain, c.encrypted.key, password=lambda: 5), TypeError),
    "load_cert_chain-password-callback-raises": (lambda m, c, n: _ctx(m, True).load_cert_chain(
        c.encrypted.chain, c.encrypted.key, password=lambda: {}["no key"]), KeyError),
    "load_verify_locations-nothing": (lambda m, c, n: _ctx(m).load_verify_locations(),
                                      TypeError),
    "load_verify_locations-int": (lambda m, c, n: _ctx(m).load_verify_locations(5), TypeError),
    "load_verify_locations-missing": (lambda m, c, n: _ctx(m).load_verify_locations(
        "/nonexistent/tlsfast/ca.pem"), FileNotFoundError),
    "load_verify_locations-not-pem": (lambda m, c, n: _ctx(m).load_verify_locations(
        __file__), ssl.SSLError),
    "load_verify_locations-cadata-int": (lambda m, c, n: _ctx(m).load_verify_locations(
        cadata=5), TypeError),
    "load_verify_locations-cadata-garbage": (lambda m, c, n: _ctx(m).load_verify_locations(
        cadata="garbage"), ssl.SSLError),
    "set_alpn_protocols-none": (lambda m, c, n: _ctx(m).set_alpn_protocols(None), TypeError),
    "set_alpn_protocols-ints": (lambda m, c, n: _ctx(m).set_alpn_protocols([1]), TypeError),
    "set_alpn_protocols-bytes": (lambda m, c, n: _ctx(m).set_alpn_protocols([b"h2"]),
                                 TypeError),
    "set_alpn_protocols-empty-name": (lambda m, c, n: _ctx(m).set_alpn_protocols([""]),
                                      ssl.SSLError),
    "set_alpn_protocols-long-name": (lambda m, c, n: _ctx(m).set_alpn_protocols(["x" * 256]),
                                     ssl.SSLError),
    "set_alpn_protocols-non-ascii": (lambda m, c, n: _ctx(m).set_alpn_protocols(["h\xe9"]),
                                     UnicodeEncodeError),
    "set_ciphers-unknown": (lambda m, c, n: _ctx(m).set_ciphers("NO-SUCH-CIPHER"),
                            ssl.SSLError),
    "set_ciphers-int": (lambda m, c, n: _ctx(m).set_ciphers(5), TypeError),
    "set_ecdh_curve-unknown": (lambda m, c, n: _ctx(m).set_ecdh_curve("nope"), ValueError),
    "minimum_version-int": (lambda m, c, n: setattr(_ctx(m), "minimum_version", 5), ValueError),
    "verify_mode-7": (lambda m, c, n: setattr(_ctx(m), "verify_mode", 7), ValueError),
    "options-str": (lambda m, c, n: setattr(_ctx(m), "options", "x"), TypeError),
    "num_tickets-negative": (lambda m, c, n: setattr(_ctx(m, True), "num_tickets", -1),
                             ValueError),
}


@pytest.mark.parametrize("case", sorted(CONTEXT_CASES))
def test_bad_context_call(impl, net, certs, case):
    call, expected = CONTEXT_CASES[case]
    ref = outcome(call, ssl, certs, net)
    got = outcome(call, impl, certs, net)
    _assert_same_raise(got, ref, expected)


@pytest.mark.parametrize("password", [
    "wrong", b"wrong", bytearray(b"wrong"), lambda: "wrong", lambda: b"wrong",
], ids=["str", "bytes", "bytearray", "callable-str", "callable-bytes"])
def test_load_cert_chain_wrong_password(impl, certs, password):
    ctx = _ctx(impl, True)
    with pytest.raises(ssl.SSLError) as info:
        ctx.load_cert_chain(certs.encrypted.chain, certs.encrypted.key, password=password)
    assert type(info.value) is ssl.SSLError


@pytest.mark.parametrize("password", [
    Certs.PASSWORD, Certs.PASSWORD.encode(), bytearray(Certs.PASSWORD.encode()),
    lambda: Certs.PASSWORD, lambda: Certs.PASSWORD.encode(),
], ids=["str", "bytes", "bytearray", "callable-str", "callable-bytes"])
def test_load_cert_chain_right_password(impl, net, certs, client_ctx, password):
    ctx = _ctx(impl, True)
    ctx.load_cert_chain(certs.encrypted.chain, certs.encrypted.key, password=password)
    client, _ = net.tls_pair(client_ctx(ssl), ctx)
    assert client.getpeercert(True) == certs.encrypted.leaf_der


def test_load_cert_chain_accepts_paths(impl, net, certs, client_ctx):
    import pathlib
    ctx = _ctx(impl, True)
    ctx.load_cert_chain(pathlib.Path(certs.server.chain), certs.server.key.encode())
    client, _ = net.tls_pair(client_ctx(ssl), ctx)
    assert client.getpeercert(True) == certs.server.leaf_der


@pytest.mark.parametrize("server_side", [False, True], ids=["client-on-server-ctx",
                                                            "server-on-client-ctx"])
def test_wrong_side_context_as_the_running_stdlib(impl, server_side):
    """A client connection on a PROTOCOL_TLS_SERVER context (or the reverse):
    from 3.10 refused when it is made, with the stdlib's message; on 3.9
    made, and its handshake fails as the stdlib's ("called a function you
    should not call")."""
    protocol = ssl.PROTOCOL_TLS_CLIENT if server_side else ssl.PROTOCOL_TLS_SERVER

    def attempt(mod):
        ctx = mod.SSLContext(protocol)
        ctx.check_hostname = False
        try:
            obj = ctx.wrap_bio(mod.MemoryBIO() if hasattr(mod, "MemoryBIO") else ssl.MemoryBIO(),
                               ssl.MemoryBIO(), server_side=server_side)
            obj.do_handshake()
        except ssl.SSLError as exc:
            # (args: the stdlib's, less the source file it names)
            return type(exc), exc.args[0], str(exc.args[-1]).split(" (")[0], exc.reason
        return None

    got, ref = attempt(impl), attempt(ssl)
    assert ref is not None and got == ref
    if sys.version_info >= (3, 10):
        side, other = ("server", "CLIENT") if server_side else ("client", "SERVER")
        assert got[2] == f"Cannot create a {side} socket with a PROTOCOL_TLS_{other} context"
