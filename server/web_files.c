/* web_files.c -- the browser client's files (web/), read into memory once at
 * start-up so that serving them never reads a file on the event loop; the
 * trade is a restart to pick up a changed file. The directory is bounded
 * (FILES_MAX files, FILES_BYTES_MAX bytes) and walked without following
 * anything but regular files and directories. */
#define _GNU_SOURCE
#include "web_files.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FILES_MAX 256
#define FILES_BYTES_MAX (8u << 20)

struct web_files {
    web_file v[FILES_MAX];
    size_t n, bytes;
};

size_t web_files_count(const web_files *f) { return f->n; }

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

static int load_dir(web_files *f, const char *root, const char *rel, char *err, size_t errlen)
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
        web_file *hf = &f->v[f->n];
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

web_files *web_files_load(const char *dir, char *err, size_t errlen)
{
    web_files *f = calloc(1, sizeof(*f));
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (load_dir(f, dir, "", err, errlen) != 0)
        goto fail;
    return f;
fail:
    web_files_free(f);
    return NULL;
}

void web_files_free(web_files *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        free(f->v[i].path);
        free(f->v[i].data);
    }
    free(f);
}

const web_file *web_files_find(const web_files *f, const char *path)
{
    if (strcmp(path, "/") == 0)
        path = "/index.html";
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->v[i].path, path) == 0)
            return &f->v[i];
    return NULL;
}
