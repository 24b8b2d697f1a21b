/* SPDX-License-Identifier: MIT */
/* JSON strings for report.c (private to src/check; its unit test reaches it). */
#ifndef GATE26_CHECK_JSON_H
#define GATE26_CHECK_JSON_H

#include <stdio.h>

/*
 * Writes s as a JSON string, quotes included (RFC 8259 section 7): '"' and
 * '\' escaped, control characters as \n, \r, \t or \u00XX, and every octet
 * from 0x7f up as \u00XX (read as Latin-1), so that the output is ASCII and
 * valid JSON whatever a peer sent. NULL is written as null.
 */
void check_json_str(FILE *out, const char *s);

#endif
