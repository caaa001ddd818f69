/* gm.c -- the game manager (see gm.h).
 *
 * Three kinds of state, and who owns them:
 *   - the game record (store_game): the store's. We hold a copy per room and
 *     change games only through a versioned save.
 *   - rooms (gm_room): one per game this process has connections in. A room
 *     is subscribed to the game's published saves, keeps the newest record
 *     seen, and fans each new version out to its members, encoded once.
 *   - members (gm_member): one per (connection, game), a seat or a
 *     spectator, remembering the last version it was sent, so that a state
 *     that reaches us twice (the save's own reply and the publish) or out of
 *     order goes out once, in order.
 *
 * Every change is a gm_op: a kind (mutate + done), the request's fields, and
 * refs on the connection and the room, so that a reply arriving after the
 * player left frees cleanly. op_start -> (subscribe) -> record -> mutate ->
 * save -> done. A conflict re-runs mutate on the record that won. */
#include "gm.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uthash.h>
#include <utlist.h>
#include <uv.h>

#include "game.h"
#include "log.h"
#include "token.h"

#define GM_MAX_TRIES 8     /* conflicts before we give up and answer unavailable */
#define GM_QUICK_TRIES 4   /* matchmaking candidates tried before opening a game */
#define GM_LIST_MAX 50     /* games in one "games" reply */
#define GM_LEASE_MS 5000   /* a claimed timeout is ours for this long */
#define GM_CLAIM_MAX 256   /* timeouts claimed per tick */
#define GM_KEEP_FINISHED 4 /* finished games a connection stays in (for rematch) */

enum { ROLE_X = GAME_X, ROLE_O = GAME_O, ROLE_WATCH = 3 };
enum { SUB_NONE = 0, SUB_PENDING, SUB_ACTIVE };
enum { OP_COUNT_NONE = 0, OP_COUNT_WATCH, OP_COUNT_WAIT };

/* what mutate tells op_apply; negative values are -proto_err */
enum {
    MUT_SAVE = 0,   /* save the changed record */
    MUT_KEEP = 1,   /* nothing to save: run done on the record as it is */
    MUT_QUIET = 2,  /* nothing to save and nothing to say */
    MUT_RESET = 3   /* timeout found nothing due: put the deadline index back */
};

typedef struct gm_room gm_room;
typedef struct gm_member gm_member;
typedef struct gm_op gm_op;

struct gm_member {
    gm_conn *conn;
    gm_room *room;
    gm_member *conn_next;        /* conn->members */
    gm_member *prev, *next;      /* room->members */
    uint64_t last_version;       /* newest state this member was sent */
    uint8_t role;                /* ROLE_X, ROLE_O, ROLE_WATCH */
};

struct gm_conn {
    void *ud;                    /* the server layer's session; NULL once closed */
    gm_member *members;
    uint32_t refs;               /* 1 while open + 1 per op in flight */
    uint16_t pend_watch;         /* watch requests in flight (for the watch cap) */
    uint16_t pend_wait;          /* create / quick in flight (for the waiting cap) */
};

struct gm_room {
    int64_t id;
    gm_member *members;
    gm_op *waiting;              /* ops parked until the subscription is active */
    uint32_t refs;               /* members + ops + a pending subscribe or load */
    uint32_t nlocal[2];          /* local connections holding X / O */
    uint8_t sub;                 /* SUB_* */
    uint8_t have_rec;
    uint8_t gone;                /* the store lost the game: no goodbyes to save */
    store_game rec;              /* newest record seen */
    UT_hash_handle hh;
};

typedef struct op_kind {
    const char *name;
    int (*mutate)(gm_op *op, store_game *g);
    void (*done)(gm_op *op, const store_game *g);
    /* a failure hook: return 1 when the op carries on by itself */
    int (*failed)(gm_op *op, proto_err e);
    uint8_t subscribe;           /* the op needs the room subscribed first */
} op_kind;

struct gm_op {
    gm *gm;
    const op_kind *kind;
    gm_conn *conn;               /* ref'd; NULL for the process' own ops */
    gm_room *room;               /* ref'd once started */
    gm_op *next;                 /* room->waiting */
    proto_id reqid;
    int64_t game_id;
    int cell, ply;
    uint8_t mark;                /* the seat the op acts for */
    uint8_t tries;
    uint8_t fresh;               /* the record came from the store, not the cache */
    uint8_t finished;            /* the save ended the game */
    uint8_t stage2;              /* rematch: both asked, a new game follows */
    uint8_t vs_computer, level;
    uint8_t counted;             /* OP_COUNT_*: which conn->pend_* this op holds */
    uint32_t instance;           /* orphan: the dead process */
    char token[TOKEN_LEN + 1];   /* the seat token this op hands out or checks */
    uint8_t hash[TOKEN_HASH_LEN];
    store_game aux;              /* rematch: the new game */
};

struct gm {
    uv_loop_t *loop;
    store *st;
    gm_options opt;
    gm_io io;
    gm_room *rooms;
    uv_timer_t tick;
    uv_timer_t stop_timer;
    uint64_t rng;
    uint32_t inflight;
    uint8_t claiming, stopping, detached;
    uint8_t closing_handles;     /* freed when the last close callback has run */
    void (*stop_done)(void *ud);
    void *stop_ud;
    gm_stats stats;
};

static void op_start(gm_op *op);
static void op_apply(gm_op *op, const store_game *cur);
static void room_release(gm *g, gm_room *r);
static void start_computer(gm *g, gm_room *room, const store_game *rec);

static int64_t now_ms(void)
{
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ---- seats and views ---------------------------------------------------------- */

static uint8_t seat_view(const store_game *r, int i)
{
    const store_seat *s = &r->seat[i];
    if (!s->taken)
        return PROTO_SEAT_OPEN;
    return (s->computer || s->nholders) ? PROTO_SEAT_CONNECTED : PROTO_SEAT_AWAY;
}

/* What a player can see changed: the board, the outcome, who is present. */
static int visible_equal(const store_game *a, const store_game *b)
{
    const game_state *x = &a->st, *y = &b->st;
    if (x->board.x != y->board.x || x->board.o != y->board.o || x->ply != y->ply ||
        x->status != y->status || x->result != y->result || x->winner != y->winner)
        return 0;
    return seat_view(a, 0) == seat_view(b, 0) && seat_view(a, 1) == seat_view(b, 1);
}

static int holder_add(store_seat *s, uint32_t inst)
{
    for (int i = 0; i < s->nholders; i++)
        if (s->holders[i] == inst)
            return 0;
    if (s->nholders == STORE_MAX_HOLDERS) {
        /* all slots used: the oldest holder is the likeliest to be gone */
        memmove(s->holders, s->holders + 1, (STORE_MAX_HOLDERS - 1) * sizeof(s->holders[0]));
        s->nholders--;
    }
    s->holders[s->nholders++] = inst;
    s->away_ms = 0;
    return 1;
}

static int holder_del(store_seat *s, uint32_t inst)
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

static void seat_claim(store_seat *s, const uint8_t hash[TOKEN_HASH_LEN], uint32_t inst)
{
    memset(s, 0, sizeof(*s));
    s->taken = 1;
    memcpy(s->token_hash, hash, TOKEN_HASH_LEN);
    holder_add(s, inst);
}

/* The next moment a timeout could end this game, 0 for never. */
static int64_t deadline_of(const gm *g, const store_game *r)
{
    if (r->st.status == GAME_OVER)
        return 0;
    if (r->st.status == GAME_WAITING)
        return r->created_ms + g->opt.wait_ms;
    int64_t d = 0;
    for (int i = 0; i < 2; i++) {
        const store_seat *s = &r->seat[i];
        if (s->taken && !s->computer && s->nholders == 0 && s->away_ms) {
            int64_t t = s->away_ms + g->opt.abandon_ms;
            if (!d || t < d)
                d = t;
        }
    }
    return d;
}

static const char *result_text(const store_game *r, char *buf, size_t len)
{
    static const char *const names[] = {"none", "win", "draw", "resign", "abandon"};
    const char *res = r->st.result < 5 ? names[r->st.result] : "?";
    if (r->st.winner)
        snprintf(buf, len, "%c wins (%s)", game_mark_char((game_mark)r->st.winner), res);
    else
        snprintf(buf, len, "%s", r->st.result == GAME_RESULT_DRAW ? "draw" : "no winner (abandon)");
    return buf;
}

/* ---- sending -------------------------------------------------------------------- */

static void send_msg(gm *g, gm_conn *c, msg *m)
{
    if (c && c->ud && m)
        g->io.send(g->io.ud, c->ud, m);
}

static void send_block(gm *g, gm_conn *c, char *block, const size_t *len)
{
    msg *m = msg_wrap(block, len);
    send_msg(g, c, m);
    msg_unref(m);
}

static void reply_error(gm *g, gm_conn *c, const proto_id *id, proto_err e, const char *text)
{
    g->stats.errors[e]++;
    if (!c || !c->ud)
        return;
    size_t len = 0;
    send_block(g, c, proto_encode_error(id, e, text, MSG_HEADROOM, &len), &len);
}

static msg *state_msg(const store_game *r)
{
    proto_state ps = {r->id, &r->st, {seat_view(r, 0), seat_view(r, 1)}};
    size_t len = 0;
    return msg_wrap(proto_encode_state(&ps, MSG_HEADROOM, &len), &len);
}

/* ---- connections and members ------------------------------------------------------ */

static void conn_release(gm_conn *c)
{
    if (c && --c->refs == 0)
        free(c);
}

static gm_member *member_find(gm_conn *c, gm_room *r)
{
    for (gm_member *m = c->members; m; m = m->conn_next)
        if (m->room == r)
            return m;
    return NULL;
}

static gm_member *member_seat(gm_conn *c, int64_t game_id)
{
    for (gm_member *m = c->members; m; m = m->conn_next)
        if (m->room->id == game_id && m->role != ROLE_WATCH)
            return m;
    return NULL;
}

static void start_leave(gm *g, gm_room *room, uint8_t mark);

/* Take m out of its room and free it; prev is m's predecessor in the
 * connection's list (NULL when m is the head). A seat that this was the last
 * local holder of says goodbye unless the game is over. */
static void member_remove(gm *g, gm_member *m, gm_member *prev)
{
    gm_room *r = m->room;
    if (prev)
        prev->conn_next = m->conn_next;
    else
        m->conn->members = m->conn_next;
    DL_DELETE(r->members, m);
    g->stats.members--;
    if (m->role != ROLE_WATCH && --r->nlocal[m->role - 1] == 0 && !r->gone &&
        (!r->have_rec || r->rec.st.status != GAME_OVER))
        start_leave(g, r, m->role);
    free(m);
    room_release(g, r);
}

/* A connection that plays game after game would otherwise stay in every
 * game it ever played (a member, a room, a subscription each) and scan them
 * all on every join. Keep the newest few finished ones: enough to ask for a
 * rematch, bounded for everyone else. The list is newest first. */
static void member_prune(gm *g, gm_conn *c)
{
    int finished = 0;
    gm_member *prev = NULL, *m = c->members;
    while (m) {
        gm_member *next = m->conn_next;
        if (m->room->have_rec && m->room->rec.st.status == GAME_OVER &&
            ++finished > GM_KEEP_FINISHED) {
            member_remove(g, m, prev);
        } else {
            prev = m;
        }
        m = next;
    }
}

/* Enter a room for the op's connection. When the connection left while the
 * op was in flight, the seat it just took is given back instead. */
static gm_member *member_add(gm *g, gm_op *op, gm_room *room, uint8_t role)
{
    gm_conn *c = op->conn;
    if (!c || !c->ud) {
        if (role != ROLE_WATCH && room->nlocal[role - 1] == 0)
            start_leave(g, room, role);
        return NULL;
    }
    gm_member *m = member_find(c, room);
    if (m) {
        if (m->role == ROLE_WATCH && role != ROLE_WATCH) {
            m->role = role;
            room->nlocal[role - 1]++;
        }
        return m;
    }
    m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->conn = c;
    m->room = room;
    m->role = role;
    m->conn_next = c->members;
    c->members = m;
    DL_APPEND(room->members, m);
    room->refs++;
    if (role != ROLE_WATCH)
        room->nlocal[role - 1]++;
    g->stats.members++;
    member_prune(g, c);
    return m;
}

/* Send a member the newest state of its room, if it has not had it. */
static void member_catch_up(gm *g, gm_member *m)
{
    gm_room *r = m->room;
    if (!r->have_rec || m->last_version >= r->rec.version)
        return;
    msg *s = state_msg(&r->rec);
    send_msg(g, m->conn, s);
    msg_unref(s);
    m->last_version = r->rec.version;
    g->stats.states_sent++;
}

/* ---- rooms ------------------------------------------------------------------------ */

static gm_room *room_find(gm *g, int64_t id)
{
    gm_room *r;
    HASH_FIND(hh, g->rooms, &id, sizeof(id), r);
    return r;
}

static void room_fail_waiting(gm *g, gm_room *r, proto_err e);
static void room_reload(gm *g, gm_room *r);

/* The store's subscribe callback carries the room; the manager is reached
 * through this small context so rooms need no back pointer. */
typedef struct sub_ctx {
    gm *g;
    gm_room *room;
} sub_ctx;

static void on_sub_done(void *ud, int status)
{
    sub_ctx *sc = ud;
    gm *g = sc->g;
    gm_room *r = sc->room;
    free(sc);
    r->sub = (status == STORE_OK) ? SUB_ACTIVE : SUB_NONE;
    if (status == STORE_OK) {
        /* run what waited, then catch up with saves made before we listened */
        gm_op *w = r->waiting;
        r->waiting = NULL;
        while (w) {
            gm_op *next = w->next;
            op_start(w);
            w = next;
        }
        if (r->members)
            room_reload(g, r);
    } else {
        log_warn("game %" PRId64 ": subscribe failed: %s", r->id, store_err_name(status));
        room_fail_waiting(g, r, PROTO_EUNAVAILABLE);
    }
    room_release(g, r);
}

static int room_subscribe(gm *g, gm_room *r)
{
    sub_ctx *sc = malloc(sizeof(*sc));
    if (!sc)
        return -1;
    sc->g = g;
    sc->room = r;
    r->sub = SUB_PENDING;
    r->refs++;
    store_subscribe(g->st, r->id, on_sub_done, sc);
    return 0;
}

static gm_room *room_get(gm *g, int64_t id, int subscribe)
{
    gm_room *r = room_find(g, id);
    if (!r) {
        r = calloc(1, sizeof(*r));
        if (!r)
            return NULL;
        r->id = id;
        HASH_ADD(hh, g->rooms, id, sizeof(r->id), r);
        g->stats.rooms++;
    }
    if (subscribe && r->sub == SUB_NONE && room_subscribe(g, r) != 0)
        return NULL;
    return r;
}

static void room_release(gm *g, gm_room *r)
{
    if (!r || --r->refs > 0 || r->members || r->waiting)
        return;
    if (r->sub == SUB_ACTIVE && !g->detached)
        store_unsubscribe(g->st, r->id);
    HASH_DEL(g->rooms, r);
    g->stats.rooms--;
    free(r);
}

static void room_fail_waiting(gm *g, gm_room *r, proto_err e)
{
    gm_op *w = r->waiting;
    r->waiting = NULL;
    while (w) {
        gm_op *next = w->next;
        reply_error(g, w->conn, &w->reqid, e, NULL);
        /* inline op_finish: these ops never left the queue */
        room_release(g, w->room);
        conn_release(w->conn);
        g->inflight--;
        free(w);
        w = next;
    }
}

static void start_claim(gm *g, gm_conn *c, int64_t game_id, uint8_t mark);

/* A newer record for a room: remember it and tell the members. Called for
 * every record we learn of (save replies, loads, publishes); versions make it
 * idempotent. */
static void room_advance(gm *g, gm_room *r, const store_game *rec)
{
    if (r->have_rec && rec->version <= r->rec.version)
        return;
    store_game prev = r->rec;
    int had = r->have_rec;
    r->rec = *rec;
    r->have_rec = 1;

    /* rematch bookkeeping changes nothing a state shows: no state for it.
     * A save that changes nothing at all (a resume by a player already
     * present) still is "one new state", as the contract says. */
    int quiet = had && visible_equal(&prev, rec) &&
                (prev.rematch_id != rec->rematch_id || prev.rematch[0] != rec->rematch[0] ||
                 prev.rematch[1] != rec->rematch[1]);
    gm_member *m;
    if (quiet) {
        /* a new rematch request: only the opponent hears of it */
        for (int i = 0; i < 2; i++) {
            if (!rec->rematch[i] || prev.rematch[i])
                continue;
            size_t len = 0;
            msg *o = msg_wrap(proto_encode_rematch_offer(rec->id, MSG_HEADROOM, &len), &len);
            DL_FOREACH(r->members, m) if (m->role == (uint8_t)game_mark_other((game_mark)(i + 1)))
                send_msg(g, m->conn, o);
            msg_unref(o);
        }
        DL_FOREACH(r->members, m) m->last_version = rec->version;
    } else {
        msg *s = NULL;
        DL_FOREACH(r->members, m) {
            if (m->last_version >= rec->version)
                continue;
            if (!s && !(s = state_msg(rec)))
                break;
            send_msg(g, m->conn, s);
            m->last_version = rec->version;
            g->stats.states_sent++;
        }
        msg_unref(s);
    }
    /* a rematch was created: each local player takes its seat in the new game */
    if (had && !prev.rematch_id && rec->rematch_id) {
        DL_FOREACH(r->members, m) if (m->role != ROLE_WATCH)
            start_claim(g, m->conn, rec->rematch_id, (uint8_t)game_mark_other((game_mark)m->role));
    }
}

typedef struct reload_ctx {
    gm *g;
    gm_room *room;
} reload_ctx;

static void on_reloaded(void *ud, int status, const store_game *rec)
{
    reload_ctx *rc = ud;
    if (status == STORE_OK)
        room_advance(rc->g, rc->room, rec);
    room_release(rc->g, rc->room);
    free(rc);
}

static void room_reload(gm *g, gm_room *r)
{
    reload_ctx *rc = malloc(sizeof(*rc));
    if (!rc)
        return;
    rc->g = g;
    rc->room = r;
    r->refs++;
    store_game_load(g->st, r->id, on_reloaded, rc);
}

/* ---- ops ---------------------------------------------------------------------------- */

static gm_op *op_new(gm *g, const op_kind *k, gm_conn *c, int64_t game_id)
{
    gm_op *op = calloc(1, sizeof(*op));
    if (!op)
        return NULL;
    op->gm = g;
    op->kind = k;
    op->conn = c;
    op->game_id = game_id;
    op->ply = -1;
    if (c)
        c->refs++;
    g->inflight++;
    return op;
}

/* A new op carrying on the request of `op` under another kind, for work
 * that continues after `op` has finished (a rematch's new game, another
 * matchmaking attempt). It holds its own references. */
static gm_op *op_clone(gm_op *op, const op_kind *k)
{
    gm_op *n = op_new(op->gm, k, op->conn, op->game_id);
    if (!n)
        return NULL;
    n->reqid = op->reqid;
    n->mark = op->mark;
    n->level = op->level;
    n->vs_computer = op->vs_computer;
    memcpy(n->token, op->token, sizeof(n->token));
    memcpy(n->hash, op->hash, sizeof(n->hash));
    return n;
}

/* Start one of the process' own ops (no connection) on a room it holds:
 * the computer's turn, a seat's goodbye, a presence re-assert. */
static void room_op_start(gm *g, const op_kind *k, gm_room *room, uint8_t mark)
{
    if (g->detached)
        return;
    gm_op *op = op_new(g, k, NULL, room->id);
    if (!op)
        return;
    op->mark = mark;
    op->room = room;
    room->refs++;
    op_start(op);
}

static void maybe_stopped(gm *g)
{
    if (g->stopping && g->inflight == 0 && !g->claiming && g->stop_done) {
        void (*done)(void *) = g->stop_done;
        g->stop_done = NULL;
        uv_timer_stop(&g->stop_timer);
        done(g->stop_ud);
    }
}

static void op_finish(gm_op *op)
{
    gm *g = op->gm;
    if (op->conn && op->counted == OP_COUNT_WATCH)
        op->conn->pend_watch--;
    else if (op->conn && op->counted == OP_COUNT_WAIT)
        op->conn->pend_wait--;
    room_release(g, op->room);
    conn_release(op->conn);
    free(op);
    g->inflight--;
    maybe_stopped(g);
}

static void op_fail(gm_op *op, proto_err e)
{
    if (op->kind->failed && op->kind->failed(op, e))
        return;
    reply_error(op->gm, op->conn, &op->reqid, e, NULL);
    op_finish(op);
}

/* The store could not learn whether our write ran (STORE_EUNKNOWN). Any
 * answer could be a lie ("unavailable" when it ran, success when it did
 * not), so the request gets none: the client's own timeout, or the room's
 * next state, tells it more than a guess would. Logged as an error. */
static int op_unknown(gm_op *op, int status)
{
    if (status != STORE_EUNKNOWN)
        return 0;
    log_error("game %" PRId64 ": %s: the store cannot tell whether it was applied; "
              "left unanswered", op->game_id, op->kind->name);
    op_finish(op);
    return 1;
}

static void on_saved(void *ud, int status, const store_game *rec)
{
    gm_op *op = ud;
    gm *g = op->gm;
    switch (status) {
    case STORE_OK:
        if (op->room)
            room_advance(g, op->room, rec);
        if (op->finished) {
            char buf[64];
            g->stats.games_finished++;
            if (rec->st.result < 5)
                g->stats.finished_by_result[rec->st.result]++;
            log_info("game %" PRId64 " over after %u moves: %s", rec->id, rec->st.ply,
                     result_text(rec, buf, sizeof buf));
        }
        if (op->kind->done)
            op->kind->done(op, rec);
        op_finish(op);
        return;
    case STORE_ECONFLICT:
        g->stats.conflicts++;
        if (op->room)
            room_advance(g, op->room, rec);
        if (++op->tries >= GM_MAX_TRIES) {
            log_warn("game %" PRId64 ": %s gave up after %d conflicts", op->game_id,
                     op->kind->name, op->tries);
            op_fail(op, PROTO_EUNAVAILABLE);
            return;
        }
        op->fresh = 1;
        op_apply(op, op->room ? &op->room->rec : rec);
        return;
    case STORE_ENOTFOUND:
        op_fail(op, PROTO_ENO_SUCH_GAME);
        return;
    default:
        if (!op_unknown(op, status))
            op_fail(op, PROTO_EUNAVAILABLE);
        return;
    }
}

static void on_loaded(void *ud, int status, const store_game *rec)
{
    gm_op *op = ud;
    if (status == STORE_ENOTFOUND) {
        op_fail(op, PROTO_ENO_SUCH_GAME);
        return;
    }
    if (status != STORE_OK) {
        op_fail(op, PROTO_EUNAVAILABLE);
        return;
    }
    op->fresh = 1;
    if (op->room) {
        room_advance(op->gm, op->room, rec);
        rec = &op->room->rec;
    }
    op_apply(op, rec);
}

static void on_reset(void *ud, int status)
{
    (void)status;   /* a failed reset is retried by the lease running out */
    op_finish(ud);
}

static void op_apply(gm_op *op, const store_game *cur)
{
    gm *g = op->gm;
    store_game next = *cur;
    int r = op->kind->mutate(op, &next);
    if (r < 0) {
        if (!op->fresh) {
            /* judged on our cached copy: make sure with the stored record
             * before telling the client no */
            store_game_load(g->st, op->game_id, on_loaded, op);
            return;
        }
        op_fail(op, (proto_err)-r);
        return;
    }
    switch (r) {
    case MUT_KEEP:
        if (op->kind->done)
            op->kind->done(op, cur);
        op_finish(op);
        return;
    case MUT_QUIET:
        op_finish(op);
        return;
    case MUT_RESET:
        store_deadline_reset(g->st, cur, on_reset, op);
        return;
    default:
        break;
    }
    next.updated_ms = now_ms();
    next.deadline_ms = deadline_of(g, &next);
    op->finished = cur->st.status != GAME_OVER && next.st.status == GAME_OVER;
    store_game_save(g->st, &next, on_saved, op);
}

static void op_start(gm_op *op)
{
    gm *g = op->gm;
    if (g->detached || !store_is_up(g->st)) {
        op_fail(op, PROTO_EUNAVAILABLE);
        return;
    }
    if (!op->room) {
        op->room = op->kind->subscribe ? room_get(g, op->game_id, 1) : room_find(g, op->game_id);
        if (op->room)
            op->room->refs++;
        else if (op->kind->subscribe) {
            op_fail(op, PROTO_EUNAVAILABLE);
            return;
        }
    }
    gm_room *r = op->room;
    if (r && op->kind->subscribe && r->sub != SUB_ACTIVE) {
        if (r->sub == SUB_NONE && room_subscribe(g, r) != 0) {
            op_fail(op, PROTO_EUNAVAILABLE);
            return;
        }
        op->next = r->waiting;
        r->waiting = op;
        return;
    }
    if (r && r->have_rec && r->sub == SUB_ACTIVE)
        op_apply(op, &r->rec);
    else
        store_game_load(g->st, op->game_id, on_loaded, op);
}

/* ---- the kinds of change ----------------------------------------------------------------- */

static int need_instance(gm_op *op, uint32_t *self)
{
    *self = store_instance(op->gm->st);
    return *self ? 0 : -1;
}

/* join: take the open O seat of a waiting game */
static int mut_join(gm_op *op, store_game *g)
{
    uint32_t self;
    if (need_instance(op, &self))
        return -PROTO_EUNAVAILABLE;
    if (g->st.status == GAME_OVER)
        return -PROTO_EGAME_OVER;
    if (g->st.status != GAME_WAITING || g->seat[1].taken)
        return -PROTO_EGAME_FULL;
    gm_member *mine = op->conn ? member_find(op->conn, op->room) : NULL;
    if (mine && mine->role == ROLE_X)
        return -PROTO_EGAME_FULL;   /* one connection cannot take both seats */
    seat_claim(&g->seat[1], op->hash, self);
    /* the abandon clock of an absent creator starts when the game does */
    if (g->seat[0].nholders == 0 && !g->seat[0].computer)
        g->seat[0].away_ms = now_ms();
    game_state_start(&g->st);
    return MUT_SAVE;
}

static void send_joined(gm *g, gm_op *op, int64_t game_id, uint8_t mark)
{
    size_t len = 0;
    send_block(g, op->conn, proto_encode_joined(&op->reqid, game_id, (game_mark)mark, op->token,
                                                 MSG_HEADROOM, &len), &len);
}

static void done_seat(gm_op *op, gm_room *room, uint8_t mark)
{
    gm *g = op->gm;
    gm_member *m = member_add(g, op, room, mark);
    if (!m)
        return;
    send_joined(g, op, room->id, mark);
    member_catch_up(g, m);
    if (room->have_rec)
        start_computer(g, room, &room->rec);
}

static void done_join(gm_op *op, const store_game *g)
{
    (void)g;
    log_debug("game %" PRId64 ": O joined", op->game_id);
    done_seat(op, op->room, ROLE_O);
}

static const op_kind kind_join = {"join", mut_join, done_join, NULL, 1};

/* an op that never mutates: create, quick, list run their own store calls */
static const op_kind kind_plain = {"request", NULL, NULL, NULL, 0};

/* quick, second half: join the game matchmaking handed us */
static void quick_begin(gm_op *op);

static int mut_quick_join(gm_op *op, store_game *g)
{
    if (g->st.status == GAME_WAITING && !g->seat[1].taken && g->seat[0].nholders == 0 &&
        !g->seat[0].computer) {
        /* its creator left while queued: end that game, then look again */
        game_state_abandon(&g->st, GAME_NONE);
        op->stage2 = 1;
        return MUT_SAVE;
    }
    op->stage2 = 0;
    return mut_join(op, g);
}

static void done_quick_join(gm_op *op, const store_game *g)
{
    if (!op->stage2) {
        done_join(op, g);
        return;
    }
    /* we ended a stale game; look for another (or open one) */
    gm_op *again = op_clone(op, &kind_plain);
    if (!again)
        return;
    again->tries = (uint8_t)(op->tries + 1);
    quick_begin(again);
}

static int quick_failed(gm_op *op, proto_err e)
{
    if (e == PROTO_EUNAVAILABLE || ++op->tries >= GM_QUICK_TRIES)
        return 0;
    room_release(op->gm, op->room);
    op->room = NULL;
    op->fresh = 0;
    quick_begin(op);
    return 1;
}

static const op_kind kind_quick_join = {"quick", mut_quick_join, done_quick_join, quick_failed, 1};

/* resume: re-take one's seat with its token */
static int mut_resume(gm_op *op, store_game *g)
{
    uint32_t self;
    if (need_instance(op, &self))
        return -PROTO_EUNAVAILABLE;
    op->mark = 0;
    for (int i = 0; i < 2; i++)
        if (g->seat[i].taken && !g->seat[i].computer &&
            token_hash_equal(g->seat[i].token_hash, op->hash))
            op->mark = (uint8_t)(i + 1);
    if (!op->mark)
        return -PROTO_EBAD_TOKEN;
    if (g->st.status == GAME_OVER)
        return MUT_KEEP;
    holder_add(&g->seat[op->mark - 1], self);
    return MUT_SAVE;   /* even when already present: a resume is one new state */
}

static void done_resume(gm_op *op, const store_game *g)
{
    (void)g;
    log_debug("game %" PRId64 ": %c resumed", op->game_id, game_mark_char((game_mark)op->mark));
    done_seat(op, op->room, op->mark);
}

static const op_kind kind_resume = {"resume", mut_resume, done_resume, NULL, 1};

/* watch */
static int mut_watch(gm_op *op, store_game *g)
{
    (void)op;
    (void)g;
    return MUT_KEEP;
}

static void done_watch(gm_op *op, const store_game *g)
{
    (void)g;
    gm *gmp = op->gm;
    gm_member *m = member_add(gmp, op, op->room, ROLE_WATCH);
    if (!m)
        return;
    size_t len = 0;
    send_block(gmp, op->conn, proto_encode_watching(&op->reqid, op->game_id, MSG_HEADROOM, &len), &len);
    /* a player who also asks to watch already gets every state: re-send the newest */
    if (m->role != ROLE_WATCH)
        m->last_version = 0;
    member_catch_up(gmp, m);
}

static const op_kind kind_watch = {"watch", mut_watch, done_watch, NULL, 1};

/* move */
static int mut_move(gm_op *op, store_game *g)
{
    if (g->st.status == GAME_OVER)
        return -PROTO_EGAME_OVER;
    if (g->st.status == GAME_WAITING)
        return -PROTO_ENOT_PLAYING;
    if (op->ply >= 0 && op->ply != g->st.ply)
        return -PROTO_ESTALE;
    switch (game_state_move(&g->st, (game_mark)op->mark, op->cell)) {
    case GAME_OK: return MUT_SAVE;
    case GAME_ETURN: return -PROTO_ENOT_YOUR_TURN;
    case GAME_ETAKEN: return -PROTO_ECELL_TAKEN;
    case GAME_EOVER: return -PROTO_EGAME_OVER;
    case GAME_ENOTPLAYING: return -PROTO_ENOT_PLAYING;
    default: return -PROTO_EBAD_MESSAGE;
    }
}

static void done_move(gm_op *op, const store_game *g)
{
    op->gm->stats.moves++;
    if (op->room)
        start_computer(op->gm, op->room, g);
}

static const op_kind kind_move = {"move", mut_move, done_move, NULL, 1};

/* resign */
static int mut_resign(gm_op *op, store_game *g)
{
    if (g->st.status == GAME_OVER)
        return -PROTO_EGAME_OVER;
    if (g->st.status == GAME_WAITING)
        return -PROTO_ENOT_PLAYING;
    return game_state_resign(&g->st, (game_mark)op->mark) == GAME_OK ? MUT_SAVE
                                                                    : -PROTO_EGAME_OVER;
}

static const op_kind kind_resign = {"resign", mut_resign, NULL, NULL, 1};

/* a connection that holds no seat in the game: say which error it is */
static int mut_probe(gm_op *op, store_game *g)
{
    (void)op;
    (void)g;
    return -PROTO_ENOT_IN_GAME;
}

static const op_kind kind_probe = {"probe", mut_probe, NULL, NULL, 0};

/* the computer's move */
static int mut_computer(gm_op *op, store_game *g)
{
    if (g->st.status != GAME_PLAYING)
        return MUT_QUIET;
    game_mark turn = game_board_turn(&g->st.board);
    if (!g->seat[turn - 1].computer)
        return MUT_QUIET;
    int cell = game_ai_move(&g->st.board, (game_ai_level)g->level, &op->gm->rng);
    if (cell < 0 || game_state_move(&g->st, turn, cell) != GAME_OK)
        return MUT_QUIET;
    return MUT_SAVE;
}

static void done_computer(gm_op *op, const store_game *g)
{
    (void)g;
    op->gm->stats.moves++;
}

static const op_kind kind_computer = {"computer", mut_computer, done_computer, NULL, 0};

static void start_computer(gm *g, gm_room *room, const store_game *rec)
{
    if (rec->st.status != GAME_PLAYING)
        return;
    game_mark turn = game_board_turn(&rec->st.board);
    if (!rec->seat[turn - 1].computer)
        return;
    room_op_start(g, &kind_computer, room, (uint8_t)turn);
}

/* leave: this process no longer holds a seat */
static int mut_leave(gm_op *op, store_game *g)
{
    uint32_t self = store_instance(op->gm->st);
    if (g->st.status == GAME_OVER)
        return MUT_QUIET;
    if (op->room && op->room->nlocal[op->mark - 1] > 0)
        return MUT_QUIET;   /* another local connection took the seat meanwhile */
    store_seat *s = &g->seat[op->mark - 1];
    if (!holder_del(s, self))
        return MUT_QUIET;
    if (s->nholders == 0)
        s->away_ms = now_ms();
    return MUT_SAVE;
}

static const op_kind kind_leave = {"leave", mut_leave, NULL, NULL, 0};

static void start_leave(gm *g, gm_room *room, uint8_t mark)
{
    room_op_start(g, &kind_leave, room, mark);
}

/* orphan: a dead process' seats become away */
static int mut_orphan(gm_op *op, store_game *g)
{
    if (g->st.status == GAME_OVER)
        return MUT_QUIET;
    int changed = 0;
    for (int i = 0; i < 2; i++) {
        if (holder_del(&g->seat[i], op->instance)) {
            changed = 1;
            if (g->seat[i].nholders == 0)
                g->seat[i].away_ms = now_ms();
        }
    }
    return changed ? MUT_SAVE : MUT_QUIET;
}

static const op_kind kind_orphan = {"orphan", mut_orphan, NULL, NULL, 0};

/* present: this process holds the seat, make sure the record says so (after
 * an outage, or after another process wrongly took us for dead) */
static int mut_present(gm_op *op, store_game *g)
{
    uint32_t self = store_instance(op->gm->st);
    if (!self || g->st.status == GAME_OVER || !op->room || op->room->nlocal[op->mark - 1] == 0)
        return MUT_QUIET;
    store_seat *s = &g->seat[op->mark - 1];
    for (int i = 0; i < s->nholders; i++)
        if (s->holders[i] == self)
            return MUT_QUIET;
    holder_add(s, self);
    return MUT_SAVE;
}

static const op_kind kind_present = {"present", mut_present, NULL, NULL, 0};

/* timeout: abandon and waiting deadlines */
static int mut_timeout(gm_op *op, store_game *g)
{
    int64_t now = now_ms();
    gm *gmp = op->gm;
    if (g->st.status == GAME_WAITING) {
        if (g->created_ms + gmp->opt.wait_ms > now)
            return MUT_RESET;
        game_state_abandon(&g->st, GAME_NONE);
        return MUT_SAVE;
    }
    if (g->st.status != GAME_PLAYING)
        return MUT_RESET;
    int loser = 0;
    int64_t since = 0;
    for (int i = 0; i < 2; i++) {
        const store_seat *s = &g->seat[i];
        if (s->taken && !s->computer && s->nholders == 0 && s->away_ms &&
            s->away_ms + gmp->opt.abandon_ms <= now && (!since || s->away_ms < since)) {
            loser = i + 1;
            since = s->away_ms;
        }
    }
    if (!loser)
        return MUT_RESET;
    game_state_abandon(&g->st, (game_mark)loser);
    return MUT_SAVE;
}

static const op_kind kind_timeout = {"timeout", mut_timeout, NULL, NULL, 0};

/* claim: take one's seat in a rematch another player (or process) created */
static int mut_claim(gm_op *op, store_game *g)
{
    uint32_t self;
    if (need_instance(op, &self))
        return MUT_QUIET;
    store_seat *s = &g->seat[op->mark - 1];
    if (!s->taken || s->computer || !token_hash_empty(s->token_hash) || g->st.status == GAME_OVER)
        return MUT_QUIET;   /* the creator's own seat, or claimed by another tab */
    if (!op->conn || !op->conn->ud)
        return MUT_QUIET;
    seat_claim(s, op->hash, self);
    return MUT_SAVE;
}

static void done_claim(gm_op *op, const store_game *g)
{
    (void)g;
    done_seat(op, op->room, op->mark);
}

static const op_kind kind_claim = {"claim", mut_claim, done_claim, NULL, 1};

static int op_new_token(gm_op *op)
{
    if (token_new(op->token) != 0)
        return -1;
    token_hash(op->token, TOKEN_LEN, op->hash);
    return 0;
}

static void start_claim(gm *g, gm_conn *c, int64_t game_id, uint8_t mark)
{
    if (!c || !c->ud)
        return;
    gm_op *op = op_new(g, &kind_claim, c, game_id);
    if (!op)
        return;
    op->mark = mark;
    if (op_new_token(op) != 0) {
        op_finish(op);
        return;
    }
    op_start(op);
}

/* a fresh record for a new game, seat `mark` held by the caller */
static void new_game(gm_op *op, store_game *t, uint8_t mark, uint8_t kind, int waiting)
{
    memset(t, 0, sizeof(*t));
    game_state_init(&t->st, waiting);
    t->kind = kind;
    t->level = op->level;
    seat_claim(&t->seat[mark - 1], op->hash, store_instance(op->gm->st));
    t->created_ms = t->updated_ms = now_ms();
}

/* rematch: first caller asks, second caller (or the computer) starts it */
static void rematch_create(gm_op *op, const store_game *old);

static int mut_rematch(gm_op *op, store_game *g)
{
    int me = op->mark - 1, other = 1 - me;
    if (g->st.status != GAME_OVER)
        return -PROTO_EBAD_MESSAGE;
    if (g->rematch_id)
        return -PROTO_EGAME_OVER;
    if (g->seat[other].computer || g->rematch[other]) {
        op->stage2 = 1;
        return MUT_KEEP;
    }
    if (g->rematch[me])
        return MUT_QUIET;
    g->rematch[me] = 1;
    return MUT_SAVE;
}

static void done_rematch(gm_op *op, const store_game *g)
{
    if (op->stage2)
        rematch_create(op, g);
}

static const op_kind kind_rematch = {"rematch", mut_rematch, done_rematch, NULL, 1};

/* link the old game to the new one; whoever links first owns the rematch */
static int mut_link(gm_op *op, store_game *g)
{
    if (g->rematch_id)
        return -PROTO_EGAME_OVER;
    g->rematch_id = op->aux.id;
    return MUT_SAVE;
}

static void done_link(gm_op *op, const store_game *g)
{
    gm *gmp = op->gm;
    gm_room *nr = room_get(gmp, op->aux.id, 1);
    if (!nr)
        return;
    nr->refs++;
    room_advance(gmp, nr, &op->aux);
    uint8_t mark = (uint8_t)game_mark_other((game_mark)op->mark);
    int opp = 2 - op->mark;   /* the opponent's seat index in the old game */
    log_info("game %" PRId64 ": rematch is game %" PRId64, op->game_id, op->aux.id);
    gm_member *m = member_add(gmp, op, nr, mark);
    if (m) {
        send_joined(gmp, op, nr->id, mark);
        /* An opponent who is connected somewhere takes the other seat within
         * moments, and that save is the game's first state for both of us:
         * one state each, as the contract asks, rather than one showing the
         * seat away and a second showing it taken. An absent opponent (or the
         * computer) claims nothing, so the state goes out now. */
        if (!g->seat[opp].computer && g->seat[opp].nholders > 0)
            m->last_version = nr->rec.version;
        else
            member_catch_up(gmp, m);
        if (nr->have_rec)
            start_computer(gmp, nr, &nr->rec);
    }
    room_release(gmp, nr);
}

static const op_kind kind_link = {"rematch", mut_link, done_link, NULL, 1};

static void on_rematch_created(void *ud, int status, const store_game *rec)
{
    gm_op *op = ud;
    if (status != STORE_OK) {
        if (!op_unknown(op, status))
            op_fail(op, PROTO_EUNAVAILABLE);
        return;
    }
    op->aux = *rec;
    op->gm->stats.games_created++;
    op->kind = &kind_link;
    op->tries = 0;
    op->fresh = 0;
    op_apply(op, &op->room->rec);
}

static void rematch_create(gm_op *op, const store_game *old)
{
    gm *g = op->gm;
    uint8_t mine = (uint8_t)game_mark_other((game_mark)op->mark);
    int theirs = 2 - mine;   /* index of the other seat in the new game */
    if (op_new_token(op) != 0) {
        op->stage2 = 0;
        return;
    }
    store_game t;
    op->level = old->level;
    new_game(op, &t, mine, STORE_KIND_REMATCH, 0);
    if (old->seat[op->mark == GAME_X ? 1 : 0].computer) {
        t.seat[theirs].taken = 1;
        t.seat[theirs].computer = 1;
        if (theirs == 0) {
            /* the computer is X now and moves first */
            int cell = game_ai_move(&t.st.board, (game_ai_level)t.level, &g->rng);
            if (cell >= 0)
                game_state_move(&t.st, GAME_X, cell);
        }
    } else {
        /* reserved for the opponent, who claims it from wherever they are;
         * until then it is away, so an absent opponent loses by abandon */
        t.seat[theirs].taken = 1;
        t.seat[theirs].away_ms = t.created_ms;
    }
    t.deadline_ms = deadline_of(g, &t);
    /* the request carries on through create and link after `op` finishes */
    gm_op *next = op_clone(op, &kind_rematch);
    if (!next)
        return;
    next->room = op->room;
    next->room->refs++;
    store_game_create(g->st, &t, on_rematch_created, next);
}

/* create and quick */
static void done_created(gm_op *op, const store_game *rec)
{
    gm *g = op->gm;
    g->stats.games_created++;
    log_info("game %" PRId64 " created (%s%s)", rec->id,
             op->vs_computer ? "vs computer, " : rec->kind == STORE_KIND_QUICK ? "quick" : "vs human",
             op->vs_computer ? (op->level == GAME_AI_EASY ? "easy" : "perfect") : "");
    op->room = room_get(g, rec->id, 1);
    if (!op->room)
        return;
    op->room->refs++;
    room_advance(g, op->room, rec);
    done_seat(op, op->room, ROLE_X);
}

static void on_created(void *ud, int status, const store_game *rec)
{
    gm_op *op = ud;
    if (status != STORE_OK) {
        if (!op_unknown(op, status))
            op_fail(op, PROTO_EUNAVAILABLE);
        return;
    }
    done_created(op, rec);
    op_finish(op);
}

static void on_quick(void *ud, int status, const store_game *rec)
{
    gm_op *op = ud;
    if (status != STORE_OK) {
        if (!op_unknown(op, status))
            op_fail(op, PROTO_EUNAVAILABLE);
        return;
    }
    if (token_hash_equal(rec->seat[0].token_hash, op->hash) && rec->version == 1) {
        done_created(op, rec);   /* nobody waiting: we opened a game */
        op_finish(op);
        return;
    }
    op->game_id = rec->id;
    op->kind = &kind_quick_join;
    op_start(op);
}

static void quick_begin(gm_op *op)
{
    store_game t;
    new_game(op, &t, GAME_X, STORE_KIND_QUICK, 1);
    t.deadline_ms = deadline_of(op->gm, &t);
    store_game_quick(op->gm->st, &t, on_quick, op);
}

static void on_listed(void *ud, int status, const store_open_game *games, size_t n)
{
    gm_op *op = ud;
    if (status != STORE_OK) {
        op_fail(op, PROTO_EUNAVAILABLE);
        return;
    }
    proto_game_entry stack[GM_LIST_MAX];
    int64_t now = now_ms();
    if (n > GM_LIST_MAX)
        n = GM_LIST_MAX;
    for (size_t i = 0; i < n; i++) {
        stack[i].game_id = games[i].id;
        int64_t age = (now - games[i].created_ms) / 1000;
        stack[i].age_s = age < 0 ? 0 : age;
    }
    size_t len = 0;
    send_block(op->gm, op->conn, proto_encode_games(&op->reqid, stack, n, MSG_HEADROOM, &len), &len);
    op_finish(op);
}

/* ---- the request entry point ------------------------------------------------------------------ */

void gm_request(gm *g, gm_conn *c, const proto_req *req)
{
    g->stats.requests++;
    if (req->type == PROTO_PING) {
        size_t len = 0;
        send_block(g, c, proto_encode_pong(&req->id, MSG_HEADROOM, &len), &len);
        return;
    }
    if (g->detached || !g->st || !store_is_up(g->st) || !store_instance(g->st)) {
        reply_error(g, c, &req->id, PROTO_EUNAVAILABLE, NULL);
        return;
    }

    const op_kind *k = NULL;
    gm_member *seat = NULL;
    switch (req->type) {
    case PROTO_JOIN: k = &kind_join; break;
    case PROTO_RESUME: k = &kind_resume; break;
    case PROTO_WATCH: k = &kind_watch; break;
    case PROTO_MOVE:
    case PROTO_RESIGN:
    case PROTO_REMATCH:
        seat = member_seat(c, req->game_id);
        k = !seat ? &kind_probe
            : req->type == PROTO_MOVE ? &kind_move
            : req->type == PROTO_RESIGN ? &kind_resign : &kind_rematch;
        break;
    default:
        k = &kind_plain;
        break;
    }
    gm_op *op = op_new(g, k, c, req->game_id);
    if (!op) {
        reply_error(g, c, &req->id, PROTO_EUNAVAILABLE, "out of memory");
        return;
    }
    op->reqid = req->id;
    op->cell = req->cell;
    op->ply = req->ply;
    op->vs_computer = req->vs_computer;
    op->level = req->level;
    if (seat)
        op->mark = seat->role;
    /* the network layer's caps count requests in flight, so a burst of
     * watches cannot slip past them before the first one completes */
    if (req->type == PROTO_WATCH) {
        op->counted = OP_COUNT_WATCH;
        c->pend_watch++;
    } else if (req->type == PROTO_QUICK || (req->type == PROTO_CREATE && !req->vs_computer)) {
        op->counted = OP_COUNT_WAIT;
        c->pend_wait++;
    }

    switch (req->type) {
    case PROTO_CREATE: {
        if (op_new_token(op) != 0) {
            op_fail(op, PROTO_EUNAVAILABLE);
            return;
        }
        store_game t;
        new_game(op, &t, GAME_X, STORE_KIND_CREATE, !req->vs_computer);
        if (req->vs_computer) {
            t.seat[1].taken = 1;
            t.seat[1].computer = 1;
        }
        t.deadline_ms = deadline_of(g, &t);
        store_game_create(g->st, &t, on_created, op);
        return;
    }
    case PROTO_QUICK:
        if (op_new_token(op) != 0) {
            op_fail(op, PROTO_EUNAVAILABLE);
            return;
        }
        quick_begin(op);
        return;
    case PROTO_LIST:
        store_open_list(g->st, GM_LIST_MAX, on_listed, op);
        return;
    case PROTO_JOIN:
        if (op_new_token(op) != 0) {
            op_fail(op, PROTO_EUNAVAILABLE);
            return;
        }
        break;
    case PROTO_RESUME:
        memcpy(op->token, req->token, sizeof(op->token));
        if (req->token_len == TOKEN_LEN)
            token_hash(req->token, TOKEN_LEN, op->hash);
        else
            memset(op->hash, 0xff, sizeof(op->hash));   /* matches no seat: bad_token */
        break;
    default:
        break;
    }
    op_start(op);
}

/* ---- connections -------------------------------------------------------------------------- */

gm_conn *gm_conn_open(gm *g, void *conn_ud)
{
    (void)g;
    gm_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->ud = conn_ud;
    c->refs = 1;
    return c;
}

int gm_conn_busy(const gm_conn *c)
{
    return c->refs > 1;
}

void gm_conn_holdings(const gm_conn *c, unsigned *watching, unsigned *waiting)
{
    unsigned w = c->pend_watch, s = c->pend_wait;
    for (const gm_member *m = c->members; m; m = m->conn_next) {
        if (m->role == ROLE_WATCH)
            w++;
        else if (m->room->have_rec && m->room->rec.st.status == GAME_WAITING)
            s++;
    }
    *watching = w;
    *waiting = s;
}

void gm_conn_close(gm *g, gm_conn *c)
{
    c->ud = NULL;
    while (c->members)
        member_remove(g, c->members, NULL);
    conn_release(c);
}

/* ---- the HTTP view ---------------------------------------------------------------------------- */

typedef struct state_ctx {
    gm_state_cb *cb;
    void *ud;
} state_ctx;

static void on_state_loaded(void *ud, int status, const store_game *rec)
{
    state_ctx *sc = ud;
    msg *m = status == STORE_OK ? state_msg(rec) : NULL;
    sc->cb(sc->ud, status, m);
    free(sc);
}

void gm_game_state(gm *g, int64_t id, gm_state_cb *cb, void *ud)
{
    state_ctx *sc = malloc(sizeof(*sc));
    if (!sc || !g->st || g->detached) {
        free(sc);
        cb(ud, STORE_EUNAVAIL, NULL);
        return;
    }
    sc->cb = cb;
    sc->ud = ud;
    store_game_load(g->st, id, on_state_loaded, sc);
}

/* ---- store events and the timeout tick ------------------------------------------------------------ */

static void on_published(void *ud, const store_game *rec)
{
    gm *g = ud;
    gm_room *r = room_find(g, rec->id);
    if (r)
        room_advance(g, r, rec);
}

static void on_health(void *ud, int up)
{
    gm *g = ud;
    if (!up) {
        log_warn("store unreachable: requests get \"unavailable\" until it returns");
        return;
    }
    log_info("store reachable (instance %u)", g->st ? store_instance(g->st) : 0);
    if (!g->st || g->detached)
        return;
    /* saves made while we could not listen were missed: catch every room up,
     * and make sure the seats we hold still list us (a survivor may have
     * taken us for dead meanwhile) */
    gm_room *r, *tmp;
    HASH_ITER(hh, g->rooms, r, tmp) {
        if (r->sub == SUB_NONE && (r->members || r->waiting))
            room_subscribe(g, r);
        else if (r->sub == SUB_ACTIVE && r->members)
            room_reload(g, r);
        for (uint8_t mark = GAME_X; mark <= GAME_O; mark++)
            if (r->nlocal[mark - 1])
                room_op_start(g, &kind_present, r, mark);
    }
}

static void on_orphaned(void *ud, uint32_t instance, const int64_t *ids, size_t n)
{
    gm *g = ud;
    log_warn("instance %u stopped without a goodbye: its seats in %zu games become away",
             instance, n);
    for (size_t i = 0; i < n && !g->detached; i++) {
        gm_op *op = op_new(g, &kind_orphan, NULL, ids[i]);
        if (!op)
            return;
        op->instance = instance;
        op_start(op);
    }
}

/* The store lost its data: every game we hold a room for is gone. Tell each
 * member so (no_such_game: the game they were in no longer exists) and drop
 * the rooms, without the goodbye saves a leaving seat would make. Ops in
 * flight on them find the game gone in the store and answer the same. */
static void on_lost(void *ud)
{
    gm *g = ud;
    log_error("store lost its data: dropping %u rooms; their players get no_such_game",
              HASH_COUNT(g->rooms));
    gm_room *r, *tmp;
    HASH_ITER(hh, g->rooms, r, tmp) {
        r->refs++;   /* held while its members go */
        r->gone = 1;
        r->have_rec = 0;
        while (r->members) {
            gm_member *m = r->members, *prev = NULL;
            for (gm_member *p = m->conn->members; p && p != m; p = p->conn_next)
                prev = p;
            char text[96];
            snprintf(text, sizeof text, "game %" PRId64 " is gone: the store lost its data",
                     r->id);
            reply_error(g, m->conn, NULL, PROTO_ENO_SUCH_GAME, text);
            member_remove(g, m, prev);
        }
        room_release(g, r);
    }
}

static void on_claimed(void *ud, int status, const int64_t *ids, size_t n)
{
    gm *g = ud;
    g->claiming = 0;
    if (status == STORE_OK && !g->detached) {
        for (size_t i = 0; i < n; i++) {
            gm_op *op = op_new(g, &kind_timeout, NULL, ids[i]);
            if (!op)
                break;
            op_start(op);
        }
    }
    maybe_stopped(g);
}

static void on_tick(uv_timer_t *t)
{
    gm *g = t->data;
    if (g->stopping || g->claiming || !g->st || !store_is_up(g->st))
        return;
    g->claiming = 1;
    store_claim_due(g->st, now_ms(), GM_LEASE_MS, GM_CLAIM_MAX, on_claimed, g);
}

store_events gm_store_events(gm *g)
{
    store_events ev = {.ud = g, .published = on_published, .health = on_health,
                       .orphaned = on_orphaned, .lost = on_lost};
    return ev;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

gm *gm_new(uv_loop_t *loop, const gm_options *opt, const gm_io *io)
{
    gm *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->loop = loop;
    g->opt = *opt;
    g->io = *io;
    g->rng = opt->seed ? opt->seed : (uv_hrtime() ^ ((uint64_t)getpid() << 32)) | 1;
    uv_timer_init(loop, &g->tick);
    g->tick.data = g;
    uv_timer_init(loop, &g->stop_timer);
    g->stop_timer.data = g;
    return g;
}

void gm_set_io(gm *g, const gm_io *io)
{
    g->io = *io;
}

void gm_set_store(gm *g, store *st)
{
    g->st = st;
    /* check deadlines 4 times per shortest timeout, between 50 ms and 1 s,
     * so a timeout fires at most a quarter late */
    int64_t shortest = g->opt.abandon_ms < g->opt.wait_ms ? g->opt.abandon_ms : g->opt.wait_ms;
    int64_t every = shortest / 4;
    if (every < 50)
        every = 50;
    if (every > 1000)
        every = 1000;
    uv_timer_start(&g->tick, on_tick, (uint64_t)every, (uint64_t)every);
}

void gm_get_stats(const gm *g, gm_stats *out)
{
    *out = g->stats;
}

static void on_stop_timeout(uv_timer_t *t)
{
    gm *g = t->data;
    if (g->stop_done) {
        void (*done)(void *) = g->stop_done;
        g->stop_done = NULL;
        log_warn("shutdown: %u requests still in flight, not waiting any longer", g->inflight);
        done(g->stop_ud);
    }
}

void gm_shutdown(gm *g, int64_t timeout_ms, void (*done)(void *ud), void *ud)
{
    g->stopping = 1;
    g->stop_done = done;
    g->stop_ud = ud;
    uv_timer_stop(&g->tick);
    uv_timer_start(&g->stop_timer, on_stop_timeout, (uint64_t)timeout_ms, 0);
    maybe_stopped(g);
}

static void on_timer_closed(uv_handle_t *h)
{
    gm *g = h->data;
    if (--g->closing_handles == 0)
        free(g);
}

void gm_free(gm *g)
{
    g->detached = 1;
    gm_room *r, *tmp;
    HASH_ITER(hh, g->rooms, r, tmp) {
        gm_member *m, *mt;
        DL_FOREACH_SAFE(r->members, m, mt) {
            DL_DELETE(r->members, m);
            free(m);
        }
        HASH_DEL(g->rooms, r);
        free(r);
    }
    g->closing_handles = 2;
    uv_close((uv_handle_t *)&g->tick, on_timer_closed);
    uv_close((uv_handle_t *)&g->stop_timer, on_timer_closed);
}
