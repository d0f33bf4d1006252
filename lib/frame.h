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
 * A frame that lies wholly in buf, decoded in one step: header into d->header (by the same
 * header parser as ws_frame_decode), payload unmasked in place at *payload. Returns false,
 * with the decoder's state and buf untouched, for a frame that is not all there or breaks a
 * rule: ws_frame_decode then takes it and reports errors at their byte.
 */
bool ws_frame_decode_whole(ws_frame_decoder *d, uint8_t *buf, size_t len, size_t *consumed,
                           uint8_t **payload, size_t *payload_len);

WS_INTERNAL_END

#endif /* WS_FRAME_H */
