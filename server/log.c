/* log.c -- timestamped, levelled log lines to stderr (see log.h).
 *
 * A write(2) to stderr per line is the one "blocking" call we allow on the
 * loop: lines are rare (events, not messages) and an operator who points
 * stderr at a slow pipe has bigger problems, the same trade Redis makes. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int log_level = LOG_INFO;
static char log_instance[64];

static const char *const level_names[] = {"ERROR", "WARN ", "INFO ", "DEBUG"};

int log_parse_level(const char *name)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

void log_set_instance(const char *name)
{
    snprintf(log_instance, sizeof log_instance, "%s", name ? name : "");
}

static void log_vwrite(int level, unsigned long long held, const char *fmt, va_list ap)
{
    char line[1024];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - (size_t)n, ".%03ldZ %s ", (long)tv.tv_usec / 1000,
                  level_names[level < 0 ? 0 : level > 3 ? 3 : level]);
    if (log_instance[0])
        n += snprintf(line + n, sizeof line - (size_t)n, "[%s] ", log_instance);
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    n = (m < 0) ? n : (n + m >= (int)sizeof line - 1 ? (int)sizeof line - 2 : n + m);
    if (held) {
        m = snprintf(line + n, sizeof line - (size_t)n, " (%llu more like this)", held);
        n = (m < 0) ? n : (n + m >= (int)sizeof line - 1 ? (int)sizeof line - 2 : n + m);
    }
    line[n++] = '\n';
    /* one write per line so lines from several processes sharing a file do not interleave */
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

void log_write(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, 0, fmt, ap);
    va_end(ap);
}

void log_write_limited(log_limit *l, int level, const char *fmt, ...)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    /* last_ms 0 is "never": the monotonic clock is far past 1 s after boot */
    if (l->last_ms && now - l->last_ms < 1000) {
        l->held++;
        return;
    }
    unsigned long long held = l->held;
    l->held = 0;
    l->last_ms = now;
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, held, fmt, ap);
    va_end(ap);
}
