/* SPDX-License-Identifier: MIT */
/*
 * Tests of the firewall's pure parts: the ruleset of several configurations
 * compared with the exact text (IPv4 and IPv6 allow and deny networks, doors
 * with several addresses, wildcards, a door without connection-rate and so
 * without a rate set, limits-exempt), each also checked by `nft -c -f` when
 * the test runs as root with nft installed (nft checks the syntax against the
 * kernel without committing anything); a ruleset cut by every too-small
 * buffer; the conversion of N/PERIOD to nft's rate units; and the reading of
 * the hash back from `nft list` text. Every table has hostile rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "firewall/firewall.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

#define HEX    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define DOMAIN "domain example.com {\n}\n"

static char tmpdir[64]; /* holds the empty cert.pem and key.pem of TLS_BLOCK */

/* text with every "@DIR@" replaced by tmpdir, loaded; fails the test when conf refuses it. */
static struct conf *
load(const char *text)
{
    char buf[4096], err[1024] = "";
    size_t o = 0, dl = strlen(tmpdir);
    struct conf *c;

    for (const char *p = text; *p != '\0';) {
        assert_true(o + dl + 1 < sizeof buf);
        if (strncmp(p, "@DIR@", 5) == 0) {
            memcpy(buf + o, tmpdir, dl);
            o += dl;
            p += 5;
        } else {
            buf[o++] = *p++;
        }
    }
    buf[o] = '\0';
    c = conf_load_text("/tmp/firewall-test.conf", buf, o, err, sizeof err);
    if (c == NULL)
        fail_msg("conf: %s", err);
    return c;
}

/* Whether nft can check rulesets here (root, nft installed). */
static bool
can_check(void)
{
    return geteuid() == 0 && access("/usr/sbin/nft", X_OK) == 0;
}

/* `nft -c -f FILE` of text: its exit status. */
static int
nft_check(const char *text)
{
    char path[] = "/tmp/firewall-test-XXXXXX";
    int fd = mkstemp(path), status = -1;
    size_t len = strlen(text);
    pid_t pid;

    assert_true(fd >= 0);
    assert_true(write(fd, text, len) == (ssize_t)len);
    assert_int_equal(close(fd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/usr/sbin/nft", "nft", "-c", "-f", path, (char *)NULL);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    (void)unlink(path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#define HEAD                                                                                       \
    "table inet gate26 {\n"                                                                        \
    "\tcomment \"gate26 config sha256=" HEX "\"\n"                                                 \
    "\n"                                                                                           \
    "\tset scanners {\n"                                                                           \
    "\t\ttype ipv4_addr\n"                                                                         \
    "\t\tflags timeout\n"                                                                          \
    "\t}\n"                                                                                        \
    "\n"                                                                                           \
    "\tset scanners6 {\n"                                                                          \
    "\t\ttype ipv6_addr\n"                                                                         \
    "\t\tflags timeout\n"                                                                          \
    "\t}\n"
#define RATE_SETS(door, timeout)                                                                   \
    "\n"                                                                                           \
    "\tset rate4_" door " {\n"                                                                     \
    "\t\ttype ipv4_addr\n"                                                                         \
    "\t\tsize 65535\n"                                                                             \
    "\t\tflags dynamic,timeout\n"                                                                  \
    "\t\ttimeout " timeout "\n"                                                                    \
    "\t}\n"                                                                                        \
    "\n"                                                                                           \
    "\tset rate6_" door " {\n"                                                                     \
    "\t\ttype ipv6_addr\n"                                                                         \
    "\t\tsize 65535\n"                                                                             \
    "\t\tflags dynamic,timeout\n"                                                                  \
    "\t\ttimeout " timeout "\n"                                                                    \
    "\t}\n"
#define CHAIN                                                                                      \
    "\n"                                                                                           \
    "\tchain input {\n"                                                                            \
    "\t\ttype filter hook input priority filter - 1; policy accept;\n"
#define TAIL "\t}\n}\n"
#define TLS_BLOCK                                                                                  \
    "tls {\n cert @DIR@/cert.pem\n key @DIR@/key.pem\n}\nauth {\n passwd /etc/gate26/passwd\n}\n"

static const struct {
    const char *name;
    const char *conf;
    const char *rules;
} rows[] = {
    {"internal door, IPv4 allow, wildcard, no connection-rate: no rate set, no rate rule",
     "listen internal {\n address 0.0.0.0:26\n allow 10.26.1.0/24 192.0.2.7\n}\n",
     HEAD CHAIN
     "\n"
     "\t\t# listen internal (line 1)\n"
     "\t\tmeta nfproto ipv4 tcp dport 26 ct state new ip saddr @scanners drop\n"
     "\t\tmeta nfproto ipv4 tcp dport 26 ip saddr != { 10.26.1.0/24, 192.0.2.7 } drop\n" TAIL},
    {"inbound on two addresses of both families, deny of both, default rate, exempt",
     "listen inbound {\n address 192.0.2.1:25 [2001:db8::1]:25\n"
     " deny 198.51.100.0/24 2001:db8:bad::/48\n deny 203.0.113.9\n"
     " limits-exempt 192.0.2.10\n}\n" DOMAIN,
     HEAD RATE_SETS("inbound", "60s") CHAIN
     "\n"
     "\t\t# listen inbound (line 1): connection-rate 60/60s\n"
     "\t\tip daddr 192.0.2.1 tcp dport 25 ct state new ip saddr @scanners drop\n"
     "\t\tip daddr 192.0.2.1 tcp dport 25 ip saddr { 198.51.100.0/24, 203.0.113.9 } drop\n"
     "\t\tip daddr 192.0.2.1 tcp dport 25 ct state new ip saddr != { 192.0.2.10 } update "
     "@rate4_inbound { ip saddr timeout 60s limit rate over 1/second burst 60 packets } drop\n"
     "\t\tip6 daddr 2001:db8::1 tcp dport 25 ct state new ip6 saddr @scanners6 drop\n"
     "\t\tip6 daddr 2001:db8::1 tcp dport 25 ip6 saddr { 2001:db8:bad::/48 } drop\n"
     "\t\tip6 daddr 2001:db8::1 tcp dport 25 ct state new update @rate6_inbound { ip6 saddr and "
     "ffff:ffff:ffff:ffff:: timeout 60s limit rate over 1/second burst 60 packets } drop\n" TAIL},
    {"internal with IPv6 allow only, IPv6 wildcard and an IPv4 address, rate 5/30s",
     "listen internal {\n address [::]:2626\n address 127.0.0.1:2626\n"
     " allow 2001:db8:1::/48 ::1\n connection-rate 5/30s\n}\n",
     HEAD RATE_SETS("internal", "30s") CHAIN
     "\n"
     "\t\t# listen internal (line 1): connection-rate 5/30s\n"
     "\t\tmeta nfproto ipv6 tcp dport 2626 ct state new ip6 saddr @scanners6 drop\n"
     "\t\tmeta nfproto ipv6 tcp dport 2626 ip6 saddr != { 2001:db8:1::/48, ::1 } drop\n"
     "\t\tmeta nfproto ipv6 tcp dport 2626 ct state new update @rate6_internal { ip6 saddr and "
     "ffff:ffff:ffff:ffff:: timeout 30s limit rate over 10/minute burst 5 packets } drop\n"
     "\t\tip daddr 127.0.0.1 tcp dport 2626 ct state new ip saddr @scanners drop\n"
     "\t\tip daddr 127.0.0.1 tcp dport 2626 drop\n" TAIL},
    {"three doors: internal, inbound open to all with a rate of no whole unit, submission",
     TLS_BLOCK "listen internal {\n address 10.0.0.1:26\n allow 10.0.0.0/8 fd00::/8\n"
               " deny 10.9.0.0/16\n}\n"
               "listen inbound {\n address 0.0.0.0:25 [::]:25\n connection-rate 1/13s\n}\n"
               "listen submission {\n address 0.0.0.0:587\n connection-rate 100/1d\n}\n" DOMAIN,
     HEAD RATE_SETS("inbound", "13s") RATE_SETS("submission", "86400s") CHAIN
     "\n"
     "\t\t# listen internal (line 8)\n"
     "\t\tip daddr 10.0.0.1 tcp dport 26 ct state new ip saddr @scanners drop\n"
     "\t\tip daddr 10.0.0.1 tcp dport 26 ip saddr { 10.9.0.0/16 } drop\n"
     "\t\tip daddr 10.0.0.1 tcp dport 26 ip saddr != { 10.0.0.0/8 } drop\n"
     "\n"
     "\t\t# listen inbound (line 13): connection-rate 1/13s\n"
     "\t\tmeta nfproto ipv4 tcp dport 25 ct state new ip saddr @scanners drop\n"
     "\t\tmeta nfproto ipv4 tcp dport 25 ct state new update @rate4_inbound { ip saddr timeout "
     "13s limit rate over 46524/week burst 1 packets } drop\n"
     "\t\tmeta nfproto ipv6 tcp dport 25 ct state new ip6 saddr @scanners6 drop\n"
     "\t\tmeta nfproto ipv6 tcp dport 25 ct state new update @rate6_inbound { ip6 saddr and "
     "ffff:ffff:ffff:ffff:: timeout 13s limit rate over 46524/week burst 1 packets } drop\n"
     "\n"
     "\t\t# listen submission (line 17): connection-rate 100/86400s\n"
     "\t\tmeta nfproto ipv4 tcp dport 587 ct state new ip saddr @scanners drop\n"
     "\t\tmeta nfproto ipv4 tcp dport 587 ct state new update @rate4_submission { ip saddr "
     "timeout 86400s limit rate over 100/day burst 100 packets } drop\n" TAIL},
};

static void
test_ruleset(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        struct conf *c = load(rows[i].conf);
        char out[16384];
        long n = firewall_ruleset(c, HEX, out, sizeof out);

        print_message("%s\n", rows[i].name);
        assert_true(n > 0);
        assert_int_equal((size_t)n, strlen(out));
        assert_string_equal(out, rows[i].rules);
        if (can_check())
            assert_int_equal(nft_check(out), 0);
        else
            print_message("(not root or no nft: syntax not checked by nft -c)\n");
        conf_unref(c);
    }
}

/* Hostile: every buffer too small for the ruleset fails whole (-1), none is overrun. */
static void
test_ruleset_cap(void **state)
{
    struct conf *c = load(rows[1].conf);
    char full[16384];
    long n = firewall_ruleset(c, HEX, full, sizeof full);

    (void)state;
    assert_true(n > 0);
    for (size_t cap = 0; cap <= (size_t)n; cap++) {
        char *buf = malloc(cap > 0 ? cap : 1); /* ASan sees a write past cap */

        assert_non_null(buf);
        assert_int_equal(firewall_ruleset(c, HEX, buf, cap), -1);
        free(buf);
    }
    {
        char *buf = malloc((size_t)n + 1);

        assert_non_null(buf);
        assert_int_equal(firewall_ruleset(c, HEX, buf, (size_t)n + 1), n);
        assert_string_equal(buf, full);
        free(buf);
    }
    conf_unref(c);
}

static void
test_limit_of(void **state)
{
    static const struct {
        unsigned n, period;
        unsigned long long rate;
        const char *unit;
        bool exact;
    } rows_l[] = {
        {60, 60, 1, "second", true},           /* the inbound default 60/1m */
        {10, 1, 10, "second", true},           /* 10/1s */
        {5, 30, 10, "minute", true},           /* 5/30s: one every 6 s */
        {2, 120, 1, "minute", true},           /* 2/2m */
        {1, 60, 1, "minute", true},            /* 1/1m */
        {1, 3600, 1, "hour", true},            /* 1/1h */
        {7, 86400, 7, "day", true},            /* 7/1d */
        {1, 86400, 1, "day", true},            /* the longest period */
        {100, 86400, 100, "day", true},        /* 100/1d: no smaller unit is whole */
        {240, 86400, 10, "hour", true},        /* 240/1d: 10 an hour */
        {3, 7, 259200, "week", true},          /* no unit but the week is whole */
        {1000000, 1, 1000000, "second", true}, /* the largest count */
        /* hostile: no unit holds a whole number; the week's rate is rounded up */
        {1, 13, 46524, "week", false},           /* 604800/13 = 46523.08 */
        {1, 86399, 8, "week", false},            /* 604800/86399 = 7.00008 */
        {999999, 86399, 7000075, "week", false}, /* 7000074.02 */
    };

    (void)state;
    for (size_t i = 0; i < N_OF(rows_l); i++) {
        struct firewall_limit lim;

        firewall_limit_of((struct conf_rate){rows_l[i].n, rows_l[i].period}, &lim);
        print_message("%u/%us\n", rows_l[i].n, rows_l[i].period);
        assert_int_equal(lim.rate, rows_l[i].rate);
        assert_string_equal(lim.unit, rows_l[i].unit);
        assert_int_equal(lim.exact, rows_l[i].exact);
        assert_int_equal(lim.burst, rows_l[i].n);
        assert_int_equal(lim.timeout, rows_l[i].period);
    }
}

static void
test_listed_hash(void **state)
{
    static const struct {
        const char *listing, *hex;
    } rows_h[] = {
        {"table inet gate26 {\n\tcomment \"gate26 config sha256=" HEX "\"\n\tset scanners {\n",
         HEX},
        {"table inet gate26 {\n\tcomment \"gate26 config sha256=" HEX "\"\n", HEX},
        /* hostile: not gate26's comment, or none, or a bad hash */
        {"table inet gate26 {\n\tset scanners {\n", ""},
        {"table inet gate26 {\n\tcomment \"mine\"\n", ""},
        {"table inet gate26 {\n\tcomment \"gate26 config sha256=0123\"\n", ""},
        {"table inet gate26 {\n\tcomment \"gate26 config sha256=" HEX "0\"\n", ""},
        {"table inet gate26 {\n\tcomment \"gate26 config sha256="
         "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\"\n",
         ""},
        {"table inet gate26 {\n\tcomment \"gate26 config sha256="
         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\"\n",
         ""},
        {"table inet other {\n\tcomment \"gate26 config sha256=" HEX "\"\n", ""},
        {"table ip gate26 {\n\tcomment \"gate26 config sha256=" HEX "\"\n", ""},
        {"\tcomment \"gate26 config sha256=" HEX "\"\n", ""},
        {"", ""},
    };

    (void)state;
    for (size_t i = 0; i < N_OF(rows_h); i++) {
        char hex[65] = "x";

        print_message("row %zu\n", i);
        assert_int_equal(firewall_listed_hash(rows_h[i].listing, hex, sizeof hex), 1);
        assert_string_equal(hex, rows_h[i].hex);
    }
}

static int
group_setup(void **state)
{
    char dir[] = "/tmp/gate26-firewall-XXXXXX", path[128];

    (void)state;
    if (mkdtemp(dir) == NULL)
        return -1;
    memcpy(tmpdir, dir, sizeof dir);
    /* conf checks that the files are readable; src/tls would load them. */
    for (int i = 0; i < 2; i++) {
        FILE *f;

        (void)snprintf(path, sizeof path, "%s/%s", tmpdir, i == 0 ? "cert.pem" : "key.pem");
        f = fopen(path, "w");
        if (f == NULL || fclose(f) != 0)
            return -1;
    }
    return 0;
}

static int
group_teardown(void **state)
{
    char path[128];

    (void)state;
    for (int i = 0; i < 2; i++) {
        (void)snprintf(path, sizeof path, "%s/%s", tmpdir, i == 0 ? "cert.pem" : "key.pem");
        (void)unlink(path);
    }
    return rmdir(tmpdir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ruleset),
        cmocka_unit_test(test_ruleset_cap),
        cmocka_unit_test(test_limit_of),
        cmocka_unit_test(test_listed_hash),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
