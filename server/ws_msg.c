/* ws_msg.c -- WebSocket message reassembly and UTF-8 validation (ws_msg.h).
 *
 * The buffer is allocated only while a message arrives in pieces and is
 * always WS_MSG_MAX bytes: one allocation per fragmented message, and the
 * size check happens before any copy, so no piece sequence can write past
 * it. Most messages are small and whole, and cost no copy at all. */
#include "ws_msg.h"

#include <stdlib.h>
#include <string.h>

void ws_msg_init(ws_msg *m)
{
    m->buf = NULL;
    m->len = 0;
}

void ws_msg_reset(ws_msg *m)
{
    free(m->buf);
    ws_msg_init(m);
}

void ws_msg_done(ws_msg *m)
{
    ws_msg_reset(m);
}

int ws_msg_feed(ws_msg *m, const char *in, size_t len, int first, int final,
                size_t remaining, const char **out, size_t *outlen)
{
    int complete = final && !remaining;
    if (first && m->buf)
        ws_msg_reset(m);   /* lws never does this; a stray partial must not grow */
    if (!m->buf && complete) {
        /* the common case: a whole message in one piece, handled in place */
        if (len > WS_MSG_MAX)
            return WS_MSG_TOO_BIG;
        *out = in;
        *outlen = len;
        return WS_MSG_DONE;
    }
    /* the frame still to come counts too: a 5000-byte frame is refused on
     * its first piece instead of after 4096 bytes were copied */
    if (len > WS_MSG_MAX || (size_t)m->len + len > WS_MSG_MAX ||
        remaining > WS_MSG_MAX - (size_t)m->len - len) {
        ws_msg_reset(m);
        return WS_MSG_TOO_BIG;
    }
    if (!m->buf && !(m->buf = malloc(WS_MSG_MAX))) {
        ws_msg_init(m);
        return WS_MSG_NOMEM;
    }
    if (len)
        memcpy(m->buf + m->len, in, len);
    m->len += (uint32_t)len;
    if (!complete)
        return WS_MSG_MORE;
    *out = m->buf;
    *outlen = m->len;
    return WS_MSG_DONE;
}

/* RFC 3629's table: the second byte's range depends on the first byte,
 * which is what rules out overlong forms, surrogates and > U+10FFFF. */
int ws_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        /* ASCII, which is nearly every request, eight bytes at a time */
        while (len - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i == len)
            break;
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf)
            n = 1;
        else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else {
            return 0;
        }
        if (len - i <= n)
            return 0;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k <= n; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return 0;
        i += n + 1;
    }
    return 1;
}
