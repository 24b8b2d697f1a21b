/* SPDX-License-Identifier: MIT */
/*
 * The milter client: plays one message through one milter (the Sendmail
 * milter protocol version 6, scan/milter_proto.h) on a libevent base, as
 * Postfix and Sendmail do: option negotiation, then connect, helo, mail,
 * each rcpt, data, the header fields one by one, end of headers, the body
 * in chunks of at most 65535 octets, end of message; each stage preceded by
 * its macros. It collects the milter's verdict and its modifications; it
 * applies nothing (the checks pipeline does, before the 250).
 *
 * The message is read through a callback (the pipeline reads the spool's
 * data file): the header section is split into fields, the rest is the body.
 * Every wait has a timeout (connect, each reply, the whole conversation);
 * a milter that closes, hangs or answers outside the protocol ends with
 * MILTER_ERROR and a reason, never a crash.
 */
#ifndef GATE26_SCAN_MILTER_H
#define GATE26_SCAN_MILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

struct event_base;

/* Where a milter listens: "unix:/path", "local:/path", "inet:PORT@HOST", "inet6:PORT@HOST",
 * "HOST:PORT" or "[HOST]:PORT"; HOST is a numeric address or "localhost". */
struct milter_addr {
    struct sockaddr_storage sa;
    socklen_t len;
    char text[128]; /* for logs: the spec as given, cut to fit */
};

/* Returns 0, or -1 with what is wrong in err (capacity cap). */
int milter_addr_parse(const char *spec, struct milter_addr *out, char *err, size_t cap);

/* The message's envelope and the macros' values; NULL leaves a macro out. */
struct milter_env {
    const char *hostname;    /* {j}: our name */
    const char *daemon_name; /* {daemon_name}: the door */
    const char *queue_id;    /* {i} */
    const char *client_addr; /* {client_addr}: numeric; NULL: unknown family */
    unsigned client_port;
    const char *client_name;  /* {client_name}: the verified rDNS name or "[addr]" */
    const char *helo;         /* NULL: no HELO step */
    const char *auth_authen;  /* {auth_authen} */
    const char *tls_version;  /* {tls_version} */
    const char *mail_from;    /* without angle brackets; "" for <> */
    const char *const *rcpts; /* without angle brackets */
    size_t n_rcpts;
};

typedef ssize_t (*milter_read_fn)(void *arg, char *buf, size_t cap);

struct milter_opts {
    unsigned connect_ms; /* the connect */
    unsigned reply_ms;   /* each reply (a PROGRESS starts it again) */
    unsigned total_ms;   /* the whole conversation */
    size_t body_max;     /* a replaced body longer than this is an error */
};

enum milter_verdict {
    MILTER_ACCEPT,    /* ACCEPT or CONTINUE to the end: keep it, with the modifications */
    MILTER_REJECT,    /* 5xx */
    MILTER_TEMPFAIL,  /* 4xx */
    MILTER_DISCARD,   /* accept and drop */
    MILTER_REPLYCODE, /* code and text */
    MILTER_ERROR,     /* the milter failed: on-error decides */
};

enum milter_mod_kind {
    MILTER_MOD_ADD,    /* a field added at the end of the header section */
    MILTER_MOD_INSERT, /* a field inserted before the index-th field (0: at the top) */
    MILTER_MOD_CHANGE, /* the index-th (from 1) field named name gets value */
    MILTER_MOD_DELETE, /* the index-th (from 1) field named name removed */
};

struct milter_mod {
    enum milter_mod_kind kind;
    unsigned index;
    char *name;
    char *value; /* folding as the milter sent it (LF or CR LF before white space) */
};

struct milter_result {
    enum milter_verdict verdict;
    unsigned code;    /* REPLYCODE: 400..599 */
    char *text;       /* REPLYCODE: the reply; ERROR: the reason */
    char *quarantine; /* non-NULL: the milter asked for a quarantine, with this reason */
    struct milter_mod *mods;
    size_t n_mods;
    bool body_replaced;
    char *body; /* body_replaced: the new body (CR LF lines, as sent) */
    size_t body_len;
    unsigned rcpt_rejected; /* recipients the milter refused at RCPT (the others go on) */
};

/* Called once, when the conversation ends; r is valid during the call only. */
typedef void (*milter_done_fn)(void *arg, const struct milter_result *r);

struct milter;

/*
 * Starts the conversation with the milter at addr for the message of env
 * (borrowed until done is called or milter_cancel()). read is called for
 * the content (the whole message, header section and body, CR LF lines,
 * no dot-stuffing) until it returns 0 (the end) or -1 (an error: the
 * result is MILTER_ERROR). done is called from the loop, never from here.
 * Returns the handle (freed after done returns, or by milter_cancel()).
 */
struct milter *milter_start(struct event_base *base, const struct milter_addr *addr,
                            const struct milter_opts *opts, const struct milter_env *env,
                            milter_read_fn read, void *read_arg, milter_done_fn done,
                            void *done_arg);

/*
 * Ends the conversation at once (closes the socket) and frees m; done is
 * not called. NULL: nothing. Not from inside read or done (m is in use
 * there, and gone once done returns).
 */
void milter_cancel(struct milter *m);

const char *milter_verdict_name(enum milter_verdict v);
const char *milter_mod_kind_name(enum milter_mod_kind k);

#endif
