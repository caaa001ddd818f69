/* tstore.c -- the shared harness of the test_store* binaries: one or more
 * stores on a uv loop (memory or a real redis-server on a free port), their
 * events, bounded runs of the loop, and synchronous-looking wrappers around
 * every store call. Split out of the old single tests/test_store.c; see
 * tstore.h. */
#include "tstore.h"






















/* one store and what its events saw */


/* the result of one call */



tstore_harness H;



/* the call itself must not answer: callbacks run later, from the loop */


void wake_cb(uv_timer_t *t) { (void)t; }   /* bounds each UV_RUN_ONCE */

void fini(void)
{
    if (H.child > 0)
        proc_kill9(H.child);
    if (H.r.pid > 0) {
        kill(H.r.pid, SIGCONT);
        proc_redis_stop(&H.r, 0);
    }
}

/* ---- events and callbacks ---------------------------------------------------------- */

void ev_published(void *ud, const store_game *g)
{
    tstore *t = ud;
    t->last_pub = *g;
    if (t->npub < 64)
        t->pub_ids[t->npub++] = g->id;
    t->published++;
}

void ev_health(void *ud, int up)
{
    tstore *t = ud;
    if (up)
        t->ups++;
    else
        t->downs++;
}

void ev_orphaned(void *ud, uint32_t inst, const int64_t *ids, size_t n)
{
    tstore *t = ud;
    t->orphaned++;
    t->orph_inst = inst;
    t->orph_n = n;
    for (size_t i = 0; i < n && i < 16; i++)
        t->orph_ids[i] = ids[i];
}

void ev_lost(void *ud)
{
    ((tstore *)ud)->lost++;
}

void count_handle(uv_handle_t *h, void *arg)
{
    if (h != (uv_handle_t *)&H.wake)
        ++*(int *)arg;
}

void on_closed(void *ud)
{
    tstore *t = ud;
    t->closed++;
    t->handles_at_done = 0;
    uv_walk(&H.loop, count_handle, &t->handles_at_done);
}

void game_cb(void *ud, int status, const store_game *g)
{
    res *r = ud;
    r->early |= H.in_call;
    r->n++;
    r->status = status;
    r->have_g = g != NULL;
    if (g)
        r->g = *g;
}

void list_cb(void *ud, int status, const store_open_game *games, size_t n)
{
    res *r = ud;
    r->early |= H.in_call;
    r->n++;
    r->status = status;
    r->count = n;
    for (size_t i = 0; i < n && i < 64; i++)
        r->list[i] = games[i];
}

void ids_cb(void *ud, int status, const int64_t *ids, size_t n)
{
    res *r = ud;
    r->early |= H.in_call;
    r->n++;
    r->status = status;
    r->count = n;
    for (size_t i = 0; i < n && i < 64; i++)
        r->ids[i] = ids[i];
}

void done_cb(void *ud, int status)
{
    res *r = ud;
    r->early |= H.in_call;
    r->n++;
    r->status = status;
}

/* ---- set-up and tear-down --------------------------------------------------------- */

void setup(int redis, int aof)
{
    memset(&H, 0, sizeof(H));
    H.r.pid = -1;
    H.redis = redis;
    if (redis == 2) {
        const char *seeds = tstore_cluster_seeds();
        cr_assert(seeds, "the Redis Cluster did not start");
        /* every seed in the URL; a namespace of its own per case */
        snprintf(H.url, sizeof H.url, "redis://%s", seeds);
        snprintf(H.prefix, sizeof H.prefix, "t%d", (int)getpid());
        open_prefix = H.prefix;
    } else if (redis) {
        cr_assert_eq(proc_redis_start(&H.r, aof), 0, "redis-server did not start");
        snprintf(H.url, sizeof H.url, "%s", H.r.url);
    }
    cr_assert_eq(uv_loop_init(&H.loop), 0);
    uv_timer_init(&H.loop, &H.wake);
    uv_timer_start(&H.wake, wake_cb, 20, 20);
}

const char *open_prefix;   /* --redis-prefix of the next open_url(), NULL: default */

/* no cluster in the binaries without tstore_cluster.c */
__attribute__((weak)) const char *tstore_cluster_seeds(void) { return NULL; }

tstore *open_url(const char *url, int wait_up)
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

tstore *open_store(void)
{
    return open_url(H.redis ? H.url : NULL, 1);
}

/* a second view of the same data: another process' store with Redis; with
 * memory the same store (memory is one process' world) */
tstore *other_store(tstore *first)
{
    return H.redis ? open_store() : first;
}

void close_store(tstore *t)
{
    store_close(t->s, on_closed, t);
    RUN_UNTIL(t->closed, WAIT_MS);
    cr_assert_eq(t->closed, 1, "store_close: done() ran %d times", t->closed);
    t->open = 0;
}

void teardown(void)
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
    if (H.redis == 1)
        proc_redis_stop(&H.r, 0);
    if (H.redis == 2)
        open_prefix = NULL;
#ifdef __SANITIZE_ADDRESS__
    /* at exit LeakSanitizer only prints: make a leak fail the case */
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "memory leaked (LeakSanitizer report above)");
#endif
}

/* ---- records ------------------------------------------------------------------------ */

store_game mk_game(uint8_t kind, int waiting, int64_t created_ms)
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
int game_eq(const store_game *a, const store_game *b)
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

void check_once(const res *r, const char *what)
{
    cr_assert_eq(r->n, 1, "%s: callback ran %d times", what, r->n);
    cr_assert(!r->early, "%s: callback ran inside the call", what);
}

/* Run the loop until the call made into r has answered, and check that it
 * answered once, and not inside the call. */
res await_one(res *r, const char *what)
{
    RUN_UNTIL(r->n, WAIT_MS);
    check_once(r, what);
    return *r;
}

res do_create(tstore *t, const store_game *g)
{
    res r = {0};
    CALL(store_game_create(t->s, g, game_cb, &r));
    return await_one(&r, "create");
}

res do_load(tstore *t, int64_t id)
{
    res r = {0};
    CALL(store_game_load(t->s, id, game_cb, &r));
    return await_one(&r, "load");
}

res do_save(tstore *t, const store_game *g)
{
    res r = {0};
    CALL(store_game_save(t->s, g, game_cb, &r));
    return await_one(&r, "save");
}

res do_quick(tstore *t, const store_game *g)
{
    res r = {0};
    CALL(store_game_quick(t->s, g, game_cb, &r));
    return await_one(&r, "quick");
}

res do_list(tstore *t, size_t max)
{
    res r = {0};
    CALL(store_open_list(t->s, max, list_cb, &r));
    return await_one(&r, "open_list");
}

res do_claim(tstore *t, int64_t now, int64_t lease, size_t max)
{
    res r = {0};
    CALL(store_claim_due(t->s, now, lease, max, ids_cb, &r));
    return await_one(&r, "claim_due");
}

res do_subscribe(tstore *t, int64_t id)
{
    res r = {0};
    CALL(store_subscribe(t->s, id, done_cb, &r));
    return await_one(&r, "subscribe");
}

res do_reset(tstore *t, const store_game *g)
{
    res r = {0};
    CALL(store_deadline_reset(t->s, g, done_cb, &r));
    return await_one(&r, "deadline_reset");
}

int64_t create_ok(tstore *t, const store_game *g)
{
    res r = do_create(t, g);
    cr_assert_eq(r.status, STORE_OK, "create: %s", store_err_name(r.status));
    cr_assert(r.have_g);
    return r.g.id;
}

store_game load_ok(tstore *t, int64_t id)
{
    res r = do_load(t, id);
    cr_assert_eq(r.status, STORE_OK, "load %lld: %s", (long long)id, store_err_name(r.status));
    cr_assert(r.have_g);
    return r.g;
}

int64_t wall_ms(void)
{
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int list_has(const res *r, int64_t id)
{
    for (size_t i = 0; i < r->count; i++)
        if (r->list[i].id == id)
            return 1;
    return 0;
}

int ids_has(const res *r, int64_t id)
{
    for (size_t i = 0; i < r->count; i++)
        if (r->ids[i] == id)
            return 1;
    return 0;
}

