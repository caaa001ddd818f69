/* gm_uv.h -- the game manager's clock and timers on a libuv loop.
 *
 * Like hiredis' adapters/libuv.h: one header of statics, included by main.c
 * only, that fills in gm_clock's hooks. The manager itself never includes
 * uv.h, so tests/test_gm.c can hand it a fake clock instead. */
#ifndef GM_UV_H
#define GM_UV_H

#include <stdlib.h>
#include <uv.h>

#include "gm.h"
#include "wall_ms.h"

typedef struct gm_uv_timer {
    uv_timer_t t;
    void (*cb)(void *arg);
    void *arg;
} gm_uv_timer;

static int64_t gm_uv_now_ms(void *ud)
{
    (void)ud;
    return wall_ms();
}

static void gm_uv_on_timer(uv_timer_t *t)
{
    gm_uv_timer *gt = t->data;
    gt->cb(gt->arg);
}

static void *gm_uv_timer_start(void *ud, uint64_t after_ms, uint64_t repeat_ms,
                               void (*cb)(void *arg), void *arg)
{
    gm_uv_timer *gt = calloc(1, sizeof(*gt));
    if (!gt)
        return NULL;
    gt->cb = cb;
    gt->arg = arg;
    uv_timer_init(ud, &gt->t);
    gt->t.data = gt;
    uv_timer_start(&gt->t, gm_uv_on_timer, after_ms, repeat_ms);
    return gt;
}

static void gm_uv_on_closed(uv_handle_t *h)
{
    free(h->data);
}

/* the handle's memory may go only in its close callback */
static void gm_uv_timer_stop(void *ud, void *timer)
{
    (void)ud;
    gm_uv_timer *gt = timer;
    uv_timer_stop(&gt->t);
    uv_close((uv_handle_t *)&gt->t, gm_uv_on_closed);
}

static inline gm_clock gm_uv_clock(uv_loop_t *loop)
{
    gm_clock c = {.ud = loop, .now_ms = gm_uv_now_ms, .timer_start = gm_uv_timer_start,
                  .timer_stop = gm_uv_timer_stop};
    return c;
}

#endif
