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

/* Forward one sample x through every layer; the outputs of layer l land in
 * acts_buf at offset sizes[1] + ... + sizes[l], and, for the layers whose
 * activation needs them, the pre-activations at the same offset in zbuf
 * (NULL when no layer does).  Returns the network output. */
static inline TYPE *FN(af_forward_sample)(const af_net *net, const TYPE *params,
                                          const TYPE *x, TYPE *acts_buf, TYPE *zbuf)
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
        out += n_out;
    }
    return (TYPE *)in;
}

/* Z[r][j] := <W_j, A_r> + b[j] for R samples (rows of A, leading dimension
 * lda) and the four outputs j0..j0+3: a tile of R x 4 vector accumulators, so
 * each load of a sample serves four outputs and each load of a weight row R
 * samples.  Every sum runs in af_rows_dot's order (one vector accumulator,
 * lanes in order, then the tail): a sample's outputs have the same bits alone
 * or in a batch.  R is a constant where this is inlined. */
static inline AF_ALWAYS_INLINE void FN(af_tile_dot)(
    const TYPE *restrict W, const TYPE *restrict b, int64_t n_in, int64_t j0,
    const TYPE *restrict A, int64_t lda, const int R, TYPE *restrict Z, int64_t ldz)
{
    const TYPE *restrict w0 = W + j0 * n_in, *restrict w1 = w0 + n_in;
    const TYPE *restrict w2 = w1 + n_in, *restrict w3 = w2 + n_in;
    FN(af_vec) acc[4][4];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < 4; c++) acc[r][c] = (FN(af_vec)){0};
    int64_t i = 0;
    for (; i + AF_VLEN <= n_in; i += AF_VLEN) {
        FN(af_vec) v0, v1, v2, v3, x;
        memcpy(&v0, w0 + i, sizeof v0);
        memcpy(&v1, w1 + i, sizeof v1);
        memcpy(&v2, w2 + i, sizeof v2);
        memcpy(&v3, w3 + i, sizeof v3);
        for (int r = 0; r < R; r++) {
            memcpy(&x, A + r * lda + i, sizeof x);
            acc[r][0] += v0 * x;
            acc[r][1] += v1 * x;
            acc[r][2] += v2 * x;
            acc[r][3] += v3 * x;
        }
    }
    for (int r = 0; r < R; r++) {
        const TYPE *restrict a = A + r * lda;
        TYPE t[4] = {0, 0, 0, 0};
        for (int c = 0; c < 4; c++)
            for (int64_t k = 0; k < AF_VLEN; k++) t[c] += AF_LANE(acc[r][c], k);
        for (int64_t k = i; k < n_in; k++) {
            t[0] += w0[k] * a[k];
            t[1] += w1[k] * a[k];
            t[2] += w2[k] * a[k];
            t[3] += w3[k] * a[k];
        }
        for (int c = 0; c < 4; c++) Z[r * ldz + j0 + c] = t[c] + b[j0 + c];
    }
}

/* Z := act(A W^T + b) for R samples (rows of A, lda) through one layer; with
 * check, *check += every sum before the activation. */
static inline AF_ALWAYS_INLINE void FN(af_block_layer)(
    int32_t act, TYPE param, const TYPE *restrict W, const TYPE *restrict b, int64_t n_in,
    int64_t n_out, const TYPE *restrict A, int64_t lda, const int R, TYPE *restrict Z,
    int64_t ldz, TYPE *check)
{
    int64_t j = 0;
    for (; j + 4 <= n_out; j += 4) FN(af_tile_dot)(W, b, n_in, j, A, lda, R, Z, ldz);
    if (j < n_out) {
        /* The last outputs as af_rows_dot takes them: one sample at a time. */
        for (int r = 0; r < R; r++)
            for (int64_t c = j; c < n_out; c++)
                Z[r * ldz + c] = FN(af_dot)(W + c * n_in, A + r * lda, n_in) + b[c];
    }
    if (check) {
        TYPE t = 0;
        for (int r = 0; r < R; r++)
            for (int64_t c = 0; c < n_out; c++) t += Z[r * ldz + c];
        *check += t;
    }
    for (int r = 0; r < R; r++) FN(af_act_inplace)(act, param, Z + r * ldz, n_out);
}

/* The samples per block of the batch forward pass: as many as keep the
 * R x 4 accumulators and their operands in the vector registers (scratch:
 * 2 R af_max_width <= AF_FORWARD_SCRATCH_ROWS af_max_width values). */
#define AF_BLOCK_ROWS (AF_VEC_BYTES == 64 ? 4 : 2)

/* R samples of X (rows at x, n_x apart) through every layer into out (n_y
 * apart); scratch holds 2 * R * af_max_width values.  *check += the sums of
 * the first layer. */
static inline AF_ALWAYS_INLINE void FN(af_forward_block)(
    const af_net *net, const TYPE *params, const TYPE *x, const int R, TYPE *out,
    TYPE *scratch, int64_t max_width, TYPE *check)
{
    const int64_t L = net->n_layers;
    const TYPE *in = x;
    int64_t ld_in = net->sizes[0];
    TYPE *buf[2] = {scratch, scratch + R * max_width};
    for (int64_t l = 0; l < L; l++) {
        const int64_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
        TYPE *dst = l == L - 1 ? out : buf[l & 1];
        const int64_t ld_out = l == L - 1 ? net->sizes[L] : max_width;
        FN(af_block_layer)(net->acts[l], (TYPE)net->act_params[l], params,
                           params + n_in * n_out, n_in, n_out, in, ld_in, R, dst, ld_out,
                           l == 0 ? check : NULL);
        params += (n_in + 1) * n_out;
        in = dst;
        ld_in = ld_out;
    }
}

/* Blocks of AF_BLOCK_ROWS samples, then one at a time; see af.h. */
int FN(af_forward)(const af_net *net, const TYPE *params, const TYPE *X, int64_t n, TYPE *out,
                   TYPE *scratch)
{
    const int64_t n_x = net->sizes[0], n_y = net->sizes[net->n_layers];
    const int64_t max_width = af_max_width(net);
    TYPE check = 0;
    int64_t s = 0;
    for (; s + AF_BLOCK_ROWS <= n; s += AF_BLOCK_ROWS)
        FN(af_forward_block)(net, params, X + s * n_x, AF_BLOCK_ROWS, out + s * n_y, scratch,
                             max_width, &check);
    for (; s < n; s++)
        FN(af_forward_block)(net, params, X + s * n_x, 1, out + s * n_y, scratch, max_width,
                             &check);
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
