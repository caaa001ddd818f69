/* nf_phase.c -- ttt-netfuzz's three phases: mutated frames, HTTP requests,
 * and game flows that use each other's ids and tokens. Each item is drawn
 * from its own generator, so a seed replays it. */
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

int nf_phase_frames(nf *n)
{
    conn cs[FRAME_CONNS];
    static unsigned char msgbuf[ITEM_CAP], frames[ITEM_CAP + 512];
    long long t0 = nf_now_ms();
    uint64_t total = (uint64_t)n->o.frames, i;
    int rc = 0;

    memset(cs, 0, sizeof cs);
    reset_counters(n);
    for (i = 0; i < total && n->frames_sent < total && rc == 0; i++) {
        rng r = nf_item_rng(n->o.seed, PH_FRAMES, i);
        conn *c = &cs[rng_below(&r, FRAME_CONNS)];
        int type, nframes, closes;
        int64_t gid;
        const nf_seat *seat;
        const char *desc = "?";

        if (out_of_time(n)) {
            n->timed_out = 1;
            break;
        }
        if (nf_conn_ensure(n, c) < 0) {
            rc = -1;
            break;
        }
        size_t mlen = nf_build_msg(n, &r, 0, (char *)msgbuf, 4096, &type, &gid, &seat);
        if (rng_pct(&r, 60))
            mlen = nf_mutate(&r, msgbuf, mlen, sizeof msgbuf);
        size_t flen = nf_build_frames(&r, msgbuf, mlen, frames, sizeof frames, &nframes,
                                   &closes, &desc);
        char d[96];
        snprintf(d, sizeof d, "frames item %" PRIu64 " (%s)", i, desc);
        nf_note_item(n, d, frames, flen);
        n->items++;
        n->frames_sent += (uint64_t)nframes;
        n->bytes_sent += flen;
        if (nf_write_item(&r, c->ws.fd, frames, flen) != 0)
            nf_conn_close(c, 0);    /* the server closed it; fine, it may */
        if (nf_conn_drain(n, c, 0) < 0 || !nf_server_alive(n)) {
            rc = -1;
            break;
        }
        if (closes && c->open && rng_pct(&r, 70))
            nf_conn_close(c, rng_pct(&r, 30));
        if (i % 64 == 63)
            for (int k = 0; k < FRAME_CONNS; k++)
                if (nf_conn_drain(n, &cs[k], 1) < 0)
                    rc = -1;
        if (total >= 10 && (i + 1) % (total / 10 ? total / 10 : 1) == 0)
            progress(n, "frames", n->frames_sent, total, t0);
    }
    for (int k = 0; k < FRAME_CONNS; k++) {
        if (rc == 0 && nf_conn_drain(n, &cs[k], 50) < 0)
            rc = -1;
        nf_conn_close(&cs[k], 0);
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
                 rng_pct(r, 30) ? 100 : nf_pick_game(n, r));
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
        return nf_fail(n, "http: poll: %s", strerror(errno));
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
                rc = nf_fail(n, "http: an answer that is not HTTP/1.x: %.8s", l->head);
            }
            pool_drop(p, i);
        }
    }
    return rc;
}

int nf_phase_http(nf *n)
{
    static char req[65536];
    static http_pool pool;
    long long t0 = nf_now_ms();
    uint64_t total = (uint64_t)n->o.http, i;
    int rc = 0;

    memset(&pool, 0, sizeof pool);
    reset_counters(n);
    for (i = 0; i < total && rc == 0; i++) {
        rng r = nf_item_rng(n->o.seed, PH_HTTP, i);
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
            rc = nf_connect_failed(n, "http: cannot connect");
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
                req[len++] = (char)nf_rng_next(&r);
            break;
        }
        case 3: memcpy(req + len, "GET /heal", 9); len += 9; break;
        default: break;
        }
        if (rng_pct(&r, 10))
            len = nf_mutate(&r, (unsigned char *)req, len, sizeof req);
        char desc[64];
        snprintf(desc, sizeof desc, "http connection %" PRIu64, i);
        nf_note_item(n, desc, req, len);
        n->items++;
        n->bytes_sent += len;
        int sent = nf_write_item(&r, fd, (unsigned char *)req, len) == 0;
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
        if (!nf_server_alive(n))
            rc = -1;
        if (total >= 10 && (i + 1) % (total / 10) == 0)
            progress(n, "http", i + 1, total, t0);
    }
    while (rc == 0 && pool.n)
        rc = pool_service(n, &pool, HTTP_WAIT_MS);
    while (pool.n)
        pool_drop(&pool, 0);
    if (rc == 0 && !nf_server_alive(n))
        rc = -1;
    long long ms = nf_now_ms() - t0;
    printf("netfuzz: http: %" PRIu64 " connections, %" PRIu64 " bytes in %.1f s (%.0f/s), "
           "%" PRIu64 " read an answer%s\n", n->items, n->bytes_sent, ms / 1000.0,
           ms ? n->items * 1000.0 / (double)ms : 0.0, pool.answered,
           n->timed_out ? " (time limit reached)" : "");
    return rc;
}

/* ---- phase 3: game flows with each other's tokens ------------------------------------------------- */

int nf_phase_flows(nf *n)
{
    conn cs[FLOW_CONNS];
    char buf[4096];
    long long t0 = nf_now_ms();
    uint64_t total = (uint64_t)n->o.flows, i, before_joined = n->judge.joined;
    int rc = 0;

    memset(cs, 0, sizeof cs);
    reset_counters(n);
    for (i = 0; i < total && rc == 0; i++) {
        rng r = nf_item_rng(n->o.seed, PH_FLOWS, i);
        conn *c = &cs[rng_below(&r, FLOW_CONNS)];
        int type;
        int64_t gid, id = ++n->next_id;
        const nf_seat *seat;

        if (out_of_time(n)) {
            n->timed_out = 1;
            break;
        }
        if (nf_conn_ensure(n, c) < 0) {
            rc = -1;
            break;
        }
        if (rng_pct(&r, 4)) {
            /* a player vanishes: its seats go away, a stranger may resume them */
            nf_note_item(n, "flows item: abrupt disconnect", "", 0);
            nf_conn_close(c, rng_pct(&r, 50));
            continue;
        }
        size_t len = nf_build_msg(n, &r, id, buf, sizeof buf, &type, &gid, &seat);
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
        nf_note_item(n, d, buf, len);
        n->items++;
        n->bytes_sent += len;
        if (nf_ws_send_text(&c->ws, buf, len) != 0)
            nf_conn_close(c, 0);
        /* let the reply come, mostly: a flow where nobody waits is the frames phase */
        if (nf_conn_drain(n, c, rng_pct(&r, 70) ? 2 : 0) < 0 || !nf_server_alive(n)) {
            rc = -1;
            break;
        }
        if (i % 32 == 31)
            for (int k = 0; k < FLOW_CONNS; k++)
                if (nf_conn_drain(n, &cs[k], 0) < 0)
                    rc = -1;
        if (total >= 10 && (i + 1) % (total / 10) == 0)
            progress(n, "flows", i + 1, total, t0);
    }
    for (int k = 0; k < FLOW_CONNS; k++) {
        if (rc == 0 && nf_conn_drain(n, &cs[k], 50) < 0)
            rc = -1;
        nf_conn_close(&cs[k], 0);
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
