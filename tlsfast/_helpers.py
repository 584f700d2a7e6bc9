"""Module-level helpers written once over whichever implementation is live."""

import errno
import os
import socket
import ssl as _ssl     # bound now: with sys.modules["ssl"] = tlsfast a later import gets tlsfast
import sys
import warnings

from ._common import DEFAULT_CONTEXT_VERIFY_FLAGS, WARN_DEPRECATED, ASN1Object


def stdlib_original(module, name):
    """The stdlib's own ``<module>.<name>`` (``module`` is the module
    object), even after gevent's or eventlet's monkey-patching replaced the
    attribute with a green one or deleted it (eventlet: ``select.poll``):
    tlsfast's classes must derive from the real ``socket.socket`` /
    ``ssl.SSLContext``.  None when there is no such attribute at all."""
    current = getattr(module, name, None)      # (eventlet deletes select.poll)
    for cls in getattr(current, "__mro__", ()):
        if cls.__module__ == module.__name__ and cls.__name__ == name:
            return cls
    gevent_monkey = sys.modules.get("gevent.monkey")      # keeps the originals
    if gevent_monkey is not None:
        original = gevent_monkey.saved.get(module.__name__, {}).get(name)
        if original is not None:
            return original
    eventlet_patcher = sys.modules.get("eventlet.patcher")
    if eventlet_patcher is not None:
        return getattr(eventlet_patcher.original(module.__name__), name)
    return current


def check_wrap_args(check_hostname, server_side, server_hostname, session=None,
                    sslobject=False):
    """The stdlib's argument checks of ``wrap_socket`` / ``wrap_bio``
    (``sslobject=True``: ``wrap_bio``'s, without the session one), raising
    its ``ValueError`` texts, done before any descriptor changes hands.  The
    one place every wrap (both implementations, gevent, eventlet) checks
    them."""
    if server_side:
        if server_hostname:
            # (the stdlib says "server mode" for sockets up to 3.12)
            raise ValueError("server_hostname can only be specified in "
                             + ("client mode" if sslobject else "server mode"))
        if session is not None and not sslobject:
            raise ValueError("session can only be specified in client mode")
    if check_hostname and not server_hostname:
        raise ValueError("check_hostname requires server_hostname")


def check_sendmsg_args(sock, ancdata, flags, address):
    """The arguments of ``sendmsg`` on a socket with TLS up (both
    implementations and the green sockets), beside ``buffers``: raises
    ``NotImplementedError`` for non-empty ``ancdata`` (control messages,
    e.g. ``SCM_RIGHTS``, would travel beside the TLS stream, unencrypted;
    the stdlib refuses all of ``sendmsg`` this way), ``TypeError`` for an
    ``ancdata`` that is not iterable (as ``socket.sendmsg``), ``ValueError``
    for non-zero ``flags`` (as ``send``) and for an ``address`` (as
    ``sendto`` with TLS up)."""
    for _ in ancdata:
        raise NotImplementedError(
            f"sendmsg with ancillary data not allowed on instances of {sock.__class__}")
    if flags != 0:
        raise ValueError(f"non-zero flags not allowed in calls to sendmsg() on {sock.__class__}")
    if address is not None:
        raise ValueError(f"sendmsg with an address not allowed on instances of {sock.__class__}")


def join_buffers(buffers):
    """The bytes-like objects of the iterable ``buffers`` joined into one
    ``bytes`` (the pure-Python implementation's gathering write); raises
    ``TypeError`` as the compiled ``try_sendv`` does: for a single
    bytes-like object or ``str``, a non-iterable, or an item that is not a
    C-contiguous bytes-like object."""
    if isinstance(buffers, (bytes, bytearray, memoryview, str)):
        raise TypeError(f"buffers must be an iterable of bytes-like objects, "
                        f"not a single {type(buffers).__name__!r}")
    try:
        return b"".join(buffers)
    except BufferError as exc:      # a non-contiguous memoryview
        raise TypeError(f"a C-contiguous bytes-like object is required ({exc})") from None
    except TypeError:
        try:
            iter(buffers)
        except TypeError:
            raise TypeError(f"buffers must be an iterable of bytes-like objects, "
                            f"not {type(buffers).__name__!r}") from None
        raise


def check_session(session, session_class, server_side):
    """The stdlib's checks of a session assigned to a connection, with its
    messages: ``TypeError`` unless ``session`` is a ``session_class``,
    ``ValueError`` on a server side.  The one place both implementations
    check (the compiled one adds the session's-context check, which only it
    can make before ``connect()``)."""
    if not isinstance(session, session_class):
        raise TypeError("Value is not a SSLSession.")
    if server_side:
        raise ValueError("Cannot set session for server-side SSLSocket.")


def not_a_context(value):
    """The ``TypeError`` for assigning ``value``, not a tlsfast
    ``SSLContext``, where one is needed (both implementations)."""
    return TypeError(f"The value must be a tlsfast SSLContext, not {type(value).__name__}")


def pre_handshake_data_error(recv, err):
    """CVE-2023-40217, as the stdlib (3.11.5+): a socket found not connected
    when it is wrapped (the peer sent cleartext and reset) must not have that
    data read later as if it came through TLS.  ``recv(1)`` (not blocking)
    reads one byte; returns the ``ssl.SSLError`` (``args[0]`` = ``err``) to
    raise when there was data, else None."""
    try:
        data = recv(1)
    except OSError as e:
        if e.errno not in (errno.ENOTCONN, errno.EINVAL):
            raise
        data = b""
    if not data:
        return None
    reason = "Closed before TLS handshake with data in recv buffer."
    exc = _ssl.SSLError(err, reason)
    exc.reason = reason
    exc.library = None
    return exc


def get_server_certificate(addr, ssl_version=None, ca_certs=None, timeout=None):
    """Connect to ``addr`` (a ``(host, port)`` tuple) and return the server's
    certificate as a PEM ``str``, like ``ssl.get_server_certificate``.

    ``ssl_version`` is the ``PROTOCOL_*`` constant the ``SSLContext`` is
    made with (None: ``PROTOCOL_TLS_CLIENT``, the stdlib's default); the
    others warn ``DeprecationWarning`` as ``SSLContext`` does.  ``host`` is
    the ``server_hostname`` given to ``wrap_socket``.  Without ``ca_certs``
    nothing is verified (``CERT_NONE``).  ``ca_certs`` (path of a PEM file
    of CA certificates) switches verification of the chain on
    (``CERT_REQUIRED``); as in the stdlib, the name is never checked here
    (``check_hostname`` is off), so ``addr`` may be an IP address the
    certificate does not name.  ``timeout`` is in seconds
    (float) and bounds the connection and the handshake (``None`` =
    ``socket.getdefaulttimeout()``).

    Raises ``OSError`` for connection failures (``ConnectionRefusedError``...)
    and when ``ca_certs`` cannot be read, ``socket.timeout`` when the timeout
    expires, ``ssl.SSLCertVerificationError`` when the certificate is
    rejected, ``ssl.SSLError`` (or another subclass) for other TLS failures
    -- including a ``ca_certs`` file with no certificate in it and
    ``ssl_version=PROTOCOL_TLS_SERVER``, which cannot make a client
    connection.
    """
    import tlsfast

    host, port = addr
    if ca_certs is not None:
        cert_reqs = tlsfast.CERT_REQUIRED
    else:
        cert_reqs = tlsfast.CERT_NONE
    context = tlsfast.SSLContext(
        tlsfast.PROTOCOL_TLS_CLIENT if ssl_version is None else ssl_version
    )
    context.check_hostname = False      # as the stdlib: only the chain
    context.verify_mode = cert_reqs
    if ca_certs is not None:
        context.load_verify_locations(ca_certs)
    kwargs = {} if timeout is None else {"timeout": timeout}
    with socket.create_connection(addr, **kwargs) as sock:
        with context.wrap_socket(sock, server_hostname=host) as sslsock:
            dercert = sslsock.getpeercert(True)
    return tlsfast.DER_cert_to_PEM_cert(dercert)


def _finish_context(context, purpose, cafile, capath, cadata):
    """The common end of the stdlib's context factories: the given CA
    locations, else the default ones when verifying; ``SSLKEYLOGFILE``."""
    if cafile or capath or cadata:
        context.load_verify_locations(cafile, capath, cadata)
    elif context.verify_mode != _ssl.CERT_NONE:
        context.load_default_certs(purpose)
    keylogfile = os.environ.get("SSLKEYLOGFILE")
    if keylogfile and not sys.flags.ignore_environment:
        context.keylog_filename = keylogfile
    return context


def create_default_context(context_class, purpose, cafile=None, capath=None, cadata=None):
    """``ssl.create_default_context`` over ``context_class`` (either
    implementation's ``SSLContext``); the logic of the running Python's
    stdlib, once (3.13 adds ``VERIFY_X509_PARTIAL_CHAIN`` and
    ``VERIFY_X509_STRICT``)."""
    if not isinstance(purpose, ASN1Object):
        raise TypeError(purpose)
    if purpose == _ssl.Purpose.SERVER_AUTH:
        context = context_class(_ssl.PROTOCOL_TLS_CLIENT)
        context.verify_mode = _ssl.CERT_REQUIRED
        context.check_hostname = True
    elif purpose == _ssl.Purpose.CLIENT_AUTH:
        context = context_class(_ssl.PROTOCOL_TLS_SERVER)
    else:
        raise ValueError(purpose)
    if DEFAULT_CONTEXT_VERIFY_FLAGS:
        context.verify_flags |= DEFAULT_CONTEXT_VERIFY_FLAGS
    return _finish_context(context, purpose, cafile, capath, cadata)


def create_unverified_context(context_class, protocol=None, *, cert_reqs=_ssl.CERT_NONE,
                               check_hostname=False, purpose=_ssl.Purpose.SERVER_AUTH,
                               certfile=None, keyfile=None, cafile=None, capath=None,
                               cadata=None):
    """``ssl._create_unverified_context`` (alias ``_create_stdlib_context``,
    what smtplib, imaplib, ftplib and poplib call) over ``context_class``:
    the stdlib's logic, once.  Raises ``TypeError`` / ``ValueError`` for a
    bad ``purpose``, ``ValueError`` for a ``keyfile`` without ``certfile``,
    and what the context's loaders raise."""
    if not isinstance(purpose, ASN1Object):
        raise TypeError(purpose)
    if purpose == _ssl.Purpose.SERVER_AUTH:
        if protocol is None:
            protocol = _ssl.PROTOCOL_TLS_CLIENT
    elif purpose == _ssl.Purpose.CLIENT_AUTH:
        if protocol is None:
            protocol = _ssl.PROTOCOL_TLS_SERVER
    else:
        raise ValueError(purpose)
    context = context_class(protocol)
    context.check_hostname = check_hostname
    if cert_reqs is not None:
        context.verify_mode = cert_reqs
    if check_hostname:
        context.check_hostname = True
    if keyfile and not certfile:
        raise ValueError("certfile must be specified")
    if certfile or keyfile:
        context.load_cert_chain(certfile, keyfile)
    return _finish_context(context, purpose, cafile, capath, cadata)


#: ``ssl.get_protocol_name``: a pure function of a ``PROTOCOL_*`` constant
get_protocol_name = _ssl.get_protocol_name


# -- removed from the stdlib in 3.12: offered where the running ssl has them

def wrap_socket(sock, keyfile=None, certfile=None, server_side=False,
                cert_reqs=_ssl.CERT_NONE, ssl_version=_ssl.PROTOCOL_TLS, ca_certs=None,
                do_handshake_on_connect=True, suppress_ragged_eofs=True, ciphers=None):
    """``ssl.wrap_socket`` (Python <= 3.11, deprecated): a tlsfast
    ``SSLContext(ssl_version)`` with ``verify_mode=cert_reqs``, the given CA
    file (path), certificate chain and key files (paths) and cipher string,
    wrapping ``sock`` (a ``socket.socket``).  Warns ``DeprecationWarning``
    from 3.10, as the stdlib; raises ``ValueError`` for a server without
    ``certfile`` or a ``keyfile`` without ``certfile``, and whatever the
    context's loaders and ``wrap_socket`` raise."""
    import tlsfast

    if WARN_DEPRECATED:
        warnings.warn("ssl.wrap_socket() is deprecated, use SSLContext.wrap_socket()",
                      category=DeprecationWarning, stacklevel=2)
    if server_side and not certfile:
        raise ValueError("certfile must be specified for server-side operations")
    if keyfile and not certfile:
        raise ValueError("certfile must be specified")
    context = tlsfast.SSLContext(ssl_version)
    context.verify_mode = cert_reqs
    if ca_certs:
        context.load_verify_locations(ca_certs)
    if certfile:
        context.load_cert_chain(certfile, keyfile)
    if ciphers:
        context.set_ciphers(ciphers)
    return context.wrap_socket(sock=sock, server_side=server_side,
                               do_handshake_on_connect=do_handshake_on_connect,
                               suppress_ragged_eofs=suppress_ragged_eofs)


def RAND_pseudo_bytes(n):
    """``ssl.RAND_pseudo_bytes`` (Python <= 3.11, deprecated): ``(bytes,
    True)``, ``n`` (int) bytes from the live implementation's
    ``RAND_bytes`` (OpenSSL 3 has no weaker generator).  Warns
    ``DeprecationWarning`` from 3.10, as the stdlib; raises ``ValueError``
    for a negative ``n``."""
    import tlsfast

    if WARN_DEPRECATED:
        warnings.warn("ssl.RAND_pseudo_bytes() is deprecated",
                      category=DeprecationWarning, stacklevel=2)
    return tlsfast.RAND_bytes(n), True


#: ``ssl.match_hostname`` (Python <= 3.11, deprecated): the stdlib's own
#: function, on the certificate dicts both implementations return
match_hostname = getattr(_ssl, "match_hostname", None)
