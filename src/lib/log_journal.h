/* SPDX-License-Identifier: MIT */
/*
 * Private to lib/: log lines to the systemd journal (docs/packaging.md,
 * "The service"). When standard error is the journal's stream (systemd sets
 * JOURNAL_STREAM to its "DEVICE:INODE"), log.c sends each line through
 * sd_journal_sendv() with fields of its own instead: the priority, and the
 * queue id for `journalctl GATE26_QUEUE_ID=...`. libsystemd, not a datagram
 * of our own: its native protocol (a line too big for a datagram goes in a
 * memfd) and its socket handling are the journal's to keep right.
 */
#ifndef GATE26_LIB_LOG_JOURNAL_H
#define GATE26_LIB_LOG_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where the journal takes native messages (libsystemd's fixed path). */
#define LOG_JOURNAL_SOCKET "/run/systemd/journal/socket"

/*
 * Whether env (JOURNAL_STREAM's value, NULL when unset) names the file of
 * device dev and inode ino: "DEV:INO", both decimal without sign or space,
 * as systemd writes them. Anything else (empty, a third field, an overflow)
 * is false: the lines then go to standard error.
 */
bool log_journal_names(const char *env, uint64_t dev, uint64_t ino);

/*
 * The length of the queue id msg[0..len) (a line after its level word)
 * starts with (16 of 0-9 A-F, then ": "), or 0.
 */
size_t log_journal_queue_id(const char *msg, size_t len);

/*
 * Sends msg[0..len) (one line without its LF, the level word and ": "
 * first) with the syslog priority prio (LOG_ERR...), and GATE26_QUEUE_ID=
 * when the text after the level word starts with a queue id. Returns 0, or
 * -1 when the journal did not take it (the caller writes it to standard
 * error).
 */
int log_journal_send(int prio, const char *msg, size_t len);

#endif
