/* SPDX-License-Identifier: MIT */
/*
 * Running nft commands through libnftables (firewall.h, firewall_nft): one
 * context per call, its output and its errors buffered, so that nothing is
 * printed and the caller gets nft's own words. Nothing is kept between
 * calls: a call is rare (a command, or one scanner blocked), and a context
 * holds a netlink socket and nft's caches that would go stale.
 */
#include <errno.h>
#include <string.h>

#include <nftables/libnftables.h>

#include "firewall/firewall.h"
#include "lib/str.h"

/* msg without its trailing newlines and blanks, into dst (capacity cap): nft ends with "\n". */
static void
firewall_trimmed(char *dst, size_t cap, const char *msg)
{
    size_t n = msg != NULL ? strlen(msg) : 0;

    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' ' || msg[n - 1] == '\t'))
        n--;
    if (n == 0) {
        (void)str_copyz(dst, cap, "nft failed without a message");
        return;
    }
    if (n >= cap)
        n = cap - 1; /* the start names the error; the rest is nft's context */
    memcpy(dst, msg, n);
    dst[n] = '\0';
}

int
firewall_nft(const char *commands, char *out, size_t outcap, char *err, size_t errcap)
{
    struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
    int rc = -1;

    if (out != NULL && outcap > 0)
        out[0] = '\0';
    if (nft == NULL) {
        (void)str_fmt(err, errcap, "cannot start libnftables: %s",
                      strerror(errno ? errno : ENOMEM));
        return -1;
    }
    if (nft_ctx_buffer_output(nft) != 0 || nft_ctx_buffer_error(nft) != 0) {
        (void)str_fmt(err, errcap, "cannot buffer libnftables' output");
        goto out;
    }
    if (nft_run_cmd_from_buffer(nft, commands) != 0) {
        firewall_trimmed(err, errcap, nft_ctx_get_error_buffer(nft));
        goto out;
    }
    if (out != NULL && outcap > 0) {
        const char *o = nft_ctx_get_output_buffer(nft);

        if (o != NULL && str_copyz(out, outcap, o) == -1) {
            (void)str_fmt(err, errcap, "nft's output is longer than %zu octets", outcap - 1);
            goto out;
        }
    }
    rc = 0;
out:
    nft_ctx_free(nft);
    return rc;
}
