/* store_redis.c -- the Redis backend of store.h: games shared by every server
 * process through one Redis, driven by hiredis' async API on the caller's
 * libuv loop. There is no synchronous Redis call anywhere, start-up included:
 * the store opens "down" and reports health(1) once both of its connections
 * (commands, and one subscriber) are ready.
 *
 * Key schema. "ttt" is the prefix (store_options.redis_prefix, default
 * "ttt"): every key and channel carries it. Every per-game key carries the
 * hash tag {<id>}.
 *   ttt:id               STRING  INCR counter; a game's id is the value + 99,
 *                                so a fresh Redis hands out 100, 101, ... and an
 *                                id is never repeated: after a data loss every
 *                                live process raises it above the ids it saw
 *   ttt:epoch            STRING  a random name of this data set, written once;
 *                                missing or changed = the data was lost
 *   ttt:{<id>}:game      HASH    v = version (decimal; what the save script
 *                                    compares, so Lua never parses a record)
 *                                d = the record (binary, format below)
 *                                h = instances holding a seat, "3 7" (for the
 *                                    per-instance sets below)
 *                                expiry: over -> finished_ttl_ms (24 h);
 *                                waiting -> finished_ttl_ms + time to its
 *                                deadline (a safety net when no server is left to
 *                                time it out); playing -> none
 *   ttt:{<id>}:ch        channel each save PUBLISHes the new record here;
 *   ttt:<db>:{<id>}:ch           with a db other than 0 (pub/sub ignores SELECT)
 *   ttt:op:<nonce>       STRING  what one write did, for in-doubt resolution
 *                                (see LUA_FENCE); 60 s, or 10 min once fenced
 *   ttt:open             ZSET    waiting STORE_KIND_CREATE games whose creator
 *                                is present, score = id (ids follow creation
 *                                order across processes)
 *   ttt:quick            ZSET    waiting STORE_KIND_QUICK games not handed out
 *                                yet, score = id
 *   ttt:deadline         ZSET    games with a deadline, score = deadline_ms, or
 *                                the lease end once claimed
 *   ttt:instance_seq     STRING  INCR counter of process instance ids (1, 2, ...)
 *   ttt:instances        ZSET    live instances, score = last heartbeat in ms of
 *                                Redis' own clock (TIME), so host clock skew
 *                                cannot make a live process look dead
 *   ttt:inst:<i>:games   SET     games on which instance i holds a seat, kept
 *                                exact by create/save from the seat holders
 *   ttt:reap_last        STRING  when anyone last looked for dead instances (ms)
 *   ttt:reap_grace       STRING  no instance is declared dead before this (ms):
 *                                set after a stall of Redis, see the reap script
 * The scripts drop an index entry whose game key has expired when they meet it.
 *
 * The record (field d, and what is published) is store_codec.h's format.
 *
 * Every multi-key step is one Lua script (SCRIPT LOAD at connect, EVALSHA,
 * EVAL when Redis answers NOSCRIPT), so it is atomic and one round trip.
 * Several keys are derived inside the scripts (the new id's key, index
 * members): fine on a single Redis, not Redis Cluster.
 *
 * Presence: each process takes an instance id (INCR ttt:instance_seq) on its
 * first connection, heartbeats every second and every 2 s claims instances
 * silent for 5 s; the claim script removes the instance and hands its game set
 * to that one caller, which raises orphaned(). A clean close removes the
 * instance; if it still holds seats (its manager did not release them) it is
 * left with score 0 instead, so a survivor marks those seats away at once.
 *
 * A process whose heartbeats stop for 5 s while it lives (its loop stalled,
 * or it lost Redis while others did not) is declared dead all the same; it
 * logs so when its next heartbeat finds itself gone.
 *
 * Outages: when a connection drops, or a command got no reply for 5 s (Redis
 * hung; the libuv adapter also ignores poll errors), every read waiting on it
 * completes with STORE_EUNAVAIL, every write waiting on it is in doubt (see
 * "writes in doubt" below: answered with what Redis did, once it can tell),
 * health(0) is raised, and a fresh redisAsyncContext is made after
 * 100 ms .. 2 s of jittered backoff (hiredis contexts never reconnect); on
 * reconnection the scripts are loaded again, every confirmed subscription is
 * restored, and health(1) follows. A subscribe that fails (store down, or the
 * link dropped before Redis confirmed) is not kept: the caller subscribes
 * again after health(1). Contexts are freed only from our own idle or timer
 * callbacks, never inside hiredis' callbacks, and ops hold no pointer into a
 * context after it is gone.
 *
 * Data loss: the heartbeat (and each reconnection's handshake) compares
 * ttt:epoch with the one we know, and create/quick refuse (TTTLOST) when it
 * differs; see data_lost(). Every reply is hostile until checked: its type,
 * its element count, each string's length; records go through rec_decode,
 * which range-checks every field. */
#include "store.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libuv.h>   /* after uv.h: the one place hiredis meets the loop */

#include "log.h"
#include "redis_url.h"
#include "store_codec.h"

#define DAY_MS (24LL * 3600 * 1000)
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define TICK_MS 1000              /* heartbeat period */
#define REAP_EVERY 2              /* ticks between looks for dead instances */
#define STALE_MS 5000             /* an instance silent this long is dead */
#define REAP_MAX 16               /* dead instances claimed per look */
#define REAP_GAP_MS 3500          /* no look by anyone for this long: a stall, see reap */
#define CONNECT_TIMEOUT_MS 5000   /* connect + handshake */
#define OP_TIMEOUT_MS 5000        /* a reply later than this: the connection is hung */
#define BYE_TIMEOUT_MS 1000       /* how long close waits for the goodbye */
#define SUB_BATCH 128             /* channels per SUBSCRIBE when re-subscribing */
#define COUNT_MAX 100000          /* cap on max for open_list / claim_due */
#define DOUBT_MAX_MS 30000        /* how long a write in doubt waits to be resolved */
#define LOST_GRACE_MS 2500        /* no create for this long after a data loss */
#define PREFIX_MAX 32

#define OP_MAXARGS 16

/* ---- Lua ----------------------------------------------------------------------
 * The sources name every key 'ttt:...'; store_open() rewrites that prefix to
 * --redis-prefix in its own copy (the prefix is checked to be [A-Za-z0-9_.-],
 * so it cannot break out of a Lua string).
 *
 * Common ARGV of create, quick and save:
 *   [1] record  [2] status (0 waiting, 1 playing, 2 over)  [3] list: 'o' on
 *   the open list, 'x' off it (creator away), 'q' queue for matchmaking
 *   (create only), '-' leave as is  [4] deadline_ms or 0  [5] ttl ms or 0
 *   (persist)  [6] holders "3 7" ('' once over)
 * and the last ARGV of every write (create, quick, save, deadline_reset) is
 * the op's nonce: see LUA_FENCE.
 * ttt_index() brings every index in step with the record just written. */
#define LUA_INDEX \
    "local function ttt_index(id, k, oldh)\n" \
    "  if ARGV[2] ~= '0' then\n" \
    "    redis.call('ZREM', 'ttt:open', id)\n" \
    "    redis.call('ZREM', 'ttt:quick', id)\n" \
    "  elseif ARGV[3] == 'o' then redis.call('ZADD', 'ttt:open', id, id)\n" \
    "  elseif ARGV[3] == 'x' then redis.call('ZREM', 'ttt:open', id)\n" \
    "  elseif ARGV[3] == 'q' then redis.call('ZADD', 'ttt:quick', id, id) end\n" \
    "  if ARGV[4] ~= '0' then redis.call('ZADD', 'ttt:deadline', ARGV[4], id)\n" \
    "  else redis.call('ZREM', 'ttt:deadline', id) end\n" \
    "  if ARGV[5] ~= '0' then redis.call('PEXPIRE', k, ARGV[5])\n" \
    "  else redis.call('PERSIST', k) end\n" \
    "  local new = {}\n" \
    "  for h in string.gmatch(ARGV[6], '%d+') do new[h] = true end\n" \
    "  if oldh then\n" \
    "    for h in string.gmatch(oldh, '%d+') do\n" \
    "      if not new[h] then redis.call('SREM', 'ttt:inst:' .. h .. ':games', id) end\n" \
    "    end\n" \
    "  end\n" \
    "  for h in pairs(new) do redis.call('SADD', 'ttt:inst:' .. h .. ':games', id) end\n" \
    "  redis.call('HSET', k, 'h', ARGV[6])\n" \
    "end\n"

/* In-doubt writes (see "Outages" above). Every write carries a nonce and,
 * in the same atomic step, leaves the marker ttt:op:<nonce> = what it did,
 * for MARK_TTL_MS. The resolve script reads the marker; when there is none
 * it writes one that says "fenced" (for FENCE_TTL_MS), and a write that
 * finds its marker already there does nothing. So whichever of the two
 * Redis runs first, the answer the resolver gives is the truth for good. */
#define MARK_TTL_MS 60000          /* > DOUBT_MAX_MS: a marker outlives its resolution */
#define FENCE_TTL_MS 600000        /* a stray old write may arrive this late */
#define LUA_FENCE \
    "local NONCE = 'ttt:op:' .. ARGV[#ARGV]\n" \
    "local function ttt_mark(v) redis.call('SET', NONCE, v, 'PX', 60000) end\n" \
    "if redis.call('EXISTS', NONCE) == 1 then return redis.error_reply('TTTFENCED') end\n"

/* create and quick: ARGV[7] the epoch this process knows, [8] the highest
 * game id it has seen. A Redis that lost its data (no epoch, or another
 * one) creates nothing: the caller learns of the loss first. The counter is
 * raised above the highest id seen, so an id is never handed out twice. */
#define LUA_EPOCH_CHECK \
    "if redis.call('GET', 'ttt:epoch') ~= ARGV[7] then return redis.error_reply('TTTLOST') end\n" \
    "local floor = tonumber(ARGV[8]) - 99\n" \
    "if floor > 0 and tonumber(redis.call('GET', 'ttt:id') or '0') < floor then\n" \
    "  redis.call('SET', 'ttt:id', floor)\n" \
    "end\n"

/* the new id is written into bytes 2..9 of the record the caller encoded */
#define LUA_CREATE_BODY \
    "local id = tostring(redis.call('INCR', 'ttt:id') + 99)\n" \
    "local k = 'ttt:{' .. id .. '}:game'\n" \
    "local d = string.sub(ARGV[1], 1, 1) .. struct.pack('<i8', tonumber(id))" \
    " .. string.sub(ARGV[1], 10)\n" \
    "redis.call('HSET', k, 'v', '1', 'd', d)\n" \
    "ttt_index(id, k, false)\n" \
    "ttt_mark('c' .. id)\n" \
    "return d\n"

enum { SC_CREATE, SC_SAVE, SC_QUICK, SC_LIST, SC_CLAIM, SC_RESET, SC_BEAT, SC_REAP, SC_BYE,
       SC_RESOLVE, SC_COUNT };

static const char *const script_name[SC_COUNT] = {
    "create", "save", "quick", "open_list", "claim_due", "deadline_reset", "heartbeat",
    "reap", "goodbye", "resolve"};

static const char *const script_src[SC_COUNT] = {
    /* create: -> record */
    LUA_INDEX LUA_FENCE LUA_EPOCH_CHECK LUA_CREATE_BODY,

    /* save: KEYS[1] game key; ARGV[7] id, [8] expected version, [9] channel,
     * [10] nonce -> {0} saved, {1} not found, {2, current record} conflict */
    LUA_INDEX LUA_FENCE
    "local k = KEYS[1]\n"
    "local cur = redis.call('HMGET', k, 'v', 'd', 'h')\n"
    "if not cur[1] then return {1} end\n"
    "if cur[1] ~= ARGV[8] then return {2, cur[2]} end\n"
    "redis.call('HSET', k, 'v', tostring(tonumber(ARGV[8]) + 1), 'd', ARGV[1])\n"
    "ttt_index(ARGV[7], k, cur[3])\n"
    "redis.call('PUBLISH', ARGV[9], ARGV[1])\n"
    "ttt_mark('s')\n"
    "return {0}\n",

    /* quick: pop the oldest queued game that still exists, else create */
    LUA_INDEX LUA_FENCE LUA_EPOCH_CHECK
    "while true do\n"
    "  local p = redis.call('ZPOPMIN', 'ttt:quick')\n"
    "  if #p == 0 then break end\n"
    "  local d = redis.call('HGET', 'ttt:{' .. p[1] .. '}:game', 'd')\n"
    "  if d then\n"
    "    ttt_mark('p' .. p[1])\n"
    "    return d\n"
    "  end\n"
    "end\n"
    LUA_CREATE_BODY,

    /* open_list: ARGV[1] max -> records, oldest first */
    "local max = tonumber(ARGV[1])\n"
    "local out, stale, off = {}, {}, 0\n"
    "while #out < max do\n"
    "  local ids = redis.call('ZRANGE', 'ttt:open', off, off + max - 1)\n"
    "  if #ids == 0 then break end\n"
    "  off = off + #ids\n"
    "  for _, id in ipairs(ids) do\n"
    "    local d = redis.call('HGET', 'ttt:{' .. id .. '}:game', 'd')\n"
    "    if not d then stale[#stale + 1] = id\n"
    "    elseif #out < max then out[#out + 1] = d end\n"
    "  end\n"
    "end\n"
    "for _, id in ipairs(stale) do redis.call('ZREM', 'ttt:open', id) end\n"
    "return out\n",

    /* claim_due: ARGV[1] now_ms, [2] lease_ms, [3] max -> ids; each claimed
     * id is re-scored to now + lease so nobody else gets it meanwhile */
    "local due = redis.call('ZRANGEBYSCORE', 'ttt:deadline', '-inf', ARGV[1],"
    " 'LIMIT', 0, ARGV[3])\n"
    "local lease_end = tonumber(ARGV[1]) + tonumber(ARGV[2])\n"
    "local out = {}\n"
    "for _, id in ipairs(due) do\n"
    "  if redis.call('EXISTS', 'ttt:{' .. id .. '}:game') == 1 then\n"
    "    redis.call('ZADD', 'ttt:deadline', lease_end, id)\n"
    "    out[#out + 1] = id\n"
    "  else redis.call('ZREM', 'ttt:deadline', id) end\n"
    "end\n"
    "return out\n",

    /* deadline_reset: KEYS[1] game key; ARGV[1] id, [2] version, [3]
     * deadline, [4] nonce -> 0, or 1 when the game is gone */
    LUA_FENCE
    "ttt_mark('r')\n"
    "local v = redis.call('HGET', KEYS[1], 'v')\n"
    "if not v then return 1 end\n"
    "if v == ARGV[2] then\n"
    "  if ARGV[3] ~= '0' then redis.call('ZADD', 'ttt:deadline', ARGV[3], ARGV[1])\n"
    "  else redis.call('ZREM', 'ttt:deadline', ARGV[1]) end\n"
    "end\n"
    "return 0\n",

    /* heartbeat, also the handshake's epoch step: ARGV[1] instance (0 while
     * unknown), [2] the epoch this process knows ('' at its first
     * connection), [3] a fresh epoch to write when there is none, [4] the
     * highest game id this process has seen -> {listed anew, lost, epoch}.
     * The epoch is written once per data set: when it is missing or changed
     * under a process that knew one, Redis lost its data. Every live process
     * then raises the id counter (and the instance counter) above what it
     * has seen, within one heartbeat. */
    "local lost = 0\n"
    "local e = redis.call('GET', 'ttt:epoch')\n"
    "if not e then\n"
    "  redis.call('SET', 'ttt:epoch', ARGV[3])\n"
    "  e = ARGV[3]\n"
    "  if ARGV[2] ~= '' then lost = 1 end\n"
    "elseif ARGV[2] ~= '' and e ~= ARGV[2] then lost = 1 end\n"
    "local floor = tonumber(ARGV[4]) - 99\n"
    "if floor > 0 and tonumber(redis.call('GET', 'ttt:id') or '0') < floor then\n"
    "  redis.call('SET', 'ttt:id', floor)\n"
    "end\n"
    "local i = tonumber(ARGV[1])\n"
    "local added = 0\n"
    "if i > 0 then\n"
    "  if tonumber(redis.call('GET', 'ttt:instance_seq') or '0') < i then\n"
    "    redis.call('SET', 'ttt:instance_seq', i)\n"
    "  end\n"
    "  local t = redis.call('TIME')\n"
    "  added = redis.call('ZADD', 'ttt:instances', t[1] * 1000 + math.floor(t[2] / 1000),"
    " ARGV[1])\n"
    "end\n"
    "return {added, lost, e}\n",

    /* reap: ARGV[1] self, [2] stale ms, [3] max, [4] gap ms
     * -> {{instance, {ids}}, ...}. Atomic, so each dead instance goes to
     * exactly one caller. Live processes reap every 2 s; when nobody did for
     * longer than the gap, Redis itself (or every process) stalled and all
     * heartbeats were held up with it: nobody is reaped until each instance
     * had a full stale period to beat again. */
    "local t = redis.call('TIME')\n"
    "local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"
    "local last = tonumber(redis.call('GET', 'ttt:reap_last') or '0')\n"
    "redis.call('SET', 'ttt:reap_last', now)\n"
    "if now - last > tonumber(ARGV[4]) then\n"
    "  redis.call('SET', 'ttt:reap_grace', now + tonumber(ARGV[2]))\n"
    "  return {}\n"
    "end\n"
    "if now < tonumber(redis.call('GET', 'ttt:reap_grace') or '0') then return {} end\n"
    "local dead = redis.call('ZRANGEBYSCORE', 'ttt:instances', '-inf',"
    " now - tonumber(ARGV[2]), 'LIMIT', 0, ARGV[3])\n"
    "local out = {}\n"
    "for _, i in ipairs(dead) do\n"
    "  if i ~= ARGV[1] then\n"
    "    redis.call('ZREM', 'ttt:instances', i)\n"
    "    local k = 'ttt:inst:' .. i .. ':games'\n"
    "    local ids = redis.call('SMEMBERS', k)\n"
    "    redis.call('DEL', k)\n"
    "    out[#out + 1] = {i, ids}\n"
    "  end\n"
    "end\n"
    "return out\n",

    /* goodbye: ARGV[1] instance */
    "local k = 'ttt:inst:' .. ARGV[1] .. ':games'\n"
    "if redis.call('SCARD', k) > 0 then\n"
    "  redis.call('ZADD', 'ttt:instances', 0, ARGV[1])\n"
    "else\n"
    "  redis.call('ZREM', 'ttt:instances', ARGV[1])\n"
    "  redis.call('DEL', k)\n"
    "end\n"
    "return 1\n",

    /* resolve: ARGV[1] nonce of a write in doubt, [2] fence ttl ms
     * -> {0} it did not happen and now never will, {1, marker} it happened
     * ('c<id>' created, 'p<id>' + the record: quick handed out that game,
     * 's' saved, 'r' reset) */
    "local k = 'ttt:op:' .. ARGV[1]\n"
    "local m = redis.call('GET', k)\n"
    "if not m then\n"
    "  redis.call('SET', k, 'x', 'PX', ARGV[2])\n"
    "  return {0}\n"
    "end\n"
    "if m == 'x' then return {0} end\n"
    "if string.sub(m, 1, 1) == 'p' then\n"
    "  return {1, m, redis.call('HGET', 'ttt:{' .. string.sub(m, 2) .. '}:game', 'd') or ''}\n"
    "end\n"
    "return {1, m}\n",
};

/* ---- types ---------------------------------------------------------------------- */

typedef struct store_redis store_redis;
typedef struct rop rop;

enum { C_DOWN, C_RESOLVING, C_CONNECTING, C_HANDSHAKE, C_UP };

typedef struct rconn {
    store_redis *s;
    const char *name;            /* "commands" / "subscriber", for logs */
    int sub;                     /* the subscriber connection */
    int state;                   /* C_* */
    redisAsyncContext *ac;       /* the live context, NULL when down */
    redisAsyncContext *doomed;   /* dropped by us: freed at the next idle turn */
    uv_timer_t retry;
    uv_getaddrinfo_t gai;
    int gai_busy;
    int backoff_ms;
    uint64_t since;              /* uv_now() when the current attempt began */
    int hs_left;                 /* handshake replies still awaited */
    unsigned fails;              /* failed attempts since it was last up */
} rconn;

enum { OP_CREATE, OP_LOAD, OP_SAVE, OP_QUICK, OP_LIST, OP_CLAIM, OP_RESET, OP_SUB,
       OP_HANDSHAKE, OP_BEAT, OP_REAP, OP_BYE };
enum { W_NONE, W_INFLIGHT, W_DQ, W_CONFIRM, W_DOUBT };  /* which list an op is on */
enum { HS_AUTH, HS_SELECT, HS_SCRIPT, HS_INSTANCE, HS_EPOCH };

typedef store_cb rcb;

/* One operation. It lives until the caller has been answered (completed) and
 * hiredis has given it back (hiredis == 0): at close the caller is answered
 * ECLOSED at once while the reply may still arrive later. */
struct rop {
    rop *prev, *next;
    store_redis *s;
    rconn *conn;                 /* the connection it went out on */
    redisAsyncContext *ac;       /* ... and that connection's context then */
    uint8_t type, where, hiredis, completed;
    uint8_t eval;                /* sent as EVAL after a NOSCRIPT */
    uint8_t added;               /* OP_SUB: this call added the id to the set */
    uint8_t write;               /* changes data: in doubt when its reply is lost */
    uint8_t resolving;           /* in doubt: the resolve script is out for it */
    int status;                  /* for a deferred completion */
    int script;                  /* SC_* when a script, else -1 */
    int hs, hs_arg;
    rcb cb;
    void *ud;
    int64_t id;
    uint64_t t0;                 /* uv_hrtime() when sent */
    uint64_t t_first;            /* uv_now() when first sent (the doubt bound) */
    char nonce[34];              /* a write's unique name, see LUA_FENCE */
    store_game g;                /* save: the record as written */
    int argc;
    const char *argv[OP_MAXARGS];
    size_t argvlen[OP_MAXARGS];
    char num[OP_MAXARGS][24];
    char key[96];
    char chan[96];
    char holders[2 * STORE_MAX_HOLDERS * 11 + 1];
    uint8_t blob[REC_MAX];
    size_t bloblen;
};

typedef struct oplist {
    rop *head, *tail;
} oplist;

/* open addressing set of subscribed ids; 0 marks a free slot (ids are > 0) */
typedef struct idset {
    int64_t *slot;
    size_t cap, n;
} idset;

struct store_redis {
    store base;                  /* must stay first: store.c dispatches through it */
    uv_loop_t *loop;
    store_events ev;
    char *name;
    redis_url url;
    char prefix[PREFIX_MAX + 1];
    char *src[SC_COUNT];         /* script_src with the prefix put in */
    int64_t finished_ttl_ms;

    rconn cmd, sub;
    char sha[SC_COUNT][41];
    uint32_t instance;
    int up;                      /* what health() last said */
    double latency_ms;
    uint64_t rng;

    oplist inflight;             /* sent, reply awaited (both connections) */
    oplist dq;                   /* answered at the next idle turn */
    oplist confirms;             /* store_subscribe() calls awaiting Redis */
    oplist doubts;               /* writes whose outcome is not known yet */
    store_owed owed;             /* answered ENOMEM at the next idle turn */
    uint64_t nonce_salt, nonce_seq;

    char epoch[24];              /* the data set we know ('' before the first look) */
    int64_t max_id;              /* the highest game id this process has seen */
    uint64_t lost_count;         /* data losses noticed */
    uint64_t lost_until;         /* uv_now() before which nothing is created */
    idset subs;

    uv_idle_t idle;
    uv_timer_t tick;
    unsigned ticks;
    int beat_busy, reap_busy;
    int beaten;                  /* a heartbeat of this instance went through */

    int closing, finishing, bye_pending, handles_open;
    void (*done)(void *ud);
    void *done_ud;
};

/* ---- small helpers ------------------------------------------------------------- */

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

static int64_t wall_ms(void)
{
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static uint64_t rng_next(store_redis *s)
{
    uint64_t x = s->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void ol_append(oplist *l, rop *op, int where)
{
    op->prev = l->tail;
    op->next = NULL;
    if (l->tail)
        l->tail->next = op;
    else
        l->head = op;
    l->tail = op;
    op->where = (uint8_t)where;
}

static void ol_unlink(oplist *l, rop *op)
{
    if (op->prev)
        op->prev->next = op->next;
    else
        l->head = op->next;
    if (op->next)
        op->next->prev = op->prev;
    else
        l->tail = op->prev;
    op->prev = op->next = NULL;
    op->where = W_NONE;
}

static void game_key(const store_redis *s, char *buf, size_t n, int64_t id)
{
    snprintf(buf, n, "%s:{%" PRId64 "}:game", s->prefix, id);
}

/* Pub/sub ignores the db number, so the channel carries it (and the prefix):
 * deployments on other dbs or prefixes of one Redis never hear each other.
 * db 0 keeps the name "<prefix>:{<id>}:ch" that older processes use, so a
 * rolling upgrade of a default deployment stays one pub/sub world; a prefix
 * has no ':' in it, so "<prefix>:<db>:{" can never be another's "<prefix>:{". */
static int chan_head(const store_redis *s, char *buf, size_t n)
{
    if (s->url.db == 0)
        return snprintf(buf, n, "%s:{", s->prefix);
    return snprintf(buf, n, "%s:%d:{", s->prefix, s->url.db);
}

static int chan_name(const store_redis *s, char *buf, size_t n, int64_t id)
{
    int h = chan_head(s, buf, n);
    return h + snprintf(buf + h, n - (size_t)h, "%" PRId64 "}:ch", id);
}

/* "<prefix>[:<db>]:{<id>}:ch" -> id, or 0 for anything else */
static int64_t chan_id(const store_redis *s, const char *p, size_t len)
{
    char head[PREFIX_MAX + 16];
    size_t hl = (size_t)chan_head(s, head, sizeof(head));
    if (len < hl + 5 || memcmp(p, head, hl) != 0 || memcmp(p + len - 4, "}:ch", 4) != 0)
        return 0;
    int64_t id = 0;
    for (size_t i = hl; i < len - 4; i++) {
        if (p[i] < '0' || p[i] > '9' || id > (INT64_MAX - 9) / 10)
            return 0;
        id = id * 10 + (p[i] - '0');
    }
    return id;
}

/* ---- id set ------------------------------------------------------------------- */

static size_t id_home(const idset *t, int64_t id)
{
    uint64_t x = (uint64_t)id;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x & (t->cap - 1);
}

static int idset_has(const idset *t, int64_t id)
{
    if (!t->cap)
        return 0;
    for (size_t i = id_home(t, id); t->slot[i]; i = (i + 1) & (t->cap - 1))
        if (t->slot[i] == id)
            return 1;
    return 0;
}

/* 1 added, 0 already there, -1 out of memory */
static int idset_add(idset *t, int64_t id)
{
    if (idset_has(t, id))
        return 0;
    if ((t->n + 1) * 2 > t->cap) {   /* keep the load under 1/2 */
        idset bigger = {NULL, t->cap ? t->cap * 2 : 64, 0};
        bigger.slot = calloc(bigger.cap, sizeof(*bigger.slot));
        if (!bigger.slot)
            return -1;
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->slot[i])
                continue;
            size_t j = id_home(&bigger, t->slot[i]);
            while (bigger.slot[j])
                j = (j + 1) & (bigger.cap - 1);
            bigger.slot[j] = t->slot[i];
            bigger.n++;
        }
        free(t->slot);
        *t = bigger;
    }
    size_t i = id_home(t, id);
    while (t->slot[i])
        i = (i + 1) & (t->cap - 1);
    t->slot[i] = id;
    t->n++;
    return 1;
}

/* linear probing without tombstones: shift later members of the run back */
static void idset_del(idset *t, int64_t id)
{
    if (!t->cap)
        return;
    size_t mask = t->cap - 1, i = id_home(t, id);
    while (t->slot[i] && t->slot[i] != id)
        i = (i + 1) & mask;
    if (!t->slot[i])
        return;
    t->slot[i] = 0;
    t->n--;
    for (size_t j = (i + 1) & mask; t->slot[j]; j = (j + 1) & mask) {
        size_t h = id_home(t, t->slot[j]);
        /* move slot j into the hole unless its home lies cyclically in (i, j] */
        int stays = (i <= j) ? (i < h && h <= j) : (i < h || h <= j);
        if (!stays) {
            t->slot[i] = t->slot[j];
            t->slot[j] = 0;
            i = j;
        }
    }
}

/* ---- operations: life cycle ---------------------------------------------------------- */

static void op_reply(redisAsyncContext *ac, void *reply, void *priv);
static void idle_cb(uv_idle_t *h);
static void conn_lost(rconn *c, const char *why);
static void conn_kill(rconn *c, const char *why);

static rop *op_new(store_redis *s, int type, void *ud)
{
    rop *op = calloc(1, sizeof(*op));
    if (!op)
        return NULL;
    op->s = s;
    op->type = (uint8_t)type;
    op->ud = ud;
    op->script = -1;
    op->completed = type >= OP_HANDSHAKE;   /* internal: nobody to answer */
    op->write = type == OP_CREATE || type == OP_QUICK || type == OP_SAVE || type == OP_RESET;
    if (op->write)
        snprintf(op->nonce, sizeof(op->nonce), "%016" PRIx64 "%016" PRIx64, s->nonce_salt,
                 ++s->nonce_seq);
    return op;
}

/* The op itself could not be allocated: the caller is owed an ENOMEM all the
 * same, at the next idle turn like every answer (store.h, store_owed). */
static void idle_arm(store_redis *s);

static void fail_push(store_redis *s, int type, rcb cb, void *ud)
{
    int kind = type == OP_LIST ? STORE_CB_LIST : type == OP_CLAIM ? STORE_CB_IDS
             : type == OP_RESET || type == OP_SUB ? STORE_CB_DONE : STORE_CB_GAME;
    if (store_owed_push(&s->owed, kind, cb, ud) != 0) {
        log_error("redis: out of memory with %d answers owed: giving up", STORE_OWED_MAX);
        abort();
    }
    idle_arm(s);
}

static void op_release(rop *op)
{
    if (op->completed && !op->hiredis && op->where == W_NONE)
        free(op);
}

/* Answer the caller. g, arr and n as the callback type wants them. */
static void op_done(rop *op, int status, const store_game *g, const void *arr, size_t n)
{
    op->completed = 1;
    switch (op->type) {
    case OP_CREATE:
    case OP_LOAD:
    case OP_SAVE:
    case OP_QUICK:
        if (op->cb.game)
            op->cb.game(op->ud, status, g);
        break;
    case OP_LIST:
        if (op->cb.list)
            op->cb.list(op->ud, status, arr, n);
        break;
    case OP_CLAIM:
        if (op->cb.ids)
            op->cb.ids(op->ud, status, arr, n);
        break;
    case OP_RESET:
    case OP_SUB:
        if (op->cb.done)
            op->cb.done(op->ud, status);
        break;
    default:
        break;
    }
}

static void idle_arm(store_redis *s)
{
    if (!s->finishing)
        uv_idle_start(&s->idle, idle_cb);   /* a no-op when started */
}

/* answer op with status at the next loop turn, never inside the call */
static void dq_push(rop *op, int status)
{
    op->status = status;
    ol_append(&op->s->dq, op, W_DQ);
    idle_arm(op->s);
}

static void arg_add(rop *op, const void *p, size_t n)
{
    op->argv[op->argc] = p;
    op->argvlen[op->argc] = n;
    op->argc++;
}

static void arg_str(rop *op, const char *str) { arg_add(op, str, strlen(str)); }

static void arg_i64(rop *op, int64_t v)
{
    char *b = op->num[op->argc];
    int n = snprintf(b, sizeof(op->num[0]), "%" PRId64, v);
    arg_add(op, b, (size_t)n);
}

static void arg_u64(rop *op, uint64_t v)
{
    char *b = op->num[op->argc];
    int n = snprintf(b, sizeof(op->num[0]), "%" PRIu64, v);
    arg_add(op, b, (size_t)n);
}

/* EVALSHA <sha> <nkeys>: the sha is filled in when the op is sent */
static void arg_script(rop *op, int sc, int nkeys)
{
    op->script = sc;
    arg_str(op, "EVALSHA");
    arg_add(op, "", 0);
    arg_i64(op, nkeys);
}

/* Hand op to the context ac of connection c. 0, or -1 when hiredis refuses
 * (the context is being torn down). */
static int op_issue(rop *op, rconn *c, redisAsyncContext *ac)
{
    store_redis *s = op->s;
    if (op->script >= 0) {
        op->argv[0] = op->eval ? "EVAL" : "EVALSHA";
        op->argv[1] = op->eval ? s->src[op->script] : s->sha[op->script];
        op->argvlen[0] = strlen(op->argv[0]);
        op->argvlen[1] = strlen(op->argv[1]);
    }
    if (redisAsyncCommandArgv(ac, op_reply, op, op->argc, op->argv, op->argvlen) != REDIS_OK)
        return -1;
    op->hiredis = 1;
    op->conn = c;
    op->ac = ac;
    op->t0 = uv_hrtime();
    if (!op->t_first)
        op->t_first = uv_now(s->loop);
    ol_append(&s->inflight, op, W_INFLIGHT);
    return 0;
}

/* Send a caller's op on the command connection, or answer it later. */
static void op_send(rop *op)
{
    store_redis *s = op->s;
    if (s->closing)
        dq_push(op, STORE_ECLOSED);
    else if (s->cmd.state != C_UP || op_issue(op, &s->cmd, s->cmd.ac) != 0)
        dq_push(op, STORE_EUNAVAIL);
}

/* An error reply's status. The first four in the list mean the connection
 * is useless now (Redis restarted and is still loading, we reached a
 * replica, or lost our AUTH): *drop asks for a fresh one. */
static int err_status(const redisReply *r, int *drop)
{
    static const char *const unavail[] = {"LOADING", "MASTERDOWN", "READONLY", "NOAUTH",
                                          "BUSY", "TRYAGAIN", "CLUSTERDOWN", "OOM",
                                          "NOPERM", "WRONGPASS", "NOSCRIPT"};
    *drop = 0;
    for (size_t i = 0; i < sizeof(unavail) / sizeof(unavail[0]); i++) {
        size_t n = strlen(unavail[i]);
        if (r->len >= n && strncmp(r->str, unavail[i], n) == 0) {
            *drop = i < 4;
            return STORE_EUNAVAIL;
        }
    }
    log_warn("redis: unexpected error reply: %s", r->str);
    return STORE_EINVAL;
}

static int reply_is_str(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_STRING;
}

static void latency_sample(store_redis *s, const rop *op)
{
    double ms = (double)(uv_hrtime() - op->t0) / 1e6;
    s->latency_ms = s->latency_ms > 0 ? 0.8 * s->latency_ms + 0.2 * ms : ms;
}

static void beat(store_redis *s);
static void seen_id(store_redis *s, int64_t id);

/* ---- writes in doubt ------------------------------------------------------------------
 * A write whose reply never came (the connection dropped, or Redis gave no
 * reply for OP_TIMEOUT_MS and we dropped it) may or may not have run, and a
 * command already in Redis' socket buffer still runs when a frozen Redis
 * resumes. Such an op is not answered: it waits on s->doubts until the
 * command connection is up again, then the resolve script reads its marker
 * (or fences it: see LUA_FENCE) and the caller gets the real outcome. If
 * that takes longer than DOUBT_MAX_MS the caller gets STORE_EUNKNOWN, never a
 * guess. */

static void doubt_add(rop *op)
{
    store_redis *s = op->s;
    if (!op->resolving)
        log_info("redis: %s %s: reply lost, finding out whether it ran",
                 script_name[op->script >= 0 ? op->script : SC_SAVE], op->nonce);
    op->resolving = 0;
    ol_append(&s->doubts, op, W_DOUBT);
}

static void doubts_resolve(store_redis *s)
{
    if (s->closing || s->cmd.state != C_UP)
        return;
    while (s->doubts.head) {
        rop *op = s->doubts.head;
        ol_unlink(&s->doubts, op);
        /* the original arguments are spent; blob and g (what was written) stay */
        op->argc = 0;
        op->eval = 0;
        arg_script(op, SC_RESOLVE, 0);
        arg_str(op, op->nonce);
        arg_i64(op, FENCE_TTL_MS);
        op->resolving = 1;
        if (op_issue(op, &s->cmd, s->cmd.ac) != 0) {
            doubt_add(op);
            return;
        }
    }
}

/* the bound: an op still undecided after DOUBT_MAX_MS is answered EUNKNOWN */
static void doubts_expire(store_redis *s)
{
    uint64_t now = uv_now(s->loop);
    rop *op = s->doubts.head;
    while (op) {
        rop *next = op->next;
        if (now - op->t_first >= DOUBT_MAX_MS) {
            log_error("redis: could not learn within %d s whether write %s ran",
                      DOUBT_MAX_MS / 1000, op->nonce);
            ol_unlink(&s->doubts, op);
            op_done(op, STORE_EUNKNOWN, NULL, NULL, 0);
            op_release(op);
        }
        op = next;
    }
}

/* the record a create wrote: the encoded template with the id Redis chose */
static int created_record(const rop *op, int64_t id, store_game *g)
{
    uint8_t b[REC_MAX];
    if (op->bloblen < REC_ID_OFFSET + 8 || op->bloblen > REC_MAX)
        return -1;
    memcpy(b, op->blob, op->bloblen);
    for (int i = 0; i < 8; i++)
        b[REC_ID_OFFSET + i] = (uint8_t)((uint64_t)id >> (8 * i));
    return rec_decode(b, op->bloblen, g);
}

/* a marker "c<id>" / "p<id>" -> id, or 0 */
static int64_t marker_id(const redisReply *m)
{
    int64_t id = 0;
    for (size_t i = 1; i < m->len; i++) {
        if (m->str[i] < '0' || m->str[i] > '9' || id > (INT64_MAX - 9) / 10)
            return 0;
        id = id * 10 + (m->str[i] - '0');
    }
    return id;
}

static void resolve_reply(rop *op, redisAsyncContext *ac, const redisReply *r)
{
    store_redis *s = op->s;
    store_game g;
    if (r->type == REDIS_REPLY_ERROR) {
        int drop;
        (void)err_status(r, &drop);
        if (drop && ac == s->cmd.ac)
            conn_kill(&s->cmd, r->str);
        doubt_add(op);   /* still unknown: asked again on the next tick or connection */
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_INTEGER)
        goto bad;
    if (r->element[0]->integer == 0) {
        log_info("redis: write %s did not run (and now never will)", op->nonce);
        op_done(op, STORE_EUNAVAIL, NULL, NULL, 0);
        return;
    }
    if (r->elements < 2 || !reply_is_str(r->element[1]) || r->element[1]->len < 1)
        goto bad;
    const redisReply *m = r->element[1];
    int64_t id = marker_id(m);
    log_info("redis: write %s had run", op->nonce);
    switch (m->str[0]) {
    case 's':
        if (op->type != OP_SAVE)
            goto bad;
        op_done(op, STORE_OK, &op->g, NULL, 0);
        return;
    case 'r':
        if (op->type != OP_RESET)
            goto bad;
        op_done(op, STORE_OK, NULL, NULL, 0);
        return;
    case 'c':
        if ((op->type != OP_CREATE && op->type != OP_QUICK) || id <= 0 ||
            created_record(op, id, &g) != 0)
            goto bad;
        seen_id(s, id);
        op_done(op, STORE_OK, &g, NULL, 0);
        return;
    case 'p':
        if (op->type != OP_QUICK || id <= 0 || r->elements < 3 || !reply_is_str(r->element[2]))
            goto bad;
        seen_id(s, id);
        if (rec_decode(r->element[2]->str, r->element[2]->len, &g) == 0 && g.id == id)
            op_done(op, STORE_OK, &g, NULL, 0);
        else
            op_done(op, STORE_EUNAVAIL, NULL, NULL, 0);   /* that game is gone since */
        return;
    default:
        break;
    }
bad:
    log_warn("redis: unexpected reply to resolve");
    doubt_add(op);
}

/* The reply to a caller's op (r is NULL when the connection went away). */
static void op_handle(rop *op, redisAsyncContext *ac, redisReply *r)
{
    store_redis *s = op->s;
    store_game g;
    if (!r) {
        op_done(op, s->closing ? STORE_ECLOSED : STORE_EUNAVAIL, NULL, NULL, 0);
        return;
    }
    if (op->resolving) {
        resolve_reply(op, ac, r);
        return;
    }
    if (r->type == REDIS_REPLY_ERROR && r->len >= 7 && strncmp(r->str, "TTTLOST", 7) == 0) {
        /* nothing was created; the heartbeat learns the new data set now */
        s->lost_until = uv_now(s->loop) + LOST_GRACE_MS;
        op_done(op, STORE_EUNAVAIL, NULL, NULL, 0);
        beat(s);
        return;
    }
    if (r->type == REDIS_REPLY_ERROR && r->len >= 9 && strncmp(r->str, "TTTFENCED", 9) == 0) {
        op_done(op, STORE_EUNAVAIL, NULL, NULL, 0);   /* a nonce is never reused: cannot be */
        return;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        int drop;
        int st = err_status(r, &drop);
        if (drop && ac == s->cmd.ac)
            conn_kill(&s->cmd, r->str);
        op_done(op, st, NULL, NULL, 0);
        return;
    }
    switch (op->type) {
    case OP_LOAD:
        if (r->type == REDIS_REPLY_NIL)
            op_done(op, STORE_ENOTFOUND, NULL, NULL, 0);
        else if (reply_is_str(r) && rec_decode(r->str, r->len, &g) == 0 && g.id == op->id) {
            seen_id(s, g.id);
            op_done(op, STORE_OK, &g, NULL, 0);
        }
        else
            goto bad;
        return;
    case OP_CREATE:
    case OP_QUICK:
        if (!reply_is_str(r) || rec_decode(r->str, r->len, &g) != 0)
            goto bad;
        seen_id(s, g.id);
        op_done(op, STORE_OK, &g, NULL, 0);
        return;
    case OP_SAVE:
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
            r->element[0]->type != REDIS_REPLY_INTEGER)
            goto bad;
        if (r->element[0]->integer == 0) {
            seen_id(s, op->id);
            op_done(op, STORE_OK, &op->g, NULL, 0);
        } else if (r->element[0]->integer == 1) {
            op_done(op, STORE_ENOTFOUND, NULL, NULL, 0);
        } else {
            if (r->elements < 2 || !reply_is_str(r->element[1]) ||
                rec_decode(r->element[1]->str, r->element[1]->len, &g) != 0)
                goto bad;
            op_done(op, STORE_ECONFLICT, &g, NULL, 0);
        }
        return;
    case OP_LIST: {
        if (r->type != REDIS_REPLY_ARRAY)
            goto bad;
        store_open_game *arr = r->elements ? calloc(r->elements, sizeof(*arr)) : NULL;
        size_t n = 0;
        if (r->elements && !arr) {
            op_done(op, STORE_ENOMEM, NULL, NULL, 0);
            return;
        }
        for (size_t i = 0; i < r->elements; i++) {
            if (reply_is_str(r->element[i]) &&
                rec_decode(r->element[i]->str, r->element[i]->len, &g) == 0) {
                seen_id(s, g.id);
                arr[n] = (store_open_game){g.id, g.created_ms, ""};
                memcpy(arr[n++].name, g.name[0], sizeof(arr[0].name));   /* the creator's */
            }
        }
        op_done(op, STORE_OK, NULL, arr, n);
        free(arr);
        return;
    }
    case OP_CLAIM: {
        if (r->type != REDIS_REPLY_ARRAY)
            goto bad;
        int64_t *ids = r->elements ? calloc(r->elements, sizeof(*ids)) : NULL;
        size_t n = 0;
        if (r->elements && !ids) {
            op_done(op, STORE_ENOMEM, NULL, NULL, 0);
            return;
        }
        for (size_t i = 0; i < r->elements; i++) {
            long long v = reply_is_str(r->element[i]) ? strtoll(r->element[i]->str, NULL, 10)
                                                      : 0;
            if (v > 0) {
                seen_id(s, v);
                ids[n++] = v;
            }
        }
        op_done(op, STORE_OK, NULL, ids, n);
        free(ids);
        return;
    }
    case OP_RESET:
        if (r->type != REDIS_REPLY_INTEGER)
            goto bad;
        op_done(op, r->integer == 0 ? STORE_OK : STORE_ENOTFOUND, NULL, NULL, 0);
        return;
    default:
        break;
    }
bad:
    log_warn("redis: unexpected reply to %s", op->script >= 0 ? script_name[op->script] : "GET");
    op_done(op, STORE_EINVAL, NULL, NULL, 0);
}

/* ---- presence: heartbeat, dead instances, goodbye ---------------------------------- */

static void seen_id(store_redis *s, int64_t id)
{
    if (id > s->max_id)
        s->max_id = id;
}

/* The heartbeat's ARGV after the instance: known epoch, a fresh candidate,
 * the highest id seen (see the heartbeat script). */
static void args_epoch(store_redis *s, rop *op)
{
    arg_str(op, s->epoch);
    char *b = op->num[op->argc];
    int n = snprintf(b, sizeof(op->num[0]), "%016" PRIx64, rng_next(s));
    arg_add(op, b, (size_t)n);
    arg_i64(op, s->max_id);
}

/* Redis lost its data (FLUSHALL, or a restart without persistence): every
 * game is gone. The heartbeat script has raised the id counter above what
 * we have seen; nobody creates for LOST_GRACE_MS so the other live processes
 * raise it above what they have seen too (each within one heartbeat). */
static void data_lost(store_redis *s, const char *epoch)
{
    log_error("redis: the store lost its data (epoch %s, now %s): every game is gone; "
              "new ids start above %" PRId64, s->epoch, epoch, s->max_id);
    snprintf(s->epoch, sizeof(s->epoch), "%s", epoch);
    s->lost_count++;
    s->lost_until = uv_now(s->loop) + LOST_GRACE_MS;
    s->beaten = 0;   /* our instance is listed anew: not "declared dead" */
    if (!s->closing && s->ev.lost)
        s->ev.lost(s->ev.ud);
}

/* {listed anew, lost, epoch} from the heartbeat script: 0, or -1 when the
 * reply is not that shape */
static int epoch_reply(store_redis *s, const redisReply *r, long long *added)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_INTEGER ||
        !reply_is_str(r->element[2]) || r->element[2]->len == 0 ||
        r->element[2]->len >= sizeof(s->epoch) ||
        strlen(r->element[2]->str) != r->element[2]->len)
        return -1;
    *added = r->element[0]->integer;
    const char *e = r->element[2]->str;
    if (r->element[1]->integer == 1)
        data_lost(s, e);
    else if (!s->epoch[0])
        snprintf(s->epoch, sizeof(s->epoch), "%s", e);
    return 0;
}

static void beat(store_redis *s)
{
    if (s->beat_busy || s->cmd.state != C_UP || !s->instance)
        return;
    rop *op = op_new(s, OP_BEAT, NULL);
    if (!op)
        return;
    arg_script(op, SC_BEAT, 0);
    arg_u64(op, s->instance);
    args_epoch(s, op);
    if (op_issue(op, &s->cmd, s->cmd.ac) == 0)
        s->beat_busy = 1;
    else
        free(op);
}

static void reap(store_redis *s)
{
    if (s->reap_busy || s->cmd.state != C_UP || !s->instance)
        return;
    rop *op = op_new(s, OP_REAP, NULL);
    if (!op)
        return;
    arg_script(op, SC_REAP, 0);
    arg_u64(op, s->instance);
    arg_i64(op, STALE_MS);
    arg_i64(op, REAP_MAX);
    arg_i64(op, REAP_GAP_MS);
    if (op_issue(op, &s->cmd, s->cmd.ac) == 0)
        s->reap_busy = 1;
    else
        free(op);
}

/* {{instance, {id, ...}}, ...}: each instance was claimed by us alone */
static void reap_reply(store_redis *s, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || !reply_is_str(e->element[0]) ||
            e->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
        unsigned long inst = strtoul(e->element[0]->str, NULL, 10);
        const redisReply *idr = e->element[1];
        int64_t *ids = idr->elements ? calloc(idr->elements, sizeof(*ids)) : NULL;
        size_t n = 0;
        for (size_t j = 0; ids && j < idr->elements; j++) {
            long long v = reply_is_str(idr->element[j]) ? strtoll(idr->element[j]->str, NULL, 10)
                                                        : 0;
            if (v > 0)
                ids[n++] = v;
        }
        log_info("redis: instance %lu is silent: its %zu games are ours to repair", inst, n);
        if (!s->closing && s->ev.orphaned && inst > 0 && inst <= UINT32_MAX)
            s->ev.orphaned(s->ev.ud, (uint32_t)inst, ids, n);
        free(ids);
    }
}

static void bye_done(store_redis *s)
{
    if (!s->bye_pending)
        return;
    s->bye_pending = 0;
    uv_timer_stop(&s->tick);
    conn_kill(&s->cmd, NULL);
    idle_arm(s);
}

/* ---- replies -------------------------------------------------------------------------- */

static void conn_ready(rconn *c);

/* A handshake step answered: AUTH, SELECT, SCRIPT LOAD, INCR instance_seq. */
static void hs_reply(rop *op, redisAsyncContext *ac, const redisReply *r)
{
    rconn *c = op->conn;
    store_redis *s = c->s;
    if (!r || ac != c->ac || c->state != C_HANDSHAKE)
        return;   /* that context is gone already */
    if (r->type == REDIS_REPLY_ERROR) {
        char why[200];
        snprintf(why, sizeof(why), "handshake: %s", r->str);
        conn_kill(c, why);
        return;
    }
    if (op->hs == HS_SCRIPT) {
        if (!reply_is_str(r) || r->len != 40) {
            conn_kill(c, "SCRIPT LOAD gave no sha1");
            return;
        }
        memcpy(s->sha[op->hs_arg], r->str, 40);
        s->sha[op->hs_arg][40] = '\0';
    } else if (op->hs == HS_EPOCH) {
        long long added;
        if (epoch_reply(s, r, &added) != 0) {
            conn_kill(c, "bad epoch reply");
            return;
        }
    } else if (op->hs == HS_INSTANCE) {
        if (r->type != REDIS_REPLY_INTEGER || r->integer <= 0 || r->integer > UINT32_MAX) {
            conn_kill(c, "bad instance id");
            return;
        }
        if (!s->instance)
            s->instance = (uint32_t)r->integer;
    }
    if (--c->hs_left == 0)
        conn_ready(c);
}

/* If r is NOSCRIPT (Redis restarted or SCRIPT FLUSH ran), send op again with
 * the script's source. 1 when it went out again. */
static int op_retry_eval(rop *op, redisAsyncContext *ac, const redisReply *r)
{
    if (op->script < 0 || op->eval || r->type != REDIS_REPLY_ERROR ||
        strncmp(r->str, "NOSCRIPT", 8) != 0 || ac != op->conn->ac)
        return 0;
    op->eval = 1;
    log_info("redis: script %s was not loaded: sent with EVAL", script_name[op->script]);
    return op_issue(op, op->conn, ac) == 0;
}

/* hiredis' callback for every command but SUBSCRIBE. reply is NULL when the
 * context is being freed (by hiredis after an error, or by us). */
static void op_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    rop *op = priv;
    store_redis *s = op->s;
    redisReply *r = reply;
    int live = op->where == W_INFLIGHT;   /* not answered early by close */

    op->hiredis = 0;
    if (live)
        ol_unlink(&s->inflight, op);
    if (!r && ac == op->conn->ac)
        conn_lost(op->conn, ac->c.errstr[0] ? ac->c.errstr : "connection closed");
    if (live && r && op_retry_eval(op, ac, r))
        return;
    if (live && r)
        latency_sample(s, op);
    switch (op->type) {
    case OP_BEAT:
        s->beat_busy = 0;
        long long added = 0;
        if (live && r && epoch_reply(s, r, &added) == 0) {
            if (added == 1 && s->beaten) {
                log_warn("redis: instance %u had been declared dead by another process "
                         "(silent for %d s): its seats there were marked away; "
                         "claiming them again", s->instance, STALE_MS / 1000);
                /* the manager re-asserts its seats on every health(1) */
                if (!s->closing && s->ev.health)
                    s->ev.health(s->ev.ud, 1);
            }
            s->beaten = 1;
        }
        break;
    case OP_REAP:
        s->reap_busy = 0;
        if (live && r)
            reap_reply(s, r);
        break;
    case OP_BYE:
        bye_done(s);
        break;
    case OP_HANDSHAKE:
        if (live)
            hs_reply(op, ac, r);
        break;
    default:
        if (live && !r && op->write && !op->completed && !s->closing)
            doubt_add(op);
        else if (live)
            op_handle(op, ac, r);
        break;
    }
    op_release(op);
}

/* Everything the subscriber connection receives: confirmations of SUBSCRIBE
 * and UNSUBSCRIBE, and messages. */
static void sub_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    store_redis *s = priv;
    redisReply *r = reply;
    if (!r || ac != s->sub.ac || r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
        !reply_is_str(r->element[0]) || !reply_is_str(r->element[1]))
        return;
    int64_t id = chan_id(s, r->element[1]->str, r->element[1]->len);
    if (id <= 0)
        return;
    if (strcasecmp(r->element[0]->str, "message") == 0) {
        store_game g;
        if (s->closing || !idset_has(&s->subs, id) || !reply_is_str(r->element[2]))
            return;
        if (rec_decode(r->element[2]->str, r->element[2]->len, &g) != 0 || g.id != id) {
            log_warn("redis: unreadable record published for game %" PRId64, id);
            return;
        }
        seen_id(s, g.id);
        if (s->ev.published)
            s->ev.published(s->ev.ud, &g);
    } else if (strcasecmp(r->element[0]->str, "subscribe") == 0) {
        for (rop *op = s->confirms.head; op; op = op->next) {
            if (op->id == id) {
                ol_unlink(&s->confirms, op);
                op_done(op, STORE_OK, NULL, NULL, 0);
                op_release(op);
                break;
            }
        }
    }
}

/* ---- connections ------------------------------------------------------------------------ */

static void update_health(store_redis *s)
{
    int up = !s->closing && s->cmd.state == C_UP && s->sub.state == C_UP;
    if (up == s->up)
        return;
    s->up = up;
    if (up)
        log_info("redis: reachable (instance %u, %s)", s->instance, s->name[0] ? s->name : "-");
    else
        log_warn("redis: unreachable");
    if (!s->closing && s->ev.health)
        s->ev.health(s->ev.ud, up);
}

static void retry_cb(uv_timer_t *t);

static void conn_schedule(rconn *c)
{
    store_redis *s = c->s;
    int d = c->backoff_ms;
    d = d / 2 + (int)(rng_next(s) % (uint64_t)(d / 2 + 1));   /* [d/2, d] */
    c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
    uv_timer_start(&c->retry, retry_cb, (uint64_t)d, 0);
}

/* The context of c is gone or going (hiredis frees it, or we doomed it):
 * forget it, fail what waited on it, and try again later. */
static void conn_lost(rconn *c, const char *why)
{
    store_redis *s = c->s;
    int was = c->state;
    c->ac = NULL;
    c->state = C_DOWN;
    if (!s->closing && why) {
        if (was == C_UP)
            log_warn("redis: %s connection lost: %s", c->name, why);
        else if (c->fails++ == 0)
            log_warn("redis: %s connection failed: %s (retrying)", c->name, why);
        else
            log_debug("redis: %s connection failed again: %s", c->name, why);
    }
    if (c->sub) {
        /* unconfirmed subscriptions fail; the caller subscribes again after
         * health(1), so they must not be restored behind its back */
        while (s->confirms.head) {
            rop *op = s->confirms.head;
            ol_unlink(&s->confirms, op);
            if (op->added)
                idset_del(&s->subs, op->id);
            dq_push(op, s->closing ? STORE_ECLOSED : STORE_EUNAVAIL);
        }
    }
    update_health(s);
    if (s->closing)
        idle_arm(s);
    else
        conn_schedule(c);
}

/* Drop c's context on our initiative. hiredis must not free a context inside
 * its own callbacks, so the free waits for the idle turn. */
static void conn_kill(rconn *c, const char *why)
{
    if (!c->ac)
        return;
    c->doomed = c->ac;
    conn_lost(c, why);
    idle_arm(c->s);
}

static void conn_ready(rconn *c)
{
    store_redis *s = c->s;
    if (c->sub) {
        /* restore every subscription, SUB_BATCH channels per command */
        const char *argv[SUB_BATCH + 1];
        size_t lens[SUB_BATCH + 1];
        char (*names)[96] = malloc(SUB_BATCH * sizeof(*names));
        if (!names) {
            conn_kill(c, "out of memory");
            return;
        }
        int argc = 0;
        for (size_t i = 0; i <= s->subs.cap; i++) {
            int64_t id = i < s->subs.cap ? s->subs.slot[i] : 0;
            if (id) {
                if (argc == 0) {
                    argv[0] = "SUBSCRIBE";
                    lens[0] = 9;
                    argc = 1;
                }
                lens[argc] = (size_t)chan_name(s, names[argc - 1], sizeof(names[0]), id);
                argv[argc] = names[argc - 1];
                argc++;
            }
            if (argc == SUB_BATCH + 1 || (i == s->subs.cap && argc > 1)) {
                if (redisAsyncCommandArgv(c->ac, sub_reply, s, argc, argv, lens) != REDIS_OK) {
                    free(names);
                    conn_kill(c, "SUBSCRIBE refused");
                    return;
                }
                argc = 0;
            }
        }
        free(names);
    }
    c->state = C_UP;
    c->fails = 0;
    c->backoff_ms = BACKOFF_MIN_MS;
    log_info("redis: %s connection up", c->name);
    if (!c->sub) {
        doubts_resolve(s);
        beat(s);
    }
    update_health(s);
}

static int hs_send(rconn *c, int hs, int arg, const char *const *argv, int argc)
{
    rop *op = op_new(c->s, OP_HANDSHAKE, NULL);
    if (!op)
        return -1;
    op->hs = hs;
    op->hs_arg = arg;
    for (int i = 0; i < argc; i++)
        arg_str(op, argv[i]);
    if (op_issue(op, c, c->ac) != 0) {
        free(op);
        return -1;
    }
    c->hs_left++;
    return 0;
}

/* Connected: authenticate, choose the db, load the scripts, get an instance
 * id, all pipelined; the connection is up when every reply is in. */
static void conn_handshake(rconn *c)
{
    store_redis *s = c->s;
    int rc = 0;
    c->state = C_HANDSHAKE;
    c->hs_left = 0;
    if (s->url.pass) {
        const char *a[] = {"AUTH", s->url.user ? s->url.user : s->url.pass, s->url.pass};
        rc |= hs_send(c, HS_AUTH, 0, a, s->url.user ? 3 : 2);
    }
    if (!c->sub) {
        char db[16];
        snprintf(db, sizeof(db), "%d", s->url.db);
        const char *sel[] = {"SELECT", db};
        if (s->url.db)
            rc |= hs_send(c, HS_SELECT, 0, sel, 2);
        for (int i = 0; i < SC_COUNT; i++) {
            const char *a[] = {"SCRIPT", "LOAD", s->src[i]};
            rc |= hs_send(c, HS_SCRIPT, i, a, 3);
        }
        char seq[PREFIX_MAX + 16];
        snprintf(seq, sizeof(seq), "%s:instance_seq", s->prefix);
        const char *inc[] = {"INCR", seq};
        if (!s->instance)
            rc |= hs_send(c, HS_INSTANCE, 0, inc, 2);
        /* learn the data set, or find that it was lost while we were away */
        char inst[16], cand[24], floor[24];
        snprintf(inst, sizeof(inst), "%u", s->instance);
        snprintf(cand, sizeof(cand), "%016" PRIx64, rng_next(s));
        snprintf(floor, sizeof(floor), "%" PRId64, s->max_id);
        const char *ep[] = {"EVAL", s->src[SC_BEAT], "0", inst, s->epoch, cand, floor};
        rc |= hs_send(c, HS_EPOCH, 0, ep, 7);
    }
    if (rc)
        conn_kill(c, "handshake refused");
    else if (c->hs_left == 0)
        conn_ready(c);
}

static void on_connect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;   /* ours; hiredis passes it const */
    rconn *c = ac->data;
    if (status != REDIS_OK) {
        /* hiredis frees the context when we return */
        if (ac == c->doomed)
            c->doomed = NULL;
        else if (ac == c->ac)
            conn_lost(c, ac->c.errstr[0] ? ac->c.errstr : "connect failed");
        return;
    }
    if (ac == c->ac)
        conn_handshake(c);
}

static void on_disconnect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    rconn *c = ac->data;
    (void)status;
    if (ac == c->doomed)
        c->doomed = NULL;
    else if (ac == c->ac)
        conn_lost(c, ac->c.errstr[0] ? ac->c.errstr : "closed by the server");
    idle_arm(c->s);
}

static void conn_connect(rconn *c, const char *ip)
{
    store_redis *s = c->s;
    redisAsyncContext *ac = s->url.unix_path ? redisAsyncConnectUnix(s->url.unix_path)
                                         : redisAsyncConnect(ip, s->url.port);
    if (!ac || ac->err) {
        char why[160];
        snprintf(why, sizeof(why), "%s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        conn_lost(c, why);
        return;
    }
    if (redisLibuvAttach(ac, s->loop) != REDIS_OK) {
        memset(&ac->ev, 0, sizeof(ac->ev));   /* the adapter may have set hooks half way */
        redisAsyncFree(ac);
        conn_lost(c, "cannot attach to the loop");
        return;
    }
    ac->data = c;
    c->ac = ac;
    c->state = C_CONNECTING;
    /* the subscriber never sends anything (PING is not safe on a subscribed
     * hiredis 0.14 context): let the kernel notice a peer that vanished */
    if (!s->url.unix_path)
        redisEnableKeepAlive(&ac->c);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    redisAsyncSetConnectCallback(ac, on_connect);   /* arms the write event */
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    rconn *c = req->data;
    store_redis *s = c->s;
    char ip[INET6_ADDRSTRLEN] = "";
    c->gai_busy = 0;
    /* IPv4 first: "localhost" must not end up on ::1 when Redis binds 127.0.0.1 */
    const struct addrinfo *pick = NULL;
    for (const struct addrinfo *a = status == 0 ? res : NULL; a; a = a->ai_next) {
        if (a->ai_family == AF_INET || (a->ai_family == AF_INET6 && !pick))
            pick = a;
        if (pick && pick->ai_family == AF_INET)
            break;
    }
    if (pick) {
        const void *a = pick->ai_family == AF_INET6
                            ? (const void *)&((struct sockaddr_in6 *)pick->ai_addr)->sin6_addr
                            : (const void *)&((struct sockaddr_in *)pick->ai_addr)->sin_addr;
        inet_ntop(pick->ai_family, a, ip, sizeof(ip));
    }
    uv_freeaddrinfo(res);
    if (s->closing) {
        c->state = C_DOWN;
        idle_arm(s);
    } else if (!ip[0]) {
        char why[160];
        snprintf(why, sizeof(why), "cannot resolve %s: %s", s->url.host,
                 status ? uv_strerror(status) : "no address");
        conn_lost(c, why);
    } else {
        conn_connect(c, ip);
    }
}

/* One connection attempt with a fresh context. Runs from the retry timer or
 * store_open, never inside a hiredis callback. */
static void conn_start(rconn *c)
{
    store_redis *s = c->s;
    if (s->closing || c->ac || c->gai_busy)
        return;
    if (c->doomed) {   /* the idle turn has not come yet: free it here */
        redisAsyncContext *ac = c->doomed;
        c->doomed = NULL;
        redisAsyncFree(ac);
    }
    c->since = uv_now(s->loop);
    if (s->url.unix_path || s->url.numeric_host) {
        conn_connect(c, s->url.host);
        return;
    }
    /* getaddrinfo blocks; hiredis 0.14 would call it on the loop thread */
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    c->gai.data = c;
    int rc = uv_getaddrinfo(s->loop, &c->gai, on_resolved, s->url.host, NULL, &hints);
    if (rc != 0) {
        conn_lost(c, uv_strerror(rc));
        return;
    }
    c->gai_busy = 1;
    c->state = C_RESOLVING;
}

static void retry_cb(uv_timer_t *t)
{
    conn_start(t->data);
}

static void tick_cb(uv_timer_t *t)
{
    store_redis *s = t->data;
    if (s->closing) {   /* while closing this timer waits for the goodbye */
        bye_done(s);
        return;
    }
    uint64_t now = uv_now(s->loop);
    rconn *conns[2] = {&s->cmd, &s->sub};
    for (int i = 0; i < 2; i++) {
        rconn *c = conns[i];
        if ((c->state == C_CONNECTING || c->state == C_HANDSHAKE) &&
            now - c->since >= CONNECT_TIMEOUT_MS)
            conn_kill(c, "connect timed out");
    }
    /* replies come in order, so the oldest op tells whether Redis is hung
     * (the adapter ignores poll errors, so this is also our error detector) */
    rop *old = s->inflight.head;
    if (old && old->ac == old->conn->ac &&
        (uv_hrtime() - old->t0) / 1000000 >= OP_TIMEOUT_MS)
        conn_kill(old->conn, "no reply for 5 s");
    doubts_expire(s);
    if (s->cmd.state == C_UP) {
        doubts_resolve(s);
        beat(s);
        if (++s->ticks % REAP_EVERY == 0)
            reap(s);
    }
}

/* ---- close ---------------------------------------------------------------------------- */

static void src_free(store_redis *s)
{
    for (int i = 0; i < SC_COUNT; i++)
        free(s->src[i]);
}

static void on_handle_closed(uv_handle_t *h)
{
    store_redis *s = h->data;
    if (--s->handles_open > 0)
        return;
    void (*done)(void *) = s->done;
    void *ud = s->done_ud;
    free(s->subs.slot);
    redis_url_free(&s->url);
    free(s->name);
    src_free(s);
    free(s);
    if (done)
        done(ud);
}

/* Close our handles once no context, lookup or answer is outstanding. Runs
 * from the idle turn only, a loop iteration after the last context went, so
 * the adapter's poll handles are closed already when done() runs. */
static void maybe_finish(store_redis *s)
{
    if (!s->closing || s->finishing || s->cmd.ac || s->sub.ac || s->cmd.doomed ||
        s->sub.doomed || s->cmd.gai_busy || s->sub.gai_busy || s->dq.head || s->bye_pending ||
        s->owed.n)
        return;
    s->finishing = 1;
    s->handles_open = 4;
    s->cmd.retry.data = s->sub.retry.data = s;   /* on_handle_closed wants the store */
    uv_idle_stop(&s->idle);
    uv_close((uv_handle_t *)&s->idle, on_handle_closed);
    uv_close((uv_handle_t *)&s->tick, on_handle_closed);
    uv_close((uv_handle_t *)&s->cmd.retry, on_handle_closed);
    uv_close((uv_handle_t *)&s->sub.retry, on_handle_closed);
}

/* The idle turn: free doomed contexts, answer deferred ops, advance close. */
static void idle_cb(uv_idle_t *h)
{
    store_redis *s = h->data;
    rconn *conns[2] = {&s->cmd, &s->sub};
    int freed = 0;
    for (int i = 0; i < 2; i++) {
        redisAsyncContext *ac = conns[i]->doomed;
        if (ac) {
            conns[i]->doomed = NULL;
            redisAsyncFree(ac);   /* its callbacks run now with NULL replies */
            freed = 1;
        }
    }
    store_owed_flush(&s->owed, s->closing ? STORE_ECLOSED : STORE_ENOMEM);
    /* answer what was queued before this turn; answers queued by the callbacks
     * themselves wait for the next turn */
    rop *op = s->dq.head;
    s->dq.head = s->dq.tail = NULL;
    while (op) {
        rop *next = op->next;
        op->prev = op->next = NULL;
        op->where = W_NONE;
        op_done(op, op->status, NULL, NULL, 0);
        op_release(op);
        op = next;
    }
    /* a context freed just now has its poll handle in this turn's closing
     * pass: finish on the next turn, so done() comes after that handle too */
    if (s->closing && !freed)
        maybe_finish(s);
    if (!s->finishing && !freed && !s->dq.head && !s->owed.n && !s->cmd.doomed &&
        !s->sub.doomed)
        uv_idle_stop(&s->idle);
}

static void redis_close(store *st, void (*done)(void *ud), void *ud)
{
    store_redis *s = (store_redis *)st;
    if (s->closing)
        return;
    s->closing = 1;
    s->done = done;
    s->done_ud = ud;
    s->up = 0;
    uv_timer_stop(&s->tick);
    uv_timer_stop(&s->cmd.retry);
    uv_timer_stop(&s->sub.retry);
    if (s->cmd.gai_busy)
        uv_cancel((uv_req_t *)&s->cmd.gai);
    if (s->sub.gai_busy)
        uv_cancel((uv_req_t *)&s->sub.gai);
    /* callers hear ECLOSED now; replies that still come are dropped */
    while (s->inflight.head) {
        rop *op = s->inflight.head;
        ol_unlink(&s->inflight, op);
        if (!op->completed)
            dq_push(op, STORE_ECLOSED);
    }
    while (s->confirms.head) {
        rop *op = s->confirms.head;
        ol_unlink(&s->confirms, op);
        dq_push(op, STORE_ECLOSED);
    }
    /* a write still in doubt at shutdown stays unknown; ECLOSED says only
     * that this store can no longer tell (the manager is stopping too) */
    while (s->doubts.head) {
        rop *op = s->doubts.head;
        ol_unlink(&s->doubts, op);
        dq_push(op, STORE_ECLOSED);
    }
    /* goodbye, so the survivors do not take us for dead */
    if (s->cmd.state == C_UP && s->instance) {
        rop *op = op_new(s, OP_BYE, NULL);
        if (op) {
            arg_script(op, SC_BYE, 0);
            arg_u64(op, s->instance);
            if (op_issue(op, &s->cmd, s->cmd.ac) == 0) {
                s->bye_pending = 1;
                uv_timer_start(&s->tick, tick_cb, BYE_TIMEOUT_MS, 0);
            } else {
                free(op);
            }
        }
    }
    if (!s->bye_pending)
        conn_kill(&s->cmd, NULL);
    conn_kill(&s->sub, NULL);
    idle_arm(s);
}

/* ---- open ------------------------------------------------------------------------------ */

/* The prefix every key and channel carries (--redis-prefix), and the
 * scripts rewritten to use it: 'ttt:' in their sources becomes '<prefix>:'.
 * Only [A-Za-z0-9_.-] is allowed, so the prefix can never end a Lua string
 * or a key's hash tag early. */
static int prefix_set(store_redis *s, const char *prefix, char *err, size_t errlen)
{
    if (!prefix || !*prefix)
        prefix = "ttt";
    size_t n = strlen(prefix);
    if (n > PREFIX_MAX || strspn(prefix, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                         "0123456789_.-") != n) {
        set_err(err, errlen, "redis prefix: 1 to 32 characters of A-Z a-z 0-9 _ . -");
        return -1;
    }
    memcpy(s->prefix, prefix, n + 1);
    for (int i = 0; i < SC_COUNT; i++) {
        const char *src = script_src[i];
        size_t uses = 0;
        for (const char *q = src; (q = strstr(q, "'ttt:")) != NULL; q += 5)
            uses++;
        char *out = malloc(strlen(src) + uses * n + 1), *o = out;
        if (!out) {
            set_err(err, errlen, "out of memory");
            return -1;
        }
        for (const char *q = src; *q;) {
            if (strncmp(q, "'ttt:", 5) == 0) {
                *o++ = '\'';
                memcpy(o, prefix, n);
                o += n;
                *o++ = ':';
                q += 5;
            } else {
                *o++ = *q++;
            }
        }
        *o = '\0';
        s->src[i] = out;
    }
    return 0;
}

static void conn_init(rconn *c, store_redis *s, int sub, const char *name)
{
    c->s = s;
    c->sub = sub;
    c->name = name;
    c->state = C_DOWN;
    c->backoff_ms = BACKOFF_MIN_MS;
    uv_timer_init(s->loop, &c->retry);
    c->retry.data = c;
}

static store *redis_open(uv_loop_t *loop, const store_options *opts, const store_events *ev,
                         char *err, size_t errlen)
{
    store_redis *s = calloc(1, sizeof(*s));
    if (!s) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    if (!opts || !opts->redis_url) {
        set_err(err, errlen, "no redis URL");
        goto fail;
    }
    if (redis_url_parse(&s->url, opts->redis_url, err, errlen) != 0)
        goto fail;
    if (prefix_set(s, opts->redis_prefix, err, errlen) != 0)
        goto fail;
    if (!(s->name = strdup(opts->instance_name ? opts->instance_name : ""))) {
        set_err(err, errlen, "out of memory");
        goto fail;
    }
    s->loop = loop;
    if (ev)
        s->ev = *ev;
    s->finished_ttl_ms = opts->finished_ttl_ms > 0 ? opts->finished_ttl_ms : DAY_MS;
    s->rng = (uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)s) | 1;
    s->nonce_salt = rng_next(s);

    /* nothing below fails: the handles exist from here on */
    uv_idle_init(loop, &s->idle);
    s->idle.data = s;
    uv_timer_init(loop, &s->tick);
    s->tick.data = s;
    conn_init(&s->cmd, s, 0, "commands");
    conn_init(&s->sub, s, 1, "subscriber");
    uv_timer_start(&s->tick, tick_cb, TICK_MS, TICK_MS);
    if (s->url.unix_path)
        log_info("redis: connecting to unix:%s", s->url.unix_path);
    else
        log_info("redis: connecting to %s port %d db %d", s->url.host, s->url.port, s->url.db);
    conn_start(&s->cmd);
    conn_start(&s->sub);
    return &s->base;
fail:
    redis_url_free(&s->url);
    free(s->name);
    src_free(s);
    free(s);
    return NULL;
}

/* ---- the store operations -------------------------------------------------------------- */

static int redis_is_up(const store *st) { return ((const store_redis *)st)->up; }
static uint32_t redis_instance(const store *st) { return ((const store_redis *)st)->instance; }
static double redis_latency_ms(const store *st) { return ((const store_redis *)st)->latency_ms; }
static uint64_t redis_lost_count(const store *st) { return ((const store_redis *)st)->lost_count; }

/* The ARGV every writing script shares (see LUA_INDEX); list is 'o', 'q' or '-'. */
static void args_record(store_redis *s, rop *op, const store_game *g, int64_t id,
                        uint64_t version, uint8_t kind, char list)
{
    size_t n = rec_encode(g, id, version, kind, op->blob);
    op->bloblen = n;
    arg_add(op, op->blob, n);
    arg_i64(op, g->st.status);
    op->num[op->argc][0] = list;
    op->num[op->argc][1] = '\0';
    arg_add(op, op->num[op->argc], 1);
    arg_i64(op, g->deadline_ms > 0 ? g->deadline_ms : 0);
    int64_t ttl = 0;
    if (g->st.status == GAME_OVER) {
        ttl = s->finished_ttl_ms;
    } else if (g->st.status == GAME_WAITING) {
        int64_t left = g->deadline_ms > 0 ? g->deadline_ms - wall_ms() : 0;
        ttl = s->finished_ttl_ms + (left > 0 ? left : 0);
    }
    arg_i64(op, ttl);
    /* distinct holders of both seats; none once over (nobody can need them) */
    size_t len = 0;
    uint32_t seen[2 * STORE_MAX_HOLDERS];
    int nseen = 0;
    op->holders[0] = '\0';
    for (int i = 0; g->st.status != GAME_OVER && i < 2; i++) {
        int nh = g->seat[i].nholders > STORE_MAX_HOLDERS ? STORE_MAX_HOLDERS : g->seat[i].nholders;
        for (int h = 0; h < nh; h++) {
            uint32_t inst = g->seat[i].holders[h];
            int dup = inst == 0;
            for (int k = 0; k < nseen && !dup; k++)
                dup = seen[k] == inst;
            if (dup)
                continue;
            seen[nseen++] = inst;
            len += (size_t)snprintf(op->holders + len, sizeof(op->holders) - len, "%s%u",
                                    len ? " " : "", inst);
        }
    }
    arg_add(op, op->holders, len);
}

/* Which list a waiting game belongs on: 'o' the open list (a "create" game
 * whose creator is present), 'x' off it (its creator is away: a lobby of
 * games nobody answers for is no lobby), 'q' the matchmaking queue (at
 * creation only: quick games leave it by being handed out), '-' none. */
static char list_of(const store_game *g, uint8_t kind, int creating)
{
    if (g->st.status != GAME_WAITING)
        return '-';
    if (kind == STORE_KIND_CREATE)
        return store_creator_present(g) ? 'o' : 'x';
    return kind == STORE_KIND_QUICK && creating ? 'q' : '-';
}

/* create and quick: the epoch and the floor for the id, then the nonce */
static int create_args(store_redis *s, rop *op, const store_game *g, uint8_t kind, int sc)
{
    if (uv_now(s->loop) < s->lost_until)
        return -1;   /* right after a data loss: see data_lost() */
    arg_script(op, sc, 0);
    args_record(s, op, g, 0, 1, kind, list_of(g, kind, 1));
    arg_str(op, s->epoch);
    arg_i64(op, s->max_id);
    arg_str(op, op->nonce);
    return 0;
}

static void redis_create(store *st, const store_game *g, store_game_cb *cb, void *ud)
{
    store_redis *s = (store_redis *)st;
    rop *op = op_new(s, OP_CREATE, ud);
    if (!op) {
        fail_push(s, OP_CREATE, (rcb){.game = cb}, ud);
        return;
    }
    op->cb.game = cb;
    if (create_args(s, op, g, g->kind, SC_CREATE) != 0) {
        dq_push(op, s->closing ? STORE_ECLOSED : STORE_EUNAVAIL);
        return;
    }
    op_send(op);
}

static void redis_quick(store *st, const store_game *tmpl, store_game_cb *cb, void *ud)
{
    store_redis *s = (store_redis *)st;
    rop *op = op_new(s, OP_QUICK, ud);
    if (!op) {
        fail_push(s, OP_QUICK, (rcb){.game = cb}, ud);
        return;
    }
    op->cb.game = cb;
    if (create_args(s, op, tmpl, STORE_KIND_QUICK, SC_QUICK) != 0) {
        dq_push(op, s->closing ? STORE_ECLOSED : STORE_EUNAVAIL);
        return;
    }
    op_send(op);
}

static void redis_load(store *st, int64_t id, store_game_cb *cb, void *ud)
{
    store_redis *s = (store_redis *)st;
    rop *op = op_new(s, OP_LOAD, ud);
    if (!op) {
        fail_push(s, OP_LOAD, (rcb){.game = cb}, ud);
        return;
    }
    op->cb.game = cb;
    op->id = id;
    if (id <= 0) {
        dq_push(op, STORE_ENOTFOUND);
        return;
    }
    game_key(s, op->key, sizeof(op->key), id);
    arg_str(op, "HGET");
    arg_str(op, op->key);
    arg_str(op, "d");
    op_send(op);
}

static void redis_save(store *st, const store_game *g, store_game_cb *cb, void *ud)
{
    store_redis *s = (store_redis *)st;
    rop *op = op_new(s, OP_SAVE, ud);
    if (!op) {
        fail_push(s, OP_SAVE, (rcb){.game = cb}, ud);
        return;
    }
    op->cb.game = cb;
    op->id = g->id;
    if (g->id <= 0) {
        dq_push(op, STORE_ENOTFOUND);
        return;
    }
    /* what the caller gets on success: exactly what was written */
    size_t n = rec_encode(g, g->id, g->version + 1, g->kind, op->blob);
    if (rec_decode(op->blob, n, &op->g) != 0) {
        dq_push(op, STORE_EINVAL);   /* a field out of range: readers would refuse it */
        return;
    }
    game_key(s, op->key, sizeof(op->key), g->id);
    int clen = chan_name(s, op->chan, sizeof(op->chan), g->id);
    arg_script(op, SC_SAVE, 1);
    arg_str(op, op->key);
    args_record(s, op, g, g->id, g->version + 1, g->kind, list_of(g, g->kind, 0));
    arg_i64(op, g->id);
    arg_u64(op, g->version);
    arg_add(op, op->chan, (size_t)clen);
    arg_str(op, op->nonce);
    op_send(op);
}

static void redis_open_list(store *st, size_t max, store_list_cb *cb, void *ud)
{
    store_redis *s = (store_redis *)st;
    rop *op = op_new(s, OP_LIST, ud);
    if (!op) {
        fail_push(s, OP_LIST, (rcb){.list = cb}, ud);
        return;
    }
    op->cb.list = cb;
    if (max == 0) {
        dq_push(op, STORE_OK);
        return;
    }
    arg_script(op, SC_LIST, 0);
    arg_u64(op, max > COUNT_MAX ? COUNT_MAX : max);
    op_send(op);
}

static void redis_claim_due(store *st, int64_t now_ms, int64_t lease_ms, size_t max,
                            store_ids_cb *cb, void *ud)
{
    store_redis *s = (store_redis *)st;
    rop *op = op_new(s, OP_CLAIM, ud);
    if (!op) {
        fail_push(s, OP_CLAIM, (rcb){.ids = cb}, ud);
        return;
    }
    op->cb.ids = cb;
    if (max == 0) {
        dq_push(op, STORE_OK);
        return;
    }
    arg_script(op, SC_CLAIM, 0);
    arg_i64(op, now_ms);
    arg_i64(op, lease_ms > 0 ? lease_ms : 0);
    arg_u64(op, max > COUNT_MAX ? COUNT_MAX : max);
    op_send(op);
}

static void redis_deadline_reset(store *st, const store_game *g, store_done_cb *cb, void *ud)
{
    store_redis *s = (store_redis *)st;
    rop *op = op_new(s, OP_RESET, ud);
    if (!op) {
        fail_push(s, OP_RESET, (rcb){.done = cb}, ud);
        return;
    }
    op->cb.done = cb;
    if (g->id <= 0) {
        dq_push(op, STORE_ENOTFOUND);
        return;
    }
    game_key(s, op->key, sizeof(op->key), g->id);
    arg_script(op, SC_RESET, 1);
    arg_str(op, op->key);
    arg_i64(op, g->id);
    arg_u64(op, g->version);
    arg_i64(op, g->deadline_ms > 0 ? g->deadline_ms : 0);
    arg_str(op, op->nonce);
    op_send(op);
}

/* cb(STORE_OK) once Redis confirms. A subscription that failed (store down,
 * or the connection dropped before the confirmation) is not kept: the caller
 * subscribes again after health(1). Confirmed ones survive reconnections. */
static void redis_subscribe(store *st, int64_t id, store_done_cb *cb, void *ud)
{
    store_redis *s = (store_redis *)st;
    rop *op = op_new(s, OP_SUB, ud);
    if (!op) {
        fail_push(s, OP_SUB, (rcb){.done = cb}, ud);
        return;
    }
    op->cb.done = cb;
    op->id = id;
    if (s->closing) {
        dq_push(op, STORE_ECLOSED);
        return;
    }
    if (id <= 0) {
        dq_push(op, STORE_EINVAL);
        return;
    }
    if (s->sub.state != C_UP) {
        dq_push(op, STORE_EUNAVAIL);
        return;
    }
    int added = idset_add(&s->subs, id);
    if (added < 0) {
        dq_push(op, STORE_ENOMEM);
        return;
    }
    int n = chan_name(s, op->chan, sizeof(op->chan), id);
    if (redisAsyncCommand(s->sub.ac, sub_reply, s, "SUBSCRIBE %b", op->chan, (size_t)n) !=
        REDIS_OK) {
        if (added)
            idset_del(&s->subs, id);
        dq_push(op, STORE_EUNAVAIL);
        return;
    }
    op->added = (uint8_t)added;
    ol_append(&s->confirms, op, W_CONFIRM);
}

static void redis_unsubscribe(store *st, int64_t id)
{
    store_redis *s = (store_redis *)st;
    char chan[96];
    idset_del(&s->subs, id);
    if (s->sub.state == C_UP && !s->closing) {
        int n = chan_name(s, chan, sizeof(chan), id);
        /* refused only when nothing is subscribed on this context: fine */
        (void)redisAsyncCommand(s->sub.ac, NULL, NULL, "UNSUBSCRIBE %b", chan, (size_t)n);
    }
}

const store_backend store_redis_backend = {
    .name = "redis",
    .open = redis_open,
    .close = redis_close,
    .is_up = redis_is_up,
    .instance = redis_instance,
    .latency_ms = redis_latency_ms,
    .create = redis_create,
    .load = redis_load,
    .save = redis_save,
    .quick = redis_quick,
    .open_list = redis_open_list,
    .claim_due = redis_claim_due,
    .deadline_reset = redis_deadline_reset,
    .subscribe = redis_subscribe,
    .unsubscribe = redis_unsubscribe,
    .lost_count = redis_lost_count,
};
