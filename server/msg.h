/* msg.h -- an outgoing WebSocket text frame, encoded once and shared.
 *
 * A state change is encoded once per process and the same bytes are queued
 * to every player and spectator, so a msg is reference counted. The block
 * comes straight from a proto_encode_* call with MSG_HEADROOM: our header,
 * then the LWS_PRE bytes libwebsockets writes its frame header into, then
 * the JSON text. One allocation, no copy. */
#ifndef MSG_H
#define MSG_H

#include <stddef.h>
#include <stdint.h>

#define MSG_LWS_PRE 16  /* == LWS_PRE on this build; srv.c asserts it */

typedef struct msg {
    uint32_t refs;
    uint32_t len;       /* bytes of JSON text */
    unsigned char _lws_pre[MSG_LWS_PRE];
    /* JSON text follows */
} msg;

#define MSG_HEADROOM (sizeof(msg))

/* Adopt a block returned by proto_encode_*(..., MSG_HEADROOM, &len).
 * NULL in, NULL out, so msg_wrap(proto_encode_x(...)) needs one check. */
msg *msg_wrap(char *block, const size_t *len);
static inline unsigned char *msg_data(msg *m) { return (unsigned char *)(m + 1); }
static inline msg *msg_ref(msg *m) { m->refs++; return m; }
void msg_unref(msg *m);

#endif
