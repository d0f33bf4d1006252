/*
 * The frame decoder in one role (FZ_ROLE, set by the build): fed in fuzzer-chosen pieces,
 * every header is checked against the raw bytes, every payload chunk against a byte-wise
 * unmasking of the input and the chunk's place in the buffer, every frame for HEADER, DATA*,
 * exactly one END, and every error against the rules of RFC 6455 §5.2 at the byte that
 * breaks them. The same stream fed whole must give the same frames and the same error at
 * the same offset. Input: settings (2 bytes), split plan, then the stream.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#ifndef FZ_ROLE
#define FZ_ROLE WS_ROLE_SERVER
#endif

typedef struct fz_frame_cfg {
    ws_role role;
    bool allow_nonminimal;
    uint8_t allowed_rsv;
    bool set_max;
    uint64_t max;
} fz_frame_cfg;

/* One bit per frame error code, WS_E_RESERVED_BITS (-20) .. WS_E_FRAME_TOO_BIG (-28). */
#define FZ_BIT(code) (1u << (unsigned)(-(code)-20))

static uint64_t fz_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static size_t fz_ext_size(uint8_t b1)
{
    unsigned len7 = b1 & 0x7Fu;
    return len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
}

static size_t fz_header_size(uint8_t b1)
{
    return 2 + fz_ext_size(b1) + ((b1 & 0x80) ? 4u : 0u);
}

/* The rules a header h[0..avail) already breaks, each judged at the byte it depends on:
 * opcode, RSV and FIN at byte 0; the mask bit and the 7-bit length at byte 1 (a control
 * frame whose 7-bit length is over 125 cannot become valid unless non-minimal lengths are
 * allowed); the top bit of a 64-bit length at byte 2; the extended length at its last byte. */
static unsigned fz_violations(const fz_frame_cfg *cfg, const uint8_t *h, size_t avail)
{
    unsigned v = 0, op, len7;
    bool control;
    size_t ext;
    uint64_t max = cfg->set_max ? cfg->max : (uint64_t)16 << 20;

    if (avail == 0)
        return 0;
    op = h[0] & 0x0Fu;
    control = (op & 0x8u) != 0;
    if (!(op <= 2 || (op >= 8 && op <= 10)))
        v |= FZ_BIT(WS_E_RESERVED_OPCODE);
    if (h[0] & 0x70u & ~(unsigned)cfg->allowed_rsv)
        v |= FZ_BIT(WS_E_RESERVED_BITS);
    if (control && !(h[0] & 0x80u))
        v |= FZ_BIT(WS_E_CONTROL_FRAGMENTED);
    if (avail < 2)
        return v;
    if (cfg->role == WS_ROLE_SERVER && !(h[1] & 0x80u))
        v |= FZ_BIT(WS_E_UNMASKED);
    if (cfg->role == WS_ROLE_CLIENT && (h[1] & 0x80u))
        v |= FZ_BIT(WS_E_MASKED);
    len7 = h[1] & 0x7Fu;
    if (control && len7 > 125 && !cfg->allow_nonminimal)
        v |= FZ_BIT(WS_E_CONTROL_TOO_LONG);
    if (len7 < 126 && len7 > max)
        v |= FZ_BIT(WS_E_FRAME_TOO_BIG);
    ext = fz_ext_size(h[1]);
    if (ext == 8 && avail >= 3 && (h[2] & 0x80u))
        v |= FZ_BIT(WS_E_LENGTH_MSB);
    if (ext != 0 && avail >= 2 + ext) {
        uint64_t length = fz_be(h + 2, ext);
        if (!cfg->allow_nonminimal && length < (ext == 2 ? 126u : 65536u))
            v |= FZ_BIT(WS_E_LENGTH_NONMINIMAL);
        if (control && length > 125)
            v |= FZ_BIT(WS_E_CONTROL_TOO_LONG);
        if (length > max)
            v |= FZ_BIT(WS_E_FRAME_TOO_BIG);
    }
    return v;
}

typedef struct fz_frame_run {
    const fz_frame_cfg *cfg;
    const uint8_t *stream; /* the input as it was, never modified */
    size_t len;
    fz_buf log; /* what the run saw, to compare whole and split runs */
    ws_frame_decoder d;
    bool in_frame;
    size_t frame_start;   /* stream offset of the current (or next) header */
    size_t payload_start; /* stream offset of the current payload */
    size_t seen;          /* payload bytes delivered for the current frame (all in stream) */
    fz_buf payload;
    bool failed;
} fz_frame_run;

/* The header just decoded, against the raw bytes at frame_start; end is the stream offset
 * just after it. */
static void fz_on_header(fz_frame_run *run, size_t end)
{
    const uint8_t *h = run->stream + run->frame_start;
    const ws_frame_header *hd = &run->d.header;
    size_t ext, size;
    uint8_t enc[WS_FRAME_HEADER_MAX];
    int n;

    FZ_CHECK(!run->in_frame);
    FZ_CHECK(run->len - run->frame_start >= 2);
    size = fz_header_size(h[1]);
    FZ_CHECK(end == run->frame_start + size);
    FZ_CHECK(fz_violations(run->cfg, h, size) == 0);
    ext = fz_ext_size(h[1]);
    FZ_CHECK(hd->fin == ((h[0] & 0x80) != 0));
    FZ_CHECK(hd->rsv == (h[0] & 0x70));
    FZ_CHECK(hd->opcode == (h[0] & 0x0F));
    FZ_CHECK(hd->masked == ((h[1] & 0x80) != 0));
    FZ_CHECK(hd->length == (ext ? fz_be(h + 2, ext) : (uint64_t)(h[1] & 0x7F)));
    if (hd->masked)
        FZ_CHECK(memcmp(hd->mask, h + 2 + ext, 4) == 0);

    /* The encoder writes the shortest form of the same header. */
    n = ws_frame_header_encode(enc, hd);
    FZ_CHECK(n > 0 && (size_t)n == ws_frame_header_size(hd->length, hd->masked));
    if ((size_t)n == size)
        FZ_CHECK(memcmp(enc, h, size) == 0);
    else
        FZ_CHECK(run->cfg->allow_nonminimal && (size_t)n < size);

    fz_buf_u8(&run->log, 'H');
    fz_buf_put(&run->log, h, 2);
    fz_buf_u64(&run->log, hd->length);
    run->in_frame = true;
    run->payload_start = end;
    run->seen = 0;
    run->payload.len = 0;
}

/* A payload chunk that the decoder placed at stream offset at. */
static void fz_on_chunk(fz_frame_run *run, const uint8_t *chunk, size_t n, size_t at, bool end)
{
    const ws_frame_header *hd = &run->d.header;
    size_t j;

    FZ_CHECK(run->in_frame);
    FZ_CHECK(end || n > 0);
    FZ_CHECK(at == run->payload_start + run->seen); /* contiguous, nothing skipped */
    FZ_CHECK(n <= hd->length - run->seen);
    for (j = 0; j < n; j++) {
        uint8_t key = hd->masked ? hd->mask[(run->seen + j) % 4] : 0;
        FZ_CHECK(chunk[j] == (uint8_t)(run->stream[at + j] ^ key));
    }
    fz_buf_put(&run->payload, chunk, n);
    run->seen += n;
    if (!end)
        return;
    FZ_CHECK(run->seen == hd->length); /* END exactly when the payload is complete */
    fz_buf_u8(&run->log, 'E');
    fz_buf_u64(&run->log, run->payload.len);
    fz_buf_put(&run->log, run->payload.p, run->payload.len);
    run->in_frame = false;
    run->frame_start = run->payload_start + run->seen;
}

static void fz_on_error(fz_frame_run *run, int err, size_t at)
{
    const uint8_t *h = run->stream + run->frame_start;
    size_t avail = at - run->frame_start + 1;

    FZ_CHECK(!run->in_frame);
    FZ_CHECK(at >= run->frame_start && at < run->len && avail <= WS_FRAME_HEADER_MAX);
    FZ_CHECK(err <= WS_E_RESERVED_BITS && err >= WS_E_FRAME_TOO_BIG);
    FZ_CHECK(fz_violations(run->cfg, h, avail) & FZ_BIT(err));
    FZ_CHECK(fz_violations(run->cfg, h, avail - 1) == 0); /* at the first bad byte */
    fz_buf_u8(&run->log, 'X');
    fz_buf_u8(&run->log, (unsigned)-err);
    fz_buf_u64(&run->log, at);
    run->failed = true;
}

/* Decodes one piece (stream offset base) until it is used up or fails. */
static void fz_feed_piece(fz_frame_run *run, size_t base, size_t n)
{
    uint8_t *piece = fz_dup(run->stream + base, n);
    size_t off = 0, steps = 0;

    for (;;) {
        size_t used = 7777, chunk_len = 7777;
        uint8_t *chunk = piece;
        int r = ws_frame_decode(&run->d, piece + off, n - off, &used, &chunk, &chunk_len);

        FZ_CHECK(used <= n - off);
        FZ_CHECK(++steps <= 2 * n + 4);
        if (r < 0) {
            fz_on_error(run, r, base + off + used);
            /* Sticky, and nothing more is taken. */
            FZ_CHECK(ws_frame_decode(&run->d, piece + off, n - off, &used, &chunk, &chunk_len) ==
                     r);
            FZ_CHECK(used == 0);
            break;
        }
        if (r == WS_FRAME_HEADER) {
            FZ_CHECK(used > 0);
            fz_on_header(run, base + off + used);
        } else if (r == WS_FRAME_DATA || r == WS_FRAME_END) {
            if (chunk_len > 0) {
                FZ_CHECK(chunk >= piece + off && chunk_len <= used &&
                         (size_t)(chunk - (piece + off)) <= used - chunk_len);
            }
            fz_on_chunk(run, chunk, chunk_len, base + (chunk_len ? (size_t)(chunk - piece) : off),
                        r == WS_FRAME_END);
        } else {
            FZ_CHECK(r == WS_FRAME_NEED_MORE);
            FZ_CHECK(off + used == n); /* every byte given was taken */
            off = n;
            break;
        }
        off += used;
    }
    free(piece);
}

static void fz_frame_decode_all(fz_frame_run *run, fz_split *plan)
{
    size_t pos = 0;

    ws_frame_decoder_init(&run->d, run->cfg->role);
    run->d.allow_nonminimal = run->cfg->allow_nonminimal;
    run->d.allowed_rsv = run->cfg->allowed_rsv;
    if (run->cfg->set_max)
        run->d.max_frame_size = run->cfg->max;
    while (pos < run->len && !run->failed) {
        size_t n = fz_split_next(plan, run->len - pos);
        fz_feed_piece(run, pos, n);
        pos += n;
    }
    if (!run->failed && !run->in_frame) /* a header cut short breaks no rule so far */
        FZ_CHECK(fz_violations(run->cfg, run->stream + run->frame_start,
                               run->len - run->frame_start) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t maxes[8] = {0, 1, 125, 126, 65535, 65536, 1u << 20, UINT64_MAX};
    fz_frame_cfg cfg;
    fz_reader r;
    fz_split plan, whole;
    fz_frame_run a, b;
    uint8_t c0, c1;

    fz_reader_init(&r, data, size);
    c0 = fz_u8(&r);
    c1 = fz_u8(&r);
    memset(&cfg, 0, sizeof cfg);
    cfg.role = FZ_ROLE;
    cfg.allow_nonminimal = (c0 & 1u) != 0;
    cfg.allowed_rsv = (uint8_t)(((c0 >> 1) & 7u) << 4);
    cfg.set_max = (c1 & 7u) != 0;
    cfg.max = maxes[c1 & 7u];
    fz_split_read(&plan, &r);

    memset(&a, 0, sizeof a);
    a.cfg = &cfg;
    a.len = fz_take(&r, r.n, &a.stream);
    b = a;
    fz_split_whole(&whole);
    fz_frame_decode_all(&a, &whole);
    fz_frame_decode_all(&b, &plan);
    FZ_CHECK(fz_buf_eq(&a.log, &b.log)); /* split invariance */

    fz_buf_free(&a.log);
    fz_buf_free(&a.payload);
    fz_buf_free(&b.log);
    fz_buf_free(&b.payload);
    return 0;
}
