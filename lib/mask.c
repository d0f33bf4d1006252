/*
 * WebSocket payload masking (RFC 6455 §5.3): XOR with a 4-byte key that rotates with the
 * byte's position in the payload. Every received client frame goes through here, so the
 * bulk of the work is done on 64-bit words, four per step.
 */
#include "ws_internal.h"

/* Masks n bytes one at a time from key byte k; returns the key byte for the next one. */
static size_t mask_bytes(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4], size_t k)
{
    size_t i;

    for (i = 0; i < n; i++) {
        dst[i] = (uint8_t)(src[i] ^ key[k]);
        k = (k + 1u) & 3u;
    }
    return k;
}

/* The key as an 8-byte word whose first byte in memory is key[k]: the same 4 bytes twice,
 * which reads the same on either byte order. */
static uint64_t mask_key_word(const uint8_t key[4], size_t k)
{
    uint8_t rot[4];
    uint32_t k32;

    rot[0] = key[k & 3u];
    rot[1] = key[(k + 1u) & 3u];
    rot[2] = key[(k + 2u) & 3u];
    rot[3] = key[(k + 3u) & 3u];
    memcpy(&k32, rot, 4);
    return ((uint64_t)k32 << 32) | k32;
}

static void mask_word8(uint8_t *dst, const uint8_t *src, uint64_t kw)
{
    uint64_t w;

    memcpy(&w, src, sizeof w);
    w ^= kw;
    memcpy(dst, &w, sizeof w);
}

size_t ws_mask_copy(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                    size_t offset)
{
    size_t k = offset & 3u;
    uint64_t kw;
    size_t i = 0;

    if (len == 0) /* dst and src may be NULL then: no pointer arithmetic on them */
        return k;
    kw = mask_key_word(key, k);

    for (; len - i >= 32; i += 32) {
        uint64_t w[4];

        memcpy(w, src + i, sizeof w);
        w[0] ^= kw;
        w[1] ^= kw;
        w[2] ^= kw;
        w[3] ^= kw;
        memcpy(dst + i, w, sizeof w);
    }
    /* At most 31 bytes left: straight-line code, no loop for the compiler to version. */
    if (len - i >= 16) {
        mask_word8(dst + i, src + i, kw);
        mask_word8(dst + i + 8, src + i + 8, kw);
        i += 16;
    }
    if (len - i >= 8) {
        mask_word8(dst + i, src + i, kw);
        i += 8;
    }
    if (len - i >= 4) {
        uint32_t w;

        memcpy(&w, src + i, sizeof w);
        w ^= (uint32_t)kw;
        memcpy(dst + i, &w, sizeof w);
        i += 4;
    }
    return mask_bytes(dst + i, src + i, len - i, key, k);
}

size_t ws_mask(uint8_t *p, size_t len, const uint8_t key[4], size_t offset)
{
    return ws_mask_copy(p, p, len, key, offset);
}
