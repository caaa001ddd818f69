/* token.c -- seat tokens (see token.h). getrandom(2) rather than a userland
 * PRNG: a token is the only thing standing between a player and a seat
 * hijack, and 16 bytes per game is nothing to ask of the kernel. */
#include "token.h"

#include <openssl/sha.h>
#include <sys/random.h>

int token_new(char out[TOKEN_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t raw[TOKEN_LEN / 2];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t r = getrandom(raw + got, sizeof raw - got, 0);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[TOKEN_LEN] = '\0';
    return 0;
}

void token_hash(const char *token, size_t len, uint8_t out[TOKEN_HASH_LEN])
{
    SHA256((const unsigned char *)token, len, out);
}

int token_hash_equal(const uint8_t a[TOKEN_HASH_LEN], const uint8_t b[TOKEN_HASH_LEN])
{
    uint8_t d = 0;
    for (int i = 0; i < TOKEN_HASH_LEN; i++)
        d |= (uint8_t)(a[i] ^ b[i]);
    return d == 0;
}

int token_hash_empty(const uint8_t h[TOKEN_HASH_LEN])
{
    uint8_t d = 0;
    for (int i = 0; i < TOKEN_HASH_LEN; i++)
        d |= h[i];
    return d == 0;
}
