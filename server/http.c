/* http.c -- the HTTP routes next to the WebSocket:
 *   GET /                 the browser client (web/), from memory
 *   GET /healthz          200 when the store is reachable, else 503; JSON
 *   GET /metrics          Prometheus text (metrics.c)
 *   GET /api/games/{id}   the game's "state" as JSON, 404 when unknown
 * HEAD answers every route with the GET headers and no body; any other
 * method gets 405. A URI over HTTP_URI_MAX gets 414 and a header field over
 * HTTP_FIELD_MAX gets 431, both followed by a close.
 *
 * The web files are read once at start-up by web_files.c, so serving them
 * never reads a file on the loop.
 *
 * Every request is an http_req on the heap, found by its wsi, from its
 * LWS_CALLBACK_HTTP until its answer is written and the transaction is
 * completed, or until the connection closes. Nothing lives in lws'
 * per-session data: lws 4.1 frees and re-allocates that whenever it rebinds
 * the protocol (HTTP_DROP_PROTOCOL, then HTTP_BIND_PROTOCOL), which it does
 * at every transaction and also in the middle of one (below). The game route
 * is asynchronous (a store load): a load that completes after the client
 * left finds its request detached (wsi NULL) and only frees it.
 *
 * What lws 4.1 does with bytes that follow a request head, read from
 * lib/roles/h1/ops-h1.c and lib/roles/http/server/server.c (fixed upstream
 * only in 2026, "deferring transaction must defer pipeline"):
 *  - once the transaction is completed (lws_http_transaction_completed with
 *    nothing buffered), they are parsed as the next request: pipelining works;
 *  - before that, they are swallowed by a header parser still in its
 *    "complete" state, and the same request is dispatched to
 *    LWS_CALLBACK_HTTP a second time. That re-dispatch is what freed the old
 *    per-session data under a pending load (the use-after-free of issue 8).
 * So a short answer is written from inside LWS_CALLBACK_HTTP and the
 * transaction completed there, which keeps pipelined requests intact. A
 * re-dispatch is recognised (a request already exists for the wsi), ignored,
 * and marks the request close_after: the bytes lws swallowed were perhaps a
 * request, which is never answered, so the connection closes after the
 * current answer and the client retries (RFC 9112 9.3.2). That happens after
 * /api/games/{id} and after answers larger than lws sends at once. */
#define _GNU_SOURCE
#include <uv.h>

#include <libwebsockets.h>

#include "srv.h"

#include <stdarg.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "log.h"
#include "metrics.h"
#include "web_files.h"

#define BODY_CHUNK 65536           /* body bytes handed to lws per write */

/* Limits on a request head. lws keeps the whole head in one buffer of
 * HTTP_HEAD_MAX bytes (per connection, only while a head is parsed); past it
 * lws 4.1 drops the connection without a callback, so no status can be sent.
 * Each known header and the URI get a token limit below it: lws truncates a
 * longer one and skips the rest of its line, and the truncated length tells
 * us to answer 414 or 431. Header fields lws does not know (X-...) have no
 * per-field limit in lws 4.1 and only meet the buffer's end. */
#define HTTP_HEAD_MAX 8192
#define HTTP_URI_MAX 2048
#define HTTP_FIELD_MAX 4096

typedef enum { REQ_LOADING, REQ_WRITING, REQ_DRAINING } req_state;

typedef struct http_req {
    struct lws *wsi;            /* NULL once detached: the connection went away */
    struct http_files *f;       /* the registry it is in, while wsi is set */
    UT_hash_handle hh;          /* in f->reqs, keyed by wsi */
    req_state state;
    int status;
    const char *mime;
    const char *allow;          /* an Allow header (405), or NULL */
    const unsigned char *body;
    size_t len, sent;
    unsigned char *own_body;    /* freed with the request */
    msg *own_msg;               /* likewise (the game's state) */
    uint8_t head;               /* HEAD: headers only */
    uint8_t headers_done;
    uint8_t close_after;        /* close instead of keeping the connection */
    uint8_t redispatched;       /* lws re-dispatched it: no WRITEABLE comes any more */
    uint8_t body_done;          /* HTTP_BODY_COMPLETION came once */
} http_req;

struct http_files {
    web_files *web;             /* the static files (web_files.c) */
    http_req *reqs;             /* requests in progress, by wsi */
};

http_files *srv_files(const srv *s);
static void reqs_end_all(http_files *f);

/* Nothing lives in lws' per-session data: see the top of the file. */
size_t http_session_size(void) { return 0; }
/* lws sends at most this much of a write at once and buffers the rest (by
 * default only 4 KiB): an answer the socket takes whole is done within its
 * LWS_CALLBACK_HTTP, which is what keeps pipelining intact */
size_t http_tx_packet_size(void) { return BODY_CHUNK; }
size_t http_files_count(const http_files *f) { return web_files_count(f->web); }

http_files *http_files_load(const char *dir, char *err, size_t errlen)
{
    http_files *f = calloc(1, sizeof(*f));
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->web = web_files_load(dir, err, errlen);
    if (!f->web) {
        free(f);
        return NULL;
    }
    return f;
}

void http_files_free(http_files *f)
{
    if (!f)
        return;
    reqs_end_all(f);
    web_files_free(f->web);
    free(f);
}

/* ---- the request registry ---------------------------------------------------------------- */

static http_req *req_find(http_files *f, struct lws *wsi)
{
    http_req *r = NULL;
    HASH_FIND_PTR(f->reqs, &wsi, r);
    return r;
}

static void req_free(http_req *r)
{
    free(r->own_body);
    msg_unref(r->own_msg);
    free(r);
}

/* The connection is gone or the request is done. A load still in flight
 * keeps the request and frees it when it completes (on_game_state). */
static void req_end(http_files *f, http_req *r)
{
    HASH_DEL(f->reqs, r);
    r->f = NULL;
    r->wsi = NULL;
    if (r->state != REQ_LOADING)
        req_free(r);
}

static void reqs_end_all(http_files *f)
{
    http_req *r, *tmp;
    HASH_ITER(hh, f->reqs, r, tmp)
        req_end(f, r);
}

/* ---- writing an answer --------------------------------------------------------------------- */

static void req_answer(http_req *r, int status, const char *mime, const void *body, size_t len)
{
    r->status = status;
    r->mime = mime;
    r->body = body;
    r->len = len;
    r->state = REQ_WRITING;
}

static void req_answer_text(http_req *r, int status, const char *mime, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void req_answer_text(http_req *r, int status, const char *mime, const char *fmt, ...)
{
    char *body = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&body, fmt, ap);
    va_end(ap);
    if (n < 0) {
        req_answer(r, 500, "text/plain", "", 0);
        r->close_after = 1;
        return;
    }
    r->own_body = (unsigned char *)body;
    req_answer(r, status, mime, body, (size_t)n);
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                      unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)strlen(value), p, end);
}

static int write_headers(struct lws *wsi, http_req *r)
{
    unsigned char hbuf[LWS_PRE + 512];
    unsigned char *p = hbuf + LWS_PRE, *start = p, *end = hbuf + sizeof hbuf - 1;
    /* HEAD carries the GET's Content-Length (RFC 9110 9.3.2) */
    if (lws_add_http_common_headers(wsi, (unsigned int)r->status, r->mime, r->len, &p, end) ||
        add_header(wsi, "cache-control:", "no-cache", &p, end) ||
        (r->allow && add_header(wsi, "allow:", r->allow, &p, end)) ||
        (r->close_after && add_header(wsi, "connection:", "close", &p, end)))
        return -1;
    return lws_finalize_write_http_header(wsi, start, &p, end) ? -1 : 0;
}

/* Hands lws the headers (once) and the next piece of the body, or all of it
 * with all set. Returns 1 when everything is handed over, 0 when more is due
 * (writable requested), -1 to close. */
static int req_write(struct lws *wsi, http_req *r, int all)
{
    if (!r->headers_done) {
        if (write_headers(wsi, r))
            return -1;
        r->headers_done = 1;
    }
    if (!r->head && r->sent < r->len) {
        size_t chunk = r->len - r->sent;
        if (chunk > BODY_CHUNK && !all)
            chunk = BODY_CHUNK;
        unsigned char *buf = malloc(LWS_PRE + chunk);
        if (!buf)
            return -1;
        memcpy(buf + LWS_PRE, r->body + r->sent, chunk);
        int last = r->sent + chunk == r->len;
        int n = lws_write(wsi, buf + LWS_PRE, chunk, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
        free(buf);
        if (n < (int)chunk)
            return -1;
        r->sent += chunk;
        if (!last) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    return 1;
}

/* Ends the transaction. Only with nothing buffered in lws: lws 4.1 would
 * otherwise defer the completion and re-dispatch meanwhile (top of file). */
static int req_complete(http_files *f, struct lws *wsi, http_req *r)
{
    int close_after = r->close_after;
    req_end(f, r);
    if (close_after)
        return -1;   /* lws flushes what it holds, then closes */
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* One step of writing, from LWS_CALLBACK_HTTP or HTTP_WRITEABLE. */
static int req_pump(http_files *f, struct lws *wsi, http_req *r)
{
    switch (r->state) {
    case REQ_LOADING:
        return 0;
    case REQ_DRAINING:
        /* lws calls WRITEABLE only once its buffered output is gone */
        return req_complete(f, wsi, r);
    case REQ_WRITING: {
        int rc = req_write(wsi, r, 0);
        if (rc <= 0)
            return rc;
        if (r->close_after)
            return req_complete(f, wsi, r);
        if (lws_send_pipe_choked(wsi)) {
            r->state = REQ_DRAINING;
            lws_callback_on_writable(wsi);
            return 0;
        }
        return req_complete(f, wsi, r);
    }
    }
    return -1;
}

/* ---- routes ------------------------------------------------------------------------------ */

/* After a re-dispatch lws 4.1 gives no WRITEABLE (it cleared the flag its
 * POLLOUT handling checks), so the answer is handed over at once, from outside
 * any lws callback (lws_write is a plain send there, lws buffering what the
 * socket does not take), and the connection closed after it. */
static void answer_redispatched(http_req *r)
{
    struct lws *wsi = r->wsi;
    r->close_after = 1;
    int rc = req_write(wsi, r, 1);
    req_end(r->f, r);
    (void)rc;   /* written or not, the connection ends here */
    lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
    /* lws runs due timers after servicing an event; called from outside lws,
     * nothing may come for a long time, so make one (the socket is writable) */
    lws_callback_on_writable(wsi);
}

static void on_game_state(void *ud, int status, msg *m)
{
    http_req *r = ud;
    if (!r->wsi) {          /* the connection went away meanwhile */
        msg_unref(m);
        req_free(r);
        return;
    }
    if (status == STORE_OK && m) {
        r->own_msg = m;
        req_answer(r, 200, "application/json", msg_data(m), m->len);
    } else {
        msg_unref(m);
        if (status == STORE_ENOTFOUND)
            req_answer_text(r, 404, "application/json", "{\"error\":\"no_such_game\"}");
        else
            req_answer_text(r, 503, "application/json", "{\"error\":\"unavailable\"}");
    }
    if (r->redispatched)
        answer_redispatched(r);
    else
        lws_callback_on_writable(r->wsi);
}

static int parse_game_id(const char *s, int64_t *id)
{
    if (!*s || *s == '0' || strlen(s) > 18)
        return -1;
    int64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
    }
    *id = v;
    return 0;
}

#ifndef TTT_VERSION
#define TTT_VERSION "dev"
#endif

/* What /metrics shows, read from the live structs in one place so that
 * metrics.c only renders. */
static void metrics_take(srv *s, metrics_snapshot *m)
{
    store *st = srv_store(s);
    *m = (metrics_snapshot){
        .instance = srv_opts(s)->instance,
        .version = TTT_VERSION,
        .store_backend = store_backend_name(st),
        .store_instance = store_instance(st),
        .store_up = store_is_up(st),
        .store_lost = store_lost_count(st),
        .store_latency_ms = store_latency_ms(st),
        .net = *srv_get_stats(s),
    };
    store_get_stats(st, &m->store);
    gm_get_stats(srv_gm(s), &m->gm);
}

static int route(srv *s, http_req *r, const char *path)
{
    const char *prefix = "/api/games/";
    store *st = srv_store(s);
    if (strcmp(path, "/healthz") == 0) {
        int up = store_is_up(st) && !srv_draining(s);
        req_answer_text(r, up ? 200 : 503, "application/json",
                        "{\"status\":\"%s\",\"store\":\"%s\",\"store_up\":%s,\"draining\":%s,"
                        "\"instance\":%u,\"connections\":%llu}",
                        up ? "ok" : "unavailable", store_backend_name(st),
                        store_is_up(st) ? "true" : "false", srv_draining(s) ? "true" : "false",
                        store_instance(st), (unsigned long long)srv_get_stats(s)->conns_now);
        return 0;
    }
    if (strcmp(path, "/metrics") == 0) {
        size_t len = 0;
        metrics_snapshot m;
        metrics_take(s, &m);
        char *body = metrics_render(&m, &len);
        if (!body)
            return -1;
        r->own_body = (unsigned char *)body;
        req_answer(r, 200, "text/plain; version=0.0.4; charset=utf-8", body, len);
        return 0;
    }
    if (strncmp(path, prefix, strlen(prefix)) == 0) {
        int64_t id;
        if (parse_game_id(path + strlen(prefix), &id) != 0) {
            req_answer_text(r, 404, "application/json", "{\"error\":\"no_such_game\"}");
            return 0;
        }
        r->state = REQ_LOADING;
        gm_game_state(srv_gm(s), id, on_game_state, r);   /* may answer at once */
        return 0;
    }
    const web_file *f = web_files_find(srv_files(s)->web, path);
    if (f) {
        req_answer(r, 200, f->mime, f->data, f->len);
        return 0;
    }
    req_answer_text(r, 404, "text/plain; charset=utf-8", "not found\n");
    return 0;
}

/* 414 or 431 when lws truncated the URI or a header (HTTP_*_MAX above), else 0 */
static int head_too_large(struct lws *wsi, int uri_len)
{
    if (uri_len + lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS) > HTTP_URI_MAX)
        return HTTP_STATUS_REQ_URI_TOO_LONG;
    for (int t = 0; t < WSI_TOKEN_COUNT; t++)
        if (lws_hdr_total_length(wsi, (enum lws_token_indexes)t) > HTTP_FIELD_MAX)
            return 431;
    return 0;
}

/* Whether lws expects a request body (it reads Content-Length with atoll
 * into an unsigned length: anything but 0 is a body, "-1" a huge one). */
static int has_body(struct lws *wsi)
{
    char v[32];
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
        return 0;
    if (lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
        return 1;
    return atoll(v) != 0;
}

static int on_http(srv *s, struct lws *wsi, const char *in, size_t len)
{
    http_files *f = srv_files(s);
    http_req *r = req_find(f, wsi);
    if (r) {
        /* lws 4.1 re-dispatching the request it is still serving, having
         * swallowed the bytes that followed it (top of file). No WRITEABLE
         * comes after this: an answer in progress is handed over now and
         * the connection closed, a pending load answers the same way. */
        r->redispatched = 1;
        r->close_after = 1;
        if (r->state == REQ_LOADING)
            return 0;
        if (r->state == REQ_WRITING)
            (void)req_write(wsi, r, 1);
        req_end(f, r);
        return -1;
    }
    ((srv_stats *)srv_get_stats(s))->http_requests++;
    r = calloc(1, sizeof(*r));
    if (!r)
        return -1;
    r->wsi = wsi;
    r->f = f;
    r->state = REQ_WRITING;
    HASH_ADD_PTR(f->reqs, wsi, r);

    int get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
    r->head = lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0;
    /* A body on GET or HEAD means nothing to these routes, and lws 4.1
     * mishandles what follows one: after a transaction completed inside
     * this callback it reads the next pipelined bytes in a loop that never
     * consumes them (lws_http_action, the loop after "deal_body"), and it
     * re-delivers BODY_COMPLETION for them. So such a connection is closed
     * after the answer, which stops both. */
    if (has_body(wsi))
        r->close_after = 1;
    int too_large = head_too_large(wsi, (int)len);
    if (too_large) {
        r->close_after = 1;   /* the head was cut short: nothing more of it is trusted */
        req_answer_text(r, too_large, "text/plain; charset=utf-8",
                        too_large == 431 ? "header field too large\n" : "URI too long\n");
    } else if (!get && !r->head) {
        r->close_after = 1;   /* a body may follow that we do not read */
        r->allow = "GET, HEAD";
        req_answer_text(r, HTTP_STATUS_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
                        "method not allowed\n");
    } else {
        char path[HTTP_URI_MAX + 1];
        size_t n = len < sizeof path - 1 ? len : sizeof path - 1;
        memcpy(path, in, n);
        path[n] = '\0';
        if (route(s, r, path) != 0) {
            req_end(f, r);
            return -1;
        }
    }
    return req_pump(f, wsi, r);
}

/* Context options for the limits above; srv_new() calls it. */
void http_context_options(struct lws_context_creation_info *info)
{
    static struct lws_token_limits limits;
    static const enum lws_token_indexes uris[] = {
        WSI_TOKEN_GET_URI, WSI_TOKEN_POST_URI, WSI_TOKEN_OPTIONS_URI, WSI_TOKEN_PUT_URI,
        WSI_TOKEN_PATCH_URI, WSI_TOKEN_DELETE_URI, WSI_TOKEN_CONNECT, WSI_TOKEN_HEAD_URI,
        WSI_TOKEN_HTTP_COLON_PATH};
    /* one past each limit: a value lws cut short is then longer than allowed */
    for (int t = 0; t < WSI_TOKEN_COUNT; t++)
        limits.token_limit[t] = HTTP_FIELD_MAX + 1;
    for (size_t i = 0; i < sizeof uris / sizeof uris[0]; i++)
        limits.token_limit[uris[i]] = HTTP_URI_MAX + 1;
    info->token_limits = &limits;
    info->max_http_header_data = HTTP_HEAD_MAX;
}

int http_callback(struct lws *wsi, int reason, void *user, void *in, size_t len)
{
    srv *s = lws_context_user(lws_get_context(wsi));
    http_req *r;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_http(s, wsi, in, len);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        r = req_find(srv_files(s), wsi);
        return r ? req_pump(srv_files(s), wsi, r) : 0;
    case LWS_CALLBACK_HTTP_BODY:
        return 0;   /* read and dropped */
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        /* Not lws_callback_http_dummy: it completes the transaction, under
         * an answer still being loaded. lws 4.1 calls this again for every
         * read that follows the body without consuming it; the first is the
         * body's end, a later one (or one with no request left) ends the
         * connection, as has_body() already promised. */
        r = req_find(srv_files(s), wsi);
        if (r && !r->body_done) {
            r->body_done = 1;
            return 0;
        }
        if (r)
            req_end(srv_files(s), r);
        return -1;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        /* lws 4.1 answers an Upgrade other than websocket or h2c with 403
         * and completes the transaction, which frees (or resets) the header
         * table; on a keep-alive connection it then goes on to ask this
         * protocol and to compare `in`, a pointer into that table, with
         * "websocket": a use-after-free any client can trigger with a second
         * request (found by fuzz_http). An upgrade whose header is still
         * there is genuine and left to the ws protocol; otherwise hang up
         * before lws reads the freed table. */
        return lws_hdr_total_length(wsi, WSI_TOKEN_UPGRADE) > 0 ? 0 : -1;
    case LWS_CALLBACK_CLOSED_HTTP:
        /* lws 4.1 sends this for every connection that reached
         * LWS_CALLBACK_HTTP, also at lws_context_destroy (synchronously,
         * while the srv is alive); the DROP_PROTOCOL before it and the
         * DROP/BIND pairs of a rebind carry nothing of ours */
        r = req_find(srv_files(s), wsi);
        if (r)
            req_end(srv_files(s), r);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, (enum lws_callback_reasons)reason, user, in, len);
    }
}
