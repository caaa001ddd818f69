/* match_judge.c -- ttt-match's referee: is a state, a step between two
 * states, or a whole observed sequence what game/'s rules allow?
 *
 * Pure functions over match_snap; game/ decides every rule (legality,
 * winner, line), this file only compares. A state is at most 9 moves, so
 * replaying its moves from the empty board on every message is cheaper than
 * trusting anything incremental, and catches a board that disagrees with its
 * own move list. */
#include <string.h>

#include "match.h"

void match_snap_from_msg(match_snap *s, const proto_server_msg *m, int gap) {
    memset(s, 0, sizeof(*s));
    s->st = m->st;
    /* the parser leaves moves past ply zero already; make it a guarantee,
     * since equality below compares whole arrays */
    for (int i = s->st.ply; i < GAME_CELLS; i++)
        s->st.moves[i] = 0;
    s->turn = m->turn;
    s->seat[0] = m->seat[0];
    s->seat[1] = m->seat[1];
    s->gap = (uint8_t)(gap != 0);
}

static void line_sorted(const int8_t in[3], int8_t out[3]) {
    int8_t t;

    out[0] = in[0]; out[1] = in[1]; out[2] = in[2];
    if (out[0] > out[1]) { t = out[0]; out[0] = out[1]; out[1] = t; }
    if (out[1] > out[2]) { t = out[1]; out[1] = out[2]; out[2] = t; }
    if (out[0] > out[1]) { t = out[0]; out[0] = out[1]; out[1] = t; }
}

/* The order of the three cells of a line is not part of the contract. */
static int line_equal(const int8_t a[3], const int8_t b[3]) {
    int8_t x[3], y[3];

    line_sorted(a, x);
    line_sorted(b, y);
    return x[0] == y[0] && x[1] == y[1] && x[2] == y[2];
}

static int line_none(const int8_t l[3]) {
    return l[0] == -1 && l[1] == -1 && l[2] == -1;
}

int match_snap_same_game(const match_snap *a, const match_snap *b) {
    return a->st.board.x == b->st.board.x && a->st.board.o == b->st.board.o &&
           a->st.ply == b->st.ply &&
           memcmp(a->st.moves, b->st.moves, GAME_CELLS) == 0 &&
           a->st.status == b->st.status && a->st.result == b->st.result &&
           a->st.winner == b->st.winner && line_equal(a->st.line, b->st.line);
}

int match_snap_equal(const match_snap *a, const match_snap *b) {
    return match_snap_same_game(a, b) && a->turn == b->turn &&
           a->seat[0] == b->seat[0] && a->seat[1] == b->seat[1];
}

const char *match_judge_state(const match_snap *s) {
    const game_state *st = &s->st;
    game_state g;

    game_state_init(&g, 0);
    for (int i = 0; i < st->ply; i++) {
        if (game_state_move(&g, i % 2 == 0 ? GAME_X : GAME_O, st->moves[i]) != GAME_OK)
            return "the move list is not a legal game (taken cell or play after the end)";
    }
    if (g.board.x != st->board.x || g.board.o != st->board.o)
        return "the board does not match the move list";

    switch (st->status) {
    case GAME_WAITING:
        if (st->ply != 0)
            return "a waiting game with moves";
        if (st->result != GAME_RESULT_NONE || st->winner != GAME_NONE ||
            !line_none(st->line))
            return "a waiting game with a result, winner or line";
        if (s->turn != GAME_NONE)
            return "a waiting game with a turn";
        if (s->seat[1] != PROTO_SEAT_OPEN || s->seat[0] == PROTO_SEAT_OPEN)
            return "a waiting game whose seats are not X taken, O open";
        return NULL;

    case GAME_PLAYING:
        if (g.status != GAME_PLAYING)
            return "status playing on a finished board";
        if (st->result != GAME_RESULT_NONE || st->winner != GAME_NONE ||
            !line_none(st->line))
            return "a game in play with a result, winner or line";
        if (s->turn != game_board_turn(&st->board))
            return "turn is not the mark to move";
        if (s->seat[0] == PROTO_SEAT_OPEN || s->seat[1] == PROTO_SEAT_OPEN)
            return "a game in play with an open seat";
        return NULL;

    case GAME_OVER:
        if (s->turn != GAME_NONE)
            return "a finished game with a turn";
        switch (st->result) {
        case GAME_RESULT_WIN:
            if (g.status != GAME_OVER || g.result != GAME_RESULT_WIN)
                return "result win, but no line on the board";
            if (st->winner != g.winner)
                return "wrong winner";
            if (!line_equal(st->line, g.line))
                return "wrong winning line";
            return NULL;
        case GAME_RESULT_DRAW:
            if (g.status != GAME_OVER || g.result != GAME_RESULT_DRAW)
                return "result draw, but the board is not a full board without a line";
            if (st->winner != GAME_NONE || !line_none(st->line))
                return "a draw with a winner or line";
            return NULL;
        case GAME_RESULT_RESIGN:
        case GAME_RESULT_ABANDON:
            if (g.status == GAME_OVER)
                return "resign/abandon on a board that had already ended";
            if (!line_none(st->line))
                return "resign/abandon with a line";
            /* only a waiting game (O open) ends without a winner */
            if (st->winner == GAME_NONE &&
                !(st->result == GAME_RESULT_ABANDON && st->ply == 0 &&
                  s->seat[1] == PROTO_SEAT_OPEN))
                return "resign/abandon of a game in play without a winner";
            return NULL;
        default:
            return "a finished game without a result";
        }

    default:
        return "unknown status";
    }
}

static int status_rank(int status) {
    return status == GAME_WAITING ? 0 : status == GAME_PLAYING ? 1 : 2;
}

static const char *prefix_check(const match_snap *prev, const match_snap *next) {
    if (next->st.ply < prev->st.ply)
        return "ply went back";
    if (memcmp(prev->st.moves, next->st.moves, prev->st.ply) != 0)
        return "earlier moves changed";
    if (status_rank(next->st.status) < status_rank(prev->st.status))
        return "status went back";
    if (prev->st.status == GAME_OVER && !match_snap_same_game(prev, next))
        return "a finished game changed";
    return NULL;
}

const char *match_judge_step(const match_snap *prev, const match_snap *next) {
    const char *why;
    game_state g;

    if ((why = prefix_check(prev, next)) != NULL)
        return why;
    if (next->st.ply > prev->st.ply + 1)
        return "a state was skipped (more than one move apart)";
    if (next->st.ply == prev->st.ply) {
        /* presence, start (waiting -> playing) or end (resign, abandon);
         * prefix_check already refused going back and changing an ended game */
        if (next->st.status == GAME_OVER && prev->st.status != GAME_OVER &&
            next->st.result != GAME_RESULT_RESIGN && next->st.result != GAME_RESULT_ABANDON)
            return "the game ended without a move, but not by resign or abandon";
        return NULL;
    }
    if (prev->st.status != GAME_PLAYING)
        return "a move in a game that was not in play";
    g = prev->st;
    if (game_state_move(&g, game_board_turn(&prev->st.board),
                        next->st.moves[prev->st.ply]) != GAME_OK)
        return "an illegal move";
    if (g.status != next->st.status || g.result != next->st.result ||
        g.winner != next->st.winner || !line_equal(g.line, next->st.line))
        return "status/result after a move differ from the rules";
    return NULL;
}

const char *match_judge_reach(const match_snap *prev, const match_snap *next) {
    return prefix_check(prev, next);
}

/* obs[a..b) equals ref[q..q+b-a) */
static int run_at(const match_snap *ref, size_t nref, size_t q,
                  const match_snap *obs, size_t a, size_t b) {
    if (q + (b - a) > nref)
        return 0;
    for (size_t i = a; i < b; i++, q++)
        if (!match_snap_equal(&ref[q], &obs[i]))
            return 0;
    return 1;
}

/* Greedy: each segment at the earliest place after the previous one; with
 * anchor, obs[i] is ref[0]. Identical states inside one game are rare (a
 * resume seen before the disconnect), and a segment of identical states
 * still matches at the earliest place, so greedy does not need to
 * backtrack in practice. */
static int embed_from(const match_snap *ref, size_t nref,
                      const match_snap *obs, size_t nobs, size_t i, int anchor) {
    size_t p = 0, a = i, b;
    int first = 1;

    while (a < nobs) {
        for (b = a + 1; b < nobs && !obs[b].gap; b++)
            ;
        if (first && anchor) {
            if (!run_at(ref, nref, 0, obs, a, b))
                return 0;
            p = b - a;
        } else {
            /* after a reconnect the resume/watch reply is the current state,
             * which may be the very state the observer saw last before it
             * dropped: a segment may begin there (a re-sync), never earlier */
            size_t q;
            for (q = p > 0 ? p - 1 : 0; q + (b - a) <= nref; q++)
                if (run_at(ref, nref, q, obs, a, b))
                    break;
            if (q + (b - a) > nref)
                return 0;
            p = q + (b - a);
        }
        first = 0;
        a = b;
    }
    return 1;
}

const char *match_judge_embed(const match_snap *ref, size_t nref,
                              const match_snap *obs, size_t nobs) {
    if (nobs == 0 || nref == 0)
        return NULL;
    if (embed_from(ref, nref, obs, nobs, 0, 0))
        return NULL;
    /* obs began before ref did: its head may lie before ref[0]. Either
     * obs[i] is ref[0] itself, or whole segments before a reconnect at i
     * came before it (the observer was away when ref began). The dropped
     * head must at least lead to ref[0]. */
    for (size_t i = 1; i < nobs; i++) {
        if (match_judge_reach(&obs[i - 1], &ref[0]) != NULL)
            break;
        if (match_snap_equal(&obs[i], &ref[0]) && embed_from(ref, nref, obs, nobs, i, 1))
            return NULL;
        if (obs[i].gap && embed_from(ref, nref, obs, nobs, i, 0))
            return NULL;
    }
    return "players/spectator saw different sequences of states";
}
