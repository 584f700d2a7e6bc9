"""What every workload shares: the TLS settings, the certificates, the five
implementations and the small untimed helpers (making a connection, checking
what was negotiated).

TLS settings, identical everywhere (``c_floor.c`` has the same constants):
TLS 1.3 only, one cipher suite (``CIPHERSUITE``), one key-exchange group
(``GROUP``), a client verifying the server's chain against a trustme CA and
its name (``HOSTNAME``).  The stdlib (and so tlsfast, which mirrors it) has no
way to choose TLS 1.3 cipher suites, so the suite is the one OpenSSL prefers
by default, and every connection a workload makes is checked to have
negotiated it; the group is set on both ends (``set_ecdh_curve``), so no
other can be agreed.

Which API each implementation uses (each its natural non-blocking one):

* ``tlsfast-c``, ``tlsfast-python``: the fast path (``try_recv_into``,
  ``try_send``, ``try_do_handshake`` returning ``WANT_READ``/``WANT_WRITE``),
  except in the rows that name the stdlib call (``recv_into``, want-read
  exception path);
* ``stdlib``: ``ssl.SSLSocket`` / ``ssl.SSLObject`` methods, catching
  ``SSLWantReadError`` / ``SSLWantWriteError``;
* ``pyopenssl``: ``OpenSSL.SSL.Connection`` (socket and memory-BIO modes),
  catching ``WantReadError`` / ``WantWriteError``.  pyOpenSSL goes through
  ``cryptography``'s own bundled OpenSSL, not the system one: the report
  records both versions.
"""

import os
import socket
import ssl
import tempfile
import time

CIPHERSUITE = "TLS_AES_256_GCM_SHA384"
GROUP = "X25519"
HOSTNAME = "localhost"
RECV_BUF = 65536          # the receive buffer of every stream reader
RECORD = 16384            # the largest TLS record's plaintext

#: round-robin order; "c-floor" is the reference every ratio divides by.
#: "python-plain" is no TLS implementation: the Python side of a no-TLS
#: reference row (plain sockets), run only by workloads that list it.
IMPLS = ("c-floor", "tlsfast-c", "tlsfast-python", "stdlib", "pyopenssl", "python-plain")
LABELS = {
    "c-floor": "C floor",
    "tlsfast-c": "tlsfast (c)",
    "tlsfast-python": "tlsfast (python)",
    "stdlib": "stdlib ssl",
    "pyopenssl": "pyOpenSSL",
    "python-plain": "Python, no TLS",
}
#: the columns of a TLS workload (every workload's default)
TLS_IMPLS = IMPLS[:5]
PY_IMPLS = TLS_IMPLS[1:]


class BenchError(RuntimeError):
    """A workload could not produce an honest figure (wrong byte count,
    unfinished handshake, unexpected cipher...)."""


def check(cond, what, *args):
    if not cond:
        raise BenchError(what % args if args else what)


# --- certificates ---------------------------------------------------------

class Certs:
    """Two trustme CAs (ECDSA P-256 and RSA-2048), a ``localhost`` leaf from
    each, written where the C floor can load them too:

    ``ca.pem`` (both CA certificates), ``ecdsa.pem`` and ``rsa.pem`` (key,
    leaf and chain in one file)."""

    def __init__(self, directory=None):
        import trustme
        self._tmp = None
        if directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="tlsfast-bench-")
            directory = self._tmp.name
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.ca = os.path.join(directory, "ca.pem")
        self.chain = {"ecdsa": os.path.join(directory, "ecdsa.pem"),
                      "rsa": os.path.join(directory, "rsa.pem")}
        if not all(os.path.exists(p) for p in (self.ca, *self.chain.values())):
            cas = []
            for kind, key_type in (("ecdsa", trustme.KeyType.ECDSA), ("rsa", trustme.KeyType.RSA)):
                ca = trustme.CA(key_type=key_type)
                leaf = ca.issue_cert(HOSTNAME, key_type=key_type)
                leaf.private_key_and_cert_chain_pem.write_to_path(self.chain[kind])
                cas.append(ca.cert_pem.bytes())
            with open(self.ca, "wb") as f:
                f.write(b"".join(cas))

    def cleanup(self):
        if self._tmp is not None:
            self._tmp.cleanup()


# --- implementations --------------------------------------------------------

class Impl:
    """One Python implementation: its contexts (made once) and untimed
    helpers.  ``style`` tells the workloads which inner loop to use:
    ``"fast"`` (tlsfast's ``try_*``), ``"exc"`` (the stdlib's exceptions) or
    ``"pyopenssl"``."""

    name = style = None
    WantRead = WantWrite = None
    EOFErrors = ()

    def __init__(self, certs):
        self.certs = certs
        self._ctx = {}

    def ctx(self, side):
        """``side``: "client", "ecdsa" or "rsa" (server with that certificate)."""
        if side not in self._ctx:
            self._ctx[side] = self._make_ctx(side)
        return self._ctx[side]

    def client(self, sock):
        raise NotImplementedError

    def server(self, sock, kind="ecdsa"):
        raise NotImplementedError

    def handshake_step(self, conn):
        """One non-blocking handshake step: True when done."""
        try:
            conn.do_handshake()
            return True
        except (self.WantRead, self.WantWrite):
            return False

    def read_some(self, conn, buf):
        """Bytes read (0 at EOF) or None for want-read/write (untimed helper)."""
        try:
            return conn.recv_into(buf)
        except (self.WantRead, self.WantWrite):
            return None

    def check(self, conn):
        version, cipher = self.negotiated(conn)
        check(version == "TLSv1.3" and cipher == CIPHERSUITE,
              "%s negotiated %s %s", self.name, version, cipher)

    def pair(self, kind="ecdsa"):
        """A handshaken, checked, drained connection over a socketpair:
        ``(client, server)``."""
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        c = self.client(a)
        s = self.server(b, kind)
        handshake_both(self, c, s)
        self.check(c)
        self.check(s)
        buf = bytearray(1)
        # read the session tickets now, so no timed read meets them
        check(self.read_some(c, buf) is None and self.read_some(s, buf) is None,
              "unexpected data after the handshake")
        return c, s

    def close(self, *conns):
        for c in conns:
            c.close()


def handshake_both(impl, c, s):
    done_c = done_s = False
    for _ in range(1000):
        if not done_c:
            done_c = impl.handshake_step(c)
        if not done_s:
            done_s = impl.handshake_step(s)
        if done_c and done_s:
            return
    raise BenchError(f"{impl.name}: handshake did not finish")


class SslModuleImpl(Impl):
    """stdlib ``ssl`` and both tlsfast implementations (the same API)."""

    WantRead = ssl.SSLWantReadError
    WantWrite = ssl.SSLWantWriteError

    def __init__(self, certs, name, module, style):
        super().__init__(certs)
        self.name = name
        self.mod = module
        self.style = style

    def _make_ctx(self, side):
        mod = self.mod
        if side == "client":
            ctx = mod.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.load_verify_locations(cafile=self.certs.ca)
        else:
            ctx = mod.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.certs.chain[side])
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.maximum_version = ssl.TLSVersion.TLSv1_3
        ctx.set_ecdh_curve(GROUP)
        return ctx

    def client(self, sock):
        return self.ctx("client").wrap_socket(sock, server_hostname=HOSTNAME,
                                              do_handshake_on_connect=False)

    def server(self, sock, kind="ecdsa"):
        return self.ctx(kind).wrap_socket(sock, server_side=True, do_handshake_on_connect=False)

    def negotiated(self, conn):
        return conn.version(), conn.cipher()[0]

    def bio_pair(self):
        """Memory-BIO client and server: ``(c, c_in, c_out, s, s_in, s_out)``."""
        bio = getattr(self.mod, "MemoryBIO", None) or ssl.MemoryBIO
        c_in, c_out, s_in, s_out = bio(), bio(), bio(), bio()
        c = self.ctx("client").wrap_bio(c_in, c_out, server_hostname=HOSTNAME)
        s = self.ctx("ecdsa").wrap_bio(s_in, s_out, server_side=True)
        return c, c_in, c_out, s, s_in, s_out


class PyOpenSSLImpl(Impl):
    name = "pyopenssl"
    style = "pyopenssl"

    def __init__(self, certs):
        super().__init__(certs)
        from OpenSSL import SSL
        self.SSL = SSL
        self._lib = SSL._lib
        self.WantRead = SSL.WantReadError
        self.WantWrite = SSL.WantWriteError
        self.EOFErrors = (SSL.ZeroReturnError, SSL.SysCallError)

    def _make_ctx(self, side):
        SSL, lib = self.SSL, self._lib
        ctx = SSL.Context(SSL.TLS_METHOD)
        ctx.set_min_proto_version(SSL.TLS1_3_VERSION)
        ctx.set_max_proto_version(SSL.TLS1_3_VERSION)
        ctx.set_options(SSL.OP_NO_COMPRESSION | SSL.OP_CIPHER_SERVER_PREFERENCE)
        ctx.set_mode(SSL.MODE_RELEASE_BUFFERS)      # as CPython's _ssl, tlsfast, the C floor
        if hasattr(ctx, "set_tls13_ciphersuites"):            # pyOpenSSL >= 25.2
            ctx.set_tls13_ciphersuites(CIPHERSUITE.encode())
        else:
            check(lib.SSL_CTX_set_ciphersuites(ctx._context, CIPHERSUITE.encode()) == 1,
                  "pyOpenSSL: cannot set the cipher suite")
        # pyOpenSSL has no public call for the group list; cryptography's
        # bindings do (its OpenSSL otherwise prefers a post-quantum hybrid)
        check(lib.SSL_CTX_set1_curves_list(ctx._context, GROUP.encode()) == 1,
              "pyOpenSSL: cannot set the group")
        if side == "client":
            ctx.set_verify(SSL.VERIFY_PEER)
            ctx.load_verify_locations(self.certs.ca)
        else:
            ctx.use_certificate_chain_file(self.certs.chain[side])
            ctx.use_privatekey_file(self.certs.chain[side])
        return ctx

    def client(self, sock):
        conn = self.SSL.Connection(self.ctx("client"), sock)
        self._client_setup(conn)
        return conn

    def _client_setup(self, conn):
        lib = self._lib
        conn.set_connect_state()
        conn.set_tlsext_host_name(HOSTNAME.encode())
        # name verification as the stdlib does it (X509_VERIFY_PARAM_set1_host)
        param = lib.SSL_get0_param(conn._ssl)
        check(lib.X509_VERIFY_PARAM_set1_host(param, HOSTNAME.encode(), len(HOSTNAME)) == 1,
              "pyOpenSSL: set1_host failed")

    def server(self, sock, kind="ecdsa"):
        conn = self.SSL.Connection(self.ctx(kind), sock)
        conn.set_accept_state()
        return conn

    def negotiated(self, conn):
        group = conn.get_group_name() if hasattr(conn, "get_group_name") else None
        check(group is None or group.lower() == GROUP.lower(), "pyOpenSSL negotiated group %s", group)
        return conn.get_protocol_version_name(), conn.get_cipher_name()

    def bio_pair(self):
        c = self.SSL.Connection(self.ctx("client"), None)
        self._client_setup(c)
        s = self.SSL.Connection(self.ctx("ecdsa"), None)
        s.set_accept_state()
        return c, None, None, s, None, None

    def close(self, *conns):
        for c in conns:
            sock = getattr(c, "_socket", None)
            if sock is not None:
                sock.close()


def load_impls(certs, names=PY_IMPLS):
    """The Python implementations by name (the C floor is driven by
    ``cfloor``); raises ``BenchError`` naming what is missing."""
    out = {}
    for name in names:
        if name == "tlsfast-c":
            try:
                import tlsfast._tls_c as mod
            except ImportError as exc:
                raise BenchError(f"tlsfast._tls_c is not built ({exc}): run `make build`") from exc
            out[name] = SslModuleImpl(certs, name, mod, "fast")
        elif name == "tlsfast-python":
            import tlsfast._tls_py as mod
            out[name] = SslModuleImpl(certs, name, mod, "fast")
        elif name == "stdlib":
            out[name] = SslModuleImpl(certs, name, ssl, "exc")
        elif name == "pyopenssl":
            try:
                out[name] = PyOpenSSLImpl(certs)
            except ImportError as exc:
                raise BenchError("pyOpenSSL is not installed: pip install -e '.[bench]'") from exc
    return out


# --- TCP helpers -------------------------------------------------------------

def listen_tcp(backlog=16):
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(backlog)
    return lsock, lsock.getsockname()[1]


def accept_one(impl, lsock, timeout=10.0):
    """Accept one connection and handshake it server-side (non-blocking)."""
    import selectors
    lsock.settimeout(timeout)
    sock, _ = lsock.accept()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    fd = sock.fileno()
    conn = impl.server(sock)      # the stdlib detaches ``sock``
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if impl.handshake_step(conn):
                impl.check(conn)
                return conn
            sel.select(0.05)
    finally:
        sel.close()
    raise BenchError(f"{impl.name}: server handshake timed out")
