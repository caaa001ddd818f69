/* test_proto_fast.c -- server/proto_fast.c against proto.c's general path.
 *
 * The fast path may decide a message only when the general (jansson) path
 * accepts it with the same fields. Every input here goes through both:
 * hand-picked edges first, then 150,000 messages built from
 * pieces that sit on the edges (numbers, strings, white space, members,
 * order, duplicates) and random byte mutations of them. A second check
 * keeps the fast path honest the other way: the ordinary messages a client
 * sends (move, create, join, ...) must be decided by it, or it would be
 * fast for nothing.
 *
 * Each input is copied into a buffer of exactly its length, so that ASan
 * catches a read past len. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_fast.h"
#include "proto_general.h"

static unsigned long decided, agreed_general_ok;

/* Both parsers on len bytes; a fast decision the general path does not
 * share fails the test with the input. Returns the fast path's answer. */
static int compare_n(const char *text, size_t len)
{
    char *buf = malloc(len ? len : 1);
    cr_assert_not_null(buf);
    memcpy(buf, text, len);
    proto_req fast, general;
    memset(&fast, 0x5a, sizeof fast);
    int f = proto_fast_parse(buf, len, &fast);
    proto_err e = proto_parse_general(buf, len, &general);
    free(buf);
    if (e == PROTO_OK)
        agreed_general_ok++;
    if (!f)
        return 0;
    decided++;
    cr_assert_eq(e, PROTO_OK, "fast path accepted what the general path refuses (%s): %.*s",
                 proto_err_name(e), (int)len, text);
    cr_assert(proto_req_same(&fast, &general), "fields differ for: %.*s", (int)len, text);
    return 1;
}

static int compare(const char *text)
{
    return compare_n(text, strlen(text));
}

Test(proto_fast, ordinary_requests_are_decided, .description = "what clients send takes the fast path")
{
    static const char *const ok[] = {
        "{\"type\":\"move\",\"game_id\":100,\"cell\":4}",
        "{\"type\":\"move\",\"game_id\":100,\"cell\":4,\"ply\":3}",
        "{\"id\":7,\"type\":\"move\",\"game_id\":123456,\"cell\":0,\"ply\":0}",
        "{\"type\":\"move\",\"id\":\"req-1\",\"game_id\":1,\"cell\":8,\"ply\":9}",
        " {\t\"cell\" : 2 ,\n\"game_id\":\r9223372036854775,\"type\":\"move\"} \n",
        "{\"type\":\"move\",\"id\":\"\",\"game_id\":5,\"cell\":1}",
        "{\"type\":\"move\",\"id\":-12,\"game_id\":5,\"cell\":1}",
        "{\"type\":\"move\",\"game_id\":1,\"cell\":-0}",   /* jansson: the integer 0 */
        "{\"type\":\"ping\",\"game_id\":100,\"cell\":1}",  /* members ping ignores */
        "{\"type\":\"create\"}",
        "{\"type\":\"create\",\"vs\":\"computer\",\"level\":\"easy\",\"id\":3}",
        "{\"type\":\"create\",\"vs\":\"human\",\"level\":\"perfect\"}",
        "{\"type\":\"join\",\"game_id\":100,\"id\":\"j\"}",
        "{\"type\":\"join\",\"game_id\":100,\"vs\":\"robot\",\"cell\":99}",
        "{\"type\":\"quick\"}", "{\"type\":\"list\",\"id\":1}", "{\"type\":\"ping\"}",
        "{\"type\":\"watch\",\"game_id\":7}", "{\"type\":\"resign\",\"game_id\":7}",
        "{\"type\":\"rematch\",\"game_id\":7}",
        "{\"type\":\"move\",\"id\":\"0123456789012345678901234567890123456789012345678901234567890123\","
        "\"game_id\":5,\"cell\":1}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        cr_assert(compare(ok[i]), "not decided by the fast path: %s", ok[i]);
}

Test(proto_fast, edges_go_to_the_general_path, .description = "anything unusual is left to jansson")
{
    static const char *const no[] = {
        "", " ", "{", "}", "{}", "[]", "null", "\"move\"",
        "{\"type\":\"move\",\"game_id\":100}",                       /* no cell */
        "{\"type\":\"move\",\"cell\":1}",                            /* no game_id */
        "{\"game_id\":100,\"cell\":1}",                              /* no type */
        "{\"type\":\"resume\",\"game_id\":100,\"token\":\"0123456789abcdef0123456789abcdef\"}",
        "{\"type\":\"join\"}",                                     /* no game_id */
        "{\"type\":\"watch\",\"game_id\":0}",
        "{\"type\":\"create\",\"vs\":\"robot\"}",
        "{\"type\":\"create\",\"level\":\"hard\"}",
        "{\"type\":\"create\",\"vs\":1}",
        "{\"type\":\"create\",\"name\":\"Ann\"}",                 /* a name: jansson */
        "{\"type\":\"pong\"}",
        "{\"type\":\"join\",\"game_id\":5,\"vs\":null}",
        "{\"type\":\"move\",\"game_id\":0,\"cell\":1}",
        "{\"type\":\"move\",\"game_id\":-1,\"cell\":1}",
        "{\"type\":\"move\",\"game_id\":1,\"cell\":9}",
        "{\"type\":\"move\",\"game_id\":1,\"cell\":-1}",
        "{\"type\":\"move\",\"game_id\":1,\"cell\":1,\"ply\":10}",
        "{\"type\":\"move\",\"game_id\":1,\"cell\":1,\"ply\":null}",
        "{\"type\":\"move\",\"game_id\":1,\"cell\":1.0}",
        "{\"type\":\"move\",\"game_id\":1,\"cell\":1e0}",
        "{\"type\":\"move\",\"game_id\":01,\"cell\":1}",
        "{\"type\":\"move\",\"game_id\":1,\"cell\":\"1\"}",
        "{\"type\":\"move\",\"game_id\":1,\"cell\":1,\"cell\":2}",   /* duplicate */
        "{\"type\":\"move\",\"game_id\":1,\"cell\":1,\"x\":2}",      /* another member */
        "{\"type\":\"mov\\u0065\",\"game_id\":1,\"cell\":1}",        /* an escape */
        "{\"type\":\"move\",\"game_id\":1,\"cell\":1}x",             /* trailing bytes */
        "{\"type\":\"move\",\"game_id\":1,\"cell\":1,}",
        "{\"type\":\"move\",\"game_id\":1,,\"cell\":1}",
        "{\"type\":\"move\"\"game_id\":1,\"cell\":1}",
        "{\"type\":\"move\",\"game_id\":1,\"cell\":1\f}",
        "{\"type\":\"move\",\"game_id\":99999999999999999999,\"cell\":1}",
        "{\"type\":\"move\",\"game_id\":1,\"cell\":1,\"id\":true}",
        "{\"type\":\"move\",\"game_id\":1,\"cell\":1,\"id\":"
        "\"01234567890123456789012345678901234567890123456789012345678901234\"}",
        "{\"type\":\"move\",\"game_id\":1,\"cell\":-}",
        "{\"type\":\"move\",\"game_id\":1,\"cell\":1",
    };
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        cr_assert(!compare(no[i]), "decided by the fast path: %s", no[i]);
    /* a NUL byte inside, and a message cut at every length */
    const char nul[] = "{\"type\":\"move\",\"game_id\":1,\"cell\":1\0}";
    cr_assert(!compare_n(nul, sizeof nul - 1));
    const char *full = "{\"type\":\"move\",\"id\":\"a\",\"game_id\":12,\"cell\":3,\"ply\":4}";
    for (size_t n = 0; n < strlen(full); n++)
        cr_assert(!compare_n(full, n), "a cut message was decided (%zu bytes)", n);
}

/* ---- generated messages ----------------------------------------------------------- */

static uint64_t rng = 0x243f6a8885a308d3ull;

static unsigned pick(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static const char *const ws_ok[] = {"", "", "", "", " ", "\t", "\n", "\r", "  ", " \r\n"};
static const char *const ws_bad[] = {"\f", "\v", "\xc2\xa0", "/**/"};
static const char *const ints[] = {
    "0", "1", "4", "8", "9", "10", "-1", "-0", "00", "01", "1.0", "1e0", "1E2", "0.5", "+1",
    "100", "123456789012345678", "999999999999999999", "1234567890123456789",
    "9223372036854775807", "9223372036854775808", "-9223372036854775808",
    "99999999999999999999", "1e400", "true", "false", "null", "\"4\"", "[]", "{}", "[4]", "-",
};
static const char *const types[] = {
    "\"move\"", "\"move\"", "\"move\"", "\"Move\"", "\"mov\"", "\"moves\"", "\"ping\"",
    "\"create\"", "\"join\"", "\"quick\"", "\"resume\"", "\"watch\"", "\"resign\"",
    "\"rematch\"", "\"list\"", "\"join \"",
    "\"mo\\u0076e\"", "\"move\\u0000\"", "\"\"", "1", "null", "\"m\xc3\xb6ve\"",
};
static const char *const ids[] = {
    "1", "-5", "\"\"", "\"abc\"", "\"a b\"", "\"\\n\"", "\"\\u00e9\"", "\"\xc3\xa9\"",
    "\"0123456789012345678901234567890123456789012345678901234567890123\"",
    "\"01234567890123456789012345678901234567890123456789012345678901234\"",
    "1.5", "null", "true", "[]", "\"\\u0000\"",
};
static const char *const keys[] = {
    "\"type\"", "\"id\"", "\"game_id\"", "\"cell\"", "\"ply\"", "\"vs\"", "\"level\"",
    "\"x\"", "\"Type\"", "\"ty\\u0070e\"", "\"\"", "\"cell \"", "\"name\"", "\"token\"",
};
static const char *const names[] = {
    "\"human\"", "\"computer\"", "\"easy\"", "\"perfect\"", "\"Human\"", "\"hard\"",
    "\"\"", "\"hum\\u0061n\"", "1", "null",
};

/* JSON white space, now and then something that is not */
static const char *ws(void)
{
    return pick(60) ? ws_ok[pick(sizeof ws_ok / sizeof ws_ok[0])]
                    : ws_bad[pick(sizeof ws_bad / sizeof ws_bad[0])];
}

static size_t put(char *b, size_t n, size_t cap, const char *s)
{
    size_t l = strlen(s);
    if (n + l >= cap)
        return n;
    memcpy(b + n, s, l);
    return n + l;
}

static const char *value_for(unsigned key)
{
    switch (key) {
    case 0: return types[pick(sizeof types / sizeof types[0])];
    case 1: return ids[pick(sizeof ids / sizeof ids[0])];
    case 5:
    case 6: return names[pick(sizeof names / sizeof names[0])];
    default: return ints[pick(sizeof ints / sizeof ints[0])];
    }
}

/* A message from pieces: mostly a valid move (so the fast path gets to
 * decide often), with every piece sometimes replaced by an edge. */
static size_t generate(char *b, size_t cap)
{
    size_t n = 0;
    unsigned order[8], nk = 0;
    n = put(b, n, cap, ws());
    n = put(b, n, cap, "{");
    /* the four usual members in a random order, some left out, sometimes
     * an id, an unknown member or a duplicate */
    unsigned base[] = {0, 2, 3, 4};
    for (unsigned i = 0; i < 4; i++)
        if (pick(12))
            order[nk++] = base[i];
    if (pick(3) == 0)
        order[nk++] = 1;
    if (pick(4) == 0)
        order[nk++] = 5 + pick(2);   /* vs or level */
    if (pick(10) == 0)
        order[nk++] = pick(sizeof keys / sizeof keys[0]);
    for (unsigned i = nk; i > 1; i--) {
        unsigned j = pick(i), t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    for (unsigned i = 0; i < nk; i++) {
        if (i)
            n = put(b, n, cap, pick(40) ? "," : pick(2) ? "" : ",,");
        n = put(b, n, cap, ws());
        n = put(b, n, cap, keys[order[i]]);
        n = put(b, n, cap, ws());
        n = put(b, n, cap, pick(50) ? ":" : "");
        n = put(b, n, cap, ws());
        if (order[i] == 0 && pick(3))
            n = put(b, n, cap, pick(3) ? "\"move\"" : types[pick(sizeof types / sizeof types[0])]);
        else if ((order[i] == 2 || order[i] == 3 || order[i] == 4) && pick(3)) {
            char num[24];
            snprintf(num, sizeof num, "%u", order[i] == 2 ? 1 + pick(100000) : pick(10));
            n = put(b, n, cap, num);
        } else {
            n = put(b, n, cap, value_for(order[i] < 7 ? order[i] : 2));
        }
        n = put(b, n, cap, ws());
    }
    n = put(b, n, cap, pick(40) ? "}" : "");
    n = put(b, n, cap, ws());
    if (pick(40) == 0)
        n = put(b, n, cap, pick(2) ? "x" : "{}");
    return n;
}

Test(proto_fast, generated_and_mutated, .description = "150,000 edge-built messages, each also mutated")
{
    char b[512];
    decided = agreed_general_ok = 0;
    for (int i = 0; i < 150000; i++) {
        size_t n = generate(b, sizeof b);
        compare_n(b, n);
        /* one to three random byte changes of the same message */
        for (unsigned k = 1 + pick(3); k > 0 && n > 0; k--) {
            size_t at = pick((unsigned)n);
            switch (pick(3)) {
            case 0: b[at] = (char)pick(256); break;
            case 1: memmove(b + at, b + at + 1, n - at - 1); n--; break;
            default:
                if (n + 1 < sizeof b) {
                    memmove(b + at + 1, b + at, n - at);
                    b[at] = "{}[]\",:0-9e. \\\"x"[pick(16)];
                    n++;
                }
            }
        }
        compare_n(b, n);
    }
    cr_log_info("fast path: %lu inputs decided, %lu accepted by the general path", decided,
                agreed_general_ok);
    /* the generator must reach both sides, or this test proves nothing */
    cr_assert_gt(decided, 10000, "only %lu inputs took the fast path", decided);
    cr_assert_gt(agreed_general_ok, decided, "every accepted input took the fast path");
}
