/* test_proto_encode.c -- the protocol module's server messages: every one
 * round-trips through encode and parse_server, the exact text of the hot
 * "state" encoding, the client-side request encoder, and the spelling of
 * error and type names. Shares test_proto.h with test_proto.c. */
#include "test_proto.h"

#include <jansson.h>

/* ---- encoders ------------------------------------------------------------ */

Test(encode, state_exact, .description = "exact text of a playing state (turn O after 3 moves)") {
    static const int mv[] = { 0, 4, 8 };
    game_state st = mkstate(mv, 3, GAME_PLAYING, GAME_RESULT_NONE, GAME_NONE, -1, -1, -1);
    proto_state ps = { .game_id = 100, .st = &st, .seat = { PROTO_SEAT_CONNECTED, PROTO_SEAT_AWAY } };
    size_t len = 0;
    char *block = proto_encode_state(&ps, 16, &len);
    const char *want = "{\"type\":\"state\",\"game_id\":100,\"board\":\"X...O...X\",\"moves\":[0,4,8],"
                       "\"ply\":3,\"turn\":\"O\",\"status\":\"playing\",\"result\":null,\"winner\":null,"
                       "\"line\":null,\"players\":{\"X\":\"connected\",\"O\":\"away\"}}";

    cr_assert_str_eq(text_of(block, 16, len), want);
    cr_assert_eq(len, strlen(want));
    free(block);
}

Test(encode, state_exact_waiting_and_win, .description = "waiting state (turn null, O open) and a won game with its line") {
    static const int win[] = { 0, 3, 1, 4, 2 };
    game_state w = mkstate(NULL, 0, GAME_WAITING, GAME_RESULT_NONE, GAME_NONE, -1, -1, -1);
    game_state o = mkstate(win, 5, GAME_OVER, GAME_RESULT_WIN, GAME_X, 0, 1, 2);
    proto_state ps = { .game_id = 9223372036854775807LL, .st = &w,
                       .seat = { PROTO_SEAT_CONNECTED, PROTO_SEAT_OPEN } };
    size_t len;
    char *block = proto_encode_state(&ps, 0, &len);

    cr_assert_str_eq(text_of(block, 0, len),
        "{\"type\":\"state\",\"game_id\":9223372036854775807,\"board\":\".........\",\"moves\":[],"
        "\"ply\":0,\"turn\":null,\"status\":\"waiting\",\"result\":null,\"winner\":null,"
        "\"line\":null,\"players\":{\"X\":\"connected\",\"O\":\"open\"}}");
    free(block);
    ps.st = &o;
    ps.game_id = 101;
    ps.seat[1] = PROTO_SEAT_CONNECTED;
    block = proto_encode_state(&ps, 0, &len);
    cr_assert_str_eq(text_of(block, 0, len),
        "{\"type\":\"state\",\"game_id\":101,\"board\":\"XXXOO....\",\"moves\":[0,3,1,4,2],"
        "\"ply\":5,\"turn\":null,\"status\":\"over\",\"result\":\"win\",\"winner\":\"X\","
        "\"line\":[0,1,2],\"players\":{\"X\":\"connected\",\"O\":\"connected\"}}");
    free(block);
}

Test(encode, state_refuses_garbage, .description = "a state with out-of-range enums encodes to NULL, not bad JSON") {
    game_state st = mkstate(NULL, 0, GAME_PLAYING, GAME_RESULT_NONE, GAME_NONE, -1, -1, -1);
    proto_state ps = { .game_id = 1, .st = &st, .seat = { 0, 0 } };
    size_t len;

    st.status = 3;
    cr_assert_null(proto_encode_state(&ps, 0, &len));
    st.status = GAME_PLAYING;
    st.ply = 10;
    cr_assert_null(proto_encode_state(&ps, 0, &len));
    st.ply = 0;
    ps.seat[1] = 3;
    cr_assert_null(proto_encode_state(&ps, 0, &len));
    ps.st = NULL;
    cr_assert_null(proto_encode_state(&ps, 0, &len));
}

Test(encode, state_roundtrip, .description = "every shape of state survives encode -> parse_server -> encode") {
    static const int draw[] = { 0, 4, 8, 1, 7, 6, 2, 5, 3 };
    static const int some[] = { 4, 0 };
    game_state cases[] = {
        mkstate(draw, 9, GAME_OVER, GAME_RESULT_DRAW, GAME_NONE, -1, -1, -1),
        mkstate(some, 2, GAME_PLAYING, GAME_RESULT_NONE, GAME_NONE, -1, -1, -1),
        mkstate(some, 2, GAME_OVER, GAME_RESULT_RESIGN, GAME_O, -1, -1, -1),
        mkstate(some, 2, GAME_OVER, GAME_RESULT_ABANDON, GAME_X, -1, -1, -1),
        mkstate(NULL, 0, GAME_OVER, GAME_RESULT_ABANDON, GAME_NONE, -1, -1, -1),
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        proto_state ps = { .game_id = 100 + (int64_t)i, .st = &cases[i],
                           .seat = { (uint8_t)(i % 3), (uint8_t)((i + 1) % 3) } };
        proto_server_msg m;
        proto_state again;
        size_t len, len2;
        char *a = proto_encode_state(&ps, 4, &len), *b;

        cr_assert_not_null(a);
        cr_assert_eq(parse_server_n(a + 4, len, &m), PROTO_OK, "%s", a + 4);
        cr_assert_eq(m.type, PROTO_S_STATE);
        cr_assert_eq(m.game_id, ps.game_id);
        cr_assert_eq(m.st.board.x, cases[i].board.x);
        cr_assert_eq(m.st.board.o, cases[i].board.o);
        cr_assert_eq(m.st.ply, cases[i].ply);
        cr_assert_eq(memcmp(m.st.moves, cases[i].moves, cases[i].ply), 0);
        cr_assert_eq(m.st.status, cases[i].status);
        cr_assert_eq(m.st.result, cases[i].result);
        cr_assert_eq(m.st.winner, cases[i].winner);
        cr_assert_eq(m.st.line[0], -1);
        cr_assert_eq(m.seat[0], ps.seat[0]);
        cr_assert_eq(m.seat[1], ps.seat[1]);
        cr_assert_eq(m.turn, cases[i].status == GAME_PLAYING
                             ? (cases[i].ply % 2 ? GAME_O : GAME_X) : GAME_NONE);
        again.game_id = m.game_id;
        again.st = &m.st;
        again.seat[0] = m.seat[0];
        again.seat[1] = m.seat[1];
        b = proto_encode_state(&again, 0, &len2);
        cr_assert_not_null(b);
        cr_assert_str_eq(b, a + 4);
        free(a);
        free(b);
    }
}

/* What the jansson path writes (the encoders before the hand-written short
 * replies): the reference for encode/short_by_hand. */
static char *ref_dump(json_t *o, const proto_id *id) {
    if (id && id->kind == PROTO_ID_INT)
        json_object_set_new(o, "id", json_integer(id->num));
    else if (id && id->kind == PROTO_ID_STRING)
        json_object_set_new(o, "id", json_stringn(id->str, id->len));
    char *t = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    cr_assert_not_null(t);
    return t;
}

/* len by pointer: it is read once the encoder in the same call has set it */
static void same_text(char *block, size_t headroom, const size_t *len, char *want,
                      const char *what) {
    cr_assert_not_null(block, "%s: encoded", what);
    cr_assert_str_eq(block + headroom, want, "%s", what);
    cr_assert_eq(*len, strlen(want), "%s: length", what);
    free(block);
    free(want);
}

Test(encode, short_by_hand, .description = "joined, watching, rematch_offer and pong written by "
     "hand are byte for byte what jansson writes, for every kind of id, extreme numbers, a "
     "token that needs escaping") {
    proto_id ids[8] = { { .kind = PROTO_ID_NONE }, { .kind = PROTO_ID_INT, .num = 0 },
                        { .kind = PROTO_ID_INT, .num = 7 }, { .kind = PROTO_ID_INT, .num = -1 },
                        { .kind = PROTO_ID_INT, .num = INT64_MIN },
                        { .kind = PROTO_ID_INT, .num = INT64_MAX },
                        { .kind = PROTO_ID_STRING, .len = 3, .str = "a\"b" },
                        { .kind = PROTO_ID_STRING, .len = 2, .str = "\x01z" } };
    const int64_t games[] = { 100, 0, -5, INT64_MIN, INT64_MAX };
    char longest[65];
    memset(longest, 'Z', 64);
    longest[64] = '\0';
    const char *tokens[] = { "0123456789abcdef0123456789abcdef", longest, "a-b_C", "q\"t",
                             "ab\\", "" };
    char what[96];

    for (size_t i = 0; i <= sizeof ids / sizeof ids[0]; i++) {
        const proto_id *id = i < sizeof ids / sizeof ids[0] ? &ids[i] : NULL;
        for (size_t g = 0; g < sizeof games / sizeof games[0]; g++) {
            size_t len, h = (i + g) % 3 * 16;
            for (size_t t = 0; t < sizeof tokens / sizeof tokens[0]; t++)
                for (game_mark m = GAME_X; m <= GAME_O; m++) {
                    snprintf(what, sizeof what, "joined id %zu game %zu token %zu mark %d", i, g, t, m);
                    same_text(proto_encode_joined(id, games[g], m, tokens[t], h, &len), h, &len,
                              ref_dump(json_pack("{sssIssss}", "type", "joined", "game_id",
                                                 (json_int_t)games[g], "mark", m == GAME_X ? "X" : "O",
                                                 "token", tokens[t]), id), what);
                }
            snprintf(what, sizeof what, "watching id %zu game %zu", i, g);
            same_text(proto_encode_watching(id, games[g], h, &len), h, &len,
                      ref_dump(json_pack("{sssI}", "type", "watching", "game_id",
                                         (json_int_t)games[g]), id), what);
            snprintf(what, sizeof what, "rematch_offer game %zu", g);
            same_text(proto_encode_rematch_offer(games[g], h, &len), h, &len,
                      ref_dump(json_pack("{sssI}", "type", "rematch_offer", "game_id",
                                         (json_int_t)games[g]), NULL), what);
        }
        size_t len;
        snprintf(what, sizeof what, "pong id %zu", i);
        same_text(proto_encode_pong(id, 8, &len), 8, &len,
                  ref_dump(json_pack("{ss}", "type", "pong"), id), what);
    }
}

Test(encode, error_exact, .description = "exact text of an error with the default message and an integer id") {
    proto_id id = { .kind = PROTO_ID_INT, .num = 7 };
    size_t len;
    char *block = proto_encode_error(&id, PROTO_ENOT_YOUR_TURN, NULL, 8, &len);

    cr_assert_str_eq(text_of(block, 8, len),
        "{\"type\":\"error\",\"code\":\"not_your_turn\",\"message\":\"it is not your turn\",\"id\":7}");
    free(block);
    block = proto_encode_error(NULL, PROTO_ECELL_TAKEN, NULL, 0, &len);
    cr_assert_str_eq(text_of(block, 0, len),
        "{\"type\":\"error\",\"code\":\"cell_taken\",\"message\":\"that cell is taken\"}");
    free(block);
    cr_assert_null(proto_encode_error(NULL, PROTO_OK, NULL, 0, &len));
    cr_assert_null(proto_encode_error(NULL, PROTO_ERR_COUNT, NULL, 0, &len));
}

Test(encode, error_every_code, .description = "every error code round-trips, with a distinct non-empty default message") {
    const char *seen[PROTO_ERR_COUNT] = { 0 };
    int c, k;

    for (c = PROTO_EBAD_JSON; c < PROTO_ERR_COUNT; c++) {
        proto_id id = { .kind = PROTO_ID_STRING, .len = 2, .str = "e1" };
        proto_server_msg m;
        size_t len;
        char *block = proto_encode_error(&id, (proto_err)c, NULL, 0, &len);
        const char *msg;

        cr_assert_not_null(block, "code %d", c);
        cr_assert_eq(parse_server_n(block, len, &m), PROTO_OK, "%s", block);
        cr_assert_eq(m.type, PROTO_S_ERROR);
        cr_assert_eq((int)m.code, c);
        cr_assert_eq(m.id.kind, PROTO_ID_STRING);
        cr_assert_str_eq(m.id.str, "e1");
        cr_assert(strstr(block, proto_err_name((proto_err)c)) != NULL);
        msg = strstr(block, "\"message\":\"");
        cr_assert_not_null(msg);
        msg += strlen("\"message\":\"");
        cr_assert_neq(*msg, '"', "empty message for %s", proto_err_name((proto_err)c));
        seen[c] = strdup(msg);
        for (k = PROTO_EBAD_JSON; k < c; k++)
            cr_assert_str_neq(seen[k], seen[c], "same message for two codes");
        free(block);
    }
    for (c = PROTO_EBAD_JSON; c < PROTO_ERR_COUNT; c++)
        free((void *)seen[c]);
}

Test(encode, error_custom_message_escaped, .description = "a caller's message is escaped: quotes, backslash, newline, UTF-8") {
    size_t len;
    char *block = proto_encode_error(NULL, PROTO_EUNAVAILABLE, "say \"hi\"\\\n\xc3\xa9", 0, &len);

    cr_assert_str_eq(text_of(block, 0, len),
        "{\"type\":\"error\",\"code\":\"unavailable\",\"message\":\"say \\\"hi\\\"\\\\\\n\xc3\xa9\"}");
    free(block);
}

Test(encode, id_escaping, .description = "ids with quotes, backslash and control characters are escaped and round-trip") {
    proto_id id = { .kind = PROTO_ID_STRING };
    static const char raw[] = "q\"b\\c\x01\x1f\n\t/\0z";
    proto_server_msg m;
    size_t len;
    char *block;

    memcpy(id.str, raw, sizeof(raw));
    id.len = sizeof(raw) - 1;
    block = proto_encode_pong(&id, 0, &len);
    cr_assert_str_eq(text_of(block, 0, len),
        "{\"type\":\"pong\",\"id\":\"q\\\"b\\\\c\\u0001\\u001F\\n\\t/\\u0000z\"}");
    cr_assert_eq(parse_server_n(block, len, &m), PROTO_OK);
    cr_assert_eq(m.type, PROTO_S_PONG);
    cr_assert_eq(m.id.kind, PROTO_ID_STRING);
    cr_assert_eq(m.id.len, id.len);
    cr_assert_eq(memcmp(m.id.str, raw, sizeof(raw) - 1), 0);
    free(block);
}

Test(encode, welcome, .description = "welcome round-trips; a long server name is truncated by the parser") {
    char name[101];
    proto_server_msg m;
    size_t len;
    char *block = proto_encode_welcome("host-1:4242", 0, &len);

    cr_assert_str_eq(text_of(block, 0, len),
                     "{\"type\":\"welcome\",\"server\":\"host-1:4242\",\"protocol\":1}");
    cr_assert_eq(parse_server_n(block, len, &m), PROTO_OK);
    cr_assert_eq(m.type, PROTO_S_WELCOME);
    cr_assert_str_eq(m.server, "host-1:4242");
    cr_assert_eq(m.protocol, PROTO_VERSION);
    free(block);

    memset(name, 's', 100);
    name[100] = '\0';
    block = proto_encode_welcome(name, 32, &len);
    cr_assert_eq(parse_server_n(block + 32, len, &m), PROTO_OK);
    cr_assert_eq(strlen(m.server), sizeof(m.server) - 1);
    free(block);
}

Test(encode, joined, .description = "joined round-trips with string, integer and no id") {
    static const char tok[] = "0123456789abcdef0123456789abcdef";
    proto_id ids[3] = { { .kind = PROTO_ID_NONE },
                        { .kind = PROTO_ID_INT, .num = -42 },
                        { .kind = PROTO_ID_STRING, .len = 4, .str = "join" } };
    int i;

    for (i = 0; i < 3; i++) {
        proto_server_msg m;
        size_t len;
        char *block = proto_encode_joined(&ids[i], 100 + i, i == 1 ? GAME_O : GAME_X, tok, 10, &len);

        text_of(block, 10, len);
        cr_assert_eq(strncmp(block + 10, "{\"type\":\"joined\",", 17), 0, "type first");
        cr_assert_eq(parse_server_n(block + 10, len, &m), PROTO_OK, "%s", block + 10);
        cr_assert_eq(m.type, PROTO_S_JOINED);
        cr_assert_eq(m.game_id, 100 + i);
        cr_assert_eq(m.mark, i == 1 ? GAME_O : GAME_X);
        cr_assert_str_eq(m.token, tok);
        cr_assert_eq(m.id.kind, ids[i].kind);
        cr_assert_eq(m.id.num, ids[i].num);
        cr_assert_str_eq(m.id.str, ids[i].str);
        free(block);
    }
    {
        size_t len;
        cr_assert_null(proto_encode_joined(NULL, 1, GAME_NONE, tok, 0, &len));
    }
}

Test(encode, watching_rematch_pong, .description = "watching, rematch_offer and pong round-trip") {
    proto_id id = { .kind = PROTO_ID_INT, .num = 5 };
    proto_server_msg m;
    size_t len;
    char *block;

    block = proto_encode_watching(&id, 123, 0, &len);
    cr_assert_str_eq(text_of(block, 0, len), "{\"type\":\"watching\",\"game_id\":123,\"id\":5}");
    cr_assert_eq(parse_server_n(block, len, &m), PROTO_OK);
    cr_assert_eq(m.type, PROTO_S_WATCHING);
    cr_assert_eq(m.game_id, 123);
    cr_assert_eq(m.id.num, 5);
    free(block);

    block = proto_encode_rematch_offer(124, 0, &len);
    cr_assert_str_eq(text_of(block, 0, len), "{\"type\":\"rematch_offer\",\"game_id\":124}");
    cr_assert_eq(parse_server_n(block, len, &m), PROTO_OK);
    cr_assert_eq(m.type, PROTO_S_REMATCH_OFFER);
    cr_assert_eq(m.game_id, 124);
    free(block);

    block = proto_encode_pong(NULL, 0, &len);
    cr_assert_str_eq(text_of(block, 0, len), "{\"type\":\"pong\"}");
    cr_assert_eq(parse_server_n(block, len, &m), PROTO_OK);
    cr_assert_eq(m.type, PROTO_S_PONG);
    cr_assert_eq(m.id.kind, PROTO_ID_NONE);
    free(block);
}

Test(encode, games, .description = "games: empty, three entries, and 70 entries (parser keeps 64, counts 70)") {
    proto_game_entry g[70];
    proto_id id = { .kind = PROTO_ID_STRING, .len = 1, .str = "l" };
    proto_server_msg m;
    size_t len, i;
    char *block;

    for (i = 0; i < 70; i++) {
        g[i].game_id = 100 + (int64_t)i;
        g[i].age_s = (int64_t)i * 7;
    }
    block = proto_encode_games(NULL, g, 0, 0, &len);
    cr_assert_str_eq(text_of(block, 0, len), "{\"type\":\"games\",\"games\":[]}");
    cr_assert_eq(parse_server_n(block, len, &m), PROTO_OK);
    cr_assert_eq(m.type, PROTO_S_GAMES);
    cr_assert_eq(m.ngames, 0);
    free(block);

    block = proto_encode_games(&id, g, 3, 0, &len);
    cr_assert_str_eq(text_of(block, 0, len),
        "{\"type\":\"games\",\"games\":[{\"game_id\":100,\"age_s\":0},{\"game_id\":101,\"age_s\":7},"
        "{\"game_id\":102,\"age_s\":14}],\"id\":\"l\"}");
    free(block);

    block = proto_encode_games(&id, g, 70, 64, &len);
    cr_assert_eq(parse_server_n(block + 64, len, &m), PROTO_OK);
    cr_assert_eq(m.ngames, 70);
    for (i = 0; i < PROTO_MAX_LISTED; i++) {
        cr_assert_eq(m.games[i].game_id, g[i].game_id);
        cr_assert_eq(m.games[i].age_s, g[i].age_s);
    }
    cr_assert_str_eq(m.id.str, "l");
    free(block);
}

/* ---- the client side ----------------------------------------------------- */

Test(client, request_roundtrip, .description = "proto_encode_request of every type parses back to the same request") {
    proto_req in[14];
    size_t n = 0, i;

    memset(in, 0, sizeof(in));
    in[n].type = PROTO_CREATE; in[n].level = GAME_AI_PERFECT; n++;
    in[n].type = PROTO_CREATE; in[n].vs_computer = 1; in[n].level = GAME_AI_EASY;
    in[n].id.kind = PROTO_ID_INT; in[n].id.num = 1; n++;
    in[n].type = PROTO_JOIN; in[n].game_id = 100; n++;
    in[n].type = PROTO_QUICK; in[n].id.kind = PROTO_ID_STRING; in[n].id.len = 1; in[n].id.str[0] = 'q'; n++;
    in[n].type = PROTO_RESUME; in[n].game_id = 100; in[n].token_len = 32;
    memcpy(in[n].token, "ffffffffffffffffffffffffffffffff", 33); n++;
    in[n].type = PROTO_WATCH; in[n].game_id = 101; n++;
    in[n].type = PROTO_MOVE; in[n].game_id = 102; in[n].cell = 8; in[n].ply = -1; n++;
    in[n].type = PROTO_MOVE; in[n].game_id = 102; in[n].cell = 0; in[n].ply = 9;
    in[n].id.kind = PROTO_ID_STRING; in[n].id.len = 3; memcpy(in[n].id.str, "a\"\\", 3); n++;
    in[n].type = PROTO_RESIGN; in[n].game_id = 103; n++;
    in[n].type = PROTO_REMATCH; in[n].game_id = INT64_MAX; n++;
    in[n].type = PROTO_LIST; n++;
    in[n].type = PROTO_PING; in[n].id.kind = PROTO_ID_INT; in[n].id.num = INT64_MIN; n++;

    for (i = 0; i < n; i++) {
        proto_req out;
        size_t len;
        char *block = proto_encode_request(&in[i], 12, &len);

        text_of(block, 12, len);
        cr_assert_eq(parse_n(block + 12, len, &out), PROTO_OK, "%s", block + 12);
        cr_assert_eq(memcmp(&in[i], &out, sizeof(out)), 0, "%s", block + 12);
        free(block);
    }
}

Test(client, request_text, .description = "a move request's exact text, type first, ply omitted when -1") {
    proto_req r;
    size_t len;
    char *block;

    memset(&r, 0, sizeof(r));
    r.type = PROTO_MOVE;
    r.game_id = 100;
    r.cell = 4;
    r.ply = -1;
    block = proto_encode_request(&r, 0, &len);
    cr_assert_str_eq(text_of(block, 0, len), "{\"type\":\"move\",\"game_id\":100,\"cell\":4}");
    free(block);
}

Test(client, server_malformed, .description = "parse_server refuses malformed server messages") {
    static const char *const bad[] = {
        "[]", "{}", "{\"type\":\"nope\"}", "{\"type\":\"pong\",\"id\":1.5}",
        "{\"type\":\"welcome\",\"protocol\":1}",
        "{\"type\":\"welcome\",\"server\":\"s\",\"protocol\":\"1\"}",
        "{\"type\":\"joined\",\"game_id\":1,\"mark\":\"Z\",\"token\":\"0123456789abcdef0123456789abcdef\"}",
        "{\"type\":\"joined\",\"game_id\":1,\"mark\":\"X\",\"token\":\"0123456789ABCDEF0123456789abcdef\"}",
        "{\"type\":\"joined\",\"game_id\":1,\"mark\":\"X\",\"token\":\"0123\"}",
        "{\"type\":\"joined\",\"game_id\":0,\"mark\":\"X\",\"token\":\"0123456789abcdef0123456789abcdef\"}",
        "{\"type\":\"watching\"}",
        "{\"type\":\"rematch_offer\",\"game_id\":\"1\"}",
        "{\"type\":\"games\",\"games\":{}}",
        "{\"type\":\"games\",\"games\":[{\"game_id\":1}]}",
        "{\"type\":\"error\",\"code\":\"nope\",\"message\":\"m\"}",
        "{\"type\":\"error\",\"code\":\"ok\",\"message\":\"m\"}",
        "{\"type\":\"error\",\"code\":\"stale\"}",
    };
    static const char *const bad_state[] = {
        /* board of 8, board with x, move 9, ply != moves, missing players,
         * bad seat, bad status, line of 2, winner "Y", turn missing */
        "\"board\":\"........\",\"moves\":[],\"ply\":0,\"turn\":null,\"status\":\"waiting\",\"result\":null,\"winner\":null,\"line\":null,\"players\":{\"X\":\"open\",\"O\":\"open\"}",
        "\"board\":\"x........\",\"moves\":[],\"ply\":0,\"turn\":null,\"status\":\"waiting\",\"result\":null,\"winner\":null,\"line\":null,\"players\":{\"X\":\"open\",\"O\":\"open\"}",
        "\"board\":\".........\",\"moves\":[9],\"ply\":1,\"turn\":null,\"status\":\"waiting\",\"result\":null,\"winner\":null,\"line\":null,\"players\":{\"X\":\"open\",\"O\":\"open\"}",
        "\"board\":\".........\",\"moves\":[0],\"ply\":2,\"turn\":null,\"status\":\"waiting\",\"result\":null,\"winner\":null,\"line\":null,\"players\":{\"X\":\"open\",\"O\":\"open\"}",
        "\"board\":\".........\",\"moves\":[],\"ply\":0,\"turn\":null,\"status\":\"waiting\",\"result\":null,\"winner\":null,\"line\":null",
        "\"board\":\".........\",\"moves\":[],\"ply\":0,\"turn\":null,\"status\":\"waiting\",\"result\":null,\"winner\":null,\"line\":null,\"players\":{\"X\":\"here\",\"O\":\"open\"}",
        "\"board\":\".........\",\"moves\":[],\"ply\":0,\"turn\":null,\"status\":\"done\",\"result\":null,\"winner\":null,\"line\":null,\"players\":{\"X\":\"open\",\"O\":\"open\"}",
        "\"board\":\".........\",\"moves\":[],\"ply\":0,\"turn\":null,\"status\":\"over\",\"result\":\"win\",\"winner\":\"X\",\"line\":[0,1],\"players\":{\"X\":\"open\",\"O\":\"open\"}",
        "\"board\":\".........\",\"moves\":[],\"ply\":0,\"turn\":null,\"status\":\"over\",\"result\":\"win\",\"winner\":\"Y\",\"line\":null,\"players\":{\"X\":\"open\",\"O\":\"open\"}",
        "\"board\":\".........\",\"moves\":[],\"ply\":0,\"status\":\"waiting\",\"result\":null,\"winner\":null,\"line\":null,\"players\":{\"X\":\"open\",\"O\":\"open\"}",
    };
    static const char good_state[] =
        "{\"type\":\"state\",\"game_id\":5,\"board\":\".........\",\"moves\":[],\"ply\":0,\"turn\":null,"
        "\"status\":\"waiting\",\"result\":null,\"winner\":null,\"line\":null,\"players\":{\"X\":\"open\",\"O\":\"open\"}}";
    proto_server_msg m;
    char msg[512];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(parse_server(bad[i], &m), PROTO_EBAD_MESSAGE, "%s", bad[i]);
    for (i = 0; i < sizeof(bad_state) / sizeof(bad_state[0]); i++) {
        snprintf(msg, sizeof(msg), "{\"type\":\"state\",\"game_id\":5,%s}", bad_state[i]);
        cr_expect_eq(parse_server(msg, &m), PROTO_EBAD_MESSAGE, "%s", msg);
    }
    cr_assert_eq(parse_server(good_state, &m), PROTO_OK, "the template itself is fine");
    cr_assert_eq(parse_server("{\"type\":\"pong\"", &m), PROTO_EBAD_JSON);
    cr_assert_eq(parse_server("", &m), PROTO_EBAD_JSON);
}

Test(names, tables, .description = "error and type names match the contract's spelling") {
    cr_assert_str_eq(proto_err_name(PROTO_EBAD_JSON), "bad_json");
    cr_assert_str_eq(proto_err_name(PROTO_ENOT_YOUR_TURN), "not_your_turn");
    cr_assert_str_eq(proto_err_name(PROTO_EUNAVAILABLE), "unavailable");
    cr_assert_str_eq(proto_err_name(PROTO_ERR_COUNT), "unknown");
    cr_assert_str_eq(proto_type_name(PROTO_CREATE), "create");
    cr_assert_str_eq(proto_type_name(PROTO_PING), "ping");
    cr_assert_str_eq(proto_type_name(PROTO_TYPE_COUNT), "unknown");
}
