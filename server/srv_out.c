/* srv_out.c -- frames out to WebSocket clients (srv_int.h).
 *
 * A frame is written at once when nothing of that connection is queued and
 * lws holds no partial leftover of it; otherwise it waits in the session's
 * ring and goes out from WRITEABLE, one per callback, as lws requires. Close
 * frames are written here by hand, because lws 4.1 drops the codes returned
 * from WRITEABLE (shared/NOTES-lws.md). */
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
        srv_out_close(ss, CLOSE_POLICY);
        return;
    }
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
