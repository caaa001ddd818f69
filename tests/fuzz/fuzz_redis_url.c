/* fuzz_redis_url.c -- libFuzzer target for the --redis URL parser
 * (redis_url.h): any text parses or is refused with a reason, never reads
 * past its terminator, and leaves nothing allocated once freed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "redis_url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = malloc(size + 1);
    if (!url)
        return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    redis_url u;
    char err[160];
    err[0] = '\0';
    if (redis_url_parse(&u, url, err, sizeof err) == 0) {
        if (!u.host || !*u.host || u.db < 0 || u.db > 1000000 ||
            (!u.unix_path && (u.port < 1 || u.port > 65535)))
            abort();
        redis_url_free(&u);
    } else if (!err[0] || u.host || u.pass || u.user || u.unix_path) {
        abort();
    }
    free(url);
    return 0;
}
