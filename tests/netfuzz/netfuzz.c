/* netfuzz.c -- ttt-netfuzz: a network fuzzer that starts a real (sanitized)
 * ttt-server on a free loopback port in a temporary directory and attacks it
 * in three phases:
 *
 *   frames  mutated WebSocket frames: game messages from the contract with
 *           bit flips, truncation, wrong lengths, fragmentation, bad opcodes,
 *           RSV bits, missing masks, control frames, tiny TCP writes;
 *   http    random HTTP requests with stray bytes, pipelining, bodies, huge
 *           headers and early closes (FIN or RST, before or after reading);
 *   flows   random game flows over several connections that use each other's
 *           ids and tokens: resume with someone else's token, moves out of
 *           turn, joins of full games, rematch, resign, abrupt disconnects.
 *
 * After each phase a normal game must still work (create, join, five moves to
 * X's win, with the right state at every step), /healthz must answer 200 and
 * /api/games/{id} the finished state. Every frame the server sends is judged
 * (nf_check.c). At the end the server must exit 0 on SIGTERM and its stderr
 * must hold no AddressSanitizer, LeakSanitizer or UBSan report.
 *
 * Deterministic for a --seed: item i of a phase draws from its own generator
 * seeded by (seed, phase, i), so the bytes of an item do not depend on what
 * happened before it (only the live game ids and tokens it aims at do).
 * Bounded by counts and by --time-limit. Loopback only. */
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

#include "nf_check.h"
#include "nf_wire.h"
#include "proc.h"

#ifndef TTT_SERVER_BIN
#define TTT_SERVER_BIN "build/test/ttt-server"
#endif
#ifndef TTT_WEB_DIR
#define TTT_WEB_DIR "web"
#endif

#define T_STEP 10000       /* ms for one expected reply in the checks */
#define FLOW_CONNS 6
#define FRAME_CONNS 4
#define ITEM_CAP 16384
#define LAST_ITEMS 4

enum { PH_FRAMES = 1, PH_HTTP = 2, PH_FLOWS = 4 };

typedef struct opts {
    const char *server, *web;
    uint64_t seed;
    long frames, http, flows;
    int time_limit_s;
    int phases;
    int redis;
    int keep;
    int verbose;
    int rate_limit;
} opts;

#define CONN_SEATS 8

typedef struct conn {
    nf_ws ws;
    nf_seen seen;
    int open;
    int64_t my_game[CONN_SEATS];   /* seats this connection was given (flows) */
    unsigned nmy;
} conn;

typedef struct nf {
    opts o;
    char *dir;
    char log[1024];
    int port;
    pid_t pid;
    int exit_status;           /* from waitpid once it exited */
    proc_redis redis;
    int has_redis;
    long long t0, deadline;
    nf_judge judge;
    int64_t next_id;
    /* the last items sent, for the report when the server dies: a crash
     * may come from the item before the last (an answer completes later) */
    struct { char desc[96]; unsigned char b[ITEM_CAP]; size_t len; } last[LAST_ITEMS];
    unsigned nlast;
    /* per-phase counters */
    uint64_t items, frames_sent, bytes_sent, reconnects, timed_out;
    uint64_t close_codes[16];  /* 1000..1015 */
    char fail[1024];
} nf;

/* ---- small helpers ------------------------------------------------------------------ */

typedef struct rng { uint64_t s; } rng;

static uint64_t rng_next(rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1DULL;
}
static uint32_t rng_below(rng *r, uint32_t n) { return n ? (uint32_t)(rng_next(r) % n) : 0; }
static int rng_pct(rng *r, int pct) { return (int)rng_below(r, 100) < pct; }

/* splitmix64 of (seed, phase, i): every item its own stream */
static rng item_rng(uint64_t seed, int phase, uint64_t i)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (i + 1) + ((uint64_t)phase << 56);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    rng r = {z ? z : 1};
    return r;
}

static int fail(nf *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(nf *n, const char *fmt, ...)
{
    va_list ap;
    if (!n->fail[0]) {
        va_start(ap, fmt);
        vsnprintf(n->fail, sizeof n->fail, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int server_alive(nf *n)
{
    int st;
    if (n->pid <= 0)
        return 0;
    if (waitpid(n->pid, &st, WNOHANG) == n->pid) {
        n->exit_status = st;
        n->pid = 0;
        if (WIFSIGNALED(st))
            fail(n, "the server died of signal %d", WTERMSIG(st));
        else
            fail(n, "the server exited with status %d", WEXITSTATUS(st));
        return 0;
    }
    return 1;
}

/* A connect that failed: the server may be dying (a sanitizer report takes a
 * moment to write), so give it a few seconds to be seen dead before blaming
 * the network. */
static int connect_failed(nf *n, const char *what)
{
    long long end = nf_now_ms() + 3000;
    while (nf_now_ms() < end) {
        if (!server_alive(n))
            return -1;
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);   /* between polls of a condition */
    }
    return fail(n, "%s", what);
}

static int out_of_time(const nf *n) { return nf_now_ms() >= n->deadline; }

static void note_item(nf *n, const char *desc, const void *bytes, size_t len)
{
    unsigned k = n->nlast++ % LAST_ITEMS;
    snprintf(n->last[k].desc, sizeof n->last[k].desc, "%s", desc);
    n->last[k].len = len < ITEM_CAP ? len : ITEM_CAP;
    memcpy(n->last[k].b, bytes, n->last[k].len);
}

static void print_items(const nf *n)
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

static int server_start(nf *n)
{
    char port[16], rate[16];
    const char *argv[24];
    int k = 0;

    if (n->o.redis) {
        if (proc_redis_start(&n->redis, 0) < 0)
            return fail(n, "cannot start redis-server");
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
        return fail(n, "%s did not start on port %d (log %s)", n->o.server, n->port, n->log);
    return 0;
}

/* The sanitizer reports in the server's stderr, printed; 1 when there is one. */
static int scan_log(const nf *n, int print)
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

static void conn_close(conn *c, int rst)
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
static int conn_drain(nf *n, conn *c, int wait_ms)
{
    nf_rframe f;
    int r;
    if (!c->open)
        return 0;
    while ((r = nf_ws_next(&c->ws, wait_ms, &f)) == 1) {
        wait_ms = 0;
        if (f.masked || f.rsv)
            return fail(n, "the server sent a masked frame or one with RSV bits");
        if (f.opcode == NF_OP_TEXT) {
            if (!f.fin)
                continue;   /* the server sends whole messages; not judged */
            if (nf_judge_text(&n->judge, &c->seen, f.payload, f.len) < 0)
                return fail(n, "%s", n->judge.first_violation);
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
        conn_close(c, 0);
    }
    return 0;
}

static int conn_ensure(nf *n, conn *c)
{
    char err[128];
    if (c->open)
        return 0;
    if (nf_ws_open(&c->ws, n->port, T_STEP, err, sizeof err) != 0) {
        char what[192];
        snprintf(what, sizeof what, "cannot open a WebSocket: %s", err);
        return connect_failed(n, what);
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
            return fail(n, "check game: no %s within %d ms%s", what, T_STEP,
                        r < 0 ? " (connection closed)" : "");
        if (f.opcode != NF_OP_TEXT)
            continue;
        if (nf_judge_text(&n->judge, &c->seen, f.payload, f.len) < 0)
            return fail(n, "check game: %s", n->judge.first_violation);
        if (proto_parse_server((const char *)f.payload, f.len, out) != PROTO_OK)
            continue;
        if (out->type == PROTO_S_ERROR)
            return fail(n, "check game: error %s while waiting for %s",
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
        return fail(n, "GET %s: no answer", path);
    if (status != want_status || (want_body && !strstr(body, want_body)))
        return fail(n, "GET %s: status %d, body %.200s (wanted %d with %s)", path, status,
                    body, want_status, want_body ? want_body : "anything");
    return 0;
}

/* create, join, X 0 1 2 against O 3 4: X wins on the top row */
static int check_game(nf *n, const char *after)
{
    static const int cells[5] = {0, 3, 1, 4, 2};
    conn a = {0}, b = {0};
    proto_server_msg m;
    char buf[256];
    int64_t gid;
    int rc = -1;

    if (!server_alive(n))
        return -1;
    if (check_http(n, "/healthz", 200, "\"status\":\"ok\"") < 0)
        goto done;
    if (conn_ensure(n, &a) < 0 || conn_ensure(n, &b) < 0)
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
        fail(n, "check game: create gave mark %d, not X", m.mark);
        goto done;
    }
    if (expect(n, &a, PROTO_S_STATE, gid, 0, &m, "the waiting state") < 0)
        goto done;
    if (m.st.status != GAME_WAITING || m.seat[0] != PROTO_SEAT_CONNECTED ||
        m.seat[1] != PROTO_SEAT_OPEN) {
        fail(n, "check game: after create, status %d seats %d/%d", m.st.status,
             m.seat[0], m.seat[1]);
        goto done;
    }
    snprintf(buf, sizeof buf, "{\"type\":\"join\",\"game_id\":%" PRId64 "}", gid);
    if (nf_ws_send_text(&b.ws, buf, strlen(buf)) < 0 ||
        expect(n, &b, PROTO_S_JOINED, 0, 0, &m, "joined after join") < 0)
        goto done;
    if (m.mark != GAME_O || m.game_id != gid) {
        fail(n, "check game: join gave mark %d of game %" PRId64, m.mark, m.game_id);
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
            fail(n, "check game: after join, status %d seats %d/%d", m.st.status,
                 m.seat[0], m.seat[1]);
            goto done;
        }
    }
    for (int i = 0; i < 5; i++) {
        snprintf(buf, sizeof buf, "{\"type\":\"move\",\"game_id\":%" PRId64
                 ",\"cell\":%d,\"ply\":%d}", gid, cells[i], i);
        if (nf_ws_send_text(i % 2 ? &b.ws : &a.ws, buf, strlen(buf)) < 0) {
            fail(n, "check game: move %d not sent", i);
            goto done;
        }
        for (int side = 0; side < 2; side++) {
            if (expect(n, side ? &b : &a, PROTO_S_STATE, gid, i + 1, &m, "the state of a move") < 0)
                goto done;
            if (m.st.moves[i] != cells[i] ||
                m.st.status != (i == 4 ? GAME_OVER : GAME_PLAYING)) {
                fail(n, "check game: move %d: cell %d, status %d", i, m.st.moves[i], m.st.status);
                goto done;
            }
        }
    }
    if (m.st.result != GAME_RESULT_WIN || m.st.winner != GAME_X || m.st.line[0] != 0 ||
        m.st.line[1] != 1 || m.st.line[2] != 2) {
        fail(n, "check game: the end is result %d winner %d", m.st.result, m.st.winner);
        goto done;
    }
    snprintf(buf, sizeof buf, "/api/games/%" PRId64, gid);
    if (check_http(n, buf, 200, "\"result\":\"win\"") < 0)
        goto done;
    rc = 0;
    printf("netfuzz: check after %s: game %" PRId64 " played to X's win, /healthz ok\n",
           after, gid);
done:
    conn_close(&a, 0);
    conn_close(&b, 0);
    if (rc < 0 && !n->fail[0])
        fail(n, "check game after %s failed", after);
    return rc;
}

/* ---- message templates (shared by frames and flows) ------------------------------------------ */

static int64_t pick_game(nf *n, rng *r)
{
    if (n->judge.ngames && rng_pct(r, 85))
        return n->judge.games[rng_below(r, (uint32_t)n->judge.ngames)];
    static const int64_t odd[] = {1, 99, 100, 101, 1000000, INT64_MAX, 4294967296LL};
    return odd[rng_below(r, sizeof odd / sizeof odd[0])];
}

static const nf_seat *pick_seat(nf *n, rng *r)
{
    if (!n->judge.nseats)
        return NULL;
    return &n->judge.seats[rng_below(r, (uint32_t)n->judge.nseats)];
}

/* A raw JSON value for a field that wants an integer: mostly a good one. */
static void int_value(rng *r, char *out, size_t cap, int64_t good)
{
    static const char *const odd[] = {"\"4\"", "1.5", "null", "-1", "1e3", "true",
                                      "[1]", "{}", "99999999999999999999", "0", "-0"};
    if (rng_pct(r, 90))
        snprintf(out, cap, "%" PRId64, good);
    else
        snprintf(out, cap, "%s", odd[rng_below(r, sizeof odd / sizeof odd[0])]);
}

/* One client message of the contract, aimed at live games; returns its
 * length. *type_out is the proto_type (or -1 for an unknown type), *gid_out
 * the game it names, *seat_out the seat whose token a resume carries. */
static size_t build_msg(nf *n, rng *r, int64_t id, char *out, size_t cap, int *type_out,
                        int64_t *gid_out, const nf_seat **seat_out)
{
    char g[32], c[32], p[32], ids[96], name[64] = "";
    int type = (int)rng_below(r, PROTO_TYPE_COUNT + 1);
    int64_t gid = pick_game(n, r);
    const nf_seat *seat = NULL;
    char token[64];
    size_t len = 0;

    int_value(r, g, sizeof g, gid);
    int_value(r, c, sizeof c, rng_below(r, 9));
    int_value(r, p, sizeof p, rng_below(r, 10));
    if (id > 0)
        snprintf(ids, sizeof ids, ",\"id\":%" PRId64, id);
    else if (rng_pct(r, 50))
        snprintf(ids, sizeof ids, ",\"id\":\"%.*s\"", (int)rng_below(r, 70),
                 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrs");
    else
        ids[0] = '\0';
    if (rng_pct(r, 15))
        snprintf(name, sizeof name, ",\"name\":\"%s\"",
                 rng_pct(r, 50) ? "Ann" : rng_pct(r, 50) ? "  \\u00e9l\\u00e8ve " : "\\u0007x");
    switch (type) {
    case PROTO_CREATE:
        len = (size_t)snprintf(out, cap, "{\"type\":\"create\",\"vs\":\"%s\",\"level\":\"%s\"%s%s}",
                               rng_pct(r, 40) ? "computer" : "human",
                               rng_pct(r, 50) ? "easy" : "perfect", ids, name);
        break;
    case PROTO_JOIN: case PROTO_WATCH: case PROTO_RESIGN: case PROTO_REMATCH:
        len = (size_t)snprintf(out, cap, "{\"type\":\"%s\",\"game_id\":%s%s%s}",
                               proto_type_name((proto_type)type), g, ids, name);
        break;
    case PROTO_QUICK: case PROTO_LIST: case PROTO_PING:
        len = (size_t)snprintf(out, cap, "{\"type\":\"%s\"%s%s}",
                               proto_type_name((proto_type)type), ids, name);
        break;
    case PROTO_RESUME:
        seat = rng_pct(r, 90) ? pick_seat(n, r) : NULL;
        if (seat && rng_pct(r, 50)) {
            gid = seat->game_id;     /* its own game: a real resume, by a stranger */
            snprintf(g, sizeof g, "%" PRId64, gid);
        }
        snprintf(token, sizeof token, "%s",
                 seat ? seat->token : rng_pct(r, 50) ? "0123456789abcdef0123456789abcdef"
                                                     : "ZZZ");
        len = (size_t)snprintf(out, cap, "{\"type\":\"resume\",\"game_id\":%s,\"token\":\"%s\"%s}",
                               g, token, ids);
        break;
    case PROTO_MOVE:
        len = (size_t)snprintf(out, cap, "{\"type\":\"move\",\"game_id\":%s,\"cell\":%s%s%s%s}",
                               g, c, rng_pct(r, 70) ? ",\"ply\":" : "",
                               rng_pct(r, 70) ? p : "", ids);
        break;
    default:
        len = (size_t)snprintf(out, cap, "{\"type\":\"%s\"%s}",
                               rng_pct(r, 50) ? "dance" : "", ids);
        type = -1;
        break;
    }
    if (len >= cap)
        len = cap - 1;
    *type_out = type;
    *gid_out = gid;
    *seat_out = seat;
    return len;
}

/* ---- phase 1: mutated frames ------------------------------------------------------------------ */

static const char *const dict[] = {
    "{", "}", "\"", ":", ",", "null", "\"type\"", "\"game_id\"", "\"cell\"", "\"move\"",
    "\\u0000", "\\ud800", "9223372036854775808", "[", "]", "\"token\"", "1e309"};

static size_t mutate(rng *r, unsigned char *b, size_t len, size_t cap)
{
    int ops = 1 + (int)rng_below(r, 4);
    for (int k = 0; k < ops; k++) {
        size_t pos = len ? rng_below(r, (uint32_t)len) : 0;
        switch (rng_below(r, 10)) {
        case 0: if (len) b[pos] ^= (unsigned char)(1u << rng_below(r, 8)); break;
        case 1: if (len) b[pos] = (unsigned char)rng_next(r); break;
        case 2: /* insert a byte */
            if (len < cap) {
                memmove(b + pos + 1, b + pos, len - pos);
                b[pos] = (unsigned char)rng_next(r);
                len++;
            }
            break;
        case 3: { /* delete a span */
            size_t n = 1 + rng_below(r, 8);
            if (pos + n > len)
                n = len - pos;
            memmove(b + pos, b + pos + n, len - pos - n);
            len -= n;
            break;
        }
        case 4: len = pos; break;   /* truncate */
        case 5: { /* duplicate a span */
            size_t n = 1 + rng_below(r, 16);
            if (pos + n > len)
                n = len - pos;
            if (len + n <= cap) {
                memmove(b + pos + n, b + pos, len - pos);
                len += n;
            }
            break;
        }
        case 6: { /* a dictionary token */
            const char *t = dict[rng_below(r, sizeof dict / sizeof dict[0])];
            size_t n = strlen(t);
            if (len + n <= cap) {
                memmove(b + pos + n, b + pos, len - pos);
                memcpy(b + pos, t, n);
                len += n;
            }
            break;
        }
        case 7: { /* invalid UTF-8 */
            static const unsigned char bad[][3] = {{0xc3, 0, 0}, {0xff, 0, 0}, {0xc0, 0xaf, 0},
                                                   {0xed, 0xa0, 0x80}, {0xf8, 0x88, 0x80}};
            const unsigned char *s = bad[rng_below(r, 5)];
            size_t n = s[1] ? (s[2] ? 3 : 2) : 1;
            if (len + n <= cap) {
                memmove(b + pos + n, b + pos, len - pos);
                memcpy(b + pos, s, n);
                len += n;
            }
            break;
        }
        case 8: { /* grow to the 4096-byte limit, just under, at or over it */
            static const size_t sizes[] = {4095, 4096, 4097, 5000, 8192};
            size_t want = sizes[rng_below(r, 5)];
            if (want <= cap && len >= 1 && len < want) {
                /* spaces after the opening brace keep it valid JSON */
                size_t n = want - len;
                memmove(b + 1 + n, b + 1, len - 1);
                memset(b + 1, ' ', n);
                len = want;
            }
            break;
        }
        default: /* a NUL byte */
            if (len) b[pos] = 0;
            break;
        }
    }
    return len;
}

/* Frames for one item, into out: what a client could send, wrong in one or
 * more chosen ways. *closes is set when the item ends the connection from our
 * side or leaves the server waiting for bytes that never come. */
static size_t build_frames(rng *r, const unsigned char *msg, size_t mlen, unsigned char *out,
                           size_t cap, int *nframes, int *closes, const char **desc)
{
    nf_frame_spec s = {.fin = 1, .opcode = NF_OP_TEXT, .masked = 1,
                       .mask = (uint32_t)rng_next(r)};
    unsigned char ctl[200];
    size_t o = 0;
    int kind = (int)rng_below(r, 100);

    *nframes = 1;
    *closes = 0;
    if (kind < 40) {
        *desc = "text frame";
    } else if (kind < 55) {
        /* fragmented: text + continuations, control frames between */
        int pieces = 2 + (int)rng_below(r, 4);
        size_t at = 0;
        *desc = "fragmented message";
        for (int i = 0; i < pieces; i++) {
            size_t n = i == pieces - 1 ? mlen - at : rng_below(r, (uint32_t)(mlen - at + 1));
            nf_frame_spec f = s;
            f.fin = i == pieces - 1;
            f.opcode = i == 0 ? NF_OP_TEXT : NF_OP_CONT;
            if (rng_pct(r, 5))
                f.opcode = rng_pct(r, 50) ? NF_OP_TEXT : NF_OP_BIN;   /* a new message mid-way */
            o += nf_ws_encode(out + o, cap - o, &f, msg + at, n);
            at += n;
            if (rng_pct(r, 25)) {
                nf_frame_spec c = s;
                c.opcode = rng_pct(r, 50) ? NF_OP_PING : NF_OP_PONG;
                o += nf_ws_encode(out + o, cap - o, &c, "mid", 3);
                (*nframes)++;
            }
        }
        *nframes += pieces - 1;
        return o;
    } else if (kind < 60) {
        *desc = "unmasked frame";
        s.masked = 0;
    } else if (kind < 64) {
        *desc = "binary frame";
        s.opcode = NF_OP_BIN;
    } else if (kind < 68) {
        static const int ops[] = {3, 4, 5, 6, 7, 11, 12, 13, 14, 15};
        *desc = "reserved opcode";
        s.opcode = ops[rng_below(r, 10)];
    } else if (kind < 71) {
        *desc = "RSV bits";
        s.rsv = 1 + (int)rng_below(r, 7);
    } else if (kind < 74) {
        *desc = "continuation with no message";
        s.opcode = NF_OP_CONT;
        s.fin = rng_pct(r, 50);
    } else if (kind < 78) {
        /* a length that lies: the server waits for bytes or parses the rest
         * of the payload as the next frame's header */
        *desc = "wrong length";
        s.lie = 1;
        s.declared_len = rng_pct(r, 50) ? mlen + 1 + rng_below(r, 100)
                                        : (mlen ? rng_below(r, (uint32_t)mlen) : 0);
        if (rng_pct(r, 10))
            s.declared_len = rng_pct(r, 50) ? UINT64_MAX : (1ULL << 63) | 5;
        *closes = s.declared_len > mlen;
    } else if (kind < 81) {
        *desc = "non-minimal length";
        s.len_form = 1 + (int)rng_below(r, 2);
    } else if (kind < 91) {
        /* control frames, alone */
        int which = (int)rng_below(r, 8);
        size_t clen = 0;
        s.opcode = NF_OP_PING;
        if (which == 0) {          /* ping with payload */
            clen = rng_below(r, 126);
            *desc = "ping";
        } else if (which == 1) {   /* ping over 125 bytes */
            clen = 126 + rng_below(r, 60);
            *desc = "oversized ping";
        } else if (which == 2) {
            s.opcode = NF_OP_PONG;
            clen = rng_below(r, 20);
            *desc = "unsolicited pong";
        } else if (which == 3) {   /* a fragmented control frame */
            s.fin = 0;
            clen = 4;
            *desc = "ping without FIN";
        } else {                   /* close with good and bad codes and payloads */
            static const int codes[] = {1000, 1001, 1002, 1003, 999, 0, 1005, 1006, 1015,
                                        1016, 2999, 3000, 4999, 5000, 65535};
            int code = codes[rng_below(r, sizeof codes / sizeof codes[0])];
            s.opcode = NF_OP_CLOSE;
            *closes = 1;
            *desc = "close";
            int form = (int)rng_below(r, 5);
            if (form == 0) {
                clen = 0;
            } else if (form == 1) {
                clen = 1;
                ctl[0] = 0x03;
            } else {
                ctl[0] = (unsigned char)(code >> 8);
                ctl[1] = (unsigned char)code;
                clen = 2;
                if (form == 3) {
                    memcpy(ctl + 2, "bye\xff\xfe", 5);   /* invalid UTF-8 reason */
                    clen = 7;
                } else if (form == 4) {
                    clen = 126 + rng_below(r, 40);
                    memset(ctl + 2, 'r', clen - 2);
                }
            }
            return nf_ws_encode(out, cap, &s, ctl, clen);
        }
        for (size_t i = 0; i < clen; i++)
            ctl[i] = (unsigned char)rng_next(r);
        return nf_ws_encode(out, cap, &s, ctl, clen);
    } else if (kind < 94) {
        *desc = "garbage bytes";
        size_t n = 1 + rng_below(r, 64);
        for (size_t i = 0; i < n && i < cap; i++)
            out[i] = (unsigned char)rng_next(r);
        *closes = 1;
        return n;
    } else if (kind < 98) {
        *desc = "header bit flip";
        o = nf_ws_encode(out, cap, &s, msg, mlen);
        if (o)
            out[rng_below(r, o < 14 ? (uint32_t)o : 14)] ^= (unsigned char)(1u << rng_below(r, 8));
        *closes = 1;   /* the length may have grown */
        return o;
    } else {
        *desc = "frame cut short, then close";
        o = nf_ws_encode(out, cap, &s, msg, mlen);
        *closes = 1;
        return o ? rng_below(r, (uint32_t)o) : 0;
    }
    return nf_ws_encode(out, cap, &s, msg, mlen);
}

/* Write the item, sometimes in tiny pieces so lws' parser meets every split. */
static int write_item(rng *r, int fd, const unsigned char *b, size_t len)
{
    if (!rng_pct(r, 15))
        return nf_send_all(fd, b, len);
    size_t at = 0;
    while (at < len) {
        size_t n = 1 + rng_below(r, 7);
        if (n > len - at)
            n = len - at;
        if (nf_send_all(fd, b + at, n) != 0)
            return -1;
        at += n;
    }
    return 0;
}

static void progress(nf *n, const char *phase, uint64_t i, uint64_t total, long long t0)
{
    long long ms = nf_now_ms() - t0;
    printf("netfuzz: %s %" PRIu64 "/%" PRIu64 " (%.1f s, %.0f/s), %" PRIu64
           " server messages so far\n", phase, i, total, ms / 1000.0,
           ms ? i * 1000.0 / (double)ms : 0.0, n->judge.msgs);
    fflush(stdout);
}

static void reset_counters(nf *n)
{
    n->items = n->frames_sent = n->bytes_sent = n->reconnects = n->timed_out = 0;
    memset(n->close_codes, 0, sizeof n->close_codes);
}

static void print_closes(const nf *n)
{
    printf("netfuzz:   close codes seen:");
    for (int i = 0; i < 16; i++)
        if (n->close_codes[i])
            printf(" %d x%" PRIu64, 1000 + i, n->close_codes[i]);
    printf("\n");
}

static int phase_frames(nf *n)
{
    conn cs[FRAME_CONNS];
    static unsigned char msgbuf[ITEM_CAP], frames[ITEM_CAP + 512];
    long long t0 = nf_now_ms();
    uint64_t total = (uint64_t)n->o.frames, i;
    int rc = 0;

    memset(cs, 0, sizeof cs);
    reset_counters(n);
    for (i = 0; i < total && n->frames_sent < total && rc == 0; i++) {
        rng r = item_rng(n->o.seed, PH_FRAMES, i);
        conn *c = &cs[rng_below(&r, FRAME_CONNS)];
        int type, nframes, closes;
        int64_t gid;
        const nf_seat *seat;
        const char *desc = "?";

        if (out_of_time(n)) {
            n->timed_out = 1;
            break;
        }
        if (conn_ensure(n, c) < 0) {
            rc = -1;
            break;
        }
        size_t mlen = build_msg(n, &r, 0, (char *)msgbuf, 4096, &type, &gid, &seat);
        if (rng_pct(&r, 60))
            mlen = mutate(&r, msgbuf, mlen, sizeof msgbuf);
        size_t flen = build_frames(&r, msgbuf, mlen, frames, sizeof frames, &nframes,
                                   &closes, &desc);
        char d[96];
        snprintf(d, sizeof d, "frames item %" PRIu64 " (%s)", i, desc);
        note_item(n, d, frames, flen);
        n->items++;
        n->frames_sent += (uint64_t)nframes;
        n->bytes_sent += flen;
        if (write_item(&r, c->ws.fd, frames, flen) != 0)
            conn_close(c, 0);    /* the server closed it; fine, it may */
        if (conn_drain(n, c, 0) < 0 || !server_alive(n)) {
            rc = -1;
            break;
        }
        if (closes && c->open && rng_pct(&r, 70))
            conn_close(c, rng_pct(&r, 30));
        if (i % 64 == 63)
            for (int k = 0; k < FRAME_CONNS; k++)
                if (conn_drain(n, &cs[k], 1) < 0)
                    rc = -1;
        if (total >= 10 && (i + 1) % (total / 10 ? total / 10 : 1) == 0)
            progress(n, "frames", n->frames_sent, total, t0);
    }
    for (int k = 0; k < FRAME_CONNS; k++) {
        if (rc == 0 && conn_drain(n, &cs[k], 50) < 0)
            rc = -1;
        conn_close(&cs[k], 0);
    }
    long long ms = nf_now_ms() - t0;
    printf("netfuzz: frames: %" PRIu64 " items, %" PRIu64 " frames, %" PRIu64
           " bytes in %.1f s (%.0f frames/s), %" PRIu64 " connections%s\n",
           n->items, n->frames_sent, n->bytes_sent, ms / 1000.0,
           ms ? n->frames_sent * 1000.0 / (double)ms : 0.0, n->reconnects,
           n->timed_out ? " (time limit reached)" : "");
    print_closes(n);
    return rc;
}

/* ---- phase 2: HTTP -------------------------------------------------------------------------------- */

static size_t build_request(nf *n, rng *r, char *out, size_t cap)
{
    static const char *const methods[] = {"GET", "GET", "GET", "GET", "GET", "GET", "HEAD",
                                          "POST", "PUT", "OPTIONS", "DELETE", "G\x01T", "get",
                                          "CONNECT"};
    static const char *const paths[] = {
        "/healthz", "/metrics", "/", "/index.html", "/app.js", "/style.css", "/ws", "/nope",
        "/api/games/0", "/api/games/-1", "/api/games/99999999999999999999", "/api/games/",
        "/api/games/100/x", "/api/games/1e3", "/..%2f..%2fetc/passwd", "*",
        "http://127.0.0.1/healthz", "/healthz?x=1", "/%00", "//healthz"};
    static const char *const versions[] = {"HTTP/1.1", "HTTP/1.1", "HTTP/1.1", "HTTP/1.0",
                                           "HTTP/2.0", "HTTP/1.1 x", "", "HTTP/9"};
    char path[10000];
    size_t o = 0;
#define PUT(...) do { int k_ = snprintf(out + o, cap - o, __VA_ARGS__); \
                      if (k_ > 0) o += (size_t)k_ < cap - o ? (size_t)k_ : cap - o - 1; } while (0)

    int pk = (int)rng_below(r, 100);
    if (pk < 35) {
        /* the asynchronous route, the one that outlives its request */
        snprintf(path, sizeof path, "/api/games/%" PRId64,
                 rng_pct(r, 30) ? 100 : pick_game(n, r));
    } else if (pk < 40) {
        size_t len = 200 + rng_below(r, 9000);
        memcpy(path, "/api/games/", 11);
        memset(path + 11, rng_pct(r, 50) ? '7' : 'a', len);
        path[11 + len] = '\0';
    } else {
        snprintf(path, sizeof path, "%s", paths[rng_below(r, sizeof paths / sizeof paths[0])]);
    }
    const char *method = methods[rng_below(r, sizeof methods / sizeof methods[0])];
    PUT("%s %s %s\r\n", method, path, versions[rng_below(r, sizeof versions / sizeof versions[0])]);
    if (rng_pct(r, 90))
        PUT("Host: %s\r\n", rng_pct(r, 90) ? "127.0.0.1" : "");
    int body = 0, chunked = 0;
    int nh = (int)rng_below(r, 6);
    for (int h = 0; h < nh; h++) {
        switch (rng_below(r, 12)) {
        case 0: PUT("Connection: %s\r\n", rng_pct(r, 50) ? "keep-alive" : "close"); break;
        case 1:
            PUT("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: %s\r\n",
                rng_pct(r, 80) ? "13" : "8");
            break;
        case 2: body = 1 + (int)rng_below(r, 64); PUT("Content-Length: %d\r\n", body); break;
        case 3: chunked = 1; PUT("Transfer-Encoding: chunked\r\n"); break;
        case 4: PUT("Origin: http://evil.example\r\n"); break;
        case 5: PUT("X-Forwarded-For: 10.0.0.%u\r\n", rng_below(r, 256)); break;
        case 6: { /* a huge header */
            size_t len = 1000 + rng_below(r, 8000);
            if (o + len + 16 < cap) {
                PUT("X-Big: ");
                memset(out + o, 'b', len);
                o += len;
                PUT("\r\n");
            }
            break;
        }
        case 7: for (int k = 0; k < 60; k++) PUT("X-%d: %d\r\n", k, k); break;
        case 8: PUT("NoColonHere\r\n"); break;
        case 9: PUT(" folded continuation\r\n"); break;
        case 10: PUT("Content-Length: %s\r\n", rng_pct(r, 50) ? "-1" : "99999999999999999999"); break;
        default: PUT("Accept: */*\n"); break;   /* a bare LF */
        }
    }
    PUT("\r\n");
    if (body) {
        for (int k = 0; k < body && o + 1 < cap; k++)
            out[o++] = (char)('a' + rng_below(r, 26));
    } else if (chunked) {
        PUT("5\r\nhello\r\n%s", rng_pct(r, 70) ? "0\r\n\r\n" : "zz\r\n");
    }
#undef PUT
    return o;
}

/* Connections that read their answer are not waited on one by one: a server
 * that never answers (a partial request, a pipelined one) would cost the
 * whole wait each time. Up to HTTP_INFLIGHT of them linger together. */
#define HTTP_INFLIGHT 64
#define HTTP_WAIT_MS 300     /* for the first byte of an answer */
#define HTTP_IDLE_MS 20      /* after the last byte */

typedef struct lingering {
    int fd;
    int rst;                 /* close with RST when done */
    size_t got;
    char head[8];
    long long deadline;
} lingering;

typedef struct http_pool {
    lingering v[HTTP_INFLIGHT];
    int n;
    uint64_t answered;
} http_pool;

static void pool_drop(http_pool *p, int i)
{
    if (p->v[i].rst)
        nf_close_rst(p->v[i].fd);
    else
        close(p->v[i].fd);
    p->v[i] = p->v[--p->n];
}

/* Read what has come, close what is done; wait up to wait_ms for something
 * to happen. 0, or -1 when an answer is not HTTP. */
static int pool_service(nf *n, http_pool *p, int wait_ms)
{
    struct pollfd pf[HTTP_INFLIGHT];
    char buf[16384];
    long long now = nf_now_ms();
    int rc = 0;

    for (int i = 0; i < p->n; i++) {
        pf[i].fd = p->v[i].fd;
        pf[i].events = POLLIN;
        pf[i].revents = 0;
        if (p->v[i].deadline - now < wait_ms)
            wait_ms = p->v[i].deadline > now ? (int)(p->v[i].deadline - now) : 0;
    }
    if (p->n && poll(pf, (nfds_t)p->n, wait_ms) < 0 && errno != EINTR)
        return fail(n, "http: poll: %s", strerror(errno));
    now = nf_now_ms();
    for (int i = p->n - 1; i >= 0; i--) {
        lingering *l = &p->v[i];
        int done = now >= l->deadline;
        if (pf[i].revents) {
            ssize_t k = recv(l->fd, buf, sizeof buf, MSG_DONTWAIT);
            if (k > 0) {
                if (l->got < sizeof l->head)
                    memcpy(l->head + l->got, buf,
                           (size_t)k < sizeof l->head - l->got ? (size_t)k : sizeof l->head - l->got);
                if (!l->got)
                    p->answered++;
                l->got += (size_t)k;
                l->deadline = now + HTTP_IDLE_MS;
                done = 0;
            } else if (k == 0 || (errno != EAGAIN && errno != EINTR)) {
                done = 1;
            }
        }
        if (done) {
            if (l->got && (l->got < 7 || memcmp(l->head, "HTTP/1.", 7) != 0)) {
                rc = fail(n, "http: an answer that is not HTTP/1.x: %.8s", l->head);
            }
            pool_drop(p, i);
        }
    }
    return rc;
}

static int phase_http(nf *n)
{
    static char req[65536];
    static http_pool pool;
    long long t0 = nf_now_ms();
    uint64_t total = (uint64_t)n->o.http, i;
    int rc = 0;

    memset(&pool, 0, sizeof pool);
    reset_counters(n);
    for (i = 0; i < total && rc == 0; i++) {
        rng r = item_rng(n->o.seed, PH_HTTP, i);
        size_t len = 0;
        if (out_of_time(n)) {
            n->timed_out = 1;
            break;
        }
        while (rc == 0 && pool.n == HTTP_INFLIGHT)
            rc = pool_service(n, &pool, HTTP_WAIT_MS);
        if (rc == 0)
            rc = pool_service(n, &pool, 0);
        if (rc != 0)
            break;
        int fd = nf_tcp_connect(n->port, T_STEP);
        if (fd < 0) {
            rc = connect_failed(n, "http: cannot connect");
            break;
        }
        /* one to three requests pipelined, then stray bytes */
        int nreq = rng_pct(&r, 75) ? 1 : 2 + (int)rng_below(&r, 2);
        for (int k = 0; k < nreq && len < sizeof req - 12000; k++)
            len += build_request(n, &r, req + len, sizeof req - len - 128);
        switch (rng_below(&r, 6)) {
        case 0: memcpy(req + len, "\r\n", 2); len += 2; break;
        case 1: req[len++] = 'x'; break;
        case 2: {
            size_t k = 1 + rng_below(&r, 64);
            for (size_t j = 0; j < k; j++)
                req[len++] = (char)rng_next(&r);
            break;
        }
        case 3: memcpy(req + len, "GET /heal", 9); len += 9; break;
        default: break;
        }
        if (rng_pct(&r, 10))
            len = mutate(&r, (unsigned char *)req, len, sizeof req);
        char desc[64];
        snprintf(desc, sizeof desc, "http connection %" PRIu64, i);
        note_item(n, desc, req, len);
        n->items++;
        n->bytes_sent += len;
        int sent = write_item(&r, fd, (unsigned char *)req, len) == 0;
        int how = (int)rng_below(&r, 10);
        if (!sent || how < 4) {
            close(fd);                       /* close at once, FIN */
        } else if (how < 6) {
            nf_close_rst(fd);                /* close at once, RST */
        } else {
            /* read the answer (after a half close, sometimes), then close */
            if (how == 6)
                shutdown(fd, SHUT_WR);
            lingering *l = &pool.v[pool.n++];
            memset(l, 0, sizeof(*l));
            l->fd = fd;
            l->rst = rng_pct(&r, 50);
            l->deadline = nf_now_ms() + HTTP_WAIT_MS;
        }
        if (!server_alive(n))
            rc = -1;
        if (total >= 10 && (i + 1) % (total / 10) == 0)
            progress(n, "http", i + 1, total, t0);
    }
    while (rc == 0 && pool.n)
        rc = pool_service(n, &pool, HTTP_WAIT_MS);
    while (pool.n)
        pool_drop(&pool, 0);
    if (rc == 0 && !server_alive(n))
        rc = -1;
    long long ms = nf_now_ms() - t0;
    printf("netfuzz: http: %" PRIu64 " connections, %" PRIu64 " bytes in %.1f s (%.0f/s), "
           "%" PRIu64 " read an answer%s\n", n->items, n->bytes_sent, ms / 1000.0,
           ms ? n->items * 1000.0 / (double)ms : 0.0, pool.answered,
           n->timed_out ? " (time limit reached)" : "");
    return rc;
}

/* ---- phase 3: game flows with each other's tokens ------------------------------------------------- */

static int phase_flows(nf *n)
{
    conn cs[FLOW_CONNS];
    char buf[4096];
    long long t0 = nf_now_ms();
    uint64_t total = (uint64_t)n->o.flows, i, before_joined = n->judge.joined;
    int rc = 0;

    memset(cs, 0, sizeof cs);
    reset_counters(n);
    for (i = 0; i < total && rc == 0; i++) {
        rng r = item_rng(n->o.seed, PH_FLOWS, i);
        conn *c = &cs[rng_below(&r, FLOW_CONNS)];
        int type;
        int64_t gid, id = ++n->next_id;
        const nf_seat *seat;

        if (out_of_time(n)) {
            n->timed_out = 1;
            break;
        }
        if (conn_ensure(n, c) < 0) {
            rc = -1;
            break;
        }
        if (rng_pct(&r, 4)) {
            /* a player vanishes: its seats go away, a stranger may resume them */
            note_item(n, "flows item: abrupt disconnect", "", 0);
            conn_close(c, rng_pct(&r, 50));
            continue;
        }
        size_t len = build_msg(n, &r, id, buf, sizeof buf, &type, &gid, &seat);
        if (c->nmy && rng_pct(&r, 40)) {
            /* play in a game of one's own: turns, taken cells, stale plies */
            gid = c->my_game[rng_below(&r, c->nmy < CONN_SEATS ? c->nmy : CONN_SEATS)];
            int what = (int)rng_below(&r, 10);
            seat = NULL;
            type = what < 8 ? PROTO_MOVE : what == 8 ? PROTO_RESIGN : PROTO_REMATCH;
            if (type == PROTO_MOVE)
                len = (size_t)snprintf(buf, sizeof buf, "{\"type\":\"move\",\"game_id\":%"
                                       PRId64 ",\"cell\":%u%s,\"id\":%" PRId64 "}", gid,
                                       rng_below(&r, 9), rng_pct(&r, 50) ? "" : ",\"ply\":3", id);
            else
                len = (size_t)snprintf(buf, sizeof buf, "{\"type\":\"%s\",\"game_id\":%"
                                       PRId64 ",\"id\":%" PRId64 "}",
                                       proto_type_name((proto_type)type), gid, id);
        }
        if (type >= 0)
            nf_judge_expect(&n->judge, id, type, gid, seat);
        char d[64];
        snprintf(d, sizeof d, "flows item %" PRIu64, i);
        note_item(n, d, buf, len);
        n->items++;
        n->bytes_sent += len;
        if (nf_ws_send_text(&c->ws, buf, len) != 0)
            conn_close(c, 0);
        /* let the reply come, mostly: a flow where nobody waits is the frames phase */
        if (conn_drain(n, c, rng_pct(&r, 70) ? 2 : 0) < 0 || !server_alive(n)) {
            rc = -1;
            break;
        }
        if (i % 32 == 31)
            for (int k = 0; k < FLOW_CONNS; k++)
                if (conn_drain(n, &cs[k], 0) < 0)
                    rc = -1;
        if (total >= 10 && (i + 1) % (total / 10) == 0)
            progress(n, "flows", i + 1, total, t0);
    }
    for (int k = 0; k < FLOW_CONNS; k++) {
        if (rc == 0 && conn_drain(n, &cs[k], 50) < 0)
            rc = -1;
        conn_close(&cs[k], 0);
    }
    long long ms = nf_now_ms() - t0;
    printf("netfuzz: flows: %" PRIu64 " messages in %.1f s (%.0f/s), %" PRIu64
           " seats taken, %" PRIu64 " games known, %" PRIu64 " connections%s\n",
           n->items, ms / 1000.0, ms ? n->items * 1000.0 / (double)ms : 0.0,
           n->judge.joined - before_joined, (uint64_t)n->judge.ngames, n->reconnects,
           n->timed_out ? " (time limit reached)" : "");
    printf("netfuzz:   errors:");
    for (int e = 1; e < PROTO_ERR_COUNT; e++)
        if (n->judge.errors[e])
            printf(" %s %" PRIu64, proto_err_name((proto_err)e), n->judge.errors[e]);
    printf("\n");
    return rc;
}

/* ---- the judge's own test -------------------------------------------------------------------------- */

/* The judge must flag what is wrong, or the fuzzer could never fail: known
 * good and known bad server messages, judged offline. 0 when all agree. */
static int self_test(void)
{
    static const char win[] = "{\"type\":\"state\",\"game_id\":100,\"board\":\"XXXOO....\","
        "\"moves\":[0,3,1,4,2],\"ply\":5,\"turn\":null,\"status\":\"over\",\"result\":\"win\","
        "\"winner\":\"X\",\"line\":[0,1,2],\"players\":{\"X\":\"connected\",\"O\":\"away\"}}";
    static const char *const bad_states[] = {
        /* the board does not match the moves */
        "{\"type\":\"state\",\"game_id\":100,\"board\":\"XXX......\",\"moves\":[0,3,1,4,2],"
        "\"ply\":5,\"turn\":null,\"status\":\"over\",\"result\":\"win\",\"winner\":\"X\","
        "\"line\":[0,1,2],\"players\":{\"X\":\"connected\",\"O\":\"away\"}}",
        /* still playing on a won board */
        "{\"type\":\"state\",\"game_id\":100,\"board\":\"XXXOO....\",\"moves\":[0,3,1,4,2],"
        "\"ply\":5,\"turn\":\"O\",\"status\":\"playing\",\"result\":null,\"winner\":null,"
        "\"line\":null,\"players\":{\"X\":\"connected\",\"O\":\"away\"}}",
        /* the wrong side to move */
        "{\"type\":\"state\",\"game_id\":100,\"board\":\"X........\",\"moves\":[0],"
        "\"ply\":1,\"turn\":\"X\",\"status\":\"playing\",\"result\":null,\"winner\":null,"
        "\"line\":null,\"players\":{\"X\":\"connected\",\"O\":\"connected\"}}",
        /* X moved twice */
        "{\"type\":\"state\",\"game_id\":100,\"board\":\"XX.......\",\"moves\":[0,1],"
        "\"ply\":2,\"turn\":\"X\",\"status\":\"playing\",\"result\":null,\"winner\":null,"
        "\"line\":null,\"players\":{\"X\":\"connected\",\"O\":\"connected\"}}",
        /* a win by O claimed on X's line */
        "{\"type\":\"state\",\"game_id\":100,\"board\":\"XXXOO....\",\"moves\":[0,3,1,4,2],"
        "\"ply\":5,\"turn\":null,\"status\":\"over\",\"result\":\"win\",\"winner\":\"O\","
        "\"line\":[0,1,2],\"players\":{\"X\":\"connected\",\"O\":\"away\"}}",
        "{\"type\":\"state\"",   /* not JSON */
        "{\"type\":\"gossip\"}",  /* not a message of the contract */
    };
    static const char ply2[] = "{\"type\":\"state\",\"game_id\":7,\"board\":\"X...O....\","
        "\"moves\":[0,4],\"ply\":2,\"turn\":\"X\",\"status\":\"playing\",\"result\":null,"
        "\"winner\":null,\"line\":null,\"players\":{\"X\":\"connected\",\"O\":\"connected\"}}";
    static const char ply1[] = "{\"type\":\"state\",\"game_id\":7,\"board\":\"X........\","
        "\"moves\":[0],\"ply\":1,\"turn\":\"O\",\"status\":\"playing\",\"result\":null,"
        "\"winner\":null,\"line\":null,\"players\":{\"X\":\"connected\",\"O\":\"connected\"}}";
    static const char joined_x[] = "{\"type\":\"joined\",\"game_id\":100,\"mark\":\"X\","
        "\"token\":\"0123456789abcdef0123456789abcdef\",\"id\":7}";
    static nf_judge j;
    nf_seen seen;
    nf_seat other = {101, GAME_X, "fedcba9876543210fedcba9876543210"};
    nf_seat own = {100, GAME_X, "0123456789abcdef0123456789abcdef"};
    int bad = 0;

#define JUDGE(text, seen_) nf_judge_text(&j, (seen_), (const unsigned char *)(text), strlen(text))
#define MUST(cond, what) do { if (!(cond)) { fprintf(stderr, "self-test: %s\n", what); bad++; } } while (0)
    memset(&j, 0, sizeof j);
    MUST(JUDGE(win, NULL) == 0, "a legal win was flagged");
    for (size_t i = 0; i < sizeof bad_states / sizeof bad_states[0]; i++) {
        memset(&j, 0, sizeof j);
        if (JUDGE(bad_states[i], NULL) == 0) {
            fprintf(stderr, "self-test: not flagged: %s\n", bad_states[i]);
            bad++;
        }
    }
    memset(&j, 0, sizeof j);
    memset(&seen, 0, sizeof seen);
    MUST(JUDGE(ply2, &seen) == 0 && JUDGE(ply2, &seen) == 0, "a repeated state was flagged");
    MUST(JUDGE(ply1, &seen) < 0, "a state going back in ply was not flagged");
    memset(&j, 0, sizeof j);
    nf_judge_expect(&j, 7, PROTO_RESUME, 100, &other);
    MUST(JUDGE(joined_x, NULL) < 0, "a resume with another game's token was not flagged");
    memset(&j, 0, sizeof j);
    nf_judge_expect(&j, 7, PROTO_RESUME, 100, NULL);
    MUST(JUDGE(joined_x, NULL) < 0, "a resume with a made-up token was not flagged");
    memset(&j, 0, sizeof j);
    nf_judge_expect(&j, 7, PROTO_JOIN, 100, NULL);
    MUST(JUDGE(joined_x, NULL) < 0, "a join that seated X was not flagged");
    memset(&j, 0, sizeof j);
    nf_judge_expect(&j, 7, PROTO_RESUME, 100, &own);
    MUST(JUDGE(joined_x, NULL) == 0, "a resume with the seat's own token was flagged");
#undef JUDGE
#undef MUST
    printf("netfuzz: self-test: %s\n", bad ? "FAIL" : "PASS");
    return bad ? 1 : 0;
}

/* ---- main ------------------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: ttt-netfuzz [options]\n"
        "\n"
        "Starts a ttt-server (ideally the sanitized build/test one) on a free loopback\n"
        "port in a temporary directory and fuzzes it over the network: mutated\n"
        "WebSocket frames, random HTTP requests with stray bytes and early closes, and\n"
        "game flows that use other connections' tokens. After each phase a normal game\n"
        "and /healthz must work; at the end the server must exit 0 on SIGTERM with no\n"
        "sanitizer report in its stderr. Exit 0 when all of that held.\n"
        "\n"
        "  --server PATH      ttt-server binary (default %s)\n"
        "  --web DIR          its web directory (default %s)\n"
        "  --seed N           the run's seed (default 1); the same seed, the same items\n"
        "  --long             the long mode: 200000 frames, 50000 requests, 100000 flow\n"
        "                     messages, 1800 s at most (default: 5000 / 2000 / 3000, 240 s)\n"
        "  --frames N         WebSocket frames to send (phase frames)\n"
        "  --http N           HTTP connections to make (phase http)\n"
        "  --flows N          game-flow messages to send (phase flows)\n"
        "  --phases LIST      which phases, comma separated (default frames,http,flows)\n"
        "  --time-limit SEC   stop the phases after this long; the checks still run\n"
        "  --redis            keep games in a redis-server of its own (default: memory)\n"
        "  --rate-limit N     the server's --rate-limit and --ip-rate-limit (default 0:\n"
        "                     off, so every frame reaches the game logic)\n"
        "  --keep             keep the temporary directory (the server log is in it)\n"
        "  --self-test        check that the judge flags known bad server messages, and exit\n"
        "  --help             this text\n",
        TTT_SERVER_BIN, TTT_WEB_DIR);
}

static int parse_phases(const char *s)
{
    int ph = 0;
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s", s);
    for (char *t = strtok(tmp, ","); t; t = strtok(NULL, ",")) {
        if (strcmp(t, "frames") == 0)
            ph |= PH_FRAMES;
        else if (strcmp(t, "http") == 0)
            ph |= PH_HTTP;
        else if (strcmp(t, "flows") == 0)
            ph |= PH_FLOWS;
        else
            return -1;
    }
    return ph;
}

static int parse_opts(opts *o, int argc, char **argv)
{
    static const struct option lo[] = {
        {"server", 1, 0, 's'}, {"web", 1, 0, 'w'}, {"seed", 1, 0, 'S'}, {"long", 0, 0, 'L'},
        {"frames", 1, 0, 'f'}, {"http", 1, 0, 'h'}, {"flows", 1, 0, 'g'},
        {"phases", 1, 0, 'p'}, {"time-limit", 1, 0, 't'}, {"redis", 0, 0, 'r'},
        {"rate-limit", 1, 0, 'R'}, {"keep", 0, 0, 'k'}, {"help", 0, 0, 'H'},
        {"self-test", 0, 0, 'T'}, {0, 0, 0, 0}};
    long frames = -1, http = -1, flows = -1, tl = -1;
    int c, lng = 0;

    memset(o, 0, sizeof(*o));
    o->server = TTT_SERVER_BIN;
    o->web = TTT_WEB_DIR;
    o->seed = 1;
    o->phases = PH_FRAMES | PH_HTTP | PH_FLOWS;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 's': o->server = optarg; break;
        case 'w': o->web = optarg; break;
        case 'S': o->seed = strtoull(optarg, NULL, 0); break;
        case 'L': lng = 1; break;
        case 'f': frames = atol(optarg); break;
        case 'h': http = atol(optarg); break;
        case 'g': flows = atol(optarg); break;
        case 'p':
            if ((o->phases = parse_phases(optarg)) < 0) {
                fprintf(stderr, "ttt-netfuzz: --phases takes frames,http,flows\n");
                return -1;
            }
            break;
        case 't': tl = atol(optarg); break;
        case 'r': o->redis = 1; break;
        case 'R': o->rate_limit = atoi(optarg); break;
        case 'k': o->keep = 1; break;
        case 'H': usage(stdout); exit(0);
        case 'T': exit(self_test());
        default: usage(stderr); return -1;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return -1;
    }
    o->frames = frames >= 0 ? frames : lng ? 200000 : 5000;
    o->http = http >= 0 ? http : lng ? 50000 : 2000;
    o->flows = flows >= 0 ? flows : lng ? 100000 : 3000;
    o->time_limit_s = tl >= 0 ? (int)tl : lng ? 1800 : 240;
    return 0;
}

int main(int argc, char **argv)
{
    static nf n;
    int rc = 1;

    if (parse_opts(&n.o, argc, argv) < 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (access(n.o.server, X_OK) != 0) {
        fprintf(stderr, "ttt-netfuzz: no server binary at %s (--server)\n", n.o.server);
        return 2;
    }
    if (!(n.dir = proc_tmpdir("netfuzz"))) {
        fprintf(stderr, "ttt-netfuzz: cannot make a temporary directory\n");
        return 2;
    }
    n.t0 = nf_now_ms();
    n.deadline = n.t0 + (long long)n.o.time_limit_s * 1000;
    printf("netfuzz: seed %" PRIu64 ", %ld frames, %ld http, %ld flows, %d s at most, "
           "%s store, dir %s\n", n.o.seed, n.o.frames, n.o.http, n.o.flows, n.o.time_limit_s,
           n.o.redis ? "redis" : "memory", n.dir);
    if (server_start(&n) < 0)
        goto report;
    printf("netfuzz: %s on 127.0.0.1:%d (pid %d)\n", n.o.server, n.port, (int)n.pid);
    if (check_game(&n, "start") < 0)
        goto report;
    if ((n.o.phases & PH_FRAMES) && (phase_frames(&n) < 0 || check_game(&n, "frames") < 0))
        goto report;
    if ((n.o.phases & PH_HTTP) && (phase_http(&n) < 0 || check_game(&n, "http") < 0))
        goto report;
    if ((n.o.phases & PH_FLOWS) && (phase_flows(&n) < 0 || check_game(&n, "flows") < 0))
        goto report;

    /* SIGTERM: the server must drain and exit 0, with a clean stderr */
    {
        pid_t pid = n.pid;
        n.pid = 0;
        int st = proc_stop(pid, 20000);
        if (st == -1)
            fail(&n, "the server did not exit within 20 s of SIGTERM (killed)");
        else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail(&n, "the server's exit after SIGTERM: %s %d",
                 WIFEXITED(st) ? "status" : "signal",
                 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    }
    if (!n.fail[0])
        rc = 0;

report:
    if (n.pid > 0) {
        proc_kill9(n.pid);
        n.pid = 0;
    }
    if (n.has_redis)
        proc_redis_stop(&n.redis, 0);
    if (scan_log(&n, 1)) {
        rc = 1;
        if (!n.fail[0])
            fail(&n, "a sanitizer report in the server's stderr");
    }
    printf("netfuzz: %" PRIu64 " server messages judged (%" PRIu64 " states, %" PRIu64
           " seats), %" PRIu64 " violations, %.1f s in all\n", n.judge.msgs, n.judge.states,
           n.judge.joined, n.judge.violations, (nf_now_ms() - n.t0) / 1000.0);
    if (rc != 0) {
        fprintf(stderr, "netfuzz: FAIL: %s\n", n.fail);
        print_items(&n);
        fprintf(stderr, "netfuzz: server log kept in %s (replay: --seed %" PRIu64 ")\n",
                n.log, n.o.seed);
    } else {
        printf("netfuzz: PASS\n");
        if (!n.o.keep)
            proc_rmtree(n.dir);
    }
    free(n.dir);
    return rc;
}
