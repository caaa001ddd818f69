/* test_metrics.c -- metrics_render() alone: a snapshot with known values
 * gives exactly the Prometheus lines it should, and every family is
 * declared once with HELP and TYPE before its samples. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

static metrics_snapshot sample(void)
{
    metrics_snapshot m = {
        .instance = "a1", .version = "9.9", .store_backend = "redis",
        .store_instance = 7, .store_up = 1, .store_lost = 2, .store_latency_ms = 0.25,
    };
    m.net.conns_now = 3;
    m.net.conns_total = 11;
    m.net.refused_ip = 4;
    m.net.refused_origin = 5;
    m.net.bad_utf8 = 6;
    m.net.errors[PROTO_EBAD_JSON] = 10;
    m.gm.errors[PROTO_EBAD_JSON] = 5;      /* the two layers' counts add up */
    m.gm.moves = 42;
    m.gm.finished_by_result[GAME_RESULT_DRAW] = 8;
    return m;
}

static char *render(const metrics_snapshot *m)
{
    size_t len = 0;
    char *body = metrics_render(m, &len);
    cr_assert_not_null(body);
    cr_assert_eq(strlen(body), len, "len is the text's length");
    return body;
}

static void has_line(const char *body, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = body; (p = strstr(p, line)) != NULL; p++)
        if ((p == body || p[-1] == '\n') && p[n] == '\n')
            return;
    cr_assert_fail("missing line \"%s\" in:\n%s", line, body);
}

Test(metrics, known_values, .description = "a known snapshot renders exactly its values")
{
    metrics_snapshot m = sample();
    char *body = render(&m);
    has_line(body, "ttt_info{instance=\"a1\",version=\"9.9\",store=\"redis\",store_instance=\"7\"} 1");
    has_line(body, "ttt_connections 3");
    has_line(body, "ttt_connections_total 11");
    has_line(body, "ttt_refused_total{limit=\"connections_per_ip\"} 4");
    has_line(body, "ttt_refused_total{limit=\"origin\"} 5");
    has_line(body, "ttt_closed_bad_utf8_total 6");
    has_line(body, "ttt_moves_total 42");
    has_line(body, "ttt_games_finished_by_result_total{result=\"draw\"} 8");
    has_line(body, "ttt_errors_total{code=\"bad_json\"} 15");
    has_line(body, "ttt_errors_total{code=\"stale\"} 0");
    has_line(body, "ttt_store_up{backend=\"redis\"} 1");
    has_line(body, "ttt_store_data_lost_total 2");
    has_line(body, "ttt_store_latency_ms 0.250");
    free(body);
}

Test(metrics, families_declared, .description = "every sample's family has HELP and TYPE before it, once")
{
    metrics_snapshot m = sample();
    char *body = render(&m);
    cr_assert(body[strlen(body) - 1] == '\n', "the text ends with a newline");
    char *save = NULL, *copy = strdup(body);
    char seen[64][64];
    int nseen = 0;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[64];
        if (strncmp(line, "# TYPE ", 7) == 0) {
            cr_assert(sscanf(line + 7, "%63s", name) == 1);
            for (int i = 0; i < nseen; i++)
                cr_assert_str_neq(seen[i], name, "family %s declared twice", name);
            cr_assert_lt(nseen, 64);
            strcpy(seen[nseen++], name);
            continue;
        }
        if (line[0] == '#')
            continue;
        size_t n = strcspn(line, "{ ");
        cr_assert_lt(n, sizeof name);
        memcpy(name, line, n);
        name[n] = '\0';
        int found = 0;
        for (int i = 0; i < nseen; i++)
            found |= strcmp(seen[i], name) == 0;
        cr_assert(found, "sample %s comes before its # TYPE line", line);
    }
    cr_assert_gt(nseen, 20, "the families are all there (%d)", nseen);
    free(copy);
    free(body);
}
