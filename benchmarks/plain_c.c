/* Plain C per-sample SGD, the reference rows of issue 4's table ("plain C,
 * -O3 -march=native"): careful textbook loops with no SIMD code of their own
 * (the compiler vectorises what it can): every inner loop runs over contiguous
 * memory, the backward pass pushes the delta down in the same loop that
 * updates the weights, and the sparse first layer holds its weights
 * transposed, so a non-zero input's weights are one contiguous row.
 * benchmarks/plain_c.py compiles this file twice (TYPE float and double) and
 * drives it through ctypes.
 *
 * The network: params as annfast lays them out (per layer W (n_out, n_in) row
 * major, then b), relu hidden units, and softmax + cross-entropy or identity +
 * squared error at the output.  The step is W -= lr (delta a^T + mu W), biases
 * not decayed.  Dense inputs decay every weight at every sample, as the
 * textbook writes it.  Sparse inputs (CSR, indices != NULL) touch only the
 * first-layer weights of non-zero inputs: that layer's decay is kept as one
 * scale factor (the only way to decay without touching every weight), folded
 * back at the end of the epoch with the transposition. */
#include <math.h>
#include <stdint.h>

#ifndef TYPE
#error "compile with -DTYPE=float or -DTYPE=double"
#endif

static void relu(TYPE *a, int64_t n)
{
    for (int64_t i = 0; i < n; i++) a[i] = a[i] > 0 ? a[i] : 0;
}

/* Returns the summed loss of the epoch.  work: 3 * (sum of sizes) values, and
 * with sparse inputs sizes[0] * sizes[1] more (the transposed first layer). */
double plain_c_epoch(int64_t L, const int64_t *sizes, int softmax, TYPE *params,
                     const TYPE *X, const int64_t *indptr, const int64_t *indices,
                     const TYPE *data, const TYPE *Y, const int64_t *order, int64_t n,
                     double lr, double mu, TYPE *work)
{
    int64_t total = 0;
    for (int64_t l = 0; l <= L; l++) total += sizes[l];
    TYPE *acts = work, *delta = work + total, *prev = delta + total, *wt = prev + total;
    const TYPE lr_t = (TYPE)lr, mu_t = (TYPE)mu;
    const int64_t n_in0 = sizes[0], n_out0 = sizes[1];
    double s0 = 1.0, loss_sum = 0.0;
    if (indices)
        for (int64_t j = 0; j < n_out0; j++)
            for (int64_t i = 0; i < n_in0; i++) wt[i * n_out0 + j] = params[j * n_in0 + i];
    for (int64_t t = 0; t < n; t++) {
        const int64_t r = order[t];
        const TYPE *y = Y + r * sizes[L];
        /* Forward: acts holds every layer's outputs, the input's first
         * (dense) or the first layer's sums straight from the non-zeros. */
        TYPE *a = acts;
        TYPE *p = params;
        int64_t first = 0;
        if (indices) {
            TYPE *z = acts + n_in0;
            const TYPE *b = params + n_in0 * n_out0;
            for (int64_t j = 0; j < n_out0; j++) z[j] = 0;
            for (int64_t k = indptr[r]; k < indptr[r + 1]; k++) {
                const TYPE *row = wt + indices[k] * n_out0;
                for (int64_t j = 0; j < n_out0; j++) z[j] += row[j] * data[k];
            }
            for (int64_t j = 0; j < n_out0; j++) z[j] = (TYPE)s0 * z[j] + b[j];
            if (L > 1) relu(z, n_out0);
            a = z;
            p = params + (n_in0 + 1) * n_out0;
            first = 1;
        } else {
            for (int64_t i = 0; i < n_in0; i++) acts[i] = X[r * n_in0 + i];
        }
        for (int64_t l = first; l < L; l++) {
            const int64_t n_in = sizes[l], n_out = sizes[l + 1];
            const TYPE *W = p, *b = p + n_in * n_out;
            TYPE *z = a + n_in;
            for (int64_t j = 0; j < n_out; j++) {
                TYPE s = b[j];
                for (int64_t i = 0; i < n_in; i++) s += W[j * n_in + i] * a[i];
                z[j] = s;
            }
            if (l < L - 1) relu(z, n_out);
            p += (n_in + 1) * n_out;
            a = z;
        }
        /* Output: a points at the last layer's sums. */
        const int64_t k_out = sizes[L];
        double loss = 0;
        if (softmax) {
            TYPE m = a[0], s = 0;
            for (int64_t j = 1; j < k_out; j++) m = a[j] > m ? a[j] : m;
            for (int64_t j = 0; j < k_out; j++) s += a[j] = (TYPE)exp((double)(a[j] - m));
            for (int64_t j = 0; j < k_out; j++) {
                a[j] /= s;
                if (y[j] != 0) loss -= (double)y[j] * log((double)a[j] + 1e-300);
            }
        } else {
            for (int64_t j = 0; j < k_out; j++) {
                const double d = (double)(a[j] - y[j]);
                loss += 0.5 * d * d;
            }
        }
        for (int64_t j = 0; j < k_out; j++) delta[j] = a[j] - y[j];
        loss_sum += loss;
        /* Backward, layer by layer: push the delta down with the old weights,
         * then update them. */
        for (int64_t l = L - 1; l >= first; l--) {
            const int64_t n_in = sizes[l], n_out = sizes[l + 1];
            p -= (n_in + 1) * n_out;
            TYPE *W = p, *b = p + n_in * n_out;
            a -= n_in;
            for (int64_t i = 0; i < n_in; i++) prev[i] = 0;
            for (int64_t j = 0; j < n_out; j++) {
                TYPE *w = W + j * n_in;
                const TYPE d = delta[j];
                for (int64_t i = 0; i < n_in; i++) {
                    prev[i] += w[i] * d;
                    w[i] -= lr_t * (d * a[i] + mu_t * w[i]);
                }
                b[j] -= lr_t * d;
            }
            if (l > 0)
                for (int64_t i = 0; i < n_in; i++) prev[i] = a[i] > 0 ? prev[i] : 0;
            TYPE *tmp = delta;
            delta = prev;
            prev = tmp;
        }
        if (first) {
            /* The sparse first layer: only the non-zero inputs' weights. */
            s0 *= 1.0 - lr * mu;
            const TYPE step = (TYPE)(lr / s0);
            TYPE *b = params + n_in0 * n_out0;
            for (int64_t k = indptr[r]; k < indptr[r + 1]; k++) {
                TYPE *row = wt + indices[k] * n_out0;
                const TYPE c = step * data[k];
                for (int64_t j = 0; j < n_out0; j++) row[j] -= c * delta[j];
            }
            for (int64_t j = 0; j < n_out0; j++) b[j] -= lr_t * delta[j];
        }
    }
    if (indices)
        for (int64_t j = 0; j < n_out0; j++)
            for (int64_t i = 0; i < n_in0; i++)
                params[j * n_in0 + i] = (TYPE)s0 * wt[i * n_out0 + j];
    return loss_sum;
}
