/* fuzz_reasm.c -- libFuzzer target for server/ws_msg.c: the reassembly of
 * a WebSocket message from the pieces lws hands to RECEIVE, and the UTF-8
 * check.
 *
 * The input is a list of pieces, 5 bytes of header each: flags (bit 0
 * first, bit 1 final), the piece length (16 bits, so pieces over the
 * 4096-byte limit occur) and the bytes still to come in the frame (16 bits),
 * then the piece's bytes taken from the input that follows. A plain model
 * of the contract runs beside the module, and every answer is checked
 * against it: a whole message comes out byte for byte, nothing over 4096
 * bytes is ever handed on, a refusal happens exactly when the message (with
 * what its frame still announces) would pass 4096 bytes, and nothing leaks
 * (ASan's leak check at exit). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws_msg.h"

static uint8_t model[WS_MSG_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ws_msg m;
    ws_msg_init(&m);
    size_t mlen = 0;     /* bytes the model holds */
    int partial = 0;     /* the model is collecting a message in pieces */
    size_t pos = 0;
    while (pos + 5 <= size) {
        int first = data[pos] & 1, final = (data[pos] >> 1) & 1;
        size_t len = ((size_t)data[pos + 1] << 8 | data[pos + 2]) % (WS_MSG_MAX + 600);
        size_t remaining = ((size_t)data[pos + 3] << 8 | data[pos + 4]) % (WS_MSG_MAX + 600);
        pos += 5;
        if (len > size - pos)
            len = size - pos;
        const char *piece = (const char *)data + pos;
        pos += len;
        if (final && (data[pos - len - 5] & 4))
            remaining = 0;   /* make complete messages common */

        int complete = final && !remaining;
        if (first)
            partial = 0, mlen = 0;
        int want;
        if (!partial && complete)
            want = len > WS_MSG_MAX ? WS_MSG_TOO_BIG : WS_MSG_DONE;
        else if (mlen + len + remaining > WS_MSG_MAX)
            want = WS_MSG_TOO_BIG;
        else
            want = complete ? WS_MSG_DONE : WS_MSG_MORE;
        if (want != WS_MSG_TOO_BIG && (partial || !complete)) {
            memcpy(model + mlen, piece, len);
            mlen += len;
        }

        const char *out = NULL;
        size_t outlen = 0;
        int got = ws_msg_feed(&m, piece, len, first, final, remaining, &out, &outlen);
        if (got == WS_MSG_NOMEM)
            abort();     /* a 4 KiB malloc does not fail under the fuzzer */
        if (got != want)
            abort();
        switch (got) {
        case WS_MSG_DONE:
            if (partial || !complete) {
                if (outlen != mlen || memcmp(out, model, mlen) != 0)
                    abort();
            } else if (out != piece || outlen != len) {
                abort();     /* a whole message is handled in place */
            }
            if (outlen > WS_MSG_MAX)
                abort();
            (void)ws_utf8_valid(out, outlen);
            ws_msg_done(&m);
            partial = 0;
            mlen = 0;
            break;
        case WS_MSG_TOO_BIG:
            if (m.buf || m.len)
                abort();     /* a refusal frees what was collected */
            partial = 0;
            mlen = 0;
            break;
        case WS_MSG_MORE:
            partial = 1;
            if (m.len != mlen || mlen > WS_MSG_MAX)
                abort();
            break;
        default:
            abort();
        }
    }
    /* ASCII is always UTF-8; the validator must not read past len */
    size_t n = size < 64 ? size : 64;
    int ascii = 1;
    for (size_t i = 0; i < n; i++)
        ascii &= data[i] < 0x80;
    if (ascii && !ws_utf8_valid((const char *)data, n))
        abort();
    ws_msg_reset(&m);
    return 0;
}
