/* SPDX-License-Identifier: MIT */
/*
 * SMTP AUTH on the client side (RFC 4954), for relays given a login with
 * relay-auth: after EHLO (after STARTTLS and the second EHLO, or inside an
 * smtps connection), before MAIL.
 *
 *   PLAIN (RFC 4616), preferred: "AUTH PLAIN" with the initial response
 *         base64("" NUL user NUL password) (RFC 4954 4); 235 or a refusal.
 *   LOGIN (draft-murchison-sasl-login): "AUTH LOGIN", then the user and the
 *         password, each base64 in answer to a 334 (its prompt is not read).
 *
 * Only inside TLS: the attempt's policy is at least encrypt when it has a
 * login (deliver.c), and this file checks again before a password leaves.
 * When the server offers no AUTH, or neither mechanism, the hop fails
 * (4.7.4): mail is never sent unauthenticated to a relay we were told to
 * log in to. A refused login is a hop failure too, temporary whatever the
 * server's class (Postfix does the same): the admin fixes the password and
 * the mail waits; the server's reply is logged, the password never is.
 * The lines that carry the password are wiped once written.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "deliver/deliver_impl.h"
#include "lib/log.h"
#include "lib/str.h"

/* "AUTH PLAIN " and base64 of 1 + 255 + 1 + 255 octets, CR LF, NUL: well within. */
#define AUTH_LINE_CAP 1024

/* A hop failure before the transaction: the next hop is tried. */
static void
auth_hop_failed(struct deliver_conn *c, const char *enhanced, const char *text, bool quit)
{
    deliver_hop_failed(c->d, c, enhanced, text);
    if (quit)
        deliver_conn_quit(c);
    else
        deliver_conn_close(c);
}

/* Writes prefix, base64 of len octets of p, CR LF; then wipes the line. */
static void
auth_send_b64(struct deliver_conn *c, const char *prefix, const unsigned char *p, size_t len)
{
    char line[AUTH_LINE_CAP];
    size_t n = strlen(prefix);

    if (n + 4 * ((len + 2) / 3) + 3 > sizeof(line))
        log_panic("deliver: AUTH line does not fit");
    memcpy(line, prefix, n);
    n += (size_t)EVP_EncodeBlock((unsigned char *)line + n, p, (int)len);
    memcpy(line + n, "\r\n", 2);
    deliver_conn_write(c, line, n + 2);
    OPENSSL_cleanse(line, sizeof(line));
    deliver_conn_arm(c, c->d->opts.timeouts.command);
}

/* AUTH PLAIN with its initial response: authzid (empty) NUL authcid NUL passwd (RFC 4616 2). */
static void
auth_plain(struct deliver_conn *c)
{
    const struct deliver *d = c->d;
    size_t ul = strlen(d->auth_user), pl = strlen(d->auth_password);
    unsigned char msg[2 + 2 * 256];

    msg[0] = '\0';
    memcpy(msg + 1, d->auth_user, ul);
    msg[1 + ul] = '\0';
    memcpy(msg + 2 + ul, d->auth_password, pl);
    auth_send_b64(c, "AUTH PLAIN ", msg, 2 + ul + pl);
    OPENSSL_cleanse(msg, sizeof(msg));
}

void
deliver_auth_start(struct deliver_conn *c)
{
    const struct deliver *d = c->d;
    char text[DELIVER_TEXT_MAX];

    if (d->auth_user == NULL) {
        deliver_txn_start(c);
        return;
    }
    if (!c->tls) {
        /* deliver.c raised the policy; this is the last guard before a password leaves. */
        (void)str_fmt(text, sizeof(text),
                      "not logging in to %s without TLS (relay-auth is set: the password never "
                      "travels in clear)",
                      c->relay);
        auth_hop_failed(c, "4.7.4", text, true);
        return;
    }
    if (!c->caps.auth || (!c->caps.auth_plain && !c->caps.auth_login)) {
        (void)str_fmt(text, sizeof(text),
                      "%s offers %s, and relay-auth is set: the mail is not sent "
                      "unauthenticated",
                      c->relay, c->caps.auth ? "AUTH without PLAIN or LOGIN" : "no AUTH");
        auth_hop_failed(c, "4.7.4", text, true);
        return;
    }
    deliver_conn_set_state(c, DELIVER_ST_AUTH);
    c->auth_step = 0;
    if (c->caps.auth_plain) {
        c->auth_mech = "PLAIN";
        auth_plain(c);
    } else {
        c->auth_mech = "LOGIN";
        deliver_conn_write(c, "AUTH LOGIN\r\n", 12);
        deliver_conn_arm(c, d->opts.timeouts.command);
    }
}

/* The login was refused (or the exchange went wrong): a hop failure, the reply logged. */
static void
auth_refused(struct deliver_conn *c, const struct deliver_reply *r)
{
    char text[DELIVER_TEXT_MAX], enhanced[16], q[LOG_QUOTE_CAP], qu[LOG_QUOTE_CAP];

    log_warning("%s: relay=%s, event=auth-failed, mechanism=%s, user=\"%s\", reply=\"%s\"",
                deliver_log_id(c->d), c->relay, c->auth_mech,
                log_quote(qu, sizeof(qu), c->d->auth_user, strlen(c->d->auth_user)),
                log_quote(q, sizeof(q), r->text, strlen(r->text)));
    (void)str_fmt(text, sizeof(text), "authentication with %s failed: %s (in reply to AUTH %s)",
                  c->relay, r->text, c->auth_mech);
    /* Temporary whatever the server said: the admin fixes relay-auth, the mail waits. */
    if (r->enhanced[0] != '\0') {
        (void)str_copyz(enhanced, sizeof(enhanced), r->enhanced);
        enhanced[0] = '4';
    } else {
        memcpy(enhanced, "4.7.0", 6);
    }
    /* After a 334 the server waits for a response we will not give: close, no QUIT. */
    auth_hop_failed(c, enhanced, text, r->code / 100 != 3 && r->code != 421);
}

void
deliver_auth_reply(struct deliver_conn *c, const struct deliver_reply *r)
{
    const struct deliver *d = c->d;
    char q[LOG_QUOTE_CAP];

    if (r->code == 235) {
        log_info("%s: relay=%s, event=auth, mechanism=%s, user=\"%s\"", deliver_log_id(d), c->relay,
                 c->auth_mech, log_quote(q, sizeof(q), d->auth_user, strlen(d->auth_user)));
        /* No security layer with PLAIN or LOGIN: the EHLO capabilities still hold. */
        deliver_txn_start(c);
        return;
    }
    if (r->code == 334 && strcmp(c->auth_mech, "LOGIN") == 0 && c->auth_step < 2) {
        const char *field = c->auth_step == 0 ? d->auth_user : d->auth_password;

        c->auth_step++;
        auth_send_b64(c, "", (const unsigned char *)field, strlen(field));
        return;
    }
    auth_refused(c, r);
}
