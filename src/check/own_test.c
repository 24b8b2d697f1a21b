/* SPDX-License-Identifier: MIT */
/*
 * Tests for own.c: which addresses are this machine's, which door of a
 * configuration a connection reaches, and one table of open relays found on
 * a door with what the configuration makes of each (hostile rows: a denied
 * prober, an allow list that admits everyone, no allow list, no door, no
 * source, an address that is not this machine's, an IPv6 prober on an IPv4
 * door).
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "check/own.h"
#include "lib/str.h"

static const struct {
    const char *addr;
    bool own;
} own_rows[] = {
    {"127.0.0.1", true},
    {"127.255.3.4", true},
    {"0.0.0.0", true},
    {"::1", true},
    {"::", true},
    {"::ffff:127.0.0.1", true},
    {"192.0.2.1", false}, /* TEST-NET-1 (RFC 5737): on no interface */
    {"2001:db8::1", false},
    {"::ffff:192.0.2.1", false},
    {"::2", false},
    /* Hostile rows: no address at all. */
    {"", false},
    {"localhost", false},
    {"127.0.0.1 ", false},
    {"[::1]", false},
    {"127.0.0.1:25", false},
};

static void
test_addr_is_own(void **state)
{
    struct ifaddrs *list, *i;

    (void)state;
    for (size_t k = 0; k < sizeof(own_rows) / sizeof(own_rows[0]); k++) {
        if (check_addr_is_own(own_rows[k].addr) != own_rows[k].own)
            fail_msg("'%s': own %d, want %d", own_rows[k].addr, !own_rows[k].own, own_rows[k].own);
    }
    /* Every address of every interface is this machine's. */
    assert_int_equal(getifaddrs(&list), 0);
    for (i = list; i != NULL; i = i->ifa_next) {
        char text[INET6_ADDRSTRLEN];
        const struct sockaddr *sa = i->ifa_addr;

        if (sa == NULL || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
            continue;
        assert_non_null(inet_ntop(
            sa->sa_family,
            sa->sa_family == AF_INET
                ? (const void *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr
                : (const void *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
            text, sizeof(text)));
        if (!check_addr_is_own(text))
            fail_msg("interface %s: %s is not taken as this machine's", i->ifa_name, text);
    }
    freeifaddrs(list);
}

/* One block per role: two configurations hold the doors of the rows. */
static const char conf_a[] = "hostname gate.test\n"
                             "listen internal {\n" /* line 2 */
                             "    address 127.0.0.1:2526 [::1]:2526 0.0.0.0:2527\n"
                             "    allow 127.0.0.0/8 ::1 10.0.0.0/8\n"
                             "    deny 127.0.0.66\n"
                             "}\n"
                             "listen inbound {\n" /* line 7 */
                             "    address 127.0.0.1:2528\n"
                             "    allow 0.0.0.0/0\n"
                             "}\n"
                             "domain ours.test {\n"
                             "}\n";
static const char conf_b[] = "hostname gate.test\n"
                             "listen inbound {\n" /* line 2 */
                             "    address 127.0.0.1:2525\n"
                             "}\n"
                             "listen internal {\n" /* line 5 */
                             "    address 127.0.0.1:2530\n"
                             "    allow ::ffff:0:0/96 10.0.0.1\n"
                             "}\n"
                             "domain ours.test {\n"
                             "}\n";

static struct conf *
load(char which)
{
    const char *text = which == 'a' ? conf_a : conf_b;
    char err[512];
    struct conf *c = conf_load_text(which == 'a' ? "own-a.conf" : "own-b.conf", text, strlen(text),
                                    err, sizeof(err));

    if (c == NULL)
        fail_msg("%s", err);
    return c;
}

static void
test_door_at(void **state)
{
    static const struct {
        const char *addr;
        unsigned port;
        unsigned line; /* of the door's block; 0: none */
        const char *at;
    } rows[] = {
        {"127.0.0.1", 2526, 2, "127.0.0.1:2526"},
        {"::1", 2526, 2, "[::1]:2526"},
        {"127.0.0.2", 2526, 0, NULL},           /* another address, and no wildcard */
        {"127.0.0.1", 2527, 2, "0.0.0.0:2527"}, /* the wildcard */
        {"192.0.2.9", 2527, 2, "0.0.0.0:2527"},
        {"::1", 2527, 0, NULL}, /* 0.0.0.0 takes no IPv6 */
        {"127.0.0.1", 2528, 7, "127.0.0.1:2528"},
        {"127.0.0.1", 2599, 0, NULL},
        {"127.0.0.1", 0, 0, NULL},
    };
    struct conf *c = load('a');

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        unsigned char a[16];
        int family = strchr(rows[i].addr, ':') != NULL ? AF_INET6 : AF_INET;
        const struct conf_addr *where = NULL;
        const struct conf_listen *li;

        assert_int_equal(inet_pton(family, rows[i].addr, a), 1);
        li = check_door_at(c, family, a, rows[i].port, &where);
        if ((li != NULL ? li->line : 0) != rows[i].line)
            fail_msg("row %zu %s:%u: door at line %u, want %u", i, rows[i].addr, rows[i].port,
                     li != NULL ? li->line : 0, rows[i].line);
        if (li != NULL)
            assert_string_equal(where->text, rows[i].at);
    }
    conf_unref(c);
}

static const struct {
    char conf;          /* 'a' or 'b' */
    const char *addr;   /* the host probed */
    unsigned port;      /* and its port */
    const char *source; /* where the probe came from */
    const char *id;     /* what the open-relay finding becomes */
    const char *text;   /* in its sentence */
} relay_rows[] = {
    {'a', "127.0.0.1", 2526, "127.0.0.1", CHECK_RELAY_ALLOW_LISTED,
     "relaying for this prober because it is on the allow list: 127.0.0.1 is in 127.0.0.0/8 of "
     "door internal at 127.0.0.1:2526, which refuses others at connect (own-a.conf line 2)"},
    {'a', "::1", 2526, "::1", CHECK_RELAY_ALLOW_LISTED,
     "::1 is in ::1/128 of door internal at [::1]:2526"},
    {'a', "127.0.0.1", 2527, "10.1.2.3", CHECK_RELAY_ALLOW_LISTED,
     "10.1.2.3 is in 10.0.0.0/8 of door internal at 0.0.0.0:2527"},
    {'a', "127.0.0.1", 2527, "::ffff:127.0.0.9", CHECK_RELAY_ALLOW_LISTED, "127.0.0.0/8"},
    /* Hostile rows: each stays an open relay. */
    {'a', "127.0.0.1", 2526, "127.0.0.66", "open-relay", NULL}, /* the deny list holds it */
    {'a', "127.0.0.1", 2527, "192.0.2.7", "open-relay", NULL},  /* not on the allow list */
    {'a', "127.0.0.1", 2528, "127.0.0.1", "open-relay", NULL},  /* the list admits everyone */
    {'b', "127.0.0.1", 2530, "10.0.0.1", "open-relay", NULL},   /* ::ffff:0:0/96: all IPv4 */
    {'b', "127.0.0.1", 2525, "127.0.0.1", "open-relay", NULL},  /* no allow list: anyone */
    {'a', "127.0.0.1", 2599, "127.0.0.1", "open-relay", NULL},  /* no door there */
    {'a', "127.0.0.1", 2526, "", "open-relay", NULL},           /* no source known */
    {'a', "127.0.0.1", 2526, "garbage", "open-relay", NULL},    /* no address */
    {'a', "192.0.2.9", 2527, "127.0.0.1", "open-relay", NULL},  /* not this machine */
    {'a', "::1", 2526, "2001:db8::5", "open-relay", NULL},      /* not in ::1 */
};

static void
test_relay_explained(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(relay_rows) / sizeof(relay_rows[0]); i++) {
        struct conf *c = load(relay_rows[i].conf);
        struct check_host h;
        struct check_port ports[2];
        const struct check_finding *f;

        memset(&h, 0, sizeof(h));
        memset(ports, 0, sizeof(ports));
        (void)str_copyz(h.addr, sizeof(h.addr), relay_rows[i].addr);
        h.ports = ports;
        h.n_ports = 2;
        ports[0].port = relay_rows[i].port;
        (void)str_copyz(ports[0].source, sizeof(ports[0].source), relay_rows[i].source);
        check_add(&ports[0].findings, "no-starttls", CHECK_WARN, "before");
        check_add(&ports[0].findings, "open-relay", CHECK_CRIT, "open relay: ...");
        /* A port with no relay is left alone. */
        ports[1].port = relay_rows[i].port;
        (void)str_copyz(ports[1].source, sizeof(ports[1].source), relay_rows[i].source);
        check_add(&ports[1].findings, "relay-refused", CHECK_OK, "relaying refused");

        assert_true(check_own_relay_found(&h, 1) == check_addr_is_own(relay_rows[i].addr));
        check_own_relay_explain(&h, 1, c);
        f = &ports[0].findings.v[1];
        assert_int_equal(ports[0].findings.n, 2);
        assert_string_equal(ports[0].findings.v[0].id, "no-starttls");
        if (strcmp(f->id, relay_rows[i].id) != 0)
            fail_msg("row %zu %s:%u from '%s': %s, want %s", i, relay_rows[i].addr,
                     relay_rows[i].port, relay_rows[i].source, f->id, relay_rows[i].id);
        if (strcmp(f->id, "open-relay") == 0) {
            assert_int_equal(f->level, CHECK_CRIT);
            assert_string_equal(f->text, "open relay: ...");
        } else {
            assert_int_equal(f->level, CHECK_INFO);
            if (strstr(f->text, relay_rows[i].text) == NULL)
                fail_msg("row %zu: '%s' lacks '%s'", i, f->text, relay_rows[i].text);
        }
        assert_int_equal(ports[1].findings.n, 1);
        assert_string_equal(ports[1].findings.v[0].id, "relay-refused");
        check_findings_free(&ports[0].findings);
        check_findings_free(&ports[1].findings);
        conf_unref(c);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_is_own),
        cmocka_unit_test(test_door_at),
        cmocka_unit_test(test_relay_explained),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
