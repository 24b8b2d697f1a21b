/* SPDX-License-Identifier: MIT */
/* Whole writes to a file descriptor, and whole reads of a small file. */
#ifndef GATE26_LIB_IO_H
#define GATE26_LIB_IO_H

#include <stddef.h>

/*
 * write(2) of all len octets of p, going on after short writes and EINTR.
 * Debug builds can fail it by fault injection (FAULT_WRITE, lib/fault.h).
 * Returns 0, or -1 with errno.
 */
int io_write_full(int fd, const void *p, size_t len);

/*
 * Reads the regular file at path whole, when it holds at most max octets.
 * Returns 0 with *out (len octets and a NUL after them; the caller frees
 * it), or -1 with errno and "PATH: what went wrong" in err (capacity cap):
 * cannot open or read it, not a regular file, larger than max, or it grew
 * while being read.
 */
int io_read_file(const char *path, size_t max, char **out, size_t *len, char *err, size_t cap);

#endif
