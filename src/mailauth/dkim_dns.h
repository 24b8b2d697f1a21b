/* SPDX-License-Identifier: MIT */
/*
 * DKIM's key lookups (struct dkim_dns, the TXT record at
 * SELECTOR._domainkey.DOMAIN, RFC 6376 3.6.2) done by src/dns's dns_txt()
 * on the daemon's loop.
 */
#ifndef GATE26_MAILAUTH_DKIM_DNS_H
#define GATE26_MAILAUTH_DKIM_DNS_H

#include "mailauth/dkim.h"

struct dns;

/*
 * Fills *out with lookups through d (borrowed: it must outlive every
 * verifier that uses *out). Cannot fail. What the verifier is told:
 * - one TXT record: its text;
 * - several (RFC 6376 3.6.2.2: "undefined results"): the first, in the
 *   answer's order, that dkim_key_parse() accepts; if none does, the first
 *   (so the verifier reports why it is no key). dkimpy takes the first
 *   record whatever it holds, OpenDKIM refuses the answer
 *   (DKIM_STAT_MULTIDNSREPLY); a stray TXT record beside the key (a site
 *   verification token) is common enough that neither helps;
 * - NODATA and NXDOMAIN: DKIM_DNS_NOTFOUND (permerror no-key), as is a name
 *   src/dns refuses (answered at once);
 * - a temporary failure or a lookup cancelled by dns_free(): DKIM_DNS_TEMPFAIL.
 */
void dkim_dns_from(struct dns *d, struct dkim_dns *out);

#endif
