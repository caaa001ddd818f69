/* store_redis_presence.c -- which processes are alive, for the Redis backend.
 * Each process takes an instance id (ttt:{m}:instance_seq, in its first
 * heartbeat), heartbeats every second (beat.lua, which also watches the data
 * set's epoch) and every 2 s claims instances silent for 5 s (reap.lua); each
 * claimed instance goes to exactly one caller, which takes its game set
 * (take.lua: the set lives in the instance's own slot) and raises orphaned().
 * A clean close removes the instance, or leaves it with score 0 when it
 * still holds seats, so a survivor marks those seats away at once.
 *
 * A process whose heartbeats stop for 5 s while it lives is declared dead all
 * the same; it logs so when its next heartbeat finds itself gone. Health is
 * "the last heartbeat went through and every slot has an owner". */
#include "store_redis_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "log.h"

#define REAP_EVERY 2              /* ticks between looks for dead instances */
#define STALE_MS 5000
#define REAP_MAX 16
#define REAP_GAP_MS 3500
#define LOST_GRACE_MS 2500

static int send_eval(store_redis *s, int sc, const char *route, int argc, const char **argv,
                     rcl_reply_cb *cb, void *priv, int *busy)
{
    /* presence runs once a second: EVAL (no NOSCRIPT round trip to handle) */
    const char *v[12];
    size_t lens[12];
    v[0] = "EVAL";
    v[1] = s->src[sc];
    for (int i = 0; i < argc; i++)
        v[2 + i] = argv[i];
    for (int i = 0; i < argc + 2; i++)
        lens[i] = strlen(v[i]);
    if (s->rcl_open != 1 || rcl_command_argv(s->rc, route, strlen(route), argc + 2, v, lens, cb,
                                             priv) != 0)
        return -1;
    if (busy)
        *busy = 1;
    return 0;
}

/* Redis lost its data (FLUSHALL, or a restart without persistence): every
 * game is gone. beat.lua has raised the id counter above what we saw; nobody
 * creates for LOST_GRACE_MS so the other processes raise it too. */
static void data_lost(store_redis *s, const char *epoch)
{
    log_error("redis: the store lost its data (epoch %s, now %s): every game is gone; "
              "new ids start above %" PRId64, s->epoch, epoch, s->max_id);
    snprintf(s->epoch, sizeof(s->epoch), "%s", epoch);
    s->lost_count++;
    s->lost_until = uv_now(s->loop) + LOST_GRACE_MS;
    s->beaten = 0;
    if (!s->closing && s->ev.lost)
        s->ev.lost(s->ev.ud);
}

static int epoch_reply(store_redis *s, const redisReply *r, long long *added)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
        r->element[3]->type != REDIS_REPLY_INTEGER || r->element[3]->integer <= 0 ||
        r->element[3]->integer > UINT32_MAX ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_INTEGER ||
        !rs_reply_is_str(r->element[2]) || r->element[2]->len == 0 ||
        r->element[2]->len >= sizeof(s->epoch) || strlen(r->element[2]->str) != r->element[2]->len)
        return -1;
    *added = r->element[0]->integer;
    if (!s->instance)
        s->instance = (uint32_t)r->element[3]->integer;   /* the first contact took it */
    if (r->element[1]->integer == 1)
        data_lost(s, r->element[2]->str);
    else if (!s->epoch[0])
        snprintf(s->epoch, sizeof(s->epoch), "%s", r->element[2]->str);
    return 0;
}

static void beat_reply(rcl *c, int st, redisReply *r, int sent, void *priv)
{
    (void)c; (void)sent;
    store_redis *s = priv;
    long long added = 0;
    s->beat_busy = 0;
    if (s->closing)
        return;
    if (st == RCL_OK) {
        double ms = (double)(uv_hrtime() - s->beat_t0) / 1e6;
        s->latency_ms = s->latency_ms > 0 ? 0.8 * s->latency_ms + 0.2 * ms : ms;
    }
    if (st == RCL_OK && epoch_reply(s, r, &added) == 0) {
        if (added == 1 && s->beaten) {
            log_warn("redis: instance %u had been declared dead by another process "
                     "(silent for %d s): its seats there were marked away; claiming them "
                     "again", s->instance, STALE_MS / 1000);
            s->up = 0;   /* health(1) again: the manager re-asserts its seats */
        }
        s->beaten = 1;
        s->beat_ok = 1;
    } else {
        if (st == RCL_OK && r->type == REDIS_REPLY_ERROR)
            log_warn("redis: heartbeat refused: %.200s", r->str);
        s->beat_ok = 0;
    }
    rs_health_update(s);
}

/* Before the first heartbeat: the id counter of the layout before the
 * cluster store, "<prefix>:id" (the same value + 99 rule), is a floor for
 * ours, so ids its processes handed out are never handed out again. Read
 * once per process: the layouts do not share pub/sub (PUBLISH / SPUBLISH),
 * so the upgrade stops the old processes before new ones start
 * (docs/deploy.md), and nothing raises the old counter afterwards. */
static void legacy_reply(rcl *c, int st, redisReply *r, int sent, void *priv)
{
    (void)c; (void)sent;
    store_redis *s = priv;
    s->beat_busy = 0;
    if (s->closing || st != RCL_OK)
        return;   /* the next tick asks again */
    if (r->type == REDIS_REPLY_STRING) {
        int64_t v = rs_reply_id(r);
        if (v <= 0) {
            log_warn("redis: %s:id is not a counter: ignored", s->prefix);
        } else {
            log_warn("redis: %s:id = %" PRId64 " (the layout before the cluster store): new "
                     "ids start above %" PRId64 "; processes of that version must be stopped "
                     "(docs/deploy.md)", s->prefix, v, v + 99);
            rs_seen_id(s, v + 99);
        }
    } else if (r->type != REDIS_REPLY_NIL) {
        return;
    }
    s->legacy_checked = 1;
    presence_beat(s);
}

void presence_beat(store_redis *s)
{
    if (s->beat_busy || s->closing)
        return;
    if (!s->legacy_checked) {
        char key[KEY_MAX];
        snprintf(key, sizeof key, "%s:id", s->prefix);
        const char *argv[] = {"GET", key};
        size_t lens[] = {3, strlen(key)};
        if (s->rcl_open == 1 && rcl_command_argv(s->rc, key, lens[1], 2, argv, lens,
                                                 legacy_reply, s) == 0)
            s->beat_busy = 1;
        return;
    }
    char k[4][KEY_MAX], inst[16], cand[24], floor[24];
    rs_key_meta(s, k[0], sizeof k[0], "epoch");
    rs_key_meta(s, k[1], sizeof k[1], "id");
    rs_key_meta(s, k[2], sizeof k[2], "instance_seq");
    rs_key_meta(s, k[3], sizeof k[3], "instances");
    snprintf(inst, sizeof inst, "%u", s->instance);
    snprintf(cand, sizeof cand, "%016" PRIx64, rs_rng_next(s));
    snprintf(floor, sizeof floor, "%" PRId64, s->max_id);
    const char *argv[] = {"4", k[0], k[1], k[2], k[3], inst, s->epoch, cand, floor};
    s->beat_t0 = uv_hrtime();
    (void)send_eval(s, SC_BEAT, k[0], 9, argv, beat_reply, s, &s->beat_busy);
}

static void take_reply(rcl *c, int st, redisReply *r, int sent, void *priv)
{
    (void)c; (void)sent;
    store_redis *s = priv;
    /* the instance rides in the reply's position: take.lua is sent with it as ARGV */
    if (st != RCL_OK || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_INTEGER)
        return;
    long long inst = r->element[0]->integer;
    size_t n = r->elements - 1, k = 0;
    int64_t *ids = n ? calloc(n, sizeof(*ids)) : NULL;
    for (size_t i = 0; ids && i < n; i++) {
        int64_t v = rs_reply_id(r->element[i + 1]);
        if (v > 0)
            ids[k++] = v;
    }
    log_info("redis: instance %lld is silent: its %zu games are ours to repair", inst, k);
    if (!s->closing && s->ev.orphaned && inst > 0 && inst <= UINT32_MAX)
        s->ev.orphaned(s->ev.ud, (uint32_t)inst, ids, k);
    free(ids);
}

static void reap_reply(rcl *c, int st, redisReply *r, int sent, void *priv)
{
    (void)c; (void)sent;
    store_redis *s = priv;
    s->reap_busy = 0;
    if (s->closing || st != RCL_OK || r->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i < r->elements; i++) {
        int64_t inst = rs_reply_id(r->element[i]);
        if (inst <= 0 || inst > UINT32_MAX)
            continue;
        char key[KEY_MAX], is[16];
        rs_key_inst(s, key, sizeof key, (uint32_t)inst);
        snprintf(is, sizeof is, "%" PRId64, inst);
        const char *argv[] = {"1", key, is};
        (void)send_eval(s, SC_TAKE, key, 3, argv, take_reply, s, NULL);
    }
}

static void reap(store_redis *s)
{
    if (s->reap_busy || !s->instance || !s->beat_ok)
        return;
    char k[3][KEY_MAX], self[16], stale[16], max[16], gap[16];
    rs_key_meta(s, k[0], sizeof k[0], "instances");
    rs_key_meta(s, k[1], sizeof k[1], "reap_last");
    rs_key_meta(s, k[2], sizeof k[2], "reap_grace");
    snprintf(self, sizeof self, "%u", s->instance);
    snprintf(stale, sizeof stale, "%d", STALE_MS);
    snprintf(max, sizeof max, "%d", REAP_MAX);
    snprintf(gap, sizeof gap, "%d", REAP_GAP_MS);
    const char *argv[] = {"3", k[0], k[1], k[2], self, stale, max, gap};
    (void)send_eval(s, SC_REAP, k[0], 8, argv, reap_reply, s, &s->reap_busy);
}

void presence_tick(store_redis *s)
{
    if (s->closing)
        return;
    presence_beat(s);   /* the first one also takes the instance id */
    if (!s->instance)
        return;
    if (++s->ticks % REAP_EVERY == 0)
        reap(s);
}

/* ---- goodbye ----------------------------------------------------------------------- */

static void bye_reply(rcl *c, int st, redisReply *r, int sent, void *priv)
{
    (void)c; (void)st; (void)r; (void)sent;
    presence_bye_done(priv);
}

static void bye_card(rcl *c, int st, redisReply *r, int sent, void *priv)
{
    (void)c; (void)sent;
    store_redis *s = priv;
    if (!s->bye_pending)
        return;
    if (st != RCL_OK || r->type != REDIS_REPLY_INTEGER) {
        presence_bye_done(s);
        return;
    }
    char key[KEY_MAX], inst[16];
    rs_key_meta(s, key, sizeof key, "instances");
    snprintf(inst, sizeof inst, "%u", s->instance);
    const char *argv[] = {"1", key, inst, r->integer > 0 ? "1" : "0"};
    if (send_eval(s, SC_BYE, key, 4, argv, bye_reply, s, NULL) != 0)
        presence_bye_done(s);
}

void presence_bye(store_redis *s)
{
    if (!s->instance || !s->beat_ok || s->rcl_open != 1)
        return;
    char key[KEY_MAX];
    rs_key_inst(s, key, sizeof key, s->instance);
    if (rcl_command_argv(s->rc, key, strlen(key), 2, (const char *[]){"SCARD", key},
                         (size_t[]){5, strlen(key)}, bye_card, s) == 0)
        s->bye_pending = 1;
}
