/* annfast: dense rows to CSR, the sparse path's input, for one TYPE and ISA.
 * Included by af_kernels.c after af_dense.template.c (for af_vec).
 *
 * One pass over X.  Every value is written at the next free slot and the slot
 * moves on only past a non-zero, so no branch depends on the data (binarised
 * pixels are zero or not at random); a vector of zeros is passed over with one
 * compare.  Negative zeros are zeros.  The same pass proves the non-zeros
 * finite, so the caller needs no separate look at X. */
#ifndef TYPE
#error "TYPE must be defined before including af_csr.template.c"
#endif

/* Bit l set when p[l] is not zero (NaN included), for the AF_VLEN values at p. */
static inline unsigned FN(af_nonzero_mask)(const TYPE *p)
{
#if AF_VEC_BYTES == 64 && AF_X86_SIMD && defined(AF_FLOAT64)
    return _mm512_cmp_pd_mask(_mm512_loadu_pd(p), _mm512_setzero_pd(), _CMP_NEQ_UQ);
#elif AF_VEC_BYTES == 64 && AF_X86_SIMD
    return _mm512_cmp_ps_mask(_mm512_loadu_ps(p), _mm512_setzero_ps(), _CMP_NEQ_UQ);
#elif AF_VEC_BYTES == 32 && AF_X86_SIMD && defined(AF_FLOAT64)
    return (unsigned)_mm256_movemask_pd(
        _mm256_cmp_pd(_mm256_loadu_pd(p), _mm256_setzero_pd(), _CMP_NEQ_UQ));
#elif AF_VEC_BYTES == 32 && AF_X86_SIMD
    return (unsigned)_mm256_movemask_ps(
        _mm256_cmp_ps(_mm256_loadu_ps(p), _mm256_setzero_ps(), _CMP_NEQ_UQ));
#elif AF_VEC_BYTES == 16 && AF_X86_SIMD && defined(AF_FLOAT64)
    return (unsigned)_mm_movemask_pd(_mm_cmpneq_pd(_mm_loadu_pd(p), _mm_setzero_pd()));
#elif AF_VEC_BYTES == 16 && AF_X86_SIMD
    return (unsigned)_mm_movemask_ps(_mm_cmpneq_ps(_mm_loadu_ps(p), _mm_setzero_ps()));
#else
    unsigned m = 0;
    for (int64_t l = 0; l < AF_VLEN; l++) m |= (unsigned)(p[l] != 0) << l;
    return m;
#endif
}

int64_t FN(af_count_nonzero)(const TYPE *X, int64_t n, int64_t d, int64_t limit)
{
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        const TYPE *row = X + i * d;
        int64_t j = 0;
        for (; j + AF_VLEN <= d; j += AF_VLEN)
            k += AF_POPCOUNT(FN(af_nonzero_mask)(row + j));
        for (; j < d; j++) k += row[j] != 0;
        if (k > limit) return -1;
    }
    return k;
}

int64_t FN(af_csr_from_dense)(const TYPE *X, int64_t n, int64_t d, int64_t limit, TYPE *data,
                              int64_t *indices, int64_t *indptr, int *all_finite)
{
    int64_t k = 0;
    /* v - v is 0 for a finite v and NaN otherwise; zeros need no look. */
    FN(af_vec) check = {0};
    indptr[0] = 0;
    for (int64_t i = 0; i < n; i++) {
        const TYPE *row = X + i * d;
        int64_t j = 0;
        for (; j + AF_VLEN <= d; j += AF_VLEN) {
            const unsigned m = FN(af_nonzero_mask)(row + j);
            if (!m) continue;
            FN(af_vec) v;
            memcpy(&v, row + j, sizeof v);
            check += v - v;
#if AF_VEC_BYTES == 64 && AF_X86_SIMD
            /* Pack the non-zeros to the front of a register; store it whole. */
            const __m512i lanes = _mm512_add_epi64(_mm512_set1_epi64(j),
                                                   _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0));
#if defined(AF_FLOAT64)
            _mm512_storeu_pd(data + k,
                             _mm512_maskz_compress_pd((__mmask8)m, _mm512_loadu_pd(row + j)));
            _mm512_storeu_si512(indices + k, _mm512_maskz_compress_epi64((__mmask8)m, lanes));
            k += AF_POPCOUNT(m);
#else
            _mm512_storeu_ps(data + k,
                             _mm512_maskz_compress_ps((__mmask16)m, _mm512_loadu_ps(row + j)));
            const unsigned lo = m & 0xff, hi = m >> 8;
            _mm512_storeu_si512(indices + k, _mm512_maskz_compress_epi64((__mmask8)lo, lanes));
            k += AF_POPCOUNT(lo);
            _mm512_storeu_si512(indices + k,
                                _mm512_maskz_compress_epi64(
                                    (__mmask8)hi, _mm512_add_epi64(lanes, _mm512_set1_epi64(8))));
            k += AF_POPCOUNT(hi);
#endif
#else
            for (int64_t l = 0; l < AF_VLEN; l++) {
                data[k] = row[j + l];
                indices[k] = j + l;
                k += (m >> l) & 1;
            }
#endif
        }
        for (; j < d; j++) {
            const TYPE x = row[j];
            data[k] = x;
            indices[k] = j;
            k += x != 0;
            AF_LANE(check, 0) += x - x;
        }
        indptr[i + 1] = k;
        if (k > limit) return -1;
    }
    TYPE sum = 0;
    for (int64_t l = 0; l < AF_VLEN; l++) sum += AF_LANE(check, l);
    *all_finite = sum == 0;
    return k;
}
