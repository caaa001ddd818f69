/* test_proto_names.c -- the protocol module's side of "Version 1, additions"
 * (docs/protocol.md): the name rule on create, join, quick and rematch,
 * and the names, series and times a state carries, the names of the games
 * list, both directions. Compiled into the test_proto binary. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* parse a NUL-terminated request */
static proto_err req_of(const char *text, proto_req *r)
{
    return proto_parse(text, strlen(text), r);
}

/* {"type":T,"name":NAME}, NAME being JSON text as given */
static proto_err named(const char *type, const char *name_json, proto_req *r)
{
    char buf[1024];
    const char *gid = strcmp(type, "create") && strcmp(type, "quick") ? ",\"game_id\":100" : "";
    snprintf(buf, sizeof buf, "{\"type\":\"%s\"%s,\"id\":7,\"name\":%s}", type, gid, name_json);
    return req_of(buf, r);
}

static char *repeat(const char *unit, int n)
{
    size_t u = strlen(unit);
    char *s = malloc(u * (size_t)n + 3);
    s[0] = '"';
    for (int i = 0; i < n; i++)
        memcpy(s + 1 + u * (size_t)i, unit, u);
    strcpy(s + 1 + u * (size_t)n, "\"");
    return s;
}

TestSuite(names);

Test(names, every_seat_request, .description = "create, join, quick and rematch take a name; "
     "without one the name is empty; other types ignore it")
{
    const char *types[] = {"create", "join", "quick", "rematch"};
    proto_req r;
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(named(types[i], "\"Ana\"", &r), PROTO_OK, "%s", types[i]);
        cr_assert_str_eq(r.name, "Ana", "%s", types[i]);
    }
    cr_assert_eq(req_of("{\"type\":\"join\",\"game_id\":5}", &r), PROTO_OK);
    cr_assert_str_eq(r.name, "");
    /* a type that takes no name ignores it, as any unknown field */
    cr_assert_eq(req_of("{\"type\":\"move\",\"game_id\":5,\"cell\":1,\"name\":7}", &r), PROTO_OK);
    cr_assert_str_eq(r.name, "");
}

Test(names, length_in_code_points, .description = "24 code points fit whatever their bytes "
     "(ASCII, 2-, 3- and 4-byte UTF-8); 25 are bad_message")
{
    const char *units[] = {"a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\\u00e9",
                           "\\ud83d\\ude00"};
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        proto_req r;
        char *ok = repeat(units[u], 24), *bad = repeat(units[u], 25);
        cr_assert_eq(named("create", ok, &r), PROTO_OK, "24 x %s refused", units[u]);
        cr_assert_eq(strlen(r.name) % 24, 0);
        cr_assert_leq(strlen(r.name), PROTO_NAME_MAX);
        cr_assert_eq(named("create", bad, &r), PROTO_EBAD_MESSAGE, "25 x %s accepted", units[u]);
        cr_assert_eq(r.id.kind, PROTO_ID_INT, "the error reply can carry the id");
        cr_assert_eq(r.id.num, 7);
        free(ok);
        free(bad);
    }
    /* 24 after trimming is fine: the spaces do not count */
    proto_req r;
    char buf[64] = "\"  ";
    memset(buf + 3, 'b', 24);
    strcpy(buf + 27, "  \"");
    cr_assert_eq(named("join", buf, &r), PROTO_OK, "%s", buf);
    cr_assert_eq(strlen(r.name), 24);
}

Test(names, control_characters, .description = "a control character anywhere (U+0000, U+001F, "
     "tab inside, U+007F, U+0085, U+009F) is bad_message, even at the end")
{
    const char *bad[] = {"\"A\\u0000B\"", "\"\\u0000\"", "\"A\\u001fB\"", "\"A\\tB\"",
                         "\"A\\u007f\"", "\"A\\u0085\"", "\"\\u0085A\"", "\"A\\u0085B\"",
                         "\"A\\u009fB\"", "\"\\u0080\"", "\"A\\nB\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        proto_req r;
        cr_assert_eq(named("quick", bad[i], &r), PROTO_EBAD_MESSAGE, "%s accepted", bad[i]);
        cr_assert_str_eq(r.name, "", "a refused name is not kept");
    }
    /* U+00A0 is white space, not a control character: fine inside */
    proto_req r;
    cr_assert_eq(named("quick", "\"A\\u00a0B\"", &r), PROTO_OK);
    cr_assert_str_eq(r.name, "A\xc2\xa0" "B");
}

Test(names, not_a_string, .description = "a name that is a number, null, true, an array or an "
     "object is bad_message")
{
    const char *bad[] = {"5", "null", "true", "[\"Ana\"]", "{\"n\":\"Ana\"}", "1.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        proto_req r;
        cr_assert_eq(named("rematch", bad[i], &r), PROTO_EBAD_MESSAGE, "%s accepted", bad[i]);
    }
}

Test(names, trimmed, .description = "leading and trailing white space is trimmed (space, tab, "
     "newline, U+00A0, U+3000, U+FEFF); what is blank after that is no name")
{
    struct { const char *in, *out; } cases[] = {
        {"\"  Ana Lu  \"", "Ana Lu"}, {"\"\\tAna\\n\"", "Ana"},
        {"\"\\u00a0\\u3000Ana\\ufeff\"", "Ana"}, {"\"\"", ""}, {"\"   \"", ""},
        {"\"\\t\\r\\n\\u2028\\u00a0\"", ""}, {"\" <b>&amp;\\\"x\\\\ \"", "<b>&amp;\"x\\"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        proto_req r;
        cr_assert_eq(named("create", cases[i].in, &r), PROTO_OK, "%s refused", cases[i].in);
        cr_assert_str_eq(r.name, cases[i].out, "%s", cases[i].in);
    }
}

Test(names, rule_on_raw_bytes, .description = "proto_name_norm / proto_name_valid on bytes as a "
     "store may hand them back: bad UTF-8, overlong, surrogate, untrimmed")
{
    char out[PROTO_NAME_MAX + 1];
    const char *bad[] = {"\xff", "A\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                         "\xe2\x82"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(proto_name_norm(bad[i], strlen(bad[i]), out), -1, "bad UTF-8 %zu accepted", i);
        cr_assert_not(proto_name_valid(bad[i]));
    }
    cr_assert(proto_name_valid("Ana"));
    cr_assert_not(proto_name_valid(" Ana"), "an untrimmed name is not one as stored");
    cr_assert_not(proto_name_valid(""));
    cr_assert_not(proto_name_valid(NULL));
    cr_assert_eq(proto_name_norm("Ana", 3, out), 1);
    cr_assert_str_eq(proto_computer_name(GAME_AI_EASY), "Computer (easy)");
    cr_assert_str_eq(proto_computer_name(GAME_AI_PERFECT), "Computer (perfect)");
}

/* ---- the state's additions --------------------------------------------------------- */

static game_state three_moves(void)
{
    game_state st;
    memset(&st, 0, sizeof st);
    st.status = GAME_PLAYING;
    st.ply = 3;
    st.moves[0] = 0, st.moves[1] = 4, st.moves[2] = 8;
    st.board.x = 1 | 1 << 8, st.board.o = 1 << 4;
    st.line[0] = st.line[1] = st.line[2] = -1;
    return st;
}

Test(names, state_exact, .description = "exact text of a state with names (one escaped, one "
     "null), series and times")
{
    game_state st = three_moves();
    uint32_t times[3] = {0, 1200, 4000000000u};
    proto_state ps = {.game_id = 100, .st = &st, .seat = {PROTO_SEAT_CONNECTED, PROTO_SEAT_AWAY}};
    proto_state_more more = {{"A\"n\\a", NULL}, {3, 1, 2, 0}, times};
    size_t len = 0;
    char *b = proto_encode_state_full(&ps, &more, 0, &len);
    cr_assert_not_null(b);
    cr_assert_str_eq(b,
        "{\"type\":\"state\",\"game_id\":100,\"board\":\"X...O...X\",\"moves\":[0,4,8],"
        "\"ply\":3,\"turn\":\"O\",\"status\":\"playing\",\"result\":null,\"winner\":null,"
        "\"line\":null,\"players\":{\"X\":\"connected\",\"O\":\"away\"},"
        "\"names\":{\"X\":\"A\\\"n\\\\a\",\"O\":null},"
        "\"series\":{\"games\":3,\"X\":1,\"O\":2,\"draws\":0},\"times\":[0,1200,4000000000]}");
    cr_assert_eq(len, strlen(b));
    free(b);
    /* no additions: the version-1 text, unchanged */
    b = proto_encode_state_full(&ps, NULL, 0, &len);
    cr_assert_null(strstr(b, "names"));
    free(b);
}

Test(names, state_hostile_names, .description = "a stored name that breaks the rule (control "
     "character, too long, bad UTF-8, untrimmed, empty) goes out as null")
{
    game_state st = three_moves();
    proto_state ps = {.game_id = 100, .st = &st, .seat = {1, 1}};
    char long_name[PROTO_NAME_MAX + 1];
    memset(long_name, 'x', 25);
    long_name[25] = '\0';
    const char *bad[] = {"A\x01", long_name, "\xff", " A", "", "A\xc2\x85"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        proto_state_more more = {{bad[i], "Ok"}, {0}, NULL};
        size_t len;
        char *b = proto_encode_state_full(&ps, &more, 0, &len);
        cr_assert_not_null(strstr(b, "\"names\":{\"X\":null,\"O\":\"Ok\"}"), "%zu: %s", i, b);
        cr_assert_not_null(strstr(b, "\"times\":[0,0,0]"), "no times given: zeros");
        free(b);
    }
}

Test(names, state_roundtrip_largest, .description = "the largest state (96-byte names, 24 quotes, "
     "big counts, nine big times) fits and parses back field by field")
{
    game_state st;
    memset(&st, 0, sizeof st);
    static const int draw[] = {0, 4, 8, 1, 7, 6, 2, 5, 3};
    for (int i = 0; i < 9; i++) {
        st.moves[i] = (uint8_t)draw[i];
        if (i % 2)
            st.board.o |= (uint16_t)(1 << draw[i]);
        else
            st.board.x |= (uint16_t)(1 << draw[i]);
    }
    st.ply = 9, st.status = GAME_OVER, st.result = GAME_RESULT_ABANDON, st.winner = GAME_O;
    st.line[0] = st.line[1] = st.line[2] = -1;
    char emoji[PROTO_NAME_MAX + 1] = "", quotes[25];
    for (int i = 0; i < 24; i++)
        strcat(emoji, "\xf0\x9f\x98\x80");
    memset(quotes, '"', 24);
    quotes[24] = '\0';
    uint32_t times[9];
    for (int i = 0; i < 9; i++)
        times[i] = 4294967290u + (uint32_t)(i / 2);
    proto_state ps = {.game_id = INT64_MAX, .st = &st, .seat = {PROTO_SEAT_AWAY, PROTO_SEAT_AWAY}};
    proto_state_more more = {{emoji, quotes}, {UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX}, times};
    size_t len;
    char *b = proto_encode_state_full(&ps, &more, 16, &len);
    cr_assert_not_null(b);
    proto_server_msg m;
    cr_assert_eq(proto_parse_server(b + 16, len, &m), PROTO_OK, "%s", b + 16);
    cr_assert(m.has_names && m.has_series && m.has_times);
    cr_assert_str_eq(m.names[0], emoji);
    cr_assert_str_eq(m.names[1], quotes);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(m.series[i], UINT32_MAX);
    cr_assert_eq(memcmp(m.times, times, sizeof times), 0);
    free(b);
}

Test(names, state_to_buffer, .description = "proto_encode_state_to writes the same text into "
     "the caller's buffer, the largest state fits PROTO_STATE_MAX, a smaller buffer is refused")
{
    game_state st = three_moves();
    char quotes[25];
    memset(quotes, '"', 24);
    quotes[24] = '\0';
    uint32_t times[3] = {4294967295u, 4294967295u, 4294967295u};
    proto_state ps = {.game_id = INT64_MIN, .st = &st, .seat = {PROTO_SEAT_AWAY, PROTO_SEAT_AWAY}};
    proto_state_more more = {{quotes, quotes}, {UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX},
                             times};
    size_t len;
    char *b = proto_encode_state_full(&ps, &more, 0, &len);
    cr_assert_not_null(b);
    char buf[PROTO_STATE_MAX + 1];
    memset(buf, '#', sizeof buf);
    cr_assert_eq(proto_encode_state_to(&ps, &more, buf, PROTO_STATE_MAX), len);
    cr_assert_str_eq(buf, b, "the same bytes, NUL-terminated");
    cr_assert_eq(buf[PROTO_STATE_MAX], '#', "nothing past cap");
    cr_assert_eq(proto_encode_state_to(&ps, &more, buf, PROTO_STATE_MAX - 1), 0,
                 "a buffer under PROTO_STATE_MAX is refused, whatever the state's length");
    st.status = 3;
    cr_assert_eq(proto_encode_state_to(&ps, &more, buf, sizeof buf), 0, "a bad state is refused");
    free(b);
}

Test(names, parse_server_refuses, .description = "a client refuses malformed additions: times "
     "decreasing or not parallel to moves, a name not a string, a negative count")
{
    const char *base = "{\"type\":\"state\",\"game_id\":100,\"board\":\"X...O....\",\"moves\":[0,4],"
                       "\"ply\":2,\"turn\":\"X\",\"status\":\"playing\",\"result\":null,"
                       "\"winner\":null,\"line\":null,\"players\":{\"X\":\"connected\","
                       "\"O\":\"connected\"}";
    const char *bad[] = {",\"times\":[5,4]}", ",\"times\":[1]}", ",\"times\":[1,-1]}",
                         ",\"names\":{\"X\":5,\"O\":null}}", ",\"names\":{\"X\":\" A\",\"O\":null}}",
                         ",\"names\":[]}", ",\"series\":{\"games\":-1,\"X\":0,\"O\":0,\"draws\":0}}",
                         ",\"series\":{\"games\":1,\"X\":0,\"O\":0}}"};
    char buf[1024];
    proto_server_msg m;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(buf, sizeof buf, "%s%s", base, bad[i]);
        cr_assert_eq(proto_parse_server(buf, strlen(buf), &m), PROTO_EBAD_MESSAGE, "%s", bad[i]);
    }
    snprintf(buf, sizeof buf, "%s}", base);
    cr_assert_eq(proto_parse_server(buf, strlen(buf), &m), PROTO_OK, "additions are optional");
    cr_assert(!m.has_names && !m.has_series && !m.has_times);
}

Test(names, games_named, .description = "games entries carry the creator's name or null, and "
     "parse back")
{
    proto_game_entry g[3] = {{100, 0}, {101, 7}, {102, 14}};
    const char *names[3] = {"Ana", NULL, "B\x01"};
    proto_id id = {.kind = PROTO_ID_INT, .num = 3};
    size_t len;
    char *b = proto_encode_games_named(&id, g, names, 3, 0, &len);
    cr_assert_str_eq(b, "{\"type\":\"games\",\"games\":[{\"game_id\":100,\"age_s\":0,\"name\":\"Ana\"},"
                        "{\"game_id\":101,\"age_s\":7,\"name\":null},"
                        "{\"game_id\":102,\"age_s\":14,\"name\":null}],\"id\":3}");
    proto_server_msg m;
    cr_assert_eq(proto_parse_server(b, len, &m), PROTO_OK);
    cr_assert_str_eq(m.game_names[0], "Ana");
    cr_assert_str_eq(m.game_names[1], "");
    free(b);
}

Test(names, request_roundtrip, .description = "proto_encode_request writes the name, which "
     "parses back; no name, no member")
{
    proto_req r = {.type = PROTO_REMATCH, .game_id = 104, .ply = -1};
    strcpy(r.name, "Zo\xc3\xab");
    size_t len;
    char *b = proto_encode_request(&r, 0, &len);
    cr_assert_not_null(strstr(b, "\"name\":\"Zo\xc3\xab\""), "%s", b);
    proto_req back;
    cr_assert_eq(proto_parse(b, len, &back), PROTO_OK);
    cr_assert_str_eq(back.name, r.name);
    free(b);
    r.name[0] = '\0';
    b = proto_encode_request(&r, 0, &len);
    cr_assert_null(strstr(b, "name"));
    free(b);
}
