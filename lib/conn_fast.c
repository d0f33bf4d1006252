/*
 * The receive fast path's rarer endings (lib/conn_fast.h has the path and what it takes):
 * payloads not of 8 to 16 bytes, 16-bit lengths, text that is not all ASCII, the keepalive
 * activity hook, connections with permessage-deflate; and the second way, for fragments and
 * whole pings/pongs (ws_conn_fast_frames).
 */
#include "conn_fast.h"

WS_FAST_NOINLINE ws_event_type ws_conn_fast_pmd(ws_conn *c, ws_event *ev, size_t avail)
{
#ifdef WS_HAVE_DEFLATE
    if (!ws_conn_inflate_pending(c))
        return ws_conn_fast_plain(c, ev, avail);
#else
    (void)avail; /* never called: without zlib there is no permessage-deflate */
#endif
    return ws_conn_next_event_general(c, ev);
}

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
    bool ascii = false; /* found all ASCII while unmasked here */

    if (masked && !unmasked) {
        if (len < WS_FAST_SHORT) {
            uint32_t k32;
            memcpy(&k32, p - 4, 4);
            ascii = (ws_fast_unmask_or(p, len, k32) & WS_FAST_HIGH_BITS) == 0;
        } else {
            ws_mask_copy(p, p, len, p - 4, 0);
        }
    }
    if (opcode == WS_OP_TEXT && !ascii && !ws_fast_ascii(p, len) && !ws_utf8_valid(p, len)) {
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

WS_FAST_NOINLINE ws_event_type ws_conn_fast_len16(ws_conn *c, ws_event *ev, size_t avail)
{
    const uint8_t *p = c->in + c->in_pos;
    size_t need = ws_conn_is_server(c) ? 8u : 4u, len;

    if ((p[1] & WS_LEN7_BITS) != WS_LEN7_16BIT || avail < 4)
        return ws_conn_next_event_general(c, ev);
    len = ((size_t)p[2] << 8) | p[3];
    /* Not in shortest form, cut by the end of the input, over a limit: the general path
     * decides. */
    if (len < WS_LEN7_16BIT || avail < need || len > avail - need || len > c->fast_max)
        return ws_conn_next_event_general(c, ev);
    return ws_conn_fast_rest(c, ev, len, false);
}

/* Decodes the frame at the start of the input into c->dec.header when it is one that
 * ws_conn_fast_frames takes: no RSV bit; a continuation, or text/binary without FIN (the
 * message state decides what is valid), or a ping/pong with FIN and at most 125 bytes; the
 * mask bit the role expects; a 7- or 16-bit length in shortest form within max_frame_size;
 * wholly in the input. Returns the payload, still masked, or NULL with nothing changed. */
static uint8_t *ws_fast_frame_header(ws_conn *c, size_t *plen)
{
    ws_frame_decoder *d = &c->dec;
    uint8_t *p;
    size_t avail = c->in_len - c->in_pos, need, len;
    unsigned b0, opcode, b1;
    bool masked;

    if (c->rx != WS_RX_FRAMES || d->state != FD_HEADER || d->hdr_len != 0 || c->stash != NULL ||
        c->end_due || ws_conn_pmd(c) != NULL || avail < 2)
        return NULL;
    p = c->in + c->in_pos;
    b0 = p[0];
    b1 = p[1];
    opcode = b0 & WS_OPCODE_BITS;
    if ((b0 & WS_RSV_ALL) != 0)
        return NULL;
    if (opcode == WS_OP_PING || opcode == WS_OP_PONG) {
        if (!(b0 & WS_FIN) || (b1 & WS_LEN7_BITS) > WS_CONTROL_PAYLOAD_MAX)
            return NULL;
    } else if (opcode != WS_OP_CONTINUATION &&
               !((opcode == WS_OP_TEXT || opcode == WS_OP_BINARY) && !(b0 & WS_FIN))) {
        return NULL;
    }
    masked = ws_conn_is_server(c);
    if ((b1 & WS_MASK_BIT) != (masked ? WS_MASK_BIT : 0u))
        return NULL;
    need = masked ? 6u : 2u;
    len = b1 & WS_LEN7_BITS;
    if (len >= WS_LEN7_16BIT) {
        if (len != WS_LEN7_16BIT || avail < 4)
            return NULL;
        len = ((size_t)p[2] << 8) | p[3];
        if (len < WS_LEN7_16BIT)
            return NULL;
        need += 2;
    }
    if (avail < need || len > avail - need || ws_too_big(d, len))
        return NULL;
    d->header.fin = (b0 & WS_FIN) != 0;
    d->header.rsv = 0;
    d->header.opcode = (uint8_t)opcode;
    d->header.masked = masked;
    d->header.length = len;
    if (masked)
        memcpy(d->header.mask, p + need - 4, 4);
    else
        memset(d->header.mask, 0, 4);
    *plen = len;
    return p + need;
}

WS_FAST_NOINLINE ws_event_type ws_conn_fast_frames(ws_conn *c, ws_event *ev)
{
    const ws_frame_header *h = &c->dec.header;
    ws_event_type t;
    uint8_t *p;
    size_t len;
    int rc;

    /* Each frame does what the general path does with it (ws_conn_frame_step); a data frame
     * that completes no event (whole_messages) is followed by the next in the same call. */
    while ((p = ws_fast_frame_header(c, &len)) != NULL) {
        if (h->masked)
            ws_mask_copy(p, p, len, h->mask, 0);
        c->in_pos = (size_t)(p + len - c->in);
        if (h->opcode & 0x8) {
            t = ws_conn_control_frame(c, h->opcode, p, len, ev);
        } else if ((rc = ws_conn_begin_data_frame(c, h)) != WS_OK) {
            ws_conn_fail(c, rc);
            t = WS_EV_NONE;
        } else {
            /* Text that is all ASCII, at a character boundary, needs no UTF-8 step. */
            bool ascii = c->msg_opcode == WS_OP_TEXT && c->utf8.state == 0 && ws_fast_ascii(p, len);
            t = ws_conn_data_piece(c, p, len, true, ascii, ev);
        }
        if (t != WS_EV_NONE) {
            /* As ws_conn_next_event_general: a pong (RTT) or the host's activity hook. */
            if (t == WS_EV_PONG || c->cfg.keepalive != NULL)
                ws_keepalive_on_event(c, ev);
            return t;
        }
    }
    return ws_conn_next_event_general(c, ev);
}
