/* SPDX-License-Identifier: MIT */
/* Message tracking in the serve process (tracking.c; docs/console.md, "Message tracking"). */
#ifndef GATE26_DAEMON_TRACKING_H
#define GATE26_DAEMON_TRACKING_H

#include "conf/conf.h"
#include "sched/sched.h"
#include "smtp/smtp.h"
#include "spool/spool.h"

/*
 * Opens, keeps or closes SPOOL/tracking.db as c says (tracking { enabled,
 * keep }), and tells the sessions (env->track), the scheduler and the
 * spool's quarantine hook. Run as the user (the file is theirs), at start
 * and at each reload. A store that cannot be opened is logged and
 * retried by its writer; mail never waits for it.
 */
void daemon_track_apply(struct smtp_env *env, struct sched *sched, struct spool *sp,
                        const struct conf *c);

/* Writes what is noted, closes, and forgets it everywhere (at stop). */
void daemon_track_close(struct smtp_env *env, struct sched *sched, struct spool *sp);

#endif
