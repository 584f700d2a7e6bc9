"""Security defaults, audited against the stdlib.

* client contexts (``create_default_context()``, ``SSLContext(
  PROTOCOL_TLS_CLIENT)``) verify by default: CERT_REQUIRED + check_hostname,
  really enforced (unknown CA -> verify code 20, wrong name -> 62);
* every default attribute (verify mode, versions, options, flags, security
  level, cipher list) equals the stdlib's -- the one deliberate difference:
  tlsfast server contexts add ``OP_NO_RENEGOTIATION``;
* minimum TLS 1.2: a TLS 1.1-only ``openssl s_server -tls1_1`` is refused
  with the stdlib's error, also after lowering the security level (which
  makes the server able to speak TLS 1.1 at all);
* no compression; no renegotiation on servers (``openssl s_client -tls1_2``
  typing ``R`` is refused exactly as by a stdlib server);
* ``check_hostname`` never stays on with ``CERT_NONE``;
* host name checks: every (certificate, server_hostname) case gets the
  stdlib client's verdict -- connect, or SSLCertVerificationError with the
  same verify_code -- plus the SNI the server saw and ``server_hostname``:
  IPv4/IPv6 SANs, an IP written as a DNS SAN, wildcards (no partial ones),
  IDNA, trailing dots, upper case, CN-only certificates.
"""

from __future__ import annotations

import socket
import os
import ssl
import sys
import threading
import warnings

import pytest

from fault_helpers import issue_custom_leaf, summary
from helpers import recv_exactly, with_tlsfast_floor

pytestmark = pytest.mark.timeout(60)

_STDLIB: dict = {}
#: the stdlib (and so tlsfast) warns DeprecationWarning for old protocols,
#: versions and OP_NO_* options from 3.10 on
WARNS_DEPRECATED = sys.version_info >= (3, 10)


def _quiet(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return fn(*args)


CONSTRUCTORS = {
    "create_default_context()": lambda m: m.create_default_context(),
    "create_default_context(CLIENT_AUTH)": lambda m: m.create_default_context(m.Purpose.CLIENT_AUTH),
    "SSLContext(PROTOCOL_TLS_CLIENT)": lambda m: m.SSLContext(m.PROTOCOL_TLS_CLIENT),
    "SSLContext(PROTOCOL_TLS_SERVER)": lambda m: m.SSLContext(m.PROTOCOL_TLS_SERVER),
    "SSLContext(PROTOCOL_TLS)": lambda m: m.SSLContext(m.PROTOCOL_TLS),
}
CLIENT_CONSTRUCTORS = ("create_default_context()", "SSLContext(PROTOCOL_TLS_CLIENT)")
SERVER_CONSTRUCTORS = ("create_default_context(CLIENT_AUTH)", "SSLContext(PROTOCOL_TLS_SERVER)")
ATTRIBUTES = ("verify_mode", "check_hostname", "minimum_version", "maximum_version",
              "verify_flags", "hostname_checks_common_name", "security_level",
              "post_handshake_auth", "protocol", "num_tickets")


# --------------------------------------------------------------------------
# context defaults
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name", CLIENT_CONSTRUCTORS)
def test_client_contexts_verify_by_default(impl, name):
    ctx = _quiet(CONSTRUCTORS[name], impl)
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname is True
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.options & ssl.OP_NO_COMPRESSION


def _stdlib(name):
    """The stdlib's context for ``name``, with tlsfast's TLS 1.2 floor and
    cipher list where the running ssl (3.9) lacks them."""
    return with_tlsfast_floor(_quiet(CONSTRUCTORS[name], ssl))


def _attributes(name):
    """ATTRIBUTES the running ssl has, less 3.9's one other difference:
    its create_default_context() makes PROTOCOL_TLS contexts, where tlsfast
    (and 3.10+) use PROTOCOL_TLS_CLIENT / PROTOCOL_TLS_SERVER."""
    skip = ({"protocol"} if sys.version_info < (3, 10) and name.startswith("create_default")
            else set())
    return [a for a in ATTRIBUTES if hasattr(ssl.SSLContext, a) and a not in skip]


@pytest.mark.parametrize("name", sorted(CONSTRUCTORS))
def test_defaults_equal_the_stdlib(impl, name):
    mine, theirs = _quiet(CONSTRUCTORS[name], impl), _stdlib(name)
    differ = {a: (getattr(mine, a), getattr(theirs, a)) for a in _attributes(name)
              if getattr(mine, a) != getattr(theirs, a)}
    assert not differ, f"{name}: (tlsfast, stdlib) {differ}"
    extra = ssl.OP_NO_RENEGOTIATION if name in SERVER_CONSTRUCTORS else 0
    assert int(mine.options) == int(theirs.options) | extra, (mine.options, theirs.options)
    assert mine.options & ssl.OP_NO_COMPRESSION
    assert [c["name"] for c in mine.get_ciphers()] == [c["name"] for c in theirs.get_ciphers()]


def _verdict(exc):
    if exc is None:
        return "ok"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ("verify", exc.verify_code, exc.verify_message)
    return summary(exc)


@pytest.mark.parametrize("case", ["unknown-ca", "wrong-name"])
@pytest.mark.parametrize("name", CLIENT_CONSTRUCTORS)
def test_default_client_contexts_enforce_verification(impl, net, certs, server_ctx, name, case):
    """Nothing configured but the defaults: an unknown CA (code 20) and, with
    the test CA loaded, a certificate for another name (code 62) fail."""
    def run(mod):
        ctx = _quiet(CONSTRUCTORS[name], mod)
        if case == "wrong-name":
            ctx.load_verify_locations(certs.ca_pem)
        hs = net.handshake(ctx, server_ctx(ssl), server_hostname="not-localhost.example")
        return _verdict(hs.client_exc)

    mine, theirs = run(impl), run(ssl)
    assert mine == theirs
    assert mine[:2] == ("verify", 20 if case == "unknown-ca" else 62)


# --------------------------------------------------------------------------
# check_hostname and CERT_NONE
# --------------------------------------------------------------------------

def _sequence(mod, name, steps):
    ctx = _quiet(CONSTRUCTORS[name], mod)
    out = []
    for attr, value in steps:
        try:
            setattr(ctx, attr, value)
            out.append(("ok",))
        except Exception as exc:  # noqa: BLE001 - compared
            out.append(summary(exc))
        out.append((ctx.check_hostname, ctx.verify_mode))
        assert not (ctx.check_hostname and ctx.verify_mode == ssl.CERT_NONE), out
    return out


SEQUENCES = {
    "cert_none-while-checking": [("verify_mode", ssl.CERT_NONE)],
    "off-none-on": [("check_hostname", False), ("verify_mode", ssl.CERT_NONE),
                    ("check_hostname", True), ("verify_mode", ssl.CERT_NONE)],
    "optional-then-none": [("verify_mode", ssl.CERT_OPTIONAL), ("check_hostname", True),
                           ("verify_mode", ssl.CERT_NONE)],
}


@pytest.mark.parametrize("seq", sorted(SEQUENCES))
@pytest.mark.parametrize("name", sorted(CONSTRUCTORS))
def test_check_hostname_never_with_cert_none(impl, name, seq):
    """Setting CERT_NONE while check_hostname is on raises ValueError;
    turning check_hostname on under CERT_NONE raises the mode to
    CERT_REQUIRED (the stdlib's way): the pair never coexists."""
    mine = _sequence(impl, name, SEQUENCES[seq])
    assert mine == _sequence(ssl, name, SEQUENCES[seq])
    if seq == "cert_none-while-checking" and name in CLIENT_CONSTRUCTORS:
        assert mine[0][0] == "ValueError"


# --------------------------------------------------------------------------
# protocol versions against openssl s_server -tls1_1
# --------------------------------------------------------------------------

def _against_tls11_server(mod, net, certs, ctx_name, lowered):
    """Connect a client context to ``openssl s_server -tls1_1`` (with
    ``@SECLEVEL=0`` on both ends when ``lowered``, so both could speak 1.1)."""
    seclevel = ["-cipher", "DEFAULT:@SECLEVEL=0"] if lowered else []
    proc, port = net.openssl_server("-tls1_1", "-cert", certs.server.chain,
                                    "-key", certs.server.key, *seclevel)
    ctx = _stdlib(ctx_name) if mod is ssl else _quiet(CONSTRUCTORS[ctx_name], mod)
    if ctx.verify_mode != ssl.CERT_NONE:
        ctx.load_verify_locations(certs.ca_pem)
    if lowered:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    raw = net.track(socket.create_connection(("127.0.0.1", port), timeout=10))
    try:
        sock = net.track(ctx.wrap_socket(
            raw, server_hostname="localhost" if ctx.check_hostname else None))
        result = ("connected", sock.version())
        sock.close()  # s_server -naccept 1 exits when the connection ends
    except Exception as exc:  # noqa: BLE001 - compared
        result = summary(exc)
    raw.close()
    proc.finish()
    return result


@pytest.mark.interop
@pytest.mark.parametrize("lowered", [False, True], ids=["seclevel-default", "seclevel-0"])
@pytest.mark.parametrize("ctx_name", CLIENT_CONSTRUCTORS + ("SSLContext(PROTOCOL_TLS)",))
def test_tls11_only_server_is_refused(impl, net, certs, ctx_name, lowered):
    """Minimum TLS 1.2: the client's ClientHello offers nothing below 1.2, so
    the TLS 1.1-only server answers protocol_version -- the stdlib's error,
    for each constructor (PROTOCOL_TLS included: the stdlib gives it the same
    TLS 1.2 floor)."""
    key = ("tls11", ctx_name, lowered)
    if key not in _STDLIB:
        _STDLIB[key] = _against_tls11_server(ssl, net, certs, ctx_name, lowered)
    theirs = _STDLIB[key]
    mine = _against_tls11_server(impl, net, certs, ctx_name, lowered)
    assert theirs[0] == "SSLError" and theirs[3] == "TLSV1_ALERT_PROTOCOL_VERSION", theirs
    assert mine == theirs


# --------------------------------------------------------------------------
# compression and renegotiation
# --------------------------------------------------------------------------

def test_no_compression(impl, net, client_ctx, server_ctx):
    client, server = net.tls_pair(client_ctx(impl), server_ctx(impl))
    assert client.compression() is None and server.compression() is None
    assert client.context.options & ssl.OP_NO_COMPRESSION
    assert server.context.options & ssl.OP_NO_COMPRESSION


def _renegotiation_attempt(mod, net, certs):
    """``openssl s_client -tls1_2`` connects to a server of ``mod``, sends a
    line, then ``R`` (renegotiate), then another line.  Returns what the
    server read and s_client's verdict."""
    lsock = net.listener()
    port = lsock.getsockname()[1]
    ctx = mod.SSLContext(mod.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs.server.chain, certs.server.key)
    events = []
    handshakes = []

    def serve():
        raw, _ = lsock.accept()
        raw.settimeout(10)
        sock = net.track(ctx.wrap_socket(raw, server_side=True))
        handshakes.append(sock.version())
        for _ in range(10):
            try:
                data = sock.recv(100)
            except Exception as exc:  # noqa: BLE001 - compared
                events.append(summary(exc))
                return
            events.append(data)
            if not data:
                return

    server = net.peer(serve, name="reneg-server")
    proc = net.process(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_2",
                        "-CAfile", certs.ca_pem, "-servername", "localhost"])
    proc.wait_for_line(r"Verify return code: 0")
    proc.proc.stdin.write(b"hello\n")
    proc.proc.stdin.flush()
    for _ in range(200):  # until the server has it
        if events:
            break
        threading.Event().wait(0.01)
    proc.proc.stdin.write(b"R\n")
    proc.proc.stdin.flush()
    proc.wait_for_line(r"RENEGOTIATING")
    refusal = proc.wait_for_line(r"error:[0-9A-F]+:SSL routines:[^:]*:([^:]+):").group(1)
    rc = proc.finish()
    server.result()
    return {"server_read": events, "handshakes": handshakes, "s_client": refusal, "rc": rc}


@pytest.mark.interop
def test_server_refuses_client_renegotiation(impl, net, certs):
    """Renegotiation initiated by the client is refused: s_client reports
    ``no renegotiation`` and aborts; the server read the first line, then
    the client's fatal alert -- as with a stdlib server."""
    if "reneg" not in _STDLIB:
        _STDLIB["reneg"] = _renegotiation_attempt(ssl, net, certs)
    theirs = _STDLIB["reneg"]
    mine = _renegotiation_attempt(impl, net, certs)
    assert mine == theirs
    assert mine["s_client"] == "no renegotiation"
    assert mine["server_read"][0] == b"hello\n"
    assert mine["handshakes"] == ["TLSv1.2"]
    assert impl.SSLContext(impl.PROTOCOL_TLS_SERVER).options & ssl.OP_NO_RENEGOTIATION


# --------------------------------------------------------------------------
# host name checks
# --------------------------------------------------------------------------

#: certificate name -> how to issue it: trustme identities, or ("custom",
#: dict) for SANs trustme will not write (upper case, partial wildcards, an
#: IP address as a dNSName, CN only)
CERTS = {
    "example.com": ("example.com",),
    "*.example.com": ("*.example.com",),
    "f*.example.com": ("custom", {"dns": ("f*.example.com",)}),
    "UPPER.EXAMPLE.COM": ("custom", {"dns": ("UPPER.EXAMPLE.COM",)}),
    "dot.example.": ("dot.example.",),
    "ip:127.0.0.1": ("127.0.0.1",),
    "dns:127.0.0.1": ("custom", {"dns": ("127.0.0.1",)}),
    "ip:::1": ("::1",),
    "dns:::1": ("custom", {"dns": ("::1",)}),
    "xn--bcher-kva.example": ("bücher.example",),
    "*.xn--bcher-kva.example": ("*.bücher.example",),
    "cn:cn.example": ("custom", {"common_name": "cn.example"}),
}

OK, MISMATCH, IP_MISMATCH = "ok", 62, 64
#: (certificate, server_hostname, the verdict the issue expects or None to
#: take the stdlib's alone)
CASES = [
    ("example.com", "example.com", OK),
    ("example.com", "EXAMPLE.COM", OK),
    ("example.com", "Example.Com", OK),
    ("example.com", "example.com.", None),
    ("example.com", "www.example.com", MISMATCH),
    ("example.com", "example.co", MISMATCH),
    ("*.example.com", "a.example.com", OK),
    ("*.example.com", "A.EXAMPLE.COM", OK),
    ("*.example.com", "a.b.example.com", MISMATCH),
    ("*.example.com", "example.com", MISMATCH),
    ("*.example.com", ".example.com", None),
    ("*.example.com", "a.example.com.", None),
    ("f*.example.com", "foo.example.com", MISMATCH),
    ("f*.example.com", "f.example.com", MISMATCH),
    ("UPPER.EXAMPLE.COM", "upper.example.com", OK),
    ("dot.example.", "dot.example", None),
    ("dot.example.", "dot.example.", None),
    ("ip:127.0.0.1", "127.0.0.1", OK),
    ("ip:127.0.0.1", "127.0.0.2", IP_MISMATCH),
    ("ip:127.0.0.1", "localhost", MISMATCH),
    ("dns:127.0.0.1", "127.0.0.1", IP_MISMATCH),
    ("ip:::1", "::1", OK),
    ("ip:::1", "0:0:0:0:0:0:0:1", OK),
    ("ip:::1", "::2", IP_MISMATCH),
    ("dns:::1", "::1", IP_MISMATCH),
    ("xn--bcher-kva.example", "bücher.example", OK),
    ("xn--bcher-kva.example", "xn--bcher-kva.example", OK),
    ("xn--bcher-kva.example", "BÜCHER.example", OK),
    ("xn--bcher-kva.example", "bucher.example", MISMATCH),
    ("*.xn--bcher-kva.example", "a.bücher.example", OK),
    ("cn:cn.example", "cn.example", None),
]


@pytest.fixture(scope="module")
def name_certs(tmp_path_factory):
    import trustme
    directory = str(tmp_path_factory.mktemp("names"))
    ca = trustme.CA()
    ca_pem = f"{directory}/ca.pem"
    ca.cert_pem.write_to_path(ca_pem)
    out = {}
    for i, (label, spec) in enumerate(CERTS.items()):
        if spec[0] == "custom":
            out[label] = issue_custom_leaf(ca, directory, f"leaf{i}", **spec[1])
        else:
            leaf = ca.issue_cert(*spec)
            chain, key = f"{directory}/leaf{i}-chain.pem", f"{directory}/leaf{i}-key.pem"
            leaf.cert_chain_pems[0].write_to_path(chain)
            leaf.private_key_pem.write_to_path(key)
            out[label] = (chain, key)
    return ca_pem, out


def _check_name(mod, net, name_certs, cert, hostname):
    ca_pem, leaves = name_certs
    chain, key = leaves[cert]
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(chain, key)
    seen = []
    sctx.sni_callback = lambda sock, name, ctx: seen.append(name)
    cctx = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
    cctx.load_verify_locations(ca_pem)
    try:  # a server_hostname refused before any I/O (e.g. a leading dot)
        cctx.wrap_bio(mod.MemoryBIO(), mod.MemoryBIO(), server_hostname=hostname)
    except Exception as exc:  # noqa: BLE001 - compared
        return {"wrap": summary(exc)}
    hs = net.handshake(cctx, sctx, server_hostname=hostname)
    out = {"verdict": _verdict(hs.client_exc), "sni": seen}
    if hs.client is not None:
        out["server_hostname"] = hs.client.server_hostname
        hs.server.sendall(b"ok")
        out["data"] = recv_exactly(hs.client, 2)
    return out


@pytest.mark.parametrize("cert, hostname, expected", CASES,
                         ids=[f"{c}~{h}" for c, h, _ in CASES])
def test_hostname_verdict_matches_stdlib(impl, net, name_certs, cert, hostname, expected):
    key = ("name", cert, hostname)
    if key not in _STDLIB:
        _STDLIB[key] = _check_name(ssl, net, name_certs, cert, hostname)
    theirs = _STDLIB[key]
    mine = _check_name(impl, net, name_certs, cert, hostname)
    assert mine == theirs
    if expected == OK:
        assert mine["verdict"] == "ok", mine
    elif expected is not None:
        assert mine["verdict"][:2] == ("verify", expected), mine


def test_idna_hostname_in_sni_and_attribute(impl, net, name_certs):
    """server_hostname="bücher.example": the A-label goes in SNI and in
    ``server_hostname``, and matches the A-label certificate."""
    out = _check_name(impl, net, name_certs, "xn--bcher-kva.example", "bücher.example")
    assert out["verdict"] == "ok"
    assert out["sni"] == ["xn--bcher-kva.example"]
    assert out["server_hostname"] == "xn--bcher-kva.example"


@pytest.mark.parametrize("hostname", [
    "localhost", "Example.COM", "a.b.c.", "x" * 63 + ".test", "127.0.0.1", "bücher.example",
    "", ".lead", "a..b", "x" * 64, "a." + "y" * 64])
def test_server_hostname_encoded_as_the_stdlib(impl, hostname):
    """``server_hostname`` as the stdlib stores it (IDNA A-label; an ASCII
    name as given), and the same exception type for a name the IDNA codec
    rejects (an empty or over-long label)."""
    def attempt(mod):
        ctx = mod.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        with socket.socket() as raw:
            try:
                with ctx.wrap_socket(raw, server_hostname=hostname,
                                     do_handshake_on_connect=False) as tls:
                    return tls.server_hostname
            except Exception as exc:  # noqa: BLE001 - compared below
                return type(exc)
    assert attempt(impl) == attempt(ssl)


@pytest.mark.parametrize("hostname", ["127.0.0.1", "::1"])
def test_ip_hostname_sends_no_sni(impl, net, name_certs, hostname):
    cert = "ip:127.0.0.1" if "." in hostname else "ip:::1"
    out = _check_name(impl, net, name_certs, cert, hostname)
    assert out["verdict"] == "ok"
    assert out["sni"] == [None]


@pytest.mark.parametrize("attr", ["minimum_version", "maximum_version"])
@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_deprecated_version_warns_as_the_stdlib(impl, attr, version):
    """Setting a deprecated TLS version warns ``DeprecationWarning`` with
    the stdlib's text (``ssl.TLSVersion.TLSv1 is deprecated``), pointing at
    the caller's line."""
    import warnings

    def warned(mod):
        ctx = mod.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            setattr(ctx, attr, getattr(ssl.TLSVersion, version))
        return [(w.category, str(w.message), os.path.basename(w.filename)) for w in caught]

    got, ref = warned(impl), warned(ssl)
    assert ref == ([(DeprecationWarning, f"ssl.TLSVersion.{version} is deprecated",
                     "test_security_defaults.py")] if WARNS_DEPRECATED else [])
    assert got == ref


def test_deprecated_constructor_and_options_warn_as_the_stdlib(impl):
    """``SSLContext()`` without a protocol, with ``PROTOCOL_TLSv1``, and
    ``OP_NO_TLSv1`` in ``options``: the stdlib's warnings, texts and the
    caller's line (compiled code has no frame of its own to skip)."""
    import warnings

    def warned(mod):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            mod.SSLContext()
            mod.SSLContext(ssl.PROTOCOL_TLSv1)
            ctx = mod.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.options |= ssl.OP_NO_TLSv1
        return [(w.category, str(w.message), os.path.basename(w.filename), w.lineno)
                for w in caught]

    got, ref = warned(impl), warned(ssl)
    if WARNS_DEPRECATED:
        assert len(ref) == 4 and {w[2] for w in ref} == {"test_security_defaults.py"}
    else:
        assert ref == []
    assert got == ref
