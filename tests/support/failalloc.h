/* failalloc.h -- test support: make one chosen allocation fail.
 *
 * A test binary linked with
 *   -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup
 * and failalloc.c routes every malloc/calloc/realloc/strdup of its own
 * objects and static libraries (the server's code, not the shared libraries
 * it uses) through here. Armed with n, the n-th allocation from then on
 * returns NULL (once); all others pass. Walking n = 1, 2, ... until an
 * operation makes fewer than n allocations visits every allocation site it
 * has. Single-threaded use only. */
#ifndef TEST_FAILALLOC_H
#define TEST_FAILALLOC_H

/* the n-th allocation from now fails (n >= 1); 0 disarms */
void failalloc_arm(long n);
void failalloc_disarm(void);
/* allocations seen since the last arm, and whether the chosen one failed */
long failalloc_seen(void);
int failalloc_fired(void);

#endif
