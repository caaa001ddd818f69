/* test_server.c -- the wire contract (shared/PROTOCOL.md) against a real
 * ttt-server process over real WebSockets and HTTP.
 *
 * ctest runs this binary twice: `test_server` with the in-memory store and
 * `test_server_redis` with TTT_TEST_STORE=redis, where every server gets a
 * real redis-server of its own.
 *
 * Servers: the runner process starts one shared server (default options)
 * before the first test and stops it after the last; tests that need special
 * flags or a pristine server (game ids from 100, an empty matchmaking pool,
 * SIGTERM) start their own. Criterion runs every test in its own process, so
 * the shared server's port reaches the tests through the environment.
 * Every server logs to a file; when a test fails, the runner prints the tail
 * of the logs that test used.
 *
 * Waits are bounded waits for a message or a condition, never bare sleeps.
 * A "nothing more arrives" check waits T_QUIET ms: it cannot prove silence,
 * but it catches a duplicate broadcast, which follows at once if it exists. */
#define _GNU_SOURCE
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

#ifndef TTT_SERVER_BIN
#error "TTT_SERVER_BIN must name the ttt-server binary"
#endif

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

static void http_free(http_resp *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* A header's value (case-insensitive name), copied into buf; NULL if absent. */
static const char *http_header(const http_resp *r, const char *name, char *buf, size_t n)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(r->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *h = p + 2;
        if (strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
            h += nl + 1;
            while (*h == ' ')
                h++;
            size_t len = strcspn(h, "\r\n");
            if (len >= n)
                len = n - 1;
            memcpy(buf, h, len);
            buf[len] = '\0';
            return buf;
        }
    }
    return NULL;
}

/* Decode a chunked body in place; returns the decoded length. */
static size_t unchunk(char *b, size_t len)
{
    size_t in = 0, out = 0;
    while (in < len) {
        char *end;
        unsigned long n = strtoul(b + in, &end, 16);
        char *crlf = strstr(end, "\r\n");
        if (!crlf || n == 0)
            break;
        in = (size_t)(crlf - b) + 2;
        if (in + n > len)
            n = len - in;
        memmove(b + out, b + in, n);
        out += n;
        in += n + 2;
    }
    b[out] = '\0';
    return out;
}

/* GET path with HTTP/1.1 and Connection: close over a blocking socket. */
static int http_get(int port, const char *path, http_resp *r)
{
    char req[512];
    size_t len = 0, cap = 16384;
    char *buf = malloc(cap);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {5, 0};
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};

    memset(r, 0, sizeof(*r));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (!buf || fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        goto fail;
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
                     "Accept: */*\r\n\r\n", path, port);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
        goto fail;
    for (;;) {
        if (cap - len < 4096) {
            cap *= 2;
            char *p = realloc(buf, cap);
            if (!p)
                goto fail;
            buf = p;
        }
        ssize_t got = recv(fd, buf + len, cap - len - 1, 0);
        if (got <= 0)
            break;        /* closed, or no more within the time-out */
        len += (size_t)got;
        buf[len] = '\0';
        /* stop once a Content-Length body is complete (keep-alive servers) */
        char *he = strstr(buf, "\r\n\r\n");
        if (he) {
            const char *cl = strcasestr(buf, "\r\ncontent-length:");
            if (cl && cl < he && len >= (size_t)(he + 4 - buf) + strtoul(cl + 17, NULL, 10))
                break;
        }
    }
    buf[len] = '\0';
    char *he = strstr(buf, "\r\n\r\n");
    if (!he || sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1)
        goto fail;
    r->head = strndup(buf, (size_t)(he - buf) + 2);
    r->body_len = len - (size_t)(he + 4 - buf);
    r->body = malloc(r->body_len + 1);
    memcpy(r->body, he + 4, r->body_len);
    r->body[r->body_len] = '\0';
    char te[64];
    if (http_header(r, "Transfer-Encoding", te, sizeof(te)) && strcasestr(te, "chunked"))
        r->body_len = unchunk(r->body, r->body_len);
    free(buf);
    close(fd);
    return 0;

fail:
    free(buf);
    if (fd >= 0)
        close(fd);
    return -1;
}

/* ---- servers --------------------------------------------------------------- */

typedef struct tsrv {
    pid_t pid;            /* > 0 while this test owns a running server */
    int port;
    char log[1024];
    proc_redis redis;
    int has_redis;
} tsrv;

static tsrv S;            /* the server the running test talks to */
static tsrv shared_srv;   /* runner process only */
static wsc_ctx *C;        /* the running test's client context */

static int use_redis(void)
{
    const char *s = getenv("TTT_TEST_STORE");
    return s && strcmp(s, "redis") == 0;
}

/* The port opens before the store connection is up (a request then gets
 * `unavailable`, rightly); /healthz says 200 once the store is reachable. */
static int tsrv_ready(const tsrv *s)
{
    long long end = proc_now_ms() + T_START;
    while (proc_now_ms() < end) {
        http_resp r;
        if (http_get(s->port, "/healthz", &r) == 0) {
            int status = r.status;
            http_free(&r);
            if (status == 200)
                return 0;
        }
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid)
            return -1;
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);   /* between polls of a condition, not a wait for time */
    }
    return -1;
}

/* Start a server with the standard flags plus extra (NULL-terminated, may be
 * NULL), and a redis-server first in the redis variant. 0 or -1. */
static int tsrv_start(tsrv *s, const char *log_path, const char *const *extra)
{
    char port[16], web[1024];
    const char *argv[40];
    int n = 0;

    memset(s, 0, sizeof(*s));
    if (use_redis()) {
        if (proc_redis_start(&s->redis, 0) < 0) {
            fprintf(stderr, "test_server: cannot start redis-server\n");
            return -1;
        }
        s->has_redis = 1;
    }
    s->port = proc_free_port();
    snprintf(port, sizeof(port), "%d", s->port);
    snprintf(web, sizeof(web), "%s/web", TTT_SOURCE_DIR);
    snprintf(s->log, sizeof(s->log), "%s", log_path);
    argv[n++] = TTT_SERVER_BIN;
    argv[n++] = "--host";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--port";
    argv[n++] = port;
    argv[n++] = "--web";
    argv[n++] = web;
    argv[n++] = "--log-level";
    argv[n++] = "debug";
    if (s->has_redis) {
        argv[n++] = "--redis";
        argv[n++] = s->redis.url;
    }
    for (int i = 0; extra && extra[i] && n < 38; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;

    s->pid = proc_spawn((char *const *)argv, s->log);
    if (s->pid < 0 || proc_wait_port(s->port, s->pid, T_START) < 0 || tsrv_ready(s) < 0) {
        fprintf(stderr, "test_server: %s not ready on port %d (log %s)\n",
                TTT_SERVER_BIN, s->port, s->log);
        if (s->pid > 0)
            proc_kill9(s->pid);
        s->pid = 0;
        if (s->has_redis)
            proc_redis_stop(&s->redis, 0);
        s->has_redis = 0;
        return -1;
    }
    return 0;
}

/* SIGTERM and reap; returns the wait status (-1 if it had to be killed). */
static int tsrv_stop(tsrv *s)
{
    int st = 0;
    if (s->pid > 0)
        st = proc_stop(s->pid, 10000);
    s->pid = 0;
    if (s->has_redis)
        proc_redis_stop(&s->redis, 0);
    s->has_redis = 0;
    return st;
}

static void print_tail(const char *path, int lines)
{
    char *text = proc_read_file(path);
    if (!text)
        return;
    size_t len = strlen(text);
    const char *p = text + len;
    int nl = 0;
    while (p > text && nl <= lines)
        if (*--p == '\n')
            nl++;
    fprintf(stderr, "---- last %d lines of %s ----\n%s\n---- end of log ----\n",
            lines, path, p);
    free(text);
}

/* The sanitizer verdicts in a server log: the lines worth a CI reader's eye. */
static void print_sanitizer_lines(const char *path)
{
    char *text = proc_read_file(path);
    if (!text)
        return;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        if (strstr(line, "ERROR: AddressSanitizer") || strstr(line, "ERROR: LeakSanitizer") ||
            strstr(line, "SUMMARY:") || strstr(line, "runtime error:"))
            fprintf(stderr, "  %s\n", line);
    free(text);
}

/* A server that does not exit with 0 on SIGTERM (a sanitizer report at
 * shutdown, most often) is reported, not failed: lifecycle::sigterm_1012
 * asserts the exit status, and one failure says it better than twenty. */
static void report_exit(const tsrv *s, int st)
{
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return;
    fprintf(stderr, "test_server: WARNING: ttt-server did not exit with 0 after SIGTERM "
            "(wait status %#x); log %s\n", (unsigned)st, s->log);
    print_sanitizer_lines(s->log);
}

static const char *it_dir(void)
{
    const char *d = getenv("TTT_IT_DIR");
    return d ? d : "/tmp";
}

static void test_log_path(char *buf, size_t n, const char *suite, const char *name)
{
    snprintf(buf, n, "%s/%s.%s.log", it_dir(), suite, name);
}

/* A test that crashes or times out never runs its fini, so the PIDs of what
 * it started are written down for the runner to SIGKILL afterwards. */
static void pids_path(char *buf, size_t n, const char *suite, const char *name)
{
    snprintf(buf, n, "%s/%s.%s.pids", it_dir(), suite, name);
}

static void reap_leftovers(const char *suite, const char *name)
{
    char path[1100];
    pids_path(path, sizeof(path), suite, name);
    char *text = proc_read_file(path);
    if (!text)
        return;
    for (char *tok = strtok(text, " \n"); tok; tok = strtok(NULL, " \n")) {
        pid_t pid = (pid_t)atoi(tok);
        if (pid > 0) {
            fprintf(stderr, "test_server: killing pid %d left by %s::%s\n", (int)pid,
                    suite, name);
            kill(pid, SIGKILL);
        }
    }
    free(text);
    unlink(path);
}

/* -- runner-side hooks: the shared server and the logs of failed tests -- */

static char *it_dir_owned;

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    char log[1024], port[16];
    (void)set;
    unsetenv("TTT_REDIS_URL");   /* the memory variant must not find a Redis */
    it_dir_owned = proc_tmpdir("it");
    if (!it_dir_owned)
        return;
    setenv("TTT_IT_DIR", it_dir_owned, 1);
    snprintf(log, sizeof(log), "%s/shared.log", it_dir_owned);
    if (tsrv_start(&shared_srv, log, NULL) < 0) {
        print_tail(log, 40);
        setenv("TTT_IT_PORT", "0", 1);
        return;
    }
    snprintf(port, sizeof(port), "%d", shared_srv.port);
    setenv("TTT_IT_PORT", port, 1);
    setenv("TTT_IT_LOG", shared_srv.log, 1);
}

ReportHook(POST_TEST)(struct criterion_test_stats *stats)
{
    char log[1024];
    if (stats->test_status != CR_STATUS_FAILED && !stats->crashed && !stats->timed_out)
        return;
    test_log_path(log, sizeof(log), stats->test->category, stats->test->name);
    if (access(log, R_OK) == 0)
        print_tail(log, 40);
    else if (shared_srv.pid > 0)
        print_tail(shared_srv.log, 40);
}

/* after fini (which stops what it started), and after a crash or a time-out
 * (which skip fini) */
ReportHook(POST_FINI)(struct criterion_test_stats *stats)
{
    reap_leftovers(stats->test->category, stats->test->name);
}

ReportHook(TEST_CRASH)(struct criterion_test_stats *stats)
{
    reap_leftovers(stats->test->category, stats->test->name);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    if (shared_srv.pid > 0) {
        int st = tsrv_stop(&shared_srv);
        report_exit(&shared_srv, st);
    }
    if (it_dir_owned && stats->tests_failed == 0 && stats->tests_crashed == 0)
        proc_rmtree(it_dir_owned);
    else if (it_dir_owned)
        fprintf(stderr, "test_server: server logs kept in %s\n", it_dir_owned);
    free(it_dir_owned);
}

/* ---- per-test bookkeeping ---------------------------------------------------- */

/* Everything a test allocates is released in fini, so that a test reads as
 * a conversation and a failed assertion leaks nothing either. */
static json_t **kept;
static size_t nkept, capkept;

static json_t *keep(json_t *j)
{
    if (nkept == capkept) {
        capkept = capkept ? capkept * 2 : 64;
        kept = realloc(kept, capkept * sizeof(*kept));
        cr_assert(kept);
    }
    kept[nkept++] = j;
    return j;
}

static void setup(void)
{
    const char *port = getenv("TTT_IT_PORT");
    memset(&S, 0, sizeof(S));
    S.port = port ? atoi(port) : 0;
    snprintf(S.log, sizeof(S.log), "%s", getenv("TTT_IT_LOG") ? getenv("TTT_IT_LOG") : "");
    C = wsc_ctx_new();
    cr_assert(C, "lws client context");
}

static void teardown(void)
{
    wsc_ctx_free(C);
    C = NULL;
    for (size_t i = 0; i < nkept; i++)
        json_decref(kept[i]);
    free(kept);
    kept = NULL;
    nkept = capkept = 0;
    if (S.pid > 0) {
        tsrv s = S;       /* tsrv_stop clears it; the log name is still wanted */
        report_exit(&s, tsrv_stop(&S));
    } else if (S.has_redis) {
        tsrv_stop(&S);
    }
    char path[1100];
    const struct criterion_test *t = criterion_current_test;
    pids_path(path, sizeof(path), t->category, t->name);
    unlink(path);
}

/* Start this test's own server with extra flags (NULL-terminated list). */
static void own_server(const char *const *extra)
{
    char log[1024];
    const struct criterion_test *t = criterion_current_test;
    test_log_path(log, sizeof(log), t->category, t->name);
    cr_assert(tsrv_start(&S, log, extra) == 0, "start ttt-server (log %s)", log);
    char path[1100];
    pids_path(path, sizeof(path), t->category, t->name);
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%d %d\n", (int)S.pid, S.has_redis ? (int)S.redis.pid : 0);
        fclose(f);
    }
}

static void need_server(void)
{
    cr_assert(S.port > 0, "the shared ttt-server did not start (see %s/shared.log)",
              it_dir());
}

/* ---- WebSocket conversation helpers ------------------------------------------ */

#define EXPECT(w, type) expect_((w), (type), #w, __LINE__)
#define EXPECT_STATE(w) expect_state_((w), T_MSG, #w, __LINE__)
#define EXPECT_STATE_WITHIN(w, ms) expect_state_((w), (ms), #w, __LINE__)
#define EXPECT_NONE(w) expect_none_((w), #w, __LINE__)
#define EXPECT_ERROR(w, code, id) expect_error_((w), (code), (id), #w, __LINE__)
#define SEND(w, ...) cr_assert(wsc_sendf((w), __VA_ARGS__) == 0, "send: %s", wsc_error(C))

static void check_shape_(json_t *st, int line);

static json_t *expect_within(wsc *w, const char *type, int ms, const char *who, int line)
{
    json_t *j = wsc_expect(w, type, ms);
    cr_assert(j, "line %d: %s: %s", line, who, wsc_error(C));
    return keep(j);
}

static json_t *expect_(wsc *w, const char *type, const char *who, int line)
{
    json_t *j = wsc_expect(w, type, T_MSG);
    cr_assert(j, "line %d: %s: %s", line, who, wsc_error(C));
    return keep(j);
}

static json_t *expect_state_(wsc *w, int ms, const char *who, int line)
{
    json_t *j = expect_within(w, "state", ms, who, line);
    check_shape_(j, line);
    return j;
}

static void expect_none_(wsc *w, const char *who, int line)
{
    char *s = wsc_recv(w, T_QUIET);
    if (s) {
        char msg[600];
        snprintf(msg, sizeof(msg), "%.500s", s);
        free(s);
        cr_assert_fail("line %d: %s: expected no message, got %s", line, who, msg);
    }
}

/* id_str: "s:text" for a string id, "i:123" for an integer id, NULL for none. */
static void check_id(json_t *j, const char *id, int line)
{
    json_t *got = json_object_get(j, "id");
    if (!id) {
        cr_assert(!got, "line %d: reply carries an id but the request had none", line);
        return;
    }
    cr_assert(got, "line %d: reply lacks the request id %s", line, id);
    if (id[0] == 's') {
        cr_assert(json_is_string(got) && strcmp(json_string_value(got), id + 2) == 0,
                  "line %d: id should be the string \"%s\"", line, id + 2);
    } else {
        cr_assert(json_is_integer(got) && json_integer_value(got) == atoll(id + 2),
                  "line %d: id should be the integer %s", line, id + 2);
    }
}

static json_t *expect_error_(wsc *w, const char *code, const char *id, const char *who,
                             int line)
{
    json_t *j = expect_(w, "error", who, line);
    const char *got = json_string_value(json_object_get(j, "code"));
    char *dump = json_dumps(j, JSON_COMPACT);
    char buf[400];
    snprintf(buf, sizeof(buf), "%s", dump ? dump : "?");
    free(dump);
    cr_assert(got && strcmp(got, code) == 0, "line %d: %s: expected error %s, got %s",
              line, who, code, buf);
    cr_assert(json_is_string(json_object_get(j, "message")),
              "line %d: error without a message: %s", line, buf);
    check_id(j, id, line);
    return j;
}

static wsc *client(void)
{
    need_server();
    wsc *w = wsc_connect(C, S.port, "/ws", T_MSG);
    cr_assert(w, "connect to ws://127.0.0.1:%d/ws: %s", S.port, wsc_error(C));
    EXPECT(w, "welcome");
    return w;
}

static long long iget(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    cr_assert(json_is_integer(v), "\"%s\" should be an integer", k);
    return json_integer_value(v);
}

static const char *sget(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    cr_assert(json_is_string(v), "\"%s\" should be a string", k);
    return json_string_value(v);
}

/* want == NULL: the member must be present and JSON null. */
static void str_or_null(json_t *o, const char *k, const char *want, int line)
{
    json_t *v = json_object_get(o, k);
    cr_assert(v, "line %d: state lacks \"%s\"", line, k);
    if (!want) {
        cr_assert(json_is_null(v), "line %d: \"%s\" should be null", line, k);
    } else {
        cr_assert(json_is_string(v) && strcmp(json_string_value(v), want) == 0,
                  "line %d: \"%s\" should be \"%s\", is %s", line, k, want,
                  json_is_string(v) ? json_string_value(v) : "not a string");
    }
}

static const int lines3[8][3] = {
    {0, 1, 2}, {3, 4, 5}, {6, 7, 8}, {0, 3, 6}, {1, 4, 7}, {2, 5, 8}, {0, 4, 8}, {2, 4, 6}
};

/* Every state, whatever the test: the fields the contract lists, with their
 * types, and the invariants that tie them together. */
static void check_shape_(json_t *st, int line)
{
    long long gid = iget(st, "game_id");
    cr_assert(gid >= 100, "line %d: game ids start at 100 (got %lld)", line, gid);
    const char *board = sget(st, "board");
    cr_assert(strlen(board) == 9 && strspn(board, "XO.") == 9,
              "line %d: board \"%s\" is not 9 of X O .", line, board);
    long long ply = iget(st, "ply");
    json_t *moves = json_object_get(st, "moves");
    cr_assert(json_is_array(moves), "line %d: moves is not an array", line);
    cr_assert((long long)json_array_size(moves) == ply,
              "line %d: %zu moves but ply %lld", line, json_array_size(moves), ply);
    int used = 0;
    for (size_t i = 0; i < json_array_size(moves); i++) {
        json_t *m = json_array_get(moves, i);
        cr_assert(json_is_integer(m) && json_integer_value(m) >= 0 &&
                  json_integer_value(m) <= 8, "line %d: moves[%zu] not a cell", line, i);
        int c = (int)json_integer_value(m);
        cr_assert(!(used & (1 << c)), "line %d: cell %d twice in moves", line, c);
        used |= 1 << c;
        cr_assert(board[c] == (i % 2 ? 'O' : 'X'),
                  "line %d: moves[%zu]=%d but board has '%c' there (X moves first)",
                  line, i, c, board[c]);
    }
    int marks = 0;
    for (int i = 0; i < 9; i++)
        marks += board[i] != '.';
    cr_assert(marks == ply, "line %d: %d marks on the board but ply %lld", line, marks, ply);

    const char *status = sget(st, "status");
    cr_assert(!strcmp(status, "waiting") || !strcmp(status, "playing") ||
              !strcmp(status, "over"), "line %d: status \"%s\"", line, status);
    if (!strcmp(status, "playing"))
        str_or_null(st, "turn", ply % 2 ? "O" : "X", line);
    else
        str_or_null(st, "turn", NULL, line);

    json_t *result = json_object_get(st, "result");
    json_t *winner = json_object_get(st, "winner");
    json_t *ln = json_object_get(st, "line");
    cr_assert(result && winner && ln, "line %d: result, winner and line must be present",
              line);
    if (strcmp(status, "over") != 0) {
        cr_assert(json_is_null(result) && json_is_null(winner) && json_is_null(ln),
                  "line %d: a game not over has null result, winner and line", line);
    } else {
        const char *r = json_string_value(result);
        cr_assert(r && (!strcmp(r, "win") || !strcmp(r, "draw") || !strcmp(r, "resign") ||
                        !strcmp(r, "abandon")), "line %d: bad result", line);
        if (!strcmp(r, "win")) {
            const char *wm = json_string_value(winner);
            cr_assert(wm && (!strcmp(wm, "X") || !strcmp(wm, "O")), "line %d: winner", line);
            cr_assert(json_is_array(ln) && json_array_size(ln) == 3,
                      "line %d: a win has a line of three cells", line);
            int cells[3], found = 0;
            for (int i = 0; i < 3; i++) {
                json_t *c = json_array_get(ln, (size_t)i);
                cr_assert(json_is_integer(c) && json_integer_value(c) >= 0 &&
                          json_integer_value(c) <= 8, "line %d: line cell", line);
                cells[i] = (int)json_integer_value(c);
                cr_assert(board[cells[i]] == wm[0], "line %d: line cell %d is not %s's",
                          line, cells[i], wm);
            }
            for (int k = 0; k < 8; k++) {
                int hit = 0;
                for (int i = 0; i < 3; i++)
                    for (int j = 0; j < 3; j++)
                        hit += cells[i] == lines3[k][j];
                found |= hit == 3;
            }
            cr_assert(found, "line %d: line is not a row, column or diagonal", line);
        } else {
            cr_assert(json_is_null(ln), "line %d: line is null unless the result is win",
                      line);
        }
        if (!strcmp(r, "draw"))
            cr_assert(json_is_null(winner) && ply == 9, "line %d: draw: 9 moves, no winner",
                      line);
        if (!strcmp(r, "resign"))
            cr_assert(json_is_string(winner), "line %d: a resignation has a winner", line);
    }

    json_t *players = json_object_get(st, "players");
    cr_assert(json_is_object(players), "line %d: players is not an object", line);
    for (int i = 0; i < 2; i++) {
        const char *p = json_string_value(json_object_get(players, i ? "O" : "X"));
        cr_assert(p && (!strcmp(p, "open") || !strcmp(p, "connected") || !strcmp(p, "away")),
                  "line %d: players.%s", line, i ? "O" : "X");
    }
    if (!strcmp(status, "waiting")) {
        cr_assert(ply == 0, "line %d: a waiting game has no moves", line);
        str_or_null(players, "O", "open", line);
    }
}

/* The parts of a state a test usually cares about. NULL = JSON null. */
#define CHECK_STATE(st, gid, board, status, winner, px, po) \
    check_state_((st), (gid), (board), (status), (winner), (px), (po), __LINE__)
static void check_state_(json_t *st, long long gid, const char *board, const char *status,
                         const char *winner, const char *px, const char *po, int line)
{
    cr_assert(iget(st, "game_id") == gid, "line %d: game_id %lld, want %lld", line,
              iget(st, "game_id"), gid);
    str_or_null(st, "board", board, line);
    str_or_null(st, "status", status, line);
    str_or_null(st, "winner", winner, line);
    json_t *players = json_object_get(st, "players");
    str_or_null(players, "X", px, line);
    str_or_null(players, "O", po, line);
}

static void check_result(json_t *st, const char *result, int line)
{
    str_or_null(st, "result", result, line);
}

/* States compare equal when everything but "type" matches. */
static int same_state(json_t *a, json_t *b)
{
    json_t *x = json_deep_copy(a), *y = json_deep_copy(b);
    json_object_del(x, "type");
    json_object_del(y, "type");
    json_object_del(x, "id");
    json_object_del(y, "id");
    int eq = json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return eq;
}

static char *dumps(json_t *j)
{
    static char buf[2][700];
    static int k;
    char *d = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    k ^= 1;
    snprintf(buf[k], sizeof(buf[k]), "%s", d ? d : "?");
    free(d);
    return buf[k];
}

/* A seat as the tests track it. */
typedef struct seat {
    wsc *w;
    long long gid;
    char mark;
    char token[65];
} seat;

static void check_joined(json_t *j, seat *s, char mark, const char *id, int line)
{
    s->gid = iget(j, "game_id");
    cr_assert(s->gid >= 100, "line %d: game id %lld < 100", line, s->gid);
    const char *m = sget(j, "mark");
    cr_assert(m[0] == mark && m[1] == '\0', "line %d: mark %s, want %c", line, m, mark);
    s->mark = mark;
    const char *t = sget(j, "token");
    cr_assert(strlen(t) == 32 && strspn(t, "0123456789abcdef") == 32,
              "line %d: token \"%s\" is not 32 lowercase hex characters", line, t);
    snprintf(s->token, sizeof(s->token), "%s", t);
    check_id(j, id, line);
}

/* create vs human: joined + state waiting. */
static json_t *create_human(wsc *w, seat *s)
{
    s->w = w;
    SEND(w, "{\"type\":\"create\",\"vs\":\"human\",\"id\":\"c\"}");
    check_joined(EXPECT(w, "joined"), s, 'X', "s:c", __LINE__);
    json_t *st = EXPECT_STATE(w);
    CHECK_STATE(st, s->gid, ".........", "waiting", NULL, "connected", "open");
    return st;
}

/* join as O: joined + state playing for the joiner and the creator. */
static json_t *join_game(wsc *w, seat *s, seat *creator)
{
    s->w = w;
    SEND(w, "{\"type\":\"join\",\"game_id\":%lld,\"id\":\"j\"}", creator->gid);
    check_joined(EXPECT(w, "joined"), s, 'O', "s:j", __LINE__);
    cr_assert(s->gid == creator->gid, "joined the wrong game");
    cr_assert(strcmp(s->token, creator->token) != 0, "the two seats share a token");
    json_t *a = EXPECT_STATE(w);
    json_t *b = EXPECT_STATE(creator->w);
    CHECK_STATE(a, s->gid, ".........", "playing", NULL, "connected", "connected");
    cr_assert(same_state(a, b), "players see different states: %s vs %s", dumps(a),
              dumps(b));
    return a;
}

/* A human game with two fresh connections, ready for X's first move. */
static void start_pair(seat *x, seat *o)
{
    create_human(client(), x);
    join_game(client(), o, x);
}

/* Send a move and return the new state as `self` sees it; the others (NULL-
 * terminated) must see the same state. */
static json_t *play(seat *self, int cell, wsc *const *others)
{
    SEND(self->w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":%d}", self->gid, cell);
    json_t *st = EXPECT_STATE(self->w);
    for (int i = 0; others && others[i]; i++) {
        json_t *o = EXPECT_STATE(others[i]);
        cr_assert(same_state(st, o), "state differs between clients: %s vs %s",
                  dumps(st), dumps(o));
    }
    return st;
}

/* /api/games/{gid} as JSON (kept), asserting a 200. */
static json_t *api_game(long long gid)
{
    char path[64];
    http_resp r;
    snprintf(path, sizeof(path), "/api/games/%lld", gid);
    cr_assert(http_get(S.port, path, &r) == 0, "GET %s failed", path);
    int status = r.status;
    json_t *j = json_loads(r.body, 0, NULL);
    char body[300];
    snprintf(body, sizeof(body), "%s", r.body);
    http_free(&r);
    cr_assert(status == 200, "GET %s: status %d", path, status);
    cr_assert(json_is_object(j), "GET %s: not a JSON object: %s", path, body);
    return keep(j);
}

/* "A rejected request changes nothing": the store's state equals `last`. */
#define UNCHANGED(last) unchanged_((last), __LINE__)
static void unchanged_(json_t *last, int line)
{
    json_t *now = api_game(iget(last, "game_id"));
    cr_assert(same_state(last, now), "line %d: a rejected request changed the game:\n"
              "before %s\nafter  %s", line, dumps(last), dumps(now));
}

/* =========================================================================== */

TestSuite(basic, .init = setup, .fini = teardown, .timeout = 60);

Test(basic, welcome, .description = "every connection first gets welcome: server id, protocol 1")
{
    need_server();
    wsc *w = wsc_connect(C, S.port, "/ws", T_MSG);
    cr_assert(w, "connect: %s", wsc_error(C));
    json_t *j = EXPECT(w, "welcome");
    cr_assert(strlen(sget(j, "server")) > 0, "welcome.server is empty");
    cr_assert(iget(j, "protocol") == 1, "welcome.protocol is not 1");
    EXPECT_NONE(w);
}

Test(basic, ping_ids, .description = "ping gets pong; string and integer ids come back "
     "with their type; no id, no id; a 64-byte id is fine, 65 bytes is bad_message")
{
    wsc *w = client();
    char id64[65], id65[66];
    memset(id64, 'a', 64);
    id64[64] = '\0';
    memset(id65, 'b', 65);
    id65[65] = '\0';

    SEND(w, "{\"type\":\"ping\",\"id\":\"abc\"}");
    check_id(EXPECT(w, "pong"), "s:abc", __LINE__);
    SEND(w, "{\"type\":\"ping\",\"id\":42}");
    check_id(EXPECT(w, "pong"), "i:42", __LINE__);
    SEND(w, "{\"type\":\"ping\"}");
    check_id(EXPECT(w, "pong"), NULL, __LINE__);
    SEND(w, "{\"type\":\"ping\",\"id\":\"\"}");
    check_id(EXPECT(w, "pong"), "s:", __LINE__);
    SEND(w, "{\"type\":\"ping\",\"id\":\"%s\"}", id64);
    json_t *p = EXPECT(w, "pong");
    cr_assert_str_eq(sget(p, "id"), id64);
    SEND(w, "{\"type\":\"ping\",\"id\":\"%s\"}", id65);
    EXPECT(w, "error");
    cr_assert_str_eq(sget(kept[nkept - 1], "code"), "bad_message");
    /* the connection still works */
    SEND(w, "{\"type\":\"ping\",\"id\":-7}");
    check_id(EXPECT(w, "pong"), "i:-7", __LINE__);
    EXPECT_NONE(w);
}

/* =========================================================================== */

TestSuite(game, .init = setup, .fini = teardown, .timeout = 90);

Test(game, create_human, .description = "create vs human: joined (id >= 100, X, 32-hex "
     "token, request id) then state waiting with an empty board")
{
    wsc *w = client();
    seat x;
    json_t *st = create_human(w, &x);
    cr_assert(json_array_size(json_object_get(st, "moves")) == 0);
    cr_assert(iget(st, "ply") == 0);
    EXPECT_NONE(w);
    /* create with defaults (no vs) is vs human as well */
    SEND(w, "{\"type\":\"create\",\"id\":5}");
    seat y;
    check_joined(EXPECT(w, "joined"), &y, 'X', "i:5", __LINE__);
    CHECK_STATE(EXPECT_STATE(w), y.gid, ".........", "waiting", NULL, "connected", "open");
    cr_assert(y.gid > x.gid, "ids grow: %lld then %lld", x.gid, y.gid);
}

Test(game, join_and_full_win, .description = "join: O gets joined, both get playing; a "
     "game to a win, players and a spectator see every state in the same order, once")
{
    seat x, o;
    create_human(client(), &x);
    join_game(client(), &o, &x);

    wsc *spec = client();
    SEND(spec, "{\"type\":\"watch\",\"game_id\":%lld,\"id\":\"w\"}", x.gid);
    json_t *wj = EXPECT(spec, "watching");
    cr_assert(iget(wj, "game_id") == x.gid);
    check_id(wj, "s:w", __LINE__);
    CHECK_STATE(EXPECT_STATE(spec), x.gid, ".........", "playing", NULL, "connected",
                "connected");

    /* X 0, O 3, X 1, O 4, X 2: X wins on the top row */
    const int cells[] = {0, 3, 1, 4, 2};
    const char *boards[] = {"X........", "X..O.....", "XX.O.....", "XX.OO....",
                            "XXXOO...."};
    json_t *seen[3][5];
    wsc *all[3] = {x.w, o.w, spec};
    for (int i = 0; i < 5; i++) {
        seat *mover = i % 2 ? &o : &x;
        SEND(mover->w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":%d,\"ply\":%d}",
             x.gid, cells[i], i);
        for (int k = 0; k < 3; k++)
            seen[k][i] = EXPECT_STATE(all[k]);
        json_t *st = seen[0][i];
        CHECK_STATE(st, x.gid, boards[i], i < 4 ? "playing" : "over", i < 4 ? NULL : "X",
                    "connected", "connected");
        cr_assert(iget(st, "ply") == i + 1);
        json_t *mv = json_object_get(st, "moves");
        for (int m = 0; m <= i; m++)
            cr_assert(json_integer_value(json_array_get(mv, (size_t)m)) == cells[m],
                      "moves[%d] is not %d", m, cells[m]);
    }
    for (int i = 0; i < 5; i++)
        for (int k = 1; k < 3; k++)
            cr_assert(same_state(seen[0][i], seen[k][i]),
                      "state %d differs between X and client %d:\n%s\n%s", i, k,
                      dumps(seen[0][i]), dumps(seen[k][i]));
    json_t *last = seen[0][4];
    check_result(last, "win", __LINE__);
    str_or_null(last, "turn", NULL, __LINE__);
    json_t *ln = json_object_get(last, "line");
    int sum = 0;
    for (int i = 0; i < 3; i++)
        sum += 1 << json_integer_value(json_array_get(ln, (size_t)i));
    cr_assert(sum == 7, "line should be [0,1,2]: %s", dumps(ln));
    for (int k = 0; k < 3; k++)
        EXPECT_NONE(all[k]);
    UNCHANGED(last);      /* and /api/games agrees with the last broadcast */
}

Test(game, full_draw, .description = "a game to a draw: result draw, winner and line "
     "null, 9 moves, everyone (players and spectator) gets each state once")
{
    seat x, o;
    start_pair(&x, &o);
    wsc *spec = client();
    SEND(spec, "{\"type\":\"watch\",\"game_id\":%lld}", x.gid);
    EXPECT(spec, "watching");
    EXPECT_STATE(spec);

    /* X O X / X O O / O X X */
    const int cells[] = {0, 1, 2, 4, 3, 5, 7, 6, 8};
    wsc *others_of_x[] = {o.w, spec, NULL};
    wsc *others_of_o[] = {x.w, spec, NULL};
    json_t *st = NULL;
    for (int i = 0; i < 9; i++) {
        st = play(i % 2 ? &o : &x, cells[i], i % 2 ? others_of_o : others_of_x);
        cr_assert(iget(st, "ply") == i + 1);
    }
    CHECK_STATE(st, x.gid, "XOXXOOOXX", "over", NULL, "connected", "connected");
    check_result(st, "draw", __LINE__);
    EXPECT_NONE(x.w);
    EXPECT_NONE(o.w);
    EXPECT_NONE(spec);
}

Test(game, resign, .description = "resign ends the game for the opponent: X resigns -> O "
     "wins; O resigns -> X wins; both players get the state")
{
    seat x, o;
    start_pair(&x, &o);
    wsc *ox[] = {o.w, NULL};
    play(&x, 4, ox);
    SEND(o.w, "{\"type\":\"resign\",\"game_id\":%lld}", o.gid);
    json_t *a = EXPECT_STATE(o.w), *b = EXPECT_STATE(x.w);
    cr_assert(same_state(a, b), "%s\n%s", dumps(a), dumps(b));
    CHECK_STATE(a, o.gid, "....X....", "over", "X", "connected", "connected");
    check_result(a, "resign", __LINE__);

    seat x2, o2;
    start_pair(&x2, &o2);
    SEND(x2.w, "{\"type\":\"resign\",\"game_id\":%lld}", x2.gid);
    a = EXPECT_STATE(x2.w);
    b = EXPECT_STATE(o2.w);
    cr_assert(same_state(a, b), "%s\n%s", dumps(a), dumps(b));
    CHECK_STATE(a, x2.gid, ".........", "over", "O", "connected", "connected");
    check_result(a, "resign", __LINE__);
    EXPECT_NONE(x2.w);
}

Test(game, several_games_one_connection, .description = "a connection may hold seats in "
     "several games at once; move acts for the seat in game_id")
{
    wsc *a = client(), *b = client();
    seat g1x, g2x, g1o, g2o;
    create_human(a, &g1x);
    create_human(a, &g2x);
    cr_assert(g1x.gid != g2x.gid);
    join_game(b, &g1o, &g1x);
    join_game(b, &g2o, &g2x);
    wsc *ob[] = {b, NULL}, *oa[] = {a, NULL};
    json_t *s1 = play(&g2x, 8, ob);
    CHECK_STATE(s1, g2x.gid, "........X", "playing", NULL, "connected", "connected");
    json_t *s2 = play(&g1x, 0, ob);
    CHECK_STATE(s2, g1x.gid, "X........", "playing", NULL, "connected", "connected");
    json_t *s3 = play(&g1o, 1, oa);
    CHECK_STATE(s3, g1x.gid, "XO.......", "playing", NULL, "connected", "connected");
    UNCHANGED(s1);
}

Test(game, spectator_late, .description = "watch mid-game: watching, then the current "
     "state, then every later state; watching a finished game shows its last state")
{
    seat x, o;
    start_pair(&x, &o);
    wsc *ox[] = {o.w, NULL}, *xo[] = {x.w, NULL};
    play(&x, 0, ox);
    json_t *cur = play(&o, 4, xo);
    wsc *spec = client();
    SEND(spec, "{\"type\":\"watch\",\"game_id\":%lld,\"id\":1}", x.gid);
    check_id(EXPECT(spec, "watching"), "i:1", __LINE__);
    cr_assert(same_state(cur, EXPECT_STATE(spec)), "the spectator's first state is not "
              "the current one");
    wsc *os[] = {o.w, spec, NULL};
    play(&x, 8, os);
    SEND(o.w, "{\"type\":\"resign\",\"game_id\":%lld}", o.gid);
    json_t *fin = EXPECT_STATE(o.w);
    cr_assert(same_state(fin, EXPECT_STATE(spec)));
    EXPECT_STATE(x.w);

    wsc *late = client();
    SEND(late, "{\"type\":\"watch\",\"game_id\":%lld}", x.gid);
    EXPECT(late, "watching");
    cr_assert(same_state(fin, EXPECT_STATE(late)), "a finished game is watchable");
    EXPECT_NONE(late);
    EXPECT_NONE(spec);
}

/* =========================================================================== */

TestSuite(fresh, .init = setup, .fini = teardown, .timeout = 90);

Test(fresh, ids_from_100, .description = "on a fresh server (and a fresh Redis) the first "
     "game is 100 and the next 101")
{
    own_server(NULL);
    wsc *w = client();
    seat a, b;
    create_human(w, &a);
    cr_assert(a.gid == 100, "first game id %lld", a.gid);
    SEND(w, "{\"type\":\"create\",\"vs\":\"computer\",\"level\":\"easy\"}");
    check_joined(EXPECT(w, "joined"), &b, 'X', NULL, __LINE__);
    cr_assert(b.gid == 101, "second game id %lld", b.gid);
}

Test(fresh, quick_match, .description = "quick: the first caller waits as X (joined, then "
     "state waiting), the second is seated as O in the same game; quick games are not "
     "in list")
{
    own_server(NULL);
    wsc *a = client(), *b = client();
    seat x, o;
    x.w = a;
    o.w = b;
    SEND(a, "{\"type\":\"quick\",\"id\":\"q1\"}");
    check_joined(EXPECT(a, "joined"), &x, 'X', "s:q1", __LINE__);
    CHECK_STATE(EXPECT_STATE(a), x.gid, ".........", "waiting", NULL, "connected", "open");

    SEND(b, "{\"type\":\"list\",\"id\":\"l\"}");
    json_t *g = EXPECT(b, "games");
    check_id(g, "s:l", __LINE__);
    json_t *arr = json_object_get(g, "games");
    cr_assert(json_is_array(arr));
    for (size_t i = 0; i < json_array_size(arr); i++)
        cr_assert(iget(json_array_get(arr, i), "game_id") != x.gid,
                  "a quick game appears in list");

    SEND(b, "{\"type\":\"quick\",\"id\":\"q2\"}");
    check_joined(EXPECT(b, "joined"), &o, 'O', "s:q2", __LINE__);
    cr_assert(o.gid == x.gid, "the two quick callers are in different games");
    json_t *sa = EXPECT_STATE(a), *sb = EXPECT_STATE(b);
    cr_assert(same_state(sa, sb));
    CHECK_STATE(sa, x.gid, ".........", "playing", NULL, "connected", "connected");

    /* a third caller opens a new game rather than joining the full one */
    wsc *c = client();
    seat x3;
    SEND(c, "{\"type\":\"quick\"}");
    check_joined(EXPECT(c, "joined"), &x3, 'X', NULL, __LINE__);
    cr_assert(x3.gid != x.gid);
    CHECK_STATE(EXPECT_STATE(c), x3.gid, ".........", "waiting", NULL, "connected", "open");
}

/* =========================================================================== */

TestSuite(errors, .init = setup, .fini = teardown, .timeout = 90);

Test(errors, bad_json, .description = "text that is not JSON: bad_json; the connection "
     "stays usable")
{
    wsc *w = client();
    SEND(w, "{not json");
    EXPECT_ERROR(w, "bad_json", NULL);
    SEND(w, "{\"type\":\"ping\",\"id\":1");
    EXPECT_ERROR(w, "bad_json", NULL);
    SEND(w, "{\"type\":\"ping\"} trailing");
    EXPECT_ERROR(w, "bad_json", NULL);
    SEND(w, "{\"type\":\"ping\",\"id\":2}");
    check_id(EXPECT(w, "pong"), "i:2", __LINE__);
}

Test(errors, bad_message, .description = "bad_message for a missing or mistyped type, "
     "game_id, cell, ply, vs, level, id; the reply carries a valid id; nothing changes")
{
    seat x, o;
    start_pair(&x, &o);
    wsc *ox[] = {o.w, NULL};
    json_t *last = play(&x, 4, ox);
    wsc *w = o.w;
    long long g = x.gid;

    /* '@' stands for the game's id */
    struct {
        const char *msg;
        const char *id;
    } cases[] = {
        {"{\"id\":\"m1\"}", "s:m1"},                                     /* no type */
        {"{\"type\":5,\"id\":\"m2\"}", "s:m2"},                          /* not a string */
        {"{\"type\":null,\"id\":\"m2b\"}", "s:m2b"},
        {"{\"type\":\"join\",\"id\":\"m3\"}", "s:m3"},                   /* no game_id */
        {"{\"type\":\"join\",\"game_id\":\"@\",\"id\":\"m4\"}", "s:m4"},  /* a string */
        {"{\"type\":\"watch\",\"game_id\":@.5,\"id\":\"m5\"}", "s:m5"},    /* not whole */
        {"{\"type\":\"join\",\"game_id\":0,\"id\":\"m6\"}", "s:m6"},       /* < 1 */
        {"{\"type\":\"join\",\"game_id\":-3,\"id\":\"m6b\"}", "s:m6b"},
        {"{\"type\":\"move\",\"game_id\":@,\"cell\":9,\"id\":\"m7\"}", "s:m7"},
        {"{\"type\":\"move\",\"game_id\":@,\"cell\":-1,\"id\":\"m8\"}", "s:m8"},
        {"{\"type\":\"move\",\"game_id\":@,\"cell\":\"0\",\"id\":\"m9\"}", "s:m9"},
        {"{\"type\":\"move\",\"game_id\":@,\"id\":\"m9b\"}", "s:m9b"},     /* no cell */
        {"{\"type\":\"move\",\"game_id\":@,\"cell\":0.5,\"id\":\"m9c\"}", "s:m9c"},
        {"{\"type\":\"move\",\"game_id\":@,\"cell\":0,\"ply\":\"1\",\"id\":\"m10\"}",
         "s:m10"},
        {"{\"type\":\"move\",\"game_id\":@,\"cell\":0,\"ply\":1.5,\"id\":\"m10b\"}",
         "s:m10b"},
        {"{\"type\":\"resign\",\"game_id\":true,\"id\":11}", "i:11"},
        {"{\"type\":\"create\",\"vs\":\"martian\",\"id\":12}", "i:12"},
        {"{\"type\":\"create\",\"vs\":\"computer\",\"level\":\"godlike\",\"id\":13}",
         "i:13"},
        {"{\"type\":\"create\",\"vs\":7,\"id\":14}", "i:14"},
        {"{\"type\":\"resume\",\"game_id\":@,\"id\":\"m15\"}", "s:m15"},   /* no token */
        {"{\"type\":\"resume\",\"game_id\":@,\"token\":12345,\"id\":\"m16\"}", "s:m16"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char msg[256], *out = msg;
        for (const char *c = cases[i].msg; *c; c++) {
            if (*c == '@')
                out += sprintf(out, "%lld", g);
            else
                *out++ = *c;
        }
        *out = '\0';
        SEND(w, "%s", msg);
        EXPECT_ERROR(w, "bad_message", cases[i].id);
    }
    /* an id that is itself wrong cannot be echoed, but is still bad_message */
    const char *bad_ids[] = {"{\"type\":\"ping\",\"id\":true}", "{\"type\":\"ping\",\"id\":1.5}",
                             "{\"type\":\"ping\",\"id\":{}}", "{\"type\":\"ping\",\"id\":[1]}"};
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        SEND(w, "%s", bad_ids[i]);
        json_t *e = EXPECT(w, "error");
        cr_assert_str_eq(sget(e, "code"), "bad_message", "for %s", bad_ids[i]);
    }
    EXPECT_NONE(x.w);     /* no state went out: nothing changed */
    EXPECT_NONE(w);       /* and no game was created by the bad creates */
    UNCHANGED(last);
}

Test(errors, unknown_type, .description = "an unknown type string: unknown_type with the "
     "id; type names are case-sensitive")
{
    wsc *w = client();
    SEND(w, "{\"type\":\"fly\",\"id\":7}");
    EXPECT_ERROR(w, "unknown_type", "i:7");
    SEND(w, "{\"type\":\"PING\",\"id\":\"u\"}");
    EXPECT_ERROR(w, "unknown_type", "s:u");
    SEND(w, "{\"type\":\"\"}");
    EXPECT_ERROR(w, "unknown_type", NULL);
    EXPECT_NONE(w);
}

Test(errors, no_such_game, .description = "join, watch of an unknown game id: no_such_game")
{
    wsc *w = client();
    SEND(w, "{\"type\":\"join\",\"game_id\":987654321,\"id\":\"n1\"}");
    EXPECT_ERROR(w, "no_such_game", "s:n1");
    SEND(w, "{\"type\":\"watch\",\"game_id\":987654321,\"id\":\"n2\"}");
    EXPECT_ERROR(w, "no_such_game", "s:n2");
    SEND(w, "{\"type\":\"join\",\"game_id\":1,\"id\":3}");
    EXPECT_ERROR(w, "no_such_game", "i:3");
    EXPECT_NONE(w);
}

Test(errors, game_full, .description = "a third player joining a playing game: game_full, "
     "nothing changes")
{
    seat x, o;
    start_pair(&x, &o);
    wsc *c = client();
    SEND(c, "{\"type\":\"join\",\"game_id\":%lld,\"id\":\"f\"}", x.gid);
    EXPECT_ERROR(c, "game_full", "s:f");
    EXPECT_NONE(x.w);
    EXPECT_NONE(o.w);
    json_t *st = api_game(x.gid);
    CHECK_STATE(st, x.gid, ".........", "playing", NULL, "connected", "connected");
}

Test(errors, not_in_game, .description = "move, resign, rematch by a connection with no seat "
     "in the game (a spectator too): not_in_game; nothing changes")
{
    seat x, o;
    start_pair(&x, &o);
    wsc *ox[] = {o.w, NULL};
    json_t *last = play(&x, 0, ox);
    wsc *c = client();
    SEND(c, "{\"type\":\"watch\",\"game_id\":%lld}", x.gid);
    EXPECT(c, "watching");
    EXPECT_STATE(c);
    SEND(c, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":5,\"id\":\"a\"}", x.gid);
    EXPECT_ERROR(c, "not_in_game", "s:a");
    SEND(c, "{\"type\":\"resign\",\"game_id\":%lld,\"id\":\"b\"}", x.gid);
    EXPECT_ERROR(c, "not_in_game", "s:b");
    SEND(c, "{\"type\":\"rematch\",\"game_id\":%lld,\"id\":\"c\"}", x.gid);
    EXPECT_ERROR(c, "not_in_game", "s:c");
    EXPECT_NONE(x.w);
    EXPECT_NONE(o.w);
    UNCHANGED(last);
}

Test(errors, not_playing, .description = "a move in a game still waiting for O: "
     "not_playing; nothing changes")
{
    seat x;
    json_t *st = create_human(client(), &x);
    SEND(x.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":4,\"id\":\"p\"}", x.gid);
    EXPECT_ERROR(x.w, "not_playing", "s:p");
    EXPECT_NONE(x.w);
    UNCHANGED(st);
}

Test(errors, not_your_turn, .description = "O before X, X twice: not_your_turn; nothing "
     "changes")
{
    seat x, o;
    start_pair(&x, &o);
    SEND(o.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":4,\"id\":\"t1\"}", x.gid);
    EXPECT_ERROR(o.w, "not_your_turn", "s:t1");
    EXPECT_NONE(x.w);
    wsc *ox[] = {o.w, NULL};
    json_t *last = play(&x, 4, ox);
    SEND(x.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":0,\"id\":\"t2\"}", x.gid);
    EXPECT_ERROR(x.w, "not_your_turn", "s:t2");
    EXPECT_NONE(o.w);
    UNCHANGED(last);
}

Test(errors, cell_taken, .description = "a move onto a marked cell: cell_taken; nothing "
     "changes")
{
    seat x, o;
    start_pair(&x, &o);
    wsc *ox[] = {o.w, NULL};
    json_t *last = play(&x, 4, ox);
    SEND(o.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":4,\"ply\":1,\"id\":\"k\"}", x.gid);
    EXPECT_ERROR(o.w, "cell_taken", "s:k");
    EXPECT_NONE(x.w);
    UNCHANGED(last);
}

Test(errors, stale, .description = "a ply that is not the game's: stale (before "
     "not_your_turn); the right ply is accepted")
{
    seat x, o;
    start_pair(&x, &o);
    json_t *st0 = api_game(x.gid);
    SEND(x.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":0,\"ply\":1,\"id\":\"s1\"}", x.gid);
    EXPECT_ERROR(x.w, "stale", "s:s1");
    /* O out of turn with a wrong ply: stale comes first (COMMON.md precedence) */
    SEND(o.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":0,\"ply\":3,\"id\":\"s2\"}", x.gid);
    EXPECT_ERROR(o.w, "stale", "s:s2");
    EXPECT_NONE(x.w);
    EXPECT_NONE(o.w);
    UNCHANGED(st0);
    SEND(x.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":0,\"ply\":0}", x.gid);
    CHECK_STATE(EXPECT_STATE(x.w), x.gid, "X........", "playing", NULL, "connected",
                "connected");
    EXPECT_STATE(o.w);
}

Test(errors, game_over, .description = "a move or resign after the end: game_over; "
     "nothing changes")
{
    seat x, o;
    start_pair(&x, &o);
    SEND(x.w, "{\"type\":\"resign\",\"game_id\":%lld}", x.gid);
    json_t *last = EXPECT_STATE(x.w);
    EXPECT_STATE(o.w);
    SEND(o.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":4,\"id\":\"o1\"}", x.gid);
    EXPECT_ERROR(o.w, "game_over", "s:o1");
    SEND(x.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":4,\"id\":\"o2\"}", x.gid);
    EXPECT_ERROR(x.w, "game_over", "s:o2");
    SEND(o.w, "{\"type\":\"resign\",\"game_id\":%lld,\"id\":\"o3\"}", x.gid);
    EXPECT_ERROR(o.w, "game_over", "s:o3");
    EXPECT_NONE(x.w);
    EXPECT_NONE(o.w);
    UNCHANGED(last);
}

Test(errors, bad_token, .description = "resume with a wrong token (right length, wrong "
     "length, the other seat's): bad_token; too long or not a string: bad_message")
{
    seat x, o;
    start_pair(&x, &o);
    wsc *c = client();
    char longtok[70];
    memset(longtok, 'a', 65);
    longtok[65] = '\0';
    char wrong[sizeof(x.token)];
    memcpy(wrong, x.token, sizeof(wrong));
    wrong[0] = wrong[0] == '0' ? '1' : '0';

    SEND(c, "{\"type\":\"resume\",\"game_id\":%lld,\"token\":\"%s\",\"id\":\"b1\"}", x.gid,
         wrong);
    EXPECT_ERROR(c, "bad_token", "s:b1");
    SEND(c, "{\"type\":\"resume\",\"game_id\":%lld,\"token\":\"abc\",\"id\":\"b2\"}", x.gid);
    EXPECT_ERROR(c, "bad_token", "s:b2");
    SEND(c, "{\"type\":\"resume\",\"game_id\":%lld,\"token\":\"\",\"id\":\"b3\"}", x.gid);
    EXPECT_ERROR(c, "bad_token", "s:b3");
    SEND(c, "{\"type\":\"resume\",\"game_id\":%lld,\"token\":\"%s\",\"id\":\"b4\"}", x.gid,
         longtok);
    EXPECT_ERROR(c, "bad_message", "s:b4");
    /* a token is only good for its own game */
    seat x2;
    create_human(client(), &x2);
    SEND(c, "{\"type\":\"resume\",\"game_id\":%lld,\"token\":\"%s\",\"id\":\"b5\"}", x2.gid,
         x.token);
    EXPECT_ERROR(c, "bad_token", "s:b5");
    EXPECT_NONE(c);
    EXPECT_NONE(x.w);
    EXPECT_NONE(o.w);
    json_t *st = api_game(x.gid);
    CHECK_STATE(st, x.gid, ".........", "playing", NULL, "connected", "connected");
}

Test(errors, rate_limited, .description = "a burst of 30 pings over --rate-limit 5: some "
     "get rate_limited (with their id), the rest pong; the limit recovers")
{
    const char *extra[] = {"--rate-limit", "5", NULL};
    own_server(extra);
    wsc *w = client();
    for (int i = 0; i < 30; i++)
        SEND(w, "{\"type\":\"ping\",\"id\":%d}", i);
    cr_assert(wsc_flush(w, T_MSG) == 0, "the burst did not go out: %s", wsc_error(C));
    int pongs = 0, limited = 0, seen[30] = {0};
    for (int n = 0; n < 30; n++) {
        json_t *j = wsc_recv_json(w, T_MSG);
        if (!j)
            break;
        keep(j);
        const char *type = sget(j, "type");
        long long id = iget(j, "id");
        cr_assert(id >= 0 && id < 30 && !seen[id], "reply id %lld unknown or repeated", id);
        seen[id] = 1;
        if (!strcmp(type, "pong")) {
            pongs++;
        } else {
            cr_assert_str_eq(type, "error");
            cr_assert_str_eq(sget(j, "code"), "rate_limited");
            limited++;
        }
    }
    cr_log_info("rate limit 5/s: %d pongs, %d rate_limited of 30", pongs, limited);
    cr_assert(limited >= 1, "no rate_limited in a burst of 30 at 5/s");
    cr_assert(pongs >= 5 && pongs <= 16, "%d pongs: the burst allowance is 2 x 5", pongs);
    cr_assert(pongs + limited == 30, "every request gets one reply (%d of 30)",
              pongs + limited);
    /* after a pause the bucket has refilled: poll until a ping is answered */
    long long end = proc_now_ms() + 5000;
    int ok = 0;
    while (!ok && proc_now_ms() < end) {
        wsc_ctx_service(C, 400);
        SEND(w, "{\"type\":\"ping\",\"id\":\"again\"}");
        json_t *j = keep(wsc_recv_json(w, T_MSG));
        cr_assert(j, "no reply after the burst: %s", wsc_error(C));
        ok = !strcmp(sget(j, "type"), "pong");
    }
    cr_assert(ok, "the rate limit never recovered");
}

/* =========================================================================== */

TestSuite(resume, .init = setup, .fini = teardown, .timeout = 90);

Test(resume, after_drop, .description = "a dropped player shows as away, resumes with the "
     "token on a new connection (joined + state), shows connected and plays on")
{
    seat x, o;
    start_pair(&x, &o);
    wsc *ox[] = {o.w, NULL};
    play(&x, 4, ox);
    wsc_drop(x.w);
    x.w = NULL;
    json_t *away = EXPECT_STATE(o.w);
    CHECK_STATE(away, o.gid, "....X....", "playing", NULL, "away", "connected");

    wsc *back = client();
    SEND(back, "{\"type\":\"resume\",\"game_id\":%lld,\"token\":\"%s\",\"id\":\"r\"}", o.gid,
         x.token);
    seat x2;
    check_joined(EXPECT(back, "joined"), &x2, 'X', "s:r", __LINE__);
    cr_assert(x2.gid == o.gid);
    x2.w = back;
    json_t *s1 = EXPECT_STATE(back), *s2 = EXPECT_STATE(o.w);
    cr_assert(same_state(s1, s2));
    CHECK_STATE(s1, o.gid, "....X....", "playing", NULL, "connected", "connected");
    wsc *xb[] = {back, NULL};
    json_t *s3 = play(&o, 0, xb);
    CHECK_STATE(s3, o.gid, "O...X....", "playing", NULL, "connected", "connected");
    wsc *ob[] = {o.w, NULL};
    play(&x2, 8, ob);
}

Test(resume, close_and_resume_waiting, .description = "the creator of a waiting game "
     "closes cleanly and resumes; the game still waits and can be joined")
{
    seat x;
    create_human(client(), &x);
    wsc_close(x.w);
    wsc *back = client();
    SEND(back, "{\"type\":\"resume\",\"game_id\":%lld,\"token\":\"%s\"}", x.gid, x.token);
    seat x2;
    check_joined(EXPECT(back, "joined"), &x2, 'X', NULL, __LINE__);
    x2.w = back;
    json_t *st = EXPECT_STATE(back);
    CHECK_STATE(st, x.gid, ".........", "waiting", NULL, "connected", "open");
    seat o;
    join_game(client(), &o, &x2);
}

/* =========================================================================== */

TestSuite(lobby, .init = setup, .fini = teardown, .timeout = 90);

Test(lobby, list_only_waiting_created, .description = "list: games opened with create that "
     "wait for O, with age_s; not playing ones, not computer ones")
{
    seat w1, p1, p2;
    create_human(client(), &w1);
    start_pair(&p1, &p2);
    wsc *cpu = client();
    SEND(cpu, "{\"type\":\"create\",\"vs\":\"computer\"}");
    seat c1;
    check_joined(EXPECT(cpu, "joined"), &c1, 'X', NULL, __LINE__);

    wsc *q = client();
    SEND(q, "{\"type\":\"list\",\"id\":\"L\"}");
    json_t *g = EXPECT(q, "games");
    check_id(g, "s:L", __LINE__);
    json_t *arr = json_object_get(g, "games");
    cr_assert(json_is_array(arr), "games.games is not an array");
    int found = 0;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *e = json_array_get(arr, i);
        long long id = iget(e, "game_id");
        cr_assert(iget(e, "age_s") >= 0);
        cr_assert(id != p1.gid, "a playing game is listed");
        cr_assert(id != c1.gid, "a game against the computer is listed");
        found += id == w1.gid;
    }
    cr_assert(found == 1, "the waiting game %lld is listed %d times", w1.gid, found);

    seat o;
    join_game(client(), &o, &w1);
    SEND(q, "{\"type\":\"list\"}");
    arr = json_object_get(EXPECT(q, "games"), "games");
    for (size_t i = 0; i < json_array_size(arr); i++)
        cr_assert(iget(json_array_get(arr, i), "game_id") != w1.gid,
                  "a game that found its O is still listed");
}

Test(lobby, rematch_human, .description = "rematch: the first caller's opponent gets "
     "rematch_offer; the second call opens a new game with marks swapped, both get "
     "joined + state")
{
    seat x, o;
    start_pair(&x, &o);
    wsc *ox[] = {o.w, NULL}, *xo[] = {x.w, NULL};
    play(&x, 0, ox);
    play(&o, 3, xo);
    play(&x, 1, ox);
    play(&o, 4, xo);
    json_t *fin = play(&x, 2, ox);
    check_result(fin, "win", __LINE__);

    SEND(x.w, "{\"type\":\"rematch\",\"game_id\":%lld}", x.gid);
    json_t *offer = EXPECT(o.w, "rematch_offer");
    cr_assert(iget(offer, "game_id") == x.gid);
    EXPECT_NONE(x.w);

    SEND(o.w, "{\"type\":\"rematch\",\"game_id\":%lld,\"id\":\"rm\"}", o.gid);
    seat nx, no;
    check_joined(EXPECT(o.w, "joined"), &nx, 'X', "s:rm", __LINE__);
    check_joined(EXPECT(x.w, "joined"), &no, 'O', NULL, __LINE__);
    nx.w = o.w;
    no.w = x.w;
    cr_assert(nx.gid == no.gid && nx.gid != x.gid, "the rematch is one new game");
    json_t *a = EXPECT_STATE(o.w), *b = EXPECT_STATE(x.w);
    cr_assert(same_state(a, b), "the rematch states differ:\n%s\n%s", dumps(a), dumps(b));
    CHECK_STATE(a, nx.gid, ".........", "playing", NULL, "connected", "connected");
    /* the old O now moves first */
    play(&nx, 4, (wsc *[]){x.w, NULL});
    UNCHANGED(fin);
}

/* =========================================================================== */

TestSuite(computer, .init = setup, .fini = teardown, .timeout = 120);

/* Play one game against the computer with random legal moves. The human is
 * `me` (X or O); returns the final state. Checks that each accepted human
 * move is followed by exactly one computer move, each with its own state. */
static json_t *play_vs_computer(wsc *w, long long gid, char me, json_t *st)
{
    char board[10];
    snprintf(board, sizeof(board), "%s", sget(st, "board"));
    while (strcmp(sget(st, "status"), "playing") == 0) {
        const char *turn = sget(st, "turn");
        cr_assert(turn[0] == me, "the computer did not move: %s", dumps(st));
        int free_cells[9], n = 0;
        for (int i = 0; i < 9; i++)
            if (board[i] == '.')
                free_cells[n++] = i;
        cr_assert(n > 0);
        int cell = free_cells[rand() % n];
        long long ply = iget(st, "ply");
        SEND(w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":%d,\"ply\":%lld}", gid, cell,
             ply);
        st = EXPECT_STATE(w);
        board[cell] = me;
        cr_assert_str_eq(sget(st, "board"), board, "my move as the state shows it");
        cr_assert(iget(st, "ply") == ply + 1);
        if (strcmp(sget(st, "status"), "playing") != 0)
            break;
        json_t *cst = EXPECT_STATE(w);
        cr_assert(iget(cst, "ply") == ply + 2, "one computer move, with its own state");
        const char *nb = sget(cst, "board");
        int diff = 0;
        for (int i = 0; i < 9; i++)
            if (nb[i] != board[i]) {
                cr_assert(board[i] == '.' && nb[i] == (me == 'X' ? 'O' : 'X'),
                          "the computer changed cell %d: %s -> %s", i, board, nb);
                diff++;
            }
        cr_assert(diff == 1, "the computer made %d moves", diff);
        snprintf(board, sizeof(board), "%s", nb);
        st = cst;
    }
    EXPECT_NONE(w);
    return st;
}

static json_t *create_vs_computer(wsc *w, const char *level, seat *s)
{
    s->w = w;
    SEND(w, "{\"type\":\"create\",\"vs\":\"computer\",\"level\":\"%s\",\"id\":\"cc\"}", level);
    check_joined(EXPECT(w, "joined"), s, 'X', "s:cc", __LINE__);
    json_t *st = EXPECT_STATE(w);
    CHECK_STATE(st, s->gid, ".........", "playing", NULL, "connected", "connected");
    return st;
}

Test(computer, easy, .description = "vs computer easy: playing at once with O connected; "
     "each human move is followed by exactly one computer move")
{
    unsigned seed = (unsigned)time(NULL);
    srand(seed);
    cr_log_info("seed %u", seed);
    wsc *w = client();
    for (int g = 0; g < 2; g++) {
        seat s;
        json_t *st = create_vs_computer(w, "easy", &s);
        st = play_vs_computer(w, s.gid, 'X', st);
        str_or_null(st, "status", "over", __LINE__);
    }
}

Test(computer, default_level_is_perfect_and_never_loses, .description = "vs computer "
     "perfect (also the default level): random human play never wins, as X or as O")
{
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    srand(seed);
    cr_log_info("seed %u", seed);
    wsc *w = client();
    for (int g = 0; g < 5; g++) {
        seat s;
        json_t *st;
        if (g == 0) {   /* no level: perfect by default */
            s.w = w;
            SEND(w, "{\"type\":\"create\",\"vs\":\"computer\"}");
            check_joined(EXPECT(w, "joined"), &s, 'X', NULL, __LINE__);
            st = EXPECT_STATE(w);
        } else {
            st = create_vs_computer(w, "perfect", &s);
        }
        st = play_vs_computer(w, s.gid, 'X', st);
        json_t *winner = json_object_get(st, "winner");
        cr_assert(!json_is_string(winner) || strcmp(json_string_value(winner), "X") != 0,
                  "the human beat the perfect computer (seed %u): %s", seed, dumps(st));
    }
}

Test(computer, rematch_starts_at_once, .description = "rematch vs computer: a new game at "
     "once, the human is O, the computer (X) has already moved; perfect does not lose")
{
    unsigned seed = (unsigned)time(NULL) + 7;
    srand(seed);
    wsc *w = client();
    seat s;
    json_t *st = create_vs_computer(w, "perfect", &s);
    st = play_vs_computer(w, s.gid, 'X', st);
    for (int r = 0; r < 2; r++) {
        long long old = iget(st, "game_id");
        SEND(w, "{\"type\":\"rematch\",\"game_id\":%lld,\"id\":\"again\"}", old);
        seat n;
        check_joined(EXPECT(w, "joined"), &n, r % 2 ? 'X' : 'O', "s:again", __LINE__);
        cr_assert(n.gid != old);
        st = EXPECT_STATE(w);
        cr_assert(iget(st, "game_id") == n.gid);
        str_or_null(st, "status", "playing", __LINE__);
        str_or_null(json_object_get(st, "players"), "X", "connected", __LINE__);
        str_or_null(json_object_get(st, "players"), "O", "connected", __LINE__);
        if (r % 2 == 0 && iget(st, "ply") == 0) {
            /* allowed: the empty board first, then the computer's move */
            st = EXPECT_STATE(w);
        }
        if (r % 2 == 0) {
            cr_assert(iget(st, "ply") == 1, "the computer (X) has not moved first: %s",
                      dumps(st));
        } else {
            cr_assert(iget(st, "ply") == 0, "the human is X again: %s", dumps(st));
        }
        st = play_vs_computer(w, n.gid, r % 2 ? 'X' : 'O', st);
        json_t *winner = json_object_get(st, "winner");
        char me[2] = {r % 2 ? 'X' : 'O', 0};
        cr_assert(!json_is_string(winner) || strcmp(json_string_value(winner), me) != 0,
                  "the human beat the perfect computer: %s", dumps(st));
    }
}

/* =========================================================================== */

TestSuite(timeouts, .init = setup, .fini = teardown, .timeout = 90);

Test(timeouts, abandon, .description = "--abandon-timeout 1: a player who drops and does not "
     "return loses by abandon; the other wins")
{
    const char *extra[] = {"--abandon-timeout", "1", NULL};
    own_server(extra);
    seat x, o;
    start_pair(&x, &o);
    wsc *ox[] = {o.w, NULL};
    play(&x, 4, ox);
    wsc_drop(o.w);
    o.w = NULL;
    json_t *away = EXPECT_STATE(x.w);
    CHECK_STATE(away, x.gid, "....X....", "playing", NULL, "connected", "away");
    json_t *st = EXPECT_STATE_WITHIN(x.w, 8000);   /* 1 s plus a sweep and slack */
    CHECK_STATE(st, x.gid, "....X....", "over", "X", "connected", "away");
    check_result(st, "abandon", __LINE__);
    EXPECT_NONE(x.w);
    UNCHANGED(st);
}

Test(timeouts, resume_in_time, .description = "--abandon-timeout 1: a player who resumes "
     "at once keeps the game: no abandon afterwards")
{
    const char *extra[] = {"--abandon-timeout", "1", NULL};
    own_server(extra);
    seat x, o;
    start_pair(&x, &o);
    wsc_drop(o.w);
    CHECK_STATE(EXPECT_STATE(x.w), x.gid, ".........", "playing", NULL, "connected", "away");
    wsc *back = client();
    SEND(back, "{\"type\":\"resume\",\"game_id\":%lld,\"token\":\"%s\"}", o.gid, o.token);
    EXPECT(back, "joined");
    EXPECT_STATE(back);
    CHECK_STATE(EXPECT_STATE(x.w), x.gid, ".........", "playing", NULL, "connected",
                "connected");
    /* past the abandon time-out, nothing happens */
    char *s = wsc_recv(x.w, 2000);
    cr_assert(!s, "a resumed player was still abandoned: %s", s ? s : "");
    json_t *st = api_game(x.gid);
    str_or_null(st, "status", "playing", __LINE__);
}

Test(timeouts, waiting, .description = "--wait-timeout 1: a game nobody joins ends (over, "
     "abandon, no winner) and leaves the list, but stays readable")
{
    const char *extra[] = {"--wait-timeout", "1", NULL};
    own_server(extra);
    seat x;
    create_human(client(), &x);
    json_t *st = EXPECT_STATE_WITHIN(x.w, 8000);
    CHECK_STATE(st, x.gid, ".........", "over", NULL, "connected", "open");
    check_result(st, "abandon", __LINE__);
    wsc *q = client();
    SEND(q, "{\"type\":\"list\"}");
    json_t *arr = json_object_get(EXPECT(q, "games"), "games");
    cr_assert(json_array_size(arr) == 0, "the timed-out game is still listed");
    UNCHANGED(st);
    SEND(q, "{\"type\":\"join\",\"game_id\":%lld,\"id\":\"late\"}", x.gid);
    json_t *e = EXPECT(q, "error");
    check_id(e, "s:late", __LINE__);
    EXPECT_NONE(x.w);
}

/* =========================================================================== */

TestSuite(size, .init = setup, .fini = teardown, .timeout = 60);

/* A ping whose frame is exactly len bytes: {"type":"ping","id":"z","pad":"xx.."} */
static char *ping_of_size(size_t len)
{
    const char *head = "{\"type\":\"ping\",\"id\":\"z\",\"pad\":\"";
    const char *tail = "\"}";
    size_t hl = strlen(head), tl = strlen(tail);
    char *s = malloc(len + 1);
    cr_assert(s && len > hl + tl);
    memcpy(s, head, hl);
    memset(s + hl, 'x', len - hl - tl);
    memcpy(s + len - tl, tail, tl);
    s[len] = '\0';
    return s;
}

Test(keepalive, quiet_client_pinged_then_closed,
     .description = "--ping-interval 0.3 --ping-timeout 1: a connection that answers nothing "
                    "gets a ping once quiet, and is closed once silent past the timeout")
{
    const char *extra[] = {"--ping-interval", "0.3", "--ping-timeout", "1", NULL};
    own_server(extra);
    wsc_raw *r = wsc_raw_connect(S.port, "/ws", T_MSG);
    cr_assert(r, "raw connect");
    wsc_raw_set_silent(r, 1);
    char *p = NULL;
    int op = wsc_raw_recv_frame(r, T_MSG, &p, NULL);
    cr_assert_eq(op, WSC_OP_TEXT, "welcome first (got opcode %d)", op);
    free(p);
    long long t0 = proc_now_ms();
    op = wsc_raw_recv_frame(r, 3000, NULL, NULL);
    cr_assert_eq(op, WSC_OP_PING, "a ping on a quiet connection (got opcode %d)", op);
    /* answer nothing: the server must give up on us */
    int code = 0;
    cr_assert_eq(wsc_raw_wait_close(r, 5000, &code), 0, "closed within 5 s");
    cr_expect_geq(proc_now_ms() - t0, 500, "not closed before the timeout could pass");
    wsc_raw_free(r);
}

Test(keepalive, answering_client_stays,
     .description = "a client that answers pings stays connected well past the ping "
                    "timeout, and still gets answers")
{
    const char *extra[] = {"--ping-interval", "0.3", "--ping-timeout", "1", NULL};
    own_server(extra);
    wsc_raw *r = wsc_raw_connect(S.port, "/ws", T_MSG);
    cr_assert(r, "raw connect");
    char *p = NULL;
    cr_assert_eq(wsc_raw_recv_frame(r, T_MSG, &p, NULL), WSC_OP_TEXT, "welcome");
    free(p);
    /* 2.5 s of silence from our side but pongs: recv answers pings itself */
    cr_assert_eq(wsc_raw_recv_frame(r, 2500, NULL, NULL), -1, "nothing but pings for 2.5 s");
    const char ping[] = "{\"type\":\"ping\",\"id\":\"k\"}";
    cr_assert_eq(wsc_raw_send_frame(r, WSC_OP_TEXT, 1, ping, sizeof ping - 1), 0, "send ping");
    p = NULL;
    cr_assert_eq(wsc_raw_recv_frame(r, T_MSG, &p, NULL), WSC_OP_TEXT, "pong after 2.5 s");
    cr_expect(p && strstr(p, "\"pong\""), "got %s", p ? p : "(nothing)");
    free(p);
    wsc_raw_free(r);
}

Test(size, exactly_4096, .description = "a message of exactly 4096 bytes is accepted")
{
    wsc *w = client();
    char *s = ping_of_size(MAX_MSG);
    cr_assert(strlen(s) == MAX_MSG);
    int rc = wsc_send(w, s);
    free(s);
    cr_assert(rc == 0);
    check_id(EXPECT(w, "pong"), "s:z", __LINE__);
}

Test(size, over_4096_closes_1009, .description = "a single frame of 4097 bytes: the "
     "connection closes with 1009")
{
    wsc *w = client();
    char *s = ping_of_size(MAX_MSG + 1);
    int rc = wsc_send(w, s);
    free(s);
    cr_assert(rc == 0);
    int code = 0;
    const char *reason = NULL;
    cr_assert(wsc_wait_close(w, T_MSG, &code, &reason) == 0, "%s", wsc_error(C));
    cr_assert(code == 1009, "close code %d (%s), want 1009", code, reason);
    /* the server is fine */
    wsc *w2 = client();
    SEND(w2, "{\"type\":\"ping\"}");
    EXPECT(w2, "pong");
}

Test(size, fragmented_over_4096_closes_1009, .description = "3000 + 3000 bytes in two "
     "fragments of one message: close 1009 (the limit is on the whole message)")
{
    wsc *w = client();
    char *s = ping_of_size(6000);
    int rc = wsc_send_fragments(w, s, 6000, 3000);
    free(s);
    cr_assert(rc == 0);
    int code = 0;
    const char *reason = NULL;
    cr_assert(wsc_wait_close(w, T_MSG, &code, &reason) == 0, "%s", wsc_error(C));
    cr_assert(code == 1009, "close code %d (%s), want 1009", code, reason);
}

Test(size, fragmented_4096_accepted, .description = "a message in many small fragments is "
     "joined: 7-byte pieces of a ping, and 4096 bytes in 1000-byte pieces, both pong")
{
    wsc *w = client();
    const char *small = "{\"type\":\"ping\",\"id\":\"frag\"}";
    cr_assert(wsc_send_fragments(w, small, strlen(small), 7) == 0);
    check_id(EXPECT(w, "pong"), "s:frag", __LINE__);
    char *s = ping_of_size(MAX_MSG);
    int rc = wsc_send_fragments(w, s, MAX_MSG, 1000);
    free(s);
    cr_assert(rc == 0);
    check_id(EXPECT(w, "pong"), "s:z", __LINE__);
    /* and the next message starts afresh */
    SEND(w, "{\"type\":\"ping\",\"id\":\"after\"}");
    check_id(EXPECT(w, "pong"), "s:after", __LINE__);
}

Test(size, many_4096_in_a_row, .description = "the size limit is per message, not per "
     "connection: three 4096-byte messages in a row are all accepted")
{
    wsc *w = client();
    char *s = ping_of_size(MAX_MSG);
    for (int i = 0; i < 3; i++)
        cr_assert(wsc_send(w, s) == 0);
    free(s);
    for (int i = 0; i < 3; i++)
        EXPECT(w, "pong");
}

Test(size, binary_and_bad_utf8, .description = "text frames only: a binary frame or "
     "invalid UTF-8 gets an error or a close (1003/1007/1002), never a crash")
{
    wsc *w = client();
    const char bin[] = "{\"type\":\"ping\"}";
    cr_assert(wsc_send_binary(w, bin, sizeof(bin) - 1) == 0);
    char *m = wsc_recv(w, T_MSG);
    if (m) {
        json_t *j = keep(json_loads(m, 0, NULL));
        free(m);
        cr_assert(j && !strcmp(sget(j, "type"), "error"), "a binary frame was answered "
                  "as if it were text");
    } else {
        int code = 0;
        cr_assert(wsc_wait_close(w, T_MSG, &code, NULL) == 0);
        cr_assert(code == 1003 || code == 1002 || code == 1007, "close code %d", code);
    }

    wsc *u = client();
    const char bad[] = "{\"type\":\"ping\",\"id\":\"\xff\xfe\"}";
    cr_assert(wsc_send_raw_text(u, bad, sizeof(bad) - 1) == 0);
    m = wsc_recv(u, T_MSG);
    if (m) {
        json_t *j = keep(json_loads(m, 0, NULL));
        free(m);
        cr_assert(j && !strcmp(sget(j, "type"), "error"), "invalid UTF-8 was accepted");
    } else {
        int code = 0;
        cr_assert(wsc_wait_close(u, T_MSG, &code, NULL) == 0);
        cr_assert(code == 1007 || code == 1002, "close code %d", code);
    }
    wsc *ok = client();
    SEND(ok, "{\"type\":\"ping\"}");
    EXPECT(ok, "pong");
}

/* =========================================================================== */

TestSuite(http, .init = setup, .fini = teardown, .timeout = 60);

Test(http, index, .description = "GET / serves the browser client: 200 text/html")
{
    need_server();
    http_resp r;
    char ct[128];
    cr_assert(http_get(S.port, "/", &r) == 0, "GET / failed");
    int status = r.status;
    const char *type = http_header(&r, "Content-Type", ct, sizeof(ct));
    int html = strcasestr(r.body, "<html") != NULL;
    http_free(&r);
    cr_assert(status == 200, "GET /: %d", status);
    cr_assert(type && strcasestr(type, "text/html"), "Content-Type %s", type ? type : "-");
    cr_assert(html, "GET / is not an HTML page");
}

Test(http, healthz, .description = "GET /healthz: 200 with a JSON body when the store is "
     "reachable")
{
    need_server();
    http_resp r;
    cr_assert(http_get(S.port, "/healthz", &r) == 0);
    int status = r.status;
    json_t *j = keep(json_loads(r.body, 0, NULL));
    http_free(&r);
    cr_assert(status == 200, "/healthz: %d", status);
    cr_assert(j, "/healthz body is not JSON");
}

Test(http, metrics, .description = "GET /metrics: Prometheus text with connection, game, "
     "move and error counters")
{
    seat x, o;
    start_pair(&x, &o);
    play(&x, 0, (wsc *[]){o.w, NULL});
    http_resp r;
    cr_assert(http_get(S.port, "/metrics", &r) == 0);
    int status = r.status;
    char *body = strdup(r.body);
    http_free(&r);
    cr_assert(status == 200, "/metrics: %d", status);
    const char *words[] = {"connections", "games", "moves", "errors"};
    for (size_t i = 0; i < 4; i++)
        cr_expect(strcasestr(body, words[i]), "/metrics mentions no %s", words[i]);
    /* at least one "name value" sample line with a number */
    int samples = 0;
    for (char *line = strtok(body, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#' || !line[0])
            continue;
        char *sp = strrchr(line, ' ');
        char *end;
        if (sp && (strtod(sp + 1, &end), end != sp + 1))
            samples++;
    }
    free(body);
    cr_assert(samples >= 4, "only %d sample lines in /metrics", samples);
}

Test(http, api_games, .description = "GET /api/games/{id}: the state JSON for a known id, "
     "404 for an unknown one")
{
    seat x, o;
    start_pair(&x, &o);
    json_t *st = play(&x, 6, (wsc *[]){o.w, NULL});
    UNCHANGED(st);
    http_resp r;
    cr_assert(http_get(S.port, "/api/games/987654321", &r) == 0);
    int status = r.status;
    http_free(&r);
    cr_assert(status == 404, "unknown game: %d", status);
    cr_assert(http_get(S.port, "/api/games/99", &r) == 0);
    status = r.status;
    http_free(&r);
    cr_assert(status == 404, "game 99 (ids start at 100): %d", status);
}

/* =========================================================================== */

TestSuite(lifecycle, .init = setup, .fini = teardown, .timeout = 60);

Test(lifecycle, sigterm_1012, .description = "SIGTERM: every WebSocket client gets close "
     "code 1012, then the process exits with status 0")
{
    own_server(NULL);
    /* bare-socket clients see the code itself (lws 4.1 clients see 1002) */
    wsc_raw *r1 = wsc_raw_connect(S.port, "/ws", T_MSG);
    wsc_raw *r2 = wsc_raw_connect(S.port, "/ws", T_MSG);
    cr_assert(r1 && r2, "raw connect");
    char *p = NULL;
    cr_assert(wsc_raw_recv_frame(r1, T_MSG, &p, NULL) == WSC_OP_TEXT && strstr(p, "welcome"),
              "raw welcome");
    free(p);
    p = NULL;
    cr_assert(wsc_raw_recv_frame(r2, T_MSG, &p, NULL) == WSC_OP_TEXT);
    free(p);
    const char *create = "{\"type\":\"create\"}";
    wsc_raw_send_frame(r2, WSC_OP_TEXT, 1, create, strlen(create));
    p = NULL;
    cr_assert(wsc_raw_recv_frame(r2, T_MSG, &p, NULL) == WSC_OP_TEXT && strstr(p, "joined"));
    free(p);
    seat x;
    create_human(client(), &x);   /* and an lws client, seated */

    pid_t pid = S.pid;
    cr_assert(kill(pid, SIGTERM) == 0);
    int c1 = 0, c2 = 0, c3 = 0;
    int rc1 = wsc_raw_wait_close(r1, 5000, &c1);
    int rc2 = wsc_raw_wait_close(r2, 5000, &c2);
    int rc3 = wsc_wait_close(x.w, 5000, &c3, NULL);
    wsc_raw_free(r1);
    wsc_raw_free(r2);
    int st = proc_wait_exit(pid, 10000);
    if (st != -1)
        S.pid = 0;        /* reaped: teardown must not signal a reused pid */
    cr_assert(rc1 == 0 && c1 == 1012, "idle client: close %d (rc %d), want 1012", c1, rc1);
    cr_assert(rc2 == 0 && c2 == 1012, "seated client: close %d (rc %d), want 1012", c2, rc2);
    cr_assert(rc3 == 0 && c3 != WSC_CLOSE_ABNORMAL, "lws client: no close frame (%d)", c3);
    cr_assert(st != -1, "ttt-server still running 10 s after SIGTERM");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        print_sanitizer_lines(S.log);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %#x after SIGTERM", st);
}

/* =========================================================================== */

TestSuite(redis, .init = setup, .fini = teardown, .timeout = 60);

Test(redis, unavailable, .description = "Redis variant: with Redis gone a move gets "
     "unavailable (with its id) and /healthz turns 503")
{
    if (!use_redis())
        cr_skip_test("in-memory store: Redis cannot go away");
    own_server(NULL);
    seat x, o;
    start_pair(&x, &o);
    proc_redis_stop(&S.redis, 0);
    S.has_redis = 0;
    SEND(x.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":4,\"id\":\"u\"}", x.gid);
    EXPECT_ERROR(x.w, "unavailable", "s:u");
    EXPECT_NONE(o.w);
    long long end = proc_now_ms() + 8000;
    int status = 0;
    while (proc_now_ms() < end) {
        http_resp r;
        if (http_get(S.port, "/healthz", &r) == 0) {
            status = r.status;
            http_free(&r);
            if (status == 503)
                break;
        }
        wsc_ctx_service(C, 200);
    }
    cr_assert(status == 503, "/healthz %d with Redis down", status);
}

/* =========================================================================== *
 * Issue 8, sections 5-7 (network layer): the handshake policy, the abuse   *
 * limits, RFC 6455 strictness, peer-fault log lines, and a connection the   *
 * manager cannot take in. Every test here fails on the code before it.      *
 * =========================================================================== */

/* A raw WebSocket handshake: the HTTP status of the answer (101, 403, ...),
 * or 0 when the server closed without one. headers: extra header lines,
 * each ending in \r\n (may be NULL); with origin NULL, no Origin header is
 * sent. On 101 the socket is kept open in *fd when fd is non-NULL. */
static int ws_handshake(int port, const char *path, const char *origin, const char *headers,
                        int *fd)
{
    char req[1024], buf[2048];
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {5, 0};
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd)
        *fd = -1;
    if (s < 0)
        return -1;
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(s);
        return -1;
    }
    char oh[300] = "";
    if (origin)
        snprintf(oh, sizeof oh, "Origin: %s\r\n", origin);
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s%s\r\n",
                     path, port, oh, headers ? headers : "");
    if (send(s, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(s);
        return -1;
    }
    size_t len = 0;
    while (len < sizeof buf - 1) {
        ssize_t got = recv(s, buf + len, sizeof buf - 1 - len, 0);
        if (got <= 0)
            break;
        len += (size_t)got;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            break;
    }
    buf[len] = '\0';
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    if (status == 101 && fd)
        *fd = s;
    else
        close(s);
    return status;
}

/* A sample of /metrics (the exact name with labels, e.g.
 * ttt_refused_total{limit="origin"}), or -1. */
static long long metric_value(const char *name)
{
    http_resp r;
    if (http_get(S.port, "/metrics", &r) != 0)
        return -1;
    long long v = -1;
    size_t nl = strlen(name);
    for (const char *p = r.body; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, name, nl) == 0 && p[nl] == ' ') {
            v = strtoll(p + nl + 1, NULL, 10);
            break;
        }
    http_free(&r);
    return v;
}

/* Poll until a handshake gets want (the server closes refused and dropped
 * connections asynchronously), for at most ms. The last status seen. */
static int handshake_until(int want, const char *headers, int *fd, int ms)
{
    long long end = proc_now_ms() + ms;
    int st;
    do {
        st = ws_handshake(S.port, "/ws", NULL, headers, fd);
        if (st == want)
            return st;
        wsc_ctx_service(C, 50);
    } while (proc_now_ms() < end);
    return st;
}

/* ---- the handshake policy ---- */

TestSuite(handshake, .init = setup, .fini = teardown, .timeout = 60);

Test(handshake, only_ws_path, .description = "a WebSocket upgrade on a path other than /ws "
     "gets 404 (it used to upgrade on every path); /ws upgrades")
{
    need_server();
    long long before = metric_value("ttt_refused_total{limit=\"not_ws_path\"}");
    cr_assert_eq(ws_handshake(S.port, "/", NULL, NULL, NULL), 404);
    cr_assert_eq(ws_handshake(S.port, "/api/games/100", NULL, NULL, NULL), 404);
    cr_assert_eq(ws_handshake(S.port, "/wsx", NULL, NULL, NULL), 404);
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, NULL, NULL), 101);
    cr_assert_eq(metric_value("ttt_refused_total{limit=\"not_ws_path\"}"), before + 3);
}

Test(handshake, origin_default, .description = "Origin: the Host's own is accepted (with or "
     "without the port), another site gets 403, no Origin (not a browser) is accepted")
{
    need_server();
    char same[64];
    snprintf(same, sizeof same, "http://127.0.0.1:%d", S.port);
    long long before = metric_value("ttt_refused_total{limit=\"origin\"}");
    cr_assert_eq(ws_handshake(S.port, "/ws", same, NULL, NULL), 101);
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, NULL, NULL), 101);
    cr_assert_eq(ws_handshake(S.port, "/ws", "http://evil.example", NULL, NULL), 403);
    cr_assert_eq(ws_handshake(S.port, "/ws", "http://127.0.0.1:1", NULL, NULL), 403,
                 "another port of the same host is another origin");
    cr_assert_eq(ws_handshake(S.port, "/ws", "null", NULL, NULL), 403);
    cr_assert_eq(metric_value("ttt_refused_total{limit=\"origin\"}"), before + 3);
}

Test(handshake, allowed_origin, .description = "--allowed-origin adds an origin (exact, any "
     "case); * allows every origin")
{
    const char *extra[] = {"--allowed-origin", "https://play.example.org", NULL};
    own_server(extra);
    cr_assert_eq(ws_handshake(S.port, "/ws", "https://play.example.org", NULL, NULL), 101);
    cr_assert_eq(ws_handshake(S.port, "/ws", "https://PLAY.example.org", NULL, NULL), 101);
    cr_assert_eq(ws_handshake(S.port, "/ws", "https://other.example.org", NULL, NULL), 403);
    tsrv_stop(&S);
    const char *any[] = {"--allowed-origin", "*", NULL};
    own_server(any);
    cr_assert_eq(ws_handshake(S.port, "/ws", "https://other.example.org", NULL, NULL), 101);
}

Test(handshake, over_limit_503, .description = "a handshake over --max-connections gets an "
     "HTTP 503 (it used to be a bare TCP close); a freed slot is taken again")
{
    const char *extra[] = {"--max-connections", "2", NULL};
    own_server(extra);
    int a, b;
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, NULL, &a), 101);
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, NULL, &b), 101);
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, NULL, NULL), 503);
    cr_assert_eq(metric_value("ttt_connections_refused_total"), 1);
    close(a);
    int c;
    cr_assert_eq(handshake_until(101, NULL, &c, T_MSG), 101, "the slot never came back");
    close(b);
    close(c);
}

/* ---- connections per client address ---- */

TestSuite(per_ip, .init = setup, .fini = teardown, .timeout = 60);

Test(per_ip, connection_limit, .description = "--max-connections-per-ip 3: the 4th connection "
     "from one address gets 429 (5,000 were accepted before); one closing frees a place")
{
    const char *extra[] = {"--max-connections-per-ip", "3", NULL};
    own_server(extra);
    int fd[3];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(ws_handshake(S.port, "/ws", NULL, NULL, &fd[i]), 101, "connection %d", i);
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, NULL, NULL), 429);
    cr_assert_eq(metric_value("ttt_refused_total{limit=\"connections_per_ip\"}"), 1);
    close(fd[0]);
    cr_assert_eq(handshake_until(101, NULL, &fd[0], T_MSG), 101, "the place never came back");
    for (int i = 0; i < 3; i++)
        close(fd[i]);
}

Test(per_ip, forwarded_untrusted, .description = "without --trusted-proxy, X-Forwarded-For and "
     "X-Real-IP are ignored: a client cannot dodge the limit by naming another address")
{
    const char *extra[] = {"--max-connections-per-ip", "1", NULL};
    own_server(extra);
    int fd;
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, "X-Forwarded-For: 10.0.0.1\r\n", &fd), 101);
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, "X-Forwarded-For: 10.0.0.2\r\n", NULL), 429);
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, "X-Real-IP: 10.0.0.3\r\n", NULL), 429);
    close(fd);
}

Test(per_ip, trusted_proxy, .description = "--trusted-proxy 127.0.0.1 (nginx in front): the "
     "limit counts the X-Forwarded-For / X-Real-IP address, entries left of the client's are "
     "not believed, and a proxy request without them counts as the proxy")
{
    const char *extra[] = {"--max-connections-per-ip", "1", "--trusted-proxy", "127.0.0.1",
                           NULL};
    own_server(extra);
    int a, b, c, d;
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, "X-Forwarded-For: 10.0.0.1\r\n", &a), 101);
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, "X-Forwarded-For: 10.0.0.1\r\n", NULL), 429);
    /* what nginx's $proxy_add_x_forwarded_for makes of a forged header */
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, "X-Forwarded-For: 10.9.9.9, 10.0.0.1\r\n",
                              NULL), 429);
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, "X-Forwarded-For: 10.0.0.2\r\n", &b), 101);
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, "X-Real-IP: 10.0.0.3\r\n", &c), 101);
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, NULL, &d), 101, "the proxy itself");
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, "X-Forwarded-For: junk\r\n", NULL), 429,
                 "an unreadable header counts as the proxy");
    close(a);
    close(b);
    close(c);
    close(d);
}

Test(per_ip, message_rate, .description = "--ip-rate-limit 5: three connections from one "
     "address share one bucket (burst 10); the per-connection limit alone let all 30 through")
{
    const char *extra[] = {"--rate-limit", "1000", "--ip-rate-limit", "5", NULL};
    own_server(extra);
    wsc *w[3];
    for (int i = 0; i < 3; i++)
        w[i] = client();
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 10; k++)
            SEND(w[i], "{\"type\":\"ping\",\"id\":%d}", k);
    int pongs = 0, limited = 0;
    for (int i = 0; i < 3; i++) {
        cr_assert(wsc_flush(w[i], T_MSG) == 0, "the burst did not go out: %s", wsc_error(C));
        for (int k = 0; k < 10; k++) {
            json_t *j = keep(wsc_recv_json(w[i], T_MSG));
            cr_assert(j, "connection %d, reply %d: %s", i, k, wsc_error(C));
            if (!strcmp(sget(j, "type"), "pong"))
                pongs++;
            else if (!strcmp(sget(j, "code"), "rate_limited"))
                limited++;
        }
    }
    cr_log_info("address rate 5/s over 3 connections: %d pongs, %d rate_limited", pongs, limited);
    cr_assert(limited >= 10, "only %d of 30 were rate_limited", limited);
    cr_assert(pongs >= 10 && pongs <= 16, "%d pongs: the address' burst is 10", pongs);
    cr_assert(metric_value("ttt_refused_total{limit=\"ip_rate\"}") == limited);
}

/* ---- what one connection may hold ---- */

TestSuite(caps, .init = setup, .fini = teardown, .timeout = 90);

Test(caps, watch, .description = "--max-watch 3: a 4th watch gets rate_limited with its id "
     "and watches nothing (6,000 were accepted before)")
{
    const char *extra[] = {"--max-watch", "3", NULL};
    own_server(extra);
    wsc *maker = client();
    long long gid[4];
    for (int i = 0; i < 4; i++) {
        SEND(maker, "{\"type\":\"create\",\"vs\":\"computer\"}");
        gid[i] = iget(EXPECT(maker, "joined"), "game_id");
        EXPECT_STATE(maker);
    }
    wsc *fan = client();
    for (int i = 0; i < 3; i++) {
        SEND(fan, "{\"type\":\"watch\",\"game_id\":%lld}", gid[i]);
        EXPECT(fan, "watching");
        EXPECT_STATE(fan);
    }
    SEND(fan, "{\"type\":\"watch\",\"game_id\":%lld,\"id\":\"w4\"}", gid[3]);
    EXPECT_ERROR(fan, "rate_limited", "s:w4");
    SEND(maker, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":0}", gid[3]);
    EXPECT_STATE(maker);
    EXPECT_NONE(fan);
    cr_assert_eq(metric_value("ttt_refused_total{limit=\"watch\"}"), 1);
}

Test(caps, waiting, .description = "--max-waiting 2 --max-waiting-per-ip 3: a connection "
     "opens 2 waiting games, the address 3; then create and quick get rate_limited; a game "
     "against the computer is still fine, and a joined game frees a place")
{
    const char *extra[] = {"--max-waiting", "2", "--max-waiting-per-ip", "3", NULL};
    own_server(extra);
    wsc *a = client(), *b = client();
    seat g1, g2, g3;
    create_human(a, &g1);
    create_human(a, &g2);
    SEND(a, "{\"type\":\"create\",\"id\":\"a3\"}");
    EXPECT_ERROR(a, "rate_limited", "s:a3");
    SEND(a, "{\"type\":\"quick\",\"id\":\"aq\"}");
    EXPECT_ERROR(a, "rate_limited", "s:aq");
    create_human(b, &g3);
    SEND(b, "{\"type\":\"create\",\"id\":\"b2\"}");
    EXPECT_ERROR(b, "rate_limited", "s:b2");
    SEND(b, "{\"type\":\"create\",\"vs\":\"computer\",\"id\":\"bc\"}");
    EXPECT(b, "joined");
    EXPECT_STATE(b);
    /* someone takes g1: a holds one waiting game now, the address two */
    seat o;
    join_game(client(), &o, &g1);
    SEND(a, "{\"type\":\"create\",\"id\":\"a4\"}");
    EXPECT(a, "joined");
    EXPECT_STATE(a);
    cr_assert_eq(metric_value("ttt_refused_total{limit=\"waiting\"}"), 3);
}

/* ---- RFC 6455 strictness ---- */

TestSuite(rfc6455, .init = setup, .fini = teardown, .timeout = 60);

static wsc_raw *raw_client(void)
{
    need_server();
    wsc_raw *r = wsc_raw_connect(S.port, "/ws", T_MSG);
    cr_assert(r, "raw connect to port %d", S.port);
    char *p = NULL;
    cr_assert(wsc_raw_recv_frame(r, T_MSG, &p, NULL) == WSC_OP_TEXT && strstr(p, "welcome"));
    free(p);
    return r;
}

static int raw_close_code(wsc_raw *r)
{
    int code = 0;
    cr_assert(wsc_raw_wait_close(r, T_MSG, &code) == 0, "no close within %d ms", T_MSG);
    return code;
}

Test(rfc6455, bad_utf8_1007, .description = "a text frame that is not UTF-8 closes with 1007 "
     "(it used to get bad_json)")
{
    wsc_raw *r = raw_client();
    const char bad[] = "{\"type\":\"ping\",\"x\":\"\xc3\x28\"}";
    wsc_raw_send_frame(r, WSC_OP_TEXT, 1, bad, sizeof bad - 1);
    cr_assert_eq(raw_close_code(r), 1007);
    wsc_raw_free(r);
}

Test(rfc6455, bad_utf8_fragmented_1007, .description = "UTF-8 is checked over the whole "
     "message: a code point split over two fragments is fine, a surrogate is 1007")
{
    wsc_raw *r = raw_client();
    /* U+00E9 split between the fragments: valid */
    const char *p1 = "{\"type\":\"ping\",\"id\":\"\xc3", *p2 = "\xa9\"}";
    wsc_raw_send_frame(r, WSC_OP_TEXT, 0, p1, strlen(p1));
    wsc_raw_send_frame(r, WSC_OP_CONT, 1, p2, strlen(p2));
    char *p = NULL;
    cr_assert_eq(wsc_raw_recv_frame(r, T_MSG, &p, NULL), WSC_OP_TEXT);
    cr_assert(strstr(p, "pong"), "a split code point is valid UTF-8: %s", p);
    free(p);
    const char *s1 = "{\"type\":\"ping\",\"x\":\"\xed", *s2 = "\xa0\x80\"}";   /* U+D800 */
    wsc_raw_send_frame(r, WSC_OP_TEXT, 0, s1, strlen(s1));
    wsc_raw_send_frame(r, WSC_OP_CONT, 1, s2, strlen(s2));
    cr_assert_eq(raw_close_code(r), 1007);
    wsc_raw_free(r);
}

Test(rfc6455, close_code_invalid_1002, .description = "a close frame with code 5000 is "
     "answered with 1002 (it used to be echoed); 1000 is echoed")
{
    wsc_raw *r = raw_client();
    const unsigned char c5000[] = {0x13, 0x88};
    wsc_raw_send_frame(r, WSC_OP_CLOSE, 1, c5000, 2);
    cr_assert_eq(raw_close_code(r), 1002);
    wsc_raw_free(r);
    r = raw_client();
    const unsigned char c1000[] = {0x03, 0xe8, 'b', 'y', 'e'};
    wsc_raw_send_frame(r, WSC_OP_CLOSE, 1, c1000, sizeof c1000);
    cr_assert_eq(raw_close_code(r), 1000);
    wsc_raw_free(r);
    cr_assert_eq(metric_value("ttt_closed_protocol_error_total") >= 1, 1);
}

Test(rfc6455, close_one_byte_1002, .description = "a 1-byte close payload is answered with "
     "1002 (it used to get an empty close)")
{
    wsc_raw *r = raw_client();
    const unsigned char one[] = {0x03};
    wsc_raw_send_frame(r, WSC_OP_CLOSE, 1, one, 1);
    cr_assert_eq(raw_close_code(r), 1002);
    wsc_raw_free(r);
}

Test(rfc6455, close_reason_bad_utf8_1007, .description = "a close reason that is not UTF-8 "
     "is answered with 1007")
{
    wsc_raw *r = raw_client();
    const unsigned char c[] = {0x03, 0xe8, 0xff, 0xfe};
    wsc_raw_send_frame(r, WSC_OP_CLOSE, 1, c, sizeof c);
    cr_assert_eq(raw_close_code(r), 1007);
    wsc_raw_free(r);
}

Test(rfc6455, control_frame_over_125_1002, .description = "a ping of 200 bytes (control "
     "frames carry at most 125) is answered with 1002 (it used to be a bare TCP close)")
{
    wsc_raw *r = raw_client();
    char big[200];
    memset(big, 'p', sizeof big);
    wsc_raw_send_frame(r, WSC_OP_PING, 1, big, sizeof big);
    cr_assert_eq(raw_close_code(r), 1002);
    wsc_raw_free(r);
}

Test(rfc6455, dropped_peer_no_protocol_error, .description = "clients that drop the TCP "
     "connection without a close frame are not counted as protocol errors")
{
    const char *extra[] = {"--log-level", "info", NULL};
    own_server(extra);
    for (int i = 0; i < 3; i++)
        wsc_raw_free(raw_client());
    long long end = proc_now_ms() + T_MSG;
    while (metric_value("ttt_connections") != 0 && proc_now_ms() < end)
        wsc_ctx_service(C, 20);
    cr_assert_eq(metric_value("ttt_connections"), 0);
    cr_assert_eq(metric_value("ttt_closed_protocol_error_total"), 0);
}

/* ---- peer faults do not flood the log ---- */

TestSuite(log_flood, .init = setup, .fini = teardown, .timeout = 90);

static int count_lines(const char *path, const char *needle)
{
    char *text = proc_read_file(path);
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    free(text);
    return n;
}

Test(log_flood, refused_handshakes, .description = "120 handshakes over the limit and 60 "
     "1007 closes write at most a line a second of each kind, with a count (each refusal "
     "logged a line before)")
{
    const char *extra[] = {"--max-connections", "1", "--log-level", "info", NULL};
    own_server(extra);
    long long t0 = proc_now_ms();
    int keep_fd;
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, NULL, &keep_fd), 101);
    for (int i = 0; i < 120; i++)
        cr_assert_eq(ws_handshake(S.port, "/ws", NULL, NULL, NULL), 503, "handshake %d", i);
    close(keep_fd);
    for (int i = 0; i < 60; i++) {
        wsc_raw *r = NULL;
        long long end = proc_now_ms() + T_MSG;
        while (!r && proc_now_ms() < end)   /* the slot frees once CLOSED has run */
            r = wsc_raw_connect(S.port, "/ws", 1000);
        cr_assert(r, "connection %d", i);
        wsc_raw_send_frame(r, WSC_OP_TEXT, 1, "\xff", 1);
        int code = 0;
        cr_assert(wsc_raw_wait_close(r, T_MSG, &code) == 0);
        wsc_raw_free(r);
    }
    long long secs = (proc_now_ms() - t0) / 1000 + 1;
    int refused = count_lines(S.log, "refused") + count_lines(S.log, "denied");
    int utf8 = count_lines(S.log, "UTF-8");
    cr_log_info("%lld s: %d refusal lines, %d UTF-8 lines", secs, refused, utf8);
    cr_assert(refused >= 1 && refused <= 2 * (secs + 1), "%d refusal lines in %lld s",
              refused, secs);
    cr_assert(utf8 >= 1 && utf8 <= secs + 1, "%d UTF-8 lines in %lld s", utf8, secs);
    /* one more refusal a second later writes its line, with what was held back */
    int fd2;
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, NULL, &fd2), 101);
    long long end = proc_now_ms() + 5000;
    while (count_lines(S.log, "more like this") == 0 && proc_now_ms() < end) {
        cr_assert_eq(ws_handshake(S.port, "/ws", NULL, NULL, NULL), 503);
        wsc_ctx_service(C, 100);
    }
    close(fd2);
    char *text = proc_read_file(S.log);
    const char *held = text ? strstr(text, "more like this") : NULL;
    while (held && held > text && held[-1] != '(')
        held--;
    long n = held ? strtol(held, NULL, 10) : 0;
    free(text);
    cr_assert(n >= 50, "the first held-back count is %ld, want most of the 120 refusals", n);
}

/* ---- a connection the manager cannot take in (section 7) ---- */

TestSuite(alloc_fail, .init = setup, .fini = teardown, .timeout = 60);

Test(alloc_fail, conn_open_fails, .description = "when gm_conn_open fails at ESTABLISHED "
     "(fault hook TTT_FAULT_CONN_OPEN=2), those clients get 1011, the connection gauge stays "
     "exact (it underflowed and refused everyone after), and later clients play")
{
    setenv("TTT_FAULT_CONN_OPEN", "2", 1);
    const char *extra[] = {"--max-connections", "4", NULL};
    own_server(extra);
    unsetenv("TTT_FAULT_CONN_OPEN");
    for (int i = 0; i < 2; i++) {
        wsc_raw *r = wsc_raw_connect(S.port, "/ws", T_MSG);
        cr_assert(r, "handshake %d", i);
        int code = 0;
        cr_assert(wsc_raw_wait_close(r, T_MSG, &code) == 0);
        cr_assert_eq(code, 1011, "connection %d closed with %d", i, code);
        wsc_raw_free(r);
    }
    cr_assert_eq(metric_value("ttt_connections_failed_total"), 2);
    long long end = proc_now_ms() + T_MSG;
    while (metric_value("ttt_connections") != 0 && proc_now_ms() < end)
        wsc_ctx_service(C, 20);
    cr_assert_eq(metric_value("ttt_connections"), 0, "the gauge after two failed opens");
    seat x, o;
    start_pair(&x, &o);
    cr_assert_eq(metric_value("ttt_connections"), 2);
    play(&x, 4, (wsc *const[]){o.w, NULL});
}
