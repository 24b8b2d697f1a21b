/* SPDX-License-Identifier: MIT */
/* SipHash-2-4 against the paper's vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/siphash.h"

/* SipHash-2-4 vectors of the paper (key 00..0f, messages 00, 00 01, ...). */
static void
test_siphash(void **state)
{
    unsigned char key[16], msg[64];

    (void)state;
    for (int i = 0; i < 16; i++)
        key[i] = (unsigned char)i;
    for (int i = 0; i < 64; i++)
        msg[i] = (unsigned char)i;
    assert_int_equal(siphash24(key, msg, 0), UINT64_C(0x726fdb47dd0e0e31));
    assert_int_equal(siphash24(key, msg, 15), UINT64_C(0xa129ca6149be45e5));
    /* Another seed, another hash. */
    key[0] ^= 1;
    assert_int_not_equal(siphash24(key, msg, 15), UINT64_C(0xa129ca6149be45e5));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_siphash),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
