/* redis_url.c -- the --redis URL parser of redis_url.h. The text comes from
 * the command line or the environment: every byte is checked, lengths come
 * from the scan, never from the input's say-so. */
#include "redis_url.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* percent-decode [p, p+n) into a new string (a stray '%' stays as it is) */
static char *url_part(const char *p, size_t n)
{
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (p[i] == '%' && i + 2 < n &&
            (hi = hexval(p[i + 1])) >= 0 && (lo = hexval(p[i + 2])) >= 0) {
            *o++ = (char)(hi << 4 | lo);
            i += 2;
        } else {
            *o++ = p[i];
        }
    }
    *o = '\0';
    return out;
}

void redis_url_free(redis_url *u)
{
    free(u->unix_path);
    free(u->host);
    free(u->user);
    free(u->pass);
    memset(u, 0, sizeof(*u));
}

/* digits only in [p, end), value in [lo, hi] */
static int parse_num(const char *p, const char *end, long lo, long hi, long *out)
{
    long v = 0;
    if (p == end)
        return -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9' || (v = v * 10 + (*p - '0')) > hi)
            return -1;
    }
    if (v < lo)
        return -1;
    *out = v;
    return 0;
}

static int parse_unix(redis_url *u, const char *path, char *err, size_t errlen)
{
    while (path[0] == '/' && path[1] == '/')   /* unix:///p, unix://p */
        path++;
    if (!*path) {
        set_err(err, errlen, "redis URL: unix: needs a socket path");
        return -1;
    }
    if (!(u->unix_path = strdup(path)) || !(u->host = strdup(path))) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int parse_tcp(redis_url *u, const char *p, char *err, size_t errlen)
{
    const char *end = p + strcspn(p, "/");
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@')
            at = q;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            if (colon > p && !(u->user = url_part(p, (size_t)(colon - p))))
                goto nomem;
            if (!(u->pass = url_part(colon + 1, (size_t)(at - colon - 1))))
                goto nomem;
        } else if (!(u->pass = url_part(p, (size_t)(at - p)))) {
            goto nomem;
        }
        if (!*u->pass) {
            free(u->pass);
            u->pass = NULL;
        }
        p = at + 1;
    }
    const char *hend;
    if (*p == '[') {
        hend = memchr(p, ']', (size_t)(end - p));
        if (!hend)
            goto bad;
        if (!(u->host = url_part(p + 1, (size_t)(hend - p - 1))))
            goto nomem;
        hend++;
    } else {
        hend = p;
        while (hend < end && *hend != ':')
            hend++;
        if (!(u->host = url_part(p, (size_t)(hend - p))))
            goto nomem;
    }
    if (!*u->host || strlen(u->host) != strcspn(u->host, " \t\r\n"))
        goto bad;
    u->port = 6379;
    if (hend < end) {
        long port;
        if (*hend != ':' || parse_num(hend + 1, end, 1, 65535, &port) != 0)
            goto bad;
        u->port = (int)port;
    }
    if (*end == '/' && end[1]) {
        long db;
        if (parse_num(end + 1, end + strlen(end), 0, 1000000, &db) != 0)
            goto bad;
        u->db = (int)db;
    }
    unsigned char tmp[sizeof(struct in6_addr)];
    u->numeric_host = inet_pton(AF_INET, u->host, tmp) == 1 || inet_pton(AF_INET6, u->host, tmp) == 1;
    return 0;
bad:
    set_err(err, errlen, "redis URL: bad host, port or db (redis://[:password@]host:port[/db])");
    return -1;
nomem:
    set_err(err, errlen, "out of memory");
    return -1;
}

int redis_url_parse(redis_url *u, const char *url, char *err, size_t errlen)
{
    int rc;
    memset(u, 0, sizeof(*u));
    if (!url) {
        set_err(err, errlen, "no redis URL");
        return -1;
    }
    if (strncmp(url, "unix:", 5) == 0) {
        rc = parse_unix(u, url + 5, err, errlen);
    } else if (strncmp(url, "redis://", 8) == 0) {
        rc = parse_tcp(u, url + 8, err, errlen);
    } else {
        set_err(err, errlen, "redis URL must be redis://[:password@]host:port[/db] or unix:/path");
        rc = -1;
    }
    if (rc != 0)
        redis_url_free(u);
    return rc;
}
