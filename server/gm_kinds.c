/* gm_kinds.c -- the operation kinds (see gm_kinds.h).
 *
 * A kind's mutate builds the rules' context from the op (the time, this
 * instance, the seat the connection holds, the local holders) and calls
 * one pure function of gm_rules.c; its done answers the client and moves
 * members. Requests that take several steps are chains of ops:
 *   quick:   quick (store matchmaking) -> quick-join, or back to quick when
 *            the game handed to us was stale or refused us;
 *   rematch: rematch (the ask) -> rematch-new (create the game) -> link
 *            (the old game names the new one; the first link wins).
 * The computer's reply to a move is an op of its own, started by the
 * move's done. */
#include "gm_kinds.h"

#include <assert.h>
#include <inttypes.h>
#include <string.h>
#include <utlist.h>

#include "gm_room.h"
#include "log.h"

_Static_assert(sizeof(gm_args) <= GM_OP_CACHE_ARGS,
               "a request's arguments no longer fit the op cache (gm_op.h)");

gm_args *gm_op_args(gm_op *op)
{
    assert(op->args_len == sizeof(gm_args));
    return (gm_args *)op->args;
}

/* The op's arguments, which must be the variant its kind is started with. */
static gm_args *args_as(gm_op *op, gm_args_tag tag)
{
    gm_args *a = gm_op_args(op);
    assert(a->tag == tag);
    (void)tag;   /* unused once NDEBUG removes the assert (release build) */
    return a;
}

int gm_seat_args_token(gm_seat_args *a)
{
    if (token_new(a->token) != 0)
        return -1;
    token_hash(a->token, TOKEN_LEN, a->hash);
    return 0;
}

/* The rules' view of the op: the time, this instance, the seat this
 * connection holds in the op's game and the local holders of each seat. */
static gm_ctx ctx_of(gm_op *op)
{
    gm *g = op->gm;
    gm_ctx cx = {.now = gm_now(g), .abandon_ms = g->opt.abandon_ms, .wait_ms = g->opt.wait_ms,
                 .self = store_instance(g->st), .conn_open = op->conn && op->conn->ud};
    if (op->room) {
        cx.nlocal[0] = op->room->nlocal[0];
        cx.nlocal[1] = op->room->nlocal[1];
        gm_member *m = op->conn ? gm_member_find(op->conn, op->room) : NULL;
        cx.held = m && m->role != GM_ROLE_WATCH ? m->role : 0;
    }
    return cx;
}

static gm_seat_args *seat_of(gm_op *op)
{
    gm_args *a = gm_op_args(op);
    assert(a->tag == GM_ARGS_SEAT || a->tag == GM_ARGS_REMATCH);
    return a->tag == GM_ARGS_REMATCH ? &a->u.rematch.seat : &a->u.seat;
}

int gm_op_stamp(gm *g, const store_game *cur, store_game *next)
{
    gm_ctx cx = {.now = gm_now(g), .abandon_ms = g->opt.abandon_ms, .wait_ms = g->opt.wait_ms};
    return gm_rules_stamp(&cx, cur, next);
}

void gm_op_ended(gm *g, const store_game *rec)
{
    char buf[64];
    g->stats.games_finished++;
    if (rec->st.result < 5)
        g->stats.finished_by_result[rec->st.result]++;
    log_info("game %" PRId64 " over after %u moves: %s", rec->id, rec->st.ply,
             gm_result_text(rec, buf, sizeof buf));
}

/* ---- taking a seat ----------------------------------------------------------------- */

static void send_joined(gm *g, gm_op *op, int64_t game_id, uint8_t mark)
{
    size_t len = 0;
    gm_send_block(g, op->conn, proto_encode_joined(&op->reqid, game_id, (game_mark)mark,
                                                    seat_of(op)->token, MSG_HEADROOM, &len),
                  &len);
}

/* the op's connection sits down in room as mark, and hears of it */
static void done_seat(gm_op *op, gm_room *room, uint8_t mark)
{
    gm *g = op->gm;
    gm_member *m = gm_member_add(g, op->conn, room, mark);
    if (!m)
        return;
    send_joined(g, op, room->id, mark);
    gm_member_catch_up(g, m);
    store_game cur;
    if (gm_room_rec(room, &cur) == 0)
        gm_start_computer(g, room, &cur);
}

static int mut_join(gm_op *op, store_game *rec)
{
    gm_ctx cx = ctx_of(op);
    return gm_rule_join(&cx, seat_of(op), rec);
}

static void done_join(gm_op *op, const store_game *rec)
{
    (void)rec;
    log_debug("game %" PRId64 ": O joined", op->game_id);
    done_seat(op, op->room, GM_ROLE_O);
}

const gm_op_kind gm_kind_join = {"join", NULL, mut_join, done_join, NULL, 1};

static int mut_resume(gm_op *op, store_game *rec)
{
    gm_ctx cx = ctx_of(op);
    gm_seat_args *a = seat_of(op);
    return gm_rule_resume(&cx, a, rec, &a->mark);
}

static void done_resume(gm_op *op, const store_game *rec)
{
    (void)rec;
    uint8_t mark = seat_of(op)->mark;
    log_debug("game %" PRId64 ": %c resumed", op->game_id, game_mark_char((game_mark)mark));
    done_seat(op, op->room, mark);
}

const gm_op_kind gm_kind_resume = {"resume", NULL, mut_resume, done_resume, NULL, 1};

/* claim: take one's seat in a rematch another player (or process) created */
static int mut_claim(gm_op *op, store_game *rec)
{
    gm_ctx cx = ctx_of(op);
    return gm_rule_claim(&cx, seat_of(op), rec);
}

static void done_claim(gm_op *op, const store_game *rec)
{
    (void)rec;
    done_seat(op, op->room, seat_of(op)->mark);
}

static const gm_op_kind kind_claim = {"claim", NULL, mut_claim, done_claim, NULL, 1};

void gm_start_claim(gm *g, gm_conn *c, int64_t game_id, uint8_t mark)
{
    if (!c || !c->ud)
        return;
    gm_args a = {.tag = GM_ARGS_SEAT, .u.seat.mark = mark};
    gm_op *op = gm_op_new(g, &kind_claim, c, game_id, &a, sizeof a);
    if (!op)
        return;
    if (gm_seat_args_token(seat_of(op)) != 0) {
        gm_op_finish(op);
        return;
    }
    gm_op_start(op);
}

/* ---- create, quick and list: steps with a store call of their own ------------------- */

static void done_created(gm_op *op, const store_game *rec)
{
    gm *g = op->gm;
    const gm_seat_args *a = seat_of(op);
    g->stats.games_created++;
    log_info("game %" PRId64 " created (%s%s)", rec->id,
             a->vs_computer ? "vs computer, " : rec->kind == STORE_KIND_QUICK ? "quick" : "vs human",
             a->vs_computer ? (a->level == GAME_AI_EASY ? "easy" : "perfect") : "");
    op->room = gm_room_adopt(g, rec->id);
    if (!op->room)
        return;
    op->room->refs++;
    gm_room_advance(g, op->room, rec);
    done_seat(op, op->room, GM_ROLE_X);
}

static void on_created(void *ud, int status, const store_game *rec)
{
    gm_op *op = ud;
    if (status != STORE_OK) {
        if (!gm_op_unknown(op, status))
            gm_op_fail(op, PROTO_EUNAVAILABLE);
        return;
    }
    done_created(op, rec);
    gm_op_finish(op);
}

static void begin_create(gm_op *op)
{
    gm_ctx cx = ctx_of(op);
    store_game t;
    gm_rules_create(&cx, seat_of(op), &t);
    store_game_create(op->gm->st, &t, on_created, op);
}

const gm_op_kind gm_kind_create = {"create", begin_create, NULL, NULL, NULL, 0};

static const gm_op_kind kind_quick_join;

static void on_quick(void *ud, int status, const store_game *rec)
{
    gm_op *op = ud;
    if (status != STORE_OK) {
        if (!gm_op_unknown(op, status))
            gm_op_fail(op, PROTO_EUNAVAILABLE);
        return;
    }
    if (token_hash_equal(rec->seat[0].token_hash, seat_of(op)->hash) && rec->version == 1) {
        done_created(op, rec);   /* nobody waiting: we opened a game */
        gm_op_finish(op);
        return;
    }
    gm_op *join = gm_op_chain(op, &kind_quick_join, 0);
    if (!join) {
        gm_op_fail(op, PROTO_EUNAVAILABLE);
        return;
    }
    join->game_id = rec->id;
    gm_op_start(join);
    gm_op_finish(op);
}

static void begin_quick(gm_op *op)
{
    gm_ctx cx = ctx_of(op);
    store_game t;
    gm_rules_quick_game(&cx, seat_of(op), &t);
    store_game_quick(op->gm->st, &t, on_quick, op);
}

const gm_op_kind gm_kind_quick = {"quick", begin_quick, NULL, NULL, NULL, 0};

/* look again: a new matchmaking step carrying the request on */
static int quick_again(gm_op *op, uint8_t tries)
{
    gm_op *again = gm_op_chain(op, &gm_kind_quick, 0);
    if (!again)
        return -1;
    again->tries = tries;
    gm_op_start(again);
    return 0;
}

static int mut_quick_join(gm_op *op, store_game *rec)
{
    gm_ctx cx = ctx_of(op);
    return gm_rule_quick_join(&cx, seat_of(op), rec, &op->note);
}

static void done_quick_join(gm_op *op, const store_game *rec)
{
    if (!op->note)
        done_join(op, rec);
    else
        quick_again(op, (uint8_t)(op->tries + 1));   /* we ended a stale game */
}

/* refused (full, over, gone): try the next candidate, a few times */
static int quick_failed(gm_op *op, proto_err e)
{
    if (e == PROTO_EUNAVAILABLE || ++op->tries >= GM_QUICK_TRIES)
        return 0;
    return quick_again(op, op->tries) == 0;
}

static const gm_op_kind kind_quick_join = {"quick", NULL, mut_quick_join, done_quick_join,
                                           quick_failed, 1};

static void on_listed(void *ud, int status, const store_open_game *games, size_t n)
{
    gm_op *op = ud;
    if (status != STORE_OK) {
        gm_op_fail(op, PROTO_EUNAVAILABLE);
        return;
    }
    proto_game_entry stack[GM_LIST_MAX];
    const char *names[GM_LIST_MAX];
    int64_t now = gm_now(op->gm);
    if (n > GM_LIST_MAX)
        n = GM_LIST_MAX;
    for (size_t i = 0; i < n; i++) {
        stack[i].game_id = games[i].id;
        names[i] = games[i].name;   /* proto sends "" (or a name breaking the rule) as null */
        int64_t age = (now - games[i].created_ms) / 1000;
        stack[i].age_s = age < 0 ? 0 : age;
    }
    size_t len = 0;
    gm_send_block(op->gm, op->conn,
                  proto_encode_games_named(&op->reqid, stack, names, n, MSG_HEADROOM, &len), &len);
    gm_op_finish(op);
}

static void begin_list(gm_op *op)
{
    store_open_list(op->gm->st, GM_LIST_MAX, on_listed, op);
}

const gm_op_kind gm_kind_list = {"list", begin_list, NULL, NULL, NULL, 0};

/* ---- watching and playing ----------------------------------------------------------- */

static int mut_watch(gm_op *op, store_game *rec)
{
    gm_ctx cx = ctx_of(op);
    return gm_rule_watch(&cx, rec);
}

static void done_watch(gm_op *op, const store_game *rec)
{
    (void)rec;
    gm *g = op->gm;
    gm_member *m = gm_member_add(g, op->conn, op->room, GM_ROLE_WATCH);
    if (!m)
        return;
    size_t len = 0;
    gm_send_block(g, op->conn, proto_encode_watching(&op->reqid, op->game_id, MSG_HEADROOM, &len),
                  &len);
    /* a player who also asks to watch already gets every state: re-send the newest */
    if (m->role != GM_ROLE_WATCH)
        m->last_version = 0;
    gm_member_catch_up(g, m);
}

const gm_op_kind gm_kind_watch = {"watch", NULL, mut_watch, done_watch, NULL, 1};

static int mut_move(gm_op *op, store_game *rec)
{
    gm_ctx cx = ctx_of(op);
    return gm_rule_move(&cx, &args_as(op, GM_ARGS_MOVE)->u.move, rec);
}

static void done_move(gm_op *op, const store_game *rec)
{
    op->gm->stats.moves++;
    if (op->room)
        gm_start_computer(op->gm, op->room, rec);
}

const gm_op_kind gm_kind_move = {"move", NULL, mut_move, done_move, NULL, 1};

static int mut_resign(gm_op *op, store_game *rec)
{
    gm_ctx cx = ctx_of(op);
    return gm_rule_resign(&cx, args_as(op, GM_ARGS_MARK)->u.mark, rec);
}

const gm_op_kind gm_kind_resign = {"resign", NULL, mut_resign, NULL, NULL, 1};

static int mut_probe(gm_op *op, store_game *rec)
{
    gm_ctx cx = ctx_of(op);
    return gm_rule_probe(&cx, rec);
}

const gm_op_kind gm_kind_probe = {"probe", NULL, mut_probe, NULL, NULL, 0};

static int mut_computer(gm_op *op, store_game *rec)
{
    gm_ctx cx = ctx_of(op);
    return gm_rule_computer(&cx, &op->gm->rng, rec);
}

static void done_computer(gm_op *op, const store_game *rec)
{
    (void)rec;
    op->gm->stats.moves++;
}

static const gm_op_kind kind_computer = {"computer", NULL, mut_computer, done_computer, NULL, 0};

/* one of the process' own ops, acting for seat `mark` of room */
static void start_for_seat(gm *g, const gm_op_kind *k, gm_room *room, uint8_t mark)
{
    gm_args a = {.tag = GM_ARGS_MARK, .u.mark = mark};
    gm_op_start_own(g, k, room, &a, sizeof a);
}

void gm_start_computer(gm *g, gm_room *room, const store_game *rec)
{
    uint8_t turn = gm_computer_to_move(rec);
    if (turn)
        start_for_seat(g, &kind_computer, room, turn);
}

/* ---- presence and time ---------------------------------------------------------------- */

/* a seat's presence: the last local connection left it, or we hold it again */
static const gm_op_kind kind_leave, kind_present;

static int mut_presence(gm_op *op, store_game *rec)
{
    gm_ctx cx = ctx_of(op);
    uint8_t mark = args_as(op, GM_ARGS_MARK)->u.mark;
    return op->kind == &kind_leave ? gm_rule_leave(&cx, mark, rec)
                                   : gm_rule_present(&cx, mark, rec);
}

static const gm_op_kind kind_leave = {"leave", NULL, mut_presence, NULL, NULL, 0};
static const gm_op_kind kind_present = {"present", NULL, mut_presence, NULL, NULL, 0};

void gm_start_leave(gm *g, gm_room *room, uint8_t mark)
{
    start_for_seat(g, &kind_leave, room, mark);
}

void gm_start_present(gm *g, gm_room *room, uint8_t mark)
{
    start_for_seat(g, &kind_present, room, mark);
}

static int mut_orphan(gm_op *op, store_game *rec)
{
    gm_ctx cx = ctx_of(op);
    return gm_rule_orphan(&cx, args_as(op, GM_ARGS_ORPHAN)->u.instance, rec);
}

const gm_op_kind gm_kind_orphan = {"orphan", NULL, mut_orphan, NULL, NULL, 0};

static int mut_timeout(gm_op *op, store_game *rec)
{
    gm_ctx cx = ctx_of(op);
    return gm_rule_timeout(&cx, rec);
}

const gm_op_kind gm_kind_timeout = {"timeout", NULL, mut_timeout, NULL, NULL, 0};

/* ---- rematch: ask -> create the new game -> link ------------------------------------- */

static const gm_op_kind kind_rematch_new, kind_link;

static int mut_rematch(gm_op *op, store_game *rec)
{
    gm_ctx cx = ctx_of(op);
    return gm_rule_rematch(&cx, seat_of(op)->mark, seat_of(op)->name, rec, &op->note);
}

/* both asked (or the other side is the computer): the new game follows */
static void done_rematch(gm_op *op, const store_game *rec)
{
    if (!op->note)
        return;
    gm_op *next = gm_op_chain(op, &kind_rematch_new, 1);
    if (!next)
        return;
    args_as(next, GM_ARGS_REMATCH)->u.rematch.old_game = *rec;
    gm_op_start(next);
}

const gm_op_kind gm_kind_rematch = {"rematch", NULL, mut_rematch, done_rematch, NULL, 1};

static void on_rematch_created(void *ud, int status, const store_game *rec)
{
    gm_op *op = ud;
    if (status != STORE_OK) {
        if (!gm_op_unknown(op, status))
            gm_op_fail(op, PROTO_EUNAVAILABLE);
        return;
    }
    op->gm->stats.games_created++;
    /* the new game's room, subscribed before the game existed: the
     * opponent's claim, which the link below sets off, cannot be missed */
    gm_room *nr = gm_room_adopt(op->gm, rec->id);
    if (!nr) {
        gm_op_fail(op, PROTO_EUNAVAILABLE);
        return;
    }
    nr->refs++;
    gm_op *link = gm_op_chain(op, &kind_link, 1);
    if (!link) {
        gm_room_release(op->gm, nr);
        gm_op_fail(op, PROTO_EUNAVAILABLE);
        return;
    }
    link->aux = nr;   /* the link's ref now */
    args_as(link, GM_ARGS_REMATCH)->u.rematch.new_game = *rec;
    link->tries = 0;
    gm_op_finish(op);
    gm_op_apply_room(link);
}

static void begin_rematch_new(gm_op *op)
{
    gm_rematch_args *a = &args_as(op, GM_ARGS_REMATCH)->u.rematch;
    if (gm_seat_args_token(&a->seat) != 0) {
        gm_op_finish(op);   /* as if never asked: the client may ask again */
        return;
    }
    gm_ctx cx = ctx_of(op);
    store_game t;
    gm_rules_rematch_game(&cx, &a->seat, &a->old_game, &op->gm->rng, &t);
    store_game_create(op->gm->st, &t, on_rematch_created, op);
}

static const gm_op_kind kind_rematch_new = {"rematch", begin_rematch_new, NULL, NULL, NULL, 0};

static int mut_link(gm_op *op, store_game *rec)
{
    gm_ctx cx = ctx_of(op);
    return gm_rule_link(&cx, args_as(op, GM_ARGS_REMATCH)->u.rematch.new_game.id, rec);
}

static void done_link(gm_op *op, const store_game *rec)
{
    gm *g = op->gm;
    const gm_rematch_args *a = &args_as(op, GM_ARGS_REMATCH)->u.rematch;
    gm_room *nr = op->aux;   /* released with the op */
    if (!nr)
        return;
    gm_room_advance(g, nr, &a->new_game);
    uint8_t mark = (uint8_t)game_mark_other((game_mark)a->seat.mark);
    int opp = 2 - a->seat.mark;   /* the opponent's seat index in the old game */
    log_info("game %" PRId64 ": rematch is game %" PRId64, op->game_id, a->new_game.id);
    gm_member *m = gm_member_add(g, op->conn, nr, mark);
    if (m) {
        send_joined(g, op, nr->id, mark);
        /* An opponent who is connected somewhere takes the other seat within
         * moments, and that save is the game's first state for both of us:
         * one state each, as the contract asks, rather than one showing the
         * seat away and a second showing it taken. An absent opponent (or the
         * computer) claims nothing, so the state goes out now. */
        if (!rec->seat[opp].computer && rec->seat[opp].nholders > 0)
            m->last_version = nr->rec_version;
        else
            gm_member_catch_up(g, m);
        store_game cur;
        if (gm_room_rec(nr, &cur) == 0)
            gm_start_computer(g, nr, &cur);
    }
}

static const gm_op_kind kind_link = {"rematch", NULL, mut_link, done_link, NULL, 1};
