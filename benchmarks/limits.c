/* The machine's own limits on one core, for benchmarks/limits.py: peak
 * multiply-add throughput and cache read / read-modify-write bandwidth.
 *
 * Compiled once per SIMD level (-DVEC_BYTES=32 with -mavx2 -mfma, 64 with
 * -mavx512f) and per TYPE (float or double).  Every loop is written in GCC
 * vector types so that the instruction width is the one asked for, whatever
 * -march would pick; -ffp-contract=fast makes each `a * b + c` one FMA.
 * Each function times itself with CLOCK_MONOTONIC and returns seconds;
 * results go through a sink the compiler cannot see through.  Benchmarks
 * only: annfast never uses this. */
#include <stdint.h>
#include <string.h>
#include <time.h>

#ifndef TYPE
#error "TYPE must be float or double"
#endif
#ifndef VEC_BYTES
#error "VEC_BYTES must be 32 or 64"
#endif

typedef TYPE vec __attribute__((vector_size(VEC_BYTES)));
#define VLEN ((int64_t)(VEC_BYTES / sizeof(TYPE)))

volatile TYPE limits_sink;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static TYPE hsum(vec v)
{
    TYPE s = 0;
    for (int64_t k = 0; k < VLEN; k++) s += v[k];
    return s;
}

/* Multiply-adds per call: iters x CHAINS x VLEN.  CHAINS independent
 * accumulators cover the FMA latency on every pipe (Zen 4: 2 pipes x 4 cycles
 * = 8 in flight; 12 leave slack and still fit in 16 registers with m and c). */
#define CHAINS 12
int64_t limits_fma_chains(void) { return CHAINS; }

double limits_fma(int64_t iters)
{
    volatile TYPE vm = (TYPE)0.999, vc = (TYPE)0.001;  /* not constants to the compiler */
    vec m, c;
    for (int64_t k = 0; k < VLEN; k++) m[k] = vm, c[k] = vc;
    /* Twelve named accumulators (an array would live on the stack). */
    vec a0 = c, a1 = 2 * c, a2 = 3 * c, a3 = 4 * c, a4 = 5 * c, a5 = 6 * c, a6 = 7 * c,
        a7 = 8 * c, a8 = 9 * c, a9 = 10 * c, a10 = 11 * c, a11 = 12 * c;
    double t0 = now();
    for (int64_t i = 0; i < iters; i++) {
        /* The fixed point c / (1 - m) = 1 keeps every value normal. */
        a0 = a0 * m + c; a1 = a1 * m + c; a2 = a2 * m + c; a3 = a3 * m + c;
        a4 = a4 * m + c; a5 = a5 * m + c; a6 = a6 * m + c; a7 = a7 * m + c;
        a8 = a8 * m + c; a9 = a9 * m + c; a10 = a10 * m + c; a11 = a11 * m + c;
    }
    double t = now() - t0;
    limits_sink = hsum(((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) +
                       ((a8 + a9) + (a10 + a11)));
    return t;
}

/* Reads n values (a multiple of 8 VLEN) `passes` times: eight independent
 * sums so that the adds never limit the loads. */
double limits_read(const TYPE *buf, int64_t n, int64_t passes)
{
    vec a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0}, v;
    double t0 = now();
    for (int64_t p = 0; p < passes; p++) {
        for (int64_t i = 0; i < n; i += 8 * VLEN) {
            memcpy(&v, buf + i, sizeof v); a0 += v;
            memcpy(&v, buf + i + VLEN, sizeof v); a1 += v;
            memcpy(&v, buf + i + 2 * VLEN, sizeof v); a2 += v;
            memcpy(&v, buf + i + 3 * VLEN, sizeof v); a3 += v;
            memcpy(&v, buf + i + 4 * VLEN, sizeof v); a4 += v;
            memcpy(&v, buf + i + 5 * VLEN, sizeof v); a5 += v;
            memcpy(&v, buf + i + 6 * VLEN, sizeof v); a6 += v;
            memcpy(&v, buf + i + 7 * VLEN, sizeof v); a7 += v;
        }
        __asm__ volatile("" ::: "memory");
    }
    double t = now() - t0;
    limits_sink = hsum(((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)));
    return t;
}

/* buf[i] = buf[i] * m + c over n values (a multiple of 4 VLEN), `passes`
 * times: the read-modify-write of a weight update (each value read once and
 * written once per pass). */
double limits_rmw(TYPE *buf, int64_t n, int64_t passes)
{
    volatile TYPE vm = (TYPE)0.5, vc = (TYPE)0.5;
    vec m, c, v;
    for (int64_t k = 0; k < VLEN; k++) m[k] = vm, c[k] = vc;
    double t0 = now();
    for (int64_t p = 0; p < passes; p++) {
        for (int64_t i = 0; i < n; i += 4 * VLEN) {
            vec v1, v2, v3;
            memcpy(&v, buf + i, sizeof v);
            memcpy(&v1, buf + i + VLEN, sizeof v1);
            memcpy(&v2, buf + i + 2 * VLEN, sizeof v2);
            memcpy(&v3, buf + i + 3 * VLEN, sizeof v3);
            v = v * m + c;
            v1 = v1 * m + c;
            v2 = v2 * m + c;
            v3 = v3 * m + c;
            memcpy(buf + i, &v, sizeof v);
            memcpy(buf + i + VLEN, &v1, sizeof v1);
            memcpy(buf + i + 2 * VLEN, &v2, sizeof v2);
            memcpy(buf + i + 3 * VLEN, &v3, sizeof v3);
        }
        __asm__ volatile("" ::: "memory");
    }
    return now() - t0;
}
