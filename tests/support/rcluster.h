/* rcluster.h -- test support: a real Redis Cluster (redis-server processes
 * with --cluster-enabled yes, joined by `redis-cli --cluster create`) on free
 * loopback ports in a temp dir, plus the admin steps the tests need (slot
 * migration, kill -9, freeze). Admin commands use hiredis' blocking API:
 * this is test code, never the server's loop. */
#ifndef TEST_RCLUSTER_H
#define TEST_RCLUSTER_H

#include <stddef.h>
#include <sys/types.h>

#define RCLUSTER_MAX 12

typedef struct rcluster_node {
    pid_t pid;
    int port;
    char id[48];            /* CLUSTER MYID */
} rcluster_node;

typedef struct rcluster {
    char *dir;
    int n;
    rcluster_node node[RCLUSTER_MAX];
    char seeds[RCLUSTER_MAX * 24];   /* "127.0.0.1:p1,127.0.0.1:p2,..." */
} rcluster;

/* A free port p (<= 55535) with p + 10000 free too: a cluster node's bus. */
int rcluster_free_port(void);

/* Start primaries * (1 + replicas) nodes and create the cluster; waits for
 * cluster_state:ok on every node. 0, or -1 (everything started is stopped). */
int rcluster_start(rcluster *rc, int primaries, int replicas);
/* Stop every node by PID and remove the temp dir. */
void rcluster_stop(rcluster *rc);

/* Poll until every live node says cluster_state:ok and agrees on the slot
 * owners (same CLUSTER SLOTS primaries). 0, or -1 after timeout_ms. */
int rcluster_wait_ok(rcluster *rc, int timeout_ms);

/* Index of the node that is primary for `slot` (asked of node `ask`, or of
 * the first live node when ask < 0), or -1. */
int rcluster_owner(rcluster *rc, int ask, unsigned slot);
/* A node index that is a primary and != not_this, or -1. */
int rcluster_other_primary(rcluster *rc, int not_this);

/* Run one command on node i, blocking; the reply text (status, string,
 * integer, error "ERR..." as "-ERR...") into out. 0, or -1 when unreachable. */
int rcluster_cmd(rcluster *rc, int i, char *out, size_t outsz, const char *fmt, ...);

/* Move every key of `slot` from node src to node dst the documented way.
 * step 1 (begin): IMPORTING on dst, MIGRATING on src. step 2 (keys): MIGRATE
 * each key. step 3 (end): SETSLOT NODE dst on every node. */
int rcluster_migrate_begin(rcluster *rc, unsigned slot, int src, int dst);
int rcluster_migrate_keys(rcluster *rc, unsigned slot, int src, int dst);
int rcluster_migrate_end(rcluster *rc, unsigned slot, int dst);

void rcluster_kill9(rcluster *rc, int i);

#endif
