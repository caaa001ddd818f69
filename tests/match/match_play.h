/* match_play.h -- what the two halves of ttt-match's play engine share:
 * match_play.c (slots, requests, connection events, time, reports) and
 * match_msg.c (server messages judged as they arrive, and the end of a
 * game). Nothing outside them includes it. */
#ifndef MATCH_PLAY_H
#define MATCH_PLAY_H

#include "match.h"

/* request kinds, in the low bits of each request's "id" */
enum {
    K_CREATE = 1,
    K_JOIN,
    K_RESUME,
    K_WATCH,
    K_MOVE
};

#define RETRY_MS 100   /* after rate_limited / unavailable */

#define RETRY_MS 100   /* after rate_limited / unavailable */

#define TRACE(c, ...) do { if ((c)->run->opt.verbose >= 3) mp_trace((c), __VA_ARGS__); } while (0)

int mp_used(const match_run *r, int idx);
void mp_report(match_run *r, const match_slot *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void mp_trace(const match_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *mp_snap_str(const match_snap *p, char *buf, size_t n);
const char *mp_who(const match_slot *s, const match_conn *c);
void mp_violation(match_slot *s, match_conn *c, const char *why, const match_snap *prev,
                  const match_snap *next);
void mp_slot_lose(match_slot *s, int aborted, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void mp_slot_next(match_slot *s);
void mp_conn_act(match_conn *c);

#endif
