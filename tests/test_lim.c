/* test_lim.c -- server/lim.c on its own: client addresses behind trusted
 * proxies, the Origin policy and the token buckets, fed the header text a
 * hostile client or a misconfigured proxy sends. */
#include <criterion/criterion.h>

#include <string.h>

#include "lim.h"

static lim_addr A(const char *s)
{
    lim_addr a;
    cr_assert(lim_addr_parse(s, strlen(s), &a) == 0, "parse %s", s);
    return a;
}

static const char *fmt(const lim_addr *a)
{
    static char buf[64];
    lim_addr_format(a, buf, sizeof buf);
    return buf;
}

Test(lim, addresses, .description = "IPv4 and IPv6 parse, spaces around them allowed; "
     "anything else is refused")
{
    lim_addr a = A(" 10.1.2.3 ");
    cr_assert_str_eq(fmt(&a), "10.1.2.3");
    a = A("2001:db8::1");
    cr_assert_str_eq(fmt(&a), "2001:db8::1");
    const char *bad[] = {"", " ", "10.1.2", "10.1.2.3.4", "1.2.3.4:80", "unknown", "::g",
                         "10.1.2.3 x", "1111111111111111111111111111111111111111111111111"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert(lim_addr_parse(bad[i], strlen(bad[i]), &a) != 0, "'%s' parsed", bad[i]);
}

Test(lim, networks, .description = "trusted proxies as addresses or ADDR/BITS, IPv4 and IPv6")
{
    lim_net n[3];
    cr_assert(lim_net_parse("127.0.0.1", &n[0]) == 0);
    cr_assert(lim_net_parse("10.0.0.0/8", &n[1]) == 0);
    cr_assert(lim_net_parse("fd00::/8", &n[2]) == 0);
    lim_addr a = A("127.0.0.1"), b = A("127.0.0.2"), c = A("10.200.1.1"), d = A("fd12::5"),
             e = A("11.0.0.1");
    cr_assert(lim_net_contains(n, 3, &a));
    cr_assert(!lim_net_contains(n, 3, &b));
    cr_assert(lim_net_contains(n, 3, &c));
    cr_assert(lim_net_contains(n, 3, &d));
    cr_assert(!lim_net_contains(n, 3, &e));
    lim_net x;
    cr_assert(lim_net_parse("10.0.0.0/33", &x) != 0);
    cr_assert(lim_net_parse("10.0.0.0/", &x) != 0);
    cr_assert(lim_net_parse("10.0.0.0/8x", &x) != 0);
    cr_assert(lim_net_parse("nginx", &x) != 0);
}

Test(lim, client_address, .description = "X-Forwarded-For / X-Real-IP count only from a "
     "trusted peer; the walk goes from the right and stops at the first untrusted or "
     "unreadable entry")
{
    lim_net t[2];
    lim_net_parse("127.0.0.1", &t[0]);
    lim_net_parse("10.0.0.0/8", &t[1]);
    lim_addr peer = A("127.0.0.1"), other = A("192.0.2.7"), out;
    lim_client_addr(&other, t, 2, "198.51.100.1", "198.51.100.2", &out);
    cr_assert_str_eq(fmt(&out), "192.0.2.7", "an untrusted peer names nobody");
    lim_client_addr(&peer, NULL, 0, "198.51.100.1", NULL, &out);
    cr_assert_str_eq(fmt(&out), "127.0.0.1", "no trusted proxies at all");
    lim_client_addr(&peer, t, 2, "198.51.100.1", NULL, &out);
    cr_assert_str_eq(fmt(&out), "198.51.100.1");
    lim_client_addr(&peer, t, 2, "6.6.6.6, 198.51.100.1", NULL, &out);
    cr_assert_str_eq(fmt(&out), "198.51.100.1", "a forged entry on the left is not believed");
    lim_client_addr(&peer, t, 2, "198.51.100.1, 10.1.1.1", NULL, &out);
    cr_assert_str_eq(fmt(&out), "198.51.100.1", "a second trusted proxy is skipped");
    lim_client_addr(&peer, t, 2, "198.51.100.1, junk", NULL, &out);
    cr_assert_str_eq(fmt(&out), "127.0.0.1", "unreadable: the proxy's own address");
    lim_client_addr(&peer, t, 2, ",,,", NULL, &out);
    cr_assert_str_eq(fmt(&out), "127.0.0.1");
    lim_client_addr(&peer, t, 2, NULL, "198.51.100.9", &out);
    cr_assert_str_eq(fmt(&out), "198.51.100.9", "X-Real-IP without X-Forwarded-For");
    lim_client_addr(&peer, t, 2, NULL, "not-an-ip", &out);
    cr_assert_str_eq(fmt(&out), "127.0.0.1");
}

Test(lim, origin, .description = "Origin: absent is fine; the Host's own (any case, port "
     "optional when Host has none); --allowed-origin exact or *; everything else refused")
{
    const char *allowed[] = {"https://play.example.org"};
    const char *any[] = {"*"};
    cr_assert(lim_origin_allowed(NULL, "x.org", NULL, 0));
    cr_assert(lim_origin_allowed("http://x.org:8080", "x.org:8080", NULL, 0));
    cr_assert(lim_origin_allowed("https://X.org", "x.org", NULL, 0));
    cr_assert(lim_origin_allowed("http://x.org:8080", "x.org", NULL, 0), "$host drops the port");
    cr_assert(!lim_origin_allowed("http://x.org:8081", "x.org:8080", NULL, 0));
    cr_assert(!lim_origin_allowed("http://x.org", "x.org:8080", NULL, 0));
    cr_assert(!lim_origin_allowed("http://evil.org", "x.org", NULL, 0));
    cr_assert(!lim_origin_allowed("http://x.org.evil.org", "x.org", NULL, 0));
    cr_assert(!lim_origin_allowed("http://x.org@evil.org", "evil.org", NULL, 0));
    cr_assert(!lim_origin_allowed("http://evil.org/x.org", "x.org", NULL, 0));
    cr_assert(!lim_origin_allowed("null", "x.org", NULL, 0));
    cr_assert(!lim_origin_allowed("x.org", "x.org", NULL, 0), "no scheme");
    cr_assert(!lim_origin_allowed("http://x.org", NULL, NULL, 0), "no Host");
    cr_assert(!lim_origin_allowed("", "x.org", NULL, 0));
    cr_assert(lim_origin_allowed("http://[::1]:80", "[::1]", NULL, 0));
    cr_assert(lim_origin_allowed("https://play.example.org", "x.org", allowed, 1));
    cr_assert(!lim_origin_allowed("https://play.example.org.evil", "x.org", allowed, 1));
    cr_assert(lim_origin_allowed("null", "x.org", any, 1));
}

Test(lim, bucket, .description = "a token bucket of N/s holds 2N, refills with time, and "
     "rate 0 never refuses")
{
    lim_bucket b;
    lim_bucket_init(&b, 5, 1000);
    int n = 0;
    while (lim_bucket_take(&b, 5, 1000))
        n++;
    cr_assert_eq(n, 10);
    cr_assert(!lim_bucket_full(&b, 5, 1000));
    cr_assert(lim_bucket_take(&b, 5, 1200), "one token after 200 ms at 5/s");
    cr_assert(!lim_bucket_take(&b, 5, 1200));
    cr_assert(lim_bucket_full(&b, 5, 5000));
    cr_assert(lim_bucket_take(&b, 0, 0));
}

Test(lim, table, .description = "an address entry with no connection stays until its bucket "
     "has refilled, then the sweep drops it")
{
    lim_table t = {0};
    lim_addr a = A("192.0.2.1");
    lim_ip *e = lim_ip_get(&t, &a, 5, 0);
    cr_assert(e && lim_ip_find(&t, &a) == e && lim_ip_get(&t, &a, 5, 0) == e);
    for (int i = 0; i < 10; i++)
        lim_bucket_take(&e->bucket, 5, 0);
    lim_table_sweep(&t, 5, 100);
    cr_assert(lim_ip_find(&t, &a), "dropped with an empty bucket");
    e->conns = 1;
    lim_table_sweep(&t, 5, 10000);
    cr_assert(lim_ip_find(&t, &a), "dropped with a connection");
    e->conns = 0;
    lim_table_sweep(&t, 5, 10000);
    cr_assert(!lim_ip_find(&t, &a) && t.count == 0);
    lim_table_free(&t);
}
