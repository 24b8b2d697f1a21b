/* SPDX-License-Identifier: MIT */
/*
 * The milter client (scan/milter.h): one conversation with one milter for
 * one message, on the loop. The order of the steps and what each waits for
 * follow libmilter's protocol as Sendmail and Postfix drive it: OPTNEG
 * first (we offer MILTER_ACTIONS and MILTER_PROTOCOL; the milter answers
 * with the subset it wants, and may ask for its macros by stage), then
 * CONNECT, HELO, MAIL, RCPT (each), DATA, HEADER (each), EOH, BODY (each
 * chunk), BODYEOB, each preceded by SMFIC_MACRO and left out when the
 * milter asked for SMFIP_NO*; no reply is awaited where it asked for
 * SMFIP_NR_*. Modifications are only taken after BODYEOB, and only those
 * whose action was negotiated. Then QUIT.
 *
 * Header values are sent as Sendmail and Postfix send them: the space after
 * the colon left out (we do not offer SMFIP_HDR_LEADSPC), folded lines
 * joined by LF alone. Body chunks go as they are (CR LF lines).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "lib/log.h"
#include "lib/num.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "scan/milter.h"
#include "scan/milter_proto.h"

/* The content buffer: a header field longer than this is an error. */
#define MILTER_IN_CAP (256 * 1024)
/* Output queued past this waits for the socket (only with SMFIP_NR_HDR or NR_BODY). */
#define MILTER_OUT_HIGH (64 * 1024)
/* Modifications collected at most (a milter adding a million headers is broken). */
#define MILTER_MODS_MAX 1000

enum milter_step {
    STEP_CONNECTING,
    STEP_OPTNEG,
    STEP_CONNECT,
    STEP_HELO,
    STEP_MAIL,
    STEP_RCPT,
    STEP_DATA,
    STEP_HEADER,
    STEP_EOH,
    STEP_BODY,
    STEP_EOM,
    STEP_DONE,
};

struct milter {
    struct event_base *base;
    struct milter_addr addr;
    struct milter_opts opts;
    const struct milter_env *env;
    milter_read_fn read;
    void *read_arg;
    milter_done_fn done;
    void *done_arg;

    struct bufferevent *bev;
    struct event *timer;     /* connect and each reply */
    struct event *total;     /* the whole conversation */
    struct event *finish_ev; /* done is called from here */
    struct milter_out out;

    enum milter_step step;
    bool waiting;              /* for a reply to the command of awaiting */
    enum milter_step awaiting; /* the step whose command was sent last */
    size_t rcpt;               /* the next recipient */
    uint32_t actions, protocol;
    bool has_symlist[MILTER_STAGE_COUNT];
    char *symlist[MILTER_STAGE_COUNT];

    char *in; /* content read, not yet sent */
    size_t in_len;
    bool in_eof;
    bool headers_done;

    struct milter_result res;
    size_t mods_alloc;
};

const char *
milter_verdict_name(enum milter_verdict v)
{
    switch (v) {
    case MILTER_ACCEPT:
        return "accept";
    case MILTER_REJECT:
        return "reject";
    case MILTER_TEMPFAIL:
        return "tempfail";
    case MILTER_DISCARD:
        return "discard";
    case MILTER_REPLYCODE:
        return "replycode";
    case MILTER_ERROR:
        break;
    }
    return "error";
}

const char *
milter_mod_kind_name(enum milter_mod_kind k)
{
    switch (k) {
    case MILTER_MOD_ADD:
        return "add";
    case MILTER_MOD_INSERT:
        return "insert";
    case MILTER_MOD_CHANGE:
        return "change";
    case MILTER_MOD_DELETE:
        break;
    }
    return "delete";
}

/* ---- addresses ---- */

static int
addr_inet(const char *host, size_t host_len, const char *port, int family, struct milter_addr *out,
          char *err, size_t cap)
{
    char h[INET6_ADDRSTRLEN];
    uint64_t p;

    if (num_parse_u64(slice_make(port, strlen(port)), 1, 65535, &p) == -1) {
        (void)str_fmt(err, cap, "bad port \"%s\"", port);
        return -1;
    }
    if (str_copy(h, sizeof(h), host, host_len) == -1) {
        (void)str_fmt(err, cap, "host not a numeric address");
        return -1;
    }
    if (strcmp(h, "localhost") == 0)
        memcpy(h, family == AF_INET6 ? "::1" : "127.0.0.1", family == AF_INET6 ? 4 : 10);
    memset(&out->sa, 0, sizeof(out->sa));
    if (family != AF_INET6) {
        struct sockaddr_in *in4 = (struct sockaddr_in *)&out->sa;

        if (inet_pton(AF_INET, h, &in4->sin_addr) == 1) {
            in4->sin_family = AF_INET;
            in4->sin_port = htons((uint16_t)p);
            out->len = sizeof(*in4);
            return 0;
        }
    }
    if (family != AF_INET) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->sa;

        if (inet_pton(AF_INET6, h, &in6->sin6_addr) == 1) {
            in6->sin6_family = AF_INET6;
            in6->sin6_port = htons((uint16_t)p);
            out->len = sizeof(*in6);
            return 0;
        }
    }
    (void)str_fmt(err, cap, "host \"%s\" not a numeric address", h);
    return -1;
}

int
milter_addr_parse(const char *spec, struct milter_addr *out, char *err, size_t cap)
{
    const char *at, *colon;

    memset(out, 0, sizeof(*out));
    (void)str_copyz(out->text, sizeof(out->text), spec);
    if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0) {
        struct sockaddr_un *un = (struct sockaddr_un *)&out->sa;
        const char *path = strchr(spec, ':') + 1;

        if (path[0] != '/' || str_copyz(un->sun_path, sizeof(un->sun_path), path) == -1) {
            (void)str_fmt(err, cap, "a UNIX socket needs an absolute path of at most %zu octets",
                          sizeof(un->sun_path) - 1);
            return -1;
        }
        un->sun_family = AF_UNIX;
        out->len = (socklen_t)sizeof(*un);
        return 0;
    }
    if (strncmp(spec, "inet:", 5) == 0 || strncmp(spec, "inet6:", 6) == 0) {
        const char *rest = strchr(spec, ':') + 1;
        int family = spec[4] == '6' ? AF_INET6 : AF_INET;
        char port[8];

        at = strchr(rest, '@');
        if (at == NULL || str_copy(port, sizeof(port), rest, (size_t)(at - rest)) == -1) {
            (void)str_fmt(err, cap, "expected inet:PORT@HOST");
            return -1;
        }
        return addr_inet(at + 1, strlen(at + 1), port, family, out, err, cap);
    }
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');

        if (close == NULL || close[1] != ':') {
            (void)str_fmt(err, cap, "expected [HOST]:PORT");
            return -1;
        }
        return addr_inet(spec + 1, (size_t)(close - spec - 1), close + 2, AF_UNSPEC, out, err, cap);
    }
    colon = strrchr(spec, ':');
    if (colon == NULL || strchr(spec, ':') != colon) {
        (void)str_fmt(err, cap, "expected unix:/PATH, inet:PORT@HOST or HOST:PORT");
        return -1;
    }
    return addr_inet(spec, (size_t)(colon - spec), colon + 1, AF_UNSPEC, out, err, cap);
}

/* ---- the end ---- */

static void
arm(struct event *ev, unsigned ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

    if (evtimer_add(ev, &tv) == -1)
        log_panic("evtimer_add failed");
}

static void
milter_free(struct milter *m)
{
    if (m->bev != NULL)
        bufferevent_free(m->bev);
    if (m->timer != NULL)
        event_free(m->timer);
    if (m->total != NULL)
        event_free(m->total);
    if (m->finish_ev != NULL)
        event_free(m->finish_ev);
    milter_out_clear(&m->out);
    for (size_t i = 0; i < MILTER_STAGE_COUNT; i++)
        free(m->symlist[i]);
    free(m->in);
    for (size_t i = 0; i < m->res.n_mods; i++) {
        free(m->res.mods[i].name);
        free(m->res.mods[i].value);
    }
    free(m->res.mods);
    free(m->res.text);
    free(m->res.quarantine);
    free(m->res.body);
    free(m);
}

void
milter_cancel(struct milter *m)
{
    if (m != NULL)
        milter_free(m);
}

static void
finish_cb(evutil_socket_t fd, short what, void *arg)
{
    struct milter *m = arg;

    (void)fd;
    (void)what;
    m->done(m->done_arg, &m->res);
    milter_free(m);
}

/*
 * The conversation is over: a polite QUIT when the stream is in step (sent
 * only when it fits in the socket at once: nothing waits for it), the
 * socket closed, and done called from the loop.
 */
static void
milter_finish(struct milter *m, bool quit)
{
    if (m->step == STEP_DONE)
        return;
    m->step = STEP_DONE;
    (void)evtimer_del(m->timer);
    (void)evtimer_del(m->total);
    if (m->bev != NULL) {
        int fd = bufferevent_getfd(m->bev);

        if (quit && fd != -1 && evbuffer_get_length(bufferevent_get_output(m->bev)) == 0) {
            static const char q[] = {0, 0, 0, 1, SMFIC_QUIT};

            (void)send(fd, q, sizeof(q), MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        /* Freed with m: a callback of this bufferevent may be what called us. */
        bufferevent_setcb(m->bev, NULL, NULL, NULL, NULL);
        (void)bufferevent_disable(m->bev, EV_READ | EV_WRITE);
        if (fd != -1)
            (void)shutdown(fd, SHUT_RDWR);
    }
    event_active(m->finish_ev, EV_TIMEOUT, 0);
}

static void milter_error(struct milter *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
milter_error(struct milter *m, const char *fmt, ...)
{
    char text[512];
    va_list ap;

    if (m->step == STEP_DONE)
        return;
    va_start(ap, fmt);
    (void)vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    free(m->res.text);
    m->res.text = xstrdup(text);
    m->res.verdict = MILTER_ERROR;
    log_debug("milter=%s, event=error, reason=\"%s\"", m->addr.text, text);
    milter_finish(m, false);
}

static void
milter_verdict(struct milter *m, enum milter_verdict v, const struct milter_reply *r)
{
    m->res.verdict = v;
    if (v == MILTER_REPLYCODE) {
        free(m->res.text);
        m->res.text = xstrndup(r->text.p, r->text.len);
        m->res.code = r->code;
    }
    milter_finish(m, true);
}

/* ---- sending ---- */

static const char *const step_names[] = {
    [STEP_CONNECTING] = "connecting",
    [STEP_OPTNEG] = "negotiating",
    [STEP_CONNECT] = "CONNECT",
    [STEP_HELO] = "HELO",
    [STEP_MAIL] = "MAIL",
    [STEP_RCPT] = "RCPT",
    [STEP_DATA] = "DATA",
    [STEP_HEADER] = "HEADER",
    [STEP_EOH] = "EOH",
    [STEP_BODY] = "BODY",
    [STEP_EOM] = "end of message",
    [STEP_DONE] = "done",
};

static void
flush_out(struct milter *m)
{
    if (m->out.len == 0)
        return;
    if (bufferevent_write(m->bev, m->out.p, m->out.len) == -1)
        log_panic("bufferevent_write failed");
    milter_out_reset(&m->out);
}

/* The macros known at stage, named as Sendmail names them (one letter bare, others in braces). */
static size_t
macros_known(const struct milter *m, enum milter_stage stage, struct milter_macro *v, char *under,
             size_t under_cap, const char *rcpt)
{
    const struct milter_env *e = m->env;
    size_t n = 0;

    (void)str_fmt(under, under_cap, "%s [%s]", e->client_name != NULL ? e->client_name : "unknown",
                  e->client_addr != NULL ? e->client_addr : "unknown");
    v[n++] = (struct milter_macro){"j", e->hostname};
    v[n++] = (struct milter_macro){"{daemon_name}", e->daemon_name};
    v[n++] = (struct milter_macro){"_", under};
    v[n++] = (struct milter_macro){"{client_addr}", e->client_addr};
    v[n++] = (struct milter_macro){"{client_name}", e->client_name};
    if (stage >= MILTER_STAGE_HELO)
        v[n++] = (struct milter_macro){"{tls_version}", e->tls_version};
    if (stage >= MILTER_STAGE_MAIL && stage != MILTER_STAGE_HELO) {
        v[n++] = (struct milter_macro){"i", e->queue_id};
        v[n++] = (struct milter_macro){"{auth_authen}", e->auth_authen};
        v[n++] = (struct milter_macro){"{mail_addr}", e->mail_from};
    }
    if (stage == MILTER_STAGE_RCPT)
        v[n++] = (struct milter_macro){"{rcpt_addr}", rcpt};
    return n;
}

/* What each stage sends without a symbol list (Postfix's defaults, less what we do not have). */
static bool
macro_default(enum milter_stage stage, const char *name)
{
    switch (stage) {
    case MILTER_STAGE_CONNECT:
        return strcmp(name, "j") == 0 || strcmp(name, "{daemon_name}") == 0 ||
               strcmp(name, "_") == 0 || strcmp(name, "{client_addr}") == 0 ||
               strcmp(name, "{client_name}") == 0;
    case MILTER_STAGE_HELO:
        return strcmp(name, "{tls_version}") == 0;
    case MILTER_STAGE_MAIL:
        return strcmp(name, "i") == 0 || strcmp(name, "{auth_authen}") == 0 ||
               strcmp(name, "{mail_addr}") == 0;
    case MILTER_STAGE_RCPT:
        return strcmp(name, "{rcpt_addr}") == 0;
    case MILTER_STAGE_DATA:
    case MILTER_STAGE_EOM:
        return strcmp(name, "i") == 0;
    case MILTER_STAGE_EOH:
    case MILTER_STAGE_COUNT:
        break;
    }
    return false;
}

/* True when the space-separated list names name ("{x}" and "x" are the same macro). */
static bool
symlist_has(const char *list, const char *name)
{
    const char *bare = name;
    size_t bare_len = strlen(name);

    if (name[0] == '{') {
        bare++;
        bare_len -= 2;
    }
    while (*list != '\0') {
        size_t len = strcspn(list, " \t");
        const char *w = list;

        if (len >= 2 && w[0] == '{' && w[len - 1] == '}') {
            w++;
            len -= 2;
        }
        if (len == bare_len && memcmp(w, bare, len) == 0)
            return true;
        list += strcspn(list, " \t");
        list += strspn(list, " \t");
    }
    return false;
}

static void
send_macros(struct milter *m, enum milter_stage stage, char cmd, const char *rcpt)
{
    struct milter_macro known[16], v[16];
    char under[600];
    size_t n_known = macros_known(m, stage, known, under, sizeof(under), rcpt), n = 0;

    for (size_t i = 0; i < n_known; i++) {
        bool want = m->has_symlist[stage] ? symlist_has(m->symlist[stage], known[i].name)
                                          : macro_default(stage, known[i].name);

        if (want && known[i].value != NULL)
            v[n++] = known[i];
    }
    if (n > 0 && milter_enc_macro(&m->out, cmd, v, n) == -1)
        log_debug("milter=%s, event=macros-left-out, stage=%d", m->addr.text, (int)stage);
}

/* A command and, unless no_reply, the wait for its reply. */
static void
send_done(struct milter *m, bool no_reply)
{
    flush_out(m);
    m->awaiting = m->step;
    if (!no_reply) {
        m->waiting = true;
        arm(m->timer, m->opts.reply_ms);
    }
}

/* Reads content until in holds want octets or the content ends. Returns -1 on a read error. */
static int
fill(struct milter *m, size_t want)
{
    while (!m->in_eof && m->in_len < want) {
        ssize_t n = m->read(m->read_arg, m->in + m->in_len, want - m->in_len);

        if (n < 0)
            return -1;
        if (n == 0)
            m->in_eof = true;
        m->in_len += (size_t)n;
    }
    return 0;
}

static void
consume(struct milter *m, size_t n)
{
    memmove(m->in, m->in + n, m->in_len - n);
    m->in_len -= n;
}

/* The next header field into the output; false when the header section has ended. */
static int
send_header(struct milter *m, bool *sent)
{
    *sent = false;
    for (;;) {
        struct slice name, value;
        size_t used;
        enum milter_hdr_rc rc =
            milter_header_next(slice_make(m->in, m->in_len), m->in_eof, &name, &value, &used);

        if (rc == MILTER_HDR_MORE) {
            if (m->in_len == MILTER_IN_CAP) {
                milter_error(m, "a header field longer than %d octets", MILTER_IN_CAP);
                return -1;
            }
            if (fill(m, MILTER_IN_CAP) == -1) {
                milter_error(m, "cannot read the message");
                return -1;
            }
            continue;
        }
        if (rc == MILTER_HDR_END) {
            consume(m, used); /* the empty line is not part of the body */
            m->headers_done = true;
            return 0;
        }
        if ((m->protocol & SMFIP_NOHDRS) == 0) {
            /* Folded lines joined by LF alone, as Sendmail and Postfix send them. */
            char *v = xmalloc(value.len + 1);
            size_t vl = 0;
            int rc2;

            for (size_t i = 0; i < value.len; i++)
                if (!(value.p[i] == '\r' && i + 1 < value.len && value.p[i + 1] == '\n'))
                    v[vl++] = value.p[i];
            rc2 = milter_enc_header(&m->out, name, slice_make(v, vl));
            free(v);
            if (rc2 == -1) {
                milter_error(m, "a header field the protocol cannot carry (a NUL in it)");
                return -1;
            }
            *sent = true;
        }
        consume(m, used);
        if (*sent)
            return 0;
    }
}

static bool
output_full(const struct milter *m)
{
    return evbuffer_get_length(bufferevent_get_output(m->bev)) > MILTER_OUT_HIGH;
}

/*
 * Sends what comes next, from m->step on, until a command awaits its reply
 * or the output is full (the write callback comes back here).
 */
static void
milter_next(struct milter *m)
{
    const struct milter_env *e = m->env;

    while (m->step != STEP_DONE && !m->waiting && !output_full(m)) {
        switch (m->step) {
        case STEP_CONNECTING:
        case STEP_OPTNEG:
        case STEP_DONE:
            return;
        case STEP_CONNECT:
            if ((m->protocol & SMFIP_NOCONNECT) == 0) {
                char family = 0;
                unsigned char buf[sizeof(struct in6_addr)];

                if (e->client_addr != NULL && inet_pton(AF_INET, e->client_addr, buf) == 1)
                    family = '4';
                else if (e->client_addr != NULL && inet_pton(AF_INET6, e->client_addr, buf) == 1)
                    family = '6';
                send_macros(m, MILTER_STAGE_CONNECT, SMFIC_CONNECT, NULL);
                if (milter_enc_connect(&m->out, e->client_name != NULL ? e->client_name : "unknown",
                                       family, e->client_port, e->client_addr) == -1) {
                    milter_error(m, "cannot encode CONNECT");
                    return;
                }
                send_done(m, m->protocol & SMFIP_NR_CONN);
            }
            m->step = STEP_HELO;
            break;
        case STEP_HELO:
            if ((m->protocol & SMFIP_NOHELO) == 0 && e->helo != NULL) {
                send_macros(m, MILTER_STAGE_HELO, SMFIC_HELO, NULL);
                if (milter_enc_helo(&m->out, e->helo) == -1) {
                    milter_error(m, "cannot encode HELO");
                    return;
                }
                send_done(m, m->protocol & SMFIP_NR_HELO);
            }
            m->step = STEP_MAIL;
            break;
        case STEP_MAIL:
            if ((m->protocol & SMFIP_NOMAIL) == 0) {
                char arg[600];
                const char *args[1] = {arg};

                (void)str_fmt(arg, sizeof(arg), "<%s>", e->mail_from != NULL ? e->mail_from : "");
                send_macros(m, MILTER_STAGE_MAIL, SMFIC_MAIL, NULL);
                if (milter_enc_mail(&m->out, args, 1) == -1) {
                    milter_error(m, "cannot encode MAIL");
                    return;
                }
                send_done(m, m->protocol & SMFIP_NR_MAIL);
            }
            m->step = STEP_RCPT;
            break;
        case STEP_RCPT:
            if (m->rcpt >= e->n_rcpts || (m->protocol & SMFIP_NORCPT) != 0) {
                m->step = STEP_DATA;
                break;
            } else {
                char arg[600];
                const char *args[1] = {arg};

                (void)str_fmt(arg, sizeof(arg), "<%s>", e->rcpts[m->rcpt]);
                send_macros(m, MILTER_STAGE_RCPT, SMFIC_RCPT, e->rcpts[m->rcpt]);
                m->rcpt++;
                if (milter_enc_rcpt(&m->out, args, 1) == -1) {
                    milter_error(m, "cannot encode RCPT");
                    return;
                }
                send_done(m, m->protocol & SMFIP_NR_RCPT);
            }
            break;
        case STEP_DATA:
            if ((m->protocol & SMFIP_NODATA) == 0) {
                send_macros(m, MILTER_STAGE_DATA, SMFIC_DATA, NULL);
                (void)milter_enc_bare(&m->out, SMFIC_DATA);
                send_done(m, m->protocol & SMFIP_NR_DATA);
            }
            m->step = STEP_HEADER;
            break;
        case STEP_HEADER: {
            bool sent;

            if (send_header(m, &sent) == -1)
                return;
            if (sent)
                send_done(m, m->protocol & SMFIP_NR_HDR);
            if (m->headers_done)
                m->step = STEP_EOH;
            break;
        }
        case STEP_EOH:
            if ((m->protocol & SMFIP_NOEOH) == 0) {
                send_macros(m, MILTER_STAGE_EOH, SMFIC_EOH, NULL);
                (void)milter_enc_bare(&m->out, SMFIC_EOH);
                send_done(m, m->protocol & SMFIP_NR_EOH);
            }
            m->step = (m->protocol & SMFIP_NOBODY) ? STEP_EOM : STEP_BODY;
            break;
        case STEP_BODY: {
            size_t n;

            if (fill(m, MILTER_CHUNK_MAX) == -1) {
                milter_error(m, "cannot read the message");
                return;
            }
            if (m->in_len == 0) {
                m->step = STEP_EOM;
                break;
            }
            n = m->in_len < MILTER_CHUNK_MAX ? m->in_len : MILTER_CHUNK_MAX;
            (void)milter_enc_body(&m->out, slice_make(m->in, n));
            consume(m, n);
            send_done(m, m->protocol & SMFIP_NR_BODY);
            break;
        }
        case STEP_EOM:
            send_macros(m, MILTER_STAGE_EOM, SMFIC_BODYEOB, NULL);
            (void)milter_enc_bare(&m->out, SMFIC_BODYEOB);
            send_done(m, false);
            return;
        }
    }
}

/* ---- receiving ---- */

static void
add_mod(struct milter *m, enum milter_mod_kind kind, const struct milter_reply *r)
{
    struct milter_mod *mod;

    if (m->res.n_mods == m->mods_alloc) {
        m->mods_alloc = m->mods_alloc == 0 ? 8 : m->mods_alloc * 2;
        m->res.mods = xrealloc(m->res.mods, m->mods_alloc * sizeof(*m->res.mods));
    }
    mod = &m->res.mods[m->res.n_mods++];
    mod->kind = kind;
    mod->index = r->index;
    mod->name = xstrndup(r->name.p, r->name.len);
    mod->value = xstrndup(r->value.p, r->value.len);
}

/* A modification at the end of the message; -1 when it breaks the protocol (m has ended). */
static int
on_modification(struct milter *m, const struct milter_reply *r)
{
    static const struct {
        char cmd;
        uint32_t action;
    } need[] = {
        {SMFIR_ADDHEADER, SMFIF_ADDHDRS},     {SMFIR_INSHEADER, SMFIF_ADDHDRS},
        {SMFIR_CHGHEADER, SMFIF_CHGHDRS},     {SMFIR_REPLBODY, SMFIF_CHGBODY},
        {SMFIR_QUARANTINE, SMFIF_QUARANTINE},
    };

    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
        if (need[i].cmd == r->cmd && (m->actions & need[i].action) == 0) {
            milter_error(m, "%s without having negotiated it", milter_cmd_name(r->cmd));
            return -1;
        }
    }
    if (m->res.n_mods >= MILTER_MODS_MAX) {
        milter_error(m, "more than %d modifications", MILTER_MODS_MAX);
        return -1;
    }
    switch (r->cmd) {
    case SMFIR_ADDHEADER:
        add_mod(m, MILTER_MOD_ADD, r);
        break;
    case SMFIR_INSHEADER:
        add_mod(m, MILTER_MOD_INSERT, r);
        break;
    case SMFIR_CHGHEADER:
        add_mod(m, r->value.len == 0 ? MILTER_MOD_DELETE : MILTER_MOD_CHANGE, r);
        break;
    case SMFIR_REPLBODY:
        if (r->body.len > m->opts.body_max - (m->res.body_replaced ? m->res.body_len : 0)) {
            milter_error(m, "a replaced body longer than %zu octets", m->opts.body_max);
            return -1;
        }
        m->res.body = xrealloc(m->res.body, m->res.body_len + r->body.len + 1);
        if (r->body.len > 0)
            memcpy(m->res.body + m->res.body_len, r->body.p, r->body.len);
        m->res.body_len += r->body.len;
        m->res.body_replaced = true;
        break;
    case SMFIR_QUARANTINE:
        free(m->res.quarantine);
        m->res.quarantine = xstrndup(r->text.p, r->text.len);
        break;
    default:
        break;
    }
    return 0;
}

static void
on_optneg(struct milter *m, const struct milter_reply *r)
{
    if (r->cmd != SMFIC_OPTNEG) {
        milter_error(m, "%s instead of OPTNEG", milter_cmd_name(r->cmd));
        return;
    }
    if (r->version < 2 || r->version > MILTER_VERSION) {
        milter_error(m, "protocol version %u (we speak 2 to %d)", (unsigned)r->version,
                     MILTER_VERSION);
        return;
    }
    if ((r->actions & ~(uint32_t)MILTER_ACTIONS) != 0) {
        milter_error(m, "asks for actions 0x%x we did not offer",
                     (unsigned)(r->actions & ~(uint32_t)MILTER_ACTIONS));
        return;
    }
    if ((r->protocol & ~(uint32_t)(MILTER_PROTOCOL | MILTER_PROTOCOL_MDS)) != 0) {
        milter_error(m, "asks for protocol steps 0x%x we did not offer",
                     (unsigned)(r->protocol & ~(uint32_t)(MILTER_PROTOCOL | MILTER_PROTOCOL_MDS)));
        return;
    }
    for (size_t i = 0; i < MILTER_STAGE_COUNT; i++) {
        if (!r->has_symlist[i])
            continue;
        if ((r->actions & SMFIF_SETSYMLIST) == 0) {
            milter_error(m, "a symbol list without SMFIF_SETSYMLIST");
            return;
        }
        m->has_symlist[i] = true;
        m->symlist[i] = xstrndup(r->symlist[i].p, r->symlist[i].len);
    }
    m->actions = r->actions;
    m->protocol = r->protocol;
    m->step = STEP_CONNECT;
}

static void
on_reply(struct milter *m, const struct milter_reply *r)
{
    if (!m->waiting) {
        milter_error(m, "%s while no reply was due", milter_cmd_name(r->cmd));
        return;
    }
    if (r->cmd == SMFIR_PROGRESS) {
        arm(m->timer, m->opts.reply_ms);
        return;
    }
    if (m->awaiting == STEP_OPTNEG) {
        m->waiting = false;
        (void)evtimer_del(m->timer);
        on_optneg(m, r);
        return;
    }
    if (m->awaiting == STEP_EOM) {
        switch (r->cmd) {
        case SMFIR_ADDHEADER:
        case SMFIR_INSHEADER:
        case SMFIR_CHGHEADER:
        case SMFIR_REPLBODY:
        case SMFIR_QUARANTINE:
            if (on_modification(m, r) == 0)
                arm(m->timer, m->opts.reply_ms);
            return;
        default:
            break;
        }
    }
    m->waiting = false;
    (void)evtimer_del(m->timer);
    switch (r->cmd) {
    case SMFIR_CONTINUE:
        if (m->awaiting == STEP_EOM)
            milter_verdict(m, MILTER_ACCEPT, r);
        return;
    case SMFIR_ACCEPT:
        milter_verdict(m, MILTER_ACCEPT, r);
        return;
    case SMFIR_DISCARD:
        milter_verdict(m, MILTER_DISCARD, r);
        return;
    case SMFIR_REJECT:
    case SMFIR_TEMPFAIL:
    case SMFIR_REPLYCODE:
        /* At RCPT a refusal is that recipient's; the message goes on while one is left. */
        if (m->awaiting == STEP_RCPT) {
            m->res.rcpt_rejected++;
            if (m->res.rcpt_rejected < m->env->n_rcpts)
                return;
        }
        milter_verdict(m,
                       r->cmd == SMFIR_REJECT     ? MILTER_REJECT
                       : r->cmd == SMFIR_TEMPFAIL ? MILTER_TEMPFAIL
                                                  : MILTER_REPLYCODE,
                       r);
        return;
    case SMFIR_SKIP:
        if (m->awaiting == STEP_BODY && (m->protocol & SMFIP_SKIP) != 0) {
            m->step = STEP_EOM;
            return;
        }
        milter_error(m, "SKIP %s",
                     m->awaiting == STEP_BODY ? "without SMFIP_SKIP" : "outside BODY");
        return;
    default:
        milter_error(m, "%s in reply to %s", milter_cmd_name(r->cmd), step_names[m->awaiting]);
        return;
    }
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
    struct milter *m = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    while (m->step != STEP_DONE) {
        unsigned char head[MILTER_LEN_BYTES];
        struct milter_reply r;
        char err[200];
        size_t len;
        enum milter_frame_rc rc;
        unsigned char *pkt;

        if (evbuffer_copyout(in, head, sizeof(head)) < (ssize_t)sizeof(head))
            break;
        rc = milter_frame(head, sizeof(head), &len);
        if (rc == MILTER_FRAME_BAD) {
            milter_error(m, "a packet length of 0 or over %d octets", MILTER_PACKET_MAX);
            return;
        }
        if (evbuffer_get_length(in) < MILTER_LEN_BYTES + len)
            break; /* the rest of the packet is still coming */
        pkt = evbuffer_pullup(in, (ssize_t)(MILTER_LEN_BYTES + len));
        if (pkt == NULL)
            log_panic("evbuffer_pullup failed");
        if (milter_reply_parse(slice_make((const char *)pkt + MILTER_LEN_BYTES, len), &r, err,
                               sizeof(err)) == -1) {
            milter_error(m, "bad response to %s: %s", step_names[m->awaiting], err);
            return;
        }
        on_reply(m, &r);
        if (m->step == STEP_DONE)
            return;
        (void)evbuffer_drain(in, MILTER_LEN_BYTES + len);
    }
    milter_next(m);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    milter_next(arg);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct milter *m = arg;

    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        (void)evtimer_del(m->timer);
        m->step = STEP_OPTNEG;
        if (milter_enc_optneg(&m->out, MILTER_VERSION, MILTER_ACTIONS, MILTER_PROTOCOL) == -1)
            log_panic("milter: cannot encode OPTNEG");
        send_done(m, false);
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        int err = EVUTIL_SOCKET_ERROR();

        if (m->step == STEP_CONNECTING)
            milter_error(m, "connect to %s: %s", m->addr.text, strerror(err));
        else
            milter_error(m, "lost connection while %s: %s", step_names[m->awaiting], strerror(err));
    } else if (what & BEV_EVENT_EOF) {
        milter_error(m, "lost connection while %s", step_names[m->awaiting]);
    }
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct milter *m = arg;

    (void)fd;
    (void)what;
    if (m->step == STEP_CONNECTING)
        milter_error(m, "connect to %s: timed out", m->addr.text);
    else
        milter_error(m, "timed out waiting for the reply to %s", step_names[m->awaiting]);
}

static void
total_cb(evutil_socket_t fd, short what, void *arg)
{
    struct milter *m = arg;

    (void)fd;
    (void)what;
    milter_error(m, "the conversation took longer than %u ms (timed out at %s)", m->opts.total_ms,
                 step_names[m->awaiting]);
}

struct milter *
milter_start(struct event_base *base, const struct milter_addr *addr,
             const struct milter_opts *opts, const struct milter_env *env, milter_read_fn read,
             void *read_arg, milter_done_fn done, void *done_arg)
{
    struct milter *m = xcalloc(1, sizeof(*m));

    m->base = base;
    m->addr = *addr;
    m->opts = *opts;
    m->env = env;
    m->read = read;
    m->read_arg = read_arg;
    m->done = done;
    m->done_arg = done_arg;
    m->step = STEP_CONNECTING;
    m->res.verdict = MILTER_ERROR;
    m->in = xmalloc(MILTER_IN_CAP);
    milter_out_init(&m->out);
    m->timer = evtimer_new(base, timer_cb, m);
    m->total = evtimer_new(base, total_cb, m);
    m->finish_ev = event_new(base, -1, 0, finish_cb, m);
    if (m->timer == NULL || m->total == NULL || m->finish_ev == NULL)
        log_panic("milter: cannot create events");
    arm(m->total, opts->total_ms);
    arm(m->timer, opts->connect_ms);
    m->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (m->bev == NULL) {
        milter_error(m, "local error: cannot set up a socket");
        return m;
    }
    bufferevent_setcb(m->bev, read_cb, write_cb, event_cb, m);
    /* A whole packet always fits; past it the milter waits until we have read what came. */
    bufferevent_setwatermark(m->bev, EV_READ, 0, MILTER_LEN_BYTES + MILTER_PACKET_MAX);
    bufferevent_setwatermark(m->bev, EV_WRITE, MILTER_OUT_HIGH / 2, 0);
    if (bufferevent_enable(m->bev, EV_READ | EV_WRITE) == -1)
        log_panic("bufferevent_enable failed");
    if (bufferevent_socket_connect(m->bev, (const struct sockaddr *)&m->addr.sa,
                                   (int)m->addr.len) == -1)
        milter_error(m, "connect to %s: %s", m->addr.text, strerror(errno));
    return m;
}
