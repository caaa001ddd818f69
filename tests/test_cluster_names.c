/* test_cluster_names.c -- "Version 1, additions" across real ttt-server
 * processes sharing one real redis-server: names and the series of a
 * rematch chain live in the stored record, so they survive a process dying
 * (kill -9), a process restarting, and are read the same on every process
 * (the games list, /api/games/{id}). Part of the test_cluster binary, on its
 * harness (tests/support/tclu.c). Waiting is on a message or a condition
 * with a deadline. */
#include "tclu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NODES 2

static void node_start(int i)
{
    const char *extra[] = {"--max-connections-per-ip", "0", "--ip-rate-limit", "0", NULL};
    tc_node_start(i, R.url, extra);
}

static void up(void)
{
    tc_redis_up(1);
    for (int i = 0; i < NODES; i++)
        node_start(i);
}

/* a joined message of that mark; consumes j */
static void take_joined(tc_seat *s, json_t *j, const char *mark)
{
    cr_assert_str_eq(tc_sget(j, "mark"), mark);
    tc_take_joined(s, j);
    json_decref(j);
}

/* names and series of a state, checked; consumes st */
static void check(json_t *st, const char *x, const char *o, long long g, long long sx,
                  long long so, long long d, const char *what)
{
    char *dump = json_dumps(st, JSON_COMPACT);
    json_t *names = json_object_get(st, "names"), *s = json_object_get(st, "series");
    cr_assert(json_is_object(names) && json_is_object(s), "%s: no names or series: %s", what,
              dump);
    const char *gx = json_string_value(json_object_get(names, "X"));
    const char *go = json_string_value(json_object_get(names, "O"));
    cr_assert(gx && !strcmp(gx, x) && go && !strcmp(go, o), "%s: names %s", what, dump);
    cr_assert(tc_iget(s, "games") == g && tc_iget(s, "X") == sx && tc_iget(s, "O") == so &&
              tc_iget(s, "draws") == d, "%s: series %s", what, dump);
    free(dump);
    json_decref(st);
}

/* /api/games/{gid} on process i, parsed */
static json_t *api(int i, long long gid)
{
    char path[64], *body = NULL;
    snprintf(path, sizeof path, "/api/games/%lld", gid);
    int status = tc_http_get(N[i].port, path, &body);
    cr_assert_eq(status, 200, "GET %s on node%d: %d", path, i, status);
    json_t *j = json_loads(body, 0, NULL);
    cr_assert(j, "GET %s: not JSON: %s", path, body);
    free(body);
    return j;
}

static void move(tc_seat *s, int cell, wsc *other)
{
    wsc_sendf(s->w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":%d}", s->gid, cell);
    json_decref(tc_expect(s->w, "state", T_MSG, "mover's state"));
    json_decref(tc_expect(other, "state", T_MSG, "other's state"));
}

/* ---- the tests ------------------------------------------------------------------------------ */

TestSuite(cluster_names, .fini = tc_down, .timeout = 180);

Test(cluster_names, list_and_api_elsewhere, .description = "a named game created on process 1 "
     "is listed with its name on process 2; joined there, both processes' /api/games give "
     "the names")
{
    up();
    wsc *a = tc_conn(0), *b = tc_conn(1);
    tc_seat x, o;
    wsc_send(a, "{\"type\":\"create\",\"name\":\"\\u00c5sa \\ud83d\\ude00\"}");
    take_joined(&x, tc_expect(a, "joined", T_MSG, "create"), "X");
    json_decref(tc_expect(a, "state", T_MSG, "create state"));
    wsc_send(b, "{\"type\":\"list\"}");
    json_t *l = tc_expect(b, "games", T_MSG, "list");
    json_t *e = json_array_get(json_object_get(l, "games"), 0);
    cr_assert_eq(tc_iget(e, "game_id"), x.gid);
    cr_assert_str_eq(tc_sget(e, "name"), "\xc3\x85sa \xf0\x9f\x98\x80");
    json_decref(l);
    wsc_sendf(b, "{\"type\":\"join\",\"game_id\":%lld,\"name\":\"Bo\"}", x.gid);
    take_joined(&o, tc_expect(b, "joined", T_MSG, "join"), "O");
    check(tc_expect(b, "state", T_MSG, "join"), "\xc3\x85sa \xf0\x9f\x98\x80", "Bo", 0, 0, 0, 0,
          "join state on process 2");
    check(tc_expect(a, "state", T_MSG, "join"), "\xc3\x85sa \xf0\x9f\x98\x80", "Bo", 0, 0, 0, 0,
          "join state on process 1");
    for (int i = 0; i < NODES; i++)
        check(api(i, x.gid), "\xc3\x85sa \xf0\x9f\x98\x80", "Bo", 0, 0, 0, 0, "api");
}

Test(cluster_names, series_survives_kill_and_restart, .description = "Pia on process 1, Quin "
     "on process 2; after a win and a rematch, process 1 dies (kill -9) and is restarted; Pia "
     "resumes on the new process: names and series as before, the chain goes on, every game "
     "reads back on both processes")
{
    up();
    wsc *a = tc_conn(0), *b = tc_conn(1);
    tc_seat p, q;
    wsc_send(a, "{\"type\":\"create\",\"name\":\"Pia\"}");
    take_joined(&p, tc_expect(a, "joined", T_MSG, "create"), "X");
    p.w = a;
    json_decref(tc_expect(a, "state", T_MSG, "create state"));
    wsc_sendf(b, "{\"type\":\"join\",\"game_id\":%lld,\"name\":\"Quin\"}", p.gid);
    take_joined(&q, tc_expect(b, "joined", T_MSG, "join"), "O");
    q.w = b;
    json_decref(tc_expect(b, "state", T_MSG, "join state"));
    json_decref(tc_expect(a, "state", T_MSG, "join state"));
    move(&p, 0, b), move(&q, 3, a), move(&p, 1, b), move(&q, 4, a), move(&p, 2, b);
    long long g1 = p.gid;

    /* game 2: Pia asks first, Quin second: Quin X, Pia O */
    wsc_sendf(a, "{\"type\":\"rematch\",\"game_id\":%lld}", g1);
    json_decref(tc_expect(b, "rematch_offer", T_MSG, "offer"));
    wsc_sendf(b, "{\"type\":\"rematch\",\"game_id\":%lld}", g1);
    tc_seat p2, q2;
    take_joined(&q2, tc_expect(b, "joined", T_MSG, "rematch"), "X");
    take_joined(&p2, tc_expect(a, "joined", T_MSG, "rematch"), "O");
    p2.w = a, q2.w = b;
    check(tc_expect(b, "state", T_MSG, "rematch"), "Quin", "Pia", 1, 0, 1, 0, "game 2 starts");
    json_decref(tc_expect(a, "state", T_MSG, "rematch"));
    move(&q2, 4, a);

    /* process 1, holding Pia's seat, dies; then comes back */
    proc_kill9(N[0].pid);
    N[0].pid = 0;
    json_t *st = tc_expect(b, "state", T_REAP, "Pia away after kill -9");
    cr_assert_str_eq(tc_sget(json_object_get(st, "players"), "O"), "away");
    check(st, "Quin", "Pia", 1, 0, 1, 0, "Pia away");
    node_start(0);
    p2.w = tc_conn(0);
    wsc_sendf(p2.w, "{\"type\":\"resume\",\"game_id\":%lld,\"token\":\"%s\"}", p2.gid, p2.token);
    json_decref(tc_expect(p2.w, "joined", T_MSG, "resume"));
    st = tc_expect(p2.w, "state", T_MSG, "resume state");
    cr_assert_str_eq(tc_sget(st, "board"), "....X....", "the board survived");
    cr_assert_eq(json_array_size(json_object_get(st, "times")), 1, "and the move's time");
    check(st, "Quin", "Pia", 1, 0, 1, 0, "resumed on the restarted process");
    check(tc_expect(b, "state", T_MSG, "Pia back"), "Quin", "Pia", 1, 0, 1, 0, "Pia back");

    /* Quin resigns: Pia 2 - 0 */
    wsc_sendf(b, "{\"type\":\"resign\",\"game_id\":%lld}", q2.gid);
    check(tc_expect(b, "state", T_MSG, "resign"), "Quin", "Pia", 2, 0, 2, 0, "game 2 over");
    json_decref(tc_expect(p2.w, "state", T_MSG, "resign"));

    /* game 3 from the restarted process: Pia X again, renamed */
    wsc_sendf(p2.w, "{\"type\":\"rematch\",\"game_id\":%lld,\"name\":\"Pia P.\"}", p2.gid);
    json_decref(tc_expect(b, "rematch_offer", T_MSG, "offer 2"));
    wsc_sendf(b, "{\"type\":\"rematch\",\"game_id\":%lld}", q2.gid);
    tc_seat q3;
    take_joined(&q3, tc_expect(b, "joined", T_MSG, "rematch 2"), "O");
    json_decref(tc_expect(p2.w, "joined", T_MSG, "rematch 2"));
    check(tc_expect(b, "state", T_MSG, "game 3"), "Pia P.", "Quin", 2, 2, 0, 0, "game 3 starts");
    json_decref(tc_expect(p2.w, "state", T_MSG, "game 3"));

    /* every game reads back the same on both processes */
    for (int i = 0; i < NODES; i++) {
        check(api(i, g1), "Pia", "Quin", 1, 1, 0, 0, "game 1 read back");
        check(api(i, q2.gid), "Quin", "Pia", 2, 0, 2, 0, "game 2 read back");
        check(api(i, q3.gid), "Pia P.", "Quin", 2, 2, 0, 0, "game 3 read back");
    }
}
