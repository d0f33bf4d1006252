/*
 * Private to the frame codec and its one hot caller: the decoder's states and bit masks, and
 * the whole-frame fast path, inline so that a small message costs no call into frame.c.
 */
#ifndef WS_FRAME_H
#define WS_FRAME_H

#include "ws_internal.h"

WS_INTERNAL_BEGIN

/* Decoder states (ws_frame_decoder.state). */
enum {
    FD_HEADER = 0, /* between frames or inside a header */
    FD_PAYLOAD,    /* header reported; d->remaining payload bytes to deliver */
    FD_ERROR       /* d->error is returned from now on */
};

#define WS_FIN               0x80u
#define WS_RSV_ALL           (WS_RSV1 | WS_RSV2 | WS_RSV3)
#define WS_OPCODE_BITS       0x0Fu
#define WS_MASK_BIT          0x80u
#define WS_LEN7_BITS         0x7Fu
#define WS_LEN7_16BIT        126u
#define WS_LEN7_64BIT        127u
#define WS_DEFAULT_MAX_FRAME ((uint64_t)16u * 1024u * 1024u)

static inline bool ws_too_big(const ws_frame_decoder *d, uint64_t length)
{
    return d->max_frame_size != 0 && length > d->max_frame_size;
}

/*
 * A frame that lies wholly in buf, decoded in one step: header into d->header, payload
 * unmasked in place at *payload. Only the plain case is taken (no RSV bit, a known opcode,
 * the mask bit the role expects, a 7- or 16-bit length within the limits, a whole control
 * frame); it returns false for anything else, every error included, leaving d and buf
 * untouched for the detailed path, which reports errors at their byte.
 */
static inline bool ws_frame_decode_whole(ws_frame_decoder *d, uint8_t *buf, size_t len,
                                         size_t *consumed, uint8_t **payload, size_t *payload_len)
{
    unsigned b0, b1, op, len7;
    bool masked;
    size_t need, length;

    if (len < 2 || d->state != FD_HEADER || d->hdr_len != 0)
        return false;
    b0 = buf[0];
    b1 = buf[1];
    op = b0 & WS_OPCODE_BITS;
    len7 = b1 & WS_LEN7_BITS;
    masked = (b1 & WS_MASK_BIT) != 0;
    if ((b0 & WS_RSV_ALL) != 0 || masked != (d->role == WS_ROLE_SERVER))
        return false;
    if (op > WS_OP_BINARY &&
        (op < WS_OP_CLOSE || op > WS_OP_PONG || !(b0 & WS_FIN) || len7 > WS_CONTROL_PAYLOAD_MAX))
        return false;
    need = masked ? 6u : 2u;
    if (len7 < WS_LEN7_16BIT) {
        length = len7;
    } else if (len7 == WS_LEN7_16BIT && len >= 4) {
        length = ((size_t)buf[2] << 8) | buf[3];
        if (length < WS_LEN7_16BIT && !d->allow_nonminimal)
            return false;
        need += 2;
    } else {
        return false;
    }
    if (len < need || length > len - need || ws_too_big(d, length))
        return false;
    d->header.fin = (b0 & WS_FIN) != 0;
    d->header.rsv = 0;
    d->header.opcode = (uint8_t)op;
    d->header.masked = masked;
    d->header.length = length;
    if (masked) {
        memcpy(d->header.mask, buf + need - 4, 4);
        ws_mask_copy(buf + need, buf + need, length, d->header.mask, 0);
    } else {
        memset(d->header.mask, 0, 4);
    }
    *consumed = need + length;
    *payload = buf + need;
    *payload_len = length;
    return true;
}

WS_INTERNAL_END

#endif /* WS_FRAME_H */
