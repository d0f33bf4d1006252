/*
 * The receive fast path's rarer endings (lib/conn_fast.h has the path and what it takes):
 * longer payloads, text that is not all ASCII, the keepalive activity hook.
 */
#include "conn_fast.h"

/* Whether p[0..n) is all ASCII: four words a test. */
static bool ws_fast_ascii(const uint8_t *p, size_t n)
{
    uint64_t acc = 0, w[4];
    size_t i = 0;

    for (; n - i >= 32; i += 32) {
        memcpy(w, p + i, sizeof w);
        acc |= w[0] | w[1] | w[2] | w[3];
    }
    for (; n - i >= 8; i += 8) {
        memcpy(w, p + i, 8);
        acc |= w[0];
    }
    for (; i < n; i++)
        acc |= p[i];
    return (acc & WS_FAST_HIGH_BITS) == 0;
}

WS_FAST_NOINLINE ws_event_type ws_conn_fast_rest(ws_conn *c, ws_event *ev, size_t len,
                                                 bool unmasked)
{
    uint8_t *frame = c->in + c->in_pos;
    unsigned opcode = frame[0] & WS_OPCODE_BITS;
    bool masked = (frame[1] & WS_MASK_BIT) != 0;
    size_t need = 2u + (masked ? 4u : 0u) + (len >= WS_LEN7_16BIT ? 2u : 0u);
    uint8_t *p = frame + need;
    ws_event_type t;

    if (masked && !unmasked)
        ws_mask_copy(p, p, len, p - 4, 0);
    if (opcode == WS_OP_TEXT && !ws_fast_ascii(p, len) && !ws_utf8_valid(p, len)) {
        /* Masked again, the frame is as it came: the general path reports where it fails. */
        if (masked)
            ws_mask_copy(p, p, len, p - 4, 0);
        return ws_conn_next_event_general(c, ev);
    }
    c->in_pos += need + len;
    t = ws_fast_deliver(c, ev, p, len, opcode);
    /* The activity hook sees every event, as ws_conn_next_event shows it the others. */
    if (c->cfg.keepalive != NULL)
        ws_keepalive_on_event(c, ev);
    return t;
}
