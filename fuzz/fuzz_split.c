/*
 * Split invariance of the connection (DESIGN.md invariant 1): the same bytes fed whole and
 * in fuzzer-chosen pieces must give the same events and the same output bytes. In
 * streaming mode the chunks of a message are joined before comparing (chunk boundaries
 * follow the pieces; the bytes delivered, including the valid prefix before an error, must
 * not). Both roles, with or without the handshake, with the decision on the request made at
 * once or deferred to the next piece, streaming or whole_messages.
 * Input: mode byte, second mode byte (bit 0: plain HTTP requests as events), split plan,
 * then the bytes the peer sends.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

typedef struct fz_mode {
    ws_role role;
    bool whole_messages;
    bool start_open;
    bool defer;
    bool eof;
    bool small_limits;
    bool auto_pong;
    bool reject;
    bool http_requests;
} fz_mode;

typedef struct fz_run {
    const fz_mode *mode;
    ws_config cfg;
    ws_conn *c;
    void *storage;
    fz_rng rng;
    fz_events ev;
    fz_buf log;         /* the transcript: events and output, in order */
    uint8_t msg_opcode; /* streaming: the message being joined */
    fz_buf msg;
    bool pending; /* a request awaits the deferred decision */
    bool plain;   /* it is a plain HTTP request */
} fz_run;

static void fz_log_bytes(fz_buf *log, int tag, const void *p, size_t n)
{
    fz_buf_u8(log, (unsigned)tag);
    fz_buf_u64(log, n);
    fz_buf_put(log, p, n);
}

static void fz_take_output(fz_run *run)
{
    const uint8_t *d;
    size_t n = ws_conn_output(run->c, &d);

    if (n == 0)
        return;
    fz_log_bytes(&run->log, 'O', d, n);
    ws_conn_consume(run->c, n);
}

static void fz_log_partial(fz_run *run)
{
    if (run->msg_opcode == 0)
        return;
    fz_buf_u8(&run->log, 'p');
    fz_log_bytes(&run->log, run->msg_opcode, run->msg.p, run->msg.len);
    run->msg_opcode = 0;
    run->msg.len = 0;
}

static void fz_decide(fz_run *run)
{
    int rc;

    run->pending = false;
    if (run->plain)
        rc = ws_conn_reject(run->c, 200, NULL, 0, "page", 4);
    else if (run->mode->reject)
        rc = ws_conn_reject(run->c, 403, NULL, 0, "no", 2);
    else
        rc = ws_conn_accept(run->c, NULL);
    FZ_CHECK(rc == WS_OK);
    fz_buf_u8(&run->log, 'D');
    fz_take_output(run);
}

static void fz_record(fz_run *run, const ws_event *ev)
{
    fz_buf *log = &run->log;

    switch (ev->type) {
    case WS_EV_CHUNK:
        if (run->msg_opcode == 0)
            run->msg_opcode = (uint8_t)ev->opcode;
        fz_buf_put(&run->msg, ev->data, ev->len);
        if (ev->message_final) {
            fz_log_bytes(log, 'M', &run->msg_opcode, 1);
            fz_log_bytes(log, 'm', run->msg.p, run->msg.len);
            run->msg_opcode = 0;
            run->msg.len = 0;
        }
        return;
    case WS_EV_MESSAGE:
        fz_log_bytes(log, 'M', &ev->opcode, 1);
        fz_log_bytes(log, 'm', ev->data, ev->len);
        return;
    case WS_EV_REQUEST:
    case WS_EV_HTTP_REQUEST:
        run->plain = ev->type == WS_EV_HTTP_REQUEST;
        fz_log_bytes(log, run->plain ? 'H' : 'R', ev->request->target, ev->request->target_len);
        fz_buf_u64(log, ev->request->header_count);
        return;
    case WS_EV_OPEN:
        fz_log_bytes(log, 'P', ev->subprotocol, ev->subprotocol_len);
        return;
    case WS_EV_PING:
    case WS_EV_PONG:
        fz_log_bytes(log, ev->type == WS_EV_PING ? 'i' : 'o', ev->data, ev->len);
        return;
    case WS_EV_CLOSE:
        fz_buf_u64(log, ev->close_code);
        fz_log_bytes(log, 'C', ev->reason, ev->reason_len);
        return;
    case WS_EV_CLOSED:
        fz_log_partial(run);
        fz_buf_u64(log, (uint64_t)(int64_t)ev->error);
        fz_buf_u64(log, ev->close_code);
        fz_buf_u64(log, (uint64_t)(int64_t)ev->http_status);
        fz_log_bytes(log, 'Z', ev->reason, ev->reason_len);
        return;
    default: /* WS_EV_NONE; an unknown type was refused by fz_events_check */
        return;
    }
}

static void fz_pump(fz_run *run)
{
    ws_event ev;
    size_t steps = 0;

    for (;;) {
        ws_event_type t = ws_conn_next_event(run->c, &ev);

        fz_events_check(&run->ev, run->c, &ev);
        FZ_CHECK(++steps < 100000);
        if (t == WS_EV_NONE)
            break;
        fz_record(run, &ev);
        if (t == WS_EV_REQUEST || t == WS_EV_HTTP_REQUEST) {
            if (run->mode->defer)
                run->pending = true;
            else
                fz_decide(run);
        }
        fz_take_output(run); /* after every event, so no pong is ever dropped for room */
    }
}

static void fz_run_stream(fz_run *run, const uint8_t *stream, size_t len, fz_split *plan)
{
    static const char *const protocols[] = {"chat"};
    size_t pos = 0, size;
    const fz_mode *m = run->mode;
    ws_config *cfg = &run->cfg;

    ws_config_init(cfg, m->role);
    cfg->whole_messages = m->whole_messages;
    cfg->auto_pong = m->auto_pong;
    cfg->http_requests = m->http_requests;
    cfg->random = fz_random;
    cfg->random_ud = &run->rng;
    /* Far above anything a 4 KiB input can queue or carry, and cheap to allocate. */
    cfg->max_output = 65536;
    cfg->max_message_size = 65536;
    if (m->small_limits) {
        cfg->max_frame_size = 100;
        cfg->max_message_size = 300;
        cfg->max_fragments = 3;
    }
    size = ws_conn_storage_size(cfg);
    run->storage = fz_block(size);
    run->c = ws_conn_init(run->storage, size, cfg);
    FZ_CHECK(run->c != NULL);
    fz_events_init(&run->ev, cfg);

    if (m->start_open) {
        FZ_CHECK(ws_conn_start_open(run->c, NULL) == WS_OK);
    } else if (m->role == WS_ROLE_CLIENT) {
        ws_client_opts o;
        memset(&o, 0, sizeof o);
        o.url = "ws://example.com/chat";
        o.subprotocols = protocols;
        o.subprotocol_count = 1;
        FZ_CHECK(ws_conn_connect(run->c, &o) == WS_OK);
    }
    fz_take_output(run);
    fz_pump(run);

    while (pos < len) {
        size_t n = fz_split_next(plan, len - pos);
        uint8_t *piece = fz_dup(stream + pos, n);
        int rc;

        if (run->pending) { /* the host decides between two reads */
            fz_decide(run);
            fz_pump(run);
        }
        rc = ws_conn_feed(run->c, piece, n);
        FZ_CHECK(rc == WS_OK || (rc == WS_E_CLOSED && run->ev.closed_seen));
        fz_pump(run);
        free(piece);
        pos += n;
    }
    if (run->pending) {
        fz_decide(run);
        fz_pump(run);
    }
    if (m->eof) {
        ws_conn_feed_eof(run->c);
        fz_pump(run);
    }
    fz_log_partial(run);
    fz_take_output(run);
}

static void fz_run_free(fz_run *run)
{
    ws_conn_free(run->c);
    free(run->storage);
    fz_events_free(&run->ev);
    fz_buf_free(&run->log);
    fz_buf_free(&run->msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_mode mode;
    fz_reader r;
    fz_split plan, whole;
    fz_run a, b;
    const uint8_t *stream;
    size_t len;
    uint8_t m;

    fz_reader_init(&r, data, size);
    m = fz_u8(&r);
    mode.http_requests = (fz_u8(&r) & 1u) != 0;
    mode.role = (m & 1u) ? WS_ROLE_CLIENT : WS_ROLE_SERVER;
    mode.whole_messages = (m & 2u) != 0;
    mode.start_open = (m & 4u) != 0;
    mode.defer = (m & 8u) != 0;
    mode.eof = (m & 16u) != 0;
    mode.small_limits = (m & 32u) != 0;
    mode.auto_pong = (m & 64u) == 0;
    mode.reject = (m & 128u) != 0;
    fz_split_read(&plan, &r);
    len = fz_take(&r, r.n, &stream);
    /* Bytes that arrive while a decision is deferred wait in the head buffer behind the
     * request (max_head_size 8192 for both): a stream that could fill it would fail whole
     * but not in pieces, by design. */
    if (len > 4096)
        mode.defer = false;

    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.mode = b.mode = &mode;
    fz_split_whole(&whole);
    fz_run_stream(&a, stream, len, &whole);
    fz_run_stream(&b, stream, len, &plan);
    FZ_CHECK(fz_buf_eq(&a.log, &b.log));
    fz_run_free(&a);
    fz_run_free(&b);
    return 0;
}
