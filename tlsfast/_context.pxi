# SSLContext: owns an SSL_CTX*, configured as the stdlib configures its own.

from cpython.long cimport PyLong_AsUnsignedLongMask

cdef extern from *:
    """
    /* SSL_OP_ALL without the one flag the stdlib removes. */
    #define TLSFAST_DEFAULT_OPTIONS ((SSL_OP_ALL & ~SSL_OP_DONT_INSERT_EMPTY_FRAGMENTS) \\
        | SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_COMPRESSION \\
        | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_SINGLE_DH_USE | SSL_OP_SINGLE_ECDH_USE)
    """
    const uint64_t TLSFAST_DEFAULT_OPTIONS

# the per-version choices of tlsfast._common, as C values
cdef bytes _DEFAULT_CIPHERS = DEFAULT_CIPHERS.encode("ascii")


cdef bint _free_buffers_is_safe(unsigned long version) noexcept:
    """Whether OpenSSL ``version`` (``OpenSSL_version_num()``, 0xMNN00PP0)
    has the fix for CVE-2024-4741 (SSL_free_buffers freeing a buffer still
    in use): 3.0.14, 3.1.6, 3.2.2, 3.3.1 and every later release."""
    cdef unsigned long major = version >> 28
    cdef unsigned long minor = (version >> 20) & 0xff
    cdef unsigned long patch = (version >> 4) & 0xff
    if major != 3:
        return major > 3
    if minor >= 4:
        return True
    return patch >= (14, 6, 2, 1)[minor]


#: after the handshake, free the record buffers of idle connections
#: (``_SSLConnection._idle``) instead of SSL_MODE_RELEASE_BUFFERS freeing
#: them after every record; the runtime libssl decides
cdef bint _FREE_IDLE_BUFFERS = _free_buffers_is_safe(OpenSSL_version_num())
cdef bint _WARN_DEPRECATED = WARN_DEPRECATED
cdef bint _CHECK_CONTEXT_SIDE = CHECK_CONTEXT_SIDE
cdef bint _OPTIONS_SIGNED = OPTIONS_SIGNED
cdef uint64_t _VERSION_OPTIONS = SSL_OP_IGNORE_UNEXPECTED_EOF if IGNORE_UNEXPECTED_EOF else 0

cdef uint64_t _OP_NO_VERSIONS = (SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1
                                 | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_TLSv1_2 | SSL_OP_NO_TLSv1_3)

# pinned-version protocols (deprecated in the stdlib, still accepted)
cdef dict _PINNED_PROTOCOLS = {
    int(getattr(_ssl, name)): version
    for name, version in (("PROTOCOL_TLSv1", TLS1_VERSION),
                          ("PROTOCOL_TLSv1_1", TLS1_1_VERSION),
                          ("PROTOCOL_TLSv1_2", TLS1_2_VERSION))
    if hasattr(_ssl, name)
}

cdef class _PasswordInfo:
    """Carries ``load_cert_chain``'s password into the C callback."""
    def __cinit__(self, password):
        self.password = password
        self.error = None


cdef bytes _password_bytes(object value, str what):
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    raise TypeError(what)


cdef int _password_cb(char *buf, int size, int rwflag, void *userdata) noexcept with gil:
    cdef _PasswordInfo info = <_PasswordInfo>userdata
    cdef bytes pw
    try:
        if callable(info.password):
            pw = _password_bytes(info.password(), "password callback must return a string")
        else:
            pw = info.password
        if len(pw) > size:
            raise ValueError(f"password cannot be longer than {size} bytes")
        memcpy(buf, <char *>pw, len(pw))
        return <int>len(pw)
    except BaseException as exc:
        info.error = exc
        return -1


cdef int _servername_cb(SSL *s, int *al, void *arg) noexcept with gil:
    # SNI: call ``sni_callback(sslsocket, server_name, context)``.
    cdef _SSLContext ctx = <_SSLContext>arg
    cdef _SSLConnection conn
    cdef const char *name
    callback = ctx._sni_callback
    if callback is None:
        return SSL_TLSEXT_ERR_OK
    conn = <_SSLConnection>SSL_get_app_data(s)
    owner = conn.owner_object()
    name = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name)
    server_name = None if name == NULL else name.decode("ascii", "surrogateescape")
    try:
        result = callback(owner, server_name, ctx._public())
    except BaseException as exc:
        _unraisable(exc, callback)
        al[0] = SSL_AD_HANDSHAKE_FAILURE
        return SSL_TLSEXT_ERR_ALERT_FATAL
    if result is None:
        return SSL_TLSEXT_ERR_OK
    try:
        al[0] = result
    except BaseException:
        _unraisable(TypeError("sni_callback must return None or an int alert description, "
                              f"not {type(result).__name__}"), callback)
        al[0] = SSL_AD_INTERNAL_ERROR
    return SSL_TLSEXT_ERR_ALERT_FATAL


cdef unsigned int _psk_client_cb(SSL *s, const char *hint, char *identity,
                                  unsigned int max_identity_len, unsigned char *psk,
                                  unsigned int max_psk_len) noexcept with gil:
    # TLS-PSK client: ``callback(hint) -> (identity, psk)`` (Python 3.13's
    # set_psk_client_callback); 0 fails the handshake
    cdef _SSLConnection conn = <_SSLConnection>SSL_get_app_data(s)
    cdef const unsigned char[::1] key
    callback = conn.ctx._psk_client_callback
    if callback is None:
        return 0
    try:
        hint_str = hint.decode("utf-8") if hint != NULL and hint[0] != 0 else None
        result = callback(hint_str)
        if not isinstance(result, tuple) or len(result) != 2:
            raise TypeError("psk client callback must return (identity, psk)")
        ident, key_obj = result
        ident = b"" if ident is None else ident.encode("utf-8")
        key = memoryview(key_obj).cast("B")
    except BaseException as exc:
        _unraisable(exc, callback)
        return 0
    if len(ident) + 1 > max_identity_len or key.shape[0] > max_psk_len:
        return 0
    memcpy(identity, <const char *>ident, len(ident))
    identity[len(ident)] = 0
    if key.shape[0]:
        memcpy(psk, &key[0], key.shape[0])
    return <unsigned int>key.shape[0]


cdef unsigned int _psk_server_cb(SSL *s, const char *identity, unsigned char *psk,
                                  unsigned int max_psk_len) noexcept with gil:
    # TLS-PSK server: ``callback(identity) -> psk``; 0 fails the handshake
    cdef _SSLConnection conn = <_SSLConnection>SSL_get_app_data(s)
    cdef const unsigned char[::1] key
    callback = conn.ctx._psk_server_callback
    if callback is None:
        return 0
    try:
        ident = identity.decode("utf-8") if identity != NULL else None
        key = memoryview(callback(ident)).cast("B")
    except BaseException as exc:
        _unraisable(exc, callback)
        return 0
    if key.shape[0] > max_psk_len:
        return 0
    if key.shape[0]:
        memcpy(psk, &key[0], key.shape[0])
    return <unsigned int>key.shape[0]


cdef int _alpn_select_cb(SSL *s, const unsigned char **out, unsigned char *outlen,
                         const unsigned char *inp, unsigned int inlen, void *arg) noexcept nogil:
    # server side ALPN: our preference order first, as the stdlib does
    cdef _AlpnConfig *cfg = <_AlpnConfig *>arg
    if cfg.len == 0:
        return SSL_TLSEXT_ERR_NOACK
    if SSL_select_next_proto(<unsigned char **>out, outlen, cfg.wire, cfg.len,
                             inp, inlen) != OPENSSL_NPN_NEGOTIATED:
        return SSL_TLSEXT_ERR_NOACK
    return SSL_TLSEXT_ERR_OK


# Session ticket keys (``set_session_ticket_keys``): each key is 80 bytes --
# a 16-byte name (sent in the ticket, picks the key on the way back), a
# 32-byte HMAC-SHA256 secret and a 32-byte AES-256-CBC key.  The first key
# seals new tickets, every key opens tickets; a ticket opened with an older
# key is renewed with the first.  OpenSSL takes the callback of the context
# the connection started with (its session context), so the keys are that
# context's even after an SNI switch.
DEF _TICKET_KEY_SIZE = 80

cdef char *_SHA256 = b"SHA256"

cdef int _ticket_key_cb(SSL *s, unsigned char *key_name, unsigned char *iv,
                        EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc) noexcept with gil:
    cdef _SSLConnection conn = <_SSLConnection>SSL_get_app_data(s)
    cdef bytes keys = _core_of(conn._initial_context)._ticket_keys
    cdef const unsigned char *key
    cdef Py_ssize_t index = 0, count
    cdef OSSL_PARAM params[3]
    if keys is None:
        return -1
    count = len(keys) // _TICKET_KEY_SIZE
    if enc:
        key = <const unsigned char *>(<char *>keys)
        if c_RAND_bytes(iv, 16) != 1:
            return -1
        memcpy(key_name, key, 16)
    else:
        while index < count:
            key = <const unsigned char *>(<char *>keys) + index * _TICKET_KEY_SIZE
            if memcmp(key_name, key, 16) == 0:
                break
            index += 1
        else:
            return 0                    # unknown key: a full handshake
    params[0] = OSSL_PARAM_construct_octet_string(b"key", <void *>(key + 16), 32)
    params[1] = OSSL_PARAM_construct_utf8_string(b"digest", _SHA256, 0)
    params[2] = OSSL_PARAM_construct_end()
    if EVP_MAC_CTX_set_params(hctx, params) != 1:
        return -1
    if enc:
        if EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, key + 48, iv) != 1:
            return -1
        return 1
    if EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, key + 48, iv) != 1:
        return -1
    return 2 if index else 1


cdef void _keylog_cb(const SSL *s, const char *line) noexcept with gil:
    cdef _SSLConnection conn = <_SSLConnection>SSL_get_app_data(s)
    keylog = conn.ctx._keylog_file
    if keylog is None:
        return
    try:
        keylog.write(line + b"\n")
        keylog.flush()
    except BaseException as exc:
        _unraisable(exc, keylog)


cdef class _SSLContext:
    """The engine's context: owns tlsfast's ``SSL_CTX*`` and every setting
    of it.  Users hold ``SSLContext`` (``_sslcontext.pxi``), a subclass of
    the stdlib's ``ssl.SSLContext`` that keeps one of these as ``_core`` and
    forwards every public name to it; the engine (``_connection.pxi``) reads
    the fields below directly.
    """
    def __cinit__(self, *args, **kwargs):
        self.ctx = NULL

    def __init__(self, protocol=None, *args):
        cdef const SSL_METHOD *method
        cdef int pinned = 0
        if protocol is not None:
            protocol = operator.index(protocol)
        if protocol is None:
            # (compiled code has no Python frame: stacklevel=1 names the
            # caller's line, as the stdlib's warnings do)
            if _WARN_DEPRECATED:
                warnings.warn("ssl.SSLContext() without protocol argument is deprecated.",
                              DeprecationWarning, stacklevel=1)
            protocol = _PROTOCOL_TLS
        protocol = _SSLMethod(protocol)
        if _WARN_DEPRECATED and protocol not in (_PROTOCOL_TLS_CLIENT, _PROTOCOL_TLS_SERVER):
            warnings.warn(f"ssl.{protocol.name} is deprecated", DeprecationWarning, stacklevel=1)
        if protocol == _PROTOCOL_TLS_CLIENT:
            method = TLS_client_method()
        elif protocol == _PROTOCOL_TLS_SERVER:
            method = TLS_server_method()
        elif protocol == _PROTOCOL_TLS:
            method = TLS_method()
        elif int(protocol) in _PINNED_PROTOCOLS:
            method = TLS_method()
            pinned = _PINNED_PROTOCOLS[int(protocol)]
        else:
            raise ValueError("invalid or unsupported protocol version %i" % protocol)
        if self.ctx != NULL:
            raise RuntimeError("the engine context is initialised once")
        ERR_clear_error()
        self.ctx = SSL_CTX_new(method)
        if self.ctx == NULL:
            raise _ssl_error_from_queue(None, "failed to allocate SSL context")
        self._protocol = protocol
        self._hostflags = X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS
        if protocol == _PROTOCOL_TLS_CLIENT:
            self._check_hostname = True
            SSL_CTX_set_verify(self.ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL)
        else:
            self._check_hostname = False
            SSL_CTX_set_verify(self.ctx, SSL_VERIFY_NONE, NULL)
        SSL_CTX_set_options(self.ctx, TLSFAST_DEFAULT_OPTIONS | _VERSION_OPTIONS)
        if protocol == _PROTOCOL_TLS_SERVER:
            # servers refuse client-initiated renegotiation (a DoS lever)
            SSL_CTX_set_options(self.ctx, SSL_OP_NO_RENEGOTIATION)
        if SSL_CTX_set_cipher_list(self.ctx, _DEFAULT_CIPHERS) != 1:
            raise _ssl_error_from_queue(None, "No cipher can be selected.")
        if pinned:
            SSL_CTX_set_min_proto_version(self.ctx, pinned)
            SSL_CTX_set_max_proto_version(self.ctx, pinned)
        else:  # PROTOCOL_TLS too, as the stdlib
            SSL_CTX_set_min_proto_version(self.ctx, TLS1_2_VERSION)
        # RELEASE_BUFFERS (as CPython): idle connections give their 16 KiB+
        # read and write buffers back, halving the memory of an idle one.
        # Where OpenSSL's SSL_free_buffers is safe, the engine clears the
        # mode once the handshake is done and frees the buffers itself when
        # a connection goes idle, instead of a malloc/free pair per record
        # (_connection.pxi's _idle; docs/design.rst, "Idle buffers")
        SSL_CTX_set_mode(self.ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                         | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_AUTO_RETRY
                         | SSL_MODE_RELEASE_BUFFERS)
        if protocol != _PROTOCOL_TLS_CLIENT:
            # (servers only: a client's sid_ctx must match that of the
            # sessions it resumes, and the ones OpenSSL makes from a TLS 1.3
            # PSK callback have none)
            SSL_CTX_set_session_id_context(self.ctx, <const unsigned char *>b"tlsfast", 7)
        X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(self.ctx), X509_V_FLAG_TRUSTED_FIRST)
        X509_VERIFY_PARAM_set_hostflags(SSL_CTX_get0_param(self.ctx), self._hostflags)
        SSL_CTX_set_tlsext_servername_callback(self.ctx, _servername_cb)
        SSL_CTX_set_tlsext_servername_arg(self.ctx, <void *>self)
        SSL_CTX_set_alpn_select_cb(self.ctx, _alpn_select_cb, <void *>&self.alpn)

    def __dealloc__(self):
        if self.ctx != NULL:
            SSL_CTX_free(self.ctx)
            self.ctx = NULL
        if self._keylog_file is not None:
            try:
                self._keylog_file.close()
            except Exception:
                pass

    cdef inline SSL_CTX *_checked(self) except NULL:
        if self.ctx == NULL:
            raise ValueError("SSLContext was not initialised (call SSLContext(protocol))")
        return self.ctx

    def __reduce__(self):
        raise TypeError(f"cannot pickle {type(self).__name__!r} object")

    def __repr__(self):
        return f"<{type(self).__module__}.{type(self).__qualname__} protocol={self._protocol!r}>"

    @property
    def protocol(self):
        """The ``protocol`` given to the constructor, as an ``ssl._SSLMethod``
        (``PROTOCOL_TLS_CLIENT``...); read-only, as in the stdlib."""
        return self._protocol

    # ------------------------------------------------------------------
    # verification settings

    @property
    def verify_mode(self):
        """``CERT_NONE``, ``CERT_OPTIONAL`` or ``CERT_REQUIRED`` (``ssl.VerifyMode``).

        Raises ``ValueError`` when set to ``CERT_NONE`` while
        ``check_hostname`` is on, or to a value that is not a mode."""
        cdef int mode = SSL_CTX_get_verify_mode(self._checked())
        if mode == SSL_VERIFY_NONE:
            return _VerifyMode.CERT_NONE
        if mode & SSL_VERIFY_FAIL_IF_NO_PEER_CERT:
            return _VerifyMode.CERT_REQUIRED
        return _VerifyMode.CERT_OPTIONAL

    @verify_mode.setter
    def verify_mode(self, value):
        cdef int mode
        n = operator.index(value)
        if n == 0:
            if self._check_hostname:
                raise ValueError("Cannot set verify_mode to CERT_NONE when check_hostname is enabled.")
            mode = SSL_VERIFY_NONE
        elif n == 1:
            mode = SSL_VERIFY_PEER
        elif n == 2:
            mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
        else:
            raise ValueError("invalid value for verify_mode")
        if self._post_handshake_auth and mode != SSL_VERIFY_NONE:
            mode |= SSL_VERIFY_POST_HANDSHAKE
        SSL_CTX_set_verify(self._checked(), mode, NULL)

    @property
    def check_hostname(self):
        """bool: match the peer certificate against ``server_hostname``
        (``X509_VERIFY_PARAM_set1_host``).  Setting it on also sets
        ``verify_mode`` to ``CERT_REQUIRED`` when it was ``CERT_NONE``."""
        return self._check_hostname

    @check_hostname.setter
    def check_hostname(self, value):
        flag = bool(value)
        if flag and SSL_CTX_get_verify_mode(self._checked()) == SSL_VERIFY_NONE:
            self.verify_mode = _ssl.CERT_REQUIRED
        self._check_hostname = flag

    @property
    def hostname_checks_common_name(self):
        """bool: fall back to the subject's commonName when the certificate
        has no DNS subjectAltName (``X509_CHECK_FLAG_NEVER_CHECK_SUBJECT`` off)."""
        return not (self._hostflags & X509_CHECK_FLAG_NEVER_CHECK_SUBJECT)

    @hostname_checks_common_name.setter
    def hostname_checks_common_name(self, value):
        if value:
            self._hostflags &= ~X509_CHECK_FLAG_NEVER_CHECK_SUBJECT
        else:
            self._hostflags |= X509_CHECK_FLAG_NEVER_CHECK_SUBJECT
        X509_VERIFY_PARAM_set_hostflags(SSL_CTX_get0_param(self._checked()), self._hostflags)

    @property
    def verify_flags(self):
        """``ssl.VerifyFlags`` of the certificate store (``VERIFY_*`` bits,
        ``X509_VERIFY_PARAM_set_flags`` / ``X509_VERIFY_PARAM_clear_flags``),
        as ``ssl.SSLContext.verify_flags``.  The setter takes any integer
        modulo 2**64, as the stdlib (-1 sets every flag); it raises
        ``TypeError`` for a non-integer and ``ssl.SSLError`` if OpenSSL
        refuses the flags."""
        return _VerifyFlags(X509_VERIFY_PARAM_get_flags(SSL_CTX_get0_param(self._checked())))

    @verify_flags.setter
    def verify_flags(self, value):
        cdef X509_VERIFY_PARAM *param = SSL_CTX_get0_param(self._checked())
        cdef unsigned long new = PyLong_AsUnsignedLongMask(operator.index(value))
        cdef unsigned long old = X509_VERIFY_PARAM_get_flags(param)
        ERR_clear_error()
        if X509_VERIFY_PARAM_clear_flags(param, old & ~new) != 1 or \
                X509_VERIFY_PARAM_set_flags(param, new & ~old) != 1:
            raise _ssl_error_from_queue()

    @property
    def post_handshake_auth(self):
        """bool: TLS 1.3 post-handshake client authentication (client: offer
        it; server: allow ``verify_client_post_handshake``)."""
        return self._post_handshake_auth

    @post_handshake_auth.setter
    def post_handshake_auth(self, value):
        cdef int mode = SSL_CTX_get_verify_mode(self._checked())
        self._post_handshake_auth = bool(value)
        if mode != SSL_VERIFY_NONE:
            if self._post_handshake_auth:
                mode |= SSL_VERIFY_POST_HANDSHAKE
            else:
                mode &= ~SSL_VERIFY_POST_HANDSHAKE
            SSL_CTX_set_verify(self.ctx, mode, NULL)

    # ------------------------------------------------------------------
    # protocol versions and options

    cdef _check_version_settable(self):
        if self._protocol not in (_PROTOCOL_TLS, _PROTOCOL_TLS_CLIENT, _PROTOCOL_TLS_SERVER):
            raise ValueError("The context's protocol doesn't support modification of "
                             "highest and lowest version.")

    cdef int _version_arg(self, value, int minimum) except -1:
        v = operator.index(value)
        if _WARN_DEPRECATED and v in (SSL3_VERSION, TLS1_VERSION, TLS1_1_VERSION):
            warnings.warn(f"ssl.TLSVersion.{_TLSVersion(v).name} is deprecated",
                          DeprecationWarning, stacklevel=1)
        if v == _TLSVersion.MINIMUM_SUPPORTED or v == _TLSVersion.MAXIMUM_SUPPORTED:
            return 0
        if v not in (SSL3_VERSION, TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION, TLS1_3_VERSION):
            raise ValueError(f"Unsupported TLS/SSL version 0x{v:x}")
        return v

    @property
    def minimum_version(self):
        """``ssl.TLSVersion``: lowest version offered (``SSL_CTX_set_min_proto_version``),
        as ``ssl.SSLContext.minimum_version``; ``MINIMUM_SUPPORTED`` when
        OpenSSL's own floor applies.  The setter raises ``ValueError`` for an
        unsupported version or on a context pinned to one version
        (``PROTOCOL_TLSv1``...), and warns ``DeprecationWarning`` for
        ``SSLv3``, ``TLSv1`` and ``TLSv1_1``."""
        cdef int v = SSL_CTX_get_min_proto_version(self._checked())
        return _TLSVersion(v) if v else _TLSVersion.MINIMUM_SUPPORTED

    @minimum_version.setter
    def minimum_version(self, value):
        self._check_version_settable()
        if int(value) == _TLSVersion.MAXIMUM_SUPPORTED:
            value = TLS1_3_VERSION
        ERR_clear_error()
        if SSL_CTX_set_min_proto_version(self._checked(), self._version_arg(value, 1)) != 1:
            raise ValueError(f"Unsupported protocol version 0x{int(value):x}")

    @property
    def maximum_version(self):
        """``ssl.TLSVersion``: highest version offered (``SSL_CTX_set_max_proto_version``),
        as ``ssl.SSLContext.maximum_version``; ``MAXIMUM_SUPPORTED`` when
        none is set.  The setter raises ``ValueError`` for an unsupported
        version or on a context pinned to one version
        (``PROTOCOL_TLSv1``...), and warns ``DeprecationWarning`` for
        ``SSLv3``, ``TLSv1`` and ``TLSv1_1``."""
        cdef int v = SSL_CTX_get_max_proto_version(self._checked())
        return _TLSVersion(v) if v else _TLSVersion.MAXIMUM_SUPPORTED

    @maximum_version.setter
    def maximum_version(self, value):
        self._check_version_settable()
        if int(value) == _TLSVersion.MINIMUM_SUPPORTED:
            value = TLS1_VERSION
        ERR_clear_error()
        if SSL_CTX_set_max_proto_version(self._checked(), self._version_arg(value, 0)) != 1:
            raise ValueError(f"Unsupported protocol version 0x{int(value):x}")

    @property
    def options(self):
        """``ssl.Options`` bit set (``SSL_CTX_set_options`` / ``SSL_CTX_clear_options``),
        as ``ssl.SSLContext.options``.  Setting a bit among ``OP_NO_SSLv2``
        ... ``OP_NO_TLSv1_3`` that was not set warns ``DeprecationWarning``
        (use ``minimum_version`` / ``maximum_version``), as the stdlib does.
        Server contexts start with ``OP_NO_RENEGOTIATION`` (see the class).
        The setter raises ``TypeError`` for a non-integer and
        ``OverflowError`` outside the running Python's range (a C long
        before 3.12, so -1 sets every bit; an unsigned 64-bit int from
        3.12)."""
        cdef uint64_t options = SSL_CTX_get_options(self._checked())
        if _OPTIONS_SIGNED:     # read back as the C long it was set as
            return _Options(<long long>options)
        return _Options(options)

    @options.setter
    def options(self, value):
        cdef uint64_t new
        if _OPTIONS_SIGNED:
            new = <uint64_t><long long>operator.index(value)
        else:
            new = operator.index(value)
        cdef uint64_t old = SSL_CTX_get_options(self._checked())
        if _WARN_DEPRECATED and (new & ~old) & _OP_NO_VERSIONS:
            warnings.warn("ssl.OP_NO_SSL*/ssl.OP_NO_TLS* options are deprecated",
                          DeprecationWarning, stacklevel=1)
        SSL_CTX_clear_options(self.ctx, old & ~new)
        SSL_CTX_set_options(self.ctx, new & ~old)

    @property
    def security_level(self):
        """int: OpenSSL security level (``SSL_CTX_get_security_level``)."""
        return SSL_CTX_get_security_level(self._checked())

    @property
    def num_tickets(self):
        """int: TLS 1.3 session tickets a server sends (``SSL_CTX_set_num_tickets``).
        Raises ``ValueError`` on a client context or for a negative value."""
        return SSL_CTX_get_num_tickets(self._checked())

    @num_tickets.setter
    def num_tickets(self, value):
        n = operator.index(value)
        if n < 0:
            raise ValueError("value must be non-negative")
        if self._protocol != _PROTOCOL_TLS_SERVER:
            raise ValueError("SSLContext is not a server context.")
        if SSL_CTX_set_num_tickets(self._checked(), n) != 1:
            raise ValueError("failed to set num tickets.")

    # ------------------------------------------------------------------
    # certificates and keys

    def load_cert_chain(self, certfile, keyfile=None, password=None):
        """Load a certificate chain and its private key (PEM files).

        ``certfile``/``keyfile``: str, bytes or path-like; ``keyfile`` defaults
        to ``certfile``.  ``password``: str, bytes, bytearray or a callable
        returning one, for an encrypted key.  Mirrors
        ``ssl.SSLContext.load_cert_chain`` (``SSL_CTX_use_certificate_chain_file``,
        ``SSL_CTX_use_PrivateKey_file``, ``SSL_CTX_check_private_key``).
        Raises ``TypeError`` for a bad ``password`` type, ``ValueError`` for
        a password too long, ``OSError`` (e.g. ``FileNotFoundError``) when a
        file cannot be read, ``ssl.SSLError`` when its content is wrong.
        """
        cdef bytes cert_path = os.fsencode(certfile)
        cdef bytes key_path = cert_path if keyfile is None else os.fsencode(keyfile)
        cdef _PasswordInfo info = None
        cdef SSL_CTX *ctx = self._checked()
        cdef int ok
        if password is not None:
            if callable(password):
                info = _PasswordInfo(password)
            else:
                info = _PasswordInfo(_password_bytes(password, "password should be a string or callable"))
            SSL_CTX_set_default_passwd_cb(ctx, _password_cb)
            SSL_CTX_set_default_passwd_cb_userdata(ctx, <void *>info)
        try:
            for path, is_key in ((cert_path, False), (key_path, True)):
                ERR_clear_error()
                _clear_errno()
                if is_key:
                    ok = SSL_CTX_use_PrivateKey_file(ctx, path, SSL_FILETYPE_PEM)
                else:
                    ok = SSL_CTX_use_certificate_chain_file(ctx, path)
                if ok != 1:
                    saved = errno
                    if info is not None and info.error is not None:
                        ERR_clear_error()
                        raise info.error
                    if saved != 0:
                        ERR_clear_error()
                        raise OSError(saved, os.strerror(saved), os.fsdecode(path))
                    raise _ssl_error_from_queue()
            ERR_clear_error()
            if SSL_CTX_check_private_key(ctx) != 1:
                raise _ssl_error_from_queue()
        finally:
            if info is not None:
                SSL_CTX_set_default_passwd_cb(ctx, NULL)
                SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL)

    def load_verify_locations(self, cafile=None, capath=None, cadata=None):
        """Load CA certificates to verify peers with.

        ``cafile``: path of a PEM file; ``capath``: directory of hashed PEM
        files; ``cadata``: ``str`` of PEM certificates or a bytes-like object
        of DER certificates.  Mirrors ``ssl.SSLContext.load_verify_locations``
        (``SSL_CTX_load_verify_locations``, ``X509_STORE_add_cert``).  Raises
        ``TypeError`` when all three are None or of the wrong type, ``OSError``
        when a file cannot be read, ``ssl.SSLError`` when nothing usable is
        found in the data.
        """
        cdef SSL_CTX *ctx = self._checked()
        cdef bytes cafile_b = None, capath_b = None
        if cafile is None and capath is None and cadata is None:
            raise TypeError("cafile, capath and cadata cannot be all omitted")
        if cafile is not None:
            try:
                cafile_b = os.fsencode(cafile)
            except TypeError:
                raise TypeError("cafile should be a valid filesystem path")
        if capath is not None:
            try:
                capath_b = os.fsencode(capath)
            except TypeError:
                raise TypeError("capath should be a valid filesystem path")
        if cadata is not None:
            if isinstance(cadata, str):
                self._add_ca_data(cadata.encode("ascii"), True)
            else:
                try:
                    data = bytes(memoryview(cadata))
                except TypeError:
                    raise TypeError("cadata should be an ASCII string or a bytes-like object")
                self._add_ca_data(data, False)
        if cafile_b is not None or capath_b is not None:
            ERR_clear_error()
            _clear_errno()
            if SSL_CTX_load_verify_locations(
                    ctx, NULL if cafile_b is None else <const char *>cafile_b,
                    NULL if capath_b is None else <const char *>capath_b) != 1:
                saved = errno
                if saved != 0:
                    ERR_clear_error()
                    raise OSError(saved, os.strerror(saved))
                raise _ssl_error_from_queue()

    cdef _add_ca_data(self, bytes data, bint pem):
        cdef X509_STORE *store = SSL_CTX_get_cert_store(self.ctx)
        cdef BIO *bio = BIO_new_mem_buf(<const char *>data, len(data))
        cdef X509 *cert
        cdef const unsigned char *p
        cdef const unsigned char *start = <const unsigned char *>(<const char *>data)
        cdef long remaining = len(data)
        cdef int loaded = 0
        cdef unsigned long e
        ERR_clear_error()
        try:
            while True:
                if pem:
                    cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)
                else:
                    if remaining <= 0:
                        break
                    p = start
                    cert = d2i_X509(NULL, &p, remaining)
                    if cert != NULL:
                        remaining -= p - start
                        start = p
                if cert == NULL:
                    break
                if X509_STORE_add_cert(store, cert) != 1:
                    e = ERR_peek_last_error()
                    # a duplicate is fine, as in the stdlib
                    if not (ERR_GET_LIB(e) == ERR_LIB_X509 and ERR_GET_REASON(e) == 101):
                        X509_free(cert)
                        raise _ssl_error_from_queue()
                    ERR_clear_error()
                X509_free(cert)
                loaded += 1
            if loaded == 0:
                msg = ("no start line: cadata does not contain a certificate" if pem
                       else "not enough data: cadata does not contain a certificate")
                raise _ssl_error_from_queue(None, msg)
            if pem or remaining > 0:
                # trailing garbage after the last certificate
                e = ERR_peek_last_error()
                if pem and not (ERR_GET_LIB(e) == ERR_LIB_PEM and ERR_GET_REASON(e) == 108):
                    if e != 0:
                        raise _ssl_error_from_queue()
                elif not pem:
                    raise _ssl_error_from_queue(None, "not enough data")
            ERR_clear_error()
        finally:
            BIO_free(bio)

    def load_dh_params(self, path, /):
        """Load Diffie-Hellman parameters (PEM) for DHE key exchange from the
        file ``path`` (str, bytes or path-like).  Mirrors
        ``ssl.SSLContext.load_dh_params`` (``PEM_read_bio_Parameters``,
        ``SSL_CTX_set0_tmp_dh_pkey``).  Raises ``TypeError`` for a bad path
        type, ``OSError`` when the file cannot be read, ``ssl.SSLError`` when it
        holds no DH parameters."""
        cdef bytes data
        cdef BIO *bio
        cdef EVP_PKEY *pkey = NULL
        cdef char *name = NULL
        cdef char *header = NULL
        cdef unsigned char *der = NULL
        cdef long derlen = 0
        cdef const unsigned char *p
        with open(os.fsencode(path), "rb") as f:
            data = f.read()
        ERR_clear_error()
        bio = BIO_new_mem_buf(<const char *>data, len(data))
        if bio == NULL:
            raise _ssl_error_from_queue()
        # Find the "DH PARAMETERS" block as PEM_read_DHparams does (other
        # blocks are skipped; none left is the PEM library's NO_START_LINE,
        # the error the stdlib reports), then decode it.
        while PEM_read_bio(bio, &name, &header, &der, &derlen) == 1:
            found = name == b"DH PARAMETERS"
            if found:
                p = der
                pkey = d2i_KeyParams(EVP_PKEY_DH, NULL, &p, derlen)
            OPENSSL_free(name)
            OPENSSL_free(header)
            OPENSSL_free(der)
            if found:
                break
        BIO_free(bio)
        if pkey == NULL:
            raise _ssl_error_from_queue()
        if SSL_CTX_set0_tmp_dh_pkey(self._checked(), pkey) != 1:
            EVP_PKEY_free(pkey)
            raise _ssl_error_from_queue()

    @cython.binding(True)   # a builtin's text signature cannot show an object default
    def load_default_certs(self, purpose=_ssl.Purpose.SERVER_AUTH):
        """Load the system's default CA certificates (``ssl.SSLContext.load_default_certs``).

        ``purpose`` (``ssl.Purpose.SERVER_AUTH`` or ``ssl.Purpose.CLIENT_AUTH``)
        is only type-checked: both load the same certificates, with
        ``set_default_verify_paths()`` (``SSL_CTX_set_default_verify_paths``),
        as the stdlib does outside Windows.  Raises ``TypeError`` when
        ``purpose`` is not an ``ssl.Purpose`` (ASN.1 object), ``ssl.SSLError``
        when OpenSSL fails."""
        if not isinstance(purpose, _ASN1Object):
            raise TypeError(purpose)
        self.set_default_verify_paths()

    def set_default_verify_paths(self):
        """Use OpenSSL's default CA file and directory
        (``SSL_CTX_set_default_verify_paths``); raises ``ssl.SSLError`` on failure."""
        ERR_clear_error()
        if SSL_CTX_set_default_verify_paths(self._checked()) != 1:
            raise _ssl_error_from_queue()

    def cert_store_stats(self):
        """Counts of the objects in the certificate store, as a dict of ints:
        ``{'x509': n, 'crl': n, 'x509_ca': n}`` (certificates, CRLs, and the
        certificates that are CAs).  Mirrors
        ``ssl.SSLContext.cert_store_stats`` (``X509_STORE_get0_objects``,
        ``X509_check_ca``); like it, a ``capath`` directory counts only the
        certificates already looked up."""
        cdef X509_STORE *store = SSL_CTX_get_cert_store(self._checked())
        cdef stack_st_X509_OBJECT *objs
        cdef X509_OBJECT *obj
        cdef int i, x509 = 0, crl = 0, ca = 0
        X509_STORE_lock(store)
        try:
            objs = X509_STORE_get0_objects(store)
            for i in range(sk_X509_OBJECT_num(objs)):
                obj = sk_X509_OBJECT_value(objs, i)
                t = X509_OBJECT_get_type(obj)
                if t == X509_LU_X509:
                    x509 += 1
                    if X509_check_ca(X509_OBJECT_get0_X509(obj)):
                        ca += 1
                elif t == X509_LU_CRL:
                    crl += 1
        finally:
            X509_STORE_unlock(store)
        return {"x509": x509, "crl": crl, "x509_ca": ca}

    def get_ca_certs(self, binary_form=False):
        """The loaded CA certificates (only those from ``cafile``/``cadata``,
        not a lazily read ``capath``), as stdlib dicts or, with
        ``binary_form=True``, DER ``bytes``."""
        cdef X509_STORE *store = SSL_CTX_get_cert_store(self._checked())
        cdef stack_st_X509_OBJECT *objs
        cdef X509_OBJECT *obj
        cdef X509 *cert
        cdef int i
        result = []
        X509_STORE_lock(store)
        try:
            objs = X509_STORE_get0_objects(store)
            for i in range(sk_X509_OBJECT_num(objs)):
                obj = sk_X509_OBJECT_value(objs, i)
                if X509_OBJECT_get_type(obj) != X509_LU_X509:
                    continue
                cert = X509_OBJECT_get0_X509(obj)
                if not X509_check_ca(cert):
                    continue
                result.append(_certificate_to_der(cert) if binary_form else _decode_certificate(cert))
        finally:
            X509_STORE_unlock(store)
        return result

    # ------------------------------------------------------------------
    # ciphers, groups, ALPN, SNI, key log

    def set_ciphers(self, cipherlist, /):
        """Set the TLS <= 1.2 cipher list (OpenSSL cipher-list syntax, ``str``)
        with ``SSL_CTX_set_cipher_list``.  Raises ``ssl.SSLError`` ("No cipher
        can be selected.") when nothing matches."""
        if not isinstance(cipherlist, str):
            raise TypeError(f"set_ciphers() argument must be str, not {type(cipherlist).__name__}")
        cdef bytes b = cipherlist.encode("ascii")
        ERR_clear_error()
        if SSL_CTX_set_cipher_list(self._checked(), b) != 1:
            raise _ssl_error_from_queue(None, "No cipher can be selected.")

    def get_ciphers(self):
        """The enabled ciphers, in preference order (``SSL_CTX_get_ciphers``),
        as a ``list`` of dicts with the stdlib's keys: ``id`` (int),
        ``name``, ``protocol``, ``description`` (str), ``strength_bits``,
        ``alg_bits`` (int), ``aead`` (bool), ``symmetric``, ``digest``,
        ``kea``, ``auth`` (str, or None for ``digest`` with an AEAD cipher).
        Mirrors ``ssl.SSLContext.get_ciphers``; TLS 1.3 suites included."""
        cdef stack_st_SSL_CIPHER *sk = SSL_CTX_get_ciphers(self._checked())
        cdef int i
        if sk == NULL:
            return []
        return [_cipher_to_dict(sk_SSL_CIPHER_value(sk, i)) for i in range(sk_SSL_CIPHER_num(sk))]

    def set_ecdh_curve(self, name, /):
        """Use the one key-exchange group ``name`` (``str`` or ``bytes``, e.g.
        ``"prime256v1"``, ``"X25519"``) via ``SSL_CTX_set1_groups``.  Raises
        ``TypeError`` for another type, ``ValueError`` for an unknown name."""
        cdef int nid
        if isinstance(name, str):
            bname = name.encode("ascii")
        elif isinstance(name, (bytes, bytearray)):
            bname = bytes(name)
        else:
            raise TypeError(f"set_ecdh_curve() argument must be str or bytes, not {type(name).__name__}")
        nid = OBJ_sn2nid(bname)
        if nid == NID_undef:
            nid = OBJ_txt2nid(bname)
        ERR_clear_error()
        if nid == NID_undef or SSL_CTX_set1_groups(self._checked(), &nid, 1) != 1:
            ERR_clear_error()
            raise ValueError(f"unknown elliptic curve name {name!r}")

    def set_alpn_protocols(self, alpn_protocols):
        """Offer (client) or accept (server) these ALPN protocols, most
        preferred first: a sequence of ``str``, each 1..255 bytes in ASCII.
        Mirrors ``ssl.SSLContext.set_alpn_protocols`` (``SSL_CTX_set_alpn_protos``
        and a selection callback).  Raises ``TypeError`` for non-``str``
        items and ``ssl.SSLError`` for an empty or over-long name, as the
        stdlib does."""
        wire = bytearray()
        for proto in alpn_protocols:
            b = bytes(proto, "ascii")       # TypeError for non-str, as the stdlib
            if len(b) == 0 or len(b) > 255:
                raise _SSLError("ALPN protocols must be 1 to 255 in length")
            wire.append(len(b))
            wire += b
        self._alpn_protocols = bytes(wire)
        self.alpn.wire = <const unsigned char *>(<const char *>self._alpn_protocols)
        self.alpn.len = <unsigned int>len(self._alpn_protocols)
        ERR_clear_error()
        if SSL_CTX_set_alpn_protos(self._checked(), self.alpn.wire, self.alpn.len) != 0:
            raise _ssl_error_from_queue()

    def set_npn_protocols(self, npn_protocols):
        """NPN is not supported (deprecated in the stdlib); raises ``NotImplementedError``."""
        raise NotImplementedError("NPN is not supported by tlsfast; use ALPN")

    @property
    def sni_callback(self):
        """Callable ``f(sslsocket, server_name, context)`` run by a server
        when a client's ClientHello arrives (``server_name`` is a ``str`` or
        None).  It may set ``sslsocket.context`` to switch certificates;
        returning None continues, returning an int aborts with that TLS alert
        (``ALERT_DESCRIPTION_*``); an exception is not re-raised: it goes to
        ``sys.unraisablehook``, the server's handshake raises ``ssl.SSLError``
        (reason ``CALLBACK_FAILED``) and the client gets a
        ``handshake_failure`` alert, as in the stdlib.  Runs from OpenSSL's
        servername callback (``SSL_CTX_set_tlsext_servername_callback``).
        Raises ``ValueError`` when set on a client context
        (``PROTOCOL_TLS_CLIENT``), ``TypeError`` when not callable."""
        return self._sni_callback

    @sni_callback.setter
    def sni_callback(self, callback):
        if self._protocol == _PROTOCOL_TLS_CLIENT:
            raise ValueError("sni_callback cannot be set on TLS_CLIENT context")
        if callback is not None and not callable(callback):
            raise TypeError("not a callable object")
        self._sni_callback = callback

    def set_psk_client_callback(self, callback):
        """TLS-PSK on a client context (Python 3.13's method; a tlsfast
        extension before): ``callback(hint)`` gets the server's identity
        hint (``str``, or None; TLS 1.3 sends none) and returns ``(identity,
        psk)``: ``identity`` a ``str`` or None, ``psk`` a bytes-like key.
        None removes it.  Runs from ``SSL_CTX_set_psk_client_callback``; an
        exception in it goes to ``sys.unraisablehook`` and fails the
        handshake.  Raises ``ssl.SSLError`` on a ``PROTOCOL_TLS_SERVER``
        context, ``TypeError`` when not callable."""
        if self._protocol == _PROTOCOL_TLS_SERVER:
            raise _located_ssl_error("Cannot add PSK client callback to a "
                                     "PROTOCOL_TLS_SERVER context")
        if callback is not None and not callable(callback):
            raise TypeError("callback must be callable")
        self._psk_client_callback = callback
        SSL_CTX_set_psk_client_callback(
            self._checked(), <SSL_psk_client_cb_func>NULL if callback is None else _psk_client_cb)

    def set_psk_server_callback(self, callback, identity_hint=None):
        """TLS-PSK on a server context (Python 3.13's method; a tlsfast
        extension before): ``callback(identity)`` gets the client's identity
        (``str`` or None) and returns the key (bytes-like);
        ``identity_hint`` (``str`` or None) is sent to TLS 1.2 clients
        (``SSL_CTX_use_psk_identity_hint``).  None removes the callback.
        An exception in it goes to ``sys.unraisablehook`` and fails the
        handshake.  Raises ``ssl.SSLError`` on a ``PROTOCOL_TLS_CLIENT``
        context, ``TypeError`` when not callable, ``ValueError`` when
        OpenSSL refuses the hint."""
        if self._protocol == _PROTOCOL_TLS_CLIENT:
            raise _located_ssl_error("Cannot add PSK server callback to a "
                                     "PROTOCOL_TLS_CLIENT context")
        if callback is not None and not callable(callback):
            raise TypeError("callback must be callable")
        hint = None if identity_hint is None else identity_hint.encode("utf-8")
        if SSL_CTX_use_psk_identity_hint(self._checked(),
                                         NULL if hint is None else <const char *>hint) != 1:
            ERR_clear_error()
            raise ValueError("failed to set identity hint")
        self._psk_server_callback = callback
        SSL_CTX_set_psk_server_callback(
            self.ctx, <SSL_psk_server_cb_func>NULL if callback is None else _psk_server_cb)

    def set_servername_callback(self, server_name_callback):
        """Old name of ``sni_callback``: sets it to ``server_name_callback``,
        ``f(sslsocket, server_name, context)`` or None, as
        ``ssl.SSLContext.set_servername_callback``.  Raises ``ValueError`` on
        a client context (``PROTOCOL_TLS_CLIENT``, checked first) and
        ``TypeError`` when not callable."""
        self.sni_callback = server_name_callback

    @property
    def keylog_filename(self):
        """``str`` path, or None: append TLS secrets in NSS key log format
        (``SSL_CTX_set_keylog_callback``), e.g. for Wireshark.  Raises
        ``OSError`` when the file cannot be opened."""
        return self._keylog_filename

    @keylog_filename.setter
    def keylog_filename(self, filename):
        if self._keylog_file is not None:
            self._keylog_file.close()
            self._keylog_file = None
        self._keylog_filename = None
        if filename is None:
            SSL_CTX_set_keylog_callback(self._checked(), NULL)
            return
        path = os.fspath(filename)
        f = open(path, "ab", buffering=0)
        if f.tell() == 0:
            f.write(b"# TLS secrets log file, generated by OpenSSL / tlsfast\n")
        self._keylog_file = f
        self._keylog_filename = path
        SSL_CTX_set_keylog_callback(self._checked(), _keylog_cb)

    def set_session_ticket_keys(self, keys):
        """Seal and open session tickets (TLS 1.3 and 1.2 resumption) with
        ``keys`` instead of the random key OpenSSL makes per context, so
        that several processes or machines resume each other's sessions
        (nginx's ``ssl_session_ticket_key``).  ``keys``: a non-empty
        sequence of bytes-like objects of 80 bytes each (16-byte name,
        32-byte HMAC-SHA256 secret, 32-byte AES-256 key; ``os.urandom(80)``
        makes one); the first seals new tickets, all open tickets, so
        rotating is ``[new, old]``; a ticket under an older key is renewed
        under the first.  None goes back to OpenSSL's own key.  A tlsfast
        extension (``SSL_CTX_set_tlsext_ticket_key_evp_cb``): the stdlib has
        no equivalent.  Raises ``TypeError`` for a non-bytes-like key,
        ``ValueError`` for an empty sequence, a key that is not 80 bytes
        long or two keys with the same name."""
        cdef SSL_CTX *c = self._checked()
        if keys is None:
            SSL_CTX_set_tlsext_ticket_key_evp_cb(c, NULL)
            self._ticket_keys = None
            return
        keys = [bytes(memoryview(key)) for key in keys]
        if not keys:
            raise ValueError("keys must hold at least one key")
        for key in keys:
            if len(key) != _TICKET_KEY_SIZE:
                raise ValueError(f"a session ticket key is {_TICKET_KEY_SIZE} bytes, "
                                 f"not {len(key)}")
        if len({key[:16] for key in keys}) != len(keys):
            raise ValueError("two session ticket keys have the same name (first 16 bytes)")
        self._ticket_keys = b"".join(keys)
        SSL_CTX_set_tlsext_ticket_key_evp_cb(c, _ticket_key_cb)

    # ------------------------------------------------------------------
    # statistics

    def session_stats(self):
        """Session cache statistics (``SSL_CTX_sess_*``) as a dict of ints."""
        cdef SSL_CTX *c = self._checked()
        return {
            "number": SSL_CTX_sess_number(c),
            "connect": SSL_CTX_sess_connect(c),
            "connect_good": SSL_CTX_sess_connect_good(c),
            "connect_renegotiate": SSL_CTX_sess_connect_renegotiate(c),
            "accept": SSL_CTX_sess_accept(c),
            "accept_good": SSL_CTX_sess_accept_good(c),
            "accept_renegotiate": SSL_CTX_sess_accept_renegotiate(c),
            "hits": SSL_CTX_sess_hits(c),
            "misses": SSL_CTX_sess_misses(c),
            "timeouts": SSL_CTX_sess_timeouts(c),
            "cache_full": SSL_CTX_sess_cache_full(c),
        }

    def _encode_hostname(self, hostname):
        if hostname is None:
            return None
        if isinstance(hostname, str):
            if hostname.isascii() and _ascii_labels_fit(hostname):
                # the IDNA codec returns such a name unchanged: skip the
                # codec machinery (a fifth of wrap_socket's own work)
                return hostname
            return hostname.encode("idna").decode("ascii")
        return hostname.decode("ascii")


cdef bint _ascii_labels_fit(str name):
    """Whether the IDNA codec takes ASCII ``name`` as it is: every label
    but the last 1-63 characters, the last (empty after a final dot) at
    most 63; otherwise the codec raises, with its own message."""
    cdef Py_ssize_t start = 0, i, n = len(name)
    for i in range(n + 1):
        if i == n or name[i] == ".":
            if i - start > 63 or (i - start == 0 and i != n):
                return False
            start = i + 1
    return True


cdef _SSLContext _core_of(object context):
    """The engine context behind a tlsfast ``SSLContext`` (``_sslcontext.pxi``);
    ``TypeError`` for anything else (a stdlib ``ssl.SSLContext`` included:
    tlsfast cannot drive the stdlib's ``SSL_CTX*``)."""
    if isinstance(context, SSLContext):
        return <_SSLContext>(context._core)
    raise _not_a_context(context)
