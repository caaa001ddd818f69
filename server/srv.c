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
 * (see shared/NOTES-lws.md), and the handshake policy: only /ws, the Origin
 * check, and the connection limits (overall and per client address), each
 * refusal answered with an HTTP status. What lws 4.1 cannot be made to do
 * (refuse unmasked frames) is in docs/protocol.md, with the 1002 we write
 * ourselves when lws drops a connection without a close frame. */
#include <uv.h>   /* before libwebsockets.h: its uv prototypes need UV_ERRNO_MAP */

#include <libwebsockets.h>

#include "srv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <utlist.h>

#include "lim.h"
#include "log.h"
#include "proto.h"
#include "ws_msg.h"

_Static_assert(MSG_LWS_PRE == LWS_PRE, "msg.h's LWS_PRE copy must match libwebsockets");

#define RX_CHUNK 512           /* lws' per-connection receive buffer, bytes */
#define QUEUE_MAX 256          /* frames queued for one client before it counts as stuck */
#define CLOSE_GOING_AWAY 1001
#define CLOSE_TOO_BIG 1009
#define CLOSE_RESTART 1012
#define CLOSE_POLICY 1008
#define CLOSE_UNSUPPORTED 1003
#define CLOSE_PROTOCOL 1002
#define CLOSE_BAD_DATA 1007
#define CLOSE_INTERNAL 1011
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
static log_limit ll_refused, ll_protocol, ll_lws_err, ll_lws_warn;

/* A session's life, in order; it only moves forward:
 *  HANDSHAKE  the handshake filter ran (ss->ip may be set), not taken in yet
 *  WELCOME    taken in (listed, counted); the welcome is queued
 *  OPEN       the welcome went out: frames may be written directly
 *  CLOSING    a close code is chosen (close_code); queued replies go first,
 *             then the close frame from WRITEABLE
 *  CLOSED     a close frame went out, or the peer's was echoed: nothing more
 *             is sent or answered
 * `listed` is apart from it: whether CLOSED has counts to undo (a connection
 * refused at ESTABLISHED goes to CLOSING without ever being listed). */
typedef enum sess_state {
    SESS_HANDSHAKE = 0, SESS_WELCOME, SESS_OPEN, SESS_CLOSING, SESS_CLOSED
} sess_state;

typedef struct ws_sess {
    struct lws *wsi;
    srv *srv;
    gm_conn *gc;
    struct ws_sess *prev, *next;   /* every open session: drain and keepalive walk it */
    struct ws_sess *ip_prev, *ip_next;   /* the sessions of the same client address */
    lim_ip *ip;                    /* set at the handshake filter, counted once listed */
    msg **q;                       /* ring of queued frames, allocated on first use */
    uint16_t qhead, qlen, qcap;
    sess_state state;
    uint16_t close_code;           /* the close frame's code, from CLOSING on */
    ws_msg rx;                     /* a message arriving in pieces */
    uint8_t ping_due, ping_out;
    uint8_t listed;                /* on s->sessions and counted: CLOSED undoes it */
    lim_bucket bucket;             /* the per-connection rate limit */
    int64_t last_rx_ms;
} ws_sess;

struct srv {
    uv_loop_t *loop;
    struct lws_context *ctx;
    srv_options opt;
    gm *gm;
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
    lim_table ips;               /* client addresses with connections (or a drained bucket) */
    char host_buf[128];
};

struct lws_context *srv_lws_context(const srv *s) { return s->ctx; }
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

/* 0, -1 when the client has QUEUE_MAX frames waiting, -2 out of memory */
static int queue_push(ws_sess *ss, msg *m)
{
    if (ss->qlen == ss->qcap) {
        uint16_t cap = ss->qcap ? (uint16_t)(ss->qcap * 2) : 4;
        if (cap > QUEUE_MAX)
            return -1;
        msg **q = malloc(cap * sizeof(*q));
        if (!q)
            return -2;
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
    if (!ss->wsi)
        return;
    if (ss->state < SESS_CLOSING) {
        ss->close_code = code;
        ss->state = SESS_CLOSING;
    }
    lws_callback_on_writable(ss->wsi);
}

void srv_close_conn(void *srv_ud, void *conn_ud)
{
    (void)srv_ud;
    sess_close_with(conn_ud, CLOSE_INTERNAL);
}

void srv_send(void *srv_ud, void *conn_ud, msg *m)
{
    srv *s = srv_ud;
    ws_sess *ss = conn_ud;
    /* a restart close waits for the replies to requests already accepted;
     * any other close drops what is queued */
    if (ss->state >= SESS_CLOSING && ss->close_code != CLOSE_RESTART)
        return;
    /* Fast path: nothing of ours queued and nothing left over inside lws,
     * so write now. Waiting for WRITEABLE instead costs two epoll_ctl calls
     * per frame (arm POLLOUT, disarm it), which profiling showed to be a
     * third of the server's CPU per move. lws 4.1 buffers a partial send
     * itself and finishes it on POLLOUT; while it holds such a leftover
     * (lws_partial_buffered) every frame takes the queue, because a second
     * write on top of a leftover reports a short count in 4.1. The welcome
     * (sent from ESTABLISHED) and closes always take the queue. */
    if (!ss->qlen && ss->state == SESS_OPEN && !lws_partial_buffered(ss->wsi)) {
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
    int qr = queue_push(ss, m);
    if (qr == -2) {
        /* no memory for the queue: the frame is lost, so the client must
         * not go on as if it had it; it reconnects and resumes */
        s->stats.open_failed++;
        queue_clear(ss);
        sess_close_with(ss, CLOSE_INTERNAL);
        return;
    }
    if (qr != 0) {
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

static void sess_close_with(ws_sess *ss, uint16_t code);

static void send_block(ws_sess *ss, char *block, const size_t *len)
{
    msg *m = msg_wrap(block, len);
    if (m)
        srv_send(ss->srv, ss, m);
    else
        /* a reply we could not build: the client would wait for it forever,
         * so it is told to come back instead */
        sess_close_with(ss, CLOSE_INTERNAL);
    msg_unref(m);
}

/* lws 4.1 sends a close code reliably only when we write the close frame
 * ourselves: payload = 2-byte big-endian code + reason, opcode 4 (its
 * internal LWS_WRITE_CLOSE). See NOTES-lws.md, "SIGTERM shutdown". */
static void write_close(ws_sess *ss)
{
    static const char *const reasons[] = {"", "server restart", "message too big",
                                          "too slow", "text frames only",
                                          "no answer to ping", "internal error"};
    const char *reason = ss->close_code == CLOSE_RESTART ? reasons[1]
                         : ss->close_code == CLOSE_TOO_BIG ? reasons[2]
                         : ss->close_code == CLOSE_POLICY ? reasons[3]
                         : ss->close_code == CLOSE_UNSUPPORTED ? reasons[4]
                         : ss->close_code == CLOSE_GOING_AWAY ? reasons[5]
                         : ss->close_code == CLOSE_INTERNAL ? reasons[6] : reasons[0];
    unsigned char buf[LWS_PRE + 2 + 64];
    size_t rl = strlen(reason);
    buf[LWS_PRE] = (unsigned char)(ss->close_code >> 8);
    buf[LWS_PRE + 1] = (unsigned char)(ss->close_code & 0xff);
    memcpy(buf + LWS_PRE + 2, reason, rl);
    lws_write(ss->wsi, buf + LWS_PRE, 2 + rl, (enum lws_write_protocol)4);
    ss->state = SESS_CLOSED;
}

/* lws 4.1 drops some connections without any close frame: a control frame
 * over 125 bytes or a 64-bit length with the top bit set (ops-ws.c,
 * illegal_ctl_length: no close reason, no callback), and its own timeouts.
 * WS_SERVER_DROP_PROTOCOL comes before lws shuts the socket down, so the
 * close frame that should have gone out is written here: the code we meant
 * to send (1001 after a ping timeout, 1012 on shutdown), else 1002. Only
 * when nothing is half-written on the socket and no close went either way;
 * for a peer that is gone the write fails, which costs nothing. */
static void close_frame_on_drop(ws_sess *ss, struct lws *wsi)
{
    if (!ss->listed || ss->state == SESS_CLOSED || lws_get_close_length(wsi) > 0 ||
        lws_partial_buffered(wsi))
        return;
    int fd = (int)lws_get_socket_fd(wsi);
    char c;
    ssize_t peek = fd >= 0 ? recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) : 0;
    if (peek == 0 || (peek < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
        return;   /* the peer closed or reset: nobody to tell, and not its fault */
    unsigned code = ss->close_code ? ss->close_code : CLOSE_PROTOCOL;
    unsigned char f[4] = {0x88, 2, (unsigned char)(code >> 8), (unsigned char)(code & 0xff)};
    ssize_t w = send(fd, f, sizeof f, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w;
    ss->state = SESS_CLOSED;
    if (code == CLOSE_PROTOCOL) {
        ss->srv->stats.protocol_errors++;
        log_limited(&ll_protocol, LOG_INFO, "connection dropped by lws (a frame it refuses): "
                    "sent 1002");
    }
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
        if (ss->qlen || ss->state == SESS_CLOSING)
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
        if (ss->state == SESS_WELCOME)
            ss->state = SESS_OPEN;
        if (short_write)
            return -1;
        if (ss->qlen || ss->state == SESS_CLOSING)
            lws_callback_on_writable(ss->wsi);
        else if (ss->qcap > 16) {
            /* a burst grew the ring; give the memory back once it drained */
            free(ss->q);
            ss->q = NULL;
            ss->qcap = ss->qhead = 0;
        }
        return 0;
    }
    if (ss->state == SESS_CLOSING) {
        if (ss->close_code == CLOSE_RESTART && ss->gc && gm_conn_busy(ss->gc) &&
            !s->drain_expired)
            return 0;   /* a reply is still coming; the drain tick asks again */
        write_close(ss);
        return -1;
    }
    return 0;
}

/* ---- input -------------------------------------------------------------------- */

/* 0: within the limits; else which bucket ran dry (1 connection, 2 address) */
static int rate_check(srv *s, ws_sess *ss)
{
    int64_t now = now_ms(s);
    if (!lim_bucket_take(&ss->bucket, s->opt.rate_limit, now))
        return 1;
    if (ss->ip && !lim_bucket_take(&ss->ip->bucket, s->opt.ip_rate_limit, now))
        return 2;
    return 0;
}

static void refuse_request(srv *s, ws_sess *ss, const proto_id *id, proto_err e,
                           const char *text)
{
    size_t olen = 0;
    s->stats.errors[e]++;
    log_debug("request refused: %s", text ? text : proto_err_name(e));
    send_block(ss, proto_encode_error(id, e, text, MSG_HEADROOM, &olen), &olen);
}

/* The caps on what one connection (and one address) may hold. The contract
 * has no code of its own for "too many": rate_limited is the nearest (try
 * again later, once a game has ended), with a message that says which cap. */
static int over_caps(srv *s, ws_sess *ss, const proto_req *req)
{
    int opens = req->type == PROTO_QUICK || (req->type == PROTO_CREATE && !req->vs_computer);
    if (!ss->gc || (req->type != PROTO_WATCH && !opens))
        return 0;
    unsigned watching, waiting;
    gm_conn_holdings(ss->gc, &watching, &waiting);
    if (req->type == PROTO_WATCH) {
        if (s->opt.max_watch > 0 && watching >= (unsigned)s->opt.max_watch) {
            s->stats.watch_capped++;
            refuse_request(s, ss, &req->id, PROTO_ERATE_LIMITED,
                           "too many games watched on this connection");
            return 1;
        }
        return 0;
    }
    if (s->opt.max_waiting > 0 && waiting >= (unsigned)s->opt.max_waiting) {
        s->stats.waiting_capped++;
        refuse_request(s, ss, &req->id, PROTO_ERATE_LIMITED,
                       "too many games waiting for an opponent on this connection");
        return 1;
    }
    if (s->opt.max_waiting_per_ip > 0 && ss->ip) {
        /* O(connections of this address): bounded by --max-connections-per-ip */
        unsigned total = 0;
        for (ws_sess *o = ss->ip->sessions; o; o = o->ip_next) {
            if (!o->gc)
                continue;
            unsigned w, n;
            gm_conn_holdings(o->gc, &w, &n);
            total += n;
        }
        if (total >= (unsigned)s->opt.max_waiting_per_ip) {
            s->stats.waiting_capped++;
            refuse_request(s, ss, &req->id, PROTO_ERATE_LIMITED,
                           "too many games waiting for an opponent from this address");
            return 1;
        }
    }
    return 0;
}

static void handle_message(srv *s, ws_sess *ss, const char *buf, size_t len)
{
    proto_req req;
    s->stats.msgs_in++;
    s->stats.bytes_in += len;
    if (ss->state == SESS_CLOSED ||
        (ss->state == SESS_CLOSING && ss->close_code != CLOSE_RESTART))
        return;   /* closing: nothing more is answered */
    proto_err e = proto_parse(buf, len, &req);
    if (e == PROTO_OK && s->draining) {
        /* accepted requests finish; new ones go to the process the client
         * reconnects to */
        refuse_request(s, ss, &req.id, PROTO_EUNAVAILABLE,
                       "this server is restarting: reconnect and resume");
        return;
    }
    /* a malformed message costs a token too: junk must not be free */
    int limited = rate_check(s, ss);
    if (limited) {
        s->stats.rate_limited++;
        if (limited == 2)
            s->stats.ip_rate_limited++;
        e = PROTO_ERATE_LIMITED;
    }
    if (e != PROTO_OK) {
        if (e != PROTO_ERATE_LIMITED)
            s->stats.bad_input++;
        refuse_request(s, ss, &req.id, e, NULL);
        return;
    }
    if (over_caps(s, ss, &req))
        return;
    log_debug("request %s game %lld", proto_type_name(req.type), (long long)req.game_id);
    gm_request(s->gm, ss->gc, &req);
}

/* Close from RECEIVE with a code: lws sends the frame once we return -1
 * (NOTES-lws.md: lws_close_reason, then a non-zero return). */
static int close_now(ws_sess *ss, uint16_t code, const char *reason)
{
    ws_msg_reset(&ss->rx);
    ss->state = SESS_CLOSED;
    lws_close_reason(ss->wsi, (enum lws_close_status)code, (unsigned char *)reason,
                     strlen(reason));
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
    const char *m;
    size_t mlen;
    switch (ws_msg_feed(&ss->rx, in, len, lws_is_first_fragment(ss->wsi),
                        lws_is_final_fragment(ss->wsi), lws_remaining_packet_payload(ss->wsi),
                        &m, &mlen)) {
    case WS_MSG_MORE:
        return 0;
    case WS_MSG_TOO_BIG:
        s->stats.too_big++;
        return close_now(ss, CLOSE_TOO_BIG, "message too big");
    case WS_MSG_NOMEM:
        s->stats.open_failed++;
        return close_now(ss, CLOSE_INTERNAL, "internal error");
    case WS_MSG_DONE:
        break;
    default:
        return -1;
    }
    /* RFC 6455 8.1: a text message that is not UTF-8 fails the connection */
    if (!ws_utf8_valid(m, mlen)) {
        s->stats.bad_utf8++;
        log_limited(&ll_protocol, LOG_INFO, "closing a connection with 1007: "
                    "a text message that is not UTF-8");
        return close_now(ss, CLOSE_BAD_DATA, "invalid UTF-8");
    }
    handle_message(s, ss, m, mlen);
    ws_msg_done(&ss->rx);
    return 0;
}

/* RFC 6455 7.4: the codes a peer may send; 1005, 1006 and 1015 never go on
 * the wire, and above 4999 nothing is defined. */
static int close_code_valid(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

/* The peer's close frame, before lws echoes it. lws 4.1 already rewrites
 * some invalid codes to 1002 in the echo, but echoes codes above 4999 and
 * answers a 1-byte payload with an empty close: those get 1002 here, and a
 * reason that is not UTF-8 gets 1007. */
static int on_peer_close(srv *s, ws_sess *ss, const unsigned char *in, size_t len)
{
    const char *why = NULL;
    uint16_t code = CLOSE_PROTOCOL;
    if (len == 1)
        why = "a 1-byte close payload";
    else if (len >= 2 && !close_code_valid(((unsigned)in[0] << 8) | in[1]))
        why = "an invalid close code";
    else if (len > 2 && !ws_utf8_valid((const char *)in + 2, len - 2)) {
        why = "a close reason that is not UTF-8";
        code = CLOSE_BAD_DATA;
    }
    if (!why) {
        ss->state = SESS_CLOSED;   /* lws echoes it */
        return 0;
    }
    if (code == CLOSE_BAD_DATA)
        s->stats.bad_utf8++;
    else
        s->stats.protocol_errors++;
    log_limited(&ll_protocol, LOG_INFO, "closing a connection with %u: %s", code, why);
    return close_now(ss, code, code == CLOSE_BAD_DATA ? "invalid UTF-8" : "protocol error");
}

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
    lim_ip *ip = lim_ip_get(&s->ips, &a, s->opt.ip_rate_limit, now_ms(s));
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
    ss->last_rx_ms = now_ms(s);
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
    queue_clear(ss);
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
        return on_receive(s, ss, in, len);

    case LWS_CALLBACK_RECEIVE_PONG:
        ss->last_rx_ms = now_ms(s);
        ss->ping_out = 0;
        return 0;

    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(s, ss);

    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        return on_peer_close(s, ss, in, len);

    case LWS_CALLBACK_WS_SERVER_DROP_PROTOCOL:
        close_frame_on_drop(ss, wsi);
        return 0;

    case LWS_CALLBACK_CLOSED:
        on_closed(s, ss);
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
    int64_t now = now_ms(s);
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
    /* lws logs many peer faults (bad frames, refused handshakes) at error
     * or warning level: a peer must not be able to fill the log with them */
    if (level & LLL_ERR)
        log_limited(&ll_lws_err, LOG_ERROR, "lws: %.*s", (int)n, line);
    else if (level & LLL_WARN)
        log_limited(&ll_lws_warn, LOG_WARN, "lws: %.*s", (int)n, line);
    else
        log_debug("lws: %.*s", (int)n, line);
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
    lim_table_free(&s->ips);
    free(s);
    return NULL;
}

static void on_timer_closed(uv_handle_t *h)
{
    srv *s = h->data;
    if (--s->closing_handles == 0) {
        lim_table_free(&s->ips);
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
