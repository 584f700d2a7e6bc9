"""tlsfast's classes pass for the stdlib's (docs/design.rst, "Passing for
the stdlib's classes").

Libraries check ``isinstance(ctx, ssl.SSLContext)`` / ``ssl.SSLSocket`` /
``ssl.SSLObject`` before they use an object; both implementations' classes
derive from the stdlib's.  The compiled one must never *use* the stdlib part:
every name a stdlib class defines is tlsfast's own (or absent), which the
walk below checks name by name on the running Python.
"""

from __future__ import annotations

import inspect
import os
import pickle
import socket
import ssl
import subprocess
import sys
import textwrap

import pytest

from conftest import tlsfast_path
from helpers import IO_TIMEOUT


def _definer(cls, name):
    """The class in ``cls.__mro__`` whose namespace holds ``name``."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass
    return None


#: names every class may take from the stdlib base: the generic attribute
#: machinery and class metadata (3.13 adds the last two), not an
#: implementation of TLS
GENERIC = {"__dict__", "__weakref__", "__annotations__", "__firstlineno__",
           "__static_attributes__"}


@pytest.mark.parametrize("cls_name", ["SSLContext", "SSLSocket", "SSLObject"])
def test_compiled_classes_never_fall_through_to_the_stdlib(cls_name):
    """For every name of ``ssl.<cls>`` and the C class under it, the
    compiled class resolves it to tlsfast's own code: the stdlib part of the
    object stays inert (a plain ``socket.socket`` method is fine on
    ``SSLSocket``: the stdlib's ``SSLSocket`` inherits it too)."""
    from tlsfast import _tls_c
    ours, theirs = getattr(_tls_c, cls_name), getattr(ssl, cls_name)
    forbidden = set(theirs.__mro__) - {object, socket.socket, socket.socket.__mro__[1]}
    assert issubclass(ours, theirs)
    leaks = []
    for name in dir(theirs):
        if name in GENERIC:
            continue
        definer = _definer(ours, name)
        if definer in forbidden:
            leaks.append(f"{name} (from {definer.__module__}.{definer.__qualname__})")
    assert not leaks, f"{cls_name} falls through to the stdlib for {leaks}"


def test_compiled_context_hides_the_inert_stdlib_context():
    """The stdlib's private context methods would act on its own, unused
    SSL_CTX*: on tlsfast's context they do not exist."""
    from tlsfast import _tls_c
    ctx = _tls_c.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    for name in ("_wrap_socket", "_wrap_bio", "_msg_callback", "_host_flags",
                 "_set_alpn_protocols"):
        assert not hasattr(ctx, name), name
        with pytest.raises(AttributeError, match=name):
            getattr(ctx, name)
    # assigning one is a plain attribute (CPython's test_ssl sets
    # _msg_callback for its own tracing), never the stdlib's setter
    ctx._msg_callback = print
    assert ctx._msg_callback is print and "_msg_callback" in vars(ctx)
    # what tlsfast does have is its own, reached through the engine context
    ctx.set_alpn_protocols(["h2"])
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    assert ctx.minimum_version is ssl.TLSVersion.TLSv1_3
    with pytest.raises(AttributeError):
        ctx.protocol = ssl.PROTOCOL_TLS_SERVER
    with pytest.raises(TypeError, match="cannot pickle"):
        pickle.dumps(ctx)
    assert inspect.signature(ctx.load_cert_chain).parameters.keys() == {
        "certfile", "keyfile", "password"}


def test_isinstance_context_and_bio_objects(impl):
    ctx = impl.create_default_context()
    assert isinstance(ctx, ssl.SSLContext)
    assert isinstance(impl.SSLContext(ssl.PROTOCOL_TLS_SERVER), ssl.SSLContext)
    obj = ctx.wrap_bio(impl.MemoryBIO(), impl.MemoryBIO(), server_hostname="example.com")
    assert isinstance(obj, ssl.SSLObject)
    assert obj.context is ctx
    # a stdlib MemoryBIO pair works too (asyncio's sslproto passes those)
    obj = ctx.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="example.com")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()


def test_isinstance_sockets_and_sessions(impl, net, client_ctx, server_ctx):
    cctx = client_ctx(impl, "1.2")
    client, server = net.tls_pair(cctx, server_ctx(impl, "1.2"))
    for sock in (client, server):
        assert isinstance(sock, ssl.SSLSocket)
        assert isinstance(sock.context, ssl.SSLContext)
    assert client.context is cctx
    session = client.session
    assert session is not None
    # ssl.SSLSession is final in the stdlib, so no class can pass for it:
    # tlsfast's sessions are its own type (the compiled one) or the
    # stdlib's (the pure-Python one)
    if isinstance(session, ssl.SSLSession):
        assert impl.name == "python"


@pytest.mark.parametrize("stdlib_type", [ssl.SSLSession, ssl.MemoryBIO])
def test_final_stdlib_types_cannot_be_subclassed(stdlib_type):
    """Why tlsfast's SSLSession and MemoryBIO do not pass ``isinstance``
    against the stdlib's: CPython does not allow subclasses of them.  Should
    a Python allow it, this fails, and those classes should follow."""
    with pytest.raises(TypeError, match="not an acceptable base type"):
        type("Sub", (stdlib_type,), {})


def test_socket_context_and_session_checked_when_assigned(impl, net, client_ctx, server_ctx):
    """Assigning a wrong ``context`` or ``session`` to an unconnected socket
    fails at once with the stdlib's exception, not later at ``connect()``
    (the pure-Python one cannot see a session's context before then)."""
    cctx = client_ctx(impl, "1.2")
    client, _ = net.tls_pair(cctx, server_ctx(impl, "1.2"))
    session = client.session
    sock = net.track(cctx.wrap_socket(socket.socket(), server_hostname="localhost"))
    with pytest.raises(TypeError, match="SSLContext"):
        sock.context = ssl.create_default_context()
    with pytest.raises(TypeError, match="SSLSession"):
        sock.session = object()
    sock.session = session                      # same context: fine
    other = impl.create_default_context()
    if impl.name == "c":
        fresh = net.track(other.wrap_socket(socket.socket(), server_hostname="localhost"))
        with pytest.raises(ValueError, match="different SSLContext"):
            fresh.session = session
    server = net.track(server_ctx(impl, "1.2").wrap_socket(socket.socket(), server_side=True))
    with pytest.raises(ValueError, match="server-side"):
        server.session = session
    sock.context = other
    assert sock.context is other
    sock.session = None


PATCHED_PROGRAM = textwrap.dedent("""
    import sys
    order, library = sys.argv[1], sys.argv[2]
    patched_first = order == "patch-first" and "ssl" not in sys.modules
    if order == "tlsfast-first":
        import tlsfast
    if library == "gevent":
        from gevent import monkey
        monkey.patch_all()
    else:
        import eventlet
        eventlet.monkey_patch()
    import tlsfast
    import ssl
    # the stdlib's own classes: ssl.py's module globals are the originals
    originals = next(c for c in ssl.SSLContext.__mro__ if c.__module__ == "ssl")
    sslsock, sslobj = originals.sslsocket_class, originals.sslobject_class
    ctx = tlsfast.create_default_context()
    assert isinstance(ctx, originals), type(ctx).__mro__
    import _socket
    if issubclass(sslsock, _socket.socket):
        assert issubclass(tlsfast.SSLSocket, sslsock), tlsfast.SSLSocket.__mro__
    else:
        # ssl was first imported after the green library patched socket:
        # the stdlib's SSLSocket is built on the green socket class, which
        # cannot be driven; tlsfast's is a real socket (docs/porting.rst)
        assert patched_first, sslsock.__mro__
        assert issubclass(tlsfast.SSLSocket, _socket.socket), tlsfast.SSLSocket.__mro__
    obj = ctx.wrap_bio(tlsfast.MemoryBIO(), tlsfast.MemoryBIO(), server_hostname="a.example")
    assert isinstance(obj, sslobj)
    print("ok", tlsfast.__impl__)
""")


@pytest.mark.parametrize("library", ["gevent", "eventlet"])
@pytest.mark.parametrize("order", ["tlsfast-first", "patch-first"])
def test_isinstance_against_the_original_classes_under_patching(impl, library, order):
    """tlsfast imported before or after gevent's / eventlet's patching
    derives from the stdlib's original classes, not the green ones that
    replaced them in the ``ssl`` module -- except ``SSLSocket`` where the
    patching imported ``ssl`` after patching ``socket``."""
    pytest.importorskip(library)
    env = dict(os.environ, TLSFAST_IMPL=impl.name, PYTHONPATH=tlsfast_path())
    proc = subprocess.run([sys.executable, "-c", PATCHED_PROGRAM, order, library],
                          env=env, capture_output=True, text=True, timeout=IO_TIMEOUT * 4)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["ok", impl.name]
