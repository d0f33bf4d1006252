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

/* The whole header size, known once byte 1 (mask bit and 7-bit length) has arrived. */
static size_t ws_header_need(uint8_t b1)
{
    return 2u + ws_ext_len_size(b1 & WS_LEN7_BITS) + ((b1 & WS_MASK_BIT) ? 4u : 0u);
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
 * The checks look only at the bytes present, so the result and its position are the same
 * whether the header is parsed straight from the caller's buffer or from d->hdr.
 */
static int ws_check_byte0(const ws_frame_decoder *d, uint8_t b0)
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

static int ws_check_byte1(const ws_frame_decoder *d, uint8_t b0, uint8_t b1)
{
    bool masked = (b1 & WS_MASK_BIT) != 0;
    unsigned len7 = b1 & WS_LEN7_BITS;

    if (d->role == WS_ROLE_SERVER && !masked)
        return WS_E_UNMASKED;
    if (d->role == WS_ROLE_CLIENT && masked)
        return WS_E_MASKED;
    if (ws_opcode_is_control(b0 & WS_OPCODE_BITS) && len7 > WS_CONTROL_PAYLOAD_MAX &&
        !d->allow_nonminimal)
        return WS_E_CONTROL_TOO_LONG;
    if (len7 < WS_LEN7_16BIT && ws_too_big(d, len7))
        return WS_E_FRAME_TOO_BIG;
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

static int ws_check_ext_length(const ws_frame_decoder *d, uint8_t b0, uint64_t length, size_t ext)
{
    uint64_t shortest_min = ext == 2 ? WS_LEN7_16BIT : 0x10000u;

    if (length < shortest_min && !d->allow_nonminimal)
        return WS_E_LENGTH_NONMINIMAL;
    if (ws_opcode_is_control(b0 & WS_OPCODE_BITS) && length > WS_CONTROL_PAYLOAD_MAX)
        return WS_E_CONTROL_TOO_LONG;
    if (ws_too_big(d, length))
        return WS_E_FRAME_TOO_BIG;
    return WS_OK;
}

/*
 * Parses the header in h[0..avail), which may be incomplete. Returns WS_FRAME_HEADER (the
 * header is complete and stored in d->header), WS_FRAME_NEED_MORE, or an error with *bad set
 * to the index of the offending byte.
 */
static int ws_parse_header(ws_frame_decoder *d, const uint8_t *h, size_t avail, size_t *bad)
{
    size_t ext, need;
    uint64_t length;
    int err;

    if (avail < 1)
        return WS_FRAME_NEED_MORE;
    *bad = 0;
    if ((err = ws_check_byte0(d, h[0])) != WS_OK)
        return err;
    if (avail < 2)
        return WS_FRAME_NEED_MORE;
    *bad = 1;
    if ((err = ws_check_byte1(d, h[0], h[1])) != WS_OK)
        return err;
    ext = ws_ext_len_size(h[1] & WS_LEN7_BITS);
    if (ext == 8 && avail > 2) {
        *bad = 2;
        if (h[2] & 0x80u)
            return WS_E_LENGTH_MSB;
    }
    if (avail < 2 + ext)
        return WS_FRAME_NEED_MORE;
    length = h[1] & WS_LEN7_BITS;
    if (ext != 0) {
        *bad = 1 + ext;
        length = ws_read_be(h + 2, ext);
        if ((err = ws_check_ext_length(d, h[0], length, ext)) != WS_OK)
            return err;
    }
    need = ws_header_need(h[1]);
    if (avail < need)
        return WS_FRAME_NEED_MORE;

    d->header.fin = (h[0] & WS_FIN) != 0;
    d->header.rsv = (uint8_t)(h[0] & WS_RSV_ALL);
    d->header.opcode = (uint8_t)(h[0] & WS_OPCODE_BITS);
    d->header.masked = (h[1] & WS_MASK_BIT) != 0;
    d->header.length = length;
    if (d->header.masked)
        memcpy(d->header.mask, h + 2 + ext, 4);
    else
        memset(d->header.mask, 0, 4);
    return WS_FRAME_HEADER;
}

/* Moves the decoder to the payload of the header just parsed. */
static void ws_begin_payload(ws_frame_decoder *d)
{
    d->state = FD_PAYLOAD;
    d->remaining = d->header.length;
    d->mask_offset = 0;
    d->hdr_len = 0;
    d->hdr_need = 0;
}

static int ws_fail(ws_frame_decoder *d, int err)
{
    d->state = FD_ERROR;
    d->error = err;
    return err;
}

/*
 * A header split across calls: bytes are stashed in d->hdr, but never more than the header
 * needs, so payload stays in the caller's buffer. Positions are counted in d->hdr, and the
 * bytes stashed by earlier calls were reported consumed by them.
 */
static int ws_decode_split_header(ws_frame_decoder *d, const uint8_t *buf, size_t len,
                                  size_t *consumed)
{
    size_t before = d->hdr_len;
    size_t used = 0;
    size_t bad = 0;
    int r;

    for (;;) {
        size_t want = d->hdr_len < 2 ? 2u : d->hdr_need;
        size_t n = WS_MIN(want - d->hdr_len, len - used);

        memcpy(d->hdr + d->hdr_len, buf + used, n);
        d->hdr_len = (uint8_t)(d->hdr_len + n);
        used += n;
        r = ws_parse_header(d, d->hdr, d->hdr_len, &bad);
        if (r < 0) {
            *consumed = bad - before;
            return ws_fail(d, r);
        }
        if (r == WS_FRAME_HEADER) {
            *consumed = used;
            ws_begin_payload(d);
            return WS_FRAME_HEADER;
        }
        if (d->hdr_len >= 2)
            d->hdr_need = (uint8_t)ws_header_need(d->hdr[1]);
        if (used == len) {
            *consumed = len;
            return WS_FRAME_NEED_MORE;
        }
    }
}

static int ws_decode_header(ws_frame_decoder *d, const uint8_t *buf, size_t len, size_t *consumed)
{
    size_t bad = 0;
    int r;

    if (len == 0)
        return WS_FRAME_NEED_MORE;
    /* Fast path: a header that starts in this call and is wholly in buf is parsed there. */
    if (d->hdr_len == 0) {
        r = ws_parse_header(d, buf, len, &bad);
        if (r < 0) {
            *consumed = bad;
            return ws_fail(d, r);
        }
        if (r == WS_FRAME_HEADER) {
            *consumed = ws_header_need(buf[1]);
            ws_begin_payload(d);
            return WS_FRAME_HEADER;
        }
    }
    return ws_decode_split_header(d, buf, len, consumed);
}

static int ws_decode_payload(ws_frame_decoder *d, uint8_t *buf, size_t len, size_t *consumed,
                             uint8_t **chunk, size_t *chunk_len)
{
    bool last = d->remaining <= len;
    size_t n = last ? (size_t)d->remaining : len;

    if (n == 0 && !last)
        return WS_FRAME_NEED_MORE;
    if (d->header.masked && n != 0)
        d->mask_offset = ws_mask(buf, n, d->header.mask, d->mask_offset);
    d->remaining -= n;
    *consumed = n;
    *chunk = buf;
    *chunk_len = n;
    if (!last)
        return WS_FRAME_DATA;
    d->state = FD_HEADER;
    return WS_FRAME_END;
}

bool ws_frame_decode_whole(ws_frame_decoder *d, uint8_t *buf, size_t len, size_t *consumed,
                           uint8_t **payload, size_t *payload_len)
{
    size_t bad = 0, need;
    uint64_t length;

    if (len < 2 || d->state != FD_HEADER || d->hdr_len != 0)
        return false;
    if (ws_parse_header(d, buf, len, &bad) != WS_FRAME_HEADER)
        return false;
    need = ws_header_need(buf[1]);
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
