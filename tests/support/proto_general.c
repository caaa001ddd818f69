/* proto_general.c -- server/proto.c compiled once more with its fast path
 * hook pointing at a stub that never decides, and proto_parse renamed, so a
 * test can hold the fast path (proto_fast.c, linked beside) against the
 * general one in the same binary. Nothing of proto.c is copied: the file
 * itself is included. */
#define proto_parse proto_parse_general
#define proto_fast_parse proto_fast_off
#include "../../server/proto.c"
#undef proto_fast_parse
#undef proto_parse

#include "proto_general.h"

int proto_fast_off(const char *buf, size_t len, proto_req *req)
{
    (void)buf;
    (void)len;
    (void)req;
    return 0;
}

int proto_req_same(const proto_req *a, const proto_req *b)
{
    /* Both parsers clear the whole struct before they fill it, so the bytes
     * compare too: that also covers fields added after this was written
     * (a name, say) that the list below does not name. */
    return memcmp(a, b, sizeof *a) == 0 && a->type == b->type && a->id.kind == b->id.kind && a->id.len == b->id.len &&
           memcmp(a->id.str, b->id.str, sizeof a->id.str) == 0 && a->id.num == b->id.num &&
           a->game_id == b->game_id && a->cell == b->cell && a->ply == b->ply &&
           a->vs_computer == b->vs_computer && a->level == b->level &&
           memcmp(a->token, b->token, sizeof a->token) == 0 && a->token_len == b->token_len;
}
