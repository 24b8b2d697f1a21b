/* SPDX-License-Identifier: MIT */
/*
 * The time the limits count in: milliseconds of CLOCK_MONOTONIC, which does
 * not jump when the wall clock is set, so that no window reopens and no lock
 * ends early because an administrator or NTP moved the date.
 */
#ifndef GATE26_LIB_NOW_H
#define GATE26_LIB_NOW_H

#include <stdint.h>

/* Milliseconds since some fixed moment (the boot, on Linux). */
uint64_t now_ms(void);

#endif
