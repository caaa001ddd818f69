/* srv.c -- WebSocket sessions on libwebsockets 4.1 over our libuv loop.
 *
 * A session costs one ws_sess (about 100 bytes) beside what lws keeps, plus
 * an output queue only while something is queued and a reassembly buffer
 * only while a message arrives in pieces. That is what lets one process hold
 * tens of thousands of idle players.
 *
 * What lws does not do for us and we do here: the 4096-byte message limit
 * across fragments (close 1009), a per-connection token bucket, keepalive
 * pings on quiet connections and the close after a silent timeout, and the
 * 1012 close on shutdown, which lws 4.1 only sends when we write the close
 * frame ourselves from WRITEABLE (see shared/NOTES-lws.md). */
#include <uv.h>   /* before libwebsockets.h: its uv prototypes need UV_ERRNO_MAP */

#include <libwebsockets.h>

#include "srv.h"

#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "log.h"
#include "proto.h"

_Static_assert(MSG_LWS_PRE == LWS_PRE, "msg.h's LWS_PRE copy must match libwebsockets");

#define RX_CHUNK 512           /* lws' per-connection receive buffer, bytes */
#define QUEUE_MAX 256          /* frames queued for one client before it counts as stuck */
#define CLOSE_GOING_AWAY 1001
#define CLOSE_TOO_BIG 1009
#define CLOSE_RESTART 1012
#define CLOSE_POLICY 1008
#define CLOSE_UNSUPPORTED 1003

typedef struct ws_sess {
    struct lws *wsi;
    srv *srv;
    gm_conn *gc;
    struct ws_sess *prev, *next;   /* every open session: drain and keepalive walk it */
    msg **q;                       /* ring of queued frames, allocated on first use */
    uint16_t qhead, qlen, qcap;
    uint16_t close_code;           /* a close frame to send once the queue is written */
    char *rx;                      /* a message arriving in pieces */
    uint32_t rxlen;
    uint8_t ping_due, ping_out;
    uint8_t established;           /* the welcome went out: direct writes allowed */
    double tokens;                 /* rate limit bucket */
    int64_t refill_ms, last_rx_ms;
} ws_sess;

struct srv {
    uv_loop_t *loop;
    struct lws_context *ctx;
    srv_options opt;
    gm *gm;
    store *st;
    http_files *files;
    ws_sess *sessions;
    msg *welcome;
    uv_timer_t keepalive;
    uv_timer_t drain_timer;
    int draining;
    int drain_expired;           /* stop waiting for replies in flight */
    int closing_handles;         /* freed when the last close callback has run */
    struct lws_context *failed_ctx;
    void (*drain_done)(void *ud);
    void *drain_ud;
    srv_stats stats;
    char host_buf[128];
};

/* http.c reaches the srv through lws_context_user(); these keep the struct private */
http_files *srv_files(const srv *s);
http_files *srv_files(const srv *s) { return s->files; }
struct lws_context *srv_lws_context(const srv *s) { return s->ctx; }
gm *srv_gm(const srv *s) { return s->gm; }
store *srv_store(const srv *s) { return s->st; }
const srv_options *srv_opts(const srv *s) { return &s->opt; }
const srv_stats *srv_get_stats(const srv *s) { return &s->stats; }
int srv_draining(const srv *s) { return s->draining; }

static int64_t now_ms(const srv *s)
{
    return (int64_t)uv_now(s->loop);
}

/* ---- output ------------------------------------------------------------------- */

static void queue_clear(ws_sess *ss)
{
    while (ss->qlen) {
        msg_unref(ss->q[ss->qhead]);
        ss->qhead = (uint16_t)((ss->qhead + 1) % ss->qcap);
        ss->qlen--;
    }
    free(ss->q);
    ss->q = NULL;
    ss->qcap = ss->qhead = 0;
}

static int queue_push(ws_sess *ss, msg *m)
{
    if (ss->qlen == ss->qcap) {
        uint16_t cap = ss->qcap ? (uint16_t)(ss->qcap * 2) : 4;
        if (cap > QUEUE_MAX)
            return -1;
        msg **q = malloc(cap * sizeof(*q));
        if (!q)
            return -1;
        for (uint16_t i = 0; i < ss->qlen; i++)
            q[i] = ss->q[(ss->qhead + i) % ss->qcap];
        free(ss->q);
        ss->q = q;
        ss->qhead = 0;
        ss->qcap = cap;
    }
    ss->q[(ss->qhead + ss->qlen) % ss->qcap] = msg_ref(m);
    ss->qlen++;
    return 0;
}

static void sess_close_with(ws_sess *ss, uint16_t code)
{
    if (!ss->close_code)
        ss->close_code = code;
    lws_callback_on_writable(ss->wsi);
}

void srv_send(void *srv_ud, void *conn_ud, msg *m)
{
    srv *s = srv_ud;
    ws_sess *ss = conn_ud;
    /* a restart close waits for the replies to requests already accepted;
     * any other close drops what is queued */
    if (ss->close_code && ss->close_code != CLOSE_RESTART)
        return;
    /* Fast path: nothing of ours queued and nothing left over inside lws,
     * so write now. Waiting for WRITEABLE instead costs two epoll_ctl calls
     * per frame (arm POLLOUT, disarm it), which profiling showed to be a
     * third of the server's CPU per move. lws 4.1 buffers a partial send
     * itself and finishes it on POLLOUT; while it holds such a leftover
     * (lws_partial_buffered) every frame takes the queue, because a second
     * write on top of a leftover reports a short count in 4.1. The welcome
     * (sent from ESTABLISHED) and closes always take the queue. */
    if (!ss->qlen && !ss->close_code && ss->established && !lws_partial_buffered(ss->wsi)) {
        int n = lws_write(ss->wsi, msg_data(m), m->len, LWS_WRITE_TEXT);
        if (n >= (int)m->len) {
            s->stats.msgs_out++;
            s->stats.bytes_out += m->len;
            return;
        }
        /* a failed write: lws is closing it; CLOSED cleans up */
        sess_close_with(ss, CLOSE_POLICY);
        return;
    }
    if (queue_push(ss, m) != 0) {
        /* a client that reads nothing while we queue hundreds of frames is
         * stuck or hostile; holding its backlog would let it grow our memory */
        s->stats.slow_closed++;
        log_info("closing a client that stopped reading (%u frames queued)", ss->qlen);
        queue_clear(ss);
        sess_close_with(ss, CLOSE_POLICY);
        return;
    }
    lws_callback_on_writable(ss->wsi);
}

static void send_block(ws_sess *ss, char *block, const size_t *len)
{
    msg *m = msg_wrap(block, len);
    if (m)
        srv_send(ss->srv, ss, m);
    msg_unref(m);
}

/* lws 4.1 sends a close code reliably only when we write the close frame
 * ourselves: payload = 2-byte big-endian code + reason, opcode 4 (its
 * internal LWS_WRITE_CLOSE). See NOTES-lws.md, "SIGTERM shutdown". */
static void write_close(ws_sess *ss)
{
    static const char *const reasons[] = {"", "server restart", "message too big",
                                          "too slow", "text frames only",
                                          "no answer to ping"};
    const char *reason = ss->close_code == CLOSE_RESTART ? reasons[1]
                         : ss->close_code == CLOSE_TOO_BIG ? reasons[2]
                         : ss->close_code == CLOSE_POLICY ? reasons[3]
                         : ss->close_code == CLOSE_UNSUPPORTED ? reasons[4]
                         : ss->close_code == CLOSE_GOING_AWAY ? reasons[5] : reasons[0];
    unsigned char buf[LWS_PRE + 2 + 64];
    size_t rl = strlen(reason);
    buf[LWS_PRE] = (unsigned char)(ss->close_code >> 8);
    buf[LWS_PRE + 1] = (unsigned char)(ss->close_code & 0xff);
    memcpy(buf + LWS_PRE + 2, reason, rl);
    lws_write(ss->wsi, buf + LWS_PRE, 2 + rl, (enum lws_write_protocol)4);
}

static int on_writeable(srv *s, ws_sess *ss)
{
    if (ss->ping_due) {
        /* not empty: lws 4.1 hands an empty PONG to nobody (ops-ws.c skips
         * the callback when the payload length is 0), so we would never see
         * the answer */
        unsigned char buf[LWS_PRE + 4];
        memcpy(buf + LWS_PRE, "ttt", 3);
        ss->ping_due = 0;
        ss->ping_out = 1;
        if (lws_write(ss->wsi, buf + LWS_PRE, 3, LWS_WRITE_PING) < 0)
            return -1;
        if (ss->qlen || ss->close_code)
            lws_callback_on_writable(ss->wsi);
        return 0;
    }
    if (ss->qlen) {
        msg *m = ss->q[ss->qhead];
        ss->qhead = (uint16_t)((ss->qhead + 1) % ss->qcap);
        ss->qlen--;
        int n = lws_write(ss->wsi, msg_data(m), m->len, LWS_WRITE_TEXT);
        s->stats.msgs_out++;
        s->stats.bytes_out += m->len;
        int short_write = n < (int)m->len;
        msg_unref(m);
        ss->established = 1;
        if (short_write)
            return -1;
        if (ss->qlen || ss->close_code)
            lws_callback_on_writable(ss->wsi);
        else if (ss->qcap > 16) {
            /* a burst grew the ring; give the memory back once it drained */
            free(ss->q);
            ss->q = NULL;
            ss->qcap = ss->qhead = 0;
        }
        return 0;
    }
    if (ss->close_code) {
        if (ss->close_code == CLOSE_RESTART && ss->gc && gm_conn_busy(ss->gc) &&
            !s->drain_expired)
            return 0;   /* a reply is still coming; the drain tick asks again */
        write_close(ss);
        return -1;
    }
    return 0;
}

/* ---- input -------------------------------------------------------------------- */

static int rate_ok(srv *s, ws_sess *ss)
{
    if (s->opt.rate_limit <= 0)
        return 1;
    int64_t now = now_ms(s);
    double burst = s->opt.rate_limit * 2;
    ss->tokens += (double)(now - ss->refill_ms) * s->opt.rate_limit / 1000.0;
    ss->refill_ms = now;
    if (ss->tokens > burst)
        ss->tokens = burst;
    if (ss->tokens < 1.0)
        return 0;
    ss->tokens -= 1.0;
    return 1;
}

static void handle_message(srv *s, ws_sess *ss, const char *buf, size_t len)
{
    proto_req req;
    s->stats.msgs_in++;
    s->stats.bytes_in += len;
    if (ss->close_code && ss->close_code != CLOSE_RESTART)
        return;   /* closing: nothing more is answered */
    proto_err e = proto_parse(buf, len, &req);
    if (e == PROTO_OK && s->draining) {
        /* accepted requests finish; new ones go to the process the client
         * reconnects to */
        size_t olen = 0;
        s->stats.errors[PROTO_EUNAVAILABLE]++;
        send_block(ss, proto_encode_error(&req.id, PROTO_EUNAVAILABLE,
                                          "this server is restarting: reconnect and resume",
                                          MSG_HEADROOM, &olen), &olen);
        return;
    }
    if (e == PROTO_OK && !rate_ok(s, ss))
        e = PROTO_ERATE_LIMITED;
    else if (e != PROTO_OK && !rate_ok(s, ss))
        e = PROTO_ERATE_LIMITED;
    if (e != PROTO_OK) {
        size_t olen = 0;
        if (e == PROTO_ERATE_LIMITED)
            s->stats.rate_limited++;
        else
            s->stats.bad_input++;
        s->stats.errors[e]++;
        log_debug("request refused: %s", proto_err_name(e));
        send_block(ss, proto_encode_error(&req.id, e, NULL, MSG_HEADROOM, &olen), &olen);
        return;
    }
    log_debug("request %s game %lld", proto_type_name(req.type), (long long)req.game_id);
    gm_request(s->gm, ss->gc, &req);
}

static int too_big(srv *s, ws_sess *ss)
{
    s->stats.too_big++;
    free(ss->rx);
    ss->rx = NULL;
    ss->rxlen = 0;
    lws_close_reason(ss->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
                     (unsigned char *)"message too big", 15);
    return -1;
}

static int on_receive(srv *s, ws_sess *ss, const char *in, size_t len)
{
    ss->last_rx_ms = now_ms(s);
    ss->ping_out = 0;
    if (lws_frame_is_binary(ss->wsi)) {
        s->stats.bad_input++;
        sess_close_with(ss, CLOSE_UNSUPPORTED);
        return 0;
    }
    int complete = lws_is_final_fragment(ss->wsi) && !lws_remaining_packet_payload(ss->wsi);
    if (!ss->rx && complete) {
        /* the common case: a whole message in one piece, parsed in place */
        if (len > PROTO_MAX_MESSAGE)
            return too_big(s, ss);
        handle_message(s, ss, in, len);
        return 0;
    }
    if ((size_t)ss->rxlen + len > PROTO_MAX_MESSAGE)
        return too_big(s, ss);
    if (!ss->rx && !(ss->rx = malloc(PROTO_MAX_MESSAGE)))
        return -1;
    memcpy(ss->rx + ss->rxlen, in, len);
    ss->rxlen += (uint32_t)len;
    if (complete) {
        handle_message(s, ss, ss->rx, ss->rxlen);
        free(ss->rx);
        ss->rx = NULL;
        ss->rxlen = 0;
    }
    return 0;
}

/* ---- the ws protocol callback -------------------------------------------------------- */

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                       void *in, size_t len)
{
    srv *s = lws_context_user(lws_get_context(wsi));
    ws_sess *ss = user;

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        if (s->draining || s->stats.conns_now >= (uint64_t)s->opt.max_conns) {
            s->stats.conns_refused++;
            return -1;
        }
        return 0;

    case LWS_CALLBACK_ESTABLISHED:
        memset(ss, 0, sizeof(*ss));
        ss->wsi = wsi;
        ss->srv = s;
        ss->last_rx_ms = ss->refill_ms = now_ms(s);
        ss->tokens = s->opt.rate_limit * 2;
        ss->gc = gm_conn_open(s->gm, ss);
        if (!ss->gc)
            return -1;
        DL_APPEND(s->sessions, ss);
        s->stats.conns_now++;
        s->stats.conns_total++;
        srv_send(s, ss, s->welcome);
        return 0;

    case LWS_CALLBACK_RECEIVE:
        return on_receive(s, ss, in, len);

    case LWS_CALLBACK_RECEIVE_PONG:
        ss->last_rx_ms = now_ms(s);
        ss->ping_out = 0;
        return 0;

    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(s, ss);

    case LWS_CALLBACK_CLOSED:
        if (!ss->wsi)
            return 0;   /* refused before it was established */
        if (ss->gc)
            gm_conn_close(s->gm, ss->gc);
        ss->gc = NULL;
        ss->wsi = NULL;
        queue_clear(ss);
        free(ss->rx);
        ss->rx = NULL;
        DL_DELETE(s->sessions, ss);
        s->stats.conns_now--;
        if (s->draining && !s->sessions && s->drain_done) {
            void (*done)(void *) = s->drain_done;
            s->drain_done = NULL;
            uv_timer_stop(&s->drain_timer);
            done(s->drain_ud);
        }
        return 0;

    default:
        /* without this, a keep-alive HTTP connection bound to this protocol
         * (the "default" pvo) hangs on its second request: NOTES-lws.md */
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static int http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    return http_callback(wsi, (int)reason, user, in, len);
}

/* ---- keepalive --------------------------------------------------------------------- */

static void on_keepalive(uv_timer_t *t)
{
    srv *s = t->data;
    int64_t now = now_ms(s);
    ws_sess *ss, *tmp;
    DL_FOREACH_SAFE(s->sessions, ss, tmp) {
        int64_t quiet = now - ss->last_rx_ms;
        if (quiet >= s->opt.ping_timeout_ms) {
            if (ss->close_code)
                continue;
            s->stats.ping_timeouts++;
            log_debug("closing a connection silent for %lld ms", (long long)quiet);
            /* a close frame if the socket still takes data, and a hard
             * timeout behind it for a peer that stopped reading too */
            queue_clear(ss);
            sess_close_with(ss, CLOSE_GOING_AWAY);
            lws_set_timeout(ss->wsi, PENDING_TIMEOUT_USER_OK, 2);
        } else if (quiet >= s->opt.ping_interval_ms && !ss->ping_out && !ss->ping_due) {
            ss->ping_due = 1;
            lws_callback_on_writable(ss->wsi);
        }
    }
}

/* ---- drain and lifecycle ------------------------------------------------------------ */

/* While draining: sessions that held their 1012 back for a reply in flight
 * are asked again; an op that ends without a reply sends nothing to wake them. */
static void on_drain_tick(uv_timer_t *t)
{
    srv *s = t->data;
    ws_sess *ss;
    DL_FOREACH(s->sessions, ss) if (!ss->qlen && ss->gc && !gm_conn_busy(ss->gc))
        lws_callback_on_writable(ss->wsi);
}

static void on_drain_timeout(uv_timer_t *t)
{
    srv *s = t->data;
    s->drain_expired = 1;
    uv_timer_stop(&s->keepalive);
    if (s->drain_done) {
        void (*done)(void *) = s->drain_done;
        s->drain_done = NULL;
        log_warn("drain: %llu connections still open, closing anyway",
                 (unsigned long long)s->stats.conns_now);
        done(s->drain_ud);
    }
}

void srv_drain(srv *s, int64_t timeout_ms, void (*done)(void *ud), void *ud)
{
    s->draining = 1;
    s->drain_done = done;
    s->drain_ud = ud;
    uv_timer_stop(&s->keepalive);
    uv_timer_start(&s->keepalive, on_drain_tick, 20, 20);
    log_info("draining: %llu clients get 1012 and reconnect elsewhere",
             (unsigned long long)s->stats.conns_now);
    if (!s->sessions) {
        s->drain_done = NULL;
        done(ud);
        return;
    }
    ws_sess *ss;
    DL_FOREACH(s->sessions, ss) sess_close_with(ss, CLOSE_RESTART);
    uv_timer_start(&s->drain_timer, on_drain_timeout, (uint64_t)timeout_ms, 0);
}

static void lws_log_emit(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    if (level & LLL_ERR)
        log_error("lws: %.*s", (int)n, line);
    else if (level & LLL_WARN)
        log_warn("lws: %.*s", (int)n, line);
    else
        log_debug("lws: %.*s", (int)n, line);
}

static const struct lws_protocol_vhost_options pvo_default = {NULL, NULL, "default", ""};
static const struct lws_protocol_vhost_options pvo_ttt = {NULL, &pvo_default, "ttt", ""};

srv *srv_new(uv_loop_t *loop, const srv_options *opt, gm *g, store *st, char *err,
             size_t errlen)
{
    srv *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->loop = loop;
    s->opt = *opt;
    s->gm = g;
    s->st = st;
    size_t wlen = 0;
    s->welcome = msg_wrap(proto_encode_welcome(opt->instance, MSG_HEADROOM, &wlen), &wlen);
    s->files = http_files_load(opt->web_dir, err, errlen);
    if (!s->welcome || !s->files)
        goto fail;

    static struct lws_protocols protocols[3];
    protocols[0] = (struct lws_protocols){"http", http_cb, 0, 0, 0, NULL, 0};
    protocols[0].per_session_data_size = http_session_size();
    protocols[0].tx_packet_size = http_tx_packet_size();
    /* rx_buffer_size is lws' per-connection receive chunk, not a message
     * limit (NOTES-lws): it is allocated for every connection, so it is kept
     * small and larger messages are reassembled in on_receive() */
    /* tx_packet_size: lws sends at most this per write (default: the rx
     * size), and keeps the rest for POLLOUT; a frame of ours is at most a
     * few KiB, so it goes out in one send */
    protocols[1] = (struct lws_protocols){"ttt", ws_callback, sizeof(ws_sess),
                                          RX_CHUNK, 0, NULL, 16384};
    protocols[2] = (struct lws_protocols){NULL, NULL, 0, 0, 0, NULL, 0};

    /* every HTTP path goes to our callback: the web files are served from
     * memory, so no file is read on the loop after start-up */
    static struct lws_http_mount mount;
    memset(&mount, 0, sizeof(mount));
    mount.mountpoint = "/";
    mount.mountpoint_len = 1;
    mount.origin = "http";
    mount.origin_protocol = LWSMPRO_CALLBACK;

    lws_set_log_level(LLL_ERR | LLL_WARN | (log_level >= LOG_DEBUG ? LLL_NOTICE : 0),
                      lws_log_emit);

    void *foreign[1] = {loop};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.foreign_loops = foreign;
    info.port = opt->port;
    if (opt->host && *opt->host && strcmp(opt->host, "0.0.0.0") != 0) {
        snprintf(s->host_buf, sizeof s->host_buf, "%s", opt->host);
        info.iface = s->host_buf;
    }
    info.protocols = protocols;
    info.pvo = &pvo_ttt;
    info.mounts = &mount;
    info.user = s;
    info.vhost_name = "ttt";
    http_context_options(&info);   /* 414/431 limits: http.c */
    /* lws sizes a table by this; the process limit may be far larger (NOTES-lws) */
    info.fd_limit_per_thread = (unsigned int)opt->max_conns + 256;
    info.count_threads = 1;

    /* with libuv, lws_create_context() "succeeds" even when the port cannot
     * be bound (libwebsockets #2171); an explicit vhost reports it */
    info.options |= LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    s->ctx = lws_create_context(&info);
    if (!s->ctx) {
        snprintf(err, errlen, "cannot start libwebsockets");
        goto fail;
    }
    if (!lws_create_vhost(s->ctx, &info)) {
        snprintf(err, errlen, "cannot listen on %s:%d (in use, or not allowed)",
                 opt->host ? opt->host : "*", opt->port);
        s->failed_ctx = s->ctx;
        s->ctx = NULL;
        goto fail;
    }
    uv_timer_init(loop, &s->keepalive);
    s->keepalive.data = s;
    uv_timer_init(loop, &s->drain_timer);
    s->drain_timer.data = s;
    /* walk the sessions a few times per ping interval: a ping goes out at most
     * a quarter interval late, and 20k sessions cost well under a millisecond */
    int64_t every = opt->ping_interval_ms / 4;
    if (every < 100)
        every = 100;
    if (every > 5000)
        every = 5000;
    uv_timer_start(&s->keepalive, on_keepalive, (uint64_t)every, (uint64_t)every);
    return s;

fail:
    if (s->failed_ctx) {
        /* the two-step foreign-loop destroy, run here since nothing else is */
        lws_context_destroy(s->failed_ctx);
        for (int i = 0; i < 8; i++)   /* the manager's timers keep the loop alive */
            uv_run(loop, UV_RUN_NOWAIT);
        lws_context_destroy(s->failed_ctx);
    }
    msg_unref(s->welcome);
    http_files_free(s->files);
    free(s);
    return NULL;
}

static void on_timer_closed(uv_handle_t *h)
{
    srv *s = h->data;
    if (--s->closing_handles == 0) {
        http_files_free(s->files);
        msg_unref(s->welcome);
        free(s);
    }
}

struct lws_context *srv_free(srv *s)
{
    struct lws_context *ctx = s->ctx;
    /* sessions still open past the drain leave the manager now, while it
     * and the store can still record their goodbye */
    ws_sess *ss;
    DL_FOREACH(s->sessions, ss) {
        if (ss->gc) {
            gm_conn_close(s->gm, ss->gc);
            ss->gc = NULL;
        }
    }
    lws_context_destroy(ctx);
    s->ctx = NULL;
    s->closing_handles = 2;
    uv_close((uv_handle_t *)&s->keepalive, on_timer_closed);
    uv_close((uv_handle_t *)&s->drain_timer, on_timer_closed);
    return ctx;
}

void srv_context_finish(struct lws_context *ctx)
{
    if (ctx)
        lws_context_destroy(ctx);
}
