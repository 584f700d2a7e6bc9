"""atheris target: tlsfast's public API called with arbitrary arguments in
arbitrary order.

Each input is a small program (read with atheris.FuzzedDataProvider): up to
``MAX_STEPS`` steps, each picking an action -- make a context / MemoryBIO /
SSLObject / socket pair, get or set a context attribute, call a context,
MemoryBIO, SSLObject or SSLSocket method (stdlib names, the ``try_*`` fast
path, the beyond-stdlib ones: export_keying_material, key_update, peek,
get_peer_cert_chain...), pump ciphertext between two objects, drop objects
and collect garbage -- with arguments from ``value()``: right and wrong
types, huge and negative sizes, closed / finished objects, hostile
callbacks and MemoryBIO look-alikes.

Documented exceptions (``EXPECTED``) are fine; anything else, a crash (ASan /
UBSan in the fuzz build), an unraisable exception not caused by one of our
hostile callbacks, or a broken invariant is a finding.

Sockets: only ``socket.socketpair()`` ends, always non-blocking or with a
tiny timeout, closed after each input.  Files: key logs go to os.devnull or a
per-process temporary directory; ``load_*`` read the fixed certificates,
missing paths, a directory, or a temp file holding fuzz bytes.
"""

from __future__ import annotations

import atexit
import base64
import gc
import math
import os
import shutil
import socket
import ssl
import sys
import tempfile
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _harness as H  # noqa: E402

MAX_STEPS = 48

#: exceptions the API documents (ssl.SSLError and socket.timeout are OSErrors);
#: BufferError is what the stdlib raises too for a non-contiguous buffer.
EXPECTED = (TypeError, ValueError, OverflowError, OSError, NotImplementedError, BufferError)

#: sizes past what a C int / Py_ssize_t / size_t holds, and negatives.  Sizes
#: from 16 MiB to 2**62 are left out: read(n), peek(n), RAND_bytes(n),
#: export_keying_material(label, n) allocate n bytes first, as the stdlib's
#: read does, and libFuzzer's malloc limit would stop the run on that.
HUGE = [2**63 - 1, 2**63, 2**64, 2**100, -1, -2, -2**31, -2**31 - 1, -2**63, -2**63 - 1, -2**100]
#: C-int edges, for attributes that are not sizes (options, flags, versions,
#: num_tickets); as a size 2**31 - 1 would allocate 2 GiB (libFuzzer: OOM)
INT_EDGES = [2**31 - 1, 2**31, 2**32, 2**32 + 1, 2**62, 2**64 - 1]
SMALL = [0, 1, 2, 5, 16, 32, 255, 256, 1024, 4096, 16384, 16385, 65535, 65536, 100000]

_tmp = tempfile.mkdtemp(prefix="tlsfast-fuzz-api-")
atexit.register(shutil.rmtree, _tmp, True)
_FUZZ_FILE = os.path.join(_tmp, "fuzzed.pem")


class Hostile(Exception):
    """Raised by our own hostile callbacks: allowed as unraisable."""


class State:
    def __init__(self, mod, fdp):
        self.mod, self.fdp = mod, fdp
        self.ctxs, self.bios, self.objs, self.socks, self.sessions = [], [], [], [], []
        self.hostile = False     # an unraisable may come from our own callbacks
        self.huge = False        # a huge size was passed: MemoryError is allowed

    # -- picking --------------------------------------------------------
    def pick(self, seq):
        if not seq:
            return None
        return seq[self.fdp.ConsumeIntInRange(0, len(seq) - 1)]

    def int_value(self):
        k = self.fdp.ConsumeIntInRange(0, 3)
        if k == 0:
            return self.pick(SMALL)
        if k == 1:
            v = self.pick(HUGE)
            self.huge = True
            return v
        if k == 2:
            return self.fdp.ConsumeIntInRange(-70000, 70000)
        return self.fdp.ConsumeIntInRange(-2**31, 2**24)

    def str_value(self):
        k = self.fdp.ConsumeIntInRange(0, 7)
        if k == 0:
            return H.HOSTNAME
        if k == 1:
            return ""
        if k == 2:
            return "a\x00b"
        if k == 3:
            return "x" * 300
        if k == 4:
            return "\u00e9xample.\u4e2d\u56fd"
        if k == 5:
            return ".leading"
        if k == 6:
            return "ECDHE+AESGCM:!aNULL"
        return self.fdp.ConsumeUnicodeNoSurrogates(self.fdp.ConsumeIntInRange(0, 40))

    def bytes_value(self):
        return self.fdp.ConsumeBytes(self.fdp.ConsumeIntInRange(0, 200))

    def buffer_value(self, writable=False):
        n = self.fdp.ConsumeIntInRange(0, 5000)
        k = self.fdp.ConsumeIntInRange(0, 4)
        if k == 0:
            return bytearray(n)
        if k == 1:
            return memoryview(bytearray(n))
        if k == 2:
            return memoryview(bytearray(n * 2))[::2]        # not contiguous
        if k == 3:
            return memoryview(bytearray(n)).toreadonly() if not writable else bytearray(n)
        return bytes(n)

    def callback(self):
        """A callable returning something arbitrary, or raising."""
        k = self.fdp.ConsumeIntInRange(0, 6)
        self.hostile = True
        if k == 0:
            def cb(*args):
                raise Hostile("callback")
            return cb
        if k == 1:
            return lambda *args: None
        if k == 2:
            v = self.int_value()
            return lambda *args: v
        if k == 3:
            return lambda *args: "x" * 2000
        if k == 4:
            return lambda *args: b"password"
        if k == 5:
            objs = self.objs

            def reenter(*args):
                # re-enter the connection being handshaken (from a callback)
                for o in list(objs)[:2]:
                    o.pending()
                    o.version()
                    try:
                        o.do_handshake()
                    except (ssl.SSLError, ValueError, RuntimeError):
                        pass
                return None
            return reenter
        ctxs = self.ctxs

        def switch(sock, name, ctx):
            if ctxs:
                sock.context = ctxs[-1]
            return None
        return switch

    def path_value(self):
        k = self.fdp.ConsumeIntInRange(0, 8)
        if k >= 7:      # a PEM block around fuzz bytes (DH parameters / certificate)
            label = b"DH PARAMETERS" if k == 7 else b"CERTIFICATE"
            with open(_FUZZ_FILE, "wb") as f:
                f.write(b"-----BEGIN " + label + b"-----\n" + base64.encodebytes(self.bytes_value())
                        + b"-----END " + label + b"-----\n")
            return _FUZZ_FILE
        if k == 0:
            return H.SERVER_PEM
        if k == 1:
            return H.CA_PEM
        if k == 2:
            return H.CLIENT_PEM
        if k == 3:
            return os.path.join(_tmp, "missing.pem")
        if k == 4:
            return _tmp                         # a directory
        if k == 5:
            with open(_FUZZ_FILE, "wb") as f:   # fuzz bytes as a PEM file
                f.write(self.bytes_value())
            return _FUZZ_FILE
        return os.fsencode(H.CA_PEM)

    def value(self, depth=0):
        """Any argument: right and wrong types alike."""
        k = self.fdp.ConsumeIntInRange(0, 22)
        if k <= 2:
            return self.int_value()
        if k == 3:
            return self.int_value()
        if k == 4:
            return None
        if k == 5:
            return self.fdp.ConsumeBool()
        if k == 6:
            return self.str_value()
        if k == 7:
            return self.bytes_value()
        if k == 8:
            return self.buffer_value()
        if k == 9:
            return self.pick([1.5, -0.0, math.nan, math.inf, 1e300])
        if k == 10 and depth < 2:
            return [self.value(depth + 1) for _ in range(self.fdp.ConsumeIntInRange(0, 4))]
        if k == 11:
            return self.pick(self.ctxs)
        if k == 12:
            return self.pick(self.bios)
        if k == 13:
            return self.pick(self.objs)
        if k == 14:
            return self.pick(self.sessions)
        if k == 15:
            return self.callback()
        if k == 16:
            return self.pick(list(ssl.TLSVersion) + list(ssl.VerifyMode) + list(ssl.Purpose)
                             + list(ssl.Options) + list(ssl.VerifyFlags))
        if k == 17:
            return self.path_value()
        if k == 18:
            return object()
        if k == 19:
            return [self.str_value() for _ in range(self.fdp.ConsumeIntInRange(0, 3))]
        if k == 20:
            return self.fake_bio()
        if k == 21:
            return {"a": 1}
        return self.pick(self.socks)

    # -- hostile MemoryBIO look-alikes ---------------------------------
    def fake_bio(self):
        """An object with MemoryBIO's methods misbehaving in one way."""
        how = self.fdp.ConsumeIntInRange(0, 7)
        if SAFE_BIOS and how in (0, 3, 7):
            how = 8         # well-behaved
        extra = self.fdp.ConsumeIntInRange(0, 70000)
        self.hostile = True
        real = ssl.MemoryBIO()

        class Fake:
            pending = property(lambda s: real.pending if how != 5 else -extra)
            eof = property(lambda s: real.eof if how != 6 else s._boom())

            def _boom(self):
                raise Hostile("eof")

            def read(self, n=-1):
                if how == 0:
                    return real.read(n) + b"\x17\x03\x03" * (extra // 3 + 1)   # more than asked
                if how == 1:
                    raise Hostile("read")
                if how == 2:
                    return "not bytes"
                if how == 7:
                    return extra       # an int: bytes(int) zero-fills
                return real.read(n)

            def write(self, data):
                if how == 3:
                    real.write(data)
                    return len(data) + extra     # claims more than given
                if how == 4:
                    return -1 - extra
                return real.write(data)

            def write_eof(self):
                real.write_eof()
        return Fake()


# --- the actions ------------------------------------------------------------

PROTOCOLS = [ssl.PROTOCOL_TLS_CLIENT, ssl.PROTOCOL_TLS_SERVER, ssl.PROTOCOL_TLS]

CTX_ATTRS = ["verify_mode", "check_hostname", "hostname_checks_common_name", "verify_flags",
             "post_handshake_auth", "minimum_version", "maximum_version", "options",
             "num_tickets", "sni_callback", "keylog_filename", "protocol", "security_level"]
READONLY_CTX_ATTRS = {"protocol", "security_level"}

CTX_METHODS = {
    "load_cert_chain": lambda st: (st.path_value() if st.fdp.ConsumeBool() else st.value(),
                                   st.pick([None, H.SERVER_PEM, st.value()]),
                                   st.pick([None, "pw", st.callback(), st.value()])),
    "load_verify_locations": lambda st: (st.pick([None, H.CA_PEM, st.path_value(), st.value()]),
                                         st.pick([None, st.path_value(), st.value()]),
                                         st.pick([None, st.bytes_value(), st.str_value(),
                                                  st.cadata(), st.value()])),
    "load_default_certs": lambda st: (st.value(),) if st.fdp.ConsumeBool() else (),
    "set_default_verify_paths": lambda st: (),
    "load_dh_params": lambda st: (st.path_value() if st.fdp.ConsumeBool() else st.value(),),
    "cert_store_stats": lambda st: (),
    "get_ca_certs": lambda st: (st.value(),),
    "set_ciphers": lambda st: (st.str_value() if st.fdp.ConsumeBool() else st.value(),),
    "get_ciphers": lambda st: (),
    "set_ecdh_curve": lambda st: (st.pick(["prime256v1", "X25519", b"secp384r1", "nope"])
                                  if st.fdp.ConsumeBool() else st.value(),),
    "set_alpn_protocols": lambda st: (st.pick([["h2", "http/1.1"], ["x" * 256], [""]])
                                      if st.fdp.ConsumeBool() else st.value(),),
    "set_npn_protocols": lambda st: (st.value(),),
    "set_servername_callback": lambda st: (st.callback() if st.fdp.ConsumeBool() else st.value(),),
    "session_stats": lambda st: (),
    "__repr__": lambda st: (),
}

OBJ_METHODS = {
    # name: argument maker (a tuple); all SSLObject methods and properties
    "do_handshake": lambda st: (),
    "try_do_handshake": lambda st: (),
    "read": lambda st: st.args_read(),
    "write": lambda st: (st.buffer_value() if st.fdp.ConsumeBool() else st.value(),),
    "try_recv_into": lambda st: (st.buffer_value(True), st.int_value()) if st.fdp.ConsumeBool()
                     else (st.value(),),
    "try_send": lambda st: (st.buffer_value() if st.fdp.ConsumeBool() else st.value(),),
    "try_unwrap": lambda st: (),
    "unwrap": lambda st: (),
    "pending": lambda st: (),
    "peek": lambda st: (st.int_value(),) if st.fdp.ConsumeBool() else (st.value(),),
    "export_keying_material": lambda st: (_label(st.pick(["EXPORTER-x", b"label", "client finished",
                                                          st.value()])),
                                          st.int_value(), st.pick([None, b"", b"ctx", st.value()])),
    "key_update": lambda st: (st.value(),) if st.fdp.ConsumeBool() else (),
    "renegotiate": lambda st: (),
    "renegotiate_pending": lambda st: (),
    "verify_client_post_handshake": lambda st: (),
    "getpeercert": lambda st: (st.value(),) if st.fdp.ConsumeBool() else (),
    "get_peer_cert_chain": lambda st: (st.value(),) if st.fdp.ConsumeBool() else (),
    "get_verified_chain": lambda st: (st.value(),) if st.fdp.ConsumeBool() else (),
    "get_finished": lambda st: (),
    "get_peer_finished": lambda st: (),
    "client_random": lambda st: (),
    "server_random": lambda st: (),
    "cipher": lambda st: (),
    "cipher_bits": lambda st: (),
    "shared_ciphers": lambda st: (),
    "version": lambda st: (),
    "selected_alpn_protocol": lambda st: (),
    "selected_npn_protocol": lambda st: (),
    "compression": lambda st: (),
    "get_channel_binding": lambda st: (st.pick(["tls-unique", "tls-server-end-point", st.value()]),),
    "want_read": lambda st: (),
    "want_write": lambda st: (),
    "shutdown": lambda st: (),
    "try_shutdown": lambda st: (),
}
OBJ_PROPS = ["context", "session", "session_reused", "server_side", "server_hostname",
             "wanted_events", "suppress_ragged_eofs"]

SOCK_METHODS = dict(OBJ_METHODS)
SOCK_METHODS.update({
    "recv": lambda st: (st.int_value(),) + ((st.value(),) if st.fdp.ConsumeBool() else ()),
    "recv_into": lambda st: (st.buffer_value(True), st.pick([None, st.int_value()]),
                             st.pick([0, socket.MSG_PEEK, st.int_value()])),
    "send": lambda st: (st.buffer_value(), st.pick([0, st.int_value()])),
    "sendall": lambda st: (st.buffer_value(),),
    "settimeout": lambda st: (st.pick([0.0, 0.001]),),
    "setblocking": lambda st: (False,),
    "pending": lambda st: (),
    "dup": lambda st: (),
    "close": lambda st: (),
    "fileno": lambda st: (),
    "recvfrom": lambda st: (st.int_value(),),
    "sendto": lambda st: (b"x", ("127.0.0.1", 9)),
})
SOCK_METHODS.pop("shutdown")
SOCK_METHODS.pop("try_shutdown")
SOCK_METHODS["shutdown"] = lambda st: (st.pick([socket.SHUT_RD, socket.SHUT_WR, socket.SHUT_RDWR,
                                                st.value()]),)


def _label(v):
    # F4 (fixed): an int label used to run bytes(n), n zero bytes; it is a
    # TypeError now, so ints go through as they are.
    return v


def _args_read(st):
    k = st.fdp.ConsumeIntInRange(0, 2)
    if k == 0:
        return (st.int_value(),)
    if k == 1:
        return (st.int_value(), st.buffer_value(True))
    return (st.value(), st.value())


State.args_read = _args_read


def _cadata(st):
    """DER or PEM certificate data, maybe cut or with fuzz bytes appended."""
    with open(H.CA_PEM) as f:
        pem = f.read()
    if st.fdp.ConsumeBool():
        return pem[:st.fdp.ConsumeIntInRange(0, len(pem))] + st.str_value()
    der = ssl.PEM_cert_to_DER_cert(pem)
    return der[:st.fdp.ConsumeIntInRange(0, len(der))] + st.bytes_value()


State.cadata = _cadata


#: findings already reported (fuzz/README.md), matched on the exception so
#: that a long run gets past them; TLSFAST_FUZZ_STRICT=1 turns them back on.
KNOWN = [
    # (exception class, text in its message), with the finding's id.  F1-F4
    # are fixed (938ff78); nothing is let through now.
]
STRICT = bool(os.environ.get("TLSFAST_FUZZ_STRICT"))
#: AttributeErrors the stdlib's ssl raises in the same calls (checked by hand)
STDLIB_ATTRIBUTE_ERRORS = ("has no attribute 'decode'",
                           "'NoneType' object has no attribute 'getpeercert'")


def _known(exc):
    if STRICT:
        return False
    return any(isinstance(exc, cls) and text in str(exc) for cls, text in KNOWN)


def call(st, what, fn, args, readonly_set=False):
    """Run one API call; documented exceptions are outcomes."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fn(*args)
    except EXPECTED as exc:
        H.feature("api", what, type(exc).__name__)
        return exc
    except MemoryError as exc:
        if not st.huge:
            raise H.Finding(f"{what}{_short(args)}: MemoryError without a huge size") from exc
        H.feature("api", what, "MemoryError")
        return exc
    except AttributeError as exc:
        # setting a read-only attribute, or what the stdlib raises as well:
        # wrap_bio(server_hostname=<not str/bytes>) ('int' object has no
        # attribute 'decode'), getpeercert() on a closed SSLSocket
        # ('NoneType' object has no attribute 'getpeercert')
        if readonly_set or any(t in str(exc) for t in STDLIB_ATTRIBUTE_ERRORS) or _known(exc):
            H.feature("api", what, "AttributeError")
            return exc
        raise H.Finding(f"{what}{_short(args)} raised {exc!r}") from exc
    except RuntimeError as exc:
        # only from our own re-entering callbacks
        if st.hostile and "re-entrant" in str(exc):
            return exc
        raise H.Finding(f"{what}{_short(args)} raised {exc!r}") from exc
    except Hostile as exc:
        return exc
    except Exception as exc:
        if _known(exc):
            H.feature("api", what, "known", type(exc).__name__)
            return exc
        raise H.Finding(f"{what}{_short(args)} raised {type(exc).__name__}: {exc}") from exc
    H.feature("api", what, "ok", type(result).__name__)
    return result


def _short(args):
    text = repr(args)
    return text if len(text) < 300 else text[:300] + "...)"


def act_new_context(st):
    proto = st.pick(PROTOCOLS) if st.fdp.ConsumeIntInRange(0, 5) else st.value()
    ctx = call(st, "SSLContext", st.mod.SSLContext, (proto,))
    if isinstance(ctx, st.mod.SSLContext):
        st.ctxs.append(ctx)
        if st.fdp.ConsumeBool() and ctx.protocol == ssl.PROTOCOL_TLS_SERVER:
            ctx.load_cert_chain(H.SERVER_PEM)
        if st.fdp.ConsumeBool() and ctx.protocol == ssl.PROTOCOL_TLS_CLIENT:
            ctx.load_verify_locations(H.CA_PEM)


def act_uninit_context(st):
    # SSLContext.__new__ without __init__: every method must refuse cleanly
    st.ctxs.append(st.mod.SSLContext.__new__(st.mod.SSLContext))


def act_ctx_set(st):
    ctx = st.pick(st.ctxs)
    if ctx is None:
        return
    name = st.pick(CTX_ATTRS)
    if name == "keylog_filename":
        v = st.pick([None, os.devnull, os.path.join(_tmp, "keylog.txt"),
                     os.path.join(_tmp, "no", "such", "dir"), st.value()])
        if isinstance(v, (str, bytes)) and os.fsdecode(v) != os.devnull and \
                not os.fsdecode(v).startswith(_tmp):
            v = os.devnull          # never create files outside the temp dir
    elif name == "sni_callback":
        v = st.callback() if st.fdp.ConsumeBool() else st.value()
    elif st.fdp.ConsumeIntInRange(0, 3) == 0:
        v = st.pick(INT_EDGES)      # C-int edges where the value is not a size
    else:
        v = st.value()
    call(st, "set-" + name, setattr, (ctx, name, v), readonly_set=name in READONLY_CTX_ATTRS)


def act_ctx_get(st):
    ctx = st.pick(st.ctxs)
    if ctx is not None:
        call(st, "get", getattr, (ctx, st.pick(CTX_ATTRS)))


def act_ctx_method(st):
    ctx = st.pick(st.ctxs)
    if ctx is None:
        return
    name = st.pick(list(CTX_METHODS))
    call(st, name, getattr(ctx, name), CTX_METHODS[name](st))


def act_new_bio(st):
    st.bios.append(st.mod.MemoryBIO() if st.fdp.ConsumeIntInRange(0, 3) else ssl.MemoryBIO())


def act_bio_method(st):
    bio = st.pick(st.bios)
    if bio is None:
        return
    k = st.fdp.ConsumeIntInRange(0, 6)
    if k == 0:
        call(st, "bio.write", bio.write, (st.buffer_value() if st.fdp.ConsumeBool() else st.value(),))
    elif k == 1:
        r = call(st, "bio.read", bio.read, (st.int_value(),) if st.fdp.ConsumeBool() else ())
        if isinstance(r, bytes) and r and not isinstance(bio, ssl.MemoryBIO):
            pass
    elif k == 2 and hasattr(bio, "read_into"):
        buf = st.buffer_value(True) if st.fdp.ConsumeBool() else st.value()
        r = call(st, "bio.read_into", bio.read_into, (buf, st.int_value()))
        if isinstance(r, int) and not isinstance(r, bool):
            size = memoryview(buf).nbytes if isinstance(buf, (bytearray, memoryview)) else 0
            if not 0 <= r <= size:
                raise H.Finding(f"MemoryBIO.read_into returned {r} for a {size}-byte buffer")
    elif k == 3:
        call(st, "bio.write_eof", bio.write_eof, ())
    elif k == 4:
        p = bio.pending
        if not isinstance(p, int) or p < 0:
            raise H.Finding(f"MemoryBIO.pending is {p!r}")
        _ = bio.eof
    elif k == 5:
        # the stdlib's read(n) contract: never more than n
        n = st.fdp.ConsumeIntInRange(0, 100)
        r = call(st, "bio.read-n", bio.read, (n,))
        if isinstance(r, bytes) and len(r) > n:
            raise H.Finding(f"MemoryBIO.read({n}) returned {len(r)} bytes")
    else:
        call(st, "bio.write-big", bio.write, (b"\x16\x03\x01" + st.bytes_value(),))


def act_wrap_bio(st):
    ctx = st.pick(st.ctxs)
    if ctx is None:
        return
    k = st.fdp.ConsumeIntInRange(0, 3)
    if k == 0:          # arbitrary arguments
        args = (st.value(), st.value(), st.value(), st.value(), st.value())
    else:
        inc = st.pick(st.bios) if st.fdp.ConsumeBool() else st.mod.MemoryBIO()
        out = st.pick(st.bios) if st.fdp.ConsumeBool() else st.mod.MemoryBIO()
        if k == 3:
            inc, out = (st.fake_bio(), out) if st.fdp.ConsumeBool() else (inc, st.fake_bio())
        server_side = st.fdp.ConsumeBool()
        host = None if server_side else st.pick([H.HOSTNAME, "127.0.0.1", "::1", st.value()])
        args = (inc, out, server_side, host, st.pick([None, None, st.pick(st.sessions)]))
    obj = call(st, "wrap_bio", ctx.wrap_bio, args)
    if isinstance(obj, st.mod.SSLObject):
        st.objs.append(obj)


def act_good_pair(st):
    """A real handshake, to reach the established-state code."""
    flags = st.fdp.ConsumeInt(1) & (H.F_TLS12 | H.F_CLIENT_AUTH | H.F_EXTENSIONS)
    client = H.Side(H.client_context(flags, mod=st.mod), server_side=False, mod=st.mod)
    server = H.Side(H.server_context(flags, mod=st.mod), server_side=True, mod=st.mod)
    session = st.pick(st.sessions) if st.fdp.ConsumeBool() else None
    if session is not None:
        call(st, "set-session", setattr, (client.obj, "session", session))
    if not H.handshake(client, server):
        raise H.Finding("in-process handshake did not complete")
    st.objs += [client.obj, server.obj]
    st.bios += [client.incoming, client.outgoing, server.incoming, server.outgoing]
    s = client.obj.session
    if s is not None:
        st.sessions.append(s)


def act_obj_method(st):
    obj = st.pick(st.objs)
    if obj is None:
        return
    name = st.pick(list(OBJ_METHODS))
    fn = getattr(obj, name, None)
    if fn is None:
        return
    r = call(st, name, fn, OBJ_METHODS[name](st))
    if name in ("try_do_handshake", "try_unwrap", "try_send", "try_recv_into") and \
            isinstance(r, int) and r < -2:
        raise H.Finding(f"{name} returned {r}")


def act_obj_prop(st):
    obj = st.pick(st.objs)
    if obj is None:
        return
    name = st.pick(OBJ_PROPS)
    if st.fdp.ConsumeBool():
        call(st, "get-" + name, getattr, (obj, name))
    else:
        v = st.pick(st.ctxs + st.sessions) if st.fdp.ConsumeBool() else st.value()
        call(st, "set-" + name, setattr, (obj, name, v),
             readonly_set=name in ("session_reused", "server_side", "server_hostname",
                                   "wanted_events"))


def act_pump(st):
    """Move ciphertext from one BIO to another (a handshake in pieces, or
    nonsense into the wrong object)."""
    a, b = st.pick(st.bios), st.pick(st.bios)
    if a is None or b is None:
        return
    data = call(st, "pump-read", a.read, (st.fdp.ConsumeIntInRange(-1, 20000),))
    if isinstance(data, bytes) and data:
        if st.fdp.ConsumeIntInRange(0, 7) == 0:
            data = bytearray(data)
            data[st.fdp.ConsumeIntInRange(0, len(data) - 1)] ^= 0xff
            data = bytes(data)
        call(st, "pump-write", b.write, (data,))


def act_socket_pair(st):
    """Two tlsfast SSLSockets on a socketpair, handshaken with the fast path."""
    if len(st.socks) >= 6:
        return
    flags = st.fdp.ConsumeInt(1) & (H.F_TLS12 | H.F_EXTENSIONS)
    a, b = socket.socketpair()
    st.raw.extend([a, b])
    a.setblocking(False)
    b.setblocking(False)
    c = H.client_context(flags, mod=st.mod).wrap_socket(
        a, server_hostname=H.HOSTNAME, do_handshake_on_connect=False)
    s = H.server_context(flags, mod=st.mod).wrap_socket(
        b, server_side=True, do_handshake_on_connect=False)
    st.socks += [c, s]
    steps = st.fdp.ConsumeIntInRange(0, 8)
    for _ in range(steps):
        for x in (c, s):
            call(st, "sock-hs", x.try_do_handshake, ())


def act_sock_method(st):
    sock = st.pick(st.socks)
    if sock is None:
        return
    name = st.pick(list(SOCK_METHODS))
    fn = getattr(sock, name, None)
    if fn is None:
        return
    call(st, "sock." + name, fn, SOCK_METHODS[name](st))


def act_drop(st):
    """Drop a reference (maybe the last) and collect: objects must survive the
    loss of their context, BIOs or peer."""
    lists = [l for l in (st.ctxs, st.bios, st.objs, st.sessions) if l]
    if lists:
        l = st.pick(lists)
        l.pop(st.fdp.ConsumeIntInRange(0, len(l) - 1))
    if st.fdp.ConsumeBool():
        gc.collect()


def act_module(st):
    k = st.fdp.ConsumeIntInRange(0, 3)
    if k == 0:
        n = st.int_value()
        if isinstance(n, int) and n > 1 << 20:
            n = -n        # huge positive counts only allocate; keep the run fast
        call(st, "RAND_bytes", st.mod.RAND_bytes, (n,))
    elif k == 1:
        call(st, "RAND_status", st.mod.RAND_status, ())
    elif k == 2:
        ctx = call(st, "create_default_context", st.mod.create_default_context,
                   (st.pick([ssl.Purpose.SERVER_AUTH, ssl.Purpose.CLIENT_AUTH, st.value()]),))
        if isinstance(ctx, st.mod.SSLContext):
            st.ctxs.append(ctx)
    else:
        ctx = call(
            st, "create_default_context-ca",
            lambda: st.mod.create_default_context(
                cafile=st.pick([None, st.path_value(), st.value()]),
                cadata=st.pick([None, st.cadata(), st.value()])), ())
        if isinstance(ctx, st.mod.SSLContext):
            st.ctxs.append(ctx)


ACTIONS = [act_new_context, act_new_context, act_ctx_set, act_ctx_get, act_ctx_method,
           act_ctx_method, act_new_bio, act_bio_method, act_wrap_bio, act_wrap_bio,
           act_good_pair, act_obj_method, act_obj_method, act_obj_method, act_obj_prop,
           act_pump, act_socket_pair, act_sock_method, act_sock_method, act_drop,
           act_module, act_uninit_context]

def act_uninit_objects(st):
    """SSLObject / SSLSession made with __new__ alone: F2 (fixed) -- they
    must be refused (TypeError); one that is not is used like any other."""
    for cls, pool in ((st.mod.SSLObject, st.objs), (st.mod.SSLSession, st.sessions)):
        obj = call(st, "new-" + cls.__name__, cls.__new__, (cls,))
        if isinstance(obj, cls):
            pool.append(obj)


ACTIONS.append(act_uninit_objects)

# fake BIOs that return more than asked / claim more written (F1, fixed);
# TLSFAST_FUZZ_SAFE_BIOS=1 keeps them to the other misbehaviours
SAFE_BIOS = bool(os.environ.get("TLSFAST_FUZZ_SAFE_BIOS"))


def one_input(data):
    import atheris
    mod = H.load()
    st = State(mod, atheris.FuzzedDataProvider(data))
    st.raw = []
    try:
        for _ in range(MAX_STEPS):
            if st.fdp.remaining_bytes() <= 0:
                break
            action = ACTIONS[st.fdp.ConsumeIntInRange(0, len(ACTIONS) - 1)]
            action(st)
            H.check_unraisable(allowed=(Exception,) if st.hostile else ())
    finally:
        for s in st.socks + st.raw:
            try:
                s.close()
            except OSError:
                pass
    H.check_unraisable(allowed=(Exception,) if st.hostile else ())


def _seed(*steps):
    return bytes(b for step in steps for b in step)


SEEDS = {
    # a few call programs; the fuzzer finds its own quickly, these only save time
    "seed-pair-probe": bytes([10, 0, 11, 5, 11, 12, 11, 20, 11, 24, 11, 26]) * 2,
    "seed-context": bytes([0, 0, 2, 3, 4, 5, 4, 1, 4, 7, 4, 9, 4, 11]),
    "seed-bio": bytes([6, 1, 7, 0, 8, 1, 2, 3, 4, 5, 7, 1, 7, 2]),
    "seed-socket": bytes([16, 0, 5, 17, 3, 17, 1, 17, 8]),
}


def main():
    import atheris
    H.load()
    H.init_features()
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
