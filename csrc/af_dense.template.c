/* annfast: the dense forward pass, for one TYPE.
 * Included by af_kernels.c once per TYPE (see af_types.h). */
#ifndef TYPE
#error "TYPE must be defined before including af_dense.template.c"
#endif

/* <x, y> over n values, in native SIMD vectors (FN(af_vec), af_types.h;
 * AF_VEC_BYTES is 16, 32 or 64 by ISA) with four accumulators to hide the
 * add latency, then the lanes in order, then the tail.  The order depends on
 * the ISA but never on the data: the same bits on every run. */
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
    for (int64_t k = 0; k < AF_VLEN; k++) s += AF_LANE(a0, k);
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
            s0 += AF_LANE(a0, k);
            s1 += AF_LANE(a1, k);
            s2 += AF_LANE(a2, k);
            s3 += AF_LANE(a3, k);
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

/* The batch forward pass holds each layer's weights transposed, outputs along
 * the vector lanes, in panels of four vectors of outputs: panel g holds
 * WT[i][j] = W[j][i] for its columns j0 <= j < j0 + G (G = 4 AF_VLEN, or what
 * is left of the padded width) at WT + j0 n_in + i G + (j - j0), so that a
 * tile streams through one contiguous panel; the padding is zero.  A tile of R
 * samples x V vectors of outputs then costs V weight loads and R broadcasts
 * per input for R x V multiply-adds, and no lanes are summed at the end.
 * Each output's sum runs sequentially over the inputs, one multiply-add at a
 * time from 0, then the bias: af_forward_rows below takes the same order
 * without the transposed copy, so a row has the same bits alone or in a
 * batch. */
/* Rows per tile: R x 4 accumulators and the 4 weight vectors of a step fit in
 * the 16 (AVX2) or 32 (AVX-512) vector registers.  Under AF_LANE_MIN_ROWS rows
 * the transposed copy costs more than it saves. */
#define AF_LANE_ROWS (AF_VEC_BYTES == 64 ? 6 : 3)
#define AF_LANE_MIN_ROWS 8
/* Rows per block, layer by layer: two blocks of activations and a group's
 * weights stay in L2 (AF_FORWARD_SCRATCH_ROWS = 2 AF_LANE_BLOCK). */
#define AF_LANE_BLOCK 24

static inline int64_t FN(af_lane_pad)(int64_t n_out)
{
    return (n_out + AF_VLEN - 1) / AF_VLEN * AF_VLEN;
}

/* The panels of W (n_out x n_in) into WT (n_in x af_lane_pad(n_out) values):
 * each panel reads its G rows of W side by side, in order. */
static void FN(af_transpose_layer)(const TYPE *restrict W, int64_t n_in, int64_t n_out,
                                   TYPE *restrict WT)
{
    const int64_t pad = FN(af_lane_pad)(n_out);
    for (int64_t j0 = 0; j0 < pad; j0 += 4 * AF_VLEN) {
        const int64_t G = pad - j0 < 4 * AF_VLEN ? pad - j0 : 4 * AF_VLEN;
        TYPE *restrict panel = WT + j0 * n_in;
        for (int64_t i = 0; i < n_in; i++)
            for (int64_t c = 0; c < G; c++)
                panel[i * G + c] = j0 + c < n_out ? W[(j0 + c) * n_in + i] : 0;
    }
}

/* z[j0 + v VLEN + k] := lane k of av + b[...], for the V vectors a0..a3,
 * cut at n_out. */
static inline AF_ALWAYS_INLINE void FN(af_lane_store)(
    TYPE *restrict z, const TYPE *restrict b, int64_t j0, int64_t n_out, const int V,
    FN(af_vec) a0, FN(af_vec) a1, FN(af_vec) a2, FN(af_vec) a3)
{
    const FN(af_vec) a[4] = {a0, a1, a2, a3};
    for (int v = 0; v < V; v++) {
        const int64_t j = j0 + v * AF_VLEN;
        for (int64_t k = 0; k < AF_VLEN && j + k < n_out; k++)
            z[j + k] = AF_LANE(a[v], k) + b[j + k];
    }
}

/* Declares row r's four accumulators; adds row r's step (x, a scalar, times
 * the weight vectors w0..w3: GCC broadcasts the scalar); stores row r. */
#define AF_LANE_DECL(r) FN(af_vec) a##r##0 = {0}, a##r##1 = {0}, a##r##2 = {0}, a##r##3 = {0}
#define AF_LANE_STEP(r)                                                                        \
    if (R > r) {                                                                               \
        const TYPE x = A[r * lda + i];                                                         \
        a##r##0 += w0 * x;                                                                     \
        if (V > 1) a##r##1 += w1 * x;                                                          \
        if (V > 2) a##r##2 += w2 * x;                                                          \
        if (V > 3) a##r##3 += w3 * x;                                                          \
    }
#define AF_LANE_STORE(r)                                                                       \
    if (R > r)                                                                                 \
        FN(af_lane_store)(Z + r * ldz, b, j0, n_out, V, a##r##0, a##r##1, a##r##2, a##r##3)

/* Z[r][j] := sum_i A[r][i] WT[i][j] + b[j] for the R rows of A (lda apart,
 * R <= 6) and the V <= 4 vectors of outputs from j0, the last one cut at
 * n_out.  R and V are constants where this is inlined: the accumulators are
 * named variables, so that they stay in registers. */
static inline AF_ALWAYS_INLINE void FN(af_lane_tile)(
    const TYPE *restrict WT, const TYPE *restrict b, int64_t n_in, int64_t n_out,
    int64_t j0, const TYPE *restrict A, int64_t lda, const int R, const int V,
    TYPE *restrict Z, int64_t ldz)
{
    AF_LANE_DECL(0);
    AF_LANE_DECL(1);
    AF_LANE_DECL(2);
    AF_LANE_DECL(3);
    AF_LANE_DECL(4);
    AF_LANE_DECL(5);
    const TYPE *restrict w = WT + j0 * n_in;
    for (int64_t i = 0; i < n_in; i++, w += V * AF_VLEN) {
        FN(af_vec) w0, w1 = {0}, w2 = {0}, w3 = {0};
        memcpy(&w0, w, sizeof w0);
        if (V > 1) memcpy(&w1, w + AF_VLEN, sizeof w1);
        if (V > 2) memcpy(&w2, w + 2 * AF_VLEN, sizeof w2);
        if (V > 3) memcpy(&w3, w + 3 * AF_VLEN, sizeof w3);
        AF_LANE_STEP(0)
        AF_LANE_STEP(1)
        AF_LANE_STEP(2)
        AF_LANE_STEP(3)
        AF_LANE_STEP(4)
        AF_LANE_STEP(5)
    }
    AF_LANE_STORE(0);
    AF_LANE_STORE(1);
    AF_LANE_STORE(2);
    AF_LANE_STORE(3);
    AF_LANE_STORE(4);
    AF_LANE_STORE(5);
}
#undef AF_LANE_DECL
#undef AF_LANE_STEP
#undef AF_LANE_STORE

/* Z := A WT + b for nrows rows of A: each group of V vectors of outputs for
 * every row, R rows at a time, then the rest one by one.  V is a constant
 * where this is inlined. */
static inline AF_ALWAYS_INLINE void FN(af_lane_group)(
    const TYPE *restrict WT, const TYPE *restrict b, int64_t n_in, int64_t n_out,
    int64_t j0, const TYPE *restrict A, int64_t lda, int64_t nrows, const int V,
    TYPE *restrict Z, int64_t ldz)
{
    int64_t r = 0;
    for (; r + AF_LANE_ROWS <= nrows; r += AF_LANE_ROWS)
        FN(af_lane_tile)(WT, b, n_in, n_out, j0, A + r * lda, lda, AF_LANE_ROWS, V,
                         Z + r * ldz, ldz);
    for (; r < nrows; r++)
        FN(af_lane_tile)(WT, b, n_in, n_out, j0, A + r * lda, lda, 1, V, Z + r * ldz, ldz);
}

/* One layer for nrows (<= AF_LANE_BLOCK) rows, output groups outer: a group's
 * n_in x 4 vectors of weights serve every row of the block from L2, however
 * wide the layer (rows outer would stream all the weights per tile). */
static void FN(af_lane_layer)(const TYPE *restrict WT, const TYPE *restrict b, int64_t n_in,
                              int64_t n_out, const TYPE *restrict A, int64_t lda,
                              int64_t nrows, TYPE *restrict Z, int64_t ldz)
{
    const int64_t pad = FN(af_lane_pad)(n_out);
    int64_t j = 0;
    for (; j + 4 * AF_VLEN <= pad; j += 4 * AF_VLEN)
        FN(af_lane_group)(WT, b, n_in, n_out, j, A, lda, nrows, 4, Z, ldz);
    switch ((pad - j) / AF_VLEN) {
    case 3: FN(af_lane_group)(WT, b, n_in, n_out, j, A, lda, nrows, 3, Z, ldz); break;
    case 2: FN(af_lane_group)(WT, b, n_in, n_out, j, A, lda, nrows, 2, Z, ldz); break;
    case 1: FN(af_lane_group)(WT, b, n_in, n_out, j, A, lda, nrows, 1, Z, ldz); break;
    default: break;
    }
}

/* nrows (<= AF_LANE_BLOCK) rows of X (n_x apart) through every layer into out
 * (n_y apart), with the transposed weights WT (af_forward_scratch's layout);
 * rows: 2 * AF_LANE_BLOCK * max_width values.  *check += the first layer's
 * sums before the activation. */
static void FN(af_lane_block)(const af_net *net, const TYPE *params, const TYPE *WT,
                              const TYPE *x, int64_t nrows, TYPE *out, TYPE *rows,
                              int64_t max_width, TYPE *check)
{
    const int64_t L = net->n_layers;
    const TYPE *in = x;
    int64_t ld_in = net->sizes[0];
    TYPE *buf[2] = {rows, rows + AF_LANE_BLOCK * max_width};
    for (int64_t l = 0; l < L; l++) {
        const int64_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
        TYPE *dst = l == L - 1 ? out : buf[l & 1];
        const int64_t ld_out = l == L - 1 ? net->sizes[L] : max_width;
        FN(af_lane_layer)(WT, params + n_in * n_out, n_in, n_out, in, ld_in, nrows, dst, ld_out);
        if (l == 0) {
            TYPE t = 0;
            for (int64_t r = 0; r < nrows; r++)
                for (int64_t c = 0; c < n_out; c++) t += dst[r * ld_out + c];
            *check += t;
        }
        for (int64_t r = 0; r < nrows; r++)
            FN(af_act_inplace)(net->acts[l], (TYPE)net->act_params[l], dst + r * ld_out, n_out);
        params += (n_in + 1) * n_out;
        WT += n_in * FN(af_lane_pad)(n_out);
        in = dst;
        ld_in = ld_out;
    }
}

/* The same sums for a few rows without the transposed copy (which would cost
 * more than they do): inputs outer, outputs inner, one chain per output, in
 * af_lane_tile's order.  z: max_width values. */
static void FN(af_forward_rows)(const af_net *net, const TYPE *params, const TYPE *X, int64_t n,
                                TYPE *out, TYPE *rows, int64_t max_width, TYPE *check)
{
    const int64_t L = net->n_layers, n_x = net->sizes[0], n_y = net->sizes[L];
    for (int64_t s = 0; s < n; s++) {
        const TYPE *p = params, *in = X + s * n_x;
        for (int64_t l = 0; l < L; l++) {
            const int64_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
            TYPE *dst = l == L - 1 ? out + s * n_y : rows + (l & 1) * max_width;
            TYPE *restrict z = rows + 2 * max_width;
            for (int64_t j = 0; j < n_out; j++) z[j] = 0;
            for (int64_t i = 0; i < n_in; i++) {
                const TYPE a = in[i];
                for (int64_t j = 0; j < n_out; j++) z[j] += p[j * n_in + i] * a;
            }
            const TYPE *b = p + n_in * n_out;
            for (int64_t j = 0; j < n_out; j++) dst[j] = z[j] + b[j];
            if (l == 0) {
                TYPE t = 0;
                for (int64_t c = 0; c < n_out; c++) t += dst[c];
                *check += t;
            }
            FN(af_act_inplace)(net->acts[l], (TYPE)net->act_params[l], dst, n_out);
            p += (n_in + 1) * n_out;
            in = dst;
        }
    }
}

/* Transposes the weights once, then blocks of AF_LANE_BLOCK rows; under
 * AF_LANE_MIN_ROWS rows, af_forward_rows.  See af.h. */
int FN(af_forward)(const af_net *net, const TYPE *params, const TYPE *X, int64_t n, TYPE *out,
                   TYPE *scratch)
{
    const int64_t L = net->n_layers, n_x = net->sizes[0], n_y = net->sizes[L];
    const int64_t max_width = af_max_width(net);
    TYPE *rows = scratch, *WT = scratch + AF_FORWARD_SCRATCH_ROWS * max_width;
    TYPE check = 0;
    if (n < AF_LANE_MIN_ROWS) {
        FN(af_forward_rows)(net, params, X, n, out, rows, max_width, &check);
        return isfinite(check) ? AF_OK : AF_E_NONFINITE;
    }
    const TYPE *p = params;
    TYPE *wt = WT;
    for (int64_t l = 0; l < L; l++) {
        const int64_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
        FN(af_transpose_layer)(p, n_in, n_out, wt);
        p += (n_in + 1) * n_out;
        wt += n_in * FN(af_lane_pad)(n_out);
    }
    for (int64_t s = 0; s < n; s += AF_LANE_BLOCK) {
        const int64_t nrows = n - s < AF_LANE_BLOCK ? n - s : AF_LANE_BLOCK;
        FN(af_lane_block)(net, params, WT, X + s * n_x, nrows, out + s * n_y, rows, max_width,
                          &check);
    }
    return isfinite(check) ? AF_OK : AF_E_NONFINITE;
}

void FN(af_activate)(int32_t act, double param, const TYPE *z, TYPE *a, int64_t n)
{
    if (a != z) memcpy(a, z, (size_t)n * sizeof(TYPE));
    FN(af_act_inplace)(act, (TYPE)param, a, n);
}

void FN(af_act_backward)(int32_t act, double param, const TYPE *a, const TYPE *z, const TYPE *g,
                         TYPE *delta, int64_t n)
{
    FN(af_act_backward_inplace)(act, (TYPE)param, a, z, g, delta, n);
}
