/* SPDX-License-Identifier: MIT */
/*
 * Tests of gate26 audit's pure judgements (judge.h): tables of inputs with
 * the verdict each must get, hostile rows included (mapped addresses,
 * prefixes at the edges, hashes cut short or of refused methods, modes
 * with every bit, scanner documents that are not what they claim).
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "audit/judge.h"

/* "ADDR" or "ADDR/P" into a conf_cidr (family from the text). */
static struct conf_cidr
cidr(const char *text)
{
    struct conf_cidr n = {0};
    char a[64];
    const char *slash = strchr(text, '/');
    size_t len = slash != NULL ? (size_t)(slash - text) : strlen(text);

    memcpy(a, text, len);
    a[len] = '\0';
    n.family = strchr(a, ':') != NULL ? AF_INET6 : AF_INET;
    assert_int_equal(inet_pton(n.family, a, n.addr), 1);
    n.prefix =
        slash != NULL ? (unsigned)strtoul(slash + 1, NULL, 10) : (n.family == AF_INET ? 32 : 128);
    return n;
}

static void
test_addr_is_public(void **state)
{
    static const struct {
        const char *addr;
        bool public;
    } rows[] = {
        {"0.0.0.0", true}, /* every interface: public ones too */
        {"::", true},
        {"192.0.2.7", true},
        {"8.8.8.8", true},
        {"2001:db8::1", true},
        {"127.0.0.1", false},
        {"127.255.255.254", false},
        {"::1", false},
        {"10.0.0.1", false},
        {"172.16.0.1", false},
        {"172.31.255.255", false},
        {"172.32.0.1", true}, /* just outside 172.16/12 */
        {"172.15.255.255", true},
        {"192.168.1.1", false},
        {"192.169.0.1", true},
        {"100.64.0.1", false},  /* shared, RFC 6598 */
        {"100.128.0.1", true},  /* just outside 100.64/10 */
        {"169.254.1.1", false}, /* link-local */
        {"fe80::1", false},
        {"fc00::1", false}, /* unique local */
        {"fdff::1", false},
        {"fe00::1", true},
        {"::ffff:10.1.2.3", false}, /* mapped: judged as IPv4 */
        {"::ffff:192.0.2.1", true},
        {"::ffff:127.0.0.1", false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct conf_cidr n = cidr(rows[i].addr);

        if (audit_addr_is_public(n.family, n.addr) != rows[i].public)
            fail_msg("%s: want %s", rows[i].addr, rows[i].public ? "public" : "not public");
    }
    assert_false(audit_addr_is_public(AF_UNIX, (const unsigned char *)"\0\0\0\0"));
}

static void
test_net_judge(void **state)
{
    static const struct {
        const char *net;
        enum audit_net want;
    } rows[] = {
        {"0.0.0.0/0", AUDIT_NET_EVERYONE},
        {"::/0", AUDIT_NET_EVERYONE},
        {"::ffff:0.0.0.0/96", AUDIT_NET_EVERYONE}, /* every IPv4 client, matched mapped */
        {"::/80", AUDIT_NET_EVERYONE},             /* holds ::ffff:0:0/96 */
        {"::ffff:0.0.0.0/95", AUDIT_NET_EVERYONE},
        {"10.0.0.0/8", AUDIT_NET_WIDE},
        {"128.0.0.0/1", AUDIT_NET_WIDE},
        {"172.16.0.0/12", AUDIT_NET_WIDE},
        {"10.1.0.0/15", AUDIT_NET_WIDE},
        {"10.1.0.0/16", AUDIT_NET_OK}, /* /16 is the limit: not wider */
        {"10.1.2.0/24", AUDIT_NET_OK},
        {"10.1.2.3/32", AUDIT_NET_OK},
        {"::ffff:10.0.0.0/104", AUDIT_NET_WIDE}, /* mapped /8 */
        {"::ffff:10.1.0.0/112", AUDIT_NET_OK},   /* mapped /16 */
        {"2001:db8::/32", AUDIT_NET_WIDE},
        {"2000::/3", AUDIT_NET_WIDE},
        {"2001:db8::/47", AUDIT_NET_WIDE},
        {"2001:db8::/48", AUDIT_NET_OK},
        {"2001:db8:1::/64", AUDIT_NET_OK},
        {"fc00::/7", AUDIT_NET_WIDE},
        {"::1/128", AUDIT_NET_OK},
        {"64:ff9b::/96", AUDIT_NET_OK}, /* a /96 that is not the mapped one */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct conf_cidr n = cidr(rows[i].net);

        if (audit_net_judge(&n) != rows[i].want)
            fail_msg("%s: got %d, want %d", rows[i].net, audit_net_judge(&n), rows[i].want);
    }
}

static void
test_hash_judge(void **state)
{
    static const struct {
        const char *hash;
        enum audit_hash want;
        const char *why;
    } rows[] = {
        {"$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7",
         AUDIT_HASH_STRONG, "yescrypt"},
        {"!$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7",
         AUDIT_HASH_STRONG, "yescrypt"}, /* locked: the hash behind '!' */
        {"$gy$j9T$salt$sum", AUDIT_HASH_STRONG, "gost-yescrypt"},
        {"$7$CU..../....salt$sum", AUDIT_HASH_STRONG, "scrypt"},
        {"$2b$12$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234", AUDIT_HASH_STRONG,
         "bcrypt, cost 12"},
        {"$2y$10$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234", AUDIT_HASH_STRONG,
         "bcrypt, cost 10"},
        {"$2b$09$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234", AUDIT_HASH_WEAK,
         "bcrypt, cost 9"},
        {"$2b$04$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234", AUDIT_HASH_WEAK,
         "bcrypt, cost 4"},
        {"$2b$99$x", AUDIT_HASH_REFUSED, "bcrypt with a malformed cost"},
        {"$2b$1", AUDIT_HASH_REFUSED, "bcrypt with a malformed cost"}, /* cut short */
        {"$2b$", AUDIT_HASH_REFUSED, "bcrypt with a malformed cost"},
        {"$6$saltsalt$sum", AUDIT_HASH_WEAK, "sha512-crypt, 5000 rounds"}, /* the default */
        {"$6$rounds=5000$salt$sum", AUDIT_HASH_WEAK, "sha512-crypt, 5000 rounds"},
        {"$6$rounds=99999$salt$sum", AUDIT_HASH_WEAK, "sha512-crypt, 99999 rounds"},
        {"$6$rounds=100000$salt$sum", AUDIT_HASH_STRONG, "sha512-crypt, 100000 rounds"},
        {"$6$rounds=656000$salt$sum", AUDIT_HASH_STRONG, "sha512-crypt, 656000 rounds"},
        {"$6$rounds=$salt$sum", AUDIT_HASH_REFUSED, "sha512-crypt with malformed rounds"},
        {"$6$rounds=12x$salt$sum", AUDIT_HASH_REFUSED, "sha512-crypt with malformed rounds"},
        {"$6$rounds=99999999999999999999$s$x", AUDIT_HASH_REFUSED,
         "sha512-crypt with malformed rounds"},
        {"$6$rounds=100000", AUDIT_HASH_REFUSED, "sha512-crypt with malformed rounds"},
        {"$1$salt$sum", AUDIT_HASH_REFUSED, "md5-crypt"},
        {"$5$salt$sum", AUDIT_HASH_REFUSED, "sha256-crypt"},
        {"$2a$10$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234", AUDIT_HASH_REFUSED,
         "bcrypt $2a$"},
        {"abJnggxhB/yWI", AUDIT_HASH_REFUSED, "DES crypt"},
        {"", AUDIT_HASH_REFUSED, "no hash"},
        {"!", AUDIT_HASH_REFUSED, "no hash"},
        {"plaintext-password", AUDIT_HASH_REFUSED, "an unknown method"},
        {"$", AUDIT_HASH_REFUSED, "an unknown method"},
        {"$y", AUDIT_HASH_REFUSED, "an unknown method"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char why[64];
        enum audit_hash got = audit_hash_judge(rows[i].hash, why, sizeof(why));

        if (got != rows[i].want || strcmp(why, rows[i].why) != 0)
            fail_msg("row %zu %s: got %d (%s), want %d (%s)", i, rows[i].hash, got, why,
                     rows[i].want, rows[i].why);
    }
}

static void
test_perm_judge(void **state)
{
    static const struct audit_ids gw = {true, 998, 997}, none = {false, 0, 0};
    static const struct {
        unsigned mode;
        unsigned uid, gid;
        const struct audit_ids *gw;
        unsigned want;
    } rows[] = {
        {0100600, 0, 0, &gw, 0},
        {0100640, 0, 997, &gw, 0},   /* root:gate26 0640, as configtest advises */
        {0100640, 0, 0, &gw, 0},     /* root:root 0640 */
        {0100400, 998, 997, &gw, 0}, /* gate26's own */
        {0100600, 998, 100, &gw, 0},
        {0100640, 0, 100, &gw, AUDIT_PERM_GROUP_READ}, /* group users may read it */
        {0100644, 0, 997, &gw, AUDIT_PERM_OTHER_READ},
        {0100604, 0, 0, &gw, AUDIT_PERM_OTHER_READ},
        {0100660, 0, 997, &gw, AUDIT_PERM_GROUP_WRITE},
        {0100620, 0, 0, &gw, AUDIT_PERM_GROUP_WRITE},
        {0100602, 0, 0, &gw, AUDIT_PERM_OTHER_WRITE},
        {0100666, 0, 0, &gw,
         AUDIT_PERM_OTHER_WRITE | AUDIT_PERM_GROUP_WRITE | AUDIT_PERM_OTHER_READ},
        {0100777, 1000, 1000, &gw,
         AUDIT_PERM_OTHER_WRITE | AUDIT_PERM_GROUP_WRITE | AUDIT_PERM_OTHER_READ |
             AUDIT_PERM_GROUP_READ | AUDIT_PERM_OWNER},
        {0100600, 1000, 0, &gw, AUDIT_PERM_OWNER},
        {0100600, 998, 997, &none, AUDIT_PERM_OWNER}, /* no gateway user: only root */
        {0100640, 0, 997, &none, AUDIT_PERM_GROUP_READ},
        {0104600, 0, 0, &gw, 0}, /* setuid bits are not read or write bits */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        unsigned got = audit_perm_judge((mode_t)rows[i].mode, rows[i].uid, rows[i].gid, rows[i].gw);

        if (got != rows[i].want)
            fail_msg("row %zu mode %o %u:%u: got %#x, want %#x", i, rows[i].mode, rows[i].uid,
                     rows[i].gid, got, rows[i].want);
    }
}

static void
test_cert_judge(void **state)
{
    const time_t now = 1800000000, day = 86400;

    (void)state;
    assert_int_equal(audit_cert_judge(now - day, now), AUDIT_CERT_EXPIRED);
    assert_int_equal(audit_cert_judge(now, now), AUDIT_CERT_EXPIRED);
    assert_int_equal(audit_cert_judge(now + 1, now), AUDIT_CERT_EXPIRING);
    assert_int_equal(audit_cert_judge(now + 30 * day, now), AUDIT_CERT_EXPIRING);
    assert_int_equal(audit_cert_judge(now + 30 * day + 1, now), AUDIT_CERT_OK);
    assert_int_equal(audit_cert_judge(now + 365 * day, now), AUDIT_CERT_OK);
}

static void
test_parse_utc(void **state)
{
    static const struct {
        const char *s;
        int rc;
        time_t t;
    } rows[] = {
        {"2026-12-07T01:02:03Z", 0, 1796605323}, {"1970-01-01T00:00:00Z", 0, 0},
        {"2026-12-07T01:02:03", -1, 0},          {"2026-12-07 01:02:03Z", -1, 0},
        {"2026-12-7T01:02:03Z", -1, 0},          {"2026-12-07T01:02:03+00:00", -1, 0},
        {"2026-13-07T01:02:03Z", -1, 0},         {"2026-12-07T25:02:03Z", -1, 0},
        {"+026-12-07T01:02:03Z", -1, 0},         {"", -1, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        time_t t = 0;

        if (audit_parse_utc(rows[i].s, &t) != rows[i].rc || (rows[i].rc == 0 && t != rows[i].t))
            fail_msg("%s: got %lld", rows[i].s, (long long)t);
    }
}

static void
test_scanners_judge(void **state)
{
    /* now: 2026-12-07T12:00:00Z */
    const time_t now = 1796644800;
    static const struct {
        const char *doc;
        int rc;
        size_t sources;
        unsigned long long mirai, sessions;
        const char *busiest;
    } rows[] = {
        {"{\"sources\":[],\"networks\":[],\"capture\":\"any\",\"table_size\":4096}", 0, 0, 0, 0,
         ""},
        {"{\"sources\":[{\"address\":\"192.0.2.7\",\"mirai\":20,\"plain\":3,"
         "\"sessions\":{\"silent\":1,\"http\":2,\"tls\":0,\"ssh\":0,\"proxy\":0,\"binary\":0},"
         "\"ports\":[26,25],\"first_seen\":\"2026-12-07T01:02:03Z\","
         "\"last_seen\":\"2026-12-07T11:00:00Z\"},"
         "{\"address\":\"198.51.100.9\",\"mirai\":0,\"plain\":0,\"sessions\":{\"ssh\":40},"
         "\"ports\":[26],\"first_seen\":\"2026-12-01T00:00:00Z\","
         "\"last_seen\":\"2026-12-06T12:00:00Z\"},"
         "{\"address\":\"203.0.113.5\",\"mirai\":1,\"plain\":0,\"sessions\":{},"
         "\"ports\":[26],\"first_seen\":\"2026-12-01T00:00:00Z\","
         "\"last_seen\":\"2026-12-06T11:59:59Z\"}],"
         "\"networks\":[],\"capture\":\"any\",\"table_size\":4096}",
         0, 2, 20, 43, "198.51.100.9"}, /* exactly 24 h ago counts; a second more does not */
        {"{\"sources\":[{\"address\":\"2001:db8::1\",\"mirai\":0,\"sessions\":{\"tls\":1},"
         "\"last_seen\":\"2026-12-08T00:00:00Z\"}]}",
         0, 1, 0, 1, "2001:db8::1"}, /* a clock ahead: still recent */
        {"not json", -1, 0, 0, 0, ""},
        {"", -1, 0, 0, 0, ""},
        {"[]", -1, 0, 0, 0, ""},
        {"{\"sources\":{}}", -1, 0, 0, 0, ""},
        {"{\"sources\":[1]}", -1, 0, 0, 0, ""},
        {"{\"sources\":[{\"address\":\"a\",\"mirai\":-1,\"sessions\":{},"
         "\"last_seen\":\"2026-12-07T11:00:00Z\"}]}",
         -1, 0, 0, 0, ""},
        {"{\"sources\":[{\"address\":\"a\",\"mirai\":1,\"sessions\":{\"x\":\"1\"},"
         "\"last_seen\":\"2026-12-07T11:00:00Z\"}]}",
         -1, 0, 0, 0, ""},
        {"{\"sources\":[{\"address\":\"a\",\"mirai\":1,\"sessions\":{},"
         "\"last_seen\":\"yesterday\"}]}",
         -1, 0, 0, 0, ""},
        {"{\"sources\":[{\"address\":7,\"mirai\":1,\"sessions\":{},"
         "\"last_seen\":\"2026-12-07T11:00:00Z\"}]}",
         -1, 0, 0, 0, ""},
        {"{\"sources\":[],\"sources\":[]}", -1, 0, 0, 0, ""}, /* duplicate key */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct audit_scanners s;
        char why[256] = "";
        int rc = audit_scanners_judge(rows[i].doc, strlen(rows[i].doc), now, &s, why, sizeof(why));

        if (rc != rows[i].rc)
            fail_msg("row %zu: rc %d (%s), want %d", i, rc, why, rows[i].rc);
        if (rc == -1) {
            assert_true(why[0] != '\0');
            continue;
        }
        assert_int_equal(s.sources, rows[i].sources);
        assert_true(s.listed >= s.sources);
        assert_int_equal(s.mirai, rows[i].mirai);
        assert_int_equal(s.sessions, rows[i].sessions);
        assert_string_equal(s.busiest, rows[i].busiest);
    }
    {
        /* Every entry is listed, recent or not: "at least" when the daemon's list is full. */
        struct audit_scanners s;
        char why[256];

        assert_int_equal(
            audit_scanners_judge(rows[1].doc, strlen(rows[1].doc), now, &s, why, sizeof(why)), 0);
        assert_int_equal(s.listed, 3);
    }
}

static void
test_exe_judge(void **state)
{
    (void)state;
    assert_int_equal(audit_exe_judge("/usr/sbin/gate26", 1, 2, 1, 2), AUDIT_EXE_SAME);
    assert_int_equal(audit_exe_judge("/usr/sbin/gate26 (deleted)", 1, 2, 1, 2), AUDIT_EXE_DELETED);
    assert_int_equal(audit_exe_judge("/tmp/x/gate26 (deleted)", 1, 3, 1, 2), AUDIT_EXE_DELETED);
    assert_int_equal(audit_exe_judge("/usr/sbin/gate26", 1, 3, 1, 2), AUDIT_EXE_OTHER);
    assert_int_equal(audit_exe_judge("/usr/sbin/gate26", 9, 2, 1, 2), AUDIT_EXE_OTHER);
    assert_int_equal(audit_exe_judge(" (deleted)", 1, 2, 1, 2), AUDIT_EXE_DELETED);
    assert_int_equal(audit_exe_judge("(deleted)", 1, 2, 1, 2), AUDIT_EXE_SAME);
    assert_int_equal(audit_exe_judge("", 1, 2, 1, 2), AUDIT_EXE_SAME);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_is_public), cmocka_unit_test(test_net_judge),
        cmocka_unit_test(test_hash_judge),     cmocka_unit_test(test_perm_judge),
        cmocka_unit_test(test_cert_judge),     cmocka_unit_test(test_parse_utc),
        cmocka_unit_test(test_scanners_judge), cmocka_unit_test(test_exe_judge),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
