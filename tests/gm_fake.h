/* gm_fake.h -- the harness of tests/test_gm.c: the game manager on the
 * memory store with a fake io that records what each connection would
 * receive, and a fake clock whose timers fire only when the test advances
 * it (see gm_fake.c). */
#ifndef GM_FAKE_H
#define GM_FAKE_H

#include <criterion/criterion.h>

#include "gm.h"
#include "proto.h"
#include "store.h"

#define T0 1700000000000LL
#define ABANDON 3000
#define WAIT 6000

/* One connection as the manager sees it, and all it was sent, parsed. */
typedef struct fconn {
    gm_conn *c;
    int closed;
    proto_server_msg *msgs;
    int n, cap, seen;            /* seen: how far expect() has read */
} fconn;

extern gm *G;
extern store *st;
extern int stopped;              /* on_stopped() calls */
extern fconn *stop_watch;        /* when set: how many messages it had at the stop */
extern int msgs_at_stop;

/* Criterion's .init / .fini: a manager, a memory store, a private loop. */
void setup(void);
void teardown(void);
/* run the loop until the store has nothing queued */
void drain(void);
/* move the clock on by ms, firing each timer due on the way, in order */
void advance(int64_t ms);
void on_stopped(void *ud);

/* a connection, freed by teardown; conn_close() makes it leave */
fconn *conn_open(void);
void conn_close(fconn *fc);
/* a request with a fresh integer id */
void request(fconn *fc, proto_req r);
void rq(fconn *fc, proto_type t, int64_t game_id);
void rq_move(fconn *fc, int64_t game_id, int cell);
void rq_resume(fconn *fc, int64_t game_id, const char *token);
/* the next message fc received, which must be of type t (or error e) */
const proto_server_msg *expect(fconn *fc, proto_server_type t);
const proto_server_msg *expect_error(fconn *fc, proto_err e);
void expect_none(fconn *fc);
gm_stats stats(void);
/* x creates a game and o joins it; both have read everything. Tokens are
 * copied out when the buffers are given. */
int64_t start_game(fconn *x, fconn *o, char xtoken[], char otoken[]);

#endif
