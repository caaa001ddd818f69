/* metrics.c -- /metrics in the Prometheus text format: connections, games,
 * moves, errors by code, store health and latency. Pure: it renders a
 * metrics_snapshot that the caller filled (main.c, from srv, gm and the
 * store; http.c its request count), so it keeps no state, reads no live struct, and is tested alone
 * (tests/test_metrics.c). */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct out {
    char *buf;
    size_t len, cap;
    int failed;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(out *o, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->failed = 1;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap * 2 + (size_t)n;
        char *b = realloc(o->buf, cap);
        if (!b) {
            o->failed = 1;
            return;
        }
        o->buf = b;
        o->cap = cap;
    }
}

static void metric(out *o, const char *name, const char *type, const char *help,
                   unsigned long long v)
{
    put(o, "# HELP ttt_%s %s\n# TYPE ttt_%s %s\nttt_%s %llu\n", name, help, name, type, name, v);
}

char *metrics_render(const metrics_snapshot *m, size_t *len)
{
    out o = {malloc(4096), 0, 4096, 0};
    if (!o.buf)
        return NULL;
    const srv_stats *ss = &m->net;
    const gm_stats gs = m->gm;

    put(&o, "# HELP ttt_info This process: its --instance name, version and store.\n"
            "# TYPE ttt_info gauge\n"
            "ttt_info{instance=\"%s\",version=\"%s\",store=\"%s\",store_instance=\"%u\"} 1\n",
        m->instance, m->version, m->store_backend, m->store_instance);
    metric(&o, "connections", "gauge", "Open WebSocket connections.", ss->conns_now);
    metric(&o, "connections_total", "counter", "WebSocket connections accepted.", ss->conns_total);
    metric(&o, "connections_refused_total", "counter",
           "WebSocket connections refused (limit reached or draining).", ss->conns_refused);
    put(&o, "# HELP ttt_refused_total Handshakes and requests refused by an abuse limit.\n"
            "# TYPE ttt_refused_total counter\n"
            "ttt_refused_total{limit=\"connections_per_ip\"} %llu\n"
            "ttt_refused_total{limit=\"origin\"} %llu\n"
            "ttt_refused_total{limit=\"not_ws_path\"} %llu\n"
            "ttt_refused_total{limit=\"ip_rate\"} %llu\n"
            "ttt_refused_total{limit=\"watch\"} %llu\n"
            "ttt_refused_total{limit=\"waiting\"} %llu\n",
        (unsigned long long)ss->refused_ip, (unsigned long long)ss->refused_origin,
        (unsigned long long)ss->refused_path, (unsigned long long)ss->ip_rate_limited,
        (unsigned long long)ss->watch_capped, (unsigned long long)ss->waiting_capped);
    metric(&o, "closed_protocol_error_total", "counter",
           "Connections closed with 1002 (an invalid close frame).", ss->protocol_errors);
    metric(&o, "closed_bad_utf8_total", "counter",
           "Connections closed with 1007 (text that is not UTF-8).", ss->bad_utf8);
    metric(&o, "connections_failed_total", "counter",
           "Connections closed with 1011: out of memory for them.", ss->open_failed);
    metric(&o, "messages_received_total", "counter", "Client messages received.", ss->msgs_in);
    metric(&o, "messages_sent_total", "counter", "Frames sent to clients.", ss->msgs_out);
    metric(&o, "bytes_received_total", "counter", "Bytes of client messages.", ss->bytes_in);
    metric(&o, "bytes_sent_total", "counter", "Bytes of frames sent.", ss->bytes_out);
    metric(&o, "closed_too_big_total", "counter", "Connections closed with 1009.", ss->too_big);
    metric(&o, "closed_slow_total", "counter", "Connections closed for not reading.",
           ss->slow_closed);
    metric(&o, "closed_silent_total", "counter", "Connections closed after the ping timeout.",
           ss->ping_timeouts);
    metric(&o, "http_requests_total", "counter", "HTTP requests.", m->http_requests);
    metric(&o, "requests_total", "counter", "Well-formed requests handled.", gs.requests);
    metric(&o, "games_created_total", "counter", "Games created by this process.",
           gs.games_created);
    metric(&o, "games_finished_total", "counter", "Games this process saw end.",
           gs.games_finished);
    put(&o, "# HELP ttt_games_finished_by_result_total Games ended, by result.\n"
            "# TYPE ttt_games_finished_by_result_total counter\n");
    static const char *const results[] = {"none", "win", "draw", "resign", "abandon"};
    for (int i = 1; i < 5; i++)
        put(&o, "ttt_games_finished_by_result_total{result=\"%s\"} %llu\n", results[i],
            (unsigned long long)gs.finished_by_result[i]);
    metric(&o, "moves_total", "counter", "Moves accepted (players and computer).", gs.moves);
    metric(&o, "store_conflicts_total", "counter",
           "Saves that lost a race and were re-judged.", gs.conflicts);
    metric(&o, "states_sent_total", "counter", "State frames queued to clients.", gs.states_sent);
    metric(&o, "rooms", "gauge", "Games with a connection in this process.", gs.rooms);
    metric(&o, "members", "gauge", "Seats and spectators held by this process.", gs.members);
    put(&o, "# HELP ttt_errors_total Error replies sent, by code.\n"
            "# TYPE ttt_errors_total counter\n");
    for (int e = 1; e < PROTO_ERR_COUNT; e++)
        put(&o, "ttt_errors_total{code=\"%s\"} %llu\n", proto_err_name((proto_err)e),
            (unsigned long long)(gs.errors[e] + ss->errors[e]));
    put(&o, "# HELP ttt_store_up 1 when the store is reachable.\n# TYPE ttt_store_up gauge\n"
            "ttt_store_up{backend=\"%s\"} %d\n", m->store_backend, m->store_up);
    metric(&o, "store_data_lost_total", "counter",
           "Times the store was found to have lost its data (Redis flushed or restarted empty).",
           (unsigned long long)m->store_lost);
    put(&o, "# HELP ttt_store_latency_ms Recent store round trip (moving average).\n"
            "# TYPE ttt_store_latency_ms gauge\nttt_store_latency_ms %.3f\n",
        m->store_latency_ms);
    const store_stats *st = &m->store;
    put(&o, "# HELP ttt_store_cluster 1 on Redis Cluster, 0 on one Redis or memory.\n"
            "# TYPE ttt_store_cluster gauge\nttt_store_cluster %d\n", st->cluster);
    put(&o, "# HELP ttt_store_redirects_total Commands redirected by Redis Cluster.\n"
            "# TYPE ttt_store_redirects_total counter\n"
            "ttt_store_redirects_total{kind=\"moved\"} %llu\n"
            "ttt_store_redirects_total{kind=\"ask\"} %llu\n"
            "ttt_store_redirects_total{kind=\"tryagain\"} %llu\n",
        (unsigned long long)st->moved, (unsigned long long)st->ask,
        (unsigned long long)st->tryagain);
    metric(&o, "store_map_refreshes_total", "counter", "Slot maps loaded from Redis.",
           (unsigned long long)st->refreshes);
    metric(&o, "store_timeouts_total", "counter", "Redis commands without a reply in time.",
           (unsigned long long)st->timeouts);
    metric(&o, "store_index_failures_total", "counter",
           "Index updates that failed after a save (the sweep repairs them).",
           (unsigned long long)st->index_fail);
    metric(&o, "store_index_swept_total", "counter", "Index entries the sweep put back.",
           (unsigned long long)st->swept);
    if (st->nnodes) {
        put(&o, "# HELP ttt_store_node_rtt_ms Round trip to each Redis node (moving average).\n"
                "# TYPE ttt_store_node_rtt_ms gauge\n");
        for (size_t i = 0; i < st->nnodes && i < STORE_NODES_MAX; i++)
            put(&o, "ttt_store_node_rtt_ms{node=\"%.64s\",up=\"%d\",slots=\"%u\"} %.3f\n",
                st->node[i].addr, st->node[i].up, st->node[i].slots,
                st->node[i].rtt_us / 1000.0);
    }
    if (o.failed) {
        free(o.buf);
        return NULL;
    }
    *len = o.len;
    return o.buf;
}
