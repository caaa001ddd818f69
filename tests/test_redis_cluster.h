/* test_redis_cluster.h -- what the test_redis_cluster sources share: running
 * the loop until a condition holds (bounded), a command's recorded reply,
 * and a recorder of sharded pub/sub deliveries. */
#ifndef TEST_REDIS_CLUSTER_H
#define TEST_REDIS_CLUSTER_H

#include <criterion/criterion.h>
#include <stdarg.h>
#include <uv.h>
#include <hiredis/hiredis.h>

#include "redis_cluster.h"
#include "redis_sub.h"

/* what a command's callback recorded */
typedef struct res {
    int calls, status, sent, type;
    long long integer;
    char str[256];
} res;

/* what a subscriber saw */
typedef struct subrec {
    int subscribed, lost, resubscribed, messages;
    char last[256];
} subrec;

typedef struct msgwait { subrec *r; int want; } msgwait;

#define CMD(loop, c, r, ...) tr_cmd_wait(loop, c, r, __VA_ARGS__, NULL)

extern int tr_closed_flag;
void tr_wake(uv_timer_t *t);
int tr_run_until(uv_loop_t *loop, int (*cond)(void *), void *arg, int timeout_ms);
int tr_int_true(void *a);
void tr_on_res(rcl *c, int status, redisReply *reply, int sent, void *priv);
int tr_res_done(void *a);
int tr_vsend_cmd(rcl *c, res *r, va_list ap);
int tr_send_cmd(rcl *c, res *r, ...);
int tr_cmd_wait(uv_loop_t *loop, rcl *c, res *r, ...);
int tr_map_ready(void *a);
void tr_on_closed(void *ud);
void tr_close_all(uv_loop_t *loop, rcl *c, rsub *s);
void tr_on_msg(rsub *s, const char *ch, size_t chlen, const char *m, size_t len, void *ud);
void tr_on_ev(rsub *s, const char *ch, size_t chlen, int ev, void *ud);
int tr_sub_on(void *a);
int tr_sub_back(void *a);
int tr_got_msgs(void *a);
void tr_publish_and_see(uv_loop_t *loop, rcl *c, subrec *sr, const char *ch, const char *payload);

#endif
