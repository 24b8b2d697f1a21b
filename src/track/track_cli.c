/* SPDX-License-Identifier: MIT */
/*
 * `gate26 track [-c FILE] [--from A] [--to B] [--client IP] [--since T]
 * [--until T] [--id QID] [--message-id ID] [--limit N] [--json]`
 * (docs/console.md, "Message tracking"; README.md "Command line"): the
 * messages in SPOOL/tracking.db that match every filter, newest first, each
 * with its events. T is an RFC 3339 date-time (RFC 3339 5.6) or a duration
 * back from now (`90s`, `30m`, `2h`, `7d`, `2w`). The filters' values are
 * read by track_query_parse_field (query.c), as the console's form's are.
 *
 * Text: one block per message; every value that came from a peer (sender,
 * recipients, HELO, Subject, Message-ID, replies) is printed with control
 * characters, quotes and backslashes escaped, so that a message cannot
 * write to the terminal. JSON (--json): an array of objects with
 * snake_case fields, strings made valid UTF-8 (an invalid octet becomes
 * U+FFFD) and written by jansson.
 *
 * Exit status: 0 (also when nothing matched), 1 no database or it cannot
 * be read, 2 a usage error or a configuration that cannot be read.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "conf/conf.h"
#include "lib/caps.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "track/track.h"

#define PROG "gate26 track"

enum {
    TRACK_EXIT_OK = 0,
    TRACK_EXIT_NO_DB = 1,
    TRACK_EXIT_USAGE = 2,
};

static void
usage(FILE *out, const char *default_conf)
{
    fputs("usage: gate26 track [-c FILE] [--from A] [--to B] [--client IP] [--since T]\n"
          "                    [--until T] [--id QID] [--message-id ID] [--limit N] [--json]\n"
          "\n"
          "The messages recorded in the tracking database (SPOOL/tracking.db) that match\n"
          "every filter given, newest first, each with its events (arrival, checks,\n"
          "delivery attempts, DSNs, queue and quarantine actions).\n"
          "\n",
          out);
    fprintf(out, "  -c, --config FILE    configuration file (default %s)\n", default_conf);
    fprintf(out,
            "      --from A         the envelope sender, exactly (any case; '' or <> for <>)\n"
            "      --to B           a recipient, exactly (any case)\n"
            "      --client IP      the client's address\n"
            "      --since T        arrived at or after T: RFC 3339 (2026-12-07T10:00:00Z)\n"
            "                       or a duration back from now (90s, 30m, 2h, 7d, 2w)\n"
            "      --until T        arrived before T (the same forms)\n"
            "      --id QID         the queue id (16 upper-case hex digits)\n"
            "      --message-id ID  the Message-ID (with or without <>)\n"
            "      --limit N        at most N messages (1-%d, default %d)\n"
            "      --json           an array of JSON objects\n"
            "  -h, --help           print this text\n"
            "\n"
            "Exit status: 0 ok (also when nothing matched), 1 no tracking database or it\n"
            "cannot be read, 2 usage error or a configuration that cannot be read.\n",
            TRACK_LIMIT_MAX, TRACK_LIMIT_DEFAULT);
}

/* ---- Times ---- */

/* RFC 3339 in UTC with microseconds, into buf (at least 32 octets). */
static const char *
fmt_time(int64_t us, char *buf, size_t cap)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    char day[24];

    if (us < 0 || gmtime_r(&t, &tm) == NULL ||
        strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        (void)str_copyz(buf, cap, "-");
        return buf;
    }
    (void)str_fmt(buf, cap, "%s.%06dZ", day, (int)(us % 1000000));
    return buf;
}

/* ---- Text ---- */

/* s with control characters escaped (and '"', '\' when quoted); NULL as "-". */
static void
put_any(FILE *out, const char *s, bool quoted)
{
    if (s == NULL) {
        fputc('-', out);
        return;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\x%02x", *p);
        else if (quoted && (*p == '"' || *p == '\\'))
            fprintf(out, "\\%c", *p);
        else
            fputc(*p, out);
    }
}

static void
put_text(FILE *out, const char *s)
{
    put_any(out, s, true);
}

static void
put_angle(FILE *out, const char *addr)
{
    fputc('<', out);
    if (addr != NULL)
        put_text(out, addr);
    fputc('>', out);
}

static void
print_text(void *arg, const struct track_message *m)
{
    FILE *out = arg;
    char when[40];

    fprintf(out, "%s  %s  ", m->qid, fmt_time(m->arrival, when, sizeof when));
    put_text(out, m->status);
    fputs("\n  from=", out);
    if (m->sender != NULL)
        put_angle(out, m->sender);
    else
        fputc('-', out);
    fprintf(out, " size=%" PRIu64 " door=", m->size);
    put_text(out, m->door);
    fputs(" client=", out);
    put_text(out, m->client);
    fputs(" helo=", out);
    put_text(out, m->helo);
    fputs("\n  to=", out);
    for (size_t i = 0; i < m->n_rcpts; i++) {
        if (i > 0)
            fputc(',', out);
        put_angle(out, m->rcpts[i]);
    }
    if (m->n_rcpts == 0)
        fputc('-', out);
    fputs("\n  message-id=", out);
    put_text(out, m->message_id);
    fputs(" subject=\"", out);
    if (m->subject != NULL)
        put_text(out, m->subject);
    fputs("\"\n", out);
    for (size_t i = 0; i < m->n_events; i++) {
        const struct track_row *e = &m->events[i];

        fprintf(out, "  %s %s", fmt_time(e->time, when, sizeof when), e->kind);
        if (e->rcpt != NULL) {
            fputs(" to=", out);
            put_angle(out, e->rcpt);
        }
        if (e->detail != NULL) {
            /* key=value fields whose values we quoted ourselves: only control octets escaped. */
            fputc(' ', out);
            put_any(out, e->detail, false);
        }
        fputc('\n', out);
    }
    fputc('\n', out);
}

/* ---- JSON ---- */

/* The length of the UTF-8 sequence at p (RFC 3629 4), or 0 when it is not valid. */
static size_t
utf8_len(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        return (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (p[0] >= 0xe0 && p[0] <= 0xef) {
        if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
            return 0;
        if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f))
            return 0;
        return 3;
    }
    if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
            return 0;
        if ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
            return 0;
        return 4;
    }
    return 0;
}

/* A JSON string of s made valid UTF-8 (each invalid octet: U+FFFD); NULL: null. */
static json_t *
jstr(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len, o = 0;
    char *buf;
    json_t *j;

    if (s == NULL)
        return json_null();
    len = strlen(s);
    buf = xmalloc(len * 3 + 1);
    while (*p != '\0') {
        size_t n = utf8_len(p);

        if (n == 0) {
            memcpy(buf + o, "\xef\xbf\xbd", 3);
            o += 3;
            p++;
        } else {
            memcpy(buf + o, p, n);
            o += n;
            p += n;
        }
    }
    j = json_stringn(buf, o);
    free(buf);
    return j != NULL ? j : json_null();
}

static json_t *
jtime(int64_t us)
{
    char when[40];

    return json_string(fmt_time(us, when, sizeof when));
}

static void
add_json(void *arg, const struct track_message *m)
{
    json_t *all = arg, *o = json_object(), *rcpts = json_array(), *events = json_array();

    for (size_t i = 0; i < m->n_rcpts; i++)
        (void)json_array_append_new(rcpts, jstr(m->rcpts[i]));
    for (size_t i = 0; i < m->n_events; i++) {
        const struct track_row *e = &m->events[i];
        json_t *ev = json_object();

        (void)json_object_set_new(ev, "time", jtime(e->time));
        (void)json_object_set_new(ev, "kind", jstr(e->kind));
        (void)json_object_set_new(ev, "rcpt", jstr(e->rcpt));
        (void)json_object_set_new(ev, "detail", jstr(e->detail));
        (void)json_array_append_new(events, ev);
    }
    (void)json_object_set_new(o, "qid", jstr(m->qid));
    (void)json_object_set_new(o, "arrival", jtime(m->arrival));
    (void)json_object_set_new(o, "status", jstr(m->status));
    (void)json_object_set_new(o, "updated", jtime(m->updated));
    (void)json_object_set_new(o, "sender", jstr(m->sender));
    (void)json_object_set_new(o, "recipients", rcpts);
    (void)json_object_set_new(o, "size", json_integer((json_int_t)m->size));
    (void)json_object_set_new(o, "door", jstr(m->door));
    (void)json_object_set_new(o, "client", jstr(m->client));
    (void)json_object_set_new(o, "helo", jstr(m->helo));
    (void)json_object_set_new(o, "message_id", jstr(m->message_id));
    (void)json_object_set_new(o, "subject", jstr(m->subject));
    (void)json_object_set_new(o, "events", events);
    (void)json_array_append_new(all, o);
}

/* ---- The command ---- */

/* The filter's name (track_query_parse_field) of an option's letter. */
static const char *
filter_name(int ch)
{
    switch (ch) {
    case 'f':
        return "from";
    case 't':
        return "to";
    case 'a':
        return "client";
    case 'i':
        return "id";
    case 'm':
        return "message-id";
    case 's':
        return "since";
    case 'u':
        return "until";
    default:
        return "limit";
    }
}

static int
bad_value(const char *name, const char *what, const char *value)
{
    fprintf(stderr, PROG ": --%s takes %s, found '", name, what);
    put_text(stderr, value);
    fputs("'\n", stderr);
    return TRACK_EXIT_USAGE;
}

int
track_main(int argc, char **argv, const char *default_conf)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},     {"client", required_argument, NULL, 'a'},
        {"since", required_argument, NULL, 's'},  {"until", required_argument, NULL, 'u'},
        {"id", required_argument, NULL, 'i'},     {"message-id", required_argument, NULL, 'm'},
        {"limit", required_argument, NULL, 'l'},  {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    struct track_query q = {0};
    const char *path = default_conf;
    char err[CAP_PATH + 256], db_path[CAP_PATH], why[128];
    bool json = false;
    struct conf *c;
    struct track *t;
    json_t *all = NULL;
    int ch, n;

    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            path = optarg;
            break;
        case 'f':
        case 't':
        case 'a':
        case 'i':
        case 'm':
        case 's':
        case 'u':
        case 'l':
            /* One reading of each filter, shared with the console's form (query.c). */
            if (track_query_parse_field(&q, filter_name(ch), optarg, TRACK_LIMIT_MAX, why,
                                        sizeof why) == -1)
                return bad_value(filter_name(ch), why, optarg);
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            usage(stdout, default_conf);
            return TRACK_EXIT_OK;
        case ':':
            fprintf(stderr, PROG ": %s needs a value\n", argv[optind - 1]);
            usage(stderr, default_conf);
            return TRACK_EXIT_USAGE;
        default:
            fprintf(stderr, PROG ": unknown option '%s'\n", argv[optind - 1]);
            usage(stderr, default_conf);
            return TRACK_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
        usage(stderr, default_conf);
        return TRACK_EXIT_USAGE;
    }
    c = conf_load(path, err, sizeof(err));
    if (c == NULL) {
        fprintf(stderr, "%s\n", err);
        return TRACK_EXIT_USAGE;
    }
    if (str_fmt(db_path, sizeof db_path, "%s/tracking.db", c->spool) == -1) {
        fprintf(stderr, PROG ": %s: spool path too long\n", c->spool);
        conf_unref(c);
        return TRACK_EXIT_NO_DB;
    }
    conf_unref(c);
    t = track_sqlite_open(db_path, TRACK_OPEN_READ, NULL, err, sizeof(err));
    if (t == NULL) {
        fprintf(stderr, PROG ": %s\n", err);
        return TRACK_EXIT_NO_DB;
    }
    if (json) {
        all = json_array();
        n = track_search(t, &q, add_json, all, err, sizeof(err));
    } else {
        n = track_search(t, &q, print_text, stdout, err, sizeof(err));
    }
    track_close(t);
    if (n == -1) {
        json_decref(all);
        fprintf(stderr, PROG ": %s\n", err);
        return TRACK_EXIT_NO_DB;
    }
    if (json) {
        if (json_dumpf(all, stdout, JSON_INDENT(2)) == -1)
            n = -1;
        fputc('\n', stdout);
        json_decref(all);
    }
    return fflush(stdout) == 0 && n != -1 ? TRACK_EXIT_OK : TRACK_EXIT_NO_DB;
}
