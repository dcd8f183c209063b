/* annfast: per-TYPE names for the templates.  Include once per TYPE and ISA,
 * with AF_FLOAT32 or AF_FLOAT64 and AF_ISA (a name suffix such as _avx2)
 * defined; af_untypes.h undefines what this defines. */
#ifndef AF_ISA
#error "define AF_ISA (the instruction-set suffix) before including af_types.h"
#endif
#if defined(AF_FLOAT32)
#define TYPE float
#define SUFFIX _f32
#define AF_EXP expf
#define AF_TANH tanhf
#define AF_SQRT sqrtf
#define AF_TYPE_EPS FLT_EPSILON
#define AF_GEMM_FN af_sgemm_fn
#elif defined(AF_FLOAT64)
#define TYPE double
#define SUFFIX _f64
#define AF_EXP exp
#define AF_TANH tanh
#define AF_SQRT sqrt
#define AF_TYPE_EPS DBL_EPSILON
#define AF_GEMM_FN af_dgemm_fn
#else
#error "define AF_FLOAT32 or AF_FLOAT64 before including af_types.h"
#endif
#define FN(name) AF_CAT(AF_CAT(name, SUFFIX), AF_ISA)

/* FN(af_vec): one SIMD register of AF_VLEN TYPEs, a GCC vector-extension type
 * of AF_VEC_BYTES.  In the portable variant it is TYPE itself (AF_VLEN 1), so
 * the templates' vector loops become plain loops.  AF_LANE(v, k): lane k. */
#ifdef AF_PORTABLE
typedef TYPE FN(af_vec);
#define AF_VLEN ((int64_t)1)
#define AF_LANE(v, k) (v)
#else
typedef TYPE FN(af_vec) __attribute__((vector_size(AF_VEC_BYTES)));
#define AF_VLEN ((int64_t)(AF_VEC_BYTES / sizeof(TYPE)))
#define AF_LANE(v, k) ((v)[k])
#endif
