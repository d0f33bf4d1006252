/*
 * TLS for the example programs (wss://), with OpenSSL over the non-blocking socket: libws
 * never sees TLS, it is fed the decrypted bytes and its output is encrypted on the way out.
 * docs/tls.md explains where this sits. Built with OpenSSL when meson finds it; otherwise
 * every constructor says so and returns NULL, and the plain paths below work unchanged.
 *
 * Every function taking an ex_tls accepts NULL for a plain TCP connection.
 */
#ifndef EXAMPLES_TLS_H
#define EXAMPLES_TLS_H

#include "ws.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ex_tls_ctx ex_tls_ctx; /* shared settings: certificates, trust */
typedef struct ex_tls ex_tls;         /* one TLS connection over one socket */

/* True when the examples were built with OpenSSL. */
bool ex_tls_available(void);

/* Server settings: the certificate chain (PEM) and its private key. TLS 1.2 and 1.3 only,
 * no renegotiation. Prints why it failed (prefixed with prog) and returns NULL. */
ex_tls_ctx *ex_tls_server_ctx(const char *prog, const char *cert_file, const char *key_file);

/* Client settings: the server's certificate chain is verified against ca_file (PEM), or the
 * system's trust store when NULL; insecure turns every check off (for tests only). */
ex_tls_ctx *ex_tls_client_ctx(const char *prog, const char *ca_file, bool insecure);

void ex_tls_ctx_free(ex_tls_ctx *ctx);

/* The OpenSSL SSL_CTX * inside ctx, for a loop that runs TLS itself (libevent's
 * bufferevent_openssl in event-echo-server); NULL without OpenSSL. */
void *ex_tls_ctx_openssl(ex_tls_ctx *ctx);

/* Server: TLS on an accepted socket. The handshake runs inside ex_tls_recv as the client's
 * bytes arrive. NULL when out of memory. */
ex_tls *ex_tls_accept(ex_tls_ctx *ctx, int fd);

/* Client: runs the TLS handshake on a connected socket, waiting at most timeout_ms, sending
 * host as SNI (names only, not IP literals) and checking the certificate is for host
 * (unless insecure). Prints why it failed (prefixed with prog) and returns NULL. */
ex_tls *ex_tls_connect(const char *prog, ex_tls_ctx *ctx, int fd, const char *host, int timeout_ms);

/* Like recv(2) on the non-blocking socket fd, through TLS when t is not NULL: > 0 bytes,
 * 0 at the end of the stream, -1 with errno (EAGAIN while a handshake or a record is
 * incomplete, EPROTO for a TLS failure). */
long ex_tls_recv(ex_tls *t, int fd, uint8_t *buf, size_t len);

/* ex_flush through TLS when t is not NULL: writes as much of c's output as the socket takes
 * now (a record the socket took only in part is finished by the next call). */
long ex_tls_flush(ex_tls *t, int fd, ws_conn *c);

/* False while t's handshake has not finished: libws's output (a 408 for a client that
 * never completed it, say) cannot be sent, and waiting for it would only hold the socket.
 * True for plain TCP (t NULL). */
bool ex_tls_can_send(const ex_tls *t);

/* Before shutdown(fd, SHUT_WR): tells the peer the TLS stream ends (close_notify). */
void ex_tls_close_notify(ex_tls *t);

void ex_tls_free(ex_tls *t);

#endif /* EXAMPLES_TLS_H */
