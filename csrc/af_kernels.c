/* annfast: instantiates the kernel templates for float and double. */
#include "af_common.h"

int64_t af_n_params(const af_net *net)
{
    int64_t n = 0;
    for (int64_t l = 0; l < net->n_layers; l++) n += af_layer_params(net, l);
    return n;
}

int64_t af_max_width(const af_net *net)
{
    int64_t m = 0;
    for (int64_t l = 0; l <= net->n_layers; l++) m = net->sizes[l] > m ? net->sizes[l] : m;
    return m;
}

int64_t af_sum_width(const af_net *net)
{
    int64_t s = 0;
    for (int64_t l = 0; l <= net->n_layers; l++) s += net->sizes[l];
    return s;
}

#define AF_FLOAT32
#include "af_types.h"
#include "af_activation.template.h"
#include "af_dense.template.c"
#include "af_train.template.c"
#include "af_untypes.h"
#undef AF_FLOAT32

#define AF_FLOAT64
#include "af_types.h"
#include "af_activation.template.h"
#include "af_dense.template.c"
#include "af_train.template.c"
#include "af_untypes.h"
#undef AF_FLOAT64
