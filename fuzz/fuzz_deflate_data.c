/*
 * permessage-deflate data path. Round trip: messages from the input, compressed with
 * random settings fragment by fragment and inflated in random pieces, come back intact,
 * each compressed payload within ws_deflater_bound when sent whole. Hostile: raw bytes
 * given to the inflater as compressed messages with a small message limit: it either
 * inflates them or fails with WS_E_MESSAGE_TOO_BIG / WS_E_DEFLATE_DATA, never hands out
 * more than the limit, and gives the same bytes and verdict whether the input comes in the
 * fuzzer's pieces with its output size or whole with 16-byte steps. Every byte allocated is
 * freed, and a receiver never holds more than its fixed state.
 * Input: mode byte, params byte, windows byte, level byte, output size byte, a split plan
 * (fz_split_read), then messages: each a 2-byte length, a fragment size byte (round trip
 * only) and its bytes.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#define FZ_MAX_MESSAGES 8
#define FZ_MSG_MAX      4096
/* The receive side: zlib's inflate state and its 32 KiB window, plus headers. */
#define FZ_INFLATER_MAX (48u * 1024u)

typedef struct fz_sink {
    fz_buf out;
    int rc;
} fz_sink;

/* Inflates one message given in the pieces plan says (a fresh copy each), cap bytes of
 * output a step; appends to s->out; returns WS_DEFLATE_END or the error. */
static int fz_inflate(ws_inflater *z, const uint8_t *in, size_t len, fz_split *plan, size_t cap,
                      fz_sink *s, size_t limit)
{
    uint8_t *buf = fz_block(cap);
    size_t pos = 0, msg_out = 0;
    int rc = WS_DEFLATE_NEED_INPUT;

    do {
        size_t n = fz_split_next(plan, len - pos);
        bool last = pos + n == len;
        uint8_t *piece = fz_dup(in + pos, n);
        size_t at = 0;

        for (;;) {
            size_t used, made;
            rc = ws_inflater_step(z, n ? piece + at : NULL, n - at, last, buf, cap, &used, &made);
            FZ_CHECK(used <= n - at && made <= cap);
            if (rc < 0) {
                FZ_CHECK(made == 0);
                FZ_CHECK(rc == WS_E_MESSAGE_TOO_BIG || rc == WS_E_DEFLATE_DATA);
                break;
            }
            fz_buf_put(&s->out, buf, made);
            msg_out += made;
            FZ_CHECK(msg_out <= limit);
            at += used;
            if (rc == WS_DEFLATE_MORE) {
                /* Short of full only when an error comes next. */
                if (made < cap) {
                    rc = ws_inflater_step(z, NULL, 0, last, buf, cap, &used, &made);
                    FZ_CHECK(made == 0);
                    FZ_CHECK(rc == WS_E_MESSAGE_TOO_BIG || rc == WS_E_DEFLATE_DATA);
                    break;
                }
                continue;
            }
            FZ_CHECK(at == n);
            FZ_CHECK(rc == (last ? WS_DEFLATE_END : WS_DEFLATE_NEED_INPUT));
            break;
        }
        free(piece);
        pos += n;
    } while (rc == WS_DEFLATE_NEED_INPUT);
    free(buf);
    return rc;
}

/* Compresses one message in fragments of frag bytes (0: whole), cap bytes a step. */
static void fz_deflate(ws_deflater *z, const uint8_t *in, size_t len, size_t frag, size_t cap,
                       fz_buf *out)
{
    uint8_t *buf = fz_block(cap);
    size_t start = 0;

    do {
        size_t n = (frag == 0 || len - start <= frag) ? len - start : frag;
        bool last = start + n == len;
        size_t at = 0;
        int rc;

        for (;;) {
            size_t used, made;
            rc = ws_deflater_step(z, n ? in + start + at : NULL, n - at, last, buf, cap, &used,
                                  &made);
            FZ_CHECK(rc >= 0 && used <= n - at && made <= cap);
            fz_buf_put(out, buf, made);
            at += used;
            if (rc != WS_DEFLATE_MORE)
                break;
        }
        FZ_CHECK(at == n && rc == (last ? WS_DEFLATE_END : WS_DEFLATE_NEED_INPUT));
        start += n;
    } while (start < len);
    free(buf);
}

static void fz_round_trip(fz_reader *r, const ws_deflate_params *p, ws_role sender,
                          const ws_deflate_config *cfg, fz_split *plan, size_t cap, fz_alloc *alloc)
{
    ws_deflater *d;
    ws_inflater *z;
    int m;

    FZ_CHECK(ws_deflater_new(&d, p, sender, cfg, fz_realloc, alloc) == WS_OK);
    FZ_CHECK(ws_inflater_new(&z, p, sender == WS_ROLE_SERVER ? WS_ROLE_CLIENT : WS_ROLE_SERVER,
                             FZ_MSG_MAX, fz_realloc, alloc) == WS_OK);
    for (m = 0; m < FZ_MAX_MESSAGES && r->n > 0; m++) {
        size_t want = fz_u16(r) % (FZ_MSG_MAX + 1), frag = fz_u8(r) * 16u, len;
        const uint8_t *msg;
        fz_buf c = {0};
        fz_sink s = {{0}, 0};

        len = fz_take(r, want, &msg);
        fz_deflate(d, msg, len, frag, frag ? cap : ws_deflater_bound(len), &c);
        if (frag == 0)
            FZ_CHECK(c.len <= ws_deflater_bound(len));
        FZ_CHECK(fz_inflate(z, c.p, c.len, plan, cap, &s, FZ_MSG_MAX) == WS_DEFLATE_END);
        FZ_CHECK(s.out.len == len && (len == 0 || memcmp(s.out.p, msg, len) == 0));
        fz_buf_free(&c);
        fz_buf_free(&s.out);
    }
    ws_deflater_free(d);
    ws_inflater_free(z);
}

static void fz_hostile(fz_reader *r, const ws_deflate_params *p, ws_role role, fz_split *plan,
                       size_t cap, fz_alloc *alloc)
{
    size_t limit = 1 + fz_u16(r) % 2048;
    ws_inflater *a, *b;
    fz_sink sa = {{0}, 0}, sb = {{0}, 0};
    int m;

    FZ_CHECK(ws_inflater_new(&a, p, role, limit, fz_realloc, alloc) == WS_OK);
    FZ_CHECK(ws_inflater_new(&b, p, role, limit, fz_realloc, alloc) == WS_OK);
    for (m = 0; m < FZ_MAX_MESSAGES && r->n > 0; m++) {
        size_t want = fz_u16(r), len;
        const uint8_t *msg;
        fz_split whole;
        int ra, rb;

        len = fz_take(r, want, &msg);
        fz_split_whole(&whole);
        ra = fz_inflate(a, msg, len, plan, cap, &sa, limit);
        rb = fz_inflate(b, msg, len, &whole, WS_DEFLATE_OUT_MIN, &sb, limit);
        FZ_CHECK(ra == rb);
        FZ_CHECK(fz_buf_eq(&sa.out, &sb.out));
        FZ_CHECK(alloc->peak_bytes <= 2 * FZ_INFLATER_MAX);
        if (ra != WS_DEFLATE_END)
            break;
        sa.out.len = sb.out.len = 0;
    }
    ws_inflater_free(a);
    ws_inflater_free(b);
    fz_buf_free(&sa.out);
    fz_buf_free(&sb.out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader r;
    fz_alloc alloc;
    fz_split plan;
    ws_deflate_params p;
    ws_deflate_config cfg;
    uint8_t mode, flags, windows, level;
    ws_role role;
    size_t cap;

    fz_reader_init(&r, data, size);
    mode = fz_u8(&r);
    flags = fz_u8(&r);
    windows = fz_u8(&r);
    level = fz_u8(&r);
    cap = WS_DEFLATE_OUT_MIN + (size_t)fz_u8(&r) * 16u;
    fz_split_read(&plan, &r);

    role = (mode & 2) ? WS_ROLE_CLIENT : WS_ROLE_SERVER;
    p.server_no_context_takeover = (flags & 1) != 0;
    p.client_no_context_takeover = (flags & 2) != 0;
    p.server_max_window_bits = (uint8_t)(8 + (windows & 7));
    p.client_max_window_bits = (uint8_t)(8 + ((windows >> 3) & 7));
    ws_deflate_config_init(&cfg);
    cfg.level = level % 10;
    cfg.mem_level = 1 + (level >> 4) % 9;

    memset(&alloc, 0, sizeof alloc);
    if (mode & 1)
        fz_hostile(&r, &p, role, &plan, cap, &alloc);
    else
        fz_round_trip(&r, &p, role, &cfg, &plan, cap, &alloc);
    FZ_CHECK(alloc.live_bytes == 0 && alloc.live_blocks == 0);
    return 0;
}
