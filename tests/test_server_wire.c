/* test_server_wire.c -- the wire contract (docs/protocol.md) against a real
 * ttt-server process: the message size limit and keepalive, the HTTP endpoints, SIGTERM,
 * and the redis variant with Redis gone.
 * Split from the former test_server.c; the harness (servers, clients,
 * expect helpers, state checks) is tests/support/tsrv.c, tsrv_expect.c. */
#define _GNU_SOURCE
#include "tsrv.h"

/* =========================================================================== */

TestSuite(size, .init = t_setup, .fini = t_teardown, .timeout = 60);

/* A ping whose frame is exactly len bytes: {"type":"ping","id":"z","pad":"xx.."} */
static char *ping_of_size(size_t len)
{
    const char *head = "{\"type\":\"ping\",\"id\":\"z\",\"pad\":\"";
    const char *tail = "\"}";
    size_t hl = strlen(head), tl = strlen(tail);
    char *s = malloc(len + 1);
    cr_assert(s && len > hl + tl);
    memcpy(s, head, hl);
    memset(s + hl, 'x', len - hl - tl);
    memcpy(s + len - tl, tail, tl);
    s[len] = '\0';
    return s;
}

Test(keepalive, quiet_client_pinged_then_closed,
     .description = "--ping-interval 0.3 --ping-timeout 1: a connection that answers nothing "
                    "gets a ping once quiet, and is closed once silent past the timeout")
{
    const char *extra[] = {"--ping-interval", "0.3", "--ping-timeout", "1", NULL};
    t_own_server(extra);
    wsc_raw *r = wsc_raw_connect(S.port, "/ws", T_MSG);
    cr_assert(r, "raw connect");
    wsc_raw_set_silent(r, 1);
    char *p = NULL;
    int op = wsc_raw_recv_frame(r, T_MSG, &p, NULL);
    cr_assert_eq(op, WSC_OP_TEXT, "welcome first (got opcode %d)", op);
    free(p);
    long long t0 = proc_now_ms();
    op = wsc_raw_recv_frame(r, 3000, NULL, NULL);
    cr_assert_eq(op, WSC_OP_PING, "a ping on a quiet connection (got opcode %d)", op);
    /* answer nothing: the server must give up on us */
    int code = 0;
    cr_assert_eq(wsc_raw_wait_close(r, 5000, &code), 0, "closed within 5 s");
    cr_expect_geq(proc_now_ms() - t0, 500, "not closed before the timeout could pass");
    wsc_raw_free(r);
}

Test(keepalive, answering_client_stays,
     .description = "a client that answers pings stays connected well past the ping "
                    "timeout, and still gets answers")
{
    const char *extra[] = {"--ping-interval", "0.3", "--ping-timeout", "1", NULL};
    t_own_server(extra);
    wsc_raw *r = wsc_raw_connect(S.port, "/ws", T_MSG);
    cr_assert(r, "raw connect");
    char *p = NULL;
    cr_assert_eq(wsc_raw_recv_frame(r, T_MSG, &p, NULL), WSC_OP_TEXT, "welcome");
    free(p);
    /* 2.5 s of silence from our side but pongs: recv answers pings itself */
    cr_assert_eq(wsc_raw_recv_frame(r, 2500, NULL, NULL), -1, "nothing but pings for 2.5 s");
    const char ping[] = "{\"type\":\"ping\",\"id\":\"k\"}";
    cr_assert_eq(wsc_raw_send_frame(r, WSC_OP_TEXT, 1, ping, sizeof ping - 1), 0, "send ping");
    p = NULL;
    cr_assert_eq(wsc_raw_recv_frame(r, T_MSG, &p, NULL), WSC_OP_TEXT, "pong after 2.5 s");
    cr_expect(p && strstr(p, "\"pong\""), "got %s", p ? p : "(nothing)");
    free(p);
    wsc_raw_free(r);
}

Test(size, exactly_4096, .description = "a message of exactly 4096 bytes is accepted")
{
    wsc *w = t_client();
    char *s = ping_of_size(MAX_MSG);
    cr_assert(strlen(s) == MAX_MSG);
    int rc = wsc_send(w, s);
    free(s);
    cr_assert(rc == 0);
    t_check_id(EXPECT(w, "pong"), "s:z", __LINE__);
}

Test(size, over_4096_closes_1009, .description = "a single frame of 4097 bytes: the "
     "connection closes with 1009")
{
    wsc *w = t_client();
    char *s = ping_of_size(MAX_MSG + 1);
    int rc = wsc_send(w, s);
    free(s);
    cr_assert(rc == 0);
    int code = 0;
    const char *reason = NULL;
    cr_assert(wsc_wait_close(w, T_MSG, &code, &reason) == 0, "%s", wsc_error(C));
    cr_assert(code == 1009, "close code %d (%s), want 1009", code, reason);
    /* the server is fine */
    wsc *w2 = t_client();
    SEND(w2, "{\"type\":\"ping\"}");
    EXPECT(w2, "pong");
}

Test(size, fragmented_over_4096_closes_1009, .description = "3000 + 3000 bytes in two "
     "fragments of one message: close 1009 (the limit is on the whole message)")
{
    wsc *w = t_client();
    char *s = ping_of_size(6000);
    int rc = wsc_send_fragments(w, s, 6000, 3000);
    free(s);
    cr_assert(rc == 0);
    int code = 0;
    const char *reason = NULL;
    cr_assert(wsc_wait_close(w, T_MSG, &code, &reason) == 0, "%s", wsc_error(C));
    cr_assert(code == 1009, "close code %d (%s), want 1009", code, reason);
}

Test(size, fragmented_4096_accepted, .description = "a message in many small fragments is "
     "joined: 7-byte pieces of a ping, and 4096 bytes in 1000-byte pieces, both pong")
{
    wsc *w = t_client();
    const char *small = "{\"type\":\"ping\",\"id\":\"frag\"}";
    cr_assert(wsc_send_fragments(w, small, strlen(small), 7) == 0);
    t_check_id(EXPECT(w, "pong"), "s:frag", __LINE__);
    char *s = ping_of_size(MAX_MSG);
    int rc = wsc_send_fragments(w, s, MAX_MSG, 1000);
    free(s);
    cr_assert(rc == 0);
    t_check_id(EXPECT(w, "pong"), "s:z", __LINE__);
    /* and the next message starts afresh */
    SEND(w, "{\"type\":\"ping\",\"id\":\"after\"}");
    t_check_id(EXPECT(w, "pong"), "s:after", __LINE__);
}

Test(size, many_4096_in_a_row, .description = "the size limit is per message, not per "
     "connection: three 4096-byte messages in a row are all accepted")
{
    wsc *w = t_client();
    char *s = ping_of_size(MAX_MSG);
    for (int i = 0; i < 3; i++)
        cr_assert(wsc_send(w, s) == 0);
    free(s);
    for (int i = 0; i < 3; i++)
        EXPECT(w, "pong");
}

Test(size, binary_and_bad_utf8, .description = "text frames only: a binary frame or "
     "invalid UTF-8 gets an error or a close (1003/1007/1002), never a crash")
{
    wsc *w = t_client();
    const char bin[] = "{\"type\":\"ping\"}";
    cr_assert(wsc_send_binary(w, bin, sizeof(bin) - 1) == 0);
    char *m = wsc_recv(w, T_MSG);
    if (m) {
        json_t *j = t_keep(json_loads(m, 0, NULL));
        free(m);
        cr_assert(j && !strcmp(t_sget(j, "type"), "error"), "a binary frame was answered "
                  "as if it were text");
    } else {
        int code = 0;
        cr_assert(wsc_wait_close(w, T_MSG, &code, NULL) == 0);
        cr_assert(code == 1003 || code == 1002 || code == 1007, "close code %d", code);
    }

    wsc *u = t_client();
    const char bad[] = "{\"type\":\"ping\",\"id\":\"\xff\xfe\"}";
    cr_assert(wsc_send_raw_text(u, bad, sizeof(bad) - 1) == 0);
    m = wsc_recv(u, T_MSG);
    if (m) {
        json_t *j = t_keep(json_loads(m, 0, NULL));
        free(m);
        cr_assert(j && !strcmp(t_sget(j, "type"), "error"), "invalid UTF-8 was accepted");
    } else {
        int code = 0;
        cr_assert(wsc_wait_close(u, T_MSG, &code, NULL) == 0);
        cr_assert(code == 1007 || code == 1002, "close code %d", code);
    }
    wsc *ok = t_client();
    SEND(ok, "{\"type\":\"ping\"}");
    EXPECT(ok, "pong");
}

/* =========================================================================== */

TestSuite(http, .init = t_setup, .fini = t_teardown, .timeout = 60);

Test(http, index, .description = "GET / serves the browser client: 200 text/html")
{
    t_need_server();
    http_resp r;
    char ct[128];
    cr_assert(t_http_get(S.port, "/", &r) == 0, "GET / failed");
    int status = r.status;
    const char *type = t_http_header(&r, "Content-Type", ct, sizeof(ct));
    int html = strcasestr(r.body, "<html") != NULL;
    t_http_free(&r);
    cr_assert(status == 200, "GET /: %d", status);
    cr_assert(type && strcasestr(type, "text/html"), "Content-Type %s", type ? type : "-");
    cr_assert(html, "GET / is not an HTML page");
}

Test(http, healthz, .description = "GET /healthz: 200 with a JSON body when the store is "
     "reachable")
{
    t_need_server();
    http_resp r;
    cr_assert(t_http_get(S.port, "/healthz", &r) == 0);
    int status = r.status;
    json_t *j = t_keep(json_loads(r.body, 0, NULL));
    t_http_free(&r);
    cr_assert(status == 200, "/healthz: %d", status);
    cr_assert(j, "/healthz body is not JSON");
}

Test(http, metrics, .description = "GET /metrics: Prometheus text with connection, game, "
     "move and error counters")
{
    seat x, o;
    t_start_pair(&x, &o);
    t_play(&x, 0, (wsc *[]){o.w, NULL});
    http_resp r;
    cr_assert(t_http_get(S.port, "/metrics", &r) == 0);
    int status = r.status;
    char *body = strdup(r.body);
    t_http_free(&r);
    cr_assert(status == 200, "/metrics: %d", status);
    const char *words[] = {"connections", "games", "moves", "errors"};
    for (size_t i = 0; i < 4; i++)
        cr_expect(strcasestr(body, words[i]), "/metrics mentions no %s", words[i]);
    /* at least one "name value" sample line with a number */
    int samples = 0;
    for (char *line = strtok(body, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#' || !line[0])
            continue;
        char *sp = strrchr(line, ' ');
        char *end;
        if (sp && (strtod(sp + 1, &end), end != sp + 1))
            samples++;
    }
    free(body);
    cr_assert(samples >= 4, "only %d sample lines in /metrics", samples);
}

Test(http, api_games, .description = "GET /api/games/{id}: the state JSON for a known id, "
     "404 for an unknown one")
{
    seat x, o;
    t_start_pair(&x, &o);
    json_t *st = t_play(&x, 6, (wsc *[]){o.w, NULL});
    UNCHANGED(st);
    http_resp r;
    cr_assert(t_http_get(S.port, "/api/games/987654321", &r) == 0);
    int status = r.status;
    t_http_free(&r);
    cr_assert(status == 404, "unknown game: %d", status);
    cr_assert(t_http_get(S.port, "/api/games/99", &r) == 0);
    status = r.status;
    t_http_free(&r);
    cr_assert(status == 404, "game 99 (ids start at 100): %d", status);
}

/* =========================================================================== */

TestSuite(lifecycle, .init = t_setup, .fini = t_teardown, .timeout = 60);

Test(lifecycle, sigterm_1012, .description = "SIGTERM: every WebSocket client gets close "
     "code 1012, then the process exits with status 0")
{
    t_own_server(NULL);
    /* bare-socket clients see the code itself (lws 4.1 clients see 1002) */
    wsc_raw *r1 = wsc_raw_connect(S.port, "/ws", T_MSG);
    wsc_raw *r2 = wsc_raw_connect(S.port, "/ws", T_MSG);
    cr_assert(r1 && r2, "raw connect");
    char *p = NULL;
    cr_assert(wsc_raw_recv_frame(r1, T_MSG, &p, NULL) == WSC_OP_TEXT && strstr(p, "welcome"),
              "raw welcome");
    free(p);
    p = NULL;
    cr_assert(wsc_raw_recv_frame(r2, T_MSG, &p, NULL) == WSC_OP_TEXT);
    free(p);
    const char *create = "{\"type\":\"create\"}";
    wsc_raw_send_frame(r2, WSC_OP_TEXT, 1, create, strlen(create));
    p = NULL;
    cr_assert(wsc_raw_recv_frame(r2, T_MSG, &p, NULL) == WSC_OP_TEXT && strstr(p, "joined"));
    free(p);
    seat x;
    t_create_human(t_client(), &x);   /* and an lws client, seated */

    pid_t pid = S.pid;
    cr_assert(kill(pid, SIGTERM) == 0);
    int c1 = 0, c2 = 0, c3 = 0;
    int rc1 = wsc_raw_wait_close(r1, 5000, &c1);
    int rc2 = wsc_raw_wait_close(r2, 5000, &c2);
    int rc3 = wsc_wait_close(x.w, 5000, &c3, NULL);
    wsc_raw_free(r1);
    wsc_raw_free(r2);
    int st = proc_wait_exit(pid, 10000);
    if (st != -1)
        S.pid = 0;        /* reaped: teardown must not signal a reused pid */
    cr_assert(rc1 == 0 && c1 == 1012, "idle client: close %d (rc %d), want 1012", c1, rc1);
    cr_assert(rc2 == 0 && c2 == 1012, "seated client: close %d (rc %d), want 1012", c2, rc2);
    cr_assert(rc3 == 0 && c3 != WSC_CLOSE_ABNORMAL, "lws client: no close frame (%d)", c3);
    cr_assert(st != -1, "ttt-server still running 10 s after SIGTERM");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        t_print_sanitizer_lines(S.log);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %#x after SIGTERM", st);
}

/* =========================================================================== */

TestSuite(redis, .init = t_setup, .fini = t_teardown, .timeout = 60);

Test(redis, unavailable, .description = "Redis variant: with Redis gone a move gets "
     "unavailable (with its id) and /healthz turns 503")
{
    if (!t_use_redis())
        cr_skip_test("in-memory store: Redis cannot go away");
    t_own_server(NULL);
    seat x, o;
    t_start_pair(&x, &o);
    proc_redis_stop(&S.redis, 0);
    S.has_redis = 0;
    SEND(x.w, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":4,\"id\":\"u\"}", x.gid);
    EXPECT_ERROR(x.w, "unavailable", "s:u");
    EXPECT_NONE(o.w);
    long long end = proc_now_ms() + 8000;
    int status = 0;
    while (proc_now_ms() < end) {
        http_resp r;
        if (t_http_get(S.port, "/healthz", &r) == 0) {
            status = r.status;
            t_http_free(&r);
            if (status == 503)
                break;
        }
        wsc_ctx_service(C, 200);
    }
    cr_assert(status == 503, "/healthz %d with Redis down", status);
}

