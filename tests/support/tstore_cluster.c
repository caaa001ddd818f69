/* tstore_cluster.c -- the shared Redis Cluster of test_store_cluster: started
 * once in the Criterion runner before the first case (3 primaries, 1 replica
 * each, on free loopback ports) and stopped by PID after the last. The cases
 * run in child processes, so the seeds reach them through the environment. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <stdlib.h>

#include "rcluster.h"
#include "tstore.h"

#define SEEDS_ENV "TTT_TEST_CLUSTER_SEEDS"

static rcluster shared;
static int started;

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    if (rcluster_start(&shared, 3, 1) == 0) {
        started = 1;
        setenv(SEEDS_ENV, shared.seeds, 1);
    }
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    if (started)
        rcluster_stop(&shared);
    started = 0;
}

const char *tstore_cluster_seeds(void)
{
    const char *s = getenv(SEEDS_ENV);
    return s && *s ? s : NULL;
}
