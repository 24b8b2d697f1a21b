/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for milter_reply_line (checks/milter_reply.c): a
 * milter's REPLYCODE text, untrusted, made into the line sent to a client.
 * The first two octets are the code (big-endian), the rest the text. Any
 * broken invariant aborts: a line taken is "CODE X.Y.Z TEXT" with CODE the
 * milter's, X its class, nothing outside printable ASCII, and within the
 * capacity.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks/milter_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[4096], out[512];
    char head[8];
    unsigned code;
    size_t n;

    if (size < 2 || size - 2 >= sizeof(text))
        return 0;
    code = ((unsigned)data[0] << 8 | data[1]) % 1000;
    n = size - 2;
    memcpy(text, data + 2, n);
    text[n] = '\0'; /* the milter's text is a C string: a NUL ends it */
    if (!milter_reply_line(code, text, out, sizeof(out)))
        return 0;
    CHECK(code >= 400 && code <= 599 && code != 421);
    CHECK(strlen(out) < sizeof(out) && strlen(out) > 10);
    (void)snprintf(head, sizeof(head), "%u %u.", code, code / 100);
    CHECK(strncmp(out, head, strlen(head)) == 0);
    for (const char *p = out; *p != '\0'; p++)
        CHECK(*p >= ' ' && *p <= '~');
    return 0;
}
