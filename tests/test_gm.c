/* test_gm.c -- the whole game manager without a socket: gm on the memory
 * store, a fake io that records what each connection would receive, and a
 * fake clock whose timers fire only when the test advances it.
 *
 * The memory store defers its completions to the next turn of a private uv
 * loop; drain() runs that loop until nothing is queued, so every test is
 * deterministic and takes milliseconds. Time never comes from the loop: the
 * manager reads the fake clock, and its tick fires from advance(). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "gm.h"
#include "log.h"
#include "msg.h"
#include "proto.h"
#include "store.h"

#define T0 1700000000000LL
#define ABANDON 3000
#define WAIT 6000

/* ---- the fake io: what each connection would receive ----------------------------- */

typedef struct fconn {
    gm_conn *c;
    int closed;
    proto_server_msg *msgs;
    int n, cap, seen;            /* seen: how far expect() has read */
} fconn;

static void io_send(void *ud, void *conn_ud, msg *m)
{
    (void)ud;
    fconn *fc = conn_ud;
    cr_assert_not(fc->closed, "nothing is sent to a closed connection");
    if (fc->n == fc->cap) {
        fc->cap = fc->cap ? fc->cap * 2 : 16;
        fc->msgs = realloc(fc->msgs, (size_t)fc->cap * sizeof(*fc->msgs));
        cr_assert_not_null(fc->msgs);
    }
    proto_server_msg *sm = &fc->msgs[fc->n++];
    cr_assert_eq(proto_parse_server((const char *)msg_data(m), m->len, sm), PROTO_OK,
                 "the manager sent well-formed JSON: %.*s", (int)m->len, msg_data(m));
}

/* ---- the fake clock --------------------------------------------------------------------- */

typedef struct ftimer {
    int active;
    int64_t due;
    uint64_t repeat;
    void (*cb)(void *arg);
    void *arg;
} ftimer;

static int64_t now = T0;
static ftimer timers[16];
static int ntimers, nstopped;

static int64_t clk_now(void *ud)
{
    (void)ud;
    return now;
}

static void *clk_start(void *ud, uint64_t after, uint64_t repeat, void (*cb)(void *), void *arg)
{
    (void)ud;
    cr_assert_lt(ntimers, 16);
    ftimer *t = &timers[ntimers++];
    *t = (ftimer){1, now + (int64_t)after, repeat, cb, arg};
    return t;
}

static void clk_stop(void *ud, void *timer)
{
    (void)ud;
    ((ftimer *)timer)->active = 0;
    nstopped++;
}

/* ---- the harness ------------------------------------------------------------------------ */

static uv_loop_t loop;
static store *st;
static gm *G;
static int64_t next_id = 1;

static void drain(void)
{
    uv_run(&loop, UV_RUN_DEFAULT);
}

/* Move the clock on by ms, firing each timer that falls due on the way, in
 * order, with the loop drained after each. */
static void advance(int64_t ms)
{
    int64_t end = now + ms;
    for (;;) {
        ftimer *first = NULL;
        for (int i = 0; i < ntimers; i++)
            if (timers[i].active && timers[i].due <= end && (!first || timers[i].due < first->due))
                first = &timers[i];
        if (!first)
            break;
        now = first->due;
        if (first->repeat)
            first->due += (int64_t)first->repeat;
        else
            first->active = 0;
        first->cb(first->arg);
        drain();
    }
    now = end;
    drain();
}

static void setup_with(int64_t abandon_ms, int64_t wait_ms)
{
    log_level = LOG_ERROR;   /* the manager's info lines are for operators */
    cr_assert_eq(uv_loop_init(&loop), 0);
    gm_clock clk = {.ud = NULL, .now_ms = clk_now, .timer_start = clk_start, .timer_stop = clk_stop};
    gm_options o = {.abandon_ms = abandon_ms, .wait_ms = wait_ms, .seed = 1};
    gm_io io = {.ud = NULL, .send = io_send};
    G = gm_new(&clk, &o, &io);
    cr_assert_not_null(G);
    store_events ev = gm_store_events(G);
    store_options so = {.instance_name = "test"};
    char err[128];
    st = store_open(&loop, &so, &ev, err, sizeof err);
    cr_assert_not_null(st, "%s", err);
    gm_set_store(G, st);
}

static void setup(void)
{
    setup_with(ABANDON, WAIT);
}

static int stopped, store_closed;
static fconn *stop_watch;        /* when set: how many messages it had at the stop */
static int msgs_at_stop = -1;

static void on_stopped(void *ud)
{
    (void)ud;
    stopped++;
    if (stop_watch)
        msgs_at_stop = stop_watch->n;
}

static void on_store_closed(void *ud) { (void)ud; store_closed++; }

/* main.c's order: manager drains, store closes, manager is freed. */
static void conns_free(void);

static void teardown(void)
{
    conns_free();   /* their seats say goodbye, as when a server drains */
    drain();
    gm_shutdown(G, 1000, on_stopped, NULL);
    drain();
    cr_assert_eq(stopped, 1, "shutdown completes once nothing is in flight");
    store_close(st, on_store_closed, NULL);
    drain();
    cr_assert_eq(store_closed, 1);
    gm_free(G);
    for (int i = 0; i < ntimers; i++)
        cr_assert_not(timers[i].active, "timer %d stopped", i);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

static fconn *conns[8];          /* every connection a test opened, freed by teardown */
static int nconns;

static fconn *conn_open(void)
{
    cr_assert_lt(nconns, 8);
    fconn *fc = calloc(1, sizeof(*fc));
    cr_assert_not_null(fc);
    fc->c = gm_conn_open(G, fc);
    cr_assert_not_null(fc->c);
    return conns[nconns++] = fc;
}

/* The connection leaves; its record of messages stays for the test. */
static void conn_close(fconn *fc)
{
    fc->closed = 1;
    gm_conn_close(G, fc->c);
}

static void conns_free(void)
{
    for (int i = 0; i < nconns; i++) {
        if (!conns[i]->closed)
            conn_close(conns[i]);
        free(conns[i]->msgs);
        free(conns[i]);
    }
    nconns = 0;
}

static void request(fconn *fc, proto_req r)
{
    r.id.kind = PROTO_ID_INT;
    r.id.num = next_id++;
    gm_request(G, fc->c, &r);
}

static void rq(fconn *fc, proto_type t, int64_t game_id)
{
    request(fc, (proto_req){.type = t, .game_id = game_id, .ply = -1});
}

static void rq_move(fconn *fc, int64_t game_id, int cell)
{
    request(fc, (proto_req){.type = PROTO_MOVE, .game_id = game_id, .cell = cell, .ply = -1});
}

static void rq_resume(fconn *fc, int64_t game_id, const char *token)
{
    proto_req r = {.type = PROTO_RESUME, .game_id = game_id, .ply = -1};
    r.token_len = (uint8_t)strlen(token);
    memcpy(r.token, token, r.token_len);
    request(fc, r);
}

/* The next message fc received, which must be of type t. */
static const proto_server_msg *expect(fconn *fc, proto_server_type t)
{
    cr_assert_lt(fc->seen, fc->n, "a message of type %d is there", t);
    const proto_server_msg *m = &fc->msgs[fc->seen++];
    cr_assert_eq(m->type, t, "message %d is of type %d, not %d", fc->seen - 1, m->type, t);
    return m;
}

static const proto_server_msg *expect_error(fconn *fc, proto_err e)
{
    const proto_server_msg *m = expect(fc, PROTO_S_ERROR);
    cr_assert_eq(m->code, e, "error %s, not %s", proto_err_name(m->code), proto_err_name(e));
    return m;
}

static void expect_none(fconn *fc)
{
    cr_assert_eq(fc->seen, fc->n, "no more messages (%d unread, first of type %d)",
                 fc->n - fc->seen, fc->seen < fc->n ? (int)fc->msgs[fc->seen].type : -1);
}

static gm_stats stats(void)
{
    gm_stats s;
    gm_get_stats(G, &s);
    return s;
}

/* X creates a game and O joins it; both have read everything. */
static int64_t start_game(fconn *x, fconn *o, char xtoken[], char otoken[])
{
    rq(x, PROTO_CREATE, 0);
    drain();
    const proto_server_msg *j = expect(x, PROTO_S_JOINED);
    int64_t id = j->game_id;
    cr_assert_eq(j->mark, GAME_X);
    if (xtoken)
        strcpy(xtoken, j->token);
    cr_assert_eq(expect(x, PROTO_S_STATE)->st.status, GAME_WAITING);
    rq(o, PROTO_JOIN, id);
    drain();
    j = expect(o, PROTO_S_JOINED);
    cr_assert_eq(j->mark, GAME_O);
    if (otoken)
        strcpy(otoken, j->token);
    cr_assert_eq(expect(o, PROTO_S_STATE)->st.status, GAME_PLAYING);
    cr_assert_eq(expect(x, PROTO_S_STATE)->st.status, GAME_PLAYING);
    return id;
}

TestSuite(gm, .init = setup, .fini = teardown);

/* ---- requests ---------------------------------------------------------------------------- */

Test(gm, ping_list_create_join, .description = "ping, create, list, join: replies and one state each")
{
    fconn *x = conn_open(), *o = conn_open();
    rq(x, PROTO_PING, 0);
    expect(x, PROTO_S_PONG);   /* no store round trip */
    rq(x, PROTO_CREATE, 0);
    drain();
    int64_t id = expect(x, PROTO_S_JOINED)->game_id;
    const proto_server_msg *s = expect(x, PROTO_S_STATE);
    cr_assert_eq(s->seat[0], PROTO_SEAT_CONNECTED);
    cr_assert_eq(s->seat[1], PROTO_SEAT_OPEN);
    advance(2000);
    rq(o, PROTO_LIST, 0);
    drain();
    const proto_server_msg *l = expect(o, PROTO_S_GAMES);
    cr_assert_eq(l->ngames, 1);
    cr_assert_eq(l->games[0].game_id, id);
    cr_assert_eq(l->games[0].age_s, 2, "age from the manager's clock");
    rq(o, PROTO_JOIN, id);
    drain();
    expect(o, PROTO_S_JOINED);
    s = expect(o, PROTO_S_STATE);
    cr_assert_eq(s->turn, GAME_X);
    cr_assert_eq(expect(x, PROTO_S_STATE)->seat[1], PROTO_SEAT_CONNECTED);
    expect_none(x);
    expect_none(o);
    cr_assert_eq(stats().games_created, 1);
    cr_assert_eq(stats().rooms, 1);
    cr_assert_eq(stats().members, 2);
}

Test(gm, moves_and_refusals, .description = "moves go to both; out of turn, taken, stale, not in game")
{
    fconn *x = conn_open(), *o = conn_open(), *z = conn_open();
    int64_t id = start_game(x, o, NULL, NULL);
    rq_move(x, id, 4);
    drain();
    cr_assert_eq(expect(x, PROTO_S_STATE)->st.ply, 1);
    cr_assert_eq(expect(o, PROTO_S_STATE)->turn, GAME_O);
    rq_move(x, id, 0);
    drain();
    expect_error(x, PROTO_ENOT_YOUR_TURN);
    rq_move(o, id, 4);
    drain();
    expect_error(o, PROTO_ECELL_TAKEN);
    request(o, (proto_req){.type = PROTO_MOVE, .game_id = id, .cell = 0, .ply = 0});
    drain();
    expect_error(o, PROTO_ESTALE);
    rq_move(z, id, 0);
    rq(z, PROTO_RESIGN, id);
    rq(z, PROTO_REMATCH, id);
    drain();
    expect_error(z, PROTO_ENOT_IN_GAME);
    expect_error(z, PROTO_ENOT_IN_GAME);
    expect_error(z, PROTO_ENOT_IN_GAME);
    rq(z, PROTO_JOIN, 99999);
    drain();
    expect_error(z, PROTO_ENO_SUCH_GAME);
    rq(z, PROTO_JOIN, id);
    drain();
    expect_error(z, PROTO_EGAME_FULL);
    expect_none(x);
    expect_none(o);
    cr_assert_eq(stats().moves, 1);
    cr_assert_eq(stats().errors[PROTO_ENOT_IN_GAME], 3);
}

Test(gm, watch_and_resign, .description = "a spectator gets the newest state, then every one; resign ends it")
{
    fconn *x = conn_open(), *o = conn_open(), *w = conn_open();
    int64_t id = start_game(x, o, NULL, NULL);
    rq_move(x, id, 0);
    drain();
    expect(x, PROTO_S_STATE);
    expect(o, PROTO_S_STATE);
    rq(w, PROTO_WATCH, id);
    drain();
    cr_assert_eq(expect(w, PROTO_S_WATCHING)->game_id, id);
    cr_assert_eq(expect(w, PROTO_S_STATE)->st.ply, 1);
    rq(o, PROTO_RESIGN, id);
    drain();
    const proto_server_msg *s = expect(w, PROTO_S_STATE);
    cr_assert_eq(s->st.status, GAME_OVER);
    cr_assert_eq(s->st.result, GAME_RESULT_RESIGN);
    cr_assert_eq(s->st.winner, GAME_X);
    expect(x, PROTO_S_STATE);
    expect(o, PROTO_S_STATE);
    rq(x, PROTO_RESIGN, id);
    drain();
    expect_error(x, PROTO_EGAME_OVER);
    cr_assert_eq(stats().games_finished, 1);
    cr_assert_eq(stats().finished_by_result[GAME_RESULT_RESIGN], 1);
    expect_none(w);
}

Test(gm, leave_and_resume, .description = "a player who leaves shows away; the token takes the seat back")
{
    fconn *x = conn_open(), *o = conn_open();
    char otoken[PROTO_TOKEN_LEN + 1];
    int64_t id = start_game(x, o, NULL, otoken);
    conn_close(o);
    drain();
    cr_assert_eq(expect(x, PROTO_S_STATE)->seat[1], PROTO_SEAT_AWAY);
    fconn *o2 = conn_open();
    rq_resume(o2, id, "not-the-token");
    drain();
    expect_error(o2, PROTO_EBAD_TOKEN);
    rq_resume(o2, id, otoken);
    drain();
    const proto_server_msg *j = expect(o2, PROTO_S_JOINED);
    cr_assert_eq(j->mark, GAME_O);
    cr_assert_eq(expect(o2, PROTO_S_STATE)->seat[1], PROTO_SEAT_CONNECTED);
    cr_assert_eq(expect(x, PROTO_S_STATE)->seat[1], PROTO_SEAT_CONNECTED);
    rq_move(o2, id, 4);
    drain();
    expect_error(o2, PROTO_ENOT_YOUR_TURN);
    expect_none(x);
}

Test(gm, computer, .description = "against the computer: it answers each move in its own save")
{
    fconn *x = conn_open();
    request(x, (proto_req){.type = PROTO_CREATE, .vs_computer = 1, .level = GAME_AI_PERFECT,
                           .ply = -1});
    drain();
    int64_t id = expect(x, PROTO_S_JOINED)->game_id;
    const proto_server_msg *s = expect(x, PROTO_S_STATE);
    cr_assert_eq(s->st.status, GAME_PLAYING);
    cr_assert_eq(s->seat[1], PROTO_SEAT_CONNECTED);
    rq_move(x, id, 0);
    drain();
    cr_assert_eq(expect(x, PROTO_S_STATE)->st.ply, 1);
    s = expect(x, PROTO_S_STATE);
    cr_assert_eq(s->st.ply, 2);
    cr_assert_eq(s->st.moves[1], 4, "perfect: the centre against a corner");
    cr_assert_eq(stats().moves, 2);
    expect_none(x);
}

Test(gm, quick, .description = "quick: the first opens a game, the second is matched into it")
{
    fconn *a = conn_open(), *b = conn_open();
    rq(a, PROTO_QUICK, 0);
    drain();
    const proto_server_msg *j = expect(a, PROTO_S_JOINED);
    int64_t id = j->game_id;
    cr_assert_eq(j->mark, GAME_X);
    cr_assert_eq(expect(a, PROTO_S_STATE)->st.status, GAME_WAITING);
    rq(b, PROTO_QUICK, 0);
    drain();
    j = expect(b, PROTO_S_JOINED);
    cr_assert_eq(j->game_id, id);
    cr_assert_eq(j->mark, GAME_O);
    cr_assert_eq(expect(b, PROTO_S_STATE)->st.status, GAME_PLAYING);
    cr_assert_eq(expect(a, PROTO_S_STATE)->st.status, GAME_PLAYING);
}

Test(gm, quick_stale, .description = "quick: a queued game whose creator left is ended, and a new one opened")
{
    fconn *a = conn_open(), *b = conn_open();
    rq(a, PROTO_QUICK, 0);
    drain();
    int64_t stale = expect(a, PROTO_S_JOINED)->game_id;
    conn_close(a);
    drain();
    rq(b, PROTO_QUICK, 0);
    drain();
    const proto_server_msg *j = expect(b, PROTO_S_JOINED);
    cr_assert_neq(j->game_id, stale, "not matched into the abandoned game");
    cr_assert_eq(j->mark, GAME_X);
    cr_assert_eq(expect(b, PROTO_S_STATE)->st.status, GAME_WAITING);
    expect_none(b);
    cr_assert_eq(stats().games_finished, 1, "the stale game ended");
}

Test(gm, rematch, .description = "rematch: the offer goes to the opponent; the second ask starts a game")
{
    fconn *x = conn_open(), *o = conn_open();
    int64_t id = start_game(x, o, NULL, NULL);
    rq(x, PROTO_RESIGN, id);
    drain();
    expect(x, PROTO_S_STATE);
    expect(o, PROTO_S_STATE);
    rq(x, PROTO_REMATCH, id);
    drain();
    cr_assert_eq(expect(o, PROTO_S_REMATCH_OFFER)->game_id, id);
    expect_none(x);
    rq(o, PROTO_REMATCH, id);
    drain();
    const proto_server_msg *jo = expect(o, PROTO_S_JOINED);
    int64_t next = jo->game_id;
    cr_assert_neq(next, id);
    cr_assert_eq(jo->mark, GAME_X, "marks swap");
    const proto_server_msg *jx = expect(x, PROTO_S_JOINED);
    cr_assert_eq(jx->game_id, next);
    cr_assert_eq(jx->mark, GAME_O);
    /* one state each, with both seats taken */
    const proto_server_msg *s = expect(o, PROTO_S_STATE);
    cr_assert_eq(s->game_id, next);
    cr_assert_eq(s->seat[0], PROTO_SEAT_CONNECTED);
    cr_assert_eq(s->seat[1], PROTO_SEAT_CONNECTED);
    cr_assert_eq(expect(x, PROTO_S_STATE)->seat[0], PROTO_SEAT_CONNECTED);
    expect_none(x);
    expect_none(o);
    rq_move(o, next, 4);
    drain();
    cr_assert_eq(expect(x, PROTO_S_STATE)->st.ply, 1);
    rq(x, PROTO_REMATCH, id);
    drain();
    expect_error(x, PROTO_EGAME_OVER);
}

Test(gm, rematch_computer, .description = "rematch against the computer: it is X and has moved")
{
    fconn *x = conn_open();
    request(x, (proto_req){.type = PROTO_CREATE, .vs_computer = 1, .ply = -1});
    drain();
    int64_t id = expect(x, PROTO_S_JOINED)->game_id;
    expect(x, PROTO_S_STATE);
    rq(x, PROTO_RESIGN, id);
    drain();
    expect(x, PROTO_S_STATE);
    rq(x, PROTO_REMATCH, id);
    drain();
    const proto_server_msg *j = expect(x, PROTO_S_JOINED);
    cr_assert_eq(j->mark, GAME_O);
    const proto_server_msg *s = expect(x, PROTO_S_STATE);
    cr_assert_eq(s->game_id, j->game_id);
    cr_assert_eq(s->st.ply, 1);
    cr_assert_eq(s->turn, GAME_O);
    expect_none(x);
}

/* ---- races, timeouts, closing in flight -------------------------------------------------- */

Test(gm, conflict_retry, .description = "a move and a resign race: one save conflicts, is retried, both land")
{
    fconn *x = conn_open(), *o = conn_open();
    int64_t id = start_game(x, o, NULL, NULL);
    rq_move(x, id, 4);     /* both judged on the cached version, saved in one turn */
    rq(o, PROTO_RESIGN, id);
    drain();
    cr_assert_eq(stats().conflicts, 1);
    const proto_server_msg *s1 = expect(x, PROTO_S_STATE), *s2 = expect(x, PROTO_S_STATE);
    cr_assert_eq(s1->st.ply, 1);
    cr_assert_eq(s2->st.status, GAME_OVER);
    cr_assert_eq(s2->st.ply, 1, "the resign was re-run on the record with the move");
    cr_assert_eq(s2->st.winner, GAME_X);
    expect(o, PROTO_S_STATE);
    expect(o, PROTO_S_STATE);
    expect_none(x);
    expect_none(o);
}

Test(gm, conflict_refused, .description = "two joins race: the loser's retry finds the seat taken")
{
    fconn *x = conn_open(), *a = conn_open(), *b = conn_open();
    rq(x, PROTO_CREATE, 0);
    drain();
    int64_t id = expect(x, PROTO_S_JOINED)->game_id;
    rq(a, PROTO_WATCH, id);   /* a room with a record, so both joins run on the cache */
    drain();
    rq(a, PROTO_JOIN, id);
    rq(b, PROTO_JOIN, id);
    drain();
    cr_assert_eq(stats().conflicts, 1);
    cr_assert_eq(expect(a, PROTO_S_WATCHING)->game_id, id);
    cr_assert_eq(expect(a, PROTO_S_STATE)->st.status, GAME_WAITING);
    cr_assert_eq(expect(a, PROTO_S_STATE)->st.status, GAME_PLAYING, "its own save, as a member");
    cr_assert_eq(expect(a, PROTO_S_JOINED)->mark, GAME_O);
    expect_error(b, PROTO_EGAME_FULL);
    expect_none(b);
}

Test(gm, wait_timeout, .description = "a game nobody joins ends once wait_ms has passed on the clock")
{
    fconn *x = conn_open();
    rq(x, PROTO_CREATE, 0);
    drain();
    expect(x, PROTO_S_JOINED);
    expect(x, PROTO_S_STATE);
    advance(WAIT - 100);
    expect_none(x);
    advance(2000);
    const proto_server_msg *s = expect(x, PROTO_S_STATE);
    cr_assert_eq(s->st.status, GAME_OVER);
    cr_assert_eq(s->st.result, GAME_RESULT_ABANDON);
    cr_assert_eq(s->st.winner, GAME_NONE);
    expect_none(x);
}

Test(gm, abandon_timeout, .description = "a seat away for abandon_ms loses, by the clock's tick")
{
    fconn *x = conn_open(), *o = conn_open();
    int64_t id = start_game(x, o, NULL, NULL);
    (void)id;
    conn_close(o);
    drain();
    cr_assert_eq(expect(x, PROTO_S_STATE)->seat[1], PROTO_SEAT_AWAY);
    advance(ABANDON - 100);
    expect_none(x);
    advance(1000);
    const proto_server_msg *s = expect(x, PROTO_S_STATE);
    cr_assert_eq(s->st.status, GAME_OVER);
    cr_assert_eq(s->st.result, GAME_RESULT_ABANDON);
    cr_assert_eq(s->st.winner, GAME_X);
    expect_none(x);
}

Test(gm, close_in_flight, .description = "a connection that closes while its join is in flight gives the seat back")
{
    fconn *x = conn_open(), *o = conn_open();
    rq(x, PROTO_CREATE, 0);
    drain();
    int64_t id = expect(x, PROTO_S_JOINED)->game_id;
    expect(x, PROTO_S_STATE);
    rq(o, PROTO_JOIN, id);
    cr_assert(gm_conn_busy(o->c), "the join is in flight");
    conn_close(o);   /* io_send asserts nothing reaches it from here on */
    drain();
    cr_assert_eq(o->n, 0);
    /* the join was saved, then its seat given back: O shows away */
    const proto_server_msg *s = NULL;
    while (x->seen < x->n)
        s = expect(x, PROTO_S_STATE);
    cr_assert_not_null(s);
    cr_assert_eq(s->st.status, GAME_PLAYING);
    cr_assert_eq(s->seat[1], PROTO_SEAT_AWAY);
    cr_assert_eq(stats().members, 1);
}

Test(gm, orphan_and_present, .description = "our seats taken for dead come back when the store is up again")
{
    fconn *x = conn_open(), *o = conn_open();
    int64_t id = start_game(x, o, NULL, NULL);
    store_events ev = gm_store_events(G);
    ev.orphaned(ev.ud, 999, &id, 1);   /* an instance that held nothing here */
    drain();
    expect_none(x);
    ev.orphaned(ev.ud, store_instance(st), &id, 1);
    drain();
    const proto_server_msg *s = expect(x, PROTO_S_STATE);
    cr_assert_eq(s->seat[0], PROTO_SEAT_AWAY);
    cr_assert_eq(s->seat[1], PROTO_SEAT_AWAY);
    ev.health(ev.ud, 1);
    drain();
    s = &x->msgs[x->n - 1];
    x->seen = x->n;
    cr_assert_eq(s->seat[0], PROTO_SEAT_CONNECTED, "present put X back");
    cr_assert_eq(s->seat[1], PROTO_SEAT_CONNECTED, "and O");
}

static int view_status = 1;
static proto_server_msg view;

static void on_view(void *ud, int status, msg *m)
{
    (void)ud;
    view_status = status;
    if (m) {
        cr_assert_eq(proto_parse_server((const char *)msg_data(m), m->len, &view), PROTO_OK);
        msg_unref(m);
    }
}

Test(gm, http_view, .description = "the HTTP view: a state for a game, not found for none")
{
    fconn *x = conn_open();
    rq(x, PROTO_CREATE, 0);
    drain();
    int64_t id = expect(x, PROTO_S_JOINED)->game_id;
    gm_game_state(G, id, on_view, NULL);
    drain();
    cr_assert_eq(view_status, STORE_OK);
    cr_assert_eq(view.type, PROTO_S_STATE);
    cr_assert_eq(view.game_id, id);
    gm_game_state(G, id + 50, on_view, NULL);
    drain();
    cr_assert_eq(view_status, STORE_ENOTFOUND);
}

Test(gm, shutdown_waits, .description = "shutdown waits for a request in flight, and its reply still goes out")
{
    fconn *x = conn_open();
    rq(x, PROTO_CREATE, 0);
    gm_shutdown(G, 1000, on_stopped, NULL);
    cr_assert_eq(stopped, 0, "the create is in flight");
    drain();
    cr_assert_eq(stopped, 1);
    expect(x, PROTO_S_JOINED);
    stopped = 0;   /* teardown shuts down again */
}

Test(gm, shutdown_timeout, .description = "shutdown stops waiting when its timer fires on the clock")
{
    fconn *x = conn_open();
    rq(x, PROTO_CREATE, 0);
    stop_watch = x;
    gm_shutdown(G, 100, on_stopped, NULL);
    advance(100);   /* the stop timer fires before the store's reply is run */
    cr_assert_eq(stopped, 1);
    cr_assert_eq(msgs_at_stop, 0, "done came from the timer, with the create still in flight");
    expect(x, PROTO_S_JOINED);   /* the request still completed */
    stopped = 0;
    stop_watch = NULL;
}
