/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for base32 decoding (account/totp.c, RFC 4648 6), the
 * parser of secrets people type. Any broken invariant aborts: what decodes
 * re-encodes (upper case, no padding) to the input's characters with the
 * spaces and padding dropped and the letters upper-cased, since the decoder
 * takes one encoding per octet string (zero unused bits); a decode never
 * writes past its capacity; a smaller capacity fails with EMSGSIZE or
 * succeeds with the same octets.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "account/account.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

#define FUZZ_MAX 4096

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char out[FUZZ_MAX], small[FUZZ_MAX];
    static char text[TOTP_B32_LEN(FUZZ_MAX) + 1], want[FUZZ_MAX + 1];
    size_t n = 0, m = 0, w = 0;

    if (size > FUZZ_MAX)
        return 0;
    if (totp_base32_decode((const char *)data, size, out, sizeof(out), &n) == -1) {
        CHECK(errno == EINVAL || errno == EMSGSIZE);
        return 0;
    }
    CHECK(n <= size * 5 / 8);
    for (size_t i = 0; i < size; i++) {
        char ch = (char)data[i];

        if (ch == ' ' || ch == '=')
            continue;
        want[w++] = ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
    }
    want[w] = '\0';
    CHECK(totp_base32_encode(out, n, false, text, sizeof(text)) == 0);
    CHECK(strcmp(text, want) == 0);
    if (n > 0) {
        int rc = totp_base32_decode((const char *)data, size, small, n - 1, &m);

        CHECK(rc == -1 && errno == EMSGSIZE);
    }
    return 0;
}
