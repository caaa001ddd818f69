/* fuzz_codec.c -- libFuzzer target for the record codec (store_codec.h):
 * rec_decode must never read outside its input whatever Redis hands it, and
 * a record it accepts must survive encode -> decode unchanged. A format-2
 * record re-encodes to its own bytes; a format-1 one (still read, never
 * written) to format 2 whose first part is the same record. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size heap copy: ASan flags a read of even one byte past it */
    uint8_t *in = malloc(size ? size : 1);
    if (!in)
        return 0;
    memcpy(in, data, size);
    store_game g, back;
    if (rec_decode(in, size, &g) == 0) {
        uint8_t out[REC_MAX];
        size_t n = rec_encode(&g, g.id, g.version, g.kind, out);
        if (n > REC_MAX)
            abort();
        if (in[0] == REC_FORMAT_1) {
            if (out[0] != REC_FORMAT || n < size || memcmp(out + 1, in + 1, size - 1) != 0)
                abort();   /* format 2 begins with format 1's fields */
        } else if (n != size || memcmp(out, in, n) != 0) {
            abort();   /* an accepted record is canonical: it re-encodes to itself */
        }
        if (rec_decode(out, n, &back) != 0 || memcmp(&g, &back, sizeof(g)) != 0)
            abort();
    }
    free(in);
    return 0;
}
