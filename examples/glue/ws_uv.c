/*
 * ws_uv: libws on a libuv TCP stream (see ws_uv.h). One read buffer per connection, one
 * uv_write in flight at most, one timer for libws's deadlines and the closing steps. With a
 * layer (TLS), the socket's bytes go into the layer and libws is fed what comes out of it,
 * one read buffer's worth at a time, as the events are pulled.
 */
#define _GNU_SOURCE /* uv.h needs POSIX types (pthread_rwlock_t) under -std=c99 */
#include "ws_uv.h"

#include <stdlib.h>
#include <string.h>

enum stage {
    ST_OPEN,   /* feeding and pulling events */
    ST_FLUSH,  /* WS_EV_CLOSED (or end of stream) seen: writing the last output */
    ST_LINGER, /* our side shut: reading away the peer's last bytes until it ends */
    ST_DONE    /* handles closing; freed when both are */
};

struct ws_uv {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    ws_conn *ws;
    const ws_uv_config *cfg;
    void *user;
    enum stage stage;
    bool events;  /* input, a tick or a call may have produced events not pulled yet */
    bool waiting; /* the host waits for room in the output queue */
    bool reading;
    bool eof_seen; /* the peer ended its side (or the socket or the layer failed) */
    bool eof;      /* ... and libws was told, after the input before it */
    bool writing;  /* a uv_write is in flight (of libws's output, or of wbuf with a layer) */
    bool ended;    /* the layer's end was called */
    bool blocked;  /* the layer took none of libws's output (TLS: no handshake yet) */
    int handles;   /* open handles: the memory goes when both are closed */
    uint64_t stage_deadline;
    uint8_t *wbuf; /* output handed to uv_write: a copy, see write_out */
    size_t wcap;
    ws_layer layer;  /* layer.self NULL: plain TCP */
    size_t inflight; /* bytes of libws's output handed to uv_write, consumed in on_write */
    size_t in_size;
    uint8_t *raw; /* with a layer: the socket's bytes, handed to the layer at once */
    uint8_t in[]; /* read buffer; libws unmasks in place here until the events are pulled */
};

static void service(ws_uv *u);

void ws_uv_config_init(ws_uv_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->read_size = 64u * 1024u;
    cfg->flush_timeout_ms = 5000;
    cfg->linger_ms = 2000;
}

ws_conn *ws_uv_conn(const ws_uv *u)
{
    return u->ws;
}

uv_tcp_t *ws_uv_tcp(ws_uv *u)
{
    return &u->tcp;
}

void *ws_uv_user(const ws_uv *u)
{
    return u->user;
}

static void on_handle_closed(uv_handle_t *h)
{
    ws_uv *u = h->data;

    if (--u->handles > 0)
        return;
    if (u->layer.self != NULL)
        u->layer.free(u->layer.self);
    ws_conn_free(u->ws);
    free(u->wbuf);
    free(u);
}

/* The end: the host forgets u, the handles close (pending requests are cancelled first). */
static void finish(ws_uv *u)
{
    if (u->stage == ST_DONE)
        return;
    u->stage = ST_DONE;
    if (u->cfg->on_finish != NULL)
        u->cfg->on_finish(u);
    uv_close((uv_handle_t *)&u->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&u->timer, on_handle_closed);
}

void ws_uv_abort(ws_uv *u)
{
    finish(u);
}

static void on_write(uv_write_t *req, int status)
{
    ws_uv *u = req->data;

    u->writing = false;
    if (u->stage == ST_DONE)
        return;
    if (status < 0) {
        finish(u);
        return;
    }
    ws_conn_consume(u->ws, u->inflight); /* written: libws may let go of those bytes now */
    u->inflight = 0;
    service(u);
}

/* What waits for the socket: libws's output, or the layer's. */
static size_t pending(ws_uv *u, const uint8_t **p)
{
    return u->layer.self != NULL ? u->layer.get_output(u->layer.self, p) : ws_conn_output(u->ws, p);
}

/* Moves libws's output into the layer (TLS encrypts it). -1 when the layer failed. */
static int through_layer(ws_uv *u)
{
    const uint8_t *p;
    size_t n;

    u->blocked = false;
    while ((n = ws_conn_output(u->ws, &p)) > 0) {
        long put = u->layer.put_output(u->layer.self, p, n);
        if (put <= 0) {
            u->blocked = put == 0;
            return (int)put;
        }
        ws_conn_consume(u->ws, (size_t)put);
    }
    return 0;
}

/* Runs of output one uv_write takes at most. */
#define WRITE_RUNS 16

/* The runs of libws's output as uv_buf_t (lengths are unsigned int on some platforms);
 * returns how many, and their bytes in *bytes. */
static unsigned output_bufs(const ws_uv *u, uv_buf_t *b, size_t *bytes)
{
    ws_iovec runs[WRITE_RUNS];
    size_t n = ws_conn_output_iov(u->ws, runs, WRITE_RUNS, bytes), k;

    *bytes = 0;
    for (k = 0; k < n; k++) {
        size_t len = runs[k].len < UINT32_MAX / 2 ? runs[k].len : UINT32_MAX / 2;
        b[k] = uv_buf_init((char *)(uintptr_t)runs[k].base, (unsigned)len);
        *bytes += len;
        if (len < runs[k].len)
            return (unsigned)k + 1;
    }
    return (unsigned)n;
}

/*
 * With a layer: its output (TLS records) goes to the socket. The layer's pointer is not
 * promised to stay put across later calls, so what the socket does not take at once is
 * copied into wbuf and consumed, and only the copy is handed to uv_write.
 */
static long write_layer(ws_uv *u)
{
    const uint8_t *p;
    size_t n;
    long took = 0;
    uv_buf_t b;
    int r;

    if (through_layer(u) < 0)
        return -1;
    n = pending(u, &p);
    if (n == 0)
        return 0;
    if (n > UINT32_MAX / 2)
        n = UINT32_MAX / 2;
    b = uv_buf_init((char *)(uintptr_t)p, (unsigned)n);
    r = uv_try_write((uv_stream_t *)&u->tcp, &b, 1);
    if (r > 0) {
        u->layer.consume_output(u->layer.self, (size_t)r);
        took = r;
        n = pending(u, &p);
        if (n == 0)
            return took;
        if (n > UINT32_MAX / 2)
            n = UINT32_MAX / 2;
    } else if (r != UV_EAGAIN) {
        return -1;
    }
    if (n > u->wcap) {
        uint8_t *w = realloc(u->wbuf, n);
        if (w == NULL)
            return -1;
        u->wbuf = w;
        u->wcap = n;
    }
    memcpy(u->wbuf, p, n);
    u->layer.consume_output(u->layer.self, n);
    b = uv_buf_init((char *)u->wbuf, (unsigned)n);
    u->wreq.data = u;
    if (uv_write(&u->wreq, (uv_stream_t *)&u->tcp, &b, 1, on_write) < 0)
        return -1;
    u->writing = true;
    u->inflight = 0; /* the copy: nothing of libws's queue is in flight */
    return took;
}

/*
 * Hands libws's output (through the layer, if any) to the socket; returns the bytes the
 * socket took at once (0 when none, or a write was already in flight), or -1 when the
 * socket (or the layer) failed.
 *
 * Without a layer, libws keeps its output's bytes where they are until they are consumed,
 * whatever happens meanwhile (ws.h, ws_conn_output), so what the socket does not take at
 * once goes to uv_write as it is - several runs of the queue in one request, no copy - and
 * is consumed in on_write, once the write completed.
 */
static long write_out(ws_uv *u)
{
    uv_buf_t b[WRITE_RUNS];
    size_t bytes;
    unsigned n;
    long took = 0;
    int r;

    if (u->writing)
        return 0;
    if (u->layer.self != NULL)
        return write_layer(u);
    n = output_bufs(u, b, &bytes);
    if (n == 0)
        return 0;
    r = uv_try_write((uv_stream_t *)&u->tcp, b, n);
    if (r > 0) {
        ws_conn_consume(u->ws, (size_t)r);
        took = r;
        n = output_bufs(u, b, &bytes);
        if (n == 0)
            return took;
    } else if (r != UV_EAGAIN) {
        return -1;
    }
    u->wreq.data = u;
    if (uv_write(&u->wreq, (uv_stream_t *)&u->tcp, b, n, on_write) < 0)
        return -1;
    u->writing = true;
    u->inflight = bytes;
    return took;
}

/* Output that can still go. libws's output a layer refuses does not count: after a TLS
 * handshake that never finished (libws's 408 for a silent client, say) nothing can send it. */
static bool has_output(ws_uv *u)
{
    const uint8_t *p;
    return u->writing || (ws_conn_output(u->ws, &p) > 0 && !u->blocked) || pending(u, &p) > 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    ws_uv *u = h->data;

    (void)suggested;
    /* Reading stops while events are pending, so the buffer is free here; if not, libuv
     * reports UV_ENOBUFS and nothing is overwritten. A layer copies at once. */
    if (u->raw != NULL)
        *b = uv_buf_init((char *)u->raw, (unsigned)u->in_size);
    else if (u->events && u->stage == ST_OPEN)
        *b = uv_buf_init(NULL, 0);
    else
        *b = uv_buf_init((char *)u->in, (unsigned)u->in_size);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    ws_uv *u = s->data;

    (void)b;
    if (n == 0 || n == UV_ENOBUFS || u->stage == ST_DONE)
        return;
    if (u->stage != ST_OPEN) {
        /* Lingering (or flushing): the bytes are thrown away; the end of stream ends it. */
        if (n < 0)
            finish(u);
        return;
    }
    ws_conn_set_time(u->ws, uv_now(s->loop));
    if (u->layer.self != NULL) {
        /* Fed to libws from service, as it pulls the events. */
        if (n < 0 || u->layer.put_input(u->layer.self, u->raw, (size_t)n) < 0)
            u->eof_seen = true;
        service(u);
        return;
    }
    if (n < 0) {
        ws_conn_feed_eof(u->ws);
        u->eof = u->eof_seen = true;
    } else {
        /* WS_E_CLOSED after the close handshake: the bytes are ignored. */
        (void)ws_conn_feed(u->ws, u->in, (size_t)n);
    }
    u->events = true;
    service(u);
}

static void set_reading(ws_uv *u, bool want)
{
    if (want == u->reading)
        return;
    if (want) {
        if (uv_read_start((uv_stream_t *)&u->tcp, on_alloc, on_read) < 0) {
            finish(u);
            return;
        }
    } else {
        uv_read_stop((uv_stream_t *)&u->tcp);
    }
    u->reading = want;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    ws_uv *u = req->data;

    if (u->stage != ST_DONE && status < 0)
        finish(u);
}

static void on_timer(uv_timer_t *t)
{
    ws_uv *u = t->data;

    if (u->stage != ST_OPEN) {
        finish(u); /* the last output or the peer's end of stream took too long */
        return;
    }
    ws_conn_tick(u->ws, uv_now(t->loop)); /* may queue a ping or end the connection */
    u->events = true;
    service(u);
}

static void arm_timer(ws_uv *u)
{
    uint64_t now = uv_now(u->tcp.loop);
    uint64_t at = u->stage == ST_OPEN ? ws_conn_next_deadline(u->ws) : u->stage_deadline;

    if (at == UINT64_MAX)
        uv_timer_stop(&u->timer);
    else
        uv_timer_start(&u->timer, on_timer, at > now ? at - now : 0, 0);
}

/* What follows the pulling: the closing steps, whether to read, when to wake. */
static void after_io(ws_uv *u)
{
    uint64_t now = uv_now(u->tcp.loop);

    if (u->stage == ST_OPEN && ws_conn_phase(u->ws) == WS_PHASE_CLOSED && !u->events) {
        u->stage = ST_FLUSH;
        u->stage_deadline = now + u->cfg->flush_timeout_ms;
    }
    if (u->stage == ST_FLUSH && !has_output(u) && u->layer.self != NULL && !u->ended &&
        !u->eof_seen && u->layer.end != NULL) {
        u->ended = true;
        u->layer.end(u->layer.self); /* TLS: close_notify, written before the shutdown */
        if (write_out(u) < 0) {
            finish(u);
            return;
        }
    }
    if (u->stage == ST_FLUSH && !has_output(u)) {
        if (u->eof_seen) {
            finish(u); /* the peer is gone already: nothing to wait for */
            return;
        }
        /* Our close frame is out: end our side so the peer reads it, then the end of
         * stream. Closing now with its input unread would reset the connection. */
        u->sreq.data = u;
        if (uv_shutdown(&u->sreq, (uv_stream_t *)&u->tcp, on_shutdown) < 0) {
            finish(u);
            return;
        }
        u->stage = ST_LINGER;
        u->stage_deadline = now + u->cfg->linger_ms;
    }
    if (u->stage == ST_LINGER) {
        set_reading(u, true);
    } else {
        ws_iovec runs[WRITE_RUNS + 1];
        size_t queued = 0;
        /* Backpressure: no new input while the host waits for room, while events are
         * pending, or while output piles up behind a write the socket has not finished
         * (beyond the bytes in flight, which stay queued until on_write). */
        bool piled = u->writing && (ws_conn_output_iov(u->ws, runs, WRITE_RUNS + 1, &queued),
                                    queued > u->inflight);
        set_reading(u, u->stage == ST_OPEN && !u->events && !u->waiting && !u->eof_seen && !piled);
    }
    if (u->stage != ST_DONE)
        arm_timer(u);
}

/* With a layer: feeds libws the next bytes out of it (then the end of stream, once the
 * socket's is through); false when the layer needs more input first. */
static bool feed_more(ws_uv *u)
{
    long n;

    if (u->layer.self == NULL || u->eof)
        return false;
    n = u->layer.get_input(u->layer.self, u->in, u->in_size);
    if (n > 0) {
        /* WS_E_CLOSED after the close handshake: the bytes are ignored. */
        (void)ws_conn_feed(u->ws, u->in, (size_t)n);
    } else if (n < 0 || u->eof_seen) {
        ws_conn_feed_eof(u->ws); /* close_notify, a TLS failure, or the socket ended */
        u->eof = u->eof_seen = true;
    } else {
        return false;
    }
    u->events = true;
    return true;
}

/* Pulls events while the host can take them (feeding what the layer holds as it goes),
 * writes, then decides what to wait for. */
static void service(ws_uv *u)
{
    ws_event ev;

    if (u->stage == ST_DONE)
        return;
    for (;;) {
        if (u->waiting) {
            long w;
            if (u->cfg->on_drained == NULL || !u->cfg->on_drained(u)) {
                u->waiting = false;
                continue;
            }
            w = write_out(u);
            if (w < 0 || (w == 0 && !has_output(u))) {
                finish(u); /* socket failed, or what waits can never fit */
                return;
            }
            if (w > 0)
                continue;
            break; /* on_write comes back here */
        }
        if (u->stage != ST_OPEN || (!u->events && !feed_more(u)))
            break;
        if (ws_conn_next_event(u->ws, &ev) == WS_EV_NONE) {
            u->events = false;
            continue; /* a layer may hold more input */
        }
        u->waiting = u->cfg->on_event(u, &ev);
        if (u->stage == ST_DONE)
            return; /* the host aborted from its callback */
    }
    if (write_out(u) < 0) {
        finish(u);
        return;
    }
    after_io(u);
}

void ws_uv_service(ws_uv *u)
{
    u->events = true;
    service(u);
}

void ws_uv_close(ws_uv *u, unsigned code, const char *reason, size_t reason_len)
{
    if (u->stage != ST_OPEN)
        return; /* already closing */
    if (ws_conn_phase(u->ws) == WS_PHASE_CONNECTING) {
        finish(u);
        return;
    }
    (void)ws_conn_close(u->ws, code, reason, reason_len);
    ws_uv_service(u);
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

/* Accepts and closes a connection we cannot serve, so the listener keeps going. */
static void refuse(uv_stream_t *server)
{
    uv_tcp_t *t = malloc(sizeof *t);

    if (t == NULL)
        return;
    if (uv_tcp_init(server->loop, t) < 0) {
        free(t);
        return;
    }
    (void)uv_accept(server, (uv_stream_t *)t);
    uv_close((uv_handle_t *)t, free_handle);
}

ws_uv *ws_uv_accept(uv_stream_t *server, const ws_uv_config *cfg, ws_conn *ws, void *user)
{
    return ws_uv_accept_layer(server, cfg, ws, NULL, user);
}

ws_uv *ws_uv_accept_layer(uv_stream_t *server, const ws_uv_config *cfg, ws_conn *ws,
                          const ws_layer *layer, void *user)
{
    ws_uv *u = NULL;
    size_t bufs = layer != NULL ? 2 : 1; /* a layer reads into a buffer of its own */

    if (ws == NULL || cfg->read_size == 0 || cfg->read_size > UINT32_MAX / 2 ||
        (u = calloc(1, sizeof *u + bufs * cfg->read_size)) == NULL) {
        if (layer != NULL)
            layer->free(layer->self);
        ws_conn_free(ws);
        refuse(server);
        return NULL;
    }
    if (layer != NULL) {
        u->layer = *layer;
        u->raw = u->in + cfg->read_size;
    }
    u->ws = ws;
    u->cfg = cfg;
    u->user = user;
    u->in_size = cfg->read_size;
    if (uv_tcp_init(server->loop, &u->tcp) < 0) {
        if (layer != NULL)
            layer->free(layer->self);
        ws_conn_free(ws);
        free(u);
        refuse(server);
        return NULL;
    }
    u->tcp.data = u;
    u->timer.data = u;
    u->handles = 1;
    if (uv_timer_init(server->loop, &u->timer) < 0) {
        (void)uv_accept(server, (uv_stream_t *)&u->tcp);
        u->stage = ST_DONE;
        uv_close((uv_handle_t *)&u->tcp, on_handle_closed);
        return NULL;
    }
    u->handles = 2;
    if (uv_accept(server, (uv_stream_t *)&u->tcp) < 0) {
        u->stage = ST_DONE;
        uv_close((uv_handle_t *)&u->tcp, on_handle_closed);
        uv_close((uv_handle_t *)&u->timer, on_handle_closed);
        return NULL;
    }
    (void)uv_tcp_nodelay(&u->tcp, 1); /* frames are small; latency matters */
    if (uv_read_start((uv_stream_t *)&u->tcp, on_alloc, on_read) < 0) {
        u->stage = ST_DONE;
        uv_close((uv_handle_t *)&u->tcp, on_handle_closed);
        uv_close((uv_handle_t *)&u->timer, on_handle_closed);
        return NULL;
    }
    u->reading = true;
    ws_conn_tick(ws, uv_now(server->loop)); /* starts the handshake clock */
    arm_timer(u);
    return u;
}
