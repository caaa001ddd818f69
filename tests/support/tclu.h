/* tclu.h -- test support for the multi-process suites (test_cluster): one
 * real redis-server and up to TCLU_MAX_NODES real ttt-server processes on
 * free loopback ports in a temporary directory, talked to over real
 * WebSockets, all stopped by PID in tc_down() (the suites' .fini), also
 * after a failed assertion. Every wait has a deadline.
 *
 * The state is global, as in tsrv.h: one suite runs at a time per process
 * (ctest runs the binary with --jobs 1). */
#ifndef TCLU_H
#define TCLU_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <sys/types.h>

#include "proc.h"
#include "wsc.h"

#ifndef TTT_SERVER_BIN
#define TTT_SERVER_BIN "build/ttt-server"
#endif

#define TCLU_MAX_NODES 3
#define T_MSG 5000          /* a reply that takes longer is a failure */
#define T_REAP 15000        /* a dead process' seats turn away within this */

typedef struct tc_node {
    pid_t pid;              /* 0 when not running */
    int port;
    char log[600];
} tc_node;

extern proc_redis R;
extern tc_node N[TCLU_MAX_NODES];
extern int nnodes;          /* nodes started so far: tc_down() stops them */
extern char *dir;           /* the temporary directory, logs in it */
extern wsc_ctx *C;

/* ---- processes ---- */
/* The temporary directory, a redis-server (AOF on when aof) and the client
 * context; no ttt-server yet. */
void tc_redis_up(int aof);
/* (Re)start ttt-server number i on a fresh port against url, with extra
 * arguments (NULL-terminated, at most 16), and wait for /healthz 200. Its
 * log is dir/node<i>-<port>.log, so a restart keeps the old one. */
void tc_node_start(int i, const char *url, const char *const *extra);
/* Stop every process (SIGTERM, reporting one that does not exit 0), remove
 * the directory. */
void tc_down(void);
/* redis-cli -p <R.port> a1 [a2]; asserts it exits 0 */
void tc_redis_cli(const char *a1, const char *a2);

/* ---- HTTP ---- */
/* GET path on port: the status (-1 when nothing came), and the body
 * (malloc'd) in *body when body is not NULL. */
int tc_http_get(int port, const char *path, char **body);
/* Poll /healthz until it answers want (200 or 503), bounded: 0 or -1. */
int tc_wait_health(int port, int want, int timeout_ms);

/* ---- conversation ---- */
typedef struct tc_seat {
    wsc *w;
    long long gid;
    char token[40];
    char mark;
} tc_seat;

/* A connection to node i that got its welcome. */
wsc *tc_conn(int node_i);
/* The next message of that type on w within ms (others before it are
 * skipped by wsc_expect), or the test fails naming what. */
json_t *tc_expect(wsc *w, const char *type, int ms, const char *what);
/* An error with this code on w within ms, skipping states. */
void tc_expect_error(wsc *w, const char *code, int ms, const char *what);
/* Nothing more arrives on w within ms. */
void tc_expect_quiet(wsc *w, int ms, const char *what);
const char *tc_sget(json_t *j, const char *k);     /* "" when absent */
long long tc_iget(json_t *j, const char *k);
const char *tc_player(json_t *st, const char *mark); /* players.X / players.O */
/* game_id, token and mark of a joined message */
void tc_take_joined(tc_seat *s, json_t *j);
/* X creates on node a, O joins on node b; both have seen the playing state. */
void tc_pair(tc_seat *x, int a, tc_seat *o, int b);
/* s plays cell; s and every w in others (NULL-terminated) see the new state
 * with the same board; returns s's copy (the caller decrefs). */
json_t *tc_play(tc_seat *s, int cell, wsc *const *others);

#endif
