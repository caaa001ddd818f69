/* tstore.h -- the harness of the test_store* binaries: the store contract (store.h), case for case against both
 * backends: STORE_TEST defines each case twice, as memory/<name> and
 * redis/<name>; the redis one talks to a real redis-server started on a free
 * port for that test. The remaining redis/<name> cases cover what only Redis
 * has: URLs, outages, a hung server, several stores and processes, dead
 * instances. Every wait is a bounded run of the uv loop until a counter
 * reaches its target; every case ends by closing its stores, checking that
 * done() came after the last handle, that uv_loop_close() == 0, and (under
 * ASan) that nothing leaked. */
#ifndef TTT_TSTORE_H
#define TTT_TSTORE_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>
#include "proc.h"
#include "store.h"
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>

#endif
#define WAIT_MS 10000
#define MAX_STORES 4
typedef struct tstore {
    store *s;
    int open, closed;
    int handles_at_done;         /* loop handles (but the harness') when done() ran */
    int ups, downs;
    int published;
    store_game last_pub;
    int64_t pub_ids[64];
    int npub;
    int orphaned;
    uint32_t orph_inst;
    int64_t orph_ids[16];
    size_t orph_n;
    int lost;                    /* lost() events */
} tstore;
typedef struct res {
    int n;                       /* completions: must end at exactly 1 */
    int early;                   /* completed before the call returned */
    int status;
    int have_g;
    store_game g;
    store_open_game list[64];
    int64_t ids[64];
    size_t count;
} res;
typedef struct tstore_harness {
    int redis;                   /* 1 a redis-server, 2 the shared cluster */
    proc_redis r;
    char url[600];               /* what open_store() opens */
    char prefix[32];             /* cluster: this case's own namespace */
    uv_loop_t loop;
    uv_timer_t wake;
    tstore st[MAX_STORES];
    int in_call;
    pid_t child;
} tstore_harness;
extern tstore_harness H;
#define RUN_UNTIL(cond, ms)                                      \
    do {                                                         \
        long long end_ = proc_now_ms() + (ms);                   \
        while (!(cond) && proc_now_ms() < end_)                  \
            uv_run(&H.loop, UV_RUN_ONCE);                        \
    } while (0)
#define CALL(x)          \
    do {                 \
        H.in_call = 1;   \
        x;               \
        H.in_call = 0;   \
    } while (0)
void wake_cb(uv_timer_t *t);
void fini(void);
void ev_published(void *ud, const store_game *g);
void ev_health(void *ud, int up);
void ev_orphaned(void *ud, uint32_t inst, const int64_t *ids, size_t n);
void ev_lost(void *ud);
void count_handle(uv_handle_t *h, void *arg);
void on_closed(void *ud);
void game_cb(void *ud, int status, const store_game *g);
void list_cb(void *ud, int status, const store_open_game *games, size_t n);
void ids_cb(void *ud, int status, const int64_t *ids, size_t n);
void done_cb(void *ud, int status);
void setup(int redis, int aof);
extern const char *open_prefix;
tstore *open_url(const char *url, int wait_up);
tstore *open_store(void);
tstore *other_store(tstore *first);
void close_store(tstore *t);
void teardown(void);
store_game mk_game(uint8_t kind, int waiting, int64_t created_ms);
int game_eq(const store_game *a, const store_game *b);
void check_once(const res *r, const char *what);
res await_one(res *r, const char *what);
res do_create(tstore *t, const store_game *g);
res do_load(tstore *t, int64_t id);
res do_save(tstore *t, const store_game *g);
res do_quick(tstore *t, const store_game *g);
res do_list(tstore *t, size_t max);
res do_claim(tstore *t, int64_t now, int64_t lease, size_t max);
res do_subscribe(tstore *t, int64_t id);
res do_reset(tstore *t, const store_game *g);
int64_t create_ok(tstore *t, const store_game *g);
store_game load_ok(tstore *t, int64_t id);
int64_t wall_ms(void);
int list_has(const res *r, int64_t id);
int ids_has(const res *r, int64_t id);

#ifdef TSTORE_CLUSTER
/* test_store_cluster: the same cases once more, as cluster/<name>, on a
 * 3-primary / 3-replica cluster started once for the binary (a prefix per
 * case keeps them apart); see tstore_cluster.c */
#define STORE_TEST(name, desc)                                     \
    static void name(void);                                        \
    Test(cluster, name, .description = desc, .fini = fini)         \
    {                                                              \
        setup(2, 0);                                               \
        name();                                                    \
        teardown();                                                \
    }                                                              \
    static void name(void)
#else
/* STORE_TEST defines each case twice, as memory/<name> and redis/<name> */
#define STORE_TEST(name, desc)                                     \
    static void name(void);                                        \
    Test(memory, name, .description = desc, .fini = fini)          \
    {                                                              \
        setup(0, 0);                                               \
        name();                                                    \
        teardown();                                                \
    }                                                              \
    Test(redis, name, .description = desc, .fini = fini)           \
    {                                                              \
        setup(1, 0);                                               \
        name();                                                    \
        teardown();                                                \
    }                                                              \
    static void name(void)
#endif

/* the shared cluster's seeds for setup(2); NULL when it did not start */
const char *tstore_cluster_seeds(void);

#endif
