/* SPDX-License-Identifier: MIT */
/*
 * The configuration: one file, read at start and on SIGHUP, checked by
 * `gate26 configtest`. conf_load() turns the file into a struct conf whose
 * every field is validated and defaulted, so the rest of the daemon never
 * re-checks a setting. The syntax (statements `key value...`, blocks
 * `name [label] { ... }`, `#` comments, double-quoted strings) and every key
 * are documented in docs/config.md; this header is their C shape.
 *
 * A struct conf is reference counted: a reload builds a new one while
 * sessions that started under the old one keep it until they end.
 */
#ifndef GATE26_CONF_CONF_H
#define GATE26_CONF_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/caps.h"
#include "lib/log.h"

/* The doors (listener roles) of DESIGN.md. */
enum door_role {
    DOOR_INBOUND,     /* port 25: mail for our domains, from anyone */
    DOOR_INTERNAL,    /* port 26: our own servers, by allow list */
    DOOR_SUBMISSION,  /* 587 (or 26): users, STARTTLS then AUTH */
    DOOR_SUBMISSIONS, /* 465: users, implicit TLS then AUTH */
    DOOR_ROLE_COUNT,
};

/* "inbound", "internal", "submission", "submissions". */
const char *conf_role_name(enum door_role role);

enum conf_tls_mode {
    CONF_TLS_NONE,              /* tls none */
    CONF_TLS_STARTTLS,          /* tls starttls */
    CONF_TLS_STARTTLS_REQUIRED, /* tls starttls required */
    CONF_TLS_IMPLICIT,          /* tls implicit */
};

/* "none", "starttls", "starttls required", "implicit": the words of the tls key. */
const char *conf_tls_mode_name(enum conf_tls_mode mode);

/*
 * Outbound TLS of the SMTP client (delivery { tls } and domain NAME { tls }):
 * whether to use STARTTLS, and what a failure to get it or to verify the
 * server's certificate means.
 */
enum conf_tls_policy {
    CONF_TLS_POLICY_NONE,    /* tls none: never STARTTLS */
    CONF_TLS_POLICY_MAY,     /* tls may: STARTTLS when offered, any certificate (RFC 7435) */
    CONF_TLS_POLICY_ENCRYPT, /* tls encrypt: STARTTLS required, any certificate */
    CONF_TLS_POLICY_VERIFY,  /* tls verify: STARTTLS required, chain and name verified */
};

/* "none", "may", "encrypt", "verify": the words of the tls key of delivery and domain. */
const char *conf_tls_policy_name(enum conf_tls_policy policy);

/* An IPv4 or IPv6 network: addr holds 4 or 16 bytes (family AF_INET/AF_INET6). */
struct conf_cidr {
    int family;
    unsigned char addr[16];
    unsigned prefix;
};

/* N events per period (a key written N/DURATION, or off). */
struct conf_rate {
    unsigned n;      /* 0: off */
    unsigned period; /* seconds */
};

/* A listening address as written (text) and resolved (sa). */
struct conf_addr {
    struct sockaddr_storage sa;
    socklen_t sa_len;
    char text[64]; /* "127.0.0.1:2525", "[::1]:2525" */
    unsigned line; /* where it was written, for messages */
};

struct conf_listen {
    enum door_role role;
    unsigned line; /* where the block starts, for messages */
    struct conf_addr *addrs;
    size_t n_addrs;
    struct conf_cidr *allow; /* empty: anyone (not allowed for internal) */
    size_t n_allow;
    struct conf_cidr *deny; /* refused even when allow holds them */
    size_t n_deny;
    enum conf_tls_mode tls;
    bool auth_required;
    uint64_t max_message_size; /* octets; SIZE advertises it */
    unsigned max_recipients;
    unsigned max_errors;
    unsigned max_sessions;
    unsigned timeout_command;         /* seconds, RFC 5321 4.5.3.2.7 */
    unsigned timeout_data;            /* seconds between data blocks, RFC 5321 4.5.3.2.5/6 */
    unsigned max_sessions_per_client; /* one client address (IPv6: its /64); 0: no limit */
    struct conf_rate connection_rate; /* connections from one client address */
    struct conf_rate message_rate;    /* MAIL commands accepted from one client address */
    struct conf_rate sender_rate;     /* MAIL commands accepted for one envelope sender */
    struct conf_cidr *limits_exempt;  /* not counted by the per-client limits above */
    size_t n_limits_exempt;
    /* proxy-protocol NET...: connections from these start with a PROXY v1/v2 header
       (docs/scanners.md); none: no PROXY header is accepted on this door */
    struct conf_cidr *proxy_from;
    size_t n_proxy_from;
    unsigned proxy_line;  /* of the proxy-protocol key; 0: not written */
    bool scanners_refuse; /* scanners refuse: close fingerprinted sources before the greeting */
};

/* A next hop written as smtp://host[:port], smtp://[address]:port or smtps://... */
struct conf_route {
    char host[CAP_DOMAIN + 1]; /* name or address, without brackets */
    unsigned port;             /* 25 when not written (465 for smtps) */
    bool bracketed;            /* [host]: no MX lookup (as in Postfix) */
    bool smtps;                /* smtps://: TLS from the first byte (RFC 8314 3.3) */
    int family;                /* AF_INET/AF_INET6 when host is an address, else AF_UNSPEC */
};

/* The longest user name and password of a relay-auth file (RFC 4616 2: 255 octets each). */
#define CONF_RELAY_AUTH_MAX 255

/*
 * relay-auth FILE: the login gate26 gives a relay (SMTP AUTH, RFC 4954),
 * read from FILE when the configuration is loaded (docs/config.md, "The
 * relay-auth file"). The password is wiped when the conf is freed; it is
 * never logged.
 */
struct conf_relay_auth {
    char file[CAP_PATH];                    /* absolute */
    unsigned line;                          /* of the relay-auth key, for messages */
    char user[CONF_RELAY_AUTH_MAX + 1];     /* 1..255 octets */
    char password[CONF_RELAY_AUTH_MAX + 1]; /* 1..255 octets */
};

/* The most URLs one relay or relay-host line may hold. */
#define CONF_RELAYS_MAX 8

/*
 * domain NAME { relay URL... relay-auth FILE } and delivery { relay-host
 * URL... relay-auth FILE }: the URLs in the order they are tried, and the
 * login for them all.
 */
struct conf_relays {
    struct conf_route *urls;      /* n of them; NULL when n is 0 */
    size_t n;                     /* 0: not configured */
    unsigned line;                /* of the relay or relay-host key */
    struct conf_relay_auth *auth; /* NULL: no AUTH */
};

/* domain NAME { verify-recipients ... }: how RCPT checks a recipient (docs/verify.md). */
enum conf_verify {
    CONF_VERIFY_OFF,     /* every local part is taken */
    CONF_VERIFY_CALLOUT, /* ask the domain's relay with an SMTP RCPT probe; answers cached */
    CONF_VERIFY_FILE,    /* look it up in a list file (conf->verify_files) */
};

struct conf_domain {
    char name[CAP_DOMAIN + 1]; /* lower case, no trailing dot */
    unsigned line;
    struct conf_relays relay;        /* relay.n == 0: the domain's MX */
    enum conf_tls_policy tls_policy; /* its tls key, else delivery's */
    bool has_tls_policy;             /* the block has its own tls key */
    enum conf_verify verify;         /* its verify-recipients; default callout with a relay */
    size_t verify_file;              /* CONF_VERIFY_FILE: index in conf->verify_files */
};

/* A recipient list named by verify-recipients FILE (each file once, however many blocks). */
struct conf_verify_file {
    char path[CAP_PATH]; /* absolute */
    unsigned line;       /* the first verify-recipients line that names it */
};

/* delivery { tls-policy DOMAIN POLICY }: a remote destination's outgoing TLS. */
struct conf_tls_dest {
    char domain[CAP_DOMAIN + 1]; /* lower case, no trailing dot */
    bool subdomains;             /* written ".domain": its subdomains, not itself */
    enum conf_tls_policy policy;
    unsigned line;
};

/* One certificate of the tls block: a cert line and the key line after it. */
struct conf_tls_pair {
    char cert[CAP_PATH]; /* absolute; PEM, the certificate then its chain */
    char key[CAP_PATH];  /* absolute; PEM private key */
    unsigned line;       /* of the cert line, for messages */
    unsigned key_line;   /* of its key line */
};

/* The most cert/key pairs one tls block may hold. */
#define CONF_TLS_PAIRS_MAX 32
/* Room for the ciphers value with its NUL. */
#define CONF_TLS_CIPHERS_CAP 512

#define CONF_RETRY_MAX 32

/*
 * auth { sender USER ADDRESS... }: a sender address (local@domain) or a
 * whole domain (@domain) the user may put in MAIL FROM on a submission door,
 * beside its login when the login is an address.
 */
struct conf_sender {
    char user[CAP_AUTH_USER + 1];
    char pattern[CAP_MAILBOX + 1]; /* "alice@example.com" or "@example.com"; domain lower case */
    unsigned line;
};

/*
 * auth { app-passwords off | required | totp-users }: when SMTP AUTH refuses
 * the main password, so that only app passwords (account/) log in.
 */
enum conf_app_passwords {
    CONF_APP_PASSWORDS_OFF,        /* the main password works too (the default) */
    CONF_APP_PASSWORDS_REQUIRED,   /* for everyone: only app passwords */
    CONF_APP_PASSWORDS_TOTP_USERS, /* for the users enrolled in TOTP */
};

/* metrics { bearer-token-file | basic-auth-file }: what a scrape must present. */
enum conf_metrics_auth {
    CONF_METRICS_AUTH_NONE,   /* anyone the allow list lets in */
    CONF_METRICS_AUTH_BEARER, /* Authorization: Bearer TOKEN (RFC 6750 2.1) */
    CONF_METRICS_AUTH_BASIC,  /* Authorization: Basic base64(USER:PASSWORD) (RFC 7617) */
};

/* The octets of a SHA-256 digest. */
#define CONF_METRICS_DIGEST_LEN 32
/* The most addresses of the metrics block. */
#define CONF_METRICS_ADDRS_MAX 16

/*
 * metrics { address ADDR...  allow NET...  bearer-token-file FILE | basic-auth-file FILE }:
 * the Prometheus endpoint (docs/metrics.md). The secret itself is not kept:
 * only its SHA-256, which a scrape's credentials are compared with in
 * constant time.
 */
struct conf_metrics {
    unsigned line; /* of `metrics {`; 0: no block, no endpoint */
    struct conf_addr *addrs;
    size_t n_addrs;
    struct conf_cidr *allow; /* the block's allow lines; without any: 127.0.0.0/8 and ::1 */
    size_t n_allow;
    enum conf_metrics_auth auth;
    char auth_file[CAP_PATH]; /* absolute; the token or USER:PASSWORD file */
    unsigned auth_line;       /* of its key */
    unsigned char auth_digest[CONF_METRICS_DIGEST_LEN]; /* SHA-256 of TOKEN or USER:PASSWORD */
};

/* The most ports of watch { ports }. */
#define CONF_WATCH_PORTS_MAX 32

/*
 * watch { capture any|IFACE  ports N...  block-scanners DURATION } (docs/scanners.md):
 * the sensor's capture of SYNs and its nftables blocking.
 */
struct conf_watch {
    unsigned line;         /* of `watch {`; 0: no block */
    char capture[16];      /* "any" or an interface name (IFNAMSIZ); "": no capture */
    unsigned capture_line; /* of its key */
    unsigned ports[CONF_WATCH_PORTS_MAX]; /* the ports key's, as written (each 1-65535) */
    size_t n_ports;          /* the watched ports are these, every door's port and 26 */
    unsigned block_scanners; /* seconds a fingerprinted source stays in set scanners; 0: off */
    unsigned block_line;     /* of its key */
};

/* ---- Content checks (docs/checks.md) ---- */

/* checks DOOR { dkim ... }: what DKIM does on the door (bits). */
#define CONF_DKIM_VERIFY 1u /* verify every signature (inbound) */
#define CONF_DKIM_SIGN   2u /* sign with the dkim blocks' keys (outgoing doors) */

/* checks DOOR { dmarc ... } */
enum conf_dmarc {
    CONF_DMARC_OFF,     /* not evaluated */
    CONF_DMARC_REPORT,  /* evaluated, in Authentication-Results only */
    CONF_DMARC_ENFORCE, /* p=reject: 550; p=quarantine: quarantine */
};

/* What a check's verdict does to the message. */
enum conf_check_action {
    CONF_ACTION_REJECT,     /* 5xx at the end of the data */
    CONF_ACTION_QUARANTINE, /* accepted into the quarantine, never delivered */
};

/* Caps on a checks block. */
#define CONF_CHECKS_ZONES_MAX   8   /* dnsbl zones, and dnswl zones */
#define CONF_CHECKS_MILTERS_MAX 8   /* milter lines */
#define CONF_CHECKS_TARGET_MAX  512 /* octets of a scanner's address or URL */

/* A score of spam-reject, spam-quarantine or spam-header; set false: not written (off). */
struct conf_score {
    bool set;
    double value;
};

/*
 * checks DOOR { ... }: the content checks of one door (docs/checks.md).
 * line 0: the door has no checks block (nothing is checked).
 */
struct conf_checks {
    unsigned line;
    bool spf;      /* spf on */
    unsigned dkim; /* CONF_DKIM_* bits */
    enum conf_dmarc dmarc;
    char *dnsbl[CONF_CHECKS_ZONES_MAX]; /* zones, lower case, no trailing dot */
    size_t n_dnsbl;
    char *dnswl[CONF_CHECKS_ZONES_MAX];
    size_t n_dnswl;
    bool dnsbl_at_rcpt; /* dnsbl-reply rcpt: refuse at RCPT, not on the greeting */
    unsigned greylist;  /* seconds a triplet waits; 0: off */
    char antivirus[CONF_CHECKS_TARGET_MAX]; /* clamd's unix:/PATH or tcp:HOST:PORT; "": none */
    enum conf_check_action antivirus_action;
    char spam[CONF_CHECKS_TARGET_MAX]; /* rspamd's http(s):// URL; "": none */
    struct conf_score spam_reject, spam_quarantine, spam_header;
    char *milters[CONF_CHECKS_MILTERS_MAX]; /* unix:/PATH or inet:PORT@HOST, in order */
    size_t n_milters;
    bool on_error_accept; /* on-error accept (default tempfail: 451 4.7.0) */
    unsigned timeout;     /* seconds each checker may take; default 30 */
    unsigned dkim_line, dmarc_line, spam_line, milter_line; /* where written; 0: not */
};

/* The most keys of one dkim block, and the most dkim blocks. */
#define CONF_DKIM_KEYS_MAX    2 /* an RSA and an Ed25519 key: dual signing */
#define CONF_DKIM_DOMAINS_MAX 10000

/* dkim DOMAIN { selector S...  key FILE... }: how mail from DOMAIN is signed. */
struct conf_dkim {
    char domain[CAP_DOMAIN + 1]; /* lower case */
    unsigned line;
    char selector[CONF_DKIM_KEYS_MAX][64];  /* the n-th key's selector */
    char key[CONF_DKIM_KEYS_MAX][CAP_PATH]; /* absolute paths of the private keys */
    unsigned key_line[CONF_DKIM_KEYS_MAX];
    size_t n_keys;
};

/* alert NAME { when ... }: what a rule counts or watches (docs/watch.md, "Alerts"). */
enum conf_alert_when {
    CONF_ALERT_FAILED_AUTH, /* failed and locked AUTH exchanges */
    CONF_ALERT_CONNECTIONS, /* connections at a door, whatever became of them */
    CONF_ALERT_MESSAGES,    /* messages accepted */
    CONF_ALERT_REFUSED,     /* 5xx replies */
    CONF_ALERT_SPIKE,       /* messages per minute against the key's own baseline */
    CONF_ALERT_QUEUE,       /* messages queued now (over N), or the oldest one's age */
    CONF_ALERT_DEFERRED,    /* deferred deliveries, per destination domain */
    CONF_ALERT_TLS_EXPIRY,  /* our own certificates' notAfter */
    CONF_ALERT_SCANNER,     /* Mirai SYNs and scanner sessions (docs/scanners.md) */
    CONF_ALERT_WHEN_COUNT,
};

/* "failed-auth", "connections", ...: the words of the when key. */
const char *conf_alert_when_name(enum conf_alert_when when);

/* alert NAME { per ... }: what one count is kept for. */
enum conf_alert_per {
    CONF_ALERT_PER_ALL,    /* one count for everything (the default) */
    CONF_ALERT_PER_CLIENT, /* a client address (IPv6: its /64) */
    CONF_ALERT_PER_USER,   /* an authenticated user (failed-auth: the name tried) */
    CONF_ALERT_PER_DOOR,   /* a door (role) */
    CONF_ALERT_PER_COUNT,
};

/* "all", "client", "user", "door". */
const char *conf_alert_per_name(enum conf_alert_per per);

#define CONF_ALERTS_MAX        64   /* alert blocks in one file */
#define CONF_ALERT_NAME_MAX    63   /* octets of a rule's name (a metric label value) */
#define CONF_ALERT_ACTIONS_MAX 8    /* webhook, mail and exec lines, each, per rule */
#define CONF_ALERT_URL_MAX     1024 /* octets of a webhook URL */

/*
 * One alert rule. The counting definition (when, threshold, window, per,
 * doors, factor, baseline, age, within) says what is counted and when it
 * fires; the actions (webhooks, mails, execs) say who is told. A reload
 * keeps the counts of a rule whose counting definition is unchanged.
 */
struct conf_alert {
    char name[CONF_ALERT_NAME_MAX + 1];
    unsigned line; /* of `alert NAME {` */
    enum conf_alert_when when;
    unsigned threshold;      /* over N / min N (spike) / queue over N; 0: not used */
    unsigned window;         /* seconds of the sliding window (in W); 0: polled kinds */
    enum conf_alert_per per; /* deferred: always per destination domain */
    unsigned doors;          /* bit (1u << role) per door key; 0: every door */
    double factor;           /* spike: fire at factor x baseline; default 3 */
    unsigned baseline;       /* spike: seconds the baseline is learned over; default 1h */
    unsigned age;            /* queue age over D: seconds; 0: queue over N */
    unsigned within;         /* tls-expiry: seconds before notAfter */
    bool hold;               /* action hold */
    char *webhooks[CONF_ALERT_ACTIONS_MAX]; /* http:// or https:// URLs */
    size_t n_webhooks;
    char *mails[CONF_ALERT_ACTIONS_MAX]; /* local@domain */
    size_t n_mails;
    char *execs[CONF_ALERT_ACTIONS_MAX];         /* absolute paths of executable files */
    unsigned exec_lines[CONF_ALERT_ACTIONS_MAX]; /* where each was written */
    size_t n_execs;
    unsigned per_line, hold_line; /* where written, for check.c's messages; 0: not written */
};

/* True when a and b count the same thing the same way (their actions may differ). */
bool conf_alert_same_counting(const struct conf_alert *a, const struct conf_alert *b);

/* console { admins }: at most this many names, each 1..64 octets (a passwd user name). */
#define CONF_CONSOLE_ADMINS_MAX 64
#define CONF_CONSOLE_ADMIN_CAP  65

struct conf {
    unsigned refs;
    char path[CAP_PATH];             /* the file, as given */
    char hostname[CAP_HOSTNAME + 1]; /* default: gethostname() */
    char spool[CAP_PATH];            /* absolute; default /var/spool/gate26 */
    char user[64];                   /* empty: do not change user */
    enum log_level log_level;        /* default info */
    unsigned max_sessions;           /* all doors together; default 1000 */

    /* Where keys were written, for the messages about them; 0: not written (the default). */
    unsigned hostname_line, spool_line, user_line;
    unsigned tls_ca_file_line, tls_ciphers_line;
    unsigned auth_line, auth_passwd_line; /* `auth {` and its passwd line */

    bool has_tls;                    /* the tls block has a certificate: TLS may be served */
    char tls_cert[CAP_PATH];         /* the first (default) pair: tls_pairs[0].cert */
    char tls_key[CAP_PATH];          /* and tls_pairs[0].key */
    struct conf_tls_pair *tls_pairs; /* in file order; the first is the default, the others */
    size_t n_tls_pairs;              /* are chosen by SNI; 0 without a certificate */
    char tls_ca_file[CAP_PATH];      /* ca-file: CA bundle for tls verify; empty: system's */
    char tls_ciphers[CONF_TLS_CIPHERS_CAP]; /* ciphers (TLS 1.2); empty: src/tls's default */

    struct conf_listen *listens;
    size_t n_listens;
    struct conf_domain *domains; /* sorted by name */
    size_t n_domains;
    struct conf_verify_file *verify_files; /* the list files of verify-recipients, in file order */
    size_t n_verify_files;
    unsigned callout_timeout; /* seconds: the whole budget of one recipient callout; default 30 */

    char auth_passwd[CAP_PATH];         /* empty: no auth block */
    struct conf_rate auth_max_failures; /* failed AUTH per client address and per user: 5/10m */
    unsigned auth_lockout;              /* seconds, the first lock; doubles per repeat: 10m */
    struct conf_sender *auth_senders;   /* sender lines, in file order */
    size_t n_auth_senders;
    struct conf_rate auth_user_rate; /* messages per authenticated user; default off */
    /* lockout-exempt: clients never locked, their failures counted against the user only */
    struct conf_cidr *auth_lockout_exempt;
    size_t n_auth_lockout_exempt;
    enum conf_app_passwords auth_app_passwords; /* app-passwords: when the main one is refused */

    bool has_resolver; /* resolver ADDR:PORT; else the system's (/etc/resolv.conf) */
    struct conf_addr resolver;

    unsigned retry[CONF_RETRY_MAX]; /* seconds between attempts; the last repeats */
    size_t n_retry;
    unsigned give_up;              /* seconds after arrival: then bounce */
    unsigned delay_warning;        /* seconds after arrival: warn the sender once; 0: never */
    struct conf_relays relay_host; /* delivery { relay-host URL... }: the smarthosts of domains
                                      without a relay; n == 0: none */
    unsigned max_deliveries;       /* transactions in flight, all destinations; default 500 */
    unsigned max_per_destination;  /* in flight to one next hop or domain; default 20 */
    unsigned timeout_connect;      /* seconds; default 30 */
    unsigned timeout_command; /* greeting, EHLO, MAIL, RCPT, DATA (RFC 5321 4.5.3.2); default 300 */
    unsigned timeout_data;    /* a data block sent, and the reply to the final dot; default 600 */
    bool queue_only;          /* accept and queue, deliver nothing (maintenance); default no */
    unsigned connection_reuse; /* seconds an idle delivery connection is kept; 0: off; default 2 */
    enum conf_tls_policy tls_policy; /* delivery { tls }: domains without their own; default may */
    struct conf_tls_dest *tls_dests; /* delivery { tls-policy ... } lines, in file order */
    size_t n_tls_dests;

    struct conf_metrics metrics; /* the metrics block; metrics.line 0: none */
    struct conf_alert *alerts;   /* alert blocks, in file order (docs/watch.md) */
    size_t n_alerts;
    struct conf_watch watch; /* the watch block; watch.line 0: none */

    struct conf_checks checks[DOOR_ROLE_COUNT]; /* checks DOOR blocks, by role */
    struct conf_dkim *dkims;                    /* dkim blocks, sorted by domain */
    size_t n_dkims;
    unsigned quarantine_keep; /* quarantine { keep }: seconds; default 30 days */
    unsigned quarantine_line; /* of `quarantine {`; 0: none */
    unsigned tracking_keep;   /* tracking { keep }: seconds; default 30 days */
    bool tracking_off;        /* tracking { enabled no } */
    unsigned tracking_line;   /* of `tracking {`; 0: none */
    /* console { address, admins } (docs/console.md): `gate26 console`; console_line 0: none */
    struct conf_addr console_address; /* default 127.0.0.1:8026 */
    char console_admins[CONF_CONSOLE_ADMINS_MAX][CONF_CONSOLE_ADMIN_CAP];
    size_t n_console_admins;
    unsigned console_line;
    /* local-submit { socket, maildrop, enabled } (docs/packaging.md): gate26 sendmail's way in */
    char local_submit_socket[CAP_PATH];   /* default CONF_LOCAL_SUBMIT_SOCKET */
    char local_submit_maildrop[CAP_PATH]; /* default CONF_LOCAL_SUBMIT_MAILDROP */
    bool local_submit_off;                /* enabled no */
    unsigned local_submit_line;           /* of `local-submit {`; 0: none (on, the defaults) */
};

#define CONF_LOCAL_SUBMIT_SOCKET   "/run/gate26/submit"
#define CONF_LOCAL_SUBMIT_MAILDROP "/var/spool/gate26-maildrop"

/* True when user is one of console { admins } (compared exactly, as the passwd file's names). */
bool conf_console_admin(const struct conf *c, const char *user);

/* The dkim block of domain (any case), or NULL. */
const struct conf_dkim *conf_find_dkim(const struct conf *c, const char *domain);

/*
 * Reads and validates the file at path. Relative paths inside it are taken
 * relative to the file's directory. Returns a new conf with one reference
 * (free with conf_unref), or NULL with "FILE:LINE: what was expected" in err
 * (capacity errcap) when the file cannot be read or is wrong.
 */
struct conf *conf_load(const char *path, char *err, size_t errcap);

/*
 * conf_load() of text (len octets, borrowed for the call) instead of the
 * file's contents: path names it in messages and its directory is the base
 * of relative paths, but it is not read. For fuzzing, tests and a config
 * given on standard input. Same result and ownership as conf_load().
 */
struct conf *conf_load_text(const char *path, const char *text, size_t len, char *err,
                            size_t errcap);

/* Takes one more reference; returns c. */
struct conf *conf_ref(struct conf *c);

/* Drops one reference and frees c with the last; conf_unref(NULL) does nothing. */
void conf_unref(struct conf *c);

/* The domain block for name (len octets, any case, trailing dot allowed), or NULL. */
const struct conf_domain *conf_find_domain(const struct conf *c, const char *name, size_t len);

/*
 * The outgoing TLS policy for mail to domain (lower case): its tls-policy
 * line (an exact one first, then the longest ".parent" one), else its
 * domain block's tls, else delivery { tls }.
 */
enum conf_tls_policy conf_tls_policy_for(const struct conf *c, const char *domain);

/* "192.0.2.0/24", "2001:db8::/32": a network as configuration files write it, into out. */
void conf_cidr_text(const struct conf_cidr *n, char *out, size_t cap);

/* True when addr (4 or 16 bytes of family) is inside one of the n networks. */
bool conf_cidr_match(const struct conf_cidr *nets, size_t n, int family, const void *addr);

#endif
