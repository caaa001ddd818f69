/* log.h -- one line per event an operator cares about, to stderr.
 *
 *   2026-11-23T16:20:01.123Z INFO  [ttt-a] game 104 created (vs human)
 *
 * Level checks happen before the arguments are evaluated, so debug lines cost
 * nothing when the level is info. */
#ifndef LOG_H
#define LOG_H

enum { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

extern int log_level;

/* "error" "warn" "info" "debug" -> level, or -1 */
int log_parse_level(const char *name);
void log_set_instance(const char *name);
void log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Lines for events a peer can cause at will (bad frames, refused
 * handshakes): at most one a second per limiter, the next one carrying how
 * many were held back ("... (37 more like this)"). A count still held when
 * the flood stops shows with the next line of that kind. One static
 * log_limit per kind of event. */
typedef struct log_limit {
    long long last_ms;        /* CLOCK_MONOTONIC ms of the last line written */
    unsigned long long held;  /* events since then, not written */
} log_limit;

void log_write_limited(log_limit *l, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_limited(l, level, ...) \
    do { if (log_level >= (level)) log_write_limited((l), (level), __VA_ARGS__); } while (0)

#define log_error(...) do { if (log_level >= LOG_ERROR) log_write(LOG_ERROR, __VA_ARGS__); } while (0)
#define log_warn(...)  do { if (log_level >= LOG_WARN)  log_write(LOG_WARN,  __VA_ARGS__); } while (0)
#define log_info(...)  do { if (log_level >= LOG_INFO)  log_write(LOG_INFO,  __VA_ARGS__); } while (0)
#define log_debug(...) do { if (log_level >= LOG_DEBUG) log_write(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
