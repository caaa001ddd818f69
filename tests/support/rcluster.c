/* rcluster.c -- start, drive and stop a real Redis Cluster for the tests;
 * see rcluster.h. Every wait polls a condition with a deadline. */
#define _GNU_SOURCE
#include "rcluster.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "proc.h"
#include "redis_cluster.h"

#ifndef TTT_REDIS_SERVER
#define TTT_REDIS_SERVER "/usr/bin/redis-server"
#endif
#define REDIS_CLI "/usr/bin/redis-cli"

static void nap(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

int rcluster_free_port(void)
{
    static unsigned seed;
    if (!seed)
        seed = (unsigned)getpid() ^ (unsigned)time(NULL);
    for (int tries = 0; tries < 1000; tries++) {
        int p = 20000 + (int)(rand_r(&seed) % 35000u);   /* 20000..54999 */
        if (port_free(p) && port_free(p + 10000))
            return p;
    }
    return -1;
}

static redisContext *conn(int port)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!c || c->err) {
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

static void reply_text(const redisReply *r, char *out, size_t outsz)
{
    if (!out || !outsz)
        return;
    out[0] = '\0';
    if (!r)
        return;
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        snprintf(out, outsz, "%.*s", (int)r->len, r->str);
        break;
    case REDIS_REPLY_ERROR:
        snprintf(out, outsz, "-%.*s", (int)r->len, r->str);
        break;
    case REDIS_REPLY_INTEGER:
        snprintf(out, outsz, "%lld", r->integer);
        break;
    default:
        snprintf(out, outsz, "(type %d)", r->type);
    }
}

int rcluster_cmd(rcluster *rc, int i, char *out, size_t outsz, const char *fmt, ...)
{
    redisContext *c = conn(rc->node[i].port);
    if (!c)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    int rcode = r ? 0 : -1;
    reply_text(r, out, outsz);
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return rcode;
}

static int node_alive(const rcluster *rc, int i)
{
    return rc->node[i].pid > 0;
}

static int node_of_port(const rcluster *rc, int port)
{
    for (int i = 0; i < rc->n; i++)
        if (rc->node[i].port == port)
            return i;
    return -1;
}

/* owner[slot] = node index, from CLUSTER SLOTS of node i. 0 or -1. */
static int slots_of(rcluster *rc, int i, int *owner)
{
    redisContext *c = conn(rc->node[i].port);
    if (!c)
        return -1;
    redisReply *r = redisCommand(c, "CLUSTER SLOTS");
    rcl_range *v = NULL;
    int n = r ? rcl_parse_slots(r, "127.0.0.1", &v) : -1;
    if (r)
        freeReplyObject(r);
    redisFree(c);
    if (n < 0)
        return -1;
    for (int s = 0; s < 16384; s++)
        owner[s] = -1;
    for (int k = 0; k < n; k++)
        for (unsigned s = v[k].start; s <= v[k].end; s++)
            owner[s] = node_of_port(rc, v[k].port);
    free(v);
    return 0;
}

int rcluster_owner(rcluster *rc, int ask, unsigned slot)
{
    static int owner[16384];
    if (ask < 0)
        for (ask = 0; ask < rc->n && !node_alive(rc, ask); ask++)
            ;
    if (ask >= rc->n || slot >= 16384 || slots_of(rc, ask, owner) != 0)
        return -1;
    return owner[slot];
}

int rcluster_other_primary(rcluster *rc, int not_this)
{
    for (int i = 0; i < rc->n; i++) {
        if (i == not_this || !node_alive(rc, i))
            continue;
        redisContext *c = conn(rc->node[i].port);
        if (!c)
            continue;
        redisReply *r = redisCommand(c, "INFO replication");
        int primary = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "role:master");
        if (r)
            freeReplyObject(r);
        redisFree(c);
        if (primary)
            return i;
    }
    return -1;
}

static int all_ok(rcluster *rc)
{
    static int first[16384], other[16384];
    int have_first = 0;
    for (int i = 0; i < rc->n; i++) {
        if (!node_alive(rc, i))
            continue;
        redisContext *c = conn(rc->node[i].port);
        if (!c)
            return 0;
        redisReply *r = redisCommand(c, "CLUSTER INFO");
        int ok = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "cluster_state:ok");
        if (r)
            freeReplyObject(r);
        /* a replica that never synced will not fail over: wait for its link */
        r = ok ? redisCommand(c, "INFO replication") : NULL;
        ok = r && r->type == REDIS_REPLY_STRING &&
             (strstr(r->str, "role:master") || strstr(r->str, "master_link_status:up"));
        if (r)
            freeReplyObject(r);
        redisFree(c);
        if (!ok)
            return 0;
        int *dst = have_first ? other : first;
        if (slots_of(rc, i, dst) != 0)
            return 0;
        for (int s = 0; s < 16384; s++)
            if (dst[s] < 0 || !node_alive(rc, dst[s]))
                return 0;
        if (have_first && memcmp(first, other, sizeof first) != 0)
            return 0;
        have_first = 1;
    }
    return have_first;
}

int rcluster_wait_ok(rcluster *rc, int timeout_ms)
{
    long long end = proc_now_ms() + timeout_ms;
    while (proc_now_ms() < end) {
        if (all_ok(rc))
            return 0;
        nap(50);
    }
    return -1;
}

static int start_node(rcluster *rc, int i)
{
    char dir[512], port[16], log[600];
    snprintf(dir, sizeof dir, "%s/n%d", rc->dir, i);
    snprintf(port, sizeof port, "%d", rc->node[i].port);
    snprintf(log, sizeof log, "%s/redis.log", dir);
    if (mkdir(dir, 0700) != 0)
        return -1;
    char *argv[] = {TTT_REDIS_SERVER, "--port", port, "--bind", "127.0.0.1", "--dir", dir,
                    "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                    "--cluster-node-timeout", "2000", "--save", "", "--appendonly", "no",
                    "--daemonize", "no", "--protected-mode", "yes",
                    /* a replica syncs at once (the default waits 5 s for others) */
                    "--repl-diskless-sync-delay", "0", NULL};
    rc->node[i].pid = proc_spawn(argv, log);
    if (rc->node[i].pid < 0 || proc_wait_port(rc->node[i].port, rc->node[i].pid, 10000) != 0)
        return -1;
    return 0;
}

int rcluster_start(rcluster *rc, int primaries, int replicas)
{
    memset(rc, 0, sizeof *rc);
    rc->n = primaries * (1 + replicas);
    if (primaries < 3 || rc->n > RCLUSTER_MAX)
        return -1;
    rc->dir = proc_tmpdir("rcluster");
    if (!rc->dir)
        return -1;
    char *argv[RCLUSTER_MAX + 8];
    char addr[RCLUSTER_MAX][32], reps[8];
    int a = 0;
    argv[a++] = REDIS_CLI;
    argv[a++] = "--cluster";
    argv[a++] = "create";
    size_t off = 0;
    for (int i = 0; i < rc->n; i++) {
        /* a port another node took meanwhile is caught by the bind in start */
        rc->node[i].port = rcluster_free_port();
        for (int k = 0; k < i; k++)
            if (rc->node[k].port == rc->node[i].port || rc->node[k].port == rc->node[i].port + 10000 ||
                rc->node[k].port + 10000 == rc->node[i].port)
                rc->node[i].port = rcluster_free_port(), k = -1;
        if (start_node(rc, i) != 0)
            goto fail;
        snprintf(addr[i], sizeof addr[i], "127.0.0.1:%d", rc->node[i].port);
        argv[a++] = addr[i];
        off += (size_t)snprintf(rc->seeds + off, sizeof rc->seeds - off, "%s%s", i ? "," : "",
                                addr[i]);
    }
    snprintf(reps, sizeof reps, "%d", replicas);
    argv[a++] = "--cluster-replicas";
    argv[a++] = reps;
    argv[a++] = "--cluster-yes";
    argv[a] = NULL;
    char log[600];
    snprintf(log, sizeof log, "%s/create.log", rc->dir);
    pid_t p = proc_spawn(argv, log);
    int st = p > 0 ? proc_wait_exit(p, 60000) : -1;
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        goto fail;
    if (rcluster_wait_ok(rc, 30000) != 0)
        goto fail;
    for (int i = 0; i < rc->n; i++)
        rcluster_cmd(rc, i, rc->node[i].id, sizeof rc->node[i].id, "CLUSTER MYID");
    return 0;
fail:
    rcluster_stop(rc);
    return -1;
}

void rcluster_kill9(rcluster *rc, int i)
{
    if (rc->node[i].pid > 0) {
        kill(rc->node[i].pid, SIGCONT);   /* a frozen node dies too */
        proc_kill9(rc->node[i].pid);
    }
    rc->node[i].pid = -1;
}

void rcluster_stop(rcluster *rc)
{
    for (int i = 0; i < rc->n; i++)
        if (rc->node[i].pid > 0) {
            kill(rc->node[i].pid, SIGCONT);
            proc_stop(rc->node[i].pid, 5000);
            rc->node[i].pid = -1;
        }
    if (rc->dir) {
        proc_rmtree(rc->dir);
        free(rc->dir);
        rc->dir = NULL;
    }
}

int rcluster_migrate_begin(rcluster *rc, unsigned slot, int src, int dst)
{
    char out[256];
    if (rcluster_cmd(rc, dst, out, sizeof out, "CLUSTER SETSLOT %u IMPORTING %s", slot,
                     rc->node[src].id) != 0 || strcmp(out, "OK") != 0)
        return -1;
    if (rcluster_cmd(rc, src, out, sizeof out, "CLUSTER SETSLOT %u MIGRATING %s", slot,
                     rc->node[dst].id) != 0 || strcmp(out, "OK") != 0)
        return -1;
    return 0;
}

int rcluster_migrate_keys(rcluster *rc, unsigned slot, int src, int dst)
{
    redisContext *c = conn(rc->node[src].port);
    if (!c)
        return -1;
    int rcode = 0;
    for (;;) {
        redisReply *r = redisCommand(c, "CLUSTER GETKEYSINSLOT %u 100", slot);
        if (!r || r->type != REDIS_REPLY_ARRAY) {
            rcode = -1;
            if (r)
                freeReplyObject(r);
            break;
        }
        size_t n = r->elements;
        for (size_t k = 0; k < n && rcode == 0; k++) {
            redisReply *m = redisCommand(c, "MIGRATE 127.0.0.1 %d %b 0 5000", rc->node[dst].port,
                                         r->element[k]->str, r->element[k]->len);
            if (!m || m->type == REDIS_REPLY_ERROR)
                rcode = -1;
            if (m)
                freeReplyObject(m);
        }
        freeReplyObject(r);
        if (n == 0 || rcode != 0)
            break;
    }
    redisFree(c);
    return rcode;
}

int rcluster_migrate_end(rcluster *rc, unsigned slot, int dst)
{
    char out[256];
    /* the new owner first, as the spec's resharding does, then the rest */
    if (rcluster_cmd(rc, dst, out, sizeof out, "CLUSTER SETSLOT %u NODE %s", slot,
                     rc->node[dst].id) != 0 || strcmp(out, "OK") != 0)
        return -1;
    for (int i = 0; i < rc->n; i++)
        if (i != dst && node_alive(rc, i))
            rcluster_cmd(rc, i, out, sizeof out, "CLUSTER SETSLOT %u NODE %s", slot,
                         rc->node[dst].id);
    return 0;
}
