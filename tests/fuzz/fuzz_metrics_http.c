/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for what the metrics endpoint reads of a scrape's header
 * fields (watch/http_head.c): the Accept value and the Authorization value,
 * which any client that reaches the port sends. The first octet picks the
 * field (even: Accept; odd: Authorization, Bearer or Basic by the next
 * bit), the rest is the value as evhttp hands it over (up to a NUL). Any
 * broken invariant aborts: a format is one of the two; credentials are
 * accepted only for a value that starts with the scheme's name and a space,
 * and then always give the same digest for the same value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "watch/http_head.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char a[CONF_METRICS_DIGEST_LEN], b[CONF_METRICS_DIGEST_LEN];
    enum conf_metrics_auth kind;
    const char *scheme, *p;
    char *value;

    if (size == 0)
        return 0;
    value = malloc(size);
    if (value == NULL)
        return 0;
    memcpy(value, data + 1, size - 1);
    value[size - 1] = '\0';
    if ((data[0] & 1) == 0) {
        enum metrics_format f = http_head_format(value);

        CHECK(f == METRICS_FORMAT_TEXT || f == METRICS_FORMAT_OPENMETRICS);
        free(value);
        return 0;
    }
    kind = (data[0] & 2) ? CONF_METRICS_AUTH_BASIC : CONF_METRICS_AUTH_BEARER;
    scheme = kind == CONF_METRICS_AUTH_BASIC ? "Basic" : "Bearer";
    if (http_head_credentials(value, kind, a) == 0) {
        p = value;
        while (*p == ' ' || *p == '\t')
            p++;
        CHECK(strncasecmp(p, scheme, strlen(scheme)) == 0 && p[strlen(scheme)] == ' ');
        CHECK(http_head_credentials(value, kind, b) == 0);
        CHECK(memcmp(a, b, sizeof a) == 0);
    }
    free(value);
    return 0;
}
