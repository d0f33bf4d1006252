/*
 * ws_tls_mem: TLS (OpenSSL) as a ws_layer (glue/ws_layer.h), over two memory BIOs, for loops
 * that own the socket reads and writes (libuv, io_uring, IOCP): the ciphertext the loop read
 * goes into one BIO, the ciphertext to send comes out of the other, and libws sees only the
 * plaintext. Optional glue outside the library, built when meson finds OpenSSL;
 * docs/tls.md explains it. A memory BIO never blocks, so SSL_write takes all it is given
 * (partial writes cannot happen on this side; the loop's socket writes may be partial and
 * the glue consumes what the socket took).
 */
#ifndef WS_TLS_MEM_H
#define WS_TLS_MEM_H

#include "ws_layer.h"

#include <openssl/ssl.h>
#include <stdbool.h>

/* Makes *out a layer that runs ssl over two new memory BIOs. The caller made ssl from its
 * SSL_CTX (TLS 1.2/1.3, SSL_OP_NO_RENEGOTIATION) and put it in the accepting state
 * (SSL_set_accept_state): the handshake runs inside get_input as the client's bytes arrive. The
 * layer owns ssl from now on, also when this fails: false when out of memory (ssl is freed then).
 */
bool ws_tls_mem_layer(SSL *ssl, ws_layer *out);

#endif /* WS_TLS_MEM_H */
