/* SPDX-License-Identifier: MIT */
/*
 * Private to ctl/: the client end of the control socket, for the
 * command-line clients (`gate26 queue`, `gate26 unlock`).
 */
#ifndef GATE26_CTL_CALL_H
#define GATE26_CTL_CALL_H

/*
 * Connects to the control socket at path (SPOOL/control). Returns the
 * socket, or -1 with errno (ENOENT or ECONNREFUSED: no daemon answers).
 */
int ctl_connect(const char *path);

/*
 * Sends line (one request, ending in LF) to the control socket of the
 * daemon whose spool is spool_dir; prints the answer's body on standard
 * output, or its "error: ..." line on standard error after "gate26 PROG: ".
 * Returns the exit status: 0 when the daemon said ok, 1 when it said no,
 * is not running or the exchange failed.
 */
int ctl_call(const char *spool_dir, const char *prog, const char *line);

#endif
