/* redis_cluster_map.c -- the slot map of redis_cluster.h: the pure parsers of
 * CLUSTER SLOTS replies and MOVED / ASK redirects, and the map built from them.
 *
 * The parsers take every reply as hostile input (a node may be confused or
 * not Redis at all): each element is type- and range-checked, and they touch
 * no client state, so the tests and the fuzzer (fuzz_slotmap) call them alone.
 *
 * The map. CLUSTER SLOTS is asked of one node at a time (round robin, nodes
 * with a live link first) as a request pinned to that node, so it has the
 * same time-out as a command. A new map replaces the owner table whole, and
 * only once it parsed; a failed refresh keeps the old one and is retried. A
 * node answering "cluster support disabled" makes the client a cluster of
 * one: every slot belongs to it. A MOVED patches its one slot at once (the
 * retry goes straight to the new owner) and asks for a full map; maps are
 * asked for at most every RCL_REFRESH_MIN_MS. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "redis_cluster_int.h"

#define RCL_REFRESH_MIN_MS 100   /* at most ten map requests a second */

static const char SLOTS_CMD[] = "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n";

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

/* ---- the map ----------------------------------------------------------------- */

/* n's place in c->nodes; the owner table holds it + 1 (0 is "no owner"). */
static size_t node_index(const rcl *c, const rcl_node *n)
{
    for (size_t i = 0; i < c->nnodes; i++)
        if (c->nodes[i] == n)
            return i;
    return c->nnodes;
}

rcl_node *rcli_redirect_target(rcl *c, const redisReply *e, size_t skip, rcl_node *self,
                               unsigned *slot)
{
    char host[RCL_HOST_MAX];
    int port;
    if (e->len <= skip || rcl_parse_redirect(e->str + skip, e->len - skip,
                                             self ? self->host : NULL, slot, host, &port) != 0)
        return NULL;
    return rcli_node_get(c, host, port);
}

/* A redirect: `slot` is on n now (NULL: a node we could not add). The
 * patch lets the retry go straight to n; the full map follows. */
void rcli_map_patch(rcl *c, unsigned slot, rcl_node *n)
{
    if (n)
        c->owner[slot] = (uint16_t)(node_index(c, n) + 1);
    rcl_refresh(c);
}

void rcl_note_moved(rcl *c, unsigned slot, const char *host, int port)
{
    if (c->closing || slot >= REDIS_SLOTS)
        return;
    rcli_map_patch(c, slot, rcli_node_get(c, host, port));
}

static void map_changed(rcl *c);

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
        rcl_node *nd = rcli_node_get(c, v[i].host, v[i].port);
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
    long long now = rcli_now_ms(c);
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

void rcli_refresh_start(rcl *c)
{
    if (c->closing || c->refreshing || !c->refresh_wanted || rcli_now_ms(c) < c->refresh_at)
        return;
    rcl_node *n = refresh_pick(c);
    if (!n)
        return;
    /* NULL: out of memory, and refresh_done has counted a failure (or, if
     * not even the request was made, the refresh stays wanted): retried */
    rcl_req *r = rcli_req_pinned(c, n, SLOTS_CMD, sizeof SLOTS_CMD - 1, refresh_done, n);
    if (!r)
        return;
    c->refreshing = 1;
    c->refresh_wanted = 0;
    c->refresh_at = rcli_now_ms(c) + RCL_REFRESH_MIN_MS;
    rcli_req_try_send(r);
}

void rcl_refresh(rcl *c)
{
    if (c->closing)
        return;
    c->refresh_wanted = 1;
    rcli_tick_arm(c);
}

static void map_changed(rcl *c)
{
    if (c->hook)
        c->hook(c, c->hook_ud);
    if (!c->closing && c->map_cb)
        c->map_cb(c, c->map_ud);
    if (!c->closing)
        rcli_dispatch(c);
}

/* ---- what the map says ------------------------------------------------------- */

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
