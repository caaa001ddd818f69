/* test_cluster.c -- several real ttt-server processes sharing one real
 * redis-server: the promises of the Redis store, end to end.
 *
 * Each test starts a redis-server (AOF on) and two or three ttt-server
 * processes on free loopback ports in a temporary directory, plays over real
 * WebSockets, and stops everything by PID in .fini, also when an assertion
 * failed. Nothing is mocked. Waiting is always on a message or a condition
 * with a deadline. The harness is tests/support/tclu.c; the names and series
 * additions are in test_cluster_names.c, in the same binary. */
#include "tclu.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* node i with what most cases here share: an abandon timeout, and no
 * per-address limits (every client is 127.0.0.1, and two_thousand_ids opens
 * 100 waiting games per connection on purpose) */
static void node_start(int i, const char *abandon)
{
    const char *extra[] = {"--abandon-timeout", abandon ? abandon : "60",
                           "--max-waiting", "0", "--max-waiting-per-ip", "0",
                           "--max-connections-per-ip", "0", "--ip-rate-limit", "0", NULL};
    tc_node_start(i, R.url, extra);
}

static void cluster_up(int nodes, const char *abandon)
{
    tc_redis_up(1);
    for (int i = 0; i < nodes; i++)
        node_start(i, abandon);
}

/* X on process 1 and O on process 2, X takes the centre, then process 1
 * dies with kill -9 (X's socket dies with it). */
static void pair_move_kill_x(tc_seat *x, tc_seat *o)
{
    tc_pair(x, 0, o, 1);
    wsc *ox[] = {o->w, NULL};
    json_decref(tc_play(x, 4, ox));
    proc_kill9(N[0].pid);
    N[0].pid = 0;
}

/* ---- the tests ------------------------------------------------------------------------------ */

TestSuite(cluster, .fini = tc_down, .timeout = 120);

Test(cluster, cross_process_game,
     .description = "X on process 1, O on process 2, a spectator on process 3: a whole game, "
                    "everyone sees every state, in order, once")
{
    cluster_up(3, NULL);
    tc_seat x, o;
    tc_pair(&x, 0, &o, 1);
    wsc *spec = tc_conn(2);
    wsc_sendf(spec, "{\"type\":\"watch\",\"game_id\":%lld}", x.gid);
    json_decref(tc_expect(spec, "watching", T_MSG, "watch"));
    json_decref(tc_expect(spec, "state", T_MSG, "watch state"));
    static const int moves[] = {0, 3, 1, 4, 2};   /* X wins on the top row */
    for (int i = 0; i < 5; i++) {
        tc_seat *s = (i % 2) ? &o : &x;
        wsc *others[] = {(i % 2) ? x.w : o.w, spec, NULL};
        json_t *st = tc_play(s, moves[i], others);
        if (i == 4) {
            cr_assert_str_eq(tc_sget(st, "status"), "over");
            cr_assert_str_eq(tc_sget(st, "winner"), "X");
            cr_assert_str_eq(tc_sget(st, "board"), "XXXOO....");
        }
        json_decref(st);
    }
    tc_expect_quiet(spec, 300, "spectator after the end");
    tc_expect_quiet(o.w, 100, "O after the end");
}

Test(cluster, list_and_quick_across_processes,
     .description = "a game created on process 1 is listed on process 2; two quick callers "
                    "on two processes, sent at once, end in one game as X and O")
{
    cluster_up(2, NULL);
    wsc *a = tc_conn(0), *b = tc_conn(1);
    wsc_send(a, "{\"type\":\"create\"}");
    json_t *j = tc_expect(a, "joined", T_MSG, "create");
    long long gid = tc_iget(j, "game_id");
    json_decref(j);
    json_decref(tc_expect(a, "state", T_MSG, "create state"));
    wsc_send(b, "{\"type\":\"list\",\"id\":\"l\"}");
    j = tc_expect(b, "games", T_MSG, "list");
    json_t *games = json_object_get(j, "games");
    cr_assert_eq(json_array_size(games), 1, "one open game");
    cr_assert_eq(tc_iget(json_array_get(games, 0), "game_id"), gid);
    json_decref(j);

    wsc *q1 = tc_conn(0), *q2 = tc_conn(1);
    wsc_send(q1, "{\"type\":\"quick\"}");
    wsc_send(q2, "{\"type\":\"quick\"}");
    json_t *j1 = tc_expect(q1, "joined", T_MSG, "quick 1");
    json_t *j2 = tc_expect(q2, "joined", T_MSG, "quick 2");
    cr_assert_eq(tc_iget(j1, "game_id"), tc_iget(j2, "game_id"), "one game for both quick callers");
    cr_assert_str_neq(tc_sget(j1, "mark"), tc_sget(j2, "mark"), "one X and one O");
    json_decref(j1);
    json_decref(j2);
    /* the list still shows only the created game: quick games are not listed */
    wsc_send(b, "{\"type\":\"list\"}");
    j = tc_expect(b, "games", T_MSG, "list again");
    cr_assert_eq(json_array_size(json_object_get(j, "games")), 1);
    json_decref(j);
}

Test(cluster, kill9_resume_elsewhere,
     .description = "kill -9 of the process holding X: O sees X away, X resumes on the other "
                    "process with its token, O sees X connected, and the game goes on")
{
    cluster_up(2, NULL);
    tc_seat x, o;
    pair_move_kill_x(&x, &o);
    json_t *st = tc_expect(o.w, "state", T_REAP, "X away after kill -9");
    cr_assert_str_eq(tc_player(st, "X"), "away", "X is away");
    cr_assert_str_eq(tc_sget(st, "board"), "....X....", "the board survived");
    json_decref(st);

    /* the dead process' socket is gone; X reconnects through the survivor */
    x.w = tc_conn(1);
    wsc_sendf(x.w, "{\"type\":\"resume\",\"game_id\":%lld,\"token\":\"%s\"}", x.gid, x.token);
    json_t *j = tc_expect(x.w, "joined", T_MSG, "resume");
    cr_assert_str_eq(tc_sget(j, "mark"), "X");
    json_decref(j);
    st = tc_expect(x.w, "state", T_MSG, "resume state");
    cr_assert_str_eq(tc_player(st, "X"), "connected");
    json_decref(st);
    st = tc_expect(o.w, "state", T_MSG, "O sees X back");
    cr_assert_str_eq(tc_player(st, "X"), "connected");
    json_decref(st);
    wsc *xo[] = {x.w, NULL};
    st = tc_play(&o, 0, xo);
    cr_assert_str_eq(tc_sget(st, "board"), "O...X....");
    json_decref(st);
}

Test(cluster, conflicting_moves_one_wins,
     .description = "X holds its tc_seat on both processes and sends two different moves at once "
                    "through both, 40 times: exactly one is accepted each time, the game stays "
                    "legal")
{
    cluster_up(2, NULL);
    int rounds = 0, games = 0;
    while (rounds < 40) {
        tc_seat x, o, x2;
        tc_pair(&x, 0, &o, 1);
        games++;
        /* X's second connection, on process 2 */
        x2 = x;
        x2.w = tc_conn(1);
        wsc_sendf(x2.w, "{\"type\":\"resume\",\"game_id\":%lld,\"token\":\"%s\"}", x.gid, x.token);
        json_decref(tc_expect(x2.w, "joined", T_MSG, "second X connection"));
        json_decref(tc_expect(x2.w, "state", T_MSG, "second X state"));
        json_decref(tc_expect(x.w, "state", T_MSG, "resume state on X"));
        json_decref(tc_expect(o.w, "state", T_MSG, "resume state on O"));
        int ply = 0;
        const char *board = ".........";
        char b[10];
        memcpy(b, board, 10);
        for (int turn = 0; turn < 3 && rounds < 40; turn++) {
            /* two free cells for X's two racing moves */
            int c1 = -1, c2 = -1;
            for (int c = 0; c < 9; c++) {
                if (b[c] != '.')
                    continue;
                if (c1 < 0)
                    c1 = c;
                else if (c2 < 0)
                    c2 = c;
            }
            wsc_sendf(x.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":%d,\"ply\":%d,\"id\":\"a\"}",
                      x.gid, c1, ply);
            wsc_sendf(x2.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":%d,\"ply\":%d,\"id\":\"b\"}",
                      x.gid, c2, ply);
            rounds++;
            /* O sees exactly one new state */
            json_t *so = tc_expect(o.w, "state", T_MSG, "O's state after the race");
            cr_assert_eq(tc_iget(so, "ply"), ply + 1, "exactly one move was applied");
            memcpy(b, tc_sget(so, "board"), 9);
            int took1 = b[c1] == 'X', took2 = b[c2] == 'X';
            cr_assert(took1 + took2 == 1, "one of cells %d and %d is X (board %s)", c1, c2, b);
            json_decref(so);
            /* each X connection: one state, and one error between the two */
            int errors = 0;
            wsc *xs[2] = {x.w, x2.w};
            for (int k = 0; k < 2; k++) {
                int states = 0;
                for (int m = 0; m < 2; m++) {
                    json_t *j = wsc_recv_json(xs[k], m == 0 ? T_MSG : 400);
                    if (!j)
                        break;
                    if (strcmp(tc_sget(j, "type"), "state") == 0)
                        states++;
                    else if (strcmp(tc_sget(j, "type"), "error") == 0) {
                        errors++;
                        const char *code = tc_sget(j, "code");
                        cr_assert(strcmp(code, "stale") == 0 || strcmp(code, "not_your_turn") == 0 ||
                                      strcmp(code, "cell_taken") == 0,
                                  "the loser hears stale/not_your_turn/cell_taken, got %s", code);
                    }
                    json_decref(j);
                }
                cr_assert_eq(states, 1, "X connection %d saw the one new state", k);
            }
            cr_assert_eq(errors, 1, "exactly one of the two moves was refused");
            ply++;
            /* O answers in the first free cell, if the game goes on */
            int oc = (int)(strchr(b, '.') ? strchr(b, '.') - b : -1);
            if (oc < 0)
                break;
            wsc_sendf(o.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":%d}", x.gid, oc);
            json_t *s1 = tc_expect(o.w, "state", T_MSG, "O's move");
            json_decref(tc_expect(x.w, "state", T_MSG, "O's move on X1"));
            json_decref(tc_expect(x2.w, "state", T_MSG, "O's move on X2"));
            memcpy(b, tc_sget(s1, "board"), 9);
            int over = strcmp(tc_sget(s1, "status"), "over") == 0;
            json_decref(s1);
            ply++;
            if (over)
                break;
        }
        wsc_close(x.w);
        wsc_close(x2.w);
        wsc_close(o.w);
    }
    cr_log_info("%d conflicting rounds over %d games", rounds, games);
}

Test(cluster, two_thousand_ids,
     .description = "2,000 creates spread over two processes at once get 2,000 distinct, "
                    "consecutive ids starting at 100")
{
    cluster_up(2, NULL);
    enum { CONNS = 20, PER = 100 };
    wsc *w[CONNS];
    for (int i = 0; i < CONNS; i++)
        w[i] = tc_conn(i % 2);
    for (int k = 0; k < PER; k++)
        for (int i = 0; i < CONNS; i++)
            wsc_send(w[i], "{\"type\":\"create\"}");
    static char seen[CONNS * PER + 200];
    memset(seen, 0, sizeof seen);
    long long lo = -1, hi = -1;
    for (int i = 0; i < CONNS; i++) {
        for (int k = 0; k < PER; k++) {
            json_t *j = tc_expect(w[i], "joined", 20000, "joined of a create");
            long long id = tc_iget(j, "game_id");
            json_decref(j);
            json_decref(tc_expect(w[i], "state", 20000, "state of a create"));
            cr_assert(id >= 100 && id < 100 + CONNS * PER, "id %lld in 100..2099", id);
            cr_assert(!seen[id - 100], "id %lld handed out twice", id);
            seen[id - 100] = 1;
            lo = (lo < 0 || id < lo) ? id : lo;
            hi = id > hi ? id : hi;
        }
    }
    cr_assert_eq(lo, 100);
    cr_assert_eq(hi, 100 + CONNS * PER - 1, "consecutive: the highest is 2099");
}

Test(cluster, redis_outage_and_return,
     .description = "Redis stops mid-game: a move gets unavailable and changes nothing, "
                    "/healthz answers 503; Redis returns with its AOF: the game goes on from "
                    "the last accepted move")
{
    cluster_up(2, NULL);
    tc_seat x, o;
    tc_pair(&x, 0, &o, 1);
    wsc *ox[] = {o.w, NULL}, *xo[] = {x.w, NULL};
    json_decref(tc_play(&x, 4, ox));
    json_decref(tc_play(&o, 0, xo));
    proc_redis_stop(&R, 1);
    cr_assert(tc_wait_health(N[0].port, 503, 10000) == 0, "/healthz 503 without Redis");
    wsc_sendf(x.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":8,\"id\":\"u\"}", x.gid);
    json_t *e = tc_expect(x.w, "error", 10000, "move during the outage");
    cr_assert_str_eq(tc_sget(e, "code"), "unavailable");
    cr_assert_str_eq(tc_sget(e, "id"), "u");
    json_decref(e);
    cr_assert(proc_redis_restart(&R) == 0, "redis-server restarts");
    cr_assert(tc_wait_health(N[0].port, 200, 15000) == 0, "node0 healthy again");
    cr_assert(tc_wait_health(N[1].port, 200, 15000) == 0, "node1 healthy again");
    /* presence may have been re-saved on reconnection: skip states that show
     * the same board, then the refused move must not be on it */
    wsc_sendf(x.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":8,\"ply\":2}", x.gid);
    json_t *st = NULL;
    for (int i = 0; i < 5; i++) {
        st = tc_expect(o.w, "state", T_MSG, "state after the return");
        if (tc_iget(st, "ply") == 3)
            break;
        cr_assert_str_eq(tc_sget(st, "board"), "O...X....", "nothing changed meanwhile");
        json_decref(st);
        st = NULL;
    }
    cr_assert(st, "the move after the return was applied");
    cr_assert_str_eq(tc_sget(st, "board"), "O...X...X");
    json_decref(st);
}

Test(cluster, abandon_once_after_kill9,
     .description = "--abandon-timeout 1: the process holding X dies; O sees X away, then "
                    "exactly one final state: O wins by abandon")
{
    cluster_up(2, "1");
    tc_seat x, o;
    pair_move_kill_x(&x, &o);
    json_t *st = tc_expect(o.w, "state", T_REAP, "X away");
    cr_assert_str_eq(tc_player(st, "X"), "away");
    json_decref(st);
    st = tc_expect(o.w, "state", 10000, "the abandon");
    cr_assert_str_eq(tc_sget(st, "status"), "over");
    cr_assert_str_eq(tc_sget(st, "result"), "abandon");
    cr_assert_str_eq(tc_sget(st, "winner"), "O");
    json_decref(st);
    tc_expect_quiet(o.w, 3000, "after the abandon (it runs once)");
}

/* ---- issue 8: definite outcomes, data loss, deployments sharing one Redis ------------- */

/* create on a fresh connection to node i, retrying "unavailable" for a
 * bounded time (a store that just lost its data creates nothing for 2.5 s);
 * returns the new game's id */
static long long create_on(int i)
{
    wsc *w = tc_conn(i);
    long long end = proc_now_ms() + 10000;
    for (;;) {
        wsc_send(w, "{\"type\":\"create\"}");
        json_t *j = wsc_recv_json(w, T_MSG);
        cr_assert(j, "create on node%d: no answer", i);
        if (strcmp(tc_sget(j, "type"), "joined") == 0) {
            long long id = tc_iget(j, "game_id");
            json_decref(j);
            return id;
        }
        cr_assert_str_eq(tc_sget(j, "type"), "error");
        cr_assert_str_eq(tc_sget(j, "code"), "unavailable", "create on node%d", i);
        json_decref(j);
        cr_assert(proc_now_ms() < end, "create on node%d: unavailable for 10 s", i);
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void lost_case(int restart)
{
    tc_redis_up(!restart);
    tc_node_start(0, R.url, NULL);
    tc_node_start(1, R.url, NULL);
    tc_seat x, o;
    tc_pair(&x, 0, &o, 1);
    cr_assert_eq(x.gid, 100);
    wsc *ox[] = {o.w, NULL};
    json_decref(tc_play(&x, 4, ox));
    if (restart) {
        proc_kill9(R.pid);
        R.pid = -1;
        cr_assert(proc_redis_restart(&R) == 0, "redis-server restarts (empty)");
    } else {
        tc_redis_cli("FLUSHALL", NULL);
    }
    /* both players hear that their game is gone, instead of another's */
    tc_expect_error(x.w, "no_such_game", 15000, "X after the loss");
    tc_expect_error(o.w, "no_such_game", 15000, "O after the loss");
    /* a newcomer's game never gets the old id, on either process */
    long long a = create_on(0), b = create_on(1);
    cr_assert(a > 100 && b > 100 && a != b, "ids after the loss: %lld, %lld", a, b);
    /* the old game answers no_such_game, not the newcomer's board */
    wsc_sendf(o.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":0}", o.gid);
    tc_expect_error(o.w, "no_such_game", T_MSG, "a move in the lost game");
}

Test(cluster, lost_flushall,
     .description = "FLUSHALL while game 100 is live: its players get no_such_game, new games "
                    "never get id 100 on any process")
{
    lost_case(0);
}

Test(cluster, lost_restart_empty,
     .description = "redis-server without persistence killed -9 and restarted empty while game "
                    "100 is live: its players get no_such_game, new games never get id 100")
{
    lost_case(1);
}

Test(cluster, frozen_redis_move_applied,
     .description = "a move sent while redis-server is frozen (SIGSTOP 7 s) is answered with "
                    "its state once Redis resumes and runs it, not unavailable")
{
    tc_redis_up(1);
    tc_node_start(0, R.url, NULL);
    tc_node_start(1, R.url, NULL);
    tc_seat x, o;
    tc_pair(&x, 0, &o, 1);
    cr_assert_eq(kill(R.pid, SIGSTOP), 0);
    wsc_sendf(x.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":4,\"id\":\"m\"}", x.gid);
    char *early = wsc_recv(x.w, 7000);
    kill(R.pid, SIGCONT);
    cr_assert(!early, "answered while Redis was frozen: %s", early ? early : "");
    json_t *j = wsc_recv_json(x.w, 30000);
    cr_assert(j, "no answer after Redis resumed");
    cr_assert_str_eq(tc_sget(j, "type"), "state", "the applied move was answered %s %s",
                     tc_sget(j, "type"), tc_sget(j, "code"));
    cr_assert_str_eq(tc_sget(j, "board"), "....X....");
    json_decref(j);
    /* the opponent sees the same single move */
    json_t *so = tc_expect(o.w, "state", 30000, "O sees the move");
    cr_assert_str_eq(tc_sget(so, "board"), "....X....");
    json_decref(so);
}

Test(cluster, deployments_apart,
     .description = "three deployments on one redis-server (default, --redis-prefix other, "
                    "db 1): each has its own game 100, and no move reaches another's players")
{
    tc_redis_up(1);
    const char *other[] = {"--redis-prefix", "other", NULL};
    char db1[96];
    snprintf(db1, sizeof db1, "%s/1", R.url);
    tc_node_start(0, R.url, NULL);
    tc_node_start(1, R.url, other);
    tc_node_start(2, db1, NULL);
    tc_seat x[3], o[3];
    for (int i = 0; i < 3; i++) {
        tc_pair(&x[i], i, &o[i], i);
        cr_assert_eq(x[i].gid, 100, "deployment %d: first game %lld", i, x[i].gid);
    }
    /* moves in deployments 1 and 2; deployment 0 hears nothing */
    for (int i = 1; i < 3; i++) {
        wsc *oi[] = {o[i].w, NULL};
        json_decref(tc_play(&x[i], 4, oi));
    }
    tc_expect_quiet(x[0].w, 1000, "deployment 0 after the others' moves");
    tc_expect_quiet(o[0].w, 200, "deployment 0 after the others' moves");
    /* and its own X still has the first move */
    wsc *o0[] = {o[0].w, NULL};
    json_t *st = tc_play(&x[0], 0, o0);
    cr_assert_str_eq(tc_sget(st, "board"), "X........");
    json_decref(st);
}
