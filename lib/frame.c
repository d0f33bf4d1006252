/*
 * The frame codec (RFC 6455 §5): a resumable, role-aware header decoder that streams payload
 * as pointers into the caller's buffer, unmasked in place, and a header encoder.
 */
#include "frame.h"

static bool ws_opcode_is_control(unsigned opcode)
{
    return (opcode & 0x8u) != 0;
}

static bool ws_opcode_is_known(unsigned opcode)
{
    return opcode <= WS_OP_BINARY || (opcode >= WS_OP_CLOSE && opcode <= WS_OP_PONG);
}

/* Bytes of extended length that follow a 7-bit length field. */
static size_t ws_ext_len_size(unsigned len7)
{
    if (len7 == WS_LEN7_16BIT)
        return 2;
    if (len7 == WS_LEN7_64BIT)
        return 8;
    return 0;
}

/*
 * Header validation. Each rule is checked at the byte it depends on, and a frame that
 * breaks several rules reports the first failing check in this order:
 *
 *   byte 0:  1. WS_E_RESERVED_OPCODE     (nothing else about an unknown opcode is meaningful)
 *            2. WS_E_RESERVED_BITS       (RSV bit outside d->allowed_rsv)
 *            3. WS_E_CONTROL_FRAGMENTED  (control opcode with FIN clear)
 *   byte 1:  4. WS_E_UNMASKED / WS_E_MASKED (mask bit against the role)
 *            5. WS_E_CONTROL_TOO_LONG    (7-bit length over 125; a 126/127 marker is only
 *                                          deferred to step 9 when allow_nonminimal is set,
 *                                          since only then can such a frame still be valid)
 *            6. WS_E_FRAME_TOO_BIG       (7-bit length above max_frame_size)
 *   byte 2:  7. WS_E_LENGTH_MSB          (64-bit form, top bit of its first byte)
 *   last length byte (byte 3 or 9):
 *            8. WS_E_LENGTH_NONMINIMAL   (unless allow_nonminimal)
 *            9. WS_E_CONTROL_TOO_LONG    (extended length over 125)
 *           10. WS_E_FRAME_TOO_BIG       (before any mask key or payload byte is needed)
 *
 * A 7-bit length (at most 125) goes through steps 9 and 10 at byte 1, where step 9 cannot
 * fail. The checks look only at the bytes present, so the result and its position are the
 * same whether the header is parsed straight from the caller's buffer or from d->hdr.
 */
static int ws_check_byte0(const ws_frame_decoder *d, unsigned b0)
{
    unsigned opcode = b0 & WS_OPCODE_BITS;

    if (!ws_opcode_is_known(opcode))
        return WS_E_RESERVED_OPCODE;
    if ((b0 & WS_RSV_ALL & ~(unsigned)d->allowed_rsv) != 0)
        return WS_E_RESERVED_BITS;
    if (ws_opcode_is_control(opcode) && !(b0 & WS_FIN))
        return WS_E_CONTROL_FRAGMENTED;
    return WS_OK;
}

/* Reads the big-endian extended length of ext bytes at p. */
static uint64_t ws_read_be(const uint8_t *p, size_t ext)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < ext; i++)
        v = (v << 8) | p[i];
    return v;
}

/*
 * Parses the header in h[0..avail), which may be incomplete (avail is at least 1). Returns
 * WS_FRAME_HEADER (the header is complete and stored in d->header, and *at is its size),
 * WS_FRAME_NEED_MORE, or an error with *at set to the index of the offending byte.
 */
static int ws_parse_header(ws_frame_decoder *d, const uint8_t *h, size_t avail, size_t *at)
{
    unsigned b0, b1;
    bool control;
    size_t ext, need;
    uint64_t length;
    int err;

    b0 = h[0];
    control = ws_opcode_is_control(b0 & WS_OPCODE_BITS);
    *at = 0;
    if ((err = ws_check_byte0(d, b0)) != WS_OK)
        return err;
    if (avail < 2)
        return WS_FRAME_NEED_MORE;
    b1 = h[1];
    *at = 1;
    if (d->role == WS_ROLE_SERVER && !(b1 & WS_MASK_BIT))
        return WS_E_UNMASKED;
    if (d->role == WS_ROLE_CLIENT && (b1 & WS_MASK_BIT))
        return WS_E_MASKED;
    length = b1 & WS_LEN7_BITS;
    ext = ws_ext_len_size((unsigned)length);
    if (ext != 0) {
        if (control && !d->allow_nonminimal)
            return WS_E_CONTROL_TOO_LONG;
        if (ext == 8 && avail > 2) {
            *at = 2;
            if (h[2] & 0x80u)
                return WS_E_LENGTH_MSB;
        }
        if (avail < 2 + ext)
            return WS_FRAME_NEED_MORE;
        *at = 1 + ext;
        length = ws_read_be(h + 2, ext);
        if (length < (ext == 2 ? WS_LEN7_16BIT : 0x10000u) && !d->allow_nonminimal)
            return WS_E_LENGTH_NONMINIMAL;
    }
    if (control && length > WS_CONTROL_PAYLOAD_MAX)
        return WS_E_CONTROL_TOO_LONG;
    if (ws_too_big(d, length))
        return WS_E_FRAME_TOO_BIG;
    need = 2 + ext + ((b1 & WS_MASK_BIT) ? 4u : 0u);
    if (avail < need)
        return WS_FRAME_NEED_MORE;

    d->header.fin = (b0 & WS_FIN) != 0;
    d->header.rsv = (uint8_t)(b0 & WS_RSV_ALL);
    d->header.opcode = (uint8_t)(b0 & WS_OPCODE_BITS);
    d->header.masked = (b1 & WS_MASK_BIT) != 0;
    d->header.length = length;
    if (d->header.masked)
        memcpy(d->header.mask, h + 2 + ext, 4);
    else
        memset(d->header.mask, 0, 4);
    *at = need;
    return WS_FRAME_HEADER;
}

/* Moves the decoder to the payload of the header just parsed. */
static void ws_begin_payload(ws_frame_decoder *d)
{
    d->state = FD_PAYLOAD;
    d->remaining = d->header.length;
    d->mask_offset = 0;
    d->hdr_len = 0;
}

static int ws_fail(ws_frame_decoder *d, int err)
{
    d->state = FD_ERROR;
    d->error = err;
    return err;
}

/*
 * A header that starts in this call is parsed where it lies in buf. One split across calls
 * is gathered in d->hdr: what came before, then as much of buf as a header can take (the
 * payload bytes among them are not reported consumed, so they stay the caller's). Positions
 * are counted from the header's first byte, and the bytes stashed by earlier calls were
 * reported consumed by them.
 */
static int ws_decode_header(ws_frame_decoder *d, const uint8_t *buf, size_t len, size_t *consumed)
{
    size_t before = d->hdr_len, avail = len, at = 0;
    const uint8_t *h = buf;
    int r;

    if (len == 0)
        return WS_FRAME_NEED_MORE;
    if (before != 0) {
        avail = WS_MIN(len, WS_FRAME_HEADER_MAX - before);
        memcpy(d->hdr + before, buf, avail);
        avail += before;
        h = d->hdr;
    }
    r = ws_parse_header(d, h, avail, &at);
    if (r == WS_FRAME_NEED_MORE) {
        /* All of buf is header, and less than a whole one (when h is d->hdr, it is there). */
        memmove(d->hdr, h, avail);
        d->hdr_len = (uint8_t)avail;
        *consumed = len;
        return WS_FRAME_NEED_MORE;
    }
    *consumed = at - before; /* up to the offending byte, or the header's end */
    if (r < 0)
        return ws_fail(d, r);
    ws_begin_payload(d);
    return WS_FRAME_HEADER;
}

static int ws_decode_payload(ws_frame_decoder *d, uint8_t *buf, size_t len, size_t *consumed,
                             uint8_t **chunk, size_t *chunk_len)
{
    size_t n = len;
    int r = WS_FRAME_DATA;

    if (d->remaining <= len) {
        n = (size_t)d->remaining;
        r = WS_FRAME_END;
        d->state = FD_HEADER;
    } else if (len == 0) {
        return WS_FRAME_NEED_MORE;
    }
    if (d->header.masked) /* n may be 0 (the end of an empty frame): nothing is touched */
        d->mask_offset = ws_mask_copy(buf, buf, n, d->header.mask, d->mask_offset);
    d->remaining -= n;
    *consumed = n;
    *chunk = buf;
    *chunk_len = n;
    return r;
}

bool ws_frame_decode_whole(ws_frame_decoder *d, uint8_t *buf, size_t len, size_t *consumed,
                           uint8_t **payload, size_t *payload_len)
{
    size_t need = 0;
    uint64_t length;

    if (len < 2 || d->state != FD_HEADER || d->hdr_len != 0)
        return false;
    if (ws_parse_header(d, buf, len, &need) != WS_FRAME_HEADER)
        return false;
    length = d->header.length;
    if (length > len - need)
        return false;
    if (d->header.masked)
        ws_mask_copy(buf + need, buf + need, (size_t)length, d->header.mask, 0);
    *consumed = need + (size_t)length;
    *payload = buf + need;
    *payload_len = (size_t)length;
    return true;
}

void ws_frame_decoder_init(ws_frame_decoder *d, ws_role role)
{
    memset(d, 0, sizeof *d);
    d->max_frame_size = WS_DEFAULT_MAX_FRAME;
    d->role = (uint8_t)role;
    d->state = FD_HEADER;
}

int ws_frame_decode(ws_frame_decoder *d, uint8_t *buf, size_t len, size_t *consumed,
                    uint8_t **chunk, size_t *chunk_len)
{
    *consumed = 0;
    *chunk = NULL;
    *chunk_len = 0;
    switch (d->state) {
    case FD_HEADER:
        return ws_decode_header(d, buf, len, consumed);
    case FD_PAYLOAD:
        return ws_decode_payload(d, buf, len, consumed, chunk, chunk_len);
    case FD_ERROR:
        return d->error;
    default:
        return ws_fail(d, WS_E_STATE);
    }
}

/* --------------------------------------------------------------------------------------
 * Encoder
 * -------------------------------------------------------------------------------------- */

size_t ws_frame_header_size(uint64_t length, bool masked)
{
    size_t n = 2;

    if (length > 0xFFFFu)
        n += 8;
    else if (length >= WS_LEN7_16BIT)
        n += 2;
    return masked ? n + 4 : n;
}

static bool ws_header_valid(const ws_frame_header *h)
{
    if (h->opcode > WS_OPCODE_BITS || (h->rsv & ~WS_RSV_ALL) != 0)
        return false;
    if (h->length >> 63)
        return false;
    if (ws_opcode_is_control(h->opcode) && (h->length > WS_CONTROL_PAYLOAD_MAX || !h->fin))
        return false;
    return true;
}

int ws_frame_header_encode(uint8_t out[WS_FRAME_HEADER_MAX], const ws_frame_header *h)
{
    size_t n = 2;
    size_t i, ext;
    unsigned len7;

    if (!ws_header_valid(h))
        return WS_E_INVALID;
    if (h->length > 0xFFFFu) {
        len7 = WS_LEN7_64BIT;
        ext = 8;
    } else if (h->length >= WS_LEN7_16BIT) {
        len7 = WS_LEN7_16BIT;
        ext = 2;
    } else {
        len7 = (unsigned)h->length;
        ext = 0;
    }
    out[0] = (uint8_t)((h->fin ? WS_FIN : 0u) | h->rsv | h->opcode);
    out[1] = (uint8_t)((h->masked ? WS_MASK_BIT : 0u) | len7);
    for (i = 0; i < ext; i++)
        out[n++] = (uint8_t)(h->length >> (8u * (ext - 1u - i)));
    if (h->masked) {
        memcpy(out + n, h->mask, 4);
        n += 4;
    }
    return (int)n;
}

void ws_frame_encoder_init(ws_frame_encoder *e, ws_role role, ws_random_fn random, void *ud)
{
    e->role = (uint8_t)role;
    e->random = random;
    e->random_ud = ud;
}

int ws_frame_encode(ws_frame_encoder *e, uint8_t out[WS_FRAME_HEADER_MAX], uint8_t opcode, bool fin,
                    uint8_t rsv, uint64_t length, uint8_t key_out[4])
{
    ws_frame_header h;

    memset(&h, 0, sizeof h);
    h.opcode = opcode;
    h.fin = fin;
    h.rsv = rsv;
    h.length = length;
    h.masked = e->role == WS_ROLE_CLIENT;
    /* Validate before drawing a key, so a rejected call costs no randomness. */
    if (!ws_header_valid(&h))
        return WS_E_INVALID;
    if (h.masked) {
        if (e->random == NULL || e->random(e->random_ud, h.mask, 4) != 0)
            return WS_E_RANDOM;
        if (key_out != NULL)
            memcpy(key_out, h.mask, 4);
    }
    return ws_frame_header_encode(out, &h);
}
