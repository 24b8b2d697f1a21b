/* SPDX-License-Identifier: MIT */
/*
 * Greylisting (docs/checks.md): the triplet of a delivery attempt (the
 * client's network, the envelope sender, the recipient) is refused with a
 * temporary failure until it has been seen for the delay, then passes and
 * is remembered; a client network that passed before for a sender domain
 * may skip the delay for new triplets of that domain when SPF passes.
 *
 * The store sits behind struct greylist_ops so that a shared backend
 * (Redis/Valkey, docs/state.md) can replace the embedded one. The embedded
 * backend is SQLite in SPOOL/greylist.db (WAL mode), bounded by a cap on
 * rows and expired by greylist_sweep().
 *
 * Faults of the store (the file deleted, corrupt or unwritable at run time,
 * a full disk) never make mail wait: the call that meets one answers
 * "pass" with degraded set, logs one warning, and the store reopens (a
 * corrupt file is moved aside as greylist.db.corrupt-TIME and recreated).
 * Greylisting is a filter of opportunity; a store of ours that cannot
 * answer must not turn into a tempfail that lasts until the sender gives
 * up.
 *
 * What it leaves to others: deciding whether a client is greylisted at all
 * (DNSWL, doors without greylist), the reply (451 4.7.1, smtp/reply.c), and
 * SPF (the caller asks greylist_domain_passed() only for an SPF pass).
 *
 * Threads: one thread at a time per store (the event loop's); the SQLite
 * backend has a checkpointer thread of its own inside.
 */
#ifndef GATE26_CHECKS_GREYLIST_H
#define GATE26_CHECKS_GREYLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/caps.h"

/* "192.0.2.0/24" or "2001:db8:1:2::/64". */
#define GREYLIST_NET_MAX 48

/* The defaults of the issue: 5 minutes; unpassed kept 1 day, passed 36 days; 1,000,000 rows. */
#define GREYLIST_DELAY_DEFAULT    300
#define GREYLIST_UNPASSED_TTL     86400
#define GREYLIST_PASSED_TTL       (36 * 86400)
#define GREYLIST_MAX_ROWS_DEFAULT 1000000

/*
 * One delivery attempt. net from greylist_net(); sender "local@domain"
 * with the domain lower-cased (empty for the null sender <>); rcpt the
 * same way. Make it with greylist_triplet_make().
 */
struct greylist_triplet {
    char net[GREYLIST_NET_MAX];
    char sender[CAP_MAILBOX + 1];
    char rcpt[CAP_MAILBOX + 1];
    char sender_domain[CAP_DOMAIN + 1]; /* lower-cased; empty for <> */
};

/*
 * The network of a client address (family AF_INET or AF_INET6, addr its 4
 * or 16 octets) into out (capacity cap, at least GREYLIST_NET_MAX): IPv4 as
 * its /24 ("192.0.2.0/24"), an IPv4-mapped IPv6 address as its IPv4 /24,
 * IPv6 as its /64 ("2001:db8:1:2::/64"). Returns 0, or -1 for another
 * family.
 */
int greylist_net(char *out, size_t cap, int family, const void *addr);

/*
 * Fills t from a client address and the envelope: sender_local and
 * sender_domain (either may be empty: the null sender has both empty),
 * rcpt_local and rcpt_domain. Domains are lower-cased; local parts stay as
 * they are (RFC 5321 2.4). Returns 0, or -1 when the family is unknown or
 * a part is over its cap (RFC 5321 4.5.3.1).
 */
int greylist_triplet_make(struct greylist_triplet *t, int family, const void *addr,
                          const char *sender_local, const char *sender_domain,
                          const char *rcpt_local, const char *rcpt_domain);

enum greylist_verdict {
    GREYLIST_DEFER, /* 451 4.7.1: try again after `left` seconds */
    GREYLIST_PASS,
};

struct greylist_answer {
    enum greylist_verdict verdict;
    unsigned left; /* DEFER: seconds until the triplet would pass */
    bool degraded; /* PASS because the store could not answer */
};

struct greylist_params {
    unsigned delay;        /* seconds a triplet waits; 0: GREYLIST_DELAY_DEFAULT */
    unsigned unpassed_ttl; /* 0: GREYLIST_UNPASSED_TTL */
    unsigned passed_ttl;   /* 0: GREYLIST_PASSED_TTL */
    size_t max_rows;       /* cap of triplets, and of domains; 0: GREYLIST_MAX_ROWS_DEFAULT */
};

struct greylist_stats {
    uint64_t triplets; /* triplets held now */
    uint64_t domains;  /* (network, sender domain) pairs that passed, held now */
    uint64_t max_rows; /* the cap of each of the two */
    uint64_t defers, passes, domain_skips;
    uint64_t degraded; /* answers "pass" because of a fault of the store */
    uint64_t evicted;  /* rows dropped for room (oldest unpassed first) */
    uint64_t expired;  /* rows dropped by greylist_sweep() */
    uint64_t reopened; /* the store reopened after a deletion, corruption or error */
};

struct greylist;

/* What a backend does; see the functions below for the contracts. */
struct greylist_ops {
    void (*check)(struct greylist *g, const struct greylist_triplet *t, int64_t now,
                  struct greylist_answer *out);
    bool (*domain_passed)(struct greylist *g, const char *net, const char *domain, int64_t now);
    int (*sweep)(struct greylist *g, int64_t now, unsigned budget);
    void (*stats)(struct greylist *g, struct greylist_stats *out);
    void (*close)(struct greylist *g);
};

/* The common head of every backend's object. */
struct greylist {
    const struct greylist_ops *ops;
};

/*
 * Opens (creating it if needed) the SQLite store at path (SPOOL/greylist.db),
 * in WAL mode. A file that is not a database or is corrupt is moved aside
 * as PATH.corrupt-TIME and a new one made (logged). Returns the store
 * (free with greylist_close()), or NULL with a message in err (capacity
 * errlen) when the directory is missing or not writable or SQLite fails.
 */
struct greylist *greylist_sqlite_open(const char *path, const struct greylist_params *p, char *err,
                                      size_t errlen);

/*
 * The decision for t at now (seconds since the epoch). A new triplet is
 * recorded and deferred for the delay; a retry before the delay is
 * deferred for what is left; after it the triplet passes and is
 * remembered for the passed time to live, renewed by each pass. A pass
 * also records (net, sender domain) for greylist_domain_passed(). A fault
 * of the store answers PASS with degraded set (see the top of this file).
 */
void greylist_check(struct greylist *g, const struct greylist_triplet *t, int64_t now,
                    struct greylist_answer *out);

/*
 * True when a triplet of the client network net with a sender of domain
 * (lower-cased, not empty) has passed within the passed time to live; the
 * memory is then renewed. The caller asks it only when SPF passed for
 * domain, and then skips greylist_check(). False on a fault.
 */
bool greylist_domain_passed(struct greylist *g, const char *net, const char *domain, int64_t now);

/*
 * Drops at most budget expired rows (unpassed triplets older than their
 * time to live, passed ones not renewed within theirs), checks that the
 * file is still the one opened and still a database (recreating it when it
 * was deleted, replaced or overwritten) and has the WAL checkpointed (in
 * the backend's own thread). Call it from a timer; a small budget
 * (a few hundred) keeps each call short. Returns the rows dropped; it is
 * budget when more may be left.
 */
int greylist_sweep(struct greylist *g, int64_t now, unsigned budget);

void greylist_stats(struct greylist *g, struct greylist_stats *out);

/* Closes the store. NULL: nothing. */
void greylist_close(struct greylist *g);

#endif
