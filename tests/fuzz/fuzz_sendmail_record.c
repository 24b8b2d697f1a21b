/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the submission record (sendmail/record.c), which
 * the daemon reads from any local user's socket and maildrop file. Each
 * input is parsed whole and at a cut the input chooses: a cut that is
 * RECORD_OK must give the same head as the whole, and a head found is
 * formatted again and parsed back to the same fields. The content after a
 * head goes through record_check_content, whose verdict is checked against
 * a slow model of its rule.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sendmail/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
model_content(const char *p, size_t len)
{
    size_t col = 0;

    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n') {
            i++;
            col = 0;
        } else if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0' || ++col > 998) {
            return false;
        }
    }
    return col == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    struct record_head h, h2;
    char why[256];
    enum record_result r = record_parse_head(p, size, &h, why, sizeof(why));

    if (size > 0) {
        size_t cut = data[0] % (size + 1);
        enum record_result rc = record_parse_head(p, cut, &h2, why, sizeof(why));

        if (rc == RECORD_OK && (r != RECORD_OK || h2.head_len != h.head_len))
            abort();
        record_head_clear(&h2);
    }
    if (r == RECORD_OK) {
        size_t len, rest = size - h.head_len;
        char *s = record_format_head(h.from, (const char *const *)h.rcpts, h.n_rcpts, h.size, &len);
        bool eight, ok;

        if (record_parse_head(s, len, &h2, why, sizeof(why)) != RECORD_OK || h2.head_len != len ||
            strcmp(h2.from, h.from) != 0 || h2.n_rcpts != h.n_rcpts || h2.size != h.size)
            abort();
        for (size_t i = 0; i < h.n_rcpts; i++) {
            if (strcmp(h.rcpts[i], h2.rcpts[i]) != 0)
                abort();
        }
        record_head_clear(&h2);
        free(s);
        ok = record_check_content(p + h.head_len, rest, &eight, why, sizeof(why)) == 0;
        if (ok != model_content(p + h.head_len, rest))
            abort();
    }
    record_head_clear(&h);
    return 0;
}
