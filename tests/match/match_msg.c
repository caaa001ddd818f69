/* match_msg.c -- ttt-match's judging as server messages arrive: each state
 * against game/ and against the observer's previous one, joined / error
 * replies matched to their requests by "id", and at the end of a game the
 * observers' sequences compared with each other and with what the
 * strategies allow (match_play.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match_play.h"

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
            mp_violation(s, NULL, "observers saw different final states", fin,
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
                mp_violation(s, NULL, why, NULL, NULL);
                for (size_t k = 0; k < ref->seq.n && r->st.reports <= MATCH_MAX_REPORTS; k++)
                    fprintf(stderr, "    %-9s %s\n", k ? "" : mp_who(s, ref),
                            mp_snap_str(&ref->seq.v[k], a, sizeof(a)));
                for (size_t k = 0; k < c->seq.n && r->st.reports <= MATCH_MAX_REPORTS; k++)
                    fprintf(stderr, "    %-9s %s\n", k ? "" : mp_who(s, c),
                            mp_snap_str(&c->seq.v[k], a, sizeof(a)));
            }
        }
    }
    if (fin == NULL) {
        mp_slot_lose(s, 0, "the game ended with no observer left");
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
            mp_violation(s, NULL, "a perfect player lost", NULL, fin);
        break;
    case GAME_RESULT_DRAW:
        r->st.outcomes[MATCH_DRAW]++;
        break;
    case GAME_RESULT_RESIGN:
        r->st.outcomes[MATCH_RESIGN]++;
        mp_violation(s, NULL, "the game ended by resign, but no bot resigns", NULL, fin);
        break;
    default:
        r->st.outcomes[MATCH_ABANDON]++;
        mp_violation(s, NULL, "the game was abandoned: a player did not get back in time",
                  NULL, fin);
        break;
    }
    if (x_perfect && o_perfect && fin->st.result == GAME_RESULT_WIN)
        mp_violation(s, NULL, "perfect against perfect did not draw", NULL, fin);

    r->st.completed++;
    r->st.moves += fin->st.ply;
    r->t_end = uv_hrtime();
    s->prev_id = s->game_id;
    s->prev_final = *fin;
    s->prev_valid = 1;
    if (++s->games_on_conn >= r->opt.games_per_conn) {
        s->games_on_conn = 0;
        for (int i = 0; i < 3; i++)
            if (mp_used(r, i))
                match_net_close(&s->conn[i], MATCH_W_RECYCLE);
    }
    mp_slot_next(s);
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
                mp_violation(s, c, "a finished game changed", &s->prev_final, &p);
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
            mp_violation(s, c, "a finished game changed", &c->seq.v[c->seq.n - 1], &p);
        return;
    }
    c->gap = 0;
    if ((why = match_judge_state(&p)) != NULL)
        mp_violation(s, c, why, NULL, &p);
    if (c->seq.n > 0) {
        const match_snap *prev = &c->seq.v[c->seq.n - 1];
        why = p.gap ? match_judge_reach(prev, &p) : match_judge_step(prev, &p);
        if (why != NULL)
            mp_violation(s, c, why, prev, &p);
    }
    if (seq_push(&c->seq, &p) != 0) {
        r->st.unexpected++;
        mp_report(r, s, "out of memory");
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
    mp_conn_act(c);
}

static void on_joined(match_conn *c, const proto_server_msg *m, int kind) {
    match_slot *s = c->slot;
    match_run *r = c->run;

    s->last_progress = uv_now(&r->loop);
    switch (kind) {
    case K_CREATE:
        if (s->phase != MATCH_P_CREATING || c->idx != s->creator) {
            mp_violation(s, c, "a create reply out of turn", NULL, NULL);
            return;
        }
        if (m->mark != GAME_X)
            mp_violation(s, c, "the creator was not given X", NULL, NULL);
        switch (match_idset_add(&r->ids, m->game_id)) {
        case 0:
            s->game_id = m->game_id;
            mp_violation(s, c, "a new game got an id given out before", NULL, NULL);
            break;
        case -1:
            r->st.unexpected++;
            mp_report(r, s, "out of memory");
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
                mp_conn_act(&s->conn[i]);
        break;

    case K_JOIN:
        if (s->phase != MATCH_P_JOINING || c->idx == s->creator || c->idx == 2 ||
            m->game_id != s->game_id) {
            mp_violation(s, c, "a join reply out of turn or for another game", NULL, NULL);
            return;
        }
        if (m->mark != GAME_O)
            mp_violation(s, c, "the joiner was not given O", NULL, NULL);
        memcpy(c->token, m->token, sizeof(c->token));
        c->seated = c->synced = 1;
        s->phase = MATCH_P_PLAYING;
        break;

    case K_RESUME:
        if (m->game_id != s->game_id || m->mark != c->mark) {
            mp_violation(s, c, "resume gave another game or mark", NULL, NULL);
            return;
        }
        memcpy(c->token, m->token, sizeof(c->token));
        c->synced = 1;
        r->st.resumes++;
        break;

    default:
        mp_violation(s, c, "joined in reply to a request that does not join", NULL, NULL);
        return;
    }
    mp_conn_act(c);
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
        mp_slot_lose(s, 0, "%s: move at ply %d refused: %s", mp_who(s, c), ply, proto_err_name(code));
        return;
    case K_JOIN:
        if (code == PROTO_EGAME_FULL && c->join_sent > 1) {
            /* an earlier join went out on a connection that died before its
             * reply: it may have taken the seat, whose token we never got */
            mp_slot_lose(s, 1, "a join reply was lost to a disconnect");
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
    mp_slot_lose(s, 0, "%s: %s refused: %s", mp_who(s, c),
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
        mp_report(r, s, "VIOLATION: unparsable server message (%s): %.200s",
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
            mp_violation(s, c, "welcome with another protocol version", NULL, NULL);
        return;
    case PROTO_S_STATE:
        on_state(c, &m);
        return;
    case PROTO_S_JOINED:
    case PROTO_S_WATCHING:
    case PROTO_S_ERROR:
        break;
    default:
        mp_violation(s, c, "a message we did not ask for", NULL, NULL);
        return;
    }
    if (m.type == PROTO_S_ERROR)
        r->st.errors[m.code]++;
    if (m.id.kind != PROTO_ID_INT) {
        mp_violation(s, c, "a reply without the request's id", NULL, NULL);
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
            mp_violation(s, c, "watching for another game", NULL, NULL);
            return;
        }
        c->synced = 1;
        s->last_progress = uv_now(&r->loop);
        return;
    }
    on_joined(c, &m, kind);
}
