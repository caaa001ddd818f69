/* test_store_alloc.c -- every store operation completes through its
 * callback, exactly once, when an allocation fails (issue 8 section 7): for
 * each operation and each n, the n-th allocation after the call begins is
 * made to fail (tests/support/failalloc.h), on the memory backend and on a
 * real redis-server. Each case ends with the store closed, the loop closed
 * and LeakSanitizer finding nothing. Old code: an op whose own record could
 * not be allocated was dropped, its callback never ran. */
#include <criterion/criterion.h>

#include <signal.h>
#include <string.h>
#include <uv.h>

#include "failalloc.h"
#include "proc.h"
#include "store.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#define WAIT_MS 10000
#define MAX_N 80            /* more allocations than any one operation makes (a list fans out) */

enum { T_CREATE, T_LOAD, T_SAVE, T_QUICK, T_LIST, T_CLAIM, T_RESET, T_SUB, T_COUNT };
static const char *const op_name[T_COUNT] = {"create", "load", "save", "quick",
                                             "open_list", "claim_due", "deadline_reset",
                                             "subscribe"};

static struct {
    uv_loop_t loop;
    uv_timer_t wake;
    proc_redis r;
    store *s;
    int closed;
    int calls, status;
    int64_t got_id;
} A;

static void wake_cb(uv_timer_t *t) { (void)t; }

static void run_until(int *flag, int ms)
{
    long long end = proc_now_ms() + ms;
    while (!*flag && proc_now_ms() < end)
        uv_run(&A.loop, UV_RUN_ONCE);
}

static void on_game(void *ud, int status, const store_game *g)
{
    (void)ud;
    A.calls++;
    A.status = status;
    if (g)
        A.got_id = g->id;
}

static void on_list(void *ud, int status, const store_open_game *games, size_t n)
{
    (void)ud, (void)games, (void)n;
    A.calls++;
    A.status = status;
}

static void on_ids(void *ud, int status, const int64_t *ids, size_t n)
{
    (void)ud, (void)ids, (void)n;
    A.calls++;
    A.status = status;
}

static void on_done(void *ud, int status)
{
    (void)ud;
    A.calls++;
    A.status = status;
}

static void on_closed(void *ud)
{
    (void)ud;
    A.closed = 1;
}

static store_game sample(void)
{
    store_game g;
    memset(&g, 0, sizeof(g));
    game_state_init(&g.st, 1);
    g.kind = STORE_KIND_CREATE;
    g.seat[0].taken = 1;
    g.seat[0].nholders = 1;
    g.seat[0].holders[0] = 1;
    g.created_ms = g.updated_ms = 1;
    return g;
}

static void open_store(const char *url)
{
    store_options o = {.redis_url = url, .instance_name = "alloc"};
    store_events ev = {0};
    char err[200] = "";
    A.s = store_open(&A.loop, &o, &ev, err, sizeof(err));
    cr_assert(A.s, "store_open: %s", err);
    long long end = proc_now_ms() + WAIT_MS;
    while (!store_is_up(A.s) && proc_now_ms() < end)
        uv_run(&A.loop, UV_RUN_ONCE);
    cr_assert(store_is_up(A.s), "store not up");
}

static void close_store(void)
{
    A.closed = 0;
    store_close(A.s, on_closed, NULL);
    run_until(&A.closed, WAIT_MS);
    cr_assert(A.closed, "store_close never finished");
    A.s = NULL;
}

static void issue(int op, const store_game *g)
{
    switch (op) {
    case T_CREATE: store_game_create(A.s, g, on_game, NULL); break;
    case T_LOAD: store_game_load(A.s, g->id, on_game, NULL); break;
    case T_SAVE: store_game_save(A.s, g, on_game, NULL); break;
    case T_QUICK: store_game_quick(A.s, g, on_game, NULL); break;
    case T_LIST: store_open_list(A.s, 10, on_list, NULL); break;
    case T_CLAIM: store_claim_due(A.s, INT64_MAX / 2, 1000, 10, on_ids, NULL); break;
    case T_RESET: store_deadline_reset(A.s, g, on_done, NULL); break;
    case T_SUB: store_subscribe(A.s, g->id, on_done, NULL); break;
    default: cr_assert_fail("op %d", op);
    }
}

/* One op with its n-th allocation failing. Returns 1 when that allocation
 * was reached (so n + 1 is worth trying), 0 when the op made fewer. */
static int one_case(const char *url, int op, long n)
{
    open_store(url);
    /* a game to load, save, reset: made before arming */
    store_game g = sample();
    A.calls = 0;
    store_game_create(A.s, &g, on_game, NULL);
    run_until(&A.calls, WAIT_MS);
    cr_assert_eq(A.status, STORE_OK, "seed create: %s", store_err_name(A.status));
    g.id = A.got_id;
    g.version = 1;
    g.deadline_ms = 5;

    A.calls = 0;
    failalloc_arm(n);
    issue(op, &g);
    cr_assert_eq(A.calls, 0, "%s: answered inside the call", op_name[op]);
    run_until(&A.calls, WAIT_MS);
    int fired = failalloc_fired();
    failalloc_disarm();
    /* a second answer would come on the following turns */
    long long until = proc_now_ms() + 50;
    while (proc_now_ms() < until)
        uv_run(&A.loop, UV_RUN_NOWAIT);
    cr_assert_eq(A.calls, 1, "%s with allocation %ld failing: callback ran %d times",
                 op_name[op], n, A.calls);
    cr_assert(A.status == STORE_OK || A.status == STORE_ENOMEM || A.status == STORE_ENOTFOUND ||
                  A.status == STORE_EUNAVAIL,
              "%s, allocation %ld failing: %s", op_name[op], n, store_err_name(A.status));
    close_store();
#ifdef __SANITIZE_ADDRESS__
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0,
                 "%s, allocation %ld failing: memory leaked (report above)", op_name[op], n);
#endif
    return fired;
}

static void every_op(const char *url)
{
    for (int op = 0; op < T_COUNT; op++) {
        long n = 1;
        while (n <= MAX_N && one_case(url, op, n))
            n++;
        cr_assert(n <= MAX_N, "%s: still allocating at %d", op_name[op], MAX_N);
        cr_log_info("%s: %ld allocation sites tried", op_name[op], n - 1);
    }
}

static void setup(void)
{
    memset(&A, 0, sizeof(A));
    A.r.pid = -1;
    cr_assert_eq(uv_loop_init(&A.loop), 0);
    uv_timer_init(&A.loop, &A.wake);
    uv_timer_start(&A.wake, wake_cb, 20, 20);
}

static void teardown(void)
{
    uv_close((uv_handle_t *)&A.wake, NULL);
    uv_run(&A.loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&A.loop), 0, "a handle outlived store_close");
}

static void fini(void)
{
    failalloc_disarm();
    if (A.r.pid > 0)
        proc_redis_stop(&A.r, 0);
}

Test(alloc, memory_every_op, .description = "memory backend: each op answers exactly once whichever allocation fails",
     .fini = fini, .timeout = 120)
{
    setup();
    every_op(NULL);
    teardown();
}

Test(alloc, redis_every_op, .description = "redis backend: each op answers exactly once whichever allocation fails",
     .fini = fini, .timeout = 300)
{
    setup();
    cr_assert_eq(proc_redis_start(&A.r, 0), 0, "redis-server did not start");
    every_op(A.r.url);
    teardown();
    proc_redis_stop(&A.r, 0);
    A.r.pid = -1;
}
