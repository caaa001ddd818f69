/* token.c -- seat tokens (see token.h). The kernel's CSPRNG (getrandom(2))
 * rather than a userland PRNG: a token is the only thing standing between a
 * player and a seat hijack. Its bytes are drawn from a small pool refilled
 * from the kernel 64 tokens at a time, so that a game costs no system call
 * of its own (issue 11: two getrandom calls per game were a sixth of the
 * non-move system calls). Bytes handed out are wiped from the pool. The
 * server is one process and one thread that never forks, so the pool is
 * never shared or duplicated.
 *
 * The digest uses one SHA-256 context fetched once and reused: OpenSSL 3's
 * one-shot SHA256() fetches the algorithm and allocates a context on every
 * call. */
#include "token.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string.h>
#include <sys/random.h>

#define POOL_BYTES (64 * (TOKEN_LEN / 2))

static uint8_t pool[POOL_BYTES];
static size_t pool_used = POOL_BYTES;   /* empty until the first token */

static int pool_refill(void)
{
    size_t got = 0;
    while (got < sizeof pool) {
        ssize_t r = getrandom(pool + got, sizeof pool - got, 0);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    pool_used = 0;
    return 0;
}

int token_new(char out[TOKEN_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    enum { RAW = TOKEN_LEN / 2 };
    if (pool_used + RAW > sizeof pool && pool_refill() != 0)
        return -1;
    uint8_t *raw = pool + pool_used;
    for (size_t i = 0; i < RAW; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    explicit_bzero(raw, RAW);
    pool_used += RAW;
    out[TOKEN_LEN] = '\0';
    return 0;
}

void token_hash(const char *token, size_t len, uint8_t out[TOKEN_HASH_LEN])
{
    static EVP_MD *md;
    static EVP_MD_CTX *ctx;
    unsigned int n = 0;
    if (!md)
        md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!ctx)
        ctx = EVP_MD_CTX_new();
    if (md && ctx && EVP_DigestInit_ex2(ctx, md, NULL) == 1 &&
        EVP_DigestUpdate(ctx, token, len) == 1 && EVP_DigestFinal_ex(ctx, out, &n) == 1 &&
        n == TOKEN_HASH_LEN)
        return;
    /* out of memory for the cached context: the one-shot call still works */
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
