/* redis_cluster_int.h -- what the files of the Redis Cluster client share:
 * the client struct, one node, and the few calls each file lends the others.
 *   redis_cluster.c       open/close, the command API, requests (send, reply,
 *                         redirects, retries, time-outs), dispatch, the tick
 *   redis_cluster_map.c   the pure CLUSTER SLOTS and MOVED/ASK parsers, the
 *                         slot map (apply, patch, refresh, map callbacks)
 *   redis_cluster_node.c  nodes, their links (AUTH, SELECT), the seeds and
 *                         their DNS resolution
 * A request (rcl_req) stays private to redis_cluster.c. Not a public header:
 * only these files include it. */
#ifndef REDIS_CLUSTER_INT_H
#define REDIS_CLUSTER_INT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "redis_cluster.h"
#include "redis_link.h"
#include "redis_slot.h"

typedef struct rcl_req rcl_req;

typedef struct rcl_node {
    rcl *c;
    char host[RCL_HOST_MAX];
    int port;
    rlink *link;             /* NULL while down */
    long long retry_at;      /* no new connect before this (ms) */
    int fails;               /* consecutive failed connects */
    int seed;
    unsigned rtt_us;         /* moving average, 1/8 weight per sample */
} rcl_node;

struct rcl {
    uv_loop_t *loop;
    rcl_opts o;
    rcl_node **nodes;
    size_t nnodes;
    uint16_t owner[REDIS_SLOTS];     /* index + 1 into nodes, 0 = no owner */
    int mode;
    rcl_req *dhead, *dtail, *whead, *wtail;
    size_t nlive;
    uv_timer_t tick;
    int tick_on;
    int refreshing, refresh_wanted;
    long long refresh_at;
    size_t refresh_next;
    int resolving;
    int closing, dispatching, redispatch;
    rcl_closed_cb *done;
    void *done_ud;
    rcl_map_cb *map_cb;
    void *map_ud;
    rcl_map_hook *hook;
    void *hook_ud;
    char *user, *password;
    rcl_stats st;
};

static inline long long rcli_now_ms(const rcl *c)
{
    return (long long)uv_now(c->loop);
}

/* ---- redis_cluster.c: requests, dispatch, the tick, close ---------------- */

/* A request for node n only, with no redirects (a map request): RESP bytes
 * copied, callback as for rcl_command*. Not sent yet: the caller sends it
 * with rcli_req_try_send. NULL when out of memory; cb has then been called
 * with RCL_ENOMEM if the request itself could be made, not at all if not. */
rcl_req *rcli_req_pinned(rcl *c, rcl_node *n, const char *cmd, size_t len, rcl_reply_cb *cb,
                         void *privdata);
/* Send r now if it has a route; a failure completes it (callback called). */
void rcli_req_try_send(rcl_req *r);
/* Start the 20 ms tick unless it runs (or the client is closing). */
void rcli_tick_arm(rcl *c);
/* Try every waiting request again (after a map change). Re-entrant. */
void rcli_dispatch(rcl *c);
/* Free c once closing and its last handle and resolution are done. */
void rcli_free_if_done(rcl *c);

/* ---- redis_cluster_map.c: the slot map --------------------------------- */

/* The node a MOVED/ASK error names (its text from `skip` on; an empty host
 * is self's), with *slot; NULL for a bad redirect or no room for a node. */
rcl_node *rcli_redirect_target(rcl *c, const struct redisReply *e, size_t skip, rcl_node *self,
                               unsigned *slot);
/* A redirect said `slot` is on n now (n NULL: unknown): patch the map and
 * ask for a full one. */
void rcli_map_patch(rcl *c, unsigned slot, rcl_node *n);
/* From the tick: ask one node for CLUSTER SLOTS if a refresh is wanted and
 * allowed now (one at a time, at most every RCL_REFRESH_MIN_MS). */
void rcli_refresh_start(rcl *c);

/* ---- redis_cluster_node.c: nodes, links, seeds -------------------------- */

/* The node host:port, added when new; NULL when out of memory, the host is
 * too long or RCL_MAX_NODES are known. */
rcl_node *rcli_node_get(rcl *c, const char *host, int port);
/* The node whose link l is, or NULL. */
rcl_node *rcli_link_node(rcl *c, const rlink *l);
/* The node's link, connecting if allowed; NULL while in connect backoff. */
rlink *rcli_node_link(rcl_node *n);
/* Drop a node's link (hung node, or shutdown): its requests complete now. */
void rcli_node_drop(rcl_node *n);
/* "h1:p1,h2:p2" or "unix:/path": nodes, or DNS resolutions under way.
 * 0 or RCL_EINVAL / RCL_ENOMEM. */
int rcli_seeds_add(rcl *c, const char *seeds);
/* Free every node (at the end of rcl_close: their links are gone). */
void rcli_nodes_free(rcl *c);

#endif
