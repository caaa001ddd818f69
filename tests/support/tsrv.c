/* tsrv.c -- the shared harness of the test_server_* binaries: a ttt-server
 * (and, with TTT_TEST_STORE=redis, a redis-server of its own) per runner or
 * per test, plain HTTP GETs, the runner-side Criterion hooks, and each test's
 * init/fini. Moved verbatim from the former tests/test_server.c; see tsrv.h.
 *
 * Servers: the runner process starts one shared server (default options)
 * before the first test and stops it after the last; tests that need special
 * flags or a pristine server (game ids from 100, an empty matchmaking pool,
 * SIGTERM) start their own. Criterion runs every test in its own process, so
 * the shared server's port reaches the tests through the environment.
 * Every server logs to a file; when a test fails, the runner prints the tail
 * of the logs that test used. Every binary that links this file gets the
 * hooks once: there must be exactly one ReportHook(PRE_ALL) per binary. */
#define _GNU_SOURCE
#include "tsrv.h"

#ifndef TTT_SERVER_BIN
#error "TTT_SERVER_BIN must name the ttt-server binary"
#endif

tsrv S;                   /* the server the running test talks to */
wsc_ctx *C;               /* the running test's client context */

/* ---- HTTP ---------------------------------------------------------------------- */

void t_http_free(http_resp *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* A header's value (case-insensitive name), copied into buf; NULL if absent. */
const char *t_http_header(const http_resp *r, const char *name, char *buf, size_t n)
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
int t_http_get(int port, const char *path, http_resp *r)
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
    if (t_http_header(r, "Transfer-Encoding", te, sizeof(te)) && strcasestr(te, "chunked"))
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

static tsrv shared_srv;   /* runner process only */

int t_use_redis(void)
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
        if (t_http_get(s->port, "/healthz", &r) == 0) {
            int status = r.status;
            t_http_free(&r);
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
int tsrv_start(tsrv *s, const char *log_path, const char *const *extra)
{
    char port[16], web[1024];
    const char *argv[40];
    int n = 0;

    memset(s, 0, sizeof(*s));
    if (t_use_redis()) {
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
int tsrv_stop(tsrv *s)
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
void t_print_sanitizer_lines(const char *path)
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
void t_report_exit(const tsrv *s, int st)
{
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return;
    fprintf(stderr, "test_server: WARNING: ttt-server did not exit with 0 after SIGTERM "
            "(wait status %#x); log %s\n", (unsigned)st, s->log);
    t_print_sanitizer_lines(s->log);
}

const char *t_it_dir(void)
{
    const char *d = getenv("TTT_IT_DIR");
    return d ? d : "/tmp";
}

void t_test_log_path(char *buf, size_t n, const char *suite, const char *name)
{
    snprintf(buf, n, "%s/%s.%s.log", t_it_dir(), suite, name);
}

/* A test that crashes or times out never runs its fini, so the PIDs of what
 * it started are written down for the runner to SIGKILL afterwards. */
static void pids_path(char *buf, size_t n, const char *suite, const char *name)
{
    snprintf(buf, n, "%s/%s.%s.pids", t_it_dir(), suite, name);
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
    t_test_log_path(log, sizeof(log), stats->test->category, stats->test->name);
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
        t_report_exit(&shared_srv, st);
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
json_t **kept;
size_t nkept;
static size_t capkept;

json_t *t_keep(json_t *j)
{
    if (nkept == capkept) {
        capkept = capkept ? capkept * 2 : 64;
        kept = realloc(kept, capkept * sizeof(*kept));
        cr_assert(kept);
    }
    kept[nkept++] = j;
    return j;
}

void t_setup(void)
{
    const char *port = getenv("TTT_IT_PORT");
    memset(&S, 0, sizeof(S));
    S.port = port ? atoi(port) : 0;
    snprintf(S.log, sizeof(S.log), "%s", getenv("TTT_IT_LOG") ? getenv("TTT_IT_LOG") : "");
    C = wsc_ctx_new();
    cr_assert(C, "lws client context");
}

void t_teardown(void)
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
        t_report_exit(&s, tsrv_stop(&S));
    } else if (S.has_redis) {
        tsrv_stop(&S);
    }
    char path[1100];
    const struct criterion_test *t = criterion_current_test;
    pids_path(path, sizeof(path), t->category, t->name);
    unlink(path);
}

/* Start this test's own server with extra flags (NULL-terminated list). */
void t_own_server(const char *const *extra)
{
    char log[1024];
    const struct criterion_test *t = criterion_current_test;
    t_test_log_path(log, sizeof(log), t->category, t->name);
    cr_assert(tsrv_start(&S, log, extra) == 0, "start ttt-server (log %s)", log);
    char path[1100];
    pids_path(path, sizeof(path), t->category, t->name);
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%d %d\n", (int)S.pid, S.has_redis ? (int)S.redis.pid : 0);
        fclose(f);
    }
}

void t_need_server(void)
{
    cr_assert(S.port > 0, "the shared ttt-server did not start (see %s/shared.log)",
              t_it_dir());
}
