/* redis_sub.c -- sharded subscriptions kept alive across failovers and slot
 * moves; see redis_sub.h.
 *
 * Each wanted channel is in a hash table with a state: WANT (to be sent),
 * PENDING (SSUBSCRIBE written, not confirmed) or ON (confirmed). One
 * SSUBSCRIBE carries one channel, so every command has exactly one answer:
 * an `ssubscribe` array or an error, matched FIFO by redis_link. A
 * `sunsubscribe` is the answer to our SUNSUBSCRIBE when the oldest waiting
 * command is that SUNSUBSCRIBE, and otherwise Redis telling us the slot left
 * the node. Each send bumps the channel's generation, and a confirmation
 * counts only if it answers the latest send (an unsubscribe + subscribe race
 * on one link cannot confirm early).
 *
 * A new channel is sent at the next loop turn, from a queue of its own, so a
 * caller waiting for the confirmation (a game created only once its channel
 * listens) waits one round trip, not a tick. Besides, a 50 ms tick runs
 * while a channel is WANT or PENDING: it sends WANT channels whose owner has
 * a link (after a loss or a failed send), and drops a node whose SSUBSCRIBE
 * got no answer in RSUB_PENDING_MS (frozen node), so its channels try again.
 * The full sweep is O(channels), so it runs at most once per tick however
 * often a new channel kicks the timer. */
#include "redis_sub.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <uv.h>
#include <hiredis/hiredis.h>
#include <utlist.h>

#include "redis_link.h"
#include "redis_slot.h"

#define RSUB_TICK_MS 50
#define RSUB_PENDING_MS 2000
#define RSUB_RETRY_MS 100
#define RSUB_BACKOFF_MAX_MS 1000
#define RSUB_MAX_NODES 1024

enum { CH_WANT, CH_PENDING, CH_ON };
enum { OP_SUB, OP_UNSUB };

typedef struct snode {
    rsub *s;
    char host[RCL_HOST_MAX];
    int port;
    rlink *link;
    long long retry_at;
    int fails;
} snode;

typedef struct chan {
    struct chan *next;       /* bucket chain */
    char *name;
    size_t len;
    unsigned slot;
    int state;
    int lost;                /* lost since the last confirmation */
    int confirmed_once;
    int gone;                /* unsubscribed during a walk; freed after it */
    struct chan *gnext;      /* in the grave list */
    struct chan *fprev, *fnext;  /* in the fresh queue (sent at the next turn) */
    int fresh;
    unsigned gen;
    snode *node;             /* PENDING / ON: where */
    long long at;            /* PENDING: sent at; WANT: not before */
} chan;

typedef struct sop {
    rsub *s;
    int kind;
    unsigned gen;
    size_t len;
    char name[];
} sop;

struct rsub {
    rcl *c;
    uv_timer_t tick;
    int tick_on, closing;
    rsub_msg_cb *msg;
    rsub_event_cb *ev;
    void *ud;
    chan **bucket;
    size_t nbucket, nchan;
    size_t nbusy;            /* channels WANT or PENDING */
    int walking;             /* table walks under way (callbacks run inside) */
    chan *grave;             /* unsubscribed during a walk, freed after */
    chan *fresh;             /* new channels, not sent yet */
    long long swept_at;      /* the last full sweep */
    snode **nodes;
    size_t nnodes;
    rsub_stats st;
};

static long long now_ms(const rsub *s)
{
    return (long long)uv_now(rcl_loop(s->c));
}

/* ---- the channel table ------------------------------------------------------- */

static size_t ch_hash(const char *p, size_t len)
{
    size_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
}

static chan **ch_slot(const rsub *s, const char *name, size_t len)
{
    chan **pp = &s->bucket[ch_hash(name, len) & (s->nbucket - 1)];
    while (*pp && ((*pp)->len != len || memcmp((*pp)->name, name, len) != 0))
        pp = &(*pp)->next;
    return pp;
}

static chan *ch_find(const rsub *s, const char *name, size_t len)
{
    return *ch_slot(s, name, len);
}

static int ch_grow(rsub *s)
{
    size_t nb = s->nbucket * 2;
    chan **b = calloc(nb, sizeof(*b));
    if (!b)
        return -1;
    for (size_t i = 0; i < s->nbucket; i++) {
        chan *e = s->bucket[i], *next;
        for (; e; e = next) {
            next = e->next;
            size_t k = ch_hash(e->name, e->len) & (nb - 1);
            e->next = b[k];
            b[k] = e;
        }
    }
    free(s->bucket);
    s->bucket = b;
    s->nbucket = nb;
    return 0;
}

static void tick_arm(rsub *s);

/* User callbacks run inside table walks and may unsubscribe or subscribe:
 * an entry removed meanwhile keeps its chain pointer and is freed when the
 * outermost walk ends, and the table does not grow during a walk. */
static void walk_begin(rsub *s)
{
    s->walking++;
}

static void walk_end(rsub *s)
{
    if (--s->walking > 0)
        return;
    chan *e;
    while ((e = s->grave) != NULL) {
        s->grave = e->gnext;
        free(e->name);
        free(e);
    }
}

static void ch_set(rsub *s, chan *e, int state)
{
    int was_busy = e->state != CH_ON, busy = state != CH_ON;
    e->state = state;
    if (was_busy && !busy)
        s->nbusy--;
    else if (!was_busy && busy)
        s->nbusy++;
    if (busy)
        tick_arm(s);
}

/* e is no longer subscribed; it will be sent again after `delay_ms`. */
static void ch_lose(rsub *s, chan *e, int delay_ms)
{
    int was_on = e->state == CH_ON;
    e->node = NULL;
    e->at = now_ms(s) + delay_ms;
    ch_set(s, e, CH_WANT);
    if (was_on && !e->lost) {
        e->lost = 1;
        s->st.lost++;
        if (s->ev)
            s->ev(s, e->name, e->len, RSUB_EV_LOST, s->ud);
    }
}

/* ---- nodes ------------------------------------------------------------------- */

static snode *snode_get(rsub *s, const char *host, int port)
{
    for (size_t i = 0; i < s->nnodes; i++)
        if (s->nodes[i]->port == port && strcmp(s->nodes[i]->host, host) == 0)
            return s->nodes[i];
    size_t hlen = strlen(host);
    /* a host name that does not fit is refused, not cut: a cut one would
     * never match again, and would be another node at every lookup */
    if (s->nnodes >= RSUB_MAX_NODES || hlen >= sizeof(((snode *)0)->host))
        return NULL;
    snode **nv = realloc(s->nodes, (s->nnodes + 1) * sizeof(*nv));
    if (!nv)
        return NULL;
    s->nodes = nv;
    snode *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->s = s;
    memcpy(n->host, host, hlen + 1);
    n->port = port;
    s->nodes[s->nnodes++] = n;
    return n;
}

/* Every channel on node n goes back to WANT. */
static void snode_lost(rsub *s, snode *n, int delay_ms)
{
    walk_begin(s);
    for (size_t i = 0; i < s->nbucket && !s->closing; i++)
        for (chan *e = s->bucket[i]; e && !s->closing; e = e->next)
            if (!e->gone && e->node == n && e->state != CH_WANT)
                ch_lose(s, e, delay_ms);
    walk_end(s);
}

static void snode_down(rlink *l, const char *why, void *ud)
{
    (void)why;
    snode *n = ud;
    rsub *s = n->s;
    if (n->link != l)
        return;
    n->link = NULL;
    if (rlink_was_up(l))
        n->fails = 0;
    else
        n->fails++;
    int b = RSUB_RETRY_MS << (n->fails < 4 ? n->fails : 4);
    n->retry_at = now_ms(s) + (b < RSUB_BACKOFF_MAX_MS ? b : RSUB_BACKOFF_MAX_MS);
    rcl_refresh(s->c);
    snode_lost(s, n, 0);
}

static void snode_drop(rsub *s, snode *n)
{
    rlink *l = n->link;
    if (!l)
        return;
    n->link = NULL;
    n->retry_at = now_ms(s) + RSUB_RETRY_MS;
    rlink_close(l);
    rcl_refresh(s->c);
    snode_lost(s, n, 0);
}

/* ---- replies ----------------------------------------------------------------- */

static int str_is(const redisReply *r, const char *w)
{
    size_t n = strlen(w);
    return r && r->type == REDIS_REPLY_STRING && r->len == n && strncasecmp(r->str, w, n) == 0;
}

static void on_confirm(rsub *s, const sop *op, snode *n)
{
    chan *e = ch_find(s, op->name, op->len);
    if (!e || e->gen != op->gen || e->state != CH_PENDING || e->node != n)
        return;
    ch_set(s, e, CH_ON);
    int ev = RSUB_EV_SUBSCRIBED;
    if (e->confirmed_once) {
        ev = RSUB_EV_RESUBSCRIBED;
        s->st.resubscribed++;
    }
    e->confirmed_once = 1;
    e->lost = 0;
    if (s->ev)
        s->ev(s, e->name, e->len, ev, s->ud);
}

static void op_reply(rlink *l, redisReply *r, void *priv)
{
    sop *op = priv;
    if (!r) {
        free(op);
        return;
    }
    rsub *s = op->s;
    if (s->closing || op->kind == OP_UNSUB) {
        free(op);
        return;
    }
    snode *n = NULL;
    for (size_t i = 0; i < s->nnodes; i++)
        if (s->nodes[i]->link == l)
            n = s->nodes[i];
    chan *e = ch_find(s, op->name, op->len);
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 && str_is(r->element[0], "ssubscribe")) {
        if (n)
            on_confirm(s, op, n);
    } else if (e && e->gen == op->gen && e->state == CH_PENDING) {
        /* an error (MOVED after a slot moved, CLUSTERDOWN, ...): try again */
        if (r->type == REDIS_REPLY_ERROR && r->str && strncmp(r->str, "MOVED ", 6) == 0) {
            unsigned slot;
            char host[RCL_HOST_MAX];
            int port;
            s->st.moved++;
            if (rcl_parse_redirect(r->str + 6, r->len - 6, n ? n->host : NULL, &slot, host,
                                   &port) == 0)
                rcl_note_moved(s->c, slot, host, port);
            else
                rcl_refresh(s->c);
            ch_lose(s, e, 0);
        } else {
            rcl_refresh(s->c);
            ch_lose(s, e, RSUB_RETRY_MS);
        }
    }
    free(op);
}

/* Pushed replies: smessage, and a sunsubscribe we did not ask for. */
static int on_push(rlink *l, redisReply *r, void *ud)
{
    snode *n = ud;
    rsub *s = n->s;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 || !r->element)
        return 0;
    redisReply *kind = r->element[0], *ch = r->element[1];
    if (!ch || ch->type != REDIS_REPLY_STRING)
        return 0;
    if (str_is(kind, "smessage")) {
        redisReply *m = r->element[2];
        chan *e = ch_find(s, ch->str, ch->len);
        if (e && m && m->type == REDIS_REPLY_STRING && !s->closing) {
            s->st.messages++;
            if (s->msg)
                s->msg(s, ch->str, ch->len, m->str, m->len, s->ud);
        }
        return 1;
    }
    if (str_is(kind, "sunsubscribe")) {
        sop *head = rlink_head_priv(l);
        if (head && head->kind == OP_UNSUB && head->len == ch->len &&
            memcmp(head->name, ch->str, ch->len) == 0)
            return 0;                  /* the answer to our own SUNSUBSCRIBE */
        s->st.pushed_unsub++;
        chan *e = ch_find(s, ch->str, ch->len);
        if (e && e->node == n && e->state != CH_WANT && !s->closing) {
            rcl_refresh(s->c);         /* the slot moved: learn where */
            ch_lose(s, e, RSUB_RETRY_MS);
        }
        return 1;
    }
    return 0;
}

/* ---- sending ------------------------------------------------------------------ */

static int send_op(rsub *s, snode *n, int kind, const chan *e, unsigned gen)
{
    sop *op = malloc(sizeof(*op) + e->len);
    if (!op)
        return -1;
    op->s = s;
    op->kind = kind;
    op->gen = gen;
    op->len = e->len;
    memcpy(op->name, e->name, e->len);
    const char *argv[2] = {kind == OP_SUB ? "SSUBSCRIBE" : "SUNSUBSCRIBE", e->name};
    size_t argvlen[2] = {strlen(argv[0]), e->len};
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, 2, argv, argvlen);
    if (len < 0 || !cmd || rlink_send(n->link, cmd, (size_t)len, op_reply, op) != 0) {
        if (cmd)
            redisFreeCommand(cmd);
        free(op);
        return -1;
    }
    redisFreeCommand(cmd);
    return 0;
}

static rlink *snode_link(rsub *s, snode *n)
{
    if (n->link && !rlink_alive(n->link))
        return NULL;                 /* ended, its down callback is on the way */
    if (n->link)
        return n->link;
    if (now_ms(s) < n->retry_at)
        return NULL;
    n->link = rcl_link_open(s->c, n->host, n->port, on_push, snode_down, n);
    if (!n->link) {
        n->fails++;
        n->retry_at = now_ms(s) + RSUB_BACKOFF_MAX_MS;
    }
    return n->link;
}

static void ch_send(rsub *s, chan *e)
{
    char host[RCL_HOST_MAX];
    int port = rcl_slot_owner(s->c, e->slot, host, sizeof host);
    if (port < 0) {
        rcl_refresh(s->c);
        return;
    }
    snode *n = snode_get(s, host, port);
    if (!n || !snode_link(s, n))
        return;
    unsigned gen = e->gen + 1;
    if (send_op(s, n, OP_SUB, e, gen) != 0)
        return;                           /* out of memory: the tick tries again */
    e->gen = gen;
    e->node = n;
    e->at = now_ms(s);
    ch_set(s, e, CH_PENDING);
}

/* Send WANT channels; drop nodes whose SSUBSCRIBE went unanswered; move
 * channels whose slot now belongs elsewhere (when `remap`). */
static void sweep(rsub *s, int remap)
{
    long long now = now_ms(s);
    walk_begin(s);
    for (size_t i = 0; i < s->nbucket && !s->closing; i++) {
        for (chan *e = s->bucket[i]; e && !s->closing; e = e->next) {
            if (e->gone)
                continue;
            if (e->state == CH_WANT && e->at <= now) {
                ch_send(s, e);
            } else if (e->state == CH_PENDING && now - e->at > RSUB_PENDING_MS && e->node) {
                snode_drop(s, e->node);     /* frozen: every channel there goes WANT */
            } else if (remap && e->state != CH_WANT && e->node) {
                char host[RCL_HOST_MAX];
                int port = rcl_slot_owner(s->c, e->slot, host, sizeof host);
                if (port >= 0 && (port != e->node->port || strcmp(host, e->node->host) != 0)) {
                    snode *old = e->node;
                    if (old->link)
                        send_op(s, old, OP_UNSUB, e, e->gen);
                    ch_lose(s, e, 0);
                    if (!s->closing && !e->gone)
                        ch_send(s, e);
                }
            }
        }
    }
    walk_end(s);
}

/* New channels, in the order they were wanted. Each leaves the queue before
 * it is sent: a callback run by the send may unsubscribe any of them. */
static void send_fresh(rsub *s)
{
    chan *e;
    walk_begin(s);
    while ((e = s->fresh) != NULL && !s->closing) {
        DL_DELETE2(s->fresh, e, fprev, fnext);
        e->fresh = 0;
        if (!e->gone && e->state == CH_WANT)
            ch_send(s, e);        /* not sent (no owner, no link): the sweep retries */
    }
    walk_end(s);
}

static void on_tick(uv_timer_t *t)
{
    rsub *s = t->data;
    send_fresh(s);
    long long now = now_ms(s);
    if (!s->closing && now - s->swept_at >= RSUB_TICK_MS) {
        s->swept_at = now;
        sweep(s, 0);
    }
    if (!s->closing && s->nbusy == 0) {
        uv_timer_stop(&s->tick);
        s->tick_on = 0;
    }
}

static void tick_arm(rsub *s)
{
    if (s->tick_on || s->closing)
        return;
    s->tick_on = 1;
    uv_timer_start(&s->tick, on_tick, 0, RSUB_TICK_MS);
}

static void on_map(rcl *c, void *ud)
{
    (void)c;
    rsub *s = ud;
    sweep(s, 1);
}

/* ---- public ------------------------------------------------------------------ */

rsub *rsub_open(rcl *c, rsub_msg_cb *msg, rsub_event_cb *ev, void *ud)
{
    rsub *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->nbucket = 64;
    s->bucket = calloc(s->nbucket, sizeof(*s->bucket));
    if (!s->bucket) {
        free(s);
        return NULL;
    }
    s->c = c;
    s->msg = msg;
    s->ev = ev;
    s->ud = ud;
    uv_timer_init(rcl_loop(c), &s->tick);
    s->tick.data = s;
    rcl_set_map_hook(c, on_map, s);
    return s;
}

int rsub_subscribe(rsub *s, const char *ch, size_t len)
{
    if (s->closing)
        return RCL_ECLOSED;
    if (!ch || len == 0)
        return RCL_EINVAL;
    if (ch_find(s, ch, len))
        return 0;
    if (s->nchan >= s->nbucket && !s->walking && ch_grow(s) != 0)
        return RCL_ENOMEM;
    chan *e = calloc(1, sizeof(*e));
    if (!e || !(e->name = malloc(len))) {
        free(e);
        return RCL_ENOMEM;
    }
    memcpy(e->name, ch, len);
    e->len = len;
    e->slot = redis_key_slot(ch, len);
    e->state = CH_WANT;
    chan **pp = ch_slot(s, ch, len);
    *pp = e;
    s->nchan++;
    s->nbusy++;
    /* sent from the timer at the next turn, not here: ch_send may call back
     * (LOST), and callers subscribe from inside callbacks */
    DL_APPEND2(s->fresh, e, fprev, fnext);
    e->fresh = 1;
    s->tick_on = 1;
    uv_timer_start(&s->tick, on_tick, 0, RSUB_TICK_MS);
    return 0;
}

int rsub_unsubscribe(rsub *s, const char *ch, size_t len)
{
    if (s->closing || !ch)
        return RCL_EINVAL;
    chan **pp = ch_slot(s, ch, len);
    chan *e = *pp;
    if (!e)
        return RCL_EINVAL;
    *pp = e->next;
    s->nchan--;
    if (e->fresh) {
        DL_DELETE2(s->fresh, e, fprev, fnext);
        e->fresh = 0;
    }
    if (e->state != CH_ON)
        s->nbusy--;
    if (e->state != CH_WANT && e->node && e->node->link)
        send_op(s, e->node, OP_UNSUB, e, e->gen);   /* best effort */
    if (s->walking) {
        e->gone = 1;          /* e->next still leads a walk on along the chain */
        e->state = CH_ON;     /* counted out of nbusy above; never sent again */
        e->node = NULL;
        e->gnext = s->grave;
        s->grave = e;
        return 0;
    }
    free(e->name);
    free(e);
    return 0;
}

int rsub_is_subscribed(const rsub *s, const char *ch, size_t len)
{
    const chan *e = ch_find(s, ch, len);
    return e && e->state == CH_ON;
}

const rsub_stats *rsub_get_stats(const rsub *s) { return &s->st; }

static void on_tick_closed(uv_handle_t *h)
{
    rsub *s = h->data;
    for (size_t i = 0; i < s->nnodes; i++)
        free(s->nodes[i]);
    free(s->nodes);
    for (size_t i = 0; i < s->nbucket; i++) {
        chan *e = s->bucket[i], *next;
        for (; e; e = next) {
            next = e->next;
            free(e->name);
            free(e);
        }
    }
    free(s->bucket);
    free(s);
}

void rsub_close(rsub *s)
{
    if (s->closing)
        return;
    s->closing = 1;
    rcl_set_map_hook(s->c, NULL, NULL);
    for (size_t i = 0; i < s->nnodes; i++) {
        rlink *l = s->nodes[i]->link;
        s->nodes[i]->link = NULL;
        if (l)
            rlink_close(l);      /* op_reply frees each op; no callback to us */
    }
    uv_timer_stop(&s->tick);
    uv_close((uv_handle_t *)&s->tick, on_tick_closed);
}
