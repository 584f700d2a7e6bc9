# Declarations of the libssl / libcrypto (OpenSSL 3) API that tlsfast calls.
#
# Grouped by header, as in the OpenSSL sources.  Everything is ``nogil``:
# the data path calls these with or without the GIL, as the policy in
# ``_connection.pxi`` decides.  Constants are plain ``enum`` values so Cython
# inlines them.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t
from libc.time cimport time_t

cdef extern from "openssl/opensslv.h" nogil:
    enum:
        OPENSSL_HEADER_VERSION_NUMBER "OPENSSL_VERSION_NUMBER"

cdef extern from "openssl/crypto.h" nogil:
    unsigned long OpenSSL_version_num()
    const char *OpenSSL_version(int t)
    enum:
        OPENSSL_VERSION_CONST "OPENSSL_VERSION"
    void OPENSSL_free(void *addr)
    void *OPENSSL_malloc(size_t num)

cdef extern from "openssl/err.h" nogil:
    unsigned long ERR_peek_last_error()
    unsigned long ERR_peek_error()
    void ERR_clear_error()
    const char *ERR_reason_error_string(unsigned long e)
    int ERR_GET_LIB(unsigned long e)
    int ERR_GET_REASON(unsigned long e)
    enum:
        ERR_LIB_SSL
        ERR_LIB_PEM
        ERR_LIB_X509
    int ERR_set_mark()
    int ERR_pop_to_mark()

cdef extern from "openssl/bio.h" nogil:
    ctypedef struct BIO
    ctypedef struct BIO_METHOD
    const BIO_METHOD *BIO_s_mem()
    BIO *BIO_new(const BIO_METHOD *type)
    BIO *BIO_new_mem_buf(const void *buf, int len)
    int BIO_free(BIO *a)
    int BIO_up_ref(BIO *a)
    int BIO_read_ex(BIO *b, void *data, size_t dlen, size_t *readbytes)
    int BIO_write_ex(BIO *b, const void *data, size_t dlen, size_t *written)
    size_t BIO_ctrl_pending(BIO *b)
    uint64_t BIO_number_read(BIO *b)
    uint64_t BIO_number_written(BIO *b)
    int BIO_set_mem_eof_return(BIO *b, int v)
    # custom BIO methods (the adapter for foreign MemoryBIO objects)
    int BIO_get_new_index()
    BIO_METHOD *BIO_meth_new(int type, const char *name)
    int BIO_meth_set_write_ex(BIO_METHOD *biom, int (*bwrite)(BIO *, const char *, size_t, size_t *))
    int BIO_meth_set_read_ex(BIO_METHOD *biom, int (*bread)(BIO *, char *, size_t, size_t *))
    int BIO_meth_set_ctrl(BIO_METHOD *biom, long (*ctrl)(BIO *, int, long, void *))
    int BIO_meth_set_create(BIO_METHOD *biom, int (*create)(BIO *))
    int BIO_meth_set_destroy(BIO_METHOD *biom, int (*destroy)(BIO *))
    void BIO_set_data(BIO *a, void *ptr)
    void *BIO_get_data(BIO *a)
    void BIO_set_init(BIO *a, int init)
    void BIO_set_retry_read(BIO *b)
    void BIO_clear_retry_flags(BIO *b)
    enum:
        BIO_TYPE_SOURCE_SINK
        BIO_CTRL_FLUSH
        BIO_CTRL_PENDING
        BIO_CTRL_EOF
        BIO_NOCLOSE
    int BIO_reset(BIO *b)
    int BIO_gets(BIO *bp, char *buf, int size)

cdef extern from "openssl/evp.h" nogil:
    ctypedef struct EVP_PKEY
    ctypedef struct EVP_MD
    void EVP_PKEY_free(EVP_PKEY *pkey)
    EVP_PKEY *d2i_KeyParams(int type, EVP_PKEY **a, const unsigned char **pp, long length)
    enum:
        EVP_PKEY_DH

cdef extern from "openssl/asn1.h" nogil:
    ctypedef struct ASN1_STRING
    ctypedef ASN1_STRING ASN1_INTEGER
    ctypedef ASN1_STRING ASN1_TIME
    ctypedef ASN1_STRING ASN1_OCTET_STRING
    ctypedef ASN1_STRING ASN1_IA5STRING
    ctypedef struct ASN1_OBJECT
    ctypedef struct ASN1_TYPE
    int ASN1_STRING_to_UTF8(unsigned char **out, const ASN1_STRING *inp)
    int ASN1_STRING_length(const ASN1_STRING *x)
    const unsigned char *ASN1_STRING_get0_data(const ASN1_STRING *x)
    int ASN1_STRING_type(const ASN1_STRING *x)
    int i2a_ASN1_INTEGER(BIO *bp, const ASN1_INTEGER *a)
    int ASN1_TIME_print(BIO *fp, const ASN1_TIME *a)
    enum:
        V_ASN1_BIT_STRING

cdef extern from "openssl/objects.h" nogil:
    int OBJ_obj2nid(const ASN1_OBJECT *o)
    int OBJ_obj2txt(char *buf, int buf_len, const ASN1_OBJECT *a, int no_name)
    const char *OBJ_nid2ln(int n)
    int OBJ_sn2nid(const char *s)
    int OBJ_txt2nid(const char *s)
    enum:
        NID_undef
        NID_subject_alt_name
        NID_info_access
        NID_crl_distribution_points
        NID_ad_OCSP
        NID_ad_ca_issuers

cdef extern from "openssl/x509.h" nogil:
    ctypedef struct X509
    ctypedef struct X509_NAME
    ctypedef struct X509_NAME_ENTRY
    ctypedef struct X509_STORE
    ctypedef struct X509_STORE_CTX
    ctypedef struct X509_OBJECT
    ctypedef struct X509_VERIFY_PARAM
    ctypedef struct X509_EXTENSION
    ctypedef struct X509_CRL
    cdef struct stack_st_X509
    cdef struct stack_st_X509_OBJECT

    X509 *d2i_X509(X509 **px, const unsigned char **inp, long length)
    int i2d_X509(const X509 *x, unsigned char **out)
    void X509_free(X509 *a)
    long X509_get_version(const X509 *x)
    ASN1_INTEGER *X509_get_serialNumber(X509 *x)
    X509_NAME *X509_get_subject_name(const X509 *x)
    X509_NAME *X509_get_issuer_name(const X509 *x)
    const ASN1_TIME *X509_get0_notBefore(const X509 *x)
    const ASN1_TIME *X509_get0_notAfter(const X509 *x)
    void *X509_get_ext_d2i(const X509 *x, int nid, int *crit, int *idx)
    int X509_check_ca(X509 *x)

    int X509_NAME_entry_count(const X509_NAME *name)
    X509_NAME_ENTRY *X509_NAME_get_entry(const X509_NAME *name, int loc)
    ASN1_OBJECT *X509_NAME_ENTRY_get_object(const X509_NAME_ENTRY *ne)
    ASN1_STRING *X509_NAME_ENTRY_get_data(const X509_NAME_ENTRY *ne)
    int X509_NAME_ENTRY_set(const X509_NAME_ENTRY *ne)

    int X509_STORE_add_cert(X509_STORE *ctx, X509 *x)
    stack_st_X509_OBJECT *X509_STORE_get0_objects(X509_STORE *v)
    int X509_OBJECT_get_type(const X509_OBJECT *a)
    X509 *X509_OBJECT_get0_X509(const X509_OBJECT *a)
    int X509_STORE_lock(X509_STORE *ctx)
    int X509_STORE_unlock(X509_STORE *ctx)

    const char *X509_verify_cert_error_string(long n)

    int sk_X509_num(const stack_st_X509 *sk)
    X509 *sk_X509_value(const stack_st_X509 *sk, int i)
    int sk_X509_OBJECT_num(const stack_st_X509_OBJECT *sk)
    X509_OBJECT *sk_X509_OBJECT_value(const stack_st_X509_OBJECT *sk, int i)

    enum:
        X509_LU_X509
        X509_LU_CRL

cdef extern from "openssl/x509_vfy.h" nogil:
    int X509_VERIFY_PARAM_set_flags(X509_VERIFY_PARAM *param, unsigned long flags)
    int X509_VERIFY_PARAM_clear_flags(X509_VERIFY_PARAM *param, unsigned long flags)
    unsigned long X509_VERIFY_PARAM_get_flags(const X509_VERIFY_PARAM *param)
    int X509_VERIFY_PARAM_set1_host(X509_VERIFY_PARAM *param, const char *name, size_t namelen)
    void X509_VERIFY_PARAM_set_hostflags(X509_VERIFY_PARAM *param, unsigned int flags)
    int X509_VERIFY_PARAM_set1_ip(X509_VERIFY_PARAM *param, const unsigned char *ip, size_t iplen)
    enum:
        X509_V_ERR_HOSTNAME_MISMATCH
        X509_V_ERR_IP_ADDRESS_MISMATCH
        X509_V_FLAG_TRUSTED_FIRST

cdef extern from "openssl/x509v3.h" nogil:
    # the unions inside these structs are reached through member cnames
    ctypedef struct GENERAL_NAME:
        int type
        ASN1_IA5STRING *d_ia5 "d.ia5"
        ASN1_OCTET_STRING *d_iPAddress "d.iPAddress"
        ASN1_OBJECT *d_registeredID "d.registeredID"
        X509_NAME *d_directoryName "d.directoryName"
    ctypedef struct GENERAL_NAMES
    ctypedef struct ACCESS_DESCRIPTION:
        ASN1_OBJECT *method
        GENERAL_NAME *location
    ctypedef struct AUTHORITY_INFO_ACCESS
    ctypedef struct DIST_POINT_NAME:
        int type
        GENERAL_NAMES *name_fullname "name.fullname"
    ctypedef struct DIST_POINT:
        DIST_POINT_NAME *distpoint
    ctypedef struct CRL_DIST_POINTS
    int sk_GENERAL_NAME_num(const GENERAL_NAMES *sk)
    GENERAL_NAME *sk_GENERAL_NAME_value(const GENERAL_NAMES *sk, int i)
    void GENERAL_NAMES_free(GENERAL_NAMES *a)
    int sk_ACCESS_DESCRIPTION_num(const AUTHORITY_INFO_ACCESS *sk)
    ACCESS_DESCRIPTION *sk_ACCESS_DESCRIPTION_value(const AUTHORITY_INFO_ACCESS *sk, int i)
    void AUTHORITY_INFO_ACCESS_free(AUTHORITY_INFO_ACCESS *a)
    int sk_DIST_POINT_num(const CRL_DIST_POINTS *sk)
    DIST_POINT *sk_DIST_POINT_value(const CRL_DIST_POINTS *sk, int i)
    void CRL_DIST_POINTS_free(CRL_DIST_POINTS *a)
    enum:
        GEN_EMAIL
        GEN_DNS
        GEN_DIRNAME
        GEN_URI
        GEN_IPADD
        GEN_RID
        X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS
        X509_CHECK_FLAG_NEVER_CHECK_SUBJECT
    int GENERAL_NAME_print(BIO *out, GENERAL_NAME *gen)

cdef extern from "openssl/pem.h" nogil:
    ctypedef int pem_password_cb(char *buf, int size, int rwflag, void *userdata)
    X509 *PEM_read_bio_X509(BIO *bp, X509 **x, pem_password_cb *cb, void *u)
    EVP_PKEY *PEM_read_bio_Parameters(BIO *bp, EVP_PKEY **x)
    int PEM_read_bio(BIO *bp, char **name, char **header, unsigned char **data, long *len)

cdef extern from "openssl/evp.h" nogil:
    # session ticket encryption (SSL_CTX_set_tlsext_ticket_key_evp_cb)
    ctypedef struct EVP_CIPHER
    ctypedef struct EVP_CIPHER_CTX
    ctypedef struct EVP_MAC_CTX
    ctypedef struct ENGINE
    const EVP_CIPHER *EVP_aes_256_cbc()
    int EVP_EncryptInit_ex(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *type, ENGINE *impl,
                           const unsigned char *key, const unsigned char *iv)
    int EVP_DecryptInit_ex(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *type, ENGINE *impl,
                           const unsigned char *key, const unsigned char *iv)
    int EVP_MAC_CTX_set_params(EVP_MAC_CTX *ctx, const OSSL_PARAM *params)

cdef extern from "openssl/params.h" nogil:
    ctypedef struct OSSL_PARAM:
        const char *key
    OSSL_PARAM OSSL_PARAM_construct_utf8_string(const char *key, char *buf, size_t bsize)
    OSSL_PARAM OSSL_PARAM_construct_octet_string(const char *key, void *buf, size_t bsize)
    OSSL_PARAM OSSL_PARAM_construct_end()

cdef extern from "openssl/rand.h" nogil:
    int c_RAND_bytes "RAND_bytes"(unsigned char *buf, int num)
    int c_RAND_status "RAND_status"()
    void c_RAND_add "RAND_add"(const void *buf, int num, double randomness)

cdef extern from "openssl/ssl.h" nogil:
    ctypedef struct SSL_CTX
    ctypedef struct SSL
    ctypedef struct SSL_METHOD
    ctypedef struct SSL_CIPHER
    ctypedef struct SSL_SESSION
    cdef struct stack_st_SSL_CIPHER

    const SSL_METHOD *TLS_method()
    const SSL_METHOD *TLS_client_method()
    const SSL_METHOD *TLS_server_method()

    # SSL_CTX lifecycle and configuration
    SSL_CTX *SSL_CTX_new(const SSL_METHOD *meth)
    void SSL_CTX_free(SSL_CTX *ctx)
    uint64_t SSL_CTX_get_options(const SSL_CTX *ctx)
    uint64_t SSL_CTX_set_options(SSL_CTX *ctx, uint64_t op)
    uint64_t SSL_CTX_clear_options(SSL_CTX *ctx, uint64_t op)
    long SSL_CTX_set_mode(SSL_CTX *ctx, long mode)
    int SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version)
    int SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version)
    int SSL_CTX_get_min_proto_version(SSL_CTX *ctx)
    int SSL_CTX_get_max_proto_version(SSL_CTX *ctx)
    int SSL_CTX_set_cipher_list(SSL_CTX *ctx, const char *s)
    stack_st_SSL_CIPHER *SSL_CTX_get_ciphers(const SSL_CTX *ctx)
    void SSL_CTX_set_verify(SSL_CTX *ctx, int mode, void *cb)
    int SSL_CTX_get_verify_mode(const SSL_CTX *ctx)
    X509_STORE *SSL_CTX_get_cert_store(const SSL_CTX *ctx)
    X509_VERIFY_PARAM *SSL_CTX_get0_param(SSL_CTX *ctx)
    int SSL_CTX_load_verify_locations(SSL_CTX *ctx, const char *CAfile, const char *CApath)
    int SSL_CTX_set_default_verify_paths(SSL_CTX *ctx)
    int SSL_CTX_use_certificate_chain_file(SSL_CTX *ctx, const char *file)
    int SSL_CTX_use_PrivateKey_file(SSL_CTX *ctx, const char *file, int type)
    int SSL_CTX_check_private_key(const SSL_CTX *ctx)
    void SSL_CTX_set_default_passwd_cb(SSL_CTX *ctx, pem_password_cb *cb)
    void SSL_CTX_set_default_passwd_cb_userdata(SSL_CTX *ctx, void *u)
    int SSL_CTX_set_alpn_protos(SSL_CTX *ctx, const unsigned char *protos, unsigned int protos_len)
    ctypedef int (*alpn_select_cb_t)(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                                     const unsigned char *inp, unsigned int inlen, void *arg)
    void SSL_CTX_set_alpn_select_cb(SSL_CTX *ctx, alpn_select_cb_t cb, void *arg)
    int SSL_select_next_proto(unsigned char **out, unsigned char *outlen,
                              const unsigned char *server, unsigned int server_len,
                              const unsigned char *client, unsigned int client_len)
    long SSL_CTX_set_tlsext_servername_callback(SSL_CTX *ctx, int (*cb)(SSL *, int *, void *))
    long SSL_CTX_set_tlsext_servername_arg(SSL_CTX *ctx, void *arg)
    ctypedef unsigned int (*SSL_psk_client_cb_func)(SSL *ssl, const char *hint, char *identity,
                                             unsigned int max_identity_len,
                                             unsigned char *psk, unsigned int max_psk_len)
    ctypedef unsigned int (*SSL_psk_server_cb_func)(SSL *ssl, const char *identity,
                                             unsigned char *psk, unsigned int max_psk_len)
    void SSL_CTX_set_psk_client_callback(SSL_CTX *ctx, SSL_psk_client_cb_func cb)
    void SSL_CTX_set_psk_server_callback(SSL_CTX *ctx, SSL_psk_server_cb_func cb)
    int SSL_CTX_use_psk_identity_hint(SSL_CTX *ctx, const char *identity_hint)
    ctypedef void (*keylog_cb_t)(const SSL *ssl, const char *line)
    void SSL_CTX_set_keylog_callback(SSL_CTX *ctx, keylog_cb_t cb)
    int SSL_CTX_set_num_tickets(SSL_CTX *ctx, size_t num_tickets)
    ctypedef int (*ticket_key_evp_cb_t)(SSL *s, unsigned char *key_name, unsigned char *iv,
                                       EVP_CIPHER_CTX *ctx, EVP_MAC_CTX *hctx, int enc)
    int SSL_CTX_set_tlsext_ticket_key_evp_cb(SSL_CTX *ctx, ticket_key_evp_cb_t cb)
    size_t SSL_CTX_get_num_tickets(const SSL_CTX *ctx)
    int SSL_CTX_get_security_level(const SSL_CTX *ctx)
    int SSL_CTX_set1_groups(SSL_CTX *ctx, int *glist, int glistlen)
    int SSL_CTX_set_session_id_context(SSL_CTX *ctx, const unsigned char *sid_ctx, unsigned int sid_ctx_len)
    int SSL_CTX_set0_tmp_dh_pkey(SSL_CTX *ctx, EVP_PKEY *dhpkey)
    long SSL_CTX_sess_number(SSL_CTX *ctx)
    long SSL_CTX_sess_connect(SSL_CTX *ctx)
    long SSL_CTX_sess_connect_good(SSL_CTX *ctx)
    long SSL_CTX_sess_connect_renegotiate(SSL_CTX *ctx)
    long SSL_CTX_sess_accept(SSL_CTX *ctx)
    long SSL_CTX_sess_accept_good(SSL_CTX *ctx)
    long SSL_CTX_sess_accept_renegotiate(SSL_CTX *ctx)
    long SSL_CTX_sess_hits(SSL_CTX *ctx)
    long SSL_CTX_sess_misses(SSL_CTX *ctx)
    long SSL_CTX_sess_timeouts(SSL_CTX *ctx)
    long SSL_CTX_sess_cache_full(SSL_CTX *ctx)

    # SSL lifecycle
    SSL *SSL_new(SSL_CTX *ctx)
    void SSL_free(SSL *ssl)
    int SSL_free_buffers(SSL *ssl)
    long SSL_clear_mode(SSL *ssl, long mode)
    BIO *SSL_get_rbio(const SSL *s)
    BIO *SSL_get_wbio(const SSL *s)
    int SSL_set_fd(SSL *s, int fd)
    void SSL_set_bio(SSL *s, BIO *rbio, BIO *wbio)
    void SSL_set_connect_state(SSL *s)
    void SSL_set_accept_state(SSL *s)
    SSL_CTX *SSL_set_SSL_CTX(SSL *ssl, SSL_CTX *ctx)
    void *SSL_get_app_data(const SSL *ssl)
    int SSL_set_app_data(SSL *ssl, void *arg)
    int SSL_get_verify_mode(const SSL *s)
    X509_VERIFY_PARAM *SSL_get0_param(SSL *ssl)
    long SSL_set_tlsext_host_name(SSL *s, const char *name)
    const char *SSL_get_servername(const SSL *s, const int type)
    int SSL_set_session(SSL *to, SSL_SESSION *session)
    SSL_SESSION *SSL_get1_session(SSL *ssl)
    SSL_SESSION *SSL_get_session(const SSL *ssl)
    int SSL_session_reused(const SSL *s)
    void SSL_get0_alpn_selected(const SSL *ssl, const unsigned char **data, unsigned int *len)
    int SSL_verify_client_post_handshake(SSL *s)
    void SSL_set_post_handshake_auth(SSL *s, int val)

    # the data path
    int SSL_do_handshake(SSL *s)
    int SSL_read_ex(SSL *ssl, void *buf, size_t num, size_t *readbytes)
    int SSL_peek_ex(SSL *ssl, void *buf, size_t num, size_t *readbytes)
    int SSL_write_ex(SSL *s, const void *buf, size_t num, size_t *written)
    int SSL_shutdown(SSL *s)
    int SSL_get_shutdown(const SSL *ssl)
    void SSL_set_shutdown(SSL *ssl, int mode)
    int SSL_pending(const SSL *s)
    BIO *SSL_get_rbio(const SSL *s)
    uint64_t SSL_get_options(const SSL *s)
    int SSL_has_pending(const SSL *s)
    void SSL_set_read_ahead(SSL *s, int yes)
    int SSL_get_error(const SSL *s, int ret_code)
    int SSL_is_init_finished(const SSL *s)
    long SSL_get_verify_result(const SSL *ssl)
    int SSL_key_update(SSL *s, int updatetype)
    int SSL_renegotiate(SSL *s)
    int SSL_renegotiate_pending(const SSL *s)

    # inspection
    X509 *SSL_get1_peer_certificate(const SSL *s)
    X509 *SSL_get0_peer_certificate(const SSL *s)
    stack_st_X509 *SSL_get_peer_cert_chain(const SSL *s)
    stack_st_X509 *SSL_get0_verified_chain(const SSL *s)
    const SSL_CIPHER *SSL_get_current_cipher(const SSL *s)
    stack_st_SSL_CIPHER *SSL_get_ciphers(const SSL *s)
    stack_st_SSL_CIPHER *SSL_get_client_ciphers(const SSL *s)
    int sk_SSL_CIPHER_num(const stack_st_SSL_CIPHER *sk)
    const SSL_CIPHER *sk_SSL_CIPHER_value(const stack_st_SSL_CIPHER *sk, int i)
    const char *SSL_CIPHER_get_name(const SSL_CIPHER *c)
    const char *SSL_CIPHER_get_version(const SSL_CIPHER *c)
    int SSL_CIPHER_get_bits(const SSL_CIPHER *c, int *alg_bits)
    uint32_t SSL_CIPHER_get_id(const SSL_CIPHER *c)
    char *SSL_CIPHER_description(const SSL_CIPHER *c, char *buf, int size)
    int SSL_CIPHER_is_aead(const SSL_CIPHER *c)
    int SSL_CIPHER_get_cipher_nid(const SSL_CIPHER *c)
    int SSL_CIPHER_get_digest_nid(const SSL_CIPHER *c)
    int SSL_CIPHER_get_kx_nid(const SSL_CIPHER *c)
    int SSL_CIPHER_get_auth_nid(const SSL_CIPHER *c)
    const char *SSL_get_version(const SSL *s)
    size_t SSL_get_finished(const SSL *s, void *buf, size_t count)
    size_t SSL_get_peer_finished(const SSL *s, void *buf, size_t count)
    size_t SSL_get_client_random(const SSL *ssl, unsigned char *out, size_t outlen)
    size_t SSL_get_server_random(const SSL *ssl, unsigned char *out, size_t outlen)
    int SSL_export_keying_material(SSL *s, unsigned char *out, size_t olen,
                                   const char *label, size_t llen,
                                   const unsigned char *context, size_t contextlen,
                                   int use_context)

    # sessions
    void SSL_SESSION_free(SSL_SESSION *session)
    const unsigned char *SSL_SESSION_get_id(const SSL_SESSION *s, unsigned int *len)
    long SSL_SESSION_get_time(const SSL_SESSION *s)
    long SSL_SESSION_get_timeout(const SSL_SESSION *s)
    unsigned long SSL_SESSION_get_ticket_lifetime_hint(const SSL_SESSION *s)
    int SSL_SESSION_has_ticket(const SSL_SESSION *s)

    enum:
        SSL_ERROR_NONE
        SSL_ERROR_SSL
        SSL_ERROR_WANT_READ
        SSL_ERROR_WANT_WRITE
        SSL_ERROR_WANT_X509_LOOKUP
        SSL_ERROR_SYSCALL
        SSL_ERROR_ZERO_RETURN
        SSL_ERROR_WANT_CONNECT

        SSL_MODE_ENABLE_PARTIAL_WRITE
        SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
        SSL_MODE_AUTO_RETRY
        SSL_MODE_RELEASE_BUFFERS

        SSL_VERIFY_NONE
        SSL_VERIFY_PEER
        SSL_VERIFY_FAIL_IF_NO_PEER_CERT
        SSL_VERIFY_POST_HANDSHAKE

        SSL_SENT_SHUTDOWN
        SSL_RECEIVED_SHUTDOWN

        SSL_FILETYPE_PEM

        SSL_TLSEXT_ERR_OK
        SSL_TLSEXT_ERR_ALERT_FATAL
        SSL_TLSEXT_ERR_NOACK
        TLSEXT_NAMETYPE_host_name
        OPENSSL_NPN_NEGOTIATED

        SSL_KEY_UPDATE_NOT_REQUESTED
        SSL_KEY_UPDATE_REQUESTED


        SSL3_VERSION
        TLS1_VERSION
        TLS1_1_VERSION
        TLS1_2_VERSION
        TLS1_3_VERSION

        SSL_R_UNEXPECTED_EOF_WHILE_READING
        SSL_R_CERTIFICATE_VERIFY_FAILED
        SSL_AD_INTERNAL_ERROR
        SSL_AD_HANDSHAKE_FAILURE

    # SSL_OP_* are 64-bit in OpenSSL 3
    const uint64_t SSL_OP_ALL
    const uint64_t SSL_OP_ENABLE_KTLS
    const uint64_t SSL_OP_NO_SSLv2
    const uint64_t SSL_OP_NO_SSLv3
    const uint64_t SSL_OP_NO_TLSv1
    const uint64_t SSL_OP_NO_TLSv1_1
    const uint64_t SSL_OP_NO_TLSv1_2
    const uint64_t SSL_OP_NO_TLSv1_3
    const uint64_t SSL_OP_NO_COMPRESSION
    const uint64_t SSL_OP_CIPHER_SERVER_PREFERENCE
    const uint64_t SSL_OP_SINGLE_DH_USE
    const uint64_t SSL_OP_SINGLE_ECDH_USE
    const uint64_t SSL_OP_NO_RENEGOTIATION
    const uint64_t SSL_OP_ALLOW_CLIENT_RENEGOTIATION
    const uint64_t SSL_OP_IGNORE_UNEXPECTED_EOF
    const uint64_t SSL_OP_DONT_INSERT_EMPTY_FRAGMENTS
