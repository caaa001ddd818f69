/* netfuzz.c -- ttt-netfuzz: a network fuzzer that starts a real (sanitized)
 * ttt-server on a free loopback port in a temporary directory and attacks it
 * in three phases:
 *
 *   frames  mutated WebSocket frames: game messages from the contract with
 *           bit flips, truncation, wrong lengths, fragmentation, bad opcodes,
 *           RSV bits, missing masks, control frames, tiny TCP writes;
 *   http    random HTTP requests with stray bytes, pipelining, bodies, huge
 *           headers and early closes (FIN or RST, before or after reading);
 *   flows   random game flows over several connections that use each other's
 *           ids and tokens: resume with someone else's token, moves out of
 *           turn, joins of full games, rematch, resign, abrupt disconnects.
 *
 * After each phase a normal game must still work (create, join, five moves to
 * X's win, with the right state at every step), /healthz must answer 200 and
 * /api/games/{id} the finished state. Every frame the server sends is judged
 * (nf_check.c). At the end the server must exit 0 on SIGTERM and its stderr
 * must hold no AddressSanitizer, LeakSanitizer or UBSan report.
 *
 * Deterministic for a --seed: item i of a phase draws from its own generator
 * seeded by (seed, phase, i), so the bytes of an item do not depend on what
 * happened before it (only the live game ids and tokens it aims at do).
 * Bounded by counts and by --time-limit. Loopback only. The parts are listed
 * in nf.h; this file holds the options, the judge's self-test and main. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nf.h"

/* ---- the judge's own test -------------------------------------------------------------------------- */

/* The judge must flag what is wrong, or the fuzzer could never fail: known
 * good and known bad server messages, judged offline. 0 when all agree. */
static int self_test(void)
{
    static const char win[] = "{\"type\":\"state\",\"game_id\":100,\"board\":\"XXXOO....\","
        "\"moves\":[0,3,1,4,2],\"ply\":5,\"turn\":null,\"status\":\"over\",\"result\":\"win\","
        "\"winner\":\"X\",\"line\":[0,1,2],\"players\":{\"X\":\"connected\",\"O\":\"away\"}}";
    static const char *const bad_states[] = {
        /* the board does not match the moves */
        "{\"type\":\"state\",\"game_id\":100,\"board\":\"XXX......\",\"moves\":[0,3,1,4,2],"
        "\"ply\":5,\"turn\":null,\"status\":\"over\",\"result\":\"win\",\"winner\":\"X\","
        "\"line\":[0,1,2],\"players\":{\"X\":\"connected\",\"O\":\"away\"}}",
        /* still playing on a won board */
        "{\"type\":\"state\",\"game_id\":100,\"board\":\"XXXOO....\",\"moves\":[0,3,1,4,2],"
        "\"ply\":5,\"turn\":\"O\",\"status\":\"playing\",\"result\":null,\"winner\":null,"
        "\"line\":null,\"players\":{\"X\":\"connected\",\"O\":\"away\"}}",
        /* the wrong side to move */
        "{\"type\":\"state\",\"game_id\":100,\"board\":\"X........\",\"moves\":[0],"
        "\"ply\":1,\"turn\":\"X\",\"status\":\"playing\",\"result\":null,\"winner\":null,"
        "\"line\":null,\"players\":{\"X\":\"connected\",\"O\":\"connected\"}}",
        /* X moved twice */
        "{\"type\":\"state\",\"game_id\":100,\"board\":\"XX.......\",\"moves\":[0,1],"
        "\"ply\":2,\"turn\":\"X\",\"status\":\"playing\",\"result\":null,\"winner\":null,"
        "\"line\":null,\"players\":{\"X\":\"connected\",\"O\":\"connected\"}}",
        /* a win by O claimed on X's line */
        "{\"type\":\"state\",\"game_id\":100,\"board\":\"XXXOO....\",\"moves\":[0,3,1,4,2],"
        "\"ply\":5,\"turn\":null,\"status\":\"over\",\"result\":\"win\",\"winner\":\"O\","
        "\"line\":[0,1,2],\"players\":{\"X\":\"connected\",\"O\":\"away\"}}",
        "{\"type\":\"state\"",   /* not JSON */
        "{\"type\":\"gossip\"}",  /* not a message of the contract */
    };
    static const char ply2[] = "{\"type\":\"state\",\"game_id\":7,\"board\":\"X...O....\","
        "\"moves\":[0,4],\"ply\":2,\"turn\":\"X\",\"status\":\"playing\",\"result\":null,"
        "\"winner\":null,\"line\":null,\"players\":{\"X\":\"connected\",\"O\":\"connected\"}}";
    static const char ply1[] = "{\"type\":\"state\",\"game_id\":7,\"board\":\"X........\","
        "\"moves\":[0],\"ply\":1,\"turn\":\"O\",\"status\":\"playing\",\"result\":null,"
        "\"winner\":null,\"line\":null,\"players\":{\"X\":\"connected\",\"O\":\"connected\"}}";
    static const char joined_x[] = "{\"type\":\"joined\",\"game_id\":100,\"mark\":\"X\","
        "\"token\":\"0123456789abcdef0123456789abcdef\",\"id\":7}";
    static nf_judge j;
    nf_seen seen;
    nf_seat other = {101, GAME_X, "fedcba9876543210fedcba9876543210"};
    nf_seat own = {100, GAME_X, "0123456789abcdef0123456789abcdef"};
    int bad = 0;

#define JUDGE(text, seen_) nf_judge_text(&j, (seen_), (const unsigned char *)(text), strlen(text))
#define MUST(cond, what) do { if (!(cond)) { fprintf(stderr, "self-test: %s\n", what); bad++; } } while (0)
    memset(&j, 0, sizeof j);
    MUST(JUDGE(win, NULL) == 0, "a legal win was flagged");
    for (size_t i = 0; i < sizeof bad_states / sizeof bad_states[0]; i++) {
        memset(&j, 0, sizeof j);
        if (JUDGE(bad_states[i], NULL) == 0) {
            fprintf(stderr, "self-test: not flagged: %s\n", bad_states[i]);
            bad++;
        }
    }
    memset(&j, 0, sizeof j);
    memset(&seen, 0, sizeof seen);
    MUST(JUDGE(ply2, &seen) == 0 && JUDGE(ply2, &seen) == 0, "a repeated state was flagged");
    MUST(JUDGE(ply1, &seen) < 0, "a state going back in ply was not flagged");
    memset(&j, 0, sizeof j);
    nf_judge_expect(&j, 7, PROTO_RESUME, 100, &other);
    MUST(JUDGE(joined_x, NULL) < 0, "a resume with another game's token was not flagged");
    memset(&j, 0, sizeof j);
    nf_judge_expect(&j, 7, PROTO_RESUME, 100, NULL);
    MUST(JUDGE(joined_x, NULL) < 0, "a resume with a made-up token was not flagged");
    memset(&j, 0, sizeof j);
    nf_judge_expect(&j, 7, PROTO_JOIN, 100, NULL);
    MUST(JUDGE(joined_x, NULL) < 0, "a join that seated X was not flagged");
    memset(&j, 0, sizeof j);
    nf_judge_expect(&j, 7, PROTO_RESUME, 100, &own);
    MUST(JUDGE(joined_x, NULL) == 0, "a resume with the seat's own token was flagged");
#undef JUDGE
#undef MUST
    printf("netfuzz: self-test: %s\n", bad ? "FAIL" : "PASS");
    return bad ? 1 : 0;
}

/* ---- main ------------------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: ttt-netfuzz [options]\n"
        "\n"
        "Starts a ttt-server (ideally the sanitized build/test one) on a free loopback\n"
        "port in a temporary directory and fuzzes it over the network: mutated\n"
        "WebSocket frames, random HTTP requests with stray bytes and early closes, and\n"
        "game flows that use other connections' tokens. After each phase a normal game\n"
        "and /healthz must work; at the end the server must exit 0 on SIGTERM with no\n"
        "sanitizer report in its stderr. Exit 0 when all of that held.\n"
        "\n"
        "  --server PATH      ttt-server binary (default %s)\n"
        "  --web DIR          its web directory (default %s)\n"
        "  --seed N           the run's seed (default 1); the same seed, the same items\n"
        "  --long             the long mode: 200000 frames, 50000 requests, 100000 flow\n"
        "                     messages, 1800 s at most (default: 5000 / 2000 / 3000, 240 s)\n"
        "  --frames N         WebSocket frames to send (phase frames)\n"
        "  --http N           HTTP connections to make (phase http)\n"
        "  --flows N          game-flow messages to send (phase flows)\n"
        "  --phases LIST      which phases, comma separated (default frames,http,flows)\n"
        "  --time-limit SEC   stop the phases after this long; the checks still run\n"
        "  --redis            keep games in a redis-server of its own (default: memory)\n"
        "  --rate-limit N     the server's --rate-limit and --ip-rate-limit (default 0:\n"
        "                     off, so every frame reaches the game logic)\n"
        "  --keep             keep the temporary directory (the server log is in it)\n"
        "  --self-test        check that the judge flags known bad server messages, and exit\n"
        "  --help             this text\n",
        TTT_SERVER_BIN, TTT_WEB_DIR);
}

static int parse_phases(const char *s)
{
    int ph = 0;
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s", s);
    for (char *t = strtok(tmp, ","); t; t = strtok(NULL, ",")) {
        if (strcmp(t, "frames") == 0)
            ph |= PH_FRAMES;
        else if (strcmp(t, "http") == 0)
            ph |= PH_HTTP;
        else if (strcmp(t, "flows") == 0)
            ph |= PH_FLOWS;
        else
            return -1;
    }
    return ph;
}

static int parse_opts(opts *o, int argc, char **argv)
{
    static const struct option lo[] = {
        {"server", 1, 0, 's'}, {"web", 1, 0, 'w'}, {"seed", 1, 0, 'S'}, {"long", 0, 0, 'L'},
        {"frames", 1, 0, 'f'}, {"http", 1, 0, 'h'}, {"flows", 1, 0, 'g'},
        {"phases", 1, 0, 'p'}, {"time-limit", 1, 0, 't'}, {"redis", 0, 0, 'r'},
        {"rate-limit", 1, 0, 'R'}, {"keep", 0, 0, 'k'}, {"help", 0, 0, 'H'},
        {"self-test", 0, 0, 'T'}, {0, 0, 0, 0}};
    long frames = -1, http = -1, flows = -1, tl = -1;
    int c, lng = 0;

    memset(o, 0, sizeof(*o));
    o->server = TTT_SERVER_BIN;
    o->web = TTT_WEB_DIR;
    o->seed = 1;
    o->phases = PH_FRAMES | PH_HTTP | PH_FLOWS;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 's': o->server = optarg; break;
        case 'w': o->web = optarg; break;
        case 'S': o->seed = strtoull(optarg, NULL, 0); break;
        case 'L': lng = 1; break;
        case 'f': frames = atol(optarg); break;
        case 'h': http = atol(optarg); break;
        case 'g': flows = atol(optarg); break;
        case 'p':
            if ((o->phases = parse_phases(optarg)) < 0) {
                fprintf(stderr, "ttt-netfuzz: --phases takes frames,http,flows\n");
                return -1;
            }
            break;
        case 't': tl = atol(optarg); break;
        case 'r': o->redis = 1; break;
        case 'R': o->rate_limit = atoi(optarg); break;
        case 'k': o->keep = 1; break;
        case 'H': usage(stdout); exit(0);
        case 'T': exit(self_test());
        default: usage(stderr); return -1;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return -1;
    }
    o->frames = frames >= 0 ? frames : lng ? 200000 : 5000;
    o->http = http >= 0 ? http : lng ? 50000 : 2000;
    o->flows = flows >= 0 ? flows : lng ? 100000 : 3000;
    o->time_limit_s = tl >= 0 ? (int)tl : lng ? 1800 : 240;
    return 0;
}

int main(int argc, char **argv)
{
    static nf n;
    int rc = 1;

    if (parse_opts(&n.o, argc, argv) < 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (access(n.o.server, X_OK) != 0) {
        fprintf(stderr, "ttt-netfuzz: no server binary at %s (--server)\n", n.o.server);
        return 2;
    }
    if (!(n.dir = proc_tmpdir("netfuzz"))) {
        fprintf(stderr, "ttt-netfuzz: cannot make a temporary directory\n");
        return 2;
    }
    n.t0 = nf_now_ms();
    n.deadline = n.t0 + (long long)n.o.time_limit_s * 1000;
    printf("netfuzz: seed %" PRIu64 ", %ld frames, %ld http, %ld flows, %d s at most, "
           "%s store, dir %s\n", n.o.seed, n.o.frames, n.o.http, n.o.flows, n.o.time_limit_s,
           n.o.redis ? "redis" : "memory", n.dir);
    if (nf_server_start(&n) < 0)
        goto report;
    printf("netfuzz: %s on 127.0.0.1:%d (pid %d)\n", n.o.server, n.port, (int)n.pid);
    if (nf_check_game(&n, "start") < 0)
        goto report;
    if ((n.o.phases & PH_FRAMES) && (nf_phase_frames(&n) < 0 || nf_check_game(&n, "frames") < 0))
        goto report;
    if ((n.o.phases & PH_HTTP) && (nf_phase_http(&n) < 0 || nf_check_game(&n, "http") < 0))
        goto report;
    if ((n.o.phases & PH_FLOWS) && (nf_phase_flows(&n) < 0 || nf_check_game(&n, "flows") < 0))
        goto report;

    /* SIGTERM: the server must drain and exit 0, with a clean stderr */
    {
        pid_t pid = n.pid;
        n.pid = 0;
        int st = proc_stop(pid, 20000);
        if (st == -1)
            nf_fail(&n, "the server did not exit within 20 s of SIGTERM (killed)");
        else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            nf_fail(&n, "the server's exit after SIGTERM: %s %d",
                 WIFEXITED(st) ? "status" : "signal",
                 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    }
    if (!n.fail[0])
        rc = 0;

report:
    if (n.pid > 0) {
        proc_kill9(n.pid);
        n.pid = 0;
    }
    if (n.has_redis)
        proc_redis_stop(&n.redis, 0);
    if (nf_scan_log(&n, 1)) {
        rc = 1;
        if (!n.fail[0])
            nf_fail(&n, "a sanitizer report in the server's stderr");
    }
    printf("netfuzz: %" PRIu64 " server messages judged (%" PRIu64 " states, %" PRIu64
           " seats), %" PRIu64 " violations, %.1f s in all\n", n.judge.msgs, n.judge.states,
           n.judge.joined, n.judge.violations, (nf_now_ms() - n.t0) / 1000.0);
    if (rc != 0) {
        fprintf(stderr, "netfuzz: FAIL: %s\n", n.fail);
        nf_print_items(&n);
        fprintf(stderr, "netfuzz: server log kept in %s (replay: --seed %" PRIu64 ")\n",
                n.log, n.o.seed);
    } else {
        printf("netfuzz: PASS\n");
        if (!n.o.keep)
            proc_rmtree(n.dir);
    }
    free(n.dir);
    return rc;
}
