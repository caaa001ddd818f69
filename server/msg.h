/* msg.h -- an outgoing WebSocket text frame, encoded once and shared.
 *
 * A state change is encoded once per process and the same bytes are queued
 * to every player and spectator, so a msg is reference counted. A block is
 * our header, then the LWS_PRE bytes libwebsockets writes its frame header
 * into, then the JSON text. It comes either straight from a proto_encode_*
 * call with MSG_HEADROOM (msg_wrap: one allocation, no copy), or from
 * msg_new(), whose small blocks are reused: the state of every move is one,
 * and a move allocates nothing (issue 11). */
#ifndef MSG_H
#define MSG_H

#include <stddef.h>
#include <stdint.h>

#define MSG_LWS_PRE 16  /* == LWS_PRE on this build; srv.c asserts it */
/* Text a msg_new() block of the reused size holds, its NUL included: a
 * "state" at its longest (proto.h's PROTO_STATE_MAX; gm_room.c asserts). */
#define MSG_SMALL 768

typedef struct msg {
    uint32_t refs;
    uint32_t len;       /* bytes of JSON text */
    uint32_t small;     /* a msg_new() block of MSG_SMALL: reused, not freed */
    unsigned char _lws_pre[MSG_LWS_PRE];
    /* JSON text follows */
} msg;

#define MSG_HEADROOM (sizeof(msg))

/* Adopt a block returned by proto_encode_*(..., MSG_HEADROOM, &len).
 * NULL in, NULL out, so msg_wrap(proto_encode_x(...)) needs one check. */
msg *msg_wrap(char *block, const size_t *len);
/* A msg with room for cap bytes of text (the NUL included) at msg_data(),
 * refs 1 and len 0 (the caller sets len once it wrote the text); NULL out
 * of memory. A cap up to MSG_SMALL gets a reused block: its bytes are not
 * zeroed. */
msg *msg_new(size_t cap);
static inline unsigned char *msg_data(msg *m) { return (unsigned char *)(m + 1); }
static inline msg *msg_ref(msg *m) { m->refs++; return m; }
void msg_unref(msg *m);

#endif
