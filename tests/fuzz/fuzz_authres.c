/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for Authentication-Results (mailauth/authres.c): the
 * input is read as a field body by authres_is_ours(), and, split at NULs,
 * is written as the values of a field of ours. The written field must be
 * printable ASCII with CRLF only before a tab, recognized as ours, and not
 * as another's.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/authres.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    char vals[4][256];
    char buf[4096];
    struct authres a;
    size_t at = 0, len;

    (void)authres_is_ours(slice_make(in, size), "mx.example.com");
    (void)authres_is_ours(slice_make(in, size), "");

    for (int k = 0; k < 4; k++) {
        size_t n = 0;

        while (at < size && data[at] != 0 && n + 1 < sizeof(vals[k]))
            vals[k][n++] = in[at++];
        vals[k][n] = '\0';
        if (at < size)
            at++;
    }
    authres_init(&a, buf, sizeof(buf), "mx.example.com");
    authres_spf(&a, "pass", vals[0], vals[1], vals[2]);
    authres_dkim(&a, "fail", NULL, vals[3], vals[0], vals[1], vals[2]);
    authres_dmarc(&a, "none", vals[3], vals[0]);
    if (authres_finish(&a, &len) == -1)
        abort(); /* 4 values of 255 and a comment fit in 4096 */
    if (len != strlen(buf) || len < 25 || buf[len - 2] != '\r' || buf[len - 1] != '\n')
        abort();
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)buf[i];

        if (ch == '\r') {
            if (i + 1 >= len || buf[i + 1] != '\n' || (i + 2 < len && buf[i + 2] != '\t'))
                abort();
        } else if (ch == '\n') {
            if (i == 0 || buf[i - 1] != '\r')
                abort();
        } else if (ch != '\t' && (ch < 0x20 || ch >= 0x7f)) {
            abort();
        }
    }
    if (!authres_is_ours(slice_make(buf + 23, len - 23), "mx.example.com") ||
        authres_is_ours(slice_make(buf + 23, len - 23), "mx.example.net"))
        abort();
    return 0;
}
