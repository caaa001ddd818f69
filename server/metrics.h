/* metrics.h -- the /metrics body (Prometheus text) from a snapshot of the
 * counters. metrics_render() is pure: the caller fills the snapshot (main.c
 * does, from srv, gm and the store; http.c adds its request count) and owns the text it returns. */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "gm.h"
#include "srv_stats.h"

typedef struct metrics_snapshot {
    const char *instance;        /* --instance */
    const char *version;
    const char *store_backend;   /* "memory" or "redis" */
    uint32_t store_instance;
    int store_up;
    uint64_t store_lost;         /* times the store lost its data */
    double store_latency_ms;
    store_stats store;           /* Redis: mode, redirects, per-node round trips */
    srv_stats net;               /* the network layer's counters */
    gm_stats gm;                 /* the manager's */
    uint64_t http_requests;      /* counted by http.c */
} metrics_snapshot;

/* The body, malloc'd (the caller frees it), with *len set; NULL when out of
 * memory. */
char *metrics_render(const metrics_snapshot *m, size_t *len);

#endif
