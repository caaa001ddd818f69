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
 * request of which game it answers without any lookup. The messages and
 * the end of a game are judged in match_msg.c (match_play.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match_play.h"

int mp_used(const match_run *r, int idx) {
    return idx == 0 || (idx == 1 && !r->opt.vs_computer) || (idx == 2 && r->opt.spectate);
}

/* ---- reports --------------------------------------------------------------- */


void mp_report(match_run *r, const match_slot *s, const char *fmt, ...) {
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


void mp_trace(const match_conn *c, const char *fmt, ...) {
    va_list ap;

    fprintf(stderr, "%.6f slot %d conn %d game %lld: ", (double)uv_hrtime() / 1e9,
            c->slot->idx, c->idx, (long long)c->slot->game_id);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

const char *mp_snap_str(const match_snap *p, char *buf, size_t n) {
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

const char *mp_who(const match_slot *s, const match_conn *c) {
    if (c->idx == 2)
        return "spectator";
    return c->idx == s->creator ? "X" : "O";
}

void mp_violation(match_slot *s, match_conn *c, const char *why,
                      const match_snap *prev, const match_snap *next) {
    char a[192], b[192];

    s->run->st.violations++;
    mp_report(s->run, s, "VIOLATION (%s): %s%s%s%s%s", c ? mp_who(s, c) : "game", why,
           prev ? "\n    before: " : "", prev ? mp_snap_str(prev, a, sizeof(a)) : "",
           next ? "\n    now:    " : "", next ? mp_snap_str(next, b, sizeof(b)) : "");
}

/* ---- slots ------------------------------------------------------------------ */

static void slot_done(match_slot *s) {
    match_run *r = s->run;

    s->phase = MATCH_P_DONE;
    for (int i = 0; i < 3; i++)
        if (mp_used(r, i))
            match_net_close(&s->conn[i], MATCH_W_FINAL);
}

/* The game cannot go on: count it and start afresh, on new connections, so
 * that nothing of the old game (seats, watches) is left on them. */

void mp_slot_lose(match_slot *s, int aborted, const char *fmt, ...) {
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
    mp_report(r, s, "%s: %s", aborted ? "aborted" : "LOST", msg);
    s->prev_valid = 0;
    s->prev_id = s->game_id;
    for (int i = 0; i < 3; i++)
        if (mp_used(r, i))
            match_net_close(&s->conn[i], MATCH_W_RESET);
    s->games_on_conn = 0;
    r->t_end = uv_hrtime();
    mp_slot_next(s);
}

static int want_more(const match_run *r) {
    if (r->no_more)
        return 0;
    return r->opt.games <= 0 || (long long)r->st.assigned < r->opt.games;
}

void mp_slot_next(match_slot *s) {
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
        c->active = (uint8_t)mp_used(r, i);
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
        mp_conn_act(&s->conn[i]);
}

void match_play_start(match_run *r) {
    for (int i = 0; i < r->nslots; i++) {
        match_slot *s = &r->slots[i];
        s->run = r;
        s->idx = i;
        for (int k = 0; k < 3; k++) {
            match_net_conn_init(r, s, &s->conn[k], k, (i + k) % r->opt.nurls);
            if (mp_used(r, k))
                r->conns_total++;
        }
    }
    for (int i = 0; i < r->nslots; i++) {
        mp_slot_next(&r->slots[i]);
        for (int k = 0; k < 3; k++)
            if (mp_used(r, k) && r->slots[i].phase != MATCH_P_DONE)
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
        mp_report(r, s, "could not queue a %s request", proto_type_name(q.type));
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
        mp_violation(c->slot, c, "no legal move in a game in play", NULL, last);
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
void mp_conn_act(match_conn *c) {
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

/* ---- connection events ------------------------------------------------------ */

void match_play_on_open(match_conn *c) {
    TRACE(c, "%s", c->retry_kind ? "retry" : "open");
    c->retry_kind = 0;
    mp_conn_act(c);
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
            mp_slot_lose(s, 0, "no progress for %.1f s (phase %s, %s)", r->opt.timeout,
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
