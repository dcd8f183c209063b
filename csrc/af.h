/* annfast: public C API of the compiled kernels.
 *
 * Plain C99, no Python.h.  Every entry point exists twice, with suffix _f32
 * (float) and _f64 (double).  Callers (the Cython layer) validate shapes and
 * allocate every buffer; the kernels only loop, never allocate, never print.
 *
 * Parameter layout ("flat buffer"): for each layer l = 0..n_layers-1, with
 * n_in = sizes[l] and n_out = sizes[l+1], first W_l as an (n_out, n_in)
 * row-major block, then b_l (n_out values).  Row-major (n_out, n_in) keeps the
 * forward dot product, the backprop axpy and the rank-1 update contiguous.
 */
#ifndef AF_H
#define AF_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The activations, one X(NAME, name, needs_z) line each: the enum af_act and
 * the names table (af_act_name) are generated from this list, and
 * annfast/_kernels.pyx reads the names at import, so a new activation is this
 * line plus its math in af_activation.template.h.  needs_z = 1 when the
 * derivative is not a cheap exact function of the output: the training paths
 * then keep that layer's pre-activations z.  Codes are positions in the list
 * (append only: saved models store names, tests pin the first six codes).
 * The per-layer parameter (af_net.act_params) is leaky_relu's negative slope
 * and elu's alpha; the other activations ignore it. */
#define AF_ACTIVATIONS(X)                                                                       \
    X(IDENTITY, identity, 0)                                                                   \
    X(RELU, relu, 0)                                                                           \
    X(LEAKY_RELU, leaky_relu, 0)                                                               \
    X(SIGMOID, sigmoid, 0)                                                                     \
    X(TANH, tanh, 0)                                                                           \
    X(SOFTMAX, softmax, 0)                                                                     \
    X(ELU, elu, 0)                                                                             \
    X(SELU, selu, 0)                                                                           \
    X(SOFTPLUS, softplus, 0)                                                                   \
    X(SOFTSIGN, softsign, 0)                                                                   \
    X(SILU, silu, 1)                                                                           \
    X(GELU, gelu, 1)                                                                           \
    X(GELU_TANH, gelu_tanh, 1)                                                                 \
    X(HARD_SIGMOID, hard_sigmoid, 0)                                                           \
    X(HARD_SILU, hard_silu, 1)                                                                 \
    X(RELU6, relu6, 0)                                                                         \
    X(EXPONENTIAL, exponential, 0)

#define AF_ACT_ENUM_(NAME, name, needs_z) AF_ACT_##NAME,
enum af_act { AF_ACTIVATIONS(AF_ACT_ENUM_) AF_N_ACT };
#undef AF_ACT_ENUM_

/* The losses, one X(NAME, name, matched) line each (enum af_loss and
 * af_loss_name are generated).  matched: the output activation for which
 * dL/dz = a - y exactly (that shortcut is used), or -1.  Per-sample values,
 * before loss_scale, with d = a - y and p the clipped output (see prob_eps):
 *   mse:   0.5 sum d^2                      mae:   sum |d|
 *   huber: sum (|d| <= h ? d^2 / 2 : h |d| - h^2 / 2), h = huber_delta
 *   logcosh: sum log cosh d
 *   bce:   -sum [y log p + (1 - y) log(1 - p)]      ce: -sum y log p
 *   poisson: prob_eps == 0: half Poisson deviance sum [a - y + y log(y / a)]
 *            (scikit-learn's; with an exponential output a = exp(z) and
 *            delta = a - y); prob_eps > 0: Keras' sum [a - y log(a + eps)]
 *   kld:   sum y' log(y' / p), y' = clip(y, eps, 1), p = clip(a, eps, 1)
 *   hinge: sum max(1 - t a, 0)   squared_hinge: sum max(1 - t a, 0)^2,
 *          t = y with 0 read as -1 (Keras' 0/1 labels)
 *   bce_logits: bce of sigmoid(a), fused: max(a, 0) - a y + log1p(exp(-|a|))
 *   ce_logits:  ce of softmax(a), fused: sum y (logsumexp(a) - a)
 *   mape:  100 sum |d| / max(|y|, e)   msle: sum (log1p(max(a, e)) - log1p(max(y, e)))^2,
 *          e = 1e-7 (Keras' epsilon, whatever prob_eps is; no gradient where a < e)
 * label_smoothing s (bce, ce and their logits forms): y := y (1 - s) + s / 2
 * for the binary ones, y (1 - s) + s / k for the categorical ones. */
#define AF_LOSSES(X)                                                                           \
    X(MSE, mse, AF_ACT_IDENTITY)                                                               \
    X(BCE, bce, AF_ACT_SIGMOID)                                                                \
    X(CE, ce, AF_ACT_SOFTMAX)                                                                  \
    X(MAE, mae, -1)                                                                            \
    X(HUBER, huber, -1)                                                                        \
    X(LOGCOSH, logcosh, -1)                                                                    \
    X(POISSON, poisson, AF_ACT_EXPONENTIAL)                                                    \
    X(KLD, kld, -1)                                                                            \
    X(HINGE, hinge, -1)                                                                        \
    X(SQUARED_HINGE, squared_hinge, -1)                                                        \
    X(BCE_LOGITS, bce_logits, -1)                                                              \
    X(CE_LOGITS, ce_logits, -1)                                                                \
    X(MAPE, mape, -1)                                                                          \
    X(MSLE, msle, -1)

#define AF_LOSS_ENUM_(NAME, name, matched) AF_LOSS_##NAME,
enum af_loss { AF_LOSSES(AF_LOSS_ENUM_) AF_N_LOSS };
#undef AF_LOSS_ENUM_

/* Names of the codes ("relu", "mse"), NULL outside [0, AF_N_ACT) / [0, AF_N_LOSS). */
const char *af_act_name(int32_t code);
const char *af_loss_name(int32_t code);
/* Whether the training paths keep activation code's pre-activations (0 or 1). */
int af_act_needs_z(int32_t code);
/* The output activation whose pairing with loss code gives delta = a - y, or -1. */
int af_loss_matched_act(int32_t code);

/* Optimizers.  g is the batch gradient (mean over the batch, plus l2 * W / batch,
 * plus the gradient of the per-layer penalties), clipped, and after the decoupled
 * weight decay p -= p wd lr (see af_opt).  The rules of the newer ones are Keras 3's
 * (keras/src/optimizers/<name>.py); AdamW is ADAM with weight_decay. */
enum af_opt_kind {
    AF_OPT_SGD = 0,      /* p -= lr g                                         */
    AF_OPT_MOMENTUM = 1, /* v = mu v - lr g; p += v                           */
    AF_OPT_NESTEROV = 2, /* v = mu v - lr g; p += mu v - lr g                 */
    AF_OPT_ADAM = 3,     /* m, v moments; p -= lr_t m / (sqrt(v) + eps)       */
                         /*   amsgrad: v_hat = max(v_hat, v) in place of v    */
    AF_OPT_RMSPROP = 4,  /* v = rho v + (1-rho) g^2; p -= lr g / sqrt(v + eps) */
                         /*   centered: a = rho a + (1-rho) g; v - a^2 + eps  */
                         /*   momentum: s = mu s + that step; p -= s          */
    AF_OPT_ADAGRAD = 5,  /* A += g^2; p -= lr g / sqrt(A + eps)               */
    AF_OPT_ADADELTA = 6, /* Zeiler's, eps inside both square roots, times lr  */
    AF_OPT_ADAMAX = 7,   /* u = max(b2 u, |g|); p -= lr m / ((1-b1^t)(u+eps)) */
    AF_OPT_NADAM = 8,    /* Dozat's, Keras' schedule u_t = b1 (1 - 0.96^t / 2) */
    AF_N_OPT = 9
};

/* Instruction sets the kernels are compiled for; chosen per call through
 * af_net.isa (never above af_cpu_isa()). */
enum af_isa { AF_ISA_BASELINE = 0, AF_ISA_AVX2 = 1, AF_ISA_AVX512 = 2, AF_N_ISA = 3 };

/* Status codes returned by every kernel. */
enum af_status {
    AF_OK = 0,
    AF_E_NONFINITE = -1, /* a sample's loss became NaN or infinite */
    AF_E_ARGUMENT = -2   /* an argument the caller should have rejected */
};

/* The architecture: n_layers weight layers between n_layers + 1 unit counts. */
typedef struct {
    int64_t n_layers;         /* number of weight layers L >= 1                 */
    const int64_t *sizes;     /* L + 1 unit counts, sizes[0] = n_inputs         */
    const int32_t *acts;      /* L activation codes, one per weight layer       */
    const double *act_params; /* L values: leaky slope (>= 0), elu alpha (>= 0) */
    int32_t loss;             /* enum af_loss                                   */
    double loss_scale;        /* multiplies the loss and the output delta       */
    double huber_delta;       /* HUBER: > 0                                     */
    double label_smoothing;   /* BCE, CE and their logits forms: in [0, 1]      */
    /* Probability clip.  0: annfast's own, at the type's machine epsilon, the
     * gradient taken at the clipped value.  > 0 (Keras' epsilon, 1e-7): clip to
     * [eps, 1 - eps] with a zero gradient where the clip is active, and an
     * unmatched CE output rescaled to sum to one first, as Keras does. */
    double prob_eps;
    int32_t isa;              /* enum af_isa: which compiled variant runs       */
    /* Per-sample weights for the training calls, one per row of X and Y (NULL:
     * every weight 1): a sample's loss and output delta are multiplied by its
     * weight; a batch's step divides by the batch length (Keras' rule) or, with
     * weight_sum_divisor, by the batch's weight sum (scikit-learn's). */
    const double *sample_weight;
    /* Inverted dropout for the training calls (NULL: none): one rate in
     * [0, 1) per hidden layer (n_layers - 1 values), applied to that layer's
     * outputs; the masks are keyed by (dropout_seed, dropout_counter, the
     * sample's row of X, layer, unit), see af_dropout.h.  Each row of training
     * scratch then needs af_dropout_width more values, after the rest.
     * Prediction (af_forward) never drops. */
    const double *dropout;
    uint64_t dropout_seed;
    uint64_t dropout_counter;
    /* scikit-learn's rule for weighted samples (with sample_weight): a batch's
     * summed gradient (l2 term included) is divided by the batch's weight sum S
     * instead of its length B, and *loss_sum gains each weighted loss times
     * B / S, so that loss_sum / n is scikit-learn's epoch loss_ (each batch's
     * weighted mean, weighted by batch length).  A batch with S = 0 takes no
     * step and adds 0.  Without weights S = B: no change.  Per-sample SGD
     * (af_sgd) takes a sample of weight w > 0 unweighted with decay mu / w, and
     * skips w = 0.  Calls that take no step (af_train_gemm without opt,
     * af_gradient) ignore it: they return plain weighted sums. */
    int32_t weight_sum_divisor;
} af_net;

/* Optimizer hyper-parameters and step counter.  Every option past t is off at
 * zero / NULL, and then the step is exactly the rule above. */
typedef struct {
    int32_t kind;         /* enum af_opt_kind                                     */
    double lr;            /* learning rate                                        */
    double l2;            /* weight decay: g_W += l2 * W / batch_len (not biases) */
    double momentum;      /* MOMENTUM / NESTEROV / RMSPROP                        */
    double beta1, beta2;  /* ADAM, ADAMAX, NADAM                                  */
    double rho;           /* RMSPROP, ADADELTA                                    */
    double epsilon;       /* ADAM, RMSPROP, ADAGRAD, ADADELTA, ADAMAX, NADAM      */
    int64_t t;            /* steps taken so far by ADAM, ADAMAX, NADAM; +1 a batch */
    int32_t amsgrad;      /* ADAM: divide by the running max of v (third slot)    */
    int32_t centered;     /* RMSPROP: divide by the variance, not the 2nd moment  */
    double initial_accumulator; /* ADAGRAD: A at the start (the slot holds A - it) */
    double weight_decay;  /* decoupled, Keras': p -= p * wd * lr, every parameter  */
    /* Clipping of g, at most one > 0: element-wise to [-clipvalue, clipvalue];
     * each weight matrix and bias vector to norm clipnorm; all of g to norm
     * global_clipnorm. */
    double clipvalue, clipnorm, global_clipnorm;
    /* Keras regularizers: NULL, or n_layers rows of (kernel_l1, kernel_l2,
     * bias_l1, bias_l2); the batch loss gains l1 sum|w| + l2 sum w^2. */
    const double *penalties;
    double penalty_sum;   /* out: added to by batch_len * penalty, per batch       */
} af_opt;

/* The opt_state values the rule needs for n parameters.  Slots of n values,
 * in order: MOMENTUM / NESTEROV velocity; ADAM m, v (, v_hat); RMSPROP v
 * (, momentum if > 0) (, mean gradient if centered); ADAGRAD A less
 * initial_accumulator; ADADELTA E[g^2], E[dx^2]; ADAMAX m, u; NADAM m, v and one
 * value, the product of the u_t so far (read only when t > 0). */
static inline int64_t af_opt_state_size(const af_opt *opt, int64_t n)
{
    switch (opt->kind) {
    case AF_OPT_MOMENTUM:
    case AF_OPT_NESTEROV:
    case AF_OPT_ADAGRAD: return n;
    case AF_OPT_ADAM: return (opt->amsgrad ? 3 : 2) * n;
    case AF_OPT_RMSPROP: return (1 + (opt->momentum > 0) + (opt->centered != 0)) * n;
    case AF_OPT_ADADELTA:
    case AF_OPT_ADAMAX: return 2 * n;
    case AF_OPT_NADAM: return 2 * n + 1;
    default: return 0;
    }
}

/* The best instruction set this CPU (and OS) supports, and the best this
 * build has variants for. */
int af_cpu_isa(void);

/* Total number of parameters (weights and biases) of the architecture. */
int64_t af_n_params(const af_net *net);
/* Largest layer width, and the sum of all widths (scratch sizes). */
int64_t af_max_width(const af_net *net);
int64_t af_sum_width(const af_net *net);
/* Room for stored pre-activations: af_sum_width if a layer's activation needs
 * z (af_act_needs_z), else 0.  The training scratch ("per-sample scratch") is
 * af_sum_width + 2 * af_max_width + af_z_width values. */
int64_t af_z_width(const af_net *net);
/* The extra training scratch per row for dropout: 2 * af_sum_width when
 * net->dropout is set, else 0. */
int64_t af_dropout_width(const af_net *net);

/* Forward pass of n samples, a few at a time (each row's outputs are the same
 * bits whatever n).  X: (n, sizes[0]); out: (n, sizes[L]);
 * scratch: af_forward_scratch(net) values (rows of activations, then the
 * weights transposed, each layer's rows padded to AF_FORWARD_PAD).  Returns AF_OK, or
 * AF_E_NONFINITE when a first-layer sum (before the activation) was not
 * finite: with finite parameters, a NaN or infinity in a row of X makes every
 * sum of that row non-finite (inf * 0 is NaN), so AF_OK proves X finite. */
#define AF_FORWARD_SCRATCH_ROWS 48
#define AF_FORWARD_PAD 16
int64_t af_forward_scratch(const af_net *net);
int af_forward_f32(const af_net *net, const float *params, const float *X, int64_t n,
                   float *out, float *scratch);
int af_forward_f64(const af_net *net, const double *params, const double *X, int64_t n,
                   double *out, double *scratch);

/* Train over order[0..n_order) in batches of batch_size (the last batch may be
 * shorter), updating params (and opt_state, opt->t) in place.
 *   X: (n, sizes[0]), Y: (n, sizes[L]); order: sample indices (validated < n).
 *   grad: af_n_params values (batches > 1 or optimizers other than plain SGD).
 *   opt_state: af_opt_state_size values (zero to start; kept across calls).
 *   scratch: per-sample scratch (see af_z_width).
 * On return *loss_sum holds the sum of the per-sample losses of the samples
 * done and *n_done how many were done (all of them unless a loss was not
 * finite: then AF_E_NONFINITE, and *n_done is the position in order of the
 * offending sample; params then hold that partial state). */
int af_train_f32(const af_net *net, af_opt *opt, float *params, float *opt_state,
                 const float *X, const float *Y, const int64_t *order, int64_t n_order,
                 int64_t batch_size, float *grad, float *scratch, double *loss_sum,
                 int64_t *n_done);
int af_train_f64(const af_net *net, af_opt *opt, double *params, double *opt_state,
                 const double *X, const double *Y, const int64_t *order, int64_t n_order,
                 int64_t batch_size, double *grad, double *scratch, double *loss_sum,
                 int64_t *n_done);

/* Per-sample SGD, the hot path: W := W - lr (delta a^T + mu W), b := b - lr delta,
 * one sample at a time over order.  The decay is kept lazily: the true weights
 * of layer l are scales[l] * W (n_layers doubles, 1.0 to start); call
 * af_fold_scales before the weights are read elsewhere.
 * scratch: per-sample scratch (see af_z_width).  Returns as af_train. */
int af_sgd_f32(const af_net *net, double lr, double mu, float *params, double *scales,
               const float *X, const float *Y, const int64_t *order, int64_t n_order,
               float *scratch, double *loss_sum, int64_t *n_done);
int af_sgd_f64(const af_net *net, double lr, double mu, double *params, double *scales,
               const double *X, const double *Y, const int64_t *order, int64_t n_order,
               double *scratch, double *loss_sum, int64_t *n_done);
void af_fold_scales_f32(const af_net *net, float *params, double *scales);
void af_fold_scales_f64(const af_net *net, double *params, double *scales);

/* The same with sparse inputs in CSR form (data, indices < sizes[0], indptr of
 * n + 1 offsets): only the first-layer weights of non-zero inputs are touched.
 * Between af_sparse_begin and af_sparse_end the first layer's weights live
 * transposed in wt0 (sizes[0] * sizes[1] values) and params' copy is stale;
 * af_sparse_end writes them back and folds every scale. */
int af_sgd_sparse_f32(const af_net *net, double lr, double mu, float *params, float *wt0,
                      double *scales, const float *data, const int64_t *indices,
                      const int64_t *indptr, const float *Y, const int64_t *order,
                      int64_t n_order, float *scratch, double *loss_sum, int64_t *n_done);
int af_sgd_sparse_f64(const af_net *net, double lr, double mu, double *params, double *wt0,
                      double *scales, const double *data, const int64_t *indices,
                      const int64_t *indptr, const double *Y, const int64_t *order,
                      int64_t n_order, double *scratch, double *loss_sum, int64_t *n_done);
void af_sparse_begin_f32(const af_net *net, const float *params, float *wt0);
void af_sparse_begin_f64(const af_net *net, const double *params, double *wt0);
void af_sparse_end_f32(const af_net *net, float *params, const float *wt0, double *scales);
void af_sparse_end_f64(const af_net *net, double *params, const double *wt0, double *scales);

/* The number of non-zeros (NaN included) in the dense rows X (n, d), or -1 as
 * soon as it exceeds limit.  isa as below. */
int64_t af_count_nonzero_f32(int32_t isa, const float *X, int64_t n, int64_t d, int64_t limit);
int64_t af_count_nonzero_f64(int32_t isa, const double *X, int64_t n, int64_t d, int64_t limit);

/* The non-zeros of the dense rows X (n, d) in CSR form, in one pass: data and
 * indices (row by row, columns ascending) and indptr (n + 1 offsets).  Returns
 * their number, or -1 as soon as it exceeds limit (>= 0; the rows so far are
 * then written).  data and indices must hold min(limit + d, n * d) values:
 * every value is written before the count moves past it.  *all_finite is set
 * to whether every value is finite.  isa: enum af_isa, at most af_cpu_isa(). */
int64_t af_csr_from_dense_f32(int32_t isa, const float *X, int64_t n, int64_t d, int64_t limit,
                              float *data, int64_t *indices, int64_t *indptr, int *all_finite);
int64_t af_csr_from_dense_f64(int32_t isa, const double *X, int64_t n, int64_t d,
                              int64_t limit, double *data, int64_t *indices, int64_t *indptr,
                              int *all_finite);

/* Fortran BLAS ?gemm (column-major C := alpha op(A) op(B) + beta C), passed in
 * by the caller (annfast takes scipy's), so the C sources need no BLAS headers. */
typedef void (*af_sgemm_fn)(char *transa, char *transb, int *m, int *n, int *k, float *alpha,
                            float *a, int *lda, float *b, int *ldb, float *beta, float *c,
                            int *ldc);
typedef void (*af_dgemm_fn)(char *transa, char *transb, int *m, int *n, int *k, double *alpha,
                            double *a, int *lda, double *b, int *ldb, double *beta, double *c,
                            int *ldc);

/* af_train for batches as matrices: each layer's forward pass, weight gradient
 * and delta backpropagation is one GEMM over the whole batch.  Same arguments
 * and results as af_train (up to summation order), plus the GEMM; scratch:
 * min(batch_size, n_order) * per-sample scratch values.  Every product must
 * fit BLAS' int sizes (the caller checks). */
int af_train_gemm_f32(const af_net *net, af_opt *opt, float *params, float *opt_state,
                      const float *X, const float *Y, const int64_t *order, int64_t n_order,
                      int64_t batch_size, float *grad, float *scratch, double *loss_sum,
                      int64_t *n_done, af_sgemm_fn gemm);
int af_train_gemm_f64(const af_net *net, af_opt *opt, double *params, double *opt_state,
                      const double *X, const double *Y, const int64_t *order, int64_t n_order,
                      int64_t batch_size, double *grad, double *scratch, double *loss_sum,
                      int64_t *n_done, af_dgemm_fn gemm);

/* With opt = NULL, af_train_gemm takes no step: it leaves the summed gradient
 * of its last batch in grad (one batch when batch_size >= n_order), so that a
 * batch too large for one call can be summed over several.  af_apply_gradient
 * then takes the batch's step from that sum, exactly as af_train_gemm would
 * (l2, penalties, clipping, weight decay, the rule); grad is overwritten.
 * divisor: what the summed gradient is divided by, batch_len (Keras' rule) or
 * the batch's weight sum (> 0; af_net.weight_sum_divisor); batch_len weighs
 * penalty_sum. */
void af_apply_gradient_f32(const af_net *net, af_opt *opt, float *params, float *opt_state,
                           float *grad, int64_t batch_len, double divisor);
void af_apply_gradient_f64(const af_net *net, af_opt *opt, double *params, double *opt_state,
                           double *grad, int64_t batch_len, double divisor);

/* Gradient of the summed loss over n samples (no l2 term) into grad
 * (af_n_params values, overwritten); *loss_sum as above.  Same scratch. */
int af_gradient_f32(const af_net *net, const float *params, const float *X,
                    const float *Y, int64_t n, float *grad, float *scratch,
                    double *loss_sum);
int af_gradient_f64(const af_net *net, const double *params, const double *X,
                    const double *Y, int64_t n, double *grad, double *scratch,
                    double *loss_sum);

/* Element-wise helpers for tests: activation of z (param: af_net.act_params'
 * meaning), and the backward step delta = J_act^T g from the outputs a and,
 * for the activations that need them, the pre-activations z (n values;
 * softmax treats them as one vector). */
void af_activate_f32(int32_t act, double param, const float *z, float *a, int64_t n);
void af_activate_f64(int32_t act, double param, const double *z, double *a, int64_t n);
void af_act_backward_f32(int32_t act, double param, const float *a, const float *z,
                         const float *g, float *delta, int64_t n);
void af_act_backward_f64(int32_t act, double param, const double *a, const double *z,
                         const double *g, double *delta, int64_t n);
/* Output delta and per-sample loss for one sample (a: outputs, z: their
 * pre-activations, read only if the output activation needs z; y: targets). */
double af_output_delta_f32(const af_net *net, const float *a, const float *z, const float *y,
                           float *delta, int64_t k);
double af_output_delta_f64(const af_net *net, const double *a, const double *z,
                           const double *y, double *delta, int64_t k);

#ifdef __cplusplus
}
#endif
#endif /* AF_H */
