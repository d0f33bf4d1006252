/*
 * ws_levent: libws on a libevent bufferevent (see ws_libevent.h). The bufferevent owns the
 * socket buffers; the glue moves bytes between them and libws, and keeps one timer for
 * libws's deadlines and the closing steps.
 */
#define _GNU_SOURCE /* clock_gettime, shutdown under -std=c99 */
#include "ws_libevent.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

enum stage {
    ST_OPEN,   /* feeding and pulling events */
    ST_FLUSH,  /* WS_EV_CLOSED seen: writing the last output */
    ST_LINGER, /* our side shut: reading away the peer's last bytes until it ends */
    ST_DONE
};

struct ws_levent {
    struct bufferevent *bev;
    struct event *timer;
    ws_conn *ws;
    const ws_levent_config *cfg;
    void *user;
    enum stage stage;
    bool events;   /* input, a tick or a call may have produced events not pulled yet */
    bool waiting;  /* the host waits for room in the output queue */
    bool eof_seen; /* the peer ended its side (or the socket failed) */
    bool eof_fed;  /* ... and libws was told, after the input before it */
    int depth;     /* calls of service in progress: l is freed when the outermost returns */
    uint64_t stage_deadline;
    size_t in_size;
    uint8_t in[]; /* bytes fed; libws unmasks in place here until the events are pulled */
};

static void service(ws_levent *l);

void ws_levent_config_init(ws_levent_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->read_size = 64u * 1024u;
    cfg->write_high = 64u * 1024u;
    cfg->flush_timeout_ms = 5000;
    cfg->linger_ms = 2000;
}

ws_conn *ws_levent_conn(const ws_levent *l)
{
    return l->ws;
}

struct bufferevent *ws_levent_bufferevent(const ws_levent *l)
{
    return l->bev;
}

void *ws_levent_user(const ws_levent *l)
{
    return l->user;
}

/* libevent's timers are monotonic; libws gets the same kind of clock. */
static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The end: the host forgets l, then everything goes (libevent defers the bufferevent's
 * release when this runs inside one of its callbacks). */
static void finish(ws_levent *l)
{
    if (l->stage == ST_DONE)
        return;
    l->stage = ST_DONE;
    if (l->cfg->on_finish != NULL)
        l->cfg->on_finish(l);
    bufferevent_free(l->bev);
    event_free(l->timer);
    ws_conn_free(l->ws);
    if (l->depth == 0)
        free(l); /* else from a callback service made (the host closed or aborted): later */
}

void ws_levent_abort(ws_levent *l)
{
    finish(l);
}

/* Moves libws's output into the bufferevent while it holds less than write_high; returns
 * the bytes moved, or -1 on failure. bufferevent_write copies, so ws_conn_output's pointer
 * need not outlive the call and the bytes are consumed at once. */
static long write_out(ws_levent *l)
{
    struct evbuffer *out = bufferevent_get_output(l->bev);
    const uint8_t *p;
    size_t n;

    if (evbuffer_get_length(out) >= l->cfg->write_high)
        return 0;
    n = ws_conn_output(l->ws, &p);
    if (n == 0)
        return 0;
    if (bufferevent_write(l->bev, p, n) < 0)
        return -1;
    ws_conn_consume(l->ws, n);
    return (long)n;
}

static bool has_output(const ws_levent *l)
{
    const uint8_t *p;
    return ws_conn_output(l->ws, &p) > 0 || evbuffer_get_length(bufferevent_get_output(l->bev)) > 0;
}

/* Feeds the next bytes the bufferevent holds (then the end of stream once they are all
 * fed); false when there is nothing to feed. */
static bool feed_more(ws_levent *l)
{
    int n = evbuffer_remove(bufferevent_get_input(l->bev), l->in, l->in_size);

    if (n > 0) {
        ws_conn_set_time(l->ws, now_ms());
        /* WS_E_CLOSED after the close handshake: the bytes are ignored. */
        (void)ws_conn_feed(l->ws, l->in, (size_t)n);
    } else if (l->eof_seen && !l->eof_fed) {
        ws_conn_feed_eof(l->ws);
        l->eof_fed = true;
    } else {
        return false;
    }
    l->events = true;
    return true;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    ws_levent *l = arg;

    (void)fd;
    (void)what;
    if (l->stage != ST_OPEN) {
        finish(l); /* the last output or the peer's end of stream took too long */
        return;
    }
    ws_conn_tick(l->ws, now_ms()); /* may queue a ping or end the connection */
    l->events = true;
    service(l);
}

static void arm_timer(ws_levent *l)
{
    uint64_t now = now_ms();
    uint64_t at = l->stage == ST_OPEN ? ws_conn_next_deadline(l->ws) : l->stage_deadline;
    struct timeval tv;
    uint64_t ms;

    if (at == UINT64_MAX) {
        evtimer_del(l->timer);
        return;
    }
    ms = at > now ? at - now : 0;
    tv.tv_sec = (time_t)(ms / 1000u);
    tv.tv_usec = (suseconds_t)(ms % 1000u) * 1000;
    evtimer_add(l->timer, &tv);
}

/* What follows the pulling: the closing steps, whether to read, when to wake. */
static void after_io(ws_levent *l)
{
    if (l->stage == ST_OPEN && ws_conn_phase(l->ws) == WS_PHASE_CLOSED && !l->events) {
        l->stage = ST_FLUSH;
        l->stage_deadline = now_ms() + l->cfg->flush_timeout_ms;
    }
    if (l->stage == ST_FLUSH && !has_output(l)) {
        if (l->eof_seen) {
            finish(l); /* the peer is gone already: nothing to wait for */
            return;
        }
        /* Our close frame is out: end our side so the peer reads it, then the end of
         * stream. Closing now with its input unread would reset the connection. */
        if (l->cfg->on_flushed != NULL)
            l->cfg->on_flushed(l);
        if (shutdown(bufferevent_getfd(l->bev), SHUT_WR) < 0) {
            finish(l);
            return;
        }
        evbuffer_drain(bufferevent_get_input(l->bev),
                       evbuffer_get_length(bufferevent_get_input(l->bev)));
        l->stage = ST_LINGER;
        l->stage_deadline = now_ms() + l->cfg->linger_ms;
    }
    if (l->stage == ST_LINGER) {
        bufferevent_enable(l->bev, EV_READ);
    } else {
        /* Backpressure: no new input while the host waits for room or while output piles
         * up behind a full bufferevent (the input buffer is bounded by its watermark). */
        const uint8_t *p;
        bool piled = ws_conn_output(l->ws, &p) > 0 &&
                     evbuffer_get_length(bufferevent_get_output(l->bev)) >= l->cfg->write_high;
        if (l->stage == ST_OPEN && !l->waiting && !l->eof_seen && !piled)
            bufferevent_enable(l->bev, EV_READ);
        else
            bufferevent_disable(l->bev, EV_READ);
    }
    arm_timer(l);
}

/* Pulls events while the host can take them (feeding what was read as it goes), writes,
 * then decides what to wait for. */
static void pull_and_write(ws_levent *l)
{
    ws_event ev;

    if (l->stage == ST_DONE)
        return;
    for (;;) {
        if (l->waiting) {
            long w;
            if (l->cfg->on_drained == NULL || !l->cfg->on_drained(l)) {
                l->waiting = false;
                continue;
            }
            w = write_out(l);
            if (w < 0 || (w == 0 && !has_output(l))) {
                finish(l); /* failed, or what waits can never fit */
                return;
            }
            if (w > 0)
                continue;
            break; /* the write callback comes back here */
        }
        if (l->stage != ST_OPEN || (!l->events && !feed_more(l)))
            break;
        if (ws_conn_next_event(l->ws, &ev) == WS_EV_NONE) {
            l->events = false;
            continue; /* more input may be buffered */
        }
        l->waiting = l->cfg->on_event(l, &ev);
        if (l->stage == ST_DONE)
            return; /* the host aborted from its callback */
    }
    if (write_out(l) < 0) {
        finish(l);
        return;
    }
    after_io(l);
}

/* pull_and_write, with l kept alive while a callback it makes ends the connection. */
static void service(ws_levent *l)
{
    l->depth++;
    pull_and_write(l);
    if (--l->depth == 0 && l->stage == ST_DONE)
        free(l);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    ws_levent *l = arg;

    if (l->stage == ST_OPEN) {
        service(l);
    } else {
        struct evbuffer *in = bufferevent_get_input(bev);
        evbuffer_drain(in, evbuffer_get_length(in)); /* closing: thrown away */
    }
}

static void on_write(struct bufferevent *bev, void *arg)
{
    ws_levent *l = arg;

    (void)bev;
    if (l->stage == ST_OPEN || l->stage == ST_FLUSH)
        service(l);
}

static void on_bev_event(struct bufferevent *bev, short what, void *arg)
{
    ws_levent *l = arg;

    (void)bev;
    if ((what & BEV_EVENT_ERROR) || l->stage == ST_LINGER) {
        finish(l); /* a failed socket, or the peer's end of stream while lingering */
        return;
    }
    if (what & BEV_EVENT_EOF) {
        l->eof_seen = true;
        if (l->stage == ST_OPEN || l->stage == ST_FLUSH)
            service(l);
    }
}

void ws_levent_service(ws_levent *l)
{
    l->events = true;
    service(l);
}

void ws_levent_close(ws_levent *l, unsigned code, const char *reason, size_t reason_len)
{
    if (l->stage != ST_OPEN)
        return; /* already closing */
    if (ws_conn_phase(l->ws) == WS_PHASE_CONNECTING) {
        finish(l);
        return;
    }
    (void)ws_conn_close(l->ws, code, reason, reason_len);
    ws_levent_service(l);
}

ws_levent *ws_levent_start(struct bufferevent *bev, const ws_levent_config *cfg, ws_conn *ws,
                           void *user)
{
    ws_levent *l = NULL;

    if (bev != NULL && ws != NULL && cfg->read_size > 0 && cfg->read_size <= INT32_MAX &&
        (l = calloc(1, sizeof *l + cfg->read_size)) != NULL &&
        (l->timer = evtimer_new(bufferevent_get_base(bev), on_timer, l)) == NULL) {
        free(l);
        l = NULL;
    }
    if (l == NULL) {
        if (bev != NULL)
            bufferevent_free(bev);
        ws_conn_free(ws);
        return NULL;
    }
    l->bev = bev;
    l->ws = ws;
    l->cfg = cfg;
    l->user = user;
    l->in_size = cfg->read_size;
    /* The input buffer stops growing at read_size; the write callback fires when all the
     * output went to the socket. */
    bufferevent_setwatermark(bev, EV_READ, 0, cfg->read_size);
    bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
    bufferevent_setcb(bev, on_read, on_write, on_bev_event, l);
    ws_conn_tick(ws, now_ms()); /* starts the handshake clock */
    after_io(l);
    return l;
}
