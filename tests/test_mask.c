/*
 * Tests for payload masking: the RFC 6455 example, every length 0-300 at every alignment and
 * key offset against a byte-at-a-time reference, masking in pieces, and guard bytes and
 * exact-size heap buffers to catch any access outside the payload. Every implementation this
 * machine runs (portable, SSE2, AVX2, NEON) goes through the same checks one by one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ws.h"
#include "mask_impl.h"

#define MAX_LEN    300
#define GUARD      16
#define GUARD_BYTE 0xA5

static const uint8_t key[4] = {0x37, 0xFA, 0x21, 0x3D};

/* The obvious definition: byte i takes key[(offset + i) % 4]. */
static void ref_mask(uint8_t *dst, const uint8_t *src, size_t len, size_t offset)
{
    size_t i;

    for (i = 0; i < len; i++)
        dst[i] = (uint8_t)(src[i] ^ key[(offset + i) % 4]);
}

/* Bytes that differ from position to position and from run to run of the loops. */
static void fill_pattern(uint8_t *p, size_t len, unsigned seed)
{
    size_t i;

    for (i = 0; i < len; i++)
        p[i] = (uint8_t)(i * 131u + seed * 7u + (i >> 3));
}

static void assert_guard(const uint8_t *p, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        assert_int_equal(p[i], GUARD_BYTE);
}

/* RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d. */
static void test_rfc_example(void **state)
{
    static const uint8_t masked[] = {0x7f, 0x9f, 0x4d, 0x51, 0x58};
    uint8_t buf[5] = {'H', 'e', 'l', 'l', 'o'};
    uint8_t out[5];

    (void)state;
    assert_int_equal(ws_mask(buf, sizeof buf, key, 0), 1);
    assert_memory_equal(buf, masked, sizeof masked);
    assert_int_equal(ws_mask_copy(out, buf, sizeof buf, key, 0), 1);
    assert_memory_equal(out, "Hello", 5);
}

static void test_empty(void **state)
{
    size_t off;

    (void)state;
    for (off = 0; off < 9; off++) {
        assert_int_equal(ws_mask(NULL, 0, key, off), off % 4);
        assert_int_equal(ws_mask_copy(NULL, NULL, 0, key, off), off % 4);
    }
    /* The offset is taken modulo 4 however large it is. */
    assert_int_equal(ws_mask(NULL, 0, key, SIZE_MAX), 3);
}

/* In place: every length, start alignment and key offset; the bytes around stay as they
 * were. */
static void test_in_place(void **state)
{
    uint8_t buf[GUARD + 8 + MAX_LEN + GUARD];
    uint8_t orig[MAX_LEN];
    uint8_t want[MAX_LEN];
    size_t align, len, off;

    (void)state;
    for (align = 0; align < 8; align++) {
        uint8_t *p = buf + GUARD + align;

        for (len = 0; len <= MAX_LEN; len++) {
            for (off = 0; off < 4; off++) {
                memset(buf, GUARD_BYTE, sizeof buf);
                fill_pattern(orig, len, (unsigned)(len + off));
                memcpy(p, orig, len);
                ref_mask(want, orig, len, off);
                /* Offsets past 3 count modulo 4. */
                assert_int_equal(ws_mask(p, len, key, off + 4 * align), (off + len) % 4);
                assert_memory_equal(p, want, len);
                assert_guard(buf, GUARD + align);
                assert_guard(p + len, (size_t)(buf + sizeof buf - (p + len)));
            }
        }
    }
}

/* Copying: every length, every pair of source and destination alignments, every key
 * offset; the source is untouched and nothing outside the destination is written. */
static void test_copy(void **state)
{
    uint8_t src_buf[8 + MAX_LEN];
    uint8_t dst_buf[GUARD + 8 + MAX_LEN + GUARD];
    uint8_t want[MAX_LEN];
    uint8_t src_copy[sizeof src_buf];
    size_t sa, da, len, off;

    (void)state;
    fill_pattern(src_buf, sizeof src_buf, 1);
    memcpy(src_copy, src_buf, sizeof src_buf);
    for (sa = 0; sa < 8; sa++) {
        for (da = 0; da < 8; da++) {
            const uint8_t *src = src_buf + sa;
            uint8_t *dst = dst_buf + GUARD + da;

            for (len = 0; len <= MAX_LEN; len++) {
                for (off = 0; off < 4; off++) {
                    memset(dst_buf, GUARD_BYTE, sizeof dst_buf);
                    ref_mask(want, src, len, off);
                    assert_int_equal(ws_mask_copy(dst, src, len, key, off), (off + len) % 4);
                    assert_memory_equal(dst, want, len);
                    assert_guard(dst_buf, GUARD + da);
                    assert_guard(dst + len, (size_t)(dst_buf + sizeof dst_buf - (dst + len)));
                }
            }
        }
    }
    assert_memory_equal(src_buf, src_copy, sizeof src_buf);
}

/* ws_mask_copy with dst == src is masking in place. */
static void test_copy_same_buffer(void **state)
{
    uint8_t buf[8 + MAX_LEN];
    uint8_t orig[MAX_LEN];
    uint8_t want[MAX_LEN];
    size_t align, len, off;

    (void)state;
    for (align = 0; align < 8; align++) {
        uint8_t *p = buf + align;

        for (len = 0; len <= MAX_LEN; len += 7) {
            for (off = 0; off < 4; off++) {
                fill_pattern(orig, len, (unsigned)align);
                memcpy(p, orig, len);
                ref_mask(want, orig, len, off);
                assert_int_equal(ws_mask_copy(p, p, len, key, off), (off + len) % 4);
                assert_memory_equal(p, want, len);
                /* Masking twice gives the payload back. */
                ws_mask_copy(p, p, len, key, off);
                assert_memory_equal(p, orig, len);
            }
        }
    }
}

/* Masking in two pieces (split at every point) or three equals masking the whole, as long
 * as each piece starts at the offset the previous one returned. */
static void test_pieces(void **state)
{
    static const size_t lens[] = {0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 300};
    uint8_t orig[MAX_LEN];
    uint8_t whole[MAX_LEN];
    uint8_t pieces[MAX_LEN];
    uint8_t copied[MAX_LEN];
    size_t li, cut, cut2, off;

    (void)state;
    for (li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        size_t len = lens[li];

        fill_pattern(orig, len, (unsigned)li);
        for (off = 0; off < 4; off++) {
            memcpy(whole, orig, len);
            ws_mask(whole, len, key, off);
            for (cut = 0; cut <= len; cut++) {
                size_t next;

                memcpy(pieces, orig, len);
                next = ws_mask(pieces, cut, key, off);
                assert_int_equal(ws_mask(pieces + cut, len - cut, key, next), (off + len) % 4);
                assert_memory_equal(pieces, whole, len);

                next = ws_mask_copy(copied, orig, cut, key, off);
                ws_mask_copy(copied + cut, orig + cut, len - cut, key, next);
                assert_memory_equal(copied, whole, len);
            }
            for (cut = 0; cut <= len && len <= 64; cut++) {
                for (cut2 = cut; cut2 <= len; cut2++) {
                    size_t next;

                    memcpy(pieces, orig, len);
                    next = ws_mask(pieces, cut, key, off);
                    next = ws_mask(pieces + cut, cut2 - cut, key, next);
                    ws_mask(pieces + cut2, len - cut2, key, next);
                    assert_memory_equal(pieces, whole, len);
                }
            }
        }
    }
}

/* Source and destination on the heap with nothing after the last byte, at every
 * alignment: under AddressSanitizer any read or write past the end is an error. */
static void test_exact_heap_buffers(void **state)
{
    uint8_t want[MAX_LEN];
    size_t align, len, off;

    (void)state;
    for (len = 0; len <= 80; len++) {
        for (align = 0; align < 8; align++) {
            uint8_t *a = malloc(len + align + 1);
            uint8_t *b = malloc(len + 8 - align);
            uint8_t *src = a + align + 1;
            uint8_t *dst = b + 8 - align;

            assert_non_null(a);
            assert_non_null(b);
            for (off = 0; off < 4; off++) {
                fill_pattern(src, len, (unsigned)off);
                ref_mask(want, src, len, off);
                assert_int_equal(ws_mask_copy(dst, src, len, key, off), (off + len) % 4);
                assert_memory_equal(dst, want, len);
                assert_int_equal(ws_mask(src, len, key, off), (off + len) % 4);
                assert_memory_equal(src, want, len);
            }
            free(a);
            free(b);
        }
    }
}

/* ---- each implementation on its own ------------------------------------------------------ */

#define BIG_LEN    (65536 + 3)
#define MAX_ALIGN  32 /* the widest vector: every start within one */
#define WIDE_GUARD 64 /* more than one vector store past either end */

/* Every implementation compiled in and runnable here, and the public entry point. */
static size_t all_impls(ws_mask_impl out[WS_MASK_IMPL_MAX + 1])
{
    size_t n = ws_mask_impls(out);

    out[n].name = "ws_mask_copy";
    out[n].fn = ws_mask_copy;
    return n + 1;
}

/* Buffers for one implementation check, big enough for BIG_LEN at any alignment. */
typedef struct mask_bufs {
    uint8_t *dst; /* WIDE_GUARD + MAX_ALIGN + BIG_LEN + WIDE_GUARD */
    uint8_t *src; /* MAX_ALIGN + BIG_LEN */
    uint8_t *orig;
    uint8_t *want;
} mask_bufs;

static int bufs_setup(void **state)
{
    mask_bufs *b = malloc(sizeof *b);

    if (b == NULL)
        return -1;
    b->dst = malloc(2 * WIDE_GUARD + MAX_ALIGN + BIG_LEN);
    b->src = malloc(MAX_ALIGN + BIG_LEN);
    b->orig = malloc(BIG_LEN);
    b->want = malloc(BIG_LEN);
    *state = b;
    return b->dst && b->src && b->orig && b->want ? 0 : -1;
}

static int bufs_teardown(void **state)
{
    mask_bufs *b = *state;

    free(b->dst);
    free(b->src);
    free(b->orig);
    free(b->want);
    free(b);
    return 0;
}

/* Whether every byte of p[0..n) is the guard byte. */
static int is_guard(const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (p[i] != GUARD_BYTE)
            return 0;
    }
    return 1;
}

/* One call of im on len bytes at key offset off: copying from src_align to dst_align, or in
 * place at dst_align when src_align is SIZE_MAX. Checks the result, the returned offset,
 * that the source is unchanged and that no byte around the destination was written. */
static void check_impl(mask_bufs *b, const ws_mask_impl *im, size_t len, size_t off,
                       size_t src_align, size_t dst_align)
{
    int in_place = src_align == SIZE_MAX;
    uint8_t *dst = b->dst + WIDE_GUARD + dst_align;
    uint8_t *src = in_place ? dst : b->src + src_align;
    size_t ret;

    memset(b->dst, GUARD_BYTE, WIDE_GUARD + dst_align + len + WIDE_GUARD);
    fill_pattern(b->orig, len, (unsigned)(len * 5 + off + dst_align));
    memcpy(src, b->orig, len);
    ref_mask(b->want, b->orig, len, off);

    ret = im->fn(dst, src, len, key, off + 8 * dst_align); /* offsets count modulo 4 */
    if (ret != (off + len) % 4 || memcmp(dst, b->want, len) != 0 ||
        (!in_place && memcmp(src, b->orig, len) != 0) ||
        !is_guard(b->dst, WIDE_GUARD + dst_align) || !is_guard(dst + len, WIDE_GUARD))
        fail_msg("%s: len %lu, key offset %lu, src align %ld, dst align %lu", im->name,
                 (unsigned long)len, (unsigned long)off, in_place ? -1L : (long)src_align,
                 (unsigned long)dst_align);
}

/* Every length 0-300 and two large ones, every key offset, every start within a vector for
 * the destination in place, and source and destination apart at a start pairing that
 * changes with the length, so that all 32 x 32 pairs come round. */
static void test_impl_lengths(void **state)
{
    static const size_t big[] = {1023, 4095, BIG_LEN};
    ws_mask_impl impls[WS_MASK_IMPL_MAX + 1];
    size_t n = all_impls(impls);
    size_t ii, len, off, a, bi;

    for (ii = 0; ii < n; ii++) {
        for (len = 0; len <= MAX_LEN; len++) {
            for (off = 0; off < 4; off++) {
                for (a = 0; a < MAX_ALIGN; a++) {
                    check_impl(*state, &impls[ii], len, off, SIZE_MAX, a);
                    check_impl(*state, &impls[ii], len, off, a, (a * 7 + len + off) % MAX_ALIGN);
                }
            }
        }
        for (bi = 0; bi < sizeof big / sizeof big[0]; bi++) {
            for (off = 0; off < 4; off++) {
                for (a = 0; a < MAX_ALIGN; a += 3) {
                    check_impl(*state, &impls[ii], big[bi], off, SIZE_MAX, a);
                    check_impl(*state, &impls[ii], big[bi], off, a, (a * 5 + off) % MAX_ALIGN);
                }
            }
        }
    }
}

/* Every pair of source and destination starts, at lengths around the vector widths. */
static void test_impl_alignment_pairs(void **state)
{
    static const size_t lens[] = {1, 3, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 200};
    ws_mask_impl impls[WS_MASK_IMPL_MAX + 1];
    size_t n = all_impls(impls);
    size_t ii, li, off, sa, da;

    for (ii = 0; ii < n; ii++) {
        for (li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            for (off = 0; off < 4; off++) {
                for (sa = 0; sa < MAX_ALIGN; sa++) {
                    for (da = 0; da < MAX_ALIGN; da++)
                        check_impl(*state, &impls[ii], lens[li], off, sa, da);
                }
            }
        }
    }
}

/* A payload masked in pieces of assorted sizes, each starting at the offset the previous
 * one returned, equals the payload masked whole; the pieces start at every key position, so
 * the wide paths start with every rotation of the key. */
static void test_impl_chained(void **state)
{
    static const size_t sizes[] = {1, 2, 3, 5, 7, 13, 16, 31, 32, 33, 64, 65, 100, 129, 300};
    static const size_t lens[] = {0, 1, 64, 100, 257, 1000, 4095};
    enum { NSIZES = sizeof sizes / sizeof sizes[0] };
    mask_bufs *b = *state;
    ws_mask_impl impls[WS_MASK_IMPL_MAX + 1];
    size_t n = all_impls(impls);
    size_t ii, li, start, off;

    for (ii = 0; ii < n; ii++) {
        for (li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            size_t len = lens[li];

            fill_pattern(b->orig, len, (unsigned)li);
            for (off = 0; off < 4; off++) {
                ref_mask(b->want, b->orig, len, off);
                for (start = 0; start < NSIZES; start++) {
                    size_t pos = 0, k = off, next = start;

                    memcpy(b->src, b->orig, len);
                    while (pos < len) {
                        size_t piece = sizes[next] < len - pos ? sizes[next] : len - pos;
                        size_t k_copy;

                        /* Copying out of a piece, then masking the same piece in place. */
                        k_copy = impls[ii].fn(b->dst + pos, b->src + pos, piece, key, k);
                        k = impls[ii].fn(b->src + pos, b->src + pos, piece, key, k);
                        assert_int_equal(k, k_copy);
                        assert_int_equal(k, (off + pos + piece) % 4);
                        pos += piece;
                        next = (next + 1) % NSIZES;
                    }
                    if (len > 0 &&
                        (memcmp(b->dst, b->want, len) != 0 || memcmp(b->src, b->want, len) != 0))
                        fail_msg("%s: len %lu, key offset %lu, first piece %lu", impls[ii].name,
                                 (unsigned long)len, (unsigned long)off, (unsigned long)start);
                }
            }
        }
    }
}

/* The build option decides what is compiled: with WS_NO_SIMD only the portable code, on
 * x86-64 otherwise at least SSE2, on ARM with NEON the NEON path. */
static void test_impl_list(void **state)
{
    ws_mask_impl impls[WS_MASK_IMPL_MAX];
    size_t n = ws_mask_impls(impls);

    (void)state;
    assert_true(n >= 1);
    assert_string_equal(impls[0].name, "portable");
#if defined(WS_NO_SIMD)
    assert_int_equal(n, 1);
    assert_false(ws_cpu_has_avx2());
#elif defined(__x86_64__) && defined(__SSE2__)
    assert_true(n >= 2);
    assert_string_equal(impls[1].name, "sse2");
#elif defined(__ARM_NEON)
    assert_int_equal(n, 2);
    assert_string_equal(impls[1].name, "neon");
#endif
}

int main(void)
{
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_example),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_in_place),
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_copy_same_buffer),
        cmocka_unit_test(test_pieces),
        cmocka_unit_test(test_exact_heap_buffers),
        cmocka_unit_test(test_impl_list),
        cmocka_unit_test_setup_teardown(test_impl_lengths, bufs_setup, bufs_teardown),
        cmocka_unit_test_setup_teardown(test_impl_alignment_pairs, bufs_setup, bufs_teardown),
        cmocka_unit_test_setup_teardown(test_impl_chained, bufs_setup, bufs_teardown),
    };
    /* clang-format on */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
