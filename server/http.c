/* http.c -- the HTTP routes next to the WebSocket:
 *   GET /                 the browser client (web/), from memory
 *   GET /healthz          200 when the store is reachable, else 503; JSON
 *   GET /metrics          Prometheus text (metrics.c)
 *   GET /api/games/{id}   the game's "state" as JSON, 404 when unknown
 *
 * The web files are read once at start-up, so serving them never reads a
 * file on the loop; the trade is a restart to pick up a changed file. The
 * game route is asynchronous (a store load): the answer is written from
 * HTTP_WRITEABLE once the load completes, and a load that completes after
 * the client left finds its request marked gone and only frees. */
#define _GNU_SOURCE
#include <uv.h>

#include <libwebsockets.h>

#include "srv.h"

#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

#define FILES_MAX 256
#define FILES_BYTES_MAX (8u << 20)

typedef struct http_file {
    char *path;                 /* "/index.html" */
    const char *mime;
    unsigned char *data;
    size_t len;
} http_file;

struct http_files {
    http_file v[FILES_MAX];
    size_t n, bytes;
};

typedef struct http_pending {
    struct lws *wsi;            /* NULL once the client left */
    struct http_sess *hs;
} http_pending;

typedef struct http_sess {
    http_pending *pending;
    const char *mime;
    unsigned char *body;        /* owned when own_body */
    size_t len, sent;
    int status;
    uint8_t own_body, headers_done, ready;
} http_sess;

http_files *srv_files(const srv *s);

size_t http_session_size(void) { return sizeof(http_sess); }
size_t http_files_count(const http_files *f) { return f->n; }

static const char *mime_of(const char *name)
{
    static const struct { const char *ext, *mime; } types[] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
        {".json", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
        {".ico", "image/x-icon"}, {".txt", "text/plain; charset=utf-8"},
        {".webmanifest", "application/manifest+json"}};
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].mime;
    return "application/octet-stream";
}

static int load_dir(http_files *f, const char *root, const char *rel, char *err, size_t errlen)
{
    char dirpath[1024];
    snprintf(dirpath, sizeof dirpath, "%s%s", root, rel);
    DIR *d = opendir(dirpath);
    if (!d) {
        snprintf(err, errlen, "cannot read web directory %s: %s", dirpath, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char relpath[1024], full[2048];
        snprintf(relpath, sizeof relpath, "%s/%s", rel, e->d_name);
        snprintf(full, sizeof full, "%s%s", root, relpath);
        struct stat st;
        if (stat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            rc = load_dir(f, root, relpath, err, errlen);
            continue;
        }
        if (!S_ISREG(st.st_mode))
            continue;
        if (f->n == FILES_MAX || f->bytes + (size_t)st.st_size > FILES_BYTES_MAX) {
            snprintf(err, errlen, "web directory too large (over %d files or %u bytes)",
                     FILES_MAX, FILES_BYTES_MAX);
            rc = -1;
            break;
        }
        FILE *fp = fopen(full, "rb");
        http_file *hf = &f->v[f->n];
        hf->data = malloc((size_t)st.st_size + 1);
        hf->path = strdup(relpath);
        if (!fp || !hf->data || !hf->path ||
            fread(hf->data, 1, (size_t)st.st_size, fp) != (size_t)st.st_size) {
            snprintf(err, errlen, "cannot read %s", full);
            free(hf->data);
            free(hf->path);
            if (fp)
                fclose(fp);
            rc = -1;
            break;
        }
        fclose(fp);
        hf->len = (size_t)st.st_size;
        hf->mime = mime_of(e->d_name);
        f->bytes += hf->len;
        f->n++;
    }
    closedir(d);
    return rc;
}

http_files *http_files_load(const char *dir, char *err, size_t errlen)
{
    http_files *f = calloc(1, sizeof(*f));
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (load_dir(f, dir, "", err, errlen) != 0)
        goto fail;
    return f;
fail:
    http_files_free(f);
    return NULL;
}

void http_files_free(http_files *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        free(f->v[i].path);
        free(f->v[i].data);
    }
    free(f);
}

static const http_file *file_find(const http_files *f, const char *path)
{
    if (strcmp(path, "/") == 0)
        path = "/index.html";
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->v[i].path, path) == 0)
            return &f->v[i];
    return NULL;
}

/* ---- responses ---------------------------------------------------------------- */

static void sess_reset(http_sess *hs)
{
    if (hs->own_body)
        free(hs->body);
    hs->body = NULL;
    hs->own_body = hs->headers_done = hs->ready = 0;
    hs->len = hs->sent = 0;
}

static void respond(struct lws *wsi, http_sess *hs, int status, const char *mime,
                    unsigned char *body, size_t len, int own)
{
    hs->status = status;
    hs->mime = mime;
    hs->body = body;
    hs->len = len;
    hs->own_body = (uint8_t)own;
    hs->ready = 1;
    lws_callback_on_writable(wsi);
}

static void respond_text(struct lws *wsi, http_sess *hs, int status, const char *mime,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void respond_text(struct lws *wsi, http_sess *hs, int status, const char *mime,
                         const char *fmt, ...)
{
    char *body = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&body, fmt, ap);
    va_end(ap);
    if (n < 0) {
        respond(wsi, hs, 500, "text/plain", (unsigned char *)"", 0, 0);
        return;
    }
    respond(wsi, hs, status, mime, (unsigned char *)body, (size_t)n, 1);
}

static int write_response(struct lws *wsi, http_sess *hs)
{
    if (!hs->ready)
        return 0;
    if (!hs->headers_done) {
        unsigned char hbuf[LWS_PRE + 512];
        unsigned char *p = hbuf + LWS_PRE, *start = p, *end = hbuf + sizeof hbuf - 1;
        if (lws_add_http_common_headers(wsi, (unsigned int)hs->status, hs->mime, hs->len, &p, end))
            return -1;
        if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                         (const unsigned char *)"no-cache", 8, &p, end))
            return -1;
        if (lws_finalize_write_http_header(wsi, start, &p, end))
            return -1;
        hs->headers_done = 1;
        if (hs->len) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    if (hs->sent < hs->len) {
        /* one lws_write per WRITEABLE, in pieces the socket will take */
        size_t chunk = hs->len - hs->sent;
        if (chunk > 16384)
            chunk = 16384;
        unsigned char *buf = malloc(LWS_PRE + chunk);
        if (!buf)
            return -1;
        memcpy(buf + LWS_PRE, hs->body + hs->sent, chunk);
        int last = hs->sent + chunk == hs->len;
        int n = lws_write(wsi, buf + LWS_PRE, chunk, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
        free(buf);
        if (n < (int)chunk)
            return -1;
        hs->sent += chunk;
        if (!last) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    sess_reset(hs);
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static void on_game_state(void *ud, int status, msg *m)
{
    http_pending *pd = ud;
    if (pd->wsi) {
        http_sess *hs = pd->hs;
        hs->pending = NULL;
        if (status == STORE_OK && m) {
            unsigned char *copy = malloc(m->len);
            if (copy)
                memcpy(copy, msg_data(m), m->len);
            respond(pd->wsi, hs, copy ? 200 : 500, "application/json", copy,
                    copy ? m->len : 0, 1);
        } else if (status == STORE_ENOTFOUND) {
            respond_text(pd->wsi, hs, 404, "application/json", "{\"error\":\"no_such_game\"}");
        } else {
            respond_text(pd->wsi, hs, 503, "application/json", "{\"error\":\"unavailable\"}");
        }
    }
    msg_unref(m);
    free(pd);
}

static int parse_game_id(const char *s, int64_t *id)
{
    if (!*s || *s == '0' || strlen(s) > 18)
        return -1;
    int64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
    }
    *id = v;
    return 0;
}

static int route(struct lws *wsi, srv *s, http_sess *hs, const char *path)
{
    const char *prefix = "/api/games/";
    store *st = srv_store(s);
    if (strcmp(path, "/healthz") == 0) {
        int up = store_is_up(st) && !srv_draining(s);
        respond_text(wsi, hs, up ? 200 : 503, "application/json",
                     "{\"status\":\"%s\",\"store\":\"%s\",\"store_up\":%s,\"draining\":%s,"
                     "\"instance\":%u,\"connections\":%llu}",
                     up ? "ok" : "unavailable", store_backend_name(st),
                     store_is_up(st) ? "true" : "false", srv_draining(s) ? "true" : "false",
                     store_instance(st), (unsigned long long)srv_get_stats(s)->conns_now);
        return 0;
    }
    if (strcmp(path, "/metrics") == 0) {
        size_t len = 0;
        char *body = metrics_render(s, &len);
        if (!body)
            return -1;
        respond(wsi, hs, 200, "text/plain; version=0.0.4; charset=utf-8",
                (unsigned char *)body, len, 1);
        return 0;
    }
    if (strncmp(path, prefix, strlen(prefix)) == 0) {
        int64_t id;
        if (parse_game_id(path + strlen(prefix), &id) != 0) {
            respond_text(wsi, hs, 404, "application/json", "{\"error\":\"no_such_game\"}");
            return 0;
        }
        http_pending *pd = calloc(1, sizeof(*pd));
        if (!pd)
            return -1;
        pd->wsi = wsi;
        pd->hs = hs;
        hs->pending = pd;
        gm_game_state(srv_gm(s), id, on_game_state, pd);
        return 0;
    }
    const http_file *f = file_find(srv_files(s), path);
    if (f) {
        respond(wsi, hs, 200, f->mime, f->data, f->len, 0);
        return 0;
    }
    respond_text(wsi, hs, 404, "text/plain; charset=utf-8", "not found\n");
    return 0;
}

int http_callback(struct lws *wsi, int reason, void *user, void *in, size_t len)
{
    http_sess *hs = user;
    srv *s = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        char path[256];
        size_t n = len < sizeof path - 1 ? len : sizeof path - 1;
        memcpy(path, in, n);
        path[n] = '\0';
        ((srv_stats *)srv_get_stats(s))->http_requests++;
        if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
            /* only GET (and HEAD, which lws maps to GET) */
            lws_return_http_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, NULL);
            return -1;
        }
        memset(hs, 0, sizeof(*hs));
        return route(wsi, s, hs, path);
    }
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return write_response(wsi, hs);
    case LWS_CALLBACK_CLOSED_HTTP:
        if (hs) {
            if (hs->pending) {
                hs->pending->wsi = NULL;   /* the load completes into nothing */
                hs->pending = NULL;
            }
            sess_reset(hs);
        }
        return 0;
    default:
        return lws_callback_http_dummy(wsi, (enum lws_callback_reasons)reason, user, in, len);
    }
}
