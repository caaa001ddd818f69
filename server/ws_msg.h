/* ws_msg.h -- one WebSocket message put back together from the pieces
 * libwebsockets hands to LWS_CALLBACK_RECEIVE, under the contract's size
 * limit, and the UTF-8 check a text message must pass (RFC 6455 8.1).
 *
 * Pure: no lws, no loop, no I/O, so tests/fuzz/fuzz_reasm.c can drive it
 * with any sequence of pieces. srv.c passes what lws reports per piece:
 * lws_is_first_fragment(), lws_is_final_fragment() and
 * lws_remaining_packet_payload(). A message is complete on a piece that is
 * final with nothing remaining (docs/libraries.md, "Receive"). */
#ifndef WS_MSG_H
#define WS_MSG_H

#include <stddef.h>
#include <stdint.h>

#define WS_MSG_MAX 4096   /* the contract: all fragments of one message together */

typedef struct ws_msg {
    char *buf;            /* NULL until a message arrives in more than one piece */
    uint32_t len;         /* bytes collected in buf */
} ws_msg;

enum {
    WS_MSG_MORE = 0,      /* a piece of an unfinished message: nothing to handle yet */
    WS_MSG_DONE = 1,      /* *out / *outlen hold the whole message */
    WS_MSG_TOO_BIG = -1,  /* over WS_MSG_MAX: close with 1009; the buffer is freed */
    WS_MSG_NOMEM = -2     /* no memory for the buffer; the buffer is freed */
};

/* Zero-filled (or {0}) is the initial state. */
void ws_msg_init(ws_msg *m);

/* Feed one piece of len bytes. first: this piece starts a message (any
 * partial one before it is dropped); final && !remaining: it ends one.
 * On WS_MSG_DONE, *out points either at `in` itself (a message that came
 * in one piece: no copy) or at m's buffer, valid until the next call on m;
 * the caller must call ws_msg_done() once it has handled the message. */
int ws_msg_feed(ws_msg *m, const char *in, size_t len, int first, int final,
                size_t remaining, const char **out, size_t *outlen);

/* The handled message is finished with: free the buffer if one was used. */
void ws_msg_done(ws_msg *m);

/* Free whatever is collected (connection closed). m may be reused. */
void ws_msg_reset(ws_msg *m);

/* 1 when s[0..len) is well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF), else 0. */
int ws_utf8_valid(const char *s, size_t len);

#endif
