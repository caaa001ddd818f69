/* proto_client.c -- the client side of the wire contract (ttt-match, test
 * clients): parsing what a server sends and encoding what a client sends,
 * so that no other module of the project handles JSON either. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto_int.h"

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
    return proto__str_index(v, names, n);
}

/* A name on the wire: null, or a string that keeps the rule as it is
 * (already trimmed). 0, or -1. out is "" for null. */
static int parse_player(const json_t *v, char out[PROTO_NAME_MAX + 1]) {
    out[0] = '\0';
    if (json_is_null(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) > PROTO_NAME_MAX ||
        proto_name_norm(json_string_value(v), json_string_length(v), out) != 1 ||
        strlen(out) != json_string_length(v))
        return -1;
    return 0;
}

/* names, series and times: each optional (an older server sends none), and
 * checked like the rest when present */
static proto_err parse_state_more(const json_t *o, proto_server_msg *m) {
    static const char *const series_keys[4] = { "games", "X", "O", "draws" };
    json_t *v, *e;
    int64_t n;
    size_t i;

    if ((v = json_object_get(o, "names")) != NULL) {
        if (!json_is_object(v) || parse_player(json_object_get(v, "X"), m->names[0]) < 0 ||
            parse_player(json_object_get(v, "O"), m->names[1]) < 0)
            return PROTO_EBAD_MESSAGE;
        m->has_names = 1;
    }
    if ((v = json_object_get(o, "series")) != NULL) {
        if (!json_is_object(v))
            return PROTO_EBAD_MESSAGE;
        for (i = 0; i < 4; i++) {
            if (proto__get_int(v, series_keys[i], 0, UINT32_MAX, &n) != 1)
                return PROTO_EBAD_MESSAGE;
            m->series[i] = (uint32_t)n;
        }
        m->has_series = 1;
    }
    if ((v = json_object_get(o, "times")) != NULL) {
        if (!json_is_array(v) || json_array_size(v) != m->st.ply)
            return PROTO_EBAD_MESSAGE;
        json_array_foreach(v, i, e) {
            if (!json_is_integer(e) || json_integer_value(e) < 0 ||
                json_integer_value(e) > UINT32_MAX ||
                (i && (uint32_t)json_integer_value(e) < m->times[i - 1]))
                return PROTO_EBAD_MESSAGE;
            m->times[i] = (uint32_t)json_integer_value(e);
        }
        m->has_times = 1;
    }
    return PROTO_OK;
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
    if (proto__get_int(o, "ply", 0, GAME_CELLS, &n) != 1 ||
        (size_t)n != json_array_size(v))
        return PROTO_EBAD_MESSAGE;
    st->ply = (uint8_t)n;

    if ((k = json_nullable_index(json_object_get(o, "turn"), proto__mark_names,
                                 NELEM(proto__mark_names))) < 0)
        return PROTO_EBAD_MESSAGE;
    m->turn = (uint8_t)k;
    if ((k = proto__str_index(json_object_get(o, "status"), proto__status_names,
                            NELEM(proto__status_names))) < 0)
        return PROTO_EBAD_MESSAGE;
    st->status = (uint8_t)k;
    if ((k = json_nullable_index(json_object_get(o, "result"), proto__result_names,
                                 NELEM(proto__result_names))) < 0)
        return PROTO_EBAD_MESSAGE;
    st->result = (uint8_t)k;
    if ((k = json_nullable_index(json_object_get(o, "winner"), proto__mark_names,
                                 NELEM(proto__mark_names))) < 0)
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
    if ((k = proto__str_index(json_object_get(v, "X"), proto__seat_names,
                            NELEM(proto__seat_names))) < 0)
        return PROTO_EBAD_MESSAGE;
    m->seat[0] = (uint8_t)k;
    if ((k = proto__str_index(json_object_get(v, "O"), proto__seat_names,
                            NELEM(proto__seat_names))) < 0)
        return PROTO_EBAD_MESSAGE;
    m->seat[1] = (uint8_t)k;
    return parse_state_more(o, m);
}

static proto_err parse_server_fields(const json_t *o, proto_server_msg *m) {
    json_t *v, *e;
    int64_t n;
    size_t i, len;
    int k;

    switch (m->type) {
    case PROTO_S_WELCOME:
        v = json_object_get(o, "server");
        if (!json_is_string(v) || proto__get_int(o, "protocol", INT32_MIN,
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
        if (proto__get_int(o, "game_id", 1, INT64_MAX, &m->game_id) != 1)
            return PROTO_EBAD_MESSAGE;
        if ((k = proto__str_index(json_object_get(o, "mark"), proto__mark_names,
                                NELEM(proto__mark_names))) < 0)
            return PROTO_EBAD_MESSAGE;
        m->mark = (uint8_t)k;
        v = json_object_get(o, "token");
        if (!is_token(v))
            return PROTO_EBAD_MESSAGE;
        memcpy(m->token, json_string_value(v), PROTO_TOKEN_LEN + 1);
        return PROTO_OK;

    case PROTO_S_WATCHING:
    case PROTO_S_REMATCH_OFFER:
        return proto__get_int(o, "game_id", 1, INT64_MAX, &m->game_id) == 1
               ? PROTO_OK : PROTO_EBAD_MESSAGE;

    case PROTO_S_STATE:
        if (proto__get_int(o, "game_id", 1, INT64_MAX, &m->game_id) != 1)
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
                proto__get_int(e, "game_id", 1, INT64_MAX, &g.game_id) != 1 ||
                proto__get_int(e, "age_s", 0, INT64_MAX, &g.age_s) != 1)
                return PROTO_EBAD_MESSAGE;
            if (i < PROTO_MAX_LISTED) {
                m->games[i] = g;
                if (json_object_get(e, "name") &&
                    parse_player(json_object_get(e, "name"), m->game_names[i]) < 0)
                    return PROTO_EBAD_MESSAGE;
            }
        }
        return PROTO_OK;

    case PROTO_S_PONG:
        return PROTO_OK;

    case PROTO_S_ERROR:
        k = proto__str_index(json_object_get(o, "code"), proto__err_names,
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
    if ((root = proto__load(buf, len, &rc)) == NULL)
        return rc;
    if (!json_is_object(root))
        goto done;
    if ((v = json_object_get(root, "id")) != NULL && proto__get_id(v, &m->id) < 0)
        goto done;
    /* An unknown type is bad_message here, as proto.h documents: a client of
     * version 1 has nothing to do with a message it does not know. */
    if ((t = proto__str_index(json_object_get(root, "type"), proto__server_type_names,
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
    if ((o = proto__msg_new(proto__type_names[req->type])) == NULL)
        return NULL;
    switch (req->type) {
    case PROTO_CREATE:
        rc |= json_object_set_new(o, "vs",
                                  json_string(proto__vs_names[req->vs_computer ? 1 : 0]));
        rc |= json_object_set_new(o, "level",
                                  json_string(proto__level_names[req->level == GAME_AI_EASY ? 0 : 1]));
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
    if (req->name[0] && (req->type == PROTO_CREATE || req->type == PROTO_JOIN ||
                         req->type == PROTO_QUICK || req->type == PROTO_REMATCH))
        rc |= json_object_set_new(o, "name", json_stringn(req->name,
                                                          strnlen(req->name, PROTO_NAME_MAX)));
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return proto__dump(proto__with_id(o, &req->id), headroom, len);
}

