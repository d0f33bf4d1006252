/*
 * The masking implementations behind ws_mask_copy, one per instruction set, exposed so that
 * tests and fuzzers can hold each one against the reference on any machine that runs it.
 * Not installed; nothing here is API. WS_NO_SIMD leaves only the portable one.
 */
#ifndef WS_MASK_IMPL_H
#define WS_MASK_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "simd.h"
#include "ws_internal.h"

WS_INTERNAL_BEGIN

/* Each has the contract of ws_mask_copy and works on any length; the wide ones hand the
 * last few bytes to the portable code. */
size_t ws_mask_copy_portable(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                             size_t offset);
#ifdef WS_SIMD_SSE2
size_t ws_mask_copy_sse2(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                         size_t offset);
#endif
#ifdef WS_SIMD_X86_RUNTIME
/* Only to be called when ws_cpu_has_avx2() says so. */
size_t ws_mask_copy_avx2(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                         size_t offset);
#endif
#ifdef WS_SIMD_NEON
size_t ws_mask_copy_neon(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                         size_t offset);
#endif

typedef size_t (*ws_mask_copy_fn)(uint8_t *dst, const uint8_t *src, size_t len,
                                  const uint8_t key[4], size_t offset);

typedef struct ws_mask_impl {
    const char *name;
    ws_mask_copy_fn fn;
} ws_mask_impl;

#define WS_MASK_IMPL_MAX 4

/* Fills out[] with every implementation compiled in and runnable here, portable first;
 * returns how many. For the tests and benchmarks: left out of the one-file build, where an
 * unused static function would draw a warning. */
#ifndef WS_AMALGAMATION
static inline size_t ws_mask_impls(ws_mask_impl out[WS_MASK_IMPL_MAX])
{
    size_t n = 0;

    out[n].name = "portable";
    out[n++].fn = ws_mask_copy_portable;
#ifdef WS_SIMD_SSE2
    out[n].name = "sse2";
    out[n++].fn = ws_mask_copy_sse2;
#endif
#ifdef WS_SIMD_X86_RUNTIME
    if (ws_cpu_has_avx2()) {
        out[n].name = "avx2";
        out[n++].fn = ws_mask_copy_avx2;
    }
#endif
#ifdef WS_SIMD_NEON
    out[n].name = "neon";
    out[n++].fn = ws_mask_copy_neon;
#endif
    return n;
}
#endif

WS_INTERNAL_END

#endif /* WS_MASK_IMPL_H */
