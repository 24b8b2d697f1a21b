/* SPDX-License-Identifier: MIT */
/*
 * Queue ids (private to spool/): SPOOL_ID_LEN upper-case hex digits of a
 * 64-bit number that is the arrival time in microseconds shifted left by 8,
 * or one more than the last id when the clock has not moved (or went back).
 * Ids are strictly increasing within a process, so their text sorts in
 * arrival order. Uniqueness on disk is the writer's job: it creates tmp/ID
 * with O_EXCL and renames into queue/ with RENAME_NOREPLACE, and spool_open
 * seeds the generator past every id it finds.
 */
#ifndef GATE26_SPOOL_ID_H
#define GATE26_SPOOL_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spool/spool.h"

/* Writes the next id and its NUL into out. Safe from any thread. */
void spool_id_next(char out[SPOOL_ID_LEN + 1]);

/* Makes every later id greater than v (spool_open: the largest id on disk). */
void spool_id_seed(uint64_t v);

/* True when the len octets at s are exactly SPOOL_ID_LEN upper-case hex digits. */
bool spool_id_is_valid(const char *s, size_t len);

/* The number an id stands for; s must be spool_id_is_valid(). */
uint64_t spool_id_value(const char *s);

#endif
