/*
 * The whole connection engine in one role (FZ_ROLE, set by the build), driven like a host
 * would: the input is cut into fuzzer-chosen pieces, each fed in its own exact-size heap
 * block that is freed as soon as the events are drained (so a stale pointer is caught),
 * the request is accepted or rejected, messages may be echoed, and the output is drained
 * at fuzzer-chosen moments. Every event is checked (fz_events), everything written must be
 * a well-formed stream (fz_output), pending output stays under max_output plus the close
 * slack, heap use stays under ws_conn_storage_size and nothing leaks, including when the
 * allocator fails. Limits are fuzzer-chosen, down to their minimums.
 * Input: settings (4 bytes), split plan, then the bytes the peer sends.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#ifdef FZ_TRACE /* -DFZ_TRACE: print each event, to see what an input does */
#include <stdio.h>
#define FZ_LOG(...) fprintf(stderr, __VA_ARGS__)
#else
#define FZ_LOG(...) ((void)0)
#endif

#ifndef FZ_ROLE
#define FZ_ROLE WS_ROLE_SERVER
#endif

enum { FZ_DRAIN_EVENT, FZ_DRAIN_PIECE, FZ_DRAIN_END, FZ_DRAIN_TRICKLE };

typedef struct fz_host {
    ws_config cfg;
    ws_conn *c;
    void *storage; /* fixed-memory mode */
    fz_alloc alloc;
    fz_rng rng;
    fz_events ev;
    fz_output out;
    int drain;
    bool echo;
    bool reject;
    bool pick_protocol;
    bool echo_open; /* a fragmented echo is in progress */
    bool echo_skip; /* this message is not echoed: its first fragment was not queued */
    bool stop;      /* the host gave up (a decision could not be queued) */
} fz_host;

static void fz_check_bounds(fz_host *h)
{
    const uint8_t *d;

    FZ_CHECK(ws_conn_output(h->c, &d) <= fz_output_bound(&h->cfg));
    if (h->storage == NULL)
        FZ_CHECK(h->alloc.live_bytes <= fz_heap_bound(&h->cfg));
}

static void fz_decide(fz_host *h, const ws_event *ev)
{
    ws_accept_opts opts;
    ws_list_iter it;
    const char *item;
    size_t len;
    char proto[32];
    int rc;

    if (h->reject) {
        rc = ws_conn_reject(h->c, 403, NULL, 0, "go away", 7);
        FZ_CHECK(rc == WS_OK || rc == WS_E_NOMEM);
        if (rc != WS_OK)
            h->stop = true;
        return;
    }
    memset(&opts, 0, sizeof opts);
    ws_list_iter_init(&it, ev->request->headers, ev->request->header_count,
                      "Sec-WebSocket-Protocol");
    if (h->pick_protocol && ws_list_iter_next(&it, &item, &len) && len < sizeof proto &&
        memchr(item, '\0', len) == NULL) {
        memcpy(proto, item, len);
        proto[len] = '\0';
        opts.subprotocol = proto;
    }
    rc = ws_conn_accept(h->c, &opts);
    if (opts.subprotocol != NULL && !fz_is_token(proto, strlen(proto))) {
        /* An offered element that is not a token is never echoed. */
        FZ_CHECK(rc == WS_E_HTTP_SUBPROTOCOL);
        opts.subprotocol = NULL;
        rc = ws_conn_accept(h->c, &opts);
    }
    FZ_CHECK(rc == WS_OK || rc == WS_E_NOMEM);
    if (rc != WS_OK) {
        rc = ws_conn_reject(h->c, 503, NULL, 0, NULL, 0);
        FZ_CHECK(rc == WS_OK || rc == WS_E_NOMEM);
        if (rc != WS_OK)
            h->stop = true;
    }
}

static void fz_echo(fz_host *h, const ws_event *ev)
{
    int rc;

    if (ev->type == WS_EV_MESSAGE) {
        rc = ws_conn_send(h->c, (ws_opcode)ev->opcode, ev->data, ev->len);
    } else if (h->echo_skip) {
        /* A fragment of this message could not be sent: the rest would not make sense. */
        h->echo_skip = !ev->message_final;
        return;
    } else {
        ws_opcode op = h->echo_open ? WS_OP_CONTINUATION : (ws_opcode)ev->opcode;
        rc = ws_conn_send_fragment(h->c, op, ev->data, ev->len, ev->message_final);
        if (rc == WS_OK)
            h->echo_open = !ev->message_final;
        else if (!ev->message_final && !h->echo_open)
            h->echo_skip = true; /* nothing of it went out: leave the rest of it */
        else
            h->echo = false; /* a message begun on the wire can never be finished: stop */
    }
    FZ_LOG("  echo -> %d\n", rc);
    /* Delivered text is valid, so the echo of an unbroken chain of chunks is too. Anything
     * else may be refused for room, or because the connection is closing. */
    FZ_CHECK(rc == WS_OK || rc == WS_E_BACKPRESSURE || rc == WS_E_CLOSED || rc == WS_E_NOMEM ||
             rc == WS_E_SEND_TOO_BIG);
}

static void fz_pump(fz_host *h)
{
    ws_event ev;
    size_t steps = 0;

    for (;;) {
        ws_event_type t = ws_conn_next_event(h->c, &ev);

        FZ_CHECK(t == ev.type);
        FZ_LOG("event %d error %d status %d len %zu\n", (int)t, ev.error, ev.http_status, ev.len);
        fz_events_check(&h->ev, h->c, &ev);
        FZ_CHECK(++steps < 100000);
        if (t == WS_EV_NONE)
            break;
        if (t == WS_EV_REQUEST) {
            fz_decide(h, &ev);
        } else if (t == WS_EV_HTTP_REQUEST) {
            int rc = ws_conn_reject(h->c, 200, NULL, 0, "hello", 5);
            FZ_CHECK(rc == WS_OK || rc == WS_E_NOMEM);
            if (rc != WS_OK)
                h->stop = true;
        } else if (h->echo && (t == WS_EV_CHUNK || t == WS_EV_MESSAGE))
            fz_echo(h, &ev);
        fz_check_bounds(h);
        if (h->drain == FZ_DRAIN_EVENT)
            (void)fz_drain(h->c, SIZE_MAX, &h->out, NULL);
        else if (h->drain == FZ_DRAIN_TRICKLE)
            (void)fz_drain(h->c, 7, &h->out, NULL);
        if (h->stop)
            break;
    }
    fz_check_bounds(h);
}

static bool fz_host_create(fz_host *h, uint8_t c0, uint8_t c1, uint8_t c2, uint8_t c3)
{
    static const size_t frames[4] = {0, 1, 125, 1000};
    static const size_t messages[4] = {65536, 10, 300, 3000};
    static const size_t fragments[4] = {0, 1, 2, 8};
    static const size_t outputs[4] = {65536, 256, 1000, 4096};
    static const size_t heads[4] = {8192, 64, 300, 1024};
    static const size_t maxh[4] = {64, 8, 9, 16};
    ws_config *cfg = &h->cfg;

    /* Message and output limits stay small: a 16 MiB connection storage would cost more to
     * allocate under the sanitizers than the run itself, and no input comes near them. */
    ws_config_init(cfg, FZ_ROLE);
    cfg->whole_messages = (c0 & 1u) != 0;
    cfg->auto_pong = (c0 & 2u) == 0;
    h->echo = (c0 & 8u) != 0;
    h->drain = (c0 >> 4) & 3;
    if (frames[c1 & 3u])
        cfg->max_frame_size = frames[c1 & 3u];
    cfg->max_message_size = messages[(c1 >> 2) & 3u];
    if (fragments[(c1 >> 4) & 3u])
        cfg->max_fragments = fragments[(c1 >> 4) & 3u];
    cfg->max_output = outputs[(c1 >> 6) & 3u];
    cfg->max_head_size = heads[c2 & 3u];
    cfg->max_headers = maxh[(c2 >> 2) & 3u];
    cfg->http.allow_bare_lf = (c2 & 16u) != 0;
    cfg->http_requests = (c2 & 128u) != 0;
    h->reject = (c2 & 32u) != 0;
    h->pick_protocol = (c2 & 64u) != 0;
    cfg->random = fz_random;
    cfg->random_ud = &h->rng;
    if (c0 & 4u) {
        cfg->realloc = fz_realloc;
        cfg->realloc_ud = &h->alloc;
        h->alloc.fail_at = c3; /* 0: never */
        h->c = ws_conn_new(cfg);
        if (h->c == NULL) {
            FZ_CHECK(c3 != 0 && h->alloc.live_bytes == 0);
            return false;
        }
    } else {
        size_t size = ws_conn_storage_size(cfg);
        FZ_CHECK(size > 0);
        h->storage = fz_block(size);
        FZ_CHECK(ws_conn_init(h->storage, size - 1, cfg) == NULL); /* too small */
        h->c = ws_conn_init(h->storage, size, cfg);
        FZ_CHECK(h->c != NULL);
    }
    fz_events_init(&h->ev, cfg);
    return true;
}

static void fz_host_destroy(fz_host *h)
{
    ws_conn_free(h->c);
    free(h->storage);
    FZ_CHECK(h->alloc.live_bytes == 0 && h->alloc.live_blocks == 0); /* no leak */
    fz_events_free(&h->ev);
    fz_output_free(&h->out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const protocols[] = {"chat", "superchat"};
    fz_host h;
    fz_reader r;
    fz_split plan;
    const uint8_t *stream;
    uint8_t c0, c1, c2, c3;
    size_t len, pos = 0;
    bool start_open, eof;

    fz_reader_init(&r, data, size);
    c0 = fz_u8(&r);
    c1 = fz_u8(&r);
    c2 = fz_u8(&r);
    c3 = fz_u8(&r);
    fz_split_read(&plan, &r);
    len = fz_take(&r, r.n, &stream);
    start_open = (c0 & 64u) != 0;
    eof = (c0 & 128u) != 0;

    memset(&h, 0, sizeof h);
    if (!fz_host_create(&h, c0, c1, c2, c3))
        return 0;
    fz_output_init(&h.out, FZ_ROLE, !start_open, true);
    if (start_open) {
        FZ_CHECK(ws_conn_start_open(h.c, "chat") == WS_OK);
    } else if (FZ_ROLE == WS_ROLE_CLIENT) {
        ws_client_opts o;
        int rc;
        memset(&o, 0, sizeof o);
        o.url = "ws://example.com/chat";
        o.subprotocols = protocols;
        o.subprotocol_count = h.pick_protocol ? 2 : 0;
        rc = ws_conn_connect(h.c, &o);
        FZ_CHECK(rc == WS_OK || rc == WS_E_NOMEM);
        if (rc != WS_OK)
            h.stop = true;
    }
    fz_check_bounds(&h);

    while (pos < len && !h.stop) {
        size_t n = fz_split_next(&plan, len - pos);
        uint8_t *piece = fz_dup(stream + pos, n);
        int rc = ws_conn_feed(h.c, piece, n);

        /* Drained every time, so the only refusal is after the end. */
        FZ_CHECK(rc == (h.ev.closed_seen ? WS_E_CLOSED : WS_OK));
        fz_pump(&h);
        free(piece);
        if (h.drain == FZ_DRAIN_PIECE)
            (void)fz_drain(h.c, SIZE_MAX, &h.out, NULL);
        pos += n;
    }
    if (eof && !h.stop) {
        ws_conn_feed_eof(h.c);
        fz_pump(&h);
        FZ_CHECK(h.ev.closed_seen); /* end of stream always ends the connection */
    }
    if (h.ev.closed_seen) {
        uint8_t one = 0;
        ws_event ev;
        FZ_CHECK(ws_conn_feed(h.c, &one, 1) == WS_E_CLOSED);
        FZ_CHECK(ws_conn_next_event(h.c, &ev) == WS_EV_NONE);
        FZ_CHECK(ws_conn_send(h.c, WS_OP_BINARY, &one, 1) == WS_E_CLOSED);
        FZ_CHECK(ws_conn_ping(h.c, NULL, 0) == WS_E_CLOSED);
        FZ_CHECK(ws_conn_close(h.c, 1000, NULL, 0) == WS_E_CLOSED);
        FZ_CHECK(ws_conn_phase(h.c) == WS_PHASE_CLOSED);
    }
    (void)fz_drain(h.c, SIZE_MAX, &h.out, NULL);
    fz_host_destroy(&h);
    return 0;
}
