/* store.c -- picks a store backend and dispatches to it (see store.h), the
 * way ae.c includes one of ae_epoll.c / ae_select.c, and keeps what both
 * backends need alike: the index policy (store_index_of), the ring of
 * answers owed while out of memory, and packed records for the caches that
 * hold many (store_packed). */
#include "store.h"
#include "store_codec.h"

#include <stdlib.h>
#include <string.h>

const char *store_err_name(int err)
{
    switch (err) {
    case STORE_OK: return "ok";
    case STORE_ENOTFOUND: return "not found";
    case STORE_ECONFLICT: return "version conflict";
    case STORE_EUNAVAIL: return "store unavailable";
    case STORE_ENOMEM: return "out of memory";
    case STORE_EINVAL: return "invalid argument";
    case STORE_ECLOSED: return "store closed";
    case STORE_EUNKNOWN: return "outcome unknown";
    default: return "unknown store error";
    }
}

store *store_open(uv_loop_t *loop, const store_options *opts, const store_events *ev,
                  char *err, size_t errlen)
{
    const store_backend *be = (opts->redis_url && *opts->redis_url)
                                  ? &store_redis_backend : &store_memory_backend;
    store *s = be->open(loop, opts, ev, err, errlen);
    if (s)
        s->be = be;
    return s;
}

void store_close(store *s, void (*done)(void *ud), void *ud) { s->be->close(s, done, ud); }
const char *store_backend_name(const store *s) { return s->be->name; }
int store_is_up(const store *s) { return s->be->is_up(s); }
uint32_t store_instance(const store *s) { return s->be->instance(s); }
double store_latency_ms(const store *s) { return s->be->latency_ms(s); }
void store_get_stats(const store *s, store_stats *out)
{
    if (s->be->stats)
        s->be->stats(s, out);
    else
        memset(out, 0, sizeof(*out));
}
uint64_t store_lost_count(const store *s) { return s->be->lost_count ? s->be->lost_count(s) : 0; }

void store_game_create(store *s, const store_game *g, store_game_cb *cb, void *ud)
{
    s->be->create(s, g, cb, ud);
}

void store_game_load(store *s, int64_t id, store_game_cb *cb, void *ud)
{
    s->be->load(s, id, cb, ud);
}

void store_game_save(store *s, const store_game *g, store_game_cb *cb, void *ud)
{
    s->be->save(s, g, cb, ud);
}

void store_game_quick(store *s, const store_game *tmpl, store_game_cb *cb, void *ud)
{
    s->be->quick(s, tmpl, cb, ud);
}

void store_open_list(store *s, size_t max, store_list_cb *cb, void *ud)
{
    s->be->open_list(s, max, cb, ud);
}

void store_claim_due(store *s, int64_t now_ms, int64_t lease_ms, size_t max,
                     store_ids_cb *cb, void *ud)
{
    s->be->claim_due(s, now_ms, lease_ms, max, cb, ud);
}

void store_deadline_reset(store *s, const store_game *g, store_done_cb *cb, void *ud)
{
    s->be->deadline_reset(s, g, cb, ud);
}

void store_subscribe(store *s, int64_t id, store_done_cb *cb, void *ud)
{
    s->be->subscribe(s, id, cb, ud);
}

void store_unsubscribe(store *s, int64_t id) { s->be->unsubscribe(s, id); }

/* ---- the index policy (store.h) ---- */

/* Add inst to out's holders unless it is 0 (no instance) or there already:
 * one process holding both seats (or a seat twice) is one set entry. */
static void holder_add(store_index *out, uint32_t inst)
{
    if (inst == 0 || out->nholders >= 2 * STORE_MAX_HOLDERS)
        return;
    for (unsigned i = 0; i < out->nholders; i++)
        if (out->holders[i] == inst)
            return;
    out->holders[out->nholders++] = inst;
}

void store_index_of(const store_game *g, store_index *out)
{
    memset(out, 0, sizeof(*out));
    int waiting = g->st.status == GAME_WAITING;
    out->open = waiting && g->kind == STORE_KIND_CREATE && store_creator_present(g);
    out->quick = waiting && g->kind == STORE_KIND_QUICK;
    out->finished = g->st.status == GAME_OVER;
    /* "0 if none" (store_game); a negative time is none too, rather than a
     * deadline due since 1970 */
    out->deadline_ms = g->deadline_ms > 0 ? g->deadline_ms : 0;
    if (out->finished)
        return;
    for (int i = 0; i < 2; i++) {
        /* a count past the array is a record from a confused writer: read
         * what the array holds, never beyond */
        int nh = g->seat[i].nholders > STORE_MAX_HOLDERS ? STORE_MAX_HOLDERS : g->seat[i].nholders;
        for (int k = 0; k < nh; k++)
            holder_add(out, g->seat[i].holders[k]);
    }
}

/* ---- answers owed (store.h) ---- */

int store_owed_push(store_owed *o, int kind, store_cb cb, void *ud)
{
    if (o->n == STORE_OWED_MAX)
        return -1;
    o->v[o->n].kind = (uint8_t)kind;
    o->v[o->n].cb = cb;
    o->v[o->n].ud = ud;
    o->n++;
    return 0;
}

void store_owed_flush(store_owed *o, int status)
{
    /* a copy, so that a callback that calls the store again (and fails
     * again) queues for the next turn instead of into this loop */
    unsigned n = o->n;
    store_owed now;
    memcpy(now.v, o->v, n * sizeof(o->v[0]));
    o->n = 0;
    for (unsigned i = 0; i < n; i++) {
        store_cb cb = now.v[i].cb;
        void *ud = now.v[i].ud;
        switch (now.v[i].kind) {
        case STORE_CB_GAME:
            if (cb.game)
                cb.game(ud, status, NULL);
            break;
        case STORE_CB_LIST:
            if (cb.list)
                cb.list(ud, status, NULL, 0);
            break;
        case STORE_CB_IDS:
            if (cb.ids)
                cb.ids(ud, status, NULL, 0);
            break;
        default:
            if (cb.done)
                cb.done(ud, status);
            break;
        }
    }
}

/* ---- packed records ---------------------------------------------------------------- */

_Static_assert(REC_MAX <= STORE_PACK_MAX, "a packed record fits STORE_PACK_MAX");

/* room for nine more 4-byte move times and then some */
#define PACK_SLACK 48

int store_packed_set(store_packed *b, const store_game *g)
{
    uint8_t buf[STORE_PACK_MAX];
    size_t n = rec_encode(g, g->id, g->version, g->kind, buf);
    if (n > b->cap) {
        size_t cap = n + PACK_SLACK < STORE_PACK_MAX ? n + PACK_SLACK : STORE_PACK_MAX;
        uint8_t *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = (uint16_t)cap;
    }
    memcpy(b->p, buf, n);
    b->len = (uint16_t)n;
    return 0;
}

int store_packed_get(const store_packed *b, store_game *g)
{
    return b->p && rec_decode(b->p, b->len, g) == 0 ? 0 : -1;
}

void store_packed_free(store_packed *b)
{
    free(b->p);
    *b = (store_packed){0};
}
