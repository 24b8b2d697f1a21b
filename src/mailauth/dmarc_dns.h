/* SPDX-License-Identifier: MIT */
/*
 * DMARC's policy lookups (struct dmarc_dns, TXT only) done by src/dns's
 * dns_txt() on the daemon's loop.
 */
#ifndef GATE26_MAILAUTH_DMARC_DNS_H
#define GATE26_MAILAUTH_DMARC_DNS_H

#include "mailauth/dmarc.h"

struct dns;

/* Fills *out with lookups through d (borrowed: it must outlive every
 * evaluation that uses *out). Cannot fail. */
void dmarc_dns_from(struct dns *d, struct dmarc_dns *out);

#endif
