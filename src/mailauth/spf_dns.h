/* SPDX-License-Identifier: MIT */
/*
 * The SPF evaluator's lookups done by src/dns on the daemon's loop: A and
 * AAAA through dns_a()/dns_addrs(), TXT through dns_txt(), MX through
 * dns_mx() and PTR through dns_ptr().
 */
#ifndef GATE26_MAILAUTH_SPF_DNS_H
#define GATE26_MAILAUTH_SPF_DNS_H

#include "mailauth/spf.h"

struct dns;

/* Fills *out with lookups through d (borrowed: it must outlive every
 * evaluation that uses *out). Cannot fail. */
void spf_dns_from(struct dns *d, struct spf_dns *out);

#endif
