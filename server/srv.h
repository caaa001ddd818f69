/* srv.h -- the network layer: libwebsockets on the process' libuv loop.
 *
 * WebSocket sessions (framing, the 4096-byte limit, rate limit, keepalive,
 * output queues, close codes) live in srv.c, srv_in.c (frames in) and
 * srv_out.c (frames out), over srv_int.h; the HTTP routes in http.c; the
 * Prometheus text in metrics.c. srv.c registers http.c's callback and knows
 * nothing else of it. A message enters at srv.c's LWS_CALLBACK_RECEIVE
 * (srv_in.c), is parsed once by proto_parse, and handed to the
 * manager with gm_request. Nothing here knows a rule of the game. */
#ifndef SRV_H
#define SRV_H

#include <stddef.h>
#include <stdint.h>

#include "gm.h"
#include "http.h"
#include "lim.h"
#include "srv_stats.h"

struct lws;
struct lws_context;
typedef struct uv_loop_s uv_loop_t;

typedef struct srv_options {
    const char *host;          /* NULL: every interface */
    int port;
    http_server *http;         /* the HTTP routes (http.c), made by main */
    const char *instance;      /* the name in "welcome" */
    int max_conns;
    double rate_limit;         /* messages per second per connection, 0 = off */
    int64_t ping_interval_ms;
    int64_t ping_timeout_ms;
    /* abuse limits (docs/deploy.md, "Limits"); 0 turns one off */
    int max_conns_per_ip;      /* WebSocket connections from one client address */
    double ip_rate_limit;      /* messages per second per client address, burst 2N */
    int max_watch;             /* games one connection watches */
    int max_waiting;           /* waiting games one connection holds a seat in */
    int max_waiting_per_ip;    /* the same, over one client address' connections */
    const lim_net *trusted;    /* proxies whose X-Forwarded-For / X-Real-IP count */
    size_t ntrusted;
    const char *const *origins;   /* --allowed-origin values, "*" for any */
    size_t norigins;
} srv_options;


typedef struct srv srv;

srv *srv_new(uv_loop_t *loop, const srv_options *opt, gm *g, char *err, size_t errlen);
/* The send hook for gm_io. */
void srv_send(void *srv_ud, void *conn_ud, msg *m);
/* The close hook for gm_io: close that connection with 1011. */
void srv_close_conn(void *srv_ud, void *conn_ud);
/* Refuse new connections, close every client with 1012 ("service restart"),
 * and call done(ud) once they are gone or after timeout_ms. */
void srv_drain(srv *s, int64_t timeout_ms, void (*done)(void *ud), void *ud);
int srv_draining(const srv *s);
/* The sessions still open past the drain leave the manager (their seats'
 * goodbyes are saved while the store is open), and frames held for them
 * go nowhere. Call before closing the store; srv_free() does it too. */
void srv_release_sessions(srv *s);
/* Start destroying: lws closes its uv handles on the next loop runs. The
 * context is returned because with a foreign libuv loop lws needs a second
 * lws_context_destroy() once the loop has run dry (libwebsockets #1969,
 * #2595): call srv_context_finish() with it after uv_run() returns. */
struct lws_context *srv_free(srv *s);
void srv_context_finish(struct lws_context *ctx);

const srv_stats *srv_get_stats(const srv *s);
/* The lws context, for tests that adopt a socket into it (fuzz_http). */
struct lws_context *srv_lws_context(const srv *s);

#endif
