/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for SPF macro expansion (mailauth/spf_macro.c): the
 * input is expanded as a macro-string four ways (explanation or not, a
 * domain or not) against an IPv4 and an IPv6 client. A success must give a
 * NUL-terminated string within the capacity, a domain at most 253 octets
 * without a final dot; a failure must name its error; a smaller output
 * buffer must never be overrun (ASan).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct spf_macro_env env = {
        .sender = "strong-bad@email.example.com",
        .local = "strong-bad",
        .sender_domain = "email.example.com",
        .domain = "email.example.com",
        .ptr_name = NULL,
        .helo = "mx.example.org",
        .receiver = "mx.receiver.example",
        .now = 1700000000,
    };
    struct slice in = slice_make((const char *)data, size);
    char out[SPF_MACRO_OUT_CAP], err[128];
    char *small;

    for (int v = 0; v < 2; v++) {
        if (spf_ip_parse(v == 0 ? "192.0.2.3" : "2001:db8::cb01", &env.ip) == -1)
            abort();
        for (int mode = 0; mode < 4; mode++) {
            bool in_exp = mode & 1, for_domain = mode & 2;

            err[0] = '\0';
            if (spf_macro_expand(in, &env, in_exp, for_domain, out, sizeof(out), err,
                                 sizeof(err)) == -1) {
                if (err[0] == '\0')
                    abort();
                continue;
            }
            if (strlen(out) >= sizeof(out))
                abort();
            if (for_domain) {
                size_t len = strlen(out);

                if (len > 253)
                    abort();
            }
        }
    }
    /* An exact-size heap buffer: ASan catches a write past it. */
    small = malloc(16);
    if (small != NULL) {
        (void)spf_macro_expand(in, &env, true, false, small, 16, err, sizeof(err));
        free(small);
    }
    (void)spf_macro_uses_p(in);
    return 0;
}
