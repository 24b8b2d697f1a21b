/* SPDX-License-Identifier: MIT */
/*
 * Queue control: the daemon's control socket and the `gate26 queue` client.
 *
 * The socket is SPOOL/control, a Unix stream socket of mode 0600 inside the
 * spool directory (mode 0700, owned by the gateway's user), so only root and
 * that user can reach it. Going through the daemon keeps the daemon and the
 * disk from ever disagreeing about a message. One request per connection,
 * one line (at most CTL_REQUEST_MAX octets, request.h):
 *
 *   request  = verb *(SP target) LF
 *   request  =/ "unlock" SP token LF    ; a client address or a user name
 *   request  =/ "status" LF / "status-json" LF
 *   request  =/ "console-login" SP ("gate" / "failed" / "ok") SP client [SP user] LF
 *                                       ; the console's logins (console_auth.h)
 *   request  =/ "series-json" LF
 *   request  =/ "alerts-json" LF
 *   verb     = "list" / "list-json" / "show" / "flush" / "hold" / "release"
 *              / "delete" / "bounce"
 *   target   = id / selector           ; ids and selectors are never mixed
 *   id       = 16 upper-case hex digits ; at most CTL_IDS_MAX, none twice
 *   selector = "all" / "held" / "deferred" / "from=" value / "to=" value
 *              / "domain=" value / "client=" value   ; each at most once
 *   value    = every octet 0x21-0x7E but "%" as itself, any other as "%" HH
 *              (upper-case hex, never %00); "from=" with nothing is <>
 *   target   =/ "limit=" 1*7DIGIT     ; list, list-json only: 1 to 1000000,
 *                                      ; no leading zero, at most once
 *
 * list and list-json take selectors (none: every message) and a limit: at
 * most that many messages are listed, and the end still counts every one
 * that matched (list-json's "total"); show takes ids;
 * hold, release, delete and bounce take ids or selectors; flush takes
 * either, or nothing (every message not on hold). Selectors must all match
 * (docs/relay.md, "Queue control", says what each matches).
 *
 * The answer is a line "ok" or "error: TEXT", then the body, then the
 * daemon closes. A refusal of the whole request has no body. For hold,
 * release, delete, bounce and flush with targets, the body has one line
 * per message selected, in order, "+ ID: TEXT" (done) or "- ID: TEXT" (not
 * done, and why: no such message, being delivered right now, ...), and
 * ends with "= SUMMARY"; the status is "ok" when every message was done,
 * else "error: SUMMARY". A plain flush answers "ok" and "N messages to be
 * tried now". unlock answers "ok" and what it cleared, or "error: TEXT"
 * (ctl_unlock_run); it reaches the lockouts, which live only in the
 * daemon's memory. status-json answers "ok" and the status document, one
 * JSON object (docs/watch.md, "gate26 status", lists its fields); status
 * answers "ok" and the same document as `gate26 status` prints it.
 * series-json answers "ok" and one compact JSON line: each door's counts
 * per minute over the last 24 hours, for the console (series.h).
 * alerts-json answers "ok" and the alerts document (docs/watch.md, "The
 * alerts document"): the rules as run, the keys firing, the history.
 */
#ifndef GATE26_CTL_CTL_H
#define GATE26_CTL_CTL_H

#include <stddef.h>

#include "sched/sched.h"

struct event_base;
struct ctl;
struct policy_limits;

/* The socket's file name inside the spool directory. */
#define CTL_SOCKET_NAME "control"

/*
 * Opens the control socket in spool_dir (replacing a stale one) on base,
 * answering through s, and unlocking in limits (the daemon's counting
 * tables, borrowed: they outlive the socket; NULL: unlock answers an
 * error). Returns it (free with ctl_free), or NULL with the reason in err
 * (capacity errcap).
 */
struct ctl *ctl_new(struct event_base *base, struct sched *s, struct policy_limits *limits,
                    const char *spool_dir, char *err, size_t errcap);

struct watch;
struct spool;

/*
 * The watcher whose counts status and status-json report (borrowed: it
 * outlives c). Without one, they report zeros and the queue.
 */
void ctl_set_watch(struct ctl *c, struct watch *w);

/*
 * The spool whose quarantine the request "quarantine release|delete ID..."
 * changes (borrowed: it outlives c). Without it, that request answers an
 * error.
 */
void ctl_set_spool(struct ctl *c, struct spool *sp);

/*
 * `gate26 quarantine [-c FILE] list|show|release|delete` with argv[0]
 * "quarantine" (quarantine_client.c). Returns the exit status: 0 done, 1
 * not done for some message or the spool cannot be read, 2 a usage error.
 */
int ctl_quarantine_main(int argc, char **argv, const char *default_conf);

struct conf;

/*
 * The configuration running now, for the console's logins in the lockout
 * ("console-login", console_auth.h): c keeps a reference (the old one is
 * dropped). Set at the start and at each reload. Until then, console-login
 * answers an error.
 */
void ctl_set_conf(struct ctl *c, struct conf *conf);

/* The socket's path (to give it to the gateway's user before dropping root). */
const char *ctl_path(const struct ctl *c);

/*
 * Closes the socket (and removes it) and every connection; commands still
 * waiting for the spool report to nobody. Call before spool_free(), while
 * the spool's lock is held: a daemon that starts next must never find a
 * socket that still answers. NULL: nothing.
 */
void ctl_free(struct ctl *c);

/*
 * The client: `gate26 queue` with argv[0] "queue" (default_conf unless -c
 * FILE). Sends the request to the daemon whose spool the configuration
 * names and prints its answer; with the daemon stopped, list and show read
 * the spool (read-only, under its lock: docs/spool.md), the other commands
 * refuse. Returns the exit status: 0 done, 1 not done for some message
 * (unknown id, busy, ...) or the daemon not running, 2 a usage error.
 */
int ctl_client_main(int argc, char **argv, const char *default_conf);

/*
 * The verb "unlock ARG" in the daemon (unlock.c): ARG is a client address
 * (IPv4, or IPv6 for its /64) or a user name (any case), or both (a dotted
 * quad is a valid user name too). Ends its AUTH lock and forgets its
 * failures in pl at once, logs event=unlock. Returns 0 with what it cleared
 * in text ("unlocked client 192.0.2.7"), or -1 with why not ("nothing to
 * unlock for user bob", not an address or a user name), capacity cap.
 */
int ctl_unlock_run(struct policy_limits *pl, const char *arg, char *text, size_t cap);

/*
 * The client, `gate26 unlock CLIENT|USER`, in two steps. ctl_unlock_args()
 * checks the arguments after -c FILE ("ARG" or "-- ARG"): returns -1 when
 * they are good, else the exit status after printing the usage (0 for
 * --help, 2 for a usage error: none, several, an unknown option, or
 * neither an address nor a valid user name). ctl_unlock_client(), with
 * the same arguments, then sends "unlock ARG" to the daemon whose spool is
 * spool_dir and prints the answer; returns 0 when something was unlocked,
 * 1 when nothing was (or the daemon is not running).
 */
int ctl_unlock_args(int argc, char **argv);
int ctl_unlock_client(const char *spool_dir, int argc, char **argv);

/*
 * The client `gate26 status [-c FILE] [--json]` with argv[0] "status"
 * (default_conf unless -c FILE): asks the daemon for status-json and
 * prints the document (--json) or its table (status_client.c). Returns the
 * exit status: 0 ok, 1 an alert is firing, 2 the daemon cannot be asked
 * (not running, not answering, or the configuration cannot be read), 3 a
 * usage error.
 */
int ctl_status_main(int argc, char **argv, const char *default_conf);

/*
 * `gate26 scanners [-c FILE] [--json] [--top N]` (docs/scanners.md): the
 * scanners the running daemon has seen. Returns the exit status: 0, 2 the
 * daemon cannot be asked, 3 a usage error.
 */
int ctl_scanners_main(int argc, char **argv, const char *default_conf);

#endif
