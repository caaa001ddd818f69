/* match_net.c -- ttt-match's connections: libwebsockets clients on the
 * libuv loop that ttt-match owns (a foreign loop for lws).
 *
 * Each match_conn is one WebSocket at a time; when it goes down it is
 * reconnected (to the next --url) right away if we closed it on purpose
 * (chaos, recycling, reset), or after a jittered exponential backoff if the
 * server or the network closed it, so that a rolling restart does not bring
 * every bot back in the same instant. The game logic (match_play.c) sees
 * on_open, on_message and on_down only.
 *
 * Frames out: a FIFO of the blocks proto_encode_request returns, encoded
 * with LWS_PRE headroom so they go to lws_write without a copy; one
 * lws_write per WRITEABLE callback, as lws requires. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"
#include <libwebsockets.h>

#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000

/* ---- the send FIFO ------------------------------------------------------ */

static void queue_clear(match_conn *c) {
    while (c->qn > 0) {
        free(c->qbuf[c->qhead]);
        c->qbuf[c->qhead] = NULL;
        c->qhead = (uint8_t)((c->qhead + 1) % MATCH_QLEN);
        c->qn--;
    }
    c->qhead = 0;
}

int match_net_send(match_conn *c, const proto_req *req) {
    size_t len;
    char *b;
    int tail;

    if (c->state != MATCH_C_OPEN || c->qn == MATCH_QLEN)
        return -1;
    if ((b = proto_encode_request(req, LWS_PRE, &len)) == NULL)
        return -1;
    /* Write at once when nothing is queued or half-sent. lws's docs want
     * writes from WRITEABLE only, but on one thread a direct lws_write works
     * (a short write is buffered by lws and finished on POLLOUT, which
     * lws_partial_buffered reports), and it saves the two epoll_ctl calls of
     * arming and disarming POLLOUT per message: a third of ttt-match's CPU
     * at full load. */
    if (c->qn == 0 && !lws_partial_buffered(c->wsi)) {
        int n = lws_write(c->wsi, (unsigned char *)b + LWS_PRE, len, LWS_WRITE_TEXT);
        free(b);
        if (n < (int)len)      /* the socket is broken: the close follows, */
            match_net_close(c, MATCH_W_NONE);   /* and a resume after it */
        return 0;
    }
    tail = (c->qhead + c->qn) % MATCH_QLEN;
    c->qbuf[tail] = b;
    c->qlen[tail] = len;
    c->qn++;
    lws_callback_on_writable(c->wsi);
    return 0;
}

/* Close once what is queued has been written (the chaos "drop right after
 * the move"). */
void match_net_close_after_send(match_conn *c) {
    if (c->qn == 0)
        match_net_close(c, MATCH_W_CHAOS);
    else
        c->drop_after_send = 1;
}

/* ---- connecting and closing --------------------------------------------- */

void match_net_conn_init(match_run *r, match_slot *s, match_conn *c, int idx, int url) {
    memset(c, 0, offsetof(match_conn, rx));
    c->run = r;
    c->slot = s;
    c->idx = (uint8_t)idx;
    c->url = url;
    c->moved_ply = c->chaos_ply = c->ghost_ply = -1;
    uv_timer_init(&r->loop, &c->timer);
    c->timer.data = c;
}

void match_net_connect(match_conn *c) {
    const match_url *u = &c->run->opt.urls[c->url];
    struct lws_client_connect_info i;

    if (c->state != MATCH_C_DOWN || c->dead)
        return;
    memset(&i, 0, sizeof(i));
    i.context = c->run->ctx;
    i.address = u->host;
    i.port = u->port;
    i.path = u->path;
    i.host = u->hostport;
    i.origin = u->origin;
    /* no subprotocol, as a browser: the server binds us to its default */
    i.local_protocol_name = "ttt-match";
    i.opaque_user_data = c;
    i.pwsi = &c->wsi;
    c->state = MATCH_C_CONNECTING;
    c->why = MATCH_W_NONE;
    c->peer_close = 0;
    c->rxlen = 0;
    c->rx_overflow = 0;
    c->drop_after_send = 0;
    if (lws_client_connect_via_info(&i) == NULL && c->state == MATCH_C_CONNECTING) {
        /* refused synchronously without a CONNECTION_ERROR callback */
        c->wsi = NULL;
        c->state = MATCH_C_DOWN;
        c->run->st.connect_fail++;
        match_play_on_down(c, 1);
    }
}

void match_net_reconnect_later(match_conn *c, unsigned delay_ms) {
    if (c->dead)
        return;
    if (c->run->opt.nurls > 1)
        c->url = (c->url + 1) % c->run->opt.nurls;
    c->retry_kind = 0;
    uv_timer_start(&c->timer, match_net_timer_cb, delay_ms, 0);
}

/* Jittered exponential backoff: a uniform delay in [d/2, d], d doubling
 * from BACKOFF_MIN_MS up to BACKOFF_MAX_MS. */
static unsigned backoff_next(match_conn *c) {
    unsigned d;

    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (c->backoff_ms > BACKOFF_MAX_MS)
        c->backoff_ms = BACKOFF_MAX_MS;
    d = c->backoff_ms;
    return d / 2 + (unsigned)match_rng_below(&c->run->rng, d / 2 + 1);
}

void match_net_close(match_conn *c, int why) {
    switch (c->state) {
    case MATCH_C_OPEN:
    case MATCH_C_CONNECTING:
        /* CONNECTING: closed as soon as it opens (ESTABLISHED checks why) */
        c->why = (uint8_t)why;
        if (c->state == MATCH_C_OPEN) {
            c->state = MATCH_C_CLOSING;
            lws_callback_on_writable(c->wsi);
        }
        break;
    case MATCH_C_CLOSING:
        /* keep the stronger reason: a final close must not reconnect */
        if (why == MATCH_W_FINAL)
            c->why = MATCH_W_FINAL;
        break;
    case MATCH_C_DOWN:
        if (why == MATCH_W_FINAL && !c->dead) {
            uv_timer_stop(&c->timer);
            c->dead = 1;
            match_play_conn_dead(c->run);
        }
        break;
    default:
        break;
    }
}

/* The socket is gone, for whatever reason; decide what comes next. */
static void conn_down(match_conn *c, int failed) {
    match_run *r = c->run;
    int why = c->why;

    c->wsi = NULL;
    c->state = MATCH_C_DOWN;
    queue_clear(c);
    c->rxlen = 0;
    if (r->tearing_down)
        return;                  /* lws_context_destroy closing what is left */
    if (failed)
        r->st.connect_fail++;
    else if (why == MATCH_W_NONE) {
        /* lws 4.1's client parser rewrites close codes 1012..1015 (missing
         * from its RFC 6455 list) to 1002 before the callback sees them, so
         * a server restart arrives as 1002. The server never sends 1002 of
         * its own, and both lead to the same reconnect-and-resume. */
        if (c->peer_close == 1012 || c->peer_close == LWS_CLOSE_STATUS_PROTOCOL_ERR)
            r->st.closes_1012++;
        else
            r->st.closes_other++;
    }
    match_play_on_down(c, failed);
    if (why == MATCH_W_FINAL || r->finishing) {
        if (!c->dead) {
            uv_timer_stop(&c->timer);
            c->dead = 1;
            match_play_conn_dead(r);
        }
        return;
    }
    if (why == MATCH_W_NONE)
        match_net_reconnect_later(c, backoff_next(c));
    else
        match_net_reconnect_later(c, 0);
}

void match_net_timer_cb(uv_timer_t *t) {
    match_conn *c = t->data;

    if (c->state == MATCH_C_DOWN)
        match_net_connect(c);
    else if (c->state == MATCH_C_OPEN)
        match_play_on_open(c);   /* a delayed resend: re-evaluate what to send */
}

/* ---- the lws protocol callback ------------------------------------------ */

static int net_callback(struct lws *wsi, enum lws_callback_reasons reason,
                        void *user, void *in, size_t len) {
    match_conn *c = wsi ? lws_get_opaque_user_data(wsi) : NULL;
    (void)user;

    if (c == NULL)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->wsi = wsi;
        if (c->why != MATCH_W_NONE) {   /* asked to close while connecting */
            c->state = MATCH_C_CLOSING;
            lws_callback_on_writable(wsi);
            return 0;
        }
        c->state = MATCH_C_OPEN;
        match_play_on_open(c);
        return 0;

    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (c->state != MATCH_C_OPEN)
            return 0;
        if (lws_is_first_fragment(wsi)) {
            c->rxlen = 0;
            c->rx_overflow = 0;
        }
        if (c->rxlen + len > MATCH_RX_MAX)
            c->rx_overflow = 1;
        else {
            memcpy(c->rx + c->rxlen, in, len);
            c->rxlen += len;
        }
        if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
            c->rx[c->rxlen] = '\0';
            /* an oversized message is handed on empty: it fails to parse,
             * and the play layer counts a violation */
            match_play_on_message(c, c->rx, c->rx_overflow ? 0 : c->rxlen);
            c->rxlen = 0;
        }
        return 0;

    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (c->qn > 0 && c->state != MATCH_C_CLOSING) {
            int h = c->qhead;
            if (lws_write(wsi, (unsigned char *)c->qbuf[h] + LWS_PRE, c->qlen[h],
                          LWS_WRITE_TEXT) < (int)c->qlen[h])
                return -1;
            free(c->qbuf[h]);
            c->qbuf[h] = NULL;
            c->qhead = (uint8_t)((h + 1) % MATCH_QLEN);
            c->qn--;
            if (c->qn > 0) {
                lws_callback_on_writable(wsi);
                return 0;
            }
            if (!c->drop_after_send)
                return 0;
            c->why = MATCH_W_CHAOS;
            c->state = MATCH_C_CLOSING;
        }
        if (c->state == MATCH_C_CLOSING) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
            return -1;
        }
        return 0;

    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (len >= 2)
            c->peer_close = (uint16_t)(((unsigned char *)in)[0] << 8 |
                                       ((unsigned char *)in)[1]);
        return 0;

    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c->run->opt.verbose)
            fprintf(stderr, "ttt-match: connect to %s:%d failed: %s\n",
                    c->run->opt.urls[c->url].host, c->run->opt.urls[c->url].port,
                    in ? (const char *)in : "?");
        if (c->state != MATCH_C_DOWN)
            conn_down(c, 1);
        return 0;

    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c->state != MATCH_C_DOWN)
            conn_down(c, 0);
        return 0;

    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    { "ttt-match", net_callback, 0, MATCH_RX_MAX, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

int match_net_init(match_run *r) {
    struct lws_context_creation_info info;
    void *loops[1] = { &r->loop };

    lws_set_log_level(r->opt.verbose > 1 ? LLL_ERR | LLL_WARN | LLL_NOTICE : 0, NULL);
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_LIBUV;
    info.foreign_loops = loops;
    info.gid = -1;
    info.uid = -1;
    /* lws sizes a per-thread table by this; the default is the process fd
     * limit, which can be huge */
    info.fd_limit_per_thread = (unsigned)(r->nslots * 3 + 64);
    info.connect_timeout_secs = 5;
    info.timeout_secs = 10;
    r->ctx = lws_create_context(&info);
    return r->ctx ? 0 : -1;
}

void match_net_destroy(match_run *r) {
    if (r->ctx)
        lws_context_destroy(r->ctx);
    r->ctx = NULL;
}
