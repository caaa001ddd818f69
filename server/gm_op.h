/* gm_op.h -- the compare-and-save engine: take the latest record, apply a
 * change in C, save it with the version it was read at; a lost race re-runs
 * the change on the record that won, so the answer to the client is always
 * judged against the game as it really is.
 *
 * The engine knows records, versions, rooms and retries, nothing of the
 * game: what a change is comes from a gm_op_kind, and its arguments are an
 * opaque copy the kind reads back (gm_kinds.c keeps a gm_args there). A
 * request that takes several steps (matchmaking, a rematch) is a chain of
 * ops, one per step, each started by the one before with gm_op_chain(). */
#ifndef GM_OP_H
#define GM_OP_H

#include <stddef.h>

#include "gm_core.h"

/* Arguments up to this size ride in the op cache's blocks (gm_op.c); a
 * request's gm_args must fit (gm_kinds.c checks it at compile time), or
 * every request allocates its op. */
#define GM_OP_CACHE_ARGS 2048

typedef struct gm_op_kind {
    const char *name;
    /* a step that makes its own store call (create, matchmaking, list)
     * instead of read-mutate-save: gm_op_start() hands the op to it */
    void (*begin)(gm_op *op);
    /* change *rec: GM_MUT_* or -proto_err */
    int (*mutate)(gm_op *op, store_game *rec);
    /* after a save (or GM_MUT_KEEP), with the record as it now is */
    void (*done)(gm_op *op, const store_game *rec);
    /* on failure: return 1 when a chained op has taken the request over;
     * this op then ends without a reply */
    int (*failed)(gm_op *op, proto_err e);
    uint8_t subscribe;           /* the op needs its room subscribed first */
} gm_op_kind;

struct gm_op {
    gm *gm;
    const gm_op_kind *kind;      /* fixed for the op's life */
    gm_conn *conn;               /* ref'd; NULL for the process' own ops */
    gm_room *room;               /* ref'd once started */
    gm_room *aux;                /* ref'd: a second room a chain keeps (the
                                    rematch's new game, from create to link) */
    gm_op *next;                 /* room->waiting */
    proto_id reqid;
    int64_t game_id;
    uint8_t tries;               /* conflicts (and retried steps) so far */
    uint8_t fresh;               /* the record came from the store, not the cache */
    uint8_t finished;            /* the save ended the game */
    uint8_t note;                /* the kind's own: what its mutate tells its done */
    uint8_t counted;             /* a counter of the connection's this op holds
                                    (GM_COUNT_*), released at finish */
    size_t args_len;
    max_align_t args[];          /* the kind's arguments, args_len bytes */
};

/* A new op for connection c (ref'd; may be NULL) on game_id, with a copy
 * of args. Counts as in flight until gm_op_finish(). */
gm_op *gm_op_new(gm *g, const gm_op_kind *k, gm_conn *c, int64_t game_id,
                 const void *args, size_t args_len);
/* The next step of op's request: same connection, request id, game, args
 * and tries; with keep_room the room too. Its own references. The request
 * is still in flight, so the connection counter op holds (if any) moves to
 * the new op. */
gm_op *gm_op_chain(gm_op *op, const gm_op_kind *k, int keep_room);
/* Start a process' own op (no connection) on a room it holds. */
void gm_op_start_own(gm *g, const gm_op_kind *k, gm_room *room, const void *args,
                     size_t args_len);

/* begin, or (subscribe) -> record -> mutate -> save -> done */
void gm_op_start(gm_op *op);
/* run mutate on cur and go on from there */
void gm_op_apply(gm_op *op, const store_game *cur);
/* The same on the room's newest record, or on a fresh load when the room
 * holds none (it could not keep one, out of memory). */
void gm_op_apply_room(gm_op *op);
/* answer the request with e (unless the kind's failed hook chains on) and end */
void gm_op_fail(gm_op *op, proto_err e);
void gm_op_finish(gm_op *op);
/* For a store write's reply: 1 when status is STORE_EUNKNOWN, the write in
 * doubt: the op is ended unanswered and its connection closed (1011); else 0. */
int gm_op_unknown(gm_op *op, int status);

/* The room's subscription is settled: with PROTO_OK start the ops parked
 * on it, else answer each with e. */
void gm_op_run_waiting(gm *g, gm_room *r, proto_err e);

/* Provided by the kinds (gm_kinds.c): stamp next (read as cur) before a
 * save, returning 1 when the save ends the game; count and log a save that
 * did. */
int gm_op_stamp(gm *g, const store_game *cur, store_game *next);
void gm_op_ended(gm *g, const store_game *rec);

#endif
