/* match_workers.c -- ttt-match --workers N: N processes on one set of games.
 *
 * One ttt-match process is one core; against a fast server the runner, not
 * the server, would be the limit. Each worker is a fork of the configured
 * run with its share of the games (or the same --duration), its share of
 * the slots and its own seed; it plays and judges its games exactly as a
 * single process does, then sends its counters and the ids of the games it
 * created up a pipe. The parent adds the counters, merges the histograms,
 * and checks the ids across workers (an id handed out twice is a violation,
 * as within one process), so the summary reads as one run's. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "match.h"

#define MAX_WORKERS 64

/* What a worker sends up its pipe, followed by nids int64 game ids. */
typedef struct worker_report {
    match_stats st;
    uint64_t t_start, t_end;
    int32_t interrupted, fatal;
    uint64_t nids;
} worker_report;

static pid_t pids[MAX_WORKERS];
static int npids;

/* SIGTERM to the parent (a script stopping the run) reaches every worker;
 * SIGINT from a terminal reaches the whole process group by itself. */
static void forward_term(int sig)
{
    for (int i = 0; i < npids; i++)
        if (pids[i] > 0)
            kill(pids[i], sig);
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n)
{
    char *b = p;
    while (n) {
        ssize_t r = read(fd, b, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

/* In the worker: play, then report. Never returns. */
static void worker_main(match_run *r, int i, int n, int fd, int (*play)(match_run *))
{
    match_opts *o = &r->opt;
    long long games = o->games;
    int conc = o->concurrency;
    if (games > 0)
        o->games = games / n + (i < games % n ? 1 : 0);
    o->concurrency = conc / n + (i < conc % n ? 1 : 0);
    if (o->games > 0 && o->concurrency > o->games)
        o->concurrency = (int)o->games;
    o->seed = o->seed + (uint64_t)i * 0x9e3779b97f4a7c15ull;
    o->progress = 0;
    int rc = play(r);
    worker_report w;
    memset(&w, 0, sizeof w);
    w.st = r->st;
    w.t_start = r->t_start;
    w.t_end = r->t_end;
    w.interrupted = r->interrupted;
    w.fatal = r->fatal || rc < 0;
    w.nids = r->ids.n;
    int bad = write_all(fd, &w, sizeof w) != 0;
    for (size_t k = 0; !bad && k < r->ids.cap; k++)
        if (r->ids.v[k] && write_all(fd, &r->ids.v[k], sizeof(int64_t)) != 0)
            bad = 1;
    close(fd);
    _exit(bad ? 3 : 0);
}

/* Add b into a: every counter is a uint64_t, so the struct is summed as an
 * array of them; the histogram's max is the one field that is a maximum. */
static void stats_add(match_stats *a, const match_stats *b)
{
    _Static_assert(sizeof(match_stats) % sizeof(uint64_t) == 0, "match_stats: uint64_t only");
    uint64_t max = a->rtt.max > b->rtt.max ? a->rtt.max : b->rtt.max;
    uint64_t *pa = (uint64_t *)a;
    const uint64_t *pb = (const uint64_t *)b;
    for (size_t i = 0; i < sizeof(match_stats) / sizeof(uint64_t); i++)
        pa[i] += pb[i];
    a->rtt.max = max;
}

/* One worker's report into the merged run; -1 when it sent none. */
static int merge_one(match_run *r, int fd, int first)
{
    worker_report w;
    if (read_all(fd, &w, sizeof w) != 0)
        return -1;
    stats_add(&r->st, &w.st);
    if (first || w.t_start < r->t_start)
        r->t_start = w.t_start;
    if (w.t_end > r->t_end)
        r->t_end = w.t_end;
    r->interrupted |= w.interrupted;
    r->fatal |= w.fatal;
    for (uint64_t k = 0; k < w.nids; k++) {
        int64_t id;
        if (read_all(fd, &id, sizeof id) != 0)
            return -1;
        int a = match_idset_add(&r->ids, id);
        if (a == 0) {
            r->st.violations++;
            fprintf(stderr, "ttt-match: game id %lld was given to games of two workers\n",
                    (long long)id);
        } else if (a < 0) {
            r->st.unexpected++;
        }
    }
    return 0;
}

int match_workers_run(match_run *r, int n, int (*play)(match_run *))
{
    int fds[MAX_WORKERS];
    if (n > MAX_WORKERS)
        n = MAX_WORKERS;
    if (r->opt.games > 0 && n > r->opt.games)
        n = (int)r->opt.games;
    if (n > r->opt.concurrency)
        n = r->opt.concurrency;
    fflush(NULL);
    for (int i = 0; i < n; i++) {
        int p[2];
        if (pipe(p) != 0) {
            perror("ttt-match: pipe");
            return -1;
        }
        pid_t pid = fork();
        if (pid < 0) {
            perror("ttt-match: fork");
            return -1;
        }
        if (pid == 0) {
            close(p[0]);
            for (int k = 0; k < i; k++)
                close(fds[k]);
            worker_main(r, i, n, p[1], play);
        }
        close(p[1]);
        fds[i] = p[0];
        pids[npids++] = pid;
    }
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, forward_term);
    int failed = 0;
    for (int i = 0; i < n; i++) {
        if (merge_one(r, fds[i], i == 0) != 0)
            failed++;
        close(fds[i]);
    }
    for (int i = 0; i < n; i++) {
        int status;
        while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR)
            ;
        pids[i] = 0;
    }
    if (failed) {
        fprintf(stderr, "ttt-match: %d of %d workers died without a report\n", failed, n);
        r->fatal = 1;
    }
    return n;
}
