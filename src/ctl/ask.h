/* SPDX-License-Identifier: MIT */
/*
 * One question to the daemon on its control socket, for the commands that
 * read a document from it (`gate26 status`, `gate26 scanners`, `gate26
 * audit`): the request, the whole answer, and the JSON document of an
 * answer "ok" LF JSON. Nothing here prints: each caller says why in its
 * own words (a CLI on standard error, the audit as a finding).
 */
#ifndef GATE26_CTL_ASK_H
#define GATE26_CTL_ASK_H

#include <stddef.h>

#include <jansson.h>

/* The most octets of an answer read (a status or scanners document is far smaller). */
#define CTL_ANSWER_MAX (1024 * 1024)

/*
 * Sends request (a line with its LF) to the daemon of spool_dir, waiting
 * at most timeout_s seconds for each write and read, and reads the whole
 * answer (at most CTL_ANSWER_MAX octets) into *answer (heap, NUL-terminated,
 * *len octets). Returns 0, or -1 with why in why (capacity cap): "gate26 is
 * not running (nothing answers at PATH: ...)", "PATH: no answer in time", ...
 */
int ctl_request(const char *spool_dir, const char *request, unsigned timeout_s, char **answer,
                size_t *len, char *why, size_t cap);

/*
 * The JSON object of an answer "ok" LF JSON (what names it in messages:
 * "status", "scanners"), with *body pointing at its text inside answer; or
 * NULL with why ("the daemon says: ...", "the daemon's answer is not a
 * status document (...)"). Free with json_decref().
 */
json_t *ctl_answer_doc(const char *answer, size_t len, const char *what, const char **body,
                       char *why, size_t cap);

#endif
