/* http.h -- the HTTP routes next to the WebSocket (http.c): the web files,
 * /healthz, /metrics and /api/games/{id}.
 *
 * http.c knows neither the srv nor the store. main.c composes it: it hands
 * over the web directory, the manager (for the game view) and two hooks that
 * say how the process is doing, and srv.c only registers http_callback() as
 * the "http" protocol. That keeps the include graph a tree:
 * main -> srv -> http -> {gm, metrics, web_files}. */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "gm.h"
#include "metrics.h"

struct lws;
struct lws_context_creation_info;

/* What /healthz reports. */
typedef struct http_health {
    int store_up;
    int draining;                /* the process is shutting down: 503 */
    const char *store;           /* backend name */
    uint32_t instance;           /* store_instance() */
    uint64_t connections;
} http_health;

typedef struct http_options {
    const char *web_dir;         /* read once, here (web_files.c) */
    gm *gm;                      /* GET /api/games/{id} */
    void *ud;                    /* for the hooks */
    void (*health)(void *ud, http_health *h);
    /* fill every field but http_requests, which http.c counts itself */
    void (*metrics)(void *ud, metrics_snapshot *m);
} http_options;

typedef struct http_server http_server;

/* Reads the web files; NULL and a reason in err when that fails. */
http_server *http_new(const http_options *o, char *err, size_t errlen);
/* After the lws context is gone: it reports CLOSED_HTTP while destroyed. */
void http_free(http_server *h);
size_t http_files_count(const http_server *h);

/* The "http" protocol's callback, called by srv.c with the server it got
 * in srv_options. */
int http_callback(http_server *h, struct lws *wsi, int reason, void *user, void *in,
                  size_t len);
size_t http_session_size(void);
size_t http_tx_packet_size(void);
/* The request-head limits (token limits, header buffer) for lws_create_context. */
void http_context_options(struct lws_context_creation_info *info);

#endif
