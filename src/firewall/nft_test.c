/* SPDX-License-Identifier: MIT */
/*
 * firewall_nft() against the kernel, in a network namespace of the test's
 * own (unshare(CLONE_NEWNET)) so that the host's rules are never touched:
 * a table and its scanners set made, an element added with a timeout and
 * listed, and the errors nft gives (no such set, bad syntax, a bad
 * address) returned in its own words. Skipped when the namespace cannot
 * be made (not root).
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "firewall/firewall.h"

static int
own_netns(void **state)
{
    (void)state;
    if (unshare(CLONE_NEWNET) == -1) {
        fprintf(stderr, "firewall_nft: no network namespace of our own (%s): skipped\n",
                strerror(errno));
        return -1;
    }
    return 0;
}

static void
test_nft_set(void **state)
{
    char out[4096], err[512];

    (void)state;
    assert_int_equal(firewall_nft("add table " FIREWALL_TABLE "\n"
                                  "add set " FIREWALL_TABLE " " FIREWALL_SET4
                                  " { type ipv4_addr; flags timeout; }\n"
                                  "add set " FIREWALL_TABLE " " FIREWALL_SET6
                                  " { type ipv6_addr; flags timeout; }\n",
                                  NULL, 0, err, sizeof err),
                     0);
    assert_int_equal(firewall_nft("add element " FIREWALL_TABLE " " FIREWALL_SET4
                                  " { 192.0.2.7 timeout 3600s }",
                                  out, sizeof out, err, sizeof err),
                     0);
    assert_int_equal(firewall_nft("add element " FIREWALL_TABLE " " FIREWALL_SET6
                                  " { 2001:db8::7 timeout 60s }",
                                  NULL, 0, err, sizeof err),
                     0);
    assert_int_equal(firewall_nft("list set " FIREWALL_TABLE " " FIREWALL_SET4, out, sizeof out,
                                  err, sizeof err),
                     0);
    assert_non_null(strstr(out, "192.0.2.7 timeout 1h expires"));
    assert_int_equal(firewall_nft("list set " FIREWALL_TABLE " " FIREWALL_SET6, out, sizeof out,
                                  err, sizeof err),
                     0);
    assert_non_null(strstr(out, "2001:db8::7 timeout 1m expires"));

    /* An output larger than the caller's buffer is an error, not a cut. */
    assert_int_equal(firewall_nft("list ruleset", out, 16, err, sizeof err), -1);
    assert_string_equal(err, "nft's output is longer than 15 octets");
}

/* nft's own words come back, without its trailing newline; nothing is half done. */
static void
test_nft_errors(void **state)
{
    static const struct {
        const char *commands;
        const char *phrase;
    } rows[] = {
        {"add element inet gate26 nosuchset { 192.0.2.7 timeout 60s }",
         "No such file or directory"},
        {"add element inet nosuchtable scanners { 192.0.2.7 }", "No such file or directory"},
        {"add element inet gate26 scanners { 192.0.2.300 timeout 60s }", "Error:"},
        {"add element inet gate26 scanners { 2001:db8::1 timeout 60s }", "Error:"},
        {"frobnicate", "Error: syntax error"},
        {"", NULL}, /* nothing to do is no error */
    };
    char out[256], err[512];

    (void)state;
    assert_int_equal(firewall_nft("add table inet gate26\nadd set inet gate26 scanners { type "
                                  "ipv4_addr; flags timeout; }",
                                  NULL, 0, err, sizeof err),
                     0);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int r = firewall_nft(rows[i].commands, out, sizeof out, err, sizeof err);

        if (rows[i].phrase == NULL) {
            assert_int_equal(r, 0);
            continue;
        }
        if (r != -1 || strstr(err, rows[i].phrase) == NULL) {
            print_error("row %zu '%s': want -1 with '%s', got %d '%s'\n", i, rows[i].commands,
                        rows[i].phrase, r, r == -1 ? err : "");
            fail();
        }
        assert_true(err[strlen(err) - 1] != '\n');
    }
    /* A transaction with an error applies none of it. */
    assert_int_equal(firewall_nft("add element inet gate26 scanners { 198.51.100.1 timeout 60s }\n"
                                  "add element inet gate26 nosuchset { 198.51.100.2 }",
                                  NULL, 0, err, sizeof err),
                     -1);
    assert_int_equal(
        firewall_nft("list set inet gate26 scanners", out, sizeof out, err, sizeof err), 0);
    assert_null(strstr(out, "198.51.100.1"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nft_set),
        cmocka_unit_test(test_nft_errors),
    };

    if (own_netns(NULL) == -1)
        return 77; /* meson's "skipped" */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
