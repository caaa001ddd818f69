/* tsrv_expect.c -- the conversation helpers of the test_server_* binaries:
 * expect a message, an error or silence, check a state's shape and fields,
 * create / join / play a game. Moved verbatim from the former
 * tests/test_server.c; the macros that call these are in tsrv.h.
 *
 * Waits are bounded waits for a message or a condition, never bare sleeps.
 * A "nothing more arrives" check waits T_QUIET ms: it cannot prove silence,
 * but it catches a duplicate broadcast, which follows at once if it exists. */
#define _GNU_SOURCE
#include "tsrv.h"

json_t *t_expect_within(wsc *w, const char *type, int ms, const char *who, int line)
{
    json_t *j = wsc_expect(w, type, ms);
    cr_assert(j, "line %d: %s: %s", line, who, wsc_error(C));
    return t_keep(j);
}

json_t *t_expect_(wsc *w, const char *type, const char *who, int line)
{
    json_t *j = wsc_expect(w, type, T_MSG);
    cr_assert(j, "line %d: %s: %s", line, who, wsc_error(C));
    return t_keep(j);
}

json_t *t_expect_state_(wsc *w, int ms, const char *who, int line)
{
    json_t *j = t_expect_within(w, "state", ms, who, line);
    t_check_shape_(j, line);
    return j;
}

void t_expect_none_(wsc *w, const char *who, int line)
{
    char *s = wsc_recv(w, T_QUIET);
    if (s) {
        char msg[600];
        snprintf(msg, sizeof(msg), "%.500s", s);
        free(s);
        cr_assert_fail("line %d: %s: expected no message, got %s", line, who, msg);
    }
}

/* id_str: "s:text" for a string id, "i:123" for an integer id, NULL for none. */
void t_check_id(json_t *j, const char *id, int line)
{
    json_t *got = json_object_get(j, "id");
    if (!id) {
        cr_assert(!got, "line %d: reply carries an id but the request had none", line);
        return;
    }
    cr_assert(got, "line %d: reply lacks the request id %s", line, id);
    if (id[0] == 's') {
        cr_assert(json_is_string(got) && strcmp(json_string_value(got), id + 2) == 0,
                  "line %d: id should be the string \"%s\"", line, id + 2);
    } else {
        cr_assert(json_is_integer(got) && json_integer_value(got) == atoll(id + 2),
                  "line %d: id should be the integer %s", line, id + 2);
    }
}

json_t *t_expect_error_(wsc *w, const char *code, const char *id, const char *who,
                        int line)
{
    json_t *j = t_expect_(w, "error", who, line);
    const char *got = json_string_value(json_object_get(j, "code"));
    char *dump = json_dumps(j, JSON_COMPACT);
    char buf[400];
    snprintf(buf, sizeof(buf), "%s", dump ? dump : "?");
    free(dump);
    cr_assert(got && strcmp(got, code) == 0, "line %d: %s: expected error %s, got %s",
              line, who, code, buf);
    cr_assert(json_is_string(json_object_get(j, "message")),
              "line %d: error without a message: %s", line, buf);
    t_check_id(j, id, line);
    return j;
}

void t_subst_gid(const char *msg, long long gid, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *c = msg; *c && o + 24 < cap; c++) {
        if (*c == '@')
            o += (size_t)snprintf(out + o, cap - o, "%lld", gid);
        else
            out[o++] = *c;
    }
    out[o] = '\0';
}

void t_expect_errors_(wsc *w, long long gid, const t_err_case *rows, size_t n, int line)
{
    for (size_t i = 0; i < n; i++) {
        char msg[512], who[600];
        t_subst_gid(rows[i].msg, gid, msg, sizeof msg);
        snprintf(who, sizeof who, "row %zu (%s)", i, msg);
        cr_assert(wsc_sendf(w, "%s", msg) == 0, "line %d: send %s", line, who);
        t_expect_error_(w, rows[i].code, rows[i].id, who, line);
    }
}

wsc *t_client(void)
{
    t_need_server();
    wsc *w = wsc_connect(C, S.port, "/ws", T_MSG);
    cr_assert(w, "connect to ws://127.0.0.1:%d/ws: %s", S.port, wsc_error(C));
    EXPECT(w, "welcome");
    return w;
}

long long t_iget(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    cr_assert(json_is_integer(v), "\"%s\" should be an integer", k);
    return json_integer_value(v);
}

const char *t_sget(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    cr_assert(json_is_string(v), "\"%s\" should be a string", k);
    return json_string_value(v);
}

/* want == NULL: the member must be present and JSON null. */
void t_str_or_null(json_t *o, const char *k, const char *want, int line)
{
    json_t *v = json_object_get(o, k);
    cr_assert(v, "line %d: state lacks \"%s\"", line, k);
    if (!want) {
        cr_assert(json_is_null(v), "line %d: \"%s\" should be null", line, k);
    } else {
        cr_assert(json_is_string(v) && strcmp(json_string_value(v), want) == 0,
                  "line %d: \"%s\" should be \"%s\", is %s", line, k, want,
                  json_is_string(v) ? json_string_value(v) : "not a string");
    }
}

static const int lines3[8][3] = {
    {0, 1, 2}, {3, 4, 5}, {6, 7, 8}, {0, 3, 6}, {1, 4, 7}, {2, 5, 8}, {0, 4, 8}, {2, 4, 6}
};

/* Every state, whatever the test: the fields the contract lists, with their
 * types, and the invariants that tie them together. */
void t_check_shape_(json_t *st, int line)
{
    long long gid = t_iget(st, "game_id");
    cr_assert(gid >= 100, "line %d: game ids start at 100 (got %lld)", line, gid);
    const char *board = t_sget(st, "board");
    cr_assert(strlen(board) == 9 && strspn(board, "XO.") == 9,
              "line %d: board \"%s\" is not 9 of X O .", line, board);
    long long ply = t_iget(st, "ply");
    json_t *moves = json_object_get(st, "moves");
    cr_assert(json_is_array(moves), "line %d: moves is not an array", line);
    cr_assert((long long)json_array_size(moves) == ply,
              "line %d: %zu moves but ply %lld", line, json_array_size(moves), ply);
    int used = 0;
    for (size_t i = 0; i < json_array_size(moves); i++) {
        json_t *m = json_array_get(moves, i);
        cr_assert(json_is_integer(m) && json_integer_value(m) >= 0 &&
                  json_integer_value(m) <= 8, "line %d: moves[%zu] not a cell", line, i);
        int c = (int)json_integer_value(m);
        cr_assert(!(used & (1 << c)), "line %d: cell %d twice in moves", line, c);
        used |= 1 << c;
        cr_assert(board[c] == (i % 2 ? 'O' : 'X'),
                  "line %d: moves[%zu]=%d but board has '%c' there (X moves first)",
                  line, i, c, board[c]);
    }
    int marks = 0;
    for (int i = 0; i < 9; i++)
        marks += board[i] != '.';
    cr_assert(marks == ply, "line %d: %d marks on the board but ply %lld", line, marks, ply);

    const char *status = t_sget(st, "status");
    cr_assert(!strcmp(status, "waiting") || !strcmp(status, "playing") ||
              !strcmp(status, "over"), "line %d: status \"%s\"", line, status);
    if (!strcmp(status, "playing"))
        t_str_or_null(st, "turn", ply % 2 ? "O" : "X", line);
    else
        t_str_or_null(st, "turn", NULL, line);

    json_t *result = json_object_get(st, "result");
    json_t *winner = json_object_get(st, "winner");
    json_t *ln = json_object_get(st, "line");
    cr_assert(result && winner && ln, "line %d: result, winner and line must be present",
              line);
    if (strcmp(status, "over") != 0) {
        cr_assert(json_is_null(result) && json_is_null(winner) && json_is_null(ln),
                  "line %d: a game not over has null result, winner and line", line);
    } else {
        const char *r = json_string_value(result);
        cr_assert(r && (!strcmp(r, "win") || !strcmp(r, "draw") || !strcmp(r, "resign") ||
                        !strcmp(r, "abandon")), "line %d: bad result", line);
        if (!strcmp(r, "win")) {
            const char *wm = json_string_value(winner);
            cr_assert(wm && (!strcmp(wm, "X") || !strcmp(wm, "O")), "line %d: winner", line);
            cr_assert(json_is_array(ln) && json_array_size(ln) == 3,
                      "line %d: a win has a line of three cells", line);
            int cells[3], found = 0;
            for (int i = 0; i < 3; i++) {
                json_t *c = json_array_get(ln, (size_t)i);
                cr_assert(json_is_integer(c) && json_integer_value(c) >= 0 &&
                          json_integer_value(c) <= 8, "line %d: line cell", line);
                cells[i] = (int)json_integer_value(c);
                cr_assert(board[cells[i]] == wm[0], "line %d: line cell %d is not %s's",
                          line, cells[i], wm);
            }
            for (int k = 0; k < 8; k++) {
                int hit = 0;
                for (int i = 0; i < 3; i++)
                    for (int j = 0; j < 3; j++)
                        hit += cells[i] == lines3[k][j];
                found |= hit == 3;
            }
            cr_assert(found, "line %d: line is not a row, column or diagonal", line);
        } else {
            cr_assert(json_is_null(ln), "line %d: line is null unless the result is win",
                      line);
        }
        if (!strcmp(r, "draw"))
            cr_assert(json_is_null(winner) && ply == 9, "line %d: draw: 9 moves, no winner",
                      line);
        if (!strcmp(r, "resign"))
            cr_assert(json_is_string(winner), "line %d: a resignation has a winner", line);
    }

    json_t *players = json_object_get(st, "players");
    cr_assert(json_is_object(players), "line %d: players is not an object", line);
    for (int i = 0; i < 2; i++) {
        const char *p = json_string_value(json_object_get(players, i ? "O" : "X"));
        cr_assert(p && (!strcmp(p, "open") || !strcmp(p, "connected") || !strcmp(p, "away")),
                  "line %d: players.%s", line, i ? "O" : "X");
    }
    if (!strcmp(status, "waiting")) {
        cr_assert(ply == 0, "line %d: a waiting game has no moves", line);
        t_str_or_null(players, "O", "open", line);
    }
}

void t_check_state_(json_t *st, long long gid, const char *board, const char *status,
                    const char *winner, const char *px, const char *po, int line)
{
    cr_assert(t_iget(st, "game_id") == gid, "line %d: game_id %lld, want %lld", line,
              t_iget(st, "game_id"), gid);
    t_str_or_null(st, "board", board, line);
    t_str_or_null(st, "status", status, line);
    t_str_or_null(st, "winner", winner, line);
    json_t *players = json_object_get(st, "players");
    t_str_or_null(players, "X", px, line);
    t_str_or_null(players, "O", po, line);
}

void t_check_result(json_t *st, const char *result, int line)
{
    t_str_or_null(st, "result", result, line);
}

/* States compare equal when everything but "type" matches. */
int t_same_state(json_t *a, json_t *b)
{
    json_t *x = json_deep_copy(a), *y = json_deep_copy(b);
    json_object_del(x, "type");
    json_object_del(y, "type");
    json_object_del(x, "id");
    json_object_del(y, "id");
    int eq = json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return eq;
}

char *t_dumps(json_t *j)
{
    static char buf[2][700];
    static int k;
    char *d = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    k ^= 1;
    snprintf(buf[k], sizeof(buf[k]), "%s", d ? d : "?");
    free(d);
    return buf[k];
}

void t_check_joined(json_t *j, seat *s, char mark, const char *id, int line)
{
    s->gid = t_iget(j, "game_id");
    cr_assert(s->gid >= 100, "line %d: game id %lld < 100", line, s->gid);
    const char *m = t_sget(j, "mark");
    cr_assert(m[0] == mark && m[1] == '\0', "line %d: mark %s, want %c", line, m, mark);
    s->mark = mark;
    const char *t = t_sget(j, "token");
    cr_assert(strlen(t) == 32 && strspn(t, "0123456789abcdef") == 32,
              "line %d: token \"%s\" is not 32 lowercase hex characters", line, t);
    snprintf(s->token, sizeof(s->token), "%s", t);
    t_check_id(j, id, line);
}

/* create vs human: joined + state waiting. */
json_t *t_create_human(wsc *w, seat *s)
{
    s->w = w;
    SEND(w, "{\"type\":\"create\",\"vs\":\"human\",\"id\":\"c\"}");
    t_check_joined(EXPECT(w, "joined"), s, 'X', "s:c", __LINE__);
    json_t *st = EXPECT_STATE(w);
    CHECK_STATE(st, s->gid, ".........", "waiting", NULL, "connected", "open");
    return st;
}

/* join as O: joined + state playing for the joiner and the creator. */
json_t *t_join_game(wsc *w, seat *s, seat *creator)
{
    s->w = w;
    SEND(w, "{\"type\":\"join\",\"game_id\":%lld,\"id\":\"j\"}", creator->gid);
    t_check_joined(EXPECT(w, "joined"), s, 'O', "s:j", __LINE__);
    cr_assert(s->gid == creator->gid, "joined the wrong game");
    cr_assert(strcmp(s->token, creator->token) != 0, "the two seats share a token");
    json_t *a = EXPECT_STATE(w);
    json_t *b = EXPECT_STATE(creator->w);
    CHECK_STATE(a, s->gid, ".........", "playing", NULL, "connected", "connected");
    cr_assert(t_same_state(a, b), "players see different states: %s vs %s", t_dumps(a),
              t_dumps(b));
    return a;
}

/* A human game with two fresh connections, ready for X's first move. */
void t_start_pair(seat *x, seat *o)
{
    t_create_human(t_client(), x);
    t_join_game(t_client(), o, x);
}

/* Send a move and return the new state as `self` sees it; the others (NULL-
 * terminated) must see the same state. */
json_t *t_play(seat *self, int cell, wsc *const *others)
{
    SEND(self->w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":%d}", self->gid, cell);
    json_t *st = EXPECT_STATE(self->w);
    for (int i = 0; others && others[i]; i++) {
        json_t *o = EXPECT_STATE(others[i]);
        cr_assert(t_same_state(st, o), "state differs between clients: %s vs %s",
                  t_dumps(st), t_dumps(o));
    }
    return st;
}

/* /api/games/{gid} as JSON (kept), asserting a 200. */
json_t *t_api_game(long long gid)
{
    char path[64];
    http_resp r;
    snprintf(path, sizeof(path), "/api/games/%lld", gid);
    cr_assert(t_http_get(S.port, path, &r) == 0, "GET %s failed", path);
    int status = r.status;
    json_t *j = json_loads(r.body, 0, NULL);
    char body[300];
    snprintf(body, sizeof(body), "%s", r.body);
    t_http_free(&r);
    cr_assert(status == 200, "GET %s: status %d", path, status);
    cr_assert(json_is_object(j), "GET %s: not a JSON object: %s", path, body);
    return t_keep(j);
}

void t_unchanged_(json_t *last, int line)
{
    json_t *now = t_api_game(t_iget(last, "game_id"));
    cr_assert(t_same_state(last, now), "line %d: a rejected request changed the game:\n"
              "before %s\nafter  %s", line, t_dumps(last), t_dumps(now));
}
