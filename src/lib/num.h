/* SPDX-License-Identifier: MIT */
/* Numbers from text, always with a minimum and a maximum (never atoi). */
#ifndef GATE26_LIB_NUM_H
#define GATE26_LIB_NUM_H

#include <stdint.h>

#include "lib/slice.h"

/*
 * Parses s as decimal digits only (no sign, no spaces) into *out.
 * Returns 0, or -1 when s is empty, has a non-digit, or is outside min..max.
 */
int num_parse_u64(struct slice s, uint64_t min, uint64_t max, uint64_t *out);

#endif
