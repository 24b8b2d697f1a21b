/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for DMARC's parsers (mailauth/dmarc.c, dmarc_from.c):
 * each input is read as a DMARC record and as a From field value. A record
 * said to be valid must have its fields in range; a From domain said to be
 * found must be a lower-case DNS name of LDH labels that the input holds
 * (ASCII case ignored), and anything else must leave the output empty.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mailauth/dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_domain(const char *d, const char *in, size_t size)
{
    size_t n = strlen(d), label = 0;
    bool found = false;

    if (n == 0 || n > DMARC_DOMAIN_MAX)
        abort();
    for (size_t i = 0; i <= n; i++) {
        if (i == n || d[i] == '.') {
            if (label == 0 || label > 63 || d[i - 1] == '-')
                abort();
            label = 0;
        } else if ((d[i] >= 'a' && d[i] <= 'z') || (d[i] >= '0' && d[i] <= '9') ||
                   (d[i] == '-' && label > 0)) {
            label++;
        } else {
            abort();
        }
    }
    /* Labels may be split by CFWS (obs-domain), so look for the first one only. */
    label = strcspn(d, ".");
    for (size_t i = 0; i + label <= size && !found; i++)
        found = strncasecmp(in + i, d, label) == 0;
    if (!found)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    struct dmarc_record r;
    char err[80], out[DMARC_DOMAIN_MAX + 1];
    enum dmarc_parse p;
    enum dmarc_from f;

    p = dmarc_record_parse(slice_make(in, size), &r, err, sizeof(err));
    if (p == DMARC_PARSE_OK) {
        if (r.pct > 100 || r.p > DMARC_POLICY_REJECT || r.sp > DMARC_POLICY_REJECT ||
            r.ri > 4294967295ul || size > DMARC_RECORD_MAX || size < 8 ||
            (in[0] != 'v' && in[0] != 'V'))
            abort();
        if (r.p_from_rua && (r.p != DMARC_POLICY_NONE || !r.has_rua))
            abort();
    } else if (err[0] == '\0') {
        abort();
    }

    f = dmarc_from_domain(slice_make(in, size), out, sizeof(out));
    if (f == DMARC_FROM_OK)
        check_domain(out, in, size);
    else if (out[0] != '\0')
        abort();
    /* A smaller output buffer never overflows and never gives a cut domain. */
    {
        char small[8];

        if (dmarc_from_domain(slice_make(in, size), small, sizeof(small)) == DMARC_FROM_OK &&
            (f != DMARC_FROM_OK || strcmp(small, out) != 0))
            abort();
    }
    return 0;
}
