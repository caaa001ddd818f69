/* store_codec.h -- the binary record format a store backend keeps a game in
 * (Redis' "d" field and its published messages). Pure: no I/O, no
 * allocation, so it can be unit-tested and fuzzed on its own.
 *
 * Format 1 (all integers little-endian, written field by field):
 *   u8 format=1, i64 id, u64 version,
 *   game_state: u16 x, u16 o, u8 moves[9], u8 ply, u8 status, u8 result,
 *               u8 winner, i8 line[3],
 *   2 x seat:   u8 taken, u8 computer, u8 nholders (<= 4), u32 holders[nholders],
 *               i64 away_ms, u8 token_hash[32],
 *   u8 kind, u8 level, u8 rematch[2], i64 rematch_id, i64 created_ms,
 *   i64 updated_ms, i64 deadline_ms.
 * Format 2 (written since the names, series and replay times of protocol
 * version 1's additions) is format 1 with first byte 2, followed by:
 *   2 x name:   u8 len (<= STORE_NAME_MAX), len bytes (no NUL)   X's, then O's
 *   u32 series[4], i64 started_ms, u32 times[ply] (never decreasing),
 *   2 x name:   rematch_name of X, then of O, as above.
 * Format 1 records still decode (the new fields read as empty / 0), so a
 * rolling upgrade keeps the games older processes wrote readable; only
 * format 2 is written.
 * Holders past nholders and padding are not stored (they read back as 0). A
 * future format gets a new first byte; readers refuse what they don't know. */
#ifndef STORE_CODEC_H
#define STORE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define REC_FORMAT 2              /* the format written */
#define REC_FORMAT_1 1            /* still read */
#define REC_MAX 640               /* a format-2 record is at most 639 bytes */
#define REC_ID_OFFSET 1           /* where the i64 id sits (scripts patch it) */

/* Encode g with the given id, version and kind into out, which has room for
 * REC_MAX bytes. Returns the length written (never more than REC_MAX). */
size_t rec_encode(const store_game *g, int64_t id, uint64_t version, uint8_t kind,
                  uint8_t *out);

/* Decode exactly n bytes at p into g (zeroed first). 0, or -1 when p is not
 * one complete format-1 or format-2 record: short, long, unknown format,
 * nholders > 4, a name longer than STORE_NAME_MAX or holding a NUL, times
 * that decrease,
 * id <= 0, or a value out of the range the server indexes by (ply > 9, a
 * move or line cell > 8, an unknown status/result/mark/kind/level, a flag
 * other than 0/1). Reads nothing outside [p, p+n). */
int rec_decode(const void *p, size_t n, store_game *g);

#endif
