/* lim.c -- client addresses, per-address accounting and the Origin
 * policy (lim.h). Every string here came from the network: lengths are
 * checked before each copy and nothing is trusted to be terminated early. */
#include "lim.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define LIM_XFF_HOPS 16   /* X-Forwarded-For entries looked at, from the right */

/* ---- addresses ---------------------------------------------------------------- */

static void addr_v4(lim_addr *out, const void *in4)
{
    memset(out->b, 0, 10);
    out->b[10] = out->b[11] = 0xff;
    memcpy(out->b + 12, in4, 4);
}

static int addr_is_v4(const lim_addr *a)
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a->b, prefix, 12) == 0;
}

int lim_addr_parse(const char *s, size_t len, lim_addr *out)
{
    char buf[INET6_ADDRSTRLEN + 1];
    while (len && isspace((unsigned char)*s)) {
        s++;
        len--;
    }
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton(AF_INET, buf, &v4) == 1) {
        addr_v4(out, &v4);
        return 0;
    }
    if (inet_pton(AF_INET6, buf, &v6) == 1) {
        memcpy(out->b, &v6, 16);
        return 0;
    }
    return -1;
}

int lim_addr_from_sockaddr(const struct sockaddr *sa, lim_addr *out)
{
    if (sa->sa_family == AF_INET) {
        addr_v4(out, &((const struct sockaddr_in *)(const void *)sa)->sin_addr);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(out->b, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
        return 0;
    }
    return -1;
}

void lim_addr_format(const lim_addr *a, char *buf, size_t n)
{
    if (!n)
        return;
    const char *r = addr_is_v4(a) ? inet_ntop(AF_INET, a->b + 12, buf, (socklen_t)n)
                                  : inet_ntop(AF_INET6, a->b, buf, (socklen_t)n);
    if (!r)
        buf[0] = '\0';
}

int lim_net_parse(const char *s, lim_net *out)
{
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    if (lim_addr_parse(s, alen, &out->a) != 0)
        return -1;
    int v4 = addr_is_v4(&out->a);
    long bits = v4 ? 32 : 128;
    if (slash) {
        char *end;
        bits = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || bits < 0 || bits > (v4 ? 32 : 128))
            return -1;
    }
    out->bits = (uint8_t)(v4 ? bits + 96 : bits);
    return 0;
}

static int net_has(const lim_net *n, const lim_addr *a)
{
    unsigned full = n->bits / 8, rest = n->bits % 8;
    if (memcmp(n->a.b, a->b, full) != 0)
        return 0;
    if (!rest)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (n->a.b[full] & mask) == (a->b[full] & mask);
}

int lim_net_contains(const lim_net *nets, size_t n, const lim_addr *a)
{
    for (size_t i = 0; i < n; i++)
        if (net_has(&nets[i], a))
            return 1;
    return 0;
}

void lim_client_addr(const lim_addr *peer, const lim_net *trusted, size_t ntrusted,
                     const char *xff, const char *xri, lim_addr *out)
{
    *out = *peer;
    if (!ntrusted || !lim_net_contains(trusted, ntrusted, peer))
        return;
    if (xff && *xff) {
        /* nginx's $proxy_add_x_forwarded_for appends the address it saw:
         * the rightmost entries are the ones our proxies wrote, anything to
         * their left the client may have made up */
        size_t end = strlen(xff);
        for (int hop = 0; hop < LIM_XFF_HOPS && end > 0; hop++) {
            size_t start = end;
            while (start > 0 && xff[start - 1] != ',')
                start--;
            lim_addr a;
            if (lim_addr_parse(xff + start, end - start, &a) != 0)
                return;      /* unreadable: stay at the last trusted hop */
            *out = a;
            if (!lim_net_contains(trusted, ntrusted, &a))
                return;      /* the first address no proxy of ours vouches for */
            end = start ? start - 1 : 0;
        }
        return;
    }
    lim_addr a;
    if (xri && lim_addr_parse(xri, strlen(xri), &a) == 0)
        *out = a;
}

/* ---- Origin ------------------------------------------------------------------- */

/* the length of "host" in "host[:port]" (with "[v6]" kept whole) */
static size_t host_part(const char *a, size_t len)
{
    if (len && a[0] == '[') {
        const char *close = memchr(a, ']', len);
        return close ? (size_t)(close - a) + 1 : len;
    }
    const char *colon = memchr(a, ':', len);
    return colon ? (size_t)(colon - a) : len;
}

int lim_origin_allowed(const char *origin, const char *host, const char *const *allowed,
                       size_t nallowed)
{
    if (!origin)
        return 1;
    for (size_t i = 0; i < nallowed; i++)
        if (strcmp(allowed[i], "*") == 0 || strcasecmp(allowed[i], origin) == 0)
            return 1;
    const char *sep = strstr(origin, "://");
    if (!sep || !host || !*host)
        return 0;
    const char *auth = sep + 3;
    size_t alen = strlen(auth);
    if (alen && auth[alen - 1] == '/')
        alen--;      /* not sent by browsers, harmless to accept */
    if (!alen || memchr(auth, '/', alen) || memchr(auth, '@', alen))
        return 0;
    size_t hlen = strlen(host);
    if (alen == hlen && strncasecmp(auth, host, hlen) == 0)
        return 1;
    /* Host without a port: compare the host names only */
    if (host_part(host, hlen) == hlen) {
        size_t ah = host_part(auth, alen);
        return ah == hlen && strncasecmp(auth, host, hlen) == 0;
    }
    return 0;
}

/* ---- buckets and the per-address table -------------------------------------------- */

static void bucket_refill(lim_bucket *b, double rate, int64_t now)
{
    double burst = rate * 2;
    if (now > b->refill_ms)
        b->tokens += (double)(now - b->refill_ms) * rate / 1000.0;
    b->refill_ms = now;
    if (b->tokens > burst)
        b->tokens = burst;
}

void lim_bucket_init(lim_bucket *b, double rate, int64_t now_ms)
{
    b->tokens = rate > 0 ? rate * 2 : 0;
    b->refill_ms = now_ms;
}

int lim_bucket_take(lim_bucket *b, double rate, int64_t now_ms)
{
    if (rate <= 0)
        return 1;
    bucket_refill(b, rate, now_ms);
    if (b->tokens < 1.0)
        return 0;
    b->tokens -= 1.0;
    return 1;
}

int lim_bucket_full(const lim_bucket *b, double rate, int64_t now_ms)
{
    if (rate <= 0)
        return 1;
    lim_bucket c = *b;
    bucket_refill(&c, rate, now_ms);
    return c.tokens >= rate * 2;
}

lim_ip *lim_ip_find(lim_table *t, const lim_addr *a)
{
    lim_ip *e = NULL;
    HASH_FIND(hh, t->by_addr, a->b, sizeof(a->b), e);
    return e;
}

lim_ip *lim_ip_get(lim_table *t, const lim_addr *a, double rate, int64_t now_ms)
{
    lim_ip *e = lim_ip_find(t, a);
    if (e)
        return e;
    e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->addr = *a;
    lim_bucket_init(&e->bucket, rate, now_ms);
    HASH_ADD(hh, t->by_addr, addr.b, sizeof(e->addr.b), e);
    t->count++;
    return e;
}

void lim_table_sweep(lim_table *t, double rate, int64_t now_ms)
{
    lim_ip *e, *tmp;
    HASH_ITER(hh, t->by_addr, e, tmp) {
        if (!e->conns && lim_bucket_full(&e->bucket, rate, now_ms)) {
            HASH_DEL(t->by_addr, e);
            t->count--;
            free(e);
        }
    }
}

void lim_table_free(lim_table *t)
{
    lim_ip *e, *tmp;
    HASH_ITER(hh, t->by_addr, e, tmp) {
        HASH_DEL(t->by_addr, e);
        free(e);
    }
    t->count = 0;
}
