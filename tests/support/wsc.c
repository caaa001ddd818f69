/* wsc.c -- test support: a synchronous WebSocket client on libwebsockets'
 * built-in poll loop. See wsc.h; the bare-socket client is in wsc_raw.c.
 *
 * lws only lets us write from the WRITEABLE callback, one lws_write each, so
 * sends go through a per-connection FIFO of ready frames (each with its own
 * LWS_PRE headroom and write flags, which is what gives the tests control
 * over fragmentation). Received pieces are joined into whole messages and
 * queued; the blocking calls service the context until their condition
 * holds or their deadline passes.
 *
 * lws_service() sleeps until lws has something to do and ignores its timeout
 * argument (since lws 3.2), so every service pass schedules a wake-up timer
 * (a sul) at the caller's deadline to get control back in time. */
#define _GNU_SOURCE
#include "wsc.h"

#include <arpa/inet.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A cap on one received message; the server never sends more than a few KB. */
#define WSC_MAX_MSG (1u << 20)

typedef struct wsc_msg {
    struct wsc_msg *next;
    size_t len;
    int binary;
    char data[];          /* len bytes + NUL */
} wsc_msg;

typedef struct wsc_frame {
    struct wsc_frame *next;
    size_t len;
    int flags;            /* enum lws_write_protocol | LWS_WRITE_NO_FIN */
    unsigned char buf[];  /* LWS_PRE + len */
} wsc_frame;

typedef enum {
    WSC_CONNECTING,
    WSC_OPEN,
    WSC_CLOSED,           /* after a close or a drop; wsi is gone */
    WSC_FAILED            /* the connect or the handshake failed */
} wsc_state;

struct wsc {
    wsc_ctx *ctx;
    struct wsc *next;     /* the context's list of live clients */
    struct lws *wsi;      /* NULL once lws has destroyed it */
    wsc_state state;
    int close_code;       /* 0 until closed */
    char close_reason[128];
    int closing;          /* we asked to close: the next WRITEABLE closes */
    wsc_msg *in_head, *in_tail;
    int in_count;
    char *rx;             /* the message being assembled */
    size_t rx_len, rx_cap;
    int rx_binary;
    wsc_frame *out_head, *out_tail;
};

struct wsc_ctx {
    struct lws_context *lws;
    lws_sorted_usec_list_t wake;
    wsc *clients;
    char err[512];
};

static const struct lws_protocols wsc_protocols[];

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_err(wsc_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_err(wsc_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err, sizeof(ctx->err), fmt, ap);
    va_end(ap);
}

/* ---- the lws side ------------------------------------------------------- */

static void wake_cb(lws_sorted_usec_list_t *sul)
{
    (void)sul;            /* its only job is to end the poll() wait */
}

/* One service pass, returning by the deadline at the latest. */
static void ctx_pump(wsc_ctx *ctx, long long deadline)
{
    long long left = deadline - now_ms();
    if (left < 0)
        left = 0;
    lws_sul_schedule(ctx->lws, 0, &ctx->wake, wake_cb, (lws_usec_t)left * 1000);
    lws_service(ctx->lws, 0);
    lws_sul_cancel(&ctx->wake);
}

static void push_msg(wsc *w)
{
    wsc_msg *m = malloc(sizeof(*m) + w->rx_len + 1);
    if (!m)
        abort();
    m->next = NULL;
    m->len = w->rx_len;
    m->binary = w->rx_binary;
    if (w->rx_len)
        memcpy(m->data, w->rx, w->rx_len);
    m->data[w->rx_len] = '\0';
    if (w->in_tail)
        w->in_tail->next = m;
    else
        w->in_head = m;
    w->in_tail = m;
    w->in_count++;
    w->rx_len = 0;
}

static int rx_append(wsc *w, const void *in, size_t len)
{
    if (w->rx_len + len > WSC_MAX_MSG)
        return -1;
    if (w->rx_len + len > w->rx_cap) {
        size_t cap = w->rx_cap ? w->rx_cap : 4096;
        while (cap < w->rx_len + len)
            cap *= 2;
        char *p = realloc(w->rx, cap);
        if (!p)
            return -1;
        w->rx = p;
        w->rx_cap = cap;
    }
    if (len)
        memcpy(w->rx + w->rx_len, in, len);
    w->rx_len += len;
    return 0;
}

static void mark_gone(wsc *w)
{
    w->wsi = NULL;
    if (w->state == WSC_CONNECTING)
        w->state = WSC_FAILED;
    else if (w->state == WSC_OPEN)
        w->state = WSC_CLOSED;
    if (w->state == WSC_CLOSED && !w->close_code)
        w->close_code = WSC_CLOSE_ABNORMAL;
}

static int wsc_callback(struct lws *wsi, enum lws_callback_reasons reason,
                        void *user, void *in, size_t len)
{
    wsc *w = user;

    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (w) {
            set_err(w->ctx, "connect failed: %s",
                    in ? (const char *)in : "(no reason)");
            w->state = WSC_FAILED;
            w->wsi = NULL;
        }
        return 0;

    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (w) {
            w->state = WSC_OPEN;
            if (w->out_head || w->closing)
                lws_callback_on_writable(wsi);
        }
        return 0;

    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (!w)
            return -1;
        if (lws_is_first_fragment(wsi)) {
            w->rx_len = 0;
            w->rx_binary = lws_frame_is_binary(wsi);
        }
        if (rx_append(w, in, len) < 0)
            return -1;
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi))
            push_msg(w);
        return 0;

    case LWS_CALLBACK_CLIENT_WRITEABLE: {
        if (!w || w->closing) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"bye", 3);
            return -1;
        }
        wsc_frame *f = w->out_head;
        if (!f)
            return 0;
        w->out_head = f->next;
        if (!w->out_head)
            w->out_tail = NULL;
        int n = lws_write(wsi, f->buf + LWS_PRE, f->len,
                          (enum lws_write_protocol)f->flags);
        size_t flen = f->len;
        free(f);
        if (n < (int)flen) {
            set_err(w->ctx, "lws_write wrote %d of %zu bytes", n, flen);
            return -1;
        }
        if (w->out_head)
            lws_callback_on_writable(wsi);
        return 0;
    }

    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        /* in = the close payload: 2-byte big-endian code, then the reason */
        if (w) {
            const unsigned char *p = in;
            if (len >= 2) {
                w->close_code = (p[0] << 8) | p[1];
                size_t rl = len - 2;
                if (rl >= sizeof(w->close_reason))
                    rl = sizeof(w->close_reason) - 1;
                memcpy(w->close_reason, p + 2, rl);
                w->close_reason[rl] = '\0';
            } else {
                w->close_code = 1005;   /* "no status received", RFC 6455 */
            }
        }
        return 0;         /* let lws echo the close */

    case LWS_CALLBACK_CLIENT_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:
        if (w && w->wsi == wsi)
            mark_gone(w);
        return 0;

    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols wsc_protocols[] = {
    {"ttt-client", wsc_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}
};

/* ---- context ------------------------------------------------------------ */

wsc_ctx *wsc_ctx_new(void)
{
    struct lws_context_creation_info info;
    wsc_ctx *ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        goto fail;

    lws_set_log_level(LLL_ERR, NULL);
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = wsc_protocols;
    info.gid = -1;
    info.uid = -1;
    /* lws sizes a table by the fd limit; a test holds a handful of sockets */
    info.fd_limit_per_thread = 256;
    ctx->lws = lws_create_context(&info);
    if (!ctx->lws)
        goto fail;
    return ctx;

fail:
    free(ctx);
    return NULL;
}

static void wsc_free_queues(wsc *w)
{
    while (w->in_head) {
        wsc_msg *m = w->in_head;
        w->in_head = m->next;
        free(m);
    }
    while (w->out_head) {
        wsc_frame *f = w->out_head;
        w->out_head = f->next;
        free(f);
    }
    free(w->rx);
}

static void ctx_unlink(wsc_ctx *ctx, wsc *w)
{
    for (wsc **pp = &ctx->clients; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            return;
        }
}

/* Free w; if lws still has its wsi, make lws forget our pointer first. */
static void wsc_release(wsc *w)
{
    if (w->wsi) {
        lws_set_wsi_user(w->wsi, NULL);
        lws_set_timeout(w->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
    ctx_unlink(w->ctx, w);
    wsc_free_queues(w);
    free(w);
}

void wsc_ctx_free(wsc_ctx *ctx)
{
    if (!ctx)
        return;
    while (ctx->clients)
        wsc_close(ctx->clients);
    lws_context_destroy(ctx->lws);
    free(ctx);
}

void wsc_ctx_service(wsc_ctx *ctx, int ms)
{
    long long end = now_ms() + ms;
    while (now_ms() < end)
        ctx_pump(ctx, end);
}

const char *wsc_error(const wsc_ctx *ctx)
{
    return ctx->err;
}

wsc_ctx *wsc_get_ctx(const wsc *w)
{
    return w->ctx;
}

/* ---- connections -------------------------------------------------------- */

wsc *wsc_connect(wsc_ctx *ctx, int port, const char *path, int timeout_ms)
{
    struct lws_client_connect_info ci;
    long long end = now_ms() + timeout_ms;
    wsc *w = calloc(1, sizeof(*w));
    if (!w) {
        set_err(ctx, "out of memory");
        return NULL;
    }
    w->ctx = ctx;
    w->state = WSC_CONNECTING;
    w->next = ctx->clients;
    ctx->clients = w;

    memset(&ci, 0, sizeof(ci));
    ci.context = ctx->lws;
    ci.address = "127.0.0.1";
    ci.port = port;
    ci.path = path ? path : "/ws";
    ci.host = "127.0.0.1";
    ci.origin = "127.0.0.1";          /* lws 4.1 sends "Origin: http://127.0.0.1" */
    ci.protocol = NULL;               /* like a browser: no subprotocol */
    ci.local_protocol_name = wsc_protocols[0].name;
    ci.ietf_version_or_minus_one = -1;
    ci.userdata = w;
    ci.pwsi = &w->wsi;
    set_err(ctx, "connect to port %d timed out", port);
    if (!lws_client_connect_via_info(&ci)) {
        w->wsi = NULL;
        if (w->state == WSC_CONNECTING)
            set_err(ctx, "lws_client_connect_via_info failed (port %d)", port);
        w->state = WSC_FAILED;
    }
    while (w->state == WSC_CONNECTING && now_ms() < end)
        ctx_pump(ctx, end);
    if (w->state != WSC_OPEN) {
        wsc_release(w);
        return NULL;
    }
    return w;
}

/* Queue one frame; flags are lws write flags. */
static int queue_frame(wsc *w, const void *data, size_t len, int flags)
{
    if (w->state != WSC_OPEN || w->closing) {
        set_err(w->ctx, "send on a closed connection (close code %d)", w->close_code);
        return -1;
    }
    wsc_frame *f = malloc(sizeof(*f) + LWS_PRE + len);
    if (!f)
        return -1;
    f->next = NULL;
    f->len = len;
    f->flags = flags;
    if (len)
        memcpy(f->buf + LWS_PRE, data, len);
    if (w->out_tail)
        w->out_tail->next = f;
    else
        w->out_head = f;
    w->out_tail = f;
    lws_callback_on_writable(w->wsi);
    return 0;
}

int wsc_send(wsc *w, const char *text)
{
    return queue_frame(w, text, strlen(text), LWS_WRITE_TEXT);
}

int wsc_sendf(wsc *w, const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    int r = wsc_send(w, s);
    free(s);
    return r;
}

int wsc_send_fragments(wsc *w, const char *data, size_t len, size_t frag)
{
    if (frag == 0)
        return -1;
    size_t off = 0;
    do {
        size_t n = len - off < frag ? len - off : frag;
        int last = off + n >= len;
        int flags = off == 0 ? LWS_WRITE_TEXT : LWS_WRITE_CONTINUATION;
        if (!last)
            flags |= LWS_WRITE_NO_FIN;
        if (queue_frame(w, data + off, n, flags) < 0)
            return -1;
        off += n;
    } while (off < len);
    return 0;
}

int wsc_send_binary(wsc *w, const void *data, size_t len)
{
    return queue_frame(w, data, len, LWS_WRITE_BINARY);
}

int wsc_send_raw_text(wsc *w, const void *data, size_t len)
{
    return queue_frame(w, data, len, LWS_WRITE_TEXT);
}

int wsc_flush(wsc *w, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    while (w->out_head && w->state == WSC_OPEN && now_ms() < end)
        ctx_pump(w->ctx, end);
    return w->out_head ? -1 : 0;
}

char *wsc_recv_msg(wsc *w, int timeout_ms, size_t *len, int *binary)
{
    long long end = now_ms() + timeout_ms;
    while (!w->in_head && w->state == WSC_OPEN && now_ms() < end)
        ctx_pump(w->ctx, end);
    wsc_msg *m = w->in_head;
    if (!m) {
        if (w->state == WSC_OPEN)
            set_err(w->ctx, "no message within %d ms", timeout_ms);
        else
            set_err(w->ctx, "connection closed (code %d \"%s\") with no message",
                    w->close_code, w->close_reason);
        return NULL;
    }
    w->in_head = m->next;
    if (!w->in_head)
        w->in_tail = NULL;
    w->in_count--;
    char *s = malloc(m->len + 1);
    if (!s)
        abort();
    memcpy(s, m->data, m->len + 1);
    if (len)
        *len = m->len;
    if (binary)
        *binary = m->binary;
    free(m);
    return s;
}

char *wsc_recv(wsc *w, int timeout_ms)
{
    return wsc_recv_msg(w, timeout_ms, NULL, NULL);
}

json_t *wsc_recv_json(wsc *w, int timeout_ms)
{
    json_error_t je;
    char *s = wsc_recv(w, timeout_ms);
    if (!s)
        return NULL;
    json_t *j = json_loads(s, 0, &je);
    if (!j || !json_is_object(j)) {
        set_err(w->ctx, "not a JSON object: %.300s", s);
        json_decref(j);
        free(s);
        return NULL;
    }
    free(s);
    return j;
}

json_t *wsc_expect(wsc *w, const char *type, int timeout_ms)
{
    json_t *j = wsc_recv_json(w, timeout_ms);
    if (!j) {
        char why[sizeof(w->ctx->err)];
        memcpy(why, w->ctx->err, sizeof(why));
        set_err(w->ctx, "expected \"%s\": %.400s", type, why);
        return NULL;
    }
    const char *t = json_string_value(json_object_get(j, "type"));
    if (!t || strcmp(t, type) != 0) {
        char *dump = json_dumps(j, JSON_COMPACT);
        set_err(w->ctx, "expected \"%s\", got %.400s", type, dump ? dump : "?");
        free(dump);
        json_decref(j);
        return NULL;
    }
    return j;
}

int wsc_pending(const wsc *w)
{
    return w->in_count;
}

int wsc_is_open(const wsc *w)
{
    return w->state == WSC_OPEN;
}

int wsc_wait_close(wsc *w, int timeout_ms, int *code, const char **reason)
{
    long long end = now_ms() + timeout_ms;
    while ((w->state == WSC_OPEN || w->state == WSC_CONNECTING) && now_ms() < end)
        ctx_pump(w->ctx, end);
    if (w->state == WSC_OPEN || w->state == WSC_CONNECTING) {
        set_err(w->ctx, "connection still open after %d ms", timeout_ms);
        return -1;
    }
    if (code)
        *code = w->close_code;
    if (reason)
        *reason = w->close_reason;
    return 0;
}

void wsc_close(wsc *w)
{
    if (!w)
        return;
    if (w->wsi && w->state == WSC_OPEN) {
        long long end = now_ms() + 500;
        w->closing = 1;
        lws_callback_on_writable(w->wsi);
        while (w->wsi && now_ms() < end)
            ctx_pump(w->ctx, end);
    }
    wsc_release(w);
}

void wsc_drop(wsc *w)
{
    if (!w)
        return;
    if (w->wsi && w->state == WSC_OPEN) {
        /* FIN without a WebSocket close frame; lws then notices the hang-up */
        long long end = now_ms() + 500;
        shutdown(lws_get_socket_fd(w->wsi), SHUT_RDWR);
        while (w->wsi && now_ms() < end)
            ctx_pump(w->ctx, end);
    }
    wsc_release(w);
}
