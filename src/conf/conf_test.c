/* SPDX-License-Identifier: MIT */
/*
 * Tests of the configuration: config texts are written to files in a
 * temporary directory (with "@DIR@" replaced by its path) and loaded with
 * conf_load(). Error rows assert the exact FILE:LINE and a key phrase; the
 * value parsers, domain lookup and CIDR matching have tables of their own.
 * Every table has hostile rows.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf/conf.h"
#include "conf/lexer.h"
#include "conf/metrics_auth.h"
#include "conf/relay_auth.h"
#include "conf/values.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static char tmpdir[256];         /* realpath of the test's directory */
static char conf_path[CAP_PATH]; /* tmpdir/test.conf */

/* ---- Helpers ---- */

/* text (len octets) with every "@DIR@" replaced by tmpdir, length in *outlen; the caller frees it.
 */
static char *
subst(const char *text, size_t len, size_t *outlen)
{
    size_t dl = strlen(tmpdir), n = 0, o = 0;
    char *out;

    for (size_t i = 0; i + 5 <= len; i++)
        n += memcmp(text + i, "@DIR@", 5) == 0;
    out = malloc(len + n * dl + 1);
    assert_non_null(out);
    for (size_t i = 0; i < len;) {
        if (i + 5 <= len && memcmp(text + i, "@DIR@", 5) == 0) {
            memcpy(out + o, tmpdir, dl);
            o += dl;
            i += 5;
        } else {
            out[o++] = text[i++];
        }
    }
    out[o] = '\0';
    if (outlen != NULL)
        *outlen = o;
    return out;
}

static void
write_file(const char *path, const char *text, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    assert_true(fd >= 0);
    assert_true(write(fd, text, len) == (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

/* Writes text (len octets, "@DIR@" replaced) to conf_path and loads it. */
static struct conf *
load_len(const char *text, size_t len, char *err, size_t errcap)
{
    size_t n;
    char *t = subst(text, len, &n);

    write_file(conf_path, t, n);
    free(t);
    return conf_load(conf_path, err, errcap);
}

static struct conf *
load(const char *text, char *err, size_t errcap)
{
    return load_len(text, strlen(text), err, errcap);
}

/* Loads text and asserts "conf_path:line: ...phrase..." (phrase with "@DIR@" replaced). */
static void
expect_error(const char *name, const char *text, unsigned line, const char *phrase)
{
    char err[1024], prefix[CAP_PATH + 32];
    struct conf *c = load(text, err, sizeof err);
    char *want = subst(phrase, strlen(phrase), NULL);

    (void)snprintf(prefix, sizeof prefix, "%s:%u: ", conf_path, line);
    if (c != NULL || strncmp(err, prefix, strlen(prefix)) != 0 || strstr(err, want) == NULL) {
        print_error("row '%s': want '%s...%s', got %s '%s'\n", name, prefix, want,
                    c ? "success" : "error", err);
        conf_unref(c);
        free(want);
        fail();
    }
    free(want);
}

static struct conf *
expect_ok(const char *name, const char *text)
{
    char err[1024];
    struct conf *c = load(text, err, sizeof err);

    if (c == NULL) {
        print_error("row '%s': want success, got '%s'\n", name, err);
        fail();
    }
    return c;
}

/* ---- Fixtures ---- */

static const char *const extra_files[] = {"cert2.pem", "key2.pem", "cert3.pem",
                                          "key3.pem",  "ca.pem",   "off"};

static int
group_setup(void **state)
{
    char dir[] = "/tmp/gate26-conf-XXXXXX";
    char path[CAP_PATH], real[PATH_MAX];

    (void)state;
    if (mkdtemp(dir) == NULL || realpath(dir, real) == NULL || strlen(real) >= sizeof tmpdir)
        return -1;
    memcpy(tmpdir, real, strlen(real) + 1);
    (void)snprintf(conf_path, sizeof conf_path, "%s/test.conf", tmpdir);
    (void)snprintf(path, sizeof path, "%s/cert.pem", tmpdir);
    write_file(path, "", 0);
    (void)snprintf(path, sizeof path, "%s/key.pem", tmpdir);
    write_file(path, "", 0);
    /* Contents do not matter here: conf checks that files are readable, src/tls loads them. */
    for (size_t i = 0; i < N_OF(extra_files); i++) {
        (void)snprintf(path, sizeof path, "%s/%s", tmpdir, extra_files[i]);
        write_file(path, "", 0);
    }
    return 0;
}

static int
group_teardown(void **state)
{
    static const char *const names[] = {"test.conf", "cert.pem",   "key.pem",     "rel.conf",
                                        "big.conf",  "smart.auth", "inside.auth", "token",
                                        "basic",     "m.token",    "m.basic",     "m.open",
                                        "m.short",   "m.space",    "m.nouser"};
    char path[CAP_PATH];

    (void)state;
    for (size_t i = 0; i < N_OF(names); i++) {
        (void)snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
        (void)unlink(path);
    }
    for (size_t i = 0; i < N_OF(extra_files); i++) {
        (void)snprintf(path, sizeof path, "%s/%s", tmpdir, extra_files[i]);
        (void)unlink(path);
    }
    (void)snprintf(path, sizeof path, "%s/sub", tmpdir);
    (void)rmdir(path);
    return rmdir(tmpdir);
}

/* The smallest valid file: five lines. */
#define MIN_LISTEN "listen inbound {\n    address 127.0.0.1:2525\n}\n"
#define MIN_DOMAIN "domain example.com {\n}\n"
#define LONG120                                                                                    \
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" \
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxx"
#define MIN       MIN_LISTEN MIN_DOMAIN
#define TLS_BLOCK "tls {\n    cert @DIR@/cert.pem\n    key  @DIR@/key.pem\n}\n"
/* Doors that require AUTH need one (the file is read by the daemon, not by the parser). */
#define AUTH_BLOCK "auth {\n    passwd /etc/gate26/passwd\n}\n"

/* ---- The DESIGN.md example ---- */

static const char design_example[] =
    "hostname  mx1.example.com\n"
    "spool     /var/spool/gate26\n"
    "user      gate26\n"
    "\n"
    "tls {\n"
    "    cert  @DIR@/cert.pem\n"
    "    key   @DIR@/key.pem\n"
    "}\n"
    "\n"
    "listen inbound {                 # port 25: the Internet's door\n"
    "    address  0.0.0.0:25 [::]:25\n"
    "    tls      starttls\n"
    "}\n"
    "listen internal {                # port 26: our own servers' door\n"
    "    address  0.0.0.0:26\n"
    "    allow    10.0.0.0/8 192.168.0.0/16\n"
    "}\n"
    "listen submission {\n"
    "    address  0.0.0.0:587\n"
    "    tls      starttls required\n"
    "    auth     required\n"
    "}\n"
    "listen submissions {\n"
    "    address  0.0.0.0:465\n"
    "    tls      implicit\n"
    "    auth     required\n"
    "}\n"
    "\n"
    "domain example.com {             # mail for it, arriving on 25, goes here\n"
    "    relay  smtp://10.0.0.5:25\n"
    "}\n"
    "\n"
    "auth {\n"
    "    passwd  /etc/gate26/passwd   # user:crypt-hash lines\n"
    "}\n"
    "\n"
    "delivery {\n"
    "    retry    5m 10m 30m 1h 2h 4h   # then every 4h\n"
    "    give-up  5d\n"
    "}\n";

static void
test_design_example(void **state)
{
    struct conf *c = expect_ok("design", design_example);
    char want[CAP_PATH];
    const struct conf_listen *l;
    static const unsigned retry[] = {300, 600, 1800, 3600, 7200, 14400};

    (void)state;
    assert_string_equal(c->path, conf_path);
    assert_string_equal(c->hostname, "mx1.example.com");
    assert_string_equal(c->spool, "/var/spool/gate26");
    assert_string_equal(c->user, "gate26");
    assert_true(c->has_tls);
    (void)snprintf(want, sizeof want, "%s/cert.pem", tmpdir);
    assert_string_equal(c->tls_cert, want);
    (void)snprintf(want, sizeof want, "%s/key.pem", tmpdir);
    assert_string_equal(c->tls_key, want);
    assert_int_equal(c->n_listens, 4);

    l = &c->listens[0];
    assert_int_equal(l->role, DOOR_INBOUND);
    assert_int_equal(l->line, 10);
    assert_int_equal(l->n_addrs, 2);
    assert_string_equal(l->addrs[0].text, "0.0.0.0:25");
    assert_string_equal(l->addrs[1].text, "[::]:25");
    assert_int_equal(l->addrs[1].sa.ss_family, AF_INET6);
    assert_int_equal(l->addrs[1].sa_len, sizeof(struct sockaddr_in6));
    assert_int_equal(l->addrs[1].line, 11);
    assert_int_equal(l->tls, CONF_TLS_STARTTLS);
    assert_false(l->auth_required);
    assert_int_equal(l->n_allow, 0);

    l = &c->listens[1];
    assert_int_equal(l->role, DOOR_INTERNAL);
    assert_int_equal(l->n_allow, 2);
    assert_int_equal(l->allow[1].family, AF_INET);
    assert_int_equal(l->allow[1].prefix, 16);
    assert_memory_equal(l->allow[1].addr, "\xc0\xa8\0\0", 4);
    assert_int_equal(l->tls, CONF_TLS_STARTTLS); /* default with a tls block */
    assert_false(l->auth_required);

    l = &c->listens[2];
    assert_int_equal(l->role, DOOR_SUBMISSION);
    assert_int_equal(l->tls, CONF_TLS_STARTTLS_REQUIRED);
    assert_true(l->auth_required);

    l = &c->listens[3];
    assert_int_equal(l->role, DOOR_SUBMISSIONS);
    assert_string_equal(l->addrs[0].text, "0.0.0.0:465");
    assert_int_equal(l->tls, CONF_TLS_IMPLICIT);
    assert_true(l->auth_required);

    assert_int_equal(c->n_domains, 1);
    assert_string_equal(c->domains[0].name, "example.com");
    assert_int_equal(c->domains[0].line, 29);
    assert_int_equal(c->domains[0].relay.n, 1);
    assert_string_equal(c->domains[0].relay.urls[0].host, "10.0.0.5");
    assert_int_equal(c->domains[0].relay.urls[0].port, 25);
    assert_false(c->domains[0].relay.urls[0].bracketed);
    assert_int_equal(c->domains[0].relay.urls[0].family, AF_INET);

    assert_string_equal(c->auth_passwd, "/etc/gate26/passwd");
    assert_int_equal(c->n_retry, 6);
    assert_memory_equal(c->retry, retry, sizeof retry);
    assert_int_equal(c->give_up, 5 * 86400);
    conf_unref(c);
}

/* ---- Defaults ---- */

static void
test_defaults(void **state)
{
    struct conf *c = expect_ok("min", MIN);
    const struct conf_listen *l = &c->listens[0];
    static const unsigned retry[] = {300, 600, 1800, 3600, 7200, 14400};
    char host[CAP_HOSTNAME + 2] = "";
    struct conf_why w;
    char want[CAP_DOMAIN + 1];

    (void)state;
    /* hostname: gethostname() when it is a Domain, else localhost */
    if (gethostname(host, sizeof host - 1) != 0 ||
        conf_value_domain(slice_make(host, strlen(host)), want, &w) == -1)
        (void)snprintf(want, sizeof want, "localhost");
    assert_string_equal(c->hostname, want);
    assert_string_equal(c->spool, "/var/spool/gate26");
    assert_string_equal(c->user, "");
    assert_int_equal(c->log_level, LOG_LEVEL_INFO);
    assert_int_equal(c->max_sessions, 1000);
    assert_false(c->has_tls);
    assert_string_equal(c->tls_cert, "");
    assert_string_equal(c->auth_passwd, "");
    assert_int_equal(c->n_retry, 6);
    assert_memory_equal(c->retry, retry, sizeof retry);
    assert_int_equal(c->give_up, 432000);
    assert_int_equal(c->delay_warning, 4 * 3600);
    assert_int_equal(c->relay_host.n, 0);
    assert_false(c->has_resolver);
    assert_int_equal(c->max_deliveries, 500);
    assert_int_equal(c->max_per_destination, 20);
    assert_int_equal(c->connection_reuse, 2);
    assert_int_equal(c->timeout_connect, 30);
    assert_int_equal(c->timeout_command, 300);
    assert_int_equal(c->timeout_data, 600);

    assert_int_equal(c->n_listens, 1);
    assert_int_equal(l->line, 1);
    assert_int_equal(l->n_addrs, 1);
    assert_string_equal(l->addrs[0].text, "127.0.0.1:2525");
    assert_int_equal(l->addrs[0].sa.ss_family, AF_INET);
    assert_int_equal(l->addrs[0].sa_len, sizeof(struct sockaddr_in));
    assert_int_equal(ntohs(((struct sockaddr_in *)&l->addrs[0].sa)->sin_port), 2525);
    assert_int_equal(l->tls, CONF_TLS_NONE);
    assert_false(l->auth_required);
    assert_int_equal(l->max_message_size, 10 * 1024 * 1024);
    assert_int_equal(l->max_recipients, 100);
    assert_int_equal(l->max_errors, 10);
    assert_int_equal(l->max_sessions, 1000);
    assert_int_equal(l->timeout_command, 300);
    assert_int_equal(l->timeout_data, 300);
    assert_int_equal(l->n_allow, 0);
    assert_int_equal(l->n_deny, 0);
    assert_int_equal(l->max_sessions_per_client, 20);
    assert_int_equal(l->connection_rate.n, 60);
    assert_int_equal(l->connection_rate.period, 60);
    assert_int_equal(l->message_rate.n, 0);
    assert_int_equal(l->sender_rate.n, 0);
    assert_int_equal(c->auth_max_failures.n, 5);
    assert_int_equal(c->auth_max_failures.period, 600);
    assert_int_equal(c->auth_lockout, 600);
    assert_int_equal(c->auth_user_rate.n, 0);

    assert_int_equal(c->n_domains, 1);
    assert_int_equal(c->domains[0].relay.n, 0);
    conf_unref(c);
}

/* Role defaults for tls and auth, with and without a tls block. */
static void
test_role_defaults(void **state)
{
    static const struct {
        const char *text;
        enum conf_tls_mode tls;
        bool auth;
    } rows[] = {
        {MIN, CONF_TLS_NONE, false},
        {TLS_BLOCK MIN, CONF_TLS_STARTTLS, false},
        {TLS_BLOCK "listen internal {\n address 127.0.0.1:26\n allow 127.0.0.1\n}\n",
         CONF_TLS_STARTTLS, false},
        {"listen internal {\n address 127.0.0.1:26\n allow 127.0.0.1\n}\n", CONF_TLS_NONE, false},
        {TLS_BLOCK AUTH_BLOCK "listen submission {\n address 127.0.0.1:587\n}\n",
         CONF_TLS_STARTTLS_REQUIRED, true},
        {TLS_BLOCK AUTH_BLOCK "listen submission {\n address 127.0.0.1:587\n tls implicit\n}\n",
         CONF_TLS_IMPLICIT, true},
        {TLS_BLOCK AUTH_BLOCK "listen submissions {\n address 127.0.0.1:465\n}\n",
         CONF_TLS_IMPLICIT, true},
        {TLS_BLOCK "listen internal {\n address 127.0.0.1:26\n allow 127.0.0.1\n tls none\n"
                   " auth required\n}\n" AUTH_BLOCK,
         CONF_TLS_NONE, true},
        /* the tls and auth blocks may come after the listen block */
        {"listen submission {\n address 127.0.0.1:587\n}\n" TLS_BLOCK AUTH_BLOCK,
         CONF_TLS_STARTTLS_REQUIRED, true},
        {MIN_LISTEN TLS_BLOCK MIN_DOMAIN, CONF_TLS_STARTTLS, false},
    };

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        char name[32];
        struct conf *c;

        (void)snprintf(name, sizeof name, "role-default-%zu", i);
        c = expect_ok(name, rows[i].text);
        assert_int_equal(c->listens[0].tls, rows[i].tls);
        assert_int_equal(c->listens[0].auth_required, rows[i].auth);
        conf_unref(c);
    }
}

/* The per-client limits by role: the internal door (our own servers, by allow list) has none
 * unless written; the doors that face the Internet have 20 sessions and 60 connections a
 * minute per client. Written values win, "off" included. */
static void
test_limit_defaults(void **state)
{
    static const struct {
        const char *text;
        unsigned per_client, conn_n, conn_period;
    } rows[] = {
        {MIN, 20, 60, 60},
        {"listen internal {\n address 127.0.0.1:26\n allow 127.0.0.1\n}\n", 0, 0, 0},
        {TLS_BLOCK AUTH_BLOCK "listen submission {\n address 127.0.0.1:587\n}\n", 20, 60, 60},
        {TLS_BLOCK AUTH_BLOCK "listen submissions {\n address 127.0.0.1:465\n}\n", 20, 60, 60},
        {"listen internal {\n address 127.0.0.1:26\n allow 127.0.0.1\n"
         " max-sessions-per-client 3\n connection-rate 10/1s\n}\n",
         3, 10, 1},
        {"listen inbound {\n address 127.0.0.1:25\n max-sessions-per-client off\n"
         " connection-rate off\n}\n" MIN_DOMAIN,
         0, 0, 0},
        /* hostile: "off" in any case, and an oddly long period */
        {"listen inbound {\n address 127.0.0.1:25\n max-sessions-per-client OfF\n"
         " connection-rate 1/86400s\n}\n" MIN_DOMAIN,
         0, 1, 86400},
    };

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        struct conf *c = expect_ok("limit-default", rows[i].text);

        assert_int_equal(c->listens[0].max_sessions_per_client, rows[i].per_client);
        assert_int_equal(c->listens[0].connection_rate.n, rows[i].conn_n);
        assert_int_equal(c->listens[0].connection_rate.period, rows[i].conn_period);
        assert_int_equal(c->listens[0].message_rate.n, 0);
        assert_int_equal(c->listens[0].sender_rate.n, 0);
        conf_unref(c);
    }
}

/* The auth block's limits. */
static void
test_auth_limits(void **state)
{
    static const struct {
        const char *body;
        unsigned fail_n, fail_period, lockout, user_n, user_period;
    } rows[] = {
        {"", 5, 600, 600, 0, 0},
        {" max-failures 3/1m\n lockout 30s\n user-rate 100/1h\n", 3, 60, 30, 100, 3600},
        {" max-failures 1/1s\n lockout 1\n user-rate off\n", 1, 1, 1, 0, 0},
        {" max-failures 1000/1d\n lockout 1d\n user-rate 1000000/1d\n", 1000, 86400, 86400, 1000000,
         86400},
    };

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        char text[512];
        struct conf *c;

        (void)snprintf(text, sizeof text, "auth {\n passwd /p\n%s}\n" MIN, rows[i].body);
        c = expect_ok("auth-limits", text);
        assert_int_equal(c->auth_max_failures.n, rows[i].fail_n);
        assert_int_equal(c->auth_max_failures.period, rows[i].fail_period);
        assert_int_equal(c->auth_lockout, rows[i].lockout);
        assert_int_equal(c->auth_user_rate.n, rows[i].user_n);
        assert_int_equal(c->auth_user_rate.period, rows[i].user_period);
        conf_unref(c);
    }
}

/* auth { app-passwords }: off by default, each word in any case. */
static void
test_auth_app_passwords(void **state)
{
    static const struct {
        const char *body;
        enum conf_app_passwords want;
    } rows[] = {
        {"", CONF_APP_PASSWORDS_OFF},
        {" app-passwords off\n", CONF_APP_PASSWORDS_OFF},
        {" app-passwords required\n", CONF_APP_PASSWORDS_REQUIRED},
        {" app-passwords TOTP-Users\n", CONF_APP_PASSWORDS_TOTP_USERS},
    };

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        char text[512];
        struct conf *c;

        (void)snprintf(text, sizeof text, "auth {\n passwd /p\n%s}\n" MIN, rows[i].body);
        c = expect_ok("app-passwords", text);
        assert_int_equal(c->auth_app_passwords, rows[i].want);
        conf_unref(c);
    }
}

/* auth { lockout-exempt NETWORKS }: lines accumulate, both families, as allow. */
static void
test_auth_lockout_exempt(void **state)
{
    static const struct {
        const char *body;
        size_t n;
    } rows[] = {
        {"", 0},
        {" lockout-exempt 192.0.2.7\n", 1},
        {" lockout-exempt 10.0.0.0/8 2001:db8::/64\n lockout-exempt ::1\n", 3},
        {" lockout-exempt 0.0.0.0/0\n", 1},
        {" lockout-exempt \"192.0.2.0/24\"\n", 1},
    };

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        char text[512];
        struct conf *c;

        (void)snprintf(text, sizeof text, "auth {\n passwd /p\n%s}\n" MIN, rows[i].body);
        c = expect_ok("lockout-exempt", text);
        assert_int_equal(c->n_auth_lockout_exempt, rows[i].n);
        conf_unref(c);
    }
    {
        static const unsigned char in[4] = {10, 1, 2, 3}, out[4] = {11, 0, 0, 1};
        static const unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                             0,    0,    0,    0,    0, 0, 0, 9};
        struct conf *c =
            expect_ok("lockout-exempt match",
                      "auth {\n passwd /p\n lockout-exempt 10.0.0.0/8 2001:db8::/64\n}\n" MIN);

        assert_true(conf_cidr_match(c->auth_lockout_exempt, c->n_auth_lockout_exempt, AF_INET, in));
        assert_false(
            conf_cidr_match(c->auth_lockout_exempt, c->n_auth_lockout_exempt, AF_INET, out));
        assert_true(
            conf_cidr_match(c->auth_lockout_exempt, c->n_auth_lockout_exempt, AF_INET6, v6));
        conf_unref(c);
    }
}

/* auth { sender USER ADDRESS... }: lines accumulate; domains are lower-cased, local parts kept. */
static void
test_auth_senders(void **state)
{
    struct conf *c;

    (void)state;
    c = expect_ok("senders", "auth {\n passwd /p\n sender bob Bob@Ours.Test @Bob.TEST\n"
                             " sender carol carol@x.test\n}\n" MIN);
    assert_int_equal(c->n_auth_senders, 3);
    assert_string_equal(c->auth_senders[0].user, "bob");
    assert_string_equal(c->auth_senders[0].pattern, "Bob@ours.test");
    assert_string_equal(c->auth_senders[1].pattern, "@bob.test");
    assert_string_equal(c->auth_senders[2].user, "carol");
    assert_int_equal(c->auth_senders[2].line, 4);
    conf_unref(c);
}

/* A listen's max-sessions defaults to the top-level one wherever that is written. */
static void
test_max_sessions_order(void **state)
{
    static const struct {
        const char *text;
        unsigned top, listen;
    } rows[] = {
        {MIN "max-sessions 50\n", 50, 50},
        {"max-sessions 50\n" MIN, 50, 50},
        {"listen inbound {\n address 127.0.0.1:25\n max-sessions 7\n}\nmax-sessions "
         "50\n" MIN_DOMAIN,
         50, 7},
        {"max-sessions 1000000\n" MIN, 1000000, 1000000},
        {"max-sessions 1\n" MIN, 1, 1},
    };

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        struct conf *c = expect_ok("max-sessions", rows[i].text);

        assert_int_equal(c->max_sessions, rows[i].top);
        assert_int_equal(c->listens[0].max_sessions, rows[i].listen);
        conf_unref(c);
    }
}

/* ---- Top-level keys that load ---- */

static void
test_top_values(void **state)
{
    struct conf *c;

    (void)state;
    c = expect_ok("top", "hostname Mx1.Example.COM.\n"
                         "spool \"/var/spool/gate #26\"   # a comment after a string\n"
                         "user gate26_user-1.x\n"
                         "log-level debug\n" MIN);
    assert_string_equal(c->hostname, "Mx1.Example.COM");
    assert_string_equal(c->spool, "/var/spool/gate #26");
    assert_string_equal(c->user, "gate26_user-1.x");
    assert_int_equal(c->log_level, LOG_LEVEL_DEBUG);
    conf_unref(c);

    c = expect_ok("escapes", "spool \"/a\\\"b\\\\c\"\nlog-level error\nhostname localhost\n" MIN);
    assert_string_equal(c->spool, "/a\"b\\c");
    assert_int_equal(c->log_level, LOG_LEVEL_ERROR);
    assert_string_equal(c->hostname, "localhost");
    conf_unref(c);

    c = expect_ok("warning", "log-level warning\n\t user\t\"x\"\t\n" MIN);
    assert_int_equal(c->log_level, LOG_LEVEL_WARNING);
    assert_string_equal(c->user, "x");
    conf_unref(c);

    /* CRLF line ends, no final newline, braces without spaces, an empty block on one line */
    c = expect_ok("crlf", "hostname mx.example\r\nlisten inbound{\r\n address 127.0.0.1:25\r\n}"
                          "\r\ndomain example.org{}\r\ndomain example.net { }");
    assert_string_equal(c->hostname, "mx.example");
    assert_int_equal(c->n_domains, 2);
    conf_unref(c);
}

/* ---- Listen keys that load ---- */

enum field {
    F_MAX_MESSAGE_SIZE,
    F_MAX_RECIPIENTS,
    F_MAX_ERRORS,
    F_MAX_SESSIONS,
    F_TIMEOUT_COMMAND,
    F_TIMEOUT_DATA,
    F_TLS,
    F_AUTH,
    F_N_ALLOW,
    F_N_ADDRS,
    F_N_DENY,
    F_PER_CLIENT,
    F_CONN_RATE, /* n * 1000000 + period */
    F_MSG_RATE,
    F_SENDER_RATE,
    F_N_LIMITS_EXEMPT,
    F_N_PROXY_FROM,
    F_PROXY_LINE,
    F_SCANNERS_REFUSE,
};

static uint64_t
rate_field(struct conf_rate r)
{
    return (uint64_t)r.n * 1000000 + r.period;
}

static uint64_t
field(const struct conf_listen *l, enum field f)
{
    switch (f) {
    case F_MAX_MESSAGE_SIZE:
        return l->max_message_size;
    case F_MAX_RECIPIENTS:
        return l->max_recipients;
    case F_MAX_ERRORS:
        return l->max_errors;
    case F_MAX_SESSIONS:
        return l->max_sessions;
    case F_TIMEOUT_COMMAND:
        return l->timeout_command;
    case F_TIMEOUT_DATA:
        return l->timeout_data;
    case F_TLS:
        return l->tls;
    case F_AUTH:
        return l->auth_required;
    case F_N_ALLOW:
        return l->n_allow;
    case F_N_ADDRS:
        return l->n_addrs;
    case F_N_DENY:
        return l->n_deny;
    case F_PER_CLIENT:
        return l->max_sessions_per_client;
    case F_CONN_RATE:
        return rate_field(l->connection_rate);
    case F_MSG_RATE:
        return rate_field(l->message_rate);
    case F_SENDER_RATE:
        return rate_field(l->sender_rate);
    case F_N_LIMITS_EXEMPT:
        return l->n_limits_exempt;
    case F_N_PROXY_FROM:
        return l->n_proxy_from;
    case F_PROXY_LINE:
        return l->proxy_line;
    case F_SCANNERS_REFUSE:
        return l->scanners_refuse;
    }
    return UINT64_MAX;
}

/* The statement goes on line 7 of this file. */
#define LISTEN_TEMPLATE_HEAD TLS_BLOCK "listen inbound {\n    address 127.0.0.1:2525\n"
#define LISTEN_TEMPLATE_TAIL "\n}\ndomain example.com {}\n"
#define LISTEN_LINE          7

static char *
listen_text(const char *stmt)
{
    static const char head[] = LISTEN_TEMPLATE_HEAD, tail[] = LISTEN_TEMPLATE_TAIL;
    char *t = malloc(sizeof head + strlen(stmt) + sizeof tail);

    assert_non_null(t);
    (void)snprintf(t, sizeof head + strlen(stmt) + sizeof tail, "%s%s%s", head, stmt, tail);
    return t;
}

static void
test_listen_values(void **state)
{
    static const struct {
        const char *stmt;
        enum field f;
        uint64_t want;
    } rows[] = {
        {"max-message-size 1024", F_MAX_MESSAGE_SIZE, 1024},
        {"max-message-size 1k", F_MAX_MESSAGE_SIZE, 1024},
        {"max-message-size 1K", F_MAX_MESSAGE_SIZE, 1024},
        {"max-message-size 10M", F_MAX_MESSAGE_SIZE, 10485760},
        {"max-message-size 10m", F_MAX_MESSAGE_SIZE, 10485760},
        {"max-message-size 2G", F_MAX_MESSAGE_SIZE, 2147483648u},
        {"max-message-size 2g", F_MAX_MESSAGE_SIZE, 2147483648u},
        {"max-message-size 2048M", F_MAX_MESSAGE_SIZE, 2147483648u},
        {"max-message-size 2147483648", F_MAX_MESSAGE_SIZE, 2147483648u},
        {"max-message-size 0001024", F_MAX_MESSAGE_SIZE, 1024},
        {"max-message-size \"5M\"", F_MAX_MESSAGE_SIZE, 5242880},
        {"max-recipients 1", F_MAX_RECIPIENTS, 1},
        {"max-recipients 100000", F_MAX_RECIPIENTS, 100000},
        {"scanners refuse", F_SCANNERS_REFUSE, 1},
        {"scanners count", F_SCANNERS_REFUSE, 0},
        {"max-errors 1", F_MAX_ERRORS, 1},
        {"max-errors 1000", F_MAX_ERRORS, 1000},
        {"max-sessions 1", F_MAX_SESSIONS, 1},
        {"max-sessions 1000000", F_MAX_SESSIONS, 1000000},
        {"timeout-command 1", F_TIMEOUT_COMMAND, 1},
        {"timeout-command 1s", F_TIMEOUT_COMMAND, 1},
        {"timeout-command 90s", F_TIMEOUT_COMMAND, 90},
        {"timeout-command 5m", F_TIMEOUT_COMMAND, 300},
        {"timeout-command 1h", F_TIMEOUT_COMMAND, 3600},
        {"timeout-command 24h", F_TIMEOUT_COMMAND, 86400},
        {"timeout-command 1440m", F_TIMEOUT_COMMAND, 86400},
        {"timeout-command 1d", F_TIMEOUT_COMMAND, 86400},
        {"timeout-command 86400", F_TIMEOUT_COMMAND, 86400},
        {"timeout-data 3m", F_TIMEOUT_DATA, 180},
        {"timeout-data 10", F_TIMEOUT_DATA, 10},
        {"tls none", F_TLS, CONF_TLS_NONE},
        {"tls starttls", F_TLS, CONF_TLS_STARTTLS},
        {"tls starttls required", F_TLS, CONF_TLS_STARTTLS_REQUIRED},
        {"tls \"starttls\" required", F_TLS, CONF_TLS_STARTTLS_REQUIRED},
        {"tls implicit", F_TLS, CONF_TLS_IMPLICIT},
        {"auth none", F_AUTH, 0},
        {"allow 10.0.0.0/8", F_N_ALLOW, 1},
        {"allow 10.0.0.0/8 192.168.0.0/16\n    allow ::1 2001:db8::/32", F_N_ALLOW, 4},
        {"allow 0.0.0.0/0 ::/0", F_N_ALLOW, 2},
        {"address 127.0.0.1:2526 [::1]:2526", F_N_ADDRS, 3},
        {"address 0.0.0.0:2526 [::]:2526", F_N_ADDRS, 3},        /* families do not collide */
        {"address 127.0.0.2:2525 127.0.0.3:2525", F_N_ADDRS, 3}, /* same port, other hosts */
        {"address [::1]:2525", F_N_ADDRS, 2},
        {"address 127.0.0.1:1 127.0.0.1:65535", F_N_ADDRS, 3},
        {"deny 192.0.2.0/24", F_N_DENY, 1},
        {"deny 192.0.2.7 2001:db8::/32\n    deny ::1", F_N_DENY, 3},
        {"deny 0.0.0.0/0", F_N_DENY, 1},
        {"allow 10.0.0.0/8\n    deny 10.1.0.0/16", F_N_DENY, 1},
        {"max-sessions-per-client 1", F_PER_CLIENT, 1},
        {"max-sessions-per-client 1000000", F_PER_CLIENT, 1000000},
        {"max-sessions-per-client off", F_PER_CLIENT, 0},
        {"connection-rate 60/1m", F_CONN_RATE, 60000060},
        {"connection-rate 1/1", F_CONN_RATE, 1000001},
        {"connection-rate 1000000/1d", F_CONN_RATE, 1000000086400},
        {"connection-rate 5/30s", F_CONN_RATE, 5000030},
        {"connection-rate off", F_CONN_RATE, 0},
        {"connection-rate OFF", F_CONN_RATE, 0},
        {"message-rate 100/1h", F_MSG_RATE, 100003600},
        {"message-rate off", F_MSG_RATE, 0},
        {"sender-rate 1000/1h", F_SENDER_RATE, 1000003600},
        {"sender-rate \"2/2m\"", F_SENDER_RATE, 2000120},
        {"limits-exempt 127.0.0.1", F_N_LIMITS_EXEMPT, 1},
        {"limits-exempt 10.0.0.0/8 2001:db8::/48\n    limits-exempt ::1", F_N_LIMITS_EXEMPT, 3},
        {"limits-exempt 0.0.0.0/0 ::/0", F_N_LIMITS_EXEMPT, 2},
        {"limits-exempt ::ffff:10.0.0.0/104", F_N_LIMITS_EXEMPT, 1},
        {"max-sessions 5", F_N_LIMITS_EXEMPT, 0},
        {"proxy-protocol 127.0.0.1", F_N_PROXY_FROM, 1},
        {"proxy-protocol 10.0.0.5 192.0.2.0/28\n    proxy-protocol 2001:db8::/64", F_N_PROXY_FROM,
         3},
        {"proxy-protocol 0.0.0.0/0 ::/0", F_N_PROXY_FROM, 2},
        {"proxy-protocol \"10.0.0.5\"", F_N_PROXY_FROM, 1},
        {"proxy-protocol 10.0.0.5", F_PROXY_LINE, LISTEN_LINE},
        {"proxy-protocol 10.0.0.5\n    proxy-protocol 10.0.0.6", F_PROXY_LINE, LISTEN_LINE},
        {"max-sessions 5", F_N_PROXY_FROM, 0},
        {"max-sessions 5", F_PROXY_LINE, 0},
    };

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        char *t = listen_text(rows[i].stmt);
        struct conf *c = expect_ok(rows[i].stmt, t);

        free(t);
        if (field(&c->listens[0], rows[i].f) != rows[i].want) {
            print_error("row '%s': want %llu, got %llu\n", rows[i].stmt,
                        (unsigned long long)rows[i].want,
                        (unsigned long long)field(&c->listens[0], rows[i].f));
            conf_unref(c);
            fail();
        }
        conf_unref(c);
    }
}

static void
test_listen_errors(void **state)
{
    static const struct {
        const char *stmt;
        const char *phrase;
    } rows[] = {
        {"adress 127.0.0.1:25",
         "unknown key 'adress' in listen block (expected one of: address, allow, tls, auth, "
         "max-message-size, max-recipients, max-errors, max-sessions, timeout-command, "
         "timeout-data, deny, proxy-protocol, max-sessions-per-client, connection-rate, "
         "message-rate, sender-rate, limits-exempt, scanners)"},
        {"Address 127.0.0.1:25", "unknown key 'Address'"},
        {"scanners maybe", "expected scanners refuse or scanners count, found 'maybe'"},
        {"scanners REFUSE", "expected scanners refuse or scanners count, found 'REFUSE'"},
        {"scanners refuse count", "'scanners' takes one value, found 2"},
        {"scanners", "expected a value after 'scanners'"},
        {"hostname x.example", "unknown key 'hostname' in listen block"},
        {"address", "expected a value after 'address'"},
        {"address 127.0.0.1", "expected a port after ':' in '127.0.0.1'"},
        {"address 127.0.0.1:", "expected a port after ':' in '127.0.0.1:'"},
        {"address 127.0.0.1:0", "expected a port from 1 to 65535 after ':' in '127.0.0.1:0'"},
        {"address 127.0.0.1:65536", "expected a port from 1 to 65535"},
        {"address 127.0.0.1:25x", "expected a port from 1 to 65535"},
        {"address 127.0.0.1:-1", "expected a port from 1 to 65535"},
        {"address 127.0.0.1:99999999999999999999999", "expected a port from 1 to 65535"},
        {"address localhost:25", "(names are not looked up)"},
        {"address 1.2.3:25", "expected an IPv4 address or [IPv6 address] before ':'"},
        {"address 256.1.1.1:25", "expected an IPv4 address"},
        {"address 01.2.3.4:25", "expected an IPv4 address"},
        {":25", "unknown key ':25'"},
        {"address :25", "expected an IPv4 address"},
        {"address ::1:25", "an IPv6 address needs brackets"},
        {"address [::1]", "expected a port after ':' in '[::1]'"},
        {"address [::1]25", "expected a port after ':' in '[::1]25'"},
        {"address [::1", "expected ']' after the IPv6 address"},
        {"address [1.2.3.4]:25", "expected an IPv6 address inside [ ]"},
        {"address [fe80::1%eth0]:25", "expected an IPv6 address inside [ ]"},
        {"address []:25", "expected an IPv6 address inside [ ]"},
        {"address 127.0.0.1:2525", "duplicate address 127.0.0.1:2525 (first at line 6)"},
        {"address 127.0.0.1:26 127.0.0.1:26", "duplicate address 127.0.0.1:26 (first at line 7)"},
        {"address [::1]:25 [0:0:0:0:0:0:0:1]:25", "duplicate address [::1]:25 (first at line 7)"},
        {"address 0.0.0.0:2525",
         "address 0.0.0.0:2525 overlaps 127.0.0.1:2525 (line 6): a wildcard address takes port "
         "2525 on every IPv4 address"},
        {"address [::]:26 [::1]:26", "address [::1]:26 overlaps [::]:26 (line 7)"},
        {"address [::1]:26 [::]:26", "address [::]:26 overlaps [::1]:26 (line 7)"},
        {"allow", "expected a value after 'allow'"},
        {"allow 10.0.0.1/8",
         "'10.0.0.1/8' has bits set past its /8 prefix (did you mean 10.0.0.0/8?)"},
        {"allow 192.168.1.0/16", "did you mean 192.168.0.0/16?"},
        {"allow 2001:db8::1/64", "did you mean 2001:db8::/64?"},
        {"allow 10.0.0.0/33", "expected a prefix length from 0 to 32 after '/' in '10.0.0.0/33'"},
        {"allow 2001:db8::/129", "expected a prefix length from 0 to 128"},
        {"allow 10.0.0.0/", "expected a prefix length from 0 to 32"},
        {"allow 10.0.0.0/-1", "expected a prefix length from 0 to 32"},
        {"allow 10.0.0.0/8/8", "expected a prefix length from 0 to 32"},
        {"allow example.com", "expected an IPv4 or IPv6 network such as 10.0.0.0/8"},
        {"allow [::1]", "expected an IPv4 or IPv6 network"},
        {"allow 10.0.0.0/8 10/8", "expected an IPv4 or IPv6 network"},
        {"allow \"\"", "expected an IPv4 or IPv6 network"},
        {"deny", "expected a value after 'deny'"},
        {"deny 10.0.0.1/8", "did you mean 10.0.0.0/8?"},
        {"deny example.com", "expected an IPv4 or IPv6 network"},
        {"deny 10.0.0.0/33", "expected a prefix length from 0 to 32"},
        {"limits-exempt", "expected a value after 'limits-exempt'"},
        {"limits-exempt 10.0.0.1/8", "did you mean 10.0.0.0/8?"},
        {"limits-exempt 2001:db8::1/64", "did you mean 2001:db8::/64?"},
        {"limits-exempt monitoring.example", "expected an IPv4 or IPv6 network"},
        {"limits-exempt 10.0.0.0/33", "expected a prefix length from 0 to 32"},
        {"limits-exempt ::/129", "expected a prefix length from 0 to 128"},
        {"limits-exempt \"\"", "expected an IPv4 or IPv6 network"},
        {"limits-exempt 10.0.0.0/8 off", "expected an IPv4 or IPv6 network"},
        {"proxy-protocol", "expected a value after 'proxy-protocol'"},
        {"proxy-protocol 10.0.0.1/8", "'10.0.0.1/8' has bits set past its /8 prefix (did you "
                                      "mean 10.0.0.0/8?)"},
        {"proxy-protocol 2001:db8::1/64", "did you mean 2001:db8::/64?"},
        {"proxy-protocol lb.example", "expected an IPv4 or IPv6 network such as 10.0.0.0/8"},
        {"proxy-protocol 10.0.0.0/33", "expected a prefix length from 0 to 32"},
        {"proxy-protocol ::/129", "expected a prefix length from 0 to 128"},
        {"proxy-protocol 10.0.0.5:25", "expected an IPv4 or IPv6 network"},
        {"proxy-protocol [::1]", "expected an IPv4 or IPv6 network"},
        {"proxy-protocol 256.0.0.1", "expected an IPv4 or IPv6 network"},
        {"proxy-protocol \"\"", "expected an IPv4 or IPv6 network"},
        {"proxy-protocol 10.0.0.5 on", "expected an IPv4 or IPv6 network"},
        {"proxy-protocol 10.0.0.5\n    proxy-protocol off", "expected an IPv4 or IPv6 network"},
        {"proxy-protocol 10.0.0.5 {", "'proxy-protocol' opens a block inside block 'listen'"},
        {"max-sessions-per-client 0", "expected a number from 1 to 1000000, found '0'"},
        {"max-sessions-per-client 1000001", "expected a number from 1 to 1000000"},
        {"max-sessions-per-client -1", "expected a number from 1 to 1000000"},
        {"max-sessions-per-client none", "expected a number from 1 to 1000000, found 'none'"},
        {"max-sessions-per-client 5\n    max-sessions-per-client 6",
         "duplicate key 'max-sessions-per-client' (first at line 7)"},
        {"connection-rate 60", "expected a rate such as 60/1m (a count, '/', a duration) or off, "
                               "found '60'"},
        {"connection-rate 60 /1m", "'connection-rate' takes one value, found 2"},
        {"connection-rate /1m", "expected a count from 1 to 1000000 before '/' in rate '/1m'"},
        {"connection-rate 0/1m", "expected a count from 1 to 1000000 before '/'"},
        {"connection-rate 1000001/1m", "expected a count from 1 to 1000000 before '/'"},
        {"connection-rate -5/1m", "expected a count from 1 to 1000000 before '/'"},
        {"connection-rate 99999999999999999999999/1m", "expected a count from 1 to 1000000"},
        {"connection-rate 60/", "expected a duration from 1s to 1d (digits with one optional unit "
                                "s, m, h or d, as in 30s, 5m, 2h), found '' after '/' in rate "
                                "'60/'"},
        {"connection-rate 60/0", "duration '0' is out of range (from 1s to 1d) after '/' in rate"},
        {"connection-rate 60/2d", "out of range (from 1s to 1d) after '/' in rate '60/2d'"},
        {"connection-rate 60/1m/1m", "expected a duration from 1s to 1d"},
        {"connection-rate 60/1w", "expected a duration"},
        {"connection-rate 60/m", "expected a duration"},
        {"connection-rate 60//1m", "expected a duration"},
        {"connection-rate 6\xc3\xa9"
         "0/1m",
         "before '/' in rate '6\\xc3\\xa90/1m'"},
        {"connection-rate offf", "expected a rate such as 60/1m"},
        {"message-rate", "expected a value after 'message-rate'"},
        {"message-rate 1/1s 2/2s", "'message-rate' takes one value, found 2"},
        {"sender-rate 10/", "after '/' in rate '10/'"},
        {"sender-rate 10", "expected a rate such as 60/1m"},
        {"tls", "expected a value after 'tls'"},
        {"tls startls", "expected tls none, tls starttls, tls starttls required or tls implicit"},
        {"tls starttls optional", "expected tls none, tls starttls"},
        {"tls required", "expected tls none, tls starttls"},
        {"tls STARTTLS", "expected tls none, tls starttls"},
        {"tls none required", "expected tls none, tls starttls"},
        {"tls starttls required now", "'tls' takes at most 2 values, found 3"},
        {"tls none\n    tls none", "duplicate key 'tls' (first at line 7)"},
        {"auth", "expected a value after 'auth'"},
        {"auth maybe", "expected auth required or auth none, found 'maybe'"},
        {"auth required please", "'auth' takes one value, found 2"},
        {"auth required",
         "auth required on listen inbound would refuse mail from every sender on the Internet "
         "(530 5.7.0): remove it (users log in on the submission doors)"},
        {"max-message-size 1023", "size '1023' is out of range (from 1K to 2G)"},
        {"max-message-size 2049M", "out of range (from 1K to 2G)"},
        {"max-message-size 2147483649", "out of range"},
        {"max-message-size 3G", "out of range"},
        {"max-message-size 0", "out of range"},
        {"max-message-size 99999999999999999999G", "out of range"},
        {"max-message-size 10MB", "expected a size from 1K to 2G (digits with an optional K, M or "
                                  "G), found '10MB'"},
        {"max-message-size K", "expected a size"},
        {"max-message-size 1.5M", "expected a size"},
        {"max-message-size -1", "expected a size"},
        {"max-message-size \" 10M\"", "expected a size"},
        {"max-message-size 10M 20M", "'max-message-size' takes one value, found 2"},
        {"max-recipients 0", "expected a number from 1 to 100000, found '0'"},
        {"max-recipients 100001", "expected a number from 1 to 100000"},
        {"max-recipients ten", "expected a number from 1 to 100000, found 'ten'"},
        {"max-recipients +5", "expected a number from 1 to 100000"},
        {"max-errors 0", "expected a number from 1 to 1000"},
        {"max-errors 1001", "expected a number from 1 to 1000"},
        {"max-sessions 0", "expected a number from 1 to 1000000"},
        {"max-sessions 1000001", "expected a number from 1 to 1000000"},
        {"timeout-command 0", "duration '0' is out of range (from 1s to 1d)"},
        {"timeout-command 0s", "out of range (from 1s to 1d)"},
        {"timeout-command 2d", "out of range"},
        {"timeout-command 86401", "out of range"},
        {"timeout-command 99999999999999999999d", "out of range"},
        {"timeout-command 1h30m", "expected a duration from 1s to 1d (digits with one optional "
                                  "unit s, m, h or d, as in 30s, 5m, 2h), found '1h30m'"},
        {"timeout-command 5M", "expected a duration"},
        {"timeout-command 5min", "expected a duration"},
        {"timeout-command m", "expected a duration"},
        {"timeout-command \"5 m\"", "expected a duration"},
        {"timeout-command 5 m", "'timeout-command' takes one value, found 2"},
        {"timeout-data 0", "out of range"},
        {"timeout-data 1w", "expected a duration"},
        {"max-errors 5\n    max-errors 6", "duplicate key 'max-errors' (first at line 7)"},
        {"tls {", "'tls' opens a block inside block 'listen' opened at line 5"},
        {"domain example.org {", "blocks do not nest (is a '}' missing?)"},
        {"address 127.0.0.1:25 }", "'}' must be on a line of its own"},
        {"address { 127.0.0.1:25", "expected the end of the line after '{'"},
    };

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        char *t = listen_text(rows[i].stmt);
        unsigned line = LISTEN_LINE + (strchr(rows[i].stmt, '\n') != NULL);

        expect_error(rows[i].stmt, t, line, rows[i].phrase);
        free(t);
    }
}

/* ---- Errors anywhere in the file ---- */

struct err_row {
    const char *name;
    const char *text;
    unsigned line;
    const char *phrase;
};

static const struct err_row file_errors[] = {
    /* lexer */
    {"unterminated", "hostname \"mx.example.com\n" MIN, 1,
     "unterminated string (missing closing '\"')"},
    {"hash in string", "# a comment\n\nspool \"/a#b\n" MIN, 3, "unterminated string"},
    {"escaped quote at end", "spool \"/a\\\"\n" MIN, 1, "unterminated string"},
    {"bad escape", "spool \"/a\\qb\"\n" MIN, 1,
     "unknown escape in string (only \\\" and \\\\ are escapes)"},
    {"escape n", "spool \"/a\\n\"\n" MIN, 1, "unknown escape"},
    {"quote in word", "spool /a\"b\"\n" MIN, 1, "unexpected '\"' inside a word"},
    {"word after string", "spool \"/a\"b\n" MIN, 1, "expected a space after the closing '\"'"},
    {"strings touch", "spool \"/a\"\"b\"\n" MIN, 1, "expected a space after the closing"},
    {"control char",
     "hostname a\x01"
     "b\n" MIN,
     1, "control character 0x01 in the file"},
    {"bare CR", "hostname a\rb\n" MIN, 1, "control character 0x0d"},
    {"CR CR LF", "hostname a\r\r\n" MIN, 1, "control character 0x0d"},
    {"form feed", MIN "\f\n", 6, "control character 0x0c"},
    {"escape char", "# \x1b[31m red\n" MIN, 1, "control character 0x1b"},
    {"DEL", "user gate\x7f\n" MIN, 1, "control character 0x7f"},
    {"ctl in string", "spool \"/a\x02\"\n" MIN, 1, "control character 0x02"},
    {"BOM", "\xef\xbb\xbfhostname x.example\n" MIN, 1, "byte order mark"},
    /* structure */
    {"stray close", "}\n" MIN, 1, "unexpected '}': no block is open"},
    {"stray open", "{\n" MIN, 1, "unexpected '{': it belongs at the end of the line"},
    {"brace next line", "listen inbound\n{\n", 1,
     "'listen' opens a block: expected '{' at the end of the line"},
    {"tls as key", "tls starttls\n" MIN, 1, "'tls' opens a block"},
    {"quoted key", "\"hostname\" x.example\n" MIN, 1, "expected a key, found a quoted string"},
    {"one-line block", "listen inbound { address 127.0.0.1:25 }\n", 1,
     "expected the end of the line after '{' (each statement goes on a line of its own)"},
    {"close after value", "listen inbound {\n address 127.0.0.1:25 }\n", 2,
     "'}' must be on a line of its own"},
    {"words after close", "listen inbound {\n address 127.0.0.1:25\n} domain\n", 3,
     "'}' must be on a line of its own"},
    {"close open", "listen inbound {\n address 127.0.0.1:25\n} {\n", 3,
     "'}' must be on a line of its own"},
    {"missing close", "listen inbound {\n    address 127.0.0.1:25\n", 2,
     "missing '}' for block 'listen' opened at line 1"},
    {"missing close, blank lines", "domain a.example {\n\n# end\n\n", 4,
     "missing '}' for block 'domain' opened at line 1"},
    {"missing close, no newline", MIN "delivery {\n  retry 1m", 7,
     "missing '}' for block 'delivery' opened at line 6"},
    {"nested", "listen inbound {\n address 127.0.0.1:25\ndomain example.com {\n}\n}\n", 3,
     "'domain' opens a block inside block 'listen' opened at line 1; blocks do not nest"},
    {"key as block", "hostname x.example {\n}\n" MIN, 1,
     "'hostname' is a key, not a block (remove the '{')"},
    {"unknown block", "frobnicate {\n}\n" MIN, 1,
     "unknown block 'frobnicate' (expected one of: tls, listen, domain, auth, delivery, "
     "metrics, alert, watch, checks, dkim, quarantine, tracking, console, local-submit)"},
    {"unknown block with label", "route x {\n}\n" MIN, 1, "unknown block 'route'"},
    {"unknown key", "adress 1\n" MIN, 1,
     "unknown key 'adress' at top level (expected one of: hostname, spool, user, log-level, "
     "max-sessions, resolver, callout-timeout, tls, listen, domain, auth, delivery, metrics, "
     "alert, watch, checks, dkim, quarantine, tracking, console, local-submit)"},
    {"key case", "Hostname x.example\n" MIN, 1, "unknown key 'Hostname' at top level"},
    {"key escaped", "host\xc3\xa9 x\n" MIN, 1, "unknown key 'host\\xc3\\xa9' at top level"},
    {"relay at top", "relay smtp://x.example\n" MIN, 1, "unknown key 'relay' at top level"},
    {"duplicate key", "hostname a.example\n\nhostname b.example\n" MIN, 3,
     "duplicate key 'hostname' (first at line 1)"},
    {"duplicate spool", "spool /a\nspool /a\n" MIN, 2, "duplicate key 'spool' (first at line 1)"},
    {"duplicate max-sessions", MIN "max-sessions 1\nmax-sessions 1\n", 7,
     "duplicate key 'max-sessions' (first at line 6)"},
    {"no value", "hostname\n" MIN, 1, "expected a value after 'hostname'"},
    {"two values", "spool /var/my spool\n" MIN, 1,
     "'spool' takes one value, found 2 (quote a path that has spaces)"},
    /* a hint only where it helps (test_one_value_hints checks where there is none) */
    {"duration as two words", MIN "delivery {\n    give-up 10 min\n}\n", 7,
     "'give-up' takes one value, found 2 (a duration is one word, as in 10m)"},
    {"size as two words",
     "listen inbound {\n    address 127.0.0.1:2525\n    max-message-size 10 MB\n}\n" MIN_DOMAIN, 3,
     "'max-message-size' takes one value, found 2 (a size is one word, as in 10M)"},
    {"rate with spaces",
     "listen inbound {\n    address 127.0.0.1:2525\n    connection-rate 60 / 1m\n}\n" MIN_DOMAIN, 3,
     "'connection-rate' takes one value, found 3 (a rate is one word, as in 60/1m)"},
    {"passwd path with a space", MIN "auth {\n    passwd /etc/my passwd\n}\n", 7,
     "'passwd' takes one value, found 2 (quote a path that has spaces)"},
    /* doors that need AUTH need an auth block */
    {"submission without auth block",
     TLS_BLOCK "\nlisten submission {\n    address 127.0.0.1:587\n}\n", 6,
     "listen submission requires AUTH (its default), which needs an auth { passwd FILE } "
     "block: without one no user can log in and the door accepts no mail"},
    {"submissions without auth block",
     TLS_BLOCK "listen submissions {\n    address 127.0.0.1:465\n}\n", 5,
     "listen submissions requires AUTH (its default)"},
    {"internal auth required without auth block",
     "listen internal {\n    address 127.0.0.1:26\n    allow 127.0.0.1\n    auth required\n}\n", 1,
     "listen internal requires AUTH (auth required), which needs an auth { passwd FILE } block"},
    /* block labels */
    {"listen no role", "listen {\n", 1,
     "expected a role (one of: inbound, internal, submission, submissions) after 'listen'"},
    {"listen bad role", "listen outbound {\n", 1,
     "unknown listen role 'outbound' (expected one of: inbound, internal, submission, "
     "submissions)"},
    {"listen role case", "listen Inbound {\n", 1, "unknown listen role 'Inbound'"},
    {"listen two labels", "listen inbound extra {\n", 1,
     "expected '{' after 'listen inbound', found 'extra'"},
    {"tls label", "tls main {\n", 1, "expected '{' after 'tls', found 'main' (tls takes no label)"},
    {"delivery label", "delivery x {}\n", 1, "(delivery takes no label)"},
    {"domain no name", "domain {\n", 1, "expected a domain name after 'domain'"},
    {"empty domain on one line needs name", "domain {}\n", 1, "expected a domain name"},
    /* duplicate blocks */
    {"listen twice", MIN "listen inbound {\n", 6,
     "duplicate block 'listen inbound' (first at line 1)"},
    {"tls twice", TLS_BLOCK TLS_BLOCK MIN, 5, "duplicate block 'tls' (first at line 1)"},
    {"auth twice", "auth {\n passwd /p\n}\nauth {\n passwd /p\n}\n" MIN, 4,
     "duplicate block 'auth' (first at line 1)"},
    {"delivery twice", "delivery {}\ndelivery {}\n" MIN, 2,
     "duplicate block 'delivery' (first at line 1)"},
    {"domain twice", MIN "domain Example.COM. {\n}\n", 6,
     "duplicate domain 'example.com' (first at line 4)"},
    {"domain twice, one line",
     "domain a.example {}\ndomain b.example {}\ndomain a.example {}\n" MIN, 3,
     "duplicate domain 'a.example' (first at line 1)"},
    /* top-level values */
    {"hostname hyphen", "hostname -bad.example\n" MIN, 1,
     "a label may not start or end with '-' in domain name '-bad.example'"},
    {"hostname hyphen end", "hostname bad-.example\n" MIN, 1, "may not start or end with '-'"},
    {"hostname empty label", "hostname a..example\n" MIN, 1,
     "empty label in domain name 'a..example'"},
    {"hostname leading dot", "hostname .example\n" MIN, 1, "empty label"},
    {"hostname two dots", "hostname example..\n" MIN, 1, "empty label"},
    {"hostname underscore", "hostname a_b.example\n" MIN, 1,
     "unexpected character '_' in domain name 'a_b.example'"},
    {"hostname utf8",
     "hostname b\xc3\xbc"
     "cher.example\n" MIN,
     1, "unexpected character '\\xc3' in domain name 'b\\xc3\\xbccher.example'"},
    {"hostname label 64",
     "hostname aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example\n" MIN, 1,
     "a label is longer than 63 octets"},
    {"hostname address", "hostname 10.0.0.5\n" MIN, 1,
     "'10.0.0.5' is not a domain name (its last label is all digits)"},
    {"hostname dot", "hostname .\n" MIN, 1, "expected a domain name, found '.'"},
    {"hostname empty", "hostname \"\"\n" MIN, 1, "expected a domain name, found ''"},
    {"hostname space", "hostname \"a b\"\n" MIN, 1, "unexpected character ' '"},
    {"spool empty", "spool \"\"\n" MIN, 1, "expected a path, found an empty string"},
    {"user upper", "user Gate26\n" MIN, 1,
     "expected a user name of 1 to 63 characters from a-z, 0-9, '_', '-' and '.', found "
     "'Gate26'"},
    {"user empty", "user \"\"\n" MIN, 1, "expected a user name"},
    {"user slash", "user ../root\n" MIN, 1, "expected a user name"},
    {"user 64", "user aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n" MIN, 1,
     "expected a user name"},
    {"log-level", "log-level verbose\n" MIN, 1,
     "unknown log-level 'verbose' (expected one of: debug, info, warning, error)"},
    {"log-level case", "log-level INFO\n" MIN, 1, "unknown log-level 'INFO'"},
    {"log-level prefix", "log-level inf\n" MIN, 1, "unknown log-level 'inf'"},
    {"max-sessions 0", "max-sessions 0\n" MIN, 1, "expected a number from 1 to 1000000, found '0'"},
    {"max-sessions big", "max-sessions 1000001\n" MIN, 1, "expected a number from 1 to 1000000"},
    {"max-sessions huge", "max-sessions 184467440737095516160\n" MIN, 1,
     "expected a number from 1 to 1000000"},
    {"max-sessions sci", "max-sessions 1e3\n" MIN, 1, "found '1e3'"},
    {"max-sessions neg", "max-sessions -5\n" MIN, 1, "found '-5'"},
    /* tls */
    {"tls no key", "tls {\n    cert @DIR@/cert.pem\n}\n" MIN, 1, "tls block needs 'key FILE'"},
    {"tls no cert", "tls {\n    key @DIR@/key.pem\n}\n" MIN, 2,
     "expected 'cert FILE' before 'key' (each cert is followed by its key)"},
    {"tls empty", "tls {}\n" MIN, 1,
     "tls block needs 'cert FILE' and 'key FILE' (or 'ca-file FILE' for outgoing mail alone)"},
    {"tls missing cert", "tls {\n    cert @DIR@/nonexistent.pem\n", 2,
     "cannot read certificate '@DIR@/nonexistent.pem': No such file or directory"},
    {"tls missing key", "tls {\n    cert @DIR@/cert.pem\n    key nokey.pem\n", 3,
     "cannot read key '@DIR@/nokey.pem': No such file or directory"},
    {"tls key is dir", "tls {\n cert @DIR@/cert.pem\n key @DIR@\n", 3,
     "cannot read key '@DIR@': Is a directory"},
    {"tls cert twice", "tls {\n cert @DIR@/cert.pem\n cert @DIR@/cert.pem\n", 3,
     "expected 'key FILE' for the cert at line 2 before another 'cert' (each cert is followed "
     "by its key)"},
    {"tls unknown", "tls {\n    certificate x\n", 2,
     "unknown key 'certificate' in tls block (expected one of: cert, key, ca-file, ciphers)"},
    {"tls key first", "tls {\n key @DIR@/key.pem\n cert @DIR@/cert.pem\n", 2,
     "expected 'cert FILE' before 'key'"},
    {"tls key twice", "tls {\n cert @DIR@/cert.pem\n key @DIR@/key.pem\n key @DIR@/key.pem\n", 4,
     "expected 'cert FILE' before 'key'"},
    {"tls second pair no key",
     "tls {\n cert @DIR@/cert.pem\n key @DIR@/key.pem\n cert @DIR@/cert2.pem\n}\n" MIN, 1,
     "tls block needs 'key FILE' after the cert at line 4"},
    {"tls second cert twice",
     "tls {\n cert @DIR@/cert.pem\n key @DIR@/key.pem\n cert @DIR@/cert2.pem\n"
     " cert @DIR@/cert.pem\n",
     5, "expected 'key FILE' for the cert at line 4"},
    {"tls same cert two pairs",
     "tls {\n cert @DIR@/cert.pem\n key @DIR@/key.pem\n cert @DIR@/cert2.pem\n"
     " key @DIR@/key2.pem\n cert cert.pem\n",
     6, "duplicate certificate '@DIR@/cert.pem' (first at line 2)"},
    {"tls second cert missing",
     "tls {\n cert @DIR@/cert.pem\n key @DIR@/key.pem\n cert @DIR@/nope.pem\n", 4,
     "cannot read certificate '@DIR@/nope.pem': No such file or directory"},
    {"tls key two values", "tls {\n cert @DIR@/cert.pem\n key @DIR@/key.pem @DIR@/key2.pem\n", 3,
     "'key' takes one value, found 2"},
    {"tls ca-file missing", "tls {\n ca-file @DIR@/nope.pem\n", 2,
     "cannot read CA file '@DIR@/nope.pem': No such file or directory"},
    {"tls ca-file dir", "tls {\n ca-file @DIR@\n", 2,
     "cannot read CA file '@DIR@': Is a directory"},
    {"tls ca-file twice", "tls {\n ca-file @DIR@/ca.pem\n ca-file @DIR@/ca.pem\n", 3,
     "duplicate key 'ca-file' (first at line 2)"},
    {"tls ca-file empty", "tls {\n ca-file \"\"\n", 2, "expected a path"},
    {"tls ciphers space", "tls {\n ciphers \"ECDHE-RSA-AES128-GCM-SHA256 HIGH\"\n", 2,
     "unexpected character ' ' in cipher list (expected names joined by ':'"},
    {"tls ciphers quote", "tls {\n ciphers HIGH;rm\n", 2, "unexpected character ';'"},
    {"tls ciphers utf8", "tls {\n ciphers HIGH:\xc3\xa9\n", 2, "unexpected character '\\xc3'"},
    {"tls ciphers empty", "tls {\n ciphers \"\"\n", 2,
     "expected a cipher list of 1 to 511 characters"},
    {"tls ciphers twice", "tls {\n ciphers HIGH\n ciphers HIGH\n", 3,
     "duplicate key 'ciphers' (first at line 2)"},
    {"tls protocols", "tls {\n protocols TLSv1.3\n", 2, "unknown key 'protocols' in tls block"},
    /* listen rules */
    {"listen no address", "listen inbound {\n}\n" MIN_DOMAIN, 1,
     "listen inbound needs at least one address (address IP:PORT)"},
    {"listen empty block", "listen submission {}\n", 1, "listen submission needs at least one"},
    {"internal no allow", "listen internal {\n    address 127.0.0.1:26\n}\n", 1,
     "listen internal needs an allow list: which of our servers may use port 26?"},
    {"submissions starttls", TLS_BLOCK "listen submissions {\n  tls starttls required\n", 6,
     "listen submissions must use tls implicit (RFC 8314"},
    {"submission none", TLS_BLOCK "listen submission {\n  tls none\n", 6,
     "listen submission needs tls starttls required or tls implicit"},
    {"submission starttls", TLS_BLOCK "listen submission {\n  tls starttls\n", 6,
     "passwords must never travel in clear"},
    {"submission auth none", TLS_BLOCK "listen submission {\n  auth none\n", 6,
     "auth none on listen submission would make an open relay"},
    {"submissions auth none", TLS_BLOCK "listen submissions {\n  auth none\n", 6,
     "auth none on listen submissions would make an open relay"},
    {"starttls no tls block",
     "listen inbound {\n address 127.0.0.1:25\n tls starttls\n}\n" MIN_DOMAIN, 1,
     "tls starttls needs a tls { cert ... key ... } block"},
    {"implicit no tls block",
     MIN_DOMAIN "listen internal {\n address 127.0.0.1:25\n allow 10.0.0.0/8\n tls implicit\n}\n",
     3, "tls implicit needs a tls { cert ... key ... } block"},
    {"submission default no tls block", MIN "listen submission {\n address 127.0.0.1:587\n}\n", 6,
     "listen submission uses tls starttls required (its default), which needs a tls"},
    {"submissions default no tls block", MIN "listen submissions {\n address 127.0.0.1:465\n}\n", 6,
     "listen submissions uses tls implicit (its default)"},
    {"same address two listens",
     MIN "listen internal {\n  allow 10.0.0.0/8\n  address 127.0.0.1:2525\n}\n", 8,
     "duplicate address 127.0.0.1:2525 (first at line 2)"},
    {"wildcard two listens",
     "listen inbound {\n address 0.0.0.0:25\n}\nlisten submission {\n address 10.1.1.1:25\n", 5,
     "address 10.1.1.1:25 overlaps 0.0.0.0:25 (line 2): a wildcard address takes port 25 on "
     "every IPv4 address"},
    {"wildcard second",
     "listen inbound {\n address 10.1.1.1:25\n}\nlisten submission {\n address 0.0.0.0:25\n", 5,
     "address 0.0.0.0:25 overlaps 10.1.1.1:25 (line 2)"},
    {"v6 wildcard",
     "listen inbound {\n address [::]:25\n}\nlisten submission {\n address [2001:db8::1]:25\n", 5,
     "every IPv6 address"},
    {"no listen", "hostname mx.example\n", 1, "no listen block: gate26 would accept no mail"},
    {"no listen, comments", "# one\n\n# three\n", 3, "no listen block"},
    {"no listen, domain only", MIN_DOMAIN, 2, "no listen block"},
    {"inbound no domain", "hostname mx.example\n" MIN_LISTEN, 2,
     "listen inbound needs at least one domain block: which domains do we accept mail for?"},
    /* domain and relay */
    {"domain bad", "domain exa_mple.com {\n", 1, "unexpected character '_'"},
    {"domain address", "domain 192.168.0.1 {\n", 1, "is not a domain name"},
    {"domain unknown key", "domain a.example {\n route smtp://x.example\n", 2,
     "unknown key 'route' in domain block (expected one of: relay, tls, relay-auth, "
     "verify-recipients)"},
    {"domain tls word", "domain a.example {\n tls required\n", 2,
     "expected tls none, tls may, tls encrypt or tls verify, found 'required'"},
    {"domain tls case", "domain a.example {\n tls VERIFY\n", 2, "found 'VERIFY'"},
    {"domain tls prefix", "domain a.example {\n tls ver\n", 2, "found 'ver'"},
    {"domain tls starttls", "domain a.example {\n tls starttls\n", 2, "found 'starttls'"},
    {"domain tls two", "domain a.example {\n tls verify may\n", 2,
     "'tls' takes one value, found 2"},
    {"domain tls twice", "domain a.example {\n tls may\n tls verify\n", 3,
     "duplicate key 'tls' (first at line 2)"},
    {"domain tls empty", "domain a.example {\n tls \"\"\n", 2, "found ''"},
    {"domain tls nul-ish", "domain a.example {\n tls \"may\\\\\"\n", 2, "found 'may\\'"},
    {"relay twice", "domain a.example {\n relay smtp://x.example\n relay smtp://x.example\n", 3,
     "duplicate key 'relay' (first at line 2)"},
    {"relay scheme", "domain a.example {\n relay http://x.example\n", 2,
     "'http://x.example' is a web address: a relay URL starts with smtp://"},
    {"relay bare host", "domain a.example {\n relay x.example\n", 2,
     "expected smtp://HOST[:PORT] (or smtp://[HOST]:PORT for no MX lookup), found 'x.example'"},
    {"relay no host", "domain a.example {\n relay smtp://\n", 2, "no host in 'smtp://'"},
    {"relay v6 bare", "domain a.example {\n relay smtp://2001:db8::1\n", 2,
     "an IPv6 address needs brackets, as in smtp://[2001:db8::1]:25"},
    {"relay port 0", "domain a.example {\n relay smtp://x.example:0\n", 2,
     "expected a port from 1 to 65535 after ':' in 'smtp://x.example:0', found '0'"},
    {"relay path", "domain a.example {\n relay smtp://x.example:25/\n", 2,
     "a relay URL has no path or query: '/' follows the host and port"},
    {"relay userinfo", "domain a.example {\n relay smtp://u:secret@x.example\n", 2,
     "put credentials in relay-auth FILE, not in the URL"},
    {"relay bad name", "domain a.example {\n relay smtp://[bad_name]:25\n", 2,
     "unexpected character '_'"},
    {"relay nine",
     "domain a.example {\n relay smtp://a1.example smtp://a2.example smtp://a3.example "
     "smtp://a4.example smtp://a5.example smtp://a6.example smtp://a7.example smtp://a8.example "
     "smtp://a9.example\n",
     2, "'relay' takes at most 8 values, found 9"},
    {"relay same twice", "domain a.example {\n relay smtp://a.example:25 SMTP://A.example\n", 2,
     "relay URL 'SMTP://A.example' is given twice on the line"},
    {"relay second bad", "domain a.example {\n relay smtp://a.example a.example:587\n", 2,
     "found 'a.example:587'"},
    {"relay-auth without relay", "domain a.example {\n relay-auth /nonexistent\n", 2,
     "cannot read relay-auth file '/nonexistent': No such file or directory"},
    /* auth and delivery */
    {"auth no passwd", "auth {\n}\n" MIN, 1, "auth block needs 'passwd FILE'"},
    {"auth bad key", "auth {\n  password /x\n", 2,
     "unknown key 'password' in auth block (expected one of: passwd, max-failures, lockout, "
     "user-rate, sender, lockout-exempt, app-passwords)"},
    {"app-passwords bad", "auth {\n passwd /p\n app-passwords always\n}\n" MIN, 3,
     "expected app-passwords off, required or totp-users, found 'always'"},
    {"app-passwords empty", "auth {\n passwd /p\n app-passwords \"\"\n}\n" MIN, 3,
     "expected app-passwords off, required or totp-users, found ''"},
    {"app-passwords two", "auth {\n passwd /p\n app-passwords required totp-users\n}\n" MIN, 3,
     "one word: off, required or totp-users"},
    {"app-passwords outside", "app-passwords required\n" MIN, 1, "app-passwords"},
    {"sender no address", "auth {\n passwd /p\n sender bob\n}\n" MIN, 3,
     "sender bob needs at least one address or @domain"},
    {"sender bad user", "auth {\n passwd /p\n sender a:b x@y\n}\n" MIN, 3,
     "expected a user name (no ':', spaces or controls), found 'a:b'"},
    {"sender no at", "auth {\n passwd /p\n sender bob example.com\n}\n" MIN, 3,
     "expected an address (local@domain) or @domain, found 'example.com'"},
    {"sender two ats", "auth {\n passwd /p\n sender bob a@b@c\n}\n" MIN, 3,
     "expected an address (local@domain) or @domain, found 'a@b@c'"},
    {"sender at end", "auth {\n passwd /p\n sender bob bob@\n}\n" MIN, 3,
     "expected an address (local@domain) or @domain, found 'bob@'"},
    {"auth max-failures off", "auth {\n passwd /p\n max-failures off\n}\n" MIN, 3,
     "max-failures cannot be off: it is what stops password guessing (found 'off')"},
    {"auth max-failures bare", "auth {\n passwd /p\n max-failures 5\n}\n" MIN, 3,
     "expected a rate such as 60/1m"},
    {"auth max-failures 0", "auth {\n passwd /p\n max-failures 0/10m\n}\n" MIN, 3,
     "expected a count from 1 to 1000 before '/'"},
    {"auth max-failures 1001", "auth {\n passwd /p\n max-failures 1001/10m\n}\n" MIN, 3,
     "expected a count from 1 to 1000 before '/'"},
    {"auth lockout 0", "auth {\n passwd /p\n lockout 0\n}\n" MIN, 3,
     "duration '0' is out of range (from 1s to 1d)"},
    {"auth lockout 2d", "auth {\n passwd /p\n lockout 2d\n}\n" MIN, 3, "out of range"},
    {"auth lockout off", "auth {\n passwd /p\n lockout off\n}\n" MIN, 3, "expected a duration"},
    {"auth user-rate", "auth {\n passwd /p\n user-rate 5\n}\n" MIN, 3,
     "expected a rate such as 60/1m"},
    {"auth lockout twice", "auth {\n passwd /p\n lockout 1m\n lockout 2m\n}\n" MIN, 4,
     "duplicate key 'lockout' (first at line 3)"},
    {"auth passwd empty", "auth {\n  passwd \"\"\n", 2, "expected a path"},
    {"lockout-exempt empty", "auth {\n passwd /p\n lockout-exempt\n}\n" MIN, 3,
     "expected a value after 'lockout-exempt'"},
    {"lockout-exempt bits past prefix", "auth {\n passwd /p\n lockout-exempt 192.0.2.1/24\n}\n" MIN,
     3, "'192.0.2.1/24' has bits set past its /24 prefix (did you mean 192.0.2.0/24?)"},
    {"lockout-exempt v6 bits", "auth {\n passwd /p\n lockout-exempt 2001:db8::1/64\n}\n" MIN, 3,
     "did you mean 2001:db8::/64?"},
    {"lockout-exempt name", "auth {\n passwd /p\n lockout-exempt webmail.example\n}\n" MIN, 3,
     "expected an IPv4 or IPv6 network"},
    {"lockout-exempt prefix", "auth {\n passwd /p\n lockout-exempt 10.0.0.0/40\n}\n" MIN, 3,
     "expected a prefix length from 0 to 32"},
    {"lockout-exempt quoted empty", "auth {\n passwd /p\n lockout-exempt \"\"\n}\n" MIN, 3,
     "expected an IPv4 or IPv6 network"},
    {"lockout-exempt second line bad",
     "auth {\n passwd /p\n lockout-exempt 10.0.0.0/8\n lockout-exempt ::1 x\n}\n" MIN, 4,
     "expected an IPv4 or IPv6 network"},
    {"retry zero", "delivery {\n retry 0\n", 2, "duration '0' is out of range (from 1s to 1d)"},
    {"retry 2d", "delivery {\n retry 5m 2d\n", 2, "duration '2d' is out of range"},
    {"retry word", "delivery {\n retry often\n", 2, "expected a duration"},
    {"retry 33",
     "delivery {\n retry 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 "
     "27 28 29 30 31 32 33\n",
     2, "'retry' takes at most 32 values, found 33"},
    {"retry twice", "delivery {\n retry 1m\n retry 2m\n", 3, "duplicate key 'retry'"},
    {"give-up 31d", "delivery {\n give-up 31d\n", 2, "out of range (from 1s to 30d)"},
    {"give-up words", "delivery {\n give-up 5 days\n", 2, "'give-up' takes one value, found 2"},
    {"delivery unknown", "delivery {\n  bounce 5d\n", 2,
     "unknown key 'bounce' in delivery block (expected one of: retry, give-up, delay-warning, "
     "relay-host, max-deliveries, max-per-destination, timeout-connect, timeout-command, "
     "timeout-data, queue-only, connection-reuse, tls, tls-policy, relay-auth)"},
    {"delivery tls word", "delivery {\n tls opportunistic\n", 2,
     "expected tls none, tls may, tls encrypt or tls verify, found 'opportunistic'"},
    {"delivery tls twice", "delivery {\n tls none\n tls may\n", 3, "duplicate key 'tls'"},
    {"delivery tls long",
     "delivery {\n tls "
     "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
     "\n",
     2,
     "found 'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv...'"},
    {"queue-only maybe", "delivery {\n queue-only maybe\n", 2, "expected yes or no, found 'maybe'"},
    {"delay-warning word", "delivery {\n delay-warning never\n", 2, "expected a duration"},
    {"delay-warning 0", "delivery {\n delay-warning 0\n", 2, "out of range (from 1s to 30d)"},
    {"connection-reuse 1h", "delivery {\n connection-reuse 1h\n", 2,
     "out of range (from 1s to 5m)"},
    {"connection-reuse no", "delivery {\n connection-reuse no\n", 2, "expected a duration"},
    {"relay-host scheme", "delivery {\n relay-host lmtp://x.example\n", 2,
     "unknown scheme 'lmtp://' in 'lmtp://x.example' (expected smtp:// or smtps://)"},
    {"relay-host bare", "delivery {\n relay-host mail.isp.example:587\n", 2,
     "expected smtp://HOST[:PORT] (or smtp://[HOST]:PORT for no MX lookup), found "
     "'mail.isp.example:587'"},
    {"relay-host credentials", "delivery {\n relay-host smtp://me:pa55@[mail.isp.example]:587\n", 2,
     "put credentials in relay-auth FILE, not in the URL"},
    {"relay-host twice", "delivery {\n relay-host smtp://a.example\n relay-host smtp://b.example\n",
     3, "duplicate key 'relay-host'"},
    {"max-deliveries 0", "delivery {\n max-deliveries 0\n", 2,
     "expected a number from 1 to 100000, found '0'"},
    {"max-per-destination word", "delivery {\n max-per-destination many\n", 2, "expected"},
    {"timeout-connect 2h", "delivery {\n timeout-connect 2h\n", 2, "out of range (from 1s to 1h)"},
    {"resolver no port", "resolver 127.0.0.1\n", 1, "127.0.0.1"},
    {"resolver name", "resolver dns.example:53\n", 1, "dns.example"},
    {"resolver twice", "resolver 127.0.0.1:53\nresolver 127.0.0.1:54\n", 2,
     "duplicate key 'resolver'"},
};

/* Keys whose values never hold spaces get no "quote" hint: the message ends at the count. */
static void
test_one_value_hints(void **state)
{
    static const struct {
        const char *text;
        const char *want; /* the whole message after "FILE:1: " */
    } rows[] = {
        {"hostname mx example.com\n" MIN, "'hostname' takes one value, found 2"},
        {"log-level very verbose\n" MIN, "'log-level' takes one value, found 2"},
        {"user gate 26\n" MIN, "'user' takes one value, found 2"},
        {"max-sessions 10 00\n" MIN, "'max-sessions' takes one value, found 2"},
        {"resolver 127.0.0.1 53\n" MIN, "'resolver' takes one value, found 2"},
    };
    char err[1024], want[CAP_PATH + 200];

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        struct conf *c = load(rows[i].text, err, sizeof err);

        (void)snprintf(want, sizeof want, "%s:1: %s", conf_path, rows[i].want);
        if (c != NULL || strcmp(err, want) != 0) {
            print_error("row %zu: want '%s', got '%s'\n", i, want, err);
            conf_unref(c);
            fail();
        }
    }
}

static void
test_file_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_OF(file_errors); i++)
        expect_error(file_errors[i].name, file_errors[i].text, file_errors[i].line,
                     file_errors[i].phrase);
}

/* The delivery block's added keys and the resolver. */
static void
test_delivery_keys(void **state)
{
    struct conf *c;

    (void)state;
    c = expect_ok("delivery", MIN "resolver [::1]:5353\n"
                                  "delivery {\n relay-host smtp://[smart.example]:587\n"
                                  " delay-warning 1h\n max-deliveries 7\n"
                                  " max-per-destination 3\n timeout-connect 5s\n"
                                  " timeout-command 1m\n timeout-data 2m\n}\n");
    assert_true(c->has_resolver);
    assert_string_equal(c->resolver.text, "[::1]:5353");
    assert_int_equal(c->relay_host.n, 1);
    assert_string_equal(c->relay_host.urls[0].host, "smart.example");
    assert_int_equal(c->relay_host.urls[0].port, 587);
    assert_true(c->relay_host.urls[0].bracketed);
    assert_int_equal(c->delay_warning, 3600);
    assert_int_equal(c->max_deliveries, 7);
    assert_int_equal(c->max_per_destination, 3);
    assert_int_equal(c->timeout_connect, 5);
    assert_int_equal(c->timeout_command, 60);
    assert_int_equal(c->timeout_data, 120);
    assert_false(c->queue_only);
    conf_unref(c);

    c = expect_ok("delay off", MIN "delivery {\n delay-warning off\n queue-only YES\n"
                                   " connection-reuse off\n}\n");
    assert_int_equal(c->delay_warning, 0);
    assert_true(c->queue_only);
    assert_int_equal(c->connection_reuse, 0);
    conf_unref(c);
}

/* Loads that succeed and store what the rows say. */
static void
test_domains_and_relays(void **state)
{
    struct conf *c;
    const struct conf_domain *d;

    (void)state;
    c = expect_ok("relays",
                  MIN_LISTEN "domain Example.ORG. {\n relay SMTP://Mail.Example.ORG.:2525\n}\n"
                             "domain b.example {\n relay smtp://[mx.b.example]\n}\n"
                             "domain c.example {\n relay smtp://[2001:DB8::1]:587\n}\n"
                             "domain d.example {\n relay smtp://[10.0.0.5]\n}\n"
                             "domain e.example {\n relay \"smtp://e.example:1\"\n}\n"
                             "domain f.example {}\n"
                             "domain 1example.com {}\n");
    assert_int_equal(c->n_domains, 7);

    d = conf_find_domain(c, "example.org", 11);
    assert_non_null(d);
    assert_string_equal(d->name, "example.org");
    assert_int_equal(d->line, 4);
    assert_int_equal(d->relay.n, 1);
    assert_string_equal(d->relay.urls[0].host, "mail.example.org");
    assert_int_equal(d->relay.urls[0].port, 2525);
    assert_false(d->relay.urls[0].bracketed);
    assert_int_equal(d->relay.urls[0].family, AF_UNSPEC);

    d = conf_find_domain(c, "b.example", 9);
    assert_string_equal(d->relay.urls[0].host, "mx.b.example");
    assert_int_equal(d->relay.urls[0].port, 25);
    assert_true(d->relay.urls[0].bracketed);
    assert_int_equal(d->relay.urls[0].family, AF_UNSPEC);

    d = conf_find_domain(c, "c.example", 9);
    assert_string_equal(d->relay.urls[0].host, "2001:db8::1");
    assert_int_equal(d->relay.urls[0].port, 587);
    assert_true(d->relay.urls[0].bracketed);
    assert_int_equal(d->relay.urls[0].family, AF_INET6);

    d = conf_find_domain(c, "d.example", 9);
    assert_string_equal(d->relay.urls[0].host, "10.0.0.5");
    assert_true(d->relay.urls[0].bracketed);
    assert_int_equal(d->relay.urls[0].family, AF_INET);

    d = conf_find_domain(c, "e.example", 9);
    assert_int_equal(d->relay.urls[0].port, 1);

    d = conf_find_domain(c, "f.example", 9);
    assert_int_equal(d->relay.n, 0);
    assert_non_null(conf_find_domain(c, "1example.com", 12));
    conf_unref(c);
}

static void
test_find_domain(void **state)
{
    static const struct {
        const char *name;
        size_t len;       /* 0: strlen */
        const char *want; /* NULL: not found */
    } rows[] = {
        {"example.com", 0, "example.com"},
        {"EXAMPLE.COM", 0, "example.com"},
        {"Example.Com.", 0, "example.com"},
        {"example.org", 0, "example.org"},
        {"SUB.example.net", 0, "sub.example.net"},
        {"example.com..", 0, NULL},
        {".example.com", 0, NULL},
        {"xample.com", 0, NULL},
        {"example.co", 0, NULL},
        {"example.comm", 0, NULL},
        {"sub.example.com", 0, NULL},
        {"example.net", 0, NULL},
        {"example.com", 7, NULL}, /* "example" */
        {".", 0, NULL},
        {"", 0, NULL},
        {"example.com\0x", 13, NULL},
        {"ex\0mple.com", 11, NULL},
        {"\xc3\xa9xample.com", 0, NULL},
    };
    struct conf *c = expect_ok("find", MIN_LISTEN "domain sub.example.net {}\n"
                                                  "domain Example.ORG. {}\n"
                                                  "domain example.com {}\n");
    char huge[400];

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        size_t len = rows[i].len ? rows[i].len : strlen(rows[i].name);
        const struct conf_domain *d = conf_find_domain(c, rows[i].name, len);

        if (rows[i].want == NULL ? d != NULL : d == NULL || strcmp(d->name, rows[i].want) != 0) {
            print_error("row %zu '%s': want %s, got %s\n", i, rows[i].name,
                        rows[i].want ? rows[i].want : "NULL", d ? d->name : "NULL");
            fail();
        }
    }
    memset(huge, 'a', sizeof huge);
    assert_null(conf_find_domain(c, huge, sizeof huge));
    conf_unref(c);
}

/* ---- CIDR matching ---- */

static void
test_cidr_match(void **state)
{
    static const struct {
        const char *nets; /* space-separated */
        const char *addr;
        bool want;
    } rows[] = {
        {"10.0.0.0/8", "10.0.0.0", true},
        {"10.0.0.0/8", "10.255.255.255", true},
        {"10.0.0.0/8", "11.0.0.0", false},
        {"10.0.0.0/8", "9.255.255.255", false},
        {"10.0.0.0/9", "10.127.255.255", true},
        {"10.0.0.0/9", "10.128.0.0", false},
        {"192.168.1.7", "192.168.1.7", true},
        {"192.168.1.7", "192.168.1.8", false},
        {"192.168.1.7/32", "192.168.1.7", true},
        {"192.168.1.7/32", "192.168.1.6", false},
        {"0.0.0.0/0", "1.2.3.4", true},
        {"0.0.0.0/0", "255.255.255.255", true},
        {"0.0.0.0/0", "::1", false},
        {"0.0.0.0/0", "::ffff:1.2.3.4", true},
        {"10.0.0.0/8", "::ffff:10.1.2.3", true},
        {"10.0.0.0/8", "::ffff:11.1.2.3", false},
        {"10.0.0.0/8", "::10.1.2.3", false}, /* IPv4-compatible is not mapped */
        {"10.0.0.0/8", "::fffe:10.1.2.3", false},
        {"10.0.0.0/8", "64:ff9b::10.1.2.3", false}, /* NAT64 is not mapped */
        {"192.168.1.7", "::ffff:192.168.1.7", true},
        {"::/0", "::1", true},
        {"::/0", "2001:db8::1", true},
        {"::/0", "1.2.3.4", false},
        {"::/0", "::ffff:1.2.3.4", true}, /* an IPv6 address too */
        {"::1", "::1", true},
        {"::1/128", "::1", true},
        {"::1", "::2", false},
        {"::1", "127.0.0.1", false},
        {"2001:db8::/32", "2001:db8:ffff:ffff::1", true},
        {"2001:db8::/32", "2001:db9::1", false},
        {"2001:db8::/33", "2001:db8:7fff::", true},
        {"2001:db8::/33", "2001:db8:8000::", false},
        {"2001:db8::1", "2001:db8::1", true},
        {"2001:db8::1", "2001:db8::2", false},
        {"::ffff:10.0.0.0/104", "10.9.9.9", true}, /* stored as 10.0.0.0/8 */
        {"::ffff:10.0.0.0/104", "::ffff:10.9.9.9", true},
        {"::ffff:10.0.0.0/104", "11.0.0.1", false},
        {"10.0.0.0/8 192.168.0.0/16", "192.168.255.1", true},
        {"10.0.0.0/8 192.168.0.0/16 ::1", "::1", true},
        {"10.0.0.0/8 192.168.0.0/16", "172.16.0.1", false},
        {"", "10.0.0.1", false},
        {"", "::1", false},
    };

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        struct conf_cidr nets[8];
        unsigned char addr[16];
        size_t n = 0;
        char buf[256], *save = NULL;
        struct conf_why w;
        int family = strchr(rows[i].addr, ':') ? AF_INET6 : AF_INET;

        (void)snprintf(buf, sizeof buf, "%s", rows[i].nets);
        for (char *t = strtok_r(buf, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save)) {
            assert_int_equal(conf_value_cidr(slice_make(t, strlen(t)), &nets[n], &w), 0);
            n++;
        }
        assert_int_equal(inet_pton(family, rows[i].addr, addr), 1);
        if (conf_cidr_match(nets, n, family, addr) != rows[i].want) {
            print_error("row %zu: %s in [%s]: want %d\n", i, rows[i].addr, rows[i].nets,
                        rows[i].want);
            fail();
        }
    }
    /* an unknown family never matches */
    {
        struct conf_cidr all;
        struct conf_why w;
        unsigned char addr[16] = {0};

        assert_int_equal(conf_value_cidr(slice_make("0.0.0.0/0", 9), &all, &w), 0);
        assert_false(conf_cidr_match(&all, 1, AF_UNIX, addr));
    }
}

/* ---- Value parsers, directly ---- */

static void
test_value_addr(void **state)
{
    static const struct {
        const char *in;
        const char *want; /* canonical text, or NULL for an error */
        int family;
        unsigned port;
    } rows[] = {
        {"127.0.0.1:2525", "127.0.0.1:2525", AF_INET, 2525},
        {"0.0.0.0:25", "0.0.0.0:25", AF_INET, 25},
        {"255.255.255.255:65535", "255.255.255.255:65535", AF_INET, 65535},
        {"[::1]:2525", "[::1]:2525", AF_INET6, 2525},
        {"[::]:25", "[::]:25", AF_INET6, 25},
        {"[0:0:0:0:0:0:0:1]:1", "[::1]:1", AF_INET6, 1},
        {"[2001:DB8::A]:587", "[2001:db8::a]:587", AF_INET6, 587},
        {"[::ffff:1.2.3.4]:25", "[::ffff:1.2.3.4]:25", AF_INET6, 25},
        {"127.0.0.1:025", "127.0.0.1:25", AF_INET, 25},
        {"", NULL, 0, 0},
        {":", NULL, 0, 0},
        {"[", NULL, 0, 0},
        {"[]", NULL, 0, 0},
        {"[::1]:", NULL, 0, 0},
        {"[::1]:0", NULL, 0, 0},
        {"[::1]:65536", NULL, 0, 0},
        {"1.2.3.4:5:6", NULL, 0, 0},
        {"1.2.3.4 :25", NULL, 0, 0},
        {"1.2.3.4: 25", NULL, 0, 0},
        {"[[::1]]:25", NULL, 0, 0},
        {"[::1]]:25", NULL, 0, 0},
        {"[1:2:3:4:5:6:7:8:9]:25", NULL, 0, 0},
        {"[aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa]:25", NULL, 0, 0},
        {"0x7f.1:25", NULL, 0, 0},
        {"2130706433:25", NULL, 0, 0},
    };

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        struct conf_addr a;
        struct conf_why w;
        int r = conf_value_addr(slice_make(rows[i].in, strlen(rows[i].in)), &a, &w);

        if (rows[i].want == NULL) {
            if (r != -1) {
                print_error("row '%s': want an error\n", rows[i].in);
                fail();
            }
            continue;
        }
        if (r != 0) {
            print_error("row '%s': %s\n", rows[i].in, w.text);
            fail();
        }
        assert_string_equal(a.text, rows[i].want);
        assert_int_equal(a.sa.ss_family, rows[i].family);
        if (rows[i].family == AF_INET) {
            assert_int_equal(a.sa_len, sizeof(struct sockaddr_in));
            assert_int_equal(ntohs(((struct sockaddr_in *)&a.sa)->sin_port), rows[i].port);
        } else {
            assert_int_equal(a.sa_len, sizeof(struct sockaddr_in6));
            assert_int_equal(ntohs(((struct sockaddr_in6 *)&a.sa)->sin6_port), rows[i].port);
        }
    }
}

/* ---- Relay URLs, one by one ---- */

static void
test_value_route(void **state)
{
    static const struct {
        const char *in;
        const char *host; /* NULL: an error whose message holds phrase */
        unsigned port;
        bool bracketed, smtps;
        int family;
        const char *phrase;
    } rows[] = {
        {"smtp://mail.example.net", "mail.example.net", 25, false, false, AF_UNSPEC, NULL},
        {"SMTP://Mail.Example.NET.:2525", "mail.example.net", 2525, false, false, AF_UNSPEC, NULL},
        {"smtp://[mail.isp.example]:587", "mail.isp.example", 587, true, false, AF_UNSPEC, NULL},
        {"smtp://10.0.0.5", "10.0.0.5", 25, false, false, AF_INET, NULL},
        {"smtp://[2001:DB8::1]:26", "2001:db8::1", 26, true, false, AF_INET6, NULL},
        {"smtps://[mail.isp.example]", "mail.isp.example", 465, true, true, AF_UNSPEC, NULL},
        {"SMTPS://smart.example:4650", "smart.example", 4650, false, true, AF_UNSPEC, NULL},
        {"smtps://192.0.2.1:465", "192.0.2.1", 465, false, true, AF_INET, NULL},
        /* no scheme */
        {"mail.isp.example:587", NULL, 0, false, false, 0,
         "expected smtp://HOST[:PORT] (or smtp://[HOST]:PORT for no MX lookup), found "
         "'mail.isp.example:587'"},
        {"[mail.isp.example]:587", NULL, 0, false, false, 0, "found '[mail.isp.example]:587'"},
        {"", NULL, 0, false, false, 0, "expected smtp://HOST[:PORT]"},
        {"smtp:/x.example", NULL, 0, false, false, 0, "found 'smtp:/x.example'"},
        /* credentials: the hint, and never the password */
        {"smtp://user:s3cret@mail.isp.example:587", NULL, 0, false, false, 0,
         "put credentials in relay-auth FILE, not in the URL"},
        {"smtp://user@mail.isp.example", NULL, 0, false, false, 0, "put credentials in relay-auth"},
        {"smtp://user:s3cret@[mail.isp.example]:587", NULL, 0, false, false, 0,
         "put credentials in relay-auth"},
        {"user:s3cret@mail.isp.example:587", NULL, 0, false, false, 0,
         "put credentials in relay-auth"},
        {"smtps://u:s3cret:@x.example", NULL, 0, false, false, 0, "put credentials in relay-auth"},
        /* other schemes */
        {"http://mail.isp.example", NULL, 0, false, false, 0,
         "'http://mail.isp.example' is a web address: a relay URL starts with smtp:// (or "
         "smtps:// for TLS from the first byte)"},
        {"HTTPS://x.example/", NULL, 0, false, false, 0, "is a web address"},
        {"lmtp://x.example", NULL, 0, false, false, 0,
         "unknown scheme 'lmtp://' in 'lmtp://x.example' (expected smtp:// or smtps://)"},
        {"submission://x.example", NULL, 0, false, false, 0, "unknown scheme 'submission://'"},
        /* a path, a query, a fragment */
        {"smtp://x.example:25/", NULL, 0, false, false, 0,
         "a relay URL has no path or query: '/' follows the host and port in "
         "'smtp://x.example:25/'"},
        {"smtp://x.example/relay", NULL, 0, false, false, 0, "'/relay' follows the host and port"},
        {"smtp://x.example?tls=1", NULL, 0, false, false, 0, "'?tls=1' follows the host"},
        {"smtp://[x.example]:587/x", NULL, 0, false, false, 0, "'/x' follows the host"},
        /* empty host */
        {"smtp://", NULL, 0, false, false, 0, "no host in 'smtp://' (expected smtp://HOST[:PORT]"},
        {"smtp://:25", NULL, 0, false, false, 0, "no host in 'smtp://:25'"},
        {"smtp://[]:25", NULL, 0, false, false, 0, "no host in 'smtp://[]:25'"},
        {"smtps://", NULL, 0, false, false, 0, "no host in 'smtps://'"},
        /* bad ports */
        {"smtp://x.example:0", NULL, 0, false, false, 0,
         "expected a port from 1 to 65535 after ':' in 'smtp://x.example:0', found '0'"},
        {"smtp://x.example:65536", NULL, 0, false, false, 0, "found '65536'"},
        {"smtp://x.example:", NULL, 0, false, false, 0, "found ''"},
        {"smtp://x.example:smtp", NULL, 0, false, false, 0, "found 'smtp'"},
        {"smtp://x.example:-25", NULL, 0, false, false, 0, "found '-25'"},
        {"smtp://x.example:25x", NULL, 0, false, false, 0, "found '25x'"},
        {"smtp://[x.example]:", NULL, 0, false, false, 0, "expected a port from 1 to 65535"},
        /* IPv6 */
        {"smtp://2001:db8::1", NULL, 0, false, false, 0,
         "an IPv6 address needs brackets, as in smtp://[2001:db8::1]:25 (found "
         "'smtp://2001:db8::1')"},
        {"smtp://::1", NULL, 0, false, false, 0, "needs brackets"},
        {"smtp://[::1", NULL, 0, false, false, 0, "missing ']' in 'smtp://[::1'"},
        {"smtp://[::1]x", NULL, 0, false, false, 0, "unexpected 'x' after the host"},
        {"smtp://[[::1]]:25", NULL, 0, false, false, 0, "bad host in"},
        /* hosts */
        {"smtp://[bad_name]:25", NULL, 0, false, false, 0,
         "bad host in 'smtp://[bad_name]:25': unexpected character '_'"},
        {"smtp://10.0.0", NULL, 0, false, false, 0, "its last label is all digits"},
        {"smtp://a..b", NULL, 0, false, false, 0, "empty label"},
        {"smtp://x.example\x01", NULL, 0, false, false, 0, "x.example\\x01"},
    };

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        struct conf_route rt;
        struct conf_why w;
        int r = conf_value_route(slice_make(rows[i].in, strlen(rows[i].in)), &rt, &w);

        if (rows[i].host == NULL) {
            if (r != -1 || strstr(w.text, rows[i].phrase) == NULL ||
                strstr(w.text, "s3cret") != NULL) {
                print_error("row '%s': want an error with '%s', got %d '%s'\n", rows[i].in,
                            rows[i].phrase, r, r == -1 ? w.text : "");
                fail();
            }
            continue;
        }
        if (r != 0) {
            print_error("row '%s': %s\n", rows[i].in, w.text);
            fail();
        }
        assert_string_equal(rt.host, rows[i].host);
        assert_int_equal(rt.port, rows[i].port);
        assert_int_equal(rt.bracketed, rows[i].bracketed);
        assert_int_equal(rt.smtps, rows[i].smtps);
        assert_int_equal(rt.family, rows[i].family);
    }
}

/* ---- Several relay URLs, relay-auth ---- */

/* Writes tmpdir/name with text and mode; returns nothing (asserts). */
static void
write_mode(const char *name, const char *text, mode_t mode)
{
    char path[CAP_PATH];

    (void)snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    write_file(path, text, strlen(text));
    assert_int_equal(chmod(path, mode), 0);
}

static void
test_relay_lists(void **state)
{
    struct conf *c;
    const struct conf_domain *d;
    char want[CAP_PATH];

    (void)state;
    write_mode("smart.auth", "# the ISP's smarthost\n\nme@isp.example:p4ss: word#1\n", 0600);
    write_mode("inside.auth", "relay:x", 0640);
    c = expect_ok("lists", MIN_LISTEN
                  "domain a.example {\n"
                  " relay smtp://[10.0.0.5]:25 smtp://mx.a.example smtps://[backup.a.example]\n"
                  " relay-auth inside.auth\n"
                  "}\n"
                  "domain b.example {\n relay smtp://[10.0.0.6]\n}\n"
                  "delivery {\n"
                  " relay-auth @DIR@/smart.auth\n"
                  " relay-host smtp://[mail.isp.example]:587 smtps://[mail2.isp.example]\n"
                  " tls verify\n"
                  "}\n");
    d = conf_find_domain(c, "a.example", 9);
    assert_int_equal(d->relay.n, 3);
    assert_int_equal(d->relay.line, 5);
    assert_string_equal(d->relay.urls[0].host, "10.0.0.5");
    assert_string_equal(d->relay.urls[1].host, "mx.a.example");
    assert_false(d->relay.urls[1].bracketed);
    assert_true(d->relay.urls[2].smtps);
    assert_int_equal(d->relay.urls[2].port, 465);
    assert_non_null(d->relay.auth);
    assert_string_equal(d->relay.auth->user, "relay");
    assert_string_equal(d->relay.auth->password, "x");
    assert_int_equal(d->relay.auth->line, 6);
    (void)snprintf(want, sizeof want, "%s/inside.auth", tmpdir);
    assert_string_equal(d->relay.auth->file, want);
    d = conf_find_domain(c, "b.example", 9);
    assert_int_equal(d->relay.n, 1);
    assert_null(d->relay.auth);
    assert_int_equal(c->relay_host.n, 2);
    assert_string_equal(c->relay_host.urls[1].host, "mail2.isp.example");
    assert_non_null(c->relay_host.auth);
    assert_string_equal(c->relay_host.auth->user, "me@isp.example");
    assert_string_equal(c->relay_host.auth->password, "p4ss: word#1");
    conf_unref(c);

    /* tls may (the default) with relay-auth is fine: the client raises it to encrypt. */
    c = expect_ok("may", MIN "delivery {\n relay-host smtp://[smart.example]\n"
                             " relay-auth smart.auth\n tls may\n}\n");
    conf_unref(c);
    c = expect_ok("none elsewhere",
                  MIN_LISTEN "domain a.example {\n relay smtp://[10.0.0.5]\n relay-auth "
                             "smart.auth\n tls encrypt\n}\ndelivery {\n tls none\n"
                             " tls-policy far.example none\n}\n");
    conf_unref(c);
}

static void
test_relay_auth_errors(void **state)
{
    static const struct {
        const char *name;
        const char *file; /* the relay-auth file's contents, NULL: not written */
        unsigned mode;
        const char *conf;  /* names @DIR@/r.auth */
        const char *where; /* "conf:LINE" or "auth:LINE" or "auth" (the prefix wanted) */
        const char *phrase;
    } rows[] = {
        {"missing", NULL, 0, "delivery {\n relay-host smtp://a.example\n relay-auth /nonexistent\n",
         "conf:3", "cannot read relay-auth file '/nonexistent': No such file or directory"},
        {"world readable", "u:p\n", 0644,
         "delivery {\n relay-host smtp://a.example\n relay-auth @DIR@/r.auth\n", "conf:3",
         "relay-auth file '@DIR@/r.auth' is open to others (mode 0644): it holds a password in "
         "clear"},
        {"world writable", "u:p\n", 0602,
         "delivery {\n relay-host smtp://a.example\n relay-auth r.auth\n", "conf:3",
         "is open to others (mode 0602)"},
        {"directory", NULL, 0, "delivery {\n relay-host smtp://a.example\n relay-auth @DIR@\n",
         "conf:3", "is not a regular file"},
        {"empty", "", 0600, "delivery {\n relay-host smtp://a.example\n relay-auth r.auth\n",
         "auth", "expected a USER:PASSWORD line (found none) (the relay-auth file of "},
        {"comments only", "# nothing\n\n   \n", 0600,
         "delivery {\n relay-host smtp://a.example\n relay-auth r.auth\n", "auth", "found none"},
        {"no colon", "# login\nuser password\n", 0600,
         "delivery {\n relay-host smtp://a.example\n relay-auth r.auth\n", "auth:2",
         "expected USER:PASSWORD (no ':' on the line) (the relay-auth file of @DIR@/test.conf:8)"},
        {"two entries", "a:b\n# x\nc:d\n", 0600,
         "delivery {\n relay-host smtp://a.example\n relay-auth r.auth\n", "auth:3",
         "a second line after USER:PASSWORD at line 1 (a relay-auth file holds one login)"},
        {"no user", ":secret\n", 0640,
         "domain x.example {\n relay smtp://a.example\n relay-auth "
         "r.auth\n",
         "auth:1", "expected a user name before ':'"},
        {"no password", "user:\n", 0600,
         "domain x.example {\n relay smtp://a.example\n relay-auth r.auth\n", "auth:1",
         "expected a password after ':'"},
        {"trailing blank", "user:secret \n", 0600,
         "domain x.example {\n relay smtp://a.example\n relay-auth r.auth\n", "auth:1",
         "the password starts or ends with a blank"},
        {"CRLF", "user:secret\r\n", 0600,
         "domain x.example {\n relay smtp://a.example\n relay-auth r.auth\n", "auth:1",
         "line ends in CR"},
        /* relay-auth needs relays, and TLS */
        {"no relay", "u:p\n", 0600, "domain x.example {\n relay-auth r.auth\n}\n", "conf:2",
         "relay-auth needs 'relay URL' in the domain block"},
        {"no relay-host", "u:p\n", 0600, "delivery {\n relay-auth r.auth\n}\n", "conf:2",
         "relay-auth needs 'relay-host URL' in the delivery block"},
        {"domain tls none", "u:p\n", 0600,
         "domain x.example {\n tls none\n relay smtp://a.example\n relay-auth r.auth\n}\n",
         "conf:2", "tls none, but relay-auth (line 9) needs TLS"},
        {"domain tls none after", "u:p\n", 0600,
         "domain x.example {\n relay smtp://a.example\n relay-auth r.auth\n tls none\n}\n",
         "conf:4", "tls none, but relay-auth (line 8) needs TLS"},
        {"delivery tls none", "u:p\n", 0600,
         "delivery {\n tls none\n relay-host smtp://a.example\n relay-auth r.auth\n}\n", "conf:2",
         "tls none, but the relay-host has relay-auth (line 9), which needs TLS"},
        {"inherited tls none", "u:p\n", 0600,
         "domain x.example {\n relay smtp://a.example\n relay-auth r.auth\n}\n"
         "delivery {\n tls none\n}\n",
         "conf:6", "tls none applies to domain x.example, whose relay-auth (line 8) needs TLS"},
        {"tls-policy none", "u:p\n", 0600,
         "delivery {\n relay-host smtp://a.example\n relay-auth r.auth\n"
         " tls-policy far.example none\n}\n",
         "conf:4",
         "tls-policy far.example none: its mail goes to a relay with relay-auth (line 8)"},
        {"tls-policy none own relay", "u:p\n", 0600,
         "domain x.example {\n relay smtp://a.example\n relay-auth r.auth\n}\n"
         "delivery {\n tls-policy x.example none\n}\n",
         "conf:6", "tls-policy x.example none"},
        {"tls-policy none parent", "u:p\n", 0600,
         "domain x.example {\n relay smtp://a.example\n relay-auth r.auth\n}\n"
         "delivery {\n tls-policy .example none\n}\n",
         "conf:6", "tls-policy .example none"},
    };
    char path[CAP_PATH];

    (void)state;
    (void)snprintf(path, sizeof path, "%s/r.auth", tmpdir);
    for (size_t i = 0; i < N_OF(rows); i++) {
        char text[1024], err[1024], prefix[CAP_PATH + 64];
        char *want = subst(rows[i].phrase, strlen(rows[i].phrase), NULL);
        struct conf *c;

        (void)unlink(path);
        if (rows[i].file != NULL)
            write_mode("r.auth", rows[i].file, rows[i].mode);
        (void)snprintf(text, sizeof text, MIN "%s", rows[i].conf);
        c = load(text, err, sizeof err);
        if (strncmp(rows[i].where, "conf:", 5) == 0)
            (void)snprintf(prefix, sizeof prefix, "%s:%u: ", conf_path,
                           (unsigned)atoi(rows[i].where + 5) + 5);
        else if (strncmp(rows[i].where, "auth:", 5) == 0)
            (void)snprintf(prefix, sizeof prefix, "%s:%s: ", path, rows[i].where + 5);
        else
            (void)snprintf(prefix, sizeof prefix, "%s: ", path);
        if (c != NULL || strncmp(err, prefix, strlen(prefix)) != 0 || strstr(err, want) == NULL ||
            strstr(err, "secret") != NULL) {
            print_error("row '%s': want '%s...%s', got %s '%s'\n", rows[i].name, prefix, want,
                        c ? "success" : "error", err);
            conf_unref(c);
            free(want);
            fail();
        }
        free(want);
    }
    (void)unlink(path);

    /* A FIFO named by mistake: refused at once, not waited on. */
    assert_int_equal(mkfifo(path, 0600), 0);
    {
        char err[1024];
        struct conf *c =
            load(MIN "delivery {\n relay-host smtp://a.example\n relay-auth r.auth\n}\n", err,
                 sizeof err);

        assert_null(c);
        assert_non_null(strstr(err, "r.auth' is not a regular file"));
    }
    (void)unlink(path);
}

/* The parser alone: a table of files, hostile rows included. */
static void
test_relay_auth_parse(void **state)
{
    static const struct {
        const char *text;
        size_t len;       /* 0: strlen */
        const char *user; /* NULL: an error "f:LINE: phrase" (LINE 0: "f: phrase") */
        const char *password;
        unsigned line;
        const char *phrase;
    } rows[] = {
        {"u:p", 0, "u", "p", 0, NULL},
        {"u:p\n", 0, "u", "p", 0, NULL},
        {"\n\n# c\n  # c2\n\t\nuser@example.com:pass word:with:colons\n\n# end\n", 0,
         "user@example.com", "pass word:with:colons", 0, NULL},
        {"u:#not a comment", 0, "u", "#not a comment", 0, NULL},
        {"us\xc3\xa9r:p\xc3\xa4ss", 0, "us\xc3\xa9r", "p\xc3\xa4ss", 0, NULL},
        {"u::", 0, "u", ":", 0, NULL},
        {"u:a b", 0, "u", "a b", 0, NULL},
        {"", 0, NULL, NULL, 0, "expected a USER:PASSWORD line (found none)"},
        {"\n\n", 0, NULL, NULL, 0, "expected a USER:PASSWORD line (found none)"},
        {"user password\n", 0, NULL, NULL, 1, "no ':' on the line"},
        {" u:p\n", 0, NULL, NULL, 1, "no blank in or before the user"},
        {"u u:p\n", 0, NULL, NULL, 1, "no blank in or before the user"},
        {"u:\tp\n", 0, NULL, NULL, 1, "a tab on the line"},
        {"u: p\n", 0, NULL, NULL, 1, "starts or ends with a blank"},
        {"u:p \n", 0, NULL, NULL, 1, "starts or ends with a blank"},
        {"u:p\r\n", 0, NULL, NULL, 1, "line ends in CR"},
        {"u:p\rq\n", 0, NULL, NULL, 1, "control character 0x0d"},
        {"u:p\0q\n", 6, NULL, NULL, 1, "control character 0x00"},
        {"# \x1b[31m\nu:p\n", 0, NULL, NULL, 1, "control character 0x1b"},
        {"u:p\x7f\n", 0, NULL, NULL, 1, "control character 0x7f"},
        {"a:b\nc:d\n", 0, NULL, NULL, 2, "a second line after USER:PASSWORD at line 1"},
        {"a:b\n\n#x\ngarbage\n", 0, NULL, NULL, 4, "a second line"},
        {":p\n", 0, NULL, NULL, 1, "expected a user name before ':'"},
        {"\xef\xbb\xbfu:p\n", 0, NULL, NULL, 1, "byte order mark at the start"},
        {"u:\n", 0, NULL, NULL, 1, "expected a password after ':'"},
    };
    char big[600];

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        struct conf_relay_auth a;
        char err[512] = "", want[600];
        size_t len = rows[i].len ? rows[i].len : strlen(rows[i].text);
        int r = conf_relay_auth_parse("f", rows[i].text, len, &a, err, sizeof err);

        if (rows[i].user != NULL) {
            if (r != 0) {
                print_error("row %zu: %s\n", i, err);
                fail();
            }
            assert_string_equal(a.user, rows[i].user);
            assert_string_equal(a.password, rows[i].password);
            continue;
        }
        if (rows[i].line == 0)
            (void)snprintf(want, sizeof want, "f: ");
        else
            (void)snprintf(want, sizeof want, "f:%u: ", rows[i].line);
        if (r != -1 || strncmp(err, want, strlen(want)) != 0 ||
            strstr(err, rows[i].phrase) == NULL || a.password[0] != '\0' || a.user[0] != '\0') {
            print_error("row %zu: want '%s...%s', got %d '%s'\n", i, want, rows[i].phrase, r, err);
            fail();
        }
    }
    /* The caps: 255 octets of user or password; a line of at most 1024 octets. */
    memset(big, 'x', sizeof big);
    big[255] = ':';
    big[256] = 'p';
    {
        struct conf_relay_auth a;
        char err[512];

        assert_int_equal(conf_relay_auth_parse("f", big, 257, &a, err, sizeof err), 0);
        assert_int_equal(strlen(a.user), 255);
        assert_int_equal(conf_relay_auth_parse("f", big + 1, 256, &a, err, sizeof err), 0);
        big[255] = 'x';
        big[256] = ':';
        assert_int_equal(conf_relay_auth_parse("f", big, 258, &a, err, sizeof err), -1);
        assert_non_null(strstr(err, "f:1: user name longer than 255 octets"));
        big[0] = 'u';
        big[1] = ':';
        assert_int_equal(conf_relay_auth_parse("f", big, 257, &a, err, sizeof err), 0);
        assert_int_equal(strlen(a.password), 255);
        assert_int_equal(conf_relay_auth_parse("f", big, 258, &a, err, sizeof err), -1);
        assert_non_null(strstr(err, "f:1: password longer than 255 octets"));
    }
    {
        char *huge = malloc(3000);
        struct conf_relay_auth a;
        char err[512];

        assert_non_null(huge);
        memset(huge, 'y', 3000);
        huge[0] = 'u';
        huge[1] = ':';
        assert_int_equal(conf_relay_auth_parse("f", huge, 3000, &a, err, sizeof err), -1);
        assert_non_null(strstr(err, "f:1: line longer than 1024 octets"));
        free(huge);
    }
}

static void
test_value_cidr(void **state)
{
    static const struct {
        const char *in;
        int family; /* 0: an error */
        unsigned prefix;
        const char *addr; /* the network as text */
    } rows[] = {
        {"10.0.0.0/8", AF_INET, 8, "10.0.0.0"},
        {"10.1.2.3", AF_INET, 32, "10.1.2.3"},
        {"0.0.0.0/0", AF_INET, 0, "0.0.0.0"},
        {"10.0.0.0/08", AF_INET, 8, "10.0.0.0"},
        {"172.16.0.0/12", AF_INET, 12, "172.16.0.0"},
        {"::/0", AF_INET6, 0, "::"},
        {"::1", AF_INET6, 128, "::1"},
        {"2001:db8::/32", AF_INET6, 32, "2001:db8::"},
        {"2001:db8:8000::/33", AF_INET6, 33, "2001:db8:8000::"},
        {"::ffff:10.0.0.0/104", AF_INET, 8, "10.0.0.0"},
        {"::ffff:10.1.2.3", AF_INET, 32, "10.1.2.3"},
        {"::ffff:0.0.0.0/96", AF_INET, 0, "0.0.0.0"},
        {"::ffff:0:0/80", 0, 0, NULL}, /* bits past /80 */
        {"10.0.0.0/8x", 0, 0, NULL},
        {"10.0.0.1/31", 0, 0, NULL},
        {"10.0.0.0/ 8", 0, 0, NULL},
        {"/8", 0, 0, NULL},
        {"", 0, 0, NULL},
        {"10.0.0.256", 0, 0, NULL},
        {"2001:db8::/", 0, 0, NULL},
        {"2001:db8::1/127", 0, 0, NULL},
        {"fe80::1%lo", 0, 0, NULL},
        {"10.0.0.0/4294967304", 0, 0, NULL},
    };

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        struct conf_cidr net;
        struct conf_why w;
        char text[INET6_ADDRSTRLEN];
        int r = conf_value_cidr(slice_make(rows[i].in, strlen(rows[i].in)), &net, &w);

        if (rows[i].family == 0) {
            if (r != -1) {
                print_error("row '%s': want an error\n", rows[i].in);
                fail();
            }
            continue;
        }
        if (r != 0) {
            print_error("row '%s': %s\n", rows[i].in, w.text);
            fail();
        }
        assert_int_equal(net.family, rows[i].family);
        assert_int_equal(net.prefix, rows[i].prefix);
        assert_non_null(inet_ntop(net.family, net.addr, text, sizeof text));
        assert_string_equal(text, rows[i].addr);
    }
}

static void
test_value_domain(void **state)
{
    static const struct {
        const char *in;
        const char *want; /* NULL: an error */
    } rows[] = {
        {"example.com", "example.com"},
        {"Example.COM.", "Example.COM"},
        {"localhost", "localhost"},
        {"a", "a"},
        {"x-1.example", "x-1.example"},
        {"1.example", "1.example"},
        {"xn--bcher-kva.example", "xn--bcher-kva.example"},
        {"a.b.c.d.e.f.g", "a.b.c.d.e.f.g"},
        {"", NULL},
        {".", NULL},
        {"..", NULL},
        {"a.", "a"},
        {"a..", NULL},
        {"-a", NULL},
        {"a-", NULL},
        {"a.-b", NULL},
        {"a_b", NULL},
        {"a b", NULL},
        {"a@b", NULL},
        {"[1.2.3.4]", NULL},
        {"1.2.3.4", NULL},
        {"123", NULL},
        {"a.123", NULL},
        {"*.example.com", NULL},
        {"\xc3\xa9.example", NULL},
    };

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        char out[CAP_DOMAIN + 1];
        struct conf_why w;
        int r = conf_value_domain(slice_make(rows[i].in, strlen(rows[i].in)), out, &w);

        if (rows[i].want == NULL ? r != -1 : r != 0 || strcmp(out, rows[i].want) != 0) {
            print_error("row '%s': want %s, got %d '%s'\n", rows[i].in,
                        rows[i].want ? rows[i].want : "an error", r, r == 0 ? out : w.text);
            fail();
        }
    }

    /* 63-octet labels and a 255-octet name are the limits; one more fails */
    {
        char name[CAP_DOMAIN + 8], out[CAP_DOMAIN + 1];
        struct conf_why w;
        size_t n = 0;

        while (n + 64 <= CAP_DOMAIN) {
            memset(name + n, 'a', 63);
            name[n + 63] = '.';
            n += 64;
        }
        memset(name + n, 'b', CAP_DOMAIN - n);
        n = CAP_DOMAIN;
        assert_int_equal(conf_value_domain(slice_make(name, n), out, &w), 0);
        assert_int_equal(strlen(out), CAP_DOMAIN);
        name[n] = '.';
        assert_int_equal(conf_value_domain(slice_make(name, n + 1), out, &w), 0);
        name[n] = 'c';
        assert_int_equal(conf_value_domain(slice_make(name, n + 1), out, &w), -1);
        assert_non_null(strstr(w.text, "domain name too long (at most 255 octets)"));
    }
}

static void
test_value_numbers(void **state)
{
    static const struct {
        const char *in;
        int kind;      /* 's': size 1K..2G, 'd': duration 1s..30d, 'n': count 1..10 */
        uint64_t want; /* UINT64_MAX: an error */
    } rows[] = {
        {"1K", 's', 1024},
        {"1k", 's', 1024},
        {"2G", 's', UINT64_C(2147483648)},
        {"1m", 's', 1048576},
        {"2047M", 's', UINT64_C(2146435072)},
        {"1023", 's', UINT64_MAX},
        {"2G1", 's', UINT64_MAX},
        {"1KB", 's', UINT64_MAX},
        {"1T", 's', UINT64_MAX},
        {"18014398509481984K", 's', UINT64_MAX}, /* 2^54 K overflows */
        {"", 's', UINT64_MAX},
        {"1s", 'd', 1},
        {"30d", 'd', 2592000},
        {"720h", 'd', 2592000},
        {"31d", 'd', UINT64_MAX},
        {"0", 'd', UINT64_MAX},
        {"4294967297", 'd', UINT64_MAX},
        {"213503982334601d", 'd', UINT64_MAX},
        {"1D", 'd', UINT64_MAX},
        {"1 d", 'd', UINT64_MAX},
        {"d", 'd', UINT64_MAX},
        {"", 'd', UINT64_MAX},
        {"1", 'n', 1},
        {"10", 'n', 10},
        {"010", 'n', 10},
        {"11", 'n', UINT64_MAX},
        {"0", 'n', UINT64_MAX},
        {"1.0", 'n', UINT64_MAX},
        {"", 'n', UINT64_MAX},
    };

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        struct slice s = slice_make(rows[i].in, strlen(rows[i].in));
        struct conf_why w;
        uint64_t v = 0;
        unsigned d = 0;
        int r;

        if (rows[i].kind == 's') {
            r = conf_value_size(s, 1024, UINT64_C(2) << 30, &v, &w);
        } else if (rows[i].kind == 'd') {
            r = conf_value_duration(s, 1, 30 * 86400, &d, &w);
            v = d;
        } else {
            r = conf_value_count(s, 1, 10, &v, &w);
        }
        if (rows[i].want == UINT64_MAX ? r != -1 : r != 0 || v != rows[i].want) {
            print_error("row '%s' (%c): want %llu, got %d %llu\n", rows[i].in, rows[i].kind,
                        (unsigned long long)rows[i].want, r, (unsigned long long)v);
            fail();
        }
    }
}

static void
test_quote(void **state)
{
    char q[CONF_QUOTE_CAP], long_in[200];

    (void)state;
    assert_string_equal(conf_quote(q, sizeof q, slice_make("ab\x01\xff", 4)), "ab\\x01\\xff");
    memset(long_in, 'x', sizeof long_in);
    conf_quote(q, sizeof q, slice_make(long_in, sizeof long_in));
    assert_int_equal(strlen(q), 83);
    assert_string_equal(q + 80, "...");
    memset(long_in, '\x80', sizeof long_in);
    conf_quote(q, sizeof q, slice_make(long_in, sizeof long_in));
    assert_int_equal(strlen(q), 323);
}

/* ---- Paths ---- */

static void
test_relative_paths(void **state)
{
    static const char text[] = "spool spool\n"
                               "tls {\n    cert cert.pem\n    key ./key.pem\n}\n"
                               "auth {\n    passwd ../etc/passwd\n}\n" MIN;
    char path[CAP_PATH], want[CAP_PATH], cwd[CAP_PATH], err[1024];
    struct conf *c;

    (void)state;
    (void)snprintf(path, sizeof path, "%s/rel.conf", tmpdir);
    write_file(path, text, sizeof text - 1);

    /* absolute config path */
    c = conf_load(path, err, sizeof err);
    if (c == NULL)
        print_error("%s\n", err);
    assert_non_null(c);
    (void)snprintf(want, sizeof want, "%s/spool", tmpdir);
    assert_string_equal(c->spool, want);
    (void)snprintf(want, sizeof want, "%s/cert.pem", tmpdir);
    assert_string_equal(c->tls_cert, want);
    (void)snprintf(want, sizeof want, "%s/key.pem", tmpdir);
    assert_string_equal(c->tls_key, want);
    (void)snprintf(want, sizeof want, "%s/../etc/passwd", tmpdir);
    assert_string_equal(c->auth_passwd, want);
    conf_unref(c);

    /* relative config paths, from the directory and from below it */
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(tmpdir), 0);
    {
        static const char *const as_given[] = {"rel.conf", "./rel.conf", "././rel.conf",
                                               "sub/../rel.conf"};
        char sub[CAP_PATH];

        (void)snprintf(sub, sizeof sub, "%s/sub", tmpdir);
        assert_int_equal(mkdir(sub, 0755), 0);
        for (size_t i = 0; i < N_OF(as_given); i++) {
            c = conf_load(as_given[i], err, sizeof err);
            if (c == NULL)
                print_error("%s: %s\n", as_given[i], err);
            assert_non_null(c);
            assert_string_equal(c->path, as_given[i]);
            (void)snprintf(want, sizeof want, "%s%s/spool", tmpdir, i == 3 ? "/sub/.." : "");
            assert_string_equal(c->spool, want);
            conf_unref(c);
        }
        /* FILE in messages is the path as given */
        assert_null(conf_load("nope.conf", err, sizeof err));
        assert_string_equal(err, "nope.conf: cannot open: No such file or directory");
        assert_int_equal(chdir(sub), 0);
        c = conf_load("../rel.conf", err, sizeof err);
        assert_non_null(c);
        (void)snprintf(want, sizeof want, "%s/sub/../spool", tmpdir);
        assert_string_equal(c->spool, want);
        conf_unref(c);
        assert_int_equal(chdir(tmpdir), 0);
        assert_int_equal(rmdir(sub), 0);
    }
    assert_int_equal(chdir(cwd), 0);
    (void)unlink(path);
}

/* ---- The file as a whole ---- */

static void
test_file_level(void **state)
{
    char err[1024], want[CAP_PATH + 128], path[CAP_PATH];
    struct conf *c;

    (void)state;
    /* missing file, directory */
    (void)snprintf(path, sizeof path, "%s/missing.conf", tmpdir);
    assert_null(conf_load(path, err, sizeof err));
    (void)snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    assert_string_equal(err, want);
    assert_null(conf_load(tmpdir, err, sizeof err));
    (void)snprintf(want, sizeof want, "%s: cannot read: Is a directory", tmpdir);
    assert_string_equal(err, want);

    /* a path too long to be a path */
    {
        char *longp = malloc(CAP_PATH + 10);

        assert_non_null(longp);
        memset(longp, 'a', CAP_PATH + 9);
        longp[CAP_PATH + 9] = '\0';
        assert_null(conf_load(longp, err, sizeof err));
        assert_non_null(strstr(err, ": path too long"));
        free(longp);
    }

    /* a 17 MiB file (sparse: NULs) is refused before its contents are looked at */
    {
        int fd;

        (void)snprintf(path, sizeof path, "%s/big.conf", tmpdir);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 17 * 1024 * 1024), 0);
        assert_int_equal(close(fd), 0);
        assert_null(conf_load(path, err, sizeof err));
        (void)snprintf(want, sizeof want, "%s: file too large", path);
        assert_true(strncmp(err, want, strlen(want)) == 0);
        (void)unlink(path);
    }

    /* the empty file */
    expect_error("empty", "", 1, "no listen block: gate26 would accept no mail");
    expect_error("newlines", "\n\n\n", 3, "no listen block");
    expect_error("spaces", "   \t  ", 1, "no listen block");

    /* NUL bytes */
    {
        static const char nul1[] = "hostname a\0b\n" MIN;
        static const char nul3[] = MIN_LISTEN "# x\0\n";
        static const char nul_only[] = "\0\0\0\0";

        assert_null(load_len(nul1, sizeof nul1 - 1, err, sizeof err));
        (void)snprintf(want, sizeof want, "%s:1: NUL byte in the file", conf_path);
        assert_true(strncmp(err, want, strlen(want)) == 0);
        assert_null(load_len(nul3, sizeof nul3 - 1, err, sizeof err));
        (void)snprintf(want, sizeof want, "%s:4: NUL byte", conf_path);
        assert_true(strncmp(err, want, strlen(want)) == 0);
        assert_null(load_len(nul_only, sizeof nul_only - 1, err, sizeof err));
        (void)snprintf(want, sizeof want, "%s:1: NUL byte", conf_path);
        assert_true(strncmp(err, want, strlen(want)) == 0);
    }

    /* long tokens and lines: a clear error, never a crash */
    {
        size_t big = 1024 * 1024;
        char *t = malloc(big + 256);

        assert_non_null(t);
        /* a 10000-octet hostname fits on a line but not in a Domain */
        memcpy(t, "hostname ", 9);
        memset(t + 9, 'a', 10000);
        memcpy(t + 10009, "\n", 2);
        expect_error("long hostname", t, 1, "domain name too long (at most 255 octets): 'aaaa");
        /* a path longer than CAP_PATH */
        memcpy(t, "spool /", 7);
        memset(t + 7, 'a', 5000);
        memcpy(t + 5007, "\n", 2);
        expect_error("long path", t, 1, "path too long (at most 4095 octets)");
        /* a quoted path that exactly fits... and one that does not */
        {
            static const char head[] = MIN "spool \"/";
            size_t h = sizeof head - 1;

            memcpy(t, head, h);
            memset(t + h, 'b', CAP_PATH - 2);
            memcpy(t + h + CAP_PATH - 2, "\"\n", 3);
            c = expect_ok("path at the cap", t);
            assert_int_equal(strlen(c->spool), CAP_PATH - 1);
            conf_unref(c);
            memcpy(t + h + CAP_PATH - 2, "b\"\n", 4);
            expect_error("path over the cap", t, 6, "path too long");
        }
        /* a line at the cap is read; one octet more is not */
        memcpy(t, "# ", 2);
        memset(t + 2, 'c', CONF_LINE_MAX - 2);
        memcpy(t + CONF_LINE_MAX, "\n" MIN, sizeof("\n" MIN));
        c = expect_ok("line at the cap", t);
        conf_unref(c);
        memset(t + 2, 'c', CONF_LINE_MAX - 1);
        memcpy(t + CONF_LINE_MAX + 1, "\n" MIN, sizeof("\n" MIN));
        expect_error("line over the cap", t, 1, "line too long (more than 16384 octets)");
        /* a 1 MiB line, on line 6, without a final newline */
        memcpy(t, MIN, sizeof MIN - 1);
        memset(t + sizeof MIN - 1, 'x', big);
        t[sizeof MIN - 1 + big] = '\0';
        expect_error("1 MiB line", t, 6, "line too long");
        /* 1025 values on one line */
        memcpy(t, "allow", 5);
        for (size_t i = 0; i < 1025; i++)
            memcpy(t + 5 + 2 * i, " x", 2);
        memcpy(t + 5 + 2 * 1025, "\n", 2);
        expect_error("too many tokens", t, 1, "too many values on one line (at most 1024)");
        /* 1024 braces on one line */
        for (size_t i = 0; i < 1025; i++)
            t[i] = '{';
        t[1025] = '\0';
        expect_error("braces", t, 1, "too many values on one line");
        free(t);
    }

    /* a tiny or missing error buffer: truncated, never overrun */
    {
        char small[8];

        memset(small, 'z', sizeof small);
        assert_null(load("}\n", small, sizeof small));
        assert_int_equal(strlen(small), sizeof small - 1);
        assert_null(load("}\n", NULL, 0));
        assert_null(load("}\n", small, 0));
        assert_null(conf_load("/nonexistent/x.conf", NULL, 0));
    }
}

/* Many addresses and networks, up to the caps and past them. */
static void
test_caps(void **state)
{
    size_t cap = 64 * 1024;
    char *t = malloc(cap);
    size_t n;
    struct conf *c;

    (void)state;
    assert_non_null(t);
    /* 64 addresses load; the 65th is refused */
    n = (size_t)snprintf(t, cap, "listen inbound {\n");
    for (unsigned i = 0; i < 64; i++)
        n += (size_t)snprintf(t + n, cap - n, " address 127.0.0.1:%u\n", 1000 + i);
    (void)snprintf(t + n, cap - n, "}\n" MIN_DOMAIN);
    c = expect_ok("64 addresses", t);
    assert_int_equal(c->listens[0].n_addrs, 64);
    conf_unref(c);
    (void)snprintf(t + n, cap - n, " address 127.0.0.1:2000\n}\n" MIN_DOMAIN);
    expect_error("65 addresses", t, 66, "listen inbound has too many addresses (at most 64)");

    /* 4096 networks across lines load; one more is refused */
    n = (size_t)snprintf(t, cap, "listen internal {\n address 127.0.0.1:26\n");
    for (unsigned i = 0; i < 4096; i += 8) {
        n += (size_t)snprintf(t + n, cap - n, " allow");
        for (unsigned j = i; j < i + 8; j++)
            n += (size_t)snprintf(t + n, cap - n, " 10.%u.%u.0/24", j / 256, j % 256);
        n += (size_t)snprintf(t + n, cap - n, "\n");
    }
    (void)snprintf(t + n, cap - n, "}\n");
    c = expect_ok("4096 networks", t);
    assert_int_equal(c->listens[0].n_allow, 4096);
    {
        unsigned char a[4] = {10, 15, 255, 9};

        assert_true(conf_cidr_match(c->listens[0].allow, c->listens[0].n_allow, AF_INET, a));
        a[1] = 16;
        assert_false(conf_cidr_match(c->listens[0].allow, c->listens[0].n_allow, AF_INET, a));
    }
    conf_unref(c);
    (void)snprintf(t + n, cap - n, " allow 11.0.0.0/8\n}\n");
    expect_error("4097 networks", t, 515, "too many allow networks (at most 4096)");

    /* the same cap for auth { lockout-exempt }, named by its block */
    n = (size_t)snprintf(t, cap, "auth {\n passwd /p\n");
    for (unsigned i = 0; i < 4096; i += 8) {
        n += (size_t)snprintf(t + n, cap - n, " lockout-exempt");
        for (unsigned j = i; j < i + 8; j++)
            n += (size_t)snprintf(t + n, cap - n, " 10.%u.%u.0/24", j / 256, j % 256);
        n += (size_t)snprintf(t + n, cap - n, "\n");
    }
    (void)snprintf(t + n, cap - n, "}\n" MIN);
    c = expect_ok("4096 lockout-exempt", t);
    assert_int_equal(c->n_auth_lockout_exempt, 4096);
    conf_unref(c);
    (void)snprintf(t + n, cap - n, " lockout-exempt 11.0.0.0/8\n}\n" MIN);
    expect_error("4097 lockout-exempt", t, 515,
                 "auth has too many lockout-exempt networks (at most 4096)");
    free(t);
}

/* Many domains: sorted, found, duplicates caught however far apart. */
static void
test_many_domains(void **state)
{
    size_t cap = 4 * 1024 * 1024, n;
    char *t = malloc(cap);
    struct conf *c;
    char name[64];

    (void)state;
    assert_non_null(t);
    n = (size_t)snprintf(t, cap, MIN_LISTEN);
    for (unsigned i = 0; i < 20000; i++)
        n += (size_t)snprintf(t + n, cap - n, "domain d%u.example {}\n", (i * 7919u) % 20000);
    c = expect_ok("20000 domains", t);
    assert_int_equal(c->n_domains, 20000);
    for (unsigned i = 0; i < 20000; i += 997) {
        (void)snprintf(name, sizeof name, "D%u.EXAMPLE.", i);
        assert_non_null(conf_find_domain(c, name, strlen(name)));
    }
    assert_null(conf_find_domain(c, "d20000.example", 14));
    conf_unref(c);
    (void)snprintf(t + n, cap - n, "domain D0.example {}\n");
    expect_error("duplicate far apart", t, 20004,
                 "duplicate domain 'd0.example' (first at line 4)");
    free(t);
}

/* conf_load_text(): the same parser on text in memory, named and based by path. */
static void
test_load_text(void **state)
{
    static const char text[] = "spool spool\n" MIN;
    static const char bad[] = MIN "max-sessions 0\n";
    char err[512], path[CAP_PATH], want[CAP_PATH];
    struct conf *c;

    (void)state;
    (void)snprintf(path, sizeof path, "%s/never-written.conf", tmpdir);
    c = conf_load_text(path, text, sizeof text - 1, err, sizeof err);
    assert_non_null(c);
    assert_string_equal(c->path, path);
    (void)snprintf(want, sizeof want, "%s/spool", tmpdir);
    assert_string_equal(c->spool, want);
    conf_unref(c);

    assert_null(conf_load_text("-", bad, sizeof bad - 1, err, sizeof err));
    assert_string_equal(err, "-:6: expected a number from 1 to 1000000, found '0'");
    assert_null(conf_load_text("x.conf", "", 0, err, sizeof err));
    assert_string_equal(err, "x.conf:1: no listen block: gate26 would accept no mail");
    assert_null(conf_load_text("x.conf", "a\0", 2, err, sizeof err));
    assert_string_equal(err, "x.conf:1: NUL byte in the file (is it a text file?)");
}

static void
test_ref(void **state)
{
    struct conf *c = expect_ok("ref", MIN);

    (void)state;
    assert_int_equal(c->refs, 1);
    assert_ptr_equal(conf_ref(c), c);
    assert_int_equal(c->refs, 2);
    conf_unref(c);
    assert_int_equal(c->refs, 1);
    conf_unref(c); /* freed: LeakSanitizer would see a leak otherwise */
    conf_unref(NULL);
}

/* ---- TLS: certificate pairs, CA file, ciphers, outbound policies ---- */

/* The lines of the keys the daemon's start-up checks name (0: not written, a default). */
static void
test_key_lines(void **state)
{
    struct conf *c;

    (void)state;
    c = expect_ok("none written", MIN);
    assert_int_equal(c->hostname_line, 0);
    assert_int_equal(c->spool_line, 0);
    assert_int_equal(c->user_line, 0);
    assert_int_equal(c->auth_line, 0);
    assert_int_equal(c->auth_passwd_line, 0);
    assert_int_equal(c->tls_ca_file_line, 0);
    assert_int_equal(c->tls_ciphers_line, 0);
    conf_unref(c);
    c = expect_ok("all written", "# top\nhostname mx.example\n\nspool /var/spool/x\n" MIN
                                 "user gate26\nauth {\n    max-failures 3/1m\n"
                                 "    passwd /etc/gate26/passwd\n}\n");
    assert_int_equal(c->hostname_line, 2);
    assert_int_equal(c->spool_line, 4);
    assert_int_equal(c->user_line, 10);
    assert_int_equal(c->auth_line, 11);
    assert_int_equal(c->auth_passwd_line, 13);
    conf_unref(c);
}

static void
test_tls_keys(void **state)
{
    struct conf *c;
    const struct conf_domain *d;
    char want[CAP_PATH];

    (void)state;
    c = expect_ok("three pairs", "tls {\n"
                                 "    cert cert.pem\n"
                                 "    key  key.pem\n"
                                 "    cert @DIR@/cert2.pem   # b.example\n"
                                 "    key  key2.pem\n"
                                 "    ca-file ca.pem\n"
                                 "    cert cert3.pem\n"
                                 "    key  key3.pem\n"
                                 "    ciphers \"ECDHE-ECDSA-AES128-GCM-SHA256:!aNULL\"\n"
                                 "}\n" MIN);
    assert_true(c->has_tls);
    assert_int_equal(c->n_tls_pairs, 3);
    (void)snprintf(want, sizeof want, "%s/cert.pem", tmpdir);
    assert_string_equal(c->tls_cert, want);
    assert_string_equal(c->tls_pairs[0].cert, want);
    (void)snprintf(want, sizeof want, "%s/key.pem", tmpdir);
    assert_string_equal(c->tls_key, want);
    assert_string_equal(c->tls_pairs[0].key, want);
    assert_int_equal(c->tls_pairs[0].line, 2);
    (void)snprintf(want, sizeof want, "%s/cert2.pem", tmpdir);
    assert_string_equal(c->tls_pairs[1].cert, want);
    (void)snprintf(want, sizeof want, "%s/key2.pem", tmpdir);
    assert_string_equal(c->tls_pairs[1].key, want);
    assert_int_equal(c->tls_pairs[1].line, 4);
    (void)snprintf(want, sizeof want, "%s/key3.pem", tmpdir);
    assert_string_equal(c->tls_pairs[2].key, want);
    assert_int_equal(c->tls_pairs[2].line, 7);
    /* where each file was named, for the daemon's messages about it */
    assert_int_equal(c->tls_pairs[0].key_line, 3);
    assert_int_equal(c->tls_pairs[1].key_line, 5);
    assert_int_equal(c->tls_pairs[2].key_line, 8);
    assert_int_equal(c->tls_ca_file_line, 6);
    assert_int_equal(c->tls_ciphers_line, 9);
    (void)snprintf(want, sizeof want, "%s/ca.pem", tmpdir);
    assert_string_equal(c->tls_ca_file, want);
    assert_string_equal(c->tls_ciphers, "ECDHE-ECDSA-AES128-GCM-SHA256:!aNULL");
    assert_int_equal(c->listens[0].tls, CONF_TLS_STARTTLS);
    conf_unref(c);

    /* one pair: the defaults of the other keys */
    c = expect_ok("one pair", TLS_BLOCK MIN);
    assert_int_equal(c->n_tls_pairs, 1);
    assert_string_equal(c->tls_ca_file, "");
    assert_string_equal(c->tls_ciphers, "");
    assert_int_equal(c->tls_policy, CONF_TLS_POLICY_MAY);
    assert_int_equal(c->domains[0].tls_policy, CONF_TLS_POLICY_MAY);
    assert_false(c->domains[0].has_tls_policy);
    conf_unref(c);

    /* no certificate: outgoing TLS settings alone; listeners cannot use TLS */
    c = expect_ok("ca-file only", "tls {\n    ca-file @DIR@/ca.pem\n}\n" MIN);
    assert_false(c->has_tls);
    assert_int_equal(c->n_tls_pairs, 0);
    assert_string_equal(c->tls_cert, "");
    assert_int_equal(c->listens[0].tls, CONF_TLS_NONE);
    conf_unref(c);
    c = expect_ok("ciphers only", "tls {\n    ciphers HIGH\n}\n" MIN);
    assert_false(c->has_tls);
    conf_unref(c);
    expect_error("ca-file only, starttls",
                 "tls {\n ca-file @DIR@/ca.pem\n}\n"
                 "listen inbound {\n address 127.0.0.1:25\n tls starttls\n}\n" MIN_DOMAIN,
                 4, "tls starttls needs a tls { cert ... key ... } block");

    /* outbound policies: per domain, else the delivery block's, wherever it is written */
    c = expect_ok("policies", MIN_LISTEN "domain a.example {\n tls verify\n}\n"
                                         "domain b.example {\n relay smtp://[10.0.0.5]\n"
                                         " tls none\n}\n"
                                         "domain c.example {}\n"
                                         "domain d.example {\n tls may\n}\n"
                                         "domain e.example {\n tls encrypt\n}\n"
                                         "delivery {\n tls encrypt\n}\n"
                                         "domain f.example {}\n");
    assert_int_equal(c->tls_policy, CONF_TLS_POLICY_ENCRYPT);
    static const struct {
        const char *name;
        enum conf_tls_policy policy;
        bool own;
    } rows[] = {
        {"a.example", CONF_TLS_POLICY_VERIFY, true},
        {"b.example", CONF_TLS_POLICY_NONE, true},
        {"c.example", CONF_TLS_POLICY_ENCRYPT, false},
        {"d.example", CONF_TLS_POLICY_MAY, true},
        {"e.example", CONF_TLS_POLICY_ENCRYPT, true},
        {"f.example", CONF_TLS_POLICY_ENCRYPT, false},
    };
    for (size_t i = 0; i < N_OF(rows); i++) {
        d = conf_find_domain(c, rows[i].name, strlen(rows[i].name));
        assert_non_null(d);
        if (d->tls_policy != rows[i].policy || d->has_tls_policy != rows[i].own) {
            print_error("row %s: want %s own=%d, got %s own=%d\n", rows[i].name,
                        conf_tls_policy_name(rows[i].policy), rows[i].own,
                        conf_tls_policy_name(d->tls_policy), d->has_tls_policy);
            fail();
        }
    }
    d = conf_find_domain(c, "b.example", 9);
    assert_int_equal(d->relay.n, 1);
    conf_unref(c);

    c = expect_ok("delivery none", MIN "delivery {\n tls none\n}\n");
    assert_int_equal(c->tls_policy, CONF_TLS_POLICY_NONE);
    assert_int_equal(c->domains[0].tls_policy, CONF_TLS_POLICY_NONE);
    conf_unref(c);

    /* tls-policy lines for remote domains: exact first, then the longest .parent */
    c = expect_ok("tls-policy", MIN_LISTEN "domain ours.example {\n tls encrypt\n}\n"
                                           "delivery {\n tls may\n"
                                           " tls-policy Bank.Example verify\n"
                                           " tls-policy .example none\n"
                                           " tls-policy .corp.example encrypt\n"
                                           " tls-policy corp.example verify\n}\n");
    assert_int_equal(c->n_tls_dests, 4);
    static const struct {
        const char *domain;
        enum conf_tls_policy policy;
    } dests[] = {
        {"bank.example", CONF_TLS_POLICY_VERIFY}, {"mx.bank.example", CONF_TLS_POLICY_NONE},
        {"corp.example", CONF_TLS_POLICY_VERIFY}, {"a.corp.example", CONF_TLS_POLICY_ENCRYPT},
        {"x.example", CONF_TLS_POLICY_NONE},      {"example", CONF_TLS_POLICY_MAY},
        {"ours.example", CONF_TLS_POLICY_NONE},   {"elsewhere.test", CONF_TLS_POLICY_MAY},
        {"xexample", CONF_TLS_POLICY_MAY},        {"a.xcorp.example", CONF_TLS_POLICY_NONE},
    };
    for (size_t i = 0; i < N_OF(dests); i++) {
        enum conf_tls_policy got = conf_tls_policy_for(c, dests[i].domain);

        if (got != dests[i].policy) {
            print_error("domain %s: want %s, got %s\n", dests[i].domain,
                        conf_tls_policy_name(dests[i].policy), conf_tls_policy_name(got));
            fail();
        }
    }
    conf_unref(c);
    expect_error("tls-policy one value", MIN "delivery {\n tls-policy a.example\n}\n", 7,
                 "expected tls-policy DOMAIN none|may|encrypt|verify");
    expect_error("tls-policy bad policy", MIN "delivery {\n tls-policy a.example maybe\n}\n", 7,
                 "expected tls none, tls may, tls encrypt or tls verify, found 'maybe'");
}

/* CONF_TLS_PAIRS_MAX pairs load; one more is refused on its cert line. */
static void
test_tls_pair_cap(void **state)
{
    size_t cap = 64 * 1024, n;
    char *t = malloc(cap);
    char path[CAP_PATH];
    struct conf *c;

    (void)state;
    assert_non_null(t);
    for (unsigned i = 0; i <= CONF_TLS_PAIRS_MAX; i++) {
        (void)snprintf(path, sizeof path, "%s/many%u.pem", tmpdir, i);
        write_file(path, "", 0);
    }
    n = (size_t)snprintf(t, cap, "tls {\n");
    for (unsigned i = 0; i < CONF_TLS_PAIRS_MAX; i++)
        n += (size_t)snprintf(t + n, cap - n, " cert many%u.pem\n key key.pem\n", i);
    (void)snprintf(t + n, cap - n, "}\n" MIN);
    c = expect_ok("32 pairs", t);
    assert_int_equal(c->n_tls_pairs, CONF_TLS_PAIRS_MAX);
    (void)snprintf(path, sizeof path, "%s/many31.pem", tmpdir);
    assert_string_equal(c->tls_pairs[31].cert, path);
    conf_unref(c);
    (void)snprintf(t + n, cap - n, " cert many%u.pem\n key key.pem\n}\n" MIN, CONF_TLS_PAIRS_MAX);
    expect_error("33 pairs", t, 2 + 2 * CONF_TLS_PAIRS_MAX,
                 "tls block has too many certificates (at most 32)");
    for (unsigned i = 0; i <= CONF_TLS_PAIRS_MAX; i++) {
        (void)snprintf(path, sizeof path, "%s/many%u.pem", tmpdir, i);
        (void)unlink(path);
    }
    free(t);
}

/*
 * domain { verify-recipients callout | FILE | off } and callout-timeout: the
 * default follows the relay, callout needs a relay, FILE is a readable path
 * (relative to the file's directory) named once however many blocks share
 * it, and the words are exact ("./off" is a file).
 */
static void
test_verify_recipients(void **state)
{
    static const struct {
        const char *body; /* the inside of domain a.example */
        enum conf_verify verify;
        const char *file; /* "" when not a file */
    } rows[] = {
        {"", CONF_VERIFY_OFF, ""},
        {" relay smtp://10.0.0.5\n", CONF_VERIFY_CALLOUT, ""},
        {" verify-recipients callout\n relay smtp://10.0.0.5\n", CONF_VERIFY_CALLOUT, ""},
        {" relay smtp://10.0.0.5\n verify-recipients off\n", CONF_VERIFY_OFF, ""},
        {" verify-recipients off\n", CONF_VERIFY_OFF, ""},
        {" verify-recipients ca.pem\n", CONF_VERIFY_FILE, "@DIR@/ca.pem"},
        {" verify-recipients @DIR@/ca.pem\n relay smtp://10.0.0.5\n", CONF_VERIFY_FILE,
         "@DIR@/ca.pem"},
        {" verify-recipients ./off\n", CONF_VERIFY_FILE, "@DIR@/off"},
        {" verify-recipients \"ca.pem\"\n", CONF_VERIFY_FILE, "@DIR@/ca.pem"},
    };
    static const struct {
        const char *name, *text;
        unsigned line;
        const char *phrase;
    } errors[] = {
        {"callout without relay", MIN_LISTEN "domain a.example {\n verify-recipients callout\n}\n",
         5, "verify-recipients callout needs a relay in the domain block"},
        {"callout without relay, last line",
         MIN_LISTEN "domain a.example {\n tls may\n\n verify-recipients callout\n}\n", 7,
         "needs a relay"},
        {"word in upper case", MIN_LISTEN "domain a.example {\n verify-recipients OFF\n}\n", 5,
         "expected callout, off or a file, found 'OFF' (the words are lower case; a file of that "
         "name is written ./OFF)"},
        {"Callout", MIN_LISTEN "domain a.example {\n verify-recipients Callout\n}\n", 5,
         "found 'Callout'"},
        {"missing file", MIN_LISTEN "domain a.example {\n verify-recipients nothere\n}\n", 5,
         "cannot read verify-recipients list '@DIR@/nothere': No such file or directory"},
        {"directory", MIN_LISTEN "domain a.example {\n verify-recipients @DIR@\n}\n", 5,
         "cannot read verify-recipients list '@DIR@': Is a directory"},
        {"empty path", MIN_LISTEN "domain a.example {\n verify-recipients \"\"\n}\n", 5,
         "expected a path, found an empty string"},
        {"two values", MIN_LISTEN "domain a.example {\n verify-recipients callout off\n}\n", 5,
         "'verify-recipients' takes one value, found 2"},
        {"twice",
         MIN_LISTEN "domain a.example {\n verify-recipients off\n verify-recipients off\n}\n", 6,
         "duplicate key 'verify-recipients' (first at line 5)"},
        {"at top level", "verify-recipients off\n" MIN, 1, "unknown key 'verify-recipients'"},
        {"timeout zero", "callout-timeout 0\n" MIN, 1,
         "duration '0' is out of range (from 1s to 4m)"},
        {"timeout over 4m", "callout-timeout 241s\n" MIN, 1, "241s"},
        {"timeout words", "callout-timeout off\n" MIN, 1, "off"},
    };

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        char text[512];
        const struct conf_domain *d;
        struct conf *c;

        (void)snprintf(text, sizeof text, MIN_LISTEN "domain a.example {\n%s}\n", rows[i].body);
        c = expect_ok("verify", text);
        d = conf_find_domain(c, "a.example", 9);
        assert_non_null(d);
        assert_int_equal(d->verify, rows[i].verify);
        assert_int_equal(c->callout_timeout, 30);
        if (rows[i].file[0] != '\0') {
            char *want = subst(rows[i].file, strlen(rows[i].file), NULL);

            assert_int_equal(c->n_verify_files, 1);
            assert_int_equal(d->verify_file, 0);
            assert_string_equal(c->verify_files[0].path, want);
            assert_int_equal(c->verify_files[0].line, 5);
            free(want);
        } else {
            assert_int_equal(c->n_verify_files, 0);
        }
        conf_unref(c);
    }
    for (size_t i = 0; i < N_OF(errors); i++)
        expect_error(errors[i].name, errors[i].text, errors[i].line, errors[i].phrase);

    /* One file named by two blocks (in two spellings) is one list; another is a second. */
    {
        struct conf *c =
            expect_ok("shared list", "callout-timeout 4m\n" MIN_LISTEN
                                     "domain b.example {\n verify-recipients ca.pem\n}\n"
                                     "domain a.example {\n verify-recipients "
                                     "@DIR@/ca.pem\n}\n"
                                     "domain c.example {\n verify-recipients off\n}\n"
                                     "domain d.example {\n verify-recipients ./off\n}\n");
        const struct conf_domain *a = conf_find_domain(c, "a.example", 9);
        const struct conf_domain *b = conf_find_domain(c, "B.example.", 10);
        const struct conf_domain *d = conf_find_domain(c, "d.example", 9);

        assert_int_equal(c->callout_timeout, 240);
        assert_int_equal(c->n_verify_files, 2);
        assert_int_equal(c->verify_files[0].line, 6);
        assert_int_equal(c->verify_files[1].line, 15);
        assert_int_equal(a->verify, CONF_VERIFY_FILE);
        assert_int_equal(b->verify, CONF_VERIFY_FILE);
        assert_int_equal(a->verify_file, 0);
        assert_int_equal(b->verify_file, 0);
        assert_int_equal(d->verify_file, 1);
        assert_int_equal(conf_find_domain(c, "c.example", 9)->verify, CONF_VERIFY_OFF);
        conf_unref(c);
    }
}

/* ---- metrics { ... } ---- */

/* The SHA-256 of text, for comparing with what conf keeps. */
static void
sha256_of(const char *text, unsigned char out[CONF_METRICS_DIGEST_LEN])
{
    char err[256];

    /* A valid bearer token is hashed as written: use the parser itself on a known-good form. */
    assert_int_equal(conf_metrics_secret_parse(CONF_METRICS_AUTH_BEARER, text, strlen(text), out,
                                               err, sizeof err),
                     0);
}

static void
test_metrics_block(void **state)
{
    static const unsigned char localhost6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const unsigned char ten[4] = {10, 1, 2, 3}, lo[4] = {127, 0, 0, 9};
    unsigned char want[CONF_METRICS_DIGEST_LEN], two[CONF_METRICS_DIGEST_LEN];
    char err[256];
    struct conf *c;

    (void)state;
    /* No block: no endpoint. */
    c = expect_ok("none", MIN);
    assert_int_equal(c->metrics.line, 0);
    assert_int_equal(c->metrics.n_addrs, 0);
    conf_unref(c);

    /* Defaults: loopback alone may scrape, no credentials. */
    c = expect_ok("default allow", MIN "metrics {\n address 127.0.0.1:9126\n}\n");
    assert_int_equal(c->metrics.line, 6);
    assert_int_equal(c->metrics.n_addrs, 1);
    assert_string_equal(c->metrics.addrs[0].text, "127.0.0.1:9126");
    assert_int_equal(c->metrics.addrs[0].line, 7);
    assert_int_equal(c->metrics.auth, CONF_METRICS_AUTH_NONE);
    assert_int_equal(c->metrics.n_allow, 2);
    assert_true(conf_cidr_match(c->metrics.allow, c->metrics.n_allow, AF_INET, lo));
    assert_true(conf_cidr_match(c->metrics.allow, c->metrics.n_allow, AF_INET6, localhost6));
    assert_false(conf_cidr_match(c->metrics.allow, c->metrics.n_allow, AF_INET, ten));
    conf_unref(c);

    /* Several addresses, over several lines; an allow list replaces the default. */
    c = expect_ok("addresses and allow", "metrics {\n address 127.0.0.1:9126 [::1]:9126\n"
                                         " address 127.0.0.2:9127\n allow 10.0.0.0/8\n}\n" MIN);
    assert_int_equal(c->metrics.n_addrs, 3);
    assert_string_equal(c->metrics.addrs[1].text, "[::1]:9126");
    assert_int_equal(c->metrics.n_allow, 1);
    assert_true(conf_cidr_match(c->metrics.allow, c->metrics.n_allow, AF_INET, ten));
    assert_false(conf_cidr_match(c->metrics.allow, c->metrics.n_allow, AF_INET, lo));
    conf_unref(c);

    /* Credentials: only their digest is kept; a relative path is the conf's directory's. */
    write_mode("token", "0123456789abcdef0123456789abcdef\n", 0640);
    c = expect_ok("bearer",
                  MIN "metrics {\n address 127.0.0.1:9126\n bearer-token-file token\n}\n");
    assert_int_equal(c->metrics.auth, CONF_METRICS_AUTH_BEARER);
    assert_int_equal(c->metrics.auth_line, 8);
    assert_non_null(strstr(c->metrics.auth_file, "/token"));
    sha256_of("0123456789abcdef0123456789abcdef", want);
    assert_memory_equal(c->metrics.auth_digest, want, sizeof want);
    conf_unref(c);

    write_mode("basic", "prometheus:s3cret:with colon\n", 0600);
    c = expect_ok("basic", MIN "metrics {\n address 127.0.0.1:9126\n basic-auth-file basic\n}\n");
    assert_int_equal(c->metrics.auth, CONF_METRICS_AUTH_BASIC);
    assert_int_equal(conf_metrics_secret_parse(CONF_METRICS_AUTH_BASIC,
                                               "prometheus:s3cret:with colon", 28, two, err,
                                               sizeof err),
                     0);
    assert_memory_equal(c->metrics.auth_digest, two, sizeof two);
    /* Not the digest of the token file: each secret its own. */
    assert_memory_not_equal(two, want, sizeof want);
    conf_unref(c);
}

static void
test_metrics_errors(void **state)
{
    static const struct {
        const char *name;
        const char *text;
        unsigned line;
        const char *phrase;
    } rows[] = {
        {"no address", MIN "metrics {\n allow 127.0.0.1\n}\n", 6,
         "metrics block needs 'address IP:PORT' (such as 127.0.0.1:9126)"},
        {"empty block", MIN "metrics {\n}\n", 6, "metrics block needs 'address IP:PORT'"},
        {"empty block one line", MIN "metrics { }\n", 6, "metrics block needs 'address"},
        {"label", MIN "metrics prometheus {\n address 127.0.0.1:9126\n}\n", 6,
         "expected '{' after 'metrics', found 'prometheus' (metrics takes no label)"},
        {"twice",
         MIN "metrics {\n address 127.0.0.1:9126\n}\nmetrics {\n address 127.0.0.1:9127\n}\n", 9,
         "duplicate block 'metrics' (first at line 6)"},
        {"unknown key", MIN "metrics {\n address 127.0.0.1:9126\n port 9126\n}\n", 8,
         "unknown key 'port' in metrics block (expected one of: address, allow, "
         "bearer-token-file, basic-auth-file)"},
        {"path key", MIN "metrics {\n address 127.0.0.1:9126\n path /metrics\n}\n", 8,
         "unknown key 'path' in metrics block"},
        {"bad address", MIN "metrics {\n address localhost:9126\n}\n", 7,
         "(names are not looked up)"},
        {"no port", MIN "metrics {\n address 127.0.0.1\n}\n", 7, "expected a port after ':'"},
        {"port 0", MIN "metrics {\n address 127.0.0.1:0\n}\n", 7,
         "expected a port from 1 to 65535"},
        {"address twice", MIN "metrics {\n address 127.0.0.1:9126 127.0.0.1:9126\n}\n", 7,
         "duplicate address 127.0.0.1:9126 (first at line 7)"},
        {"a door's address", MIN "metrics {\n address 127.0.0.1:2525\n}\n", 7,
         "duplicate address 127.0.0.1:2525 (first at line 2)"},
        {"a door's address, door after", "metrics {\n address 127.0.0.1:2525\n}\n" MIN, 5,
         "duplicate address 127.0.0.1:2525 (first at line 2)"},
        {"wildcard over a door", MIN "metrics {\n address 0.0.0.0:2525\n}\n", 7,
         "address 0.0.0.0:2525 overlaps 127.0.0.1:2525 (line 2): a wildcard address takes port "
         "2525"},
        {"too many addresses",
         MIN "metrics {\n address 127.0.0.1:9001 127.0.0.1:9002 127.0.0.1:9003 127.0.0.1:9004 "
             "127.0.0.1:9005 127.0.0.1:9006 127.0.0.1:9007 127.0.0.1:9008 127.0.0.1:9009 "
             "127.0.0.1:9010 127.0.0.1:9011 127.0.0.1:9012 127.0.0.1:9013 127.0.0.1:9014 "
             "127.0.0.1:9015 127.0.0.1:9016 127.0.0.1:9017\n}\n",
         7, "metrics has too many addresses (at most 16)"},
        {"bad network", MIN "metrics {\n address 127.0.0.1:9126\n allow 10.0.0.0/33\n}\n", 8,
         "10.0.0.0/33"},
        {"allow name", MIN "metrics {\n address 127.0.0.1:9126\n allow prometheus.example\n}\n", 8,
         "prometheus.example"},
        {"allow nothing", MIN "metrics {\n address 127.0.0.1:9126\n allow\n}\n", 8,
         "expected a value after 'allow'"},
        {"both credentials",
         MIN "metrics {\n address 127.0.0.1:9126\n bearer-token-file @DIR@/m.token\n"
             " basic-auth-file @DIR@/m.basic\n}\n",
         9,
         "metrics takes bearer-token-file or basic-auth-file, not both (the other is at line 8)"},
        {"token twice",
         MIN "metrics {\n address 127.0.0.1:9126\n bearer-token-file @DIR@/m.token\n"
             " bearer-token-file @DIR@/m.token\n}\n",
         9, "duplicate key 'bearer-token-file' (first at line 8)"},
        {"token missing",
         MIN "metrics {\n address 127.0.0.1:9126\n bearer-token-file /nonexistent\n}\n", 8,
         "cannot read bearer-token-file '/nonexistent': No such file or directory"},
        {"token directory", MIN "metrics {\n address 127.0.0.1:9126\n bearer-token-file @DIR@\n}\n",
         8, "bearer-token-file '@DIR@' is not a regular file"},
        {"token open to others",
         MIN "metrics {\n address 127.0.0.1:9126\n bearer-token-file @DIR@/m.open\n}\n", 8,
         "bearer-token-file '@DIR@/m.open' is open to others (mode 0644): it holds a secret in "
         "clear"},
        {"token short",
         MIN "metrics {\n address 127.0.0.1:9126\n bearer-token-file @DIR@/m.short\n}\n", 8,
         "bearer-token-file '@DIR@/m.short': expected a token of 16 to 1024 characters, found 6"},
        {"token two words",
         MIN "metrics {\n address 127.0.0.1:9126\n bearer-token-file m.space\n}\n", 8,
         "unexpected character 0x20 at octet 17 of the token"},
        {"token in basic", MIN "metrics {\n address 127.0.0.1:9126\n basic-auth-file m.token\n}\n",
         8, "basic-auth-file '@DIR@/m.token': expected USER:PASSWORD (no ':' in the file)"},
        {"basic missing",
         MIN "metrics {\n address 127.0.0.1:9126\n basic-auth-file /nonexistent\n}\n", 8,
         "cannot read basic-auth-file '/nonexistent'"},
        {"basic no user", MIN "metrics {\n address 127.0.0.1:9126\n basic-auth-file m.nouser\n}\n",
         8, "expected a user name of 1 to 255 octets before ':', found 0"},
        {"two paths", MIN "metrics {\n address 127.0.0.1:9126\n bearer-token-file a b\n}\n", 8,
         "'bearer-token-file' takes one value, found 2 (quote a path that has spaces)"},
    };

    (void)state;
    write_mode("m.token", "0123456789abcdef0123456789abcdef\n", 0600);
    write_mode("m.basic", "user:password\n", 0600);
    write_mode("m.open", "0123456789abcdef0123456789abcdef\n", 0644);
    write_mode("m.short", "abcdef\n", 0600);
    write_mode("m.space", "0123456789abcdef 0123456789abcdef\n", 0600);
    write_mode("m.nouser", ":password\n", 0600);
    for (size_t i = 0; i < N_OF(rows); i++)
        expect_error(rows[i].name, rows[i].text, rows[i].line, rows[i].phrase);
}

/* The credential files alone: a table of texts, hostile rows included. */
static void
test_metrics_secret_parse(void **state)
{
    static char long_token[CONF_METRICS_TOKEN_MAX + 2];
    static char max_token[CONF_METRICS_TOKEN_MAX + 1];
    static char long_user[CONF_METRICS_BASIC_MAX + 8];
    static const struct {
        enum conf_metrics_auth kind;
        const char *text;
        size_t len;        /* 0: strlen */
        const char *error; /* NULL: accepted */
    } rows[] = {
        {CONF_METRICS_AUTH_BEARER, "0123456789abcdef", 0, NULL},
        {CONF_METRICS_AUTH_BEARER, "0123456789abcdef\n", 0, NULL},
        {CONF_METRICS_AUTH_BEARER, "abcdefghijklmnop-._~+/==", 0, NULL},
        {CONF_METRICS_AUTH_BEARER, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", 0, NULL},
        {CONF_METRICS_AUTH_BEARER, "", 0, "the file is empty (expected one token)"},
        {CONF_METRICS_AUTH_BEARER, "\n", 0, "expected a token of 16 to 1024 characters, found 0"},
        {CONF_METRICS_AUTH_BEARER, "0123456789abcde", 0, "found 15"},
        {CONF_METRICS_AUTH_BEARER, "0123456789abcdef\n\n", 0, "expected one line, found more"},
        {CONF_METRICS_AUTH_BEARER, "0123456789abcdef\nx", 0, "expected one line, found more"},
        {CONF_METRICS_AUTH_BEARER, "0123456789abcdef\r\n", 0, "the line ends in CR"},
        {CONF_METRICS_AUTH_BEARER, "Bearer 0123456789abcdef", 0, "unexpected character 0x20"},
        {CONF_METRICS_AUTH_BEARER, "0123456789abcdef=x", 0,
         "unexpected character 0x78 at octet 18"},
        {CONF_METRICS_AUTH_BEARER, "=0123456789abcdef", 0, "found character 0x3d first"},
        {CONF_METRICS_AUTH_BEARER, "0123456789abcdef\0zz", 19, "unexpected character 0x00"},
        {CONF_METRICS_AUTH_BEARER, "0123456789abcd\xc3\xa9", 0, "unexpected character 0xc3"},
        {CONF_METRICS_AUTH_BEARER, "0123456789abcdef\"", 0, "unexpected character 0x22"},
        {CONF_METRICS_AUTH_BEARER, "# a comment\n", 0, "found character 0x23 first"},
        {CONF_METRICS_AUTH_BASIC, "u:p", 0, NULL},
        {CONF_METRICS_AUTH_BASIC, "prometheus:pass word:with colon\n", 0, NULL},
        {CONF_METRICS_AUTH_BASIC, "\xc3\xa9l\xc3\xa8ve:p\xc3\xa2ss", 0, NULL},
        {CONF_METRICS_AUTH_BASIC, "", 0, "the file is empty (expected USER:PASSWORD)"},
        {CONF_METRICS_AUTH_BASIC, "user", 0, "expected USER:PASSWORD (no ':' in the file)"},
        {CONF_METRICS_AUTH_BASIC, ":pass", 0, "expected a user name of 1 to 255 octets"},
        {CONF_METRICS_AUTH_BASIC, "user:", 0, "expected a password of 1 to 255 octets"},
        {CONF_METRICS_AUTH_BASIC, "us er:pass", 0, "expected a user name without blanks"},
        {CONF_METRICS_AUTH_BASIC, "user:pa\tss", 0, "control character 0x09"},
        {CONF_METRICS_AUTH_BASIC, "user:pa\x7fss", 0, "control character 0x7f"},
        {CONF_METRICS_AUTH_BASIC, "user:pass\0", 10, "control character 0x00"},
        {CONF_METRICS_AUTH_BASIC, "user:pass\r\n", 0, "the line ends in CR"},
        {CONF_METRICS_AUTH_BASIC, "a:b\nc:d\n", 0, "expected one line, found more"},
        {CONF_METRICS_AUTH_NONE, "user:pass", 0, "no credential file for kind 0"},
    };
    unsigned char digest[CONF_METRICS_DIGEST_LEN];
    char err[256];

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        size_t len = rows[i].len != 0 ? rows[i].len : strlen(rows[i].text);
        int rc =
            conf_metrics_secret_parse(rows[i].kind, rows[i].text, len, digest, err, sizeof err);

        if (rows[i].error == NULL ? rc != 0 : rc != -1 || strstr(err, rows[i].error) == NULL) {
            print_error("row %zu: want %s, got %d '%s'\n", i,
                        rows[i].error ? rows[i].error : "success", rc, rc ? err : "");
            fail();
        }
        /* A message never quotes the secret. */
        if (rc == -1 && len > 8)
            assert_null(strstr(err, rows[i].text));
    }
    /* The lengths at the caps. */
    memset(max_token, 'a', CONF_METRICS_TOKEN_MAX);
    assert_int_equal(conf_metrics_secret_parse(CONF_METRICS_AUTH_BEARER, max_token,
                                               CONF_METRICS_TOKEN_MAX, digest, err, sizeof err),
                     0);
    memset(long_token, 'a', CONF_METRICS_TOKEN_MAX + 1);
    assert_int_equal(conf_metrics_secret_parse(CONF_METRICS_AUTH_BEARER, long_token,
                                               CONF_METRICS_TOKEN_MAX + 1, digest, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "found 1025"));
    memset(long_user, 'u', CONF_METRICS_BASIC_MAX + 1);
    long_user[CONF_METRICS_BASIC_MAX + 1] = ':';
    long_user[CONF_METRICS_BASIC_MAX + 2] = 'p';
    assert_int_equal(conf_metrics_secret_parse(CONF_METRICS_AUTH_BASIC, long_user,
                                               CONF_METRICS_BASIC_MAX + 3, digest, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "found 256"));
    /* The digest is SHA-256 of the line without its LF. */
    {
        static const unsigned char abc16[CONF_METRICS_DIGEST_LEN] = {
            0xf3, 0x9d, 0xac, 0x6c, 0xba, 0xba, 0x53, 0x5e, 0x2c, 0x20, 0x7c,
            0xd0, 0xcd, 0x8f, 0x15, 0x49, 0x74, 0x22, 0x3c, 0x84, 0x8f, 0x72,
            0x7f, 0x98, 0xb3, 0x56, 0x4c, 0xea, 0x56, 0x9b, 0x41, 0xcf};
        unsigned char with_lf[CONF_METRICS_DIGEST_LEN];

        assert_int_equal(conf_metrics_secret_parse(CONF_METRICS_AUTH_BEARER, "abcdefghijklmnop", 16,
                                                   digest, err, sizeof err),
                         0);
        assert_int_equal(conf_metrics_secret_parse(CONF_METRICS_AUTH_BEARER, "abcdefghijklmnop\n",
                                                   17, with_lf, err, sizeof err),
                         0);
        assert_memory_equal(digest, abc16, sizeof digest);
        assert_memory_equal(digest, with_lf, sizeof digest);
    }
}

/* ---- alert blocks (docs/watch.md) ---- */

/* The doors of the alert tests: internal (no AUTH) and submission (AUTH). */
#define ALERT_DOORS                                                                                \
    TLS_BLOCK AUTH_BLOCK                                                                           \
        "listen internal {\n    address 127.0.0.1:2626\n    allow 127.0.0.0/8\n}\n"                \
        "listen submission {\n    address 127.0.0.1:2587\n}\n"

/* The issue's two rules, as written there. */
static const char alert_example[] = ALERT_DOORS
    "alert auth-burst {              # the label is the rule's name\n"
    "    when     failed-auth        # what is counted (list below)\n"
    "    over     20 in 5m           # threshold and sliding window\n"
    "    per      client             # client | user | door | all\n"
    "    door     submission         # optional, repeatable: only these doors\n"
    "    webhook  https://ops.example.com/hooks/gate26   # actions, each optional, repeatable\n"
    "    mail     postmaster@example.com\n"
    "    exec     /bin/true\n"
    "}\n"
    "alert compromised-host {\n"
    "    when     spike              # a client's messages per minute against its own baseline\n"
    "    factor   3                  # fire at 3x the baseline...\n"
    "    baseline 1h                 # ...learned over this long (exponentially weighted)\n"
    "    min      30 in 5m           # and never below this absolute floor\n"
    "    per      client\n"
    "    door     internal\n"
    "    action   hold               # mail from it is accepted and held, not delivered\n"
    "}\n";

static void
test_alerts(void **state)
{
    struct conf *c;
    const struct conf_alert *a;

    (void)state;
    c = expect_ok("issue example", alert_example);
    assert_int_equal(c->n_alerts, 2);
    a = &c->alerts[0];
    assert_string_equal(a->name, "auth-burst");
    assert_int_equal(a->when, CONF_ALERT_FAILED_AUTH);
    assert_int_equal(a->threshold, 20);
    assert_int_equal(a->window, 300);
    assert_int_equal(a->per, CONF_ALERT_PER_CLIENT);
    assert_int_equal(a->doors, 1u << DOOR_SUBMISSION);
    assert_int_equal(a->n_webhooks, 1);
    assert_string_equal(a->webhooks[0], "https://ops.example.com/hooks/gate26");
    assert_int_equal(a->n_mails, 1);
    assert_string_equal(a->mails[0], "postmaster@example.com");
    assert_int_equal(a->n_execs, 1);
    assert_string_equal(a->execs[0], "/bin/true");
    assert_false(a->hold);
    a = &c->alerts[1];
    assert_string_equal(a->name, "compromised-host");
    assert_int_equal(a->when, CONF_ALERT_SPIKE);
    assert_true(a->factor == 3.0);
    assert_int_equal(a->baseline, 3600);
    assert_int_equal(a->threshold, 30);
    assert_int_equal(a->window, 300);
    assert_int_equal(a->doors, 1u << DOOR_INTERNAL);
    assert_true(a->hold);
    assert_false(conf_alert_same_counting(&c->alerts[0], &c->alerts[1]));
    assert_true(conf_alert_same_counting(&c->alerts[1], &c->alerts[1]));
    conf_unref(c);

    /* Defaults, the polled kinds, repeated actions and doors, a fractional factor. */
    c = expect_ok("kinds", ALERT_DOORS "alert q {\n when queue\n over 1000\n}\n"
                                       "alert old {\n when queue\n age over 1h\n}\n"
                                       "alert d {\n when deferred\n over 50 in 10m\n}\n"
                                       "alert t {\n when tls-expiry\n within 14d\n}\n"
                                       "alert s {\n when spike\n min 5 in 10s\n factor 2.5\n}\n"
                                       "alert m {\n when messages\n over 1 in 1s\n door internal "
                                       "submission\n webhook http://a.example/x\n webhook "
                                       "https://b.example:8443/y?z=1\n mail a@b.example\n mail "
                                       "c@d.example\n}\n"
                                       "alert u {\n when refused\n over 7 in 7d\n per user\n door "
                                       "submission\n}\n");
    assert_int_equal(c->n_alerts, 7);
    assert_int_equal(c->alerts[0].threshold, 1000);
    assert_int_equal(c->alerts[0].window, 0);
    assert_int_equal(c->alerts[0].age, 0);
    assert_int_equal(c->alerts[1].age, 3600);
    assert_int_equal(c->alerts[2].per, CONF_ALERT_PER_ALL);
    assert_int_equal(c->alerts[3].within, 14 * 86400);
    assert_true(c->alerts[4].factor == 2.5);
    assert_int_equal(c->alerts[4].baseline, 3600); /* the default */
    assert_int_equal(c->alerts[5].doors, (1u << DOOR_INTERNAL) | (1u << DOOR_SUBMISSION));
    assert_int_equal(c->alerts[5].n_webhooks, 2);
    assert_int_equal(c->alerts[5].n_mails, 2);
    assert_int_equal(c->alerts[6].window, 7 * 86400);
    assert_int_equal(c->alerts[6].per, CONF_ALERT_PER_USER);
    conf_unref(c);

    /* docs/scanners.md's rule. */
    c = expect_ok("scanner", ALERT_DOORS "alert scanners {\n when scanner\n over 10 in 10m\n"
                                         " per client\n webhook https://a.example/x\n}\n");
    assert_int_equal(c->alerts[0].when, CONF_ALERT_SCANNER);
    assert_int_equal(c->alerts[0].threshold, 10);
    assert_int_equal(c->alerts[0].window, 600);
    assert_int_equal(c->alerts[0].per, CONF_ALERT_PER_CLIENT);
    assert_string_equal(conf_alert_when_name(CONF_ALERT_SCANNER), "scanner");
    conf_unref(c);
}

/* Every bad input of issue 12's alerts, and more: FILE:LINE and what was expected. */
static const struct err_row alert_errors[] = {
    {"unknown when", ALERT_DOORS "alert a {\n when scanners\n over 1 in 1m\n}\n", 16,
     "unknown when 'scanners' (expected one of: failed-auth, connections, messages, refused, "
     "spike, queue, deferred, tls-expiry, scanner)"},
    {"scanner needs over", ALERT_DOORS "alert a {\n when scanner\n}\n", 15, "needs 'over'"},
    {"scanner no within", ALERT_DOORS "alert a {\n when scanner\n over 1 in 1m\n within 1d\n}\n",
     18, "within"},
    {"unknown key", ALERT_DOORS "alert a {\n when messages\n threshold 5\n}\n", 17,
     "unknown key 'threshold' in alert block (expected one of: when, over, per, door, webhook, "
     "mail, exec, factor, baseline, min, action, age, within)"},
    {"threshold 0", ALERT_DOORS "alert a {\n when failed-auth\n over 0 in 5m\n}\n", 17,
     "expected a threshold from 1 to 1000000 after 'over', found '0'"},
    {"min 0", ALERT_DOORS "alert a {\n when spike\n min 0 in 5m\n}\n", 17,
     "expected a threshold from 1 to 1000000 after 'min', found '0'"},
    {"queue over 0", ALERT_DOORS "alert a {\n when queue\n over 0\n}\n", 17,
     "expected a threshold from 1 to 1000000 after 'over', found '0'"},
    {"threshold word", ALERT_DOORS "alert a {\n when messages\n over many in 5m\n}\n", 17,
     "expected a threshold from 1 to 1000000 after 'over', found 'many'"},
    {"threshold huge",
     ALERT_DOORS "alert a {\n when messages\n over 99999999999999999999 in 5m\n}\n", 17,
     "expected a threshold from 1 to 1000000"},
    {"window 0", ALERT_DOORS "alert a {\n when failed-auth\n over 20 in 0\n}\n", 17,
     "window: duration '0' is out of range (from 1s to 7d)"},
    {"window 0m", ALERT_DOORS "alert a {\n when failed-auth\n over 20 in 0m\n}\n", 17,
     "window: duration '0m' is out of range (from 1s to 7d)"},
    {"window 8d", ALERT_DOORS "alert a {\n when failed-auth\n over 20 in 8d\n}\n", 17,
     "window: duration '8d' is out of range (from 1s to 7d)"},
    {"window 169h", ALERT_DOORS "alert a {\n when failed-auth\n over 20 in 169h\n}\n", 17,
     "window: duration '169h' is out of range (from 1s to 7d)"},
    {"min window 8d", ALERT_DOORS "alert a {\n when spike\n min 20 in 8d\n}\n", 17,
     "window: duration '8d' is out of range (from 1s to 7d)"},
    {"over without in", ALERT_DOORS "alert a {\n when failed-auth\n over 20 for 5m\n}\n", 17,
     "expected over N in DURATION (as in over 20 in 5m)"},
    {"over no window", ALERT_DOORS "alert a {\n when failed-auth\n over 20\n}\n", 17,
     "expected over N in DURATION (as in over 20 in 5m): when failed-auth counts over a sliding "
     "window"},
    {"factor under 1", ALERT_DOORS "alert a {\n when spike\n factor 0.9\n min 5 in 1m\n}\n", 17,
     "factor '0.9' is under 1: it would fire below the baseline"},
    {"factor 0", ALERT_DOORS "alert a {\n when spike\n factor 0\n min 5 in 1m\n}\n", 17,
     "factor '0' is under 1"},
    {"factor negative", ALERT_DOORS "alert a {\n when spike\n factor -3\n min 5 in 1m\n}\n", 17,
     "expected a factor from 1 to 1000 (as in 3 or 2.5), found '-3'"},
    {"factor junk", ALERT_DOORS "alert a {\n when spike\n factor 3x\n min 5 in 1m\n}\n", 17,
     "expected a factor from 1 to 1000"},
    {"factor dot", ALERT_DOORS "alert a {\n when spike\n factor 3.\n min 5 in 1m\n}\n", 17,
     "expected a factor from 1 to 1000"},
    {"factor huge", ALERT_DOORS "alert a {\n when spike\n factor 1001\n min 5 in 1m\n}\n", 17,
     "factor '1001' is over 1000"},
    {"per user no auth", ALERT_DOORS "alert a {\n when failed-auth\n over 5 in 1m\n per user\n}\n",
     18,
     "per user on door internal, which has no AUTH (listen internal at line 8): it would count "
     "nothing there (name the doors with AUTH: door submission)"},
    {"per user internal door",
     ALERT_DOORS "alert a {\n when messages\n over 5 in 1m\n per user\n door internal\n}\n", 18,
     "per user on door internal, which has no AUTH"},
    {"per user connections",
     ALERT_DOORS "alert a {\n when connections\n over 5 in 1m\n per user\n door submission\n}\n",
     18, "per user counts nothing for when connections"},
    {"per unknown", ALERT_DOORS "alert a {\n when messages\n over 5 in 1m\n per ip\n}\n", 18,
     "unknown per 'ip' (expected one of: client, user, door, all)"},
    {"hold inbound",
     ALERT_DOORS "alert a {\n when spike\n min 5 in 1m\n per client\n door inbound\n action "
                 "hold\n}\n",
     20, "action hold on the inbound door"},
    {"hold no door",
     ALERT_DOORS "alert a {\n when spike\n min 5 in 1m\n per client\n action hold\n}\n", 19,
     "action hold on the inbound door (the rule has no door line, so it watches every door)"},
    {"hold per all",
     ALERT_DOORS "alert a {\n when spike\n min 5 in 1m\n door internal\n action hold\n}\n", 19,
     "action hold needs per client or per user"},
    {"hold on queue", ALERT_DOORS "alert a {\n when queue\n over 5\n action hold\n}\n", 18,
     "'action' does not apply to when queue"},
    {"action other", ALERT_DOORS "alert a {\n when spike\n min 5 in 1m\n action block\n}\n", 18,
     "unknown action 'block' (expected hold)"},
    {"webhook ftp",
     ALERT_DOORS "alert a {\n when messages\n over 5 in 1m\n webhook ftp://x.example/\n}\n", 18,
     "webhook 'ftp://x.example/' is not an http:// or https:// URL"},
    {"webhook file",
     ALERT_DOORS "alert a {\n when messages\n over 5 in 1m\n webhook file:///etc/passwd\n}\n", 18,
     "is not an http:// or https:// URL"},
    {"webhook bare",
     ALERT_DOORS "alert a {\n when messages\n over 5 in 1m\n webhook ops.example.com\n}\n", 18,
     "webhook 'ops.example.com' is not an http:// or https:// URL"},
    {"webhook no host",
     ALERT_DOORS "alert a {\n when messages\n over 5 in 1m\n webhook https:///x\n}\n", 18,
     "no host in webhook 'https:///x'"},
    {"webhook space",
     ALERT_DOORS "alert a {\n when messages\n over 5 in 1m\n webhook \"http://a b\"\n}\n", 18,
     "holds a space or a character outside printable ASCII"},
    {"exec relative", ALERT_DOORS "alert a {\n when messages\n over 5 in 1m\n exec bin/true\n}\n",
     18, "exec 'bin/true' is not an absolute path"},
    {"exec missing",
     ALERT_DOORS "alert a {\n when messages\n over 5 in 1m\n exec /nonexistent/x\n}\n", 18,
     "cannot run exec '/nonexistent/x': No such file or directory"},
    {"exec not executable",
     ALERT_DOORS "alert a {\n when messages\n over 5 in 1m\n exec @DIR@/cert.pem\n}\n", 18,
     "exec '@DIR@/cert.pem' is not an executable file"},
    {"exec directory", ALERT_DOORS "alert a {\n when messages\n over 5 in 1m\n exec /bin\n}\n", 18,
     "exec '/bin' is not an executable file"},
    {"exec arguments",
     ALERT_DOORS "alert a {\n when messages\n over 5 in 1m\n exec /bin/echo hi\n}\n", 18,
     "'exec' takes one value, found 2 (quote a path that has spaces; the program takes no "
     "arguments)"},
    {"mail bad", ALERT_DOORS "alert a {\n when messages\n over 5 in 1m\n mail postmaster\n}\n", 18,
     "expected a mail address (local@domain), found 'postmaster'"},
    {"mail angle", ALERT_DOORS "alert a {\n when messages\n over 5 in 1m\n mail <a@b.example>\n}\n",
     18, "expected a mail address (local@domain)"},
    {"no when", ALERT_DOORS "alert a {\n over 5 in 1m\n}\n", 15,
     "alert a needs 'when' (one of: failed-auth, connections"},
    {"no over", ALERT_DOORS "alert a {\n when failed-auth\n}\n", 15,
     "alert a (when failed-auth) needs 'over': it counts events: over N in DURATION"},
    {"spike no min", ALERT_DOORS "alert a {\n when spike\n factor 3\n}\n", 15,
     "alert a (when spike) needs 'min'"},
    {"spike over", ALERT_DOORS "alert a {\n when spike\n min 5 in 1m\n over 5 in 1m\n}\n", 18,
     "'over' does not apply to when spike"},
    {"factor on count", ALERT_DOORS "alert a {\n when messages\n over 5 in 1m\n factor 3\n}\n", 18,
     "'factor' does not apply to when messages"},
    {"queue neither", ALERT_DOORS "alert a {\n when queue\n}\n", 15,
     "needs one of 'over N' (messages queued) and 'age over DURATION'"},
    {"queue both", ALERT_DOORS "alert a {\n when queue\n over 5\n age over 1h\n}\n", 18,
     "needs one of 'over N' (messages queued) and 'age over DURATION'"},
    {"queue window", ALERT_DOORS "alert a {\n when queue\n over 5 in 1m\n}\n", 17,
     "when queue counts the messages queued now: write over N, without 'in DURATION'"},
    {"queue per", ALERT_DOORS "alert a {\n when queue\n over 5\n per client\n}\n", 18,
     "'per' does not apply to when queue"},
    {"age words", ALERT_DOORS "alert a {\n when queue\n age 1h\n}\n", 17,
     "expected age over DURATION (as in age over 1h)"},
    {"deferred door", ALERT_DOORS "alert a {\n when deferred\n over 5 in 1m\n door internal\n}\n",
     18, "'door' does not apply to when deferred"},
    {"tls no within", ALERT_DOORS "alert a {\n when tls-expiry\n}\n", 15,
     "alert a (when tls-expiry) needs 'within'"},
    {"tls within 0", ALERT_DOORS "alert a {\n when tls-expiry\n within 0\n}\n", 17,
     "within: duration '0' is out of range (from 1s to 365d)"},
    {"door unknown", ALERT_DOORS "alert a {\n when messages\n over 5 in 1m\n door outbound\n}\n",
     18, "unknown door 'outbound'"},
    {"door twice",
     ALERT_DOORS "alert a {\n when messages\n over 5 in 1m\n door internal internal\n}\n", 18,
     "door internal is named twice in alert a"},
    {"duplicate name",
     ALERT_DOORS "alert a {\n when queue\n over 5\n}\nalert a {\n when queue\n over 6\n}\n", 19,
     "duplicate block 'alert a' (first at line 15)"},
    {"no name", ALERT_DOORS "alert {\n when queue\n over 5\n}\n", 15,
     "expected a rule name after 'alert'"},
    {"bad name", ALERT_DOORS "alert a/b {\n when queue\n over 5\n}\n", 15,
     "unexpected character in rule name 'a/b'"},
    {"long name",
     ALERT_DOORS
     "alert aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa {\n when queue\n "
     "over 5\n}\n",
     15, "expected a rule name of 1 to 63 characters"},
    {"when twice", ALERT_DOORS "alert a {\n when queue\n when spike\n}\n", 17,
     "duplicate key 'when' (first at line 16)"},
    {"too many webhooks",
     ALERT_DOORS
     "alert a {\n when queue\n over 5\n webhook http://a/1\n webhook http://a/2\n "
     "webhook http://a/3\n webhook http://a/4\n webhook http://a/5\n webhook http://a/6\n "
     "webhook http://a/7\n webhook http://a/8\n webhook http://a/9\n}\n",
     26, "alert a has too many webhook lines (at most 8)"},
};

static void
test_alert_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_OF(alert_errors); i++)
        expect_error(alert_errors[i].name, alert_errors[i].text, alert_errors[i].line,
                     alert_errors[i].phrase);
}

/* CONF_ALERTS_MAX blocks load; one more is refused at its line. */
static void
test_alert_cap(void **state)
{
    size_t cap = 64 * 1024, n = 0;
    char *text = malloc(cap);
    struct conf *c;

    (void)state;
    assert_non_null(text);
    n += (size_t)snprintf(text + n, cap - n, "%s", MIN);
    for (int i = 0; i <= CONF_ALERTS_MAX; i++)
        n += (size_t)snprintf(text + n, cap - n, "alert r%d {\n when queue\n over 5\n}\n", i);
    c = expect_ok("cap - 1", "listen inbound {\n    address 127.0.0.1:2525\n}\n"
                             "domain example.com {\n}\n");
    conf_unref(c);
    /* 65 blocks: the 65th opens at line 5 + 64 * 4 + 1. */
    expect_error("cap", text, 5 + CONF_ALERTS_MAX * 4 + 1, "too many alert blocks (at most 64)");
    free(text);
}

/* ---- the watch block (docs/scanners.md) ---- */

static void
test_watch(void **state)
{
    struct conf *c;

    (void)state;
    c = expect_ok("none", MIN);
    assert_int_equal(c->watch.line, 0);
    assert_string_equal(c->watch.capture, "");
    assert_int_equal(c->watch.n_ports, 0);
    assert_int_equal(c->watch.block_scanners, 0);
    conf_unref(c);

    c = expect_ok("design", MIN "watch {\n"
                                "    capture any                 # or an interface name\n"
                                "    ports 26 2526               # added to every door's port\n"
                                "    block-scanners 1d\n"
                                "}\n");
    assert_int_equal(c->watch.line, 6);
    assert_string_equal(c->watch.capture, "any");
    assert_int_equal(c->watch.capture_line, 7);
    assert_int_equal(c->watch.n_ports, 2);
    assert_int_equal(c->watch.ports[0], 26);
    assert_int_equal(c->watch.ports[1], 2526);
    assert_int_equal(c->watch.block_scanners, 86400);
    assert_int_equal(c->watch.block_line, 9);
    conf_unref(c);

    /* ports repeats and accumulates; the edges of the range; an interface name of 15. */
    c = expect_ok("edges", MIN "watch {\n capture enp0s31f6.100\n ports 1\n ports 65535 25\n"
                               " block-scanners 30d\n}\n");
    assert_string_equal(c->watch.capture, "enp0s31f6.100");
    assert_int_equal(c->watch.n_ports, 3);
    assert_int_equal(c->watch.ports[0], 1);
    assert_int_equal(c->watch.ports[1], 65535);
    assert_int_equal(c->watch.ports[2], 25);
    assert_int_equal(c->watch.block_scanners, 30 * 86400);
    conf_unref(c);

    /* Blocking alone (scanner sessions may feed it) and an empty block are fine. */
    c = expect_ok("block only", MIN "watch {\n block-scanners 90s\n}\n");
    assert_string_equal(c->watch.capture, "");
    assert_int_equal(c->watch.block_scanners, 90);
    conf_unref(c);
    c = expect_ok("empty", MIN "watch { }\n");
    assert_int_equal(c->watch.line, 6);
    conf_unref(c);
}

static const struct err_row watch_errors[] = {
    {"port 0", MIN "watch {\n capture any\n ports 0\n}\n", 8,
     "port: expected a number from 1 to 65535, found '0'"},
    {"port 65536", MIN "watch {\n capture any\n ports 26 65536\n}\n", 8,
     "port: expected a number from 1 to 65535, found '65536'"},
    {"port word", MIN "watch {\n capture any\n ports smtp\n}\n", 8,
     "port: expected a number from 1 to 65535, found 'smtp'"},
    {"port negative", MIN "watch {\n capture any\n ports -26\n}\n", 8,
     "port: expected a number from 1 to 65535, found '-26'"},
    {"port sign", MIN "watch {\n capture any\n ports +26\n}\n", 8,
     "port: expected a number from 1 to 65535, found '+26'"},
    {"port huge", MIN "watch {\n capture any\n ports 99999999999999999999999\n}\n", 8,
     "port: expected a number from 1 to 65535"},
    {"port twice", MIN "watch {\n capture any\n ports 26\n ports 2526 26\n}\n", 9,
     "port 26 is listed twice in 'ports'"},
    {"ports on one line",
     MIN "watch {\n capture any\n ports 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 "
         "16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33\n}\n",
     8, "'ports' takes at most 32 values, found 33"},
    {"too many ports",
     MIN "watch {\n capture any\n ports 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
         " ports 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32\n ports 33\n}\n",
     10, "'ports' lists too many ports (at most 32)"},
    {"ports without capture", MIN "watch {\n ports 2526\n}\n", 7,
     "'ports' names what the capture watches: add 'capture any'"},
    {"duplicate block", MIN "watch {\n capture any\n}\nwatch {\n capture lo\n}\n", 9,
     "duplicate block 'watch' (first at line 6)"},
    {"label", MIN "watch lo {\n}\n", 6,
     "expected '{' after 'watch', found 'lo' (watch takes no "
     "label)"},
    {"capture twice", MIN "watch {\n capture any\n capture lo\n}\n", 8,
     "duplicate key 'capture' (first at line 7)"},
    {"capture two values", MIN "watch {\n capture lo eth0\n}\n", 7,
     "'capture' takes one value, found 2 (one interface, or any)"},
    {"capture long", MIN "watch {\n capture abcdefghijklmnop\n}\n", 7,
     "expected 'any' or an interface name of 1 to 15 octets after 'capture', found "
     "'abcdefghijklmnop'"},
    {"capture empty", MIN "watch {\n capture \"\"\n}\n", 7,
     "expected 'any' or an interface name of 1 to 15 octets"},
    {"capture slash", MIN "watch {\n capture eth0/1\n}\n", 7,
     "'eth0/1' is not an interface name (no '/', ':', blank or control character"},
    {"capture colon", MIN "watch {\n capture eth0:1\n}\n", 7, "'eth0:1' is not an interface name"},
    {"capture space", MIN "watch {\n capture \"eth 0\"\n}\n", 7,
     "'eth 0' is not an interface name"},
    {"capture dotdot", MIN "watch {\n capture ..\n}\n", 7, "'..' is not an interface name"},
    {"capture 8bit", MIN "watch {\n capture eth\xc3\xa9\n}\n", 7,
     "'eth\\xc3\\xa9' is not an interface name"},
    {"block 0", MIN "watch {\n block-scanners 0\n}\n", 7,
     "block-scanners: duration '0' is out of range (from 1s to 30d)"},
    {"block 31d", MIN "watch {\n block-scanners 31d\n}\n", 7,
     "block-scanners: duration '31d' is out of range (from 1s to 30d)"},
    {"block word", MIN "watch {\n block-scanners forever\n}\n", 7,
     "block-scanners: expected a duration from 1s to 30d"},
    {"block unit", MIN "watch {\n block-scanners 1w\n}\n", 7,
     "block-scanners: expected a duration from 1s to 30d"},
    {"block two words", MIN "watch {\n block-scanners 1 d\n}\n", 7,
     "'block-scanners' takes one value, found 2 (a duration is one word, as in 1d)"},
    {"block twice", MIN "watch {\n block-scanners 1d\n block-scanners 2d\n}\n", 8,
     "duplicate key 'block-scanners' (first at line 7)"},
    {"unknown key", MIN "watch {\n interface eth0\n}\n", 7,
     "unknown key 'interface' in watch block (expected one of: capture, ports, block-scanners)"},
    {"no value", MIN "watch {\n capture\n}\n", 7, "expected a value after 'capture'"},
    {"unclosed", MIN "watch {\n capture any\n", 7,
     "missing '}' for block 'watch' opened at line 6"},
};

static void
test_watch_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_OF(watch_errors); i++)
        expect_error(watch_errors[i].name, watch_errors[i].text, watch_errors[i].line,
                     watch_errors[i].phrase);
}

/* ---- the checks, dkim and quarantine blocks (docs/checks.md) ---- */

#define INTERNAL_DOOR "listen internal {\n address 127.0.0.1:2626\n allow 127.0.0.0/8\n}\n"

static void
test_checks(void **state)
{
    const struct conf_checks *in, *ck;
    const struct conf_dkim *d;
    struct conf *c;

    (void)state;
    c = expect_ok("none", MIN);
    for (int r = 0; r < DOOR_ROLE_COUNT; r++)
        assert_int_equal(c->checks[r].line, 0);
    assert_int_equal(c->n_dkims, 0);
    assert_int_equal(c->quarantine_keep, 30 * 86400);
    assert_int_equal(c->tracking_keep, 30 * 86400);
    assert_false(c->tracking_off);
    conf_unref(c);
    c = expect_ok("tracking", MIN "tracking {\n    keep 400d\n    enabled no\n}\n");
    assert_int_equal(c->tracking_keep, 400 * 86400);
    assert_true(c->tracking_off);
    conf_unref(c);
    c = expect_ok("tracking 1d", MIN "tracking {\n    keep 1d\n    enabled YES\n}\n");
    assert_int_equal(c->tracking_keep, 86400);
    assert_false(c->tracking_off);
    conf_unref(c);
    c = expect_ok("tracking empty", MIN "tracking {\n}\n");
    assert_int_equal(c->tracking_keep, 30 * 86400);
    conf_unref(c);
    /* The local-submit block (docs/config.md): on with the package's paths without it. */
    c = expect_ok("local-submit none", MIN);
    assert_string_equal(c->local_submit_socket, "/run/gate26/submit");
    assert_string_equal(c->local_submit_maildrop, "/var/spool/gate26-maildrop");
    assert_false(c->local_submit_off);
    conf_unref(c);
    c = expect_ok("local-submit",
                  MIN "local-submit {\n socket /tmp/x/submit\n maildrop /tmp/x/drop/\n}\n");
    assert_string_equal(c->local_submit_socket, "/tmp/x/submit");
    assert_string_equal(c->local_submit_maildrop, "/tmp/x/drop");
    assert_false(c->local_submit_off);
    conf_unref(c);
    c = expect_ok("local-submit off", MIN "local-submit {\n enabled no\n}\n");
    assert_true(c->local_submit_off);
    assert_string_equal(c->local_submit_socket, "/run/gate26/submit");
    conf_unref(c);
    /* The console block (docs/config.md): its default address, admins on several lines. */
    c = expect_ok("console default", MIN "console {\n}\n");
    assert_string_equal(c->console_address.text, "127.0.0.1:8026");
    assert_int_equal(c->n_console_admins, 0);
    conf_unref(c);
    c = expect_ok("console",
                  MIN "console {\n address [::1]:9026\n admins alice@example.com bob\n admins "
                      "carol\n}\n");
    assert_string_equal(c->console_address.text, "[::1]:9026");
    assert_int_equal(c->n_console_admins, 3);
    assert_true(conf_console_admin(c, "bob"));
    assert_true(conf_console_admin(c, "alice@example.com"));
    assert_false(conf_console_admin(c, "Bob"));
    assert_false(conf_console_admin(c, "dave"));
    conf_unref(c);

    /* The issue's example, as written. */
    c = expect_ok("design",
                  MIN INTERNAL_DOOR "checks inbound {                 # the label is a door role\n"
                                    "    spf          on              # MAIL FROM and HELO\n"
                                    "    dkim         verify\n"
                                    "    dmarc        enforce\n"
                                    "    dnsbl        zen.spamhaus.org bl.spamcop.net\n"
                                    "    dnswl        list.dnswl.org\n"
                                    "    greylist     5m\n"
                                    "    antivirus    clamd unix:/run/clamav/clamd.ctl\n"
                                    "    spam         rspamd http://127.0.0.1:11333\n"
                                    "    spam-reject  15\n"
                                    "    spam-quarantine 6\n"
                                    "    spam-header  3\n"
                                    "    milter       unix:/run/opendkim/opendkim.sock\n"
                                    "    on-error     tempfail\n"
                                    "}\n"
                                    "checks internal {\n"
                                    "    antivirus    clamd unix:/run/clamav/clamd.ctl\n"
                                    "    dkim         sign\n"
                                    "}\n"
                                    "dkim Example.COM {\n"
                                    "    selector 2026a\n"
                                    "    key      /etc/passwd\n"
                                    "}\n"
                                    "quarantine {\n"
                                    "    keep 10d\n"
                                    "}\n");
    in = &c->checks[DOOR_INBOUND];
    assert_int_equal(in->line, 10);
    assert_true(in->spf);
    assert_int_equal(in->dkim, CONF_DKIM_VERIFY);
    assert_int_equal(in->dmarc, CONF_DMARC_ENFORCE);
    assert_int_equal(in->n_dnsbl, 2);
    assert_string_equal(in->dnsbl[1], "bl.spamcop.net");
    assert_int_equal(in->n_dnswl, 1);
    assert_int_equal(in->greylist, 300);
    assert_string_equal(in->antivirus, "unix:/run/clamav/clamd.ctl");
    assert_int_equal(in->antivirus_action, CONF_ACTION_REJECT);
    assert_string_equal(in->spam, "http://127.0.0.1:11333");
    assert_true(in->spam_reject.set && in->spam_reject.value == 15);
    assert_true(in->spam_quarantine.set && in->spam_quarantine.value == 6);
    assert_true(in->spam_header.set && in->spam_header.value == 3);
    assert_int_equal(in->n_milters, 1);
    assert_false(in->on_error_accept);
    assert_int_equal(in->timeout, 30);
    ck = &c->checks[DOOR_INTERNAL];
    assert_int_equal(ck->dkim, CONF_DKIM_SIGN);
    assert_false(ck->spf);
    assert_int_equal(c->checks[DOOR_SUBMISSION].line, 0);
    assert_int_equal(c->n_dkims, 1);
    d = conf_find_dkim(c, "EXAMPLE.com.");
    assert_non_null(d);
    assert_string_equal(d->domain, "example.com");
    assert_string_equal(d->selector[0], "2026a");
    assert_string_equal(d->key[0], "/etc/passwd");
    assert_null(conf_find_dkim(c, "example.org"));
    assert_int_equal(c->quarantine_keep, 10 * 86400);
    conf_unref(c);

    /* Dual signing, both verbs, quarantine for viruses, tcp clamd, inet milters, accept on error.
     */
    c = expect_ok("more", MIN INTERNAL_DOOR
                  "checks internal {\n dkim verify sign\n antivirus clamd tcp:127.0.0.1:3310\n"
                  " antivirus-action quarantine\n milter inet:8891@127.0.0.1\n"
                  " milter unix:/tmp/m.sock\n on-error accept\n timeout 5s\n"
                  " spam rspamd https://rspamd.example:11333\n spam-reject -0.5\n}\n"
                  "dkim b.example {\n selector rsa1\n selector ed1\n key /etc/passwd\n"
                  " key /etc/group\n}\n"
                  "dkim a.example {\n selector s.sub\n key /etc/passwd\n}\n");
    ck = &c->checks[DOOR_INTERNAL];
    assert_int_equal(ck->dkim, CONF_DKIM_VERIFY | CONF_DKIM_SIGN);
    assert_int_equal(ck->antivirus_action, CONF_ACTION_QUARANTINE);
    assert_int_equal(ck->n_milters, 2);
    assert_string_equal(ck->milters[0], "inet:8891@127.0.0.1");
    assert_true(ck->on_error_accept);
    assert_int_equal(ck->timeout, 5);
    assert_true(ck->spam_reject.value == -0.5);
    assert_string_equal(c->dkims[0].domain, "a.example"); /* sorted */
    d = conf_find_dkim(c, "b.example");
    assert_int_equal(d->n_keys, 2);
    assert_string_equal(d->selector[1], "ed1");
    assert_string_equal(d->key[1], "/etc/group");
    conf_unref(c);
}

static const struct {
    const char *name, *text;
    unsigned line;
    const char *phrase;
} checks_errors[] = {
    {"door", MIN "checks outbound {\n}\n", 6, "unknown door 'outbound' after 'checks'"},
    {"no label", MIN "checks {\n}\n", 6, "checks"},
    {"twice", MIN "checks inbound {\n}\nchecks inbound {\n}\n", 8,
     "duplicate block 'checks inbound' (first at line 6)"},
    {"no listen", MIN "checks internal {\n spf on\n}\n", 6,
     "checks internal: there is no listen internal block"},
    {"spf", MIN "checks inbound {\n spf yes\n}\n", 7, "expected 'on' or 'off' after 'spf'"},
    {"dkim word", MIN "checks inbound {\n dkim check\n}\n", 7, "found 'check'"},
    {"dkim twice", MIN "checks inbound {\n dkim verify verify\n}\n", 7, "found 'verify'"},
    {"dkim off plus", MIN "checks inbound {\n dkim off sign\n}\n", 7, "found 'off'"},
    {"sign inbound",
     MIN "checks inbound {\n dkim sign\n}\ndkim example.com {\n selector s\n"
         " key /etc/passwd\n}\n",
     7, "'dkim sign' signs our own outgoing mail"},
    {"sign no keys", MIN INTERNAL_DOOR "checks internal {\n dkim sign\n}\n", 11,
     "'dkim sign' needs a 'dkim DOMAIN"},
    {"dmarc alone", MIN "checks inbound {\n dmarc enforce\n}\n", 7, "dmarc judges the results"},
    {"dmarc word", MIN "checks inbound {\n dmarc reject\n}\n", 7,
     "expected 'enforce', 'report' or 'off'"},
    {"zone", MIN "checks inbound {\n dnsbl zen..spamhaus.org\n}\n", 7, "dnsbl:"},
    {"zone twice", MIN "checks inbound {\n dnsbl a.example\n dnsbl A.example\n}\n", 8,
     "zone 'a.example' is listed twice in 'dnsbl'"},
    {"zones", MIN "checks inbound {\n dnsbl a.x b.x c.x d.x e.x f.x g.x h.x\n dnsbl i.x\n}\n", 8,
     "too many zones (at most 8)"},
    {"reply", MIN "checks inbound {\n dnsbl-reply connect\n}\n", 7,
     "expected 'greeting' or 'rcpt'"},
    {"greylist short", MIN "checks inbound {\n greylist 30s\n}\n", 7, "greylist:"},
    {"greylist word", MIN "checks inbound {\n greylist yes\n}\n", 7, "greylist:"},
    {"av engine", MIN "checks inbound {\n antivirus sophos unix:/x\n}\n", 7,
     "expected 'antivirus clamd unix:/PATH'"},
    {"av target", MIN "checks inbound {\n antivirus clamd /run/clamd.ctl\n}\n", 7,
     "expected unix:/PATH or tcp:HOST:PORT"},
    {"av action alone", MIN "checks inbound {\n antivirus-action quarantine\n}\n", 7,
     "'antivirus-action' needs 'antivirus clamd"},
    {"av action word", MIN "checks inbound {\n antivirus-action drop\n}\n", 7,
     "expected 'reject' or 'quarantine'"},
    {"spam engine", MIN "checks inbound {\n spam spamassassin http://x\n}\n", 7,
     "expected 'spam rspamd http://HOST:PORT'"},
    {"spam url", MIN "checks inbound {\n spam rspamd ftp://x\n}\n", 7, "expected rspamd's URL"},
    {"spam no host", MIN "checks inbound {\n spam rspamd http://\n}\n", 7, "expected rspamd's URL"},
    {"spam no scores", MIN "checks inbound {\n spam rspamd http://127.0.0.1:11333\n}\n", 7,
     "say what a score does"},
    {"score alone", MIN "checks inbound {\n spam-reject 15\n}\n", 7,
     "'spam-reject' is a score of rspamd's"},
    {"score word", MIN "checks inbound {\n spam rspamd http://h:1\n spam-reject high\n}\n", 8,
     "expected a score such as 15 or 6.5"},
    {"score dot", MIN "checks inbound {\n spam rspamd http://h:1\n spam-reject 6.\n}\n", 8,
     "expected a score"},
    {"score decimals", MIN "checks inbound {\n spam rspamd http://h:1\n spam-reject 6.125\n}\n", 8,
     "expected a score"},
    {"score range", MIN "checks inbound {\n spam rspamd http://h:1\n spam-reject 2000\n}\n", 8,
     "out of range"},
    {"score order",
     MIN "checks inbound {\n spam rspamd http://h:1\n spam-reject 5\n"
         " spam-quarantine 6\n}\n",
     7, "spam-quarantine (6) must be lower than spam-reject (5)"},
    {"milter target", MIN "checks inbound {\n milter 127.0.0.1:8891\n}\n", 7,
     "expected unix:/PATH or inet:PORT@HOST"},
    {"milters",
     MIN "checks inbound {\n milter unix:/1\n milter unix:/2\n milter unix:/3\n"
         " milter unix:/4\n milter unix:/5\n milter unix:/6\n milter unix:/7\n"
         " milter unix:/8\n milter unix:/9\n}\n",
     15, "too many milters (at most 8)"},
    {"on-error", MIN "checks inbound {\n on-error ignore\n}\n", 7,
     "expected 'tempfail' or 'accept'"},
    {"timeout", MIN "checks inbound {\n timeout 1h\n}\n", 7, "timeout:"},
    {"key missing", MIN "dkim example.com {\n selector s\n key /nonexistent/k.key\n}\n", 8,
     "cannot read DKIM key '/nonexistent/k.key'"},
    {"key dir", MIN "dkim example.com {\n selector s\n key /etc\n}\n", 8, "is not a file"},
    {"no key", MIN "dkim example.com {\n selector s\n}\n", 6, "dkim example.com: no 'key'"},
    {"no selector", MIN "dkim example.com {\n key /etc/passwd\n}\n", 6,
     "1 key(s) and 0 selector(s)"},
    {"same selector",
     MIN "dkim example.com {\n selector s\n selector s\n key /etc/passwd\n"
         " key /etc/group\n}\n",
     10, "both keys have selector 's'"},
    {"selector", MIN "dkim example.com {\n selector s_1\n key /etc/passwd\n}\n", 7,
     "selector 's_1' is not a DNS name"},
    {"three keys",
     MIN "dkim example.com {\n key /etc/passwd\n key /etc/group\n key /etc/passwd\n}\n", 9,
     "too many keys (at most 2"},
    {"dkim domain", MIN "dkim -bad- {\n}\n", 6, "dkim:"},
    {"dkim twice",
     MIN "dkim example.com {\n selector s\n key /etc/passwd\n}\n"
         "dkim EXAMPLE.com {\n selector s\n key /etc/passwd\n}\n",
     10, "duplicate dkim block 'example.com' (first at line 6)"},
    {"keep", MIN "quarantine {\n keep 1h\n}\n", 7, "keep:"},
    {"quarantine twice", MIN "quarantine {\n}\nquarantine {\n}\n", 8,
     "duplicate block 'quarantine' (first at line 6)"},
    /* The tracking block (docs/config.md): keep 1d to 400d, enabled yes or no. */
    {"tracking keep short", MIN "tracking {\n keep 23h\n}\n", 7, "keep:"},
    {"tracking keep long", MIN "tracking {\n keep 401d\n}\n", 7, "keep:"},
    {"tracking keep junk", MIN "tracking {\n keep 30x\n}\n", 7, "keep:"},
    {"tracking keep two", MIN "tracking {\n keep 1d 2d\n}\n", 7, "keep"},
    {"tracking enabled", MIN "tracking {\n enabled maybe\n}\n", 7,
     "enabled: expected yes or no, found 'maybe'"},
    {"tracking label", MIN "tracking x {\n}\n", 6, "tracking"},
    {"tracking twice", MIN "tracking {\n}\ntracking {\n}\n", 8,
     "duplicate block 'tracking' (first at line 6)"},
    {"tracking key", MIN "tracking {\n keep 2d\n keep 3d\n}\n", 8, "keep"},
    /* The local-submit block: paths, a socket's path within sun_path, each key once. */
    {"local-submit enabled", MIN "local-submit {\n enabled off\n}\n", 7,
     "enabled: expected yes or no, found 'off'"},
    {"local-submit twice", MIN "local-submit {\n}\nlocal-submit {\n}\n", 8,
     "duplicate block 'local-submit' (first at line 6)"},
    {"local-submit socket long", MIN "local-submit {\n socket /" LONG120 "\n}\n", 7,
     "socket: a socket's path has at most 107 octets"},
    {"local-submit socket empty", MIN "local-submit {\n socket \"\"\n}\n", 7, "socket:"},
    {"local-submit key twice", MIN "local-submit {\n maildrop /a\n maildrop /b\n}\n", 8,
     "maildrop"},
    {"local-submit unknown", MIN "local-submit {\n pickup 5s\n}\n", 7, "unknown key 'pickup'"},
    /* The console block: a numeric address, passwd user names, each once. */
    {"console address", MIN "console {\n address localhost:8026\n}\n", 7, "address:"},
    {"console address two", MIN "console {\n address 127.0.0.1:1 127.0.0.1:2\n}\n", 7, "address"},
    {"console admin colon", MIN "console {\n admins a:b\n}\n", 7,
     "admins: 'a:b' is not a user name"},
    {"console admin twice", MIN "console {\n admins bob\n admins bob\n}\n", 8,
     "admins: 'bob' is named twice"},
    {"console admin long",
     MIN "console {\n admins "
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n}\n",
     7, "is not a user name"},
    {"console twice", MIN "console {\n}\nconsole {\n}\n", 8,
     "duplicate block 'console' (first at line 6)"},
    {"console unknown key", MIN "console {\n port 8026\n}\n", 7, "port"},
};

static void
test_checks_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_OF(checks_errors); i++)
        expect_error(checks_errors[i].name, checks_errors[i].text, checks_errors[i].line,
                     checks_errors[i].phrase);
}

static void
test_names(void **state)
{
    (void)state;
    assert_string_equal(conf_role_name(DOOR_INBOUND), "inbound");
    assert_string_equal(conf_role_name(DOOR_INTERNAL), "internal");
    assert_string_equal(conf_role_name(DOOR_SUBMISSION), "submission");
    assert_string_equal(conf_role_name(DOOR_SUBMISSIONS), "submissions");
    assert_string_equal(conf_tls_mode_name(CONF_TLS_NONE), "none");
    assert_string_equal(conf_tls_mode_name(CONF_TLS_STARTTLS), "starttls");
    assert_string_equal(conf_tls_mode_name(CONF_TLS_STARTTLS_REQUIRED), "starttls required");
    assert_string_equal(conf_tls_mode_name(CONF_TLS_IMPLICIT), "implicit");
    assert_string_equal(conf_tls_policy_name(CONF_TLS_POLICY_NONE), "none");
    assert_string_equal(conf_tls_policy_name(CONF_TLS_POLICY_MAY), "may");
    assert_string_equal(conf_tls_policy_name(CONF_TLS_POLICY_ENCRYPT), "encrypt");
    assert_string_equal(conf_tls_policy_name(CONF_TLS_POLICY_VERIFY), "verify");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_design_example),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_role_defaults),
        cmocka_unit_test(test_max_sessions_order),
        cmocka_unit_test(test_limit_defaults),
        cmocka_unit_test(test_auth_limits),
        cmocka_unit_test(test_auth_app_passwords),
        cmocka_unit_test(test_auth_senders),
        cmocka_unit_test(test_auth_lockout_exempt),
        cmocka_unit_test(test_top_values),
        cmocka_unit_test(test_listen_values),
        cmocka_unit_test(test_listen_errors),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_one_value_hints),
        cmocka_unit_test(test_key_lines),
        cmocka_unit_test(test_delivery_keys),
        cmocka_unit_test(test_domains_and_relays),
        cmocka_unit_test(test_find_domain),
        cmocka_unit_test(test_cidr_match),
        cmocka_unit_test(test_value_addr),
        cmocka_unit_test(test_value_route),
        cmocka_unit_test(test_relay_lists),
        cmocka_unit_test(test_relay_auth_errors),
        cmocka_unit_test(test_relay_auth_parse),
        cmocka_unit_test(test_value_cidr),
        cmocka_unit_test(test_value_domain),
        cmocka_unit_test(test_value_numbers),
        cmocka_unit_test(test_quote),
        cmocka_unit_test(test_relative_paths),
        cmocka_unit_test(test_file_level),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_many_domains),
        cmocka_unit_test(test_load_text),
        cmocka_unit_test(test_ref),
        cmocka_unit_test(test_tls_keys),
        cmocka_unit_test(test_tls_pair_cap),
        cmocka_unit_test(test_verify_recipients),
        cmocka_unit_test(test_metrics_block),
        cmocka_unit_test(test_metrics_errors),
        cmocka_unit_test(test_metrics_secret_parse),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_alerts),
        cmocka_unit_test(test_alert_errors),
        cmocka_unit_test(test_alert_cap),
        cmocka_unit_test(test_watch),
        cmocka_unit_test(test_watch_errors),
        cmocka_unit_test(test_checks),
        cmocka_unit_test(test_checks_errors),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
