/*
 * The UTF-8 validators behind ws_utf8_feed, one per instruction set, exposed so that tests
 * and fuzzers can hold each one against a reference on any machine that runs it.
 * Not installed; nothing here is API. WS_NO_SIMD leaves only the portable one.
 */
#ifndef WS_UTF8_IMPL_H
#define WS_UTF8_IMPL_H

#include "simd.h"
#include "ws_internal.h"

WS_INTERNAL_BEGIN

/* The NEON block check's table lookups need AArch64. */
#if defined(WS_SIMD_NEON) && defined(__aarch64__)
#define WS_UTF8_NEON 1
#endif

/* Each has the contract of ws_utf8_feed, and states from any of them may be fed to any
 * other: they differ only in how they get through long runs of whole characters. */
int ws_utf8_feed_portable(ws_utf8 *v, const uint8_t *p, size_t len, size_t *bad_offset);
#ifdef WS_SIMD_X86_RUNTIME
/* Only to be called when ws_cpu_has_ssse3() / ws_cpu_has_avx2() say so. */
int ws_utf8_feed_ssse3(ws_utf8 *v, const uint8_t *p, size_t len, size_t *bad_offset);
int ws_utf8_feed_avx2(ws_utf8 *v, const uint8_t *p, size_t len, size_t *bad_offset);
#endif
#ifdef WS_UTF8_NEON
int ws_utf8_feed_neon(ws_utf8 *v, const uint8_t *p, size_t len, size_t *bad_offset);
#endif

typedef int (*ws_utf8_feed_fn)(ws_utf8 *v, const uint8_t *p, size_t len, size_t *bad_offset);

typedef struct ws_utf8_impl {
    const char *name;
    ws_utf8_feed_fn feed;
} ws_utf8_impl;

#define WS_UTF8_IMPL_MAX 4

/* Fills out[] with every implementation compiled in and runnable here, portable first;
 * returns how many. For the tests and benchmarks: left out of the one-file build, where an
 * unused static function would draw a warning. */
#ifndef WS_AMALGAMATION
static inline size_t ws_utf8_impls(ws_utf8_impl out[WS_UTF8_IMPL_MAX])
{
    size_t n = 0;

    out[n].name = "portable";
    out[n++].feed = ws_utf8_feed_portable;
#ifdef WS_SIMD_X86_RUNTIME
    if (ws_cpu_has_ssse3()) {
        out[n].name = "ssse3";
        out[n++].feed = ws_utf8_feed_ssse3;
    }
    if (ws_cpu_has_avx2()) {
        out[n].name = "avx2";
        out[n++].feed = ws_utf8_feed_avx2;
    }
#endif
#ifdef WS_UTF8_NEON
    out[n].name = "neon";
    out[n++].feed = ws_utf8_feed_neon;
#endif
    return n;
}
#endif

WS_INTERNAL_END

#endif /* WS_UTF8_IMPL_H */
