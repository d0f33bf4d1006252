/*
 * ws_levent: runs one libws connection on a libevent bufferevent. Optional glue outside the
 * library (built when meson finds libevent); copy it or link it. It feeds what the
 * bufferevent read into ws_conn_feed and hands every event to the host, moves
 * ws_conn_output into the bufferevent with backpressure (EV_READ is disabled while the host
 * waits for room in the output queue or while the bufferevent's output is full), drives
 * ws_conn_tick from a timer at ws_conn_next_deadline, and after WS_EV_CLOSED flushes, shuts
 * down its side, reads away the peer's last bytes and frees the bufferevent, each step
 * bounded in time. docs/event-loops.md shows it in use.
 */
#ifndef WS_LIBEVENT_H
#define WS_LIBEVENT_H

#include "ws.h"

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ws_levent ws_levent;

typedef struct ws_levent_config {
    /* Every event but WS_EV_NONE, in order (WS_EV_CLOSED last). Return true when the event
     * could not be handled completely because the output queue is full (a send gave
     * WS_E_BACKPRESSURE): no further event is pulled and nothing is read until on_drained
     * returns false. Until then the glue neither feeds nor pulls, so ev's pointers stay
     * valid: keep a copy of *ev and retry the send from it in on_drained. */
    bool (*on_event)(ws_levent *l, const ws_event *ev);
    /* Called after output was written while on_event (or on_drained) waits: queue more and
     * return true while still waiting. May be NULL when on_event never waits. */
    bool (*on_drained)(ws_levent *l);
    /* Called once when the connection is over, right before the glue frees it (its
     * bufferevent, which closes the socket, and its ws_conn): forget l here. May be NULL. */
    void (*on_finish)(ws_levent *l);
    /* Called once after WS_EV_CLOSED, when all output was written and right before the glue
     * shuts down its side of the socket: a TLS host sends its close_notify here. May be NULL. */
    void (*on_flushed)(ws_levent *l);
    size_t read_size;          /* bytes fed at once, and the bufferevent's input limit; 64 KiB */
    size_t write_high;         /* bytes in the bufferevent's output before libws's wait; 64 KiB */
    uint32_t flush_timeout_ms; /* after WS_EV_CLOSED: to write the last output; 5000 */
    uint32_t linger_ms;        /* then: for the peer to end its side; 2000 */
} ws_levent_config;

/* Defaults as above; the callbacks are NULL (on_event is required). */
void ws_levent_config_init(ws_levent_config *cfg);

/* Runs ws on the bufferevent bev, on a connected non-blocking TCP socket and created with
 * BEV_OPT_CLOSE_ON_FREE: a socket bufferevent, or an OpenSSL one (bufferevent_openssl) whose
 * host sends close_notify from on_flushed. cfg must outlive the connection. The glue owns
 * bev and ws from now on, also when this fails: returns NULL when either is NULL or memory
 * fails (both are freed then). */
ws_levent *ws_levent_start(struct bufferevent *bev, const ws_levent_config *cfg, ws_conn *ws,
                           void *user);

ws_conn *ws_levent_conn(const ws_levent *l);
struct bufferevent *ws_levent_bufferevent(const ws_levent *l);
void *ws_levent_user(const ws_levent *l);

/* After a call on the connection from outside the glue's callbacks (a send from elsewhere
 * in the program, say): writes the output and pulls the events it caused. */
void ws_levent_service(ws_levent *l);

/* Starts the close handshake (code, reason) and runs the closing sequence; a connection
 * still in its opening handshake is dropped at once. on_finish follows, now or later. */
void ws_levent_close(ws_levent *l, unsigned code, const char *reason, size_t reason_len);

/* Drops the connection now, without a close handshake. */
void ws_levent_abort(ws_levent *l);

#endif /* WS_LIBEVENT_H */
