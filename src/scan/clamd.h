/* SPDX-License-Identifier: MIT */
/*
 * A client of clamd (ClamAV's daemon) on the loop: the INSTREAM command
 * over a UNIX or TCP socket (clamd(8), "INSTREAM"): "zINSTREAM\0", the
 * message in chunks each preceded by its length in 4 octets of network
 * order, a zero-length chunk at the end; then one answer up to a NUL:
 *
 *   stream: OK                              clean
 *   stream: NAME FOUND                      infected by the signature NAME
 *   INSTREAM size limit exceeded. ERROR     beyond clamd's StreamMaxLength
 *   ... ERROR                               any other failure
 *
 * A size limit exceeded is an error, never clean: the part clamd did not
 * see was not scanned; so is "stream: OK" before the end chunk was sent.
 * The pure answer parser is clamd_answer_parse; the scan
 * (clamd_scan_start) moves bytes with non-blocking sockets and
 * libevent, reads the message through the caller's callback, and has one
 * timeout for the whole exchange. Sends with MSG_NOSIGNAL (no SIGPIPE).
 */
#ifndef GATE26_SCAN_CLAMD_H
#define GATE26_SCAN_CLAMD_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "lib/slice.h"

struct event_base;

#define CLAMD_CHUNK      16384 /* octets of message per chunk */
#define CLAMD_ANSWER_MAX 1024  /* octets of answer before its NUL; more is an error */
#define CLAMD_NAME_MAX   128   /* octets of a signature name kept (longer ones are cut) */
#define CLAMD_ERROR_MAX  256

/* Where clamd listens: "unix:/path", "tcp:ADDR:PORT" or "ADDR:PORT" (ADDR numeric, [v6]). */
struct clamd_target {
    struct sockaddr_storage sa;
    socklen_t len;
};

/*
 * Parses text into t. Returns 0, or -1 with err (capacity cap) saying what
 * was expected. Addresses are numeric (a name would need a blocking lookup);
 * a UNIX path is absolute and fits sun_path.
 */
int clamd_target_parse(const char *text, struct clamd_target *t, char *err, size_t cap);

enum clamd_status {
    CLAMD_CLEAN,    /* stream: OK */
    CLAMD_INFECTED, /* stream: NAME FOUND; name holds NAME */
    CLAMD_ERROR,    /* clamd's ERROR, a broken connection, an answer out of grammar; error says */
    CLAMD_TIMEOUT,  /* no answer within the scan's timeout */
};

struct clamd_result {
    enum clamd_status status;
    char name[CLAMD_NAME_MAX + 1]; /* CLAMD_INFECTED: printable ASCII, others as '?' */
    char error[CLAMD_ERROR_MAX];   /* CLAMD_ERROR, CLAMD_TIMEOUT: printable ASCII */
};

/* "clean", "infected", "error", "timeout". */
const char *clamd_status_name(enum clamd_status s);

/*
 * Parses clamd's answer (the octets before its NUL) into r: CLAMD_CLEAN,
 * CLAMD_INFECTED or CLAMD_ERROR (with the answer, made printable, in
 * r->error; "INSTREAM size limit exceeded" for that one). Pure.
 */
void clamd_answer_parse(struct slice answer, struct clamd_result *r);

/*
 * Reads the next piece of the message into buf (at most cap octets):
 * returns the octets read, 0 at the end, or -1 on a failure (the scan ends
 * with CLAMD_ERROR). Called from the loop; must not block for long (a file
 * or a buffer).
 */
typedef ssize_t clamd_read_fn(void *arg, char *buf, size_t cap);

/* The scan ended; r is valid during the call. The handle is already freed. */
typedef void clamd_done_fn(void *arg, const struct clamd_result *r);

struct clamd_scan;

/*
 * Starts scanning the message that read_fn gives at target (copied), all
 * within timeout_ms. Always returns a handle; done is called exactly once,
 * from the loop (never from here, even when the socket cannot be made),
 * unless clamd_scan_cancel comes first.
 */
struct clamd_scan *clamd_scan_start(struct event_base *base, const struct clamd_target *target,
                                    unsigned timeout_ms, clamd_read_fn *read_fn, void *read_arg,
                                    clamd_done_fn *done, void *done_arg);

/* Stops a scan before its end: closes the connection, done is not called. NULL: nothing. */
void clamd_scan_cancel(struct clamd_scan *s);

#endif
