/* game_ai.c -- the computer player: random (easy) and minimax (perfect).
 *
 * Tic-tac-toe has only 3^9 = 19,683 ways to fill the board, so rather than
 * search on every call we solve every one of them once, the first time the
 * computer is asked to move, into a 19,683-entry static table (~80 KB). After
 * that a move is two table lookups and a random pick among set bits: no
 * allocation, no recursion, far below a microsecond.
 *
 * The table covers unreachable encodings too (e.g. three X and no O): solving
 * them costs nothing and means no input can index outside what was solved. */
#include <pthread.h>
#include "game.h"

#define GAME_AI_ENCODINGS 19683   /* 3^9 */

/* Each entry is the minimax score for the side to move and the set of moves
 * that achieve it. Scores: a side that has already lost with k empty cells
 * left scores -(k + 1), a full board without a winner 0. Negamax then makes
 * an earlier win worth more (more empties left when it lands) and an earlier
 * loss worth less, which gives "fastest win, slowest loss" for free, while
 * every drawing move scores 0 and ends up in `best` together. */
typedef struct game_ai_entry {
    int8_t score;
    uint16_t best;   /* bit i: cell i is an optimal move; 0 when over */
} game_ai_entry;

static game_ai_entry game_ai_table[GAME_AI_ENCODINGS];
/* Base-3 value of a 9-bit mask (bit i -> 3^i): the board's encoding is then
 * trits[x] + 2 * trits[o], an O(1) lookup instead of a loop over cells. */
static uint16_t game_ai_trits[512];
static pthread_once_t game_ai_once = PTHREAD_ONCE_INIT;

static void game_ai_build(void) {
    int pow3[GAME_CELLS];
    pow3[0] = 1;
    for (int i = 1; i < GAME_CELLS; i++) pow3[i] = pow3[i - 1] * 3;

    for (int m = 0; m < 512; m++) {
        int t = 0;
        for (int i = 0; i < GAME_CELLS; i++) if (m >> i & 1) t += pow3[i];
        game_ai_trits[m] = (uint16_t)t;
    }

    /* Every child adds a mark, i.e. adds a positive amount to the encoding,
     * so walking encodings downwards solves all children before a parent. */
    for (int enc = GAME_AI_ENCODINGS - 1; enc >= 0; enc--) {
        game_board b = {0, 0};
        for (int i = 0, e = enc; i < GAME_CELLS; i++, e /= 3) {
            if (e % 3 == 1) b.x |= (uint16_t)(1u << i);
            else if (e % 3 == 2) b.o |= (uint16_t)(1u << i);
        }
        game_ai_entry *ent = &game_ai_table[enc];
        int empty = GAME_CELLS - __builtin_popcount(b.x | b.o);
        if (game_board_winner(&b, NULL) != GAME_NONE) {
            ent->score = (int8_t)-(empty + 1);
            ent->best = 0;
            continue;
        }
        if (empty == 0) {
            ent->score = 0;
            ent->best = 0;
            continue;
        }
        int trit = game_board_turn(&b) == GAME_X ? 1 : 2;
        int best = -128;
        uint16_t set = 0;
        for (int i = 0; i < GAME_CELLS; i++) {
            if ((b.x | b.o) >> i & 1) continue;
            int v = -game_ai_table[enc + trit * pow3[i]].score;
            if (v > best) {
                best = v;
                set = 0;
            }
            if (v == best) set |= (uint16_t)(1u << i);
        }
        ent->score = (int8_t)best;
        ent->best = set;
    }
}

/* A uniformly chosen set bit of a non-empty mask. The high half of the
 * xorshift64* output is used: its low bits are the weakest. The modulo bias
 * (2^32 mod n out of 2^32, n <= 9) is far below anything a player could see. */
static int game_ai_pick(uint16_t mask, uint64_t *rng) {
    uint32_t r = (uint32_t)(game_rng_next(rng) >> 32);
    int k = (int)(r % (uint32_t)__builtin_popcount(mask));
    while (k--) mask &= (uint16_t)(mask - 1);
    return __builtin_ctz(mask);
}

int game_ai_move(const game_board *b, game_ai_level level, uint64_t *rng) {
    pthread_once(&game_ai_once, game_ai_build);

    /* Cells holding both marks cannot happen in a real game; counting them
     * as X keeps the encoding inside the table whatever the input. */
    uint16_t x = b->x & 0x1ff, o = b->o & 0x1ff & (uint16_t)~x;
    const game_ai_entry *ent = &game_ai_table[game_ai_trits[x] + 2 * game_ai_trits[o]];
    if (ent->best == 0) return -1;   /* won or full */

    uint16_t moves = level == GAME_AI_EASY ? (uint16_t)(~(x | o) & 0x1ff)
                                           : ent->best;
    return game_ai_pick(moves, rng);
}
