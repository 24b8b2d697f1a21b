/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for smtp/cmd_parse.c: the input is split into lines at LF
 * (a CR before it dropped), and each line goes through smtp_cmd_parse() and,
 * whole and as its argument, through smtp_parse_mail(), smtp_parse_rcpt(),
 * smtp_parse_bdat() and smtp_parse_helo(). The whole input is also parsed as
 * one line, so CR, LF and NUL must be refused. Any broken invariant aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "smtp/addr.h"
#include "smtp/cmd_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

static bool
has_forbidden(struct slice s)
{
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] == '\0' || s.p[i] == '\r' || s.p[i] == '\n')
            return true;
    }
    return false;
}

static void
check_addr(const struct smtp_addr *a)
{
    size_t dlen;

    CHECK(memchr(a->text, '\0', sizeof a->text) != NULL);
    CHECK(a->len == strlen(a->text));
    if (a->is_null || a->is_postmaster_bare)
        return;
    CHECK(a->local_len >= 1 && a->local_len <= CAP_LOCAL_PART);
    CHECK(a->text[a->local_len] == '@');
    (void)smtp_addr_domain(a, &dlen);
    CHECK(dlen >= 1 && dlen <= CAP_DOMAIN);
    CHECK(smtp_addr_is_mailbox(a->text, a->len));
    if (!str_is_ascii(a->text, a->len))
        CHECK(a->has_utf8);
}

static bool
is_arg_result(enum smtp_arg_result r)
{
    return r >= SMTP_ARG_OK && r <= SMTP_ARG_UTF8_NOT_ALLOWED;
}

static void
run_mail(struct slice arg)
{
    struct smtp_mail m;
    enum smtp_arg_result r = smtp_parse_mail(arg, &m);

    CHECK(is_arg_result(r));
    CHECK(memchr(m.from.text, '\0', sizeof m.from.text) != NULL);
    CHECK(memchr(m.envid, '\0', sizeof m.envid) != NULL);
    if (r != SMTP_ARG_OK)
        return;
    check_addr(&m.from);
    CHECK(!m.from.is_postmaster_bare);
    CHECK(!m.from.has_utf8 || m.smtputf8);
    CHECK(m.has_envid == (m.envid[0] != '\0'));
    CHECK(strlen(m.envid) <= CAP_ENVID && str_is_ascii(m.envid, strlen(m.envid)));
    CHECK(m.has_size || m.size == 0);
    CHECK(m.body <= SMTP_BODY_8BITMIME && m.ret <= SMTP_RET_HDRS);
    CHECK(!has_forbidden(arg));
}

static void
run_rcpt(struct slice arg)
{
    struct smtp_rcpt r;
    enum smtp_arg_result res = smtp_parse_rcpt(arg, &r);
    const unsigned all = SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY;

    CHECK(is_arg_result(res));
    CHECK(res != SMTP_ARG_UTF8_NOT_ALLOWED);
    CHECK(memchr(r.to.text, '\0', sizeof r.to.text) != NULL);
    CHECK(memchr(r.orcpt, '\0', sizeof r.orcpt) != NULL);
    if (res != SMTP_ARG_OK)
        return;
    check_addr(&r.to);
    CHECK(!r.to.is_null);
    CHECK(r.notify == 0 || r.notify == SMTP_NOTIFY_NEVER || (r.notify & ~all) == 0);
    CHECK(r.has_orcpt == (r.orcpt[0] != '\0'));
    CHECK(strlen(r.orcpt) <= CAP_ORCPT);
    if (r.has_orcpt)
        CHECK(strchr(r.orcpt, ';') != NULL && strchr(r.orcpt, ' ') == NULL);
    CHECK(!has_forbidden(arg));
}

static void
run_bdat(struct slice arg)
{
    uint64_t n = 1;
    bool last = true;

    if (smtp_parse_bdat(arg, &n, &last) == 0) {
        CHECK(arg.len >= 1 && arg.len <= 20 + 5);
        CHECK(arg.p[0] >= '0' && arg.p[0] <= '9');
        CHECK(last == (arg.len > 5 && arg.p[arg.len - 5] == ' '));
    } else {
        CHECK(n == 0 && !last);
    }
}

static void
run_line(struct slice line)
{
    struct smtp_cmd cmd;
    int rc = smtp_cmd_parse(line, &cmd);

    if (has_forbidden(line))
        CHECK(rc == -1);
    run_mail(line);
    run_rcpt(line);
    run_bdat(line);
    (void)smtp_parse_helo(line);
    if (rc == -1) {
        CHECK(cmd.verb == SMTP_VERB_UNKNOWN && !cmd.has_arg && cmd.arg.len == 0);
        return;
    }
    CHECK(cmd.arg.p >= line.p && cmd.arg.p + cmd.arg.len == line.p + line.len);
    CHECK(cmd.arg.p > line.p && (size_t)(cmd.arg.p - line.p) <= 12 + 1);
    CHECK(cmd.has_arg == (cmd.arg.p[-1] == ' '));
    CHECK(cmd.has_arg || cmd.arg.len == 0);
    CHECK(smtp_verb_name(cmd.verb) != NULL);
    CHECK(smtp_cmd_line_cap(cmd.verb) >= CAP_CMD_LINE);
    switch (cmd.verb) {
    case SMTP_VERB_MAIL:
        run_mail(cmd.arg);
        break;
    case SMTP_VERB_RCPT:
        run_rcpt(cmd.arg);
        break;
    case SMTP_VERB_BDAT:
        run_bdat(cmd.arg);
        break;
    case SMTP_VERB_HELO:
    case SMTP_VERB_EHLO:
        if (smtp_parse_helo(cmd.arg) == 0)
            CHECK(cmd.arg.len >= 1 && cmd.arg.len <= CAP_HELO);
        break;
    default:
        break;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = size > 0 ? (const char *)data : "";
    const char *end = p + size;
    struct smtp_cmd whole;

    if (smtp_cmd_parse(slice_make(p, size), &whole) == 0)
        CHECK(!has_forbidden(slice_make(p, size)));
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl != NULL ? nl : end;
        size_t len = (size_t)(stop - p);

        if (len > 0 && p[len - 1] == '\r')
            len--;
        run_line(slice_make(p, len));
        p = nl != NULL ? nl + 1 : end;
    }
    return 0;
}
