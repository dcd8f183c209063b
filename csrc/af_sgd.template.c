/* annfast: per-sample SGD with L2 decay -- the hot path -- for one TYPE and ISA.
 * Included by af_kernels.c after af_dense/af_train templates.
 *
 * Lazy decay.  Layer l's true weights are scales[l] * W (W as stored).  The step
 *   W_true := (1 - lr mu) W_true - lr delta a^T
 * becomes  s' = s (1 - lr mu),  W := W - (lr / s') delta a^T,  so decay costs one
 * multiply per layer instead of one per weight, a row whose delta is zero (a
 * dead relu unit) is skipped entirely, and a sparse input touches only the
 * weights of its non-zero entries.  The caller folds the scales back into the
 * weights (af_fold_scales) before anyone else reads them; a scale that falls
 * below AF_SCALE_MIN is folded on the spot, before it can underflow.
 *
 * Sparse inputs: the first layer's weights are held transposed, (n_in, n_out)
 * in wt0 (af_sparse_begin / af_sparse_end), so the forward sum and the update of
 * one non-zero input both run over one contiguous row of n_out weights.
 */
#ifndef TYPE
#error "TYPE must be defined before including af_sgd.template.c"
#endif

#ifndef AF_SCALE_MIN
#define AF_SCALE_MIN 1e-30
#endif

/* W := s W and s := 1, over n_w weights. */
static inline void FN(af_fold)(TYPE *W, int64_t n_w, double *s)
{
    if (*s != 1.0) {
        const TYPE f = (TYPE)*s;
        for (int64_t i = 0; i < n_w; i++) W[i] *= f;
        *s = 1.0;
    }
}

void FN(af_fold_scales)(const af_net *net, TYPE *params, double *scales)
{
    int64_t off = 0;
    for (int64_t l = 0; l < net->n_layers; l++) {
        FN(af_fold)(params + off, net->sizes[l] * net->sizes[l + 1], &scales[l]);
        off += af_layer_params(net, l);
    }
}

void FN(af_sparse_begin)(const af_net *net, const TYPE *params, TYPE *wt0)
{
    const int64_t n_in = net->sizes[0], n_out = net->sizes[1];
    for (int64_t j = 0; j < n_out; j++)
        for (int64_t i = 0; i < n_in; i++) wt0[i * n_out + j] = params[j * n_in + i];
}

void FN(af_sparse_end)(const af_net *net, TYPE *params, const TYPE *wt0, double *scales)
{
    const int64_t n_in = net->sizes[0], n_out = net->sizes[1];
    const TYPE s0 = (TYPE)scales[0];
    for (int64_t j = 0; j < n_out; j++)
        for (int64_t i = 0; i < n_in; i++) params[j * n_in + i] = s0 * wt0[i * n_out + j];
    scales[0] = 1.0;
    FN(af_fold_scales)(net, params, scales);
}

/* out := act(s W in + b) for layers l0..L-1, starting at parameter offset p_off;
 * each layer's outputs follow the previous one's in out.  Pre-activations
 * that an activation needs go to zout at out's offset (zout NULL: none do).
 * dr NULL: no dropout; else a hidden layer with a rate feeds the next its
 * dropped copy (dr, row_key: af_dropout.h).  Always inlined, so that with dr
 * NULL the path compiles as if dropout did not exist.  Returns the last. */
static inline AF_ALWAYS_INLINE const TYPE *FN(af_forward_scaled)(
    const af_net *net, const TYPE *params, const double *scales, int64_t l0, int64_t p_off,
    const TYPE *in, TYPE *out, TYPE *zout, const af_drop *dr, uint64_t row_key)
{
    for (int64_t l = l0; l < net->n_layers; l++) {
        const int64_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
        const int32_t act = net->acts[l];
        const TYPE *W = params + p_off, *b = W + n_in * n_out;
        FN(af_rows_dot)(W, b, in, n_in, n_out, (TYPE)scales[l], out);
        FN(af_act_keep_z)(act, (TYPE)net->act_params[l], out,
                          zout && af_act_needs_z(act) ? zout : NULL, n_out);
        if (zout) zout += n_out;
        p_off += (n_in + 1) * n_out;
        in = out;
        if (dr && l < net->n_layers - 1 && dr->rate[l] > 0) {
            FN(af_dropout_apply)(row_key, l, dr->rate[l], out, dr, n_out);
            in = out + dr->d_off;
        }
        out += n_out;
    }
    return in; /* the output layer's (never dropped) */
}

/* The fused backward step for the rows js[0..nr) (nr <= 4) of W (n_out, n_in):
 *   pv += sum_r (s delta_r) W_r     (pushes the delta down, pre-step weights)
 *   W_r -= (step delta_r) a_in      (the lazy-decay update)
 * Four rows share each load and store of pv and a_in. */
static inline void FN(af_back_rows)(TYPE *W, int64_t n_in, const int64_t *js, int nr,
                                    const TYPE *delta, TYPE s, double step,
                                    const TYPE *restrict a_in, TYPE *restrict pv)
{
    if (nr == 4) {
        TYPE *restrict W0 = W + js[0] * n_in, *restrict W1 = W + js[1] * n_in;
        TYPE *restrict W2 = W + js[2] * n_in, *restrict W3 = W + js[3] * n_in;
        const TYPE g0 = s * delta[js[0]], g1 = s * delta[js[1]];
        const TYPE g2 = s * delta[js[2]], g3 = s * delta[js[3]];
        const TYPE k0 = (TYPE)(step * delta[js[0]]), k1 = (TYPE)(step * delta[js[1]]);
        const TYPE k2 = (TYPE)(step * delta[js[2]]), k3 = (TYPE)(step * delta[js[3]]);
        for (int64_t i = 0; i < n_in; i++) {
            const TYPE w0 = W0[i], w1 = W1[i], w2 = W2[i], w3 = W3[i], a = a_in[i];
            pv[i] += (w0 * g0 + w1 * g1) + (w2 * g2 + w3 * g3);
            W0[i] = w0 - k0 * a;
            W1[i] = w1 - k1 * a;
            W2[i] = w2 - k2 * a;
            W3[i] = w3 - k3 * a;
        }
        return;
    }
    for (int r = 0; r < nr; r++) {
        TYPE *restrict Wr = W + js[r] * n_in;
        const TYPE g = s * delta[js[r]], k = (TYPE)(step * delta[js[r]]);
        for (int64_t i = 0; i < n_in; i++) {
            const TYPE w = Wr[i];
            pv[i] += w * g;
            Wr[i] = w - k * a_in[i];
        }
    }
}

/* The first layer's update for rows js[0..nr): W_r -= (step delta_r) x. */
static inline void FN(af_update_rows)(TYPE *W, int64_t n_in, const int64_t *js, int nr,
                                      const TYPE *delta, double step, const TYPE *restrict x)
{
    if (nr == 4) {
        TYPE *restrict W0 = W + js[0] * n_in, *restrict W1 = W + js[1] * n_in;
        TYPE *restrict W2 = W + js[2] * n_in, *restrict W3 = W + js[3] * n_in;
        const TYPE k0 = (TYPE)(step * delta[js[0]]), k1 = (TYPE)(step * delta[js[1]]);
        const TYPE k2 = (TYPE)(step * delta[js[2]]), k3 = (TYPE)(step * delta[js[3]]);
        for (int64_t i = 0; i < n_in; i++) {
            const TYPE a = x[i];
            W0[i] -= k0 * a;
            W1[i] -= k1 * a;
            W2[i] -= k2 * a;
            W3[i] -= k3 * a;
        }
        return;
    }
    for (int r = 0; r < nr; r++) {
        TYPE *restrict Wr = W + js[r] * n_in;
        const TYPE k = (TYPE)(step * delta[js[r]]);
        for (int64_t i = 0; i < n_in; i++) Wr[i] -= k * x[i];
    }
}

/* acc[c] += x row[c * AF_VLEN ...] for the four vectors of a tile. */
static inline void FN(af_add_tile)(FN(af_vec) acc[4], const TYPE *row, TYPE x)
{
    for (int c = 0; c < 4; c++) {
        FN(af_vec) r;
        memcpy(&r, row + c * AF_VLEN, sizeof r);
        acc[c] += r * x;
    }
}

/* z := s (sum_k val[k] wt0[idx[k], :]) + b over the n_out columns of wt0
 * (n_in, n_out).  The sums stay in vector registers across all non-zero inputs,
 * a tile of four vectors at a time: accumulating in memory would make every
 * input wait for the previous one's store. */
static inline void FN(af_sparse_forward)(const TYPE *restrict wt0, int64_t n_out,
                                         const int64_t *restrict idx, const TYPE *restrict val,
                                         int64_t nnz, TYPE s, const TYPE *restrict b,
                                         TYPE *restrict z)
{
    int64_t j = 0;
    for (; j + 4 * AF_VLEN <= n_out; j += 4 * AF_VLEN) {
        /* Two sets of sums, for the even and the odd inputs, halve the chain
         * of dependent multiply-adds. */
        FN(af_vec) a[4] = {0}, e[4] = {0};
        int64_t k = 0;
        for (; k + 2 <= nnz; k += 2) {
            FN(af_add_tile)(a, wt0 + idx[k] * n_out + j, val[k]);
            FN(af_add_tile)(e, wt0 + idx[k + 1] * n_out + j, val[k + 1]);
        }
        if (k < nnz) FN(af_add_tile)(a, wt0 + idx[k] * n_out + j, val[k]);
        for (int c = 0; c < 4; c++) {
            a[c] += e[c];
            memcpy(z + j + c * AF_VLEN, &a[c], sizeof a[c]);
        }
    }
    for (; j + AF_VLEN <= n_out; j += AF_VLEN) {
        FN(af_vec) a0 = {0}, r;
        for (int64_t k = 0; k < nnz; k++) {
            memcpy(&r, wt0 + idx[k] * n_out + j, sizeof r);
            a0 += r * val[k];
        }
        memcpy(z + j, &a0, sizeof a0);
    }
    for (; j < n_out; j++) {
        TYPE a = 0;
        for (int64_t k = 0; k < nnz; k++) a += wt0[idx[k] * n_out + j] * val[k];
        z[j] = a;
    }
    for (j = 0; j < n_out; j++) z[j] = s * z[j] + b[j];
}

/* wt0[idx[k], :] -= (step val[k]) d for the nnz non-zero inputs, wt0 (n_in,
 * n_out).  As in af_sparse_forward, a tile of d stays in vector registers
 * while every row streams past it.  The rows go last to first: the forward
 * pass has just read them first to last, so the last ones are still in L1. */
static inline void FN(af_sparse_update)(TYPE *restrict wt0, int64_t n_out,
                                        const int64_t *restrict idx, const TYPE *restrict val,
                                        int64_t nnz, double step, const TYPE *restrict d)
{
    int64_t j = 0;
    for (; j + 4 * AF_VLEN <= n_out; j += 4 * AF_VLEN) {
        FN(af_vec) dv[4];
        memcpy(dv, d + j, sizeof dv);
        for (int64_t k = nnz - 1; k >= 0; k--) {
            const TYPE c = (TYPE)(step * (double)val[k]);
            TYPE *row = wt0 + idx[k] * n_out + j;
            for (int q = 0; q < 4; q++) {
                FN(af_vec) r;
                memcpy(&r, row + q * AF_VLEN, sizeof r);
                r -= c * dv[q];
                memcpy(row + q * AF_VLEN, &r, sizeof r);
            }
        }
    }
    for (; j + AF_VLEN <= n_out; j += AF_VLEN) {
        FN(af_vec) d0, r;
        memcpy(&d0, d + j, sizeof d0);
        for (int64_t k = 0; k < nnz; k++) {
            const TYPE c = (TYPE)(step * (double)val[k]);
            TYPE *row = wt0 + idx[k] * n_out + j;
            memcpy(&r, row, sizeof r);
            r -= c * d0;
            memcpy(row, &r, sizeof r);
        }
    }
    if (j < n_out) {
        for (int64_t k = 0; k < nnz; k++) {
            const TYPE c = (TYPE)(step * (double)val[k]);
            TYPE *row = wt0 + idx[k] * n_out;
            for (int64_t t = j; t < n_out; t++) row[t] -= c * d[t];
        }
    }
}

/* The same two passes for a first layer of exactly nv vectors (n_out == nv *
 * AF_VLEN, nv in 1, 2, 4, 8: hidden widths 4 to 128, by instruction set and
 * dtype), always inlined with nv a constant, so the whole row of sums or
 * of the delta lives in registers and the non-zeros are read once.  Eight
 * sums in flight whatever nv: 8 / nv non-zero inputs go into separate sets,
 * which keeps the multiply-adds from waiting on each other. */
static inline AF_ALWAYS_INLINE void FN(af_sparse_forward_nv)(
    const TYPE *restrict wt0, const int nv, const int64_t *restrict idx,
    const TYPE *restrict val, int64_t nnz, TYPE s, const TYPE *restrict b, TYPE *restrict z)
{
    const int64_t n_out = nv * AF_VLEN;
    const int u = 8 / nv;
    FN(af_vec) acc[8], r;
    memset(acc, 0, sizeof acc);
    int64_t k = 0;
    for (; k + u <= nnz; k += u)
        for (int q = 0; q < u; q++) {
            const TYPE *row = wt0 + idx[k + q] * n_out;
            const TYPE x = val[k + q];
            for (int c = 0; c < nv; c++) {
                memcpy(&r, row + c * AF_VLEN, sizeof r);
                acc[q * nv + c] += r * x;
            }
        }
    for (; k < nnz; k++) {
        const TYPE *row = wt0 + idx[k] * n_out;
        for (int c = 0; c < nv; c++) {
            memcpy(&r, row + c * AF_VLEN, sizeof r);
            acc[c] += r * val[k];
        }
    }
    for (int q = 1; q < u; q++)
        for (int c = 0; c < nv; c++) acc[c] += acc[q * nv + c];
    for (int c = 0; c < nv; c++) {
        memcpy(&r, b + c * AF_VLEN, sizeof r);
        r += acc[c] * s;
        memcpy(z + c * AF_VLEN, &r, sizeof r);
    }
}

static inline AF_ALWAYS_INLINE void FN(af_sparse_update_nv)(
    TYPE *restrict wt0, const int nv, const int64_t *restrict idx, const TYPE *restrict val,
    int64_t nnz, double step, const TYPE *restrict d)
{
    const int64_t n_out = nv * AF_VLEN;
    FN(af_vec) dv[8], r;
    memcpy(dv, d, (size_t)nv * sizeof r);
    for (int64_t k = nnz - 1; k >= 0; k--) {
        const TYPE c = (TYPE)(step * (double)val[k]);
        TYPE *row = wt0 + idx[k] * n_out;
        for (int q = 0; q < nv; q++) {
            memcpy(&r, row + q * AF_VLEN, sizeof r);
            r -= c * dv[q];
            memcpy(row + q * AF_VLEN, &r, sizeof r);
        }
    }
}

/* af_sparse_forward / af_sparse_update, through the fixed-width bodies when
 * the first layer is 1, 2, 4 or 8 vectors wide. */
static void FN(af_sparse_forward_any)(const TYPE *restrict wt0, int64_t n_out,
                                      const int64_t *restrict idx, const TYPE *restrict val,
                                      int64_t nnz, TYPE s, const TYPE *restrict b,
                                      TYPE *restrict z)
{
    switch (n_out / AF_VLEN * (n_out % AF_VLEN == 0)) {
    case 1: FN(af_sparse_forward_nv)(wt0, 1, idx, val, nnz, s, b, z); return;
    case 2: FN(af_sparse_forward_nv)(wt0, 2, idx, val, nnz, s, b, z); return;
    case 4: FN(af_sparse_forward_nv)(wt0, 4, idx, val, nnz, s, b, z); return;
    case 8: FN(af_sparse_forward_nv)(wt0, 8, idx, val, nnz, s, b, z); return;
    default: FN(af_sparse_forward)(wt0, n_out, idx, val, nnz, s, b, z);
    }
}

static void FN(af_sparse_update_any)(TYPE *restrict wt0, int64_t n_out,
                                     const int64_t *restrict idx, const TYPE *restrict val,
                                     int64_t nnz, double step, const TYPE *restrict d)
{
    switch (n_out / AF_VLEN * (n_out % AF_VLEN == 0)) {
    case 1: FN(af_sparse_update_nv)(wt0, 1, idx, val, nnz, step, d); return;
    case 2: FN(af_sparse_update_nv)(wt0, 2, idx, val, nnz, step, d); return;
    case 4: FN(af_sparse_update_nv)(wt0, 4, idx, val, nnz, step, d); return;
    case 8: FN(af_sparse_update_nv)(wt0, 8, idx, val, nnz, step, d); return;
    default: FN(af_sparse_update)(wt0, n_out, idx, val, nnz, step, d);
    }
}

/* af_sgd_one's forward pass, dense (x) or sparse (wt0: idx, val), dropout
 * as for af_forward_scaled.  Returns the output layer's outputs. */
static inline AF_ALWAYS_INLINE const TYPE *FN(af_sgd_forward)(
    const af_net *net, const TYPE *params, const double *scales, const TYPE *x,
    const TYPE *wt0, const int64_t *idx, const TYPE *val, int64_t nnz, const TYPE *b0,
    TYPE *acts_buf, TYPE *zbuf, const af_drop *dr, uint64_t row_key)
{
    if (!wt0)
        return FN(af_forward_scaled)(net, params, scales, 0, 0, x, acts_buf, zbuf, dr, row_key);
    const int64_t n_in0 = net->sizes[0], n_out0 = net->sizes[1];
    TYPE *restrict z = acts_buf;
    FN(af_sparse_forward_any)(wt0, n_out0, idx, val, nnz, (TYPE)scales[0], b0, z);
    FN(af_act_keep_z)(net->acts[0], (TYPE)net->act_params[0], z,
                      zbuf && af_act_needs_z(net->acts[0]) ? zbuf : NULL, n_out0);
    if (net->n_layers == 1) return z;
    const TYPE *in = z;
    if (dr && dr->rate[0] > 0) {
        FN(af_dropout_apply)(row_key, 0, dr->rate[0], z, dr, n_out0);
        in = z + dr->d_off;
    }
    return FN(af_forward_scaled)(net, params, scales, 1, (n_in0 + 1) * n_out0, in,
                                 acts_buf + n_out0, zbuf ? zbuf + n_out0 : NULL, dr, row_key);
}

/* The same with dropout (dr->rate set), for the sample in row `row` of X:
 * out of line, so that training without dropout never reaches it. */
static AF_NOINLINE const TYPE *FN(af_sgd_forward_dropout)(
    const af_net *net, const TYPE *params, const double *scales, const TYPE *x,
    const TYPE *wt0, const int64_t *idx, const TYPE *val, int64_t nnz, const TYPE *b0,
    TYPE *acts_buf, TYPE *zbuf, const af_drop *dr, int64_t row)
{
    return FN(af_sgd_forward)(net, params, scales, x, wt0, idx, val, nnz, b0, acts_buf, zbuf, dr,
                              af_drop_row_key(net, row));
}

/* One sample: forward, output delta, then backprop fused with the update.
 * Dense input: x.  Sparse input (wt0 != NULL): nnz pairs (idx, val).  row:
 * its row of X (keys its dropout masks).
 * Returns the loss; a non-finite loss returns before any update. */
static double FN(af_sgd_one)(const af_net *net, TYPE *params, double *scales, double decay,
                             double lr, const TYPE *x, TYPE *wt0, const int64_t *idx,
                             const TYPE *val, int64_t nnz, const TYPE *y, double w,
                             TYPE *scratch, int64_t n_params, int64_t sum_width,
                             int64_t max_width, int64_t z_width, int64_t row)
{
    const int64_t L = net->n_layers, n_in0 = net->sizes[0], n_out0 = net->sizes[1];
    const TYPE lr_t = (TYPE)lr;
    TYPE *acts_buf = scratch;
    TYPE *delta = scratch + sum_width, *prev = delta + max_width;
    /* Pre-activations, at their outputs' offsets in acts_buf (NULL: none kept). */
    TYPE *zbuf = z_width ? prev + max_width : NULL;
    TYPE *b0 = params + n_in0 * n_out0;
    const TYPE *out;
    /* Dropout's regions follow the scratch (af_dropout.h). */
    const int64_t d_off = sum_width + 2 * max_width + z_width;
    const af_drop dr = {net->dropout, d_off, d_off + sum_width};

    /* Forward. */
    if (dr.rate)
        out = FN(af_sgd_forward_dropout)(net, params, scales, x, wt0, idx, val, nnz, b0,
                                         acts_buf, zbuf, &dr, row);
    else
        out = FN(af_sgd_forward)(net, params, scales, x, wt0, idx, val, nnz, b0, acts_buf, zbuf,
                                 NULL, 0);
    const double loss = FN(af_weigh)(w, delta, net->sizes[L],
                                     FN(af_output_delta)(net, out,
                                                         zbuf ? zbuf + (out - acts_buf) : NULL,
                                                         y, delta, net->sizes[L]));
    if (!isfinite(loss)) return loss;

    /* Backward through layers L-1..1, each row read once and written once. */
    int64_t p_off = n_params, a_off = out - acts_buf;
    for (int64_t l = L - 1; l >= 1; l--) {
        const int64_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
        p_off -= (n_in + 1) * n_out;
        a_off -= n_in;
        const TYPE *restrict a_in = acts_buf + a_off;
        /* With dropout on this layer's input, its weights saw the dropped copy. */
        const int dropped = dr.rate && dr.rate[l - 1] > 0;
        const TYPE *a_w = dropped ? a_in + dr.d_off : a_in;
        TYPE *W = params + p_off, *b = W + n_in * n_out;
        if (scales[l] < AF_SCALE_MIN) FN(af_fold)(W, n_in * n_out, &scales[l]);
        const double s = scales[l], s_new = s * decay, step = lr / s_new;
        TYPE *restrict pv = prev;
        memset(pv, 0, (size_t)n_in * sizeof(TYPE));
        /* Rows with a zero delta (dead relu units) push nothing down and, with
         * the decay kept lazy, need no update: gather the others in fours. */
        int64_t js[4];
        int nr = 0;
        for (int64_t j = 0; j < n_out; j++) {
            if (delta[j] == 0) continue;
            b[j] -= lr_t * delta[j];
            js[nr++] = j;
            if (nr == 4) {
                FN(af_back_rows)(W, n_in, js, 4, delta, (TYPE)s, step, a_w, pv);
                nr = 0;
            }
        }
        FN(af_back_rows)(W, n_in, js, nr, delta, (TYPE)s, step, a_w, pv);
        scales[l] = s_new;
        if (dropped) FN(af_dropout_back)(pv, a_in, &dr, n_in);
        FN(af_act_backward_inplace)(net->acts[l - 1], (TYPE)net->act_params[l - 1], a_in,
                                    zbuf ? zbuf + a_off : NULL, pv, pv, n_in);
        TYPE *t = delta;
        delta = prev;
        prev = t;
    }

    /* The first layer: no delta to push further down. */
    if (wt0) {
        if (scales[0] < AF_SCALE_MIN) FN(af_fold)(wt0, n_in0 * n_out0, &scales[0]);
        const double s_new = scales[0] * decay, step = lr / s_new;
        FN(af_sparse_update_any)(wt0, n_out0, idx, val, nnz, step, delta);
        for (int64_t j = 0; j < n_out0; j++) b0[j] -= lr_t * delta[j];
        scales[0] = s_new;
    } else {
        if (scales[0] < AF_SCALE_MIN) FN(af_fold)(params, n_in0 * n_out0, &scales[0]);
        const double s_new = scales[0] * decay, step = lr / s_new;
        int64_t js[4];
        int nr = 0;
        for (int64_t j = 0; j < n_out0; j++) {
            if (delta[j] == 0) continue;
            b0[j] -= lr_t * delta[j];
            js[nr++] = j;
            if (nr == 4) {
                FN(af_update_rows)(params, n_in0, js, 4, delta, step, x);
                nr = 0;
            }
        }
        FN(af_update_rows)(params, n_in0, js, nr, delta, step, x);
        scales[0] = s_new;
    }
    return loss;
}

/* scikit-learn's rule (af_net.weight_sum_divisor) for a batch of one sample of
 * weight w: (w g + mu W) / w = g + (mu / w) W, and loss_sum gains w l / w = l.
 * So the sample goes unweighted (*w = 1) with decay 1 - lr mu / w (*decay); a
 * zero weight takes no step (returns 1: skip).  The caller keeps lr mu / w
 * within the lazy decay's bound. */
static inline int FN(af_sum_rule)(const af_net *net, double lr, double mu, double *w,
                                  double *decay)
{
    if (!net->weight_sum_divisor || !net->sample_weight) return 0;
    if (*w == 0) return 1;
    *decay = 1.0 - lr * mu / *w;
    *w = 1.0;
    return 0;
}

int FN(af_sgd)(const af_net *net, double lr, double mu, TYPE *params, double *scales,
               const TYPE *X, const TYPE *Y, const int64_t *order, int64_t n_order,
               TYPE *scratch, double *loss_sum, int64_t *n_done)
{
    const int64_t n_x = net->sizes[0], n_y = net->sizes[net->n_layers];
    const int64_t n_params = af_n_params(net);
    const int64_t sum_width = af_sum_width(net), max_width = af_max_width(net);
    const int64_t z_width = af_z_width(net);
    const double decay = 1.0 - lr * mu;
    double total = 0;
    for (int64_t s = 0; s < n_order; s++) {
        const int64_t r = order[s];
        double w = net->sample_weight ? net->sample_weight[r] : 1.0, d = decay;
        if (FN(af_sum_rule)(net, lr, mu, &w, &d)) continue;
        const double loss =
            FN(af_sgd_one)(net, params, scales, d, lr, X + r * n_x, NULL, NULL, NULL, 0,
                           Y + r * n_y, w, scratch, n_params, sum_width, max_width, z_width, r);
        if (!isfinite(loss)) {
            *loss_sum = total;
            *n_done = s;
            return AF_E_NONFINITE;
        }
        total += loss;
    }
    *loss_sum = total;
    *n_done = n_order;
    return AF_OK;
}

int FN(af_sgd_sparse)(const af_net *net, double lr, double mu, TYPE *params, TYPE *wt0,
                      double *scales, const TYPE *data, const int64_t *indices,
                      const int64_t *indptr, const TYPE *Y, const int64_t *order,
                      int64_t n_order, TYPE *scratch, double *loss_sum, int64_t *n_done)
{
    const int64_t n_y = net->sizes[net->n_layers];
    const int64_t n_params = af_n_params(net);
    const int64_t sum_width = af_sum_width(net), max_width = af_max_width(net);
    const int64_t z_width = af_z_width(net);
    const double decay = 1.0 - lr * mu;
    double total = 0;
    for (int64_t s = 0; s < n_order; s++) {
        const int64_t r = order[s], start = indptr[r];
        if (s + 1 < n_order) {
            /* The next sample's inputs sit anywhere in memory (shuffled order):
             * ask for them now, so they arrive while this sample trains. */
            const int64_t r1 = order[s + 1], a = indptr[r1], b = indptr[r1 + 1];
            for (int64_t q = a; q < b; q += 64 / sizeof(int64_t)) {
                AF_PREFETCH(indices + q);
                AF_PREFETCH(data + q);
            }
            AF_PREFETCH(Y + r1 * n_y);
        }
        double w = net->sample_weight ? net->sample_weight[r] : 1.0, d = decay;
        if (FN(af_sum_rule)(net, lr, mu, &w, &d)) continue;
        const double loss = FN(af_sgd_one)(net, params, scales, d, lr, NULL, wt0,
                                           indices + start, data + start, indptr[r + 1] - start,
                                           Y + r * n_y, w, scratch, n_params, sum_width,
                                           max_width, z_width, r);
        if (!isfinite(loss)) {
            *loss_sum = total;
            *n_done = s;
            return AF_E_NONFINITE;
        }
        total += loss;
    }
    *loss_sum = total;
    *n_done = n_order;
    return AF_OK;
}
