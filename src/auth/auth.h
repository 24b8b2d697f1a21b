/* SPDX-License-Identifier: MIT */
/*
 * The password side of SMTP AUTH (RFC 4954): the password file, checking a
 * password against it off the event loop, and the decoding of the SASL
 * mechanisms PLAIN (RFC 4616) and LOGIN. The SMTP dialogue itself (the AUTH
 * command, its replies, when AUTH is offered) belongs to smtp/; this module
 * knows nothing of sessions or sockets.
 *
 * Hashes are crypt(3) strings checked with libxcrypt: yescrypt ($y$, the
 * default of `gate26 passwd`), bcrypt ($2b$, $2y$), sha512-crypt ($6$),
 * scrypt ($7$) and gost-yescrypt ($gy$). DES, MD5, sha256-crypt and anything
 * else libxcrypt calls legacy or does not know are refused when the file is
 * loaded, so a weak hash never gets as far as a login.
 *
 * Threads: auth_db_verify() and the pure functions may run on any thread;
 * a loaded struct auth_db is never changed, so threads share it. The pool's
 * functions and its callbacks belong to the event loop's thread.
 */
#ifndef GATE26_AUTH_AUTH_H
#define GATE26_AUTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;

/* ------------------------------------------------------------ limits */

/* A user name of the password file: 1..64 printable ASCII octets. */
#define AUTH_USER_MAX 64
/* RFC 4616 2: authzid, authcid and passwd are each at most 255 octets. */
#define AUTH_SASL_FIELD_MAX 255
/* Checks waiting or running in one pool; more fail with EAGAIN. */
#define AUTH_POOL_MAX_PENDING 256
/* The password file is read whole; a longer one is refused. */
#define AUTH_DB_MAX_SIZE (16 * 1024 * 1024)
/* A line of the password file, without its LF. */
#define AUTH_DB_LINE_MAX 1024

/*
 * True when name (len octets) may be a user of the password file: 1 to
 * AUTH_USER_MAX printable ASCII octets (0x21..0x7e) other than ':'.
 */
bool auth_is_user_name(const char *name, size_t len);

/*
 * True when pass (len octets) may be set as a password: 1 to
 * AUTH_SASL_FIELD_MAX octets of UTF-8 (RFC 3629) without NUL, which is what
 * PLAIN can carry (RFC 4616 2, passwd = 1*(UTF8-SAFE)).
 */
bool auth_is_password(const char *pass, size_t len);

/* ------------------------------------------------------------ the password file */

struct auth_db;

/*
 * Reads the password file at path: one "user:hash" a line, LF-terminated
 * (the last LF may be missing); empty lines, lines of blanks and lines whose
 * first non-blank is '#' are ignored. user as auth_is_user_name(); hash a
 * crypt(3) string of a method named at the top of this file, written whole.
 * Nothing else is allowed on a line, not even blanks around the fields.
 *
 * Also makes the dummy hash that unknown users are checked against (same
 * method and cost as the first entry, or libxcrypt's default for an empty
 * file), so that this takes one hash computation of time.
 *
 * Returns a new db with one reference (drop it with auth_db_unref), or NULL
 * with "FILE:LINE: what was expected" (or "FILE: why" when the file cannot
 * be read) in err, capacity errcap. The first error in file order is the one
 * reported; a duplicate user is one.
 */
struct auth_db *auth_db_load(const char *path, char *err, size_t errcap);

/*
 * auth_db_load() of text (len octets, borrowed for the call) instead of the
 * file's contents; path only names it in messages. For tests and fuzzing.
 */
struct auth_db *auth_db_load_text(const char *path, const char *text, size_t len, char *err,
                                  size_t errcap);

/*
 * Takes one more reference and returns db. The daemon holds one for the
 * current file and each check in flight holds its own, so a reload (SIGHUP)
 * may swap the daemon's db while checks against the old one finish.
 * Atomic: any thread may take or drop a reference.
 */
struct auth_db *auth_db_ref(struct auth_db *db);

/* Drops a reference; the last one wipes every hash and frees. NULL: nothing. */
void auth_db_unref(struct auth_db *db);

/* The number of users in db. */
size_t auth_db_count(const struct auth_db *db);

/*
 * True when user has an entry in db that is not locked (`gate26 passwd
 * --lock`): the app passwords of a user (account/) are taken only then, so
 * that deleting or locking the user stops them too. No hashing: cheap.
 */
bool auth_db_is_active(const struct auth_db *db, const char *user);

/* What a password check found. */
enum auth_verdict {
    AUTH_VERDICT_BAD,    /* a wrong password, or no such user */
    AUTH_VERDICT_OK,     /* the user's password */
    AUTH_VERDICT_LOCKED, /* the user's entry is locked (`gate26 passwd --lock`): nothing matches */
};

/* "bad", "ok", "locked": for log lines and tests. */
const char *auth_verdict_name(enum auth_verdict v);

/*
 * Checks pass (pass_len octets, need not be NUL-terminated) for user
 * (NUL-terminated). Blocks for one hash computation, tens of milliseconds:
 * never call it on the event loop, use the pool. An unknown user (or a name
 * that could not be one) costs the same, checked against the dummy hash,
 * and so does a locked user, checked against the hash its entry keeps
 * behind the '!'. The comparison is constant-time. An empty password, one
 * with a NUL octet or one libxcrypt refuses (longer than 512 octets) is
 * AUTH_VERDICT_BAD (or _LOCKED for a locked user). Copies of pass are wiped
 * before return. Thread-safe.
 */
enum auth_verdict auth_db_check(const struct auth_db *db, const char *user, const char *pass,
                                size_t pass_len);

/* auth_db_check() == AUTH_VERDICT_OK. */
bool auth_db_verify(const struct auth_db *db, const char *user, const char *pass, size_t pass_len);

/* ------------------------------------------------------------ checks off the loop */

struct auth_pool;
struct auth_check;

/* The result of a check (auth_db_check's verdict). */
typedef void auth_done_fn(void *arg, enum auth_verdict verdict);

/*
 * Starts n_threads worker threads (0: 2; at most 64) that run checks for
 * the loop of base; results come back to that loop through an eventfd.
 * Returns the pool (free with auth_pool_free) or NULL with errno set.
 */
struct auth_pool *auth_pool_new(struct event_base *base, unsigned n_threads);

/*
 * Stops the threads (a check being computed is finished first) and frees
 * the pool. Checks still queued or unreported are freed without their
 * callbacks, and their handles become invalid: cancel them first. Call it
 * before event_base_free(). NULL: nothing.
 */
void auth_pool_free(struct auth_pool *pool);

/*
 * Queues a check of pass (pass_len octets) for user (NUL-terminated) in db
 * and takes a reference to db for it. user and pass are copied; the copy of
 * pass is wiped once checked. fn(arg, ok) runs later on the loop's thread,
 * never from inside this call, unless the check is cancelled first.
 *
 * Returns the check's handle, valid until fn has been called or
 * auth_check_cancel() returns. NULL with errno EAGAIN when
 * AUTH_POOL_MAX_PENDING checks are already waiting or running (answer
 * 454 4.7.0 and let the client try later).
 */
struct auth_check *auth_check_start(struct auth_pool *pool, struct auth_db *db, const char *user,
                                    const char *pass, size_t pass_len, auth_done_fn *fn, void *arg);

/*
 * Forgets a check: fn will not be called. Safe at any time before fn runs,
 * also while a thread is computing the hash (the thread's result is then
 * dropped). Not after fn has been called. NULL: nothing.
 */
void auth_check_cancel(struct auth_check *check);

/* ------------------------------------------------------------ SASL decoding */

/*
 * Strict base64 (RFC 4648 4): the standard alphabet, padding required (len a
 * multiple of 4), '=' only as the last one or two characters, the unused
 * bits of the last character zero (RFC 4648 3.5), no whitespace or line
 * breaks. Empty input decodes to nothing. Writes the octets to out
 * (capacity cap) and their number to *out_len. Returns 0, or -1 with errno
 * EINVAL (not base64: RFC 4954 4 "501 5.5.2") or EMSGSIZE (longer than cap).
 * out may be changed on failure.
 */
int auth_b64_decode(const char *in, size_t len, unsigned char *out, size_t cap, size_t *out_len);

/* The length of the base64 text of n octets, without a terminating NUL. */
#define AUTH_B64_LEN(n) (((n) + 2) / 3 * 4)

/*
 * Writes the padded base64 of in (len octets) to out (capacity cap) with a
 * terminating NUL. Returns 0, or -1 when cap < AUTH_B64_LEN(len) + 1.
 */
int auth_b64_encode(const unsigned char *in, size_t len, char *out, size_t cap);

/* The LOGIN mechanism's challenges (draft-murchison-sasl-login), base64 of
 * "Username:" and "Password:", as sent after "334 ". */
#define AUTH_LOGIN_PROMPT_USER "VXNlcm5hbWU6"
#define AUTH_LOGIN_PROMPT_PASS "UGFzc3dvcmQ6"

/*
 * True when a client's response line (without CRLF) is "*": the client
 * cancels the exchange and the server answers 501 (RFC 4954 4).
 */
bool auth_is_cancel(const char *line, size_t len);

/* How a SASL message decoded. */
enum auth_sasl_rc {
    AUTH_SASL_OK,
    AUTH_SASL_MALFORMED, /* not authzid NUL authcid NUL passwd (a NUL missing or extra) */
    AUTH_SASL_EMPTY,     /* authcid or passwd empty */
    AUTH_SASL_TOO_LONG,  /* a field over AUTH_SASL_FIELD_MAX octets */
    AUTH_SASL_NOT_UTF8,  /* a field is not UTF-8 */
    AUTH_SASL_AUTHZID,   /* authzid given and not the authcid: proxy login, refused (535) */
};

/* "ok", "malformed", "empty", "too-long", "not-utf8", "authzid": for log lines. */
const char *auth_sasl_rc_name(enum auth_sasl_rc rc);

/* A decoded PLAIN message: NUL-terminated copies. Wipe it with auth_plain_clear(). */
struct auth_plain {
    char authzid[AUTH_SASL_FIELD_MAX + 1]; /* "" when not given */
    char authcid[AUTH_SASL_FIELD_MAX + 1];
    char passwd[AUTH_SASL_FIELD_MAX + 1];
    size_t passwd_len;
};

/*
 * Splits a decoded PLAIN message (RFC 4616 2):
 *     message = [authzid] UTF8NUL authcid UTF8NUL passwd
 * authcid and passwd 1..255 octets, authzid 0..255, each UTF-8 without NUL.
 * An authzid other than the authcid asks to act as someone else, which we do
 * not support: AUTH_SASL_AUTHZID. Fills *out only on AUTH_SASL_OK; on any
 * other result *out is left wiped.
 */
enum auth_sasl_rc auth_plain_parse(const unsigned char *msg, size_t len, struct auth_plain *out);

/*
 * Checks one decoded LOGIN response (the user name or the password): 1..255
 * octets of UTF-8 without NUL. AUTH_SASL_OK, AUTH_SASL_EMPTY,
 * AUTH_SASL_TOO_LONG, AUTH_SASL_MALFORMED (a NUL) or AUTH_SASL_NOT_UTF8.
 */
enum auth_sasl_rc auth_login_field(const unsigned char *msg, size_t len);

/* Wipes p (OPENSSL_cleanse). */
void auth_plain_clear(struct auth_plain *p);

/* ------------------------------------------------------------ gate26 passwd */

/*
 * `gate26 passwd [-c CONFFILE] [-f PASSWDFILE] [--delete | --lock] USER`:
 * sets USER's password in the password file (-f, else the config's
 * auth { passwd FILE }, the config being -c or default_conf), or removes
 * USER's line (--delete), or locks USER (--lock: the entry stays, its hash
 * behind a '!', and no password matches until a new one is set).
 * `--help` prints the usage on standard output. argv[0] is "passwd".
 * Prints its own messages. Returns the exit status: 0 done, 1 failed or no
 * such user (nothing changed), 2 usage error.
 */
int auth_passwd_cli(int argc, char **argv, const char *default_conf);

#endif
