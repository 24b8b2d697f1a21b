/* SPDX-License-Identifier: MIT */
/*
 * Private to src/conf (and its tests): the credential files of the metrics
 * block (docs/config.md, "The metrics credential files"), which hold what
 * Prometheus sends with each scrape. Read when the configuration is loaded
 * (at start, by configtest, and again at each reload); only the SHA-256 of
 * the secret is kept.
 *
 *   bearer-token-file:  file  = token [ LF ]
 *                       token = 16*1024( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" )
 *                               *"="                     ; token68, RFC 7235 2.1
 *   basic-auth-file:    file  = user ":" password [ LF ]
 *                       user     = 1*255( %x21-39 / %x3B-7E / %x80-FF )  ; RFC 7617 2: no ':'
 *                       password = 1*255( %x20-7E / %x80-FF )
 *
 * One line, nothing else: no comments, no blank lines, no CR.
 */
#ifndef GATE26_CONF_METRICS_AUTH_H
#define GATE26_CONF_METRICS_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"

/* A credential file is read whole; a longer one is not one. */
#define CONF_METRICS_SECRET_FILE_MAX 4096
#define CONF_METRICS_TOKEN_MIN       16
#define CONF_METRICS_TOKEN_MAX       1024
#define CONF_METRICS_BASIC_MAX       255 /* user, and password */

/*
 * Checks text (len octets, borrowed) as the credential file of kind
 * (BEARER or BASIC) and writes the SHA-256 of the token, or of
 * "USER:PASSWORD", into digest. Returns 0, or -1 with "what was expected"
 * in err (capacity errcap), never quoting the secret.
 */
int conf_metrics_secret_parse(enum conf_metrics_auth kind, const char *text, size_t len,
                              unsigned char digest[CONF_METRICS_DIGEST_LEN], char *err,
                              size_t errcap);

/*
 * Reads the file at path (a regular file of at most
 * CONF_METRICS_SECRET_FILE_MAX octets, neither readable nor writable by
 * others) and parses it. Returns 0, or -1 with the reason in err: "cannot
 * read ...", "... is open to others ...", or the parser's (prefixed
 * "file 'PATH': ").
 */
int conf_metrics_secret_load(enum conf_metrics_auth kind, const char *path,
                             unsigned char digest[CONF_METRICS_DIGEST_LEN], char *err,
                             size_t errcap);

#endif
