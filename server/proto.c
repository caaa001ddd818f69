/* proto.c -- the wire contract in code, its entry point: client JSON frames
 * to proto_req (proto_parse), the wire's name tables and the jansson helpers
 * the other proto files share (proto_int.h).
 *
 * Only server/proto*.c include jansson. Parsing goes through one json_loadb
 * per frame. Encoding server messages is proto_enc.c; the client side
 * (ttt-match, test clients) is proto_client.c; the name rule proto_name.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto_fast.h"
#include "proto_int.h"

/* ---- Names ------------------------------------------------------------- */

const char *const proto__err_names[PROTO_ERR_COUNT] = {
    "ok", "bad_json", "bad_message", "unknown_type", "no_such_game",
    "game_full", "not_in_game", "not_playing", "not_your_turn", "cell_taken",
    "stale", "game_over", "bad_token", "rate_limited", "unavailable"
};

const char *const proto__type_names[PROTO_TYPE_COUNT] = {
    "create", "join", "quick", "resume", "watch", "move", "resign",
    "rematch", "list", "ping"
};

const char *const proto__server_type_names[PROTO_S_TYPE_COUNT] = {
    "welcome", "joined", "watching", "state", "rematch_offer", "games",
    "pong", "error"
};

/* Indexed by the game.h / proto.h enums; NULL where the wire says null. */
const char *const proto__seat_names[3] = { "open", "connected", "away" };
const char *const proto__status_names[3] = { "waiting", "playing", "over" };
const char *const proto__result_names[5] = {
    NULL, "win", "draw", "resign", "abandon"
};
const char *const proto__mark_names[3] = { NULL, "X", "O" };
const char *const proto__vs_names[2] = { "human", "computer" };
const char *const proto__level_names[2] = { "easy", "perfect" };

const char *proto_err_name(proto_err e) {
    if ((unsigned)e >= PROTO_ERR_COUNT)
        return "unknown";
    return proto__err_names[e];
}

const char *proto_type_name(proto_type t) {
    if ((unsigned)t >= PROTO_TYPE_COUNT)
        return "unknown";
    return proto__type_names[t];
}

/* ---- Decoding helpers -------------------------------------------------- */

/* Index of string value v in names[0..n-1] (NULL entries never match), or -1
 * when v is not a string or not in the table. Lengths are compared first, so
 * a value with an embedded NUL ("ping\u0000") matches nothing. */
int proto__str_index(const json_t *v, const char *const *names, size_t n) {
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
int proto__get_int(const json_t *o, const char *key, int64_t lo,
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
int proto__get_id(const json_t *v, proto_id *id) {
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
json_t *proto__load(const char *buf, size_t len, proto_err *err) {
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
    return proto__get_int(o, "game_id", 1, INT64_MAX, &req->game_id) == 1
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
            if ((i = proto__str_index(v, proto__vs_names, NELEM(proto__vs_names))) < 0)
                return PROTO_EBAD_MESSAGE;
            req->vs_computer = (uint8_t)i;
        }
        /* level with vs human is accepted and ignored by the game manager:
         * the contract calls it "computer only", not "forbidden otherwise". */
        if ((v = json_object_get(o, "level")) != NULL) {
            if ((i = proto__str_index(v, proto__level_names, NELEM(proto__level_names))) < 0)
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
        if (proto__get_int(o, "cell", 0, GAME_CELLS - 1, &n) != 1)
            return PROTO_EBAD_MESSAGE;
        req->cell = (int)n;
        switch (proto__get_int(o, "ply", 0, GAME_CELLS, &n)) {
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

/* The requests that may carry a player's "name" (the contract's additions). */
static int takes_name(proto_type t) {
    return t == PROTO_CREATE || t == PROTO_JOIN || t == PROTO_QUICK || t == PROTO_REMATCH;
}

proto_err proto_parse(const char *buf, size_t len, proto_req *req) {
    proto_err rc = PROTO_EBAD_MESSAGE;
    json_t *root, *v;
    int t;

    if (proto_fast_parse(buf, len, req))   /* a valid move, without a tree (proto_fast.h) */
        return PROTO_OK;
    memset(req, 0, sizeof(*req));
    if ((root = proto__load(buf, len, &rc)) == NULL)
        return rc;
    if (!json_is_object(root))
        goto done;
    /* id first: the error reply for everything that follows can echo it. A
     * bad id poisons the whole message and is not echoed. */
    if ((v = json_object_get(root, "id")) != NULL && proto__get_id(v, &req->id) < 0)
        goto done;
    v = json_object_get(root, "type");
    if (!json_is_string(v))
        goto done;
    if ((t = proto__str_index(v, proto__type_names, PROTO_TYPE_COUNT)) < 0) {
        rc = PROTO_EUNKNOWN_TYPE;
        goto done;
    }
    req->type = (proto_type)t;
    rc = parse_fields(root, req);
    if (rc == PROTO_OK && takes_name(req->type) &&
        proto__get_name(root, "name", req->name) < 0)
        rc = PROTO_EBAD_MESSAGE;
done:
    json_decref(root);
    return rc;
}
