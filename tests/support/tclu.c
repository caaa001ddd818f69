/* tclu.c -- the multi-process harness of tclu.h: redis-server and ttt-server
 * processes started and stopped by PID, HTTP probes, and the conversation
 * helpers the cluster suites share. */
#define _GNU_SOURCE
#include "tclu.h"

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

#define EXTRA_MAX 16

proc_redis R;
tc_node N[TCLU_MAX_NODES];
int nnodes;
char *dir;
wsc_ctx *C;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- processes ---------------------------------------------------------------------- */

void tc_redis_up(int aof)
{
    dir = proc_tmpdir("cluster");
    cr_assert(dir, "temp dir");
    cr_assert(proc_redis_start(&R, aof) == 0, "redis-server did not start");
    C = wsc_ctx_new();
    cr_assert(C, "lws client context");
}

void tc_node_start(int i, const char *url, const char *const *extra)
{
    cr_assert(i >= 0 && i < TCLU_MAX_NODES, "node %d", i);
    tc_node *n = &N[i];
    char port[16], inst[32];
    n->port = proc_free_port();
    snprintf(port, sizeof port, "%d", n->port);
    snprintf(inst, sizeof inst, "node%d", i);
    snprintf(n->log, sizeof n->log, "%s/%s-%d.log", dir, inst, n->port);
    char *argv[14 + EXTRA_MAX + 1] = {
        TTT_SERVER_BIN, "--host", "127.0.0.1", "--port", port, "--web", TTT_SOURCE_DIR "/web",
        "--redis", (char *)url, "--instance", inst, "--log-level", "debug"};
    int k = 13;
    for (int e = 0; extra && extra[e]; e++) {
        cr_assert(e < EXTRA_MAX, "more than %d extra arguments", EXTRA_MAX);
        argv[k++] = (char *)extra[e];
    }
    argv[k] = NULL;
    n->pid = proc_spawn(argv, n->log);
    cr_assert(n->pid > 0 && proc_wait_port(n->port, n->pid, 10000) == 0,
              "%s did not start (log %s)", inst, n->log);
    cr_assert(tc_wait_health(n->port, 200, 10000) == 0, "%s never reached its store", inst);
    if (i >= nnodes)
        nnodes = i + 1;
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

void tc_down(void)
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

void tc_redis_cli(const char *a1, const char *a2)
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

/* ---- HTTP ------------------------------------------------------------------------------ */

int tc_http_get(int port, const char *path, char **body)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
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

int tc_wait_health(int port, int want, int timeout_ms)
{
    long long end = proc_now_ms() + timeout_ms;
    while (proc_now_ms() < end) {
        if (tc_http_get(port, "/healthz", NULL) == want)
            return 0;
        sleep_ms(50);
    }
    return -1;
}

/* ---- conversation ------------------------------------------------------------------------ */

wsc *tc_conn(int node_i)
{
    wsc *w = wsc_connect(C, N[node_i].port, "/ws", T_MSG);
    cr_assert(w, "connect to node%d: %s", node_i, wsc_error(C));
    json_t *j = wsc_expect(w, "welcome", T_MSG);
    cr_assert(j, "welcome from node%d: %s", node_i, wsc_error(C));
    json_decref(j);
    return w;
}

json_t *tc_expect(wsc *w, const char *type, int ms, const char *what)
{
    json_t *j = wsc_expect(w, type, ms);
    cr_assert(j, "%s: expected %s: %s", what, type, wsc_error(C));
    return j;
}

void tc_expect_error(wsc *w, const char *code, int ms, const char *what)
{
    long long end = proc_now_ms() + ms;
    for (;;) {
        long long left = end - proc_now_ms();
        cr_assert(left > 0, "%s: no %s error", what, code);
        json_t *j = wsc_recv_json(w, (int)left);
        cr_assert(j, "%s: no %s error: %s", what, code, wsc_error(C));
        const char *type = tc_sget(j, "type");
        if (strcmp(type, "error") == 0) {
            cr_assert_str_eq(tc_sget(j, "code"), code, "%s", what);
            json_decref(j);
            return;
        }
        cr_assert_str_eq(type, "state", "%s: unexpected %s", what, type);
        json_decref(j);
    }
}

void tc_expect_quiet(wsc *w, int ms, const char *what)
{
    char *m = wsc_recv(w, ms);
    cr_assert(!m, "%s: unexpected message %s", what, m ? m : "");
}

const char *tc_sget(json_t *j, const char *k)
{
    const char *v = json_string_value(json_object_get(j, k));
    return v ? v : "";
}

long long tc_iget(json_t *j, const char *k)
{
    return json_integer_value(json_object_get(j, k));
}

const char *tc_player(json_t *st, const char *mark)
{
    return json_string_value(json_object_get(json_object_get(st, "players"), mark));
}

void tc_take_joined(tc_seat *s, json_t *j)
{
    s->gid = tc_iget(j, "game_id");
    snprintf(s->token, sizeof s->token, "%s", tc_sget(j, "token"));
    s->mark = tc_sget(j, "mark")[0];
}

void tc_pair(tc_seat *x, int a, tc_seat *o, int b)
{
    x->w = tc_conn(a);
    wsc_send(x->w, "{\"type\":\"create\"}");
    json_t *j = tc_expect(x->w, "joined", T_MSG, "create");
    tc_take_joined(x, j);
    json_decref(j);
    json_decref(tc_expect(x->w, "state", T_MSG, "create state"));
    o->w = tc_conn(b);
    wsc_sendf(o->w, "{\"type\":\"join\",\"game_id\":%lld}", x->gid);
    j = tc_expect(o->w, "joined", T_MSG, "join");
    tc_take_joined(o, j);
    json_decref(j);
    cr_assert_eq(o->mark, 'O');
    json_t *so = tc_expect(o->w, "state", T_MSG, "join state (O)");
    json_t *sx = tc_expect(x->w, "state", T_MSG, "join state (X)");
    cr_assert_str_eq(tc_sget(so, "status"), "playing");
    cr_assert_str_eq(tc_sget(sx, "status"), "playing");
    json_decref(so);
    json_decref(sx);
}

json_t *tc_play(tc_seat *s, int cell, wsc *const *others)
{
    wsc_sendf(s->w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":%d}", s->gid, cell);
    json_t *mine = tc_expect(s->w, "state", T_MSG, "mover's state");
    for (int i = 0; others && others[i]; i++) {
        json_t *st = tc_expect(others[i], "state", T_MSG, "other's state");
        cr_assert_str_eq(tc_sget(st, "board"), tc_sget(mine, "board"), "same board everywhere");
        cr_assert_eq(tc_iget(st, "ply"), tc_iget(mine, "ply"));
        json_decref(st);
    }
    return mine;
}
