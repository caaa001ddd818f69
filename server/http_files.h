/* http_files.h -- the web files served at / (http_files.c): loaded once
 * from a directory, looked up by path. */
#ifndef HTTP_FILES_H
#define HTTP_FILES_H

#include <stddef.h>

typedef struct http_file {
    char *path;                 /* "/index.html" */
    const char *mime;
    unsigned char *data;
    size_t len;
} http_file;

typedef struct http_files http_files;

/* Every regular file under dir (no dot files); NULL with err set on a read
 * failure or over the size limits. */
http_files *http_files_load(const char *dir, char *err, size_t errlen);
void http_files_free(http_files *f);
size_t http_files_count(const http_files *f);
/* "/" is "/index.html"; NULL when there is no such file */
const http_file *http_files_find(const http_files *f, const char *path);

#endif
