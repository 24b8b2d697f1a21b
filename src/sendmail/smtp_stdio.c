/* SPDX-License-Identifier: MIT */
/*
 * `sendmail -bs`: SMTP on standard input and output (RFC 5321), for the
 * programs that speak it to a local sendmail. Each message goes the way of
 * every other (sendmail.h): made (Date, Message-ID added when missing),
 * handed to the daemon or the maildrop, and only then answered 250. Lines
 * may end with LF or CR LF (a pipe is not the network); a command line is
 * at most CAP_CMD_LINE octets; DATA ends at a lone "." and its dots are
 * unstuffed (RFC 5321 4.5.2).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/caps.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "sendmail/sendmail.h"
#include "smtp/addr.h"

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
reply(const char *fmt, ...)
{
    char line[CAP_TEXT_LINE];
    va_list ap;
    int k;

    va_start(ap, fmt);
    k = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof(line))
        (void)str_copyz(line, sizeof(line), "451 4.3.0 reply too long");
    fputs(line, stdout);
    fputs("\r\n", stdout);
    (void)fflush(stdout);
}

/* One line of standard input without its LF or CR LF: its length, -1 at EOF, -2 too long. */
static long
read_line(char *buf, size_t cap)
{
    size_t n = 0;
    int ch;

    while ((ch = getchar()) != EOF && ch != '\n') {
        if (n + 1 >= cap) {
            while ((ch = getchar()) != EOF && ch != '\n')
                ;
            return -2;
        }
        buf[n++] = (char)ch;
    }
    if (ch == EOF && n == 0)
        return -1;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    return (long)n;
}

/* The path of "MAIL FROM:<...>" or "RCPT TO:<...>" after its prefix; parameters are ignored. */
static int
path_arg(const char *p, bool null_ok, const char *hostname, char *out, size_t cap)
{
    const char *lt, *gt;
    char addr[CAP_MAILBOX + 1];

    while (*p == ' ')
        p++;
    lt = p;
    if (*lt != '<' || (gt = strchr(lt, '>')) == NULL)
        return -1;
    if (str_copy(addr, sizeof(addr), lt + 1, (size_t)(gt - lt - 1)) == -1)
        return -1;
    if (addr[0] == '\0')
        return null_ok ? str_copyz(out, cap, "") : -1;
    /* A local name (<root>) is qualified, as for the command line's recipients. */
    return sendmail_qualify(addr, hostname, out, cap);
}

struct txn {
    bool has_from;
    char from[CAP_MAILBOX + 1];
    char **rcpts;
    size_t n;
};

static void
txn_reset(struct txn *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->rcpts[i]);
    free(t->rcpts);
    memset(t, 0, sizeof(*t));
}

/* DATA: the content to the lone ".", then the hand-over, then one reply. */
static void
data(struct txn *t, const struct sendmail_conf *c, const char *hostname, bool verbose)
{
    size_t cap = (size_t)(c->max_size * 2 + 65536), len = 0, size = 65536;
    char *buf = xmalloc(size), line[CAP_TEXT_LINE + 2], why[512], id[64];
    struct sendmail_opts o;
    struct sendmail_msg m;
    bool too_big = false, too_long = false;
    long n;

    reply("354 End data with <CR><LF>.<CR><LF>");
    while ((n = read_line(line, sizeof(line))) != -1) {
        const char *p = line;

        if (n == 1 && line[0] == '.')
            break;
        if (n == -2) {
            too_long = true;
            continue;
        }
        if (line[0] == '.')
            p++, n--; /* RFC 5321 4.5.2 */
        if (len + (size_t)n + 1 > cap) {
            too_big = true;
            continue;
        }
        while (len + (size_t)n + 1 > size) {
            size *= 2;
            buf = xrealloc(buf, size);
        }
        memcpy(buf + len, p, (size_t)n);
        len += (size_t)n;
        buf[len++] = '\n';
    }
    if (n == -1) {
        free(buf);
        txn_reset(t);
        return; /* the input ended inside DATA: nothing is queued */
    }
    if (too_big || too_long) {
        reply("%s",
              too_big ? "552 5.3.4 Message size exceeds fixed limit" : "500 5.5.2 Line too long");
        free(buf);
        txn_reset(t);
        return;
    }
    memset(&o, 0, sizeof(o));
    o.ignore_dots = true;
    if (sendmail_msg_make(buf, len, &o, t->from, hostname, &m, why, sizeof(why)) == -1) {
        reply("554 5.6.0 %s", why);
    } else {
        int st = sendmail_hand_over(c, t->from, t->rcpts, t->n, m.data, m.len, verbose, why,
                                    sizeof(why), id, sizeof(id));

        if (st == SENDMAIL_EX_OK)
            reply("250 2.0.0 Ok: %s", why);
        else if (st == SENDMAIL_EX_TEMPFAIL)
            reply("451 4.3.0 %s", why);
        else
            reply("554 5.6.0 %s", why);
        sendmail_msg_clear(&m);
    }
    free(buf);
    txn_reset(t);
}

int
sendmail_smtp_stdio(const struct sendmail_conf *c, const char *hostname, bool verbose)
{
    struct txn t;
    char line[CAP_CMD_LINE + 2], addr[CAP_MAILBOX + 1];
    long n;

    memset(&t, 0, sizeof(t));
    reply("220 %s ESMTP gate26 sendmail", hostname);
    while ((n = read_line(line, sizeof(line))) != -1) {
        if (n == -2) {
            reply("500 5.5.2 Line too long");
        } else if (strncasecmp(line, "EHLO ", 5) == 0) {
            char size[32];

            txn_reset(&t);
            (void)str_fmt(size, sizeof(size), "%llu", (unsigned long long)c->max_size);
            reply("250-%s", hostname);
            reply("250-8BITMIME");
            reply("250 SIZE %s", size);
        } else if (strncasecmp(line, "HELO ", 5) == 0) {
            txn_reset(&t);
            reply("250 %s", hostname);
        } else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
            if (t.has_from)
                reply("503 5.5.1 Error: nested MAIL command");
            else if (path_arg(line + 10, true, hostname, t.from, sizeof(t.from)) == -1)
                reply("501 5.1.7 Bad sender address syntax");
            else {
                t.has_from = true;
                reply("250 2.1.0 Ok");
            }
        } else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
            if (!t.has_from)
                reply("503 5.5.1 Error: need MAIL command");
            else if (t.n >= 1000)
                reply("452 4.5.3 Error: too many recipients");
            else if (path_arg(line + 8, false, hostname, addr, sizeof(addr)) == -1)
                reply("501 5.1.3 Bad recipient address syntax");
            else {
                t.rcpts = xrealloc(t.rcpts, (t.n + 1) * sizeof(*t.rcpts));
                t.rcpts[t.n++] = xstrdup(addr);
                reply("250 2.1.5 Ok");
            }
        } else if (strcasecmp(line, "DATA") == 0) {
            if (t.n == 0)
                reply("503 5.5.1 Error: need RCPT command");
            else
                data(&t, c, hostname, verbose);
        } else if (strcasecmp(line, "RSET") == 0) {
            txn_reset(&t);
            reply("250 2.0.0 Ok");
        } else if (strncasecmp(line, "NOOP", 4) == 0) {
            reply("250 2.0.0 Ok");
        } else if (strcasecmp(line, "QUIT") == 0) {
            reply("221 2.0.0 Bye");
            break;
        } else {
            reply("502 5.5.2 Error: command not recognized");
        }
    }
    txn_reset(&t);
    return SENDMAIL_EX_OK;
}
