/* SPDX-License-Identifier: MIT */
/*
 * The metrics part of the watcher: the family table, the counts, and the
 * exposition (metrics.h, docs/metrics.md).
 *
 * Formats: the Prometheus text format 0.0.4 (# HELP and # TYPE lines, then
 * "name{label="value",...} value" lines) and OpenMetrics 1.0 (the same
 * lines, but a counter's family is named without its _total suffix in # HELP
 * and # TYPE, # HELP escapes '"' too, the build information is an info
 * family, and the exposition ends in "# EOF"). Label values escape '\', '"'
 * and line feed, and are UTF-8: an octet that is a control character or not
 * part of well-formed UTF-8 (RFC 3629 4) is written '?'.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "lib/str.h"
#include "watch/metrics.h"
#include "watch/watch_impl.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Refusal reasons are reply names (smtp_reply_name): about 80 today. */
#define METRICS_REASONS_MAX     128
#define METRICS_REASON_NAME_MAX 48
/* Buckets of a histogram, +Inf included. */
#define METRICS_BUCKETS_MAX 16

/* ---- Label values ---- */

static const char *const door_values[] = {"inbound", "internal", "submission", "submissions"};
_Static_assert(N_OF(door_values) == DOOR_ROLE_COUNT, "a door without a label value");

static const char *const connect_values[] = {"accepted", "denied",  "client_limit", "capacity",
                                             "lockout",  "scanner", "proxy_error"};
_Static_assert(N_OF(connect_values) == WATCH_CONNECT_COUNT, "a connection result without a name");

static const char *const verb_values[] = {"HELO",     "EHLO", "MAIL", "RCPT",   "DATA", "BDAT",
                                          "RSET",     "NOOP", "QUIT", "VRFY",   "EXPN", "HELP",
                                          "STARTTLS", "AUTH", "ETRN", "unknown"};
_Static_assert(N_OF(verb_values) == METRICS_VERB_COUNT, "a verb without a label value");

static const char *const class_values[] = {"2xx", "3xx", "4xx", "5xx"};

enum mech { MECH_PLAIN, MECH_LOGIN, MECH_NONE, MECH_OTHER, MECH_COUNT };
static const char *const mech_values[] = {"PLAIN", "LOGIN", "none", "other"};
_Static_assert(N_OF(mech_values) == MECH_COUNT, "a mechanism without a label value");

static const char *const auth_values[] = {"success", "failure", "locked"};
_Static_assert(N_OF(auth_values) == WATCH_AUTH_COUNT, "an AUTH result without a name");

enum tlsv { TLSV_13, TLSV_12, TLSV_OTHER, TLSV_COUNT };
static const char *const tlsv_values[] = {"TLSv1.3", "TLSv1.2", "other"};
_Static_assert(N_OF(tlsv_values) == TLSV_COUNT, "a TLS version without a label value");

static const char *const delivery_values[] = {"sent", "deferred", "bounced"};
_Static_assert(N_OF(delivery_values) == WATCH_DELIVERY_COUNT, "a delivery result without a name");

static const char *const dns_values[] = {"ok", "nodata", "nxdomain", "nullmx", "tempfail"};
/* gate26_checks_total's check and result labels (docs/checks.md, "Logs and metrics"). */
static const char *const check_values[] = {"dnsbl", "dnswl",     "spf",  "greylist", "dkim",
                                           "dmarc", "antivirus", "spam", "milter"};
static const char *const check_result_values[] = {
    "pass",   "fail",       "softfail",   "neutral", "none",   "temperror", "permerror", "policy",
    "listed", "not-listed", "defer",      "skip",    "clean",  "infected",  "error",     "timeout",
    "ham",    "header",     "quarantine", "reject",  "accept", "tempfail",  "discard"};
static const char *const decision_values[] = {"accept", "reject", "tempfail", "quarantine",
                                              "discard"};
_Static_assert(N_OF(dns_values) == METRICS_DNS_COUNT, "a DNS result without a name");

static const char *const dns_cache_values[] = {"hit", "miss"};
_Static_assert(N_OF(dns_cache_values) == METRICS_DNS_CACHE_COUNT, "a cache result without a name");

static const char *const local_via_values[] = {"socket", "maildrop"};
static const char *const local_result_values[] = {"queued", "deferred", "refused"};
_Static_assert(N_OF(local_via_values) == METRICS_LOCAL_VIA_COUNT, "a way in without a name");
_Static_assert(N_OF(local_result_values) == METRICS_LOCAL_RESULT_COUNT, "a result without a name");

static const char *const version_values[] = {GATE26_VERSION};

/* gate26_scanner_syns_total{kind} and gate26_scanner_sessions_total{kind}: watch_scan's names. */
static const char *const syn_values[] = {"mirai", "plain"};
static const char *const scan_session_values[] = {"silent", "http",  "tls",
                                                  "ssh",    "proxy", "binary"};
_Static_assert(N_OF(scan_session_values) == WATCH_SCAN_SESSIONS, "a session kind without a name");

/* ---- The counts ---- */

struct hist {
    uint64_t bucket[METRICS_BUCKETS_MAX]; /* observations in each bucket alone (not cumulative) */
    uint64_t count;
    double sum;
};

static const double delivery_bounds[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
static const double commit_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                       0.05,   0.1,   0.25,   0.5,   1,    2.5};
static const double batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
_Static_assert(N_OF(delivery_bounds) < METRICS_BUCKETS_MAX, "too many buckets");
_Static_assert(N_OF(commit_bounds) < METRICS_BUCKETS_MAX, "too many buckets");
_Static_assert(N_OF(batch_bounds) < METRICS_BUCKETS_MAX, "too many buckets");

struct source {
    metrics_read_fn *fn;
    void *arg;
};

static struct state {
    uint64_t connections[DOOR_ROLE_COUNT][WATCH_CONNECT_COUNT];
    int64_t sessions_open[DOOR_ROLE_COUNT];
    uint64_t commands[DOOR_ROLE_COUNT][METRICS_VERB_COUNT];
    uint64_t replies[DOOR_ROLE_COUNT][N_OF(class_values)];
    uint64_t refusals[DOOR_ROLE_COUNT][METRICS_REASONS_MAX];
    uint64_t messages[DOOR_ROLE_COUNT];
    uint64_t message_bytes[DOOR_ROLE_COUNT];
    uint64_t received_bytes[DOOR_ROLE_COUNT];
    uint64_t auth[DOOR_ROLE_COUNT][MECH_COUNT][WATCH_AUTH_COUNT];
    uint64_t tls_handshakes[DOOR_ROLE_COUNT][TLSV_COUNT];
    uint64_t tls_failures[DOOR_ROLE_COUNT];
    uint64_t deliveries[WATCH_DELIVERY_COUNT];
    struct hist delivery_seconds[WATCH_DELIVERY_COUNT];
    struct hist commit_batch;
    struct hist commit_seconds;
    uint64_t dns[METRICS_DNS_COUNT];
    uint64_t dns_cache[METRICS_DNS_CACHE_COUNT];
    uint64_t checks[DOOR_ROLE_COUNT][N_OF(check_values)][N_OF(check_result_values)];
    uint64_t check_decisions[DOOR_ROLE_COUNT][N_OF(decision_values)];
    int64_t alerts_firing[METRICS_RULES_MAX];
    uint64_t local_submit[METRICS_LOCAL_VIA_COUNT][METRICS_LOCAL_RESULT_COUNT];
    uint64_t scanner_syns[N_OF(syn_values)];
    uint64_t scanner_sessions[DOOR_ROLE_COUNT][WATCH_SCAN_SESSIONS];
    int64_t scanner_sources;
    int64_t one; /* the value of gate26_build_info */

    /* The dynamic label sets: reasons as they come, rules as configured. */
    const char *reason_src[METRICS_REASONS_MAX]; /* the pointer given, for a quick match */
    char reason_buf[METRICS_REASONS_MAX][METRICS_REASON_NAME_MAX + 1];
    const char *reason_names[METRICS_REASONS_MAX];
    size_t n_reasons;
    char rule_buf[METRICS_RULES_MAX][METRICS_RULE_NAME_MAX + 1];
    const char *rule_names[METRICS_RULES_MAX];
    size_t n_rules;

    struct source sources[METRICS_SOURCE_COUNT];
} st = {.one = 1};

/* The process: what metrics_process_init() found. */
static int proc_fd_dir = -1;   /* /proc/self/fd, opened before privileges drop */
static double proc_start = -1; /* seconds since the epoch; < 0: unknown */

/* ---- The family table ---- */

/* One label of a family, and its values: a fixed set, or a dynamic one with its count. */
struct dim {
    const char *label;
    const char *const *values; /* max of them; the first *count (or max) are in use */
    size_t max;                /* also the stride of the cells */
    const size_t *count;       /* NULL: all max */
};

static const struct dim dim_door = {"door", door_values, DOOR_ROLE_COUNT, NULL};
static const struct dim dim_connect = {"result", connect_values, WATCH_CONNECT_COUNT, NULL};
static const struct dim dim_verb = {"verb", verb_values, METRICS_VERB_COUNT, NULL};
static const struct dim dim_class = {"class", class_values, N_OF(class_values), NULL};
static const struct dim dim_reason = {"reason", st.reason_names, METRICS_REASONS_MAX,
                                      &st.n_reasons};
static const struct dim dim_mech = {"mechanism", mech_values, MECH_COUNT, NULL};
static const struct dim dim_auth = {"result", auth_values, WATCH_AUTH_COUNT, NULL};
static const struct dim dim_tlsv = {"version", tlsv_values, TLSV_COUNT, NULL};
static const struct dim dim_delivery = {"result", delivery_values, WATCH_DELIVERY_COUNT, NULL};
static const struct dim dim_dns = {"result", dns_values, METRICS_DNS_COUNT, NULL};
static const struct dim dim_dns_cache = {"result", dns_cache_values, METRICS_DNS_CACHE_COUNT, NULL};
static const struct dim dim_check = {"check", check_values, N_OF(check_values), NULL};
static const struct dim dim_check_result = {"result", check_result_values,
                                            N_OF(check_result_values), NULL};
static const struct dim dim_decision = {"decision", decision_values, N_OF(decision_values), NULL};
static const struct dim dim_rule = {"rule", st.rule_names, METRICS_RULES_MAX, &st.n_rules};
static const struct dim dim_version = {"version", version_values, 1, NULL};
static const struct dim dim_local_via = {"via", local_via_values, METRICS_LOCAL_VIA_COUNT, NULL};
static const struct dim dim_local_result = {"result", local_result_values,
                                            METRICS_LOCAL_RESULT_COUNT, NULL};
static const struct dim dim_syn = {"kind", syn_values, N_OF(syn_values), NULL};
static const struct dim dim_scan = {"kind", scan_session_values, WATCH_SCAN_SESSIONS, NULL};

enum ftype {
    FT_COUNTER,   /* u64 cells; the name ends in _total */
    FT_GAUGE,     /* i64 cells, or a source, or emit */
    FT_HISTOGRAM, /* hist cells over bounds */
    FT_INFO,      /* i64 cells of 1; the name ends in _info (a gauge in the text format) */
};

struct writer;

struct family {
    const char *name; /* as the text format names it */
    const char *help;
    enum ftype type;
    const struct dim *dims[3]; /* NULL-terminated */
    const uint64_t *u64;
    const int64_t *i64;
    const struct hist *hist;
    const double *bounds;
    size_t n_bounds;
    int source;                     /* a metrics_source, or -1 */
    void (*emit)(struct writer *w); /* the samples of a family read at scrape time */
    bool sparse;                    /* counters: cells at 0 are left out (many combinations) */
};

static void emit_cpu(struct writer *w);
static void emit_rss(struct writer *w);
static void emit_vsize(struct writer *w);
static void emit_open_fds(struct writer *w);
static void emit_max_fds(struct writer *w);
static void emit_start_time(struct writer *w);

#define NO_SOURCE .source = -1

/* Every family, in the order of a scrape (docs/metrics.md lists them with their meaning). */
static const struct family families[] = {
    {"gate26_build_info",
     "The version of gate26 that runs (always 1).",
     FT_INFO,
     {&dim_version},
     .i64 = &st.one,
     NO_SOURCE},
    {"gate26_connections_total",
     "Connections at a door by what became of them: accepted (a session started), denied "
     "(allow/deny lists), client_limit, capacity; lockout counts accepted sessions that an AUTH "
     "lockout ended.",
     FT_COUNTER,
     {&dim_door, &dim_connect},
     .u64 = &st.connections[0][0],
     NO_SOURCE},
    {"gate26_sessions_open",
     "Sessions open now (accepted, not yet ended).",
     FT_GAUGE,
     {&dim_door},
     .i64 = st.sessions_open,
     NO_SOURCE},
    {"gate26_commands_total",
     "SMTP command lines received, by verb.",
     FT_COUNTER,
     {&dim_door, &dim_verb},
     .u64 = &st.commands[0][0],
     NO_SOURCE},
    {"gate26_replies_total",
     "Replies sent to clients (the greeting excepted), by class.",
     FT_COUNTER,
     {&dim_door, &dim_class},
     .u64 = &st.replies[0][0],
     NO_SOURCE},
    {"gate26_refusals_total",
     "Replies of class 4xx and 5xx (a refused connection, command, recipient or message), by "
     "the reply's name.",
     FT_COUNTER,
     {&dim_door, &dim_reason},
     .u64 = &st.refusals[0][0],
     NO_SOURCE},
    {"gate26_messages_accepted_total",
     "Messages accepted (250 after the data: on disk).",
     FT_COUNTER,
     {&dim_door},
     .u64 = st.messages,
     NO_SOURCE},
    {"gate26_message_bytes_total",
     "Octets of content of the messages accepted.",
     FT_COUNTER,
     {&dim_door},
     .u64 = st.message_bytes,
     NO_SOURCE},
    {"gate26_received_bytes_total",
     "Octets received from clients (commands and content, after TLS).",
     FT_COUNTER,
     {&dim_door},
     .u64 = st.received_bytes,
     NO_SOURCE},
    {"gate26_auth_total",
     "AUTH exchanges by mechanism and result.",
     FT_COUNTER,
     {&dim_door, &dim_mech, &dim_auth},
     .u64 = &st.auth[0][0][0],
     NO_SOURCE},
    {"gate26_tls_handshakes_total",
     "TLS handshakes with clients finished, by protocol version.",
     FT_COUNTER,
     {&dim_door, &dim_tlsv},
     .u64 = &st.tls_handshakes[0][0],
     NO_SOURCE},
    {"gate26_tls_handshake_failures_total",
     "Sessions whose TLS handshake with the client never finished.",
     FT_COUNTER,
     {&dim_door},
     .u64 = st.tls_failures,
     NO_SOURCE},
    {"gate26_tls_certificate_expiry_timestamp_seconds",
     "When the first of our TLS certificates expires (notAfter), in seconds since the epoch.",
     FT_GAUGE,
     {NULL},
     .source = METRICS_SOURCE_TLS_CERT_EXPIRY},
    {"gate26_queue_messages",
     "Messages in the queue.",
     FT_GAUGE,
     {NULL},
     .source = METRICS_SOURCE_QUEUE_MESSAGES},
    {"gate26_queue_oldest_message_age_seconds",
     "Age of the oldest message in the queue.",
     FT_GAUGE,
     {NULL},
     .source = METRICS_SOURCE_QUEUE_OLDEST_AGE},
    {"gate26_queue_deferred_messages",
     "Messages in the queue that were deferred at least once (waiting for a retry).",
     FT_GAUGE,
     {NULL},
     .source = METRICS_SOURCE_QUEUE_DEFERRED},
    {"gate26_quarantine_messages",
     "Messages held in the quarantine (never delivered until released).",
     FT_GAUGE,
     {NULL},
     .source = METRICS_SOURCE_QUARANTINE_MESSAGES},
    {"gate26_tracking_events_total",
     "Events of messages' lives taken for the tracking database (docs/console.md).",
     FT_COUNTER,
     {NULL},
     .source = METRICS_SOURCE_TRACKING_EVENTS},
    {"gate26_tracking_dropped_total",
     "Tracking events lost: the writer's ring was full, or their batch met a fault of the "
     "database (history only, never mail).",
     FT_COUNTER,
     {NULL},
     .source = METRICS_SOURCE_TRACKING_DROPPED},
    {"gate26_deliveries_total",
     "Delivery attempts of one recipient, by result.",
     FT_COUNTER,
     {&dim_delivery},
     .u64 = st.deliveries,
     NO_SOURCE},
    {"gate26_delivery_duration_seconds",
     "How long the delivery attempt of a recipient took, by result.",
     FT_HISTOGRAM,
     {&dim_delivery},
     .hist = st.delivery_seconds,
     .bounds = delivery_bounds,
     .n_bounds = N_OF(delivery_bounds),
     NO_SOURCE},
    {"gate26_spool_commit_batch_messages",
     "Messages made durable together by one pass of the spool's commit thread.",
     FT_HISTOGRAM,
     {NULL},
     .hist = &st.commit_batch,
     .bounds = batch_bounds,
     .n_bounds = N_OF(batch_bounds),
     NO_SOURCE},
    {"gate26_spool_commit_duration_seconds",
     "From the end of a message's data to its commit on stable storage.",
     FT_HISTOGRAM,
     {NULL},
     .hist = &st.commit_seconds,
     .bounds = commit_bounds,
     .n_bounds = N_OF(commit_bounds),
     NO_SOURCE},
    {"gate26_dns_lookups_total",
     "DNS lookups by result.",
     FT_COUNTER,
     {&dim_dns},
     .u64 = st.dns,
     NO_SOURCE},
    {"gate26_dns_cache_total",
     "DNS lookups answered from the cache (hit) or asked (miss), with the cache on.",
     FT_COUNTER,
     {&dim_dns_cache},
     .u64 = st.dns_cache,
     NO_SOURCE},
    {"gate26_checks_total",
     "Content checks by door, check and result (docs/checks.md); combinations never seen are "
     "left out.",
     FT_COUNTER,
     {&dim_door, &dim_check, &dim_check_result},
     .u64 = &st.checks[0][0][0],
     NO_SOURCE,
     .sparse = true},
    {"gate26_check_decisions_total",
     "Messages decided by the content checks at the end of the data, by door and decision.",
     FT_COUNTER,
     {&dim_door, &dim_decision},
     .u64 = &st.check_decisions[0][0],
     NO_SOURCE},
    {"gate26_alerts_firing",
     "Keys of an alert rule firing now.",
     FT_GAUGE,
     {&dim_rule},
     .i64 = st.alerts_firing,
     NO_SOURCE},
    {"gate26_local_submissions_total",
     "Messages handed over by gate26 sendmail, by way in (socket, maildrop) and result (queued, "
     "deferred, refused).",
     FT_COUNTER,
     {&dim_local_via, &dim_local_result},
     .u64 = &st.local_submit[0][0],
     NO_SOURCE},
    {"gate26_scanner_syns_total",
     "TCP SYNs captured to a watched port: mirai (IPv4, sequence number equal to the destination "
     "address), plain (every other).",
     FT_COUNTER,
     {&dim_syn},
     .u64 = st.scanner_syns,
     NO_SOURCE},
    {"gate26_scanner_sessions_total",
     "Sessions that were not SMTP: silent (closed before any command line), or on a plain door "
     "an http, tls, ssh, proxy or binary start before EHLO/HELO.",
     FT_COUNTER,
     {&dim_door, &dim_scan},
     .u64 = &st.scanner_sessions[0][0],
     NO_SOURCE},
    {"gate26_scanner_sources",
     "Source addresses in the scanner table now.",
     FT_GAUGE,
     {NULL},
     .i64 = &st.scanner_sources,
     NO_SOURCE},
    {"process_cpu_seconds_total",
     "Total user and system CPU time spent in seconds.",
     FT_COUNTER,
     {NULL},
     NO_SOURCE,
     .emit = emit_cpu},
    {"process_resident_memory_bytes",
     "Resident memory size in bytes.",
     FT_GAUGE,
     {NULL},
     NO_SOURCE,
     .emit = emit_rss},
    {"process_virtual_memory_bytes",
     "Virtual memory size in bytes.",
     FT_GAUGE,
     {NULL},
     NO_SOURCE,
     .emit = emit_vsize},
    {"process_open_fds",
     "Number of open file descriptors.",
     FT_GAUGE,
     {NULL},
     NO_SOURCE,
     .emit = emit_open_fds},
    {"process_max_fds",
     "Maximum number of open file descriptors.",
     FT_GAUGE,
     {NULL},
     NO_SOURCE,
     .emit = emit_max_fds},
    {"process_start_time_seconds",
     "Start time of the process since unix epoch in seconds.",
     FT_GAUGE,
     {NULL},
     NO_SOURCE,
     .emit = emit_start_time},
};

/* ---- Counting ---- */

static void
hist_observe(struct hist *h, const double *bounds, size_t n_bounds, double v)
{
    size_t i = 0;

    if (isnan(v))
        return;
    while (i < n_bounds && v > bounds[i])
        i++;
    h->bucket[i]++;
    h->count++;
    h->sum += v;
}

static bool
door_ok(enum door_role door)
{
    return (unsigned)door < DOOR_ROLE_COUNT;
}

void
metrics_command(enum door_role door, enum metrics_verb verb)
{
    if (door_ok(door) && (unsigned)verb < METRICS_VERB_COUNT)
        st.commands[door][verb]++;
}

void
metrics_reply(enum door_role door, unsigned code)
{
    if (door_ok(door) && code >= 200 && code < 600)
        st.replies[door][code / 100 - 2]++;
}

void
metrics_received(enum door_role door, size_t n)
{
    if (door_ok(door))
        st.received_bytes[door] += n;
}

void
metrics_tls_handshake(enum door_role door, const char *version)
{
    enum tlsv v = TLSV_OTHER;

    if (!door_ok(door))
        return;
    if (version != NULL && strcmp(version, "TLSv1.3") == 0)
        v = TLSV_13;
    else if (version != NULL && strcmp(version, "TLSv1.2") == 0)
        v = TLSV_12;
    st.tls_handshakes[door][v]++;
}

void
metrics_tls_failure(enum door_role door)
{
    if (door_ok(door))
        st.tls_failures[door]++;
}

void
metrics_commit_batch(size_t n)
{
    hist_observe(&st.commit_batch, batch_bounds, N_OF(batch_bounds), (double)n);
}

void
metrics_commit_latency(double seconds)
{
    hist_observe(&st.commit_seconds, commit_bounds, N_OF(commit_bounds), seconds);
}

void
metrics_dns_lookup(enum metrics_dns result)
{
    if ((unsigned)result < METRICS_DNS_COUNT)
        st.dns[result]++;
}

void
metrics_local_submit(enum metrics_local_via via, enum metrics_local_result result)
{
    if ((unsigned)via < METRICS_LOCAL_VIA_COUNT && (unsigned)result < METRICS_LOCAL_RESULT_COUNT)
        st.local_submit[via][result]++;
}

void
metrics_dns_cache(enum metrics_dns_cache result)
{
    if ((unsigned)result < METRICS_DNS_CACHE_COUNT)
        st.dns_cache[result]++;
}

/* True when stored (a name as kept: cut at max octets) is name cut the same way. */
static bool
same_cut(const char *stored, const char *name, size_t max)
{
    size_t n = strnlen(name, max);

    return strlen(stored) == n && memcmp(stored, name, n) == 0;
}

/*
 * The index of a refusal reason, added when new; -1 when the table is full.
 * Reasons are the names of smtp_reply_name(), static strings: a pointer
 * seen before is that reason again (the quick way), else the text decides.
 */
static int
reason_index(const char *reason)
{
    size_t i;

    for (i = 0; i < st.n_reasons; i++) {
        if (st.reason_src[i] == reason)
            return (int)i;
    }
    for (i = 0; i < st.n_reasons; i++) {
        if (same_cut(st.reason_names[i], reason, METRICS_REASON_NAME_MAX))
            return (int)i;
    }
    if (st.n_reasons == METRICS_REASONS_MAX)
        return -1;
    i = st.n_reasons++;
    (void)str_copy(st.reason_buf[i], sizeof(st.reason_buf[i]), reason,
                   strnlen(reason, METRICS_REASON_NAME_MAX));
    st.reason_names[i] = st.reason_buf[i];
    st.reason_src[i] = reason;
    return (int)i;
}

static enum mech
mech_of(const char *mechanism)
{
    if (mechanism == NULL)
        return MECH_NONE;
    if (strcmp(mechanism, "PLAIN") == 0)
        return MECH_PLAIN;
    if (strcmp(mechanism, "LOGIN") == 0)
        return MECH_LOGIN;
    return MECH_OTHER;
}

void
watch_metrics_note(struct watch *w, const struct watch_event *ev)
{
    (void)w;
    switch (ev->kind) {
    case WATCH_CONNECT:
        if (!door_ok(ev->door) || (unsigned)ev->connect >= WATCH_CONNECT_COUNT)
            return;
        st.connections[ev->door][ev->connect]++;
        if (ev->connect == WATCH_CONNECT_ACCEPTED)
            st.sessions_open[ev->door]++;
        break;
    case WATCH_CLOSE:
        if (door_ok(ev->door) && st.sessions_open[ev->door] > 0)
            st.sessions_open[ev->door]--;
        break;
    case WATCH_REPLY:
        metrics_reply(ev->door, ev->code);
        if (ev->code >= 400 && door_ok(ev->door) && ev->reason != NULL) {
            int i = reason_index(ev->reason);

            if (i >= 0)
                st.refusals[ev->door][i]++;
        }
        break;
    case WATCH_MESSAGE:
        if (!door_ok(ev->door))
            return;
        st.messages[ev->door]++;
        st.message_bytes[ev->door] += ev->size;
        break;
    case WATCH_AUTH:
        if (door_ok(ev->door) && (unsigned)ev->auth < WATCH_AUTH_COUNT)
            st.auth[ev->door][mech_of(ev->mechanism)][ev->auth]++;
        break;
    case WATCH_DELIVERY:
        if ((unsigned)ev->delivery >= WATCH_DELIVERY_COUNT)
            return;
        st.deliveries[ev->delivery]++;
        hist_observe(&st.delivery_seconds[ev->delivery], delivery_bounds, N_OF(delivery_bounds),
                     ev->seconds);
        break;
    case WATCH_SCANNER:
        if (ev->scan == WATCH_SCAN_MIRAI || ev->scan == WATCH_SCAN_PLAIN)
            st.scanner_syns[ev->scan == WATCH_SCAN_MIRAI ? 0 : 1]++;
        else if (door_ok(ev->door) && (unsigned)ev->scan < WATCH_SCAN_COUNT)
            st.scanner_sessions[ev->door][ev->scan - WATCH_SCAN_SESSION_FIRST]++;
        break;
    case WATCH_KIND_COUNT:
        break;
    }
}

void
metrics_scanner_sources(size_t n)
{
    st.scanner_sources = (int64_t)n;
}

/* ---- Alert rules ---- */

static int
rule_find(const char *name)
{
    for (size_t i = 0; i < st.n_rules; i++) {
        if (same_cut(st.rule_names[i], name, METRICS_RULE_NAME_MAX))
            return (int)i;
    }
    return -1;
}

static int
rule_add(const char *name, int64_t count)
{
    size_t i = st.n_rules;

    if (i == METRICS_RULES_MAX)
        return -1;
    (void)str_copy(st.rule_buf[i], sizeof(st.rule_buf[i]), name,
                   strnlen(name, METRICS_RULE_NAME_MAX));
    st.rule_names[i] = st.rule_buf[i];
    st.alerts_firing[i] = count;
    st.n_rules++;
    return (int)i;
}

void
metrics_alert_rules(const char *const *names, size_t n)
{
    static char old_buf[METRICS_RULES_MAX][METRICS_RULE_NAME_MAX + 1];
    static int64_t old_count[METRICS_RULES_MAX];
    size_t n_old = st.n_rules;

    for (size_t i = 0; i < n_old; i++) {
        memcpy(old_buf[i], st.rule_buf[i], sizeof(old_buf[i]));
        old_count[i] = st.alerts_firing[i];
    }
    st.n_rules = 0;
    for (size_t i = 0; i < n && i < METRICS_RULES_MAX; i++) {
        int64_t keep = 0;

        if (rule_find(names[i]) >= 0)
            continue; /* named twice */
        for (size_t k = 0; k < n_old; k++) {
            if (same_cut(old_buf[k], names[i], METRICS_RULE_NAME_MAX))
                keep = old_count[k];
        }
        (void)rule_add(names[i], keep);
    }
}

/* The index of name in values[n], or -1. */
static int
value_index(const char *const *values, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(values[i], name) == 0)
            return (int)i;
    return -1;
}

void
metrics_check(enum door_role door, const char *check, const char *result)
{
    int c = value_index(check_values, N_OF(check_values), check);
    int r = value_index(check_result_values, N_OF(check_result_values), result);

    if ((unsigned)door < DOOR_ROLE_COUNT && c >= 0 && r >= 0)
        st.checks[door][c][r]++;
}

void
metrics_check_decision(enum door_role door, const char *decision)
{
    int d = value_index(decision_values, N_OF(decision_values), decision);

    if ((unsigned)door < DOOR_ROLE_COUNT && d >= 0)
        st.check_decisions[door][d]++;
}

void
metrics_alert_firing(const char *rule, int delta)
{
    int i = rule_find(rule);

    if (i < 0)
        i = rule_add(rule, 0);
    if (i < 0)
        return;
    st.alerts_firing[i] += delta;
    if (st.alerts_firing[i] < 0)
        st.alerts_firing[i] = 0;
}

/* ---- Sources and the process ---- */

void
metrics_source(enum metrics_source source, metrics_read_fn *fn, void *arg)
{
    if ((unsigned)source >= METRICS_SOURCE_COUNT)
        return;
    st.sources[source].fn = fn;
    st.sources[source].arg = arg;
}

/* The start of this process from /proc/self/stat (field 22, ticks after boot) and btime. */
static double
proc_read_start(void)
{
    char buf[1024], line[256];
    unsigned long long ticks = 0, btime = 0;
    long hz = sysconf(_SC_CLK_TCK);
    const char *p;
    size_t got;
    FILE *f = fopen("/proc/self/stat", "re");

    if (f == NULL)
        return -1;
    got = fread(buf, 1, sizeof(buf) - 1, f);
    (void)fclose(f);
    buf[got] = '\0';
    /* The command may hold spaces and parentheses: fields count from the last ')'. */
    p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    p++;
    for (int field = 3; field <= 22 && p != NULL; field++) {
        p = strchr(p + 1, ' ');
        if (p != NULL && field == 21)
            ticks = strtoull(p + 1, NULL, 10);
    }
    f = fopen("/proc/stat", "re");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "btime %llu", &btime) == 1)
            break;
    }
    (void)fclose(f);
    if (btime == 0 || hz <= 0)
        return -1;
    return (double)btime + (double)ticks / (double)hz;
}

void
metrics_process_init(void)
{
    if (proc_fd_dir == -1)
        proc_fd_dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (proc_start < 0) {
        struct timeval now;

        proc_start = proc_read_start();
        if (proc_start < 0 && gettimeofday(&now, NULL) == 0)
            proc_start = (double)now.tv_sec + (double)now.tv_usec / 1e6;
    }
}

void
metrics_reset(void)
{
    memset(&st, 0, sizeof(st));
    st.one = 1;
}

/* ---- Writing ---- */

struct writer {
    struct evbuffer *out;
    enum metrics_format format;
    const struct family *f;
    int err;
};

static void
w_add(struct writer *w, const char *p, size_t len)
{
    if (len > 0 && evbuffer_add(w->out, p, len) == -1)
        w->err = -1;
}

static void
w_str(struct writer *w, const char *s)
{
    w_add(w, s, strlen(s));
}

/* A number as Prometheus reads it: integers exactly, others in the shortest form that reads
 * back the same (at most 17 digits), and NaN, +Inf, -Inf. */
static void
fmt_double(char *buf, size_t cap, double v)
{
    if (isnan(v))
        (void)str_copyz(buf, cap, "NaN");
    else if (isinf(v))
        (void)str_copyz(buf, cap, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 9007199254740992.0)
        (void)snprintf(buf, cap, "%.0f", v);
    else if (snprintf(buf, cap, "%.15g", v) > 0 && strtod(buf, NULL) != v)
        (void)snprintf(buf, cap, "%.17g", v);
}

static void
w_double(struct writer *w, double v)
{
    char buf[64];

    fmt_double(buf, sizeof(buf), v);
    w_str(w, buf);
}

static void
w_u64(struct writer *w, uint64_t v)
{
    char buf[32];

    (void)snprintf(buf, sizeof(buf), "%" PRIu64, v);
    w_str(w, buf);
}

static void
w_i64(struct writer *w, int64_t v)
{
    char buf[32];

    (void)snprintf(buf, sizeof(buf), "%" PRId64, v);
    w_str(w, buf);
}

/* The length of the well-formed UTF-8 sequence at p (RFC 3629 4), or 0. */
static size_t
utf8_len(const unsigned char *p, size_t left)
{
    unsigned char c = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4;
    else
        return 0;
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (left < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    }
    return n;
}

/*
 * text escaped for a label value (quote true) or a HELP line: '\' and LF
 * always, '"' in label values and in OpenMetrics HELP; control characters
 * and octets that are not well-formed UTF-8 become '?'.
 */
static void
w_escaped(struct writer *w, const char *text, bool quote)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t len = strlen(text);
    char buf[256];
    size_t o = 0;

    for (size_t i = 0; i < len;) {
        size_t n = 1;
        const char *rep = NULL;
        char one = (char)p[i];

        if (o + 8 > sizeof(buf)) {
            w_add(w, buf, o);
            o = 0;
        }
        if (p[i] == '\\')
            rep = "\\\\";
        else if (p[i] == '\n')
            rep = "\\n";
        else if (p[i] == '"' && (quote || w->format == METRICS_FORMAT_OPENMETRICS))
            rep = "\\\"";
        else if (p[i] < 0x20 || p[i] == 0x7f)
            one = '?';
        else if (p[i] >= 0x80 && (n = utf8_len(p + i, len - i)) == 0) {
            n = 1;
            one = '?';
        }
        if (rep != NULL) {
            memcpy(buf + o, rep, strlen(rep));
            o += strlen(rep);
        } else if (p[i] >= 0x80 && one != '?') {
            memcpy(buf + o, p + i, n);
            o += n;
        } else {
            buf[o++] = one;
        }
        i += n;
    }
    w_add(w, buf, o);
}

/* The family's name in # HELP and # TYPE: OpenMetrics names a counter without _total, and an
 * info family without _info. */
static void
w_family_name(struct writer *w)
{
    const char *name = w->f->name;
    size_t len = strlen(name);

    if (w->format == METRICS_FORMAT_OPENMETRICS && w->f->type == FT_COUNTER)
        len -= strlen("_total");
    else if (w->format == METRICS_FORMAT_OPENMETRICS && w->f->type == FT_INFO)
        len -= strlen("_info");
    w_add(w, name, len);
}

static void
w_metadata(struct writer *w)
{
    static const char *const text_types[] = {"counter", "gauge", "histogram", "gauge"};
    static const char *const om_types[] = {"counter", "gauge", "histogram", "info"};

    w_str(w, "# HELP ");
    w_family_name(w);
    w_str(w, " ");
    w_escaped(w, w->f->help, false);
    w_str(w, "\n# TYPE ");
    w_family_name(w);
    w_str(w, " ");
    w_str(w, (w->format == METRICS_FORMAT_OPENMETRICS ? om_types : text_types)[w->f->type]);
    w_str(w, "\n");
}

/*
 * The start of a sample line: name, suffix, and the labels of the cell at
 * idx[] (n of them) with le (NULL: none) last.
 */
static void
w_sample_start(struct writer *w, const char *suffix, const size_t *idx, size_t n, const char *le)
{
    w_str(w, w->f->name);
    w_str(w, suffix);
    if (n > 0 || le != NULL) {
        w_str(w, "{");
        for (size_t i = 0; i < n; i++) {
            const struct dim *d = w->f->dims[i];

            if (i > 0)
                w_str(w, ",");
            w_str(w, d->label);
            w_str(w, "=\"");
            w_escaped(w, d->values[idx[i]], true);
            w_str(w, "\"");
        }
        if (le != NULL) {
            if (n > 0)
                w_str(w, ",");
            w_str(w, "le=\"");
            w_str(w, le);
            w_str(w, "\"");
        }
        w_str(w, "}");
    }
    w_str(w, " ");
}

static void
w_histogram_cell(struct writer *w, const struct hist *h, const size_t *idx, size_t n)
{
    uint64_t cum = 0;
    char le[64];

    for (size_t b = 0; b <= w->f->n_bounds; b++) {
        cum += h->bucket[b];
        fmt_double(le, sizeof(le), b == w->f->n_bounds ? INFINITY : w->f->bounds[b]);
        w_sample_start(w, "_bucket", idx, n, le);
        w_u64(w, cum);
        w_str(w, "\n");
    }
    w_sample_start(w, "_count", idx, n, NULL);
    w_u64(w, h->count);
    w_str(w, "\n");
    w_sample_start(w, "_sum", idx, n, NULL);
    w_double(w, h->sum);
    w_str(w, "\n");
}

/* Each cell of the family's dimensions, in order: its index and its labels' values. */
static void
w_cells(struct writer *w)
{
    const struct family *f = w->f;
    size_t n = 0, count[3] = {1, 1, 1}, stride[3] = {1, 1, 1}, idx[3] = {0, 0, 0};

    while (n < 3 && f->dims[n] != NULL) {
        count[n] = f->dims[n]->count != NULL ? *f->dims[n]->count : f->dims[n]->max;
        n++;
    }
    for (size_t i = n; i-- > 1;)
        stride[i - 1] = stride[i] * f->dims[i]->max;
    for (idx[0] = 0; idx[0] < count[0]; idx[0]++) {
        for (idx[1] = 0; idx[1] < count[1]; idx[1]++) {
            for (idx[2] = 0; idx[2] < count[2]; idx[2]++) {
                size_t cell = idx[0] * stride[0] + idx[1] * stride[1] + idx[2] * stride[2];

                if (f->type == FT_HISTOGRAM) {
                    w_histogram_cell(w, &f->hist[cell], idx, n);
                    continue;
                }
                if (f->sparse && f->type == FT_COUNTER && f->u64[cell] == 0)
                    continue;
                w_sample_start(w, "", idx, n, NULL);
                if (f->type == FT_COUNTER)
                    w_u64(w, f->u64[cell]);
                else
                    w_i64(w, f->i64[cell]);
                w_str(w, "\n");
            }
        }
    }
}

/* One sample without labels. */
static void
w_value(struct writer *w, double v)
{
    w_sample_start(w, "", NULL, 0, NULL);
    w_double(w, v);
    w_str(w, "\n");
}

static void
emit_cpu(struct writer *w)
{
    struct rusage ru;

    /* In whole microseconds first: the sum of two fractions would print 17 digits. */
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        w_value(w, (double)((uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
                            (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec)) /
                       1e6);
}

/* Field i (0: size, 1: resident) of /proc/self/statm, in octets; -1 when unreadable. */
static double
statm_bytes(int i)
{
    unsigned long long v[2];
    long page = sysconf(_SC_PAGESIZE);
    FILE *f = fopen("/proc/self/statm", "re");
    int got;

    if (f == NULL)
        return -1;
    got = fscanf(f, "%llu %llu", &v[0], &v[1]);
    (void)fclose(f);
    if (got != 2 || page <= 0)
        return -1;
    return (double)v[i] * (double)page;
}

static void
emit_rss(struct writer *w)
{
    double v = statm_bytes(1);

    if (v >= 0)
        w_value(w, v);
}

static void
emit_vsize(struct writer *w)
{
    double v = statm_bytes(0);

    if (v >= 0)
        w_value(w, v);
}

/* The entries of /proc/self/fd, through the directory opened before privileges dropped. */
static void
emit_open_fds(struct writer *w)
{
    struct dirent *de;
    DIR *dir;
    long n = 0;
    int fd;

    if (proc_fd_dir == -1)
        return;
    fd = fcntl(proc_fd_dir, F_DUPFD_CLOEXEC, 0);
    if (fd == -1)
        return;
    dir = fdopendir(fd);
    if (dir == NULL) {
        (void)close(fd);
        return;
    }
    rewinddir(dir);
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] != '.')
            n++;
    }
    (void)closedir(dir);
    /* Less the copy that read it. */
    w_value(w, (double)(n > 0 ? n - 1 : 0));
}

static void
emit_max_fds(struct writer *w)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        w_value(w, rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur);
}

static void
emit_start_time(struct writer *w)
{
    if (proc_start >= 0)
        w_value(w, proc_start);
}

const char *
metrics_content_type(enum metrics_format format)
{
    return format == METRICS_FORMAT_OPENMETRICS
               ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
               : "text/plain; version=0.0.4; charset=utf-8";
}

int
metrics_write(struct evbuffer *out, enum metrics_format format)
{
    struct writer w = {.out = out, .format = format};

    for (size_t i = 0; i < N_OF(families); i++) {
        const struct family *f = &families[i];

        w.f = f;
        w_metadata(&w);
        if (f->emit != NULL) {
            f->emit(&w);
        } else if (f->source >= 0) {
            const struct source *s = &st.sources[f->source];
            double v;

            if (s->fn != NULL && s->fn(s->arg, &v))
                w_value(&w, v);
        } else {
            w_cells(&w);
        }
    }
    if (format == METRICS_FORMAT_OPENMETRICS)
        w_str(&w, "# EOF\n");
    return w.err;
}
