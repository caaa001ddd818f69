/* test_server_names.c -- "Version 1, additions" of the wire contract
 * (docs/protocol.md) against a real ttt-server process, once per store:
 * names in states and in the games list, bad names refused with nothing
 * changed, a resumed seat keeping its name, the computer's names, the series
 * along rematches with marks swapping, move times, and /api/games/{id}
 * giving the same state. The harness is tests/support/tsrv.c. */
#define _GNU_SOURCE
#include "tsrv.h"

/* names.X / names.O of a state: a string, or NULL for null */
static const char *name_of(json_t *st, const char *mark)
{
    json_t *names = json_object_get(st, "names");
    cr_assert(json_is_object(names), "state has no names object: %s", t_dumps(st));
    json_t *v = json_object_get(names, mark);
    cr_assert(v && (json_is_null(v) || json_is_string(v)), "names.%s: %s", mark, t_dumps(st));
    return json_string_value(v);
}

#define NAMES(st, x, o) names_are((st), (x), (o), __LINE__)
static void names_are(json_t *st, const char *x, const char *o, int line)
{
    const char *want[2] = {x, o}, *marks[2] = {"X", "O"};
    for (int i = 0; i < 2; i++) {
        const char *got = name_of(st, marks[i]);
        if (!want[i])
            cr_assert(!got, "line %d: names.%s is \"%s\", want null", line, marks[i], got);
        else
            cr_assert(got && !strcmp(got, want[i]), "line %d: names.%s is %s%s%s, want \"%s\"",
                      line, marks[i], got ? "\"" : "", got ? got : "null", got ? "\"" : "",
                      want[i]);
    }
}

#define SERIES(st, g, x, o, d) series_is((st), (g), (x), (o), (d), __LINE__)
static void series_is(json_t *st, long long g, long long x, long long o, long long d, int line)
{
    json_t *s = json_object_get(st, "series");
    cr_assert(json_is_object(s), "line %d: no series: %s", line, t_dumps(st));
    cr_assert(t_iget(s, "games") == g && t_iget(s, "X") == x && t_iget(s, "O") == o &&
              t_iget(s, "draws") == d, "line %d: series %s, want games %lld X %lld O %lld "
              "draws %lld", line, t_dumps(s), g, x, o, d);
}

/* times: parallel to moves, integers >= 0, never decreasing, none above
 * bound_ms (what the test itself saw elapse since before the game started) */
static void times_ok(json_t *st, long long bound_ms, int line)
{
    json_t *t = json_object_get(st, "times"), *moves = json_object_get(st, "moves");
    cr_assert(json_is_array(t) && json_array_size(t) == json_array_size(moves),
              "line %d: times not parallel to moves: %s", line, t_dumps(st));
    long long prev = 0;
    for (size_t i = 0; i < json_array_size(t); i++) {
        json_t *v = json_array_get(t, i);
        cr_assert(json_is_integer(v), "line %d: times[%zu] not an integer", line, i);
        long long ms = json_integer_value(v);
        cr_assert(ms >= prev, "line %d: times decrease at %zu: %s", line, i, t_dumps(t));
        cr_assert(ms <= bound_ms, "line %d: times[%zu] = %lld ms, but only %lld ms passed",
                  line, i, ms, bound_ms);
        prev = ms;
    }
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The name the games list gives game gid ("" for null); NULL when not listed. */
static const char *listed_name(wsc *w, long long gid)
{
    SEND(w, "{\"type\":\"list\"}");
    json_t *arr = json_object_get(EXPECT(w, "games"), "games");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *e = json_array_get(arr, i);
        if (t_iget(e, "game_id") != gid)
            continue;
        json_t *n = json_object_get(e, "name");
        cr_assert(n && (json_is_null(n) || json_is_string(n)), "entry without a name: %s",
                  t_dumps(e));
        return json_is_null(n) ? "" : json_string_value(n);
    }
    return NULL;
}

/* =========================================================================== */

TestSuite(names, .init = t_setup, .fini = t_teardown, .timeout = 120);

Test(names, state_list_join, .description = "create with a name (trimmed) and one without: "
     "names in state and in the list; join with a name; /api/games gives the same state")
{
    wsc *a = t_client(), *b = t_client(), *q = t_client();
    seat x, n, o;
    SEND(a, "{\"type\":\"create\",\"name\":\"  Ana <img src=x>  \",\"id\":1}");
    t_check_joined(EXPECT(a, "joined"), &x, 'X', "i:1", __LINE__);
    x.w = a;
    json_t *st = EXPECT_STATE(a);
    NAMES(st, "Ana <img src=x>", NULL);
    SERIES(st, 0, 0, 0, 0);
    SEND(b, "{\"type\":\"create\",\"name\":\"   \"}");
    t_check_joined(EXPECT(b, "joined"), &n, 'X', NULL, __LINE__);
    NAMES(EXPECT_STATE(b), NULL, NULL);
    const char *ln = listed_name(q, x.gid);
    cr_assert(ln && !strcmp(ln, "Ana <img src=x>"), "list name %s", ln ? ln : "(not listed)");
    ln = listed_name(q, n.gid);
    cr_assert(ln && !strcmp(ln, ""), "a game without a name lists null");

    wsc *c = t_client();
    SEND(c, "{\"type\":\"join\",\"game_id\":%lld,\"name\":\"B\\u00e9n \\\"B\\\"\"}", x.gid);
    t_check_joined(EXPECT(c, "joined"), &o, 'O', NULL, __LINE__);
    o.w = c;
    json_t *s1 = EXPECT_STATE(c), *s2 = EXPECT_STATE(a);
    cr_assert(t_same_state(s1, s2));
    NAMES(s1, "Ana <img src=x>", "B\xc3\xa9n \"B\"");
    json_t *api = t_api_game(x.gid);
    cr_assert(t_same_state(s1, api), "/api/games differs from the state:\n%s\n%s", t_dumps(s1),
              t_dumps(api));
}

Test(names, bad_names_change_nothing, .description = "a name too long, with a control "
     "character, or not a string: bad_message with the id on create, join, quick and "
     "rematch, and nothing changes")
{
    const char *bad[] = {"\"aaaaaaaaaaaaaaaaaaaaaaaaa\"",   /* 25 */
                         "\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
                         "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
                         "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\"",   /* 25 */
                         "\"A\\u0000\"", "\"A\\u0085B\"", "\"A\\tB\"", "\"\\u007f\"",
                         "7", "null", "[]", "{}", "false"};
    seat x, o;
    t_start_pair(&x, &o);
    wsc *ox[] = {o.w, NULL};
    json_t *playing = t_play(&x, 4, ox);
    seat w;
    t_create_human(t_client(), &w);
    wsc *z = t_client();
    SEND(z, "{\"type\":\"list\"}");
    json_t *before = json_object_get(EXPECT(z, "games"), "games");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        SEND(z, "{\"type\":\"create\",\"name\":%s,\"id\":%zu}", bad[i], i);
        char id[16];
        snprintf(id, sizeof id, "i:%zu", i);
        EXPECT_ERROR(z, "bad_message", id);
        SEND(z, "{\"type\":\"quick\",\"name\":%s,\"id\":\"q\"}", bad[i]);
        EXPECT_ERROR(z, "bad_message", "s:q");
        SEND(z, "{\"type\":\"join\",\"game_id\":%lld,\"name\":%s,\"id\":\"j\"}", w.gid, bad[i]);
        EXPECT_ERROR(z, "bad_message", "s:j");
    }
    EXPECT_NONE(w.w);   /* nobody joined */
    json_t *wst = t_api_game(w.gid);
    CHECK_STATE(wst, w.gid, ".........", "waiting", NULL, "connected", "open");
    SEND(z, "{\"type\":\"list\"}");
    json_t *after = json_object_get(EXPECT(z, "games"), "games");
    /* no game was created (nor one queued for quick: the list shows created ones, and
     * a queued quick game would have answered joined) */
    long long newest = 0;
    for (size_t i = 0; i < json_array_size(after); i++)
        if (t_iget(json_array_get(after, i), "game_id") > newest)
            newest = t_iget(json_array_get(after, i), "game_id");
    cr_assert(newest <= w.gid, "a game %lld was created by a bad request", newest);
    cr_assert(json_array_size(after) <= json_array_size(before));

    /* rematch with a bad name on a finished game: no offer, nothing changed */
    SEND(x.w, "{\"type\":\"resign\",\"game_id\":%lld}", x.gid);
    json_t *fin = EXPECT_STATE(x.w);
    EXPECT_STATE(o.w);
    (void)playing;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        SEND(x.w, "{\"type\":\"rematch\",\"game_id\":%lld,\"name\":%s,\"id\":\"r\"}", x.gid,
             bad[i]);
        EXPECT_ERROR(x.w, "bad_message", "s:r");
    }
    EXPECT_NONE(o.w);   /* no rematch_offer */
    UNCHANGED(fin);
    /* and the same rematch with a good name still works */
    SEND(x.w, "{\"type\":\"rematch\",\"game_id\":%lld,\"name\":\"Xavier\"}", x.gid);
    EXPECT(o.w, "rematch_offer");
}

Test(names, resume_keeps_name, .description = "a player who drops and resumes on a new "
     "connection keeps the name; the other sees it throughout")
{
    wsc *a = t_client(), *b = t_client();
    seat x, o;
    SEND(a, "{\"type\":\"create\",\"name\":\"Ana\"}");
    t_check_joined(EXPECT(a, "joined"), &x, 'X', NULL, __LINE__);
    EXPECT_STATE(a);
    SEND(b, "{\"type\":\"join\",\"game_id\":%lld,\"name\":\"Ben\"}", x.gid);
    t_check_joined(EXPECT(b, "joined"), &o, 'O', NULL, __LINE__);
    EXPECT_STATE(b);
    EXPECT_STATE(a);
    wsc_close(a);
    json_t *away = EXPECT_STATE(b);
    CHECK_STATE(away, x.gid, ".........", "playing", NULL, "away", "connected");
    NAMES(away, "Ana", "Ben");
    wsc *a2 = t_client();
    SEND(a2, "{\"type\":\"resume\",\"game_id\":%lld,\"token\":\"%s\"}", x.gid, x.token);
    t_check_joined(EXPECT(a2, "joined"), &x, 'X', NULL, __LINE__);
    json_t *back = EXPECT_STATE(a2);
    NAMES(back, "Ana", "Ben");
    NAMES(EXPECT_STATE(b), "Ana", "Ben");
    NAMES(t_api_game(x.gid), "Ana", "Ben");
}

Test(names, computer_names, .description = "the computer's seat is named by its level; the "
     "player's name stays on a rematch that gives none")
{
    wsc *w = t_client();
    seat x, y;
    SEND(w, "{\"type\":\"create\",\"vs\":\"computer\",\"level\":\"easy\",\"name\":\"Solo\"}");
    t_check_joined(EXPECT(w, "joined"), &x, 'X', NULL, __LINE__);
    NAMES(EXPECT_STATE(w), "Solo", "Computer (easy)");
    SEND(w, "{\"type\":\"create\",\"vs\":\"computer\"}");
    t_check_joined(EXPECT(w, "joined"), &y, 'X', NULL, __LINE__);
    NAMES(EXPECT_STATE(w), NULL, "Computer (perfect)");
    SEND(w, "{\"type\":\"resign\",\"game_id\":%lld}", x.gid);
    json_t *fin = EXPECT_STATE(w);
    SERIES(fin, 1, 0, 1, 0);
    SEND(w, "{\"type\":\"rematch\",\"game_id\":%lld}", x.gid);
    seat r;
    t_check_joined(EXPECT(w, "joined"), &r, 'O', NULL, __LINE__);
    json_t *st = EXPECT_STATE(w);
    NAMES(st, "Computer (easy)", "Solo");
    SERIES(st, 1, 1, 0, 0);   /* the computer's win counts for it, X now */
    cr_assert(t_iget(st, "ply") == 1);
    times_ok(st, 0, __LINE__);   /* its first move comes the moment the game starts */
}

/* first asks a rematch of game gid (name_json: a JSON value or NULL for
 * none), then second; returns the new game with each player's new seat */
static void rematch(seat *first, const char *fname, seat *second, const char *sname,
                    seat *nfirst, seat *nsecond)
{
    char f[64] = "", s[64] = "";
    if (fname)
        snprintf(f, sizeof f, ",\"name\":%s", fname);
    if (sname)
        snprintf(s, sizeof s, ",\"name\":%s", sname);
    SEND(first->w, "{\"type\":\"rematch\",\"game_id\":%lld%s}", first->gid, f);
    EXPECT(second->w, "rematch_offer");
    SEND(second->w, "{\"type\":\"rematch\",\"game_id\":%lld%s}", second->gid, s);
    t_check_joined(EXPECT(second->w, "joined"), nsecond, second->mark == 'X' ? 'O' : 'X', NULL,
                   __LINE__);
    t_check_joined(EXPECT(first->w, "joined"), nfirst, first->mark == 'X' ? 'O' : 'X', NULL,
                   __LINE__);
    nfirst->w = first->w;
    nsecond->w = second->w;
    cr_assert(nfirst->gid == nsecond->gid);
}

Test(names, series_three_rematches, .description = "two named players, four games, marks "
     "swapping: the series counts per player (win, resign, draw), names carry on or change, "
     "times are parallel to moves; /api/games of every game keeps its own series")
{
    wsc *a = t_client(), *b = t_client();
    seat p, q;
    long long t0 = now_ms();
    SEND(a, "{\"type\":\"create\",\"name\":\"Pia\"}");
    t_check_joined(EXPECT(a, "joined"), &p, 'X', NULL, __LINE__);
    p.w = a;
    EXPECT_STATE(a);
    SEND(b, "{\"type\":\"join\",\"game_id\":%lld,\"name\":\"Quin\"}", p.gid);
    t_check_joined(EXPECT(b, "joined"), &q, 'O', NULL, __LINE__);
    q.w = b;
    EXPECT_STATE(b);
    EXPECT_STATE(a);
    /* game 1: Pia (X) wins */
    wsc *pa[] = {a, NULL}, *qb[] = {b, NULL};
    t_play(&p, 0, qb), t_play(&q, 3, pa), t_play(&p, 1, qb), t_play(&q, 4, pa);
    json_t *g1 = t_play(&p, 2, qb);
    t_check_result(g1, "win", __LINE__);
    SERIES(g1, 1, 1, 0, 0);
    NAMES(g1, "Pia", "Quin");
    times_ok(g1, now_ms() - t0 + 50, __LINE__);

    /* game 2: Quin asks first as "Quinn" and is X now; Pia keeps her name */
    seat p2, q2;
    rematch(&q, "\"Quinn\"", &p, NULL, &q2, &p2);
    json_t *s = EXPECT_STATE(a);
    cr_assert(t_same_state(s, EXPECT_STATE(b)));
    NAMES(s, "Quinn", "Pia");
    SERIES(s, 1, 0, 1, 0);
    cr_assert(json_array_size(json_object_get(s, "times")) == 0);
    SEND(b, "{\"type\":\"resign\",\"game_id\":%lld}", q2.gid);
    json_t *g2 = EXPECT_STATE(a);
    EXPECT_STATE(b);
    SERIES(g2, 2, 0, 2, 0);

    /* game 3: Pia X again; a draw */
    seat p3, q3;
    long long t3 = now_ms();   /* before the game exists: a bound for its times */
    rematch(&p2, NULL, &q2, NULL, &p3, &q3);
    s = EXPECT_STATE(a);
    EXPECT_STATE(b);
    NAMES(s, "Pia", "Quinn");
    SERIES(s, 2, 2, 0, 0);
    static const int draw[] = {0, 4, 8, 1, 7, 6, 2, 5, 3};
    json_t *g3 = NULL;
    for (int i = 0; i < 9; i++)
        g3 = i % 2 ? t_play(&q3, draw[i], pa) : t_play(&p3, draw[i], qb);
    t_check_result(g3, "draw", __LINE__);
    SERIES(g3, 3, 2, 0, 1);
    times_ok(g3, now_ms() - t3 + 50, __LINE__);

    /* game 4: Quinn X; Pia renames herself on her ask; Pia (O) wins by resignation */
    seat p4, q4;
    rematch(&q3, NULL, &p3, "\"  Pia P. \"", &q4, &p4);
    s = EXPECT_STATE(a);
    EXPECT_STATE(b);
    NAMES(s, "Quinn", "Pia P.");
    SERIES(s, 3, 0, 2, 1);
    SEND(b, "{\"type\":\"resign\",\"game_id\":%lld}", q4.gid);
    json_t *g4 = EXPECT_STATE(a);
    EXPECT_STATE(b);
    SERIES(g4, 4, 0, 3, 1);   /* Quinn 0 - 3 Pia, 1 draw */

    /* every game, read back, shows the series as it stood when it ended */
    cr_assert(t_same_state(g1, t_api_game(p.gid)));
    cr_assert(t_same_state(g2, t_api_game(q2.gid)));
    cr_assert(t_same_state(g3, t_api_game(p3.gid)));
    cr_assert(t_same_state(g4, t_api_game(q4.gid)));
}

Test(names, quick_names, .description = "quick: both players' names, the waiting one's "
     "first")
{
    wsc *a = t_client(), *b = t_client();
    seat x, o;
    SEND(a, "{\"type\":\"quick\",\"name\":\"Kim\"}");
    t_check_joined(EXPECT(a, "joined"), &x, 'X', NULL, __LINE__);
    json_t *w = EXPECT_STATE(a);
    NAMES(w, "Kim", NULL);
    SEND(b, "{\"type\":\"quick\",\"name\":\"Lee\"}");
    t_check_joined(EXPECT(b, "joined"), &o, 'O', NULL, __LINE__);
    cr_assert(o.gid == x.gid, "matched into another game (a test running at once?)");
    NAMES(EXPECT_STATE(b), "Kim", "Lee");
    NAMES(EXPECT_STATE(a), "Kim", "Lee");
}
