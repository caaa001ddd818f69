/* store_redis_sub.c -- the Redis backend's subscriptions, over redis_sub.h:
 * messages in (a published record, decoded as hostile input), Redis'
 * confirmations, store_subscribe/unsubscribe, and a create's wait: the new
 * game's channel is confirmed before the game is written (rs_do_listen), so
 * its creator cannot miss the first save by another process. */
#include "store_redis_int.h"

#include <inttypes.h>
#include <stdlib.h>

#include "log.h"

#define CONFIRM_MAX_MS 30000
/* a create waits no longer for its channel than a command for its reply
 * (rcl's time-out): the player asked for a game, not for a subscription */
#define LISTEN_MAX_MS 5000

void rs_on_message(rsub *rs, const char *ch, size_t chlen, const char *msg, size_t len,
                   void *ud)
{
    (void)rs;
    store_redis *s = ud;
    store_game g;
    int64_t id = rs_chan_to_id(s, ch, chlen);
    if (s->closing || id <= 0)
        return;
    if (rec_decode(msg, len, &g) != 0 || g.id != id) {
        log_warn("redis: unreadable record published for game %" PRId64, id);
        return;
    }
    rs_seen_id(s, g.id);
    if (s->ev.published)
        s->ev.published(s->ev.ud, &g);
}

static void confirm(store_redis *s, int64_t id)
{
    for (rop *op = s->confirms.head; op; op = op->next) {
        if (op->id == id) {
            rs_ol_unlink(&s->confirms, op);
            if (op->type == OP_SUB) {
                rs_op_done(op, STORE_OK, NULL, NULL, 0);
                rs_op_release(op);
            } else {
                rs_on_confirmed(op);   /* a create listening before it writes */
            }
            return;
        }
    }
}

/* A channel confirmed again after a loss (failover, slot moved): records
 * saved meanwhile were missed, so the game is read again and published. */
void rs_on_sub_event(rsub *rs, const char *ch, size_t chlen, int ev, void *ud)
{
    (void)rs;
    store_redis *s = ud;
    int64_t id = rs_chan_to_id(s, ch, chlen);
    if (id <= 0 || s->closing)
        return;
    if (ev != RSUB_EV_SUBSCRIBED)
        log_info("redis: game %" PRId64 ": subscription %s", id,
                 ev == RSUB_EV_LOST ? "lost (a node went away or the slot moved)"
                                    : "restored: reading the game again");
    if (ev == RSUB_EV_SUBSCRIBED || ev == RSUB_EV_RESUBSCRIBED)
        confirm(s, id);
    if (ev == RSUB_EV_RESUBSCRIBED) {
        rop *op = rs_op_new(s, OP_INTERNAL, NULL);
        if (!op)
            return;
        op->id = id;
        rs_do_get(op, P_RELOAD);
        rs_op_release(op);
    }
}

void rs_confirms_expire(store_redis *s)
{
    uint64_t now = uv_now(s->loop);
    rop *op = s->confirms.head;
    while (op) {
        rop *next = op->next;
        if (now - op->t_sub >= (op->type == OP_SUB ? CONFIRM_MAX_MS : LISTEN_MAX_MS)) {
            char ch[KEY_MAX];
            int n = rs_key_chan(s, ch, sizeof ch, op->id);
            (void)rsub_unsubscribe(s->rs, ch, (size_t)n);   /* not kept: see redis_subscribe */
            op->subbed = 0;   /* a create's, ended just above */
            rs_ol_unlink(&s->confirms, op);
            rs_dq_push(op, STORE_EUNAVAIL);
        }
        op = next;
    }
}

/* ---- a create listens first ---------------------------------------------------------- */

void rs_unlisten(rop *op)
{
    store_redis *s = op->s;
    if (op->subbed && s->rs && !s->closing) {
        char ch[KEY_MAX];
        int n = rs_key_chan(s, ch, sizeof ch, op->id);
        (void)rsub_unsubscribe(s->rs, ch, (size_t)n);
    }
    op->subbed = 0;
}

void rs_do_listen(rop *op, int64_t id)
{
    store_redis *s = op->s;
    char ch[KEY_MAX];
    rs_unlisten(op);   /* after TTTEXISTS: the id before was skipped */
    op->id = id;
    int n = rs_key_chan(s, ch, sizeof ch, id);
    int rc = s->rs ? rsub_subscribe(s->rs, ch, (size_t)n) : RCL_ECLOSED;
    if (rc != 0) {
        rs_op_done(op, rc == RCL_ENOMEM ? STORE_ENOMEM : STORE_EUNAVAIL, NULL, NULL, 0);
        return;
    }
    op->subbed = 1;
    if (rsub_is_subscribed(s->rs, ch, (size_t)n)) {
        rs_do_create(op, id);
        return;
    }
    /* the reply callback releases it; the confirmations list keeps it */
    op->phase = P_LISTEN;
    rs_ol_unlink(&s->live, op);
    op->t_sub = uv_now(s->loop);
    rs_ol_append(&s->confirms, op, W_CONFIRM);
}

void rs_on_confirmed(rop *op)
{
    rs_ol_append(&op->s->live, op, W_LIVE);
    rs_do_create(op, op->id);
}

/* ---- store_subscribe / store_unsubscribe --------------------------------------------- */

/* cb(STORE_OK) once Redis confirms. A subscription not confirmed within
 * CONFIRM_MAX_MS is dropped (EUNAVAIL): the caller subscribes again after
 * health(1). Confirmed ones survive failovers and moved slots (redis_sub). */
void rs_subscribe(store *st, int64_t id, store_done_cb *cb, void *ud)
{
    store_redis *s = (store_redis *)st;
    rop *op = rs_op_begin(s, OP_SUB, (store_cb){.done = cb}, ud);
    if (!op)
        return;
    op->id = id;
    if (id <= 0) {
        rs_dq_push(op, STORE_EINVAL);
        return;
    }
    if (!s->up) {
        rs_dq_push(op, STORE_EUNAVAIL);
        return;
    }
    int n = rs_key_chan(s, op->chan, sizeof op->chan, id);
    int rc = rsub_subscribe(s->rs, op->chan, (size_t)n);
    if (rc != 0) {
        rs_dq_push(op, rc == RCL_ENOMEM ? STORE_ENOMEM : STORE_EUNAVAIL);
        return;
    }
    if (rsub_is_subscribed(s->rs, op->chan, (size_t)n)) {
        rs_dq_push(op, STORE_OK);
        return;
    }
    rs_ol_unlink(&s->live, op);
    op->t_sub = uv_now(s->loop);
    rs_ol_append(&s->confirms, op, W_CONFIRM);
}

void rs_unsubscribe(store *st, int64_t id)
{
    store_redis *s = (store_redis *)st;
    char ch[KEY_MAX];
    if (s->closing || !s->rs)
        return;
    int n = rs_key_chan(s, ch, sizeof ch, id);
    (void)rsub_unsubscribe(s->rs, ch, (size_t)n);
    for (rop *op = s->confirms.head; op; op = op->next)
        if (op->id == id && op->type == OP_SUB) {   /* unsubscribed before Redis confirmed: answer it anyway */
            rs_ol_unlink(&s->confirms, op);
            rs_dq_push(op, STORE_OK);
            break;
        }
}
