/* match_stats.c -- ttt-match's figures: the round-trip histogram, the
 * live progress line, the final summary (text or one JSON object), and two
 * small utilities (random numbers, a set of game ids).
 *
 * The JSON is written with printf: every key is a fixed word and every value
 * a number or true/false, so there is nothing to escape and no reason to
 * pull the protocol module into output formatting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "match.h"

/* ---- histogram ---------------------------------------------------------- */

static int hist_index(uint64_t v) {
    int m, shift;

    if (v < 64)
        return (int)v;
    m = 63 - __builtin_clzll(v);             /* >= 6 */
    if (m > 40)
        return MATCH_HIST_BUCKETS - 1;
    shift = m - 5;
    return 64 + (m - 6) * 32 + (int)((v >> shift) - 32);
}

/* The largest value that falls into bucket i. */
static uint64_t hist_upper(int i) {
    int m, top;

    if (i < 64)
        return (uint64_t)i;
    m = (i - 64) / 32 + 6;
    top = (i - 64) % 32 + 32;
    return ((uint64_t)(top + 1) << (m - 5)) - 1;
}

void match_hist_add(match_hist *h, uint64_t us) {
    h->b[hist_index(us)]++;
    h->count++;
    if (us > h->max)
        h->max = us;
}

uint64_t match_hist_pct(const match_hist *h, double p) {
    uint64_t want, seen = 0;

    if (h->count == 0)
        return 0;
    want = (uint64_t)(p * (double)h->count + 0.999999);
    if (want < 1)
        want = 1;
    for (int i = 0; i < MATCH_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= want)
            return hist_upper(i) < h->max ? hist_upper(i) : h->max;
    }
    return h->max;
}

/* ---- random numbers: game/'s xorshift64* ------------------------------- */

uint64_t match_rng_below(uint64_t *rng, uint64_t n) {
    /* modulo bias is < n / 2^64: irrelevant for n <= 9 */
    return n ? game_rng_next(rng) % n : 0;
}

double match_rng_unit(uint64_t *rng) {
    return (double)(game_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- a set of game ids --------------------------------------------------- */

static size_t id_hash(int64_t id, size_t cap) {
    uint64_t x = (uint64_t)id * 0x9e3779b97f4a7c15ull;
    return (size_t)(x >> 17) & (cap - 1);
}

/* Ids are >= 1, so 0 marks an empty bucket. Load stays under 1/2. */
int match_idset_add(match_idset *s, int64_t id) {
    size_t i;

    if ((s->n + 1) * 2 > s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 4096;
        int64_t *nv = calloc(ncap, sizeof(*nv));
        if (nv == NULL)
            return -1;
        for (size_t j = 0; j < s->cap; j++) {
            if (s->v[j] == 0)
                continue;
            for (i = id_hash(s->v[j], ncap); nv[i] != 0; i = (i + 1) & (ncap - 1))
                ;
            nv[i] = s->v[j];
        }
        free(s->v);
        s->v = nv;
        s->cap = ncap;
    }
    for (i = id_hash(id, s->cap); s->v[i] != 0; i = (i + 1) & (s->cap - 1))
        if (s->v[i] == id)
            return 0;
    s->v[i] = id;
    s->n++;
    return 1;
}

void match_idset_free(match_idset *s) {
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* ---- output ---------------------------------------------------------------- */

static double elapsed_s(const match_run *r) {
    uint64_t end = r->t_end ? r->t_end : uv_hrtime();
    double s = (double)(end - r->t_start) / 1e9;
    return s > 1e-9 ? s : 1e-9;
}

static uint64_t games_ended(const match_stats *st) {
    return st->completed + st->lost + st->aborted;
}

static uint64_t error_total(const match_stats *st) {
    uint64_t n = 0;
    for (int i = 0; i < PROTO_ERR_COUNT; i++)
        n += st->errors[i];
    return n;
}

void match_stats_progress(const match_run *r, int final) {
    const match_stats *st = &r->st;
    double el = (double)(uv_hrtime() - r->t_start) / 1e9;

    if (!r->opt.progress)
        return;
    if (el < 1e-3)
        el = 1e-3;
    if (r->opt.games > 0)
        fprintf(stderr, "\r\033[K%llu/%lld games  %.0f games/s  %llu moves  %llu errors  %llu violations",
                (unsigned long long)games_ended(st), r->opt.games,
                (double)st->completed / el, (unsigned long long)st->moves,
                (unsigned long long)error_total(st), (unsigned long long)st->violations);
    else
        fprintf(stderr, "\r\033[K%.0f/%.0f s  %llu games  %.0f games/s  %llu moves  %llu errors  %llu violations",
                el, r->opt.duration, (unsigned long long)games_ended(st),
                (double)st->completed / el, (unsigned long long)st->moves,
                (unsigned long long)error_total(st), (unsigned long long)st->violations);
    if (final)
        fputc('\n', stderr);
    fflush(stderr);
}

/* ttt-match's own CPU, its --workers included: the load generator's cost
 * per move is reported beside the server's (docs/benchmarks.md). */
static void cpu_used(double *user, double *sys) {
    struct rusage self, kids;

    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    *user = (double)(self.ru_utime.tv_sec + kids.ru_utime.tv_sec) +
            (double)(self.ru_utime.tv_usec + kids.ru_utime.tv_usec) / 1e6;
    *sys = (double)(self.ru_stime.tv_sec + kids.ru_stime.tv_sec) +
           (double)(self.ru_stime.tv_usec + kids.ru_stime.tv_usec) / 1e6;
}

static double ms(uint64_t us) {
    return (double)us / 1000.0;
}

static const char *outcome_names[MATCH_OUTCOMES] = {
    "x_win", "o_win", "draw", "resign", "abandon"
};

static void print_text(const match_run *r) {
    const match_stats *st = &r->st;
    double el = elapsed_s(r);
    int any = 0;

    printf("games:      %llu (%llu completed, %llu lost, %llu aborted, %llu interrupted)\n",
           (unsigned long long)games_ended(st), (unsigned long long)st->completed,
           (unsigned long long)st->lost, (unsigned long long)st->aborted,
           (unsigned long long)st->interrupted);
    printf("moves:      %llu\n", (unsigned long long)st->moves);
    printf("results:   ");
    for (int i = 0; i < MATCH_OUTCOMES; i++)
        printf(" %s %llu", outcome_names[i], (unsigned long long)st->outcomes[i]);
    printf("\nviolations: %llu\n", (unsigned long long)st->violations);
    printf("errors:    ");
    for (int i = 1; i < PROTO_ERR_COUNT; i++) {
        if (st->errors[i] == 0)
            continue;
        printf(" %s %llu", proto_err_name((proto_err)i), (unsigned long long)st->errors[i]);
        any = 1;
    }
    printf("%s (unexpected %llu, expected races %llu, retried %llu)\n", any ? "" : " none",
           (unsigned long long)st->unexpected, (unsigned long long)st->races,
           (unsigned long long)st->retried);
    printf("reconnects: chaos %llu, close 1012 %llu, other closes %llu, failed connects %llu, resumes %llu\n",
           (unsigned long long)st->drops_chaos, (unsigned long long)st->closes_1012,
           (unsigned long long)st->closes_other, (unsigned long long)st->connect_fail,
           (unsigned long long)st->resumes);
    printf("rate:       %.1f games/s, %.1f moves/s over %.2f s\n",
           (double)st->completed / el, (double)st->moves / el, el);
    printf("move rtt:   p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms  (%llu moves)\n",
           ms(match_hist_pct(&st->rtt, 0.50)), ms(match_hist_pct(&st->rtt, 0.90)),
           ms(match_hist_pct(&st->rtt, 0.99)), ms(st->rtt.max),
           (unsigned long long)st->rtt.count);
    double u, sy;
    cpu_used(&u, &sy);
    printf("cpu:        %.2f s user, %.2f s sys (ttt-match, %.1f us per move)\n", u, sy,
           st->moves ? (u + sy) * 1e6 / (double)st->moves : 0.0);
    printf("seed:       %llu\n", (unsigned long long)r->opt.seed);
}

static void print_json(const match_run *r, int ok) {
    const match_stats *st = &r->st;
    double el = elapsed_s(r);

    printf("{\"games\":%llu,\"completed\":%llu,\"lost\":%llu,\"aborted\":%llu,"
           "\"interrupted\":%llu,\"moves\":%llu,",
           (unsigned long long)games_ended(st), (unsigned long long)st->completed,
           (unsigned long long)st->lost, (unsigned long long)st->aborted,
           (unsigned long long)st->interrupted, (unsigned long long)st->moves);
    printf("\"results\":{");
    for (int i = 0; i < MATCH_OUTCOMES; i++)
        printf("%s\"%s\":%llu", i ? "," : "", outcome_names[i],
               (unsigned long long)st->outcomes[i]);
    printf("},\"violations\":%llu,\"errors\":{", (unsigned long long)st->violations);
    for (int i = 1; i < PROTO_ERR_COUNT; i++)
        printf("%s\"%s\":%llu", i > 1 ? "," : "", proto_err_name((proto_err)i),
               (unsigned long long)st->errors[i]);
    printf("},\"unexpected\":%llu,\"races\":%llu,\"retried\":%llu,",
           (unsigned long long)st->unexpected, (unsigned long long)st->races,
           (unsigned long long)st->retried);
    printf("\"reconnects\":{\"chaos\":%llu,\"close_1012\":%llu,\"close_other\":%llu,"
           "\"connect_failed\":%llu,\"resumes\":%llu},",
           (unsigned long long)st->drops_chaos, (unsigned long long)st->closes_1012,
           (unsigned long long)st->closes_other, (unsigned long long)st->connect_fail,
           (unsigned long long)st->resumes);
    printf("\"elapsed_s\":%.3f,\"games_per_s\":%.1f,\"moves_per_s\":%.1f,",
           el, (double)st->completed / el, (double)st->moves / el);
    printf("\"rtt_ms\":{\"samples\":%llu,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f},",
           (unsigned long long)st->rtt.count, ms(match_hist_pct(&st->rtt, 0.50)),
           ms(match_hist_pct(&st->rtt, 0.90)), ms(match_hist_pct(&st->rtt, 0.99)),
           ms(st->rtt.max));
    double u, sy;
    cpu_used(&u, &sy);
    printf("\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,\"workers\":%d,", u, sy,
           r->opt.workers > 1 ? r->opt.workers : 1);
    printf("\"seed\":%llu,\"ok\":%s}\n", (unsigned long long)r->opt.seed,
           ok ? "true" : "false");
}

void match_stats_print(const match_run *r, int json) {
    const match_stats *st = &r->st;
    int ok = st->violations == 0 && st->unexpected == 0 && st->lost == 0 &&
             !r->interrupted && !r->fatal;

    if (json) {
        print_json(r, ok);
    } else {
        print_text(r);
        if (ok)
            printf("ok\n");
        else
            printf("FAILED: %llu violations, %llu unexpected errors, %llu lost games%s\n",
                   (unsigned long long)st->violations, (unsigned long long)st->unexpected,
                   (unsigned long long)st->lost, r->interrupted ? ", interrupted" : "");
    }
    fflush(stdout);
}
