/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for dsn.c. A table of reports (hostile rows: CR, LF, NUL and
 * 8-bit octets in reasons and replies, very long texts, ORCPT and ENVID
 * forms, invalid statuses, SMTPUTF8, every RET and the DSN_FULL_MAX edge,
 * content without a blank line, empty content, content holding
 * boundary-like text) is composed from a temporary file, split along its
 * boundary and checked: the MIME frame, CRLF line ends, lines of at most 998
 * octets, 7-bit text outside the returned message, the fields wanted and
 * unwanted, and the returned content byte for byte. Separate tests cover
 * the top-level header, several recipients, read errors and a boundary
 * that has to be chosen again (getrandom is wrapped at link time, so the
 * test decides the "random" digits).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sched/dsn.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define NOW     ((time_t)1700003600) /* Tue, 14 Nov 2023 23:13:20 +0000 */
#define ARRIVAL ((time_t)1700000000) /* Tue, 14 Nov 2023 22:13:20 +0000 */
#define UNTIL   ((time_t)1700086400) /* Wed, 15 Nov 2023 22:13:20 +0000 */
#define LAST    ((time_t)1700001800) /* Tue, 14 Nov 2023 22:43:20 +0000 */
#define QID     "0123456789ABCDEF"

/* Octets before the content in the temporary file, like the envelope. */
#define PREFIX "ENVELOPE RECORDS\n"

/* ------------------------------------------------------------ getrandom */

/*
 * The test's getrandom (linked with --wrap=getrandom): values queued by a
 * test come first, then the real one. fail_random makes it fail instead,
 * repeat_random return queued_random[0] every time.
 */
ssize_t __wrap_getrandom(void *buf, size_t len, unsigned flags);
ssize_t __real_getrandom(void *buf, size_t len, unsigned flags);

static uint64_t queued_random[8];
static size_t n_queued_random, next_random;
static bool fail_random, repeat_random;

ssize_t
__wrap_getrandom(void *buf, size_t len, unsigned flags)
{
    if (fail_random) {
        errno = EAGAIN;
        return -1;
    }
    if (repeat_random && len == sizeof(uint64_t)) {
        memcpy(buf, &queued_random[0], len);
        return (ssize_t)len;
    }
    if (next_random < n_queued_random && len == sizeof(uint64_t)) {
        memcpy(buf, &queued_random[next_random++], len);
        return (ssize_t)len;
    }
    return __real_getrandom(buf, len, flags);
}

/* ------------------------------------------------------------ contents */

enum content {
    C_SIMPLE,   /* a header, a blank line, a body */
    C_SIZED,    /* C_SIMPLE's header, then body lines up to .size octets */
    C_NOBLANK,  /* header lines only, no blank line */
    C_EMPTY,    /* zero octets */
    C_NOHEADER, /* starts with the blank line */
    C_BOUNDARY, /* lines that look like our boundaries */
    C_8BIT,     /* 8-bit octets in header and body */
    C_NOEOL,    /* the last line has no CRLF */
};

#define SIMPLE_HDR "Subject: hello\r\nFrom: <sender@example.org>\r\n\r\n"

struct content_buf {
    char *p;
    size_t len;
    size_t hdr_len; /* what RET=HDRS returns */
};

static void
make_content(enum content kind, size_t size, struct content_buf *out)
{
    static const char boundaryish[] = "Subject: --=_" QID ".0000000000000000\r\n"
                                      "X-B: =_" QID ".\r\n\r\n"
                                      "--=_" QID ".ffffffffffffffff\r\n"
                                      "--=_" QID ".ffffffffffffffff--\r\n"
                                      "This is a delivery status notification in MIME format.\r\n";
    static const char eight[] = "Subject: caf\xc3\xa9\r\n\r\n\xff\xfe body \x80\r\n";
    const char *s = NULL;

    switch (kind) {
    case C_SIMPLE:
        s = SIMPLE_HDR "body line\r\n";
        out->hdr_len = strlen(SIMPLE_HDR);
        break;
    case C_NOBLANK:
        s = "Subject: no body\r\nX-A: 1\r\n";
        out->hdr_len = strlen(s);
        break;
    case C_EMPTY:
        s = "";
        out->hdr_len = 0;
        break;
    case C_NOHEADER:
        s = "\r\nbody only\r\n\r\nmore\r\n";
        out->hdr_len = 2;
        break;
    case C_BOUNDARY:
        s = boundaryish;
        out->hdr_len = strstr(s, "\r\n\r\n") + 4 - s;
        break;
    case C_8BIT:
        s = eight;
        out->hdr_len = strstr(s, "\r\n\r\n") + 4 - s;
        break;
    case C_NOEOL:
        s = "Subject: x\r\n\r\nno line end";
        out->hdr_len = strlen("Subject: x\r\n\r\n");
        break;
    case C_SIZED:
        break;
    }
    if (s != NULL) {
        out->len = strlen(s);
        out->p = malloc(out->len + 1);
        assert_non_null(out->p);
        memcpy(out->p, s, out->len + 1);
        return;
    }
    /* C_SIZED: lines of 78 octets plus CRLF (the last ones may differ). */
    assert_true(size >= strlen(SIMPLE_HDR) + 2);
    out->p = malloc(size);
    assert_non_null(out->p);
    memcpy(out->p, SIMPLE_HDR, strlen(SIMPLE_HDR));
    out->hdr_len = strlen(SIMPLE_HDR);
    for (size_t i = out->hdr_len, col = 0; i < size; i++, col++) {
        if (i + 2 == size || (col >= 78 && i + 4 <= size)) {
            out->p[i++] = '\r';
            out->p[i] = '\n';
            col = (size_t)-1;
        } else {
            out->p[i] = (char)('a' + i % 26);
        }
    }
    out->len = size;
}

/* A temporary file (already unlinked) holding PREFIX and then len octets. */
static int
temp_fd(const char *p, size_t len)
{
    char path[] = "/tmp/gate26-dsn-test-XXXXXX";
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(write(fd, PREFIX, strlen(PREFIX)), (ssize_t)strlen(PREFIX));
    if (len > 0)
        assert_int_equal(write(fd, p, len), (ssize_t)len);
    return fd;
}

/* ------------------------------------------------------------ reports */

struct part {
    const char *hdr; /* the part's header, with its blank line */
    size_t hdr_len;
    const char *body;
    size_t body_len;
};

struct report {
    char *p;
    size_t len;
    size_t hdr_len; /* the report's own header, with its blank line */
    char boundary[128];
    struct part part[3];
};

static const char *
find(const char *p, size_t len, const char *s)
{
    return memmem(p, len, s, strlen(s));
}

/* Splits r->p along its boundary (RFC 2046 5.1.1) and checks the frame. */
static void
split_report(struct report *r)
{
    const char *end = r->p + r->len, *hend, *b, *q, *at;
    char delim[160];
    size_t blen;

    hend = find(r->p, r->len, "\r\n\r\n");
    assert_non_null(hend);
    r->hdr_len = (size_t)(hend + 4 - r->p);
    b = find(r->p, r->hdr_len, "boundary=\"");
    assert_non_null(b);
    b += strlen("boundary=\"");
    q = memchr(b, '"', r->hdr_len - (size_t)(b - r->p));
    assert_non_null(q);
    blen = (size_t)(q - b);
    assert_true(blen > 0 && blen <= 70);
    memcpy(r->boundary, b, blen);
    r->boundary[blen] = '\0';
    (void)snprintf(delim, sizeof delim, "\r\n--%s", r->boundary);

    at = find(hend + 2, (size_t)(end - hend - 2), delim);
    assert_non_null(at);
    for (int i = 0; i < 3; i++) {
        const char *start = at + strlen(delim), *next, *phend;

        assert_memory_equal(start, "\r\n", 2);
        start += 2;
        next = find(start, (size_t)(end - start), delim);
        assert_non_null(next);
        phend = find(start, (size_t)(next - start), "\r\n\r\n");
        assert_non_null(phend);
        r->part[i].hdr = start;
        r->part[i].hdr_len = (size_t)(phend + 4 - start);
        r->part[i].body = phend + 4;
        r->part[i].body_len = (size_t)(next - (phend + 4));
        at = next;
    }
    /* the close delimiter, and nothing after it */
    assert_int_equal((size_t)(end - at), strlen(delim) + 4);
    assert_memory_equal(at + strlen(delim), "--\r\n", 4);
}

/* Every line in p ends in CRLF and has at most 998 octets before it. */
static void
check_lines(const char *p, size_t len)
{
    size_t col = 0;

    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\r') {
            assert_true(i + 1 < len && p[i + 1] == '\n');
            i++;
            col = 0;
            continue;
        }
        assert_true(p[i] != '\n');
        col++;
        if (col > 998)
            fail_msg("a line of more than 998 octets at %zu", i);
    }
    assert_true(len == 0 || col == 0);
}

static bool
is_7bit(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)p[i] >= 0x80 || p[i] == '\0')
            return false;
    }
    return true;
}

/* Checks what every report must be. */
static void
check_report(struct report *r, bool allow_8bit)
{
    split_report(r);
    /* everything but the returned content: lines, and 7-bit unless allowed */
    check_lines(r->p, (size_t)(r->part[2].body - r->p));
    if (!allow_8bit)
        assert_true(is_7bit(r->p, (size_t)(r->part[2].body - r->p)));
    /* the boundary occurs in no part */
    for (int i = 0; i < 3; i++) {
        assert_null(find(r->part[i].body, r->part[i].body_len, r->boundary));
        assert_null(find(r->part[i].hdr, r->part[i].hdr_len, r->boundary));
    }
    assert_non_null(find(r->p, r->hdr_len, "\r\nAuto-Submitted: auto-replied\r\n"));
    assert_non_null(find(r->p, r->hdr_len, "\r\nMIME-Version: 1.0\r\n"));
    assert_non_null(
        find(r->p, r->hdr_len, "Content-Type: multipart/report; report-type=delivery-status;"));
}

/* Everything before the returned content, as a C string (the caller frees). */
static char *
text_of(const struct report *r)
{
    size_t n = (size_t)(r->part[2].body - r->p);
    char *s = malloc(n + 1);

    assert_non_null(s);
    memcpy(s, r->p, n);
    s[n] = '\0';
    return s;
}

static void
input_init(struct dsn_input *in, const struct dsn_rcpt *rcpts, size_t n)
{
    memset(in, 0, sizeof *in);
    in->kind = DSN_FAILURE;
    in->hostname = "mx.gate26.test";
    in->id = QID;
    in->sender = "sender@example.org";
    in->ret = SPOOL_RET_UNSPEC;
    in->arrival.tv_sec = ARRIVAL;
    in->retry_until = UNTIL;
    in->rcpts = rcpts;
    in->n_rcpts = n;
    in->fd = -1;
}

/* ------------------------------------------------------------ the table */

enum part3 {
    P3_FULL,
    P3_HDRS,
};

struct row {
    const char *name;
    enum dsn_kind kind;
    enum spool_ret ret;
    bool smtputf8;
    const char *envid;
    struct dsn_rcpt rcpt;
    enum content content;
    size_t size; /* C_SIZED */
    enum part3 part3;
    bool allow_8bit; /* outside part 3 */
    const char *want[10];
    const char *unwanted[6];
};

#define RCPT_OK(...)                                                                               \
    {                                                                                              \
        "rcpt@example.com", NULL, "5.1.1", "mx.example.com", __VA_ARGS__                           \
    }
#define BASIC RCPT_OK("550 5.1.1 no such user", "550 5.1.1 no such user", LAST)

static char long_words[6000]; /* "word word ..." */
static char long_token[3000]; /* one token of 2999 octets */
static char long_mixed[6000]; /* long tokens and short words */
static char crlf_flood[4000]; /* CR LF pairs between words */

static const struct row rows[] = {
    {"failure, RET unspec, small: whole message",
     DSN_FAILURE,
     SPOOL_RET_UNSPEC,
     false,
     NULL,
     BASIC,
     C_SIMPLE,
     0,
     P3_FULL,
     false,
     {"Subject: Undelivered Mail Returned to Sender\r\n", "Reporting-MTA: dns; mx.gate26.test\r\n",
      "X-Gate26-Queue-ID: " QID "\r\n", "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n",
      "\r\n\r\nFinal-Recipient: rfc822; rcpt@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
      "Remote-MTA: dns; mx.example.com\r\nDiagnostic-Code: smtp; 550 5.1.1 no such user\r\n"
      "Last-Attempt-Date: Tue, 14 Nov 2023 22:43:20 +0000\r\n",
      "<rcpt@example.com>: 550 5.1.1 no such user\r\n", "Queue ID: " QID "\r\n",
      "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 7bit\r\n",
      "\"\r\nContent-Transfer-Encoding: 7bit\r\nAuto-Submitted: auto-replied\r\n"},
     {"Original-Envelope-Id", "Original-Recipient", "Will-Retry-Until", "message/global",
      "charset=utf-8"}},
    {"delay",
     DSN_DELAY,
     SPOOL_RET_UNSPEC,
     false,
     NULL,
     {"rcpt@example.com", NULL, "4.4.1", NULL, NULL, "connection timed out", 0},
     C_SIMPLE,
     0,
     P3_FULL,
     false,
     {"Subject: Delayed Mail (still being retried)\r\n",
      "Final-Recipient: rfc822; rcpt@example.com\r\nAction: delayed\r\nStatus: 4.4.1\r\n"
      "Will-Retry-Until: Wed, 15 Nov 2023 22:13:20 +0000\r\n",
      "Wed, 15 Nov 2023 22:13:20 +0000.\r\n", "<rcpt@example.com>: connection timed out\r\n"},
     {"Remote-MTA", "Diagnostic-Code", "Last-Attempt-Date", "Action: failed"}},
    {"CRLF in the reason and the diagnostic",
     DSN_FAILURE,
     SPOOL_RET_UNSPEC,
     false,
     NULL,
     RCPT_OK("550 bad\r\nSubject: injected\r\n\r\nhi", "bad\r\nSubject: injected\r\n", 0),
     C_SIMPLE,
     0,
     P3_FULL,
     false,
     {"Diagnostic-Code: smtp; 550 bad??Subject: injected????hi\r\n",
      "<rcpt@example.com>: bad??Subject: injected??\r\n"},
     {"\r\nSubject: injected", "Last-Attempt-Date"}},
    {"NUL, TAB and 8-bit octets in texts",
     DSN_FAILURE,
     SPOOL_RET_UNSPEC,
     false,
     NULL,
     RCPT_OK("550 caf\xc3\xa9\tX\x01\x7f", "refus\xe9\0 hidden", 0),
     C_SIMPLE,
     0,
     P3_FULL,
     false,
     {"Diagnostic-Code: smtp; 550 caf???X??\r\n", "<rcpt@example.com>: refus?\r\n"},
     {"hidden"}},
    {"a very long diagnostic: folded, cut at 2048 octets",
     DSN_FAILURE,
     SPOOL_RET_UNSPEC,
     false,
     NULL,
     RCPT_OK(long_words, long_words, 0),
     C_SIMPLE,
     0,
     P3_FULL,
     false,
     {"Diagnostic-Code: smtp; 550 word word", "\r\n word word", "...\r\n"},
     {NULL}},
    {"one token longer than a line: cut",
     DSN_FAILURE,
     SPOOL_RET_UNSPEC,
     false,
     NULL,
     RCPT_OK(long_token, long_mixed, 0),
     C_SIMPLE,
     0,
     P3_FULL,
     false,
     {"Diagnostic-Code: smtp; xxxxxxxx", "xxx...\r\n"},
     {NULL}},
    {"CR LF floods",
     DSN_FAILURE,
     SPOOL_RET_UNSPEC,
     false,
     NULL,
     RCPT_OK(crlf_flood, crlf_flood, 0),
     C_SIMPLE,
     0,
     P3_FULL,
     false,
     {"Diagnostic-Code: smtp; a??a??"},
     {"\r\na\r\n"}},
    {"ENVID and ORCPT given",
     DSN_FAILURE,
     SPOOL_RET_UNSPEC,
     false,
     "QQ+2B123",
     {"rcpt@example.com", "rfc822;Rcpt+2Btag@Example.COM", "5.1.1", NULL, NULL, "unknown user", 0},
     C_SIMPLE,
     0,
     P3_FULL,
     false,
     {"Original-Envelope-Id: QQ+2B123\r\n",
      "\r\n\r\nOriginal-Recipient: rfc822;Rcpt+tag@Example.COM\r\n"
      "Final-Recipient: rfc822; rcpt@example.com\r\n"},
     {NULL}},
    {"ORCPT decoding to a control octet stays xtext",
     DSN_FAILURE,
     SPOOL_RET_UNSPEC,
     false,
     NULL,
     {"r@x.test", "rfc822;a+0D+0AX-Evil:+20y@x.test", "5.1.1", NULL, NULL, "no", 0},
     C_SIMPLE,
     0,
     P3_FULL,
     false,
     {"Original-Recipient: rfc822;a+0D+0AX-Evil:+20y@x.test\r\n"},
     {"\r\nX-Evil"}},
    {"ORCPT decoding to 8-bit and malformed ORCPTs stay as sent",
     DSN_FAILURE,
     SPOOL_RET_UNSPEC,
     false,
     NULL,
     {"r@x.test", "rfc822;caf+C3+A9@x.test", "5.1.1", NULL, NULL, "no", 0},
     C_SIMPLE,
     0,
     P3_FULL,
     false,
     {"Original-Recipient: rfc822;caf+C3+A9@x.test\r\n"},
     {NULL}},
    {"ORCPT with lower-case hex or a trailing +",
     DSN_FAILURE,
     SPOOL_RET_UNSPEC,
     false,
     NULL,
     {"r@x.test", "x400;a+2bb+", "5.1.1", NULL, NULL, "no", 0},
     C_SIMPLE,
     0,
     P3_FULL,
     false,
     {"Original-Recipient: x400;a+2bb+\r\n"},
     {NULL}},
    {"SMTPUTF8: global types, UTF-8 addresses kept",
     DSN_FAILURE,
     SPOOL_RET_UNSPEC,
     true,
     NULL,
     {"us\xc3\xa9r@example.com", "utf-8;us\xc3\xa9r@example.com", "5.1.1", NULL, "550 caf\xc3\xa9",
      "caf\xc3\xa9", 0},
     C_SIMPLE,
     0,
     P3_FULL,
     true,
     {"Content-Type: message/global-delivery-status\r\nContent-Transfer-Encoding: 8bit\r\n",
      "Content-Type: message/global\r\n", "Content-Type: text/plain; charset=utf-8\r\n",
      "Original-Recipient: utf-8;us\xc3\xa9r@example.com\r\n",
      "Final-Recipient: utf-8; us\xc3\xa9r@example.com\r\n", "Diagnostic-Code: smtp; 550 caf??\r\n",
      "<us\xc3\xa9r@example.com>: caf??\r\n", "boundary=\"=_" QID "."},
     {"message/delivery-status", "message/rfc822"}},
    {"SMTPUTF8: broken UTF-8 in an address",
     DSN_FAILURE,
     SPOOL_RET_HDRS,
     true,
     NULL,
     {"\xff\xc3(\xe0\x80\x80\xed\xa0\x80@x.test", NULL, "5.1.1", NULL, NULL, "no", 0},
     C_SIMPLE,
     0,
     P3_HDRS,
     false,
     {"Final-Recipient: rfc822; ??"
      "(??????@x.test\r\n",
      "Content-Type: message/global-headers\r\n"},
     {NULL}},
    {"no SMTPUTF8: a UTF-8 address is cleaned",
     DSN_FAILURE,
     SPOOL_RET_UNSPEC,
     false,
     NULL,
     {"us\xc3\xa9r@example.com", NULL, "5.1.1", NULL, NULL, "no", 0},
     C_SIMPLE,
     0,
     P3_FULL,
     false,
     {"Final-Recipient: rfc822; us??r@example.com\r\n", "Content-Type: message/delivery-status\r\n",
      "charset=us-ascii"},
     {NULL}},
    {"invalid status: 5.0.0",
     DSN_FAILURE,
     SPOOL_RET_UNSPEC,
     false,
     NULL,
     {"r@x.test", NULL, "5.1.1\r\nX: y", NULL, NULL, "no", 0},
     C_SIMPLE,
     0,
     P3_FULL,
     false,
     {"Status: 5.0.0\r\n"},
     {"X: y"}},
    {"invalid status, delay: 4.0.0",
     DSN_DELAY,
     SPOOL_RET_UNSPEC,
     false,
     NULL,
     {"r@x.test", NULL, "9.1.1", NULL, NULL, "no", 0},
     C_SIMPLE,
     0,
     P3_FULL,
     false,
     {"Status: 4.0.0\r\n"},
     {NULL}},
    {"status with too many digits",
     DSN_FAILURE,
     SPOOL_RET_UNSPEC,
     false,
     NULL,
     {"r@x.test", NULL, "5.1234.1", NULL, NULL, "no", 0},
     C_SIMPLE,
     0,
     P3_FULL,
     false,
     {"Status: 5.0.0\r\n"},
     {NULL}},
    {"status 4.4.7 on a failure is kept",
     DSN_FAILURE,
     SPOOL_RET_UNSPEC,
     false,
     NULL,
     {"r@x.test", NULL, "4.4.7", NULL, NULL, "expired", 0},
     C_SIMPLE,
     0,
     P3_FULL,
     false,
     {"Status: 4.4.7\r\n"},
     {NULL}},
    {"RET=HDRS: header only",
     DSN_FAILURE,
     SPOOL_RET_HDRS,
     false,
     NULL,
     BASIC,
     C_SIMPLE,
     0,
     P3_HDRS,
     false,
     {"Content-Type: text/rfc822-headers\r\n", "The header of the message is attached"},
     {"message/rfc822"}},
    {"RET=FULL: whole even when large",
     DSN_FAILURE,
     SPOOL_RET_FULL,
     false,
     NULL,
     BASIC,
     C_SIZED,
     3 * DSN_FULL_MAX,
     P3_FULL,
     false,
     {"Content-Type: message/rfc822\r\n", "The message itself is attached"},
     {NULL}},
    {"RET unspec, exactly DSN_FULL_MAX: whole",
     DSN_FAILURE,
     SPOOL_RET_UNSPEC,
     false,
     NULL,
     BASIC,
     C_SIZED,
     DSN_FULL_MAX,
     P3_FULL,
     false,
     {"Content-Type: message/rfc822\r\n"},
     {NULL}},
    {"RET unspec, DSN_FULL_MAX + 1: header only",
     DSN_FAILURE,
     SPOOL_RET_UNSPEC,
     false,
     NULL,
     BASIC,
     C_SIZED,
     DSN_FULL_MAX + 1,
     P3_HDRS,
     false,
     {"Content-Type: text/rfc822-headers\r\n"},
     {NULL}},
    {"no blank line, RET=HDRS: all of it",
     DSN_FAILURE,
     SPOOL_RET_HDRS,
     false,
     NULL,
     BASIC,
     C_NOBLANK,
     0,
     P3_HDRS,
     false,
     {NULL},
     {NULL}},
    {"no blank line, RET unspec: whole",
     DSN_FAILURE,
     SPOOL_RET_UNSPEC,
     false,
     NULL,
     BASIC,
     C_NOBLANK,
     0,
     P3_FULL,
     false,
     {NULL},
     {NULL}},
    {"empty content, RET=FULL",
     DSN_FAILURE,
     SPOOL_RET_FULL,
     false,
     NULL,
     BASIC,
     C_EMPTY,
     0,
     P3_FULL,
     false,
     {NULL},
     {NULL}},
    {"empty content, RET=HDRS",
     DSN_FAILURE,
     SPOOL_RET_HDRS,
     false,
     NULL,
     BASIC,
     C_EMPTY,
     0,
     P3_HDRS,
     false,
     {NULL},
     {NULL}},
    {"no header at all, RET=HDRS: the blank line",
     DSN_FAILURE,
     SPOOL_RET_HDRS,
     false,
     NULL,
     BASIC,
     C_NOHEADER,
     0,
     P3_HDRS,
     false,
     {NULL},
     {NULL}},
    {"content with boundary-like lines",
     DSN_FAILURE,
     SPOOL_RET_FULL,
     false,
     NULL,
     BASIC,
     C_BOUNDARY,
     0,
     P3_FULL,
     false,
     {NULL},
     {NULL}},
    {"content with boundary-like lines, RET=HDRS",
     DSN_FAILURE,
     SPOOL_RET_HDRS,
     false,
     NULL,
     BASIC,
     C_BOUNDARY,
     0,
     P3_HDRS,
     false,
     {NULL},
     {NULL}},
    {"8-bit content: labelled 8bit",
     DSN_FAILURE,
     SPOOL_RET_FULL,
     false,
     NULL,
     BASIC,
     C_8BIT,
     0,
     P3_FULL,
     false,
     {"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\n",
      "report-type=delivery-status;\r\n boundary=\"=_" QID,
      "\"\r\nContent-Transfer-Encoding: 8bit\r\nAuto-Submitted: auto-replied\r\n"},
     {NULL}},
    {"last line without CRLF",
     DSN_FAILURE,
     SPOOL_RET_FULL,
     false,
     NULL,
     BASIC,
     C_NOEOL,
     0,
     P3_FULL,
     false,
     {NULL},
     {NULL}},
};

static void
fill_texts(void)
{
    size_t n = 0;

    for (size_t i = 0; n + 5 < sizeof long_words; i++, n += 5)
        memcpy(long_words + n, i == 0 ? "550  " : "word ", 5);
    long_words[n] = '\0';
    memset(long_token, 'x', sizeof long_token - 1);
    long_token[sizeof long_token - 1] = '\0';
    n = 0;
    for (size_t i = 0; n + 1200 < sizeof long_mixed; i++) {
        memset(long_mixed + n, i % 2 ? 'y' : 'z', i % 3 == 0 ? 1100 : 3);
        n += i % 3 == 0 ? 1100 : 3;
        long_mixed[n++] = ' ';
    }
    long_mixed[n] = '\0';
    n = 0;
    while (n + 3 < sizeof crlf_flood) {
        memcpy(crlf_flood + n, "a\r\n", 3);
        n += 3;
    }
    crlf_flood[n] = '\0';
}

static void
run_row(const struct row *t)
{
    struct content_buf cb;
    struct dsn_input in;
    struct report r;
    char *text;
    const char *want_ct;
    int rc;

    make_content(t->content, t->size, &cb);
    input_init(&in, &t->rcpt, 1);
    in.kind = t->kind;
    in.ret = t->ret;
    in.smtputf8 = t->smtputf8;
    in.envid = t->envid;
    in.fd = temp_fd(cb.p, cb.len);
    in.content_off = (off_t)strlen(PREFIX);
    in.content_len = cb.len;

    rc = dsn_compose(&in, NOW, &r.p, &r.len);
    if (rc != 0)
        fail_msg("%s: dsn_compose failed: %s", t->name, strerror(errno));
    assert_int_equal(close(in.fd), 0);
    check_report(&r, t->allow_8bit);
    text = text_of(&r);
    for (size_t i = 0; i < COUNT(t->want) && t->want[i] != NULL; i++) {
        if (strstr(text, t->want[i]) == NULL) {
            fprintf(stderr, "%s\n", text);
            fail_msg("%s: \"%s\" not found (report above)", t->name, t->want[i]);
        }
    }
    for (size_t i = 0; i < COUNT(t->unwanted) && t->unwanted[i] != NULL; i++) {
        if (strstr(text, t->unwanted[i]) != NULL) {
            fprintf(stderr, "%s\n", text);
            fail_msg("%s: \"%s\" found (report above)", t->name, t->unwanted[i]);
        }
    }

    /* part 1 text/plain, part 2 the status, part 3 the original */
    assert_non_null(find(r.part[0].hdr, r.part[0].hdr_len, "Content-Type: text/plain; charset="));
    assert_non_null(find(r.part[1].hdr, r.part[1].hdr_len,
                         t->smtputf8 ? "Content-Type: message/global-delivery-status\r\n"
                                     : "Content-Type: message/delivery-status\r\n"));
    if (t->part3 == P3_FULL) {
        want_ct =
            t->smtputf8 ? "Content-Type: message/global\r\n" : "Content-Type: message/rfc822\r\n";
        assert_int_equal(r.part[2].body_len, cb.len);
        assert_memory_equal(r.part[2].body, cb.p, cb.len);
    } else {
        want_ct = t->smtputf8 ? "Content-Type: message/global-headers\r\n"
                              : "Content-Type: text/rfc822-headers\r\n";
        assert_int_equal(r.part[2].body_len, cb.hdr_len);
        assert_memory_equal(r.part[2].body, cb.p, cb.hdr_len);
    }
    assert_non_null(find(r.part[2].hdr, r.part[2].hdr_len, want_ct));
    assert_non_null(find(r.part[2].hdr, r.part[2].hdr_len,
                         is_7bit(r.part[2].body, r.part[2].body_len)
                             ? "Content-Transfer-Encoding: 7bit\r\n"
                             : "Content-Transfer-Encoding: 8bit\r\n"));
    free(text);
    free(r.p);
    free(cb.p);
}

static void
test_rows(void **state)
{
    (void)state;
    fill_texts();
    for (size_t i = 0; i < COUNT(rows); i++)
        run_row(&rows[i]);
}

/* ------------------------------------------------------------ others */

static int
compose_simple(struct dsn_input *in, struct report *r)
{
    int rc;

    in->fd = temp_fd(SIMPLE_HDR "body\r\n", strlen(SIMPLE_HDR "body\r\n"));
    in->content_off = (off_t)strlen(PREFIX);
    in->content_len = strlen(SIMPLE_HDR "body\r\n");
    rc = dsn_compose(in, NOW, &r->p, &r->len);
    assert_int_equal(close(in->fd), 0);
    return rc;
}

/* The report's own header, field by field. */
static void
test_header(void **state)
{
    struct dsn_rcpt rc = BASIC;
    struct dsn_input in;
    struct report r, r2;
    char *text;

    (void)state;
    input_init(&in, &rc, 1);
    assert_int_equal(compose_simple(&in, &r), 0);
    check_report(&r, false);
    text = text_of(&r);
    assert_true(strncmp(text, "Date: Tue, 14 Nov 2023 23:13:20 +0000\r\n", 39) == 0);
    assert_non_null(
        strstr(text, "\r\nFrom: Mail Delivery System <MAILER-DAEMON@mx.gate26.test>\r\n"));
    assert_non_null(strstr(text, "\r\nTo: <sender@example.org>\r\n"));
    assert_non_null(strstr(text, "\r\nMessage-ID: <" QID ".1700003600."));
    assert_non_null(strstr(text, "@mx.gate26.test>\r\n"));
    assert_non_null(strstr(text, "This is the mail system at host mx.gate26.test.\r\n"));
    assert_true(strncmp(r.boundary, "=_" QID ".", strlen(QID) + 3) == 0);
    assert_int_equal(strlen(r.boundary), strlen(QID) + 3 + 16);

    /* a second report has another Message-ID and boundary */
    assert_int_equal(compose_simple(&in, &r2), 0);
    check_report(&r2, false);
    assert_string_not_equal(r.boundary, r2.boundary);
    {
        const char *a = strstr(r.p, "Message-ID: "), *b = strstr(r2.p, "Message-ID: ");

        assert_non_null(a);
        assert_non_null(b);
        assert_false(strncmp(a, b, (size_t)(strchr(a, '>') - a)) == 0);
    }
    free(text);
    free(r.p);
    free(r2.p);
}

/* Hostile sender, hostname and id still give one header line each. */
static void
test_hostile_header(void **state)
{
    struct dsn_rcpt rc = BASIC;
    struct dsn_input in;
    struct report r;
    char *text;

    (void)state;
    input_init(&in, &rc, 1);
    in.sender = "a\r\nBcc: victim@example.com\r\n@x";
    in.hostname = "host\r\nX: y";
    in.id = "ID\r\n--";
    assert_int_equal(compose_simple(&in, &r), 0);
    check_report(&r, false);
    text = text_of(&r);
    assert_null(strstr(text, "\r\nBcc:"));
    assert_null(strstr(text, "\r\nX: y"));
    assert_non_null(strstr(text, "\r\nTo: <a??Bcc: victim@example.com??@x>\r\n"));
    assert_true(strncmp(r.boundary, "=_ID.", 5) == 0);
    free(text);
    free(r.p);
}

/* Several recipients: one block each, a blank line between, all in part 1. */
static void
test_recipients(void **state)
{
    const struct dsn_rcpt rc[] = {
        {"a@x.test", "rfc822;a@x.test", "5.1.1", "mx.x.test", "550 5.1.1 unknown", "unknown", LAST},
        {"b@y.test", NULL, "5.7.1", NULL, NULL, "relay denied", 0},
        {"c@z.test", NULL, "5.2.2", "mx.z.test", "552 5.2.2 full", "mailbox full", LAST},
    };
    struct dsn_input in;
    struct report r;
    char *p2;

    (void)state;
    input_init(&in, rc, COUNT(rc));
    in.envid = "E1";
    assert_int_equal(compose_simple(&in, &r), 0);
    check_report(&r, false);
    p2 = strndup(r.part[1].body, r.part[1].body_len);
    assert_non_null(p2);
    assert_string_equal(p2, "Reporting-MTA: dns; mx.gate26.test\r\n"
                            "X-Gate26-Queue-ID: " QID "\r\n"
                            "Original-Envelope-Id: E1\r\n"
                            "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
                            "\r\n"
                            "Original-Recipient: rfc822;a@x.test\r\n"
                            "Final-Recipient: rfc822; a@x.test\r\n"
                            "Action: failed\r\n"
                            "Status: 5.1.1\r\n"
                            "Remote-MTA: dns; mx.x.test\r\n"
                            "Diagnostic-Code: smtp; 550 5.1.1 unknown\r\n"
                            "Last-Attempt-Date: Tue, 14 Nov 2023 22:43:20 +0000\r\n"
                            "\r\n"
                            "Final-Recipient: rfc822; b@y.test\r\n"
                            "Action: failed\r\n"
                            "Status: 5.7.1\r\n"
                            "\r\n"
                            "Final-Recipient: rfc822; c@z.test\r\n"
                            "Action: failed\r\n"
                            "Status: 5.2.2\r\n"
                            "Remote-MTA: dns; mx.z.test\r\n"
                            "Diagnostic-Code: smtp; 552 5.2.2 full\r\n"
                            "Last-Attempt-Date: Tue, 14 Nov 2023 22:43:20 +0000\r\n");
    assert_non_null(find(r.part[0].body, r.part[0].body_len,
                         "<a@x.test>: unknown\r\n<b@y.test>: relay denied\r\n"
                         "<c@z.test>: mailbox full\r\n"));
    free(p2);
    free(r.p);
}

/* RET=HDRS with a header longer than the cap and no blank line. */
static void
test_header_cap(void **state)
{
    struct dsn_rcpt rc = BASIC;
    struct dsn_input in;
    struct report r;
    size_t len = 300 * 1024, line = 100, cut;
    char *p = malloc(len);

    (void)state;
    assert_non_null(p);
    for (size_t i = 0; i < len; i++)
        p[i] = i % line == line - 2 ? '\r' : i % line == line - 1 ? '\n' : 'h';
    input_init(&in, &rc, 1);
    in.ret = SPOOL_RET_HDRS;
    in.fd = temp_fd(p, len);
    in.content_off = (off_t)strlen(PREFIX);
    in.content_len = len;
    assert_int_equal(dsn_compose(&in, NOW, &r.p, &r.len), 0);
    assert_int_equal(close(in.fd), 0);
    check_report(&r, false);
    cut = (256 * 1024) / line * line; /* the last whole line within the cap */
    assert_int_equal(r.part[2].body_len, cut);
    assert_memory_equal(r.part[2].body, p, cut);
    free(r.p);
    free(p);
}

/* Reading fails: a closed fd, a directory, a file shorter than said. */
static void
test_read_errors(void **state)
{
    struct dsn_rcpt rc = BASIC;
    struct dsn_input in;
    char *out = NULL;
    size_t out_len = 0;
    int fd;

    (void)state;
    input_init(&in, &rc, 1);
    in.content_len = 100;

    fd = open("/dev/null", O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(close(fd), 0);
    in.fd = fd; /* closed */
    errno = 0;
    assert_int_equal(dsn_compose(&in, NOW, &out, &out_len), -1);
    assert_int_equal(errno, EIO);

    in.fd = open("/tmp", O_RDONLY | O_DIRECTORY);
    assert_true(in.fd >= 0);
    for (int ret = SPOOL_RET_UNSPEC; ret <= SPOOL_RET_HDRS; ret++) {
        in.ret = (enum spool_ret)ret;
        errno = 0;
        assert_int_equal(dsn_compose(&in, NOW, &out, &out_len), -1);
        assert_int_equal(errno, EIO);
    }
    assert_int_equal(close(in.fd), 0);

    in.fd = temp_fd("short\r\n", 7);
    in.content_off = (off_t)strlen(PREFIX);
    in.ret = SPOOL_RET_FULL;
    errno = 0;
    assert_int_equal(dsn_compose(&in, NOW, &out, &out_len), -1);
    assert_int_equal(errno, EIO);

    in.content_off = -1;
    in.content_len = 7;
    errno = 0;
    assert_int_equal(dsn_compose(&in, NOW, &out, &out_len), -1);
    assert_int_equal(errno, EIO);
    assert_int_equal(close(in.fd), 0);
    assert_null(out);
    assert_int_equal(out_len, 0);
}

/*
 * The first boundary occurs in the content: new digits are written over
 * each place it was used. getrandom's queue: the first boundary, the
 * Message-ID, then the second boundary.
 */
static void
test_boundary_again(void **state)
{
    static const char content[] = "Subject: x\r\n\r\n--=_" QID ".00000000000000aa\r\n";
    struct dsn_rcpt rc = BASIC;
    struct dsn_input in;
    struct report r;
    char *text;

    (void)state;
    queued_random[0] = 0xaa;
    queued_random[1] = 0x1234;
    queued_random[2] = 0xbb;
    n_queued_random = 3;
    next_random = 0;
    input_init(&in, &rc, 1);
    in.ret = SPOOL_RET_FULL;
    in.fd = temp_fd(content, strlen(content));
    in.content_off = (off_t)strlen(PREFIX);
    in.content_len = strlen(content);
    assert_int_equal(dsn_compose(&in, NOW, &r.p, &r.len), 0);
    assert_int_equal(close(in.fd), 0);
    assert_int_equal(next_random, 3);
    n_queued_random = 0;
    check_report(&r, false);
    assert_string_equal(r.boundary, "=_" QID ".00000000000000bb");
    assert_int_equal(r.part[2].body_len, strlen(content));
    assert_memory_equal(r.part[2].body, content, strlen(content));
    text = text_of(&r);
    assert_non_null(strstr(text, "<" QID ".1700003600."));
    assert_non_null(strstr(text, ".0000000000001234@mx.gate26.test>"));
    assert_null(strstr(text, "00000000000000aa"));
    free(text);
    free(r.p);
}

/*
 * The same "random" digits every time, and the content holds the boundary
 * they make: after DSN_BOUNDARY_TRIES the report is refused (EAGAIN) and
 * nothing leaks.
 */
static void
test_boundary_never_free(void **state)
{
    static const char content[] = "--=_" QID ".00000000000000aa\r\n";
    struct dsn_rcpt rc = BASIC;
    struct dsn_input in;
    char *out = NULL;
    size_t out_len = 0;

    (void)state;
    queued_random[0] = 0xaa;
    repeat_random = true;
    input_init(&in, &rc, 1);
    in.ret = SPOOL_RET_FULL;
    in.fd = temp_fd(content, strlen(content));
    in.content_off = (off_t)strlen(PREFIX);
    in.content_len = strlen(content);
    errno = 0;
    assert_int_equal(dsn_compose(&in, NOW, &out, &out_len), -1);
    assert_int_equal(errno, EAGAIN);
    assert_null(out);
    repeat_random = false;
    /* with real randomness the same message goes */
    assert_int_equal(dsn_compose(&in, NOW, &out, &out_len), 0);
    assert_int_equal(close(in.fd), 0);
    free(out);
}

/* Without getrandom the fallback still gives distinct boundaries. */
static void
test_no_getrandom(void **state)
{
    struct dsn_rcpt rc = BASIC;
    struct dsn_input in;
    struct report a, b;

    (void)state;
    fail_random = true;
    input_init(&in, &rc, 1);
    assert_int_equal(compose_simple(&in, &a), 0);
    assert_int_equal(compose_simple(&in, &b), 0);
    fail_random = false;
    check_report(&a, false);
    check_report(&b, false);
    assert_string_not_equal(a.boundary, b.boundary);
    free(a.p);
    free(b.p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),           cmocka_unit_test(test_header),
        cmocka_unit_test(test_hostile_header), cmocka_unit_test(test_recipients),
        cmocka_unit_test(test_header_cap),     cmocka_unit_test(test_read_errors),
        cmocka_unit_test(test_boundary_again), cmocka_unit_test(test_boundary_never_free),
        cmocka_unit_test(test_no_getrandom),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
