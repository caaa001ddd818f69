/* lim.h -- the abuse limits' bookkeeping for the network layer: client
 * addresses (behind trusted proxies), per-address connection counts and
 * message buckets, and the Origin policy of the WebSocket handshake.
 *
 * Pure C on strings and structs (no lws, no loop): srv.c feeds it header
 * values and loop time, and the parsing of hostile header text can be
 * tested on its own. */
#ifndef LIM_H
#define LIM_H

#include <stddef.h>
#include <stdint.h>
#include <uthash.h>

struct sockaddr;

/* An IPv4 or IPv6 address; IPv4 is kept as ::ffff:a.b.c.d so one table
 * holds both. */
typedef struct lim_addr {
    uint8_t b[16];
} lim_addr;

/* An address or a network ("127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"). */
typedef struct lim_net {
    lim_addr a;
    uint8_t bits;         /* prefix length over the 128-bit form */
} lim_net;

/* Parse s[0..len) (spaces around it allowed). 0, or -1 when it is not an
 * address. */
int lim_addr_parse(const char *s, size_t len, lim_addr *out);
/* From getpeername(); -1 for a family other than AF_INET / AF_INET6. */
int lim_addr_from_sockaddr(const struct sockaddr *sa, lim_addr *out);
/* Text form for logs ("1.2.3.4" for IPv4). */
void lim_addr_format(const lim_addr *a, char *buf, size_t n);

int lim_net_parse(const char *s, lim_net *out);
int lim_net_contains(const lim_net *nets, size_t n, const lim_addr *a);

/* The client's address. It is the TCP peer unless the peer is one of the
 * trusted proxies: then X-Forwarded-For (xff, may be NULL) is read from the
 * right, skipping trusted proxies, and the first other address is the
 * client; without a usable X-Forwarded-For, X-Real-IP (xri) is used. Any
 * malformed entry ends the walk at the last trusted hop: a header we cannot
 * read counts against the proxy, never as an address someone made up. */
void lim_client_addr(const lim_addr *peer, const lim_net *trusted, size_t ntrusted,
                     const char *xff, const char *xri, lim_addr *out);

/* The Origin policy. origin NULL (no header: not a browser): allowed.
 * Otherwise allowed when it is in `allowed` (exact, case-insensitive; "*"
 * allows any), or when its host[:port] is the Host header's. A Host without
 * a port also matches an Origin of that host on any port: proxies that pass
 * on $host drop the port. Returns 1 or 0. */
int lim_origin_allowed(const char *origin, const char *host, const char *const *allowed,
                       size_t nallowed);

/* A token bucket of `rate` per second holding at most 2 * rate. */
typedef struct lim_bucket {
    double tokens;
    int64_t refill_ms;
} lim_bucket;

void lim_bucket_init(lim_bucket *b, double rate, int64_t now_ms);
/* Take one token: 1, or 0 when empty. rate <= 0 means no limit (1). */
int lim_bucket_take(lim_bucket *b, double rate, int64_t now_ms);
/* 1 when the bucket would be full now (nothing to remember about it). */
int lim_bucket_full(const lim_bucket *b, double rate, int64_t now_ms);

/* One client address: its connections and its shared message bucket. The
 * entry outlives its last connection until the bucket has refilled, so a
 * reconnect does not buy a fresh burst (lim_table_sweep drops it then). */
typedef struct lim_ip {
    lim_addr addr;
    uint32_t conns;
    lim_bucket bucket;
    void *sessions;       /* the network layer's list of this address' sessions */
    UT_hash_handle hh;
} lim_ip;

typedef struct lim_table {
    lim_ip *by_addr;
    size_t count;
} lim_table;

lim_ip *lim_ip_find(lim_table *t, const lim_addr *a);
/* Find or create (conns 0, a full bucket); NULL when out of memory. */
lim_ip *lim_ip_get(lim_table *t, const lim_addr *a, double rate, int64_t now_ms);
/* Drop entries with no connection whose bucket is full again. */
void lim_table_sweep(lim_table *t, double rate, int64_t now_ms);
void lim_table_free(lim_table *t);

#endif
