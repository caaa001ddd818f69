/* test_gm.c -- the whole game manager without a socket: gm on the memory
 * store, a fake io that records what each connection would receive, and a
 * fake clock whose timers fire only when the test advances it (the harness
 * is tests/gm_fake.c). Every request kind, the process' own kinds, races on
 * the memory store, timeouts fired by the clock, a connection closing with
 * its request in flight, the store's "lost" event and shutdown. */
#include "gm_fake.h"

#include <string.h>

#include "gm_room.h"
#include "msg.h"

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

/* ---- what the network layer's caps and the store's "lost" event need ----------------- */

Test(gm, holdings, .description = "holdings count watches and waiting games, requests in flight included")
{
    fconn *x = conn_open(), *w = conn_open();
    unsigned watching, waiting;
    rq(x, PROTO_CREATE, 0);
    gm_conn_holdings(x->c, &watching, &waiting);
    cr_assert_eq(waiting, 1, "the create in flight counts");
    drain();
    int64_t id = expect(x, PROTO_S_JOINED)->game_id;
    gm_conn_holdings(x->c, &watching, &waiting);
    cr_assert_eq(waiting, 1, "now the waiting game counts, once");
    rq(w, PROTO_WATCH, id);
    gm_conn_holdings(w->c, &watching, &waiting);
    cr_assert_eq(watching, 1, "the watch in flight counts");
    drain();
    gm_conn_holdings(w->c, &watching, &waiting);
    cr_assert_eq(watching, 1);
    cr_assert_eq(waiting, 0);
    fconn *o = conn_open();
    rq(o, PROTO_JOIN, id);
    drain();
    gm_conn_holdings(x->c, &watching, &waiting);
    cr_assert_eq(waiting, 0, "a started game is not waiting");
}

Test(gm, store_lost, .description = "the store lost its data: members hear no_such_game, no goodbye is saved")
{
    fconn *x = conn_open(), *o = conn_open(), *w = conn_open();
    int64_t id = start_game(x, o, NULL, NULL);
    rq(w, PROTO_WATCH, id);
    drain();
    w->seen = w->n;
    uint64_t sent = stats().states_sent;
    store_events ev = gm_store_events(G);
    ev.lost(ev.ud);
    drain();
    expect_error(x, PROTO_ENO_SUCH_GAME);
    expect_error(o, PROTO_ENO_SUCH_GAME);
    expect_error(w, PROTO_ENO_SUCH_GAME);
    cr_assert_eq(stats().rooms, 0);
    cr_assert_eq(stats().members, 0);
    cr_assert_eq(stats().states_sent, sent);
    gm_game_state(G, id, on_view, NULL);
    drain();
    cr_assert_eq(view_status, STORE_OK);
    cr_assert_eq(view.seat[0], PROTO_SEAT_CONNECTED, "no leave op marked X away");
    cr_assert_eq(view.seat[1], PROTO_SEAT_CONNECTED);
    expect_none(x);
}

/* Redis answers an op's own save after it published the saves before it,
 * but those come on the subscriber's connection, maybe later: a record more
 * than one version ahead is held until they have come, so members see every
 * state in order (gm_room_advance_reply), and is sent anyway if they never
 * come. Driven on the room directly: the memory store never reorders. */
static store_game ahead_of(const store_game *base, int plies)
{
    store_game r = *base;
    static const int cells[] = {4, 0, 8, 2, 6};
    for (int i = 0; i < plies; i++)
        cr_assert_eq(game_state_move(&r.st, (game_mark)(r.st.ply % 2 ? GAME_O : GAME_X),
                                     cells[r.st.ply]), GAME_OK);
    r.version = base->version + (uint64_t)plies;
    return r;
}

Test(gm, reply_ahead_waits, .description = "a save reply two versions ahead of the subscription waits for the one between; members get both, in order, once")
{
    fconn *x = conn_open(), *o = conn_open();
    int64_t id = start_game(x, o, NULL, NULL);
    gm_room *r = gm_room_find(G, id);
    cr_assert(r && r->sub == GM_SUB_ACTIVE);
    store_game base, cur;
    cr_assert_eq(gm_room_rec(r, &base), 0);
    store_game v1 = ahead_of(&base, 1), v2 = ahead_of(&base, 2);

    gm_room_advance_reply(G, r, &v2);
    expect_none(x);
    expect_none(o);
    cr_assert_eq(gm_room_rec(r, &cur), 0);
    cr_assert_eq(cur.version, v2.version, "ops work on the newest record");

    gm_room_advance(G, r, &v1);   /* the subscription catches up */
    cr_assert_eq(expect(x, PROTO_S_STATE)->st.ply, base.st.ply + 1);
    cr_assert_eq(expect(o, PROTO_S_STATE)->st.ply, base.st.ply + 1);
    expect_none(x);
    gm_room_advance(G, r, &v2);
    cr_assert_eq(expect(x, PROTO_S_STATE)->st.ply, base.st.ply + 2);
    cr_assert_eq(expect(o, PROTO_S_STATE)->st.ply, base.st.ply + 2);
    gm_room_advance_reply(G, r, &v2);   /* the reply itself, late: nothing new */
    expect_none(x);
    expect_none(o);
    cr_assert_eq(r->have_ahead, 0);
}

Test(gm, reply_ahead_gives_up, .description = "a held record whose saves between never come is sent by the tick after GM_AHEAD_MAX_MS, once, skipping them")
{
    fconn *x = conn_open(), *o = conn_open();
    int64_t id = start_game(x, o, NULL, NULL);
    gm_room *r = gm_room_find(G, id);
    store_game base;
    cr_assert_eq(gm_room_rec(r, &base), 0);
    store_game v3 = ahead_of(&base, 3);
    gm_room_advance_reply(G, r, &v3);
    advance(GM_AHEAD_MAX_MS / 2);
    expect_none(x);
    advance(GM_AHEAD_MAX_MS);
    cr_assert_eq(expect(x, PROTO_S_STATE)->st.ply, base.st.ply + 3);
    cr_assert_eq(expect(o, PROTO_S_STATE)->st.ply, base.st.ply + 3);
    advance(GM_AHEAD_MAX_MS * 2);
    expect_none(x);
    expect_none(o);
    cr_assert_eq(r->have_ahead, 0);
}
