/*
 * A standalone check of every masking implementation against a byte-at-a-time reference,
 * for machines without CMocka: tests/neon.sh cross-compiles it for AArch64 and runs it under
 * qemu to cover the NEON path. Prints TAP; exits non-zero on any failure.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws.h"
#include "mask_impl.h"

#define MAX_LEN    300
#define BIG_LEN    (65536 + 3)
#define MAX_ALIGN  32
#define GUARD      64
#define GUARD_BYTE 0xA5

static const uint8_t key[4] = {0x37, 0xFA, 0x21, 0x3D};

static uint8_t dst_buf[2 * GUARD + MAX_ALIGN + BIG_LEN];
static uint8_t src_buf[MAX_ALIGN + BIG_LEN];
static uint8_t orig[BIG_LEN];
static uint8_t want[BIG_LEN];

static void ref_mask(uint8_t *dst, const uint8_t *src, size_t len, size_t offset)
{
    size_t i;

    for (i = 0; i < len; i++)
        dst[i] = (uint8_t)(src[i] ^ key[(offset + i) % 4]);
}

static int is_guard(const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (p[i] != GUARD_BYTE)
            return 0;
    }
    return 1;
}

/* One call, copying (src_align < MAX_ALIGN) or in place (src_align == MAX_ALIGN); 1 if the
 * result, the returned offset, the source and the bytes around the destination are right. */
static int check_one(ws_mask_copy_fn fn, size_t len, size_t off, size_t src_align, size_t dst_align)
{
    uint8_t *dst = dst_buf + GUARD + dst_align;
    uint8_t *src = src_align == MAX_ALIGN ? dst : src_buf + src_align;
    size_t i;

    memset(dst_buf, GUARD_BYTE, GUARD + dst_align + len + GUARD);
    for (i = 0; i < len; i++)
        orig[i] = (uint8_t)(i * 131u + off * 7u + dst_align + (i >> 3));
    memcpy(src, orig, len);
    ref_mask(want, orig, len, off);
    if (fn(dst, src, len, key, off) != (off + len) % 4 || memcmp(dst, want, len) != 0)
        return 0;
    if (src != dst && memcmp(src, orig, len) != 0)
        return 0;
    return is_guard(dst_buf, GUARD + dst_align) && is_guard(dst + len, GUARD);
}

/* Every length 0-300 and a few large ones, every key offset, in place at every start within
 * a vector and copying between starts that pair differently at each length. */
static int check_lengths(ws_mask_copy_fn fn)
{
    static const size_t big[] = {1023, 4095, BIG_LEN};
    size_t len, off, a, bi;

    for (len = 0; len <= MAX_LEN; len++) {
        for (off = 0; off < 4; off++) {
            for (a = 0; a < MAX_ALIGN; a++) {
                if (!check_one(fn, len, off, MAX_ALIGN, a) ||
                    !check_one(fn, len, off, a, (a * 7 + len + off) % MAX_ALIGN))
                    return 0;
            }
        }
    }
    for (bi = 0; bi < sizeof big / sizeof big[0]; bi++) {
        for (off = 0; off < 4; off++) {
            for (a = 0; a < MAX_ALIGN; a += 3) {
                if (!check_one(fn, big[bi], off, MAX_ALIGN, a) ||
                    !check_one(fn, big[bi], off, a, (a * 5 + off) % MAX_ALIGN))
                    return 0;
            }
        }
    }
    return 1;
}

/* Pieces of assorted sizes chained through the returned offset equal the whole. */
static int check_chained(ws_mask_copy_fn fn)
{
    static const size_t sizes[] = {1, 2, 3, 5, 7, 13, 16, 31, 32, 33, 64, 65, 100, 129, 300};
    static const size_t len = 4095;
    size_t nsizes = sizeof sizes / sizeof sizes[0];
    size_t off, start, i;

    for (i = 0; i < len; i++)
        orig[i] = (uint8_t)(i * 29u + 3u);
    for (off = 0; off < 4; off++) {
        ref_mask(want, orig, len, off);
        for (start = 0; start < nsizes; start++) {
            size_t pos = 0, k = off, next = start;

            memcpy(src_buf, orig, len);
            while (pos < len) {
                size_t piece = sizes[next] < len - pos ? sizes[next] : len - pos;

                k = fn(src_buf + pos, src_buf + pos, piece, key, k);
                if (k != (off + pos + piece) % 4)
                    return 0;
                pos += piece;
                next = (next + 1) % nsizes;
            }
            if (memcmp(src_buf, want, len) != 0)
                return 0;
        }
    }
    return 1;
}

static int tap(int *n, int ok, const char *name, const char *what)
{
    *n += 1;
    printf("%sok %d - %s: %s\n", ok ? "" : "not ", *n, name, what);
    return ok;
}

int main(void)
{
    ws_mask_impl impls[WS_MASK_IMPL_MAX + 1];
    size_t n = ws_mask_impls(impls), i;
    int t = 0, all = 1, neon = 0;

    impls[n].name = "ws_mask_copy";
    impls[n++].fn = ws_mask_copy;
    printf("1..%d\n", (int)(2 * n + 1));
    for (i = 0; i < n; i++) {
        neon |= strcmp(impls[i].name, "neon") == 0;
        all &= tap(&t, check_lengths(impls[i].fn), impls[i].name,
                   "lengths 0-300, 1023, 4095, 65539 at every key offset and alignment");
        all &= tap(&t, check_chained(impls[i].fn), impls[i].name,
                   "pieces chained through the returned offset");
    }
#ifdef __ARM_NEON
    all &= tap(&t, neon, "neon", "compiled in and listed");
#else
    all &= tap(&t, !neon, "neon", "not listed without __ARM_NEON");
#endif
    return all ? 0 : 1;
}
