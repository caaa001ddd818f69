/* gm.h -- the game manager: seats, spectators, presence, timeouts, the
 * computer player, rematches and matchmaking, on top of the store.
 *
 * It works on structs only: requests arrive parsed (proto_req), games come
 * from the store (store_game), rules are game/'s, and what goes out is a
 * shared msg handed to the server layer's send hook. It never sees a socket,
 * the event loop, or Redis: its timers and clock are hooks main hands it
 * (gm_clock; server/gm_uv.h adapts libuv), so a test drives it with a fake.
 *
 * Files: gm.c (this API, dispatch, store events, the tick, start and stop),
 * gm_rules.c (pure decisions), gm_op.c (the compare-and-save engine),
 * gm_kinds.c (the operation kinds), gm_room.c (rooms, members, fan-out).
 *
 * Every change to a game is the same three steps (see gm_op.h): take
 * the latest record, apply the change in C, save it with the version it was
 * read at. A lost race re-runs the change on the record that won, so the
 * answer to the client is always judged against the game as it really is. */
#ifndef GM_H
#define GM_H

#include <stdint.h>

#include "msg.h"
#include "proto.h"
#include "store.h"

typedef struct gm gm;
typedef struct gm_conn gm_conn;

typedef struct gm_options {
    int64_t abandon_ms;        /* a seat away this long loses the game */
    int64_t wait_ms;           /* a game waiting this long for its O ends */
    uint64_t seed;             /* for the computer's choices; 0 = from the clock */
} gm_options;

/* The server layer's hooks. */
typedef struct gm_io {
    void *ud;
    /* Queue m on the connection whose gm_conn_open() ud was conn_ud. Takes
     * its own reference; the caller keeps (and drops) its own. */
    void (*send)(void *ud, void *conn_ud, msg *m);
    /* Close that connection with an internal-error code (NULL: not
     * available). Used when a request's outcome cannot be known: the
     * client reconnects, resumes, and reads the truth in its next state. */
    void (*close)(void *ud, void *conn_ud);
} gm_io;

/* The loop's timers and the wall clock, from main. */
typedef struct gm_clock {
    void *ud;
    int64_t (*now_ms)(void *ud);   /* ms since the epoch */
    /* Call cb(arg) after after_ms, then every repeat_ms (0: once). Returns
     * the timer, NULL on failure. A one-shot timer that fired stays the
     * caller's until timer_stop. */
    void *(*timer_start)(void *ud, uint64_t after_ms, uint64_t repeat_ms,
                         void (*cb)(void *arg), void *arg);
    /* Stop and release a timer: cb never runs again. */
    void (*timer_stop)(void *ud, void *timer);
} gm_clock;

typedef struct gm_stats {
    uint64_t games_created, games_finished, moves, requests, conflicts;
    uint64_t finished_by_result[5];      /* indexed by game_result */
    uint64_t errors[PROTO_ERR_COUNT];    /* replies sent, by code */
    uint64_t states_sent;                /* state frames queued to connections */
    uint64_t rooms, members;             /* now */
} gm_stats;

/* clk is copied; its hooks are used until gm_free(). */
gm *gm_new(const gm_clock *clk, const gm_options *opt, const gm_io *io);
/* The server layer's hooks, once it exists (it needs the manager first). */
void gm_set_io(gm *g, const gm_io *io);
/* The events to hand to store_open(); then gm_set_store(). */
store_events gm_store_events(gm *g);
void gm_set_store(gm *g, store *st);

/* A WebSocket connection arrived / left. conn_ud is the server layer's
 * handle, passed back in io.send. After gm_conn_close the manager never
 * touches conn_ud again; the gm_conn itself is freed when the last request
 * in flight for it completes. */
gm_conn *gm_conn_open(gm *g, void *conn_ud);
void gm_conn_close(gm *g, gm_conn *c);
/* 1 while a request of this connection is still in flight (its reply may
 * yet be sent): a draining server waits for it before closing. */
int gm_conn_busy(const gm_conn *c);
/* For the network layer's caps: the games this connection watches, and the
 * games it holds a seat in that still wait for an opponent, each counting
 * the watch / create / quick requests still in flight. O(games it is in). */
void gm_conn_holdings(const gm_conn *c, unsigned *watching, unsigned *waiting);

/* One parsed request from that connection. Replies (and errors) go out
 * through io.send, possibly after store round trips. */
void gm_request(gm *g, gm_conn *c, const proto_req *req);

/* GET /api/games/{id}: cb gets a "state" msg (status STORE_OK), or NULL with
 * STORE_ENOTFOUND / STORE_EUNAVAIL. The caller owns the msg reference. */
typedef void gm_state_cb(void *ud, int status, msg *m);
void gm_game_state(gm *g, int64_t id, gm_state_cb *cb, void *ud);

void gm_get_stats(const gm *g, gm_stats *out);

/* Stop starting work (timers, timeouts); done(ud) runs once no request is in
 * flight any more, or after timeout_ms, whichever comes first. Then
 * gm_free(), after which the store may be closed. gm_free() stops its
 * timers through the clock hooks and frees the manager at once. */
void gm_shutdown(gm *g, int64_t timeout_ms, void (*done)(void *ud), void *ud);
void gm_free(gm *g);

#endif
