/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for rspamd's answer parser (scan/rspamd.c,
 * rspamd_answer_parse, over jansson): it returns 0 with RSPAMD_OK and
 * finite scores, or -1 with RSPAMD_ERROR and a reason; symbols stay within
 * their cap, highest score first, their names and the action printable.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scan/rspamd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_printable(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);

    if (n == cap)
        abort();
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct rspamd_result r;
    int rc = rspamd_answer_parse(slice_make((const char *)data, size), &r);

    if (rc == -1) {
        if (r.status != RSPAMD_ERROR || r.error[0] == '\0' || r.n_symbols != 0)
            abort();
        check_printable(r.error, sizeof(r.error));
        return 0;
    }
    if (rc != 0 || r.status != RSPAMD_OK || !isfinite(r.score) || !isfinite(r.required_score))
        abort();
    if (r.n_symbols > RSPAMD_SYMBOLS_MAX || r.n_symbols > r.n_symbols_all)
        abort();
    check_printable(r.action_text, sizeof(r.action_text));
    for (size_t i = 0; i < r.n_symbols; i++) {
        check_printable(r.symbols[i].name, sizeof(r.symbols[i].name));
        if (i > 0 && r.symbols[i].score > r.symbols[i - 1].score)
            abort();
    }
    return 0;
}
