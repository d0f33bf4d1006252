/*
 * ws_tls_mem: OpenSSL over memory BIOs as a ws_layer (see ws_tls_mem.h). rbio holds the
 * ciphertext read from the socket until SSL_read decrypts it; wbio holds the ciphertext
 * that SSL_read (handshake, alerts, session tickets) and SSL_write produce until the
 * socket takes it.
 */
#include "ws_tls_mem.h"

#include <limits.h>
#include <openssl/err.h>
#include <stdlib.h>

typedef struct tls_mem {
    SSL *ssl;
    BIO *rbio, *wbio;
} tls_mem;

static int clamp(size_t n)
{
    return n > INT_MAX ? INT_MAX : (int)n;
}

static int put_input(void *self, const uint8_t *data, size_t len)
{
    tls_mem *t = self;

    while (len > 0) {
        int w = BIO_write(t->rbio, data, clamp(len));
        if (w <= 0)
            return -1;
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

/* 0 when OpenSSL waits for more (want read; a memory BIO never makes it wait to write),
 * -1 otherwise: close_notify, a failed handshake (its alert is in wbio), a bad record. */
static long result(tls_mem *t, int r)
{
    int e = SSL_get_error(t->ssl, r);

    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    ERR_clear_error();
    return -1;
}

static long get_input(void *self, uint8_t *buf, size_t cap)
{
    tls_mem *t = self;
    int r = SSL_read(t->ssl, buf, clamp(cap)); /* runs the handshake first */

    return r > 0 ? (long)r : result(t, r);
}

static long put_output(void *self, const uint8_t *data, size_t len)
{
    tls_mem *t = self;
    int r = SSL_write(t->ssl, data, clamp(len));

    return r > 0 ? (long)r : result(t, r);
}

static size_t get_output(void *self, const uint8_t **data)
{
    tls_mem *t = self;
    char *p = NULL;
    long n = BIO_get_mem_data(t->wbio, &p); /* the bytes not read yet */

    *data = (const uint8_t *)p;
    return n > 0 ? (size_t)n : 0;
}

static void consume_output(void *self, size_t n)
{
    tls_mem *t = self;
    uint8_t sink[4096];

    /* A memory BIO has no "skip": read the bytes away (they were sent from get_output's
     * pointer already). */
    while (n > 0) {
        int r = BIO_read(t->wbio, sink, n > sizeof sink ? (int)sizeof sink : (int)n);
        if (r <= 0)
            return;
        n -= (size_t)r;
    }
}

static void end(void *self)
{
    tls_mem *t = self;

    if (SSL_is_init_finished(t->ssl)) {
        (void)SSL_shutdown(t->ssl); /* close_notify into wbio; the peer's is not awaited */
        ERR_clear_error();
    }
}

static void free_layer(void *self)
{
    tls_mem *t = self;

    SSL_free(t->ssl); /* and the BIOs */
    free(t);
}

bool ws_tls_mem_layer(SSL *ssl, ws_layer *out)
{
    tls_mem *t = calloc(1, sizeof *t);

    if (t == NULL || (t->rbio = BIO_new(BIO_s_mem())) == NULL ||
        (t->wbio = BIO_new(BIO_s_mem())) == NULL) {
        if (t != NULL)
            BIO_free(t->rbio);
        free(t);
        SSL_free(ssl);
        return false;
    }
    /* An empty BIO means "wait for more" (the default for memory BIOs, said here). */
    BIO_set_mem_eof_return(t->rbio, -1);
    BIO_set_mem_eof_return(t->wbio, -1);
    SSL_set_bio(ssl, t->rbio, t->wbio);
    t->ssl = ssl;
    out->self = t;
    out->put_input = put_input;
    out->get_input = get_input;
    out->put_output = put_output;
    out->get_output = get_output;
    out->consume_output = consume_output;
    out->end = end;
    out->free = free_layer;
    return true;
}
