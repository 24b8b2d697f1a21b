/* SPDX-License-Identifier: MIT */
/*
 * Reading SPOOL/quarantine/ beside the daemon, for `gate26 quarantine list
 * and show` (quarantine_client.c) and the console's quarantine pages: one
 * implementation of how the spool is opened for it and how a message's
 * octets are read. docs/spool.md, "The quarantine".
 */
#ifndef GATE26_CTL_QUARANTINE_READ_H
#define GATE26_CTL_QUARANTINE_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spool/spool.h"

/*
 * Called for each message read: q open (borrowed for the call), or NULL
 * with why when its file could not be read (a message that went between
 * the listing and its reading, released or deleted, is skipped silently).
 */
typedef void ctl_quarantine_each_fn(void *arg, const char *id, const struct spool_quarantined *q,
                                    const char *why);

/*
 * Opens the spool at spool_dir for reading: under its shared lock when no
 * daemon holds it, without one while a daemon runs (quarantined files are
 * never changed in place: they arrive by rename and leave by unlink). With
 * id NULL, calls fn for every quarantined message, oldest first; else for
 * that one message only. The spool is let go before returning. Returns 0;
 * -1 with why (capacity whycap) and errno when the spool cannot be read;
 * -2 (id given) when that message cannot be read, with why and errno
 * (ENOENT: no such message in quarantine; EINVAL: its file is malformed).
 * fn is not called for a message that cannot be read.
 */
int ctl_quarantine_read(const char *spool_dir, const char *id, ctl_quarantine_each_fn *fn,
                        void *arg, char *why, size_t whycap);

/*
 * At most max octets of q's content from off: heap (the caller frees it),
 * NUL-terminated, *len octets (fewer at the end or when a read fails).
 */
char *ctl_quarantine_content(const struct spool_quarantined *q, uint64_t off, size_t max,
                             size_t *len);

/*
 * The header section of q: the first max octets at most, cut after the
 * empty line that ends it (CRLF CRLF, or LF LF) when there is one there.
 * As ctl_quarantine_content; *complete says whether the empty line was found.
 */
char *ctl_quarantine_headers(const struct spool_quarantined *q, size_t max, size_t *len,
                             bool *complete);

#endif
