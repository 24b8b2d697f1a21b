/* SPDX-License-Identifier: MIT */
/*
 * Local submission in the daemon (docs/packaging.md, "sendmail, the local
 * socket and the maildrop"): the records `gate26 sendmail` hands over
 * (sendmail/record.h), from the local submission socket and from the
 * maildrop, queued as from the internal door: its `checks internal` block
 * runs on them (checks_message), and they are committed to the spool like
 * any message (group commit). The socket's caller is known by SO_PEERCRED,
 * a maildrop file's by its owner: never by what the record says.
 *
 * The socket answers one line once the message is durable or refused:
 *   "ok QUEUEID" LF      queued (sendmail exits 0)
 *   "fail TEXT" LF       refused for good (too large, not a record, a check)
 *   "temp TEXT" LF       not queued now (the spool, a check's tempfail)
 * A maildrop file is deleted only once its message is durable; one that is
 * not a record, or that is refused for good, is moved to MAILDROP/bad/ and
 * logged; one refused for now stays for the next scan (every 5 s).
 */
#ifndef GATE26_PICKUP_PICKUP_H
#define GATE26_PICKUP_PICKUP_H

#include <stddef.h>

#include "conf/conf.h"

struct event_base;
struct spool;
struct checks;
struct pickup;
struct track;

/* The maildrop is scanned this often, and at start. */
#define PICKUP_SCAN_SECONDS 5

/*
 * As root, before the privileges drop (c's local-submit block; nothing when
 * it is off): makes the socket's directory (0755, given to c->user when
 * made here) and the socket (0666), the maildrop (1730, c->user and the
 * group gate26drop when there is one) and MAILDROP/bad (0700), and opens
 * the maildrop. What cannot be made is one warning in the log, and that
 * way in stays shut (the daemon serves all the same); a socket another
 * daemon answers on is left to it. Returns the pickup (free with
 * pickup_free); spool and checks outlive it.
 */
struct pickup *pickup_new(struct event_base *base, struct spool *sp, struct checks *ck,
                          struct conf *c);

/* After the privileges dropped: the first maildrop scan, then one every PICKUP_SCAN_SECONDS. */
void pickup_start(struct pickup *pk);

/* A reload: the internal door's limit and checks of c from now on (the paths stay). */
void pickup_set_conf(struct pickup *pk, struct conf *c);

/*
 * Each job's end is noted in t from now on (its arrival, with door
 * "local"; track.h), NULL: not noted. t outlives its use here: set NULL
 * before it closes. NULL pk: nothing.
 */
void pickup_set_track(struct pickup *pk, struct track *t);

/*
 * At a stop, before the checks and the spool are freed: stops accepting
 * and scanning, removes the socket (when it may), closes the connections
 * and ends the jobs still in the checks (their callers get no answer;
 * their maildrop files stay for the next start). Jobs whose commit is in
 * flight stay: spool_free reports them (a maildrop file is then deleted).
 * NULL: nothing.
 */
void pickup_stop(struct pickup *pk);

/* After spool_free: frees the pickup and closes the maildrop. NULL: nothing. */
void pickup_free(struct pickup *pk);

#endif
