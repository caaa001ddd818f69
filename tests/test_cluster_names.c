/* test_cluster_names.c -- "Version 1, additions" across real ttt-server
 * processes sharing one real redis-server: names and the series of a
 * rematch chain live in the stored record, so they survive a process dying
 * (kill -9), a process restarting, and are read the same on every process
 * (the games list, /api/games/{id}). Part of the test_cluster binary, with a
 * small harness of its own (test_cluster.c's is file-local). Waiting is on a
 * message or a condition with a deadline. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>
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

#define NODES 2
#define T_MSG 5000          /* a reply that takes longer is a failure */
#define T_REAP 15000        /* a dead process' seats turn away within this */

typedef struct node {
    pid_t pid;
    int port;
    char log[600];
} node;

static proc_redis R;
static node N[NODES];
static char *dir;
static wsc_ctx *C;

/* ---- harness ----------------------------------------------------------------------- */

/* GET path on port: the status, and the body (malloc'd) in *body when given. */
static int http_get(int port, const char *path, char **body)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    char req[256], resp[16384];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     path);
    size_t got = 0;
    ssize_t r;
    if (send(fd, req, (size_t)n, 0) != n) {
        close(fd);
        return -1;
    }
    while (got < sizeof resp - 1 && (r = recv(fd, resp + got, sizeof resp - 1 - got, 0)) > 0)
        got += (size_t)r;
    close(fd);
    resp[got] = '\0';
    if (got < 12)
        return -1;
    if (body) {
        char *b = strstr(resp, "\r\n\r\n");
        *body = strdup(b ? b + 4 : "");
    }
    return atoi(resp + 9);
}

static int wait_health(int port, int timeout_ms)
{
    long long end = proc_now_ms() + timeout_ms;
    while (proc_now_ms() < end) {
        if (http_get(port, "/healthz", NULL) == 200)
            return 0;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return -1;
}

/* (Re)start process i on a fresh port. */
static void node_start(int i)
{
    node *n = &N[i];
    char port[16], inst[32];
    n->port = proc_free_port();
    snprintf(port, sizeof port, "%d", n->port);
    snprintf(inst, sizeof inst, "names%d", i);
    snprintf(n->log, sizeof n->log, "%s/%s-%d.log", dir, inst, n->port);
    char *argv[] = {TTT_SERVER_BIN, "--host", "127.0.0.1", "--port", port,
                    "--web", TTT_SOURCE_DIR "/web", "--redis", R.url, "--instance", inst,
                    "--log-level", "debug", "--max-connections-per-ip", "0",
                    "--ip-rate-limit", "0", NULL};
    n->pid = proc_spawn(argv, n->log);
    cr_assert(n->pid > 0 && proc_wait_port(n->port, n->pid, 10000) == 0,
              "%s did not start (log %s)", inst, n->log);
    cr_assert(wait_health(n->port, 10000) == 0, "%s never reached its store", inst);
}

static void up(void)
{
    dir = proc_tmpdir("cluster-names");
    cr_assert(dir, "temp dir");
    cr_assert(proc_redis_start(&R, 1) == 0, "redis-server did not start");
    for (int i = 0; i < NODES; i++)
        node_start(i);
    C = wsc_ctx_new();
    cr_assert(C, "lws client context");
}

static void down(void)
{
    if (C)
        wsc_ctx_free(C);
    C = NULL;
    for (int i = 0; i < NODES; i++) {
        if (N[i].pid > 0) {
            int st = proc_stop(N[i].pid, 5000);
            if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
                fprintf(stderr, "names%d did not exit 0 on SIGTERM (log %s)\n", i, N[i].log);
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
}

/* ---- conversation -------------------------------------------------------------------- */

static wsc *conn(int i)
{
    wsc *w = wsc_connect(C, N[i].port, "/ws", T_MSG);
    cr_assert(w, "connect to names%d: %s", i, wsc_error(C));
    json_t *j = wsc_expect(w, "welcome", T_MSG);
    cr_assert(j, "welcome from names%d: %s", i, wsc_error(C));
    json_decref(j);
    return w;
}

static json_t *expect(wsc *w, const char *type, int ms, const char *what)
{
    json_t *j = wsc_expect(w, type, ms);
    cr_assert(j, "%s: expected %s: %s", what, type, wsc_error(C));
    return j;
}

static long long iget(json_t *j, const char *k)
{
    return json_integer_value(json_object_get(j, k));
}

static const char *sget(json_t *j, const char *k)
{
    const char *v = json_string_value(json_object_get(j, k));
    return v ? v : "";
}

typedef struct seat {
    wsc *w;
    long long gid;
    char token[40];
} seat;

static void take_joined(seat *s, json_t *j, const char *mark)
{
    cr_assert_str_eq(sget(j, "mark"), mark);
    s->gid = iget(j, "game_id");
    snprintf(s->token, sizeof s->token, "%s", sget(j, "token"));
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
    cr_assert(iget(s, "games") == g && iget(s, "X") == sx && iget(s, "O") == so &&
              iget(s, "draws") == d, "%s: series %s", what, dump);
    free(dump);
    json_decref(st);
}

/* /api/games/{gid} on process i, parsed */
static json_t *api(int i, long long gid)
{
    char path[64], *body = NULL;
    snprintf(path, sizeof path, "/api/games/%lld", gid);
    int status = http_get(N[i].port, path, &body);
    cr_assert_eq(status, 200, "GET %s on names%d: %d", path, i, status);
    json_t *j = json_loads(body, 0, NULL);
    cr_assert(j, "GET %s: not JSON: %s", path, body);
    free(body);
    return j;
}

static void move(seat *s, int cell, wsc *other)
{
    wsc_sendf(s->w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":%d}", s->gid, cell);
    json_decref(expect(s->w, "state", T_MSG, "mover's state"));
    json_decref(expect(other, "state", T_MSG, "other's state"));
}

/* ---- the tests ------------------------------------------------------------------------------ */

TestSuite(cluster_names, .fini = down, .timeout = 180);

Test(cluster_names, list_and_api_elsewhere, .description = "a named game created on process 1 "
     "is listed with its name on process 2; joined there, both processes' /api/games give "
     "the names")
{
    up();
    wsc *a = conn(0), *b = conn(1);
    seat x, o;
    wsc_send(a, "{\"type\":\"create\",\"name\":\"\\u00c5sa \\ud83d\\ude00\"}");
    take_joined(&x, expect(a, "joined", T_MSG, "create"), "X");
    json_decref(expect(a, "state", T_MSG, "create state"));
    wsc_send(b, "{\"type\":\"list\"}");
    json_t *l = expect(b, "games", T_MSG, "list");
    json_t *e = json_array_get(json_object_get(l, "games"), 0);
    cr_assert_eq(iget(e, "game_id"), x.gid);
    cr_assert_str_eq(sget(e, "name"), "\xc3\x85sa \xf0\x9f\x98\x80");
    json_decref(l);
    wsc_sendf(b, "{\"type\":\"join\",\"game_id\":%lld,\"name\":\"Bo\"}", x.gid);
    take_joined(&o, expect(b, "joined", T_MSG, "join"), "O");
    check(expect(b, "state", T_MSG, "join"), "\xc3\x85sa \xf0\x9f\x98\x80", "Bo", 0, 0, 0, 0,
          "join state on process 2");
    check(expect(a, "state", T_MSG, "join"), "\xc3\x85sa \xf0\x9f\x98\x80", "Bo", 0, 0, 0, 0,
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
    wsc *a = conn(0), *b = conn(1);
    seat p, q;
    wsc_send(a, "{\"type\":\"create\",\"name\":\"Pia\"}");
    take_joined(&p, expect(a, "joined", T_MSG, "create"), "X");
    p.w = a;
    json_decref(expect(a, "state", T_MSG, "create state"));
    wsc_sendf(b, "{\"type\":\"join\",\"game_id\":%lld,\"name\":\"Quin\"}", p.gid);
    take_joined(&q, expect(b, "joined", T_MSG, "join"), "O");
    q.w = b;
    json_decref(expect(b, "state", T_MSG, "join state"));
    json_decref(expect(a, "state", T_MSG, "join state"));
    move(&p, 0, b), move(&q, 3, a), move(&p, 1, b), move(&q, 4, a), move(&p, 2, b);
    long long g1 = p.gid;

    /* game 2: Pia asks first, Quin second: Quin X, Pia O */
    wsc_sendf(a, "{\"type\":\"rematch\",\"game_id\":%lld}", g1);
    json_decref(expect(b, "rematch_offer", T_MSG, "offer"));
    wsc_sendf(b, "{\"type\":\"rematch\",\"game_id\":%lld}", g1);
    seat p2, q2;
    take_joined(&q2, expect(b, "joined", T_MSG, "rematch"), "X");
    take_joined(&p2, expect(a, "joined", T_MSG, "rematch"), "O");
    p2.w = a, q2.w = b;
    check(expect(b, "state", T_MSG, "rematch"), "Quin", "Pia", 1, 0, 1, 0, "game 2 starts");
    json_decref(expect(a, "state", T_MSG, "rematch"));
    move(&q2, 4, a);

    /* process 1, holding Pia's seat, dies; then comes back */
    proc_kill9(N[0].pid);
    N[0].pid = 0;
    json_t *st = expect(b, "state", T_REAP, "Pia away after kill -9");
    cr_assert_str_eq(sget(json_object_get(st, "players"), "O"), "away");
    check(st, "Quin", "Pia", 1, 0, 1, 0, "Pia away");
    node_start(0);
    p2.w = conn(0);
    wsc_sendf(p2.w, "{\"type\":\"resume\",\"game_id\":%lld,\"token\":\"%s\"}", p2.gid, p2.token);
    json_decref(expect(p2.w, "joined", T_MSG, "resume"));
    st = expect(p2.w, "state", T_MSG, "resume state");
    cr_assert_str_eq(sget(st, "board"), "....X....", "the board survived");
    cr_assert_eq(json_array_size(json_object_get(st, "times")), 1, "and the move's time");
    check(st, "Quin", "Pia", 1, 0, 1, 0, "resumed on the restarted process");
    check(expect(b, "state", T_MSG, "Pia back"), "Quin", "Pia", 1, 0, 1, 0, "Pia back");

    /* Quin resigns: Pia 2 - 0 */
    wsc_sendf(b, "{\"type\":\"resign\",\"game_id\":%lld}", q2.gid);
    check(expect(b, "state", T_MSG, "resign"), "Quin", "Pia", 2, 0, 2, 0, "game 2 over");
    json_decref(expect(p2.w, "state", T_MSG, "resign"));

    /* game 3 from the restarted process: Pia X again, renamed */
    wsc_sendf(p2.w, "{\"type\":\"rematch\",\"game_id\":%lld,\"name\":\"Pia P.\"}", p2.gid);
    json_decref(expect(b, "rematch_offer", T_MSG, "offer 2"));
    wsc_sendf(b, "{\"type\":\"rematch\",\"game_id\":%lld}", q2.gid);
    seat q3;
    take_joined(&q3, expect(b, "joined", T_MSG, "rematch 2"), "O");
    json_decref(expect(p2.w, "joined", T_MSG, "rematch 2"));
    check(expect(b, "state", T_MSG, "game 3"), "Pia P.", "Quin", 2, 2, 0, 0, "game 3 starts");
    json_decref(expect(p2.w, "state", T_MSG, "game 3"));

    /* every game reads back the same on both processes */
    for (int i = 0; i < NODES; i++) {
        check(api(i, g1), "Pia", "Quin", 1, 1, 0, 0, "game 1 read back");
        check(api(i, q2.gid), "Quin", "Pia", 2, 0, 2, 0, "game 2 read back");
        check(api(i, q3.gid), "Pia P.", "Quin", 2, 2, 0, 0, "game 3 read back");
    }
}
