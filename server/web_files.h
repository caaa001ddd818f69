/* web_files.h -- the browser client's files, loaded once into memory at
 * start-up (web_files.c); http.c serves them from there. */
#ifndef WEB_FILES_H
#define WEB_FILES_H

#include <stddef.h>

typedef struct web_file {
    char *path;                 /* "/index.html" */
    const char *mime;           /* from the file name's extension */
    unsigned char *data;
    size_t len;
} web_file;

typedef struct web_files web_files;

/* Read every regular file below dir. NULL, with a reason in err, when the
 * directory cannot be read or is too large. */
web_files *web_files_load(const char *dir, char *err, size_t errlen);
void web_files_free(web_files *f);
size_t web_files_count(const web_files *f);
/* The file at a request path ("/" is "/index.html"), or NULL. */
const web_file *web_files_find(const web_files *f, const char *path);

#endif
