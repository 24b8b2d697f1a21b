/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the SASL decoders (auth/sasl.c). The input is taken
 * both as a client's base64 response and as an already decoded message.
 * Any broken invariant aborts: strict base64 has one encoding per octet
 * string, so whatever decodes re-encodes to exactly the input; encoding
 * then decoding gives the octets back; a PLAIN message that parses is
 * rebuilt from its fields octet for octet, each field within its cap, UTF-8
 * without NUL, and the authzid empty or the authcid; a refused one leaves
 * the output wiped.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

/* The longest input tried; libFuzzer is run with -max_len=4096. */
#define FUZZ_MAX 8192

static void
check_plain(const unsigned char *msg, size_t len)
{
    static const struct auth_plain zero;
    struct auth_plain p;
    enum auth_sasl_rc rc = auth_plain_parse(msg, len, &p);
    unsigned char rebuilt[3 * (AUTH_SASL_FIELD_MAX + 1)];
    size_t zlen, clen, n = 0;

    CHECK(strcmp(auth_sasl_rc_name(rc), "?") != 0);
    if (rc != AUTH_SASL_OK) {
        CHECK(memcmp(&p, &zero, sizeof(p)) == 0);
        return;
    }
    zlen = strlen(p.authzid);
    clen = strlen(p.authcid);
    CHECK(zlen <= AUTH_SASL_FIELD_MAX);
    CHECK(clen >= 1 && clen <= AUTH_SASL_FIELD_MAX);
    CHECK(p.passwd_len >= 1 && p.passwd_len <= AUTH_SASL_FIELD_MAX);
    CHECK(strlen(p.passwd) == p.passwd_len);
    CHECK(zlen == 0 || strcmp(p.authzid, p.authcid) == 0);
    CHECK(auth_login_field((const unsigned char *)p.authcid, clen) == AUTH_SASL_OK);
    CHECK(auth_is_password(p.passwd, p.passwd_len));
    memcpy(rebuilt + n, p.authzid, zlen);
    n += zlen;
    rebuilt[n++] = '\0';
    memcpy(rebuilt + n, p.authcid, clen);
    n += clen;
    rebuilt[n++] = '\0';
    memcpy(rebuilt + n, p.passwd, p.passwd_len);
    n += p.passwd_len;
    CHECK(n == len && memcmp(rebuilt, msg, len) == 0);
    auth_plain_clear(&p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char out[FUZZ_MAX], back[FUZZ_MAX];
    static char text[AUTH_B64_LEN(FUZZ_MAX) + 1];
    size_t out_len = 0, back_len = 0;
    enum auth_sasl_rc rc;

    if (size > FUZZ_MAX)
        return 0;
    /* As a response line. */
    (void)auth_is_cancel((const char *)data, size);
    if (auth_b64_decode((const char *)data, size, out, sizeof(out), &out_len) == 0) {
        CHECK(size % 4 == 0 && out_len <= size / 4 * 3 && out_len + 2 >= size / 4 * 3);
        CHECK(auth_b64_encode(out, out_len, text, sizeof(text)) == 0);
        CHECK(strlen(text) == size && memcmp(text, data, size) == 0);
        check_plain(out, out_len);
        (void)auth_login_field(out, out_len);
    }
    /* A cap one short of the decoded length fails. */
    if (out_len > 0)
        CHECK(auth_b64_decode((const char *)data, size, back, out_len - 1, &back_len) == -1);

    /* As a decoded message. */
    check_plain(data, size);
    rc = auth_login_field(data, size);
    CHECK(rc != AUTH_SASL_AUTHZID);
    CHECK((rc == AUTH_SASL_OK) == auth_is_password((const char *)data, size));
    (void)auth_is_user_name((const char *)data, size);

    /* Encoding round-trips. */
    CHECK(auth_b64_encode(data, size, text, sizeof(text)) == 0);
    CHECK(strlen(text) == AUTH_B64_LEN(size));
    CHECK(auth_b64_decode(text, strlen(text), back, sizeof(back), &back_len) == 0);
    CHECK(back_len == size && memcmp(back, data, size) == 0);
    return 0;
}
