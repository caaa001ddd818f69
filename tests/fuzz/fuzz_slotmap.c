/* fuzz_slotmap.c -- libFuzzer target for the slot-map and redirect parsers
 * of redis_cluster.c: the input is fed to the links' capped redisReader as if
 * a node had sent it, and every reply it yields goes through rcl_parse_slots(); the
 * raw bytes also go through rcl_parse_redirect(). Any accepted map must be
 * within 0..16383, ports 1..65535, hosts printable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "redis_cluster.h"
#include "redis_link.h"

static void check_map(const rcl_range *v, int n)
{
    for (int i = 0; i < n; i++) {
        if (v[i].start > v[i].end || v[i].end > 16383 || v[i].port < 1 || v[i].port > 65535 ||
            v[i].host[0] == '\0' || strlen(v[i].host) >= RCL_HOST_MAX)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned slot;
    char host[RCL_HOST_MAX];
    int port;
    if (rcl_parse_redirect((const char *)data, size, "127.0.0.1", &slot, host, &port) == 0 &&
        (slot > 16383 || port < 1 || port > 65535 || !host[0]))
        abort();
    redisReader *r = rlink_reader_new();   /* what a live link parses with */
    if (!r)
        return 0;
    if (redisReaderFeed(r, (const char *)data, size) == REDIS_OK) {
        for (int k = 0; k < 8; k++) {
            void *rep = NULL;
            if (redisReaderGetReply(r, &rep) != REDIS_OK || !rep)
                break;
            rcl_range *v = NULL;
            int n = rcl_parse_slots(rep, "10.0.0.1", &v);
            if (n >= 0)
                check_map(v, n);
            else if (v)
                abort();
            free(v);
            freeReplyObject(rep);
        }
    }
    redisReaderFree(r);
    return 0;
}
