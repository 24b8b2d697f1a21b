/* SPDX-License-Identifier: MIT */
/*
 * A milter's REPLYCODE as our reply line (milter_reply.h).
 */
#include <string.h>

#include "checks/milter_reply.h"
#include "lib/str.h"

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/*
 * Reads 1 to 3 digits at *t (no sign, no blank: sscanf's %u took both) into
 * *v. Returns false when there is no digit or a fourth follows.
 */
static bool
number(const char **t, unsigned *v, unsigned max_digits)
{
    unsigned n = 0;

    *v = 0;
    while (n < max_digits && is_digit((*t)[n])) {
        *v = *v * 10 + (unsigned)((*t)[n] - '0');
        n++;
    }
    if (n == 0 || is_digit((*t)[n]))
        return false;
    *t += n;
    return true;
}

/* "class.subject.detail" followed by a space or the end; class is code's. */
static bool
enhanced(const char *t, unsigned code, unsigned *a, unsigned *b, unsigned *c, const char **end)
{
    if (!number(&t, a, 1) || *a != code / 100 || *t++ != '.' || !number(&t, b, 3) || *t++ != '.' ||
        !number(&t, c, 3) || (*t != ' ' && *t != '\0'))
        return false;
    *end = t;
    return true;
}

bool
milter_reply_line(unsigned code, const char *t, char *out, size_t cap)
{
    unsigned a = 0, b = 0, c = 0;
    const char *text, *end;
    size_t o;

    if (t == NULL || code < 400 || code > 599 || code == 421 || cap < 64)
        return false;
    if (is_digit(t[0]) && is_digit(t[1]) && is_digit(t[2]) &&
        (unsigned)((t[0] - '0') * 100 + (t[1] - '0') * 10 + (t[2] - '0')) == code)
        t += 3;
    while (*t == ' ' || *t == '-')
        t++;
    text = t;
    if (enhanced(t, code, &a, &b, &c, &end))
        text = end;
    else
        a = 0;
    while (*text == ' ')
        text++;
    if (a == 0)
        (void)str_fmt(out, cap, "%u %u.7.1 ", code, code / 100);
    else
        (void)str_fmt(out, cap, "%u %u.%u.%u ", code, a, b, c);
    o = strlen(out);
    for (size_t n = 0; text[n] != '\0' && o + 1 < cap && n < MILTER_REPLY_TEXT_MAX; n++)
        out[o++] = (text[n] >= ' ' && text[n] <= '~') ? text[n] : '?';
    out[o] = '\0';
    if (out[o - 1] == ' ')
        (void)str_fmt(out + o, cap - o, "%s",
                      code >= 500 ? "Message rejected by content filter"
                                  : "Message deferred by content filter, try again later");
    return true;
}
