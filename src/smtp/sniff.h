/* SPDX-License-Identifier: MIT */
/*
 * What a client's first bytes are when they are not SMTP (docs/scanners.md,
 * "What is counted"): an HTTP request line, a TLS ClientHello, an SSH
 * banner, a PROXY protocol header, or binary octets. A pure function of
 * the bytes: the session asks it about its input before EHLO/HELO on a
 * plain door, and closes what is not SMTP.
 *
 * It decides on the first line (up to the first LF) or on the first
 * SNIFF_WINDOW octets when no line has ended; before that it may ask for
 * more. A line that starts with an SMTP verb is always SMTP, whatever
 * follows (EHLO may carry a UTF-8 domain, RFC 6531 3.3): the command's own
 * parser answers it.
 */
#ifndef GATE26_SMTP_SNIFF_H
#define GATE26_SMTP_SNIFF_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/caps.h"

/* The most octets sniff_input() looks at: a whole command line fits. */
#define SNIFF_WINDOW CAP_LINE_READ

enum sniff_kind {
    SNIFF_MORE,   /* undecided: wait for more input (or call again with final) */
    SNIFF_SMTP,   /* what a client speaking SMTP may send (maybe wrong, for SMTP to answer) */
    SNIFF_HTTP,   /* METHOD SP request-target SP HTTP/1.x (RFC 9112 3), or HTTP/2's preface */
    SNIFF_TLS,    /* a TLS handshake record: 0x16 0x03 0x00-0x04 (RFC 8446 5.1) */
    SNIFF_SSH,    /* "SSH-" (RFC 4253 4.2) */
    SNIFF_PROXY,  /* "PROXY " (v1) or the 12-octet v2 signature (HAProxy's PROXY protocol) */
    SNIFF_BINARY, /* an octet below 0x20 other than CR, LF and TAB, or 0x7F and above */
};

/*
 * What the first len octets of a client's input at p are (len may exceed
 * SNIFF_WINDOW: only the window is looked at). final: no more input will
 * come (EOF, a timeout), so decide on what is there; then SNIFF_MORE is
 * never returned (empty input is SNIFF_SMTP: nothing was said).
 */
enum sniff_kind sniff_input(const unsigned char *p, size_t len, bool final);

/* "more", "smtp", "http", "tls", "ssh", "proxy", "binary". */
const char *sniff_kind_name(enum sniff_kind kind);

#endif
