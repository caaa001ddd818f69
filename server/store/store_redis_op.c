/* store_redis_op.c -- the life of one operation of the Redis backend: its
 * lists, its answer (exactly once, never inside the caller's call), its
 * arguments, and sending its commands through the cluster client (rcl) with
 * the NOSCRIPT fallback. See store_redis_int.h for the struct. */
#include "store_redis_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "log.h"

/* ---- operations: life cycle ---------------------------------------------------- */

void rs_ol_append(oplist *l, rop *op, int where)
{
    op->prev = l->tail;
    op->next = NULL;
    if (l->tail)
        l->tail->next = op;
    else
        l->head = op;
    l->tail = op;
    op->where = (uint8_t)where;
}

void rs_ol_unlink(oplist *l, rop *op)
{
    if (op->prev)
        op->prev->next = op->next;
    else
        l->head = op->next;
    if (op->next)
        op->next->prev = op->prev;
    else
        l->tail = op->prev;
    op->prev = op->next = NULL;
    op->where = W_NONE;
}

static void op_free(rop *op)
{
    free(op->parts);
    free(op->ids);
    free(op->ok);
    free(op->found);
    free(op);
}

rop *rs_op_new(store_redis *s, int type, void *ud)
{
    rop *op = calloc(1, sizeof(*op));
    if (!op)
        return NULL;
    op->s = s;
    op->type = (uint8_t)type;
    op->ud = ud;
    op->script = -1;
    op->write = type == OP_CREATE || type == OP_QUICK || type == OP_SAVE || type == OP_RESET;
    snprintf(op->nonce, sizeof(op->nonce), "%016" PRIx64 "%016" PRIx64, s->nonce_salt,
             ++s->nonce_seq);
    rs_ol_append(&s->live, op, W_LIVE);   /* internal ones too: close ends them */
    return op;
}

/* a new op, or the ENOMEM answer owed when there is no memory for one */
rop *rs_op_begin(store_redis *s, int type, store_cb cb, void *ud)
{
    rop *op = rs_op_new(s, type, ud);
    if (!op) {
        rs_fail_push(s, type, cb, ud);
        return NULL;
    }
    op->cb = cb;
    if (s->closing) {
        rs_dq_push(op, STORE_ECLOSED);
        return NULL;
    }
    return op;
}

void rs_op_release(rop *op)
{
    if (op->completed && op->refs == 0 && op->where == W_NONE)
        op_free(op);
}

void rs_op_done(rop *op, int status, const store_game *g, const void *arr, size_t n)
{
    if (op->completed)
        return;
    op->completed = 1;
    if (status != STORE_OK)
        rs_unlisten(op);   /* the game was not created: nobody else will unsubscribe */
    op->subbed = 0;
    if (op->where == W_LIVE)
        rs_ol_unlink(&op->s->live, op);
    switch (op->type) {
    case OP_CREATE: case OP_LOAD: case OP_SAVE: case OP_QUICK:
        if (op->cb.game)
            op->cb.game(op->ud, status, status == STORE_OK || status == STORE_ECONFLICT ? g : NULL);
        break;
    case OP_LIST:
        if (op->cb.list)
            op->cb.list(op->ud, status, arr, n);
        break;
    case OP_CLAIM:
        if (op->cb.ids)
            op->cb.ids(op->ud, status, arr, n);
        break;
    case OP_RESET: case OP_SUB:
        if (op->cb.done)
            op->cb.done(op->ud, status);
        break;
    default:
        break;
    }
}

/* answer op with status at the next loop turn, never inside the call */
void rs_dq_push(rop *op, int status)
{
    if (op->where == W_LIVE)
        rs_ol_unlink(&op->s->live, op);
    else if (op->where != W_NONE)
        return;   /* on another list: answered from there */
    op->status = status;
    rs_ol_append(&op->s->dq, op, W_DQ);
    rs_idle_arm(op->s);
}

void rs_fail_push(store_redis *s, int type, store_cb cb, void *ud)
{
    int kind = type == OP_LIST ? STORE_CB_LIST : type == OP_CLAIM ? STORE_CB_IDS
             : type == OP_RESET || type == OP_SUB ? STORE_CB_DONE : STORE_CB_GAME;
    if (store_owed_push(&s->owed, kind, cb, ud) != 0) {
        log_error("redis: out of memory with %d answers owed: giving up", STORE_OWED_MAX);
        abort();
    }
    rs_idle_arm(s);
}

void op_fail_enomem(rop *op) { rs_op_done(op, STORE_ENOMEM, NULL, NULL, 0); }

void rs_arg_reset(rop *op) { op->argc = 0; op->script = -1; op->eval = 0; }

void rs_arg_add(rop *op, const void *p, size_t n)
{
    op->argv[op->argc] = p;
    op->argvlen[op->argc] = n;
    op->argc++;
}

void rs_arg_str(rop *op, const char *str) { rs_arg_add(op, str, strlen(str)); }

void rs_arg_i64(rop *op, int64_t v)
{
    char *b = op->num[op->argc];
    rs_arg_add(op, b, (size_t)snprintf(b, sizeof(op->num[0]), "%" PRId64, v));
}

void rs_arg_u64(rop *op, uint64_t v)
{
    char *b = op->num[op->argc];
    rs_arg_add(op, b, (size_t)snprintf(b, sizeof(op->num[0]), "%" PRIu64, v));
}

void rs_arg_script(rop *op, int sc, int nkeys)
{
    rs_arg_reset(op);
    op->script = sc;
    rs_arg_str(op, "EVALSHA");
    rs_arg_add(op, "", 0);
    rs_arg_i64(op, nkeys);
}

int rs_op_send_key(rop *op, const char *key, rcl_reply_cb *cb, void *priv)
{
    store_redis *s = op->s;
    if (op->script >= 0) {
        op->argv[0] = op->eval ? "EVAL" : "EVALSHA";
        op->argv[1] = op->eval ? s->src[op->script] : s->sha[op->script];
        op->argvlen[0] = strlen(op->argv[0]);
        op->argvlen[1] = strlen(op->argv[1]);
    }
    return rs_op_cmd(op, key, op->argc, op->argv, op->argvlen, cb, priv);
}

int rs_op_cmd(rop *op, const char *key, int argc, const char **argv, const size_t *lens,
           rcl_reply_cb *cb, void *priv)
{
    store_redis *s = op->s;
    if (!s->rcl_open)
        return RCL_ECLOSED;
    int rc = rcl_command_argv(s->rc, key, strlen(key), argc, argv, lens, cb, priv);
    if (rc == 0) {
        op->refs++;
        if (op->write && !op->t_first)
            op->t_first = uv_now(s->loop);
    }
    return rc;
}

int rs_op_noscript_retry(rop *op, const redisReply *r, const char *key, rcl_reply_cb *cb)
{
    if (op->script < 0 || op->eval || !rs_is_err(r, "NOSCRIPT"))
        return 0;
    op->eval = 1;
    log_debug("redis: script %s not loaded on that node: sent with EVAL", rs_script_name[op->script]);
    return rs_op_send_key(op, key, cb, op) == 0;
}

static void forget_cb(rcl *c, int st, redisReply *r, int sent, void *priv)
{
    (void)c; (void)sent; (void)priv;
    if (st != RCL_OK || (r && r->type == REDIS_REPLY_ERROR))
        log_debug("redis: index clean-up failed (the sweep repairs it)");
}

/* a command nobody waits for (clean-up of a stale index entry) */
void rs_fire_forget(store_redis *s, const char *key, int argc, const char **argv,
                 const size_t *lens)
{
    if (s->rcl_open)
        (void)rcl_command_argv(s->rc, key, strlen(key), argc, argv, lens, forget_cb, NULL);
}

