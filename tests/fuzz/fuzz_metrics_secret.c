/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the parser of the metrics block's credential files
 * (conf/metrics_auth.c: bearer-token-file and basic-auth-file). The first
 * octet picks the kind, the rest is the file. Any broken invariant aborts:
 * an accepted file is one line (an LF may end it) of 16 to 1024 token68
 * characters, or of USER:PASSWORD with a user of 1 to 255 octets without
 * blanks; a refused one has a message that never quotes the file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/metrics_auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char digest[CONF_METRICS_DIGEST_LEN];
    const char *text = (const char *)data + 1;
    enum conf_metrics_auth kind;
    char err[512];
    size_t len, line;

    if (size == 0 || size > CONF_METRICS_SECRET_FILE_MAX + 1)
        return 0;
    kind = (data[0] & 1) ? CONF_METRICS_AUTH_BASIC : CONF_METRICS_AUTH_BEARER;
    len = size - 1;
    err[0] = '\0';
    if (conf_metrics_secret_parse(kind, text, len, digest, err, sizeof err) == -1) {
        CHECK(err[0] != '\0' && memchr(err, '\0', sizeof err) != NULL);
        /* The secret is never quoted: no message holds 24 octets of the input in a row (the
         * messages' own words are shorter than that between spaces). */
        for (size_t i = 0; i + 24 <= len; i++)
            CHECK(memmem(err, strlen(err), text + i, 24) == NULL ||
                  memchr(text + i, ' ', 24) != NULL);
        return 0;
    }
    line = len > 0 && text[len - 1] == '\n' ? len - 1 : len;
    CHECK(line > 0 && memchr(text, '\n', line) == NULL && memchr(text, '\r', line) == NULL);
    if (kind == CONF_METRICS_AUTH_BEARER) {
        CHECK(line >= CONF_METRICS_TOKEN_MIN && line <= CONF_METRICS_TOKEN_MAX);
        CHECK(memchr(text, ' ', line) == NULL && memchr(text, '\0', line) == NULL);
    } else {
        const char *colon = memchr(text, ':', line);

        CHECK(colon != NULL && colon > text && (size_t)(colon - text) <= CONF_METRICS_BASIC_MAX);
        CHECK(memchr(text, ' ', (size_t)(colon - text)) == NULL);
        CHECK(memchr(text, '\0', line) == NULL);
    }
    return 0;
}
