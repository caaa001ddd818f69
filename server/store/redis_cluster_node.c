/* redis_cluster_node.c -- the nodes of redis_cluster.h: one per host:port
 * seen (seeds, map entries, redirect targets), each with at most one
 * redis_link.c connection, opened on demand.
 *
 * Nodes are never freed before rcl_close (a request may point at one), so
 * their number is capped (RCL_MAX_NODES) against a map or redirects naming
 * ever new nodes. A link that fails before it connected puts its node in a
 * connect backoff (doubling, at most RCL_CONNECT_BACKOFF_MAX_MS); one that
 * was up may reconnect at once. Every new link sends AUTH and SELECT first
 * when configured, so a command never runs before them.
 *
 * Seeds are IP literals, hostnames (resolved with uv_getaddrinfo: the loop
 * never blocks on DNS; every address found, up to four, becomes a seed) or
 * "unix:/path" for a single Redis. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>
#include <hiredis/hiredis.h>

#include "redis_cluster_int.h"

#define RCL_MAX_NODES 1024
#define RCL_CONNECT_BACKOFF_MAX_MS 1000

typedef struct rcl_resolve {
    uv_getaddrinfo_t g;
    rcl *c;
    int port;
} rcl_resolve;

/* ---- nodes ------------------------------------------------------------------- */

static rcl_node *node_find(rcl *c, const char *host, int port)
{
    for (size_t i = 0; i < c->nnodes; i++)
        if (c->nodes[i]->port == port && strcmp(c->nodes[i]->host, host) == 0)
            return c->nodes[i];
    return NULL;
}

rcl_node *rcli_node_get(rcl *c, const char *host, int port)
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

rcl_node *rcli_link_node(rcl *c, const rlink *l)
{
    for (size_t i = 0; i < c->nnodes; i++)
        if (c->nodes[i]->link == l)
            return c->nodes[i];
    return NULL;
}

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
        n->retry_at = rcli_now_ms(c);
    } else {
        int b = c->o.backoff_min_ms << (n->fails < 6 ? n->fails : 6);
        n->fails++;
        n->retry_at = rcli_now_ms(c) +
                      (b < RCL_CONNECT_BACKOFF_MAX_MS ? b : RCL_CONNECT_BACKOFF_MAX_MS);
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
rlink *rcli_node_link(rcl_node *n)
{
    rcl *c = n->c;
    if (n->link && !rlink_alive(n->link))
        return NULL;                 /* ended, its down callback is on the way */
    if (n->link)
        return n->link;
    if (rcli_now_ms(c) < n->retry_at)
        return NULL;
    n->link = rcl_link_open(c, n->host, n->port, NULL, node_down, n);
    if (!n->link) {
        n->fails++;
        n->retry_at = rcli_now_ms(c) + RCL_CONNECT_BACKOFF_MAX_MS;
    }
    return n->link;
}

/* Drop a node's link (hung node, or shutdown): its requests complete now. */
void rcli_node_drop(rcl_node *n)
{
    rlink *l = n->link;
    if (!l)
        return;
    n->link = NULL;
    n->retry_at = 0;
    rlink_close(l);
}

/* ---- seeds --------------------------------------------------------------------- */

static int is_ip(const char *h)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

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
        rcl_node *n = ip[0] ? rcli_node_get(c, ip, rv->port) : NULL;
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
        rcli_free_if_done(c);
}

/* "h1:p1,h2:p2" -> nodes (IP literals) or resolutions under way. */
int rcli_seeds_add(rcl *c, const char *seeds)
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
            rcl_node *n = rcli_node_get(c, host, 0);
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
            rcl_node *n = rcli_node_get(c, host, port);
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

/* Links are closed by now (rcl_close dropped them): only memory is left. */
void rcli_nodes_free(rcl *c)
{
    for (size_t i = 0; i < c->nnodes; i++)
        free(c->nodes[i]);
    free(c->nodes);
}
