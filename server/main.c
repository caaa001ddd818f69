/* main.c -- ttt-server: options, the libuv loop that the process owns, and
 * the order things start and stop in.
 *
 * Start: options -> fd limit -> loop -> manager -> store -> network.
 * Stop (SIGTERM/SIGINT): drain the network (every client gets 1012) -> let
 * the manager's requests in flight finish (seats say goodbye) -> close the
 * store -> destroy the lws context -> free the manager -> run the loop until
 * every handle has closed -> uv_loop_close() == 0 -> exit 0. */
#include <uv.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "gm.h"
#include "gm_uv.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "srv.h"
#include "store.h"

#ifndef TTT_VERSION
#define TTT_VERSION "dev"
#endif
#ifndef TTT_WEB_DIR_SOURCE
#define TTT_WEB_DIR_SOURCE "web"
#endif
#ifndef TTT_WEB_DIR_INSTALLED
#define TTT_WEB_DIR_INSTALLED "/usr/local/share/ttt/web"
#endif

typedef struct app {
    uv_loop_t loop;
    uv_signal_t sigterm, sigint;
    gm *gm;
    store *st;
    srv *srv;
    http_server *http;
    struct lws_context *lws_ctx;  /* destroyed a second time after the loop */
    int stopping;
    uint64_t stop_ms;             /* loop time of the first stop signal */
    char instance[96];
} app;

/* ---- what http.c shows of the process: main composes the layers ---- */

static void health_take(void *ud, http_health *h)
{
    app *a = ud;
    *h = (http_health){.store_up = store_is_up(a->st),
                       .draining = a->srv ? srv_draining(a->srv) : 1,
                       .store = store_backend_name(a->st),
                       .instance = store_instance(a->st),
                       .connections = a->srv ? srv_get_stats(a->srv)->conns_now : 0};
}

/* What /metrics shows, read from the live structs in one place so that
 * metrics.c only renders. */
static void metrics_take(void *ud, metrics_snapshot *m)
{
    app *a = ud;
    *m = (metrics_snapshot){
        .instance = a->instance,
        .version = TTT_VERSION,
        .store_backend = store_backend_name(a->st),
        .store_instance = store_instance(a->st),
        .store_up = store_is_up(a->st),
        .store_lost = store_lost_count(a->st),
        .store_latency_ms = store_latency_ms(a->st),
    };
    if (a->srv)
        m->net = *srv_get_stats(a->srv);
    store_get_stats(a->st, &m->store);
    gm_get_stats(a->gm, &m->gm);
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: ttt-server [options]\n"
        "\n"
        "Serves multiplayer tic-tac-toe over WebSockets (GET /ws), the browser client\n"
        "(GET /), /healthz, /metrics and /api/games/{id}.\n"
        "\n"
        "  --port N                 TCP port (default 8080)\n"
        "  --host ADDR              address to listen on (default: every interface)\n"
        "  --web DIR                browser client directory (default: the source tree's\n"
        "                           web/, else %s)\n"
        "  --redis URL              keep games in Redis, shared with other processes:\n"
        "                           redis://[:password@]host:port[/db] or unix:/path;\n"
        "                           a Redis Cluster: redis://h1:p1,h2:p2 (any nodes)\n"
        "                           (default: $TTT_REDIS_URL, else in memory)\n"
        "  --redis-wait N[:MS]      after each save, WAIT for N replicas (at most MS ms,\n"
        "                           default 500) before players are told, so a primary's\n"
        "                           failover loses no accepted move (default: 0, off)\n"
        "  --redis-prefix NAME      namespace of every Redis key and channel, so that\n"
        "                           deployments sharing one Redis stay apart; 1-32 of\n"
        "                           A-Z a-z 0-9 _ . - (default: $TTT_REDIS_PREFIX, else ttt)\n"
        "  --instance NAME          this process' name in welcome, logs, metrics\n"
        "                           (default host:pid)\n"
        "  --abandon-timeout SEC    an away player loses after this long (default 60)\n"
        "  --wait-timeout SEC       a game waiting for an opponent ends after (default 600)\n"
        "  --rate-limit N           messages per second per connection, burst 2N;\n"
        "                           0 turns it off (default 200)\n"
        "  --ping-interval SEC      ping connections quiet this long (default 25)\n"
        "  --ping-timeout SEC       close connections silent this long (default 75)\n"
        "  --max-connections N      WebSocket connections held at most (default: from\n"
        "                           the file descriptor limit, at most 100000)\n"
        "\n"
        "Abuse limits (0 turns one off; see docs/deploy.md):\n"
        "  --max-connections-per-ip N  WebSocket connections from one client address\n"
        "                           (default 100)\n"
        "  --ip-rate-limit N        messages per second from one client address over\n"
        "                           all its connections, burst 2N (default 1000)\n"
        "  --max-watch N            games one connection watches at once (default 100)\n"
        "  --max-waiting N          games waiting for an opponent that one connection\n"
        "                           holds a seat in (default 5)\n"
        "  --max-waiting-per-ip N   the same over one client address (default 20)\n"
        "  --trusted-proxy ADDR[/BITS]  a proxy whose X-Forwarded-For / X-Real-IP name\n"
        "                           the client address (repeatable; default none, so\n"
        "                           the TCP peer is the client)\n"
        "  --allowed-origin ORIGIN  a browser Origin allowed besides the Host's own,\n"
        "                           e.g. https://play.example.org; * allows any\n"
        "                           (repeatable). Requests without Origin are allowed.\n"
        "\n"
        "  --log-level LEVEL        error, warn, info or debug (default info)\n"
        "  --help                   this text\n"
        "  --version                the version\n"
        "\n"
        "SIGTERM or SIGINT: every client is closed with 1012 (reconnect and resume),\n"
        "then the process exits 0.\n",
        TTT_WEB_DIR_INSTALLED);
}

static int parse_seconds(const char *name, const char *v, int64_t *ms)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || d < 0 || d > 365.0 * 24 * 3600) {
        fprintf(stderr, "ttt-server: %s wants a number of seconds, got '%s'\n", name, v);
        return -1;
    }
    *ms = (int64_t)(d * 1000.0 + 0.5);
    return 0;
}

static int parse_int(const char *name, const char *v, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi) {
        fprintf(stderr, "ttt-server: %s wants a whole number from %ld to %ld, got '%s'\n",
                name, lo, hi, v);
        return -1;
    }
    *out = n;
    return 0;
}

/* Raise the descriptor limit to the hard limit: each player is a socket, and
 * the default soft limit (1024) would cap a process far below its memory. */
static long raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t want = rl.rlim_max;
        if (want == RLIM_INFINITY || want > 1048576)
            want = 1048576;
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY ? 1048576 : (long)rl.rlim_cur;
}

/* redis://:secret@host:6379/0 -> redis://:***@host:6379/0, for logs */
static void redact_url(const char *url, char *out, size_t len)
{
    const char *scheme = strstr(url, "://");
    const char *at = strchr(url, '@');
    if (!scheme || !at || at < scheme) {
        snprintf(out, len, "%s", url);
        return;
    }
    const char *colon = memchr(scheme + 3, ':', (size_t)(at - scheme - 3));
    const char *from = colon ? colon + 1 : scheme + 3;
    snprintf(out, len, "%.*s***%s", (int)(from - url), url, at);
}

static const char *default_web_dir(void)
{
    if (access(TTT_WEB_DIR_SOURCE "/index.html", R_OK) == 0)
        return TTT_WEB_DIR_SOURCE;
    return TTT_WEB_DIR_INSTALLED;
}

/* ---- stopping ------------------------------------------------------------------ */

static void on_store_closed(void *ud)
{
    app *a = ud;
    a->lws_ctx = srv_free(a->srv);
    a->srv = NULL;
    gm_free(a->gm);
    a->gm = NULL;
    uv_close((uv_handle_t *)&a->sigterm, NULL);
    uv_close((uv_handle_t *)&a->sigint, NULL);
}

/* The store closes before lws is destroyed: lws' teardown with a foreign
 * loop closes its listening sockets' descriptors a second time later, so a
 * Redis connection opened meanwhile (the goodbye, a reconnect) could get
 * one of those numbers and lose it under libuv, which then aborts. */
static void on_gm_stopped(void *ud)
{
    app *a = ud;
    srv_release_sessions(a->srv);
    store_close(a->st, on_store_closed, a);
}

static void on_drained(void *ud)
{
    app *a = ud;
    gm_shutdown(a->gm, 1500, on_gm_stopped, a);
}

static void on_signal(uv_signal_t *h, int signum)
{
    app *a = h->data;
    if (a->stopping) {
        /* one kill of a process group (Ctrl-C under make, timeout(1)) can
         * deliver the signal twice at once; only a later one is an operator
         * who does not want to wait for the drain */
        if (uv_now(&a->loop) - a->stop_ms < 1000)
            return;
        log_warn("second %s: exiting at once", signum == SIGINT ? "SIGINT" : "SIGTERM");
        exit(1);
    }
    a->stopping = 1;
    a->stop_ms = uv_now(&a->loop);
    log_info("%s: shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    srv_drain(a->srv, 2000, on_drained, a);
}

int main(int argc, char **argv)
{
    enum { O_PORT = 1, O_HOST, O_WEB, O_REDIS, O_REDIS_PREFIX, O_INSTANCE, O_ABANDON, O_WAIT, O_RATE,
           O_PING, O_PING_TIMEOUT, O_MAXCONN, O_LOG, O_HELP, O_VERSION, O_REDIS_WAIT,
           O_MAXCONN_IP, O_IP_RATE, O_MAX_WATCH, O_MAX_WAITING, O_MAX_WAITING_IP,
           O_TRUSTED_PROXY, O_ALLOWED_ORIGIN };
    static const struct option longopts[] = {
        {"port", required_argument, NULL, O_PORT},
        {"host", required_argument, NULL, O_HOST},
        {"web", required_argument, NULL, O_WEB},
        {"redis", required_argument, NULL, O_REDIS},
        {"redis-prefix", required_argument, NULL, O_REDIS_PREFIX},
        {"redis-wait", required_argument, NULL, O_REDIS_WAIT},
        {"instance", required_argument, NULL, O_INSTANCE},
        {"abandon-timeout", required_argument, NULL, O_ABANDON},
        {"wait-timeout", required_argument, NULL, O_WAIT},
        {"rate-limit", required_argument, NULL, O_RATE},
        {"ping-interval", required_argument, NULL, O_PING},
        {"ping-timeout", required_argument, NULL, O_PING_TIMEOUT},
        {"max-connections", required_argument, NULL, O_MAXCONN},
        {"max-connections-per-ip", required_argument, NULL, O_MAXCONN_IP},
        {"ip-rate-limit", required_argument, NULL, O_IP_RATE},
        {"max-watch", required_argument, NULL, O_MAX_WATCH},
        {"max-waiting", required_argument, NULL, O_MAX_WAITING},
        {"max-waiting-per-ip", required_argument, NULL, O_MAX_WAITING_IP},
        {"trusted-proxy", required_argument, NULL, O_TRUSTED_PROXY},
        {"allowed-origin", required_argument, NULL, O_ALLOWED_ORIGIN},
        {"log-level", required_argument, NULL, O_LOG},
        {"help", no_argument, NULL, O_HELP},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0}};

    static app a;
    long port = 8080, maxconn = 0, rate = 200;
    const char *host = NULL, *web = NULL, *instance = NULL;
    const char *redis = getenv("TTT_REDIS_URL");
    const char *redis_prefix = getenv("TTT_REDIS_PREFIX");
    long redis_wait = 0, redis_wait_ms = 500;
    int64_t abandon_ms = 60000, wait_ms = 600000, ping_ms = 25000, ping_timeout_ms = 75000;
    /* abuse limits: defaults for a public site (docs/deploy.md, "Limits") */
    long maxconn_ip = 100, ip_rate = 1000, max_watch = 100, max_waiting = 5, max_waiting_ip = 20;
    static lim_net trusted[64];
    static const char *origins[64];
    size_t ntrusted = 0, norigins = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        long n;
        switch (c) {
        case O_PORT:
            if (parse_int("--port", optarg, 1, 65535, &port)) return 2;
            break;
        case O_HOST: host = optarg; break;
        case O_WEB: web = optarg; break;
        case O_REDIS: redis = optarg; break;
        case O_REDIS_PREFIX: redis_prefix = optarg; break;
        case O_REDIS_WAIT: {
            char num[16];
            const char *ms = strchr(optarg, ':');
            size_t nl = ms ? (size_t)(ms - optarg) : strlen(optarg);
            snprintf(num, sizeof num, "%.*s", (int)(nl < 15 ? nl : 15), optarg);
            if (nl >= 15 || parse_int("--redis-wait", num, 0, 16, &redis_wait) ||
                (ms && parse_int("--redis-wait (ms)", ms + 1, 1, 60000, &redis_wait_ms)))
                return 2;
            break;
        }
        case O_INSTANCE: instance = optarg; break;
        case O_ABANDON:
            if (parse_seconds("--abandon-timeout", optarg, &abandon_ms)) return 2;
            break;
        case O_WAIT:
            if (parse_seconds("--wait-timeout", optarg, &wait_ms)) return 2;
            break;
        case O_RATE:
            if (parse_int("--rate-limit", optarg, 0, 1000000, &rate)) return 2;
            break;
        case O_PING:
            if (parse_seconds("--ping-interval", optarg, &ping_ms)) return 2;
            break;
        case O_PING_TIMEOUT:
            if (parse_seconds("--ping-timeout", optarg, &ping_timeout_ms)) return 2;
            break;
        case O_MAXCONN:
            if (parse_int("--max-connections", optarg, 1, 10000000, &maxconn)) return 2;
            break;
        case O_MAXCONN_IP:
            if (parse_int("--max-connections-per-ip", optarg, 0, 10000000, &maxconn_ip)) return 2;
            break;
        case O_IP_RATE:
            if (parse_int("--ip-rate-limit", optarg, 0, 10000000, &ip_rate)) return 2;
            break;
        case O_MAX_WATCH:
            if (parse_int("--max-watch", optarg, 0, 1000000, &max_watch)) return 2;
            break;
        case O_MAX_WAITING:
            if (parse_int("--max-waiting", optarg, 0, 1000000, &max_waiting)) return 2;
            break;
        case O_MAX_WAITING_IP:
            if (parse_int("--max-waiting-per-ip", optarg, 0, 1000000, &max_waiting_ip)) return 2;
            break;
        case O_TRUSTED_PROXY:
            if (ntrusted == sizeof trusted / sizeof trusted[0] ||
                lim_net_parse(optarg, &trusted[ntrusted]) != 0) {
                fprintf(stderr, "ttt-server: --trusted-proxy wants an IP address or "
                                "ADDR/BITS (at most 64), got '%s'\n", optarg);
                return 2;
            }
            ntrusted++;
            break;
        case O_ALLOWED_ORIGIN:
            if (norigins == sizeof origins / sizeof origins[0] || !*optarg) {
                fprintf(stderr, "ttt-server: --allowed-origin wants an origin such as "
                                "https://example.org or * (at most 64)\n");
                return 2;
            }
            origins[norigins++] = optarg;
            break;
        case O_LOG:
            if ((n = log_parse_level(optarg)) < 0) {
                fprintf(stderr, "ttt-server: --log-level is error, warn, info or debug\n");
                return 2;
            }
            log_level = (int)n;
            break;
        case O_HELP:
        case 'h':
            usage(stdout);
            return 0;
        case O_VERSION:
            printf("ttt-server %s\n", TTT_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ttt-server: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    if (abandon_ms < 100 || wait_ms < 100 || ping_ms < 100 || ping_timeout_ms <= ping_ms) {
        fprintf(stderr, "ttt-server: timeouts must be at least 0.1 s, and the ping timeout "
                        "longer than the ping interval\n");
        return 2;
    }
    if (instance)
        snprintf(a.instance, sizeof a.instance, "%s", instance);
    else {
        char hn[64] = "localhost";
        gethostname(hn, sizeof hn - 1);
        snprintf(a.instance, sizeof a.instance, "%s:%d", hn, (int)getpid());
    }
    log_set_instance(a.instance);
    if (!web)
        web = default_web_dir();

    long nofile = raise_nofile();
    if (!maxconn) {
        maxconn = nofile - 64;
        if (maxconn > 100000)
            maxconn = 100000;
        if (maxconn < 16)
            maxconn = 16;
    } else if (maxconn > nofile - 64) {
        log_warn("--max-connections %ld is above the file descriptor limit (%ld): "
                 "raise it (ulimit -n / LimitNOFILE)", maxconn, nofile);
    }

    uv_loop_init(&a.loop);
    gm_options gopt = {.abandon_ms = abandon_ms, .wait_ms = wait_ms, .seed = 0};
    gm_io io = {.ud = NULL, .send = srv_send};
    gm_clock clk = gm_uv_clock(&a.loop);
    a.gm = gm_new(&clk, &gopt, &io);
    store_events ev = gm_store_events(a.gm);
    store_options sopt = {.redis_url = (redis && *redis) ? redis : NULL,
                          .instance_name = a.instance,
                          .finished_ttl_ms = 24LL * 3600 * 1000,
                          .redis_prefix = redis_prefix,
                          .redis_wait = (int)redis_wait,
                          .redis_wait_ms = (int)redis_wait_ms};
    char err[256] = "";
    a.st = a.gm ? store_open(&a.loop, &sopt, &ev, err, sizeof err) : NULL;
    if (!a.st) {
        log_error("cannot open the store: %s", err[0] ? err : "out of memory");
        return 1;
    }
    gm_set_store(a.gm, a.st);

    http_options ho = {.web_dir = web, .gm = a.gm, .ud = &a, .health = health_take,
                       .metrics = metrics_take};
    a.http = http_new(&ho, err, sizeof err);
    if (!a.http) {
        log_error("%s", err);
        return 1;
    }
    srv_options so = {.host = host, .port = (int)port, .http = a.http, .instance = a.instance,
                      .max_conns = (int)maxconn, .rate_limit = (double)rate,
                      .ping_interval_ms = ping_ms, .ping_timeout_ms = ping_timeout_ms,
                      .max_conns_per_ip = (int)maxconn_ip, .ip_rate_limit = (double)ip_rate,
                      .max_watch = (int)max_watch, .max_waiting = (int)max_waiting,
                      .max_waiting_per_ip = (int)max_waiting_ip,
                      .trusted = trusted, .ntrusted = ntrusted,
                      .origins = origins, .norigins = norigins};
    a.srv = srv_new(&a.loop, &so, a.gm, err, sizeof err);
    if (!a.srv) {
        log_error("%s", err);
        return 1;
    }
    /* the send hook needs the srv; gm copied io at creation, so set it there */
    gm_io io2 = {.ud = a.srv, .send = srv_send, .close = srv_close_conn};
    gm_set_io(a.gm, &io2);

    char shown[256] = "";
    if (sopt.redis_url)
        redact_url(sopt.redis_url, shown, sizeof shown);
    log_info("ttt-server %s: store %s%s%s, web %s, abandon %.1fs, wait %.1fs, "
             "max %ld connections", TTT_VERSION, store_backend_name(a.st),
             shown[0] ? " " : "", shown, web,
             (double)abandon_ms / 1000, (double)wait_ms / 1000, maxconn);
    log_info("listening on http://%s:%ld", host ? host : "0.0.0.0", port);

    uv_signal_init(&a.loop, &a.sigterm);
    a.sigterm.data = &a;
    uv_signal_start(&a.sigterm, on_signal, SIGTERM);
    uv_signal_init(&a.loop, &a.sigint);
    a.sigint.data = &a;
    uv_signal_start(&a.sigint, on_signal, SIGINT);
    signal(SIGPIPE, SIG_IGN);

    uv_run(&a.loop, UV_RUN_DEFAULT);
    srv_context_finish(a.lws_ctx);
    http_free(a.http);   /* lws reported CLOSED_HTTP for every request while destroyed */
    uv_run(&a.loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&a.loop);
    if (rc != 0) {
        log_warn("loop closed with handles still open (%s)", uv_strerror(rc));
        return 1;
    }
    log_info("stopped");
    return 0;
}
