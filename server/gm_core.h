/* gm_core.h -- the game manager's private state, shared by its files
 * (gm.c, gm_room.c, gm_op.c, gm_kinds.c) and by nobody else.
 *
 * Three kinds of state, and who owns them:
 *   - the game record (store_game): the store's. We hold a copy per room and
 *     change games only through a versioned save (gm_op.c).
 *   - rooms (gm_room): one per game this process has connections in. A room
 *     is subscribed to the game's published saves, keeps the newest record
 *     seen, and fans each new version out to its members (gm_room.c).
 *   - members (gm_member): one per (connection, game), a seat or a
 *     spectator, remembering the last version it was sent. */
#ifndef GM_CORE_H
#define GM_CORE_H

#include <stdint.h>

#include "gm.h"
#include "gm_rules.h"

#define GM_MAX_TRIES 8     /* conflicts before we give up and answer unavailable */
#define GM_QUICK_TRIES 4   /* matchmaking candidates tried before opening a game */
#define GM_LIST_MAX 50     /* games in one "games" reply */
#define GM_LEASE_MS 5000   /* a claimed timeout is ours for this long */
#define GM_CLAIM_MAX 256   /* timeouts claimed per tick */
#define GM_KEEP_FINISHED 4 /* finished games a connection stays in (for rematch) */

typedef struct gm_room gm_room;
typedef struct gm_member gm_member;
typedef struct gm_op gm_op;

struct gm {
    store *st;
    gm_options opt;
    gm_io io;
    gm_clock clk;
    gm_room *rooms;
    void *tick;                  /* clk timers, NULL when not running */
    void *stop_timer;
    uint64_t rng;
    uint32_t inflight;           /* ops alive */
    uint32_t rooms_ahead;        /* rooms holding a record ahead (gm_room.ahead) */
    uint8_t claiming, stopping, detached;
    void (*stop_done)(void *ud);
    void *stop_ud;
    gm_stats stats;
};

static inline int64_t gm_now(const gm *g)
{
    return g->clk.now_ms(g->clk.ud);
}

/* gm.c: run the shutdown callback once nothing is in flight any more. */
void gm_maybe_stopped(gm *g);

/* gm_kinds.c: the process' own operations that rooms and members start. */
void gm_start_leave(gm *g, gm_room *room, uint8_t mark);
void gm_start_claim(gm *g, gm_conn *c, int64_t game_id, uint8_t mark);
void gm_start_computer(gm *g, gm_room *room, const store_game *rec);
void gm_start_present(gm *g, gm_room *room, uint8_t mark);

#endif
