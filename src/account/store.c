/* SPDX-License-Identifier: MIT */
/*
 * SPOOL/accounts.db: the users' TOTP secrets, recovery codes and app
 * passwords (docs/console.md, "Accounts"). SQLite in WAL mode, so that the
 * daemon reads while the command line (or the console) writes; every
 * statement binds its values (no SQL is built from input).
 *
 * App passwords are random (16 letters, about 75 bits), so a keyed fast
 * hash is as safe as a slow one: HMAC-SHA-256 under a key the store made at
 * its creation (table meta), which lets AUTH find a password by its hash
 * with one indexed read. Recovery codes are random too: SHA-256.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <sqlite3.h>

#include "account/account.h"
#include "lib/caps.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define STORE_KEY_LEN  32
#define STORE_HASH_LEN 32

struct account_store {
    char path[CAP_PATH + 16];
    bool create; /* the command line: make the file, wait for writers */
    sqlite3 *db; /* NULL until the file exists (the daemon) */
    unsigned char key[STORE_KEY_LEN];
    char error[256];
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS totp (user TEXT PRIMARY KEY, secret BLOB NOT NULL,"
    " enrolled INTEGER NOT NULL DEFAULT 0, last_step INTEGER NOT NULL DEFAULT -1);"
    "CREATE TABLE IF NOT EXISTS recovery (user TEXT NOT NULL, hash BLOB NOT NULL,"
    " used INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (user, hash));"
    "CREATE TABLE IF NOT EXISTS app_passwords (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " user TEXT NOT NULL, name TEXT NOT NULL, doors TEXT NOT NULL, hash BLOB NOT NULL UNIQUE,"
    " created INTEGER NOT NULL, last_used INTEGER NOT NULL DEFAULT 0,"
    " last_from TEXT NOT NULL DEFAULT '', revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS app_passwords_user ON app_passwords (user, id);";

const char *
account_rc_name(enum account_rc rc)
{
    switch (rc) {
    case ACCOUNT_OK:
        return "ok";
    case ACCOUNT_NONE:
        return "none";
    case ACCOUNT_REVOKED:
        return "revoked";
    case ACCOUNT_WRONG_DOOR:
        return "wrong-door";
    case ACCOUNT_BAD_CODE:
        return "bad-code";
    case ACCOUNT_EXISTS:
        return "exists";
    case ACCOUNT_ERROR:
        return "error";
    }
    return "?";
}

/* Records the database's message; returns ACCOUNT_ERROR for the caller to return. */
static enum account_rc
store_fail(struct account_store *st, const char *what)
{
    (void)str_fmt(st->error, sizeof(st->error), "%s: %s: %s", st->path, what,
                  st->db != NULL ? sqlite3_errmsg(st->db) : "not open");
    return ACCOUNT_ERROR;
}

/* Fills buf with random octets (getrandom(2), which blocks only before the pool is seeded). */
static int
store_random(void *buf, size_t len)
{
    unsigned char *p = buf;

    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The store's key: made on the first open of a new file, read after. */
static int
store_key(struct account_store *st)
{
    sqlite3_stmt *q = NULL;
    unsigned char fresh[STORE_KEY_LEN];
    int rc;

    if (store_random(fresh, sizeof(fresh)) == -1) {
        (void)str_fmt(st->error, sizeof(st->error), "getrandom: %s", strerror(errno));
        return -1;
    }
    /* OR IGNORE: a key made before (perhaps by another process at the same time) stays. */
    if (sqlite3_prepare_v2(st->db,
                           "INSERT OR IGNORE INTO meta (name, value) VALUES ('hmac-key', ?)", -1,
                           &q, NULL) != SQLITE_OK)
        goto fail;
    (void)sqlite3_bind_blob(q, 1, fresh, sizeof(fresh), SQLITE_TRANSIENT);
    rc = sqlite3_step(q);
    sqlite3_finalize(q);
    q = NULL;
    OPENSSL_cleanse(fresh, sizeof(fresh));
    if (rc != SQLITE_DONE && !(rc == SQLITE_READONLY || rc == SQLITE_BUSY))
        goto fail;
    if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE name = 'hmac-key'", -1, &q,
                           NULL) != SQLITE_OK)
        goto fail;
    if (sqlite3_step(q) != SQLITE_ROW || sqlite3_column_bytes(q, 0) != STORE_KEY_LEN) {
        sqlite3_finalize(q);
        (void)str_fmt(st->error, sizeof(st->error), "%s: no app password key in table meta",
                      st->path);
        return -1;
    }
    memcpy(st->key, sqlite3_column_blob(q, 0), STORE_KEY_LEN);
    sqlite3_finalize(q);
    return 0;
fail:
    (void)store_fail(st, "key");
    return -1;
}

/* Opens the file (made first when st->create), sets WAL, the tables and the key. */
static int
store_connect(struct account_store *st, uid_t owner, gid_t group)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;

    if (st->create) {
        /* Made here with 0600 (sqlite would use 0644), then given to the daemon's user. */
        int fd = open(st->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

        if (fd == -1) {
            (void)str_fmt(st->error, sizeof(st->error), "%s: %s", st->path, strerror(errno));
            return -1;
        }
        if (geteuid() == 0 && owner != (uid_t)-1 && fchown(fd, owner, group) == -1) {
            (void)str_fmt(st->error, sizeof(st->error), "%s: chown: %s", st->path, strerror(errno));
            (void)close(fd);
            return -1;
        }
        (void)close(fd);
    } else if (access(st->path, F_OK) == -1) {
        if (errno == ENOENT)
            return 0; /* no database yet: nothing stored */
        (void)str_fmt(st->error, sizeof(st->error), "%s: %s", st->path, strerror(errno));
        return -1;
    }
    if (sqlite3_open_v2(st->path, &st->db, flags, NULL) != SQLITE_OK)
        goto fail;
    /* The command line waits for a writer; the daemon's loop never does. */
    (void)sqlite3_busy_timeout(st->db, st->create ? 5000 : 0);
    /* WAL: readers and a writer at once. synchronous NORMAL: a commit does not fsync (a crash
     * may lose the last writes to the WAL, never the file's consistency), so the loop's last-use
     * update does not wait for the disk. */
    if (sqlite3_exec(st->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
                     NULL) != SQLITE_OK)
        goto fail;
    if (st->create && sqlite3_exec(st->db, schema, NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    if (store_key(st) == -1) {
        sqlite3_close(st->db);
        st->db = NULL;
        return -1;
    }
    return 0;
fail:
    (void)store_fail(st, "open");
    sqlite3_close(st->db);
    st->db = NULL;
    return -1;
}

struct account_store *
account_store_open(const char *spool, bool create, uid_t owner, gid_t group, char *err,
                   size_t errcap)
{
    struct account_store *st = xcalloc(1, sizeof(*st));

    st->create = create;
    if (str_fmt(st->path, sizeof(st->path), "%s/%s", spool, ACCOUNT_DB_NAME) == -1) {
        (void)str_fmt(err, errcap, "%s/%s: path too long", spool, ACCOUNT_DB_NAME);
        free(st);
        return NULL;
    }
    if (store_connect(st, owner, group) == -1) {
        (void)str_copyz(err, errcap, st->error[0] != '\0' ? st->error : strerror(errno));
        account_store_free(st);
        return NULL;
    }
    return st;
}

void
account_store_free(struct account_store *st)
{
    if (st == NULL)
        return;
    sqlite3_close(st->db);
    OPENSSL_cleanse(st->key, sizeof(st->key));
    free(st);
}

const char *
account_store_error(const struct account_store *st)
{
    return st->error;
}

/*
 * The daemon's store before the file exists looks again at each question.
 * 1: ask the database; 0: there is none (nothing is stored); -1: it failed (st->error).
 */
static int
store_ready(struct account_store *st)
{
    if (st->db != NULL)
        return 1;
    st->error[0] = '\0';
    if (store_connect(st, (uid_t)-1, (gid_t)-1) == -1)
        return -1;
    return st->db != NULL ? 1 : 0;
}

/* Prepares sql on st->db; NULL (the error recorded) when it cannot. */
static sqlite3_stmt *
store_prepare(struct account_store *st, const char *sql)
{
    sqlite3_stmt *q = NULL;

    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) {
        (void)store_fail(st, "prepare");
        return NULL;
    }
    return q;
}

/* Runs a statement to its end; SQLITE_DONE or the error. Finalizes it. */
static int
store_run(sqlite3_stmt *q)
{
    int rc = sqlite3_step(q);

    sqlite3_finalize(q);
    return rc;
}

/* ------------------------------------------------------------ TOTP */

/* user's row: secret (TOTP_SECRET_MAX), enrolled, last_step. ACCOUNT_OK, _NONE, _ERROR. */
static enum account_rc
totp_row(struct account_store *st, const char *user, unsigned char *secret, size_t *secret_len,
         int64_t *enrolled, int64_t *last_step)
{
    sqlite3_stmt *q = store_prepare(st, "SELECT secret, enrolled, last_step FROM totp "
                                        "WHERE user = ?");
    int rc, n;

    if (q == NULL)
        return ACCOUNT_ERROR;
    (void)sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc == SQLITE_DONE) {
        sqlite3_finalize(q);
        return ACCOUNT_NONE;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(q);
        return store_fail(st, "totp");
    }
    n = sqlite3_column_bytes(q, 0);
    if (n <= 0 || n > TOTP_SECRET_MAX) {
        sqlite3_finalize(q);
        (void)str_fmt(st->error, sizeof(st->error), "%s: the TOTP secret of a user is %d octets",
                      st->path, n);
        return ACCOUNT_ERROR;
    }
    memcpy(secret, sqlite3_column_blob(q, 0), (size_t)n);
    *secret_len = (size_t)n;
    *enrolled = sqlite3_column_int64(q, 1);
    *last_step = sqlite3_column_int64(q, 2);
    sqlite3_finalize(q);
    return ACCOUNT_OK;
}

enum account_rc
account_totp_enrol(struct account_store *st, const char *user,
                   unsigned char secret[TOTP_SECRET_LEN])
{
    unsigned char old[TOTP_SECRET_MAX];
    size_t old_len;
    int64_t enrolled, last;
    enum account_rc rc;
    sqlite3_stmt *q;

    if (store_ready(st) != 1)
        return store_fail(st, "enrol");
    rc = totp_row(st, user, old, &old_len, &enrolled, &last);
    OPENSSL_cleanse(old, sizeof(old));
    if (rc == ACCOUNT_ERROR)
        return rc;
    if (rc == ACCOUNT_OK && enrolled != 0)
        return ACCOUNT_EXISTS;
    if (store_random(secret, TOTP_SECRET_LEN) == -1) {
        (void)str_fmt(st->error, sizeof(st->error), "getrandom: %s", strerror(errno));
        return ACCOUNT_ERROR;
    }
    /* A pending enrolment is replaced; a confirmed one (enrolled != 0) is never overwritten. */
    q = store_prepare(st, "INSERT INTO totp (user, secret) VALUES (?, ?) ON CONFLICT (user) DO "
                          "UPDATE SET secret = excluded.secret, last_step = -1 WHERE enrolled = 0");
    if (q == NULL)
        return ACCOUNT_ERROR;
    (void)sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
    (void)sqlite3_bind_blob(q, 2, secret, TOTP_SECRET_LEN, SQLITE_STATIC);
    if (store_run(q) != SQLITE_DONE)
        return store_fail(st, "enrol");
    return sqlite3_changes(st->db) == 1 ? ACCOUNT_OK : ACCOUNT_EXISTS;
}

/*
 * Checks code against user's secret and uses its step up. want_enrolled:
 * the row must be confirmed (a login) or pending (a confirmation).
 */
static enum account_rc
totp_use(struct account_store *st, const char *user, const char *code, int64_t now,
         bool want_enrolled)
{
    unsigned char secret[TOTP_SECRET_MAX];
    size_t len;
    int64_t enrolled, last, step;
    enum account_rc rc;
    sqlite3_stmt *q;
    bool good;

    int ready = store_ready(st);
    if (ready != 1)
        return ready == 0 ? ACCOUNT_NONE : ACCOUNT_ERROR;
    rc = totp_row(st, user, secret, &len, &enrolled, &last);
    if (rc != ACCOUNT_OK)
        return rc;
    if ((enrolled != 0) != want_enrolled) {
        OPENSSL_cleanse(secret, sizeof(secret));
        return want_enrolled ? ACCOUNT_NONE : ACCOUNT_EXISTS;
    }
    good = totp_verify(secret, len, code, now, last, &step);
    OPENSSL_cleanse(secret, sizeof(secret));
    if (!good)
        return ACCOUNT_BAD_CODE;
    /* The step is used up only if nobody used it (or a later one) in the meantime. */
    q = store_prepare(st, "UPDATE totp SET last_step = ?, enrolled = CASE enrolled WHEN 0 THEN ? "
                          "ELSE enrolled END WHERE user = ? AND last_step < ?");
    if (q == NULL)
        return ACCOUNT_ERROR;
    (void)sqlite3_bind_int64(q, 1, step);
    (void)sqlite3_bind_int64(q, 2, now > 0 ? now : 1);
    (void)sqlite3_bind_text(q, 3, user, -1, SQLITE_STATIC);
    (void)sqlite3_bind_int64(q, 4, step);
    if (store_run(q) != SQLITE_DONE)
        return store_fail(st, "totp");
    return sqlite3_changes(st->db) == 1 ? ACCOUNT_OK : ACCOUNT_BAD_CODE;
}

enum account_rc
account_totp_confirm(struct account_store *st, const char *user, const char *code, int64_t now)
{
    return totp_use(st, user, code, now, false);
}

enum account_rc
account_totp_check(struct account_store *st, const char *user, const char *code, int64_t now)
{
    return totp_use(st, user, code, now, true);
}

enum account_rc
account_totp_remove(struct account_store *st, const char *user)
{
    sqlite3_stmt *q;
    int removed;

    int ready = store_ready(st);
    if (ready != 1)
        return ready == 0 ? ACCOUNT_NONE : ACCOUNT_ERROR;
    if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return store_fail(st, "remove");
    q = store_prepare(st, "DELETE FROM totp WHERE user = ?");
    if (q == NULL)
        goto fail;
    (void)sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
    if (store_run(q) != SQLITE_DONE)
        goto fail;
    removed = sqlite3_changes(st->db);
    q = store_prepare(st, "DELETE FROM recovery WHERE user = ?");
    if (q == NULL)
        goto fail;
    (void)sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
    if (store_run(q) != SQLITE_DONE ||
        sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    return removed > 0 ? ACCOUNT_OK : ACCOUNT_NONE;
fail:
    (void)store_fail(st, "remove");
    (void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return ACCOUNT_ERROR;
}

int
account_totp_is_enrolled(struct account_store *st, const char *user)
{
    sqlite3_stmt *q;
    int rc;

    int ready = store_ready(st);
    if (ready != 1)
        return ready;
    q = store_prepare(st, "SELECT 1 FROM totp WHERE user = ? AND enrolled != 0");
    if (q == NULL)
        return -1;
    (void)sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    (void)store_fail(st, "totp");
    return -1;
}

/* ------------------------------------------------------------ recovery codes */

static const char code_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

/* A recovery code as typed, normalized: lower case, no spaces or '-'. false: not one. */
static bool
recovery_normalize(const char *in, char out[ACCOUNT_RECOVERY_LEN + 1])
{
    size_t o = 0;

    for (const char *p = in; *p != '\0'; p++) {
        char ch = *p;

        if (ch == ' ' || ch == '-')
            continue;
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (strchr(code_alphabet, ch) == NULL || ch == '\0' || o == ACCOUNT_RECOVERY_LEN)
            return false;
        out[o++] = ch;
    }
    out[o] = '\0';
    return o == ACCOUNT_RECOVERY_LEN;
}

enum account_rc
account_recovery_make(struct account_store *st, const char *user,
                      char codes[ACCOUNT_RECOVERY_CODES][ACCOUNT_RECOVERY_LEN + 1])
{
    unsigned char rnd[ACCOUNT_RECOVERY_CODES * ACCOUNT_RECOVERY_LEN];
    sqlite3_stmt *q;
    int enrolled = account_totp_is_enrolled(st, user);

    if (enrolled == -1)
        return ACCOUNT_ERROR;
    if (enrolled == 0)
        return ACCOUNT_NONE;
    if (store_random(rnd, sizeof(rnd)) == -1) {
        (void)str_fmt(st->error, sizeof(st->error), "getrandom: %s", strerror(errno));
        return ACCOUNT_ERROR;
    }
    if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return store_fail(st, "recovery");
    q = store_prepare(st, "DELETE FROM recovery WHERE user = ?");
    if (q == NULL)
        goto fail;
    (void)sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
    if (store_run(q) != SQLITE_DONE)
        goto fail;
    for (size_t i = 0; i < ACCOUNT_RECOVERY_CODES; i++) {
        unsigned char h[SHA256_DIGEST_LENGTH];

        /* 32 letters: the low 5 bits of each random octet, uniform. */
        for (size_t k = 0; k < ACCOUNT_RECOVERY_LEN; k++)
            codes[i][k] = code_alphabet[rnd[i * ACCOUNT_RECOVERY_LEN + k] & 31];
        codes[i][ACCOUNT_RECOVERY_LEN] = '\0';
        (void)SHA256((const unsigned char *)codes[i], ACCOUNT_RECOVERY_LEN, h);
        q = store_prepare(st, "INSERT OR IGNORE INTO recovery (user, hash) VALUES (?, ?)");
        if (q == NULL)
            goto fail;
        (void)sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
        (void)sqlite3_bind_blob(q, 2, h, sizeof(h), SQLITE_TRANSIENT);
        if (store_run(q) != SQLITE_DONE)
            goto fail;
    }
    OPENSSL_cleanse(rnd, sizeof(rnd));
    if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    return ACCOUNT_OK;
fail:
    OPENSSL_cleanse(rnd, sizeof(rnd));
    OPENSSL_cleanse(codes, sizeof(char) * ACCOUNT_RECOVERY_CODES * (ACCOUNT_RECOVERY_LEN + 1));
    (void)store_fail(st, "recovery");
    (void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return ACCOUNT_ERROR;
}

enum account_rc
account_recovery_use(struct account_store *st, const char *user, const char *code)
{
    char norm[ACCOUNT_RECOVERY_LEN + 1];
    unsigned char h[SHA256_DIGEST_LENGTH];
    sqlite3_stmt *q;

    int ready = store_ready(st);
    if (ready != 1)
        return ready == 0 ? ACCOUNT_NONE : ACCOUNT_ERROR;
    if (!recovery_normalize(code, norm))
        return ACCOUNT_NONE;
    (void)SHA256((const unsigned char *)norm, ACCOUNT_RECOVERY_LEN, h);
    OPENSSL_cleanse(norm, sizeof(norm));
    q = store_prepare(st, "UPDATE recovery SET used = 1 WHERE user = ? AND hash = ? AND used = 0");
    if (q == NULL)
        return ACCOUNT_ERROR;
    (void)sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
    (void)sqlite3_bind_blob(q, 2, h, sizeof(h), SQLITE_TRANSIENT);
    if (store_run(q) != SQLITE_DONE)
        return store_fail(st, "recovery");
    return sqlite3_changes(st->db) == 1 ? ACCOUNT_OK : ACCOUNT_NONE;
}

int
account_recovery_left(struct account_store *st, const char *user)
{
    sqlite3_stmt *q;
    int n = -1;

    int ready = store_ready(st);
    if (ready != 1)
        return ready;
    q = store_prepare(st, "SELECT count(*) FROM recovery WHERE user = ? AND used = 0");
    if (q == NULL)
        return -1;
    (void)sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW)
        n = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    return n;
}

/* ------------------------------------------------------------ app passwords */

/* HMAC-SHA-256 under the store's key of the 16 letters. */
static void
app_hash(const struct account_store *st, const char letters[ACCOUNT_APP_PASSWORD_LETTERS],
         unsigned char out[STORE_HASH_LEN])
{
    unsigned int n = 0;

    if (HMAC(EVP_sha256(), st->key, STORE_KEY_LEN, (const unsigned char *)letters,
             ACCOUNT_APP_PASSWORD_LETTERS, out, &n) == NULL ||
        n != STORE_HASH_LEN)
        abort(); /* OpenSSL without SHA-256: a broken install, not a peer's doing */
}

/* 1..ACCOUNT_NAME_MAX octets, none a control character (C0, DEL); UTF-8 is the caller's. */
static bool
is_app_name(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len > ACCOUNT_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return false;
    return true;
}

enum account_rc
account_app_password_create(struct account_store *st, const char *user, const char *name,
                            const char *doors, int64_t now,
                            char shown[ACCOUNT_APP_PASSWORD_SHOWN + 1], int64_t *id)
{
    unsigned char rnd[ACCOUNT_APP_PASSWORD_LETTERS * 2], h[STORE_HASH_LEN];
    char letters[ACCOUNT_APP_PASSWORD_LETTERS];
    sqlite3_stmt *q;
    size_t n = 0, r = 0;
    int count = -1;

    if (!is_app_name(name) || strlen(doors) >= sizeof(((struct account_app_password *)0)->doors))
        return ACCOUNT_NONE;
    if (store_ready(st) != 1)
        return store_fail(st, "create");
    q = store_prepare(st, "SELECT count(*) FROM app_passwords WHERE user = ?");
    if (q == NULL)
        return ACCOUNT_ERROR;
    (void)sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW)
        count = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    if (count < 0)
        return store_fail(st, "create");
    if (count >= ACCOUNT_APP_PASSWORDS_MAX)
        return ACCOUNT_EXISTS;
    /* Letters by rejection sampling (below 234 = 9 * 26), so each of the 26 is as likely. */
    while (n < ACCOUNT_APP_PASSWORD_LETTERS) {
        if (r == 0 && store_random(rnd, sizeof(rnd)) == -1) {
            (void)str_fmt(st->error, sizeof(st->error), "getrandom: %s", strerror(errno));
            return ACCOUNT_ERROR;
        }
        if (rnd[r] < 234)
            letters[n++] = (char)('a' + rnd[r] % 26);
        r = (r + 1) % sizeof(rnd);
    }
    OPENSSL_cleanse(rnd, sizeof(rnd));
    app_hash(st, letters, h);
    for (size_t g = 0, o = 0; g < 4; g++) {
        memcpy(shown + o, letters + 4 * g, 4);
        o += 4;
        shown[o++] = g < 3 ? ' ' : '\0';
    }
    OPENSSL_cleanse(letters, sizeof(letters));
    q = store_prepare(st, "INSERT INTO app_passwords (user, name, doors, hash, created) "
                          "VALUES (?, ?, ?, ?, ?)");
    if (q == NULL)
        goto fail;
    (void)sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
    (void)sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
    (void)sqlite3_bind_text(q, 3, doors, -1, SQLITE_STATIC);
    (void)sqlite3_bind_blob(q, 4, h, sizeof(h), SQLITE_TRANSIENT);
    (void)sqlite3_bind_int64(q, 5, now);
    if (store_run(q) != SQLITE_DONE)
        goto fail;
    *id = sqlite3_last_insert_rowid(st->db);
    return ACCOUNT_OK;
fail:
    OPENSSL_cleanse(shown, ACCOUNT_APP_PASSWORD_SHOWN + 1);
    return store_fail(st, "create");
}

int
account_app_password_list(struct account_store *st, const char *user,
                          struct account_app_password **out, size_t *n)
{
    sqlite3_stmt *q;
    size_t cap = 0;
    int rc;

    *out = NULL;
    *n = 0;
    int ready = store_ready(st);
    if (ready != 1)
        return ready;
    q = store_prepare(st, "SELECT id, user, name, doors, created, last_used, last_from, revoked "
                          "FROM app_passwords WHERE ?1 IS NULL OR user = ?1 ORDER BY user, id");
    if (q == NULL)
        return -1;
    if (user != NULL)
        (void)sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct account_app_password *a;
        const char *t;

        if (*n == cap) {
            cap = cap == 0 ? 8 : cap * 2;
            *out = xrealloc(*out, cap * sizeof(**out));
        }
        a = &(*out)[(*n)++];
        memset(a, 0, sizeof(*a));
        a->id = sqlite3_column_int64(q, 0);
        /* Cut to fit: the store only holds what create wrote, within these sizes. */
        t = (const char *)sqlite3_column_text(q, 1);
        (void)str_copyz(a->user, sizeof(a->user), t != NULL ? t : "");
        t = (const char *)sqlite3_column_text(q, 2);
        (void)str_copyz(a->name, sizeof(a->name), t != NULL ? t : "");
        t = (const char *)sqlite3_column_text(q, 3);
        (void)str_copyz(a->doors, sizeof(a->doors), t != NULL ? t : "");
        a->created = sqlite3_column_int64(q, 4);
        a->last_used = sqlite3_column_int64(q, 5);
        t = (const char *)sqlite3_column_text(q, 6);
        (void)str_copyz(a->last_from, sizeof(a->last_from), t != NULL ? t : "");
        a->revoked = sqlite3_column_int64(q, 7);
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *n = 0;
        (void)store_fail(st, "list");
        return -1;
    }
    return 0;
}

enum account_rc
account_app_password_revoke(struct account_store *st, const char *user, int64_t id, int64_t now)
{
    sqlite3_stmt *q;
    int rc;
    int64_t revoked;

    int ready = store_ready(st);
    if (ready != 1)
        return ready == 0 ? ACCOUNT_NONE : ACCOUNT_ERROR;
    q = store_prepare(st, "SELECT revoked FROM app_passwords WHERE user = ? AND id = ?");
    if (q == NULL)
        return ACCOUNT_ERROR;
    (void)sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
    (void)sqlite3_bind_int64(q, 2, id);
    rc = sqlite3_step(q);
    revoked = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    sqlite3_finalize(q);
    if (rc == SQLITE_DONE)
        return ACCOUNT_NONE;
    if (rc != SQLITE_ROW)
        return store_fail(st, "revoke");
    if (revoked != 0)
        return ACCOUNT_REVOKED;
    q = store_prepare(st, "UPDATE app_passwords SET revoked = ? WHERE user = ? AND id = ? AND "
                          "revoked = 0");
    if (q == NULL)
        return ACCOUNT_ERROR;
    (void)sqlite3_bind_int64(q, 1, now > 0 ? now : 1);
    (void)sqlite3_bind_text(q, 2, user, -1, SQLITE_STATIC);
    (void)sqlite3_bind_int64(q, 3, id);
    if (store_run(q) != SQLITE_DONE)
        return store_fail(st, "revoke");
    return sqlite3_changes(st->db) == 1 ? ACCOUNT_OK : ACCOUNT_REVOKED;
}

/* The 16 letters of an app password as typed: spaces dropped, upper case lowered. */
static bool
app_normalize(const char *in, size_t len, char out[ACCOUNT_APP_PASSWORD_LETTERS])
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        char ch = in[i];

        if (ch == ' ')
            continue;
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (ch < 'a' || ch > 'z' || o == ACCOUNT_APP_PASSWORD_LETTERS)
            return false;
        out[o++] = ch;
    }
    return o == ACCOUNT_APP_PASSWORD_LETTERS;
}

/* True when door is one of the comma-separated names of list. */
static bool
doors_has(const char *list, const char *door)
{
    size_t dlen = strlen(door);

    for (const char *p = list; *p != '\0';) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);

        if (len == dlen && memcmp(p, door, len) == 0)
            return true;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return false;
}

enum account_rc
account_app_password_check(struct account_store *st, const char *user, const char *password,
                           size_t len, const char *door, const char *client, int64_t now,
                           int64_t *id)
{
    char letters[ACCOUNT_APP_PASSWORD_LETTERS];
    unsigned char h[STORE_HASH_LEN];
    sqlite3_stmt *q;
    int rc;
    bool ok;
    char doors[64];
    int64_t revoked;

    int ready = store_ready(st);
    if (ready != 1)
        return ready == 0 ? ACCOUNT_NONE : ACCOUNT_ERROR;
    ok = app_normalize(password, len, letters);
    if (!ok) {
        OPENSSL_cleanse(letters, sizeof(letters));
        return ACCOUNT_NONE; /* not the shape of an app password: the main password's turn */
    }
    app_hash(st, letters, h);
    OPENSSL_cleanse(letters, sizeof(letters));
    /* By hash and user: another user's app password is no app password of this one. */
    q = store_prepare(st, "SELECT id, doors, revoked FROM app_passwords WHERE hash = ? AND "
                          "user = ?");
    if (q == NULL)
        return ACCOUNT_ERROR;
    (void)sqlite3_bind_blob(q, 1, h, sizeof(h), SQLITE_TRANSIENT);
    (void)sqlite3_bind_text(q, 2, user, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(q);
        return rc == SQLITE_DONE ? ACCOUNT_NONE : store_fail(st, "check");
    }
    *id = sqlite3_column_int64(q, 0);
    (void)str_copyz(doors, sizeof(doors),
                    (const char *)sqlite3_column_text(q, 1) != NULL
                        ? (const char *)sqlite3_column_text(q, 1)
                        : "");
    revoked = sqlite3_column_int64(q, 2);
    sqlite3_finalize(q);
    if (revoked != 0)
        return ACCOUNT_REVOKED;
    if (!doors_has(doors, door))
        return ACCOUNT_WRONG_DOOR;
    /* Last use: best effort. A writer holding the lock this instant (the command line) makes it
     * SQLITE_BUSY, and the login still succeeds; the next use records it. */
    q = store_prepare(st, "UPDATE app_passwords SET last_used = ?, last_from = ? WHERE id = ?");
    if (q == NULL)
        return ACCOUNT_OK;
    (void)sqlite3_bind_int64(q, 1, now);
    (void)sqlite3_bind_text(q, 2, client, -1, SQLITE_STATIC);
    (void)sqlite3_bind_int64(q, 3, *id);
    if (store_run(q) != SQLITE_DONE)
        (void)store_fail(st, "last use");
    return ACCOUNT_OK;
}
