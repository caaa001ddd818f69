/* redis_cluster.c -- the slot map and command routing of redis_cluster.h, on
 * redis_link.c connections.
 *
 * Requests. Each accepted command is an rcl_req holding its RESP bytes, so it
 * can be re-sent. It sits on the deadline list for its whole life (accepted
 * in order with one time-out, so the head always expires first: O(1) per
 * tick) and, while not written to a link, on the wait list. A request is
 * re-sent only when Redis said it did not run it: MOVED (map patched, full
 * refresh asked), ASK (ASKING + command on the target, no map change),
 * TRYAGAIN / CLUSTERDOWN (backoff), or a link that never connected. A link
 * lost after connecting, or a time-out, completes the request with its fate
 * unknown (the store must not double-apply a save).
 *
 * Time-outs. One 20 ms tick runs while requests exist: it expires requests,
 * sends those whose backoff is over, and asks for a map refresh when a
 * request has no usable route. A request that times out after it was written
 * means its node is hung (SIGSTOP, a dead host): the link is dropped, every
 * request on it completes, and the map is refreshed -- the only way out of a
 * silent node, as TCP keepalive takes minutes.
 *
 * The map. CLUSTER SLOTS is asked of one node at a time (round robin, nodes
 * with a live link first) as a request pinned to that node, so it has the
 * same time-out. A node answering "cluster support disabled" makes the
 * client a cluster of one: every slot belongs to it. Nodes are never freed
 * before rcl_close (a request may point at one); their number is capped.
 *
 * Re-entrancy: user callbacks may call rcl_command*() or rcl_close(). The
 * struct is freed only from the tick's close callback, and every loop over
 * the lists stops as soon as `closing` is set. */
#include "redis_cluster.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>
#include <hiredis/hiredis.h>

#include "redis_link.h"
#include "redis_slot.h"

#define RCL_TICK_MS 20
#define RCL_REFRESH_MIN_MS 100   /* at most ten map requests a second */
#define RCL_MAX_NODES 1024
#define RCL_CONNECT_BACKOFF_MAX_MS 1000

enum { RQ_WAIT, RQ_SENT, RQ_DONE };

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

typedef struct rcl_req {
    rcl *c;
    struct rcl_req *dprev, *dnext;   /* deadline list */
    struct rcl_req *wprev, *wnext;   /* wait list */
    char *cmd;
    size_t len;
    unsigned slot;
    rcl_reply_cb *cb;
    void *privdata;
    long long deadline, not_before;
    rcl_node *pin;           /* only this node (map requests), no redirects */
    rcl_node *ask;           /* one ASK redirect pending */
    rlink *link;             /* while RQ_SENT: the link holding our callback */
    uint64_t sent_ns;        /* uv_hrtime() when written */
    int state, retries, redirects, sent;
} rcl_req;

typedef struct rcl_resolve {
    uv_getaddrinfo_t g;
    rcl *c;
    int port;
} rcl_resolve;

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

static const char ASKING_CMD[] = "*1\r\n$6\r\nASKING\r\n";
static const char SLOTS_CMD[] = "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n";

const char *rcl_err_name(int err)
{
    switch (err) {
    case RCL_OK: return "ok";
    case RCL_EUNAVAIL: return "unavailable";
    case RCL_ETIMEOUT: return "timeout";
    case RCL_ENOMEM: return "out of memory";
    case RCL_EINVAL: return "invalid argument";
    case RCL_ECLOSED: return "closed";
    default: return "unknown error";
    }
}

static long long now_ms(const rcl *c)
{
    return (long long)uv_now(c->loop);
}

/* ---- the pure parsers ------------------------------------------------------ */

static int host_ok(const char *s, size_t len)
{
    if (len == 0 || len >= RCL_HOST_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isgraph((unsigned char)s[i]))
            return 0;
    return 1;
}

static int int_in(const redisReply *r, long long lo, long long hi)
{
    return r && r->type == REDIS_REPLY_INTEGER && r->integer >= lo && r->integer <= hi;
}

/* One [host, port, ...] node entry into `out`. */
static int parse_endpoint(const redisReply *n, const char *self_host, rcl_range *out)
{
    if (!n || n->type != REDIS_REPLY_ARRAY || n->elements < 2 || !n->element)
        return RCL_EINVAL;
    const redisReply *h = n->element[0], *p = n->element[1];
    if (!h || (h->type != REDIS_REPLY_STRING) || !int_in(p, 1, 65535))
        return RCL_EINVAL;
    const char *hs = h->str;
    size_t hl = h->len;
    if (hl == 0) {                   /* "the node you are talking to" */
        if (!self_host)
            return RCL_EINVAL;
        hs = self_host;
        hl = strlen(self_host);
    }
    if ((hl == 1 && hs[0] == '?') || !host_ok(hs, hl) || memchr(hs, '\0', hl))
        return RCL_EINVAL;
    memcpy(out->host, hs, hl);
    out->host[hl] = '\0';
    out->port = (int)p->integer;
    return 0;
}

int rcl_parse_slots(const redisReply *r, const char *self_host, rcl_range **out)
{
    *out = NULL;
    if (!r || r->type != REDIS_REPLY_ARRAY || (r->elements && !r->element) ||
        r->elements > RCL_MAX_RANGES)
        return RCL_EINVAL;
    rcl_range *v = calloc(r->elements ? r->elements : 1, sizeof(*v));
    uint8_t *seen = calloc(REDIS_SLOTS, 1);
    int n = 0;
    if (!v || !seen) {
        free(v);
        free(seen);
        return RCL_ENOMEM;
    }
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (!e || e->type != REDIS_REPLY_ARRAY || e->elements < 3 || !e->element)
            goto bad;
        if (!int_in(e->element[0], 0, REDIS_SLOTS - 1) || !int_in(e->element[1], 0, REDIS_SLOTS - 1))
            goto bad;
        long long a = e->element[0]->integer, b = e->element[1]->integer;
        if (a > b)
            goto bad;
        if (parse_endpoint(e->element[2], self_host, &v[n]) != 0)
            goto bad;
        for (long long s = a; s <= b; s++) {
            if (seen[s])
                goto bad;
            seen[s] = 1;
        }
        v[n].start = (uint16_t)a;
        v[n].end = (uint16_t)b;
        n++;
    }
    free(seen);
    *out = v;
    return n;
bad:
    free(seen);
    free(v);
    return RCL_EINVAL;
}

int rcl_parse_redirect(const char *s, size_t len, const char *self_host, unsigned *slot,
                       char host[RCL_HOST_MAX], int *port)
{
    size_t i = 0;
    unsigned long sl = 0;
    if (len == 0 || !isdigit((unsigned char)s[0]))
        return RCL_EINVAL;
    while (i < len && isdigit((unsigned char)s[i])) {
        sl = sl * 10 + (unsigned)(s[i] - '0');
        if (sl >= REDIS_SLOTS)
            return RCL_EINVAL;
        i++;
    }
    if (i >= len || s[i] != ' ')
        return RCL_EINVAL;
    const char *ep = s + i + 1;
    size_t elen = len - i - 1;
    const char *colon = NULL;
    for (size_t k = elen; k > 0; k--)         /* the last ':' (IPv6 hosts hold some) */
        if (ep[k - 1] == ':') {
            colon = ep + k - 1;
            break;
        }
    if (!colon)
        return RCL_EINVAL;
    size_t hl = (size_t)(colon - ep), pl = elen - hl - 1;
    if (pl == 0 || pl > 5)
        return RCL_EINVAL;
    long p = 0;
    for (size_t k = 0; k < pl; k++) {
        if (!isdigit((unsigned char)colon[1 + k]))
            return RCL_EINVAL;
        p = p * 10 + (colon[1 + k] - '0');
    }
    if (p < 1 || p > 65535)
        return RCL_EINVAL;
    if (hl == 0) {
        if (!self_host || !host_ok(self_host, strlen(self_host)))
            return RCL_EINVAL;
        strcpy(host, self_host);
    } else {
        if (ep[0] == '[' && hl >= 2 && ep[hl - 1] == ']') {   /* "[::1]:7000" */
            ep++;
            hl -= 2;
        }
        if (!host_ok(ep, hl))
            return RCL_EINVAL;
        memcpy(host, ep, hl);
        host[hl] = '\0';
    }
    *slot = (unsigned)sl;
    *port = (int)p;
    return 0;
}

/* ---- nodes ------------------------------------------------------------------- */

static rcl_node *node_find(rcl *c, const char *host, int port)
{
    for (size_t i = 0; i < c->nnodes; i++)
        if (c->nodes[i]->port == port && strcmp(c->nodes[i]->host, host) == 0)
            return c->nodes[i];
    return NULL;
}

static rcl_node *node_get(rcl *c, const char *host, int port)
{
    rcl_node *n = node_find(c, host, port);
    if (n)
        return n;
    if (c->nnodes >= RCL_MAX_NODES || strlen(host) >= RCL_HOST_MAX)
        return NULL;
    rcl_node **nv = realloc(c->nodes, (c->nnodes + 1) * sizeof(*nv));
    if (!nv)
        return NULL;
    c->nodes = nv;
    n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->c = c;
    strcpy(n->host, host);
    n->port = port;
    c->nodes[c->nnodes++] = n;
    return n;
}

static size_t node_index(const rcl *c, const rcl_node *n)
{
    for (size_t i = 0; i < c->nnodes; i++)
        if (c->nodes[i] == n)
            return i;
    return c->nnodes;
}

static void tick_arm(rcl *c);

static void node_down(rlink *l, const char *why, void *ud)
{
    (void)why;
    rcl_node *n = ud;
    rcl *c = n->c;
    if (n->link != l)
        return;
    n->link = NULL;
    c->st.conn_drops++;
    if (rlink_was_up(l)) {
        n->fails = 0;
        n->retry_at = now_ms(c);
    } else {
        int b = c->o.backoff_min_ms << (n->fails < 6 ? n->fails : 6);
        n->fails++;
        n->retry_at = now_ms(c) + (b < RCL_CONNECT_BACKOFF_MAX_MS ? b : RCL_CONNECT_BACKOFF_MAX_MS);
    }
    rcl_refresh(c);
}

/* AUTH refused: the node is unusable with our credentials. Fail the link,
 * so the owner sees it down and the commands behind AUTH complete. */
static void auth_reply(rlink *l, redisReply *r, void *priv)
{
    rcl *c = priv;
    if (r && r->type == REDIS_REPLY_ERROR) {
        c->st.auth_fail++;
        rlink_fail(l, "AUTH refused");
    }
}

/* SELECT refused: a db was asked of a cluster node (or a db out of range) */
static void select_reply(rlink *l, redisReply *r, void *priv)
{
    (void)priv;
    if (r && r->type == REDIS_REPLY_ERROR)
        rlink_fail(l, "SELECT refused");
}

/* SELECT <db> queued on a new link: 0, or -1 (the link is closed) */
static int link_select(rcl *c, rlink *l)
{
    char db[16], *cmd = NULL;
    snprintf(db, sizeof db, "%d", c->o.db);
    const char *argv[2] = {"SELECT", db};
    size_t len[2] = {6, strlen(db)};
    int n = redisFormatCommandArgv(&cmd, 2, argv, len);
    if (n < 0 || !cmd || rlink_send(l, cmd, (size_t)n, select_reply, c) != 0) {
        if (cmd)
            redisFreeCommand(cmd);
        rlink_close(l);
        return -1;
    }
    redisFreeCommand(cmd);
    return 0;
}

rlink *rcl_link_open(rcl *c, const char *host, int port, rlink_push_fn *push,
                     rlink_down_fn *down, void *ud)
{
    rlink *l = rlink_open(c->loop, host, port, push, down, ud);
    if (l && !c->password && c->o.db > 0)
        return link_select(c, l) == 0 ? l : NULL;
    if (!l || !c->password)
        return l;
    const char *argv[3] = {"AUTH", c->user ? c->user : c->password, c->password};
    size_t len[3] = {4, strlen(argv[1]), strlen(argv[2])};
    char *cmd = NULL;
    int n = redisFormatCommandArgv(&cmd, c->user ? 3 : 2, argv, len);
    if (n < 0 || !cmd || rlink_send(l, cmd, (size_t)n, auth_reply, c) != 0) {
        if (cmd)
            redisFreeCommand(cmd);
        rlink_close(l);              /* no command on it yet: nobody to tell */
        return NULL;
    }
    redisFreeCommand(cmd);
    if (c->o.db > 0 && link_select(c, l) != 0)
        return NULL;
    return l;
}

/* The node's link, connecting if allowed; NULL while in connect backoff. */
static rlink *node_link(rcl_node *n)
{
    rcl *c = n->c;
    if (n->link && !rlink_alive(n->link))
        return NULL;                 /* ended, its down callback is on the way */
    if (n->link)
        return n->link;
    if (now_ms(c) < n->retry_at)
        return NULL;
    n->link = rcl_link_open(c, n->host, n->port, NULL, node_down, n);
    if (!n->link) {
        n->fails++;
        n->retry_at = now_ms(c) + RCL_CONNECT_BACKOFF_MAX_MS;
    }
    return n->link;
}

/* Drop a node's link (hung node, or shutdown): its requests complete now. */
static void node_drop(rcl_node *n)
{
    rlink *l = n->link;
    if (!l)
        return;
    n->link = NULL;
    n->retry_at = 0;
    rlink_close(l);
}

/* ---- requests ---------------------------------------------------------------- */

static void wait_unlink(rcl *c, rcl_req *r)
{
    if (r->wprev)
        r->wprev->wnext = r->wnext;
    else if (c->whead == r)
        c->whead = r->wnext;
    if (r->wnext)
        r->wnext->wprev = r->wprev;
    else if (c->wtail == r)
        c->wtail = r->wprev;
    r->wprev = r->wnext = NULL;
}

static void wait_push(rcl *c, rcl_req *r)
{
    r->state = RQ_WAIT;
    r->wnext = NULL;
    r->wprev = c->wtail;
    if (c->wtail)
        c->wtail->wnext = r;
    else
        c->whead = r;
    c->wtail = r;
}

static void req_free(rcl_req *r)
{
    free(r->cmd);
    free(r);
}

/* The one place a request completes. Its memory goes now unless a link still
 * holds its callback (a time-out), in which case req_reply frees it. */
static void req_complete(rcl_req *r, int status, redisReply *reply)
{
    rcl *c = r->c;
    if (r->state == RQ_WAIT)
        wait_unlink(c, r);
    if (r->dprev)
        r->dprev->dnext = r->dnext;
    else
        c->dhead = r->dnext;
    if (r->dnext)
        r->dnext->dprev = r->dprev;
    else
        c->dtail = r->dprev;
    r->dprev = r->dnext = NULL;
    int held = r->state == RQ_SENT && r->link != NULL;
    r->state = RQ_DONE;
    c->nlive--;
    rcl_reply_cb *cb = r->cb;
    r->cb = NULL;
    if (cb)
        cb(c, status, reply, r->sent, r->privdata);
    if (!held)
        req_free(r);
}

static int backoff_ms(const rcl *c, int retries)
{
    int sh = retries < 10 ? retries : 10;
    long b = (long)c->o.backoff_min_ms << sh;
    return b < c->o.backoff_max_ms ? (int)b : c->o.backoff_max_ms;
}

static void req_reply(rlink *l, redisReply *reply, void *priv);

/* Write r to its node if it has one now: 1 written, 0 no route yet (it stays
 * waiting), or RCL_EUNAVAIL / RCL_ENOMEM for the caller to complete with. */
static int req_send(rcl_req *r)
{
    rcl *c = r->c;
    if (r->not_before > now_ms(c))
        return 0;
    rcl_node *n = r->pin ? r->pin : r->ask;
    if (!n && c->owner[r->slot])
        n = c->nodes[c->owner[r->slot] - 1];
    if (!n) {
        rcl_refresh(c);
        return 0;
    }
    rlink *l = node_link(n);
    if (!l) {
        if (r->pin)                      /* a map request: try another node */
            return RCL_EUNAVAIL;
        rcl_refresh(c);
        return 0;
    }
    /* rlink_send fails on memory only: node_link gave a live link */
    if (r->ask && rlink_send(l, ASKING_CMD, sizeof ASKING_CMD - 1, NULL, NULL) != 0)
        return RCL_ENOMEM;
    if (rlink_send(l, r->cmd, r->len, req_reply, r) != 0)
        return RCL_ENOMEM;
    if (r->state == RQ_WAIT)
        wait_unlink(c, r);
    r->ask = NULL;
    r->state = RQ_SENT;
    r->link = l;
    r->sent = 1;
    r->sent_ns = uv_hrtime();
    return 1;
}

static void req_try_send(rcl_req *r)
{
    int rc = req_send(r);
    if (rc < 0)
        req_complete(r, rc, NULL);
}

/* Put r back on the wait list and try it at once when it has no backoff. */
static void req_retry(rcl_req *r, int delay_ms)
{
    rcl *c = r->c;
    r->sent = 0;
    r->not_before = delay_ms ? now_ms(c) + delay_ms : 0;
    wait_push(c, r);
    if (!delay_ms)
        req_try_send(r);
}

static int err_is(const redisReply *r, const char *word, size_t wlen)
{
    return r->len >= wlen && memcmp(r->str, word, wlen) == 0 &&
           (r->len == wlen || r->str[wlen] == ' ');
}

/* A redirect: returns the node named by a MOVED/ASK error, NULL if bad. */
static rcl_node *redirect_target(rcl *c, const redisReply *e, size_t skip, rcl_node *self,
                                 unsigned *slot)
{
    char host[RCL_HOST_MAX];
    int port;
    if (e->len <= skip || rcl_parse_redirect(e->str + skip, e->len - skip,
                                             self ? self->host : NULL, slot, host, &port) != 0)
        return NULL;
    return node_get(c, host, port);
}

static rcl_node *link_node(rcl *c, rlink *l)
{
    for (size_t i = 0; i < c->nnodes; i++)
        if (c->nodes[i]->link == l)
            return c->nodes[i];
    return NULL;
}

static void req_reply(rlink *l, redisReply *reply, void *priv)
{
    rcl_req *r = priv;
    rcl *c = r->c;
    r->link = NULL;
    if (r->state == RQ_DONE) {           /* timed out earlier */
        req_free(r);
        return;
    }
    if (!reply) {
        if (c->closing)
            req_complete(r, RCL_ECLOSED, NULL);
        else if (!rlink_was_up(l) && ++r->retries <= c->o.retry_max)
            req_retry(r, backoff_ms(c, r->retries));   /* never reached a node */
        else {
            if (!rlink_was_up(l))
                r->sent = 0;
            req_complete(r, RCL_EUNAVAIL, NULL);
        }
        return;
    }
    rcl_node *self = link_node(c, l), *to;
    if (self) {
        uint64_t us = (uv_hrtime() - r->sent_ns) / 1000;
        unsigned sample = us > 60000000 ? 60000000u : (unsigned)us;
        self->rtt_us = self->rtt_us ? (unsigned)(((uint64_t)self->rtt_us * 7 + sample) / 8) : sample;
    }
    if (reply->type == REDIS_REPLY_ERROR && !r->pin && reply->str) {
        unsigned slot;
        if (err_is(reply, "MOVED", 5)) {
            c->st.moved++;
            to = redirect_target(c, reply, 6, self, &slot);
            if (!to || ++r->redirects > c->o.redirect_max) {
                r->sent = 0;
                req_complete(r, RCL_EUNAVAIL, NULL);
                return;
            }
            c->owner[slot] = (uint16_t)(node_index(c, to) + 1);
            rcl_refresh(c);
            req_retry(r, 0);
            return;
        }
        if (err_is(reply, "ASK", 3)) {
            c->st.ask++;
            to = redirect_target(c, reply, 4, self, &slot);
            if (!to || ++r->redirects > c->o.redirect_max) {
                r->sent = 0;
                req_complete(r, RCL_EUNAVAIL, NULL);
                return;
            }
            r->ask = to;
            req_retry(r, 0);
            return;
        }
        if (err_is(reply, "NOAUTH", 6) || err_is(reply, "WRONGPASS", 9)) {
            r->sent = 0;                 /* refused before running */
            req_complete(r, RCL_EUNAVAIL, NULL);
            return;
        }
        /* not run: TRYAGAIN (keys split by a migration), CLUSTERDOWN, a
         * node still LOADING its data, a replica whose MASTERDOWN */
        int tryagain = err_is(reply, "TRYAGAIN", 8) || err_is(reply, "LOADING", 7) ||
                       err_is(reply, "MASTERDOWN", 10);
        if (tryagain || err_is(reply, "CLUSTERDOWN", 11)) {
            if (tryagain)
                c->st.tryagain++;
            else {
                c->st.clusterdown++;
                rcl_refresh(c);
            }
            if (++r->retries > c->o.retry_max) {
                r->sent = 0;
                req_complete(r, RCL_EUNAVAIL, NULL);
                return;
            }
            req_retry(r, backoff_ms(c, r->retries));
            return;
        }
    }
    req_complete(r, RCL_OK, reply);
}

static rcl_req *req_new(rcl *c, unsigned slot, rcl_reply_cb *cb, void *privdata)
{
    rcl_req *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->c = c;
    r->slot = slot;
    r->cb = cb;
    r->privdata = privdata;
    r->deadline = now_ms(c) + c->o.timeout_ms;
    r->dprev = c->dtail;
    if (c->dtail)
        c->dtail->dnext = r;
    else
        c->dhead = r;
    c->dtail = r;
    c->nlive++;
    wait_push(c, r);
    tick_arm(c);
    return r;
}

/* ---- the map ----------------------------------------------------------------- */

static void map_changed(rcl *c);
static void dispatch(rcl *c);

static void refresh_fail(rcl *c)
{
    c->st.refresh_fail++;
    c->refresh_wanted = 1;
}

static int map_apply_slots(rcl *c, rcl_node *from, const redisReply *reply)
{
    rcl_range *v;
    int n = rcl_parse_slots(reply, from->host, &v);
    if (n <= 0) {
        free(v);
        return -1;
    }
    uint16_t *own = calloc(REDIS_SLOTS, sizeof(*own));
    if (!own) {
        free(v);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        rcl_node *nd = node_get(c, v[i].host, v[i].port);
        if (!nd) {
            free(own);
            free(v);
            return -1;
        }
        uint16_t idx = (uint16_t)(node_index(c, nd) + 1);
        for (unsigned s = v[i].start; s <= v[i].end; s++)
            own[s] = idx;
    }
    memcpy(c->owner, own, sizeof c->owner);
    free(own);
    free(v);
    c->mode = RCL_MODE_CLUSTER;
    return 0;
}

static void refresh_done(rcl *c, int status, redisReply *reply, int sent, void *priv)
{
    (void)sent;
    rcl_node *from = priv;
    c->refreshing = 0;
    if (status == RCL_ECLOSED)
        return;
    int ok = -1;
    if (status == RCL_OK && reply->type == REDIS_REPLY_ERROR && reply->str &&
        strstr(reply->str, "cluster support disabled")) {
        uint16_t idx = (uint16_t)(node_index(c, from) + 1);
        for (unsigned s = 0; s < REDIS_SLOTS; s++)
            c->owner[s] = idx;
        c->mode = RCL_MODE_SINGLE;
        ok = 0;
    } else if (status == RCL_OK) {
        ok = map_apply_slots(c, from, reply);
    }
    if (ok != 0) {
        refresh_fail(c);
        return;
    }
    c->st.refreshes++;
    map_changed(c);
}

/* A node to ask for the map: one with a live link first, else one whose
 * connect backoff is over, round robin so a dead seed is not asked forever. */
static rcl_node *refresh_pick(rcl *c)
{
    long long now = now_ms(c);
    for (int pass = 0; pass < 2; pass++)
        for (size_t k = 0; k < c->nnodes; k++) {
            size_t i = (c->refresh_next + k) % c->nnodes;
            rcl_node *n = c->nodes[i];
            if ((pass == 0 && n->link) || (pass == 1 && now >= n->retry_at)) {
                c->refresh_next = i + 1;
                return n;
            }
        }
    return NULL;
}

static void refresh_start(rcl *c)
{
    if (c->closing || c->refreshing || !c->refresh_wanted || now_ms(c) < c->refresh_at)
        return;
    rcl_node *n = refresh_pick(c);
    if (!n)
        return;
    rcl_req *r = req_new(c, 0, refresh_done, n);
    if (!r)
        return;
    r->cmd = malloc(sizeof SLOTS_CMD - 1);
    if (!r->cmd) {
        req_complete(r, RCL_ENOMEM, NULL);   /* refresh_done: a failure, retried */
        return;
    }
    memcpy(r->cmd, SLOTS_CMD, sizeof SLOTS_CMD - 1);
    r->len = sizeof SLOTS_CMD - 1;
    r->pin = n;
    c->refreshing = 1;
    c->refresh_wanted = 0;
    c->refresh_at = now_ms(c) + RCL_REFRESH_MIN_MS;
    req_try_send(r);
}

void rcl_refresh(rcl *c)
{
    if (c->closing)
        return;
    c->refresh_wanted = 1;
    tick_arm(c);
}

static void map_changed(rcl *c)
{
    if (c->hook)
        c->hook(c, c->hook_ud);
    if (!c->closing && c->map_cb)
        c->map_cb(c, c->map_ud);
    if (!c->closing)
        dispatch(c);
}

/* ---- dispatch and the tick ----------------------------------------------------- */

static void dispatch(rcl *c)
{
    if (c->dispatching) {
        c->redispatch = 1;
        return;
    }
    c->dispatching = 1;
    do {
        c->redispatch = 0;
        rcl_req *r = c->whead;
        while (r && !c->closing) {
            rcl_req *next = r->wnext;
            req_try_send(r);
            r = next;
        }
    } while (c->redispatch && !c->closing);
    c->dispatching = 0;
}

static void expire(rcl *c)
{
    long long now = now_ms(c);
    rcl_req *r;
    while (!c->closing && (r = c->dhead) != NULL && r->deadline <= now) {
        if (r->state == RQ_SENT && r->link) {
            rlink *l = r->link;
            c->st.timeouts++;
            req_complete(r, RCL_ETIMEOUT, NULL);
            rcl_node *n = link_node(c, l);
            if (n) {            /* the node went silent: drop it, ask for a map */
                node_drop(n);
                rcl_refresh(c);
            }
        } else {
            req_complete(r, RCL_EUNAVAIL, NULL);
        }
    }
}

static void on_tick(uv_timer_t *t)
{
    rcl *c = t->data;
    expire(c);
    if (c->closing)
        return;
    refresh_start(c);
    if (c->closing)
        return;
    dispatch(c);
    if (!c->closing && c->nlive == 0 && !c->refresh_wanted) {
        uv_timer_stop(&c->tick);
        c->tick_on = 0;
    }
}

static void tick_arm(rcl *c)
{
    if (c->tick_on || c->closing)
        return;
    c->tick_on = 1;
    uv_timer_start(&c->tick, on_tick, 0, RCL_TICK_MS);
}

/* ---- seeds --------------------------------------------------------------------- */

static int is_ip(const char *h)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

static void free_if_done(rcl *c);

static void on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *res)
{
    rcl_resolve *rv = g->data;
    rcl *c = rv->c;
    c->resolving--;
    /* every address is a seed ("localhost" may give ::1 and 127.0.0.1, and
     * the server may listen on one only); a few are plenty */
    int added = 0;
    for (struct addrinfo *a = status == 0 ? res : NULL; a && added < 4 && !c->closing;
         a = a->ai_next) {
        char ip[RCL_HOST_MAX] = "";
        if (a->ai_family == AF_INET)
            uv_ip4_name((struct sockaddr_in *)a->ai_addr, ip, sizeof ip);
        else if (a->ai_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)a->ai_addr, ip, sizeof ip);
        rcl_node *n = ip[0] ? node_get(c, ip, rv->port) : NULL;
        if (n) {
            n->seed = 1;
            added++;
        }
    }
    if (added)
        rcl_refresh(c);
    uv_freeaddrinfo(res);
    free(rv);
    if (c->closing)
        free_if_done(c);
}

/* "h1:p1,h2:p2" -> nodes (IP literals) or resolutions under way. */
static int seeds_add(rcl *c, const char *seeds)
{
    const char *p = seeds;
    int count = 0;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char host[RCL_HOST_MAX];
        unsigned dummy;
        int port;
        /* reuse the redirect parser: "0 host:port" */
        char tmp[RCL_HOST_MAX + 16];
        if (len == 0 || len >= RCL_HOST_MAX + 8)
            return RCL_EINVAL;
        if (len > 6 && strncmp(p, "unix:/", 6) == 0 && len - 5 < RCL_HOST_MAX) {
            /* "unix:/path": a single Redis on a unix socket, port 0 */
            memcpy(host, p + 5, len - 5);
            host[len - 5] = '\0';
            rcl_node *n = node_get(c, host, 0);
            if (!n)
                return RCL_ENOMEM;
            n->seed = 1;
            count++;
            p += len;
            if (*p == ',' && *++p == '\0')
                return RCL_EINVAL;
            continue;
        }
        tmp[0] = '0';
        tmp[1] = ' ';
        memcpy(tmp + 2, p, len);
        if (rcl_parse_redirect(tmp, len + 2, NULL, &dummy, host, &port) != 0)
            return RCL_EINVAL;
        if (is_ip(host)) {
            rcl_node *n = node_get(c, host, port);
            if (!n)
                return RCL_ENOMEM;
            n->seed = 1;
        } else {
            rcl_resolve *rv = calloc(1, sizeof(*rv));
            if (!rv)
                return RCL_ENOMEM;
            rv->c = c;
            rv->port = port;
            rv->g.data = rv;
            struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
            if (uv_getaddrinfo(c->loop, &rv->g, on_resolved, host, NULL, &hints) != 0) {
                free(rv);
                return RCL_EINVAL;
            }
            c->resolving++;
        }
        count++;
        p += len;
        if (*p == ',' && *++p == '\0')
            return RCL_EINVAL;            /* "a:1," */
    }
    return count ? 0 : RCL_EINVAL;
}

/* ---- public -------------------------------------------------------------------- */

int rcl_open(rcl **out, uv_loop_t *loop, const char *seeds, const rcl_opts *opts,
             rcl_map_cb *map_cb, void *ud)
{
    *out = NULL;
    if (!loop || !seeds)
        return RCL_EINVAL;
    rcl *c = calloc(1, sizeof(*c));
    if (!c)
        return RCL_ENOMEM;
    c->loop = loop;
    if (opts)
        c->o = *opts;
    if (c->o.timeout_ms <= 0)
        c->o.timeout_ms = 2000;
    if (c->o.retry_max <= 0)
        c->o.retry_max = 8;
    if (c->o.redirect_max <= 0)
        c->o.redirect_max = 5;
    if (c->o.backoff_min_ms <= 0)
        c->o.backoff_min_ms = 20;
    if (c->o.backoff_max_ms <= 0)
        c->o.backoff_max_ms = 500;
    c->map_cb = map_cb;
    c->map_ud = ud;
    uv_timer_init(loop, &c->tick);
    c->tick.data = c;
    int rc = 0;
    if (c->o.password && !(c->password = strdup(c->o.password)))
        rc = RCL_ENOMEM;
    if (rc == 0 && c->o.user && !(c->user = strdup(c->o.user)))
        rc = RCL_ENOMEM;
    c->o.user = c->o.password = NULL;    /* the copies above are what counts */
    if (rc == 0)
        rc = seeds_add(c, seeds);
    if (rc != 0) {
        /* resolutions already started still call back: close as usual */
        rcl_close(c, NULL, NULL);
        return rc;
    }
    rcl_refresh(c);
    *out = c;
    return 0;
}

static int command_new(rcl *c, unsigned slot, int argc, const char **argv, const size_t *argvlen,
                       rcl_reply_cb *cb, void *privdata)
{
    if (c->closing)
        return RCL_ECLOSED;
    if (argc <= 0 || !argv || !cb || slot >= REDIS_SLOTS)
        return RCL_EINVAL;
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, argv, argvlen);
    if (len < 0 || !cmd)
        return RCL_ENOMEM;
    rcl_req *r = req_new(c, slot, cb, privdata);
    if (!r) {
        redisFreeCommand(cmd);
        return RCL_ENOMEM;
    }
    r->cmd = cmd;
    r->len = (size_t)len;
    /* Sent at once when the route is known (no loop turn of latency); a
     * failure here is returned, never called back (the contract). */
    int rc = req_send(r);
    if (rc < 0) {
        r->cb = NULL;
        req_complete(r, rc, NULL);
        return rc;
    }
    return 0;
}

int rcl_command_argv(rcl *c, const void *key, size_t keylen, int argc, const char **argv,
                     const size_t *argvlen, rcl_reply_cb *cb, void *privdata)
{
    if (!key)
        return RCL_EINVAL;
    return command_new(c, redis_key_slot(key, keylen), argc, argv, argvlen, cb, privdata);
}

int rcl_command_slot(rcl *c, unsigned slot, int argc, const char **argv, const size_t *argvlen,
                     rcl_reply_cb *cb, void *privdata)
{
    return command_new(c, slot, argc, argv, argvlen, cb, privdata);
}

int rcl_mode(const rcl *c) { return c->mode; }

int rcl_covered(const rcl *c)
{
    if (c->mode == RCL_MODE_UNKNOWN)
        return 0;
    for (unsigned s = 0; s < REDIS_SLOTS; s++)
        if (!c->owner[s])
            return 0;
    return 1;
}
const rcl_stats *rcl_get_stats(const rcl *c) { return &c->st; }
uv_loop_t *rcl_loop(const rcl *c) { return c->loop; }

void rcl_set_map_hook(rcl *c, rcl_map_hook *hook, void *ud)
{
    c->hook = hook;
    c->hook_ud = ud;
}

int rcl_slot_owner(const rcl *c, unsigned slot, char *host, size_t hostsz)
{
    if (slot >= REDIS_SLOTS || !c->owner[slot])
        return -1;
    const rcl_node *n = c->nodes[c->owner[slot] - 1];
    if (host && hostsz) {
        strncpy(host, n->host, hostsz - 1);
        host[hostsz - 1] = '\0';
    }
    return n->port;
}

size_t rcl_nodes(const rcl *c, rcl_node_info *out, size_t max)
{
    for (size_t i = 0; i < c->nnodes && i < max; i++) {
        const rcl_node *n = c->nodes[i];
        rcl_node_info *o = &out[i];
        memset(o, 0, sizeof *o);
        strcpy(o->host, n->host);
        o->port = n->port;
        o->up = n->link != NULL;
        o->rtt_us = n->rtt_us;
        for (unsigned s = 0; s < REDIS_SLOTS; s++)
            o->slots += c->owner[s] == i + 1;
    }
    return c->nnodes;
}

void rcl_note_moved(rcl *c, unsigned slot, const char *host, int port)
{
    if (c->closing || slot >= REDIS_SLOTS)
        return;
    rcl_node *n = node_get(c, host, port);
    if (n)
        c->owner[slot] = (uint16_t)(node_index(c, n) + 1);
    rcl_refresh(c);
}

/* ---- close ------------------------------------------------------------------- */

static void free_if_done(rcl *c)
{
    if (c->resolving > 0 || c->tick_on != -1)
        return;
    for (size_t i = 0; i < c->nnodes; i++)
        free(c->nodes[i]);
    free(c->nodes);
    free(c->user);
    free(c->password);
    rcl_closed_cb *done = c->done;
    void *ud = c->done_ud;
    free(c);
    if (done)
        done(ud);
}

static void on_tick_closed(uv_handle_t *h)
{
    rcl *c = h->data;
    c->tick_on = -1;
    free_if_done(c);
}

void rcl_close(rcl *c, rcl_closed_cb *done, void *ud)
{
    if (c->closing)
        return;
    c->closing = 1;
    c->done = done;
    c->done_ud = ud;
    /* waiting requests first, then links (whose requests get ECLOSED) */
    while (c->whead)
        req_complete(c->whead, RCL_ECLOSED, NULL);
    for (size_t i = 0; i < c->nnodes; i++)
        node_drop(c->nodes[i]);
    while (c->dhead)                       /* defensive: nothing should be left */
        req_complete(c->dhead, RCL_ECLOSED, NULL);
    /* resolutions still under way call on_resolved, which frees them */
    uv_timer_stop(&c->tick);
    c->tick_on = 0;
    uv_close((uv_handle_t *)&c->tick, on_tick_closed);
}
