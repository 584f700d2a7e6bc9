# SSLContext: the class users hold.  A Python subclass of the stdlib's
# ``ssl.SSLContext``, so that libraries checking ``isinstance(ctx,
# ssl.SSLContext)`` (asyncio's start_tls, aiohttp, websockets, anyio, trustme,
# httpcore...) take it, while tlsfast keeps owning its SSL_CTX*.
#
# The stdlib part stays inert: ``_ssl._SSLContext.__new__`` (reached through
# the MRO, not by name) makes the stdlib's own SSL_CTX*, and nothing ever
# reads or changes it.  Every name of ``ssl.SSLContext`` and of the C class
# under it resolves here first:
#   * wrap_socket / wrap_bio, __new__, __init__, __repr__, __reduce__ and the
#     sslsocket_class / sslobject_class class attributes are written below;
#   * every public name of the engine context ``_SSLContext`` (_context.pxi)
#     becomes a forwarder to ``self._core`` (_forwarders());
#   * any other stdlib name (``_wrap_socket``, ``_msg_callback``,
#     ``_load_windows_store_certs``...) is ``_Absent``: reading it raises
#     AttributeError (until an instance attribute of that name is assigned),
#     so no call can reach the inert stdlib context.
# tests/test_api.py walks the stdlib classes' names to keep it so.
#
# The cost of the inert part: one more SSL_CTX_new per context (about as
# much time as tlsfast's own context) and its memory; nothing per connection.

from tlsfast._green import green_wrap_socket as _green_wrap_socket


cdef class _Absent:
    """A stdlib ``ssl.SSLContext`` name tlsfast does not have.  Reading it
    raises ``AttributeError`` as for any missing attribute; assigning it
    makes an ordinary instance attribute (a non-data descriptor), as on a
    class that never had the name -- the stdlib's setter, which would act on
    the inert stdlib context, is never reached."""

    def __init__(self, name):
        self.name = name

    def __get__(self, obj, objtype):
        if obj is None:
            return self
        raise AttributeError(f"{type(obj).__name__!r} object has no attribute {self.name!r}")


#: engine properties that have no setter
cdef frozenset _READ_ONLY = frozenset({"protocol", "security_level"})


cdef dict _forwarders():
    """A forwarder to ``self._core`` for every public name of ``_SSLContext``
    (plus ``_encode_hostname``, which stdlib code calls): a property for a
    property, a method (``__wrapped__`` gives ``inspect.signature`` the
    engine method's signature) for a method."""
    members = {}
    for name, descr in _SSLContext.__dict__.items():
        if name.startswith("_") and name != "_encode_hostname":
            continue
        if hasattr(descr, "__set__"):      # a property (getset_descriptor)
            members[name] = _forward_property(name, descr)
        elif callable(descr):
            members[name] = _forward_method(name, descr)
    return members


@cython.binding(True)
def _forward_property(name, descr):
    @cython.binding(True)
    def fget(self):
        return descr.__get__(self._core, _SSLContext)

    @cython.binding(True)
    def fset(self, value):
        if name in _READ_ONLY:      # as a C attribute without a setter
            raise AttributeError(f"attribute {name!r} of {type(self).__name__!r} "
                                 "objects is not writable")
        descr.__set__(self._core, value)

    return property(fget, fset, None, descr.__doc__)


@cython.binding(True)
def _forward_method(name, descr):
    @cython.binding(True)
    def method(self, *args, **kwargs):
        return descr(self._core, *args, **kwargs)

    method.__name__ = name
    method.__qualname__ = f"SSLContext.{name}"
    method.__doc__ = descr.__doc__
    method.__wrapped__ = descr
    return method


@cython.embedsignature.format("c")
class SSLContext(_StdlibSSLContext):
    """A TLS configuration shared by connections: ``ssl.SSLContext``.

    ``SSLContext(protocol)`` with ``protocol`` one of ``PROTOCOL_TLS_CLIENT``
    (verifies the server and its host name by default),
    ``PROTOCOL_TLS_SERVER`` or ``PROTOCOL_TLS``; the deprecated
    ``PROTOCOL_TLSv1``, ``PROTOCOL_TLSv1_1`` and ``PROTOCOL_TLSv1_2`` pin the
    context to that one version.  Owns an OpenSSL ``SSL_CTX*``
    (``SSL_CTX_new``) with the stdlib's defaults: TLS >= 1.2, the stdlib's
    cipher string, no compression.  Attributes and methods mirror
    ``ssl.SSLContext`` name for name.

    One deliberate difference: a ``PROTOCOL_TLS_SERVER`` context starts with
    ``ssl.OP_NO_RENEGOTIATION`` set (servers refuse client-initiated
    renegotiation); clear it in ``options`` to allow it.

    Warns ``DeprecationWarning`` without a ``protocol`` (``PROTOCOL_TLS`` is
    then used) and for any protocol but ``PROTOCOL_TLS_CLIENT`` /
    ``PROTOCOL_TLS_SERVER``, as the stdlib does.  Raises ``TypeError`` when
    ``protocol`` is not an integer, ``ValueError`` for an unknown protocol,
    ``ssl.SSLError`` when ``SSL_CTX_new`` fails.

    A subclass of the stdlib's ``ssl.SSLContext``, so libraries checking
    ``isinstance(ctx, ssl.SSLContext)`` accept it; the stdlib part is inert
    (see the top of ``_sslcontext.pxi``).  ``sslsocket_class`` and
    ``sslobject_class`` are class attributes, as in the stdlib.
    """

    # the engine context, set by __new__; an object that bypassed it (a
    # subclass calling only the stdlib's __new__) has this one, which was
    # never initialised: every use raises ValueError instead of touching a
    # NULL SSL_CTX*
    _core = _SSLContext.__new__(_SSLContext)

    def __new__(cls, protocol=None, *args, **kwargs):
        # the inert stdlib part: its __new__ without ssl.py's checks and
        # warnings (the engine context's own come next)
        self = super(_StdlibSSLContext, cls).__new__(cls, _PROTOCOL_TLS_CLIENT)
        core = _SSLContext.__new__(_SSLContext)
        core.__init__(protocol, *args)
        (<_SSLContext>core)._public = weakref.ref(self)
        self._core = core
        return self

    def __init__(self, protocol=None, *args, **kwargs):
        # everything happens in __new__, as in the stdlib
        pass

    def __repr__(self):
        return f"<{type(self).__module__}.{type(self).__qualname__} protocol={self.protocol!r}>"

    def __reduce__(self):
        raise TypeError(f"cannot pickle {type(self).__name__!r} object")

    def wrap_socket(self, sock, server_side=False, do_handshake_on_connect=True,
                    suppress_ragged_eofs=True, server_hostname=None, session=None):
        """Wrap a connected or unconnected ``SOCK_STREAM`` socket; returns an
        ``SSLSocket`` (``self.sslsocket_class``) that takes over the socket's
        file descriptor (``sock`` is detached).

        ``server_hostname`` (``str``, IDNA-encoded as the stdlib does) sets SNI
        and the name checked when ``check_hostname`` is on; ``session`` (an
        ``SSLSession``) asks to resume.  Mirrors ``ssl.SSLContext.wrap_socket``;
        raises ``ValueError`` for contradictory arguments (server side with a
        host name or session, ``check_hostname`` without a host name),
        ``NotImplementedError`` for non-stream sockets and what the handshake
        raises when ``do_handshake_on_connect`` and the socket is connected.
        A gevent or eventlet socket gets that library's cooperative tlsfast
        socket instead (``tlsfast._green.green_wrap_socket``).
        """
        # a gevent / eventlet socket (monkey-patched programs) gets a green one
        green = _green_wrap_socket(self, sock, server_side, do_handshake_on_connect,
                                   suppress_ragged_eofs, server_hostname, session)
        if green is not None:
            return green
        return self.sslsocket_class._create(
            sock=sock, server_side=server_side,
            do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs,
            server_hostname=server_hostname, context=self, session=session)

    def wrap_bio(self, incoming, outgoing, server_side=False, server_hostname=None,
                 session=None):
        """Return an ``SSLObject`` (``self.sslobject_class``) reading ciphertext
        from ``incoming`` and writing it to ``outgoing``: tlsfast ``MemoryBIO``
        objects (zero-copy path) or any object with ``MemoryBIO``'s methods,
        such as the stdlib's ``ssl.MemoryBIO``.  Mirrors
        ``ssl.SSLContext.wrap_bio``; raises ``ValueError`` like ``wrap_socket``
        and ``TypeError`` when a BIO lacks ``read``/``write``/``write_eof``."""
        return self.sslobject_class._create(
            incoming, outgoing, server_side=server_side,
            server_hostname=server_hostname, session=session, context=self)



for _name, _member in _forwarders().items():
    setattr(SSLContext, _name, _member)
SSLContext.sslsocket_class = SSLSocket
SSLContext.sslobject_class = SSLObject
for _name in dir(_StdlibSSLContext):
    if not _name.startswith("__") and _name not in SSLContext.__dict__:
        setattr(SSLContext, _name, _Absent(_name))
del _name, _member
