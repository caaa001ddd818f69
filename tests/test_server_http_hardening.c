/* test_server_http_hardening.c -- the wire contract (docs/protocol.md) against a real
 * ttt-server process: issue 8's HTTP hardening: raw TCP requests with stray bytes,
 * early closes and pipelining; HEAD; 405, 414 and 431.
 * Split from the former test_server.c; the harness (servers, clients,
 * expect helpers, state checks) is tests/support/tsrv.c, tsrv_expect.c. */
#define _GNU_SOURCE
#include "tsrv.h"

/* ===========================================================================
 * HTTP hardening (issue 8): requests over raw TCP with stray bytes, early
 * closes and pipelining; HEAD; 405, 414 and 431.
 * =========================================================================== */

#include <errno.h>

static int raw_connect(int port, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Send `req` in one write and read until the server closes, or until nothing
 * comes for timeout_ms (then *timed_out is set). Returns what arrived,
 * NUL-terminated (malloc'd), or NULL if the connection failed. */
static char *raw_exchange(int port, const char *req, size_t len, int timeout_ms, int *timed_out,
                          size_t *out_len)
{
    int fd = raw_connect(port, timeout_ms);
    size_t n = 0, cap = 65536;
    char *buf = malloc(cap);
    *timed_out = 0;
    if (fd < 0 || !buf || send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len) {
        free(buf);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    for (;;) {
        if (cap - n < 4096) {
            char *p = realloc(buf, cap *= 2);
            if (!p)
                break;
            buf = p;
        }
        ssize_t got = recv(fd, buf + n, cap - n - 1, 0);
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            *timed_out = 1;
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    buf[n] = '\0';
    close(fd);
    if (out_len)
        *out_len = n;
    return buf;
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* The sanitizer verdicts t_print_sanitizer_lines() shows, present in a log? */
static int has_sanitizer_report(const char *path)
{
    char *text = proc_read_file(path);
    int found = text && (strstr(text, "ERROR: AddressSanitizer") ||
                         strstr(text, "ERROR: LeakSanitizer") ||
                         strstr(text, "runtime error:"));
    free(text);
    return found;
}

/* X wins on the top row: the server still plays a whole WebSocket game. */
static void play_a_game(void)
{
    seat x, o;
    t_start_pair(&x, &o);
    wsc *const ox[] = {o.w, NULL}, *const xo[] = {x.w, NULL};
    t_play(&x, 0, ox);
    t_play(&o, 3, xo);
    t_play(&x, 1, ox);
    t_play(&o, 4, xo);
    json_t *st = t_play(&x, 2, ox);
    cr_assert(strcmp(t_sget(st, "status"), "over") == 0, "game not over: %s", t_dumps(st));
}

#define HTTP_H "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
#define HTTP_H_CLOSE "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

TestSuite(http_hardening, .init = t_setup, .fini = t_teardown, .timeout = 120);

Test(http_hardening, stray_bytes_then_close, .description = "issue 8: 300 x GET "
     "/api/games/{id} with stray bytes after the head (CRLF, one byte, a pipelined request) "
     "and an immediate close: the server stays up, answers /healthz and a whole game, and "
     "exits 0 on SIGTERM with no sanitizer report")
{
    t_own_server(NULL);
    seat x;
    t_create_human(t_client(), &x);   /* game 100 exists: the 200 path is taken too */
    static const char *const stray[] = {"\r\n", "x", HTTP_H};
    static const long long ids[] = {100, 101, 987654};   /* found, not found, not found */
    for (int i = 0; i < 300; i++) {
        char req[256];
        int n = snprintf(req, sizeof(req), "GET /api/games/%lld HTTP/1.1\r\nHost: x\r\n\r\n%s",
                         ids[i % 3], stray[(i / 3) % 3]);
        int fd = raw_connect(S.port, T_MSG);
        cr_assert(fd >= 0, "connection %d refused: the server died (log %s)", i, S.log);
        cr_assert(send(fd, req, (size_t)n, MSG_NOSIGNAL) == n);
        close(fd);
    }
    http_resp r;
    cr_assert(t_http_get(S.port, "/healthz", &r) == 0, "/healthz after the flood failed");
    int status = r.status;
    t_http_free(&r);
    cr_assert(status == 200, "/healthz after the flood: %d", status);
    play_a_game();

    pid_t pid = S.pid;
    cr_assert(kill(pid, SIGTERM) == 0);
    int st = proc_wait_exit(pid, 10000);
    if (st != -1)
        S.pid = 0;
    cr_assert(st != -1, "ttt-server still running 10 s after SIGTERM");
    if (has_sanitizer_report(S.log))
        t_print_sanitizer_lines(S.log);
    cr_assert(!has_sanitizer_report(S.log), "sanitizer report in %s", S.log);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %#x after SIGTERM", st);
}

Test(http_hardening, pipelined_healthz, .description = "three GET /healthz in one packet "
     "get three 200s, in order, and the third's Connection: close closes")
{
    t_need_server();
    int timed_out;
    char *out = raw_exchange(S.port, HTTP_H HTTP_H HTTP_H_CLOSE,
                             strlen(HTTP_H HTTP_H HTTP_H_CLOSE), 5000, &timed_out, NULL);
    cr_assert(out, "connect");
    int n = count_of(out, "HTTP/1.1 200 ");
    free(out);
    cr_assert(n == 3 && !timed_out, "%d answers of 3%s", n, timed_out ? ", then silence" : "");
}

Test(http_hardening, pipelined_behind_game_state, .description = "a request pipelined "
     "behind /api/games/{id}: /api/games is answered, then the connection closes (lws 4.1 "
     "swallows what follows a head it is still serving); nothing hangs")
{
    t_need_server();
    const char *req = HTTP_H "GET /api/games/987654 HTTP/1.1\r\nHost: x\r\n\r\n" HTTP_H;
    int timed_out;
    char *out = raw_exchange(S.port, req, strlen(req), 5000, &timed_out, NULL);
    cr_assert(out, "connect");
    int ok = count_of(out, "HTTP/1.1 200 "), nf = count_of(out, "HTTP/1.1 404 ");
    free(out);
    cr_assert(!timed_out, "the connection was left open and silent");
    cr_assert(ok >= 1 && nf == 1, "answers: %d x 200, %d x 404", ok, nf);
}

Test(http_hardening, keep_alive_sequence, .description = "one keep-alive connection: "
     "/healthz, /api/games/{id}, /, /healthz one after the other, each answered")
{
    t_need_server();
    static const char *const reqs[] = {HTTP_H, "GET /api/games/987654 HTTP/1.1\r\n\r\n",
                                       "GET / HTTP/1.1\r\n\r\n", HTTP_H_CLOSE};
    static const char *const want[] = {"HTTP/1.1 200 ", "HTTP/1.1 404 ", "HTTP/1.1 200 ",
                                       "HTTP/1.1 200 "};
    int fd = raw_connect(S.port, 5000);
    cr_assert(fd >= 0);
    for (int i = 0; i < 4; i++) {
        cr_assert(send(fd, reqs[i], strlen(reqs[i]), MSG_NOSIGNAL) == (ssize_t)strlen(reqs[i]));
        char buf[16384];
        size_t n = 0;
        char *he = NULL;
        /* read one whole answer: the head, then Content-Length bytes */
        while (n < sizeof(buf) - 1) {
            ssize_t got = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);
            cr_assert(got > 0, "request %d: no answer", i);
            n += (size_t)got;
            buf[n] = '\0';
            he = strstr(buf, "\r\n\r\n");
            const char *cl = he ? strcasestr(buf, "\r\ncontent-length:") : NULL;
            if (cl && n >= (size_t)(he + 4 - buf) + strtoul(cl + 17, NULL, 10))
                break;
        }
        cr_assert(strncmp(buf, want[i], strlen(want[i])) == 0, "request %d: %.40s", i, buf);
    }
    close(fd);
}

/* The head of an answer (up to the blank line) and how many bytes followed it. */
static char *head_only(const char *req, size_t *after)
{
    int timed_out;
    size_t n = 0;
    char *out = raw_exchange(S.port, req, strlen(req), 5000, &timed_out, &n);
    cr_assert(out, "connect");
    cr_assert(!timed_out, "no close after %s", req);
    char *he = strstr(out, "\r\n\r\n");
    cr_assert(he, "no head in %s", out);
    *after = n - (size_t)(he + 4 - out);
    he[2] = '\0';
    return out;
}

Test(http_hardening, head, .description = "HEAD on /healthz, / and /api/games/{id}: the "
     "GET's status and headers (Content-Length too) and no body; other methods get 405 "
     "with Allow")
{
    t_need_server();
    seat x;
    t_create_human(t_client(), &x);
    char api[128];
    snprintf(api, sizeof(api), "HEAD /api/games/%lld HTTP/1.1\r\nConnection: close\r\n\r\n",
             x.gid);
    const char *reqs[] = {"HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                          "HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", api};
    for (int i = 0; i < 3; i++) {
        size_t after;
        char *h = head_only(reqs[i], &after);
        int ok = strncmp(h, "HTTP/1.1 200 ", 13) == 0;
        const char *cl = strcasestr(h, "\r\ncontent-length:");
        long len = cl ? strtol(cl + 17, NULL, 10) : -1;
        char first[64];
        snprintf(first, sizeof(first), "%.60s", h);
        free(h);
        cr_assert(ok, "%s-> %s", reqs[i], first);
        cr_assert(len > 0, "%s: Content-Length %ld", reqs[i], len);
        cr_assert(after == 0, "%s: %zu body bytes after the head", reqs[i], after);
    }
    size_t after;
    char *h = head_only("POST /healthz HTTP/1.1\r\nContent-Length: 2\r\n\r\nab", &after);
    int is405 = strncmp(h, "HTTP/1.1 405 ", 13) == 0;
    int allow = strcasestr(h, "\r\nallow: GET, HEAD") != NULL;
    free(h);
    cr_assert(is405 && allow, "POST: want 405 with Allow: GET, HEAD");
}

Test(http_hardening, too_large, .description = "a 10000-byte URI gets 414 and a 6000-byte "
     "header field gets 431 (not a bare close); the server answers normally afterwards")
{
    t_need_server();
    size_t big = 10000;
    char *req = malloc(big + 256);
    cr_assert(req);
    memcpy(req, "GET /", 5);
    memset(req + 5, 'a', big);
    strcpy(req + 5 + big, " HTTP/1.1\r\nHost: x\r\n\r\n");
    size_t after;
    char *h = head_only(req, &after);
    int is414 = strstr(h, " 414 ") == h + 8;
    char first[64];
    snprintf(first, sizeof(first), "%.60s", h);
    free(h);
    cr_assert(is414, "long URI -> %s", first);

    strcpy(req, "GET /healthz HTTP/1.1\r\nHost: x\r\nCookie: ");
    size_t n = strlen(req);
    memset(req + n, 'c', 6000);
    strcpy(req + n + 6000, "\r\n\r\n");
    h = head_only(req, &after);
    int is431 = strncmp(h, "HTTP/1.1 431 ", 13) == 0;
    snprintf(first, sizeof(first), "%.60s", h);
    free(h);
    free(req);
    cr_assert(is431, "long header -> %s", first);

    http_resp r;
    cr_assert(t_http_get(S.port, "/healthz", &r) == 0);
    int status = r.status;
    t_http_free(&r);
    cr_assert(status == 200, "/healthz afterwards: %d", status);
}

Test(http_hardening, unknown_upgrade_on_keep_alive, .description = "found by fuzz_http: a "
     "second keep-alive request with an Upgrade other than websocket gets 403 and a close; "
     "lws 4.1 used to read its freed header table (a use-after-free), and the server still "
     "answers afterwards")
{
    t_own_server(NULL);
    const char *req = HTTP_H "GET /healthz HTTP/1.1\r\nHost: x\r\nUpgrade: foo\r\n\r\n";
    int timed_out;
    char *out = raw_exchange(S.port, req, strlen(req), 5000, &timed_out, NULL);
    cr_assert(out, "connect");
    int ok = count_of(out, "HTTP/1.1 200 "), forbidden = count_of(out, " 403 ");
    free(out);
    cr_assert(ok == 1 && forbidden == 1 && !timed_out, "answers: %d x 200, %d x 403%s", ok,
              forbidden, timed_out ? ", left open" : "");
    http_resp r;
    cr_assert(t_http_get(S.port, "/healthz", &r) == 0, "/healthz afterwards failed (log %s)",
              S.log);
    int status = r.status;
    t_http_free(&r);
    cr_assert(status == 200, "/healthz afterwards: %d", status);
    pid_t pid = S.pid;
    cr_assert(kill(pid, SIGTERM) == 0);
    int st = proc_wait_exit(pid, 10000);
    if (st != -1)
        S.pid = 0;
    if (has_sanitizer_report(S.log))
        t_print_sanitizer_lines(S.log);
    cr_assert(!has_sanitizer_report(S.log), "sanitizer report in %s", S.log);
}

Test(http_hardening, body_then_pipelined, .description = "found by fuzz_http: a pipelined "
     "GET with a Content-Length body is answered and closed; lws 4.1 used to re-read its own "
     "buffered request as the body and then loop for ever, stopping the whole event loop")
{
    t_need_server();
    const char *req = HTTP_H "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nX"
                      HTTP_H_CLOSE;
    int timed_out;
    char *out = raw_exchange(S.port, req, strlen(req), 5000, &timed_out, NULL);
    cr_assert(out, "connect");
    int ok = count_of(out, "HTTP/1.1 200 ");
    free(out);
    cr_assert(ok >= 2 && !timed_out, "%d answers%s", ok, timed_out ? ", then silence" : "");
    http_resp r;
    cr_assert(t_http_get(S.port, "/healthz", &r) == 0, "the server stopped answering");
    int status = r.status;
    t_http_free(&r);
    cr_assert(status == 200, "/healthz afterwards: %d", status);
}
