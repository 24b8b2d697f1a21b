/* SPDX-License-Identifier: MIT */
/*
 * gate26 audit [-c FILE] [--json] [--binary PATH]: the periodic security
 * review in one command (docs/check.md, "gate26 audit"). Reads the
 * configuration and the live system and reports findings, each with a
 * stable id (audit.*, and check.* for gate26 check --local's), a level and
 * a one-line fix, in gate26 check's table or JSON, with its exit statuses.
 */
#ifndef GATE26_AUDIT_AUDIT_H
#define GATE26_AUDIT_AUDIT_H

/*
 * argv after "audit" (argv[0] is "audit"); default_conf unless -c FILE.
 * Returns the exit status: 0 ok (info counts as ok), 1 a warning, 2 a
 * critical finding, 3 a usage error (an unknown option, a FILE that cannot
 * be read), 4 the audit could not run (the configuration has an error: its
 * FILE:LINE: message on standard error).
 */
int audit_main(int argc, char **argv, const char *default_conf);

#endif
