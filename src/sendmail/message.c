/* SPDX-License-Identifier: MIT */
/*
 * The message sendmail queues (sendmail.h): Unix lines made CR LF lines
 * (RFC 5322 2.1), the header fields a local program leaves out added
 * (From, Date, Message-ID: RFC 5322 3.6), and with -t the recipients taken
 * from To, Cc and Bcc (RFC 5322 3.6.3), Bcc removed. The address lists are
 * read by a small scanner of RFC 5322 3.4's address-list: groups, display
 * names, quoted strings and comments are stepped over, and what each
 * mailbox's addr-spec is goes to the record, whose parser (smtp/addr.h)
 * judges it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "lib/str.h"
#include "lib/xalloc.h"
#include "sendmail/sendmail.h"
#include "smtp/addr.h"

/* A growable output buffer (its cap is the caller's: the input is bounded). */
struct out {
    char *p;
    size_t len, cap;
};

static void
put(struct out *o, const char *p, size_t len)
{
    if (o->len + len > o->cap) {
        o->cap = (o->len + len) * 2 + 256;
        o->p = xrealloc(o->p, o->cap);
    }
    memcpy(o->p + o->len, p, len);
    o->len += len;
}

static void
puts_out(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* ---- address lists (RFC 5322 3.4) ---- */

/* Skips a quoted-string or a comment starting at p[*i]; false when it does not end. */
static bool
skip_quoted(const char *p, size_t len, size_t *i, char open, char close)
{
    int depth = 0;

    for (; *i < len; (*i)++) {
        char ch = p[*i];

        if (ch == '\\') {
            (*i)++;
            continue;
        }
        if (ch == open && (open != close || depth == 0)) {
            depth++;
            continue;
        }
        if (ch == close && --depth == 0)
            return true;
    }
    return false;
}

static void
add_addr(char ***list, size_t *n, const char *p, size_t len)
{
    while (len > 0 && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
        p++;
        len--;
    }
    while (len > 0 &&
           (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r' || p[len - 1] == '\n'))
        len--;
    if (len == 0)
        return;
    *list = xrealloc(*list, (*n + 1) * sizeof(**list));
    (*list)[*n] = xmalloc(len + 1);
    memcpy((*list)[*n], p, len);
    (*list)[*n][len] = '\0';
    (*n)++;
}

int
sendmail_addr_list(const char *p, size_t len, char ***list, size_t *n, char *why, size_t whycap)
{
    size_t i = 0;

    while (i < len) {
        /* One element: up to a ',' or ';' outside quotes, comments and angle brackets. */
        char spec[1024];
        size_t sl = 0;
        const char *angle = NULL;
        size_t angle_len = 0;
        bool group = false;

        for (; i < len && p[i] != ',' && p[i] != ';'; i++) {
            char ch = p[i];

            if (ch == '"') {
                size_t start = i;

                if (!skip_quoted(p, len, &i, '"', '"')) {
                    (void)str_copyz(why, whycap, "a quoted string does not end");
                    return -1;
                }
                if (sl + (i - start + 1) < sizeof(spec)) {
                    memcpy(spec + sl, p + start, i - start + 1);
                    sl += i - start + 1;
                }
                continue;
            }
            if (ch == '(') {
                if (!skip_quoted(p, len, &i, '(', ')')) {
                    (void)str_copyz(why, whycap, "a comment does not end");
                    return -1;
                }
                continue;
            }
            if (ch == '<') {
                const char *end = memchr(p + i, '>', len - i);

                if (end == NULL) {
                    (void)str_copyz(why, whycap, "'<' without '>'");
                    return -1;
                }
                angle = p + i + 1;
                angle_len = (size_t)(end - angle);
                i = (size_t)(end - p);
                continue;
            }
            if (ch == ':') { /* group: display-name ":" [group-list] ";" */
                group = true;
                sl = 0;
                angle = NULL;
                continue;
            }
            if (sl + 1 < sizeof(spec))
                spec[sl++] = ch;
        }
        (void)group;
        if (angle != NULL)
            add_addr(list, n, angle, angle_len);
        else
            add_addr(list, n, spec, sl);
        if (i < len)
            i++; /* the ',' or ';' */
    }
    return 0;
}

/* ---- the message ---- */

/* "Mon, 07 Dec 2026 10:20:30 +0000" in local time with its offset, with our own names. */
static void
date_now(char *out, size_t cap)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = time(NULL);
    struct tm tm;
    long off;

    if (localtime_r(&t, &tm) == NULL)
        memset(&tm, 0, sizeof(tm));
    off = tm.tm_gmtoff / 60;
    (void)str_fmt(out, cap, "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld", days[tm.tm_wday % 7],
                  tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec, off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
}

/* True when the header line at p (len octets, no CR LF) is the field name (any case). */
static bool
is_field(const char *p, size_t len, const char *name)
{
    size_t n = strlen(name);

    if (len <= n || strncasecmp(p, name, n) != 0)
        return false;
    for (size_t i = n; i < len; i++) {
        if (p[i] == ':')
            return true;
        if (p[i] != ' ' && p[i] != '\t')
            return false;
    }
    return false;
}

/* A field line: a name of printable ASCII but ':' (RFC 5322 2.2), then ':'. */
static bool
is_field_line(const char *p, size_t len)
{
    size_t i = 0;

    while (i < len && p[i] > ' ' && p[i] <= '~' && p[i] != ':')
        i++;
    while (i < len && (p[i] == ' ' || p[i] == '\t'))
        i++;
    return i > 0 && i < len && p[i] == ':';
}

int
sendmail_msg_make(const char *in, size_t len, const struct sendmail_opts *o, const char *sender,
                  const char *hostname, struct sendmail_msg *out, char *why, size_t whycap)
{
    struct out body = {0}, msg = {0}, rcpt_text = {0};
    bool in_header = true, has_from = false, has_date = false, has_msgid = false;
    bool dropping = false, collecting = false;
    size_t i = 0;

    memset(out, 0, sizeof(*out));
    /* Lines: LF or CR LF ends one; the last one may lack it. */
    while (i < len) {
        const char *lf = memchr(in + i, '\n', len - i);
        size_t end = lf != NULL ? (size_t)(lf - in) : len, ll = end - i;
        const char *l = in + i;

        i = lf != NULL ? end + 1 : len;
        if (ll > 0 && l[ll - 1] == '\r')
            ll--;
        if (!o->ignore_dots && ll == 1 && l[0] == '.')
            break;
        if (in_header) {
            bool cont = ll > 0 && (l[0] == ' ' || l[0] == '\t');

            if (ll == 0) {
                in_header = false;
            } else if (!cont && !is_field_line(l, ll)) {
                in_header = false; /* the body starts without its empty line */
                put(&body, "\r\n", 2);
            } else {
                if (!cont) {
                    dropping = o->read_rcpts && is_field(l, ll, "bcc");
                    collecting = o->read_rcpts &&
                                 (dropping || is_field(l, ll, "to") || is_field(l, ll, "cc"));
                    has_from = has_from || is_field(l, ll, "from");
                    has_date = has_date || is_field(l, ll, "date");
                    has_msgid = has_msgid || is_field(l, ll, "message-id");
                    if (collecting) {
                        const char *colon = memchr(l, ':', ll);

                        put(&rcpt_text, ",", 1);
                        put(&rcpt_text, colon + 1, ll - (size_t)(colon + 1 - l));
                    }
                } else if (collecting) {
                    put(&rcpt_text, l, ll);
                }
                if (dropping)
                    continue;
            }
        }
        put(&body, l, ll);
        put(&body, "\r\n", 2);
    }
    if (o->read_rcpts && rcpt_text.len > 0 &&
        sendmail_addr_list(rcpt_text.p, rcpt_text.len, &out->rcpts, &out->n_rcpts, why, whycap) ==
            -1) {
        free(body.p);
        free(rcpt_text.p);
        sendmail_msg_clear(out);
        return -1;
    }
    free(rcpt_text.p);
    if (!has_from) {
        puts_out(&msg, "From: ");
        if (o->name != NULL && o->name[0] != '\0') {
            /* The name as a quoted-string (RFC 5322 3.2.4): '"' and '\' escaped, no controls. */
            puts_out(&msg, "\"");
            for (const char *p = o->name; *p != '\0'; p++) {
                if ((unsigned char)*p < ' ' || *p == 0x7f)
                    continue;
                if (*p == '"' || *p == '\\')
                    put(&msg, "\\", 1);
                put(&msg, p, 1);
            }
            puts_out(&msg, "\" ");
        }
        puts_out(&msg, "<");
        puts_out(&msg, sender[0] != '\0' ? sender : "MAILER-DAEMON");
        puts_out(&msg, ">\r\n");
    }
    if (!has_date) {
        char d[64];

        date_now(d, sizeof(d));
        puts_out(&msg, "Date: ");
        puts_out(&msg, d);
        puts_out(&msg, "\r\n");
    }
    if (!has_msgid) {
        struct timeval tv;
        unsigned char rnd[8] = {0};
        char id[CAP_HOSTNAME + 128];
        /* Time and pid make it unique; the random octets, unguessable (zeros if none). */
        if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
            memset(rnd, 0, sizeof(rnd));
        (void)gettimeofday(&tv, NULL);
        (void)str_fmt(id, sizeof(id),
                      "Message-ID: <%lld.%06ld.%ld.%02x%02x%02x%02x%02x%02x%02x%02x@%s>\r\n",
                      (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(), rnd[0], rnd[1],
                      rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], hostname);
        puts_out(&msg, id);
    }
    if (in_header && body.len == 0)
        put(&body, "\r\n", 2); /* no line at all: an empty body after the header */
    put(&msg, body.p != NULL ? body.p : "", body.len);
    free(body.p);
    out->data = msg.p;
    out->len = msg.len;
    return 0;
}

void
sendmail_msg_clear(struct sendmail_msg *m)
{
    for (size_t i = 0; i < m->n_rcpts; i++)
        free(m->rcpts[i]);
    free(m->rcpts);
    free(m->data);
    memset(m, 0, sizeof(*m));
}

int
sendmail_qualify(const char *addr, const char *hostname, char *out, size_t cap)
{
    struct smtp_addr a;
    struct cursor c;
    char path[CAP_MAILBOX + 8];

    if (strchr(addr, '@') == NULL && strcasecmp(addr, "Postmaster") != 0) {
        if (str_fmt(path, sizeof(path), "<%s@%s>", addr, hostname) == -1)
            return -1;
    } else if (str_fmt(path, sizeof(path), "<%s>", addr) == -1) {
        return -1;
    }
    cursor_init(&c, slice_make(path, strlen(path)));
    if (smtp_addr_parse_path(&c, SMTP_PATH_POSTMASTER_OK, &a) != SMTP_ADDR_OK || !cursor_at_end(&c))
        return -1;
    return str_copyz(out, cap, a.text);
}
