/* SPDX-License-Identifier: MIT */
/*
 * `gate26 queue`: reads the command line into a request (request.h), then
 *
 *   - when the daemon answers on SPOOL/control, sends it the request line
 *     and prints the answer: the body on standard output, refusals on
 *     standard error;
 *   - else `list` and `show` read the spool themselves, read-only and under
 *     a shared lock (docs/spool.md, "The lock"), and let the lock go before
 *     they print;
 *   - and the commands that change messages say that the daemon is not
 *     running: they never touch the spool themselves.
 *
 * A daemon that holds the lock but does not answer yet is starting: the
 * client asks again for CTL_CLIENT_WAIT_MS.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "conf/conf.h"
#include "ctl/call.h"
#include "ctl/ctl.h"
#include "ctl/format.h"
#include "ctl/request.h"
#include "lib/io.h"
#include "lib/now.h"
#include "lib/str.h"
#include "lib/xalloc.h"

/* A starting daemon (it holds the lock, its socket is not there yet) gets this long. */
#define CTL_CLIENT_WAIT_MS 10000
#define CTL_CLIENT_POLL_MS 50

static const char usage_text[] =
    "usage: gate26 queue [-c FILE] COMMAND [ID... | SELECTOR...]\n"
    "  list [--json] [SELECTOR...]  queued messages: id, age, size, next try, sender,\n"
    "                               recipients\n"
    "  show ID...                   a message's envelope (times in UTC) and header\n"
    "  flush [ID... | SELECTOR...]  try now (nothing given: every message not on hold)\n"
    "  hold ID... | SELECTOR...     no delivery until released\n"
    "  release ID... | SELECTOR...  undo hold, try now\n"
    "  delete ID... | SELECTOR...   remove without delivering or bouncing\n"
    "  bounce ID... | SELECTOR...   return to the sender now\n"
    "selectors (given together, a message must match all of them):\n"
    "  --all                        every message\n"
    "  --from ADDR                  the sender is ADDR (<> for bounces)\n"
    "  --to ADDR                    a recipient not yet delivered is ADDR\n"
    "  --domain DOMAIN              a recipient not yet delivered is in DOMAIN\n"
    "  --client IP                  received from IP\n"
    "  --user NAME                  sent by the authenticated user NAME\n"
    "  --held                       on hold\n"
    "  --deferred                   tried at least once, not on hold\n"
    "list and show also work with the daemon stopped (they read the spool); the\n"
    "other commands go through the daemon. Exit status: 0 done, 1 not done (for any\n"
    "message) or the daemon not running, 2 usage error.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Says what is wrong, then the usage. Returns 2, the exit status of a usage error. */
static int
usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("gate26 queue: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", usage_text);
    return 2;
}

/* ---- The command line ---- */

enum {
    OPT_JSON = 256,
    OPT_ALL,
    OPT_HELD,
    OPT_DEFERRED,
    OPT_FROM,
    OPT_TO,
    OPT_DOMAIN,
    OPT_CLIENT,
    OPT_USER,
};

/* Reads argv (argv[0] is "queue") into req and *conf_path. Returns -1 to go on, else the exit. */
static int
parse_args(int argc, char **argv, struct ctl_request *req, const char **conf_path)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {"json", no_argument, NULL, OPT_JSON},
        {"all", no_argument, NULL, OPT_ALL},
        {"held", no_argument, NULL, OPT_HELD},
        {"deferred", no_argument, NULL, OPT_DEFERRED},
        {"from", required_argument, NULL, OPT_FROM},
        {"to", required_argument, NULL, OPT_TO},
        {"domain", required_argument, NULL, OPT_DOMAIN},
        {"client", required_argument, NULL, OPT_CLIENT},
        {"user", required_argument, NULL, OPT_USER},
        {NULL, 0, NULL, 0},
    };
    static const char *const names[] = {
        [OPT_ALL - OPT_ALL] = "all",
        [OPT_HELD - OPT_ALL] = "held",
        [OPT_DEFERRED - OPT_ALL] = "deferred",
        [OPT_FROM - OPT_ALL] = "from",
        [OPT_TO - OPT_ALL] = "to",
        [OPT_DOMAIN - OPT_ALL] = "domain",
        [OPT_CLIENT - OPT_ALL] = "client",
        [OPT_USER - OPT_ALL] = "user",
    };
    bool json = false, help = false;
    char why[256];
    int ch;

    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            *conf_path = optarg;
            break;
        case 'h':
            help = true;
            break;
        case OPT_JSON:
            json = true;
            break;
        case ':':
            return usage_error("%s needs a value", argv[optind - 1]);
        case '?':
            return usage_error("unknown option %s", argv[optind - 1]);
        default:
            req->has_select = true;
            if (ctl_select_set(&req->sel, names[ch - OPT_ALL], ch >= OPT_FROM ? optarg : NULL, why,
                               sizeof(why)) == -1)
                return usage_error("%s", why);
            break;
        }
    }
    if (help) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (optind == argc)
        return usage_error("%s", "which command?");
    if (ctl_verb_find(argv[optind], &req->verb) == -1 || req->verb == CTL_LIST_JSON)
        return usage_error("unknown command '%s'", argv[optind]);
    if (json && req->verb != CTL_LIST)
        return usage_error("%s", "--json goes with list");
    if (json)
        req->verb = CTL_LIST_JSON;
    for (int i = optind + 1; i < argc; i++) {
        bool twice = false;

        for (size_t j = 0; j < req->n_ids && !twice; j++)
            twice = strcmp(req->ids[j], argv[i]) == 0;
        if (twice)
            continue; /* "hold A A" holds A */
        if (ctl_request_add_id(req, argv[i], why, sizeof(why)) == -1) {
            /* A malformed id is the daemon's kind of refusal (1), too many a usage error. */
            if (!ctl_is_id(argv[i])) {
                fprintf(stderr, "gate26 queue: %s\n", why);
                return 1;
            }
            return usage_error("%s", why);
        }
    }
    if (ctl_request_check(req, why, sizeof(why)) == -1)
        return usage_error("%s", why);
    return -1;
}

/* ---- Through the daemon ---- */

/* True when the answer's body tags each line: "+ " done, "- " not done, "= " the summary. */
static bool
is_tagged(const struct ctl_request *req)
{
    return ctl_verb_acts(req->verb) && (req->n_ids > 0 || req->has_select);
}

/*
 * Sends the request on fd and prints the answer. Returns the exit status,
 * or -1 when the daemon closed the connection before its status line
 * (nothing printed).
 */
static int
exchange(int fd, const char *path, const char *line, const struct ctl_request *req)
{
    bool ok, tagged = is_tagged(req);
    char *buf = NULL, *summary = NULL, *status = NULL;
    size_t cap = 0;
    ssize_t n;
    FILE *in;

    if (io_write_full(fd, line, strlen(line)) == -1) {
        fprintf(stderr, "gate26 queue: %s: %s\n", path, strerror(errno));
        (void)close(fd);
        return 1;
    }
    in = fdopen(fd, "r");
    if (in == NULL) {
        fprintf(stderr, "gate26 queue: %s\n", strerror(errno));
        (void)close(fd);
        return 1;
    }
    n = getline(&status, &cap, in);
    if (n <= 0 || status[n - 1] != '\n') {
        /* Stopping (or failing to start) before it read us: the caller may ask again. */
        free(status);
        (void)fclose(in);
        return -1;
    }
    status[n - 1] = '\0';
    ok = strcmp(status, "ok") == 0;
    /* A refusal of the whole request comes first; a command on messages ends with its summary. */
    if (!ok && !tagged)
        fprintf(stderr, "gate26 queue: %s\n",
                strncmp(status, "error: ", 7) == 0 ? status + 7 : status);
    cap = 0;
    while ((n = getline(&buf, &cap, in)) > 0) {
        if (!tagged) {
            (void)fwrite(buf, 1, (size_t)n, ok ? stdout : stderr);
        } else if (n >= 2 && buf[0] == '+' && buf[1] == ' ') {
            (void)fwrite(buf + 2, 1, (size_t)n - 2, stdout);
        } else if (n >= 2 && buf[0] == '-' && buf[1] == ' ') {
            (void)fflush(stdout);
            fprintf(stderr, "gate26 queue: %s", buf + 2);
        } else if (n >= 2 && buf[0] == '=' && buf[1] == ' ' && summary == NULL) {
            summary = xstrdup(buf + 2);
        }
    }
    free(buf);
    (void)fclose(in);
    if (tagged) {
        const char *text = summary != NULL                      ? summary
                           : strncmp(status, "error: ", 7) == 0 ? status + 7
                                                                : status;

        if (ok && summary != NULL)
            fputs(summary, stdout);
        else if (!ok)
            fprintf(stderr, "gate26 queue: %s%s", text, summary != NULL ? "" : "\n");
    }
    free(summary);
    free(status);
    if (!ok)
        return 1;
    return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- Without the daemon: list and show from the spool ---- */

/* Writes the whole buffer to stdio stream f. */
static void
put_all(struct evbuffer *b, FILE *f)
{
    size_t len = evbuffer_get_length(b);

    if (len > 0)
        (void)fwrite(evbuffer_pullup(b, -1), 1, len, f);
}

static void
offline_info(const struct spool_queued *q, struct sched_info *info)
{
    memset(info, 0, sizeof(*info));
    info->q = q;
    info->held = q->env.next_attempt == SPOOL_NEXT_HELD;
    info->active = false;
    info->last_error = ""; /* the daemon keeps it in memory only */
}

/* list: every message in queue/ that matches. Returns 0, or -1 (err holds why). */
static int
offline_list(struct spool *sp, const struct ctl_request *req, time_t now, struct evbuffer *out,
             struct evbuffer *err)
{
    bool json = req->verb == CTL_LIST_JSON;
    char(*ids)[SPOOL_ID_LEN + 1];
    size_t n_ids, n = 0;

    if (spool_queue_list(sp, &ids, &n_ids) == -1) {
        (void)evbuffer_add_printf(err, "gate26 queue: %s/queue: %s\n", spool_dir(sp),
                                  strerror(errno));
        return -1;
    }
    ctl_format_list_begin(out, json);
    for (size_t i = 0; i < n_ids; i++) {
        struct spool_queued *q;
        struct sched_info info;
        char why[256];

        if (spool_queued_open(sp, ids[i], &q, why, sizeof(why)) == -1) {
            /* As the daemon would: a file that cannot be read is not listed (but said). */
            (void)evbuffer_add_printf(err, "gate26 queue: %s/queue/%s: %s\n", spool_dir(sp), ids[i],
                                      why);
            continue;
        }
        offline_info(q, &info);
        if (!req->has_select || ctl_select_match(&req->sel, &q->env, info.held)) {
            if (json && n > 0)
                (void)evbuffer_add(out, ",\n", 2);
            ctl_format_list_entry(out, &info, now, json);
            n++;
        }
        spool_queued_close(q);
    }
    ctl_format_list_end(out, json, n, n);
    free(ids);
    return 0;
}

/* show: each message named. Returns 0, or -1 (err holds why). */
static int
offline_show(struct spool *sp, const struct ctl_request *req, time_t now, struct evbuffer *out,
             struct evbuffer *err)
{
    for (size_t i = 0; i < req->n_ids; i++) {
        struct spool_queued *q;
        struct sched_info info;
        char why[256];

        if (spool_queued_open(sp, req->ids[i], &q, why, sizeof(why)) == -1) {
            if (errno == ENOENT)
                (void)evbuffer_add_printf(err, "gate26 queue: no message %s in the queue\n",
                                          req->ids[i]);
            else
                (void)evbuffer_add_printf(err, "gate26 queue: %s/queue/%s: %s\n", spool_dir(sp),
                                          req->ids[i], why);
            return -1;
        }
        offline_info(q, &info);
        if (i > 0)
            (void)evbuffer_add(out, "\n", 1);
        ctl_format_show(out, &info, now);
        spool_queued_close(q);
    }
    return 0;
}

/*
 * Reads what list or show asks from the spool opened by spool_open_reader
 * (freed here: the lock goes before anything is printed). Returns the exit
 * status.
 */
static int
offline(struct spool *sp, const struct ctl_request *req)
{
    struct evbuffer *out = evbuffer_new(), *err = evbuffer_new();
    time_t now = time(NULL);
    int rc;

    if (out == NULL || err == NULL)
        abort();
    rc = req->verb == CTL_SHOW ? offline_show(sp, req, now, out, err)
                               : offline_list(sp, req, now, out, err);
    spool_free(sp);
    if (rc == 0)
        put_all(out, stdout);
    (void)fflush(stdout);
    put_all(err, stderr);
    evbuffer_free(out);
    evbuffer_free(err);
    if (rc == -1)
        return 1;
    return fflush(stdout) == 0 ? 0 : 1;
}

static void
sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* Talks to the daemon of spool_dir, or reads the spool when no daemon holds it. */
static int
client_run(const char *spool_dir, const struct ctl_request *req)
{
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)], why[512];
    char *line = xmalloc(CTL_REQUEST_MAX + 2);
    uint64_t start = now_ms();
    int fd, rc, conn_err;

    if (str_fmt(path, sizeof(path), "%s/%s", spool_dir, CTL_SOCKET_NAME) == -1) {
        fprintf(stderr, "gate26 queue: %s/%s: path too long\n", spool_dir, CTL_SOCKET_NAME);
        free(line);
        return 1;
    }
    if (ctl_request_format(req, line, CTL_REQUEST_MAX + 2) == -1)
        abort(); /* request.h: every checked request fits */
    for (;;) {
        struct spool *sp;

        fd = ctl_connect(path);
        if (fd != -1) {
            rc = exchange(fd, path, line, req);
            if (rc != -1)
                break;
            /* A read is safe to ask again (the daemon may be gone: then from the spool). */
            if (ctl_verb_acts(req->verb) || now_ms() - start >= CTL_CLIENT_WAIT_MS) {
                fprintf(stderr,
                        "gate26 queue: the daemon closed the connection without an answer\n");
                rc = 1;
                break;
            }
            sleep_ms(CTL_CLIENT_POLL_MS);
            continue;
        }
        conn_err = errno;
        if (conn_err != ENOENT && conn_err != ECONNREFUSED) {
            fprintf(stderr, "gate26 queue: cannot reach the daemon at %s: %s\n", path,
                    strerror(conn_err));
            rc = 1;
            break;
        }
        /* Nobody answers: is a daemon holding the spool at all? */
        sp = spool_open_reader(spool_dir, why, sizeof(why));
        if (sp != NULL || errno == ENOENT) {
            if (sp != NULL && !ctl_verb_acts(req->verb)) {
                fprintf(stderr, "gate26 queue: the daemon is not running: read from %s/queue\n",
                        spool_dir);
                rc = offline(sp, req);
                break;
            }
            spool_free(sp);
            if (ctl_verb_acts(req->verb))
                fprintf(stderr,
                        "gate26 queue: the daemon is not running; start gate26 serve to %s "
                        "messages (list and show work without it)\n",
                        ctl_verb_name(req->verb));
            else
                fprintf(stderr, "gate26 queue: %s\n", why);
            rc = 1;
            break;
        }
        if (errno != EWOULDBLOCK) {
            fprintf(stderr, "gate26 queue: %s\n", why);
            rc = 1;
            break;
        }
        /* It holds the lock: it is starting (its socket comes soon), or it is wedged. */
        if (now_ms() - start >= CTL_CLIENT_WAIT_MS) {
            fprintf(stderr,
                    "gate26 queue: cannot reach the daemon at %s: %s (a gate26 serve holds the "
                    "spool but does not answer)\n",
                    path, strerror(conn_err));
            rc = 1;
            break;
        }
        sleep_ms(CTL_CLIENT_POLL_MS);
    }
    free(line);
    return rc;
}

int
ctl_client_main(int argc, char **argv, const char *default_conf)
{
    struct ctl_request *req = xcalloc(1, sizeof(*req));
    const char *conf_path = default_conf;
    char err[1024];
    struct conf *c;
    int rc = parse_args(argc, argv, req, &conf_path);

    if (rc != -1) {
        free(req);
        return rc;
    }
    c = conf_load(conf_path, err, sizeof(err));
    if (c == NULL) {
        fprintf(stderr, "%s\n", err);
        free(req);
        return 1;
    }
    rc = client_run(c->spool, req);
    conf_unref(c);
    free(req);
    return rc;
}
