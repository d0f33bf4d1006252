/*
 * Connections with permessage-deflate in use (ws_conn_set_deflate + ws_conn_start_open),
 * two ways, by the first input byte:
 *  - round trip: a client and a server with fuzzer-chosen parameters, level, memLevel,
 *    min_size and delivery mode send each other fuzzer-chosen messages (whole, fragmented,
 *    opted out of compression), the bytes cut into fuzzer-chosen pieces; every message must
 *    arrive intact and in order, with no error;
 *  - hostile: a server with a small message limit (1..4096 bytes) is fed frames whose
 *    header bits and compressed payloads are the fuzzer's; every event is checked
 *    (fz_events: inflated messages within the limit, text valid UTF-8, order), an error
 *    ends with the close code its cause has, and all memory is given back.
 * Input: mode and settings (6 bytes), split plan, then operations (round trip) or frames
 * (hostile: header byte, length byte, payload).
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t fz_key[4] = {0x37, 0xfa, 0x21, 0x3d};

static void fz_params(fz_reader *r, ws_deflate_params *p)
{
    uint8_t b = fz_u8(r), w = fz_u8(r);

    p->server_no_context_takeover = (b & 1) != 0;
    p->client_no_context_takeover = (b & 2) != 0;
    p->server_max_window_bits = (uint8_t)(8 + (w & 7));
    p->client_max_window_bits = (uint8_t)(8 + (w >> 4 & 7));
}

static ws_conn *fz_open(ws_config *cfg, const ws_deflate_params *p)
{
    ws_conn *c = ws_conn_new(cfg);
    ws_event ev;
    int rc;

    if (c == NULL)
        return NULL;
    rc = ws_conn_set_deflate(c, p);
    FZ_CHECK(rc == WS_OK || rc == WS_E_NOMEM);
    FZ_CHECK(ws_conn_start_open(c, NULL) == WS_OK);
    FZ_CHECK(ws_conn_next_event(c, &ev) == WS_EV_OPEN);
    FZ_CHECK(ws_conn_deflate_params(c, NULL) == (rc == WS_OK));
    return c;
}

/* ---- round trip ------------------------------------------------------------------------ */

typedef struct fz_side {
    ws_conn *c;
    fz_buf sent;    /* messages sent to the other side: op, length (8 bytes), bytes */
    fz_buf got;     /* messages received, same form */
    fz_buf partial; /* streaming: the message so far */
    uint8_t op;
} fz_side;

static void fz_log_msg(fz_buf *b, uint8_t op, const uint8_t *p, size_t n)
{
    fz_buf_u8(b, op);
    fz_buf_u64(b, n);
    fz_buf_put(b, p, n);
}

/* Moves from's output into to in pieces, and records what to receives. */
static void fz_pump(fz_side *from, fz_side *to, fz_split *plan)
{
    const uint8_t *d;
    size_t n;

    while ((n = ws_conn_output(from->c, &d)) > 0) {
        size_t k = fz_split_next(plan, n);
        uint8_t *piece = fz_dup(d, k);
        ws_event ev;

        ws_conn_consume(from->c, k);
        FZ_CHECK(ws_conn_feed(to->c, piece, k) == WS_OK);
        while (ws_conn_next_event(to->c, &ev) != WS_EV_NONE) {
            FZ_CHECK(ev.type == WS_EV_CHUNK || ev.type == WS_EV_MESSAGE);
            if (ev.type == WS_EV_MESSAGE) {
                fz_log_msg(&to->got, (uint8_t)ev.opcode, ev.data, ev.len);
                continue;
            }
            fz_buf_put(&to->partial, ev.data, ev.len);
            if (ev.message_final) {
                fz_log_msg(&to->got, (uint8_t)ev.opcode, to->partial.p, to->partial.len);
                to->partial.len = 0;
            }
        }
        free(piece);
    }
}

static void fz_round_trip(fz_reader *r)
{
    ws_deflate_params p;
    ws_config cfg;
    fz_side side[2];
    fz_alloc alloc[2];
    fz_rng rng = {0};
    fz_split plan;
    uint8_t s = fz_u8(r), lv = fz_u8(r), min = fz_u8(r);
    int i, ops = 0;

    fz_params(r, &p);
    fz_split_read(&plan, r);
    memset(side, 0, sizeof side);
    memset(alloc, 0, sizeof alloc);
    for (i = 0; i < 2; i++) {
        ws_config_init(&cfg, i == 0 ? WS_ROLE_CLIENT : WS_ROLE_SERVER);
        cfg.random = fz_random;
        cfg.random_ud = &rng;
        cfg.realloc = fz_realloc;
        cfg.realloc_ud = &alloc[i];
        cfg.whole_messages = (s >> (1 + i) & 1) != 0;
        cfg.deflate.level = lv % 10;
        cfg.deflate.mem_level = 1 + (lv / 10) % 9;
        cfg.deflate.min_size = min;
        side[i].c = fz_open(&cfg, &p);
        FZ_CHECK(side[i].c != NULL);
    }
    while (r->n > 0 && ops++ < 64) {
        uint8_t op = fz_u8(r);
        fz_side *me = &side[op & 1], *peer = &side[!(op & 1)];
        size_t len = fz_u16(r) % 3000, got, frag;
        const uint8_t *src;
        uint8_t *msg = fz_block(len ? len : 1);
        uint8_t opcode = (op & 4) ? WS_OP_TEXT : WS_OP_BINARY;
        int rc;

        got = fz_take(r, len, &src);
        if (got > 0)
            memcpy(msg, src, got);
        for (frag = got; frag < len; frag++) /* repetitive filler: compressible */
            msg[frag] = (uint8_t)('a' + frag % 7);
        if (opcode == WS_OP_TEXT)
            for (frag = 0; frag < len; frag++)
                msg[frag] = (uint8_t)(0x20 + (msg[frag] & 0x3f));
        if ((op & 0x18) == 0x18 && len > 0) { /* fragmented: three pieces */
            size_t a = len / 3, b = 2 * len / 3;
            rc = ws_conn_send_fragment(me->c, (ws_opcode)opcode, msg, a, false);
            FZ_CHECK(rc == WS_OK || rc == WS_E_NOMEM);
            if (rc == WS_OK) {
                FZ_CHECK(ws_conn_send_fragment(me->c, WS_OP_CONTINUATION, msg + a, b - a, false) ==
                         WS_OK);
                FZ_CHECK(ws_conn_send_fragment(me->c, WS_OP_CONTINUATION, msg + b, len - b, true) ==
                         WS_OK);
            }
        } else {
            rc = ws_conn_send_ex(me->c, (ws_opcode)opcode, msg, len,
                                 (op & 0x10) ? WS_SEND_NO_COMPRESS : 0);
            FZ_CHECK(rc == WS_OK || rc == WS_E_NOMEM);
        }
        if (rc == WS_OK)
            fz_log_msg(&me->sent, opcode, msg, len);
        free(msg);
        if (op & 0x20)
            ws_conn_tick(me->c, (uint64_t)ops * WS_DEFLATE_IDLE_MS); /* idle: trimmed */
        if (op & 0x40) {
            fz_pump(me, peer, &plan);
        }
    }
    fz_pump(&side[0], &side[1], &plan);
    fz_pump(&side[1], &side[0], &plan);
    for (i = 0; i < 2; i++) {
        FZ_CHECK(fz_buf_eq(&side[i].sent, &side[!i].got));
        FZ_CHECK(ws_conn_phase(side[i].c) == WS_PHASE_OPEN);
    }
    for (i = 0; i < 2; i++) {
        ws_conn_free(side[i].c);
        FZ_CHECK(alloc[i].live_bytes == 0);
        fz_buf_free(&side[i].sent);
        fz_buf_free(&side[i].got);
        fz_buf_free(&side[i].partial);
    }
}

/* ---- hostile input --------------------------------------------------------------------- */

static void fz_hostile(fz_reader *r)
{
    ws_deflate_params p;
    ws_config cfg;
    fz_alloc alloc;
    fz_events events;
    fz_split plan;
    fz_buf in = {0};
    ws_conn *c;
    uint8_t s = fz_u8(r);
    size_t pos = 0;
    int frames = 0;

    fz_params(r, &p);
    ws_config_init(&cfg, WS_ROLE_SERVER);
    memset(&alloc, 0, sizeof alloc);
    alloc.fail_at = (s & 0x80) ? 1 + fz_u8(r) % 16 : 0; /* zlib's allocations fail too */
    cfg.realloc = fz_realloc;
    cfg.realloc_ud = &alloc;
    cfg.whole_messages = (s & 2) != 0;
    cfg.max_message_size = 1 + fz_u16(r) % 4096;
    fz_split_read(&plan, r);
    c = fz_open(&cfg, &p);
    if (c == NULL) {
        FZ_CHECK(alloc.live_bytes == 0);
        return;
    }
    fz_events_init(&events, &cfg);
    events.open_seen = true; /* fz_open took WS_EV_OPEN */
    /* Frames as a client sends them: the fuzzer's header byte and payload, masked. */
    while (r->n > 0 && frames++ < 64) {
        ws_frame_header h;
        uint8_t hdr[WS_FRAME_HEADER_MAX], payload[255];
        uint8_t b0 = fz_u8(r);
        const uint8_t *src;
        size_t n = fz_take(r, fz_u8(r), &src);
        int hl;

        memset(&h, 0, sizeof h);
        h.fin = (b0 & 0x80) != 0;
        h.rsv = (uint8_t)(b0 & 0x70);
        h.opcode = (uint8_t)(b0 & 0x0f);
        if (h.opcode & 0x8)
            h.fin = true, n = n > 125 ? 125 : n;
        h.length = n;
        h.masked = true;
        memcpy(h.mask, fz_key, 4);
        hl = ws_frame_header_encode(hdr, &h);
        if (hl < 0)
            continue;
        if (n > 0)
            memcpy(payload, src, n);
        ws_mask(payload, n, fz_key, 0);
        fz_buf_put(&in, hdr, (size_t)hl);
        fz_buf_put(&in, payload, n);
    }
    while (pos < in.len && ws_conn_phase(c) != WS_PHASE_CLOSED) {
        size_t k = fz_split_next(&plan, in.len - pos);
        uint8_t *piece = fz_dup(in.p + pos, k);
        ws_event ev;

        pos += k;
        FZ_CHECK(ws_conn_feed(c, piece, k) == WS_OK);
        while (ws_conn_next_event(c, &ev) != WS_EV_NONE) {
            fz_events_check(&events, c, &ev);
            if (ev.type == WS_EV_CLOSED) {
                uint16_t code = ws_error_close_code(ev.error);
                /* only the errors compressed input can cause, with their codes */
                FZ_CHECK(ev.error == WS_OK || code == 1002 || code == 1007 || code == 1009 ||
                         ev.error == WS_E_NOMEM || ev.error == WS_E_TOO_MANY_FRAGMENTS);
            }
        }
        free(piece);
    }
    ws_conn_free(c);
    FZ_CHECK(alloc.live_bytes == 0);
    fz_events_free(&events);
    fz_buf_free(&in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader r;

    fz_reader_init(&r, data, size);
    if (!ws_deflate_available())
        return 0;
    if (fz_u8(&r) & 1)
        fz_hostile(&r);
    else
        fz_round_trip(&r);
    return 0;
}
