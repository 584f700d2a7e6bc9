"""The API surface: names, signatures, stdlib identity of shared objects,
and implementation selection through ``TLSFAST_IMPL``."""

import importlib
import inspect
import os
import socket
import ssl
import warnings
import subprocess
import sys

import pytest

from conftest import load_impl, tlsfast_path

pytestmark = pytest.mark.timeout(60)

_SENTINEL = object()


def _protocols():
    from tlsfast import _protocol
    return _protocol


def _declared(proto):
    """{name: value} a Protocol class and its Protocol bases declare."""
    out = {}
    for cls in reversed(proto.__mro__):
        if cls.__module__ == proto.__module__:
            out.update(vars(cls))
    return out


def _members(proto):
    """(data attribute names, method names) a Protocol class declares,
    with its Protocol bases'."""
    data = set()
    for cls in proto.__mro__:
        if cls.__module__ == proto.__module__:
            data |= set(getattr(cls, "__annotations__", {}))
    methods = set()
    for name, value in _declared(proto).items():
        if name.startswith("_"):
            continue
        if callable(value) or isinstance(value, property):
            methods.add(name)
    return data - methods, methods


def _calls(sig):
    """Argument patterns a caller of ``sig`` (self excluded) may use:
    everything positionally, everything by keyword where allowed, and
    only the required arguments."""
    params = list(sig.parameters.values())[1:]
    P = inspect.Parameter
    positional = [p for p in params if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is P.empty]
    pos_only = [p for p in positional if p.kind is P.POSITIONAL_ONLY]
    keywordable = [p for p in params if p.kind in (P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY)]
    yield "all positional", [_SENTINEL] * len(positional), {}
    yield "by keyword", [_SENTINEL] * len(pos_only), {p.name: _SENTINEL for p in keywordable}
    yield "required only", [_SENTINEL] * len(required), {
        p.name: _SENTINEL for p in params if p.kind is P.KEYWORD_ONLY and p.default is P.empty}


def _assert_compatible(cls_name, name, impl_attr, reference):
    """``impl_attr`` accepts every way of calling ``reference``."""
    assert callable(impl_attr), f"{cls_name}.{name} is not callable"
    ref_sig = inspect.signature(reference)
    try:
        impl_sig = inspect.signature(impl_attr)
    except (TypeError, ValueError) as exc:
        pytest.fail(f"{cls_name}.{name}: no introspectable signature ({exc})")
    for label, args, kwargs in _calls(ref_sig):
        try:
            impl_sig.bind(_SENTINEL, *args, **kwargs)
        except TypeError as exc:
            pytest.fail(f"{cls_name}.{name}{impl_sig} cannot be called {label} "
                        f"like {ref_sig}: {exc}")


# --------------------------------------------------------------------------
# names and signatures
# --------------------------------------------------------------------------

def test_implementation_names(impl):
    proto = _protocols()
    missing = [n for n in proto.IMPLEMENTATION_NAMES if not hasattr(impl.module, n)]
    assert not missing, f"{impl.module.__name__} lacks {missing}"
    assert issubclass(impl.SSLSocket, socket.socket)
    assert isinstance(impl.OPENSSL_VERSION, str) and impl.OPENSSL_VERSION.startswith("OpenSSL ")
    assert impl.OPENSSL_VERSION_INFO >= (3, 0)
    assert isinstance(impl.OPENSSL_VERSION_NUMBER, int)
    assert impl.OPENSSL_VERSION_NUMBER >> 28 == impl.OPENSSL_VERSION_INFO[0]


#: methods the stdlib's SSLSocket takes as (*args, **kwargs) only to raise
#: NotImplementedError, which tlsfast implements: the Protocol's signature
#: (socket.socket's) is the reference
STDLIB_REFUSES = {"sendmsg"}


@pytest.mark.parametrize("proto_name, cls_name, stdlib_cls", [
    ("SSLSocketProtocol", "SSLSocket", ssl.SSLSocket),
    ("SSLObjectProtocol", "SSLObject", ssl.SSLObject),
    ("MemoryBIOProtocol", "MemoryBIO", ssl.MemoryBIO),
    ("SSLContextProtocol", "SSLContext", ssl.SSLContext),
])
def test_protocol_methods_and_signatures(impl, proto_name, cls_name, stdlib_cls):
    """Every method of the Protocol exists and can be called every way the
    stdlib's method (or, for the fast path, the Protocol's) can."""
    proto = getattr(_protocols(), proto_name)
    cls = getattr(impl, cls_name)
    _, methods = _members(proto)
    assert methods, proto_name
    for name in sorted(methods):
        declared = _declared(proto)[name]
        impl_attr = getattr(cls, name, None)
        assert impl_attr is not None, f"{cls_name}.{name} missing"
        if isinstance(declared, property):
            assert inspect.isdatadescriptor(inspect.getattr_static(cls, name)), name
            continue
        reference = getattr(stdlib_cls, name, None) or declared
        if name in STDLIB_REFUSES:
            reference = declared
        _assert_compatible(cls_name, name, impl_attr, reference)


def test_live_objects_satisfy_protocols(impl, net, client_ctx, server_ctx):
    proto = _protocols()
    ctx = client_ctx(impl, "1.2")
    client, server = net.tls_pair(ctx, server_ctx(ssl, "1.2"))
    server.sendall(b"x")
    assert client.recv(1) == b"x"
    incoming, outgoing = impl.MemoryBIO(), impl.MemoryBIO()
    sslobj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    for obj, protocol in ((client, proto.SSLSocketProtocol), (ctx, proto.SSLContextProtocol),
                          (client.session, proto.SSLSessionProtocol),
                          (sslobj, proto.SSLObjectProtocol), (incoming, proto.MemoryBIOProtocol)):
        data, methods = _members(protocol)
        missing = sorted(n for n in data | methods if not hasattr(obj, n))
        assert not missing, f"{type(obj).__name__} lacks {missing}"
        assert isinstance(obj, protocol)
    assert client.wanted_events == 0


def test_no_public_sslsocket_constructor(impl):
    with pytest.raises(TypeError) as ref:
        ssl.SSLSocket()
    with pytest.raises(TypeError) as info:
        impl.SSLSocket()
    assert type(info.value) is type(ref.value) is TypeError


def test_rand(impl):
    a, b = impl.RAND_bytes(32), impl.RAND_bytes(32)
    assert isinstance(a, bytes) and len(a) == 32 and a != b
    assert impl.RAND_bytes(0) == b""
    assert impl.RAND_status() == ssl.RAND_status() == 1     # (3.9's is the int 1)
    with pytest.raises(ValueError):
        impl.RAND_bytes(-1)


# --------------------------------------------------------------------------
# the stdlib's own objects
# --------------------------------------------------------------------------

EXCEPTIONS = ("SSLError", "SSLZeroReturnError", "SSLWantReadError", "SSLWantWriteError",
              "SSLSyscallError", "SSLEOFError", "SSLCertVerificationError", "CertificateError")


def test_shared_names_are_the_stdlib_objects(impl):
    common = importlib.import_module("tlsfast._common")
    for name in common.__all__:
        if hasattr(ssl, name):
            assert getattr(impl, name) is getattr(ssl, name), name
            # an implementation module may re-export, never redefine
            assert getattr(impl.module, name, getattr(ssl, name)) is getattr(ssl, name), name
    for name in EXCEPTIONS:
        assert getattr(impl, name) is getattr(ssl, name), name
    assert impl.SSLWantReadError is ssl.SSLWantReadError
    assert impl.SSLWantWriteError is ssl.SSLWantWriteError
    assert impl.SSLError is ssl.SSLError
    assert (impl.WANT_READ, impl.WANT_WRITE) == (-1, -2)
    assert getattr(impl.module, "WANT_READ", -1) == -1
    assert getattr(impl.module, "WANT_WRITE", -2) == -2
    # enums compare and hash like the stdlib's
    assert impl.CERT_REQUIRED is ssl.CERT_REQUIRED
    assert impl.PROTOCOL_TLS_CLIENT is ssl.PROTOCOL_TLS_CLIENT
    assert impl.TLSVersion.TLSv1_3 is ssl.TLSVersion.TLSv1_3
    assert impl.OP_NO_COMPRESSION is ssl.OP_NO_COMPRESSION


def test_context_attribute_types_are_stdlib_enums(impl):
    ctx = impl.SSLContext(impl.PROTOCOL_TLS_CLIENT)
    assert type(ctx.protocol) is ssl._SSLMethod
    assert type(ctx.verify_mode) is ssl.VerifyMode
    assert type(ctx.verify_flags) is ssl.VerifyFlags
    assert type(ctx.options) is ssl.Options
    assert type(ctx.minimum_version) is ssl.TLSVersion
    assert type(ctx.maximum_version) is ssl.TLSVersion


def test_package_exports(impl):
    import tlsfast
    for name in _protocols().IMPLEMENTATION_NAMES + ("get_server_certificate", "__impl__"):
        assert hasattr(tlsfast, name), name
    assert tlsfast.__impl__ in ("c", "python")
    for name in EXCEPTIONS:
        assert getattr(tlsfast, name) is getattr(ssl, name)


# --------------------------------------------------------------------------
# TLSFAST_IMPL
# --------------------------------------------------------------------------

PROBE = ("import ssl, tlsfast; "
         "print(tlsfast.__impl__, tlsfast.SSLContext.__module__, "
         "tlsfast.SSLWantReadError is ssl.SSLWantReadError)")


def _python(code, env_impl, tmp_path, block=None):
    """Run ``code`` in a fresh interpreter with TLSFAST_IMPL=env_impl (None:
    unset); ``block`` names a tlsfast module made unimportable first."""
    env = {k: v for k, v in os.environ.items() if k != "TLSFAST_IMPL"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [tlsfast_path(), env.get("PYTHONPATH")]))
    if env_impl is not None:
        env["TLSFAST_IMPL"] = env_impl
    if block:
        code = f"import sys; sys.modules[{block!r}] = None; " + code
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("spelling", ["{}", " {} ", "{upper}"], ids=["plain", "spaces", "upper"])
def test_env_selects_implementation(impl, tmp_path, spelling):
    value = spelling.format(impl.name, upper=impl.name.upper())
    done = _python(PROBE, value, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [impl.name, impl.module.__name__, "True"]


def test_env_bogus_is_a_clear_import_error(tmp_path):
    done = _python("import tlsfast", "bogus", tmp_path)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: "), done.stderr
    assert "TLSFAST_IMPL='bogus'" in last and "'c' or 'python'" in last


def test_env_c_without_compiled_module_fails_loudly(tmp_path):
    done = _python("import tlsfast", "c", tmp_path, block="tlsfast._tls_c")
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: "), done.stderr
    assert "TLSFAST_IMPL=c" in last and "_tls_c" in last


def test_env_python_does_not_fall_back_to_c(tmp_path):
    done = _python("import tlsfast", "python", tmp_path, block="tlsfast._tls_py")
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(("ImportError: ", "ModuleNotFoundError: ")), done.stderr
    assert "tlsfast._tls_py" in last


def test_unset_falls_back_to_python_without_c(tmp_path):
    done = _python(PROBE, None, tmp_path, block="tlsfast._tls_c")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["python", "tlsfast._tls_py", "True"]


def test_unset_prefers_c_when_it_loads(tmp_path):
    try:
        load_impl("c")
        expected = ["c", "tlsfast._tls_c", "True"]
    except ImportError:
        expected = ["python", "tlsfast._tls_py", "True"]  # the c tests fail elsewhere
    done = _python(PROBE, None, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == expected


# --------------------------------------------------------------------------
# the running Python's ssl, no more and no less
# --------------------------------------------------------------------------

#: the non-raising fast path (docs/nonblocking.rst) and the additions from
#: pyOpenSSL's Connection (docs/beyond-stdlib.rst), on SSLSocket and SSLObject
FAST_PATH = {"try_do_handshake", "try_recv_into", "try_send", "try_sendv", "try_unwrap", "wanted_events",
             "want_read", "want_write"}
BEYOND_STDLIB = {"cipher_bits", "client_random", "server_random", "export_keying_material",
                 "get_finished", "get_peer_finished", "get_peer_cert_chain", "key_update",
                 "peek", "renegotiate", "renegotiate_pending",
                 # public in the stdlib from 3.13 (docs/porting.rst, "Python versions")
                 "get_verified_chain", "get_unverified_chain"}
#: what each class may have beyond the running stdlib's (documented tlsfast
#: extensions; the pure-Python one has the subset its ssl can answer)
EXTENSIONS = {
    # the compiled context on every version (stdlib: 3.10 / 3.13)
    "SSLContext": {"security_level", "set_psk_client_callback", "set_psk_server_callback",
                   "set_session_ticket_keys"},   # docs/beyond-stdlib.rst
    # + instance attributes of ssl.SSLSocket that the compiled class keeps
    # in slots (so they show on the class)
    "SSLSocket": FAST_PATH | BEYOND_STDLIB | {
        "server_side", "server_hostname", "do_handshake_on_connect", "suppress_ragged_eofs"},
    # + the engine's shutdown() (its docstring sends you to unwrap()) and
    # owner (as _ssl._SSLSocket's), which the compiled SSLObject inherits
    "SSLObject": FAST_PATH | BEYOND_STDLIB | {"shutdown", "suppress_ragged_eofs", "owner"},
    "SSLSession": set(),
    "MemoryBIO": {"read_into"},     # docs/memory-bio.rst
}
#: names of ssl.py that are its own imports, not API
NOT_API = {"SOCK_STREAM", "SOL_SOCKET", "SO_TYPE", "base64", "create_connection", "errno",
           "namedtuple", "os", "socket", "socket_error", "sys", "warnings"}
#: tlsfast's own module-level names (docs/nonblocking.rst, docs/porting.rst)
MODULE_EXTENSIONS = {"WANT_READ", "WANT_WRITE", "EVENTS_FOR_CODE",
                     "inject_into_ssl", "extract_from_ssl"}   # docs/porting.rst


def _public(obj):
    return {n for n in dir(obj) if not n.startswith("_")}


@pytest.mark.parametrize("cls_name", sorted(EXTENSIONS))
def test_classes_offer_what_the_running_ssl_offers(impl, cls_name):
    """Every public name of the running Python's ``ssl.<cls>`` is there
    (3.13's chains and PSK callbacks, 3.10's security_level...), and
    nothing else but the documented extensions."""
    theirs, ours = _public(getattr(ssl, cls_name)), _public(getattr(impl, cls_name))
    assert not theirs - ours, f"{cls_name} lacks {sorted(theirs - ours)}"
    extra = ours - theirs - EXTENSIONS[cls_name]
    assert not extra, f"{cls_name} has undocumented extras {sorted(extra)}"


def test_module_offers_what_the_running_ssl_offers():
    """``dir(ssl)`` against ``dir(tlsfast)``: the functions the stdlib
    removed in 3.12 (wrap_socket, match_hostname, RAND_pseudo_bytes) are
    there exactly where the running ssl has them."""
    import tlsfast
    theirs, ours = _public(ssl) - NOT_API, _public(tlsfast)
    assert not theirs - ours, f"tlsfast lacks {sorted(theirs - ours)}"
    # the integration submodules appear as attributes once imported
    extra = ours - theirs - MODULE_EXTENSIONS - {"gevent", "eventlet", "asyncio"}
    assert not extra, f"tlsfast has undocumented extras {sorted(extra)}"
    for name in ("wrap_socket", "match_hostname", "RAND_pseudo_bytes"):
        assert hasattr(tlsfast, name) is hasattr(ssl, name) is (sys.version_info < (3, 12)), name


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="removed from ssl in 3.12")
def test_removed_functions_work_and_warn_as_the_stdlib(impl, net, certs, monkeypatch):
    import warnings

    import tlsfast
    monkeypatch.setattr(tlsfast, "SSLContext", impl.SSLContext)
    monkeypatch.setattr(tlsfast, "RAND_bytes", impl.RAND_bytes)

    def warned(fn, *args, **kwargs):
        """(result, [(category, message, file)]) of one call"""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = fn(*args, **kwargs)
        return result, [(w.category, str(w.message), os.path.basename(w.filename))
                        for w in caught]

    (data, strong), got = warned(tlsfast.RAND_pseudo_bytes, 16)
    assert len(data) == 16 and strong is True
    assert got == warned(ssl.RAND_pseudo_bytes, 16)[1]
    assert got == ([(DeprecationWarning, "ssl.RAND_pseudo_bytes() is deprecated", "test_api.py")]
                   if sys.version_info >= (3, 10) else [])
    cert = certs.server.decoded()
    assert warned(tlsfast.match_hostname, cert, "localhost") == \
        warned(ssl.match_hostname, cert, "localhost")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(ssl.CertificateError):
            tlsfast.match_hostname(cert, "elsewhere.example")
    # wrap_socket: the stdlib's warnings for the same (unconnected) call...
    with socket.socket() as a, socket.socket() as b:
        mine, got = warned(tlsfast.wrap_socket, a, cert_reqs=ssl.CERT_REQUIRED,
                           ca_certs=certs.ca_pem)
        theirs, ref = warned(ssl.wrap_socket, b, cert_reqs=ssl.CERT_REQUIRED,
                             ca_certs=certs.ca_pem)
        assert isinstance(mine, impl.SSLSocket)
        # (the same warnings; the PROTOCOL_TLS one names the module that
        # made the context: ssl.py there, tlsfast/_helpers.py here)
        assert [w[:2] for w in got] == [w[:2] for w in ref]
        assert [w[2] for w in got[:1]] == [w[2] for w in ref[:1]]
        mine.close()
        theirs.close()
    with pytest.raises(ValueError, match="certfile must be specified"):
        warned(tlsfast.wrap_socket, socket.socket(), server_side=True)
    # ... and a verified handshake against a stdlib server
    client_raw, server_raw = net.tcp_pair()
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(certs.server.chain, certs.server.key)
    peer = net.peer(lambda: net.track(sctx.wrap_socket(server_raw, server_side=True)))
    sock = net.track(warned(tlsfast.wrap_socket, client_raw, cert_reqs=ssl.CERT_REQUIRED,
                            ca_certs=certs.ca_pem)[0])
    peer.result()
    assert isinstance(sock, impl.SSLSocket) and sock.version() and sock.getpeercert()


def test_stdlib_private_names():
    """The two private names of ssl.py tlsfast uses (tlsfast/_common.py)
    exist with their meaning on the running Python."""
    from tlsfast import _common
    assert type(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).protocol) is _common.SSLMethod
    assert isinstance(ssl.Purpose.SERVER_AUTH, _common.ASN1Object)


def test_rand_add(impl):
    impl.RAND_add(b"entropy", 0.0)
    impl.RAND_add("entropy", 1.5)
    impl.RAND_add(bytearray(b"x" * 100), 10)
    with pytest.raises(TypeError):
        impl.RAND_add(42, 1.0)


@pytest.mark.parametrize("attr", ["verify_flags", "options"])
@pytest.mark.parametrize("value", [-1, -2, 2**63, 2**64, 2**64 + 5, -2**63 - 1])
def test_integer_settings_take_what_the_running_ssl_takes(impl, attr, value):
    """``verify_flags`` wraps any integer modulo 2**64 (-1: every flag);
    ``options`` takes a C long before 3.12, an unsigned 64-bit int from
    3.12: the same values give the same bits, or the same exception type."""
    def outcome(mod):
        ctx = mod.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                setattr(ctx, attr, value)
            except Exception as exc:      # the type is what must match
                return type(exc)
        # OpenSSL keeps only the bits it knows: compare what it kept
        return int(getattr(ctx, attr))
    assert outcome(impl) == outcome(ssl)
