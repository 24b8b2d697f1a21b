/* SPDX-License-Identifier: MIT */
/*
 * Strict UTF-8 (RFC 3629 4) for the address and parameter grammars; see
 * utf8.h. Nothing here decodes: the parsers keep the octets as sent.
 */
#include "smtp/utf8.h"

/*
 * UTF8-2 = %xC2-DF UTF8-tail
 * UTF8-3 = %xE0 %xA0-BF UTF8-tail / %xE1-EC 2( UTF8-tail ) /
 *          %xED %x80-9F UTF8-tail / %xEE-EF 2( UTF8-tail )
 * UTF8-4 = %xF0 %x90-BF 2( UTF8-tail ) / %xF1-F3 3( UTF8-tail ) /
 *          %xF4 %x80-8F 2( UTF8-tail )
 * UTF8-tail = %x80-BF                                   RFC 3629 4
 * The narrowed second octet after E0, ED, F0 and F4 is what keeps out
 * overlong forms, surrogates and values over U+10FFFF.
 */
bool
smtp_utf8_take_non_ascii(struct cursor *c)
{
    const unsigned char *p = (const unsigned char *)c->p;
    size_t left = cursor_left(c);
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n;

    if (left == 0)
        return false;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        if (p[0] == 0xe0)
            lo = 0xa0;
        else if (p[0] == 0xed)
            hi = 0x9f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        if (p[0] == 0xf0)
            lo = 0x90;
        else if (p[0] == 0xf4)
            hi = 0x8f;
    } else {
        return false;
    }
    if (left < n || p[1] < lo || p[1] > hi)
        return false;
    for (size_t i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf)
            return false;
    }
    c->p += n;
    return true;
}
