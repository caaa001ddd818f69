/* gm.c -- the game manager's public face (see gm.h): requests in and their
 * dispatch to an operation kind, connections, the HTTP view, store events,
 * the timeout tick, start-up and shutdown.
 *
 * The rest lives in files of one concern each: gm_rules.c decides (pure),
 * gm_op.c runs the compare-and-save engine, gm_kinds.c holds the kinds of
 * change, gm_room.c the rooms, members and fan-out. Timers and the clock
 * come from main through gm_clock, so nothing here includes libuv. */
#include "gm.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gm_kinds.h"
#include "gm_room.h"
#include "log.h"

/* ---- the request entry point ------------------------------------------------------------------ */

/* The kind for req and its arguments in *a. A move, resign or rematch acts
 * for the seat c holds, and is a probe (not_in_game) without one. NULL for
 * a type that has no kind. */
static const gm_op_kind *request_kind(gm_conn *c, const proto_req *req, gm_args *a)
{
    memset(a, 0, sizeof(*a));
    switch (req->type) {
    case PROTO_CREATE:
    case PROTO_QUICK:
    case PROTO_JOIN:
        a->tag = GM_ARGS_SEAT;
        a->u.seat.level = req->level;
        a->u.seat.vs_computer = req->vs_computer;
        memcpy(a->u.seat.name, req->name, sizeof(a->u.seat.name));
        return req->type == PROTO_CREATE ? &gm_kind_create
               : req->type == PROTO_QUICK ? &gm_kind_quick : &gm_kind_join;
    case PROTO_RESUME:
        a->tag = GM_ARGS_SEAT;
        memcpy(a->u.seat.token, req->token, sizeof(a->u.seat.token));
        if (req->token_len == TOKEN_LEN)
            token_hash(req->token, TOKEN_LEN, a->u.seat.hash);
        else
            memset(a->u.seat.hash, 0xff, sizeof(a->u.seat.hash));   /* matches no seat: bad_token */
        return &gm_kind_resume;
    case PROTO_LIST:
        return &gm_kind_list;
    case PROTO_WATCH:
        return &gm_kind_watch;
    case PROTO_MOVE:
    case PROTO_RESIGN:
    case PROTO_REMATCH: {
        gm_member *seat = gm_member_seat(c, req->game_id);
        if (!seat)
            return &gm_kind_probe;
        if (req->type == PROTO_MOVE) {
            a->tag = GM_ARGS_MOVE;
            a->u.move = (gm_move_args){.mark = seat->role, .cell = req->cell, .ply = req->ply};
            return &gm_kind_move;
        }
        if (req->type == PROTO_RESIGN) {
            a->tag = GM_ARGS_MARK;
            a->u.mark = seat->role;
            return &gm_kind_resign;
        }
        a->tag = GM_ARGS_REMATCH;
        a->u.rematch.seat.mark = seat->role;
        memcpy(a->u.rematch.seat.name, req->name, sizeof(a->u.rematch.seat.name));
        return &gm_kind_rematch;
    }
    default:
        return NULL;
    }
}

void gm_request(gm *g, gm_conn *c, const proto_req *req)
{
    g->stats.requests++;
    if (req->type == PROTO_PING) {
        size_t len = 0;
        gm_send_block(g, c, proto_encode_pong(&req->id, MSG_HEADROOM, &len), &len);
        return;
    }
    if (g->detached || !g->st || !store_is_up(g->st) || !store_instance(g->st)) {
        gm_reply_error(g, c, &req->id, PROTO_EUNAVAILABLE, NULL);
        return;
    }
    gm_args a;
    const gm_op_kind *k = request_kind(c, req, &a);
    if (!k)
        return;   /* every type the parser accepts has a kind */
    gm_op *op = gm_op_new(g, k, c, req->game_id, &a, sizeof a);
    if (!op) {
        gm_reply_error(g, c, &req->id, PROTO_EUNAVAILABLE, "out of memory");
        return;
    }
    op->reqid = req->id;
    /* the network layer's caps count requests in flight, so a burst of
     * watches cannot slip past them before the first one completes */
    if (req->type == PROTO_WATCH)
        op->counted = GM_COUNT_WATCH;
    else if (req->type == PROTO_QUICK || (req->type == PROTO_CREATE && !req->vs_computer))
        op->counted = GM_COUNT_WAIT;
    gm_conn_count(c, op->counted);
    /* a seat handed out needs its token */
    if (req->type != PROTO_RESUME && a.tag == GM_ARGS_SEAT &&
        gm_seat_args_token(&gm_op_args(op)->u.seat) != 0) {
        gm_op_fail(op, PROTO_EUNAVAILABLE);
        return;
    }
    gm_op_start(op);
}

/* ---- connections -------------------------------------------------------------------------- */

gm_conn *gm_conn_open(gm *g, void *conn_ud)
{
    (void)g;
    gm_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->ud = conn_ud;
    c->refs = 1;
    return c;
}

int gm_conn_busy(const gm_conn *c)
{
    return c->refs > 1;
}

void gm_conn_holdings(const gm_conn *c, unsigned *watching, unsigned *waiting)
{
    unsigned w = c->pend_watch, s = c->pend_wait;
    for (const gm_member *m = c->members; m; m = m->conn_next) {
        if (m->role == GM_ROLE_WATCH)
            w++;
        else if (m->room->have_rec && m->room->rec_status == GAME_WAITING)
            s++;
    }
    *watching = w;
    *waiting = s;
}

void gm_conn_close(gm *g, gm_conn *c)
{
    c->ud = NULL;
    while (c->members)
        gm_member_remove(g, c->members, NULL);
    gm_conn_release(c);
}

/* ---- the HTTP view ---------------------------------------------------------------------------- */

typedef struct state_ctx {
    gm_state_cb *cb;
    void *ud;
} state_ctx;

static void on_state_loaded(void *ud, int status, const store_game *rec)
{
    state_ctx *sc = ud;
    msg *m = status == STORE_OK ? gm_state_msg(rec) : NULL;
    sc->cb(sc->ud, status, m);
    free(sc);
}

void gm_game_state(gm *g, int64_t id, gm_state_cb *cb, void *ud)
{
    state_ctx *sc = malloc(sizeof(*sc));
    if (!sc || !g->st || g->detached) {
        free(sc);
        cb(ud, STORE_EUNAVAIL, NULL);
        return;
    }
    sc->cb = cb;
    sc->ud = ud;
    store_game_load(g->st, id, on_state_loaded, sc);
}

/* ---- store events and the timeout tick ------------------------------------------------------------ */

static void on_published(void *ud, const store_game *rec)
{
    gm *g = ud;
    gm_room *r = gm_room_find(g, rec->id);
    if (r)
        gm_room_advance(g, r, rec);
}

static void on_health(void *ud, int up)
{
    gm *g = ud;
    if (!up) {
        log_warn("store unreachable: requests get \"unavailable\" until it returns");
        return;
    }
    log_info("store reachable (instance %u)", g->st ? store_instance(g->st) : 0);
    if (!g->st || g->detached)
        return;
    /* saves made while we could not listen were missed: catch every room up,
     * and make sure the seats we hold still list us (a survivor may have
     * taken us for dead meanwhile) */
    gm_rooms_store_up(g);
}

static void on_orphaned(void *ud, uint32_t instance, const int64_t *ids, size_t n)
{
    gm *g = ud;
    /* either it died (silent for a while), or it closed while its players
     * still sat there (a drain leaves their seats to a survivor) */
    log_info("instance %u is gone: its seats in %zu games become away", instance, n);
    gm_args a = {.tag = GM_ARGS_ORPHAN, .u.instance = instance};
    for (size_t i = 0; i < n && !g->detached; i++) {
        gm_op *op = gm_op_new(g, &gm_kind_orphan, NULL, ids[i], &a, sizeof a);
        if (!op)
            return;
        gm_op_start(op);
    }
}

/* The store lost its data: every game we hold a room for is gone. */
static void on_lost(void *ud)
{
    gm *g = ud;
    log_error("store lost its data: dropping %u rooms; their players get no_such_game",
              HASH_COUNT(g->rooms));
    gm_rooms_lost(g);
}

static void on_claimed(void *ud, int status, const int64_t *ids, size_t n)
{
    gm *g = ud;
    g->claiming = 0;
    if (status == STORE_OK && !g->detached) {
        gm_args a = {.tag = GM_ARGS_NONE};
        for (size_t i = 0; i < n; i++) {
            gm_op *op = gm_op_new(g, &gm_kind_timeout, NULL, ids[i], &a, sizeof a);
            if (!op)
                break;
            gm_op_start(op);
        }
    }
    gm_maybe_stopped(g);
}

static void on_tick(void *arg)
{
    gm *g = arg;
    gm_rooms_ahead_tick(g);
    if (g->stopping || g->claiming || !g->st || !store_is_up(g->st))
        return;
    g->claiming = 1;
    store_claim_due(g->st, gm_now(g), GM_LEASE_MS, GM_CLAIM_MAX, on_claimed, g);
}

store_events gm_store_events(gm *g)
{
    store_events ev = {.ud = g, .published = on_published, .health = on_health,
                       .orphaned = on_orphaned, .lost = on_lost};
    return ev;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

static void timer_stop(gm *g, void **t)
{
    if (*t) {
        g->clk.timer_stop(g->clk.ud, *t);
        *t = NULL;
    }
}

gm *gm_new(const gm_clock *clk, const gm_options *opt, const gm_io *io)
{
    gm *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->clk = *clk;
    g->opt = *opt;
    g->io = *io;
    g->rng = opt->seed ? opt->seed
                       : ((uint64_t)gm_now(g) * 0x9e3779b97f4a7c15ULL ^ ((uint64_t)getpid() << 32)) | 1;
    return g;
}

void gm_set_io(gm *g, const gm_io *io)
{
    g->io = *io;
}

void gm_set_store(gm *g, store *st)
{
    g->st = st;
    /* check deadlines 4 times per shortest timeout, between 50 ms and 1 s,
     * so a timeout fires at most a quarter late */
    int64_t shortest = g->opt.abandon_ms < g->opt.wait_ms ? g->opt.abandon_ms : g->opt.wait_ms;
    int64_t every = shortest / 4;
    if (every < 50)
        every = 50;
    if (every > 1000)
        every = 1000;
    timer_stop(g, &g->tick);
    g->tick = g->clk.timer_start(g->clk.ud, (uint64_t)every, (uint64_t)every, on_tick, g);
}

void gm_get_stats(const gm *g, gm_stats *out)
{
    *out = g->stats;
}

void gm_maybe_stopped(gm *g)
{
    if (g->stopping && g->inflight == 0 && !g->claiming && g->stop_done) {
        void (*done)(void *) = g->stop_done;
        g->stop_done = NULL;
        timer_stop(g, &g->stop_timer);
        done(g->stop_ud);
    }
}

static void on_stop_timeout(void *arg)
{
    gm *g = arg;
    if (g->stop_done) {
        void (*done)(void *) = g->stop_done;
        g->stop_done = NULL;
        log_warn("shutdown: %u requests still in flight, not waiting any longer", g->inflight);
        done(g->stop_ud);
    }
}

void gm_shutdown(gm *g, int64_t timeout_ms, void (*done)(void *ud), void *ud)
{
    g->stopping = 1;
    g->stop_done = done;
    g->stop_ud = ud;
    timer_stop(g, &g->tick);
    timer_stop(g, &g->stop_timer);
    g->stop_timer = g->clk.timer_start(g->clk.ud, (uint64_t)timeout_ms, 0, on_stop_timeout, g);
    gm_maybe_stopped(g);
}

void gm_free(gm *g)
{
    g->detached = 1;
    gm_rooms_free(g);
    timer_stop(g, &g->tick);
    timer_stop(g, &g->stop_timer);
    free(g);
}
