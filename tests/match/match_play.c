/* match_play.c -- ttt-match's games: slots, bots, and judging as states
 * arrive.
 *
 * A slot plays one game at a time. Game g of a slot is created by
 * conn[g & 1] (so each connection, and each --url, plays both X and O),
 * joined by the other, and watched by conn[2] with --spectate. Against the
 * computer conn[0] creates and plays alone.
 *
 * Every state an observer receives is judged at once against game/ (the
 * state alone, then the step from that observer's previous state); when all
 * observers have seen the end, their sequences are compared with each other
 * and the result with what the strategies allow. Requests carry an integer
 * "id" of (game number << 8 | ply + 1 << 4 | kind), so a reply says which
 * request of which game it answers without any lookup. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"

enum {
    K_CREATE = 1,
    K_JOIN,
    K_RESUME,
    K_WATCH,
    K_MOVE
};

#define RETRY_MS 100   /* after rate_limited / unavailable */

static void conn_act(match_conn *c);
static void slot_next(match_slot *s);

static int used(const match_run *r, int idx) {
    return idx == 0 || (idx == 1 && !r->opt.vs_computer) || (idx == 2 && r->opt.spectate);
}

/* ---- reports --------------------------------------------------------------- */

static void report(match_run *r, const match_slot *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report(match_run *r, const match_slot *s, const char *fmt, ...) {
    va_list ap;

    if (r->st.reports++ >= MATCH_MAX_REPORTS) {
        if (r->st.reports == MATCH_MAX_REPORTS + 1)
            fprintf(stderr, "\nttt-match: further reports suppressed\n");
        return;
    }
    fprintf(stderr, "%sttt-match: game %lld (slot %d): ", r->opt.progress ? "\n" : "",
            s ? (long long)s->game_id : 0LL, s ? s->idx : -1);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* -vvv: one line per request, reply and state (for debugging a server). */
#define TRACE(c, ...) do { if ((c)->run->opt.verbose >= 3) trace((c), __VA_ARGS__); } while (0)

static void trace(const match_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void trace(const match_conn *c, const char *fmt, ...) {
    va_list ap;

    fprintf(stderr, "%.6f slot %d conn %d game %lld: ", (double)uv_hrtime() / 1e9,
            c->slot->idx, c->idx, (long long)c->slot->game_id);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static const char *snap_str(const match_snap *p, char *buf, size_t n) {
    static const char *status[] = { "waiting", "playing", "over" };
    static const char *result[] = { "-", "win", "draw", "resign", "abandon" };
    static const char *seat[] = { "open", "connected", "away" };
    char board[10], moves[32];
    size_t k = 0;

    for (int i = 0; i < 9; i++)
        board[i] = (p->st.board.x >> i & 1) ? 'X' : (p->st.board.o >> i & 1) ? 'O' : '.';
    board[9] = '\0';
    moves[0] = '\0';
    for (int i = 0; i < p->st.ply && k + 3 < sizeof(moves); i++)
        k += (size_t)snprintf(moves + k, sizeof(moves) - k, "%s%d", i ? "," : "", p->st.moves[i]);
    snprintf(buf, n, "[%s moves %s ply %d %s turn %c %s winner %c line %d,%d,%d X:%s O:%s%s]",
             board, moves, p->st.ply, p->st.status < 3 ? status[p->st.status] : "?",
             game_mark_char(p->turn), p->st.result < 5 ? result[p->st.result] : "?",
             game_mark_char(p->st.winner), p->st.line[0], p->st.line[1], p->st.line[2],
             p->seat[0] < 3 ? seat[p->seat[0]] : "?", p->seat[1] < 3 ? seat[p->seat[1]] : "?",
             p->gap ? " after reconnect" : "");
    return buf;
}

static const char *who(const match_slot *s, const match_conn *c) {
    if (c->idx == 2)
        return "spectator";
    return c->idx == s->creator ? "X" : "O";
}

static void violation(match_slot *s, match_conn *c, const char *why,
                      const match_snap *prev, const match_snap *next) {
    char a[192], b[192];

    s->run->st.violations++;
    report(s->run, s, "VIOLATION (%s): %s%s%s%s%s", c ? who(s, c) : "game", why,
           prev ? "\n    before: " : "", prev ? snap_str(prev, a, sizeof(a)) : "",
           next ? "\n    now:    " : "", next ? snap_str(next, b, sizeof(b)) : "");
}

/* ---- slots ------------------------------------------------------------------ */

static void slot_done(match_slot *s) {
    match_run *r = s->run;

    s->phase = MATCH_P_DONE;
    for (int i = 0; i < 3; i++)
        if (used(r, i))
            match_net_close(&s->conn[i], MATCH_W_FINAL);
}

/* The game cannot go on: count it and start afresh, on new connections, so
 * that nothing of the old game (seats, watches) is left on them. */
static void slot_lose(match_slot *s, int aborted, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void slot_lose(match_slot *s, int aborted, const char *fmt, ...) {
    match_run *r = s->run;
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (aborted)
        r->st.aborted++;
    else
        r->st.lost++;
    report(r, s, "%s: %s", aborted ? "aborted" : "LOST", msg);
    s->prev_valid = 0;
    s->prev_id = s->game_id;
    for (int i = 0; i < 3; i++)
        if (used(r, i))
            match_net_close(&s->conn[i], MATCH_W_RESET);
    s->games_on_conn = 0;
    r->t_end = uv_hrtime();
    slot_next(s);
}

static int want_more(const match_run *r) {
    if (r->no_more)
        return 0;
    return r->opt.games <= 0 || (long long)r->st.assigned < r->opt.games;
}

static void slot_next(match_slot *s) {
    match_run *r = s->run;
    int strat = r->opt.strategy;

    if (!want_more(r)) {
        slot_done(s);
        return;
    }
    r->st.assigned++;
    s->gen++;
    s->phase = MATCH_P_IDLE;
    s->game_id = 0;
    s->creator = r->opt.vs_computer ? 0 : (uint8_t)(s->gen & 1);
    s->last_progress = uv_now(&r->loop);
    for (int i = 0; i < 3; i++) {
        match_conn *c = &s->conn[i];
        c->active = (uint8_t)used(r, i);
        c->mark = i == 2 ? GAME_NONE : i == s->creator ? GAME_X : GAME_O;
        c->seated = c->join_sent = c->gap = c->saw_over = 0;
        c->synced = c->pending = c->had_gap = 0;
        c->token[0] = '\0';
        c->moved_ply = c->chaos_ply = c->ghost_ply = -1;
        c->move_t0 = 0;
        c->seq.n = 0;
        c->perfect = (uint8_t)(strat == MATCH_PERFECT ||
                               (strat == MATCH_MIXED && (game_rng_next(&r->rng) & 1)));
    }
    for (int i = 0; i < 3; i++)
        conn_act(&s->conn[i]);
}

void match_play_start(match_run *r) {
    for (int i = 0; i < r->nslots; i++) {
        match_slot *s = &r->slots[i];
        s->run = r;
        s->idx = i;
        for (int k = 0; k < 3; k++) {
            match_net_conn_init(r, s, &s->conn[k], k, (i + k) % r->opt.nurls);
            if (used(r, k))
                r->conns_total++;
        }
    }
    for (int i = 0; i < r->nslots; i++) {
        slot_next(&r->slots[i]);
        for (int k = 0; k < 3; k++)
            if (used(r, k) && r->slots[i].phase != MATCH_P_DONE)
                match_net_connect(&r->slots[i].conn[k]);
    }
}

/* ---- requests --------------------------------------------------------------- */

static int send_req(match_conn *c, int kind, int cell, int ply) {
    match_slot *s = c->slot;
    match_run *r = c->run;
    proto_req q;

    memset(&q, 0, sizeof(q));
    q.id.kind = PROTO_ID_INT;
    q.id.num = (int64_t)s->gen << 8 | (int64_t)((ply + 1) & 15) << 4 | kind;
    q.game_id = s->game_id;
    q.ply = -1;
    switch (kind) {
    case K_CREATE:
        q.type = PROTO_CREATE;
        q.vs_computer = (uint8_t)r->opt.vs_computer;
        q.level = (uint8_t)r->opt.computer_level;
        break;
    case K_JOIN:
        q.type = PROTO_JOIN;
        break;
    case K_RESUME:
        q.type = PROTO_RESUME;
        memcpy(q.token, c->token, sizeof(q.token));
        q.token_len = (uint8_t)strlen(c->token);
        break;
    case K_WATCH:
        q.type = PROTO_WATCH;
        break;
    case K_MOVE:
        q.type = PROTO_MOVE;
        q.cell = cell;
        q.ply = ply;
        break;
    default:
        return -1;
    }
    TRACE(c, "send %s cell %d ply %d", proto_type_name(q.type), q.cell, q.ply);
    if (match_net_send(c, &q) != 0) {
        r->st.unexpected++;
        report(r, s, "could not queue a %s request", proto_type_name(q.type));
        return -1;
    }
    if (kind != K_MOVE)
        c->pending = (uint8_t)kind;
    return 0;
}

static int pick_cell(match_conn *c, const game_board *b) {
    uint16_t taken = (uint16_t)(b->x | b->o);
    int free_cells = 9 - __builtin_popcount(taken);
    int k;

    if (c->perfect)
        return game_ai_move(b, GAME_AI_PERFECT, &c->run->rng);
    if (free_cells <= 0)
        return -1;
    k = (int)match_rng_below(&c->run->rng, (uint64_t)free_cells);
    for (int i = 0; i < 9; i++)
        if (!(taken >> i & 1) && k-- == 0)
            return i;
    return -1;
}

static void maybe_move(match_conn *c) {
    match_run *r = c->run;
    const match_snap *last;
    int ply, cell, drop_after = 0;

    /* gap: no state yet since the reconnect; the last one we hold is from
     * before the drop and may be out of date */
    if (c->seq.n == 0 || c->gap)
        return;
    last = &c->seq.v[c->seq.n - 1];
    if (last->st.status != GAME_PLAYING || last->turn != c->mark)
        return;
    ply = last->st.ply;
    if (c->moved_ply == ply)
        return;
    if (r->opt.chaos > 0 && c->chaos_ply != ply) {
        c->chaos_ply = ply;
        if (match_rng_unit(&r->rng) < r->opt.chaos) {
            r->st.drops_chaos++;
            /* half before the move, half right after it: the second leaves
             * a move in flight on a dying connection */
            if (game_rng_next(&r->rng) & 1) {
                TRACE(c, "chaos: drop before the move");
                match_net_close(c, MATCH_W_CHAOS);
                return;
            }
            TRACE(c, "chaos: drop after the move");
            drop_after = 1;
        }
    }
    if ((cell = pick_cell(c, &last->st.board)) < 0) {
        violation(c->slot, c, "no legal move in a game in play", NULL, last);
        return;
    }
    if (send_req(c, K_MOVE, cell, ply) != 0)
        return;
    c->moved_ply = ply;
    c->move_t0 = uv_hrtime();
    if (drop_after)
        match_net_close_after_send(c);
}

/* Decide what this connection should send now, from the slot's phase and
 * its own role. Called on open, on every reply and state, and by timers. */
static void conn_act(match_conn *c) {
    match_slot *s = c->slot;

    if (c->state != MATCH_C_OPEN || !c->active || c->pending || c->retry_kind ||
        s->phase == MATCH_P_DONE)
        return;
    if (c->idx == 2) {
        if (s->phase >= MATCH_P_JOINING && !c->synced && !c->saw_over)
            send_req(c, K_WATCH, 0, -1);
        return;
    }
    if (c->idx == s->creator) {
        if (s->phase == MATCH_P_IDLE) {
            if (send_req(c, K_CREATE, 0, -1) == 0)
                s->phase = MATCH_P_CREATING;
            return;
        }
        if (s->phase == MATCH_P_CREATING)
            return;
    } else if (!c->seated) {
        if (s->phase == MATCH_P_JOINING && send_req(c, K_JOIN, 0, -1) == 0)
            c->join_sent++;
        return;
    }
    if (!c->synced) {
        if (!c->saw_over)
            send_req(c, K_RESUME, 0, -1);
        return;
    }
    maybe_move(c);
}

/* ---- the end of a game --------------------------------------------------------- */

static int seq_has_gap(const match_seq *q) {
    for (size_t i = 0; i < q->n; i++)
        if (q->v[i].gap)
            return 1;
    return 0;
}

static void check_finish(match_slot *s) {
    match_run *r = s->run;
    const match_snap *fin = NULL;
    const match_conn *ref = NULL;
    const char *why;
    int x_perfect, o_perfect, loser_perfect = 0;

    for (int i = 0; i < 3; i++) {
        const match_conn *c = &s->conn[i];
        if (c->active && !c->saw_over)
            return;
    }
    /* everyone saw the end: compare the endings, then the sequences */
    for (int i = 0; i < 3; i++) {
        const match_conn *c = &s->conn[i];
        if (!c->active || c->seq.n == 0)
            continue;
        if (fin == NULL)
            fin = &c->seq.v[c->seq.n - 1];
        else if (!match_snap_same_game(fin, &c->seq.v[c->seq.n - 1]))
            violation(s, NULL, "observers saw different final states", fin,
                      &c->seq.v[c->seq.n - 1]);
    }
    /* the reference: the first observer that never reconnected, creator first */
    for (int k = 0; k < 3 && ref == NULL; k++) {
        int i = k == 0 ? s->creator : k == 1 ? 1 - s->creator : 2;
        const match_conn *c = &s->conn[i];
        if (c->active && c->seq.n > 0 && !seq_has_gap(&c->seq))
            ref = c;
    }
    if (ref != NULL) {
        for (int i = 0; i < 3; i++) {
            const match_conn *c = &s->conn[i];
            if (c == ref || !c->active)
                continue;
            if ((why = match_judge_embed(ref->seq.v, ref->seq.n, c->seq.v, c->seq.n)) != NULL) {
                char a[192];
                violation(s, NULL, why, NULL, NULL);
                for (size_t k = 0; k < ref->seq.n && r->st.reports <= MATCH_MAX_REPORTS; k++)
                    fprintf(stderr, "    %-9s %s\n", k ? "" : who(s, ref),
                            snap_str(&ref->seq.v[k], a, sizeof(a)));
                for (size_t k = 0; k < c->seq.n && r->st.reports <= MATCH_MAX_REPORTS; k++)
                    fprintf(stderr, "    %-9s %s\n", k ? "" : who(s, c),
                            snap_str(&c->seq.v[k], a, sizeof(a)));
            }
        }
    }
    if (fin == NULL) {
        slot_lose(s, 0, "the game ended with no observer left");
        return;
    }

    x_perfect = s->conn[s->creator].perfect;
    o_perfect = r->opt.vs_computer ? r->opt.computer_level == GAME_AI_PERFECT
                                   : s->conn[1 - s->creator].perfect;
    switch (fin->st.result) {
    case GAME_RESULT_WIN:
        if (fin->st.winner == GAME_X) {
            r->st.outcomes[MATCH_X_WIN]++;
            loser_perfect = o_perfect;
        } else {
            r->st.outcomes[MATCH_O_WIN]++;
            loser_perfect = x_perfect;
        }
        if (loser_perfect)
            violation(s, NULL, "a perfect player lost", NULL, fin);
        break;
    case GAME_RESULT_DRAW:
        r->st.outcomes[MATCH_DRAW]++;
        break;
    case GAME_RESULT_RESIGN:
        r->st.outcomes[MATCH_RESIGN]++;
        violation(s, NULL, "the game ended by resign, but no bot resigns", NULL, fin);
        break;
    default:
        r->st.outcomes[MATCH_ABANDON]++;
        violation(s, NULL, "the game was abandoned: a player did not get back in time",
                  NULL, fin);
        break;
    }
    if (x_perfect && o_perfect && fin->st.result == GAME_RESULT_WIN)
        violation(s, NULL, "perfect against perfect did not draw", NULL, fin);

    r->st.completed++;
    r->st.moves += fin->st.ply;
    r->t_end = uv_hrtime();
    s->prev_id = s->game_id;
    s->prev_final = *fin;
    s->prev_valid = 1;
    if (++s->games_on_conn >= r->opt.games_per_conn) {
        s->games_on_conn = 0;
        for (int i = 0; i < 3; i++)
            if (used(r, i))
                match_net_close(&s->conn[i], MATCH_W_RECYCLE);
    }
    slot_next(s);
}

/* ---- messages --------------------------------------------------------------- */

static int seq_push(match_seq *q, const match_snap *p) {
    if (q->n == q->cap) {
        size_t ncap = q->cap ? q->cap * 2 : 16;
        match_snap *nv = realloc(q->v, ncap * sizeof(*nv));
        if (nv == NULL)
            return -1;
        q->v = nv;
        q->cap = ncap;
    }
    q->v[q->n++] = *p;
    return 0;
}

static void on_state(match_conn *c, const proto_server_msg *m) {
    match_slot *s = c->slot;
    match_run *r = c->run;
    match_snap p;
    const char *why;

    if (s->game_id == 0 || m->game_id != s->game_id) {
        if (s->prev_valid && m->game_id == s->prev_id) {
            match_snap_from_msg(&p, m, 0);
            if (!match_snap_same_game(&p, &s->prev_final))
                violation(s, c, "a finished game changed", &s->prev_final, &p);
        }
        r->st.strays++;
        return;
    }
    if (!c->active)
        return;
    match_snap_from_msg(&p, m, c->gap);
    s->last_progress = uv_now(&r->loop);
    if (c->saw_over) {
        /* presence changes after the end; the game itself must not move */
        if (!match_snap_same_game(&p, &c->seq.v[c->seq.n - 1]))
            violation(s, c, "a finished game changed", &c->seq.v[c->seq.n - 1], &p);
        return;
    }
    c->gap = 0;
    if ((why = match_judge_state(&p)) != NULL)
        violation(s, c, why, NULL, &p);
    if (c->seq.n > 0) {
        const match_snap *prev = &c->seq.v[c->seq.n - 1];
        why = p.gap ? match_judge_reach(prev, &p) : match_judge_step(prev, &p);
        if (why != NULL)
            violation(s, c, why, prev, &p);
    }
    if (seq_push(&c->seq, &p) != 0) {
        r->st.unexpected++;
        report(r, s, "out of memory");
        return;
    }
    if (c->move_t0 && (int)p.st.ply > c->moved_ply) {
        match_hist_add(&r->st.rtt, (uv_hrtime() - c->move_t0) / 1000);
        c->move_t0 = 0;
    }
    if (p.st.status == GAME_OVER) {
        c->saw_over = 1;
        check_finish(s);
        return;
    }
    conn_act(c);
}

static void on_joined(match_conn *c, const proto_server_msg *m, int kind) {
    match_slot *s = c->slot;
    match_run *r = c->run;

    s->last_progress = uv_now(&r->loop);
    switch (kind) {
    case K_CREATE:
        if (s->phase != MATCH_P_CREATING || c->idx != s->creator) {
            violation(s, c, "a create reply out of turn", NULL, NULL);
            return;
        }
        if (m->mark != GAME_X)
            violation(s, c, "the creator was not given X", NULL, NULL);
        switch (match_idset_add(&r->ids, m->game_id)) {
        case 0:
            s->game_id = m->game_id;
            violation(s, c, "a new game got an id given out before", NULL, NULL);
            break;
        case -1:
            r->st.unexpected++;
            report(r, s, "out of memory");
            break;
        default:
            break;
        }
        s->game_id = m->game_id;
        memcpy(c->token, m->token, sizeof(c->token));
        c->seated = c->synced = 1;
        s->phase = r->opt.vs_computer ? MATCH_P_PLAYING : MATCH_P_JOINING;
        for (int i = 0; i < 3; i++)
            if (i != c->idx)
                conn_act(&s->conn[i]);
        break;

    case K_JOIN:
        if (s->phase != MATCH_P_JOINING || c->idx == s->creator || c->idx == 2 ||
            m->game_id != s->game_id) {
            violation(s, c, "a join reply out of turn or for another game", NULL, NULL);
            return;
        }
        if (m->mark != GAME_O)
            violation(s, c, "the joiner was not given O", NULL, NULL);
        memcpy(c->token, m->token, sizeof(c->token));
        c->seated = c->synced = 1;
        s->phase = MATCH_P_PLAYING;
        break;

    case K_RESUME:
        if (m->game_id != s->game_id || m->mark != c->mark) {
            violation(s, c, "resume gave another game or mark", NULL, NULL);
            return;
        }
        memcpy(c->token, m->token, sizeof(c->token));
        c->synced = 1;
        r->st.resumes++;
        break;

    default:
        violation(s, c, "joined in reply to a request that does not join", NULL, NULL);
        return;
    }
    conn_act(c);
}

static int ghost_race(const match_conn *c, proto_err code, int ply) {
    return c->ghost_ply >= 0 && ply == c->ghost_ply &&
           (code == PROTO_ESTALE || code == PROTO_ENOT_YOUR_TURN ||
            code == PROTO_ECELL_TAKEN || code == PROTO_EGAME_OVER);
}

static void on_error(match_conn *c, const proto_server_msg *m, int kind, int ply) {
    match_slot *s = c->slot;
    match_run *r = c->run;
    proto_err code = m->code;

    if (code == PROTO_ERATE_LIMITED || code == PROTO_EUNAVAILABLE) {
        /* nothing changed on the server: send it again a little later */
        r->st.retried++;
        if (kind == K_MOVE) {
            c->moved_ply = -1;
            c->move_t0 = 0;
        }
        if (kind == K_JOIN && c->join_sent > 0)
            c->join_sent--;
        if (kind == K_CREATE && s->phase == MATCH_P_CREATING)
            s->phase = MATCH_P_IDLE;
        c->retry_kind = (uint8_t)kind;
        uv_timer_start(&c->timer, match_net_timer_cb, RETRY_MS, 0);
        return;
    }
    switch (kind) {
    case K_MOVE:
        if (ghost_race(c, code, ply)) {
            r->st.races++;
            return;
        }
        r->st.unexpected++;
        slot_lose(s, 0, "%s: move at ply %d refused: %s", who(s, c), ply, proto_err_name(code));
        return;
    case K_JOIN:
        if (code == PROTO_EGAME_FULL && c->join_sent > 1) {
            /* an earlier join went out on a connection that died before its
             * reply: it may have taken the seat, whose token we never got */
            slot_lose(s, 1, "a join reply was lost to a disconnect");
            return;
        }
        break;
    case K_RESUME:
        if (code == PROTO_EGAME_OVER) {
            /* the game ended while we were away; the others saw the end */
            c->active = 0;
            check_finish(s);
            return;
        }
        break;
    default:
        break;
    }
    r->st.unexpected++;
    slot_lose(s, 0, "%s: %s refused: %s", who(s, c),
              kind == K_CREATE ? "create" : kind == K_JOIN ? "join" :
              kind == K_RESUME ? "resume" : kind == K_WATCH ? "watch" : "request",
              proto_err_name(code));
}

void match_play_on_message(match_conn *c, const char *buf, size_t len) {
    match_slot *s = c->slot;
    match_run *r = c->run;
    proto_server_msg m;
    proto_err rc;
    int kind = 0, ply = -1;
    uint32_t gen = 0;

    if (r->opt.verbose >= 3)
        TRACE(c, "recv %.*s", (int)len, buf);
    if ((rc = proto_parse_server(buf, len, &m)) != PROTO_OK) {
        s->run->st.violations++;
        report(r, s, "VIOLATION: unparsable server message (%s): %.200s",
               proto_err_name(rc), len ? buf : "(over the size limit)");
        return;
    }
    if (m.id.kind == PROTO_ID_INT) {
        kind = (int)(m.id.num & 15);
        ply = (int)(m.id.num >> 4 & 15) - 1;
        gen = (uint32_t)(m.id.num >> 8);
    }
    switch (m.type) {
    case PROTO_S_WELCOME:
        c->backoff_ms = 0;
        if (m.protocol != PROTO_VERSION)
            violation(s, c, "welcome with another protocol version", NULL, NULL);
        return;
    case PROTO_S_STATE:
        on_state(c, &m);
        return;
    case PROTO_S_JOINED:
    case PROTO_S_WATCHING:
    case PROTO_S_ERROR:
        break;
    default:
        violation(s, c, "a message we did not ask for", NULL, NULL);
        return;
    }
    if (m.type == PROTO_S_ERROR)
        r->st.errors[m.code]++;
    if (m.id.kind != PROTO_ID_INT) {
        violation(s, c, "a reply without the request's id", NULL, NULL);
        return;
    }
    if (gen != s->gen)
        return;            /* a reply for a game this slot has given up */
    if (kind != K_MOVE && c->pending == kind)
        c->pending = 0;
    if (m.type == PROTO_S_ERROR) {
        on_error(c, &m, kind, ply);
        return;
    }
    if (m.type == PROTO_S_WATCHING) {
        if (kind != K_WATCH || m.game_id != s->game_id) {
            violation(s, c, "watching for another game", NULL, NULL);
            return;
        }
        c->synced = 1;
        s->last_progress = uv_now(&r->loop);
        return;
    }
    on_joined(c, &m, kind);
}

/* ---- connection events ------------------------------------------------------ */

void match_play_on_open(match_conn *c) {
    TRACE(c, "%s", c->retry_kind ? "retry" : "open");
    c->retry_kind = 0;
    conn_act(c);
}

void match_play_on_down(match_conn *c, int failed) {
    match_slot *s = c->slot;
    TRACE(c, "down (%s, why %d, peer close %d)", failed ? "connect failed" : "closed",
          c->why, c->peer_close);
    c->pending = 0;
    c->synced = 0;
    c->retry_kind = 0;
    if (c->seq.n > 0) {
        c->gap = 1;
        c->had_gap = 1;
    }
    /* a move that went out but whose state we never saw may still be
     * applied by the server: a later stale for that ply is no fault */
    if (c->moved_ply >= 0 &&
        (c->seq.n == 0 || (int)c->seq.v[c->seq.n - 1].st.ply <= c->moved_ply))
        c->ghost_ply = c->moved_ply;
    c->moved_ply = -1;
    c->move_t0 = 0;
    if (c->idx == s->creator && s->phase == MATCH_P_CREATING)
        s->phase = MATCH_P_IDLE;   /* its reply is lost; the orphan times out */
}

/* ---- time ---------------------------------------------------------------- */

static const char *phase_name(int p) {
    static const char *n[] = { "idle", "creating", "joining", "playing", "done" };
    return p >= 0 && p < 5 ? n[p] : "?";
}

void match_play_tick(match_run *r) {
    uint64_t now = uv_now(&r->loop);
    uint64_t limit = (uint64_t)(r->opt.timeout * 1000.0);
    int live = 0;

    if (r->opt.duration > 0 && !r->no_more &&
        (double)(uv_hrtime() - r->t_start) / 1e9 >= r->opt.duration)
        r->no_more = 1;
    for (int i = 0; i < r->nslots; i++) {
        match_slot *s = &r->slots[i];
        if (s->phase == MATCH_P_DONE)
            continue;
        if (r->no_more && (s->phase == MATCH_P_IDLE || s->phase == MATCH_P_CREATING)) {
            r->st.assigned--;          /* never really started */
            slot_done(s);
            continue;
        }
        live++;
        if (now - s->last_progress > limit) {
            char states[64];
            snprintf(states, sizeof(states), "conns %d/%d/%d", s->conn[0].state,
                     s->conn[1].state, s->conn[2].state);
            slot_lose(s, 0, "no progress for %.1f s (phase %s, %s)", r->opt.timeout,
                      phase_name(s->phase), states);
        }
    }
    if (live == 0 && !r->finishing) {
        r->finishing = 1;
        for (int i = 0; i < r->nslots; i++)
            slot_done(&r->slots[i]);
    }
}

void match_play_stop(match_run *r) {
    r->interrupted = 1;
    r->no_more = 1;
    for (int i = 0; i < r->nslots; i++) {
        match_slot *s = &r->slots[i];
        if (s->phase == MATCH_P_DONE)
            continue;
        if (s->phase != MATCH_P_IDLE)
            r->st.interrupted++;
        s->phase = MATCH_P_DONE;
        slot_done(s);
    }
    r->finishing = 1;
}

void match_play_conn_dead(match_run *r) {
    r->conns_dead++;
}

void match_play_free(match_run *r) {
    for (int i = 0; r->slots && i < r->nslots; i++)
        for (int k = 0; k < 3; k++) {
            free(r->slots[i].conn[k].seq.v);
            r->slots[i].conn[k].seq.v = NULL;
        }
    match_idset_free(&r->ids);
}
