/* test_redis_cluster.c -- the Redis Cluster client (server/store/redis_*.c):
 * routing, MOVED, ASK, sharded pub/sub, a slot moved away and a primary's kill -9 against a real
 * 3-primary / 3-replica cluster, a single redis-server through the same API,
 * and nodes that answer garbage or freeze. Everything waits on conditions
 * with bounded time-outs; every test ends with uv_loop_close() == 0. Key
 * slots and the parsers alone are in test_redis_pure.c, the shared helpers
 * in test_redis_help.c (test_redis_cluster.h). */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>
#include <hiredis/hiredis.h>

#include "proc.h"
#include "rcluster.h"
#include "redis_cluster.h"
#include "redis_slot.h"
#include "redis_sub.h"
#include "test_redis_cluster.h"

/* ---- the real cluster: routing, MOVED, ASK, sharded pub/sub, slot moves -------------------- */

static rcluster rc;
static void cluster_up(void)
{
    cr_assert_eq(rcluster_start(&rc, 3, 1), 0, "could not start a 3+3 cluster");
}
static void cluster_down(void) { rcluster_stop(&rc); }

/* a key (prefix + n) whose slot the cluster gives to node `want` (-1: any) */
static void key_on(char *out, size_t sz, const char *prefix, int want, int *owner_out)
{
    for (int n = 0; n < 100000; n++) {
        snprintf(out, sz, "%s%d", prefix, n);
        int o = rcluster_owner(&rc, -1, redis_key_slot(out, strlen(out)));
        if (want < 0 || o == want) {
            if (owner_out)
                *owner_out = o;
            return;
        }
    }
    cr_assert_fail("no key found on node %d", want);
}

Test(cluster, keyslot_and_routing, .init = cluster_up, .fini = cluster_down, .timeout = 120,
     .description = "CLUSTER KEYSLOT agrees on 2000 keys; 300 keys land on the owning primary")
{
    for (int i = 0; i < 2000; i++) {
        char k[64], out[32];
        int len = snprintf(k, sizeof k, i % 3 ? "key:%d:%x" : "{tag%d}rest%x", i, i * 7919);
        cr_assert_eq(rcluster_cmd(&rc, i % rc.n, out, sizeof out, "CLUSTER KEYSLOT %b", k, (size_t)len), 0);
        cr_assert_eq((unsigned)atoi(out), redis_key_slot(k, (size_t)len), "key %s", k);
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    rcl *c;
    cr_assert_eq(rcl_open(&c, &loop, rc.seeds, NULL, NULL, NULL), 0);
    cr_assert(tr_run_until(&loop, tr_map_ready, c, 10000), "no slot map");
    cr_assert_eq(rcl_mode(c), RCL_MODE_CLUSTER);
    static res r[300];
    for (int i = 0; i < 300; i++) {
        char k[32], v[32];
        snprintf(k, sizeof k, "route:%d", i);
        snprintf(v, sizeof v, "v%d", i);
        cr_assert_eq(tr_send_cmd(c, &r[i], "SET", k, v, NULL), 0);
    }
    for (int i = 0; i < 300; i++) {
        cr_assert(tr_run_until(&loop, tr_res_done, &r[i], 10000));
        cr_assert_eq(r[i].status, RCL_OK, "SET %d: %s", i, rcl_err_name(r[i].status));
        cr_assert_str_eq(r[i].str, "OK");
    }
    int per_node[RCLUSTER_MAX] = {0};
    for (int i = 0; i < 300; i++) {
        char k[32], v[32], out[64], host[RCL_HOST_MAX];
        snprintf(k, sizeof k, "route:%d", i);
        snprintf(v, sizeof v, "v%d", i);
        unsigned slot = redis_key_slot(k, strlen(k));
        int o = rcluster_owner(&rc, -1, slot);
        cr_assert_geq(o, 0);
        cr_assert_eq(rcl_slot_owner(c, slot, host, sizeof host), rc.node[o].port);
        /* asked directly, the owner has it (a wrong node would answer MOVED) */
        cr_assert_eq(rcluster_cmd(&rc, o, out, sizeof out, "GET %s", k), 0);
        cr_assert_str_eq(out, v);
        per_node[o]++;
    }
    int used = 0;
    for (int i = 0; i < rc.n; i++)
        used += per_node[i] > 0;
    cr_assert_eq(used, 3, "300 keys should spread over the 3 primaries");
    rcl_node_info ni[RCLUSTER_MAX + 2];
    size_t nn = rcl_nodes(c, ni, RCLUSTER_MAX + 2);
    unsigned total = 0, measured = 0;
    for (size_t i = 0; i < nn && i < RCLUSTER_MAX + 2; i++) {
        total += ni[i].slots;
        measured += ni[i].slots && ni[i].rtt_us > 0;
    }
    cr_assert_eq(total, 16384, "every slot has one owner in the map");
    cr_assert_eq(measured, 3, "each primary has a round-trip figure");
    cr_assert_eq(rcl_get_stats(c)->moved, 0);
    tr_close_all(&loop, c, NULL);
}

/* a stream of INCRs on one key, one in flight at a time */
typedef struct flow {
    rcl *c;
    const char *key;
    uv_timer_t t;
    int inflight, ok, fail, bad, stop;
    int fail_status[8];
    long long last;
} flow;

static void flow_cb(rcl *c, int status, redisReply *reply, int sent, void *priv)
{
    (void)c; (void)sent;
    flow *f = priv;
    f->inflight = 0;
    if (status == RCL_OK && reply->type == REDIS_REPLY_INTEGER) {
        f->ok++;
        f->last = reply->integer;
    } else if (status == RCL_OK) {
        f->bad++;                       /* an error reply: must never happen */
        fprintf(stderr, "flow: error reply %.*s\n", (int)reply->len, reply->str);
    } else {
        f->fail++;
        f->fail_status[-status & 7]++;
    }
}

static void flow_tick(uv_timer_t *t)
{
    flow *f = t->data;
    if (f->inflight || f->stop)
        return;
    const char *argv[2] = {"INCR", f->key};
    size_t len[2] = {4, strlen(f->key)};
    if (rcl_command_argv(f->c, f->key, len[1], 2, argv, len, flow_cb, f) == 0)
        f->inflight = 1;
}

static void flow_start(flow *f, uv_loop_t *loop, rcl *c, const char *key)
{
    memset(f, 0, sizeof *f);
    f->c = c;
    f->key = key;
    uv_timer_init(loop, &f->t);
    f->t.data = f;
    uv_timer_start(&f->t, flow_tick, 0, 2);
}

static int flow_idle(void *a) { return !((flow *)a)->inflight; }
static void flow_stop(flow *f, uv_loop_t *loop)
{
    f->stop = 1;
    cr_assert(tr_run_until(loop, flow_idle, f, 10000));
    uv_close((uv_handle_t *)&f->t, NULL);
}

typedef struct flow_more { flow *f; int ok; } flow_more;
static int flow_reached(void *a) { flow_more *m = a; return m->f->ok >= m->ok; }

static int tryagain_seen(void *a) { return ((const rcl_stats *)a)->tryagain > 0; }

/* close a second client on a loop that stays in use */
static void close_sub_client(uv_loop_t *loop, rcl *c)
{
    tr_closed_flag = 0;
    rcl_close(c, tr_on_closed, NULL);
    cr_assert(tr_run_until(loop, tr_int_true, &tr_closed_flag, 5000));
}

Test(cluster, migration_moved_ask_and_sub, .init = cluster_up, .fini = cluster_down, .timeout = 120,
     .description = "commands flow through a slot migration (ASK, then MOVED) with no loss; "
                    "TRYAGAIN is retried within bounds; a subscription follows its slot")
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    rcl *c;
    cr_assert_eq(rcl_open(&c, &loop, rc.seeds, NULL, NULL, NULL), 0);
    cr_assert(tr_run_until(&loop, tr_map_ready, c, 10000));

    /* -- MOVED and ASK while INCRs flow -- */
    char key[32];
    int src;
    key_on(key, sizeof key, "mig:", -1, &src);
    int dst = rcluster_other_primary(&rc, src);
    cr_assert_geq(dst, 0);
    unsigned slot = redis_key_slot(key, strlen(key));
    flow f;
    flow_start(&f, &loop, c, key);
    flow_more m = {&f, 20};
    cr_assert(tr_run_until(&loop, flow_reached, &m, 10000));
    cr_assert_eq(rcluster_migrate_begin(&rc, slot, src, dst), 0);
    m.ok = f.ok + 20;
    cr_assert(tr_run_until(&loop, flow_reached, &m, 10000), "no progress while MIGRATING");
    cr_assert_eq(rcluster_migrate_keys(&rc, slot, src, dst), 0);
    m.ok = f.ok + 20;
    cr_assert(tr_run_until(&loop, flow_reached, &m, 10000), "no progress after MIGRATE");
    cr_assert_geq(rcl_get_stats(c)->ask, 1, "the key left: the source must have said ASK");
    cr_assert_eq(rcl_get_stats(c)->moved, 0);
    cr_assert_eq(rcluster_migrate_end(&rc, slot, dst), 0);
    m.ok = f.ok + 20;
    cr_assert(tr_run_until(&loop, flow_reached, &m, 10000), "no progress after SETSLOT NODE");
    cr_assert_geq(rcl_get_stats(c)->moved, 1, "the old owner must have said MOVED");
    flow_stop(&f, &loop);
    cr_assert_eq(f.fail, 0, "%d commands failed", f.fail);
    cr_assert_eq(f.bad, 0);
    char out[64];
    cr_assert_eq(rcluster_cmd(&rc, dst, out, sizeof out, "GET %s", key), 0);
    cr_assert_eq(atoll(out), f.ok, "every INCR applied exactly once");
    cr_assert_eq(f.last, f.ok);
    char host[RCL_HOST_MAX];
    cr_assert_eq(rcl_slot_owner(c, slot, host, sizeof host), rc.node[dst].port, "map learnt the move");

    /* -- TRYAGAIN: a two-key command while a migration has split its keys -- */
    char ka[32], kb[40];
    int t_src;
    key_on(ka, sizeof ka, "{try}", -1, &t_src);   /* "{try}N": every N shares one slot */
    snprintf(kb, sizeof kb, "%sb", ka);
    unsigned t_slot = redis_key_slot(ka, strlen(ka));
    int t_dst = rcluster_other_primary(&rc, t_src);
    res r;
    cr_assert_eq(CMD(&loop, c, &r, "SET", ka, "A"), RCL_OK);
    cr_assert_eq(CMD(&loop, c, &r, "SET", kb, "B"), RCL_OK);
    cr_assert_eq(rcluster_migrate_begin(&rc, t_slot, t_src, t_dst), 0);
    cr_assert_eq(rcluster_cmd(&rc, t_src, out, sizeof out, "MIGRATE 127.0.0.1 %d %s 0 5000",
                              rc.node[t_dst].port, ka), 0);
    cr_assert_str_eq(out, "OK");
    /* bounded: a client allowed 2 retries gives up, saying it never ran */
    rcl_opts few = {.retry_max = 2, .timeout_ms = 5000};
    rcl *c2;
    cr_assert_eq(rcl_open(&c2, &loop, rc.seeds, &few, NULL, NULL), 0);
    cr_assert(tr_run_until(&loop, tr_map_ready, c2, 10000));
    cr_assert_eq(CMD(&loop, c2, &r, "MGET", ka, kb), RCL_EUNAVAIL);
    cr_assert_eq(r.sent, 0);
    cr_assert_eq(rcl_get_stats(c2)->tryagain, 3, "1 try + 2 retries");
    /* eventual: retried until the migration completes */
    rcl_opts many = {.retry_max = 100, .timeout_ms = 10000, .backoff_max_ms = 50};
    rcl *c3;
    cr_assert_eq(rcl_open(&c3, &loop, rc.seeds, &many, NULL, NULL), 0);
    cr_assert(tr_run_until(&loop, tr_map_ready, c3, 10000));
    cr_assert_eq(tr_send_cmd(c3, &r, "MGET", ka, kb, NULL), 0);
    const rcl_stats *st3 = rcl_get_stats(c3);
    cr_assert(tr_run_until(&loop, tryagain_seen, (void *)st3, 5000), "no TRYAGAIN seen");
    cr_assert_eq(r.calls, 0, "completed while the keys were split");
    cr_assert_eq(rcluster_migrate_keys(&rc, t_slot, t_src, t_dst), 0);
    cr_assert_eq(rcluster_migrate_end(&rc, t_slot, t_dst), 0);
    cr_assert(tr_run_until(&loop, tr_res_done, &r, 10000));
    cr_assert_eq(r.status, RCL_OK, "MGET after the migration: %s", rcl_err_name(r.status));
    cr_assert_eq(r.type, REDIS_REPLY_ARRAY);
    close_sub_client(&loop, c2);
    close_sub_client(&loop, c3);

    /* -- sharded pub/sub: SSUBSCRIBE on the owner, SPUBLISH from another connection -- */
    subrec sr = {0};
    rsub *s = rsub_open(c, tr_on_msg, tr_on_ev, &sr);
    cr_assert_not_null(s);
    char ch[32];
    int ch_src;
    key_on(ch, sizeof ch, "ch:", -1, &ch_src);
    cr_assert_eq(rsub_subscribe(s, ch, strlen(ch)), 0);
    cr_assert(tr_run_until(&loop, tr_sub_on, &sr, 10000), "never subscribed");
    tr_publish_and_see(&loop, c, &sr, ch, "hello");

    /* -- the channel's slot moves away: Redis unsubscribes us, we follow -- */
    unsigned ch_slot = redis_key_slot(ch, strlen(ch));
    int ch_dst = rcluster_other_primary(&rc, ch_src);
    cr_assert_eq(rcluster_migrate_begin(&rc, ch_slot, ch_src, ch_dst), 0);
    cr_assert_eq(rcluster_migrate_keys(&rc, ch_slot, ch_src, ch_dst), 0);
    cr_assert_eq(rcluster_migrate_end(&rc, ch_slot, ch_dst), 0);
    cr_assert(tr_run_until(&loop, tr_sub_back, &sr, 10000), "not resubscribed after the slot moved");
    cr_assert_geq(sr.lost, 1);
    cr_assert_eq(rcl_slot_owner(c, ch_slot, host, sizeof host), rc.node[ch_dst].port);
    tr_publish_and_see(&loop, c, &sr, ch, "after-move");
    /* Redis 7.0 pushes sunsubscribe when the slot leaves: handled as a push,
     * not as a broken link (which would also resubscribe, more slowly) */
    cr_assert_eq(rsub_get_stats(s)->pushed_unsub, 1);
    tr_close_all(&loop, c, s);
}

/* ---- kill -9 of a primary -------------------------------------------------------------- */

static int failed_then_ok(void *a)
{
    flow_more *m = a;
    return m->f->fail > 0 && m->f->ok >= m->ok;
}

Test(cluster, primary_kill9, .init = cluster_up, .fini = cluster_down, .timeout = 120,
     .description = "kill -9 of a primary: unavailable during the failover, then served by the "
                    "promoted replica; the subscription comes back")
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    rcl_opts o = {.timeout_ms = 1000};
    rcl *c;
    cr_assert_eq(rcl_open(&c, &loop, rc.seeds, &o, NULL, NULL), 0);
    cr_assert(tr_run_until(&loop, tr_map_ready, c, 10000));
    char key[32], ch[32];
    int victim, chv;
    key_on(key, sizeof key, "fo:", -1, &victim);
    key_on(ch, sizeof ch, "foch:", victim, &chv);
    subrec sr = {0};
    rsub *s = rsub_open(c, tr_on_msg, tr_on_ev, &sr);
    cr_assert_eq(rsub_subscribe(s, ch, strlen(ch)), 0);
    cr_assert(tr_run_until(&loop, tr_sub_on, &sr, 10000));

    flow f;
    flow_start(&f, &loop, c, key);
    flow_more m = {&f, 10};
    cr_assert(tr_run_until(&loop, flow_reached, &m, 10000));
    rcluster_kill9(&rc, victim);
    m.ok = f.ok + 10;
    cr_assert(tr_run_until(&loop, failed_then_ok, &m, 30000),
              "no recovery: ok %d fail %d", f.ok, f.fail);
    flow_stop(&f, &loop);
    cr_assert_eq(f.bad, 0, "an error reply leaked through");
    cr_assert_eq(f.fail, f.fail_status[-RCL_EUNAVAIL] + f.fail_status[-RCL_ETIMEOUT],
                 "failures other than unavailable/timeout");
    int now_owner = rcluster_owner(&rc, -1, redis_key_slot(key, strlen(key)));
    cr_assert_neq(now_owner, victim);
    cr_assert(tr_run_until(&loop, tr_sub_back, &sr, 15000), "subscription not restored");
    tr_publish_and_see(&loop, c, &sr, ch, "after-failover");
    cr_log_info("failover: ok %d, failed %d (unavail %d, timeout %d), refreshes %llu",
                f.ok, f.fail, f.fail_status[-RCL_EUNAVAIL], f.fail_status[-RCL_ETIMEOUT],
                (unsigned long long)rcl_get_stats(c)->refreshes);
    tr_close_all(&loop, c, s);
}

/* ---- a single redis-server through the same API ------------------------------------------- */

Test(single, cluster_of_one, .timeout = 60,
     .description = "a non-cluster redis-server: all slots on it, commands, SSUBSCRIBE/SPUBLISH, "
                    "a restart, and close completing everything with ECLOSED")
{
    proc_redis pr;
    cr_assert_eq(proc_redis_start(&pr, 0), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    char seed[64];
    snprintf(seed, sizeof seed, "localhost:%d", pr.port);   /* resolved by uv_getaddrinfo */
    rcl_opts o = {.timeout_ms = 1000};
    rcl *c;
    cr_assert_eq(rcl_open(&c, &loop, seed, &o, NULL, NULL), 0);
    cr_assert(tr_run_until(&loop, tr_map_ready, c, 10000));
    cr_assert_eq(rcl_mode(c), RCL_MODE_SINGLE);
    res r;
    cr_assert_eq(CMD(&loop, c, &r, "SET", "{a}x", "1"), RCL_OK);
    cr_assert_eq(CMD(&loop, c, &r, "SET", "b", "2"), RCL_OK);
    cr_assert_eq(CMD(&loop, c, &r, "GET", "b"), RCL_OK);
    cr_assert_str_eq(r.str, "2");
    cr_assert_eq(CMD(&loop, c, &r, "HGET", "b", "f"), RCL_OK);
    cr_assert_eq(r.type, REDIS_REPLY_ERROR, "the command's own error comes back as a reply");

    subrec sr = {0};
    rsub *s = rsub_open(c, tr_on_msg, tr_on_ev, &sr);
    cr_assert_eq(rsub_subscribe(s, "ttt:{7}:ch", 10), 0);
    cr_assert(tr_run_until(&loop, tr_sub_on, &sr, 10000));
    tr_publish_and_see(&loop, c, &sr, "ttt:{7}:ch", "one");

    /* restart: unavailable while down, then back, subscription restored */
    proc_redis_stop(&pr, 1);
    cr_assert_eq(tr_send_cmd(c, &r, "GET", "b", NULL), 0);
    cr_assert(tr_run_until(&loop, tr_res_done, &r, 10000));
    cr_assert(r.status == RCL_EUNAVAIL || r.status == RCL_ETIMEOUT, "got %s", rcl_err_name(r.status));
    cr_assert_eq(proc_redis_restart(&pr), 0);
    cr_assert(tr_run_until(&loop, tr_sub_back, &sr, 10000), "not resubscribed after restart");
    tr_publish_and_see(&loop, c, &sr, "ttt:{7}:ch", "two");

    /* close with commands outstanding: each completes once, with ECLOSED */
    static res many[100];
    for (int i = 0; i < 100; i++)
        cr_assert_eq(tr_send_cmd(c, &many[i], "INCR", "n", NULL), 0);
    rsub_close(s);
    tr_closed_flag = 0;
    rcl_close(c, tr_on_closed, NULL);
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(many[i].calls, 1, "command %d completed %d times", i, many[i].calls);
        cr_assert_eq(many[i].status, RCL_ECLOSED);
    }
    cr_assert(tr_run_until(&loop, tr_int_true, &tr_closed_flag, 5000));
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(many[i].calls, 1);
    proc_redis_stop(&pr, 0);
}

/* ---- hostile and frozen nodes -------------------------------------------------------------- */

typedef struct junk_srv {
    uv_tcp_t srv;
    const char *junk;
    size_t len;
    int conns;
} junk_srv;

static void junk_closed(uv_handle_t *h) { free(h); }
static void junk_written(uv_write_t *w, int st) { (void)st; free(w); }
static void junk_alloc(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    (void)h; (void)n;
    static char buf[4096];
    *b = uv_buf_init(buf, sizeof buf);
}
static void junk_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    junk_srv *j = s->data;
    if (n < 0) {
        uv_close((uv_handle_t *)s, junk_closed);
        return;
    }
    if (n > 0) {   /* answer every read with the junk */
        uv_write_t *w = malloc(sizeof *w);
        uv_buf_t jb = uv_buf_init((char *)j->junk, (unsigned)j->len);
        uv_write(w, s, &jb, 1, junk_written);
    }
}
static void junk_conn(uv_stream_t *srv, int st)
{
    if (st < 0)
        return;
    junk_srv *j = srv->data;
    uv_tcp_t *cl = malloc(sizeof *cl);
    uv_tcp_init(srv->loop, cl);
    cl->data = j;
    if (uv_accept(srv, (uv_stream_t *)cl) == 0) {
        j->conns++;
        uv_read_start((uv_stream_t *)cl, junk_alloc, junk_read);
    } else {
        uv_close((uv_handle_t *)cl, junk_closed);
    }
}

static long long vm_peak_kb(void)
{
    char *st = proc_read_file("/proc/self/status");
    const char *p = st ? strstr(st, "VmPeak:") : NULL;
    long long kb = p ? atoll(p + 7) : 0;
    free(st);
    return kb;
}

static void junk_case(const char *junk, size_t len)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    junk_srv j = {.junk = junk, .len = len};
    uv_tcp_init(&loop, &j.srv);
    j.srv.data = &j;
    int port = proc_free_port();
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", port, &a);
    cr_assert_eq(uv_tcp_bind(&j.srv, (struct sockaddr *)&a, 0), 0);
    cr_assert_eq(uv_listen((uv_stream_t *)&j.srv, 16, junk_conn), 0);
    char seed[64];
    snprintf(seed, sizeof seed, "127.0.0.1:%d", port);
    rcl_opts o = {.timeout_ms = 700};
    rcl *c;
    cr_assert_eq(rcl_open(&c, &loop, seed, &o, NULL, NULL), 0);
    rsub *s = rsub_open(c, tr_on_msg, tr_on_ev, &(subrec){0});
    rsub_subscribe(s, "x", 1);
    static res r[20];
    for (int i = 0; i < 20; i++)
        cr_assert_eq(tr_send_cmd(c, &r[i], "GET", i % 2 ? "a" : "b", NULL), 0);
    for (int i = 0; i < 20; i++) {
        cr_assert(tr_run_until(&loop, tr_res_done, &r[i], 5000), "command %d never completed", i);
        cr_assert_eq(r[i].calls, 1);
        cr_assert(r[i].status == RCL_EUNAVAIL || r[i].status == RCL_ETIMEOUT,
                  "junk gave %s", rcl_err_name(r[i].status));
    }
    cr_assert_gt(j.conns, 0, "the client never connected to the junk node");
    uv_close((uv_handle_t *)&j.srv, NULL);
    tr_close_all(&loop, c, s);
}

Test(hostile, garbage_node, .timeout = 60,
     .description = "a node answering junk (unsolicited replies, binary, hostile maps) gives errors, no crash")
{
    junk_case("+OK\r\n+OK\r\n+OK\r\n", 15);
    static const char bin[] = "\x00\xff\x13\x37garbage\r\n\r\n$-7\r\n*99999999999\r\n";
    junk_case(bin, sizeof bin - 1);
    const char *map = "*1\r\n*3\r\n:0\r\n:99999\r\n*2\r\n$9\r\n127.0.0.1\r\n:0\r\n";
    junk_case(map, strlen(map));
    const char *deep = "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n";
    junk_case(deep, strlen(deep));
    junk_case("-ERR nope\r\n", 11);
    /* hiredis' own reader callocs 8 GB for this (and 0.14.1 aborts when an
     * allocation fails): the links' reader refuses it instead */
    long long before = vm_peak_kb();
    junk_case("*1000000000\r\n", 13);
    cr_assert_lt(vm_peak_kb() - before, 1024 * 1024, "a 1e9-element array header was allocated");
}

typedef struct countdown { res *r; int n; } countdown;
static int all_done(void *a)
{
    countdown *d = a;
    for (int i = 0; i < d->n; i++)
        if (!d->r[i].calls)
            return 0;
    return 1;
}

Test(hostile, frozen_node, .timeout = 60,
     .description = "a SIGSTOPped redis-server gives time-outs, and service resumes after SIGCONT")
{
    proc_redis pr;
    cr_assert_eq(proc_redis_start(&pr, 0), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    char seed[64];
    snprintf(seed, sizeof seed, "127.0.0.1:%d", pr.port);
    rcl_opts o = {.timeout_ms = 500};
    rcl *c;
    cr_assert_eq(rcl_open(&c, &loop, seed, &o, NULL, NULL), 0);
    res r;
    cr_assert_eq(CMD(&loop, c, &r, "SET", "k", "v"), RCL_OK);
    kill(pr.pid, SIGSTOP);
    static res many[10];
    for (int i = 0; i < 10; i++)
        cr_assert_eq(tr_send_cmd(c, &many[i], "GET", "k", NULL), 0);
    countdown d = {many, 10};
    cr_assert(tr_run_until(&loop, all_done, &d, 5000));
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(many[i].calls, 1);
        cr_assert(many[i].status == RCL_ETIMEOUT || many[i].status == RCL_EUNAVAIL,
                  "frozen node gave %s", rcl_err_name(many[i].status));
    }
    cr_assert_geq(rcl_get_stats(c)->timeouts, 1);
    kill(pr.pid, SIGCONT);
    long long end = proc_now_ms() + 10000;
    int ok = 0;
    while (!ok && proc_now_ms() < end) {
        CMD(&loop, c, &r, "GET", "k");
        ok = r.status == RCL_OK && strcmp(r.str, "v") == 0;
    }
    cr_assert(ok, "no service after SIGCONT");
    tr_close_all(&loop, c, NULL);
    proc_redis_stop(&pr, 0);
}

Test(hostile, refused_seed, .timeout = 30,
     .description = "a seed that refuses connections: commands end unavailable, never sent")
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    char seed[64];
    snprintf(seed, sizeof seed, "127.0.0.1:%d", proc_free_port());
    rcl_opts o = {.timeout_ms = 400};
    rcl *c;
    cr_assert_eq(rcl_open(&c, &loop, seed, &o, NULL, NULL), 0);
    res r;
    cr_assert_eq(CMD(&loop, c, &r, "GET", "k"), RCL_EUNAVAIL);
    cr_assert_eq(r.sent, 0, "a refused command was never sent");
    tr_close_all(&loop, c, NULL);
    uv_loop_init(&loop);
    cr_assert_eq(rcl_open(&c, &loop, "nohostport", NULL, NULL, NULL), RCL_EINVAL);
    cr_assert_eq(rcl_open(&c, &loop, "a:0", NULL, NULL, NULL), RCL_EINVAL);
    cr_assert_eq(rcl_open(&c, &loop, "127.0.0.1:1,", NULL, NULL, NULL), RCL_EINVAL);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

/* ---- AUTH on every connection ------------------------------------------------------------- */

Test(single, auth, .timeout = 60,
     .description = "with requirepass: the right password serves commands and subscriptions; "
                    "none or a wrong one ends unavailable, never sent")
{
    proc_redis pr;
    cr_assert_eq(proc_redis_start(&pr, 0), 0);
    redisContext *adm = redisConnect("127.0.0.1", pr.port);
    cr_assert(adm && !adm->err);
    redisReply *ar = redisCommand(adm, "CONFIG SET requirepass s3cret");
    cr_assert(ar && ar->type == REDIS_REPLY_STATUS);
    freeReplyObject(ar);
    redisFree(adm);

    uv_loop_t loop;
    uv_loop_init(&loop);
    char seed[64];
    snprintf(seed, sizeof seed, "127.0.0.1:%d", pr.port);
    rcl_opts o = {.timeout_ms = 600, .password = "s3cret"};
    rcl *c;
    cr_assert_eq(rcl_open(&c, &loop, seed, &o, NULL, NULL), 0);
    res r;
    cr_assert_eq(CMD(&loop, c, &r, "SET", "k", "v"), RCL_OK);
    cr_assert_str_eq(r.str, "OK");
    subrec sr = {0};
    rsub *s = rsub_open(c, tr_on_msg, tr_on_ev, &sr);
    cr_assert_eq(rsub_subscribe(s, "chan", 4), 0);
    cr_assert(tr_run_until(&loop, tr_sub_on, &sr, 10000), "subscriber connection did not AUTH");
    tr_publish_and_see(&loop, c, &sr, "chan", "p");
    tr_close_all(&loop, c, s);

    const char *pw[2] = {NULL, "wrong"};
    for (int i = 0; i < 2; i++) {
        uv_loop_init(&loop);
        rcl_opts bad = {.timeout_ms = 600, .password = pw[i]};
        cr_assert_eq(rcl_open(&c, &loop, seed, &bad, NULL, NULL), 0);
        cr_assert_eq(CMD(&loop, c, &r, "GET", "k"), RCL_EUNAVAIL);
        cr_assert_eq(r.sent, 0);
        if (pw[i])
            cr_assert_geq(rcl_get_stats(c)->auth_fail, 1);
        tr_close_all(&loop, c, NULL);
    }
    proc_redis_stop(&pr, 0);
}
