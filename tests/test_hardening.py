"""Regression tests for what fuzzing and the memory checks found.

Each case that crashed the process runs in a subprocess, so a regression
fails one test instead of killing the run.  Findings F1-F4 of
``fuzz/README.md`` are fixed; these keep them fixed.

The compiled implementation only: every finding here is in its C code.
"""

from __future__ import annotations

import importlib
import os
import ssl
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.timeout(60)

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def mod():
    return importlib.import_module("tlsfast._tls_c")


def run_snippet(code: str, timeout: float = 40) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that imports the same tlsfast;
    glibc's heap checks on (MALLOC_CHECK_=3) so that corruption aborts."""
    import tlsfast
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(tlsfast.__file__)), env.get("PYTHONPATH", "")])
    env["MALLOC_CHECK_"] = "3"
    env.pop("TLSFAST_IMPL", None)
    prelude = textwrap.dedent("""
        import gc, ssl, sys
        import tlsfast._tls_c as m
        unraisable = []
        sys.unraisablehook = unraisable.append
    """)
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)],
                          env=env, capture_output=True, text=True, timeout=timeout)


def assert_clean(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), (
        f"exit {proc.returncode}\nstdout:\n{proc.stdout[-2000:]}\nstderr:\n{proc.stderr[-3000:]}")


# --------------------------------------------------------------------------
# F1: the Python BIO adapter trusts the foreign object's read()/write()
# --------------------------------------------------------------------------

FAKE_BIO = """
    class LyingBIO:
        # A MemoryBIO look-alike whose read(n) ignores n (wrap_bio accepts
        # any object with MemoryBIO's methods).
        def __init__(self, extra):
            self.real, self.extra = ssl.MemoryBIO(), extra
        def read(self, n=-1):
            data = self.real.read(n)
            return data + b"\\x17\\x03\\x03" * self.extra if self.extra else data
        def write(self, data):
            n = self.real.write(data)
            return n + self.extra if self.extra else n
        def write_eof(self):
            self.real.write_eof()
        @property
        def pending(self):
            return self.real.pending
        @property
        def eof(self):
            return self.real.eof
"""


def test_foreign_bio_read_longer_than_asked_is_refused():
    proc = run_snippet(FAKE_BIO + """
    ctx = m.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    obj = ctx.wrap_bio(LyingBIO(40000), ssl.MemoryBIO(), server_side=True)
    for _ in range(3):
        try:
            obj.do_handshake()
        except ssl.SSLError:
            pass
    del obj
    gc.collect()
    blobs = [bytes(1000) for _ in range(1000)]   # let the heap notice
    print("ok")
    """)
    assert_clean(proc)


def test_foreign_bio_write_claiming_more_than_given_does_not_corrupt():
    # write() returning more than it was given: OpenSSL would subtract the
    # claimed count from what is left of its record buffer; must stay an
    # error (or be clamped), never a read past the buffer.
    proc = run_snippet(FAKE_BIO + """
    ctx = m.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    obj = ctx.wrap_bio(ssl.MemoryBIO(), LyingBIO(100000))
    for _ in range(3):
        try:
            obj.do_handshake()
        except ssl.SSLError:
            pass
    del obj
    gc.collect()
    blobs = [bytes(1000) for _ in range(1000)]
    print("ok")
    """)
    assert_clean(proc)


def test_foreign_bio_well_behaved_still_works(mod):
    # the fix must keep the adapter path working for an honest object
    # (the stdlib's own MemoryBIO, as asyncio and trio pass it)
    sctx = mod.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(os.path.join(os.path.dirname(HERE), "fuzz", "certs", "server.pem"))
    cctx = mod.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.load_verify_locations(os.path.join(os.path.dirname(HERE), "fuzz", "certs", "ca.pem"))
    ci, co, si, so = (ssl.MemoryBIO() for _ in range(4))
    c = cctx.wrap_bio(ci, co, server_hostname="localhost")
    s = sctx.wrap_bio(si, so, server_side=True)
    for _ in range(10):
        rc = c.try_do_handshake(), s.try_do_handshake()
        si.write(co.read())
        ci.write(so.read())
        if rc == (0, 0):
            break
    assert rc == (0, 0)
    c.write(b"hello")
    si.write(co.read())
    assert s.read(100) == b"hello"


# --------------------------------------------------------------------------
# F2: objects made with __new__ alone have ssl == NULL / session == NULL
# --------------------------------------------------------------------------

def test_sslobject_without_wrap_bio_refuses_cleanly():
    proc = run_snippet("""
    names = ["version", "cipher", "shared_ciphers", "selected_alpn_protocol",
             "get_channel_binding", "getpeercert", "get_finished", "get_peer_finished",
             "client_random", "server_random", "cipher_bits", "get_peer_cert_chain",
             "get_verified_chain", "renegotiate_pending", "pending", "do_handshake",
             "read", "write", "unwrap", "key_update", "renegotiate", "peek",
             "verify_client_post_handshake"]
    try:
        m.SSLObject.__new__(m.SSLObject)
    except TypeError:
        print("refused at __new__")   # the clean refusal: nothing to misuse
        names = []
    for name in names:
        obj = m.SSLObject.__new__(m.SSLObject)
        args = (b"x",) if name == "write" else ()
        try:
            getattr(obj, name)(*args)
        except (ValueError, TypeError, ssl.SSLError):
            pass
        print(name, file=sys.stderr, flush=True)
    for prop in ("session", "session_reused", "context") if names else ():
        obj = m.SSLObject.__new__(m.SSLObject)
        try:
            getattr(obj, prop)
        except (ValueError, TypeError):
            pass
        print(prop, file=sys.stderr, flush=True)
    print("ok")
    """)
    assert_clean(proc)


def test_sslsession_without_a_session_refuses_cleanly():
    proc = run_snippet("""
    try:
        m.SSLSession.__new__(m.SSLSession)
        props = ("id", "time", "timeout", "ticket_lifetime_hint", "has_ticket")
    except TypeError:
        print("refused at __new__")   # the clean refusal
        props = ()
    for prop in props:
        s = m.SSLSession.__new__(m.SSLSession)
        try:
            getattr(s, prop)
        except (ValueError, TypeError):
            pass
        print(prop, file=sys.stderr, flush=True)
    try:
        s = m.SSLSession.__new__(m.SSLSession)
        hash(s)
    except (ValueError, TypeError):
        pass
    print("ok")
    """)
    assert_clean(proc)


# --------------------------------------------------------------------------
# F3, F4: exceptions outside the documented set
# --------------------------------------------------------------------------

@pytest.mark.parametrize("what", ["wrap_bio", "wrap_socket"])
def test_uninitialised_context_wrap_raises_value_error(mod, what):
    """A context made by the stdlib's ``__new__`` alone (a subclass that
    bypasses tlsfast's) has no engine context: every use refuses."""
    import socket
    ctx = ssl.SSLContext.__new__(mod.SSLContext, ssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(ValueError):
        ctx.load_default_certs()          # the documented refusal, via _checked()
    a, b = socket.socketpair()
    try:
        with pytest.raises(ValueError):
            if what == "wrap_bio":
                ctx.wrap_bio(mod.MemoryBIO(), mod.MemoryBIO())
            else:
                ctx.wrap_socket(a, do_handshake_on_connect=False)
    finally:
        a.close()
        b.close()


def test_export_keying_material_int_label_is_type_error(mod):
    certs = os.path.join(os.path.dirname(HERE), "fuzz", "certs")
    sctx = mod.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(os.path.join(certs, "server.pem"))
    cctx = mod.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.load_verify_locations(os.path.join(certs, "ca.pem"))
    ci, co, si, so = (mod.MemoryBIO() for _ in range(4))
    c = cctx.wrap_bio(ci, co, server_hostname="localhost")
    s = sctx.wrap_bio(si, so, server_side=True)
    for _ in range(10):
        rc = c.try_do_handshake(), s.try_do_handshake()
        si.write(co.read())
        ci.write(so.read())
        if rc == (0, 0):
            break
    assert c.export_keying_material("EXPORTER-test", 16) == s.export_keying_material("EXPORTER-test", 16)
    with pytest.raises(TypeError):
        c.export_keying_material(7, 16)
