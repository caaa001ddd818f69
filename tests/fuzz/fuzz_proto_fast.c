/* fuzz_proto_fast.c -- libFuzzer target: server/proto_fast.c against
 * proto.c's general (jansson) path on every input. The fast path may decide
 * an input only when the general path accepts it with the same fields; a
 * difference is an abort(), saved by libFuzzer for replay. Seeds: the
 * proto corpus plus move messages (corpus/proto_fast). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_fast.h"
#include "../support/proto_general.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_req fast, general;
    memset(&fast, 0x5a, sizeof fast);
    int f = proto_fast_parse((const char *)data, size, &fast);
    proto_err e = proto_parse_general((const char *)data, size, &general);
    if (f && (e != PROTO_OK || !proto_req_same(&fast, &general))) {
        fprintf(stderr, "fuzz_proto_fast: the fast path decided what the general path "
                        "says differently (%s)\n", proto_err_name(e));
        abort();
    }
    return 0;
}
