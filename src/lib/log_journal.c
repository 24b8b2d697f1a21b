/* SPDX-License-Identifier: MIT */
/*
 * Log lines to the journal; see log_journal.h. Thread-safe: libsystemd
 * opens its socket once (atomically) and each line is one sendmsg(2).
 */
#include <string.h>
#include <sys/uio.h>
#include <syslog.h>

#define SD_JOURNAL_SUPPRESS_LOCATION /* CODE_FILE= would name this file for every line */
#include <systemd/sd-journal.h>

#include "lib/caps.h"
#include "lib/log_journal.h"

/* A queue id: SPOOL_ID_LEN (spool/spool.h) upper-case hex digits. */
#define LOG_JOURNAL_ID_LEN 16

/* A decimal number without sign, at *p, up to the first octet that is not a digit. */
static bool
log_journal_number(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;

    if (*s < '0' || *s > '9')
        return false;
    while (*s >= '0' && *s <= '9') {
        unsigned d = (unsigned)(*s - '0');

        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
        s++;
    }
    *p = s;
    *out = v;
    return true;
}

bool
log_journal_names(const char *env, uint64_t dev, uint64_t ino)
{
    uint64_t d, i;

    if (env == NULL || !log_journal_number(&env, &d) || *env++ != ':' ||
        !log_journal_number(&env, &i) || *env != '\0')
        return false;
    return d == dev && i == ino;
}

size_t
log_journal_queue_id(const char *msg, size_t len)
{
    if (len < LOG_JOURNAL_ID_LEN + 2 || msg[LOG_JOURNAL_ID_LEN] != ':' ||
        msg[LOG_JOURNAL_ID_LEN + 1] != ' ')
        return 0;
    for (size_t i = 0; i < LOG_JOURNAL_ID_LEN; i++) {
        if (!((msg[i] >= '0' && msg[i] <= '9') || (msg[i] >= 'A' && msg[i] <= 'F')))
            return 0;
    }
    return LOG_JOURNAL_ID_LEN;
}

int
log_journal_send(int prio, const char *msg, size_t len)
{
    static const char message[] = "MESSAGE=", qid[] = "GATE26_QUEUE_ID=";
    char text[sizeof(message) + CAP_LOG_LINE], id[sizeof(qid) + LOG_JOURNAL_ID_LEN];
    char priority[sizeof("PRIORITY=") + 1];
    /* SYSLOG_FACILITY=2 (mail): where rsyslog reads the journal, lines land in mail.log. */
    struct iovec iov[5] = {
        {.iov_base = text},
        {.iov_base = priority, .iov_len = sizeof(priority) - 1},
        {.iov_base = (char *)"SYSLOG_IDENTIFIER=gate26", .iov_len = 24},
        {.iov_base = (char *)"SYSLOG_FACILITY=2", .iov_len = 17},
        {.iov_base = id},
    };
    const char *colon = memchr(msg, ':', len); /* after the level word */
    size_t at = colon != NULL ? (size_t)(colon - msg) + 2 : len;
    size_t k = at < len ? log_journal_queue_id(msg + at, len - at) : 0;
    int n = 4;

    if (len > CAP_LOG_LINE || prio < LOG_EMERG || prio > LOG_DEBUG)
        return -1;
    memcpy(text, message, sizeof(message) - 1);
    memcpy(text + sizeof(message) - 1, msg, len);
    iov[0].iov_len = sizeof(message) - 1 + len;
    memcpy(priority, "PRIORITY=", sizeof(priority) - 2);
    priority[sizeof(priority) - 2] = (char)('0' + prio);
    if (k != 0) {
        memcpy(id, qid, sizeof(qid) - 1);
        memcpy(id + sizeof(qid) - 1, msg + at, k);
        iov[n++].iov_len = sizeof(qid) - 1 + k;
    }
    return sd_journal_sendv(iov, n) < 0 ? -1 : 0;
}
