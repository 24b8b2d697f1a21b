/* SPDX-License-Identifier: MIT */
/*
 * `gate26 sendmail`: the options, the privileges of the set-group-id
 * binary, and the run from standard input to the daemon (sendmail.h).
 *
 * Installed set-group-id (the maildrop's group), it runs with the caller's
 * group in effect from its first line on and keeps the maildrop's group only
 * as its saved set-group-id: the configuration and the message are read as
 * the caller, and the group is taken back only around making the maildrop
 * file (sendmail/submit.c), then dropped for good. With -C FILE it is
 * dropped for good at once, as sendmail does for another configuration.
 * Nothing is taken from the environment: the user is getuid()'s name.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "lib/str.h"
#include "lib/xalloc.h"
#include "sendmail/record.h"
#include "sendmail/sendmail.h"
#include "smtp/addr.h"

static const char sendmail_usage[] =
    "usage: sendmail [-t] [-i] [-f SENDER] [-F NAME] [-v] [-C FILE] [--] [RECIPIENT...]\n"
    "       sendmail -bs [-v] [-C FILE]\n"
    "\n"
    "Reads a message on standard input and hands it to the gate26 daemon (its local\n"
    "submission socket, or the maildrop when the daemon is not running).\n"
    "\n"
    "  -t        recipients from the To, Cc and Bcc headers too (Bcc removed)\n"
    "  -i, -oi   a line with a lone '.' does not end the message\n"
    "  -f ADDR   the envelope sender (default USER@HOSTNAME); -r is the same\n"
    "  -F NAME   the From header's name, when a From header is added\n"
    "  -bs       SMTP on standard input and output\n"
    "  -v        say what happens on standard error\n"
    "  -C FILE   the configuration (default " SENDMAIL_DEFAULT_CONF ")\n"
    "\n"
    "Ignored with a warning: -oXXX, -B TYPE, -h HOPS, -N DSN, -R RET, -V ENVID, -X FILE,\n"
    "-bm.\n"
    "Exit status: 0 queued, 64 usage, 65 bad message or address, 75 not handed over.\n";

/* ---- privileges ---- */

static gid_t real_gid, saved_gid;

/* The maildrop's group in effect (a set-group-id run; else nothing changes). */
void
sendmail_group_take(void)
{
    if (real_gid != saved_gid && setresgid((gid_t)-1, saved_gid, (gid_t)-1) == -1) {
        fprintf(stderr, "sendmail: setresgid: %s\n", strerror(errno));
        exit(SENDMAIL_EX_TEMPFAIL);
    }
}

/* The caller's group for good: real, effective and saved. */
void
sendmail_group_drop(void)
{
    if (setresgid(real_gid, real_gid, real_gid) == -1) {
        fprintf(stderr, "sendmail: setresgid: %s\n", strerror(errno));
        exit(SENDMAIL_EX_TEMPFAIL);
    }
    saved_gid = real_gid;
}

/* ---- options ---- */

static int
usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "sendmail: %s '%s'\n", what, arg);
    fputs(sendmail_usage, stderr);
    return SENDMAIL_EX_USAGE;
}

/* The value of -xVALUE or -x VALUE; NULL when none follows. */
static const char *
opt_value(int argc, char **argv, int *i)
{
    if (argv[*i][2] != '\0')
        return argv[*i] + 2;
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

int
sendmail_parse_opts(int argc, char **argv, struct sendmail_opts *out)
{
    int i;

    memset(out, 0, sizeof(*out));
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v;

        if (a[0] != '-' || a[1] == '\0')
            break;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        /* Not -h: it is sendmail's hop count (ignored below), and a message must not be lost
         * to a usage text. */
        if (strcmp(a, "--help") == 0) {
            fputs(sendmail_usage, stdout);
            return -1;
        }
        switch (a[1]) {
        case 't':
        case 'i':
        case 'v':
            if (a[2] != '\0')
                return usage_error("unknown option", a);
            if (a[1] == 't')
                out->read_rcpts = true;
            else if (a[1] == 'i')
                out->ignore_dots = true;
            else
                out->verbose = true;
            break;
        case 'f':
        case 'r':
        case 'F':
        case 'C':
            if ((v = opt_value(argc, argv, &i)) == NULL)
                return usage_error("a value must follow", a);
            if (a[1] == 'F')
                out->name = v;
            else if (a[1] == 'C')
                out->conf = v;
            else
                out->from = v;
            break;
        case 'o':
            /* -oi is -i; -oem, -odi, -oQ... and the other sendmail.cf options are ignored. */
            if (strcmp(a, "-oi") == 0)
                out->ignore_dots = true;
            else if (a[2] == '\0')
                return usage_error("a value must follow", a);
            else
                fprintf(stderr, "sendmail: warning: option '%s' is ignored\n", a);
            break;
        case 'B':
        case 'h':
        case 'N':
        case 'R':
        case 'V':
        case 'X':
            if ((v = opt_value(argc, argv, &i)) == NULL)
                return usage_error("a value must follow", a);
            fprintf(stderr, "sendmail: warning: option '-%c %s' is ignored\n", a[1], v);
            break;
        case 'b':
            if (strcmp(a, "-bs") == 0)
                out->smtp_stdio = true;
            else if (strcmp(a, "-bm") == 0)
                fprintf(stderr, "sendmail: warning: option '-bm' is the default\n");
            else
                return usage_error("unknown mode (gate26 sendmail takes -bm and -bs)", a);
            break;
        default:
            return usage_error("unknown option", a);
        }
    }
    out->rcpts = argv + i;
    out->n_rcpts = (size_t)(argc - i);
    return 0;
}

/* ---- the run ---- */

/* Reads standard input whole, up to cap octets. Returns 0, or -1 (errno EFBIG: over cap). */
static int
read_stdin(size_t cap, char **out, size_t *len)
{
    size_t n = 0, size = 65536;
    char *buf = xmalloc(size);

    for (;;) {
        ssize_t r;

        if (n == size) {
            if (size >= cap) {
                free(buf);
                errno = EFBIG;
                return -1;
            }
            size = size * 2 > cap ? cap : size * 2;
            buf = xrealloc(buf, size);
        }
        r = read(0, buf + n, size - n);
        if (r == 0)
            break;
        if (r == -1) {
            if (errno == EINTR)
                continue;
            free(buf);
            return -1;
        }
        n += (size_t)r;
    }
    *out = buf;
    *len = n;
    return 0;
}

static void
local_hostname(const struct sendmail_conf *c, char *out, size_t cap)
{
    struct utsname u;

    if (c->hostname[0] != '\0')
        (void)str_copyz(out, cap, c->hostname);
    else if (uname(&u) == 0)
        (void)str_copyz(out, cap, u.nodename);
    else
        (void)str_copyz(out, cap, "localhost");
}

struct run {
    struct sendmail_opts o;
    struct sendmail_conf conf;
    char hostname[CAP_HOSTNAME + 1];
    char sender[CAP_MAILBOX + 1];
    char user[64];
};

int
sendmail_hand_over(const struct sendmail_conf *c, const char *sender, char *const *rcpts, size_t n,
                   const char *content, size_t len, bool verbose, char *reason, size_t reasoncap,
                   char *id, size_t idcap)
{
    struct record_head h;
    enum sendmail_result r;
    size_t head_len;
    bool eight;
    char *head;

    if ((uint64_t)len > c->max_size) {
        (void)str_fmt(reason, reasoncap,
                      "message of %zu octets is larger than the limit of %llu octets", len,
                      (unsigned long long)c->max_size);
        return SENDMAIL_EX_DATAERR;
    }
    if (record_check_content(content, len, &eight, reason, reasoncap) == -1)
        return SENDMAIL_EX_DATAERR;
    head = record_format_head(sender, (const char *const *)rcpts, n, len, &head_len);
    /* The daemon's parser is the judge: what it would refuse is refused here. */
    if (record_parse_head(head, head_len, &h, reason, reasoncap) != RECORD_OK) {
        free(head);
        return SENDMAIL_EX_DATAERR;
    }
    record_head_clear(&h);
    r = sendmail_submit(c, head, head_len, content, len, verbose, id, idcap, reason, reasoncap);
    free(head);
    switch (r) {
    case SENDMAIL_QUEUED:
    case SENDMAIL_DROPPED:
        return SENDMAIL_EX_OK;
    case SENDMAIL_REFUSED:
        return SENDMAIL_EX_DATAERR;
    case SENDMAIL_TEMPFAIL:
        break;
    }
    return SENDMAIL_EX_TEMPFAIL;
}

static int
run_message(struct run *r)
{
    struct sendmail_msg m;
    char *in = NULL, why[512], id[64];
    char **rcpts = NULL;
    size_t in_len, n = 0;
    int st;

    /* LF lines become CR LF: twice the limit (and a header's room) is the most worth reading. */
    if (read_stdin((size_t)(r->conf.max_size * 2 + 65536), &in, &in_len) == -1) {
        if (errno == EFBIG) {
            fprintf(stderr, "sendmail: message is larger than the limit of %llu octets\n",
                    (unsigned long long)r->conf.max_size);
            return SENDMAIL_EX_DATAERR;
        }
        fprintf(stderr, "sendmail: standard input: %s\n", strerror(errno));
        return SENDMAIL_EX_TEMPFAIL;
    }
    if (sendmail_msg_make(in, in_len, &r->o, r->sender, r->hostname, &m, why, sizeof(why)) == -1) {
        free(in);
        fprintf(stderr, "sendmail: %s\n", why);
        return SENDMAIL_EX_DATAERR;
    }
    free(in);
    for (size_t i = 0; i < r->o.n_rcpts; i++) {
        if (sendmail_addr_list(r->o.rcpts[i], strlen(r->o.rcpts[i]), &rcpts, &n, why,
                               sizeof(why)) == -1) {
            fprintf(stderr, "sendmail: recipient '%s': %s\n", r->o.rcpts[i], why);
            st = SENDMAIL_EX_DATAERR;
            goto out;
        }
    }
    for (size_t i = 0; i < m.n_rcpts; i++) {
        rcpts = xrealloc(rcpts, (n + 1) * sizeof(*rcpts));
        rcpts[n++] = m.rcpts[i];
        m.rcpts[i] = NULL;
    }
    if (n == 0) {
        fprintf(stderr, "sendmail: no recipients%s\n",
                r->o.read_rcpts ? " (none as arguments, no To, Cc or Bcc header)"
                                : " (give them as arguments, or use -t)");
        st = SENDMAIL_EX_USAGE;
        goto out;
    }
    if (n > RECORD_RCPTS_MAX) {
        fprintf(stderr, "sendmail: more than %d recipients\n", RECORD_RCPTS_MAX);
        st = SENDMAIL_EX_DATAERR;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char q[CAP_MAILBOX + 1];

        if (sendmail_qualify(rcpts[i], r->hostname, q, sizeof(q)) == -1) {
            fprintf(stderr, "sendmail: recipient '%s': not an address\n", rcpts[i]);
            st = SENDMAIL_EX_DATAERR;
            goto out;
        }
        free(rcpts[i]);
        rcpts[i] = xstrdup(q);
    }
    why[0] = '\0';
    st = sendmail_hand_over(&r->conf, r->sender, rcpts, n, m.data, m.len, r->o.verbose, why,
                            sizeof(why), id, sizeof(id));
    if (st != SENDMAIL_EX_OK)
        fprintf(stderr, "sendmail: %s\n", why);
    else if (r->o.verbose)
        fprintf(stderr, "sendmail: %s\n", why);
out:
    for (size_t i = 0; i < n; i++)
        free(rcpts[i]);
    free(rcpts);
    sendmail_msg_clear(&m);
    return st;
}

int
sendmail_main(int argc, char **argv)
{
    struct run r;
    struct passwd *pw;
    char err[1024];
    const char *conf;
    int st;

    real_gid = getgid();
    saved_gid = getegid();
    /* The caller's group in effect at once; the maildrop's stays only as the saved one. */
    if (real_gid != saved_gid && setresgid((gid_t)-1, real_gid, (gid_t)-1) == -1) {
        fprintf(stderr, "sendmail: setresgid: %s\n", strerror(errno));
        return SENDMAIL_EX_TEMPFAIL;
    }
    memset(&r, 0, sizeof(r));
    st = sendmail_parse_opts(argc, argv, &r.o);
    if (st != 0)
        return st == -1 ? SENDMAIL_EX_OK : st;
    if (r.o.conf != NULL)
        sendmail_group_drop(); /* another configuration: no maildrop privilege */
    conf = r.o.conf != NULL ? r.o.conf : SENDMAIL_DEFAULT_CONF;
    /* The default file missing, or kept from local users: the defaults (the daemon enforces its
     * own limit). A -C FILE must be read. */
    if (sendmail_conf_read(conf, &r.conf, err, sizeof(err)) == -1) {
        if (r.o.conf != NULL || (errno != ENOENT && errno != EACCES)) {
            fprintf(stderr, "sendmail: %s\n", err);
            return SENDMAIL_EX_TEMPFAIL;
        }
    }
    if (!r.conf.enabled) {
        fprintf(stderr, "sendmail: %s: local-submit is off (enabled no)\n", conf);
        return SENDMAIL_EX_TEMPFAIL;
    }
    local_hostname(&r.conf, r.hostname, sizeof(r.hostname));
    pw = getpwuid(getuid());
    if (pw == NULL || str_copyz(r.user, sizeof(r.user), pw->pw_name) == -1)
        (void)str_fmt(r.user, sizeof(r.user), "uid%u", (unsigned)getuid());
    if (r.o.smtp_stdio)
        return sendmail_smtp_stdio(&r.conf, r.hostname, r.o.verbose);
    if (r.o.from != NULL) {
        char path[CAP_MAILBOX + 8];
        struct smtp_addr a;
        struct cursor c;

        /* -f "" and -f "<>" are the null sender (bounces of local programs). */
        if (str_fmt(path, sizeof(path), r.o.from[0] == '<' ? "%s" : "<%s>", r.o.from) == -1) {
            fprintf(stderr, "sendmail: sender '%s': too long\n", r.o.from);
            return SENDMAIL_EX_DATAERR;
        }
        cursor_init(&c, slice_make(path, strlen(path)));
        if (smtp_addr_parse_path(&c, SMTP_PATH_NULL_OK, &a) != SMTP_ADDR_OK || !cursor_at_end(&c)) {
            if (strchr(r.o.from, '@') != NULL ||
                sendmail_qualify(r.o.from, r.hostname, r.sender, sizeof(r.sender)) == -1) {
                fprintf(stderr, "sendmail: sender '%s': not an address\n", r.o.from);
                return SENDMAIL_EX_DATAERR;
            }
        } else if (a.text[0] != '\0' && strchr(a.text, '@') == NULL) {
            (void)sendmail_qualify(a.text, r.hostname, r.sender, sizeof(r.sender));
        } else {
            (void)str_copyz(r.sender, sizeof(r.sender), a.text);
        }
    } else if (sendmail_qualify(r.user, r.hostname, r.sender, sizeof(r.sender)) == -1) {
        fprintf(stderr, "sendmail: user '%s' at '%s' is not an address: give -f\n", r.user,
                r.hostname);
        return SENDMAIL_EX_DATAERR;
    }
    return run_message(&r);
}
