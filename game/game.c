/* game.c -- tic-tac-toe rules: board helpers and the game state machine.
 *
 * Everything here is plain data in, plain data out: no allocation, no I/O
 * and no global state, so the server, the tests and the computer player can
 * all call it from anywhere. The computer player lives in game_ai.c. */
#include "game.h"

/* The 8 winning lines, each in ascending cell order so that the line a caller
 * gets back is canonical (the protocol sends it as-is). Rows, columns, then
 * the diagonals: when one move completes two lines at once the first one in
 * this order is reported. */
static const int8_t game_lines[8][3] = {
    {0, 1, 2}, {3, 4, 5}, {6, 7, 8},
    {0, 3, 6}, {1, 4, 7}, {2, 5, 8},
    {0, 4, 8}, {2, 4, 6}
};

const char *game_err_name(int err) {
    /* Names match the protocol's error codes where one exists, so the server
     * can pass them through without a second table. */
    switch (err) {
    case GAME_OK:          return "ok";
    case GAME_EBADCELL:    return "bad_cell";
    case GAME_ETAKEN:      return "cell_taken";
    case GAME_ETURN:       return "not_your_turn";
    case GAME_EOVER:       return "game_over";
    case GAME_ENOTPLAYING: return "not_playing";
    case GAME_EBADMARK:    return "bad_mark";
    default:               return "unknown";
    }
}

/* ---- board ----------------------------------------------------------------- */

/* X moves first, so X is to move exactly when both have placed as many marks.
 * This is parity only: it says nothing about whether the game is over. */
game_mark game_board_turn(const game_board *b) {
    int nx = __builtin_popcount(b->x & 0x1ff);
    int no = __builtin_popcount(b->o & 0x1ff);
    return nx == no ? GAME_X : GAME_O;
}

int game_board_full(const game_board *b) {
    return ((b->x | b->o) & 0x1ff) == 0x1ff;
}

game_mark game_board_winner(const game_board *b, int8_t line[3]) {
    for (int i = 0; i < 8; i++) {
        const int8_t *l = game_lines[i];
        uint16_t m = (uint16_t)(1u << l[0] | 1u << l[1] | 1u << l[2]);
        game_mark w = (b->x & m) == m ? GAME_X :
                      (b->o & m) == m ? GAME_O : GAME_NONE;
        if (w == GAME_NONE) continue;
        if (line) for (int k = 0; k < 3; k++) line[k] = l[k];
        return w;
    }
    if (line) line[0] = line[1] = line[2] = -1;
    return GAME_NONE;
}

char game_mark_char(game_mark m) {
    return m == GAME_X ? 'X' : m == GAME_O ? 'O' : '.';
}

game_mark game_mark_other(game_mark m) {
    return m == GAME_X ? GAME_O : m == GAME_O ? GAME_X : GAME_NONE;
}

/* ---- game state ---------------------------------------------------------- */

void game_state_init(game_state *s, int waiting) {
    s->board.x = s->board.o = 0;
    for (int i = 0; i < GAME_CELLS; i++) s->moves[i] = 0;
    s->ply = 0;
    s->status = waiting ? GAME_WAITING : GAME_PLAYING;
    s->result = GAME_RESULT_NONE;
    s->winner = GAME_NONE;
    s->line[0] = s->line[1] = s->line[2] = -1;
}

int game_state_start(game_state *s) {
    switch (s->status) {
    case GAME_WAITING: s->status = GAME_PLAYING; return GAME_OK;
    case GAME_PLAYING: return GAME_OK;
    default:           return GAME_EOVER;
    }
}

static int game_valid_mark(game_mark m) {
    return m == GAME_X || m == GAME_O;
}

int game_state_move(game_state *s, game_mark who, int cell) {
    /* Every check comes before the first write, so an error leaves *s as it
     * was. The order is part of the contract (see game.h): it decides which
     * error a client sees when several apply. */
    if (!game_valid_mark(who)) return GAME_EBADMARK;
    if (s->status == GAME_OVER) return GAME_EOVER;
    if (s->status != GAME_PLAYING) return GAME_ENOTPLAYING;
    if (cell < 0 || cell >= GAME_CELLS) return GAME_EBADCELL;
    if (who != game_board_turn(&s->board)) return GAME_ETURN;
    uint16_t bit = (uint16_t)(1u << cell);
    if ((s->board.x | s->board.o) & bit) return GAME_ETAKEN;

    if (who == GAME_X) s->board.x |= bit;
    else s->board.o |= bit;
    s->moves[s->ply++] = (uint8_t)cell;

    game_mark w = game_board_winner(&s->board, s->line);
    if (w != GAME_NONE) {
        s->status = GAME_OVER;
        s->result = GAME_RESULT_WIN;
        s->winner = (uint8_t)w;
    } else if (s->ply == GAME_CELLS) {
        s->status = GAME_OVER;
        s->result = GAME_RESULT_DRAW;   /* winner stays NONE, line stays -1s */
    }
    return GAME_OK;
}

/* Resign and abandon differ only in the result they record. `who` may be
 * GAME_NONE only for abandon of a waiting game: nobody is seated opposite
 * the creator, so there is nobody to blame and nobody to win. */
static int game_state_end(game_state *s, game_mark who, game_result result) {
    int nobody = result == GAME_RESULT_ABANDON && who == GAME_NONE;
    if (!game_valid_mark(who) && !nobody) return GAME_EBADMARK;
    if (s->status == GAME_OVER) return GAME_EOVER;
    if (nobody && s->status != GAME_WAITING) return GAME_EBADMARK;

    s->status = GAME_OVER;
    s->result = (uint8_t)result;
    s->winner = (uint8_t)game_mark_other(who);
    s->line[0] = s->line[1] = s->line[2] = -1;
    return GAME_OK;
}

int game_state_resign(game_state *s, game_mark who) {
    return game_state_end(s, who, GAME_RESULT_RESIGN);
}

int game_state_abandon(game_state *s, game_mark who) {
    return game_state_end(s, who, GAME_RESULT_ABANDON);
}

game_mark game_state_turn(const game_state *s) {
    return s->status == GAME_PLAYING ? game_board_turn(&s->board) : GAME_NONE;
}

game_mark game_abandon_loser(const int64_t away_since[2], int64_t limit_ms, int64_t now) {
    game_mark loser = GAME_NONE;
    int64_t since = 0;
    for (int i = 0; i < 2; i++) {
        int64_t t = away_since[i];
        if (t && t + limit_ms <= now && (!since || t < since)) {
            loser = (game_mark)(i + 1);
            since = t;
        }
    }
    return loser;
}

/* ---- rng ------------------------------------------------------------------- */

/* xorshift64* (Vigna, 2014): tiny, fast and good enough to vary the
 * computer's play; nothing secret depends on it. Zero is the one state the
 * generator never leaves, so a zero seed is replaced rather than trusted. */
uint64_t game_rng_next(uint64_t *rng) {
    uint64_t x = *rng ? *rng : 0x9e3779b97f4a7c15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *rng = x;
    return x * 0x2545f4914f6cdd1dULL;
}
