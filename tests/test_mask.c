/*
 * Tests for payload masking: the RFC 6455 example, every length 0-300 at every alignment and
 * key offset against a byte-at-a-time reference, masking in pieces, and guard bytes and
 * exact-size heap buffers to catch any access outside the payload.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ws.h"

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
    };
    /* clang-format on */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
