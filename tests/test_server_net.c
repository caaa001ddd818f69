/* test_server_net.c -- the wire contract (docs/protocol.md) against a real
 * ttt-server process: issue 8's network layer: handshake policy, per-IP limits, caps,
 * RFC 6455 strictness, log flood, and a connection the manager cannot take in.
 * Split from the former test_server.c; the harness (servers, clients,
 * expect helpers, state checks) is tests/support/tsrv.c, tsrv_expect.c. */
#define _GNU_SOURCE
#include "tsrv.h"

/* =========================================================================== *
 * Issue 8, sections 5-7 (network layer): the handshake policy, the abuse   *
 * limits, RFC 6455 strictness, peer-fault log lines, and a connection the   *
 * manager cannot take in. Every test here fails on the code before it.      *
 * =========================================================================== */

/* A raw WebSocket handshake: the HTTP status of the answer (101, 403, ...),
 * or 0 when the server closed without one. headers: extra header lines,
 * each ending in \r\n (may be NULL); with origin NULL, no Origin header is
 * sent. On 101 the socket is kept open in *fd when fd is non-NULL. */
static int ws_handshake(int port, const char *path, const char *origin, const char *headers,
                        int *fd)
{
    char req[1024], buf[2048];
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {5, 0};
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd)
        *fd = -1;
    if (s < 0)
        return -1;
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(s);
        return -1;
    }
    char oh[300] = "";
    if (origin)
        snprintf(oh, sizeof oh, "Origin: %s\r\n", origin);
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s%s\r\n",
                     path, port, oh, headers ? headers : "");
    if (send(s, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(s);
        return -1;
    }
    size_t len = 0;
    while (len < sizeof buf - 1) {
        ssize_t got = recv(s, buf + len, sizeof buf - 1 - len, 0);
        if (got <= 0)
            break;
        len += (size_t)got;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            break;
    }
    buf[len] = '\0';
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    if (status == 101 && fd)
        *fd = s;
    else
        close(s);
    return status;
}

/* A sample of /metrics (the exact name with labels, e.g.
 * ttt_refused_total{limit="origin"}), or -1. */
static long long metric_value(const char *name)
{
    http_resp r;
    if (t_http_get(S.port, "/metrics", &r) != 0)
        return -1;
    long long v = -1;
    size_t nl = strlen(name);
    for (const char *p = r.body; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, name, nl) == 0 && p[nl] == ' ') {
            v = strtoll(p + nl + 1, NULL, 10);
            break;
        }
    t_http_free(&r);
    return v;
}

/* Poll until a handshake gets want (the server closes refused and dropped
 * connections asynchronously), for at most ms. The last status seen. */
static int handshake_until(int want, const char *headers, int *fd, int ms)
{
    long long end = proc_now_ms() + ms;
    int st;
    do {
        st = ws_handshake(S.port, "/ws", NULL, headers, fd);
        if (st == want)
            return st;
        wsc_ctx_service(C, 50);
    } while (proc_now_ms() < end);
    return st;
}

/* ---- the handshake policy ---- */

TestSuite(handshake, .init = t_setup, .fini = t_teardown, .timeout = 60);

Test(handshake, only_ws_path, .description = "a WebSocket upgrade on a path other than /ws "
     "gets 404 (it used to upgrade on every path); /ws upgrades")
{
    t_need_server();
    long long before = metric_value("ttt_refused_total{limit=\"not_ws_path\"}");
    cr_assert_eq(ws_handshake(S.port, "/", NULL, NULL, NULL), 404);
    cr_assert_eq(ws_handshake(S.port, "/api/games/100", NULL, NULL, NULL), 404);
    cr_assert_eq(ws_handshake(S.port, "/wsx", NULL, NULL, NULL), 404);
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, NULL, NULL), 101);
    cr_assert_eq(metric_value("ttt_refused_total{limit=\"not_ws_path\"}"), before + 3);
}

Test(handshake, origin_default, .description = "Origin: the Host's own is accepted (with or "
     "without the port), another site gets 403, no Origin (not a browser) is accepted")
{
    t_need_server();
    char same[64];
    snprintf(same, sizeof same, "http://127.0.0.1:%d", S.port);
    long long before = metric_value("ttt_refused_total{limit=\"origin\"}");
    cr_assert_eq(ws_handshake(S.port, "/ws", same, NULL, NULL), 101);
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, NULL, NULL), 101);
    cr_assert_eq(ws_handshake(S.port, "/ws", "http://evil.example", NULL, NULL), 403);
    cr_assert_eq(ws_handshake(S.port, "/ws", "http://127.0.0.1:1", NULL, NULL), 403,
                 "another port of the same host is another origin");
    cr_assert_eq(ws_handshake(S.port, "/ws", "null", NULL, NULL), 403);
    cr_assert_eq(metric_value("ttt_refused_total{limit=\"origin\"}"), before + 3);
}

Test(handshake, allowed_origin, .description = "--allowed-origin adds an origin (exact, any "
     "case); * allows every origin")
{
    const char *extra[] = {"--allowed-origin", "https://play.example.org", NULL};
    t_own_server(extra);
    cr_assert_eq(ws_handshake(S.port, "/ws", "https://play.example.org", NULL, NULL), 101);
    cr_assert_eq(ws_handshake(S.port, "/ws", "https://PLAY.example.org", NULL, NULL), 101);
    cr_assert_eq(ws_handshake(S.port, "/ws", "https://other.example.org", NULL, NULL), 403);
    tsrv_stop(&S);
    const char *any[] = {"--allowed-origin", "*", NULL};
    t_own_server(any);
    cr_assert_eq(ws_handshake(S.port, "/ws", "https://other.example.org", NULL, NULL), 101);
}

Test(handshake, over_limit_503, .description = "a handshake over --max-connections gets an "
     "HTTP 503 (it used to be a bare TCP close); a freed slot is taken again")
{
    const char *extra[] = {"--max-connections", "2", NULL};
    t_own_server(extra);
    int a, b;
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, NULL, &a), 101);
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, NULL, &b), 101);
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, NULL, NULL), 503);
    cr_assert_eq(metric_value("ttt_connections_refused_total"), 1);
    close(a);
    int c;
    cr_assert_eq(handshake_until(101, NULL, &c, T_MSG), 101, "the slot never came back");
    close(b);
    close(c);
}

/* ---- connections per client address ---- */

TestSuite(per_ip, .init = t_setup, .fini = t_teardown, .timeout = 60);

Test(per_ip, connection_limit, .description = "--max-connections-per-ip 3: the 4th connection "
     "from one address gets 429 (5,000 were accepted before); one closing frees a place")
{
    const char *extra[] = {"--max-connections-per-ip", "3", NULL};
    t_own_server(extra);
    int fd[3];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(ws_handshake(S.port, "/ws", NULL, NULL, &fd[i]), 101, "connection %d", i);
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, NULL, NULL), 429);
    cr_assert_eq(metric_value("ttt_refused_total{limit=\"connections_per_ip\"}"), 1);
    close(fd[0]);
    cr_assert_eq(handshake_until(101, NULL, &fd[0], T_MSG), 101, "the place never came back");
    for (int i = 0; i < 3; i++)
        close(fd[i]);
}

Test(per_ip, forwarded_untrusted, .description = "without --trusted-proxy, X-Forwarded-For and "
     "X-Real-IP are ignored: a client cannot dodge the limit by naming another address")
{
    const char *extra[] = {"--max-connections-per-ip", "1", NULL};
    t_own_server(extra);
    int fd;
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, "X-Forwarded-For: 10.0.0.1\r\n", &fd), 101);
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, "X-Forwarded-For: 10.0.0.2\r\n", NULL), 429);
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, "X-Real-IP: 10.0.0.3\r\n", NULL), 429);
    close(fd);
}

Test(per_ip, trusted_proxy, .description = "--trusted-proxy 127.0.0.1 (nginx in front): the "
     "limit counts the X-Forwarded-For / X-Real-IP address, entries left of the client's are "
     "not believed, and a proxy request without them counts as the proxy")
{
    const char *extra[] = {"--max-connections-per-ip", "1", "--trusted-proxy", "127.0.0.1",
                           NULL};
    t_own_server(extra);
    int a, b, c, d;
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, "X-Forwarded-For: 10.0.0.1\r\n", &a), 101);
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, "X-Forwarded-For: 10.0.0.1\r\n", NULL), 429);
    /* what nginx's $proxy_add_x_forwarded_for makes of a forged header */
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, "X-Forwarded-For: 10.9.9.9, 10.0.0.1\r\n",
                              NULL), 429);
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, "X-Forwarded-For: 10.0.0.2\r\n", &b), 101);
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, "X-Real-IP: 10.0.0.3\r\n", &c), 101);
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, NULL, &d), 101, "the proxy itself");
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, "X-Forwarded-For: junk\r\n", NULL), 429,
                 "an unreadable header counts as the proxy");
    close(a);
    close(b);
    close(c);
    close(d);
}

Test(per_ip, message_rate, .description = "--ip-rate-limit 5: three connections from one "
     "address share one bucket (burst 10); the per-connection limit alone let all 30 through")
{
    const char *extra[] = {"--rate-limit", "1000", "--ip-rate-limit", "5", NULL};
    t_own_server(extra);
    wsc *w[3];
    for (int i = 0; i < 3; i++)
        w[i] = t_client();
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 10; k++)
            SEND(w[i], "{\"type\":\"ping\",\"id\":%d}", k);
    int pongs = 0, limited = 0;
    for (int i = 0; i < 3; i++) {
        cr_assert(wsc_flush(w[i], T_MSG) == 0, "the burst did not go out: %s", wsc_error(C));
        for (int k = 0; k < 10; k++) {
            json_t *j = t_keep(wsc_recv_json(w[i], T_MSG));
            cr_assert(j, "connection %d, reply %d: %s", i, k, wsc_error(C));
            if (!strcmp(t_sget(j, "type"), "pong"))
                pongs++;
            else if (!strcmp(t_sget(j, "code"), "rate_limited"))
                limited++;
        }
    }
    cr_log_info("address rate 5/s over 3 connections: %d pongs, %d rate_limited", pongs, limited);
    cr_assert(limited >= 10, "only %d of 30 were rate_limited", limited);
    cr_assert(pongs >= 10 && pongs <= 16, "%d pongs: the address' burst is 10", pongs);
    cr_assert(metric_value("ttt_refused_total{limit=\"ip_rate\"}") == limited);
}

/* ---- what one connection may hold ---- */

TestSuite(caps, .init = t_setup, .fini = t_teardown, .timeout = 90);

Test(caps, watch, .description = "--max-watch 3: a 4th watch gets rate_limited with its id "
     "and watches nothing (6,000 were accepted before)")
{
    const char *extra[] = {"--max-watch", "3", NULL};
    t_own_server(extra);
    wsc *maker = t_client();
    long long gid[4];
    for (int i = 0; i < 4; i++) {
        SEND(maker, "{\"type\":\"create\",\"vs\":\"computer\"}");
        gid[i] = t_iget(EXPECT(maker, "joined"), "game_id");
        EXPECT_STATE(maker);
    }
    wsc *fan = t_client();
    for (int i = 0; i < 3; i++) {
        SEND(fan, "{\"type\":\"watch\",\"game_id\":%lld}", gid[i]);
        EXPECT(fan, "watching");
        EXPECT_STATE(fan);
    }
    SEND(fan, "{\"type\":\"watch\",\"game_id\":%lld,\"id\":\"w4\"}", gid[3]);
    EXPECT_ERROR(fan, "rate_limited", "s:w4");
    SEND(maker, "{\"type\":\"move\",\"game_id\":%lld,\"cell\":0}", gid[3]);
    EXPECT_STATE(maker);
    EXPECT_NONE(fan);
    cr_assert_eq(metric_value("ttt_refused_total{limit=\"watch\"}"), 1);
}

Test(caps, waiting, .description = "--max-waiting 2 --max-waiting-per-ip 3: a connection "
     "opens 2 waiting games, the address 3; then create and quick get rate_limited; a game "
     "against the computer is still fine, and a joined game frees a place")
{
    const char *extra[] = {"--max-waiting", "2", "--max-waiting-per-ip", "3", NULL};
    t_own_server(extra);
    wsc *a = t_client(), *b = t_client();
    seat g1, g2, g3;
    t_create_human(a, &g1);
    t_create_human(a, &g2);
    SEND(a, "{\"type\":\"create\",\"id\":\"a3\"}");
    EXPECT_ERROR(a, "rate_limited", "s:a3");
    SEND(a, "{\"type\":\"quick\",\"id\":\"aq\"}");
    EXPECT_ERROR(a, "rate_limited", "s:aq");
    t_create_human(b, &g3);
    SEND(b, "{\"type\":\"create\",\"id\":\"b2\"}");
    EXPECT_ERROR(b, "rate_limited", "s:b2");
    SEND(b, "{\"type\":\"create\",\"vs\":\"computer\",\"id\":\"bc\"}");
    EXPECT(b, "joined");
    EXPECT_STATE(b);
    /* someone takes g1: a holds one waiting game now, the address two */
    seat o;
    t_join_game(t_client(), &o, &g1);
    SEND(a, "{\"type\":\"create\",\"id\":\"a4\"}");
    EXPECT(a, "joined");
    EXPECT_STATE(a);
    cr_assert_eq(metric_value("ttt_refused_total{limit=\"waiting\"}"), 3);
}

/* ---- RFC 6455 strictness ---- */

TestSuite(rfc6455, .init = t_setup, .fini = t_teardown, .timeout = 60);

static wsc_raw *raw_client(void)
{
    t_need_server();
    wsc_raw *r = wsc_raw_connect(S.port, "/ws", T_MSG);
    cr_assert(r, "raw connect to port %d", S.port);
    char *p = NULL;
    cr_assert(wsc_raw_recv_frame(r, T_MSG, &p, NULL) == WSC_OP_TEXT && strstr(p, "welcome"));
    free(p);
    return r;
}

static int raw_close_code(wsc_raw *r)
{
    int code = 0;
    cr_assert(wsc_raw_wait_close(r, T_MSG, &code) == 0, "no close within %d ms", T_MSG);
    return code;
}

Test(rfc6455, bad_utf8_1007, .description = "a text frame that is not UTF-8 closes with 1007 "
     "(it used to get bad_json)")
{
    wsc_raw *r = raw_client();
    const char bad[] = "{\"type\":\"ping\",\"x\":\"\xc3\x28\"}";
    wsc_raw_send_frame(r, WSC_OP_TEXT, 1, bad, sizeof bad - 1);
    cr_assert_eq(raw_close_code(r), 1007);
    wsc_raw_free(r);
}

Test(rfc6455, bad_utf8_fragmented_1007, .description = "UTF-8 is checked over the whole "
     "message: a code point split over two fragments is fine, a surrogate is 1007")
{
    wsc_raw *r = raw_client();
    /* U+00E9 split between the fragments: valid */
    const char *p1 = "{\"type\":\"ping\",\"id\":\"\xc3", *p2 = "\xa9\"}";
    wsc_raw_send_frame(r, WSC_OP_TEXT, 0, p1, strlen(p1));
    wsc_raw_send_frame(r, WSC_OP_CONT, 1, p2, strlen(p2));
    char *p = NULL;
    cr_assert_eq(wsc_raw_recv_frame(r, T_MSG, &p, NULL), WSC_OP_TEXT);
    cr_assert(strstr(p, "pong"), "a split code point is valid UTF-8: %s", p);
    free(p);
    const char *s1 = "{\"type\":\"ping\",\"x\":\"\xed", *s2 = "\xa0\x80\"}";   /* U+D800 */
    wsc_raw_send_frame(r, WSC_OP_TEXT, 0, s1, strlen(s1));
    wsc_raw_send_frame(r, WSC_OP_CONT, 1, s2, strlen(s2));
    cr_assert_eq(raw_close_code(r), 1007);
    wsc_raw_free(r);
}

Test(rfc6455, close_code_invalid_1002, .description = "a close frame with code 5000 is "
     "answered with 1002 (it used to be echoed); 1000 is echoed")
{
    wsc_raw *r = raw_client();
    const unsigned char c5000[] = {0x13, 0x88};
    wsc_raw_send_frame(r, WSC_OP_CLOSE, 1, c5000, 2);
    cr_assert_eq(raw_close_code(r), 1002);
    wsc_raw_free(r);
    r = raw_client();
    const unsigned char c1000[] = {0x03, 0xe8, 'b', 'y', 'e'};
    wsc_raw_send_frame(r, WSC_OP_CLOSE, 1, c1000, sizeof c1000);
    cr_assert_eq(raw_close_code(r), 1000);
    wsc_raw_free(r);
    cr_assert_eq(metric_value("ttt_closed_protocol_error_total") >= 1, 1);
}

Test(rfc6455, close_one_byte_1002, .description = "a 1-byte close payload is answered with "
     "1002 (it used to get an empty close)")
{
    wsc_raw *r = raw_client();
    const unsigned char one[] = {0x03};
    wsc_raw_send_frame(r, WSC_OP_CLOSE, 1, one, 1);
    cr_assert_eq(raw_close_code(r), 1002);
    wsc_raw_free(r);
}

Test(rfc6455, close_reason_bad_utf8_1007, .description = "a close reason that is not UTF-8 "
     "is answered with 1007")
{
    wsc_raw *r = raw_client();
    const unsigned char c[] = {0x03, 0xe8, 0xff, 0xfe};
    wsc_raw_send_frame(r, WSC_OP_CLOSE, 1, c, sizeof c);
    cr_assert_eq(raw_close_code(r), 1007);
    wsc_raw_free(r);
}

Test(rfc6455, control_frame_over_125_1002, .description = "a ping of 200 bytes (control "
     "frames carry at most 125) is answered with 1002 (it used to be a bare TCP close)")
{
    wsc_raw *r = raw_client();
    char big[200];
    memset(big, 'p', sizeof big);
    wsc_raw_send_frame(r, WSC_OP_PING, 1, big, sizeof big);
    cr_assert_eq(raw_close_code(r), 1002);
    wsc_raw_free(r);
}

Test(rfc6455, dropped_peer_no_protocol_error, .description = "clients that drop the TCP "
     "connection without a close frame are not counted as protocol errors")
{
    const char *extra[] = {"--log-level", "info", NULL};
    t_own_server(extra);
    for (int i = 0; i < 3; i++)
        wsc_raw_free(raw_client());
    long long end = proc_now_ms() + T_MSG;
    while (metric_value("ttt_connections") != 0 && proc_now_ms() < end)
        wsc_ctx_service(C, 20);
    cr_assert_eq(metric_value("ttt_connections"), 0);
    cr_assert_eq(metric_value("ttt_closed_protocol_error_total"), 0);
}

/* ---- peer faults do not flood the log ---- */

TestSuite(log_flood, .init = t_setup, .fini = t_teardown, .timeout = 90);

static int count_lines(const char *path, const char *needle)
{
    char *text = proc_read_file(path);
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    free(text);
    return n;
}

Test(log_flood, refused_handshakes, .description = "120 handshakes over the limit and 60 "
     "1007 closes write at most a line a second of each kind, with a count (each refusal "
     "logged a line before)")
{
    const char *extra[] = {"--max-connections", "1", "--log-level", "info", NULL};
    t_own_server(extra);
    long long t0 = proc_now_ms();
    int keep_fd;
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, NULL, &keep_fd), 101);
    for (int i = 0; i < 120; i++)
        cr_assert_eq(ws_handshake(S.port, "/ws", NULL, NULL, NULL), 503, "handshake %d", i);
    close(keep_fd);
    for (int i = 0; i < 60; i++) {
        wsc_raw *r = NULL;
        long long end = proc_now_ms() + T_MSG;
        while (!r && proc_now_ms() < end)   /* the slot frees once CLOSED has run */
            r = wsc_raw_connect(S.port, "/ws", 1000);
        cr_assert(r, "connection %d", i);
        wsc_raw_send_frame(r, WSC_OP_TEXT, 1, "\xff", 1);
        int code = 0;
        cr_assert(wsc_raw_wait_close(r, T_MSG, &code) == 0);
        wsc_raw_free(r);
    }
    long long secs = (proc_now_ms() - t0) / 1000 + 1;
    int refused = count_lines(S.log, "refused") + count_lines(S.log, "denied");
    int utf8 = count_lines(S.log, "UTF-8");
    cr_log_info("%lld s: %d refusal lines, %d UTF-8 lines", secs, refused, utf8);
    cr_assert(refused >= 1 && refused <= 2 * (secs + 1), "%d refusal lines in %lld s",
              refused, secs);
    cr_assert(utf8 >= 1 && utf8 <= secs + 1, "%d UTF-8 lines in %lld s", utf8, secs);
    /* one more refusal a second later writes its line, with what was held back */
    int fd2;
    cr_assert_eq(ws_handshake(S.port, "/ws", NULL, NULL, &fd2), 101);
    long long end = proc_now_ms() + 5000;
    while (count_lines(S.log, "more like this") == 0 && proc_now_ms() < end) {
        cr_assert_eq(ws_handshake(S.port, "/ws", NULL, NULL, NULL), 503);
        wsc_ctx_service(C, 100);
    }
    close(fd2);
    char *text = proc_read_file(S.log);
    const char *held = text ? strstr(text, "more like this") : NULL;
    while (held && held > text && held[-1] != '(')
        held--;
    long n = held ? strtol(held, NULL, 10) : 0;
    free(text);
    cr_assert(n >= 50, "the first held-back count is %ld, want most of the 120 refusals", n);
}

/* ---- a connection the manager cannot take in (section 7) ---- */

TestSuite(alloc_fail, .init = t_setup, .fini = t_teardown, .timeout = 60);

Test(alloc_fail, conn_open_fails, .description = "when gm_conn_open fails at ESTABLISHED "
     "(fault hook TTT_FAULT_CONN_OPEN=2), those clients get 1011, the connection gauge stays "
     "exact (it underflowed and refused everyone after), and later clients play")
{
    setenv("TTT_FAULT_CONN_OPEN", "2", 1);
    const char *extra[] = {"--max-connections", "4", NULL};
    t_own_server(extra);
    unsetenv("TTT_FAULT_CONN_OPEN");
    for (int i = 0; i < 2; i++) {
        wsc_raw *r = wsc_raw_connect(S.port, "/ws", T_MSG);
        cr_assert(r, "handshake %d", i);
        int code = 0;
        cr_assert(wsc_raw_wait_close(r, T_MSG, &code) == 0);
        cr_assert_eq(code, 1011, "connection %d closed with %d", i, code);
        wsc_raw_free(r);
    }
    cr_assert_eq(metric_value("ttt_connections_failed_total"), 2);
    long long end = proc_now_ms() + T_MSG;
    while (metric_value("ttt_connections") != 0 && proc_now_ms() < end)
        wsc_ctx_service(C, 20);
    cr_assert_eq(metric_value("ttt_connections"), 0, "the gauge after two failed opens");
    seat x, o;
    t_start_pair(&x, &o);
    cr_assert_eq(metric_value("ttt_connections"), 2);
    t_play(&x, 4, (wsc *const[]){o.w, NULL});
}

