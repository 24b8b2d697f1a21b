/* SPDX-License-Identifier: MIT */
/*
 * Tests for the milter codec (milter_proto.c): the encoders against the
 * packets libmilter expects, byte for byte; one table of response packets
 * (the command octet and the data) with the decoder's verdict and fields,
 * hostile rows last (short, overlong, NUL missing or inside, bad codes,
 * header injection, actions we did not offer, unknown commands); the
 * framing with lengths of 0 and over the cap; and the header splitter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scan/milter_proto.h"

/* A string literal with its length, so that rows may hold NUL octets. */
#define S(lit) lit, sizeof(lit) - 1

static void
expect_packet(const struct milter_out *o, const char *want, size_t want_len)
{
    assert_int_equal(o->len, want_len);
    assert_memory_equal(o->p, want, want_len);
}

static void
test_encoders(void **state)
{
    struct milter_out o;
    const char *mail[] = {"<a@example.test>", "SIZE=100"};
    struct milter_macro mac[] = {{"j", "gate26.test"}, {"{client_addr}", "192.0.2.1"}};

    (void)state;
    milter_out_init(&o);
    assert_int_equal(milter_enc_optneg(&o, 6, MILTER_ACTIONS, 0x1ff), 0);
    expect_packet(&o, S("\0\0\0\x0dO\0\0\0\x06\0\0\x01\x33\0\0\x01\xff"));
    milter_out_reset(&o);

    assert_int_equal(milter_enc_connect(&o, "mx.example.net", '4', 25, "192.0.2.1"), 0);
    expect_packet(&o, S("\0\0\0\x1d"
                        "Cmx.example.net\0"
                        "4\0\x19"
                        "192.0.2.1\0"));
    milter_out_reset(&o);
    assert_int_equal(milter_enc_connect(&o, "x", 0, 0, NULL), 0);
    expect_packet(&o, S("\0\0\0\x04"
                        "Cx\0U"));
    milter_out_reset(&o);
    assert_int_equal(milter_enc_connect(&o, "x", '4', 70000, "1.2.3.4"), -1);
    assert_int_equal(milter_enc_connect(&o, "x", 'Z', 1, "1.2.3.4"), -1);
    assert_int_equal(o.len, 0);

    assert_int_equal(milter_enc_helo(&o, "client.test"), 0);
    expect_packet(&o, S("\0\0\0\x0d"
                        "Hclient.test\0"));
    milter_out_reset(&o);

    assert_int_equal(milter_enc_mail(&o, mail, 2), 0);
    expect_packet(&o, S("\0\0\0\x1b"
                        "M<a@example.test>\0SIZE=100\0"));
    milter_out_reset(&o);
    assert_int_equal(milter_enc_rcpt(&o, mail, 1), 0);
    expect_packet(&o, S("\0\0\0\x12"
                        "R<a@example.test>\0"));
    milter_out_reset(&o);
    assert_int_equal(milter_enc_rcpt(&o, mail, 0), -1);

    assert_int_equal(milter_enc_header(&o, slice_make(S("Subject")), slice_make(S("hi"))), 0);
    expect_packet(&o, S("\0\0\0\x0c"
                        "LSubject\0hi\0"));
    milter_out_reset(&o);
    /* A NUL inside a field would end it early: refused, o unchanged. */
    assert_int_equal(milter_enc_header(&o, slice_make(S("Sub\0ject")), slice_make(S("hi"))), -1);
    assert_int_equal(o.len, 0);

    assert_int_equal(milter_enc_body(&o, slice_make(S("a\r\nb\0c"))), 0);
    expect_packet(&o, S("\0\0\0\x07"
                        "Ba\r\nb\0c"));
    milter_out_reset(&o);

    assert_int_equal(milter_enc_macro(&o, SMFIC_CONNECT, mac, 2), 0);
    expect_packet(&o, S("\0\0\0\x28"
                        "DCj\0gate26.test\0{client_addr}\0"
                        "192.0.2.1\0"));
    milter_out_reset(&o);

    assert_int_equal(milter_enc_unknown(&o, "VRFY x"), 0);
    expect_packet(&o, S("\0\0\0\x08"
                        "UVRFY x\0"));
    milter_out_reset(&o);

    /* Two packets one after the other in one buffer. */
    assert_int_equal(milter_enc_bare(&o, SMFIC_EOH), 0);
    assert_int_equal(milter_enc_bare(&o, SMFIC_BODYEOB), 0);
    expect_packet(&o, S("\0\0\0\x01N\0\0\0\x01"
                        "E"));
    milter_out_reset(&o);
    assert_int_equal(milter_enc_bare(&o, SMFIC_HELO), -1);
    assert_int_equal(o.len, 0);
    milter_out_clear(&o);
}

static void
test_caps(void **state)
{
    struct milter_out o;
    size_t big = MILTER_PACKET_MAX;
    char *p = calloc(1, big);

    (void)state;
    assert_non_null(p);
    milter_out_init(&o);
    /* The body chunk cap: 65535 octets, not one more. */
    assert_int_equal(milter_enc_body(&o, slice_make(p, MILTER_CHUNK_MAX)), 0);
    assert_int_equal(o.len, MILTER_LEN_BYTES + 1 + MILTER_CHUNK_MAX);
    assert_int_equal(milter_enc_body(&o, slice_make(p, MILTER_CHUNK_MAX + 1)), -1);
    assert_int_equal(o.len, MILTER_LEN_BYTES + 1 + MILTER_CHUNK_MAX);
    milter_out_reset(&o);
    /* A packet is at most MILTER_PACKET_MAX octets: a header that would pass it is refused. */
    memset(p, 'a', big);
    assert_int_equal(milter_enc_header(&o, slice_make("X", 1), slice_make(p, big - 4)), 0);
    assert_int_equal(o.len, MILTER_LEN_BYTES + big);
    milter_out_reset(&o);
    assert_int_equal(milter_enc_header(&o, slice_make("X", 1), slice_make(p, big - 3)), -1);
    assert_int_equal(o.len, 0);
    milter_out_clear(&o);
    free(p);
}

static void
test_frame(void **state)
{
    size_t len = 99;

    (void)state;
    assert_int_equal(milter_frame((const unsigned char *)"\0\0\0", 3, &len), MILTER_FRAME_MORE);
    assert_int_equal(milter_frame((const unsigned char *)"\0\0\0\x01", 4, &len), MILTER_FRAME_MORE);
    assert_int_equal(milter_frame((const unsigned char *)"\0\0\0\x01"
                                                         "c",
                                  5, &len),
                     MILTER_FRAME_OK);
    assert_int_equal(len, 1);
    assert_int_equal(milter_frame((const unsigned char *)"\0\0\0\x00"
                                                         "c",
                                  5, &len),
                     MILTER_FRAME_BAD);
    assert_int_equal(milter_frame((const unsigned char *)"\0\x10\0\x01", 4, &len),
                     MILTER_FRAME_BAD);
    assert_int_equal(milter_frame((const unsigned char *)"\0\x10\0\0", 4, &len),
                     MILTER_FRAME_MORE); /* exactly the cap: allowed, more to come */
    assert_int_equal(milter_frame((const unsigned char *)"\xff\xff\xff\xff", 4, &len),
                     MILTER_FRAME_BAD);
}

static const struct {
    const char *in;
    size_t len;
    int rc;
    char cmd;
    unsigned code;
    uint32_t index;
    const char *name;  /* or the text, or the body */
    const char *value; /* or a word of error */
} rows[] = {
    {S("a"), 0, SMFIR_ACCEPT, 0, 0, NULL, NULL},
    {S("c"), 0, SMFIR_CONTINUE, 0, 0, NULL, NULL},
    {S("d"), 0, SMFIR_DISCARD, 0, 0, NULL, NULL},
    {S("r"), 0, SMFIR_REJECT, 0, 0, NULL, NULL},
    {S("t"), 0, SMFIR_TEMPFAIL, 0, 0, NULL, NULL},
    {S("p"), 0, SMFIR_PROGRESS, 0, 0, NULL, NULL},
    {S("s"), 0, SMFIR_SKIP, 0, 0, NULL, NULL},
    {S("y550 5.7.1 Command rejected\0"), 0, SMFIR_REPLYCODE, 550, 0, "550 5.7.1 Command rejected",
     NULL},
    {S("y451-4.7.1 one\r\n451 4.7.1 two\0"), 0, SMFIR_REPLYCODE, 451, 0,
     "451-4.7.1 one\r\n451 4.7.1 two", NULL},
    {S("qheld by policy\0"), 0, SMFIR_QUARANTINE, 0, 0, "held by policy", NULL},
    {S("hX-Test\0yes\0"), 0, SMFIR_ADDHEADER, 0, 0, "X-Test", "yes"},
    {S("hX-Empty\0\0"), 0, SMFIR_ADDHEADER, 0, 0, "X-Empty", ""},
    {S("hDKIM-Signature\0v=1; a=rsa-sha256;\n\tb=abc\0"), 0, SMFIR_ADDHEADER, 0, 0,
     "DKIM-Signature", "v=1; a=rsa-sha256;\n\tb=abc"},
    {S("hX\0a\r\n b\0"), 0, SMFIR_ADDHEADER, 0, 0, "X", "a\r\n b"},
    {S("i\0\0\0\0DKIM-Signature\0v=1\0"), 0, SMFIR_INSHEADER, 0, 0, "DKIM-Signature", "v=1"},
    {S("m\0\0\0\x02Subject\0new\0"), 0, SMFIR_CHGHEADER, 0, 2, "Subject", "new"},
    {S("m\0\0\0\x01X-Old\0\0"), 0, SMFIR_CHGHEADER, 0, 1, "X-Old", ""},
    {S("bnew body\r\n\0binary"), 0, SMFIR_REPLBODY, 0, 0, "new body\r\n\0binary", NULL},
    {S("b"), 0, SMFIR_REPLBODY, 0, 0, "", NULL},

    /* Hostile: data where none belongs. */
    {S("ax"), -1, 0, 0, 0, NULL, "after"},
    {S("c\0"), -1, 0, 0, 0, NULL, "after"},
    /* REPLYCODE: NUL missing, NUL inside, not 4xx/5xx, no space, short, control characters. */
    {S("y550 5.7.1 no nul"), -1, 0, 0, 0, NULL, "NUL"},
    {S("y550 a\0b\0"), -1, 0, 0, 0, NULL, "after"},
    {S("y250 ok\0"), -1, 0, 0, 0, NULL, "4xx"},
    {S("y650 x\0"), -1, 0, 0, 0, NULL, "4xx"},
    {S("y55 x\0"), -1, 0, 0, 0, NULL, "4xx"},
    {S("y5x0 x\0"), -1, 0, 0, 0, NULL, "4xx"},
    {S("y550x\0"), -1, 0, 0, 0, NULL, "4xx"},
    {S("y550\0"), -1, 0, 0, 0, NULL, "4xx"},
    {S("y\0"), -1, 0, 0, 0, NULL, "4xx"},
    {S("y"), -1, 0, 0, 0, NULL, "NUL"},
    {S("y550 a\nb\0"), -1, 0, 0, 0, NULL, "control"},
    {S("y550 a\x1b[31m\0"), -1, 0, 0, 0, NULL, "control"},
    /* Headers: NUL missing, an index cut short, names outside the grammar, injection. */
    {S("hX-Test\0yes"), -1, 0, 0, 0, NULL, "NUL"},
    {S("hX-Test"), -1, 0, 0, 0, NULL, "NUL"},
    {S("h"), -1, 0, 0, 0, NULL, "NUL"},
    {S("hX\0a\0junk"), -1, 0, 0, 0, NULL, "after"},
    {S("h\0value\0"), -1, 0, 0, 0, NULL, "field-name"},
    {S("hX Test\0v\0"), -1, 0, 0, 0, NULL, "field-name"},
    {S("hX:Test\0v\0"), -1, 0, 0, 0, NULL, "field-name"},
    {S("hX\xc3\xa9\0v\0"), -1, 0, 0, 0, NULL, "field-name"},
    {S("hX\0a\r\nBcc: evil@example.net\0"), -1, 0, 0, 0, NULL, "line end"},
    {S("hX\0a\nBcc: x\0"), -1, 0, 0, 0, NULL, "line end"},
    {S("hX\0a\n\0"), -1, 0, 0, 0, NULL, "line end"},
    {S("hX\0a\r\0"), -1, 0, 0, 0, NULL, "line end"},
    {S("hX\0a\rb\0"), -1, 0, 0, 0, NULL, "line end"},
    {S("hX\0a\n\n body\0"), -1, 0, 0, 0, NULL, "line end"},
    {S("i\0\0\0"), -1, 0, 0, 0, NULL, "index"},
    {S("m\0\0"), -1, 0, 0, 0, NULL, "index"},
    {S("m\0\0\0\x01X\0"), -1, 0, 0, 0, NULL, "NUL"},
    /* QUARANTINE: NUL missing, control characters. */
    {S("qreason"), -1, 0, 0, 0, NULL, "NUL"},
    {S("qa\nb\0"), -1, 0, 0, 0, NULL, "control"},
    /* Actions we never offer, and commands that do not exist. */
    {S("+<x@example.net>\0"), -1, 0, 0, 0, NULL, "offer"},
    {S("-<x@example.net>\0"), -1, 0, 0, 0, NULL, "offer"},
    {S("2<x@example.net>\0\0"), -1, 0, 0, 0, NULL, "offer"},
    {S("e<x@example.net>\0"), -1, 0, 0, 0, NULL, "offer"},
    {S("4"), -1, 0, 0, 0, NULL, "unknown"},
    {S("f"), -1, 0, 0, 0, NULL, "unknown"},
    {S("Z"), -1, 0, 0, 0, NULL, "unknown"},
    {S("\0"), -1, 0, 0, 0, NULL, "unknown"},
    {S("\xff\xff\xff"), -1, 0, 0, 0, NULL, "unknown"},
    {S(""), -1, 0, 0, 0, NULL, "empty"},
};

static bool
slice_is(struct slice s, const char *want, size_t want_len)
{
    return s.len == want_len && memcmp(s.p, want, want_len) == 0;
}

static void
test_replies(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct milter_reply r;
        char err[200] = "";
        int rc = milter_reply_parse(slice_make(rows[i].in, rows[i].len), &r, err, sizeof(err));

        if (rc != rows[i].rc)
            fail_msg("row %zu: rc %d, want %d (%s)", i, rc, rows[i].rc, err);
        if (rc == -1) {
            if (strstr(err, rows[i].value) == NULL)
                fail_msg("row %zu: error \"%s\", want \"%s\" in it", i, err, rows[i].value);
            continue;
        }
        assert_int_equal(r.cmd, rows[i].cmd);
        switch (r.cmd) {
        case SMFIR_REPLYCODE:
            assert_int_equal(r.code, rows[i].code);
            assert_true(slice_is(r.text, rows[i].name, strlen(rows[i].name)));
            break;
        case SMFIR_QUARANTINE:
            assert_true(slice_is(r.text, rows[i].name, strlen(rows[i].name)));
            break;
        case SMFIR_ADDHEADER:
        case SMFIR_INSHEADER:
        case SMFIR_CHGHEADER:
            assert_int_equal(r.index, rows[i].index);
            assert_true(slice_is(r.name, rows[i].name, strlen(rows[i].name)));
            assert_true(slice_is(r.value, rows[i].value, strlen(rows[i].value)));
            break;
        case SMFIR_REPLBODY:
            assert_true(slice_is(r.body, rows[i].in + 1, rows[i].len - 1));
            break;
        default:
            break;
        }
    }
}

static void
test_optneg(void **state)
{
    struct milter_reply r;
    char err[200];

    (void)state;
    /* Plain: version, actions, protocol. */
    assert_int_equal(
        milter_reply_parse(slice_make(S("O\0\0\0\x06\0\0\0\x01\0\0\0\x42")), &r, err, sizeof(err)),
        0);
    assert_int_equal(r.cmd, SMFIC_OPTNEG);
    assert_int_equal(r.version, 6);
    assert_int_equal(r.actions, SMFIF_ADDHDRS);
    assert_int_equal(r.protocol, 0x42);
    for (size_t i = 0; i < MILTER_STAGE_COUNT; i++)
        assert_false(r.has_symlist[i]);
    /* With symbol lists for the connect and the end of message. */
    assert_int_equal(milter_reply_parse(slice_make(S("O\0\0\0\x06\0\0\x01\x01\0\0\0\0"
                                                     "\0\0\0\0{client_addr} j\0"
                                                     "\0\0\0\x05i\0")),
                                        &r, err, sizeof(err)),
                     0);
    assert_true(r.has_symlist[MILTER_STAGE_CONNECT]);
    assert_true(slice_is(r.symlist[MILTER_STAGE_CONNECT], S("{client_addr} j")));
    assert_true(r.has_symlist[MILTER_STAGE_EOM]);
    assert_true(slice_is(r.symlist[MILTER_STAGE_EOM], S("i")));
    assert_false(r.has_symlist[MILTER_STAGE_HELO]);
    assert_int_equal(
        milter_reply_parse(slice_make(S("l\0\0\0\x03{rcpt_addr}\0")), &r, err, sizeof(err)), 0);
    assert_true(r.has_symlist[MILTER_STAGE_RCPT]);

    /* Hostile: short, a list cut short, without its NUL, an unknown stage, a stage twice. */
    static const struct {
        const char *in;
        size_t len;
        const char *why;
    } bad[] = {
        {S("O"), "short"},
        {S("O\0\0\0\x06\0\0\0\x01\0\0\0"), "short"},
        {S("O\0\0\0\x06\0\0\0\x01\0\0\0\0\0\0"), "short stage"},
        {S("O\0\0\0\x06\0\0\0\x01\0\0\0\0\0\0\0\0j"), "NUL"},
        {S("O\0\0\0\x06\0\0\0\x01\0\0\0\0\0\0\0\x07j\0"), "unknown stage"},
        {S("O\0\0\0\x06\0\0\0\x01\0\0\0\0\0\0\0\x01j\0\0\0\0\x01i\0"), "twice"},
        {S("O\0\0\0\x06\0\0\0\x01\0\0\0\0\0\0\0\x01j\n\0"), "control"},
        {S("l"), "empty"},
        {S("l\0\0\0\x09j\0"), "unknown stage"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = milter_reply_parse(slice_make(bad[i].in, bad[i].len), &r, err, sizeof(err));

        if (rc != -1 || strstr(err, bad[i].why) == NULL)
            fail_msg("bad row %zu: rc %d, error \"%s\", want \"%s\"", i, rc, err, bad[i].why);
    }
}

/* Every encoded reply-shaped packet survives a decode: the round trip of the shared grammar. */
static void
test_round_trip(void **state)
{
    struct milter_out o;
    struct milter_reply r;
    char err[200];
    size_t len;

    (void)state;
    milter_out_init(&o);
    assert_int_equal(milter_enc_optneg(&o, 6, MILTER_ACTIONS, MILTER_PROTOCOL), 0);
    assert_int_equal(milter_frame((const unsigned char *)o.p, o.len, &len), MILTER_FRAME_OK);
    assert_int_equal(len + MILTER_LEN_BYTES, o.len);
    assert_int_equal(
        milter_reply_parse(slice_make(o.p + MILTER_LEN_BYTES, len), &r, err, sizeof(err)), 0);
    assert_int_equal(r.version, 6);
    assert_int_equal(r.actions, MILTER_ACTIONS);
    assert_int_equal(r.protocol, MILTER_PROTOCOL);
    /* Not offered: recipients, the sender, SMFIP_RCPT_REJ, leading spaces. */
    assert_int_equal(
        MILTER_ACTIONS & (SMFIF_ADDRCPT | SMFIF_DELRCPT | SMFIF_CHGFROM | SMFIF_ADDRCPT_PAR), 0);
    assert_int_equal(MILTER_PROTOCOL & (SMFIP_RCPT_REJ | SMFIP_HDR_LEADSPC), 0);
    milter_out_clear(&o);
}

static const struct {
    const char *in;
    size_t len;
    bool eof;
    enum milter_hdr_rc rc;
    const char *name;
    const char *value;
    size_t used;
} hdr_rows[] = {
    {S("Subject: hi\r\nTo: x\r\n"), false, MILTER_HDR_FIELD, "Subject", "hi", 13},
    {S("Subject:hi\r\n\r\n"), false, MILTER_HDR_FIELD, "Subject", "hi", 12},
    {S("Subject:  two\r\n\r\n"), false, MILTER_HDR_FIELD, "Subject", " two", 15},
    {S("Subject:\r\n\r\n"), false, MILTER_HDR_FIELD, "Subject", "", 10},
    {S("Subject: a\r\n b\r\n\tc\r\nTo: x\r\n"), false, MILTER_HDR_FIELD, "Subject",
     "a\r\n b\r\n\tc", 20},
    {S("Subject: lf\nTo: x\n"), false, MILTER_HDR_FIELD, "Subject", "lf", 12},
    /* Whether the next line folds is not known yet: more. */
    {S("Subject: hi\r\n"), false, MILTER_HDR_MORE, NULL, NULL, 0},
    {S("Subject: hi\r\n"), true, MILTER_HDR_FIELD, "Subject", "hi", 13},
    {S("Subject: h"), false, MILTER_HDR_MORE, NULL, NULL, 0},
    {S("Subj"), false, MILTER_HDR_MORE, NULL, NULL, 0},
    {S(""), false, MILTER_HDR_MORE, NULL, NULL, 0},
    {S("\r"), false, MILTER_HDR_MORE, NULL, NULL, 0},
    /* The end of the header section. */
    {S("\r\nbody"), false, MILTER_HDR_END, NULL, NULL, 2},
    {S("\nbody"), false, MILTER_HDR_END, NULL, NULL, 1},
    {S(""), true, MILTER_HDR_END, NULL, NULL, 0},
    /* Not a field: the body starts there, nothing consumed. */
    {S("no colon here\r\n"), false, MILTER_HDR_END, NULL, NULL, 0},
    {S("Bad Name: x\r\n"), false, MILTER_HDR_END, NULL, NULL, 0},
    {S(": x\r\n"), false, MILTER_HDR_END, NULL, NULL, 0},
    {S(" folded: first\r\n"), false, MILTER_HDR_END, NULL, NULL, 0},
    {S("Subj\xc3\xa9: x\r\n"), false, MILTER_HDR_END, NULL, NULL, 0},
};

static void
test_header_next(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(hdr_rows) / sizeof(hdr_rows[0]); i++) {
        struct slice name = {NULL, 0}, value = {NULL, 0};
        size_t used = 99;
        enum milter_hdr_rc rc = milter_header_next(slice_make(hdr_rows[i].in, hdr_rows[i].len),
                                                   hdr_rows[i].eof, &name, &value, &used);

        if (rc != hdr_rows[i].rc)
            fail_msg("row %zu: rc %d, want %d", i, (int)rc, (int)hdr_rows[i].rc);
        assert_int_equal(used, hdr_rows[i].used);
        if (rc == MILTER_HDR_FIELD) {
            if (!slice_is(name, hdr_rows[i].name, strlen(hdr_rows[i].name)) ||
                !slice_is(value, hdr_rows[i].value, strlen(hdr_rows[i].value)))
                fail_msg("row %zu: got \"%.*s\" \"%.*s\"", i, (int)name.len, name.p, (int)value.len,
                         value.p);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoders),    cmocka_unit_test(test_caps),
        cmocka_unit_test(test_frame),       cmocka_unit_test(test_replies),
        cmocka_unit_test(test_optneg),      cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_header_next),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
