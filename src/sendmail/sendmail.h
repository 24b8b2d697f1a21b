/* SPDX-License-Identifier: MIT */
/*
 * `gate26 sendmail` (docs/packaging.md, "sendmail, the local socket and the
 * maildrop"): the sendmail command of cron, PHP's mail() and mailx. It reads
 * the message on standard input, makes it a record (sendmail/record.h) and
 * hands it to the daemon's local submission socket, or, when no daemon
 * answers, to the maildrop the daemon picks up. It exits by sysexits.h as
 * sendmail does: 0 queued, 64 usage, 65 data, 75 not handed over.
 */
#ifndef GATE26_SENDMAIL_SENDMAIL_H
#define GATE26_SENDMAIL_SENDMAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/caps.h"

#define SENDMAIL_EX_OK       0
#define SENDMAIL_EX_USAGE    64
#define SENDMAIL_EX_DATAERR  65
#define SENDMAIL_EX_TEMPFAIL 75

/* The defaults the package installs (docs/packaging.md). */
#define SENDMAIL_DEFAULT_CONF     "/etc/gate26/gate26.conf"
#define SENDMAIL_DEFAULT_SOCKET   "/run/gate26/submit"
#define SENDMAIL_DEFAULT_MAILDROP "/var/spool/gate26-maildrop"
#define SENDMAIL_DEFAULT_MAX_SIZE (UINT64_C(10) << 20)

/*
 * Runs the command: argv[0] is "sendmail" (or the verb), options and
 * recipients follow. Returns the exit status.
 */
int sendmail_main(int argc, char **argv);

/* ---- what the parts share (private to src/sendmail) ---- */

/* The options (sendmail(8) as Postfix takes them). */
struct sendmail_opts {
    bool read_rcpts;  /* -t */
    bool ignore_dots; /* -i, -oi */
    bool smtp_stdio;  /* -bs */
    bool verbose;     /* -v */
    const char *from; /* -f, -r; NULL: USER@HOSTNAME */
    const char *name; /* -F */
    const char *conf; /* -C; NULL: the default file */
    char **rcpts;     /* the arguments after the options */
    size_t n_rcpts;
};

/*
 * Parses argv (argv[0] is the command's name). Returns 0, or
 * SENDMAIL_EX_USAGE after printing the reason on stderr. Options sendmail
 * ignores get a warning on stderr.
 */
int sendmail_parse_opts(int argc, char **argv, struct sendmail_opts *out);

/* What sendmail reads from the configuration (sendmail/conf_read.c). */
struct sendmail_conf {
    char hostname[CAP_HOSTNAME + 1]; /* "" when the file names none */
    char socket[CAP_PATH];
    char maildrop[CAP_PATH];
    bool enabled;      /* local-submit { enabled no }: false */
    uint64_t max_size; /* the internal door's max-message-size */
};

/*
 * Reads path's hostname, `listen internal { max-message-size }` and
 * `local-submit { socket maildrop enabled }` (the defaults for what it
 * does not say). Returns 0, or -1 with "FILE:LINE: what" in err.
 */
int sendmail_conf_read(const char *path, struct sendmail_conf *out, char *err, size_t errcap);

/* The message as it will be queued, and the envelope it gives. */
struct sendmail_msg {
    char *data; /* CR LF lines, our headers first */
    size_t len;
    char **rcpts; /* -t: To, Cc, Bcc's addresses (as written) */
    size_t n_rcpts;
};

/*
 * Makes the message from the len octets at in: LF (or CR LF) lines made CR
 * LF, the last one completed, ends at a lone "." unless ignore_dots; adds
 * From (with name), Date, Message-ID when missing; with read_rcpts collects
 * To, Cc and Bcc and removes Bcc. Returns 0, or -1 with the reason in why.
 */
int sendmail_msg_make(const char *in, size_t len, const struct sendmail_opts *o, const char *sender,
                      const char *hostname, struct sendmail_msg *out, char *why, size_t whycap);
void sendmail_msg_clear(struct sendmail_msg *m);

/*
 * Splits an address list (a header's value or an argument: "a@b, Name <c@d>,
 * group: e@f;") into the addresses it names, appended to *list. Returns 0,
 * or -1 with the reason in why.
 */
int sendmail_addr_list(const char *p, size_t len, char ***list, size_t *n, char *why,
                       size_t whycap);

/*
 * An address as the record takes it, into out: a bare local name ("root")
 * gets "@hostname" (as sendmail qualifies it); "Postmaster", in any case
 * (RFC 5321 4.5.1), stays bare. Returns 0, or -1 when the result is not a
 * valid path (RFC 5321 4.1.2) or does not fit.
 */
int sendmail_qualify(const char *addr, const char *hostname, char *out, size_t cap);

/* How a hand-over ended. */
enum sendmail_result {
    SENDMAIL_QUEUED,   /* the daemon has it durably: id set */
    SENDMAIL_DROPPED,  /* in the maildrop */
    SENDMAIL_REFUSED,  /* the daemon refused it for good (reason set) */
    SENDMAIL_TEMPFAIL, /* not handed over (reason set) */
};

/*
 * Sends the record (head and content) to the socket; when nothing answers
 * there, writes it into the maildrop. id gets the queue id (capacity at
 * least 32), reason a line of text (for stderr).
 */
enum sendmail_result sendmail_submit(const struct sendmail_conf *c, const char *head,
                                     size_t head_len, const char *content, size_t content_len,
                                     bool verbose, char *id, size_t idcap, char *reason,
                                     size_t reasoncap);

/*
 * Hands one message over: content (len octets, CR LF lines) from sender to
 * the n rcpts (checked addresses). Returns the exit status (SENDMAIL_EX_*),
 * with a line of text in reason ("queued as ID", or why not); id gets the
 * queue id when the daemon gave one.
 */
int sendmail_hand_over(const struct sendmail_conf *c, const char *sender, char *const *rcpts,
                       size_t n, const char *content, size_t len, bool verbose, char *reason,
                       size_t reasoncap, char *id, size_t idcap);

/* -bs: SMTP on standard input and output (sendmail/smtp_stdio.c). Returns the exit status. */
int sendmail_smtp_stdio(const struct sendmail_conf *c, const char *hostname, bool verbose);

/* The set-group-id run's group: in effect (around the maildrop file), or dropped for good. */
void sendmail_group_take(void);
void sendmail_group_drop(void);

#endif
