/*
 * Which SIMD paths a build compiles, and the run-time CPU checks that choose among them: one
 * place for the conditions that masking, UTF-8 validation and the handshake scanner share.
 * WS_NO_SIMD (meson -Dsimd=false) leaves only portable C. Not installed; nothing here is API.
 */
#ifndef WS_SIMD_H
#define WS_SIMD_H

#include <stdbool.h>

/* SSE2 is part of x86-64: chosen at build time. */
#if !defined(WS_NO_SIMD) && defined(__x86_64__) && defined(__SSE2__)
#define WS_SIMD_SSE2 1
#endif
/* SSSE3 and AVX2 are compiled with target attributes and chosen at run time with the
 * compiler's CPU check, which needs GCC 5 or later, or Clang. */
#if !defined(WS_NO_SIMD) && defined(__x86_64__) &&                                                 \
    (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 5))
#define WS_SIMD_X86_RUNTIME 1
#endif
/* NEON is there whenever the compiler targets it: chosen at build time. */
#if !defined(WS_NO_SIMD) && defined(__ARM_NEON)
#define WS_SIMD_NEON 1
#endif

/* Whether this CPU runs AVX2 / SSSE3 code; false where no such code is compiled. The tests
 * ask in every build; the one-file build has them only where its own code does. */
#if defined(WS_SIMD_X86_RUNTIME) || !defined(WS_AMALGAMATION)
static inline bool ws_cpu_has_avx2(void)
{
#ifdef WS_SIMD_X86_RUNTIME
    return __builtin_cpu_supports("avx2") != 0;
#else
    return false;
#endif
}

static inline bool ws_cpu_has_ssse3(void)
{
#ifdef WS_SIMD_X86_RUNTIME
    return __builtin_cpu_supports("ssse3") != 0;
#else
    return false;
#endif
}

#endif

#endif /* WS_SIMD_H */
