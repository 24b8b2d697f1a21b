/* SPDX-License-Identifier: MIT */
/*
 * Reading one SMTP reply, line by line (RFC 5321 4.2):
 *
 *     Reply-line = *( Reply-code "-" [ textstring ] CRLF )
 *                  Reply-code [ SP textstring ] CRLF
 *     Reply-code = %x32-35 %x30-35 %x30-39
 *
 * Every line of a reply carries the same code (4.2.1); a line breaking the
 * grammar, a code that changes, or a reply over the caps ends the reader
 * with DELIVER_REPLY_BAD. The structure is strict, the text liberal: octets
 * outside printable ASCII (servers send UTF-8 and worse) are dropped from
 * the joined text, a TAB becomes a space, and "250 " with nothing after
 * the space is taken as "250".
 *
 * The enhanced status code (RFC 2034 3, RFC 3463 2) is read from the start
 * of the first line's text and kept only when its class matches the reply
 * code's first digit; the copies of it that start the later lines are left
 * out of the joined text.
 */
#include <string.h>

#include "deliver/reply.h"
#include "lib/ascii.h"
#include "lib/caps.h"
#include "lib/cursor.h"

void
deliver_reply_init(struct deliver_reply *r)
{
    memset(r, 0, sizeof(*r));
}

/* Appends len octets to the joined text, printable ASCII only, cut with "..." at the cap. */
static void
reply_append(struct deliver_reply *r, const char *p, size_t len)
{
    const size_t room = sizeof(r->text) - 4; /* room for "..." and the NUL */

    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];

        if (r->text_len > room)
            return; /* already cut */
        if (ch == '\t')
            ch = ' ';
        if (ch < 0x20 || ch > 0x7e)
            continue;
        if (r->text_len == room) {
            memcpy(r->text + r->text_len, "...", 3);
            r->text_len += 3;
            r->text[r->text_len] = '\0';
            return;
        }
        r->text[r->text_len++] = (char)ch;
        r->text[r->text_len] = '\0';
    }
}

/* 1*3digit, RFC 3463 2 (subject and detail). */
static bool
reply_digits13(struct cursor *c)
{
    size_t n = 0;

    while (n < 3 && is_digit(cursor_peek(c))) {
        c->p++;
        n++;
    }
    return n > 0 && !is_digit(cursor_peek(c));
}

/*
 * status-code = class "." subject "." detail, class = "2" / "4" / "5"
 * (RFC 3463 2), followed by SP or the end of the text (RFC 2034 4). Returns
 * its length, or 0 when text does not start with one.
 */
static size_t
reply_enhanced_len(struct slice text)
{
    struct cursor c;
    int cls;

    cursor_init(&c, text);
    cls = cursor_peek(&c);
    if (cls != '2' && cls != '4' && cls != '5')
        return 0;
    c.p++;
    if (!cursor_take(&c, '.') || !reply_digits13(&c) || !cursor_take(&c, '.') ||
        !reply_digits13(&c))
        return 0;
    if (!cursor_at_end(&c) && cursor_peek(&c) != ' ')
        return 0;
    return (size_t)(c.p - text.p);
}

/* The enhanced code a reply without one stands for: its class and ".0.0". */
static void
reply_derive_enhanced(struct deliver_reply *r)
{
    unsigned cls = r->code / 100;

    if (cls == 2 || cls == 4 || cls == 5) {
        r->enhanced[0] = (char)('0' + cls);
        memcpy(r->enhanced + 1, ".0.0", 5);
    } else {
        r->enhanced[0] = '\0';
    }
}

/* The first line's text: the enhanced code, then the text goes into the joined line. */
static void
reply_first_text(struct deliver_reply *r, struct slice text)
{
    size_t n = reply_enhanced_len(text);

    if (n > 0 && (unsigned)(text.p[0] - '0') == r->code / 100) {
        memcpy(r->enhanced, text.p, n);
        r->enhanced[n] = '\0';
        r->has_enhanced = true;
    }
    if (text.len > 0) {
        reply_append(r, " ", 1);
        reply_append(r, text.p, text.len);
    }
}

/* A later line's text: without the enhanced code when it repeats the first one's. */
static void
reply_next_text(struct deliver_reply *r, struct slice text)
{
    size_t n = r->has_enhanced ? strlen(r->enhanced) : 0;

    if (n > 0 && text.len >= n && memcmp(text.p, r->enhanced, n) == 0 &&
        (text.len == n || text.p[n] == ' ')) {
        text.p += n;
        text.len -= n;
        if (text.len > 0) { /* the SP after the code */
            text.p++;
            text.len--;
        }
    }
    if (text.len > 0) {
        reply_append(r, " ", 1);
        reply_append(r, text.p, text.len);
    }
}

/* Reply-code = %x32-35 %x30-35 %x30-39. Returns the code, or 0. */
static unsigned
reply_code(struct slice line)
{
    const char *p = line.p;

    if (line.len < 3 || p[0] < '2' || p[0] > '5' || p[1] < '0' || p[1] > '5' || !is_digit(p[2]))
        return 0;
    return (unsigned)(p[0] - '0') * 100 + (unsigned)(p[1] - '0') * 10 + (unsigned)(p[2] - '0');
}

static enum deliver_reply_rc
reply_bad(struct deliver_reply *r, const char *why)
{
    r->error = why;
    return DELIVER_REPLY_BAD;
}

enum deliver_reply_rc
deliver_reply_add(struct deliver_reply *r, struct slice line, struct slice *text)
{
    struct slice t;
    unsigned code;
    bool last;

    /* The caps first, before looking at the line. */
    if (line.len + 2 > CAP_REPLY_LINE)
        return reply_bad(r, "reply line too long");
    if (r->n_lines >= CAP_REPLY_LINES)
        return reply_bad(r, "too many reply lines");
    if (r->octets + line.len + 2 > CAP_REPLY)
        return reply_bad(r, "reply too long");
    r->n_lines++;
    r->octets += line.len + 2;

    code = reply_code(line);
    if (code == 0)
        return reply_bad(r, "malformed reply line");
    if (line.len == 3) {
        last = true;
    } else if (line.p[3] == ' ') {
        last = true;
    } else if (line.p[3] == '-') {
        last = false;
    } else {
        return reply_bad(r, "malformed reply line");
    }
    t = line.len > 3 ? slice_make(line.p + 4, line.len - 4) : slice_make(line.p + 3, 0);

    if (r->n_lines == 1) {
        r->code = code;
        r->text_len = 3;
        memcpy(r->text, line.p, 3);
        r->text[3] = '\0';
        reply_first_text(r, t);
    } else {
        if (code != r->code)
            return reply_bad(r, "reply code changed between lines");
        reply_next_text(r, t);
    }
    if (text != NULL)
        *text = t;
    if (!last)
        return DELIVER_REPLY_MORE;
    if (!r->has_enhanced)
        reply_derive_enhanced(r);
    return DELIVER_REPLY_LAST;
}
