/* SPDX-License-Identifier: MIT */
/*
 * One UTF-8 character beyond ASCII, for the grammars that RFC 6531 3.3 and
 * RFC 6533 3 extend with UTF8-non-ascii (RFC 6532 3.1). The check follows the
 * UTF8-2 / UTF8-3 / UTF8-4 rules of RFC 3629 4 octet by octet, so overlong
 * forms, surrogates (U+D800..U+DFFF) and values over U+10FFFF never match.
 * Private to src/smtp/.
 */
#ifndef GATE26_SMTP_UTF8_H
#define GATE26_SMTP_UTF8_H

#include <stdbool.h>

#include "lib/cursor.h"

/*
 * UTF8-non-ascii = UTF8-2 / UTF8-3 / UTF8-4   RFC 6532 3.1, RFC 3629 4
 * Takes one such character at c and returns true, or returns false and
 * leaves c where it was (an ASCII octet, a stray continuation octet, a
 * truncated sequence, an overlong form, a surrogate, or over U+10FFFF).
 */
bool smtp_utf8_take_non_ascii(struct cursor *c);

#endif
