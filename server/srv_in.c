/* srv_in.c -- frames in from WebSocket clients (srv_int.h): pieces put
 * together (ws_msg.c), binary and non-UTF-8 messages refused, the rate
 * limits and caps applied, and each request parsed once and handed to the
 * manager. Bad input gets the contract's error and changes nothing. */
#include "srv_int.h"

#include <string.h>

#include "log.h"
#include "proto.h"

static log_limit ll_protocol;  /* peers cause these at will: a line a second */

/* 0: within the limits; else which bucket ran dry (1 connection, 2 address) */
static int rate_check(srv *s, ws_sess *ss)
{
    int64_t now = srv_now_ms(s);
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
    srv_out_block(ss, proto_encode_error(id, e, text, MSG_HEADROOM, &olen), &olen);
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
 * (docs/libraries.md, "Close codes": lws_close_reason, then a non-zero return). */
static int close_now(ws_sess *ss, uint16_t code, const char *reason)
{
    srv_out_flush_sess(ss);   /* what this turn sent it goes before the close */
    ws_msg_reset(&ss->rx);
    ss->state = SESS_CLOSED;
    lws_close_reason(ss->wsi, (enum lws_close_status)code, (unsigned char *)reason,
                     strlen(reason));
    return -1;
}

int srv_in_receive(srv *s, ws_sess *ss, const char *in, size_t len)
{
    ss->last_rx_ms = srv_now_ms(s);
    ss->ping_out = 0;
    if (lws_frame_is_binary(ss->wsi)) {
        s->stats.bad_input++;
        srv_out_close(ss, CLOSE_UNSUPPORTED);
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
int srv_in_peer_close(srv *s, ws_sess *ss, const unsigned char *in, size_t len)
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
