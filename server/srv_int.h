/* srv_int.h -- what the network layer's three files share, and nobody else:
 * the session and server structs, the close codes, and the calls between
 *   srv.c      a session's life: handshake, taking in, closing, keepalive,
 *              drain, the lws context;
 *   srv_in.c   frames in: reassembly, UTF-8, rate limits, caps, requests;
 *   srv_out.c  frames out: direct writes, the queue, close frames.
 * Only these three include it. */
#ifndef SRV_INT_H
#define SRV_INT_H

#include <uv.h>   /* before libwebsockets.h: its uv prototypes need UV_ERRNO_MAP */

#include <libwebsockets.h>

#include "lim.h"
#include "msg.h"
#include "srv.h"
#include "ws_msg.h"

#define CLOSE_GOING_AWAY 1001
#define CLOSE_TOO_BIG 1009
#define CLOSE_RESTART 1012
#define CLOSE_POLICY 1008
#define CLOSE_UNSUPPORTED 1003
#define CLOSE_PROTOCOL 1002
#define CLOSE_BAD_DATA 1007
#define CLOSE_INTERNAL 1011

#define SRV_PEND_MAX 512       /* frames held until the end of a loop turn */
#define SRV_PEND_GROUP 16      /* frames of one session written in one send */
#define SRV_OUT_BYTES 16384    /* the buffer those are framed in */

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
    uint8_t pend;                  /* frames held in s->pend (srv_out.c) */
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
    uv_prepare_t flush_prep;     /* srv_out_flush after the idle and timer callbacks */
    uv_check_t flush_check;      /* ... and after the I/O callbacks */
    struct { ws_sess *ss; msg *m; } pend[SRV_PEND_MAX];
    unsigned npend;
    unsigned char out[LWS_PRE + SRV_OUT_BYTES];
};


static inline int64_t srv_now_ms(const srv *s)
{
    return (int64_t)uv_now(s->loop);
}

/* srv_out.c */
/* Drop every queued frame and the queue itself. */
void srv_out_clear(ws_sess *ss);
/* Choose the close code (the first one chosen counts) and let WRITEABLE
 * send what is queued, then the close frame. */
void srv_out_close(ws_sess *ss, uint16_t code);
/* Send a block from a proto_encode_* call (NULL: out of memory, closes 1011). */
void srv_out_block(ws_sess *ss, char *block, const size_t *len);
/* WS_SERVER_DROP_PROTOCOL: the close frame lws would not send. */
void srv_out_on_drop(ws_sess *ss, struct lws *wsi);
/* SERVER_WRITEABLE: one ping, queued frame or close frame; -1 closes. */
int srv_out_writeable(srv *s, ws_sess *ss);
/* Write every frame held in this loop turn (srv_send holds them). */
void srv_out_flush(srv *s);
/* Write ss's held frames now (before a close from RECEIVE). */
void srv_out_flush_sess(ws_sess *ss);
/* ss is closed: drop its held frames. */
void srv_out_forget(ws_sess *ss);

/* srv_in.c */
/* LWS_CALLBACK_RECEIVE: a piece of a message; the return goes to lws. */
int srv_in_receive(srv *s, ws_sess *ss, const char *in, size_t len);
/* LWS_CALLBACK_WS_PEER_INITIATED_CLOSE, before lws echoes it. */
int srv_in_peer_close(srv *s, ws_sess *ss, const unsigned char *in, size_t len);

#endif
