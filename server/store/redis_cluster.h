/* redis_cluster.h -- a small Redis Cluster client on the caller's libuv loop,
 * its connections our own (redis_link.h: hiredis' reply parser, not its async
 * API, which aborts on an unasked reply): the slot map, one connection per primary,
 * routing by key or slot, MOVED / ASK / TRYAGAIN / CLUSTERDOWN, per-command
 * time-outs. A plain (non-cluster) redis-server works through the same API as
 * "a cluster of one". Sharded pub/sub lives in redis_sub.h on top of this.
 *
 * Threading: everything runs on the loop thread. Nothing here blocks: seeds
 * that are not IP literals are resolved with uv_getaddrinfo, connections are
 * non-blocking, and time-outs are uv timers.
 *
 * Completion contract (hiredis-style callback + privdata):
 *   rcl_command*() returns 0 and then calls its callback exactly once, later,
 *   never from inside rcl_command*() itself: with a reply, or with an error
 *   status (time-out, unavailable, out of memory, closed). When it returns a
 *   negative RCL_E* code the command was not accepted and the callback is
 *   never called. rcl_close() completes every outstanding command with
 *   RCL_ECLOSED before its own callback runs.
 *
 * Fate of a command. RCL_EUNAVAIL with sent == 0 (see rcl_reply_cb) means the
 * command never reached a node that executed it (no route, refused, or every
 * redirect/retry said so); with sent == 1 or RCL_ETIMEOUT the command reached
 * a node that then went silent or away, and may or may not have run. Commands
 * are only ever re-sent when Redis said they did not run (MOVED, ASK,
 * TRYAGAIN, CLUSTERDOWN, a refused connection), never after a dropped one. */
#ifndef REDIS_CLUSTER_H
#define REDIS_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

typedef struct uv_loop_s uv_loop_t;
struct redisReply;

enum {
    RCL_OK = 0,
    RCL_EUNAVAIL = -1,   /* no node could run it now (down, failing over, no route) */
    RCL_ETIMEOUT = -2,   /* sent, no reply in time: fate unknown */
    RCL_ENOMEM = -3,
    RCL_EINVAL = -4,
    RCL_ECLOSED = -5     /* rcl_close() was called */
};
const char *rcl_err_name(int err);

enum {
    RCL_MODE_UNKNOWN = 0,    /* no map yet */
    RCL_MODE_CLUSTER = 1,    /* cluster_enabled: routed by slot */
    RCL_MODE_SINGLE = 2      /* "cluster support disabled": all slots on the seed */
};

typedef struct rcl rcl;

#define RCL_HOST_MAX 64      /* an IP literal or hostname, NUL included */

typedef struct rcl_opts {
    int timeout_ms;        /* per command, from acceptance to reply (default 2000) */
    int retry_max;         /* TRYAGAIN / CLUSTERDOWN / refused re-sends (default 8) */
    int redirect_max;      /* MOVED + ASK redirects per command (default 5) */
    int backoff_min_ms;    /* first retry delay, doubled per retry (default 20) */
    int backoff_max_ms;    /* cap (default 500) */
    const char *user;      /* AUTH [user] password on every new connection when */
    const char *password;  /* password is set (both copied); NULL: no AUTH */
    int db;                /* > 0: SELECT db on every new connection (a single Redis
                            * only: a cluster node refuses it, and that link fails) */
} rcl_opts;

/* status RCL_OK: `reply` is the node's reply, valid only during the call
 * (owned by hiredis), and may itself be REDIS_REPLY_ERROR for errors that are
 * the command's own (WRONGTYPE, a script error, ...). Otherwise reply is
 * NULL and status is an RCL_E* code; `sent` says whether the last attempt had
 * been written to a connection (see the fate paragraph above). */
typedef void rcl_reply_cb(rcl *c, int status, struct redisReply *reply, int sent, void *privdata);

/* The map changed (mode, owners) or the first map arrived. Optional. */
typedef void rcl_map_cb(rcl *c, void *ud);
/* rcl_close() finished: every handle is closed and `c` has been freed. */
typedef void rcl_closed_cb(void *ud);

/* Counters, for /metrics. */
typedef struct rcl_stats {
    uint64_t moved, ask, tryagain, clusterdown, refreshes, refresh_fail, timeouts, conn_drops,
        auth_fail;
} rcl_stats;

/* Opens a client on `loop` from one or several seeds "host:port[,host:port]"
 * (IPv6 as "[::1]:6379"; "unix:/path" for a single Redis on a unix socket). Returns 0 and *out, or an RCL_E* code (bad seed
 * string, out of memory). Connects and loads the map in the background;
 * commands may be issued at once and wait (within their time-out) for it.
 * opts may be NULL; zero fields take the defaults. map_cb/ud may be NULL. */
int rcl_open(rcl **out, uv_loop_t *loop, const char *seeds, const rcl_opts *opts,
             rcl_map_cb *map_cb, void *ud);

/* Completes every command with RCL_ECLOSED, closes every connection and
 * handle, frees `c`, then calls done(ud) from a loop callback. Safe from
 * inside any callback of this client. `c` must not be used afterwards. */
void rcl_close(rcl *c, rcl_closed_cb *done, void *ud);

/* Send argv to the primary owning `key`'s slot (argv/argvlen are copied).
 * Returns 0 (callback will run once) or RCL_EINVAL / RCL_ENOMEM / RCL_ECLOSED
 * (callback never runs). */
int rcl_command_argv(rcl *c, const void *key, size_t keylen, int argc, const char **argv,
                     const size_t *argvlen, rcl_reply_cb *cb, void *privdata);
/* Same, routed by slot (0..16383); for keyless commands pick any slot. */
int rcl_command_slot(rcl *c, unsigned slot, int argc, const char **argv, const size_t *argvlen,
                     rcl_reply_cb *cb, void *privdata);

int rcl_mode(const rcl *c);
/* 1 when a map is known and every slot has an owner (for health checks). */
int rcl_covered(const rcl *c);
/* The owner of `slot` in the current map: writes "ip" into host (size
 * hostsz) and returns its port (0 for a unix socket, whose path is then the
 * host), or returns -1 when the slot has no owner. */
int rcl_slot_owner(const rcl *c, unsigned slot, char *host, size_t hostsz);
/* A moved slot was observed elsewhere (e.g. by redis_sub): note the new
 * owner and schedule a refresh. host:port as in a MOVED error. */
void rcl_note_moved(rcl *c, unsigned slot, const char *host, int port);
/* Ask for a fresh map soon (rate-limited; a no-op while one is in flight). */
void rcl_refresh(rcl *c);
const rcl_stats *rcl_get_stats(const rcl *c);

/* One known node, for /metrics: rtt_us is a moving average of command
 * round trips (0 until one completed), slots the number it owns now. */
typedef struct rcl_node_info {
    char host[RCL_HOST_MAX];
    int port;
    int up;                  /* a link is open (or opening) */
    unsigned slots;
    unsigned rtt_us;
} rcl_node_info;
/* Fills up to max entries; returns how many nodes are known. */
size_t rcl_nodes(const rcl *c, rcl_node_info *out, size_t max);
uv_loop_t *rcl_loop(const rcl *c);

/* For redis_sub: a connection to host:port that sends the client's AUTH
 * first (see redis_link.h for the callbacks). NULL as rlink_open. */
struct rlink;
struct rlink *rcl_link_open(rcl *c, const char *host, int port,
                            int (*push)(struct rlink *, struct redisReply *, void *),
                            void (*down)(struct rlink *, const char *, void *), void *ud);

/* Hooks for redis_sub: called after every map change in addition to map_cb. */
typedef void rcl_map_hook(rcl *c, void *ud);
void rcl_set_map_hook(rcl *c, rcl_map_hook *hook, void *ud);

/* ---- the slot-map parser, pure (exposed for the tests and the fuzzer) ----- */
#define RCL_MAX_RANGES 16384

typedef struct rcl_range {
    uint16_t start, end;     /* inclusive, 0..16383 */
    int port;                /* 1..65535 */
    char host[RCL_HOST_MAX];
} rcl_range;

/* Parses a CLUSTER SLOTS reply: [[start, end, [host, port, id...], replicas...], ...].
 * Every element is checked: types, counts, 0 <= start <= end <= 16383,
 * 1 <= port <= 65535, host 1..63 printable bytes. An empty host (Redis' "the
 * node you asked") becomes self_host; "?" (unknown endpoint) rejects the
 * range. Ranges may leave slots uncovered; overlapping ranges are refused.
 * Returns the number of ranges (>= 0) written into a malloc'd *out (free
 * it), or RCL_EINVAL / RCL_ENOMEM. */
int rcl_parse_slots(const struct redisReply *r, const char *self_host, rcl_range **out);

/* Parses "MOVED 3999 127.0.0.1:6381" or "ASK ..." (errstr without the kind
 * checked by the caller: pass the text after "MOVED "/"ASK "). An empty host
 * (":6381") becomes self_host. Returns 0 with *slot, host, *port, or
 * RCL_EINVAL. */
int rcl_parse_redirect(const char *s, size_t len, const char *self_host, unsigned *slot,
                       char host[RCL_HOST_MAX], int *port);

#endif
