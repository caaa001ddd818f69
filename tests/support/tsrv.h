/* tsrv.h -- the shared harness of the test_server_* binaries, which test the
 * wire contract (docs/protocol.md) against a real ttt-server process over
 * real WebSockets and HTTP. ctest runs every binary twice: with the
 * in-memory store and with TTT_TEST_STORE=redis, where every server gets a
 * real redis-server of its own.
 *
 * tsrv.c starts and stops servers and holds the runner's Criterion hooks;
 * tsrv_expect.c holds the conversation and state helpers. The macros below
 * pass the caller's expression and line so that a failure names them.
 * Names: the former file-local helpers got a t_ prefix (tsrv_ for the server
 * itself); S, C, kept and nkept keep their names because the tests use them. */
#ifndef TTT_TSRV_H
#define TTT_TSRV_H

#include <criterion/criterion.h>
#include <criterion/hooks.h>

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

#define T_MSG 4000        /* ms for an expected message (ASan server, 2 cores) */
#define T_QUIET 250       /* ms of silence that counts as "nothing more" */
#define T_START 15000     /* ms for a server to open its port and reach its store */
#define MAX_MSG 4096      /* the contract's message size limit */

/* ---- HTTP ---------------------------------------------------------------------- */

typedef struct http_resp {
    int status;
    char *head;           /* status line and headers */
    char *body;
    size_t body_len;
} http_resp;

void t_http_free(http_resp *r);
const char *t_http_header(const http_resp *r, const char *name, char *buf, size_t n);
int t_http_get(int port, const char *path, http_resp *r);

/* ---- servers --------------------------------------------------------------- */

typedef struct tsrv {
    pid_t pid;            /* > 0 while this test owns a running server */
    int port;
    char log[1024];
    proc_redis redis;
    int has_redis;
} tsrv;

extern tsrv S;            /* the server the running test talks to */
extern wsc_ctx *C;        /* the running test's client context */
extern json_t **kept;     /* what t_keep holds for fini to release */
extern size_t nkept;

int t_use_redis(void);
int tsrv_start(tsrv *s, const char *log_path, const char *const *extra);
int tsrv_stop(tsrv *s);
void t_print_sanitizer_lines(const char *path);
void t_report_exit(const tsrv *s, int st);
const char *t_it_dir(void);
void t_test_log_path(char *buf, size_t n, const char *suite, const char *name);
json_t *t_keep(json_t *j);
void t_setup(void);
void t_teardown(void);
void t_own_server(const char *const *extra);
void t_need_server(void);

/* ---- WebSocket conversation helpers ------------------------------------------ */

#define EXPECT(w, type) t_expect_((w), (type), #w, __LINE__)
#define EXPECT_STATE(w) t_expect_state_((w), T_MSG, #w, __LINE__)
#define EXPECT_STATE_WITHIN(w, ms) t_expect_state_((w), (ms), #w, __LINE__)
#define EXPECT_NONE(w) t_expect_none_((w), #w, __LINE__)
#define EXPECT_ERROR(w, code, id) t_expect_error_((w), (code), (id), #w, __LINE__)
#define SEND(w, ...) cr_assert(wsc_sendf((w), __VA_ARGS__) == 0, "send: %s", wsc_error(C))

/* A seat as the tests track it. */
typedef struct seat {
    wsc *w;
    long long gid;
    char mark;
    char token[65];
} seat;

/* The parts of a state a test usually cares about. NULL = JSON null. */
#define CHECK_STATE(st, gid, board, status, winner, px, po) \
    t_check_state_((st), (gid), (board), (status), (winner), (px), (po), __LINE__)

/* "A rejected request changes nothing": the store's state equals `last`. */
#define UNCHANGED(last) t_unchanged_((last), __LINE__)

json_t *t_expect_within(wsc *w, const char *type, int ms, const char *who, int line);
json_t *t_expect_(wsc *w, const char *type, const char *who, int line);
json_t *t_expect_state_(wsc *w, int ms, const char *who, int line);
void t_expect_none_(wsc *w, const char *who, int line);
void t_check_id(json_t *j, const char *id, int line);
json_t *t_expect_error_(wsc *w, const char *code, const char *id, const char *who, int line);

/* One row of a table-driven error case: msg is sent with every '@' replaced
 * by the game's id, and the reply must be the error code carrying id (the
 * t_check_id form, NULL for none). Rows run in order on one connection. */
typedef struct t_err_case {
    const char *msg;
    const char *code;
    const char *id;
} t_err_case;
void t_expect_errors_(wsc *w, long long gid, const t_err_case *rows, size_t n, int line);
#define EXPECT_ERRORS(w, gid, rows) \
    t_expect_errors_((w), (gid), (rows), sizeof(rows) / sizeof((rows)[0]), __LINE__)
/* msg with every '@' replaced by gid, into out (cap bytes) */
void t_subst_gid(const char *msg, long long gid, char *out, size_t cap);
wsc *t_client(void);
const char *t_sget(json_t *o, const char *k);
void t_str_or_null(json_t *o, const char *k, const char *want, int line);
void t_check_shape_(json_t *st, int line);
void t_check_state_(json_t *st, long long gid, const char *board, const char *status,
                    const char *winner, const char *px, const char *po, int line);
void t_check_result(json_t *st, const char *result, int line);
int t_same_state(json_t *a, json_t *b);
char *t_dumps(json_t *j);
void t_check_joined(json_t *j, seat *s, char mark, const char *id, int line);
json_t *t_create_human(wsc *w, seat *s);
json_t *t_join_game(wsc *w, seat *s, seat *creator);
void t_start_pair(seat *x, seat *o);
json_t *t_play(seat *self, int cell, wsc *const *others);
json_t *t_api_game(long long gid);
void t_unchanged_(json_t *last, int line);
long long t_iget(json_t *o, const char *k);

#endif /* TTT_TSRV_H */
