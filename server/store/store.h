/* store.h -- where games live: one interface, two backends.
 *
 * Like Redis' ae.h over ae_epoll.c / ae_select.c, the manager (gm.c) speaks
 * only this interface; store_memory.c keeps games in this process and
 * store_redis.c keeps them in Redis so several processes share them. Only
 * store_redis.c includes hiredis.
 *
 * Every operation completes through a callback, never before the call
 * returns (the memory backend defers to the next loop turn), so the manager
 * runs the same code paths on both backends. A callback receives the
 * caller's ud and a status: STORE_OK or a negative STORE_E* code. Every
 * call gets exactly one answer, on every path: out of memory included
 * (STORE_ENOMEM), even when the operation itself could not be allocated.
 *
 * Outcomes are definite. STORE_EUNAVAIL means the operation did not happen
 * and never will. A write whose reply was lost (the backend froze or the
 * connection dropped after it was sent) is "in doubt": the store finds out
 * whether it ran before answering, and answers what happened. Only when it
 * cannot find out within its bound (30 s for Redis) does it answer
 * STORE_EUNKNOWN: the write may or may not have run.
 *
 * Consistency model: a record carries a version. store_game_save() writes a
 * record only if the stored version is still the one the caller read, and in
 * the same atomic step publishes the new record to every process subscribed
 * to that game. The rules are never evaluated inside the store. */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>

#include "game.h"

typedef struct uv_loop_s uv_loop_t;

enum {
    STORE_OK = 0,
    STORE_ENOTFOUND = -1,   /* no such game (never created, or expired) */
    STORE_ECONFLICT = -2,   /* version changed since read; current record given */
    STORE_EUNAVAIL = -3,    /* backend unreachable now; nothing was changed */
    STORE_ENOMEM = -4,
    STORE_EINVAL = -5,
    STORE_ECLOSED = -6,     /* the store is shutting down */
    STORE_EUNKNOWN = -7     /* a write in doubt whose outcome could not be learned */
};
const char *store_err_name(int err);

#define STORE_HASH_LEN 32        /* SHA-256 digest of a seat token */
#define STORE_MAX_HOLDERS 4      /* processes that may hold one seat at once */
#define STORE_NAME_MAX 96        /* bytes of a player's name: 24 code points of UTF-8 */

/* kind of game, for the open-games list and matchmaking */
enum {
    STORE_KIND_CREATE = 0,       /* opened with "create": shown by "list" */
    STORE_KIND_QUICK = 1,        /* opened by "quick": matched, not listed */
    STORE_KIND_REMATCH = 2
};

typedef struct store_seat {
    uint8_t taken;               /* 1 once a player (or the computer) holds it */
    uint8_t computer;            /* the computer plays this seat */
    uint8_t nholders;            /* processes with a live connection on it */
    uint8_t _pad;
    uint32_t holders[STORE_MAX_HOLDERS]; /* store_instance() ids of those processes */
    int64_t away_ms;             /* when the seat lost its last connection, 0 if not away */
    uint8_t token_hash[STORE_HASH_LEN];  /* SHA-256(token); tokens are never stored */
} store_seat;

/* One game as stored. Plain data: copy with '='. seat[0] is X, seat[1] is O. */
typedef struct store_game {
    int64_t id;
    uint64_t version;            /* 1 when created, +1 per successful save */
    game_state st;
    store_seat seat[2];
    uint8_t kind;                /* STORE_KIND_* */
    uint8_t level;               /* game_ai_level when a seat is the computer */
    uint8_t rematch[2];          /* X / O asked for a rematch */
    int64_t rematch_id;          /* the game that followed this one, 0 if none */
    int64_t created_ms;
    int64_t updated_ms;
    int64_t deadline_ms;         /* next timeout to check (abandon or wait), 0 if none */
    /* Since record format 2 (names, series, replay times). Strings are
     * NUL-terminated UTF-8, "" for none; the store checks only that they fit. */
    char name[2][STORE_NAME_MAX + 1];   /* the X / O player's name */
    char rematch_name[2][STORE_NAME_MAX + 1]; /* the name X / O asked a rematch with */
    uint32_t series[4];          /* the rematch chain before this game: games, wins of
                                  * this game's X player, of its O player, draws */
    int64_t started_ms;          /* when the game became playing, 0 while waiting */
    uint32_t times[GAME_CELLS];  /* ms from started_ms to each move, [0, st.ply) */
} store_game;

typedef struct store_open_game {
    int64_t id;
    int64_t created_ms;
    char name[STORE_NAME_MAX + 1];  /* the creator's, "" for none */
} store_open_game;

typedef struct store store;

/* Callbacks. `g` is valid only during the call; copy what you keep. */
typedef void store_game_cb(void *ud, int status, const store_game *g);
typedef void store_list_cb(void *ud, int status, const store_open_game *games, size_t n);
typedef void store_ids_cb(void *ud, int status, const int64_t *ids, size_t n);
typedef void store_done_cb(void *ud, int status);

/* Events the store raises on its own, set once at creation. */
typedef struct store_events {
    void *ud;
    /* A record was saved (by any process) for a game this process subscribes
     * to. Per game, records arrive in version order; a version may arrive
     * more than once or be skipped after a reconnection (callers dedupe by
     * version and re-load when they see a gap). */
    void (*published)(void *ud, const store_game *g);
    /* The backend became reachable (up=1) or unreachable (up=0). After a
     * reconnection subscriptions are restored by the store, but records
     * saved meanwhile were missed: the manager re-loads what it watches. */
    void (*health)(void *ud, int up);
    /* Another process stopped sending heartbeats (it died without saying
     * goodbye). Raised in exactly one surviving process per dead instance:
     * ids are the games on which `instance` held a seat; the manager removes
     * it from their holders and marks the seats away. */
    void (*orphaned)(void *ud, uint32_t instance, const int64_t *ids, size_t n);
    /* The backend lost its data (Redis flushed, or restarted without
     * persistence): every game known so far is gone. The store has made sure
     * no id seen by this process is handed out again; the manager drops
     * what it holds of the old games. */
    void (*lost)(void *ud);
} store_events;

typedef struct store_options {
    const char *redis_url;       /* NULL: the memory backend */
    const char *instance_name;   /* for logs and presence bookkeeping */
    int64_t finished_ttl_ms;     /* how long an ended game stays readable (24 h) */
    /* Redis: the namespace of every key and channel (default "ttt"), so
     * deployments sharing one Redis stay apart; the db number of the URL is
     * in every channel name too (pub/sub ignores SELECT). */
    const char *redis_prefix;
    /* Redis: after each save, WAIT for this many replicas (at most
     * redis_wait_ms, default 500) before the caller is answered; a save the
     * replicas did not confirm is answered only once the store knows whether
     * it survived (see "in doubt" above). 0: no WAIT. */
    int redis_wait;
    int redis_wait_ms;
} store_options;

/* Create the backend chosen by opts->redis_url on loop. Returns NULL and
 * writes a reason into err (errlen bytes) on failure. Connecting to Redis is
 * asynchronous: the store may start unavailable and report health later. */
store *store_open(uv_loop_t *loop, const store_options *opts,
                  const store_events *ev, char *err, size_t errlen);
/* Begin shutdown: pending operations complete with STORE_ECLOSED, then
 * done(ud) runs once every handle is closed; free nothing before that. */
void store_close(store *s, void (*done)(void *ud), void *ud);

const char *store_backend_name(const store *s);   /* "memory" or "redis" */
int store_is_up(const store *s);                   /* 1 when reachable now */
uint32_t store_instance(const store *s);           /* this process' id, 0 until known */
/* Milliseconds of the last round trip to the backend (0 for memory). */
double store_latency_ms(const store *s);
/* How many times the backend was found to have lost its data. */
uint64_t store_lost_count(const store *s);

/* Whether a waiting game's creator (seat X) is connected somewhere: a
 * waiting "create" game is on the open list only then. */
static inline int store_creator_present(const store_game *g)
{
    return g->seat[0].computer || g->seat[0].nholders > 0 || !g->seat[0].away_ms;
}

/* ---- the index policy: one for both backends ----
 * What a record's index entries should be, decided from the record alone by
 * store_index_of(). The memory backend keeps its lists and heaps by it, and
 * the Redis backend's signature (field x, store_redis_idx.c) is this struct
 * written out, so the two cannot drift apart again. Both backends change an
 * entry only when its part of the policy differs from that of the record
 * saved before (the diff Redis makes of signatures):
 *   - open: the entry goes with the bit;
 *   - quick: queued when the bit goes 0 -> 1 (that is, at creation), dropped
 *     when it goes to 0 or when a quick call hands the game out; a save that
 *     keeps the bit does not queue a game already handed out (quick: "to one
 *     caller only");
 *   - deadline_ms: scheduled when it changes; a save that keeps it leaves
 *     the entry where a claim put it, so the lease holds.
 * finished is a state, not an entry: every save while it is set restarts the
 * expiry, so a game is readable finished_ttl_ms after its last save. (Redis
 * also lets a waiting game expire, finished_ttl_ms after its deadline: a
 * safety net for a shared store that no process may be left to time out.)
 * Seat holders are part of the policy although only Redis keeps their sets
 * (which instance must hear of a game when another dies, store_events'
 * orphaned): the memory store is one instance, gone with the store. */
typedef struct store_index {
    uint8_t open;                /* on the open list: waiting, STORE_KIND_CREATE and
                                  * store_creator_present() */
    uint8_t quick;               /* a waiting STORE_KIND_QUICK game, present or not */
    uint8_t finished;            /* over: the finished-game expiry applies */
    uint8_t nholders;            /* entries in holders */
    int64_t deadline_ms;         /* to schedule; 0 none (also for deadline_ms <= 0) */
    /* the distinct non-zero instances holding either seat, in seat order; none
     * once the game is over (there is nothing left to hand over) */
    uint32_t holders[2 * STORE_MAX_HOLDERS];
} store_index;

/* Fill *out from g alone: pure, no store needed. */
void store_index_of(const store_game *g, store_index *out);

/* A record packed small, for what keeps many of them (the memory backend's
 * games, the manager's room caches): the store's own record format
 * (store_codec.c), a few hundred bytes for a waiting game where a store_game
 * is about 660 (its names are fixed arrays). Getting it back gives every
 * field that was set. */
#define STORE_PACK_MAX 640
typedef struct store_packed {
    uint8_t *p;                  /* malloc'd, NULL until the first set */
    uint16_t len, cap;
} store_packed;
/* Keep g packed in b (zeroed to start), with room for the moves a game
 * still adds so that a move does not reallocate: 0, or -1 out of memory
 * with b unchanged. */
int store_packed_set(store_packed *b, const store_game *g);
/* b's record into g: 0, or -1 when b holds none (or not one it packed). */
int store_packed_get(const store_packed *b, store_game *g);
void store_packed_free(store_packed *b);

/* Create g as a new game: the store assigns g->id (100, 101, ... across all
 * processes; never reused), sets version 1, and lists it as open when
 * g->kind == STORE_KIND_CREATE and it is waiting, or queues it for
 * matchmaking when STORE_KIND_QUICK and waiting. cb gets the stored record.
 *
 * The store subscribes to the new id before the game exists anywhere (on
 * Redis: the id is taken, SSUBSCRIBE confirmed, then the record written), so
 * no save of it by any process can be missed, the very next one included (a
 * player joining through the open list a moment later). On STORE_OK the
 * caller holds that subscription, as after store_subscribe()'s STORE_OK, and
 * ends it with store_unsubscribe(); on any other status there is none. */
void store_game_create(store *s, const store_game *g, store_game_cb *cb, void *ud);

void store_game_load(store *s, int64_t id, store_game_cb *cb, void *ud);

/* Write g if the stored version is still g->version; the stored record
 * becomes version g->version + 1 and is published. On STORE_ECONFLICT cb
 * gets the current record. The store also keeps its indexes in step with
 * the record, by store_index_of() (above): drops the game from the open list
 * and matchmaking queue once it is not waiting, schedules g->deadline_ms
 * when it changed, and (re)starts the finished-game expiry while it is over. */
void store_game_save(store *s, const store_game *g, store_game_cb *cb, void *ud);

/* Matchmaking, atomic across processes: take the oldest waiting
 * STORE_KIND_QUICK game off the queue (cb: STORE_OK with that record), or,
 * when there is none, create tmpl as a new quick game exactly like
 * store_game_create (cb: STORE_OK with the new record, whose version is 1
 * and whose seat[0] equals tmpl's, subscribed as store_game_create says). A
 * game is handed to one caller only; a waiting game taken off the queue is
 * not subscribed for the caller. */
void store_game_quick(store *s, const store_game *tmpl, store_game_cb *cb, void *ud);

/* Waiting games opened with "create" whose creator is present, oldest
 * first, at most max. A game whose creator is away leaves the list, and
 * comes back (in its place by age) when a save shows the creator back. */
void store_open_list(store *s, size_t max, store_list_cb *cb, void *ud);

/* Claim games whose deadline_ms <= now_ms, at most max. A claimed game is not
 * handed out again for lease_ms, so exactly one process handles it (other
 * saves meanwhile that keep its deadline do not end the lease); the claimer
 * loads it, applies the timeout, and saves (which sets the next deadline or
 * none). */
void store_claim_due(store *s, int64_t now_ms, int64_t lease_ms, size_t max,
                     store_ids_cb *cb, void *ud);

/* After handling a claimed game without saving it (nothing was due after
 * all), put its deadline index back in step with the record: schedule
 * g->deadline_ms, or drop the entry when it is 0, unless the stored version
 * is no longer g->version (then the save that changed it already did). */
void store_deadline_reset(store *s, const store_game *g, store_done_cb *cb, void *ud);

/* Receive `published` events for game id (reference counted per id by the
 * caller: call once per id). cb runs once the subscription is active, so a
 * save after it is certain to be seen. */
void store_subscribe(store *s, int64_t id, store_done_cb *cb, void *ud);
void store_unsubscribe(store *s, int64_t id);

/* Counters and per-node figures for /metrics (zero for memory). */
#define STORE_NODES_MAX 16
typedef struct store_node_stat {
    char addr[72];               /* "ip:port" */
    int up;                      /* a connection is open (or opening) */
    unsigned slots;              /* cluster slots it owns now */
    unsigned rtt_us;             /* moving average of command round trips */
} store_node_stat;
typedef struct store_stats {
    int cluster;                 /* 1 on Redis Cluster, 0 on one Redis (or memory) */
    uint64_t moved, ask, tryagain, refreshes, timeouts;
    uint64_t index_fail;         /* index updates that failed (the sweep repairs them) */
    uint64_t swept;              /* index entries the sweep put back */
    size_t nnodes;
    store_node_stat node[STORE_NODES_MAX];
} store_stats;
void store_get_stats(const store *s, store_stats *out);

/* ---- backend contract (ae_epoll.c style): one table per backend ---- */
typedef struct store_backend {
    const char *name;
    store *(*open)(uv_loop_t *loop, const store_options *opts,
                   const store_events *ev, char *err, size_t errlen);
    void (*close)(store *s, void (*done)(void *ud), void *ud);
    int (*is_up)(const store *s);
    uint32_t (*instance)(const store *s);
    double (*latency_ms)(const store *s);
    void (*create)(store *s, const store_game *g, store_game_cb *cb, void *ud);
    void (*load)(store *s, int64_t id, store_game_cb *cb, void *ud);
    void (*save)(store *s, const store_game *g, store_game_cb *cb, void *ud);
    void (*quick)(store *s, const store_game *tmpl, store_game_cb *cb, void *ud);
    void (*open_list)(store *s, size_t max, store_list_cb *cb, void *ud);
    void (*claim_due)(store *s, int64_t now_ms, int64_t lease_ms, size_t max,
                      store_ids_cb *cb, void *ud);
    void (*deadline_reset)(store *s, const store_game *g, store_done_cb *cb, void *ud);
    void (*subscribe)(store *s, int64_t id, store_done_cb *cb, void *ud);
    void (*unsubscribe)(store *s, int64_t id);
    uint64_t (*lost_count)(const store *s);
    void (*stats)(const store *s, store_stats *out);   /* NULL: all zero */
} store_backend;

/* Every backend's struct begins with this, so store.c can dispatch. */
struct store {
    const store_backend *be;
};

extern const store_backend store_memory_backend;
extern const store_backend store_redis_backend;

/* ---- for backends: answers owed when an op could not even be allocated ----
 * A caller is owed exactly one answer, later, even when there is no memory
 * for the op that would carry it. Both backends keep one of these rings in
 * their own struct, so pushing allocates nothing; they flush it from their
 * next loop turn. STORE_OWED_MAX answers owed within one turn with no memory
 * at all is where a backend stops (abort) rather than leave an operation that
 * never ends. */
typedef union store_cb {
    store_game_cb *game;
    store_list_cb *list;
    store_ids_cb *ids;
    store_done_cb *done;
} store_cb;

enum { STORE_CB_GAME, STORE_CB_LIST, STORE_CB_IDS, STORE_CB_DONE };

#define STORE_OWED_MAX 256

typedef struct store_owed {
    struct {
        uint8_t kind;            /* STORE_CB_* */
        store_cb cb;
        void *ud;
    } v[STORE_OWED_MAX];
    unsigned n;
} store_owed;

/* Queue an answer; -1 when the ring is full (nothing queued). */
int store_owed_push(store_owed *o, int kind, store_cb cb, void *ud);
/* Answer everything queued with status (STORE_ENOMEM, or STORE_ECLOSED once
 * closing). Answers queued by those callbacks wait for the next flush. */
void store_owed_flush(store_owed *o, int status);

#endif
