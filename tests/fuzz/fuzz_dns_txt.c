/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the reader of TXT answers (dns/txt.c,
 * dns_txt_parse): any message a server (or an attacker racing it) sends.
 * The records found must lie in the buffer given, each NUL-terminated,
 * their texts together no longer than the message, at most CAP_DNS_TXT.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dns_txt txt[CAP_DNS_TXT];
    /* Exactly the capacity dns_txt_parse asks for: ASan sees an overrun. */
    char *buf = malloc(size + CAP_DNS_TXT);
    size_t total = 0;
    int n;

    if (buf == NULL)
        return 0;
    n = dns_txt_parse(data, size, txt, buf);
    if (n < -1 || n > CAP_DNS_TXT)
        abort();
    for (int i = 0; i < n; i++) {
        if (txt[i].text < buf || txt[i].text + txt[i].len >= buf + size + CAP_DNS_TXT ||
            txt[i].text[txt[i].len] != '\0')
            abort();
        total += txt[i].len;
    }
    if (total > size)
        abort();
    free(buf);
    return 0;
}
