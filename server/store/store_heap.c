/* store_heap.c -- a binary min-heap of (when, id) pairs: the memory backend's
 * deadlines and finished-game expiries, popped in time order. Entries are not
 * removed when a game changes; the reader checks each popped one against the
 * game (the same "index as a hint" rule as the Redis indexes). */
#include "store_heap.h"

#include <stdlib.h>

/* room for one more entry: called before a change, so that a change never
 * half happens for want of memory */
int heap_reserve(heap *h)
{
    if (h->n < h->cap)
        return 0;
    size_t cap = h->cap ? h->cap * 2 : 64;
    heap_ent *v = realloc(h->v, cap * sizeof(*v));
    if (!v)
        return -1;
    h->v = v;
    h->cap = cap;
    return 0;
}

int heap_push(heap *h, int64_t when, int64_t id)
{
    if (heap_reserve(h) != 0)
        return -1;
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->v[p].when <= when)
            break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = (heap_ent){when, id};
    return 0;
}

heap_ent heap_pop(heap *h)
{
    heap_ent top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->v[c + 1].when < h->v[c].when)
            c++;
        if (last.when <= h->v[c].when)
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n)
        h->v[i] = last;
    return top;
}

void heap_free(heap *h)
{
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}
