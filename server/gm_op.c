/* gm_op.c -- the compare-and-save engine (see gm_op.h).
 *
 * An op holds refs on its connection and its room, so that a reply
 * arriving after the player left frees cleanly. A mutate judged on the
 * room's cached copy that says no is checked once more against the stored
 * record before the client hears it; a conflict re-runs mutate on the
 * record that won, up to GM_MAX_TRIES times. */
#include "gm_op.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "gm_room.h"
#include "log.h"

/* Every request is an op, so a busy server would malloc and free one per
 * move. Freed ops of the common size are kept for the next one instead, a
 * few dozen at most (issue 11: no allocation per move). Blocks only, no
 * state: shared by the managers of a process (there is one, outside tests),
 * and still reachable at exit. */
#define OP_CACHE_ARGS GM_OP_CACHE_ARGS
#define OP_CACHE_MAX 64
static void *op_cache[OP_CACHE_MAX];
static unsigned op_cached;

static gm_op *op_alloc(size_t args_len)
{
    if (args_len <= OP_CACHE_ARGS && op_cached) {
        gm_op *op = op_cache[--op_cached];
        memset(op, 0, sizeof(*op) + args_len);
        return op;
    }
    return calloc(1, sizeof(gm_op) + (args_len <= OP_CACHE_ARGS ? OP_CACHE_ARGS : args_len));
}

static void op_free(gm_op *op)
{
    if (op->aux)
        gm_room_release(op->gm, op->aux);
    if (op->args_len <= OP_CACHE_ARGS && op_cached < OP_CACHE_MAX)
        op_cache[op_cached++] = op;
    else
        free(op);
}

gm_op *gm_op_new(gm *g, const gm_op_kind *k, gm_conn *c, int64_t game_id,
                 const void *args, size_t args_len)
{
    gm_op *op = op_alloc(args_len);
    if (!op)
        return NULL;
    op->gm = g;
    op->kind = k;
    op->conn = c;
    op->game_id = game_id;
    op->args_len = args_len;
    if (args_len)
        memcpy(op->args, args, args_len);
    if (c)
        c->refs++;
    g->inflight++;
    return op;
}

gm_op *gm_op_chain(gm_op *op, const gm_op_kind *k, int keep_room)
{
    gm_op *n = gm_op_new(op->gm, k, op->conn, op->game_id, op->args, op->args_len);
    if (!n)
        return NULL;
    n->reqid = op->reqid;
    n->tries = op->tries;
    n->counted = op->counted;
    op->counted = GM_COUNT_NONE;
    if (keep_room && op->room) {
        n->room = op->room;
        n->room->refs++;
    }
    return n;
}

void gm_op_start_own(gm *g, const gm_op_kind *k, gm_room *room, const void *args,
                     size_t args_len)
{
    if (g->detached)
        return;
    gm_op *op = gm_op_new(g, k, NULL, room->id, args, args_len);
    if (!op)
        return;
    op->room = room;
    room->refs++;
    gm_op_start(op);
}

void gm_op_finish(gm_op *op)
{
    gm *g = op->gm;
    gm_conn_uncount(op->conn, op->counted);
    gm_room_release(g, op->room);
    gm_conn_release(op->conn);
    op_free(op);
    g->inflight--;
    gm_maybe_stopped(g);
}

/* Any answer could be a lie ("unavailable" when the write ran, success when
 * it did not), so the request gets none. Its connection is closed instead
 * (1011): a client left waiting might wait forever, while one that
 * reconnects resumes its seat and reads the truth in the state it gets. */
int gm_op_unknown(gm_op *op, int status)
{
    if (status != STORE_EUNKNOWN)
        return 0;
    log_error("game %" PRId64 ": %s: the store cannot tell whether it was applied; "
              "closing the client's connection instead of answering",
              op->game_id, op->kind->name);
    gm_close_conn(op->gm, op->conn);
    gm_op_finish(op);
    return 1;
}

void gm_op_fail(gm_op *op, proto_err e)
{
    if (op->kind->failed && op->kind->failed(op, e)) {
        gm_op_finish(op);
        return;
    }
    gm_reply_error(op->gm, op->conn, &op->reqid, e, NULL);
    gm_op_finish(op);
}

void gm_op_run_waiting(gm *g, gm_room *r, proto_err e)
{
    gm_op *w = r->waiting;
    r->waiting = NULL;
    while (w) {
        gm_op *next = w->next;
        if (e == PROTO_OK) {
            gm_op_start(w);
        } else {
            gm_reply_error(g, w->conn, &w->reqid, e, NULL);
            /* these ops never left the queue: no failure hook, no stop check */
            gm_conn_uncount(w->conn, w->counted);
            gm_room_release(g, w->room);
            gm_conn_release(w->conn);
            g->inflight--;
            op_free(w);
        }
        w = next;
    }
}

static void on_saved(void *ud, int status, const store_game *rec)
{
    gm_op *op = ud;
    gm *g = op->gm;
    switch (status) {
    case STORE_OK:
        if (op->room)
            gm_room_advance_reply(g, op->room, rec);
        if (op->finished)
            gm_op_ended(g, rec);
        if (op->kind->done)
            op->kind->done(op, rec);
        gm_op_finish(op);
        return;
    case STORE_ECONFLICT:
        g->stats.conflicts++;
        if (op->room)
            gm_room_advance_reply(g, op->room, rec);
        if (++op->tries >= GM_MAX_TRIES) {
            log_warn("game %" PRId64 ": %s gave up after %d conflicts", op->game_id,
                     op->kind->name, op->tries);
            gm_op_fail(op, PROTO_EUNAVAILABLE);
            return;
        }
        op->fresh = 1;
        if (op->room)
            gm_op_apply_room(op);
        else
            gm_op_apply(op, rec);
        return;
    case STORE_ENOTFOUND:
        gm_op_fail(op, PROTO_ENO_SUCH_GAME);
        return;
    default:
        if (!gm_op_unknown(op, status))
            gm_op_fail(op, PROTO_EUNAVAILABLE);
        return;
    }
}

static void on_loaded(void *ud, int status, const store_game *rec)
{
    gm_op *op = ud;
    if (status == STORE_ENOTFOUND) {
        gm_op_fail(op, PROTO_ENO_SUCH_GAME);
        return;
    }
    if (status != STORE_OK) {
        gm_op_fail(op, PROTO_EUNAVAILABLE);
        return;
    }
    op->fresh = 1;
    store_game cur;
    if (op->room) {
        gm_room_advance_reply(op->gm, op->room, rec);
        if (gm_room_rec(op->room, &cur) == 0)   /* the newest, which may be newer */
            rec = &cur;
    }
    gm_op_apply(op, rec);
}

static void on_reset(void *ud, int status)
{
    (void)status;   /* a failed reset is retried by the lease running out */
    gm_op_finish(ud);
}

void gm_op_apply_room(gm_op *op)
{
    store_game cur;
    if (gm_room_rec(op->room, &cur) == 0)
        gm_op_apply(op, &cur);
    else
        store_game_load(op->gm->st, op->game_id, on_loaded, op);
}

void gm_op_apply(gm_op *op, const store_game *cur)
{
    gm *g = op->gm;
    store_game next = *cur;
    int r = op->kind->mutate(op, &next);
    if (r < 0) {
        if (!op->fresh) {
            /* judged on our cached copy: make sure with the stored record
             * before telling the client no */
            store_game_load(g->st, op->game_id, on_loaded, op);
            return;
        }
        gm_op_fail(op, (proto_err)-r);
        return;
    }
    switch (r) {
    case GM_MUT_KEEP:
        if (op->kind->done)
            op->kind->done(op, cur);
        gm_op_finish(op);
        return;
    case GM_MUT_QUIET:
        gm_op_finish(op);
        return;
    case GM_MUT_RESET:
        store_deadline_reset(g->st, cur, on_reset, op);
        return;
    default:
        break;
    }
    op->finished = (uint8_t)gm_op_stamp(g, cur, &next);
    store_game_save(g->st, &next, on_saved, op);
}

void gm_op_start(gm_op *op)
{
    gm *g = op->gm;
    if (op->kind->begin) {
        op->kind->begin(op);
        return;
    }
    if (g->detached || !store_is_up(g->st)) {
        gm_op_fail(op, PROTO_EUNAVAILABLE);
        return;
    }
    const gm_op_kind *k = op->kind;
    if (!op->room) {
        op->room = k->subscribe ? gm_room_get(g, op->game_id, 1) : gm_room_find(g, op->game_id);
        if (op->room)
            op->room->refs++;
        else if (k->subscribe) {
            gm_op_fail(op, PROTO_EUNAVAILABLE);
            return;
        }
    }
    gm_room *r = op->room;
    if (r && k->subscribe && r->sub != GM_SUB_ACTIVE) {
        if (r->sub == GM_SUB_NONE && gm_room_subscribe(g, r) != 0) {
            gm_op_fail(op, PROTO_EUNAVAILABLE);
            return;
        }
        op->next = r->waiting;
        r->waiting = op;
        return;
    }
    store_game cur;
    if (r && r->sub == GM_SUB_ACTIVE && gm_room_rec(r, &cur) == 0)
        gm_op_apply(op, &cur);
    else
        store_game_load(g->st, op->game_id, on_loaded, op);
}
