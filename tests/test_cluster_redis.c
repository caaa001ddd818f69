/* test_cluster_redis.c -- real ttt-server processes on a real Redis Cluster
 * (3 primaries, 1 replica each, from tests/support/rcluster.c), each server
 * seeded with one node only: X and O on different processes in games whose
 * slots lie on different primaries, ids across processes, racing moves, the
 * kill -9 of the primary that owns a live game's slot (with --redis-wait 1:
 * no accepted move lost), and a live game's slot migrated to another primary.
 * Everything is started on free loopback ports and stopped by PID in .fini;
 * every wait is on a message or a condition with a deadline. */
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
#include "rcluster.h"
#include "redis_slot.h"
#include "wsc.h"

#ifndef TTT_SERVER_BIN
#define TTT_SERVER_BIN "build/ttt-server"
#endif

#define NODES 2
#define T_MSG 5000
#define T_FAILOVER 30000     /* a move through a failover is accepted within this */

typedef struct node {
    pid_t pid;
    int port;
    char log[600];
} node;

static rcluster RC;
static int rc_up;
static node N[NODES];
static char *dir;
static wsc_ctx *C;

/* ---- harness ----------------------------------------------------------------------- */

static void nap(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int healthz(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int status = -1;
    char resp[64] = "";
    const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        send(fd, req, sizeof req - 1, 0) == (ssize_t)(sizeof req - 1) &&
        recv(fd, resp, sizeof resp - 1, 0) > 12)
        status = atoi(resp + 9);
    close(fd);
    return status;
}

/* Server i seeded with cluster node `seed` only; wait_arg is --redis-wait. */
static void node_start(int i, int seed, const char *wait_arg)
{
    node *n = &N[i];
    char port[16], inst[32], url[64];
    n->port = proc_free_port();
    snprintf(port, sizeof port, "%d", n->port);
    snprintf(inst, sizeof inst, "node%d", i);
    snprintf(n->log, sizeof n->log, "%s/%s.log", dir, inst);
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", RC.node[seed].port);
    char *argv[] = {TTT_SERVER_BIN, "--host", "127.0.0.1", "--port", port,
                    "--web", TTT_SOURCE_DIR "/web", "--redis", url, "--instance", inst,
                    "--redis-wait", (char *)(wait_arg ? wait_arg : "0"), "--log-level", "info",
                    "--max-waiting", "0", "--max-waiting-per-ip", "0",
                    "--max-connections-per-ip", "0", "--ip-rate-limit", "0", NULL};
    n->pid = proc_spawn(argv, n->log);
    cr_assert(n->pid > 0 && proc_wait_port(n->port, n->pid, 10000) == 0,
              "%s did not start (log %s)", inst, n->log);
    long long end = proc_now_ms() + 15000;
    while (healthz(n->port) != 200 && proc_now_ms() < end)
        nap(50);
    cr_assert_eq(healthz(n->port), 200, "%s never reached the cluster (log %s)", inst, n->log);
}

static void up(const char *wait_arg)
{
    dir = proc_tmpdir("rcl");
    cr_assert(dir, "temp dir");
    cr_assert_eq(rcluster_start(&RC, 3, 1), 0, "the Redis Cluster did not start");
    rc_up = 1;
    /* seeded with different nodes: each finds the others from the map */
    node_start(0, 0, wait_arg);
    node_start(1, 1, wait_arg);
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
            if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                char *text = proc_read_file(N[i].log);
                size_t len = text ? strlen(text) : 0;
                fprintf(stderr, "node%d did not exit 0 on SIGTERM; log tail:\n%s\n", i,
                        text ? (len > 3000 ? text + len - 3000 : text) : "");
                free(text);
            }
        }
        N[i].pid = 0;
    }
    if (rc_up)
        rcluster_stop(&RC);
    rc_up = 0;
    if (dir && getenv("TTT_TEST_KEEP"))   /* keep the logs for a look */
        fprintf(stderr, "logs kept in %s\n", dir);
    else if (dir) {
        proc_rmtree(dir);
        free(dir);
        dir = NULL;
    }
}

/* ---- conversation helpers ------------------------------------------------------------- */

static wsc *conn(int i)
{
    wsc *w = wsc_connect(C, N[i].port, "/ws", T_MSG);
    cr_assert(w, "connect to node%d: %s", i, wsc_error(C));
    json_t *j = wsc_expect(w, "welcome", T_MSG);
    cr_assert(j, "welcome from node%d: %s", i, wsc_error(C));
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

static long long iget(json_t *j, const char *k) { return json_integer_value(json_object_get(j, k)); }

typedef struct seat {
    wsc *w;
    long long gid;
    char token[40];
} seat;

/* X creates on node a, O joins on node b; both have seen the playing state. */
static void pair(seat *x, int a, seat *o, int b)
{
    x->w = conn(a);
    wsc_send(x->w, "{\"type\":\"create\"}");
    json_t *j = expect(x->w, "joined", T_MSG, "create");
    x->gid = iget(j, "game_id");
    snprintf(x->token, sizeof x->token, "%s", sget(j, "token"));
    json_decref(j);
    json_decref(expect(x->w, "state", T_MSG, "create state"));
    o->w = conn(b);
    o->gid = x->gid;
    wsc_sendf(o->w, "{\"type\":\"join\",\"game_id\":%lld}", x->gid);
    json_decref(expect(o->w, "joined", T_MSG, "join"));
    json_t *so = expect(o->w, "state", T_MSG, "join state (O)");
    json_t *sx = expect(x->w, "state", T_MSG, "join state (X)");
    cr_assert_str_eq(sget(so, "status"), "playing");
    cr_assert_str_eq(sget(sx, "status"), "playing");
    json_decref(so);
    json_decref(sx);
}

/* the primary (node index) owning game id's slot */
static int owner_of(long long id)
{
    char tag[24];
    int n = snprintf(tag, sizeof tag, "%lld", id);
    return rcluster_owner(&RC, -1, redis_key_slot(tag, (size_t)n));
}

/* The next state of w with ply >= ply (older copies, re-sent after a
 * failover, are skipped); NULL when none came within ms. */
static json_t *state_at(wsc *w, long long ply, int ms)
{
    long long end = proc_now_ms() + ms;
    while (proc_now_ms() < end) {
        json_t *j = wsc_recv_json(w, (int)(end - proc_now_ms()));
        if (!j)
            return NULL;
        if (strcmp(sget(j, "type"), "state") == 0 && iget(j, "ply") >= ply)
            return j;
        json_decref(j);
    }
    return NULL;
}

/* s moves to cell as ply `ply`, again while the store answers `unavailable`
 * (a failover or a migration under way); the other seat (unless NULL) sees
 * the same board.
 * Returns the accepted board into board (10 bytes) and how many times the
 * move was refused as unavailable. */
static int move_through(seat *s, seat *other, int cell, long long ply, char board[10])
{
    long long end = proc_now_ms() + T_FAILOVER;
    int unavailable = 0;
    for (;;) {
        cr_assert(proc_now_ms() < end, "move %lld not accepted within %d ms", ply, T_FAILOVER);
        wsc_sendf(s->w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":%d,\"ply\":%lld}", s->gid,
                  cell, ply);
        json_t *j = NULL;
        for (;;) {
            j = wsc_recv_json(s->w, T_FAILOVER);
            cr_assert(j, "no answer to move %lld: %s", ply, wsc_error(C));
            if (strcmp(sget(j, "type"), "error") == 0 ||
                (strcmp(sget(j, "type"), "state") == 0 && iget(j, "ply") > ply))
                break;
            json_decref(j);   /* an older state re-sent after a failover */
        }
        if (strcmp(sget(j, "type"), "state") == 0) {
            cr_assert_eq(iget(j, "ply"), ply + 1, "the move made ply %lld", ply + 1);
            memcpy(board, sget(j, "board"), 9);
            board[9] = '\0';
            json_decref(j);
            break;
        }
        const char *code = sget(j, "code");
        cr_assert(strcmp(code, "unavailable") == 0, "move %lld refused: %s", ply, code);
        unavailable++;
        json_decref(j);
        nap(200);
    }
    if (!other)
        return unavailable;
    json_t *st = state_at(other->w, ply + 1, T_FAILOVER);
    cr_assert(st, "the other player never saw ply %lld", ply + 1);
    cr_assert_str_eq(sget(st, "board"), board, "same board on both processes");
    json_decref(st);
    return unavailable;
}

/* a spectator's view of game gid through node i */
static json_t *watch_state(int i, long long gid)
{
    wsc *w = conn(i);
    wsc_sendf(w, "{\"type\":\"watch\",\"game_id\":%lld}", gid);
    json_decref(expect(w, "watching", T_MSG, "watch"));
    json_t *st = expect(w, "state", T_MSG, "watch state");
    wsc_close(w);
    return st;
}

/* a drawn game: no line for either mark before ply 9 */
static const int DRAW[9] = {0, 1, 2, 4, 3, 5, 7, 6, 8};

/* ---- the tests ---------------------------------------------------------------------- */

TestSuite(rcluster, .fini = down, .timeout = 180);

Test(rcluster, two_processes_two_primaries,
     .description = "X on one process and O on the other, in a game whose slot is on another "
                    "primary than the previous game's: a whole game, both see every state")
{
    up(NULL);
    seat x0, o0;
    pair(&x0, 0, &o0, 1);
    int first = owner_of(x0.gid);
    cr_assert(first >= 0, "the owner of game %lld", x0.gid);
    seat x, o;
    int tries = 0;
    do {
        cr_assert(tries++ < 20, "20 games in a row on one primary");
        pair(&x, 0, &o, 1);
    } while (owner_of(x.gid) == first);
    char board[10];
    for (int i = 0; i < 9; i++)
        move_through(i % 2 ? &o : &x, i % 2 ? &x : &o, DRAW[i], i, board);
    cr_assert_str_eq(board, "XOXXOOOXX", "the drawn board");
    json_t *st = watch_state(1, x.gid);
    cr_assert_str_eq(sget(st, "status"), "over");
    cr_assert_str_eq(sget(st, "board"), board);
    json_decref(st);
    cr_log_info("games %lld (primary %d) and %lld (primary %d)", x0.gid, first, x.gid,
                owner_of(x.gid));
}

Test(rcluster, two_thousand_ids,
     .description = "2,000 creates spread over two processes at once get exactly 100..2099")
{
    up(NULL);
    enum { CONNS = 20, PER = 100 };
    wsc *w[CONNS];
    for (int i = 0; i < CONNS; i++)
        w[i] = conn(i % 2);
    for (int k = 0; k < PER; k++)
        for (int i = 0; i < CONNS; i++)
            wsc_send(w[i], "{\"type\":\"create\"}");
    static char seen[CONNS * PER];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < CONNS; i++)
        for (int k = 0; k < PER; k++) {
            json_t *j = expect(w[i], "joined", 30000, "joined of a create");
            long long id = iget(j, "game_id");
            json_decref(j);
            json_decref(expect(w[i], "state", 30000, "state of a create"));
            cr_assert(id >= 100 && id < 100 + CONNS * PER, "id %lld in 100..2099", id);
            cr_assert(!seen[id - 100], "id %lld handed out twice", id);
            seen[id - 100] = 1;
        }
    for (int i = 0; i < CONNS * PER; i++)
        cr_assert(seen[i], "id %d missing", 100 + i);
}

Test(rcluster, racing_moves_one_wins,
     .description = "X on both processes sends two different moves at once, 8 times: exactly "
                    "one is accepted each time")
{
    up(NULL);
    for (int round = 0; round < 8; round++) {
        seat x, o, x2;
        pair(&x, 0, &o, 1);
        x2 = x;
        x2.w = conn(1);
        wsc_sendf(x2.w, "{\"type\":\"resume\",\"game_id\":%lld,\"token\":\"%s\"}", x.gid, x.token);
        json_decref(expect(x2.w, "joined", T_MSG, "second X connection"));
        json_decref(expect(x2.w, "state", T_MSG, "second X state"));
        json_decref(expect(x.w, "state", T_MSG, "resume state on X"));
        json_decref(expect(o.w, "state", T_MSG, "resume state on O"));
        wsc_sendf(x.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":0,\"ply\":0}", x.gid);
        wsc_sendf(x2.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":8,\"ply\":0}", x.gid);
        json_t *so = expect(o.w, "state", T_MSG, "O's state after the race");
        cr_assert_eq(iget(so, "ply"), 1, "exactly one move was applied");
        const char *b = sget(so, "board");
        cr_assert((b[0] == 'X') + (b[8] == 'X') == 1, "one of the two cells is X: %s", b);
        json_decref(so);
        int errors = 0;
        wsc *xs[2] = {x.w, x2.w};
        for (int k = 0; k < 2; k++)
            for (int m = 0; m < 2; m++) {
                json_t *j = wsc_recv_json(xs[k], m == 0 ? T_MSG : 300);
                if (!j)
                    break;
                errors += strcmp(sget(j, "type"), "error") == 0;
                json_decref(j);
            }
        cr_assert_eq(errors, 1, "exactly one of the two moves was refused");
        char *m = wsc_recv(o.w, 200);
        cr_assert(!m, "O got a second state: %s", m ? m : "");
        wsc_close(x.w);
        wsc_close(x2.w);
        wsc_close(o.w);
    }
}

Test(rcluster, kill9_primary_no_move_lost,
     .description = "--redis-wait 1: kill -9 of the primary owning a live game's slot while both "
                    "players keep moving; every accepted move survives, the game ends right")
{
    up("1");
    seat x, o;
    pair(&x, 0, &o, 1);
    int victim = owner_of(x.gid);
    cr_assert(victim >= 0);
    char board[10];
    int refused = 0;
    for (int i = 0; i < 9; i++) {
        if (i == 2) {
            rcluster_kill9(&RC, victim);
            cr_log_info("killed primary %d (port %d), owner of game %lld", victim,
                        RC.node[victim].port, x.gid);
        }
        refused += move_through(i % 2 ? &o : &x, i % 2 ? &x : &o, DRAW[i], i, board);
    }
    cr_assert_str_eq(board, "XOXXOOOXX");
    cr_assert_neq(owner_of(x.gid), victim, "a replica took over the slot");
    json_t *st = watch_state(0, x.gid);
    cr_assert_str_eq(sget(st, "status"), "over", "the stored game is over");
    cr_assert_str_eq(sget(st, "board"), board, "every accepted move is in the stored board");
    cr_assert_eq(iget(st, "ply"), 9);
    json_decref(st);
    cr_log_info("moves refused as unavailable during the failover: %d", refused);
}

Test(rcluster, slot_migrated_while_playing,
     .description = "a live game's slot moves to another primary (SETSLOT + MIGRATE) between "
                    "and during moves; the game goes on to its end on both processes")
{
    up(NULL);
    seat x, o;
    pair(&x, 0, &o, 1);
    char tag[24];
    int tl = snprintf(tag, sizeof tag, "%lld", x.gid);
    unsigned slot = redis_key_slot(tag, (size_t)tl);
    int src = owner_of(x.gid), dst = rcluster_other_primary(&RC, src);
    cr_assert(src >= 0 && dst >= 0);
    char board[10];
    move_through(&x, &o, DRAW[0], 0, board);
    cr_assert_eq(rcluster_migrate_begin(&RC, slot, src, dst), 0, "SETSLOT IMPORTING/MIGRATING");
    move_through(&o, &x, DRAW[1], 1, board);          /* the slot is migrating */
    cr_assert_eq(rcluster_migrate_keys(&RC, slot, src, dst), 0, "MIGRATE");
    /* keys on dst: the save goes there by ASK, and SPUBLISHes there, while
     * O is still subscribed on src (the slot's owner): O hears of it once
     * the slot is dst's and its subscription moved (redis_sub re-reads) */
    move_through(&x, NULL, DRAW[2], 2, board);
    cr_assert_eq(rcluster_migrate_end(&RC, slot, dst), 0, "SETSLOT NODE");
    json_t *late = state_at(o.w, 3, T_FAILOVER);
    cr_assert(late, "O never saw the move made while the slot was moving");
    cr_assert_str_eq(sget(late, "board"), board);
    json_decref(late);
    for (int i = 3; i < 9; i++)                       /* MOVED, then the new map */
        move_through(i % 2 ? &o : &x, i % 2 ? &x : &o, DRAW[i], i, board);
    cr_assert_eq(rcluster_wait_ok(&RC, 10000), 0);
    cr_assert_eq(owner_of(x.gid), dst, "the slot is on the other primary now");
    json_t *st = watch_state(1, x.gid);
    cr_assert_str_eq(sget(st, "board"), board);
    cr_assert_str_eq(sget(st, "status"), "over");
    json_decref(st);
}
