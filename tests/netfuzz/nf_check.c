/* nf_check.c -- the network fuzzer's judge; see nf_check.h. The rules come
 * from game/ (the same code the server uses would make the replay a tautology
 * only if it were buggy in the same way as the server's use of it; what this
 * catches is the server storing or sending a state the rules never made). */
#include "nf_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "game.h"

static int violation(nf_judge *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int violation(nf_judge *j, const char *fmt, ...)
{
    va_list ap;
    if (j->violations++ == 0) {
        va_start(ap, fmt);
        vsnprintf(j->first_violation, sizeof j->first_violation, fmt, ap);
        va_end(ap);
    }
    return -1;
}

const char *nf_state_problem(const proto_server_msg *m)
{
    const game_state *st = &m->st;
    game_state g;
    int8_t line[3];

    game_state_init(&g, 0);
    for (int i = 0; i < st->ply; i++) {
        if (g.status == GAME_OVER)
            return "moves continue after the game was won";
        if (game_state_move(&g, i % 2 ? GAME_O : GAME_X, st->moves[i]) != GAME_OK)
            return "the moves are not a legal sequence";
    }
    if (g.board.x != st->board.x || g.board.o != st->board.o)
        return "the board does not match the moves";
    game_mark w = game_board_winner(&g.board, line);
    switch (st->status) {
    case GAME_WAITING:
        if (st->ply != 0 || st->result != GAME_RESULT_NONE)
            return "a waiting game with moves or a result";
        break;
    case GAME_PLAYING:
        if (g.status == GAME_OVER || st->result != GAME_RESULT_NONE ||
            st->winner != GAME_NONE)
            return "a game in play whose board is over, or with a result";
        if (m->turn != (st->ply % 2 ? GAME_O : GAME_X))
            return "turn is not the side to move";
        break;
    case GAME_OVER:
        if (m->turn != GAME_NONE)
            return "a finished game with a turn";
        if (st->result == GAME_RESULT_WIN) {
            if (w == GAME_NONE || st->winner != (uint8_t)w)
                return "a win the board does not show";
            if (memcmp(line, st->line, 3) != 0)
                return "the winning line is wrong";
        } else if (st->result == GAME_RESULT_DRAW) {
            if (w != GAME_NONE || !game_board_full(&g.board) || st->winner != GAME_NONE)
                return "a draw on a board that is not one";
        } else if (st->result == GAME_RESULT_RESIGN) {
            if (g.status == GAME_OVER || st->winner == GAME_NONE)
                return "a resign after the board ended, or with no winner";
        } else if (st->result == GAME_RESULT_ABANDON) {
            if (g.status == GAME_OVER)
                return "an abandon after the board ended";
        } else {
            return "a finished game without a result";
        }
        break;
    default:
        return "unknown status";
    }
    return NULL;
}

static void remember_game(nf_judge *j, int64_t id)
{
    for (size_t i = 0; i < j->ngames; i++)
        if (j->games[i] == id)
            return;
    j->games[j->game_next] = id;
    j->game_next = (j->game_next + 1) % NF_GAMES_MAX;
    if (j->ngames < NF_GAMES_MAX)
        j->ngames++;
}

static void remember_seat(nf_judge *j, const proto_server_msg *m)
{
    nf_seat *s = &j->seats[j->seat_next];
    s->game_id = m->game_id;
    s->mark = m->mark;
    memcpy(s->token, m->token, sizeof(s->token));
    j->seat_next = (j->seat_next + 1) % NF_SEATS_MAX;
    if (j->nseats < NF_SEATS_MAX)
        j->nseats++;
    remember_game(j, m->game_id);
}

void nf_judge_expect(nf_judge *j, int64_t id, int type, int64_t game_id,
                     const nf_seat *token_of)
{
    nf_pending *p = &j->pending[(uint64_t)id % NF_PENDING];
    memset(p, 0, sizeof(*p));
    p->id = id;
    p->type = type;
    p->game_id = game_id;
    if (token_of) {
        p->token_seat = *token_of;
        p->token_of = &p->token_seat;
    }
}

/* A joined that answers one of our requests: the seat must be the one asked for. */
static int judge_joined(nf_judge *j, const proto_server_msg *m)
{
    nf_pending *p;
    if (m->id.kind != PROTO_ID_INT || m->id.num <= 0)
        return 0;
    p = &j->pending[(uint64_t)m->id.num % NF_PENDING];
    if (p->id != m->id.num)
        return 0;
    p->id = 0;
    switch (p->type) {
    case PROTO_CREATE:
        if (m->mark != GAME_X)
            return violation(j, "create (id %lld) seated the caller as O",
                             (long long)m->id.num);
        break;
    case PROTO_JOIN:
        if (m->mark != GAME_O || m->game_id != p->game_id)
            return violation(j, "join of game %lld (id %lld) gave seat %d of game %lld",
                             (long long)p->game_id, (long long)m->id.num, m->mark,
                             (long long)m->game_id);
        break;
    case PROTO_RESUME:
        if (!p->token_of)
            return violation(j, "resume of game %lld with a made-up token took seat %d",
                             (long long)p->game_id, m->mark);
        if (p->token_of->game_id != p->game_id || m->game_id != p->game_id ||
            p->token_of->mark != m->mark)
            return violation(j, "resume of game %lld with the token of game %lld seat %d "
                             "took seat %d of game %lld", (long long)p->game_id,
                             (long long)p->token_of->game_id, p->token_of->mark, m->mark,
                             (long long)m->game_id);
        break;
    default:
        break;
    }
    return 0;
}

static int judge_order(nf_judge *j, nf_seen *seen, const proto_server_msg *m)
{
    unsigned i;
    if (!seen)
        return 0;
    for (i = 0; i < NF_SEEN && i < seen->n; i++) {
        if (seen->game_id[i] != m->game_id)
            continue;
        if (m->st.ply < seen->ply[i])
            return violation(j, "game %lld: a state of ply %d after one of ply %d",
                             (long long)m->game_id, m->st.ply, seen->ply[i]);
        seen->ply[i] = m->st.ply;
        return 0;
    }
    i = seen->n++ % NF_SEEN;
    seen->game_id[i] = m->game_id;
    seen->ply[i] = m->st.ply;
    return 0;
}

int nf_judge_text(nf_judge *j, nf_seen *seen, const unsigned char *p, size_t len)
{
    proto_server_msg m;
    const char *why;

    j->msgs++;
    j->bytes += len;
    if (proto_parse_server((const char *)p, len, &m) != PROTO_OK)
        return violation(j, "the server sent a message no client can read: %.*s",
                         (int)(len > 300 ? 300 : len), (const char *)p);
    switch (m.type) {
    case PROTO_S_STATE:
        j->states++;
        remember_game(j, m.game_id);
        if ((why = nf_state_problem(&m)) != NULL)
            return violation(j, "game %lld: %s: %.*s", (long long)m.game_id, why,
                             (int)(len > 300 ? 300 : len), (const char *)p);
        return judge_order(j, seen, &m);
    case PROTO_S_JOINED:
        j->joined++;
        remember_seat(j, &m);
        return judge_joined(j, &m);
    case PROTO_S_ERROR:
        j->errors[m.code]++;
        if (m.id.kind == PROTO_ID_INT && m.id.num > 0)
            j->pending[(uint64_t)m.id.num % NF_PENDING].id = 0;
        return 0;
    case PROTO_S_WATCHING:
    case PROTO_S_REMATCH_OFFER:
        remember_game(j, m.game_id);
        return 0;
    default:
        return 0;
    }
}
