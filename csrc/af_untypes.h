/* annfast: undo af_types.h, so that the next TYPE can be instantiated. */
#undef TYPE
#undef SUFFIX
#undef AF_EXP
#undef AF_TANH
#undef AF_SQRT
#undef AF_TYPE_EPS
#undef FN
#undef AF_VLEN
#undef AF_LANE
#undef AF_GEMM_FN
