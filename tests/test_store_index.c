/* test_store_index.c -- the Redis backend's indexes as hints (issue 9): an
 * ordinary move sends no index command, a stale entry is skipped and cleaned
 * by its reader, a missing one is put back by the sweep. On a real
 * redis-server; admin commands through hiredis' blocking API (test code,
 * never the server's loop). The harness is tests/support/tstore.h. */
#include "tstore.h"

#include <hiredis/hiredis.h>

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
    long long before = calls(c, "zadd") + calls(c, "zrem") + calls(c, "sadd") + calls(c, "srem");
    for (int i = 0; i < 5; i++) {
        cur.updated_ms = 1000 + i;   /* a move: the record changes, its indexes do not */
        res r = do_save(t, &cur);
        cr_assert_eq(r.status, STORE_OK, "save %d: %s", i, store_err_name(r.status));
        cur = r.g;
    }
    long long after = calls(c, "zadd") + calls(c, "zrem") + calls(c, "sadd") + calls(c, "srem");
    cr_assert_eq(after, before, "%lld index commands for 5 ordinary moves", after - before);
    /* the end of the game does change them */
    cur.st.status = GAME_OVER;
    cr_assert_eq(do_save(t, &cur).status, STORE_OK);
    after = calls(c, "zadd") + calls(c, "zrem") + calls(c, "sadd") + calls(c, "srem");
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
