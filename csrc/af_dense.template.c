/* annfast: the dense forward pass, for one TYPE.
 * Included by af_kernels.c once per TYPE (see af_types.h). */
#ifndef TYPE
#error "TYPE must be defined before including af_dense.template.c"
#endif

/* <x, y> over n values, in native SIMD vectors (GCC vector extensions;
 * AF_VEC_BYTES is 16, 32 or 64 by ISA) with four accumulators to hide the
 * add latency, then the lanes in order, then the tail.  The order depends on
 * the ISA but never on the data: the same bits on every run. */
typedef TYPE FN(af_vec) __attribute__((vector_size(AF_VEC_BYTES)));
#define AF_VLEN ((int64_t)(AF_VEC_BYTES / sizeof(TYPE)))
static inline TYPE FN(af_dot)(const TYPE *restrict x, const TYPE *restrict y, int64_t n)
{
    FN(af_vec) a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, u0, v0, u1, v1, u2, v2, u3, v3;
    int64_t i = 0;
    for (; i + 4 * AF_VLEN <= n; i += 4 * AF_VLEN) {
        memcpy(&u0, x + i, sizeof u0);
        memcpy(&v0, y + i, sizeof v0);
        memcpy(&u1, x + i + AF_VLEN, sizeof u1);
        memcpy(&v1, y + i + AF_VLEN, sizeof v1);
        memcpy(&u2, x + i + 2 * AF_VLEN, sizeof u2);
        memcpy(&v2, y + i + 2 * AF_VLEN, sizeof v2);
        memcpy(&u3, x + i + 3 * AF_VLEN, sizeof u3);
        memcpy(&v3, y + i + 3 * AF_VLEN, sizeof v3);
        a0 += u0 * v0;
        a1 += u1 * v1;
        a2 += u2 * v2;
        a3 += u3 * v3;
    }
    for (; i + AF_VLEN <= n; i += AF_VLEN) {
        memcpy(&u0, x + i, sizeof u0);
        memcpy(&v0, y + i, sizeof v0);
        a0 += u0 * v0;
    }
    a0 = (a0 + a1) + (a2 + a3);
    TYPE s = 0;
    for (int64_t k = 0; k < AF_VLEN; k++) s += a0[k];
    for (; i < n; i++) s += x[i] * y[i];
    return s;
}

/* out[j] := s <W_j, in> + b[j] for the n_out rows of W (n_out, n_in), four rows
 * at a time so that each load of `in` serves four rows (the loads, not the
 * multiply-adds, are the limit).  Each row's sum runs in its own vector
 * accumulator; lanes and the tail are added in a fixed order. */
static inline void FN(af_rows_dot)(const TYPE *restrict W, const TYPE *restrict b,
                                   const TYPE *restrict in, int64_t n_in, int64_t n_out, TYPE s,
                                   TYPE *restrict out)
{
    int64_t j = 0;
    for (; j + 4 <= n_out; j += 4) {
        const TYPE *restrict W0 = W + j * n_in, *restrict W1 = W0 + n_in;
        const TYPE *restrict W2 = W1 + n_in, *restrict W3 = W2 + n_in;
        FN(af_vec) a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, x, w;
        int64_t i = 0;
        for (; i + AF_VLEN <= n_in; i += AF_VLEN) {
            memcpy(&x, in + i, sizeof x);
            memcpy(&w, W0 + i, sizeof w);
            a0 += w * x;
            memcpy(&w, W1 + i, sizeof w);
            a1 += w * x;
            memcpy(&w, W2 + i, sizeof w);
            a2 += w * x;
            memcpy(&w, W3 + i, sizeof w);
            a3 += w * x;
        }
        TYPE s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (int64_t k = 0; k < AF_VLEN; k++) {
            s0 += a0[k];
            s1 += a1[k];
            s2 += a2[k];
            s3 += a3[k];
        }
        for (; i < n_in; i++) {
            s0 += W0[i] * in[i];
            s1 += W1[i] * in[i];
            s2 += W2[i] * in[i];
            s3 += W3[i] * in[i];
        }
        out[j] = s * s0 + b[j];
        out[j + 1] = s * s1 + b[j + 1];
        out[j + 2] = s * s2 + b[j + 2];
        out[j + 3] = s * s3 + b[j + 3];
    }
    for (; j < n_out; j++) out[j] = s * FN(af_dot)(W + j * n_in, in, n_in) + b[j];
}

/* out := act(W in + b), W: (n_out, n_in) row-major, b: n_out values. */
static inline void FN(af_layer_forward)(int32_t act, TYPE slope, const TYPE *restrict W,
                                        const TYPE *restrict b, const TYPE *restrict in,
                                        int64_t n_in, int64_t n_out, TYPE *restrict out)
{
    FN(af_rows_dot)(W, b, in, n_in, n_out, (TYPE)1, out);
    FN(af_act_inplace)(act, slope, out, n_out);
}

/* Forward one sample x through every layer; the outputs of layer l land in
 * acts_buf at offset sizes[1] + ... + sizes[l].  Returns the network output. */
static inline TYPE *FN(af_forward_sample)(const af_net *net, const TYPE *params,
                                          const TYPE *x, TYPE *acts_buf)
{
    const TYPE *in = x;
    TYPE *out = acts_buf;
    const TYPE slope = (TYPE)net->slope;
    for (int64_t l = 0; l < net->n_layers; l++) {
        const int64_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
        FN(af_layer_forward)(net->acts[l], slope, params, params + n_in * n_out, in, n_in,
                             n_out, out);
        params += (n_in + 1) * n_out;
        in = out;
        out += n_out;
    }
    return (TYPE *)in;
}

int FN(af_forward)(const af_net *net, const TYPE *params, const TYPE *X, int64_t n, TYPE *out,
                   TYPE *scratch)
{
    const int64_t n_x = net->sizes[0], n_y = net->sizes[net->n_layers];
    for (int64_t s = 0; s < n; s++) {
        const TYPE *y = FN(af_forward_sample)(net, params, X + s * n_x, scratch);
        memcpy(out + s * n_y, y, (size_t)n_y * sizeof(TYPE));
    }
    return AF_OK;
}

void FN(af_activate)(int32_t act, double slope, const TYPE *z, TYPE *a, int64_t n)
{
    if (a != z) memcpy(a, z, (size_t)n * sizeof(TYPE));
    FN(af_act_inplace)(act, (TYPE)slope, a, n);
}

void FN(af_act_backward)(int32_t act, double slope, const TYPE *a, const TYPE *g, TYPE *delta,
                         int64_t n)
{
    FN(af_act_backward_inplace)(act, (TYPE)slope, a, g, delta, n);
}
