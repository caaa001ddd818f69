/* test_game_ai.c -- every reachable position once (each illegal move in each
 * is refused), and the computer player against a reference minimax written
 * here from first principles, and against every possible opponent. */
#include "test_game.h"

static uint8_t seen[1 << 18];   /* positions visited, by pos_key */

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
