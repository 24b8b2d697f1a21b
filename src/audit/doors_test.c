/* SPDX-License-Identifier: MIT */
/*
 * Tests of gate26 audit's judgement of the configuration's doors
 * (doors.c): configurations, loaded by the real parser, and the findings
 * (id and level, in order) each must get; good configurations get none.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "audit/audit_impl.h"

#define TLS  "tls {\n cert /dev/null\n key /dev/null\n}\n"
#define AUTH "auth {\n passwd /dev/null\n}\n"
#define DOM  "domain example.com {\n}\n"

static const struct {
    const char *name, *conf, *want; /* want: "id:level" joined by spaces */
} rows[] = {
    {"good",
     "listen inbound {\n address 127.0.0.1:25 10.0.0.1:25\n}\n" DOM
     "listen internal {\n address 10.0.0.1:26\n allow 10.1.2.0/24 2001:db8:1::/48\n}\n",
     ""},
    {"wildcard v4 without tls", "listen inbound {\n address 0.0.0.0:25\n}\n" DOM,
     "audit.door-public-no-tls:warn"},
    {"wildcard v6 without tls", "listen inbound {\n address [::]:25\n}\n" DOM,
     "audit.door-public-no-tls:warn"},
    {"public address without tls",
     "listen inbound {\n address 192.0.2.1:25 192.168.1.1:25 [fd00::1]:25\n}\n" DOM,
     "audit.door-public-no-tls:warn"},
    {"public with tls", TLS "listen inbound {\n address 0.0.0.0:25 [::]:25\n}\n" DOM, ""},
    {"internal open on loopback",
     "listen internal {\n address 127.0.0.1:2626\n allow 0.0.0.0/0\n}\n",
     "audit.internal-open:warn"},
    {"internal open", "listen internal {\n address 10.0.0.1:2626\n allow 10.1.2.0/24 ::/0\n}\n",
     "audit.internal-open:critical"},
    {"internal open mapped",
     "listen internal {\n address 10.0.0.1:2626\n allow ::ffff:0.0.0.0/96\n}\n",
     "audit.internal-open:critical"},
    {"internal /8", "listen internal {\n address 10.0.0.1:2626\n allow 10.0.0.0/8\n}\n",
     "audit.internal-wide:warn"},
    {"internal /16", "listen internal {\n address 10.0.0.1:2626\n allow 10.1.0.0/16\n}\n", ""},
    {"internal v6 /32 and v4 /12",
     "listen internal {\n address 10.0.0.1:2626\n allow 2001:db8::/32 172.16.0.0/12\n}\n",
     "audit.internal-wide:warn audit.internal-wide:warn"},
    {"internal v6 /48", "listen internal {\n address 10.0.0.1:2626\n allow 2001:db8::/48\n}\n", ""},
    {"port 26 internal open to all",
     "listen internal {\n address 0.0.0.0:26\n allow 0.0.0.0/0\n}\n",
     "audit.door-public-no-tls:warn audit.internal-open:critical "
     "audit.port26-no-auth:critical"},
    {"port 26 inbound", TLS "listen inbound {\n address 0.0.0.0:26\n}\n" DOM,
     "audit.port26-no-auth:warn"},
    {"port 26 inbound on a private address", TLS "listen inbound {\n address 10.0.0.1:26\n}\n" DOM,
     ""},
    {"port 26 internal restricted",
     TLS "listen internal {\n address 0.0.0.0:26\n allow 10.1.2.0/24\n}\n", ""},
    {"port 26 internal with auth",
     TLS AUTH "listen internal {\n address 0.0.0.0:26\n allow "
              "0.0.0.0/0\n auth required\n tls starttls required\n}\n",
     "audit.internal-open:critical"},
    {"auth with starttls optional",
     TLS AUTH "listen internal {\n address 10.0.0.1:2626\n allow 10.1.2.0/24\n auth required\n tls "
              "starttls\n}\n",
     "audit.auth-tls-optional:warn"},
    {"auth without tls",
     TLS AUTH "listen internal {\n address 10.0.0.1:2626\n allow 10.1.2.0/24\n auth required\n tls "
              "none\n}\n",
     "audit.auth-tls-optional:warn"},
    {"submission", TLS AUTH "listen submission {\n address 0.0.0.0:587 0.0.0.0:26\n}\n", ""},
    {"submissions", TLS AUTH "listen submissions {\n address [::]:465\n}\n", ""},
};

static void
test_doors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct check_findings f = {0};
        char err[1024], got[1024] = "";
        struct conf *c = conf_load_text("/nonexistent/gate26.conf", rows[i].conf,
                                        strlen(rows[i].conf), err, sizeof(err));
        size_t used = 0;

        if (c == NULL)
            fail_msg("row '%s': %s", rows[i].name, err);
        audit_doors(c, &f);
        for (size_t k = 0; k < f.n; k++) {
            used += (size_t)snprintf(got + used, sizeof(got) - used, "%s%s:%s", k > 0 ? " " : "",
                                     f.v[k].id, check_level_name(f.v[k].level));
            /* Every finding says what to do. */
            if (f.v[k].fix[0] == '\0')
                fail_msg("row '%s': %s has no fix", rows[i].name, f.v[k].id);
        }
        if (strcmp(got, rows[i].want) != 0)
            fail_msg("row '%s': got '%s', want '%s'", rows[i].name, got, rows[i].want);
        check_findings_free(&f);
        conf_unref(c);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
