/* store_redis_api.c -- the Redis backend's face: store_open/close, the idle
 * turn that answers deferred ops, the tick (heartbeat, doubts, sweep), the
 * fanned-out reads (open list, due deadlines) and the backend table; its
 * subscriptions are in store_redis_sub.c. The steps of the single-game ops are in
 * store_redis.c, the layout of keys at its top. */
#include "store_redis_int.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include "log.h"
#include "store_lua.h"

#define DAY_MS (24LL * 3600 * 1000)
#define TICK_MS 1000
#define COUNT_MAX 100000
#define BYE_TIMEOUT_MS 1000

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

/* ---- health ---------------------------------------------------------------------- */

void rs_health_update(store_redis *s)
{
    int up = !s->closing && s->beat_ok && s->instance && s->rc && rcl_covered(s->rc);
    if (up == s->up)
        return;
    s->up = up;
    if (up)
        log_info("redis: reachable (instance %u, %s)", s->instance, s->name[0] ? s->name : "-");
    else
        log_warn("redis: unreachable");
    if (!s->closing && s->ev.health)
        s->ev.health(s->ev.ud, up);
}

static void loaded(rcl *c, int st, redisReply *r, int sent, void *priv)
{
    (void)c; (void)sent; (void)priv;
    if (st == RCL_OK && r->type == REDIS_REPLY_ERROR)
        log_debug("redis: SCRIPT LOAD refused: %.200s", r->str);
}

/* Every primary of the new map gets the scripts (a promoted replica has an
 * empty cache), so a write is not first answered NOSCRIPT there: EVALSHA
 * then EVAL would cost a round trip, and a NOSCRIPT met by a write whose
 * first reply was lost would count as "did not run". */
static void scripts_load(store_redis *s)
{
    unsigned slots[STORE_NODES_MAX];
    unsigned n = rs_node_slots(s, slots, STORE_NODES_MAX);
    for (unsigned i = 0; i < n; i++)
        for (int k = 0; k < SC_COUNT; k++) {
            const char *argv[] = {"SCRIPT", "LOAD", s->src[k]};
            size_t lens[] = {6, 4, strlen(s->src[k])};
            (void)rcl_command_slot(s->rc, slots[i], 3, argv, lens, loaded, s);
        }
}

static void on_map(rcl *c, void *ud)
{
    store_redis *s = ud;
    /* at the next idle turn: the commands that waited for this map (the
     * first heartbeat) go out first, and the store is up sooner */
    s->scripts_due = 1;
    rs_idle_arm(s);

    if (!s->mode_logged && rcl_mode(c) != RCL_MODE_UNKNOWN) {
        s->mode_logged = 1;
        log_info("redis: %s (seeds %s)", rcl_mode(c) == RCL_MODE_CLUSTER
                 ? "Redis Cluster mode: games spread over the primaries by slot"
                 : "a single Redis (run as a cluster of one)", s->seeds);
    }
    rs_health_update(s);
}

/* ---- close ---------------------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
    store_redis *s = h->data;
    if (--s->handles_open > 0)
        return;
    void (*done)(void *) = s->done;
    void *ud = s->done_ud;
    redis_url_free(&s->url);
    free(s->seeds);
    free(s->name);
    free(s);
    if (done)
        done(ud);
}

static void maybe_finish(store_redis *s)
{
    if (!s->closing || s->finishing || s->rcl_open || s->dq.head || s->owed.n || s->bye_pending)
        return;
    s->finishing = 1;
    s->handles_open = 2;
    uv_idle_stop(&s->idle);
    uv_close((uv_handle_t *)&s->idle, on_handle_closed);
    uv_close((uv_handle_t *)&s->tick, on_handle_closed);
}

static void on_rcl_closed(void *ud)
{
    store_redis *s = ud;
    s->rc = NULL;
    s->rcl_open = 0;
    rs_idle_arm(s);
}

/* after the goodbye (or without one): close the client */
void presence_bye_done(store_redis *s)
{
    s->bye_pending = 0;
    uv_timer_stop(&s->tick);
    if (s->rc && s->rcl_open == 1) {
        s->rcl_open = 2;   /* closing */
        rcl_close(s->rc, on_rcl_closed, s);
    }
    rs_idle_arm(s);
}

static void idle_cb(uv_idle_t *h);

void rs_idle_arm(store_redis *s)
{
    if (!s->finishing)
        uv_idle_start(&s->idle, idle_cb);   /* a no-op when started */
}

static void idle_cb(uv_idle_t *h)
{
    store_redis *s = h->data;
    if (s->scripts_due && !s->closing && s->rcl_open == 1) {
        s->scripts_due = 0;
        scripts_load(s);
    }
    store_owed_flush(&s->owed, s->closing ? STORE_ECLOSED : STORE_ENOMEM);
    rop *op = s->dq.head;
    s->dq.head = s->dq.tail = NULL;
    while (op) {
        rop *next = op->next;
        op->prev = op->next = NULL;
        op->where = W_NONE;
        rs_op_done(op, op->status, NULL, NULL, 0);
        rs_op_release(op);
        op = next;
    }
    if (s->closing)
        maybe_finish(s);
    if (!s->finishing && !s->dq.head && !s->owed.n)
        uv_idle_stop(&s->idle);
}

static void tick_cb(uv_timer_t *t)
{
    store_redis *s = t->data;
    if (s->closing) {   /* the goodbye timed out */
        presence_bye_done(s);
        return;
    }
    rs_confirms_expire(s);
    rs_doubts_tick(s);
    presence_tick(s);
    idx_sweep_step(s);
}

static void redis_close(store *st, void (*done)(void *ud), void *ud)
{
    store_redis *s = (store_redis *)st;
    if (s->closing)
        return;
    s->closing = 1;
    s->done = done;
    s->done_ud = ud;
    s->up = 0;
    /* callers hear ECLOSED now (at the idle turn); replies still due are dropped */
    while (s->live.head)
        rs_dq_push(s->live.head, STORE_ECLOSED);
    while (s->confirms.head) {
        rop *op = s->confirms.head;
        rs_ol_unlink(&s->confirms, op);
        rs_dq_push(op, STORE_ECLOSED);
    }
    while (s->doubts.head) {
        rop *op = s->doubts.head;
        rs_ol_unlink(&s->doubts, op);
        rs_dq_push(op, STORE_ECLOSED);
    }
    if (s->rs)
        rsub_close(s->rs);
    s->rs = NULL;
    uv_timer_stop(&s->tick);
    presence_bye(s);   /* goodbye, so the survivors do not take us for dead */
    if (s->bye_pending)
        uv_timer_start(&s->tick, tick_cb, BYE_TIMEOUT_MS, 0);
    else
        presence_bye_done(s);
    rs_idle_arm(s);
}

/* ---- open ------------------------------------------------------------------------------ */

static int prefix_ok(const char *p)
{
    size_t n = strlen(p);
    return n > 0 && n <= PREFIX_MAX &&
           strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

/* "redis://[auth@]h1:p1,h2:p2[/db]": every seed as host:port for rcl, and
 * the first one's URL parsed into s->url (auth, db). Each seed is checked
 * by redis_url_parse. 0, or -1 with a reason. */
static int seeds_parse(store_redis *s, const char *url, char *err, size_t errlen)
{
    const char *hosts = strstr(url, "://");
    if (strncmp(url, "unix:", 5) == 0) {   /* a single Redis on a unix socket */
        if (redis_url_parse(&s->url, url, err, errlen) != 0)
            return -1;
        size_t n = strlen(s->url.unix_path) + 8;
        if (n - 8 >= RCL_HOST_MAX || !(s->seeds = malloc(n))) {
            set_err(err, errlen, n - 8 >= RCL_HOST_MAX ? "redis URL: unix socket path too long"
                                                       : "out of memory");
            return -1;
        }
        snprintf(s->seeds, n, "unix:%s", s->url.unix_path);
        return 0;
    }
    if (!hosts) {
        redis_url u;
        if (redis_url_parse(&u, url, err, errlen) == 0) {   /* cannot be: no "://" */
            redis_url_free(&u);
            set_err(err, errlen, "redis URL: redis://host:port[,host:port...][/db]");
        }
        return -1;
    }
    hosts += 3;
    const char *at = strchr(hosts, '@'), *slash;
    if (at && (!(slash = strchr(hosts, '/')) || at < slash))
        hosts = at + 1;
    const char *end = strchr(hosts, '/');
    size_t hlen = end ? (size_t)(end - hosts) : strlen(hosts);
    size_t pre = (size_t)(hosts - url);
    /* a seed may gain brackets and a default port: at most 9 bytes each */
    size_t cap = hlen * 10 + 16;
    char *one = malloc(strlen(url) + 1), *seeds = calloc(1, cap);
    if (!one || !seeds) {
        free(one);
        free(seeds);
        set_err(err, errlen, "out of memory");
        return -1;
    }
    size_t off = 0, sl = 0;
    int rc = 0, first = 1;
    while (rc == 0 && off <= hlen) {
        const char *comma = memchr(hosts + off, ',', hlen - off);
        size_t len = comma ? (size_t)(comma - (hosts + off)) : hlen - off;
        /* this seed's own URL: scheme and auth, the seed, then the db */
        memcpy(one, url, pre);
        memcpy(one + pre, hosts + off, len);
        strcpy(one + pre + len, end ? end : "");
        redis_url u;
        if (redis_url_parse(&u, one, err, errlen) != 0) {
            rc = -1;
            break;
        }
        if (u.unix_path) {
            set_err(err, errlen, "redis URL: unix sockets are not supported");
            rc = -1;
        } else {
            int v6 = strchr(u.host, ':') != NULL;
            sl += (size_t)snprintf(seeds + sl, cap - sl, "%s%s%s%s:%d", sl ? "," : "",
                                   v6 ? "[" : "", u.host, v6 ? "]" : "", u.port);
        }
        if (first && rc == 0)
            s->url = u;
        else
            redis_url_free(&u);
        first = 0;
        off += len + 1;
    }
    free(one);
    if (rc != 0) {
        free(seeds);
        return -1;
    }
    s->seeds = seeds;
    return 0;
}

static void scripts_init(store_redis *s)
{
    const char *src[SC_COUNT] = {store_lua_alloc_id, store_lua_create, store_lua_save,
        store_lua_reset, store_lua_claim, store_lua_resolve, store_lua_resolve_id, store_lua_beat,
        store_lua_reap, store_lua_take, store_lua_bye, store_lua_qpush};
    for (int i = 0; i < SC_COUNT; i++) {
        unsigned char d[SHA_DIGEST_LENGTH];
        s->src[i] = src[i];
        SHA1((const unsigned char *)src[i], strlen(src[i]), d);
        for (int k = 0; k < SHA_DIGEST_LENGTH; k++)
            snprintf(s->sha[i] + 2 * k, 3, "%02x", d[k]);
    }
}

static store *redis_open(uv_loop_t *loop, const store_options *opts, const store_events *ev,
                         char *err, size_t errlen)
{
    store_redis *s = calloc(1, sizeof(*s));
    if (!s) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    const char *prefix = opts && opts->redis_prefix && *opts->redis_prefix ? opts->redis_prefix
                                                                         : "ttt";
    if (!opts || !opts->redis_url) {
        set_err(err, errlen, "no redis URL");
        goto fail;
    }
    if (seeds_parse(s, opts->redis_url, err, errlen) != 0)
        goto fail;
    if (!prefix_ok(prefix)) {
        set_err(err, errlen, "redis prefix: 1 to 32 characters of A-Z a-z 0-9 _ . -");
        goto fail;
    }
    snprintf(s->prefix, sizeof s->prefix, "%s", prefix);
    if (!(s->name = strdup(opts->instance_name ? opts->instance_name : ""))) {
        set_err(err, errlen, "out of memory");
        goto fail;
    }
    s->loop = loop;
    if (ev)
        s->ev = *ev;
    /* a write to a node that just died raises SIGPIPE (libuv writes with
     * write(2)): ttt-server ignores it already; any other process that opens
     * this store gets the same, or the first dead node would kill it */
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);
    s->finished_ttl_ms = opts->finished_ttl_ms > 0 ? opts->finished_ttl_ms : DAY_MS;
    s->wait_replicas = opts->redis_wait > 0 ? opts->redis_wait : 0;
    s->wait_timeout_ms = opts->redis_wait_ms > 0 ? opts->redis_wait_ms : 500;
    s->rng = (uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)s) | 1;
    s->nonce_salt = rs_rng_next(s);
    scripts_init(s);
    /* a refused node fails a command within about a second (the player hears
     * `unavailable` and may try again); 5 s without a reply is a hung node */
    rcl_opts ro = {.timeout_ms = 5000, .retry_max = 4, .backoff_max_ms = 250,
                   .user = s->url.user, .password = s->url.pass,
                   .db = s->url.db};
    int rc = rcl_open(&s->rc, loop, s->seeds, &ro, on_map, s);
    if (rc != 0) {
        set_err(err, errlen, rc == RCL_ENOMEM ? "out of memory" : "redis URL: bad seed list");
        goto fail;
    }
    s->rcl_open = 1;
    if (!(s->rs = rsub_open(s->rc, rs_on_message, rs_on_sub_event, s))) {
        set_err(err, errlen, "out of memory");
        rcl_close(s->rc, NULL, NULL);
        goto fail;
    }
    uv_idle_init(loop, &s->idle);
    s->idle.data = s;
    uv_timer_init(loop, &s->tick);
    s->tick.data = s;
    uv_timer_start(&s->tick, tick_cb, TICK_MS / 10, TICK_MS);
    presence_beat(s);   /* queued until the first map: up one round trip after it */
    log_info("redis: connecting to %s (db %d, prefix %s%s)", s->seeds, s->url.db, s->prefix,
             s->wait_replicas ? ", WAIT after each save" : "");
    return &s->base;
fail:
    redis_url_free(&s->url);
    free(s->seeds);
    free(s->name);
    free(s);
    return NULL;
}

/* ---- the store operations -------------------------------------------------------------- */

static int redis_is_up(const store *st) { return ((const store_redis *)st)->up; }
static uint32_t redis_instance(const store *st) { return ((const store_redis *)st)->instance; }
static double redis_latency_ms(const store *st) { return ((const store_redis *)st)->latency_ms; }
static uint64_t redis_lost_count(const store *st) { return ((const store_redis *)st)->lost_count; }

static void redis_create(store *st, const store_game *g, store_game_cb *cb, void *ud)
{
    rop *op = rs_op_begin((store_redis *)st, OP_CREATE, (store_cb){.game = cb}, ud);
    if (!op)
        return;
    op->g = *g;
    rs_do_alloc(op);
}

static void redis_quick(store *st, const store_game *tmpl, store_game_cb *cb, void *ud)
{
    rop *op = rs_op_begin((store_redis *)st, OP_QUICK, (store_cb){.game = cb}, ud);
    if (!op)
        return;
    op->g = *tmpl;
    op->g.kind = STORE_KIND_QUICK;
    rs_do_qpop(op);
}

/* op_begin for an op on game id: NULL when it is answered already (no such
 * id can exist: ENOTFOUND) */
static rop *op_begin_game(store_redis *s, int type, store_cb cb, void *ud, int64_t id)
{
    rop *op = rs_op_begin(s, type, cb, ud);
    if (!op)
        return NULL;
    op->id = id;
    if (id <= 0) {
        rs_dq_push(op, STORE_ENOTFOUND);
        return NULL;
    }
    return op;
}

static void redis_load(store *st, int64_t id, store_game_cb *cb, void *ud)
{
    rop *op = op_begin_game((store_redis *)st, OP_LOAD, (store_cb){.game = cb}, ud, id);
    if (op)
        rs_do_get(op, P_LOAD);
}

static void redis_save(store *st, const store_game *g, store_game_cb *cb, void *ud)
{
    store_redis *s = (store_redis *)st;
    rop *op = op_begin_game(s, OP_SAVE, (store_cb){.game = cb}, ud, g->id);
    if (!op)
        return;
    /* what the caller gets on success: exactly what was written */
    op->bloblen = rec_encode(g, g->id, g->version + 1, g->kind, op->blob);
    if (rec_decode(op->blob, op->bloblen, &op->g) != 0) {
        rs_dq_push(op, STORE_EINVAL);   /* a field out of range: readers would refuse it */
        return;
    }
    idx_sig(&op->g, op->sig, sizeof op->sig);
    rs_key_game(s, op->key, sizeof op->key, g->id);
    int clen = rs_key_chan(s, op->chan, sizeof op->chan, g->id);
    op->phase = P_SAVE;
    rs_arg_script(op, SC_SAVE, 1);
    rs_arg_str(op, op->key);
    rs_arg_add(op, op->blob, op->bloblen);
    rs_arg_u64(op, g->version);
    rs_arg_str(op, op->sig);
    rs_arg_i64(op, rs_ttl_of(s, &op->g));
    rs_arg_add(op, op->chan, (size_t)clen);
    rs_arg_str(op, op->nonce);
    rs_send_or_fail(op, op->key);
}

static void redis_deadline_reset(store *st, const store_game *g, store_done_cb *cb, void *ud)
{
    store_redis *s = (store_redis *)st;
    rop *op = op_begin_game(s, OP_RESET, (store_cb){.done = cb}, ud, g->id);
    if (!op)
        return;
    op->g = *g;
    idx_sig(g, op->sig, sizeof op->sig);
    rs_key_game(s, op->key, sizeof op->key, g->id);
    op->phase = P_RESET;
    rs_arg_script(op, SC_RESET, 1);
    rs_arg_str(op, op->key);
    rs_arg_u64(op, g->version);
    rs_arg_str(op, op->nonce);
    rs_send_or_fail(op, op->key);
}

/* rs_op_begin for a read of up to max entries: NULL when it is answered
 * already (max 0 is an empty answer) */
static rop *op_begin_max(store_redis *s, int type, store_cb cb, void *ud, size_t max)
{
    rop *op = rs_op_begin(s, type, cb, ud);
    if (!op)
        return NULL;
    if (max == 0) {
        rs_dq_push(op, STORE_OK);
        return NULL;
    }
    op->max = max > COUNT_MAX ? COUNT_MAX : max;
    return op;
}

static void redis_open_list(store *st, size_t max, store_list_cb *cb, void *ud)
{
    rop *op = op_begin_max((store_redis *)st, OP_LIST, (store_cb){.list = cb}, ud, max);
    if (op)
        idx_list(op);
}

static void redis_claim_due(store *st, int64_t now_ms, int64_t lease_ms, size_t max,
                            store_ids_cb *cb, void *ud)
{
    rop *op = op_begin_max((store_redis *)st, OP_CLAIM, (store_cb){.ids = cb}, ud, max);
    if (op)
        idx_claim(op, now_ms, lease_ms > 0 ? lease_ms : 0);
}

static void redis_stats(const store *st, store_stats *out)
{
    const store_redis *s = (const store_redis *)st;
    memset(out, 0, sizeof(*out));
    if (!s->rc || s->rcl_open != 1)
        return;
    const rcl_stats *rs = rcl_get_stats(s->rc);
    out->cluster = rcl_mode(s->rc) == RCL_MODE_CLUSTER;
    out->moved = rs->moved;
    out->ask = rs->ask;
    out->tryagain = rs->tryagain + rs->clusterdown;
    out->refreshes = rs->refreshes;
    out->timeouts = rs->timeouts;
    out->index_fail = s->index_fail;
    out->swept = s->swept;
    rcl_node_info nodes[STORE_NODES_MAX];
    size_t n = rcl_nodes(s->rc, nodes, STORE_NODES_MAX);
    out->nnodes = n < STORE_NODES_MAX ? n : STORE_NODES_MAX;
    for (size_t i = 0; i < out->nnodes; i++) {
        /* a label for /metrics: a long host (a unix socket's path) keeps its head */
        snprintf(out->node[i].addr, sizeof out->node[i].addr, "%.56s:%d", nodes[i].host,
                 nodes[i].port);
        out->node[i].up = nodes[i].up;
        out->node[i].slots = nodes[i].slots;
        out->node[i].rtt_us = nodes[i].rtt_us;
    }
}

const store_backend store_redis_backend = {
    .name = "redis",
    .open = redis_open,
    .close = redis_close,
    .is_up = redis_is_up,
    .instance = redis_instance,
    .latency_ms = redis_latency_ms,
    .create = redis_create,
    .load = redis_load,
    .save = redis_save,
    .quick = redis_quick,
    .open_list = redis_open_list,
    .claim_due = redis_claim_due,
    .deadline_reset = redis_deadline_reset,
    .subscribe = rs_subscribe,
    .unsubscribe = rs_unsubscribe,
    .lost_count = redis_lost_count,
    .stats = redis_stats,
};
