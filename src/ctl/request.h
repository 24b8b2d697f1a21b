/* SPDX-License-Identifier: MIT */
/*
 * The queue commands' requests (private to ctl/): which messages a command
 * is about, as several ids or as selectors that must all match; the
 * request line that carries them over the control socket (its grammar is
 * in ctl.h); and the matching of a queued message against the selectors,
 * which the daemon and `gate26 queue list` with the daemon stopped share.
 * Pure functions: no I/O.
 */
#ifndef GATE26_CTL_REQUEST_H
#define GATE26_CTL_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/caps.h"
#include "spool/spool.h"

/* At most this many ids in one request (a selector reaches any number). */
#define CTL_IDS_MAX 1000
/* The largest "limit=N" of a list (the console asks for a page's worth). */
#define CTL_LIST_LIMIT_MAX 1000000
/* The longest request line: CTL_IDS_MAX ids, or selectors with every octet %-encoded. */
#define CTL_REQUEST_MAX (16 + CTL_IDS_MAX * (SPOOL_ID_LEN + 1) + 2)

/* The selectors of a request (all given ones must match: AND). */
struct ctl_select {
    bool all;      /* --all: every message */
    bool held;     /* --held: on hold */
    bool deferred; /* --deferred: tried at least once, not on hold */
    bool has_from, has_to, has_domain, has_client, has_user;
    char from[CAP_MAILBOX + 1];  /* the sender; "" is the null reverse-path <> */
    char to[CAP_MAILBOX + 1];    /* a pending recipient */
    char domain[CAP_DOMAIN + 1]; /* a pending recipient's domain */
    char client[48];             /* the client's address, as inet_ntop writes it */
    int client_family;           /* AF_INET or AF_INET6 */
    unsigned char client_addr[16];
    char user[CAP_AUTH_USER + 1]; /* --user: the authenticated user (exactly, as AUTH gave it) */
};

/* What the daemon is asked to do. */
enum ctl_verb {
    CTL_LIST,
    CTL_LIST_JSON,
    CTL_SHOW,
    CTL_FLUSH,
    CTL_HOLD,
    CTL_RELEASE,
    CTL_DELETE,
    CTL_BOUNCE,
};

/* One request: a verb, and ids or selectors (never both). */
struct ctl_request {
    enum ctl_verb verb;
    size_t n_ids;
    char ids[CTL_IDS_MAX][SPOOL_ID_LEN + 1];
    bool has_select;
    struct ctl_select sel;
    size_t limit; /* list, list-json: at most this many messages in the answer; 0: all */
};

/* The verb's name on the wire ("list-json", "hold", ...). */
const char *ctl_verb_name(enum ctl_verb verb);

/* Looks a verb up by its wire name. Returns 0, or -1 when there is no such verb. */
int ctl_verb_find(const char *name, enum ctl_verb *out);

/* True when the verb changes messages (hold, release, delete, bounce, flush). */
bool ctl_verb_acts(enum ctl_verb verb);

/* True when s is a queue id: SPOOL_ID_LEN upper-case hex digits. */
bool ctl_is_id(const char *s);

/*
 * Sets one selector by name ("all", "held", "deferred" without a value;
 * "from", "to", "domain", "client", "user" with one), checking its value. Returns
 * 0, or -1 with the reason in why (naming the option, "--from: ...") when
 * the name is unknown, it was given before, or the value is not one.
 */
int ctl_select_set(struct ctl_select *sel, const char *name, const char *value, char *why,
                   size_t whycap);

/*
 * Adds id to the request, refusing a malformed one, one named twice and
 * more than CTL_IDS_MAX. Returns 0, or -1 with the reason in why.
 */
int ctl_request_add_id(struct ctl_request *req, const char *id, char *why, size_t whycap);

/*
 * Checks that the request's targets suit its verb: ids and selectors are
 * never mixed; list takes selectors only (and a limit, which no other
 * verb takes), show ids only (at least one);
 * hold, release, delete and bounce need ids or selectors; flush takes
 * either or nothing (every message). Returns 0, or -1 with the reason in why.
 */
int ctl_request_check(const struct ctl_request *req, char *why, size_t whycap);

/*
 * Writes the request line (with its LF) into out (capacity cap). Values
 * are %-encoded, so a line never holds a space, control octet or non-ASCII
 * octet inside a token. Returns 0, or -1 when it does not fit.
 */
int ctl_request_format(const struct ctl_request *req, char *out, size_t cap);

/*
 * Parses one request line (without its LF) into *req (which it clears
 * first) and checks it as ctl_request_check does. Returns 0, or -1 with
 * the reason in why.
 */
int ctl_request_parse(const char *line, size_t len, struct ctl_request *req, char *why,
                      size_t whycap);

/*
 * Does the message (its envelope, and whether it is on hold) match every
 * selector given? Addresses and domains are compared without regard to
 * ASCII case, user names exactly; to and domain look at the recipients
 * still pending only.
 */
bool ctl_select_match(const struct ctl_select *sel, const struct envelope *env, bool held);

#endif
