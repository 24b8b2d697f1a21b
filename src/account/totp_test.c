/* SPDX-License-Identifier: MIT */
/*
 * HOTP with RFC 4226 appendix D's values, TOTP with RFC 6238 appendix B's
 * SHA1 values, the window and the replay rule, hostile codes, base32 with
 * RFC 4648 10's vectors and hostile text, and the otpauth:// URI.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "account/account.h"

static const unsigned char rfc_key[] = "12345678901234567890"; /* 20 octets, RFC 4226 D */
#define RFC_KEY_LEN 20

/* RFC 4226 appendix D: HOTP(K, C) for C = 0..9, 6 digits. */
static void
test_hotp_rfc4226(void **state)
{
    static const uint32_t want[] = {755224, 287082, 359152, 969429, 338314,
                                    254676, 287922, 162583, 399871, 520489};

    (void)state;
    for (uint64_t c = 0; c < 10; c++)
        assert_int_equal(totp_hotp(rfc_key, RFC_KEY_LEN, c, 6), want[c]);
}

/* RFC 6238 appendix B, the SHA1 rows: 8 digits, and their last 6 through totp_verify. */
static const struct {
    int64_t time;
    uint32_t totp8;
    const char *code6;
} rfc6238[] = {
    {59, 94287082, "287082"},         {1111111109, 7081804, "081804"},
    {1111111111, 14050471, "050471"}, {1234567890, 89005924, "005924"},
    {2000000000, 69279037, "279037"}, {20000000000, 65353130, "353130"},
};

static void
test_totp_rfc6238(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rfc6238) / sizeof(rfc6238[0]); i++) {
        int64_t step = -5;

        assert_int_equal(totp_hotp(rfc_key, RFC_KEY_LEN, (uint64_t)(rfc6238[i].time / 30), 8),
                         rfc6238[i].totp8);
        assert_true(
            totp_verify(rfc_key, RFC_KEY_LEN, rfc6238[i].code6, rfc6238[i].time, -1, &step));
        assert_int_equal(step, rfc6238[i].time / 30);
    }
}

/* One step either side is accepted, two are not. */
static void
test_totp_window(void **state)
{
    const int64_t t = 1234567890; /* step 41152263, code 005924 */
    int64_t step;

    (void)state;
    assert_true(totp_verify(rfc_key, RFC_KEY_LEN, "005924", t + 30, -1, &step));
    assert_int_equal(step, t / 30);
    assert_true(totp_verify(rfc_key, RFC_KEY_LEN, "005924", t - 30, -1, &step));
    assert_false(totp_verify(rfc_key, RFC_KEY_LEN, "005924", t + 60, -1, &step));
    assert_false(totp_verify(rfc_key, RFC_KEY_LEN, "005924", t - 60, -1, &step));
}

/* A code is good once: not at its own step again, nor once a later step was used. */
static void
test_totp_replay(void **state)
{
    const int64_t t = 1234567890, s = t / 30;
    int64_t step = 0;

    (void)state;
    assert_true(totp_verify(rfc_key, RFC_KEY_LEN, "005924", t, s - 1, &step));
    assert_false(totp_verify(rfc_key, RFC_KEY_LEN, "005924", t, s, &step));
    assert_false(totp_verify(rfc_key, RFC_KEY_LEN, "005924", t, s + 1, &step));
    assert_false(totp_verify(rfc_key, RFC_KEY_LEN, "005924", t + 30, s, &step));
}

/* Hostile codes: wrong length, non-digits, signs, blanks, a NUL inside, a wrong value. */
static void
test_totp_hostile_codes(void **state)
{
    static const char *const bad[] = {
        "",        "00592",  "0059240", "00592a", "+05924", "-05924",  " 005924",      "005924 ",
        "00 5924", "0x5924", "٠٠٥٩٢٤",  "005925", "999999", "00592\n", "５５５５５５",
    };
    int64_t step = 77;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(totp_verify(rfc_key, RFC_KEY_LEN, bad[i], 1234567890, -1, &step));
        assert_int_equal(step, 77); /* untouched */
    }
    assert_false(totp_verify(rfc_key, RFC_KEY_LEN, NULL, 1234567890, -1, &step));
    assert_false(totp_verify(rfc_key, RFC_KEY_LEN, "005924", -1, -1, &step));
    assert_false(totp_verify(rfc_key, TOTP_SECRET_MAX + 1, "005924", 1234567890, -1, &step));
}

/* RFC 4648 10: the test vectors, encoded with padding and without, and decoded. */
static const struct {
    const char *plain, *padded, *bare;
} b32[] = {
    {"", "", ""},
    {"f", "MY======", "MY"},
    {"fo", "MZXQ====", "MZXQ"},
    {"foo", "MZXW6===", "MZXW6"},
    {"foob", "MZXW6YQ=", "MZXW6YQ"},
    {"fooba", "MZXW6YTB", "MZXW6YTB"},
    {"foobar", "MZXW6YTBOI======", "MZXW6YTBOI"},
};

static void
test_base32_rfc4648(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(b32) / sizeof(b32[0]); i++) {
        char text[32];
        unsigned char out[16];
        size_t n = 99, len = strlen(b32[i].plain);

        assert_int_equal(
            totp_base32_encode((const unsigned char *)b32[i].plain, len, true, text, sizeof(text)),
            0);
        assert_string_equal(text, b32[i].padded);
        assert_int_equal(
            totp_base32_encode((const unsigned char *)b32[i].plain, len, false, text, sizeof(text)),
            0);
        assert_string_equal(text, b32[i].bare);
        assert_int_equal(
            totp_base32_decode(b32[i].padded, strlen(b32[i].padded), out, sizeof(out), &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(out, b32[i].plain, len);
        assert_int_equal(totp_base32_decode(b32[i].bare, strlen(b32[i].bare), out, sizeof(out), &n),
                         0);
        assert_int_equal(n, len);
        assert_memory_equal(out, b32[i].plain, len);
    }
}

/* As people type it: lower case, spaces anywhere. */
static void
test_base32_typed(void **state)
{
    static const char *const ok[] = {"mzxw6ytboi", "MZXW 6YTB OI", " mzXw6yTbOi ",
                                     "MZXW6YTBOI======", "mzxw6ytb oi===== ="};
    unsigned char out[16];
    size_t n;

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(totp_base32_decode(ok[i], strlen(ok[i]), out, sizeof(out), &n), 0);
        assert_int_equal(n, 6);
        assert_memory_equal(out, "foobar", 6);
    }
}

/* Hostile base32: bad characters, bad lengths, padding in the middle or too much, unused
 * bits set, output over the capacity. */
static void
test_base32_hostile(void **state)
{
    static const struct {
        const char *text;
        int err;
    } bad[] = {
        {"M", EINVAL},    {"MZX", EINVAL},          {"MZXW6Y", EINVAL},
        {"MZ0W", EINVAL}, {"MZ1W", EINVAL},         {"MZ8W", EINVAL},
        {"MZ-W", EINVAL}, {"MZ\tW", EINVAL},        {"MY==MY==", EINVAL},
        {"MY=", EINVAL},  {"MY=======", EINVAL},    {"MZ", EINVAL},
        {"MZXR", EINVAL}, {"========", EINVAL},     {"MZXW6YTBOJ", EINVAL},
        {"é", EINVAL},    {"MZXW6YTB\nOI", EINVAL},
    };
    unsigned char out[16];
    size_t n;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errno = 0;
        assert_int_equal(totp_base32_decode(bad[i].text, strlen(bad[i].text), out, sizeof(out), &n),
                         -1);
        assert_int_equal(errno, bad[i].err);
    }
    errno = 0;
    assert_int_equal(totp_base32_decode("MZXW6YTBOI", 10, out, 5, &n), -1);
    assert_int_equal(errno, EMSGSIZE);
    /* And the encoder's capacity. */
    {
        char small[11];

        assert_int_equal(
            totp_base32_encode((const unsigned char *)"foobar", 6, false, small, sizeof(small) - 1),
            -1);
        assert_int_equal(
            totp_base32_encode((const unsigned char *)"foobar", 6, false, small, sizeof(small)), 0);
    }
}

static void
test_uri(void **state)
{
    char uri[TOTP_URI_CAP];

    (void)state;
    assert_int_equal(totp_uri("alice@example.com", rfc_key, RFC_KEY_LEN, uri, sizeof(uri)), 0);
    assert_string_equal(uri, "otpauth://totp/gate26:alice%40example.com?"
                             "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=gate26");
    /* Characters that would end the label or start the query are escaped. */
    assert_int_equal(totp_uri("a?b&c#d/e%", rfc_key, RFC_KEY_LEN, uri, sizeof(uri)), 0);
    assert_non_null(strstr(uri, "gate26:a%3Fb%26c%23d%2Fe%25?secret="));
    assert_int_equal(totp_uri("alice", rfc_key, RFC_KEY_LEN, uri, 40), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hotp_rfc4226),
        cmocka_unit_test(test_totp_rfc6238),
        cmocka_unit_test(test_totp_window),
        cmocka_unit_test(test_totp_replay),
        cmocka_unit_test(test_totp_hostile_codes),
        cmocka_unit_test(test_base32_rfc4648),
        cmocka_unit_test(test_base32_typed),
        cmocka_unit_test(test_base32_hostile),
        cmocka_unit_test(test_uri),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
