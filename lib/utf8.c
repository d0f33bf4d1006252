/*
 * Incremental UTF-8 validation (RFC 3629) for text messages and close reasons: a small DFA
 * whose state survives between chunks finds the first byte that makes the text invalid
 * exactly; SIMD block checks (SSSE3, AVX2, NEON) vouch for long runs of whole characters.
 */
#include "ws_internal.h"
#include "utf8_impl.h"

#ifdef WS_SIMD_X86_RUNTIME
#include <immintrin.h>
#endif
#ifdef WS_UTF8_NEON
#include <arm_neon.h>
#endif

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

#ifdef WS_SMALL
/* WS_SMALL (docs/size.md): no table indexed by the byte. A state is kept as its index
 * (state / 6), in the walk and in ws_utf8 between feeds (0 is still the boundary; a failed
 * text holds U_FAIL, no index); FAIL's index, 8, ends the walk. Only a continuation byte
 * (80..BF) can lead to more than one state, by one of three rows, each eight 4-bit fields:
 * field j the index of the state the byte leads to from the state of index j, so that a step
 * is a 32-bit shift (a 64-bit one is a run-time helper call per byte on a Cortex-M0+). Any
 * other byte is valid only at a character boundary, and where it leads is found by a
 * comparison or, for E0..FF, a table of 4-bit states. */
#undef ROW
#define ROW(accept, need1, need2, need3, e0, ed, f0, f4)                                           \
    ((uint32_t)(accept) / 6u | (uint32_t)(need1) / 6u << 4 | (uint32_t)(need2) / 6u << 8 |       \
     (uint32_t)(need3) / 6u << 12 | (uint32_t)(e0) / 6u << 16 | (uint32_t)(ed) / 6u << 20 |      \
     (uint32_t)(f0) / 6u << 24 | (uint32_t)(f4) / 6u << 28)
/* Indexed by bits 4-5 of the byte: 8x, 9x, Ax, Bx. */
static const uint32_t utf8_cont_row[] = {R_80_8F, R_90_9F, R_A0_BF, R_A0_BF};

/* Where a byte E0..FF leads from a character boundary, as a state index, two bytes to a
 * table byte (the even one in the low half). */
#define L2(even, odd) (uint8_t)((even) / 6u | (odd) / 6u << 4)
static const uint8_t utf8_lead_e0[16] = {
    /* E0..EF */
    L2(U_E0, N2), L2(N2, N2), L2(N2, N2), L2(N2, N2),
    L2(N2, N2),   L2(N2, N2), L2(N2, U_ED), L2(N2, N2),
    /* F0..FF */
    L2(U_F0, N3), L2(N3, N3), L2(U_F4, F), L2(F, F),
    L2(F, F),     L2(F, F),   L2(F, F),    L2(F, F),
};
#undef L2

/* The state index a byte that is no continuation byte leads to from a character boundary. */
static uint32_t utf8_lead(uint8_t b)
{
    if (b < 0x80u)
        return U_ACCEPT / 6u;
    if (b < 0xE0u)
        return b < 0xC2u ? U_FAIL / 6u : U_NEED1 / 6u;
    return (utf8_lead_e0[(b >> 1) & 15u] >> ((b & 1u) * 4u)) & 15u;
}
#else
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
#define UTF8_ROW(b) utf8_row[b]
#endif
#undef A
#undef N1
#undef N2
#undef N3
#undef F

#ifndef WS_SMALL
static uint32_t utf8_step(uint32_t s, uint8_t b)
{
    return (uint32_t)(UTF8_ROW(b) >> (s & UTF8_STATE_MASK)) & UTF8_STATE_MASK;
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
        w = UTF8_ROW(p[j]) >> (w & UTF8_STATE_MASK);
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
        w[0] = UTF8_ROW(p[start[0] + j]) >> (w[0] & UTF8_STATE_MASK);
        w[1] = UTF8_ROW(p[start[1] + j]) >> (w[1] & UTF8_STATE_MASK);
        w[2] = UTF8_ROW(p[start[2] + j]) >> (w[2] & UTF8_STATE_MASK);
        w[3] = UTF8_ROW(p[start[3] + j]) >> (w[3] & UTF8_STATE_MASK);
    }
    for (k = 0; k < UTF8_LANES; k++) {
        for (j = start[k] + common; j < start[k + 1]; j++)
            w[k] = UTF8_ROW(p[j]) >> (w[k] & UTF8_STATE_MASK);
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
#endif /* !WS_SMALL */

/* ---- SIMD: whole blocks at once ------------------------------------------------------------
 *
 * A block check cannot say where an error is, nor carry a cut character into the next
 * chunk, so it only ever vouches for a prefix: from a character boundary, whole blocks are
 * checked (each with the last three bytes of the one before) while they are valid, and
 * what they vouch for ends at the last character boundary inside them. The DFA takes over
 * there, for the tail and for the block that failed, and finds the exact byte itself.
 *
 * The check looks at each byte with the one before it (and, for continuation bytes, the
 * two and three before): three 16-entry tables, indexed by the high and low nibble of the
 * previous byte and the high nibble of the byte, give each pair a set of error kinds it
 * could be; a pair is invalid when all three agree on one kind.
 */
#if defined(WS_SIMD_X86_RUNTIME) || defined(WS_UTF8_NEON)

enum utf8_pair_error {
    E_TOO_SHORT = 0x01, /* a lead byte not followed by a continuation */
    E_TOO_LONG = 0x02,  /* a continuation after ASCII */
    E_OVERLONG3 = 0x04, /* E0 80..9F */
    E_TOO_LARGE = 0x08, /* F4 90..BF, F5..FF 90..BF */
    E_SURROGATE = 0x10, /* ED A0..BF */
    E_OVERLONG2 = 0x20, /* C0 or C1 then a continuation */
    E_OVER4_F5 = 0x40,  /* F0 80..8F (overlong) or F5..FF 80..8F (too large) */
    E_TWO_CONTS = 0x80, /* a continuation after a continuation: fine only as 3rd or 4th */
    E_ANY_LOW = E_TOO_SHORT | E_TOO_LONG | E_TWO_CONTS /* kinds any low nibble allows */
};

/* clang-format off */
static const uint8_t utf8_nibble_tables[3][16] = {
    { /* by the high nibble of the previous byte */
        E_TOO_LONG, E_TOO_LONG, E_TOO_LONG, E_TOO_LONG,             /* 0..3: ASCII */
        E_TOO_LONG, E_TOO_LONG, E_TOO_LONG, E_TOO_LONG,             /* 4..7 */
        E_TWO_CONTS, E_TWO_CONTS, E_TWO_CONTS, E_TWO_CONTS,         /* 8..B: continuation */
        E_TOO_SHORT | E_OVERLONG2,                                  /* C */
        E_TOO_SHORT,                                                /* D */
        E_TOO_SHORT | E_OVERLONG3 | E_SURROGATE,                    /* E */
        E_TOO_SHORT | E_TOO_LARGE | E_OVER4_F5,                     /* F */
    },
    { /* by the low nibble of the previous byte */
        E_ANY_LOW | E_OVERLONG3 | E_OVERLONG2 | E_OVER4_F5,         /* C0 E0 F0 */
        E_ANY_LOW | E_OVERLONG2,                                    /* C1 */
        E_ANY_LOW, E_ANY_LOW,                                       /* 2, 3 */
        E_ANY_LOW | E_TOO_LARGE,                                    /* F4 */
        E_ANY_LOW | E_TOO_LARGE | E_OVER4_F5,                       /* F5..FC */
        E_ANY_LOW | E_TOO_LARGE | E_OVER4_F5,
        E_ANY_LOW | E_TOO_LARGE | E_OVER4_F5,
        E_ANY_LOW | E_TOO_LARGE | E_OVER4_F5,
        E_ANY_LOW | E_TOO_LARGE | E_OVER4_F5,
        E_ANY_LOW | E_TOO_LARGE | E_OVER4_F5,
        E_ANY_LOW | E_TOO_LARGE | E_OVER4_F5,
        E_ANY_LOW | E_TOO_LARGE | E_OVER4_F5,
        E_ANY_LOW | E_TOO_LARGE | E_OVER4_F5 | E_SURROGATE,         /* ED, FD */
        E_ANY_LOW | E_TOO_LARGE | E_OVER4_F5,                       /* FE, FF */
        E_ANY_LOW | E_TOO_LARGE | E_OVER4_F5,
    },
    { /* by the high nibble of the byte itself */
        E_TOO_SHORT, E_TOO_SHORT, E_TOO_SHORT, E_TOO_SHORT,         /* 0..7: ASCII */
        E_TOO_SHORT, E_TOO_SHORT, E_TOO_SHORT, E_TOO_SHORT,
        E_TOO_LONG | E_OVERLONG2 | E_TWO_CONTS | E_OVERLONG3 | E_OVER4_F5, /* 80..8F */
        E_TOO_LONG | E_OVERLONG2 | E_TWO_CONTS | E_OVERLONG3 | E_TOO_LARGE, /* 90..9F */
        E_TOO_LONG | E_OVERLONG2 | E_TWO_CONTS | E_SURROGATE | E_TOO_LARGE, /* A0..AF */
        E_TOO_LONG | E_OVERLONG2 | E_TWO_CONTS | E_SURROGATE | E_TOO_LARGE, /* B0..BF */
        E_TOO_SHORT, E_TOO_SHORT, E_TOO_SHORT, E_TOO_SHORT,         /* C..F: a lead */
    },
};
/* clang-format on */

/* What whole blocks p[0..end) vouch for: all of it but a last character that runs past end
 * (its lead byte is then one of the last three). */
static size_t utf8_last_boundary(const uint8_t *p, size_t end)
{
    if (end >= 1 && p[end - 1] >= 0xC0)
        return end - 1;
    if (end >= 2 && p[end - 2] >= 0xE0)
        return end - 2;
    if (end >= 3 && p[end - 3] >= 0xF0)
        return end - 3;
    return end;
}

#endif /* WS_SIMD_X86_RUNTIME || WS_UTF8_NEON */

#ifdef WS_SIMD_X86_RUNTIME

#define UTF8_TARGET_SSSE3 __attribute__((target("ssse3")))
#define UTF8_TARGET_AVX2  __attribute__((target("avx2")))

typedef struct utf8_tables128 {
    __m128i prev_high, prev_low, cur_high;
} utf8_tables128;

/* Non-zero bytes where cur (after prev, the block before it) is not valid UTF-8, ignoring a
 * last character that cur may cut short. */
UTF8_TARGET_SSSE3 static inline __m128i utf8_block_errors_ssse3(const utf8_tables128 *t,
                                                                __m128i prev, __m128i cur)
{
    const __m128i nibble = _mm_set1_epi8(0x0F);
    __m128i prev1 = _mm_alignr_epi8(cur, prev, 15);
    __m128i prev2 = _mm_alignr_epi8(cur, prev, 14);
    __m128i prev3 = _mm_alignr_epi8(cur, prev, 13);
    __m128i a = _mm_shuffle_epi8(t->prev_high, _mm_and_si128(_mm_srli_epi16(prev1, 4), nibble));
    __m128i b = _mm_shuffle_epi8(t->prev_low, _mm_and_si128(prev1, nibble));
    __m128i c = _mm_shuffle_epi8(t->cur_high, _mm_and_si128(_mm_srli_epi16(cur, 4), nibble));
    __m128i pair = _mm_and_si128(_mm_and_si128(a, b), c);
    /* Bit 7 set where two or three bytes back there was a 3- or 4-byte lead: exactly where a
     * continuation must follow a continuation, which E_TWO_CONTS (bit 7) says it does. */
    __m128i third = _mm_subs_epu8(prev2, _mm_set1_epi8(0xE0 - 0x80));
    __m128i fourth = _mm_subs_epu8(prev3, _mm_set1_epi8(0xF0 - 0x80));
    __m128i must = _mm_and_si128(_mm_or_si128(third, fourth), _mm_set1_epi8(-128));

    return _mm_xor_si128(pair, must);
}

UTF8_TARGET_SSSE3 static size_t utf8_prefix_ssse3(const uint8_t *p, size_t n)
{
    utf8_tables128 t;
    __m128i prev = _mm_setzero_si128();
    size_t i = 0;

    t.prev_high = _mm_loadu_si128((const __m128i *)(const void *)utf8_nibble_tables[0]);
    t.prev_low = _mm_loadu_si128((const __m128i *)(const void *)utf8_nibble_tables[1]);
    t.cur_high = _mm_loadu_si128((const __m128i *)(const void *)utf8_nibble_tables[2]);
    while (n - i >= 16) {
        __m128i cur = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        __m128i err = utf8_block_errors_ssse3(&t, prev, cur);

        if (_mm_movemask_epi8(_mm_cmpeq_epi8(err, _mm_setzero_si128())) != 0xFFFF)
            break;
        prev = cur;
        i += 16;
    }
    return utf8_last_boundary(p, i);
}

typedef struct utf8_tables256 {
    __m256i prev_high, prev_low, cur_high;
} utf8_tables256;

/* As utf8_block_errors_ssse3, for 32 bytes; the byte before each 16-byte half comes from
 * across the half. */
UTF8_TARGET_AVX2 static inline __m256i utf8_block_errors_avx2(const utf8_tables256 *t, __m256i prev,
                                                              __m256i cur)
{
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    __m256i before = _mm256_permute2x128_si256(prev, cur, 0x21); /* prev high, cur low */
    __m256i prev1 = _mm256_alignr_epi8(cur, before, 15);
    __m256i prev2 = _mm256_alignr_epi8(cur, before, 14);
    __m256i prev3 = _mm256_alignr_epi8(cur, before, 13);
    __m256i a =
        _mm256_shuffle_epi8(t->prev_high, _mm256_and_si256(_mm256_srli_epi16(prev1, 4), nibble));
    __m256i b = _mm256_shuffle_epi8(t->prev_low, _mm256_and_si256(prev1, nibble));
    __m256i c =
        _mm256_shuffle_epi8(t->cur_high, _mm256_and_si256(_mm256_srli_epi16(cur, 4), nibble));
    __m256i pair = _mm256_and_si256(_mm256_and_si256(a, b), c);
    __m256i third = _mm256_subs_epu8(prev2, _mm256_set1_epi8(0xE0 - 0x80));
    __m256i fourth = _mm256_subs_epu8(prev3, _mm256_set1_epi8(0xF0 - 0x80));
    __m256i must = _mm256_and_si256(_mm256_or_si256(third, fourth), _mm256_set1_epi8(-128));

    return _mm256_xor_si256(pair, must);
}

UTF8_TARGET_AVX2 static __m256i utf8_table_avx2(const uint8_t table[16])
{
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)table));
}

UTF8_TARGET_AVX2 static size_t utf8_prefix_avx2(const uint8_t *p, size_t n)
{
    utf8_tables256 t;
    __m256i prev = _mm256_setzero_si256();
    size_t i = 0;

    t.prev_high = utf8_table_avx2(utf8_nibble_tables[0]);
    t.prev_low = utf8_table_avx2(utf8_nibble_tables[1]);
    t.cur_high = utf8_table_avx2(utf8_nibble_tables[2]);
    while (n - i >= 32) {
        __m256i cur = _mm256_loadu_si256((const __m256i *)(const void *)(p + i));
        __m256i err = utf8_block_errors_avx2(&t, prev, cur);

        if (!_mm256_testz_si256(err, err))
            break;
        prev = cur;
        i += 32;
    }
    return utf8_last_boundary(p, i);
}

#endif /* WS_SIMD_X86_RUNTIME */

#ifdef WS_UTF8_NEON

typedef struct utf8_tables_neon {
    uint8x16_t prev_high, prev_low, cur_high;
} utf8_tables_neon;

/* As utf8_block_errors_ssse3. */
static inline uint8x16_t utf8_block_errors_neon(const utf8_tables_neon *t, uint8x16_t prev,
                                                uint8x16_t cur)
{
    const uint8x16_t nibble = vdupq_n_u8(0x0F);
    uint8x16_t prev1 = vextq_u8(prev, cur, 15);
    uint8x16_t prev2 = vextq_u8(prev, cur, 14);
    uint8x16_t prev3 = vextq_u8(prev, cur, 13);
    uint8x16_t a = vqtbl1q_u8(t->prev_high, vshrq_n_u8(prev1, 4));
    uint8x16_t b = vqtbl1q_u8(t->prev_low, vandq_u8(prev1, nibble));
    uint8x16_t c = vqtbl1q_u8(t->cur_high, vshrq_n_u8(cur, 4));
    uint8x16_t pair = vandq_u8(vandq_u8(a, b), c);
    uint8x16_t third = vqsubq_u8(prev2, vdupq_n_u8(0xE0 - 0x80));
    uint8x16_t fourth = vqsubq_u8(prev3, vdupq_n_u8(0xF0 - 0x80));
    uint8x16_t must = vandq_u8(vorrq_u8(third, fourth), vdupq_n_u8(0x80));

    return veorq_u8(pair, must);
}

static size_t utf8_prefix_neon(const uint8_t *p, size_t n)
{
    utf8_tables_neon t;
    uint8x16_t prev = vdupq_n_u8(0);
    size_t i = 0;

    t.prev_high = vld1q_u8(utf8_nibble_tables[0]);
    t.prev_low = vld1q_u8(utf8_nibble_tables[1]);
    t.cur_high = vld1q_u8(utf8_nibble_tables[2]);
    while (n - i >= 16) {
        uint8x16_t cur = vld1q_u8(p + i);

        if (vmaxvq_u8(utf8_block_errors_neon(&t, prev, cur)) != 0)
            break;
        prev = cur;
        i += 16;
    }
    return utf8_last_boundary(p, i);
}

#endif /* WS_UTF8_NEON */

/* ---- the feed loop ----------------------------------------------------------------------- */

#ifndef WS_SMALL
/* How many more bytes the character in progress in state s takes (s is not U_FAIL). */
static size_t utf8_bytes_left(uint32_t s)
{
    static const uint8_t left[U_FAIL / UTF8_STATE_BITS] = {0, 1, 2, 3, 2, 2, 3, 3};

    return left[s / UTF8_STATE_BITS];
}
#endif

/* Given p at a character boundary, the length of a prefix of p[0..n) that is valid and ends
 * at one (0 when it cannot vouch for any). */
typedef size_t (*utf8_prefix_fn)(const uint8_t *p, size_t n);

/* Below this, a block check costs more than it saves (short messages stay on the DFA). */
#define UTF8_SIMD_MIN 64

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

#ifndef WS_SMALL
/* Whether s is a state this file writes and not FAIL: one of 0, 6, ... 42. On an Arm core
 * without a divide instruction (Cortex-M0+), s % 6 would be a division helper call on every
 * feed; there (s * 43) >> 8, which is s / 6 for every s below 48, multiplied back tells a
 * multiple of 6. Elsewhere the compiler's own s % 6 (a multiply) is kept: the feed loops are
 * tuned around it. */
static inline bool utf8_state_ok(uint32_t s)
{
#if defined(__arm__) && !defined(__ARM_FEATURE_IDIV)
    return s < U_FAIL && ((s * 43u) >> 8) * 6u == s;
#else
    return s < U_FAIL && s % UTF8_STATE_BITS == 0;
#endif
}
#endif

/* Each feed function gets its own copy of the loop with its prefix function built in, so
 * short texts pay nothing for the choice. */
#if defined(__GNUC__) || defined(__clang__)
#define UTF8_INLINE static inline __attribute__((always_inline))
#else
#define UTF8_INLINE static inline
#endif

#ifdef WS_SMALL
/* WS_SMALL (docs/size.md): one DFA step per byte, without the ASCII words, block runs and
 * lanes below (nor the SIMD prefix, which is ignored): about a third of the code. */
UTF8_INLINE int utf8_feed_with(ws_utf8 *v, const uint8_t *p, size_t len, size_t *bad_offset,
                               utf8_prefix_fn prefix)
{
    uint32_t k = v->state; /* here the state's index */
    size_t i = 0;

    (void)prefix;
    if (k < U_FAIL / 6u) { /* else failed, or not a state this file writes: fails at 0 */
        for (; i < len; i++) {
            uint8_t b = p[i];

            if ((b & 0xC0u) == 0x80u)
                k = (utf8_cont_row[(b >> 4) & 3u] >> (k * 4u)) & 15u;
            else
                k = k != U_ACCEPT ? U_FAIL / 6u : utf8_lead(b);
            if (k == U_FAIL / 6u)
                break;
        }
        if (i == len) {
            v->state = k;
            return WS_OK;
        }
    }
    return utf8_fail(v, bad_offset, i);
}
#else
/* ws_utf8_feed, with prefix (when not NULL) taking over long stretches at character
 * boundaries. What it leaves, the DFA walks: a tail, or a stretch it found invalid. */
UTF8_INLINE int utf8_feed_with(ws_utf8 *v, const uint8_t *p, size_t len, size_t *bad_offset,
                               utf8_prefix_fn prefix)
{
    uint32_t s = v->state;
    size_t i = 0;

    /* Anything but a state this file wrote can only come from a corrupted struct. */
    if (!utf8_state_ok(s))
        return utf8_fail(v, bad_offset, 0);
    while (i < len) {
        uint32_t before;
        size_t n;

        if (s == U_ACCEPT) {
            i = utf8_skip_ascii(p, i, len);
            if (prefix != NULL && len - i >= UTF8_SIMD_MIN)
                i += prefix(p + i, len - i);
            if (i == len)
                break;
        }
        before = s;
        if (prefix != NULL && s != U_ACCEPT) {
            /* A character cut by the chunk edge: finish it, so the block checks can go on. */
            n = WS_MIN(len - i, utf8_bytes_left(s));
            s = utf8_run(before, p + i, n);
        } else if (len - i >= 4 * UTF8_BLOCK) {
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
#endif /* WS_SMALL */

int ws_utf8_feed_portable(ws_utf8 *v, const uint8_t *p, size_t len, size_t *bad_offset)
{
    return utf8_feed_with(v, p, len, bad_offset, NULL);
}

#ifdef WS_SIMD_X86_RUNTIME
int ws_utf8_feed_ssse3(ws_utf8 *v, const uint8_t *p, size_t len, size_t *bad_offset)
{
    return utf8_feed_with(v, p, len, bad_offset, utf8_prefix_ssse3);
}

int ws_utf8_feed_avx2(ws_utf8 *v, const uint8_t *p, size_t len, size_t *bad_offset)
{
    return utf8_feed_with(v, p, len, bad_offset, utf8_prefix_avx2);
}

/* The CPU is asked only once a long stretch comes, so short texts never pay for it. */
static size_t utf8_prefix_best(const uint8_t *p, size_t n)
{
    if (ws_cpu_has_avx2())
        return utf8_prefix_avx2(p, n);
    if (ws_cpu_has_ssse3())
        return utf8_prefix_ssse3(p, n);
    return 0;
}
#define UTF8_PREFIX_BEST utf8_prefix_best
#elif defined(WS_UTF8_NEON)
int ws_utf8_feed_neon(ws_utf8 *v, const uint8_t *p, size_t len, size_t *bad_offset)
{
    return utf8_feed_with(v, p, len, bad_offset, utf8_prefix_neon);
}
#define UTF8_PREFIX_BEST utf8_prefix_neon
#else
#define UTF8_PREFIX_BEST NULL
#endif

int ws_utf8_feed(ws_utf8 *v, const uint8_t *p, size_t len, size_t *bad_offset)
{
    return utf8_feed_with(v, p, len, bad_offset, UTF8_PREFIX_BEST);
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
