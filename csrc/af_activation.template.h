/* annfast: activations and their backward step, for one TYPE.
 * Included by af_kernels.c once per TYPE (see af_types.h). */
#ifndef TYPE
#error "TYPE must be defined before including af_activation.template.h"
#endif

/* Logistic function without overflow: exp is only taken of a non-positive number. */
static inline TYPE FN(af_sigmoid)(TYPE z)
{
    if (z >= 0) {
        return (TYPE)1 / ((TYPE)1 + AF_EXP(-z));
    }
    TYPE e = AF_EXP(z);
    return e / ((TYPE)1 + e);
}

/* a := act(a), in place: a holds the pre-activations z on entry (n values). */
static inline void FN(af_act_inplace)(int32_t act, TYPE slope, TYPE *restrict a, int64_t n)
{
    int64_t i;
    switch (act) {
    case AF_ACT_RELU:
        /* "z < 0 ? 0 : z" keeps a NaN a NaN, so divergence is seen in the loss. */
        for (i = 0; i < n; i++) a[i] = a[i] < 0 ? (TYPE)0 : a[i];
        break;
    case AF_ACT_LEAKY_RELU:
        for (i = 0; i < n; i++) a[i] = a[i] < 0 ? slope * a[i] : a[i];
        break;
    case AF_ACT_SIGMOID:
        for (i = 0; i < n; i++) a[i] = FN(af_sigmoid)(a[i]);
        break;
    case AF_ACT_TANH:
        for (i = 0; i < n; i++) a[i] = AF_TANH(a[i]);
        break;
    case AF_ACT_SOFTMAX: {
        /* Max-subtracted, so exp never overflows; the largest term is exp(0) = 1. */
        TYPE m = a[0], s = 0;
        for (i = 1; i < n; i++) m = a[i] > m ? a[i] : m;
        for (i = 0; i < n; i++) {
            a[i] = AF_EXP(a[i] - m);
            s += a[i];
        }
        for (i = 0; i < n; i++) a[i] /= s;
        break;
    }
    default: /* AF_ACT_IDENTITY */
        break;
    }
}

/* delta := J_act(a)^T g, from the layer's outputs a (derivatives are cheap
 * functions of the output).  g and delta may be the same buffer. */
static inline void FN(af_act_backward_inplace)(int32_t act, TYPE slope, const TYPE *restrict a,
                                               const TYPE *g, TYPE *delta, int64_t n)
{
    int64_t i;
    switch (act) {
    case AF_ACT_RELU:
        for (i = 0; i < n; i++) delta[i] = a[i] > 0 ? g[i] : (TYPE)0;
        break;
    case AF_ACT_LEAKY_RELU:
        /* a > 0 exactly when z > 0 (slope > 0); at z = 0 the slope is used. */
        for (i = 0; i < n; i++) delta[i] = a[i] > 0 ? g[i] : slope * g[i];
        break;
    case AF_ACT_SIGMOID:
        for (i = 0; i < n; i++) delta[i] = g[i] * (a[i] * ((TYPE)1 - a[i]));
        break;
    case AF_ACT_TANH:
        for (i = 0; i < n; i++) delta[i] = g[i] * ((TYPE)1 - a[i] * a[i]);
        break;
    case AF_ACT_SOFTMAX: {
        /* J = diag(a) - a a^T, so J^T g = a * (g - <a, g>). */
        TYPE s = 0;
        for (i = 0; i < n; i++) s += a[i] * g[i];
        for (i = 0; i < n; i++) delta[i] = a[i] * (g[i] - s);
        break;
    }
    default: /* AF_ACT_IDENTITY */
        if (delta != g) memcpy(delta, g, (size_t)n * sizeof(TYPE));
        break;
    }
}
