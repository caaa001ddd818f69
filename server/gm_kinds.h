/* gm_kinds.h -- the kinds of operation the manager runs on the engine
 * (gm_op.h), each a mutate that asks gm_rules.c and a done that answers the
 * client and moves members. Private to the game manager. Every kind's
 * arguments are a gm_args (gm_rules.h) with the tag named below. */
#ifndef GM_KINDS_H
#define GM_KINDS_H

#include "gm_op.h"

/* requests (gm.c dispatches to these) */
extern const gm_op_kind gm_kind_create;   /* SEAT: a new game, X ours */
extern const gm_op_kind gm_kind_quick;    /* SEAT: matchmaking, then quick-join */
extern const gm_op_kind gm_kind_list;     /* NONE */
extern const gm_op_kind gm_kind_join;     /* SEAT */
extern const gm_op_kind gm_kind_resume;   /* SEAT: token given */
extern const gm_op_kind gm_kind_watch;    /* NONE */
extern const gm_op_kind gm_kind_move;     /* MOVE */
extern const gm_op_kind gm_kind_resign;   /* MARK */
extern const gm_op_kind gm_kind_rematch;  /* REMATCH: ask, then create and link */
extern const gm_op_kind gm_kind_probe;    /* NONE: the connection holds no seat */
/* the process' own (gm.c's store events and tick) */
extern const gm_op_kind gm_kind_orphan;   /* ORPHAN */
extern const gm_op_kind gm_kind_timeout;  /* NONE */

/* Give seat args a fresh token and its digest: 0, or -1. */
int gm_seat_args_token(gm_seat_args *a);
/* The op's arguments (gm_op_new() was given a gm_args). */
gm_args *gm_op_args(gm_op *op);

#endif
