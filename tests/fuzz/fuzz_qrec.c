/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the quarantine record at the end of a quarantine
 * file (spool/quarantine.c, docs/spool.md "The quarantine"), which `gate26
 * quarantine`, the expiry and a release read from disk, and whose reason a
 * peer may have influenced. Any broken invariant aborts: a refusal gives a
 * reason; an accepted record lies within the input, its check and reason
 * are printable, and written again it is exactly the octets it was read
 * from (one spelling per record).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spool/spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct spool_qrec r, again;
    char why[256], out[SPOOL_QREC_MAX];
    size_t rec_len = 0, len;

    why[0] = '\0';
    if (spool_qrec_parse((const char *)data, size, &r, &rec_len, why, sizeof(why)) == -1) {
        CHECK(why[0] != '\0');
        return 0;
    }
    CHECK(rec_len > 0 && rec_len <= size && rec_len <= SPOOL_QREC_MAX);
    CHECK(strlen(r.check) > 0 && strlen(r.check) <= SPOOL_QREC_CHECK_MAX);
    CHECK(strlen(r.reason) <= SPOOL_QREC_REASON_MAX);
    for (const char *p = r.reason; *p != '\0'; p++)
        CHECK(*p >= 0x20 && *p < 0x7f);
    /* set() keeps what parse() gives: the record round-trips octet for octet. */
    CHECK(spool_qrec_set(&again, r.at, r.check, r.reason) == 0);
    CHECK(strcmp(again.reason, r.reason) == 0 && again.at == r.at);
    len = spool_qrec_format(out, &again);
    CHECK(len == rec_len);
    CHECK(memcmp(out, data + size - rec_len, len) == 0);
    return 0;
}
