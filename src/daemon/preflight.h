/* SPDX-License-Identifier: MIT */
/*
 * What `serve` checks before it opens anything, and `configtest` in its
 * place, in one piece of code so that the two refuse exactly the same
 * files; and what a configuration names outside itself (certificates, the
 * CA store, the password file), loaded the one way that serve, a reload and
 * configtest share. Every message names the key's FILE:LINE where the key
 * was written.
 */
#ifndef GATE26_DAEMON_PREFLIGHT_H
#define GATE26_DAEMON_PREFLIGHT_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"

struct tls_server;
struct tls_client;
struct auth_db;
struct checks_keys;

/* What a configuration names outside the file, loaded (each NULL where it names none). */
struct preflight_loaded {
    struct tls_server *tls;        /* the certificates of tls { }, NULL without */
    struct tls_client *tls_client; /* outgoing TLS: ca-file or the system's store */
    struct auth_db *auth_db;       /* auth { passwd }, NULL without an auth block */
    struct checks_keys *dkim_keys; /* the dkim blocks' private keys, NULL without */
};

/*
 * Loads the certificates and keys, the CA store and the password file that
 * c names, as the calling process is (serve: root, before privileges drop;
 * a reload: the user). Returns 0 with *out filled (release it with
 * preflight_loaded_clear), or -1 with out empty and one line in err
 * (capacity errcap): "FILE:LINE: cannot read key '/k': Permission denied",
 * "FILE:LINE: cannot read password file '/p': No such file or directory
 * (create it with: gate26 passwd -c FILE USER)", "/p:3: duplicate user ...".
 */
int preflight_load(const struct conf *c, struct preflight_loaded *out, char *err, size_t errcap);

/* Drops the references of l and empties it. */
void preflight_loaded_clear(struct preflight_loaded *l);

enum preflight_mode {
    PREFLIGHT_SERVE,      /* gate26 serve, about to start: a file the user cannot read is a
                           * warning (only a reload would fail) */
    PREFLIGHT_CONFIGTEST, /* configtest: that file is an error, as everything a start or a
                           * reload would refuse */
};

/* Lines configtest prints and serve logs, beside a verdict of ok. */
#define PREFLIGHT_NOTES_MAX 4
struct preflight_notes {
    char note[PREFLIGHT_NOTES_MAX][512]; /* "FILE:LINE: spool '/x' does not exist yet: ..." */
    size_t n_notes;
    char warning[PREFLIGHT_NOTES_MAX][512]; /* "FILE: hostname is not set and ..." */
    size_t n_warnings;
};

/*
 * Everything serve would refuse about c before it binds, creates or reads
 * anything, in this order: the user (privileges_check), the spool (a
 * directory; or missing with its parent there, which serve creates), the
 * files of preflight_load (loaded into *out), the same files opened as
 * `user` when run as root (a reload runs as it: a forked child drops to the
 * user's uid and gid with no other group and opens each one, the
 * configuration file too: an error for configtest, a warning in notes for
 * serve, which can start without), and each listening address (a test
 * bind, with SO_REUSEADDR as the daemon binds; an address in use names its
 * owner from /proc; one held by the gate26 running on this spool is fine:
 * a reload keeps it, and a second serve is refused by the spool's lock).
 * Returns 0 with *out loaded and notes filled, or -1 with out empty and the
 * first problem in err.
 */
int preflight_start(const struct conf *c, enum preflight_mode mode, struct preflight_loaded *out,
                    struct preflight_notes *notes, char *err, size_t errcap);

/*
 * When c has no hostname key and the machine's name (gethostname) is not a
 * fully qualified domain name (no dot, or localhost), the warning to give,
 * naming the name used, in out (capacity cap); returns true. Else false.
 */
bool preflight_hostname_warning(const struct conf *c, char *out, size_t cap);

#endif
