/*
 * WebSocket payload masking (RFC 6455 §5.3): XOR with a 4-byte key that rotates with the
 * byte's position in the payload. Every received client frame goes through here: short
 * payloads take 64-bit words, long ones SSE2/AVX2 (x86-64) or NEON (ARM) when compiled in.
 */
#include "ws_internal.h"

#include "mask_impl.h"

#if defined(WS_SIMD_SSE2) || defined(WS_SIMD_X86_RUNTIME)
#include <immintrin.h>
#endif
#ifdef WS_SIMD_NEON
#include <arm_neon.h>
#endif

/* The word code is inlined where it is used and the wide paths are kept out of line, so that
 * a short payload pays for no call and no stack frame. */
#if defined(__GNUC__) || defined(__clang__)
#define MASK_INLINE   static inline __attribute__((always_inline))
#define MASK_NOINLINE static __attribute__((noinline))
#else
#define MASK_INLINE   static inline
#define MASK_NOINLINE static
#endif

/* Below this many bytes the vector set-up (and the AVX2 check) costs more than it saves. At
 * most 64: shorter payloads go to mask_tail. */
#define MASK_WIDE_MIN 64u

/* MASK_WIDE: a vector path is compiled in. MASK_WORDS: payloads are masked in words, which
 * is every build but WS_SMALL without a vector path (docs/size.md); that one masks a byte
 * at a time and compiles none of the word code. */
#if defined(WS_SIMD_SSE2) || defined(WS_SIMD_X86_RUNTIME) || defined(WS_SIMD_NEON)
#define MASK_WIDE 1
#endif
#if !defined(WS_SMALL) || defined(MASK_WIDE)
#define MASK_WORDS 1
#endif

#ifdef MASK_WORDS

/* True on a little-endian machine; compilers fold it to a constant. */
static int mask_little_endian(void)
{
    const uint16_t one = 1;
    uint8_t first;

    memcpy(&first, &one, 1);
    return first == 1;
}

/* The key as a 32-bit word whose first byte in memory is key[k]: one load and a rotate, as
 * every byte that is a multiple of 4 past the start takes the key from key[k] on. */
MASK_INLINE uint32_t mask_key32(const uint8_t key[4], size_t k)
{
    unsigned s = (unsigned)(k & 3u) * 8u;
    uint32_t w;

    memcpy(&w, key, sizeof w);
    /* The & 31 keeps the shift defined when s is 0 (the rotate is then w | w). */
    if (mask_little_endian())
        return (w >> s) | (w << ((32u - s) & 31u));
    return (w << s) | (w >> ((32u - s) & 31u));
}

MASK_INLINE void mask_word8(uint8_t *dst, const uint8_t *src, uint64_t kw)
{
    uint64_t w;

    memcpy(&w, src, sizeof w);
    w ^= kw;
    memcpy(dst, &w, sizeof w);
}

/* Masks n < 64 bytes that start at key word kw32: one branch per bit of n and no loop, since
 * most payloads of a busy connection are this short. With n == 0 nothing is touched, so the
 * pointers may be NULL then. */
MASK_INLINE void mask_tail(uint8_t *dst, const uint8_t *src, size_t n, uint32_t kw32)
{
    uint64_t kw = ((uint64_t)kw32 << 32) | kw32; /* same 4 bytes twice: either byte order */

    if (n & 32u) {
        mask_word8(dst, src, kw);
        mask_word8(dst + 8, src + 8, kw);
        mask_word8(dst + 16, src + 16, kw);
        mask_word8(dst + 24, src + 24, kw);
        dst += 32;
        src += 32;
    }
    if (n & 16u) {
        mask_word8(dst, src, kw);
        mask_word8(dst + 8, src + 8, kw);
        dst += 16;
        src += 16;
    }
    if (n & 8u) {
        mask_word8(dst, src, kw);
        dst += 8;
        src += 8;
    }
    if (n & 4u) {
        uint32_t w;

        memcpy(&w, src, sizeof w);
        w ^= kw32;
        memcpy(dst, &w, sizeof w);
        dst += 4;
        src += 4;
    }
    if (n & 3u) {
        uint8_t kb[4];

        memcpy(kb, &kw32, sizeof kb);
        if (n & 2u) {
            dst[0] = (uint8_t)(src[0] ^ kb[0]);
            dst[1] = (uint8_t)(src[1] ^ kb[1]);
            dst += 2;
            src += 2;
        }
        if (n & 1u)
            dst[0] = (uint8_t)(src[0] ^ kb[n & 2u]);
    }
}

/* Masks len bytes that start at a key position whose key word is kw32. Every 4-byte step
 * keeps the key position, so one key word serves the whole run. WS_SMALL with a vector path
 * takes the bytes its blocks leave a 32-bit word at a time in one loop, instead of the
 * unrolled 64-bit words. */
#ifdef WS_SMALL
MASK_INLINE void mask_words(uint8_t *dst, const uint8_t *src, size_t len, uint32_t kw32)
{
    uint8_t kb[4];
    size_t i = 0;

    memcpy(kb, &kw32, sizeof kb);
    for (; len - i >= 4; i += 4) {
        uint32_t w;

        memcpy(&w, src + i, sizeof w);
        w ^= kw32;
        memcpy(dst + i, &w, sizeof w);
    }
    for (; i < len; i++)
        dst[i] = (uint8_t)(src[i] ^ kb[i & 3u]);
}
#else
MASK_INLINE void mask_words(uint8_t *dst, const uint8_t *src, size_t len, uint32_t kw32)
{
    uint64_t kw = ((uint64_t)kw32 << 32) | kw32; /* same 4 bytes twice: either byte order */
    size_t i = 0;

    for (; len - i >= 32; i += 32) {
        mask_word8(dst + i, src + i, kw);
        mask_word8(dst + i + 8, src + i + 8, kw);
        mask_word8(dst + i + 16, src + i + 16, kw);
        mask_word8(dst + i + 24, src + i + 24, kw);
    }
    mask_tail(dst + i, src + i, len - i, kw32);
}
#endif
#endif /* MASK_WORDS */

#ifndef MASK_WORDS
/* WS_SMALL without a vector path (docs/size.md): a byte at a time, the key byte picked by
 * position. */
size_t ws_mask_copy_portable(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                             size_t offset)
{
    size_t i;

    for (i = 0; i < len; i++)
        dst[i] = (uint8_t)(src[i] ^ key[(offset + i) & 3u]);
    return (offset + len) & 3u;
}
#else
size_t ws_mask_copy_portable(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                             size_t offset)
{
    size_t k = offset & 3u;

    if (len == 0) /* dst and src may be NULL then: no pointer arithmetic on them */
        return k;
    mask_words(dst, src, len, mask_key32(key, k));
    return (k + len) & 3u;
}
#endif

#ifdef MASK_WIDE
/* Masks whole vector blocks; returns how many bytes it did. */
typedef size_t (*mask_blocks_fn)(uint8_t *dst, const uint8_t *src, size_t len, uint32_t kw32);

/* A wide implementation: blocks as far as they go, then words for the rest, which is shorter
 * than a step of any of the block functions. Whole blocks keep the key position, so the rest
 * starts with the same key word. Inlined so that the block function is a direct call. */
MASK_INLINE size_t mask_copy_wide(mask_blocks_fn blocks, uint8_t *dst, const uint8_t *src,
                                  size_t len, const uint8_t key[4], size_t offset)
{
    size_t k = offset & 3u;
    uint32_t kw32;
    size_t done;

    if (len == 0)
        return k;
    kw32 = mask_key32(key, k);
    done = blocks(dst, src, len, kw32);
    if (done < len)
        mask_tail(dst + done, src + done, len - done, kw32);
    return (k + len) & 3u;
}
#endif

#ifdef WS_SIMD_SSE2
/* Each step loads all its blocks before it stores any, so dst == src is fine. */
static size_t mask_sse2_blocks(uint8_t *dst, const uint8_t *src, size_t len, uint32_t kw32)
{
    const __m128i kv = _mm_set1_epi32((int)kw32);
    size_t i = 0;

    for (; len - i >= 64; i += 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 32));
        __m128i d = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 48));

        _mm_storeu_si128((__m128i *)(void *)(dst + i), _mm_xor_si128(a, kv));
        _mm_storeu_si128((__m128i *)(void *)(dst + i + 16), _mm_xor_si128(b, kv));
        _mm_storeu_si128((__m128i *)(void *)(dst + i + 32), _mm_xor_si128(c, kv));
        _mm_storeu_si128((__m128i *)(void *)(dst + i + 48), _mm_xor_si128(d, kv));
    }
    for (; len - i >= 16; i += 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(src + i));

        _mm_storeu_si128((__m128i *)(void *)(dst + i), _mm_xor_si128(a, kv));
    }
    return i;
}

size_t ws_mask_copy_sse2(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                         size_t offset)
{
    return mask_copy_wide(mask_sse2_blocks, dst, src, len, key, offset);
}
#endif

#ifdef WS_SIMD_X86_RUNTIME
__attribute__((target("avx2"))) static size_t mask_avx2_blocks(uint8_t *dst, const uint8_t *src,
                                                               size_t len, uint32_t kw32)
{
    const __m256i kv = _mm256_set1_epi32((int)kw32);
    size_t i = 0;

    for (; len - i >= 128; i += 128) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(src + i));
        __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(src + i + 32));
        __m256i c = _mm256_loadu_si256((const __m256i *)(const void *)(src + i + 64));
        __m256i d = _mm256_loadu_si256((const __m256i *)(const void *)(src + i + 96));

        _mm256_storeu_si256((__m256i *)(void *)(dst + i), _mm256_xor_si256(a, kv));
        _mm256_storeu_si256((__m256i *)(void *)(dst + i + 32), _mm256_xor_si256(b, kv));
        _mm256_storeu_si256((__m256i *)(void *)(dst + i + 64), _mm256_xor_si256(c, kv));
        _mm256_storeu_si256((__m256i *)(void *)(dst + i + 96), _mm256_xor_si256(d, kv));
    }
    for (; len - i >= 32; i += 32) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(src + i));

        _mm256_storeu_si256((__m256i *)(void *)(dst + i), _mm256_xor_si256(a, kv));
    }
    return i;
}

size_t ws_mask_copy_avx2(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                         size_t offset)
{
    return mask_copy_wide(mask_avx2_blocks, dst, src, len, key, offset);
}
#endif

#ifdef WS_SIMD_NEON
static size_t mask_neon_blocks(uint8_t *dst, const uint8_t *src, size_t len, uint32_t kw32)
{
    uint8_t kb[16];
    uint8x16_t kv;
    size_t i;

    /* Built from memory, byte by byte, so that lanes match bytes on either byte order. */
    for (i = 0; i < sizeof kb; i += 4)
        memcpy(kb + i, &kw32, 4);
    kv = vld1q_u8(kb);
    for (i = 0; len - i >= 64; i += 64) {
        uint8x16_t a = vld1q_u8(src + i);
        uint8x16_t b = vld1q_u8(src + i + 16);
        uint8x16_t c = vld1q_u8(src + i + 32);
        uint8x16_t d = vld1q_u8(src + i + 48);

        vst1q_u8(dst + i, veorq_u8(a, kv));
        vst1q_u8(dst + i + 16, veorq_u8(b, kv));
        vst1q_u8(dst + i + 32, veorq_u8(c, kv));
        vst1q_u8(dst + i + 48, veorq_u8(d, kv));
    }
    for (; len - i >= 16; i += 16)
        vst1q_u8(dst + i, veorq_u8(vld1q_u8(src + i), kv));
    return i;
}

size_t ws_mask_copy_neon(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                         size_t offset)
{
    return mask_copy_wide(mask_neon_blocks, dst, src, len, key, offset);
}
#endif

#ifdef MASK_WORDS
/* The choice for payloads of at least MASK_WIDE_MIN bytes, kept out of line so that the
 * short path of ws_mask_copy stays small. */
MASK_NOINLINE size_t mask_copy_long(uint8_t *dst, const uint8_t *src, size_t len,
                                    const uint8_t key[4], size_t offset)
{
#ifdef WS_SIMD_X86_RUNTIME
    if (ws_cpu_has_avx2())
        return mask_copy_wide(mask_avx2_blocks, dst, src, len, key, offset);
#endif
#if defined(WS_SIMD_SSE2)
    return mask_copy_wide(mask_sse2_blocks, dst, src, len, key, offset);
#elif defined(WS_SIMD_NEON)
    return mask_copy_wide(mask_neon_blocks, dst, src, len, key, offset);
#else
    return ws_mask_copy_portable(dst, src, len, key, offset);
#endif
}

#endif

size_t ws_mask_copy(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                    size_t offset)
{
#ifndef MASK_WORDS
    return ws_mask_copy_portable(dst, src, len, key, offset);
#else
    size_t k = offset & 3u;
    uint32_t kw32;

    if (len >= MASK_WIDE_MIN)
        return mask_copy_long(dst, src, len, key, offset);
    kw32 = mask_key32(key, k);
    mask_tail(dst, src, len, kw32);
    return (k + len) & 3u;
#endif
}

size_t ws_mask(uint8_t *p, size_t len, const uint8_t key[4], size_t offset)
{
    return ws_mask_copy(p, p, len, key, offset);
}
