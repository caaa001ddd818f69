/* test_store_index.c -- the indexes (issue 9). First the policy both
 * backends share, store_index_of() (store.h), pure: what a record's entries
 * should be. Then the Redis backend's indexes as hints: the signature
 * written is that policy in its old format, an ordinary move sends no index
 * command, a stale entry is skipped and cleaned by its reader, a missing one
 * is put back by the sweep. Those run on a real redis-server; admin commands
 * through hiredis' blocking API (test code, never the server's loop). The
 * harness is tests/support/tstore.h. */
#include "tstore.h"
#include "store_heap.h"

#include <hiredis/hiredis.h>

/* ---- the policy, pure ---------------------------------------------------------------- */

static store_index index_of(const store_game *g)
{
    store_index ix;
    memset(&ix, 0xa5, sizeof ix);   /* what it does not set would show */
    store_index_of(g, &ix);
    return ix;
}

Test(policy, open_list, .description = "open: a waiting create game whose creator is present (connected, never away, or the computer); nothing else")
{
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    store_index ix = index_of(&g);
    cr_assert(ix.open && !ix.quick && !ix.finished, "a fresh waiting create game is not open");
    g.seat[0].away_ms = 1234;   /* the creator's last connection dropped */
    cr_assert(!index_of(&g).open, "listed with its creator away");
    g.seat[0].nholders = 1;     /* ... and one is back, before away_ms is cleared */
    g.seat[0].holders[0] = 3;
    cr_assert(index_of(&g).open, "not listed with its creator connected");
    g.seat[0].nholders = 0;
    g.seat[0].computer = 1;     /* the computer is always there */
    cr_assert(index_of(&g).open, "not listed with the computer as creator");

    store_game p = mk_game(STORE_KIND_CREATE, 0, 1);
    cr_assert(!index_of(&p).open, "a playing game is listed");
    p.st.status = GAME_OVER;
    cr_assert(!index_of(&p).open, "a finished game is listed");
    store_game r = mk_game(STORE_KIND_REMATCH, 1, 1);
    ix = index_of(&r);
    cr_assert(!ix.open && !ix.quick, "a waiting rematch is listed or queued");
}

Test(policy, quick_queue, .description = "quick: a waiting quick game, its creator present or not; never open")
{
    store_game q = mk_game(STORE_KIND_QUICK, 1, 1);
    store_index ix = index_of(&q);
    cr_assert(ix.quick && !ix.open, "a waiting quick game: quick %d open %d", ix.quick, ix.open);
    q.seat[0].away_ms = 1234;
    cr_assert(index_of(&q).quick, "a quick game left the queue with its creator away");
    game_state_start(&q.st);
    q.seat[1].taken = 1;
    cr_assert(!index_of(&q).quick, "a playing quick game is queued");
    q.st.status = GAME_OVER;
    ix = index_of(&q);
    cr_assert(!ix.quick && ix.finished, "a finished quick game: quick %d finished %d", ix.quick,
              ix.finished);
}

Test(policy, deadline_and_finished, .description = "deadline: as in the record, none for 0 or a negative time; finished exactly when over")
{
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    g.deadline_ms = 5000;
    store_index ix = index_of(&g);
    cr_assert_eq(ix.deadline_ms, 5000);
    cr_assert(!ix.finished, "a waiting game is finished");
    g.deadline_ms = 0;
    cr_assert_eq(index_of(&g).deadline_ms, 0);
    g.deadline_ms = -5;
    cr_assert_eq(index_of(&g).deadline_ms, 0, "a negative deadline is scheduled");
    g.deadline_ms = INT64_MIN;
    cr_assert_eq(index_of(&g).deadline_ms, 0, "INT64_MIN is scheduled");
    store_game p = mk_game(STORE_KIND_CREATE, 0, 1);
    cr_assert(!index_of(&p).finished, "a playing game is finished");
    p.st.status = GAME_OVER;
    cr_assert(index_of(&p).finished, "a game over is not finished");
}

Test(policy, holders, .description = "holders: both seats' distinct non-zero instances in seat order, at most 4 a seat; none once over")
{
    store_game g = mk_game(STORE_KIND_CREATE, 0, 1);
    g.seat[0].nholders = 2;
    g.seat[0].holders[0] = 3;
    g.seat[0].holders[1] = 7;
    g.seat[1].nholders = 3;
    g.seat[1].holders[0] = 7;   /* one process holding both seats: one entry */
    g.seat[1].holders[1] = 0;   /* no instance id (yet): not an entry */
    g.seat[1].holders[2] = 9;
    store_index ix = index_of(&g);
    cr_assert_eq(ix.nholders, 3, "%u holders", ix.nholders);
    cr_assert(ix.holders[0] == 3 && ix.holders[1] == 7 && ix.holders[2] == 9,
              "holders %u %u %u", ix.holders[0], ix.holders[1], ix.holders[2]);
    for (unsigned i = ix.nholders; i < 2 * STORE_MAX_HOLDERS; i++)
        cr_assert_eq(ix.holders[i], 0, "holders[%u] left unset", i);
    /* a count past the array: what the array holds, nothing beyond it */
    g.seat[0].nholders = 200;
    g.seat[0].holders[2] = 11;
    g.seat[0].holders[3] = 12;
    g.seat[1].nholders = 0;
    ix = index_of(&g);
    cr_assert_eq(ix.nholders, 4, "%u holders from a seat of 4", ix.nholders);
    cr_assert_eq(ix.holders[3], 12);
    g.st.status = GAME_OVER;
    cr_assert_eq(index_of(&g).nholders, 0, "a finished game keeps its holders");
}

/* ---- on Redis ------------------------------------------------------------------------- */

static redisContext *admin(void)
{
    redisContext *c = redisConnect("127.0.0.1", H.r.port);
    cr_assert(c && !c->err, "admin connection");
    return c;
}

static long long integer(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    cr_assert(r, "admin command");
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return v;
}

/* calls of one command so far, from INFO commandstats */
static long long calls(redisContext *c, const char *cmd)
{
    redisReply *r = redisCommand(c, "INFO commandstats");
    cr_assert(r && r->type == REDIS_REPLY_STRING);
    char want[64];
    snprintf(want, sizeof want, "cmdstat_%s:calls=", cmd);
    const char *p = strstr(r->str, want);
    long long v = p ? atoll(p + strlen(want)) : 0;
    freeReplyObject(r);
    return v;
}

/* the commands that change an index, counted so far */
static long long index_calls(redisContext *c)
{
    return calls(c, "zadd") + calls(c, "zrem") + calls(c, "sadd") + calls(c, "srem");
}

Test(index, move_touches_no_index, .description = "moves of a playing game send save.lua only: no ZADD/ZREM/SADD/SREM",
     .fini = fini, .timeout = 60)
{
    setup(1, 0);
    tstore *t = open_store();
    redisContext *c = admin();
    store_game g = mk_game(STORE_KIND_CREATE, 0, 1);   /* playing from the start */
    g.seat[1].taken = 1;
    g.seat[0].nholders = g.seat[1].nholders = 1;
    g.seat[0].holders[0] = g.seat[1].holders[0] = store_instance(t->s);
    int64_t id = create_ok(t, &g);
    store_game cur = load_ok(t, id);
    long long before = index_calls(c);
    for (int i = 0; i < 5; i++) {
        cur.updated_ms = 1000 + i;   /* a move: the record changes, its indexes do not */
        res r = do_save(t, &cur);
        cr_assert_eq(r.status, STORE_OK, "save %d: %s", i, store_err_name(r.status));
        cur = r.g;
    }
    long long after = index_calls(c);
    cr_assert_eq(after, before, "%lld index commands for 5 ordinary moves", after - before);
    /* the end of the game does change them */
    cur.st.status = GAME_OVER;
    cr_assert_eq(do_save(t, &cur).status, STORE_OK);
    after = index_calls(c);
    cr_assert_gt(after, before, "the game's end updated no index");
    redisFree(c);
    teardown();
}

Test(index, stale_entry_skipped_and_cleaned, .description = "an open-list entry whose game is gone, and one whose game is playing, are not listed and are removed",
     .fini = fini, .timeout = 60)
{
    setup(1, 0);
    tstore *t = open_store();
    redisContext *c = admin();
    store_game w = mk_game(STORE_KIND_CREATE, 1, 1);
    int64_t open_id = create_ok(t, &w);
    store_game p = mk_game(STORE_KIND_CREATE, 0, 2);
    int64_t playing = create_ok(t, &p);
    /* ghosts: a game that never existed, and a playing one, put on the list behind the store's back */
    integer(c, "ZADD ttt:{o}:open 5000 5000");
    integer(c, "ZADD ttt:{o}:open %lld %lld", (long long)playing, (long long)playing);
    res r = do_list(t, 10);
    cr_assert_eq(r.status, STORE_OK);
    cr_assert(list_has(&r, open_id), "the open game is listed");
    cr_assert(!list_has(&r, 5000) && !list_has(&r, playing), "a ghost was listed");
    RUN_UNTIL(integer(c, "ZCARD ttt:{o}:open") == 1, WAIT_MS);
    cr_assert_eq(integer(c, "ZCARD ttt:{o}:open"), 1, "the ghosts were not cleaned");
    /* a due deadline of a game that is gone: not handed out, and dropped */
    integer(c, "ZADD ttt:{d0}:deadline 1 4992");   /* 4992 % 16 == 0: bucket 0 */
    res cl = do_claim(t, wall_ms(), 5000, 10);
    cr_assert_eq(cl.status, STORE_OK);
    cr_assert(!ids_has(&cl, 4992), "a gone game's deadline was handed out");
    RUN_UNTIL(integer(c, "ZSCORE ttt:{d0}:deadline 4992") == -1 &&
                  integer(c, "EXISTS ttt:{d0}:deadline") == 0, WAIT_MS);
    cr_assert_eq(integer(c, "EXISTS ttt:{d0}:deadline"), 0, "the stale deadline stayed");
    redisFree(c);
    teardown();
}

Test(index, sweep_puts_back_missing, .description = "index entries lost between a save and its index update (deleted here) are put back by the sweep",
     .fini = fini, .timeout = 60)
{
    setup(1, 0);
    tstore *t = open_store();
    redisContext *c = admin();
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    g.deadline_ms = wall_ms() + 3600 * 1000;
    int64_t id = create_ok(t, &g);
    char dl[64];
    snprintf(dl, sizeof dl, "ttt:{d%d}:deadline", (int)(id % 16));
    cr_assert_eq(integer(c, "DEL ttt:{o}:open"), 1);
    cr_assert_eq(integer(c, "DEL %s", dl), 1);
    res r = do_list(t, 10);
    cr_assert(!list_has(&r, id), "listed with its entry gone");
    long long end = proc_now_ms() + 15000;
    while (proc_now_ms() < end &&
           (integer(c, "EXISTS ttt:{o}:open") == 0 || integer(c, "EXISTS %s", dl) == 0))
        RUN_UNTIL(0, 100);
    cr_assert_eq(integer(c, "EXISTS ttt:{o}:open"), 1, "the open-list entry was not put back");
    cr_assert_eq(integer(c, "EXISTS %s", dl), 1, "the deadline was not put back");
    r = do_list(t, 10);
    cr_assert(list_has(&r, id), "listed again after the sweep");
    redisFree(c);
    teardown();
}

/* field x of a game, the signature as stored */
static void sig_of(redisContext *c, int64_t id, char *out, size_t n)
{
    redisReply *r = redisCommand(c, "HGET ttt:{%lld}:game x", (long long)id);
    cr_assert(r && r->type == REDIS_REPLY_STRING, "no signature on game %lld", (long long)id);
    snprintf(out, n, "%s", r->str);
    freeReplyObject(r);
}

Test(index, signature_format, .description = "the signature written is store_index_of() in the format records have always carried: o q d h",
     .fini = fini, .timeout = 60)
{
    setup(1, 0);
    tstore *t = open_store();
    redisContext *c = admin();
    char sig[128], want[128];
    int64_t dl = wall_ms() + 3600 * 1000;
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    g.deadline_ms = dl;
    g.seat[0].nholders = 2;
    g.seat[0].holders[0] = 5;
    g.seat[0].holders[1] = 5;
    int64_t id = create_ok(t, &g);
    sig_of(c, id, sig, sizeof sig);
    snprintf(want, sizeof want, "o1 q0 d%lld h5", (long long)dl);
    cr_assert_str_eq(sig, want);
    store_game cur = load_ok(t, id);
    game_state_start(&cur.st);
    cur.seat[1].taken = 1;
    cur.seat[1].nholders = 2;
    cur.seat[1].holders[0] = 6;
    cur.seat[1].holders[1] = 5;
    cur.deadline_ms = -1;
    res s = do_save(t, &cur);
    cr_assert_eq(s.status, STORE_OK);
    sig_of(c, id, sig, sizeof sig);
    cr_assert_str_eq(sig, "o0 q0 d0 h5,6");
    cur = s.g;
    cur.st.status = GAME_OVER;
    cr_assert_eq(do_save(t, &cur).status, STORE_OK);
    sig_of(c, id, sig, sizeof sig);
    cr_assert_str_eq(sig, "o0 q0 d0 h");
    store_game q = mk_game(STORE_KIND_QUICK, 1, 2);
    res rq = do_quick(t, &q);
    cr_assert_eq(rq.status, STORE_OK);
    sig_of(c, rq.g.id, sig, sizeof sig);
    cr_assert_str_eq(sig, "o0 q1 d0 h");
    redisFree(c);
    teardown();
}

Test(index, stored_signature_read, .description = "a save diffs against the signature stored with the record (one an older process wrote): its holder set and open entry are dropped",
     .fini = fini, .timeout = 60)
{
    setup(1, 0);
    tstore *t = open_store();
    redisContext *c = admin();
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    int64_t id = create_ok(t, &g);
    /* as if an older process had written this record, held by instance 42 */
    redisReply *r = redisCommand(c, "HSET ttt:{%lld}:game x %s", (long long)id, "o1 q0 d0 h42");
    cr_assert(r && r->type == REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    cr_assert_eq(integer(c, "SADD ttt:{i42}:games %lld", (long long)id), 1);
    store_game cur = load_ok(t, id);
    game_state_start(&cur.st);
    cur.seat[1].taken = 1;
    cr_assert_eq(do_save(t, &cur).status, STORE_OK);
    cr_assert_eq(integer(c, "SISMEMBER ttt:{i42}:games %lld", (long long)id), 0,
                 "the old signature's holder was not dropped");
    cr_assert_eq(integer(c, "ZSCORE ttt:{o}:open %lld", (long long)id), -1,
                 "a playing game is still on the open list");
    redisFree(c);
    teardown();
}

/* ---- the memory backend's min-heap (store_heap.c) ---- */

Test(heap, pops_in_time_order, .description = "2,000 pushes in a scrambled order, ties included, pop back sorted by time; empty after, freed")
{
    heap h = {0};
    enum { N = 2000 };
    for (int i = 0; i < N; i++) {
        int64_t when = (int64_t)((i * 7919) % 1000);   /* every time twice */
        cr_assert_eq(heap_push(&h, when, i), 0);
    }
    cr_assert_eq(h.n, (size_t)N);
    int64_t last = -1;
    for (int i = 0; i < N; i++) {
        heap_ent e = heap_pop(&h);
        cr_assert_geq(e.when, last, "pop %d: %lld after %lld", i, (long long)e.when,
                      (long long)last);
        cr_assert_eq((e.id * 7919) % 1000, e.when, "entry %lld lost its time", (long long)e.id);
        last = e.when;
    }
    cr_assert_eq(h.n, 0u);
    cr_assert_eq(heap_reserve(&h), 0);
    heap_free(&h);
    cr_assert_null(h.v);
}
