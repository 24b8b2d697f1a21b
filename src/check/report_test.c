/* SPDX-License-Identifier: MIT */
/*
 * Tests for the JSON string writer (RFC 8259 section 7) and for the exit
 * status that findings make: tables of inputs and the exact output, with
 * hostile rows (quotes, backslashes, control octets, DEL, octets >= 0x80,
 * a level that is none of the enum's).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "check/check.h"
#include "check/json.h"

static const struct {
    const char *in;
    const char *out;
} strings[] = {
    {"", "\"\""},
    {"plain text", "\"plain text\""},
    {"220 mx.example.com ESMTP", "\"220 mx.example.com ESMTP\""},
    {"a\"b", "\"a\\\"b\""},
    {"back\\slash", "\"back\\\\slash\""},
    {"\\\"", "\"\\\\\\\"\""},
    {"line\r\nnext", "\"line\\r\\nnext\""},
    {"tab\there", "\"tab\\there\""},
    {"\x01\x1f", "\"\\u0001\\u001f\""},
    {"\x1b[31mred", "\"\\u001b[31mred\""},
    {"del\x7f", "\"del\\u007f\""},
    {"\xc3\xa9", "\"\\u00c3\\u00a9\""}, /* octets, not characters: always ASCII out */
    {"\xff\xfe", "\"\\u00ff\\u00fe\""},
    {"</script>", "\"</script>\""},
    {NULL, "null"},
};

static void
test_json_str(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        assert_non_null(f);
        check_json_str(f, strings[i].in);
        assert_int_equal(fclose(f), 0);
        if (strcmp(buf, strings[i].out) != 0)
            fail_msg("row %zu: got %s, want %s", i, buf, strings[i].out);
        free(buf);
    }
}

static void
test_exit_status(void **state)
{
    static const struct {
        enum check_level level;
        int status;
    } levels[] = {
        {CHECK_OK, 0},   {CHECK_INFO, 0},           {CHECK_WARN, 1},
        {CHECK_CRIT, 2}, {(enum check_level)42, 2}, /* not a level: never "all ok" */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
        assert_int_equal(check_exit_status(levels[i].level), levels[i].status);
}

/* The worst of a report: findings of the whole, of listeners, of hosts and of ports. */
static void
test_worst(void **state)
{
    struct check_listener ls[2];
    struct check_local l;
    struct check_port ports[2];
    struct check_host h;
    struct check_findings df = {0};

    (void)state;
    memset(&l, 0, sizeof(l));
    memset(ls, 0, sizeof(ls));
    l.v = ls;
    l.n = 2;
    assert_int_equal(check_local_worst(&l), CHECK_OK);
    check_add(&l.findings, "not-listening", CHECK_INFO, "port %u: nobody listens", 26u);
    assert_int_equal(check_exit_status(check_local_worst(&l)), 0);
    check_add(&ls[1].findings, "foreign-on-all-interfaces", CHECK_WARN, "x");
    assert_int_equal(check_local_worst(&l), CHECK_WARN);
    assert_int_equal(check_exit_status(check_local_worst(&l)), 1);
    check_add(&ls[0].findings, "gate26", CHECK_OK, "y");
    assert_int_equal(check_local_worst(&l), CHECK_WARN);
    check_findings_free(&l.findings);
    check_findings_free(&ls[0].findings);
    check_findings_free(&ls[1].findings);

    memset(&h, 0, sizeof(h));
    memset(ports, 0, sizeof(ports));
    h.ports = ports;
    h.n_ports = 2;
    assert_int_equal(check_hosts_worst(&h, 1, NULL), CHECK_OK);
    assert_int_equal(check_hosts_worst(&h, 1, &df), CHECK_OK);
    check_add(&h.findings, "no-ptr", CHECK_WARN, "z");
    assert_int_equal(check_hosts_worst(&h, 1, &df), CHECK_WARN);
    check_add(&ports[1].findings, "open-relay", CHECK_CRIT, "relays \x01 mail");
    assert_int_equal(check_hosts_worst(&h, 1, &df), CHECK_CRIT);
    assert_string_equal(ports[1].findings.v[0].text, "relays ? mail"); /* printable only */
    assert_int_equal(check_hosts_worst(&h, 0, &df), CHECK_OK);
    check_add(&df, "null-mx", CHECK_INFO, "w");
    assert_int_equal(check_hosts_worst(&h, 0, &df), CHECK_INFO);
    check_findings_free(&h.findings);
    check_findings_free(&ports[1].findings);
    check_findings_free(&df);
}

/* The shared pieces: a finding with a fix prints it under itself (table) and as "fix" (JSON);
 * one without prints neither, so gate26 check's output is as it was. */
static void
test_findings_fix(void **state)
{
    struct check_findings f = {0};
    char *buf = NULL;
    size_t len = 0;
    FILE *out;

    (void)state;
    check_fix(&f, "nothing to fix"); /* an empty list: nothing happens */
    assert_int_equal(f.n, 0);
    check_add(&f, "not-listening", CHECK_INFO, "port %u: nobody listens", 26u);
    check_add(&f, "audit.x", CHECK_WARN, "bad \"thing\"");
    check_fix(&f, "run %s\x1b[0m", "gate26 firewall --apply");
    assert_string_equal(f.v[1].fix, "run gate26 firewall --apply?[0m"); /* printable only */
    assert_string_equal(f.v[0].fix, "");

    out = open_memstream(&buf, &len);
    assert_non_null(out);
    check_json_findings(out, &f);
    check_json_verdict(out, check_worst(&f));
    assert_int_equal(fclose(out), 0);
    assert_string_equal(buf, "[{\"id\": \"not-listening\", \"level\": \"info\", \"text\": "
                             "\"port 26: nobody listens\"}, {\"id\": \"audit.x\", \"level\": "
                             "\"warn\", \"text\": \"bad \\\"thing\\\"\", \"fix\": \"run gate26 "
                             "firewall --apply?[0m\"}], \"level\": \"warn\", \"exit\": 1}\n");
    free(buf);

    buf = NULL;
    out = open_memstream(&buf, &len);
    assert_non_null(out);
    check_print_findings(out, &f, "", false);
    check_print_verdict(out, check_worst(&f), false);
    assert_int_equal(fclose(out), 0);
    assert_string_equal(buf, "info     not-listening              port 26: nobody listens\n"
                             "warn     audit.x                    bad \"thing\"\n"
                             "                                    fix: run gate26 firewall "
                             "--apply?[0m\n"
                             "\nresult: warn (exit 1)\n");
    free(buf);
    check_findings_free(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_str),
        cmocka_unit_test(test_exit_status),
        cmocka_unit_test(test_worst),
        cmocka_unit_test(test_findings_fix),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
