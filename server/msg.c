/* msg.c -- shared outgoing frames (see msg.h). Single-threaded: the loop owns
 * every msg, so the count needs no atomics. */
#include "msg.h"

#include <stdlib.h>

/* Freed small blocks wait here for the next msg_new(). A state lives until
 * the end of its loop turn, or while a slow connection's queue holds it, so
 * a few dozen cover a busy process; past that they are freed. Blocks only,
 * no state: still reachable at exit, like gm_op.c's op cache. */
#define MSG_SPARE_MAX 64
static msg *spare[MSG_SPARE_MAX];
static unsigned nspare;

msg *msg_wrap(char *block, const size_t *len)
{
    if (!block)
        return NULL;
    msg *m = (msg *)(void *)block;
    m->refs = 1;
    m->len = (uint32_t)*len;
    m->small = 0;
    return m;
}

msg *msg_new(size_t cap)
{
    msg *m;
    if (cap <= MSG_SMALL && nspare)
        m = spare[--nspare];
    else if (cap > SIZE_MAX - sizeof(msg) ||
             !(m = malloc(sizeof(msg) + (cap <= MSG_SMALL ? MSG_SMALL : cap))))
        return NULL;
    m->refs = 1;
    m->len = 0;
    m->small = cap <= MSG_SMALL;
    return m;
}

void msg_unref(msg *m)
{
    if (!m || --m->refs > 0)
        return;
    if (m->small && nspare < MSG_SPARE_MAX)
        spare[nspare++] = m;
    else
        free(m);
}
