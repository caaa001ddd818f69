/* test_proto.c -- the protocol module against the contract, client side of
 * the wire: every client message, every class of malformed input, ids and
 * buffer bounds. The server messages are in test_proto_encode.c; both share
 * test_proto.h.
 *
 * Every input is copied into a malloc'd buffer of exactly its length (no
 * terminating NUL), so that ASan catches a parser that reads past len. */
#include "test_proto.h"

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
