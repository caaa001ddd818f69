/* srv.c -- WebSocket sessions on libwebsockets 4.1 over our libuv loop.
 *
 * A session costs one ws_sess (about 100 bytes) beside what lws keeps, plus
 * an output queue only while something is queued and a reassembly buffer
 * only while a message arrives in pieces. That is what lets one process hold
 * tens of thousands of idle players.
 *
 * What lws does not do for us and we do here: the 4096-byte message limit
 * across fragments (close 1009, ws_msg.c), UTF-8 in text messages (close
 * 1007), close frames with an invalid code (close 1002), token buckets per
 * connection and per client address, keepalive pings on quiet connections
 * and the close after a silent timeout, the 1012 close on shutdown, which
 * lws 4.1 only sends when we write the close frame ourselves from WRITEABLE
 * (see docs/libraries.md), and the handshake policy: only /ws, the Origin
 * check, and the connection limits (overall and per client address), each
 * refusal answered with an HTTP status. What lws 4.1 cannot be made to do
 * (refuse unmasked frames) is in docs/protocol.md, with the 1002 we write
 * ourselves when lws drops a connection without a close frame.
 *
 * This file is a session's life; frames in are srv_in.c, frames out
 * srv_out.c (srv_int.h). */
#include "srv_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <utlist.h>

#include "log.h"
#include "proto.h"

_Static_assert(MSG_LWS_PRE == LWS_PRE, "msg.h's LWS_PRE copy must match libwebsockets");

/* lws' per-connection receive buffer, bytes. Every connection holds one,
 * so it is the first thing idle memory pays for; every request a client
 * sends in play (a move is 61 bytes on the wire, a create with a name about
 * 200) fits in one, and longer messages are put together by ws_msg.c. */
#define RX_CHUNK 256
#define HDR_MAX 512            /* header values we read at the handshake */
_Static_assert(WS_MSG_MAX == PROTO_MAX_MESSAGE, "one message limit");

/* Fault injection for the tests of the failure paths, compiled only into
 * test builds: TTT_FAULT_CONN_OPEN=N makes the manager "run out of memory"
 * for the next N connections it is asked to take in. */
#ifdef TTT_FAULT_INJECTION
static int fault_conn_open(void)
{
    static long left = -1;
    if (left < 0) {
        const char *e = getenv("TTT_FAULT_CONN_OPEN");
        left = e ? strtol(e, NULL, 10) : 0;
        if (left < 0)
            left = 0;
    }
    if (left > 0) {
        left--;
        return 1;
    }
    return 0;
}
#else
#define fault_conn_open() 0
#endif

/* peers can cause these at will: at most a line a second each (log.h) */

/* peers can cause these at will: at most a line a second each (log.h) */
static log_limit ll_refused, ll_lws_err, ll_lws_warn;

struct lws_context *srv_lws_context(const srv *s) { return s->ctx; }
const srv_stats *srv_get_stats(const srv *s) { return &s->stats; }
int srv_draining(const srv *s) { return s->draining; }


/* ---- the handshake ---------------------------------------------------------------- */

/* lws 4.1 has switched the connection to the ws role before it asks
 * FILTER_PROTOCOL_CONNECTION, so lws_return_http_status() would go out
 * framed as a WebSocket message. The answer is written to the socket
 * directly instead: nothing else is queued on a connection whose request
 * was just read, and a few hundred bytes always fit a fresh socket's
 * buffer. lws then closes the connection. */
static int refuse_handshake(struct lws *wsi, int status, const char *text)
{
    char buf[256];
    const char *phrase = status == 403 ? "Forbidden" : status == 404 ? "Not Found"
                         : status == 429 ? "Too Many Requests" : "Service Unavailable";
    int n = snprintf(buf, sizeof buf,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n%s\n",
                     status, phrase, strlen(text) + 1,
                     status == 503 || status == 429 ? "Retry-After: 5\r\n" : "", text);
    int fd = (int)lws_get_socket_fd(wsi);
    if (fd >= 0 && n > 0 && (size_t)n < sizeof buf) {
        ssize_t w = send(fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w;   /* a peer that is gone gets nothing, which it would not read */
    }
    log_limited(&ll_refused, LOG_INFO, "WebSocket handshake refused with %d: %s", status, text);
    return -1;
}

/* a header's value into buf, or NULL when absent or longer than buf */
static const char *hdr(struct lws *wsi, enum lws_token_indexes t, char *buf, int n)
{
    if (lws_hdr_total_length(wsi, t) <= 0 || lws_hdr_copy(wsi, buf, n, t) < 0)
        return NULL;
    return buf;
}

static int client_addr(srv *s, struct lws *wsi, lim_addr *out)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = (int)lws_get_socket_fd(wsi);
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) != 0 ||
        lim_addr_from_sockaddr((struct sockaddr *)&ss, out) != 0)
        return -1;
    if (!s->opt.ntrusted)
        return 0;
    lim_addr peer = *out;
    char xff[HDR_MAX], xri[64];
    const char *f = hdr(wsi, WSI_TOKEN_X_FORWARDED_FOR, xff, sizeof xff);
    const char *r = hdr(wsi, WSI_TOKEN_HTTP_X_REAL_IP, xri, sizeof xri);
    lim_client_addr(&peer, s->opt.trusted, s->opt.ntrusted, f, r, out);
    return 0;
}

static int on_filter(srv *s, ws_sess *ss, struct lws *wsi)
{
    char uri[HDR_MAX], origin[HDR_MAX], host[HDR_MAX];
    /* the contract: only GET /ws upgrades; a WebSocket on any other path
     * would bypass what a proxy in front does for /ws only */
    const char *path = hdr(wsi, WSI_TOKEN_GET_URI, uri, sizeof uri);
    if (!path || strcmp(path, "/ws") != 0) {
        s->stats.refused_path++;
        return refuse_handshake(wsi, 404, "WebSockets are served at /ws only");
    }
    if (s->draining || s->stats.conns_now >= (uint64_t)s->opt.max_conns) {
        s->stats.conns_refused++;
        return refuse_handshake(wsi, 503, s->draining ? "restarting: try again"
                                                         : "server full: try again later");
    }
    /* Cross-site WebSocket hijacking: a page elsewhere must not drive a
     * player's browser here. No Origin at all is a non-browser client. */
    const char *o = NULL;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0 &&
        !(o = hdr(wsi, WSI_TOKEN_ORIGIN, origin, sizeof origin)))
        o = "";   /* present but too long: no allowed origin is that long */
    if (!lim_origin_allowed(o, hdr(wsi, WSI_TOKEN_HOST, host, sizeof host), s->opt.origins,
                            s->opt.norigins)) {
        s->stats.refused_origin++;
        return refuse_handshake(wsi, 403, "Origin not allowed");
    }
    lim_addr a;
    if (client_addr(s, wsi, &a) != 0)
        return refuse_handshake(wsi, 503, "cannot read the peer address");
    lim_ip *ip = lim_ip_get(&s->ips, &a, s->opt.ip_rate_limit, srv_now_ms(s));
    if (!ip) {
        s->stats.conns_refused++;
        return refuse_handshake(wsi, 503, "out of memory");
    }
    if (s->opt.max_conns_per_ip > 0 && ip->conns >= (unsigned)s->opt.max_conns_per_ip) {
        s->stats.refused_ip++;
        return refuse_handshake(wsi, 429, "too many connections from this address");
    }
    /* ESTABLISHED follows within this same lws call: the count is taken
     * there, once the session is really in */
    ss->ip = ip;
    return 0;
}

/* Take a connection in; on any failure nothing is counted or listed, so
 * CLOSED has nothing to undo (issue 8, section 7: conns_now underflowed). */
static int on_established(srv *s, ws_sess *ss, struct lws *wsi)
{
    lim_ip *ip = ss->ip;
    memset(ss, 0, sizeof(*ss));
    ss->wsi = wsi;
    ss->srv = s;
    ss->last_rx_ms = srv_now_ms(s);
    lim_bucket_init(&ss->bucket, s->opt.rate_limit, ss->last_rx_ms);
    ws_msg_init(&ss->rx);
    ss->gc = fault_conn_open() ? NULL : gm_conn_open(s->gm, ss);
    if (!ss->gc) {
        s->stats.open_failed++;
        log_limited(&ll_refused, LOG_ERROR, "out of memory taking a connection in");
        lws_close_reason(wsi, (enum lws_close_status)CLOSE_INTERNAL,
                         (unsigned char *)"internal error", 14);
        ss->wsi = NULL;
        return -1;
    }
    ss->listed = 1;
    ss->state = SESS_WELCOME;
    DL_APPEND(s->sessions, ss);
    if (ip) {
        ss->ip = ip;
        ip->conns++;
        ws_sess *head = ip->sessions;
        DL_APPEND2(head, ss, ip_prev, ip_next);
        ip->sessions = head;
    }
    s->stats.conns_now++;
    s->stats.conns_total++;
    srv_send(s, ss, s->welcome);
    return 0;
}

static void on_closed(srv *s, ws_sess *ss)
{
    if (!ss->listed)
        return;   /* refused, or never taken in: nothing was counted */
    if (ss->gc)
        gm_conn_close(s->gm, ss->gc);
    ss->gc = NULL;
    ss->wsi = NULL;
    ss->listed = 0;
    srv_out_forget(ss);
    srv_out_clear(ss);
    ws_msg_reset(&ss->rx);
    DL_DELETE(s->sessions, ss);
    if (ss->ip) {
        ws_sess *head = ss->ip->sessions;
        DL_DELETE2(head, ss, ip_prev, ip_next);
        ss->ip->sessions = head;
        ss->ip->conns--;   /* the entry stays until its bucket refills (lim_table_sweep) */
        ss->ip = NULL;
    }
    s->stats.conns_now--;
    if (s->draining && !s->sessions && s->drain_done) {
        void (*done)(void *) = s->drain_done;
        s->drain_done = NULL;
        uv_timer_stop(&s->drain_timer);
        done(s->drain_ud);
    }
}

/* ---- the ws protocol callback -------------------------------------------------------- */

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                       void *in, size_t len)
{
    srv *s = lws_context_user(lws_get_context(wsi));
    ws_sess *ss = user;

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return on_filter(s, ss, wsi);

    case LWS_CALLBACK_ESTABLISHED:
        return on_established(s, ss, wsi);

    case LWS_CALLBACK_RECEIVE:
        return srv_in_receive(s, ss, in, len);

    case LWS_CALLBACK_RECEIVE_PONG:
        ss->last_rx_ms = srv_now_ms(s);
        ss->ping_out = 0;
        return 0;

    case LWS_CALLBACK_SERVER_WRITEABLE:
        return srv_out_writeable(s, ss);

    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        return srv_in_peer_close(s, ss, in, len);

    case LWS_CALLBACK_WS_SERVER_DROP_PROTOCOL:
        srv_out_on_drop(ss, wsi);
        return 0;

    case LWS_CALLBACK_CLOSED:
        on_closed(s, ss);
        return 0;

    default:
        /* without this, a keep-alive HTTP connection bound to this protocol
         * (the "default" pvo) hangs on its second request: docs/libraries.md,
         * "HTTP next to the WebSocket" */
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static int http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    /* the http_server rides on the protocol, not on the srv: lws reports
     * CLOSED_HTTP from the second, post-loop context destroy, after the srv
     * is gone (main frees the http_server after that) */
    const struct lws_protocols *p = lws_get_protocol(wsi);
    return http_callback(p ? p->user : NULL, wsi, (int)reason, user, in, len);
}

/* ---- keepalive --------------------------------------------------------------------- */

static void on_keepalive(uv_timer_t *t)
{
    srv *s = t->data;
    int64_t now = srv_now_ms(s);
    lim_table_sweep(&s->ips, s->opt.ip_rate_limit, now);
    ws_sess *ss, *tmp;
    DL_FOREACH_SAFE(s->sessions, ss, tmp) {
        int64_t quiet = now - ss->last_rx_ms;
        if (quiet >= s->opt.ping_timeout_ms) {
            if (ss->state >= SESS_CLOSING)
                continue;
            s->stats.ping_timeouts++;
            log_debug("closing a connection silent for %lld ms", (long long)quiet);
            /* a close frame if the socket still takes data, and a hard
             * timeout behind it for a peer that stopped reading too */
            srv_out_clear(ss);
            srv_out_close(ss, CLOSE_GOING_AWAY);
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
    DL_FOREACH(s->sessions, ss) srv_out_close(ss, CLOSE_RESTART);
    uv_timer_start(&s->drain_timer, on_drain_timeout, (uint64_t)timeout_ms, 0);
}

static void lws_log_emit(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    /* lws logs many peer faults (bad frames, refused handshakes) at error
     * or warning level: a peer must not be able to fill the log with them */
    if (level & LLL_ERR)
        log_limited(&ll_lws_err, LOG_ERROR, "lws: %.*s", (int)n, line);
    else if (level & LLL_WARN)
        log_limited(&ll_lws_warn, LOG_WARN, "lws: %.*s", (int)n, line);
    else
        log_debug("lws: %.*s", (int)n, line);
}

static void on_flush_prepare(uv_prepare_t *h)
{
    srv_out_flush(h->data);
}

static void on_flush_check(uv_check_t *h)
{
    srv_out_flush(h->data);
}

static const struct lws_protocol_vhost_options pvo_default = {NULL, NULL, "default", ""};
static const struct lws_protocol_vhost_options pvo_ttt = {NULL, &pvo_default, "ttt", ""};

srv *srv_new(uv_loop_t *loop, const srv_options *opt, gm *g, char *err, size_t errlen)
{
    srv *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->loop = loop;
    s->opt = *opt;
    s->gm = g;
    size_t wlen = 0;
    s->welcome = msg_wrap(proto_encode_welcome(opt->instance, MSG_HEADROOM, &wlen), &wlen);
    if (!s->welcome) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }

    static struct lws_protocols protocols[3];
    protocols[0] = (struct lws_protocols){"http", http_cb, 0, 0, 0, opt->http, 0};
    protocols[0].per_session_data_size = http_session_size();
    protocols[0].tx_packet_size = http_tx_packet_size();
    /* rx_buffer_size is lws' per-connection receive chunk, not a message
     * limit (docs/libraries.md, "Receive"): it is allocated for every connection, so it is kept
     * small and larger messages are reassembled in srv_in_receive() */
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
    /* lws sizes a table by this; the process limit may be far larger
     * (docs/libraries.md, "Capacity") */
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
    /* the frames held in a loop turn go out at its end (srv_out.c): after
     * the timer and idle callbacks (the manager's replies) and after the I/O
     * callbacks. Unref'd: they must not keep the loop running. */
    uv_prepare_init(loop, &s->flush_prep);
    uv_check_init(loop, &s->flush_check);
    s->flush_prep.data = s->flush_check.data = s;
    uv_prepare_start(&s->flush_prep, on_flush_prepare);
    uv_check_start(&s->flush_check, on_flush_check);
    uv_unref((uv_handle_t *)&s->flush_prep);
    uv_unref((uv_handle_t *)&s->flush_check);
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
    lim_table_free(&s->ips);
    free(s);
    return NULL;
}

static void on_timer_closed(uv_handle_t *h)
{
    srv *s = h->data;
    if (--s->closing_handles == 0) {
        /* frames sent while lws was shutting down: their sessions are gone,
         * so only the frames are let go */
        for (unsigned i = 0; i < s->npend; i++)
            msg_unref(s->pend[i].m);
        lim_table_free(&s->ips);
        msg_unref(s->welcome);
        free(s);
    }
}

void srv_release_sessions(srv *s)
{
    ws_sess *ss;
    DL_FOREACH(s->sessions, ss) {
        if (ss->gc) {
            gm_conn_close(s->gm, ss->gc);
            ss->gc = NULL;
        }
    }
    /* frames held for sessions that lws is about to drop go nowhere */
    for (unsigned i = 0; i < s->npend; i++)
        if (s->pend[i].ss)
            srv_out_forget(s->pend[i].ss);
    s->npend = 0;
}

struct lws_context *srv_free(srv *s)
{
    struct lws_context *ctx = s->ctx;
    srv_release_sessions(s);
    lws_context_destroy(ctx);
    s->ctx = NULL;
    s->closing_handles = 4;
    uv_close((uv_handle_t *)&s->keepalive, on_timer_closed);
    uv_close((uv_handle_t *)&s->drain_timer, on_timer_closed);
    uv_close((uv_handle_t *)&s->flush_prep, on_timer_closed);
    uv_close((uv_handle_t *)&s->flush_check, on_timer_closed);
    return ctx;
}

void srv_context_finish(struct lws_context *ctx)
{
    if (ctx)
        lws_context_destroy(ctx);
}

