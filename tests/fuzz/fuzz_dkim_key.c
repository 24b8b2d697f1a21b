/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for DKIM key records (src/mailauth/dkim_key.c), which
 * come from anyone's DNS: the input is a record's text. Any broken
 * invariant aborts: a key that parses has an OpenSSL key of its type, RSA
 * of at least DKIM_RSA_MIN_VERIFY bits or Ed25519; a refusal names why.
 */
#include <stdint.h>
#include <stdlib.h>

#include "mailauth/dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dkim_key k;
    const char *why = NULL;

    if (dkim_key_parse((struct slice){(const char *)data, size}, &k, &why) == -1) {
        CHECK(why != NULL && why[0] != '\0');
        return 0;
    }
    CHECK(k.pkey != NULL);
    if (k.ed25519)
        CHECK(EVP_PKEY_get_base_id(k.pkey) == EVP_PKEY_ED25519);
    else
        CHECK(EVP_PKEY_get_base_id(k.pkey) == EVP_PKEY_RSA && k.bits >= DKIM_RSA_MIN_VERIFY);
    dkim_key_clear(&k);
    return 0;
}
