/* c_floor.c -- the C floor of tlsfast's benchmark suite.
 *
 * Every workload of bench/ done directly on libssl, with the same TLS
 * settings, message sizes, counts and socket types as the Python side, so
 * each Python figure can be read as a ratio to C on the same machine.
 * Compiled by bench/cfloor.py:
 *
 *     cc -O2 -o bench/c_floor bench/c_floor.c $(pkg-config --cflags --libs openssl)
 *
 * Modes (CERTDIR holds ca.pem, ecdsa.pem and rsa.pem written by bench/common.py):
 *
 *   c_floor serve CERTDIR
 *       measured side; reads one command a line on stdin ("NAME key=value ..."),
 *       prints one JSON object a line on stdout.  Commands: info, recv_into64,
 *       wantread, record_kernel, stream_pair, handshake, handshake_resumed,
 *       membio_stream, membio_handshake, tcp_stream, pingpong, pingpong_plain,
 *       echo, memory.
 *   c_floor peer-source CERTDIR PORT SIZE COUNT   TLS client sending COUNT messages
 *   c_floor peer-echo   CERTDIR PORT              TLS client echoing until close_notify
 *   c_floor peer-echo-plain CERTDIR PORT          the same over plain TCP (no TLS), echoing
 *                                                 until EOF, for the pingpong_plain row
 *   c_floor peer-load   CERTDIR PORT CONNS TOTAL SIZE
 *                                                 K-connection closed-loop request load
 *   c_floor peer-load-plain CERTDIR PORT CONNS TOTAL SIZE
 *                                                 the same over plain TCP (no TLS), for
 *                                                 the plain rows of bench/asyncio_echo.py
 *   c_floor peer-hold   CERTDIR PORT CONNS        opens CONNS connections, holds them
 *                                                 idle until stdin closes
 *   c_floor peer-issue  CERTDIR PORT KEYHEX       connects, then acts as the TLS *server*
 *                                                 with session ticket key KEYHEX (80 bytes,
 *                                                 tlsfast's set_session_ticket_keys format):
 *                                                 issues tickets, writes one byte, waits
 *                                                 for the client to close
 *
 * Peers are the same program for every implementation (the Python ones
 * spawn them as well), so only the measured side changes.  Every workload
 * checks what it measured: byte counts, echoed contents, handshakes
 * completed, the negotiated version, cipher suite and group; a failed check
 * prints {"ok": false, "error": ...} and exits non-zero.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* --- the settings every implementation uses (bench/common.py) ------------ */
#define CIPHERSUITE "TLS_AES_256_GCM_SHA384"
#define GROUP "X25519"
#define HOSTNAME "localhost"
#define RECV_BUF 65536        /* the receive buffer of every stream reader */
#define RECORD 16384
#define READ64 64
#define KERNEL_BATCH 64       /* records queued in the kernel per batch */
#define HOLD_WINDOW 64        /* connects in flight while establishing */

static char certdir[3800];
static int measured_side;      /* 1 in "serve" (the measured process), 0 in peers */
static int plain_peer;         /* peer-load-plain: TCP without TLS */
static char self_exe[4096];
static SSL_CTX *client_ctx, *server_ecdsa, *server_rsa;
static const char *current = "startup";

/* --- errors, time, JSON -------------------------------------------------- */

static void fail(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    unsigned long e;
    size_t len;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    len = strlen(msg);
    while ((e = ERR_get_error()) != 0 && len < sizeof msg - 130) {
        msg[len++] = ';';
        msg[len++] = ' ';
        ERR_error_string_n(e, msg + len, sizeof msg - len);
        len = strlen(msg);
    }
    for (char *p = msg; *p; p++)
        if (*p == '"' || *p == '\\' || *p < ' ')
            *p = '\'';
    printf("{\"workload\": \"%s\", \"ok\": false, \"error\": \"%s\"}\n", current, msg);
    fflush(stdout);
    exit(1);
}

static long long ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

typedef struct { long long wall, cpu; } stamp_t;

static stamp_t stamp(void)
{
    stamp_t s;
    s.cpu = ns(CLOCK_PROCESS_CPUTIME_ID);
    s.wall = ns(CLOCK_MONOTONIC);
    return s;
}

static void result(long long ops, stamp_t t0, stamp_t t1, const char *extra)
{
    printf("{\"workload\": \"%s\", \"ok\": true, \"ops\": %lld, \"wall_ns\": %lld, "
           "\"cpu_ns\": %lld%s%s}\n", current, ops, t1.wall - t0.wall, t1.cpu - t0.cpu,
           extra && *extra ? ", " : "", extra ? extra : "");
    fflush(stdout);
}

/* --- contexts ------------------------------------------------------------ */

static SSL_CTX *make_ctx(int server, const char *chain_name)
{
    char path[4096];
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx)
        fail("SSL_CTX_new");
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* as the stdlib: a write retried after want-write may come from a copy.
     * The measured side also runs with SSL_MODE_RELEASE_BUFFERS, as every
     * Python row does (CPython's _ssl and both tlsfast implementations set
     * it; bench/common.py sets it for pyOpenSSL): the 16 KiB+ record buffers
     * are freed whenever they empty -- less memory per idle connection, an
     * allocation per record.  Peers keep theirs (cheaper than the measured
     * side). */
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                          | (measured_side ? SSL_MODE_RELEASE_BUFFERS : 0));
    if (SSL_CTX_set_ciphersuites(ctx, CIPHERSUITE) != 1)
        fail("SSL_CTX_set_ciphersuites");
    if (SSL_CTX_set1_groups_list(ctx, GROUP) != 1)
        fail("SSL_CTX_set1_groups_list");
    if (server) {
        snprintf(path, sizeof path, "%s/%s", certdir, chain_name);
        if (SSL_CTX_use_certificate_chain_file(ctx, path) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, path, SSL_FILETYPE_PEM) != 1)
            fail("loading %s", path);
    } else {
        snprintf(path, sizeof path, "%s/ca.pem", certdir);
        if (SSL_CTX_load_verify_locations(ctx, path, NULL) != 1)
            fail("loading %s", path);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        X509_VERIFY_PARAM_set_hostflags(SSL_CTX_get0_param(ctx),
                                        X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    }
    return ctx;
}

/* Session ticket keys shared by several processes, in the layout of
 * tlsfast's SSLContext.set_session_ticket_keys: a 16-byte name, a 32-byte
 * HMAC-SHA256 secret, a 32-byte AES-256-CBC key.  Any two processes with
 * the same key (and session id context) resume each other's tickets. */
static unsigned char ticket_key[80];

static int ticket_key_cb(SSL *s, unsigned char *key_name, unsigned char *iv,
                         EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    OSSL_PARAM params[3];
    (void)s;
    if (enc) {
        if (RAND_bytes(iv, 16) != 1)
            return -1;
        memcpy(key_name, ticket_key, 16);
    } else if (memcmp(key_name, ticket_key, 16)) {
        return 0;
    }
    params[0] = OSSL_PARAM_construct_octet_string("key", ticket_key + 16, 32);
    params[1] = OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0);
    params[2] = OSSL_PARAM_construct_end();
    if (EVP_MAC_CTX_set_params(hctx, params) != 1)
        return -1;
    if (enc)
        return EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, ticket_key + 48, iv) == 1 ? 1 : -1;
    return EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, ticket_key + 48, iv) == 1 ? 1 : -1;
}

static void set_ticket_key_hex(const char *hex)
{
    size_t i;
    if (strlen(hex) != 2 * sizeof ticket_key)
        fail("a ticket key is 160 hex digits");
    for (i = 0; i < sizeof ticket_key; i++)
        if (sscanf(hex + 2 * i, "%2hhx", &ticket_key[i]) != 1)
            fail("bad ticket key hex");
}

/* A server context (ECDSA) sealing tickets with ticket_key, with tlsfast's
 * session id context, so tickets travel between it, other processes holding
 * the same key and tlsfast servers holding it. */
static SSL_CTX *make_keyed_server_ctx(void)
{
    SSL_CTX *ctx = make_ctx(1, "ecdsa.pem");
    if (SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"tlsfast", 7) != 1 ||
        SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key_cb) != 1)
        fail("ticket key setup");
    return ctx;
}

static void setup(const char *dir)
{
    ssize_t n;
    snprintf(certdir, sizeof certdir, "%s", dir);
    n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (n <= 0)
        fail("readlink /proc/self/exe");
    self_exe[n] = 0;
    signal(SIGPIPE, SIG_IGN);
    client_ctx = make_ctx(0, NULL);
    server_ecdsa = make_ctx(1, "ecdsa.pem");
    server_rsa = make_ctx(1, "rsa.pem");
}

/* The client side: verify the chain against the CA and the name. */
static SSL *new_client(void)
{
    SSL *ssl = SSL_new(client_ctx);
    if (!ssl || SSL_set_tlsext_host_name(ssl, HOSTNAME) != 1 || SSL_set1_host(ssl, HOSTNAME) != 1)
        fail("SSL_new (client)");
    SSL_set_connect_state(ssl);
    return ssl;
}

static SSL *new_server(SSL_CTX *ctx)
{
    SSL *ssl = SSL_new(ctx);
    if (!ssl)
        fail("SSL_new (server)");
    SSL_set_accept_state(ssl);
    return ssl;
}

static void check_conn(SSL *ssl)
{
    const char *v = SSL_get_version(ssl);
    const char *c = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl));
    int group = SSL_get_negotiated_group(ssl);
    if (strcmp(v, "TLSv1.3") || strcmp(c, CIPHERSUITE) || group != NID_X25519)
        fail("negotiated %s %s group %d", v, c, group);
    if (!SSL_is_server(ssl) && SSL_get_verify_result(ssl) != X509_V_OK)
        fail("peer not verified");
}

static void set_nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* One step of a handshake; returns 1 when done, 0 on want-read/write. */
static int hs_step(SSL *ssl)
{
    int r = SSL_do_handshake(ssl), e;
    if (r == 1)
        return 1;
    e = SSL_get_error(ssl, r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
        fail("handshake error %d", e);
    return 0;
}

/* Both ends of one handshake in this thread, client first, then server. */
static void handshake_both(SSL *c, SSL *s)
{
    int cd = 0, sd = 0, i;
    for (i = 0; i < 1000 && !(cd && sd); i++) {
        if (!cd)
            cd = hs_step(c);
        if (!sd)
            sd = hs_step(s);
    }
    if (!(cd && sd))
        fail("handshake did not finish");
}

/* Read the session tickets (and anything else pending) off an idle end. */
static void drain(SSL *ssl)
{
    char b[1];
    size_t n;
    if (SSL_read_ex(ssl, b, 1, &n))
        fail("unexpected application data");
    if (SSL_get_error(ssl, 0) != SSL_ERROR_WANT_READ)
        fail("drain: not want-read");
}

typedef struct { SSL *c, *s; int cfd, sfd; } pair_t;

/* A connected, handshaken, drained socketpair connection. */
static pair_t make_pair(SSL_CTX *server_ctx)
{
    pair_t p;
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds))
        fail("socketpair");
    p.cfd = fds[0];
    p.sfd = fds[1];
    set_nonblock(p.cfd);
    set_nonblock(p.sfd);
    p.c = new_client();
    p.s = new_server(server_ctx);
    SSL_set_fd(p.c, p.cfd);
    SSL_set_fd(p.s, p.sfd);
    handshake_both(p.c, p.s);
    check_conn(p.c);
    check_conn(p.s);
    drain(p.c);
    drain(p.s);
    return p;
}

static void free_pair(pair_t *p)
{
    SSL_free(p->c);
    SSL_free(p->s);
    close(p->cfd);
    close(p->sfd);
}

static void write_all_nb(SSL *ssl, const char *buf, size_t n)
{
    size_t done;
    while (n) {
        if (SSL_write_ex(ssl, buf, n, &done)) {
            buf += done;
            n -= done;
            continue;
        }
        if (SSL_get_error(ssl, 0) != SSL_ERROR_WANT_WRITE)
            fail("write");
        struct pollfd p = {SSL_get_fd(ssl), POLLOUT, 0};
        poll(&p, 1, 1000);
    }
}

/* --- parameters ---------------------------------------------------------- */

static char params[4096];

static long long param(const char *key, long long dflt)
{
    char pat[128];
    const char *p;
    snprintf(pat, sizeof pat, " %s=", key);
    p = strstr(params, pat);
    return p ? atoll(p + strlen(pat)) : dflt;
}

static const char *param_str(const char *key, const char *dflt, char *out, size_t size)
{
    char pat[128];
    const char *p;
    size_t i = 0;
    snprintf(pat, sizeof pat, " %s=", key);
    p = strstr(params, pat);
    if (!p)
        return dflt;
    p += strlen(pat);
    while (p[i] && p[i] != ' ' && p[i] != '\n' && i < size - 1) {
        out[i] = p[i];
        i++;
    }
    out[i] = 0;
    return out;
}

/* --- in-process workloads (socketpair / memory BIO) ----------------------- */

/* ns per SSL_read_ex(64) of data already decrypted: the first read of each
 * 16 KiB record decrypts it and is not timed. */
static void w_recv_into64(void)
{
    long long records = param("records", 200), r, calls = 0;
    stamp_t acc0 = {0, 0}, acc1 = {0, 0}, t0, t1;
    static char payload[RECORD];
    char buf[READ64];
    size_t n;
    pair_t p = make_pair(server_ecdsa);
    memset(payload, 'x', sizeof payload);
    for (r = 0; r < records; r++) {
        write_all_nb(p.s, payload, RECORD);
        for (int tries = 0;; tries++) {
            if (SSL_read_ex(p.c, buf, READ64, &n))
                break;
            if (SSL_get_error(p.c, 0) != SSL_ERROR_WANT_READ || tries > 10000)
                fail("first read");
        }
        if (n != READ64)
            fail("first read %zu", n);
        int calls_here = RECORD / READ64 - 1;
        t0 = stamp();
        for (int i = 0; i < calls_here; i++) {
            SSL_read_ex(p.c, buf, READ64, &n);
        }
        t1 = stamp();
        /* checked after the clock stops, as the Python side does */
        if (n != READ64 || SSL_pending(p.c) != 0)
            fail("short read");
        acc1.wall += t1.wall - t0.wall;
        acc1.cpu += t1.cpu - t0.cpu;
        calls += calls_here;
    }
    free_pair(&p);
    result(calls, acc0, acc1, "");
}

/* ns per SSL_read_ex on an empty non-blocking socket (want-read). */
static void w_wantread(void)
{
    long long count = param("count", 50000), i, wants = 0;
    char buf[READ64];
    size_t n;
    pair_t p = make_pair(server_ecdsa);
    stamp_t t0 = stamp(), t1;
    for (i = 0; i < count; i++) {
        if (!SSL_read_ex(p.c, buf, READ64, &n) && SSL_get_error(p.c, 0) == SSL_ERROR_WANT_READ)
            wants++;
    }
    t1 = stamp();
    if (wants != count)
        fail("want-read %lld of %lld", wants, count);
    free_pair(&p);
    result(count, t0, t1, "");
}

/* ns per SSL_read_ex(SIZE-byte buffer) of one SIZE-byte record sitting in
 * the kernel's socket buffer (header and body: two read(2) calls).  The
 * buffer holds one message, so each read takes one record although a batch
 * of them is queued (a reader that fills its buffer from every record
 * available would otherwise take the whole batch in the first call). */
static void w_record_kernel(void)
{
    long long count = param("count", 20000), size = param("size", 64), done = 0, got = 0;
    static char buf[RECV_BUF];
    char msg[RECORD];
    size_t n;
    stamp_t acc0 = {0, 0}, acc1 = {0, 0}, t0, t1;
    pair_t p = make_pair(server_ecdsa);
    memset(msg, 'k', sizeof msg);
    while (done < count) {
        int batch = count - done < KERNEL_BATCH ? (int)(count - done) : KERNEL_BATCH;
        for (int i = 0; i < batch; i++)
            write_all_nb(p.s, msg, size);
        t0 = stamp();
        for (int i = 0; i < batch; i++) {
            if (SSL_read_ex(p.c, buf, size, &n))
                got += n;
        }
        t1 = stamp();
        acc1.wall += t1.wall - t0.wall;
        acc1.cpu += t1.cpu - t0.cpu;
        done += batch;
    }
    if (got != count * size)
        fail("received %lld of %lld bytes", got, count * size);
    free_pair(&p);
    result(count, acc0, acc1, "");
}

/* One-way stream over a socketpair, both ends here: the client writes COUNT
 * messages of SIZE bytes (one SSL_write each) until want-write, then the
 * server reads (64 KiB buffer) until want-read, and again.  read_ahead=1:
 * the reading end with SSL_set_read_ahead (one read(2) brings many records). */
static void w_stream_pair(void)
{
    long long size = param("size", 64), count = param("count", 50000);
    long long sent = 0, received = 0, total = size * count, reads = 0;
    char *msg = malloc(size);
    static char buf[RECV_BUF];
    size_t n, off = 0;
    pair_t p = make_pair(server_ecdsa);
    if (param("read_ahead", 0))
        SSL_set_read_ahead(p.s, 1);
    memset(msg, 's', size);
    stamp_t t0 = stamp(), t1;
    while (received < total) {
        while (sent < count) {
            if (SSL_write_ex(p.c, msg + off, size - off, &n)) {
                off += n;
                if (off == (size_t)size) {
                    off = 0;
                    sent++;
                }
                continue;
            }
            if (SSL_get_error(p.c, 0) != SSL_ERROR_WANT_WRITE)
                fail("stream write");
            break;
        }
        for (;;) {
            if (SSL_read_ex(p.s, buf, RECV_BUF, &n)) {
                received += n;
                reads++;
                continue;
            }
            if (SSL_get_error(p.s, 0) != SSL_ERROR_WANT_READ)
                fail("stream read");
            break;
        }
    }
    t1 = stamp();
    if (received != total || buf[0] != 's')
        fail("received %lld of %lld", received, total);
    free_pair(&p);
    free(msg);
    char extra[128];
    snprintf(extra, sizeof extra, "\"bytes\": %lld, \"reads\": %lld", received, reads);
    result(count, t0, t1, extra);
}

/* One handshake over a fresh socketpair, both ends here, client verifying
 * and offering ``sess`` when not NULL; ``last``: check what was negotiated
 * (and, with ``sess``, that both ends resumed it). */
static void socketpair_handshake(SSL_CTX *sctx, SSL_SESSION *sess, int last)
{
    int fds[2];
    SSL *c, *s;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds))
        fail("socketpair");
    set_nonblock(fds[0]);
    set_nonblock(fds[1]);
    c = new_client();
    if (sess && SSL_set_session(c, sess) != 1)
        fail("SSL_set_session");
    s = new_server(sctx);
    SSL_set_fd(c, fds[0]);
    SSL_set_fd(s, fds[1]);
    handshake_both(c, s);
    if (last) {
        check_conn(c);
        check_conn(s);
        if (sess && !(SSL_session_reused(c) && SSL_session_reused(s)))
            fail("the session was not resumed");
    }
    /* freeing a client that sent no close_notify would mark the shared
     * session not resumable; tlsfast and CPython 3.13+ mark it shut down
     * first, as here */
    SSL_set_shutdown(c, SSL_SENT_SHUTDOWN);
    SSL_free(c);
    SSL_free(s);
    close(fds[0]);
    close(fds[1]);
}

/* Full handshakes over fresh socketpairs, both ends here, client verifying. */
static void w_handshake(void)
{
    char cert[32];
    long long count = param("count", 200), i;
    SSL_CTX *sctx = strcmp(param_str("cert", "ecdsa", cert, sizeof cert), "rsa") ? server_ecdsa : server_rsa;
    stamp_t t0 = stamp(), t1;
    for (i = 0; i < count; i++)
        socketpair_handshake(sctx, NULL, i == count - 1);
    t1 = stamp();
    result(count, t0, t1, "");
}

typedef struct { SSL *c, *s; BIO *c_in, *c_out, *s_in, *s_out; } bpair_t;

static BIO *mem_bio(void)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        fail("BIO_new");
    BIO_set_mem_eof_return(b, -1);
    return b;
}

static bpair_t make_bpair(void)
{
    bpair_t p;
    p.c = new_client();
    p.s = new_server(server_ecdsa);
    p.c_in = mem_bio();
    p.c_out = mem_bio();
    p.s_in = mem_bio();
    p.s_out = mem_bio();
    SSL_set_bio(p.c, p.c_in, p.c_out);
    SSL_set_bio(p.s, p.s_in, p.s_out);
    return p;
}

static char move_buf[RECV_BUF];

/* Move what one end wrote into the other end's incoming BIO
 * (MemoryBIO.read(65536) then MemoryBIO.write() on the Python side). */
static inline void move(BIO *from, BIO *to)
{
    int n = BIO_read(from, move_buf, sizeof move_buf);
    if (n > 0)
        BIO_write(to, move_buf, n);
}

static void bpair_handshake(bpair_t *p)
{
    int cd = 0, sd = 0, i;
    for (i = 0; i < 1000 && !(cd && sd); i++) {
        if (!cd)
            cd = hs_step(p->c);
        move(p->c_out, p->s_in);
        if (!sd)
            sd = hs_step(p->s);
        move(p->s_out, p->c_in);
    }
    if (!(cd && sd))
        fail("memory-BIO handshake did not finish");
}

/* Memory-BIO stream: per message, client SSL_write, move, server SSL_read. */
static void w_membio_stream(void)
{
    long long size = param("size", 64), count = param("count", 50000), i, got = 0;
    char msg[RECORD], buf[RECORD];
    size_t n;
    bpair_t p = make_bpair();
    bpair_handshake(&p);
    check_conn(p.c);
    check_conn(p.s);
    drain(p.c);
    move(p.c_out, p.s_in);
    drain(p.s);
    memset(msg, 'm', sizeof msg);
    stamp_t t0 = stamp(), t1;
    for (i = 0; i < count; i++) {
        SSL_write_ex(p.c, msg, size, &n);
        move(p.c_out, p.s_in);
        if (SSL_read_ex(p.s, buf, size, &n))
            got += n;
    }
    t1 = stamp();
    if (got != size * count)
        fail("received %lld of %lld", got, size * count);
    SSL_free(p.c);
    SSL_free(p.s);
    result(count, t0, t1, "");
}

static void w_membio_handshake(void)
{
    long long count = param("count", 200), i;
    stamp_t t0 = stamp(), t1;
    for (i = 0; i < count; i++) {
        bpair_t p = make_bpair();
        bpair_handshake(&p);
        if (i == count - 1) {
            check_conn(p.c);
            check_conn(p.s);
        }
        SSL_free(p.c);
        SSL_free(p.s);
    }
    t1 = stamp();
    result(count, t0, t1, "");
}

/* --- TCP loopback: the measured side listens, a peer process connects ----- */

static int listen_tcp(int *port, int backlog)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, backlog))
        fail("listen");
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

typedef struct { pid_t pid; int out; int in; } peer_t;

/* Start "c_floor MODE certdir port args..." with stdout piped back (and its
 * stdin piped from here when want_stdin). */
static peer_t spawn_peer(const char *mode, int port, const char *a1, const char *a2,
                         const char *a3, int want_stdin)
{
    peer_t p;
    int out[2], in[2];
    char portbuf[16];
    posix_spawn_file_actions_t fa;
    char *argv[] = {self_exe, (char *)mode, certdir, portbuf, (char *)a1, (char *)a2, (char *)a3, NULL};
    snprintf(portbuf, sizeof portbuf, "%d", port);
    if (pipe2(out, O_CLOEXEC) || pipe2(in, O_CLOEXEC))
        fail("pipe");
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    if (posix_spawn(&p.pid, self_exe, &fa, NULL, argv, environ))
        fail("posix_spawn");
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    close(in[0]);
    p.out = out[0];
    p.in = in[1];
    if (!want_stdin) {
        close(p.in);
        p.in = -1;
    }
    return p;
}

/* Wait for the peer; its one JSON line (minus braces) goes into json. */
static void wait_peer(peer_t *p, char *json, size_t size)
{
    size_t len = 0;
    ssize_t r;
    int status;
    if (p->in >= 0)
        close(p->in);
    while (len < size - 1 && (r = read(p->out, json + len, size - 1 - len)) > 0)
        len += r;
    json[len] = 0;
    close(p->out);
    waitpid(p->pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail("peer failed: %s", json);
    while (len && (json[len - 1] == '\n' || json[len - 1] == ' '))
        json[--len] = 0;
}

/* Accept one connection and handshake it (server side), non-blocking. */
static SSL *accept_one(int lfd, int *fd_out)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK), one = 1;
    SSL *ssl;
    if (fd < 0)
        fail("accept");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ssl = new_server(server_ecdsa);
    SSL_set_fd(ssl, fd);
    for (int i = 0; !hs_step(ssl); i++) {
        struct pollfd pf = {fd, SSL_want_write(ssl) ? POLLOUT : POLLIN, 0};
        if (i > 100000 || poll(&pf, 1, 10000) <= 0)
            fail("server handshake timed out");
    }
    check_conn(ssl);
    *fd_out = fd;
    return ssl;
}

/* Read exactly n bytes (non-blocking fd, epoll on want-read). */
static void read_exact(SSL *ssl, int ep, char *buf, size_t n)
{
    size_t got = 0, r;
    struct epoll_event ev;
    while (got < n) {
        if (SSL_read_ex(ssl, buf + got, n - got, &r)) {
            got += r;
            continue;
        }
        int e = SSL_get_error(ssl, 0);
        if (e != SSL_ERROR_WANT_READ)
            fail("read_exact: error %d", e);
        if (epoll_wait(ep, &ev, 1, 10000) != 1)
            fail("read_exact: timed out");
    }
}

/* Send close_notify and read until the peer's arrives (or EOF). */
static void finish(SSL *ssl, int fd, int ep)
{
    char buf[256];
    size_t n;
    struct epoll_event ev;
    SSL_shutdown(ssl);
    for (int i = 0; i < 1000; i++) {
        if (SSL_read_ex(ssl, buf, sizeof buf, &n))
            continue;
        if (SSL_get_error(ssl, 0) != SSL_ERROR_WANT_READ)
            break;
        epoll_wait(ep, &ev, 1, 1000);
    }
    SSL_free(ssl);
    close(fd);
}

static int epoll_for(int fd)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    return ep;
}

/* One-way stream over TCP loopback: the measured side receives COUNT
 * messages of SIZE bytes from peer-source, reading into a 64 KiB buffer.
 * read_ahead=1: with SSL_set_read_ahead (one read(2) brings many records). */
static void w_tcp_stream(void)
{
    long long size = param("size", 64), count = param("count", 50000);
    long long total = size * count, received = 0, reads = 0;
    static char buf[RECV_BUF];
    char a1[32], a2[32], peer_json[1024], extra[1400];
    int port, fd, lfd = listen_tcp(&port, 16);
    size_t n;
    struct epoll_event ev;
    snprintf(a1, sizeof a1, "%lld", size);
    snprintf(a2, sizeof a2, "%lld", count);
    peer_t peer = spawn_peer("peer-source", port, a1, a2, NULL, 0);
    SSL *ssl = accept_one(lfd, &fd);
    int ep = epoll_for(fd);
    uint64_t ack;
    if (param("read_ahead", 0))
        SSL_set_read_ahead(ssl, 1);
    write_all_nb(ssl, "g", 1);
    stamp_t t0 = stamp(), t1;
    while (received < total) {
        if (SSL_read_ex(ssl, buf, RECV_BUF, &n)) {
            received += n;
            reads++;
            continue;
        }
        if (SSL_get_error(ssl, 0) != SSL_ERROR_WANT_READ)
            fail("tcp_stream read");
        if (epoll_wait(ep, &ev, 1, 10000) != 1)
            fail("tcp_stream timed out at %lld bytes", received);
    }
    t1 = stamp();
    if (received != total || buf[0] != 's')
        fail("received %lld of %lld", received, total);
    ack = (uint64_t)received;
    write_all_nb(ssl, (char *)&ack, 8);
    finish(ssl, fd, ep);
    close(ep);
    close(lfd);
    wait_peer(&peer, peer_json, sizeof peer_json);
    snprintf(extra, sizeof extra, "\"bytes\": %lld, \"reads\": %lld, \"peer\": %s", received, reads, peer_json);
    result(count, t0, t1, extra);
}

/* Ping-pong over TCP loopback: SIZE bytes out, wait for the echo from
 * peer-echo, compare, COUNT times. */
static void w_pingpong(void)
{
    long long size = param("size", 64), count = param("count", 5000), i;
    char msg[RECORD], buf[RECORD], peer_json[1024], extra[1400];
    int port, fd, lfd = listen_tcp(&port, 16);
    peer_t peer = spawn_peer("peer-echo", port, NULL, NULL, NULL, 0);
    SSL *ssl = accept_one(lfd, &fd);
    int ep = epoll_for(fd);
    memset(msg, 'p', sizeof msg);
    stamp_t t0 = stamp(), t1;
    for (i = 0; i < count; i++) {
        msg[0] = (char)i;
        write_all_nb(ssl, msg, size);
        read_exact(ssl, ep, buf, size);
        if (memcmp(buf, msg, size))
            fail("echo differs at %lld", i);
    }
    t1 = stamp();
    finish(ssl, fd, ep);
    close(ep);
    close(lfd);
    wait_peer(&peer, peer_json, sizeof peer_json);
    snprintf(extra, sizeof extra, "\"peer\": %s", peer_json);
    result(count, t0, t1, extra);
}

/* The same loop over plain TCP (no TLS), against peer-echo-plain: write(2)
 * SIZE bytes, read(2) until SIZE bytes came back, epoll_wait on EAGAIN.  The
 * no-TLS reference of w_pingpong: what the round trip costs a C program
 * before any TLS work. */
static void w_pingpong_plain(void)
{
    long long size = param("size", 64), count = param("count", 5000), i;
    char msg[RECORD], buf[RECORD], peer_json[1024], extra[1400];
    int port, one = 1, lfd = listen_tcp(&port, 16);
    struct epoll_event ev;
    peer_t peer = spawn_peer("peer-echo-plain", port, NULL, NULL, NULL, 0);
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
    if (fd < 0)
        fail("accept");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int ep = epoll_for(fd);
    memset(msg, 'p', sizeof msg);
    stamp_t t0 = stamp(), t1;
    for (i = 0; i < count; i++) {
        size_t got = 0;
        msg[0] = (char)i;
        if (write(fd, msg, size) != size)   /* 64 bytes never fill a socket buffer here */
            fail("write: %s", strerror(errno));
        while (got < (size_t)size) {
            ssize_t r = read(fd, buf + got, size - got);
            if (r > 0) {
                got += r;
                continue;
            }
            if (r == 0 || errno != EAGAIN)
                fail("read: %s", r ? strerror(errno) : "EOF");
            if (epoll_wait(ep, &ev, 1, 10000) != 1)
                fail("no echo within 10 s");
        }
        if (memcmp(buf, msg, size))
            fail("echo differs at %lld", i);
    }
    t1 = stamp();
    close(fd);      /* EOF ends the peer */
    close(ep);
    close(lfd);
    wait_peer(&peer, peer_json, sizeof peer_json);
    snprintf(extra, sizeof extra, "\"peer\": %s", peer_json);
    result(count, t0, t1, extra);
}

/* --- the selectors-style echo server (and the memory test's server) ------- */

typedef struct conn {
    int fd;
    SSL *ssl;
    int ready;
    char *pend;
    size_t pend_len;
} conn_t;

typedef struct {
    int ep, lfd;
    long long conns, handshaken, closed, echoed_bytes;
    stamp_t all_ready;
    int hold;             /* memory test: stop after handshakes, no echo */
    conn_t **list;
} server_t;

static void srv_close(server_t *sv, conn_t *c)
{
    epoll_ctl(sv->ep, EPOLL_CTL_DEL, c->fd, NULL);
    SSL_free(c->ssl);
    close(c->fd);
    free(c->pend);
    free(c);
    sv->closed++;
}

static void srv_want(server_t *sv, conn_t *c, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    epoll_ctl(sv->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static char srv_buf[RECV_BUF];

static void srv_event(server_t *sv, conn_t *c)
{
    size_t n, w;
    int e;
    if (!c->ready) {
        int r = SSL_do_handshake(c->ssl);
        if (r != 1) {
            e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                srv_want(sv, c, e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
                return;
            }
            fail("server handshake error %d", e);
        }
        c->ready = 1;
        srv_want(sv, c, EPOLLIN);
        if (sv->list)
            sv->list[sv->handshaken] = c;
        if (++sv->handshaken == sv->conns)
            sv->all_ready = stamp();
        if (sv->hold)
            return;
    }
    if (c->pend_len) {
        if (!SSL_write_ex(c->ssl, c->pend, c->pend_len, &w)) {
            e = SSL_get_error(c->ssl, 0);
            if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
                return;
            srv_close(sv, c);
            return;
        }
        sv->echoed_bytes += w;
        c->pend_len = 0;
        srv_want(sv, c, EPOLLIN);
    }
    for (;;) {
        if (SSL_read_ex(c->ssl, srv_buf, RECV_BUF, &n)) {
            if (SSL_write_ex(c->ssl, srv_buf, n, &w)) {
                sv->echoed_bytes += w;
                continue;
            }
            e = SSL_get_error(c->ssl, 0);
            if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ) {
                srv_close(sv, c);
                return;
            }
            c->pend = realloc(c->pend, n);
            memcpy(c->pend, srv_buf, n);
            c->pend_len = n;
            srv_want(sv, c, EPOLLOUT);
            return;
        }
        e = SSL_get_error(c->ssl, 0);
        if (e == SSL_ERROR_WANT_READ)
            return;
        /* close_notify, EOF or error: the client is gone */
        srv_close(sv, c);
        return;
    }
}

static void srv_accept(server_t *sv)
{
    for (;;) {
        int fd = accept4(sv->lfd, NULL, NULL, SOCK_NONBLOCK), one = 1;
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            fail("accept: %s", strerror(errno));
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn_t *c = calloc(1, sizeof *c);
        c->fd = fd;
        c->ssl = new_server(server_ecdsa);
        SSL_set_fd(c->ssl, fd);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(sv->ep, EPOLL_CTL_ADD, fd, &ev);
    }
}

/* Run the server until `until` says stop. */
static void srv_run(server_t *sv, int (*until)(server_t *))
{
    struct epoll_event evs[256];
    while (!until(sv)) {
        int n = epoll_wait(sv->ep, evs, 256, 20000);
        if (n <= 0)
            fail("server: no event for 20 s (%lld handshaken, %lld closed)", sv->handshaken, sv->closed);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL)
                srv_accept(sv);
            else
                srv_event(sv, evs[i].data.ptr);
        }
    }
}

static int all_closed(server_t *sv) { return sv->closed == sv->conns; }
static int all_handshaken(server_t *sv) { return sv->handshaken == sv->conns; }

static void srv_init(server_t *sv, long long conns, int port_backlog, int *port)
{
    memset(sv, 0, sizeof *sv);
    sv->conns = conns;
    sv->lfd = listen_tcp(port, port_backlog);
    set_nonblock(sv->lfd);
    sv->ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(sv->ep, EPOLL_CTL_ADD, sv->lfd, &ev);
}

/* The echo server with CONNS connections of peer-load sending TOTAL
 * requests of SIZE bytes in all (closed loop, one in flight each). */
static void w_echo(void)
{
    long long conns = param("conns", 100), total = param("total", 20000), size = param("size", 64);
    char a1[32], a2[32], a3[32], peer_json[1024], extra[1500];
    int port;
    server_t sv;
    srv_init(&sv, conns, 4096, &port);
    snprintf(a1, sizeof a1, "%lld", conns);
    snprintf(a2, sizeof a2, "%lld", total);
    snprintf(a3, sizeof a3, "%lld", size);
    peer_t peer = spawn_peer("peer-load", port, a1, a2, a3, 0);
    stamp_t t1;
    srv_run(&sv, all_closed);
    t1 = stamp();
    if (sv.handshaken != conns)
        fail("%lld of %lld connections finished their handshake", sv.handshaken, conns);
    close(sv.ep);
    close(sv.lfd);
    wait_peer(&peer, peer_json, sizeof peer_json);
    snprintf(extra, sizeof extra, "\"echoed_bytes\": %lld, \"peer\": %s", sv.echoed_bytes, peer_json);
    result(sv.echoed_bytes / size, sv.all_ready, t1, extra);
}

static long long rss_bytes(void)
{
    long long size = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%lld %lld", &size, &res) != 2)
        fail("statm");
    fclose(f);
    return res * sysconf(_SC_PAGESIZE);
}

static void raise_nofile(long long want)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rlim_t target = (rlim_t)want;
    if (target > rl.rlim_max)
        target = rl.rlim_max;
    if (rl.rlim_cur < target) {
        rl.rlim_cur = target;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* RSS per idle server-side connection: CONNS connections from peer-hold,
 * handshaken, then held with nothing to do. */
static void w_memory(void)
{
    long long conns = param("conns", 1000);
    char a1[32], peer_json[1024], extra[1600];
    int port;
    server_t sv;
    raise_nofile(conns + 64);
    srv_init(&sv, conns, 4096, &port);
    sv.hold = 1;
    sv.list = malloc(sizeof(conn_t *) * conns);
    long long before = rss_bytes();
    snprintf(a1, sizeof a1, "%lld", conns);
    peer_t peer = spawn_peer("peer-hold", port, a1, NULL, NULL, 1);
    stamp_t t0 = stamp(), t1;
    srv_run(&sv, all_handshaken);
    t1 = stamp();
    long long after = rss_bytes();
    wait_peer(&peer, peer_json, sizeof peer_json);
    for (long long i = 0; i < conns; i++) {
        SSL_free(sv.list[i]->ssl);
        close(sv.list[i]->fd);
        free(sv.list[i]);
    }
    snprintf(extra, sizeof extra, "\"conns\": %lld, \"rss_before\": %lld, \"rss_after\": %lld, "
             "\"bytes_per_conn\": %.1f, \"peer\": %s", conns, before, after,
             (double)(after - before) / conns, peer_json);
    result(conns, t0, t1, extra);
}

/* --- peers (TLS clients) --------------------------------------------------- */

static int connect_tcp(int port, int nonblock)
{
    struct sockaddr_in a;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) && errno != EINPROGRESS)
        fail("connect: %s", strerror(errno));
    return fd;
}

static SSL *blocking_client(int port, int *fd_out)
{
    int fd = connect_tcp(port, 0);
    SSL *ssl = new_client();
    SSL_set_fd(ssl, fd);
    SSL_set_read_ahead(ssl, 1);   /* peers only: fewer read(2)s, invisible to the measured side */
    if (SSL_connect(ssl) != 1)
        fail("peer SSL_connect");
    check_conn(ssl);
    *fd_out = fd;
    return ssl;
}

/* Write out what the memory BIO collected (blocking socket). */
static void flush_mem(BIO *mem, int fd)
{
    char *data;
    long len = BIO_get_mem_data(mem, &data);
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            fail("peer-source: write: %s", strerror(errno));
        }
        data += w;
        len -= w;
    }
    (void)BIO_reset(mem);
}

/* COUNT messages of SIZE bytes, one SSL_write (one record) each.  The
 * records are collected in a memory BIO and written 32 KiB at a time, so the
 * sender stays cheaper than any receiver: the receiver sees the same records
 * as with one write(2) each, and is the side being measured. */
static void peer_source(int port, long long size, long long count)
{
    int fd;
    char *msg = malloc(size), go;
    uint64_t ack = 0;
    size_t n;
    SSL *ssl = blocking_client(port, &fd);
    BIO *mem;
    memset(msg, 's', size);
    if (!SSL_read_ex(ssl, &go, 1, &n) || go != 'g')
        fail("peer-source: no go");
    mem = BIO_new(BIO_s_mem());
    SSL_set0_wbio(ssl, mem);
    for (long long i = 0; i < count; i++) {
        if (!SSL_write_ex(ssl, msg, size, &n) || n != (size_t)size)
            fail("peer-source: write");
        if (BIO_ctrl_pending(mem) >= 32768)
            flush_mem(mem, fd);
    }
    flush_mem(mem, fd);
    for (size_t got = 0; got < 8; got += n)
        if (!SSL_read_ex(ssl, (char *)&ack + got, 8 - got, &n))
            fail("peer-source: no ack");
    if (ack != (uint64_t)(size * count))
        fail("peer-source: receiver acknowledged %llu of %lld bytes", (unsigned long long)ack, size * count);
    SSL_shutdown(ssl);
    flush_mem(mem, fd);
    printf("{\"sent\": %lld, \"acknowledged\": %llu}\n", size * count, (unsigned long long)ack);
    SSL_free(ssl);
    close(fd);
}

static void peer_echo(int port)
{
    int fd;
    static char buf[RECV_BUF];
    size_t n, w;
    long long echoed = 0;
    SSL *ssl = blocking_client(port, &fd);
    for (;;) {
        if (!SSL_read_ex(ssl, buf, sizeof buf, &n))
            break;
        if (!SSL_write_ex(ssl, buf, n, &w) || w != n)
            fail("peer-echo: write");
        echoed += n;
    }
    if (SSL_get_error(ssl, 0) != SSL_ERROR_ZERO_RETURN)
        fail("peer-echo: no close_notify");
    SSL_shutdown(ssl);
    printf("{\"echoed\": %lld}\n", echoed);
    SSL_free(ssl);
    close(fd);
}

/* peer-echo over plain TCP: echo every byte until EOF. */
static void peer_echo_plain(int port)
{
    static char buf[RECV_BUF];
    long long echoed = 0;
    int fd = connect_tcp(port, 0);
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf), w;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail("peer-echo-plain: read: %s", strerror(errno));
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n; off += w) {
            w = write(fd, buf + off, n - off);
            if (w < 0 && errno == EINTR)
                w = 0;
            else if (w < 0)
                fail("peer-echo-plain: write: %s", strerror(errno));
        }
        echoed += n;
    }
    printf("{\"echoed\": %lld}\n", echoed);
    close(fd);
}

enum { C_CONNECTING, C_HANDSHAKE, C_READY, C_DONE };

typedef struct {
    int fd, state;
    SSL *ssl;
    long long quota, done;
    size_t got;
    char msg[RECORD];
} pconn_t;

/* Open CONNS connections (HOLD_WINDOW at a time) and handshake them. */
static pconn_t *establish(int port, long long conns, int ep)
{
    pconn_t *pc = calloc(conns, sizeof *pc);
    long long started = 0, ready = 0;
    struct epoll_event evs[256];
    while (ready < conns) {
        while (started < conns && started - ready < HOLD_WINDOW) {
            pconn_t *c = &pc[started++];
            c->fd = connect_tcp(port, 1);
            c->state = C_CONNECTING;
            struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
            epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
        }
        int n = epoll_wait(ep, evs, 256, 20000);
        if (n <= 0)
            fail("establish: stuck at %lld of %lld", ready, conns);
        for (int i = 0; i < n; i++) {
            pconn_t *c = evs[i].data.ptr;
            if (c->state == C_CONNECTING) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err)
                    fail("connect: %s", strerror(err));
                if (plain_peer) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                    c->state = C_READY;
                    ready++;
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                    continue;
                }
                c->ssl = new_client();
                SSL_set_fd(c->ssl, c->fd);
                SSL_set_read_ahead(c->ssl, 1);
                c->state = C_HANDSHAKE;
            }
            if (c->state == C_HANDSHAKE) {
                struct epoll_event ev = {.data.ptr = c};
                if (hs_step(c->ssl)) {
                    check_conn(c->ssl);
                    c->state = C_READY;
                    ready++;
                    ev.events = EPOLLIN;
                } else {
                    ev.events = SSL_want_write(c->ssl) ? EPOLLOUT : EPOLLIN;
                }
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            }
        }
    }
    return pc;
}

static void load_send(pconn_t *c, long long size, long long id)
{
    size_t n;
    memcpy(c->msg, &id, sizeof id);
    memcpy(c->msg + 8, &c->done, sizeof c->done);
    if (plain_peer) {
        if (write(c->fd, c->msg, size) != size)
            fail("peer-load: write: %s", strerror(errno));
        c->got = 0;
        return;
    }
    if (!SSL_write_ex(c->ssl, c->msg, size, &n) || n != (size_t)size)
        fail("peer-load: write");   /* 64 bytes never fill a socket buffer here */
    c->got = 0;
}

static void peer_load(int port, long long conns, long long total, long long size)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event evs[256];
    static char buf[RECV_BUF];
    long long quota = (total + conns - 1) / conns, finished = 0, requests = 0;
    size_t n;
    raise_nofile(conns + 64);
    pconn_t *pc = establish(port, conns, ep);
    stamp_t t0 = stamp(), t1;
    for (long long i = 0; i < conns; i++) {
        memset(pc[i].msg, 'e', sizeof pc[i].msg);
        pc[i].quota = quota;
        load_send(&pc[i], size, i);
    }
    while (finished < conns) {
        int k = epoll_wait(ep, evs, 256, 20000);
        if (k <= 0)
            fail("peer-load: stuck at %lld requests", requests);
        for (int i = 0; i < k; i++) {
            pconn_t *c = evs[i].data.ptr;
            if (c->state != C_READY)
                continue;
            for (;;) {
                if (plain_peer) {
                    ssize_t r = read(c->fd, buf + c->got, RECV_BUF - c->got);
                    if (r == 0 || (r < 0 && errno != EAGAIN))
                        fail("peer-load: read: %s", r ? strerror(errno) : "EOF");
                    if (r < 0)
                        break;
                    n = r;
                } else if (!SSL_read_ex(c->ssl, buf + c->got, RECV_BUF - c->got, &n)) {
                    if (SSL_get_error(c->ssl, 0) != SSL_ERROR_WANT_READ)
                        fail("peer-load: read");
                    break;
                }
                c->got += n;
                if (c->got < (size_t)size)
                    continue;
                if (c->got != (size_t)size || memcmp(buf, c->msg, size))
                    fail("peer-load: bad echo");
                requests++;
                if (++c->done == c->quota) {
                    c->state = C_DONE;
                    finished++;
                    break;
                }
                load_send(c, size, c - pc);
            }
        }
    }
    t1 = stamp();
    for (long long i = 0; i < conns; i++) {
        if (!plain_peer) {
            SSL_shutdown(pc[i].ssl);
            SSL_free(pc[i].ssl);
        }
        close(pc[i].fd);
    }
    printf("{\"conns\": %lld, \"requests\": %lld, \"elapsed_ns\": %lld, \"cpu_ns\": %lld}\n",
           conns, requests, t1.wall - t0.wall, t1.cpu - t0.cpu);
}

static void peer_hold(int port, long long conns)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    char b[64];
    struct linger lg = {1, 0};
    raise_nofile(conns + 64);
    pconn_t *pc = establish(port, conns, ep);
    while (read(0, b, sizeof b) > 0)   /* held until the measured side closes our stdin */
        ;
    for (long long i = 0; i < conns; i++) {
        setsockopt(pc[i].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);   /* RST: no TIME_WAIT */
        SSL_free(pc[i].ssl);
        close(pc[i].fd);
    }
    printf("{\"established\": %lld}\n", conns);
}

/* --- resumed handshakes ----------------------------------------------------- */

/* peer-issue: connect to PORT, be the TLS server there with the shared
 * ticket key (tickets go out with the handshake), write one byte so the
 * client knows it has them, wait for the client to close. */
static void peer_issue(int port, const char *keyhex)
{
    char b[1];
    size_t n;
    int fd = connect_tcp(port, 0);
    SSL_CTX *ctx;
    SSL *ssl;
    set_ticket_key_hex(keyhex);
    ctx = make_keyed_server_ctx();
    ssl = new_server(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1 || !SSL_write_ex(ssl, "t", 1, &n))
        fail("peer-issue handshake");
    SSL_read_ex(ssl, b, 1, &n);           /* until the client closes */
    printf("{\"issued\": %d}\n", SSL_session_reused(ssl) ? 0 : 1);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
}

/* A session from a full handshake with an issuer in another process
 * (``c_floor peer-issue``), over TCP loopback: the measured side accepts
 * the TCP connection and is the TLS client on it. */
static SSL_SESSION *session_from_peer(const char *keyhex)
{
    char b[1], json[256];
    size_t n;
    int port, lfd = listen_tcp(&port, 4), fd;
    peer_t peer = spawn_peer("peer-issue", port, keyhex, NULL, NULL, 0);
    SSL *c;
    SSL_SESSION *sess;
    fd = accept(lfd, NULL, NULL);
    if (fd < 0)
        fail("accept");
    c = new_client();
    SSL_set_fd(c, fd);
    if (SSL_connect(c) != 1 || !SSL_read_ex(c, b, 1, &n))
        fail("handshake with peer-issue");
    sess = SSL_get1_session(c);
    SSL_set_shutdown(c, SSL_SENT_SHUTDOWN);
    SSL_free(c);
    close(fd);
    close(lfd);
    wait_peer(&peer, json, sizeof json);
    return sess;
}

/* TLS 1.3 resumed handshakes (ticket, psk_dhe_ke) over fresh socketpairs,
 * both ends here, the client offering one session every time.  keys=HEX:
 * the session comes from another process holding the same ticket key, and
 * this process's server opens it with that key; else from a first full
 * handshake with this process's server (OpenSSL's own ticket key). */
static void w_handshake_resumed(void)
{
    char keyhex[200];
    long long count = param("count", 200), i;
    SSL_CTX *sctx = server_ecdsa;
    SSL_SESSION *sess;
    int cross = param_str("keys", "", keyhex, sizeof keyhex)[0] != 0;
    if (cross) {
        set_ticket_key_hex(keyhex);
        sctx = make_keyed_server_ctx();
        sess = session_from_peer(keyhex);
    } else {
        pair_t p = make_pair(sctx);       /* drains the tickets */
        sess = SSL_get1_session(p.c);
        SSL_set_shutdown(p.c, SSL_SENT_SHUTDOWN);
        free_pair(&p);
    }
    if (!sess || !SSL_SESSION_is_resumable(sess))
        fail("no resumable session");
    stamp_t t0 = stamp(), t1;
    for (i = 0; i < count; i++)
        socketpair_handshake(sctx, sess, i == count - 1);
    t1 = stamp();
    SSL_SESSION_free(sess);
    if (cross)
        SSL_CTX_free(sctx);
    result(count, t0, t1, "");
}

/* --- main ------------------------------------------------------------------- */

static void w_info(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    printf("{\"workload\": \"info\", \"ok\": true, \"openssl\": \"%s\", \"headers\": \"%s\", "
           "\"nofile_hard\": %lld}\n", OpenSSL_version(OPENSSL_VERSION), OPENSSL_VERSION_TEXT,
           (long long)rl.rlim_max);
    fflush(stdout);
}

static const struct { const char *name; void (*fn)(void); } commands[] = {
    {"info", w_info},
    {"recv_into64", w_recv_into64},
    {"wantread", w_wantread},
    {"record_kernel", w_record_kernel},
    {"stream_pair", w_stream_pair},
    {"handshake", w_handshake},
    {"handshake_resumed", w_handshake_resumed},
    {"membio_stream", w_membio_stream},
    {"membio_handshake", w_membio_handshake},
    {"tcp_stream", w_tcp_stream},
    {"pingpong", w_pingpong},
    {"pingpong_plain", w_pingpong_plain},
    {"echo", w_echo},
    {"memory", w_memory},
};

int main(int argc, char **argv)
{
    char line[4096];
    if (argc < 3) {
        fprintf(stderr, "usage: %s serve|peer-source|peer-echo|peer-echo-plain|peer-load|peer-load-plain|peer-hold CERTDIR [args]\n", argv[0]);
        return 2;
    }
    current = argv[1];
    measured_side = !strcmp(argv[1], "serve");
    setup(argv[2]);
    if (!strcmp(argv[1], "serve")) {
        while (fgets(line, sizeof line, stdin)) {
            char name[64];
            size_t i;
            if (sscanf(line, "%63s", name) != 1)
                continue;
            snprintf(params, sizeof params, " %s", line + strlen(name));
            for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
                if (!strcmp(commands[i].name, name))
                    break;
            current = name;
            if (i == sizeof commands / sizeof commands[0])
                fail("unknown command");
            ERR_clear_error();
            commands[i].fn();
        }
        return 0;
    }
    if (argc < 4)
        fail("missing port");
    int port = atoi(argv[3]);
    if (!strcmp(argv[1], "peer-source") && argc >= 6)
        peer_source(port, atoll(argv[4]), atoll(argv[5]));
    else if (!strcmp(argv[1], "peer-echo"))
        peer_echo(port);
    else if (!strcmp(argv[1], "peer-echo-plain"))
        peer_echo_plain(port);
    else if (!strcmp(argv[1], "peer-load") && argc >= 7)
        peer_load(port, atoll(argv[4]), atoll(argv[5]), atoll(argv[6]));
    else if (!strcmp(argv[1], "peer-load-plain") && argc >= 7) {
        plain_peer = 1;
        peer_load(port, atoll(argv[4]), atoll(argv[5]), atoll(argv[6]));
    }
    else if (!strcmp(argv[1], "peer-hold") && argc >= 5)
        peer_hold(port, atoll(argv[4]));
    else if (!strcmp(argv[1], "peer-issue") && argc >= 5)
        peer_issue(port, argv[4]);
    else
        fail("bad arguments");
    fflush(stdout);
    return 0;
}
