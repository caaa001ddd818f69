/* gm_rules.c -- the manager's pure decisions about game records (see
 * gm_rules.h): seats, holders, deadlines, views, new records and one
 * mutator per kind of change. Everything the board decides (whose turn,
 * legality, results, who loses on abandon) is asked of game/. */
#include "gm_rules.h"

#include <stdio.h>
#include <string.h>

#include "game.h"

/* ---- seats, holders, deadlines, views ------------------------------------------ */

uint8_t gm_seat_view(const store_game *r, int i)
{
    const store_seat *s = &r->seat[i];
    if (!s->taken)
        return PROTO_SEAT_OPEN;
    return (s->computer || s->nholders) ? PROTO_SEAT_CONNECTED : PROTO_SEAT_AWAY;
}

int gm_visible_equal(const store_game *a, const store_game *b)
{
    const game_state *x = &a->st, *y = &b->st;
    if (x->board.x != y->board.x || x->board.o != y->board.o || x->ply != y->ply ||
        x->status != y->status || x->result != y->result || x->winner != y->winner)
        return 0;
    return gm_seat_view(a, 0) == gm_seat_view(b, 0) && gm_seat_view(a, 1) == gm_seat_view(b, 1) &&
           strcmp(a->name[0], b->name[0]) == 0 && strcmp(a->name[1], b->name[1]) == 0;
}

int gm_rematch_only(const store_game *a, const store_game *b)
{
    return gm_visible_equal(a, b) &&
           (a->rematch_id != b->rematch_id || a->rematch[0] != b->rematch[0] ||
            a->rematch[1] != b->rematch[1]);
}

int gm_holder_has(const store_seat *s, uint32_t inst)
{
    for (int i = 0; i < s->nholders; i++)
        if (s->holders[i] == inst)
            return 1;
    return 0;
}

int gm_holder_add(store_seat *s, uint32_t inst)
{
    if (gm_holder_has(s, inst))
        return 0;
    if (s->nholders == STORE_MAX_HOLDERS) {
        memmove(s->holders, s->holders + 1, (STORE_MAX_HOLDERS - 1) * sizeof(s->holders[0]));
        s->nholders--;
    }
    s->holders[s->nholders++] = inst;
    s->away_ms = 0;
    return 1;
}

int gm_holder_del(store_seat *s, uint32_t inst)
{
    for (int i = 0; i < s->nholders; i++) {
        if (s->holders[i] != inst)
            continue;
        memmove(s->holders + i, s->holders + i + 1,
                (size_t)(s->nholders - i - 1) * sizeof(s->holders[0]));
        s->nholders--;
        return 1;
    }
    return 0;
}

void gm_seat_claim(store_seat *s, const uint8_t hash[TOKEN_HASH_LEN], uint32_t inst)
{
    memset(s, 0, sizeof(*s));
    s->taken = 1;
    memcpy(s->token_hash, hash, TOKEN_HASH_LEN);
    gm_holder_add(s, inst);
}

/* When each seat went away, 0 for a seat that cannot be abandoned now:
 * open, the computer's, or held by some process. */
static void away_since(const store_game *r, int64_t out[2])
{
    for (int i = 0; i < 2; i++) {
        const store_seat *s = &r->seat[i];
        out[i] = (s->taken && !s->computer && s->nholders == 0) ? s->away_ms : 0;
    }
}

int64_t gm_deadline_of(const gm_ctx *cx, const store_game *r)
{
    if (r->st.status == GAME_OVER)
        return 0;
    if (r->st.status == GAME_WAITING)
        return r->created_ms + cx->wait_ms;
    int64_t away[2], d = 0;
    away_since(r, away);
    for (int i = 0; i < 2; i++) {
        if (!away[i])
            continue;
        int64_t t = away[i] + cx->abandon_ms;
        if (!d || t < d)
            d = t;
    }
    return d;
}

const char *gm_result_text(const store_game *r, char *buf, size_t len)
{
    static const char *const names[] = {"none", "win", "draw", "resign", "abandon"};
    const char *res = r->st.result < 5 ? names[r->st.result] : "?";
    if (r->st.winner)
        snprintf(buf, len, "%c wins (%s)", game_mark_char((game_mark)r->st.winner), res);
    else
        snprintf(buf, len, "%s", r->st.result == GAME_RESULT_DRAW ? "draw" : "no winner (abandon)");
    return buf;
}

int gm_rules_stamp(const gm_ctx *cx, const store_game *cur, store_game *next)
{
    next->updated_ms = cx->now;
    next->deadline_ms = gm_deadline_of(cx, next);
    return cur->st.status != GAME_OVER && next->st.status == GAME_OVER;
}

static uint32_t sat_add(uint32_t a, uint32_t b)
{
    return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

void gm_series_of(const store_game *r, uint32_t out[4])
{
    memcpy(out, r->series, sizeof(r->series));
    if (r->st.status != GAME_OVER)
        return;
    out[0] = sat_add(out[0], 1);
    if (r->st.winner == GAME_X || r->st.winner == GAME_O)
        out[r->st.winner] = sat_add(out[r->st.winner], 1);   /* resign and abandon too */
    else if (r->st.result == GAME_RESULT_DRAW)
        out[3] = sat_add(out[3], 1);
}

const char *gm_name_view(const store_game *r, int i)
{
    if (!r->seat[i].taken)
        return NULL;
    if (r->seat[i].computer)
        return proto_computer_name(r->level);
    return r->name[i][0] ? r->name[i] : NULL;
}

/* The time of the move just made (the ply-th): ms since the game became
 * playing, never less than the move before (clocks of two processes may
 * disagree) nor past UINT32_MAX. A game an older process started (format-1
 * record, no start time) counts from its creation. */
static void stamp_move_time(const gm_ctx *cx, store_game *rec)
{
    int i = rec->st.ply - 1;
    if (i < 0 || i >= GAME_CELLS)
        return;
    int64_t from = rec->started_ms ? rec->started_ms : rec->created_ms;
    int64_t t = cx->now - from;
    int64_t prev = i ? rec->times[i - 1] : 0;
    if (t < prev)
        t = prev;
    rec->times[i] = t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

uint8_t gm_computer_to_move(const store_game *r)
{
    game_mark turn = game_state_turn(&r->st);
    return turn != GAME_NONE && r->seat[turn - 1].computer ? (uint8_t)turn : 0;
}

/* ---- new records ------------------------------------------------------------------- */

void gm_rules_new_game(const gm_ctx *cx, const gm_seat_args *a, uint8_t mark, uint8_t kind,
                       int waiting, store_game *out)
{
    memset(out, 0, sizeof(*out));
    game_state_init(&out->st, waiting);
    out->kind = kind;
    out->level = a->level;
    gm_seat_claim(&out->seat[mark - 1], a->hash, cx->self);
    memcpy(out->name[mark - 1], a->name, sizeof(out->name[0]));
    out->created_ms = out->updated_ms = cx->now;
    out->started_ms = waiting ? 0 : cx->now;
}

void gm_rules_create(const gm_ctx *cx, const gm_seat_args *a, store_game *out)
{
    gm_rules_new_game(cx, a, GAME_X, STORE_KIND_CREATE, !a->vs_computer, out);
    if (a->vs_computer) {
        out->seat[1].taken = 1;
        out->seat[1].computer = 1;
    }
    out->deadline_ms = gm_deadline_of(cx, out);
}

void gm_rules_quick_game(const gm_ctx *cx, const gm_seat_args *a, store_game *out)
{
    gm_rules_new_game(cx, a, GAME_X, STORE_KIND_QUICK, 1, out);
    out->deadline_ms = gm_deadline_of(cx, out);
}

void gm_rules_rematch_game(const gm_ctx *cx, const gm_seat_args *a, const store_game *old,
                           uint64_t *rng, store_game *out)
{
    uint8_t mine = (uint8_t)game_mark_other((game_mark)a->mark);
    int theirs = 2 - mine;   /* index of the other seat in the new game */
    int was = a->mark - 1;   /* the caller's seat index in the old game */
    gm_seat_args sa = *a;
    sa.level = old->level;
    if (!sa.name[0])
        memcpy(sa.name, old->name[was], sizeof(sa.name));
    gm_rules_new_game(cx, &sa, mine, STORE_KIND_REMATCH, 0, out);
    /* the opponent asked first, with a name or keeping theirs (an ask an
     * older process saved has no rematch name: theirs, then) */
    int opp = 1 - was;
    memcpy(out->name[theirs],
           old->rematch[opp] && old->rematch_name[opp][0] ? old->rematch_name[opp] : old->name[opp],
           sizeof(out->name[0]));
    /* per player, not per mark: the new X is the old O */
    uint32_t s[4];
    gm_series_of(old, s);
    out->series[0] = s[0];
    out->series[1] = s[2];
    out->series[2] = s[1];
    out->series[3] = s[3];
    out->seat[theirs].taken = 1;
    if (old->seat[a->mark == GAME_X ? 1 : 0].computer) {
        out->seat[theirs].computer = 1;
        if (theirs == 0) {
            /* the computer is X now and moves first */
            int cell = game_ai_move(&out->st.board, (game_ai_level)out->level, rng);
            if (cell >= 0 && game_state_move(&out->st, GAME_X, cell) == GAME_OK)
                stamp_move_time(cx, out);
        }
    } else {
        /* reserved for the opponent, who claims it from wherever they are;
         * until then it is away, so an absent opponent loses by abandon */
        out->seat[theirs].away_ms = out->created_ms;
    }
    out->deadline_ms = gm_deadline_of(cx, out);
}

/* ---- mutators ------------------------------------------------------------------------- */

int gm_rule_join(const gm_ctx *cx, const gm_seat_args *a, store_game *rec)
{
    if (!cx->self)
        return -PROTO_EUNAVAILABLE;
    if (rec->st.status == GAME_OVER)
        return -PROTO_EGAME_OVER;
    if (rec->st.status != GAME_WAITING || rec->seat[1].taken)
        return -PROTO_EGAME_FULL;
    if (cx->held == GAME_X)
        return -PROTO_EGAME_FULL;   /* one connection cannot take both seats */
    gm_seat_claim(&rec->seat[1], a->hash, cx->self);
    memcpy(rec->name[1], a->name, sizeof(rec->name[1]));
    rec->started_ms = cx->now;
    /* the abandon clock of an absent creator starts when the game does */
    if (rec->seat[0].nholders == 0 && !rec->seat[0].computer)
        rec->seat[0].away_ms = cx->now;
    game_state_start(&rec->st);
    return GM_MUT_SAVE;
}

int gm_rule_quick_join(const gm_ctx *cx, const gm_seat_args *a, store_game *rec, uint8_t *stale)
{
    *stale = 0;
    if (rec->st.status == GAME_WAITING && !rec->seat[1].taken && rec->seat[0].nholders == 0 &&
        !rec->seat[0].computer) {
        /* its creator left while queued: end that game, then look again */
        game_state_abandon(&rec->st, GAME_NONE);
        *stale = 1;
        return GM_MUT_SAVE;
    }
    return gm_rule_join(cx, a, rec);
}

int gm_rule_resume(const gm_ctx *cx, const gm_seat_args *a, store_game *rec, uint8_t *mark)
{
    if (!cx->self)
        return -PROTO_EUNAVAILABLE;
    *mark = 0;
    for (int i = 0; i < 2; i++)
        if (rec->seat[i].taken && !rec->seat[i].computer &&
            token_hash_equal(rec->seat[i].token_hash, a->hash))
            *mark = (uint8_t)(i + 1);
    if (!*mark)
        return -PROTO_EBAD_TOKEN;
    if (rec->st.status == GAME_OVER)
        return GM_MUT_KEEP;
    gm_holder_add(&rec->seat[*mark - 1], cx->self);
    return GM_MUT_SAVE;   /* even when already present: a resume is one new state */
}

int gm_rule_watch(const gm_ctx *cx, store_game *rec)
{
    (void)cx;
    (void)rec;
    return GM_MUT_KEEP;
}

/* A playing game's refusal: over, or not started yet. */
static int not_playing(const store_game *rec)
{
    if (rec->st.status == GAME_OVER)
        return -PROTO_EGAME_OVER;
    if (rec->st.status == GAME_WAITING)
        return -PROTO_ENOT_PLAYING;
    return 0;
}

int gm_rule_move(const gm_ctx *cx, const gm_move_args *a, store_game *rec)
{
    int e = not_playing(rec);
    if (e)
        return e;
    if (a->ply >= 0 && a->ply != rec->st.ply)
        return -PROTO_ESTALE;
    switch (game_state_move(&rec->st, (game_mark)a->mark, a->cell)) {
    case GAME_OK: stamp_move_time(cx, rec); return GM_MUT_SAVE;
    case GAME_ETURN: return -PROTO_ENOT_YOUR_TURN;
    case GAME_ETAKEN: return -PROTO_ECELL_TAKEN;
    case GAME_EOVER: return -PROTO_EGAME_OVER;
    case GAME_ENOTPLAYING: return -PROTO_ENOT_PLAYING;
    default: return -PROTO_EBAD_MESSAGE;
    }
}

int gm_rule_resign(const gm_ctx *cx, uint8_t mark, store_game *rec)
{
    (void)cx;
    int e = not_playing(rec);
    if (e)
        return e;
    return game_state_resign(&rec->st, (game_mark)mark) == GAME_OK ? GM_MUT_SAVE
                                                                  : -PROTO_EGAME_OVER;
}

int gm_rule_probe(const gm_ctx *cx, store_game *rec)
{
    (void)cx;
    (void)rec;
    return -PROTO_ENOT_IN_GAME;
}

int gm_rule_computer(const gm_ctx *cx, uint64_t *rng, store_game *rec)
{
    uint8_t turn = gm_computer_to_move(rec);
    if (!turn)
        return GM_MUT_QUIET;
    int cell = game_ai_move(&rec->st.board, (game_ai_level)rec->level, rng);
    if (cell < 0 || game_state_move(&rec->st, (game_mark)turn, cell) != GAME_OK)
        return GM_MUT_QUIET;
    stamp_move_time(cx, rec);
    return GM_MUT_SAVE;
}

int gm_rule_leave(const gm_ctx *cx, uint8_t mark, store_game *rec)
{
    if (rec->st.status == GAME_OVER)
        return GM_MUT_QUIET;
    if (cx->nlocal[mark - 1] > 0)
        return GM_MUT_QUIET;   /* another local connection took the seat meanwhile */
    store_seat *s = &rec->seat[mark - 1];
    if (!gm_holder_del(s, cx->self))
        return GM_MUT_QUIET;
    if (s->nholders == 0)
        s->away_ms = cx->now;
    return GM_MUT_SAVE;
}

int gm_rule_orphan(const gm_ctx *cx, uint32_t instance, store_game *rec)
{
    if (rec->st.status == GAME_OVER)
        return GM_MUT_QUIET;
    int changed = 0;
    for (int i = 0; i < 2; i++) {
        if (gm_holder_del(&rec->seat[i], instance)) {
            changed = 1;
            if (rec->seat[i].nholders == 0)
                rec->seat[i].away_ms = cx->now;
        }
    }
    return changed ? GM_MUT_SAVE : GM_MUT_QUIET;
}

int gm_rule_present(const gm_ctx *cx, uint8_t mark, store_game *rec)
{
    if (!cx->self || rec->st.status == GAME_OVER || cx->nlocal[mark - 1] == 0)
        return GM_MUT_QUIET;
    store_seat *s = &rec->seat[mark - 1];
    if (gm_holder_has(s, cx->self))
        return GM_MUT_QUIET;
    gm_holder_add(s, cx->self);
    return GM_MUT_SAVE;
}

int gm_rule_timeout(const gm_ctx *cx, store_game *rec)
{
    if (rec->st.status == GAME_WAITING) {
        if (rec->created_ms + cx->wait_ms > cx->now)
            return GM_MUT_RESET;
        game_state_abandon(&rec->st, GAME_NONE);
        return GM_MUT_SAVE;
    }
    if (rec->st.status != GAME_PLAYING)
        return GM_MUT_RESET;
    int64_t away[2];
    away_since(rec, away);
    game_mark loser = game_abandon_loser(away, cx->abandon_ms, cx->now);
    if (loser == GAME_NONE)
        return GM_MUT_RESET;
    game_state_abandon(&rec->st, loser);
    return GM_MUT_SAVE;
}

int gm_rule_claim(const gm_ctx *cx, const gm_seat_args *a, store_game *rec)
{
    if (!cx->self)
        return GM_MUT_QUIET;
    store_seat *s = &rec->seat[a->mark - 1];
    if (!s->taken || s->computer || !token_hash_empty(s->token_hash) ||
        rec->st.status == GAME_OVER)
        return GM_MUT_QUIET;   /* the creator's own seat, or claimed by another tab */
    if (!cx->conn_open)
        return GM_MUT_QUIET;
    gm_seat_claim(s, a->hash, cx->self);
    return GM_MUT_SAVE;
}

int gm_rule_rematch(const gm_ctx *cx, uint8_t mark, const char *name, store_game *rec,
                    uint8_t *start)
{
    (void)cx;
    int me = mark - 1, other = 1 - me;
    *start = 0;
    if (rec->st.status != GAME_OVER)
        return -PROTO_EBAD_MESSAGE;
    if (rec->rematch_id)
        return -PROTO_EGAME_OVER;
    if (rec->seat[other].computer || rec->rematch[other]) {
        *start = 1;
        return GM_MUT_KEEP;
    }
    if (rec->rematch[me])
        return GM_MUT_QUIET;
    rec->rematch[me] = 1;
    /* the name this player takes into the new game, which the other
     * player's ask will create */
    const char *src = name && name[0] ? name : rec->name[me];
    size_t n = strnlen(src, STORE_NAME_MAX);
    memcpy(rec->rematch_name[me], src, n);
    rec->rematch_name[me][n] = '\0';
    return GM_MUT_SAVE;
}

int gm_rule_link(const gm_ctx *cx, int64_t new_id, store_game *rec)
{
    (void)cx;
    if (rec->rematch_id)
        return -PROTO_EGAME_OVER;
    rec->rematch_id = new_id;
    return GM_MUT_SAVE;
}
