/* SPDX-License-Identifier: MIT */
/*
 * The parts of gate26 audit (private to src/audit). Each adds its findings
 * (check/check.h's, each with a fix) to f; none fails: what cannot be
 * looked at becomes an info finding that says so.
 *
 *   doors.c   the configuration's doors: public without TLS, AUTH where TLS is
 *             optional, the internal door's allow list, port 26 without AUTH
 *   files.c   the certificates (expiry, hostname) and the password file
 *             (owner, mode, weak hashes)
 *   live.c    the running system: the firewall table, the daemon's binary,
 *             the scanners it saw, gate26 check --local's findings, and AUTH
 *             offered in clear on a door (an EHLO to each plain door)
 *   audit.c   the command line and the report
 */
#ifndef GATE26_AUDIT_AUDIT_IMPL_H
#define GATE26_AUDIT_AUDIT_IMPL_H

#include <stdbool.h>
#include <time.h>

#include "audit/judge.h"
#include "check/check.h"
#include "conf/conf.h"

void audit_doors(const struct conf *c, struct check_findings *f);
void audit_certs(const struct conf *c, time_t now, struct check_findings *f);
void audit_passwd(const struct conf *c, const struct audit_ids *gw, struct check_findings *f);

/* The SHA-256 of the file's bytes as 64 hex digits (hex: 65 octets); -1 with errno. */
int audit_file_sha256(const char *path, char hex[65]);
void audit_firewall(const struct conf *c, struct check_findings *f);
/* binary: the installed gate26 (--binary), or NULL: this process's own (/proc/self/exe). */
void audit_daemon(const struct conf *c, const char *binary, struct check_findings *f);
void audit_scanners(const struct conf *c, time_t now, struct check_findings *f);
/* gate26 check --local -c conf_path, in-process; its findings as check.ID. */
void audit_local(const char *conf_path, struct check_findings *f);
/* EHLO on each door that is not implicit TLS: AUTH offered before TLS is critical. */
void audit_auth_probe(const struct conf *c, struct check_findings *f);

#endif
