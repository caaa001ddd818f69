/* test_store.c -- the store contract (store.h), case for case against both
 * backends: STORE_TEST defines each case twice, as memory/<name> and
 * redis/<name>; the redis one talks to a real redis-server started on a free
 * port for that test. The remaining redis/<name> cases cover what only Redis
 * has: URLs, outages, a hung server, several stores and processes, dead
 * instances. Every wait is a bounded run of the uv loop until a counter
 * reaches its target; every case ends by closing its stores, checking that
 * done() came after the last handle, that uv_loop_close() == 0, and (under
 * ASan) that nothing leaked. */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "proc.h"
#include "store.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#define WAIT_MS 10000
#define MAX_STORES 4

/* one store and what its events saw */
typedef struct tstore {
    store *s;
    int open, closed;
    int handles_at_done;         /* loop handles (but the harness') when done() ran */
    int ups, downs;
    int published;
    store_game last_pub;
    int64_t pub_ids[64];
    int npub;
    int orphaned;
    uint32_t orph_inst;
    int64_t orph_ids[16];
    size_t orph_n;
    int lost;                    /* lost() events */
} tstore;

/* the result of one call */
typedef struct res {
    int n;                       /* completions: must end at exactly 1 */
    int early;                   /* completed before the call returned */
    int status;
    int have_g;
    store_game g;
    store_open_game list[64];
    int64_t ids[64];
    size_t count;
} res;

static struct {
    int redis;
    proc_redis r;
    uv_loop_t loop;
    uv_timer_t wake;
    tstore st[MAX_STORES];
    int in_call;
    pid_t child;
} H;

#define RUN_UNTIL(cond, ms)                                      \
    do {                                                         \
        long long end_ = proc_now_ms() + (ms);                   \
        while (!(cond) && proc_now_ms() < end_)                  \
            uv_run(&H.loop, UV_RUN_ONCE);                        \
    } while (0)

/* the call itself must not answer: callbacks run later, from the loop */
#define CALL(x)          \
    do {                 \
        H.in_call = 1;   \
        x;               \
        H.in_call = 0;   \
    } while (0)

static void wake_cb(uv_timer_t *t) { (void)t; }   /* bounds each UV_RUN_ONCE */

static void fini(void)
{
    if (H.child > 0)
        proc_kill9(H.child);
    if (H.r.pid > 0) {
        kill(H.r.pid, SIGCONT);
        proc_redis_stop(&H.r, 0);
    }
}

/* ---- events and callbacks ---------------------------------------------------------- */

static void ev_published(void *ud, const store_game *g)
{
    tstore *t = ud;
    t->last_pub = *g;
    if (t->npub < 64)
        t->pub_ids[t->npub++] = g->id;
    t->published++;
}

static void ev_health(void *ud, int up)
{
    tstore *t = ud;
    if (up)
        t->ups++;
    else
        t->downs++;
}

static void ev_orphaned(void *ud, uint32_t inst, const int64_t *ids, size_t n)
{
    tstore *t = ud;
    t->orphaned++;
    t->orph_inst = inst;
    t->orph_n = n;
    for (size_t i = 0; i < n && i < 16; i++)
        t->orph_ids[i] = ids[i];
}

static void ev_lost(void *ud)
{
    ((tstore *)ud)->lost++;
}

static void count_handle(uv_handle_t *h, void *arg)
{
    if (h != (uv_handle_t *)&H.wake)
        ++*(int *)arg;
}

static void on_closed(void *ud)
{
    tstore *t = ud;
    t->closed++;
    t->handles_at_done = 0;
    uv_walk(&H.loop, count_handle, &t->handles_at_done);
}

static void game_cb(void *ud, int status, const store_game *g)
{
    res *r = ud;
    r->early |= H.in_call;
    r->n++;
    r->status = status;
    r->have_g = g != NULL;
    if (g)
        r->g = *g;
}

static void list_cb(void *ud, int status, const store_open_game *games, size_t n)
{
    res *r = ud;
    r->early |= H.in_call;
    r->n++;
    r->status = status;
    r->count = n;
    for (size_t i = 0; i < n && i < 64; i++)
        r->list[i] = games[i];
}

static void ids_cb(void *ud, int status, const int64_t *ids, size_t n)
{
    res *r = ud;
    r->early |= H.in_call;
    r->n++;
    r->status = status;
    r->count = n;
    for (size_t i = 0; i < n && i < 64; i++)
        r->ids[i] = ids[i];
}

static void done_cb(void *ud, int status)
{
    res *r = ud;
    r->early |= H.in_call;
    r->n++;
    r->status = status;
}

/* ---- set-up and tear-down --------------------------------------------------------- */

static void setup(int redis, int aof)
{
    memset(&H, 0, sizeof(H));
    H.r.pid = -1;
    H.redis = redis;
    if (redis)
        cr_assert_eq(proc_redis_start(&H.r, aof), 0, "redis-server did not start");
    cr_assert_eq(uv_loop_init(&H.loop), 0);
    uv_timer_init(&H.loop, &H.wake);
    uv_timer_start(&H.wake, wake_cb, 20, 20);
}

static const char *open_prefix;   /* --redis-prefix of the next open_url(), NULL: default */

static tstore *open_url(const char *url, int wait_up)
{
    tstore *t = NULL;
    for (int i = 0; i < MAX_STORES && !t; i++)
        if (!H.st[i].open)
            t = &H.st[i];
    cr_assert(t, "too many stores");
    memset(t, 0, sizeof(*t));
    store_options o = {.redis_url = url, .instance_name = "test", .finished_ttl_ms = 0,
                       .redis_prefix = open_prefix};
    store_events ev = {.ud = t, .published = ev_published, .health = ev_health,
                       .orphaned = ev_orphaned, .lost = ev_lost};
    char err[200] = "";
    t->s = store_open(&H.loop, &o, &ev, err, sizeof(err));
    cr_assert(t->s, "store_open: %s", err);
    t->open = 1;
    if (wait_up) {
        RUN_UNTIL(store_is_up(t->s), WAIT_MS);
        cr_assert(store_is_up(t->s), "store not up within %d ms", WAIT_MS);
    }
    return t;
}

static tstore *open_store(void)
{
    return open_url(H.redis ? H.r.url : NULL, 1);
}

/* a second view of the same data: another process' store with Redis; with
 * memory the same store (memory is one process' world) */
static tstore *other_store(tstore *first)
{
    return H.redis ? open_store() : first;
}

static void close_store(tstore *t)
{
    store_close(t->s, on_closed, t);
    RUN_UNTIL(t->closed, WAIT_MS);
    cr_assert_eq(t->closed, 1, "store_close: done() ran %d times", t->closed);
    t->open = 0;
}

static void teardown(void)
{
    tstore *last = NULL;
    for (int i = 0; i < MAX_STORES; i++) {
        if (H.st[i].open) {
            close_store(&H.st[i]);
            last = &H.st[i];
        }
    }
    /* done() of the last store promised that every handle is gone by then,
     * closing ones (hiredis' poll handles) too */
    if (last)
        cr_assert_eq(last->handles_at_done, 0, "%d handles still there when done() ran",
                     last->handles_at_done);
    uv_close((uv_handle_t *)&H.wake, NULL);
    uv_run(&H.loop, UV_RUN_NOWAIT);
    cr_assert_eq(uv_loop_close(&H.loop), 0, "a handle outlived store_close");
    if (H.redis)
        proc_redis_stop(&H.r, 0);
#ifdef __SANITIZE_ADDRESS__
    /* at exit LeakSanitizer only prints: make a leak fail the case */
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "memory leaked (LeakSanitizer report above)");
#endif
}

/* ---- records ------------------------------------------------------------------------ */

static store_game mk_game(uint8_t kind, int waiting, int64_t created_ms)
{
    store_game g;
    memset(&g, 0, sizeof(g));
    game_state_init(&g.st, waiting);
    g.kind = kind;
    g.created_ms = g.updated_ms = created_ms;
    g.seat[0].taken = 1;
    for (int i = 0; i < STORE_HASH_LEN; i++)
        g.seat[0].token_hash[i] = (uint8_t)(kind * 31 + i + (uint8_t)created_ms);
    if (!waiting)
        g.seat[1].taken = 1;
    return g;
}

/* every field that the contract says is stored */
static int game_eq(const store_game *a, const store_game *b)
{
    if (a->id != b->id || a->version != b->version || a->kind != b->kind ||
        a->level != b->level || a->rematch[0] != b->rematch[0] ||
        a->rematch[1] != b->rematch[1] || a->rematch_id != b->rematch_id ||
        a->created_ms != b->created_ms || a->updated_ms != b->updated_ms ||
        a->deadline_ms != b->deadline_ms)
        return 0;
    if (a->st.board.x != b->st.board.x || a->st.board.o != b->st.board.o ||
        memcmp(a->st.moves, b->st.moves, sizeof(a->st.moves)) != 0 || a->st.ply != b->st.ply ||
        a->st.status != b->st.status || a->st.result != b->st.result ||
        a->st.winner != b->st.winner || memcmp(a->st.line, b->st.line, sizeof(a->st.line)) != 0)
        return 0;
    for (int i = 0; i < 2; i++) {
        const store_seat *x = &a->seat[i], *y = &b->seat[i];
        if (x->taken != y->taken || x->computer != y->computer || x->nholders != y->nholders ||
            x->away_ms != y->away_ms || memcmp(x->token_hash, y->token_hash, STORE_HASH_LEN) != 0)
            return 0;
        for (int h = 0; h < x->nholders && h < STORE_MAX_HOLDERS; h++)
            if (x->holders[h] != y->holders[h])
                return 0;
    }
    return 1;
}

/* ---- synchronous-looking wrappers: issue, check deferral, run the loop ----------------- */

static void check_once(const res *r, const char *what)
{
    cr_assert_eq(r->n, 1, "%s: callback ran %d times", what, r->n);
    cr_assert(!r->early, "%s: callback ran inside the call", what);
}

/* Run the loop until the call made into r has answered, and check that it
 * answered once, and not inside the call. */
static res await_one(res *r, const char *what)
{
    RUN_UNTIL(r->n, WAIT_MS);
    check_once(r, what);
    return *r;
}

static res do_create(tstore *t, const store_game *g)
{
    res r = {0};
    CALL(store_game_create(t->s, g, game_cb, &r));
    return await_one(&r, "create");
}

static res do_load(tstore *t, int64_t id)
{
    res r = {0};
    CALL(store_game_load(t->s, id, game_cb, &r));
    return await_one(&r, "load");
}

static res do_save(tstore *t, const store_game *g)
{
    res r = {0};
    CALL(store_game_save(t->s, g, game_cb, &r));
    return await_one(&r, "save");
}

static res do_quick(tstore *t, const store_game *g)
{
    res r = {0};
    CALL(store_game_quick(t->s, g, game_cb, &r));
    return await_one(&r, "quick");
}

static res do_list(tstore *t, size_t max)
{
    res r = {0};
    CALL(store_open_list(t->s, max, list_cb, &r));
    return await_one(&r, "open_list");
}

static res do_claim(tstore *t, int64_t now, int64_t lease, size_t max)
{
    res r = {0};
    CALL(store_claim_due(t->s, now, lease, max, ids_cb, &r));
    return await_one(&r, "claim_due");
}

static res do_subscribe(tstore *t, int64_t id)
{
    res r = {0};
    CALL(store_subscribe(t->s, id, done_cb, &r));
    return await_one(&r, "subscribe");
}

static res do_reset(tstore *t, const store_game *g)
{
    res r = {0};
    CALL(store_deadline_reset(t->s, g, done_cb, &r));
    return await_one(&r, "deadline_reset");
}

static int64_t create_ok(tstore *t, const store_game *g)
{
    res r = do_create(t, g);
    cr_assert_eq(r.status, STORE_OK, "create: %s", store_err_name(r.status));
    cr_assert(r.have_g);
    return r.g.id;
}

static store_game load_ok(tstore *t, int64_t id)
{
    res r = do_load(t, id);
    cr_assert_eq(r.status, STORE_OK, "load %lld: %s", (long long)id, store_err_name(r.status));
    cr_assert(r.have_g);
    return r.g;
}

static int64_t wall_ms(void)
{
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int list_has(const res *r, int64_t id)
{
    for (size_t i = 0; i < r->count; i++)
        if (r->list[i].id == id)
            return 1;
    return 0;
}

static int ids_has(const res *r, int64_t id)
{
    for (size_t i = 0; i < r->count; i++)
        if (r->ids[i] == id)
            return 1;
    return 0;
}

/* ---- the shared cases -------------------------------------------------------------- */

#define STORE_TEST(name, desc)                                     \
    static void name(void);                                        \
    Test(memory, name, .description = desc, .fini = fini)          \
    {                                                              \
        setup(0, 0);                                               \
        name();                                                    \
        teardown();                                                \
    }                                                              \
    Test(redis, name, .description = desc, .fini = fini)           \
    {                                                              \
        setup(1, 0);                                               \
        name();                                                    \
        teardown();                                                \
    }                                                              \
    static void name(void)

STORE_TEST(ids_from_100, "a fresh store hands out 100, 101, 102 with version 1")
{
    tstore *t = open_store();
    for (int i = 0; i < 3; i++) {
        store_game g = mk_game(STORE_KIND_CREATE, 1, 1000 + i);
        res r = do_create(t, &g);
        cr_assert_eq(r.status, STORE_OK);
        cr_assert_eq(r.g.id, 100 + i, "id %lld, want %d", (long long)r.g.id, 100 + i);
        cr_assert_eq(r.g.version, 1);
    }
}

STORE_TEST(roundtrip_every_field, "create then load gives back every field of the record")
{
    tstore *t = open_store();
    store_game g;
    memset(&g, 0, sizeof(g));
    g.id = 5;           /* ignored: the store assigns */
    g.version = 77;     /* ignored: a new game is version 1 */
    g.st.board.x = 0x0111;
    g.st.board.o = 0x0044;
    uint8_t moves[GAME_CELLS] = {0, 2, 4, 6, 8, 1, 3, 5, 7};
    memcpy(g.st.moves, moves, sizeof(moves));
    g.st.ply = 5;
    g.st.status = GAME_PLAYING;
    g.st.result = GAME_RESULT_RESIGN;
    g.st.winner = GAME_O;
    g.st.line[0] = 2;
    g.st.line[1] = 4;
    g.st.line[2] = -1;
    g.seat[0].taken = 1;
    g.seat[0].nholders = 2;
    g.seat[0].holders[0] = 7;
    g.seat[0].holders[1] = 4000000000u;
    g.seat[0].away_ms = 0;
    g.seat[1].taken = 1;
    g.seat[1].computer = 1;
    g.seat[1].nholders = 4;
    for (int h = 0; h < 4; h++)
        g.seat[1].holders[h] = 10 + (uint32_t)h;
    g.seat[1].away_ms = -1234567890123LL;
    for (int i = 0; i < STORE_HASH_LEN; i++) {
        g.seat[0].token_hash[i] = (uint8_t)i;
        g.seat[1].token_hash[i] = (uint8_t)(0xff - i);
    }
    g.kind = STORE_KIND_REMATCH;
    g.level = GAME_AI_PERFECT;
    g.rematch[0] = 1;
    g.rematch[1] = 0;
    g.rematch_id = 9007199254740993LL;   /* not a double: catches a Lua round trip */
    g.created_ms = 1700000000001LL;
    g.updated_ms = 1700000000002LL;
    g.deadline_ms = 0;

    res c = do_create(t, &g);
    cr_assert_eq(c.status, STORE_OK);
    store_game want = g;
    want.id = c.g.id;
    want.version = 1;
    cr_assert(game_eq(&c.g, &want), "create returned a different record");
    store_game l = load_ok(t, c.g.id);
    cr_assert(game_eq(&l, &want), "load returned a different record");
}

STORE_TEST(save_publishes, "a save with the current version bumps it and is published, same record")
{
    tstore *a = open_store();
    tstore *b = other_store(a);
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    int64_t id = create_ok(a, &g);
    res sub = do_subscribe(b, id);
    cr_assert_eq(sub.status, STORE_OK, "subscribe: %s", store_err_name(sub.status));
    /* the subscription is confirmed: this save must be seen */
    store_game cur = load_ok(a, id);
    game_state_start(&cur.st);
    game_state_move(&cur.st, GAME_X, 4);
    cur.seat[1].taken = 1;
    cur.updated_ms = 2;
    res s = do_save(a, &cur);
    cr_assert_eq(s.status, STORE_OK, "save: %s", store_err_name(s.status));
    store_game want = cur;
    want.version = 2;
    cr_assert(game_eq(&s.g, &want), "save returned a different record");
    RUN_UNTIL(b->published >= 1, WAIT_MS);
    cr_assert_eq(b->published, 1, "published %d times", b->published);
    cr_assert(game_eq(&b->last_pub, &want), "published record differs from the saved one");
    store_game seen = load_ok(b, id);
    cr_assert(game_eq(&seen, &want), "load after save differs");
}

/* subscribe, and save from inside the confirmation: nothing in between */
typedef struct sub_then_save {
    tstore *saver;
    store_game rec;
    res sub, save;
} sub_then_save;

static void sts_subscribed(void *ud, int status)
{
    sub_then_save *x = ud;
    done_cb(&x->sub, status);
    if (status == STORE_OK)
        store_game_save(x->saver->s, &x->rec, game_cb, &x->save);
}

STORE_TEST(subscribe_confirm_order, "a save issued from inside the subscribe callback is always published to that subscriber")
{
    enum { N = 20 };
    tstore *a = open_store();
    tstore *b = other_store(a);
    static sub_then_save x[N];
    memset(x, 0, sizeof(x));
    for (int i = 0; i < N; i++) {
        store_game g = mk_game(STORE_KIND_CREATE, 1, i);
        x[i].saver = a;
        x[i].rec = load_ok(a, create_ok(a, &g));
        x[i].rec.updated_ms = 500 + i;
    }
    for (int i = 0; i < N; i++)
        CALL(store_subscribe(b->s, x[i].rec.id, sts_subscribed, &x[i]));
    RUN_UNTIL(b->published >= N, WAIT_MS);
    for (int i = 0; i < N; i++) {
        check_once(&x[i].sub, "subscribe");
        cr_assert_eq(x[i].sub.status, STORE_OK);
        check_once(&x[i].save, "save");
        cr_assert_eq(x[i].save.status, STORE_OK);
    }
    cr_assert_eq(b->published, N, "%d of %d saves were published", b->published, N);
}

STORE_TEST(save_stale_conflict, "a save with a stale version fails with ECONFLICT and the current record")
{
    tstore *t = open_store();
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    int64_t id = create_ok(t, &g);
    store_game v1 = load_ok(t, id);
    store_game first = v1;
    first.updated_ms = 111;
    cr_assert_eq(do_save(t, &first).status, STORE_OK);
    store_game second = v1;   /* still version 1 */
    second.updated_ms = 222;
    res r = do_save(t, &second);
    cr_assert_eq(r.status, STORE_ECONFLICT, "got %s", store_err_name(r.status));
    cr_assert(r.have_g, "a conflict carries the current record");
    cr_assert_eq(r.g.version, 2);
    cr_assert_eq(r.g.updated_ms, 111);
    cr_assert_eq(load_ok(t, id).updated_ms, 111, "the stale save changed the record");
}

STORE_TEST(concurrent_saves, "two saves of the same version issued together: exactly one wins")
{
    tstore *a = open_store();
    tstore *b = other_store(a);
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    int64_t id = create_ok(a, &g);
    store_game v1 = load_ok(a, id);
    store_game x = v1, y = v1;
    x.updated_ms = 10;
    y.updated_ms = 20;
    res rx = {0}, ry = {0};
    CALL(store_game_save(a->s, &x, game_cb, &rx));
    CALL(store_game_save(b->s, &y, game_cb, &ry));
    RUN_UNTIL(rx.n && ry.n, WAIT_MS);
    check_once(&rx, "save x");
    check_once(&ry, "save y");
    int ok = (rx.status == STORE_OK) + (ry.status == STORE_OK);
    int conflict = (rx.status == STORE_ECONFLICT) + (ry.status == STORE_ECONFLICT);
    cr_assert(ok == 1 && conflict == 1, "x: %s, y: %s", store_err_name(rx.status),
              store_err_name(ry.status));
    int64_t winner = rx.status == STORE_OK ? 10 : 20;
    store_game now = load_ok(a, id);
    cr_assert_eq(now.version, 2);
    cr_assert_eq(now.updated_ms, winner);
}

STORE_TEST(not_found, "load, save and deadline_reset of a game never created: ENOTFOUND")
{
    tstore *t = open_store();
    res r = do_load(t, 99999);
    cr_assert_eq(r.status, STORE_ENOTFOUND, "load: %s", store_err_name(r.status));
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    g.id = 99999;
    g.version = 1;
    r = do_save(t, &g);
    cr_assert_eq(r.status, STORE_ENOTFOUND, "save: %s", store_err_name(r.status));
    r = do_reset(t, &g);
    cr_assert_eq(r.status, STORE_ENOTFOUND, "deadline_reset: %s", store_err_name(r.status));
    /* and a save that failed created nothing */
    cr_assert_eq(do_load(t, 99999).status, STORE_ENOTFOUND);
}

STORE_TEST(quick_pairs, "quick: the first call creates, the second gets that game, the third creates again")
{
    tstore *a = open_store();
    tstore *b = other_store(a);
    store_game t1 = mk_game(STORE_KIND_QUICK, 1, 1);
    store_game t2 = mk_game(STORE_KIND_QUICK, 1, 2);   /* another token */
    res r1 = do_quick(a, &t1);
    cr_assert_eq(r1.status, STORE_OK);
    cr_assert_eq(r1.g.version, 1);
    cr_assert_eq(r1.g.kind, STORE_KIND_QUICK);
    cr_assert(memcmp(r1.g.seat[0].token_hash, t1.seat[0].token_hash, STORE_HASH_LEN) == 0);
    res r2 = do_quick(b, &t2);
    cr_assert_eq(r2.status, STORE_OK);
    cr_assert_eq(r2.g.id, r1.g.id, "second quick got %lld, want %lld", (long long)r2.g.id,
                 (long long)r1.g.id);
    cr_assert(memcmp(r2.g.seat[0].token_hash, t1.seat[0].token_hash, STORE_HASH_LEN) == 0,
              "the matched game keeps its creator's seat");
    res r3 = do_quick(a, &t2);
    cr_assert_eq(r3.status, STORE_OK);
    cr_assert_neq(r3.g.id, r1.g.id, "a game was handed out twice");
    cr_assert(memcmp(r3.g.seat[0].token_hash, t2.seat[0].token_hash, STORE_HASH_LEN) == 0);
}

STORE_TEST(unlisted_once_not_waiting, "a game saved as not waiting leaves the open list and the quick queue")
{
    tstore *t = open_store();
    store_game c = mk_game(STORE_KIND_CREATE, 1, 1);
    int64_t cid = create_ok(t, &c);
    res l = do_list(t, 10);
    cr_assert(list_has(&l, cid), "a waiting created game is listed");
    store_game cur = load_ok(t, cid);
    game_state_start(&cur.st);
    cur.seat[1].taken = 1;
    cr_assert_eq(do_save(t, &cur).status, STORE_OK);
    l = do_list(t, 10);
    cr_assert(!list_has(&l, cid), "a playing game is still listed");

    store_game q = mk_game(STORE_KIND_QUICK, 1, 2);
    res rq = do_quick(t, &q);
    cr_assert_eq(rq.status, STORE_OK);
    store_game qcur = rq.g;
    game_state_start(&qcur.st);
    qcur.seat[1].taken = 1;
    cr_assert_eq(do_save(t, &qcur).status, STORE_OK);
    res rq2 = do_quick(t, &q);
    cr_assert_eq(rq2.status, STORE_OK);
    cr_assert_neq(rq2.g.id, rq.g.id, "a playing quick game was handed out by matchmaking");
    cr_assert_eq(rq2.g.version, 1);
}

STORE_TEST(open_list_order, "open_list: waiting created games only, oldest first, at most max")
{
    tstore *t = open_store();
    int64_t ids[3];
    for (int i = 0; i < 3; i++) {
        store_game g = mk_game(STORE_KIND_CREATE, 1, 1000 + i);
        ids[i] = create_ok(t, &g);
    }
    store_game playing = mk_game(STORE_KIND_CREATE, 0, 2000);
    int64_t pid = create_ok(t, &playing);
    store_game rematch = mk_game(STORE_KIND_REMATCH, 1, 2001);
    int64_t rid = create_ok(t, &rematch);
    store_game quick = mk_game(STORE_KIND_QUICK, 1, 2002);
    int64_t qid = do_quick(t, &quick).g.id;

    res l = do_list(t, 10);
    cr_assert_eq(l.status, STORE_OK);
    cr_assert_eq(l.count, 3, "listed %zu", l.count);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(l.list[i].id, ids[i], "position %d: %lld", i, (long long)l.list[i].id);
        cr_assert_eq(l.list[i].created_ms, 1000 + i);
    }
    cr_assert(!list_has(&l, pid) && !list_has(&l, rid) && !list_has(&l, qid));
    l = do_list(t, 2);
    cr_assert_eq(l.count, 2);
    cr_assert(l.list[0].id == ids[0] && l.list[1].id == ids[1]);
    l = do_list(t, 0);
    cr_assert_eq(l.status, STORE_OK);
    cr_assert_eq(l.count, 0);
}

STORE_TEST(claim_due_lease, "claim_due hands each due game out once per lease, deadline_reset re-arms")
{
    tstore *t = open_store();
    int64_t now = wall_ms();
    int64_t due[2], later, none;
    for (int i = 0; i < 2; i++) {
        store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
        g.deadline_ms = now - 1000 + i * 500;
        due[i] = create_ok(t, &g);
    }
    store_game g3 = mk_game(STORE_KIND_CREATE, 1, 1);
    g3.deadline_ms = now + 60000;
    later = create_ok(t, &g3);
    store_game g4 = mk_game(STORE_KIND_CREATE, 1, 1);
    none = create_ok(t, &g4);

    res c = do_claim(t, now, 30000, 10);
    cr_assert_eq(c.status, STORE_OK);
    cr_assert_eq(c.count, 2, "claimed %zu", c.count);
    cr_assert(ids_has(&c, due[0]) && ids_has(&c, due[1]));
    c = do_claim(t, now + 1000, 30000, 10);
    cr_assert_eq(c.count, 0, "a leased game was handed out again");
    c = do_claim(t, now + 31000, 30000, 1);
    cr_assert_eq(c.count, 1, "max 1 gave %zu", c.count);
    c = do_claim(t, now + 70000, 30000, 10);
    cr_assert(ids_has(&c, later), "the later deadline is due by now");
    cr_assert(!ids_has(&c, none), "a game without deadline was claimed");

    /* a claimed game put back with its deadline is due again at once */
    store_game d0 = load_ok(t, due[0]);
    cr_assert_eq(do_reset(t, &d0).status, STORE_OK);
    c = do_claim(t, now + 1000, 30000, 10);
    cr_assert(ids_has(&c, due[0]), "deadline_reset did not re-arm");
    /* ... and with deadline 0, never */
    d0.deadline_ms = 0;
    cr_assert_eq(do_reset(t, &d0).status, STORE_OK);
    c = do_claim(t, now + 500000, 30000, 10);
    cr_assert(!ids_has(&c, due[0]), "deadline_reset to 0 still claimable");
    /* a save with a new deadline reschedules it */
    d0.deadline_ms = now - 5;
    cr_assert_eq(do_save(t, &d0).status, STORE_OK);
    c = do_claim(t, now, 30000, 10);
    cr_assert(ids_has(&c, due[0]), "save did not schedule the deadline");
}

STORE_TEST(claim_due_once, "claimers racing for the same due games: each game to one claimer")
{
    tstore *a = open_store();
    tstore *b = other_store(a);
    int64_t now = wall_ms();
    int64_t ids[10];
    for (int i = 0; i < 10; i++) {
        store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
        g.deadline_ms = now - 100 - i;
        ids[i] = create_ok(a, &g);
    }
    res ra = {0}, rb = {0};
    CALL(store_claim_due(a->s, now, 60000, 6, ids_cb, &ra));
    CALL(store_claim_due(b->s, now, 60000, 6, ids_cb, &rb));
    RUN_UNTIL(ra.n && rb.n, WAIT_MS);
    check_once(&ra, "claim a");
    check_once(&rb, "claim b");
    cr_assert_eq(ra.count + rb.count, 10, "claimed %zu + %zu", ra.count, rb.count);
    for (int i = 0; i < 10; i++)
        cr_assert(ids_has(&ra, ids[i]) != ids_has(&rb, ids[i]), "game %lld claimed %s",
                  (long long)ids[i], ids_has(&ra, ids[i]) ? "twice" : "by nobody");
}

STORE_TEST(unsubscribe_stops_events, "after unsubscribe a game's saves are no longer published here")
{
    tstore *a = open_store();
    tstore *b = other_store(a);
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    int64_t quiet = create_ok(a, &g), loud = create_ok(a, &g);
    cr_assert_eq(do_subscribe(b, quiet).status, STORE_OK);
    cr_assert_eq(do_subscribe(b, loud).status, STORE_OK);
    store_unsubscribe(b->s, quiet);
    /* unsubscribe has no callback: a round trip on b's subscriber orders it
     * before the saves below */
    cr_assert_eq(do_subscribe(b, 12345).status, STORE_OK);
    store_game q = load_ok(a, quiet), l = load_ok(a, loud);
    cr_assert_eq(do_save(a, &q).status, STORE_OK);
    cr_assert_eq(do_save(a, &l).status, STORE_OK);
    RUN_UNTIL(b->published >= 1, WAIT_MS);
    cr_assert_eq(b->published, 1, "published %d", b->published);
    cr_assert_eq(b->pub_ids[0], loud, "event for the unsubscribed game");
}

STORE_TEST(close_answers_pending, "store_close: an operation still pending completes with ECLOSED")
{
    tstore *t = open_store();
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    int64_t id = create_ok(t, &g);
    res r = {0};
    CALL(store_game_load(t->s, id, game_cb, &r));
    store_close(t->s, on_closed, t);
    RUN_UNTIL(t->closed, WAIT_MS);
    cr_assert_eq(t->closed, 1);
    t->open = 0;
    cr_assert_eq(r.n, 1, "the pending load completed %d times", r.n);
    cr_assert_eq(r.status, STORE_ECLOSED, "got %s", store_err_name(r.status));
}

typedef struct close_inside {
    tstore *t;
    int load_after;              /* also call the store between close and done() */
    res r;
} close_inside;

static void close_from_cb(void *ud, int status, const store_game *g)
{
    close_inside *x = ud;
    game_cb(&x->r, status, g);
    store_close(x->t->s, on_closed, x->t);
    if (x->load_after)
        store_game_load(x->t->s, g ? g->id : 100, game_cb, &x->r);
}

static void close_inside_case(int load_after)
{
    tstore *t = open_store();
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    int64_t id = create_ok(t, &g);
    close_inside x = {.t = t, .load_after = load_after};
    CALL(store_game_load(t->s, id, close_from_cb, &x));
    RUN_UNTIL(t->closed && x.r.n == 1 + load_after, WAIT_MS);
    cr_assert_eq(t->closed, 1, "done() ran %d times", t->closed);
    t->open = 0;
    cr_assert_eq(x.r.n, 1 + load_after, "%d completions", x.r.n);
    if (load_after)
        cr_assert_eq(x.r.status, STORE_ECLOSED, "the load after close: %s",
                     store_err_name(x.r.status));
    else
        cr_assert_eq(x.r.status, STORE_OK);
}

STORE_TEST(close_inside_callback, "store_close from inside a callback: done() runs once, the loop closes")
{
    close_inside_case(0);
}

STORE_TEST(call_after_close, "a call made after store_close but before done() is answered ECLOSED, later")
{
    close_inside_case(1);
}

/* ---- Redis only -------------------------------------------------------------------------- */

static void redis_cli(const char *a1, const char *a2)
{
    char cli[512], port[16];
    snprintf(cli, sizeof(cli), "%s", TTT_REDIS_SERVER);
    char *slash = strrchr(cli, '/');
    snprintf(slash ? slash + 1 : cli, sizeof(cli) - (size_t)(slash ? slash + 1 - cli : 0),
             "redis-cli");
    snprintf(port, sizeof(port), "%d", H.r.port);
    char *argv[] = {cli, "-p", port, (char *)a1, (char *)a2, NULL};
    pid_t pid = proc_spawn(argv, "/dev/null");
    cr_assert(pid > 0);
    int st = proc_wait_exit(pid, 5000);
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "redis-cli %s %s failed", a1, a2);
}

Test(redis, bad_url, .description = "malformed redis URLs are refused by store_open with a reason",
     .fini = fini)
{
    setup(0, 0);
    const char *bad[] = {"http://x:1", "redis://", "redis://host:0", "redis://host:99999",
                         "redis://host:12x", "redis://host:1/db", "unix:", "rediss://h:1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        store_options o = {.redis_url = bad[i]};
        store_events ev = {0};
        char err[200] = "";
        store *s = store_open(&H.loop, &o, &ev, err, sizeof(err));
        cr_assert_null(s, "%s was accepted", bad[i]);
        cr_assert(err[0], "%s: no reason given", bad[i]);
    }
    teardown();
}

Test(redis, down_from_start, .description = "no Redis at all: the store stays down and every op fails EUNAVAIL, later, not inside the call",
     .fini = fini)
{
    setup(0, 0);
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", proc_free_port());
    tstore *t = open_url(url, 0);
    cr_assert(!store_is_up(t->s));
    cr_assert_eq(store_instance(t->s), 0);
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    res r = do_create(t, &g);
    cr_assert_eq(r.status, STORE_EUNAVAIL, "create: %s", store_err_name(r.status));
    r = do_load(t, 100);
    cr_assert_eq(r.status, STORE_EUNAVAIL);
    r = do_subscribe(t, 100);
    cr_assert_eq(r.status, STORE_EUNAVAIL);
    r = do_list(t, 5);
    cr_assert_eq(r.status, STORE_EUNAVAIL);
    /* a few reconnection attempts go by, none succeeds, nothing leaks */
    long long until = proc_now_ms() + 600;
    RUN_UNTIL(proc_now_ms() >= until, 1000);
    cr_assert_eq(t->ups, 0);
    teardown();
}

Test(redis, restart_outage, .description = "redis-server restarts: EUNAVAIL and health(0) while down; health(1), data, subscriptions and scripts (NOSCRIPT path) after",
     .fini = fini, .timeout = 60)
{
    setup(1, 1);
    tstore *a = open_store();
    tstore *b = open_store();
    cr_assert_eq(a->ups, 1);
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    int64_t id = create_ok(a, &g);
    cr_assert_eq(do_subscribe(b, id).status, STORE_OK);
    store_game before = load_ok(a, id);
    uint32_t inst = store_instance(a->s);
    cr_assert(inst > 0);
    cr_assert(store_latency_ms(a->s) > 0, "no round trip measured");

    proc_redis_stop(&H.r, 1);
    RUN_UNTIL(a->downs >= 1 && b->downs >= 1, WAIT_MS);
    cr_assert(a->downs == 1 && b->downs == 1, "health(0): %d, %d", a->downs, b->downs);
    cr_assert(!store_is_up(a->s));
    res r = do_load(a, id);
    cr_assert_eq(r.status, STORE_EUNAVAIL, "load while down: %s", store_err_name(r.status));
    r = do_save(a, &before);
    cr_assert_eq(r.status, STORE_EUNAVAIL, "save while down: %s", store_err_name(r.status));
    r = do_subscribe(b, id + 1);
    cr_assert_eq(r.status, STORE_EUNAVAIL, "subscribe while down: %s", store_err_name(r.status));

    cr_assert_eq(proc_redis_restart(&H.r), 0, "redis-server did not come back");
    RUN_UNTIL(store_is_up(a->s) && store_is_up(b->s), WAIT_MS);
    cr_assert(a->ups == 2 && b->ups == 2, "health(1): %d, %d", a->ups, b->ups);
    cr_assert_eq(store_instance(a->s), inst, "the instance id changed on reconnection");
    store_game after = load_ok(a, id);
    cr_assert(game_eq(&after, &before), "the record did not survive the restart");

    /* scripts were loaded again, and b's subscription was restored */
    after.updated_ms = 99;
    res s = do_save(a, &after);
    cr_assert_eq(s.status, STORE_OK, "save after restart: %s", store_err_name(s.status));
    RUN_UNTIL(b->published >= 1, WAIT_MS);
    cr_assert_eq(b->published, 1);
    cr_assert_eq(b->last_pub.updated_ms, 99);

    /* the script cache flushed behind the stores' back: EVALSHA gets NOSCRIPT */
    redis_cli("SCRIPT", "FLUSH");
    store_game v3 = s.g;
    v3.updated_ms = 100;
    s = do_save(a, &v3);
    cr_assert_eq(s.status, STORE_OK, "save after SCRIPT FLUSH: %s", store_err_name(s.status));
    cr_assert_eq(s.g.version, 3);
    redis_cli("SCRIPT", "FLUSH");
    int64_t id2 = create_ok(b, &g);
    cr_assert_eq(id2, id + 1, "ids after the restart: %lld", (long long)id2);
    RUN_UNTIL(b->published >= 2, WAIT_MS);
    cr_assert_eq(b->last_pub.version, 3);
    teardown();
}

Test(redis, hung_server, .description = "a hung redis-server (SIGSTOP): no early subscribe confirmation, ops time out with EUNAVAIL and health(0), all back after SIGCONT",
     .fini = fini, .timeout = 60)
{
    setup(1, 0);
    tstore *a = open_store();
    tstore *b = open_store();
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    int64_t id = create_ok(a, &g);

    cr_assert_eq(kill(H.r.pid, SIGSTOP), 0);
    res sub = {0}, ld = {0};
    CALL(store_subscribe(b->s, id, done_cb, &sub));
    CALL(store_game_load(a->s, id, game_cb, &ld));
    long long t0 = proc_now_ms();
    RUN_UNTIL(ld.n, 15000);
    check_once(&ld, "load");
    cr_assert_eq(ld.status, STORE_EUNAVAIL, "load: %s", store_err_name(ld.status));
    cr_assert_geq(proc_now_ms() - t0, 4000, "gave up after %lld ms", proc_now_ms() - t0);
    cr_assert_eq(sub.n, 0, "subscribe confirmed while Redis could not have");
    cr_assert_eq(a->downs, 1, "health(0) %d times", a->downs);

    cr_assert_eq(kill(H.r.pid, SIGCONT), 0);
    RUN_UNTIL(sub.n && store_is_up(a->s) && store_is_up(b->s), 15000);
    check_once(&sub, "subscribe");
    cr_assert_eq(sub.status, STORE_OK, "subscribe: %s", store_err_name(sub.status));
    cr_assert(store_is_up(a->s) && store_is_up(b->s));
    cr_assert_eq(a->ups, 2);
    store_game back = load_ok(a, id);
    cr_assert_eq(back.version, 1);
    /* Redis stalled, not the processes: nobody may be taken for dead (the
     * reaps queued during the stall run first after SIGCONT) */
    cr_assert_eq(a->orphaned + b->orphaned, 0, "a live instance was reported dead");
    teardown();
}

static int completions;

static void count_cb(void *ud, int status, const store_game *g)
{
    game_cb(ud, status, g);
    completions++;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

Test(redis, ids_2000_two_stores, .description = "2000 creates from two stores at once: 2000 distinct consecutive ids from 100",
     .fini = fini, .timeout = 60)
{
    setup(1, 0);
    tstore *a = open_store();
    tstore *b = open_store();
    enum { N = 2000 };
    res *rs = calloc(N, sizeof(*rs));
    int64_t *ids = calloc(N, sizeof(*ids));
    cr_assert(rs && ids);
    completions = 0;
    for (int i = 0; i < N; i++) {
        store_game g = mk_game(STORE_KIND_CREATE, 1, i);
        CALL(store_game_create((i % 2 ? b : a)->s, &g, count_cb, &rs[i]));
    }
    RUN_UNTIL(completions >= N, 30000);
    cr_assert_eq(completions, N, "%d of %d creates completed", completions, N);
    for (int i = 0; i < N; i++) {
        check_once(&rs[i], "create");
        cr_assert_eq(rs[i].status, STORE_OK, "create %d: %s", i, store_err_name(rs[i].status));
        cr_assert_eq(rs[i].g.version, 1);
        ids[i] = rs[i].g.id;
    }
    qsort(ids, N, sizeof(*ids), cmp_i64);
    for (int i = 0; i < N; i++)
        cr_assert_eq(ids[i], 100 + i, "sorted id %d is %lld", i, (long long)ids[i]);
    free(rs);
    free(ids);
    teardown();
}

/* A second process: takes a seat in one game, reports "instance id", then
 * waits to be killed without saying goodbye. */
static void child_main(const char *url, int wfd)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0)
        _exit(2);
    store_options o = {.redis_url = url, .instance_name = "child"};
    store_events ev = {0};
    char err[200];
    store *s = store_open(&loop, &o, &ev, err, sizeof(err));
    if (!s)
        _exit(3);
    long long end = proc_now_ms() + WAIT_MS;
    while (!store_is_up(s) && proc_now_ms() < end)
        uv_run(&loop, UV_RUN_ONCE);
    if (!store_is_up(s))
        _exit(4);
    store_game g = mk_game(STORE_KIND_CREATE, 0, 1);
    g.seat[0].nholders = 1;
    g.seat[0].holders[0] = store_instance(s);
    res r = {0};
    store_game_create(s, &g, game_cb, &r);
    while (!r.n && proc_now_ms() < end)
        uv_run(&loop, UV_RUN_ONCE);
    if (r.status != STORE_OK)
        _exit(5);
    dprintf(wfd, "%u %lld\n", store_instance(s), (long long)r.g.id);
    for (;;)
        pause();
}

static int child_said(int fd, char *buf, size_t len)
{
    ssize_t n = read(fd, buf, len - 1);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return 1;
}

Test(redis, orphaned_once, .description = "a process killed without goodbye: exactly one survivor gets orphaned() with its games; a clean close is not reported",
     .fini = fini, .timeout = 60)
{
    setup(1, 0);
    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    H.child = fork();
    cr_assert(H.child >= 0);
    if (H.child == 0) {
        close(pfd[0]);
        child_main(H.r.url, pfd[1]);
        _exit(0);
    }
    close(pfd[1]);
    fcntl(pfd[0], F_SETFL, O_NONBLOCK);

    tstore *a = open_store();
    tstore *b = open_store();
    tstore *c = open_store();   /* leaves cleanly, holding no seat */
    uint32_t cinst = store_instance(c->s);
    close_store(c);

    char buf[64] = "";
    RUN_UNTIL(child_said(pfd[0], buf, sizeof(buf)), 15000);
    close(pfd[0]);
    unsigned inst = 0;
    long long gid = 0;
    cr_assert_eq(sscanf(buf, "%u %lld", &inst, &gid), 2, "the child said \"%s\"", buf);
    cr_assert(inst && inst != store_instance(a->s) && inst != store_instance(b->s) &&
              inst != cinst);
    proc_kill9(H.child);
    H.child = 0;

    /* silent for 5 s, looked for every 2 s */
    RUN_UNTIL(a->orphaned + b->orphaned >= 1, 15000);
    cr_assert_eq(a->orphaned + b->orphaned, 1, "orphaned raised %d times",
                 a->orphaned + b->orphaned);
    long long until = proc_now_ms() + 4500;   /* two more looks: nobody reports it again */
    RUN_UNTIL(proc_now_ms() >= until, 5000);
    cr_assert_eq(a->orphaned + b->orphaned, 1, "orphaned raised %d times",
                 a->orphaned + b->orphaned);
    tstore *w = a->orphaned ? a : b;
    cr_assert_eq(w->orph_inst, inst);
    cr_assert_eq(w->orph_n, 1, "%zu games", w->orph_n);
    cr_assert_eq(w->orph_ids[0], gid);
    teardown();
}

Test(redis, url_forms, .description = "redis://user:password@host:port/db (percent-encoded) and unix:/path; a wrong password never comes up",
     .fini = fini, .timeout = 60)
{
    setup(0, 0);
    H.r.dir = proc_tmpdir("redis-acl");
    cr_assert(H.r.dir);
    H.r.port = proc_free_port();
    char port[16], sock[300], log[300];
    snprintf(port, sizeof(port), "%d", H.r.port);
    snprintf(sock, sizeof(sock), "%s/redis.sock", H.r.dir);
    snprintf(log, sizeof(log), "%s/redis.log", H.r.dir);
    char *argv[] = {TTT_REDIS_SERVER, "--port", port, "--bind", "127.0.0.1", "--dir", H.r.dir,
                    "--save", "", "--unixsocket", sock, "--unixsocketperm", "700",
                    "--user", "ttt", "on", ">p@ss", "~*", "&*", "+@all", NULL};
    H.r.pid = proc_spawn(argv, log);
    cr_assert(H.r.pid > 0);
    cr_assert_eq(proc_wait_port(H.r.port, H.r.pid, 10000), 0, "redis-server did not start");

    char url[400];
    snprintf(url, sizeof(url), "redis://ttt:p%%40ss@127.0.0.1:%d/3", H.r.port);
    tstore *db3 = open_url(url, 1);
    snprintf(url, sizeof(url), "unix:%s", sock);
    tstore *ux = open_url(url, 1);
    snprintf(url, sizeof(url), "redis://ttt:wrong@localhost:%d", H.r.port);
    tstore *bad = open_url(url, 0);

    /* separate databases: each has its own id counter */
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    cr_assert_eq(create_ok(db3, &g), 100);
    cr_assert_eq(create_ok(ux, &g), 100);
    cr_assert_eq(create_ok(db3, &g), 101);
    cr_assert_eq(do_load(ux, 101).status, STORE_ENOTFOUND, "unix:/path is not on db 0");
    long long until = proc_now_ms() + 300;
    RUN_UNTIL(proc_now_ms() >= until, 1000);
    cr_assert(!store_is_up(bad->s), "up with a wrong password");
    cr_assert_eq(do_load(bad, 100).status, STORE_EUNAVAIL);
    teardown();
    proc_redis_stop(&H.r, 0);
}

/* ---- the record codec and the Redis URL parser (pure; issue 8 section 5) -------------- */

#include "redis_url.h"
#include "store_codec.h"

static store_game codec_sample(void)
{
    store_game g = mk_game(STORE_KIND_CREATE, 0, 123456789);
    g.id = 4242;
    g.version = 7;
    g.st.ply = 3;
    g.st.moves[0] = 4, g.st.moves[1] = 0, g.st.moves[2] = 8;
    g.st.board.x = (1 << 4) | (1 << 8), g.st.board.o = 1;
    g.st.line[0] = -1, g.st.line[1] = -1, g.st.line[2] = -1;
    g.seat[0].nholders = 2, g.seat[0].holders[0] = 3, g.seat[0].holders[1] = 0xfffffff0u;
    g.seat[1].away_ms = -5;
    g.level = GAME_AI_PERFECT;
    g.rematch[1] = 1;
    g.rematch_id = 4243;
    g.deadline_ms = INT64_MAX;
    return g;
}

Test(codec, roundtrip, .description = "rec_encode then rec_decode gives back every stored field")
{
    store_game g = codec_sample(), back;
    uint8_t buf[REC_MAX];
    size_t n = rec_encode(&g, g.id, g.version, g.kind, buf);
    cr_assert(n > 0 && n <= REC_MAX, "length %zu", n);
    cr_assert_eq(rec_decode(buf, n, &back), 0);
    cr_assert(game_eq(&g, &back), "a field did not survive");
    /* at most 4 holders per seat are kept, as documented */
    g.seat[1].nholders = 9;
    n = rec_encode(&g, g.id, g.version, g.kind, buf);
    cr_assert_eq(rec_decode(buf, n, &back), 0);
    cr_assert_eq(back.seat[1].nholders, STORE_MAX_HOLDERS);
}

Test(codec, truncated_and_long, .description = "every truncation of a record, and one byte more, is refused")
{
    store_game g = codec_sample(), back;
    uint8_t buf[REC_MAX + 1];
    size_t n = rec_encode(&g, g.id, g.version, g.kind, buf);
    for (size_t k = 0; k < n; k++) {
        /* a heap copy of exactly k bytes, so ASan sees any read past it */
        uint8_t *cut = malloc(k ? k : 1);
        memcpy(cut, buf, k);
        cr_assert_eq(rec_decode(cut, k, &back), -1, "%zu of %zu bytes accepted", k, n);
        free(cut);
    }
    buf[n] = 0;
    cr_assert_eq(rec_decode(buf, n + 1, &back), -1, "a trailing byte was accepted");
    cr_assert_eq(rec_decode(NULL, 0, &back), -1);
}

Test(codec, hostile_values, .description = "format, nholders, ply, cells, status, marks and flags out of range are refused")
{
    store_game g = codec_sample(), back;
    uint8_t buf[REC_MAX];
    size_t n = rec_encode(&g, g.id, g.version, g.kind, buf);
    /* offsets in format 1: 0 format, 1 id, 9 version, 17 x, 19 o, 21 moves,
     * 30 ply, 31 status, 32 result, 33 winner, 34 line, 37 seat X */
    struct { size_t off; uint8_t v; const char *what; } bad[] = {
        {0, 2, "format 2"}, {30, 10, "ply 10"}, {21, 9, "move cell 9"}, {31, 3, "status 3"},
        {32, 5, "result 5"}, {33, 3, "winner 3"}, {34, 9, "line cell 9"}, {18, 0x02, "x mask > 9 bits"},
        {37, 2, "taken 2"}, {39, 5, "nholders 5"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t copy[REC_MAX];
        memcpy(copy, buf, n);
        copy[bad[i].off] = bad[i].v;
        cr_assert_eq(rec_decode(copy, n, &back), -1, "%s accepted", bad[i].what);
    }
    uint8_t zero_id[REC_MAX];
    n = rec_encode(&g, 0, g.version, g.kind, zero_id);
    cr_assert_eq(rec_decode(zero_id, n, &back), -1, "id 0 accepted");
}

Test(url, parse_forms, .description = "redis_url_parse: every documented form, percent-decoding, defaults")
{
    redis_url u;
    char err[160];
    cr_assert_eq(redis_url_parse(&u, "redis://127.0.0.1", err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(u.host, "127.0.0.1");
    cr_assert(u.port == 6379 && u.db == 0 && u.numeric_host && !u.pass && !u.user);
    redis_url_free(&u);
    cr_assert_eq(redis_url_parse(&u, "redis://al%69ce:p%40ss%zz@cache.local:7000/12", err, sizeof err), 0);
    cr_assert_str_eq(u.user, "alice");
    cr_assert_str_eq(u.pass, "p@ss%zz");
    cr_assert_str_eq(u.host, "cache.local");
    cr_assert(u.port == 7000 && u.db == 12 && !u.numeric_host);
    redis_url_free(&u);
    cr_assert_eq(redis_url_parse(&u, "redis://:secret@[::1]:6380/", err, sizeof err), 0);
    cr_assert(!u.user && u.pass && strcmp(u.pass, "secret") == 0);
    cr_assert_str_eq(u.host, "::1");
    cr_assert(u.port == 6380 && u.numeric_host);
    redis_url_free(&u);
    cr_assert_eq(redis_url_parse(&u, "redis://:@h:1", err, sizeof err), 0);
    cr_assert_null(u.pass, "an empty password counts as none");
    redis_url_free(&u);
    cr_assert_eq(redis_url_parse(&u, "unix:///run/redis.sock", err, sizeof err), 0);
    cr_assert_str_eq(u.unix_path, "/run/redis.sock");
    redis_url_free(&u);
}

Test(url, parse_refused, .description = "redis_url_parse refuses malformed URLs with a reason and leaves nothing allocated")
{
    const char *bad[] = {"http://x:1", "redis://", "redis://host:0", "redis://host:99999",
                         "redis://host:12x", "redis://host:1/db", "unix:", "rediss://h:1",
                         "redis://h:", "redis://[::1", "redis://h:1/1000001", "redis://a b:1",
                         "redis://u:p@", "redis://h:1/-1", NULL};
    for (size_t i = 0; bad[i]; i++) {
        redis_url u;
        char err[160] = "";
        cr_assert_eq(redis_url_parse(&u, bad[i], err, sizeof err), -1, "%s accepted", bad[i]);
        cr_assert(err[0], "%s: no reason", bad[i]);
        cr_assert(!u.host && !u.pass && !u.user && !u.unix_path);
    }
    redis_url u;
    cr_assert_eq(redis_url_parse(&u, NULL, NULL, 0), -1);
}

/* ---- issue 8: definite outcomes, data loss, namespaces, the open-list policy ----------- */

/* redis-cli -p <port> args... (NULL-terminated), must exit 0 */
static void redis_cliv(const char *const *args)
{
    char cli[512], port[16];
    snprintf(cli, sizeof(cli), "%s", TTT_REDIS_SERVER);
    char *slash = strrchr(cli, '/');
    snprintf(slash ? slash + 1 : cli, sizeof(cli) - (size_t)(slash ? slash + 1 - cli : 0),
             "redis-cli");
    snprintf(port, sizeof(port), "%d", H.r.port);
    char *argv[16] = {cli, "-p", port};
    int n = 3;
    for (; args[n - 3] && n < 15; n++)
        argv[n] = (char *)args[n - 3];
    argv[n] = NULL;
    pid_t pid = proc_spawn(argv, "/dev/null");
    cr_assert(pid > 0);
    int st = proc_wait_exit(pid, 5000);
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "redis-cli %s failed", args[0]);
}

static void run_for(long long ms)
{
    long long until = proc_now_ms() + ms;
    RUN_UNTIL(proc_now_ms() >= until, ms + 1000);
}

Test(redis, in_doubt_frozen, .description = "writes sent to a redis-server frozen past the op timeout (SIGSTOP 7 s) are answered with what Redis did once it resumes: saved and created, never unavailable",
     .fini = fini, .timeout = 90)
{
    setup(1, 0);
    tstore *t = open_store();
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    int64_t id = create_ok(t, &g);
    store_game cur = load_ok(t, id);

    cr_assert_eq(kill(H.r.pid, SIGSTOP), 0);
    res sv = {0}, cr = {0};
    store_game next = cur;
    next.updated_ms = 4242;
    CALL(store_game_save(t->s, &next, game_cb, &sv));
    CALL(store_game_create(t->s, &g, game_cb, &cr));
    long long t0 = proc_now_ms();
    /* the old store answered EUNAVAIL at the 5 s op timeout, and Redis ran
     * both writes when it resumed */
    RUN_UNTIL(sv.n || cr.n || proc_now_ms() - t0 >= 7000, 9000);
    cr_assert(sv.n == 0 && cr.n == 0, "answered while Redis was frozen: save %s, create %s",
              sv.n ? store_err_name(sv.status) : "-", cr.n ? store_err_name(cr.status) : "-");
    cr_assert(t->downs >= 1, "the hung connection was not given up");
    cr_assert_eq(kill(H.r.pid, SIGCONT), 0);
    RUN_UNTIL(sv.n && cr.n, 20000);
    check_once(&sv, "save");
    check_once(&cr, "create");
    cr_assert_eq(sv.status, STORE_OK, "save: %s", store_err_name(sv.status));
    cr_assert_eq(sv.g.version, 2);
    cr_assert_eq(cr.status, STORE_OK, "create: %s", store_err_name(cr.status));
    cr_assert_eq(cr.g.id, id + 1, "created id %lld", (long long)cr.g.id);
    cr_assert_eq(cr.g.version, 1);
    store_game after = load_ok(t, id);
    cr_assert_eq(after.version, 2, "stored version %llu", (unsigned long long)after.version);
    cr_assert_eq(after.updated_ms, 4242);
    store_game made = load_ok(t, cr.g.id);
    cr_assert(game_eq(&made, &cr.g), "the record answered is not the one stored");
    teardown();
}

Test(redis, in_doubt_cut, .description = "a save cut off after it was sent (CLIENT PAUSE WRITE, then CLIENT KILL) and never run is answered EUNAVAIL only after the store made sure it never will run",
     .fini = fini, .timeout = 90)
{
    setup(1, 0);
    tstore *t = open_store();
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    int64_t id = create_ok(t, &g);
    store_game cur = load_ok(t, id);

    const char *pause[] = {"CLIENT", "PAUSE", "3000", "WRITE", NULL};
    redis_cliv(pause);
    res sv = {0};
    store_game next = cur;
    next.updated_ms = 777;
    CALL(store_game_save(t->s, &next, game_cb, &sv));
    run_for(300);   /* the command reaches Redis and is held by the pause */
    cr_assert_eq(sv.n, 0, "answered while paused");
    const char *kill_normal[] = {"CLIENT", "KILL", "TYPE", "normal", NULL};
    redis_cliv(kill_normal);
    RUN_UNTIL(sv.n, 20000);
    check_once(&sv, "save");
    cr_assert_eq(sv.status, STORE_EUNAVAIL, "save: %s", store_err_name(sv.status));
    /* unavailable means unchanged, now and later */
    store_game after = load_ok(t, id);
    cr_assert_eq(after.version, 1);
    run_for(500);
    after = load_ok(t, id);
    cr_assert_eq(after.version, 1, "the write ran after it was reported unavailable");
    cr_assert_neq(after.updated_ms, 777);
    teardown();
}

/* create games until the last id is want_last, checking lost() on the way */
static void lost_case(int restart)
{
    setup(1, 0);
    tstore *t = open_store();
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    int64_t a = create_ok(t, &g), b = create_ok(t, &g);
    cr_assert(a == 100 && b == 101);
    cr_assert_eq(do_subscribe(t, a).status, STORE_OK);
    if (restart) {
        proc_kill9(H.r.pid);
        cr_assert_eq(proc_redis_restart(&H.r), 0, "redis-server did not come back");
    } else {
        redis_cli("FLUSHALL", NULL);
    }
    RUN_UNTIL(t->lost && store_is_up(t->s), WAIT_MS);
    cr_assert_eq(t->lost, 1, "lost() raised %d times", t->lost);
    cr_assert_eq(store_lost_count(t->s), 1);
    /* creates may be refused (EUNAVAIL) for a moment while every live
     * process raises the counter; the first one that succeeds is above */
    res r = {0};
    long long end = proc_now_ms() + WAIT_MS;
    do {
        r = do_create(t, &g);
    } while (r.status == STORE_EUNAVAIL && proc_now_ms() < end && (run_for(200), 1));
    cr_assert_eq(r.status, STORE_OK, "create after the loss: %s", store_err_name(r.status));
    cr_assert_gt(r.g.id, b, "id %lld handed out again after the loss", (long long)r.g.id);
    cr_assert_eq(do_load(t, a).status, STORE_ENOTFOUND);
    /* a second store that never saw the old data continues above it too */
    tstore *u = open_store();
    cr_assert_gt(create_ok(u, &g), r.g.id);
    cr_assert_eq(u->lost, 0, "a newcomer cannot know of a loss");
    teardown();
}

Test(redis, lost_flushall, .description = "FLUSHALL under a live store: lost() once, counted, no id handed out again",
     .fini = fini, .timeout = 60)
{
    lost_case(0);
}

Test(redis, lost_restart_empty, .description = "redis-server killed (-9, no persistence) and restarted empty: lost() once, no id handed out again",
     .fini = fini, .timeout = 60)
{
    lost_case(1);
}

Test(redis, namespaces_apart, .description = "stores on other prefixes or another db of one redis-server keep their own ids and never hear each other's saves",
     .fini = fini, .timeout = 60)
{
    setup(1, 0);
    char db1[96];
    snprintf(db1, sizeof(db1), "%s/1", H.r.url);
    tstore *a = open_store();
    open_prefix = "other";
    tstore *b = open_store();
    open_prefix = NULL;
    tstore *c = open_url(db1, 1);
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    tstore *all[] = {a, b, c};
    store_game rec[3];
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(create_ok(all[i], &g), 100, "store %d: its own ids start at 100", i);
        rec[i] = load_ok(all[i], 100);
        cr_assert_eq(do_subscribe(all[i], 100).status, STORE_OK);
    }
    /* b and c save their game 100; a must hear neither */
    for (int i = 1; i < 3; i++) {
        res s = do_save(all[i], &rec[i]);
        cr_assert_eq(s.status, STORE_OK);
        RUN_UNTIL(all[i]->published, WAIT_MS);
        cr_assert_eq(all[i]->published, 1, "store %d did not hear its own save", i);
    }
    cr_assert_eq(load_ok(a, 100).version, 1, "another deployment's save changed ours");
    res s = do_save(a, &rec[0]);
    cr_assert_eq(s.status, STORE_OK);
    RUN_UNTIL(a->published, WAIT_MS);   /* our own save arrives: the others' would have too */
    cr_assert_eq(a->published, 1, "a heard %d saves, only 1 is its own", a->published);
    cr_assert_eq(b->published + c->published, 2, "a's save reached another deployment");
    res l = do_list(b, 10);
    cr_assert_eq(l.count, 1, "b lists %zu games", l.count);

    store_options o = {.redis_url = H.r.url, .redis_prefix = "bad prefix"};
    store_events ev = {0};
    char err[200] = "";
    cr_assert_null(store_open(&H.loop, &o, &ev, err, sizeof(err)), "a prefix with a space was accepted");
    cr_assert(err[0]);
    teardown();
}

STORE_TEST(away_creator_unlisted, "a waiting game whose creator is away leaves the open list, and comes back in its place when the creator is")
{
    tstore *t = open_store();
    store_game g = mk_game(STORE_KIND_CREATE, 1, 10);
    g.seat[0].nholders = 1;
    g.seat[0].holders[0] = 1;
    int64_t first = create_ok(t, &g), second = create_ok(t, &g);
    res l = do_list(t, 10);
    cr_assert(list_has(&l, first) && list_has(&l, second));

    store_game away = load_ok(t, first);
    away.seat[0].nholders = 0;
    away.seat[0].away_ms = wall_ms();
    res s = do_save(t, &away);
    cr_assert_eq(s.status, STORE_OK);
    l = do_list(t, 10);
    cr_assert(!list_has(&l, first), "a game whose creator is away is listed");
    cr_assert(list_has(&l, second));

    store_game back = s.g;
    back.seat[0].nholders = 1;
    back.seat[0].away_ms = 0;
    cr_assert_eq(do_save(t, &back).status, STORE_OK);
    l = do_list(t, 10);
    cr_assert_eq(l.count, 2);
    cr_assert(l.list[0].id == first && l.list[1].id == second, "not back in its place by age");
}
