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

/* Size of a buffer that always holds a log_angle() result. */
#define LOG_ANGLE_CAP (LOG_QUOTE_CAP + 4)

/*
 * An address or a message id for a log field (from=, to=, message-id=),
 * into dst (capacity cap, at least LOG_ANGLE_CAP): "<VALUE>" when VALUE is
 * at most 200 octets of printable ASCII without SP or any of , " \ < >, so
 * that it reads as one token and greps as itself; else "\"<VALUE>\"" with
 * VALUE quoted by log_quote(). Returns dst.
 */
const char *log_angle(char *dst, size_t cap, const char *p, size_t len);

/*
 * The SMTP dialogue at debug level (README.md "Logs"), one line per protocol
 * line: "ID: KEY=VAL, dir=DIR, line="..."". dir is "in" for what gate26
 * received and "out" for what it sent, on either side (server sessions and
 * the delivery client). Callers check log_enabled(LOG_LEVEL_DEBUG) first,
 * so that nothing is split or quoted at info level.
 *
 * log_dialogue() writes one line for each line of p[0..len): only CR LF
 * ends a line (a bare CR or LF is part of it, escaped); a last line without
 * CR LF is written too. Each is quoted by log_quote().
 */
void log_dialogue(const char *id, const char *key, const char *val, const char *dir, const char *p,
                  size_t len);

/*
 * A line that holds a secret (an AUTH exchange): only its first shown_len
 * octets are written, quoted, and the number of octets held back:
 * "ID: KEY=VAL, dir=DIR, line="AUTH PLAIN", redacted=24", or without line=
 * when shown_len is 0. The caller decides what is secret by its protocol
 * state, never by looking at the text.
 */
/*
 * How much of a line that may be an SMTP AUTH command (RFC 4954 4) may be
 * shown by log_dialogue_redacted(): "AUTH" and, when it is one, the SASL
 * mechanism name (1 to 20 of A-Z a-z 0-9 - _, RFC 4422 3.1), never what
 * follows (the initial response). The line is matched without regard to
 * case, and even when it breaks the command grammar, so that a malformed
 * AUTH line keeps its secret too. 0 when the line does not start "AUTH ";
 * else the octet after the part shown, if there is one, is a SP.
 */
size_t log_auth_shown(const char *p, size_t len);

void log_dialogue_redacted(const char *id, const char *key, const char *val, const char *dir,
                           const char *shown, size_t shown_len, size_t redacted);

#endif
