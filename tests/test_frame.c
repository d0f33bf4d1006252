/*
 * Frame codec tests: a table of wire bytes -> expected frames (header, payload) or error at
 * an exact position, run whole, byte by byte and split every other way; encoder round trips.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ws.h"

/* --------------------------------------------------------------------------------------
 * Byte specs: hex digits (spaces ignored), "{N}" for N pattern bytes, "{N^kkkkkkkk}" for N
 * pattern bytes masked with the 4-byte key kkkkkkkk (key offset 0 at the token start).
 * -------------------------------------------------------------------------------------- */

#define KEY "37fa213d"

static uint8_t pattern_byte(size_t i)
{
    return (uint8_t)(i * 131u + 17u);
}

static unsigned hex_val(char ch)
{
    if (ch >= '0' && ch <= '9')
        return (unsigned)(ch - '0');
    if (ch >= 'a' && ch <= 'f')
        return (unsigned)(ch - 'a' + 10);
    if (ch >= 'A' && ch <= 'F')
        return (unsigned)(ch - 'A' + 10);
    fail_msg("bad hex digit '%c' in a test spec", ch);
    return 0;
}

/* Expands spec into out (when not NULL); returns the byte count. */
static size_t spec_expand(const char *spec, uint8_t *out)
{
    size_t n = 0;
    const char *s = spec;

    while (*s != '\0') {
        if (*s == ' ') {
            s++;
        } else if (*s == '{') {
            char *end;
            size_t count = (size_t)strtoul(s + 1, &end, 10);
            uint8_t key[4] = {0, 0, 0, 0};
            bool masked = *end == '^';
            size_t i;

            if (masked) {
                for (i = 0; i < 4; i++)
                    key[i] = (uint8_t)(hex_val(end[1 + 2 * i]) << 4 | hex_val(end[2 + 2 * i]));
                end += 9;
            }
            assert_int_equal(*end, '}');
            for (i = 0; i < count; i++) {
                if (out != NULL)
                    out[n] = (uint8_t)(pattern_byte(i) ^ (masked ? key[i % 4] : 0u));
                n++;
            }
            s = end + 1;
        } else {
            if (out != NULL)
                out[n] = (uint8_t)(hex_val(s[0]) << 4 | hex_val(s[1]));
            n++;
            s += 2;
        }
    }
    return n;
}

static uint8_t *spec_bytes(const char *spec, size_t *len)
{
    size_t n = spec_expand(spec, NULL);
    uint8_t *p = malloc(n ? n : 1);

    assert_non_null(p);
    *len = spec_expand(spec, p);
    return p;
}

/* --------------------------------------------------------------------------------------
 * The table
 * -------------------------------------------------------------------------------------- */

#define S          WS_ROLE_SERVER
#define C          WS_ROLE_CLIENT
#define MAX_FRAMES 6

typedef struct exp_frame {
    uint8_t b0; /* FIN | RSV | opcode as on the wire */
    uint64_t length;
    bool masked;
    const char *payload; /* the unmasked payload delivered, as a spec */
    bool partial;        /* the input ends inside this frame's payload */
} exp_frame;

typedef struct frame_case {
    const char *name;
    ws_role role;
    const char *input;
    size_t nframes;
    exp_frame frames[MAX_FRAMES];
    int error;        /* 0: no error */
    size_t error_pos; /* absolute offset of the offending byte */
    uint8_t allowed_rsv;
    bool allow_nonminimal;
    bool set_max; /* else the decoder's default (16 MiB) */
    uint64_t max;
} frame_case;

#define OK1(b0, len, m, pay) .nframes = 1, .frames = {{b0, len, m, pay, false}}
#define ERR(e, pos)          .error = (e), .error_pos = (pos)
#define RESERVED_OP_S(hex)                                                                         \
    {                                                                                              \
        "server: reserved opcode " hex, S, hex "80" KEY, ERR(WS_E_RESERVED_OPCODE, 0)              \
    }
#define RESERVED_OP_C(hex)                                                                         \
    {                                                                                              \
        "client: reserved opcode " hex, C, hex "00", ERR(WS_E_RESERVED_OPCODE, 0)                  \
    }

static const frame_case cases[] = {
    /* Each length class, both roles; masked payloads come out unmasked. */
    {"server: length 0", S, "8180" KEY, OK1(0x81, 0, true, "")},
    {"client: length 0", C, "8100", OK1(0x81, 0, false, "")},
    {"server: length 1", S, "8281" KEY "{1^" KEY "}", OK1(0x82, 1, true, "{1}")},
    {"client: length 1", C, "8201 {1}", OK1(0x82, 1, false, "{1}")},
    {"server: length 125", S, "82fd" KEY "{125^" KEY "}", OK1(0x82, 125, true, "{125}")},
    {"client: length 125", C, "827d {125}", OK1(0x82, 125, false, "{125}")},
    {"server: length 126 (16-bit)", S, "82fe007e" KEY "{126^" KEY "}",
     OK1(0x82, 126, true, "{126}")},
    {"client: length 126 (16-bit)", C, "027e007e {126}", OK1(0x02, 126, false, "{126}")},
    {"server: length 65535", S, "82feffff" KEY "{65535^" KEY "}",
     OK1(0x82, 65535, true, "{65535}")},
    {"client: length 65535", C, "827effff {65535}", OK1(0x82, 65535, false, "{65535}")},
    {"server: length 65536 (64-bit)", S, "82ff0000000000010000" KEY "{65536^" KEY "}",
     OK1(0x82, 65536, true, "{65536}")},
    {"client: length 65536 (64-bit)", C, "827f0000000000010000 {65536}",
     OK1(0x82, 65536, false, "{65536}")},
    /* RFC 6455 §5.7 examples. */
    {"server: RFC masked Hello", S, "818537fa213d7f9f4d5158", OK1(0x81, 5, true, "48656c6c6f")},
    {"client: RFC unmasked Hello", C, "810548656c6c6f", OK1(0x81, 5, false, "48656c6c6f")},
    {"client: RFC fragmented Hello", C, "010348656c 80026c6f", .nframes = 2,
     .frames = {{0x01, 3, false, "48656c", false}, {0x80, 2, false, "6c6f", false}}},
    {"server: RFC masked ping", S, "898537fa213d7f9f4d5158", OK1(0x89, 5, true, "48656c6c6f")},
    {"client: RFC pong", C, "8a0548656c6c6f", OK1(0x8a, 5, false, "48656c6c6f")},
    /* Control frames at the 125-byte limit are fine. */
    {"server: ping of 125", S, "89fd" KEY "{125^" KEY "}", OK1(0x89, 125, true, "{125}")},
    {"client: ping of 125", C, "897d {125}", OK1(0x89, 125, false, "{125}")},
    {"client: close of 125", C, "887d {125}", OK1(0x88, 125, false, "{125}")},
    {"server: empty pong", S, "8a80" KEY, OK1(0x8a, 0, true, "")},
    /* Reserved opcodes. */
    RESERVED_OP_S("83"),
    RESERVED_OP_S("84"),
    RESERVED_OP_S("85"),
    RESERVED_OP_S("86"),
    RESERVED_OP_S("87"),
    RESERVED_OP_S("8b"),
    RESERVED_OP_S("8c"),
    RESERVED_OP_S("8d"),
    RESERVED_OP_S("8e"),
    RESERVED_OP_S("8f"),
    RESERVED_OP_C("83"),
    RESERVED_OP_C("84"),
    RESERVED_OP_C("85"),
    RESERVED_OP_C("86"),
    RESERVED_OP_C("87"),
    RESERVED_OP_C("8b"),
    RESERVED_OP_C("8c"),
    RESERVED_OP_C("8d"),
    RESERVED_OP_C("8e"),
    RESERVED_OP_C("8f"),
    {"server: reserved opcode without FIN", S, "0380" KEY, ERR(WS_E_RESERVED_OPCODE, 0)},
    {"client: reserved opcode after a frame", C, "8100 8b00", .nframes = 1,
     .frames = {{0x81, 0, false, "", false}}, ERR(WS_E_RESERVED_OPCODE, 2)},
    /* RSV bits, with and without an extension allowing them. */
    {"server: RSV1", S, "c180" KEY, ERR(WS_E_RESERVED_BITS, 0)},
    {"server: RSV2", S, "a180" KEY, ERR(WS_E_RESERVED_BITS, 0)},
    {"server: RSV3", S, "9180" KEY, ERR(WS_E_RESERVED_BITS, 0)},
    {"client: RSV1", C, "c100", ERR(WS_E_RESERVED_BITS, 0)},
    {"client: RSV2", C, "a100", ERR(WS_E_RESERVED_BITS, 0)},
    {"client: RSV3", C, "9100", ERR(WS_E_RESERVED_BITS, 0)},
    {"server: RSV1 allowed", S, "c181" KEY "{1^" KEY "}", OK1(0xc1, 1, true, "{1}"),
     .allowed_rsv = WS_RSV1},
    {"server: RSV2 allowed", S, "a180" KEY, OK1(0xa1, 0, true, ""), .allowed_rsv = WS_RSV2},
    {"server: RSV3 allowed", S, "9180" KEY, OK1(0x91, 0, true, ""), .allowed_rsv = WS_RSV3},
    {"client: RSV1 allowed", C, "c101 {1}", OK1(0xc1, 1, false, "{1}"), .allowed_rsv = WS_RSV1},
    {"client: RSV2 allowed", C, "a100", OK1(0xa1, 0, false, ""), .allowed_rsv = WS_RSV2},
    {"client: RSV3 allowed", C, "9100", OK1(0x91, 0, false, ""), .allowed_rsv = WS_RSV3},
    {"server: RSV2 when only RSV1 allowed", S, "a180" KEY, ERR(WS_E_RESERVED_BITS, 0),
     .allowed_rsv = WS_RSV1},
    {"client: RSV1 when only RSV3 allowed", C, "c100", ERR(WS_E_RESERVED_BITS, 0),
     .allowed_rsv = WS_RSV3},
    {"client: all RSV allowed", C, "f100", OK1(0xf1, 0, false, ""),
     .allowed_rsv = WS_RSV1 | WS_RSV2 | WS_RSV3},
    /* Control frames: too long, not final. */
    {"server: ping of 126", S, "89fe007e" KEY "{126^" KEY "}", ERR(WS_E_CONTROL_TOO_LONG, 1)},
    {"client: close of 126", C, "887e007e {126}", ERR(WS_E_CONTROL_TOO_LONG, 1)},
    {"client: pong with 64-bit length", C, "8a7f0000000000000080", ERR(WS_E_CONTROL_TOO_LONG, 1)},
    {"server: ping of 126, nonminimal allowed", S, "89fe007e" KEY, ERR(WS_E_CONTROL_TOO_LONG, 3),
     .allow_nonminimal = true},
    {"client: ping of 126 in 64 bits, nonminimal allowed", C, "897f000000000000007e",
     ERR(WS_E_CONTROL_TOO_LONG, 9), .allow_nonminimal = true},
    {"server: ping of 5 in 16 bits, nonminimal allowed", S, "89fe0005" KEY "{5^" KEY "}",
     OK1(0x89, 5, true, "{5}"), .allow_nonminimal = true},
    {"client: pong of 3 in 64 bits, nonminimal allowed", C, "8a7f0000000000000003 {3}",
     OK1(0x8a, 3, false, "{3}"), .allow_nonminimal = true},
    {"server: ping not final", S, "0980" KEY, ERR(WS_E_CONTROL_FRAGMENTED, 0)},
    {"client: close not final", C, "0800", ERR(WS_E_CONTROL_FRAGMENTED, 0)},
    {"client: pong not final", C, "0a00", ERR(WS_E_CONTROL_FRAGMENTED, 0)},
    /* Masking against the role. */
    {"server: unmasked frame", S, "810548656c6c6f", ERR(WS_E_UNMASKED, 1)},
    {"client: masked frame", C, "818537fa213d7f9f4d5158", ERR(WS_E_MASKED, 1)},
    {"server: unmasked after a good frame", S, "8180" KEY "8a00", .nframes = 1,
     .frames = {{0x81, 0, true, "", false}}, ERR(WS_E_UNMASKED, 7)},
    /* 64-bit length with the top bit set. */
    {"server: length MSB", S, "82ff8000000000000000" KEY, ERR(WS_E_LENGTH_MSB, 2)},
    {"server: length MSB, no limit", S, "82ffffffffffffffffff" KEY, ERR(WS_E_LENGTH_MSB, 2),
     .set_max = true, .max = 0},
    {"client: length MSB", C, "827f8000000000000001", ERR(WS_E_LENGTH_MSB, 2)},
    {"client: length MSB, nonminimal allowed", C, "827fff00000000000000", ERR(WS_E_LENGTH_MSB, 2),
     .allow_nonminimal = true},
    /* Non-minimal lengths. */
    {"server: 125 in 16 bits", S, "82fe007d" KEY "{125^" KEY "}", ERR(WS_E_LENGTH_NONMINIMAL, 3)},
    {"server: 125 in 16 bits allowed", S, "82fe007d" KEY "{125^" KEY "}",
     OK1(0x82, 125, true, "{125}"), .allow_nonminimal = true},
    {"server: 0 in 16 bits", S, "82fe0000" KEY, ERR(WS_E_LENGTH_NONMINIMAL, 3)},
    {"server: 0 in 16 bits allowed", S, "82fe0000" KEY, OK1(0x82, 0, true, ""),
     .allow_nonminimal = true},
    {"client: 125 in 16 bits", C, "827e007d {125}", ERR(WS_E_LENGTH_NONMINIMAL, 3)},
    {"client: 125 in 16 bits allowed", C, "827e007d {125}", OK1(0x82, 125, false, "{125}"),
     .allow_nonminimal = true},
    {"server: 65535 in 64 bits", S, "82ff000000000000ffff" KEY "{65535^" KEY "}",
     ERR(WS_E_LENGTH_NONMINIMAL, 9)},
    {"server: 65535 in 64 bits allowed", S, "82ff000000000000ffff" KEY "{65535^" KEY "}",
     OK1(0x82, 65535, true, "{65535}"), .allow_nonminimal = true},
    {"client: 5 in 64 bits", C, "827f0000000000000005 {5}", ERR(WS_E_LENGTH_NONMINIMAL, 9)},
    {"client: 5 in 64 bits allowed", C, "827f0000000000000005 {5}", OK1(0x82, 5, false, "{5}"),
     .allow_nonminimal = true},
    /* max_frame_size: fails at the length, with no mask key or payload given. */
    {"server: 1001 over 1000", S, "82fe03e9", ERR(WS_E_FRAME_TOO_BIG, 3), .set_max = true,
     .max = 1000},
    {"server: 1000 at 1000", S, "82fe03e8" KEY "{1000^" KEY "}", OK1(0x82, 1000, true, "{1000}"),
     .set_max = true, .max = 1000},
    {"server: 11 over 10", S, "828b", ERR(WS_E_FRAME_TOO_BIG, 1), .set_max = true, .max = 10},
    {"server: 10 at 10", S, "828a" KEY "{10^" KEY "}", OK1(0x82, 10, true, "{10}"), .set_max = true,
     .max = 10},
    {"client: ping of 11 over 10", C, "890b", ERR(WS_E_FRAME_TOO_BIG, 1), .set_max = true,
     .max = 10},
    {"client: 16 MiB + 1 over the default", C, "827f0000000001000001", ERR(WS_E_FRAME_TOO_BIG, 9)},
    {"client: 16 MiB at the default, payload pending", C, "827f0000000001000000", .nframes = 1,
     .frames = {{0x82, 16777216, false, "", true}}},
    {"server: 4 GiB with no limit, payload pending", S, "82ff0000000100000000" KEY, .nframes = 1,
     .frames = {{0x82, 4294967296u, true, "", true}}, .set_max = true, .max = 0},
    {"client: 2^63-1 with no limit", C, "827f7fffffffffffffff {3}", .nframes = 1,
     .frames = {{0x82, 0x7fffffffffffffffu, false, "{3}", true}}, .set_max = true, .max = 0},
    /* Which error wins when a frame breaks several rules (order documented in frame.c). */
    {"server: reserved opcode beats RSV", S, "f380" KEY, ERR(WS_E_RESERVED_OPCODE, 0)},
    {"server: reserved opcode beats no FIN", S, "0b80" KEY, ERR(WS_E_RESERVED_OPCODE, 0)},
    {"server: RSV beats control not final", S, "4880" KEY, ERR(WS_E_RESERVED_BITS, 0)},
    {"client: control not final beats too long", C, "097e", ERR(WS_E_CONTROL_FRAGMENTED, 0)},
    {"server: unmasked beats control too long", S, "897e", ERR(WS_E_UNMASKED, 1)},
    {"client: masked beats too big", C, "82ff", ERR(WS_E_MASKED, 1), .set_max = true, .max = 10},
    {"client: control too long beats too big", C, "897e", ERR(WS_E_CONTROL_TOO_LONG, 1),
     .set_max = true, .max = 10},
    {"server: nonminimal beats too big", S, "82fe007d", ERR(WS_E_LENGTH_NONMINIMAL, 3),
     .set_max = true, .max = 100},
    {"server: extended control too long beats too big", S, "89fe007e",
     ERR(WS_E_CONTROL_TOO_LONG, 3), .allow_nonminimal = true, .set_max = true, .max = 10},
    {"client: MSB beats too big", C, "827f8000000000000000", ERR(WS_E_LENGTH_MSB, 2),
     .set_max = true, .max = 10},
    /* Several frames back to back in one buffer. */
    {"server: four frames", S,
     "818537fa213d7f9f4d5158 8980" KEY " 82fe007e" KEY "{126^" KEY "} 8882" KEY "{2^" KEY "}",
     .nframes = 4,
     .frames = {{0x81, 5, true, "48656c6c6f", false},
                {0x89, 0, true, "", false},
                {0x82, 126, true, "{126}", false},
                {0x88, 2, true, "{2}", false}}},
    {"client: fragments, controls, then an error", C,
     "0103 {3} 8900 8a03 {3} 007e0080 {128} 8000 8100 0b00", .nframes = 6,
     .frames = {{0x01, 3, false, "{3}", false},
                {0x89, 0, false, "", false},
                {0x8a, 3, false, "{3}", false},
                {0x00, 128, false, "{128}", false},
                {0x80, 0, false, "", false},
                {0x81, 0, false, "", false}},
     ERR(WS_E_RESERVED_OPCODE, 148)},
    /* Input that ends early: inside a payload, inside a header. */
    {"server: truncated payload", S, "8285" KEY "{3^" KEY "}", .nframes = 1,
     .frames = {{0x82, 5, true, "{3}", true}}},
    {"client: truncated header", C, "827e00", .nframes = 0},
    {"server: truncated mask key", S, "8285 37fa", .nframes = 0},
};

/* --------------------------------------------------------------------------------------
 * Running the decoder over pieces of the input and recording what it reports
 * -------------------------------------------------------------------------------------- */

typedef struct trace_frame {
    ws_frame_header h;
    size_t off; /* payload bytes in trace.pay */
    size_t len;
    bool ended;
} trace_frame;

typedef struct trace {
    trace_frame f[MAX_FRAMES + 1];
    size_t n;
    uint8_t *pay; /* delivered payload, all frames, as many bytes as the input */
    size_t pay_len;
    int error;
    size_t error_pos;
} trace;

static void decoder_setup(ws_frame_decoder *d, const frame_case *c)
{
    ws_frame_decoder_init(d, c->role);
    d->allowed_rsv = c->allowed_rsv;
    d->allow_nonminimal = c->allow_nonminimal;
    if (c->set_max)
        d->max_frame_size = c->max;
}

/* Feeds one piece (its own allocation, so ASan sees any read beyond it); returns false
 * once an error was reported. */
static bool feed_piece(ws_frame_decoder *d, const uint8_t *src, size_t len, size_t base, trace *t)
{
    uint8_t *buf = malloc(len ? len : 1);
    size_t off = 0;
    size_t guard;

    assert_non_null(buf);
    if (len)
        memcpy(buf, src, len);
    for (guard = 0; guard < 4 * len + 8; guard++) {
        size_t consumed = 99999, chunk_len = 99999;
        uint8_t *chunk = NULL;
        int r = ws_frame_decode(d, buf + off, len - off, &consumed, &chunk, &chunk_len);
        trace_frame *f = t->n ? &t->f[t->n - 1] : NULL;

        assert_true(consumed <= len - off);
        if (r < 0) {
            t->error = r;
            t->error_pos = base + off + consumed;
            /* Errors are sticky and consume nothing. */
            assert_int_equal(ws_frame_decode(d, buf + off + consumed, len - off - consumed,
                                             &consumed, &chunk, &chunk_len),
                             r);
            assert_int_equal(consumed, 0);
            free(buf);
            return false;
        }
        switch (r) {
        case WS_FRAME_NEED_MORE:
            assert_int_equal(consumed, len - off);
            free(buf);
            return true;
        case WS_FRAME_HEADER:
            assert_true(f == NULL || f->ended);
            assert_true(consumed > 0);
            assert_true(t->n < MAX_FRAMES + 1);
            f = &t->f[t->n++];
            f->h = d->header;
            f->off = t->pay_len;
            f->len = 0;
            f->ended = false;
            break;
        case WS_FRAME_DATA:
        case WS_FRAME_END:
            assert_true(f != NULL && !f->ended);
            /* Zero copy: the chunk is exactly the bytes consumed, in place in buf. */
            assert_ptr_equal(chunk, buf + off);
            assert_int_equal(chunk_len, consumed);
            if (r == WS_FRAME_DATA)
                assert_true(chunk_len > 0);
            memcpy(t->pay + t->pay_len, chunk, chunk_len);
            t->pay_len += chunk_len;
            f->len += chunk_len;
            assert_true(f->len <= f->h.length);
            if (r == WS_FRAME_END) {
                assert_true(f->len == f->h.length);
                f->ended = true;
            }
            break;
        default:
            fail_msg("unexpected result %d", r);
        }
        off += consumed;
    }
    fail_msg("decoder made no progress");
    return false;
}

/* Runs the case with the input cut at cuts[0..ncuts) (ascending, inside the input). */
static void run_case(const frame_case *c, const uint8_t *in, size_t len, const size_t *cuts,
                     size_t ncuts, trace *t)
{
    ws_frame_decoder d;
    size_t start = 0, i;

    memset(t->f, 0, sizeof t->f);
    t->n = 0;
    t->pay_len = 0;
    t->error = 0;
    t->error_pos = 0;
    decoder_setup(&d, c);
    for (i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        if (!feed_piece(&d, in + start, end - start, start, t))
            return;
        start = end;
    }
}

static void check_trace(const frame_case *c, const trace *t, const char *how)
{
    size_t i;

    if (t->n != c->nframes || t->error != c->error || (c->error && t->error_pos != c->error_pos))
        fail_msg("%s (%s): %zu frames, error %d at %zu; expected %zu frames, error %d at %zu",
                 c->name, how, t->n, t->error, t->error_pos, c->nframes, c->error, c->error_pos);
    for (i = 0; i < c->nframes; i++) {
        const exp_frame *e = &c->frames[i];
        const trace_frame *f = &t->f[i];
        size_t plen;
        uint8_t *pay = spec_bytes(e->payload, &plen);

        if (f->h.fin != ((e->b0 & 0x80) != 0) || f->h.rsv != (e->b0 & 0x70) ||
            f->h.opcode != (e->b0 & 0x0f) || f->h.length != e->length || f->h.masked != e->masked ||
            f->ended == e->partial)
            fail_msg("%s (%s): frame %zu header or end differs", c->name, how, i);
        if (f->len != plen || memcmp(t->pay + f->off, pay, plen) != 0)
            fail_msg("%s (%s): frame %zu payload differs (%zu bytes, expected %zu)", c->name, how,
                     i, f->len, plen);
        free(pay);
    }
}

/* Same frames, keys included, as the reference run. */
static void check_same_keys(const frame_case *c, const trace *t, const trace *ref)
{
    size_t i;

    for (i = 0; i < t->n; i++) {
        if (memcmp(t->f[i].h.mask, ref->f[i].h.mask, 4) != 0)
            fail_msg("%s: frame %zu mask key differs between splits", c->name, i);
    }
}

static uint32_t rng_next(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* Two-piece splits at every offset; for the 64 KiB inputs, every offset near each end and
 * every 251st in between (the payload middle behaves the same at any cut, and all offsets
 * would cost minutes under ASan). */
static bool want_two_piece_cut(size_t k, size_t len)
{
    return len <= 2048 || k < 64 || k + 64 > len || k % 251 == 0;
}

static void run_all_splits(const frame_case *c)
{
    size_t len, k, r;
    uint8_t *in = spec_bytes(c->input, &len);
    size_t *cuts = malloc((len + 32) * sizeof *cuts); /* byte cuts, or up to 20 random */
    trace ref, t;
    uint32_t seed = 12345u;

    assert_non_null(cuts);
    ref.pay = malloc(len + 1);
    t.pay = malloc(len + 1);
    assert_non_null(ref.pay);
    assert_non_null(t.pay);

    run_case(c, in, len, NULL, 0, &ref);
    check_trace(c, &ref, "whole");

    for (k = 1; k < len; k++)
        cuts[k - 1] = k;
    run_case(c, in, len, cuts, len ? len - 1 : 0, &t);
    check_trace(c, &t, "byte by byte");
    check_same_keys(c, &t, &ref);

    for (k = 1; k < len; k++) {
        if (!want_two_piece_cut(k, len))
            continue;
        run_case(c, in, len, &k, 1, &t);
        check_trace(c, &t, "two pieces");
        check_same_keys(c, &t, &ref);
    }

    for (r = 0; r < 40 && len > 2; r++) {
        size_t n = 2 + rng_next(&seed) % 19, i, m = 0;

        for (i = 0; i < n; i++)
            cuts[i] = 1 + rng_next(&seed) % (len - 1);
        qsort(cuts, n, sizeof *cuts, cmp_size);
        for (i = 0; i < n; i++) {
            if (m == 0 || cuts[m - 1] != cuts[i])
                cuts[m++] = cuts[i];
        }
        run_case(c, in, len, cuts, m, &t);
        check_trace(c, &t, "random pieces");
        check_same_keys(c, &t, &ref);
    }

    free(ref.pay);
    free(t.pay);
    free(cuts);
    free(in);
}

static void test_table_split_invariance(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_all_splits(&cases[i]);
}

/* --------------------------------------------------------------------------------------
 * Decoder behaviour outside the table
 * -------------------------------------------------------------------------------------- */

static void test_decode_empty_input(void **state)
{
    ws_frame_decoder d;
    size_t consumed = 7, clen = 7;
    uint8_t *chunk = NULL;
    uint8_t one = 0x81;

    (void)state;
    ws_frame_decoder_init(&d, WS_ROLE_CLIENT);
    assert_int_equal(ws_frame_decode(&d, NULL, 0, &consumed, &chunk, &clen), WS_FRAME_NEED_MORE);
    assert_int_equal(consumed, 0);
    assert_int_equal(ws_frame_decode(&d, &one, 1, &consumed, &chunk, &clen), WS_FRAME_NEED_MORE);
    assert_int_equal(consumed, 1);
    assert_int_equal(ws_frame_decode(&d, NULL, 0, &consumed, &chunk, &clen), WS_FRAME_NEED_MORE);
    assert_int_equal(consumed, 0);
}

static void test_decoder_defaults(void **state)
{
    ws_frame_decoder d;

    (void)state;
    ws_frame_decoder_init(&d, WS_ROLE_SERVER);
    assert_true(d.max_frame_size == 16u * 1024u * 1024u);
    assert_int_equal(d.allowed_rsv, 0);
    assert_false(d.allow_nonminimal);
    assert_int_equal(d.role, WS_ROLE_SERVER);
}

/* A header that is wholly in the caller's buffer is parsed there, not copied to the stash
 * (the per-frame fast path); a split header is stashed. */
static void test_whole_header_not_stashed(void **state)
{
    uint8_t buf[] = {0x82, 0x7e, 0x00, 0x80};
    uint8_t stash[WS_FRAME_HEADER_MAX];
    ws_frame_decoder d;
    size_t consumed, clen;
    uint8_t *chunk;

    (void)state;
    ws_frame_decoder_init(&d, WS_ROLE_CLIENT);
    memset(d.hdr, 0xa5, sizeof d.hdr);
    memcpy(stash, d.hdr, sizeof stash);
    assert_int_equal(ws_frame_decode(&d, buf, 4, &consumed, &chunk, &clen), WS_FRAME_HEADER);
    assert_int_equal(consumed, 4);
    assert_true(d.header.length == 128);
    assert_memory_equal(d.hdr, stash, sizeof stash);

    ws_frame_decoder_init(&d, WS_ROLE_CLIENT);
    memset(d.hdr, 0xa5, sizeof d.hdr);
    assert_int_equal(ws_frame_decode(&d, buf, 3, &consumed, &chunk, &clen), WS_FRAME_NEED_MORE);
    assert_int_equal(consumed, 3);
    assert_memory_equal(d.hdr, buf, 3);
    assert_int_equal(ws_frame_decode(&d, buf + 3, 1, &consumed, &chunk, &clen), WS_FRAME_HEADER);
    assert_int_equal(consumed, 1);
    assert_true(d.header.length == 128);
}

/* Settings may change between frames: an extension negotiated mid-stream takes effect on the
 * next header. */
static void test_settings_between_frames(void **state)
{
    uint8_t buf[] = {0x81, 0x00, 0xc1, 0x00};
    ws_frame_decoder d;
    size_t consumed, clen;
    uint8_t *chunk;

    (void)state;
    ws_frame_decoder_init(&d, WS_ROLE_CLIENT);
    assert_int_equal(ws_frame_decode(&d, buf, 4, &consumed, &chunk, &clen), WS_FRAME_HEADER);
    assert_int_equal(consumed, 2);
    assert_int_equal(ws_frame_decode(&d, buf + 2, 2, &consumed, &chunk, &clen), WS_FRAME_END);
    assert_int_equal(consumed, 0);
    assert_int_equal(clen, 0);
    d.allowed_rsv = WS_RSV1;
    assert_int_equal(ws_frame_decode(&d, buf + 2, 2, &consumed, &chunk, &clen), WS_FRAME_HEADER);
    assert_int_equal(d.header.rsv, WS_RSV1);
}

/* --------------------------------------------------------------------------------------
 * Encoder
 * -------------------------------------------------------------------------------------- */

typedef struct fake_random {
    uint32_t counter;
    int calls;
    bool fail;
} fake_random;

static int fake_random_fn(void *ud, uint8_t *buf, size_t len)
{
    fake_random *fr = ud;
    size_t i;

    fr->calls++;
    if (fr->fail)
        return -1;
    for (i = 0; i < len; i++)
        buf[i] = (uint8_t)(fr->counter >> (8 * (i % 4)));
    fr->counter = fr->counter * 2654435761u + 1u;
    return 0;
}

static const uint64_t lengths[] = {0, 1, 125, 126, 127, 65535, 65536, 70000};

/* Encode a header, (client) mask the payload, decode with the other role's decoder. */
static void roundtrip(ws_role sender, uint8_t opcode, bool fin, uint8_t rsv, uint64_t length)
{
    fake_random fr = {0x01020304u, 0, false};
    ws_frame_encoder e;
    ws_frame_decoder d;
    uint8_t key[4] = {0, 0, 0, 0};
    size_t plen = (size_t)length, consumed, clen, i, got = 0;
    uint8_t *wire = malloc(WS_FRAME_HEADER_MAX + plen);
    uint8_t *chunk;
    int n, r;

    assert_non_null(wire);
    ws_frame_encoder_init(&e, sender, sender == WS_ROLE_CLIENT ? fake_random_fn : NULL, &fr);
    n = ws_frame_encode(&e, wire, opcode, fin, rsv, length, key);
    assert_true(n > 0);
    assert_int_equal((size_t)n, ws_frame_header_size(length, sender == WS_ROLE_CLIENT));
    for (i = 0; i < plen; i++)
        wire[(size_t)n + i] = pattern_byte(i);
    if (sender == WS_ROLE_CLIENT) {
        assert_int_equal(fr.calls, 1);
        assert_memory_equal(wire + n - 4, key, 4);
        ws_mask(wire + n, plen, key, 0);
    }

    ws_frame_decoder_init(&d, sender == WS_ROLE_CLIENT ? WS_ROLE_SERVER : WS_ROLE_CLIENT);
    d.allowed_rsv = WS_RSV1 | WS_RSV2 | WS_RSV3;
    r = ws_frame_decode(&d, wire, (size_t)n + plen, &consumed, &chunk, &clen);
    assert_int_equal(r, WS_FRAME_HEADER);
    assert_int_equal(consumed, (size_t)n);
    assert_int_equal(d.header.opcode, opcode);
    assert_int_equal(d.header.fin, fin);
    assert_int_equal(d.header.rsv, rsv);
    assert_true(d.header.length == length);
    assert_int_equal(d.header.masked, sender == WS_ROLE_CLIENT);
    r = ws_frame_decode(&d, wire + n, plen, &consumed, &chunk, &clen);
    assert_int_equal(r, WS_FRAME_END);
    assert_int_equal(clen, plen);
    for (i = 0; i < plen; i++) {
        if (chunk[i] != pattern_byte(i))
            fail_msg("payload byte %zu of %zu differs after the round trip", i, plen);
        got++;
    }
    assert_int_equal(got, plen);
    free(wire);
}

static void test_encode_roundtrip(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        roundtrip(WS_ROLE_CLIENT, WS_OP_BINARY, true, 0, lengths[i]);
        roundtrip(WS_ROLE_SERVER, WS_OP_BINARY, true, 0, lengths[i]);
        roundtrip(WS_ROLE_CLIENT, WS_OP_TEXT, false, WS_RSV1, lengths[i]);
        roundtrip(WS_ROLE_SERVER, WS_OP_CONTINUATION, false, WS_RSV2 | WS_RSV3, lengths[i]);
    }
    roundtrip(WS_ROLE_CLIENT, WS_OP_PING, true, 0, 125);
    roundtrip(WS_ROLE_SERVER, WS_OP_CLOSE, true, 0, 2);
    roundtrip(WS_ROLE_SERVER, WS_OP_PONG, true, 0, 0);
}

/* Headers for very long payloads: only the header is round-tripped. */
static void test_encode_long_headers(void **state)
{
    static const uint64_t big[] = {0x10000u, 0xffffffffu, 0x100000000u, 0x7fffffffffffffffu};
    ws_frame_encoder e;
    ws_frame_decoder d;
    uint8_t out[WS_FRAME_HEADER_MAX];
    size_t i, consumed, clen;
    uint8_t *chunk;

    (void)state;
    for (i = 0; i < sizeof big / sizeof big[0]; i++) {
        ws_frame_encoder_init(&e, WS_ROLE_SERVER, NULL, NULL);
        assert_int_equal(ws_frame_encode(&e, out, WS_OP_BINARY, true, 0, big[i], NULL), 10);
        assert_int_equal(out[1], 127);
        ws_frame_decoder_init(&d, WS_ROLE_CLIENT);
        d.max_frame_size = 0;
        assert_int_equal(ws_frame_decode(&d, out, 10, &consumed, &chunk, &clen), WS_FRAME_HEADER);
        assert_true(d.header.length == big[i]);
    }
}

/* Exact bytes: shortest length form, RFC 6455 §5.7 examples. */
static void test_encode_exact_bytes(void **state)
{
    static const struct {
        uint64_t length;
        uint8_t bytes[10];
        size_t size;
    } forms[] = {
        {0, {0x82, 0x00}, 2},
        {125, {0x82, 0x7d}, 2},
        {126, {0x82, 0x7e, 0x00, 0x7e}, 4},
        {65535, {0x82, 0x7e, 0xff, 0xff}, 4},
        {65536, {0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0}, 10},
        {0x0102030405060708u, {0x82, 0x7f, 1, 2, 3, 4, 5, 6, 7, 8}, 10},
    };
    static const uint8_t rfc_masked[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d};
    uint8_t out[WS_FRAME_HEADER_MAX];
    ws_frame_header h;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        memset(&h, 0, sizeof h);
        h.opcode = WS_OP_BINARY;
        h.fin = true;
        h.length = forms[i].length;
        assert_int_equal(ws_frame_header_encode(out, &h), (int)forms[i].size);
        assert_memory_equal(out, forms[i].bytes, forms[i].size);
        assert_int_equal(ws_frame_header_size(forms[i].length, false), forms[i].size);
        assert_int_equal(ws_frame_header_size(forms[i].length, true), forms[i].size + 4);
    }
    memset(&h, 0, sizeof h);
    h.opcode = WS_OP_TEXT;
    h.fin = true;
    h.length = 5;
    h.masked = true;
    memcpy(h.mask, rfc_masked + 2, 4);
    assert_int_equal(ws_frame_header_encode(out, &h), 6);
    assert_memory_equal(out, rfc_masked, 6);
}

static void test_encode_invalid(void **state)
{
    static const struct {
        uint8_t opcode;
        bool fin;
        uint8_t rsv;
        uint64_t length;
    } bad[] = {
        {16, true, 0, 0}, /* opcode above 15 */
        {0xff, true, 0, 0},
        {WS_OP_TEXT, true, 0x80, 0}, /* RSV outside RSV1..3 */
        {WS_OP_TEXT, true, 0x01, 0},
        {WS_OP_TEXT, true, 0x0f, 0},
        {WS_OP_BINARY, true, 0, 0x8000000000000000u}, /* length MSB */
        {WS_OP_BINARY, true, 0, UINT64_MAX},
        {WS_OP_PING, true, 0, 126}, /* control too long */
        {WS_OP_CLOSE, true, 0, 65536},
        {WS_OP_PONG, false, 0, 0}, /* control not final */
        {0xB, false, 0, 0},        /* reserved control range is still control */
    };
    fake_random fr = {1, 0, false};
    ws_frame_encoder server, client;
    ws_frame_header h;
    uint8_t out[WS_FRAME_HEADER_MAX];
    uint8_t key[4];
    size_t i;

    (void)state;
    ws_frame_encoder_init(&server, WS_ROLE_SERVER, NULL, NULL);
    ws_frame_encoder_init(&client, WS_ROLE_CLIENT, fake_random_fn, &fr);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&h, 0, sizeof h);
        h.opcode = bad[i].opcode;
        h.fin = bad[i].fin;
        h.rsv = bad[i].rsv;
        h.length = bad[i].length;
        assert_int_equal(ws_frame_header_encode(out, &h), WS_E_INVALID);
        assert_int_equal(ws_frame_encode(&server, out, bad[i].opcode, bad[i].fin, bad[i].rsv,
                                         bad[i].length, NULL),
                         WS_E_INVALID);
        assert_int_equal(ws_frame_encode(&client, out, bad[i].opcode, bad[i].fin, bad[i].rsv,
                                         bad[i].length, key),
                         WS_E_INVALID);
    }
    /* Rejected calls draw no randomness. */
    assert_int_equal(fr.calls, 0);
    /* Limits themselves are accepted. */
    assert_int_equal(ws_frame_encode(&server, out, WS_OP_PING, true, 0, 125, NULL), 2);
    assert_int_equal(ws_frame_encode(&server, out, 15, true, 0, 0, NULL), 2);
    assert_int_equal(ws_frame_encode(&server, out, WS_OP_TEXT, true, 0x70, 0, NULL), 2);
    assert_int_equal(out[0], 0xf1);
}

static void test_encode_random(void **state)
{
    fake_random fr = {7, 0, false};
    ws_frame_encoder e;
    uint8_t out[WS_FRAME_HEADER_MAX];
    uint8_t keys[8][4];
    size_t i, j;

    (void)state;
    /* Client: a fresh key per frame, in the header and in key_out. */
    ws_frame_encoder_init(&e, WS_ROLE_CLIENT, fake_random_fn, &fr);
    for (i = 0; i < 8; i++) {
        assert_int_equal(ws_frame_encode(&e, out, WS_OP_TEXT, true, 0, 3, keys[i]), 6);
        assert_int_equal(out[1], 0x83);
        assert_memory_equal(out + 2, keys[i], 4);
        for (j = 0; j < i; j++)
            assert_memory_not_equal(keys[i], keys[j], 4);
    }
    assert_int_equal(fr.calls, 8);
    /* key_out may be NULL: the key is still in the header. */
    assert_int_equal(ws_frame_encode(&e, out, WS_OP_TEXT, true, 0, 3, NULL), 6);
    assert_int_equal(out[1] & 0x80, 0x80);

    /* Missing or failing random source. */
    ws_frame_encoder_init(&e, WS_ROLE_CLIENT, NULL, NULL);
    assert_int_equal(ws_frame_encode(&e, out, WS_OP_TEXT, true, 0, 3, keys[0]), WS_E_RANDOM);
    fr.fail = true;
    ws_frame_encoder_init(&e, WS_ROLE_CLIENT, fake_random_fn, &fr);
    assert_int_equal(ws_frame_encode(&e, out, WS_OP_TEXT, true, 0, 3, keys[0]), WS_E_RANDOM);

    /* Server: never masked, never asks for randomness. */
    fr.fail = false;
    fr.calls = 0;
    ws_frame_encoder_init(&e, WS_ROLE_SERVER, fake_random_fn, &fr);
    assert_int_equal(ws_frame_encode(&e, out, WS_OP_TEXT, true, 0, 3, keys[0]), 2);
    assert_int_equal(out[1], 0x03);
    assert_int_equal(fr.calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_split_invariance),
        cmocka_unit_test(test_decode_empty_input),
        cmocka_unit_test(test_decoder_defaults),
        cmocka_unit_test(test_whole_header_not_stashed),
        cmocka_unit_test(test_settings_between_frames),
        cmocka_unit_test(test_encode_roundtrip),
        cmocka_unit_test(test_encode_long_headers),
        cmocka_unit_test(test_encode_exact_bytes),
        cmocka_unit_test(test_encode_invalid),
        cmocka_unit_test(test_encode_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
