/* annfast: helpers shared by the type templates.  Internal; not part of af.h. */
#ifndef AF_COMMON_H
#define AF_COMMON_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "af.h"

#define AF_CAT_(a, b) a##b
#define AF_CAT(a, b) AF_CAT_(a, b)

#if defined(_MSC_VER)
#define restrict __restrict
#elif !defined(__STDC_VERSION__) || __STDC_VERSION__ < 199901L
#define restrict __restrict__
#endif

/* Sizes of the flat buffers, the same for every TYPE. */
static inline int64_t af_layer_params(const af_net *net, int64_t l)
{
    return (net->sizes[l] + 1) * net->sizes[l + 1];
}

#endif /* AF_COMMON_H */
