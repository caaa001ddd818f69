/* gm_rules.h -- the manager's decisions about a game record, as pure
 * functions: who may take a seat, what a move, a goodbye or a timeout does
 * to the record, what a player may see.
 *
 * Each mutator is a function of a context (the time, this instance, the
 * seat the asking connection holds, the local holders), the request's
 * arguments and the record: it changes *rec in place and returns a GM_MUT_*
 * outcome, or a negative -proto_err. No I/O, no clock, no store, no
 * allocation: tests/test_gm_rules.c calls every one of them directly. The
 * board itself is game/'s; these rules are about seats, holders and time. */
#ifndef GM_RULES_H
#define GM_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "store.h"
#include "token.h"

/* What a mutator tells the engine (gm_op.c); negative values are -proto_err. */
enum {
    GM_MUT_SAVE = 0,   /* save the changed record */
    GM_MUT_KEEP = 1,   /* nothing to save: finish on the record as it is */
    GM_MUT_QUIET = 2,  /* nothing to save and nothing to say */
    GM_MUT_RESET = 3   /* a timeout found nothing due: put the deadline index back */
};

/* What a seat looks like to a role: GAME_X / GAME_O seats, or a spectator. */
enum { GM_ROLE_X = GAME_X, GM_ROLE_O = GAME_O, GM_ROLE_WATCH = 3 };

typedef struct gm_ctx {
    int64_t now;               /* ms since the epoch */
    int64_t abandon_ms;        /* a seat away this long loses the game */
    int64_t wait_ms;           /* a game waiting this long for its O ends */
    uint32_t self;             /* this instance's store id, 0 until known */
    uint8_t held;              /* the seat the asking connection holds here, 0 none */
    uint8_t conn_open;         /* the asking connection is still there */
    uint32_t nlocal[2];        /* local connections holding X / O */
} gm_ctx;

/* ---- the request's arguments, one variant per kind of operation ---- */

/* taking a seat: create, quick, join, resume, claim, and a rematch's new game */
typedef struct gm_seat_args {
    uint8_t mark;              /* the seat acted for (resume: found, 0 before) */
    uint8_t level;             /* game_ai_level, for a game against the computer */
    uint8_t vs_computer;
    char token[TOKEN_LEN + 1]; /* handed out (or, for resume, checked) */
    uint8_t hash[TOKEN_HASH_LEN];
    char name[STORE_NAME_MAX + 1]; /* the player's name as proto checked it, "" none */
} gm_seat_args;

typedef struct gm_move_args {
    uint8_t mark;
    int cell;
    int ply;                   /* the ply the client saw, -1 when not given */
} gm_move_args;

/* a rematch, in three steps: ask (on the old game), create the new game,
 * link the old game to it */
typedef struct gm_rematch_args {
    gm_seat_args seat;         /* mark: the seat in the old game; token: the new seat's */
    store_game old_game;       /* from the ask, for the create step */
    store_game new_game;       /* from the create step, for the link */
} gm_rematch_args;

typedef enum gm_args_tag {
    GM_ARGS_NONE = 0,          /* list, watch, probe, timeout */
    GM_ARGS_SEAT,
    GM_ARGS_MOVE,
    GM_ARGS_MARK,              /* resign, leave, present, the computer's move */
    GM_ARGS_ORPHAN,
    GM_ARGS_REMATCH
} gm_args_tag;

typedef struct gm_args {
    gm_args_tag tag;
    union {
        gm_seat_args seat;
        gm_move_args move;
        uint8_t mark;
        uint32_t instance;     /* orphan: the process that died */
        gm_rematch_args rematch;
    } u;
} gm_args;

/* ---- seats, holders, deadlines, views ---- */

/* PROTO_SEAT_OPEN / CONNECTED / AWAY for seat i (0 = X). */
uint8_t gm_seat_view(const store_game *r, int i);
/* 1 when a player would see no difference between a and b: board, outcome,
 * who is present. */
int gm_visible_equal(const store_game *a, const store_game *b);
/* 1 when b differs from a by rematch bookkeeping only (an ask, a link):
 * nothing a state frame shows. */
int gm_rematch_only(const store_game *a, const store_game *b);
/* Add / remove instance inst as a holder of s; 1 when s changed. A full
 * list drops its oldest holder, the likeliest to be gone. */
int gm_holder_add(store_seat *s, uint32_t inst);
int gm_holder_del(store_seat *s, uint32_t inst);
/* 1 when inst holds s. */
int gm_holder_has(const store_seat *s, uint32_t inst);
/* s becomes a seat held by inst for the token whose digest is hash. */
void gm_seat_claim(store_seat *s, const uint8_t hash[TOKEN_HASH_LEN], uint32_t inst);
/* The next moment a timeout could end r, 0 for never. */
int64_t gm_deadline_of(const gm_ctx *cx, const store_game *r);
/* "X wins (resign)", "draw", ... for the log. */
const char *gm_result_text(const store_game *r, char *buf, size_t len);
/* Before a save of next (read as cur): stamp the time and the next
 * deadline. Returns 1 when this save ends the game. */
int gm_rules_stamp(const gm_ctx *cx, const store_game *cur, store_game *next);
/* The series a state of r shows: r->series, plus r itself once it is over
 * (games, wins of this game's X player, of its O player, draws; counts stop
 * at UINT32_MAX rather than wrap). */
void gm_series_of(const store_game *r, uint32_t out[4]);
/* The name a state shows for seat i: NULL for an open seat or none given,
 * the computer's by its level. */
const char *gm_name_view(const store_game *r, int i);
/* The mark whose turn it is when the computer holds that seat, else 0. */
uint8_t gm_computer_to_move(const store_game *r);

/* ---- new records ---- */

/* A new game with seat `mark` held by this instance for a->hash. */
void gm_rules_new_game(const gm_ctx *cx, const gm_seat_args *a, uint8_t mark, uint8_t kind,
                       int waiting, store_game *out);
/* "create": X is the caller, O open (or the computer's). */
void gm_rules_create(const gm_ctx *cx, const gm_seat_args *a, store_game *out);
/* "quick": the game opened when nobody is waiting. */
void gm_rules_quick_game(const gm_ctx *cx, const gm_seat_args *a, store_game *out);
/* The game that follows old: the caller (a->mark in old) swaps marks, the
 * other seat is the computer's (which moves first when it is X now) or
 * reserved, away, for the opponent. Names: the caller's a->name, else the
 * old one; the opponent's, the one it asked the rematch with. The series
 * carries on from old's, swapped with the marks. */
void gm_rules_rematch_game(const gm_ctx *cx, const gm_seat_args *a, const store_game *old,
                           uint64_t *rng, store_game *out);

/* ---- mutators ---- */

int gm_rule_join(const gm_ctx *cx, const gm_seat_args *a, store_game *rec);
/* matchmaking's join: a game whose creator left while queued is ended
 * instead (*stale = 1), and the caller looks again */
int gm_rule_quick_join(const gm_ctx *cx, const gm_seat_args *a, store_game *rec, uint8_t *stale);
/* sets *mark to the seat the token opens */
int gm_rule_resume(const gm_ctx *cx, const gm_seat_args *a, store_game *rec, uint8_t *mark);
int gm_rule_watch(const gm_ctx *cx, store_game *rec);
/* a move is stamped with its time in rec->times (never decreasing) */
int gm_rule_move(const gm_ctx *cx, const gm_move_args *a, store_game *rec);
int gm_rule_resign(const gm_ctx *cx, uint8_t mark, store_game *rec);
/* a connection that holds no seat in the game */
int gm_rule_probe(const gm_ctx *cx, store_game *rec);
int gm_rule_computer(const gm_ctx *cx, uint64_t *rng, store_game *rec);
/* this instance no longer holds seat `mark` */
int gm_rule_leave(const gm_ctx *cx, uint8_t mark, store_game *rec);
/* instance died: its seats become away */
int gm_rule_orphan(const gm_ctx *cx, uint32_t instance, store_game *rec);
/* this instance holds seat `mark`: make sure the record says so */
int gm_rule_present(const gm_ctx *cx, uint8_t mark, store_game *rec);
int gm_rule_timeout(const gm_ctx *cx, store_game *rec);
/* take one's reserved seat a->mark in a rematch */
int gm_rule_claim(const gm_ctx *cx, const gm_seat_args *a, store_game *rec);
/* ask for a rematch with name ("" keeps the name of this game); *start = 1
 * when the other side already has (or is the computer): the new game
 * follows, nothing is saved here */
int gm_rule_rematch(const gm_ctx *cx, uint8_t mark, const char *name, store_game *rec,
                    uint8_t *start);
/* link the old game to its rematch; the first link wins */
int gm_rule_link(const gm_ctx *cx, int64_t new_id, store_game *rec);

#endif
