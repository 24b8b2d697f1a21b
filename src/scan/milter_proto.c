/* SPDX-License-Identifier: MIT */
/*
 * The milter protocol codec (scan/milter_proto.h): the SMFIC_* commands
 * encoded, the SMFIR_* responses decoded strictly, and the header fields of
 * a message split for SMFIC_HEADER. Written from the protocol as libmilter
 * 8.14's mfdef.h and its documentation describe it (version 6); no I/O.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "scan/milter_proto.h"

void
milter_out_init(struct milter_out *o)
{
    o->p = NULL;
    o->len = 0;
    o->alloc = 0;
}

void
milter_out_clear(struct milter_out *o)
{
    free(o->p);
    milter_out_init(o);
}

/* A packet being encoded: where it starts in o, and whether it still fits. */
struct enc {
    struct milter_out *o;
    size_t start;
    bool bad;
};

static void
enc_put(struct enc *e, const void *p, size_t n)
{
    struct milter_out *o = e->o;

    if (e->bad)
        return;
    if (n > MILTER_LEN_BYTES + MILTER_PACKET_MAX - (o->len - e->start)) {
        e->bad = true;
        return;
    }
    if (o->len + n > o->alloc) {
        size_t want = o->alloc < 256 ? 256 : o->alloc;

        while (want < o->len + n)
            want *= 2;
        o->p = xrealloc(o->p, want);
        o->alloc = want;
    }
    if (n > 0)
        memcpy(o->p + o->len, p, n);
    o->len += n;
}

static void
enc_begin(struct enc *e, struct milter_out *o, char cmd)
{
    static const char zero[MILTER_LEN_BYTES];

    e->o = o;
    e->start = o->len;
    e->bad = false;
    enc_put(e, zero, sizeof(zero));
    enc_put(e, &cmd, 1);
}

static void
enc_u32(struct enc *e, uint32_t v)
{
    uint32_t n = htonl(v);

    enc_put(e, &n, sizeof(n));
}

/* A string and its NUL; one with a NUL inside cannot be sent. */
static void
enc_str(struct enc *e, const char *s, size_t len)
{
    if (memchr(s, '\0', len) != NULL) {
        e->bad = true;
        return;
    }
    enc_put(e, s, len);
    enc_put(e, "", 1);
}

static void
enc_strz(struct enc *e, const char *s)
{
    enc_str(e, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

/* Fills in the length, or takes the packet back out when it went wrong. */
static int
enc_end(struct enc *e)
{
    uint32_t n;

    if (e->bad) {
        e->o->len = e->start;
        return -1;
    }
    n = htonl((uint32_t)(e->o->len - e->start - MILTER_LEN_BYTES));
    memcpy(e->o->p + e->start, &n, sizeof(n));
    return 0;
}

int
milter_enc_optneg(struct milter_out *o, uint32_t version, uint32_t actions, uint32_t protocol)
{
    struct enc e;

    enc_begin(&e, o, SMFIC_OPTNEG);
    enc_u32(&e, version);
    enc_u32(&e, actions);
    enc_u32(&e, protocol);
    return enc_end(&e);
}

int
milter_enc_connect(struct milter_out *o, const char *hostname, char family, unsigned port,
                   const char *addr)
{
    struct enc e;

    enc_begin(&e, o, SMFIC_CONNECT);
    enc_strz(&e, hostname);
    if (family == 0) {
        char u = 'U';

        enc_put(&e, &u, 1);
    } else if ((family == '4' || family == '6' || family == 'L') && port <= 65535) {
        uint16_t p = htons((uint16_t)port);

        enc_put(&e, &family, 1);
        enc_put(&e, &p, sizeof(p));
        enc_strz(&e, addr);
    } else {
        e.bad = true;
    }
    return enc_end(&e);
}

int
milter_enc_helo(struct milter_out *o, const char *helo)
{
    struct enc e;

    enc_begin(&e, o, SMFIC_HELO);
    enc_strz(&e, helo);
    return enc_end(&e);
}

static int
enc_args(struct milter_out *o, char cmd, const char *const *args, size_t n)
{
    struct enc e;

    enc_begin(&e, o, cmd);
    if (n == 0)
        e.bad = true;
    for (size_t i = 0; i < n; i++)
        enc_strz(&e, args[i]);
    return enc_end(&e);
}

int
milter_enc_mail(struct milter_out *o, const char *const *args, size_t n)
{
    return enc_args(o, SMFIC_MAIL, args, n);
}

int
milter_enc_rcpt(struct milter_out *o, const char *const *args, size_t n)
{
    return enc_args(o, SMFIC_RCPT, args, n);
}

int
milter_enc_header(struct milter_out *o, struct slice name, struct slice value)
{
    struct enc e;

    enc_begin(&e, o, SMFIC_HEADER);
    enc_str(&e, name.p, name.len);
    enc_str(&e, value.p, value.len);
    return enc_end(&e);
}

int
milter_enc_body(struct milter_out *o, struct slice chunk)
{
    struct enc e;

    enc_begin(&e, o, SMFIC_BODY);
    if (chunk.len > MILTER_CHUNK_MAX)
        e.bad = true;
    else
        enc_put(&e, chunk.p, chunk.len);
    return enc_end(&e);
}

int
milter_enc_macro(struct milter_out *o, char command, const struct milter_macro *m, size_t n)
{
    struct enc e;

    enc_begin(&e, o, SMFIC_MACRO);
    enc_put(&e, &command, 1);
    for (size_t i = 0; i < n; i++) {
        if (m[i].name == NULL || m[i].name[0] == '\0')
            e.bad = true;
        else
            enc_strz(&e, m[i].name);
        enc_strz(&e, m[i].value);
    }
    return enc_end(&e);
}

int
milter_enc_unknown(struct milter_out *o, const char *line)
{
    struct enc e;

    enc_begin(&e, o, SMFIC_UNKNOWN);
    enc_strz(&e, line);
    return enc_end(&e);
}

int
milter_enc_bare(struct milter_out *o, char command)
{
    struct enc e;

    enc_begin(&e, o, command);
    switch (command) {
    case SMFIC_DATA:
    case SMFIC_EOH:
    case SMFIC_BODYEOB:
    case SMFIC_ABORT:
    case SMFIC_QUIT:
    case SMFIC_QUIT_NC:
        break;
    default:
        e.bad = true;
    }
    return enc_end(&e);
}

enum milter_frame_rc
milter_frame(const unsigned char *p, size_t n, size_t *len)
{
    uint32_t v;

    if (n < MILTER_LEN_BYTES)
        return MILTER_FRAME_MORE;
    memcpy(&v, p, sizeof(v));
    v = ntohl(v);
    if (v == 0 || v > MILTER_PACKET_MAX)
        return MILTER_FRAME_BAD;
    *len = v;
    return n - MILTER_LEN_BYTES >= v ? MILTER_FRAME_OK : MILTER_FRAME_MORE;
}

const char *
milter_cmd_name(char cmd)
{
    switch (cmd) {
    case SMFIC_OPTNEG:
        return "OPTNEG";
    case SMFIR_ADDRCPT:
        return "ADDRCPT";
    case SMFIR_DELRCPT:
        return "DELRCPT";
    case SMFIR_ADDRCPT_PAR:
        return "ADDRCPT_PAR";
    case SMFIR_SHUTDOWN:
        return "SHUTDOWN";
    case SMFIR_ACCEPT:
        return "ACCEPT";
    case SMFIR_REPLBODY:
        return "REPLBODY";
    case SMFIR_CONTINUE:
        return "CONTINUE";
    case SMFIR_DISCARD:
        return "DISCARD";
    case SMFIR_CHGFROM:
        return "CHGFROM";
    case SMFIR_CONN_FAIL:
        return "CONN_FAIL";
    case SMFIR_ADDHEADER:
        return "ADDHEADER";
    case SMFIR_INSHEADER:
        return "INSHEADER";
    case SMFIR_SETSYMLIST:
        return "SETSYMLIST";
    case SMFIR_CHGHEADER:
        return "CHGHEADER";
    case SMFIR_PROGRESS:
        return "PROGRESS";
    case SMFIR_QUARANTINE:
        return "QUARANTINE";
    case SMFIR_REJECT:
        return "REJECT";
    case SMFIR_SKIP:
        return "SKIP";
    case SMFIR_TEMPFAIL:
        return "TEMPFAIL";
    case SMFIR_REPLYCODE:
        return "REPLYCODE";
    default:
        return "?";
    }
}

/* The data of a response being decoded. */
struct dec {
    const char *p;
    const char *end;
    char *err;
    size_t cap;
};

static int
dec_fail(struct dec *d, const char *what)
{
    (void)snprintf(d->err, d->cap, "%s", what);
    return -1;
}

static int
dec_u32(struct dec *d, uint32_t *v, const char *what)
{
    if (d->end - d->p < 4)
        return dec_fail(d, what);
    memcpy(v, d->p, 4);
    *v = ntohl(*v);
    d->p += 4;
    return 0;
}

/* A NUL-terminated string; the slice leaves the NUL out. */
static int
dec_str(struct dec *d, struct slice *s, const char *what)
{
    const char *nul = memchr(d->p, '\0', (size_t)(d->end - d->p));

    if (nul == NULL)
        return dec_fail(d, what);
    *s = slice_make(d->p, (size_t)(nul - d->p));
    d->p = nul + 1;
    return 0;
}

static int
dec_done(struct dec *d, const char *cmd)
{
    if (d->p != d->end) {
        (void)snprintf(d->err, d->cap, "%s: %zu octets after the last field", cmd,
                       (size_t)(d->end - d->p));
        return -1;
    }
    return 0;
}

/* field-name = 1*ftext, ftext = %d33-57 / %d59-126   RFC 5322 3.6.8 */
static bool
is_field_name(struct slice s)
{
    if (s.len == 0 || s.len > 998)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.p[i];

        if (ch < 33 || ch > 126 || ch == ':')
            return false;
    }
    return true;
}

/*
 * A field body as a milter gives it: any line end in it (LF or CR LF) must
 * be followed by SP or HTAB (folding, RFC 5322 2.2.3), so that it cannot
 * end the field and start another, or the header section.
 */
static bool
is_field_value(struct slice s)
{
    for (size_t i = 0; i < s.len; i++) {
        char ch = s.p[i];

        if (ch == '\r') {
            if (i + 1 >= s.len || s.p[i + 1] != '\n')
                return false;
            continue;
        }
        if (ch == '\n' && (i + 1 >= s.len || (s.p[i + 1] != ' ' && s.p[i + 1] != '\t')))
            return false;
    }
    return true;
}

/* Text for a reply or a log: no control characters but HTAB and CR LF pairs. */
static bool
is_text(struct slice s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.p[i];

        if (ch == '\r' && i + 1 < s.len && s.p[i + 1] == '\n') {
            i++;
            continue;
        }
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return false;
    }
    return true;
}

/* "550 5.7.1 text", "451-..." lines: a 4xx or 5xx code first (RFC 5321 4.2). */
static int
dec_replycode(struct dec *d, struct milter_reply *r)
{
    struct slice s;
    unsigned code;

    if (dec_str(d, &s, "REPLYCODE: no NUL after the text") == -1 || dec_done(d, "REPLYCODE") == -1)
        return -1;
    if (s.len > MILTER_TEXT_MAX)
        return dec_fail(d, "REPLYCODE: text too long");
    if (s.len < 4 || (s.p[0] != '4' && s.p[0] != '5') || s.p[1] < '0' || s.p[1] > '9' ||
        s.p[2] < '0' || s.p[2] > '9' || (s.p[3] != ' ' && s.p[3] != '-'))
        return dec_fail(d, "REPLYCODE: not a 4xx or 5xx code and a space");
    if (!is_text(s))
        return dec_fail(d, "REPLYCODE: control characters in the text");
    code =
        (unsigned)(s.p[0] - '0') * 100 + (unsigned)(s.p[1] - '0') * 10 + (unsigned)(s.p[2] - '0');
    r->code = code;
    r->text = s;
    return 0;
}

static int
dec_header(struct dec *d, struct milter_reply *r, bool indexed, const char *cmd)
{
    if (indexed && dec_u32(d, &r->index, "header change without its index") == -1)
        return -1;
    if (dec_str(d, &r->name, "header name without its NUL") == -1 ||
        dec_str(d, &r->value, "header value without its NUL") == -1 || dec_done(d, cmd) == -1)
        return -1;
    if (!is_field_name(r->name))
        return dec_fail(d, "header name not an RFC 5322 field-name");
    if (!is_field_value(r->value))
        return dec_fail(d, "header value with a line end not followed by white space");
    return 0;
}

/* Pairs of a stage (4 octets) and its space-separated list of macro names. */
static int
dec_symlists(struct dec *d, struct milter_reply *r)
{
    while (d->p < d->end) {
        uint32_t stage;
        struct slice list;

        if (dec_u32(d, &stage, "symbol list: short stage") == -1 ||
            dec_str(d, &list, "symbol list: no NUL after the list") == -1)
            return -1;
        if (stage >= MILTER_STAGE_COUNT)
            return dec_fail(d, "symbol list: unknown stage");
        if (r->has_symlist[stage])
            return dec_fail(d, "symbol list: a stage twice");
        if (!is_text(list) || memchr(list.p, '\r', list.len) != NULL)
            return dec_fail(d, "symbol list: control characters");
        r->has_symlist[stage] = true;
        r->symlist[stage] = list;
    }
    return 0;
}

int
milter_reply_parse(struct slice pkt, struct milter_reply *r, char *err, size_t cap)
{
    struct dec d = {NULL, NULL, err, cap};

    memset(r, 0, sizeof(*r));
    if (pkt.len == 0)
        return dec_fail(&d, "empty packet");
    if (pkt.len > MILTER_PACKET_MAX)
        return dec_fail(&d, "packet over the size cap");
    r->cmd = pkt.p[0];
    d.p = pkt.p + 1;
    d.end = pkt.p + pkt.len;
    switch (r->cmd) {
    case SMFIC_OPTNEG:
        if (dec_u32(&d, &r->version, "OPTNEG: short") == -1 ||
            dec_u32(&d, &r->actions, "OPTNEG: short") == -1 ||
            dec_u32(&d, &r->protocol, "OPTNEG: short") == -1)
            return -1;
        return dec_symlists(&d, r);
    case SMFIR_SETSYMLIST:
        if (d.p == d.end)
            return dec_fail(&d, "SETSYMLIST: empty");
        return dec_symlists(&d, r);
    case SMFIR_ACCEPT:
    case SMFIR_CONTINUE:
    case SMFIR_DISCARD:
    case SMFIR_REJECT:
    case SMFIR_TEMPFAIL:
    case SMFIR_PROGRESS:
    case SMFIR_SKIP:
        return dec_done(&d, milter_cmd_name(r->cmd));
    case SMFIR_REPLYCODE:
        return dec_replycode(&d, r);
    case SMFIR_QUARANTINE:
        if (dec_str(&d, &r->text, "QUARANTINE: no NUL after the reason") == -1 ||
            dec_done(&d, "QUARANTINE") == -1)
            return -1;
        if (r->text.len > MILTER_TEXT_MAX || !is_text(r->text) ||
            memchr(r->text.p, '\r', r->text.len) != NULL)
            return dec_fail(&d, "QUARANTINE: reason too long or with control characters");
        return 0;
    case SMFIR_ADDHEADER:
        return dec_header(&d, r, false, "ADDHEADER");
    case SMFIR_INSHEADER:
        return dec_header(&d, r, true, "INSHEADER");
    case SMFIR_CHGHEADER:
        return dec_header(&d, r, true, "CHGHEADER");
    case SMFIR_REPLBODY:
        r->body = slice_make(d.p, (size_t)(d.end - d.p));
        return 0;
    case SMFIR_ADDRCPT:
    case SMFIR_DELRCPT:
    case SMFIR_ADDRCPT_PAR:
    case SMFIR_CHGFROM:
        (void)snprintf(err, cap, "%s: an action we did not offer", milter_cmd_name(r->cmd));
        return -1;
    default:
        (void)snprintf(err, cap, "unknown response 0x%02x", (unsigned char)r->cmd);
        return -1;
    }
}

/* The end of the line starting at p: the index after its LF, or 0 when none is in s. */
static size_t
line_end(struct slice s, size_t from)
{
    const char *lf = memchr(s.p + from, '\n', s.len - from);

    return lf != NULL ? (size_t)(lf - s.p) + 1 : 0;
}

/* The length of the line end just before index i (1 for LF, 2 for CR LF). */
static size_t
eol_len(struct slice s, size_t i)
{
    return i >= 2 && s.p[i - 2] == '\r' ? 2 : 1;
}

enum milter_hdr_rc
milter_header_next(struct slice in, bool at_eof, struct slice *name, struct slice *value,
                   size_t *used)
{
    size_t i = 0, colon, end, vstart;

    *used = 0;
    if (in.len == 0)
        return at_eof ? MILTER_HDR_END : MILTER_HDR_MORE;
    /* The empty line that ends the header section (RFC 5322 2.1). */
    if (in.p[0] == '\n' || (in.p[0] == '\r' && in.len >= 2 && in.p[1] == '\n')) {
        *used = in.p[0] == '\n' ? 1 : 2;
        return MILTER_HDR_END;
    }
    if (in.p[0] == '\r' && in.len == 1)
        return at_eof ? MILTER_HDR_END : MILTER_HDR_MORE;
    while (i < in.len && in.p[i] != ':' && in.p[i] != '\n')
        i++;
    if (i == in.len)
        return at_eof ? MILTER_HDR_END : MILTER_HDR_MORE;
    colon = i;
    if (in.p[i] != ':' || !is_field_name(slice_make(in.p, colon)))
        return MILTER_HDR_END; /* not a field: the body starts here */
    /* The field goes on while the next line starts with white space (folding). */
    end = line_end(in, colon);
    for (;;) {
        if (end == 0)
            return at_eof ? MILTER_HDR_END : MILTER_HDR_MORE;
        if (end == in.len) {
            if (!at_eof)
                return MILTER_HDR_MORE;
            break;
        }
        if (in.p[end] != ' ' && in.p[end] != '\t')
            break;
        end = line_end(in, end);
    }
    vstart = colon + 1;
    if (vstart < end && in.p[vstart] == ' ')
        vstart++;
    *name = slice_make(in.p, colon);
    if (vstart > end - eol_len(in, end))
        vstart = end - eol_len(in, end);
    *value = slice_make(in.p + vstart, end - eol_len(in, end) - vstart);
    *used = end;
    return MILTER_HDR_FIELD;
}
