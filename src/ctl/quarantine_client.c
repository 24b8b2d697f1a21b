/* SPDX-License-Identifier: MIT */
/*
 * `gate26 quarantine [-c FILE] list|show|release|delete`: the messages a
 * content check held (docs/spool.md, "The quarantine").
 *
 *   - list and show read SPOOL/quarantine/ themselves: under the spool's
 *     shared lock when no daemon runs (as `gate26 queue list` does), and
 *     without it while one runs, since a quarantined file is never changed
 *     in place (it arrives whole by rename and leaves by unlink): a file
 *     that goes between the listing and its reading is skipped.
 *   - release and delete go to the daemon's control socket when it runs (so
 *     that its scheduler learns of the released message); with it stopped,
 *     they run here under the spool's exclusive lock, and the daemon finds
 *     the released message in queue/ at its next start.
 *
 * Peer-derived strings are escaped as `gate26 queue` does (text: \xHH;
 * JSON: \u00XX for every octet outside printable ASCII).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "conf/conf.h"
#include "ctl/ask.h"
#include "ctl/call.h"
#include "ctl/ctl.h"
#include "ctl/quarantine.h"
#include "ctl/quarantine_read.h"
#include "ctl/request.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define QUARANTINE_TIMEOUT_S 60
/* Ids in one request to the daemon: a request line holds at most CTL_REQUEST_MAX octets. */
#define QUARANTINE_IDS_PER_REQUEST 256
/* show: at most this much of the header section. */
#define QUARANTINE_HEADERS_MAX (64 * 1024)

static const char usage_text[] =
    "usage: gate26 quarantine [-c FILE] COMMAND\n"
    "  list [--json]              quarantined messages, oldest first: id, time quarantined,\n"
    "                             check, reason, sender, recipients, size, door, client,\n"
    "                             expires\n"
    "  show ID [--json] [--body]  the same fields and the header section (--body: the\n"
    "                             whole message)\n"
    "  release ID...              deliver unchanged to its recipients, once\n"
    "  delete ID...               remove without delivering\n"
    "Times are UTC. Exit status: 0 done, 1 not done for some message (no such message\n"
    "in quarantine) or the spool cannot be read, 2 a usage error.\n";

enum q_verb {
    Q_LIST,
    Q_SHOW,
    Q_RELEASE,
    Q_DELETE,
};

struct q_args {
    enum q_verb verb;
    bool json, body;
    const char *conf_path;
    struct ctl_request req; /* the ids, checked */
};

static int
q_usage(const char *what)
{
    fprintf(stderr, "gate26 quarantine: %s\n%s", what, usage_text);
    return 2;
}

/* Returns -1 when the arguments are good, else the exit status. */
static int
q_parse_args(int argc, char **argv, struct q_args *a)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {"json", no_argument, NULL, 'j'},
        {"body", no_argument, NULL, 'b'},
        {NULL, 0, NULL, 0},
    };
    char why[256];
    const char *verb;
    int ch;

    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            a->conf_path = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            return q_usage("unknown option, or -c without a file");
        }
    }
    if (optind >= argc)
        return q_usage("no command given");
    verb = argv[optind++];
    if (strcmp(verb, "list") == 0)
        a->verb = Q_LIST;
    else if (strcmp(verb, "show") == 0)
        a->verb = Q_SHOW;
    else if (strcmp(verb, "release") == 0)
        a->verb = Q_RELEASE;
    else if (strcmp(verb, "delete") == 0)
        a->verb = Q_DELETE;
    else {
        (void)str_fmt(why, sizeof(why), "unknown command '%.64s'", verb);
        return q_usage(why);
    }
    for (; optind < argc; optind++) {
        const char *w = argv[optind];

        if (strcmp(w, "--json") == 0 && (a->verb == Q_LIST || a->verb == Q_SHOW)) {
            a->json = true;
        } else if (strcmp(w, "--body") == 0 && a->verb == Q_SHOW) {
            a->body = true;
        } else if (strcmp(w, "--help") == 0 || strcmp(w, "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        } else if (w[0] == '-') {
            (void)str_fmt(why, sizeof(why), "%s: unknown option '%.64s'", verb, w);
            return q_usage(why);
        } else if (a->verb == Q_LIST) {
            return q_usage("list takes no id");
        } else if (ctl_request_add_id(&a->req, w, why, sizeof(why)) == -1) {
            fprintf(stderr, "gate26 quarantine: %s\n", why);
            return 2;
        }
    }
    if (a->verb != Q_LIST && a->req.n_ids == 0)
        return q_usage("give the id of a quarantined message");
    if (a->verb == Q_SHOW && a->req.n_ids > 1)
        return q_usage("show takes one id");
    return -1;
}

/* ---- list and show ---- */

static void
put_text(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p >= 0x20 && *p < 0x7f && *p != '\\')
            (void)fputc(*p, f);
        else
            fprintf(f, "\\x%02X", *p);
    }
}

static void
put_json_n(FILE *f, const char *s, size_t len)
{
    (void)fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c >= 0x20 && c < 0x7f)
            (void)fputc(c, f);
        else
            fprintf(f, "\\u%04x", c);
    }
    (void)fputc('"', f);
}

static void
put_json(FILE *f, const char *s)
{
    put_json_n(f, s, strlen(s));
}

/* RFC 3339 in UTC: "2026-12-07T04:05:28Z". */
static void
rfc3339(char *out, size_t cap, time_t t)
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        (void)str_fmt(out, cap, "%lld", (long long)t);
}

/* The header section of q (up to and with the blank line, at most QUARANTINE_HEADERS_MAX), or
 * the whole message: heap, *len octets. */
static char *
q_read_content(const struct spool_quarantined *q, bool whole, size_t *len)
{
    bool complete;

    if (whole)
        return ctl_quarantine_content(q, 0, (size_t)q->content_len, len);
    return ctl_quarantine_headers(q, QUARANTINE_HEADERS_MAX, len, &complete);
}

static void
q_print_json(FILE *f, const struct spool_quarantined *q, unsigned keep, bool headers, bool body)
{
    char at[32], exp[32];

    rfc3339(at, sizeof(at), q->rec.at);
    rfc3339(exp, sizeof(exp), q->rec.at + (time_t)keep);
    fprintf(f, "{\"id\":\"%s\",\"quarantined\":\"%s\",\"check\":", q->env.id, at);
    put_json(f, q->rec.check);
    fprintf(f, ",\"reason\":");
    put_json(f, q->rec.reason);
    fprintf(f, ",\"sender\":");
    put_json(f, q->env.sender);
    fprintf(f, ",\"recipients\":[");
    for (size_t i = 0; i < q->env.n_rcpts; i++) {
        if (i > 0)
            (void)fputc(',', f);
        put_json(f, q->env.rcpts[i].addr);
    }
    fprintf(f, "],\"size\":%llu,\"door\":\"%s\",\"client\":", (unsigned long long)q->content_len,
            conf_role_name(q->env.door));
    put_json(f, q->env.client_addr);
    fprintf(f, ",\"expires\":\"%s\"", exp);
    if (headers || body) {
        size_t len;
        char *text = q_read_content(q, false, &len);

        fprintf(f, ",\"headers\":");
        put_json_n(f, text, len);
        free(text);
    }
    if (body) {
        size_t len;
        char *text = q_read_content(q, true, &len);

        fprintf(f, ",\"message\":");
        put_json_n(f, text, len);
        free(text);
    }
    (void)fputc('}', f);
}

static void
q_print_row(FILE *f, const struct spool_quarantined *q, unsigned keep)
{
    char at[32], exp[32];

    rfc3339(at, sizeof(at), q->rec.at);
    rfc3339(exp, sizeof(exp), q->rec.at + (time_t)keep);
    fprintf(f, "%s  %s  %-9s  %10llu  %-11s  %-15s  %s  <", q->env.id, at, q->rec.check,
            (unsigned long long)q->content_len, conf_role_name(q->env.door), q->env.client_addr,
            exp);
    put_text(f, q->env.sender);
    fprintf(f, ">  ");
    for (size_t i = 0; i < q->env.n_rcpts; i++) {
        if (i > 0)
            (void)fputc(',', f);
        put_text(f, q->env.rcpts[i].addr);
    }
    fprintf(f, "  \"");
    put_text(f, q->rec.reason);
    fprintf(f, "\"\n");
}

static void
q_print_show(FILE *f, const struct spool_quarantined *q, unsigned keep, bool body)
{
    char at[32], exp[32];
    size_t len;
    char *text;

    rfc3339(at, sizeof(at), q->rec.at);
    rfc3339(exp, sizeof(exp), q->rec.at + (time_t)keep);
    fprintf(f, "id:          %s\nquarantined: %s\ncheck:       %s\nreason:      ", q->env.id, at,
            q->rec.check);
    put_text(f, q->rec.reason);
    fprintf(f, "\nsender:      <");
    put_text(f, q->env.sender);
    fprintf(f, ">\n");
    for (size_t i = 0; i < q->env.n_rcpts; i++) {
        fprintf(f, "recipient:   ");
        put_text(f, q->env.rcpts[i].addr);
        (void)fputc('\n', f);
    }
    fprintf(f,
            "size:        %llu\ndoor:        %s\nclient:      ", (unsigned long long)q->content_len,
            conf_role_name(q->env.door));
    put_text(f, q->env.client_addr);
    fprintf(f, "\nexpires:     %s\n\n", exp);
    text = q_read_content(q, body, &len);
    (void)fwrite(text, 1, len, f);
    free(text);
}

/* What q_read's callback needs. */
struct q_read_ctx {
    const struct q_args *a;
    FILE *f;
    unsigned keep;
    size_t shown;
    int rc;
};

static void
q_read_one(void *arg, const char *id, const struct spool_quarantined *q, const char *why)
{
    struct q_read_ctx *x = arg;

    if (q == NULL) {
        fprintf(stderr, "gate26 quarantine: %s: %s\n", id, why);
        x->rc = 1;
        return;
    }
    if (x->a->verb == Q_SHOW) {
        if (x->a->json) {
            q_print_json(x->f, q, x->keep, true, x->a->body);
            (void)fputc('\n', x->f);
        } else {
            q_print_show(x->f, q, x->keep, x->a->body);
        }
    } else if (x->a->json) {
        fprintf(x->f, "%s\n", x->shown > 0 ? "," : "");
        q_print_json(x->f, q, x->keep, false, false);
    } else {
        q_print_row(x->f, q, x->keep);
    }
    x->shown++;
}

/*
 * Reads the spool at dir (ctl_quarantine_read: under its shared lock when
 * no daemon holds it, without one while a daemon runs). Builds the output
 * in memory and prints it after the lock is let go.
 */
static int
q_read(const char *dir, const struct q_args *a, unsigned keep)
{
    struct q_read_ctx x = {.a = a, .keep = keep};
    char why[768];
    char *out = NULL;
    size_t out_len = 0;
    bool show = a->verb == Q_SHOW;
    int rc;

    x.f = open_memstream(&out, &out_len);
    if (x.f == NULL) {
        fprintf(stderr, "gate26 quarantine: %s\n", strerror(errno));
        return 1;
    }
    if (!show) {
        if (a->json)
            fprintf(x.f, "[");
        else
            fprintf(x.f, "%-16s  %-20s  %-9s  %10s  %-11s  %-15s  %-20s  %s\n", "ID", "QUARANTINED",
                    "CHECK", "SIZE", "DOOR", "CLIENT", "EXPIRES", "SENDER  RECIPIENTS  REASON");
    }
    rc = ctl_quarantine_read(dir, show ? a->req.ids[0] : NULL, q_read_one, &x, why, sizeof(why));
    if (rc != 0) {
        (void)fclose(x.f);
        free(out);
        if (rc == -2)
            fprintf(stderr, "%s: %s\n", a->req.ids[0], why);
        else
            fprintf(stderr, "gate26 quarantine: %s\n", why);
        return 1;
    }
    if (!show) {
        if (a->json)
            fprintf(x.f, "%s]\n", x.shown > 0 ? "\n" : "");
        else
            fprintf(x.f, "%zu message%s in quarantine\n", x.shown, x.shown == 1 ? "" : "s");
    }
    if (fclose(x.f) != 0) {
        free(out);
        fprintf(stderr, "gate26 quarantine: %s\n", strerror(errno));
        return 1;
    }
    (void)fwrite(out, 1, out_len, stdout);
    free(out);
    return fflush(stdout) == 0 ? x.rc : 1;
}

/* ---- release and delete ---- */

/*
 * Prints an answer: "ok" or "error: TEXT", then "+ ID: done" lines (standard
 * output), "- ID: why" lines (standard error) and "= summary". Returns the
 * exit status.
 */
static int
q_print_answer(const char *ans, size_t len)
{
    const char *p = ans, *end = ans + len, *eol;
    bool ok, any_line = false;

    eol = memchr(p, '\n', len);
    if (eol == NULL) {
        fprintf(stderr, "gate26 quarantine: the daemon's answer is cut short\n");
        return 1;
    }
    ok = eol - p == 2 && memcmp(p, "ok", 2) == 0;
    if (!ok && !(eol - p > 7 && memcmp(p, "error: ", 7) == 0)) {
        fprintf(stderr, "gate26 quarantine: the daemon's answer is not one: %.*s\n",
                (int)(eol - p > 200 ? 200 : eol - p), p);
        return 1;
    }
    if (!ok && eol + 1 == end) {
        fprintf(stderr, "gate26 quarantine: %.*s\n", (int)(eol - p - 7), p + 7);
        return 1;
    }
    for (p = eol + 1; p < end; p = eol + 1) {
        eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL)
            eol = end;
        if (eol - p >= 2 && p[0] == '+' && p[1] == ' ') {
            fprintf(stdout, "%.*s\n", (int)(eol - p - 2), p + 2);
            any_line = true;
        } else if (eol - p >= 2 && p[0] == '-' && p[1] == ' ') {
            fprintf(stderr, "%.*s\n", (int)(eol - p - 2), p + 2);
            any_line = true;
        }
        if (eol == end)
            break;
    }
    if (!ok && !any_line)
        fprintf(stderr, "gate26 quarantine: the daemon's answer lists no message\n");
    return fflush(stdout) == 0 && ok ? 0 : 1;
}

/* The request line for ids [from, to) of a, without its LF; returns its length. */
static size_t
q_line(const struct q_args *a, size_t from, size_t to, char *line, size_t cap)
{
    size_t n = (size_t)snprintf(line, cap, "%s %s", CTL_QUARANTINE_VERB,
                                a->verb == Q_RELEASE ? "release" : "delete");

    for (size_t i = from; i < to; i++)
        n += (size_t)snprintf(line + n, cap - n, " %s", a->req.ids[i]);
    return n;
}

static int
q_change(const char *dir, const struct q_args *a)
{
    char line[CTL_REQUEST_MAX + 32], why[512], text[256];
    char *ans = NULL;
    size_t len = 0, n;
    struct evbuffer *body;
    struct spool *sp;
    int rc = 0;

    /* To the daemon, in requests of QUARANTINE_IDS_PER_REQUEST ids (each fits a request line). */
    for (size_t from = 0; from < a->req.n_ids; from += QUARANTINE_IDS_PER_REQUEST) {
        size_t to = from + QUARANTINE_IDS_PER_REQUEST;

        if (to > a->req.n_ids)
            to = a->req.n_ids;
        n = q_line(a, from, to, line, sizeof(line));
        (void)snprintf(line + n, sizeof(line) - n, "\n");
        if (ctl_request(dir, line, QUARANTINE_TIMEOUT_S, &ans, &len, why, sizeof(why)) == -1) {
            free(ans);
            ans = NULL;
            if (from == 0)
                break; /* no daemon answers */
            fprintf(stderr, "gate26 quarantine: %s\n", why);
            return 1;
        }
        if (q_print_answer(ans, len) != 0)
            rc = 1;
        free(ans);
        ans = NULL;
        if (to == a->req.n_ids)
            return rc;
    }
    n = q_line(a, 0, a->req.n_ids, line, sizeof(line));
    /* No daemon answers: do it here, under the spool's exclusive lock (quietly: the CLI
     * prints what it did; warnings still go to standard error). */
    log_set_level(LOG_LEVEL_WARNING);
    sp = spool_open_admin(dir, why, sizeof(why));
    if (sp == NULL) {
        if (errno == EWOULDBLOCK)
            fprintf(stderr,
                    "gate26 quarantine: a daemon holds the spool but does not answer on its "
                    "control socket (starting?): %s\n",
                    why);
        else
            fprintf(stderr, "gate26 quarantine: cannot open the spool: %s\n", why);
        return 1;
    }
    body = evbuffer_new();
    if (body == NULL) {
        spool_free(sp);
        fprintf(stderr, "gate26 quarantine: out of memory\n");
        return 1;
    }
    line[n] = '\0';
    rc = ctl_quarantine_run(sp, line, n, body, text, sizeof(text));
    spool_free(sp);
    {
        size_t blen = evbuffer_get_length(body);
        char *all = xmalloc(blen + sizeof(text) + 16);
        int m = rc == 0 ? snprintf(all, sizeof(text) + 16, "ok\n")
                        : snprintf(all, sizeof(text) + 16, "error: %s\n", text);

        (void)evbuffer_remove(body, all + m, blen);
        rc = q_print_answer(all, (size_t)m + blen);
        free(all);
    }
    evbuffer_free(body);
    return rc;
}

int
ctl_quarantine_main(int argc, char **argv, const char *default_conf)
{
    struct q_args *a = xcalloc(1, sizeof(*a));
    char err[1024];
    struct conf *c;
    int rc;

    a->conf_path = default_conf;
    rc = q_parse_args(argc, argv, a);
    if (rc != -1) {
        free(a);
        return rc;
    }
    c = conf_load(a->conf_path, err, sizeof(err));
    if (c == NULL) {
        fprintf(stderr, "%s\n", err);
        free(a);
        return 1;
    }
    if (a->verb == Q_LIST || a->verb == Q_SHOW)
        rc = q_read(c->spool, a, c->quarantine_keep);
    else
        rc = q_change(c->spool, a);
    conf_unref(c);
    free(a);
    return rc;
}
