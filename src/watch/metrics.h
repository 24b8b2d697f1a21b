/* SPDX-License-Identifier: MIT */
/*
 * The Prometheus metrics of gate26 (docs/metrics.md): one fixed table of
 * families (name, help, type, label names, bounded label values), their
 * counters and histograms in fixed arrays of the process, and the text
 * exposition in the Prometheus format 0.0.4 and OpenMetrics 1.0.
 *
 * What the watcher's events say (connections, sessions, replies and
 * refusals, messages, logins, deliveries) is counted by watch_metrics_note()
 * (watch_impl.h); what only the metrics need is counted by the calls below,
 * made where it happens: commands by verb (smtp/command.c), bytes received
 * and TLS handshakes (smtp/session.c, smtp/starttls.c), spool commit
 * batches and their latency (spool/commit.c), DNS lookups (dns/dns.c),
 * alerts firing (watch/alert.c). Gauges that belong to other stages (the
 * queue, our certificates) are read at scrape time through the sources the
 * daemon registers (metrics_source()).
 *
 * Every count is an array increment: no allocation, no lock, no system
 * call. Labels take values from bounded sets only; a client address, user,
 * sender or domain is never one.
 *
 * Threads: the loop's only (the spool's commit thread reports through the
 * loop, and is measured there).
 */
#ifndef GATE26_WATCH_METRICS_H
#define GATE26_WATCH_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"

struct evbuffer;

/* The SMTP verbs, as the label verb of gate26_commands_total says them. */
enum metrics_verb {
    METRICS_VERB_HELO,
    METRICS_VERB_EHLO,
    METRICS_VERB_MAIL,
    METRICS_VERB_RCPT,
    METRICS_VERB_DATA,
    METRICS_VERB_BDAT,
    METRICS_VERB_RSET,
    METRICS_VERB_NOOP,
    METRICS_VERB_QUIT,
    METRICS_VERB_VRFY,
    METRICS_VERB_EXPN,
    METRICS_VERB_HELP,
    METRICS_VERB_STARTTLS,
    METRICS_VERB_AUTH,
    METRICS_VERB_ETRN,
    METRICS_VERB_UNKNOWN, /* "unknown": any other verb, or a line that is not a command */
    METRICS_VERB_COUNT,
};

/* How a DNS lookup ended (gate26_dns_lookups_total{result}); as dns_status_name() says it. */
enum metrics_dns {
    METRICS_DNS_OK,
    METRICS_DNS_NODATA,
    METRICS_DNS_NXDOMAIN,
    METRICS_DNS_NULLMX,
    METRICS_DNS_TEMPFAIL,
    METRICS_DNS_COUNT,
};

/* How dns/cache.c answered a lookup (gate26_dns_cache_total{result}). */
enum metrics_dns_cache {
    METRICS_DNS_CACHE_HIT,  /* "hit": answered from the cache, no query */
    METRICS_DNS_CACHE_MISS, /* "miss": asked of the resolver */
    METRICS_DNS_CACHE_COUNT,
};

/* A message from gate26 sendmail (gate26_local_submissions_total{via,result}; pickup.h). */
enum metrics_local_via {
    METRICS_LOCAL_SOCKET,   /* "socket": the local submission socket */
    METRICS_LOCAL_MAILDROP, /* "maildrop": a file the daemon picked up */
    METRICS_LOCAL_VIA_COUNT,
};
enum metrics_local_result {
    METRICS_LOCAL_QUEUED,   /* "queued": durable in the spool (or a milter's discard) */
    METRICS_LOCAL_DEFERRED, /* "deferred": not queued now (the spool, a check's tempfail) */
    METRICS_LOCAL_REFUSED,  /* "refused": for good (too large, bad content, a check) */
    METRICS_LOCAL_RESULT_COUNT,
};

/* ---- Counted where it happens ---- */

/* One command line from a client on door (not the lines of an AUTH exchange, nor content). */
void metrics_command(enum door_role door, enum metrics_verb verb);

/*
 * A reply written to a client on door other than through smtp_reply() (the
 * EHLO reply): counted in gate26_replies_total by its class. Replies
 * through smtp_reply() are counted from the watcher's WATCH_REPLY.
 */
void metrics_reply(enum door_role door, unsigned code);

/* n octets read from a client on door (after TLS: what the session reads). */
void metrics_received(enum door_role door, size_t n);

/* A TLS handshake with a client on door finished; version as OpenSSL says it ("TLSv1.3"). */
void metrics_tls_handshake(enum door_role door, const char *version);

/* A session on door whose TLS handshake never finished (refused, broken, timed out). */
void metrics_tls_failure(enum door_role door);

/* The spool's commit thread took a batch of n messages (counted as it reports, on the loop). */
void metrics_commit_batch(size_t n);

/* A message's commit took this long, from spool_msg_commit() to its callback. */
void metrics_commit_latency(double seconds);

/*
 * A content check on door ended with result (gate26_checks_total): check one
 * of dnsbl dnswl spf greylist dkim dmarc antivirus spam milter, result one of
 * pass fail softfail neutral none temperror permerror policy listed
 * not-listed defer skip clean infected error timeout ham header quarantine
 * reject accept tempfail discard (others are not counted).
 */
void metrics_check(enum door_role door, const char *check, const char *result);

/* The checks decided a message on door: accept reject tempfail quarantine discard. */
void metrics_check_decision(enum door_role door, const char *decision);

/* A local submission ended with result. */
void metrics_local_submit(enum metrics_local_via via, enum metrics_local_result result);

/* A DNS lookup ended with result. */
void metrics_dns_lookup(enum metrics_dns result);

/* A lookup with the DNS cache on was a hit or a miss (dns/cache.c). */
void metrics_dns_cache(enum metrics_dns_cache result);

/*
 * The alert rules the configuration has now (names borrowed for the call;
 * at most METRICS_RULES_MAX, longer names than METRICS_RULE_NAME_MAX are
 * cut): each gets a gate26_alerts_firing{rule} sample, 0 until it fires.
 * Rules no longer named are dropped; a rule that stays keeps its count.
 * Called by the alert part at start and at each reload.
 */
#define METRICS_RULES_MAX     256
#define METRICS_RULE_NAME_MAX 64
void metrics_alert_rules(const char *const *names, size_t n);

/*
 * The number of keys of rule firing now changes by delta (+1 when a key
 * starts firing, -1 when it clears). A rule not declared by
 * metrics_alert_rules() is added (while there is room); the count never
 * goes below 0.
 */
void metrics_alert_firing(const char *rule, int delta);

/* The source addresses in the scanner table now (gate26_scanner_sources; watch/scanner.c). */
void metrics_scanner_sources(size_t n);

/* ---- Read at scrape time ---- */

/* Gauges whose value another stage knows; the daemon registers how to read each. */
enum metrics_source {
    METRICS_SOURCE_QUEUE_MESSAGES,      /* gate26_queue_messages */
    METRICS_SOURCE_QUEUE_OLDEST_AGE,    /* gate26_queue_oldest_message_age_seconds */
    METRICS_SOURCE_QUEUE_DEFERRED,      /* gate26_queue_deferred_messages */
    METRICS_SOURCE_TLS_CERT_EXPIRY,     /* gate26_tls_certificate_expiry_timestamp_seconds */
    METRICS_SOURCE_QUARANTINE_MESSAGES, /* gate26_quarantine_messages */
    METRICS_SOURCE_TRACKING_EVENTS,     /* gate26_tracking_events_total (a counter) */
    METRICS_SOURCE_TRACKING_DROPPED,    /* gate26_tracking_dropped_total (a counter) */
    METRICS_SOURCE_COUNT,
};

/* Writes the value into *out and returns true, or returns false: no sample now. */
typedef bool metrics_read_fn(void *arg, double *out);

/* From now on the gauge of source is read with fn(arg) (NULL: no sample). */
void metrics_source(enum metrics_source source, metrics_read_fn *fn, void *arg);

/*
 * The process_* families read /proc/self/fd, which a process that switched
 * to its user may no longer open: call this before privileges drop (it
 * opens the directory once and keeps it, and notes the start time).
 * Idempotent; without it process_open_fds has no sample.
 */
void metrics_process_init(void);

/* ---- Exposition ---- */

enum metrics_format {
    METRICS_FORMAT_TEXT,        /* Prometheus text format 0.0.4 */
    METRICS_FORMAT_OPENMETRICS, /* OpenMetrics 1.0 */
};

/* The Content-Type of a scrape in format. */
const char *metrics_content_type(enum metrics_format format);

/*
 * Appends every family to out in format (an OpenMetrics scrape ends in
 * "# EOF"). Bounded work: the families are fixed, the dynamic label sets
 * (refusal reasons, alert rules) capped. Returns 0, or -1 when out could
 * not grow (out of memory; out holds a part).
 */
int metrics_write(struct evbuffer *out, enum metrics_format format);

/* Every count back to zero and the alert rules and sources forgotten (unit tests). */
void metrics_reset(void);

#endif
