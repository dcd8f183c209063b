/* annfast: losses, backprop and the optimizer updates, for one TYPE.
 * Included by af_kernels.c once per TYPE, after af_dense.template.c. */
#ifndef TYPE
#error "TYPE must be defined before including af_train.template.c"
#endif

#include "af_dropout.h"

static inline TYPE FN(af_clip)(TYPE p)
{
    const TYPE lo = AF_TYPE_EPS, hi = (TYPE)1 - AF_TYPE_EPS;
    return p < lo ? lo : (p > hi ? hi : p);
}

/* Output delta dL/dz for one sample, into delta (k values); returns the loss
 * (see af.h for each loss).  For the matched pairs (af_loss_matched_act:
 * identity + MSE, sigmoid + BCE, softmax + CE, exponential + Poisson) dL/dz =
 * a - y exactly, the numerically sound form; any other pairing computes dL/da
 * and goes through the activation's Jacobian (z: the output pre-activations,
 * read only when the activation needs them).  Loss and delta are both scaled
 * by loss_scale. */
double FN(af_output_delta)(const af_net *net, const TYPE *a, const TYPE *z, const TYPE *y,
                           TYPE *delta, int64_t k)
{
    const int64_t last = net->n_layers - 1;
    const int32_t act = net->acts[last];
    const int keras = net->prob_eps > 0;
    const double ls = net->label_smoothing;
    /* Keras' Poisson value has an epsilon a - y shortcut would drop. */
    const int matched =
        act == af_loss_matched_act(net->loss) && !(keras && net->loss == AF_LOSS_POISSON);
    /* Keras' clip bounds, and the gradient is zero outside them. */
    const TYPE lo = keras ? (TYPE)net->prob_eps : AF_TYPE_EPS, hi = (TYPE)1 - lo;
    double loss = 0;
    int64_t i;
    switch (net->loss) {
    case AF_LOSS_BCE:
        for (i = 0; i < k; i++) {
            const TYPE yi = ls != 0 ? (TYPE)(y[i] * (1.0 - ls) + 0.5 * ls) : y[i];
            const TYPE p = keras ? (a[i] < lo ? lo : (a[i] > hi ? hi : a[i])) : FN(af_clip)(a[i]);
            loss -= (double)yi * log((double)p) + (1.0 - (double)yi) * log(1.0 - (double)p);
            if (matched)
                delta[i] = a[i] - yi;
            else if (keras && (a[i] < lo || a[i] > hi))
                delta[i] = 0;
            else
                delta[i] = (p - yi) / (p * ((TYPE)1 - p));
        }
        break;
    case AF_LOSS_CE:
        if (keras && !matched) {
            /* Keras divides the outputs by their sum first: p = clip(a / S). */
            TYPE S = 0, gp = 0;
            for (i = 0; i < k; i++) S += a[i];
            if (!(S > 0 || S < 0)) loss = NAN; /* no rescale of a zero (or NaN) sum */
            for (i = 0; i < k; i++) {
                const TYPE yi = ls != 0 ? (TYPE)(y[i] * (1.0 - ls) + ls / (double)k) : y[i];
                const TYPE u = a[i] / S, p = u < lo ? lo : (u > hi ? hi : u);
                if (yi != 0) loss -= (double)yi * log((double)p);
                delta[i] = u < lo || u > hi ? (TYPE)0 : -yi / p; /* dL/dp */
                gp += delta[i] * u;
            }
            /* dp_j/da_i = (delta_ij - p_j) / S. */
            for (i = 0; i < k; i++) delta[i] = (delta[i] - gp) / S;
            break;
        }
        for (i = 0; i < k; i++) {
            const TYPE yi = ls != 0 ? (TYPE)(y[i] * (1.0 - ls) + ls / (double)k) : y[i];
            const TYPE p = keras ? (a[i] < lo ? lo : (a[i] > hi ? hi : a[i])) : FN(af_clip)(a[i]);
            if (yi != 0) loss -= (double)yi * log((double)p);
            if (matched)
                delta[i] = a[i] - yi;
            else
                delta[i] = -yi / p;
        }
        break;
    case AF_LOSS_MAE:
        for (i = 0; i < k; i++) {
            const TYPE d = a[i] - y[i];
            loss += fabs((double)d);
            delta[i] = d > 0 ? (TYPE)1 : (d < 0 ? (TYPE)-1 : (TYPE)0);
        }
        break;
    case AF_LOSS_HUBER: {
        const double h = net->huber_delta;
        for (i = 0; i < k; i++) {
            const TYPE d = a[i] - y[i];
            const double ad = fabs((double)d);
            loss += ad <= h ? 0.5 * (double)d * (double)d : h * ad - 0.5 * h * h;
            delta[i] = ad <= h ? d : (d > 0 ? (TYPE)h : (TYPE)-h);
        }
        break;
    }
    case AF_LOSS_LOGCOSH:
        for (i = 0; i < k; i++) {
            const TYPE d = a[i] - y[i];
            const double ad = fabs((double)d);
            /* log cosh d = |d| + log1p(e^(-2|d|)) - log 2: no overflow. */
            loss += ad + log1p(exp(-2.0 * ad)) - 0.69314718055994530942;
            delta[i] = AF_TANH(d);
        }
        break;
    case AF_LOSS_POISSON:
        for (i = 0; i < k; i++) {
            const double ai = a[i], yi = y[i];
            if (yi < 0) loss = NAN; /* the caller rejects these; never a wrong number */
            if (keras) {
                loss += ai - yi * log(ai + net->prob_eps);
                delta[i] = (TYPE)(1.0 - yi / (ai + net->prob_eps));
            } else {
                loss += ai - yi + (yi > 0 ? yi * log(yi / ai) : 0.0);
                /* y = 0 contributes a alone: no 0 / 0 at a = 0 (a relu output). */
                delta[i] = matched ? a[i] - y[i] : (TYPE)(1.0 - (yi > 0 ? yi / ai : 0.0));
            }
        }
        break;
    case AF_LOSS_KLD:
        for (i = 0; i < k; i++) {
            const TYPE yc = y[i] < lo ? lo : (y[i] > 1 ? (TYPE)1 : y[i]);
            const TYPE p = a[i] < lo ? lo : (a[i] > 1 ? (TYPE)1 : a[i]);
            loss += (double)yc * log((double)yc / (double)p);
            delta[i] = a[i] < lo || a[i] > 1 ? (TYPE)0 : -yc / p;
        }
        break;
    case AF_LOSS_HINGE:
    case AF_LOSS_SQUARED_HINGE: {
        const int squared = net->loss == AF_LOSS_SQUARED_HINGE;
        for (i = 0; i < k; i++) {
            const TYPE t = y[i] == 0 ? (TYPE)-1 : y[i];
            const TYPE m = (TYPE)1 - t * a[i];
            if (m > 0) {
                loss += squared ? (double)m * (double)m : (double)m;
                delta[i] = squared ? (TYPE)-2 * t * m : -t;
            } else {
                if (m != m) loss = NAN;
                delta[i] = 0;
            }
        }
        break;
    }
    case AF_LOSS_BCE_LOGITS:
        for (i = 0; i < k; i++) {
            const TYPE yi = ls != 0 ? (TYPE)(y[i] * (1.0 - ls) + 0.5 * ls) : y[i];
            const double ai = a[i];
            loss += (ai > 0 ? ai : 0.0) - ai * (double)yi + log1p(exp(-fabs(ai)));
            delta[i] = FN(af_sigmoid)(a[i]) - yi;
        }
        break;
    case AF_LOSS_CE_LOGITS: {
        TYPE m = a[0], S = 0, sy = 0;
        for (i = 1; i < k; i++) m = a[i] > m ? a[i] : m;
        for (i = 0; i < k; i++) S += AF_EXP(a[i] - m);
        const double lse = (double)m + log((double)S);
        for (i = 0; i < k; i++) {
            const TYPE yi = ls != 0 ? (TYPE)(y[i] * (1.0 - ls) + ls / (double)k) : y[i];
            if (yi != 0) loss += (double)yi * (lse - (double)a[i]);
            sy += yi;
        }
        /* d/da sum_i y_i (lse - a_i) = softmax(a) sum(y) - y. */
        for (i = 0; i < k; i++) {
            const TYPE yi = ls != 0 ? (TYPE)(y[i] * (1.0 - ls) + ls / (double)k) : y[i];
            delta[i] = AF_EXP(a[i] - m) / S * sy - yi;
        }
        break;
    }
    case AF_LOSS_MAPE:
        for (i = 0; i < k; i++) {
            const TYPE d = a[i] - y[i], ay = y[i] < 0 ? -y[i] : y[i];
            const TYPE den = ay > (TYPE)AF_KERAS_EPS ? ay : (TYPE)AF_KERAS_EPS;
            loss += 100.0 * fabs((double)d) / (double)den;
            delta[i] = d > 0 ? (TYPE)100 / den : (d < 0 ? (TYPE)-100 / den : (TYPE)0);
        }
        break;
    case AF_LOSS_MSLE:
        for (i = 0; i < k; i++) {
            const TYPE e = (TYPE)AF_KERAS_EPS;
            const TYPE ac = a[i] > e ? a[i] : e, yc = y[i] > e ? y[i] : e;
            const double r = log1p((double)ac) - log1p((double)yc);
            loss += r * r;
            delta[i] = a[i] > e ? (TYPE)(2.0 * r / (1.0 + (double)ac)) : (TYPE)0;
        }
        break;
    default: /* AF_LOSS_MSE */
        for (i = 0; i < k; i++) {
            const TYPE d = a[i] - y[i];
            loss += 0.5 * (double)d * (double)d;
            delta[i] = d;
        }
        break;
    }
    if (!matched)
        FN(af_act_backward_inplace)(act, (TYPE)net->act_params[last], a, z, delta, delta, k);
    if (net->loss_scale != 1.0) {
        const TYPE s = (TYPE)net->loss_scale;
        for (i = 0; i < k; i++) delta[i] *= s;
        loss *= net->loss_scale;
    }
    return loss;
}

/* The sample weight w of a sample with output delta (k values) and loss:
 * scales the delta in place, returns the weighted loss. */
static inline double FN(af_weigh)(double w, TYPE *delta, int64_t k, double loss)
{
    if (w == 1.0) return loss;
    const TYPE wt = (TYPE)w;
    for (int64_t i = 0; i < k; i++) delta[i] *= wt;
    return loss * w;
}

/* Forward one sample x through every layer; the outputs of layer l land in
 * acts_buf at offset sizes[1] + ... + sizes[l], and, for the layers whose
 * activation needs them, the pre-activations at the same offset in zbuf
 * (NULL when no layer does).  dr NULL: no dropout; else a hidden layer with
 * a rate feeds the next its dropped copy (dr, row_key: af_dropout.h).
 * Always inlined, so that with dr NULL it compiles as if dropout did not
 * exist.  Returns the network output. */
static inline AF_ALWAYS_INLINE const TYPE *FN(af_forward_sample)(
    const af_net *net, const TYPE *params, const TYPE *x, TYPE *acts_buf, TYPE *zbuf,
    const af_drop *dr, uint64_t row_key)
{
    const TYPE *in = x;
    TYPE *out = acts_buf;
    for (int64_t l = 0; l < net->n_layers; l++) {
        const int64_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
        const int32_t act = net->acts[l];
        FN(af_rows_dot)(params, params + n_in * n_out, in, n_in, n_out, (TYPE)1, out);
        FN(af_act_keep_z)(act, (TYPE)net->act_params[l], out,
                          zbuf && af_act_needs_z(act) ? zbuf + (out - acts_buf) : NULL, n_out);
        params += (n_in + 1) * n_out;
        in = out;
        if (dr && l < net->n_layers - 1 && dr->rate[l] > 0) {
            FN(af_dropout_apply)(row_key, l, dr->rate[l], out, dr, n_out);
            in = out + dr->d_off;
        }
        out += n_out;
    }
    return in; /* the output layer's (never dropped) */
}

/* The same with dropout (dr->rate set): out of line, so that training without
 * dropout never reaches it. */
static AF_NOINLINE const TYPE *FN(af_forward_dropout)(const af_net *net, const TYPE *params,
                                                      const TYPE *x, TYPE *acts_buf,
                                                      TYPE *zbuf, const af_drop *dr,
                                                      uint64_t row_key)
{
    return FN(af_forward_sample)(net, params, x, acts_buf, zbuf, dr, row_key);
}

/* Forward, output delta and backprop of one sample (row `row` of X, which
 * keys its dropout masks), adding dL/dW = delta a^T and dL/db = delta into
 * grad (same layout as params).  params are unchanged.  scratch: per-sample
 * scratch (af.h), plus af_dropout_width with dropout.  Returns the loss. */
static double FN(af_accumulate_sample)(const af_net *net, const TYPE *params, const TYPE *x,
                                       const TYPE *y, double w, TYPE *grad, TYPE *scratch,
                                       int64_t n_params, int64_t sum_width, int64_t max_width,
                                       int64_t z_width, int64_t row)
{
    const int64_t L = net->n_layers;
    TYPE *acts_buf = scratch;
    TYPE *delta = scratch + sum_width, *prev = delta + max_width;
    TYPE *zbuf = z_width ? prev + max_width : NULL;
    const int64_t d_off = sum_width + 2 * max_width + z_width;
    const af_drop dr = {net->dropout, d_off, d_off + sum_width};
    const TYPE *out = dr.rate ? FN(af_forward_dropout)(net, params, x, acts_buf, zbuf, &dr,
                                                       af_drop_row_key(net, row))
                              : FN(af_forward_sample)(net, params, x, acts_buf, zbuf, NULL, 0);
    const double loss = FN(af_weigh)(w, delta, net->sizes[L],
                                     FN(af_output_delta)(net, out,
                                                         zbuf ? zbuf + (out - acts_buf) : NULL,
                                                         y, delta, net->sizes[L]));

    int64_t p_off = n_params, a_off = out - acts_buf;
    for (int64_t l = L - 1; l >= 0; l--) {
        const int64_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
        p_off -= (n_in + 1) * n_out;
        a_off -= n_in; /* start of this layer's input among acts_buf (if l > 0) */
        const TYPE *a_in = l > 0 ? acts_buf + a_off : x;
        /* With dropout on this layer's input, its weights saw the dropped copy. */
        const int dropped = l > 0 && dr.rate && dr.rate[l - 1] > 0;
        const TYPE *a_w = dropped ? a_in + dr.d_off : a_in;
        const TYPE *W = params + p_off;
        TYPE *gW = grad + p_off, *gb = gW + n_in * n_out;
        if (l > 0) memset(prev, 0, (size_t)n_in * sizeof(TYPE));
        for (int64_t j = 0; j < n_out; j++) {
            const TYPE dj = delta[j];
            const TYPE *Wj = W + j * n_in;
            TYPE *gWj = gW + j * n_in;
            for (int64_t i = 0; i < n_in; i++) gWj[i] += dj * a_w[i];
            if (l > 0)
                for (int64_t i = 0; i < n_in; i++) prev[i] += Wj[i] * dj;
            gb[j] += dj;
        }
        if (l > 0) {
            if (dropped) FN(af_dropout_back)(prev, a_in, &dr, n_in);
            FN(af_act_backward_inplace)(net->acts[l - 1], (TYPE)net->act_params[l - 1], a_in,
                                        zbuf ? zbuf + a_off : NULL, prev, prev, n_in);
            TYPE *t = delta;
            delta = prev;
            prev = t;
        }
    }
    return loss;
}

/* Keras' regularizers on n values w: g += l1 sign(w) + 2 l2 w (sign(0) = 0, the
 * derivative autograd gives |w| at 0); returns l1 sum|w| + l2 sum w^2. */
static double FN(af_add_penalty)(const TYPE *restrict w, TYPE *restrict g, int64_t n,
                                 double l1, double l2)
{
    const TYPE a = (TYPE)l1, b = (TYPE)(2.0 * l2);
    double s1 = 0, s2 = 0;
    if (l1 == 0 && l2 == 0) return 0;
    for (int64_t i = 0; i < n; i++) {
        const TYPE sign = (TYPE)((w[i] > 0) - (w[i] < 0));
        s1 += fabs((double)w[i]);
        s2 += (double)w[i] * (double)w[i];
        g[i] += a * sign + b * w[i];
    }
    return l1 * s1 + l2 * s2;
}

/* Squared norm in double (no float overflow), and g *= clip / norm when the norm
 * exceeds clip (Keras' clip_by_norm / clip_by_global_norm, which leave g alone
 * otherwise). */
static double FN(af_sum_sq)(const TYPE *g, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)g[i] * (double)g[i];
    return s;
}

static void FN(af_clip_to_norm)(TYPE *g, int64_t n, double sum_sq, double clip)
{
    const double norm = sqrt(sum_sq);
    if (!(norm > clip)) return;
    const TYPE scale = (TYPE)(clip / norm);
    for (int64_t i = 0; i < n; i++) g[i] *= scale;
}

/* Clipping of the batch gradient, before the weight decay and the rule (Keras'
 * order).  Per variable means each weight matrix and each bias vector. */
static void FN(af_clip_gradient)(const af_net *net, const af_opt *opt, TYPE *g,
                                 int64_t n_params)
{
    if (opt->clipnorm > 0) {
        int64_t off = 0;
        for (int64_t l = 0; l < net->n_layers; l++) {
            const int64_t n_w = net->sizes[l] * net->sizes[l + 1], n_b = net->sizes[l + 1];
            FN(af_clip_to_norm)(g + off, n_w, FN(af_sum_sq)(g + off, n_w), opt->clipnorm);
            FN(af_clip_to_norm)(g + off + n_w, n_b, FN(af_sum_sq)(g + off + n_w, n_b),
                                opt->clipnorm);
            off += n_w + n_b;
        }
    } else if (opt->global_clipnorm > 0) {
        FN(af_clip_to_norm)(g, n_params, FN(af_sum_sq)(g, n_params), opt->global_clipnorm);
    } else if (opt->clipvalue > 0) {
        const TYPE hi = (TYPE)opt->clipvalue, lo = -hi;
        for (int64_t i = 0; i < n_params; i++) g[i] = g[i] < lo ? lo : (g[i] > hi ? hi : g[i]);
    }
}

/* The rules of the optimizers added after the first five, Keras 3's forms. */
static AF_NOINLINE void FN(af_apply_rule)(af_opt *opt, TYPE *restrict p, TYPE *restrict state,
                              const TYPE *restrict g, int64_t n)
{
    const TYPE lr = (TYPE)opt->lr, eps = (TYPE)opt->epsilon, rho = (TYPE)opt->rho;
    const TYPE b1 = (TYPE)opt->beta1, b2 = (TYPE)opt->beta2;
    TYPE *restrict s0 = state, *restrict s1 = state + n;
    switch (opt->kind) {
    case AF_OPT_ADAGRAD: {
        const TYPE a0 = (TYPE)opt->initial_accumulator;
        for (int64_t i = 0; i < n; i++) {
            s0[i] += g[i] * g[i];
            p[i] -= lr * g[i] / AF_SQRT(s0[i] + a0 + eps);
        }
        break;
    }
    case AF_OPT_ADADELTA:
        for (int64_t i = 0; i < n; i++) {
            s0[i] = rho * s0[i] + ((TYPE)1 - rho) * (g[i] * g[i]);
            const TYPE d = -(AF_SQRT(s1[i] + eps) * g[i]) / AF_SQRT(s0[i] + eps);
            s1[i] = rho * s1[i] + ((TYPE)1 - rho) * (d * d);
            p[i] += lr * d;
        }
        break;
    case AF_OPT_ADAMAX: {
        opt->t += 1;
        const TYPE bc1 = (TYPE)(1.0 - pow(opt->beta1, (double)opt->t));
        for (int64_t i = 0; i < n; i++) {
            s0[i] += (g[i] - s0[i]) * ((TYPE)1 - b1);
            const TYPE ag = g[i] < 0 ? -g[i] : g[i], bu = b2 * s1[i];
            s1[i] = bu > ag ? bu : ag;
            p[i] -= lr * s0[i] / (bc1 * (s1[i] + eps));
        }
        break;
    }
    case AF_OPT_NADAM: {
        /* The product of the momentum schedule u_1 .. u_t lives after the two
         * slots; a fresh start (t = 0) begins it at 1. */
        const double t = (double)(opt->t + 1), b1d = opt->beta1;
        const double u_t = b1d * (1.0 - 0.5 * pow(0.96, t));
        const double u_next = b1d * (1.0 - 0.5 * pow(0.96, t + 1.0));
        const double prod = (opt->t > 0 ? (double)state[2 * n] : 1.0) * u_t;
        const double prod_next = prod * u_next;
        const TYPE c_m = (TYPE)(u_next / (1.0 - prod_next));
        const TYPE c_g = (TYPE)((1.0 - u_t) / (1.0 - prod));
        const TYPE bc2 = (TYPE)(1.0 - pow(opt->beta2, t));
        state[2 * n] = (TYPE)prod;
        opt->t += 1;
        for (int64_t i = 0; i < n; i++) {
            s0[i] += (g[i] - s0[i]) * ((TYPE)1 - b1);
            s1[i] += (g[i] * g[i] - s1[i]) * ((TYPE)1 - b2);
            const TYPE m_hat = c_m * s0[i] + c_g * g[i];
            p[i] -= m_hat * lr / (AF_SQRT(s1[i] / bc2) + eps);
        }
        break;
    }
    case AF_OPT_ADAM: { /* amsgrad; the plain rule is in af_apply_step */
        opt->t += 1;
        const double t = (double)opt->t;
        const TYPE lr_t =
            (TYPE)(opt->lr * sqrt(1.0 - pow(opt->beta2, t)) / (1.0 - pow(opt->beta1, t)));
        TYPE *restrict vmax = state + 2 * n;
        for (int64_t i = 0; i < n; i++) {
            s0[i] = b1 * s0[i] + ((TYPE)1 - b1) * g[i];
            s1[i] = b2 * s1[i] + ((TYPE)1 - b2) * (g[i] * g[i]);
            vmax[i] = vmax[i] > s1[i] ? vmax[i] : s1[i];
            p[i] += -lr_t * s0[i] / (AF_SQRT(vmax[i]) + eps);
        }
        break;
    }
    case AF_OPT_RMSPROP: { /* with momentum and/or centered */
        const TYPE mom = (TYPE)opt->momentum;
        const int use_mom = opt->momentum > 0;
        TYPE *restrict ms = state + n, *restrict avg = state + (use_mom ? 2 : 1) * n;
        for (int64_t i = 0; i < n; i++) {
            s0[i] = rho * s0[i] + ((TYPE)1 - rho) * (g[i] * g[i]);
            TYPE denom = s0[i] + eps;
            if (opt->centered) {
                avg[i] = rho * avg[i] + ((TYPE)1 - rho) * g[i];
                denom = s0[i] - avg[i] * avg[i] + eps;
            }
            const TYPE inc = lr * g[i] / AF_SQRT(denom);
            if (use_mom) {
                ms[i] = mom * ms[i] + inc;
                p[i] -= ms[i];
            } else {
                p[i] -= inc;
            }
        }
        break;
    }
    default:
        break;
    }
}

/* Keras' order after the batch gradient: the penalties' gradient (and value),
 * clipping, then the decoupled weight decay p -= p wd lr. */
static AF_NOINLINE void FN(af_step_options)(const af_net *net, af_opt *opt, TYPE *restrict p,
                                            TYPE *restrict g, int64_t batch_len,
                                            int64_t n_params)
{
    if (opt->penalties) {
        double penalty = 0;
        int64_t off = 0;
        for (int64_t l = 0; l < net->n_layers; l++) {
            const double *r = opt->penalties + 4 * l;
            const int64_t n_w = net->sizes[l] * net->sizes[l + 1], n_b = net->sizes[l + 1];
            penalty += FN(af_add_penalty)(p + off, g + off, n_w, r[0], r[1]);
            penalty += FN(af_add_penalty)(p + off + n_w, g + off + n_w, n_b, r[2], r[3]);
            off += n_w + n_b;
        }
        opt->penalty_sum += (double)batch_len * penalty;
    }
    if (opt->clipnorm > 0 || opt->global_clipnorm > 0 || opt->clipvalue > 0)
        FN(af_clip_gradient)(net, opt, g, n_params);
    if (opt->weight_decay != 0) {
        const TYPE wd = (TYPE)opt->weight_decay, lr = (TYPE)opt->lr;
        for (int64_t i = 0; i < n_params; i++) p[i] = p[i] - p[i] * wd * lr;
    }
}

/* Apply one optimizer step from the summed gradient of a batch of batch_len
 * samples: g = (grad_W + l2 W) / divisor for weights, grad_b / divisor for
 * biases (divisor: batch_len, or the batch's weight sum, see af_batch_divisor);
 * then the penalties' gradient, clipping, the decoupled weight decay and the
 * rule of opt->kind, per parameter (Keras' order). */
static void FN(af_apply_step)(const af_net *net, af_opt *opt, TYPE *params, TYPE *state,
                              TYPE *grad, int64_t batch_len, double divisor, int64_t n_params)
{
    const TYPE n = (TYPE)divisor, l2 = (TYPE)opt->l2, lr = (TYPE)opt->lr;
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
    /* Each option is one test per batch when off, and its code stays out of line:
     * the first five rules then compile exactly as before (same bits). */
    if (opt->penalties || opt->clipnorm > 0 || opt->global_clipnorm > 0 ||
        opt->clipvalue > 0 || opt->weight_decay != 0)
        FN(af_step_options)(net, opt, p, g, batch_len, n_params);
    if (opt->kind >= AF_OPT_ADAGRAD || (opt->kind == AF_OPT_ADAM && opt->amsgrad) ||
        (opt->kind == AF_OPT_RMSPROP && (opt->momentum > 0 || opt->centered))) {
        FN(af_apply_rule)(opt, p, state, g, n_params);
        return;
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

/* What a batch's summed gradient is divided by: its length, or with
 * weight_sum_divisor and weights the sum of its rows' weights (0 for a batch
 * of zero weights: the caller then takes no step).  *loss_factor: what each
 * weighted loss is multiplied by before it is added to loss_sum (1, or
 * length / sum; 0 when the sum is 0, whose weighted losses are 0 anyway). */
static inline double FN(af_batch_divisor)(const af_net *net, const af_opt *opt,
                                          const int64_t *rows, int64_t len,
                                          double *loss_factor)
{
    *loss_factor = 1.0;
    if (!opt || !net->weight_sum_divisor || !net->sample_weight) return (double)len;
    double sum = 0;
    for (int64_t s = 0; s < len; s++) sum += net->sample_weight[rows[s]];
    *loss_factor = sum > 0 ? (double)len / sum : 0.0;
    return sum;
}

int FN(af_train)(const af_net *net, af_opt *opt, TYPE *params, TYPE *opt_state, const TYPE *X,
                 const TYPE *Y, const int64_t *order, int64_t n_order, int64_t batch_size,
                 TYPE *grad, TYPE *scratch, double *loss_sum, int64_t *n_done)
{
    const int64_t n_x = net->sizes[0], n_y = net->sizes[net->n_layers];
    const int64_t n_params = af_n_params(net);
    const int64_t sum_width = af_sum_width(net), max_width = af_max_width(net);
    const int64_t z_width = af_z_width(net);
    double total = 0;
    *loss_sum = 0;
    *n_done = 0;
    if (batch_size < 1 || opt->kind < 0 || opt->kind >= AF_N_OPT) return AF_E_ARGUMENT;

    for (int64_t start = 0; start < n_order; start += batch_size) {
        const int64_t stop = start + batch_size < n_order ? start + batch_size : n_order;
        double factor;
        const double divisor = FN(af_batch_divisor)(net, opt, order + start, stop - start,
                                                    &factor);
        memset(grad, 0, (size_t)n_params * sizeof(TYPE));
        for (int64_t s = start; s < stop; s++) {
            const int64_t r = order[s];
            const double loss =
                FN(af_accumulate_sample)(net, params, X + r * n_x, Y + r * n_y,
                                         net->sample_weight ? net->sample_weight[r] : 1.0, grad,
                                         scratch, n_params, sum_width, max_width, z_width, r);
            if (!isfinite(loss)) {
                *loss_sum = total;
                *n_done = s;
                return AF_E_NONFINITE;
            }
            total += loss * factor;
        }
        if (divisor > 0) /* a batch whose weights are all zero takes no step */
            FN(af_apply_step)(net, opt, params, opt_state, grad, stop - start, divisor,
                              n_params);
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
    const int64_t z_width = af_z_width(net);
    double total = 0;
    memset(grad, 0, (size_t)n_params * sizeof(TYPE));
    for (int64_t s = 0; s < n; s++)
        total += FN(af_accumulate_sample)(net, params, X + s * n_x, Y + s * n_y,
                                          net->sample_weight ? net->sample_weight[s] : 1.0, grad,
                                          scratch, n_params, sum_width, max_width, z_width,
                                          s);
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
    const int64_t sum_width = af_sum_width(net), z_width = af_z_width(net);
    TYPE one = 1, zero = 0;
    char tr_n = 'N', tr_t = 'T';
    double total = 0;
    *loss_sum = 0;
    *n_done = 0;
    if (batch_size < 1 || (opt && (opt->kind < 0 || opt->kind >= AF_N_OPT))) return AF_E_ARGUMENT;

    /* The caller sizes scratch for the largest batch this call can hold. */
    const int64_t rows = batch_size < n_order ? batch_size : n_order;
    TYPE *acts = scratch; /* A_0 .. A_L, each (B, sizes[l]) row-major */
    TYPE *dA = scratch + rows * sum_width, *dB = dA + rows * max_width;
    /* Pre-activations where needed, each at its activations' offset from acts. */
    TYPE *zs = z_width ? dB + rows * max_width : NULL;
    /* Dropout's regions follow, each at a fixed distance from acts. */
    const int64_t d_off = rows * (sum_width + 2 * max_width + z_width);
    const af_drop dr = {net->dropout, d_off, d_off + rows * sum_width};
    for (int64_t start = 0; start < n_order; start += batch_size) {
        const int64_t stop = start + batch_size < n_order ? start + batch_size : n_order;
        int B = (int)(stop - start);
        double factor;
        const double divisor = FN(af_batch_divisor)(net, opt, order + start, B, &factor);
        for (int r = 0; r < B; r++)
            memcpy(acts + (int64_t)r * n_x, X + order[start + r] * n_x, (size_t)n_x * sizeof(TYPE));

        /* Forward: A_{l+1} = act(A_l W_l^T + b_l). */
        TYPE *A = acts, *p = params;
        for (int64_t l = 0; l < L; l++) {
            int n_in = (int)net->sizes[l], n_out = (int)net->sizes[l + 1];
            TYPE *Z = A + (int64_t)B * n_in, *b = p + (int64_t)n_in * n_out;
            /* With dropout on this input, the layer reads its dropped copy. */
            TYPE *A_in = l > 0 && dr.rate && dr.rate[l - 1] > 0 ? A + dr.d_off : A;
            gemm(&tr_t, &tr_n, &n_out, &B, &n_in, &one, p, &n_in, A_in, &n_in, &zero, Z,
                 &n_out);
            const int32_t act = net->acts[l];
            TYPE *zl = zs && af_act_needs_z(act) ? zs + (Z - acts) : NULL;
            for (int r = 0; r < B; r++) {
                TYPE *row = Z + (int64_t)r * n_out;
                for (int j = 0; j < n_out; j++) row[j] += b[j];
                FN(af_act_keep_z)(act, (TYPE)net->act_params[l], row,
                                  zl ? zl + (int64_t)r * n_out : NULL, n_out);
            }
            if (l < L - 1 && dr.rate && dr.rate[l] > 0)
                for (int r = 0; r < B; r++)
                    FN(af_dropout_apply)(af_drop_row_key(net, order[start + r]), l, dr.rate[l],
                                         Z + (int64_t)r * n_out, &dr, n_out);
            p += (int64_t)(n_in + 1) * n_out;
            A = Z;
        }

        /* Output deltas, one row per sample. */
        TYPE *D = dA, *P = dB;
        for (int r = 0; r < B; r++) {
            const int64_t row = order[start + r];
            const double loss = FN(af_weigh)(
                net->sample_weight ? net->sample_weight[row] : 1.0, D + (int64_t)r * n_y, n_y,
                FN(af_output_delta)(net, A + (int64_t)r * n_y,
                                    zs ? zs + (A - acts) + (int64_t)r * n_y : NULL,
                                    Y + row * n_y, D + (int64_t)r * n_y, n_y));
            if (!isfinite(loss)) {
                *loss_sum = total;
                *n_done = start + r;
                return AF_E_NONFINITE;
            }
            total += loss * factor;
        }

        /* Backward: G_l = D^T A_l, g_b = column sums of D, D_prev = (D W_l) * act'. */
        int64_t p_off = n_params;
        for (int64_t l = L - 1; l >= 0; l--) {
            int n_in = (int)net->sizes[l], n_out = (int)net->sizes[l + 1];
            p_off -= (int64_t)(n_in + 1) * n_out;
            A -= (int64_t)B * n_in; /* A_l, this layer's input */
            const int dropped = l > 0 && dr.rate && dr.rate[l - 1] > 0;
            TYPE *A_w = dropped ? A + dr.d_off : A;
            TYPE *W = params + p_off, *gW = grad + p_off, *gb = gW + (int64_t)n_in * n_out;
            gemm(&tr_n, &tr_t, &n_in, &n_out, &B, &one, A_w, &n_in, D, &n_out, &zero, gW, &n_in);
            for (int j = 0; j < n_out; j++) gb[j] = 0;
            for (int r = 0; r < B; r++)
                for (int j = 0; j < n_out; j++) gb[j] += D[(int64_t)r * n_out + j];
            if (l > 0) {
                gemm(&tr_n, &tr_n, &n_in, &B, &n_out, &one, W, &n_in, D, &n_out, &zero, P, &n_in);
                if (dropped) FN(af_dropout_back)(P, A, &dr, (int64_t)B * n_in);
                const TYPE *zl = zs ? zs + (A - acts) : NULL;
                for (int r = 0; r < B; r++)
                    FN(af_act_backward_inplace)(net->acts[l - 1], (TYPE)net->act_params[l - 1],
                                                A + (int64_t)r * n_in,
                                                zl ? zl + (int64_t)r * n_in : NULL,
                                                P + (int64_t)r * n_in, P + (int64_t)r * n_in,
                                                n_in);
                TYPE *t = D;
                D = P;
                P = t;
            }
        }
        /* Without an optimizer the batch's summed gradient stays in grad. */
        if (opt && divisor > 0)
            FN(af_apply_step)(net, opt, params, opt_state, grad, B, divisor, n_params);
    }
    *loss_sum = total;
    *n_done = n_order;
    return AF_OK;
}

void FN(af_apply_gradient)(const af_net *net, af_opt *opt, TYPE *params, TYPE *opt_state,
                           TYPE *grad, int64_t batch_len, double divisor)
{
    FN(af_apply_step)(net, opt, params, opt_state, grad, batch_len, divisor, af_n_params(net));
}
