/* test_store.c -- the store contract, case for case against both backends (memory/<name>
 * and redis/<name>, the latter on a real redis-server).
 * The harness is tests/support/tstore.h. */
#include "tstore.h"

/* ---- the shared cases -------------------------------------------------------------- */


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

/* create (or quick), and another store saves the new game from inside the
 * creator's callback: nothing can come sooner after the game exists */
typedef struct create_then_save {
    tstore *saver;
    res create, save;
} create_then_save;

static void cts_created(void *ud, int status, const store_game *g)
{
    create_then_save *x = ud;
    game_cb(&x->create, status, g);
    if (status != STORE_OK)
        return;
    store_game next = *g;
    next.updated_ms = 900;
    store_game_save(x->saver->s, &next, game_cb, &x->save);
}

STORE_TEST(create_listens_first, "create and quick subscribe the creator before the game exists: a save by another store from inside the create callback reaches it, until it unsubscribes")
{
    enum { N = 20 };
    tstore *a = open_store();
    tstore *b = other_store(a);
    static create_then_save x[N];
    memset(x, 0, sizeof(x));
    /* the last one opens a quick game (the queue is empty: it creates) */
    for (int i = 0; i < N; i++) {
        store_game g = mk_game(i == N - 1 ? STORE_KIND_QUICK : STORE_KIND_CREATE, 1, i);
        x[i].saver = b;
        if (i == N - 1)
            CALL(store_game_quick(a->s, &g, cts_created, &x[i]));
        else
            CALL(store_game_create(a->s, &g, cts_created, &x[i]));
    }
    RUN_UNTIL(a->published >= N, WAIT_MS);
    for (int i = 0; i < N; i++) {
        check_once(&x[i].create, "create");
        cr_assert_eq(x[i].create.status, STORE_OK);
        cr_assert_eq(x[i].create.g.version, 1);
        check_once(&x[i].save, "save");
        cr_assert_eq(x[i].save.status, STORE_OK, "save %d: %s", i,
                     store_err_name(x[i].save.status));
    }
    cr_assert_eq(a->published, N, "the creator heard %d of %d saves", a->published, N);
    /* the subscription is the caller's: once it ends, saves go unheard */
    for (int i = 0; i < N; i++)
        store_unsubscribe(a->s, x[i].create.g.id);
    cr_assert_eq(do_subscribe(a, 12345).status, STORE_OK);   /* orders the above first */
    for (int i = 0; i < N; i++) {
        store_game cur = load_ok(b, x[i].create.g.id);
        cr_assert_eq(do_save(b, &cur).status, STORE_OK);
    }
    cr_assert_eq(do_subscribe(a, 12346).status, STORE_OK);
    cr_assert_eq(a->published, N, "heard %d saves after unsubscribing", a->published - N);
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

/* ---- the index policy both backends share (store_index_of, issue 9): where the memory
 * store's own copy differed from Redis' signature ---- */

STORE_TEST(quick_handed_out_once, "a quick game handed out is not queued again by a save that keeps it waiting (its creator going away)")
{
    tstore *a = open_store();
    tstore *b = other_store(a);
    store_game t1 = mk_game(STORE_KIND_QUICK, 1, 1);
    store_game t2 = mk_game(STORE_KIND_QUICK, 1, 2);
    res r1 = do_quick(a, &t1);
    cr_assert_eq(r1.status, STORE_OK);
    res r2 = do_quick(b, &t2);
    cr_assert_eq(r2.status, STORE_OK);
    cr_assert_eq(r2.g.id, r1.g.id, "the second quick did not get the waiting game");
    /* before its taker's join is saved, the creator's connection drops: a save, still waiting */
    store_game away = r2.g;
    away.seat[0].away_ms = wall_ms();
    res s = do_save(a, &away);
    cr_assert_eq(s.status, STORE_OK, "save: %s", store_err_name(s.status));
    cr_assert_eq(s.g.st.status, GAME_WAITING);
    res r3 = do_quick(b, &t2);
    cr_assert_eq(r3.status, STORE_OK);
    cr_assert_neq(r3.g.id, r1.g.id, "a quick game was handed out a second time");
    cr_assert_eq(r3.g.version, 1, "the third quick should have created a game");
}

STORE_TEST(save_keeps_claim_lease, "a save that keeps the deadline leaves a claim's lease in place; a save that changes it reschedules")
{
    tstore *t = open_store();
    int64_t now = wall_ms();
    store_game g = mk_game(STORE_KIND_CREATE, 0, 1);   /* playing, a seat away */
    g.seat[1].away_ms = now - 2000;
    g.deadline_ms = now - 1000;
    int64_t id = create_ok(t, &g);
    res c = do_claim(t, now, 30000, 10);
    cr_assert(ids_has(&c, id), "the due game was not claimed");
    /* while the claimer works, another change of the game (the present player's
     * connection count) is saved with the same deadline */
    store_game cur = load_ok(t, id);
    cur.seat[0].nholders = 1;
    cur.seat[0].holders[0] = store_instance(t->s);
    cur.updated_ms = now;
    res s = do_save(t, &cur);
    cr_assert_eq(s.status, STORE_OK, "save: %s", store_err_name(s.status));
    c = do_claim(t, now + 1000, 30000, 10);
    cr_assert(!ids_has(&c, id), "a save that kept the deadline handed a leased game out again");
    c = do_claim(t, now + 31000, 30000, 10);
    cr_assert(ids_has(&c, id), "the lease ran out and the game was not due again");
    /* a save with another deadline does reschedule, lease or not */
    cur = s.g;
    cur.deadline_ms = now + 32000;
    s = do_save(t, &cur);
    cr_assert_eq(s.status, STORE_OK);
    c = do_claim(t, now + 33000, 30000, 10);
    cr_assert(ids_has(&c, id), "a save with a new deadline did not reschedule it");
}

STORE_TEST(negative_deadline_none, "a record whose deadline_ms is negative has no deadline: never claimed")
{
    tstore *t = open_store();
    int64_t now = wall_ms();
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    g.deadline_ms = -5;
    int64_t id = create_ok(t, &g);
    res c = do_claim(t, now, 30000, 10);
    cr_assert_eq(c.status, STORE_OK);
    cr_assert(!ids_has(&c, id), "a negative deadline was scheduled at create");
    store_game cur = load_ok(t, id);
    cur.deadline_ms = -7;
    cr_assert_eq(do_save(t, &cur).status, STORE_OK);
    c = do_claim(t, now, 30000, 10);
    cr_assert(!ids_has(&c, id), "a negative deadline was scheduled at save");
}
