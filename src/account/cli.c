/* SPDX-License-Identifier: MIT */
/*
 * `gate26 app-password` and `gate26 totp`: the account store from the
 * command line, for admins without a browser, scripts and tests. They open
 * SPOOL/accounts.db (made on first use, owned by the configuration's user
 * so that the daemon can record last uses) and work whether or not the
 * daemon runs: the database is in WAL mode, and the daemon finds a new one
 * at its next AUTH. Users must be in the auth block's password file.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "account/account.h"
#include "auth/auth.h"
#include "conf/conf.h"
#include "lib/num.h"
#include "lib/slice.h"
#include "lib/str.h"

static const char app_usage[] =
    "usage: gate26 app-password [-c FILE] add USER NAME [--doors DOOR,...]\n"
    "       gate26 app-password [-c FILE] list [USER] [--json]\n"
    "       gate26 app-password [-c FILE] revoke USER ID\n";

static const char app_help[] =
    "\n"
    "App passwords let a user's mail clients log in (SMTP AUTH) without the main\n"
    "password: one per device, each with a name and the doors it may be used on\n"
    "(default submission,submissions). add prints the new password once; gate26\n"
    "keeps only a keyed hash. list shows them (never the passwords); revoke stops\n"
    "one at once. The store is SPOOL/accounts.db; the daemon need not be running.\n";

static const char totp_usage[] = "usage: gate26 totp [-c FILE] enrol USER\n"
                                 "       gate26 totp [-c FILE] confirm USER CODE\n"
                                 "       gate26 totp [-c FILE] remove USER\n";

static const char totp_help[] =
    "\n"
    "A second factor (TOTP, RFC 6238: 6 digits every 30 seconds) for a user.\n"
    "enrol prints a new secret and its otpauth:// URI for an authenticator app;\n"
    "confirm USER CODE finishes the enrolment with a first code from the app and\n"
    "prints 10 recovery codes, once. remove ends it. With auth { app-passwords\n"
    "totp-users }, an enrolled user's mail clients must use app passwords.\n";

/* The parts every verb needs: the configuration, its password file, the store. */
struct cli {
    struct conf *conf;
    struct auth_db *users; /* NULL: no auth block */
    struct account_store *store;
};

static void
cli_close(struct cli *c)
{
    account_store_free(c->store);
    auth_db_unref(c->users);
    conf_unref(c->conf);
}

/* Loads the configuration and opens (or makes) the store. Prints why not. */
static int
cli_open(struct cli *c, const char *prog, const char *path)
{
    char err[1024];
    uid_t uid = (uid_t)-1;
    gid_t gid = (gid_t)-1;

    memset(c, 0, sizeof(*c));
    c->conf = conf_load(path, err, sizeof(err));
    if (c->conf == NULL) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    if (c->conf->auth_passwd[0] != '\0') {
        c->users = auth_db_load(c->conf->auth_passwd, err, sizeof(err));
        if (c->users == NULL) {
            fprintf(stderr, "gate26: %s: %s\n", prog, err);
            cli_close(c);
            return -1;
        }
    }
    if (c->conf->user[0] != '\0') {
        const struct passwd *pw = getpwnam(c->conf->user);

        if (pw == NULL) {
            fprintf(stderr, "gate26: %s: no user '%s' (the configuration's user)\n", prog,
                    c->conf->user);
            cli_close(c);
            return -1;
        }
        uid = pw->pw_uid;
        gid = pw->pw_gid;
    }
    c->store = account_store_open(c->conf->spool, true, uid, gid, err, sizeof(err));
    if (c->store == NULL) {
        fprintf(stderr, "gate26: %s: %s\n", prog, err);
        cli_close(c);
        return -1;
    }
    return 0;
}

/* USER must be a user of the password file; prints why not. */
static bool
cli_user_ok(const struct cli *c, const char *prog, const char *user)
{
    if (!auth_is_user_name(user, strlen(user))) {
        fprintf(stderr,
                "gate26: %s: '%s' cannot be a user name (1 to %d printable characters, "
                "no ':')\n",
                prog, user, AUTH_USER_MAX);
        return false;
    }
    if (c->users == NULL) {
        fprintf(stderr, "gate26: %s: %s has no auth block: there are no users\n", prog,
                c->conf->path);
        return false;
    }
    if (!auth_db_is_active(c->users, user)) {
        fprintf(stderr, "gate26: %s: no user '%s' in %s (or it is locked)\n", prog, user,
                c->conf->auth_passwd);
        return false;
    }
    return true;
}

/* "-c FILE" first, if given; returns the index of the verb. */
static int
cli_conf_arg(int argc, char **argv, const char **path)
{
    if (argc > 2 && (strcmp(argv[1], "-c") == 0 || strcmp(argv[1], "--config") == 0)) {
        *path = argv[2];
        return 3;
    }
    return 1;
}

static bool
cli_asks_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------ app-password */

/*
 * --doors: door names separated by commas, each a door that can take AUTH
 * (not inbound), each once. Writes the list as given to out.
 */
static bool
doors_parse(const char *arg, char *out, size_t cap)
{
    unsigned seen = 0;
    const char *p = arg;

    if (str_copyz(out, cap, arg) == -1 || arg[0] == '\0')
        return false;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        int found = -1;

        for (int r = 0; r < DOOR_ROLE_COUNT; r++) {
            const char *name = conf_role_name((enum door_role)r);

            if (strlen(name) == len && memcmp(name, p, len) == 0)
                found = r;
        }
        if (found == -1 || found == DOOR_INBOUND || (seen & (1u << found)) != 0)
            return false;
        seen |= 1u << found;
        if (comma == NULL)
            return true;
        p = comma + 1;
    }
}

static int
app_add(struct cli *c, int argc, char **argv)
{
    const char *user = NULL, *name = NULL, *doors_arg = "submission,submissions";
    char doors[64], shown[ACCOUNT_APP_PASSWORD_SHOWN + 1];
    int64_t id;
    enum account_rc rc;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--doors") == 0 && i + 1 < argc) {
            doors_arg = argv[++i];
        } else if (strncmp(argv[i], "--doors=", 8) == 0) {
            doors_arg = argv[i] + 8;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "gate26: app-password: unknown option '%s'\n%s", argv[i], app_usage);
            return 2;
        } else if (user == NULL) {
            user = argv[i];
        } else if (name == NULL) {
            name = argv[i];
        } else {
            fprintf(stderr, "gate26: app-password: unexpected argument '%s'\n%s", argv[i],
                    app_usage);
            return 2;
        }
    }
    if (user == NULL || name == NULL) {
        fprintf(stderr, "gate26: app-password: add needs USER and NAME\n%s", app_usage);
        return 2;
    }
    if (!doors_parse(doors_arg, doors, sizeof(doors))) {
        fprintf(stderr,
                "gate26: app-password: --doors '%s': expected door names separated by commas, "
                "each once, of internal, submission, submissions\n",
                doors_arg);
        return 2;
    }
    if (!cli_user_ok(c, "app-password", user))
        return 1;
    rc = account_app_password_create(c->store, user, name, doors, (int64_t)time(NULL), shown, &id);
    switch (rc) {
    case ACCOUNT_OK:
        printf("id: %lld\npassword: %s\n", (long long)id, shown);
        fprintf(stderr, "app password %lld for %s (%s, doors %s); it is shown only now\n",
                (long long)id, user, name, doors);
        OPENSSL_cleanse(shown, sizeof(shown));
        return 0;
    case ACCOUNT_NONE:
        fprintf(stderr,
                "gate26: app-password: NAME must be 1 to %d characters, no control "
                "characters\n",
                ACCOUNT_NAME_MAX);
        return 2;
    case ACCOUNT_EXISTS:
        fprintf(stderr, "gate26: app-password: %s has %d app passwords already\n", user,
                ACCOUNT_APP_PASSWORDS_MAX);
        return 1;
    default:
        fprintf(stderr, "gate26: app-password: %s\n", account_store_error(c->store));
        return 1;
    }
}

/* A Unix time as "2026-12-07T04:41:48Z" (UTC). */
static void
iso_time(int64_t t, char *out, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL || strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        (void)str_copyz(out, cap, "?");
}

/* A JSON string (RFC 8259 7): the store holds no control characters, but escape them anyway. */
static void
json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

/* A time field: its ISO text, or null for "never". */
static void
json_time(const char *key, int64_t t)
{
    char buf[32];

    printf(", \"%s\": ", key);
    if (t == 0) {
        fputs("null", stdout);
        return;
    }
    iso_time(t, buf, sizeof(buf));
    json_string(buf);
}

static void
app_list_json(const struct account_app_password *a, size_t n)
{
    putchar('[');
    for (size_t i = 0; i < n; i++) {
        char doors[sizeof(a[i].doors)];
        bool first = true;

        printf("%s\n  {\"id\": %lld, \"user\": ", i > 0 ? "," : "", (long long)a[i].id);
        json_string(a[i].user);
        fputs(", \"name\": ", stdout);
        json_string(a[i].name);
        fputs(", \"doors\": [", stdout);
        (void)str_copyz(doors, sizeof(doors), a[i].doors);
        for (char *p = doors, *comma; p != NULL; p = comma != NULL ? comma + 1 : NULL) {
            comma = strchr(p, ',');
            if (comma != NULL)
                *comma = '\0';
            printf("%s", first ? "" : ", ");
            json_string(p);
            first = false;
        }
        putchar(']');
        json_time("created", a[i].created);
        json_time("last_used", a[i].last_used);
        fputs(", \"last_from\": ", stdout);
        if (a[i].last_from[0] == '\0')
            fputs("null", stdout);
        else
            json_string(a[i].last_from);
        json_time("revoked", a[i].revoked);
        putchar('}');
    }
    puts(n > 0 ? "\n]" : "]");
}

static void
app_list_text(const struct account_app_password *a, size_t n)
{
    printf("%-5s %-20s %-20s %-26s %-20s %-20s %s\n", "ID", "USER", "NAME", "DOORS", "CREATED",
           "LAST-USED", "FROM");
    for (size_t i = 0; i < n; i++) {
        char created[32], used[32] = "never", name[ACCOUNT_NAME_MAX + 1];

        iso_time(a[i].created, created, sizeof(created));
        if (a[i].last_used != 0)
            iso_time(a[i].last_used, used, sizeof(used));
        str_printable(name, sizeof(name), a[i].name);
        printf("%-5lld %-20s %-20s %-26s %-20s %-20s %s%s\n", (long long)a[i].id, a[i].user, name,
               a[i].doors, created, used, a[i].last_from[0] != '\0' ? a[i].last_from : "-",
               a[i].revoked != 0 ? " (revoked)" : "");
    }
}

static int
app_list(struct cli *c, int argc, char **argv)
{
    const char *user = NULL;
    bool json = false;
    struct account_app_password *a;
    size_t n;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (argv[i][0] == '-' || user != NULL) {
            fprintf(stderr, "gate26: app-password: unexpected argument '%s'\n%s", argv[i],
                    app_usage);
            return 2;
        } else {
            user = argv[i];
        }
    }
    if (user != NULL && !auth_is_user_name(user, strlen(user))) {
        fprintf(stderr, "gate26: app-password: '%s' cannot be a user name\n", user);
        return 2;
    }
    if (account_app_password_list(c->store, user, &a, &n) == -1) {
        fprintf(stderr, "gate26: app-password: %s\n", account_store_error(c->store));
        return 1;
    }
    if (json)
        app_list_json(a, n);
    else
        app_list_text(a, n);
    free(a);
    return 0;
}

static int
app_revoke(struct cli *c, int argc, char **argv)
{
    uint64_t id;

    if (argc != 2) {
        fprintf(stderr, "gate26: app-password: revoke needs USER and ID\n%s", app_usage);
        return 2;
    }
    if (num_parse_u64(slice_make(argv[1], strlen(argv[1])), 1, INT64_MAX, &id) == -1) {
        fprintf(stderr, "gate26: app-password: ID '%s' is not a number from 1 up\n", argv[1]);
        return 2;
    }
    if (!auth_is_user_name(argv[0], strlen(argv[0]))) {
        fprintf(stderr, "gate26: app-password: '%s' cannot be a user name\n", argv[0]);
        return 2;
    }
    switch (account_app_password_revoke(c->store, argv[0], (int64_t)id, (int64_t)time(NULL))) {
    case ACCOUNT_OK:
        printf("revoked app password %llu of %s\n", (unsigned long long)id, argv[0]);
        return 0;
    case ACCOUNT_REVOKED:
        fprintf(stderr, "gate26: app-password: %llu of %s was revoked already\n",
                (unsigned long long)id, argv[0]);
        return 0;
    case ACCOUNT_NONE:
        fprintf(stderr, "gate26: app-password: %s has no app password %llu\n", argv[0],
                (unsigned long long)id);
        return 1;
    default:
        fprintf(stderr, "gate26: app-password: %s\n", account_store_error(c->store));
        return 1;
    }
}

int
account_app_password_main(int argc, char **argv, const char *default_conf)
{
    const char *path = default_conf, *verb;
    struct cli c;
    int i, rc;

    if (cli_asks_help(argc, argv)) {
        printf("%s%s", app_usage, app_help);
        return 0;
    }
    i = cli_conf_arg(argc, argv, &path);
    if (i >= argc) {
        fputs(app_usage, stderr);
        return 2;
    }
    verb = argv[i++];
    if (strcmp(verb, "add") != 0 && strcmp(verb, "list") != 0 && strcmp(verb, "revoke") != 0) {
        fprintf(stderr, "gate26: app-password: unknown verb '%s'\n%s", verb, app_usage);
        return 2;
    }
    if (cli_open(&c, "app-password", path) == -1)
        return 1;
    if (strcmp(verb, "add") == 0)
        rc = app_add(&c, argc - i, argv + i);
    else if (strcmp(verb, "list") == 0)
        rc = app_list(&c, argc - i, argv + i);
    else
        rc = app_revoke(&c, argc - i, argv + i);
    cli_close(&c);
    return rc;
}

/* ------------------------------------------------------------ totp */

static int
totp_enrol(struct cli *c, const char *user)
{
    unsigned char secret[TOTP_SECRET_LEN];
    char b32[TOTP_B32_LEN(TOTP_SECRET_LEN) + 1], uri[TOTP_URI_CAP];

    switch (account_totp_enrol(c->store, user, secret)) {
    case ACCOUNT_OK:
        break;
    case ACCOUNT_EXISTS:
        fprintf(stderr, "gate26: totp: %s is enrolled already (gate26 totp remove %s first)\n",
                user, user);
        return 1;
    default:
        fprintf(stderr, "gate26: totp: %s\n", account_store_error(c->store));
        return 1;
    }
    if (totp_base32_encode(secret, sizeof(secret), false, b32, sizeof(b32)) == -1 ||
        totp_uri(user, secret, sizeof(secret), uri, sizeof(uri)) == -1) {
        OPENSSL_cleanse(secret, sizeof(secret));
        fprintf(stderr, "gate26: totp: the user name is too long for a URI\n");
        return 1;
    }
    OPENSSL_cleanse(secret, sizeof(secret));
    printf("secret: %s\nuri: %s\n", b32, uri);
    fprintf(stderr, "add it to an authenticator app, then: gate26 totp confirm %s CODE\n", user);
    OPENSSL_cleanse(b32, sizeof(b32));
    OPENSSL_cleanse(uri, sizeof(uri));
    return 0;
}

static int
totp_confirm(struct cli *c, const char *user, const char *code)
{
    char codes[ACCOUNT_RECOVERY_CODES][ACCOUNT_RECOVERY_LEN + 1];

    switch (account_totp_confirm(c->store, user, code, (int64_t)time(NULL))) {
    case ACCOUNT_OK:
        break;
    case ACCOUNT_NONE:
        fprintf(stderr, "gate26: totp: no enrolment of %s to confirm (gate26 totp enrol %s)\n",
                user, user);
        return 1;
    case ACCOUNT_EXISTS:
        fprintf(stderr, "gate26: totp: %s is enrolled already\n", user);
        return 1;
    case ACCOUNT_BAD_CODE:
        fprintf(stderr,
                "gate26: totp: wrong code for %s (6 digits, from the app, not used "
                "before)\n",
                user);
        return 1;
    default:
        fprintf(stderr, "gate26: totp: %s\n", account_store_error(c->store));
        return 1;
    }
    if (account_recovery_make(c->store, user, codes) != ACCOUNT_OK) {
        fprintf(stderr, "gate26: totp: %s enrolled, but no recovery codes: %s\n", user,
                account_store_error(c->store));
        return 1;
    }
    printf("enrolled: %s\nrecovery codes (shown once, each works once):\n", user);
    for (size_t i = 0; i < ACCOUNT_RECOVERY_CODES; i++)
        printf("%s\n", codes[i]);
    OPENSSL_cleanse(codes, sizeof(codes));
    return 0;
}

static int
totp_remove(struct cli *c, const char *user)
{
    switch (account_totp_remove(c->store, user)) {
    case ACCOUNT_OK:
        printf("removed: TOTP of %s\n", user);
        return 0;
    case ACCOUNT_NONE:
        fprintf(stderr, "gate26: totp: %s has no TOTP\n", user);
        return 1;
    default:
        fprintf(stderr, "gate26: totp: %s\n", account_store_error(c->store));
        return 1;
    }
}

int
account_totp_main(int argc, char **argv, const char *default_conf)
{
    const char *path = default_conf, *verb;
    struct cli c;
    int i, rc, want;

    if (cli_asks_help(argc, argv)) {
        printf("%s%s", totp_usage, totp_help);
        return 0;
    }
    i = cli_conf_arg(argc, argv, &path);
    if (i >= argc) {
        fputs(totp_usage, stderr);
        return 2;
    }
    verb = argv[i++];
    if (strcmp(verb, "enrol") == 0 || strcmp(verb, "remove") == 0) {
        want = 1;
    } else if (strcmp(verb, "confirm") == 0) {
        want = 2;
    } else {
        fprintf(stderr, "gate26: totp: unknown verb '%s'\n%s", verb, totp_usage);
        return 2;
    }
    if (argc - i != want) {
        fprintf(stderr, "gate26: totp: %s needs %s\n%s", verb, want == 1 ? "USER" : "USER CODE",
                totp_usage);
        return 2;
    }
    if (cli_open(&c, "totp", path) == -1)
        return 1;
    /* A user gone from the password file may still have its TOTP removed. */
    if (strcmp(verb, "remove") == 0 ? !auth_is_user_name(argv[i], strlen(argv[i]))
                                    : !cli_user_ok(&c, "totp", argv[i])) {
        if (strcmp(verb, "remove") == 0)
            fprintf(stderr, "gate26: totp: '%s' cannot be a user name\n", argv[i]);
        cli_close(&c);
        return 1;
    }
    if (strcmp(verb, "enrol") == 0)
        rc = totp_enrol(&c, argv[i]);
    else if (strcmp(verb, "confirm") == 0)
        rc = totp_confirm(&c, argv[i], argv[i + 1]);
    else
        rc = totp_remove(&c, argv[i]);
    cli_close(&c);
    return rc;
}
