/* SPDX-License-Identifier: MIT */
/*
 * gate26 audit: the files the configuration names that hold secrets or
 * trust: the certificates of the tls block (expiry, whether the default one
 * names `hostname`, X509_check_host) and the password file (owner, mode,
 * hashes weaker than the project recommends). docs/check.md, "gate26 audit".
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "audit/audit_impl.h"
#include "lib/str.h"
#include "lib/xalloc.h"

/* The password file is read whole up to this (as auth/db.c's AUTH_DB_MAX_SIZE). */
#define AUDIT_PASSWD_MAX (16 * 1024 * 1024)
/* Users named in one finding's text; the count says how many more. */
#define AUDIT_NAMES_MAX 4

static void
one_cert(const struct conf *c, const struct conf_tls_pair *pair, bool is_default, time_t now,
         struct check_findings *f)
{
    FILE *fp = fopen(pair->cert, "re");
    X509 *x = fp != NULL ? PEM_read_X509(fp, NULL, NULL, NULL) : NULL;
    struct tm tm;
    time_t end;
    long days;

    if (fp != NULL)
        (void)fclose(fp);
    if (x == NULL) {
        check_add(f, "audit.cert-unreadable", CHECK_WARN,
                  "certificate %s (line %u): cannot be read as PEM%s%s", pair->cert, pair->line,
                  fp == NULL ? ": " : "", fp == NULL ? strerror(errno) : "");
        check_fix(f, "gate26 configtest -c %s shows what serve would say", c->path);
        return;
    }
    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1) {
        end = timegm(&tm);
        days = (long)((end - now) / 86400);
        switch (audit_cert_judge(end, now)) {
        case AUDIT_CERT_EXPIRED:
            check_add(f, "audit.cert-expired", CHECK_CRIT,
                      "certificate %s (line %u) expired %ld day%s ago", pair->cert, pair->line,
                      -days, days == -1 ? "" : "s");
            check_fix(f, "renew it (e.g. certbot renew), then reload gate26 (kill -HUP)");
            break;
        case AUDIT_CERT_EXPIRING:
            check_add(f, "audit.cert-expiring", CHECK_WARN,
                      "certificate %s (line %u) expires in %ld day%s (within %d)", pair->cert,
                      pair->line, days, days == 1 ? "" : "s", AUDIT_CERT_DAYS);
            check_fix(f, "renew it (e.g. certbot renew), then reload gate26 (kill -HUP)");
            break;
        case AUDIT_CERT_OK:
            break;
        }
    }
    /* The default pair is what a client without SNI (or with hostname) gets; the others are
     * chosen by SNI for the names they carry. */
    if (is_default && X509_check_host(x, c->hostname, strlen(c->hostname), 0, NULL) != 1) {
        check_add(f, "audit.cert-hostname", CHECK_WARN,
                  "certificate %s (line %u) does not name hostname %s: clients that verify "
                  "see a name mismatch",
                  pair->cert, pair->line, c->hostname);
        check_fix(f, "get a certificate for %s (or set hostname to a name it carries)",
                  c->hostname);
    }
    X509_free(x);
}

void
audit_certs(const struct conf *c, time_t now, struct check_findings *f)
{
    for (size_t i = 0; i < c->n_tls_pairs; i++)
        one_cert(c, &c->tls_pairs[i], i == 0, now, f);
}

static void
perm_findings(const struct conf *c, const struct stat *st, const struct audit_ids *gw,
              struct check_findings *f)
{
    unsigned bad = audit_perm_judge(st->st_mode, st->st_uid, st->st_gid, gw);
    const char *fix_owner = gw->has_user ? c->user : "root";

    if (bad & (AUDIT_PERM_OTHER_WRITE | AUDIT_PERM_GROUP_WRITE)) {
        check_add(f, "audit.passwd-writable", CHECK_CRIT,
                  "password file %s (line %u) is mode %04o: %s may change it and add a login",
                  c->auth_passwd, c->auth_passwd_line, (unsigned)(st->st_mode & 07777),
                  bad & AUDIT_PERM_OTHER_WRITE ? "every user" : "its group");
        check_fix(f, "chmod 0640 %s (owner root, group %s)", c->auth_passwd, fix_owner);
    }
    if (bad & (AUDIT_PERM_OTHER_READ | AUDIT_PERM_GROUP_READ)) {
        check_add(f, "audit.passwd-readable", CHECK_WARN,
                  "password file %s (line %u) is mode %04o: %s may read the hashes and guess "
                  "passwords offline",
                  c->auth_passwd, c->auth_passwd_line, (unsigned)(st->st_mode & 07777),
                  bad & AUDIT_PERM_OTHER_READ ? "every user" : "its group");
        check_fix(f, "chmod 0640 %s and chgrp %s %s", c->auth_passwd, fix_owner, c->auth_passwd);
    }
    if (bad & AUDIT_PERM_OWNER) {
        check_add(f, "audit.passwd-owner", CHECK_WARN,
                  "password file %s (line %u) belongs to uid %u, neither root nor the "
                  "gateway's user",
                  c->auth_passwd, c->auth_passwd_line, (unsigned)st->st_uid);
        check_fix(f, "chown root:%s %s", fix_owner, c->auth_passwd);
    }
}

/* The users whose hashes are weak or refused, for one finding's text. */
struct hash_list {
    size_t n;
    char text[200];
};

static void
hash_list_add(struct hash_list *l, const char *user, size_t ulen, const char *why)
{
    size_t used = strlen(l->text);

    if (l->n++ < AUDIT_NAMES_MAX)
        (void)str_fmt(l->text + used, sizeof(l->text) - used, "%s%.*s (%s)", used > 0 ? ", " : "",
                      (int)(ulen > 32 ? 32 : ulen), user, why);
}

static void
hash_findings(const struct conf *c, char *text, size_t len, struct check_findings *f)
{
    struct hash_list weak = {0}, refused = {0};
    size_t users = 0;
    char *line = text, *end = text + len;

    while (line < end) {
        char *stop = memchr(line, '\n', (size_t)(end - line)), *colon, why[64];
        size_t skip;

        if (stop == NULL)
            stop = end; /* text[len] is a NUL already */
        *stop = '\0';
        if (stop > line && stop[-1] == '\r')
            stop[-1] = '\0';
        skip = strspn(line, " \t");
        colon = strchr(line, ':');
        if (line[skip] != '#' && line[skip] != '\0' && colon != NULL) {
            users++;
            switch (audit_hash_judge(colon + 1, why, sizeof(why))) {
            case AUDIT_HASH_WEAK:
                hash_list_add(&weak, line, (size_t)(colon - line), why);
                break;
            case AUDIT_HASH_REFUSED:
                hash_list_add(&refused, line, (size_t)(colon - line), why);
                break;
            case AUDIT_HASH_STRONG:
                break;
            }
        }
        line = stop + 1;
    }
    if (refused.n > 0) {
        check_add(f, "audit.passwd-weak-hash", CHECK_CRIT,
                  "password file %s: %zu of %zu users have a hash gate26 refuses, so the file "
                  "does not load: %s%s",
                  c->auth_passwd, refused.n, users, refused.text,
                  refused.n > AUDIT_NAMES_MAX ? ", ..." : "");
        check_fix(f, "set each one's password again: gate26 passwd -c %s USER (yescrypt)", c->path);
    }
    if (weak.n > 0) {
        check_add(f, "audit.passwd-weak-hash", CHECK_WARN,
                  "password file %s: %zu of %zu users have a weak hash: %s%s", c->auth_passwd,
                  weak.n, users, weak.text, weak.n > AUDIT_NAMES_MAX ? ", ..." : "");
        check_fix(f, "set each one's password again: gate26 passwd -c %s USER (yescrypt)", c->path);
    }
}

void
audit_passwd(const struct conf *c, const struct audit_ids *gw, struct check_findings *f)
{
    struct stat st;
    char *text;
    ssize_t n;
    size_t len = 0;
    int fd;

    if (c->auth_passwd[0] == '\0')
        return;
    fd = open(c->auth_passwd, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
        int e = errno;

        check_add(f, "audit.passwd-unreadable", CHECK_WARN, "password file %s (line %u): %s",
                  c->auth_passwd, c->auth_passwd_line,
                  fd == -1 ? strerror(e) : "not a regular file");
        check_fix(f, "create it with gate26 passwd -c %s USER", c->path);
        if (fd != -1)
            (void)close(fd);
        return;
    }
    perm_findings(c, &st, gw, f);
    if (st.st_size > AUDIT_PASSWD_MAX) {
        (void)close(fd);
        return; /* gate26 refuses it at load: configtest says so */
    }
    text = xmalloc((size_t)st.st_size + 1);
    while (len < (size_t)st.st_size) {
        n = read(fd, text + len, (size_t)st.st_size - len);
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    (void)close(fd);
    text[len] = '\0';
    hash_findings(c, text, len, f);
    OPENSSL_cleanse(text, len);
    free(text);
}
