"""Shared pieces of the atheris targets in ``fuzz/`` (see ``fuzz/README.md``).

* ``load()`` imports the compiled implementation ``tlsfast._tls_c`` (the
  one ``PYTHONPATH`` points at: ``make fuzz`` builds an instrumented copy
  out of tree) and refuses to run on the pure-Python one.
* Contexts are built once per configuration from the fixed certificates in
  ``fuzz/certs/`` (so the recorded seed flights verify).
* ``Side`` wraps one ``SSLObject`` and its two ``MemoryBIO`` objects;
  ``handshake()`` runs a real in-process handshake between two of them.
* ``feature(key)`` turns an outcome (operation, exception class, OpenSSL
  reason, output size...) into a libFuzzer coverage counter: libssl itself is
  not instrumented, so without it the fuzzer would not see that a mutated
  record reached a new OpenSSL error path.
* ``Findings``: any exception outside the documented set, an unraisable
  exception (``sys.unraisablehook``) or a broken invariant is raised out of
  the target, which atheris reports as a crash with the input saved.

Input layout of the server / client targets: byte 0 holds the flags below,
the rest is the payload: TLS records (handshake modes) or an operation
script (established modes, see ``fuzz_records.py``).
"""

from __future__ import annotations

import os
import ssl
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
CERTS = os.path.join(HERE, "certs")
CA_PEM = os.path.join(CERTS, "ca.pem")
SERVER_PEM = os.path.join(CERTS, "server.pem")      # chain (leaf, intermediate) + key
CLIENT_PEM = os.path.join(CERTS, "client.pem")      # leaf + key
HOSTNAME = "localhost"
ALPN = ["h2", "http/1.1"]

# --- flags (byte 0 of an input) ------------------------------------------
MODE_MASK = 0x03        # 0: handshake, whole payload; 1: handshake, chunked;
                        # 2, 3: established connection, operation script
F_TLS12 = 0x04          # both ends capped at TLS 1.2 (else 1.2..1.3)
F_STDLIB_BIO = 0x08     # fuzzed side over ssl.MemoryBIO (the Python BIO adapter)
F_CLIENT_AUTH = 0x10    # server asks for a client certificate; client has one,
                        # post-handshake auth on
F_EXTENSIONS = 0x20     # ALPN on both ends, SNI callback on the server
F_KEYLOG = 0x40         # key log callback (to /dev/null) on the fuzzed side
F_RAISING = 0x80        # stdlib-style raising methods instead of try_* fast path

MODE_HANDSHAKE, MODE_CHUNKED, MODE_SCRIPT, MODE_SCRIPT2 = range(4)

#: what the protocol operations may raise: the stdlib's ssl.SSLError family
#: and ValueError (e.g. "handshake not done yet").
PROTOCOL_ERRORS = (ssl.SSLError, ValueError)

_mod = None
_contexts: dict = {}
_unraisable: list = []


class Finding(AssertionError):
    """A broken invariant or an unexpected exception: atheris saves the input."""


def load():
    """The compiled implementation module; the fuzz build must be the one found."""
    global _mod
    if _mod is None:
        os.environ["TLSFAST_IMPL"] = "c"
        import tlsfast
        from tlsfast import _tls_c
        assert tlsfast.__impl__ == "c", tlsfast.__impl__
        if os.environ.get("TLSFAST_FUZZ_VERBOSE"):
            print(f"tlsfast under test: {_tls_c.__file__}", file=sys.stderr)
        sys.unraisablehook = _on_unraisable
        _mod = _tls_c
    return _mod


def _on_unraisable(info):
    _unraisable.append(info)


def check_unraisable(allowed=()):
    """Raise a Finding for an unraisable exception reported by tlsfast (an
    exception inside an OpenSSL callback) unless its type is ``allowed``."""
    if not _unraisable:
        return
    infos = list(_unraisable)
    _unraisable.clear()
    for info in infos:
        if allowed and isinstance(info.exc_value, allowed):
            continue
        raise Finding(f"unraisable exception in {info.object!r}: "
                      f"{info.exc_type.__name__}: {info.exc_value}") from info.exc_value


# --- coverage feedback from outcomes ---------------------------------------

_COUNTERS: list = []
_N_COUNTERS = 8192


def init_features():
    """Reserve the counters ``feature()`` uses (before atheris.Fuzz)."""
    import atheris
    if not _COUNTERS:
        _COUNTERS.extend(atheris._reserve_counter() for _ in range(_N_COUNTERS))


def feature(*key):
    """Count ``key`` (a tuple of small ints / strs) as an edge for libFuzzer."""
    if _COUNTERS:
        import atheris
        atheris._trace_branch(_COUNTERS[zlib.crc32(repr(key).encode()) % _N_COUNTERS])


def outcome_key(exc):
    """A stable description of an exception for ``feature``."""
    if exc is None:
        return ("ok",)
    return (type(exc).__name__, getattr(exc, "library", None), getattr(exc, "reason", None),
            getattr(exc, "verify_code", None))


def bucket(n):
    """log2 bucket of a byte count (feature keys stay few)."""
    return n.bit_length() if isinstance(n, int) and n >= 0 else n


# --- contexts -------------------------------------------------------------

def _alt_server_context(mod, flags):
    return server_context(flags & ~F_EXTENSIONS, mod=mod, _alt=True)


def server_context(flags, mod=None, _alt=False):
    mod = mod or load()
    key = ("server", flags & (F_TLS12 | F_CLIENT_AUTH | F_EXTENSIONS | F_KEYLOG), _alt)
    ctx = _contexts.get(key)
    if ctx is None:
        ctx = mod.SSLContext(mod.PROTOCOL_TLS_SERVER if hasattr(mod, "PROTOCOL_TLS_SERVER")
                             else ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(SERVER_PEM)
        if flags & F_TLS12:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        if flags & F_CLIENT_AUTH:
            ctx.load_verify_locations(CA_PEM)
            ctx.verify_mode = ssl.CERT_OPTIONAL
            ctx.post_handshake_auth = True
        if flags & F_EXTENSIONS:
            ctx.set_alpn_protocols(ALPN)
            alt = _alt_server_context(mod, flags)

            def sni(sock, name, context):
                feature("sni", name is None, len(name or "") & 7)
                if name == "alt.example":
                    sock.context = alt
                elif name == "alert.example":
                    return ssl.ALERTDESCRIPTION_UNRECOGNIZED_NAME
                return None
            ctx.sni_callback = sni
        if flags & F_KEYLOG:
            ctx.keylog_filename = os.devnull
        _contexts[key] = ctx
    return ctx


def client_context(flags, mod=None):
    mod = mod or load()
    key = ("client", flags & (F_TLS12 | F_CLIENT_AUTH | F_EXTENSIONS | F_KEYLOG))
    ctx = _contexts.get(key)
    if ctx is None:
        ctx = mod.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(CA_PEM)
        if flags & F_TLS12:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        if flags & F_CLIENT_AUTH:
            ctx.load_cert_chain(CLIENT_PEM)
            ctx.post_handshake_auth = True
        if flags & F_EXTENSIONS:
            ctx.set_alpn_protocols(ALPN)
        if flags & F_KEYLOG:
            ctx.keylog_filename = os.devnull
        _contexts[key] = ctx
    return ctx


# --- one end over memory BIOs --------------------------------------------------

class Side:
    """An SSLObject with its BIOs; ``raising`` picks the stdlib-style methods
    (``do_handshake``, ``read``) over the fast path (``try_*``)."""

    def __init__(self, ctx, *, server_side, stdlib_bio=False, raising=False,
                 server_hostname=HOSTNAME, mod=None):
        mod = mod or load()
        bio = ssl.MemoryBIO if stdlib_bio else mod.MemoryBIO
        self.incoming, self.outgoing = bio(), bio()
        self.obj = ctx.wrap_bio(self.incoming, self.outgoing, server_side=server_side,
                                server_hostname=None if server_side else server_hostname)
        self.raising = raising
        self.done = False
        self.dead = False      # a fatal error was seen

    def step(self):
        """One handshake attempt; returns True when done, None on want-read.
        Exceptions propagate."""
        if self.raising:
            try:
                self.obj.do_handshake()
            except ssl.SSLWantReadError:
                return None
            self.done = True
            return True
        code = self.obj.try_do_handshake()
        if code == 0:
            self.done = True
            return True
        if code not in (-1, -2):
            raise Finding(f"try_do_handshake() returned {code!r}")
        if self.obj.wanted_events == 0:
            raise Finding("wanted_events is 0 after a WANT code")
        return None

    def read(self, n):
        """Read up to ``n``: bytes, b'' at EOF, None on want."""
        if self.raising:
            try:
                data = self.obj.read(n)
            except ssl.SSLWantReadError:
                return None
        else:
            buf = bytearray(max(n, 1))
            r = self.obj.try_recv_into(buf, n)    # n == 0: the whole buffer
            if r in (-1, -2):
                return None
            n = n or len(buf)
            if not 0 <= r <= n:
                raise Finding(f"try_recv_into(buf, {n}) returned {r}")
            data = bytes(buf[:r])
        if len(data) > max(n, 0):
            raise Finding(f"read({n}) returned {len(data)} bytes")
        return data

    def write(self, data):
        if self.raising:
            try:
                return self.obj.write(data)
            except ssl.SSLWantReadError:
                return None
        r = self.obj.try_send(data)
        if r in (-1, -2):
            return None
        if not 0 <= r <= len(data):
            raise Finding(f"try_send({len(data)} bytes) returned {r}")
        return r

    def shutdown(self):
        if self.raising:
            try:
                self.obj.unwrap()
                return 0
            except ssl.SSLWantReadError:
                return None
        r = self.obj.try_unwrap()
        return None if r in (-1, -2) else r

    def drain(self):
        return self.outgoing.read()


def handshake(client, server, rounds=12):
    """Run a real handshake between two Sides; the last flight (TLS 1.3
    tickets) stays in the client's incoming BIO.  Returns True when done."""
    for _ in range(rounds):
        if not client.done:
            client.step()
        data = client.drain()
        if data:
            server.incoming.write(data)
        if not server.done:
            server.step()
        data = server.drain()
        if data:
            client.incoming.write(data)
        if client.done and server.done:
            return True
    return False


def probe(obj):
    """Call the inspection methods of a (possibly broken) SSLObject: none may
    crash; each may raise only what is documented."""
    calls = (
        ("version", ()), ("cipher", ()), ("pending", ()), ("shared_ciphers", ()),
        ("selected_alpn_protocol", ()), ("get_channel_binding", ()),
        ("getpeercert", ()), ("getpeercert", (True,)), ("session_reused", None),
        ("session", None), ("get_finished", ()), ("get_peer_finished", ()),
        ("client_random", ()), ("server_random", ()), ("cipher_bits", ()),
        ("get_peer_cert_chain", ()), ("get_peer_cert_chain", (True,)),
        ("get_verified_chain", ()), ("renegotiate_pending", ()),
        ("want_read", ()), ("want_write", ()), ("wanted_events", None),
        ("export_keying_material", ("EXPORTER-fuzz", 32, b"ctx")),
    )
    for name, args in calls:
        try:
            attr = getattr(obj, name)
            result = attr if args is None else attr(*args)
            feature("probe", name, result is None)
        except PROTOCOL_ERRORS as exc:
            feature("probe", name, *outcome_key(exc))
