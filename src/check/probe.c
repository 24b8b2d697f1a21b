/* SPDX-License-Identifier: MIT */
/*
 * The remote ports of gate26 check: every (host, port) is probed at once on
 * one libevent loop, each by a small state machine (enum probe_step) that
 * speaks SMTP one command at a time, never pipelined:
 *
 *   resolve   A/AAAA of the host name when h->addr is "" (src/dns, the
 *             first address of the answer: IPv6 first)
 *   connect   non-blocking; refused -> closed, no answer in time ->
 *             filtered, another error -> error
 *   tls       implicit TLS from the first byte (RFC 8314 3.3): port 465
 *             unless the port's start says otherwise, and any port whose
 *             start is CHECK_START_IMPLICIT (smtps://, --implicit-tls)
 *   greeting  220 expected (RFC 5321 4.2, 3.1), timed
 *   EHLO      extensions parsed by deliver's reader and kept as text; HELO
 *             when EHLO gets 5xx (RFC 5321 3.2)
 *   STARTTLS  when offered (RFC 3207); the handshake under policy may, so
 *             that it completes whatever the certificate, and tls_describe
 *             says what the chain and name checks found; then EHLO again
 *   VRFY postmaster, VRFY a random name, EXPN postmaster (RFC 5321 3.5)
 *   relay     RSET, MAIL FROM:<check@gate26-check.invalid>, RCPT
 *             TO:<relay-test@example.net> (RFC 2606 names that no target
 *             owns); never DATA
 *   smuggle   only with --intrusive; see smuggle_content below
 *   RSET, QUIT
 *
 * Every step waits at most o->timeout_ms; replies are read line by line with
 * the caps of src/deliver (CAP_REPLY_LINE, CAP_REPLY_LINES, CAP_REPLY); what
 * the peer says reaches findings and fields as printable ASCII only.
 * Writing to a peer that has gone would raise SIGPIPE: it is ignored while
 * the probes run, and the old disposition restored afterwards.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "check/check.h"
#include "deliver/ehlo.h"
#include "deliver/line.h"
#include "deliver/reply.h"
#include "dns/dns.h"
#include "lib/caps.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "tls/tls.h"

/* A certificate that ends within this many days is a warning. */
#define PROBE_EXPIRY_WARN_DAYS 14

/* The relay test's envelope: domains that are nobody's (RFC 2606 2, 3). */
#define PROBE_RELAY_FROM "check@gate26-check.invalid"
#define PROBE_RELAY_TO   "relay-test@example.net"

/*
 * The smuggling test's content, after DATA got 354 (with MAIL FROM:<> and
 * RCPT TO:<postmaster@DOMAIN> before it, or <postmaster> when no domain is
 * known, RFC 5321 4.5.1). Its fourth line ends the data for a server that
 * takes <CR><LF>.<LF> (or <LF>.<LF>, which it holds) as the end; such a
 * server then runs the next line as a command. The smuggled MAIL starts a
 * transaction that nothing follows (no RCPT, no DATA), and the real end,
 * <CR><LF>.<CR><LF>, comes right after it. One message to the target's own
 * postmaster is all that any server receives.
 */
static const char smuggle_content[] =
    "Subject: gate26 check: SMTP smuggling test\r\n"
    "\r\n"
    "This message was sent by gate26 check --intrusive to test how the server ends DATA.\r\n"
    ".\n"
    "MAIL FROM:<>\r\n"
    ".\r\n";

enum probe_step {
    P_RESOLVE,
    P_CONNECT,
    P_TLS_IMPLICIT,
    P_GREETING,
    P_EHLO,
    P_HELO,
    P_STARTTLS,
    P_TLS,
    P_EHLO_TLS,
    P_VRFY_POSTMASTER,
    P_VRFY_RANDOM,
    P_EXPN,
    P_RELAY_RSET,
    P_RELAY_MAIL,
    P_RELAY_RCPT,
    P_SMUGGLE_RSET,
    P_SMUGGLE_MAIL,
    P_SMUGGLE_RCPT,
    P_SMUGGLE_DATA,
    P_SMUGGLE_END,
    P_SMUGGLE_AFTER,
    P_RSET,
    P_QUIT,
    P_DONE,
};

/* What each step waits for, for the timeout findings. */
static const char *const step_doing[] = {
    [P_RESOLVE] = "resolving the host",
    [P_CONNECT] = "connecting",
    [P_TLS_IMPLICIT] = "the implicit TLS handshake",
    [P_GREETING] = "the greeting",
    [P_EHLO] = "the reply to EHLO",
    [P_HELO] = "the reply to HELO",
    [P_STARTTLS] = "the reply to STARTTLS",
    [P_TLS] = "the TLS handshake",
    [P_EHLO_TLS] = "the reply to EHLO inside TLS",
    [P_VRFY_POSTMASTER] = "the reply to VRFY",
    [P_VRFY_RANDOM] = "the reply to VRFY",
    [P_EXPN] = "the reply to EXPN",
    [P_RELAY_RSET] = "the reply to RSET",
    [P_RELAY_MAIL] = "the reply to MAIL",
    [P_RELAY_RCPT] = "the reply to RCPT",
    [P_SMUGGLE_RSET] = "the reply to RSET",
    [P_SMUGGLE_MAIL] = "the reply to MAIL",
    [P_SMUGGLE_RCPT] = "the reply to RCPT",
    [P_SMUGGLE_DATA] = "the reply to DATA",
    [P_SMUGGLE_END] = "the reply to the end of data",
    [P_SMUGGLE_AFTER] = "the reply to QUIT after the data",
    [P_RSET] = "the reply to RSET",
    [P_QUIT] = "the reply to QUIT",
    [P_DONE] = "nothing",
};

struct probe_run;

/* One port of one host. */
struct probe {
    struct probe_run *run;
    struct check_host *h;
    struct check_port *p;
    enum probe_step step;
    struct sockaddr_storage sa;
    socklen_t sa_len;
    int fd;
    struct event *connect_ev;
    struct event *timer;
    struct bufferevent *bev;
    struct timespec t0; /* connect() started; then: connected */
    struct deliver_reply reply;
    struct deliver_caps caps;
    bool auth_offered; /* in the EHLO reply being read */
    size_t ehlo_len;   /* of p->ehlo */
    bool tls;          /* a handshake completed */
    bool vrfy_pm_yes;  /* VRFY postmaster got 250/251 */
    unsigned vrfy_pm;  /* its code */
    char random_user[32];
    char domain[CAP_DOMAIN + 1]; /* for the smuggling test's postmaster; "" */
    unsigned smuggle_end_code;
    char smuggle_end[DELIVER_TEXT_MAX];
};

/* One host's lookup, when its address is not given. */
struct probe_resolve {
    struct probe_run *run;
    struct check_host *h;
};

struct probe_run {
    struct event_base *base;
    struct dns *dns;
    struct tls_client *tls;
    const struct check_opts *o;
    struct probe *probes; /* one per port of every host */
    size_t n_probes;
    size_t pending; /* lookups and probes not finished */
};

static double
ms_since(const struct timespec *t0)
{
    struct timespec now;

    (void)clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) * 1000.0 + (double)(now.tv_nsec - t0->tv_nsec) / 1e6;
}

const char *
check_port_state_name(enum check_port_state s)
{
    switch (s) {
    case CHECK_PORT_OPEN:
        return "open";
    case CHECK_PORT_CLOSED:
        return "closed";
    case CHECK_PORT_FILTERED:
        return "filtered";
    case CHECK_PORT_ERROR:
        return "error";
    }
    return "?";
}

/* Peer bytes into a field: printable ASCII, ',' kept out (the lists use it). */
static size_t
sanitize_into(char *dst, size_t cap, const char *src, size_t len)
{
    size_t i;

    if (cap == 0)
        return 0;
    for (i = 0; i < len && i + 1 < cap; i++) {
        unsigned char ch = (unsigned char)src[i];

        dst[i] = ch >= 0x20 && ch < 0x7f && ch != ',' ? (char)ch : '?';
    }
    dst[i] = '\0';
    return i;
}

static void
probe_one_done(struct probe_run *run)
{
    if (run->pending == 0)
        abort();
    if (--run->pending == 0)
        (void)event_base_loopexit(run->base, NULL);
}

/* Ends the conversation; the probe is freed by probe_after() at the end of the callback. */
static void
probe_close(struct probe *pr)
{
    if (pr->step == P_DONE)
        return;
    pr->step = P_DONE;
    if (pr->timer != NULL)
        (void)evtimer_del(pr->timer);
}

/* The end of every callback: a finished probe lets go of its socket. */
static void
probe_after(struct probe *pr)
{
    if (pr->step != P_DONE || pr->run == NULL)
        return;
    if (pr->connect_ev != NULL) {
        event_free(pr->connect_ev);
        pr->connect_ev = NULL;
    }
    if (pr->timer != NULL) {
        event_free(pr->timer);
        pr->timer = NULL;
    }
    if (pr->bev != NULL) {
        bufferevent_free(pr->bev);
        pr->bev = NULL;
    }
    if (pr->fd != -1) {
        (void)close(pr->fd);
        pr->fd = -1;
    }
    probe_one_done(pr->run);
    pr->run = NULL; /* counted once */
}

static void
probe_arm(struct probe *pr)
{
    unsigned ms = pr->run->o->timeout_ms;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

    if (evtimer_add(pr->timer, &tv) == -1)
        abort();
}

static void
probe_send(struct probe *pr, enum probe_step next, const char *line)
{
    if (bufferevent_write(pr->bev, line, strlen(line)) == -1 ||
        bufferevent_write(pr->bev, "\r\n", 2) == -1)
        abort();
    pr->step = next;
    probe_arm(pr);
}

static void
probe_quit(struct probe *pr)
{
    probe_send(pr, P_QUIT, "QUIT");
}

/* ---- TLS ---- */

static void probe_read(struct probe *pr);

static bool
is_name_error(long v)
{
    return v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH;
}

static void
tls_findings(struct probe *pr, const struct tls_info *info)
{
    struct check_port *p = pr->p;
    struct check_tls *t = &p->tls;
    time_t now = time(NULL);

    (void)str_copyz(t->version, sizeof(t->version), info->version);
    (void)str_copyz(t->cipher, sizeof(t->cipher), info->cipher);
    (void)str_copyz(t->subject, sizeof(t->subject), info->peer_cn);
    (void)str_copyz(t->sans, sizeof(t->sans), info->peer_san);
    (void)str_copyz(t->issuer, sizeof(t->issuer), info->peer_issuer);
    t->not_after = (long long)info->peer_not_after;
    /* OpenSSL checks the name (check_id) after it has built the chain to a
     * trusted root, and stops at the first error: a name mismatch means the
     * chain itself was trusted (its dates are checked here, from not_after). */
    t->chain_ok = info->verify_result == X509_V_OK || is_name_error(info->verify_result);
    (void)str_copyz(t->verify_text, sizeof(t->verify_text), info->verify_text);
    t->name_ok = info->name_checked && info->name_matched;

    if (strcmp(info->version, "TLSv1.2") != 0 && strcmp(info->version, "TLSv1.3") != 0)
        check_add(&p->findings, "tls-old", CHECK_WARN, "%s is older than TLS 1.2", info->version);
    if (!info->has_peer_cert) {
        check_add(&p->findings, "cert-missing", CHECK_WARN, "the server sent no certificate");
        return;
    }
    if (info->peer_not_after != 0) {
        double left = difftime(info->peer_not_after, now) / 86400.0;

        t->days_left = (long)(left < 0 ? left - 1 : left);
        if (info->peer_not_after < now)
            check_add(&p->findings, "cert-expired", CHECK_CRIT,
                      "the certificate expired %ld days ago", -t->days_left);
        else if (t->days_left < PROBE_EXPIRY_WARN_DAYS)
            check_add(&p->findings, "cert-expires-soon", CHECK_WARN,
                      "the certificate expires in %ld days", t->days_left);
    }
    if (info->verify_result == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
        info->verify_result == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN)
        check_add(&p->findings, "cert-self-signed", CHECK_WARN,
                  "the certificate is self-signed (%s)", info->verify_text);
    else if (!t->chain_ok && info->verify_result != X509_V_ERR_CERT_HAS_EXPIRED)
        check_add(&p->findings, "cert-not-verified", CHECK_WARN,
                  "the certificate chain does not verify: %s", info->verify_text);
    if (info->name_checked && !info->name_matched)
        check_add(&p->findings, "cert-name-mismatch", CHECK_WARN,
                  "the certificate does not name %s (subject %s, names %s)", info->peer_name,
                  info->peer_cn[0] != '\0' ? info->peer_cn : "-",
                  info->peer_san[0] != '\0' ? info->peer_san : "-");
}

/* The handshake is done: describe it, then EHLO (again) or wait for the greeting. */
static void
tls_up(struct probe *pr)
{
    SSL *ssl = bufferevent_openssl_get_ssl(pr->bev);
    struct tls_info info;

    if (ssl == NULL)
        return;
    tls_describe(ssl, &info);
    pr->tls = true;
    pr->p->tls.done = true;
    tls_findings(pr, &info);
    if (pr->step == P_TLS_IMPLICIT) {
        pr->step = P_GREETING;
        probe_arm(pr);
        probe_read(pr); /* the greeting may have come with the end of the handshake */
        return;
    }
    /* RFC 3207 4.2: what the server said before TLS no longer counts. */
    memset(&pr->caps, 0, sizeof(pr->caps));
    pr->ehlo_len = 0;
    pr->p->ehlo[0] = '\0';
    {
        char line[CAP_CMD_LINE];

        (void)str_fmt(line, sizeof(line), "EHLO %s", pr->run->o->helo);
        probe_send(pr, P_EHLO_TLS, line);
    }
}

static void
tls_failed(struct probe *pr, const char *why)
{
    char err[200];
    unsigned long e;

    err[0] = '\0';
    while (pr->bev != NULL && (e = bufferevent_get_openssl_error(pr->bev)) != 0) {
        if (err[0] == '\0')
            ERR_error_string_n(e, err, sizeof(err));
    }
    (void)str_fmt(pr->p->tls.error, sizeof(pr->p->tls.error), "%s%s%s", why,
                  err[0] != '\0' ? ": " : "", err);
    check_add(&pr->p->findings, "tls-failed", CHECK_WARN,
              "the TLS handshake failed (this client speaks TLS 1.2 and 1.3 only): %s",
              pr->p->tls.error);
    probe_close(pr);
}

static void probe_setup_bev(struct probe *pr);

/* Swaps the plain bufferevent (or the bare socket) for an OpenSSL one. */
static void
tls_begin(struct probe *pr, enum probe_step step)
{
    const char *name = pr->h->name[0] != '\0' ? pr->h->name : pr->h->addr;
    SSL *ssl = tls_client_ssl_new(pr->run->tls, name, CONF_TLS_POLICY_MAY);
    int fd;

    if (ssl == NULL && errno == EINVAL)
        ssl = tls_client_ssl_new(pr->run->tls, NULL, CONF_TLS_POLICY_MAY);
    if (ssl == NULL) {
        char err[200];

        check_add(&pr->p->findings, "tls-failed", CHECK_WARN, "cannot start TLS here: %s",
                  tls_error_text(err, sizeof(err)));
        probe_close(pr);
        return;
    }
    if (pr->bev != NULL) {
        fd = bufferevent_getfd(pr->bev);
        if (bufferevent_setfd(pr->bev, -1) == -1)
            abort();
        bufferevent_free(pr->bev);
    } else {
        fd = pr->fd;
    }
    pr->fd = -1;
    (void)str_copyz(pr->p->tls.how, sizeof(pr->p->tls.how),
                    step == P_TLS_IMPLICIT ? "implicit" : "starttls");
    pr->bev = bufferevent_openssl_socket_new(pr->run->base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
                                             BEV_OPT_CLOSE_ON_FREE);
    if (pr->bev == NULL)
        abort();
    bufferevent_openssl_set_allow_dirty_shutdown(pr->bev, 1);
    probe_setup_bev(pr);
    pr->step = step;
    probe_arm(pr);
}

/* ---- replies ---- */

/* One line of a 250 reply to EHLO after the first: caps, AUTH, and the text list. */
static void
ehlo_line(struct probe *pr, struct slice text)
{
    struct check_port *p = pr->p;
    size_t room;

    (void)deliver_ehlo_line(&pr->caps, text);
    /* RFC 4954 3: "AUTH" SP mechanisms; some servers still say "AUTH=". */
    if (text.len >= 4 && slice_starts_ci(text, "AUTH") &&
        (text.len == 4 || text.p[4] == ' ' || text.p[4] == '='))
        pr->auth_offered = true;
    if (text.len == 0 || pr->ehlo_len + 2 >= sizeof(p->ehlo))
        return;
    if (pr->ehlo_len > 0) {
        p->ehlo[pr->ehlo_len++] = ',';
        p->ehlo[pr->ehlo_len] = '\0';
    }
    room = sizeof(p->ehlo) - pr->ehlo_len;
    pr->ehlo_len += sanitize_into(p->ehlo + pr->ehlo_len, room, text.p, text.len);
}

static bool
is_2xx(unsigned code)
{
    return code / 100 == 2;
}

/* After the EHLO (or HELO) that counts: STARTTLS, or on to VRFY. */
static void
after_hello(struct probe *pr, bool inside_tls)
{
    struct check_port *p = pr->p;

    if (!inside_tls) {
        if (pr->auth_offered && !pr->tls) {
            p->auth_before_tls = true;
            check_add(&p->findings, "auth-before-tls", CHECK_WARN,
                      "AUTH is offered before TLS: passwords may cross the network in clear");
        }
        if (pr->caps.starttls && !pr->tls) {
            probe_send(pr, P_STARTTLS, "STARTTLS");
            return;
        }
        if (!pr->tls)
            check_add(&p->findings, "no-starttls", CHECK_WARN,
                      "STARTTLS is not offered: mail to this port crosses the network in clear");
    }
    probe_send(pr, P_VRFY_POSTMASTER, "VRFY postmaster");
}

static void
send_hello(struct probe *pr, const char *verb, enum probe_step step)
{
    char line[CAP_CMD_LINE];

    pr->auth_offered = false;
    (void)str_fmt(line, sizeof(line), "%s %s", verb, pr->run->o->helo);
    probe_send(pr, step, line);
}

/* The relay test's verdict on the reply to RCPT. */
static void
relay_verdict(struct probe *pr, const struct deliver_reply *r)
{
    struct check_findings *f = &pr->p->findings;

    if (is_2xx(r->code))
        check_add(f, "open-relay", CHECK_CRIT,
                  "open relay: RCPT TO:<%s> from <%s> was accepted: %s", PROBE_RELAY_TO,
                  PROBE_RELAY_FROM, r->text);
    else if (r->code / 100 == 5)
        check_add(f, "relay-refused", CHECK_OK, "relaying refused: %s", r->text);
    else
        check_add(f, "relay-untested", CHECK_INFO, "the relay test was not answered clearly: %s",
                  r->text);
}

/* With --intrusive: the smuggling test; else the end. */
static void
after_relay(struct probe *pr)
{
    if (pr->run->o->intrusive)
        probe_send(pr, P_SMUGGLE_RSET, "RSET");
    else
        probe_send(pr, P_RSET, "RSET");
}

static void
smuggle_skip(struct probe *pr, const char *why, const struct deliver_reply *r)
{
    check_add(&pr->p->findings, "smuggling-untested", CHECK_INFO,
              "the smuggling test did not run: %s: %s", why, r->text);
    probe_send(pr, P_RSET, "RSET");
}

static void
smuggle_verdict(struct probe *pr, const struct deliver_reply *r)
{
    struct check_findings *f = &pr->p->findings;

    if (r->code == 221)
        check_add(f, "smuggling-refused", CHECK_OK,
                  "DATA did not end at <CR><LF>.<LF> (reply to the end: %s)", pr->smuggle_end);
    else if (is_2xx(r->code))
        check_add(f, "smuggling", CHECK_CRIT,
                  "SMTP smuggling: the server ended DATA at <CR><LF>.<LF> (%s) and ran the MAIL "
                  "command inside the message: %s",
                  pr->smuggle_end, r->text);
    else
        check_add(f, "smuggling-suspect", CHECK_WARN,
                  "after the data (%s) the server answered more than the QUIT sent: %s",
                  pr->smuggle_end, r->text);
    probe_close(pr);
}

/* A whole reply: what it means depends on the step. */
static void
probe_reply(struct probe *pr, const struct deliver_reply *r)
{
    struct check_port *p = pr->p;
    char line[CAP_CMD_LINE];

    switch (pr->step) {
    case P_GREETING:
        p->greeting_ms = ms_since(&pr->t0);
        (void)sanitize_into(p->greeting, sizeof(p->greeting), r->text, r->text_len);
        if (r->code != 220) {
            check_add(&p->findings, "greeting-refused", CHECK_WARN, "the greeting is not 220: %s",
                      r->text);
            probe_quit(pr);
        } else {
            send_hello(pr, "EHLO", P_EHLO);
        }
        break;
    case P_EHLO:
        if (is_2xx(r->code)) {
            after_hello(pr, false);
        } else if (r->code / 100 == 5) {
            /* RFC 5321 3.2: a server that does not know EHLO gets HELO. */
            memset(&pr->caps, 0, sizeof(pr->caps));
            check_add(&p->findings, "no-ehlo", CHECK_INFO, "EHLO refused: %s", r->text);
            send_hello(pr, "HELO", P_HELO);
        } else {
            check_add(&p->findings, "ehlo-refused", CHECK_WARN, "EHLO refused: %s", r->text);
            probe_quit(pr);
        }
        break;
    case P_HELO:
        if (is_2xx(r->code)) {
            after_hello(pr, false);
        } else {
            check_add(&p->findings, "helo-refused", CHECK_WARN, "HELO refused: %s", r->text);
            probe_quit(pr);
        }
        break;
    case P_STARTTLS:
        if (r->code == 220) {
            tls_begin(pr, P_TLS);
        } else {
            check_add(&p->findings, "starttls-refused", CHECK_WARN,
                      "STARTTLS is offered but refused: %s", r->text);
            probe_send(pr, P_VRFY_POSTMASTER, "VRFY postmaster");
        }
        break;
    case P_EHLO_TLS:
        if (is_2xx(r->code)) {
            after_hello(pr, true);
        } else {
            check_add(&p->findings, "ehlo-refused", CHECK_WARN, "EHLO inside TLS refused: %s",
                      r->text);
            probe_quit(pr);
        }
        break;
    case P_VRFY_POSTMASTER:
        pr->vrfy_pm = r->code;
        pr->vrfy_pm_yes = r->code == 250 || r->code == 251;
        (void)str_fmt(line, sizeof(line), "VRFY %s", pr->random_user);
        probe_send(pr, P_VRFY_RANDOM, line);
        break;
    case P_VRFY_RANDOM:
        if (r->code == 250 || r->code == 251)
            check_add(&p->findings, "vrfy-confirms", CHECK_WARN,
                      "VRFY confirms even a made-up user (%s): %s", pr->random_user, r->text);
        else if (pr->vrfy_pm_yes)
            check_add(&p->findings, "vrfy-confirms", CHECK_WARN,
                      "VRFY confirms users (%u for postmaster, %u for a made-up name): they can "
                      "be enumerated",
                      pr->vrfy_pm, r->code);
        probe_send(pr, P_EXPN, "EXPN postmaster");
        break;
    case P_EXPN:
        if (r->code == 250 || r->code == 251)
            check_add(&p->findings, "expn-confirms", CHECK_WARN, "EXPN expands lists: %s", r->text);
        probe_send(pr, P_RELAY_RSET, "RSET");
        break;
    case P_RELAY_RSET:
        probe_send(pr, P_RELAY_MAIL, "MAIL FROM:<" PROBE_RELAY_FROM ">");
        break;
    case P_RELAY_MAIL:
        if (is_2xx(r->code)) {
            probe_send(pr, P_RELAY_RCPT, "RCPT TO:<" PROBE_RELAY_TO ">");
        } else {
            check_add(&p->findings, "relay-untested", CHECK_INFO,
                      "the relay test stopped at MAIL FROM:<%s>: %s", PROBE_RELAY_FROM, r->text);
            after_relay(pr);
        }
        break;
    case P_RELAY_RCPT:
        relay_verdict(pr, r);
        after_relay(pr);
        break;
    case P_SMUGGLE_RSET:
        probe_send(pr, P_SMUGGLE_MAIL, "MAIL FROM:<>");
        break;
    case P_SMUGGLE_MAIL:
        if (!is_2xx(r->code)) {
            smuggle_skip(pr, "MAIL FROM:<> refused", r);
            break;
        }
        if (pr->domain[0] != '\0')
            (void)str_fmt(line, sizeof(line), "RCPT TO:<postmaster@%s>", pr->domain);
        else
            (void)str_copyz(line, sizeof(line), "RCPT TO:<postmaster>");
        probe_send(pr, P_SMUGGLE_RCPT, line);
        break;
    case P_SMUGGLE_RCPT:
        if (!is_2xx(r->code))
            smuggle_skip(pr, "the postmaster is refused", r);
        else
            probe_send(pr, P_SMUGGLE_DATA, "DATA");
        break;
    case P_SMUGGLE_DATA:
        if (r->code != 354) {
            smuggle_skip(pr, "DATA refused", r);
            break;
        }
        if (bufferevent_write(pr->bev, smuggle_content, sizeof(smuggle_content) - 1) == -1)
            abort();
        pr->step = P_SMUGGLE_END;
        probe_arm(pr);
        break;
    case P_SMUGGLE_END:
        pr->smuggle_end_code = r->code;
        (void)str_copyz(pr->smuggle_end, sizeof(pr->smuggle_end), r->text);
        /* A server that ended the data early has answered the smuggled MAIL
         * (and the lone dot) by now or will: the reply after this one tells. */
        probe_send(pr, P_SMUGGLE_AFTER, "QUIT");
        break;
    case P_SMUGGLE_AFTER:
        smuggle_verdict(pr, r);
        break;
    case P_RSET:
        probe_quit(pr);
        break;
    case P_QUIT:
        probe_close(pr);
        break;
    case P_RESOLVE:
    case P_CONNECT:
    case P_TLS_IMPLICIT:
    case P_TLS:
    case P_DONE:
        /* Bytes nobody asked for (before the handshake, or after QUIT's reply). */
        check_add(&p->findings, "protocol-error", CHECK_WARN, "the server spoke out of turn: %s",
                  r->text);
        probe_close(pr);
        break;
    }
}

static void
probe_protocol_error(struct probe *pr, const char *why)
{
    check_add(&pr->p->findings, "protocol-error", CHECK_WARN,
              "protocol error while waiting for %s: %s", step_doing[pr->step], why);
    probe_close(pr);
}

/* Reads the whole lines in the input (deliver's line.c checks the cap and CR LF) into the reply
 * reader. */
static void
probe_read(struct probe *pr)
{
    struct evbuffer *in = bufferevent_get_input(pr->bev);
    char line[CAP_REPLY_LINE];

    while (pr->step != P_DONE && pr->step != P_TLS && pr->step != P_TLS_IMPLICIT) {
        enum deliver_line_rc lr;
        enum deliver_reply_rc rc;
        struct slice text;
        size_t n;

        lr = deliver_line_take(in, line, &n);
        if (lr == DELIVER_LINE_NONE)
            return;
        if (lr != DELIVER_LINE_OK) {
            probe_protocol_error(pr, deliver_line_why(lr));
            return;
        }
        rc = deliver_reply_add(&pr->reply, slice_make(line, n), &text);
        if (rc == DELIVER_REPLY_BAD) {
            probe_protocol_error(pr, pr->reply.error);
            return;
        }
        if ((pr->step == P_EHLO || pr->step == P_EHLO_TLS) && pr->reply.code == 250 &&
            pr->reply.n_lines > 1)
            ehlo_line(pr, text);
        if (rc == DELIVER_REPLY_LAST) {
            struct deliver_reply r = pr->reply;

            deliver_reply_init(&pr->reply);
            (void)evtimer_del(pr->timer);
            probe_reply(pr, &r);
            if (pr->step == P_TLS) {
                /* Whatever came behind the 220 was sent in the clear: it does not count. */
                return;
            }
        }
    }
}

static void
probe_read_cb(struct bufferevent *bev, void *arg)
{
    struct probe *pr = arg;

    (void)bev;
    probe_read(pr);
    probe_after(pr);
}

static void
probe_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct probe *pr = arg;

    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        if (pr->step == P_TLS || pr->step == P_TLS_IMPLICIT)
            tls_up(pr);
    } else if ((what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) &&
               (pr->step == P_TLS || pr->step == P_TLS_IMPLICIT)) {
        tls_failed(pr,
                   (what & BEV_EVENT_EOF) ? "the server closed the connection" : "handshake error");
    } else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        if (pr->step == P_QUIT) {
            probe_close(pr);
        } else if (pr->step != P_DONE) {
            /* Replies that arrived with the close still count. */
            probe_read(pr);
            if (pr->step != P_DONE) {
                check_add(&pr->p->findings, "connection-lost", CHECK_WARN,
                          "the server closed the connection while we waited for %s",
                          step_doing[pr->step]);
                probe_close(pr);
            }
        }
    }
    probe_after(pr);
}

static void
probe_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct probe *pr = arg;

    (void)fd;
    (void)what;
    if (pr->step == P_QUIT) {
        probe_close(pr); /* no 221 in time: closing is just as good */
    } else if (pr->step == P_GREETING) {
        check_add(&pr->p->findings, "no-greeting", CHECK_WARN,
                  "the port is open but sent no greeting within %u ms", pr->run->o->timeout_ms);
        probe_close(pr);
    } else if (pr->step != P_DONE) {
        check_add(&pr->p->findings, "timeout", CHECK_WARN,
                  "no answer within %u ms while waiting "
                  "for %s",
                  pr->run->o->timeout_ms, step_doing[pr->step]);
        probe_close(pr);
    }
    probe_after(pr);
}

static void
probe_setup_bev(struct probe *pr)
{
    bufferevent_setcb(pr->bev, probe_read_cb, NULL, probe_event_cb, pr);
    bufferevent_setwatermark(pr->bev, EV_READ, 0, CAP_SESSION_INPUT);
    if (bufferevent_enable(pr->bev, EV_READ | EV_WRITE) == -1)
        abort();
}

/* ---- connect ---- */

/* The local address of the connection: whom the server sees (its allow lists judge it). */
static void
record_source(struct probe *pr)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    const void *bin;

    if (getsockname(pr->fd, (struct sockaddr *)&sa, &len) == -1)
        return;
    if (sa.ss_family == AF_INET)
        bin = &((const struct sockaddr_in *)&sa)->sin_addr;
    else if (sa.ss_family == AF_INET6)
        bin = &((const struct sockaddr_in6 *)&sa)->sin6_addr;
    else
        return;
    if (inet_ntop(sa.ss_family, bin, pr->p->source, sizeof(pr->p->source)) == NULL)
        pr->p->source[0] = '\0';
}

static void
probe_connected(struct probe *pr)
{
    struct check_port *p = pr->p;

    p->state = CHECK_PORT_OPEN;
    p->connect_ms = ms_since(&pr->t0);
    (void)clock_gettime(CLOCK_MONOTONIC, &pr->t0);
    if (pr->connect_ev != NULL) {
        event_free(pr->connect_ev);
        pr->connect_ev = NULL;
    }
    record_source(pr);
    if (p->start == CHECK_START_IMPLICIT || (p->start == CHECK_START_BY_PORT && p->port == 465)) {
        /* RFC 8314 3.3: TLS from the first byte. */
        tls_begin(pr, P_TLS_IMPLICIT);
        return;
    }
    pr->bev = bufferevent_socket_new(pr->run->base, pr->fd, BEV_OPT_CLOSE_ON_FREE);
    if (pr->bev == NULL)
        abort();
    pr->fd = -1;
    probe_setup_bev(pr);
    pr->step = P_GREETING;
    probe_arm(pr);
}

static void
probe_connect_failed(struct probe *pr, int err)
{
    struct check_port *p = pr->p;

    if (err == ECONNREFUSED) {
        p->state = CHECK_PORT_CLOSED;
    } else if (err == ETIMEDOUT) {
        p->state = CHECK_PORT_FILTERED;
        check_add(&p->findings, "filtered", CHECK_INFO, "no answer to connect within %u ms",
                  pr->run->o->timeout_ms);
    } else {
        p->state = CHECK_PORT_ERROR;
        check_add(&p->findings, "connect-error", CHECK_WARN, "connect: %s", strerror(err));
    }
    probe_close(pr);
}

static void
probe_connect_cb(evutil_socket_t fd, short what, void *arg)
{
    struct probe *pr = arg;
    socklen_t len = sizeof(int);
    int err = 0;

    if (what & EV_TIMEOUT)
        err = ETIMEDOUT;
    else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
        err = errno;
    if (err != 0)
        probe_connect_failed(pr, err);
    else
        probe_connected(pr);
    probe_after(pr);
}

/* A made-up user for VRFY, random enough that no server has it. */
static void
random_user(char *out, size_t cap)
{
    (void)str_fmt(out, cap, "gate26-check-%08x", (unsigned)arc4random());
}

static void
probe_start(struct probe *pr)
{
    struct check_port *p = pr->p;
    unsigned ms = pr->run->o->timeout_ms;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

    if (pr->sa.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&pr->sa)->sin6_port = htons((uint16_t)p->port);
    else
        ((struct sockaddr_in *)&pr->sa)->sin_port = htons((uint16_t)p->port);
    pr->step = P_CONNECT;
    (void)clock_gettime(CLOCK_MONOTONIC, &pr->t0);
    pr->fd = socket(pr->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (pr->fd == -1) {
        probe_connect_failed(pr, errno);
    } else if (connect(pr->fd, (const struct sockaddr *)&pr->sa, pr->sa_len) == 0) {
        probe_connected(pr);
    } else if (errno == EINPROGRESS) {
        pr->connect_ev = event_new(pr->run->base, pr->fd, EV_WRITE, probe_connect_cb, pr);
        if (pr->connect_ev == NULL || event_add(pr->connect_ev, &tv) == -1)
            abort();
    } else {
        probe_connect_failed(pr, errno);
    }
    probe_after(pr);
}

/* Every port of h fails the same way (no address to connect to). */
static void
host_unreachable(struct probe_run *run, struct check_host *h)
{
    for (size_t i = 0; i < run->n_probes; i++) {
        struct probe *pr = &run->probes[i];

        if (pr->h != h)
            continue;
        pr->p->state = CHECK_PORT_ERROR;
        probe_close(pr);
        probe_after(pr);
    }
}

static void
host_go(struct probe_run *run, struct check_host *h)
{
    for (size_t i = 0; i < run->n_probes; i++) {
        struct probe *pr = &run->probes[i];

        if (pr->h == h)
            probe_start(pr);
    }
}

/* h->addr into the probes of h. Returns 0, or -1 when it is not an address. */
static int
host_set_addr(struct probe_run *run, struct check_host *h)
{
    struct sockaddr_storage sa;
    socklen_t len;

    memset(&sa, 0, sizeof(sa));
    if (inet_pton(AF_INET, h->addr, &((struct sockaddr_in *)&sa)->sin_addr) == 1) {
        sa.ss_family = AF_INET;
        len = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, h->addr, &((struct sockaddr_in6 *)&sa)->sin6_addr) == 1) {
        sa.ss_family = AF_INET6;
        len = sizeof(struct sockaddr_in6);
    } else {
        return -1;
    }
    for (size_t i = 0; i < run->n_probes; i++) {
        if (run->probes[i].h == h) {
            run->probes[i].sa = sa;
            run->probes[i].sa_len = len;
        }
    }
    return 0;
}

static void
resolve_cb(void *arg, enum dns_status st, const struct dns_addr *addrs, size_t n, const char *why)
{
    struct probe_resolve *rs = arg;
    struct probe_run *run = rs->run;
    struct check_host *h = rs->h;

    free(rs);
    if (st == DNS_OK && n > 0) {
        const struct dns_addr *a = &addrs[0];
        const void *bin = a->sa.ss_family == AF_INET6
                              ? (const void *)&((const struct sockaddr_in6 *)&a->sa)->sin6_addr
                              : (const void *)&((const struct sockaddr_in *)&a->sa)->sin_addr;

        if (inet_ntop(a->sa.ss_family, bin, h->addr, sizeof(h->addr)) != NULL &&
            host_set_addr(run, h) == 0) {
            host_go(run, h);
            probe_one_done(run);
            return;
        }
        h->addr[0] = '\0';
    }
    if (st != DNS_CANCELLED)
        check_add(&h->findings, "resolve-failed", CHECK_WARN, "cannot resolve %s: %s (%s)", h->name,
                  st == DNS_OK ? "no usable address" : dns_status_name(st), why);
    host_unreachable(run, h);
    probe_one_done(run);
}

/* The probes of every port of every host, not started yet. */
static void
run_build(struct probe_run *run, struct check_host *hosts, size_t n_hosts)
{
    size_t k = 0;

    for (size_t i = 0; i < n_hosts; i++)
        run->n_probes += hosts[i].n_ports;
    run->probes = xcalloc(run->n_probes > 0 ? run->n_probes : 1, sizeof(*run->probes));
    for (size_t i = 0; i < n_hosts; i++) {
        struct check_host *h = &hosts[i];
        const char *dot = strchr(h->name, '.');

        for (size_t j = 0; j < h->n_ports; j++) {
            struct probe *pr = &run->probes[k++];

            pr->run = run;
            pr->h = h;
            pr->p = &h->ports[j];
            pr->fd = -1;
            pr->step = P_RESOLVE;
            pr->p->state = CHECK_PORT_ERROR;
            random_user(pr->random_user, sizeof(pr->random_user));
            /* The smuggling test's postmaster: the domain given, else the
             * host name without its first label (mx1.example.com ->
             * example.com), else none (RFC 5321 4.5.1 <postmaster>). */
            if (run->o->domain != NULL && run->o->domain[0] != '\0')
                (void)str_copyz(pr->domain, sizeof(pr->domain), run->o->domain);
            else if (dot != NULL && strchr(dot + 1, '.') != NULL &&
                     inet_pton(AF_INET, h->name, &(struct in_addr){0}) != 1)
                (void)str_copyz(pr->domain, sizeof(pr->domain), dot + 1);
            pr->timer = evtimer_new(run->base, probe_timer_cb, pr);
            if (pr->timer == NULL)
                abort();
            run->pending++;
        }
    }
}

static void
run_free(struct probe_run *run)
{
    for (size_t i = 0; i < run->n_probes; i++) {
        struct probe *pr = &run->probes[i];

        if (pr->run != NULL) {
            pr->step = P_DONE;
            probe_after(pr);
        }
    }
    free(run->probes);
    dns_free(run->dns);
    tls_client_unref(run->tls);
    if (run->base != NULL)
        event_base_free(run->base);
}

/* The TLS client context: TLS 1.2+, src/tls's ciphers, o->ca_file or the system store. */
static struct tls_client *
run_tls(const struct check_opts *o, char *err, size_t errcap)
{
    struct conf *c = xcalloc(1, sizeof(*c));
    struct tls_client *cl = NULL;

    if (o->ca_file != NULL && str_copyz(c->tls_ca_file, sizeof(c->tls_ca_file), o->ca_file) == -1)
        (void)str_fmt(err, errcap, "CA file name too long");
    else
        cl = tls_client_new(c, err, errcap);
    free(c);
    return cl;
}

int
check_probe_hosts(struct check_host *hosts, size_t n_hosts, const struct check_opts *o, char *err,
                  size_t errcap)
{
    struct probe_run run;
    struct sigaction ign, old;
    bool need_dns = false;
    int rc = -1;

    memset(&run, 0, sizeof(run));
    run.o = o;
    if (o->timeout_ms == 0 || o->helo == NULL || o->helo[0] == '\0') {
        (void)str_fmt(err, errcap, "a timeout and an EHLO name are needed");
        return -1;
    }
    run.base = event_base_new();
    if (run.base == NULL) {
        (void)str_fmt(err, errcap, "cannot create an event loop");
        return -1;
    }
    run.tls = run_tls(o, err, errcap);
    if (run.tls == NULL)
        goto out;
    for (size_t i = 0; i < n_hosts; i++)
        need_dns = need_dns || hosts[i].addr[0] == '\0';
    if (need_dns) {
        run.dns = dns_new(run.base, o->resolver, o->timeout_ms, err, errcap);
        if (run.dns == NULL)
            goto out;
    }
    run_build(&run, hosts, n_hosts);

    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &ign, &old) == -1) {
        (void)str_fmt(err, errcap, "sigaction: %s", strerror(errno));
        goto out;
    }
    for (size_t i = 0; i < n_hosts; i++) {
        struct check_host *h = &hosts[i];

        if (h->n_ports == 0)
            continue;
        if (h->addr[0] != '\0') {
            if (host_set_addr(&run, h) == -1) {
                check_add(&h->findings, "bad-address", CHECK_WARN, "not an address: %s", h->addr);
                host_unreachable(&run, h);
            } else {
                host_go(&run, h);
            }
            continue;
        }
        {
            struct probe_resolve *rs = xcalloc(1, sizeof(*rs));

            rs->run = &run;
            rs->h = h;
            run.pending++;
            if (dns_addrs(run.dns, h->name, resolve_cb, rs) == -1) {
                free(rs);
                run.pending--;
                check_add(&h->findings, "resolve-failed", CHECK_WARN,
                          "not a host name or address: %s", h->name);
                host_unreachable(&run, h);
            }
        }
    }
    if (run.pending > 0 && event_base_dispatch(run.base) == -1) {
        (void)str_fmt(err, errcap, "event loop failed");
        (void)sigaction(SIGPIPE, &old, NULL);
        goto out;
    }
    (void)sigaction(SIGPIPE, &old, NULL);
    rc = 0;
out:
    run_free(&run);
    return rc;
}

void
check_host_free(struct check_host *h)
{
    for (size_t i = 0; i < h->n_ports; i++)
        check_findings_free(&h->ports[i].findings);
    free(h->ports);
    check_findings_free(&h->findings);
}
