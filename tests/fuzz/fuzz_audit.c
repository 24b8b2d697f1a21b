/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for gate26 audit's readers (audit/judge.h): the daemon's
 * scanners-json answer (audit_scanners_judge) and a password file's hash
 * field (audit_hash_judge), each on the same bytes. Whatever comes, no
 * crash; a document that is understood counts no more sources than it has
 * entries, the busiest source is a NUL-terminated string, and the reason
 * of a hash's verdict is short and printable when the input is.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/judge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct audit_scanners s;
    char why[256], *hash;
    enum audit_hash h;

    if (audit_scanners_judge((const char *)data, size, 1796644800, &s, why, sizeof(why)) == 0) {
        if (s.sources > size || memchr(s.busiest, '\0', sizeof(s.busiest)) == NULL)
            abort();
    } else if (memchr(why, '\0', sizeof(why)) == NULL || why[0] == '\0') {
        abort();
    }
    hash = malloc(size + 1);
    if (hash == NULL)
        return 0;
    memcpy(hash, data, size);
    hash[size] = '\0';
    h = audit_hash_judge(hash, why, 64);
    if ((h != AUDIT_HASH_STRONG && h != AUDIT_HASH_WEAK && h != AUDIT_HASH_REFUSED) ||
        strlen(why) >= 64 || why[0] == '\0')
        abort();
    free(hash);
    return 0;
}
