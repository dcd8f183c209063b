/* annfast: instantiates the kernel templates for float and double, once per
 * instruction set (baseline x86-64, AVX2+FMA, AVX-512 with gcc and clang on
 * x86-64), and dispatches each public af_*_f32/_f64 call on net->isa.  No
 * -march flag is needed: each variant carries its own target, so one build
 * runs anywhere.  Elsewhere (ARM64: NEON through the vector extensions) and in
 * the portable variant (af_common.h) only the baseline is built. */
#include "af_common.h"

int64_t af_n_params(const af_net *net)
{
    int64_t n = 0;
    for (int64_t l = 0; l < net->n_layers; l++) n += af_layer_params(net, l);
    return n;
}

int64_t af_max_width(const af_net *net)
{
    int64_t m = 0;
    for (int64_t l = 0; l <= net->n_layers; l++) m = net->sizes[l] > m ? net->sizes[l] : m;
    return m;
}

int64_t af_sum_width(const af_net *net)
{
    int64_t s = 0;
    for (int64_t l = 0; l <= net->n_layers; l++) s += net->sizes[l];
    return s;
}

int64_t af_forward_scratch(const af_net *net)
{
    int64_t n = AF_FORWARD_SCRATCH_ROWS * af_max_width(net);
    for (int64_t l = 0; l < net->n_layers; l++)
        n += net->sizes[l] * ((net->sizes[l + 1] + AF_FORWARD_PAD - 1) / AF_FORWARD_PAD *
                              AF_FORWARD_PAD);
    return n;
}

#define AF_ACT_NAME_(NAME, name, needs_z) #name,
#define AF_ACT_NEEDS_Z_(NAME, name, needs_z) needs_z,
#define AF_LOSS_NAME_(NAME, name, matched) #name,
#define AF_LOSS_MATCHED_(NAME, name, matched) matched,
static const char *const af_act_names[AF_N_ACT] = {AF_ACTIVATIONS(AF_ACT_NAME_)};
static const int af_act_z[AF_N_ACT] = {AF_ACTIVATIONS(AF_ACT_NEEDS_Z_)};
static const char *const af_loss_names[AF_N_LOSS] = {AF_LOSSES(AF_LOSS_NAME_)};
static const int af_loss_matched[AF_N_LOSS] = {AF_LOSSES(AF_LOSS_MATCHED_)};

const char *af_act_name(int32_t code)
{
    return code >= 0 && code < AF_N_ACT ? af_act_names[code] : NULL;
}

const char *af_loss_name(int32_t code)
{
    return code >= 0 && code < AF_N_LOSS ? af_loss_names[code] : NULL;
}

int af_act_needs_z(int32_t code)
{
    return code >= 0 && code < AF_N_ACT ? af_act_z[code] : 0;
}

int af_loss_matched_act(int32_t code)
{
    return code >= 0 && code < AF_N_LOSS ? af_loss_matched[code] : -1;
}

int64_t af_z_width(const af_net *net)
{
    for (int64_t l = 0; l < net->n_layers; l++)
        if (af_act_needs_z(net->acts[l])) return af_sum_width(net);
    return 0;
}

int64_t af_dropout_width(const af_net *net)
{
    return net->dropout ? 2 * af_sum_width(net) : 0;
}


/* Baseline x86-64 (SSE2), every other machine, and the portable variant
 * (where AF_VEC_BYTES only sets the forward pass's block of samples). */
#define AF_ISA _base
#define AF_VEC_BYTES 16
#include "af_instantiate.h"

/* Which variant this build holds, for tools/kernel_variant.py to read back. */
#if defined(AF_PORTABLE)
#define AF_VARIANT "portable"
#elif AF_X86_SIMD
#define AF_VARIANT "x86-64 dispatch: baseline, avx2, avx512"
#else
#define AF_VARIANT "vector extensions"
#endif
const char af_kernel_variant[] = "annfast kernel variant: " AF_VARIANT;

#if AF_X86_SIMD
#define AF_X86_DISPATCH 1

/* Each variant's functions get its target: gcc through its target pragma,
 * clang through an attribute pushed onto every function of the region. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
#define AF_ISA _avx2
#define AF_VEC_BYTES 32
#include "af_instantiate.h"
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,popcnt"))), apply_to = function)
#pragma clang attribute push(__attribute__((min_vector_width(512))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,popcnt,prefer-vector-width=512")
#endif
#define AF_ISA _avx512
#define AF_VEC_BYTES 64
#include "af_instantiate.h"
#if defined(__clang__)
#pragma clang attribute pop
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

int af_cpu_isa(void)
{
#ifdef AF_X86_DISPATCH
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("popcnt"))
        return AF_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return AF_ISA_AVX2;
#endif
    return AF_ISA_BASELINE;
}

/* Call name_base / name_avx2 / name_avx512 by isa. */
#ifdef AF_X86_DISPATCH
#define AF_PICK(isa, name, args)                                                               \
    ((isa) == AF_ISA_AVX512 ? name##_avx512 args                                               \
                            : (isa) == AF_ISA_AVX2 ? name##_avx2 args : name##_base args)
#else
#define AF_PICK(isa, name, args) ((void)(isa), name##_base args)
#endif

#define AF_PUBLIC(T, S)                                                                        \
    int af_forward##S(const af_net *net, const T *params, const T *X, int64_t n, T *out,       \
                      T *scratch)                                                              \
    {                                                                                          \
        return AF_PICK(net->isa, af_forward##S, (net, params, X, n, out, scratch));            \
    }                                                                                          \
    int af_train##S(const af_net *net, af_opt *opt, T *params, T *opt_state, const T *X,       \
                    const T *Y, const int64_t *order, int64_t n_order, int64_t batch_size,     \
                    T *grad, T *scratch, double *loss_sum, int64_t *n_done)                    \
    {                                                                                          \
        return AF_PICK(net->isa, af_train##S,                                                  \
                       (net, opt, params, opt_state, X, Y, order, n_order, batch_size, grad,   \
                        scratch, loss_sum, n_done));                                           \
    }                                                                                          \
    int af_train_gemm##S(const af_net *net, af_opt *opt, T *params, T *opt_state, const T *X,  \
                         const T *Y, const int64_t *order, int64_t n_order,                    \
                         int64_t batch_size, T *grad, T *scratch, double *loss_sum,            \
                         int64_t *n_done, AF_GEMM_##S gemm)                                    \
    {                                                                                          \
        return AF_PICK(net->isa, af_train_gemm##S,                                             \
                       (net, opt, params, opt_state, X, Y, order, n_order, batch_size, grad,   \
                        scratch, loss_sum, n_done, gemm));                                     \
    }                                                                                          \
    void af_apply_gradient##S(const af_net *net, af_opt *opt, T *params, T *opt_state,         \
                              T *grad, int64_t batch_len, double divisor)                      \
    {                                                                                          \
        AF_PICK(net->isa, af_apply_gradient##S,                                                \
                (net, opt, params, opt_state, grad, batch_len, divisor));                      \
    }                                                                                          \
    int af_gradient##S(const af_net *net, const T *params, const T *X, const T *Y, int64_t n,  \
                       T *grad, T *scratch, double *loss_sum)                                  \
    {                                                                                          \
        return AF_PICK(net->isa, af_gradient##S,                                               \
                       (net, params, X, Y, n, grad, scratch, loss_sum));                       \
    }                                                                                          \
    int af_sgd##S(const af_net *net, double lr, double mu, T *params, double *scales,          \
                  const T *X, const T *Y, const int64_t *order, int64_t n_order, T *scratch,   \
                  double *loss_sum, int64_t *n_done)                                           \
    {                                                                                          \
        return AF_PICK(net->isa, af_sgd##S,                                                    \
                       (net, lr, mu, params, scales, X, Y, order, n_order, scratch, loss_sum,  \
                        n_done));                                                              \
    }                                                                                          \
    int af_sgd_sparse##S(const af_net *net, double lr, double mu, T *params, T *wt0,           \
                         double *scales, const T *data, const int64_t *indices,                \
                         const int64_t *indptr, const T *Y, const int64_t *order,              \
                         int64_t n_order, T *scratch, double *loss_sum, int64_t *n_done)       \
    {                                                                                          \
        return AF_PICK(net->isa, af_sgd_sparse##S,                                             \
                       (net, lr, mu, params, wt0, scales, data, indices, indptr, Y, order,     \
                        n_order, scratch, loss_sum, n_done));                                  \
    }                                                                                          \
    int64_t af_count_nonzero##S(int32_t isa, const T *X, int64_t n, int64_t d, int64_t limit)  \
    {                                                                                          \
        return AF_PICK(isa, af_count_nonzero##S, (X, n, d, limit));                            \
    }                                                                                          \
    int64_t af_csr_from_dense##S(int32_t isa, const T *X, int64_t n, int64_t d, int64_t limit, \
                                 T *data, int64_t *indices, int64_t *indptr, int *all_finite)  \
    {                                                                                          \
        return AF_PICK(isa, af_csr_from_dense##S,                                              \
                       (X, n, d, limit, data, indices, indptr, all_finite));                   \
    }                                                                                          \
    void af_fold_scales##S(const af_net *net, T *params, double *scales)                       \
    {                                                                                          \
        af_fold_scales##S##_base(net, params, scales);                                         \
    }                                                                                          \
    void af_sparse_begin##S(const af_net *net, const T *params, T *wt0)                        \
    {                                                                                          \
        af_sparse_begin##S##_base(net, params, wt0);                                           \
    }                                                                                          \
    void af_sparse_end##S(const af_net *net, T *params, const T *wt0, double *scales)          \
    {                                                                                          \
        af_sparse_end##S##_base(net, params, wt0, scales);                                     \
    }                                                                                          \
    void af_activate##S(int32_t act, double param, const T *z, T *a, int64_t n)                \
    {                                                                                          \
        af_activate##S##_base(act, param, z, a, n);                                            \
    }                                                                                          \
    void af_act_backward##S(int32_t act, double param, const T *a, const T *z, const T *g,     \
                            T *delta, int64_t n)                                               \
    {                                                                                          \
        af_act_backward##S##_base(act, param, a, z, g, delta, n);                              \
    }                                                                                          \
    double af_output_delta##S(const af_net *net, const T *a, const T *z, const T *y, T *delta, \
                              int64_t k)                                                       \
    {                                                                                          \
        return AF_PICK(net->isa, af_output_delta##S, (net, a, z, y, delta, k));                \
    }

#define AF_GEMM__f32 af_sgemm_fn
#define AF_GEMM__f64 af_dgemm_fn
AF_PUBLIC(float, _f32)
AF_PUBLIC(double, _f64)
