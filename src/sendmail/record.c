/* SPDX-License-Identifier: MIT */
/*
 * The submission record (grammar in record.h): one function per rule, the
 * addresses by smtp/addr.h's RFC 5321 4.1.2 parser, the limits checked
 * before a line is scanned. The same code reads the socket's bytes and a
 * maildrop file, and writes what sendmail sends.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cursor.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "sendmail/record.h"
#include "smtp/addr.h"

/* One line of the head: its octets without the LF. */
struct record_line {
    const char *p;
    size_t len;
};

/*
 * The next line at *pos of p[0..len): 1 with *out, 0 when no LF has come yet
 * (and the line is still below its cap), -1 when it is too long.
 */
static int
next_line(const char *p, size_t len, size_t *pos, struct record_line *out)
{
    size_t left = len - *pos, scan = left < RECORD_LINE_MAX + 1 ? left : RECORD_LINE_MAX + 1;
    const char *lf = memchr(p + *pos, '\n', scan);

    if (lf == NULL)
        return left > RECORD_LINE_MAX ? -1 : 0;
    out->p = p + *pos;
    out->len = (size_t)(lf - out->p);
    *pos += out->len + 1;
    return 1;
}

/* from = "from " Reverse-path; rcpt = "rcpt " Forward-path   (RFC 5321 4.1.2) */
static int
record_path(const struct record_line *l, const char *key, unsigned flags, struct smtp_addr *out)
{
    size_t klen = strlen(key);
    struct cursor c;

    if (l->len < klen + 1 || memcmp(l->p, key, klen) != 0 || l->p[klen] != ' ')
        return -1;
    cursor_init(&c, slice_make(l->p + klen + 1, l->len - klen - 1));
    if (smtp_addr_parse_path(&c, flags, out) != SMTP_ADDR_OK || !cursor_at_end(&c))
        return -1;
    return 0;
}

/* size = "size " 1*20DIGIT, 1..RECORD_CONTENT_MAX */
static int
record_size(const struct record_line *l, uint64_t *out)
{
    uint64_t v = 0;

    if (l->len < 6 || l->len > 5 + 20 || memcmp(l->p, "size ", 5) != 0)
        return -1;
    for (size_t i = 5; i < l->len; i++) {
        if (l->p[i] < '0' || l->p[i] > '9')
            return -1;
        if (v > (RECORD_CONTENT_MAX - (uint64_t)(l->p[i] - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t)(l->p[i] - '0');
    }
    if (v == 0)
        return -1;
    *out = v;
    return 0;
}

static enum record_result
bad(struct record_head *h, char *why, size_t whycap, unsigned line, const char *what)
{
    record_head_clear(h);
    (void)str_fmt(why, whycap, "line %u: %s", line, what);
    return RECORD_BAD;
}

enum record_result
record_parse_head(const char *p, size_t len, struct record_head *out, char *why, size_t whycap)
{
    struct record_line l;
    struct smtp_addr a;
    size_t pos = 0, cap = 0;
    unsigned line = 0;
    int r;

    memset(out, 0, sizeof(*out));
    if (len > RECORD_HEAD_MAX)
        len = RECORD_HEAD_MAX; /* a head never needs more: past it, no LF is "too long" */
    /* magic */
    if ((r = next_line(p, len, &pos, &l)) != 1) {
        size_t m = strlen(RECORD_MAGIC);

        if (r == 0 && len <= m && memcmp(p, RECORD_MAGIC, len) == 0)
            return RECORD_MORE;
        return bad(out, why, whycap, 1, "expected '" RECORD_MAGIC "'");
    }
    line++;
    if (l.len != strlen(RECORD_MAGIC) || memcmp(l.p, RECORD_MAGIC, l.len) != 0)
        return bad(out, why, whycap, line, "expected '" RECORD_MAGIC "'");
    /* from */
    if ((r = next_line(p, len, &pos, &l)) != 1)
        goto more_or_long;
    line++;
    if (record_path(&l, "from", SMTP_PATH_NULL_OK, &a) == -1)
        return bad(out, why, whycap, line, "expected 'from <ADDRESS>' (or 'from <>')");
    memcpy(out->from, a.text, a.len + 1);
    out->from_utf8 = a.has_utf8;
    /* 1*rcpt size */
    for (;;) {
        if ((r = next_line(p, len, &pos, &l)) != 1)
            goto more_or_long;
        line++;
        if (l.len >= 5 && memcmp(l.p, "size ", 5) == 0)
            break;
        if (record_path(&l, "rcpt", SMTP_PATH_POSTMASTER_OK, &a) == -1)
            return bad(out, why, whycap, line, "expected 'rcpt <ADDRESS>' or 'size N'");
        if (out->n_rcpts == RECORD_RCPTS_MAX)
            return bad(out, why, whycap, line, "more than 1000 recipients");
        if (out->n_rcpts == cap) {
            cap = cap == 0 ? 8 : cap * 2;
            out->rcpts = xrealloc(out->rcpts, cap * sizeof(*out->rcpts));
        }
        out->rcpts[out->n_rcpts++] = xstrdup(a.text);
        out->from_utf8 = out->from_utf8 || a.has_utf8;
    }
    if (out->n_rcpts == 0)
        return bad(out, why, whycap, line, "no 'rcpt <ADDRESS>' before 'size'");
    if (record_size(&l, &out->size) == -1)
        return bad(out, why, whycap, line, "expected 'size N' (1 to 2147483648 octets)");
    /* the blank line */
    if ((r = next_line(p, len, &pos, &l)) != 1)
        goto more_or_long;
    line++;
    if (l.len != 0)
        return bad(out, why, whycap, line, "expected an empty line after 'size'");
    out->head_len = pos;
    return RECORD_OK;

more_or_long:
    if (r == -1 || len == RECORD_HEAD_MAX)
        return bad(out, why, whycap, line + 1, "line too long");
    record_head_clear(out);
    return RECORD_MORE;
}

void
record_head_clear(struct record_head *h)
{
    for (size_t i = 0; i < h->n_rcpts; i++)
        free(h->rcpts[i]);
    free(h->rcpts);
    memset(h, 0, sizeof(*h));
}

/* content = *( line CRLF ), no bare CR or LF, no NUL, lines of at most 998 octets (RFC 5322
 * 2.1.1), and the last line ended too. */
int
record_check_content(const char *p, size_t len, bool *eight_bit, char *why, size_t whycap)
{
    size_t col = 0;
    uint64_t line = 1;
    bool high = false;

    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];

        if (ch == '\r') {
            if (i + 1 >= len || p[i + 1] != '\n') {
                (void)str_fmt(why, whycap, "line %" PRIu64 ": bare CR", line);
                return -1;
            }
            i++;
            line++;
            col = 0;
            continue;
        }
        if (ch == '\n' || ch == '\0') {
            (void)str_fmt(why, whycap, "line %" PRIu64 ": %s", line,
                          ch == '\n' ? "bare LF" : "NUL octet");
            return -1;
        }
        if (++col > 998) {
            (void)str_fmt(why, whycap, "line %" PRIu64 ": longer than 998 octets", line);
            return -1;
        }
        high = high || ch > 0x7f;
    }
    if (col != 0 || len == 0) {
        (void)str_fmt(why, whycap, "line %" PRIu64 ": %s", line,
                      len == 0 ? "no content" : "the last line has no CR LF");
        return -1;
    }
    *eight_bit = high;
    return 0;
}

char *
record_format_head(const char *from, const char *const *rcpts, size_t n, uint64_t size, size_t *len)
{
    size_t cap = 64 + strlen(from) + 32, o;
    char *out;
    int k;

    for (size_t i = 0; i < n; i++)
        cap += strlen(rcpts[i]) + 8;
    out = xmalloc(cap);
    k = snprintf(out, cap, "%s\nfrom <%s>\n", RECORD_MAGIC, from);
    if (k < 0 || (size_t)k >= cap)
        log_panic("record head does not fit");
    o = (size_t)k;
    for (size_t i = 0; i < n; i++) {
        k = snprintf(out + o, cap - o, "rcpt <%s>\n", rcpts[i]);
        if (k < 0 || (size_t)k >= cap - o)
            log_panic("record head does not fit");
        o += (size_t)k;
    }
    k = snprintf(out + o, cap - o, "size %" PRIu64 "\n\n", size);
    if (k < 0 || (size_t)k >= cap - o)
        log_panic("record head does not fit");
    *len = o + (size_t)k;
    return out;
}
