/*
 * Deadlines from the host's time: pings at an interval, the pong, idle, opening-handshake
 * and close-handshake timeouts, and the round-trip time. libws never reads a clock; the host
 * passes the time in with ws_conn_tick and asks ws_conn_next_deadline when to do so again.
 */
#include "conn.h"

static bool ws_deadline_passed(uint64_t since, uint32_t timeout, uint64_t now)
{
    return timeout != 0 && now - since >= timeout;
}

static void ws_deadline_min(uint64_t *best, uint64_t since, uint32_t timeout)
{
    if (timeout != 0 && since + timeout < *best)
        *best = since + timeout;
}

static bool ws_conn_finished(const ws_conn *c)
{
    return c->rx == WS_RX_CLOSED_EVENT || c->rx == WS_RX_DONE;
}

/* Whether the keepalive hooks decide what counts as activity. */
static bool ws_activity_hooked(const ws_conn *c)
{
    return c->cfg.keepalive != NULL && c->cfg.keepalive->is_activity != NULL;
}

/* FNV-1a: the outstanding ping is remembered by its length and this hash of its payload, not
 * a copy, and a pong matches it when both agree. */
static uint32_t ws_ping_hash(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

void ws_keepalive_start(ws_conn *c)
{
    c->rtt = -1;
}

void ws_keepalive_on_feed(ws_conn *c, size_t len)
{
    if (len > 0 && !ws_activity_hooked(c))
        c->last_rx = c->now;
}

void ws_keepalive_on_event(ws_conn *c, const ws_event *ev)
{
    if (ev->type == WS_EV_PONG) {
        /* Any pong shows the peer is alive; only the answer to our ping gives the RTT. */
        if (c->ping_outstanding && ev->len == c->ping_len &&
            ws_ping_hash(ev->data, ev->len) == c->ping_hash)
            c->rtt = (int64_t)(c->now - c->ping_sent_at);
        c->ping_outstanding = false;
    }
    if (ws_activity_hooked(c)) {
        bool active;
        c->in_callback = true;
        active = c->cfg.keepalive->is_activity(c->cfg.keepalive->ud, c, ev);
        c->in_callback = false;
        if (active)
            c->last_rx = c->now;
    }
}

/* Whether a ping may still go out: a hook may have closed the connection meanwhile. */
static bool ws_keepalive_may_ping(const ws_conn *c)
{
    return ws_conn_phase_of(c) == WS_PHASE_OPEN && !c->close_sent && !ws_conn_finished(c);
}

static void ws_keepalive_ping(ws_conn *c, uint64_t now)
{
    const ws_keepalive_hooks *k = c->cfg.keepalive;
    uint8_t payload[WS_CONTROL_PAYLOAD_MAX];
    size_t len = 8, i;
    bool want = true;

    c->next_ping = now + c->cfg.ping_interval_ms;
    if (k != NULL && k->want_ping != NULL) {
        c->in_callback = true;
        want = k->want_ping(k->ud, c, now);
        c->in_callback = false;
    }
    if (!want || !ws_keepalive_may_ping(c))
        return;
    if (k != NULL && k->ping_payload != NULL) {
        c->in_callback = true;
        len = k->ping_payload(k->ud, c, now, payload);
        c->in_callback = false;
        if (!ws_keepalive_may_ping(c))
            return;
        if (len > WS_CONTROL_PAYLOAD_MAX)
            len = WS_CONTROL_PAYLOAD_MAX;
    } else {
        for (i = 0; i < 8; i++)
            payload[i] = (uint8_t)(now >> (56 - 8 * i));
    }
    /* A full output queue skips this ping; the next interval tries again. */
    if (ws_conn_queue_frame(c, WS_OP_PING, true, 0, payload, len, false) != WS_OK)
        return;
    if (!c->ping_outstanding) {
        c->ping_outstanding = true;
        c->ping_sent_at = now;
        c->ping_len = (uint8_t)len;
        c->ping_hash = ws_ping_hash(payload, len);
    }
}

void ws_conn_set_time(ws_conn *c, uint64_t now_ms)
{
    c->now = now_ms;
    if (!c->clock_started) {
        c->clock_started = true;
        c->last_rx = now_ms;
        if (c->hsa != NULL)
            c->hsa->started_at = now_ms;
        c->next_ping = now_ms + c->cfg.ping_interval_ms;
    }
}

int ws_keepalive_due(ws_conn *c, uint64_t now_ms)
{
    const ws_conn_cfg *cfg = &c->cfg;

    if (ws_conn_finished(c))
        return WS_OK;
    switch (ws_conn_phase_of(c)) {
    case WS_PHASE_CONNECTING:
        if (c->rx != WS_RX_IDLE &&
            ws_deadline_passed(c->hsa->started_at, c->hsa->cfg.handshake_timeout_ms, now_ms))
            return WS_E_HANDSHAKE_TIMEOUT;
        return WS_OK;
    case WS_PHASE_OPEN:
        if (c->ping_outstanding &&
            ws_deadline_passed(c->ping_sent_at, cfg->pong_timeout_ms, now_ms))
            return WS_E_PONG_TIMEOUT;
        if (ws_deadline_passed(c->last_rx, cfg->idle_timeout_ms, now_ms))
            return WS_E_IDLE_TIMEOUT;
        if (cfg->ping_interval_ms != 0 && now_ms >= c->next_ping)
            ws_keepalive_ping(c, now_ms);
        return WS_OK;
    case WS_PHASE_CLOSING:
        if (ws_deadline_passed(c->close_sent_at, cfg->close_timeout_ms, now_ms))
            return WS_E_CLOSE_TIMEOUT;
        return WS_OK;
    case WS_PHASE_CLOSED:
    default:
        return WS_OK;
    }
}

uint64_t ws_conn_next_deadline(const ws_conn *c)
{
    const ws_conn_cfg *cfg = &c->cfg;
    uint64_t best = UINT64_MAX;

    if (ws_conn_finished(c))
        return best;
    if (!c->clock_started)
        return 0; /* the clocks start at the first tick */
    switch (ws_conn_phase_of(c)) {
    case WS_PHASE_CONNECTING:
        if (c->rx != WS_RX_IDLE)
            ws_deadline_min(&best, c->hsa->started_at, c->hsa->cfg.handshake_timeout_ms);
        break;
    case WS_PHASE_OPEN:
        if (c->ping_outstanding)
            ws_deadline_min(&best, c->ping_sent_at, cfg->pong_timeout_ms);
        ws_deadline_min(&best, c->last_rx, cfg->idle_timeout_ms);
        if (cfg->ping_interval_ms != 0 && c->next_ping < best)
            best = c->next_ping;
#ifdef WS_HAVE_DEFLATE
        if (ws_conn_deflate_deadline(c) < best) /* idle zlib state to give back */
            best = ws_conn_deflate_deadline(c);
#endif
        break;
    case WS_PHASE_CLOSING:
        ws_deadline_min(&best, c->close_sent_at, cfg->close_timeout_ms);
        break;
    case WS_PHASE_CLOSED:
    default:
        break;
    }
    return best;
}

int64_t ws_conn_rtt(const ws_conn *c)
{
    return c->rtt;
}

uint64_t ws_conn_now(const ws_conn *c)
{
    return c->now;
}
