# Declarations of csrc/af.h, mirrored one to one.  No code here.
from libc.stdint cimport int32_t, int64_t, uint64_t


cdef extern from "af.h" nogil:
    # Only the counts: codes and names come from the tables (af_act_name).
    cdef enum:
        AF_N_ACT
        AF_N_LOSS

    cdef enum af_opt_kind:
        AF_OPT_SGD
        AF_OPT_MOMENTUM
        AF_OPT_NESTEROV
        AF_OPT_ADAM
        AF_OPT_RMSPROP
        AF_OPT_ADAGRAD
        AF_OPT_ADADELTA
        AF_OPT_ADAMAX
        AF_OPT_NADAM
        AF_N_OPT

    cdef enum af_isa:
        AF_ISA_BASELINE
        AF_ISA_AVX2
        AF_ISA_AVX512
        AF_N_ISA

    cdef enum af_status:
        AF_OK
        AF_E_NONFINITE
        AF_E_ARGUMENT

    ctypedef struct af_net:
        int64_t n_layers
        const int64_t *sizes
        const int32_t *acts
        const double *act_params
        int32_t loss
        double loss_scale
        double huber_delta
        double label_smoothing
        double prob_eps
        int32_t isa
        const double *sample_weight
        const double *dropout
        uint64_t dropout_seed
        uint64_t dropout_counter
        int32_t weight_sum_divisor

    const char *af_act_name(int32_t code)
    const char *af_loss_name(int32_t code)
    int af_act_needs_z(int32_t code)
    int af_loss_matched_act(int32_t code)

    ctypedef struct af_opt:
        int32_t kind
        double lr
        double l2
        double momentum
        double beta1
        double beta2
        double rho
        double epsilon
        int64_t t
        int32_t amsgrad
        int32_t centered
        double initial_accumulator
        double weight_decay
        double clipvalue
        double clipnorm
        double global_clipnorm
        const double *penalties
        double penalty_sum

    int64_t af_opt_state_size(const af_opt *opt, int64_t n)

    int af_cpu_isa()
    int64_t af_n_params(const af_net *net)
    int64_t af_max_width(const af_net *net)
    int64_t af_sum_width(const af_net *net)
    int64_t af_z_width(const af_net *net)
    int64_t af_dropout_width(const af_net *net)

    int AF_FORWARD_SCRATCH_ROWS
    int64_t af_forward_scratch(const af_net *net)
    int af_forward_f32(const af_net *net, const float *params, const float *X, int64_t n,
                       float *out, float *scratch)
    int af_forward_f64(const af_net *net, const double *params, const double *X, int64_t n,
                       double *out, double *scratch)

    int af_train_f32(const af_net *net, af_opt *opt, float *params, float *opt_state,
                     const float *X, const float *Y, const int64_t *order, int64_t n_order,
                     int64_t batch_size, float *grad, float *scratch, double *loss_sum,
                     int64_t *n_done)
    int af_train_f64(const af_net *net, af_opt *opt, double *params, double *opt_state,
                     const double *X, const double *Y, const int64_t *order, int64_t n_order,
                     int64_t batch_size, double *grad, double *scratch, double *loss_sum,
                     int64_t *n_done)

    int af_sgd_f32(const af_net *net, double lr, double mu, float *params, double *scales,
                   const float *X, const float *Y, const int64_t *order, int64_t n_order,
                   float *scratch, double *loss_sum, int64_t *n_done)
    int af_sgd_f64(const af_net *net, double lr, double mu, double *params, double *scales,
                   const double *X, const double *Y, const int64_t *order, int64_t n_order,
                   double *scratch, double *loss_sum, int64_t *n_done)
    void af_fold_scales_f32(const af_net *net, float *params, double *scales)
    void af_fold_scales_f64(const af_net *net, double *params, double *scales)
    int af_sgd_sparse_f32(const af_net *net, double lr, double mu, float *params, float *wt0,
                          double *scales, const float *data, const int64_t *indices,
                          const int64_t *indptr, const float *Y, const int64_t *order,
                          int64_t n_order, float *scratch, double *loss_sum, int64_t *n_done)
    int af_sgd_sparse_f64(const af_net *net, double lr, double mu, double *params, double *wt0,
                          double *scales, const double *data, const int64_t *indices,
                          const int64_t *indptr, const double *Y, const int64_t *order,
                          int64_t n_order, double *scratch, double *loss_sum, int64_t *n_done)
    void af_sparse_begin_f32(const af_net *net, const float *params, float *wt0)
    void af_sparse_begin_f64(const af_net *net, const double *params, double *wt0)
    void af_sparse_end_f32(const af_net *net, float *params, const float *wt0, double *scales)
    void af_sparse_end_f64(const af_net *net, double *params, const double *wt0, double *scales)
    int64_t af_count_nonzero_f32(int32_t isa, const float *X, int64_t n, int64_t d,
                                 int64_t limit)
    int64_t af_count_nonzero_f64(int32_t isa, const double *X, int64_t n, int64_t d,
                                 int64_t limit)
    int64_t af_csr_from_dense_f32(int32_t isa, const float *X, int64_t n, int64_t d,
                                  int64_t limit, float *data, int64_t *indices, int64_t *indptr,
                                  int *all_finite)
    int64_t af_csr_from_dense_f64(int32_t isa, const double *X, int64_t n, int64_t d,
                                  int64_t limit, double *data, int64_t *indices, int64_t *indptr,
                                  int *all_finite)

    ctypedef void (*af_sgemm_fn)(char *transa, char *transb, int *m, int *n, int *k,
                                 float *alpha, float *a, int *lda, float *b, int *ldb,
                                 float *beta, float *c, int *ldc) noexcept nogil
    ctypedef void (*af_dgemm_fn)(char *transa, char *transb, int *m, int *n, int *k,
                                 double *alpha, double *a, int *lda, double *b, int *ldb,
                                 double *beta, double *c, int *ldc) noexcept nogil
    int af_train_gemm_f32(const af_net *net, af_opt *opt, float *params, float *opt_state,
                          const float *X, const float *Y, const int64_t *order,
                          int64_t n_order, int64_t batch_size, float *grad, float *scratch,
                          double *loss_sum, int64_t *n_done, af_sgemm_fn gemm)
    int af_train_gemm_f64(const af_net *net, af_opt *opt, double *params, double *opt_state,
                          const double *X, const double *Y, const int64_t *order,
                          int64_t n_order, int64_t batch_size, double *grad, double *scratch,
                          double *loss_sum, int64_t *n_done, af_dgemm_fn gemm)
    void af_apply_gradient_f32(const af_net *net, af_opt *opt, float *params, float *opt_state,
                               float *grad, int64_t batch_len, double divisor)
    void af_apply_gradient_f64(const af_net *net, af_opt *opt, double *params,
                               double *opt_state, double *grad, int64_t batch_len,
                               double divisor)

    int af_gradient_f32(const af_net *net, const float *params, const float *X,
                        const float *Y, int64_t n, float *grad, float *scratch,
                        double *loss_sum)
    int af_gradient_f64(const af_net *net, const double *params, const double *X,
                        const double *Y, int64_t n, double *grad, double *scratch,
                        double *loss_sum)

    void af_activate_f32(int32_t act, double param, const float *z, float *a, int64_t n)
    void af_activate_f64(int32_t act, double param, const double *z, double *a, int64_t n)
    void af_act_backward_f32(int32_t act, double param, const float *a, const float *z,
                             const float *g, float *delta, int64_t n)
    void af_act_backward_f64(int32_t act, double param, const double *a, const double *z,
                             const double *g, double *delta, int64_t n)
    double af_output_delta_f32(const af_net *net, const float *a, const float *z,
                               const float *y, float *delta, int64_t k)
    double af_output_delta_f64(const af_net *net, const double *a, const double *z,
                               const double *y, double *delta, int64_t k)
