/* SPDX-License-Identifier: MIT */
/*
 * The envelope records at the start of every spool file (private to
 * spool/; docs/spool.md has the format with an example). The records are
 * text lines in a fixed order, every peer-derived string xtext-encoded
 * (spool/xtext.h), so that no peer input can end a record or forge one; a
 * blank line ends them and the message content follows.
 *
 * Two kinds of field are written so that the scheduler (issue 4) can change
 * them in place with a pwrite() of the same length, never rewriting the
 * file: the schedule record (attempt count and next attempt time, fixed
 * digits, always at ENVELOPE_SCHED_OFF) and the one-character status at the
 * start of each recipient record (its offset is envelope_rcpt.status_off).
 *
 * The decoder accepts exactly what the encoder writes, and the encoder
 * refuses what the decoder would refuse, so a message that was accepted can
 * always be read back.
 */
#ifndef GATE26_SPOOL_ENVELOPE_H
#define GATE26_SPOOL_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "spool/spool.h"

/* The first line; a new format gets a new number. */
#define ENVELOPE_MAGIC "gate26-queue 1"

/*
 * The longest string field, in octets before encoding. Every peer-derived
 * string arrives in one command line, which the reader caps at
 * CAP_LINE_READ, so no legitimate field is longer.
 */
#define ENVELOPE_FIELD_MAX CAP_LINE_READ
/* The longest record: a recipient with two fields of three octets each. */
#define ENVELOPE_LINE_MAX (6 * ENVELOPE_FIELD_MAX + 64)
/* The most octets of records the decoder reads (2400 recipients of the longest kind). */
#define ENVELOPE_HEADER_MAX (16 * 1024 * 1024)

/*
 * In-place fields. The schedule record is the third line, after the magic
 * line and the fixed-width id line, so its offset is a constant:
 *     "gate26-queue 1\n" "id " ID "\n" "schedule " AAAA " " TTTTTTTTTT "\n"
 * ENVELOPE_SCHED_LEN octets at ENVELOPE_SCHED_OFF are "AAAA TTTTTTTTTT":
 * attempts so far (4 digits) and the next attempt in seconds since the
 * epoch (10 digits, 0 for "as soon as possible"). Both lie in the file's
 * first 512 octets, so one pwrite() cannot be torn across sectors.
 */
#define ENVELOPE_SCHED_OFF                                                                         \
    (sizeof(ENVELOPE_MAGIC "\n") - 1 + sizeof("id \n") - 1 + SPOOL_ID_LEN + sizeof("schedule ") - 1)
#define ENVELOPE_ATTEMPTS_DIGITS 4
#define ENVELOPE_NEXT_DIGITS     10
#define ENVELOPE_SCHED_LEN       (ENVELOPE_ATTEMPTS_DIGITS + 1 + ENVELOPE_NEXT_DIGITS)
#define ENVELOPE_ATTEMPTS_MAX    9999u
#define ENVELOPE_NEXT_MAX        UINT64_C(9999999999)

/* The decoded header is struct envelope, in spool/spool.h. */

/*
 * Encodes the records (up to and including the blank line) for a message
 * with queue id id. Returns a NUL-terminated heap string (the caller frees
 * it) of *len octets, or NULL with errno EINVAL and a static reason in *why when a field
 * is out of range (a bug upstream: a string longer than
 * ENVELOPE_FIELD_MAX, an empty address, no recipients, an unknown enum).
 * The status of every recipient is ENVELOPE_RCPT_PENDING, attempts 0 and
 * next attempt 0 (SPOOL_NEXT_HELD when env->hold gives a reason: queued on
 * hold).
 */
char *envelope_encode(const char *id, const struct spool_envelope *env, size_t *len,
                      const char **why);

/*
 * Decodes the records at the start of the len octets at p (content may
 * follow the blank line). Returns 0 and fills *out (free with
 * envelope_clear), or -1 with "line N: what is wrong" in why (capacity
 * whycap) and *out left empty.
 */
int envelope_decode(const char *p, size_t len, struct envelope *out, char *why, size_t whycap);

/* envelope_decode() of the records at the start of the file open on fd (read with pread). */
int envelope_read(int fd, struct envelope *out, char *why, size_t whycap);

/*
 * Whole seconds since the message arrived, never below 0: the arrival is
 * stamped by gettimeofday() and "now" is usually time(), a coarser clock
 * that can read a second behind it (and the wall clock can be set back).
 */
int64_t envelope_age(const struct envelope *e, time_t now);

/* Frees what *e owns and empties it. */
void envelope_clear(struct envelope *e);

/*
 * Writes the ENVELOPE_SCHED_LEN octets of a schedule record's value and a
 * NUL into out, for a pwrite() at ENVELOPE_SCHED_OFF. Returns 0, or -1 when
 * attempts or next is above its maximum.
 */
int envelope_sched_format(char out[ENVELOPE_SCHED_LEN + 1], unsigned attempts, uint64_t next);

#endif
