/* SPDX-License-Identifier: MIT */
/*
 * Tests of the metrics (metrics.h): events and direct counts in, the
 * exposition out, checked line by line in both formats; the label values
 * and HELP text escaped whatever they hold (hostile rule names and reasons:
 * quotes, backslashes, line feeds, control characters, broken UTF-8); the
 * dynamic label sets capped; histograms cumulative; every sample of a
 * family it declared.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "watch/metrics.h"
#include "watch/watch_impl.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* The whole exposition in format, as a NUL-terminated string (the caller frees it). */
static char *
scrape(enum metrics_format format)
{
    struct evbuffer *b = evbuffer_new();
    size_t len;
    char *s;

    assert_non_null(b);
    assert_int_equal(metrics_write(b, format), 0);
    len = evbuffer_get_length(b);
    s = malloc(len + 1);
    assert_non_null(s);
    assert_int_equal(evbuffer_remove(b, s, len), (int)len);
    s[len] = '\0';
    evbuffer_free(b);
    return s;
}

/* Asserts that text has line as a whole line. */
static void
has_line(const char *text, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return;
    }
    print_error("line not found: '%s'\n", line);
    fail();
}

/* Asserts that no line of text starts with prefix. */
static void
no_line_starting(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);

    for (const char *p = text; (p = strstr(p, prefix)) != NULL; p += n) {
        if (p == text || p[-1] == '\n') {
            print_error("unexpected line starting '%s'\n", prefix);
            fail();
        }
    }
}

static void
note(enum watch_kind kind, enum door_role door, void (*fill)(struct watch_event *ev, void *arg),
     void *arg)
{
    struct watch_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.kind = kind;
    ev.door = door;
    if (fill != NULL)
        fill(&ev, arg);
    watch_metrics_note(NULL, &ev);
}

static void
fill_connect(struct watch_event *ev, void *arg)
{
    ev->connect = *(enum watch_connect *)arg;
}

static void
fill_reply(struct watch_event *ev, void *arg)
{
    const char *const *r = arg;

    ev->code = (unsigned)atoi(r[0]);
    ev->reason = r[1];
}

static void
fill_auth(struct watch_event *ev, void *arg)
{
    const char *const *r = arg;

    ev->mechanism = r[0];
    ev->auth = r[1][0] == 's'   ? WATCH_AUTH_SUCCESS
               : r[1][0] == 'f' ? WATCH_AUTH_FAILURE
                                : WATCH_AUTH_LOCKED;
}

static void
fill_delivery(struct watch_event *ev, void *arg)
{
    const double *d = arg;

    ev->delivery = (enum watch_delivery)d[0];
    ev->seconds = d[1];
}

static void
fill_size(struct watch_event *ev, void *arg)
{
    ev->size = *(uint64_t *)arg;
}

static void
fill_scan(struct watch_event *ev, void *arg)
{
    ev->scan = *(enum watch_scan *)arg;
}

static int
setup(void **state)
{
    (void)state;
    metrics_reset();
    return 0;
}

/* A known sequence of events, each count exactly where it belongs. */
static void
test_events(void **state)
{
    enum watch_connect accepted = WATCH_CONNECT_ACCEPTED, denied = WATCH_CONNECT_DENIED,
                       limit = WATCH_CONNECT_CLIENT_LIMIT, capacity = WATCH_CONNECT_CAPACITY,
                       lockout = WATCH_CONNECT_LOCKOUT, bogus = WATCH_CONNECT_COUNT;
    const char *relay[] = {"550", "relay_denied"}, *queued[] = {"250", "queued"},
               *storage[] = {"452", "storage"}, *data[] = {"354", "data_go"};
    const char *plain_ok[] = {"PLAIN", "s"}, *login_bad[] = {"LOGIN", "f"},
               *none_bad[] = {NULL, "f"}, *odd_locked[] = {"CRAM-MD5", "l"};
    double sent[] = {WATCH_DELIVERY_SENT, 0.3}, deferred[] = {WATCH_DELIVERY_DEFERRED, 30},
           edge[] = {WATCH_DELIVERY_SENT, 0.5};
    uint64_t size = 1234;
    char *t;

    (void)state;
    for (int i = 0; i < 3; i++)
        note(WATCH_CONNECT, DOOR_INTERNAL, fill_connect, &accepted);
    note(WATCH_CLOSE, DOOR_INTERNAL, NULL, NULL);
    note(WATCH_CONNECT, DOOR_INTERNAL, fill_connect, &denied);
    note(WATCH_CONNECT, DOOR_INBOUND, fill_connect, &limit);
    note(WATCH_CONNECT, DOOR_INBOUND, fill_connect, &capacity);
    note(WATCH_CONNECT, DOOR_SUBMISSION, fill_connect, &lockout);
    note(WATCH_CONNECT, DOOR_SUBMISSION, fill_connect, &bogus);    /* ignored */
    note(WATCH_CONNECT, DOOR_ROLE_COUNT, fill_connect, &accepted); /* ignored */
    /* A close without its open never makes the gauge negative. */
    note(WATCH_CLOSE, DOOR_SUBMISSIONS, NULL, NULL);
    note(WATCH_REPLY, DOOR_INBOUND, fill_reply, relay);
    note(WATCH_REPLY, DOOR_INBOUND, fill_reply, relay);
    note(WATCH_REPLY, DOOR_INTERNAL, fill_reply, queued);
    note(WATCH_REPLY, DOOR_INTERNAL, fill_reply, storage);
    note(WATCH_REPLY, DOOR_INTERNAL, fill_reply, data);
    metrics_reply(DOOR_INTERNAL, 250); /* the EHLO reply */
    metrics_reply(DOOR_INTERNAL, 199); /* no class of ours: ignored */
    metrics_reply(DOOR_INTERNAL, 600);
    note(WATCH_MESSAGE, DOOR_INTERNAL, fill_size, &size);
    note(WATCH_MESSAGE, DOOR_INTERNAL, fill_size, &size);
    note(WATCH_AUTH, DOOR_SUBMISSION, fill_auth, plain_ok);
    note(WATCH_AUTH, DOOR_SUBMISSION, fill_auth, login_bad);
    note(WATCH_AUTH, DOOR_SUBMISSION, fill_auth, login_bad);
    note(WATCH_AUTH, DOOR_SUBMISSIONS, fill_auth, none_bad);
    note(WATCH_AUTH, DOOR_SUBMISSIONS, fill_auth, odd_locked);
    note(WATCH_DELIVERY, DOOR_INBOUND, fill_delivery, sent);
    note(WATCH_DELIVERY, DOOR_INBOUND, fill_delivery, edge);
    note(WATCH_DELIVERY, DOOR_INBOUND, fill_delivery, deferred);
    metrics_command(DOOR_INTERNAL, METRICS_VERB_EHLO);
    metrics_command(DOOR_INTERNAL, METRICS_VERB_UNKNOWN);
    metrics_command(DOOR_INTERNAL, METRICS_VERB_COUNT); /* ignored */
    metrics_received(DOOR_INTERNAL, 100);
    metrics_received(DOOR_INTERNAL, 23);
    metrics_tls_handshake(DOOR_SUBMISSIONS, "TLSv1.3");
    metrics_tls_handshake(DOOR_SUBMISSIONS, "TLSv1.2");
    metrics_tls_handshake(DOOR_SUBMISSIONS, "SSLv3");
    metrics_tls_handshake(DOOR_SUBMISSIONS, NULL);
    metrics_tls_failure(DOOR_INBOUND);
    metrics_dns_lookup(METRICS_DNS_NXDOMAIN);
    metrics_dns_lookup(METRICS_DNS_TEMPFAIL);
    metrics_dns_lookup(METRICS_DNS_COUNT); /* ignored */
    metrics_dns_cache(METRICS_DNS_CACHE_HIT);
    metrics_dns_cache(METRICS_DNS_CACHE_HIT);
    metrics_dns_cache(METRICS_DNS_CACHE_COUNT); /* ignored */
    metrics_local_submit(METRICS_LOCAL_SOCKET, METRICS_LOCAL_QUEUED);
    metrics_local_submit(METRICS_LOCAL_MAILDROP, METRICS_LOCAL_REFUSED);
    metrics_local_submit(METRICS_LOCAL_MAILDROP, METRICS_LOCAL_REFUSED);
    metrics_local_submit(METRICS_LOCAL_VIA_COUNT, METRICS_LOCAL_QUEUED);    /* ignored */
    metrics_local_submit(METRICS_LOCAL_SOCKET, METRICS_LOCAL_RESULT_COUNT); /* ignored */
    {
        enum watch_scan mirai = WATCH_SCAN_MIRAI, plain = WATCH_SCAN_PLAIN, http = WATCH_SCAN_HTTP,
                        binary = WATCH_SCAN_BINARY, bad = WATCH_SCAN_COUNT;
        enum watch_connect scanner = WATCH_CONNECT_SCANNER;

        note(WATCH_SCANNER, DOOR_ROLE_COUNT, fill_scan, &mirai); /* a SYN to a port without door */
        note(WATCH_SCANNER, DOOR_INBOUND, fill_scan, &mirai);
        note(WATCH_SCANNER, DOOR_INBOUND, fill_scan, &plain);
        note(WATCH_SCANNER, DOOR_INBOUND, fill_scan, &http);
        note(WATCH_SCANNER, DOOR_INTERNAL, fill_scan, &binary);
        note(WATCH_SCANNER, DOOR_ROLE_COUNT, fill_scan, &http); /* ignored: a session has a door */
        note(WATCH_SCANNER, DOOR_INBOUND, fill_scan, &bad);     /* ignored */
        note(WATCH_CONNECT, DOOR_INBOUND, fill_connect, &scanner);
        metrics_scanner_sources(7);
    }

    t = scrape(METRICS_FORMAT_TEXT);
    has_line(t, "gate26_scanner_syns_total{kind=\"mirai\"} 2");
    has_line(t, "gate26_scanner_syns_total{kind=\"plain\"} 1");
    has_line(t, "gate26_scanner_sessions_total{door=\"inbound\",kind=\"http\"} 1");
    has_line(t, "gate26_scanner_sessions_total{door=\"internal\",kind=\"binary\"} 1");
    has_line(t, "gate26_scanner_sessions_total{door=\"inbound\",kind=\"binary\"} 0");
    has_line(t, "gate26_scanner_sources 7");
    has_line(t, "gate26_local_submissions_total{via=\"socket\",result=\"queued\"} 1");
    has_line(t, "gate26_local_submissions_total{via=\"maildrop\",result=\"refused\"} 2");
    has_line(t, "gate26_local_submissions_total{via=\"maildrop\",result=\"deferred\"} 0");
    has_line(t, "gate26_connections_total{door=\"inbound\",result=\"scanner\"} 1");
    has_line(t, "# TYPE gate26_connections_total counter");
    has_line(t, "gate26_connections_total{door=\"internal\",result=\"accepted\"} 3");
    has_line(t, "gate26_connections_total{door=\"internal\",result=\"denied\"} 1");
    has_line(t, "gate26_connections_total{door=\"inbound\",result=\"client_limit\"} 1");
    has_line(t, "gate26_connections_total{door=\"inbound\",result=\"capacity\"} 1");
    has_line(t, "gate26_connections_total{door=\"submission\",result=\"lockout\"} 1");
    has_line(t, "gate26_connections_total{door=\"submission\",result=\"accepted\"} 0");
    has_line(t, "gate26_sessions_open{door=\"internal\"} 2");
    has_line(t, "gate26_sessions_open{door=\"submissions\"} 0");
    has_line(t, "gate26_replies_total{door=\"inbound\",class=\"5xx\"} 2");
    has_line(t, "gate26_replies_total{door=\"internal\",class=\"2xx\"} 2");
    has_line(t, "gate26_replies_total{door=\"internal\",class=\"3xx\"} 1");
    has_line(t, "gate26_replies_total{door=\"internal\",class=\"4xx\"} 1");
    has_line(t, "gate26_refusals_total{door=\"inbound\",reason=\"relay_denied\"} 2");
    has_line(t, "gate26_refusals_total{door=\"internal\",reason=\"storage\"} 1");
    has_line(t, "gate26_refusals_total{door=\"internal\",reason=\"relay_denied\"} 0");
    no_line_starting(t, "gate26_refusals_total{door=\"internal\",reason=\"queued\"}");
    no_line_starting(t, "gate26_refusals_total{door=\"internal\",reason=\"data_go\"}");
    has_line(t, "gate26_messages_accepted_total{door=\"internal\"} 2");
    has_line(t, "gate26_message_bytes_total{door=\"internal\"} 2468");
    has_line(t, "gate26_received_bytes_total{door=\"internal\"} 123");
    has_line(t, "gate26_auth_total{door=\"submission\",mechanism=\"PLAIN\",result=\"success\"} 1");
    has_line(t, "gate26_auth_total{door=\"submission\",mechanism=\"LOGIN\",result=\"failure\"} 2");
    has_line(t, "gate26_auth_total{door=\"submissions\",mechanism=\"none\",result=\"failure\"} 1");
    has_line(t, "gate26_auth_total{door=\"submissions\",mechanism=\"other\",result=\"locked\"} 1");
    has_line(t, "gate26_commands_total{door=\"internal\",verb=\"EHLO\"} 1");
    has_line(t, "gate26_commands_total{door=\"internal\",verb=\"unknown\"} 1");
    has_line(t, "gate26_commands_total{door=\"internal\",verb=\"STARTTLS\"} 0");
    has_line(t, "gate26_tls_handshakes_total{door=\"submissions\",version=\"TLSv1.3\"} 1");
    has_line(t, "gate26_tls_handshakes_total{door=\"submissions\",version=\"TLSv1.2\"} 1");
    has_line(t, "gate26_tls_handshakes_total{door=\"submissions\",version=\"other\"} 2");
    has_line(t, "gate26_tls_handshake_failures_total{door=\"inbound\"} 1");
    has_line(t, "gate26_deliveries_total{result=\"sent\"} 2");
    has_line(t, "gate26_deliveries_total{result=\"deferred\"} 1");
    has_line(t, "gate26_deliveries_total{result=\"bounced\"} 0");
    /* Buckets are cumulative; a value equal to a bound is in that bucket (le). */
    has_line(t, "gate26_delivery_duration_seconds_bucket{result=\"sent\",le=\"0.25\"} 0");
    has_line(t, "gate26_delivery_duration_seconds_bucket{result=\"sent\",le=\"0.5\"} 2");
    has_line(t, "gate26_delivery_duration_seconds_bucket{result=\"sent\",le=\"+Inf\"} 2");
    has_line(t, "gate26_delivery_duration_seconds_count{result=\"sent\"} 2");
    has_line(t, "gate26_delivery_duration_seconds_sum{result=\"sent\"} 0.8");
    has_line(t, "gate26_delivery_duration_seconds_bucket{result=\"deferred\",le=\"10\"} 0");
    has_line(t, "gate26_delivery_duration_seconds_bucket{result=\"deferred\",le=\"30\"} 1");
    has_line(t, "gate26_delivery_duration_seconds_sum{result=\"deferred\"} 30");
    has_line(t, "gate26_dns_lookups_total{result=\"nxdomain\"} 1");
    has_line(t, "gate26_dns_lookups_total{result=\"tempfail\"} 1");
    has_line(t, "gate26_dns_lookups_total{result=\"ok\"} 0");
    has_line(t, "gate26_dns_cache_total{result=\"hit\"} 2");
    has_line(t, "gate26_dns_cache_total{result=\"miss\"} 0");
    has_line(t, "# TYPE gate26_build_info gauge");
    has_line(t, "gate26_build_info{version=\"" GATE26_VERSION "\"} 1");
    free(t);
}

static void
test_commit_histograms(void **state)
{
    char *t;

    (void)state;
    metrics_commit_batch(1);
    metrics_commit_batch(3);
    metrics_commit_batch(5000);
    metrics_commit_latency(0.0001);
    metrics_commit_latency(0.003);
    metrics_commit_latency(0.0 / 0.0); /* NaN: not an observation */
    t = scrape(METRICS_FORMAT_TEXT);
    has_line(t, "# TYPE gate26_spool_commit_batch_messages histogram");
    has_line(t, "gate26_spool_commit_batch_messages_bucket{le=\"1\"} 1");
    has_line(t, "gate26_spool_commit_batch_messages_bucket{le=\"2\"} 1");
    has_line(t, "gate26_spool_commit_batch_messages_bucket{le=\"4\"} 2");
    has_line(t, "gate26_spool_commit_batch_messages_bucket{le=\"1024\"} 2");
    has_line(t, "gate26_spool_commit_batch_messages_bucket{le=\"+Inf\"} 3");
    has_line(t, "gate26_spool_commit_batch_messages_count 3");
    has_line(t, "gate26_spool_commit_batch_messages_sum 5004");
    has_line(t, "gate26_spool_commit_duration_seconds_bucket{le=\"0.0005\"} 1");
    has_line(t, "gate26_spool_commit_duration_seconds_bucket{le=\"0.0025\"} 1");
    has_line(t, "gate26_spool_commit_duration_seconds_bucket{le=\"0.005\"} 2");
    has_line(t, "gate26_spool_commit_duration_seconds_count 2");
    has_line(t, "gate26_spool_commit_duration_seconds_sum 0.0031");
    free(t);
}

static bool
read_fixed(void *arg, double *out)
{
    *out = *(double *)arg;
    return true;
}

static bool
read_none(void *arg, double *out)
{
    (void)arg;
    (void)out;
    return false;
}

static void
test_sources(void **state)
{
    double queue = 12, age = 3600.5, expiry = 1893456000;
    char *t;

    (void)state;
    t = scrape(METRICS_FORMAT_TEXT);
    /* No source: the family is declared, without a sample. */
    has_line(t, "# TYPE gate26_queue_messages gauge");
    no_line_starting(t, "gate26_queue_messages ");
    free(t);
    metrics_source(METRICS_SOURCE_QUEUE_MESSAGES, read_fixed, &queue);
    metrics_source(METRICS_SOURCE_QUEUE_OLDEST_AGE, read_fixed, &age);
    metrics_source(METRICS_SOURCE_QUEUE_DEFERRED, read_none, NULL);
    metrics_source(METRICS_SOURCE_TLS_CERT_EXPIRY, read_fixed, &expiry);
    metrics_source(METRICS_SOURCE_COUNT, read_fixed, &queue); /* ignored */
    t = scrape(METRICS_FORMAT_TEXT);
    has_line(t, "gate26_queue_messages 12");
    has_line(t, "gate26_queue_oldest_message_age_seconds 3600.5");
    no_line_starting(t, "gate26_queue_deferred_messages ");
    has_line(t, "gate26_tls_certificate_expiry_timestamp_seconds 1893456000");
    free(t);
    /* The process families: the open fds only after metrics_process_init(). */
    metrics_process_init();
    t = scrape(METRICS_FORMAT_TEXT);
    assert_non_null(strstr(t, "\nprocess_cpu_seconds_total "));
    assert_non_null(strstr(t, "\nprocess_resident_memory_bytes "));
    assert_non_null(strstr(t, "\nprocess_virtual_memory_bytes "));
    assert_non_null(strstr(t, "\nprocess_open_fds "));
    assert_non_null(strstr(t, "\nprocess_max_fds "));
    assert_non_null(strstr(t, "\nprocess_start_time_seconds "));
    assert_null(strstr(t, "\nprocess_open_fds 0\n"));
    free(t);
}

/* Hostile label values: the rule names of a configuration and the reasons of a reply. */
static void
test_hostile_labels(void **state)
{
    static const struct {
        const char *value;
        const char *written; /* as the exposition must show it between the quotes */
    } rows[] = {
        {"plain", "plain"},
        {"with \"quotes\"", "with \\\"quotes\\\""},
        {"back\\slash", "back\\\\slash"},
        {"line\nfeed", "line\\nfeed"},
        {"} 1\ngate26_evil_total 99", "} 1\\ngate26_evil_total 99"},
        {"tab\there", "tab?here"},
        {"cr\rhere", "cr?here"},
        {"del\x7fhere", "del?here"},
        {"esc\x1b[31m", "esc?[31m"},
        {"\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9"}, /* UTF-8 passes */
        {"\xe2\x82\xac", "\xe2\x82\xac"},           /* euro sign */
        {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},   /* 4 octets */
        {"bad\xc3", "bad?"},                        /* cut sequence */
        {"bad\xc3z", "bad?z"},                      /* not a continuation */
        {"\xc0\xaf", "??"},                         /* overlong */
        {"\xed\xa0\x80", "???"},                    /* surrogate */
        {"\xf4\x90\x80\x80", "????"},               /* above U+10FFFF */
        {"\xff\xfe", "??"},                         /* never in UTF-8 */
        {"\\\"\\n", "\\\\\\\"\\\\n"},               /* escapes of escapes */
    };
    const char *names[N_OF(rows)];
    char want[256];
    char *t;

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++)
        names[i] = rows[i].value;
    metrics_alert_rules(names, N_OF(rows));
    for (size_t i = 0; i < N_OF(rows); i++) {
        const char *reply[] = {"550", rows[i].value};

        note(WATCH_REPLY, DOOR_INBOUND, fill_reply, reply);
    }
    t = scrape(METRICS_FORMAT_TEXT);
    for (size_t i = 0; i < N_OF(rows); i++) {
        (void)snprintf(want, sizeof(want), "gate26_alerts_firing{rule=\"%s\"} 0", rows[i].written);
        has_line(t, want);
        (void)snprintf(want, sizeof(want),
                       "gate26_refusals_total{door=\"inbound\",reason=\"%s\"} 1", rows[i].written);
        has_line(t, want);
    }
    /* Nothing a value holds makes a line of its own. */
    no_line_starting(t, "gate26_evil_total");
    free(t);
    t = scrape(METRICS_FORMAT_OPENMETRICS);
    no_line_starting(t, "gate26_evil_total");
    has_line(t, "gate26_alerts_firing{rule=\"line\\nfeed\"} 0");
    free(t);
}

static void
test_alert_rules(void **state)
{
    static const char *const first[] = {"auth-burst", "spike", "auth-burst"};
    static const char *const second[] = {"spike", "queue"};
    char longname[METRICS_RULE_NAME_MAX + 20], want[256];
    char *t;

    (void)state;
    metrics_alert_rules(first, N_OF(first));
    metrics_alert_firing("auth-burst", 1);
    metrics_alert_firing("auth-burst", 1);
    metrics_alert_firing("spike", 1);
    metrics_alert_firing("spike", -1);
    metrics_alert_firing("spike", -1); /* never below 0 */
    metrics_alert_firing("undeclared", 1);
    t = scrape(METRICS_FORMAT_TEXT);
    has_line(t, "gate26_alerts_firing{rule=\"auth-burst\"} 2");
    has_line(t, "gate26_alerts_firing{rule=\"spike\"} 0");
    has_line(t, "gate26_alerts_firing{rule=\"undeclared\"} 1");
    /* Named twice: one sample. */
    assert_null(strstr(strstr(t, "rule=\"auth-burst\"") + 1, "rule=\"auth-burst\""));
    free(t);
    /* A reload: spike stays with its count, queue is new, auth-burst and undeclared go. */
    metrics_alert_firing("spike", 1);
    metrics_alert_rules(second, N_OF(second));
    t = scrape(METRICS_FORMAT_TEXT);
    has_line(t, "gate26_alerts_firing{rule=\"spike\"} 1");
    has_line(t, "gate26_alerts_firing{rule=\"queue\"} 0");
    assert_null(strstr(t, "auth-burst"));
    assert_null(strstr(t, "undeclared"));
    free(t);
    /* A long name is cut; the cap on rules holds. */
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    metrics_alert_firing(longname, 1);
    metrics_alert_firing(longname, 1); /* the same rule, cut the same way: not a second one */
    for (int i = 0; i < METRICS_RULES_MAX + 10; i++) {
        char name[32];

        (void)snprintf(name, sizeof(name), "r%d", i);
        metrics_alert_firing(name, 1);
    }
    t = scrape(METRICS_FORMAT_TEXT);
    longname[METRICS_RULE_NAME_MAX] = '\0';
    (void)snprintf(want, sizeof(want), "gate26_alerts_firing{rule=\"%s\"} 2", longname);
    has_line(t, want);
    has_line(t, "gate26_alerts_firing{rule=\"r252\"} 1");
    no_line_starting(t, "gate26_alerts_firing{rule=\"r253\"}");
    free(t);
}

/* A flood of distinct reasons: the table stops at its cap, nothing else changes. */
static void
test_reason_cap(void **state)
{
    char names[300][16];
    char *t;
    size_t lines = 0;

    (void)state;
    for (size_t i = 0; i < N_OF(names); i++) {
        const char *reply[2] = {"421", names[i]};

        (void)snprintf(names[i], sizeof(names[i]), "reason_%zu", i);
        note(WATCH_REPLY, DOOR_INBOUND, fill_reply, reply);
    }
    t = scrape(METRICS_FORMAT_TEXT);
    for (const char *p = t; (p = strstr(p, "\ngate26_refusals_total{door=\"inbound\"")) != NULL;
         p++)
        lines++;
    assert_int_equal(lines, 128);
    has_line(t, "gate26_refusals_total{door=\"inbound\",reason=\"reason_127\"} 1");
    no_line_starting(t, "gate26_refusals_total{door=\"inbound\",reason=\"reason_128\"}");
    /* Every refusal still counts as a reply of its class. */
    has_line(t, "gate26_replies_total{door=\"inbound\",class=\"4xx\"} 300");
    free(t);
    /* A reason longer than is kept is one reason, cut (as a flood of distinct ones would not
     * be). */
    metrics_reset();
    for (int i = 0; i < 3; i++) {
        static char name[80];
        const char *reply[2] = {"550", name};

        (void)snprintf(name, sizeof(name), "%060d_%d", 0, i); /* differ after octet 48 */
        note(WATCH_REPLY, DOOR_INBOUND, fill_reply, reply);
    }
    t = scrape(METRICS_FORMAT_TEXT);
    has_line(t, "gate26_refusals_total{door=\"inbound\",reason="
                "\"000000000000000000000000000000000000000000000000\"} 3");
    free(t);
}

/* The formats: content types, the names in # TYPE, HELP escaping, # EOF. */
static void
test_formats(void **state)
{
    char *t, *om;

    (void)state;
    assert_string_equal(metrics_content_type(METRICS_FORMAT_TEXT),
                        "text/plain; version=0.0.4; charset=utf-8");
    assert_string_equal(metrics_content_type(METRICS_FORMAT_OPENMETRICS),
                        "application/openmetrics-text; version=1.0.0; charset=utf-8");
    t = scrape(METRICS_FORMAT_TEXT);
    om = scrape(METRICS_FORMAT_OPENMETRICS);
    has_line(t, "# TYPE gate26_auth_total counter");
    has_line(om, "# TYPE gate26_auth counter");
    has_line(t, "# TYPE process_cpu_seconds_total counter");
    has_line(om, "# TYPE process_cpu_seconds counter");
    has_line(om, "# TYPE gate26_build info");
    has_line(om, "gate26_build_info{version=\"" GATE26_VERSION "\"} 1");
    has_line(om, "# TYPE gate26_delivery_duration_seconds histogram");
    has_line(om, "gate26_delivery_duration_seconds_bucket{result=\"sent\",le=\"+Inf\"} 0");
    /* Samples keep _total in both. */
    assert_non_null(strstr(om, "\ngate26_auth_total{door=\"inbound\""));
    /* OpenMetrics ends in # EOF, and only it. */
    assert_null(strstr(t, "# EOF"));
    assert_true(strlen(om) > 6 && strcmp(om + strlen(om) - 6, "# EOF\n") == 0);
    assert_int_equal(t[strlen(t) - 1], '\n');
    /* No blank line (OpenMetrics forbids them). */
    assert_null(strstr(om, "\n\n"));
    assert_null(strstr(t, "\n\n"));
    free(t);
    free(om);
}

/*
 * Every sample line belongs to the family declared last (its name, or a
 * suffix its type allows), and every family has # HELP then # TYPE; both
 * formats.
 */
static void
test_structure(void **state)
{
    enum metrics_format formats[] = {METRICS_FORMAT_TEXT, METRICS_FORMAT_OPENMETRICS};
    const char *reply[] = {"550", "relay_denied"};

    (void)state;
    note(WATCH_REPLY, DOOR_INBOUND, fill_reply, reply);
    metrics_alert_firing("r", 1);
    metrics_process_init();
    for (size_t k = 0; k < N_OF(formats); k++) {
        char *t = scrape(formats[k]), *save = NULL;
        char family[128] = "", type[32] = "";
        size_t families = 0, samples = 0;

        for (char *line = strtok_r(t, "\n", &save); line != NULL;
             line = strtok_r(NULL, "\n", &save)) {
            char name[128];
            size_t n = strcspn(line, "{ ");

            if (strncmp(line, "# HELP ", 7) == 0) {
                assert_true(sscanf(line, "# HELP %127s", family) == 1);
                type[0] = '\0';
                families++;
                continue;
            }
            if (strncmp(line, "# TYPE ", 7) == 0) {
                char again[128];

                assert_true(sscanf(line, "# TYPE %127s %31s", again, type) == 2);
                assert_string_equal(again, family);
                continue;
            }
            if (strcmp(line, "# EOF") == 0)
                continue;
            assert_true(line[0] != '#');
            assert_true(type[0] != '\0');
            assert_true(n < sizeof(name));
            memcpy(name, line, n);
            name[n] = '\0';
            samples++;
            if (strcmp(type, "histogram") == 0) {
                size_t f = strlen(family);

                assert_true(strncmp(name, family, f) == 0);
                assert_true(strcmp(name + f, "_bucket") == 0 || strcmp(name + f, "_count") == 0 ||
                            strcmp(name + f, "_sum") == 0);
            } else if (formats[k] == METRICS_FORMAT_OPENMETRICS && strcmp(type, "counter") == 0) {
                assert_true(strlen(name) == strlen(family) + 6);
                assert_true(strncmp(name, family, strlen(family)) == 0);
                assert_string_equal(name + strlen(family), "_total");
            } else if (formats[k] == METRICS_FORMAT_OPENMETRICS && strcmp(type, "info") == 0) {
                assert_true(strncmp(name, family, strlen(family)) == 0);
                assert_string_equal(name + strlen(family), "_info");
            } else {
                assert_string_equal(name, family);
            }
            /* Names: gate26_ or process_, lower case, digits and '_'. */
            assert_true(strncmp(name, "gate26_", 7) == 0 || strncmp(name, "process_", 8) == 0);
            assert_true(strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(name));
            /* A counter's name ends in _total in the text format. */
            if (formats[k] == METRICS_FORMAT_TEXT && strcmp(type, "counter") == 0)
                assert_string_equal(name + strlen(name) - 6, "_total");
        }
        assert_int_equal(families, 38);
        assert_true(samples > 100);
        free(t);
    }
}

/* Numbers: the shortest form that reads back, integers as integers. */
static void
test_numbers(void **state)
{
    static const struct {
        double v;
        const char *sum;
    } rows[] = {
        {0.1, "0.1"},
        {1e-07, "1e-07"},
        {123456789012, "123456789012"},
        {0.30000000000000004, "0.30000000000000004"},
        {2.5, "2.5"},
        {1e300, "1e+300"},
    };

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        char want[128];
        char *t;

        metrics_reset();
        metrics_commit_latency(rows[i].v);
        t = scrape(METRICS_FORMAT_TEXT);
        (void)snprintf(want, sizeof(want), "gate26_spool_commit_duration_seconds_sum %s",
                       rows[i].sum);
        has_line(t, want);
        free(t);
    }
}

/* The door labels are the roles' names (conf_role_name). */
static void
test_door_names(void **state)
{
    char *t;

    (void)state;
    metrics_received(DOOR_ROLE_COUNT, 1); /* ignored */
    t = scrape(METRICS_FORMAT_TEXT);
    for (int d = 0; d < DOOR_ROLE_COUNT; d++) {
        char want[128];

        (void)snprintf(want, sizeof(want), "gate26_received_bytes_total{door=\"%s\"} 0",
                       conf_role_name((enum door_role)d));
        has_line(t, want);
    }
    free(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_events, setup),
        cmocka_unit_test_setup(test_commit_histograms, setup),
        cmocka_unit_test_setup(test_sources, setup),
        cmocka_unit_test_setup(test_hostile_labels, setup),
        cmocka_unit_test_setup(test_alert_rules, setup),
        cmocka_unit_test_setup(test_reason_cap, setup),
        cmocka_unit_test_setup(test_formats, setup),
        cmocka_unit_test_setup(test_structure, setup),
        cmocka_unit_test_setup(test_numbers, setup),
        cmocka_unit_test_setup(test_door_names, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
