/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for clamd's answer parser (scan/clamd.c,
 * clamd_answer_parse) and its target parser (clamd_target_parse). An
 * answer is clean only when it is exactly "stream: OK"; a name and an
 * error are NUL-terminated printable ASCII within their caps; a target
 * either parses to a known family or says why not.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scan/clamd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_printable(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);

    if (n == cap)
        abort();
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct clamd_result r;
    struct clamd_target t;
    char text[512], err[200];

    clamd_answer_parse(slice_make((const char *)data, size), &r);
    if ((r.status == CLAMD_CLEAN) != (size == 10 && memcmp(data, "stream: OK", 10) == 0))
        abort();
    if (r.status != CLAMD_CLEAN && r.status != CLAMD_INFECTED && r.status != CLAMD_ERROR)
        abort();
    check_printable(r.name, sizeof(r.name));
    check_printable(r.error, sizeof(r.error));
    if (r.status == CLAMD_INFECTED && r.name[0] == '\0')
        abort();
    if (r.status == CLAMD_ERROR && r.error[0] == '\0')
        abort();

    if (size < sizeof(text)) {
        memcpy(text, data, size);
        text[size] = '\0';
        err[0] = '\0';
        if (clamd_target_parse(text, &t, err, sizeof(err)) == 0) {
            if (t.sa.ss_family != AF_UNIX && t.sa.ss_family != AF_INET &&
                t.sa.ss_family != AF_INET6)
                abort();
        } else if (err[0] == '\0') {
            abort();
        }
    }
    return 0;
}
