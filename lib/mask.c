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

/* The key as an 8-byte word whose first byte in memory is key[k]. Built from bytes and
 * loaded with memcpy, it lines up with payload words loaded the same way on either byte
 * order; and since 8 is a multiple of 4 the same word serves every word of the payload. */
static uint64_t mask_key_word(const uint8_t key[4], size_t k)
{
    uint8_t bytes[8];
    uint64_t w;
    size_t j;

    for (j = 0; j < 8; j++)
        bytes[j] = key[(k + j) & 3u];
    memcpy(&w, bytes, 8);
    return w;
}

size_t ws_mask_copy(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                    size_t offset)
{
    size_t k = offset & 3u;
    /* Bytes before dst reaches an 8-byte boundary, so the word stores are aligned. */
    size_t head = (size_t)((8u - ((uintptr_t)dst & 7u)) & 7u);
    size_t i;
    uint64_t kw;

    if (len < head + 8)
        return mask_bytes(dst, src, len, key, k);
    k = mask_bytes(dst, src, head, key, k);
    kw = mask_key_word(key, k);
    /* Loads and stores go through memcpy, so there is no alignment or aliasing assumption;
     * compilers emit plain loads. Four words per step give the compiler independent XORs to
     * schedule or vectorise. */
    for (i = head; len - i >= 32; i += 32) {
        uint64_t w[4];

        memcpy(w, src + i, sizeof w);
        w[0] ^= kw;
        w[1] ^= kw;
        w[2] ^= kw;
        w[3] ^= kw;
        memcpy(dst + i, w, sizeof w);
    }
    for (; len - i >= 8; i += 8) {
        uint64_t w;

        memcpy(&w, src + i, sizeof w);
        w ^= kw;
        memcpy(dst + i, &w, sizeof w);
    }
    return mask_bytes(dst + i, src + i, len - i, key, k);
}

size_t ws_mask(uint8_t *p, size_t len, const uint8_t key[4], size_t offset)
{
    return ws_mask_copy(p, p, len, key, offset);
}
