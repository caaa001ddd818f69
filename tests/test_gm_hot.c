/* test_gm_hot.c -- the rooms' hot cache (gm_room.c): the rooms that changed
 * last keep their record unpacked in a slot mapped by game id, and pack it
 * only when another room takes the slot. Two games whose ids share a slot
 * play in turns, so that each move takes the slot from the other game: every
 * state must still be right, and no op may start from an older record (it
 * would conflict with the store and be retried, which stats().conflicts
 * shows) nor from a load (a room that lost its record: counted through
 * --wrap=store_game_load). Part of test_gm_alloc, on the harness of
 * tests/gm_fake.c. */
#include "gm_fake.h"

#include <string.h>

void __real_store_game_load(store *s, int64_t id, store_game_cb *cb, void *ud);
void __wrap_store_game_load(store *s, int64_t id, store_game_cb *cb, void *ud);
static int loads;

void __wrap_store_game_load(store *s, int64_t id, store_game_cb *cb, void *ud)
{
    loads++;
    __real_store_game_load(s, id, cb, ud);
}

TestSuite(gm_hot, .init = setup, .fini = teardown);

#define SLOTS 256   /* gm_room.c's HOT_SLOTS */

Test(gm_hot, shared_slot, .description = "two games whose ids share a hot slot, moves in turns: "
     "right states, no conflict, no load")
{
    fconn *ax = conn_open(), *ao = conn_open(), *bx = conn_open(), *bo = conn_open();
    fconn *filler = conn_open();
    int64_t a = start_game(ax, ao, NULL, NULL);
    /* waiting games until the next id is a's slot again */
    for (int64_t id = a + 1; id % SLOTS != a % SLOTS; id++) {
        rq(filler, PROTO_CREATE, 0);
        drain();
        cr_assert_eq(expect(filler, PROTO_S_JOINED)->game_id, id, "ids in sequence");
        expect(filler, PROTO_S_STATE);
    }
    int64_t b = start_game(bx, bo, NULL, NULL);
    cr_assert_eq(b % SLOTS, a % SLOTS);

    /* a: X 0 1 2 against O 3 4 (X wins); b: X 8 7 6 against O 4 5 (X wins) */
    static const int ca[] = {0, 3, 1, 4, 2}, cb[] = {8, 4, 7, 5, 6};
    uint64_t conflicts = stats().conflicts;
    loads = 0;
    for (int i = 0; i < 5; i++) {
        for (int g = 0; g < 2; g++) {
            fconn *x = g ? bx : ax, *o = g ? bo : ao;
            rq_move(i % 2 ? o : x, g ? b : a, g ? cb[i] : ca[i]);
            drain();
            const proto_server_msg *sx = expect(x, PROTO_S_STATE), *so = expect(o, PROTO_S_STATE);
            cr_assert_eq(sx->st.ply, i + 1, "game %c, move %d", g ? 'b' : 'a', i + 1);
            cr_assert_eq(memcmp(&sx->st, &so->st, sizeof sx->st), 0);
            for (int k = 0; k <= i; k++)
                cr_assert_eq(sx->st.moves[k], g ? cb[k] : ca[k], "game %c keeps its moves",
                             g ? 'b' : 'a');
        }
    }
    cr_assert_eq(stats().conflicts, conflicts,
                 "each op started from its room's newest record, not an older packed one");
    cr_assert_eq(loads, 0, "no op had to load its record: the room kept it");
    for (int g = 0; g < 2; g++) {
        fconn *x = g ? bx : ax;
        cr_assert_eq(x->msgs[x->seen - 1].st.status, GAME_OVER);
        cr_assert_eq(x->msgs[x->seen - 1].st.winner, GAME_X);
        expect_none(x);
        expect_none(g ? bo : ao);
    }
}
