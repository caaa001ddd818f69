/* ttt_match.c -- ttt-match: plays many complete games of bots against a
 * ttt-server deployment, judges every one of them against game/'s rules,
 * and reports the figures. It is also the project's load generator.
 *
 *   ttt-match --url ws://HOST:PORT/ws [--url ...] --games N | --duration S
 *             [--concurrency C] [--strategy random|perfect|mixed]
 *             [--vs-computer easy|perfect] [--resume-chaos P] [--seed S]
 *             [--spectate] [--timeout S] [--workers N] [--json]
 *
 * Exit status: 0 when every game was judged correct, 1 on any violation,
 * unexpected error or lost game, 2 on a usage error. This file holds the
 * command line, the run's lifetime (loop, signals, teardown) and nothing
 * about games. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "match.h"

#ifndef TTT_VERSION
#define TTT_VERSION "0"
#endif

#define TICK_MS 200
#define FINISH_GRACE_MS 3000  /* closing connections at the end, at most */

static const char usage[] =
"usage: ttt-match --url ws://HOST:PORT/ws [--url ...] (--games N | --duration S)\n"
"                 [options]\n"
"Plays bot games against a ttt-server deployment and judges every game.\n"
"\n"
"  --url URL            a server or load balancer; repeat it for several: the\n"
"                       two players of a game connect to different URLs\n"
"                       (default ws://127.0.0.1:8080/ws)\n"
"  --games N            play N games (default 100)\n"
"  --duration S         start games for S seconds instead, then finish them\n"
"  --concurrency C      games in flight at once (default 16)\n"
"  --strategy S         random | perfect | mixed (default mixed: each seat\n"
"                       picks one of the two per game)\n"
"  --vs-computer LEVEL  easy | perfect: one bot against the server's computer\n"
"  --resume-chaos P     per move, with probability P the player drops its\n"
"                       connection, reconnects (next URL) and resumes\n"
"  --spectate           add a spectator to every game\n"
"  --timeout S          a game without progress for S seconds is lost (30)\n"
"  --games-per-conn N   replace a slot's connections after N games (100)\n"
"  --seed S             seed of the bots' random numbers (default: time)\n"
"  --workers N          N processes share the games and the slots, so the\n"
"                       runner is not the limit; one merged summary (1)\n"
"  --json               print the summary as one JSON object\n"
"  --no-progress        no live line on stderr (it is shown on a terminal)\n"
"  -v, --verbose        connection failures (twice: libwebsockets' log)\n"
"  --help, --version\n"
"\n"
"Exit status: 0 all games correct; 1 violations, unexpected errors or lost\n"
"games; 2 bad usage.\n";

/* ---- the command line ------------------------------------------------------ */

static int parse_url(const char *s, match_url *u) {
    const char *p, *h, *hend, *path;
    size_t hl;
    long port = 80;

    memset(u, 0, sizeof(*u));
    if (strncmp(s, "ws://", 5) != 0)
        return -1;               /* wss:// would need TLS setup; not used here */
    h = s + 5;
    if (*h == '[') {
        if ((hend = strchr(h, ']')) == NULL)
            return -1;
        h++;
        p = hend + 1;
    } else {
        for (hend = h; *hend && *hend != ':' && *hend != '/'; hend++)
            ;
        p = hend;
    }
    hl = (size_t)(hend - h);
    if (hl == 0 || hl >= sizeof(u->host))
        return -1;
    memcpy(u->host, h, hl);
    if (*p == ':') {
        char *end;
        errno = 0;
        port = strtol(p + 1, &end, 10);
        if (errno || end == p + 1 || port < 1 || port > 65535 || (*end && *end != '/'))
            return -1;
        p = end;
    }
    path = *p == '/' ? p : "/";
    if (strlen(path) >= sizeof(u->path))
        return -1;
    strcpy(u->path, path);
    u->port = (int)port;
    snprintf(u->hostport, sizeof(u->hostport), strchr(u->host, ':') ? "[%s]:%d" : "%s:%d",
             u->host, u->port);
    /* lws 4.1 puts "http://" in front of the origin itself (client-http.c):
     * the server's Origin check must see http://host:port, not http://http:// */
    snprintf(u->origin, sizeof(u->origin), "%s", u->hostport);
    return 0;
}

static int parse_num(const char *s, double lo, double hi, double *out) {
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

enum {
    O_URL = 256, O_GAMES, O_DURATION, O_CONC, O_STRATEGY, O_VS, O_CHAOS, O_SEED,
    O_JSON, O_SPECTATE, O_TIMEOUT, O_GPC, O_NOPROGRESS, O_HELP, O_VERSION, O_WORKERS
};

static int parse_args(int argc, char **argv, match_opts *o) {
    static const struct option longopts[] = {
        { "url", required_argument, NULL, O_URL },
        { "games", required_argument, NULL, O_GAMES },
        { "duration", required_argument, NULL, O_DURATION },
        { "concurrency", required_argument, NULL, O_CONC },
        { "strategy", required_argument, NULL, O_STRATEGY },
        { "vs-computer", required_argument, NULL, O_VS },
        { "resume-chaos", required_argument, NULL, O_CHAOS },
        { "seed", required_argument, NULL, O_SEED },
        { "json", no_argument, NULL, O_JSON },
        { "spectate", no_argument, NULL, O_SPECTATE },
        { "timeout", required_argument, NULL, O_TIMEOUT },
        { "games-per-conn", required_argument, NULL, O_GPC },
        { "no-progress", no_argument, NULL, O_NOPROGRESS },
        { "workers", required_argument, NULL, O_WORKERS },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, O_HELP },
        { "version", no_argument, NULL, O_VERSION },
        { NULL, 0, NULL, 0 }
    };
    int ch, no_progress = 0, seeded = 0;
    double v;

    memset(o, 0, sizeof(*o));
    o->concurrency = 16;
    o->strategy = MATCH_MIXED;
    o->computer_level = GAME_AI_PERFECT;
    o->timeout = 30;
    o->games_per_conn = 100;
    o->workers = 1;
    while ((ch = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
        switch (ch) {
        case O_URL:
            if (o->nurls == MATCH_MAX_URLS) {
                fprintf(stderr, "ttt-match: at most %d --url\n", MATCH_MAX_URLS);
                return -1;
            }
            if (parse_url(optarg, &o->urls[o->nurls]) != 0) {
                fprintf(stderr, "ttt-match: bad --url '%s' (want ws://HOST[:PORT]/PATH)\n", optarg);
                return -1;
            }
            o->nurls++;
            break;
        case O_GAMES:
            if (parse_num(optarg, 1, 1e15, &v) != 0 || v != (double)(long long)v)
                goto bad;
            o->games = (long long)v;
            break;
        case O_DURATION:
            if (parse_num(optarg, 0.001, 1e9, &o->duration) != 0)
                goto bad;
            break;
        case O_CONC:
            if (parse_num(optarg, 1, 100000, &v) != 0 || v != (double)(int)v)
                goto bad;
            o->concurrency = (int)v;
            break;
        case O_STRATEGY:
            if (strcmp(optarg, "random") == 0)
                o->strategy = MATCH_RANDOM;
            else if (strcmp(optarg, "perfect") == 0)
                o->strategy = MATCH_PERFECT;
            else if (strcmp(optarg, "mixed") == 0)
                o->strategy = MATCH_MIXED;
            else
                goto bad;
            break;
        case O_VS:
            o->vs_computer = 1;
            if (strcmp(optarg, "easy") == 0)
                o->computer_level = GAME_AI_EASY;
            else if (strcmp(optarg, "perfect") == 0)
                o->computer_level = GAME_AI_PERFECT;
            else
                goto bad;
            break;
        case O_CHAOS:
            if (parse_num(optarg, 0, 1, &o->chaos) != 0)
                goto bad;
            break;
        case O_SEED:
            if (parse_num(optarg, 0, 1.8e19, &v) != 0)
                goto bad;
            o->seed = strtoull(optarg, NULL, 10);
            seeded = 1;
            break;
        case O_JSON:
            o->json = 1;
            break;
        case O_SPECTATE:
            o->spectate = 1;
            break;
        case O_TIMEOUT:
            if (parse_num(optarg, 0.1, 1e6, &o->timeout) != 0)
                goto bad;
            break;
        case O_GPC:
            if (parse_num(optarg, 1, 1e9, &v) != 0 || v != (double)(int)v)
                goto bad;
            o->games_per_conn = (int)v;
            break;
        case O_NOPROGRESS:
            no_progress = 1;
            break;
        case O_WORKERS:
            if (parse_num(optarg, 1, 64, &v) != 0 || v != (double)(int)v)
                goto bad;
            o->workers = (int)v;
            break;
        case 'v':
            o->verbose++;
            break;
        case O_HELP:
            fputs(usage, stdout);
            exit(0);
        case O_VERSION:
            printf("ttt-match %s (protocol %d)\n", TTT_VERSION, PROTO_VERSION);
            exit(0);
        default:
            fputs(usage, stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ttt-match: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (o->games > 0 && o->duration > 0) {
        fprintf(stderr, "ttt-match: --games and --duration exclude each other\n");
        return -1;
    }
    if (o->games == 0 && o->duration == 0)
        o->games = 100;
    if (o->nurls == 0)
        parse_url("ws://127.0.0.1:8080/ws", &o->urls[o->nurls++]);
    if (o->games > 0 && o->concurrency > o->games)
        o->concurrency = (int)o->games;
    if (!seeded)
        o->seed = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid();
    o->progress = !no_progress && isatty(STDERR_FILENO);
    return 0;
bad:
    for (int i = 0; longopts[i].name; i++)
        if (longopts[i].val == ch)
            fprintf(stderr, "ttt-match: bad value '%s' for --%s\n", optarg, longopts[i].name);
    return -1;
}

/* ---- the run ------------------------------------------------------------- */

static match_run run;          /* one per process; large (histogram, slots) */

/* Enough descriptors for every connection: the soft limit up to the hard one. */
static int raise_nofile(int need) {
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)need) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= (rlim_t)need
                      ? (rlim_t)need : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (rlim_t)need ? 0 : -1;
}

static void teardown(match_run *r) {
    r->tearing_down = 1;
    uv_timer_stop(&r->tick);
    uv_close((uv_handle_t *)&r->tick, NULL);
    uv_close((uv_handle_t *)&r->sigint, NULL);
    uv_close((uv_handle_t *)&r->sigterm, NULL);
    /* with a foreign loop this returns at once; lws closes its handles as
     * the loop runs on (docs/libraries.md, "Teardown") */
    match_net_destroy(r);
    for (int i = 0; i < r->nslots; i++)
        for (int k = 0; k < 3; k++)
            uv_close((uv_handle_t *)&r->slots[i].conn[k].timer, NULL);
}

static void tick_cb(uv_timer_t *t) {
    match_run *r = t->data;
    static uint64_t finish_started, last_progress;
    uint64_t now = uv_now(&r->loop);

    if (r->tearing_down)
        return;
    match_play_tick(r);
    if (now - last_progress >= 500) {
        last_progress = now;
        match_stats_progress(r, 0);
    }
    if (!r->finishing)
        return;
    if (finish_started == 0)
        finish_started = now;
    if (r->conns_dead >= r->conns_total || now - finish_started > FINISH_GRACE_MS)
        teardown(r);
}

static void signal_cb(uv_signal_t *h, int signum) {
    match_run *r = h->data;
    (void)signum;

    if (r->interrupted)
        _exit(130);              /* a second ^C: leave now */
    if (r->opt.progress)
        fputc('\n', stderr);
    fprintf(stderr, "ttt-match: interrupted; closing connections (again to quit now)\n");
    match_play_stop(r);
}

/* One process' run, from the loop's start to its close: 0; -2 when the
 * descriptor limit is too low (a usage error), -1 when it could not start
 * otherwise (the reason is on stderr). A --workers worker runs this. */
static int play(match_run *r) {
    int rc;

    r->nslots = r->opt.concurrency;
    r->rng = r->opt.seed ? r->opt.seed : 0x9e3779b97f4a7c15ull;
    if (raise_nofile(r->nslots * 3 + 64) != 0) {
        fprintf(stderr, "ttt-match: the open-file limit is too low for --concurrency %d "
                        "(need %d; raise ulimit -n)\n", r->nslots, r->nslots * 3 + 64);
        return -2;
    }
    if (uv_loop_init(&r->loop) != 0) {
        fprintf(stderr, "ttt-match: uv_loop_init failed\n");
        return -1;
    }
    if ((r->slots = calloc((size_t)r->nslots, sizeof(*r->slots))) == NULL) {
        fprintf(stderr, "ttt-match: out of memory\n");
        return -1;
    }
    if (match_net_init(r) != 0) {
        fprintf(stderr, "ttt-match: could not create the libwebsockets context\n");
        return -1;
    }
    uv_timer_init(&r->loop, &r->tick);
    r->tick.data = r;
    uv_signal_init(&r->loop, &r->sigint);
    uv_signal_init(&r->loop, &r->sigterm);
    r->sigint.data = r->sigterm.data = r;
    uv_signal_start(&r->sigint, signal_cb, SIGINT);
    uv_signal_start(&r->sigterm, signal_cb, SIGTERM);

    r->t_start = uv_hrtime();
    match_play_start(r);
    uv_timer_start(&r->tick, tick_cb, TICK_MS, TICK_MS);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&r->loop);
    if (rc != 0 && r->opt.verbose)
        fprintf(stderr, "ttt-match: uv_loop_close: %s\n", uv_strerror(rc));
    match_stats_progress(r, 1);
    return 0;
}

int main(int argc, char **argv) {
    match_run *r = &run;
    int rc;

    if (parse_args(argc, argv, &r->opt) != 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    if (r->opt.workers > 1) {
        if ((r->opt.workers = match_workers_run(r, r->opt.workers, play)) < 0)
            return 1;
        match_stats_print(r, r->opt.json);
        match_idset_free(&r->ids);
        return r->st.violations || r->st.unexpected || r->st.lost || r->interrupted ||
               r->fatal ? 1 : 0;
    }
    if ((rc = play(r)) != 0)
        return rc == -2 ? 2 : 1;
    match_stats_print(r, r->opt.json);
    rc = r->st.violations || r->st.unexpected || r->st.lost || r->interrupted;
    match_play_free(r);
    free(r->slots);
    return rc ? 1 : 0;
}
