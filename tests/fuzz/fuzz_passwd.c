/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the password file's parser (auth/db.c), which reads
 * a hand-written file. auth_db_parse is the loader without the dummy hash
 * (one hash computation per input would slow the fuzzer a hundredfold).
 * Any broken invariant aborts: a file that loads has valid, sorted, unique
 * user names and hashes of the accepted shape (a locked entry's after its
 * '!'); a refused one has a message
 * "pw:LINE: ..." with LINE within the file.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    char err[512] = "";
    struct auth_db *db = auth_db_parse("pw", text, size, NULL, err, sizeof(err));
    size_t lines = 1;

    for (size_t i = 0; i < size; i++)
        lines += text[i] == '\n';
    if (db == NULL) {
        unsigned long line;
        char *end;

        CHECK(strncmp(err, "pw:", 3) == 0);
        line = strtoul(err + 3, &end, 10);
        CHECK(end != err + 3 && *end == ':' && line >= 1 && line <= lines);
        return 0;
    }
    CHECK(err[0] == '\0' && db->dummy == NULL);
    for (size_t i = 0; i < db->n; i++) {
        const struct auth_entry *e = &db->entries[i];

        CHECK(auth_is_user_name(e->user, strlen(e->user)));
        CHECK(e->hash[0] == '$' && strchr(e->hash, ':') == NULL);
        /* "user:!hash" is a locked entry: the hash is what follows the '!'. */
        CHECK(e->hash[-1] == (e->locked ? '!' : '\0'));
        CHECK(e->line >= 1 && e->line <= lines);
        CHECK(i == 0 || strcmp(db->entries[i - 1].user, e->user) < 0);
    }
    auth_db_unref(db);
    return 0;
}
