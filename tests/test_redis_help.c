/* test_redis_help.c -- the loop, command and pub/sub helpers of
 * test_redis_cluster.h. */
#define _GNU_SOURCE
#include "test_redis_cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"

/* ---- loop helpers -------------------------------------------------------------- */

void tr_wake(uv_timer_t *t) { (void)t; }

/* Run the loop until cond(arg) holds, at most timeout_ms. 1 if it held. */
int tr_run_until(uv_loop_t *loop, int (*cond)(void *), void *arg, int timeout_ms)
{
    uv_timer_t t;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, tr_wake, 10, 10);
    long long end = proc_now_ms() + timeout_ms;
    int ok;
    while (!(ok = cond(arg)) && proc_now_ms() < end)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return ok;
}


int tr_int_true(void *a) { return *(int *)a != 0; }


void tr_on_res(rcl *c, int status, redisReply *reply, int sent, void *priv)
{
    (void)c;
    res *r = priv;
    r->calls++;
    r->status = status;
    r->sent = sent;
    r->type = reply ? reply->type : 0;
    r->integer = reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0;
    r->str[0] = '\0';
    if (reply && reply->str)
        snprintf(r->str, sizeof r->str, "%.*s", (int)reply->len, reply->str);
}

int tr_res_done(void *a) { return ((res *)a)->calls > 0; }

/* argv from a NULL-terminated list; routed by argv[1] */
int tr_vsend_cmd(rcl *c, res *r, va_list ap)
{
    const char *argv[16];
    size_t len[16];
    int n = 0;
    const char *s;
    while (n < 16 && (s = va_arg(ap, const char *)) != NULL) {
        argv[n] = s;
        len[n] = strlen(s);
        n++;
    }
    memset(r, 0, sizeof *r);
    return rcl_command_argv(c, argv[1], len[1], n, argv, len, tr_on_res, r);
}

int tr_send_cmd(rcl *c, res *r, ...)
{
    va_list ap;
    va_start(ap, r);
    int rc = tr_vsend_cmd(c, r, ap);
    va_end(ap);
    return rc;
}

/* send and wait; returns the result's status */
int tr_cmd_wait(uv_loop_t *loop, rcl *c, res *r, ...)
{
    va_list ap;
    va_start(ap, r);
    int rc = tr_vsend_cmd(c, r, ap);
    va_end(ap);
    cr_assert_eq(rc, 0, "command refused: %s", rcl_err_name(rc));
    cr_assert(tr_run_until(loop, tr_res_done, r, 10000), "no reply in 10 s");
    return r->status;
}

int tr_map_ready(void *a) { return rcl_mode((rcl *)a) != RCL_MODE_UNKNOWN; }

int tr_closed_flag;
void tr_on_closed(void *ud) { (void)ud; tr_closed_flag = 1; }

void tr_close_all(uv_loop_t *loop, rcl *c, rsub *s)
{
    if (s)
        rsub_close(s);
    tr_closed_flag = 0;
    rcl_close(c, tr_on_closed, NULL);
    cr_assert(tr_run_until(loop, tr_int_true, &tr_closed_flag, 5000), "rcl_close never finished");
    uv_run(loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(loop), 0, "handles left open on the loop");
}

/* ---- subscriber recorder ----------------------------------------------------------- */


void tr_on_msg(rsub *s, const char *ch, size_t chlen, const char *m, size_t len, void *ud)
{
    (void)s; (void)ch; (void)chlen;
    subrec *r = ud;
    r->messages++;
    snprintf(r->last, sizeof r->last, "%.*s", (int)len, m);
}

void tr_on_ev(rsub *s, const char *ch, size_t chlen, int ev, void *ud)
{
    (void)s; (void)ch; (void)chlen;
    subrec *r = ud;
    if (ev == RSUB_EV_SUBSCRIBED)
        r->subscribed++;
    else if (ev == RSUB_EV_LOST)
        r->lost++;
    else if (ev == RSUB_EV_RESUBSCRIBED)
        r->resubscribed++;
}

int tr_sub_on(void *a) { return ((subrec *)a)->subscribed > 0; }
int tr_sub_back(void *a) { return ((subrec *)a)->resubscribed > 0; }

int tr_got_msgs(void *a) { msgwait *w = a; return w->r->messages >= w->want; }

/* publish until one arrives: a subscription confirmed on one node is live */
void tr_publish_and_see(uv_loop_t *loop, rcl *c, subrec *sr, const char *ch, const char *payload)
{
    res r;
    int before = sr->messages;
    cr_assert_eq(CMD(loop, c, &r, "SPUBLISH", ch, payload), RCL_OK);
    cr_assert_eq(r.type, REDIS_REPLY_INTEGER, "SPUBLISH: %s", r.str);
    cr_assert_eq(r.integer, 1, "SPUBLISH reached %lld subscribers", r.integer);
    msgwait w = {sr, before + 1};
    cr_assert(tr_run_until(loop, tr_got_msgs, &w, 5000), "smessage not delivered");
    cr_assert_str_eq(sr->last, payload);
}
