/* SPDX-License-Identifier: MIT */
/*
 * Watching the doors (docs/watch.md): what the daemon sees, said in the
 * forms the monitoring world reads, and acted on. The stages tell
 * watch_note() what happened (a connection, a reply, a message, a login, a
 * delivery); the watcher counts it for the Prometheus metrics (metrics.c),
 * for `gate26 status` (window.c) and for the alert rules (alert.c), which
 * may then notify (notify_*.c) and hold mail (watch_hold()).
 *
 * Events carry no peer bytes: the client is its address, the user a login
 * the password file knows, a reason one word of ours. A metric never gets
 * a client, user, sender or domain as a label; windows and alerts keep them
 * as keys in tables of bounded size.
 *
 * Threads: the loop's only. Every function takes w NULL (no watcher: tests,
 * tools) and then does nothing.
 */
#ifndef GATE26_WATCH_WATCH_H
#define GATE26_WATCH_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "conf/conf.h"

struct watch;
struct event_base;
struct spool;

/*
 * The watcher of the daemon, on base, under c (a reference is taken).
 * Free with watch_free(); NULL: nothing.
 */
struct watch *watch_new(struct event_base *base, struct conf *c);
void watch_free(struct watch *w);

/* A reload: the new configuration (its rules, its metrics block) from now on. */
void watch_set_conf(struct watch *w, struct conf *c);

/*
 * The metrics endpoint of c's metrics block (docs/metrics.md), in two
 * steps, as a start and a reload need them: watch_metrics_prepare() binds
 * the addresses c adds (as the caller is: before privileges drop at start)
 * and checks that each can be bound (a port below 1024 not bound at start
 * cannot be after the switch to `user`); it changes nothing that serves.
 * Returns 0, or -1 with "FILE:LINE: ..." in err (capacity errcap) and
 * nothing changed. Then watch_metrics_commit() serves c's addresses with
 * c's allow list and credentials and closes what c no longer names, or
 * watch_metrics_abort() goes back to how it was. Addresses that stay keep
 * their socket. c without a metrics block closes the endpoint.
 */
int watch_metrics_prepare(struct watch *w, struct conf *c, char *err, size_t errcap);
void watch_metrics_commit(struct watch *w);
void watch_metrics_abort(struct watch *w);

/* Closes the endpoint and its connections (the daemon stops; watch_free() does it too). */
void watch_metrics_close(struct watch *w);

/* What became of a connection at a door (gate26_connections_total{result}). */
enum watch_connect {
    WATCH_CONNECT_ACCEPTED,     /* a session starts (the greeting follows) */
    WATCH_CONNECT_DENIED,       /* allow/deny lists: 554 5.7.1 */
    WATCH_CONNECT_CLIENT_LIMIT, /* max-sessions-per-client, connection-rate: 421 4.7.0 */
    WATCH_CONNECT_CAPACITY,     /* max-sessions (door or all), the client table: 421 4.3.2 */
    WATCH_CONNECT_LOCKOUT,      /* a session ended by an AUTH lockout (454, then closed) */
    WATCH_CONNECT_SCANNER,      /* `scanners refuse`: a fingerprinted source, closed unanswered */
    WATCH_CONNECT_PROXY_ERROR,  /* proxy-protocol: the header missing, wrong or late; closed */
    WATCH_CONNECT_COUNT,
};

/* What became of an AUTH exchange (gate26_auth_total{result}). */
enum watch_auth {
    WATCH_AUTH_SUCCESS, /* 235 */
    WATCH_AUTH_FAILURE, /* 535 or a malformed or cancelled exchange: one failed attempt */
    WATCH_AUTH_LOCKED,  /* 454: refused because the client or the user is locked */
    WATCH_AUTH_COUNT,
};

/* What became of one recipient's delivery attempt (gate26_deliveries_total{result}). */
enum watch_delivery {
    WATCH_DELIVERY_SENT,     /* the next hop took it */
    WATCH_DELIVERY_DEFERRED, /* temporary: it stays queued */
    WATCH_DELIVERY_BOUNCED,  /* permanent, or given up: a DSN goes to the sender */
    WATCH_DELIVERY_COUNT,
};

/*
 * What a scanner did (docs/scanners.md, "What is counted"): a captured SYN
 * (MIRAI: IPv4, sequence number == destination address; PLAIN: any other),
 * or a session that was not SMTP (the rest, gate26_scanner_sessions_total).
 */
enum watch_scan {
    WATCH_SCAN_MIRAI,  /* a Mirai-fingerprinted SYN */
    WATCH_SCAN_PLAIN,  /* any other SYN (alone it makes no row: every client sends them) */
    WATCH_SCAN_SILENT, /* a session that ended (EOF or timeout) before any command line */
    WATCH_SCAN_HTTP,   /* an HTTP request line before EHLO/HELO */
    WATCH_SCAN_TLS,    /* a TLS ClientHello on a plain door */
    WATCH_SCAN_SSH,    /* an SSH banner */
    WATCH_SCAN_PROXY,  /* a PROXY header from a client the door does not list */
    WATCH_SCAN_BINARY, /* control or 8-bit octets before EHLO/HELO */
    WATCH_SCAN_COUNT,
};

/* The first scanner session kind (gate26_scanner_sessions_total{kind} counts from it). */
#define WATCH_SCAN_SESSION_FIRST WATCH_SCAN_SILENT
#define WATCH_SCAN_SESSIONS      (WATCH_SCAN_COUNT - WATCH_SCAN_SESSION_FIRST)

/* "mirai", "plain", "silent", "http", "tls", "ssh", "proxy", "binary"; NULL when out of range. */
const char *watch_scan_name(enum watch_scan kind);

enum watch_kind {
    WATCH_CONNECT,  /* connect: a connection at a door and what became of it */
    WATCH_CLOSE,    /* a session that was WATCH_CONNECT_ACCEPTED has ended */
    WATCH_REPLY,    /* code, reason: every reply to a client, after the greeting */
    WATCH_MESSAGE,  /* size: a message accepted (its 250 after the data is written) */
    WATCH_AUTH,     /* auth, mechanism: an AUTH exchange ended */
    WATCH_DELIVERY, /* delivery, domain, seconds: one recipient's attempt ended */
    WATCH_SCANNER,  /* scan, port: a captured SYN, or a session that was not SMTP */
    WATCH_KIND_COUNT,
};

/* One event; pointers are borrowed for the call. */
struct watch_event {
    enum watch_kind kind;
    /* The session's, for every kind but WATCH_DELIVERY. A SYN (WATCH_SCANNER, MIRAI or
       PLAIN) is given the door that listens on its port by watch_note(); DOOR_ROLE_COUNT
       when no door does (26, or a port of watch { ports }). */
    enum door_role door;
    int family;                /* AF_INET or AF_INET6: the client's address at addr */
    const unsigned char *addr; /* 4 or 16 octets */
    const char *user;          /* the authenticated user (AUTH: the name tried), or NULL */
    /* By kind. */
    enum watch_connect connect;
    enum watch_auth auth;
    const char *mechanism; /* WATCH_AUTH: "PLAIN", "LOGIN", or NULL before one was named */
    unsigned code;         /* WATCH_REPLY: 250, 550, ... */
    const char *reason;    /* WATCH_REPLY: the reply's name (smtp_reply_name), one word */
    uint64_t size;         /* WATCH_MESSAGE: octets of content received */
    enum watch_delivery delivery;
    const char *domain;   /* WATCH_DELIVERY: the recipient's domain, lower case */
    double seconds;       /* WATCH_DELIVERY: how long the attempt took */
    enum watch_scan scan; /* WATCH_SCANNER: what the scanner did */
    unsigned port;        /* WATCH_SCANNER: the destination port (a SYN's; a session's door) */
};

/*
 * Counts ev in the metrics, the status windows and the alert rules (which
 * may fire: a notification is started, never waited for). Cheap: a few
 * table updates; nothing here blocks or allocates per event beyond a
 * bounded table's entry.
 */
void watch_note(struct watch *w, const struct watch_event *ev);

/*
 * For a message from this client (and user, NULL without AUTH) on door,
 * asked when its envelope is written (smtp/content.c, at DATA or the first
 * BDAT: the schedule record is in it): true when a firing alert with
 * `action hold` covers it; then the message is to be queued on hold, and
 * why (the rule and its key, "alert compromised-host, client 10.0.0.7",
 * at most CAP_HOLD_REASON octets) goes into reason (capacity cap; "" when
 * false) for the envelope and `gate26 queue list`.
 */
bool watch_hold(struct watch *w, enum door_role door, int family, const unsigned char *addr,
                const char *user, char *reason, size_t cap);

/* ---- Scanners (scanner.c; docs/scanners.md) ---- */

/*
 * `scanners refuse` (door->scanners_refuse), asked by the listener for each
 * accepted connection before its session starts, with the client's address
 * as the listener knows it (4 or 16 octets; an IPv4-mapped IPv6 address is
 * given as IPv4). True when the door refuses scanners and the source has a
 * Mirai SYN in the scanner table: then the connection is to be closed at
 * once without a reply; it has been counted (gate26_connections_total
 * {result="scanner"}) and logged (event=scanner-refused, once per source
 * per hour). False otherwise (and for w NULL).
 */
bool watch_scanner_refuse(struct watch *w, const struct conf_listen *door, int family,
                          const unsigned char *addr);

/*
 * Who blocks a source (the daemon: sensor_block()), called when a source
 * sends its first Mirai SYN (first since it entered the scanner table) and
 * the configuration has watch { block-scanners DURATION }: ttl is that
 * duration in seconds. NULL: nobody.
 */
typedef void watch_block_fn(void *arg, int family, const unsigned char *addr, unsigned ttl);
void watch_set_blocker(struct watch *w, watch_block_fn *fn, void *arg);

/*
 * What the sensor captures on now ("any", an interface name; NULL or "":
 * no capture), asked when `gate26 scanners` asks (the capture may come and
 * go: a capture error is retried). The string is read during the call
 * only. fn NULL: no capture.
 */
typedef const char *watch_capture_fn(void *arg);
void watch_set_capture(struct watch *w, watch_capture_fn *fn, void *arg);

/*
 * What `gate26 scanners` shows (docs/scanners.md): the JSON document, at
 * most top sources (most Mirai SYNs plus sessions first) and top /24 (IPv6:
 * /64) networks, with the capture (null when none) and the table's size. A
 * heap string the caller frees; NULL when out of memory (w NULL: an empty
 * document).
 */
char *watch_scanners_json(struct watch *w, size_t top);

/* ---- `gate26 status` (window.c; docs/watch.md, "gate26 status") ---- */

/* The spans a status count covers. */
enum watch_span {
    WATCH_SPAN_MINUTE, /* the current second and the 59 before it */
    WATCH_SPAN_HOUR,   /* the current minute and the 59 before it */
    WATCH_SPAN_START,  /* since the watcher was made (the daemon's start) */
    WATCH_SPAN_COUNT,
};

/* What a door saw over one span. */
struct watch_counts {
    uint64_t connections;   /* every WATCH_CONNECT but WATCH_CONNECT_LOCKOUT (counted accepted) */
    uint64_t messages;      /* WATCH_MESSAGE: messages accepted */
    uint64_t refusals;      /* WATCH_REPLY with a code from 400 to 599 */
    uint64_t auth_failures; /* WATCH_AUTH with WATCH_AUTH_FAILURE */
};

/* The clients a door lists, busiest first (its table holds more: window.c). */
#define WATCH_TOP_CLIENTS 5

/* One client of a door over the last hour. */
struct watch_client_count {
    int family;             /* AF_INET, or AF_INET6 for a /64 */
    unsigned char addr[16]; /* 4 octets, or the /64's 8 and 8 zeros */
    uint64_t messages;      /* accepted from it */
    uint64_t refusals;      /* replies from 400 to 599 it was given */
};

struct watch_door_status {
    bool listening;         /* the running configuration has a listen block for it */
    uint64_t sessions_open; /* accepted and not yet ended */
    struct watch_counts span[WATCH_SPAN_COUNT];
    size_t n_top;
    struct watch_client_count top[WATCH_TOP_CLIENTS]; /* by messages + refusals, then messages */
};

/* What `gate26 status` shows that the watcher knows (the queue is the scheduler's). */
struct watch_status {
    const char *hostname;    /* the running configuration's (borrowed: until watch_set_conf) */
    uint64_t uptime_seconds; /* since the watcher was made */
    struct watch_door_status door[DOOR_ROLE_COUNT];
    uint64_t deliveries[WATCH_SPAN_COUNT][WATCH_DELIVERY_COUNT]; /* recipients, by outcome */
};

/* Fills out with the counts as of now. w NULL: all zero, hostname "". */
void watch_status(struct watch *w, struct watch_status *out);

/* The minutes of a door's day series: the last 24 hours (the last hour is its last 60). */
#define WATCH_SERIES_MINUTES 1440

/* What a door saw in each of the last WATCH_SERIES_MINUTES minutes, oldest first. */
struct watch_door_series {
    uint32_t connections[WATCH_SERIES_MINUTES]; /* as struct watch_counts counts them */
    uint32_t messages[WATCH_SERIES_MINUTES];
    uint32_t refusals[WATCH_SERIES_MINUTES];
    uint32_t auth_failures[WATCH_SERIES_MINUTES]; /* each saturates at UINT32_MAX */
};

/* The console's charts (`series-json`, docs/watch.md). */
struct watch_series {
    /* Milliseconds since the newest minute (the last entry) began: minutes follow the
       monotonic clock from its origin, not the wall clock's whole minutes. */
    uint64_t into_minute_ms;
    struct watch_door_series door[DOOR_ROLE_COUNT];
};

/*
 * Fills out (about 90 KiB: the caller's, on the heap) with the per-minute
 * counts of the last 24 hours as of now. w NULL: all zero.
 */
void watch_series(struct watch *w, struct watch_series *out);

/* ---- Alerts (alert.c; docs/watch.md, "Alerts") ---- */

/*
 * The spool the `mail` action queues its messages in (borrowed; it outlives
 * the watcher's use of it: call watch_set_spool(w, NULL) before freeing
 * it). NULL: mail actions are logged as not sent.
 */
void watch_set_spool(struct watch *w, struct spool *sp);

/* The queue as the scheduler knows it, for `when queue` rules. */
struct watch_queue {
    size_t messages; /* queued now */
    time_t oldest;   /* arrival of the oldest (seconds since the epoch); 0: none */
};

/* Fills *out; called once a second on the loop. */
typedef void watch_queue_fn(void *arg, struct watch_queue *out);

/* Who tells the watcher about the queue (the daemon, from the scheduler). NULL: nobody. */
void watch_set_queue(struct watch *w, watch_queue_fn *fn, void *arg);

/*
 * Stops what the alerts have running (webhooks in flight, programs, the
 * baselines file's writer), saves the baselines a last time, and lets go of
 * the spool. For the daemon's stop, before the spool is freed; watch_free()
 * does it too if it was not done.
 */
void watch_stop(struct watch *w);

/* A key of an alert rule that fires now (`gate26 status`). Valid during the call. */
struct watch_alert {
    const char *rule;   /* the rule's name */
    const char *when;   /* "failed-auth", "spike", ... (conf_alert_when_name) */
    const char *key;    /* printable ASCII: "192.0.2.7", "2001:db8:1:2::/64", "alice", "submission",
                           "all", "example.com" (deferred), a certificate's path (tls-expiry) */
    time_t since;       /* when it started firing (seconds since the epoch) */
    int64_t value;      /* what it fired with: a count, messages, seconds (queue age, or seconds
                           left before a certificate's notAfter: negative once past it) */
    uint64_t threshold; /* the threshold it crossed (spike: factor x baseline, or min) */
};

typedef void watch_alert_fn(void *arg, const struct watch_alert *a);

/*
 * Calls fn (NULL: none) for each key firing now, rule by rule in the order
 * of the configuration. Returns how many keys fire (`gate26 status` exits 1
 * when it is not 0).
 */
size_t watch_alerts_firing(struct watch *w, watch_alert_fn *fn, void *arg);

/* One firing or resolution, as the alert history keeps it. Valid during the call. */
struct watch_alert_event {
    time_t time;      /* when (seconds since the epoch) */
    const char *rule; /* the rule's name */
    enum conf_alert_when when;
    const char *key; /* as in the log line (a key of 256 octets or more is cut: "...") */
    int64_t value;   /* as the log line's */
    uint64_t threshold;
    unsigned window; /* seconds; 0 for polled rules */
    bool firing;     /* false: resolved */
    int door;        /* the door of the event that made it fire; -1: none */
};

typedef void watch_alert_event_fn(void *arg, const struct watch_alert_event *e);

/*
 * The history (docs/watch.md, "History"): the last 1000 firings and
 * resolutions since the daemon's start (the log keeps the rest), newest
 * first, each to fn. Returns how many.
 */
size_t watch_alert_history(struct watch *w, watch_alert_event_fn *fn, void *arg);

struct json_t;

/*
 * The rules as the daemon runs them (the running configuration's, after
 * reloads), as a JSON array (a new reference; NULL when out of memory):
 * name, when, threshold, window, per, doors, and by kind factor, baseline,
 * age, within; hold; notify {webhooks, mails, execs}. A webhook is shown
 * as its scheme, host and port only (its path, query and credentials often
 * hold its secret). w NULL: an empty array.
 */
struct json_t *watch_alert_rules_json(struct watch *w);

#endif
