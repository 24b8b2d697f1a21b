/* SPDX-License-Identifier: MIT */
/* Whole writes to a file descriptor. */
#ifndef GATE26_LIB_IO_H
#define GATE26_LIB_IO_H

#include <stddef.h>

/*
 * write(2) of all len octets of p, going on after short writes and EINTR.
 * Debug builds can fail it by fault injection (FAULT_WRITE, lib/fault.h).
 * Returns 0, or -1 with errno.
 */
int io_write_full(int fd, const void *p, size_t len);

#endif
