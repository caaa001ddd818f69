/* redis_cluster.c -- the requests of redis_cluster.h: the command API,
 * routing by the slot map, replies, redirects, retries, time-outs, and
 * open/close. The map and its parsers are redis_cluster_map.c; nodes, their
 * links and the seeds redis_cluster_node.c (redis_cluster_int.h: the split).
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
 * Re-entrancy: user callbacks may call rcl_command*() or rcl_close(). The
 * struct is freed only from a loop callback (the tick's close, or the last
 * DNS resolution's), and every loop over the lists stops as soon as
 * `closing` is set. */
#include "redis_cluster.h"

#include <stdlib.h>
#include <string.h>

#include <uv.h>
#include <hiredis/hiredis.h>

#include "redis_cluster_int.h"

#define RCL_TICK_MS 20

enum { RQ_WAIT, RQ_SENT, RQ_DONE };

struct rcl_req {
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
};

static const char ASKING_CMD[] = "*1\r\n$6\r\nASKING\r\n";

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
    if (r->not_before > rcli_now_ms(c))
        return 0;
    rcl_node *n = r->pin ? r->pin : r->ask;
    if (!n && c->owner[r->slot])
        n = c->nodes[c->owner[r->slot] - 1];
    if (!n) {
        rcl_refresh(c);
        return 0;
    }
    rlink *l = rcli_node_link(n);
    if (!l) {
        if (r->pin)                      /* a map request: try another node */
            return RCL_EUNAVAIL;
        rcl_refresh(c);
        return 0;
    }
    /* rlink_send fails on memory only: rcli_node_link gave a live link */
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

void rcli_req_try_send(rcl_req *r)
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
    r->not_before = delay_ms ? rcli_now_ms(c) + delay_ms : 0;
    wait_push(c, r);
    if (!delay_ms)
        rcli_req_try_send(r);
}

static int err_is(const redisReply *r, const char *word, size_t wlen)
{
    return r->len >= wlen && memcmp(r->str, word, wlen) == 0 &&
           (r->len == wlen || r->str[wlen] == ' ');
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
    rcl_node *self = rcli_link_node(c, l), *to;
    if (self) {
        uint64_t us = (uv_hrtime() - r->sent_ns) / 1000;
        unsigned sample = us > 60000000 ? 60000000u : (unsigned)us;
        self->rtt_us = self->rtt_us ? (unsigned)(((uint64_t)self->rtt_us * 7 + sample) / 8) : sample;
    }
    if (reply->type == REDIS_REPLY_ERROR && !r->pin && reply->str) {
        unsigned slot;
        if (err_is(reply, "MOVED", 5)) {
            c->st.moved++;
            to = rcli_redirect_target(c, reply, 6, self, &slot);
            if (!to || ++r->redirects > c->o.redirect_max) {
                r->sent = 0;
                req_complete(r, RCL_EUNAVAIL, NULL);
                return;
            }
            rcli_map_patch(c, slot, to);
            req_retry(r, 0);
            return;
        }
        if (err_is(reply, "ASK", 3)) {
            c->st.ask++;
            to = rcli_redirect_target(c, reply, 4, self, &slot);
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
    r->deadline = rcli_now_ms(c) + c->o.timeout_ms;
    r->dprev = c->dtail;
    if (c->dtail)
        c->dtail->dnext = r;
    else
        c->dhead = r;
    c->dtail = r;
    c->nlive++;
    wait_push(c, r);
    rcli_tick_arm(c);
    return r;
}

rcl_req *rcli_req_pinned(rcl *c, rcl_node *n, const char *cmd, size_t len, rcl_reply_cb *cb,
                         void *privdata)
{
    rcl_req *r = req_new(c, 0, cb, privdata);
    if (!r)
        return NULL;
    r->cmd = malloc(len);
    if (!r->cmd) {
        req_complete(r, RCL_ENOMEM, NULL);   /* the caller's cb hears of it */
        return NULL;
    }
    memcpy(r->cmd, cmd, len);
    r->len = len;
    r->pin = n;
    return r;
}

/* ---- dispatch and the tick ----------------------------------------------------- */

void rcli_dispatch(rcl *c)
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
            rcli_req_try_send(r);
            r = next;
        }
    } while (c->redispatch && !c->closing);
    c->dispatching = 0;
}

static void expire(rcl *c)
{
    long long now = rcli_now_ms(c);
    rcl_req *r;
    while (!c->closing && (r = c->dhead) != NULL && r->deadline <= now) {
        if (r->state == RQ_SENT && r->link) {
            rlink *l = r->link;
            c->st.timeouts++;
            req_complete(r, RCL_ETIMEOUT, NULL);
            rcl_node *n = rcli_link_node(c, l);
            if (n) {            /* the node went silent: drop it, ask for a map */
                rcli_node_drop(n);
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
    rcli_refresh_start(c);
    if (c->closing)
        return;
    rcli_dispatch(c);
    if (!c->closing && c->nlive == 0 && !c->refresh_wanted) {
        uv_timer_stop(&c->tick);
        c->tick_on = 0;
    }
}

void rcli_tick_arm(rcl *c)
{
    if (c->tick_on || c->closing)
        return;
    c->tick_on = 1;
    uv_timer_start(&c->tick, on_tick, 0, RCL_TICK_MS);
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
        rc = rcli_seeds_add(c, seeds);
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

const rcl_stats *rcl_get_stats(const rcl *c) { return &c->st; }
uv_loop_t *rcl_loop(const rcl *c) { return c->loop; }

/* ---- close ------------------------------------------------------------------- */

void rcli_free_if_done(rcl *c)
{
    if (c->resolving > 0 || c->tick_on != -1)
        return;
    rcli_nodes_free(c);
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
    rcli_free_if_done(c);
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
        rcli_node_drop(c->nodes[i]);
    while (c->dhead)                       /* defensive: nothing should be left */
        req_complete(c->dhead, RCL_ECLOSED, NULL);
    /* resolutions still under way call on_resolved, which frees them */
    uv_timer_stop(&c->tick);
    c->tick_on = 0;
    uv_close((uv_handle_t *)&c->tick, on_tick_closed);
}
