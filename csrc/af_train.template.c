/* annfast: losses, backprop and the optimizer updates, for one TYPE.
 * Included by af_kernels.c once per TYPE, after af_dense.template.c. */
#ifndef TYPE
#error "TYPE must be defined before including af_train.template.c"
#endif

static inline TYPE FN(af_clip)(TYPE p)
{
    const TYPE lo = AF_TYPE_EPS, hi = (TYPE)1 - AF_TYPE_EPS;
    return p < lo ? lo : (p > hi ? hi : p);
}

/* Output delta dL/dz for one sample, into delta (k values); returns the loss.
 * For the three matched pairs (identity + MSE, sigmoid + binary cross-entropy,
 * softmax + categorical cross-entropy) dL/dz = a - y exactly, which is the
 * numerically sound form; any other pairing goes through dL/da and the
 * activation's Jacobian.  Loss and delta are both scaled by loss_scale. */
double FN(af_output_delta)(const af_net *net, const TYPE *a, const TYPE *y, TYPE *delta,
                           int64_t k)
{
    const int32_t act = net->acts[net->n_layers - 1];
    int matched = 0;
    double loss = 0;
    int64_t i;
    switch (net->loss) {
    case AF_LOSS_BCE:
        matched = act == AF_ACT_SIGMOID;
        for (i = 0; i < k; i++) {
            const TYPE p = FN(af_clip)(a[i]);
            loss -= (double)y[i] * log((double)p) + (1.0 - (double)y[i]) * log(1.0 - (double)p);
            delta[i] = matched ? a[i] - y[i] : (p - y[i]) / (p * ((TYPE)1 - p));
        }
        break;
    case AF_LOSS_CE:
        matched = act == AF_ACT_SOFTMAX;
        for (i = 0; i < k; i++) {
            const TYPE p = FN(af_clip)(a[i]);
            if (y[i] != 0) loss -= (double)y[i] * log((double)p);
            delta[i] = matched ? a[i] - y[i] : -y[i] / p;
        }
        break;
    default: /* AF_LOSS_MSE */
        matched = act == AF_ACT_IDENTITY;
        for (i = 0; i < k; i++) {
            const TYPE d = a[i] - y[i];
            loss += 0.5 * (double)d * (double)d;
            delta[i] = d;
        }
        break;
    }
    if (!matched) FN(af_act_backward_inplace)(act, (TYPE)net->slope, a, delta, delta, k);
    if (net->loss_scale != 1.0) {
        const TYPE s = (TYPE)net->loss_scale;
        for (i = 0; i < k; i++) delta[i] *= s;
        loss *= net->loss_scale;
    }
    return loss;
}

/* Forward, output delta and backprop of one sample, adding dL/dW = delta a^T
 * and dL/db = delta into grad (same layout as params).  params are unchanged.
 * scratch: af_sum_width + 2 * af_max_width values.  Returns the loss. */
static double FN(af_accumulate_sample)(const af_net *net, const TYPE *params, const TYPE *x,
                                       const TYPE *y, TYPE *grad, TYPE *scratch,
                                       int64_t n_params, int64_t sum_width, int64_t max_width)
{
    const int64_t L = net->n_layers;
    const TYPE slope = (TYPE)net->slope;
    TYPE *acts_buf = scratch;
    TYPE *delta = scratch + sum_width, *prev = delta + max_width;
    const TYPE *out = FN(af_forward_sample)(net, params, x, acts_buf);
    const double loss = FN(af_output_delta)(net, out, y, delta, net->sizes[L]);

    int64_t p_off = n_params, a_off = out - acts_buf;
    for (int64_t l = L - 1; l >= 0; l--) {
        const int64_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
        p_off -= (n_in + 1) * n_out;
        a_off -= n_in; /* start of this layer's input among acts_buf (if l > 0) */
        const TYPE *a_in = l > 0 ? acts_buf + a_off : x;
        const TYPE *W = params + p_off;
        TYPE *gW = grad + p_off, *gb = gW + n_in * n_out;
        if (l > 0) memset(prev, 0, (size_t)n_in * sizeof(TYPE));
        for (int64_t j = 0; j < n_out; j++) {
            const TYPE dj = delta[j];
            const TYPE *Wj = W + j * n_in;
            TYPE *gWj = gW + j * n_in;
            for (int64_t i = 0; i < n_in; i++) gWj[i] += dj * a_in[i];
            if (l > 0)
                for (int64_t i = 0; i < n_in; i++) prev[i] += Wj[i] * dj;
            gb[j] += dj;
        }
        if (l > 0) {
            FN(af_act_backward_inplace)(net->acts[l - 1], slope, a_in, prev, prev, n_in);
            TYPE *t = delta;
            delta = prev;
            prev = t;
        }
    }
    return loss;
}

/* Apply one optimizer step from the summed gradient of a batch of batch_len
 * samples: g = (grad_W + l2 W) / batch_len for weights, grad_b / batch_len
 * for biases; then the rule of opt->kind, per parameter. */
static void FN(af_apply_step)(const af_net *net, af_opt *opt, TYPE *params, TYPE *state,
                              TYPE *grad, int64_t batch_len, int64_t n_params)
{
    const TYPE n = (TYPE)batch_len, l2 = (TYPE)opt->l2, lr = (TYPE)opt->lr;
    const TYPE mom = (TYPE)opt->momentum;
    const TYPE b1 = (TYPE)opt->beta1, b2 = (TYPE)opt->beta2, eps = (TYPE)opt->epsilon;
    const TYPE rho = (TYPE)opt->rho;
    TYPE *restrict v = state, *restrict m2 = state + n_params;
    TYPE *restrict p = params, *restrict g = grad;

    /* g := the batch gradient, in place (the rules below then vectorize). */
    int64_t off = 0;
    for (int64_t l = 0; l < net->n_layers; l++) {
        const int64_t n_w = net->sizes[l] * net->sizes[l + 1], n_all = af_layer_params(net, l);
        for (int64_t i = off; i < off + n_w; i++) g[i] = (g[i] + l2 * p[i]) / n;
        for (int64_t i = off + n_w; i < off + n_all; i++) g[i] = g[i] / n;
        off += n_all;
    }
    switch (opt->kind) {
    case AF_OPT_MOMENTUM:
        for (int64_t i = 0; i < n_params; i++) {
            v[i] = mom * v[i] - lr * g[i];
            p[i] += v[i];
        }
        break;
    case AF_OPT_NESTEROV:
        for (int64_t i = 0; i < n_params; i++) {
            v[i] = mom * v[i] - lr * g[i];
            p[i] += mom * v[i] - lr * g[i];
        }
        break;
    case AF_OPT_ADAM: {
        opt->t += 1;
        const double t = (double)opt->t;
        const TYPE lr_t =
            (TYPE)(opt->lr * sqrt(1.0 - pow(opt->beta2, t)) / (1.0 - pow(opt->beta1, t)));
        for (int64_t i = 0; i < n_params; i++) {
            v[i] = b1 * v[i] + ((TYPE)1 - b1) * g[i];
            m2[i] = b2 * m2[i] + ((TYPE)1 - b2) * (g[i] * g[i]);
            p[i] += -lr_t * v[i] / (AF_SQRT(m2[i]) + eps);
        }
        break;
    }
    case AF_OPT_RMSPROP:
        for (int64_t i = 0; i < n_params; i++) {
            v[i] = rho * v[i] + ((TYPE)1 - rho) * (g[i] * g[i]);
            p[i] -= lr * g[i] / AF_SQRT(v[i] + eps);
        }
        break;
    default: /* AF_OPT_SGD */
        for (int64_t i = 0; i < n_params; i++) p[i] -= lr * g[i];
        break;
    }
}

int FN(af_train)(const af_net *net, af_opt *opt, TYPE *params, TYPE *opt_state, const TYPE *X,
                 const TYPE *Y, const int64_t *order, int64_t n_order, int64_t batch_size,
                 TYPE *grad, TYPE *scratch, double *loss_sum, int64_t *n_done)
{
    const int64_t n_x = net->sizes[0], n_y = net->sizes[net->n_layers];
    const int64_t n_params = af_n_params(net);
    const int64_t sum_width = af_sum_width(net), max_width = af_max_width(net);
    double total = 0;
    *loss_sum = 0;
    *n_done = 0;
    if (batch_size < 1 || opt->kind < 0 || opt->kind >= AF_N_OPT) return AF_E_ARGUMENT;

    for (int64_t start = 0; start < n_order; start += batch_size) {
        const int64_t stop = start + batch_size < n_order ? start + batch_size : n_order;
        memset(grad, 0, (size_t)n_params * sizeof(TYPE));
        for (int64_t s = start; s < stop; s++) {
            const int64_t r = order[s];
            const double loss =
                FN(af_accumulate_sample)(net, params, X + r * n_x, Y + r * n_y, grad, scratch,
                                         n_params, sum_width, max_width);
            if (!isfinite(loss)) {
                *loss_sum = total;
                *n_done = s;
                return AF_E_NONFINITE;
            }
            total += loss;
        }
        FN(af_apply_step)(net, opt, params, opt_state, grad, stop - start, n_params);
    }
    *loss_sum = total;
    *n_done = n_order;
    return AF_OK;
}

int FN(af_gradient)(const af_net *net, const TYPE *params, const TYPE *X, const TYPE *Y,
                    int64_t n, TYPE *grad, TYPE *scratch, double *loss_sum)
{
    const int64_t n_x = net->sizes[0], n_y = net->sizes[net->n_layers];
    const int64_t n_params = af_n_params(net);
    const int64_t sum_width = af_sum_width(net), max_width = af_max_width(net);
    double total = 0;
    memset(grad, 0, (size_t)n_params * sizeof(TYPE));
    for (int64_t s = 0; s < n; s++)
        total += FN(af_accumulate_sample)(net, params, X + s * n_x, Y + s * n_y, grad, scratch,
                                          n_params, sum_width, max_width);
    *loss_sum = total;
    return isfinite(total) ? AF_OK : AF_E_NONFINITE;
}

/* Row-major M (rows x cols) is column-major M^T, so each row-major product
 * below is written as the column-major product of the transposes. */
int FN(af_train_gemm)(const af_net *net, af_opt *opt, TYPE *params, TYPE *opt_state,
                      const TYPE *X, const TYPE *Y, const int64_t *order, int64_t n_order,
                      int64_t batch_size, TYPE *grad, TYPE *scratch, double *loss_sum,
                      int64_t *n_done, AF_GEMM_FN gemm)
{
    const int64_t L = net->n_layers, n_x = net->sizes[0], n_y = net->sizes[L];
    const int64_t n_params = af_n_params(net), max_width = af_max_width(net);
    const int64_t sum_width = af_sum_width(net);
    const TYPE slope = (TYPE)net->slope;
    TYPE one = 1, zero = 0;
    char tr_n = 'N', tr_t = 'T';
    double total = 0;
    *loss_sum = 0;
    *n_done = 0;
    if (batch_size < 1 || opt->kind < 0 || opt->kind >= AF_N_OPT) return AF_E_ARGUMENT;

    /* The caller sizes scratch for the largest batch this call can hold. */
    const int64_t rows = batch_size < n_order ? batch_size : n_order;
    TYPE *acts = scratch; /* A_0 .. A_L, each (B, sizes[l]) row-major */
    TYPE *dA = scratch + rows * sum_width, *dB = dA + rows * max_width;
    for (int64_t start = 0; start < n_order; start += batch_size) {
        const int64_t stop = start + batch_size < n_order ? start + batch_size : n_order;
        int B = (int)(stop - start);
        for (int r = 0; r < B; r++)
            memcpy(acts + (int64_t)r * n_x, X + order[start + r] * n_x, (size_t)n_x * sizeof(TYPE));

        /* Forward: A_{l+1} = act(A_l W_l^T + b_l). */
        TYPE *A = acts, *p = params;
        for (int64_t l = 0; l < L; l++) {
            int n_in = (int)net->sizes[l], n_out = (int)net->sizes[l + 1];
            TYPE *Z = A + (int64_t)B * n_in, *b = p + (int64_t)n_in * n_out;
            gemm(&tr_t, &tr_n, &n_out, &B, &n_in, &one, p, &n_in, A, &n_in, &zero, Z, &n_out);
            for (int r = 0; r < B; r++) {
                TYPE *row = Z + (int64_t)r * n_out;
                for (int j = 0; j < n_out; j++) row[j] += b[j];
                FN(af_act_inplace)(net->acts[l], slope, row, n_out);
            }
            p += (int64_t)(n_in + 1) * n_out;
            A = Z;
        }

        /* Output deltas, one row per sample. */
        TYPE *D = dA, *P = dB;
        for (int r = 0; r < B; r++) {
            const double loss = FN(af_output_delta)(net, A + (int64_t)r * n_y,
                                                    Y + order[start + r] * n_y,
                                                    D + (int64_t)r * n_y, n_y);
            if (!isfinite(loss)) {
                *loss_sum = total;
                *n_done = start + r;
                return AF_E_NONFINITE;
            }
            total += loss;
        }

        /* Backward: G_l = D^T A_l, g_b = column sums of D, D_prev = (D W_l) * act'. */
        int64_t p_off = n_params;
        for (int64_t l = L - 1; l >= 0; l--) {
            int n_in = (int)net->sizes[l], n_out = (int)net->sizes[l + 1];
            p_off -= (int64_t)(n_in + 1) * n_out;
            A -= (int64_t)B * n_in; /* A_l, this layer's input */
            TYPE *W = params + p_off, *gW = grad + p_off, *gb = gW + (int64_t)n_in * n_out;
            gemm(&tr_n, &tr_t, &n_in, &n_out, &B, &one, A, &n_in, D, &n_out, &zero, gW, &n_in);
            for (int j = 0; j < n_out; j++) gb[j] = 0;
            for (int r = 0; r < B; r++)
                for (int j = 0; j < n_out; j++) gb[j] += D[(int64_t)r * n_out + j];
            if (l > 0) {
                gemm(&tr_n, &tr_n, &n_in, &B, &n_out, &one, W, &n_in, D, &n_out, &zero, P, &n_in);
                for (int r = 0; r < B; r++)
                    FN(af_act_backward_inplace)(net->acts[l - 1], slope, A + (int64_t)r * n_in,
                                                P + (int64_t)r * n_in, P + (int64_t)r * n_in,
                                                n_in);
                TYPE *t = D;
                D = P;
                P = t;
            }
        }
        FN(af_apply_step)(net, opt, params, opt_state, grad, B, n_params);
    }
    *loss_sum = total;
    *n_done = n_order;
    return AF_OK;
}
