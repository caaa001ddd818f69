/* proc.h -- test support: start real programs (ttt-server, redis-server,
 * nginx) on loopback, on free ports, in a temporary directory, and stop them
 * by PID. No mocks: every test talks to the real thing. */
#ifndef TEST_PROC_H
#define TEST_PROC_H

#include <sys/types.h>

/* A free TCP port on 127.0.0.1 (bound once and released; the kernel will not
 * hand the same ephemeral port out again soon). */
int proc_free_port(void);

/* mkdtemp under $TMPDIR (or /tmp); returns a malloc'd path. */
char *proc_tmpdir(const char *tag);
/* rm -rf path (best effort). */
void proc_rmtree(const char *path);

/* fork + execv argv[0] with argv; stdout and stderr go to log_path (appended)
 * when it is non-NULL. Returns the child PID, or -1. */
pid_t proc_spawn(char *const argv[], const char *log_path);

/* Poll until a TCP connect to 127.0.0.1:port succeeds, for at most
 * timeout_ms. Returns 0, or -1 on time-out or when pid has exited. */
int proc_wait_port(int port, pid_t pid, int timeout_ms);

/* SIGTERM pid, wait up to timeout_ms for it to exit, then SIGKILL.
 * Returns the wait status (as from waitpid), or -1. */
int proc_stop(pid_t pid, int timeout_ms);
/* SIGKILL and reap. */
void proc_kill9(pid_t pid);
/* Wait for pid to exit for at most timeout_ms; returns the wait status or -1. */
int proc_wait_exit(pid_t pid, int timeout_ms);

/* Monotonic milliseconds. */
long long proc_now_ms(void);

/* Read a whole (small) file; malloc'd, NUL-terminated, NULL if missing. */
char *proc_read_file(const char *path);

/* Convenience: a redis-server on a free port in its own temp dir.
 * aof != 0 turns on appendonly (so a restart keeps the data). */
typedef struct proc_redis {
    pid_t pid;
    int port;
    char *dir;
    char url[64];     /* redis://127.0.0.1:PORT */
} proc_redis;
int proc_redis_start(proc_redis *r, int aof);
/* restart on the same port and dir (after proc_redis_stop with keep=1) */
int proc_redis_restart(proc_redis *r);
void proc_redis_stop(proc_redis *r, int keep_dir);

#endif
