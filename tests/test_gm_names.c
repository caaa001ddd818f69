/* test_gm_names.c -- the whole game manager on "Version 1, additions": names
 * in states and the games list, kept on resume; the series along rematches
 * with swapped marks; move times from the fake clock; the HTTP view. Runs
 * in the test_gm binary on its harness (gm_fake.h). */
#include "gm_fake.h"

#include <string.h>

#include "msg.h"

TestSuite(gm_names, .init = setup, .fini = teardown);

static void named(fconn *fc, proto_type t, int64_t game_id, const char *name)
{
    proto_req r = {.type = t, .game_id = game_id, .ply = -1};
    strcpy(r.name, name);
    request(fc, r);
}

/* the next message of fc is a state of game id named x / o ("" = null) */
static const proto_server_msg *state_named(fconn *fc, int64_t id, const char *x, const char *o)
{
    const proto_server_msg *s = expect(fc, PROTO_S_STATE);
    cr_assert_eq(s->game_id, id);
    cr_assert(s->has_names && s->has_series && s->has_times, "the additions are there");
    cr_assert_str_eq(s->names[0], x);
    cr_assert_str_eq(s->names[1], o);
    return s;
}

static void series_is(const proto_server_msg *s, uint32_t g, uint32_t x, uint32_t o, uint32_t d)
{
    cr_assert(s->series[0] == g && s->series[1] == x && s->series[2] == o && s->series[3] == d,
              "series {%u, X %u, O %u, draws %u}, want {%u, %u, %u, %u}", s->series[0],
              s->series[1], s->series[2], s->series[3], g, x, o, d);
}

Test(gm_names, create_list_join_resume, .description = "names in states and in the list; "
     "a resumed seat keeps its name")
{
    fconn *x = conn_open(), *o = conn_open();
    named(x, PROTO_CREATE, 0, "Ana");
    drain();
    char xtoken[PROTO_TOKEN_LEN + 1];
    const proto_server_msg *j = expect(x, PROTO_S_JOINED);
    int64_t id = j->game_id;
    strcpy(xtoken, j->token);
    series_is(state_named(x, id, "Ana", ""), 0, 0, 0, 0);
    rq(o, PROTO_LIST, 0);
    drain();
    const proto_server_msg *l = expect(o, PROTO_S_GAMES);
    cr_assert_eq(l->ngames, 1);
    cr_assert_str_eq(l->game_names[0], "Ana", "the creator's name in the list");
    named(o, PROTO_JOIN, id, "Ben");
    drain();
    expect(o, PROTO_S_JOINED);
    state_named(o, id, "Ana", "Ben");
    state_named(x, id, "Ana", "Ben");
    conn_close(x);
    drain();
    state_named(o, id, "Ana", "Ben");   /* X away */
    fconn *x2 = conn_open();
    rq_resume(x2, id, xtoken);
    drain();
    expect(x2, PROTO_S_JOINED);
    state_named(x2, id, "Ana", "Ben");
    state_named(o, id, "Ana", "Ben");
}

Test(gm_names, computer_and_quick, .description = "the computer is named by its level; quick "
     "players are named; no name is null")
{
    fconn *x = conn_open(), *q1 = conn_open(), *q2 = conn_open();
    proto_req r = {.type = PROTO_CREATE, .vs_computer = 1, .level = GAME_AI_EASY, .ply = -1};
    strcpy(r.name, "Solo");
    request(x, r);
    drain();
    int64_t id = expect(x, PROTO_S_JOINED)->game_id;
    state_named(x, id, "Solo", "Computer (easy)");
    named(q1, PROTO_QUICK, 0, "");
    drain();
    int64_t qid = expect(q1, PROTO_S_JOINED)->game_id;
    state_named(q1, qid, "", "");
    named(q2, PROTO_QUICK, 0, "Zed");
    drain();
    expect(q2, PROTO_S_JOINED);
    state_named(q2, qid, "", "Zed");
    state_named(q1, qid, "", "Zed");
}

/* first asks a rematch of old_id (with name fn), then second (with sn); both
 * read their joined and first state; returns the new game's id */
static int64_t rematch(fconn *first, const char *fn, fconn *second, const char *sn,
                       int64_t old_id)
{
    named(first, PROTO_REMATCH, old_id, fn);
    drain();
    expect(second, PROTO_S_REMATCH_OFFER);
    named(second, PROTO_REMATCH, old_id, sn);
    drain();
    int64_t id = expect(second, PROTO_S_JOINED)->game_id;
    cr_assert_eq(expect(first, PROTO_S_JOINED)->game_id, id);
    return id;
}

Test(gm_names, series_and_times, .description = "three rematches with marks swapping: the "
     "series counts per player (win, resign, draw), names carry on or change; times from the clock")
{
    fconn *p = conn_open(), *q = conn_open();
    named(p, PROTO_CREATE, 0, "Pia");
    drain();
    int64_t g1 = expect(p, PROTO_S_JOINED)->game_id;
    expect(p, PROTO_S_STATE);
    advance(3000);
    named(q, PROTO_JOIN, g1, "Quin");
    drain();
    expect(q, PROTO_S_JOINED);
    expect(q, PROTO_S_STATE);
    expect(p, PROTO_S_STATE);
    /* game 1: Pia (X) wins; a move every 1.5 s of the fake clock */
    static const int win[] = {0, 3, 1, 4, 2};
    for (int i = 0; i < 5; i++) {
        advance(1500);
        rq_move(i % 2 ? q : p, g1, win[i]);
        drain();
        expect(p, PROTO_S_STATE);
        const proto_server_msg *s = expect(q, PROTO_S_STATE);
        for (int k = 0; k <= i; k++)
            cr_assert_eq(s->times[k], 1500u * (uint32_t)(k + 1), "move %d at %u", k, s->times[k]);
    }
    series_is(&q->msgs[q->seen - 1], 1, 1, 0, 0);

    /* game 2: Quin asks first as "Quinn" and is X; Pia keeps her name */
    int64_t g2 = rematch(q, "Quinn", p, "", g1);
    series_is(state_named(p, g2, "Quinn", "Pia"), 1, 0, 1, 0);
    series_is(state_named(q, g2, "Quinn", "Pia"), 1, 0, 1, 0);
    cr_assert_eq(q->msgs[q->seen - 1].st.ply, 0);
    rq(q, PROTO_RESIGN, g2);
    drain();
    series_is(state_named(p, g2, "Quinn", "Pia"), 2, 0, 2, 0);
    expect(q, PROTO_S_STATE);

    /* game 3: Pia X, a draw */
    int64_t g3 = rematch(p, "", q, "", g2);
    series_is(state_named(p, g3, "Pia", "Quinn"), 2, 2, 0, 0);
    expect(q, PROTO_S_STATE);
    static const int draw[] = {0, 4, 8, 1, 7, 6, 2, 5, 3};
    for (int i = 0; i < 9; i++) {
        rq_move(i % 2 ? q : p, g3, draw[i]);
        drain();
        expect(p, PROTO_S_STATE);
        expect(q, PROTO_S_STATE);
    }
    series_is(&p->msgs[p->seen - 1], 3, 2, 0, 1);
    for (int k = 0; k < 9; k++)
        cr_assert_eq(p->msgs[p->seen - 1].times[k], 0, "no clock advance: all at 0 ms");

    /* game 4: Quinn X; Pia renamed on her ask; Quinn wins */
    int64_t g4 = rematch(q, "", p, "Pia P.", g3);
    series_is(state_named(q, g4, "Quinn", "Pia P."), 3, 0, 2, 1);
    expect(p, PROTO_S_STATE);
    rq(p, PROTO_RESIGN, g4);
    drain();
    series_is(state_named(q, g4, "Quinn", "Pia P."), 4, 1, 2, 1);
    expect(p, PROTO_S_STATE);
    /* and the chain's first game still reads as it ended */
    rq(q, PROTO_WATCH, g1);
    drain();
    expect(q, PROTO_S_WATCHING);
    series_is(state_named(q, g1, "Pia", "Quin"), 1, 1, 0, 0);
}

static proto_server_msg view;
static int view_status = -100;

static void on_view(void *ud, int status, msg *m)
{
    (void)ud;
    view_status = status;
    if (m) {
        cr_assert_eq(proto_parse_server((const char *)msg_data(m), m->len, &view), PROTO_OK);
        msg_unref(m);
    }
}

Test(gm_names, http_view, .description = "the HTTP view is the same state: names, series, times")
{
    fconn *x = conn_open(), *o = conn_open();
    named(x, PROTO_CREATE, 0, "Ana");
    drain();
    int64_t id = expect(x, PROTO_S_JOINED)->game_id;
    named(o, PROTO_JOIN, id, "Ben");
    drain();
    advance(250);
    rq_move(x, id, 4);
    drain();
    gm_game_state(G, id, on_view, NULL);
    drain();
    cr_assert_eq(view_status, STORE_OK);
    cr_assert(view.has_names && view.has_series && view.has_times);
    cr_assert_str_eq(view.names[0], "Ana");
    cr_assert_str_eq(view.names[1], "Ben");
    cr_assert_eq(view.st.ply, 1);
    cr_assert_eq(view.times[0], 250);
}
