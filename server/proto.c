/* proto.c -- the wire contract in code: client JSON frames to proto_req,
 * server messages to JSON text, and the same two directions for clients.
 *
 * The only file that includes jansson. Parsing goes through one json_loadb
 * per frame; the "state" encoder, the hot path (one encoding per move, the
 * same bytes sent to every player and spectator), is written by hand into the
 * caller's block because it carries no free text. The other encoders build a
 * small jansson tree and dump it straight into the block, so that escaping of
 * ids, messages and server names is jansson's, not ours. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "proto.h"
#include "proto_fast.h"

/* ---- Names ------------------------------------------------------------- */

static const char *const proto_err_names[PROTO_ERR_COUNT] = {
    "ok", "bad_json", "bad_message", "unknown_type", "no_such_game",
    "game_full", "not_in_game", "not_playing", "not_your_turn", "cell_taken",
    "stale", "game_over", "bad_token", "rate_limited", "unavailable"
};

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

static const char *const proto_type_names[PROTO_TYPE_COUNT] = {
    "create", "join", "quick", "resume", "watch", "move", "resign",
    "rematch", "list", "ping"
};

static const char *const proto_server_type_names[PROTO_S_TYPE_COUNT] = {
    "welcome", "joined", "watching", "state", "rematch_offer", "games",
    "pong", "error"
};

/* Indexed by the game.h / proto.h enums; NULL where the wire says null. */
static const char *const seat_names[] = { "open", "connected", "away" };
static const char *const status_names[] = { "waiting", "playing", "over" };
static const char *const result_names[] = {
    NULL, "win", "draw", "resign", "abandon"
};
static const char *const mark_names[] = { NULL, "X", "O" };
static const char *const vs_names[] = { "human", "computer" };
static const char *const level_names[] = { "easy", "perfect" };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *proto_err_name(proto_err e) {
    if ((unsigned)e >= PROTO_ERR_COUNT)
        return "unknown";
    return proto_err_names[e];
}

const char *proto_type_name(proto_type t) {
    if ((unsigned)t >= PROTO_TYPE_COUNT)
        return "unknown";
    return proto_type_names[t];
}

/* ---- Decoding helpers -------------------------------------------------- */

/* Index of string value v in names[0..n-1] (NULL entries never match), or -1
 * when v is not a string or not in the table. Lengths are compared first, so
 * a value with an embedded NUL ("ping\u0000") matches nothing. */
static int json_str_index(const json_t *v, const char *const *names, size_t n) {
    const char *s;
    size_t len, i;

    if (!json_is_string(v))
        return -1;
    s = json_string_value(v);
    len = json_string_length(v);
    for (i = 0; i < n; i++) {
        if (names[i] && strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
            return (int)i;
    }
    return -1;
}

/* Integer member key of o. Returns 0 when absent, 1 when set, -1 when present
 * but not a JSON integer in [lo, hi]. JSON null counts as present: the
 * contract has no "null means absent" rule, and strictness is cheaper to
 * relax later than to tighten. */
static int json_get_int(const json_t *o, const char *key, int64_t lo,
                        int64_t hi, int64_t *out) {
    json_t *v = json_object_get(o, key);
    json_int_t n;

    if (!v)
        return 0;
    if (!json_is_integer(v))
        return -1;
    n = json_integer_value(v);
    if (n < lo || n > hi)
        return -1;
    *out = n;
    return 1;
}

/* An "id" member: a string of at most PROTO_MAX_ID bytes or an integer.
 * *id is written only on success, so a refused id is never echoed. */
static int json_get_id(const json_t *v, proto_id *id) {
    size_t len;

    if (json_is_integer(v)) {
        id->kind = PROTO_ID_INT;
        id->num = json_integer_value(v);
        return 0;
    }
    if (!json_is_string(v))
        return -1;
    len = json_string_length(v);
    if (len > PROTO_MAX_ID)
        return -1;
    memcpy(id->str, json_string_value(v), len);
    id->str[len] = '\0';
    id->len = (uint8_t)len;
    id->kind = PROTO_ID_STRING;
    return 0;
}

/* json_loadb, with the flags both directions share: any top-level value (so
 * that "valid JSON, not an object" can be told apart from "not JSON"),
 * duplicate keys refused (which value would count is a guess we'd rather not
 * make), "\u0000" allowed (ids may carry it; fields compare by length). */
static json_t *proto_load(const char *buf, size_t len, proto_err *err) {
    json_error_t jerr;
    json_t *root;

    if (buf == NULL) {
        *err = PROTO_EBAD_JSON;
        return NULL;
    }
    root = json_loadb(buf, len,
                      JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                      &jerr);
    if (root)
        return root;
    /* Well-formed text that we still cannot take as a message: a duplicate
     * key, or a number beyond int64/double. That is a field fault, not a
     * syntax fault. Everything else (syntax, bad UTF-8, a raw NUL byte, and
     * also jansson running out of memory, for want of a better code) is
     * bad_json. */
    switch (json_error_code(&jerr)) {
    case json_error_duplicate_key:
    case json_error_numeric_overflow:
        *err = PROTO_EBAD_MESSAGE;
        break;
    default:
        *err = PROTO_EBAD_JSON;
        break;
    }
    return NULL;
}

/* ---- Parsing client messages -------------------------------------------- */

static proto_err parse_game_id(const json_t *o, proto_req *req) {
    return json_get_int(o, "game_id", 1, INT64_MAX, &req->game_id) == 1
           ? PROTO_OK : PROTO_EBAD_MESSAGE;
}

static proto_err parse_fields(const json_t *o, proto_req *req) {
    json_t *v;
    int64_t n;
    int i;
    size_t len;

    switch (req->type) {
    case PROTO_CREATE:
        req->level = GAME_AI_PERFECT;
        if ((v = json_object_get(o, "vs")) != NULL) {
            if ((i = json_str_index(v, vs_names, NELEM(vs_names))) < 0)
                return PROTO_EBAD_MESSAGE;
            req->vs_computer = (uint8_t)i;
        }
        /* level with vs human is accepted and ignored by the game manager:
         * the contract calls it "computer only", not "forbidden otherwise". */
        if ((v = json_object_get(o, "level")) != NULL) {
            if ((i = json_str_index(v, level_names, NELEM(level_names))) < 0)
                return PROTO_EBAD_MESSAGE;
            req->level = (uint8_t)(i == 0 ? GAME_AI_EASY : GAME_AI_PERFECT);
        }
        return PROTO_OK;

    case PROTO_JOIN:
    case PROTO_WATCH:
    case PROTO_RESIGN:
    case PROTO_REMATCH:
        return parse_game_id(o, req);

    case PROTO_RESUME:
        if (parse_game_id(o, req) != PROTO_OK)
            return PROTO_EBAD_MESSAGE;
        v = json_object_get(o, "token");
        if (!json_is_string(v) || (len = json_string_length(v)) > PROTO_MAX_ID)
            return PROTO_EBAD_MESSAGE;
        /* Any length up to 64 bytes passes here; token[] keeps at most the
         * first PROTO_TOKEN_LEN of them and token_len the real length, so
         * the caller's check (len == 32, lowercase hex) sees the truth. */
        req->token_len = (uint8_t)len;
        if (len > PROTO_TOKEN_LEN)
            len = PROTO_TOKEN_LEN;
        memcpy(req->token, json_string_value(v), len);
        req->token[len] = '\0';
        return PROTO_OK;

    case PROTO_MOVE:
        if (parse_game_id(o, req) != PROTO_OK)
            return PROTO_EBAD_MESSAGE;
        if (json_get_int(o, "cell", 0, GAME_CELLS - 1, &n) != 1)
            return PROTO_EBAD_MESSAGE;
        req->cell = (int)n;
        switch (json_get_int(o, "ply", 0, GAME_CELLS, &n)) {
        case 0: req->ply = -1; break;
        case 1: req->ply = (int)n; break;
        default: return PROTO_EBAD_MESSAGE;
        }
        return PROTO_OK;

    case PROTO_QUICK:
    case PROTO_LIST:
    case PROTO_PING:
        return PROTO_OK;

    default:
        return PROTO_EUNKNOWN_TYPE; /* unreachable: type came from the table */
    }
}

proto_err proto_parse(const char *buf, size_t len, proto_req *req) {
    proto_err rc = PROTO_EBAD_MESSAGE;
    json_t *root, *v;
    int t;

    if (proto_fast_parse(buf, len, req))   /* a valid move, without a tree (proto_fast.h) */
        return PROTO_OK;
    memset(req, 0, sizeof(*req));
    if ((root = proto_load(buf, len, &rc)) == NULL)
        return rc;
    if (!json_is_object(root))
        goto done;
    /* id first: the error reply for everything that follows can echo it. A
     * bad id poisons the whole message and is not echoed. */
    if ((v = json_object_get(root, "id")) != NULL && json_get_id(v, &req->id) < 0)
        goto done;
    v = json_object_get(root, "type");
    if (!json_is_string(v))
        goto done;
    if ((t = json_str_index(v, proto_type_names, PROTO_TYPE_COUNT)) < 0) {
        rc = PROTO_EUNKNOWN_TYPE;
        goto done;
    }
    req->type = (proto_type)t;
    rc = parse_fields(root, req);
done:
    json_decref(root);
    return rc;
}

/* ---- Encoding: the block ------------------------------------------------ */

/* First guess at a dumped message's size: every reply but a long "games"
 * list fits, so one malloc and one dump is the common case. */
#define PROTO_DUMP_GUESS 256

/* Dump o (consumed) into a fresh block at headroom. The block may be a little
 * larger than headroom + *len + 1; callers only rely on that much. */
static char *proto_dump(json_t *o, size_t headroom, size_t *len) {
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
static json_t *with_id(json_t *o, const proto_id *id) {
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

static json_t *msg_new(const char *type) {
    return json_pack("{ss}", "type", type);
}

/* ---- Encoding: server to client ----------------------------------------- */

char *proto_encode_welcome(const char *server, size_t headroom, size_t *len) {
    return proto_dump(json_pack("{sssssi}", "type", "welcome",
                                "server", server ? server : "",
                                "protocol", PROTO_VERSION),
                      headroom, len);
}

char *proto_encode_joined(const proto_id *id, int64_t game_id, game_mark mark,
                          const char *token, size_t headroom, size_t *len) {
    if ((unsigned)mark >= NELEM(mark_names) || !mark_names[mark] || !token)
        return NULL;
    return proto_dump(with_id(json_pack("{sssIssss}", "type", "joined",
                                        "game_id", (json_int_t)game_id,
                                        "mark", mark_names[mark],
                                        "token", token), id),
                      headroom, len);
}

char *proto_encode_watching(const proto_id *id, int64_t game_id,
                            size_t headroom, size_t *len) {
    return proto_dump(with_id(json_pack("{sssI}", "type", "watching",
                                        "game_id", (json_int_t)game_id), id),
                      headroom, len);
}

char *proto_encode_rematch_offer(int64_t game_id, size_t headroom, size_t *len) {
    return proto_dump(json_pack("{sssI}", "type", "rematch_offer",
                                "game_id", (json_int_t)game_id),
                      headroom, len);
}

char *proto_encode_games(const proto_id *id, const proto_game_entry *games,
                         size_t n, size_t headroom, size_t *len) {
    json_t *o = NULL, *list;
    size_t i;

    if ((list = json_array()) == NULL)
        goto fail;
    for (i = 0; i < n; i++) {
        if (json_array_append_new(list, json_pack("{sIsI}",
                "game_id", (json_int_t)games[i].game_id,
                "age_s", (json_int_t)games[i].age_s)) < 0)
            goto fail;
    }
    o = json_pack("{ssso}", "type", "games", "games", list); /* steals list */
    return proto_dump(with_id(o, id), headroom, len);
fail:
    json_decref(list);
    return NULL;
}

char *proto_encode_pong(const proto_id *id, size_t headroom, size_t *len) {
    return proto_dump(with_id(msg_new("pong"), id), headroom, len);
}

char *proto_encode_error(const proto_id *id, proto_err code, const char *message,
                         size_t headroom, size_t *len) {
    if (code <= PROTO_OK || code >= PROTO_ERR_COUNT)
        return NULL;
    return proto_dump(with_id(json_pack("{ssssss}", "type", "error",
                                        "code", proto_err_names[code],
                                        "message", message ? message
                                                   : proto_err_messages[code]),
                              id),
                      headroom, len);
}

/* ---- The state encoder, by hand ----------------------------------------- */

/* The longest state is about 230 bytes: a 20-digit game_id, nine moves,
 * "abandon", a line and two "connected" seats. */
#define PROTO_STATE_MAX 320

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

/* "name" or null */
static char *put_name(char *p, const char *name) {
    if (!name)
        return put_lit(p, "null");
    *p++ = '"';
    p = put_lit(p, name);
    *p++ = '"';
    return p;
}

char *proto_encode_state(const proto_state *s, size_t headroom, size_t *len) {
    const game_state *st;
    const char *result;
    char *block, *p;
    int i, has_line;
    game_mark turn;

    if (s == NULL || (st = s->st) == NULL || headroom > SIZE_MAX / 2)
        return NULL;
    /* A state outside the enums is a caller bug; refuse it rather than put
     * text on the wire that no client can parse. */
    if (st->ply > GAME_CELLS || st->status >= NELEM(status_names) ||
        st->result >= NELEM(result_names) || st->winner >= NELEM(mark_names) ||
        s->seat[0] >= NELEM(seat_names) || s->seat[1] >= NELEM(seat_names))
        return NULL;
    for (i = 0; i < st->ply; i++)
        if (st->moves[i] >= GAME_CELLS)
            return NULL;
    /* line only for a win; a zero-filled state's {0,0,0} is no line. */
    has_line = st->result == GAME_RESULT_WIN;
    for (i = 0; i < 3; i++)
        if (st->line[i] < 0 || st->line[i] >= GAME_CELLS)
            has_line = 0;

    if ((block = malloc(headroom + PROTO_STATE_MAX)) == NULL)
        return NULL;
    p = block + headroom;
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
    p = put_name(p, turn != GAME_NONE ? mark_names[turn] : NULL);
    p = put_lit(p, ",\"status\":");
    p = put_name(p, status_names[st->status]);
    result = result_names[st->result];
    p = put_lit(p, ",\"result\":");
    p = put_name(p, result);
    p = put_lit(p, ",\"winner\":");
    p = put_name(p, mark_names[st->winner]);
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
    p = put_name(p, seat_names[s->seat[0]]);
    p = put_lit(p, ",\"O\":");
    p = put_name(p, seat_names[s->seat[1]]);
    p = put_lit(p, "}}");
    *p = '\0';
    *len = (size_t)(p - (block + headroom));
    return block;
}

/* ---- The client side: parsing server messages --------------------------- */

static int is_token(const json_t *v) {
    const char *s;
    size_t i;

    if (!json_is_string(v) || json_string_length(v) != PROTO_TOKEN_LEN)
        return 0;
    s = json_string_value(v);
    for (i = 0; i < PROTO_TOKEN_LEN; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* A member that may be null: returns the table index, 0 for null (tables
 * whose entry 0 is NULL), or -1. */
static int json_nullable_index(const json_t *v, const char *const *names, size_t n) {
    if (json_is_null(v))
        return 0;
    return json_str_index(v, names, n);
}

static proto_err parse_server_state(const json_t *o, proto_server_msg *m) {
    game_state *st = &m->st;
    json_t *v, *e;
    const char *b;
    int64_t n;
    size_t i;
    int k;

    v = json_object_get(o, "board");
    if (!json_is_string(v) || json_string_length(v) != GAME_CELLS)
        return PROTO_EBAD_MESSAGE;
    b = json_string_value(v);
    for (i = 0; i < GAME_CELLS; i++) {
        if (b[i] == 'X')
            st->board.x |= (uint16_t)(1u << i);
        else if (b[i] == 'O')
            st->board.o |= (uint16_t)(1u << i);
        else if (b[i] != '.')
            return PROTO_EBAD_MESSAGE;
    }

    v = json_object_get(o, "moves");
    if (!json_is_array(v) || json_array_size(v) > GAME_CELLS)
        return PROTO_EBAD_MESSAGE;
    json_array_foreach(v, i, e) {
        if (!json_is_integer(e) || json_integer_value(e) < 0 ||
            json_integer_value(e) >= GAME_CELLS)
            return PROTO_EBAD_MESSAGE;
        st->moves[i] = (uint8_t)json_integer_value(e);
    }
    if (json_get_int(o, "ply", 0, GAME_CELLS, &n) != 1 ||
        (size_t)n != json_array_size(v))
        return PROTO_EBAD_MESSAGE;
    st->ply = (uint8_t)n;

    if ((k = json_nullable_index(json_object_get(o, "turn"), mark_names,
                                 NELEM(mark_names))) < 0)
        return PROTO_EBAD_MESSAGE;
    m->turn = (uint8_t)k;
    if ((k = json_str_index(json_object_get(o, "status"), status_names,
                            NELEM(status_names))) < 0)
        return PROTO_EBAD_MESSAGE;
    st->status = (uint8_t)k;
    if ((k = json_nullable_index(json_object_get(o, "result"), result_names,
                                 NELEM(result_names))) < 0)
        return PROTO_EBAD_MESSAGE;
    st->result = (uint8_t)k;
    if ((k = json_nullable_index(json_object_get(o, "winner"), mark_names,
                                 NELEM(mark_names))) < 0)
        return PROTO_EBAD_MESSAGE;
    st->winner = (uint8_t)k;

    v = json_object_get(o, "line");
    if (json_is_null(v)) {
        st->line[0] = st->line[1] = st->line[2] = -1;
    } else {
        if (!json_is_array(v) || json_array_size(v) != 3)
            return PROTO_EBAD_MESSAGE;
        json_array_foreach(v, i, e) {
            if (!json_is_integer(e) || json_integer_value(e) < 0 ||
                json_integer_value(e) >= GAME_CELLS)
                return PROTO_EBAD_MESSAGE;
            st->line[i] = (int8_t)json_integer_value(e);
        }
    }

    v = json_object_get(o, "players");
    if (!json_is_object(v))
        return PROTO_EBAD_MESSAGE;
    if ((k = json_str_index(json_object_get(v, "X"), seat_names,
                            NELEM(seat_names))) < 0)
        return PROTO_EBAD_MESSAGE;
    m->seat[0] = (uint8_t)k;
    if ((k = json_str_index(json_object_get(v, "O"), seat_names,
                            NELEM(seat_names))) < 0)
        return PROTO_EBAD_MESSAGE;
    m->seat[1] = (uint8_t)k;
    return PROTO_OK;
}

static proto_err parse_server_fields(const json_t *o, proto_server_msg *m) {
    json_t *v, *e;
    int64_t n;
    size_t i, len;
    int k;

    switch (m->type) {
    case PROTO_S_WELCOME:
        v = json_object_get(o, "server");
        if (!json_is_string(v) || json_get_int(o, "protocol", INT32_MIN,
                                               INT32_MAX, &n) != 1)
            return PROTO_EBAD_MESSAGE;
        m->protocol = (int)n;
        len = json_string_length(v);
        if (len >= sizeof(m->server))
            len = sizeof(m->server) - 1;
        memcpy(m->server, json_string_value(v), len);
        m->server[len] = '\0';
        return PROTO_OK;

    case PROTO_S_JOINED:
        if (json_get_int(o, "game_id", 1, INT64_MAX, &m->game_id) != 1)
            return PROTO_EBAD_MESSAGE;
        if ((k = json_str_index(json_object_get(o, "mark"), mark_names,
                                NELEM(mark_names))) < 0)
            return PROTO_EBAD_MESSAGE;
        m->mark = (uint8_t)k;
        v = json_object_get(o, "token");
        if (!is_token(v))
            return PROTO_EBAD_MESSAGE;
        memcpy(m->token, json_string_value(v), PROTO_TOKEN_LEN + 1);
        return PROTO_OK;

    case PROTO_S_WATCHING:
    case PROTO_S_REMATCH_OFFER:
        return json_get_int(o, "game_id", 1, INT64_MAX, &m->game_id) == 1
               ? PROTO_OK : PROTO_EBAD_MESSAGE;

    case PROTO_S_STATE:
        if (json_get_int(o, "game_id", 1, INT64_MAX, &m->game_id) != 1)
            return PROTO_EBAD_MESSAGE;
        return parse_server_state(o, m);

    case PROTO_S_GAMES:
        v = json_object_get(o, "games");
        if (!json_is_array(v))
            return PROTO_EBAD_MESSAGE;
        m->ngames = json_array_size(v);
        json_array_foreach(v, i, e) {
            proto_game_entry g;
            if (!json_is_object(e) ||
                json_get_int(e, "game_id", 1, INT64_MAX, &g.game_id) != 1 ||
                json_get_int(e, "age_s", 0, INT64_MAX, &g.age_s) != 1)
                return PROTO_EBAD_MESSAGE;
            if (i < PROTO_MAX_LISTED)
                m->games[i] = g;
        }
        return PROTO_OK;

    case PROTO_S_PONG:
        return PROTO_OK;

    case PROTO_S_ERROR:
        k = json_str_index(json_object_get(o, "code"), proto_err_names,
                           PROTO_ERR_COUNT);
        if (k <= PROTO_OK || !json_is_string(json_object_get(o, "message")))
            return PROTO_EBAD_MESSAGE;
        m->code = (proto_err)k;
        return PROTO_OK;

    default:
        return PROTO_EBAD_MESSAGE;
    }
}

proto_err proto_parse_server(const char *buf, size_t len, proto_server_msg *m) {
    proto_err rc = PROTO_EBAD_MESSAGE;
    json_t *root, *v;
    int t;

    memset(m, 0, sizeof(*m));
    m->st.line[0] = m->st.line[1] = m->st.line[2] = -1;
    if ((root = proto_load(buf, len, &rc)) == NULL)
        return rc;
    if (!json_is_object(root))
        goto done;
    if ((v = json_object_get(root, "id")) != NULL && json_get_id(v, &m->id) < 0)
        goto done;
    /* An unknown type is bad_message here, as proto.h documents: a client of
     * version 1 has nothing to do with a message it does not know. */
    if ((t = json_str_index(json_object_get(root, "type"), proto_server_type_names,
                            PROTO_S_TYPE_COUNT)) < 0)
        goto done;
    m->type = (proto_server_type)t;
    rc = parse_server_fields(root, m);
done:
    json_decref(root);
    return rc;
}

/* ---- The client side: encoding requests --------------------------------- */

static int set_int(json_t *o, const char *key, int64_t v) {
    return json_object_set_new(o, key, json_integer((json_int_t)v));
}

char *proto_encode_request(const proto_req *req, size_t headroom, size_t *len) {
    json_t *o;
    size_t tlen;
    int rc = 0;

    if ((unsigned)req->type >= PROTO_TYPE_COUNT)
        return NULL;
    if ((o = msg_new(proto_type_names[req->type])) == NULL)
        return NULL;
    switch (req->type) {
    case PROTO_CREATE:
        rc |= json_object_set_new(o, "vs",
                                  json_string(vs_names[req->vs_computer ? 1 : 0]));
        rc |= json_object_set_new(o, "level",
                                  json_string(level_names[req->level == GAME_AI_EASY ? 0 : 1]));
        break;
    case PROTO_RESUME:
        rc |= set_int(o, "game_id", req->game_id);
        tlen = req->token_len > PROTO_TOKEN_LEN ? PROTO_TOKEN_LEN : req->token_len;
        rc |= json_object_set_new(o, "token", json_stringn(req->token, tlen));
        break;
    case PROTO_MOVE:
        rc |= set_int(o, "game_id", req->game_id);
        rc |= set_int(o, "cell", req->cell);
        if (req->ply >= 0)
            rc |= set_int(o, "ply", req->ply);
        break;
    case PROTO_JOIN:
    case PROTO_WATCH:
    case PROTO_RESIGN:
    case PROTO_REMATCH:
        rc |= set_int(o, "game_id", req->game_id);
        break;
    default:
        break;
    }
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return proto_dump(with_id(o, &req->id), headroom, len);
}
