/*
 * TLS for the examples with OpenSSL's socket BIO on a non-blocking socket: the server side
 * handshakes as the client's bytes arrive, the client side handshakes up front. Records
 * the socket takes only in part are finished on the next write (partial writes on, the
 * output pointer may move between tries). TLS 1.2 and 1.3, renegotiation off.
 */
#define _GNU_SOURCE
#include "tls.h"
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef EX_HAVE_OPENSSL

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>

struct ex_tls_ctx {
    SSL_CTX *ssl;
};

struct ex_tls {
    SSL *ssl;
    bool ready; /* the handshake completed */
};

bool ex_tls_available(void)
{
    return true;
}

static void print_errors(const char *prog, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256];

    if (e == 0) {
        fprintf(stderr, "%s: %s\n", prog, what);
        return;
    }
    ERR_error_string_n(e, buf, sizeof buf);
    fprintf(stderr, "%s: %s: %s\n", prog, what, buf);
    ERR_clear_error();
}

static ex_tls_ctx *ctx_new(const char *prog, const SSL_METHOD *method)
{
    ex_tls_ctx *ctx = calloc(1, sizeof *ctx);

    if (ctx == NULL || (ctx->ssl = SSL_CTX_new(method)) == NULL) {
        print_errors(prog, "cannot create a TLS context");
        free(ctx);
        return NULL;
    }
    /* OpenSSL writes to the socket itself, without MSG_NOSIGNAL: a peer that went away must
     * be an error value, not a SIGPIPE that ends the program. */
    signal(SIGPIPE, SIG_IGN);
    SSL_CTX_set_min_proto_version(ctx->ssl, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx->ssl, SSL_OP_NO_RENEGOTIATION);
    /* libws's output pointer may move between a write that would block and its retry, and
     * a write may take part of what it was given. */
    SSL_CTX_set_mode(ctx->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return ctx;
}

ex_tls_ctx *ex_tls_server_ctx(const char *prog, const char *cert_file, const char *key_file)
{
    ex_tls_ctx *ctx = ctx_new(prog, TLS_server_method());

    if (ctx == NULL)
        return NULL;
    if (SSL_CTX_use_certificate_chain_file(ctx->ssl, cert_file) != 1) {
        print_errors(prog, cert_file);
    } else if (SSL_CTX_use_PrivateKey_file(ctx->ssl, key_file, SSL_FILETYPE_PEM) != 1) {
        print_errors(prog, key_file);
    } else if (SSL_CTX_check_private_key(ctx->ssl) != 1) {
        print_errors(prog, "the key does not match the certificate");
    } else {
        return ctx;
    }
    ex_tls_ctx_free(ctx);
    return NULL;
}

ex_tls_ctx *ex_tls_client_ctx(const char *prog, const char *ca_file, bool insecure)
{
    ex_tls_ctx *ctx = ctx_new(prog, TLS_client_method());

    if (ctx == NULL)
        return NULL;
    if (insecure) {
        SSL_CTX_set_verify(ctx->ssl, SSL_VERIFY_NONE, NULL);
        return ctx;
    }
    SSL_CTX_set_verify(ctx->ssl, SSL_VERIFY_PEER, NULL);
    if ((ca_file != NULL ? SSL_CTX_load_verify_locations(ctx->ssl, ca_file, NULL)
                         : SSL_CTX_set_default_verify_paths(ctx->ssl)) != 1) {
        print_errors(prog, ca_file != NULL ? ca_file : "the system's trusted certificates");
        ex_tls_ctx_free(ctx);
        return NULL;
    }
    return ctx;
}

void *ex_tls_ctx_openssl(ex_tls_ctx *ctx)
{
    return ctx != NULL ? ctx->ssl : NULL;
}

void ex_tls_ctx_free(ex_tls_ctx *ctx)
{
    if (ctx != NULL) {
        SSL_CTX_free(ctx->ssl);
        free(ctx);
    }
}

static ex_tls *tls_new(ex_tls_ctx *ctx, int fd)
{
    ex_tls *t = calloc(1, sizeof *t);

    if (t == NULL)
        return NULL;
    t->ssl = SSL_new(ctx->ssl);
    if (t->ssl == NULL || SSL_set_fd(t->ssl, fd) != 1) {
        SSL_free(t->ssl);
        free(t);
        return NULL;
    }
    return t;
}

ex_tls *ex_tls_accept(ex_tls_ctx *ctx, int fd)
{
    ex_tls *t = tls_new(ctx, fd);
    if (t != NULL)
        SSL_set_accept_state(t->ssl);
    return t;
}

static long elapsed_ms(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - start->tv_sec) * 1000L + (now.tv_nsec - start->tv_nsec) / 1000000L;
}

/* Why a client handshake failed, in words a user can act on. */
static void print_handshake_error(const char *prog, const ex_tls *t, const char *host)
{
    long v = SSL_get_verify_result(t->ssl);

    if (v != X509_V_OK) {
        fprintf(stderr, "%s: TLS: the certificate of %s is not trusted: %s\n", prog, host,
                X509_verify_cert_error_string(v));
        ERR_clear_error();
    } else {
        print_errors(prog, "TLS handshake failed");
    }
}

ex_tls *ex_tls_connect(const char *prog, ex_tls_ctx *ctx, int fd, const char *host, int timeout_ms)
{
    ex_tls *t = tls_new(ctx, fd);
    unsigned char addr[16];
    bool is_ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
    struct timespec start;

    if (t == NULL) {
        print_errors(prog, "cannot start TLS");
        return NULL;
    }
    SSL_set_connect_state(t->ssl);
    /* SNI carries names only; the certificate must name what the URL names. */
    if (!is_ip)
        SSL_set_tlsext_host_name(t->ssl, host);
    if (SSL_get_verify_mode(t->ssl) != SSL_VERIFY_NONE) {
        X509_VERIFY_PARAM *vp = SSL_get0_param(t->ssl);
        int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, host) : SSL_set1_host(t->ssl, host);
        if (ok != 1) {
            print_errors(prog, "cannot set the host name to verify");
            ex_tls_free(t);
            return NULL;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        int r = SSL_do_handshake(t->ssl);
        int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(t->ssl, r);
        struct pollfd p;
        long left = timeout_ms - elapsed_ms(&start);

        if (e == SSL_ERROR_NONE) {
            t->ready = true;
            return t;
        }
        if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) || left <= 0) {
            if (left <= 0)
                fprintf(stderr, "%s: TLS handshake with %s timed out\n", prog, host);
            else
                print_handshake_error(prog, t, host);
            ex_tls_free(t);
            return NULL;
        }
        p.fd = fd;
        p.events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        p.revents = 0;
        if (poll(&p, 1, (int)left) < 0 && errno != EINTR) {
            fprintf(stderr, "%s: poll: %s\n", prog, strerror(errno));
            ex_tls_free(t);
            return NULL;
        }
    }
}

/* Maps an SSL_get_error answer onto recv's conventions. */
static long tls_result(ex_tls *t, int r)
{
    int e = SSL_get_error(t->ssl, r);

    switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN: /* close_notify: the peer's end of stream */
        return 0;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        if (errno == 0)
            return 0; /* the TCP stream ended without close_notify */
        return -1;
    default:
        ERR_clear_error();
        errno = EPROTO;
        return -1;
    }
}

long ex_tls_recv(ex_tls *t, int fd, uint8_t *buf, size_t len)
{
    int r;

    if (t == NULL)
        return (long)recv(fd, buf, len, 0);
    errno = 0;
    if (!t->ready) {
        r = SSL_do_handshake(t->ssl);
        if (r != 1)
            return tls_result(t, r);
        t->ready = true;
    }
    r = SSL_read(t->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
    return r > 0 ? (long)r : tls_result(t, r);
}

long ex_tls_flush(ex_tls *t, int fd, ws_conn *c)
{
    long total = 0;

    if (t == NULL)
        return ex_flush(fd, c);
    if (!t->ready)
        return 0; /* nothing to send before the handshake: libws has not been fed yet */
    for (;;) {
        const uint8_t *data;
        size_t len = ws_conn_output(c, &data);
        int r;

        if (len == 0)
            return total;
        errno = 0;
        r = SSL_write(t->ssl, data, len > INT_MAX ? INT_MAX : (int)len);
        if (r <= 0) {
            long v = tls_result(t, r);
            return v < 0 && errno == EAGAIN ? total : -1;
        }
        ws_conn_consume(c, (size_t)r);
        total += r;
    }
}

bool ex_tls_can_send(const ex_tls *t)
{
    return t == NULL || t->ready;
}

void ex_tls_close_notify(ex_tls *t)
{
    if (t != NULL && t->ready) {
        SSL_shutdown(t->ssl); /* sends close_notify; the peer's answer is not awaited */
        ERR_clear_error();
    }
}

void ex_tls_free(ex_tls *t)
{
    if (t != NULL) {
        SSL_free(t->ssl);
        free(t);
    }
}

#else /* !EX_HAVE_OPENSSL */

#include <sys/socket.h>

bool ex_tls_available(void)
{
    return false;
}

static void *unavailable(const char *prog)
{
    fprintf(stderr, "%s: built without OpenSSL (apt-get install libssl-dev, then rebuild)\n", prog);
    return NULL;
}

ex_tls_ctx *ex_tls_server_ctx(const char *prog, const char *cert_file, const char *key_file)
{
    (void)cert_file;
    (void)key_file;
    return unavailable(prog);
}

ex_tls_ctx *ex_tls_client_ctx(const char *prog, const char *ca_file, bool insecure)
{
    (void)ca_file;
    (void)insecure;
    return unavailable(prog);
}

void *ex_tls_ctx_openssl(ex_tls_ctx *ctx)
{
    (void)ctx;
    return NULL;
}

void ex_tls_ctx_free(ex_tls_ctx *ctx)
{
    (void)ctx;
}

ex_tls *ex_tls_accept(ex_tls_ctx *ctx, int fd)
{
    (void)ctx;
    (void)fd;
    return NULL;
}

ex_tls *ex_tls_connect(const char *prog, ex_tls_ctx *ctx, int fd, const char *host, int timeout_ms)
{
    (void)ctx;
    (void)fd;
    (void)host;
    (void)timeout_ms;
    return unavailable(prog);
}

long ex_tls_recv(ex_tls *t, int fd, uint8_t *buf, size_t len)
{
    (void)t;
    return (long)recv(fd, buf, len, 0);
}

long ex_tls_flush(ex_tls *t, int fd, ws_conn *c)
{
    (void)t;
    return ex_flush(fd, c);
}

bool ex_tls_can_send(const ex_tls *t)
{
    return t == NULL;
}

void ex_tls_close_notify(ex_tls *t)
{
    (void)t;
}

void ex_tls_free(ex_tls *t)
{
    (void)t;
}

#endif /* EX_HAVE_OPENSSL */
