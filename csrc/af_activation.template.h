/* annfast: activations and their backward step, for one TYPE.
 * Included by af_kernels.c once per TYPE (see af_types.h).  The activations
 * beyond the first six take their transcendental functions in double (one
 * rounding to TYPE at the end), which needs no float variants of erf, expm1
 * and log1p. */
#ifndef TYPE
#error "TYPE must be defined before including af_activation.template.h"
#endif

#ifndef AF_ACT_CONSTANTS
#define AF_ACT_CONSTANTS
/* SELU's fixed alpha and scale (Klambauer et al. 2017, as Keras and PyTorch). */
#define AF_SELU_ALPHA 1.6732632423543772848170429916717
#define AF_SELU_SCALE 1.0507009873554804934193349852946
#define AF_SQRT1_2 0.70710678118654752440     /* 1 / sqrt(2)    */
#define AF_INV_SQRT_2PI 0.39894228040143267794 /* 1 / sqrt(2 pi) */
#define AF_SQRT_2_PI 0.79788456080286535588   /* sqrt(2 / pi)   */
#define AF_GELU_C 0.044715                    /* the tanh form's cubic term */
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

/* The same in double, for the activations computed in double. */
static inline double FN(af_sigmoid_d)(double z)
{
    if (z >= 0) return 1.0 / (1.0 + exp(-z));
    const double e = exp(z);
    return e / (1.0 + e);
}

/* a := act(a), in place: a holds the pre-activations z on entry (n values).
 * param: the layer's af_net.act_params entry. */
static inline void FN(af_act_inplace)(int32_t act, TYPE param, TYPE *restrict a, int64_t n)
{
    int64_t i;
    switch (act) {
    case AF_ACT_RELU:
        /* "z < 0 ? 0 : z" keeps a NaN a NaN, so divergence is seen in the loss. */
        for (i = 0; i < n; i++) a[i] = a[i] < 0 ? (TYPE)0 : a[i];
        break;
    case AF_ACT_LEAKY_RELU:
        for (i = 0; i < n; i++) a[i] = a[i] < 0 ? param * a[i] : a[i];
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
    case AF_ACT_ELU:
        for (i = 0; i < n; i++) a[i] = a[i] > 0 ? a[i] : (TYPE)((double)param * expm1(a[i]));
        break;
    case AF_ACT_SELU:
        for (i = 0; i < n; i++) {
            const double z = a[i];
            a[i] = (TYPE)(z > 0 ? AF_SELU_SCALE * z : AF_SELU_SCALE * AF_SELU_ALPHA * expm1(z));
        }
        break;
    case AF_ACT_SOFTPLUS:
        /* log(1 + e^z) = max(z, 0) + log1p(e^-|z|): no overflow, no cancellation. */
        for (i = 0; i < n; i++) {
            const double z = a[i];
            a[i] = (TYPE)((z > 0 ? z : 0.0) + log1p(exp(-fabs(z))));
        }
        break;
    case AF_ACT_SOFTSIGN:
        for (i = 0; i < n; i++) a[i] = a[i] / ((TYPE)1 + (a[i] < 0 ? -a[i] : a[i]));
        break;
    case AF_ACT_SILU:
        for (i = 0; i < n; i++) {
            const double z = a[i];
            a[i] = (TYPE)(z * FN(af_sigmoid_d)(z));
        }
        break;
    case AF_ACT_GELU:
        for (i = 0; i < n; i++) {
            const double z = a[i];
            a[i] = (TYPE)(0.5 * z * (1.0 + erf(z * AF_SQRT1_2)));
        }
        break;
    case AF_ACT_GELU_TANH:
        for (i = 0; i < n; i++) {
            const double z = a[i];
            a[i] = (TYPE)(0.5 * z * (1.0 + tanh(AF_SQRT_2_PI * (z + AF_GELU_C * z * z * z))));
        }
        break;
    case AF_ACT_HARD_SIGMOID:
        /* Keras 3: relu6(z + 3) / 6. */
        for (i = 0; i < n; i++) {
            const TYPE t = a[i] + (TYPE)3;
            a[i] = (t < 0 ? (TYPE)0 : (t > 6 ? (TYPE)6 : t)) / (TYPE)6;
        }
        break;
    case AF_ACT_HARD_SILU:
        /* Keras 3: z * hard_sigmoid(z). */
        for (i = 0; i < n; i++) {
            const TYPE t = a[i] + (TYPE)3;
            a[i] = a[i] * ((t < 0 ? (TYPE)0 : (t > 6 ? (TYPE)6 : t)) / (TYPE)6);
        }
        break;
    case AF_ACT_RELU6:
        for (i = 0; i < n; i++) a[i] = a[i] < 0 ? (TYPE)0 : (a[i] > 6 ? (TYPE)6 : a[i]);
        break;
    case AF_ACT_EXPONENTIAL:
        for (i = 0; i < n; i++) a[i] = AF_EXP(a[i]);
        break;
    default: /* AF_ACT_IDENTITY */
        break;
    }
}

/* delta := J_act^T g, from the layer's outputs a where the derivative is an
 * exact cheap function of them, else from the pre-activations z (which are
 * then required: af_act_needs_z).  g and delta may be the same buffer. */
static inline void FN(af_act_backward_inplace)(int32_t act, TYPE param, const TYPE *restrict a,
                                               const TYPE *restrict z, const TYPE *g,
                                               TYPE *delta, int64_t n)
{
    int64_t i;
    switch (act) {
    case AF_ACT_RELU:
        for (i = 0; i < n; i++) delta[i] = a[i] > 0 ? g[i] : (TYPE)0;
        break;
    case AF_ACT_LEAKY_RELU:
        /* a > 0 exactly when z > 0 (slope >= 0); at z = 0 the slope is used. */
        for (i = 0; i < n; i++) delta[i] = a[i] > 0 ? g[i] : param * g[i];
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
    case AF_ACT_ELU:
        /* For z <= 0, d/dz alpha (e^z - 1) = alpha e^z = a + alpha (alpha >= 0,
         * so a > 0 exactly when z > 0). */
        for (i = 0; i < n; i++) delta[i] = a[i] > 0 ? g[i] : g[i] * (a[i] + param);
        break;
    case AF_ACT_SELU: {
        const TYPE scale = (TYPE)AF_SELU_SCALE, sa = (TYPE)(AF_SELU_SCALE * AF_SELU_ALPHA);
        for (i = 0; i < n; i++) delta[i] = a[i] > 0 ? g[i] * scale : g[i] * (a[i] + sa);
        break;
    }
    case AF_ACT_SOFTPLUS:
        /* softplus' = sigmoid(z) = 1 - e^-a. */
        for (i = 0; i < n; i++) delta[i] = (TYPE)((double)g[i] * -expm1(-(double)a[i]));
        break;
    case AF_ACT_SOFTSIGN:
        /* 1 / (1 + |z|)^2 = (1 - |a|)^2. */
        for (i = 0; i < n; i++) {
            const TYPE c = (TYPE)1 - (a[i] < 0 ? -a[i] : a[i]);
            delta[i] = g[i] * (c * c);
        }
        break;
    case AF_ACT_SILU:
        for (i = 0; i < n; i++) {
            const double zi = z[i], s = FN(af_sigmoid_d)(zi);
            delta[i] = (TYPE)((double)g[i] * (s * (1.0 + zi * (1.0 - s))));
        }
        break;
    case AF_ACT_GELU:
        for (i = 0; i < n; i++) {
            const double zi = z[i];
            const double d =
                0.5 * (1.0 + erf(zi * AF_SQRT1_2)) + zi * AF_INV_SQRT_2PI * exp(-0.5 * zi * zi);
            delta[i] = (TYPE)((double)g[i] * d);
        }
        break;
    case AF_ACT_GELU_TANH:
        for (i = 0; i < n; i++) {
            const double zi = z[i];
            const double t = tanh(AF_SQRT_2_PI * (zi + AF_GELU_C * zi * zi * zi));
            const double d = 0.5 * (1.0 + t) + 0.5 * zi * (1.0 - t * t) * AF_SQRT_2_PI *
                                                   (1.0 + 3.0 * AF_GELU_C * zi * zi);
            delta[i] = (TYPE)((double)g[i] * d);
        }
        break;
    case AF_ACT_HARD_SIGMOID:
        /* Slope 1/6 where -3 < z < 3, i.e. 0 < a < 1. */
        for (i = 0; i < n; i++) delta[i] = a[i] > 0 && a[i] < 1 ? g[i] / (TYPE)6 : (TYPE)0;
        break;
    case AF_ACT_HARD_SILU:
        /* z/3 + 1/2 on [-3, 3] (PyTorch's hardswish boundaries). */
        for (i = 0; i < n; i++)
            delta[i] = z[i] < -3 ? (TYPE)0
                                 : (z[i] <= 3 ? g[i] * (z[i] / (TYPE)3 + (TYPE)0.5) : g[i]);
        break;
    case AF_ACT_RELU6:
        for (i = 0; i < n; i++) delta[i] = a[i] > 0 && a[i] < 6 ? g[i] : (TYPE)0;
        break;
    case AF_ACT_EXPONENTIAL:
        for (i = 0; i < n; i++) delta[i] = g[i] * a[i];
        break;
    default: /* AF_ACT_IDENTITY */
        if (delta != g) memcpy(delta, g, (size_t)n * sizeof(TYPE));
        break;
    }
}

/* out := act(out) in place, first keeping the pre-activations in zsave when
 * the activation needs them for its derivative (zsave is then non-NULL). */
static inline void FN(af_act_keep_z)(int32_t act, TYPE param, TYPE *restrict out,
                                     TYPE *restrict zsave, int64_t n)
{
    if (zsave) memcpy(zsave, out, (size_t)n * sizeof(TYPE));
    FN(af_act_inplace)(act, param, out, n);
}
