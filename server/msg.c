/* msg.c -- shared outgoing frames (see msg.h). Single-threaded: the loop owns
 * every msg, so the count needs no atomics. */
#include "msg.h"

#include <stdlib.h>

msg *msg_wrap(char *block, const size_t *len)
{
    if (!block)
        return NULL;
    msg *m = (msg *)(void *)block;
    m->refs = 1;
    m->len = (uint32_t)*len;
    return m;
}

void msg_unref(msg *m)
{
    if (m && --m->refs == 0)
        free(m);
}
