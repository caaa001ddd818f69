/* test_cluster.c -- several real ttt-server processes sharing one real
 * redis-server: the promises of the Redis store, end to end.
 *
 * Each test starts a redis-server (AOF on) and two or three ttt-server
 * processes on free loopback ports in a temporary directory, plays over real
 * WebSockets, and stops everything by PID in .fini, also when an assertion
 * failed. Nothing is mocked. Waiting is always on a message or a condition
 * with a deadline. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "wsc.h"

#ifndef TTT_SERVER_BIN
#define TTT_SERVER_BIN "build/ttt-server"
#endif

#define MAX_NODES 3
#define T_MSG 5000          /* a reply that takes longer is a failure */
#define T_REAP 15000        /* a dead process' seats turn away within this */

typedef struct node {
    pid_t pid;
    int port;
    char log[600];
} node;

static proc_redis R;
static node N[MAX_NODES];
static int nnodes;
static char *dir;
static wsc_ctx *C;

/* ---- harness ----------------------------------------------------------------------- */

static int http_status(int port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    char req[256], resp[64] = "";
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    int status = -1;
    if (send(fd, req, (size_t)n, 0) == n && recv(fd, resp, sizeof resp - 1, 0) > 12)
        status = atoi(resp + 9);
    close(fd);
    return status;
}

/* Poll /healthz until it answers want (200 or 503), bounded. */
static int wait_health(int port, int want, int timeout_ms)
{
    long long end = proc_now_ms() + timeout_ms;
    while (proc_now_ms() < end) {
        if (http_status(port, "/healthz") == want)
            return 0;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return -1;
}

static void node_start(int i, const char *abandon)
{
    node *n = &N[i];
    char port[16], inst[32];
    n->port = proc_free_port();
    snprintf(port, sizeof port, "%d", n->port);
    snprintf(inst, sizeof inst, "node%d", i);
    snprintf(n->log, sizeof n->log, "%s/%s.log", dir, inst);
    char *argv[] = {TTT_SERVER_BIN, "--host", "127.0.0.1", "--port", port,
                    "--web", TTT_SOURCE_DIR "/web", "--redis", R.url, "--instance", inst,
                    "--abandon-timeout", (char *)(abandon ? abandon : "60"),
                    "--log-level", "debug",
                    /* every client here is 127.0.0.1, and two_thousand_ids opens
                     * 100 waiting games per connection on purpose */
                    "--max-waiting", "0", "--max-waiting-per-ip", "0",
                    "--max-connections-per-ip", "0", "--ip-rate-limit", "0", NULL};
    n->pid = proc_spawn(argv, n->log);
    cr_assert(n->pid > 0 && proc_wait_port(n->port, n->pid, 10000) == 0,
              "%s did not start (log %s)", inst, n->log);
    cr_assert(wait_health(n->port, 200, 10000) == 0, "%s never reached its store", inst);
}

static void cluster_up(int nodes, const char *abandon)
{
    dir = proc_tmpdir("cluster");
    cr_assert(dir, "temp dir");
    cr_assert(proc_redis_start(&R, 1) == 0, "redis-server did not start");
    nnodes = nodes;
    for (int i = 0; i < nodes; i++)
        node_start(i, abandon);
    C = wsc_ctx_new();
    cr_assert(C, "lws client context");
}

static void print_tail(const char *path)
{
    char *text = proc_read_file(path);
    if (!text)
        return;
    size_t len = strlen(text);
    const char *from = len > 3000 ? text + len - 3000 : text;
    fprintf(stderr, "---- tail of %s ----\n%s\n", path, from);
    free(text);
}

static void cluster_down(void)
{
    if (C)
        wsc_ctx_free(C);
    C = NULL;
    for (int i = 0; i < nnodes; i++) {
        if (N[i].pid > 0) {
            int st = proc_stop(N[i].pid, 5000);
            if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                fprintf(stderr, "node%d did not exit 0 on SIGTERM\n", i);
                print_tail(N[i].log);
            }
        }
        N[i].pid = 0;
    }
    if (R.pid > 0 || R.dir)
        proc_redis_stop(&R, 0);
    if (dir) {
        proc_rmtree(dir);
        free(dir);
        dir = NULL;
    }
    nnodes = 0;
}

/* ---- conversation helpers ------------------------------------------------------------- */

static wsc *conn(int node_i)
{
    wsc *w = wsc_connect(C, N[node_i].port, "/ws", T_MSG);
    cr_assert(w, "connect to node%d: %s", node_i, wsc_error(C));
    json_t *j = wsc_expect(w, "welcome", T_MSG);
    cr_assert(j, "welcome from node%d: %s", node_i, wsc_error(C));
    json_decref(j);
    return w;
}

static json_t *expect(wsc *w, const char *type, int ms, const char *what)
{
    json_t *j = wsc_expect(w, type, ms);
    cr_assert(j, "%s: expected %s: %s", what, type, wsc_error(C));
    return j;
}

static const char *sget(json_t *j, const char *k)
{
    const char *v = json_string_value(json_object_get(j, k));
    return v ? v : "";
}

static long long iget(json_t *j, const char *k)
{
    return json_integer_value(json_object_get(j, k));
}

static const char *player(json_t *st, const char *mark)
{
    return json_string_value(json_object_get(json_object_get(st, "players"), mark));
}

typedef struct seat {
    wsc *w;
    long long gid;
    char token[40];
    char mark;
} seat;

static void take_joined(seat *s, json_t *j)
{
    s->gid = iget(j, "game_id");
    snprintf(s->token, sizeof s->token, "%s", sget(j, "token"));
    s->mark = sget(j, "mark")[0];
}

/* X creates on node a, O joins on node b; both have seen the playing state. */
static void pair(seat *x, int a, seat *o, int b)
{
    x->w = conn(a);
    wsc_send(x->w, "{\"type\":\"create\"}");
    json_t *j = expect(x->w, "joined", T_MSG, "create");
    take_joined(x, j);
    json_decref(j);
    json_decref(expect(x->w, "state", T_MSG, "create state"));
    o->w = conn(b);
    wsc_sendf(o->w, "{\"type\":\"join\",\"game_id\":%lld}", x->gid);
    j = expect(o->w, "joined", T_MSG, "join");
    take_joined(o, j);
    json_decref(j);
    cr_assert_eq(o->mark, 'O');
    json_t *so = expect(o->w, "state", T_MSG, "join state (O)");
    json_t *sx = expect(x->w, "state", T_MSG, "join state (X)");
    cr_assert_str_eq(sget(so, "status"), "playing");
    cr_assert_str_eq(sget(sx, "status"), "playing");
    json_decref(so);
    json_decref(sx);
}

/* seat s plays cell; every w in others (NULL-terminated) and s itself see the
 * new state; returns s's copy (caller decrefs). */
static json_t *play(seat *s, int cell, wsc *const *others)
{
    wsc_sendf(s->w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":%d}", s->gid, cell);
    json_t *mine = expect(s->w, "state", T_MSG, "mover's state");
    for (int i = 0; others && others[i]; i++) {
        json_t *st = expect(others[i], "state", T_MSG, "other's state");
        cr_assert_str_eq(sget(st, "board"), sget(mine, "board"), "same board everywhere");
        cr_assert_eq(iget(st, "ply"), iget(mine, "ply"));
        json_decref(st);
    }
    return mine;
}

/* X on process 1 and O on process 2, X takes the centre, then process 1
 * dies with kill -9 (X's socket dies with it). */
static void pair_move_kill_x(seat *x, seat *o)
{
    pair(x, 0, o, 1);
    wsc *ox[] = {o->w, NULL};
    json_decref(play(x, 4, ox));
    proc_kill9(N[0].pid);
    N[0].pid = 0;
}

/* Nothing more arrives on w within ms. */
static void expect_quiet(wsc *w, int ms, const char *what)
{
    char *m = wsc_recv(w, ms);
    cr_assert(!m, "%s: unexpected message %s", what, m ? m : "");
}

/* ---- the tests ------------------------------------------------------------------------------ */

TestSuite(cluster, .fini = cluster_down, .timeout = 120);

Test(cluster, cross_process_game,
     .description = "X on process 1, O on process 2, a spectator on process 3: a whole game, "
                    "everyone sees every state, in order, once")
{
    cluster_up(3, NULL);
    seat x, o;
    pair(&x, 0, &o, 1);
    wsc *spec = conn(2);
    wsc_sendf(spec, "{\"type\":\"watch\",\"game_id\":%lld}", x.gid);
    json_decref(expect(spec, "watching", T_MSG, "watch"));
    json_decref(expect(spec, "state", T_MSG, "watch state"));
    static const int moves[] = {0, 3, 1, 4, 2};   /* X wins on the top row */
    for (int i = 0; i < 5; i++) {
        seat *s = (i % 2) ? &o : &x;
        wsc *others[] = {(i % 2) ? x.w : o.w, spec, NULL};
        json_t *st = play(s, moves[i], others);
        if (i == 4) {
            cr_assert_str_eq(sget(st, "status"), "over");
            cr_assert_str_eq(sget(st, "winner"), "X");
            cr_assert_str_eq(sget(st, "board"), "XXXOO....");
        }
        json_decref(st);
    }
    expect_quiet(spec, 300, "spectator after the end");
    expect_quiet(o.w, 100, "O after the end");
}

Test(cluster, list_and_quick_across_processes,
     .description = "a game created on process 1 is listed on process 2; two quick callers "
                    "on two processes, sent at once, end in one game as X and O")
{
    cluster_up(2, NULL);
    wsc *a = conn(0), *b = conn(1);
    wsc_send(a, "{\"type\":\"create\"}");
    json_t *j = expect(a, "joined", T_MSG, "create");
    long long gid = iget(j, "game_id");
    json_decref(j);
    json_decref(expect(a, "state", T_MSG, "create state"));
    wsc_send(b, "{\"type\":\"list\",\"id\":\"l\"}");
    j = expect(b, "games", T_MSG, "list");
    json_t *games = json_object_get(j, "games");
    cr_assert_eq(json_array_size(games), 1, "one open game");
    cr_assert_eq(iget(json_array_get(games, 0), "game_id"), gid);
    json_decref(j);

    wsc *q1 = conn(0), *q2 = conn(1);
    wsc_send(q1, "{\"type\":\"quick\"}");
    wsc_send(q2, "{\"type\":\"quick\"}");
    json_t *j1 = expect(q1, "joined", T_MSG, "quick 1");
    json_t *j2 = expect(q2, "joined", T_MSG, "quick 2");
    cr_assert_eq(iget(j1, "game_id"), iget(j2, "game_id"), "one game for both quick callers");
    cr_assert_str_neq(sget(j1, "mark"), sget(j2, "mark"), "one X and one O");
    json_decref(j1);
    json_decref(j2);
    /* the list still shows only the created game: quick games are not listed */
    wsc_send(b, "{\"type\":\"list\"}");
    j = expect(b, "games", T_MSG, "list again");
    cr_assert_eq(json_array_size(json_object_get(j, "games")), 1);
    json_decref(j);
}

Test(cluster, kill9_resume_elsewhere,
     .description = "kill -9 of the process holding X: O sees X away, X resumes on the other "
                    "process with its token, O sees X connected, and the game goes on")
{
    cluster_up(2, NULL);
    seat x, o;
    pair_move_kill_x(&x, &o);
    json_t *st = expect(o.w, "state", T_REAP, "X away after kill -9");
    cr_assert_str_eq(player(st, "X"), "away", "X is away");
    cr_assert_str_eq(sget(st, "board"), "....X....", "the board survived");
    json_decref(st);

    /* the dead process' socket is gone; X reconnects through the survivor */
    x.w = conn(1);
    wsc_sendf(x.w, "{\"type\":\"resume\",\"game_id\":%lld,\"token\":\"%s\"}", x.gid, x.token);
    json_t *j = expect(x.w, "joined", T_MSG, "resume");
    cr_assert_str_eq(sget(j, "mark"), "X");
    json_decref(j);
    st = expect(x.w, "state", T_MSG, "resume state");
    cr_assert_str_eq(player(st, "X"), "connected");
    json_decref(st);
    st = expect(o.w, "state", T_MSG, "O sees X back");
    cr_assert_str_eq(player(st, "X"), "connected");
    json_decref(st);
    wsc *xo[] = {x.w, NULL};
    st = play(&o, 0, xo);
    cr_assert_str_eq(sget(st, "board"), "O...X....");
    json_decref(st);
}

Test(cluster, conflicting_moves_one_wins,
     .description = "X holds its seat on both processes and sends two different moves at once "
                    "through both, 40 times: exactly one is accepted each time, the game stays "
                    "legal")
{
    cluster_up(2, NULL);
    int rounds = 0, games = 0;
    while (rounds < 40) {
        seat x, o, x2;
        pair(&x, 0, &o, 1);
        games++;
        /* X's second connection, on process 2 */
        x2 = x;
        x2.w = conn(1);
        wsc_sendf(x2.w, "{\"type\":\"resume\",\"game_id\":%lld,\"token\":\"%s\"}", x.gid, x.token);
        json_decref(expect(x2.w, "joined", T_MSG, "second X connection"));
        json_decref(expect(x2.w, "state", T_MSG, "second X state"));
        json_decref(expect(x.w, "state", T_MSG, "resume state on X"));
        json_decref(expect(o.w, "state", T_MSG, "resume state on O"));
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
            json_t *so = expect(o.w, "state", T_MSG, "O's state after the race");
            cr_assert_eq(iget(so, "ply"), ply + 1, "exactly one move was applied");
            memcpy(b, sget(so, "board"), 9);
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
                    if (strcmp(sget(j, "type"), "state") == 0)
                        states++;
                    else if (strcmp(sget(j, "type"), "error") == 0) {
                        errors++;
                        const char *code = sget(j, "code");
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
            json_t *s1 = expect(o.w, "state", T_MSG, "O's move");
            json_decref(expect(x.w, "state", T_MSG, "O's move on X1"));
            json_decref(expect(x2.w, "state", T_MSG, "O's move on X2"));
            memcpy(b, sget(s1, "board"), 9);
            int over = strcmp(sget(s1, "status"), "over") == 0;
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
        w[i] = conn(i % 2);
    for (int k = 0; k < PER; k++)
        for (int i = 0; i < CONNS; i++)
            wsc_send(w[i], "{\"type\":\"create\"}");
    static char seen[CONNS * PER + 200];
    memset(seen, 0, sizeof seen);
    long long lo = -1, hi = -1;
    for (int i = 0; i < CONNS; i++) {
        for (int k = 0; k < PER; k++) {
            json_t *j = expect(w[i], "joined", 20000, "joined of a create");
            long long id = iget(j, "game_id");
            json_decref(j);
            json_decref(expect(w[i], "state", 20000, "state of a create"));
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
    seat x, o;
    pair(&x, 0, &o, 1);
    wsc *ox[] = {o.w, NULL}, *xo[] = {x.w, NULL};
    json_decref(play(&x, 4, ox));
    json_decref(play(&o, 0, xo));
    proc_redis_stop(&R, 1);
    cr_assert(wait_health(N[0].port, 503, 10000) == 0, "/healthz 503 without Redis");
    wsc_sendf(x.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":8,\"id\":\"u\"}", x.gid);
    json_t *e = expect(x.w, "error", 10000, "move during the outage");
    cr_assert_str_eq(sget(e, "code"), "unavailable");
    cr_assert_str_eq(sget(e, "id"), "u");
    json_decref(e);
    cr_assert(proc_redis_restart(&R) == 0, "redis-server restarts");
    cr_assert(wait_health(N[0].port, 200, 15000) == 0, "node0 healthy again");
    cr_assert(wait_health(N[1].port, 200, 15000) == 0, "node1 healthy again");
    /* presence may have been re-saved on reconnection: skip states that show
     * the same board, then the refused move must not be on it */
    wsc_sendf(x.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":8,\"ply\":2}", x.gid);
    json_t *st = NULL;
    for (int i = 0; i < 5; i++) {
        st = expect(o.w, "state", T_MSG, "state after the return");
        if (iget(st, "ply") == 3)
            break;
        cr_assert_str_eq(sget(st, "board"), "O...X....", "nothing changed meanwhile");
        json_decref(st);
        st = NULL;
    }
    cr_assert(st, "the move after the return was applied");
    cr_assert_str_eq(sget(st, "board"), "O...X...X");
    json_decref(st);
}

Test(cluster, abandon_once_after_kill9,
     .description = "--abandon-timeout 1: the process holding X dies; O sees X away, then "
                    "exactly one final state: O wins by abandon")
{
    cluster_up(2, "1");
    seat x, o;
    pair_move_kill_x(&x, &o);
    json_t *st = expect(o.w, "state", T_REAP, "X away");
    cr_assert_str_eq(player(st, "X"), "away");
    json_decref(st);
    st = expect(o.w, "state", 10000, "the abandon");
    cr_assert_str_eq(sget(st, "status"), "over");
    cr_assert_str_eq(sget(st, "result"), "abandon");
    cr_assert_str_eq(sget(st, "winner"), "O");
    json_decref(st);
    expect_quiet(o.w, 3000, "after the abandon (it runs once)");
}

/* ---- issue 8: definite outcomes, data loss, deployments sharing one Redis ------------- */

/* ttt-server number i with extra arguments (NULL-terminated, at most 4) */
static void node_start_with(int i, const char *url, const char *const *extra)
{
    node *n = &N[i];
    char port[16], inst[32];
    n->port = proc_free_port();
    snprintf(port, sizeof port, "%d", n->port);
    snprintf(inst, sizeof inst, "node%d", i);
    snprintf(n->log, sizeof n->log, "%s/%s.log", dir, inst);
    char *argv[24] = {TTT_SERVER_BIN, "--host", "127.0.0.1", "--port", port,
                      "--web", TTT_SOURCE_DIR "/web", "--redis", (char *)url, "--instance", inst,
                      "--log-level", "debug"};
    int k = 13;
    for (int e = 0; extra && extra[e] && e < 4; e++)
        argv[k++] = (char *)extra[e];
    argv[k] = NULL;
    n->pid = proc_spawn(argv, n->log);
    cr_assert(n->pid > 0 && proc_wait_port(n->port, n->pid, 10000) == 0,
              "%s did not start (log %s)", inst, n->log);
    cr_assert(wait_health(n->port, 200, 10000) == 0, "%s never reached its store", inst);
    if (i >= nnodes)
        nnodes = i + 1;
}

/* redis-server with or without AOF, no nodes yet */
static void redis_up(int aof)
{
    dir = proc_tmpdir("cluster");
    cr_assert(dir, "temp dir");
    cr_assert(proc_redis_start(&R, aof) == 0, "redis-server did not start");
    C = wsc_ctx_new();
    cr_assert(C, "lws client context");
}

static void redis_cli_cluster(const char *a1, const char *a2)
{
    char cli[512], port[16];
    snprintf(cli, sizeof(cli), "%s", TTT_REDIS_SERVER);
    char *slash = strrchr(cli, '/');
    snprintf(slash ? slash + 1 : cli, sizeof(cli) - (size_t)(slash ? slash + 1 - cli : 0),
             "redis-cli");
    snprintf(port, sizeof(port), "%d", R.port);
    char *argv[] = {cli, "-p", port, (char *)a1, (char *)a2, NULL};
    pid_t pid = proc_spawn(argv, "/dev/null");
    cr_assert(pid > 0);
    int st = proc_wait_exit(pid, 5000);
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "redis-cli %s failed", a1);
}

/* an error with this code arrives on w, skipping states */
static void expect_error(wsc *w, const char *code, int ms, const char *what)
{
    long long end = proc_now_ms() + ms;
    for (;;) {
        long long left = end - proc_now_ms();
        cr_assert(left > 0, "%s: no %s error", what, code);
        json_t *j = wsc_recv_json(w, (int)left);
        cr_assert(j, "%s: no %s error: %s", what, code, wsc_error(C));
        const char *type = sget(j, "type");
        if (strcmp(type, "error") == 0) {
            cr_assert_str_eq(sget(j, "code"), code, "%s", what);
            json_decref(j);
            return;
        }
        cr_assert_str_eq(type, "state", "%s: unexpected %s", what, type);
        json_decref(j);
    }
}

/* create on a fresh connection to node i, retrying "unavailable" for a
 * bounded time (a store that just lost its data creates nothing for 2.5 s);
 * returns the new game's id */
static long long create_on(int i)
{
    wsc *w = conn(i);
    long long end = proc_now_ms() + 10000;
    for (;;) {
        wsc_send(w, "{\"type\":\"create\"}");
        json_t *j = wsc_recv_json(w, T_MSG);
        cr_assert(j, "create on node%d: no answer", i);
        if (strcmp(sget(j, "type"), "joined") == 0) {
            long long id = iget(j, "game_id");
            json_decref(j);
            return id;
        }
        cr_assert_str_eq(sget(j, "type"), "error");
        cr_assert_str_eq(sget(j, "code"), "unavailable", "create on node%d", i);
        json_decref(j);
        cr_assert(proc_now_ms() < end, "create on node%d: unavailable for 10 s", i);
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void lost_case(int restart)
{
    redis_up(!restart);
    node_start_with(0, R.url, NULL);
    node_start_with(1, R.url, NULL);
    seat x, o;
    pair(&x, 0, &o, 1);
    cr_assert_eq(x.gid, 100);
    wsc *ox[] = {o.w, NULL};
    json_decref(play(&x, 4, ox));
    if (restart) {
        proc_kill9(R.pid);
        R.pid = -1;
        cr_assert(proc_redis_restart(&R) == 0, "redis-server restarts (empty)");
    } else {
        redis_cli_cluster("FLUSHALL", NULL);
    }
    /* both players hear that their game is gone, instead of another's */
    expect_error(x.w, "no_such_game", 15000, "X after the loss");
    expect_error(o.w, "no_such_game", 15000, "O after the loss");
    /* a newcomer's game never gets the old id, on either process */
    long long a = create_on(0), b = create_on(1);
    cr_assert(a > 100 && b > 100 && a != b, "ids after the loss: %lld, %lld", a, b);
    /* the old game answers no_such_game, not the newcomer's board */
    wsc_sendf(o.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":0}", o.gid);
    expect_error(o.w, "no_such_game", T_MSG, "a move in the lost game");
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
    redis_up(1);
    node_start_with(0, R.url, NULL);
    node_start_with(1, R.url, NULL);
    seat x, o;
    pair(&x, 0, &o, 1);
    cr_assert_eq(kill(R.pid, SIGSTOP), 0);
    wsc_sendf(x.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":4,\"id\":\"m\"}", x.gid);
    char *early = wsc_recv(x.w, 7000);
    kill(R.pid, SIGCONT);
    cr_assert(!early, "answered while Redis was frozen: %s", early ? early : "");
    json_t *j = wsc_recv_json(x.w, 30000);
    cr_assert(j, "no answer after Redis resumed");
    cr_assert_str_eq(sget(j, "type"), "state", "the applied move was answered %s %s",
                     sget(j, "type"), sget(j, "code"));
    cr_assert_str_eq(sget(j, "board"), "....X....");
    json_decref(j);
    /* the opponent sees the same single move */
    json_t *so = expect(o.w, "state", 30000, "O sees the move");
    cr_assert_str_eq(sget(so, "board"), "....X....");
    json_decref(so);
}

Test(cluster, deployments_apart,
     .description = "three deployments on one redis-server (default, --redis-prefix other, "
                    "db 1): each has its own game 100, and no move reaches another's players")
{
    redis_up(1);
    const char *other[] = {"--redis-prefix", "other", NULL};
    char db1[96];
    snprintf(db1, sizeof db1, "%s/1", R.url);
    node_start_with(0, R.url, NULL);
    node_start_with(1, R.url, other);
    node_start_with(2, db1, NULL);
    seat x[3], o[3];
    for (int i = 0; i < 3; i++) {
        pair(&x[i], i, &o[i], i);
        cr_assert_eq(x[i].gid, 100, "deployment %d: first game %lld", i, x[i].gid);
    }
    /* moves in deployments 1 and 2; deployment 0 hears nothing */
    for (int i = 1; i < 3; i++) {
        wsc *oi[] = {o[i].w, NULL};
        json_decref(play(&x[i], 4, oi));
    }
    expect_quiet(x[0].w, 1000, "deployment 0 after the others' moves");
    expect_quiet(o[0].w, 200, "deployment 0 after the others' moves");
    /* and its own X still has the first move */
    wsc *o0[] = {o[0].w, NULL};
    json_t *st = play(&x[0], 0, o0);
    cr_assert_str_eq(sget(st, "board"), "X........");
    json_decref(st);
}
