/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the milter codec (scan/milter_proto.c): the input is
 * what a milter sends, cut into packets by milter_frame() (a last partial
 * packet is decoded as it is), each decoded by milter_reply_parse(); and
 * the same input as a message's header section split by
 * milter_header_next(). Any broken invariant aborts: the slices lie inside
 * the packet, a REPLYCODE is 400..599 and starts its text, a header name
 * has no ':' or white space and a value no line end that is not folding,
 * the splitter always moves forward and stays inside its input.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scan/milter_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

static bool
inside(struct slice s, struct slice pkt)
{
    return s.len == 0 || (s.p >= pkt.p && s.p + s.len <= pkt.p + pkt.len);
}

static void
check_reply(struct slice pkt, const struct milter_reply *r)
{
    CHECK(inside(r->text, pkt) && inside(r->name, pkt) && inside(r->value, pkt) &&
          inside(r->body, pkt));
    for (size_t i = 0; i < MILTER_STAGE_COUNT; i++)
        CHECK(!r->has_symlist[i] || inside(r->symlist[i], pkt));
    switch (r->cmd) {
    case SMFIR_REPLYCODE:
        CHECK(r->code >= 400 && r->code <= 599 && r->text.len >= 4);
        CHECK(memchr(r->text.p, '\0', r->text.len) == NULL);
        break;
    case SMFIR_ADDHEADER:
    case SMFIR_INSHEADER:
    case SMFIR_CHGHEADER:
        CHECK(r->name.len > 0);
        for (size_t i = 0; i < r->name.len; i++)
            CHECK(r->name.p[i] > ' ' && r->name.p[i] != ':' && r->name.p[i] < 0x7f);
        for (size_t i = 0; i < r->value.len; i++) {
            if (r->value.p[i] == '\n')
                CHECK(i + 1 < r->value.len &&
                      (r->value.p[i + 1] == ' ' || r->value.p[i + 1] == '\t'));
            CHECK(r->value.p[i] != '\0');
        }
        break;
    case SMFIR_ACCEPT:
    case SMFIR_CONTINUE:
    case SMFIR_DISCARD:
    case SMFIR_REJECT:
    case SMFIR_TEMPFAIL:
    case SMFIR_PROGRESS:
    case SMFIR_SKIP:
        CHECK(pkt.len == 1);
        break;
    case SMFIC_OPTNEG:
        CHECK(pkt.len >= 13);
        break;
    case SMFIR_QUARANTINE:
    case SMFIR_REPLBODY:
    case SMFIR_SETSYMLIST:
        break;
    default:
        abort(); /* nothing else decodes */
    }
}

static void
fuzz_packets(const char *p, size_t n)
{
    while (n > 0) {
        struct milter_reply r;
        char err[200];
        size_t len = 0;
        struct slice pkt;
        enum milter_frame_rc rc = milter_frame((const unsigned char *)p, n, &len);

        if (rc == MILTER_FRAME_BAD)
            return;
        if (rc == MILTER_FRAME_MORE) {
            pkt = n > MILTER_LEN_BYTES ? slice_make(p + MILTER_LEN_BYTES, n - MILTER_LEN_BYTES)
                                       : slice_make(p, n);
        } else {
            CHECK(len >= 1 && len <= MILTER_PACKET_MAX && MILTER_LEN_BYTES + len <= n);
            pkt = slice_make(p + MILTER_LEN_BYTES, len);
        }
        err[0] = '\0';
        if (milter_reply_parse(pkt, &r, err, sizeof(err)) == 0)
            check_reply(pkt, &r);
        else
            CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
        if (rc == MILTER_FRAME_MORE)
            return;
        p += MILTER_LEN_BYTES + len;
        n -= MILTER_LEN_BYTES + len;
    }
}

static void
fuzz_headers(const char *p, size_t n)
{
    struct slice in = slice_make(p, n);

    for (;;) {
        struct slice name, value;
        size_t used;
        enum milter_hdr_rc rc = milter_header_next(in, true, &name, &value, &used);

        CHECK(used <= in.len);
        if (rc != MILTER_HDR_FIELD)
            return;
        CHECK(used > 0 && name.len > 0 && name.p == in.p);
        CHECK(value.p >= in.p && value.p + value.len <= in.p + used);
        in = slice_make(in.p + used, in.len - used);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_packets((const char *)data, size);
    fuzz_headers((const char *)data, size);
    return 0;
}
