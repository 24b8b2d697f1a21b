/* SPDX-License-Identifier: MIT */
/*
 * The message-content scanner for DATA (RFC 5321 4.1.1.4, 4.5.2) and BDAT
 * (RFC 3030). It takes the raw octets as they arrive, in chunks of any size,
 * and emits the message: for DATA with dot-stuffing removed, ending only at
 * CRLF "." CRLF. It never stops at anything else: a bare LF, a bare CR or a
 * NUL is content to it, and is recorded as a flag so that the session can
 * refuse the message once the real end has come (SMTP smuggling). Text lines
 * over 1000 octets with their CRLF (RFC 5321 4.5.3.1.6) are flagged too.
 */
#ifndef GATE26_SMTP_DATA_SCAN_H
#define GATE26_SMTP_DATA_SCAN_H

#include <stdbool.h>
#include <stddef.h>

/* Flags: what was wrong (or notable) in the content seen so far. */
#define DATA_BARE_LF   0x01u /* LF not after CR */
#define DATA_BARE_CR   0x02u /* CR not before LF */
#define DATA_NUL       0x04u /* an octet 0 */
#define DATA_LONG_LINE 0x08u /* a line over 1000 octets with CRLF */
#define DATA_8BIT      0x10u /* an octet over 0x7f (not an error) */

#define DATA_REFUSE (DATA_BARE_LF | DATA_BARE_CR | DATA_NUL | DATA_LONG_LINE)

/* Receives each run of message octets, in order. */
typedef void data_emit_fn(void *arg, const char *p, size_t len);

struct data_scan {
    int state;      /* private */
    size_t line;    /* octets of the current line so far, without its CRLF */
    unsigned flags; /* DATA_* */
    bool dot;       /* DATA: dot-stuffing and the CRLF.CRLF end */
    bool done;      /* the end was consumed */
    data_emit_fn *emit;
    void *arg;
};

/*
 * Starts a scan. dot is true for DATA (the content starts at a line start;
 * it ends at CRLF.CRLF), false for BDAT (the chunk sizes end it; call
 * data_scan_finish after the LAST chunk). emit receives the message octets.
 */
void data_scan_init(struct data_scan *ds, bool dot, data_emit_fn *emit, void *arg);

/*
 * Feeds len octets. Returns how many were consumed: all of them, unless the
 * end of DATA came, in which case the octets after ".CRLF" are left for the
 * command parser and ds->done is set. Emits the message octets seen so far
 * (a leading "." or "." CR, whose meaning depends on the next octet, is held;
 * a CR elsewhere is emitted at once, and only its flag waits for the next
 * octet). After done, consumes nothing and returns 0.
 */
size_t data_scan_feed(struct data_scan *ds, const char *p, size_t len);

/* For BDAT: the content has ended; emits what is held and flags a trailing
 * bare CR. */
void data_scan_finish(struct data_scan *ds);

#endif
