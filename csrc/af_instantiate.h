/* annfast: instantiates every kernel template for float and double under the
 * current target options.  Define AF_ISA (name suffix) and AF_VEC_BYTES (SIMD
 * register width) before including; both are undefined afterwards. */
#if !defined(AF_ISA) || !defined(AF_VEC_BYTES)
#error "define AF_ISA and AF_VEC_BYTES before including af_instantiate.h"
#endif

#define AF_FLOAT32
#include "af_types.h"
#include "af_activation.template.h"
#include "af_dense.template.c"
#include "af_train.template.c"
#include "af_sgd.template.c"
#include "af_csr.template.c"
#include "af_untypes.h"
#undef AF_FLOAT32

#define AF_FLOAT64
#include "af_types.h"
#include "af_activation.template.h"
#include "af_dense.template.c"
#include "af_train.template.c"
#include "af_sgd.template.c"
#include "af_csr.template.c"
#include "af_untypes.h"
#undef AF_FLOAT64

#undef AF_ISA
#undef AF_VEC_BYTES
