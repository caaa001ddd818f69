/* test_ws_utf8.c -- ws_utf8_valid (server/ws_msg.c), whose ASCII runs are
 * checked eight bytes at a time, against a byte-at-a-time reference of RFC
 * 3629's table, on strings that put every kind of sequence (valid, overlong,
 * surrogate, above U+10FFFF, cut short) at every offset of a word. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "ws_msg.h"

static int ref_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i], n, lo = 0x80, hi = 0xbf;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            n = 1;
        else if (c >= 0xe0 && c <= 0xef)
            n = 2, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 3, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        else
            return 0;
        if (len - i <= n || s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k <= n; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return 0;
        i += n + 1;
    }
    return 1;
}

Test(ws_utf8, against_reference, .description = "every sequence kind at every offset")
{
    static const char *const seqs[] = {
        "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc0\xaf", "\xe0\x80\xaf",
        "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\x80", "\xff", "\xc3",
        "\xe2\x82", "\xf0\x9f\x98", "\x7f", "\x00",
    };
    unsigned char buf[64];
    int valid = 0, invalid = 0;
    for (size_t k = 0; k < sizeof seqs / sizeof seqs[0]; k++) {
        size_t sl = k == sizeof seqs / sizeof seqs[0] - 1 ? 1 : strlen(seqs[k]);
        for (size_t pre = 0; pre < 24; pre++) {
            for (size_t post = 0; post < 12; post++) {
                size_t n = 0;
                memset(buf, 'a', pre);
                n = pre;
                memcpy(buf + n, seqs[k], sl);
                n += sl;
                memset(buf + n, 'b', post);
                n += post;
                int want = ref_valid(buf, n);
                cr_assert_eq(ws_utf8_valid((const char *)buf, n), want,
                             "sequence %zu after %zu ASCII bytes, %zu after", k, pre, post);
                want ? valid++ : invalid++;
            }
        }
    }
    cr_assert(valid > 0 && invalid > 0);
    cr_assert(ws_utf8_valid("", 0));
}
