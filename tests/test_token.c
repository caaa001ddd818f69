/* test_token.c -- server/token.c: tokens from the refilled pool and the
 * digest through the reused SHA-256 context. */
#include <criterion/criterion.h>
#include <string.h>

#include "token.h"

Test(token, pool, .description = "tokens across several pool refills: hex, distinct")
{
    static char seen[300][TOKEN_LEN + 1];
    for (int i = 0; i < 300; i++) {
        cr_assert_eq(token_new(seen[i]), 0);
        cr_assert_eq(strlen(seen[i]), TOKEN_LEN);
        cr_assert_eq(strspn(seen[i], "0123456789abcdef"), TOKEN_LEN, "not lowercase hex: %s",
                     seen[i]);
        for (int k = 0; k < i; k++)
            cr_assert_str_neq(seen[i], seen[k], "token %d repeats token %d", i, k);
    }
}

Test(token, digest, .description = "SHA-256 of the FIPS 180-2 vector, twice (the context is reused)")
{
    static const uint8_t abc[TOKEN_HASH_LEN] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
        0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61,
        0xf2, 0x00, 0x15, 0xad};
    uint8_t h[TOKEN_HASH_LEN], other[TOKEN_HASH_LEN];
    for (int i = 0; i < 2; i++) {
        token_hash("abc", 3, h);
        cr_assert(token_hash_equal(h, abc), "round %d", i);
        token_hash("abd", 3, other);
        cr_assert(!token_hash_equal(other, abc));
    }
    cr_assert(!token_hash_empty(h));
}
