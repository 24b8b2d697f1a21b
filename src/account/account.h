/* SPDX-License-Identifier: MIT */
/*
 * Accounts: a second factor and app passwords (docs/console.md, "Accounts:
 * a second factor and app passwords"). Two parts:
 *
 * - totp.c: HOTP (RFC 4226) and TOTP (RFC 6238: HMAC-SHA1, 30-second
 *   steps, 6 digits, one step on each side accepted, each code once),
 *   base32 (RFC 4648 6) and the otpauth:// URI authenticator apps read.
 *   Pure functions: any thread.
 * - store.c: SPOOL/accounts.db (SQLite, WAL), the users' TOTP secrets,
 *   recovery codes and app passwords. The daemon's AUTH asks it about app
 *   passwords; `gate26 app-password` and `gate26 totp` (cli.c) and later
 *   the console write it. One connection per process, used from one thread.
 *
 * The main passwords stay in auth/ (the passwd file); this module knows
 * nothing of SMTP, sessions or the event loop.
 */
#ifndef GATE26_ACCOUNT_ACCOUNT_H
#define GATE26_ACCOUNT_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ------------------------------------------------------------ TOTP and base32 */

/* The secret made at enrolment: 20 octets, the size of HMAC-SHA1's output (RFC 4226 4 R6). */
#define TOTP_SECRET_LEN 20
/* The longest secret totp_verify() and totp_hotp() take. */
#define TOTP_SECRET_MAX 64
/* RFC 6238 4.1: X, the time step, and the digits of a code. */
#define TOTP_STEP   30
#define TOTP_DIGITS 6
/* The base32 text of n octets, without padding (RFC 4648 6), and with it. */
#define TOTP_B32_LEN(n)        (((n)*8 + 4) / 5)
#define TOTP_B32_PADDED_LEN(n) (((n) + 4) / 5 * 8)
/* The otpauth:// URI of a user name of at most AUTH_USER_MAX octets, escaped, and a 20-octet
 * secret, with its NUL. */
#define TOTP_URI_CAP 512

/*
 * HOTP(key, counter) (RFC 4226 5.3): HMAC-SHA1, dynamic truncation, modulo
 * 10^digits (digits 6..8). Returns the value; the caller prints it with
 * leading zeros. key at most TOTP_SECRET_MAX octets (longer: returns 0).
 */
uint32_t totp_hotp(const unsigned char *key, size_t len, uint64_t counter, unsigned digits);

/*
 * Checks a TOTP code (RFC 6238 4, 5.2): code must be exactly TOTP_DIGITS
 * ASCII digits and NUL-terminated; it is compared with the codes of the
 * steps floor(now / TOTP_STEP) - 1, + 0 and + 1, skipping any step not
 * after last_step (a code already used, or older than one used: each code
 * works once, RFC 6238 5.2). On a match sets *step to its step (the caller
 * stores it as the new last_step) and returns true. now < 0 or a secret
 * longer than TOTP_SECRET_MAX: false. Constant-time in the code's value.
 */
bool totp_verify(const unsigned char *secret, size_t len, const char *code, int64_t now,
                 int64_t last_step, int64_t *step);

/*
 * Writes the base32 of in (len octets, RFC 4648 6, upper case) to out
 * (capacity cap) with a NUL; with pad, '=' to a multiple of 8 characters
 * (authenticator apps want it without). Returns 0, or -1 when cap is too
 * small.
 */
int totp_base32_encode(const unsigned char *in, size_t len, bool pad, char *out, size_t cap);

/*
 * Decodes base32 (RFC 4648 6) as people type it: either case, spaces
 * ignored anywhere, padding '=' allowed only at the end and optional, but
 * if present it must fill the text to a multiple of 8. A length that no
 * octet string has (1, 3 or 6 characters in the last group) and unused
 * bits in the last character that are not zero (RFC 4648 3.5) are refused.
 * Writes the octets to out (capacity cap), their number to *out_len.
 * Returns 0, or -1 with errno EINVAL (not base32) or EMSGSIZE (over cap);
 * out may be changed on failure.
 */
int totp_base32_decode(const char *in, size_t len, unsigned char *out, size_t cap, size_t *out_len);

/*
 * The key URI authenticator apps read from a QR code:
 * otpauth://totp/gate26:USER?secret=BASE32&issuer=gate26 (USER
 * percent-encoded as RFC 3986 2.1 requires outside its unreserved set).
 * Returns 0, or -1 when cap is too small (TOTP_URI_CAP is enough for a user
 * of 64 octets and a 20-octet secret).
 */
int totp_uri(const char *user, const unsigned char *secret, size_t len, char *out, size_t cap);

/* ------------------------------------------------------------ the store */

/* The file, inside the spool directory. */
#define ACCOUNT_DB_NAME "accounts.db"
/* Recovery codes made at a time, and the characters of one (base32's lower-case alphabet). */
#define ACCOUNT_RECOVERY_CODES 10
#define ACCOUNT_RECOVERY_LEN   10
/* An app password: 16 random lower-case letters, and its text as shown, "abcd efgh ijkl mnop". */
#define ACCOUNT_APP_PASSWORD_LETTERS 16
#define ACCOUNT_APP_PASSWORD_SHOWN   19
/* An app password's name: 1..64 octets of UTF-8 without controls. */
#define ACCOUNT_NAME_MAX 64
/* App passwords one user may have (revoked ones included). */
#define ACCOUNT_APP_PASSWORDS_MAX 100
/* The text of a client address as stored for last use. */
#define ACCOUNT_FROM_MAX 64

struct account_store;

/* What a question to the store found. */
enum account_rc {
    ACCOUNT_OK,
    ACCOUNT_NONE,       /* no such user, enrolment, app password or code */
    ACCOUNT_REVOKED,    /* an app password, revoked */
    ACCOUNT_WRONG_DOOR, /* an app password, not made for this door */
    ACCOUNT_BAD_CODE,   /* a TOTP code that is wrong, malformed or used already */
    ACCOUNT_EXISTS,     /* TOTP enrolled already (remove it first) / too many app passwords */
    ACCOUNT_ERROR,      /* the database failed: see account_store_error() */
};

/* "ok", "none", "revoked", "wrong-door", "bad-code", "exists", "error". */
const char *account_rc_name(enum account_rc rc);

/*
 * Opens SPOOL/accounts.db. With create, a missing file is made (mode 0600,
 * then chowned to owner/group when those are not (uid_t)-1 and we are
 * root, so that the daemon's user can write it), with its tables and a
 * random 32-octet key for the app passwords' HMAC-SHA-256; the command line
 * waits up to 5 seconds for a writer. Without create (the daemon), a
 * missing file is not an error: the store answers ACCOUNT_NONE to
 * everything and looks for the file again at each question, so one made
 * later by `gate26 app-password` is found without a reload; the daemon
 * never waits for a lock (reads do not need one in WAL mode, and a last use
 * that meets a writer is not recorded).
 *
 * Returns the store (free with account_store_free) or NULL with the reason
 * in err (capacity errcap).
 */
struct account_store *account_store_open(const char *spool, bool create, uid_t owner, gid_t group,
                                         char *err, size_t errcap);

/* Closes and frees. NULL: nothing. */
void account_store_free(struct account_store *st);

/* The last database error, for messages: "" when none. */
const char *account_store_error(const struct account_store *st);

/*
 * Starts a TOTP enrolment for user: a new random secret (TOTP_SECRET_LEN
 * octets, written to secret), kept unconfirmed until account_totp_confirm().
 * A pending enrolment is replaced. ACCOUNT_OK, ACCOUNT_EXISTS (enrolled and
 * confirmed: remove it first) or ACCOUNT_ERROR.
 */
enum account_rc account_totp_enrol(struct account_store *st, const char *user,
                                   unsigned char secret[TOTP_SECRET_LEN]);

/*
 * Finishes an enrolment with a first good code at time now: ACCOUNT_OK
 * (enrolled; the code's step is used up), ACCOUNT_NONE (no enrolment
 * pending), ACCOUNT_EXISTS (confirmed already), ACCOUNT_BAD_CODE or
 * ACCOUNT_ERROR.
 */
enum account_rc account_totp_confirm(struct account_store *st, const char *user, const char *code,
                                     int64_t now);

/*
 * A login's second factor: ACCOUNT_OK (the code is good and is now used
 * up), ACCOUNT_BAD_CODE (wrong, malformed, replayed), ACCOUNT_NONE (user
 * not enrolled) or ACCOUNT_ERROR. Two concurrent uses of one code: one wins.
 */
enum account_rc account_totp_check(struct account_store *st, const char *user, const char *code,
                                   int64_t now);

/* Removes user's TOTP (pending or enrolled) and recovery codes: ACCOUNT_OK, _NONE, _ERROR. */
enum account_rc account_totp_remove(struct account_store *st, const char *user);

/* 1: user is enrolled (confirmed); 0: not, or no database; -1: the database failed. */
int account_totp_is_enrolled(struct account_store *st, const char *user);

/*
 * Makes ACCOUNT_RECOVERY_CODES new recovery codes for user, replacing any
 * before, and writes them (each ACCOUNT_RECOVERY_LEN characters and a NUL)
 * to codes: they are shown once, only their SHA-256 is kept. ACCOUNT_OK,
 * ACCOUNT_NONE (user not enrolled in TOTP) or ACCOUNT_ERROR.
 */
enum account_rc account_recovery_make(struct account_store *st, const char *user,
                                      char codes[ACCOUNT_RECOVERY_CODES][ACCOUNT_RECOVERY_LEN + 1]);

/*
 * Uses up one recovery code (case and spaces or '-' ignored): ACCOUNT_OK,
 * ACCOUNT_NONE (no such unused code) or ACCOUNT_ERROR.
 */
enum account_rc account_recovery_use(struct account_store *st, const char *user, const char *code);

/* Unused recovery codes of user, or -1 when the database failed. */
int account_recovery_left(struct account_store *st, const char *user);

/*
 * Creates an app password for user, named name (1..ACCOUNT_NAME_MAX octets
 * of UTF-8 without controls), usable on doors (a comma-separated list of
 * door names, each once, as the caller checked them) from now on. Writes
 * its text, shown once, as "abcd efgh ijkl mnop" with a NUL to shown, and
 * its id to *id. ACCOUNT_OK, ACCOUNT_EXISTS (ACCOUNT_APP_PASSWORDS_MAX
 * already), ACCOUNT_NONE (a bad name) or ACCOUNT_ERROR.
 */
enum account_rc account_app_password_create(struct account_store *st, const char *user,
                                            const char *name, const char *doors, int64_t now,
                                            char shown[ACCOUNT_APP_PASSWORD_SHOWN + 1],
                                            int64_t *id);

/* One app password as listed: never its text, which is not kept. */
struct account_app_password {
    int64_t id;
    char user[65];
    char name[ACCOUNT_NAME_MAX + 1];
    char doors[64];
    int64_t created, last_used, revoked; /* Unix times; 0: never */
    char last_from[ACCOUNT_FROM_MAX + 1];
};

/*
 * The app passwords of user (NULL: of everyone), by user then id, in a new
 * array (*out, free() it; NULL when *n is 0). 0, or -1 (ACCOUNT_ERROR).
 */
int account_app_password_list(struct account_store *st, const char *user,
                              struct account_app_password **out, size_t *n);

/*
 * Revokes user's app password id at time now: ACCOUNT_OK, ACCOUNT_NONE (no
 * such id for that user), ACCOUNT_REVOKED (already) or ACCOUNT_ERROR.
 */
enum account_rc account_app_password_revoke(struct account_store *st, const char *user, int64_t id,
                                            int64_t now);

/*
 * SMTP AUTH's question: is password (len octets; spaces are ignored and
 * upper case taken as lower, as users copy "abcd efgh ijkl mnop") one of
 * user's app passwords, for door? Looked up by its HMAC at once.
 * ACCOUNT_OK (records now and client as its last use, *id its id),
 * ACCOUNT_REVOKED, ACCOUNT_WRONG_DOOR, ACCOUNT_NONE (not an app password
 * of user: the caller goes on to the main password) or ACCOUNT_ERROR.
 * Copies of password are wiped.
 */
enum account_rc account_app_password_check(struct account_store *st, const char *user,
                                           const char *password, size_t len, const char *door,
                                           const char *client, int64_t now, int64_t *id);

/* ------------------------------------------------------------ the command line */

/*
 * `gate26 app-password [-c FILE] add USER NAME [--doors D,...] | list
 * [USER] [--json] | revoke USER ID`. argv[0] is "app-password". Prints its
 * own messages; returns the exit status: 0 done, 1 failed, 2 usage error.
 */
int account_app_password_main(int argc, char **argv, const char *default_conf);

/*
 * `gate26 totp [-c FILE] enrol USER | confirm USER CODE | remove USER`.
 * argv[0] is "totp". As account_app_password_main().
 */
int account_totp_main(int argc, char **argv, const char *default_conf);

#endif
