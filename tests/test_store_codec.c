/* test_store_codec.c -- the record codec and the Redis URL parser, pure.
 * The harness is tests/support/tstore.h. */
#include "tstore.h"

/* ---- the record codec and the Redis URL parser (pure; issue 8 section 5) -------------- */

#include "redis_url.h"
#include "store_codec.h"

static store_game codec_sample(void)
{
    store_game g = mk_game(STORE_KIND_CREATE, 0, 123456789);
    g.id = 4242;
    g.version = 7;
    g.st.ply = 3;
    g.st.moves[0] = 4, g.st.moves[1] = 0, g.st.moves[2] = 8;
    g.st.board.x = (1 << 4) | (1 << 8), g.st.board.o = 1;
    g.st.line[0] = -1, g.st.line[1] = -1, g.st.line[2] = -1;
    g.seat[0].nholders = 2, g.seat[0].holders[0] = 3, g.seat[0].holders[1] = 0xfffffff0u;
    g.seat[1].away_ms = -5;
    g.level = GAME_AI_PERFECT;
    g.rematch[1] = 1;
    g.rematch_id = 4243;
    g.deadline_ms = INT64_MAX;
    /* format 2 */
    strcpy(g.name[0], "Ana \"the\" \xc3\xa9" "clair");
    strcpy(g.name[1], "\xf0\x9f\x98\x80 Ben");
    strcpy(g.rematch_name[1], "Benjamin");
    g.series[0] = 5, g.series[1] = 2, g.series[2] = 1, g.series[3] = 0xffffffffu;
    g.started_ms = 123456790;
    g.times[0] = 0, g.times[1] = 1500, g.times[2] = 1500;
    return g;
}

/* The fields format 2 added, compared (game_eq knows format 1's). */
static int v2_eq(const store_game *a, const store_game *b)
{
    return strcmp(a->name[0], b->name[0]) == 0 && strcmp(a->name[1], b->name[1]) == 0 &&
           strcmp(a->rematch_name[0], b->rematch_name[0]) == 0 &&
           strcmp(a->rematch_name[1], b->rematch_name[1]) == 0 &&
           memcmp(a->series, b->series, sizeof(a->series)) == 0 &&
           a->started_ms == b->started_ms && memcmp(a->times, b->times, sizeof(a->times)) == 0;
}

/* Bytes format 2 appends to format 1 for g. */
static size_t v2_tail(const store_game *g)
{
    return 4 + strlen(g->name[0]) + strlen(g->name[1]) + strlen(g->rematch_name[0]) +
           strlen(g->rematch_name[1]) + 16 + 8 + 4 * (size_t)g->st.ply;
}

Test(codec, roundtrip, .description = "rec_encode then rec_decode gives back every stored field")
{
    store_game g = codec_sample(), back;
    uint8_t buf[REC_MAX];
    size_t n = rec_encode(&g, g.id, g.version, g.kind, buf);
    cr_assert(n > 0 && n <= REC_MAX, "length %zu", n);
    cr_assert_eq(buf[0], 2, "format 2 is written");
    cr_assert_eq(rec_decode(buf, n, &back), 0);
    cr_assert(game_eq(&g, &back), "a field did not survive");
    cr_assert(v2_eq(&g, &back), "a format-2 field did not survive");
    /* at most 4 holders per seat are kept, as documented */
    g.seat[1].nholders = 9;
    n = rec_encode(&g, g.id, g.version, g.kind, buf);
    cr_assert_eq(rec_decode(buf, n, &back), 0);
    cr_assert_eq(back.seat[1].nholders, STORE_MAX_HOLDERS);
}

Test(codec, largest, .description = "the largest record (4 holders a seat, 96-byte names, "
     "9 times) fits REC_MAX and round-trips")
{
    store_game g = codec_sample(), back;
    uint8_t buf[REC_MAX];
    for (int i = 0; i < 2; i++) {
        g.seat[i].nholders = STORE_MAX_HOLDERS;
        memset(g.name[i], 'n', STORE_NAME_MAX);
        g.name[i][STORE_NAME_MAX] = '\0';
        memset(g.rematch_name[i], 'r', STORE_NAME_MAX);
        g.rematch_name[i][STORE_NAME_MAX] = '\0';
    }
    g.st.ply = 9;
    for (int i = 0; i < 9; i++)
        g.st.moves[i] = (uint8_t)i, g.times[i] = 1000u * (uint32_t)i;
    size_t n = rec_encode(&g, g.id, g.version, g.kind, buf);
    cr_assert_eq(n, 639, "largest record is %zu bytes", n);
    cr_assert_leq(n, REC_MAX);
    cr_assert_eq(rec_decode(buf, n, &back), 0);
    cr_assert(game_eq(&g, &back) && v2_eq(&g, &back));
}

Test(codec, format1_still_read, .description = "a format-1 record (what older processes wrote) "
     "decodes: its fields as written, names empty, series, start and times 0; cut short, refused")
{
    store_game g = codec_sample(), back;
    uint8_t buf[REC_MAX];
    size_t n = rec_encode(&g, g.id, g.version, g.kind, buf);
    /* format 1 is format 2's first part with first byte 1 (store_codec.h) */
    size_t n1 = n - v2_tail(&g);
    buf[0] = 1;
    cr_assert_eq(rec_decode(buf, n1, &back), 0, "a format-1 record of %zu bytes refused", n1);
    cr_assert(game_eq(&g, &back), "a format-1 field did not survive");
    store_game empty = {0};
    cr_assert(v2_eq(&empty, &back), "format-2 fields of a format-1 record are not empty");
    for (size_t k = 0; k < n1; k++)
        cr_assert_eq(rec_decode(buf, k, &back), -1, "%zu of %zu format-1 bytes accepted", k, n1);
    cr_assert_eq(rec_decode(buf, n1 + 1, &back), -1, "a format-1 record with a byte more accepted");
    /* and a format-2 record whose first byte says 1 is one with trailing bytes */
    cr_assert_eq(rec_decode(buf, n, &back), -1);
}

/* A record written by the format-1 encoder of the commit before format 2
 * (561cbe5), as an older process leaves it in Redis. */
static const uint8_t format1_record[] = {
    0x01, 0x92, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x01, 0x01, 0x00, 0x04, 0x00, 0x08,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x01, 0x00, 0x00, 0xff, 0xff,
    0xff, 0x01, 0x00, 0x02, 0x03, 0x00, 0x00, 0x00, 0xf0, 0xff, 0xff, 0xff,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04,
    0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
    0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c,
    0x1d, 0x1e, 0x1f, 0x20, 0x01, 0x00, 0x00, 0xfb, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x93, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x68, 0xe5, 0xcf, 0x8b, 0x01, 0x00, 0x00, 0xd2, 0x6c, 0xe5, 0xcf, 0x8b,
    0x01, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
};

Test(codec, format1_golden, .description = "a record the old (format-1) encoder wrote decodes "
     "field by field, and is re-written as format 2 with the same fields")
{
    store_game g, back;
    cr_assert_eq(sizeof format1_record, 167);
    cr_assert_eq(rec_decode(format1_record, sizeof format1_record, &g), 0);
    cr_assert(g.id == 4242 && g.version == 7 && g.kind == STORE_KIND_CREATE);
    cr_assert(g.st.ply == 3 && g.st.moves[0] == 4 && g.st.moves[1] == 0 && g.st.moves[2] == 8);
    cr_assert(g.st.board.x == ((1 << 4) | (1 << 8)) && g.st.board.o == 1);
    cr_assert(g.st.status == GAME_PLAYING && g.st.line[0] == -1);
    cr_assert(g.seat[0].taken && g.seat[0].nholders == 2 && g.seat[0].holders[1] == 0xfffffff0u);
    cr_assert(g.seat[0].token_hash[0] == 1 && g.seat[0].token_hash[31] == 32);
    cr_assert(g.seat[1].taken && g.seat[1].away_ms == -5);
    cr_assert(g.rematch[1] == 1 && g.rematch_id == 4243 && g.level == GAME_AI_PERFECT);
    cr_assert(g.created_ms == 1700000000000 && g.updated_ms == 1700000001234 &&
              g.deadline_ms == INT64_MAX);
    cr_assert(!g.name[0][0] && !g.name[1][0] && !g.started_ms && !g.series[0] && !g.times[0]);
    uint8_t buf[REC_MAX];
    size_t n = rec_encode(&g, g.id, g.version, g.kind, buf);
    cr_assert_eq(buf[0], REC_FORMAT);
    cr_assert_eq(memcmp(buf + 1, format1_record + 1, sizeof format1_record - 1), 0,
                 "format 2 begins with the format-1 fields");
    cr_assert_eq(rec_decode(buf, n, &back), 0);
    cr_assert(game_eq(&g, &back));
}

Test(codec, truncated_and_long, .description = "every truncation of a record, and one byte more, is refused")
{
    store_game g = codec_sample(), back;
    uint8_t buf[REC_MAX + 1];
    size_t n = rec_encode(&g, g.id, g.version, g.kind, buf);
    for (size_t k = 0; k < n; k++) {
        /* a heap copy of exactly k bytes, so ASan sees any read past it */
        uint8_t *cut = malloc(k ? k : 1);
        memcpy(cut, buf, k);
        cr_assert_eq(rec_decode(cut, k, &back), -1, "%zu of %zu bytes accepted", k, n);
        free(cut);
    }
    buf[n] = 0;
    cr_assert_eq(rec_decode(buf, n + 1, &back), -1, "a trailing byte was accepted");
    cr_assert_eq(rec_decode(NULL, 0, &back), -1);
}

Test(codec, hostile_values, .description = "format, nholders, ply, cells, status, marks and flags out of range are refused")
{
    store_game g = codec_sample(), back;
    uint8_t buf[REC_MAX];
    size_t n = rec_encode(&g, g.id, g.version, g.kind, buf);
    /* offsets in format 1: 0 format, 1 id, 9 version, 17 x, 19 o, 21 moves,
     * 30 ply, 31 status, 32 result, 33 winner, 34 line, 37 seat X */
    struct { size_t off; uint8_t v; const char *what; } bad[] = {
        {0, 3, "format 3"}, {0, 0, "format 0"}, {30, 10, "ply 10"}, {21, 9, "move cell 9"}, {31, 3, "status 3"},
        {32, 5, "result 5"}, {33, 3, "winner 3"}, {34, 9, "line cell 9"}, {18, 0x02, "x mask > 9 bits"},
        {37, 2, "taken 2"}, {39, 5, "nholders 5"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t copy[REC_MAX];
        memcpy(copy, buf, n);
        copy[bad[i].off] = bad[i].v;
        cr_assert_eq(rec_decode(copy, n, &back), -1, "%s accepted", bad[i].what);
    }
    /* format 2's fields: a name too long, a NUL in a name, times decreasing */
    size_t name0 = n - v2_tail(&g);   /* the length byte of X's name */
    uint8_t copy[REC_MAX];
    memcpy(copy, buf, n);
    copy[name0] = STORE_NAME_MAX + 1;
    cr_assert_eq(rec_decode(copy, n, &back), -1, "a 97-byte name accepted");
    memcpy(copy, buf, n);
    copy[name0 + 2] = 0;
    cr_assert_eq(rec_decode(copy, n, &back), -1, "a NUL inside a name accepted");
    store_game d = g;
    d.times[2] = 1499;
    n = rec_encode(&d, d.id, d.version, d.kind, copy);
    cr_assert_eq(rec_decode(copy, n, &back), -1, "decreasing times accepted");
    uint8_t zero_id[REC_MAX];
    n = rec_encode(&g, 0, g.version, g.kind, zero_id);
    cr_assert_eq(rec_decode(zero_id, n, &back), -1, "id 0 accepted");
}

Test(url, parse_forms, .description = "redis_url_parse: every documented form, percent-decoding, defaults")
{
    redis_url u;
    char err[160];
    cr_assert_eq(redis_url_parse(&u, "redis://127.0.0.1", err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(u.host, "127.0.0.1");
    cr_assert(u.port == 6379 && u.db == 0 && u.numeric_host && !u.pass && !u.user);
    redis_url_free(&u);
    cr_assert_eq(redis_url_parse(&u, "redis://al%69ce:p%40ss%zz@cache.local:7000/12", err, sizeof err), 0);
    cr_assert_str_eq(u.user, "alice");
    cr_assert_str_eq(u.pass, "p@ss%zz");
    cr_assert_str_eq(u.host, "cache.local");
    cr_assert(u.port == 7000 && u.db == 12 && !u.numeric_host);
    redis_url_free(&u);
    cr_assert_eq(redis_url_parse(&u, "redis://:secret@[::1]:6380/", err, sizeof err), 0);
    cr_assert(!u.user && u.pass && strcmp(u.pass, "secret") == 0);
    cr_assert_str_eq(u.host, "::1");
    cr_assert(u.port == 6380 && u.numeric_host);
    redis_url_free(&u);
    cr_assert_eq(redis_url_parse(&u, "redis://:@h:1", err, sizeof err), 0);
    cr_assert_null(u.pass, "an empty password counts as none");
    redis_url_free(&u);
    cr_assert_eq(redis_url_parse(&u, "unix:///run/redis.sock", err, sizeof err), 0);
    cr_assert_str_eq(u.unix_path, "/run/redis.sock");
    redis_url_free(&u);
}

Test(url, parse_refused, .description = "redis_url_parse refuses malformed URLs with a reason and leaves nothing allocated")
{
    const char *bad[] = {"http://x:1", "redis://", "redis://host:0", "redis://host:99999",
                         "redis://host:12x", "redis://host:1/db", "unix:", "rediss://h:1",
                         "redis://h:", "redis://[::1", "redis://h:1/1000001", "redis://a b:1",
                         "redis://u:p@", "redis://h:1/-1", NULL};
    for (size_t i = 0; bad[i]; i++) {
        redis_url u;
        char err[160] = "";
        cr_assert_eq(redis_url_parse(&u, bad[i], err, sizeof err), -1, "%s accepted", bad[i]);
        cr_assert(err[0], "%s: no reason", bad[i]);
        cr_assert(!u.host && !u.pass && !u.user && !u.unix_path);
    }
    redis_url u;
    cr_assert_eq(redis_url_parse(&u, NULL, NULL, 0), -1);
}

