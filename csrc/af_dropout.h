/* annfast: inverted dropout -- the mask generator and the mask helpers.
 *
 * Masks come from a counter-based generator, so a unit's bit depends only on
 * (seed, counter, row, layer, unit), never on the path, the SIMD level or the
 * order the units are visited in.  The generator is SplitMix64's output
 * function (Steele, Lea and Flood, 2014) used as a hash:
 *   mix(z):  z ^= z >> 30; z *= 0xbf58476d1ce4e5b9; z ^= z >> 27;
 *            z *= 0x94d049bb133111eb; z ^= z >> 31
 *   call  = mix(mix(seed + G) + counter G)             G = 0x9e3779b97f4a7c15
 *   row   = mix(call ^ row_index * 0xd1b54a32d192ed03)
 *   layer = mix(row + (layer + 1) G)                   layer: the hidden layer
 *   u_j   = mix(layer + (j + 1) G)                     (SplitMix64's stream)
 * unit j is dropped when (u_j >> 11) 2^-53 < rate, and a kept unit's output is
 * multiplied by (TYPE)(1 / (1 - rate)).  annfast/reference.py computes the
 * same in NumPy (dropout_factors).
 *
 * Layout: with net->dropout set, each row of training scratch gains two
 * regions the size of its activations region, at fixed distances from it
 * (af_drop.d_off, af_drop.k_off): the dropped outputs (what the next layer
 * reads and its weight gradient uses) and the factors k (0 or 1 / (1 - rate)),
 * which multiply the gradient on the way back down.  The activations region
 * keeps the outputs before dropout, for the activation derivatives. */
#ifndef AF_DROPOUT_H
#define AF_DROPOUT_H

#include <stdint.h>

#include "af.h"
#include "af_common.h"

#define AF_DROP_GOLDEN 0x9e3779b97f4a7c15ULL

static inline uint64_t af_drop_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The key of one sample (row of X) in this call's draw.  Out of line: the
 * per-sample kernels' code (and so their inlining) stays as without dropout. */
static AF_NOINLINE uint64_t af_drop_row_key(const af_net *net, int64_t row)
{
    const uint64_t call =
        af_drop_mix(af_drop_mix(net->dropout_seed + AF_DROP_GOLDEN) +
                    net->dropout_counter * AF_DROP_GOLDEN);
    return af_drop_mix(call ^ ((uint64_t)row * 0xd1b54a32d192ed03ULL));
}

/* Where a call's dropout regions lie, as offsets from its activations (in
 * values); rate NULL: no dropout. */
typedef struct {
    const double *rate; /* net->dropout: one rate per hidden layer */
    int64_t d_off;      /* dropped outputs                      */
    int64_t k_off;      /* factors, 0 or 1 / (1 - rate)         */
} af_drop;

#endif /* AF_DROPOUT_H */

/* The per-TYPE helpers (this part is included once per TYPE and ISA). */
#ifdef TYPE
/* Hidden layer `layer`'s n outputs a of the sample with key row_key: writes
 * k = 0 or 1 / (1 - rate) to a + k_off and the dropped outputs a k to
 * a + d_off.  Kept out of line: training without dropout never reaches it. */
static AF_NOINLINE void FN(af_dropout_apply)(uint64_t row_key, int64_t layer, double rate,
                                             TYPE *a, const af_drop *dr, int64_t n)
{
    const uint64_t key = af_drop_mix(row_key + (uint64_t)(layer + 1) * AF_DROP_GOLDEN);
    const TYPE keep = (TYPE)(1.0 / (1.0 - rate));
    TYPE *restrict d = a + dr->d_off, *restrict k = a + dr->k_off;
    for (int64_t j = 0; j < n; j++) {
        const uint64_t u = af_drop_mix(key + (uint64_t)(j + 1) * AF_DROP_GOLDEN);
        k[j] = (double)(u >> 11) * (1.0 / 9007199254740992.0) < rate ? (TYPE)0 : keep;
        d[j] = a[j] * k[j];
    }
}

/* g *= k over the n factors at a + k_off (the gradient through the mask). */
static AF_NOINLINE void FN(af_dropout_back)(TYPE *restrict g, const TYPE *a, const af_drop *dr,
                                            int64_t n)
{
    const TYPE *restrict k = a + dr->k_off;
    for (int64_t j = 0; j < n; j++) g[j] *= k[j];
}
#endif
