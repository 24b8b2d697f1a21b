/* SPDX-License-Identifier: MIT */
/*
 * Our trace header (RFC 5321 4.4): which door took the message, from which
 * client (its HELO and address), by which protocol (RFC 3848, and RFC 6531
 * 3.7.3 for SMTPUTF8) and under which queue id. Every field in it is ours
 * or was checked by a grammar before (HELO: Domain / address-literal), so no
 * peer byte reaches the header unvalidated.
 */
#include <string.h>
#include <time.h>

#include "lib/str.h"
#include "smtp/session.h"

const char *
smtp_protocol_name(const struct smtp_session *s)
{
    /* RFC 3848 2 and RFC 6531 3.7.3: S for TLS, A for AUTH. */
    static const char *const names[2][2][2] = {
        {{"ESMTP", "ESMTPA"}, {"ESMTPS", "ESMTPSA"}},
        {{"UTF8SMTP", "UTF8SMTPA"}, {"UTF8SMTPS", "UTF8SMTPSA"}},
    };

    if (!s->esmtp)
        return "SMTP";
    return names[s->txn.mail.smtputf8][s->tls_up][s->auth_user[0] != '\0'];
}

size_t
smtp_received_format(const struct smtp_session *s, const char *protocol, char *buf, size_t cap)
{
    char date[64], tcp_info[INET6_ADDRSTRLEN + 8], rcpt_for[CAP_MAILBOX + 16], tls[192];
    time_t now = time(NULL);
    struct tm tm;
    const struct smtp_txn *t = &s->txn;

    (void)gmtime_r(&now, &tm);
    /* RFC 5322 3.3 date-time, in UTC. */
    if (strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
        return 0;
    /* TCP-info = address-literal (RFC 5321 4.1.3). */
    if (str_fmt(tcp_info, sizeof(tcp_info), s->client_family == AF_INET6 ? "[IPv6:%s]" : "[%s]",
                s->client_addr) == -1)
        return 0;
    /* "for" only for a single recipient (RFC 5321 4.4 allows it; more would
     * disclose the other recipients), and only in ASCII unless SMTPUTF8. */
    rcpt_for[0] = '\0';
    if (t->n_rcpts == 1 &&
        (t->mail.smtputf8 || str_is_ascii(t->rcpts[0].addr, strlen(t->rcpts[0].addr)))) {
        if (str_fmt(rcpt_for, sizeof(rcpt_for), "\r\n\tfor <%s>", t->rcpts[0].addr) == -1)
            return 0;
    }
    /* The TLS version and cipher in a comment, as other MTAs write them. */
    tls[0] = '\0';
    if (s->tls_up && str_fmt(tls, sizeof(tls), "\r\n\t(using %s)", s->tls_desc) == -1)
        return 0;
    if (str_fmt(buf, cap,
                "Received: from %s (%s)%s\r\n"
                "\tby %s (gate26, %s door) with %s id %s%s;\r\n"
                "\t%s\r\n",
                s->helo, tcp_info, tls, s->conf->hostname, conf_role_name(s->door->role), protocol,
                s->queue_id, rcpt_for, date) == -1)
        return 0;
    return strlen(buf);
}
