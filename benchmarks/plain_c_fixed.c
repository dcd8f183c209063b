/* Issue 18's reference kernel: per-sample SGD of [n_in, H, K] (relu, softmax +
 * cross-entropy) on CSR inputs, with the hidden width H and the output width K
 * fixed at compile time (-DH=32 -DK=10), so the compiler keeps the hidden sums
 * and the hidden delta in registers.  The first layer is held transposed
 * (n_in, H): a non-zero input's weights are one contiguous row; its decay is
 * one lazy scale factor, folded back at the end of the epoch.  The other
 * layer decays every weight at every sample, as plain_c.c does.  CSR is built
 * by the caller, once, outside the timing.  benchmarks/plain_c_fixed.py
 * compiles and drives it; it is a benchmark contender, never used by annfast.
 *
 * Same layout and math as plain_c.c's sparse path: params per layer W (n_out,
 * n_in) row major then b; W -= lr (delta a^T + mu W), biases not decayed. */
#include <math.h>
#include <stdint.h>

#ifndef TYPE
#error "compile with -DTYPE=float or -DTYPE=double"
#endif
#ifndef H
#define H 32
#endif
#ifndef K
#define K 10
#endif

/* wt: n_in * H values (the transposed first layer).  Returns the summed loss. */
double plain_c_fixed_epoch(int64_t n_in, TYPE *params, const int64_t *indptr,
                           const int64_t *indices, const TYPE *data, const TYPE *Y,
                           const int64_t *order, int64_t n, double lr, double mu, TYPE *wt)
{
    TYPE *W1 = params, *b1 = params + n_in * H;
    TYPE *W2 = b1 + H, *b2 = W2 + H * K;
    const TYPE lr_t = (TYPE)lr, mu_t = (TYPE)mu;
    double s0 = 1.0, loss_sum = 0.0;
    for (int64_t j = 0; j < H; j++)
        for (int64_t i = 0; i < n_in; i++) wt[i * H + j] = W1[j * n_in + i];
    for (int64_t t = 0; t < n; t++) {
        const int64_t r = order[t], k0 = indptr[r], k1 = indptr[r + 1];
        const TYPE *y = Y + r * K;
        TYPE z[H], a[K], d1[H];
        for (int j = 0; j < H; j++) z[j] = 0;
        for (int64_t k = k0; k < k1; k++) {
            const TYPE *row = wt + indices[k] * H;
            const TYPE v = data[k];
            for (int j = 0; j < H; j++) z[j] += row[j] * v;
        }
        const TYPE s = (TYPE)s0;
        for (int j = 0; j < H; j++) {
            const TYPE u = s * z[j] + b1[j];
            z[j] = u > 0 ? u : 0;
        }
        TYPE m = -INFINITY, sum = 0;
        for (int c = 0; c < K; c++) {
            TYPE u = b2[c];
            for (int j = 0; j < H; j++) u += W2[c * H + j] * z[j];
            a[c] = u;
            m = u > m ? u : m;
        }
        for (int c = 0; c < K; c++) sum += a[c] = (TYPE)exp((double)(a[c] - m));
        double loss = 0;
        for (int c = 0; c < K; c++) {
            a[c] /= sum;
            if (y[c] != 0) loss -= (double)y[c] * log((double)a[c] + 1e-300);
            a[c] -= y[c]; /* the output delta */
        }
        loss_sum += loss;
        for (int j = 0; j < H; j++) d1[j] = 0;
        for (int c = 0; c < K; c++) {
            TYPE *w = W2 + c * H;
            const TYPE d = a[c];
            for (int j = 0; j < H; j++) {
                d1[j] += w[j] * d;
                w[j] -= lr_t * (d * z[j] + mu_t * w[j]);
            }
            b2[c] -= lr_t * d;
        }
        for (int j = 0; j < H; j++) d1[j] = z[j] > 0 ? d1[j] : 0;
        s0 *= 1.0 - lr * mu;
        const TYPE step = (TYPE)(lr / s0);
        for (int64_t k = k0; k < k1; k++) {
            TYPE *row = wt + indices[k] * H;
            const TYPE c = step * data[k];
            for (int j = 0; j < H; j++) row[j] -= c * d1[j];
        }
        for (int j = 0; j < H; j++) b1[j] -= lr_t * d1[j];
    }
    for (int64_t j = 0; j < H; j++)
        for (int64_t i = 0; i < n_in; i++) W1[j * n_in + i] = (TYPE)s0 * wt[i * H + j];
    return loss_sum;
}
