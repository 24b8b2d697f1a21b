/* SPDX-License-Identifier: MIT */
/*
 * firewall_installed(): the configuration hash of the table inet gate26
 * this host runs, read from the table's comment (`gate26 config
 * sha256=HEX`), so that `gate26 audit` can tell a table older than the
 * configuration file. libnftables is asked in terse mode: the sets' elements
 * (however many scanners block-scanners added) are not listed, so the
 * answer stays small.
 */
#include <nftables/libnftables.h>
#include <stdbool.h>
#include <string.h>

#include "firewall/firewall.h"
#include "lib/str.h"

#define SHA256_HEX_LEN 64

int
firewall_listed_hash(const char *listing, char *hex, size_t cap)
{
    /* nft prints the table's comment on the line after its header:
     * "table inet gate26 {\n\tcomment \"gate26 config sha256=HEX\"\n" */
    static const char head[] = "table " FIREWALL_TABLE " {\n\tcomment \"" FIREWALL_COMMENT;
    const char *p;
    size_t i;

    hex[0] = '\0';
    if (strncmp(listing, head, sizeof head - 1) != 0)
        return 1;
    p = listing + sizeof head - 1;
    for (i = 0; i < SHA256_HEX_LEN; i++) {
        bool digit = p[i] >= '0' && p[i] <= '9', lower = p[i] >= 'a' && p[i] <= 'f';

        if (!digit && !lower)
            return 1;
    }
    if (p[i] != '"')
        return 1;
    (void)str_copy(hex, cap, p, SHA256_HEX_LEN);
    return 1;
}

/* Whether a line of `list tables inet` names our table. */
static bool
lists_table(const char *tables)
{
    static const char line[] = "table " FIREWALL_TABLE;

    for (const char *p = tables; p != NULL && *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);

        if (len == sizeof line - 1 && memcmp(p, line, len) == 0)
            return true;
        p = nl != NULL ? nl + 1 : NULL;
    }
    return false;
}

/* Runs cmd; 0 with its output in *out (owned by ctx), or -1 with nft's error in err. */
static int
run(struct nft_ctx *ctx, const char *cmd, const char **out, char *err, size_t errcap)
{
    if (nft_run_cmd_from_buffer(ctx, cmd) != 0) {
        const char *e = nft_ctx_get_error_buffer(ctx);
        size_t len = e != NULL ? strlen(e) : 0;

        while (len > 0 && e[len - 1] == '\n')
            len--;
        if (len == 0)
            (void)str_fmt(err, errcap, "nft %s failed without a message", cmd);
        else
            (void)str_copy(err, errcap, e, len < errcap ? len : errcap - 1);
        return -1;
    }
    *out = nft_ctx_get_output_buffer(ctx);
    return 0;
}

int
firewall_installed(char *hex, size_t cap, char *err, size_t errcap)
{
    struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    const char *out = NULL;
    int rc = -1;

    hex[0] = '\0';
    if (ctx == NULL) {
        (void)str_copyz(err, errcap, "libnftables: cannot make a context");
        return -1;
    }
    nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_TERSE);
    if (nft_ctx_buffer_output(ctx) != 0 || nft_ctx_buffer_error(ctx) != 0) {
        (void)str_copyz(err, errcap, "libnftables: cannot buffer its output");
    } else if (run(ctx, "list tables inet", &out, err, errcap) == 0) {
        /* Asking for the table itself when there is none is an error (ENOENT) that nft words
         * like any other; the list of tables tells "none" apart from "cannot ask". */
        if (!lists_table(out))
            rc = 0;
        else if (run(ctx, "list table " FIREWALL_TABLE, &out, err, errcap) == 0)
            rc = firewall_listed_hash(out != NULL ? out : "", hex, cap);
    }
    nft_ctx_free(ctx);
    return rc;
}
