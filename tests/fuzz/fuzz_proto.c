/* fuzz_proto.c -- libFuzzer target for server/proto.c: both parsers of
 * untrusted JSON (proto_parse for what clients send, proto_parse_server for
 * what ttt-match and the test clients read), and every encoder fed with what
 * a parser accepted.
 *
 * Beyond "no crash, no leak, no UB", it checks the promises proto.h makes:
 *   - an accepted request holds its fields in the documented ranges;
 *   - every encoder's output parses back to the same fields (round trip),
 *     so what the server says is always something its clients can read;
 *   - an error reply can always be built and echoes the parsed "id";
 *   - a name is kept only on the four requests that take one, and only as
 *     the contract's rule leaves it; a state's names, series and times
 *     come back the same from proto_encode_state_full.
 * A broken promise is an abort(), which libFuzzer reports like a crash, with
 * the input saved for replay (fuzz_proto crash-<sha1>).
 *
 * Every input goes through both parsers: the seed corpus holds client and
 * server messages, and each parser must refuse the other side's cleanly. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define HEADROOM 16   /* any value: the encoders must honour it */

static void fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz_proto: broken promise: %s\n", what);
    abort();
}

#define CHECK(cond) do { if (!(cond)) fuzz_fail(#cond); } while (0)

static int id_equal(const proto_id *a, const proto_id *b)
{
    if (a->kind != b->kind)
        return 0;
    if (a->kind == PROTO_ID_INT)
        return a->num == b->num;
    if (a->kind == PROTO_ID_STRING)
        return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
    return 1;
}

/* Parse an encoder's block as a server message of the expected type; frees
 * the block. The block must be NUL-terminated at headroom + len. */
static void reparse_server(char *block, size_t len, proto_server_type want,
                           proto_server_msg *out)
{
    CHECK(block != NULL);
    CHECK(block[HEADROOM + len] == '\0');
    CHECK(strlen(block + HEADROOM) == len);
    CHECK(proto_parse_server(block + HEADROOM, len, out) == PROTO_OK);
    CHECK(out->type == want);
    free(block);
}

/* ---- client messages ------------------------------------------------------ */

static void check_request_fields(const proto_req *r)
{
    CHECK((unsigned)r->type < PROTO_TYPE_COUNT);
    CHECK(r->id.kind <= PROTO_ID_INT);
    CHECK(r->id.kind != PROTO_ID_STRING || r->id.len <= PROTO_MAX_ID);
    switch (r->type) {
    case PROTO_JOIN: case PROTO_WATCH: case PROTO_RESIGN: case PROTO_REMATCH:
    case PROTO_RESUME: case PROTO_MOVE:
        CHECK(r->game_id >= 1);
        break;
    default:
        CHECK(r->game_id == 0);
        break;
    }
    if (r->type == PROTO_MOVE) {
        CHECK(r->cell >= 0 && r->cell < GAME_CELLS);
        CHECK(r->ply >= -1 && r->ply <= GAME_CELLS);
    }
    if (r->type == PROTO_RESUME) {
        CHECK(r->token_len <= PROTO_MAX_ID);
        CHECK(strlen(r->token) <= PROTO_TOKEN_LEN);
    }
    if (r->type == PROTO_CREATE)
        CHECK(r->level == GAME_AI_EASY || r->level == GAME_AI_PERFECT);
    /* a name is kept only where the contract has one, and only as the rule
     * leaves it: trimmed, 1..24 code points, no control character */
    CHECK(memchr(r->name, '\0', sizeof r->name) != NULL);
    switch (r->type) {
    case PROTO_CREATE: case PROTO_JOIN: case PROTO_QUICK: case PROTO_REMATCH:
        CHECK(r->name[0] == '\0' || proto_name_valid(r->name));
        break;
    default:
        CHECK(r->name[0] == '\0');
        break;
    }
}

/* The client-side encoder must say the same request again. A resume token
 * longer than 32 bytes was cut by the parser (possibly inside a UTF-8
 * sequence), so only a token that fit is held to the round trip. */
static void roundtrip_request(const proto_req *r)
{
    size_t len = 0;
    proto_req back;
    int token_whole = r->token_len <= PROTO_TOKEN_LEN;
    char *block = proto_encode_request(r, HEADROOM, &len);

    if (!block) {
        CHECK(r->type == PROTO_RESUME && !token_whole);
        return;
    }
    CHECK(block[HEADROOM + len] == '\0');
    CHECK(proto_parse(block + HEADROOM, len, &back) == PROTO_OK);
    free(block);
    CHECK(back.type == r->type);
    CHECK(id_equal(&back.id, &r->id));
    CHECK(back.game_id == r->game_id);
    CHECK(back.cell == r->cell);
    CHECK(back.ply == (r->type == PROTO_MOVE ? r->ply : 0));
    if (r->type == PROTO_CREATE) {
        CHECK(back.vs_computer == r->vs_computer);
        CHECK(back.level == r->level);
    }
    if (r->type == PROTO_RESUME && token_whole) {
        CHECK(back.token_len == r->token_len);
        CHECK(memcmp(back.token, r->token, r->token_len) == 0);
    }
    CHECK(strcmp(back.name, r->name) == 0);
}

/* The server's replies to this request, built from its fields. */
static void replies_for(const proto_req *r, proto_err rc)
{
    static const char token[] = "0123456789abcdef0123456789abcdef";
    proto_server_msg m;
    size_t len = 0;
    char *block;
    int64_t gid = r->game_id ? r->game_id : 1;

    /* an error can always be answered, with the id echoed */
    block = proto_encode_error(&r->id, rc == PROTO_OK ? PROTO_ENO_SUCH_GAME : rc,
                               NULL, HEADROOM, &len);
    reparse_server(block, len, PROTO_S_ERROR, &m);
    CHECK(m.code == (rc == PROTO_OK ? PROTO_ENO_SUCH_GAME : rc));
    CHECK(id_equal(&m.id, &r->id));
    if (rc != PROTO_OK)
        return;

    block = proto_encode_joined(&r->id, gid, r->cell % 2 ? GAME_O : GAME_X, token,
                                HEADROOM, &len);
    reparse_server(block, len, PROTO_S_JOINED, &m);
    CHECK(m.game_id == gid && id_equal(&m.id, &r->id));
    CHECK(m.mark == (r->cell % 2 ? GAME_O : GAME_X));
    CHECK(memcmp(m.token, token, PROTO_TOKEN_LEN) == 0);

    block = proto_encode_watching(&r->id, gid, HEADROOM, &len);
    reparse_server(block, len, PROTO_S_WATCHING, &m);
    CHECK(m.game_id == gid && id_equal(&m.id, &r->id));

    block = proto_encode_pong(&r->id, HEADROOM, &len);
    reparse_server(block, len, PROTO_S_PONG, &m);
    CHECK(id_equal(&m.id, &r->id));

    block = proto_encode_rematch_offer(gid, HEADROOM, &len);
    reparse_server(block, len, PROTO_S_REMATCH_OFFER, &m);
    CHECK(m.game_id == gid);
}

/* ---- server messages ------------------------------------------------------ */

static void roundtrip_state(const proto_server_msg *m)
{
    proto_state ps = {m->game_id, &m->st, {m->seat[0], m->seat[1]}};
    proto_server_msg back;
    size_t len = 0;
    char *block = proto_encode_state(&ps, HEADROOM, &len);

    /* what the parser accepted is inside every enum the encoder checks */
    reparse_server(block, len, PROTO_S_STATE, &back);
    CHECK(back.game_id == m->game_id);
    CHECK(back.st.board.x == m->st.board.x && back.st.board.o == m->st.board.o);
    CHECK(back.st.ply == m->st.ply);
    CHECK(memcmp(back.st.moves, m->st.moves, m->st.ply) == 0);
    CHECK(back.st.status == m->st.status);
    CHECK(back.st.result == m->st.result);
    CHECK(back.st.winner == m->st.winner);
    CHECK(back.seat[0] == m->seat[0] && back.seat[1] == m->seat[1]);
    if (m->st.result == GAME_RESULT_WIN)
        CHECK(memcmp(back.st.line, m->st.line, sizeof(m->st.line)) == 0);
    else
        CHECK(back.st.line[0] == -1 && back.st.line[1] == -1 && back.st.line[2] == -1);
    /* turn is derived, never copied: X on even plies of a game in play */
    if (m->st.status == GAME_PLAYING)
        CHECK(back.turn == (m->st.ply % 2 ? GAME_O : GAME_X));
    else
        CHECK(back.turn == GAME_NONE);
    CHECK(!back.has_names && !back.has_series && !back.has_times);   /* version 1 only */

    /* with the additions: what the parser accepted comes back the same */
    proto_state_more more = {{m->names[0], m->names[1]},
                             {m->series[0], m->series[1], m->series[2], m->series[3]},
                             m->has_times ? m->times : NULL};
    block = proto_encode_state_full(&ps, &more, HEADROOM, &len);
    reparse_server(block, len, PROTO_S_STATE, &back);
    CHECK(back.has_names && back.has_series && back.has_times);
    CHECK(strcmp(back.names[0], m->names[0]) == 0 && strcmp(back.names[1], m->names[1]) == 0);
    CHECK(memcmp(back.series, m->series, sizeof back.series) == 0);
    for (int i = 0; i < m->st.ply; i++)
        CHECK(back.times[i] == (m->has_times ? m->times[i] : 0));
}

static void roundtrip_server(const proto_server_msg *m)
{
    proto_server_msg back;
    size_t len = 0, n, i;
    char *block;

    switch (m->type) {
    case PROTO_S_STATE:
        roundtrip_state(m);
        break;
    case PROTO_S_JOINED:
        block = proto_encode_joined(&m->id, m->game_id, (game_mark)m->mark, m->token,
                                    HEADROOM, &len);
        reparse_server(block, len, PROTO_S_JOINED, &back);
        CHECK(back.game_id == m->game_id && back.mark == m->mark);
        CHECK(strcmp(back.token, m->token) == 0 && id_equal(&back.id, &m->id));
        break;
    case PROTO_S_WATCHING:
        block = proto_encode_watching(&m->id, m->game_id, HEADROOM, &len);
        reparse_server(block, len, PROTO_S_WATCHING, &back);
        CHECK(back.game_id == m->game_id && id_equal(&back.id, &m->id));
        break;
    case PROTO_S_REMATCH_OFFER:
        block = proto_encode_rematch_offer(m->game_id, HEADROOM, &len);
        reparse_server(block, len, PROTO_S_REMATCH_OFFER, &back);
        CHECK(back.game_id == m->game_id);
        break;
    case PROTO_S_GAMES:
        n = m->ngames < PROTO_MAX_LISTED ? m->ngames : PROTO_MAX_LISTED;
        block = proto_encode_games(&m->id, m->games, n, HEADROOM, &len);
        reparse_server(block, len, PROTO_S_GAMES, &back);
        CHECK(back.ngames == n && id_equal(&back.id, &m->id));
        for (i = 0; i < n; i++)
            CHECK(back.games[i].game_id == m->games[i].game_id &&
                  back.games[i].age_s == m->games[i].age_s);
        break;
    case PROTO_S_PONG:
        block = proto_encode_pong(&m->id, HEADROOM, &len);
        reparse_server(block, len, PROTO_S_PONG, &back);
        CHECK(id_equal(&back.id, &m->id));
        break;
    case PROTO_S_ERROR:
        block = proto_encode_error(&m->id, m->code, NULL, HEADROOM, &len);
        reparse_server(block, len, PROTO_S_ERROR, &back);
        CHECK(back.code == m->code && id_equal(&back.id, &m->id));
        break;
    case PROTO_S_WELCOME:
        /* the parser keeps at most 63 bytes of "server", possibly cut inside
         * a UTF-8 sequence or at an embedded NUL: the encoder may refuse it,
         * and whatever it writes must parse */
        block = proto_encode_welcome(m->server, HEADROOM, &len);
        if (block) {
            reparse_server(block, len, PROTO_S_WELCOME, &back);
            CHECK(back.protocol == PROTO_VERSION);
            CHECK(strcmp(back.server, m->server) == 0);
        }
        break;
    default:
        fuzz_fail("proto_parse_server returned an unknown type");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    proto_req req;
    proto_server_msg m;
    proto_err rc;

    rc = proto_parse(buf, size, &req);
    CHECK(rc == PROTO_OK || rc == PROTO_EBAD_JSON || rc == PROTO_EBAD_MESSAGE ||
          rc == PROTO_EUNKNOWN_TYPE);
    if (rc == PROTO_OK) {
        check_request_fields(&req);
        roundtrip_request(&req);
    }
    replies_for(&req, rc);

    rc = proto_parse_server(buf, size, &m);
    CHECK(rc == PROTO_OK || rc == PROTO_EBAD_JSON || rc == PROTO_EBAD_MESSAGE);
    if (rc == PROTO_OK)
        roundtrip_server(&m);
    return 0;
}
