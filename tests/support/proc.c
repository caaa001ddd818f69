/* proc.c -- test support: start and stop real programs by PID on loopback.
 * See proc.h. Waiting is always on a condition (a port that answers, a
 * process that exited) with a bounded deadline, never a bare sleep. */
#define _GNU_SOURCE
#include "proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef TTT_REDIS_SERVER
#define TTT_REDIS_SERVER "/usr/bin/redis-server"
#endif

long long proc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int proc_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof(a);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

char *proc_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char *path = NULL;
    if (!base || !*base)
        base = "/tmp";
    if (asprintf(&path, "%s/ttt-%s-XXXXXX", base, tag ? tag : "test") < 0)
        return NULL;
    if (!mkdtemp(path)) {
        free(path);
        return NULL;
    }
    return path;
}

void proc_rmtree(const char *path)
{
    if (!path || !*path || strcmp(path, "/") == 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/rm", "rm", "-rf", path, (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
}

pid_t proc_spawn(char *const argv[], const char *log_path)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    /* child: own process group so a stray grandchild can be reaped with it */
    setpgid(0, 0);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0)
        dup2(devnull, 0);
    if (log_path) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
    }
    execv(argv[0], argv);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static int port_answers(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

int proc_wait_port(int port, pid_t pid, int timeout_ms)
{
    long long end = proc_now_ms() + timeout_ms;
    while (proc_now_ms() < end) {
        if (port_answers(port))
            return 0;
        if (pid > 0 && waitpid(pid, NULL, WNOHANG) == pid)
            return -1;
        nap_ms(10);
    }
    return -1;
}

int proc_wait_exit(pid_t pid, int timeout_ms)
{
    long long end = proc_now_ms() + timeout_ms;
    int st;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return st;
        if (r < 0)
            return -1;
        if (proc_now_ms() >= end)
            return -1;
        nap_ms(5);
    }
}

int proc_stop(pid_t pid, int timeout_ms)
{
    if (pid <= 0)
        return -1;
    kill(pid, SIGTERM);
    int st = proc_wait_exit(pid, timeout_ms);
    if (st == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        return -1;
    }
    return st;
}

void proc_kill9(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

char *proc_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

static int redis_spawn(proc_redis *r, int aof)
{
    char port[16], log[512];
    snprintf(port, sizeof port, "%d", r->port);
    snprintf(log, sizeof log, "%s/redis.log", r->dir);
    char *argv[] = {TTT_REDIS_SERVER, "--port", port, "--bind", "127.0.0.1",
                    "--dir", r->dir, "--save", "", "--appendonly",
                    aof ? "yes" : "no", "--appendfsync", "always",
                    "--daemonize", "no", "--protected-mode", "yes", NULL};
    r->pid = proc_spawn(argv, log);
    if (r->pid < 0)
        return -1;
    if (proc_wait_port(r->port, r->pid, 10000) != 0) {
        proc_kill9(r->pid);
        r->pid = -1;
        return -1;
    }
    return 0;
}

static int redis_aof;

int proc_redis_start(proc_redis *r, int aof)
{
    memset(r, 0, sizeof(*r));
    r->dir = proc_tmpdir("redis");
    if (!r->dir)
        return -1;
    r->port = proc_free_port();
    snprintf(r->url, sizeof r->url, "redis://127.0.0.1:%d", r->port);
    redis_aof = aof;
    return redis_spawn(r, aof);
}

int proc_redis_restart(proc_redis *r)
{
    return redis_spawn(r, redis_aof);
}

void proc_redis_stop(proc_redis *r, int keep_dir)
{
    if (r->pid > 0)
        proc_stop(r->pid, 5000);
    r->pid = -1;
    if (!keep_dir && r->dir) {
        proc_rmtree(r->dir);
        free(r->dir);
        r->dir = NULL;
    }
}
