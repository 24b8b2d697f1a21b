/* SPDX-License-Identifier: MIT */
/*
 * The Message-ID extractor (msgid.h). A state machine over the octets of
 * the header section, which may arrive split anywhere: the state says where
 * the last octet left us (a line start, a field name, a line to skip, the
 * Message-ID's body, the start of a line that may continue it). Lines end
 * in LF; a CR is dropped wherever it is (a bare CR or LF gets the message
 * refused by the session anyway, and the scan only has to stay bounded).
 * Lines of no interest are skipped with memchr(), so a header costs about
 * what reading it once costs, and the content after it nothing.
 */
#include <string.h>

#include "lib/log.h"
#include "smtp/msgid.h"

enum ms_state {
    MS_BOL,       /* at a line start */
    MS_NAME,      /* in a field name */
    MS_NAME_WSP,  /* WSP after a field name, before its colon (obsolete syntax) */
    MS_SKIP,      /* the rest of a line of another field */
    MS_VALUE,     /* in the Message-ID's body */
    MS_VALUE_BOL, /* at a line start after the Message-ID's line: folded, or the field ended */
};

void
msgid_scan_init(struct msgid_scan *m)
{
    msgid_scan_init_field(m, "message-id");
}

void
msgid_scan_init_field(struct msgid_scan *m, const char *field)
{
    m->field = field;
    m->field_len = strlen(field);
    m->state = MS_BOL;
    m->name = 0;
    m->seen = 0;
    m->done = false;
    m->found = false;
    m->cut = false;
    m->len = 0;
}

static bool
is_wsp(unsigned char ch)
{
    return ch == ' ' || ch == '\t';
}

/* ftext = %d33-57 / %d59-126: printable ASCII but ":" (RFC 5322 3.6.8). */
static bool
is_ftext(unsigned char ch)
{
    return ch >= 33 && ch <= 126 && ch != ':';
}

static unsigned char
lower(unsigned char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch + 32) : ch;
}

/* Keeps octets of the body: CR dropped, leading WSP dropped, the rest up to the cap. */
static void
value_put(struct msgid_scan *m, const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];

        if (ch == '\r' || (m->len == 0 && is_wsp(ch)))
            continue;
        if (m->len == sizeof(m->value)) {
            m->cut = true;
            return;
        }
        m->value[m->len++] = (char)ch;
    }
}

/* A field name's next octet; the colon ends it (RFC 5322 2.2). */
static void
name_octet(struct msgid_scan *m, unsigned char ch)
{
    if (ch == ':') {
        if (m->name == m->field_len) {
            m->found = true;
            m->state = MS_VALUE;
        } else {
            /* A field of another name, or ":" with no name: not a field (2.2). */
            m->state = m->name == 0 ? MS_BOL : MS_SKIP;
            m->done = m->name == 0;
        }
    } else if (is_wsp(ch) && m->name > 0) {
        m->state = MS_NAME_WSP;
    } else if (m->state == MS_NAME && is_ftext(ch)) {
        if (m->name < m->field_len && lower(ch) == (unsigned char)m->field[m->name])
            m->name++;
        else
            m->name = m->field_len + 1; /* the name is another one */
    } else {
        /* Not a header field: the header section has ended (RFC 5322 2.1). */
        m->done = true;
    }
}

/* Handles p[0..len) (len > 0) in the current state; returns how many octets it took. */
static size_t
msgid_step(struct msgid_scan *m, const char *p, size_t len)
{
    unsigned char ch = (unsigned char)p[0];
    const char *lf;

    switch (m->state) {
    case MS_BOL:
        if (ch == '\r' || ch == '\n') {
            /* The empty line that ends the header (RFC 5322 2.1), or no field line either. */
            m->done = true;
        } else if (is_wsp(ch)) {
            m->state = MS_SKIP; /* a folded line of a field we skip */
        } else {
            m->name = 0;
            m->state = MS_NAME;
            name_octet(m, ch);
        }
        return 1;
    case MS_NAME:
    case MS_NAME_WSP:
        name_octet(m, ch);
        return 1;
    case MS_SKIP:
        lf = memchr(p, '\n', len);
        if (lf == NULL)
            return len;
        m->state = MS_BOL;
        return (size_t)(lf - p) + 1;
    case MS_VALUE:
        lf = memchr(p, '\n', len);
        value_put(m, p, lf != NULL ? (size_t)(lf - p) : len);
        if (lf == NULL)
            return len;
        m->state = MS_VALUE_BOL;
        return (size_t)(lf - p) + 1;
    case MS_VALUE_BOL:
        if (is_wsp(ch)) {
            /* RFC 5322 2.2.3: unfolding removes the CR LF and keeps the WSP. */
            value_put(m, p, 1);
            m->state = MS_VALUE;
        } else {
            m->done = true; /* the field has ended: the first one wins */
        }
        return 1;
    default:
        log_panic("msgid: state %d", m->state);
    }
}

void
msgid_scan_feed(struct msgid_scan *m, const char *p, size_t len)
{
    size_t room = CAP_HEADER_SCAN - m->seen;
    size_t i = 0;

    if (m->done)
        return;
    if (len > room)
        len = room;
    while (i < len && !m->done)
        i += msgid_step(m, p + i, len - i);
    m->seen += i;
    if (!m->done && m->seen == CAP_HEADER_SCAN) {
        /* The scan's cap: a body still open may go on past what was seen. */
        if (m->state == MS_VALUE || m->state == MS_VALUE_BOL)
            m->cut = true;
        m->done = true;
    }
}

bool
msgid_scan_value(const struct msgid_scan *m, struct slice *out)
{
    size_t len = m->len;

    if (!m->found)
        return false;
    while (len > 0 && is_wsp((unsigned char)m->value[len - 1]))
        len--;
    *out = slice_make(m->value, len);
    return true;
}

const char *
msgid_scan_copy(const struct msgid_scan *m, char *buf, size_t cap)
{
    struct slice v;
    size_t n;

    if (!msgid_scan_value(m, &v))
        return NULL;
    n = v.len < cap ? v.len : cap - 1;
    memcpy(buf, v.p, n);
    buf[n] = '\0';
    return buf;
}

const char *
msgid_log_field(const struct msgid_scan *m, char *buf, size_t cap)
{
    struct slice v;
    char q[LOG_QUOTE_CAP];
    size_t n;

    if (cap < MSGID_LOG_CAP)
        log_panic("msgid_log_field: buffer of %zu bytes is too small", cap);
    if (!msgid_scan_value(m, &v)) {
        buf[0] = '\0';
        return buf;
    }
    if (!m->cut && v.len >= 2 && v.p[0] == '<' && v.p[v.len - 1] == '>') {
        /* One msg-id (RFC 5322 3.6.4): the form addresses take, <id> or "<id>". */
        memcpy(buf, ", message-id=", 13);
        (void)log_angle(buf + 13, cap - 13, v.p + 1, v.len - 2);
        return buf;
    }
    (void)log_quote(q, sizeof(q), v.p, v.len);
    n = strlen(q);
    /* A body cut by the caps says so, as log_quote() does for what it cuts. */
    if (m->cut && v.len <= CAP_LOG_PEER) {
        memcpy(q + n, "...", 4);
        n += 3;
    }
    memcpy(buf, ", message-id=\"", 14);
    memcpy(buf + 14, q, n);
    memcpy(buf + 14 + n, "\"", 2);
    return buf;
}
