/* annfast: helpers shared by the type templates.  Internal; not part of af.h. */
#ifndef AF_COMMON_H
#define AF_COMMON_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "af.h"

/* The portable variant: plain C loops only (no vector extensions, intrinsics,
 * target attributes or builtins), for compilers without GCC's vector
 * extensions (MSVC), or forced with -DAF_PORTABLE (ANNFAST_PORTABLE=1 at build
 * time).  Otherwise GCC vector extensions, which gcc and clang lower to
 * SSE/AVX on x86-64 and to NEON on ARM64. */
#if !defined(AF_PORTABLE) && !defined(__GNUC__)
#define AF_PORTABLE 1
#endif

/* x86-64 intrinsics (and run-time dispatch, af_kernels.c) with gcc and clang. */
#if !defined(AF_PORTABLE) && defined(__x86_64__)
#define AF_X86_SIMD 1
#include <immintrin.h>
#else
#define AF_X86_SIMD 0
#endif

#ifdef AF_PORTABLE
#define AF_ALWAYS_INLINE
#define AF_PREFETCH(p) ((void)(p))
#define AF_POPCOUNT(m) af_popcount_portable(m)
static inline int af_popcount_portable(unsigned m)
{
    int k = 0;
    for (; m; m &= m - 1) k++;
    return k;
}
#else
#define AF_ALWAYS_INLINE __attribute__((always_inline))
#define AF_PREFETCH(p) __builtin_prefetch(p)
#define AF_POPCOUNT(m) __builtin_popcount(m)
#endif

/* Rarely used code kept out of the hot functions, so that their inlining (and
 * hence their floating-point contraction) is what it was before it existed. */
#if defined(__GNUC__)
#define AF_NOINLINE __attribute__((noinline))
#else
#define AF_NOINLINE
#endif

/* Keras' backend.epsilon(): the floor of mape's denominator and of msle's logs. */
#define AF_KERAS_EPS 1e-7

#define AF_CAT_(a, b) a##b
#define AF_CAT(a, b) AF_CAT_(a, b)

#if defined(_MSC_VER)
#define restrict __restrict
#if !defined(__cplusplus) && (!defined(__STDC_VERSION__) || __STDC_VERSION__ < 201112L)
#define inline __inline
#endif
#elif !defined(__STDC_VERSION__) || __STDC_VERSION__ < 199901L
#define restrict __restrict__
#endif

/* Sizes of the flat buffers, the same for every TYPE. */
static inline int64_t af_layer_params(const af_net *net, int64_t l)
{
    return (net->sizes[l] + 1) * net->sizes[l + 1];
}

#endif /* AF_COMMON_H */
