/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for smtp/addr.c: the input is one path, parsed with every
 * combination of SMTP_PATH_* flags, then checked as a HELO argument and as a
 * bare domain, literal and mailbox. Any broken invariant aborts: the stored
 * text must be NUL-terminated with len == strlen, within the lengths of RFC
 * 5321 4.5.3.1, a Mailbox again by the same grammar, and the cursor must stay
 * inside the input.
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

static void
check_addr(const struct smtp_addr *a, unsigned flags)
{
    size_t dlen;
    const char *d;

    CHECK(memchr(a->text, '\0', sizeof a->text) != NULL);
    CHECK(a->len == strlen(a->text));
    CHECK(a->len <= CAP_MAILBOX);
    if (a->is_null) {
        CHECK(flags & SMTP_PATH_NULL_OK);
        CHECK(a->len == 0 && a->local_len == 0 && !a->is_postmaster_bare && !a->has_utf8);
        return;
    }
    if (a->is_postmaster_bare) {
        CHECK(flags & SMTP_PATH_POSTMASTER_OK);
        CHECK(strcmp(a->text, "Postmaster") == 0 && a->local_len == a->len);
        return;
    }
    CHECK(a->local_len >= 1 && a->local_len <= CAP_LOCAL_PART);
    CHECK(a->text[a->local_len] == '@');
    d = smtp_addr_domain(a, &dlen);
    CHECK(dlen >= 1 && dlen <= CAP_DOMAIN);
    CHECK(a->local_quoted == (a->text[0] == '"'));
    CHECK(a->is_literal == (d[0] == '['));
    CHECK(a->is_literal ? smtp_addr_is_literal(d, dlen) : smtp_addr_is_domain(d, dlen, true));
    /* what was stored is a Mailbox by the same grammar */
    CHECK(smtp_addr_is_mailbox(a->text, a->len));
    /* has_utf8 covers the whole path, the dropped route included */
    if (!str_is_ascii(a->text, a->len))
        CHECK(a->has_utf8);
    for (size_t i = 0; i < a->len; i++)
        CHECK((unsigned char)a->text[i] >= 0x20 && a->text[i] != 0x7f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an empty input may come without a buffer */
    struct slice in = slice_make(size > 0 ? (const char *)data : "", size);

    for (unsigned flags = 0; flags < 4; flags++) {
        struct cursor c;
        struct smtp_addr a;
        enum smtp_addr_result r;

        cursor_init(&c, in);
        r = smtp_addr_parse_path(&c, flags, &a);
        CHECK(c.p >= in.p && c.p <= in.p + in.len);
        CHECK(memchr(a.text, '\0', sizeof a.text) != NULL);
        CHECK(r == SMTP_ADDR_OK || r == SMTP_ADDR_SYNTAX || r == SMTP_ADDR_LOCAL_TOO_LONG ||
              r == SMTP_ADDR_DOMAIN_TOO_LONG);
        if (r == SMTP_ADDR_OK) {
            CHECK(c.p > in.p && c.p[-1] == '>');
            CHECK(in.p[0] == '<');
            check_addr(&a, flags);
        } else {
            CHECK(a.text[0] == '\0' && a.len == 0);
        }
    }

    if (smtp_parse_helo(in) == 0) {
        CHECK(size >= 1 && size <= CAP_HELO);
        CHECK(str_is_ascii(in.p, in.len));
        CHECK(smtp_addr_is_domain(in.p, in.len, false) || smtp_addr_is_literal(in.p, in.len));
    }
    if (size > 0) {
        bool ascii = smtp_addr_is_domain(in.p, in.len, false);
        bool utf8 = smtp_addr_is_domain(in.p, in.len, true);

        CHECK(!ascii || utf8);
        CHECK(!ascii || str_is_ascii(in.p, in.len));
        CHECK(!(utf8 && smtp_addr_is_literal(in.p, in.len)));
        if (utf8 || smtp_addr_is_literal(in.p, in.len))
            CHECK(memchr(in.p, '\0', in.len) == NULL && memchr(in.p, ' ', in.len) == NULL);
        /* A mailbox holds a space only inside a quoted local part (qtextSMTP). */
        if (smtp_addr_is_mailbox(in.p, in.len))
            CHECK(memchr(in.p, '\0', in.len) == NULL &&
                  (memchr(in.p, ' ', in.len) == NULL || in.p[0] == '"'));
    }
    return 0;
}
