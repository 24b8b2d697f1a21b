/* SPDX-License-Identifier: MIT */
/*
 * Mail (notify.h): `mail ADDRESS` queues one plain-text message about the
 * alert in gate26's own spool, as sched/bounce.c queues a bounce, and the
 * scheduler delivers it like any other (MX or relay, retries, give-up).
 *
 * The envelope sender is the null path <> (RFC 5321 4.5.5): a report that
 * cannot be delivered is never bounced back into another report. The
 * header (RFC 5322 3.6) says From: MAILER-DAEMON@hostname, a Subject that
 * names the state, the rule and the key, Date, Message-ID, and
 * Auto-Submitted: auto-generated (RFC 3834 5) so that autoresponders stay
 * quiet. The body is the facts in lines, then the same JSON document the
 * webhooks get. Everything in it is ASCII: the key is printable ASCII
 * (alert_key_text), the rest is ours.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "spool/spool.h"
#include "watch/notify.h"

/* The longest message: the header, the facts and a JSON document with the longest key. */
#define MAIL_TEXT_MAX (64 * 1024)

/* "Mon, 07 Dec 2026 10:20:30 +0000" with our own names: strftime's depend on the locale. */
static void
mail_date(char *out, size_t cap, time_t t)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL)
        memset(&tm, 0, sizeof(tm));
    (void)str_fmt(out, cap, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7],
                  tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
}

/* The JSON with CRLF line ends and no line over 998 octets (RFC 5322 2.1.1): cut where longer. */
static size_t
put_json(char *out, size_t cap, const char *json)
{
    size_t o = 0, col = 0;

    for (const char *p = json; *p != '\0' && o + 3 < cap; p++) {
        if (*p == '\n' || col >= 900) {
            out[o++] = '\r';
            out[o++] = '\n';
            col = 0;
            if (*p == '\n')
                continue;
        }
        out[o++] = *p;
        col++;
    }
    return o;
}

static void
mail_committed(void *arg, const char *id, int status, int err)
{
    (void)arg;
    if (status == 0)
        log_info("%s: event=alert-mail, status=queued", id);
    else
        log_warning("%s: event=alert-mail, status=failed, error=\"spool: %s\"", id, strerror(err));
}

void
notify_mail_send(struct spool *sp, const char *hostname, char *const *to, size_t n,
                 const struct notify_what *what)
{
    static atomic_uint_fast64_t seq;
    struct spool_rcpt rcpts[CONF_ALERT_ACTIONS_MAX];
    struct spool_envelope env;
    struct spool_msg *m;
    char date[64], *text;
    size_t len = 0;
    int k;

    if (sp == NULL) {
        log_warning("-: event=alert-mail, rule=%s, key=%s, state=%s, status=failed, "
                    "error=\"no spool\"",
                    what->rule, what->key_log, what->state);
        return;
    }
    if (n > CONF_ALERT_ACTIONS_MAX)
        n = CONF_ALERT_ACTIONS_MAX;
    memset(rcpts, 0, sizeof(rcpts));
    for (size_t i = 0; i < n; i++)
        rcpts[i].addr = to[i];
    memset(&env, 0, sizeof(env));
    env.sender = "";
    env.body = SPOOL_BODY_7BIT;
    env.rcpts = rcpts;
    env.n_rcpts = n;
    env.door = DOOR_INTERNAL; /* made here; it leaves by MX like mail from our own servers */
    env.client_addr = "127.0.0.1";
    env.helo = "";
    env.protocol = "LOCAL";
    (void)gettimeofday(&env.arrival, NULL);
    if (spool_msg_new(sp, &env, &m) == -1) {
        log_warning("-: event=alert-mail, rule=%s, key=%s, state=%s, status=failed, "
                    "error=\"spool: %s\"",
                    what->rule, what->key_log, what->state, strerror(errno));
        return;
    }
    text = xmalloc(MAIL_TEXT_MAX);
    mail_date(date, sizeof(date), what->time);
    k = snprintf(text, MAIL_TEXT_MAX,
                 "Date: %s\r\n"
                 "From: gate26 alerts <MAILER-DAEMON@%s>\r\n"
                 "To: undisclosed-recipients:;\r\n"
                 "Subject: [gate26] %s: alert %s, %.200s\r\n"
                 "Message-ID: <%s.alert.%" PRIuFAST64 "@%s>\r\n"
                 "MIME-Version: 1.0\r\n"
                 "Content-Type: text/plain; charset=us-ascii\r\n"
                 "Content-Transfer-Encoding: 7bit\r\n"
                 "Auto-Submitted: auto-generated\r\n"
                 "\r\n"
                 "The alert %s of %s is %s.\r\n"
                 "\r\n"
                 "rule:  %s\r\n"
                 "when:  %s\r\n"
                 "key:   %.900s\r\n"
                 "state: %s\r\n"
                 "time:  %s\r\n"
                 "\r\n"
                 "The same as JSON (as webhooks get it):\r\n"
                 "\r\n",
                 date, hostname, what->state, what->rule, what->key, spool_msg_id(m),
                 atomic_fetch_add(&seq, 1), hostname, what->rule, hostname, what->state, what->rule,
                 what->when, what->key, what->state, date);
    if (k < 0 || (size_t)k >= MAIL_TEXT_MAX - 4)
        log_panic("alert mail: the header does not fit");
    len = (size_t)k;
    len += put_json(text + len, MAIL_TEXT_MAX - len - 2, what->json);
    memcpy(text + len, "\r\n", 2);
    len += 2;
    if (spool_msg_write(m, text, len) == -1) {
        log_warning("%s: event=alert-mail, rule=%s, key=%s, state=%s, status=failed, "
                    "error=\"spool: %s\"",
                    spool_msg_id(m), what->rule, what->key_log, what->state, strerror(errno));
        spool_msg_abort(m);
        free(text);
        return;
    }
    free(text);
    log_info("%s: event=alert-mail, rule=%s, key=%s, state=%s, nrcpt=%zu", spool_msg_id(m),
             what->rule, what->key_log, what->state, n);
    spool_msg_commit(m, mail_committed, NULL);
}
