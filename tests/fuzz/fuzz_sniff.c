/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the sniffer of a client's first bytes (smtp/sniff.c).
 * Each input is sniffed whole, and as each of its prefixes (as the session
 * sees input arrive): a prefix that was decided (not SNIFF_MORE) must stay
 * decided the same way for every longer input, since the session acts on
 * the first answer; with final, SNIFF_MORE never comes back; nothing past
 * SNIFF_WINDOW changes the answer.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "smtp/sniff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum sniff_kind whole = sniff_input(data, size, false);
    enum sniff_kind first = SNIFF_MORE;
    size_t limit = size < SNIFF_WINDOW + 8 ? size : SNIFF_WINDOW + 8;

    if (sniff_input(data, size, true) == SNIFF_MORE)
        abort();
    if (size > SNIFF_WINDOW && sniff_input(data, SNIFF_WINDOW, false) != whole)
        abort();
    for (size_t n = 0; n <= limit; n++) {
        enum sniff_kind k = sniff_input(data, n, false);

        if (sniff_input(data, n, true) == SNIFF_MORE)
            abort();
        if (first == SNIFF_MORE)
            first = k;
        else if (k != first)
            abort(); /* decided once, then changed its mind */
    }
    if (first != SNIFF_MORE && whole != first)
        abort();
    return 0;
}
