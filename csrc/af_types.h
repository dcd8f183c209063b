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
