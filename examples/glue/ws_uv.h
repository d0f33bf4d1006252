/*
 * ws_uv: runs one libws connection on a libuv TCP stream. Optional glue outside the
 * library (built when meson finds libuv); copy it or link it. It feeds what it reads into
 * ws_conn_feed and hands every event to the host, writes ws_conn_output with backpressure
 * (reading stops while the host waits for room in the output queue or while output piles up
 * behind a write in flight), drives ws_conn_tick from a timer at ws_conn_next_deadline, and
 * after WS_EV_CLOSED flushes, shuts down its side, reads away the peer's last bytes and
 * closes, each step bounded in time. docs/event-loops.md shows it in use. Under -std=c99,
 * define _GNU_SOURCE (or _POSIX_C_SOURCE 200809L) before including it, as uv.h needs.
 */
#ifndef WS_UV_H
#define WS_UV_H

#include "ws.h"
#include "ws_layer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct ws_uv ws_uv;

typedef struct ws_uv_config {
    /* Every event but WS_EV_NONE, in order (WS_EV_CLOSED last). Return true when the event
     * could not be handled completely because the output queue is full (a send gave
     * WS_E_BACKPRESSURE): no further event is pulled and nothing is read until on_drained
     * returns false. Until then the glue neither feeds nor pulls, so ev's pointers stay
     * valid: keep a copy of *ev and retry the send from it in on_drained. */
    bool (*on_event)(ws_uv *u, const ws_event *ev);
    /* Called after output was written while on_event (or on_drained) waits: queue more and
     * return true while still waiting. May be NULL when on_event never waits. */
    bool (*on_drained)(ws_uv *u);
    /* Called once when the connection is over, right before the glue frees it (and its
     * ws_conn): forget u here. May be NULL. */
    void (*on_finish)(ws_uv *u);
    size_t read_size;          /* bytes read and fed at once; default 64 KiB */
    uint32_t flush_timeout_ms; /* after WS_EV_CLOSED: to write the last output; 5000 */
    uint32_t linger_ms;        /* then: for the peer to end its side; 2000 */
} ws_uv_config;

/* Defaults as above; the callbacks are NULL (on_event is required). */
void ws_uv_config_init(ws_uv_config *cfg);

/* Accepts a pending connection on server (from its connection callback) and runs ws on
 * it, over plain TCP. cfg must outlive the connection. The glue owns ws from now on, also
 * when this fails: returns NULL when ws is NULL or memory or the accept fails (the pending
 * connection is then accepted and closed when possible, so the listener does not stall). */
ws_uv *ws_uv_accept(uv_stream_t *server, const ws_uv_config *cfg, ws_conn *ws, void *user);

/* The same with a layer between the stream and ws (TLS: glue/ws_tls_mem.h), or over plain
 * TCP when layer is NULL. The glue owns the layer too (also when this fails) and frees it
 * with the connection; after WS_EV_CLOSED and the last output it calls layer->end (TLS
 * close_notify) and writes what that produced before it shuts down its side. */
ws_uv *ws_uv_accept_layer(uv_stream_t *server, const ws_uv_config *cfg, ws_conn *ws,
                          const ws_layer *layer, void *user);

ws_conn *ws_uv_conn(const ws_uv *u);
uv_tcp_t *ws_uv_tcp(ws_uv *u);
void *ws_uv_user(const ws_uv *u);

/* After a call on the connection from outside the glue's callbacks (a send from elsewhere
 * in the program, say): writes the output and pulls the events it caused. */
void ws_uv_service(ws_uv *u);

/* Starts the close handshake (code, reason) and runs the closing sequence; a connection
 * still in its opening handshake is dropped at once. on_finish follows, now or later. */
void ws_uv_close(ws_uv *u, unsigned code, const char *reason, size_t reason_len);

/* Drops the connection now, without a close handshake. */
void ws_uv_abort(ws_uv *u);

#endif /* WS_UV_H */
