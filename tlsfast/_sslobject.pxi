# SSLObject: memory-BIO mode (``ssl.SSLObject``).  The engine itself, with
# its SSL* reading the incoming BIO and writing the outgoing one; no socket,
# no waiting -- every would-block is reported at once.
#
# ``SSLObject`` is a Python class deriving from the compiled ``_SSLObject``
# and from the stdlib's ``ssl.SSLObject``, so ``isinstance(obj,
# ssl.SSLObject)`` holds.  The stdlib class adds no C layout (only
# ``__dict__``), and the compiled base comes first in the MRO: every method
# and property is the compiled one (the same method descriptors, the same
# per-call cost); tests/test_api.py checks that no name falls through to the
# stdlib's implementation.

cdef class _SSLObject(_SSLConnection):
    """A TLS connection over two memory BIOs: ``ssl.SSLObject``, made by
    ``SSLContext.wrap_bio(incoming, outgoing)``.

    Feed received ciphertext with ``incoming.write()``; send what
    ``outgoing.read()`` (or ``read_into``) returns.  Methods raise
    ``SSLWantReadError`` when ``incoming`` lacks data, like the stdlib; the
    ``try_*`` methods return ``WANT_READ`` instead.  ``read(len, buffer)``
    decrypts straight into ``buffer``.
    """

    def __init__(self, *args, **kwargs):
        raise TypeError(
            f"{type(self).__name__} does not have a public constructor. "
            "Instances are returned by SSLContext.wrap_bio().")

    @classmethod
    def _create(cls, incoming, outgoing, server_side=False, server_hostname=None,
                session=None, context=None):
        cdef _SSLObject self = cls.__new__(cls, _CREATE_TOKEN)
        _check_wrap_args(_core_of(context)._check_hostname, server_side, server_hostname,
                         sslobject=True)
        self._init_ssl(context, server_side, context._encode_hostname(server_hostname))
        self._attach_bios(incoming, outgoing, session)
        return self

    def unwrap(self):
        """Send close_notify and wait for the peer's (``SSL_shutdown``);
        returns None, as the stdlib.  Raises ``SSLWantReadError`` until the
        peer's arrives in ``incoming`` (send ``outgoing``'s data first),
        ``ssl.SSLEOFError`` at an EOF of ``incoming`` without it,
        ``ssl.SSLError`` before the handshake completed."""
        self._io(OP_SHUTDOWN, NULL, 0, True)

    def selected_npn_protocol(self):
        """Always None: NPN is not supported (deprecated in the stdlib)."""
        return None

    def __reduce__(self):
        raise TypeError(f"cannot pickle {type(self).__name__!r} object")


class SSLObject(_SSLObject, _StdlibSSLObject):
    __doc__ = _SSLObject.__doc__
    __slots__ = ()

    @cython.binding(True)
    def __init__(self, *args, **kwargs):
        """No public constructor: raises ``TypeError`` (``SSLContext.wrap_bio``
        makes these), as ``ssl.SSLObject``."""
        _SSLObject.__init__(self, *args, **kwargs)
