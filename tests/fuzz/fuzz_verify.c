/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the list files of verify-recipients (verify/file.c),
 * which an admin or an export script writes, and for the address key
 * (verify/key.c), which is made from what clients send. Any broken
 * invariant aborts: a file that loads holds at most one entry a line, each
 * a lower-case key without blanks or controls that the list then finds; a
 * refused one has "list:LINE: ..." with LINE within the file. A key is
 * never longer than its address, has no upper-case ASCII letter, and is
 * local@domain.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verify/verify_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

static void
check_key(const char *text, size_t size)
{
    const char *at = size > 0 ? memchr(text, '@', size) : NULL;
    char out[VERIFY_KEY_MAX + 1];
    size_t n;

    if (at == NULL)
        return;
    /* The last '@' separates the domain, as in a parsed address. */
    while (memchr(at + 1, '@', size - (size_t)(at + 1 - text)) != NULL)
        at = memchr(at + 1, '@', size - (size_t)(at + 1 - text));
    n = verify_key(text, size, (size_t)(at - text), out);
    if (n == 0)
        return;
    CHECK(n <= size && out[n] == '\0' && memchr(out, '@', n) != NULL);
    for (size_t i = 0; i < n; i++)
        CHECK(!(out[i] >= 'A' && out[i] <= 'Z'));
    (void)verify_is_postmaster(text, (size_t)(at - text));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    char err[1024] = "";
    struct verify_list *l = verify_list_parse("list", text, size, err, sizeof(err));
    size_t lines = 1;

    check_key(text, size);
    for (size_t i = 0; i < size; i++)
        lines += text[i] == '\n';
    if (l == NULL) {
        unsigned long line;
        char *end;

        CHECK(strncmp(err, "list:", 5) == 0);
        line = strtoul(err + 5, &end, 10);
        CHECK(end != err + 5 && *end == ':' && line >= 1 && line <= lines);
        return 0;
    }
    CHECK(verify_list_count(l) <= lines);
    /* Each line that holds a plain lower-case entry and nothing else is found. */
    for (size_t at = 0; at < size;) {
        const char *nl = memchr(text + at, '\n', size - at);
        size_t n = nl != NULL ? (size_t)(nl - (text + at)) : size - at;
        bool plain = n > 0 && n <= VERIFY_KEY_MAX && text[at] != '#';

        for (size_t i = 0; i < n && plain; i++) {
            unsigned char ch = (unsigned char)text[at + i];

            plain = ch > 0x20 && ch < 0x7f && !(ch >= 'A' && ch <= 'Z');
        }
        if (plain && text[at + n - 1] != '.')
            CHECK(verify_list_has(l, text + at, n));
        at += n + 1;
    }
    verify_list_free(l);
    return 0;
}
