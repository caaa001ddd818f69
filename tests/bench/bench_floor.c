/* bench_floor.c -- ttt-bench-floor: what the kernel must spend on one move.
 *
 * A move through ttt-server costs the server, at the very least: one epoll
 * wake-up (shared by the moves that arrive together), one recv of the
 * request frame and one send of the new state to each of the two players,
 * on loopback TCP. This program does exactly that and nothing else, with
 * the frame sizes of a real move (measured on the wire from ttt-server:
 * a masked `move` request is 61 bytes, a `state` frame about 194), so the
 * server's own CPU per move can be set beside it in the same run.
 *
 *   ttt-bench-floor [--pairs 64] [--seconds 3] [--warmup 0.5]
 *                   [--req 61] [--state 194] [--json]
 *
 * The "server" is this process: one epoll loop over 2 x pairs accepted
 * sockets. The players are a forked child with its own epoll loop: per pair
 * one player sends a request, waits until both players have the state, then
 * the other player sends the next one, so each pair has one move in flight,
 * like ttt-match. CPU is getrusage() of the server side over the measured
 * window (after the warm-up); the players' CPU is reported apart. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAIRS 4096
#define MAX_FRAME 4096

typedef struct opts {
    int pairs;
    double seconds, warmup;
    size_t req, state;
    int json;
} opts;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double tv_us(struct timeval tv)
{
    return (double)tv.tv_sec * 1e6 + (double)tv.tv_usec;
}

static int die(const char *what)
{
    perror(what);
    exit(1);
}

static void nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* ---- the players (child process) ----------------------------------------- */

typedef struct pair {
    int fd[2];
    size_t got[2];     /* bytes of the current state received by each player */
    int mover;         /* who sends the next request */
} pair;

static void players_send(pair *p, const char *req, size_t reqlen)
{
    if (send(p->fd[p->mover], req, reqlen, MSG_NOSIGNAL) != (ssize_t)reqlen)
        die("player send");
    p->got[0] = p->got[1] = 0;
}

/* Plays until the server closes the sockets; exits the child. */
static void players_run(const opts *o, int port)
{
    static pair pairs[MAX_PAIRS];
    static char req[MAX_FRAME], buf[65536];
    memset(req, 'r', o->req);
    int ep = epoll_create1(0);
    if (ep < 0)
        die("epoll_create1");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < o->pairs; i++) {
        for (int k = 0; k < 2; k++) {
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
                die("player connect");
            nodelay(fd);
            /* the server pairs sockets in accept order: announce nothing,
             * just connect in order, one at a time */
            char c;
            if (recv(fd, &c, 1, 0) != 1)
                die("player hello");
            pairs[i].fd[k] = fd;
            struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)i * 2 + (uint64_t)k};
            if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
                die("epoll_ctl");
        }
    }
    for (int i = 0; i < o->pairs; i++)
        players_send(&pairs[i], req, o->req);
    struct epoll_event evs[256];
    int open = o->pairs * 2;
    while (open > 0) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("player epoll_wait");
        for (int e = 0; e < n; e++) {
            pair *p = &pairs[evs[e].data.u64 / 2];
            int k = (int)(evs[e].data.u64 % 2);
            ssize_t r = recv(p->fd[k], buf, sizeof buf, 0);
            if (r <= 0) {
                epoll_ctl(ep, EPOLL_CTL_DEL, p->fd[k], NULL);
                close(p->fd[k]);
                open--;
                continue;
            }
            p->got[k] += (size_t)r;
            if (p->got[0] >= o->state && p->got[1] >= o->state) {
                p->mover ^= 1;
                players_send(p, req, o->req);
            }
        }
    }
    exit(0);
}

/* ---- the server side (this process) --------------------------------------- */

int main(int argc, char **argv)
{
    opts o = {.pairs = 64, .seconds = 3, .warmup = 0.5, .req = 61, .state = 194};
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--json"))
            o.json = 1;
        else if (!strcmp(argv[i], "--pairs") && v)
            o.pairs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && v)
            o.seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && v)
            o.warmup = atof(argv[++i]);
        else if (!strcmp(argv[i], "--req") && v)
            o.req = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--state") && v)
            o.state = (size_t)atol(argv[++i]);
        else {
            fprintf(stderr, "usage: ttt-bench-floor [--pairs N] [--seconds S] [--warmup S] "
                            "[--req BYTES] [--state BYTES] [--json]\n");
            return 2;
        }
    }
    if (o.pairs < 1 || o.pairs > MAX_PAIRS || o.req < 1 || o.req > MAX_FRAME ||
        o.state < 1 || o.state > MAX_FRAME || o.seconds <= 0 || o.warmup < 0) {
        fprintf(stderr, "ttt-bench-floor: a value out of range\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 1024) != 0 ||
        getsockname(ls, (struct sockaddr *)&a, &al) != 0)
        die("listen");
    pid_t child = fork();
    if (child < 0)
        die("fork");
    if (child == 0) {
        close(ls);
        players_run(&o, ntohs(a.sin_port));
    }

    /* fds[2i], fds[2i+1] are pair i; a request on one goes to both */
    static int fds[2 * MAX_PAIRS];
    int ep = epoll_create1(0);
    if (ep < 0)
        die("epoll_create1");
    for (int i = 0; i < 2 * o.pairs; i++) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0)
            die("accept");
        nodelay(fd);
        if (send(fd, "h", 1, 0) != 1)
            die("hello");
        fds[i] = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
            die("epoll_ctl");
    }
    close(ls);

    static char state[MAX_FRAME], buf[65536];
    memset(state, 's', o.state);
    struct epoll_event evs[256];
    uint64_t moves = 0, moves0 = 0, waits = 0, waits0 = 0;
    struct rusage ru0, ru1;
    double t_start = now_s(), t0 = 0, t1 = 0;
    int measuring = 0;
    for (;;) {
        double t = now_s();
        if (!measuring && t - t_start >= o.warmup) {
            measuring = 1;
            getrusage(RUSAGE_SELF, &ru0);
            t0 = t;
            moves0 = moves;
            waits0 = waits;
        }
        if (measuring && t - t0 >= o.seconds) {
            getrusage(RUSAGE_SELF, &ru1);
            t1 = t;
            break;
        }
        int n = epoll_wait(ep, evs, 256, 100);
        waits++;
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int e = 0; e < n; e++) {
            int i = (int)evs[e].data.u32;
            ssize_t r = recv(fds[i], buf, sizeof buf, 0);
            if (r <= 0)
                die("server recv (the players died)");
            /* one request per pair is in flight, so r is one request; a
             * short read (never seen on loopback) would only count less */
            if ((size_t)r < o.req)
                continue;
            if (send(fds[i], state, o.state, MSG_NOSIGNAL) != (ssize_t)o.state ||
                send(fds[i ^ 1], state, o.state, MSG_NOSIGNAL) != (ssize_t)o.state)
                die("server send");
            moves++;
        }
    }
    for (int i = 0; i < 2 * o.pairs; i++)
        close(fds[i]);
    int status;
    struct rusage cru;
    if (wait4(child, &status, 0, &cru) != child || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "ttt-bench-floor: the players failed\n");
        return 1;
    }

    double m = (double)(moves - moves0);
    double el = t1 - t0;
    double user = (tv_us(ru1.ru_utime) - tv_us(ru0.ru_utime)) / m;
    double sys = (tv_us(ru1.ru_stime) - tv_us(ru0.ru_stime)) / m;
    double wpm = (double)(waits - waits0) / m;
    /* the players ran over warm-up and measurement alike: per move of all */
    double cpm = (tv_us(cru.ru_utime) + tv_us(cru.ru_stime)) / (double)moves;
    if (o.json)
        printf("{\"moves\":%.0f,\"seconds\":%.3f,\"moves_per_s\":%.1f,\"user_us\":%.3f,"
               "\"sys_us\":%.3f,\"cpu_us\":%.3f,\"epoll_wait_per_move\":%.3f,"
               "\"players_cpu_us\":%.3f,\"pairs\":%d,\"req_bytes\":%zu,\"state_bytes\":%zu}\n",
               m, el, m / el, user, sys, user + sys, wpm, cpm, o.pairs, o.req, o.state);
    else
        printf("floor: %.0f moves in %.2f s: %.0f moves/s; server %.2f us user + %.2f us sys "
               "= %.2f us per move, %.3f epoll_wait per move; players %.2f us per move "
               "(%d pairs, %zu-byte request, 2 x %zu-byte state)\n",
               m, el, m / el, user, sys, user + sys, wpm, cpm, o.pairs, o.req, o.state);
    return 0;
}
