/* SPDX-License-Identifier: MIT */
/*
 * Dot-stuffing of the content on its way out (RFC 5321 4.5.2), and the end
 * of data (4.1.1.4): a line that starts with "." gets another "." in front,
 * the last line is ended with CRLF if it lacks one, and "." CRLF follows.
 *
 * The spool holds only CRLF line ends (the server refuses bare CR and bare
 * LF, 5.6.0). Should a queue file hold one anyway, it goes out as CRLF: the
 * next server then sees the same lines we do, and no "\n.\n" in the content
 * can end its DATA early (SMTP smuggling). A pure function of its input,
 * fed in pieces of any size; private to src/deliver/.
 */
#ifndef GATE26_DELIVER_STUFF_H
#define GATE26_DELIVER_STUFF_H

#include <stdbool.h>
#include <stddef.h>

struct deliver_stuff {
    bool line_start; /* the next octet starts a line */
    bool cr;         /* a CR was the last octet: is an LF next? */
};

/* The most octets deliver_stuff() writes for len octets of input. */
#define DELIVER_STUFF_MAX(len) (2 * (len) + 2)

/* The octets deliver_stuff_end() writes at most: CR LF "." CR LF. */
#define DELIVER_STUFF_END_MAX 5

void deliver_stuff_init(struct deliver_stuff *st);

/*
 * Stuffs len octets of content from in into out (DELIVER_STUFF_MAX(len)
 * octets of room). Returns the octets written; a CR at the end of in is
 * held back until the next call shows what follows it.
 */
size_t deliver_stuff(struct deliver_stuff *st, const char *in, size_t len, char *out);

/* Writes the end of data into out (DELIVER_STUFF_END_MAX octets of room); returns its length. */
size_t deliver_stuff_end(struct deliver_stuff *st, char *out);

#endif
