# SSLSession: a reference to an OpenSSL SSL_SESSION, for resumption.

cdef class SSLSession:
    """SSLSession()
--

A TLS session (``ssl.SSLSession``), from ``SSLSocket.session``.

    Pass it to ``SSLContext.wrap_socket(..., session=s)`` (client side) to
    resume.  Attributes mirror the stdlib: ``id`` (bytes), ``time`` and
    ``timeout`` (int, seconds), ``ticket_lifetime_hint`` (int, seconds),
    ``has_ticket`` (bool).  Wraps ``SSL_SESSION`` (``SSL_SESSION_get_id``...).
    Sessions compare equal by ``id``, as the stdlib's (and, unlike the
    stdlib's, hash by it).  No public constructor (``TypeError``); not
    picklable (``TypeError``).
    """
    def __cinit__(self, *args, **kwargs):
        if not args or args[0] is not _CREATE_TOKEN:
            raise TypeError("SSLSession does not have a public constructor. "
                            "Instances are returned by SSLSocket.session.")
        self.session = NULL

    def __init__(self):
        """No public constructor: raises ``TypeError`` (sessions come from
        ``SSLSocket.session``)."""
        raise TypeError("SSLSession objects are returned by SSLSocket.session")

    def __dealloc__(self):
        if self.session != NULL:
            SSL_SESSION_free(self.session)

    @staticmethod
    cdef SSLSession _wrap(SSL_SESSION *session, _SSLContext ctx):
        # takes ownership of one reference to ``session``
        cdef SSLSession self = SSLSession.__new__(SSLSession, _CREATE_TOKEN)
        self.session = session
        self.ctx = ctx
        return self

    @property
    def id(self):
        """Session ID (``bytes``, up to 32; ``SSL_SESSION_get_id``).  Equality
        and hashing use it."""
        cdef unsigned int n = 0
        cdef const unsigned char *p = SSL_SESSION_get_id(self.session, &n)
        return p[:n]

    @property
    def time(self):
        """Creation time, seconds since the epoch (``int``; ``SSL_SESSION_get_time``)."""
        return SSL_SESSION_get_time(self.session)

    @property
    def timeout(self):
        """Lifetime in seconds from ``time`` (``int``; ``SSL_SESSION_get_timeout``)."""
        return SSL_SESSION_get_timeout(self.session)

    @property
    def ticket_lifetime_hint(self):
        """Lifetime hint the server gave with the session ticket, seconds
        (``int``; 0 without a ticket; ``SSL_SESSION_get_ticket_lifetime_hint``)."""
        return SSL_SESSION_get_ticket_lifetime_hint(self.session)

    @property
    def has_ticket(self):
        """True when the session carries a session ticket (``bool``;
        ``SSL_SESSION_has_ticket``)."""
        return bool(SSL_SESSION_has_ticket(self.session))

    def __eq__(self, other):
        if not isinstance(other, SSLSession):
            return NotImplemented
        return self.id == (<SSLSession>other).id

    def __hash__(self):
        return hash(self.id)

    def __reduce__(self):
        raise TypeError("cannot pickle 'SSLSession' object")
