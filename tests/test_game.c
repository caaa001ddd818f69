/* test_game.c -- the rules and the computer player, proved by exhaustion.
 *
 * Tic-tac-toe is small enough to check everything rather than samples: every
 * game, every reachable position, every illegal move in every position, and
 * the computer against every possible opponent. Only the public API of
 * game.h is used; the known totals (5,478 positions, 255,168 games) are the
 * independent yardstick, and a reference minimax written here from first
 * principles judges the perfect player. */
#include <criterion/criterion.h>
#include <limits.h>
#include <string.h>
#include "game.h"

/* Criterion reports every assertion to its runner, which is far too slow for
 * the millions of checks below: check quietly, fail loudly. */
#define CHECK(cond, ...) do { if (!(cond)) cr_assert_fail(__VA_ARGS__); } while (0)

/* The 8 lines, written out independently of game.c. */
static const int8_t lines[8][3] = {
    {0, 1, 2}, {3, 4, 5}, {6, 7, 8},
    {0, 3, 6}, {1, 4, 7}, {2, 5, 8},
    {0, 4, 8}, {2, 4, 6}
};

static int line_index(const int8_t l[3]) {
    for (int i = 0; i < 8; i++)
        if (l[0] == lines[i][0] && l[1] == lines[i][1] && l[2] == lines[i][2]) return i;
    return -1;
}

/* 18-bit position key: both masks side by side. */
static unsigned pos_key(const game_board *b) {
    return (unsigned)(b->x & 0x1ff) << 9 | (b->o & 0x1ff);
}

static int state_eq(const game_state *a, const game_state *b) {
    return a->board.x == b->board.x && a->board.o == b->board.o &&
           memcmp(a->moves, b->moves, sizeof(a->moves)) == 0 &&
           a->ply == b->ply && a->status == b->status && a->result == b->result &&
           a->winner == b->winner && memcmp(a->line, b->line, sizeof(a->line)) == 0;
}

static int empties(const game_board *b) {
    return GAME_CELLS - __builtin_popcount((b->x | b->o) & 0x1ff);
}

/* Play a list of cells from a fresh game, alternating X and O. */
static game_state play(const int *cells, int n) {
    game_state s;
    game_state_init(&s, 0);
    for (int i = 0; i < n; i++) {
        int rc = game_state_move(&s, game_board_turn(&s.board), cells[i]);
        cr_assert_eq(rc, GAME_OK, "move %d (cell %d): %s", i, cells[i], game_err_name(rc));
    }
    return s;
}

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

/* ---- every reachable position, once ------------------------------------------- */

#define MAX_POSITIONS 5478
static game_state positions[MAX_POSITIONS];
static int npositions;

static void collect(const game_state *s) {
    unsigned k = pos_key(&s->board);
    if (seen[k]) return;
    seen[k] = 1;
    cr_assert_lt(npositions, MAX_POSITIONS);
    positions[npositions++] = *s;
    if (s->status == GAME_OVER) return;
    for (int cell = 0; cell < GAME_CELLS; cell++) {
        game_state t = *s;
        if (game_state_move(&t, game_board_turn(&s->board), cell) == GAME_OK) collect(&t);
    }
}

static void collect_positions(void) {
    game_state s;
    memset(seen, 0, sizeof(seen));
    npositions = 0;
    game_state_init(&s, 0);
    collect(&s);
    cr_assert_eq(npositions, MAX_POSITIONS);
}

Test(game, illegal_everywhere,
     .description = "in every reachable position, every wrong-turn, out-of-range, bad-mark "
                    "and taken-cell move is refused with its error and changes nothing") {
    static const int bad_cells[] = {-1, 9, 100, INT_MIN, INT_MAX};
    static const int bad_marks[] = {GAME_NONE, 3, -1, 255};
    collect_positions();
    for (int p = 0; p < npositions; p++) {
        const game_state *s = &positions[p];
        game_mark turn = game_board_turn(&s->board);
        int playing = s->status == GAME_PLAYING;
        for (int cell = 0; cell < GAME_CELLS; cell++) {
            game_state t = *s;
            int rc = game_state_move(&t, game_mark_other(turn), cell);
            CHECK(rc == (playing ? GAME_ETURN : GAME_EOVER), "wrong turn: %s", game_err_name(rc));
            CHECK(state_eq(&t, s), "wrong-turn move changed the state");
            if (!((s->board.x | s->board.o) >> cell & 1)) continue;
            rc = game_state_move(&t, turn, cell);
            CHECK(rc == (playing ? GAME_ETAKEN : GAME_EOVER), "taken: %s", game_err_name(rc));
            CHECK(state_eq(&t, s), "taken-cell move changed the state");
        }
        for (size_t i = 0; i < sizeof(bad_cells) / sizeof(*bad_cells); i++) {
            game_state t = *s;
            int rc = game_state_move(&t, turn, bad_cells[i]);
            CHECK(rc == (playing ? GAME_EBADCELL : GAME_EOVER), "cell %d: %s",
                  bad_cells[i], game_err_name(rc));
            CHECK(state_eq(&t, s), "out-of-range move changed the state");
        }
        for (size_t i = 0; i < sizeof(bad_marks) / sizeof(*bad_marks); i++) {
            game_state t = *s;
            int rc = game_state_move(&t, (game_mark)bad_marks[i], 4);
            CHECK(rc == GAME_EBADMARK, "mark %d: %s", bad_marks[i], game_err_name(rc));
            CHECK(state_eq(&t, s), "bad-mark move changed the state");
        }
    }
}

/* ---- reference minimax ---------------------------------------------------------- */

/* Score for the side to move under perfect play by both: a game lost with k
 * empty cells left scores -(k + 1) for the loser, a draw 0. So a sooner win
 * is worth more to the winner and a later loss hurts the loser less. */
static int8_t ref_memo[1 << 18];

static int ref_value(const game_state *s) {
    unsigned k = pos_key(&s->board);
    if (seen[k]) return ref_memo[k];
    int v;
    if (s->status == GAME_OVER) {
        v = s->result == GAME_RESULT_DRAW ? 0 : -(empties(&s->board) + 1);
    } else {
        v = -100;
        for (int cell = 0; cell < GAME_CELLS; cell++) {
            game_state t = *s;
            if (game_state_move(&t, game_board_turn(&s->board), cell) != GAME_OK) continue;
            int cv = -ref_value(&t);
            if (cv > v) v = cv;
        }
    }
    seen[k] = 1;
    ref_memo[k] = (int8_t)v;
    return v;
}

/* Solve every position; leaves `positions` filled. */
static void solve_all(void) {
    collect_positions();
    memset(seen, 0, sizeof(seen));
    for (int p = 0; p < npositions; p++) ref_value(&positions[p]);
}

static int child_value(const game_state *s, int cell) {
    game_state t = *s;
    int rc = game_state_move(&t, game_board_turn(&s->board), cell);
    CHECK(rc == GAME_OK, "computer chose illegal cell %d: %s", cell, game_err_name(rc));
    return -ref_value(&t);
}

Test(game, perfect_is_optimal,
     .description = "from every reachable position and for many seeds, the perfect move "
                    "keeps the minimax value: never throws a win or a draw away, wins "
                    "fastest, and delays a forced loss as long as possible") {
    int losing = 0;
    solve_all();
    for (int p = 0; p < npositions; p++) {
        const game_state *s = &positions[p];
        if (s->status == GAME_OVER) continue;
        int v = ref_value(s);
        losing += v < 0;
        uint64_t rng = 0x1234 + (uint64_t)p;
        for (int i = 0; i < 16; i++) {
            int cell = game_ai_move(&s->board, GAME_AI_PERFECT, &rng);
            CHECK(cell >= 0 && cell < GAME_CELLS, "position %d: cell %d", p, cell);
            int cv = child_value(s, cell);
            CHECK(cv == v, "position x=%#x o=%#x: cell %d scores %d, best is %d",
                  s->board.x, s->board.o, cell, cv, v);
        }
    }
    /* Without lost positions the "delay the loss" half would prove nothing. */
    cr_expect_gt(losing, 0);
}

Test(game, perfect_takes_a_win,
     .description = "in every reachable position where the side to move can win at once, "
                    "perfect wins at once, whatever the seed") {
    int offered = 0;
    collect_positions();
    for (int p = 0; p < npositions; p++) {
        const game_state *s = &positions[p];
        if (s->status == GAME_OVER) continue;
        game_mark turn = game_board_turn(&s->board);
        int can_win = 0;
        for (int cell = 0; cell < GAME_CELLS && !can_win; cell++) {
            game_state t = *s;
            can_win = game_state_move(&t, turn, cell) == GAME_OK && t.result == GAME_RESULT_WIN;
        }
        if (!can_win) continue;
        offered++;
        for (uint64_t seed = 1; seed <= 8; seed++) {
            uint64_t rng = seed * 0x9e3779b97f4a7c15ULL + (uint64_t)p;
            game_state t = *s;
            int cell = game_ai_move(&s->board, GAME_AI_PERFECT, &rng);
            CHECK(game_state_move(&t, turn, cell) == GAME_OK, "illegal cell %d", cell);
            CHECK(t.result == GAME_RESULT_WIN && t.winner == turn,
                  "x=%#x o=%#x: cell %d does not win", s->board.x, s->board.o, cell);
        }
    }
    cr_expect_gt(offered, 0);
}

/* Perfect plays `ai` against every possible line of the opponent. At the
 * computer's turns every distinct move it returns over several draws is
 * followed, so its randomness cannot hide a losing branch. */
typedef struct vs_count { long games, lost, won; } vs_count;

static void vs_all(const game_state *s, game_mark ai, uint64_t *rng, vs_count *c) {
    if (s->status == GAME_OVER) {
        c->games++;
        c->lost += s->winner == game_mark_other(ai);
        c->won += s->winner == ai;
        return;
    }
    game_mark turn = game_board_turn(&s->board);
    if (turn == ai) {
        uint16_t tried = 0;
        for (int i = 0; i < 6; i++) {
            int cell = game_ai_move(&s->board, GAME_AI_PERFECT, rng);
            CHECK(cell >= 0 && cell < GAME_CELLS, "computer returned %d", cell);
            if (tried >> cell & 1) continue;
            tried |= (uint16_t)(1u << cell);
            game_state t = *s;
            CHECK(game_state_move(&t, ai, cell) == GAME_OK, "computer played illegal %d", cell);
            vs_all(&t, ai, rng, c);
        }
        return;
    }
    for (int cell = 0; cell < GAME_CELLS; cell++) {
        game_state t = *s;
        if (game_state_move(&t, turn, cell) == GAME_OK) vs_all(&t, ai, rng, c);
    }
}

Test(game, perfect_never_loses,
     .description = "perfect as X and as O, against every possible opponent line and with "
                    "several seeds, loses no game, and wins some (it punishes mistakes)") {
    for (int side = GAME_X; side <= GAME_O; side++) {
        for (uint64_t seed = 1; seed <= 4; seed++) {
            uint64_t rng = seed * 0xd1b54a32d192ed03ULL;
            vs_count c = {0};
            game_state s;
            game_state_init(&s, 0);
            vs_all(&s, (game_mark)side, &rng, &c);
            cr_expect_gt(c.games, 100, "as %c seed %d: only %ld games",
                         game_mark_char(side), (int)seed, c.games);
            cr_expect_eq(c.lost, 0, "as %c seed %d: lost %ld of %ld games",
                         game_mark_char(side), (int)seed, c.lost, c.games);
            cr_expect_gt(c.won, 0, "as %c seed %d: never won", game_mark_char(side), (int)seed);
        }
    }
}

Test(game, perfect_self_play_draws,
     .description = "perfect against perfect always draws, and its opening varies over all "
                    "9 cells (every opening draws, so any may be chosen)") {
    unsigned openings = 0;
    for (uint64_t seed = 1; seed <= 200; seed++) {
        uint64_t rng = seed;
        game_state s;
        game_state_init(&s, 0);
        while (s.status != GAME_OVER) {
            int cell = game_ai_move(&s.board, GAME_AI_PERFECT, &rng);
            if (s.ply == 0) openings |= 1u << cell;
            cr_assert_eq(game_state_move(&s, game_board_turn(&s.board), cell), GAME_OK);
        }
        cr_assert_eq(s.result, GAME_RESULT_DRAW, "seed %d: result %d", (int)seed, s.result);
    }
    cr_expect_eq(openings, 0x1ffu, "openings seen %#x", openings);
}

Test(game, ai_finished_positions,
     .description = "both levels return -1 for every won or full reachable position and a "
                    "legal cell for every other one") {
    collect_positions();
    uint64_t rng = 42;
    for (int p = 0; p < npositions; p++) {
        const game_state *s = &positions[p];
        for (int level = GAME_AI_EASY; level <= GAME_AI_PERFECT; level++) {
            int cell = game_ai_move(&s->board, (game_ai_level)level, &rng);
            if (s->status == GAME_OVER) {
                CHECK(cell == -1, "level %d returned %d on a finished board", level, cell);
                continue;
            }
            game_state t = *s;
            CHECK(game_state_move(&t, game_board_turn(&s->board), cell) == GAME_OK,
                  "level %d returned illegal cell %d", level, cell);
        }
    }
}

Test(game, easy_is_random,
     .description = "easy returns only legal moves, and from the empty board every cell "
                    "comes up with roughly equal frequency over 9,000 seeds") {
    int hits[GAME_CELLS] = {0};
    game_state s;
    game_state_init(&s, 0);
    for (uint64_t seed = 1; seed <= 9000; seed++) {
        uint64_t rng = seed;
        int cell = game_ai_move(&s.board, GAME_AI_EASY, &rng);
        cr_assert(cell >= 0 && cell < GAME_CELLS, "seed %d: cell %d", (int)seed, cell);
        hits[cell]++;
    }
    /* Expected 1,000 each, standard deviation ~31: 800..1200 is over six of
     * them, so only a biased or stuck generator fails. */
    for (int i = 0; i < GAME_CELLS; i++)
        cr_expect(hits[i] > 800 && hits[i] < 1200, "cell %d came up %d times", i, hits[i]);

    /* A single free cell is the only legal answer, whatever the seed. */
    int cells[] = {0, 1, 2, 4, 3, 5, 7, 6};   /* X O X O X O X O, no line */
    game_state t = play(cells, 8);
    cr_assert_eq(t.status, GAME_PLAYING);
    for (uint64_t seed = 1; seed <= 32; seed++) {
        uint64_t rng = seed;
        cr_expect_eq(game_ai_move(&t.board, GAME_AI_EASY, &rng), 8);
    }
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
