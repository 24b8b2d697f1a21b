/* SPDX-License-Identifier: MIT */
/*
 * The quarantine page's text preview (private to console/): a message's
 * body decoded when it is one text/plain part in quoted-printable (RFC
 * 2045 6.7) or base64 (RFC 2045 6.8, with OpenSSL's decoder). Pure
 * functions: unit test preview_test.c, fuzz target fuzz_console_preview.c.
 */
#ifndef GATE26_CONSOLE_PREVIEW_H
#define GATE26_CONSOLE_PREVIEW_H

#include <stdbool.h>
#include <stddef.h>

enum preview_cte {
    PREVIEW_IDENTITY, /* absent, 7bit, 8bit or binary: the octets are the text */
    PREVIEW_QP,       /* quoted-printable */
    PREVIEW_BASE64,
    PREVIEW_UNKNOWN, /* anything else: shown as it is */
};

/* The Content-Transfer-Encoding field's value (unfolded; NULL: absent), case ignored. */
enum preview_cte preview_cte_of(const char *value);

/*
 * True when the Content-Type field's value (unfolded; NULL: absent, which
 * is text/plain, RFC 2045 5.2) names text/plain, case and spaces ignored.
 */
bool preview_is_text_plain(const char *value);

/*
 * Decodes the len octets at in (cte PREVIEW_QP or PREVIEW_BASE64; others
 * are copied) into out (capacity cap, at least 1), NUL-terminated, at most
 * cap - 1 octets (the rest is cut). A quoted-printable "=" not followed by
 * two hex digits or a line end is kept as it is (RFC 2045 6.7, note 1); an
 * input cut inside a base64 quantum loses that quantum. Returns the
 * length, or -1 when base64 text is not base64 (out then holds nothing).
 */
long preview_decode(enum preview_cte cte, const char *in, size_t len, char *out, size_t cap);

#endif
