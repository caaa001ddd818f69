/* test_server_errors.c -- the wire contract (docs/protocol.md) against a real
 * ttt-server process: every error code of the contract, resume after a drop, and the
 * abandon / wait time-outs.
 * Split from the former test_server.c; the harness (servers, clients,
 * expect helpers, state checks) is tests/support/tsrv.c, tsrv_expect.c. */
#define _GNU_SOURCE
#include "tsrv.h"

/* =========================================================================== */

TestSuite(errors, .init = t_setup, .fini = t_teardown, .timeout = 90);

Test(errors, bad_json, .description = "text that is not JSON: bad_json; the connection "
     "stays usable")
{
    wsc *w = t_client();
    SEND(w, "{not json");
    EXPECT_ERROR(w, "bad_json", NULL);
    SEND(w, "{\"type\":\"ping\",\"id\":1");
    EXPECT_ERROR(w, "bad_json", NULL);
    SEND(w, "{\"type\":\"ping\"} trailing");
    EXPECT_ERROR(w, "bad_json", NULL);
    SEND(w, "{\"type\":\"ping\",\"id\":2}");
    t_check_id(EXPECT(w, "pong"), "i:2", __LINE__);
}

Test(errors, bad_message, .description = "bad_message for a missing or mistyped type, "
     "game_id, cell, ply, vs, level, id; the reply carries a valid id; nothing changes")
{
    seat x, o;
    t_start_pair(&x, &o);
    wsc *ox[] = {o.w, NULL};
    json_t *last = t_play(&x, 4, ox);
    wsc *w = o.w;
    long long g = x.gid;

    /* '@' stands for the game's id */
#define BM "bad_message"
    const t_err_case cases[] = {
        {"{\"id\":\"m1\"}", BM, "s:m1"},                                     /* no type */
        {"{\"type\":5,\"id\":\"m2\"}", BM, "s:m2"},                          /* not a string */
        {"{\"type\":null,\"id\":\"m2b\"}", BM, "s:m2b"},
        {"{\"type\":\"join\",\"id\":\"m3\"}", BM, "s:m3"},                   /* no game_id */
        {"{\"type\":\"join\",\"game_id\":\"@\",\"id\":\"m4\"}", BM, "s:m4"},  /* a string */
        {"{\"type\":\"watch\",\"game_id\":@.5,\"id\":\"m5\"}", BM, "s:m5"},    /* not whole */
        {"{\"type\":\"join\",\"game_id\":0,\"id\":\"m6\"}", BM, "s:m6"},       /* < 1 */
        {"{\"type\":\"join\",\"game_id\":-3,\"id\":\"m6b\"}", BM, "s:m6b"},
        {"{\"type\":\"move\",\"game_id\":@,\"cell\":9,\"id\":\"m7\"}", BM, "s:m7"},
        {"{\"type\":\"move\",\"game_id\":@,\"cell\":-1,\"id\":\"m8\"}", BM, "s:m8"},
        {"{\"type\":\"move\",\"game_id\":@,\"cell\":\"0\",\"id\":\"m9\"}", BM, "s:m9"},
        {"{\"type\":\"move\",\"game_id\":@,\"id\":\"m9b\"}", BM, "s:m9b"},     /* no cell */
        {"{\"type\":\"move\",\"game_id\":@,\"cell\":0.5,\"id\":\"m9c\"}", BM, "s:m9c"},
        {"{\"type\":\"move\",\"game_id\":@,\"cell\":0,\"ply\":\"1\",\"id\":\"m10\"}", BM,
         "s:m10"},
        {"{\"type\":\"move\",\"game_id\":@,\"cell\":0,\"ply\":1.5,\"id\":\"m10b\"}", BM,
         "s:m10b"},
        {"{\"type\":\"resign\",\"game_id\":true,\"id\":11}", BM, "i:11"},
        {"{\"type\":\"create\",\"vs\":\"martian\",\"id\":12}", BM, "i:12"},
        {"{\"type\":\"create\",\"vs\":\"computer\",\"level\":\"godlike\",\"id\":13}", BM,
         "i:13"},
        {"{\"type\":\"create\",\"vs\":7,\"id\":14}", BM, "i:14"},
        {"{\"type\":\"resume\",\"game_id\":@,\"id\":\"m15\"}", BM, "s:m15"},   /* no token */
        {"{\"type\":\"resume\",\"game_id\":@,\"token\":12345,\"id\":\"m16\"}", BM, "s:m16"},
    };
    EXPECT_ERRORS(w, g, cases);
#undef BM
    /* an id that is itself wrong cannot be echoed, but is still bad_message */
    const char *bad_ids[] = {"{\"type\":\"ping\",\"id\":true}", "{\"type\":\"ping\",\"id\":1.5}",
                             "{\"type\":\"ping\",\"id\":{}}", "{\"type\":\"ping\",\"id\":[1]}"};
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        SEND(w, "%s", bad_ids[i]);
        json_t *e = EXPECT(w, "error");
        cr_assert_str_eq(t_sget(e, "code"), "bad_message", "for %s", bad_ids[i]);
    }
    EXPECT_NONE(x.w);     /* no state went out: nothing changed */
    EXPECT_NONE(w);       /* and no game was created by the bad creates */
    UNCHANGED(last);
}

Test(errors, unknown_type, .description = "an unknown type string: unknown_type with the "
     "id; type names are case-sensitive")
{
    wsc *w = t_client();
    const t_err_case rows[] = {
        {"{\"type\":\"fly\",\"id\":7}", "unknown_type", "i:7"},
        {"{\"type\":\"PING\",\"id\":\"u\"}", "unknown_type", "s:u"},
        {"{\"type\":\"\"}", "unknown_type", NULL},
    };
    EXPECT_ERRORS(w, 0, rows);
    EXPECT_NONE(w);
}

Test(errors, no_such_game, .description = "join, watch of an unknown game id: no_such_game")
{
    wsc *w = t_client();
    const t_err_case rows[] = {
        {"{\"type\":\"join\",\"game_id\":987654321,\"id\":\"n1\"}", "no_such_game", "s:n1"},
        {"{\"type\":\"watch\",\"game_id\":987654321,\"id\":\"n2\"}", "no_such_game", "s:n2"},
        {"{\"type\":\"join\",\"game_id\":1,\"id\":3}", "no_such_game", "i:3"},
    };
    EXPECT_ERRORS(w, 0, rows);
    EXPECT_NONE(w);
}

Test(errors, game_full, .description = "a third player joining a playing game: game_full, "
     "nothing changes")
{
    seat x, o;
    t_start_pair(&x, &o);
    wsc *c = t_client();
    SEND(c, "{\"type\":\"join\",\"game_id\":%lld,\"id\":\"f\"}", x.gid);
    EXPECT_ERROR(c, "game_full", "s:f");
    EXPECT_NONE(x.w);
    EXPECT_NONE(o.w);
    json_t *st = t_api_game(x.gid);
    CHECK_STATE(st, x.gid, ".........", "playing", NULL, "connected", "connected");
}

Test(errors, not_in_game, .description = "move, resign, rematch by a connection with no seat "
     "in the game (a spectator too): not_in_game; nothing changes")
{
    seat x, o;
    t_start_pair(&x, &o);
    wsc *ox[] = {o.w, NULL};
    json_t *last = t_play(&x, 0, ox);
    wsc *c = t_client();
    SEND(c, "{\"type\":\"watch\",\"game_id\":%lld}", x.gid);
    EXPECT(c, "watching");
    EXPECT_STATE(c);
    const t_err_case rows[] = {
        {"{\"type\":\"move\",\"game_id\":@,\"cell\":5,\"id\":\"a\"}", "not_in_game", "s:a"},
        {"{\"type\":\"resign\",\"game_id\":@,\"id\":\"b\"}", "not_in_game", "s:b"},
        {"{\"type\":\"rematch\",\"game_id\":@,\"id\":\"c\"}", "not_in_game", "s:c"},
    };
    EXPECT_ERRORS(c, x.gid, rows);
    EXPECT_NONE(x.w);
    EXPECT_NONE(o.w);
    UNCHANGED(last);
}

Test(errors, not_playing, .description = "a move in a game still waiting for O: "
     "not_playing; nothing changes")
{
    seat x;
    json_t *st = t_create_human(t_client(), &x);
    SEND(x.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":4,\"id\":\"p\"}", x.gid);
    EXPECT_ERROR(x.w, "not_playing", "s:p");
    EXPECT_NONE(x.w);
    UNCHANGED(st);
}

Test(errors, not_your_turn, .description = "O before X, X twice: not_your_turn; nothing "
     "changes")
{
    seat x, o;
    t_start_pair(&x, &o);
    SEND(o.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":4,\"id\":\"t1\"}", x.gid);
    EXPECT_ERROR(o.w, "not_your_turn", "s:t1");
    EXPECT_NONE(x.w);
    wsc *ox[] = {o.w, NULL};
    json_t *last = t_play(&x, 4, ox);
    SEND(x.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":0,\"id\":\"t2\"}", x.gid);
    EXPECT_ERROR(x.w, "not_your_turn", "s:t2");
    EXPECT_NONE(o.w);
    UNCHANGED(last);
}

Test(errors, cell_taken, .description = "a move onto a marked cell: cell_taken; nothing "
     "changes")
{
    seat x, o;
    t_start_pair(&x, &o);
    wsc *ox[] = {o.w, NULL};
    json_t *last = t_play(&x, 4, ox);
    SEND(o.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":4,\"ply\":1,\"id\":\"k\"}", x.gid);
    EXPECT_ERROR(o.w, "cell_taken", "s:k");
    EXPECT_NONE(x.w);
    UNCHANGED(last);
}

Test(errors, stale, .description = "a ply that is not the game's: stale (before "
     "not_your_turn); the right ply is accepted")
{
    seat x, o;
    t_start_pair(&x, &o);
    json_t *st0 = t_api_game(x.gid);
    SEND(x.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":0,\"ply\":1,\"id\":\"s1\"}", x.gid);
    EXPECT_ERROR(x.w, "stale", "s:s1");
    /* O out of turn with a wrong ply: stale comes first (docs/protocol.md, "order of checks") */
    SEND(o.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":0,\"ply\":3,\"id\":\"s2\"}", x.gid);
    EXPECT_ERROR(o.w, "stale", "s:s2");
    EXPECT_NONE(x.w);
    EXPECT_NONE(o.w);
    UNCHANGED(st0);
    SEND(x.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":0,\"ply\":0}", x.gid);
    CHECK_STATE(EXPECT_STATE(x.w), x.gid, "X........", "playing", NULL, "connected",
                "connected");
    EXPECT_STATE(o.w);
}

Test(errors, game_over, .description = "a move or resign after the end: game_over; "
     "nothing changes")
{
    seat x, o;
    t_start_pair(&x, &o);
    SEND(x.w, "{\"type\":\"resign\",\"game_id\":%lld}", x.gid);
    json_t *last = EXPECT_STATE(x.w);
    EXPECT_STATE(o.w);
    SEND(o.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":4,\"id\":\"o1\"}", x.gid);
    EXPECT_ERROR(o.w, "game_over", "s:o1");
    SEND(x.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":4,\"id\":\"o2\"}", x.gid);
    EXPECT_ERROR(x.w, "game_over", "s:o2");
    SEND(o.w, "{\"type\":\"resign\",\"game_id\":%lld,\"id\":\"o3\"}", x.gid);
    EXPECT_ERROR(o.w, "game_over", "s:o3");
    EXPECT_NONE(x.w);
    EXPECT_NONE(o.w);
    UNCHANGED(last);
}

Test(errors, bad_token, .description = "resume with a wrong token (right length, wrong "
     "length, the other seat's): bad_token; too long or not a string: bad_message")
{
    seat x, o;
    t_start_pair(&x, &o);
    wsc *c = t_client();
    char longtok[70];
    memset(longtok, 'a', 65);
    longtok[65] = '\0';
    char wrong[sizeof(x.token)];
    memcpy(wrong, x.token, sizeof(wrong));
    wrong[0] = wrong[0] == '0' ? '1' : '0';

    SEND(c, "{\"type\":\"resume\",\"game_id\":%lld,\"token\":\"%s\",\"id\":\"b1\"}", x.gid,
         wrong);
    EXPECT_ERROR(c, "bad_token", "s:b1");
    SEND(c, "{\"type\":\"resume\",\"game_id\":%lld,\"token\":\"abc\",\"id\":\"b2\"}", x.gid);
    EXPECT_ERROR(c, "bad_token", "s:b2");
    SEND(c, "{\"type\":\"resume\",\"game_id\":%lld,\"token\":\"\",\"id\":\"b3\"}", x.gid);
    EXPECT_ERROR(c, "bad_token", "s:b3");
    SEND(c, "{\"type\":\"resume\",\"game_id\":%lld,\"token\":\"%s\",\"id\":\"b4\"}", x.gid,
         longtok);
    EXPECT_ERROR(c, "bad_message", "s:b4");
    /* a token is only good for its own game */
    seat x2;
    t_create_human(t_client(), &x2);
    SEND(c, "{\"type\":\"resume\",\"game_id\":%lld,\"token\":\"%s\",\"id\":\"b5\"}", x2.gid,
         x.token);
    EXPECT_ERROR(c, "bad_token", "s:b5");
    EXPECT_NONE(c);
    EXPECT_NONE(x.w);
    EXPECT_NONE(o.w);
    json_t *st = t_api_game(x.gid);
    CHECK_STATE(st, x.gid, ".........", "playing", NULL, "connected", "connected");
}

Test(errors, rate_limited, .description = "a burst of 30 pings over --rate-limit 5: some "
     "get rate_limited (with their id), the rest pong; the limit recovers")
{
    const char *extra[] = {"--rate-limit", "5", NULL};
    t_own_server(extra);
    wsc *w = t_client();
    for (int i = 0; i < 30; i++)
        SEND(w, "{\"type\":\"ping\",\"id\":%d}", i);
    cr_assert(wsc_flush(w, T_MSG) == 0, "the burst did not go out: %s", wsc_error(C));
    int pongs = 0, limited = 0, seen[30] = {0};
    for (int n = 0; n < 30; n++) {
        json_t *j = wsc_recv_json(w, T_MSG);
        if (!j)
            break;
        t_keep(j);
        const char *type = t_sget(j, "type");
        long long id = t_iget(j, "id");
        cr_assert(id >= 0 && id < 30 && !seen[id], "reply id %lld unknown or repeated", id);
        seen[id] = 1;
        if (!strcmp(type, "pong")) {
            pongs++;
        } else {
            cr_assert_str_eq(type, "error");
            cr_assert_str_eq(t_sget(j, "code"), "rate_limited");
            limited++;
        }
    }
    cr_log_info("rate limit 5/s: %d pongs, %d rate_limited of 30", pongs, limited);
    cr_assert(limited >= 1, "no rate_limited in a burst of 30 at 5/s");
    cr_assert(pongs >= 5 && pongs <= 16, "%d pongs: the burst allowance is 2 x 5", pongs);
    cr_assert(pongs + limited == 30, "every request gets one reply (%d of 30)",
              pongs + limited);
    /* after a pause the bucket has refilled: poll until a ping is answered */
    long long end = proc_now_ms() + 5000;
    int ok = 0;
    while (!ok && proc_now_ms() < end) {
        wsc_ctx_service(C, 400);
        SEND(w, "{\"type\":\"ping\",\"id\":\"again\"}");
        json_t *j = t_keep(wsc_recv_json(w, T_MSG));
        cr_assert(j, "no reply after the burst: %s", wsc_error(C));
        ok = !strcmp(t_sget(j, "type"), "pong");
    }
    cr_assert(ok, "the rate limit never recovered");
}

/* =========================================================================== */

TestSuite(resume, .init = t_setup, .fini = t_teardown, .timeout = 90);

Test(resume, after_drop, .description = "a dropped player shows as away, resumes with the "
     "token on a new connection (joined + state), shows connected and plays on")
{
    seat x, o;
    t_start_pair(&x, &o);
    wsc *ox[] = {o.w, NULL};
    t_play(&x, 4, ox);
    wsc_drop(x.w);
    x.w = NULL;
    json_t *away = EXPECT_STATE(o.w);
    CHECK_STATE(away, o.gid, "....X....", "playing", NULL, "away", "connected");

    wsc *back = t_client();
    SEND(back, "{\"type\":\"resume\",\"game_id\":%lld,\"token\":\"%s\",\"id\":\"r\"}", o.gid,
         x.token);
    seat x2;
    t_check_joined(EXPECT(back, "joined"), &x2, 'X', "s:r", __LINE__);
    cr_assert(x2.gid == o.gid);
    x2.w = back;
    json_t *s1 = EXPECT_STATE(back), *s2 = EXPECT_STATE(o.w);
    cr_assert(t_same_state(s1, s2));
    CHECK_STATE(s1, o.gid, "....X....", "playing", NULL, "connected", "connected");
    wsc *xb[] = {back, NULL};
    json_t *s3 = t_play(&o, 0, xb);
    CHECK_STATE(s3, o.gid, "O...X....", "playing", NULL, "connected", "connected");
    wsc *ob[] = {o.w, NULL};
    t_play(&x2, 8, ob);
}

Test(resume, close_and_resume_waiting, .description = "the creator of a waiting game "
     "closes cleanly and resumes; the game still waits and can be joined")
{
    seat x;
    t_create_human(t_client(), &x);
    wsc_close(x.w);
    wsc *back = t_client();
    SEND(back, "{\"type\":\"resume\",\"game_id\":%lld,\"token\":\"%s\"}", x.gid, x.token);
    seat x2;
    t_check_joined(EXPECT(back, "joined"), &x2, 'X', NULL, __LINE__);
    x2.w = back;
    json_t *st = EXPECT_STATE(back);
    CHECK_STATE(st, x.gid, ".........", "waiting", NULL, "connected", "open");
    seat o;
    t_join_game(t_client(), &o, &x2);
}

/* =========================================================================== */

TestSuite(timeouts, .init = t_setup, .fini = t_teardown, .timeout = 90);

Test(timeouts, abandon, .description = "--abandon-timeout 1: a player who drops and does not "
     "return loses by abandon; the other wins")
{
    const char *extra[] = {"--abandon-timeout", "1", NULL};
    t_own_server(extra);
    seat x, o;
    t_start_pair(&x, &o);
    wsc *ox[] = {o.w, NULL};
    t_play(&x, 4, ox);
    wsc_drop(o.w);
    o.w = NULL;
    json_t *away = EXPECT_STATE(x.w);
    CHECK_STATE(away, x.gid, "....X....", "playing", NULL, "connected", "away");
    json_t *st = EXPECT_STATE_WITHIN(x.w, 8000);   /* 1 s plus a sweep and slack */
    CHECK_STATE(st, x.gid, "....X....", "over", "X", "connected", "away");
    t_check_result(st, "abandon", __LINE__);
    EXPECT_NONE(x.w);
    UNCHANGED(st);
}

Test(timeouts, resume_in_time, .description = "--abandon-timeout 1: a player who resumes "
     "at once keeps the game: no abandon afterwards")
{
    const char *extra[] = {"--abandon-timeout", "1", NULL};
    t_own_server(extra);
    seat x, o;
    t_start_pair(&x, &o);
    wsc_drop(o.w);
    CHECK_STATE(EXPECT_STATE(x.w), x.gid, ".........", "playing", NULL, "connected", "away");
    wsc *back = t_client();
    SEND(back, "{\"type\":\"resume\",\"game_id\":%lld,\"token\":\"%s\"}", o.gid, o.token);
    EXPECT(back, "joined");
    EXPECT_STATE(back);
    CHECK_STATE(EXPECT_STATE(x.w), x.gid, ".........", "playing", NULL, "connected",
                "connected");
    /* past the abandon time-out, nothing happens */
    char *s = wsc_recv(x.w, 2000);
    cr_assert(!s, "a resumed player was still abandoned: %s", s ? s : "");
    json_t *st = t_api_game(x.gid);
    t_str_or_null(st, "status", "playing", __LINE__);
}

Test(timeouts, waiting, .description = "--wait-timeout 1: a game nobody joins ends (over, "
     "abandon, no winner) and leaves the list, but stays readable")
{
    const char *extra[] = {"--wait-timeout", "1", NULL};
    t_own_server(extra);
    seat x;
    t_create_human(t_client(), &x);
    json_t *st = EXPECT_STATE_WITHIN(x.w, 8000);
    CHECK_STATE(st, x.gid, ".........", "over", NULL, "connected", "open");
    t_check_result(st, "abandon", __LINE__);
    wsc *q = t_client();
    SEND(q, "{\"type\":\"list\"}");
    json_t *arr = json_object_get(EXPECT(q, "games"), "games");
    cr_assert(json_array_size(arr) == 0, "the timed-out game is still listed");
    UNCHANGED(st);
    SEND(q, "{\"type\":\"join\",\"game_id\":%lld,\"id\":\"late\"}", x.gid);
    json_t *e = EXPECT(q, "error");
    t_check_id(e, "s:late", __LINE__);
    EXPECT_NONE(x.w);
}

