/* test_gm_rules_names.c -- the manager's pure rules for "Version 1,
 * additions": names on the seats, the series along a rematch chain (per
 * player, while the marks swap), and the time of each move. Compiled into
 * the test_gm_rules binary; like test_gm_rules.c, records in, records out. */
#include <criterion/criterion.h>
#include <string.h>

#include "game.h"
#include "gm_rules.h"

#define SELF 7u
#define OTHER 9u
#define NOW 1000000
#define ABANDON 30000
#define WAIT 60000

static gm_ctx ctx_at(int64_t now, uint32_t self)
{
    gm_ctx cx = {.now = now, .abandon_ms = ABANDON, .wait_ms = WAIT, .self = self,
                 .conn_open = 1};
    return cx;
}

static gm_seat_args named_seat(uint8_t fill, const char *name)
{
    gm_seat_args a;
    memset(&a, 0, sizeof a);
    memset(a.token, 'a' + fill, TOKEN_LEN);
    token_hash(a.token, TOKEN_LEN, a.hash);
    strcpy(a.name, name);
    return a;
}

static void play(store_game *g, int64_t now, uint8_t mark, int cell)
{
    gm_ctx cx = ctx_at(now, SELF);
    gm_move_args m = {.mark = mark, .cell = cell, .ply = -1};
    cr_assert_eq(gm_rule_move(&cx, &m, g), GM_MUT_SAVE, "%c to %d", game_mark_char(mark), cell);
}

static void series_is(const store_game *g, uint32_t games, uint32_t x, uint32_t o, uint32_t d,
                      int line)
{
    uint32_t s[4];
    gm_series_of(g, s);
    cr_assert(s[0] == games && s[1] == x && s[2] == o && s[3] == d,
              "line %d: series {%u, X %u, O %u, draws %u}, want {%u, %u, %u, %u}", line, s[0],
              s[1], s[2], s[3], games, x, o, d);
}

TestSuite(names);

Test(names, seats, .description = "create and join set each seat's name; an open seat and no "
     "name show null; the computer is named by its level; resume keeps the name")
{
    gm_ctx cx = ctx_at(NOW, SELF);
    gm_seat_args x = named_seat(1, "Ana"), o = named_seat(2, "");
    store_game g;
    gm_rules_create(&cx, &x, &g);
    cr_assert_str_eq(gm_name_view(&g, 0), "Ana");
    cr_assert_null(gm_name_view(&g, 1), "an open seat has no name");
    cr_assert_eq(gm_rule_join(&cx, &o, &g), GM_MUT_SAVE);
    cr_assert_null(gm_name_view(&g, 1), "no name given");
    uint8_t mark;
    cr_assert_eq(gm_rule_resume(&cx, &x, &g, &mark), GM_MUT_SAVE);
    cr_assert_str_eq(g.name[0], "Ana", "a resumed seat keeps its name");
    x.vs_computer = 1;
    x.level = GAME_AI_EASY;
    gm_rules_create(&cx, &x, &g);
    cr_assert_str_eq(gm_name_view(&g, 1), "Computer (easy)");
    x.level = GAME_AI_PERFECT;
    gm_rules_create(&cx, &x, &g);
    cr_assert_str_eq(gm_name_view(&g, 1), "Computer (perfect)");
    /* a state shows a name change */
    store_game h = g;
    strcpy(h.name[0], "Bo");
    cr_assert_not(gm_visible_equal(&g, &h));
}

/* The rematch of `old` asked first by `first` (with first_name), then by the
 * other player (with second_name), then the first player's reserved seat
 * claimed: the new game as both players would be in it. */
static store_game rematch(store_game *old, uint8_t first, const char *first_name,
                          const char *second_name, int64_t now)
{
    gm_ctx cx = ctx_at(now, SELF);
    uint8_t start = 9;
    cr_assert_eq(gm_rule_rematch(&cx, first, first_name, old, &start), GM_MUT_SAVE);
    cr_assert_eq(start, 0);
    uint8_t second = (uint8_t)game_mark_other((game_mark)first);
    cr_assert_eq(gm_rule_rematch(&cx, second, second_name, old, &start), GM_MUT_KEEP);
    cr_assert_eq(start, 1);
    gm_seat_args a = named_seat(5, second_name);
    a.mark = second;
    uint64_t rng = 1;
    store_game g;
    gm_rules_rematch_game(&cx, &a, old, &rng, &g);
    gm_seat_args c = named_seat(6, "");
    c.mark = first == GAME_X ? GAME_O : GAME_X;   /* the first asker's new mark */
    cr_assert_eq(gm_rule_claim(&cx, &c, &g), GM_MUT_SAVE);
    return g;
}

Test(names, series_three_rematches, .description = "series along a chain of four games with "
     "marks swapping: counted per player (win, resign, draw, abandon), names carried or changed")
{
    /* game 1: Pia X, Quin O; Pia wins on the board */
    gm_ctx cx = ctx_at(NOW, SELF);
    gm_seat_args p = named_seat(1, "Pia"), q = named_seat(2, "Quin");
    store_game g;
    gm_rules_create(&cx, &p, &g);
    cr_assert_eq(gm_rule_join(&cx, &q, &g), GM_MUT_SAVE);
    series_is(&g, 0, 0, 0, 0, __LINE__);
    play(&g, NOW + 1, GAME_X, 0), play(&g, NOW + 2, GAME_O, 3), play(&g, NOW + 3, GAME_X, 1);
    play(&g, NOW + 4, GAME_O, 4), play(&g, NOW + 5, GAME_X, 2);
    cr_assert_eq(g.st.winner, GAME_X);
    series_is(&g, 1, 1, 0, 0, __LINE__);

    /* game 2: Quin (now X) asks first as "Quinn"; Pia (now O) keeps her name */
    store_game g2 = rematch(&g, GAME_O, "Quinn", "", NOW + 10);
    cr_assert_str_eq(g2.name[0], "Quinn");
    cr_assert_str_eq(g2.name[1], "Pia");
    cr_assert_str_eq(g.name[1], "Quin", "the old game keeps its names");
    series_is(&g2, 1, 0, 1, 0, __LINE__);
    cr_assert_eq(gm_rule_resign(&cx, GAME_X, &g2), GM_MUT_SAVE);   /* Quinn resigns: Pia wins */
    series_is(&g2, 2, 0, 2, 0, __LINE__);

    /* game 3: Pia X again, Quinn O; a draw */
    store_game g3 = rematch(&g2, GAME_X, "", "", NOW + 20);
    cr_assert_str_eq(g3.name[0], "Pia");
    cr_assert_str_eq(g3.name[1], "Quinn");
    series_is(&g3, 2, 2, 0, 0, __LINE__);
    static const int draw[] = {0, 4, 8, 1, 7, 6, 2, 5, 3};
    for (int i = 0; i < 9; i++)
        play(&g3, NOW + 21 + i, i % 2 ? GAME_O : GAME_X, draw[i]);
    cr_assert_eq(g3.st.result, GAME_RESULT_DRAW);
    series_is(&g3, 3, 2, 0, 1, __LINE__);

    /* game 4: Quinn X, Pia O; Pia's process goes and she is abandoned */
    store_game g4 = rematch(&g3, GAME_O, "", "Pia P.", NOW + 40);
    cr_assert_str_eq(g4.name[0], "Quinn");
    cr_assert_str_eq(g4.name[1], "Pia P.");
    series_is(&g4, 3, 0, 2, 1, __LINE__);
    gm_holder_del(&g4.seat[1], SELF);
    g4.seat[1].away_ms = NOW + 50;
    gm_ctx later = ctx_at(NOW + 50 + ABANDON, SELF);
    cr_assert_eq(gm_rule_timeout(&later, &g4), GM_MUT_SAVE);
    cr_assert_eq(g4.st.result, GAME_RESULT_ABANDON);
    cr_assert_eq(g4.st.winner, GAME_X);
    series_is(&g4, 4, 1, 2, 1, __LINE__);   /* Quinn 1 - 2 Pia, 1 draw */
}

Test(names, times, .description = "times: ms from the moment the game became playing, one per "
     "accepted move, never decreasing when the clock steps back; refused moves add none")
{
    gm_ctx cx = ctx_at(NOW, SELF);
    gm_seat_args x = named_seat(1, "A"), o = named_seat(2, "B");
    store_game g;
    gm_rules_create(&cx, &x, &g);
    cr_assert_eq(g.started_ms, 0, "waiting: not started");
    cx.now = NOW + 5000;
    cr_assert_eq(gm_rule_join(&cx, &o, &g), GM_MUT_SAVE);
    cr_assert_eq(g.started_ms, NOW + 5000, "started when O joined");
    play(&g, NOW + 5000, GAME_X, 4);
    play(&g, NOW + 6500, GAME_O, 0);
    gm_ctx back = ctx_at(NOW + 6000, SELF);   /* another process' clock, behind */
    gm_move_args m = {.mark = GAME_X, .cell = 8, .ply = -1};
    cr_assert_eq(gm_rule_move(&back, &m, &g), GM_MUT_SAVE);
    m = (gm_move_args){.mark = GAME_O, .cell = 8, .ply = -1};
    cr_assert_eq(gm_rule_move(&back, &m, &g), -PROTO_ECELL_TAKEN);
    cr_assert_eq(g.st.ply, 3);
    cr_assert_eq(g.times[0], 0);
    cr_assert_eq(g.times[1], 1500);
    cr_assert_eq(g.times[2], 1500, "never decreasing");
    cr_assert_eq(g.times[3], 0, "nothing for a refused move");
}

Test(names, times_computer, .description = "against the computer the game plays at once: the "
     "human's and the computer's moves are timed, and a rematch's first computer move is 0")
{
    gm_ctx cx = ctx_at(NOW, SELF);
    gm_seat_args x = named_seat(1, "Solo");
    x.vs_computer = 1;
    x.level = GAME_AI_EASY;
    store_game g;
    gm_rules_create(&cx, &x, &g);
    cr_assert_eq(g.started_ms, NOW);
    play(&g, NOW + 700, GAME_X, 4);
    uint64_t rng = 3;
    gm_ctx c2 = ctx_at(NOW + 900, SELF);
    cr_assert_eq(gm_rule_computer(&c2, &rng, &g), GM_MUT_SAVE);
    cr_assert_eq(g.times[0], 700);
    cr_assert_eq(g.times[1], 900);
    cr_assert_eq(gm_rule_resign(&cx, GAME_X, &g), GM_MUT_SAVE);
    series_is(&g, 1, 0, 1, 0, __LINE__);
    x.mark = GAME_X;
    x.name[0] = '\0';
    store_game r;
    gm_rules_rematch_game(&c2, &x, &g, &rng, &r);
    cr_assert_eq(r.st.ply, 1, "the computer, X now, moved");
    cr_assert_eq(r.times[0], 0);
    cr_assert_str_eq(gm_name_view(&r, 0), "Computer (easy)");
    cr_assert_str_eq(gm_name_view(&r, 1), "Solo", "no name on the rematch: the old one");
    series_is(&r, 1, 1, 0, 0, __LINE__);   /* the computer's win is X's now */
}

Test(names, rematch_legacy_ask, .description = "an ask saved by an older process (no rematch "
     "name in its record) carries the asker's name of the finished game")
{
    gm_ctx cx = ctx_at(NOW, SELF);
    gm_seat_args x = named_seat(1, "Ana"), o = named_seat(2, "Ben");
    store_game g;
    gm_rules_create(&cx, &x, &g);
    cr_assert_eq(gm_rule_join(&cx, &o, &g), GM_MUT_SAVE);
    cr_assert_eq(gm_rule_resign(&cx, GAME_O, &g), GM_MUT_SAVE);
    g.rematch[1] = 1;   /* Ben asked, through a format-1 writer */
    gm_seat_args a = named_seat(3, "");
    a.mark = GAME_X;
    uint64_t rng = 1;
    store_game r;
    gm_rules_rematch_game(&cx, &a, &g, &rng, &r);
    cr_assert_str_eq(r.name[0], "Ben");
    cr_assert_str_eq(r.name[1], "Ana");
}

Test(names, times_legacy_record, .description = "a game an older process started (no start "
     "time in its format-1 record) times its moves from its creation")
{
    gm_ctx cx = ctx_at(NOW, SELF);
    gm_seat_args x = named_seat(1, ""), o = named_seat(2, "");
    store_game g;
    gm_rules_create(&cx, &x, &g);
    cr_assert_eq(gm_rule_join(&cx, &o, &g), GM_MUT_SAVE);
    g.started_ms = 0;
    play(&g, NOW + 2500, GAME_X, 0);
    cr_assert_eq(g.times[0], 2500);
}
