/* store_redis_idx.c -- the indexes of the Redis backend: the open list, the
 * quick queue, the deadline buckets and the per-instance game sets. They
 * live in other slots than the games, so no script touches both:
 *   - a record carries its index signature (field x, idx_sig): its
 *     store_index_of() (store.c, the policy the memory backend keeps too)
 *     written out; save.lua hands back the old one only when it differs, so
 *     an ordinary move sends no index command at all;
 *   - idx_apply() turns the difference into commands, sent after the save;
 *   - readers (open list, claim, quick) check each entry against the record
 *     and drop stale ones: a crash between save and index leaves no ghost;
 *   - the sweep walks every primary's games (SCAN) and puts back entries a
 *     crash left missing (ZADD NX / SADD: it never moves a claimed deadline).
 * The quick queue is never put back by the sweep: a popped game is still
 * "waiting" in its record until its taker saves it, and must not be handed
 * out twice; a quick game that lost its entry ends at its wait deadline. */
#include "store_redis_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "log.h"

#define SWEEP_COUNT 100

/* The signature format, "o<0|1> q<0|1> d<deadline> h<i,j,..>", is the one
 * records have carried since the indexes became hints, so a record written
 * by an older process reads the same. It leaves out store_index' finished:
 * the expiry is save.lua's PEXPIRE from the record's status (rs_ttl_of),
 * not an index entry to add or remove. At most 8 holders of 10 digits: within
 * the 128 bytes of rop's sig. */
size_t idx_sig(const store_game *g, char *out, size_t n)
{
    store_index ix;
    store_index_of(g, &ix);
    size_t len = (size_t)snprintf(out, n, "o%d q%d d%" PRId64 " h", ix.open, ix.quick,
                                  ix.deadline_ms);
    for (unsigned i = 0; i < ix.nholders && len < n; i++)
        len += (size_t)snprintf(out + len, n - len, "%s%" PRIu32, i ? "," : "", ix.holders[i]);
    return len;
}

/* A signature read back from Redis: hostile, every number range-checked.
 * Gives the store_index it was written from, finished left 0. */
static int sig_parse(const char *p, size_t len, store_index *out)
{
    char b[128];
    memset(out, 0, sizeof(*out));
    if (len >= sizeof b)
        return -1;
    memcpy(b, p, len);
    b[len] = '\0';
    long long d;
    int o, q, used = 0;
    if (sscanf(b, "o%d q%d d%lld h%n", &o, &q, &d, &used) != 3 || used <= 0 ||
        (o != 0 && o != 1) || (q != 0 && q != 1) || d < 0)
        return -1;
    out->open = (uint8_t)o;
    out->quick = (uint8_t)q;
    out->deadline_ms = d;
    for (const char *h = b + used; *h;) {
        char *end;
        unsigned long v = strtoul(h, &end, 10);
        if (end == h || v == 0 || v > UINT32_MAX || out->nholders >= 2 * STORE_MAX_HOLDERS)
            return -1;
        out->holders[out->nholders++] = (uint32_t)v;
        h = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -1;
    }
    return 0;
}

static int has(const store_index *s, uint32_t h)
{
    for (unsigned i = 0; i < s->nholders; i++)
        if (s->holders[i] == h)
            return 1;
    return 0;
}

static void idx_reply(rcl *c, int st, redisReply *r, int sent, void *priv)
{
    (void)c; (void)sent;
    rop *op = priv;
    op->refs--;
    if (st != RCL_OK || (r && r->type == REDIS_REPLY_ERROR))
        op->s->index_fail++;
    if (--op->left == 0 && !op->completed && op->where == W_LIVE)
        rs_op_idx_done(op);
    rs_op_release(op);
}

static void idx_cmd(rop *op, const char *key, int argc, const char **argv)
{
    size_t lens[8];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    if (rs_op_cmd(op, key, argc, argv, lens, idx_reply, op) == 0)
        op->left++;
    else
        op->s->index_fail++;
}

void idx_apply(rop *op, int64_t id, const char *old, size_t oldlen, const char *new_sig)
{
    store_redis *s = op->s;
    store_index o = {0}, n;
    int known = old != NULL;
    if (known && oldlen > 0 && sig_parse(old, oldlen, &o) != 0)
        known = 0;
    if (sig_parse(new_sig, strlen(new_sig), &n) != 0) {
        rs_op_idx_done(op);
        return;
    }
    char key[KEY_MAX], ids[24], num[24];
    snprintf(ids, sizeof ids, "%" PRId64, id);
    op->left = 1;   /* held until every command below is out */
    if (n.open != o.open || !known) {
        rs_key_open(s, key, sizeof key);
        if (n.open)
            idx_cmd(op, key, 4, (const char *[]){"ZADD", key, ids, ids});
        else
            idx_cmd(op, key, 3, (const char *[]){"ZREM", key, ids});
    }
    if (n.quick != o.quick || !known) {
        rs_key_quick(s, key, sizeof key);
        if (n.quick && known)   /* added at creation only: see the top of this file */
            idx_cmd(op, key, 4, (const char *[]){"ZADD", key, ids, ids});
        else if (!n.quick)
            idx_cmd(op, key, 3, (const char *[]){"ZREM", key, ids});
    }
    if (n.deadline_ms != o.deadline_ms || !known) {
        rs_key_deadline(s, key, sizeof key, (unsigned)(id % DL_BUCKETS));
        snprintf(num, sizeof num, "%" PRId64, n.deadline_ms);
        if (n.deadline_ms)
            idx_cmd(op, key, 4, (const char *[]){"ZADD", key, num, ids});
        else if (known ? o.deadline_ms != 0 : 1)
            idx_cmd(op, key, 3, (const char *[]){"ZREM", key, ids});
    }
    for (unsigned i = 0; known && i < o.nholders; i++) {
        if (has(&n, o.holders[i]))
            continue;
        rs_key_inst(s, key, sizeof key, o.holders[i]);
        idx_cmd(op, key, 3, (const char *[]){"SREM", key, ids});
    }
    for (unsigned i = 0; i < n.nholders; i++) {
        if (known && has(&o, n.holders[i]))
            continue;
        rs_key_inst(s, key, sizeof key, n.holders[i]);
        idx_cmd(op, key, 3, (const char *[]){"SADD", key, ids});
    }
    if (--op->left == 0)
        rs_op_idx_done(op);
}

/* ---- open list ------------------------------------------------------------------- */

/* whether a record read for its open-list entry belongs there: the policy's
 * answer, the one the entry was written from */
static int listable(const store_game *g)
{
    store_index ix;
    store_index_of(g, &ix);
    return ix.open;
}

static void list_finish(rop *op)
{
    if (op->tries) {   /* a record could not be read: the list would be wrong */
        rs_op_done(op, STORE_EUNAVAIL, NULL, NULL, 0);
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < op->nparts && k < op->max; i++)
        if (op->ok[i])
            op->found[k++] = op->found[i];
    rs_op_done(op, STORE_OK, NULL, op->found, k);
}

static void list_get(rcl *c, int st, redisReply *r, int sent, void *priv)
{
    (void)c; (void)sent;
    rpart *p = priv;
    rop *op = p->op;
    store_redis *s = op->s;
    store_game g;
    op->refs--;
    if (!op->completed && op->where == W_LIVE) {
        int64_t id = op->ids[p->i];
        if (st != RCL_OK || !r || r->type == REDIS_REPLY_ERROR) {
            op->tries = 1;
        } else if (rs_reply_is_str(r) && rec_decode(r->str, r->len, &g) == 0 && g.id == id &&
                   listable(&g)) {
            rs_seen_id(s, id);
            op->ok[p->i] = 1;
            op->found[p->i] = (store_open_game){g.id, g.created_ms, ""};
            /* the creator's name */
            memcpy(op->found[p->i].name, g.name[0], sizeof op->found[p->i].name);
        } else if (r->type == REDIS_REPLY_NIL || rs_reply_is_str(r)) {
            /* a stale hint: the game is gone or no longer listable */
            char key[KEY_MAX], ids[24];
            rs_key_open(s, key, sizeof key);
            snprintf(ids, sizeof ids, "%" PRId64, id);
            rs_fire_forget(s, key, 3, (const char *[]){"ZREM", key, ids}, (size_t[]){4, strlen(key), strlen(ids)});
        }
        if (--op->left == 0)
            list_finish(op);
    }
    rs_op_release(op);
}

static void list_range(rcl *c, int st, redisReply *r, int sent, void *priv)
{
    (void)c; (void)sent;
    rop *op = priv;
    store_redis *s = op->s;
    op->refs--;
    if (op->completed || op->where != W_LIVE) {
        rs_op_release(op);
        return;
    }
    if (st != RCL_OK || r->type != REDIS_REPLY_ARRAY) {
        rs_op_done(op, st != RCL_OK ? rs_rcl_status(s, st) : STORE_EUNAVAIL, NULL, NULL, 0);
        rs_op_release(op);
        return;
    }
    size_t n = r->elements;
    if (n == 0) {
        rs_op_done(op, STORE_OK, NULL, NULL, 0);
        rs_op_release(op);
        return;
    }
    op->parts = calloc(n, sizeof(*op->parts));
    op->ids = calloc(n, sizeof(*op->ids));
    op->ok = calloc(n, 1);
    op->found = calloc(n, sizeof(*op->found));
    if (!op->parts || !op->ids || !op->ok || !op->found) {
        rs_op_done(op, STORE_ENOMEM, NULL, NULL, 0);
        rs_op_release(op);
        return;
    }
    op->nparts = n;
    op->left = 1;
    for (size_t i = 0; i < n; i++) {
        char key[KEY_MAX];
        op->ids[i] = rs_reply_id(r->element[i]);
        op->parts[i] = (rpart){op, i};
        if (op->ids[i] <= 0)
            continue;
        rs_key_game(s, key, sizeof key, op->ids[i]);
        if (rs_op_cmd(op, key, 3, (const char *[]){"HGET", key, "d"},
                   (size_t[]){4, strlen(key), 1}, list_get, &op->parts[i]) == 0)
            op->left++;
        else
            op->tries = 1;
    }
    if (--op->left == 0)
        list_finish(op);
    rs_op_release(op);
}

void idx_list(rop *op)
{
    store_redis *s = op->s;
    char stop[24];
    rs_key_open(s, op->key, sizeof op->key);
    snprintf(stop, sizeof stop, "%zu", op->max + 16 - 1);
    int rc = rs_op_cmd(op, op->key, 4, (const char *[]){"ZRANGE", op->key, "0", stop},
                    (size_t[]){6, strlen(op->key), 1, strlen(stop)}, list_range, op);
    if (rc != 0)
        rs_dq_push(op, rs_rcl_status(s, rc));
}

/* ---- due deadlines ------------------------------------------------------------------- */

static void claim_finish(rop *op)
{
    size_t k = 0;
    for (size_t i = 0; i < op->nparts; i++)
        if (op->ok[i])
            op->ids[k++] = op->ids[i];
    rs_op_done(op, op->tries && !k ? STORE_EUNAVAIL : STORE_OK, NULL, op->ids, k);
}

static void claim_exists(rcl *c, int st, redisReply *r, int sent, void *priv)
{
    (void)c; (void)sent;
    rpart *p = priv;
    rop *op = p->op;
    op->refs--;
    if (!op->completed && op->where == W_LIVE) {
        int64_t id = op->ids[p->i];
        if (st == RCL_OK && r->type == REDIS_REPLY_INTEGER && r->integer == 0) {
            char key[KEY_MAX], ids[24];   /* the game is gone: drop its entry */
            rs_key_deadline(op->s, key, sizeof key, (unsigned)(id % DL_BUCKETS));
            snprintf(ids, sizeof ids, "%" PRId64, id);
            rs_fire_forget(op->s, key, 3, (const char *[]){"ZREM", key, ids}, (size_t[]){4, strlen(key), strlen(ids)});
        } else {
            op->ok[p->i] = 1;   /* exists, or unknown: the claimer's load tells */
        }
        if (--op->left == 0)
            claim_finish(op);
    }
    rs_op_release(op);
}

/* the claims are in: check each one against its record */
static void claim_collected(rop *op)
{
    store_redis *s = op->s;
    size_t n = op->nparts;
    if (n == 0) {
        claim_finish(op);
        return;
    }
    rpart *parts = calloc(n, sizeof(*parts));
    uint8_t *ok = calloc(n, 1);
    if (!parts || !ok) {
        free(parts);
        free(ok);
        op_fail_enomem(op);
        return;
    }
    free(op->parts);
    free(op->ok);
    op->parts = parts;
    op->ok = ok;
    op->left = 1;
    for (size_t i = 0; i < n; i++) {
        char key[KEY_MAX];
        op->parts[i] = (rpart){op, i};
        rs_key_game(s, key, sizeof key, op->ids[i]);
        if (rs_op_cmd(op, key, 2, (const char *[]){"EXISTS", key}, (size_t[]){6, strlen(key)},
                      claim_exists, &op->parts[i]) == 0)
            op->left++;
        else
            op->ok[i] = 1;
    }
    if (--op->left == 0)
        claim_finish(op);
}

static void claim_next(rop *op);

static void claim_bucket(rcl *c, int st, redisReply *r, int sent, void *priv)
{
    (void)c; (void)sent;
    rop *op = priv;
    op->refs--;
    if (!op->completed && op->where == W_LIVE) {
        if (st != RCL_OK || r->type != REDIS_REPLY_ARRAY) {
            op->tries = 1;   /* that bucket's node is out: the others still count */
        } else {
            size_t add = r->elements / 2;
            int64_t *ids = realloc(op->ids, (op->nparts + add + 1) * sizeof(*ids));
            if (ids)
                op->ids = ids;
            for (size_t i = 0; ids && i + 1 < r->elements; i += 2) {
                int64_t id = rs_reply_id(r->element[i]);
                if (id > 0 && op->nparts < op->max) {
                    op->ids[op->nparts++] = id;
                    rs_seen_id(op->s, id);
                }
            }
        }
        claim_next(op);
    }
    rs_op_release(op);
}

/* The buckets one after the other, from a rotating first one, each asked for
 * what is still wanted: claiming more than max from all at once would hold
 * games from other claimers for a whole lease. */
static void claim_next(rop *op)
{
    store_redis *s = op->s;
    while (op->nparts < op->max && op->bucket_n < DL_BUCKETS) {
        char key[KEY_MAX], max[24];
        rs_key_deadline(s, key, sizeof key, (op->bucket0 + op->bucket_n++) % DL_BUCKETS);
        snprintf(max, sizeof max, "%zu", op->max - op->nparts);
        /* EVAL, not EVALSHA: claims run once a tick */
        const char *argv[] = {"EVAL", s->src[SC_CLAIM], "1", key, op->num[0], op->num[1], max};
        size_t lens[7];
        for (int k = 0; k < 7; k++)
            lens[k] = strlen(argv[k]);
        if (rs_op_cmd(op, key, 7, argv, lens, claim_bucket, op) == 0)
            return;
        op->tries = 1;
    }
    claim_collected(op);
}

void idx_claim(rop *op, int64_t now_ms, int64_t lease_ms)
{
    static unsigned rot;
    snprintf(op->num[0], sizeof op->num[0], "%" PRId64, now_ms);
    snprintf(op->num[1], sizeof op->num[1], "%" PRId64, lease_ms);
    op->bucket0 = rot++ % DL_BUCKETS;
    claim_next(op);
}

/* ---- the sweep ------------------------------------------------------------------------- */

typedef struct sweep_req {
    store_redis *s;
    int64_t id;
} sweep_req;

static void sweep_added(rcl *c, int st, redisReply *r, int sent, void *priv)
{
    (void)c; (void)sent;
    store_redis *s = priv;
    if (st == RCL_OK && r->type == REDIS_REPLY_INTEGER && r->integer == 1)
        s->swept++;
}

static void sweep_send(store_redis *s, const char *key, int argc, const char **argv)
{
    size_t lens[8];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    if (s->rcl_open == 1)
        (void)rcl_command_argv(s->rc, key, strlen(key), argc, argv, lens, sweep_added, s);
}

/* a game's signature: put back what it says is missing, never move a claim */
static void sweep_sig(rcl *c, int st, redisReply *r, int sent, void *priv)
{
    (void)c; (void)sent;
    sweep_req *q = priv;
    store_redis *s = q->s;
    store_index g;
    if (st == RCL_OK && rs_reply_is_str(r) && sig_parse(r->str, r->len, &g) == 0 && !s->closing) {
        char key[KEY_MAX], ids[24], num[24];
        snprintf(ids, sizeof ids, "%" PRId64, q->id);
        if (g.open) {
            rs_key_open(s, key, sizeof key);
            sweep_send(s, key, 5, (const char *[]){"ZADD", key, "NX", ids, ids});
        }
        if (g.deadline_ms) {
            rs_key_deadline(s, key, sizeof key, (unsigned)(q->id % DL_BUCKETS));
            snprintf(num, sizeof num, "%" PRId64, g.deadline_ms);
            sweep_send(s, key, 5, (const char *[]){"ZADD", key, "NX", num, ids});
        }
        for (unsigned i = 0; i < g.nholders; i++) {
            rs_key_inst(s, key, sizeof key, g.holders[i]);
            sweep_send(s, key, 3, (const char *[]){"SADD", key, ids});
        }
    }
    free(q);
}

/* "<prefix>:{<id>}:game" -> id, or 0 */
static int64_t game_key_id(const store_redis *s, const char *k, size_t len)
{
    size_t pl = strlen(s->prefix);
    if (len < pl + 8 || memcmp(k, s->prefix, pl) != 0 || memcmp(k + pl, ":{", 2) != 0 ||
        memcmp(k + len - 6, "}:game", 6) != 0)
        return 0;
    int64_t id = 0;
    for (size_t i = pl + 2; i < len - 6; i++) {
        if (k[i] < '0' || k[i] > '9' || id > INT64_MAX / 10)
            return 0;
        id = id * 10 + (k[i] - '0');
    }
    return id;
}

static void sweep_scan(rcl *c, int st, redisReply *r, int sent, void *priv)
{
    (void)c; (void)sent;
    store_redis *s = priv;
    s->sweep_busy = 0;
    if (st != RCL_OK || s->closing || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        !rs_reply_is_str(r->element[0]) || r->element[0]->len >= sizeof s->sweep_cursor ||
        r->element[1]->type != REDIS_REPLY_ARRAY)
        return;   /* tried again from the same cursor next tick */
    const redisReply *keys = r->element[1];
    for (size_t i = 0; i < keys->elements; i++) {
        if (!rs_reply_is_str(keys->element[i]))
            continue;
        int64_t id = game_key_id(s, keys->element[i]->str, keys->element[i]->len);
        sweep_req *q = id > 0 ? malloc(sizeof(*q)) : NULL;
        if (!q)
            continue;
        *q = (sweep_req){s, id};
        char key[KEY_MAX];
        rs_key_game(s, key, sizeof key, id);
        if (rcl_command_argv(s->rc, key, strlen(key), 3, (const char *[]){"HGET", key, "x"},
                             (size_t[]){4, strlen(key), 1}, sweep_sig, q) != 0)
            free(q);
    }
    memcpy(s->sweep_cursor, r->element[0]->str, r->element[0]->len);
    s->sweep_cursor[r->element[0]->len] = '\0';
    if (strcmp(s->sweep_cursor, "0") == 0)
        s->sweep_node++;   /* that primary is done: the next one */
}

/* A slot of each primary, found by walking the map: for what runs per node
 * (SCAN, SCRIPT LOAD). Returns how many, at most max. */
unsigned rs_node_slots(const store_redis *s, unsigned *out, unsigned max)
{
    char host[RCL_HOST_MAX], seen[STORE_NODES_MAX][RCL_HOST_MAX + 16];
    unsigned n = 0;
    for (unsigned slot = 0; slot < 16384 && n < max && n < STORE_NODES_MAX; slot++) {
        int port = rcl_slot_owner(s->rc, slot, host, sizeof host);
        if (port < 0)
            continue;
        char id[RCL_HOST_MAX + 16];
        snprintf(id, sizeof id, "%s:%d", host, port);
        int dup = 0;
        for (unsigned k = 0; k < n && !dup; k++)
            dup = strcmp(seen[k], id) == 0;
        if (dup)
            continue;
        snprintf(seen[n], sizeof seen[0], "%s", id);
        out[n++] = slot;
    }
    return n;
}

static void sweep_round(store_redis *s)
{
    s->nsweep = rs_node_slots(s, s->sweep_slot, STORE_NODES_MAX);
    s->sweep_node = 0;
    strcpy(s->sweep_cursor, "0");
}

void idx_sweep_step(store_redis *s)
{
    if (s->sweep_busy || !s->up || s->closing || s->rcl_open != 1)
        return;
    if (s->sweep_node >= s->nsweep)
        sweep_round(s);
    if (s->nsweep == 0)
        return;
    char match[KEY_MAX], count[16];
    snprintf(match, sizeof match, "%s:{*}:game", s->prefix);
    snprintf(count, sizeof count, "%d", SWEEP_COUNT);
    const char *argv[] = {"SCAN", s->sweep_cursor, "MATCH", match, "COUNT", count};
    size_t lens[6];
    for (int i = 0; i < 6; i++)
        lens[i] = strlen(argv[i]);
    if (rcl_command_slot(s->rc, s->sweep_slot[s->sweep_node], 6, argv, lens, sweep_scan, s) == 0)
        s->sweep_busy = 1;
}
