/* redis_link.h -- one RESP2 connection to one Redis node: a uv_tcp_t on the
 * caller's loop, replies parsed by hiredis' redisReader, a FIFO of reply
 * callbacks, and an optional hook that takes pushed replies (pub/sub).
 *
 * Why not redisAsyncContext: hiredis 0.14's async core assert()s (aborts the
 * process) when a reply arrives with no callback waiting on a context that is
 * not in SUBSCRIBE mode -- checked on this machine with a listener answering
 * one PING with "+OK\r\n+OK\r\n" -- and it knows nothing of `smessage` or
 * `sunsubscribe`. A hostile or confused node must never crash us, so the link
 * owns its socket and treats an unexpected reply as a protocol error: the
 * link fails and every waiting callback is told.
 *
 * Lifetime: rlink_open() returns a link that connects in the background;
 * commands may be sent at once (they are written once connected). A link ends
 * exactly once, either by failure (down callback) or by rlink_close(); then
 * every reply callback still waiting is called with reply == NULL, in order.
 * The memory is released later from a libuv close callback, so a link
 * pointer stays valid until the current callback returns, but must not be
 * used after the down callback or rlink_close(). */
#ifndef REDIS_LINK_H
#define REDIS_LINK_H

#include <stddef.h>

typedef struct uv_loop_s uv_loop_t;
struct redisReply;
typedef struct rlink rlink;

/* reply is owned by the link and valid only during the call; NULL means the
 * link ended first (see rlink_was_up() for whether it ever connected). */
typedef void rlink_reply_fn(rlink *l, struct redisReply *reply, void *priv);
/* Every reply is offered here first when set; return 1 if it was a push and
 * is consumed, 0 to hand it to the oldest waiting callback. */
typedef int rlink_push_fn(rlink *l, struct redisReply *reply, void *ud);
/* The link failed (refused, reset, EOF, protocol error, garbage). Called once,
 * after the waiting callbacks got NULL; not called after rlink_close(). */
typedef void rlink_down_fn(rlink *l, const char *why, void *ud);

/* Replies larger than this (unparsed bytes buffered) fail the link. */
#define RLINK_MAX_PENDING (16u * 1024 * 1024)
/* Arrays longer than this fail the link (see rlink_reader_new). */
#define RLINK_MAX_ELEMENTS (1 << 20)

struct redisReader;
/* A hiredis reader whose arrays are capped at RLINK_MAX_ELEMENTS; replies
 * are freed with freeReplyObject(). NULL on out of memory. */
struct redisReader *rlink_reader_new(void);

/* ip must be an IPv4 or IPv6 literal, or with port 0 the path of a unix
 * socket (a single Redis only: a cluster's nodes are reached over TCP). Returns NULL on a bad address, an
 * immediate connect failure or out of memory (nothing to close then). */
rlink *rlink_open(uv_loop_t *loop, const char *ip, int port, rlink_push_fn *push,
                  rlink_down_fn *down, void *ud);

/* Queue one RESP-formatted command (copied). fn may be NULL: the reply is
 * then read and dropped. Returns 0, or -1 when the link has ended or memory
 * ran out (fn is then never called). Never calls any callback itself. */
int rlink_send(rlink *l, const char *cmd, size_t len, rlink_reply_fn *fn, void *priv);

/* Ends the link: waiting callbacks get NULL before this returns. Idempotent
 * while the pointer is valid. */
void rlink_close(rlink *l);
/* Ends the link as a failure: like rlink_close, then the down callback
 * (e.g. from a reply callback that found the node unusable). */
void rlink_fail(rlink *l, const char *why);

int rlink_was_up(const rlink *l);    /* the TCP connect completed */
int rlink_alive(const rlink *l);     /* not ended */
size_t rlink_pending(const rlink *l);/* replies still awaited */
/* The priv of the oldest waiting callback (NULL if none): lets a push hook
 * tell a pushed reply from the answer to its own command. */
void *rlink_head_priv(const rlink *l);

#endif
