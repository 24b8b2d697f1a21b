/* SPDX-License-Identifier: MIT */
/*
 * Tests of what the metrics endpoint reads from a request's fields
 * (http_head.h): the format an Accept value asks for, and the credentials
 * of an Authorization value, in tables with hostile rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "watch/http_head.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void
test_accept(void **state)
{
    static const struct {
        const char *accept;
        bool om;
    } rows[] = {
        {NULL, false},
        {"", false},
        {"*/*", false},
        {"text/plain", false},
        {"text/plain; version=0.0.4", false},
        {"application/openmetrics-text", true},
        {"application/openmetrics-text; version=1.0.0", true},
        {"application/openmetrics-text;version=1.0.0;charset=utf-8", true},
        {"APPLICATION/OpenMetrics-Text; Version=1.0.0", true},
        {"application/openmetrics-text; version=\"1.0.0\"", true},
        /* What Prometheus 2.x sends. */
        {"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
         "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
         true},
        /* What prometheus_client and older scrapers send. */
        {"text/plain;version=0.0.4;q=1,*/*;q=0.1", false},
        {"application/openmetrics-text; version=0.0.1", false},
        {"application/openmetrics-text; version=2.0.0", false},
        {"application/openmetrics-text;q=0.5, text/plain;q=0.9", false},
        {"application/openmetrics-text;q=0.9, text/plain;q=0.5", true},
        {"text/plain;q=0.5, application/openmetrics-text;q=0.5", true},
        {"application/openmetrics-text;q=0", false},
        {"application/openmetrics-text;q=0.000", false},
        {"application/openmetrics-text;q=0.001", true},
        {"application/openmetrics-text;q=1.000", true},
        /* Malformed weights count for nothing. */
        {"application/openmetrics-text;q=1.5", false},
        {"application/openmetrics-text;q=2", false},
        {"application/openmetrics-text;q=-1", false},
        {"application/openmetrics-text;q=0.0001", false},
        {"application/openmetrics-text;q=", false},
        {"application/openmetrics-text;q=abc", false},
        {"application/openmetrics-text;q=1.0001", false},
        /* Hostile: quotes and commas inside parameters, junk, repetition. */
        {"application/openmetrics-text; x=\"a,b\"; version=1.0.0", true},
        {"text/plain; x=\"a,application/openmetrics-text\"", false},
        {"application/openmetrics-text; x=\"unterminated, text/plain", true},
        {"application/openmetrics-text; x=\"\\\"\"", true},
        {",,,,;;;;====", false},
        {";q=1", false},
        {"application/openmetrics-text-evil", false},
        {"xapplication/openmetrics-text", false},
        {"application/openmetrics-text\r\nX-Evil: 1", false},
        {"application/openmetrics-text\0hidden", true},
        {"   application/openmetrics-text   ", true},
        {"\tapplication/openmetrics-text\t;\tq=0.8\t,\ttext/plain\t;\tq=0.7", true},
    };

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        enum metrics_format got = http_head_format(rows[i].accept);

        if ((got == METRICS_FORMAT_OPENMETRICS) != rows[i].om) {
            print_error("row %zu '%s': want %s\n", i, rows[i].accept ? rows[i].accept : "(none)",
                        rows[i].om ? "openmetrics" : "text");
            fail();
        }
    }
    /* A long value (as long as evhttp lets through): one pass, no crash. */
    {
        size_t n = 8000;
        char *big = malloc(n + 1);

        assert_non_null(big);
        for (size_t i = 0; i < n; i++)
            big[i] = ",;=\"\\ q"[i % 7];
        big[n] = '\0';
        (void)http_head_format(big);
        free(big);
    }
}

static void
sha(const char *text, unsigned char out[CONF_METRICS_DIGEST_LEN])
{
    unsigned n;

    assert_int_equal(EVP_Digest(text, strlen(text), out, &n, EVP_sha256(), NULL), 1);
}

static void
test_credentials(void **state)
{
    /* "prometheus:s3cret" and "u:p:q" in base64. */
    static const struct {
        enum conf_metrics_auth kind;
        const char *value;
        const char *secret; /* whose digest comes out; NULL: refused */
    } rows[] = {
        {CONF_METRICS_AUTH_BEARER, "Bearer 0123456789abcdef", "0123456789abcdef"},
        {CONF_METRICS_AUTH_BEARER, "bearer 0123456789abcdef", "0123456789abcdef"},
        {CONF_METRICS_AUTH_BEARER, "BEARER   0123456789abcdef  ", "0123456789abcdef"},
        {CONF_METRICS_AUTH_BEARER, "Bearer abc-._~+/==", "abc-._~+/=="},
        {CONF_METRICS_AUTH_BEARER, NULL, NULL},
        {CONF_METRICS_AUTH_BEARER, "", NULL},
        {CONF_METRICS_AUTH_BEARER, "Bearer", NULL},
        {CONF_METRICS_AUTH_BEARER, "Bearer ", NULL},
        {CONF_METRICS_AUTH_BEARER, "Bearer0123456789abcdef", NULL},
        {CONF_METRICS_AUTH_BEARER, "Basic 0123456789abcdef", NULL},
        {CONF_METRICS_AUTH_BEARER, "Bearer 0123 456789abcdef", NULL},
        {CONF_METRICS_AUTH_BEARER, "Bearer 0123456789abcdef=x", NULL},
        {CONF_METRICS_AUTH_BEARER, "Bearer =abc", NULL},
        {CONF_METRICS_AUTH_BEARER, "Bearer \"0123456789abcdef\"", NULL},
        {CONF_METRICS_AUTH_BEARER, "Bearer 0123456789abcdef\r\nX: y", NULL},
        {CONF_METRICS_AUTH_BEARER, "Bearer\t0123456789abcdef", NULL},
        {CONF_METRICS_AUTH_BEARER, "Bearer 0123456789abcd\xc3\xa9", NULL},
        {CONF_METRICS_AUTH_BASIC, "Basic cHJvbWV0aGV1czpzM2NyZXQ=", "prometheus:s3cret"},
        {CONF_METRICS_AUTH_BASIC, "basic cHJvbWV0aGV1czpzM2NyZXQ=", "prometheus:s3cret"},
        {CONF_METRICS_AUTH_BASIC, "Basic dTpwOnE=", "u:p:q"},
        {CONF_METRICS_AUTH_BASIC, "Basic cHJvbWV0aGV1czpzM2NyZXQ", NULL}, /* no padding */
        {CONF_METRICS_AUTH_BASIC, "Basic cHJvbWV0aGV1czpzM2NyZXQ==", NULL},
        {CONF_METRICS_AUTH_BASIC, "Basic !!!!", NULL},
        {CONF_METRICS_AUTH_BASIC, "Basic", NULL},
        {CONF_METRICS_AUTH_BASIC, "Bearer cHJvbWV0aGV1czpzM2NyZXQ=", NULL},
        {CONF_METRICS_AUTH_BASIC, "Digest username=\"x\"", NULL},
        {CONF_METRICS_AUTH_NONE, "Bearer 0123456789abcdef", NULL},
    };
    unsigned char got[CONF_METRICS_DIGEST_LEN], want[CONF_METRICS_DIGEST_LEN];

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        int rc = http_head_credentials(rows[i].value, rows[i].kind, got);

        if (rows[i].secret == NULL) {
            if (rc != -1) {
                print_error("row %zu '%s': want refused\n", i, rows[i].value);
                fail();
            }
            continue;
        }
        if (rc != 0) {
            print_error("row %zu '%s': refused\n", i, rows[i].value);
            fail();
        }
        sha(rows[i].secret, want);
        assert_memory_equal(got, want, sizeof want);
    }
    /* Basic credentials longer than any file allows: refused, not cut. */
    {
        char value[2048] = "Basic ";

        memset(value + 6, 'Q', 1200);
        value[6 + 1200] = '\0';
        assert_int_equal(http_head_credentials(value, CONF_METRICS_AUTH_BASIC, got), -1);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept),
        cmocka_unit_test(test_credentials),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
