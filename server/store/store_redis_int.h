/* store_redis_int.h -- what the files of the Redis backend share: the store
 * struct, one operation (rop), and the helpers each file lends the others.
 *   store_redis.c           keys; the steps of create, quick, load, save, reset;
 *                           writes in doubt
 *   store_redis_op.c        the life of an op: lists, answer, arguments, sending
 *   store_redis_api.c       open/close, the tick, pub/sub, list, claim, the table
 *   store_redis_idx.c       the indexes: the signature diff after a save, sweep
 *   store_redis_presence.c  instance id, heartbeat, epoch, dead instances, bye
 *   store_redis_sub.c       subscriptions: messages, confirmations, a create's wait
 * Not a public header: only these files include it. */
#ifndef STORE_REDIS_INT_H
#define STORE_REDIS_INT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "redis_cluster.h"
#include "redis_sub.h"
#include "redis_url.h"
#include "store.h"
#include "store_codec.h"

#define PREFIX_MAX 32
#define KEY_MAX 96
#define DL_BUCKETS 16             /* deadline index buckets, each its own hash tag */
#define OP_MAXARGS 16

enum { SC_ALLOC, SC_CREATE, SC_SAVE, SC_RESET, SC_CLAIM, SC_RESOLVE, SC_RESOLVE_ID, SC_BEAT,
       SC_REAP, SC_TAKE, SC_BYE, SC_QPUSH, SC_COUNT };

enum { OP_CREATE, OP_LOAD, OP_SAVE, OP_QUICK, OP_LIST, OP_CLAIM, OP_RESET, OP_SUB,
       OP_INTERNAL };
enum { W_NONE, W_LIVE, W_DQ, W_CONFIRM, W_DOUBT };  /* which list an op is on */

typedef struct store_redis store_redis;
typedef struct rop rop;

/* One piece of a fanned-out op (the records of a list, the buckets of a
 * claim): rcl's privdata for that command. */
typedef struct rpart {
    rop *op;
    size_t i;
} rpart;

/* One operation, from the caller's call to its answer. It may have several
 * commands at rcl at once (refs); it is freed once answered (completed),
 * off every list and with no command left at rcl. */
struct rop {
    rop *prev, *next;
    store_redis *s;
    uint8_t type, where, completed, write, eval, resolving;
    uint8_t resolve_alloc;       /* in doubt about the id (alloc_id), not a game write */
    uint8_t subbed;              /* create/quick: subscribed to op->id (see rs_do_listen) */
    int phase;                   /* what the op waits for now (per type) */
    int refs;                    /* commands at rcl */
    int status;                  /* for a deferred completion */
    int script;                  /* SC_* of the script in flight, -1 none */
    store_cb cb;
    void *ud;
    int64_t id;
    int tries;
    uint64_t t_first;            /* uv_now() when the write was first sent */
    uint64_t t_sub;              /* uv_now() when it began to wait for a confirmation */
    char nonce[34];
    store_game g;                /* save/create: the record as written */
    int argc;
    const char *argv[OP_MAXARGS];
    size_t argvlen[OP_MAXARGS];
    char num[OP_MAXARGS][24];
    char key[KEY_MAX];           /* the game hash */
    char mkey[KEY_MAX + 40];     /* alloc_id's marker ({m}) */
    char chan[KEY_MAX];
    char sig[128];               /* the index signature written */
    char oldsig[128];            /* save: the one it replaced, when it differed */
    int has_old;
    uint8_t blob[REC_MAX];
    size_t bloblen;
    /* fan-out (list, claim) */
    rpart *parts;
    size_t nparts, left;
    int64_t *ids;                /* list: ids in order; claim: claimed ids */
    uint8_t *ok;                 /* list/claim: the piece is kept */
    store_open_game *found;      /* list: the records' (id, created) */
    size_t max;
    int64_t lease_end;
    unsigned bucket0, bucket_n;  /* claim: first bucket, buckets asked */
};

typedef struct oplist {
    rop *head, *tail;
} oplist;

struct store_redis {
    store base;                  /* must stay first: store.c dispatches through it */
    uv_loop_t *loop;
    store_events ev;
    char *name;
    redis_url url;
    char *seeds;                 /* "h1:p1,h2:p2" for rcl */
    char prefix[PREFIX_MAX + 1];
    int64_t finished_ttl_ms;
    int wait_replicas;           /* --redis-wait N: WAIT N after each save */
    int wait_timeout_ms;

    rcl *rc;
    rsub *rs;
    char sha[SC_COUNT][41];
    const char *src[SC_COUNT];
    int mode_logged;
    int scripts_due;             /* a new map: SCRIPT LOAD on its primaries */

    uint32_t instance;
    int up;                      /* what health() last said */
    int beat_ok;                 /* the last heartbeat went through */
    double latency_ms;           /* heartbeat round trip, smoothed */
    uint64_t beat_t0;
    uint64_t rng;

    oplist dq;                   /* answered at the next idle turn */
    oplist confirms;             /* store_subscribe() calls awaiting Redis */
    oplist doubts;               /* writes whose outcome is not known yet */
    oplist live;                 /* every other op not yet answered (for close) */
    store_owed owed;
    uint64_t nonce_salt, nonce_seq;

    char epoch[24];
    int64_t max_id;
    uint64_t lost_count;
    uint64_t lost_until;

    uv_idle_t idle;
    uv_timer_t tick;
    unsigned ticks;
    int beat_busy, reap_busy, sweep_busy;
    int legacy_checked;          /* the pre-cluster id counter was read (presence.c) */
    int beaten;
    /* the sweep: one SCAN step per tick over the primaries in turn */
    unsigned sweep_node, nsweep;
    unsigned sweep_slot[STORE_NODES_MAX];   /* a slot of each primary */
    char sweep_cursor[24];
    uint64_t index_fail;         /* index commands that failed (the sweep repairs) */
    uint64_t swept;              /* index entries put back by the sweep */

    int closing, finishing, bye_pending, handles_open;
    int rcl_open;                /* 1 open, 2 closing, 0 closed */
    void (*done)(void *ud);
    void *done_ud;
};

/* ---- store_redis.c: op life cycle, the steps of the game ops ---- */
rop *rs_op_new(store_redis *s, int type, void *ud);
/* a new op for the caller's cb, or NULL when it is answered already (the
 * ENOMEM owed when there is no memory for one, ECLOSED after close) */
rop *rs_op_begin(store_redis *s, int type, store_cb cb, void *ud);
void rs_op_done(rop *op, int status, const store_game *g, const void *arr, size_t n);
void rs_op_release(rop *op);
void rs_ol_append(oplist *l, rop *op, int where);
void rs_ol_unlink(oplist *l, rop *op);
void rs_dq_push(rop *op, int status);
/* answer op ENOMEM (now, from a callback) */
void op_fail_enomem(rop *op);
void rs_fail_push(store_redis *s, int type, store_cb cb, void *ud);
void rs_idle_arm(store_redis *s);
void rs_arg_reset(rop *op);
void rs_arg_add(rop *op, const void *p, size_t n);
void rs_arg_str(rop *op, const char *str);
void rs_arg_i64(rop *op, int64_t v);
void rs_arg_u64(rop *op, uint64_t v);
void rs_arg_script(rop *op, int sc, int nkeys);
/* Send op's argv (a script when rs_arg_script began it) to the owner of key's
 * slot. 0, or an RCL_E* code (nothing sent). */
int rs_op_send_key(rop *op, const char *key, rcl_reply_cb *cb, void *priv);
/* Send a command built on the spot (argv copied by rcl). */
int rs_op_cmd(rop *op, const char *key, int argc, const char **argv, const size_t *lens,
           rcl_reply_cb *cb, void *priv);
/* rcl status -> store status */
int rs_rcl_status(store_redis *s, int st);
/* A NOSCRIPT reply to op's script: sent again with EVAL. 1 when it went out. */
int rs_op_noscript_retry(rop *op, const struct redisReply *r, const char *key, rcl_reply_cb *cb);
void rs_fire_forget(store_redis *s, const char *key, int argc, const char **argv,
                 const size_t *lens);
int rs_reply_is_str(const struct redisReply *r);
int rs_is_err(const struct redisReply *r, const char *word);   /* an error reply starting so */
int64_t rs_reply_id(const struct redisReply *r);
void rs_seen_id(store_redis *s, int64_t id);
void rs_health_update(store_redis *s);
uint64_t rs_rng_next(store_redis *s);
void rs_key_meta(const store_redis *s, char *buf, size_t n, const char *what);
void rs_key_game(const store_redis *s, char *buf, size_t n, int64_t id);
void rs_key_open(const store_redis *s, char *buf, size_t n);
void rs_key_quick(const store_redis *s, char *buf, size_t n);
void rs_key_deadline(const store_redis *s, char *buf, size_t n, unsigned bucket);
void rs_key_inst(const store_redis *s, char *buf, size_t n, uint32_t inst);
void rs_doubt_add(rop *op);
/* a game's channel (its length), and back: 0 when not one of ours */
int rs_key_chan(const store_redis *s, char *b, size_t n, int64_t id);
int64_t rs_chan_to_id(const store_redis *s, const char *p, size_t len);

enum { P_NONE, P_ALLOC, P_LISTEN, P_CREATE, P_QPUSH, P_QPOP, P_QGET, P_LOAD, P_SAVE, P_WAIT, P_RESET, P_RESOLVE,
       P_RELOAD };
extern const char *const rs_script_name[SC_COUNT];
/* rcl's callback for an op's single command in flight (priv == op) */
void rs_on_reply(rcl *c, int st, struct redisReply *r, int sent, void *priv);
/* Send op's argv to key's owner; when refused, answer the op. */
void rs_send_or_fail(rop *op, const char *key);
void rs_do_alloc(rop *op);              /* create/quick: take an id, then create */
/* create/quick, once id is taken: subscribe to its channel, and write the
 * game once Redis confirms (rs_on_confirmed), so that no save of it, by any
 * process, happens before this one listens */
void rs_do_listen(rop *op, int64_t id);
void rs_on_confirmed(rop *op);
/* end the subscription rs_do_listen took, when the op holds one */
void rs_unlisten(rop *op);
void rs_do_create(rop *op, int64_t id);
void rs_do_qpop(rop *op);               /* quick: pop the queue */
void rs_do_get(rop *op, int phase);     /* HGET the record of op->id */
void rs_doubts_tick(store_redis *s);
int64_t rs_ttl_of(const store_redis *s, const store_game *g);

/* ---- store_redis_idx.c ---- */
/* The index signature of a record (what its index entries should be), in
 * sig (>= 128 bytes): "o<0|1> q<0|1> d<deadline> h<i,j,..>". */
size_t idx_sig(const store_game *g, char *sig, size_t n);
/* Bring the indexes of game id from old (NULL: unknown) to new, as
 * commands of op; rs_op_idx_done(op) runs once they are all answered (at once
 * when there are none). Failures are counted and left to the sweep. */
void idx_apply(rop *op, int64_t id, const char *old, size_t oldlen, const char *new_sig);
void rs_op_idx_done(rop *op);
/* open_list and claim_due: read the index, check each entry against the
 * record, clean the stale ones, answer op. */
void idx_list(rop *op);
void idx_claim(rop *op, int64_t now_ms, int64_t lease_ms);
unsigned rs_node_slots(const store_redis *s, unsigned *out, unsigned max);
/* One step of the sweep (from the tick). */
void idx_sweep_step(store_redis *s);

/* ---- store_redis_sub.c ---- */
void rs_on_message(rsub *rs, const char *ch, size_t chlen, const char *msg, size_t len, void *ud);
void rs_on_sub_event(rsub *rs, const char *ch, size_t chlen, int ev, void *ud);
/* from the tick: drop subscriptions Redis never confirmed (EUNAVAIL) */
void rs_confirms_expire(store_redis *s);
void rs_subscribe(store *st, int64_t id, store_done_cb *cb, void *ud);
void rs_unsubscribe(store *st, int64_t id);

/* ---- store_redis_presence.c ---- */
void presence_tick(store_redis *s);
void presence_beat(store_redis *s);
/* Begin the goodbye; bye_pending until it is answered (then close goes on). */
void presence_bye(store_redis *s);
void presence_bye_done(store_redis *s);

#endif
