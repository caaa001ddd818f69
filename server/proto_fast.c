/* proto_fast.c -- the move request without jansson (proto_fast.h).
 *
 * Accepted, and nothing else: a JSON object, with JSON white space (space,
 * tab, LF, CR) around any token, whose members are each at most once
 * "type" (the string "move"), "game_id" (an integer >= 1), "cell" (0..8),
 * "ply" (0..9, optional) and "id" (an integer, or a string of at most 64
 * bytes). Keys and strings must be printable ASCII without escapes, and
 * integers at most 18 digits, so that no case of UTF-8, escapes or overflow
 * has to be decided here: those go to jansson, as do duplicates, unknown
 * members and every error. What is accepted is what proto_parse's general
 * path accepts, with the same proto_req. */
#include "proto_fast.h"

#include <stdint.h>
#include <string.h>

#define MAX_DIGITS 18   /* 10^18 - 1 fits int64_t with no overflow check */

typedef struct scan {
    const char *p, *end;
} scan;

static void skip_ws(scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* A string of printable ASCII other than '"' and '\\': 0 and its bounds,
 * or -1 (not one we decide). */
static int scan_string(scan *s, const char **str, size_t *len)
{
    if (s->p >= s->end || *s->p != '"')
        return -1;
    const char *b = ++s->p;
    while (s->p < s->end) {
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') {
            *str = b;
            *len = (size_t)(s->p - b);
            s->p++;
            return 0;
        }
        if (c < 0x20 || c > 0x7e || c == '\\')
            return -1;
        s->p++;
    }
    return -1;
}

/* A JSON integer (no fraction, no exponent) of at most MAX_DIGITS digits. */
static int scan_int(scan *s, int64_t *out)
{
    int neg = 0;
    if (s->p < s->end && *s->p == '-') {
        neg = 1;
        s->p++;
    }
    const char *b = s->p;
    int64_t v = 0;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
        if (s->p - b == MAX_DIGITS)
            return -1;   /* checked before the digit is added: no overflow */
        v = v * 10 + (*s->p - '0');
        s->p++;
    }
    size_t n = (size_t)(s->p - b);
    if (n == 0 || (n > 1 && *b == '0'))
        return -1;   /* no digits, or a leading zero (jansson refuses it) */
    if (s->p < s->end && (*s->p == '.' || *s->p == 'e' || *s->p == 'E'))
        return -1;   /* a real, not an integer */
    *out = neg ? -v : v;
    return 0;
}

enum { K_TYPE, K_ID, K_GAME_ID, K_CELL, K_PLY, K_COUNT };

static int key_index(const char *k, size_t n)
{
    static const char *const names[K_COUNT] = {"type", "id", "game_id", "cell", "ply"};
    for (int i = 0; i < K_COUNT; i++)
        if (strlen(names[i]) == n && memcmp(names[i], k, n) == 0)
            return i;
    return -1;
}

int proto_fast_parse(const char *buf, size_t len, proto_req *req)
{
    if (!buf)
        return 0;
    scan s = {buf, buf + len};
    unsigned seen = 0;
    int64_t game_id = 0, cell = 0, ply = -1;
    proto_id id;
    memset(&id, 0, sizeof id);

    skip_ws(&s);
    if (s.p >= s.end || *s.p++ != '{')
        return 0;
    skip_ws(&s);
    if (s.p < s.end && *s.p == '}')
        return 0;   /* {}: no type, an error: the general path says which */
    for (;;) {
        const char *k, *str;
        size_t kn, sn;
        int64_t n;
        skip_ws(&s);
        if (scan_string(&s, &k, &kn) != 0)
            return 0;
        int key = key_index(k, kn);
        if (key < 0 || (seen & (1u << key)))
            return 0;   /* another member, or a duplicate */
        seen |= 1u << key;
        skip_ws(&s);
        if (s.p >= s.end || *s.p++ != ':')
            return 0;
        skip_ws(&s);
        if (s.p >= s.end)
            return 0;
        if (key == K_TYPE || (key == K_ID && *s.p == '"')) {
            if (scan_string(&s, &str, &sn) != 0)
                return 0;
            if (key == K_TYPE && !(sn == 4 && memcmp(str, "move", 4) == 0))
                return 0;
            if (key == K_ID) {
                if (sn > PROTO_MAX_ID)
                    return 0;
                memcpy(id.str, str, sn);
                id.str[sn] = '\0';
                id.len = (uint8_t)sn;
                id.kind = PROTO_ID_STRING;
            }
        } else {
            if (scan_int(&s, &n) != 0)
                return 0;
            switch (key) {
            case K_ID:
                id.kind = PROTO_ID_INT;
                id.num = n;
                break;
            case K_GAME_ID:
                if (n < 1)
                    return 0;
                game_id = n;
                break;
            case K_CELL:
                if (n < 0 || n > GAME_CELLS - 1)
                    return 0;
                cell = n;
                break;
            default:   /* K_PLY */
                if (n < 0 || n > GAME_CELLS)
                    return 0;
                ply = n;
                break;
            }
        }
        skip_ws(&s);
        if (s.p >= s.end)
            return 0;
        if (*s.p == ',') {
            s.p++;
            continue;
        }
        if (*s.p++ != '}')
            return 0;
        break;
    }
    skip_ws(&s);
    if (s.p != s.end)
        return 0;   /* trailing bytes */
    if (!(seen & (1u << K_TYPE)) || !(seen & (1u << K_GAME_ID)) || !(seen & (1u << K_CELL)))
        return 0;
    memset(req, 0, sizeof(*req));
    req->type = PROTO_MOVE;
    req->id = id;
    req->game_id = game_id;
    req->cell = (int)cell;
    req->ply = (int)ply;
    return 1;
}
