/* SPDX-License-Identifier: MIT */
/*
 * The header editor of the content checks (docs/checks.md, "Editing the
 * message"): from the header section as it is in the spool, the section to
 * deliver: the Authentication-Results fields that claim our authserv-id
 * removed (RFC 8601 5), the milters' header changes applied in order (as
 * libmilter's smfi_addheader, smfi_insheader and smfi_chgheader describe
 * them, and as Postfix's cleanup applies them), our own fields put on top.
 * Pure: no I/O; the pipeline reads the section from the spool and splices
 * the result back (spool_msg_splice).
 */
#ifndef GATE26_CHECKS_HDREDIT_H
#define GATE26_CHECKS_HDREDIT_H

#include <stddef.h>

#include "lib/slice.h"
#include "scan/milter.h" /* struct milter_mod */

/* RFC 5322 2.1.1: a line of a field we write is at most this many octets, CRLF not counted. */
#define HDREDIT_LINE_MAX 998

struct hdredit {
    struct slice header;           /* the header section as in the spool: CRLF lines, from the
                                      first field up to and including the CRLF of its last line,
                                      without the empty line that ends it */
    const char *drop_authres_id;   /* remove each Authentication-Results field whose
                                      authserv-id is this one (authres_is_ours(),
                                      src/mailauth/authres.h); NULL: remove none */
    const struct milter_mod *mods; /* the milters' header changes, applied in order */
    size_t n_mods;
    struct slice top; /* whole fields (CRLF-ended) to put above everything */
    size_t max;       /* the result may not exceed this many octets */
};

struct hdredit_result {
    char *text; /* the new header section (malloc'd, CRLF lines, same convention), len octets */
    size_t len;
    unsigned dropped_authres;  /* fields removed for drop_authres_id */
    unsigned applied, ignored; /* mods applied; mods with nothing to act on (a delete of a
                                  field that is not there) */
};

/*
 * Applies in to its header section. The mods come first, in order, each on
 * the section as the ones before it left it; their indexes count the
 * fields of the section as given (the fields the milters saw, those about
 * to be dropped included; the top fields are not counted):
 *   ADD     appends "Name: value";
 *   INSERT  puts it before the index-th field counted from 0 (0: at the
 *           very top; an index past the end: at the end);
 *   CHANGE  gives the index-th (from 1; 0 is taken as 1, as Postfix does)
 *           field of that name, case ignored, the value (keeping the
 *           field's own spelling of the name); an empty value deletes it;
 *           an index past the count adds the field at the end (unless the
 *           value is empty: then it is ignored);
 *   DELETE  removes the index-th (from 1; 0 as 1) field of that name, or
 *           is ignored.
 * A value's line breaks (LF or CR LF) must each be followed by SP or HTAB
 * and a line that is not only white space; they become CR LF, and no line
 * of the field may pass HDREDIT_LINE_MAX. A name must be an RFC 5322
 * field-name (1*ftext, 3.6.8). Then the fields that came from the section
 * (changed by a mod or not, never one a mod added) that are
 * Authentication-Results claiming drop_authres_id are removed, and top is
 * put above. Line ends of the fields kept are written as CR LF.
 * Returns 0 and fills out (free with hdredit_result_free), or -1 with a
 * reason in err (capacity cap) and out untouched: a mod that would inject a
 * field or end the header section, a bad field name, a line too long, the
 * result over max, a header section or top that is not fields.
 */
int hdredit_apply(const struct hdredit *in, struct hdredit_result *out, char *err, size_t cap);

/* Frees r's text and zeroes it. NULL: nothing. */
void hdredit_result_free(struct hdredit_result *r);

/*
 * The body a milter sent (REPLBODY), for the spool: each bare LF and each
 * bare CR becomes CR LF (CR LF stays). A body that does not end in CR LF
 * gets none added: the body is the milter's, DKIM's body hash (simple
 * canonicalization, RFC 6376 3.4.3) covers its last line as it is, and the
 * SMTP client adds the CR LF it needs before the final dot (RFC 5321
 * 4.1.1.4) when it sends it. Returns a malloc'd copy (never NULL; NUL after
 * its *out_len octets).
 */
char *hdredit_body_crlf(const char *p, size_t len, size_t *out_len);

#endif
