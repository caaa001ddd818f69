/* token.h -- seat secrets: 32 lowercase hex characters from the kernel's
 * CSPRNG, and their SHA-256 digest, which is all the store ever keeps. */
#ifndef TOKEN_H
#define TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define TOKEN_LEN 32
#define TOKEN_HASH_LEN 32

/* Fill out with a fresh token (NUL-terminated). 0, or -1 if the kernel
 * refused randomness (never expected after boot). */
int token_new(char out[TOKEN_LEN + 1]);
void token_hash(const char *token, size_t len, uint8_t out[TOKEN_HASH_LEN]);
/* Constant-time comparison of two digests: 1 when equal. */
int token_hash_equal(const uint8_t a[TOKEN_HASH_LEN], const uint8_t b[TOKEN_HASH_LEN]);
/* 1 when all bytes are zero (an unclaimed seat). */
int token_hash_empty(const uint8_t h[TOKEN_HASH_LEN]);

#endif
