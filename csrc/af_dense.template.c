/* annfast: the dense forward pass, for one TYPE.
 * Included by af_kernels.c once per TYPE (see af_types.h). */
#ifndef TYPE
#error "TYPE must be defined before including af_dense.template.c"
#endif

/* <x, y> over n values.  Four partial sums break the add dependency chain;
 * the order is fixed, so results are the same bits on every run. */
static inline TYPE FN(af_dot)(const TYPE *restrict x, const TYPE *restrict y, int64_t n)
{
    TYPE s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += x[i] * y[i];
        s1 += x[i + 1] * y[i + 1];
        s2 += x[i + 2] * y[i + 2];
        s3 += x[i + 3] * y[i + 3];
    }
    for (; i < n; i++) s0 += x[i] * y[i];
    return (s0 + s1) + (s2 + s3);
}

/* out := act(W in + b), W: (n_out, n_in) row-major, b: n_out values. */
static inline void FN(af_layer_forward)(int32_t act, TYPE slope, const TYPE *restrict W,
                                        const TYPE *restrict b, const TYPE *restrict in,
                                        int64_t n_in, int64_t n_out, TYPE *restrict out)
{
    for (int64_t j = 0; j < n_out; j++) out[j] = b[j] + FN(af_dot)(W + j * n_in, in, n_in);
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
