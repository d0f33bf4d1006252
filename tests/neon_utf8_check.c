/*
 * A standalone check of every UTF-8 validator implementation against a reference, for
 * machines without CMocka: cross-compiled for AArch64 and run under qemu it covers the NEON
 * path (see the command below). Prints TAP; exits non-zero on any failure.
 *
 *   aarch64-linux-gnu-gcc -std=c99 -O2 -Iinclude -Ilib lib/utf8.c lib/error.c \
 *       tests/neon_utf8_check.c -o neon_utf8_check
 *   qemu-aarch64 -L /usr/aarch64-linux-gnu ./neon_utf8_check
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws.h"
#include "utf8_impl.h"

#define TEXT_MAX 4096

/* The byte ranges of well-formed sequences (Unicode 15, table 3-7): for each lead byte,
 * the range its second byte must fall in (later bytes are 80..BF). Returns the length of
 * the sequence, 0 for a byte that cannot lead. */
static unsigned ref_lead(uint8_t b, uint8_t *lo, uint8_t *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (b < 0x80)
        return 1;
    if (b >= 0xC2 && b <= 0xDF)
        return 2;
    if (b == 0xE0)
        *lo = 0xA0;
    if (b == 0xED)
        *hi = 0x9F;
    if (b >= 0xE0 && b <= 0xEF)
        return 3;
    if (b == 0xF0)
        *lo = 0x90;
    if (b == 0xF4)
        *hi = 0x8F;
    if (b >= 0xF0 && b <= 0xF4)
        return 4;
    return 0;
}

/* The offset of the first bad byte, or -1 when valid, -2 when cut short at the end. */
static long ref_first_bad(const uint8_t *p, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint8_t lo, hi;
        unsigned n = ref_lead(p[i], &lo, &hi), k;

        if (n == 0)
            return (long)i;
        for (k = 1; k < n; k++) {
            if (i + k == len)
                return -2;
            if (p[i + k] < lo || p[i + k] > hi)
                return (long)(i + k);
            lo = 0x80;
            hi = 0xBF;
        }
        i += n;
    }
    return -1;
}

static int failures;
static int checks;

/* Feeds p in the given chunks (each from an exact-size heap copy) and compares with the
 * reference. */
static void check(const char *impl_name, ws_utf8_feed_fn feed, const char *what, const uint8_t *p,
                  size_t len, const size_t *cuts, size_t ncuts)
{
    long want = ref_first_bad(p, len), got = -1;
    size_t start = 0, c;
    ws_utf8 v;

    ws_utf8_init(&v);
    for (c = 0; c <= ncuts && got == -1; c++) {
        size_t end = c < ncuts ? cuts[c] : len, bad = 0;
        uint8_t *copy = malloc(end - start + 1);

        if (copy == NULL)
            abort();
        memcpy(copy, p + start, end - start);
        if (feed(&v, copy, end - start, &bad) != WS_OK)
            got = (long)(start + bad);
        free(copy);
        start = end;
    }
    if (got == -1 && ws_utf8_finish(&v) != WS_OK)
        got = -2;
    checks++;
    if (got != want) {
        failures++;
        if (failures <= 10)
            printf("# %s: %s, len %zu, %zu cuts: got %ld, want %ld\n", impl_name, what, len, ncuts,
                   got, want);
    }
}

static uint64_t rng_state = UINT64_C(0x2545F4914F6CDD1D);

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

/* Valid text of exactly n bytes, one character in ten (or all, with dense) longer than one
 * byte. */
static void fill_text(uint8_t *p, size_t n, int dense)
{
    static const char *const chars[] = {"\xC3\xA9",     "\xE2\x82\xAC",     "\xF0\x9F\x98\x80",
                                        "\xED\x9F\xBF", "\xF4\x8F\xBF\xBF", "\xE0\xA0\x80",
                                        "\xC2\x80",     "\xF0\x90\x80\x80"};
    size_t i = 0;

    while (i < n) {
        const char *ch = chars[rng() % 8];
        size_t len = strlen(ch);

        if ((!dense && rng() % 10 != 0) || len > n - i) {
            p[i++] = (uint8_t)(0x20 + rng() % 0x5F);
            continue;
        }
        memcpy(p + i, ch, len);
        i += len;
    }
}

static const char *const edge_cases[] = {"\xC0\x80",
                                         "\xC1\xBF",
                                         "\xE0\x80\x80",
                                         "\xE0\x9F\xBF",
                                         "\xED\xA0\x80",
                                         "\xED\xBF\xBF",
                                         "\xF0\x80\x80\x80",
                                         "\xF0\x8F\xBF\xBF",
                                         "\xF4\x90\x80\x80",
                                         "\xF5\x80",
                                         "\xFF",
                                         "\x80",
                                         "\xBF",
                                         "\xC2\x80\x80",
                                         "\xC3\x41",
                                         "\xE2\x82\x41",
                                         "\xF0\x90\x80\x41",
                                         "\xC2\xC2\x80",
                                         "\xC2",
                                         "\xE2\x82",
                                         "\xF0\x90\x80",
                                         "\xF4\x8F\xBF\xBF",
                                         "\xE0\xA0\x80",
                                         "\xED\x9F\xBF"};

int main(void)
{
    static uint8_t buf[TEXT_MAX];
    ws_utf8_impl impls[WS_UTF8_IMPL_MAX + 1];
    size_t nimpls = ws_utf8_impls(impls), k, e, pos, iter;

    impls[nimpls].name = "ws_utf8_feed";
    impls[nimpls++].feed = ws_utf8_feed;
    printf("1..%zu\n", nimpls);
    for (k = 0; k < nimpls; k++) {
        int before = failures;

        /* Each edge case at every offset, in text that is mixed from its first byte. */
        for (e = 0; e < sizeof edge_cases / sizeof edge_cases[0]; e++) {
            size_t n = strlen(edge_cases[e]);
            for (pos = 0; pos <= 70; pos++) {
                size_t cut = pos + 1;

                rng_state = UINT64_C(0x9E3779B97F4A7C15) + pos;
                fill_text(buf, pos + n + 80, 1);
                memcpy(buf + pos, edge_cases[e], n);
                check(impls[k].name, impls[k].feed, edge_cases[e], buf, pos + n + 80, NULL, 0);
                check(impls[k].name, impls[k].feed, edge_cases[e], buf, pos + n, NULL, 0);
                check(impls[k].name, impls[k].feed, edge_cases[e], buf, pos + n + 80, &cut, 1);
            }
        }
        /* Random mixed text with one bad byte, fed in random chunks. */
        rng_state = UINT64_C(0x9E3779B97F4A7C15);
        for (iter = 0; iter < 2000; iter++) {
            size_t len = 16 + rng() % (TEXT_MAX - 16), cuts[8], ncuts = rng() % 8, c;

            fill_text(buf, len, iter % 2 == 0);
            check(impls[k].name, impls[k].feed, "valid", buf, len, NULL, 0);
            buf[rng() % len] = (uint8_t)rng();
            for (c = 0; c < ncuts; c++)
                cuts[c] = (c == 0 ? 0 : cuts[c - 1]) + rng() % (len / 4 + 1);
            while (ncuts > 0 && cuts[ncuts - 1] > len)
                ncuts--;
            check(impls[k].name, impls[k].feed, "corrupted", buf, len, cuts, ncuts);
        }
        printf("%s - %s\n", failures == before ? "ok" : "not ok", impls[k].name);
    }
    printf("# %d checks, %d failures\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
