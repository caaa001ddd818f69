/* redis_url.h -- parse the --redis URL into its parts. Pure (no I/O, no
 * DNS; one allocation per part), so it is unit-tested and fuzzed alone.
 *
 *   redis://[[user]:password@]host[:port][/db]    host may be [v6 address]
 *   unix:/path/to/socket   (also unix://path, unix:///path)
 * user and password are percent-decoded; an empty password counts as none.
 * port defaults to 6379 (1..65535), db to 0 (0..1000000). */
#ifndef REDIS_URL_H
#define REDIS_URL_H

#include <stddef.h>

typedef struct redis_url {
    char *unix_path;             /* set for unix: URLs (then host is the path too) */
    char *host;                  /* never NULL after a successful parse */
    char *user, *pass;           /* NULL when not given */
    int port, db;
    int numeric_host;            /* host is an IPv4/IPv6 literal: no lookup needed */
} redis_url;

/* 0, or -1 with a reason in err (errlen bytes) and u left empty. u is
 * overwritten; free it with redis_url_free. */
int redis_url_parse(redis_url *u, const char *url, char *err, size_t errlen);
void redis_url_free(redis_url *u);

#endif
