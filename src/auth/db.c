/* SPDX-License-Identifier: MIT */
/*
 * The password file: "user:hash" lines, loaded whole into a sorted table
 * that never changes afterwards, so that worker threads share it without
 * locks and a reload swaps in a new one while checks against the old one
 * finish (reference counts). Hashes are libxcrypt's: crypt_checksalt() tells
 * the strong methods from the legacy ones, and a table here knows the shape
 * of each accepted method, so that a hash cut short by an editor is refused
 * at load instead of silently never matching.
 *
 * Verification is crypt_rn() (reentrant: the state is ours, not static) and
 * a constant-time comparison; an unknown user is checked against a dummy
 * hash of the same method and cost, so that the time taken does not tell
 * which users exist.
 */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth/auth_impl.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define WEAK_HASH_HINT "expected yescrypt $y$, bcrypt $2b$ or sha512-crypt $6$"

/* The methods accepted, by prefix, and the length of their checksum (the
 * part after the last '$'); bcrypt has no '$' before its checksum, and is
 * "$2b$" COST(2) "$" then 22 salt and 31 checksum characters. */
static const struct {
    const char *prefix;
    size_t checksum;
} hash_methods[] = {
    {"$y$", 43},  /* yescrypt */
    {"$gy$", 43}, /* gost-yescrypt */
    {"$7$", 43},  /* scrypt */
    {"$6$", 86},  /* sha512-crypt */
    {"$2b$", 0},  /* bcrypt */
    {"$2y$", 0},  /* bcrypt, as PHP writes it */
};
#define BCRYPT_LEN 60

/* crypt(3)'s alphabet for salts and checksums: ./0-9A-Za-z */
static bool
is_crypt64(char ch)
{
    return ch == '.' || ch == '/' || (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= 'a' && ch <= 'z');
}

static bool
all_crypt64(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!is_crypt64(p[i]))
            return false;
    }
    return true;
}

/*
 * Checks the hash of user (NUL-terminated, len octets). Returns 0, or -1
 * with what was expected in why.
 */
static int
hash_check(const char *user, const char *hash, size_t len, char *why, size_t cap)
{
    size_t m;

    if (len == 0) {
        (void)str_fmt(why, cap, "expected a crypt(3) hash after '%s:'", user);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (hash[i] <= ' ' || hash[i] >= 0x7f || hash[i] == ':') {
            (void)str_fmt(why, cap, "expected 'USER:HASH' with nothing after the hash of user '%s'",
                          user);
            return -1;
        }
    }
    for (m = 0; m < sizeof(hash_methods) / sizeof(hash_methods[0]); m++) {
        if (strncmp(hash, hash_methods[m].prefix, strlen(hash_methods[m].prefix)) == 0)
            break;
    }
    if (m == sizeof(hash_methods) / sizeof(hash_methods[0]) ||
        crypt_checksalt(hash) == CRYPT_SALT_METHOD_LEGACY) {
        (void)str_fmt(why, cap, "weak or unknown hash for user '%s' (" WEAK_HASH_HINT ")", user);
        return -1;
    }
    if (crypt_checksalt(hash) != CRYPT_SALT_OK) {
        (void)str_fmt(why, cap, "malformed hash for user '%s' (cut short?)", user);
        return -1;
    }
    if (hash_methods[m].checksum == 0) {
        if (len != BCRYPT_LEN || hash[6] != '$' || !all_crypt64(hash + 7, len - 7)) {
            (void)str_fmt(why, cap, "malformed bcrypt hash for user '%s' (cut short?)", user);
            return -1;
        }
    } else {
        const char *sum = strrchr(hash, '$') + 1;
        size_t sum_len = len - (size_t)(sum - hash);

        if (sum_len != hash_methods[m].checksum || !all_crypt64(sum, sum_len)) {
            (void)str_fmt(why, cap, "malformed hash for user '%s' (cut short?)", user);
            return -1;
        }
    }
    return 0;
}

static int
entry_cmp(const void *a, const void *b)
{
    const struct auth_entry *x = a, *y = b;
    int c = strcmp(x->user, y->user);

    if (c != 0)
        return c;
    return x->line < y->line ? -1 : x->line > y->line;
}

static void
entry_wipe(struct auth_entry *e)
{
    OPENSSL_cleanse(e->user, e->size);
    free(e->user);
}

static void
db_free(struct auth_db *db)
{
    for (size_t i = 0; i < db->n; i++)
        entry_wipe(&db->entries[i]);
    free(db->entries);
    if (db->dummy != NULL) {
        OPENSSL_cleanse(db->dummy, strlen(db->dummy));
        free(db->dummy);
    }
    free(db);
}

/* True when the line (len octets) holds only blanks, or is a comment. */
static bool
line_is_ignored(const char *p, size_t len)
{
    size_t i = 0;

    while (i < len && (p[i] == ' ' || p[i] == '\t'))
        i++;
    return i == len || p[i] == '#';
}

/*
 * One line "user:hash". Returns 0 (the entry appended to db, or the line
 * skipped), or -1 with what was expected in why.
 */
static int
parse_line(struct auth_db *db, size_t *alloc, const char *p, size_t len, unsigned line,
           const char *skip_user, char *why, size_t cap)
{
    const char *colon;
    size_t ulen, hlen;
    struct auth_entry *e;

    if (len > 0 && p[len - 1] == '\r') {
        (void)str_fmt(why, cap, "line ends in CR (expected LF line ends)");
        return -1;
    }
    if (memchr(p, '\0', len) != NULL) {
        (void)str_fmt(why, cap, "unexpected NUL octet");
        return -1;
    }
    if (line_is_ignored(p, len))
        return 0;
    colon = memchr(p, ':', len);
    if (colon == NULL) {
        (void)str_fmt(why, cap, "expected 'USER:HASH'");
        return -1;
    }
    ulen = (size_t)(colon - p);
    hlen = len - ulen - 1;
    if (!auth_is_user_name(p, ulen)) {
        (void)str_fmt(why, cap,
                      "expected a user name of 1 to %d printable ASCII characters without ':' "
                      "or spaces",
                      AUTH_USER_MAX);
        return -1;
    }
    if (skip_user != NULL && strlen(skip_user) == ulen && memcmp(p, skip_user, ulen) == 0)
        return 0;
    if (db->n == *alloc) {
        *alloc = *alloc ? *alloc * 2 : 16;
        db->entries = xrealloc(db->entries, *alloc * sizeof(*db->entries));
    }
    e = &db->entries[db->n];
    e->size = ulen + 1 + hlen + 1;
    e->user = xmalloc(e->size);
    e->hash = e->user + ulen + 1;
    e->line = line;
    e->locked = false;
    memcpy(e->user, p, ulen);
    e->user[ulen] = '\0';
    memcpy(e->hash, colon + 1, hlen);
    e->hash[hlen] = '\0';
    /* "user:!hash": locked (gate26 passwd --lock); the hash stays for the timing and an unlock. */
    if (hlen > 0 && e->hash[0] == '!') {
        e->locked = true;
        e->hash++;
        hlen--;
        if (hlen == 0) {
            (void)str_fmt(why, cap,
                          "expected a crypt(3) hash after '%s:!' (a locked entry keeps "
                          "its hash)",
                          e->user);
            entry_wipe(e);
            return -1;
        }
    }
    if (hash_check(e->user, e->hash, hlen, why, cap) == -1) {
        entry_wipe(e);
        return -1;
    }
    db->n++;
    return 0;
}

/* The first duplicate in file order: the entry whose line is the smallest
 * among those that repeat an earlier line's user. NULL when none. */
static const struct auth_entry *
first_duplicate(const struct auth_db *db, unsigned *first_line)
{
    const struct auth_entry *dup = NULL;

    for (size_t i = 1; i < db->n; i++) {
        const struct auth_entry *e = &db->entries[i];

        if (strcmp(e->user, db->entries[i - 1].user) != 0)
            continue;
        if (dup == NULL || e->line < dup->line) {
            size_t k = i;

            while (k > 0 && strcmp(db->entries[k - 1].user, e->user) == 0)
                k--;
            dup = e;
            *first_line = db->entries[k].line;
        }
    }
    return dup;
}

struct auth_db *
auth_db_parse(const char *path, const char *text, size_t len, const char *skip_user, char *err,
              size_t errcap)
{
    struct auth_db *db = xcalloc(1, sizeof(*db));
    const char *p = text, *end = text + len;
    const struct auth_entry *dup;
    char why[256] = "";
    unsigned line = 0, bad_line = 0, first_line = 0;
    size_t alloc = 0;

    atomic_init(&db->refs, 1);
    while (p < end) {
        size_t left = (size_t)(end - p);
        size_t look = left < AUTH_DB_LINE_MAX + 1 ? left : AUTH_DB_LINE_MAX + 1;
        const char *lf = memchr(p, '\n', look);
        size_t n = lf != NULL ? (size_t)(lf - p) : left;

        line++;
        /* The cap first, then the scan. */
        if (lf == NULL && left > AUTH_DB_LINE_MAX) {
            (void)str_fmt(why, sizeof(why), "line longer than %d octets", AUTH_DB_LINE_MAX);
            bad_line = line;
            break;
        }
        if (parse_line(db, &alloc, p, n, line, skip_user, why, sizeof(why)) == -1) {
            bad_line = line;
            break;
        }
        p += n + (lf != NULL);
    }
    if (db->n > 1)
        qsort(db->entries, db->n, sizeof(*db->entries), entry_cmp);
    /* Every entry read lies before a bad line, so a duplicate among them is
     * the first error in file order. */
    dup = first_duplicate(db, &first_line);
    if (dup != NULL) {
        (void)str_fmt(err, errcap, "%s:%u: duplicate user '%s' (first at line %u)", path, dup->line,
                      dup->user, first_line);
        db_free(db);
        return NULL;
    }
    if (bad_line != 0) {
        (void)str_fmt(err, errcap, "%s:%u: %s", path, bad_line, why);
        db_free(db);
        return NULL;
    }
    return db;
}

/*
 * The dummy hash: a random phrase hashed with the setting (method, cost
 * and salt) of the first entry in file order, or with libxcrypt's default
 * method when the file has none. Returns 0 or -1 with errno.
 */
static int
make_dummy(struct auth_db *db)
{
    const struct auth_entry *first = NULL;
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    const char *use = setting;
    unsigned char rnd[16];
    char phrase[2 * sizeof(rnd) + 1];
    struct crypt_data *cd;
    const char *out;
    int rc = -1;

    for (size_t i = 0; i < db->n; i++) {
        if (first == NULL || db->entries[i].line < first->line)
            first = &db->entries[i];
    }
    if (first != NULL)
        use = first->hash;
    else if (crypt_gensalt_rn(NULL, 0, NULL, 0, setting, sizeof(setting)) == NULL)
        return -1;
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return -1;
    for (size_t i = 0; i < sizeof(rnd); i++)
        (void)snprintf(phrase + 2 * i, 3, "%02x", rnd[i]);
    cd = xcalloc(1, sizeof(*cd));
    out = crypt_rn(phrase, use, cd, sizeof(*cd));
    if (out != NULL && out[0] != '*') {
        db->dummy = xstrdup(out);
        rc = 0;
    } else if (out != NULL) {
        errno = EINVAL;
    }
    OPENSSL_cleanse(cd, sizeof(*cd));
    OPENSSL_cleanse(phrase, sizeof(phrase));
    free(cd);
    return rc;
}

struct auth_db *
auth_db_load_text(const char *path, const char *text, size_t len, char *err, size_t errcap)
{
    struct auth_db *db = auth_db_parse(path, text, len, NULL, err, errcap);

    if (db == NULL)
        return NULL;
    if (make_dummy(db) == -1) {
        (void)str_fmt(err, errcap, "%s: cannot make the dummy hash: %s", path, strerror(errno));
        db_free(db);
        return NULL;
    }
    return db;
}

int
auth_db_read_file(const char *path, char **out, size_t *out_len, char *err, size_t errcap)
{
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    int fd, e;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd == -1) {
        e = errno;
        (void)str_fmt(err, errcap, "%s: cannot open: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    if (fstat(fd, &st) == -1) {
        e = errno;
        (void)str_fmt(err, errcap, "%s: cannot stat: %s", path, strerror(e));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        e = EINVAL;
        (void)str_fmt(err, errcap, "%s: not a regular file", path);
        goto fail;
    }
    if (st.st_size > AUTH_DB_MAX_SIZE) {
        e = EFBIG;
        (void)str_fmt(err, errcap, "%s: larger than %d octets", path, AUTH_DB_MAX_SIZE);
        goto fail;
    }
    /* One octet more than the size, to see a file that grew meanwhile. */
    buf = xmalloc((size_t)st.st_size + 1);
    for (;;) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size + 1 - got);

        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1) {
            e = errno;
            (void)str_fmt(err, errcap, "%s: cannot read: %s", path, strerror(e));
            goto fail;
        }
        if (n == 0)
            break;
        got += (size_t)n;
        if (got > (size_t)st.st_size) {
            e = EAGAIN;
            (void)str_fmt(err, errcap, "%s: changed while being read", path);
            goto fail;
        }
    }
    (void)close(fd);
    *out = buf;
    *out_len = got;
    return 0;
fail:
    if (buf != NULL) {
        OPENSSL_cleanse(buf, got);
        free(buf);
    }
    (void)close(fd);
    errno = e;
    return -1;
}

struct auth_db *
auth_db_load(const char *path, char *err, size_t errcap)
{
    struct auth_db *db;
    char *text;
    size_t len;

    if (auth_db_read_file(path, &text, &len, err, errcap) == -1)
        return NULL;
    db = auth_db_load_text(path, text, len, err, errcap);
    OPENSSL_cleanse(text, len);
    free(text);
    return db;
}

struct auth_db *
auth_db_ref(struct auth_db *db)
{
    atomic_fetch_add(&db->refs, 1);
    return db;
}

void
auth_db_unref(struct auth_db *db)
{
    if (db != NULL && atomic_fetch_sub(&db->refs, 1) == 1)
        db_free(db);
}

size_t
auth_db_count(const struct auth_db *db)
{
    return db->n;
}

const struct auth_entry *
auth_db_find(const struct auth_db *db, const char *user)
{
    size_t lo = 0, hi = db->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(user, db->entries[mid].user);

        if (c == 0)
            return &db->entries[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

bool
auth_db_is_active(const struct auth_db *db, const char *user)
{
    const struct auth_entry *e = auth_db_find(db, user);

    return e != NULL && !e->locked;
}

const char *
auth_verdict_name(enum auth_verdict v)
{
    switch (v) {
    case AUTH_VERDICT_BAD:
        return "bad";
    case AUTH_VERDICT_OK:
        return "ok";
    case AUTH_VERDICT_LOCKED:
        return "locked";
    }
    log_panic("auth_verdict_name: no verdict %d", (int)v);
}

bool
auth_db_verify(const struct auth_db *db, const char *user, const char *pass, size_t pass_len)
{
    return auth_db_check(db, user, pass, pass_len) == AUTH_VERDICT_OK;
}

enum auth_verdict
auth_db_check(const struct auth_db *db, const char *user, const char *pass, size_t pass_len)
{
    const struct auth_entry *e = NULL;
    const char *hash, *out;
    struct crypt_data *cd;
    char *phrase;
    size_t hlen;
    bool same;

    if (auth_is_user_name(user, strnlen(user, AUTH_USER_MAX + 1)))
        e = auth_db_find(db, user);
    /* None depends on the password, so refusing early tells nothing. */
    if (pass_len == 0 || pass_len > CRYPT_MAX_PASSPHRASE_SIZE ||
        memchr(pass, '\0', pass_len) != NULL)
        return e != NULL && e->locked ? AUTH_VERDICT_LOCKED : AUTH_VERDICT_BAD;
    hash = e != NULL ? e->hash : db->dummy;
    if (hash == NULL)
        log_panic("-: event=auth-verify, reason=\"a parsed password table has no dummy hash\"");
    phrase = xmalloc(pass_len + 1);
    memcpy(phrase, pass, pass_len);
    phrase[pass_len] = '\0';
    cd = xcalloc(1, sizeof(*cd));
    out = crypt_rn(phrase, hash, cd, sizeof(*cd));
    hlen = strlen(hash);
    /* crypt_rn fails with a "*" string or NULL, never equal to a hash. */
    same = out != NULL && strlen(out) == hlen && CRYPTO_memcmp(out, hash, hlen) == 0;
    OPENSSL_cleanse(phrase, pass_len + 1);
    OPENSSL_cleanse(cd, sizeof(*cd));
    free(phrase);
    free(cd);
    if (e != NULL && e->locked)
        return AUTH_VERDICT_LOCKED; /* after the same work as any other check */
    return same && e != NULL ? AUTH_VERDICT_OK : AUTH_VERDICT_BAD;
}
