/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the quarantine preview's decoding (console/preview.c):
 * the first octet picks the transfer encoding, the rest is the body (also
 * given to the Content-Type and Content-Transfer-Encoding checks as text).
 * Any broken invariant aborts: the output is NUL-terminated within its
 * capacity and its length is what was returned; quoted-printable never
 * grows the text; base64 gives at most 3 octets per 4 in.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "console/preview.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

#define FUZZ_MAX 8192

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char in[FUZZ_MAX + 1], out[FUZZ_MAX + 1];
    enum preview_cte cte;
    size_t len, cap;
    long n;

    if (size < 2 || size > FUZZ_MAX)
        return 0;
    cte = (enum preview_cte)(data[0] % 4);
    len = size - 1;
    memcpy(in, data + 1, len);
    in[len] = '\0';
    (void)preview_cte_of(in);
    (void)preview_is_text_plain(in);
    /* Every capacity from 1 up: a small one cuts the output. */
    cap = 1 + (size_t)data[1] % (FUZZ_MAX / 16) * 16;
    memset(out, 'X', sizeof out);
    n = preview_decode(cte, in, len, out, cap);
    if (n < 0) {
        CHECK(cte == PREVIEW_BASE64 && out[0] == '\0');
        return 0;
    }
    CHECK((size_t)n < cap && out[n] == '\0');
    if (cte == PREVIEW_QP || cte == PREVIEW_IDENTITY || cte == PREVIEW_UNKNOWN)
        CHECK((size_t)n <= len);
    if (cte == PREVIEW_BASE64)
        CHECK((size_t)n <= len / 4 * 3 + 3);
    return 0;
}
