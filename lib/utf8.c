/*
 * Incremental UTF-8 validation (RFC 3629) for text messages and close reasons: a small DFA
 * whose state survives between chunks, so the first byte that makes the text invalid is
 * found exactly, even when its sequence began in an earlier fragment.
 */
#include "ws_internal.h"

/*
 * The DFA. A state is a bit offset, and the table row of a byte holds, in the 6-bit field
 * at each state's offset, the state that byte leads to. One step is then
 *     s = row[byte] >> s
 * whose only dependency on the previous byte is a shift (the row load does not wait for
 * s), which is what makes mixed text fast. Only the low 6 bits of s are meaningful: the
 * shift takes s & 63, which compilers fold into the shift instruction itself.
 */
#define UTF8_STATE_BITS 6
#define UTF8_STATE_MASK 63u

enum utf8_state {
    U_ACCEPT = 0, /* at a character boundary; must be 0 (see ws_utf8) */
    U_NEED1 = 6,  /* one more continuation byte 80..BF */
    U_NEED2 = 12, /* two more */
    U_NEED3 = 18, /* three more */
    U_E0 = 24,    /* after E0: A0..BF, else overlong */
    U_ED = 30,    /* after ED: 80..9F, else a surrogate */
    U_F0 = 36,    /* after F0: 90..BF, else overlong */
    U_F4 = 42,    /* after F4: 80..8F, else above U+10FFFF */
    U_FAIL = 48   /* absorbing: once invalid, always invalid */
};

/* A byte's row from the state it leads to from each state; FAIL always leads to FAIL. */
#define ROW(accept, need1, need2, need3, e0, ed, f0, f4)                                           \
    (((uint64_t)(accept) << U_ACCEPT) | ((uint64_t)(need1) << U_NEED1) |                           \
     ((uint64_t)(need2) << U_NEED2) | ((uint64_t)(need3) << U_NEED3) | ((uint64_t)(e0) << U_E0) |  \
     ((uint64_t)(ed) << U_ED) | ((uint64_t)(f0) << U_F0) | ((uint64_t)(f4) << U_F4) |              \
     ((uint64_t)U_FAIL << U_FAIL))

/* The transition table: one row per class of bytes that behave alike, giving the state such
 * a byte leads to from each state. */
#define A  U_ACCEPT
#define N1 U_NEED1
#define N2 U_NEED2
#define N3 U_NEED3
#define F  U_FAIL
/* clang-format off */
/* byte \ state:          ACCEPT  NEED1 NEED2 NEED3 E0  ED  F0  F4 */
#define R_ASCII       ROW(A,      F,    F,    F,    F,  F,  F,  F)  /* 00..7F */
#define R_80_8F       ROW(F,      A,    N1,   N2,   F,  N1, F,  N2) /* continuation */
#define R_90_9F       ROW(F,      A,    N1,   N2,   F,  N1, N2, F)  /* continuation */
#define R_A0_BF       ROW(F,      A,    N1,   N2,   N1, F,  N2, F)  /* continuation */
#define R_BAD         ROW(F,      F,    F,    F,    F,  F,  F,  F)  /* C0 C1 F5..FF */
#define R_C2_DF       ROW(N1,     F,    F,    F,    F,  F,  F,  F)
#define R_E0          ROW(U_E0,   F,    F,    F,    F,  F,  F,  F)
#define R_E1_EF       ROW(N2,     F,    F,    F,    F,  F,  F,  F)  /* and EE EF */
#define R_ED          ROW(U_ED,   F,    F,    F,    F,  F,  F,  F)
#define R_F0          ROW(U_F0,   F,    F,    F,    F,  F,  F,  F)
#define R_F1_F3       ROW(N3,     F,    F,    F,    F,  F,  F,  F)
#define R_F4          ROW(U_F4,   F,    F,    F,    F,  F,  F,  F)

#define X4(r) r, r, r, r
#define X16(r) X4(r), X4(r), X4(r), X4(r)
static const uint64_t utf8_row[] = {
    X16(R_ASCII), X16(R_ASCII), X16(R_ASCII), X16(R_ASCII),     /* 00..3F */
    X16(R_ASCII), X16(R_ASCII), X16(R_ASCII), X16(R_ASCII),     /* 40..7F */
    X16(R_80_8F), X16(R_90_9F), X16(R_A0_BF), X16(R_A0_BF),     /* 80..BF */
    R_BAD, R_BAD, R_C2_DF, R_C2_DF, X4(R_C2_DF), X4(R_C2_DF), X4(R_C2_DF), /* C0..CF */
    X16(R_C2_DF),                                               /* D0..DF */
    R_E0, R_E1_EF, R_E1_EF, R_E1_EF, X4(R_E1_EF), X4(R_E1_EF),  /* E0..EB */
    R_E1_EF, R_ED, R_E1_EF, R_E1_EF,                            /* EC..EF */
    R_F0, R_F1_F3, R_F1_F3, R_F1_F3, R_F4, R_BAD, R_BAD, R_BAD, /* F0..F7 */
    R_BAD, R_BAD, R_BAD, R_BAD, R_BAD, R_BAD, R_BAD, R_BAD,     /* F8..FF */
};
/* clang-format on */
/* A miscounted initialiser would leave zero rows, which mean "accept": refuse to compile. */
typedef char utf8_row_has_256_entries[sizeof utf8_row / sizeof utf8_row[0] == 256 ? 1 : -1];
#undef X4
#undef X16
#undef A
#undef N1
#undef N2
#undef N3
#undef F

static uint32_t utf8_step(uint32_t s, uint8_t b)
{
    return (uint32_t)(utf8_row[b] >> (s & UTF8_STATE_MASK)) & UTF8_STATE_MASK;
}

/* Bytes run through the DFA between checks for failure: failure is rare, so the loop stays
 * free of branches on the data, and a failed block is simply walked again to find the byte. */
#define UTF8_BLOCK 16

static const uint64_t utf8_high_bits = UINT64_C(0x8080808080808080);

/* Skips whole 8-byte words of ASCII from p[i]; returns the index of the first word that is
 * not all ASCII (or of the last few bytes). memcpy keeps the loads free of alignment and
 * aliasing concerns and compiles to plain loads. */
static size_t utf8_skip_ascii(const uint8_t *p, size_t i, size_t len)
{
    uint64_t w[4];

    /* Four words per test: one branch per 32 bytes on ASCII text. */
    while (len - i >= 32) {
        memcpy(w, p + i, sizeof w);
        if ((w[0] | w[1] | w[2] | w[3]) & utf8_high_bits)
            break;
        i += 32;
    }
    while (len - i >= 8) {
        memcpy(w, p + i, 8);
        if (w[0] & utf8_high_bits)
            break;
        i += 8;
    }
    return i;
}

static uint32_t utf8_run(uint32_t s, const uint8_t *p, size_t n)
{
    uint64_t w = s;
    size_t j;

    /* Only the shift count is masked, never the result, so each step waits on one shift. */
    for (j = 0; j < n; j++)
        w = utf8_row[p[j]] >> (w & UTF8_STATE_MASK);
    return (uint32_t)w & UTF8_STATE_MASK;
}

static bool utf8_is_continuation(uint8_t b)
{
    return (b & 0xC0u) == 0x80u;
}

#define UTF8_LANES      4
#define UTF8_LANE_BLOCK 1024 /* bytes walked by the lanes before looking for ASCII again */

/*
 * The DFA over p[0..n) as four independent chains, which the CPU overlaps: the block is cut
 * into four parts, each cut moved forward to a byte that starts a character. A part other
 * than the last must then end on a character boundary, or the text is invalid. Returns the
 * state after the block, U_FAIL when it is invalid somewhere (the caller walks it again to
 * find where), or UTF8_NO_CUT when a cut found no character start (4 continuation bytes:
 * invalid too, but let the caller's single chain say where).
 */
static uint32_t utf8_run_lanes(uint32_t s, const uint8_t *p, size_t n)
{
    size_t start[UTF8_LANES + 1], common = n, j, k;
    uint64_t w[UTF8_LANES];

    start[0] = 0;
    start[UTF8_LANES] = n;
    for (k = 1; k < UTF8_LANES; k++) {
        size_t b = n / UTF8_LANES * k, end = b + 3;
        while (b < end && utf8_is_continuation(p[b]))
            b++;
        if (utf8_is_continuation(p[b]))
            return U_FAIL;
        start[k] = b;
    }
    for (k = 0; k < UTF8_LANES; k++)
        common = WS_MIN(common, start[k + 1] - start[k]);
    w[0] = s;
    w[1] = w[2] = w[3] = U_ACCEPT;
    for (j = 0; j < common; j++) {
        w[0] = utf8_row[p[start[0] + j]] >> (w[0] & UTF8_STATE_MASK);
        w[1] = utf8_row[p[start[1] + j]] >> (w[1] & UTF8_STATE_MASK);
        w[2] = utf8_row[p[start[2] + j]] >> (w[2] & UTF8_STATE_MASK);
        w[3] = utf8_row[p[start[3] + j]] >> (w[3] & UTF8_STATE_MASK);
    }
    for (k = 0; k < UTF8_LANES; k++) {
        for (j = start[k] + common; j < start[k + 1]; j++)
            w[k] = utf8_row[p[j]] >> (w[k] & UTF8_STATE_MASK);
        if (k + 1 < UTF8_LANES && (w[k] & UTF8_STATE_MASK) != U_ACCEPT)
            return U_FAIL;
    }
    return (uint32_t)w[UTF8_LANES - 1] & UTF8_STATE_MASK;
}

/* Index in p[0..n) of the byte that takes state s to U_FAIL; the caller knows one does. */
static size_t utf8_find_failure(uint32_t s, const uint8_t *p, size_t n)
{
    size_t j;

    for (j = 0; j + 1 < n; j++) {
        s = utf8_step(s, p[j]);
        if (s == U_FAIL)
            break;
    }
    return j;
}

void ws_utf8_init(ws_utf8 *v)
{
    v->state = U_ACCEPT;
}

/* Records the failure; every later feed fails at once. */
static int utf8_fail(ws_utf8 *v, size_t *bad_offset, size_t bad)
{
    v->state = U_FAIL;
    if (bad_offset)
        *bad_offset = bad;
    return WS_E_INVALID_UTF8;
}

int ws_utf8_feed(ws_utf8 *v, const uint8_t *p, size_t len, size_t *bad_offset)
{
    uint32_t s = v->state;
    size_t i = 0;

    /* Anything but a state this file wrote can only come from a corrupted struct. */
    if (s >= U_FAIL || s % UTF8_STATE_BITS != 0)
        return utf8_fail(v, bad_offset, 0);
    while (i < len) {
        uint32_t before;
        size_t n;

        if (s == U_ACCEPT) {
            i = utf8_skip_ascii(p, i, len);
            if (i == len)
                break;
        }
        before = s;
        if (len - i >= 4 * UTF8_BLOCK) {
            n = WS_MIN(len - i, (size_t)UTF8_LANE_BLOCK);
            s = utf8_run_lanes(before, p + i, n);
        } else {
            n = WS_MIN(len - i, (size_t)UTF8_BLOCK);
            s = utf8_run(before, p + i, n);
        }
        if (s == U_FAIL)
            return utf8_fail(v, bad_offset, i + utf8_find_failure(before, p + i, n));
        i += n;
    }
    v->state = s;
    return WS_OK;
}

int ws_utf8_finish(const ws_utf8 *v)
{
    return v->state == U_ACCEPT ? WS_OK : WS_E_INVALID_UTF8;
}

bool ws_utf8_valid(const uint8_t *p, size_t len)
{
    ws_utf8 v;

    ws_utf8_init(&v);
    return ws_utf8_feed(&v, p, len, NULL) == WS_OK && ws_utf8_finish(&v) == WS_OK;
}
