/* SPDX-License-Identifier: MIT */
/*
 * Delivery status notifications: builds the multipart/report (RFC 6522) that
 * tells a sender about failed or delayed recipients, with a text part, a
 * message/delivery-status part (RFC 3464 2) and the original or its header
 * (RFC 3461 4.3 and 6); with SMTPUTF8 the global types of RFC 6533. The
 * scheduler decides when to send one, to whom and with which BODY (8BITMIME
 * when the original was 8-bit); this file only composes the octets.
 *
 * Choices made here:
 *  - Peer text (addresses, reasons, replies, ORCPT, ENVID) is cleaned before
 *    it goes into parts 1 and 2 or the header: printable ASCII stays, with
 *    SMTPUTF8 so does well-formed UTF-8 in addresses (RFC 6532, RFC 6533),
 *    and every other octet, CR and LF included, becomes '?'. Runs of spaces
 *    become one space and a text is cut at DSN_TEXT_MAX octets (marked
 *    "...").
 *  - Folding: a long field or text line is folded before a space (CRLF plus
 *    the space that was there, RFC 5322 2.2.3), aiming at 78 octets; a
 *    single token that would not fit in 998 octets is cut and ends in
 *    "...", so no line the report writes is longer than 998 octets.
 *  - Original-Recipient (RFC 3464 2.3.1) takes ORCPT "addr-type;value":
 *    for the "utf-8" type (RFC 6533 3) the value is not xtext and is written
 *    as received; for other types the xtext is decoded, and the decoded text
 *    is written when it is printable ASCII. When it is not (a control octet,
 *    8-bit) or the xtext is malformed, the value stays as received, still
 *    xtext-encoded: that is 7-bit, loses nothing and is what the sender sent.
 *  - Final-Recipient is "rfc822; ADDR", or "utf-8; ADDR" for a non-ASCII
 *    address of an SMTPUTF8 original (RFC 6533 3).
 *  - The boundary is "=_" + the queue id + "." + 16 random hex digits. The
 *    content is read into the report where it will stay, then every part
 *    is searched for the boundary; if it occurs anywhere, new random digits
 *    are written over each place the boundary was used (it keeps its
 *    length), and the search runs again.
 *  - The Content-Transfer-Encoding of the report and of part 3 says 8bit
 *    when the returned content (or a UTF-8 address) has 8-bit octets,
 *    RFC 2045 6.4; both are slots of the same length written afterwards.
 *  - report-type stays delivery-status with the global types too: RFC 6522
 *    no longer ties it to the subtype of the second part, and readers look
 *    for it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "lib/caps.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "sched/dsn.h"

/* RFC 5322 2.1.1: at most 998 octets before CRLF, and 78 preferred. */
#define DSN_LINE_MAX  998
#define DSN_LINE_WANT 78

/* One peer text (address, reason, reply) after cleaning. */
#define DSN_TEXT_MAX 2048

/* The header returned (RET=HDRS) when no blank line ends it sooner. */
#define DSN_HDRS_MAX (256 * 1024)

/*
 * Caps of the growable buffers: parts 1 and 2 take at most DSN_BASE_ROOM
 * plus DSN_RCPT_ROOM per recipient (a recipient writes a few fields of at
 * most DSN_TEXT_MAX octets each, plus folds), the report that plus the
 * returned content.
 */
#define DSN_BASE_ROOM (64 * 1024)
#define DSN_RCPT_ROOM (32 * 1024)

/* The queue id as used in the boundary and Message-ID (letters and digits). */
#define DSN_IDTOK_MAX 32
/* "=_" id "." 16 hex: at most 51 octets, within RFC 2046's 70. */
#define DSN_BOUNDARY_CAP   (2 + DSN_IDTOK_MAX + 1 + 16 + 1)
#define DSN_BOUNDARY_TRIES 64

/* "Thu, 26 Nov 2026 12:25:25 +0000" (RFC 5322 3.3) */
#define DSN_DATE_CAP 40

/* A buffer that grows up to cap; appending past it fails, and stays failed. */
struct dsn_buf {
    char *p;
    size_t len;
    size_t alloc;
    size_t cap;
    bool full;
};

/* A stretch of the report: where one part's content lies. */
struct dsn_region {
    size_t at;
    size_t len;
};

/* The places in the report written before their value was known. */
struct dsn_slots {
    size_t boundary[8];
    size_t n_boundary;
    size_t cte[2]; /* "7bit" or "8bit" */
    size_t n_cte;
};

/* The cleaned forms of the message-wide strings. */
struct dsn_ctx {
    const struct dsn_input *in;
    char host[CAP_HOSTNAME + 1];
    char id[DSN_TEXT_MAX + 1];
    char idtok[DSN_IDTOK_MAX + 1];
    bool full; /* part 3 is the whole message */
};

static const char dsn_hex[] = "0123456789abcdef";

/* ------------------------------------------------------------ buffers */

static void
buf_init(struct dsn_buf *b, size_t cap)
{
    b->p = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
    b->full = false;
}

static void
buf_clear(struct dsn_buf *b)
{
    free(b->p);
    buf_init(b, 0);
}

/* Room for n more octets: where they go, or NULL when that passes the cap. */
static char *
buf_room(struct dsn_buf *b, size_t n)
{
    if (b->full || n > b->cap - b->len) {
        b->full = true;
        return NULL;
    }
    if (n > b->alloc - b->len) {
        size_t want = b->alloc < 2048 ? 4096 : b->alloc * 2;

        if (want < b->len + n)
            want = b->len + n;
        if (want > b->cap)
            want = b->cap;
        b->p = xrealloc(b->p, want);
        b->alloc = want;
    }
    return b->p + b->len;
}

static void
buf_add(struct dsn_buf *b, const void *p, size_t n)
{
    char *d = buf_room(b, n);

    if (d != NULL && n > 0) {
        memcpy(d, p, n);
        b->len += n;
    }
}

static void
buf_adds(struct dsn_buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

/* Only for our own formats with bounded arguments. */
static void buf_addf(struct dsn_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
buf_addf(struct dsn_buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        log_panic("dsn: a formatted line of %d octets", n);
    buf_add(b, tmp, (size_t)n);
}

/* a * b + c, or SIZE_MAX when that does not fit. */
static size_t
size_muladd(size_t a, size_t b, size_t c)
{
    if (b != 0 && a > (SIZE_MAX - c) / b)
        return SIZE_MAX;
    return a * b + c;
}

/* ------------------------------------------------------------ text */

static bool
utf8_is_cont(unsigned char ch)
{
    return ch >= 0x80 && ch <= 0xbf;
}

/*
 * The length of the well-formed UTF-8 sequence of two to four octets at p
 * (NUL-terminated), or 0.
 * UTF8-2 = %xC2-DF UTF8-tail
 * UTF8-3 = %xE0 %xA0-BF UTF8-tail / %xE1-EC 2( UTF8-tail ) /
 *          %xED %x80-9F UTF8-tail / %xEE-EF 2( UTF8-tail )
 * UTF8-4 = %xF0 %x90-BF 2( UTF8-tail ) / %xF1-F3 3( UTF8-tail ) /
 *          %xF4 %x80-8F 2( UTF8-tail )                      RFC 3629 4
 * A NUL is no tail octet, so the reads stop at the end of the string.
 */
static size_t
utf8_seq_len(const unsigned char *p)
{
    unsigned char c = p[0];

    if (c >= 0xc2 && c <= 0xdf)
        return utf8_is_cont(p[1]) ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;

        return p[1] >= lo && p[1] <= hi && utf8_is_cont(p[2]) ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;

        return p[1] >= lo && p[1] <= hi && utf8_is_cont(p[2]) && utf8_is_cont(p[3]) ? 4 : 0;
    }
    return 0;
}

/*
 * Cleans the peer text s into out (at least max + 1 octets, max >= 8) and
 * returns its length: printable ASCII stays, well-formed UTF-8 stays when
 * utf8, anything else becomes '?'. Spaces at either end go and runs of
 * spaces become one, so every space has a non-space before it and a fold
 * (which goes before a space) never leaves a line of white space only
 * (RFC 5322 3.2.2). A text longer than max - 3 octets is cut there and
 * ends in "...".
 */
static size_t
dsn_clean(char *out, size_t max, const char *s, bool utf8)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = 0, i = 0;
    bool space = false;

    while (u[i] != '\0') {
        size_t k = 1, need;

        if (u[i] == ' ') {
            space = n > 0;
            i++;
            continue;
        }
        if (u[i] >= 0x80 && utf8)
            k = utf8_seq_len(u + i);
        need = (space ? 1 : 0) + (k ? k : 1);
        if (n + need > max - 3) {
            memcpy(out + n, "...", 3);
            n += 3;
            break;
        }
        if (space)
            out[n++] = ' ';
        space = false;
        if (k > 1) {
            memcpy(out + n, s + i, k);
            n += k;
            i += k;
        } else {
            out[n++] = u[i] >= 0x21 && u[i] <= 0x7e ? (char)u[i] : '?';
            i++;
        }
    }
    out[n] = '\0';
    return n;
}

static bool
has_8bit(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)p[i] >= 0x80)
            return true;
    }
    return false;
}

/*
 * At most n octets of s that do not end inside a UTF-8 sequence (the octet
 * after the cut is no tail octet).
 */
static size_t
utf8_cut(const char *s, size_t n)
{
    while (n > 0 && utf8_is_cont((unsigned char)s[n]))
        n--;
    return n;
}

/*
 * Appends head (ours, short) and the cleaned text val, folded, and CRLF.
 * The CRLF of a fold goes before a space, which then starts the next line
 * (RFC 5322 2.2.3), so unfolding gives val back. A line is folded when it
 * would pass DSN_LINE_WANT; a token that would pass DSN_LINE_MAX even on a
 * line of its own is cut and marked with "...".
 */
static void
put_folded(struct dsn_buf *b, const char *head, const char *val, size_t len)
{
    size_t line = strlen(head), i = 0;
    bool first = true;

    buf_adds(b, head);
    while (i < len) {
        size_t j = i, tok, sep = first ? 0 : 1;

        while (j < len && val[j] != ' ')
            j++;
        tok = j - i;
        if (!first && line + 1 + tok > DSN_LINE_WANT) {
            buf_add(b, "\r\n", 2);
            line = 0;
        }
        if (sep)
            buf_add(b, " ", 1);
        if (line + sep + tok > DSN_LINE_MAX) {
            size_t keep = utf8_cut(val + i, DSN_LINE_MAX - line - sep - 3);

            buf_add(b, val + i, keep);
            buf_add(b, "...", 3);
            tok = keep + 3;
        } else {
            buf_add(b, val + i, tok);
        }
        line += sep + tok;
        first = false;
        i = j + 1;
    }
    buf_add(b, "\r\n", 2);
}

/* head and the peer text s, cleaned and folded: one field or text line. */
static void
put_text(struct dsn_buf *b, const char *head, const char *s, bool utf8)
{
    char val[DSN_TEXT_MAX + 1];
    size_t len = dsn_clean(val, DSN_TEXT_MAX, s, utf8);

    put_folded(b, head, val, len);
}

/* The queue id with letters and digits only, for the boundary and Message-ID. */
static void
id_token(char *out, const char *id)
{
    size_t n = 0;

    for (size_t i = 0; id[i] != '\0' && n < DSN_IDTOK_MAX; i++) {
        char ch = id[i];

        if ((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z'))
            out[n++] = ch;
    }
    if (n == 0)
        out[n++] = 'x';
    out[n] = '\0';
}

/*
 * date-time = [ day-of-week "," ] date time, with zone +0000 (RFC 5322
 * 3.3). Names from our own tables: strftime's depend on the locale.
 */
static void
put_date(char *out, time_t t)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 1900) {
        t = 0;
        (void)gmtime_r(&t, &tm);
    }
    (void)snprintf(out, DSN_DATE_CAP, "%s, %d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
                   tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                   tm.tm_sec);
}

/* ------------------------------------------------------------ randomness */

/* splitmix64: spreads a counter over 64 bits. */
static uint64_t
mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

/*
 * 64 random bits. Without entropy yet (early boot), a counter mixed with
 * the time and pid: unique enough, and a boundary is checked against the
 * content anyway.
 */
static uint64_t
dsn_random64(void)
{
    static atomic_uint_fast64_t fallback;
    struct timespec ts;
    uint64_t r;

    if (getrandom(&r, sizeof r, GRND_NONBLOCK) == (ssize_t)sizeof r)
        return r;
    if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
        ts.tv_sec = ts.tv_nsec = 0;
    return mix64(atomic_fetch_add(&fallback, 1) ^ (uint64_t)ts.tv_nsec ^
                 ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 48));
}

static void
hex16(char *out, uint64_t v)
{
    for (int i = 15; i >= 0; i--) {
        out[i] = dsn_hex[v & 15u];
        v >>= 4;
    }
    out[16] = '\0';
}

/* ------------------------------------------------------------ fields */

/*
 * status-code = DIGIT "." 1*3DIGIT "." 1*3DIGIT   RFC 3464 2.3.4, with a
 * class of 2, 4 or 5 (RFC 3463 3.1).
 */
static bool
is_status(const char *s)
{
    size_t i = 0;

    if (s == NULL || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
        return false;
    i = 2;
    for (int part = 0; part < 2; part++) {
        size_t d = 0;

        while (s[i] >= '0' && s[i] <= '9' && d < 4) {
            i++;
            d++;
        }
        if (d == 0 || d > 3)
            return false;
        if (part == 0 && s[i++] != '.')
            return false;
    }
    return s[i] == '\0';
}

static int
hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/*
 * xtext = *( xchar / hexchar ), hexchar = "+" 2 upper-case HEXDIG
 * (RFC 3461 4). Decodes s into out (at least strlen(s) + 1 octets).
 * Returns 0 when s was xtext and decodes to printable ASCII (and no NUL),
 * else -1.
 */
static int
xtext_printable(char *out, const char *s)
{
    size_t n = 0;

    for (size_t i = 0; s[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch == '+') {
            int hi = hex_value(s[i + 1]), lo = hi < 0 ? -1 : hex_value(s[i + 2]);

            if (lo < 0)
                return -1;
            ch = (unsigned char)(hi << 4 | lo);
            i += 2;
        } else if (ch < 33 || ch > 126 || ch == '=') {
            return -1;
        }
        if (ch < 0x20 || ch > 0x7e)
            return -1;
        out[n++] = (char)ch;
    }
    out[n] = '\0';
    return 0;
}

/*
 * original-recipient-field = "Original-Recipient" ":" address-type ";"
 * generic-address (RFC 3464 2.3.1), from ORCPT as received; see the top of
 * the file for what is decoded.
 */
static void
put_orcpt(struct dsn_buf *b, const char *orcpt, bool smtputf8)
{
    char raw[64], type[64], head[96], *val;
    const char *semi = strchr(orcpt, ';');
    size_t tlen, vlen;

    if (semi == NULL || semi == orcpt) {
        /* Not what the session accepts; keep it visible but harmless. */
        put_text(b, "Original-Recipient: ", orcpt, false);
        return;
    }
    tlen = (size_t)(semi - orcpt);
    if (tlen >= sizeof raw)
        tlen = sizeof raw - 1;
    memcpy(raw, orcpt, tlen);
    raw[tlen] = '\0';
    (void)dsn_clean(type, sizeof type - 1, raw, false);
    (void)snprintf(head, sizeof head, "Original-Recipient: %s;", type);

    vlen = strlen(semi + 1);
    val = xmalloc(vlen + 1);
    if (strcasecmp(type, "utf-8") == 0) {
        /* utf-8-enc-addr (RFC 6533 3) is no xtext: as received. */
        put_text(b, head, semi + 1, smtputf8);
    } else if (xtext_printable(val, semi + 1) == 0) {
        put_text(b, head, val, false);
    } else {
        put_text(b, head, semi + 1, false);
    }
    free(val);
}

/* One per-recipient block of part 2 (RFC 3464 2.3), then a blank line. */
static void
put_rcpt_fields(struct dsn_buf *b, const struct dsn_ctx *c, const struct dsn_rcpt *r)
{
    const struct dsn_input *in = c->in;
    char date[DSN_DATE_CAP], addr[DSN_TEXT_MAX + 1];
    const char *status = r->status;
    size_t alen;

    if (r->orcpt != NULL)
        put_orcpt(b, r->orcpt, in->smtputf8);
    alen = dsn_clean(addr, DSN_TEXT_MAX, r->addr, in->smtputf8);
    put_folded(b, has_8bit(addr, alen) ? "Final-Recipient: utf-8; " : "Final-Recipient: rfc822; ",
               addr, alen);
    buf_adds(b, in->kind == DSN_DELAY ? "Action: delayed\r\n" : "Action: failed\r\n");
    if (!is_status(status))
        status = in->kind == DSN_DELAY ? "4.0.0" : "5.0.0";
    buf_addf(b, "Status: %s\r\n", status);
    if (r->remote_mta != NULL && r->remote_mta[0] != '\0')
        put_text(b, "Remote-MTA: dns; ", r->remote_mta, false);
    if (r->diagnostic != NULL && r->diagnostic[0] != '\0')
        put_text(b, "Diagnostic-Code: smtp; ", r->diagnostic, false);
    if (r->last_attempt != 0) {
        put_date(date, r->last_attempt);
        buf_addf(b, "Last-Attempt-Date: %s\r\n", date);
    }
    if (in->kind == DSN_DELAY && in->retry_until != 0) {
        put_date(date, in->retry_until);
        buf_addf(b, "Will-Retry-Until: %s\r\n", date);
    }
}

/* Part 2: per-message fields, then each recipient's (RFC 3464 2.1). */
static void
compose_status(struct dsn_buf *b, const struct dsn_ctx *c)
{
    const struct dsn_input *in = c->in;
    char date[DSN_DATE_CAP];

    buf_addf(b, "Reporting-MTA: dns; %s\r\n", c->host);
    put_text(b, "X-Gate26-Queue-ID: ", c->id, false);
    if (in->envid != NULL)
        put_text(b, "Original-Envelope-Id: ", in->envid, false);
    put_date(date, in->arrival.tv_sec);
    buf_addf(b, "Arrival-Date: %s\r\n", date);
    for (size_t i = 0; i < in->n_rcpts; i++) {
        buf_add(b, "\r\n", 2);
        put_rcpt_fields(b, c, &in->rcpts[i]);
    }
}

/* Part 1: the explanation for people. */
static void
compose_text(struct dsn_buf *b, const struct dsn_ctx *c)
{
    const struct dsn_input *in = c->in;
    char date[DSN_DATE_CAP];

    buf_addf(b, "This is the mail system at host %s.\r\n\r\n", c->host);
    if (in->kind == DSN_FAILURE) {
        buf_adds(b, "Your message could not be delivered to one or more of its recipients.\r\n"
                    "Delivery to the addresses below has failed and will not be tried\r\n"
                    "again. Each address is followed by the reason: the answer of the\r\n"
                    "receiving server, or our own.\r\n\r\n");
        buf_adds(b, c->full
                        ? "The message itself is attached at the end of this report.\r\n"
                        : "The header of the message is attached at the end of this report.\r\n");
        buf_adds(b, "If you need help, send this report to your postmaster.\r\n");
    } else {
        buf_adds(b, "Your message has not been delivered yet to one or more of its\r\n"
                    "recipients. It is still in our queue and delivery is being tried\r\n"
                    "again; you do not need to send it again.\r\n");
        if (in->retry_until != 0) {
            put_date(date, in->retry_until);
            buf_addf(b, "We will keep trying until %s.\r\n", date);
        }
        buf_adds(b, "You will get another report if it cannot be delivered in the end.\r\n");
    }
    buf_add(b, "\r\n", 2);
    put_text(b, "Queue ID: ", c->id, false);
    buf_add(b, "\r\n", 2);
    for (size_t i = 0; i < in->n_rcpts; i++) {
        const struct dsn_rcpt *r = &in->rcpts[i];
        char addr[DSN_TEXT_MAX + 1], reason[DSN_TEXT_MAX + 1], *line;
        size_t alen = dsn_clean(addr, DSN_TEXT_MAX, r->addr, in->smtputf8);
        size_t rlen = dsn_clean(reason, DSN_TEXT_MAX, r->reason ? r->reason : "", false);
        size_t n = 0;

        line = xmalloc(alen + rlen + 8);
        line[n++] = '<';
        memcpy(line + n, addr, alen);
        n += alen;
        memcpy(line + n, ">:", 2);
        n += 2;
        if (rlen > 0) {
            line[n++] = ' ';
            memcpy(line + n, reason, rlen);
            n += rlen;
        }
        put_folded(b, "", line, n);
        free(line);
    }
}

/* ------------------------------------------------------------ the report */

/* Writes s and notes where, to write over it later (not once b is full). */
static void
put_slot(struct dsn_buf *b, size_t *slots, size_t *n, size_t max, const char *s)
{
    if (*n >= max)
        log_panic("dsn: slot table too small");
    slots[(*n)++] = b->len;
    buf_adds(b, s);
}

static void
put_boundary(struct dsn_buf *b, struct dsn_slots *sl, const char *boundary)
{
    put_slot(b, sl->boundary, &sl->n_boundary, sizeof sl->boundary / sizeof sl->boundary[0],
             boundary);
}

static void
put_cte_slot(struct dsn_buf *b, struct dsn_slots *sl)
{
    buf_adds(b, "Content-Transfer-Encoding: ");
    put_slot(b, sl->cte, &sl->n_cte, sizeof sl->cte / sizeof sl->cte[0], "7bit");
    buf_add(b, "\r\n", 2);
}

static void
new_boundary(char *out, const char *idtok)
{
    char hex[17];

    hex16(hex, dsn_random64());
    (void)snprintf(out, DSN_BOUNDARY_CAP, "=_%s.%s", idtok, hex);
}

/* The report's own header (RFC 5322 3.6, RFC 3834 5, RFC 6522 3). */
static void
compose_header(struct dsn_buf *b, struct dsn_slots *sl, const struct dsn_ctx *c, time_t now,
               const char *boundary)
{
    static atomic_uint_fast64_t seq;
    const struct dsn_input *in = c->in;
    char date[DSN_DATE_CAP], to[DSN_TEXT_MAX + 3], rnd[17];
    size_t n;

    put_date(date, now);
    buf_addf(b, "Date: %s\r\n", date);
    buf_addf(b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", c->host);
    to[0] = '<';
    n = 1 + dsn_clean(to + 1, DSN_TEXT_MAX, in->sender, in->smtputf8);
    to[n++] = '>';
    put_folded(b, "To: ", to, n);
    buf_adds(b, in->kind == DSN_DELAY ? "Subject: Delayed Mail (still being retried)\r\n"
                                      : "Subject: Undelivered Mail Returned to Sender\r\n");
    hex16(rnd, dsn_random64());
    buf_addf(b, "Message-ID: <%s.%lld.%llu.%s@%s>\r\n", c->idtok, (long long)now,
             (unsigned long long)atomic_fetch_add(&seq, 1), rnd, c->host);
    buf_adds(b, "MIME-Version: 1.0\r\n");
    buf_adds(b, "Content-Type: multipart/report; report-type=delivery-status;\r\n"
                " boundary=\"");
    put_boundary(b, sl, boundary);
    buf_adds(b, "\"\r\n");
    put_cte_slot(b, sl);
    buf_adds(b, "Auto-Submitted: auto-replied\r\n\r\n");
    buf_adds(b, "This is a delivery status notification in MIME format.\r\n");
}

/* "\r\n--" boundary "\r\n": the CRLF before it belongs to the delimiter (RFC 2046 5.1.1). */
static void
put_delimiter(struct dsn_buf *b, struct dsn_slots *sl, const char *boundary)
{
    buf_adds(b, "\r\n--");
    put_boundary(b, sl, boundary);
    buf_add(b, "\r\n", 2);
}

/* Reads len octets at off from fd into dst; a short file is an error too. */
static int
read_at(int fd, off_t off, char *dst, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = pread(fd, dst + done, len - done, off + (off_t)done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = ENODATA;
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

/*
 * The header of the len octets at p: up to and including the first empty
 * line (RFC 5322 2.1). Without one, the whole of it when whole is true,
 * else up to the last line end.
 */
static size_t
header_len(const char *p, size_t len, bool whole)
{
    const char *end, *last;

    if (len >= 2 && p[0] == '\r' && p[1] == '\n')
        return 2;
    end = memmem(p, len, "\r\n\r\n", 4);
    if (end != NULL)
        return (size_t)(end - p) + 4;
    if (whole)
        return len;
    for (last = p + len; last - p >= 2; last--) {
        if (last[-2] == '\r' && last[-1] == '\n')
            return (size_t)(last - p);
    }
    return len;
}

/* True when boundary occurs in one of the n regions [at, at + len) of b. */
static bool
boundary_found(const struct dsn_buf *b, const struct dsn_region *regions, size_t n,
               const char *boundary)
{
    size_t blen = strlen(boundary);

    for (size_t i = 0; i < n; i++) {
        if (memmem(b->p + regions[i].at, regions[i].len, boundary, blen) != NULL)
            return true;
    }
    return false;
}

/*
 * Appends the returned content (want octets read, of which the header only
 * when !c->full) and notes where it lies. The close delimiter's room is
 * taken at the same time, so a large message is not moved by a realloc.
 * Returns 0, or -1 (logged) when the message could not be read.
 */
static int
read_original(struct dsn_buf *b, const struct dsn_ctx *c, size_t want, struct dsn_region *where)
{
    const struct dsn_input *in = c->in;
    size_t got;

    where->at = b->len;
    where->len = 0;
    if (buf_room(b, want + DSN_BOUNDARY_CAP + 8) == NULL)
        return 0; /* b is full: the caller reports it */
    if (read_at(in->fd, in->content_off, b->p + b->len, want) == -1) {
        log_warning("%s: event=dsn, error=\"reading the message: %s\"", c->id, strerror(errno));
        return -1;
    }
    got = c->full ? want : header_len(b->p + b->len, want, want == in->content_len);
    where->len = got;
    b->len += got;
    return 0;
}

/*
 * RFC 2046 5.1.1: the boundary must not occur in any part. While it does,
 * new random digits are written over each place it was used (the length
 * stays). Returns 0, or -1 after DSN_BOUNDARY_TRIES tries.
 */
static int
settle_boundary(struct dsn_buf *b, const struct dsn_slots *sl, const struct dsn_region *regions,
                char *boundary, const char *idtok)
{
    for (int tries = 0; boundary_found(b, regions, 3, boundary); tries++) {
        if (tries == DSN_BOUNDARY_TRIES)
            return -1;
        new_boundary(boundary, idtok);
        for (size_t i = 0; i < sl->n_boundary; i++)
            memcpy(b->p + sl->boundary[i], boundary, strlen(boundary));
    }
    return 0;
}

static void
check_input(const struct dsn_input *in)
{
    if (in == NULL || in->hostname == NULL || in->id == NULL || in->sender == NULL ||
        in->sender[0] == '\0' || in->rcpts == NULL || in->n_rcpts == 0)
        log_panic("dsn: incomplete input");
    for (size_t i = 0; i < in->n_rcpts; i++) {
        if (in->rcpts[i].addr == NULL)
            log_panic("dsn: recipient %zu without an address", i);
    }
}

int
dsn_compose(const struct dsn_input *in, time_t now, char **out, size_t *out_len)
{
    struct dsn_ctx c;
    struct dsn_buf p1, p2, b;
    struct dsn_slots sl = {0};
    char boundary[DSN_BOUNDARY_CAP];
    size_t rcpt_room, want;
    struct dsn_region regions[3];
    bool eight;

    check_input(in);
    c.in = in;
    (void)dsn_clean(c.host, CAP_HOSTNAME, in->hostname, false);
    (void)dsn_clean(c.id, DSN_TEXT_MAX, in->id, false);
    id_token(c.idtok, in->id);
    c.full = in->ret == SPOOL_RET_FULL ||
             (in->ret == SPOOL_RET_UNSPEC && in->content_len <= DSN_FULL_MAX);

    if (in->content_off < 0 || in->content_len > (uint64_t)INT64_MAX - (uint64_t)in->content_off ||
        in->content_len > SIZE_MAX / 2) {
        log_warning("%s: event=dsn, error=\"content at %lld of %llu octets cannot be read\"", c.id,
                    (long long)in->content_off, (unsigned long long)in->content_len);
        errno = EIO;
        return -1;
    }
    want = (size_t)in->content_len;
    if (!c.full && want > DSN_HDRS_MAX)
        want = DSN_HDRS_MAX;

    rcpt_room = size_muladd(in->n_rcpts, DSN_RCPT_ROOM, DSN_BASE_ROOM);
    buf_init(&p1, rcpt_room);
    buf_init(&p2, rcpt_room);
    compose_text(&p1, &c);
    compose_status(&p2, &c);
    buf_init(&b, p1.len + p2.len + want + DSN_BASE_ROOM);

    new_boundary(boundary, c.idtok);
    compose_header(&b, &sl, &c, now, boundary);

    put_delimiter(&b, &sl, boundary);
    buf_adds(&b, "Content-Description: Notification\r\n");
    if (has_8bit(p1.p, p1.len))
        buf_adds(&b, "Content-Type: text/plain; charset=utf-8\r\n"
                     "Content-Transfer-Encoding: 8bit\r\n\r\n");
    else
        buf_adds(&b, "Content-Type: text/plain; charset=us-ascii\r\n\r\n");
    regions[0].at = b.len;
    buf_add(&b, p1.p, p1.len);
    regions[0].len = p1.len;

    put_delimiter(&b, &sl, boundary);
    buf_adds(&b, "Content-Description: Delivery report\r\n");
    buf_adds(&b, in->smtputf8 ? "Content-Type: message/global-delivery-status\r\n"
                              : "Content-Type: message/delivery-status\r\n");
    if (has_8bit(p2.p, p2.len))
        buf_adds(&b, "Content-Transfer-Encoding: 8bit\r\n");
    buf_add(&b, "\r\n", 2);
    regions[1].at = b.len;
    buf_add(&b, p2.p, p2.len);
    regions[1].len = p2.len;
    eight = has_8bit(p1.p, p1.len) || has_8bit(p2.p, p2.len);
    if (p1.full || p2.full)
        b.full = true;
    buf_clear(&p1);
    buf_clear(&p2);

    put_delimiter(&b, &sl, boundary);
    if (c.full)
        buf_adds(&b, in->smtputf8 ? "Content-Description: Undelivered message\r\n"
                                    "Content-Type: message/global\r\n"
                                  : "Content-Description: Undelivered message\r\n"
                                    "Content-Type: message/rfc822\r\n");
    else
        buf_adds(&b, in->smtputf8 ? "Content-Description: Message header\r\n"
                                    "Content-Type: message/global-headers\r\n"
                                  : "Content-Description: Message header\r\n"
                                    "Content-Type: text/rfc822-headers\r\n");
    put_cte_slot(&b, &sl);
    buf_add(&b, "\r\n", 2);

    if (read_original(&b, &c, want, &regions[2]) == -1) {
        buf_clear(&b);
        errno = EIO;
        return -1;
    }
    buf_adds(&b, "\r\n--");
    put_boundary(&b, &sl, boundary);
    buf_adds(&b, "--\r\n");
    if (b.full) {
        log_warning("%s: event=dsn, error=\"the report would pass its cap of %zu octets\"", c.id,
                    b.cap);
        buf_clear(&b);
        errno = EMSGSIZE;
        return -1;
    }

    /* RFC 2045 6.4: 8-bit content, and the multipart holding it, say so. */
    if (has_8bit(b.p + regions[2].at, regions[2].len)) {
        eight = true;
        memcpy(b.p + sl.cte[1], "8bit", 4);
    }
    if (eight)
        memcpy(b.p + sl.cte[0], "8bit", 4);

    if (settle_boundary(&b, &sl, regions, boundary, c.idtok) == -1) {
        log_warning("%s: event=dsn, error=\"no boundary found that the message lacks\"", c.id);
        buf_clear(&b);
        errno = EAGAIN;
        return -1;
    }
    *out = b.p;
    *out_len = b.len;
    return 0;
}
