/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the SMTP client's readers (deliver/reply.c and
 * deliver/ehlo.c): the input is a server's output, cut into lines at each
 * LF, fed to the reply reader, and every line's text to the EHLO reader.
 * Any broken invariant aborts: the joined text is NUL-terminated printable
 * ASCII with text_len == strlen and below DELIVER_TEXT_MAX, the caps hold,
 * a line's text lies inside the line, and a whole reply has a code of the
 * grammar and an enhanced code of its class.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/ehlo.h"
#include "deliver/reply.h"
#include "lib/caps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

static void
check_reply(const struct deliver_reply *r)
{
    CHECK(memchr(r->text, '\0', sizeof(r->text)) != NULL);
    CHECK(r->text_len == strlen(r->text) && r->text_len < DELIVER_TEXT_MAX);
    for (size_t i = 0; i < r->text_len; i++)
        CHECK(r->text[i] >= 0x20 && r->text[i] < 0x7f);
    CHECK(r->n_lines <= CAP_REPLY_LINES && r->octets <= CAP_REPLY);
}

static void
check_whole(const struct deliver_reply *r)
{
    unsigned cls = r->code / 100;

    CHECK(r->code >= 200 && r->code <= 559 && r->code / 10 % 10 <= 5);
    CHECK(r->text_len >= 3 && (unsigned)(r->text[0] - '0') == cls);
    if (cls == 3) {
        CHECK(r->enhanced[0] == '\0' && !r->has_enhanced);
    } else {
        CHECK(r->enhanced[0] == (char)('0' + cls) && r->enhanced[1] == '.');
        CHECK(strlen(r->enhanced) >= 5 && strlen(r->enhanced) <= 9);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    struct deliver_caps caps = {0};
    struct deliver_reply r;

    deliver_reply_init(&r);
    for (;;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        struct slice text = {NULL, 0};
        enum deliver_reply_rc rc;

        if (len > 0 && p[len - 1] == '\r')
            len--;
        rc = deliver_reply_add(&r, slice_make(p, len), &text);
        check_reply(&r);
        if (rc == DELIVER_REPLY_BAD) {
            CHECK(r.error != NULL);
            deliver_reply_init(&r);
        } else {
            CHECK(text.p >= p && text.p + text.len <= p + len);
            (void)deliver_ehlo_line(&caps, text);
            if (rc == DELIVER_REPLY_LAST) {
                check_whole(&r);
                deliver_reply_init(&r);
            }
        }
        if (caps.size_max > 0)
            CHECK(caps.size);
        if (nl == NULL)
            return 0;
        p = nl + 1;
    }
}
