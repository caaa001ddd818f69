/* test_proto.c -- the protocol module against the contract: every client
 * message, every class of malformed input, every server message round-trip,
 * and the exact text of the hot "state" encoding.
 *
 * Every input is copied into a malloc'd buffer of exactly its length (no
 * terminating NUL), so that ASan catches a parser that reads past len. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* ---- helpers ------------------------------------------------------------ */

static proto_err parse_n(const char *text, size_t len, proto_req *r) {
    char *buf = malloc(len ? len : 1);
    proto_err rc;

    cr_assert_not_null(buf);
    memcpy(buf, text, len);
    rc = proto_parse(buf, len, r);
    free(buf);
    return rc;
}

static proto_err parse(const char *text, proto_req *r) {
    return parse_n(text, strlen(text), r);
}

static proto_err parse_server_n(const char *text, size_t len, proto_server_msg *m) {
    char *buf = malloc(len ? len : 1);
    proto_err rc;

    cr_assert_not_null(buf);
    memcpy(buf, text, len);
    rc = proto_parse_server(buf, len, m);
    free(buf);
    return rc;
}

static proto_err parse_server(const char *text, proto_server_msg *m) {
    return parse_server_n(text, strlen(text), m);
}

/* Each input must fail with want. */
static void expect_all(const char *const *inputs, size_t n, proto_err want) {
    proto_req r;
    size_t i;

    for (i = 0; i < n; i++) {
        proto_err got = parse(inputs[i], &r);
        cr_expect_eq(got, want, "input %s: got %s, want %s", inputs[i],
                     proto_err_name(got), proto_err_name(want));
    }
}
#define EXPECT_ALL(arr, want) expect_all(arr, sizeof(arr) / sizeof(arr[0]), want)

/* The JSON text of an encoder's block, checked for the block convention. */
static char *text_of(char *block, size_t headroom, size_t len) {
    cr_assert_not_null(block);
    cr_assert_eq(block[headroom + len], '\0');
    cr_assert_eq(strlen(block + headroom), len, "no NUL inside the text");
    memset(block, 0xAB, headroom); /* the headroom is the caller's to write */
    return block + headroom;
}

/* A game_state built by hand (the rules module is tested elsewhere). */
static game_state mkstate(const int *moves, int n, int status, int result,
                          int winner, int l0, int l1, int l2) {
    game_state st;
    int i;

    memset(&st, 0, sizeof(st));
    for (i = 0; i < n; i++) {
        st.moves[i] = (uint8_t)moves[i];
        if (i % 2 == 0)
            st.board.x |= (uint16_t)(1u << moves[i]);
        else
            st.board.o |= (uint16_t)(1u << moves[i]);
    }
    st.ply = (uint8_t)n;
    st.status = (uint8_t)status;
    st.result = (uint8_t)result;
    st.winner = (uint8_t)winner;
    st.line[0] = (int8_t)l0;
    st.line[1] = (int8_t)l1;
    st.line[2] = (int8_t)l2;
    return st;
}

/* ---- client messages: each type ------------------------------------------ */

Test(parse, create_minimal, .description = "create with no options: vs human, level perfect") {
    proto_req r;
    cr_assert_eq(parse("{\"type\":\"create\"}", &r), PROTO_OK);
    cr_assert_eq(r.type, PROTO_CREATE);
    cr_assert_eq(r.vs_computer, 0);
    cr_assert_eq(r.level, GAME_AI_PERFECT);
    cr_assert_eq(r.id.kind, PROTO_ID_NONE);
    cr_assert_eq(r.game_id, 0);
}

Test(parse, create_all_options, .description = "create vs computer, level easy, string id") {
    proto_req r;
    cr_assert_eq(parse("{\"type\":\"create\",\"vs\":\"computer\",\"level\":\"easy\",\"id\":\"c-1\"}", &r),
                 PROTO_OK);
    cr_assert_eq(r.type, PROTO_CREATE);
    cr_assert_eq(r.vs_computer, 1);
    cr_assert_eq(r.level, GAME_AI_EASY);
    cr_assert_eq(r.id.kind, PROTO_ID_STRING);
    cr_assert_eq(r.id.len, 3);
    cr_assert_str_eq(r.id.str, "c-1");
}

Test(parse, create_human_perfect_int_id, .description = "create vs human, level perfect, integer id") {
    proto_req r;
    cr_assert_eq(parse("{\"id\":-12,\"level\":\"perfect\",\"vs\":\"human\",\"type\":\"create\"}", &r),
                 PROTO_OK);
    cr_assert_eq(r.vs_computer, 0);
    cr_assert_eq(r.level, GAME_AI_PERFECT);
    cr_assert_eq(r.id.kind, PROTO_ID_INT);
    cr_assert_eq(r.id.num, -12);
}

Test(parse, create_bad_options, .description = "create: vs/level of the wrong type or value") {
    static const char *const in[] = {
        "{\"type\":\"create\",\"vs\":1}",
        "{\"type\":\"create\",\"vs\":\"robot\"}",
        "{\"type\":\"create\",\"vs\":\"Computer\"}",
        "{\"type\":\"create\",\"vs\":null}",
        "{\"type\":\"create\",\"vs\":\"human\\u0000\"}",
        "{\"type\":\"create\",\"level\":\"hard\"}",
        "{\"type\":\"create\",\"level\":true}",
        "{\"type\":\"create\",\"level\":[\"easy\"]}",
    };
    EXPECT_ALL(in, PROTO_EBAD_MESSAGE);
}

Test(parse, join, .description = "join: game_id, with and without id") {
    proto_req r;
    cr_assert_eq(parse("{\"type\":\"join\",\"game_id\":100}", &r), PROTO_OK);
    cr_assert_eq(r.type, PROTO_JOIN);
    cr_assert_eq(r.game_id, 100);
    cr_assert_eq(r.id.kind, PROTO_ID_NONE);
    cr_assert_eq(parse("{\"type\":\"join\",\"game_id\":101,\"id\":\"j\"}", &r), PROTO_OK);
    cr_assert_eq(r.game_id, 101);
    cr_assert_str_eq(r.id.str, "j");
    cr_assert_eq(parse("{\"type\":\"join\",\"game_id\":9223372036854775807,\"id\":0}", &r), PROTO_OK);
    cr_assert_eq(r.game_id, INT64_MAX);
    cr_assert_eq(r.id.kind, PROTO_ID_INT);
    cr_assert_eq(r.id.num, 0);
}

Test(parse, no_field_types, .description = "quick, list, ping: bare and with ids") {
    static const struct { const char *text; proto_type type; int kind; } c[] = {
        { "{\"type\":\"quick\"}", PROTO_QUICK, PROTO_ID_NONE },
        { "{\"type\":\"quick\",\"id\":\"q\"}", PROTO_QUICK, PROTO_ID_STRING },
        { "{\"type\":\"list\"}", PROTO_LIST, PROTO_ID_NONE },
        { "{\"type\":\"list\",\"id\":5}", PROTO_LIST, PROTO_ID_INT },
        { "{\"type\":\"ping\"}", PROTO_PING, PROTO_ID_NONE },
        { "{\"type\":\"ping\",\"id\":\"p\"}", PROTO_PING, PROTO_ID_STRING },
        { " \n\t{ \"type\" : \"ping\" , \"id\" : 9 }\r\n ", PROTO_PING, PROTO_ID_INT },
    };
    proto_req r;
    size_t i;

    for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        cr_assert_eq(parse(c[i].text, &r), PROTO_OK, "%s", c[i].text);
        cr_assert_eq(r.type, c[i].type, "%s", c[i].text);
        cr_assert_eq(r.id.kind, c[i].kind, "%s", c[i].text);
        cr_assert_eq(r.game_id, 0);
    }
}

Test(parse, resume, .description = "resume: game_id and a 32-hex token") {
    proto_req r;
    cr_assert_eq(parse("{\"type\":\"resume\",\"game_id\":100,"
                       "\"token\":\"0123456789abcdef0123456789abcdef\",\"id\":\"r\"}", &r),
                 PROTO_OK);
    cr_assert_eq(r.type, PROTO_RESUME);
    cr_assert_eq(r.game_id, 100);
    cr_assert_eq(r.token_len, 32);
    cr_assert_str_eq(r.token, "0123456789abcdef0123456789abcdef");
    cr_assert_str_eq(r.id.str, "r");
}

Test(parse, resume_token_lengths, .description = "token: 64 bytes passes with its real length, 65 is bad_message") {
    char msg[256];
    char tok[70];
    proto_req r;

    memset(tok, 'a', 64);
    tok[64] = '\0';
    snprintf(msg, sizeof(msg), "{\"type\":\"resume\",\"game_id\":1,\"token\":\"%s\"}", tok);
    cr_assert_eq(parse(msg, &r), PROTO_OK);
    cr_assert_eq(r.token_len, 64, "caller sees the real length and refuses it");
    cr_assert_eq(strlen(r.token), PROTO_TOKEN_LEN);

    memset(tok, 'a', 65);
    tok[65] = '\0';
    snprintf(msg, sizeof(msg), "{\"type\":\"resume\",\"game_id\":1,\"token\":\"%s\"}", tok);
    cr_assert_eq(parse(msg, &r), PROTO_EBAD_MESSAGE);

    cr_assert_eq(parse("{\"type\":\"resume\",\"game_id\":1,\"token\":\"\"}", &r), PROTO_OK);
    cr_assert_eq(r.token_len, 0);
    cr_assert_eq(parse("{\"type\":\"resume\",\"game_id\":1,\"token\":\"abc\"}", &r), PROTO_OK);
    cr_assert_eq(r.token_len, 3);
    cr_assert_str_eq(r.token, "abc");
}

Test(parse, resume_bad, .description = "resume: token missing or not a string, game_id missing") {
    static const char *const in[] = {
        "{\"type\":\"resume\",\"game_id\":1}",
        "{\"type\":\"resume\",\"game_id\":1,\"token\":12}",
        "{\"type\":\"resume\",\"game_id\":1,\"token\":null}",
        "{\"type\":\"resume\",\"game_id\":1,\"token\":[\"a\"]}",
        "{\"type\":\"resume\",\"token\":\"0123456789abcdef0123456789abcdef\"}",
    };
    EXPECT_ALL(in, PROTO_EBAD_MESSAGE);
}

Test(parse, game_id_types, .description = "watch, resign, rematch: game_id") {
    static const struct { const char *text; proto_type type; } c[] = {
        { "{\"type\":\"watch\",\"game_id\":7}", PROTO_WATCH },
        { "{\"type\":\"resign\",\"game_id\":7}", PROTO_RESIGN },
        { "{\"type\":\"rematch\",\"game_id\":7}", PROTO_REMATCH },
    };
    proto_req r;
    size_t i;

    for (i = 0; i < 3; i++) {
        cr_assert_eq(parse(c[i].text, &r), PROTO_OK, "%s", c[i].text);
        cr_assert_eq(r.type, c[i].type);
        cr_assert_eq(r.game_id, 7);
    }
    cr_assert_eq(parse("{\"type\":\"rematch\",\"game_id\":8,\"id\":\"x\"}", &r), PROTO_OK);
    cr_assert_str_eq(r.id.str, "x");
    cr_assert_eq(parse("{\"type\":\"watch\"}", &r), PROTO_EBAD_MESSAGE);
    cr_assert_eq(parse("{\"type\":\"resign\"}", &r), PROTO_EBAD_MESSAGE);
    cr_assert_eq(parse("{\"type\":\"rematch\"}", &r), PROTO_EBAD_MESSAGE);
    cr_assert_eq(parse("{\"type\":\"join\"}", &r), PROTO_EBAD_MESSAGE);
}

Test(parse, move, .description = "move: without ply (-1), with ply 0 and 9, with ids") {
    proto_req r;
    cr_assert_eq(parse("{\"type\":\"move\",\"game_id\":100,\"cell\":4}", &r), PROTO_OK);
    cr_assert_eq(r.type, PROTO_MOVE);
    cr_assert_eq(r.game_id, 100);
    cr_assert_eq(r.cell, 4);
    cr_assert_eq(r.ply, -1);
    cr_assert_eq(parse("{\"type\":\"move\",\"game_id\":100,\"cell\":0,\"ply\":0,\"id\":3}", &r), PROTO_OK);
    cr_assert_eq(r.cell, 0);
    cr_assert_eq(r.ply, 0);
    cr_assert_eq(r.id.num, 3);
    cr_assert_eq(parse("{\"type\":\"move\",\"game_id\":100,\"cell\":8,\"ply\":9,\"id\":\"m\"}", &r), PROTO_OK);
    cr_assert_eq(r.cell, 8);
    cr_assert_eq(r.ply, 9);
    cr_assert_str_eq(r.id.str, "m");
    cr_assert_eq(parse("{\"type\":\"move\",\"game_id\":100,\"cell\":-0}", &r), PROTO_OK, "-0 is the integer 0");
    cr_assert_eq(r.cell, 0);
}

Test(parse, unused_fields_ignored, .description = "unknown fields and fields of other types are ignored") {
    proto_req r;
    cr_assert_eq(parse("{\"type\":\"ping\",\"foo\":[1,{\"a\":null}],\"cell\":\"x\",\"game_id\":1.5}", &r),
                 PROTO_OK);
    cr_assert_eq(r.type, PROTO_PING);
    cr_assert_eq(r.cell, 0);
    cr_assert_eq(r.ply, 0, "ply is -1 only for move");
    cr_assert_eq(parse("{\"type\":\"join\",\"game_id\":3,\"vs\":7,\"token\":false}", &r), PROTO_OK);
    cr_assert_eq(r.game_id, 3);
}

/* ---- malformed input ------------------------------------------------------ */

Test(malformed, not_json, .description = "not JSON, truncated JSON, empty input, trailing garbage: bad_json") {
    static const char *const in[] = {
        "", " ", "\n", "hello", "{", "}", "{\"type\":\"ping\"", "{\"type\":\"ping\",}",
        "{\"type\":\"ping\"} x", "{}{}", "{'type':'ping'}", "{type:\"ping\"}",
        "{\"type\":\"pi\xff\"}", "{\"type\":\"ping\",\"id\":01}", "{\"type\":\"ping\",\"id\":NaN}",
        "{\"type\":\"ping\",\"id\":\"a\nb\"}", "[1,2", "\"abc", "nul", "-",
    };
    EXPECT_ALL(in, PROTO_EBAD_JSON);
}

Test(malformed, nul_bytes, .description = "raw NUL bytes inside or after the message: bad_json") {
    static const char a[] = "{\"type\":\"ping\"}\0";
    static const char b[] = "{\"type\":\0\"ping\"}";
    static const char c[] = "\0{\"type\":\"ping\"}";
    static const char d[] = "{\"type\":\"pi\0ng\"}";
    proto_req r;

    cr_assert_eq(parse_n(a, sizeof(a) - 1, &r), PROTO_EBAD_JSON);
    cr_assert_eq(parse_n(b, sizeof(b) - 1, &r), PROTO_EBAD_JSON);
    cr_assert_eq(parse_n(c, sizeof(c) - 1, &r), PROTO_EBAD_JSON);
    cr_assert_eq(parse_n(d, sizeof(d) - 1, &r), PROTO_EBAD_JSON);
    cr_assert_eq(proto_parse(NULL, 0, &r), PROTO_EBAD_JSON);
}

Test(malformed, every_prefix, .description = "every strict prefix of a message (a split frame) is bad_json") {
    static const char msg[] = "{\"type\":\"move\",\"game_id\":100,\"cell\":4,\"ply\":2,\"id\":\"a\\\"b\"}";
    proto_req r;
    size_t n;

    for (n = 0; n < sizeof(msg) - 1; n++)
        cr_assert_eq(parse_n(msg, n, &r), PROTO_EBAD_JSON, "prefix of %zu bytes", n);
    cr_assert_eq(parse_n(msg, sizeof(msg) - 1, &r), PROTO_OK);
    cr_assert_str_eq(r.id.str, "a\"b");
}

Test(malformed, top_level_not_object, .description = "valid JSON that is not an object: bad_message") {
    static const char *const in[] = {
        "[]", "[{\"type\":\"ping\"}]", "\"ping\"", "42", "-1.5", "null", "true", "false",
    };
    EXPECT_ALL(in, PROTO_EBAD_MESSAGE);
}

Test(malformed, type_missing_or_not_string, .description = "missing type, or type not a string: bad_message") {
    static const char *const in[] = {
        "{}", "{\"id\":1}", "{\"Type\":\"ping\"}", "{\"type\":1}", "{\"type\":null}",
        "{\"type\":true}", "{\"type\":[\"ping\"]}", "{\"type\":{\"ping\":1}}",
    };
    EXPECT_ALL(in, PROTO_EBAD_MESSAGE);
}

Test(malformed, unknown_type, .description = "unknown type strings, case and NUL included: unknown_type") {
    static const char *const in[] = {
        "{\"type\":\"nope\"}", "{\"type\":\"\"}", "{\"type\":\"PING\"}", "{\"type\":\"ping \"}",
        "{\"type\":\"ping\\u0000\"}", "{\"type\":\"pin\"}", "{\"type\":\"pings\"}",
        "{\"type\":\"welcome\"}", "{\"type\":\"state\"}",
    };
    EXPECT_ALL(in, PROTO_EUNKNOWN_TYPE);
}

Test(malformed, integer_fields_wrong_type, .description = "string/float/bool/null/array where an integer is needed") {
    static const char *const in[] = {
        "{\"type\":\"join\",\"game_id\":\"100\"}",
        "{\"type\":\"join\",\"game_id\":100.0}",
        "{\"type\":\"join\",\"game_id\":1e2}",
        "{\"type\":\"join\",\"game_id\":100.5}",
        "{\"type\":\"join\",\"game_id\":true}",
        "{\"type\":\"join\",\"game_id\":null}",
        "{\"type\":\"join\",\"game_id\":[100]}",
        "{\"type\":\"join\",\"game_id\":{}}",
        "{\"type\":\"move\",\"game_id\":100,\"cell\":\"4\"}",
        "{\"type\":\"move\",\"game_id\":100,\"cell\":1.0}",
        "{\"type\":\"move\",\"game_id\":100,\"cell\":1.5}",
        "{\"type\":\"move\",\"game_id\":100,\"cell\":false}",
        "{\"type\":\"move\",\"game_id\":100,\"cell\":null}",
        "{\"type\":\"move\",\"game_id\":100,\"cell\":4,\"ply\":\"2\"}",
        "{\"type\":\"move\",\"game_id\":100,\"cell\":4,\"ply\":2.0}",
        "{\"type\":\"move\",\"game_id\":100,\"cell\":4,\"ply\":true}",
        "{\"type\":\"move\",\"game_id\":100,\"cell\":4,\"ply\":null}",
        "{\"type\":\"move\",\"game_id\":\"100\",\"cell\":4}",
        "{\"type\":\"move\",\"cell\":4}",
        "{\"type\":\"move\",\"game_id\":100}",
    };
    EXPECT_ALL(in, PROTO_EBAD_MESSAGE);
}

Test(malformed, out_of_range, .description = "cell -1/9, ply 10/-1, game_id 0/-5, integers beyond int64") {
    static const char *const in[] = {
        "{\"type\":\"move\",\"game_id\":100,\"cell\":-1}",
        "{\"type\":\"move\",\"game_id\":100,\"cell\":9}",
        "{\"type\":\"move\",\"game_id\":100,\"cell\":4294967300}",
        "{\"type\":\"move\",\"game_id\":100,\"cell\":4,\"ply\":10}",
        "{\"type\":\"move\",\"game_id\":100,\"cell\":4,\"ply\":-1}",
        "{\"type\":\"move\",\"game_id\":0,\"cell\":4}",
        "{\"type\":\"move\",\"game_id\":-5,\"cell\":4}",
        "{\"type\":\"join\",\"game_id\":0}",
        "{\"type\":\"join\",\"game_id\":-5}",
        "{\"type\":\"join\",\"game_id\":9223372036854775808}",
        "{\"type\":\"join\",\"game_id\":-9223372036854775809}",
        "{\"type\":\"watch\",\"game_id\":0}",
        "{\"type\":\"resume\",\"game_id\":-1,\"token\":\"0123456789abcdef0123456789abcdef\"}",
    };
    EXPECT_ALL(in, PROTO_EBAD_MESSAGE);
}

Test(malformed, duplicate_keys, .description = "a key given twice is ambiguous: bad_message") {
    static const char *const in[] = {
        "{\"type\":\"ping\",\"type\":\"ping\"}",
        "{\"type\":\"move\",\"game_id\":1,\"cell\":1,\"cell\":2}",
    };
    EXPECT_ALL(in, PROTO_EBAD_MESSAGE);
}

Test(malformed, deep_nesting, .description = "100000 nested arrays in an ignored field: refused, no crash") {
    size_t depth = 100000, n = 0, i;
    char *msg = malloc(2 * depth + 64);
    proto_req r;

    cr_assert_not_null(msg);
    n += (size_t)sprintf(msg, "{\"type\":\"ping\",\"x\":");
    for (i = 0; i < depth; i++)
        msg[n++] = '[';
    for (i = 0; i < depth; i++)
        msg[n++] = ']';
    msg[n++] = '}';
    cr_assert_neq(parse_n(msg, n, &r), PROTO_OK);
    free(msg);
}

/* ---- ids ---------------------------------------------------------------- */

Test(id, lengths, .description = "id of 64 bytes is kept, 65 bytes is bad_message and not echoed") {
    char msg[256], id[70];
    proto_req r;

    memset(id, 'i', 64);
    id[64] = '\0';
    snprintf(msg, sizeof(msg), "{\"type\":\"ping\",\"id\":\"%s\"}", id);
    cr_assert_eq(parse(msg, &r), PROTO_OK);
    cr_assert_eq(r.id.kind, PROTO_ID_STRING);
    cr_assert_eq(r.id.len, 64);
    cr_assert_str_eq(r.id.str, id);

    memset(id, 'i', 65);
    id[65] = '\0';
    snprintf(msg, sizeof(msg), "{\"type\":\"ping\",\"id\":\"%s\"}", id);
    cr_assert_eq(parse(msg, &r), PROTO_EBAD_MESSAGE);
    cr_assert_eq(r.id.kind, PROTO_ID_NONE);

    cr_assert_eq(parse("{\"type\":\"ping\",\"id\":\"\"}", &r), PROTO_OK);
    cr_assert_eq(r.id.kind, PROTO_ID_STRING);
    cr_assert_eq(r.id.len, 0);
}

Test(id, bytes_not_characters, .description = "the 64 limit counts UTF-8 bytes: 32 x e-acute ok, 33 refused") {
    char msg[512], id[80];
    proto_req r;
    int i;

    for (i = 0; i < 32; i++)
        memcpy(id + 2 * i, "\xc3\xa9", 2);
    id[64] = '\0';
    snprintf(msg, sizeof(msg), "{\"type\":\"ping\",\"id\":\"%s\"}", id);
    cr_assert_eq(parse(msg, &r), PROTO_OK);
    cr_assert_eq(r.id.len, 64);
    snprintf(msg, sizeof(msg), "{\"type\":\"ping\",\"id\":\"%s\\u00e9\"}", id);
    cr_assert_eq(parse(msg, &r), PROTO_EBAD_MESSAGE);
    /* escapes count as the bytes they decode to: 64 x \u0041 is 64 bytes */
    strcpy(msg, "{\"type\":\"ping\",\"id\":\"");
    for (i = 0; i < 64; i++)
        strcat(msg, "\\u0041");
    strcat(msg, "\"}");
    cr_assert_eq(parse(msg, &r), PROTO_OK);
    cr_assert_eq(r.id.len, 64);
}

Test(id, bad_kinds, .description = "id float/bool/null/object/array: bad_message, not echoed") {
    static const char *const in[] = {
        "{\"type\":\"ping\",\"id\":1.5}", "{\"type\":\"ping\",\"id\":1.0}",
        "{\"type\":\"ping\",\"id\":true}", "{\"type\":\"ping\",\"id\":null}",
        "{\"type\":\"ping\",\"id\":{}}", "{\"type\":\"ping\",\"id\":[1]}",
        "{\"type\":\"nope\",\"id\":1.5}", "{\"id\":[\"x\"]}",
        "{\"type\":\"ping\",\"id\":99999999999999999999}",
    };
    size_t i;
    proto_req r;

    for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        cr_expect_eq(parse(in[i], &r), PROTO_EBAD_MESSAGE, "%s", in[i]);
        cr_expect_eq(r.id.kind, PROTO_ID_NONE, "%s", in[i]);
    }
}

Test(id, echoed_on_errors, .description = "a valid id survives unknown_type and bad_message") {
    proto_req r;

    cr_assert_eq(parse("{\"type\":\"nope\",\"id\":7}", &r), PROTO_EUNKNOWN_TYPE);
    cr_assert_eq(r.id.kind, PROTO_ID_INT);
    cr_assert_eq(r.id.num, 7);
    cr_assert_eq(parse("{\"id\":\"abc\",\"type\":\"nope\"}", &r), PROTO_EUNKNOWN_TYPE);
    cr_assert_eq(r.id.kind, PROTO_ID_STRING);
    cr_assert_str_eq(r.id.str, "abc");
    cr_assert_eq(parse("{\"type\":\"move\",\"id\":\"m1\",\"cell\":9,\"game_id\":1}", &r), PROTO_EBAD_MESSAGE);
    cr_assert_str_eq(r.id.str, "m1");
    cr_assert_eq(parse("{\"id\":-3}", &r), PROTO_EBAD_MESSAGE);
    cr_assert_eq(r.id.kind, PROTO_ID_INT);
    cr_assert_eq(r.id.num, -3);
    cr_assert_eq(parse("{\"type\":5,\"id\":9223372036854775807}", &r), PROTO_EBAD_MESSAGE);
    cr_assert_eq(r.id.num, INT64_MAX);
}

Test(id, embedded_nul, .description = "an id with \\u0000 keeps its bytes and length") {
    proto_req r;
    cr_assert_eq(parse("{\"type\":\"ping\",\"id\":\"a\\u0000b\"}", &r), PROTO_OK);
    cr_assert_eq(r.id.kind, PROTO_ID_STRING);
    cr_assert_eq(r.id.len, 3);
    cr_assert_eq(memcmp(r.id.str, "a\0b", 4), 0);
}

/* ---- buffers ------------------------------------------------------------- */

Test(buffer, whole_and_unterminated, .description = "the same message fed whole (NUL-terminated) and from an exact-size buffer") {
    static const char msg[] = "{\"type\":\"move\",\"game_id\":100,\"cell\":4,\"ply\":0}";
    proto_req a, b;

    cr_assert_eq(proto_parse(msg, strlen(msg), &a), PROTO_OK);
    cr_assert_eq(parse(msg, &b), PROTO_OK);
    cr_assert_eq(memcmp(&a, &b, sizeof(a)), 0);
}

Test(buffer, len_is_respected, .description = "bytes after len are not part of the message") {
    static const char msg[] = "{\"type\":\"ping\"}{\"type\":\"nope\"}garbage";
    proto_req r;

    cr_assert_eq(proto_parse(msg, 15, &r), PROTO_OK);
    cr_assert_eq(r.type, PROTO_PING);
    cr_assert_eq(proto_parse(msg, 16, &r), PROTO_EBAD_JSON);
}

Test(buffer, max_message, .description = "a message of exactly 4096 bytes parses") {
    char *msg = malloc(PROTO_MAX_MESSAGE + 1);
    const char *head = "{\"type\":\"ping\",\"id\":1,\"pad\":\"";
    size_t n = strlen(head);
    proto_req r;

    cr_assert_not_null(msg);
    memcpy(msg, head, n);
    memset(msg + n, 'p', PROTO_MAX_MESSAGE - n - 2);
    memcpy(msg + PROTO_MAX_MESSAGE - 2, "\"}", 2);
    cr_assert_eq(parse_n(msg, PROTO_MAX_MESSAGE, &r), PROTO_OK);
    cr_assert_eq(r.id.num, 1);
    free(msg);
}

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
