/* SPDX-License-Identifier: MIT */
/*
 * The judgements of gate26 audit that need no system (private to
 * src/audit; judge.c, tested by judge_test.c): is an address public, is a
 * network too wide, is a hash weak, are a file's owner and mode bad, is a
 * certificate near its end, what the daemon's scanner table says, and
 * whether the daemon runs the installed binary. docs/check.md, "gate26
 * audit", gives each rule and why.
 */
#ifndef GATE26_AUDIT_JUDGE_H
#define GATE26_AUDIT_JUDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "conf/conf.h"

/*
 * True when a listener on addr (4 or 16 octets of family) can be reached
 * from the Internet: not loopback and not private (RFC 1918, 100.64/10,
 * link-local, fc00::/7, and the same inside ::ffff:0:0/96). The unspecified
 * address (0.0.0.0, ::) takes every interface's, so it is public.
 */
bool audit_addr_is_public(int family, const unsigned char *addr);

enum audit_net {
    AUDIT_NET_OK,
    AUDIT_NET_WIDE,     /* IPv4 shorter than /16, IPv6 shorter than /48 */
    AUDIT_NET_EVERYONE, /* 0.0.0.0/0, ::/0, ::ffff:0:0/96 or shorter */
};

/* How wide an allow network is; an IPv4-mapped IPv6 one is judged as its IPv4 network. */
enum audit_net audit_net_judge(const struct conf_cidr *n);

/* The fewest rounds= of a sha512-crypt hash ($6$) that count as strong. */
#define AUDIT_SHA512_MIN_ROUNDS 100000
/* The lowest bcrypt cost that counts as strong. */
#define AUDIT_BCRYPT_MIN_COST 10

enum audit_hash {
    AUDIT_HASH_STRONG,  /* yescrypt, gost-yescrypt, scrypt; bcrypt >= 10; $6$ rounds >= 100000 */
    AUDIT_HASH_WEAK,    /* accepted by gate26, but cheap to guess: $6$ (default 5000 rounds) */
    AUDIT_HASH_REFUSED, /* a method gate26 refuses at load (DES, MD5, $5$, $2a$, ...) */
};

/*
 * Judges the hash of one password file entry (what follows "user:"; a
 * locked entry's leading '!' is skipped, its hash still judged). why gets
 * the method and, for a weak one, its cost ("sha512-crypt, 5000 rounds").
 */
enum audit_hash audit_hash_judge(const char *hash, char *why, size_t cap);

/* What is wrong with a secret file's owner and mode (bits of audit_perm_judge). */
#define AUDIT_PERM_OTHER_WRITE 0x01u /* o+w */
#define AUDIT_PERM_GROUP_WRITE 0x02u /* g+w */
#define AUDIT_PERM_OTHER_READ  0x04u /* o+r */
#define AUDIT_PERM_GROUP_READ  0x08u /* g+r for a group other than root's and the gateway's */
#define AUDIT_PERM_OWNER       0x10u /* owned by neither root nor the gateway's user */

/* The gateway's user (conf `user`), when there is one. */
struct audit_ids {
    bool has_user;
    uid_t uid;
    gid_t gid; /* its primary group */
};

/* The problems (AUDIT_PERM_* bits, 0: none) of a file of mode, uid and gid. */
unsigned audit_perm_judge(mode_t mode, uid_t uid, gid_t gid, const struct audit_ids *gw);

/* How many days before notAfter a certificate is a warning. */
#define AUDIT_CERT_DAYS 30

enum audit_cert {
    AUDIT_CERT_OK,
    AUDIT_CERT_EXPIRING, /* within AUDIT_CERT_DAYS days */
    AUDIT_CERT_EXPIRED,
};

enum audit_cert audit_cert_judge(time_t not_after, time_t now);

/* What `scanners-json` says about the last day (docs/scanners.md, "gate26 scanners"). */
struct audit_scanners {
    size_t listed;               /* sources in the document (the daemon lists its busiest) */
    size_t sources;              /* sources whose last_seen is within 24 hours */
    unsigned long long mirai;    /* their Mirai SYNs */
    unsigned long long sessions; /* their scanner sessions, all kinds */
    char busiest[64];            /* the address with the most Mirai SYNs and sessions */
};

/* A source seen this long ago or less counts. */
#define AUDIT_SCANNERS_WINDOW (24 * 3600)

/*
 * Reads the scanners-json document (text, len octets) and counts into out
 * the sources seen since now - AUDIT_SCANNERS_WINDOW. Returns 0, or -1
 * with why (not JSON, no sources array, a source without its fields or
 * with a last_seen that is not YYYY-MM-DDTHH:MM:SSZ).
 */
int audit_scanners_judge(const char *text, size_t len, time_t now, struct audit_scanners *out,
                         char *why, size_t cap);

/* "2026-12-07T01:02:03Z" to a time_t; -1 when it is not exactly that shape. */
int audit_parse_utc(const char *s, time_t *out);

enum audit_exe {
    AUDIT_EXE_SAME,
    AUDIT_EXE_DELETED, /* the file it runs was replaced or removed since it started */
    AUDIT_EXE_OTHER,   /* it runs another file than the installed binary */
};

/*
 * The daemon's binary against the installed one: link is what
 * /proc/PID/exe reads, run_dev/run_ino what stat() of it gives, inst_* the
 * installed binary's.
 */
enum audit_exe audit_exe_judge(const char *link, dev_t run_dev, ino_t run_ino, dev_t inst_dev,
                               ino_t inst_ino);

#endif
