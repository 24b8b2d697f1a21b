/* SPDX-License-Identifier: MIT */
/*
 * Log lines: one line per event, "key=value" fields, written to standard
 * error with one write(2) each so that lines from threads never interleave.
 * The first field is the queue id, or "-" when there is none yet. Peer bytes
 * only ever enter a line through log_quote().
 *
 * Levels: debug (state changes), info (events), warning (local trouble),
 * error (the operator must act). log_panic() is for bugs: it aborts.
 */
#ifndef GATE26_LIB_LOG_H
#define GATE26_LIB_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level {
    LOG_LEVEL_DEBUG,
    LOG_LEVEL_INFO,
    LOG_LEVEL_WARNING,
    LOG_LEVEL_ERROR,
};

void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);

/* Parses "debug", "info", "warning" or "error". Returns 0 or -1. */
int log_level_parse(const char *name, enum log_level *out);
const char *log_level_name(enum log_level level);

void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_enabled(LOG_LEVEL_DEBUG))                                                          \
            log_write(LOG_LEVEL_DEBUG, __VA_ARGS__);                                               \
    } while (0)
#define log_info(...)    log_write(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warning(...) log_write(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_error(...)   log_write(LOG_LEVEL_ERROR, __VA_ARGS__)

/* A bug: logs the message and aborts with a core. */
_Noreturn void log_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Size of a buffer that always holds a log_quote() result. */
#define LOG_QUOTE_CAP (4 * 200 + 8)

/*
 * Writes len peer bytes into dst (capacity cap, at least LOG_QUOTE_CAP) so
 * that they are safe inside a double-quoted log field: printable ASCII stays,
 * '"' and '\\' are escaped, anything else becomes \xHH, and input beyond 200
 * bytes is cut and marked with "...". Returns dst.
 */
const char *log_quote(char *dst, size_t cap, const char *p, size_t len);

#endif
