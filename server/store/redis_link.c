/* redis_link.c -- one RESP2 connection on a uv_tcp_t with hiredis' reader;
 * see redis_link.h for the contract and why this is not redisAsyncContext.
 *
 * Output: commands are appended to one buffer; at most one uv_write is in
 * flight and it takes the whole buffer, so a burst of commands becomes one
 * write. Input: read into a fixed buffer, fed to the reader, replies taken
 * out one by one. Every check that can end the link is followed by a look at
 * `dead`, because a user callback may have closed it. */
#include "redis_link.h"

#include <stdlib.h>
#include <string.h>

#include <uv.h>
#include <hiredis/hiredis.h>

#define RLINK_RBUF 16384

typedef struct rl_wait {
    struct rl_wait *next;
    rlink_reply_fn *fn;
    void *priv;
} rl_wait;

struct rlink {
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;          /* a unix socket: ip is its path */
    };
    int is_pipe;
    uv_connect_t creq;
    uv_write_t wreq;
    redisReader *reader;
    rlink_push_fn *push;
    rlink_down_fn *down;
    void *ud;
    rl_wait *head, *tail;
    size_t npending;
    char *out;               /* commands not yet handed to uv_write */
    size_t outlen, outcap;
    char *wbuf;              /* the buffer of the write in flight */
    int up, dead, writing;
    int pending_cbs;         /* connect + write callbacks libuv still owes us */
    int closed;              /* uv_close done, close callback pending */
    int notify_late;         /* failed inside rlink_send: tell from on_close */
    const char *why;
    char rbuf[RLINK_RBUF];
};

/* hiredis' reader allocates an array's element table as soon as it reads
 * "*N": a node sending "*1000000000" would make it calloc 8 GB, and
 * hiredis 0.14.1 abort()s when an allocation fails (alloc.h's
 * HIREDIS_OOM_HANDLER). The default reply functions are kept, with a cap on
 * array sizes: refusing makes the reader fail, and the link with it. */
static redisReplyObjectFunctions capped_fn;
static void *(*default_create_array)(const redisReadTask *, int);

static void *create_array_capped(const redisReadTask *t, int elements)
{
    if (elements < 0 || elements > RLINK_MAX_ELEMENTS)
        return NULL;
    return default_create_array(t, elements);
}

redisReader *rlink_reader_new(void)
{
    redisReader *r = redisReaderCreate();
    if (!r)
        return NULL;
    if (!default_create_array) {      /* the loop thread only: no race */
        capped_fn = *r->fn;
        default_create_array = capped_fn.createArray;
        capped_fn.createArray = create_array_capped;
    }
    r->fn = &capped_fn;
    return r;
}

static void link_free_maybe(rlink *l)
{
    if (l->closed == 2 && l->pending_cbs == 0) {
        if (l->reader)
            redisReaderFree(l->reader);
        free(l->out);
        free(l);
    }
}

static void link_notify(rlink *l, const char *why, int tell);

static void on_close(uv_handle_t *h)
{
    rlink *l = h->data;
    if (l->notify_late) {
        l->notify_late = 0;
        link_notify(l, l->why, 1);
    }
    l->closed = 2;
    link_free_maybe(l);
}

static void link_kill(rlink *l)
{
    l->dead = 1;
    l->closed = 1;
    uv_close((uv_handle_t *)&l->tcp, on_close);
}

/* The oldest waiter answered with r (NULL: the link ended): off the queue
 * first, so its callback may send on the link. */
static void wait_answer(rlink *l, redisReply *r)
{
    rl_wait *w = l->head;
    l->head = w->next;
    if (!l->head)
        l->tail = NULL;
    l->npending--;
    if (w->fn)
        w->fn(l, r, w->priv);
    free(w);
}

/* Tell every waiting callback, then the owner (unless it asked for the end). */
static void link_notify(rlink *l, const char *why, int tell)
{
    while (l->head)
        wait_answer(l, NULL);
    if (tell && l->down)
        l->down(l, why, l->ud);
}

static void link_end(rlink *l, const char *why, int tell)
{
    if (l->dead)
        return;
    link_kill(l);
    link_notify(l, why, tell);
}

static void on_write(uv_write_t *req, int status);

/* in_send: called from rlink_send, whose caller must not see callbacks run
 * inside it, so a failure is told from the close callback instead. */
static void flush(rlink *l, int in_send)
{
    if (l->dead || !l->up || l->writing || l->outlen == 0)
        return;
    l->wbuf = l->out;
    uv_buf_t b = uv_buf_init(l->out, (unsigned)l->outlen);
    l->out = NULL;
    l->outlen = l->outcap = 0;
    l->wreq.data = l;
    if (uv_write(&l->wreq, (uv_stream_t *)&l->tcp, &b, 1, on_write) != 0) {
        free(l->wbuf);
        l->wbuf = NULL;
        if (in_send && !l->dead) {
            link_kill(l);
            l->notify_late = 1;
            l->why = "write failed";
        } else {
            link_end(l, "write failed", 1);
        }
        return;
    }
    l->writing = 1;
    l->pending_cbs++;
}

/* A libuv request of l's came back: 1 when that was the end of l (closed
 * meanwhile, or the request failed), and the caller stops there. */
static int req_back(rlink *l, int status)
{
    l->pending_cbs--;
    if (l->dead) {
        link_free_maybe(l);
        return 1;
    }
    if (status < 0) {
        link_end(l, uv_strerror(status), 1);
        return 1;
    }
    return 0;
}

static void on_write(uv_write_t *req, int status)
{
    rlink *l = req->data;
    l->writing = 0;
    free(l->wbuf);
    l->wbuf = NULL;
    if (!req_back(l, status))
        flush(l, 0);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)hint;
    rlink *l = h->data;
    *b = uv_buf_init(l->rbuf, sizeof l->rbuf);
}

/* Hand each complete reply to the push hook or the oldest waiter. A reply
 * nobody waits for is a protocol violation (that is what crashes hiredis'
 * async core), so the link ends. */
static void deliver(rlink *l)
{
    while (!l->dead) {
        void *rep = NULL;
        if (redisReaderGetReply(l->reader, &rep) != REDIS_OK) {
            link_end(l, "protocol error", 1);
            return;
        }
        if (!rep)
            return;
        redisReply *r = rep;
        if (l->push && l->push(l, r, l->ud)) {
            freeReplyObject(r);
            continue;
        }
        if (!l->head) {
            freeReplyObject(r);
            link_end(l, "unexpected reply", 1);
            return;
        }
        wait_answer(l, r);
        freeReplyObject(r);
    }
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    rlink *l = s->data;
    if (l->dead)
        return;
    if (n < 0) {
        link_end(l, n == UV_EOF ? "closed by peer" : uv_strerror((int)n), 1);
        return;
    }
    if (n == 0)
        return;
    if (redisReaderFeed(l->reader, b->base, (size_t)n) != REDIS_OK) {
        link_end(l, "out of memory", 1);
        return;
    }
    if (l->reader->len - l->reader->pos > RLINK_MAX_PENDING) {
        link_end(l, "reply too large", 1);
        return;
    }
    deliver(l);
}

static void on_connect(uv_connect_t *req, int status)
{
    rlink *l = req->data;
    if (req_back(l, status))
        return;
    l->up = 1;
    if (!l->is_pipe) {
        uv_tcp_nodelay(&l->tcp, 1);
        uv_tcp_keepalive(&l->tcp, 1, 15);
    }
    if (uv_read_start((uv_stream_t *)&l->tcp, on_alloc, on_read) != 0) {
        link_end(l, "read failed", 1);
        return;
    }
    flush(l, 0);
}

/* who hears of l: its pushes, its end, and their ud */
static void link_owner(rlink *l, rlink_push_fn *push, rlink_down_fn *down, void *ud)
{
    l->push = push;
    l->down = down;
    l->ud = ud;
    l->creq.data = l;
}

rlink *rlink_open(uv_loop_t *loop, const char *ip, int port, rlink_push_fn *push,
                  rlink_down_fn *down, void *ud)
{
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } addr;
    int pipe = ip[0] == '/' && port == 0;
    if (!pipe && (port <= 0 || port > 65535))
        return NULL;
    if (!pipe && uv_ip4_addr(ip, port, &addr.in4) != 0 && uv_ip6_addr(ip, port, &addr.in6) != 0)
        return NULL;
    rlink *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->reader = rlink_reader_new();
    if (pipe) {
        l->is_pipe = 1;
        if (!l->reader || uv_pipe_init(loop, &l->pipe, 0) != 0)
            goto fail;
        l->pipe.data = l;
        link_owner(l, push, down, ud);
        uv_pipe_connect(&l->creq, &l->pipe, ip, on_connect);
        l->pending_cbs = 1;
        return l;
    }
    if (!l->reader || uv_tcp_init(loop, &l->tcp) != 0)
        goto fail;
    l->tcp.data = l;
    link_owner(l, push, down, ud);
    if (uv_tcp_connect(&l->creq, &l->tcp, &addr.sa, on_connect) != 0) {
        /* the handle exists: it must be closed, and freed from its callback */
        l->dead = 1;
        l->closed = 1;
        uv_close((uv_handle_t *)&l->tcp, on_close);
        return NULL;
    }
    l->pending_cbs = 1;
    return l;
fail:
    if (l->reader)
        redisReaderFree(l->reader);
    free(l);
    return NULL;
}

int rlink_send(rlink *l, const char *cmd, size_t len, rlink_reply_fn *fn, void *priv)
{
    if (l->dead)
        return -1;
    rl_wait *w = malloc(sizeof(*w));
    if (!w)
        return -1;
    if (l->outlen + len > l->outcap) {
        size_t cap = l->outcap ? l->outcap : 256;
        while (cap < l->outlen + len)
            cap *= 2;
        char *nb = realloc(l->out, cap);
        if (!nb) {
            free(w);
            return -1;
        }
        l->out = nb;
        l->outcap = cap;
    }
    memcpy(l->out + l->outlen, cmd, len);
    l->outlen += len;
    w->next = NULL;
    w->fn = fn;
    w->priv = priv;
    if (l->tail)
        l->tail->next = w;
    else
        l->head = w;
    l->tail = w;
    l->npending++;
    flush(l, 1);
    return 0;
}

void rlink_close(rlink *l)
{
    if (l->notify_late) {            /* failed in rlink_send: tell waiters now, not the owner */
        l->notify_late = 0;
        link_notify(l, "closed", 0);
        return;
    }
    link_end(l, "closed", 0);
}

void rlink_fail(rlink *l, const char *why)
{
    if (l->notify_late)
        return;                      /* already failed; told from on_close */
    link_end(l, why, 1);
}

int rlink_was_up(const rlink *l) { return l->up; }
int rlink_alive(const rlink *l) { return !l->dead; }
size_t rlink_pending(const rlink *l) { return l->npending; }
void *rlink_head_priv(const rlink *l) { return l->head ? l->head->priv : NULL; }
