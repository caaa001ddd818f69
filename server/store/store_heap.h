/* store_heap.h -- a binary min-heap of (when, id) pairs for the memory
 * backend (store_heap.c). Zero-initialised is empty. */
#ifndef STORE_HEAP_H
#define STORE_HEAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct heap_ent {
    int64_t when;
    int64_t id;
} heap_ent;

typedef struct heap {
    heap_ent *v;
    size_t n, cap;
} heap;

/* Room for one more entry, so that a change never half happens for want of
 * memory: 0, or -1 out of memory. */
int heap_reserve(heap *h);
/* 0, or -1 out of memory (nothing pushed). */
int heap_push(heap *h, int64_t when, int64_t id);
/* The earliest entry; h must not be empty. */
heap_ent heap_pop(heap *h);
void heap_free(heap *h);

#endif
