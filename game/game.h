/* game.h -- tic-tac-toe rules: board, moves, results and the computer player.
 *
 * Pure C: no I/O, no allocation, no global state except a lazily built,
 * read-only minimax table. Everything that decides whether a move is legal
 * or who won lives here and nowhere else; the server only calls in.
 *
 * Cells are numbered 0..8, row-major:   0 1 2
 *                                        3 4 5
 *                                        6 7 8
 * X always moves first. */
#ifndef GAME_H
#define GAME_H

#include <stdint.h>

#define GAME_CELLS 9

typedef enum game_mark {
    GAME_NONE = 0,
    GAME_X = 1,
    GAME_O = 2
} game_mark;

typedef enum game_status {
    GAME_WAITING = 0,   /* an open seat: no move can be made yet */
    GAME_PLAYING = 1,
    GAME_OVER = 2
} game_status;

typedef enum game_result {
    GAME_RESULT_NONE = 0,
    GAME_RESULT_WIN = 1,
    GAME_RESULT_DRAW = 2,
    GAME_RESULT_RESIGN = 3,
    GAME_RESULT_ABANDON = 4
} game_result;

/* Errors are negative, GAME_OK is zero. game_err_name() gives a stable name. */
typedef enum game_err {
    GAME_OK = 0,
    GAME_EBADCELL = -1,    /* cell outside 0..8 */
    GAME_ETAKEN = -2,      /* cell already holds a mark */
    GAME_ETURN = -3,       /* it is the other mark's turn */
    GAME_EOVER = -4,       /* the game has ended */
    GAME_ENOTPLAYING = -5, /* the game is still waiting for its second player */
    GAME_EBADMARK = -6     /* mark is not GAME_X or GAME_O */
} game_err;

/* A position as two 9-bit masks: bit i set = cell i holds that mark. */
typedef struct game_board {
    uint16_t x;
    uint16_t o;
} game_board;

/* The whole rules-level state of one game. Plain data: copy it with '='. */
typedef struct game_state {
    game_board board;
    uint8_t moves[GAME_CELLS]; /* cells in play order; moves[0..ply-1] valid */
    uint8_t ply;               /* moves made so far, 0..9 */
    uint8_t status;            /* game_status */
    uint8_t result;            /* game_result, GAME_RESULT_NONE unless over */
    uint8_t winner;            /* game_mark, GAME_NONE when none */
    int8_t line[3];            /* the winning cells, or -1 -1 -1 */
} game_state;

typedef enum game_ai_level {
    GAME_AI_EASY = 0,    /* a uniformly random legal move */
    GAME_AI_PERFECT = 1  /* minimax: never loses, wins whenever it can */
} game_ai_level;

const char *game_err_name(int err);

/* Board helpers. */
game_mark game_board_turn(const game_board *b);            /* mark to move next */
int game_board_full(const game_board *b);
/* The winner of a position and, when line != NULL, its winning cells (set to
 * -1 when there is no winner). A position with two winners is unreachable. */
game_mark game_board_winner(const game_board *b, int8_t line[3]);
char game_mark_char(game_mark m);                          /* 'X', 'O' or '.' */
game_mark game_mark_other(game_mark m);

/* Start a game. With waiting != 0 the game waits for its second player
 * (GAME_WAITING); otherwise it is GAME_PLAYING at once. */
void game_state_init(game_state *s, int waiting);
/* Waiting -> playing, when the second player takes the open seat.
 * Returns GAME_EOVER / GAME_OK (already playing is GAME_OK, a no-op). */
int game_state_start(game_state *s);

/* Place `who`'s mark in `cell`. On success updates board, moves, ply, and when
 * the move ends the game: status, result (win/draw), winner and line.
 * Errors, checked in this order: GAME_EBADMARK, GAME_EOVER, GAME_ENOTPLAYING,
 * GAME_EBADCELL, GAME_ETURN, GAME_ETAKEN. On error *s is unchanged. */
int game_state_move(game_state *s, game_mark who, int cell);

/* `who` resigns / abandons: the game ends and the other mark wins.
 * Works on waiting and playing games; GAME_EOVER when already over.
 * game_state_abandon with who == GAME_NONE ends a waiting game with no
 * winner (a waiting game that timed out). */
int game_state_resign(game_state *s, game_mark who);
int game_state_abandon(game_state *s, game_mark who);

/* The mark to move in s, or GAME_NONE when s is not being played (waiting
 * or over). The same rule game_state_move() checks a move against. */
game_mark game_state_turn(const game_state *s);

/* Who loses a game by abandon. away_since[i] is when mark i+1's seat lost
 * its last player, 0 while it is held (or cannot be abandoned: the computer,
 * an open seat). A seat away for limit_ms or more at `now` loses; when both
 * are, the one that left first; on a tie, X. GAME_NONE while nobody has. */
game_mark game_abandon_loser(const int64_t away_since[2], int64_t limit_ms, int64_t now);

/* The computer's move for the side to move in b, or -1 when the position is
 * over. *rng is the caller's xorshift state (any non-zero seed); it picks
 * among equally good moves so play is not always the same. */
int game_ai_move(const game_board *b, game_ai_level level, uint64_t *rng);

/* xorshift64* step, exposed for callers that need the same generator. */
uint64_t game_rng_next(uint64_t *rng);

#endif
