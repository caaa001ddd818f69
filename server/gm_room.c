/* gm_room.c -- connections, members, rooms, subscriptions and fan-out (see
 * gm_room.h).
 *
 * A room is subscribed to its game's published saves and keeps the newest
 * record seen. Every record we learn of (a save's reply, a load, a publish)
 * goes through gm_room_advance(), which fans a new version out to the
 * members encoded once; a member remembers the last version it was sent,
 * so a state that reaches us twice or out of order goes out once, in
 * order. */
#include "gm_room.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "gm_op.h"
#include "log.h"

/* ---- sending -------------------------------------------------------------------- */

void gm_send(gm *g, gm_conn *c, msg *m)
{
    if (c && c->ud && m)
        g->io.send(g->io.ud, c->ud, m);
}

void gm_close_conn(gm *g, gm_conn *c)
{
    if (c && c->ud && g->io.close)
        g->io.close(g->io.ud, c->ud);
}

void gm_send_block(gm *g, gm_conn *c, char *block, const size_t *len)
{
    msg *m = msg_wrap(block, len);
    gm_send(g, c, m);
    msg_unref(m);
}

void gm_reply_error(gm *g, gm_conn *c, const proto_id *id, proto_err e, const char *text)
{
    g->stats.errors[e]++;
    if (!c || !c->ud)
        return;
    size_t len = 0;
    gm_send_block(g, c, proto_encode_error(id, e, text, MSG_HEADROOM, &len), &len);
}

_Static_assert(PROTO_STATE_MAX <= MSG_SMALL, "a state must fit a reused msg block");

/* Into a msg_new() block, which is reused: a move allocates nothing here. */
msg *gm_state_msg(const store_game *r)
{
    proto_state ps = {r->id, &r->st, {gm_seat_view(r, 0), gm_seat_view(r, 1)}};
    proto_state_more more = {{gm_name_view(r, 0), gm_name_view(r, 1)}, {0}, r->times};
    gm_series_of(r, more.series);
    msg *m = msg_new(PROTO_STATE_MAX);
    if (!m)
        return NULL;
    size_t len = proto_encode_state_to(&ps, &more, (char *)msg_data(m), PROTO_STATE_MAX);
    if (len == 0) {
        msg_unref(m);
        return NULL;
    }
    m->len = (uint32_t)len;
    return m;
}

/* ---- connections and members ------------------------------------------------------ */

void gm_conn_release(gm_conn *c)
{
    if (c && --c->refs == 0)
        free(c);
}

void gm_conn_count(gm_conn *c, uint8_t which)
{
    if (c && which == GM_COUNT_WATCH)
        c->pend_watch++;
    else if (c && which == GM_COUNT_WAIT)
        c->pend_wait++;
}

void gm_conn_uncount(gm_conn *c, uint8_t which)
{
    if (c && which == GM_COUNT_WATCH)
        c->pend_watch--;
    else if (c && which == GM_COUNT_WAIT)
        c->pend_wait--;
}

gm_member *gm_member_find(gm_conn *c, gm_room *r)
{
    for (gm_member *m = c->members; m; m = m->conn_next)
        if (m->room == r)
            return m;
    return NULL;
}

gm_member *gm_member_seat(gm_conn *c, int64_t game_id)
{
    for (gm_member *m = c->members; m; m = m->conn_next)
        if (m->room->id == game_id && m->role != GM_ROLE_WATCH)
            return m;
    return NULL;
}

void gm_member_remove(gm *g, gm_member *m, gm_member *prev)
{
    gm_room *r = m->room;
    if (prev)
        prev->conn_next = m->conn_next;
    else
        m->conn->members = m->conn_next;
    DL_DELETE(r->members, m);
    g->stats.members--;
    if (m->role != GM_ROLE_WATCH && --r->nlocal[m->role - 1] == 0 && !r->gone &&
        (!r->have_rec || r->rec_status != GAME_OVER))
        gm_start_leave(g, r, m->role);
    free(m);
    gm_room_release(g, r);
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
        if (m->room->have_rec && m->room->rec_status == GAME_OVER &&
            ++finished > GM_KEEP_FINISHED) {
            gm_member_remove(g, m, prev);
        } else {
            prev = m;
        }
        m = next;
    }
}

gm_member *gm_member_add(gm *g, gm_conn *c, gm_room *room, uint8_t role)
{
    if (!c || !c->ud) {
        if (role != GM_ROLE_WATCH && room->nlocal[role - 1] == 0)
            gm_start_leave(g, room, role);
        return NULL;
    }
    gm_member *m = gm_member_find(c, room);
    if (m) {
        if (m->role == GM_ROLE_WATCH && role != GM_ROLE_WATCH) {
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
    if (role != GM_ROLE_WATCH)
        room->nlocal[role - 1]++;
    g->stats.members++;
    member_prune(g, c);
    return m;
}

void gm_member_catch_up(gm *g, gm_member *m)
{
    gm_room *r = m->room;
    store_game cur;
    if (!r->have_rec || m->last_version >= r->rec_version || gm_room_rec(r, &cur) != 0)
        return;
    msg *s = gm_state_msg(&cur);
    gm_send(g, m->conn, s);
    msg_unref(s);
    m->last_version = cur.version;
    g->stats.states_sent++;
}

/* The newest records of the rooms that changed last, unpacked. Every op
 * starts from its room's record (gm_room_rec), and unpacking it was the
 * largest cost of a move in user space (rec_decode, 13% of the server's
 * instructions), packing it again for the room the next (rec_encode).
 * Slots are mapped by game id, which the store hands out in sequence, so
 * the games in play at once seldom share one. A room whose slot names it
 * has its newest record there, and its packed copy (gm_room.rec) may be
 * older: the record is packed into the room only when another room takes
 * the slot (hot_take) or never, when the room goes first. Idle rooms, the
 * many, stay packed. Static like the other block caches (gm_op.c, msg.c):
 * rooms of any manager of the process may use it. */
#define HOT_SLOTS 256
typedef struct hot_slot {
    gm_room *room;               /* NULL for none */
    store_game rec;              /* room's record, version room->rec_version */
} hot_slot;
static hot_slot hot[HOT_SLOTS];

static hot_slot *hot_of(const gm_room *r)
{
    return &hot[(uint64_t)r->id % HOT_SLOTS];
}

/* r's slot, for r's newest record: a room holding it before gets its own
 * packed. Out of memory, that room forgets its record, as room_keep does
 * (its next op loads it from the store). */
static hot_slot *hot_take(gm_room *r)
{
    hot_slot *h = hot_of(r);
    gm_room *o = h->room;
    if (o && o != r && o->have_rec && store_packed_set(&o->rec, &h->rec) != 0)
        o->have_rec = 0;
    h->room = r;
    return h;
}

/* r goes: its slot must not name it (another room may get its address) */
static void hot_forget(const gm_room *r)
{
    hot_slot *h = hot_of(r);
    if (h->room == r)
        h->room = NULL;
}

/* ---- rooms and subscriptions ------------------------------------------------------- */

gm_room *gm_room_find(gm *g, int64_t id)
{
    gm_room *r;
    HASH_FIND(hh, g->rooms, &id, sizeof(id), r);
    return r;
}

/* The store's callbacks carry the room; the manager is reached through this
 * small context so rooms need no back pointer. */
typedef struct room_ctx {
    gm *g;
    gm_room *room;
} room_ctx;

static room_ctx *room_ctx_new(gm *g, gm_room *r)
{
    room_ctx *rc = malloc(sizeof(*rc));
    if (!rc)
        return NULL;
    rc->g = g;
    rc->room = r;
    r->refs++;
    return rc;
}

static void on_sub_done(void *ud, int status)
{
    room_ctx *sc = ud;
    gm *g = sc->g;
    gm_room *r = sc->room;
    free(sc);
    r->sub = (status == STORE_OK) ? GM_SUB_ACTIVE : GM_SUB_NONE;
    if (status == STORE_OK) {
        /* run what waited, then catch up with saves made before we listened */
        gm_op_run_waiting(g, r, PROTO_OK);
        if (r->members)
            gm_room_reload(g, r);
    } else {
        log_warn("game %" PRId64 ": subscribe failed: %s", r->id, store_err_name(status));
        gm_op_run_waiting(g, r, PROTO_EUNAVAILABLE);
    }
    gm_room_release(g, r);
}

int gm_room_subscribe(gm *g, gm_room *r)
{
    room_ctx *sc = room_ctx_new(g, r);
    if (!sc)
        return -1;
    r->sub = GM_SUB_PENDING;
    store_subscribe(g->st, r->id, on_sub_done, sc);
    return 0;
}

gm_room *gm_room_get(gm *g, int64_t id, int subscribe)
{
    gm_room *r = gm_room_find(g, id);
    if (!r) {
        r = calloc(1, sizeof(*r));
        if (!r)
            return NULL;
        r->id = id;
        HASH_ADD(hh, g->rooms, id, sizeof(r->id), r);
        g->stats.rooms++;
    }
    if (subscribe && r->sub == GM_SUB_NONE && gm_room_subscribe(g, r) != 0)
        return NULL;
    return r;
}

static void ahead_drop(gm *g, gm_room *r)
{
    if (!r->have_ahead)
        return;
    store_packed_free(&r->ahead);
    r->have_ahead = 0;
    g->rooms_ahead--;
}

gm_room *gm_room_adopt(gm *g, int64_t id)
{
    gm_room *r = gm_room_get(g, id, 0);
    if (!r) {
        store_unsubscribe(g->st, id);
        return NULL;
    }
    if (r->sub == GM_SUB_NONE)
        r->sub = GM_SUB_ACTIVE;
    return r;
}

void gm_room_release(gm *g, gm_room *r)
{
    if (!r || --r->refs > 0 || r->members || r->waiting)
        return;
    if (r->sub == GM_SUB_ACTIVE && !g->detached)
        store_unsubscribe(g->st, r->id);
    HASH_DEL(g->rooms, r);
    g->stats.rooms--;
    ahead_drop(g, r);
    hot_forget(r);
    store_packed_free(&r->rec);
    free(r);
}

/* ---- fan-out ----------------------------------------------------------------------- */

/* A new rematch ask (prev: the asks before rec): only the opponent hears
 * of it. */
static void send_rematch_offers(gm *g, gm_room *r, const uint8_t prev[2], const store_game *rec)
{
    gm_member *m;
    for (int i = 0; i < 2; i++) {
        if (!rec->rematch[i] || prev[i])
            continue;
        size_t len = 0;
        msg *o = msg_wrap(proto_encode_rematch_offer(rec->id, MSG_HEADROOM, &len), &len);
        DL_FOREACH(r->members, m) if (m->role == (uint8_t)game_mark_other((game_mark)(i + 1)))
            gm_send(g, m->conn, o);
        msg_unref(o);
    }
    DL_FOREACH(r->members, m) m->last_version = rec->version;
}

/* One state frame, encoded once, to every member that has not had it. */
static void send_states(gm *g, gm_room *r, const store_game *rec)
{
    msg *s = NULL;
    gm_member *m;
    DL_FOREACH(r->members, m) {
        if (m->last_version >= rec->version)
            continue;
        if (!s && !(s = gm_state_msg(rec)))
            break;
        gm_send(g, m->conn, s);
        m->last_version = rec->version;
        g->stats.states_sent++;
    }
    msg_unref(s);
}

/* the record the members were last sent (not the one held ahead) */
static int room_fanned(const gm_room *r, store_game *out)
{
    if (!r->have_rec)
        return -1;
    const hot_slot *h = hot_of(r);
    if (h->room == r) {
        *out = h->rec;
        return 0;
    }
    if (store_packed_get(&r->rec, out) == 0)
        return 0;
    log_error("game %" PRId64 ": the room's record does not unpack", r->id);
    return -1;
}

int gm_room_rec(const gm_room *r, store_game *out)
{
    if (r->have_ahead && store_packed_get(&r->ahead, out) == 0)
        return 0;
    return room_fanned(r, out);
}

static void view_of(const store_game *rec, gm_room_view *v)
{
    *v = (gm_room_view){.rematch_id = rec->rematch_id,
                        .board = {rec->st.board.x, rec->st.board.o},
                        .ply = rec->st.ply, .result = rec->st.result, .winner = rec->st.winner,
                        .seat = {gm_seat_view(rec, 0), gm_seat_view(rec, 1)},
                        .rematch = {rec->rematch[0], rec->rematch[1]}};
}

/* gm_rematch_only(the record the members were sent, rec), on the room's
 * view: a move changes the board, so it is told apart without unpacking.
 * Only a record that changes the rematch fields and nothing the view shows
 * is unpacked, to compare the names too. */
static int room_rematch_only(const gm_room *r, const store_game *rec)
{
    const gm_room_view *v = &r->view;
    gm_room_view n;
    store_game prev;
    view_of(rec, &n);
    if (v->rematch_id == n.rematch_id && v->rematch[0] == n.rematch[0] &&
        v->rematch[1] == n.rematch[1])
        return 0;
    if (r->rec_status != rec->st.status || v->board[0] != n.board[0] ||
        v->board[1] != n.board[1] || v->ply != n.ply || v->result != n.result ||
        v->winner != n.winner || v->seat[0] != n.seat[0] || v->seat[1] != n.seat[1])
        return 0;
    return room_fanned(r, &prev) == 0 && gm_rematch_only(&prev, rec);
}

/* Keep rec as the room's newest, in its hot slot (packed later, when the
 * slot changes hands). */
static void room_keep(gm_room *r, const store_game *rec)
{
    hot_take(r)->rec = *rec;
    r->rec_version = rec->version;
    r->rec_status = rec->st.status;
    view_of(rec, &r->view);
    r->have_rec = 1;
}

void gm_room_advance(gm *g, gm_room *r, const store_game *rec)
{
    if (r->have_ahead && rec->version >= r->ahead_version)
        ahead_drop(g, r);   /* caught up */
    if (r->have_rec && rec->version <= r->rec_version)
        return;
    /* what the members were sent, before rec replaces it */
    int had = r->have_rec, rematch_only = had && room_rematch_only(r, rec);
    gm_room_view prev = r->view;
    room_keep(r, rec);

    /* rematch bookkeeping changes nothing a state shows: no state for it.
     * A save that changes nothing at all (a resume by a player already
     * present) still is "one new state", as the contract says. */
    if (rematch_only)
        send_rematch_offers(g, r, prev.rematch, rec);
    else
        send_states(g, r, rec);
    /* a rematch was created: each local player takes its seat in the new game */
    if (had && !prev.rematch_id && rec->rematch_id) {
        gm_member *m;
        DL_FOREACH(r->members, m) if (m->role != GM_ROLE_WATCH)
            gm_start_claim(g, m->conn, rec->rematch_id,
                           (uint8_t)game_mark_other((game_mark)m->role));
    }
}

void gm_room_advance_reply(gm *g, gm_room *r, const store_game *rec)
{
    /* Redis answered our command after it had published the saves before
     * it, but those travel on the subscriber's connection and may not have
     * been read yet. A room not listening gets no such saves: no waiting. */
    if (r->sub != GM_SUB_ACTIVE || !r->have_rec || rec->version <= r->rec_version + 1) {
        gm_room_advance(g, r, rec);
        return;
    }
    if (r->have_ahead && rec->version <= r->ahead_version)
        return;
    if (store_packed_set(&r->ahead, rec) != 0) {
        gm_room_advance(g, r, rec);   /* out of memory: a gap rather than a stall */
        return;
    }
    if (!r->have_ahead) {
        r->have_ahead = 1;
        r->ahead_since = gm_now(g);
        g->rooms_ahead++;
    }
    r->ahead_version = rec->version;
}

void gm_rooms_ahead_tick(gm *g)
{
    if (!g->rooms_ahead)
        return;
    int64_t now = gm_now(g);
    gm_room *r, *tmp;
    HASH_ITER(hh, g->rooms, r, tmp) {
        store_game rec;
        if (!r->have_ahead || now - r->ahead_since < GM_AHEAD_MAX_MS)
            continue;
        log_warn("game %" PRId64 ": saves %" PRIu64 "..%" PRIu64 " never came through the "
                 "subscription: its players skip to the newest", r->id, r->rec_version + 1,
                 r->ahead_version - 1);
        if (store_packed_get(&r->ahead, &rec) == 0)
            gm_room_advance(g, r, &rec);
        ahead_drop(g, r);
    }
}

static void on_reloaded(void *ud, int status, const store_game *rec)
{
    room_ctx *rc = ud;
    if (status == STORE_OK)
        gm_room_advance(rc->g, rc->room, rec);
    gm_room_release(rc->g, rc->room);
    free(rc);
}

void gm_room_reload(gm *g, gm_room *r)
{
    room_ctx *rc = room_ctx_new(g, r);
    if (rc)
        store_game_load(g->st, r->id, on_reloaded, rc);
}

void gm_rooms_store_up(gm *g)
{
    gm_room *r, *tmp;
    HASH_ITER(hh, g->rooms, r, tmp) {
        if (r->sub == GM_SUB_NONE && (r->members || r->waiting))
            gm_room_subscribe(g, r);
        else if (r->sub == GM_SUB_ACTIVE && r->members)
            gm_room_reload(g, r);
        for (uint8_t mark = GAME_X; mark <= GAME_O; mark++)
            if (r->nlocal[mark - 1])
                gm_start_present(g, r, mark);
    }
}

/* Ops in flight on a lost room find the game gone in the store and answer
 * the same. */
void gm_rooms_lost(gm *g)
{
    gm_room *r, *tmp;
    HASH_ITER(hh, g->rooms, r, tmp) {
        r->refs++;   /* held while its members go */
        r->gone = 1;
        r->have_rec = 0;
        ahead_drop(g, r);
        while (r->members) {
            gm_member *m = r->members, *prev = NULL;
            for (gm_member *p = m->conn->members; p && p != m; p = p->conn_next)
                prev = p;
            char text[96];
            snprintf(text, sizeof text, "game %" PRId64 " is gone: the store lost its data",
                     r->id);
            gm_reply_error(g, m->conn, NULL, PROTO_ENO_SUCH_GAME, text);
            gm_member_remove(g, m, prev);
        }
        gm_room_release(g, r);
    }
}

void gm_rooms_free(gm *g)
{
    gm_room *r, *tmp;
    HASH_ITER(hh, g->rooms, r, tmp) {
        gm_member *m, *mt;
        DL_FOREACH_SAFE(r->members, m, mt) {
            DL_DELETE(r->members, m);
            free(m);
        }
        HASH_DEL(g->rooms, r);
        ahead_drop(g, r);
        hot_forget(r);
        store_packed_free(&r->rec);
        free(r);
    }
}
