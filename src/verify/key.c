/* SPDX-License-Identifier: MIT */
/*
 * The address as a key, for the list files and the callout cache alike
 * (docs/verify.md): a quoted local part is the same mailbox as its
 * unquoted text (RFC 5321 4.1.2, Quoted-string is only syntax), and case is
 * ignored in ASCII letters, the local part's too. RFC 5321 2.4 lets a
 * server tell local parts apart by case, but the servers behind a gateway
 * do not, and a case-sensitive cache would let one mailbox be probed in
 * every spelling of its case. Octets above 0x7f stay as they are.
 */
#include <string.h>
#include <strings.h>

#include "lib/str.h"
#include "verify/verify_impl.h"

/*
 * The unquoted text of a local part (len octets) into out (capacity
 * cap). Returns its length, or -1 when it does not fit or a quoted string
 * is cut (the session's parser has checked the grammar already).
 */
static long
key_local(const char *p, size_t len, char *out, size_t cap)
{
    size_t o = 0;

    if (len >= 2 && p[0] == '"' && p[len - 1] == '"') {
        /* Quoted-string = DQUOTE *QcontentSMTP DQUOTE; quoted-pairSMTP = "\" %d32-126 */
        for (size_t i = 1; i + 1 < len; i++) {
            if (p[i] == '\\') {
                if (++i + 1 >= len)
                    return -1;
            }
            if (o == cap)
                return -1;
            out[o++] = p[i];
        }
        return (long)o;
    }
    if (len > cap)
        return -1;
    memcpy(out, p, len);
    return (long)len;
}

size_t
verify_key(const char *addr, size_t len, size_t local_len, char *out)
{
    long l;
    size_t dl;

    if (local_len == 0 || local_len + 1 >= len || addr[local_len] != '@' || len > VERIFY_KEY_MAX)
        return 0;
    l = key_local(addr, local_len, out, CAP_LOCAL_PART);
    if (l <= 0)
        return 0;
    dl = len - local_len; /* '@' and the domain */
    memcpy(out + l, addr + local_len, dl);
    out[(size_t)l + dl] = '\0';
    str_lower(out, (size_t)l + dl);
    return (size_t)l + dl;
}

bool
verify_is_postmaster(const char *local, size_t len)
{
    char out[CAP_LOCAL_PART];
    long l = key_local(local, len, out, sizeof(out));

    /* RFC 5321 4.5.1: "Postmaster" in any case (2.4: this one is case-insensitive). */
    return l == 10 && strncasecmp(out, "postmaster", 10) == 0;
}
