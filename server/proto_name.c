/* proto_name.c -- the rule for player names ("Version 1, additions" of the
 * contract): trim white space, then 1 to 24 code points with no control
 * character. The same check guards names on the way out, since a stored
 * name comes back from the store and is hostile until checked.
 *
 * White space is what JavaScript's String.prototype.trim() removes, so the
 * browser and the server agree on what a name is. U+0085 is not in that set:
 * it is a control character (C1), refused wherever it stands. */
#include <string.h>

#include "proto_int.h"

/* The code point at s[*i], strict UTF-8 (no overlong form, no surrogate,
 * nothing past U+10FFFF); *i moves past it. -1 on an invalid sequence. */
static int32_t utf8_next(const unsigned char *s, size_t n, size_t *i)
{
    static const int32_t min_of[4] = {0, 0x80, 0x800, 0x10000};
    unsigned char c = s[(*i)++];
    int more;
    int32_t cp;

    if (c < 0x80)
        return c;
    if (c >= 0xc2 && c <= 0xdf)
        more = 1, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        more = 2, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        more = 3, cp = c & 0x07;
    else
        return -1;
    if (n - *i < (size_t)more)
        return -1;
    for (int k = 0; k < more; k++) {
        unsigned char d = s[(*i)++];
        if ((d & 0xc0) != 0x80)
            return -1;
        cp = cp << 6 | (d & 0x3f);
    }
    if (cp < min_of[more] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    return cp;
}

static int is_space(int32_t cp)
{
    return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0xa0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f ||
           cp == 0x205f || cp == 0x3000 || cp == 0xfeff;
}

static int is_control(int32_t cp)
{
    return cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f);
}

int proto_name_norm(const char *in, size_t len, char out[PROTO_NAME_MAX + 1])
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0, start = len, end = 0;
    int count = 0;

    out[0] = '\0';
    if (!in)
        return -1;
    /* one pass: where the first and after the last non-space code point are */
    while (i < len) {
        size_t at = i;
        int32_t cp = utf8_next(s, len, &i);
        if (cp < 0)
            return -1;
        if (is_space(cp))
            continue;
        if (start == len)
            start = at;
        end = i;
    }
    if (start == len)
        return 0;   /* empty, or white space only: no name */
    for (i = start; i < end; count++) {
        int32_t cp = utf8_next(s, end, &i);
        if (cp < 0 || is_control(cp) || count >= PROTO_NAME_CHARS)
            return -1;
    }
    /* 24 code points are at most 96 bytes: this cannot overflow out */
    memcpy(out, in + start, end - start);
    out[end - start] = '\0';
    return 1;
}

int proto_name_valid(const char *s)
{
    char tmp[PROTO_NAME_MAX + 1];
    size_t n;

    if (!s || (n = strnlen(s, PROTO_NAME_MAX + 1)) > PROTO_NAME_MAX)
        return 0;
    return proto_name_norm(s, n, tmp) == 1 && strlen(tmp) == n;
}

const char *proto_computer_name(uint8_t level)
{
    return level == GAME_AI_EASY ? "Computer (easy)" : "Computer (perfect)";
}

int proto__get_name(const json_t *o, const char *key, char out[PROTO_NAME_MAX + 1])
{
    json_t *v = json_object_get(o, key);

    out[0] = '\0';
    if (!v)
        return 0;
    if (!json_is_string(v))
        return -1;
    return proto_name_norm(json_string_value(v), json_string_length(v), out);
}
