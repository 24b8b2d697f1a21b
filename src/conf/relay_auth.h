/* SPDX-License-Identifier: MIT */
/*
 * Private to src/conf (and its fuzz target): the relay-auth file, which
 * holds the login gate26 gives a relay or smarthost (SMTP AUTH, RFC 4954),
 * so that no password sits in the main configuration file. Its form
 * (docs/config.md, "The relay-auth file"):
 *
 *     file  = *( ignored LF ) entry *( LF ignored ) [ LF ]   ; no byte order mark
 *     entry = user ":" password
 *     user     = 1*255( %x21-39 / %x3B-7E / %x80-FF )   ; no ':', blank or control
 *     password = 1*255( %x20-7E / %x80-FF )              ; the rest of the line, as written,
 *                                                      ; neither starting nor ending in SP
 *     ignored  = *( SP / HTAB ) [ "#" *any ]           ; blank lines and comments
 *
 * Exactly one entry; a line of at most CONF_RELAY_AUTH_LINE_MAX octets; LF
 * line ends (a CR is refused: the password would end in it).
 */
#ifndef GATE26_CONF_RELAY_AUTH_H
#define GATE26_CONF_RELAY_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"

/* A line of the file, without its LF. */
#define CONF_RELAY_AUTH_LINE_MAX 1024
/* The file is read whole; a longer one is not a relay-auth file. */
#define CONF_RELAY_AUTH_FILE_MAX (64 * 1024)

/*
 * Parses text (len octets, borrowed) as the relay-auth file path (for
 * messages) into out->user and out->password. Returns 0, or -1 with
 * "PATH:LINE: what was expected" (or "PATH: why" for a file without an entry)
 * in err (capacity errcap); then out holds nothing of the file. Messages
 * never quote the password.
 */
int conf_relay_auth_parse(const char *path, const char *text, size_t len,
                          struct conf_relay_auth *out, char *err, size_t errcap);

/*
 * Reads the file at path (a regular file of at most CONF_RELAY_AUTH_FILE_MAX
 * octets, not readable by others: it holds a password in clear) and parses
 * it. Returns 0, or -1 with the reason in err: "cannot read ...", "readable
 * by others ..." (without a FILE:LINE prefix: the caller names its own
 * line), or the parser's "PATH:LINE: ..." (then *in_file is set).
 */
int conf_relay_auth_load(const char *path, struct conf_relay_auth *out, bool *in_file, char *err,
                         size_t errcap);

/* Wipes out (OPENSSL_cleanse) and frees it. NULL: nothing. */
void conf_relay_auth_free(struct conf_relay_auth *auth);

#endif
