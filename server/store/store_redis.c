/* store_redis.c -- the Redis backend of store.h: games shared by every server
 * process through Redis Cluster, or one Redis run as a cluster of one, over
 * the slot router of redis_cluster.h and the sharded pub/sub of redis_sub.h
 * on the caller's libuv loop. Nothing here blocks, start-up included: the
 * store opens "down" and reports health(1) after its first heartbeat.
 *
 * Key layout ("ttt" is --redis-prefix). A hash tag in braces picks the slot.
 *   ttt:{<id>}:game      HASH   v version, d record (store_codec.h), x index
 *                               signature (store_redis_idx.c); expiry: over ->
 *                               finished ttl, waiting -> ttl + time to deadline
 *   ttt:{<id>}:op:<n>    STRING what write <n> did, for in-doubt resolution
 *   ttt[:<db>]:{<id>}:ch channel: save.lua SPUBLISHes every record here
 *   ttt:{m}:id / epoch / instance_seq / instances / reap_last / reap_grace
 *                               the counters and presence (one slot; touched
 *                               per create and per heartbeat, never per move)
 *   ttt:{o}:open  ZSET    waiting "create" games with the creator present
 *   ttt:{q}:quick ZSET    waiting quick games not handed out yet
 *   ttt:{d<b>}:deadline   ZSET  deadlines, bucket b = id % 16, score = ms
 *   ttt:{i<n>}:games      SET   games on which instance n holds a seat
 * A move runs save.lua alone: one slot, one round trip. An index changes
 * only when the record's signature does, by separate commands after the save
 * (store_redis_idx.c); readers check every index entry against the record.
 *
 * Scripts are EVALSHA'd by the SHA-1 computed here; a node that does not know
 * one (restarted, or a promoted replica) answers NOSCRIPT and gets EVAL.
 *
 * Writes in doubt: every write carries a nonce and leaves the marker
 * ttt:{<id>}:op:<nonce> in the same step. A write whose reply was lost, or
 * whose WAIT (--redis-wait) found too few replicas, is not answered until
 * resolve.lua read the marker (or fenced it) on whatever primary owns the
 * slot then: so a save lost in a failover is answered "unavailable", never
 * "saved". Undecided after 30 s: STORE_EUNKNOWN. */
#include "store_redis_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include "log.h"
#include "redis_slot.h"
#include "store_lua.h"

#define DAY_MS (24LL * 3600 * 1000)
#define TICK_MS 1000
#define COUNT_MAX 100000
#define DOUBT_MAX_MS 30000
#define FENCE_TTL_MS 600000
#define QUICK_TRIES 32

const char *const rs_script_name[SC_COUNT] = {"alloc_id", "create", "save", "reset",
    "claim", "resolve", "resolve_id", "beat", "reap", "take", "bye", "qpush"};

/* ---- small helpers ------------------------------------------------------------- */

uint64_t rs_rng_next(store_redis *s)
{
    uint64_t x = s->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static int64_t wall_ms(void)
{
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void rs_key_meta(const store_redis *s, char *b, size_t n, const char *what)
{
    snprintf(b, n, "%s:{m}:%s", s->prefix, what);
}
void rs_key_game(const store_redis *s, char *b, size_t n, int64_t id)
{
    snprintf(b, n, "%s:{%" PRId64 "}:game", s->prefix, id);
}
void rs_key_open(const store_redis *s, char *b, size_t n) { snprintf(b, n, "%s:{o}:open", s->prefix); }
void rs_key_quick(const store_redis *s, char *b, size_t n) { snprintf(b, n, "%s:{q}:quick", s->prefix); }
void rs_key_deadline(const store_redis *s, char *b, size_t n, unsigned bucket)
{
    snprintf(b, n, "%s:{d%u}:deadline", s->prefix, bucket);
}
void rs_key_inst(const store_redis *s, char *b, size_t n, uint32_t inst)
{
    snprintf(b, n, "%s:{i%u}:games", s->prefix, inst);
}

/* Pub/sub ignores the db number, so a channel carries it (db 0 keeps the
 * plain name); a prefix has no ':', so no two namespaces share a channel. */
static int chan_head(const store_redis *s, char *b, size_t n)
{
    if (s->url.db == 0)
        return snprintf(b, n, "%s:{", s->prefix);
    return snprintf(b, n, "%s:%d:{", s->prefix, s->url.db);
}

int rs_key_chan(const store_redis *s, char *b, size_t n, int64_t id)
{
    int h = chan_head(s, b, n);
    return h + snprintf(b + h, n - (size_t)h, "%" PRId64 "}:ch", id);
}

/* "<prefix>[:<db>]:{<id>}:ch" -> id, or 0 */
int64_t rs_chan_to_id(const store_redis *s, const char *p, size_t len)
{
    char head[PREFIX_MAX + 16];
    size_t hl = (size_t)chan_head(s, head, sizeof(head));
    if (len < hl + 5 || memcmp(p, head, hl) != 0 || memcmp(p + len - 4, "}:ch", 4) != 0)
        return 0;
    int64_t id = 0;
    for (size_t i = hl; i < len - 4; i++) {
        if (p[i] < '0' || p[i] > '9' || id > (INT64_MAX - 9) / 10)
            return 0;
        id = id * 10 + (p[i] - '0');
    }
    return id;
}

int rs_reply_is_str(const redisReply *r) { return r && r->type == REDIS_REPLY_STRING; }

/* a positive decimal id from a string or integer reply, else 0 */
int64_t rs_reply_id(const redisReply *r)
{
    if (r && r->type == REDIS_REPLY_INTEGER)
        return r->integer > 0 ? r->integer : 0;
    if (!rs_reply_is_str(r) || r->len == 0 || r->len > 18)
        return 0;
    int64_t id = 0;
    for (size_t i = 0; i < r->len; i++) {
        if (r->str[i] < '0' || r->str[i] > '9')
            return 0;
        id = id * 10 + (r->str[i] - '0');
    }
    return id;
}

void rs_seen_id(store_redis *s, int64_t id)
{
    if (id > s->max_id)
        s->max_id = id;
}

int rs_rcl_status(store_redis *s, int st)
{
    if (s->closing || st == RCL_ECLOSED)
        return STORE_ECLOSED;
    return st == RCL_ENOMEM ? STORE_ENOMEM : STORE_EUNAVAIL;
}

/* An error reply of Redis' own: unavailable for the transient kinds. */
static int err_status(const redisReply *r)
{
    static const char *const unavail[] = {"LOADING", "MASTERDOWN", "READONLY", "NOAUTH", "BUSY",
        "TRYAGAIN", "CLUSTERDOWN", "OOM", "NOPERM", "WRONGPASS", "NOSCRIPT", "TTTFENCED",
        "TTTLOST"};
    for (size_t i = 0; i < sizeof(unavail) / sizeof(unavail[0]); i++)
        if (r->len >= strlen(unavail[i]) && strncmp(r->str, unavail[i], strlen(unavail[i])) == 0)
            return STORE_EUNAVAIL;
    log_warn("redis: unexpected error reply: %.200s", r->str);
    return STORE_EINVAL;
}

int rs_is_err(const redisReply *r, const char *word)
{
    return r->type == REDIS_REPLY_ERROR && r->len >= strlen(word) &&
           strncmp(r->str, word, strlen(word)) == 0;
}

/* ---- writes in doubt ----------------------------------------------------------------- */

void rs_doubt_add(rop *op)
{
    store_redis *s = op->s;
    if (s->closing) {
        rs_dq_push(op, STORE_ECLOSED);
        return;
    }
    if (op->phase == P_ALLOC)
        op->resolve_alloc = 1;
    else if (op->phase != P_RESOLVE)
        op->resolve_alloc = 0;
    if (!op->resolving)
        log_info("redis: write %s of game %" PRId64 ": outcome not known, finding out",
                 op->nonce, op->id);
    op->resolving = 0;
    if (op->where == W_LIVE)
        rs_ol_unlink(&s->live, op);
    rs_ol_append(&s->doubts, op, W_DOUBT);
}

static void step(rop *op, const redisReply *r);

void rs_doubts_tick(store_redis *s)
{
    uint64_t now = uv_now(s->loop);
    rop *op = s->doubts.head;
    while (op && !s->closing) {
        rop *next = op->next;
        rs_ol_unlink(&s->doubts, op);
        if (now - op->t_first >= DOUBT_MAX_MS) {
            log_error("redis: could not learn within %d s whether write %s ran",
                      DOUBT_MAX_MS / 1000, op->nonce);
            rs_op_done(op, STORE_EUNKNOWN, NULL, NULL, 0);
            rs_op_release(op);
        } else {
            rs_ol_append(&s->live, op, W_LIVE);
            op->phase = P_RESOLVE;
            op->resolving = 1;
            /* an id taken ({m} marker key), or a write of the game (its hash) */
            const char *key = op->resolve_alloc ? op->mkey : op->key;
            rs_arg_script(op, op->resolve_alloc ? SC_RESOLVE_ID : SC_RESOLVE, 1);
            rs_arg_str(op, key);
            if (!op->resolve_alloc)
                rs_arg_str(op, op->nonce);
            rs_arg_i64(op, FENCE_TTL_MS);
            if (rs_op_send_key(op, key, rs_on_reply, op) != 0)
                rs_doubt_add(op);
        }
        op = next;
    }
}

/* ---- the steps of each operation ---------------------------------------------------- */

static void finish_ok(rop *op)
{
    rs_seen_id(op->s, op->id);
    rs_op_done(op, STORE_OK, &op->g, NULL, 0);
}

void rs_op_idx_done(rop *op)
{
    if (op->type == OP_RESET)
        rs_op_done(op, STORE_OK, NULL, NULL, 0);
    else
        finish_ok(op);
}

/* how long the game key lives: finished ttl once over, plus the deadline's
 * distance while waiting (a safety net when no server is left), else forever */
int64_t rs_ttl_of(const store_redis *s, const store_game *g)
{
    if (g->st.status == GAME_OVER)
        return s->finished_ttl_ms;
    if (g->st.status == GAME_WAITING) {
        int64_t left = g->deadline_ms > 0 ? g->deadline_ms - wall_ms() : 0;
        return s->finished_ttl_ms + (left > 0 ? left : 0);
    }
    return 0;
}

void rs_send_or_fail(rop *op, const char *key)
{
    int rc = rs_op_send_key(op, key, rs_on_reply, op);
    if (rc != 0)
        rs_dq_push(op, rs_rcl_status(op->s, rc));   /* maybe inside the caller's call */
}

void rs_do_alloc(rop *op)
{
    store_redis *s = op->s;
    if (uv_now(s->loop) < s->lost_until || !s->epoch[0]) {
        rs_dq_push(op, STORE_EUNAVAIL);   /* right after a data loss, or before contact */
        return;
    }
    op->phase = P_ALLOC;
    rs_arg_script(op, SC_ALLOC, 3);
    rs_key_meta(s, op->key, sizeof op->key, "id");
    rs_key_meta(s, op->chan, sizeof op->chan, "epoch");
    snprintf(op->mkey, sizeof op->mkey, "%s:{m}:op:%s", s->prefix, op->nonce);
    rs_arg_str(op, op->key);
    rs_arg_str(op, op->chan);
    rs_arg_str(op, op->mkey);
    rs_arg_str(op, s->epoch);
    rs_arg_i64(op, s->max_id);
    rs_send_or_fail(op, op->key);
}

void rs_do_create(rop *op, int64_t id)
{
    store_redis *s = op->s;
    store_game tmpl = op->g;
    op->id = id;
    op->bloblen = rec_encode(&tmpl, id, 1, tmpl.kind, op->blob);
    if (rec_decode(op->blob, op->bloblen, &op->g) != 0) {
        rs_op_done(op, STORE_EINVAL, NULL, NULL, 0);
        return;
    }
    idx_sig(&op->g, op->sig, sizeof op->sig);
    rs_key_game(s, op->key, sizeof op->key, id);
    op->phase = P_CREATE;
    rs_arg_script(op, SC_CREATE, 1);
    rs_arg_str(op, op->key);
    rs_arg_add(op, op->blob, op->bloblen);
    rs_arg_str(op, op->sig);
    rs_arg_i64(op, rs_ttl_of(s, &op->g));
    rs_arg_str(op, op->nonce);
    rs_send_or_fail(op, op->key);
}

void rs_do_qpop(rop *op)
{
    char key[KEY_MAX];
    rs_key_quick(op->s, key, sizeof key);
    op->phase = P_QPOP;
    rs_arg_reset(op);
    rs_arg_str(op, "ZPOPMIN");
    memcpy(op->key, key, sizeof key);
    rs_arg_str(op, op->key);
    rs_send_or_fail(op, op->key);
}

void rs_do_get(rop *op, int phase)
{
    op->phase = phase;
    rs_arg_reset(op);
    rs_key_game(op->s, op->key, sizeof op->key, op->id);
    rs_arg_str(op, "HGET");
    rs_arg_str(op, op->key);
    rs_arg_str(op, "d");
    rs_send_or_fail(op, op->key);
}

static void after_save(rop *op)
{
    if (op->has_old)
        idx_apply(op, op->id, op->oldsig, strlen(op->oldsig), op->sig);
    else
        finish_ok(op);
}

static void step_save(rop *op, const redisReply *r)
{
    store_game g;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_INTEGER)
        goto bad;
    if (r->element[0]->integer == 1) {
        rs_op_done(op, STORE_ENOTFOUND, NULL, NULL, 0);
    } else if (r->element[0]->integer == 2) {
        if (r->elements < 2 || !rs_reply_is_str(r->element[1]) ||
            rec_decode(r->element[1]->str, r->element[1]->len, &g) != 0)
            goto bad;
        rs_op_done(op, STORE_ECONFLICT, &g, NULL, 0);
    } else if (r->element[0]->integer == 0) {
        op->has_old = r->elements >= 2 && rs_reply_is_str(r->element[1]) &&
                      r->element[1]->len < sizeof op->oldsig;
        if (op->has_old) {
            memcpy(op->oldsig, r->element[1]->str, r->element[1]->len);
            op->oldsig[r->element[1]->len] = '\0';
        }
        if (op->s->wait_replicas > 0) {
            /* on the link the save went out on, before anyone is told */
            op->phase = P_WAIT;
            rs_arg_reset(op);
            rs_arg_str(op, "WAIT");
            rs_arg_i64(op, op->s->wait_replicas);
            rs_arg_i64(op, op->s->wait_timeout_ms);
            if (rs_op_send_key(op, op->key, rs_on_reply, op) != 0)
                rs_doubt_add(op);
            return;
        }
        after_save(op);
    } else {
        goto bad;
    }
    return;
bad:
    log_warn("redis: unexpected reply to save");
    rs_op_done(op, STORE_EINVAL, NULL, NULL, 0);
}

/* The record is written: index it (a quick game: queue it, unless a game
 * was queued meanwhile, see qpush.lua), then answer. */
static void after_create(rop *op)
{
    if (op->type == OP_QUICK) {
        op->phase = P_QPUSH;
        rs_arg_script(op, SC_QPUSH, 1);
        rs_key_quick(op->s, op->chan, sizeof op->chan);
        rs_arg_str(op, op->chan);
        rs_arg_i64(op, op->id);
        rs_send_or_fail(op, op->chan);
        return;
    }
    idx_apply(op, op->id, "", 0, op->sig);
}

static void step_resolve(rop *op, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_INTEGER) {
        rs_doubt_add(op);
        return;
    }
    op->resolving = 0;
    if (r->element[0]->integer == 0) {
        log_info("redis: write %s did not run (and now never will)", op->nonce);
        rs_op_done(op, STORE_EUNAVAIL, NULL, NULL, 0);
        return;
    }
    if (r->elements < 2 || !rs_reply_is_str(r->element[1]) || r->element[1]->len < 1) {
        rs_doubt_add(op);
        return;
    }
    log_info("redis: write %s had run", op->nonce);
    if (r->element[1]->str[0] == 'a' && (op->type == OP_CREATE || op->type == OP_QUICK)) {
        /* the id was taken: go on with the create itself */
        redisReply idr = *r->element[1];
        idr.str++;
        idr.len--;
        int64_t id = rs_reply_id(&idr);
        op->resolve_alloc = 0;
        if (id >= 100)
            rs_do_listen(op, id);
        else
            rs_doubt_add(op);
        return;
    }
    switch (r->element[1]->str[0]) {
    case 'c':   /* created: nothing was indexed yet */
        after_create(op);
        return;
    case 's':   /* saved: what was indexed before is unknown */
        idx_apply(op, op->id, NULL, 0, op->sig);
        return;
    case 'r':
        idx_apply(op, op->id, NULL, 0, op->sig);
        return;
    default:
        rs_doubt_add(op);
    }
}

/* The reply to the single command an op has out (priv == op). */
void rs_on_reply(rcl *c, int st, redisReply *r, int sent, void *priv)
{
    (void)c;
    rop *op = priv;
    store_redis *s = op->s;
    op->refs--;
    if (op->completed || op->where != W_LIVE) {
        rs_op_release(op);   /* answered already (close), or waits on another list */
        return;
    }
    if (st == RCL_OK && rs_op_noscript_retry(op, r, op->phase == P_RESOLVE && op->resolve_alloc
                                              ? op->mkey
                                          : op->phase == P_QPUSH ? op->chan : op->key,
                                          rs_on_reply))
        return;
    int fenced = op->phase == P_ALLOC || op->phase == P_CREATE || op->phase == P_SAVE || op->phase == P_RESET ||
                 op->phase == P_WAIT || op->phase == P_RESOLVE;
    if (st != RCL_OK && op->phase == P_RELOAD && op->tries++ < 20 && !s->closing) {
        rs_do_get(op, P_RELOAD);   /* the slot's owner is changing: ask again */
        rs_op_release(op);
        return;
    }
    if (st != RCL_OK) {
        /* in doubt only when it reached a node (rcl's `sent`): a command
         * that waited for a route and timed out never ran */
        if (fenced && (sent || op->phase == P_WAIT || op->phase == P_RESOLVE) && !s->closing)
            rs_doubt_add(op);
        else
            rs_op_done(op, rs_rcl_status(s, st), NULL, NULL, 0);
        rs_op_release(op);
        return;
    }
    step(op, r);
    rs_op_release(op);
}

static void step(rop *op, const redisReply *r)
{
    store_redis *s = op->s;
    store_game g;
    if (r->type == REDIS_REPLY_ERROR && op->phase != P_RESOLVE) {
        if (rs_is_err(r, "TTTLOST")) {
            s->lost_until = uv_now(s->loop) + 2500;
            presence_beat(s);   /* learns the new data set */
        } else if (rs_is_err(r, "TTTEXISTS") && op->tries++ < 8) {
            rs_do_alloc(op);       /* an id of an older data set is still there: skip it */
            return;
        } else if (op->phase == P_WAIT) {
            rs_doubt_add(op);      /* WAIT refused: the save ran; is it kept? */
            return;
        }
        rs_op_done(op, err_status(r), NULL, NULL, 0);
        return;
    }
    switch (op->phase) {
    case P_ALLOC: {
        int64_t id = rs_reply_id(r);
        if (id < 100)
            break;
        rs_do_listen(op, id);
        return;
    }
    case P_CREATE:
        if (r->type != REDIS_REPLY_INTEGER)
            break;
        after_create(op);
        return;
    case P_QPUSH: {
        if (r->type != REDIS_REPLY_INTEGER)
            break;
        if (r->integer == 0) {   /* ours is queued: the other indexes, from "queued only" */
            idx_apply(op, op->id, "o0 q1 d0 h", 10, op->sig);
            return;
        }
        /* another caller's game: ours was never handed out, drop it */
        char key[KEY_MAX];
        rs_key_game(s, key, sizeof key, op->id);
        rs_fire_forget(s, key, 2, (const char *[]){"DEL", key}, (size_t[]){3, strlen(key)});
        rs_unlisten(op);   /* a game taken off the queue is not the caller's to listen to */
        op->id = r->integer;
        rs_do_get(op, P_QGET);
        return;
    }
    case P_QPOP: {
        int64_t id = r->type == REDIS_REPLY_ARRAY && r->elements >= 1 ? rs_reply_id(r->element[0]) : 0;
        if (r->type != REDIS_REPLY_ARRAY)
            break;
        if (id <= 0 || op->tries++ >= QUICK_TRIES) {
            rs_do_alloc(op);
            return;
        }
        op->id = id;
        rs_do_get(op, P_QGET);
        return;
    }
    case P_QGET:
        /* a hint checked against the record: only a waiting quick game is handed out */
        if (rs_reply_is_str(r) && rec_decode(r->str, r->len, &g) == 0 && g.id == op->id &&
            g.st.status == GAME_WAITING && g.kind == STORE_KIND_QUICK) {
            rs_seen_id(s, g.id);
            rs_op_done(op, STORE_OK, &g, NULL, 0);
        } else {
            rs_do_qpop(op);
        }
        return;
    case P_LOAD:
    case P_RELOAD:
        if (r->type == REDIS_REPLY_NIL && op->phase == P_LOAD) {
            rs_op_done(op, STORE_ENOTFOUND, NULL, NULL, 0);
            return;
        }
        if (rs_reply_is_str(r) && rec_decode(r->str, r->len, &g) == 0 && g.id == op->id) {
            rs_seen_id(s, g.id);
            if (op->phase == P_RELOAD && !s->closing && s->ev.published)
                s->ev.published(s->ev.ud, &g);
            rs_op_done(op, STORE_OK, &g, NULL, 0);
            return;
        }
        if (op->phase == P_RELOAD) {
            rs_op_done(op, STORE_ENOTFOUND, NULL, NULL, 0);
            return;
        }
        break;
    case P_SAVE:
        step_save(op, r);
        return;
    case P_WAIT:
        if (r->type == REDIS_REPLY_INTEGER && r->integer >= s->wait_replicas) {
            after_save(op);
        } else {
            log_warn("redis: save of game %" PRId64 " reached %lld of %d replicas in %d ms",
                     op->id, r->type == REDIS_REPLY_INTEGER ? r->integer : -1LL,
                     s->wait_replicas, s->wait_timeout_ms);
            rs_doubt_add(op);
        }
        return;
    case P_RESET:
        if (r->type != REDIS_REPLY_INTEGER)
            break;
        if (r->integer == 0)
            idx_apply(op, op->id, NULL, 0, op->sig);
        else
            rs_op_done(op, r->integer == 1 ? STORE_ENOTFOUND : STORE_OK, NULL, NULL, 0);
        return;
    case P_RESOLVE:
        if (r->type == REDIS_REPLY_ERROR) {
            rs_doubt_add(op);
            return;
        }
        step_resolve(op, r);
        return;
    default:
        break;
    }
    log_warn("redis: unexpected reply in phase %d of op %d", op->phase, op->type);
    rs_op_done(op, STORE_EINVAL, NULL, NULL, 0);
}
