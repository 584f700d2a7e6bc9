/* _peek_bio.h -- the read side of socket mode: a BIO over the socket's
 * descriptor that can bring several TLS records per recv(2) without taking
 * out of the kernel a byte OpenSSL has not consumed.
 *
 * Why not OpenSSL's read-ahead (SSL_set_read_ahead): it reads as much as
 * the socket holds into the record layer's buffer, and what follows the
 * peer's close_notify (the cleartext of STARTTLS / FTP CCC after unwrap())
 * would be stuck there, with no API to get it back; an event loop would
 * also see an empty socket while whole records sit in that buffer.
 *
 * Instead, while a read "batch" is open (tlsfast_peek_begin .. _settle),
 * a read that finds this BIO empty peeks (MSG_PEEK) up to the batch's
 * hint and serves OpenSSL's header and body reads from the copy; only the
 * bytes OpenSSL was served are then removed from the kernel (recv with
 * MSG_TRUNC: TCP discards them without a copy).  Outside a batch (the
 * handshake, shutdown, peek) and for reads at least as large as the hint
 * it reads exactly what OpenSSL asks for, as OpenSSL's socket BIO does
 * without read-ahead.  So between calls the kernel holds every byte
 * OpenSSL has not consumed: select() tells the truth and unwrap() leaves
 * the cleartext after close_notify on the socket.
 *
 * The return conventions are the socket BIO's (retry flag for
 * EAGAIN/EINTR, the EOF flag at end of stream, errno kept for other
 * failures), so OpenSSL's verdicts (SSL_get_error, unexpected EOF) are the
 * same as with SSL_set_fd.  Writes go through the same BIO, straight to
 * write(2) as the socket BIO does them: one BIO per connection, as
 * SSL_set_fd makes (a second one would cost ~200 bytes per connection).
 */
#ifndef TLSFAST_PEEK_BIO_H
#define TLSFAST_PEEK_BIO_H

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/bio.h>

/* The largest peek: four full TLS records' worth, or ~760 records of 64 B. */
#define TLSFAST_PEEK_MAX (4 * 16384 + 1024)

typedef struct {
    int fd;
    int eof;            /* recv returned 0: BIO_eof is true */
    int peek_first;     /* peek from a batch's first read (TCP) */
    size_t hint;        /* 0: read exactly; else bytes worth peeking */
    size_t batch_hint;  /* the batch's hint, for tlsfast_peek_widen */
    char *buf;          /* the peeked copy, NULL outside a batch */
    int own_buf;        /* buf was malloc'd (else it is the thread's) */
    size_t peeked;      /* bytes in buf (= the kernel queue's head) */
    size_t served;      /* of them, handed to OpenSSL */
} tlsfast_peek_t;

/* Each thread's peek buffer (TLSFAST_PEEK_MAX bytes, freed when the thread
 * ends): a batch lives only inside one read call, so a connection keeps no
 * buffer while idle, and no malloc/free per read (a 64 KiB free at the top
 * of the heap can cost a brk(2) each time).  A batch that begins while the
 * thread's buffer is taken (a callback reading another connection) mallocs
 * its own. */
static pthread_key_t tlsfast_peek_key;     /* its destructor frees the buffer */
static pthread_once_t tlsfast_peek_once = PTHREAD_ONCE_INIT;
static __thread char *tlsfast_peek_tbuf = NULL;
static __thread int tlsfast_peek_taken = 0;

static void tlsfast_peek_key_init(void)
{
    (void)pthread_key_create(&tlsfast_peek_key, free);
}

static char *tlsfast_peek_take_buf(int *own)
{
    char *b;
    *own = 0;
    if (!tlsfast_peek_taken) {
        if (tlsfast_peek_tbuf == NULL) {
            (void)pthread_once(&tlsfast_peek_once, tlsfast_peek_key_init);
            b = (char *)malloc(TLSFAST_PEEK_MAX);
            if (b != NULL && pthread_setspecific(tlsfast_peek_key, b) != 0) {
                free(b);
                b = NULL;
            }
            tlsfast_peek_tbuf = b;
        }
        if (tlsfast_peek_tbuf != NULL) {
            tlsfast_peek_taken = 1;
            return tlsfast_peek_tbuf;
        }
    }
    *own = 1;
    return (char *)malloc(TLSFAST_PEEK_MAX);
}


static BIO_METHOD *tlsfast_peek_method = NULL;
static int tlsfast_peek_type = 0;

static int tlsfast_peek_retryable(int e)
{
    return e == EAGAIN || e == EWOULDBLOCK || e == EINTR || e == EINPROGRESS
           || e == EALREADY || e == ENOTCONN || e == EPROTO;
}

static void tlsfast_peek_drop_buf(tlsfast_peek_t *st)
{
    if (st->buf == NULL)
        return;
    if (st->own_buf)
        free(st->buf);
    else
        tlsfast_peek_taken = 0;
    st->buf = NULL;
}

/* Drop from the kernel the bytes OpenSSL was served, forget the copy and
 * give its buffer back (so no buffer is held while a read waits). */
static void tlsfast_peek_consume(tlsfast_peek_t *st)
{
    size_t left = st->served;
    ssize_t r;
    while (left > 0) {
        r = recv(st->fd, st->buf, left, MSG_TRUNC | MSG_DONTWAIT);
        if (r > 0)
            left -= (size_t)r;
        else if (r < 0 && errno == EINTR)
            continue;
        else
            break;      /* cannot happen: these bytes were peeked */
    }
    st->peeked = st->served = 0;
    tlsfast_peek_drop_buf(st);
}

static int tlsfast_peek_read(BIO *b, char *out, size_t outl, size_t *readbytes)
{
    tlsfast_peek_t *st = (tlsfast_peek_t *)BIO_get_data(b);
    ssize_t r;
    size_t n;
    int saved;
    BIO_clear_retry_flags(b);
    *readbytes = 0;
    if (out == NULL || outl == 0)
        return 0;
    if (st->peeked == 0 && st->hint > outl) {
        if (st->buf == NULL) {
            st->buf = tlsfast_peek_take_buf(&st->own_buf);
            if (st->buf == NULL)
                st->hint = 0;       /* read exactly, below */
        }
        if (st->buf != NULL) {
            do {
                r = recv(st->fd, st->buf, st->hint, MSG_PEEK | MSG_DONTWAIT);
            } while (r < 0 && errno == EINTR);
            if (r > 0)
                st->peeked = (size_t)r;
            else
                goto failed;
        }
    }
    if (st->served < st->peeked) {
        n = st->peeked - st->served;
        if (n > outl)
            n = outl;
        memcpy(out, st->buf + st->served, n);
        st->served += n;
        if (st->served == st->peeked) {
            saved = errno;
            tlsfast_peek_consume(st);
            errno = saved;
        }
        *readbytes = n;
        return 1;
    }
    r = recv(st->fd, out, outl, MSG_DONTWAIT);
    if (r > 0) {
        *readbytes = (size_t)r;
        return 1;
    }
failed:
    saved = errno;
    tlsfast_peek_drop_buf(st);
    errno = saved;
    if (r == 0)
        st->eof = 1;
    else if (tlsfast_peek_retryable(saved))
        BIO_set_retry_read(b);
    return 0;
}

/* The socket BIO's write: one write(2), no retry loop here (EINTR and
 * EAGAIN set the retry flag, and SSL_write reports want-write). */
static int tlsfast_peek_write(BIO *b, const char *in, size_t inl, size_t *written)
{
    tlsfast_peek_t *st = (tlsfast_peek_t *)BIO_get_data(b);
    ssize_t r;
    BIO_clear_retry_flags(b);
    *written = 0;
    if (in == NULL || inl == 0)
        return 0;
    r = write(st->fd, in, inl);
    if (r > 0) {
        *written = (size_t)r;
        return 1;
    }
    if (r < 0 && tlsfast_peek_retryable(errno))
        BIO_set_retry_write(b);
    return 0;
}

static long tlsfast_peek_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    tlsfast_peek_t *st = (tlsfast_peek_t *)BIO_get_data(b);
    (void)num;
    switch (cmd) {
    case BIO_CTRL_EOF:
        return st->eof && st->served == st->peeked;
    case BIO_CTRL_PENDING:
        return (long)(st->peeked - st->served);
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_C_GET_FD:
        if (ptr != NULL)
            *(int *)ptr = st->fd;
        return st->fd;
    case BIO_CTRL_GET_CLOSE:
        return BIO_NOCLOSE;
    case BIO_CTRL_SET_CLOSE:
        return 1;
    default:
        return 0;
    }
}

static int tlsfast_peek_create(BIO *b)
{
    tlsfast_peek_t *st = (tlsfast_peek_t *)calloc(1, sizeof(tlsfast_peek_t));
    if (st == NULL)
        return 0;
    st->fd = -1;
    BIO_set_data(b, st);
    BIO_set_init(b, 1);
    return 1;
}

static int tlsfast_peek_destroy(BIO *b)
{
    tlsfast_peek_t *st = (tlsfast_peek_t *)BIO_get_data(b);
    if (st != NULL) {
        tlsfast_peek_drop_buf(st);
        free(st);
        BIO_set_data(b, NULL);
    }
    return 1;
}

/* A new read BIO on fd, or NULL (the error queue says why).  peek_first:
 * a batch peeks from its first read on; else only once the first record
 * is in (tlsfast_peek_widen).  A peek is free on TCP; on AF_UNIX it costs
 * some 3 us more than a read (measured on Linux 6), worth it only when
 * the peek brings several records. */
static BIO *tlsfast_peek_bio_new(int fd, int peek_first)
{
    BIO *b;
    if (tlsfast_peek_method == NULL) {
        int type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR;
        BIO_METHOD *m = BIO_meth_new(type, "tlsfast socket reader");
        if (m == NULL)
            return NULL;
        tlsfast_peek_type = type;
        BIO_meth_set_read_ex(m, tlsfast_peek_read);
        BIO_meth_set_write_ex(m, tlsfast_peek_write);
        BIO_meth_set_ctrl(m, tlsfast_peek_ctrl);
        BIO_meth_set_create(m, tlsfast_peek_create);
        BIO_meth_set_destroy(m, tlsfast_peek_destroy);
        tlsfast_peek_method = m;
    }
    b = BIO_new(tlsfast_peek_method);
    if (b != NULL) {
        ((tlsfast_peek_t *)BIO_get_data(b))->fd = fd;
        ((tlsfast_peek_t *)BIO_get_data(b))->peek_first = peek_first;
    }
    return b;
}

/* The state of ssl's read BIO when it is one of ours, else NULL. */
static tlsfast_peek_t *tlsfast_peek_of(BIO *b)
{
    if (b == NULL || tlsfast_peek_method == NULL || BIO_method_type(b) != tlsfast_peek_type)
        return NULL;
    return (tlsfast_peek_t *)BIO_get_data(b);
}

/* Open a batch: reads may peek up to hint bytes (clamped), from the
 * first one on with peek_first, else after tlsfast_peek_widen. */
static void tlsfast_peek_begin(tlsfast_peek_t *st, size_t hint)
{
    st->batch_hint = hint < TLSFAST_PEEK_MAX ? hint : TLSFAST_PEEK_MAX;
    st->hint = st->peek_first ? st->batch_hint : 0;
}

/* The batch's first record is in: peek from now on.  Returns 1 when that
 * changed anything (the kernel is worth one more try), else 0. */
static int tlsfast_peek_widen(tlsfast_peek_t *st)
{
    if (st->peek_first)
        return 0;
    st->hint = st->batch_hint;
    return 1;
}

/* Close the batch: the kernel loses exactly what OpenSSL consumed. */
static void tlsfast_peek_settle(tlsfast_peek_t *st)
{
    if (st->peeked)
        tlsfast_peek_consume(st);
    st->hint = 0;
    tlsfast_peek_drop_buf(st);
}

/* Bytes peeked and not yet handed to OpenSSL. */
static size_t tlsfast_peek_unserved(tlsfast_peek_t *st)
{
    return st->peeked - st->served;
}

#endif
