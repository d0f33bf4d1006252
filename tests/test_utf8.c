/*
 * Tests for the incremental UTF-8 validator: a table of boundary and invalid sequences with
 * the exact first bad byte, split invariance at every offset, and a comparison with a slow
 * reference decoder on deterministic random input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ws.h"
#include "utf8_impl.h"

/* What a whole text does: valid, a valid prefix cut inside a character, or invalid at a
 * byte offset. */
enum { VALID = -1, INCOMPLETE = -2 };

typedef struct utf8_case {
    const char *name;
    const char *bytes; /* the text; lengths are given so NUL can be in it */
    size_t len;
    long expect; /* VALID, INCOMPLETE, or the offset of the first bad byte */
} utf8_case;

/* clang-format off */
#define T(name, lit, expect) {name, lit, sizeof(lit) - 1, expect}
/* clang-format on */

static const utf8_case cases[] = {
    /* Boundary code points, all valid. */
    T("empty", "", VALID),
    T("U+0000", "\x00", VALID),
    T("U+007F", "\x7F", VALID),
    T("U+0080", "\xC2\x80", VALID),
    T("U+07FF", "\xDF\xBF", VALID),
    T("U+0800", "\xE0\xA0\x80", VALID),
    T("U+D7FF", "\xED\x9F\xBF", VALID),
    T("U+E000", "\xEE\x80\x80", VALID),
    T("U+FFFD", "\xEF\xBF\xBD", VALID),
    T("U+FFFF", "\xEF\xBF\xBF", VALID),
    T("U+10000", "\xF0\x90\x80\x80", VALID),
    T("U+10FFFF", "\xF4\x8F\xBF\xBF", VALID),
    T("U+FEFF (BOM is just text)", "\xEF\xBB\xBF", VALID),
    T("mixed text", "caf\xC3\xA9 \xE2\x82\xAC 12 \xF0\x9F\x98\x80!", VALID),
    T("all lengths back to back", "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z", VALID),
    T("ascii 17 bytes", "abcdefghijklmnopq", VALID),

    /* Overlong forms: the lead byte for C0/C1, the second byte otherwise. */
    T("overlong C0 80 (U+0000)", "\xC0\x80", 0),
    T("overlong C0 AF ('/')", "\xC0\xAF", 0),
    T("overlong C1 BF (U+007F)", "\xC1\xBF", 0),
    T("overlong E0 80 80 (U+0000)", "\xE0\x80\x80", 1),
    T("overlong E0 9F BF (U+07FF)", "\xE0\x9F\xBF", 1),
    T("overlong F0 80 80 80 (U+0000)", "\xF0\x80\x80\x80", 1),
    T("overlong F0 8F BF BF (U+FFFF)", "\xF0\x8F\xBF\xBF", 1),
    T("overlong after text", "ab\xE0\x80\xAF", 3),

    /* Surrogates: the second byte after ED. */
    T("surrogate U+D800", "\xED\xA0\x80", 1),
    T("surrogate U+DBFF", "\xED\xAF\xBF", 1),
    T("surrogate U+DC00", "\xED\xB0\x80", 1),
    T("surrogate U+DFFF", "\xED\xBF\xBF", 1),
    T("surrogate pair (CESU-8)", "\xED\xA0\xBD\xED\xB8\x80", 1),
    T("surrogate after text", "x\xC3\xA9\xED\xA0\x80", 4),

    /* Above U+10FFFF. */
    T("U+110000 F4 90 80 80", "\xF4\x90\x80\x80", 1),
    T("F4 BF BF BF", "\xF4\xBF\xBF\xBF", 1),
    T("lead F5", "\xF5\x80\x80\x80", 0),
    T("lead F7", "\xF7\xBF\xBF\xBF", 0),
    T("lead F8 (5-byte form)", "\xF8\x88\x80\x80\x80", 0),
    T("lead FC (6-byte form)", "\xFC\x84\x80\x80\x80\x80", 0),
    T("byte FE", "\xFE", 0),
    T("byte FF", "\xFF", 0),
    T("FF after text", "abc\xFF", 3),

    /* Stray and missing continuation bytes. */
    T("lone 80", "\x80", 0),
    T("lone BF", "\xBF", 0),
    T("80 after ascii", "A\x80", 1),
    T("extra continuation after 2-byte", "\xC2\x80\x80", 2),
    T("extra continuation after 4-byte", "\xF0\x90\x80\x80\x80", 4),
    T("C3 41", "\xC3\x41", 1),
    T("E2 82 41", "\xE2\x82\x41", 2),
    T("F0 90 80 41", "\xF0\x90\x80\x41", 3),
    T("lead after lead", "\xC2\xC2\x80", 1),
    T("lead where third byte goes", "\xE2\x82\xE2\x82\xAC", 2),
    T("NUL inside a sequence", "\xE2\x00\xAC", 1),

    /* Truncated at the end of the text: every prefix so far is valid. */
    T("C2 at end", "\xC2", INCOMPLETE),
    T("E0 at end", "\xE0", INCOMPLETE),
    T("E0 A0 at end", "\xE0\xA0", INCOMPLETE),
    T("ED at end", "\xED", INCOMPLETE),
    T("ED 9F at end", "\xED\x9F", INCOMPLETE),
    T("E2 82 at end", "\xE2\x82", INCOMPLETE),
    T("F0 at end", "\xF0", INCOMPLETE),
    T("F0 90 80 at end", "\xF0\x90\x80", INCOMPLETE),
    T("F4 8F BF at end", "\xF4\x8F\xBF", INCOMPLETE),
    T("F3 at end after text", "hello \xF3", INCOMPLETE),
};

/* Feeds text in the chunks given by cuts (ascending offsets), chunk c through
 * feeds[c % nfeeds], and returns the absolute offset of the first bad byte, INCOMPLETE, or
 * VALID. Checks on the way that a failed validator keeps failing. With exact, each chunk is
 * fed from a heap block of its own size, so that AddressSanitizer sees any read past it. */
static long feed_chunks_with(const ws_utf8_feed_fn *feeds, size_t nfeeds, bool exact,
                             const uint8_t *p, size_t len, const size_t *cuts, size_t ncuts)
{
    ws_utf8 v;
    size_t start = 0;
    size_t c;

    ws_utf8_init(&v);
    for (c = 0; c <= ncuts; c++) {
        size_t end = c < ncuts ? cuts[c] : len;
        size_t bad = (size_t)-1;
        ws_utf8_feed_fn feed = feeds[c % nfeeds];
        uint8_t *copy = NULL;
        int rc;

        if (exact && end > start) {
            copy = malloc(end - start);
            assert_non_null(copy);
            memcpy(copy, p + start, end - start);
        }
        rc = feed(&v, copy != NULL ? copy : p + start, end - start, &bad);
        free(copy);
        if (rc != WS_OK) {
            size_t again = (size_t)-1;

            assert_int_equal(rc, WS_E_INVALID_UTF8);
            assert_true(bad < end - start);
            assert_int_equal(feed(&v, p, len, &again), WS_E_INVALID_UTF8);
            assert_int_equal(again, 0);
            assert_int_equal(feed(&v, NULL, 0, NULL), WS_E_INVALID_UTF8);
            assert_int_equal(ws_utf8_finish(&v), WS_E_INVALID_UTF8);
            return (long)(start + bad);
        }
        start = end;
    }
    return ws_utf8_finish(&v) == WS_OK ? VALID : INCOMPLETE;
}

static long feed_chunks(const uint8_t *p, size_t len, const size_t *cuts, size_t ncuts)
{
    static const ws_utf8_feed_fn pub[] = {ws_utf8_feed};

    return feed_chunks_with(pub, 1, false, p, len, cuts, ncuts);
}

static long feed_whole(const uint8_t *p, size_t len)
{
    return feed_chunks(p, len, NULL, 0);
}

static long feed_bytewise(const uint8_t *p, size_t len)
{
    size_t cuts[64];
    size_t i;

    assert_true(len <= 64);
    for (i = 1; i < len; i++)
        cuts[i - 1] = i;
    return feed_chunks(p, len, cuts, len > 0 ? len - 1 : 0);
}

/* Names the case before failing, so a table failure says which row. */
static void expect_case(const char *name, long got, long want)
{
    if (got != want)
        print_message("case \"%s\": got %ld, want %ld\n", name, got, want);
    assert_int_equal(got, want);
}

static void test_table(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const utf8_case *tc = &cases[i];
        const uint8_t *p = (const uint8_t *)tc->bytes;
        size_t cut;

        expect_case(tc->name, feed_whole(p, tc->len), tc->expect);
        expect_case(tc->name, feed_bytewise(p, tc->len), tc->expect);
        for (cut = 0; cut <= tc->len; cut++)
            expect_case(tc->name, feed_chunks(p, tc->len, &cut, 1), tc->expect);
        assert_int_equal(ws_utf8_valid(p, tc->len), tc->expect == VALID);
    }
}

/* An invalid byte in a later chunk than its lead is reported relative to that chunk. */
static void test_offset_is_per_chunk(void **state)
{
    static const uint8_t first[] = {'a', 'b', 0xE0};
    static const uint8_t second[] = {0x80, 0x80};
    static const uint8_t third[] = {'x', 'y', 0xED};
    static const uint8_t fourth[] = {0xA0, 0x80};
    ws_utf8 v;
    size_t bad = 99;

    (void)state;
    ws_utf8_init(&v);
    assert_int_equal(ws_utf8_feed(&v, first, sizeof first, &bad), WS_OK);
    assert_int_equal(bad, 99);
    assert_int_equal(ws_utf8_feed(&v, second, sizeof second, &bad), WS_E_INVALID_UTF8);
    assert_int_equal(bad, 0);

    ws_utf8_init(&v); /* a new message starts clean */
    assert_int_equal(ws_utf8_feed(&v, third, sizeof third, NULL), WS_OK);
    assert_int_equal(ws_utf8_finish(&v), WS_E_INVALID_UTF8); /* ended inside ED .. */
    assert_int_equal(ws_utf8_feed(&v, fourth, sizeof fourth, NULL), WS_E_INVALID_UTF8);
}

static void test_empty_feeds(void **state)
{
    static const uint8_t euro[] = {0xE2, 0x82, 0xAC};
    ws_utf8 v;

    (void)state;
    ws_utf8_init(&v);
    assert_int_equal(ws_utf8_finish(&v), WS_OK);
    assert_int_equal(ws_utf8_feed(&v, NULL, 0, NULL), WS_OK);
    assert_int_equal(ws_utf8_feed(&v, euro, 1, NULL), WS_OK);
    assert_int_equal(ws_utf8_feed(&v, NULL, 0, NULL), WS_OK);
    assert_int_equal(ws_utf8_finish(&v), WS_E_INVALID_UTF8);
    assert_int_equal(ws_utf8_feed(&v, euro + 1, 2, NULL), WS_OK);
    assert_int_equal(ws_utf8_finish(&v), WS_OK);
    assert_true(ws_utf8_valid(NULL, 0));
}

/* A bad byte at each position of a long ASCII run, at each alignment, so it lands at every
 * place inside and around the 8-byte words and the DFA blocks. */
static void test_ascii_runs(void **state)
{
    static const uint8_t bad_bytes[] = {0x80, 0xBF, 0xC0, 0xFF};
    uint8_t buf[8 + 160];
    size_t align, pos, b;

    (void)state;
    for (align = 0; align < 8; align++) {
        uint8_t *p = buf + align;
        const size_t len = 150;

        memset(buf, 'a', sizeof buf);
        assert_int_equal(feed_whole(p, len), VALID);
        for (pos = 0; pos <= 100; pos++) {
            for (b = 0; b < sizeof bad_bytes; b++) {
                p[pos] = bad_bytes[b];
                assert_int_equal(feed_whole(p, len), (long)pos);
                /* Ending there: the run is exactly pos + 1 long. */
                assert_int_equal(feed_whole(p, pos + 1), (long)pos);
                assert_false(ws_utf8_valid(p, len));
            }
            /* A valid 2-byte character there, then a cut lead right after it. */
            p[pos] = 0xC3;
            p[pos + 1] = 0xA9;
            assert_int_equal(feed_whole(p, len), VALID);
            p[pos + 2] = 0xE2;
            assert_int_equal(feed_whole(p, pos + 3), INCOMPLETE);
            assert_int_equal(feed_whole(p, len), (long)pos + 3);
            p[pos] = p[pos + 1] = p[pos + 2] = 'a';
        }
    }
}

/* ---- the reference: decode code points explicitly, one at a time ---- */

/* True when some code point in [lo, hi] is at least min and is a Unicode scalar value. */
static bool range_has_scalar(uint32_t lo, uint32_t hi, uint32_t min)
{
    if (lo < min)
        lo = min;
    if (hi > 0x10FFFF)
        hi = 0x10FFFF;
    if (lo > hi)
        return false;
    return !(lo >= 0xD800 && hi <= 0xDFFF);
}

/* Returns the offset of the first bad byte, INCOMPLETE or VALID. A byte is bad when the
 * bytes of its character so far can no longer complete to a scalar value in the range its
 * length allows: this finds the byte from first principles rather than from byte ranges. */
static long ref_validate(const uint8_t *p, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint8_t b = p[i];
        uint32_t cp, min;
        unsigned need, k;

        if (b < 0x80) {
            i++;
            continue;
        } else if ((b & 0xE0) == 0xC0) {
            need = 1;
            cp = b & 0x1Fu;
            min = 0x80;
        } else if ((b & 0xF0) == 0xE0) {
            need = 2;
            cp = b & 0x0Fu;
            min = 0x800;
        } else if ((b & 0xF8) == 0xF0) {
            need = 3;
            cp = b & 0x07u;
            min = 0x10000;
        } else {
            return (long)i; /* a continuation byte with no lead, or F8..FF */
        }
        for (k = 0; k <= need; k++) {
            unsigned rest = 6 * (need - k);
            uint32_t lo, hi;

            if (k > 0) {
                if (i + k >= len)
                    return INCOMPLETE;
                if ((p[i + k] & 0xC0) != 0x80)
                    return (long)(i + k);
                cp = (cp << 6) | (p[i + k] & 0x3Fu);
            }
            lo = cp << rest;
            hi = lo | ((1u << rest) - 1u);
            if (!range_has_scalar(lo, hi, min))
                return (long)(i + k);
        }
        i += need + 1;
    }
    return VALID;
}

/* The reference must agree with the hand-written table, or it proves nothing. */
static void test_reference_agrees_with_table(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect_case(cases[i].name, ref_validate((const uint8_t *)cases[i].bytes, cases[i].len),
                    cases[i].expect);
    }
}

/* ---- deterministic random input ---- */

static uint64_t rng_state = UINT64_C(0x9E3779B97F4A7C15);

static uint32_t rng(void)
{
    /* xorshift64*: fixed seed, so every run tests the same inputs. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * UINT64_C(0x2545F4914F6CDD1D)) >> 32);
}

static uint32_t rng_below(uint32_t n)
{
    return rng() % n;
}

/* Sorts n cut points into ascending order (insertion sort: n is small). */
static void sort_cuts(size_t *cuts, size_t n)
{
    size_t c;

    for (c = 1; c < n; c++) {
        size_t j = c;
        while (j > 0 && cuts[j - 1] > cuts[j]) {
            size_t t = cuts[j];
            cuts[j] = cuts[j - 1];
            cuts[j - 1] = t;
            j--;
        }
    }
}

static size_t encode(uint32_t cp, uint8_t *out)
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* A scalar value, biased toward ASCII and toward the edges of each length. */
static uint32_t random_scalar(void)
{
    static const uint32_t edges[] = {0x0,    0x7F,   0x80,    0x7FF,    0x800,  0xD7FF,   0xE000,
                                     0xFFFD, 0xFFFF, 0x10000, 0x10FFFF, 0xFFFE, 0x100000, 0xFEFF};
    uint32_t cp;

    switch (rng_below(6)) {
    case 0:
    case 1:
        return rng_below(0x80);
    case 2:
        return edges[rng_below((uint32_t)(sizeof edges / sizeof edges[0]))];
    case 3:
        return 0x80 + rng_below(0x800 - 0x80);
    default:
        do
            cp = rng_below(0x110000);
        while (cp >= 0xD800 && cp <= 0xDFFF);
        return cp;
    }
}

/* Bytes that sit on the class boundaries of the validator. */
static uint8_t random_interesting_byte(void)
{
    static const uint8_t bytes[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF,
                                    0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE,
                                    0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xF7, 0xF8, 0xFF};
    return bytes[rng_below((uint32_t)sizeof bytes)];
}

#define MAX_TEXT 96

static size_t random_text(uint8_t *buf)
{
    size_t len = 0;
    size_t target = rng_below(MAX_TEXT - 3);
    uint32_t kind = rng_below(4);

    if (kind == 0) {
        /* Random bytes; half of them interesting. */
        for (len = 0; len < target; len++)
            buf[len] = rng_below(2) ? (uint8_t)rng() : random_interesting_byte();
        return len;
    }
    while (len + 4 <= target)
        len += encode(random_scalar(), buf + len);
    if (kind == 1)
        return len; /* valid */
    if (kind == 2 && len > 0) {
        /* A few point mutations: replace, or cut short. */
        unsigned m, nmut = 1 + rng_below(3);

        for (m = 0; m < nmut; m++)
            buf[rng_below((uint32_t)len)] = random_interesting_byte();
        if (rng_below(4) == 0)
            len = rng_below((uint32_t)len + 1);
        return len;
    }
    /* Delete one byte from the middle of the text. */
    if (len > 0) {
        size_t at = rng_below((uint32_t)len);
        memmove(buf + at, buf + at + 1, len - at - 1);
        len--;
    }
    return len;
}

static void test_random_against_reference(void **state)
{
    uint8_t buf[MAX_TEXT];
    unsigned iter;
    unsigned seen_valid = 0, seen_incomplete = 0, seen_bad = 0;

    (void)state;
    for (iter = 0; iter < 40000; iter++) {
        size_t len = random_text(buf);
        long want = ref_validate(buf, len);
        size_t cuts[8];
        size_t ncuts = rng_below(8), c;

        seen_valid += (unsigned)(want == VALID);
        seen_incomplete += (unsigned)(want == INCOMPLETE);
        seen_bad += (unsigned)(want >= 0);
        assert_int_equal(feed_whole(buf, len), want);
        assert_int_equal(ws_utf8_valid(buf, len), want == VALID);
        /* Random chunking: ascending cut points, repeats give empty chunks. */
        for (c = 0; c < ncuts; c++)
            cuts[c] = rng_below((uint32_t)len + 1);
        sort_cuts(cuts, ncuts);
        assert_int_equal(feed_chunks(buf, len, cuts, ncuts), want);
        if (iter % 16 == 0)
            assert_int_equal(feed_bytewise(buf, len > 64 ? 64 : len),
                             ref_validate(buf, len > 64 ? 64 : len));
    }
    /* The generator must actually reach every outcome. */
    assert_true(seen_valid > 5000);
    assert_true(seen_incomplete > 1000);
    assert_true(seen_bad > 5000);
}

/* Long texts take the multi-lane path (blocks cut into parts at character starts): one bad
 * byte anywhere, in any lane or right at a cut, must be found exactly where a single chain
 * over the text finds it. */
#define LONG_TEXT 6000

static void test_long_texts_every_lane(void **state)
{
    static uint8_t buf[LONG_TEXT + 4];
    unsigned iter;

    (void)state;
    for (iter = 0; iter < 400; iter++) {
        size_t len = 0, target = 256 + rng_below(LONG_TEXT - 256);
        long want;

        /* Mostly multi-byte, so the ASCII skip does not carry the text past the lanes. */
        while (len + 4 <= target) {
            uint32_t cp = rng_below(8) == 0 ? rng_below(0x80) : random_scalar();
            len += encode(cp < 0x80 && rng_below(2) ? 0x3B1 : cp, buf + len);
        }
        assert_int_equal(feed_whole(buf, len), ref_validate(buf, len));
        switch (iter % 4) {
        case 0: /* one replaced byte */
            buf[rng_below((uint32_t)len)] = random_interesting_byte();
            break;
        case 1: /* one byte deleted: a character loses a byte or a continuation is stray */
        {
            size_t at = rng_below((uint32_t)len);
            memmove(buf + at, buf + at + 1, len - at - 1);
            len--;
            break;
        }
        case 2: /* a surrogate or an overlong form dropped in */
        {
            static const uint8_t bad[][3] = {
                {0xED, 0xA0, 0x80}, {0xE0, 0x80, 0xAF}, {0xC0, 0xAF, 0x41}, {0xF4, 0x90, 0x80}};
            size_t at = rng_below((uint32_t)(len - 3));
            memcpy(buf + at, bad[rng_below(4)], 3);
            break;
        }
        default: /* valid but cut at the end */
            len -= rng_below(3);
            break;
        }
        want = ref_validate(buf, len);
        assert_int_equal(feed_whole(buf, len), want);
        assert_int_equal(ws_utf8_valid(buf, len), want == VALID);
    }
}

/* Every 1- to 4-byte sequence from a lead byte: compares all 2^16 two-byte prefixes and,
 * for the third and fourth byte, the bytes around the class edges. */
static void test_exhaustive_short(void **state)
{
    static const uint8_t edge[] = {0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF,
                                   0xC0, 0xC2, 0xE0, 0xED, 0xF0, 0xF4, 0xF5, 0xFF};
    uint8_t buf[4];
    unsigned a, b, c, d;

    (void)state;
    for (a = 0; a < 256; a++) {
        for (b = 0; b < 256; b++) {
            buf[0] = (uint8_t)a;
            buf[1] = (uint8_t)b;
            assert_int_equal(feed_whole(buf, 2), ref_validate(buf, 2));
        }
        for (b = 0; b < sizeof edge; b++) {
            for (c = 0; c < sizeof edge; c++) {
                for (d = 0; d < sizeof edge; d++) {
                    buf[0] = (uint8_t)a;
                    buf[1] = edge[b];
                    buf[2] = edge[c];
                    buf[3] = edge[d];
                    assert_int_equal(feed_whole(buf, 4), ref_validate(buf, 4));
                    assert_int_equal(feed_whole(buf, 3), ref_validate(buf, 3));
                }
            }
        }
    }
}

/* ---- every implementation against the reference ----
 *
 * The SIMD validators check whole blocks and hand the rest to the DFA, so the cases that
 * matter are those where an error, a cut character or a chunk edge falls at each place in
 * a block or across two. Every implementation this machine runs is compared, and the
 * public function too (it picks one at run time). */

typedef struct impl_set {
    ws_utf8_impl impl[WS_UTF8_IMPL_MAX + 1];
    size_t n;
} impl_set;

static void impls_get(impl_set *s)
{
    s->n = ws_utf8_impls(s->impl);
    s->impl[s->n].name = "ws_utf8_feed";
    s->impl[s->n++].feed = ws_utf8_feed;
}

/* Every implementation, fed in the chunks given by cuts from exact-size copies, must find
 * want. */
static void expect_all(const impl_set *s, const char *what, const uint8_t *p, size_t len,
                       const size_t *cuts, size_t ncuts, long want)
{
    size_t k;

    for (k = 0; k < s->n; k++) {
        long got = feed_chunks_with(&s->impl[k].feed, 1, true, p, len, cuts, ncuts);

        if (got != want)
            print_message("%s: %s (len %zu, %zu cuts): got %ld, want %ld\n", s->impl[k].name, what,
                          len, ncuts, got, want);
        assert_int_equal(got, want);
    }
}

static void test_impls_listed(void **state)
{
    impl_set s;

    (void)state;
    impls_get(&s);
    assert_true(s.n >= 2);
    assert_string_equal(s.impl[0].name, "portable");
#if defined(WS_SIMD_X86_RUNTIME)
    assert_int_equal(s.n, 1 + (size_t)ws_cpu_has_ssse3() + (size_t)ws_cpu_has_avx2() + 1);
#else
    assert_false(ws_cpu_has_ssse3());
    assert_false(ws_cpu_has_avx2());
#endif
}

/* Exactly n bytes of valid text that ends on a character boundary: with mixed, characters
 * of every length from the first byte on (so the block checks start at once), else ASCII. */
static void fill_padding(uint8_t *p, size_t n, bool mixed, unsigned phase)
{
    static const char *const chars[] = {"\xC3\xA9",         "\xE2\x82\xAC",    "a",
                                        "\xF0\x9F\x98\x80", "\xED\x9F\xBF",    "b",
                                        "\xF4\x8F\xBF\xBF", "\xDF\xBF",        "\xEE\x80\x80",
                                        "\xE0\xA0\x80",     "\xF0\x90\x80\x80"};
    const size_t nchars = sizeof chars / sizeof chars[0];
    size_t i = 0;

    while (i < n) {
        const char *ch = mixed ? chars[phase++ % nchars] : "a";
        size_t len = strlen(ch);

        if (len > n - i) {
            p[i++] = 'a';
            continue;
        }
        memcpy(p + i, ch, len);
        i += len;
    }
}

#define EDGE_MAX_POS 70
#define EDGE_TAIL    80

/* Each case of the table at every offset 0..70 inside valid padding, with more text after
 * it or with the text ending right after it, whole or cut inside the case. */
static void test_impls_edge_cases_everywhere(void **state)
{
    static uint8_t buf[EDGE_MAX_POS + 32 + EDGE_TAIL];
    impl_set s;
    size_t i, pos;
    unsigned mixed;

    (void)state;
    impls_get(&s);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const utf8_case *tc = &cases[i];

        for (mixed = 0; mixed < 2; mixed++) {
            for (pos = 0; pos <= EDGE_MAX_POS; pos++) {
                size_t total = pos + tc->len + EDGE_TAIL, cut = pos + 1;
                long ends = tc->expect >= 0 ? (long)pos + tc->expect : tc->expect;
                long want;

                assert_true(tc->len <= 32);
                fill_padding(buf, pos, mixed != 0, (unsigned)pos);
                memcpy(buf + pos, tc->bytes, tc->len);
                fill_padding(buf + pos + tc->len, EDGE_TAIL, mixed != 0, (unsigned)i);
                want = ref_validate(buf, total);
                /* The padding around a case must not change what it is. */
                assert_int_equal(ref_validate(buf, pos + tc->len), ends);
                assert_int_equal(want, tc->expect == INCOMPLETE ? (long)(pos + tc->len) : ends);

                expect_all(&s, tc->name, buf, total, NULL, 0, want);
                expect_all(&s, tc->name, buf, pos + tc->len, NULL, 0, ends);
                if (tc->len > 0) {
                    expect_all(&s, tc->name, buf, total, &cut, 1, want);
                    expect_all(&s, tc->name, buf, pos + tc->len, &cut, 1, ends);
                }
            }
        }
    }
}

/* Valid mixed text, mostly ASCII as in chat or JSON, about one character in ten longer. */
static size_t random_mixed_text(uint8_t *buf, size_t target)
{
    size_t len = 0;

    while (len + 4 <= target)
        len += encode(rng_below(10) != 0 ? 0x20 + rng_below(0x5F) : random_scalar(), buf + len);
    while (len < target)
        buf[len++] = 'z';
    return len;
}

/* Ascending random cut points in [0, len], repeats (empty chunks) allowed. */
static size_t random_cuts(size_t *cuts, size_t max, size_t len)
{
    size_t n = rng_below((uint32_t)max + 1), c;

    for (c = 0; c < n; c++)
        cuts[c] = rng_below((uint32_t)len + 1);
    sort_cuts(cuts, n);
    return n;
}

#define MIXED_TEXT 3000

/* One byte of valid mixed text replaced, deleted, or a bad sequence written over it. */
static void test_impls_random_corruptions(void **state)
{
    static uint8_t buf[MIXED_TEXT];
    impl_set s;
    unsigned iter;

    (void)state;
    impls_get(&s);
    for (iter = 0; iter < 600; iter++) {
        size_t len = random_mixed_text(buf, 16 + rng_below(MIXED_TEXT - 16));
        size_t at = rng_below((uint32_t)len - 4), cuts[6], ncuts;
        long want;

        expect_all(&s, "valid mixed", buf, len, NULL, 0, VALID);
        switch (iter % 3) {
        case 0:
            buf[at] = random_interesting_byte();
            break;
        case 1:
            memmove(buf + at, buf + at + 1, len - at - 1);
            len--;
            break;
        default:
            buf[at] = random_interesting_byte();
            buf[at + 1] = random_interesting_byte();
            buf[at + 2] = random_interesting_byte();
            break;
        }
        want = ref_validate(buf, len);
        expect_all(&s, "corrupted mixed", buf, len, NULL, 0, want);
        ncuts = random_cuts(cuts, 6, len);
        expect_all(&s, "corrupted mixed, chunked", buf, len, cuts, ncuts, want);
    }
}

/* Every way to cut each short table case (with a byte after it, or not) into chunks, and every
 * two-cut split of a text long enough for the block checks, with an error late in it. */
static void test_impls_every_chunking(void **state)
{
    static uint8_t buf[112];
    impl_set s;
    size_t i, len, a, b;

    (void)state;
    impls_get(&s);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (cases[i].len > 8)
            continue;
        for (len = cases[i].len; len <= cases[i].len + 1; len++) {
            unsigned mask;

            memcpy(buf, cases[i].bytes, cases[i].len);
            buf[cases[i].len] = 'z';
            for (mask = 0; mask < 1u << (len > 0 ? len - 1 : 0); mask++) {
                size_t cuts[8], ncuts = 0, bit;

                for (bit = 0; bit + 1 < len; bit++) {
                    if (mask & (1u << bit))
                        cuts[ncuts++] = bit + 1;
                }
                expect_all(&s, cases[i].name, buf, len, cuts, ncuts, ref_validate(buf, len));
            }
        }
    }
    len = sizeof buf;
    fill_padding(buf, len, true, 3);
    memcpy(buf + 97, "\xED\xA0\x80", 3); /* a surrogate */
    assert_int_equal(ref_validate(buf, len), 98);
    for (a = 0; a <= len; a++) {
        for (b = a; b <= len; b++) {
            size_t cuts[2];

            cuts[0] = a;
            cuts[1] = b;
            expect_all(&s, "two cuts", buf, len, cuts, 2, 98);
        }
    }
}

#define LONG_MIXED (64 * 1024)

/* Long texts fed in chunks of random size, now small, now large, also switching between
 * implementations from chunk to chunk (a state from one must mean the same to another). */
static void test_impls_long_random_chunks(void **state)
{
    static uint8_t buf[LONG_MIXED];
    static size_t cuts[LONG_MIXED];
    ws_utf8_feed_fn feeds[WS_UTF8_IMPL_MAX + 1];
    impl_set s;
    unsigned iter;
    size_t k;

    (void)state;
    impls_get(&s);
    for (k = 0; k < s.n; k++)
        feeds[k] = s.impl[k].feed;
    for (iter = 0; iter < 24; iter++) {
        size_t len = random_mixed_text(buf, LONG_MIXED), ncuts = 0, at = 0;
        uint32_t max_chunk = iter % 2 ? 16 : 4096;
        long want;

        if (iter % 4 >= 2)
            buf[rng_below((uint32_t)len)] = random_interesting_byte();
        want = ref_validate(buf, len);
        for (;;) {
            at += 1 + rng_below(max_chunk);
            if (at >= len)
                break;
            cuts[ncuts++] = at;
        }
        expect_all(&s, "long, random chunks", buf, len, cuts, ncuts, want);
        assert_int_equal(feed_chunks_with(feeds, s.n, false, buf, len, cuts, ncuts), want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_agrees_with_table),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_offset_is_per_chunk),
        cmocka_unit_test(test_empty_feeds),
        cmocka_unit_test(test_ascii_runs),
        cmocka_unit_test(test_random_against_reference),
        cmocka_unit_test(test_exhaustive_short),
        cmocka_unit_test(test_long_texts_every_lane),
        cmocka_unit_test(test_impls_listed),
        cmocka_unit_test(test_impls_edge_cases_everywhere),
        cmocka_unit_test(test_impls_random_corruptions),
        cmocka_unit_test(test_impls_every_chunking),
        cmocka_unit_test(test_impls_long_random_chunks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
