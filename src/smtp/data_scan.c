/* SPDX-License-Identifier: MIT */
/*
 * The message-content scanner for DATA (RFC 5321 4.1.1.4, 4.5.2) and BDAT
 * (RFC 3030 2). It is a state machine over octets that may arrive split
 * anywhere: the state says what the octets before this feed left open (a CR
 * whose flag depends on the next octet, a "." at a line start, a "." CR at a
 * line start). Runs of ordinary octets go to the emit callback in one call.
 *
 * The only line end is CR LF, and the only end of DATA is a line that is
 * exactly "." CR LF (RFC 5321 4.1.1.4). A bare LF, a bare CR or a NUL never
 * ends a line or the content; they are flagged so that the session refuses
 * the message once the real end has come (SMTP smuggling: docs/data-scan.md).
 * The scanner decides nothing else: size limits, refusal and the replies
 * belong to the session.
 */
#include <stdint.h>
#include <string.h>

#include "lib/caps.h"
#include "lib/log.h"
#include "smtp/data_scan.h"

enum ds_state {
    DS_BOL,    /* DATA: at a line start: the first octet, or after CR LF */
    DS_TEXT,   /* inside a line */
    DS_CR,     /* the last octet was a CR; it has been emitted, its flag waits */
    DS_DOT,    /* DATA: a "." at a line start, held and never emitted */
    DS_DOT_CR, /* DATA: "." CR at a line start, both held */
    DS_END,    /* DATA: the "." CR LF line has been consumed */
};

/* RFC 5321 4.5.3.1.6: a text line is at most 1000 octets with its CRLF. */
#define DS_LINE_MAX (CAP_TEXT_LINE - 2)

/* Octet classes for the fast path; an octet of a class in the mask stops it. */
#define C_LINE 0x1u /* CR or LF */
#define C_NUL  0x2u
#define C_HIGH 0x4u /* 0x80..0xff */

#define C_HIGH4  C_HIGH, C_HIGH, C_HIGH, C_HIGH
#define C_HIGH16 C_HIGH4, C_HIGH4, C_HIGH4, C_HIGH4
#define C_HIGH64 C_HIGH16, C_HIGH16, C_HIGH16, C_HIGH16

static const unsigned char ds_class[256] = {
    [0x00] = C_NUL, ['\n'] = C_LINE, ['\r'] = C_LINE, [0x80] = C_HIGH64, C_HIGH64,
};

void
data_scan_init(struct data_scan *ds, bool dot, data_emit_fn *emit, void *arg)
{
    *ds = (struct data_scan){
        .state = dot ? DS_BOL : DS_TEXT,
        .dot = dot,
        .emit = emit,
        .arg = arg,
    };
}

static void
ds_emit(struct data_scan *ds, const char *p, size_t len)
{
    if (len > 0)
        ds->emit(ds->arg, p, len);
}

/* n more octets of the current line, not counting its CR LF. */
static void
ds_count(struct data_scan *ds, size_t n)
{
    ds->line += n;
    if (ds->line > DS_LINE_MAX)
        ds->flags |= DATA_LONG_LINE;
}

/*
 * Returns the index of the first octet at or after i that needs a decision:
 * CR, LF, and NUL or 8-bit octets until they have been flagged once. Eight
 * octets at a time while none of them can be one (the "has a zero byte"
 * test, exact for "any"); then the class table.
 */
static size_t
ds_skip(const struct data_scan *ds, const unsigned char *u, size_t i, size_t len)
{
    const uint64_t ones = 0x0101010101010101u;
    const uint64_t highs = 0x8080808080808080u;
    uint64_t high = ds->flags & DATA_8BIT ? 0 : highs;
    unsigned mask = C_LINE;

    while (len - i >= 8) {
        uint64_t w, cr, lf, zero;

        memcpy(&w, u + i, 8);
        cr = w ^ (ones * '\r');
        lf = w ^ (ones * '\n');
        zero = ((w - ones) & ~w) | ((cr - ones) & ~cr) | ((lf - ones) & ~lf);
        if ((zero & highs) != 0 || (w & high) != 0)
            break;
        i += 8;
    }
    if (!(ds->flags & DATA_NUL))
        mask |= C_NUL;
    if (!(ds->flags & DATA_8BIT))
        mask |= C_HIGH;
    while (i < len && !(ds_class[u[i]] & mask))
        i++;
    return i;
}

size_t
data_scan_feed(struct data_scan *ds, const char *p, size_t len)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0;
    size_t run = 0; /* p[run..i) is message content not emitted yet */

    if (ds->done)
        return 0;
    while (i < len) {
        switch (ds->state) {
        case DS_BOL:
            /* RFC 5321 4.5.2: a leading "." is the end or a stuffing dot;
             * either way it is not content, and the line limit does not
             * count it (RFC 5321 4.5.3.1.6). */
            if (u[i] == '.') {
                ds_emit(ds, p + run, i - run);
                run = ++i;
                ds->line = 0;
                ds->state = DS_DOT;
            } else {
                ds->state = DS_TEXT;
            }
            break;
        case DS_DOT:
            if (u[i] == '\r') {
                run = ++i; /* held: the end, or a bare CR emitted below */
                ds->state = DS_DOT_CR;
            } else {
                ds->state = DS_TEXT; /* a stuffed line; the dot stays dropped */
            }
            break;
        case DS_DOT_CR:
            if (u[i] == '\n') {
                /* RFC 5321 4.1.1.4: CR LF "." CR LF. The first CR LF ended
                 * the last content line and has been emitted with it. */
                ds->state = DS_END;
                ds->done = true;
                return i + 1;
            }
            /* "." CR <not LF>: a stuffed line that starts with a bare CR. */
            ds->flags |= DATA_BARE_CR;
            ds_count(ds, 1);
            ds_emit(ds, "\r", 1);
            ds->state = DS_TEXT;
            break;
        case DS_CR:
            if (u[i] == '\n') {
                i++;
                ds->line = 0;
                ds->state = ds->dot ? DS_BOL : DS_TEXT;
            } else {
                ds->flags |= DATA_BARE_CR;
                ds_count(ds, 1);
                ds->state = DS_TEXT;
            }
            break;
        case DS_TEXT: {
            size_t start = i;

            i = ds_skip(ds, u, i, len);
            ds_count(ds, i - start);
            if (i == len)
                break;
            if (u[i] == '\r') {
                ds->state = DS_CR; /* counted once the next octet says bare or not */
            } else if (u[i] == '\n') {
                ds->flags |= DATA_BARE_LF; /* content: only CR LF ends a line */
                ds_count(ds, 1);
            } else if (u[i] == 0) {
                ds->flags |= DATA_NUL;
                ds_count(ds, 1);
            } else {
                ds->flags |= DATA_8BIT;
                ds_count(ds, 1);
            }
            i++;
            break;
        }
        default:
            log_panic("data_scan: state %d in feed", ds->state);
        }
    }
    ds_emit(ds, p + run, len - run);
    return len;
}

void
data_scan_finish(struct data_scan *ds)
{
    switch (ds->state) {
    case DS_CR:
        /* The CR was emitted when it came; no LF followed it. */
        ds->flags |= DATA_BARE_CR;
        ds_count(ds, 1);
        ds->state = DS_TEXT;
        break;
    case DS_DOT_CR:
        /* DATA cut short after "." CR: the dot was stuffing, the CR bare. */
        ds->flags |= DATA_BARE_CR;
        ds_count(ds, 1);
        ds_emit(ds, "\r", 1);
        ds->state = DS_TEXT;
        break;
    case DS_DOT:
        ds->state = DS_TEXT;
        break;
    default:
        break;
    }
}
