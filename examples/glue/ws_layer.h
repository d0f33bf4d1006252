/*
 * ws_layer: a byte layer between the socket and libws, such as TLS. Loop glue that accepts
 * one (ws_uv_accept_layer) hands it what the socket read and feeds libws what comes out;
 * it gives it libws's output and writes to the socket what comes out on that side:
 *
 *   socket --put_input-->  layer --get_input-->  ws_conn_feed
 *   socket <--get_output-- layer <--put_output-- ws_conn_output / ws_conn_consume
 *
 * glue/ws_tls_mem.h makes one with OpenSSL over memory BIOs. Plain C, no loop library.
 */
#ifndef WS_LAYER_H
#define WS_LAYER_H

#include <stddef.h>
#include <stdint.h>

typedef struct ws_layer {
    void *self; /* passed to every function below */
    /* Bytes the socket read (the layer copies them). 0, or -1 when the layer failed. */
    int (*put_input)(void *self, const uint8_t *data, size_t len);
    /* Up to cap bytes for ws_conn_feed into buf: > 0 their count, 0 when the layer needs more
     * input first, -1 when its stream ended (TLS close_notify) or failed. */
    long (*get_input)(void *self, uint8_t *buf, size_t cap);
    /* libws's output: the layer takes what it can and returns how many bytes (the glue then
     * consumes them from libws), 0 when it takes none now, -1 when it failed. */
    long (*put_output)(void *self, const uint8_t *data, size_t len);
    /* The bytes for the socket: their count, *data valid until the next call on the layer. */
    size_t (*get_output)(void *self, const uint8_t **data);
    /* n bytes of get_output went to the socket. */
    void (*consume_output)(void *self, size_t n);
    /* Our side of the layer's stream ends (TLS: close_notify, then in get_output). May be NULL. */
    void (*end)(void *self);
    /* Frees the layer; the glue calls it once, after the socket is closed. */
    void (*free)(void *self);
} ws_layer;

#endif /* WS_LAYER_H */
