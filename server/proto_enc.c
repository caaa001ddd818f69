/* proto_enc.c -- encoding server messages (proto.h's "Encoding: server to
 * client"). The "state" encoder, the hot path (one encoding per move, the
 * same bytes sent to every player and spectator), is written by hand into
 * the caller's block; its only free text, player names, is checked against
 * the name rule and escaped here. The short replies of every game (joined,
 * watching, rematch_offer, pong) are written by hand too, when nothing in
 * them needs escaping. The other encoders, and those with a string id, build a small
 * jansson tree and dump it straight into the block, so that escaping of
 * ids, messages and server names is jansson's, not ours. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto_int.h"

/* Default human sentences for proto_encode_error(message == NULL). */
static const char *const proto_err_messages[PROTO_ERR_COUNT] = {
    "no error",
    "the message is not valid JSON",
    "a field is missing or has the wrong type or range",
    "unknown message type",
    "there is no such game",
    "that game already has two players",
    "you have no seat in that game",
    "the game has not started: there is no opponent yet",
    "it is not your turn",
    "that cell is taken",
    "your view of the game is out of date",
    "the game is over",
    "that seat token is not valid",
    "too many messages: slow down",
    "the server cannot reach its store right now; nothing was changed"
};

/* ---- Encoding: the block ------------------------------------------------ */

/* First guess at a dumped message's size: every reply but a long "games"
 * list fits, so one malloc and one dump is the common case. */
#define PROTO_DUMP_GUESS 256

/* Dump o (consumed) into a fresh block at headroom. The block may be a little
 * larger than headroom + *len + 1; callers only rely on that much. */
char *proto__dump(json_t *o, size_t headroom, size_t *len) {
    size_t cap = PROTO_DUMP_GUESS, n;
    char *block = NULL, *nb;

    if (o == NULL || headroom > SIZE_MAX / 2)
        goto fail;
    if ((block = malloc(headroom + cap + 1)) == NULL)
        goto fail;
    n = json_dumpb(o, block + headroom, cap, JSON_COMPACT);
    if (n == 0)
        goto fail;
    if (n > cap) {
        if ((nb = realloc(block, headroom + n + 1)) == NULL)
            goto fail;
        block = nb;
        if (json_dumpb(o, block + headroom, n, JSON_COMPACT) != n)
            goto fail;
    }
    block[headroom + n] = '\0';
    *len = n;
    json_decref(o);
    return block;
fail:
    free(block);
    json_decref(o);
    return NULL;
}

/* Add "id" to o when id carries one. Consumes o on failure (returns NULL). */
json_t *proto__with_id(json_t *o, const proto_id *id) {
    json_t *v;

    if (o == NULL || id == NULL || id->kind == PROTO_ID_NONE)
        return o;
    if (id->kind == PROTO_ID_INT)
        v = json_integer(id->num);
    else if (id->kind == PROTO_ID_STRING && id->len <= PROTO_MAX_ID)
        v = json_stringn(id->str, id->len);  /* NULL for invalid UTF-8 */
    else
        v = NULL;
    if (json_object_set_new(o, "id", v) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *proto__msg_new(const char *type) {
    return json_pack("{ss}", "type", type);
}
/* ---- Encoding: short messages by hand ---------------------------------- */

static char *put_lit(char *p, const char *s) {
    size_t n = strlen(s);   /* short constants; folded for literals */
    memcpy(p, s, n);
    return p + n;
}

static char *put_i64(char *p, int64_t v) {
    char tmp[20];
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    int n = 0;

    if (v < 0)
        *p++ = '-';
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* The replies of every game (joined, watching, rematch_offer) and pong,
 * without a jansson tree: building and dumping one cost about 16,000
 * instructions and a handful of allocations per "joined", twice per game.
 * Only what needs no escaping is written here: an integer id or none, and
 * strings the server made (marks, hex tokens). A string id, whose escaping
 * is jansson's, takes the jansson path. The text is byte for byte what that
 * path writes (test_proto's encode/short_by_hand compares them). */
/* the longest is "joined" with a 64-byte token and a 20-digit game_id and id: 161 */
#define PROTO_SHORT_MAX 192

/* 1 when id can go out by hand: none, or an integer */
static int id_by_hand(const proto_id *id) {
    return id == NULL || id->kind == PROTO_ID_NONE || id->kind == PROTO_ID_INT;
}

/* 1 for a string of 1..64 bytes of [0-9A-Za-z_-]: nothing to escape */
static int plain_token(const char *t) {
    size_t n = 0;

    for (; t[n]; n++)
        if (n == 64 || !((t[n] >= '0' && t[n] <= '9') || (t[n] >= 'a' && t[n] <= 'z') ||
                         (t[n] >= 'A' && t[n] <= 'Z') || t[n] == '_' || t[n] == '-'))
            return 0;
    return n > 0;
}

/* A fresh block at headroom whose text starts {"type":"TYPE"; *p is where
 * the rest goes. NULL out of memory. */
static char *short_begin(const char *type, size_t headroom, char **p) {
    char *block;

    if (headroom > SIZE_MAX / 2 || (block = malloc(headroom + PROTO_SHORT_MAX)) == NULL)
        return NULL;
    *p = put_lit(block + headroom, "{\"type\":\"");
    *p = put_lit(*p, type);
    **p = '"';
    (*p)++;
    return block;
}

/* ,"id":N when id carries one, the closing brace and the NUL */
static char *short_end(char *block, size_t headroom, char *p, const proto_id *id, size_t *len) {
    if (id && id->kind == PROTO_ID_INT) {
        p = put_lit(p, ",\"id\":");
        p = put_i64(p, id->num);
    }
    *p++ = '}';
    *p = '\0';
    *len = (size_t)(p - (block + headroom));
    return block;
}

/* short_begin, then ,"game_id":N */
static char *short_game_begin(const char *type, int64_t game_id, size_t headroom, char **p) {
    char *block = short_begin(type, headroom, p);

    if (block) {
        *p = put_lit(*p, ",\"game_id\":");
        *p = put_i64(*p, game_id);
    }
    return block;
}

/* {"type":"TYPE","game_id":N[,"id":I]} */
static char *short_game(const char *type, const proto_id *id, int64_t game_id,
                        size_t headroom, size_t *len) {
    char *p, *block = short_game_begin(type, game_id, headroom, &p);

    return block ? short_end(block, headroom, p, id, len) : NULL;
}

/* ---- Encoding: server to client ----------------------------------------- */

char *proto_encode_welcome(const char *server, size_t headroom, size_t *len) {
    return proto__dump(json_pack("{sssssi}", "type", "welcome",
                                "server", server ? server : "",
                                "protocol", PROTO_VERSION),
                      headroom, len);
}

char *proto_encode_joined(const proto_id *id, int64_t game_id, game_mark mark,
                          const char *token, size_t headroom, size_t *len) {
    char *p, *block;

    if ((unsigned)mark >= NELEM(proto__mark_names) || !proto__mark_names[mark] || !token)
        return NULL;
    if (id_by_hand(id) && plain_token(token)) {
        if ((block = short_game_begin("joined", game_id, headroom, &p)) == NULL)
            return NULL;
        p = put_lit(p, ",\"mark\":\"");
        p = put_lit(p, proto__mark_names[mark]);
        p = put_lit(p, "\",\"token\":\"");
        p = put_lit(p, token);
        *p++ = '"';
        return short_end(block, headroom, p, id, len);
    }
    return proto__dump(proto__with_id(json_pack("{sssIssss}", "type", "joined",
                                        "game_id", (json_int_t)game_id,
                                        "mark", proto__mark_names[mark],
                                        "token", token), id),
                      headroom, len);
}

char *proto_encode_watching(const proto_id *id, int64_t game_id,
                            size_t headroom, size_t *len) {
    if (id_by_hand(id))
        return short_game("watching", id, game_id, headroom, len);
    return proto__dump(proto__with_id(json_pack("{sssI}", "type", "watching",
                                        "game_id", (json_int_t)game_id), id),
                      headroom, len);
}

char *proto_encode_rematch_offer(int64_t game_id, size_t headroom, size_t *len) {
    return short_game("rematch_offer", NULL, game_id, headroom, len);
}

char *proto_encode_games(const proto_id *id, const proto_game_entry *games,
                         size_t n, size_t headroom, size_t *len) {
    return proto_encode_games_named(id, games, NULL, n, headroom, len);
}

/* A name for the wire: the string when it keeps the rule, else null. */
static json_t *name_value(const char *name) {
    return name && proto_name_valid(name) ? json_string(name) : json_null();
}

char *proto_encode_games_named(const proto_id *id, const proto_game_entry *games,
                               const char *const *names, size_t n,
                               size_t headroom, size_t *len) {
    json_t *o = NULL, *list, *e;
    size_t i;

    if ((list = json_array()) == NULL)
        goto fail;
    for (i = 0; i < n; i++) {
        e = json_pack("{sIsI}", "game_id", (json_int_t)games[i].game_id,
                      "age_s", (json_int_t)games[i].age_s);
        if (e && names && json_object_set_new(e, "name", name_value(names[i])) < 0) {
            json_decref(e);
            e = NULL;
        }
        if (json_array_append_new(list, e) < 0)
            goto fail;
    }
    o = json_pack("{ssso}", "type", "games", "games", list); /* steals list */
    return proto__dump(proto__with_id(o, id), headroom, len);
fail:
    json_decref(list);
    return NULL;
}

char *proto_encode_pong(const proto_id *id, size_t headroom, size_t *len) {
    char *p, *block;

    if (id_by_hand(id))
        return (block = short_begin("pong", headroom, &p)) ? short_end(block, headroom, p, id, len)
                                                           : NULL;
    return proto__dump(proto__with_id(proto__msg_new("pong"), id), headroom, len);
}

char *proto_encode_error(const proto_id *id, proto_err code, const char *message,
                         size_t headroom, size_t *len) {
    if (code <= PROTO_OK || code >= PROTO_ERR_COUNT)
        return NULL;
    return proto__dump(proto__with_id(json_pack("{ssssss}", "type", "error",
                                        "code", proto__err_names[code],
                                        "message", message ? message
                                                   : proto_err_messages[code]),
                              id),
                      headroom, len);
}

/* ---- The state encoder, by hand ----------------------------------------- */

/* PROTO_STATE_MAX (proto.h): the longest state of version 1 is about 230
 * bytes: a 20-digit game_id, nine moves, "abandon", a line and two
 * "connected" seats. The additions add at most about 420: two names of 96
 * bytes (24 code points, or 48 bytes when every one is a quote or a
 * backslash that needs escaping), four 10-digit counts and nine 10-digit
 * times. */

/* "name" or null */
static char *put_name(char *p, const char *name) {
    if (!name)
        return put_lit(p, "null");
    *p++ = '"';
    p = put_lit(p, name);
    *p++ = '"';
    return p;
}

static char *put_u32(char *p, uint32_t v) {
    return put_i64(p, (int64_t)v);
}

/* A player's name as a JSON string, or null when it is none or breaks the
 * rule (a stored name is hostile until checked). A name that keeps the rule
 * has no control character, so only '"' and '\\' need escaping. */
static char *put_player(char *p, const char *name) {
    if (!name || !proto_name_valid(name))
        return put_lit(p, "null");
    *p++ = '"';
    for (; *name; name++) {
        if (*name == '"' || *name == '\\')
            *p++ = '\\';
        *p++ = *name;
    }
    *p++ = '"';
    return p;
}

/* ,"names":{..},"series":{..},"times":[..] */
static char *put_more(char *p, const game_state *st, const proto_state_more *m) {
    /* series[] is games, X, O, draws: the keys in that order */
    static const char *const series_key[4] = {"},\"series\":{\"games\":", ",\"X\":",
                                              ",\"O\":", ",\"draws\":"};
    int i;

    p = put_lit(p, ",\"names\":{\"X\":");
    p = put_player(p, m->names[0]);
    p = put_lit(p, ",\"O\":");
    p = put_player(p, m->names[1]);
    for (i = 0; i < 4; i++) {
        p = put_lit(p, series_key[i]);
        p = put_u32(p, m->series[i]);
    }
    p = put_lit(p, "},\"times\":[");
    for (i = 0; i < st->ply; i++) {
        if (i)
            *p++ = ',';
        p = put_u32(p, m->times ? m->times[i] : 0);
    }
    *p++ = ']';
    return p;
}

char *proto_encode_state(const proto_state *s, size_t headroom, size_t *len) {
    return proto_encode_state_full(s, NULL, headroom, len);
}

char *proto_encode_state_full(const proto_state *s, const proto_state_more *more,
                              size_t headroom, size_t *len) {
    char *block;
    size_t n;

    if (headroom > SIZE_MAX / 2 || (block = malloc(headroom + PROTO_STATE_MAX)) == NULL)
        return NULL;
    if ((n = proto_encode_state_to(s, more, block + headroom, PROTO_STATE_MAX)) == 0) {
        free(block);
        return NULL;
    }
    *len = n;
    return block;
}

size_t proto_encode_state_to(const proto_state *s, const proto_state_more *more,
                             char *buf, size_t cap) {
    const game_state *st;
    const char *result;
    char *p;
    int i, has_line;
    game_mark turn;

    if (s == NULL || (st = s->st) == NULL || buf == NULL || cap < PROTO_STATE_MAX)
        return 0;
    /* A state outside the enums is a caller bug; refuse it rather than put
     * text on the wire that no client can parse. */
    if (st->ply > GAME_CELLS || st->status >= NELEM(proto__status_names) ||
        st->result >= NELEM(proto__result_names) || st->winner >= NELEM(proto__mark_names) ||
        s->seat[0] >= NELEM(proto__seat_names) || s->seat[1] >= NELEM(proto__seat_names))
        return 0;
    for (i = 0; i < st->ply; i++)
        if (st->moves[i] >= GAME_CELLS)
            return 0;
    /* line only for a win; a zero-filled state's {0,0,0} is no line. */
    has_line = st->result == GAME_RESULT_WIN;
    for (i = 0; i < 3; i++)
        if (st->line[i] < 0 || st->line[i] >= GAME_CELLS)
            has_line = 0;

    p = buf;
    p = put_lit(p, "{\"type\":\"state\",\"game_id\":");
    p = put_i64(p, s->game_id);
    p = put_lit(p, ",\"board\":\"");
    for (i = 0; i < GAME_CELLS; i++)
        *p++ = (st->board.x >> i) & 1 ? 'X' : (st->board.o >> i) & 1 ? 'O' : '.';
    p = put_lit(p, "\",\"moves\":[");
    for (i = 0; i < st->ply; i++) {
        if (i)
            *p++ = ',';
        *p++ = (char)('0' + st->moves[i]);
    }
    p = put_lit(p, "],\"ply\":");
    *p++ = (char)('0' + st->ply);
    p = put_lit(p, ",\"turn\":");
    turn = game_state_turn(st);
    p = put_name(p, turn != GAME_NONE ? proto__mark_names[turn] : NULL);
    p = put_lit(p, ",\"status\":");
    p = put_name(p, proto__status_names[st->status]);
    result = proto__result_names[st->result];
    p = put_lit(p, ",\"result\":");
    p = put_name(p, result);
    p = put_lit(p, ",\"winner\":");
    p = put_name(p, proto__mark_names[st->winner]);
    p = put_lit(p, ",\"line\":");
    if (has_line) {
        *p++ = '[';
        *p++ = (char)('0' + st->line[0]);
        *p++ = ',';
        *p++ = (char)('0' + st->line[1]);
        *p++ = ',';
        *p++ = (char)('0' + st->line[2]);
        *p++ = ']';
    } else {
        p = put_lit(p, "null");
    }
    p = put_lit(p, ",\"players\":{\"X\":");
    p = put_name(p, proto__seat_names[s->seat[0]]);
    p = put_lit(p, ",\"O\":");
    p = put_name(p, proto__seat_names[s->seat[1]]);
    *p++ = '}';
    if (more)
        p = put_more(p, st, more);
    *p++ = '}';
    *p = '\0';
    return (size_t)(p - buf);
}

