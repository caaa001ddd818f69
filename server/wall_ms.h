/* wall_ms.h -- the wall clock in milliseconds since the epoch. Deadlines and
 * move times are absolute times that processes sharing a store compare, so
 * they are read from this, not from uv_now()'s monotonic clock. Header-only:
 * the manager's clock (gm_uv.h, main.c only) and the memory store both use it. */
#ifndef WALL_MS_H
#define WALL_MS_H

#include <stdint.h>

#include <uv.h>

static inline int64_t wall_ms(void)
{
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

#endif
