/* test_gm_rules.c -- the manager's pure decisions (server/gm_rules.c), each
 * mutator called directly on a record, like test_game.c does for the board.
 *
 * No store, no loop, no clock: a context says what time it is, which
 * instance we are and what this connection holds, and the test checks the
 * record and the outcome that come back. Also here: the two rules that
 * moved back into game/ (whose turn it is, who loses on abandon), checked
 * against what the manager and the encoder computed before. */
#include <criterion/criterion.h>
#include <string.h>

#include "game.h"
#include "gm_rules.h"

#define SELF 7u
#define OTHER 9u
#define NOW 1000000
#define ABANDON 30000
#define WAIT 60000

static gm_ctx ctx(void)
{
    gm_ctx cx = {.now = NOW, .abandon_ms = ABANDON, .wait_ms = WAIT, .self = SELF,
                 .conn_open = 1};
    return cx;
}

static gm_seat_args seat(uint8_t fill)
{
    gm_seat_args a;
    memset(&a, 0, sizeof a);
    memset(a.token, 'a' + fill, TOKEN_LEN);
    token_hash(a.token, TOKEN_LEN, a.hash);
    return a;
}

/* A waiting game created by instance `inst` for seat(1). */
static store_game waiting_game(uint32_t inst)
{
    gm_ctx cx = ctx();
    cx.self = inst;
    gm_seat_args a = seat(1);
    store_game g;
    gm_rules_create(&cx, &a, &g);
    g.id = 100;
    g.version = 1;
    return g;
}

/* A game being played: X seat(1) held by SELF, O seat(2) held by OTHER. */
static store_game playing_game(void)
{
    store_game g = waiting_game(SELF);
    gm_ctx cx = ctx();
    cx.self = OTHER;
    gm_seat_args o = seat(2);
    cr_assert_eq(gm_rule_join(&cx, &o, &g), GM_MUT_SAVE);
    return g;
}

static void play(store_game *g, const int *cells, int n)
{
    for (int i = 0; i < n; i++)
        cr_assert_eq(game_state_move(&g->st, game_state_turn(&g->st), cells[i]), GAME_OK);
}

/* ---- seats, holders, deadlines, views ---------------------------------------------- */

Test(helpers, holders, .description = "holders: add once, drop the oldest when full, delete")
{
    store_seat s;
    memset(&s, 0, sizeof s);
    s.away_ms = 5;
    cr_assert_eq(gm_holder_add(&s, 1), 1);
    cr_assert_eq(s.away_ms, 0, "a holder makes the seat present");
    cr_assert_eq(gm_holder_add(&s, 1), 0, "twice is once");
    for (uint32_t i = 2; i <= STORE_MAX_HOLDERS + 1; i++)
        gm_holder_add(&s, i);
    cr_assert_eq(s.nholders, STORE_MAX_HOLDERS);
    cr_assert_not(gm_holder_has(&s, 1), "the oldest went to make room");
    cr_assert(gm_holder_has(&s, STORE_MAX_HOLDERS + 1));
    cr_assert_eq(gm_holder_del(&s, 3), 1);
    cr_assert_eq(gm_holder_del(&s, 3), 0);
    cr_assert_eq(s.nholders, STORE_MAX_HOLDERS - 1);
}

Test(helpers, seat_view, .description = "open, connected (a holder or the computer), away")
{
    store_game g = waiting_game(SELF);
    cr_assert_eq(gm_seat_view(&g, 0), PROTO_SEAT_CONNECTED);
    cr_assert_eq(gm_seat_view(&g, 1), PROTO_SEAT_OPEN);
    gm_holder_del(&g.seat[0], SELF);
    cr_assert_eq(gm_seat_view(&g, 0), PROTO_SEAT_AWAY);
    g.seat[1].taken = g.seat[1].computer = 1;
    cr_assert_eq(gm_seat_view(&g, 1), PROTO_SEAT_CONNECTED);
}

Test(helpers, visible, .description = "a rematch ask is invisible; a move or presence is not")
{
    store_game a = playing_game(), b = a;
    cr_assert(gm_visible_equal(&a, &b));
    cr_assert_not(gm_rematch_only(&a, &b), "no change at all is not rematch bookkeeping");
    b.rematch[0] = 1;
    cr_assert(gm_rematch_only(&a, &b));
    b = a;
    b.rematch_id = 200;
    cr_assert(gm_rematch_only(&a, &b));
    b = a;
    play(&b, (int[]){4}, 1);
    cr_assert_not(gm_visible_equal(&a, &b));
    b = a;
    gm_holder_del(&b.seat[1], OTHER);
    cr_assert_not(gm_visible_equal(&a, &b), "O going away shows");
}

Test(helpers, deadlines, .description = "waiting: created + wait; playing: first away + abandon; over: none")
{
    gm_ctx cx = ctx();
    store_game g = waiting_game(SELF);
    cr_assert_eq(g.deadline_ms, NOW + WAIT);
    g = playing_game();
    cr_assert_eq(gm_deadline_of(&cx, &g), 0, "everyone present");
    gm_holder_del(&g.seat[1], OTHER);
    g.seat[1].away_ms = NOW + 10;
    gm_holder_del(&g.seat[0], SELF);
    g.seat[0].away_ms = NOW + 20;
    cr_assert_eq(gm_deadline_of(&cx, &g), NOW + 10 + ABANDON);
    store_game next = g;
    game_state_resign(&next.st, GAME_X);
    cr_assert_eq(gm_rules_stamp(&cx, &g, &next), 1, "this save ends the game");
    cr_assert_eq(next.deadline_ms, 0);
    cr_assert_eq(next.updated_ms, NOW);
    cr_assert_eq(gm_rules_stamp(&cx, &next, &next), 0, "already over");
}

Test(helpers, result_text, .description = "the log's words for an outcome")
{
    char buf[64];
    store_game g = playing_game();
    game_state_resign(&g.st, GAME_O);
    cr_assert_str_eq(gm_result_text(&g, buf, sizeof buf), "X wins (resign)");
    g = waiting_game(SELF);
    game_state_abandon(&g.st, GAME_NONE);
    cr_assert_str_eq(gm_result_text(&g, buf, sizeof buf), "no winner (abandon)");
}

/* ---- new records ----------------------------------------------------------------------- */

Test(records, create, .description = "create: X ours, waiting; against the computer: playing at once")
{
    gm_ctx cx = ctx();
    gm_seat_args a = seat(1);
    store_game g;
    gm_rules_create(&cx, &a, &g);
    cr_assert_eq(g.st.status, GAME_WAITING);
    cr_assert_eq(g.kind, STORE_KIND_CREATE);
    cr_assert(g.seat[0].taken && gm_holder_has(&g.seat[0], SELF));
    cr_assert(token_hash_equal(g.seat[0].token_hash, a.hash));
    cr_assert_eq(g.created_ms, NOW);
    a.vs_computer = 1;
    a.level = GAME_AI_PERFECT;
    gm_rules_create(&cx, &a, &g);
    cr_assert_eq(g.st.status, GAME_PLAYING);
    cr_assert(g.seat[1].computer);
    cr_assert_eq(g.level, GAME_AI_PERFECT);
    cr_assert_eq(g.deadline_ms, 0);
    gm_rules_quick_game(&cx, &a, &g);
    cr_assert_eq(g.kind, STORE_KIND_QUICK);
    cr_assert_eq(g.st.status, GAME_WAITING);
}

Test(records, rematch_human, .description = "rematch: marks swap, the opponent's seat is reserved and away")
{
    gm_ctx cx = ctx();
    store_game old = playing_game();
    game_state_resign(&old.st, GAME_X);
    gm_seat_args a = seat(3);
    a.mark = GAME_X;
    uint64_t rng = 1;
    store_game g;
    gm_rules_rematch_game(&cx, &a, &old, &rng, &g);
    cr_assert_eq(g.kind, STORE_KIND_REMATCH);
    cr_assert_eq(g.st.status, GAME_PLAYING);
    cr_assert(token_hash_equal(g.seat[1].token_hash, a.hash), "X of the old game is O now");
    cr_assert(g.seat[0].taken && token_hash_empty(g.seat[0].token_hash));
    cr_assert_eq(g.seat[0].away_ms, NOW, "reserved: away until claimed");
    cr_assert_eq(g.deadline_ms, NOW + ABANDON);
}

Test(records, rematch_computer, .description = "rematch against the computer: it is X now and has moved")
{
    gm_ctx cx = ctx();
    gm_seat_args a = seat(1);
    a.vs_computer = 1;
    store_game old;
    gm_rules_create(&cx, &a, &old);
    game_state_resign(&old.st, GAME_X);
    a.mark = GAME_X;
    uint64_t rng = 1;
    store_game g;
    gm_rules_rematch_game(&cx, &a, &old, &rng, &g);
    cr_assert(g.seat[0].computer);
    cr_assert_eq(g.st.ply, 1, "the computer moved first");
    cr_assert_eq(game_state_turn(&g.st), GAME_O);
    cr_assert_eq(g.deadline_ms, 0);
}

/* ---- mutators --------------------------------------------------------------------------- */

Test(mutate, join, .description = "join takes O and starts the game; full, over, both seats, no instance")
{
    gm_ctx cx = ctx();
    gm_seat_args o = seat(2);
    store_game g = waiting_game(OTHER), w = g;
    gm_holder_del(&g.seat[0], OTHER);   /* the creator is gone */
    cr_assert_eq(gm_rule_join(&cx, &o, &g), GM_MUT_SAVE);
    cr_assert_eq(g.st.status, GAME_PLAYING);
    cr_assert(gm_holder_has(&g.seat[1], SELF));
    cr_assert_eq(g.seat[0].away_ms, NOW, "an absent creator's abandon clock starts now");
    cr_assert_eq(gm_rule_join(&cx, &o, &g), -PROTO_EGAME_FULL);
    game_state_resign(&g.st, GAME_X);
    cr_assert_eq(gm_rule_join(&cx, &o, &g), -PROTO_EGAME_OVER);
    g = w;
    cx.held = GAME_X;
    cr_assert_eq(gm_rule_join(&cx, &o, &g), -PROTO_EGAME_FULL, "one connection, both seats");
    cx = ctx();
    cx.self = 0;
    cr_assert_eq(gm_rule_join(&cx, &o, &g), -PROTO_EUNAVAILABLE);
    cr_assert_eq(memcmp(&g, &w, sizeof g), 0, "a refusal leaves the record alone");
}

Test(mutate, quick_join, .description = "matchmaking ends a game whose creator left, else joins it")
{
    gm_ctx cx = ctx();
    gm_seat_args o = seat(2);
    uint8_t stale = 9;
    store_game g = waiting_game(OTHER);
    cr_assert_eq(gm_rule_quick_join(&cx, &o, &g, &stale), GM_MUT_SAVE);
    cr_assert_eq(stale, 0);
    cr_assert_eq(g.st.status, GAME_PLAYING);
    g = waiting_game(OTHER);
    gm_holder_del(&g.seat[0], OTHER);
    cr_assert_eq(gm_rule_quick_join(&cx, &o, &g, &stale), GM_MUT_SAVE);
    cr_assert_eq(stale, 1);
    cr_assert_eq(g.st.status, GAME_OVER);
    cr_assert_eq(g.st.result, GAME_RESULT_ABANDON);
    cr_assert_eq(g.st.winner, GAME_NONE);
}

Test(mutate, resume, .description = "resume finds the token's seat and holds it; bad token; over")
{
    gm_ctx cx = ctx();
    cx.self = 11;
    gm_seat_args x = seat(1), bad = seat(5);
    uint8_t mark = 9;
    store_game g = playing_game();
    cr_assert_eq(gm_rule_resume(&cx, &bad, &g, &mark), -PROTO_EBAD_TOKEN);
    cr_assert_eq(mark, 0);
    cr_assert_eq(gm_rule_resume(&cx, &x, &g, &mark), GM_MUT_SAVE);
    cr_assert_eq(mark, GAME_X);
    cr_assert(gm_holder_has(&g.seat[0], 11));
    cr_assert_eq(gm_rule_resume(&cx, &x, &g, &mark), GM_MUT_SAVE, "already present: still one new state");
    game_state_resign(&g.st, GAME_O);
    cr_assert_eq(gm_rule_resume(&cx, &x, &g, &mark), GM_MUT_KEEP);
    g.seat[1].computer = 1;
    gm_seat_args o = seat(2);
    cr_assert_eq(gm_rule_resume(&cx, &o, &g, &mark), -PROTO_EBAD_TOKEN, "no token opens the computer's seat");
    cx.self = 0;
    cr_assert_eq(gm_rule_resume(&cx, &x, &g, &mark), -PROTO_EUNAVAILABLE);
}

Test(mutate, watch_probe, .description = "watch keeps the record; probe says not_in_game")
{
    gm_ctx cx = ctx();
    store_game g = playing_game(), w = g;
    cr_assert_eq(gm_rule_watch(&cx, &g), GM_MUT_KEEP);
    cr_assert_eq(gm_rule_probe(&cx, &g), -PROTO_ENOT_IN_GAME);
    cr_assert_eq(memcmp(&g, &w, sizeof g), 0);
}

Test(mutate, move, .description = "move: legal, stale ply, out of turn, taken, waiting, over")
{
    gm_ctx cx = ctx();
    store_game g = waiting_game(SELF);
    gm_move_args m = {.mark = GAME_X, .cell = 4, .ply = -1};
    cr_assert_eq(gm_rule_move(&cx, &m, &g), -PROTO_ENOT_PLAYING);
    g = playing_game();
    m.ply = 1;
    cr_assert_eq(gm_rule_move(&cx, &m, &g), -PROTO_ESTALE);
    m.ply = 0;
    cr_assert_eq(gm_rule_move(&cx, &m, &g), GM_MUT_SAVE);
    cr_assert_eq(g.st.ply, 1);
    m.ply = -1;
    cr_assert_eq(gm_rule_move(&cx, &m, &g), -PROTO_ENOT_YOUR_TURN);
    m.mark = GAME_O;
    cr_assert_eq(gm_rule_move(&cx, &m, &g), -PROTO_ECELL_TAKEN);
    m.cell = 9;
    cr_assert_eq(gm_rule_move(&cx, &m, &g), -PROTO_EBAD_MESSAGE);
    game_state_resign(&g.st, GAME_O);
    m.cell = 0;
    cr_assert_eq(gm_rule_move(&cx, &m, &g), -PROTO_EGAME_OVER);
}

Test(mutate, resign, .description = "resign ends the game for the other side; not while waiting or over")
{
    gm_ctx cx = ctx();
    store_game g = waiting_game(SELF);
    cr_assert_eq(gm_rule_resign(&cx, GAME_X, &g), -PROTO_ENOT_PLAYING);
    g = playing_game();
    cr_assert_eq(gm_rule_resign(&cx, GAME_O, &g), GM_MUT_SAVE);
    cr_assert_eq(g.st.winner, GAME_X);
    cr_assert_eq(g.st.result, GAME_RESULT_RESIGN);
    cr_assert_eq(gm_rule_resign(&cx, GAME_X, &g), -PROTO_EGAME_OVER);
}

Test(mutate, computer, .description = "the computer moves on its turn only")
{
    gm_ctx cx = ctx();
    gm_seat_args a = seat(1);
    a.vs_computer = 1;
    a.level = GAME_AI_PERFECT;
    store_game g;
    gm_rules_create(&cx, &a, &g);
    uint64_t rng = 42;
    cr_assert_eq(gm_computer_to_move(&g), 0, "X, a human, moves first");
    cr_assert_eq(gm_rule_computer(&cx, &rng, &g), GM_MUT_QUIET);
    play(&g, (int[]){0}, 1);
    cr_assert_eq(gm_computer_to_move(&g), GAME_O);
    cr_assert_eq(gm_rule_computer(&cx, &rng, &g), GM_MUT_SAVE);
    cr_assert_eq(g.st.ply, 2);
    cr_assert_eq(g.st.moves[1], 4, "perfect play answers a corner with the centre");
    game_state_resign(&g.st, GAME_X);
    cr_assert_eq(gm_rule_computer(&cx, &rng, &g), GM_MUT_QUIET);
}

Test(mutate, leave, .description = "leave: our last holder goes, the seat is away; not while held here")
{
    gm_ctx cx = ctx();
    store_game g = playing_game();
    cx.nlocal[0] = 1;
    cr_assert_eq(gm_rule_leave(&cx, GAME_X, &g), GM_MUT_QUIET, "another local connection holds X");
    cx.nlocal[0] = 0;
    cr_assert_eq(gm_rule_leave(&cx, GAME_O, &g), GM_MUT_QUIET, "we never held O");
    gm_holder_add(&g.seat[0], OTHER);
    cr_assert_eq(gm_rule_leave(&cx, GAME_X, &g), GM_MUT_SAVE);
    cr_assert_eq(g.seat[0].away_ms, 0, "still held elsewhere");
    g = playing_game();
    cr_assert_eq(gm_rule_leave(&cx, GAME_X, &g), GM_MUT_SAVE);
    cr_assert_eq(g.seat[0].nholders, 0);
    cr_assert_eq(g.seat[0].away_ms, NOW);
    game_state_resign(&g.st, GAME_X);
    cr_assert_eq(gm_rule_leave(&cx, GAME_O, &g), GM_MUT_QUIET, "over: no goodbye");
}

Test(mutate, orphan, .description = "a dead instance's seats become away")
{
    gm_ctx cx = ctx();
    store_game g = playing_game();
    cr_assert_eq(gm_rule_orphan(&cx, 123, &g), GM_MUT_QUIET);
    cr_assert_eq(gm_rule_orphan(&cx, OTHER, &g), GM_MUT_SAVE);
    cr_assert_eq(g.seat[1].away_ms, NOW);
    cr_assert_eq(g.seat[0].away_ms, 0);
    game_state_resign(&g.st, GAME_X);
    cr_assert_eq(gm_rule_orphan(&cx, SELF, &g), GM_MUT_QUIET);
}

Test(mutate, present, .description = "present puts us back among a seat's holders")
{
    gm_ctx cx = ctx();
    store_game g = playing_game();
    cx.nlocal[0] = 1;
    cr_assert_eq(gm_rule_present(&cx, GAME_X, &g), GM_MUT_QUIET, "already listed");
    gm_holder_del(&g.seat[0], SELF);
    g.seat[0].away_ms = 5;
    cr_assert_eq(gm_rule_present(&cx, GAME_X, &g), GM_MUT_SAVE);
    cr_assert(gm_holder_has(&g.seat[0], SELF));
    cr_assert_eq(g.seat[0].away_ms, 0);
    cr_assert_eq(gm_rule_present(&cx, GAME_O, &g), GM_MUT_QUIET, "nobody here holds O");
    cx.self = 0;
    gm_holder_del(&g.seat[0], SELF);
    cr_assert_eq(gm_rule_present(&cx, GAME_X, &g), GM_MUT_QUIET);
}

Test(mutate, timeout_waiting, .description = "a waiting game ends with no winner once wait_ms is up")
{
    gm_ctx cx = ctx();
    store_game g = waiting_game(SELF);
    cx.now = NOW + WAIT - 1;
    cr_assert_eq(gm_rule_timeout(&cx, &g), GM_MUT_RESET);
    cx.now = NOW + WAIT;
    cr_assert_eq(gm_rule_timeout(&cx, &g), GM_MUT_SAVE);
    cr_assert_eq(g.st.status, GAME_OVER);
    cr_assert_eq(g.st.winner, GAME_NONE);
    cr_assert_eq(gm_rule_timeout(&cx, &g), GM_MUT_RESET, "over: nothing due");
}

Test(mutate, timeout_abandon, .description = "the seat away longest past abandon_ms loses")
{
    gm_ctx cx = ctx();
    store_game g = playing_game();
    gm_holder_del(&g.seat[1], OTHER);
    g.seat[1].away_ms = NOW;
    cx.now = NOW + ABANDON - 1;
    cr_assert_eq(gm_rule_timeout(&cx, &g), GM_MUT_RESET);
    store_game both = g;
    gm_holder_del(&both.seat[0], SELF);
    both.seat[0].away_ms = NOW - 1;
    cx.now = NOW + ABANDON;
    cr_assert_eq(gm_rule_timeout(&cx, &g), GM_MUT_SAVE);
    cr_assert_eq(g.st.result, GAME_RESULT_ABANDON);
    cr_assert_eq(g.st.winner, GAME_X);
    cr_assert_eq(gm_rule_timeout(&cx, &both), GM_MUT_SAVE);
    cr_assert_eq(both.st.winner, GAME_O, "X left first");
}

Test(mutate, claim, .description = "claim takes a reserved rematch seat once, for an open connection")
{
    gm_ctx cx = ctx();
    store_game old = playing_game();
    game_state_resign(&old.st, GAME_X);
    gm_seat_args a = seat(3), b = seat(4);
    a.mark = GAME_X;
    uint64_t rng = 1;
    store_game g;
    gm_rules_rematch_game(&cx, &a, &old, &rng, &g);
    b.mark = GAME_O;
    cr_assert_eq(gm_rule_claim(&cx, &b, &g), GM_MUT_QUIET, "the creator's own seat");
    b.mark = GAME_X;
    cx.conn_open = 0;
    cr_assert_eq(gm_rule_claim(&cx, &b, &g), GM_MUT_QUIET, "the connection left");
    cx.conn_open = 1;
    cr_assert_eq(gm_rule_claim(&cx, &b, &g), GM_MUT_SAVE);
    cr_assert(token_hash_equal(g.seat[0].token_hash, b.hash));
    cr_assert_eq(g.seat[0].away_ms, 0);
    cr_assert_eq(gm_rule_claim(&cx, &a, &g), GM_MUT_QUIET, "claimed by another tab");
}

Test(mutate, rematch, .description = "rematch: only when over; first ask saved, second starts it")
{
    gm_ctx cx = ctx();
    uint8_t start = 9;
    store_game g = playing_game();
    cr_assert_eq(gm_rule_rematch(&cx, GAME_X, "", &g, &start), -PROTO_EBAD_MESSAGE);
    game_state_resign(&g.st, GAME_X);
    cr_assert_eq(gm_rule_rematch(&cx, GAME_X, "", &g, &start), GM_MUT_SAVE);
    cr_assert_eq(start, 0);
    cr_assert(g.rematch[0]);
    cr_assert_eq(gm_rule_rematch(&cx, GAME_X, "", &g, &start), GM_MUT_QUIET, "asked already");
    cr_assert_eq(gm_rule_rematch(&cx, GAME_O, "", &g, &start), GM_MUT_KEEP);
    cr_assert_eq(start, 1);
    g.rematch_id = 300;
    cr_assert_eq(gm_rule_rematch(&cx, GAME_O, "", &g, &start), -PROTO_EGAME_OVER);
    g = playing_game();
    g.seat[1].computer = 1;
    game_state_resign(&g.st, GAME_X);
    cr_assert_eq(gm_rule_rematch(&cx, GAME_X, "", &g, &start), GM_MUT_KEEP, "the computer always agrees");
    cr_assert_eq(start, 1);
}

Test(mutate, link, .description = "the first link names the rematch; a second is refused")
{
    gm_ctx cx = ctx();
    store_game g = playing_game();
    cr_assert_eq(gm_rule_link(&cx, 300, &g), GM_MUT_SAVE);
    cr_assert_eq(g.rematch_id, 300);
    cr_assert_eq(gm_rule_link(&cx, 301, &g), -PROTO_EGAME_OVER);
    cr_assert_eq(g.rematch_id, 300);
}

/* ---- rules that moved back into game/ ---------------------------------------------------- */

/* Criterion reports every assertion to its runner, far too slow for half a
 * million checks: check quietly, fail loudly (as test_game.c does). */
#define CHECK(cond, ...) do { if (!(cond)) cr_assert_fail(__VA_ARGS__); } while (0)

/* Every reachable position: game_state_turn() says what the encoder's old
 * "ply % 2" said, so "turn" on the wire did not change. */
static void walk_turns(const game_state *s, long *n)
{
    game_mark want = s->status == GAME_PLAYING ? (s->ply % 2 ? GAME_O : GAME_X) : GAME_NONE;
    CHECK(game_state_turn(s) == want, "ply %u", s->ply);
    (*n)++;
    if (s->status != GAME_PLAYING)
        return;
    for (int c = 0; c < GAME_CELLS; c++) {
        game_state t = *s;
        if (game_state_move(&t, game_state_turn(s), c) == GAME_OK)
            walk_turns(&t, n);
    }
}

Test(game_rules, turn, .description = "turn: ply parity in every game, none when waiting or over")
{
    game_state s;
    game_state_init(&s, 1);
    cr_assert_eq(game_state_turn(&s), GAME_NONE);
    game_state_init(&s, 0);
    long n = 0;
    walk_turns(&s, &n);
    cr_assert_eq(n, 549946, "every node of the game tree");
}

Test(game_rules, abandon_loser, .description = "abandon: past the limit, first gone loses, a tie is X's")
{
    cr_assert_eq(game_abandon_loser((int64_t[]){0, 0}, 10, 100), GAME_NONE);
    cr_assert_eq(game_abandon_loser((int64_t[]){0, 91}, 10, 100), GAME_NONE);
    cr_assert_eq(game_abandon_loser((int64_t[]){0, 90}, 10, 100), GAME_O);
    cr_assert_eq(game_abandon_loser((int64_t[]){50, 40}, 10, 100), GAME_O);
    cr_assert_eq(game_abandon_loser((int64_t[]){40, 50}, 10, 100), GAME_X);
    cr_assert_eq(game_abandon_loser((int64_t[]){40, 40}, 10, 100), GAME_X);
    cr_assert_eq(game_abandon_loser((int64_t[]){95, 40}, 10, 100), GAME_O, "X not past the limit yet");
}
