/* alloc_count.c -- libttt-alloc-count.so: counts a process' heap allocations.
 *
 *   TTT_ALLOC_COUNT_FILE=/tmp/x LD_PRELOAD=build/bench/libttt-alloc-count.so ttt-server ...
 *
 * An LD_PRELOAD shim, so that the server measured is the release build as it
 * is: malloc, calloc, realloc and the aligned variants are counted, then
 * handed to glibc's own (__libc_*: no dlsym, which itself allocates). glibc
 * routes its internal allocations through the interposed symbols too, so
 * libwebsockets', jansson's, libuv's and libc's allocations all count.
 *
 * The counters live in a shared mapping of TTT_ALLOC_COUNT_FILE (four
 * uint64_t: malloc, calloc, realloc, aligned), so the bench reads them from
 * outside at the start and the end of its steady-state window without
 * stopping or signalling the process. Without the variable the counts stay
 * in the process. Increments are relaxed atomics: the server is one thread,
 * but libuv's pool threads may allocate too. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <malloc.h>   /* memalign's prototype */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

enum { C_MALLOC, C_CALLOC, C_REALLOC, C_ALIGNED, C_COUNT };

static uint64_t local[C_COUNT];
static uint64_t *counts = local;

static inline void count(int k)
{
    __atomic_fetch_add(&counts[k], 1, __ATOMIC_RELAXED);
}

__attribute__((constructor)) static void alloc_count_init(void)
{
    const char *path = getenv("TTT_ALLOC_COUNT_FILE");
    if (!path || !*path)
        return;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    void *m = MAP_FAILED;
    if (ftruncate(fd, (off_t)sizeof local) == 0)
        m = mmap(NULL, sizeof local, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return;
    uint64_t *shared = m;
    for (int i = 0; i < C_COUNT; i++)
        shared[i] = local[i];
    counts = shared;
}

void *malloc(size_t n)
{
    count(C_MALLOC);
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
    count(C_CALLOC);
    return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
    count(C_REALLOC);
    return __libc_realloc(p, n);
}

void free(void *p)
{
    __libc_free(p);
}

void *memalign(size_t align, size_t n)
{
    count(C_ALIGNED);
    return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    count(C_ALIGNED);
    return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1)))
        return 22;   /* EINVAL, as glibc */
    count(C_ALIGNED);
    void *p = __libc_memalign(align, n);
    if (!p && n)
        return 12;   /* ENOMEM */
    *out = p;
    return 0;
}
