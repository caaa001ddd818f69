/* nf_gen.c -- what ttt-netfuzz sends: game messages built from the contract
 * (aimed at live games and seats), their mutations, and the WebSocket frames
 * that carry them (fragmented, masked or not, with control frames between). */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nf.h"

/* ---- message templates (shared by frames and flows) ------------------------------------------ */

int64_t nf_pick_game(nf *n, rng *r)
{
    if (n->judge.ngames && rng_pct(r, 85))
        return n->judge.games[rng_below(r, (uint32_t)n->judge.ngames)];
    static const int64_t odd[] = {1, 99, 100, 101, 1000000, INT64_MAX, 4294967296LL};
    return odd[rng_below(r, sizeof odd / sizeof odd[0])];
}

static const nf_seat *pick_seat(nf *n, rng *r)
{
    if (!n->judge.nseats)
        return NULL;
    return &n->judge.seats[rng_below(r, (uint32_t)n->judge.nseats)];
}

/* A raw JSON value for a field that wants an integer: mostly a good one. */
static void int_value(rng *r, char *out, size_t cap, int64_t good)
{
    static const char *const odd[] = {"\"4\"", "1.5", "null", "-1", "1e3", "true",
                                      "[1]", "{}", "99999999999999999999", "0", "-0"};
    if (rng_pct(r, 90))
        snprintf(out, cap, "%" PRId64, good);
    else
        snprintf(out, cap, "%s", odd[rng_below(r, sizeof odd / sizeof odd[0])]);
}

/* One client message of the contract, aimed at live games; returns its
 * length. *type_out is the proto_type (or -1 for an unknown type), *gid_out
 * the game it names, *seat_out the seat whose token a resume carries. */
size_t nf_build_msg(nf *n, rng *r, int64_t id, char *out, size_t cap, int *type_out,
                        int64_t *gid_out, const nf_seat **seat_out)
{
    char g[32], c[32], p[32], ids[96], name[64] = "";
    int type = (int)rng_below(r, PROTO_TYPE_COUNT + 1);
    int64_t gid = nf_pick_game(n, r);
    const nf_seat *seat = NULL;
    char token[64];
    size_t len = 0;

    int_value(r, g, sizeof g, gid);
    int_value(r, c, sizeof c, rng_below(r, 9));
    int_value(r, p, sizeof p, rng_below(r, 10));
    if (id > 0)
        snprintf(ids, sizeof ids, ",\"id\":%" PRId64, id);
    else if (rng_pct(r, 50))
        snprintf(ids, sizeof ids, ",\"id\":\"%.*s\"", (int)rng_below(r, 70),
                 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrs");
    else
        ids[0] = '\0';
    if (rng_pct(r, 15))
        snprintf(name, sizeof name, ",\"name\":\"%s\"",
                 rng_pct(r, 50) ? "Ann" : rng_pct(r, 50) ? "  \\u00e9l\\u00e8ve " : "\\u0007x");
    switch (type) {
    case PROTO_CREATE:
        len = (size_t)snprintf(out, cap, "{\"type\":\"create\",\"vs\":\"%s\",\"level\":\"%s\"%s%s}",
                               rng_pct(r, 40) ? "computer" : "human",
                               rng_pct(r, 50) ? "easy" : "perfect", ids, name);
        break;
    case PROTO_JOIN: case PROTO_WATCH: case PROTO_RESIGN: case PROTO_REMATCH:
        len = (size_t)snprintf(out, cap, "{\"type\":\"%s\",\"game_id\":%s%s%s}",
                               proto_type_name((proto_type)type), g, ids, name);
        break;
    case PROTO_QUICK: case PROTO_LIST: case PROTO_PING:
        len = (size_t)snprintf(out, cap, "{\"type\":\"%s\"%s%s}",
                               proto_type_name((proto_type)type), ids, name);
        break;
    case PROTO_RESUME:
        seat = rng_pct(r, 90) ? pick_seat(n, r) : NULL;
        if (seat && rng_pct(r, 50)) {
            gid = seat->game_id;     /* its own game: a real resume, by a stranger */
            snprintf(g, sizeof g, "%" PRId64, gid);
        }
        snprintf(token, sizeof token, "%s",
                 seat ? seat->token : rng_pct(r, 50) ? "0123456789abcdef0123456789abcdef"
                                                     : "ZZZ");
        len = (size_t)snprintf(out, cap, "{\"type\":\"resume\",\"game_id\":%s,\"token\":\"%s\"%s}",
                               g, token, ids);
        break;
    case PROTO_MOVE:
        len = (size_t)snprintf(out, cap, "{\"type\":\"move\",\"game_id\":%s,\"cell\":%s%s%s%s}",
                               g, c, rng_pct(r, 70) ? ",\"ply\":" : "",
                               rng_pct(r, 70) ? p : "", ids);
        break;
    default:
        len = (size_t)snprintf(out, cap, "{\"type\":\"%s\"%s}",
                               rng_pct(r, 50) ? "dance" : "", ids);
        type = -1;
        break;
    }
    if (len >= cap)
        len = cap - 1;
    *type_out = type;
    *gid_out = gid;
    *seat_out = seat;
    return len;
}

/* ---- phase 1: mutated frames ------------------------------------------------------------------ */

static const char *const dict[] = {
    "{", "}", "\"", ":", ",", "null", "\"type\"", "\"game_id\"", "\"cell\"", "\"move\"",
    "\\u0000", "\\ud800", "9223372036854775808", "[", "]", "\"token\"", "1e309"};

size_t nf_mutate(rng *r, unsigned char *b, size_t len, size_t cap)
{
    int ops = 1 + (int)rng_below(r, 4);
    for (int k = 0; k < ops; k++) {
        size_t pos = len ? rng_below(r, (uint32_t)len) : 0;
        switch (rng_below(r, 10)) {
        case 0: if (len) b[pos] ^= (unsigned char)(1u << rng_below(r, 8)); break;
        case 1: if (len) b[pos] = (unsigned char)nf_rng_next(r); break;
        case 2: /* insert a byte */
            if (len < cap) {
                memmove(b + pos + 1, b + pos, len - pos);
                b[pos] = (unsigned char)nf_rng_next(r);
                len++;
            }
            break;
        case 3: { /* delete a span */
            size_t n = 1 + rng_below(r, 8);
            if (pos + n > len)
                n = len - pos;
            memmove(b + pos, b + pos + n, len - pos - n);
            len -= n;
            break;
        }
        case 4: len = pos; break;   /* truncate */
        case 5: { /* duplicate a span */
            size_t n = 1 + rng_below(r, 16);
            if (pos + n > len)
                n = len - pos;
            if (len + n <= cap) {
                memmove(b + pos + n, b + pos, len - pos);
                len += n;
            }
            break;
        }
        case 6: { /* a dictionary token */
            const char *t = dict[rng_below(r, sizeof dict / sizeof dict[0])];
            size_t n = strlen(t);
            if (len + n <= cap) {
                memmove(b + pos + n, b + pos, len - pos);
                memcpy(b + pos, t, n);
                len += n;
            }
            break;
        }
        case 7: { /* invalid UTF-8 */
            static const unsigned char bad[][3] = {{0xc3, 0, 0}, {0xff, 0, 0}, {0xc0, 0xaf, 0},
                                                   {0xed, 0xa0, 0x80}, {0xf8, 0x88, 0x80}};
            const unsigned char *s = bad[rng_below(r, 5)];
            size_t n = s[1] ? (s[2] ? 3 : 2) : 1;
            if (len + n <= cap) {
                memmove(b + pos + n, b + pos, len - pos);
                memcpy(b + pos, s, n);
                len += n;
            }
            break;
        }
        case 8: { /* grow to the 4096-byte limit, just under, at or over it */
            static const size_t sizes[] = {4095, 4096, 4097, 5000, 8192};
            size_t want = sizes[rng_below(r, 5)];
            if (want <= cap && len >= 1 && len < want) {
                /* spaces after the opening brace keep it valid JSON */
                size_t n = want - len;
                memmove(b + 1 + n, b + 1, len - 1);
                memset(b + 1, ' ', n);
                len = want;
            }
            break;
        }
        default: /* a NUL byte */
            if (len) b[pos] = 0;
            break;
        }
    }
    return len;
}

/* Frames for one item, into out: what a client could send, wrong in one or
 * more chosen ways. *closes is set when the item ends the connection from our
 * side or leaves the server waiting for bytes that never come. */
size_t nf_build_frames(rng *r, const unsigned char *msg, size_t mlen, unsigned char *out,
                           size_t cap, int *nframes, int *closes, const char **desc)
{
    nf_frame_spec s = {.fin = 1, .opcode = NF_OP_TEXT, .masked = 1,
                       .mask = (uint32_t)nf_rng_next(r)};
    unsigned char ctl[200];
    size_t o = 0;
    int kind = (int)rng_below(r, 100);

    *nframes = 1;
    *closes = 0;
    if (kind < 40) {
        *desc = "text frame";
    } else if (kind < 55) {
        /* fragmented: text + continuations, control frames between */
        int pieces = 2 + (int)rng_below(r, 4);
        size_t at = 0;
        *desc = "fragmented message";
        for (int i = 0; i < pieces; i++) {
            size_t n = i == pieces - 1 ? mlen - at : rng_below(r, (uint32_t)(mlen - at + 1));
            nf_frame_spec f = s;
            f.fin = i == pieces - 1;
            f.opcode = i == 0 ? NF_OP_TEXT : NF_OP_CONT;
            if (rng_pct(r, 5))
                f.opcode = rng_pct(r, 50) ? NF_OP_TEXT : NF_OP_BIN;   /* a new message mid-way */
            o += nf_ws_encode(out + o, cap - o, &f, msg + at, n);
            at += n;
            if (rng_pct(r, 25)) {
                nf_frame_spec c = s;
                c.opcode = rng_pct(r, 50) ? NF_OP_PING : NF_OP_PONG;
                o += nf_ws_encode(out + o, cap - o, &c, "mid", 3);
                (*nframes)++;
            }
        }
        *nframes += pieces - 1;
        return o;
    } else if (kind < 60) {
        *desc = "unmasked frame";
        s.masked = 0;
    } else if (kind < 64) {
        *desc = "binary frame";
        s.opcode = NF_OP_BIN;
    } else if (kind < 68) {
        static const int ops[] = {3, 4, 5, 6, 7, 11, 12, 13, 14, 15};
        *desc = "reserved opcode";
        s.opcode = ops[rng_below(r, 10)];
    } else if (kind < 71) {
        *desc = "RSV bits";
        s.rsv = 1 + (int)rng_below(r, 7);
    } else if (kind < 74) {
        *desc = "continuation with no message";
        s.opcode = NF_OP_CONT;
        s.fin = rng_pct(r, 50);
    } else if (kind < 78) {
        /* a length that lies: the server waits for bytes or parses the rest
         * of the payload as the next frame's header */
        *desc = "wrong length";
        s.lie = 1;
        s.declared_len = rng_pct(r, 50) ? mlen + 1 + rng_below(r, 100)
                                        : (mlen ? rng_below(r, (uint32_t)mlen) : 0);
        if (rng_pct(r, 10))
            s.declared_len = rng_pct(r, 50) ? UINT64_MAX : (1ULL << 63) | 5;
        *closes = s.declared_len > mlen;
    } else if (kind < 81) {
        *desc = "non-minimal length";
        s.len_form = 1 + (int)rng_below(r, 2);
    } else if (kind < 91) {
        /* control frames, alone */
        int which = (int)rng_below(r, 8);
        size_t clen = 0;
        s.opcode = NF_OP_PING;
        if (which == 0) {          /* ping with payload */
            clen = rng_below(r, 126);
            *desc = "ping";
        } else if (which == 1) {   /* ping over 125 bytes */
            clen = 126 + rng_below(r, 60);
            *desc = "oversized ping";
        } else if (which == 2) {
            s.opcode = NF_OP_PONG;
            clen = rng_below(r, 20);
            *desc = "unsolicited pong";
        } else if (which == 3) {   /* a fragmented control frame */
            s.fin = 0;
            clen = 4;
            *desc = "ping without FIN";
        } else {                   /* close with good and bad codes and payloads */
            static const int codes[] = {1000, 1001, 1002, 1003, 999, 0, 1005, 1006, 1015,
                                        1016, 2999, 3000, 4999, 5000, 65535};
            int code = codes[rng_below(r, sizeof codes / sizeof codes[0])];
            s.opcode = NF_OP_CLOSE;
            *closes = 1;
            *desc = "close";
            int form = (int)rng_below(r, 5);
            if (form == 0) {
                clen = 0;
            } else if (form == 1) {
                clen = 1;
                ctl[0] = 0x03;
            } else {
                ctl[0] = (unsigned char)(code >> 8);
                ctl[1] = (unsigned char)code;
                clen = 2;
                if (form == 3) {
                    memcpy(ctl + 2, "bye\xff\xfe", 5);   /* invalid UTF-8 reason */
                    clen = 7;
                } else if (form == 4) {
                    clen = 126 + rng_below(r, 40);
                    memset(ctl + 2, 'r', clen - 2);
                }
            }
            return nf_ws_encode(out, cap, &s, ctl, clen);
        }
        for (size_t i = 0; i < clen; i++)
            ctl[i] = (unsigned char)nf_rng_next(r);
        return nf_ws_encode(out, cap, &s, ctl, clen);
    } else if (kind < 94) {
        *desc = "garbage bytes";
        size_t n = 1 + rng_below(r, 64);
        for (size_t i = 0; i < n && i < cap; i++)
            out[i] = (unsigned char)nf_rng_next(r);
        *closes = 1;
        return n;
    } else if (kind < 98) {
        *desc = "header bit flip";
        o = nf_ws_encode(out, cap, &s, msg, mlen);
        if (o)
            out[rng_below(r, o < 14 ? (uint32_t)o : 14)] ^= (unsigned char)(1u << rng_below(r, 8));
        *closes = 1;   /* the length may have grown */
        return o;
    } else {
        *desc = "frame cut short, then close";
        o = nf_ws_encode(out, cap, &s, msg, mlen);
        *closes = 1;
        return o ? rng_below(r, (uint32_t)o) : 0;
    }
    return nf_ws_encode(out, cap, &s, msg, mlen);
}

/* Write the item, sometimes in tiny pieces so lws' parser meets every split. */
int nf_write_item(rng *r, int fd, const unsigned char *b, size_t len)
{
    if (!rng_pct(r, 15))
        return nf_send_all(fd, b, len);
    size_t at = 0;
    while (at < len) {
        size_t n = 1 + rng_below(r, 7);
        if (n > len - at)
            n = len - at;
        if (nf_send_all(fd, b + at, n) != 0)
            return -1;
        at += n;
    }
    return 0;
}
