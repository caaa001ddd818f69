/* srv_out.c -- frames out to WebSocket clients (srv_int.h).
 *
 * A frame for a connection with nothing queued is held until the end of the
 * loop turn and then written directly, together with the other frames that
 * connection got in the same turn (one send for joined + state); otherwise,
 * or when lws holds a partial leftover, it waits in the session's ring and
 * goes out from WRITEABLE, one per callback, as lws requires. Close frames
 * are written here by hand, because lws 4.1 drops the codes returned from
 * WRITEABLE (docs/libraries.md, "Close codes and SIGTERM shutdown"). */
#include "srv_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"

#define QUEUE_MAX 256          /* frames queued for one client before it counts as stuck */

static log_limit ll_drop;      /* peers cause these at will: a line a second */

void srv_out_clear(ws_sess *ss)
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

void srv_out_close(ws_sess *ss, uint16_t code)
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
    srv_out_close(conn_ud, CLOSE_INTERNAL);
}

/* The queue path: WRITEABLE writes it, one frame per callback. */
static void send_queued(srv *s, ws_sess *ss, msg *m)
{
    int qr = queue_push(ss, m);
    if (qr == -2) {
        /* no memory for the queue: the frame is lost, so the client must
         * not go on as if it had it; it reconnects and resumes */
        s->stats.open_failed++;
        srv_out_clear(ss);
        srv_out_close(ss, CLOSE_INTERNAL);
        return;
    }
    if (qr != 0) {
        /* a client that reads nothing while we queue hundreds of frames is
         * stuck or hostile; holding its backlog would let it grow our memory */
        s->stats.slow_closed++;
        log_info("closing a client that stopped reading (%u frames queued)", ss->qlen);
        srv_out_clear(ss);
        srv_out_close(ss, CLOSE_POLICY);
        return;
    }
    lws_callback_on_writable(ss->wsi);
}

/* Nothing of ours queued and nothing left over inside lws: a frame may be
 * written now. Waiting for WRITEABLE instead costs two epoll_ctl calls per
 * frame (arm POLLOUT, disarm it), which profiling showed to be a third of
 * the server's CPU per move. lws 4.1 buffers a partial send itself and
 * finishes it on POLLOUT; while it holds such a leftover
 * (lws_partial_buffered) every frame takes the queue, because a second write
 * on top of a leftover reports a short count in 4.1. The welcome (sent from
 * ESTABLISHED) and closes always take the queue. */
static int can_write_now(const ws_sess *ss)
{
    return !ss->qlen && ss->state == SESS_OPEN && !lws_partial_buffered(ss->wsi);
}

/* The header of an unmasked text frame of len < 64 KiB (server frames are
 * not masked): 0x81, then the length in 1 or 3 bytes. Into h (4 bytes);
 * its length. */
static size_t frame_header(unsigned char *h, uint32_t len)
{
    h[0] = 0x81;
    if (len < 126) {
        h[1] = (unsigned char)len;
        return 2;
    }
    h[1] = 126;
    h[2] = (unsigned char)(len >> 8);
    h[3] = (unsigned char)len;
    return 4;
}

static void count_out(srv *s, uint32_t len)
{
    s->stats.msgs_out++;
    s->stats.bytes_out += len;
}

/* One frame, framed here in front of the text, in the msg's LWS_PRE room
 * (the same bytes for every receiver of a shared msg), and written as
 * LWS_WRITE_RAW, as write_many does: lws' own framing of LWS_WRITE_TEXT
 * cost about 300 instructions more per frame, two frames per move. A frame
 * of 64 KiB or more (none of ours is) is left to lws. */
static void write_one(srv *s, ws_sess *ss, msg *m)
{
    uint32_t len = m->len;
    int n, want;
    if (len <= 0xffff) {
        unsigned char hdr[4];
        size_t hl = frame_header(hdr, len);
        unsigned char *h = msg_data(m) - hl;
        memcpy(h, hdr, hl);
        want = (int)(hl + len);
        n = lws_write(ss->wsi, h, (size_t)want, LWS_WRITE_RAW);
    } else {
        want = (int)len;
        n = lws_write(ss->wsi, msg_data(m), len, LWS_WRITE_TEXT);
    }
    if (n >= want) {
        count_out(s, len);
        return;
    }
    /* a failed write: lws is closing it; CLOSED cleans up */
    srv_out_close(ss, CLOSE_POLICY);
}

/* Several frames of one session in one send: each framed here
 * (frame_header) and handed to lws as LWS_WRITE_RAW, which lws sends as it is and buffers itself if the
 * socket takes only part (ops-ws.c, send_raw). m[] are consumed. */
static void write_many(srv *s, ws_sess *ss, msg **m, unsigned n)
{
    size_t total = 0;
    for (unsigned i = 0; i < n; i++)
        total += 4 + m[i]->len;
    if (total > sizeof s->out - LWS_PRE) {
        for (unsigned i = 0; i < n; i++)   /* rare: a burst of long frames */
            if (ss->state == SESS_OPEN)
                write_one(s, ss, m[i]);
        return;
    }
    unsigned char *p = s->out + LWS_PRE;
    for (unsigned i = 0; i < n; i++) {
        uint32_t len = m[i]->len;
        p += frame_header(p, len);
        memcpy(p, msg_data(m[i]), len);
        p += len;
    }
    size_t bytes = (size_t)(p - (s->out + LWS_PRE));
    int w = lws_write(ss->wsi, s->out + LWS_PRE, bytes, LWS_WRITE_RAW);
    if (w < (int)bytes) {
        srv_out_close(ss, CLOSE_POLICY);
        return;
    }
    for (unsigned i = 0; i < n; i++)
        count_out(s, m[i]->len);
}

/* ---- frames held until the end of the loop turn ----------------------------------- *
 *
 * A frame that could be written now is held in s->pend instead, and every
 * held frame goes out when the loop turn's callbacks are done (srv_out_flush,
 * from a prepare and a check handle): a session that got one frame in this
 * turn gets one send as before, and one that got several (joined + state)
 * gets them in a single send. ss->pend counts a session's held frames; its
 * frames keep their order, and they always go before anything it queues. */

/* ss's held frames into the queue, in order (the path for when they can no
 * longer be written at once). */
static void unpend(srv *s, ws_sess *ss)
{
    for (unsigned i = 0; i < s->npend && ss->pend; i++) {
        if (s->pend[i].ss != ss)
            continue;
        msg *m = s->pend[i].m;
        s->pend[i].ss = NULL;
        s->pend[i].m = NULL;
        ss->pend--;
        if (ss->state < SESS_CLOSED && ss->wsi)
            send_queued(s, ss, m);
        msg_unref(m);
    }
    ss->pend = 0;
}

/* Write ss's held frames, found from index i on. */
static void flush_sess(srv *s, ws_sess *ss, unsigned i)
{
    msg *m[SRV_PEND_GROUP];
    unsigned n = 0;
    if (!can_write_now(ss)) {
        unpend(s, ss);
        return;
    }
    for (; i < s->npend && ss->pend; i++) {
        if (s->pend[i].ss != ss)
            continue;
        m[n++] = s->pend[i].m;
        s->pend[i].ss = NULL;
        s->pend[i].m = NULL;
        ss->pend--;
        if (n == SRV_PEND_GROUP)
            break;
    }
    if (n == 1)
        write_one(s, ss, m[0]);
    else
        write_many(s, ss, m, n);
    for (unsigned k = 0; k < n; k++)
        msg_unref(m[k]);
    if (ss->pend)   /* more than a group's worth: the next group */
        flush_sess(s, ss, i);
}

void srv_out_flush(srv *s)
{
    for (unsigned i = 0; i < s->npend; i++)
        if (s->pend[i].ss)
            flush_sess(s, s->pend[i].ss, i);
    s->npend = 0;
}

void srv_out_flush_sess(ws_sess *ss)
{
    if (ss->pend)
        flush_sess(ss->srv, ss, 0);
}

void srv_out_forget(ws_sess *ss)
{
    srv *s = ss->srv;
    for (unsigned i = 0; i < s->npend && ss->pend; i++) {
        if (s->pend[i].ss != ss)
            continue;
        msg_unref(s->pend[i].m);
        s->pend[i].ss = NULL;
        s->pend[i].m = NULL;
        ss->pend--;
    }
    ss->pend = 0;
}

void srv_send(void *srv_ud, void *conn_ud, msg *m)
{
    srv *s = srv_ud;
    ws_sess *ss = conn_ud;
    /* a restart close waits for the replies to requests already accepted;
     * any other close drops what is queued */
    if (ss->state >= SESS_CLOSING && ss->close_code != CLOSE_RESTART)
        return;
    /* lws' partial leftover is checked at the flush, once per session */
    if (!ss->qlen && ss->state == SESS_OPEN && ss->pend < UINT8_MAX) {
        if (s->npend == SRV_PEND_MAX)
            srv_out_flush(s);
        s->pend[s->npend].ss = ss;
        s->pend[s->npend].m = msg_ref(m);
        s->npend++;
        ss->pend++;
        return;
    }
    if (ss->pend)
        unpend(s, ss);   /* what was held goes first */
    send_queued(s, ss, m);
}

void srv_out_block(ws_sess *ss, char *block, const size_t *len)
{
    msg *m = msg_wrap(block, len);
    if (m)
        srv_send(ss->srv, ss, m);
    else
        /* a reply we could not build: the client would wait for it forever,
         * so it is told to come back instead */
        srv_out_close(ss, CLOSE_INTERNAL);
    msg_unref(m);
}

/* lws 4.1 sends a close code reliably only when we write the close frame
 * ourselves: payload = 2-byte big-endian code + reason, opcode 4 (its
 * internal LWS_WRITE_CLOSE). See docs/libraries.md, "Close codes and SIGTERM shutdown". */
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
void srv_out_on_drop(ws_sess *ss, struct lws *wsi)
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
        log_limited(&ll_drop, LOG_INFO, "connection dropped by lws (a frame it refuses): "
                    "sent 1002");
    }
}

int srv_out_writeable(srv *s, ws_sess *ss)
{
    if (ss->pend)
        unpend(s, ss);   /* held frames go before a close frame or a ping */
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
