/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the relay-auth file's parser (conf/relay_auth.c),
 * which reads a hand-written file holding a password. Any broken invariant
 * aborts: a file that parses gave one user of 1 to 255 octets without ':',
 * blanks or controls, and a password of 1 to 255 octets without controls,
 * not starting or ending in a blank, both found on one line of the input; a
 * refused one has a message "ra:LINE: ..." with LINE within the file (or
 * "ra: ..." when it holds no entry), fields wiped, and never the password.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/relay_auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

/* True when "user:password" is a line of text (len octets). */
static bool
has_line(const char *text, size_t len, const char *user, const char *password)
{
    size_t ul = strlen(user), pl = strlen(password);

    for (size_t i = 0; i + ul + 1 + pl <= len; i++) {
        if ((i == 0 || text[i - 1] == '\n') && memcmp(text + i, user, ul) == 0 &&
            text[i + ul] == ':' && memcmp(text + i + ul + 1, password, pl) == 0 &&
            (i + ul + 1 + pl == len || text[i + ul + 1 + pl] == '\n'))
            return true;
    }
    return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct conf_relay_auth a;
    char err[512] = "";
    size_t lines = 1, ul, pl;

    memset(&a, 'x', sizeof(a));
    for (size_t i = 0; i < size; i++)
        lines += text[i] == '\n';
    if (conf_relay_auth_parse("ra", text, size, &a, err, sizeof(err)) == -1) {
        CHECK(strncmp(err, "ra:", 3) == 0);
        if (err[3] != ' ') {
            char *end;
            unsigned long line = strtoul(err + 3, &end, 10);

            CHECK(end != err + 3 && *end == ':' && line >= 1 && line <= lines);
        }
        CHECK(a.user[0] == '\0' && a.password[0] == '\0');
        return 0;
    }
    CHECK(err[0] == '\0');
    ul = strnlen(a.user, sizeof(a.user));
    pl = strnlen(a.password, sizeof(a.password));
    CHECK(ul >= 1 && ul <= CONF_RELAY_AUTH_MAX && pl >= 1 && pl <= CONF_RELAY_AUTH_MAX);
    for (size_t i = 0; i < ul; i++)
        CHECK((unsigned char)a.user[i] > ' ' && a.user[i] != ':' && a.user[i] != 0x7f);
    for (size_t i = 0; i < pl; i++)
        CHECK((unsigned char)a.password[i] >= ' ' && a.password[i] != 0x7f);
    CHECK(a.password[0] != ' ' && a.password[pl - 1] != ' ');
    CHECK(has_line(text, size, a.user, a.password));
    return 0;
}
