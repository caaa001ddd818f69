/* failalloc.c -- the allocation wrappers of failalloc.h (link with
 * --wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup). */
#include "failalloc.h"

#include <stddef.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

static long target, seen;
static int fired;

void failalloc_arm(long n)
{
    target = n;
    seen = 0;
    fired = 0;
}

void failalloc_disarm(void) { target = 0; }
long failalloc_seen(void) { return seen; }
int failalloc_fired(void) { return fired; }

static int fail_now(void)
{
    if (target <= 0)
        return 0;
    if (++seen != target)
        return 0;
    fired = 1;
    return 1;
}

void *__wrap_malloc(size_t n) { return fail_now() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t k, size_t n) { return fail_now() ? NULL : __real_calloc(k, n); }
void *__wrap_realloc(void *p, size_t n) { return fail_now() ? NULL : __real_realloc(p, n); }
char *__wrap_strdup(const char *s) { return fail_now() ? NULL : __real_strdup(s); }
