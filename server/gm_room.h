/* gm_room.h -- connections, members, rooms, subscriptions and fan-out: who
 * in this process is in which game, and what each of them has been sent.
 * Private to the game manager (see gm_core.h). */
#ifndef GM_ROOM_H
#define GM_ROOM_H

#include <uthash.h>

#include "gm_core.h"
#include "msg.h"

enum { GM_SUB_NONE = 0, GM_SUB_PENDING, GM_SUB_ACTIVE };
/* which of its connection's requests-in-flight counters an op holds */
enum { GM_COUNT_NONE = 0, GM_COUNT_WATCH, GM_COUNT_WAIT };

struct gm_member {
    gm_conn *conn;
    gm_room *room;
    gm_member *conn_next;        /* conn->members, newest first */
    gm_member *prev, *next;      /* room->members */
    uint64_t last_version;       /* newest state this member was sent */
    uint8_t role;                /* GM_ROLE_X, GM_ROLE_O, GM_ROLE_WATCH */
};

struct gm_conn {
    void *ud;                    /* the server layer's session; NULL once closed */
    gm_member *members;
    uint32_t refs;               /* 1 while open + 1 per op in flight */
    uint16_t pend_watch;         /* watch requests in flight (for the watch cap) */
    uint16_t pend_wait;          /* create / quick in flight (for the waiting cap) */
};

/* What gm_room_advance compares a new record with, kept beside the packed
 * one so that an advance (one per move) does not unpack it: the rematch
 * fields, and what a state shows but the names (gm_visible_equal), enough
 * to tell nearly always that a record is not rematch bookkeeping only. */
typedef struct gm_room_view {
    int64_t rematch_id;
    uint16_t board[2];           /* X's and O's cells */
    uint8_t ply, result, winner; /* the status is gm_room.rec_status */
    uint8_t seat[2];             /* gm_seat_view() of X and O */
    uint8_t rematch[2];
} gm_room_view;

struct gm_room {
    int64_t id;
    gm_member *members;
    gm_op *waiting;              /* ops parked until the subscription is active */
    uint32_t refs;               /* members + ops + a pending subscribe or load */
    uint32_t nlocal[2];          /* local connections holding X / O */
    uint8_t sub;                 /* GM_SUB_* */
    uint8_t have_rec;
    uint8_t gone;                /* the store lost the game: no goodbyes to save */
    /* The newest record seen, packed (store_packed): a room per waiting game
     * is most of what an idle player costs, and a store_game is 660 bytes
     * where a waiting game packs to about 250. The rooms that changed last
     * hold it unpacked in a slot of gm_room.c's hot cache instead, and rec
     * is behind until the slot goes to another room. gm_room_rec() gives
     * it either way. */
    uint8_t rec_status;          /* its game_status, read without unpacking */
    uint64_t rec_version;
    store_packed rec;
    gm_room_view view;           /* of rec, valid with have_rec */
    /* A newer record from one of our own store replies (a save, a conflict,
     * a load) while saves before it are still on their way through the
     * subscription, on another connection: held, so members get every
     * state in order, and fanned out at once should they never come
     * (gm_rooms_ahead_tick). Ops work on it: gm_room_rec() prefers it. */
    uint8_t have_ahead;
    uint64_t ahead_version;
    int64_t ahead_since;         /* gm_now() when first held */
    store_packed ahead;
    UT_hash_handle hh;
};

/* ---- sending: nothing goes to a closed connection ---- */
void gm_send(gm *g, gm_conn *c, msg *m);
/* wrap a proto_encode_* block (NULL is fine) and send it */
void gm_send_block(gm *g, gm_conn *c, char *block, const size_t *len);
/* Ask the server layer to close c (gm_io.close), when it can. */
void gm_close_conn(gm *g, gm_conn *c);
/* counts the error, then sends it when c is still open */
void gm_reply_error(gm *g, gm_conn *c, const proto_id *id, proto_err e, const char *text);
/* a "state" frame for r, NULL when out of memory */
msg *gm_state_msg(const store_game *r);

/* ---- connections and members ---- */
void gm_conn_release(gm_conn *c);
/* c (may be NULL) holds one request more / less in flight on counter `which`
 * (GM_COUNT_*), so that the network layer's caps see a burst before its
 * first reply */
void gm_conn_count(gm_conn *c, uint8_t which);
void gm_conn_uncount(gm_conn *c, uint8_t which);
gm_member *gm_member_find(gm_conn *c, gm_room *r);
/* c's seat (not a spectator's place) in game_id, NULL when none */
gm_member *gm_member_seat(gm_conn *c, int64_t game_id);
/* Take m out of its room and free it; prev is m's predecessor in the
 * connection's list (NULL for the head). The last local holder of a seat
 * says goodbye unless the game is over. */
void gm_member_remove(gm *g, gm_member *m, gm_member *prev);
/* Enter room as role for c. When c closed meanwhile, a seat it just took is
 * given back instead and NULL returned. A spectator taking a seat is
 * promoted. */
gm_member *gm_member_add(gm *g, gm_conn *c, gm_room *room, uint8_t role);
/* Send m the newest state of its room, if it has not had it. */
void gm_member_catch_up(gm *g, gm_member *m);

/* ---- rooms ---- */
gm_room *gm_room_find(gm *g, int64_t id);
/* find or make the room; with subscribe, make sure a subscription is on
 * its way. NULL when out of memory. The caller takes its own ref. */
gm_room *gm_room_get(gm *g, int64_t id, int subscribe);
int gm_room_subscribe(gm *g, gm_room *r);
/* The room of a game the store just created for us: store_game_create (and
 * a quick game we opened) hands over a subscription taken before the game
 * existed, so the room is subscribed at once and no save is missed. Out of
 * memory, that subscription is ended and NULL returned. The caller takes
 * its own ref. */
gm_room *gm_room_adopt(gm *g, int64_t id);
/* drop a ref; a room with no refs, members or waiting ops goes */
void gm_room_release(gm *g, gm_room *r);
/* A record from an op's own store reply (save, conflict, load): like
 * gm_room_advance, but when the room is subscribed and the record is more
 * than one version ahead of what its members were sent, it is held until
 * the subscription brings the versions between (see gm_room.ahead). */
void gm_room_advance_reply(gm *g, gm_room *r, const store_game *rec);
/* From the tick: a room holding a record for over GM_AHEAD_MAX_MS fans it
 * out (the saves between were lost after all). */
#define GM_AHEAD_MAX_MS 1000
void gm_rooms_ahead_tick(gm *g);
/* The room's newest record into out: 0, or -1 when it has none. */
int gm_room_rec(const gm_room *r, store_game *out);
/* A newer record for a room: remember it and tell the members, once per
 * version, in order. Idempotent. */
void gm_room_advance(gm *g, gm_room *r, const store_game *rec);
/* re-load the record (saves may have been missed) and advance on it */
void gm_room_reload(gm *g, gm_room *r);
/* After a reconnection to the store: subscribe again, catch up, and have
 * the seats we hold re-asserted. */
void gm_rooms_store_up(gm *g);
/* The store lost its data: tell every member its game is gone
 * (no_such_game) and drop the rooms without the goodbye saves a leaving
 * seat would make. */
void gm_rooms_lost(gm *g);
/* free every room and member without a word to the store (gm_free) */
void gm_rooms_free(gm *g);

#endif
