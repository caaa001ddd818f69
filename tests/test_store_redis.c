/* test_store_redis.c -- what only the Redis backend has: URLs, outages, a hung server, several
 * stores and processes, dead instances, in-doubt writes, data loss, namespaces.
 * The harness is tests/support/tstore.h. */
#include "tstore.h"

/* ---- Redis only -------------------------------------------------------------------------- */

static void redis_cli(const char *a1, const char *a2)
{
    char cli[512], port[16];
    snprintf(cli, sizeof(cli), "%s", TTT_REDIS_SERVER);
    char *slash = strrchr(cli, '/');
    snprintf(slash ? slash + 1 : cli, sizeof(cli) - (size_t)(slash ? slash + 1 - cli : 0),
             "redis-cli");
    snprintf(port, sizeof(port), "%d", H.r.port);
    char *argv[] = {cli, "-p", port, (char *)a1, (char *)a2, NULL};
    pid_t pid = proc_spawn(argv, "/dev/null");
    cr_assert(pid > 0);
    int st = proc_wait_exit(pid, 5000);
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "redis-cli %s %s failed", a1, a2);
}

Test(redis, bad_url, .description = "malformed redis URLs are refused by store_open with a reason",
     .fini = fini)
{
    setup(0, 0);
    const char *bad[] = {"http://x:1", "redis://", "redis://host:0", "redis://host:99999",
                         "redis://host:12x", "redis://host:1/db", "unix:", "rediss://h:1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        store_options o = {.redis_url = bad[i]};
        store_events ev = {0};
        char err[200] = "";
        store *s = store_open(&H.loop, &o, &ev, err, sizeof(err));
        cr_assert_null(s, "%s was accepted", bad[i]);
        cr_assert(err[0], "%s: no reason given", bad[i]);
    }
    teardown();
}

Test(redis, down_from_start, .description = "no Redis at all: the store stays down and every op fails EUNAVAIL, later, not inside the call",
     .fini = fini)
{
    setup(0, 0);
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", proc_free_port());
    tstore *t = open_url(url, 0);
    cr_assert(!store_is_up(t->s));
    cr_assert_eq(store_instance(t->s), 0);
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    res r = do_create(t, &g);
    cr_assert_eq(r.status, STORE_EUNAVAIL, "create: %s", store_err_name(r.status));
    r = do_load(t, 100);
    cr_assert_eq(r.status, STORE_EUNAVAIL);
    r = do_subscribe(t, 100);
    cr_assert_eq(r.status, STORE_EUNAVAIL);
    r = do_list(t, 5);
    cr_assert_eq(r.status, STORE_EUNAVAIL);
    /* a few reconnection attempts go by, none succeeds, nothing leaks */
    long long until = proc_now_ms() + 600;
    RUN_UNTIL(proc_now_ms() >= until, 1000);
    cr_assert_eq(t->ups, 0);
    teardown();
}

Test(redis, restart_outage, .description = "redis-server restarts: EUNAVAIL and health(0) while down; health(1), data, subscriptions and scripts (NOSCRIPT path) after",
     .fini = fini, .timeout = 60)
{
    setup(1, 1);
    tstore *a = open_store();
    tstore *b = open_store();
    cr_assert_eq(a->ups, 1);
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    int64_t id = create_ok(a, &g);
    cr_assert_eq(do_subscribe(b, id).status, STORE_OK);
    store_game before = load_ok(a, id);
    uint32_t inst = store_instance(a->s);
    cr_assert(inst > 0);
    cr_assert(store_latency_ms(a->s) > 0, "no round trip measured");

    proc_redis_stop(&H.r, 1);
    RUN_UNTIL(a->downs >= 1 && b->downs >= 1, WAIT_MS);
    cr_assert(a->downs == 1 && b->downs == 1, "health(0): %d, %d", a->downs, b->downs);
    cr_assert(!store_is_up(a->s));
    res r = do_load(a, id);
    cr_assert_eq(r.status, STORE_EUNAVAIL, "load while down: %s", store_err_name(r.status));
    r = do_save(a, &before);
    cr_assert_eq(r.status, STORE_EUNAVAIL, "save while down: %s", store_err_name(r.status));
    r = do_subscribe(b, id + 1);
    cr_assert_eq(r.status, STORE_EUNAVAIL, "subscribe while down: %s", store_err_name(r.status));

    cr_assert_eq(proc_redis_restart(&H.r), 0, "redis-server did not come back");
    RUN_UNTIL(store_is_up(a->s) && store_is_up(b->s), WAIT_MS);
    cr_assert(a->ups == 2 && b->ups == 2, "health(1): %d, %d", a->ups, b->ups);
    cr_assert_eq(store_instance(a->s), inst, "the instance id changed on reconnection");
    store_game after = load_ok(a, id);
    cr_assert(game_eq(&after, &before), "the record did not survive the restart");

    /* scripts were loaded again, and b's subscription was restored */
    after.updated_ms = 99;
    res s = do_save(a, &after);
    cr_assert_eq(s.status, STORE_OK, "save after restart: %s", store_err_name(s.status));
    /* the restored subscription also re-published the record as it was
     * (store.h: a version may arrive more than once); then the save's */
    RUN_UNTIL(b->last_pub.updated_ms == 99, WAIT_MS);
    cr_assert(b->published >= 1);
    cr_assert_eq(b->last_pub.updated_ms, 99);
    int pub_before = b->published;

    /* the script cache flushed behind the stores' back: EVALSHA gets NOSCRIPT */
    redis_cli("SCRIPT", "FLUSH");
    store_game v3 = s.g;
    v3.updated_ms = 100;
    s = do_save(a, &v3);
    cr_assert_eq(s.status, STORE_OK, "save after SCRIPT FLUSH: %s", store_err_name(s.status));
    cr_assert_eq(s.g.version, 3);
    redis_cli("SCRIPT", "FLUSH");
    int64_t id2 = create_ok(b, &g);
    cr_assert_eq(id2, id + 1, "ids after the restart: %lld", (long long)id2);
    RUN_UNTIL(b->published > pub_before, WAIT_MS);
    cr_assert_eq(b->last_pub.version, 3);
    teardown();
}

Test(redis, hung_server, .description = "a hung redis-server (SIGSTOP): no early subscribe confirmation, ops time out with EUNAVAIL and health(0), all back after SIGCONT",
     .fini = fini, .timeout = 60)
{
    setup(1, 0);
    tstore *a = open_store();
    tstore *b = open_store();
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    int64_t id = create_ok(a, &g);

    cr_assert_eq(kill(H.r.pid, SIGSTOP), 0);
    res sub = {0}, ld = {0};
    CALL(store_subscribe(b->s, id, done_cb, &sub));
    CALL(store_game_load(a->s, id, game_cb, &ld));
    long long t0 = proc_now_ms();
    RUN_UNTIL(ld.n, 15000);
    check_once(&ld, "load");
    cr_assert_eq(ld.status, STORE_EUNAVAIL, "load: %s", store_err_name(ld.status));
    cr_assert_geq(proc_now_ms() - t0, 4000, "gave up after %lld ms", proc_now_ms() - t0);
    cr_assert_eq(sub.n, 0, "subscribe confirmed while Redis could not have");
    cr_assert_eq(a->downs, 1, "health(0) %d times", a->downs);

    cr_assert_eq(kill(H.r.pid, SIGCONT), 0);
    RUN_UNTIL(sub.n && store_is_up(a->s) && store_is_up(b->s), 15000);
    check_once(&sub, "subscribe");
    cr_assert_eq(sub.status, STORE_OK, "subscribe: %s", store_err_name(sub.status));
    cr_assert(store_is_up(a->s) && store_is_up(b->s));
    cr_assert_eq(a->ups, 2);
    store_game back = load_ok(a, id);
    cr_assert_eq(back.version, 1);
    /* Redis stalled, not the processes: nobody may be taken for dead (the
     * reaps queued during the stall run first after SIGCONT) */
    cr_assert_eq(a->orphaned + b->orphaned, 0, "a live instance was reported dead");
    teardown();
}

static int completions;

static void count_cb(void *ud, int status, const store_game *g)
{
    game_cb(ud, status, g);
    completions++;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

Test(redis, ids_2000_two_stores, .description = "2000 creates from two stores at once: 2000 distinct consecutive ids from 100",
     .fini = fini, .timeout = 60)
{
    setup(1, 0);
    tstore *a = open_store();
    tstore *b = open_store();
    enum { N = 2000 };
    res *rs = calloc(N, sizeof(*rs));
    int64_t *ids = calloc(N, sizeof(*ids));
    cr_assert(rs && ids);
    completions = 0;
    for (int i = 0; i < N; i++) {
        store_game g = mk_game(STORE_KIND_CREATE, 1, i);
        CALL(store_game_create((i % 2 ? b : a)->s, &g, count_cb, &rs[i]));
    }
    RUN_UNTIL(completions >= N, 30000);
    cr_assert_eq(completions, N, "%d of %d creates completed", completions, N);
    for (int i = 0; i < N; i++) {
        check_once(&rs[i], "create");
        cr_assert_eq(rs[i].status, STORE_OK, "create %d: %s", i, store_err_name(rs[i].status));
        cr_assert_eq(rs[i].g.version, 1);
        ids[i] = rs[i].g.id;
    }
    qsort(ids, N, sizeof(*ids), cmp_i64);
    for (int i = 0; i < N; i++)
        cr_assert_eq(ids[i], 100 + i, "sorted id %d is %lld", i, (long long)ids[i]);
    free(rs);
    free(ids);
    teardown();
}

/* A second process: takes a seat in one game, reports "instance id", then
 * waits to be killed without saying goodbye. */
static void child_main(const char *url, int wfd)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0)
        _exit(2);
    store_options o = {.redis_url = url, .instance_name = "child"};
    store_events ev = {0};
    char err[200];
    store *s = store_open(&loop, &o, &ev, err, sizeof(err));
    if (!s)
        _exit(3);
    long long end = proc_now_ms() + WAIT_MS;
    while (!store_is_up(s) && proc_now_ms() < end)
        uv_run(&loop, UV_RUN_ONCE);
    if (!store_is_up(s))
        _exit(4);
    store_game g = mk_game(STORE_KIND_CREATE, 0, 1);
    g.seat[0].nholders = 1;
    g.seat[0].holders[0] = store_instance(s);
    res r = {0};
    store_game_create(s, &g, game_cb, &r);
    while (!r.n && proc_now_ms() < end)
        uv_run(&loop, UV_RUN_ONCE);
    if (r.status != STORE_OK)
        _exit(5);
    dprintf(wfd, "%u %lld\n", store_instance(s), (long long)r.g.id);
    for (;;)
        pause();
}

static int child_said(int fd, char *buf, size_t len)
{
    ssize_t n = read(fd, buf, len - 1);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return 1;
}

Test(redis, orphaned_once, .description = "a process killed without goodbye: exactly one survivor gets orphaned() with its games; a clean close is not reported",
     .fini = fini, .timeout = 60)
{
    setup(1, 0);
    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    H.child = fork();
    cr_assert(H.child >= 0);
    if (H.child == 0) {
        close(pfd[0]);
        child_main(H.r.url, pfd[1]);
        _exit(0);
    }
    close(pfd[1]);
    fcntl(pfd[0], F_SETFL, O_NONBLOCK);

    tstore *a = open_store();
    tstore *b = open_store();
    tstore *c = open_store();   /* leaves cleanly, holding no seat */
    uint32_t cinst = store_instance(c->s);
    close_store(c);

    char buf[64] = "";
    RUN_UNTIL(child_said(pfd[0], buf, sizeof(buf)), 15000);
    close(pfd[0]);
    unsigned inst = 0;
    long long gid = 0;
    cr_assert_eq(sscanf(buf, "%u %lld", &inst, &gid), 2, "the child said \"%s\"", buf);
    cr_assert(inst && inst != store_instance(a->s) && inst != store_instance(b->s) &&
              inst != cinst);
    proc_kill9(H.child);
    H.child = 0;

    /* silent for 5 s, looked for every 2 s */
    RUN_UNTIL(a->orphaned + b->orphaned >= 1, 15000);
    cr_assert_eq(a->orphaned + b->orphaned, 1, "orphaned raised %d times",
                 a->orphaned + b->orphaned);
    long long until = proc_now_ms() + 4500;   /* two more looks: nobody reports it again */
    RUN_UNTIL(proc_now_ms() >= until, 5000);
    cr_assert_eq(a->orphaned + b->orphaned, 1, "orphaned raised %d times",
                 a->orphaned + b->orphaned);
    tstore *w = a->orphaned ? a : b;
    cr_assert_eq(w->orph_inst, inst);
    cr_assert_eq(w->orph_n, 1, "%zu games", w->orph_n);
    cr_assert_eq(w->orph_ids[0], gid);
    teardown();
}

Test(redis, url_forms, .description = "redis://user:password@host:port/db (percent-encoded) and unix:/path; a wrong password never comes up",
     .fini = fini, .timeout = 60)
{
    setup(0, 0);
    H.r.dir = proc_tmpdir("redis-acl");
    cr_assert(H.r.dir);
    H.r.port = proc_free_port();
    char port[16], sock[300], log[300];
    snprintf(port, sizeof(port), "%d", H.r.port);
    snprintf(sock, sizeof(sock), "%s/redis.sock", H.r.dir);
    snprintf(log, sizeof(log), "%s/redis.log", H.r.dir);
    char *argv[] = {TTT_REDIS_SERVER, "--port", port, "--bind", "127.0.0.1", "--dir", H.r.dir,
                    "--save", "", "--unixsocket", sock, "--unixsocketperm", "700",
                    "--user", "ttt", "on", ">p@ss", "~*", "&*", "+@all", NULL};
    H.r.pid = proc_spawn(argv, log);
    cr_assert(H.r.pid > 0);
    cr_assert_eq(proc_wait_port(H.r.port, H.r.pid, 10000), 0, "redis-server did not start");

    char url[400];
    snprintf(url, sizeof(url), "redis://ttt:p%%40ss@127.0.0.1:%d/3", H.r.port);
    tstore *db3 = open_url(url, 1);
    snprintf(url, sizeof(url), "unix:%s", sock);
    tstore *ux = open_url(url, 1);
    snprintf(url, sizeof(url), "redis://ttt:wrong@localhost:%d", H.r.port);
    tstore *bad = open_url(url, 0);

    /* separate databases: each has its own id counter */
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    cr_assert_eq(create_ok(db3, &g), 100);
    cr_assert_eq(create_ok(ux, &g), 100);
    cr_assert_eq(create_ok(db3, &g), 101);
    cr_assert_eq(do_load(ux, 101).status, STORE_ENOTFOUND, "unix:/path is not on db 0");
    long long until = proc_now_ms() + 300;
    RUN_UNTIL(proc_now_ms() >= until, 1000);
    cr_assert(!store_is_up(bad->s), "up with a wrong password");
    cr_assert_eq(do_load(bad, 100).status, STORE_EUNAVAIL);
    teardown();
    proc_redis_stop(&H.r, 0);
}


/* ---- issue 8: definite outcomes, data loss, namespaces, the open-list policy ----------- */

/* redis-cli -p <port> args... (NULL-terminated), must exit 0 */
static void redis_cliv(const char *const *args)
{
    char cli[512], port[16];
    snprintf(cli, sizeof(cli), "%s", TTT_REDIS_SERVER);
    char *slash = strrchr(cli, '/');
    snprintf(slash ? slash + 1 : cli, sizeof(cli) - (size_t)(slash ? slash + 1 - cli : 0),
             "redis-cli");
    snprintf(port, sizeof(port), "%d", H.r.port);
    char *argv[16] = {cli, "-p", port};
    int n = 3;
    for (; args[n - 3] && n < 15; n++)
        argv[n] = (char *)args[n - 3];
    argv[n] = NULL;
    pid_t pid = proc_spawn(argv, "/dev/null");
    cr_assert(pid > 0);
    int st = proc_wait_exit(pid, 5000);
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "redis-cli %s failed", args[0]);
}

static void run_for(long long ms)
{
    long long until = proc_now_ms() + ms;
    RUN_UNTIL(proc_now_ms() >= until, ms + 1000);
}

Test(redis, in_doubt_frozen, .description = "writes sent to a redis-server frozen past the op timeout (SIGSTOP 7 s) are answered with what Redis did once it resumes: saved and created, never unavailable",
     .fini = fini, .timeout = 90)
{
    setup(1, 0);
    tstore *t = open_store();
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    int64_t id = create_ok(t, &g);
    store_game cur = load_ok(t, id);

    cr_assert_eq(kill(H.r.pid, SIGSTOP), 0);
    res sv = {0}, cr = {0};
    store_game next = cur;
    next.updated_ms = 4242;
    CALL(store_game_save(t->s, &next, game_cb, &sv));
    CALL(store_game_create(t->s, &g, game_cb, &cr));
    long long t0 = proc_now_ms();
    /* the old store answered EUNAVAIL at the 5 s op timeout, and Redis ran
     * both writes when it resumed */
    RUN_UNTIL(sv.n || cr.n || proc_now_ms() - t0 >= 7000, 9000);
    cr_assert(sv.n == 0 && cr.n == 0, "answered while Redis was frozen: save %s, create %s",
              sv.n ? store_err_name(sv.status) : "-", cr.n ? store_err_name(cr.status) : "-");
    cr_assert(t->downs >= 1, "the hung connection was not given up");
    cr_assert_eq(kill(H.r.pid, SIGCONT), 0);
    RUN_UNTIL(sv.n && cr.n, 20000);
    check_once(&sv, "save");
    check_once(&cr, "create");
    cr_assert_eq(sv.status, STORE_OK, "save: %s", store_err_name(sv.status));
    cr_assert_eq(sv.g.version, 2);
    cr_assert_eq(cr.status, STORE_OK, "create: %s", store_err_name(cr.status));
    cr_assert_eq(cr.g.id, id + 1, "created id %lld", (long long)cr.g.id);
    cr_assert_eq(cr.g.version, 1);
    store_game after = load_ok(t, id);
    cr_assert_eq(after.version, 2, "stored version %llu", (unsigned long long)after.version);
    cr_assert_eq(after.updated_ms, 4242);
    store_game made = load_ok(t, cr.g.id);
    cr_assert(game_eq(&made, &cr.g), "the record answered is not the one stored");
    teardown();
}

Test(redis, in_doubt_cut, .description = "a save cut off after it was sent (CLIENT PAUSE WRITE, then CLIENT KILL) and never run is answered EUNAVAIL only after the store made sure it never will run",
     .fini = fini, .timeout = 90)
{
    setup(1, 0);
    tstore *t = open_store();
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    int64_t id = create_ok(t, &g);
    store_game cur = load_ok(t, id);

    const char *pause[] = {"CLIENT", "PAUSE", "3000", "WRITE", NULL};
    redis_cliv(pause);
    res sv = {0};
    store_game next = cur;
    next.updated_ms = 777;
    CALL(store_game_save(t->s, &next, game_cb, &sv));
    run_for(300);   /* the command reaches Redis and is held by the pause */
    cr_assert_eq(sv.n, 0, "answered while paused");
    const char *kill_normal[] = {"CLIENT", "KILL", "TYPE", "normal", NULL};
    redis_cliv(kill_normal);
    RUN_UNTIL(sv.n, 20000);
    check_once(&sv, "save");
    cr_assert_eq(sv.status, STORE_EUNAVAIL, "save: %s", store_err_name(sv.status));
    /* unavailable means unchanged, now and later */
    store_game after = load_ok(t, id);
    cr_assert_eq(after.version, 1);
    run_for(500);
    after = load_ok(t, id);
    cr_assert_eq(after.version, 1, "the write ran after it was reported unavailable");
    cr_assert_neq(after.updated_ms, 777);
    teardown();
}

/* create games until the last id is want_last, checking lost() on the way */
static void lost_case(int restart)
{
    setup(1, 0);
    tstore *t = open_store();
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    int64_t a = create_ok(t, &g), b = create_ok(t, &g);
    cr_assert(a == 100 && b == 101);
    cr_assert_eq(do_subscribe(t, a).status, STORE_OK);
    if (restart) {
        proc_kill9(H.r.pid);
        cr_assert_eq(proc_redis_restart(&H.r), 0, "redis-server did not come back");
    } else {
        redis_cli("FLUSHALL", NULL);
    }
    RUN_UNTIL(t->lost && store_is_up(t->s), WAIT_MS);
    cr_assert_eq(t->lost, 1, "lost() raised %d times", t->lost);
    cr_assert_eq(store_lost_count(t->s), 1);
    /* creates may be refused (EUNAVAIL) for a moment while every live
     * process raises the counter; the first one that succeeds is above */
    res r = {0};
    long long end = proc_now_ms() + WAIT_MS;
    do {
        r = do_create(t, &g);
    } while (r.status == STORE_EUNAVAIL && proc_now_ms() < end && (run_for(200), 1));
    cr_assert_eq(r.status, STORE_OK, "create after the loss: %s", store_err_name(r.status));
    cr_assert_gt(r.g.id, b, "id %lld handed out again after the loss", (long long)r.g.id);
    cr_assert_eq(do_load(t, a).status, STORE_ENOTFOUND);
    /* a second store that never saw the old data continues above it too */
    tstore *u = open_store();
    cr_assert_gt(create_ok(u, &g), r.g.id);
    cr_assert_eq(u->lost, 0, "a newcomer cannot know of a loss");
    teardown();
}

Test(redis, lost_flushall, .description = "FLUSHALL under a live store: lost() once, counted, no id handed out again",
     .fini = fini, .timeout = 60)
{
    lost_case(0);
}

Test(redis, lost_restart_empty, .description = "redis-server killed (-9, no persistence) and restarted empty: lost() once, no id handed out again",
     .fini = fini, .timeout = 60)
{
    lost_case(1);
}

Test(redis, namespaces_apart, .description = "stores on other prefixes or another db of one redis-server keep their own ids and never hear each other's saves",
     .fini = fini, .timeout = 60)
{
    setup(1, 0);
    char db1[96];
    snprintf(db1, sizeof(db1), "%s/1", H.r.url);
    tstore *a = open_store();
    open_prefix = "other";
    tstore *b = open_store();
    open_prefix = NULL;
    tstore *c = open_url(db1, 1);
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    tstore *all[] = {a, b, c};
    store_game rec[3];
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(create_ok(all[i], &g), 100, "store %d: its own ids start at 100", i);
        rec[i] = load_ok(all[i], 100);
        cr_assert_eq(do_subscribe(all[i], 100).status, STORE_OK);
    }
    /* b and c save their game 100; a must hear neither */
    for (int i = 1; i < 3; i++) {
        res s = do_save(all[i], &rec[i]);
        cr_assert_eq(s.status, STORE_OK);
        RUN_UNTIL(all[i]->published, WAIT_MS);
        cr_assert_eq(all[i]->published, 1, "store %d did not hear its own save", i);
    }
    cr_assert_eq(load_ok(a, 100).version, 1, "another deployment's save changed ours");
    res s = do_save(a, &rec[0]);
    cr_assert_eq(s.status, STORE_OK);
    RUN_UNTIL(a->published, WAIT_MS);   /* our own save arrives: the others' would have too */
    cr_assert_eq(a->published, 1, "a heard %d saves, only 1 is its own", a->published);
    cr_assert_eq(b->published + c->published, 2, "a's save reached another deployment");
    res l = do_list(b, 10);
    cr_assert_eq(l.count, 1, "b lists %zu games", l.count);

    store_options o = {.redis_url = H.r.url, .redis_prefix = "bad prefix"};
    store_events ev = {0};
    char err[200] = "";
    cr_assert_null(store_open(&H.loop, &o, &ev, err, sizeof(err)), "a prefix with a space was accepted");
    cr_assert(err[0]);
    teardown();
}


Test(redis, legacy_id_floor, .description = "the id counter of the layout before the cluster store (ttt:id) is a floor: no id it handed out comes again",
     .fini = fini, .timeout = 60)
{
    setup(1, 0);
    /* the old rule: id = counter + 99, so 100..599 were handed out */
    const char *set[] = {"SET", "ttt:id", "500", NULL};
    redis_cliv(set);
    tstore *a = open_store();
    store_game g = mk_game(STORE_KIND_CREATE, 1, 1);
    cr_assert_eq(create_ok(a, &g), 600);
    cr_assert_eq(create_ok(a, &g), 601);
    /* a second process reads the same floor, and the shared counter goes on */
    tstore *b = other_store(a);
    cr_assert_eq(create_ok(b, &g), 602);
}
