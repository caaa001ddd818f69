/* test_redis_pure.c -- the Redis Cluster client's pure parts alone: key
 * slots (CRC16 and hash tags, as in the cluster specification) and the
 * slot-map and redirect parsers on hostile replies. Part of the
 * test_redis_cluster binary. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "redis_cluster.h"
#include "redis_slot.h"

/* ---- pure: slots ----------------------------------------------------------------------- */

Test(slot, crc16_spec_value, .description = "CRC16 XMODEM of 123456789 is 0x31C3 (spec)")
{
    cr_assert_eq(redis_crc16("123456789", 9), 0x31C3);
    cr_assert_eq(redis_crc16("", 0), 0);
}

Test(slot, hash_tags, .description = "hash tags: first '{', next '}', non-empty")
{
    unsigned u = redis_key_slot("user1000", 8);
    cr_assert_eq(redis_key_slot("{user1000}.following", 20), u);
    cr_assert_eq(redis_key_slot("{user1000}.followers", 20), u);
    cr_assert_eq(redis_key_slot("foo{}{bar}", 10), redis_crc16("foo{}{bar}", 10) & 16383);
    cr_assert_eq(redis_key_slot("foo{{bar}}zap", 13), redis_crc16("{bar", 4) & 16383);
    cr_assert_eq(redis_key_slot("foo{bar}{zap}", 13), redis_key_slot("bar", 3));
    cr_assert_eq(redis_key_slot("{", 1), redis_crc16("{", 1) & 16383);
    cr_assert_eq(redis_key_slot("}{", 2), redis_crc16("}{", 2) & 16383);
    cr_assert_eq(redis_key_slot("", 0), 0);
    cr_assert_eq(redis_key_slot("foo", 3), 12182);
    cr_assert_eq(redis_key_slot("ttt:{100}:game", 14), redis_key_slot("100", 3));
}

/* ---- pure: the slot-map parser on hostile replies ------------------------------------- */

static redisReply *resp(const char *s)
{
    redisReader *rd = redisReaderCreate();
    void *rep = NULL;
    redisReaderFeed(rd, s, strlen(s));
    cr_assert_eq(redisReaderGetReply(rd, &rep), REDIS_OK, "bad RESP in the test: %s", s);
    cr_assert_not_null(rep, "incomplete RESP in the test");
    redisReaderFree(rd);
    return rep;
}

static int parse(const char *s, rcl_range **v)
{
    redisReply *r = resp(s);
    int n = rcl_parse_slots(r, "10.9.8.7", v);
    freeReplyObject(r);
    return n;
}

#define NODE(h, p) "*3\r\n$" #h "\r\n:" #p "\r\n$2\r\nid\r\n"

Test(slotmap, valid_reply, .description = "three ranges with replicas, an empty host is the asked node")
{
    rcl_range *v;
    int n = parse("*3\r\n"
                  "*4\r\n:0\r\n:5460\r\n*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$2\r\nid\r\n"
                  "*3\r\n$9\r\n127.0.0.1\r\n:7003\r\n$2\r\nid\r\n"
                  "*3\r\n:5461\r\n:10922\r\n*2\r\n$0\r\n\r\n:7001\r\n"
                  "*3\r\n:10923\r\n:16383\r\n*2\r\n$3\r\n::1\r\n:7002\r\n", &v);
    cr_assert_eq(n, 3);
    cr_assert_eq(v[0].start, 0);
    cr_assert_eq(v[0].end, 5460);
    cr_assert_str_eq(v[0].host, "127.0.0.1");
    cr_assert_eq(v[0].port, 7000);
    cr_assert_str_eq(v[1].host, "10.9.8.7");
    cr_assert_eq(v[2].port, 7002);
    cr_assert_str_eq(v[2].host, "::1");
    free(v);
}

Test(slotmap, hostile_replies, .description = "wrong types, ranges, ports, hosts and overlaps are refused")
{
    static const char *bad[] = {
        "+OK\r\n",                                                         /* not an array */
        ":5\r\n",
        "*1\r\n:1\r\n",                                                    /* entry not array */
        "*1\r\n*2\r\n:0\r\n:1\r\n",                                        /* no node */
        "*1\r\n*3\r\n:5\r\n:4\r\n*2\r\n$1\r\na\r\n:1\r\n",                 /* start > end */
        "*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\na\r\n:1\r\n",             /* slot 16384 */
        "*1\r\n*3\r\n:-1\r\n:3\r\n*2\r\n$1\r\na\r\n:1\r\n",                /* negative */
        "*1\r\n*3\r\n$1\r\n0\r\n:3\r\n*2\r\n$1\r\na\r\n:1\r\n",            /* string start */
        "*1\r\n*3\r\n:0\r\n:3\r\n*2\r\n$1\r\na\r\n:0\r\n",                 /* port 0 */
        "*1\r\n*3\r\n:0\r\n:3\r\n*2\r\n$1\r\na\r\n:65536\r\n",             /* port 65536 */
        "*1\r\n*3\r\n:0\r\n:3\r\n*2\r\n$1\r\na\r\n$4\r\n7000\r\n",         /* string port */
        "*1\r\n*3\r\n:0\r\n:3\r\n*2\r\n$1\r\n?\r\n:7000\r\n",              /* unknown endpoint */
        "*1\r\n*3\r\n:0\r\n:3\r\n*2\r\n$3\r\na b\r\n:7000\r\n",            /* space in host */
        "*1\r\n*3\r\n:0\r\n:3\r\n*2\r\n$3\r\na\tb\r\n:7000\r\n",           /* control byte */
        "*1\r\n*3\r\n:0\r\n:3\r\n*2\r\n:1\r\n:7000\r\n",                   /* integer host */
        "*1\r\n*3\r\n:0\r\n:3\r\n*1\r\n$1\r\na\r\n",                       /* host only */
        "*1\r\n*3\r\n:0\r\n:3\r\n$1\r\na\r\n",                             /* node not array */
        "*1\r\n*3\r\n:0\r\n:3\r\n*-1\r\n",                                 /* nil node */
        "*2\r\n*3\r\n:0\r\n:10\r\n*2\r\n$1\r\na\r\n:1\r\n"
        "*3\r\n:10\r\n:20\r\n*2\r\n$1\r\nb\r\n:1\r\n",                     /* overlap */
        "*1\r\n*3\r\n:0\r\n:3\r\n*2\r\n$70\r\n"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n:1\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rcl_range *v = (rcl_range *)1;
        int n = parse(bad[i], &v);
        cr_expect_lt(n, 0, "case %zu accepted", i);
        cr_expect_null(v, "case %zu left a pointer", i);
    }
    rcl_range *v;
    cr_assert_eq(parse("*0\r\n", &v), 0, "an empty map parses to no range");
    free(v);
}

Test(slotmap, redirects, .description = "MOVED/ASK texts: slot, host, port, IPv6, empty host; junk refused")
{
    unsigned slot;
    char host[RCL_HOST_MAX];
    int port;
    cr_assert_eq(rcl_parse_redirect("3999 127.0.0.1:6381", 19, NULL, &slot, host, &port), 0);
    cr_assert_eq(slot, 3999);
    cr_assert_str_eq(host, "127.0.0.1");
    cr_assert_eq(port, 6381);
    cr_assert_eq(rcl_parse_redirect("1 ::1:7000", 10, NULL, &slot, host, &port), 0);
    cr_assert_str_eq(host, "::1");
    cr_assert_eq(rcl_parse_redirect("1 [::1]:7000", 12, NULL, &slot, host, &port), 0);
    cr_assert_str_eq(host, "::1");
    cr_assert_eq(rcl_parse_redirect("7 :7000", 7, "10.0.0.1", &slot, host, &port), 0);
    cr_assert_str_eq(host, "10.0.0.1");
    static const char *bad[] = {"", "x 1.2.3.4:5", "16384 a:1", "99999999999 a:1", "1 a", "1 a:",
                                "1 a:0", "1 a:65536", "1 a:123456", "1 a:1x", "1 :1", "1a:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_neq(rcl_parse_redirect(bad[i], strlen(bad[i]), NULL, &slot, host, &port), 0,
                      "accepted '%s'", bad[i]);
}
