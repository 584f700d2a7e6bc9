# Certificates and ciphers as Python values: the same dicts and tuples as the
# stdlib's ``_ssl`` (Modules/_ssl.c: _decode_certificate, cipher_to_tuple,
# cipher_to_dict), key order included.  Text is decoded as strict UTF-8, as
# there.  Every OpenSSL object allocated here is freed in a ``finally``.
#
# Fields OpenSSL renders (serial number, times, otherName...) are read back
# with BIO_gets() into a 2048-byte buffer, as _ssl.c does, so that odd
# certificates (serials over 35 octets, multi-line values) give the same
# (first-line) text.

from libc.string cimport strchr

cdef enum:
    _CERT_LINE_MAX = 2048       # _ssl.c's ``char buf[2048]``
    _CERT_OBJ_TXT = 256         # X509_NAME_MAXLEN
    _CERT_DIST_POINT_FULLNAME = 0   # DIST_POINT_NAME.type: fullname, not relativename


cdef str _cert_ia5(const ASN1_STRING *s):
    """The raw bytes of an ASN.1 string (IA5: DNS, email, URI) as text."""
    return (<const char *>ASN1_STRING_get0_data(s))[:ASN1_STRING_length(s)].decode("utf-8")


cdef str _cert_obj_text(const ASN1_OBJECT *obj):
    """OBJ_obj2txt(no_name=0): the long name ('commonName'), else the dotted OID."""
    cdef char buf[_CERT_OBJ_TXT]
    cdef char *big
    cdef int n = OBJ_obj2txt(buf, sizeof(buf), obj, 0)
    if n < 0:
        raise _ssl_error_from_queue()
    if n < <int>sizeof(buf):
        return buf[:n].decode("utf-8")
    big = <char *>OPENSSL_malloc(n + 1)
    if big == NULL:
        raise MemoryError()
    try:
        n = OBJ_obj2txt(big, n + 1, obj, 0)
        if n < 0:
            raise _ssl_error_from_queue()
        return big[:n].decode("utf-8")
    finally:
        OPENSSL_free(big)


cdef tuple _cert_attribute(ASN1_OBJECT *obj, ASN1_STRING *value):
    """One ``(name, value)`` pair of a distinguished name; a BIT STRING value
    (x500UniqueIdentifier) stays bytes."""
    cdef unsigned char *utf8 = NULL
    cdef int n
    name = _cert_obj_text(obj)
    if ASN1_STRING_type(value) == V_ASN1_BIT_STRING:
        return (name, (<const char *>ASN1_STRING_get0_data(value))[:ASN1_STRING_length(value)])
    n = ASN1_STRING_to_UTF8(&utf8, value)
    if n < 0:
        raise _ssl_error_from_queue()
    try:
        return (name, (<char *>utf8)[:n].decode("utf-8"))
    finally:
        OPENSSL_free(utf8)


cdef tuple _cert_name(const X509_NAME *xname):
    """A distinguished name as a tuple of RDNs, each a tuple of attributes
    (multi-valued RDNs share X509_NAME_ENTRY_set())."""
    cdef X509_NAME_ENTRY *entry
    cdef int i, rdn_set = -1
    dn = []
    rdn = []
    for i in range(X509_NAME_entry_count(xname)):
        entry = X509_NAME_get_entry(xname, i)
        if rdn and X509_NAME_ENTRY_set(entry) != rdn_set:
            dn.append(tuple(rdn))
            rdn = []
        rdn_set = X509_NAME_ENTRY_set(entry)
        rdn.append(_cert_attribute(X509_NAME_ENTRY_get_object(entry),
                                   X509_NAME_ENTRY_get_data(entry)))
    if rdn:
        dn.append(tuple(rdn))
    return tuple(dn)


cdef bytes _cert_bio_line(BIO *bio):
    """The first line OpenSSL printed into the memory BIO ``bio`` (as
    BIO_gets() returns it); empties the BIO for the next field."""
    cdef char buf[_CERT_LINE_MAX]
    cdef int n = BIO_gets(bio, buf, sizeof(buf) - 1)
    BIO_reset(bio)
    if n < 0:
        raise _ssl_error_from_queue()
    return buf[:n]


cdef void *_cert_ext(X509 *cert, int nid) noexcept:
    """X509_get_ext_d2i(), or NULL when the extension is absent or does not
    parse; a parse failure leaves nothing on the error queue."""
    cdef void *ext
    ERR_set_mark()
    ext = X509_get_ext_d2i(cert, nid, NULL, NULL)
    ERR_pop_to_mark()
    return ext


cdef tuple _cert_general_name(GENERAL_NAME *gn, BIO *bio):
    """One subjectAltName entry as ``(kind, value)``."""
    cdef int kind = gn.type
    cdef const unsigned char *ip
    cdef int n, i
    if kind == GEN_DIRNAME:
        return ("DirName", _cert_name(gn.d_directoryName))
    if kind == GEN_DNS:
        return ("DNS", _cert_ia5(gn.d_ia5))
    if kind == GEN_EMAIL:
        return ("email", _cert_ia5(gn.d_ia5))
    if kind == GEN_URI:
        return ("URI", _cert_ia5(gn.d_ia5))
    if kind == GEN_RID:
        rid = _cert_obj_text(gn.d_registeredID)
        return ("Registered ID", rid if len(rid) < _CERT_LINE_MAX else "<INVALID>")
    if kind == GEN_IPADD:
        ip = ASN1_STRING_get0_data(gn.d_iPAddress)
        n = ASN1_STRING_length(gn.d_iPAddress)
        if n == 4:
            return ("IP Address", f"{ip[0]}.{ip[1]}.{ip[2]}.{ip[3]}")
        if n == 16:     # uncompressed, uppercase, no leading zeros
            return ("IP Address", ":".join([f"{ip[i] << 8 | ip[i + 1]:X}" for i in range(0, 16, 2)]))
        return ("IP Address", "<invalid>")
    # otherName, x400Address, ediPartyName: OpenSSL's "Kind:value" rendering
    GENERAL_NAME_print(bio, gn)
    line = _cert_bio_line(bio)
    colon = strchr(line, c':')
    if colon == NULL:
        raise ValueError(f"Invalid value {line[:200].decode('utf-8', 'replace')}")
    n = colon - <char *>line
    return (line[:n].decode("utf-8"), line[n + 1:].decode("utf-8"))


cdef object _cert_alt_names(X509 *cert, BIO *bio):
    """The subjectAltName tuple, or None without the extension."""
    cdef GENERAL_NAMES *names = <GENERAL_NAMES *>_cert_ext(cert, NID_subject_alt_name)
    cdef int i
    if names == NULL:
        return None
    try:
        return tuple([_cert_general_name(sk_GENERAL_NAME_value(names, i), bio)
                      for i in range(sk_GENERAL_NAME_num(names))])
    finally:
        GENERAL_NAMES_free(names)


cdef tuple _cert_aia_uris(X509 *cert):
    """``(ocsp_uris, ca_issuers_uris)`` from authorityInfoAccess (URIs only)."""
    cdef AUTHORITY_INFO_ACCESS *info = <AUTHORITY_INFO_ACCESS *>_cert_ext(cert, NID_info_access)
    cdef ACCESS_DESCRIPTION *ad
    cdef int i, method
    ocsp = []
    issuers = []
    if info == NULL:
        return (), ()
    try:
        for i in range(sk_ACCESS_DESCRIPTION_num(info)):
            ad = sk_ACCESS_DESCRIPTION_value(info, i)
            if ad.location.type != GEN_URI:
                continue
            method = OBJ_obj2nid(ad.method)
            if method == NID_ad_OCSP:
                ocsp.append(_cert_ia5(ad.location.d_ia5))
            elif method == NID_ad_ca_issuers:
                issuers.append(_cert_ia5(ad.location.d_ia5))
    finally:
        AUTHORITY_INFO_ACCESS_free(info)
    return tuple(ocsp), tuple(issuers)


cdef tuple _cert_crl_uris(X509 *cert):
    """The URIs of the crlDistributionPoints full names."""
    cdef CRL_DIST_POINTS *dps = <CRL_DIST_POINTS *>_cert_ext(cert, NID_crl_distribution_points)
    cdef DIST_POINT *dp
    cdef GENERAL_NAME *gn
    cdef int i, j
    uris = []
    if dps == NULL:
        return ()
    try:
        for i in range(sk_DIST_POINT_num(dps)):
            dp = sk_DIST_POINT_value(dps, i)
            # no name (CVE-2019-5010), or one relative to the CRL issuer
            if dp.distpoint == NULL or dp.distpoint.type != _CERT_DIST_POINT_FULLNAME:
                continue
            for j in range(sk_GENERAL_NAME_num(dp.distpoint.name_fullname)):
                gn = sk_GENERAL_NAME_value(dp.distpoint.name_fullname, j)
                if gn.type == GEN_URI:
                    uris.append(_cert_ia5(gn.d_ia5))
    finally:
        CRL_DIST_POINTS_free(dps)
    return tuple(uris)


cdef object _decode_certificate(X509 *cert):
    """``getpeercert()``'s dict for ``cert`` (borrowed: not freed here)."""
    cdef BIO *bio
    result = {
        "subject": _cert_name(X509_get_subject_name(cert)),
        "issuer": _cert_name(X509_get_issuer_name(cert)),
        "version": X509_get_version(cert) + 1,
    }
    bio = BIO_new(BIO_s_mem())
    if bio == NULL:
        raise _ssl_error_from_queue(None, "failed to allocate BIO")
    try:
        i2a_ASN1_INTEGER(bio, X509_get_serialNumber(cert))
        result["serialNumber"] = _cert_bio_line(bio).decode("utf-8")
        ASN1_TIME_print(bio, X509_get0_notBefore(cert))
        result["notBefore"] = _cert_bio_line(bio).decode("utf-8")
        ASN1_TIME_print(bio, X509_get0_notAfter(cert))
        result["notAfter"] = _cert_bio_line(bio).decode("utf-8")
        alt_names = _cert_alt_names(cert, bio)
    finally:
        BIO_free(bio)
    if alt_names is not None:
        result["subjectAltName"] = alt_names
    ocsp, issuers = _cert_aia_uris(cert)
    if ocsp:
        result["OCSP"] = ocsp
    if issuers:
        result["caIssuers"] = issuers
    crl = _cert_crl_uris(cert)
    if crl:
        result["crlDistributionPoints"] = crl
    return result


cdef bytes _certificate_to_der(X509 *cert):
    """``cert`` DER-encoded (``getpeercert(binary_form=True)``)."""
    cdef unsigned char *der = NULL
    cdef int n = i2d_X509(cert, &der)
    if n < 0:
        raise _ssl_error_from_queue()
    try:
        return (<char *>der)[:n]
    finally:
        OPENSSL_free(der)


def _test_decode_cert(path):
    """Decode the first PEM certificate in the file ``path``: a test helper,
    like ``_ssl._test_decode_cert``.  A missing file raises OSError (the
    stdlib raises ``SSLError("Can't open file")``)."""
    cdef BIO *bio
    cdef X509 *cert
    cdef bytes pem
    with open(os.fspath(path), "rb") as f:
        pem = f.read()
    if len(pem) > 0x7fffffff:
        raise OverflowError("certificate file too large")
    bio = BIO_new_mem_buf(<const char *>pem, len(pem))
    if bio == NULL:
        raise _ssl_error_from_queue()
    try:
        cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)
    finally:
        BIO_free(bio)
    if cert == NULL:
        raise _ssl_error_from_queue(None, "Error decoding PEM-encoded file")
    try:
        return _decode_certificate(cert)
    finally:
        X509_free(cert)


# --- ciphers -----------------------------------------------------------------

cdef inline object _cipher_str(const char *s):
    return None if s == NULL else s.decode("utf-8")


cdef inline object _cipher_nid_name(int nid):
    return None if nid == NID_undef else _cipher_str(OBJ_nid2ln(nid))


cdef object _cipher_to_tuple(const SSL_CIPHER *cipher):
    """``(name, protocol, secret_bits)`` as ``cipher()`` / ``shared_ciphers()``
    give it; None without a cipher."""
    if cipher == NULL:
        return None
    return (_cipher_str(SSL_CIPHER_get_name(cipher)),
            _cipher_str(SSL_CIPHER_get_version(cipher)),
            SSL_CIPHER_get_bits(cipher, NULL))


cdef dict _cipher_to_dict(const SSL_CIPHER *cipher):
    """One entry of ``SSLContext.get_ciphers()``."""
    cdef char buf[512]
    cdef int alg_bits = 0
    cdef int strength_bits = SSL_CIPHER_get_bits(cipher, &alg_bits)
    buf[0] = 0
    SSL_CIPHER_description(cipher, buf, sizeof(buf) - 1)
    description = <bytes>buf
    if len(description) > 1 and description.endswith(b"\n"):
        description = description[:-1]
    return {
        "id": SSL_CIPHER_get_id(cipher),
        "name": _cipher_str(SSL_CIPHER_get_name(cipher)),
        "protocol": _cipher_str(SSL_CIPHER_get_version(cipher)),
        "description": description.decode("utf-8"),
        "strength_bits": strength_bits,
        "alg_bits": alg_bits,
        "aead": bool(SSL_CIPHER_is_aead(cipher)),
        "symmetric": _cipher_nid_name(SSL_CIPHER_get_cipher_nid(cipher)),
        "digest": _cipher_nid_name(SSL_CIPHER_get_digest_nid(cipher)),
        "kea": _cipher_nid_name(SSL_CIPHER_get_kx_nid(cipher)),
        "auth": _cipher_nid_name(SSL_CIPHER_get_auth_nid(cipher)),
    }
