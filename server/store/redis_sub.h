/* redis_sub.h -- sharded pub/sub (SSUBSCRIBE / smessage) over a redis_cluster
 * client: each channel is subscribed on the primary that owns its slot, on a
 * connection of its own per node (a subscribed connection runs no other
 * commands). Also right on a single Redis 7, which accepts SSUBSCRIBE and
 * SPUBLISH without cluster mode (checked on 7.0.15).
 *
 * A channel is "wanted" from rsub_subscribe() to rsub_unsubscribe(). The
 * module keeps every wanted channel subscribed: after a dropped connection, a
 * failover, a slot moved away (Redis pushes `sunsubscribe`) or a map change
 * it subscribes again on the current owner. Messages published while a
 * channel was not subscribed are lost: the events below say when to re-read
 * state.
 *
 * Publish with SPUBLISH through rcl_command_argv(key = channel). */
#ifndef REDIS_SUB_H
#define REDIS_SUB_H

#include <stddef.h>

#include "redis_cluster.h"

typedef struct rsub rsub;

enum {
    RSUB_EV_SUBSCRIBED = 1,    /* first confirmation by Redis */
    RSUB_EV_LOST = 2,          /* no longer subscribed (messages may be missed) */
    RSUB_EV_RESUBSCRIBED = 3   /* confirmed again after a loss: re-load state */
};

/* channel and payload are valid only during the call. */
typedef void rsub_msg_cb(rsub *s, const char *ch, size_t chlen, const char *msg, size_t len,
                         void *ud);
typedef void rsub_event_cb(rsub *s, const char *ch, size_t chlen, int ev, void *ud);

/* A subscriber on client c (which must outlive it). NULL on out of memory.
 * Callbacks may call rsub_subscribe/unsubscribe/close. */
rsub *rsub_open(rcl *c, rsub_msg_cb *msg, rsub_event_cb *ev, void *ud);

/* Want channel ch (copied). Idempotent. 0, or RCL_ENOMEM / RCL_EINVAL /
 * RCL_ECLOSED. The SUBSCRIBED event follows once Redis confirms. */
int rsub_subscribe(rsub *s, const char *ch, size_t len);
/* Stop wanting it; no callback for it follows. 0, or RCL_EINVAL if unknown. */
int rsub_unsubscribe(rsub *s, const char *ch, size_t len);
/* 1 if Redis confirmed the subscription and it has not been lost since. */
int rsub_is_subscribed(const rsub *s, const char *ch, size_t len);

typedef struct rsub_stats {
    unsigned long long messages, lost, resubscribed, pushed_unsub, moved;
} rsub_stats;
const rsub_stats *rsub_get_stats(const rsub *s);

/* Close every subscriber connection; no callback runs afterwards. The
 * memory goes from a loop callback: keep running the loop. Call before
 * rcl_close() of its client. */
void rsub_close(rsub *s);

#endif
