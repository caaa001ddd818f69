/* match.h -- ttt-match internals: options and counters of a run, the
 * connection layer (match_net.c, libwebsockets client on our libuv loop),
 * the game slots and bots (match_play.c), the judge (match_judge.c, pure
 * rules checks) and the figures (match_stats.c).
 *
 * One process, one thread, one uv loop. A "slot" plays one game at a time
 * with its own two player connections (and a spectator connection with
 * --spectate), game after game; --concurrency is the number of slots. */
#ifndef MATCH_H
#define MATCH_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>           /* before libwebsockets.h, see docs/libraries.md */

#include "game.h"
#include "proto.h"

struct lws;
struct lws_context;

#define MATCH_MAX_URLS 16
#define MATCH_QLEN 8         /* queued frames per connection; a bot has <= 2 in flight */
#define MATCH_RX_MAX 8192    /* largest server message we accept (a state is ~250 B) */
#define MATCH_MAX_REPORTS 20 /* violations / lost games described on stderr */

/* ---- options ----------------------------------------------------------- */

typedef enum match_strategy {
    MATCH_RANDOM = 0,
    MATCH_PERFECT = 1,
    MATCH_MIXED = 2
} match_strategy;

typedef struct match_url {
    char host[256];
    char hostport[272];      /* Host header */
    char origin[288];        /* Origin header, http://host:port */
    char path[256];
    int port;
} match_url;

typedef struct match_opts {
    match_url urls[MATCH_MAX_URLS];
    int nurls;
    long long games;         /* games to play; 0 with duration > 0 */
    double duration;         /* seconds of starting new games; 0 = use games */
    int concurrency;
    int strategy;            /* match_strategy */
    int vs_computer;         /* 1: every game is against the server's computer */
    int computer_level;      /* game_ai_level */
    double chaos;            /* --resume-chaos P */
    uint64_t seed;
    int json;
    int spectate;
    double timeout;          /* per-game inactivity, seconds */
    int games_per_conn;      /* games a connection plays before it is replaced */
    int verbose;
    int progress;            /* live line on stderr (a TTY) */
    int workers;             /* --workers: processes sharing the games */
} match_opts;

/* ---- figures ----------------------------------------------------------- */

/* Log-linear histogram of microseconds: exact below 64 us, then 32 buckets
 * per power of two (about 3% wide), up to 2^40 us. Fixed size, no malloc. */
#define MATCH_HIST_BUCKETS (64 + 35 * 32)
typedef struct match_hist {
    uint64_t count;
    uint64_t max;
    uint64_t b[MATCH_HIST_BUCKETS];
} match_hist;

void match_hist_add(match_hist *h, uint64_t us);
/* The value (us) at or below which a fraction p of the samples lie. */
uint64_t match_hist_pct(const match_hist *h, double p);

/* Outcomes of finished games, as counted in the summary. */
typedef enum match_outcome {
    MATCH_X_WIN = 0,
    MATCH_O_WIN,
    MATCH_DRAW,
    MATCH_RESIGN,
    MATCH_ABANDON,
    MATCH_OUTCOMES
} match_outcome;

typedef struct match_stats {
    uint64_t assigned;       /* games handed to slots */
    uint64_t completed;      /* judged to the end */
    uint64_t lost;           /* timed out or cut by an unexpected error */
    uint64_t aborted;        /* a join reply lost to a disconnect: seat unknown */
    uint64_t interrupted;    /* in progress at SIGINT */
    uint64_t moves;          /* plies of completed games */
    uint64_t outcomes[MATCH_OUTCOMES];
    uint64_t violations;
    uint64_t errors[PROTO_ERR_COUNT];  /* error replies by code */
    uint64_t unexpected;     /* errors and events that fail the run */
    uint64_t races;          /* stale/not_your_turn for a move already sent on
                                a dropped connection: expected */
    uint64_t retried;        /* rate_limited / unavailable, sent again */
    uint64_t drops_chaos;    /* --resume-chaos disconnects */
    uint64_t closes_1012;    /* server restart closes seen */
    uint64_t closes_other;   /* other unexpected closes (kill -9: 1006) */
    uint64_t connect_fail;   /* connection attempts that failed */
    uint64_t resumes;        /* successful resumes */
    uint64_t strays;         /* states of earlier games, ignored */
    uint64_t reports;        /* lines written about violations / losses */
    match_hist rtt;          /* move sent -> the state with that move */
} match_stats;

/* ---- the judge (match_judge.c): no I/O, no state ---------------------- */

/* One state as seen by one observer. */
typedef struct match_snap {
    game_state st;           /* moves past ply are zero */
    uint8_t turn;            /* game_mark */
    uint8_t seat[2];         /* proto_seat of X, O */
    uint8_t gap;             /* first state after a reconnect of this observer */
} match_snap;

void match_snap_from_msg(match_snap *s, const proto_server_msg *m, int gap);
/* Same state: everything but gap. */
int match_snap_equal(const match_snap *a, const match_snap *b);
/* Same game: board, moves, status, result, winner, line (not presence). */
int match_snap_same_game(const match_snap *a, const match_snap *b);

/* Each returns NULL when all is well, else a sentence naming the fault. */
/* One state on its own: the moves replay legally to the board, and status,
 * result, winner, line and turn are what game/ says they are. */
const char *match_judge_state(const match_snap *s);
/* next directly after prev, on one unbroken connection: one legal move, or
 * a presence / start / end change on the same board. */
const char *match_judge_step(const match_snap *prev, const match_snap *next);
/* next after prev with a reconnect in between: reachable from prev. */
const char *match_judge_reach(const match_snap *prev, const match_snap *next);
/* obs (split into segments at gap marks) is the reference sequence ref as
 * seen with holes: every segment is a contiguous run of ref, in order. The
 * part of obs from before ref's first state may be unmatched. */
const char *match_judge_embed(const match_snap *ref, size_t nref,
                              const match_snap *obs, size_t nobs);

/* ---- connections and slots -------------------------------------------- */

typedef enum match_conn_state {
    MATCH_C_DOWN = 0,        /* no socket; maybe a reconnect timer pending */
    MATCH_C_CONNECTING,
    MATCH_C_OPEN,
    MATCH_C_CLOSING          /* we asked lws to close it */
} match_conn_state;

/* Why we close a connection ourselves: decides what happens next. */
typedef enum match_close_why {
    MATCH_W_NONE = 0,        /* not us: the server or the network */
    MATCH_W_CHAOS,           /* --resume-chaos: reconnect now, resume */
    MATCH_W_RECYCLE,         /* games_per_conn reached: reconnect now */
    MATCH_W_RESET,           /* game lost: a fresh connection */
    MATCH_W_FINAL            /* run over: stay down */
} match_close_why;

/* A growable array of snaps, reused across games (no malloc after warm-up). */
typedef struct match_seq {
    match_snap *v;
    size_t n, cap;
} match_seq;

struct match_run;
struct match_slot;

typedef struct match_conn {
    struct match_run *run;
    struct match_slot *slot;
    struct lws *wsi;
    uv_timer_t timer;        /* reconnect when down, delayed resend when open */
    uint8_t idx;             /* 0, 1 players; 2 spectator */
    uint8_t state;           /* match_conn_state */
    uint8_t why;             /* match_close_why of a close we asked for */
    uint8_t drop_after_send; /* chaos: close once the queue is written */
    uint8_t dead;            /* down for good (run over) */
    int url;                 /* index into opts.urls */
    unsigned backoff_ms;
    uint16_t peer_close;     /* close code the server sent, 0 if none */

    /* send FIFO of proto_encode_request blocks (LWS_PRE headroom) */
    uint8_t qhead, qn;
    char *qbuf[MATCH_QLEN];
    size_t qlen[MATCH_QLEN];

    /* receive: fragments of one message */
    size_t rxlen;
    int rx_overflow;

    /* role in the slot's current game */
    uint8_t active;          /* observes this game */
    uint8_t mark;            /* game_mark when seated */
    uint8_t seated;          /* has a token for this game */
    uint8_t perfect;         /* plays perfectly (else random) */
    uint8_t join_sent;       /* joins sent for this game (a reply can be lost) */
    uint8_t synced;          /* attached to the game on this connection */
    uint8_t pending;         /* create/join/resume/watch awaiting its reply */
    uint8_t had_gap;         /* reconnected during this game */
    uint8_t gap;             /* next state starts a new segment */
    uint8_t saw_over;
    uint8_t retry_kind;      /* request to resend when the timer fires */
    char token[PROTO_TOKEN_LEN + 1];
    int moved_ply;           /* ply our last move was sent for, -1 none */
    int chaos_ply;           /* ply chaos was rolled for */
    int ghost_ply;           /* ply of a move sent on a connection since lost */
    uint64_t move_t0;        /* uv_hrtime at send, 0 none */
    match_seq seq;

    char rx[MATCH_RX_MAX + 1];
} match_conn;

typedef enum match_phase {
    MATCH_P_IDLE = 0,        /* game assigned; waiting for the creator's connection */
    MATCH_P_CREATING,        /* create sent */
    MATCH_P_JOINING,         /* game id known; the joiner's join pending */
    MATCH_P_PLAYING,
    MATCH_P_DONE             /* no more games for this slot */
} match_phase;

typedef struct match_slot {
    struct match_run *run;
    int idx;
    uint8_t phase;           /* match_phase */
    uint8_t creator;         /* conn index holding X (the creator) */
    uint8_t prev_valid;
    uint32_t gen;            /* game number within the slot; tags request ids */
    int64_t game_id;         /* 0 until created */
    int64_t prev_id;
    match_snap prev_final;
    uint64_t last_progress;  /* uv_now ms */
    int games_on_conn;
    match_conn conn[3];
} match_slot;

/* A set of int64 (game ids), open addressing; grows by doubling. */
typedef struct match_idset {
    int64_t *v;
    size_t n, cap;
} match_idset;

typedef struct match_run {
    match_opts opt;
    match_stats st;
    uv_loop_t loop;
    struct lws_context *ctx;
    uv_timer_t tick;
    uv_signal_t sigint, sigterm;
    match_slot *slots;
    int nslots;
    uint64_t rng;
    match_idset ids;
    uint64_t t_start;        /* uv_hrtime at start */
    uint64_t t_end;          /* uv_hrtime when the last game ended */
    int no_more;             /* start no new games */
    int interrupted;
    int finishing;           /* connections being closed for good */
    int conns_total, conns_dead;
    int tearing_down;
    int fatal;               /* could not run (bad setup) */
} match_run;

/* match_net.c */
int match_net_init(match_run *r);        /* lws context on r->loop */
void match_net_conn_init(match_run *r, match_slot *s, match_conn *c, int idx, int url);
void match_net_connect(match_conn *c);
/* Queue a request; 0 or -1 (not open, queue full or encoding failed). */
int match_net_send(match_conn *c, const proto_req *req);
/* Close once the queue is written (chaos: a move left in flight). */
void match_net_close_after_send(match_conn *c);
/* Close our side; what follows depends on why (match_close_why). */
void match_net_close(match_conn *c, int why);
/* Reconnect after a delay (ms), to the next URL. */
void match_net_reconnect_later(match_conn *c, unsigned delay_ms);
void match_net_destroy(match_run *r);    /* lws_context_destroy */
/* The connection timer's callback: reconnect when down, else re-act. */
void match_net_timer_cb(uv_timer_t *t);

/* match_play.c: called by match_net.c */
void match_play_start(match_run *r);
void match_play_on_open(match_conn *c);
void match_play_on_message(match_conn *c, const char *buf, size_t len);
/* The connection is gone (closed or failed); c->why says whether we asked. */
void match_play_on_down(match_conn *c, int failed);
void match_play_tick(match_run *r);      /* timeouts, duration; every 200 ms */
void match_play_stop(match_run *r);      /* SIGINT: end now */
void match_play_conn_dead(match_run *r); /* one more connection down for good */
void match_play_free(match_run *r);

/* match_stats.c */
void match_stats_progress(const match_run *r, int final);
void match_stats_print(const match_run *r, int json);
uint64_t match_rng_below(uint64_t *rng, uint64_t n);
double match_rng_unit(uint64_t *rng);
int match_idset_add(match_idset *s, int64_t id);  /* 1 added, 0 present, -1 OOM */
void match_idset_free(match_idset *s);

/* match_workers.c: fork n workers, each calling play() on its share of the
 * games and slots, and merge their counters and game ids into r. Returns
 * the number of workers run, or -1 if none could start. */
int match_workers_run(match_run *r, int n, int (*play)(match_run *));

#endif
