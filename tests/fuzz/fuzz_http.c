/* fuzz_http.c -- libFuzzer target for the HTTP routes (server/http.c), driven
 * through a real libwebsockets 4.1 context: a real srv (srv_new) with the
 * memory store and the game manager on a libuv loop, as ttt-server runs them.
 *
 * Each input is one connection: a socketpair whose one end lws adopts as an
 * accepted HTTP client (lws_adopt_socket), the other end ours. The first
 * byte says how the input is cut and how the client leaves:
 *   bits 0-1  0: close at once after the last piece (unread answers, RST)
 *             1: half-close (EOF to the server), then read until it closes
 *             2: read until the server is quiet, then close
 *             3: close after the first piece, the rest never sent
 *   bits 2-4  the rest is sent in 1 + n pieces, the loop run between them
 * The rest is request bytes: heads, stray bytes, pipelined requests. Game 100
 * exists (created at start-up) and /big.js is larger than one write, so the
 * answered, the not-found, the asynchronous and the chunked paths all occur.
 *
 * Checks: whatever comes back starts with an HTTP status line; every input
 * ends with the connection gone and the loop back to idle within a bounded
 * number of turns (no leak between inputs, ASan's leak check at exit); and
 * every 64 inputs a fresh connection still gets 200 from /healthz. */
#define _GNU_SOURCE
#include <uv.h>

#include <libwebsockets.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "gm.h"
#include "gm_uv.h"
#include "log.h"
#include "srv.h"
#include "store.h"

#define TURNS_MAX 64        /* loop turns an input may take to settle */
#define BIG_JS (256u << 10) /* larger than a write, so the body goes in pieces */

typedef struct fz {
    uv_loop_t loop;
    gm *g;
    store *st;
    srv *s;
    struct lws_context *ctx;
    char web[64];
    int created;
    unsigned long inputs;
} fz;

static fz F;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_http: %s\n", what);
    abort();
}

static void write_file(const char *dir, const char *name, const char *text, size_t len)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(text, 1, len, f) != len)
        fail("cannot write the web directory");
    fclose(f);
}

static void remove_web(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/index.html", F.web);
    unlink(path);
    snprintf(path, sizeof path, "%s/big.js", F.web);
    unlink(path);
    rmdir(F.web);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t al = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) < 0)
        fail("no free port");
    close(fd);
    return ntohs(a.sin_port);
}

/* The hooks main.c gives http.c, reduced to what the fuzzed routes read. */
static void health_take(void *ud, http_health *h)
{
    (void)ud;
    *h = (http_health){.store_up = store_is_up(F.st), .store = store_backend_name(F.st),
                       .instance = store_instance(F.st),
                       .connections = F.s ? srv_get_stats(F.s)->conns_now : 0};
}

static void metrics_take(void *ud, metrics_snapshot *m)
{
    (void)ud;
    m->instance = "fuzz";
    m->version = "fuzz";
    m->store_backend = store_backend_name(F.st);
    m->store_up = store_is_up(F.st);
    if (F.s)
        m->net = *srv_get_stats(F.s);
    store_get_stats(F.st, &m->store);
    gm_get_stats(F.g, &m->gm);
}

static void on_created(void *ud, int status, const store_game *g)
{
    (void)ud;
    (void)g;
    F.created = status == STORE_OK ? 1 : -1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_level = LOG_ERROR;
    snprintf(F.web, sizeof F.web, "/tmp/fuzz_http.XXXXXX");
    if (!mkdtemp(F.web))
        fail("mkdtemp");
    const char *index = "<!doctype html><html><body>ttt</body></html>\n";
    write_file(F.web, "index.html", index, strlen(index));
    char *big = malloc(BIG_JS);
    if (!big)
        fail("out of memory");
    memset(big, 'j', BIG_JS);
    write_file(F.web, "big.js", big, BIG_JS);
    free(big);
    atexit(remove_web);

    uv_loop_init(&F.loop);
    gm_options gopt = {.abandon_ms = 60000, .wait_ms = 600000, .seed = 1};
    gm_io io = {.ud = NULL, .send = srv_send};
    gm_clock clk = gm_uv_clock(&F.loop);
    F.g = gm_new(&clk, &gopt, &io);
    store_events ev = gm_store_events(F.g);
    store_options sopt = {.redis_url = NULL, .instance_name = "fuzz",
                          .finished_ttl_ms = 3600 * 1000};
    char err[256] = "";
    F.st = F.g ? store_open(&F.loop, &sopt, &ev, err, sizeof err) : NULL;
    if (!F.st)
        fail(err);
    gm_set_store(F.g, F.st);
    http_options ho = {.web_dir = F.web, .gm = F.g, .health = health_take,
                       .metrics = metrics_take};
    http_server *http = http_new(&ho, err, sizeof err);
    if (!http)
        fail(err);
    srv_options so = {.host = "127.0.0.1", .port = free_port(), .http = http,
                      .instance = "fuzz", .max_conns = 64, .rate_limit = 0,
                      .ping_interval_ms = 25000, .ping_timeout_ms = 75000};
    F.s = srv_new(&F.loop, &so, F.g, err, sizeof err);
    if (!F.s)
        fail(err);
    gm_io io2 = {.ud = F.s, .send = srv_send, .close = srv_close_conn};
    gm_set_io(F.g, &io2);
    F.ctx = srv_lws_context(F.s);
    lws_set_log_level(0, NULL);   /* its error lines for malformed input are noise here */

    store_game g;
    memset(&g, 0, sizeof g);
    game_state_init(&g.st, 1);
    g.kind = STORE_KIND_CREATE;
    g.seat[0].taken = 1;
    store_game_create(F.st, &g, on_created, NULL);
    for (int i = 0; i < 100 && !F.created; i++)
        uv_run(&F.loop, UV_RUN_NOWAIT);
    if (F.created != 1)
        fail("cannot create game 100");
    return 0;
}

/* What the client end has received so far: only the first bytes are kept
 * (for the status line check); the rest is read and dropped. */
typedef struct sink {
    char head[16];
    size_t n;
    int eof;
} sink;

static void drain(int fd, sink *k)
{
    char buf[65536];
    for (;;) {
        ssize_t got = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            k->eof = 1;
            return;
        }
        if (got < 0)
            return;
        if (k->n < sizeof k->head) {
            size_t c = sizeof k->head - k->n < (size_t)got ? sizeof k->head - k->n : (size_t)got;
            memcpy(k->head + k->n, buf, c);
        }
        k->n += (size_t)got;
    }
}

static void turn(void)
{
    uv_run(&F.loop, UV_RUN_NOWAIT);
}

/* Run the loop while the client reads, until the server closes (EOF) or,
 * with quiet_ok, until nothing arrives for a few turns. */
static void settle(int fd, sink *k, int quiet_ok)
{
    size_t last = k->n;
    int quiet = 0;
    for (int i = 0; i < TURNS_MAX && !k->eof; i++) {
        turn();
        drain(fd, k);
        quiet = k->n == last ? quiet + 1 : 0;
        last = k->n;
        if (quiet_ok && quiet >= 4)
            return;
    }
}

static void check_answer(const sink *k)
{
    size_t n = k->n < sizeof k->head ? k->n : sizeof k->head;
    if (n && memcmp(k->head, "HTTP/1.", n < 7 ? n : 7) != 0)
        fail("an answer that is not an HTTP status line");
}

static void probe_health(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        fail("socketpair");
    if (!lws_adopt_socket(F.ctx, sv[1]))
        fail("lws_adopt_socket");
    const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    if (send(sv[0], req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
        fail("send");
    sink k = {0};
    settle(sv[0], &k, 0);
    close(sv[0]);
    for (int i = 0; i < 8; i++)
        turn();
    if (k.n < 13 || memcmp(k.head, "HTTP/1.1 200 ", 13) != 0)
        fail("/healthz no longer answers 200");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int mode = data[0] & 3, pieces = 1 + ((data[0] >> 2) & 7);
    data++;
    size--;

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        fail("socketpair");
    if (!lws_adopt_socket(F.ctx, sv[1])) {   /* lws closes sv[1] on failure */
        close(sv[0]);
        return 0;
    }
    sink k = {0};
    size_t pos = 0;
    for (int p = 0; p < pieces && pos < size; p++) {
        size_t len = p == pieces - 1 ? size - pos : (size - pos + pieces - p - 1) / (pieces - p);
        if (send(sv[0], data + pos, len, MSG_NOSIGNAL) < 0)
            break;   /* the server closed already */
        pos += len;
        turn();
        drain(sv[0], &k);
        if (mode == 3)
            break;
    }
    switch (mode) {
    case 1:
        shutdown(sv[0], SHUT_WR);
        settle(sv[0], &k, 0);
        break;
    case 2:
        settle(sv[0], &k, 1);
        break;
    default:
        break;
    }
    check_answer(&k);
    close(sv[0]);
    /* let lws see the close, the store answer pending loads, and libuv close
     * the handles: the next input starts from an idle server */
    for (int i = 0; i < 8; i++)
        turn();

    if (++F.inputs % 64 == 0)
        probe_health();
    return 0;
}
