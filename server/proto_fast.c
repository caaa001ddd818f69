/* proto_fast.c -- the common requests without jansson (proto_fast.h).
 *
 * Accepted, and nothing else: a JSON object, with JSON white space (space,
 * tab, LF, CR) around any token, whose members are each at most once among
 * "type", "id" (an integer, or a string of at most 64 bytes), "game_id",
 * "cell", "ply" (integers) and "vs", "level" (strings), and which is a valid
 * request of its type by proto.c's rules (move, join, watch, resign,
 * rematch, create, quick, list, ping; never resume). Keys and strings must
 * be printable ASCII without escapes, and integers at most 18 digits, so
 * that no case of UTF-8, escapes or overflow has to be decided here: those
 * go to jansson, as do duplicates, other members (a name, a token) and every
 * error. What is accepted is what proto_parse's general path accepts, with
 * the same proto_req. */
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

enum { K_TYPE, K_ID, K_GAME_ID, K_CELL, K_PLY, K_VS, K_LEVEL, K_COUNT };

static int key_index(const char *k, size_t n)
{
    static const char *const names[K_COUNT] = {"type", "id", "game_id", "cell", "ply", "vs",
                                               "level"};
    for (int i = 0; i < K_COUNT; i++)
        if (strlen(names[i]) == n && memcmp(names[i], k, n) == 0)
            return i;
    return -1;
}

/* Index of the n bytes at str in names[], or -1. */
static int name_index(const char *str, size_t n, const char *const *names, int count)
{
    for (int i = 0; i < count; i++)
        if (strlen(names[i]) == n && memcmp(names[i], str, n) == 0)
            return i;
    return -1;
}

/* The members as read: each seen at most once; what they mean depends on
 * the type, which may come last, so it is decided at the end. */
typedef struct members {
    unsigned seen;
    int type, vs, level;          /* indices into their tables, -1: not in them */
    int64_t game_id, cell, ply;
    proto_id id;
} members;

static int scan_members(scan *s, members *m)
{
    static const char *const types[] = {"create", "join", "quick", "resume", "watch",
                                        "move", "resign", "rematch", "list", "ping"};
    static const char *const vs[] = {"human", "computer"};
    static const char *const levels[] = {"easy", "perfect"};
    _Static_assert(sizeof types / sizeof types[0] == PROTO_TYPE_COUNT, "the type table");
    skip_ws(s);
    if (s->p >= s->end || *s->p++ != '{')
        return -1;
    skip_ws(s);
    if (s->p < s->end && *s->p == '}')
        return -1;   /* {}: no type, an error: the general path says which */
    for (;;) {
        const char *k, *str;
        size_t kn, sn;
        int64_t n;
        skip_ws(s);
        if (scan_string(s, &k, &kn) != 0)
            return -1;
        int key = key_index(k, kn);
        if (key < 0 || (m->seen & (1u << key)))
            return -1;   /* another member, or a duplicate */
        m->seen |= 1u << key;
        skip_ws(s);
        if (s->p >= s->end || *s->p++ != ':')
            return -1;
        skip_ws(s);
        if (s->p >= s->end)
            return -1;
        if (key == K_TYPE || key == K_VS || key == K_LEVEL || (key == K_ID && *s->p == '"')) {
            if (scan_string(s, &str, &sn) != 0)
                return -1;
            switch (key) {
            case K_TYPE: m->type = name_index(str, sn, types, PROTO_TYPE_COUNT); break;
            case K_VS: m->vs = name_index(str, sn, vs, 2); break;
            case K_LEVEL: m->level = name_index(str, sn, levels, 2); break;
            default:   /* K_ID */
                if (sn > PROTO_MAX_ID)
                    return -1;
                memcpy(m->id.str, str, sn);
                m->id.str[sn] = '\0';
                m->id.len = (uint8_t)sn;
                m->id.kind = PROTO_ID_STRING;
            }
        } else {
            if (scan_int(s, &n) != 0)
                return -1;
            switch (key) {
            case K_ID:
                m->id.kind = PROTO_ID_INT;
                m->id.num = n;
                break;
            case K_GAME_ID: m->game_id = n; break;
            case K_CELL: m->cell = n; break;
            default: m->ply = n; break;   /* K_PLY */
            }
        }
        skip_ws(s);
        if (s->p >= s->end)
            return -1;
        if (*s->p == ',') {
            s->p++;
            continue;
        }
        if (*s->p++ != '}')
            return -1;
        break;
    }
    skip_ws(s);
    return s->p == s->end ? 0 : -1;   /* nothing may follow */
}

#define HAS(m, k) ((m)->seen & (1u << (k)))

int proto_fast_parse(const char *buf, size_t len, proto_req *req)
{
    if (!buf)
        return 0;
    scan s = {buf, buf + len};
    members m;
    memset(&m, 0, sizeof m);
    m.type = m.vs = m.level = -1;
    if (scan_members(&s, &m) != 0 || m.type < 0)
        return 0;
    /* the rules of proto.c's parse_fields, for valid messages only; a
     * member a type does not read is ignored there, and here too (it was
     * well-formed, or we would not be here) */
    int game_id_ok = HAS(&m, K_GAME_ID) && m.game_id >= 1;
    memset(req, 0, sizeof(*req));
    switch ((proto_type)m.type) {
    case PROTO_CREATE:
        if ((HAS(&m, K_VS) && m.vs < 0) || (HAS(&m, K_LEVEL) && m.level < 0))
            return 0;
        req->vs_computer = (uint8_t)(HAS(&m, K_VS) ? m.vs : 0);
        req->level = (uint8_t)(HAS(&m, K_LEVEL) && m.level == 0 ? GAME_AI_EASY
                                                                 : GAME_AI_PERFECT);
        break;
    case PROTO_JOIN:
    case PROTO_WATCH:
    case PROTO_RESIGN:
    case PROTO_REMATCH:
        if (!game_id_ok)
            return 0;
        req->game_id = m.game_id;
        break;
    case PROTO_MOVE:
        if (!game_id_ok || !HAS(&m, K_CELL) || m.cell < 0 || m.cell > GAME_CELLS - 1 ||
            (HAS(&m, K_PLY) && (m.ply < 0 || m.ply > GAME_CELLS)))
            return 0;
        req->game_id = m.game_id;
        req->cell = (int)m.cell;
        req->ply = HAS(&m, K_PLY) ? (int)m.ply : -1;
        break;
    case PROTO_QUICK:
    case PROTO_LIST:
    case PROTO_PING:
        break;
    default:
        return 0;   /* resume (its token), or anything new: the general path */
    }
    req->type = (proto_type)m.type;
    req->id = m.id;
    return 1;
}
