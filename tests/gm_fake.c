/* gm_fake.c -- the harness of tests/test_gm.c (see gm_fake.h).
 *
 * The memory store defers its completions to the next turn of a private uv
 * loop; drain() runs that loop until nothing is queued, so every test is
 * deterministic and takes milliseconds. Time never comes from the loop: the
 * manager reads the fake clock, and its tick fires from advance(). */
#include "gm_fake.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "log.h"
#include "msg.h"

/* ---- the fake io: what each connection would receive ----------------------------- */


static void io_send(void *ud, void *conn_ud, msg *m)
{
    (void)ud;
    fconn *fc = conn_ud;
    cr_assert_not(fc->closed, "nothing is sent to a closed connection");
    if (fc->n == fc->cap) {
        fc->cap = fc->cap ? fc->cap * 2 : 16;
        fc->msgs = realloc(fc->msgs, (size_t)fc->cap * sizeof(*fc->msgs));
        cr_assert_not_null(fc->msgs);
    }
    proto_server_msg *sm = &fc->msgs[fc->n++];
    cr_assert_eq(proto_parse_server((const char *)msg_data(m), m->len, sm), PROTO_OK,
                 "the manager sent well-formed JSON: %.*s", (int)m->len, msg_data(m));
}

/* ---- the fake clock --------------------------------------------------------------------- */

typedef struct ftimer {
    int active;
    int64_t due;
    uint64_t repeat;
    void (*cb)(void *arg);
    void *arg;
} ftimer;

static int64_t now = T0;
static ftimer timers[16];
static int ntimers, nstopped;

static int64_t clk_now(void *ud)
{
    (void)ud;
    return now;
}

static void *clk_start(void *ud, uint64_t after, uint64_t repeat, void (*cb)(void *), void *arg)
{
    (void)ud;
    cr_assert_lt(ntimers, 16);
    ftimer *t = &timers[ntimers++];
    *t = (ftimer){1, now + (int64_t)after, repeat, cb, arg};
    return t;
}

static void clk_stop(void *ud, void *timer)
{
    (void)ud;
    ((ftimer *)timer)->active = 0;
    nstopped++;
}

/* ---- the harness ------------------------------------------------------------------------ */

static uv_loop_t loop;
store *st;
gm *G;
static int64_t next_id = 1;

void drain(void)
{
    uv_run(&loop, UV_RUN_DEFAULT);
}

/* Move the clock on by ms, firing each timer that falls due on the way, in
 * order, with the loop drained after each. */
void advance(int64_t ms)
{
    int64_t end = now + ms;
    for (;;) {
        ftimer *first = NULL;
        for (int i = 0; i < ntimers; i++)
            if (timers[i].active && timers[i].due <= end && (!first || timers[i].due < first->due))
                first = &timers[i];
        if (!first)
            break;
        now = first->due;
        if (first->repeat)
            first->due += (int64_t)first->repeat;
        else
            first->active = 0;
        first->cb(first->arg);
        drain();
    }
    now = end;
    drain();
}

static void setup_with(int64_t abandon_ms, int64_t wait_ms)
{
    log_level = LOG_ERROR;   /* the manager's info lines are for operators */
    cr_assert_eq(uv_loop_init(&loop), 0);
    gm_clock clk = {.ud = NULL, .now_ms = clk_now, .timer_start = clk_start, .timer_stop = clk_stop};
    gm_options o = {.abandon_ms = abandon_ms, .wait_ms = wait_ms, .seed = 1};
    gm_io io = {.ud = NULL, .send = io_send};
    G = gm_new(&clk, &o, &io);
    cr_assert_not_null(G);
    store_events ev = gm_store_events(G);
    store_options so = {.instance_name = "test"};
    char err[128];
    st = store_open(&loop, &so, &ev, err, sizeof err);
    cr_assert_not_null(st, "%s", err);
    gm_set_store(G, st);
}

void setup(void)
{
    setup_with(ABANDON, WAIT);
}

int stopped;
static int store_closed;
fconn *stop_watch;        /* see gm_fake.h */
int msgs_at_stop = -1;

void on_stopped(void *ud)
{
    (void)ud;
    stopped++;
    if (stop_watch)
        msgs_at_stop = stop_watch->n;
}

static void on_store_closed(void *ud) { (void)ud; store_closed++; }

/* main.c's order: manager drains, store closes, manager is freed. */
static void conns_free(void);

void teardown(void)
{
    conns_free();   /* their seats say goodbye, as when a server drains */
    drain();
    gm_shutdown(G, 1000, on_stopped, NULL);
    drain();
    cr_assert_eq(stopped, 1, "shutdown completes once nothing is in flight");
    store_close(st, on_store_closed, NULL);
    drain();
    cr_assert_eq(store_closed, 1);
    gm_free(G);
    for (int i = 0; i < ntimers; i++)
        cr_assert_not(timers[i].active, "timer %d stopped", i);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

static fconn *conns[8];          /* every connection a test opened, freed by teardown */
static int nconns;

fconn *conn_open(void)
{
    cr_assert_lt(nconns, 8);
    fconn *fc = calloc(1, sizeof(*fc));
    cr_assert_not_null(fc);
    fc->c = gm_conn_open(G, fc);
    cr_assert_not_null(fc->c);
    return conns[nconns++] = fc;
}

/* The connection leaves; its record of messages stays for the test. */
void conn_close(fconn *fc)
{
    fc->closed = 1;
    gm_conn_close(G, fc->c);
}

static void conns_free(void)
{
    for (int i = 0; i < nconns; i++) {
        if (!conns[i]->closed)
            conn_close(conns[i]);
        free(conns[i]->msgs);
        free(conns[i]);
    }
    nconns = 0;
}

void request(fconn *fc, proto_req r)
{
    r.id.kind = PROTO_ID_INT;
    r.id.num = next_id++;
    gm_request(G, fc->c, &r);
}

void rq(fconn *fc, proto_type t, int64_t game_id)
{
    request(fc, (proto_req){.type = t, .game_id = game_id, .ply = -1});
}

void rq_move(fconn *fc, int64_t game_id, int cell)
{
    request(fc, (proto_req){.type = PROTO_MOVE, .game_id = game_id, .cell = cell, .ply = -1});
}

void rq_resume(fconn *fc, int64_t game_id, const char *token)
{
    proto_req r = {.type = PROTO_RESUME, .game_id = game_id, .ply = -1};
    r.token_len = (uint8_t)strlen(token);
    memcpy(r.token, token, r.token_len);
    request(fc, r);
}

/* The next message fc received, which must be of type t. */
const proto_server_msg *expect(fconn *fc, proto_server_type t)
{
    cr_assert_lt(fc->seen, fc->n, "a message of type %d is there", t);
    const proto_server_msg *m = &fc->msgs[fc->seen++];
    cr_assert_eq(m->type, t, "message %d is of type %d, not %d", fc->seen - 1, m->type, t);
    return m;
}

const proto_server_msg *expect_error(fconn *fc, proto_err e)
{
    const proto_server_msg *m = expect(fc, PROTO_S_ERROR);
    cr_assert_eq(m->code, e, "error %s, not %s", proto_err_name(m->code), proto_err_name(e));
    return m;
}

void expect_none(fconn *fc)
{
    cr_assert_eq(fc->seen, fc->n, "no more messages (%d unread, first of type %d)",
                 fc->n - fc->seen, fc->seen < fc->n ? (int)fc->msgs[fc->seen].type : -1);
}

gm_stats stats(void)
{
    gm_stats s;
    gm_get_stats(G, &s);
    return s;
}

/* X creates a game and O joins it; both have read everything. */
int64_t start_game(fconn *x, fconn *o, char xtoken[], char otoken[])
{
    rq(x, PROTO_CREATE, 0);
    drain();
    const proto_server_msg *j = expect(x, PROTO_S_JOINED);
    int64_t id = j->game_id;
    cr_assert_eq(j->mark, GAME_X);
    if (xtoken)
        strcpy(xtoken, j->token);
    cr_assert_eq(expect(x, PROTO_S_STATE)->st.status, GAME_WAITING);
    rq(o, PROTO_JOIN, id);
    drain();
    j = expect(o, PROTO_S_JOINED);
    cr_assert_eq(j->mark, GAME_O);
    if (otoken)
        strcpy(otoken, j->token);
    cr_assert_eq(expect(o, PROTO_S_STATE)->st.status, GAME_PLAYING);
    cr_assert_eq(expect(x, PROTO_S_STATE)->st.status, GAME_PLAYING);
    return id;
}

