/* test_match_judge.c -- ttt-match's judge must catch what it is there to
 * catch. Every run of the cluster tests reports zero violations; these cases
 * show that a wrong board, result, step or sequence would not pass unseen.
 * States are built from move lists with game/'s rules, then spoiled. */
#include <criterion/criterion.h>

#include <string.h>

#include "match.h"

/* The state after playing cells[0..n-1] in order (X first). */
static match_snap snap(const int *cells, int n)
{
    match_snap s;
    memset(&s, 0, sizeof s);
    game_state_init(&s.st, 0);
    for (int i = 0; i < n; i++)
        cr_assert_eq(game_state_move(&s.st, game_board_turn(&s.st.board), cells[i]), GAME_OK,
                     "test setup: move %d (cell %d) is legal", i, cells[i]);
    s.turn = s.st.status == GAME_PLAYING ? (uint8_t)game_board_turn(&s.st.board) : GAME_NONE;
    s.seat[0] = s.seat[1] = PROTO_SEAT_CONNECTED;
    return s;
}

static const int game_x_wins[] = {0, 3, 1, 4, 2};   /* X takes the top row */

Test(judge, legal_game_passes, .description = "every state of a real game, and every step "
                                              "between them, is accepted")
{
    match_snap prev = snap(game_x_wins, 0);
    cr_expect_null(match_judge_state(&prev));
    for (int n = 1; n <= 5; n++) {
        match_snap s = snap(game_x_wins, n);
        cr_expect_null(match_judge_state(&s), "state after %d moves", n);
        cr_expect_null(match_judge_step(&prev, &s), "step to %d moves", n);
        prev = s;
    }
    cr_expect_eq(prev.st.winner, GAME_X, "the game this test plays is won by X");
}

Test(judge, board_not_the_moves, .description = "a board that the move list does not produce "
                                                "is a violation")
{
    match_snap s = snap(game_x_wins, 2);
    s.st.board.x = (uint16_t)(1u << 8);   /* X shown at 8, but X played 0 */
    cr_expect_not_null(match_judge_state(&s));
}

Test(judge, wrong_winner_or_result, .description = "a won game reported with the wrong winner, "
                                                   "as a draw, or without its line is caught")
{
    match_snap s = snap(game_x_wins, 5);
    match_snap w = s;
    w.st.winner = GAME_O;
    cr_expect_not_null(match_judge_state(&w), "winner O");
    w = s;
    w.st.result = GAME_RESULT_DRAW;
    w.st.winner = GAME_NONE;
    cr_expect_not_null(match_judge_state(&w), "reported as a draw");
    w = s;
    w.st.line[0] = w.st.line[1] = w.st.line[2] = -1;
    cr_expect_not_null(match_judge_state(&w), "no line");
    w = s;
    w.st.status = GAME_PLAYING;
    w.st.result = GAME_RESULT_NONE;
    w.st.winner = GAME_NONE;
    cr_expect_not_null(match_judge_state(&w), "still playing after a line");
}

Test(judge, wrong_turn, .description = "a playing state that names the wrong side to move is "
                                       "caught")
{
    match_snap s = snap(game_x_wins, 1);
    s.turn = GAME_X;
    cr_expect_not_null(match_judge_state(&s));
}

Test(judge, steps_that_skip_or_rewrite, .description = "on one connection, two moves at once, a "
                                                       "move taken back, or a changed cell is not "
                                                       "a step")
{
    match_snap a = snap(game_x_wins, 1), c = snap(game_x_wins, 3);
    cr_expect_not_null(match_judge_step(&a, &c), "two moves in one step");
    cr_expect_not_null(match_judge_step(&c, &a), "moves taken back");
    static const int other[] = {0, 5};
    match_snap b = snap(game_x_wins, 2), b2 = snap(other, 2);
    cr_expect_not_null(match_judge_step(&b, &b2), "a move replaced by another");
    match_snap same = b;
    same.seat[1] = PROTO_SEAT_AWAY;
    cr_expect_null(match_judge_step(&b, &same), "a presence change on the same board is a step");
}

static void seq(match_snap *out, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = snap(game_x_wins, i);
}

Test(judge, sequences, .description = "an observer's states must be the reference's, in order: "
                                      "a hole without a reconnect, a state out of order, or one "
                                      "that is not in the game are caught; a reconnect, and a "
                                      "resume that repeats the last state seen, are not")
{
    match_snap ref[6], obs[7];
    seq(ref, 6);
    seq(obs, 6);
    cr_expect_null(match_judge_embed(ref, 6, obs, 6), "identical");

    /* a hole in the middle, no reconnect: 0 1 3 4 5 */
    obs[0] = ref[0]; obs[1] = ref[1]; obs[2] = ref[3]; obs[3] = ref[4]; obs[4] = ref[5];
    cr_expect_not_null(match_judge_embed(ref, 6, obs, 5), "a missed state");
    /* the same hole across a reconnect is fine */
    obs[2].gap = 1;
    cr_expect_null(match_judge_embed(ref, 6, obs, 5), "a missed state across a reconnect");

    /* the resume reply repeats the last state before the drop: 0 1 2 | 2 3 4 5 */
    seq(obs, 3);
    for (int i = 2; i < 6; i++)
        obs[i + 1] = ref[i];
    obs[3].gap = 1;
    cr_expect_null(match_judge_embed(ref, 6, obs, 7), "re-sync on the same state");
    /* but not an older one: 0 1 2 | 1 2 ... */
    obs[3] = ref[1];
    obs[3].gap = 1;
    cr_expect_not_null(match_judge_embed(ref, 6, obs, 7), "going back past the last state");

    /* a duplicate without a reconnect: 0 1 1 2 3 4 5 */
    obs[0] = ref[0]; obs[1] = ref[1]; obs[2] = ref[1];
    for (int i = 2; i < 6; i++)
        obs[i + 1] = ref[i];
    cr_expect_not_null(match_judge_embed(ref, 6, obs, 7), "a state seen twice");

    /* a state from another game */
    static const int other[] = {8, 7, 6};
    seq(obs, 6);
    obs[3] = snap(other, 3);
    cr_expect_not_null(match_judge_embed(ref, 6, obs, 6), "a foreign state");
}
