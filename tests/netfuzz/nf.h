/* nf.h -- what the parts of ttt-netfuzz share: its options, the run's state,
 * the deterministic generator, and the functions each part offers the others.
 *   netfuzz.c   options, the self-test, main
 *   nf_run.c    the server under test, connections, the check that a game still works
 *   nf_gen.c    message templates, mutations, frame building
 *   nf_phase.c  the three phases (frames, http, flows)
 * nf_wire.c (sockets, WebSocket framing) and nf_check.c (the judge) are below them. */
#ifndef NF_H
#define NF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nf_check.h"
#include "nf_wire.h"
#include "proc.h"

#ifndef TTT_SERVER_BIN
#define TTT_SERVER_BIN "build/test/ttt-server"
#endif
#ifndef TTT_WEB_DIR
#define TTT_WEB_DIR "web"
#endif

#define T_STEP 10000       /* ms for one expected reply in the checks */
#define FLOW_CONNS 6
#define FRAME_CONNS 4
#define ITEM_CAP 16384
#define LAST_ITEMS 4

enum { PH_FRAMES = 1, PH_HTTP = 2, PH_FLOWS = 4 };

typedef struct opts {
    const char *server, *web;
    uint64_t seed;
    long frames, http, flows;
    int time_limit_s;
    int phases;
    int redis;
    int keep;
    int verbose;
    int rate_limit;
} opts;

#define CONN_SEATS 8

typedef struct conn {
    nf_ws ws;
    nf_seen seen;
    int open;
    int64_t my_game[CONN_SEATS];   /* seats this connection was given (flows) */
    unsigned nmy;
} conn;

typedef struct nf {
    opts o;
    char *dir;
    char log[1024];
    int port;
    pid_t pid;
    int exit_status;           /* from waitpid once it exited */
    proc_redis redis;
    int has_redis;
    long long t0, deadline;
    nf_judge judge;
    int64_t next_id;
    /* the last items sent, for the report when the server dies: a crash
     * may come from the item before the last (an answer completes later) */
    struct { char desc[96]; unsigned char b[ITEM_CAP]; size_t len; } last[LAST_ITEMS];
    unsigned nlast;
    /* per-phase counters */
    uint64_t items, frames_sent, bytes_sent, reconnects, timed_out;
    uint64_t close_codes[16];  /* 1000..1015 */
    char fail[1024];
} nf;

/* ---- the generator: item i of a phase has its own, seeded by (seed, phase, i) ---- */
typedef struct rng { uint64_t s; } rng;
uint64_t nf_rng_next(rng *r);
rng nf_item_rng(uint64_t seed, int phase, uint64_t i);
static inline uint32_t rng_below(rng *r, uint32_t n) { return n ? (uint32_t)(nf_rng_next(r) % n) : 0; }
static inline int rng_pct(rng *r, int pct) { return (int)rng_below(r, 100) < pct; }


/* ---- nf_run.c ---- */
static inline int out_of_time(const nf *n) { return nf_now_ms() >= n->deadline; }
int nf_fail(nf *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int nf_server_alive(nf *n);
int nf_connect_failed(nf *n, const char *what);
void nf_note_item(nf *n, const char *desc, const void *bytes, size_t len);
void nf_print_items(const nf *n);
int nf_server_start(nf *n);
int nf_scan_log(const nf *n, int print);
void nf_conn_close(conn *c, int rst);
int nf_conn_drain(nf *n, conn *c, int wait_ms);
int nf_conn_ensure(nf *n, conn *c);
int nf_check_game(nf *n, const char *after);

/* ---- nf_gen.c ---- */
int64_t nf_pick_game(nf *n, rng *r);
size_t nf_build_msg(nf *n, rng *r, int64_t id, char *out, size_t cap, int *type_out,
                    int64_t *gid_out, const nf_seat **seat_out);
size_t nf_mutate(rng *r, unsigned char *b, size_t len, size_t cap);
size_t nf_build_frames(rng *r, const unsigned char *msg, size_t mlen, unsigned char *out,
                       size_t cap, int *nframes, int *closes, const char **desc);
int nf_write_item(rng *r, int fd, const unsigned char *b, size_t len);

/* ---- nf_phase.c ---- */
int nf_phase_frames(nf *n);
int nf_phase_http(nf *n);
int nf_phase_flows(nf *n);

#endif
