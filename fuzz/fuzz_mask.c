/*
 * Masking: ws_mask and ws_mask_copy, and each implementation compiled in (portable, SSE2,
 * AVX2, NEON), against a byte-at-a-time reference, at fuzzer-chosen key offsets, alignments
 * and lengths, whole and in pieces that carry the key offset on. Every buffer ends exactly
 * where its heap block ends, so a word or vector access past it is caught.
 * Input: key (4 bytes), offset byte, alignment byte, split plan, then the payload.
 */
#include "fuzz.h"
#include "mask_impl.h"

#include <stdlib.h>
#include <string.h>

/* A heap block whose last byte is the last byte of the region; the region starts at
 * alignment `align` past the block start. */
static uint8_t *fz_region(size_t align, const uint8_t *src, size_t len, uint8_t **block)
{
    *block = malloc(align + len > 0 ? align + len : 1);
    if (*block == NULL)
        abort();
    memset(*block, 0xA5, align);
    if (len)
        memcpy(*block + align, src, len);
    return *block + align;
}

/* Each implementation this machine runs, copying and in place, gives the reference. */
static void fz_check_impls(const uint8_t *payload, const uint8_t *ref, size_t len,
                           const uint8_t key[4], size_t offset, size_t align_a, size_t align_b)
{
    ws_mask_impl impls[WS_MASK_IMPL_MAX];
    size_t n = ws_mask_impls(impls);
    size_t ii, want = (offset % 4 + len) % 4;

    for (ii = 0; ii < n; ii++) {
        uint8_t *src_blk, *dst_blk;
        uint8_t *src = fz_region(align_b, payload, len, &src_blk);
        uint8_t *dst = fz_region(align_a, payload, len, &dst_blk);

        FZ_CHECK(impls[ii].fn(dst, src, len, key, offset) == want);
        FZ_CHECK(len == 0 || memcmp(dst, ref, len) == 0);
        FZ_CHECK(len == 0 || memcmp(src, payload, len) == 0);
        FZ_CHECK(impls[ii].fn(src, src, len, key, offset) == want);
        FZ_CHECK(len == 0 || memcmp(src, ref, len) == 0);
        FZ_CHECK(impls[ii].fn(NULL, NULL, 0, key, offset) == offset % 4);
        free(src_blk);
        free(dst_blk);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader r;
    fz_split plan;
    uint8_t key[4];
    const uint8_t *payload;
    size_t len, i, offset, pos, k, align_a, align_b;
    uint8_t sel;
    uint8_t *ref, *a, *a_blk, *b, *b_blk, *src, *src_blk;

    fz_reader_init(&r, data, size);
    for (i = 0; i < 4; i++)
        key[i] = fz_u8(&r);
    sel = fz_u8(&r);
    /* Offsets are taken modulo 4; huge ones must behave the same. */
    offset = (sel & 0x80) ? SIZE_MAX - (sel & 0x7Fu) : sel;
    sel = fz_u8(&r);
    align_a = sel & 7u;
    align_b = (sel >> 3) & 7u;
    fz_split_read(&plan, &r);
    len = fz_take(&r, r.n, &payload);

    ref = fz_dup(payload, len);
    for (i = 0; i < len; i++)
        ref[i] ^= key[(offset + i) % 4];

    /* In place, whole. */
    a = fz_region(align_a, payload, len, &a_blk);
    FZ_CHECK(ws_mask(a, len, key, offset) == (offset % 4 + len) % 4);
    FZ_CHECK(len == 0 || memcmp(a, ref, len) == 0);
    for (i = 0; i < align_a; i++)
        FZ_CHECK(a_blk[i] == 0xA5); /* nothing before the region was written */

    /* Copy to another alignment; the source stays as it was. */
    src = fz_region(align_b, payload, len, &src_blk);
    b = fz_region((align_a + align_b + 3) & 7u, payload, len, &b_blk);
    for (i = 0; i < len; i++)
        b[i] = (uint8_t)~ref[i]; /* so that a byte left unwritten shows */
    FZ_CHECK(ws_mask_copy(b, src, len, key, offset) == (offset % 4 + len) % 4);
    FZ_CHECK(len == 0 || memcmp(b, ref, len) == 0);
    FZ_CHECK(len == 0 || memcmp(src, payload, len) == 0);

    /* In pieces: the returned offset carries the key position on. */
    memcpy(src, payload, len);
    pos = 0;
    k = offset;
    while (pos < len) {
        size_t n = fz_split_next(&plan, len - pos);
        size_t before = k;
        k = ws_mask(src + pos, n, key, k);
        FZ_CHECK(k == (before % 4 + n) % 4);
        pos += n;
    }
    FZ_CHECK(len == 0 || memcmp(src, ref, len) == 0);

    /* Masking twice is the identity. */
    (void)ws_mask_copy(a, a, len, key, offset);
    FZ_CHECK(len == 0 || memcmp(a, payload, len) == 0);
    FZ_CHECK(ws_mask(NULL, 0, key, offset) == offset % 4);

    /* The alignment byte's top bits move the destination anywhere within an AVX2 vector. */
    fz_check_impls(payload, ref, len, key, offset, align_a + 8u * (size_t)(sel >> 6), align_b);

    free(ref);
    free(a_blk);
    free(b_blk);
    free(src_blk);
    return 0;
}
