/* test_game.c -- the rules, proved by exhaustion: every game of the whole
 * tree, and each rule by name. Tic-tac-toe is small enough to check
 * everything rather than samples; only the public API of game.h is used, and
 * the known totals (5,478 positions, 255,168 games) are the independent
 * yardstick. Every position, illegal moves and the computer player are in
 * test_game_ai.c; both share test_game.h. */
#include "test_game.h"

/* ---- the whole game tree -------------------------------------------------------- */

typedef struct tree_count {
    long positions, terminal, term_x, term_o, term_draw;
    long games, games_x, games_o, games_draw;
    unsigned lines_x, lines_o;   /* bit i: line i seen as the winning line */
} tree_count;

static uint8_t seen[1 << 18];

/* Checks what a finished state must look like, from first principles. */
static void check_over(const game_state *s) {
    int8_t l[3];
    game_mark w = game_board_winner(&s->board, l);
    CHECK(s->winner == w, "state winner %d, board winner %d", s->winner, w);
    if (s->result == GAME_RESULT_DRAW) {
        CHECK(s->ply == 9 && w == GAME_NONE, "draw with ply %d winner %d", s->ply, w);
        CHECK(s->line[0] == -1 && s->line[1] == -1 && s->line[2] == -1, "draw has a line");
        return;
    }
    CHECK(s->result == GAME_RESULT_WIN, "over with result %d", s->result);
    /* The mover won: the last cell played is the winner's and is on the line. */
    game_mark mover = s->ply % 2 ? GAME_X : GAME_O;
    CHECK(w == mover, "winner %d is not the last mover %d", w, mover);
    CHECK(memcmp(l, s->line, 3) == 0, "state line differs from board line");
    CHECK(line_index(s->line) >= 0, "line %d %d %d is not a winning line",
          s->line[0], s->line[1], s->line[2]);
    uint16_t m = w == GAME_X ? s->board.x : s->board.o;
    int last = s->moves[s->ply - 1], on = 0;
    for (int k = 0; k < 3; k++) {
        CHECK(m >> s->line[k] & 1, "line cell %d is not the winner's", s->line[k]);
        on |= s->line[k] == last;
    }
    CHECK(on, "the winning move %d is not on the line", last);
}

static void walk(const game_state *s, tree_count *c) {
    unsigned k = pos_key(&s->board);
    int over = s->status == GAME_OVER;
    if (!seen[k]) {
        seen[k] = 1;
        c->positions++;
        if (over) {
            c->terminal++;
            if (s->winner == GAME_X) c->term_x++;
            else if (s->winner == GAME_O) c->term_o++;
            else c->term_draw++;
        }
    }
    if (over) {
        check_over(s);
        c->games++;
        if (s->winner == GAME_X) c->games_x++, c->lines_x |= 1u << line_index(s->line);
        else if (s->winner == GAME_O) c->games_o++, c->lines_o |= 1u << line_index(s->line);
        else c->games_draw++;
        return;
    }
    CHECK(game_board_winner(&s->board, NULL) == GAME_NONE && s->ply < 9,
          "a playing game with a winner or a full board");
    game_mark turn = game_board_turn(&s->board);
    CHECK(turn == (s->ply % 2 ? GAME_O : GAME_X), "turn does not alternate");
    for (int cell = 0; cell < GAME_CELLS; cell++) {
        game_state t = *s;
        int rc = game_state_move(&t, turn, cell);
        if (rc == GAME_ETAKEN) {
            CHECK((s->board.x | s->board.o) >> cell & 1, "free cell %d refused", cell);
            CHECK(state_eq(&t, s), "refused move changed the state");
            continue;
        }
        CHECK(rc == GAME_OK, "cell %d: %s", cell, game_err_name(rc));
        CHECK(t.ply == s->ply + 1 && t.moves[s->ply] == cell, "moves not recorded");
        walk(&t, c);
    }
}

Test(game, tree_counts,
     .description = "exhaustive play from the empty board gives the known totals: 5,478 "
                    "positions (958 terminal: 626 X, 316 O, 16 draws) and 255,168 games "
                    "(131,184 X, 77,904 O, 46,080 draws), every line a winning line") {
    tree_count c = {0};
    game_state s;
    memset(seen, 0, sizeof(seen));
    game_state_init(&s, 0);
    walk(&s, &c);
    cr_expect_eq(c.positions, 5478);
    cr_expect_eq(c.terminal, 958);
    cr_expect_eq(c.term_x, 626);
    cr_expect_eq(c.term_o, 316);
    cr_expect_eq(c.term_draw, 16);
    cr_expect_eq(c.games, 255168);
    cr_expect_eq(c.games_x, 131184);
    cr_expect_eq(c.games_o, 77904);
    cr_expect_eq(c.games_draw, 46080);
    cr_expect_eq(c.lines_x, 0xffu, "X won on lines %#x", c.lines_x);
    cr_expect_eq(c.lines_o, 0xffu, "O won on lines %#x", c.lines_o);
}

/* ---- single rules, by name ---------------------------------------------------- */

Test(game, winner_lines,
     .description = "each of the 8 lines alone wins for X and for O and is reported in "
                    "ascending order; no line, no winner and line -1 -1 -1") {
    for (int i = 0; i < 8; i++) {
        uint16_t m = (uint16_t)(1u << lines[i][0] | 1u << lines[i][1] | 1u << lines[i][2]);
        game_board bx = {m, 0}, bo = {0, m};
        int8_t l[3] = {9, 9, 9};
        cr_expect_eq(game_board_winner(&bx, l), GAME_X, "line %d", i);
        cr_expect(memcmp(l, lines[i], 3) == 0, "line %d: got %d %d %d", i, l[0], l[1], l[2]);
        memset(l, 9, sizeof(l));
        cr_expect_eq(game_board_winner(&bo, l), GAME_O, "line %d", i);
        cr_expect(memcmp(l, lines[i], 3) == 0, "line %d: got %d %d %d", i, l[0], l[1], l[2]);
        cr_expect_eq(game_board_winner(&bo, NULL), GAME_O, "NULL line is allowed");
    }
    game_board none = {0x1 | 0x2 | 0x20 | 0x40 | 0x100, 0x4 | 0x8 | 0x10 | 0x80};  /* full draw */
    int8_t l[3] = {9, 9, 9};
    cr_expect_eq(game_board_winner(&none, l), GAME_NONE);
    cr_expect(l[0] == -1 && l[1] == -1 && l[2] == -1);
    game_board empty = {0, 0};
    cr_expect_eq(game_board_winner(&empty, NULL), GAME_NONE);
}

Test(game, win_by_play_on_each_line,
     .description = "for each line and each mark, a game where that mark completes the "
                    "line ends WIN with that winner and exactly that line") {
    for (int i = 0; i < 8; i++) {
        uint16_t m = (uint16_t)(1u << lines[i][0] | 1u << lines[i][1] | 1u << lines[i][2]);
        int other[6], n = 0;
        for (int c = 0; c < GAME_CELLS; c++) if (!(m >> c & 1)) other[n++] = c;

        /* X wins: X takes the line, O two cells off it. */
        int gx[5] = {lines[i][0], other[0], lines[i][1], other[1], lines[i][2]};
        game_state s = play(gx, 5);
        cr_expect_eq(s.status, GAME_OVER);
        cr_expect_eq(s.result, GAME_RESULT_WIN);
        cr_expect_eq(s.winner, GAME_X, "line %d", i);
        cr_expect(memcmp(s.line, lines[i], 3) == 0, "line %d", i);

        /* O wins: X takes three cells off the line that do not form one. */
        int a, b, c, found = 0;
        for (a = 0; a < 6 && !found; a++)
            for (b = a + 1; b < 6 && !found; b++)
                for (c = b + 1; c < 6 && !found; c++) {
                    game_board bx = {(uint16_t)(1u << other[a] | 1u << other[b] | 1u << other[c]), 0};
                    found = game_board_winner(&bx, NULL) == GAME_NONE;
                    if (found) {
                        int go[6] = {other[a], lines[i][0], other[b], lines[i][1], other[c],
                                     lines[i][2]};
                        s = play(go, 6);
                    }
                }
        cr_assert(found);
        cr_expect_eq(s.result, GAME_RESULT_WIN);
        cr_expect_eq(s.winner, GAME_O, "line %d", i);
        cr_expect(memcmp(s.line, lines[i], 3) == 0, "line %d", i);
    }
}

Test(game, ninth_move_win_and_draw,
     .description = "a 9th move that completes two lines is a WIN (first line in order), "
                    "not a draw; a 9th move without a line is a DRAW with no winner") {
    int dbl[] = {0, 1, 2, 3, 6, 5, 8, 7, 4};
    game_state s = play(dbl, 9);
    cr_expect_eq(s.result, GAME_RESULT_WIN);
    cr_expect_eq(s.winner, GAME_X);
    cr_expect(s.line[0] == 0 && s.line[1] == 4 && s.line[2] == 8,
              "line %d %d %d", s.line[0], s.line[1], s.line[2]);

    int draw[] = {0, 1, 2, 4, 3, 5, 7, 6, 8};
    s = play(draw, 9);
    cr_expect_eq(s.status, GAME_OVER);
    cr_expect_eq(s.result, GAME_RESULT_DRAW);
    cr_expect_eq(s.winner, GAME_NONE);
    cr_expect(s.line[0] == -1 && s.line[1] == -1 && s.line[2] == -1);
    cr_expect_eq(s.ply, 9);
    for (int i = 0; i < 9; i++) cr_expect_eq(s.moves[i], draw[i]);
    game_state t = s;
    cr_expect_eq(game_state_move(&t, GAME_O, 0), GAME_EOVER);
    cr_expect(state_eq(&t, &s));
}

Test(game, init_and_start,
     .description = "init gives an empty board, X to move, no result; a waiting game refuses "
                    "moves until started; start is a no-op when playing and EOVER when over") {
    game_state s, t;
    game_state_init(&s, 1);
    cr_expect_eq(s.status, GAME_WAITING);
    cr_expect_eq(s.ply, 0);
    cr_expect_eq(s.board.x | s.board.o, 0);
    cr_expect_eq(s.result, GAME_RESULT_NONE);
    cr_expect_eq(s.winner, GAME_NONE);
    cr_expect(s.line[0] == -1 && s.line[1] == -1 && s.line[2] == -1);
    cr_expect_eq(game_board_turn(&s.board), GAME_X);
    cr_expect_eq(game_board_full(&s.board), 0);

    t = s;
    cr_expect_eq(game_state_move(&t, GAME_X, 4), GAME_ENOTPLAYING);
    cr_expect(state_eq(&t, &s), "refused move while waiting changed the state");

    cr_expect_eq(game_state_start(&s), GAME_OK);
    cr_expect_eq(s.status, GAME_PLAYING);
    t = s;
    cr_expect_eq(game_state_start(&s), GAME_OK, "start when playing is a no-op");
    cr_expect(state_eq(&t, &s));
    cr_expect_eq(game_state_move(&s, GAME_X, 4), GAME_OK);
    t = s;
    cr_expect_eq(game_state_start(&s), GAME_OK);
    cr_expect(state_eq(&t, &s), "start mid-game changed the state");

    game_state_init(&s, 0);
    cr_expect_eq(s.status, GAME_PLAYING);
    cr_expect_eq(game_state_resign(&s, GAME_X), GAME_OK);
    t = s;
    cr_expect_eq(game_state_start(&s), GAME_EOVER);
    cr_expect(state_eq(&t, &s));
}

Test(game, move_errors,
     .description = "named illegal moves: cells -1, 9, 100, INT_MIN; a taken cell; X twice; "
                    "O first; bad marks; after a win -- each its error, state unchanged") {
    game_state s, t;
    game_state_init(&s, 0);
    const int bad[] = {-1, 9, 100, INT_MIN};
    for (int i = 0; i < 4; i++) {
        t = s;
        cr_expect_eq(game_state_move(&t, GAME_X, bad[i]), GAME_EBADCELL, "cell %d", bad[i]);
        cr_expect(state_eq(&t, &s), "cell %d changed the state", bad[i]);
    }
    t = s;
    cr_expect_eq(game_state_move(&t, GAME_O, 0), GAME_ETURN, "O may not open");
    cr_expect(state_eq(&t, &s));
    cr_expect_eq(game_state_move(&s, GAME_X, 4), GAME_OK);
    t = s;
    cr_expect_eq(game_state_move(&t, GAME_X, 0), GAME_ETURN, "X may not move twice");
    cr_expect_eq(game_state_move(&t, GAME_O, 4), GAME_ETAKEN);
    cr_expect_eq(game_state_move(&t, GAME_NONE, 0), GAME_EBADMARK);
    cr_expect_eq(game_state_move(&t, (game_mark)3, 0), GAME_EBADMARK);
    cr_expect(state_eq(&t, &s));

    int win[] = {0, 3, 1, 4, 2};
    s = play(win, 5);
    cr_expect_eq(s.winner, GAME_X);
    t = s;
    cr_expect_eq(game_state_move(&t, GAME_O, 5), GAME_EOVER);
    cr_expect_eq(game_state_move(&t, GAME_X, 5), GAME_EOVER);
    cr_expect(state_eq(&t, &s));
}

Test(game, error_precedence,
     .description = "when several errors apply the documented order decides: BADMARK, "
                    "OVER, NOTPLAYING, BADCELL, TURN, TAKEN") {
    game_state s, t;
    int win[] = {0, 3, 1, 4, 2};
    s = play(win, 5);
    t = s;
    cr_expect_eq(game_state_move(&t, GAME_NONE, -1), GAME_EBADMARK, "bad mark beats over");
    cr_expect_eq(game_state_move(&t, GAME_X, -1), GAME_EOVER, "over beats bad cell");
    cr_expect_eq(game_state_move(&t, GAME_X, 0), GAME_EOVER, "over beats turn and taken");

    game_state_init(&s, 1);
    t = s;
    cr_expect_eq(game_state_move(&t, (game_mark)7, 4), GAME_EBADMARK, "bad mark beats waiting");
    cr_expect_eq(game_state_move(&t, GAME_O, 99), GAME_ENOTPLAYING,
                 "waiting beats bad cell and turn");
    cr_expect(state_eq(&t, &s));

    game_state_init(&s, 0);
    cr_expect_eq(game_state_move(&s, GAME_X, 4), GAME_OK);
    t = s;
    cr_expect_eq(game_state_move(&t, GAME_X, 9), GAME_EBADCELL, "bad cell beats turn");
    cr_expect_eq(game_state_move(&t, GAME_X, 4), GAME_ETURN, "turn beats taken");
    cr_expect(state_eq(&t, &s));
}

static void check_ended(const game_state *s, game_result result, game_mark winner) {
    cr_expect_eq(s->status, GAME_OVER);
    cr_expect_eq(s->result, result);
    cr_expect_eq(s->winner, winner);
    cr_expect(s->line[0] == -1 && s->line[1] == -1 && s->line[2] == -1);
    game_state t = *s;
    cr_expect_eq(game_state_resign(&t, GAME_X), GAME_EOVER);
    cr_expect_eq(game_state_resign(&t, GAME_O), GAME_EOVER);
    cr_expect_eq(game_state_abandon(&t, GAME_X), GAME_EOVER);
    cr_expect_eq(game_state_abandon(&t, GAME_NONE), GAME_EOVER);
    cr_expect_eq(game_state_move(&t, game_board_turn(&t.board), 8), GAME_EOVER);
    cr_expect_eq(game_state_start(&t), GAME_EOVER);
    cr_expect(state_eq(&t, s), "calls on a finished game changed it");
}

Test(game, resign_and_abandon,
     .description = "resign/abandon by either mark, playing or waiting: the other mark wins "
                    "with RESIGN/ABANDON, board kept, then EOVER for everything") {
    int cells[] = {4, 0, 8};
    for (int who = GAME_X; who <= GAME_O; who++) {
        game_state s = play(cells, 3);
        cr_expect_eq(game_state_resign(&s, (game_mark)who), GAME_OK);
        check_ended(&s, GAME_RESULT_RESIGN, game_mark_other(who));
        cr_expect_eq(s.ply, 3, "board and moves survive a resignation");
        cr_expect_eq(s.board.x, (1u << 4 | 1u << 8));

        s = play(cells, 3);
        cr_expect_eq(game_state_abandon(&s, (game_mark)who), GAME_OK);
        check_ended(&s, GAME_RESULT_ABANDON, game_mark_other(who));

        game_state_init(&s, 1);
        cr_expect_eq(game_state_resign(&s, (game_mark)who), GAME_OK, "resign while waiting");
        check_ended(&s, GAME_RESULT_RESIGN, game_mark_other(who));
        game_state_init(&s, 1);
        cr_expect_eq(game_state_abandon(&s, (game_mark)who), GAME_OK, "abandon while waiting");
        check_ended(&s, GAME_RESULT_ABANDON, game_mark_other(who));
    }
}

Test(game, abandon_nobody,
     .description = "abandon(GAME_NONE) ends a waiting game with no winner; on a playing "
                    "game, and resign(GAME_NONE) or a bad mark anywhere, it is EBADMARK") {
    game_state s, t;
    game_state_init(&s, 1);
    cr_expect_eq(game_state_abandon(&s, GAME_NONE), GAME_OK);
    check_ended(&s, GAME_RESULT_ABANDON, GAME_NONE);

    game_state_init(&s, 0);
    t = s;
    cr_expect_eq(game_state_abandon(&t, GAME_NONE), GAME_EBADMARK,
                 "a playing game has two players: someone must abandon it");
    cr_expect_eq(game_state_resign(&t, GAME_NONE), GAME_EBADMARK);
    cr_expect_eq(game_state_resign(&t, (game_mark)3), GAME_EBADMARK);
    cr_expect_eq(game_state_abandon(&t, (game_mark)3), GAME_EBADMARK);
    cr_expect(state_eq(&t, &s));
    game_state_init(&s, 1);
    t = s;
    cr_expect_eq(game_state_resign(&t, GAME_NONE), GAME_EBADMARK, "only abandon may be nobody's");
    cr_expect(state_eq(&t, &s));
}

Test(game, small_helpers,
     .description = "mark chars and opposites, board full/turn, stable distinct error names") {
    cr_expect_eq(game_mark_char(GAME_X), 'X');
    cr_expect_eq(game_mark_char(GAME_O), 'O');
    cr_expect_eq(game_mark_char(GAME_NONE), '.');
    cr_expect_eq(game_mark_other(GAME_X), GAME_O);
    cr_expect_eq(game_mark_other(GAME_O), GAME_X);
    cr_expect_eq(game_mark_other(GAME_NONE), GAME_NONE);

    game_board b = {0x1 | 0x4, 0x2};
    cr_expect_eq(game_board_turn(&b), GAME_O);
    cr_expect_eq(game_board_full(&b), 0);
    b.o |= 0x1f8;
    cr_expect_eq(game_board_full(&b), 1);

    const int errs[] = {GAME_OK, GAME_EBADCELL, GAME_ETAKEN, GAME_ETURN, GAME_EOVER,
                        GAME_ENOTPLAYING, GAME_EBADMARK};
    for (int i = 0; i < 7; i++) {
        const char *n = game_err_name(errs[i]);
        cr_assert(n && *n && strcmp(n, "unknown") != 0, "code %d", errs[i]);
        for (int j = 0; j < i; j++)
            cr_expect_str_neq(n, game_err_name(errs[j]), "codes %d and %d", errs[i], errs[j]);
    }
    cr_expect_str_eq(game_err_name(GAME_ETAKEN), "cell_taken");
    cr_expect_str_eq(game_err_name(GAME_EOVER), "game_over");
    cr_expect_str_eq(game_err_name(-7), "unknown");
    cr_expect_str_eq(game_err_name(1), "unknown");
}

Test(game, rng,
     .description = "xorshift64* is deterministic per seed, differs across seeds, and a "
                    "zero seed does not get stuck at zero") {
    uint64_t a = 12345, b = 12345, c = 12346, z = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t va = game_rng_next(&a);
        cr_assert_eq(va, game_rng_next(&b));
        cr_assert_neq(va, game_rng_next(&c));
        cr_assert_neq(game_rng_next(&z), 0);
        cr_assert_neq(z, 0);
    }
}
