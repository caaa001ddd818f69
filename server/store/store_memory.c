/* store_memory.c -- the in-process store backend: games in a hash table,
 * for a single server process (the default, and the reference semantics of
 * store.h for the Redis backend).
 *
 * Completions are deferred to the next loop turn through a uv_idle handle,
 * never run inside the call: the manager then walks exactly the code paths
 * it walks with Redis, where every answer arrives later. Deadlines and
 * expiries sit in two binary min-heaps with lazy deletion: an entry is live
 * only while it matches the game's current value, so re-scheduling is a push
 * and never a search. What each index should hold is store_index_of()'s
 * (store.c), the same policy the Redis backend writes as its signature. */
#include "store.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* uthash exits the process when it cannot allocate; ask it to report
 * instead, so an add that fails becomes STORE_ENOMEM and nothing else */
#define HASH_NONFATAL_OOM 1
static int mem_hash_oom;
#define uthash_nonfatal_oom(obj) do { (void)(obj); mem_hash_oom = 1; } while (0)
#include <uthash.h>
#include <utlist.h>
#include <uv.h>

#include "log.h"
#include "store_heap.h"
#include "wall_ms.h"

#define FIRST_GAME_ID 100
#define SWEEP_MS 10000   /* expiry sweep period: memory is returned within 10 s of a TTL */

typedef struct mem_game {
    int64_t id;
    uint64_t version;            /* the record's, for the compare of a save */
    int64_t created_ms;
    /* The record packed (store_packed): about 250 bytes for a waiting game,
     * where a store_game is 660; idle memory is what one process can hold.
     * Unpacked for each load, repacked for each save (well under a
     * microsecond each). */
    store_packed rec;
    int64_t idx_deadline;        /* the deadline index' score (a claim's lease end), 0 none */
    /* the record's store_index deadline and quick bit as last indexed: what a
     * save compares with, as Redis compares signatures (store.h) */
    int64_t deadline;
    int64_t expire_at;           /* ms, 0 = keep */
    uint8_t listed;              /* on open_list (1) or quick queue (2), 0 neither */
    uint8_t quick;
    struct mem_game *prev, *next;/* open list / quick queue links */
    UT_hash_handle hh;
} mem_game;

typedef struct mem_sub {
    int64_t id;
    UT_hash_handle hh;
} mem_sub;

enum { OP_GAME, OP_LIST, OP_IDS, OP_DONE, OP_PUBLISH };

typedef store_cb mem_cb;

typedef struct mem_op {
    struct mem_op *next;
    int kind;
    int status;
    mem_cb cb;
    void *ud;
    void *arr;                   /* OP_LIST / OP_IDS results, freed after the call */
    size_t n;
    store_game g;
} mem_op;

typedef struct mem_store {
    store base;                  /* must stay first: store.c dispatches through it */
    uv_loop_t *loop;
    store_events ev;
    int64_t finished_ttl_ms;
    int64_t next_id;
    mem_game *games;
    mem_game *open_head, *quick_head;
    mem_sub *subs;
    heap deadlines, expiries;
    mem_op *q_head, *q_tail;
    mem_op *spare;               /* run ops kept for reuse (op_new), at most OP_SPARE_MAX */
    unsigned nspare;
    store_owed owed;             /* answered ENOMEM at the next idle turn */
    uv_idle_t idle;
    uv_timer_t sweep;
    int closing, handles_closing, handles_open;
    void (*done)(void *ud);
    void *done_ud;
} mem_store;

static int64_t now_ms(mem_store *m)
{
    (void)m;
    /* wall clock: deadlines are absolute times that the Redis backend shares
     * between processes, and the memory backend keeps the same meaning */
    return wall_ms();
}

/* ---- deferred completions ---------------------------------------------------- */

static void on_idle(uv_idle_t *h);

/* A save queues two ops, its reply and its publish, and each carries a
 * record (about 700 bytes in all): run ops are kept on a list for the next
 * ones instead of going back to malloc, so that a move allocates nothing
 * here (issue 11). A few dozen cover the ops of one loop turn. */
#define OP_SPARE_MAX 32

static mem_op *op_new(mem_store *m, int kind, void *ud)
{
    mem_op *op = m->spare;
    if (op) {
        m->spare = op->next;
        m->nspare--;
        memset(op, 0, offsetof(mem_op, g));   /* g is written before it is read */
    } else if (!(op = calloc(1, sizeof(*op)))) {
        return NULL;
    }
    op->kind = kind;
    op->ud = ud;
    if (m->q_tail)
        m->q_tail->next = op;
    else
        m->q_head = op;
    m->q_tail = op;
    if (!m->handles_closing)
        uv_idle_start(&m->idle, on_idle);   /* a no-op when already started */
    return op;
}

/* The op itself could not be allocated: the caller is still owed its one
 * answer, later, like every answer (store.h, store_owed). */
static void fail_push(mem_store *m, int kind, mem_cb cb, void *ud)
{
    static const int cb_kind[] = {[OP_GAME] = STORE_CB_GAME, [OP_LIST] = STORE_CB_LIST,
                                  [OP_IDS] = STORE_CB_IDS, [OP_DONE] = STORE_CB_DONE};
    if (store_owed_push(&m->owed, cb_kind[kind], cb, ud) != 0)
        abort();
    if (!m->handles_closing)
        uv_idle_start(&m->idle, on_idle);
}

static void run_op(mem_store *m, mem_op *op)
{
    if (m->closing && op->kind != OP_PUBLISH)
        op->status = STORE_ECLOSED;   /* also for calls made after store_close */
    switch (op->kind) {
    case OP_GAME:
        op->cb.game(op->ud, op->status, op->status == STORE_OK || op->status == STORE_ECONFLICT
                                            ? &op->g : NULL);
        break;
    case OP_LIST:
        op->cb.list(op->ud, op->status, op->arr, op->n);
        break;
    case OP_IDS:
        op->cb.ids(op->ud, op->status, op->arr, op->n);
        break;
    case OP_DONE:
        if (op->cb.done)
            op->cb.done(op->ud, op->status);
        break;
    case OP_PUBLISH:
        if (!m->closing && m->ev.published)
            m->ev.published(m->ev.ud, &op->g);
        break;
    default:
        abort();
    }
    free(op->arr);
    if (m->nspare < OP_SPARE_MAX) {
        op->next = m->spare;
        m->spare = op;
        m->nspare++;
    } else {
        free(op);
    }
}

/* Run what was queued before this turn began; work queued by the callbacks
 * themselves waits for the next turn, as a network reply would. */
static void flush(mem_store *m)
{
    mem_op *op = m->q_head;
    mem_op *end = m->q_tail;
    m->q_head = m->q_tail = NULL;
    while (op) {
        mem_op *next = op->next;
        int last = (op == end);
        run_op(m, op);
        if (last)
            break;
        op = next;
    }
}

static void on_handle_closed(uv_handle_t *h);

static void on_idle(uv_idle_t *h)
{
    mem_store *m = h->data;
    store_owed_flush(&m->owed, m->closing ? STORE_ECLOSED : STORE_ENOMEM);
    flush(m);
    if (m->q_head || m->owed.n)
        return;
    uv_idle_stop(&m->idle);
    if (m->closing && !m->handles_closing) {
        m->handles_closing = 1;
        uv_close((uv_handle_t *)&m->idle, on_handle_closed);
        uv_close((uv_handle_t *)&m->sweep, on_handle_closed);
    }
}

static void game_reply(mem_store *m, store_game_cb *cb, void *ud, int status, const store_game *g)
{
    mem_op *op = op_new(m, OP_GAME, ud);
    if (!op) {
        fail_push(m, OP_GAME, (mem_cb){.game = cb}, ud);
        return;
    }
    op->cb.game = cb;
    op->status = status;
    if (g)
        op->g = *g;
}

static void publish(mem_store *m, const store_game *g)
{
    mem_sub *sub;
    HASH_FIND(hh, m->subs, &g->id, sizeof(g->id), sub);
    if (!sub)
        return;
    /* out of memory the event is lost; in this one process the saver's own
     * answer carries the same record to the manager's room */
    mem_op *op = op_new(m, OP_PUBLISH, NULL);
    if (op)
        op->g = *g;
}

/* ---- indexes: open list, quick queue, deadlines, expiry ----------------------- */

static void unlist(mem_store *m, mem_game *mg)
{
    if (mg->listed == 1)
        DL_DELETE(m->open_head, mg);
    else if (mg->listed == 2)
        DL_DELETE(m->quick_head, mg);
    mg->listed = 0;
}

/* on the open list by id (= age), as Redis' ZSET scored by id keeps it: a
 * game whose creator comes back returns to its place */
static void open_insert(mem_store *m, mem_game *mg)
{
    mem_game *at;
    DL_FOREACH(m->open_head, at) if (at->id > mg->id) break;
    if (at)
        DL_PREPEND_ELEM(m->open_head, at, mg);
    else
        DL_APPEND(m->open_head, mg);
    mg->listed = 1;
}

/* Whether the two heaps have room for what reindex() may push. */
static int reindex_reserve(mem_store *m)
{
    return heap_reserve(&m->deadlines) == 0 && heap_reserve(&m->expiries) == 0 ? 0 : -1;
}

/* Bring every index in step with g, mg's record: the one atomic step of a
 * save. Each entry follows its part of store_index_of(g) when that part
 * changed (store.h). Allocates nothing once reindex_reserve() succeeded. */
static void reindex(mem_store *m, mem_game *mg, const store_game *g)
{
    store_index ix;
    store_index_of(g, &ix);
    /* nothing but a save takes a game off the open list: being on it is the
     * bit of the record before */
    if (ix.open && !mg->listed)
        open_insert(m, mg);
    else if (!ix.open && mg->listed == 1)
        unlist(m, mg);
    if (!ix.quick && mg->listed == 2)
        unlist(m, mg);
    else if (ix.quick && !mg->quick && !mg->listed) {
        DL_APPEND(m->quick_head, mg);
        mg->listed = 2;
    }
    mg->quick = ix.quick;
    if (ix.deadline_ms != mg->deadline) {
        mg->deadline = mg->idx_deadline = ix.deadline_ms;
        if (ix.deadline_ms)
            heap_push(&m->deadlines, ix.deadline_ms, g->id);
    }
    /* readable finished_ttl_ms after its last save, as save.lua's PEXPIRE
     * makes it on Redis; the older heap entry goes stale */
    mg->expire_at = ix.finished ? now_ms(m) + m->finished_ttl_ms : 0;
    if (mg->expire_at)
        heap_push(&m->expiries, mg->expire_at, g->id);
}

static void game_free(mem_store *m, mem_game *mg)
{
    unlist(m, mg);
    HASH_DEL(m->games, mg);
    store_packed_free(&mg->rec);
    free(mg);
}

/* Keep g as mg's record: -1 when out of memory, and mg unchanged. */
static int game_put(mem_game *mg, const store_game *g)
{
    if (store_packed_set(&mg->rec, g) != 0)
        return -1;
    mg->version = g->version;
    mg->created_ms = g->created_ms;
    return 0;
}

/* mg's record into g. It was packed here from a record the manager made, so
 * it unpacks; a failure is a bug of ours, reported as a missing game. */
static int game_get(const mem_game *mg, store_game *g)
{
    if (store_packed_get(&mg->rec, g) == 0)
        return 0;
    log_error("memory store: game %" PRId64 " does not unpack", mg->id);
    return -1;
}

static void on_sweep(uv_timer_t *t)
{
    mem_store *m = t->data;
    int64_t now = now_ms(m);
    while (m->expiries.n && m->expiries.v[0].when <= now) {
        heap_ent e = heap_pop(&m->expiries);
        mem_game *mg;
        HASH_FIND(hh, m->games, &e.id, sizeof(e.id), mg);
        if (mg && mg->expire_at == e.when)
            game_free(m, mg);
    }
}

/* ---- subscriptions: a set of ids ------------------------------------------------- */

static int sub_add(mem_store *m, int64_t id)
{
    mem_sub *sub;
    HASH_FIND(hh, m->subs, &id, sizeof(id), sub);
    if (sub)
        return 0;
    if (!(sub = calloc(1, sizeof(*sub))))
        return -1;
    sub->id = id;
    mem_hash_oom = 0;
    HASH_ADD(hh, m->subs, id, sizeof(sub->id), sub);
    if (mem_hash_oom) {
        free(sub);
        return -1;
    }
    return 0;
}

static void sub_del(mem_store *m, int64_t id)
{
    mem_sub *sub;
    HASH_FIND(hh, m->subs, &id, sizeof(id), sub);
    if (sub) {
        HASH_DEL(m->subs, sub);
        free(sub);
    }
}

/* ---- operations ----------------------------------------------------------------- */

/* A new game from g with the next id; its record in *out. The caller holds
 * its subscription, taken before the game exists, as store.h promises. */
static mem_game *game_insert(mem_store *m, const store_game *g, uint8_t kind, store_game *out)
{
    if (reindex_reserve(m) != 0)
        return NULL;
    mem_game *mg = calloc(1, sizeof(*mg));
    if (!mg)
        return NULL;
    *out = *g;
    out->id = mg->id = m->next_id;
    out->version = 1;
    out->kind = kind;
    if (game_put(mg, out) != 0) {
        free(mg);
        return NULL;
    }
    if (sub_add(m, mg->id) != 0) {
        store_packed_free(&mg->rec);
        free(mg);
        return NULL;
    }
    mem_hash_oom = 0;
    HASH_ADD(hh, m->games, id, sizeof(mg->id), mg);
    if (mem_hash_oom) {
        sub_del(m, mg->id);
        store_packed_free(&mg->rec);
        free(mg);
        return NULL;   /* the id is not consumed: ids stay consecutive */
    }
    m->next_id++;
    reindex(m, mg, out);
    return mg;
}

static void mem_create(store *s, const store_game *g, store_game_cb *cb, void *ud)
{
    mem_store *m = (mem_store *)s;
    store_game cur;
    mem_game *mg = game_insert(m, g, g->kind, &cur);
    if (!mg) {
        game_reply(m, cb, ud, STORE_ENOMEM, NULL);
        return;
    }
    game_reply(m, cb, ud, STORE_OK, &cur);
}

static void mem_load(store *s, int64_t id, store_game_cb *cb, void *ud)
{
    mem_store *m = (mem_store *)s;
    mem_game *mg;
    store_game cur;
    HASH_FIND(hh, m->games, &id, sizeof(id), mg);
    if (mg && game_get(mg, &cur) != 0)
        mg = NULL;
    game_reply(m, cb, ud, mg ? STORE_OK : STORE_ENOTFOUND, mg ? &cur : NULL);
}

static void mem_save(store *s, const store_game *g, store_game_cb *cb, void *ud)
{
    mem_store *m = (mem_store *)s;
    mem_game *mg;
    HASH_FIND(hh, m->games, &g->id, sizeof(g->id), mg);
    if (!mg) {
        game_reply(m, cb, ud, STORE_ENOTFOUND, NULL);
        return;
    }
    store_game cur;
    if (mg->version != g->version) {
        if (game_get(mg, &cur) != 0)
            game_reply(m, cb, ud, STORE_ENOTFOUND, NULL);
        else
            game_reply(m, cb, ud, STORE_ECONFLICT, &cur);
        return;
    }
    cur = *g;
    cur.version = g->version + 1;
    if (reindex_reserve(m) != 0 || game_put(mg, &cur) != 0) {
        game_reply(m, cb, ud, STORE_ENOMEM, NULL);   /* nothing changed */
        return;
    }
    reindex(m, mg, &cur);
    publish(m, &cur);
    game_reply(m, cb, ud, STORE_OK, &cur);
}

static void mem_quick(store *s, const store_game *tmpl, store_game_cb *cb, void *ud)
{
    mem_store *m = (mem_store *)s;
    mem_game *mg = m->quick_head;
    store_game cur;
    if (mg) {
        unlist(m, mg);   /* handed to this caller only */
        if (game_get(mg, &cur) != 0)
            game_reply(m, cb, ud, STORE_EUNAVAIL, NULL);
        else
            game_reply(m, cb, ud, STORE_OK, &cur);
        return;
    }
    mg = game_insert(m, tmpl, STORE_KIND_QUICK, &cur);
    game_reply(m, cb, ud, mg ? STORE_OK : STORE_ENOMEM, mg ? &cur : NULL);
}

static void mem_open_list(store *s, size_t max, store_list_cb *cb, void *ud)
{
    mem_store *m = (mem_store *)s;
    size_t n = 0;
    mem_game *mg;
    DL_FOREACH(m->open_head, mg) if (n < max) n++;
    store_open_game *arr = n ? calloc(n, sizeof(*arr)) : NULL;
    mem_op *op = op_new(m, OP_LIST, ud);
    if (!op) {
        free(arr);
        fail_push(m, OP_LIST, (mem_cb){.list = cb}, ud);
        return;
    }
    op->cb.list = cb;
    if (n && !arr) {
        op->status = STORE_ENOMEM;
        return;
    }
    size_t i = 0;
    DL_FOREACH(m->open_head, mg) {
        if (i == n)
            break;
        store_game cur;
        arr[i] = (store_open_game){mg->id, mg->created_ms, ""};
        if (game_get(mg, &cur) == 0)   /* the creator's name */
            memcpy(arr[i].name, cur.name[0], sizeof(arr[0].name));
        i++;
    }
    op->arr = arr;
    op->n = n;
}

static void mem_claim_due(store *s, int64_t now, int64_t lease_ms, size_t max,
                          store_ids_cb *cb, void *ud)
{
    mem_store *m = (mem_store *)s;
    int64_t *ids = max ? calloc(max, sizeof(*ids)) : NULL;
    size_t n = 0;
    mem_op *op = op_new(m, OP_IDS, ud);
    if (!op) {
        free(ids);
        fail_push(m, OP_IDS, (mem_cb){.ids = cb}, ud);
        return;
    }
    op->cb.ids = cb;
    if (max && !ids) {
        op->status = STORE_ENOMEM;
        return;
    }
    while (n < max && m->deadlines.n && m->deadlines.v[0].when <= now) {
        heap_ent e = heap_pop(&m->deadlines);
        mem_game *mg;
        HASH_FIND(hh, m->games, &e.id, sizeof(e.id), mg);
        if (!mg || mg->idx_deadline != e.when)
            continue;   /* stale entry: the game was re-scheduled or is gone */
        ids[n++] = e.id;
        mg->idx_deadline = now + lease_ms;
        heap_push(&m->deadlines, mg->idx_deadline, e.id);
    }
    op->arr = ids;
    op->n = n;
}

static void done_reply(mem_store *m, store_done_cb *cb, void *ud, int status)
{
    mem_op *op = op_new(m, OP_DONE, ud);
    if (op) {
        op->cb.done = cb;
        op->status = status;
    } else {
        fail_push(m, OP_DONE, (mem_cb){.done = cb}, ud);
    }
}

static void mem_deadline_reset(store *s, const store_game *g, store_done_cb *cb, void *ud)
{
    mem_store *m = (mem_store *)s;
    mem_game *mg;
    HASH_FIND(hh, m->games, &g->id, sizeof(g->id), mg);
    if (mg && mg->version == g->version && heap_reserve(&m->deadlines) != 0) {
        done_reply(m, cb, ud, STORE_ENOMEM);
        return;
    }
    if (mg && mg->version == g->version) {
        /* the entry only, as on Redis: the record (what a save compares
         * with) is unchanged */
        store_index ix;
        store_index_of(g, &ix);
        mg->idx_deadline = ix.deadline_ms;
        if (ix.deadline_ms)
            heap_push(&m->deadlines, ix.deadline_ms, g->id);
    }
    done_reply(m, cb, ud, mg ? STORE_OK : STORE_ENOTFOUND);
}

static void mem_subscribe(store *s, int64_t id, store_done_cb *cb, void *ud)
{
    mem_store *m = (mem_store *)s;
    done_reply(m, cb, ud, sub_add(m, id) == 0 ? STORE_OK : STORE_ENOMEM);
}

static void mem_unsubscribe(store *s, int64_t id)
{
    sub_del((mem_store *)s, id);
}

static int mem_is_up(const store *s) { return !((const mem_store *)s)->closing; }
static uint32_t mem_instance(const store *s) { (void)s; return 1; }
static double mem_latency_ms(const store *s) { (void)s; return 0.0; }
static uint64_t mem_lost_count(const store *s) { (void)s; return 0; }

/* ---- lifecycle ---------------------------------------------------------------- */

static store *mem_open(uv_loop_t *loop, const store_options *opts, const store_events *ev,
                       char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    mem_store *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->loop = loop;
    if (ev)
        m->ev = *ev;
    m->finished_ttl_ms = opts && opts->finished_ttl_ms ? opts->finished_ttl_ms : 24LL * 3600 * 1000;
    m->next_id = FIRST_GAME_ID;
    uv_idle_init(loop, &m->idle);
    m->idle.data = m;
    uv_timer_init(loop, &m->sweep);
    m->sweep.data = m;
    uv_timer_start(&m->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    uv_unref((uv_handle_t *)&m->sweep);   /* housekeeping must not keep the loop alive */
    m->handles_open = 2;
    return &m->base;
}

static void on_handle_closed(uv_handle_t *h)
{
    mem_store *m = h->data;
    if (--m->handles_open > 0)
        return;
    mem_game *mg, *tmp;
    HASH_ITER(hh, m->games, mg, tmp) game_free(m, mg);
    mem_sub *sub, *stmp;
    HASH_ITER(hh, m->subs, sub, stmp) {
        HASH_DEL(m->subs, sub);
        free(sub);
    }
    mem_op *op, *otmp;
    LL_FOREACH_SAFE(m->spare, op, otmp) free(op);
    heap_free(&m->deadlines);
    heap_free(&m->expiries);
    void (*done)(void *) = m->done;
    void *ud = m->done_ud;
    free(m);
    if (done)
        done(ud);
}

static void mem_close(store *s, void (*done)(void *ud), void *ud)
{
    mem_store *m = (mem_store *)s;
    if (m->closing)
        return;
    m->closing = 1;
    m->done = done;
    m->done_ud = ud;
    /* what is queued, and what callers still ask before done(), completes on
     * the next turns as ECLOSED; the handles close once the queue is empty */
    uv_idle_start(&m->idle, on_idle);
}

const store_backend store_memory_backend = {
    .name = "memory",
    .open = mem_open,
    .close = mem_close,
    .is_up = mem_is_up,
    .instance = mem_instance,
    .latency_ms = mem_latency_ms,
    .create = mem_create,
    .load = mem_load,
    .save = mem_save,
    .quick = mem_quick,
    .open_list = mem_open_list,
    .claim_due = mem_claim_due,
    .deadline_reset = mem_deadline_reset,
    .subscribe = mem_subscribe,
    .unsubscribe = mem_unsubscribe,
    .lost_count = mem_lost_count,
};
