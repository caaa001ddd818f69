/* test_gm_alloc.c -- a move in the steady state makes no heap allocation
 * (issue 11): the game manager on the memory store (the harness of
 * tests/gm_fake.c), with every malloc, calloc, realloc and strdup of the
 * server's code counted by tests/support/failalloc.c (armed with a count it
 * never reaches, it only counts). A first game fills what is reused (the
 * manager's op cache, the store's spare ops, msg.c's state blocks); the
 * moves of the next game must then allocate nothing: not the state frame,
 * not the store's reply or publish. The old code made three allocations per
 * move there.
 *
 * The manager's op (gm_op_new) is counted apart (the test links with
 * --wrap=gm_op_new), so that a regression says which side it is on: its
 * cache must serve every request too (GM_OP_CACHE_ARGS holds a gm_args). */
#include "gm_fake.h"

#include <limits.h>

#include "failalloc.h"
#include "gm_op.h"

/* ---- gm_op_new's allocations, apart ---- */

gm_op *__real_gm_op_new(gm *g, const gm_op_kind *k, gm_conn *c, int64_t game_id,
                        const void *args, size_t args_len);
gm_op *__wrap_gm_op_new(gm *g, const gm_op_kind *k, gm_conn *c, int64_t game_id,
                        const void *args, size_t args_len);
static long in_op;

gm_op *__wrap_gm_op_new(gm *g, const gm_op_kind *k, gm_conn *c, int64_t game_id,
                        const void *args, size_t args_len)
{
    long before = failalloc_seen();
    gm_op *op = __real_gm_op_new(g, k, c, game_id, args, args_len);
    in_op += failalloc_seen() - before;
    return op;
}

TestSuite(gm_alloc, .init = setup, .fini = teardown);

/* The fake io keeps every message in an array that doubles: grow it now,
 * so that the harness' own realloc is not counted as the server's. */
static void roomy(fconn *fc)
{
    fc->cap = 256;
    fc->msgs = realloc(fc->msgs, (size_t)fc->cap * sizeof(*fc->msgs));
    cr_assert_not_null(fc->msgs);
}

/* Moves cells[from..to) of a game played in turn, X first, by x and o in
 * game id; each is checked as both players' next state. Returns the
 * allocations counted (when count is set), gm_op_new's not included. */
static long ops;   /* gm_op_new's, in the moves counted */

static long play(fconn *x, fconn *o, int64_t id, const int *cells, int from, int to, int count)
{
    long seen = 0;
    for (int i = from; i < to; i++) {
        if (count)
            failalloc_arm(LONG_MAX);   /* counts, and never fails */
        in_op = 0;
        rq_move(i % 2 ? o : x, id, cells[i]);
        drain();
        if (count) {
            seen += failalloc_seen() - in_op;
            ops += in_op;
            failalloc_disarm();
        }
        cr_assert_eq(expect(x, PROTO_S_STATE)->st.ply, i + 1, "move %d reached X", i + 1);
        cr_assert_eq(expect(o, PROTO_S_STATE)->st.ply, i + 1, "move %d reached O", i + 1);
    }
    return seen;
}

Test(gm_alloc, moves, .description = "the moves of a second game allocate nothing")
{
    static const int win[] = {0, 3, 1, 4, 2};   /* X takes the top row */
    fconn *x = conn_open(), *o = conn_open();
    roomy(x);
    roomy(o);
    play(x, o, start_game(x, o, NULL, NULL), win, 0, 5, 0);   /* the warm-up */

    int64_t id = start_game(x, o, NULL, NULL);
    /* every move but the last: the one that ends the game sets its expiry
     * in the store's index, once per game */
    long seen = play(x, o, id, win, 0, 4, 1);
    cr_assert_eq(seen, 0, "4 moves in the steady state made %ld heap allocations", seen);
    cr_assert_eq(ops, 0, "gm_op_new made %ld allocations in the same 4 moves", ops);
    play(x, o, id, win, 4, 5, 0);
    expect_none(x);
    expect_none(o);
}
