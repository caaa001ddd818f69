/* nf_run.c -- ttt-netfuzz's run: small helpers, the server under test (started
 * on a free port in a temporary directory, its log scanned for sanitizer
 * reports), the fuzzer's connections, and the check after every phase that
 * a normal game still works end to end. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nf.h"

/* ---- small helpers ------------------------------------------------------------------ */


uint64_t nf_rng_next(rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1DULL;
}

/* splitmix64 of (seed, phase, i): every item its own stream */
rng nf_item_rng(uint64_t seed, int phase, uint64_t i)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (i + 1) + ((uint64_t)phase << 56);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    rng r = {z ? z : 1};
    return r;
}

int nf_fail(nf *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int nf_fail(nf *n, const char *fmt, ...)
{
    va_list ap;
    if (!n->fail[0]) {
        va_start(ap, fmt);
        vsnprintf(n->fail, sizeof n->fail, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int nf_server_alive(nf *n)
{
    int st;
    if (n->pid <= 0)
        return 0;
    if (waitpid(n->pid, &st, WNOHANG) == n->pid) {
        n->exit_status = st;
        n->pid = 0;
        if (WIFSIGNALED(st))
            nf_fail(n, "the server died of signal %d", WTERMSIG(st));
        else
            nf_fail(n, "the server exited with status %d", WEXITSTATUS(st));
        return 0;
    }
    return 1;
}

/* A connect that failed: the server may be dying (a sanitizer report takes a
 * moment to write), so give it a few seconds to be seen dead before blaming
 * the network. */
int nf_connect_failed(nf *n, const char *what)
{
    long long end = nf_now_ms() + 3000;
    while (nf_now_ms() < end) {
        if (!nf_server_alive(n))
            return -1;
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);   /* between polls of a condition */
    }
    return nf_fail(n, "%s", what);
}


void nf_note_item(nf *n, const char *desc, const void *bytes, size_t len)
{
    unsigned k = n->nlast++ % LAST_ITEMS;
    snprintf(n->last[k].desc, sizeof n->last[k].desc, "%s", desc);
    n->last[k].len = len < ITEM_CAP ? len : ITEM_CAP;
    memcpy(n->last[k].b, bytes, n->last[k].len);
}

void nf_print_items(const nf *n)
{
    unsigned first = n->nlast > LAST_ITEMS ? n->nlast - LAST_ITEMS : 0;
    for (unsigned j = first; j < n->nlast; j++) {
        unsigned k = j % LAST_ITEMS;
        fprintf(stderr, "netfuzz: %s item: %s, %zu bytes:\n  ",
                j + 1 == n->nlast ? "last" : "earlier", n->last[k].desc, n->last[k].len);
        for (size_t i = 0; i < n->last[k].len && i < 400; i++) {
            unsigned char c = n->last[k].b[i];
            if (c >= 0x20 && c < 0x7f && c != '\\')
                fputc(c, stderr);
            else
                fprintf(stderr, "\\x%02x", c);
        }
        fprintf(stderr, "%s\n", n->last[k].len > 400 ? " ..." : "");
    }
}

/* ---- the server ------------------------------------------------------------------------ */

int nf_server_start(nf *n)
{
    char port[16], rate[16];
    const char *argv[24];
    int k = 0;

    if (n->o.redis) {
        if (proc_redis_start(&n->redis, 0) < 0)
            return nf_fail(n, "cannot start redis-server");
        n->has_redis = 1;
    }
    n->port = proc_free_port();
    snprintf(port, sizeof port, "%d", n->port);
    snprintf(rate, sizeof rate, "%d", n->o.rate_limit);
    snprintf(n->log, sizeof n->log, "%s/server.log", n->dir);
    argv[k++] = n->o.server;
    argv[k++] = "--host";
    argv[k++] = "127.0.0.1";
    argv[k++] = "--port";
    argv[k++] = port;
    argv[k++] = "--web";
    argv[k++] = n->o.web;
    argv[k++] = "--rate-limit";
    argv[k++] = rate;
    /* every fuzz client is 127.0.0.1: the per-address bucket follows the
     * per-connection one, or the checks between phases would be refused */
    argv[k++] = "--ip-rate-limit";
    argv[k++] = rate;
    argv[k++] = "--log-level";
    argv[k++] = "warn";
    argv[k++] = "--instance";
    argv[k++] = "netfuzz";
    if (n->has_redis) {
        argv[k++] = "--redis";
        argv[k++] = n->redis.url;
    }
    argv[k] = NULL;
    /* ASan's defaults report leaks at exit; make UBSan reports carry stacks */
    setenv("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1", 0);
    setenv("ASAN_OPTIONS", "detect_leaks=1", 0);
    n->pid = proc_spawn((char *const *)argv, n->log);
    if (n->pid < 0 || proc_wait_port(n->port, n->pid, 20000) < 0)
        return nf_fail(n, "%s did not start on port %d (log %s)", n->o.server, n->port, n->log);
    /* listening is not ready: on Redis the store is up after its first
     * heartbeat, a few round trips later; /healthz says when */
    long long until = proc_now_ms() + 10000;
    for (;;) {
        char body[1024];
        int status = 0;
        if (nf_http_get(n->port, "/healthz", &status, body, sizeof body, 1000) == 0 &&
            status == 200)
            return 0;
        if (proc_now_ms() >= until)
            return nf_fail(n, "/healthz not 200 within 10 s of start (last %d)", status);
        usleep(20 * 1000);
    }
}

/* The sanitizer reports in the server's stderr, printed; 1 when there is one. */
int nf_scan_log(const nf *n, int print)
{
    static const char *const pats[] = {"ERROR: AddressSanitizer", "runtime error:",
                                       "LeakSanitizer", "SUMMARY: AddressSanitizer",
                                       "SUMMARY: UndefinedBehaviorSanitizer"};
    char *text = proc_read_file(n->log);
    int found = 0, shown = 0;
    if (!text)
        return 0;
    char *first = NULL;
    for (size_t i = 0; i < sizeof pats / sizeof pats[0]; i++) {
        char *p = strstr(text, pats[i]);
        if (p && (!first || p < first))
            first = p;
    }
    if (first) {
        found = 1;
        if (print) {
            /* the report from its first line, at most 60 lines */
            while (first > text && first[-1] != '\n')
                first--;
            fprintf(stderr, "netfuzz: sanitizer report in %s:\n", n->log);
            for (char *l = first; *l && shown < 60; shown++) {
                char *e = strchr(l, '\n');
                fprintf(stderr, "  %.*s\n", (int)(e ? e - l : (long)strlen(l)), l);
                if (!e)
                    break;
                l = e + 1;
            }
        }
    }
    free(text);
    return found;
}

/* ---- connections --------------------------------------------------------------------------- */

void nf_conn_close(conn *c, int rst)
{
    if (c->open)
        nf_ws_close(&c->ws, rst);
    c->open = 0;
    memset(&c->seen, 0, sizeof(c->seen));
    c->nmy = 0;
}

static void count_close(nf *n, int code)
{
    if (code >= 1000 && code < 1016)
        n->close_codes[code - 1000]++;
}

/* Judge every frame that is already readable (or arrives within wait_ms).
 * A connection the server closed is closed here. 0, or -1 on a violation. */
int nf_conn_drain(nf *n, conn *c, int wait_ms)
{
    nf_rframe f;
    int r;
    if (!c->open)
        return 0;
    while ((r = nf_ws_next(&c->ws, wait_ms, &f)) == 1) {
        wait_ms = 0;
        if (f.masked || f.rsv)
            return nf_fail(n, "the server sent a masked frame or one with RSV bits");
        if (f.opcode == NF_OP_TEXT) {
            if (!f.fin)
                continue;   /* the server sends whole messages; not judged */
            if (nf_judge_text(&n->judge, &c->seen, f.payload, f.len) < 0)
                return nf_fail(n, "%s", n->judge.first_violation);
            proto_server_msg m;
            if (f.len > 16 && memcmp(f.payload, "{\"type\":\"joined\"", 16) == 0 &&
                proto_parse_server((const char *)f.payload, f.len, &m) == PROTO_OK)
                c->my_game[c->nmy++ % CONN_SEATS] = m.game_id;
        } else if (f.opcode == NF_OP_CLOSE) {
            count_close(n, c->ws.close_code);
        }
    }
    if (r < 0) {
        if (c->ws.close_code == 1006)
            count_close(n, 1006);
        nf_conn_close(c, 0);
    }
    return 0;
}

int nf_conn_ensure(nf *n, conn *c)
{
    char err[128];
    if (c->open)
        return 0;
    if (nf_ws_open(&c->ws, n->port, T_STEP, err, sizeof err) != 0) {
        char what[192];
        snprintf(what, sizeof what, "cannot open a WebSocket: %s", err);
        return nf_connect_failed(n, what);
    }
    c->open = 1;
    n->reconnects++;
    return 0;
}

/* ---- the check: a normal game still works ------------------------------------------------- */

/* Wait on c for a message of type want (for a state: of game gid at ply),
 * judging everything on the way; an error message is a failure. */
static int expect(nf *n, conn *c, proto_server_type want, int64_t gid, int ply,
                  proto_server_msg *out, const char *what)
{
    long long end = nf_now_ms() + T_STEP;
    nf_rframe f;
    for (;;) {
        long long left = end - nf_now_ms();
        int r = left > 0 ? nf_ws_next(&c->ws, (int)left, &f) : 0;
        if (r <= 0)
            return nf_fail(n, "check game: no %s within %d ms%s", what, T_STEP,
                        r < 0 ? " (connection closed)" : "");
        if (f.opcode != NF_OP_TEXT)
            continue;
        if (nf_judge_text(&n->judge, &c->seen, f.payload, f.len) < 0)
            return nf_fail(n, "check game: %s", n->judge.first_violation);
        if (proto_parse_server((const char *)f.payload, f.len, out) != PROTO_OK)
            continue;
        if (out->type == PROTO_S_ERROR)
            return nf_fail(n, "check game: error %s while waiting for %s",
                        proto_err_name(out->code), what);
        if (out->type != want)
            continue;
        if (want == PROTO_S_STATE && (out->game_id != gid || out->st.ply != ply))
            continue;
        return 0;
    }
}

static int check_http(nf *n, const char *path, int want_status, const char *want_body)
{
    char body[8192];
    int status = 0;
    if (nf_http_get(n->port, path, &status, body, sizeof body, T_STEP) != 0)
        return nf_fail(n, "GET %s: no answer", path);
    if (status != want_status || (want_body && !strstr(body, want_body)))
        return nf_fail(n, "GET %s: status %d, body %.200s (wanted %d with %s)", path, status,
                    body, want_status, want_body ? want_body : "anything");
    return 0;
}

/* create, join, X 0 1 2 against O 3 4: X wins on the top row */
int nf_check_game(nf *n, const char *after)
{
    static const int cells[5] = {0, 3, 1, 4, 2};
    conn a = {0}, b = {0};
    proto_server_msg m;
    char buf[256];
    int64_t gid;
    int rc = -1;

    if (!nf_server_alive(n))
        return -1;
    if (check_http(n, "/healthz", 200, "\"status\":\"ok\"") < 0)
        goto done;
    if (nf_conn_ensure(n, &a) < 0 || nf_conn_ensure(n, &b) < 0)
        goto done;
    if (expect(n, &a, PROTO_S_WELCOME, 0, 0, &m, "welcome") < 0 ||
        expect(n, &b, PROTO_S_WELCOME, 0, 0, &m, "welcome") < 0)
        goto done;
    snprintf(buf, sizeof buf, "{\"type\":\"create\",\"id\":\"check\"}");
    if (nf_ws_send_text(&a.ws, buf, strlen(buf)) < 0 ||
        expect(n, &a, PROTO_S_JOINED, 0, 0, &m, "joined after create") < 0)
        goto done;
    gid = m.game_id;
    if (m.mark != GAME_X) {
        nf_fail(n, "check game: create gave mark %d, not X", m.mark);
        goto done;
    }
    if (expect(n, &a, PROTO_S_STATE, gid, 0, &m, "the waiting state") < 0)
        goto done;
    if (m.st.status != GAME_WAITING || m.seat[0] != PROTO_SEAT_CONNECTED ||
        m.seat[1] != PROTO_SEAT_OPEN) {
        nf_fail(n, "check game: after create, status %d seats %d/%d", m.st.status,
             m.seat[0], m.seat[1]);
        goto done;
    }
    snprintf(buf, sizeof buf, "{\"type\":\"join\",\"game_id\":%" PRId64 "}", gid);
    if (nf_ws_send_text(&b.ws, buf, strlen(buf)) < 0 ||
        expect(n, &b, PROTO_S_JOINED, 0, 0, &m, "joined after join") < 0)
        goto done;
    if (m.mark != GAME_O || m.game_id != gid) {
        nf_fail(n, "check game: join gave mark %d of game %" PRId64, m.mark, m.game_id);
        goto done;
    }
    for (int side = 0; side < 2; side++) {
        /* the waiting state may precede it on a; ply 0 + playing is the one */
        do {
            if (expect(n, side ? &b : &a, PROTO_S_STATE, gid, 0, &m, "the playing state") < 0)
                goto done;
        } while (m.st.status == GAME_WAITING);
        if (m.st.status != GAME_PLAYING || m.seat[0] != PROTO_SEAT_CONNECTED ||
            m.seat[1] != PROTO_SEAT_CONNECTED) {
            nf_fail(n, "check game: after join, status %d seats %d/%d", m.st.status,
                 m.seat[0], m.seat[1]);
            goto done;
        }
    }
    for (int i = 0; i < 5; i++) {
        snprintf(buf, sizeof buf, "{\"type\":\"move\",\"game_id\":%" PRId64
                 ",\"cell\":%d,\"ply\":%d}", gid, cells[i], i);
        if (nf_ws_send_text(i % 2 ? &b.ws : &a.ws, buf, strlen(buf)) < 0) {
            nf_fail(n, "check game: move %d not sent", i);
            goto done;
        }
        for (int side = 0; side < 2; side++) {
            if (expect(n, side ? &b : &a, PROTO_S_STATE, gid, i + 1, &m, "the state of a move") < 0)
                goto done;
            if (m.st.moves[i] != cells[i] ||
                m.st.status != (i == 4 ? GAME_OVER : GAME_PLAYING)) {
                nf_fail(n, "check game: move %d: cell %d, status %d", i, m.st.moves[i], m.st.status);
                goto done;
            }
        }
    }
    if (m.st.result != GAME_RESULT_WIN || m.st.winner != GAME_X || m.st.line[0] != 0 ||
        m.st.line[1] != 1 || m.st.line[2] != 2) {
        nf_fail(n, "check game: the end is result %d winner %d", m.st.result, m.st.winner);
        goto done;
    }
    snprintf(buf, sizeof buf, "/api/games/%" PRId64, gid);
    if (check_http(n, buf, 200, "\"result\":\"win\"") < 0)
        goto done;
    rc = 0;
    printf("netfuzz: check after %s: game %" PRId64 " played to X's win, /healthz ok\n",
           after, gid);
done:
    nf_conn_close(&a, 0);
    nf_conn_close(&b, 0);
    if (rc < 0 && !n->fail[0])
        nf_fail(n, "check game after %s failed", after);
    return rc;
}
