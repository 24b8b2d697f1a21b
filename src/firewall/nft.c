/* SPDX-License-Identifier: MIT */
/*
 * firewall_nft(): nft commands through libnftables (firewall.h), with its
 * output and errors buffered rather than printed. Placeholder of the
 * firewall branch: the sensor branch's copy of this file wins at merge.
 */
#include <nftables/libnftables.h>
#include <string.h>

#include "firewall/firewall.h"
#include "lib/str.h"

/* Copies text into dst (capacity cap), cut at cap and without its trailing newlines. */
static void
copy_out(char *dst, size_t cap, const char *text)
{
    size_t len = text != NULL ? strlen(text) : 0;

    if (dst == NULL || cap == 0)
        return;
    while (len > 0 && text[len - 1] == '\n')
        len--;
    (void)str_copy(dst, cap, len > 0 ? text : "", len < cap ? len : cap - 1);
}

int
firewall_nft(const char *commands, char *out, size_t outcap, char *err, size_t errcap)
{
    struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    int rc;

    if (out != NULL && outcap > 0)
        out[0] = '\0';
    if (ctx == NULL) {
        (void)str_copyz(err, errcap, "libnftables: cannot make a context");
        return -1;
    }
    if (nft_ctx_buffer_output(ctx) != 0 || nft_ctx_buffer_error(ctx) != 0) {
        nft_ctx_free(ctx);
        (void)str_copyz(err, errcap, "libnftables: cannot buffer its output");
        return -1;
    }
    rc = nft_run_cmd_from_buffer(ctx, commands);
    copy_out(out, outcap, nft_ctx_get_output_buffer(ctx));
    if (rc != 0) {
        const char *e = nft_ctx_get_error_buffer(ctx);

        copy_out(err, errcap, e != NULL && e[0] != '\0' ? e : "nft failed without a message");
    }
    nft_ctx_free(ctx);
    return rc == 0 ? 0 : -1;
}
