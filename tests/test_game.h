/* test_game.h -- what the test_game sources share: quiet checks for the
 * millions of assertions, the 8 lines written out independently of game.c,
 * and small helpers over the public API of game.h. */
#ifndef TEST_GAME_H
#define TEST_GAME_H

#include <criterion/criterion.h>
#include <limits.h>
#include <string.h>

#include "game.h"

/* Criterion reports every assertion to its runner, which is far too slow for
 * the millions of checks below: check quietly, fail loudly. */
#define CHECK(cond, ...) do { if (!(cond)) cr_assert_fail(__VA_ARGS__); } while (0)

/* The 8 lines, written out independently of game.c. */
static const int8_t lines[8][3] __attribute__((unused)) = {
    {0, 1, 2}, {3, 4, 5}, {6, 7, 8},
    {0, 3, 6}, {1, 4, 7}, {2, 5, 8},
    {0, 4, 8}, {2, 4, 6}
};

static inline int line_index(const int8_t l[3]) {
    for (int i = 0; i < 8; i++)
        if (l[0] == lines[i][0] && l[1] == lines[i][1] && l[2] == lines[i][2]) return i;
    return -1;
}

/* 18-bit position key: both masks side by side. */
static inline unsigned pos_key(const game_board *b) {
    return (unsigned)(b->x & 0x1ff) << 9 | (b->o & 0x1ff);
}

static inline int state_eq(const game_state *a, const game_state *b) {
    return a->board.x == b->board.x && a->board.o == b->board.o &&
           memcmp(a->moves, b->moves, sizeof(a->moves)) == 0 &&
           a->ply == b->ply && a->status == b->status && a->result == b->result &&
           a->winner == b->winner && memcmp(a->line, b->line, sizeof(a->line)) == 0;
}

static inline int empties(const game_board *b) {
    return GAME_CELLS - __builtin_popcount((b->x | b->o) & 0x1ff);
}

/* Play a list of cells from a fresh game, alternating X and O. */
static inline game_state play(const int *cells, int n) {
    game_state s;
    game_state_init(&s, 0);
    for (int i = 0; i < n; i++) {
        int rc = game_state_move(&s, game_board_turn(&s.board), cells[i]);
        cr_assert_eq(rc, GAME_OK, "move %d (cell %d): %s", i, cells[i], game_err_name(rc));
    }
    return s;
}

#endif
