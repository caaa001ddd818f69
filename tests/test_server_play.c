/* test_server_play.c -- the wire contract (docs/protocol.md) against a real
 * ttt-server process: basic (welcome, ping), game play vs a human, a fresh server's ids and
 * quick match, the lobby list and rematch, and games vs the computer.
 * Split from the former test_server.c; the harness (servers, clients,
 * expect helpers, state checks) is tests/support/tsrv.c, tsrv_expect.c. */
#define _GNU_SOURCE
#include "tsrv.h"

/* =========================================================================== */

TestSuite(basic, .init = t_setup, .fini = t_teardown, .timeout = 60);

Test(basic, welcome, .description = "every connection first gets welcome: server id, protocol 1")
{
    t_need_server();
    wsc *w = wsc_connect(C, S.port, "/ws", T_MSG);
    cr_assert(w, "connect: %s", wsc_error(C));
    json_t *j = EXPECT(w, "welcome");
    cr_assert(strlen(t_sget(j, "server")) > 0, "welcome.server is empty");
    cr_assert(t_iget(j, "protocol") == 1, "welcome.protocol is not 1");
    EXPECT_NONE(w);
}

Test(basic, ping_ids, .description = "ping gets pong; string and integer ids come back "
     "with their type; no id, no id; a 64-byte id is fine, 65 bytes is bad_message")
{
    wsc *w = t_client();
    char id64[65], id65[66];
    memset(id64, 'a', 64);
    id64[64] = '\0';
    memset(id65, 'b', 65);
    id65[65] = '\0';

    SEND(w, "{\"type\":\"ping\",\"id\":\"abc\"}");
    t_check_id(EXPECT(w, "pong"), "s:abc", __LINE__);
    SEND(w, "{\"type\":\"ping\",\"id\":42}");
    t_check_id(EXPECT(w, "pong"), "i:42", __LINE__);
    SEND(w, "{\"type\":\"ping\"}");
    t_check_id(EXPECT(w, "pong"), NULL, __LINE__);
    SEND(w, "{\"type\":\"ping\",\"id\":\"\"}");
    t_check_id(EXPECT(w, "pong"), "s:", __LINE__);
    SEND(w, "{\"type\":\"ping\",\"id\":\"%s\"}", id64);
    json_t *p = EXPECT(w, "pong");
    cr_assert_str_eq(t_sget(p, "id"), id64);
    SEND(w, "{\"type\":\"ping\",\"id\":\"%s\"}", id65);
    EXPECT(w, "error");
    cr_assert_str_eq(t_sget(kept[nkept - 1], "code"), "bad_message");
    /* the connection still works */
    SEND(w, "{\"type\":\"ping\",\"id\":-7}");
    t_check_id(EXPECT(w, "pong"), "i:-7", __LINE__);
    EXPECT_NONE(w);
}

/* =========================================================================== */

TestSuite(game, .init = t_setup, .fini = t_teardown, .timeout = 90);

Test(game, create_human, .description = "create vs human: joined (id >= 100, X, 32-hex "
     "token, request id) then state waiting with an empty board")
{
    wsc *w = t_client();
    seat x;
    json_t *st = t_create_human(w, &x);
    cr_assert(json_array_size(json_object_get(st, "moves")) == 0);
    cr_assert(t_iget(st, "ply") == 0);
    EXPECT_NONE(w);
    /* create with defaults (no vs) is vs human as well */
    SEND(w, "{\"type\":\"create\",\"id\":5}");
    seat y;
    t_check_joined(EXPECT(w, "joined"), &y, 'X', "i:5", __LINE__);
    CHECK_STATE(EXPECT_STATE(w), y.gid, ".........", "waiting", NULL, "connected", "open");
    cr_assert(y.gid > x.gid, "ids grow: %lld then %lld", x.gid, y.gid);
}

Test(game, join_and_full_win, .description = "join: O gets joined, both get playing; a "
     "game to a win, players and a spectator see every state in the same order, once")
{
    seat x, o;
    t_create_human(t_client(), &x);
    t_join_game(t_client(), &o, &x);

    wsc *spec = t_client();
    SEND(spec, "{\"type\":\"watch\",\"game_id\":%lld,\"id\":\"w\"}", x.gid);
    json_t *wj = EXPECT(spec, "watching");
    cr_assert(t_iget(wj, "game_id") == x.gid);
    t_check_id(wj, "s:w", __LINE__);
    CHECK_STATE(EXPECT_STATE(spec), x.gid, ".........", "playing", NULL, "connected",
                "connected");

    /* X 0, O 3, X 1, O 4, X 2: X wins on the top row */
    const int cells[] = {0, 3, 1, 4, 2};
    const char *boards[] = {"X........", "X..O.....", "XX.O.....", "XX.OO....",
                            "XXXOO...."};
    json_t *seen[3][5];
    wsc *all[3] = {x.w, o.w, spec};
    for (int i = 0; i < 5; i++) {
        seat *mover = i % 2 ? &o : &x;
        SEND(mover->w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":%d,\"ply\":%d}",
             x.gid, cells[i], i);
        for (int k = 0; k < 3; k++)
            seen[k][i] = EXPECT_STATE(all[k]);
        json_t *st = seen[0][i];
        CHECK_STATE(st, x.gid, boards[i], i < 4 ? "playing" : "over", i < 4 ? NULL : "X",
                    "connected", "connected");
        cr_assert(t_iget(st, "ply") == i + 1);
        json_t *mv = json_object_get(st, "moves");
        for (int m = 0; m <= i; m++)
            cr_assert(json_integer_value(json_array_get(mv, (size_t)m)) == cells[m],
                      "moves[%d] is not %d", m, cells[m]);
    }
    for (int i = 0; i < 5; i++)
        for (int k = 1; k < 3; k++)
            cr_assert(t_same_state(seen[0][i], seen[k][i]),
                      "state %d differs between X and client %d:\n%s\n%s", i, k,
                      t_dumps(seen[0][i]), t_dumps(seen[k][i]));
    json_t *last = seen[0][4];
    t_check_result(last, "win", __LINE__);
    t_str_or_null(last, "turn", NULL, __LINE__);
    json_t *ln = json_object_get(last, "line");
    int sum = 0;
    for (int i = 0; i < 3; i++)
        sum += 1 << json_integer_value(json_array_get(ln, (size_t)i));
    cr_assert(sum == 7, "line should be [0,1,2]: %s", t_dumps(ln));
    for (int k = 0; k < 3; k++)
        EXPECT_NONE(all[k]);
    UNCHANGED(last);      /* and /api/games agrees with the last broadcast */
}

Test(game, full_draw, .description = "a game to a draw: result draw, winner and line "
     "null, 9 moves, everyone (players and spectator) gets each state once")
{
    seat x, o;
    t_start_pair(&x, &o);
    wsc *spec = t_client();
    SEND(spec, "{\"type\":\"watch\",\"game_id\":%lld}", x.gid);
    EXPECT(spec, "watching");
    EXPECT_STATE(spec);

    /* X O X / X O O / O X X */
    const int cells[] = {0, 1, 2, 4, 3, 5, 7, 6, 8};
    wsc *others_of_x[] = {o.w, spec, NULL};
    wsc *others_of_o[] = {x.w, spec, NULL};
    json_t *st = NULL;
    for (int i = 0; i < 9; i++) {
        st = t_play(i % 2 ? &o : &x, cells[i], i % 2 ? others_of_o : others_of_x);
        cr_assert(t_iget(st, "ply") == i + 1);
    }
    CHECK_STATE(st, x.gid, "XOXXOOOXX", "over", NULL, "connected", "connected");
    t_check_result(st, "draw", __LINE__);
    EXPECT_NONE(x.w);
    EXPECT_NONE(o.w);
    EXPECT_NONE(spec);
}

Test(game, resign, .description = "resign ends the game for the opponent: X resigns -> O "
     "wins; O resigns -> X wins; both players get the state")
{
    seat x, o;
    t_start_pair(&x, &o);
    wsc *ox[] = {o.w, NULL};
    t_play(&x, 4, ox);
    SEND(o.w, "{\"type\":\"resign\",\"game_id\":%lld}", o.gid);
    json_t *a = EXPECT_STATE(o.w), *b = EXPECT_STATE(x.w);
    cr_assert(t_same_state(a, b), "%s\n%s", t_dumps(a), t_dumps(b));
    CHECK_STATE(a, o.gid, "....X....", "over", "X", "connected", "connected");
    t_check_result(a, "resign", __LINE__);

    seat x2, o2;
    t_start_pair(&x2, &o2);
    SEND(x2.w, "{\"type\":\"resign\",\"game_id\":%lld}", x2.gid);
    a = EXPECT_STATE(x2.w);
    b = EXPECT_STATE(o2.w);
    cr_assert(t_same_state(a, b), "%s\n%s", t_dumps(a), t_dumps(b));
    CHECK_STATE(a, x2.gid, ".........", "over", "O", "connected", "connected");
    t_check_result(a, "resign", __LINE__);
    EXPECT_NONE(x2.w);
}

Test(game, several_games_one_connection, .description = "a connection may hold seats in "
     "several games at once; move acts for the seat in game_id")
{
    wsc *a = t_client(), *b = t_client();
    seat g1x, g2x, g1o, g2o;
    t_create_human(a, &g1x);
    t_create_human(a, &g2x);
    cr_assert(g1x.gid != g2x.gid);
    t_join_game(b, &g1o, &g1x);
    t_join_game(b, &g2o, &g2x);
    wsc *ob[] = {b, NULL}, *oa[] = {a, NULL};
    json_t *s1 = t_play(&g2x, 8, ob);
    CHECK_STATE(s1, g2x.gid, "........X", "playing", NULL, "connected", "connected");
    json_t *s2 = t_play(&g1x, 0, ob);
    CHECK_STATE(s2, g1x.gid, "X........", "playing", NULL, "connected", "connected");
    json_t *s3 = t_play(&g1o, 1, oa);
    CHECK_STATE(s3, g1x.gid, "XO.......", "playing", NULL, "connected", "connected");
    UNCHANGED(s1);
}

Test(game, spectator_late, .description = "watch mid-game: watching, then the current "
     "state, then every later state; watching a finished game shows its last state")
{
    seat x, o;
    t_start_pair(&x, &o);
    wsc *ox[] = {o.w, NULL}, *xo[] = {x.w, NULL};
    t_play(&x, 0, ox);
    json_t *cur = t_play(&o, 4, xo);
    wsc *spec = t_client();
    SEND(spec, "{\"type\":\"watch\",\"game_id\":%lld,\"id\":1}", x.gid);
    t_check_id(EXPECT(spec, "watching"), "i:1", __LINE__);
    cr_assert(t_same_state(cur, EXPECT_STATE(spec)), "the spectator's first state is not "
              "the current one");
    wsc *os[] = {o.w, spec, NULL};
    t_play(&x, 8, os);
    SEND(o.w, "{\"type\":\"resign\",\"game_id\":%lld}", o.gid);
    json_t *fin = EXPECT_STATE(o.w);
    cr_assert(t_same_state(fin, EXPECT_STATE(spec)));
    EXPECT_STATE(x.w);

    wsc *late = t_client();
    SEND(late, "{\"type\":\"watch\",\"game_id\":%lld}", x.gid);
    EXPECT(late, "watching");
    cr_assert(t_same_state(fin, EXPECT_STATE(late)), "a finished game is watchable");
    EXPECT_NONE(late);
    EXPECT_NONE(spec);
}

/* =========================================================================== */

TestSuite(fresh, .init = t_setup, .fini = t_teardown, .timeout = 90);

Test(fresh, ids_from_100, .description = "on a fresh server (and a fresh Redis) the first "
     "game is 100 and the next 101")
{
    t_own_server(NULL);
    wsc *w = t_client();
    seat a, b;
    t_create_human(w, &a);
    cr_assert(a.gid == 100, "first game id %lld", a.gid);
    SEND(w, "{\"type\":\"create\",\"vs\":\"computer\",\"level\":\"easy\"}");
    t_check_joined(EXPECT(w, "joined"), &b, 'X', NULL, __LINE__);
    cr_assert(b.gid == 101, "second game id %lld", b.gid);
}

Test(fresh, quick_match, .description = "quick: the first caller waits as X (joined, then "
     "state waiting), the second is seated as O in the same game; quick games are not "
     "in list")
{
    t_own_server(NULL);
    wsc *a = t_client(), *b = t_client();
    seat x, o;
    x.w = a;
    o.w = b;
    SEND(a, "{\"type\":\"quick\",\"id\":\"q1\"}");
    t_check_joined(EXPECT(a, "joined"), &x, 'X', "s:q1", __LINE__);
    CHECK_STATE(EXPECT_STATE(a), x.gid, ".........", "waiting", NULL, "connected", "open");

    SEND(b, "{\"type\":\"list\",\"id\":\"l\"}");
    json_t *g = EXPECT(b, "games");
    t_check_id(g, "s:l", __LINE__);
    json_t *arr = json_object_get(g, "games");
    cr_assert(json_is_array(arr));
    for (size_t i = 0; i < json_array_size(arr); i++)
        cr_assert(t_iget(json_array_get(arr, i), "game_id") != x.gid,
                  "a quick game appears in list");

    SEND(b, "{\"type\":\"quick\",\"id\":\"q2\"}");
    t_check_joined(EXPECT(b, "joined"), &o, 'O', "s:q2", __LINE__);
    cr_assert(o.gid == x.gid, "the two quick callers are in different games");
    json_t *sa = EXPECT_STATE(a), *sb = EXPECT_STATE(b);
    cr_assert(t_same_state(sa, sb));
    CHECK_STATE(sa, x.gid, ".........", "playing", NULL, "connected", "connected");

    /* a third caller opens a new game rather than joining the full one */
    wsc *c = t_client();
    seat x3;
    SEND(c, "{\"type\":\"quick\"}");
    t_check_joined(EXPECT(c, "joined"), &x3, 'X', NULL, __LINE__);
    cr_assert(x3.gid != x.gid);
    CHECK_STATE(EXPECT_STATE(c), x3.gid, ".........", "waiting", NULL, "connected", "open");
}

/* =========================================================================== */

TestSuite(lobby, .init = t_setup, .fini = t_teardown, .timeout = 90);

Test(lobby, list_only_waiting_created, .description = "list: games opened with create that "
     "wait for O, with age_s; not playing ones, not computer ones")
{
    seat w1, p1, p2;
    t_create_human(t_client(), &w1);
    t_start_pair(&p1, &p2);
    wsc *cpu = t_client();
    SEND(cpu, "{\"type\":\"create\",\"vs\":\"computer\"}");
    seat c1;
    t_check_joined(EXPECT(cpu, "joined"), &c1, 'X', NULL, __LINE__);

    wsc *q = t_client();
    SEND(q, "{\"type\":\"list\",\"id\":\"L\"}");
    json_t *g = EXPECT(q, "games");
    t_check_id(g, "s:L", __LINE__);
    json_t *arr = json_object_get(g, "games");
    cr_assert(json_is_array(arr), "games.games is not an array");
    int found = 0;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *e = json_array_get(arr, i);
        long long id = t_iget(e, "game_id");
        cr_assert(t_iget(e, "age_s") >= 0);
        cr_assert(id != p1.gid, "a playing game is listed");
        cr_assert(id != c1.gid, "a game against the computer is listed");
        found += id == w1.gid;
    }
    cr_assert(found == 1, "the waiting game %lld is listed %d times", w1.gid, found);

    seat o;
    t_join_game(t_client(), &o, &w1);
    SEND(q, "{\"type\":\"list\"}");
    arr = json_object_get(EXPECT(q, "games"), "games");
    for (size_t i = 0; i < json_array_size(arr); i++)
        cr_assert(t_iget(json_array_get(arr, i), "game_id") != w1.gid,
                  "a game that found its O is still listed");
}

Test(lobby, rematch_human, .description = "rematch: the first caller's opponent gets "
     "rematch_offer; the second call opens a new game with marks swapped, both get "
     "joined + state")
{
    seat x, o;
    t_start_pair(&x, &o);
    wsc *ox[] = {o.w, NULL}, *xo[] = {x.w, NULL};
    t_play(&x, 0, ox);
    t_play(&o, 3, xo);
    t_play(&x, 1, ox);
    t_play(&o, 4, xo);
    json_t *fin = t_play(&x, 2, ox);
    t_check_result(fin, "win", __LINE__);

    SEND(x.w, "{\"type\":\"rematch\",\"game_id\":%lld}", x.gid);
    json_t *offer = EXPECT(o.w, "rematch_offer");
    cr_assert(t_iget(offer, "game_id") == x.gid);
    EXPECT_NONE(x.w);

    SEND(o.w, "{\"type\":\"rematch\",\"game_id\":%lld,\"id\":\"rm\"}", o.gid);
    seat nx, no;
    t_check_joined(EXPECT(o.w, "joined"), &nx, 'X', "s:rm", __LINE__);
    t_check_joined(EXPECT(x.w, "joined"), &no, 'O', NULL, __LINE__);
    nx.w = o.w;
    no.w = x.w;
    cr_assert(nx.gid == no.gid && nx.gid != x.gid, "the rematch is one new game");
    json_t *a = EXPECT_STATE(o.w), *b = EXPECT_STATE(x.w);
    cr_assert(t_same_state(a, b), "the rematch states differ:\n%s\n%s", t_dumps(a), t_dumps(b));
    CHECK_STATE(a, nx.gid, ".........", "playing", NULL, "connected", "connected");
    /* the old O now moves first */
    t_play(&nx, 4, (wsc *[]){x.w, NULL});
    UNCHANGED(fin);
}

/* =========================================================================== */

TestSuite(computer, .init = t_setup, .fini = t_teardown, .timeout = 120);

/* Play one game against the computer with random legal moves. The human is
 * `me` (X or O); returns the final state. Checks that each accepted human
 * move is followed by exactly one computer move, each with its own state. */
static json_t *play_vs_computer(wsc *w, long long gid, char me, json_t *st)
{
    char board[10];
    snprintf(board, sizeof(board), "%s", t_sget(st, "board"));
    while (strcmp(t_sget(st, "status"), "playing") == 0) {
        const char *turn = t_sget(st, "turn");
        cr_assert(turn[0] == me, "the computer did not move: %s", t_dumps(st));
        int free_cells[9], n = 0;
        for (int i = 0; i < 9; i++)
            if (board[i] == '.')
                free_cells[n++] = i;
        cr_assert(n > 0);
        int cell = free_cells[rand() % n];
        long long ply = t_iget(st, "ply");
        SEND(w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":%d,\"ply\":%lld}", gid, cell,
             ply);
        st = EXPECT_STATE(w);
        board[cell] = me;
        cr_assert_str_eq(t_sget(st, "board"), board, "my move as the state shows it");
        cr_assert(t_iget(st, "ply") == ply + 1);
        if (strcmp(t_sget(st, "status"), "playing") != 0)
            break;
        json_t *cst = EXPECT_STATE(w);
        cr_assert(t_iget(cst, "ply") == ply + 2, "one computer move, with its own state");
        const char *nb = t_sget(cst, "board");
        int diff = 0;
        for (int i = 0; i < 9; i++)
            if (nb[i] != board[i]) {
                cr_assert(board[i] == '.' && nb[i] == (me == 'X' ? 'O' : 'X'),
                          "the computer changed cell %d: %s -> %s", i, board, nb);
                diff++;
            }
        cr_assert(diff == 1, "the computer made %d moves", diff);
        snprintf(board, sizeof(board), "%s", nb);
        st = cst;
    }
    EXPECT_NONE(w);
    return st;
}

static json_t *create_vs_computer(wsc *w, const char *level, seat *s)
{
    s->w = w;
    SEND(w, "{\"type\":\"create\",\"vs\":\"computer\",\"level\":\"%s\",\"id\":\"cc\"}", level);
    t_check_joined(EXPECT(w, "joined"), s, 'X', "s:cc", __LINE__);
    json_t *st = EXPECT_STATE(w);
    CHECK_STATE(st, s->gid, ".........", "playing", NULL, "connected", "connected");
    return st;
}

Test(computer, easy, .description = "vs computer easy: playing at once with O connected; "
     "each human move is followed by exactly one computer move")
{
    unsigned seed = (unsigned)time(NULL);
    srand(seed);
    cr_log_info("seed %u", seed);
    wsc *w = t_client();
    for (int g = 0; g < 2; g++) {
        seat s;
        json_t *st = create_vs_computer(w, "easy", &s);
        st = play_vs_computer(w, s.gid, 'X', st);
        t_str_or_null(st, "status", "over", __LINE__);
    }
}

Test(computer, default_level_is_perfect_and_never_loses, .description = "vs computer "
     "perfect (also the default level): random human play never wins, as X or as O")
{
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    srand(seed);
    cr_log_info("seed %u", seed);
    wsc *w = t_client();
    for (int g = 0; g < 5; g++) {
        seat s;
        json_t *st;
        if (g == 0) {   /* no level: perfect by default */
            s.w = w;
            SEND(w, "{\"type\":\"create\",\"vs\":\"computer\"}");
            t_check_joined(EXPECT(w, "joined"), &s, 'X', NULL, __LINE__);
            st = EXPECT_STATE(w);
        } else {
            st = create_vs_computer(w, "perfect", &s);
        }
        st = play_vs_computer(w, s.gid, 'X', st);
        json_t *winner = json_object_get(st, "winner");
        cr_assert(!json_is_string(winner) || strcmp(json_string_value(winner), "X") != 0,
                  "the human beat the perfect computer (seed %u): %s", seed, t_dumps(st));
    }
}

Test(computer, rematch_starts_at_once, .description = "rematch vs computer: a new game at "
     "once, the human is O, the computer (X) has already moved; perfect does not lose")
{
    unsigned seed = (unsigned)time(NULL) + 7;
    srand(seed);
    wsc *w = t_client();
    seat s;
    json_t *st = create_vs_computer(w, "perfect", &s);
    st = play_vs_computer(w, s.gid, 'X', st);
    for (int r = 0; r < 2; r++) {
        long long old = t_iget(st, "game_id");
        SEND(w, "{\"type\":\"rematch\",\"game_id\":%lld,\"id\":\"again\"}", old);
        seat n;
        t_check_joined(EXPECT(w, "joined"), &n, r % 2 ? 'X' : 'O', "s:again", __LINE__);
        cr_assert(n.gid != old);
        st = EXPECT_STATE(w);
        cr_assert(t_iget(st, "game_id") == n.gid);
        t_str_or_null(st, "status", "playing", __LINE__);
        t_str_or_null(json_object_get(st, "players"), "X", "connected", __LINE__);
        t_str_or_null(json_object_get(st, "players"), "O", "connected", __LINE__);
        if (r % 2 == 0 && t_iget(st, "ply") == 0) {
            /* allowed: the empty board first, then the computer's move */
            st = EXPECT_STATE(w);
        }
        if (r % 2 == 0) {
            cr_assert(t_iget(st, "ply") == 1, "the computer (X) has not moved first: %s",
                      t_dumps(st));
        } else {
            cr_assert(t_iget(st, "ply") == 0, "the human is X again: %s", t_dumps(st));
        }
        st = play_vs_computer(w, n.gid, r % 2 ? 'X' : 'O', st);
        json_t *winner = json_object_get(st, "winner");
        char me[2] = {r % 2 ? 'X' : 'O', 0};
        cr_assert(!json_is_string(winner) || strcmp(json_string_value(winner), me) != 0,
                  "the human beat the perfect computer: %s", t_dumps(st));
    }
}

