/* SPDX-License-Identifier: MIT */
/*
 * gate26 check: what listens on the mail ports here (--local), and what a
 * remote host's mail ports answer, with a verdict per finding. The parts:
 *
 *   check.c   the command line: arguments, which checks run, exit status
 *   local.c   --local: listening sockets from /proc/net/tcp{,6} and their
 *             owners from /proc/PID (fd links, cmdline, status)
 *   probe.c   one remote port: connect, greeting, EHLO, STARTTLS or
 *             implicit TLS, AUTH before TLS, VRFY/EXPN, the open-relay
 *             test (up to RCPT only), the smuggling test (--intrusive);
 *             on the libevent loop, many ports at once
 *   mx.c      --mx: the domain's MX hosts (and null MX), reverse DNS and
 *             whether it confirms forward, through src/dns
 *   own.c     this machine's own doors: a relay that the configuration's
 *             allow list grants the prober is no open relay
 *   target.c  the targets of the command line (HOST[:PORT], smtp://, smtps://)
 *   report.c  the findings as a table (colour only on a terminal) or JSON
 *
 * Every part fills the same structures below; report.c prints them and
 * check.c derives the exit status: 0 all ok (info counts as ok), 1 a
 * warning, 2 a critical finding, 3 a usage error, 4 the check itself could
 * not run (local trouble: /proc unreadable, no DNS, no memory for the loop).
 */
#ifndef GATE26_CHECK_CHECK_H
#define GATE26_CHECK_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

enum check_level {
    CHECK_OK,
    CHECK_INFO, /* a fact, no judgement */
    CHECK_WARN,
    CHECK_CRIT,
};

/* "ok", "info", "warn", "critical". */
const char *check_level_name(enum check_level l);

/* One finding: a stable id for scripts, a level, and a sentence for people. */
struct check_finding {
    char id[48]; /* "auth-before-tls", "open-relay", "cert-expired", ... */
    enum check_level level;
    char text[512]; /* printable ASCII */
    char fix[256];  /* one line: what to do about it (gate26 audit); "" when none */
};

/* A growable list of findings (the list owns its array). */
struct check_findings {
    struct check_finding *v;
    size_t n, cap;
};

/* Appends a finding; text is printf-style. Never fails (aborts on no memory). */
void check_add(struct check_findings *f, const char *id, enum check_level level, const char *fmt,
               ...) __attribute__((format(printf, 4, 5)));
/* Sets the fix of the finding added last (printf-style, printable ASCII); f must not be empty. */
void check_fix(struct check_findings *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void check_findings_free(struct check_findings *f);
/* The worst level in f (CHECK_OK when empty). */
enum check_level check_worst(const struct check_findings *f);

/* The exit statuses of gate26 check. */
#define CHECK_EXIT_OK      0
#define CHECK_EXIT_WARN    1
#define CHECK_EXIT_CRIT    2
#define CHECK_EXIT_USAGE   3
#define CHECK_EXIT_TROUBLE 4

/* 0 for ok and info, 1 for warn, 2 for critical. */
int check_exit_status(enum check_level worst);

/* ---- local (local.c) ---- */

/* One listening TCP socket on a port asked about. */
struct check_listener {
    unsigned port;
    int family;        /* AF_INET or AF_INET6 */
    char addr[64];     /* "0.0.0.0", "::", "127.0.0.1" */
    char scope[16];    /* "all" (any address), "loopback", "address" (one address) */
    long pid;          /* -1 when not found (another user's process, or gone) */
    char command[256]; /* cmdline, spaces between arguments, printable ASCII */
    char user[64];     /* owner of the process (or of the socket, when no pid) */
    bool is_gate26;
    char role[16];   /* gate26's door on this address, from -c FILE, or "" */
    bool dual_stack; /* on :: with IPV6_V6ONLY off: takes IPv4 connections too */
    struct check_findings findings;
};

struct check_local {
    unsigned *ports; /* the ports looked at, ascending */
    size_t n_ports;
    struct check_listener *v; /* by port, IPv4 first, then address */
    size_t n;
    unsigned *ports_free; /* ports asked about that nobody listens on */
    size_t n_free;
    struct check_findings findings; /* about the whole (e.g. "port 26: nobody listens") */
};

/*
 * Scans the listeners on ports[0..n_ports) (IPv4 and IPv6); n_ports 0 means
 * 25, 26, 465, 587 and, with a configuration, the ports of its doors.
 * conf_path, when not NULL, is a gate26 configuration whose doors name the
 * roles (an internal door on a public address whose allow list admits
 * everyone is a warning). Returns 0 with out filled (free it with
 * check_local_free, also after -1), or -1 with err filled (the
 * configuration's FILE:LINE: message, /proc unreadable).
 */
int check_local_scan(const unsigned *ports, size_t n_ports, const char *conf_path,
                     struct check_local *out, char *err, size_t errcap);
void check_local_free(struct check_local *l);

/*
 * Who listens where a socket bound to sa (IPv4 or IPv6, with its port) would
 * go: a listening TCP socket of the same family and port whose address is
 * sa's, or either of them the family's wildcard. For `configtest` and
 * `serve`, which name the owner of a port already in use. Returns 0 with
 * *out filled (out->pid -1 when the owner cannot be seen: another user's
 * process without root; out->findings stays empty), or -1 when nobody
 * listens there or /proc cannot be read.
 */
int check_port_owner(const struct sockaddr *sa, struct check_listener *out);

/*
 * True when process pid has the file at path open (a /proc/PID/fd link that
 * names it; path is compared after realpath()). False when it does not, or
 * when that cannot be seen (another user's process without root, a process
 * that is gone, a path that does not exist).
 */
bool check_pid_has_open(long pid, const char *path);

/*
 * The pid of the process that holds a flock(2) lock on the file at path
 * (from /proc/locks, without touching the lock), or -1 when none does or it
 * cannot be read.
 */
long check_flock_holder(const char *path);
/*
 * True when addr (4 or 16 octets of family) is reachable only from nearby:
 * loopback, RFC 1918, shared (100.64/10), link-local (169.254/16,
 * fe80::/10), unique local (fc00::/7), and the same inside ::ffff:0:0/96.
 * The unspecified address is not private.
 */
bool check_addr_is_private(int family, const unsigned char *addr);
/* The worst finding of l, its listeners' included. */
enum check_level check_local_worst(const struct check_local *l);

/* ---- remote (probe.c, mx.c) ---- */

enum check_port_state {
    CHECK_PORT_OPEN,
    CHECK_PORT_CLOSED,   /* connection refused */
    CHECK_PORT_FILTERED, /* no answer within the timeout */
    CHECK_PORT_ERROR,    /* another error (unreachable, ...) */
};

const char *check_port_state_name(enum check_port_state s);

/* How a probe starts talking on a port. */
enum check_tls_start {
    CHECK_START_BY_PORT,  /* implicit TLS on 465, plain SMTP (then STARTTLS) elsewhere */
    CHECK_START_IMPLICIT, /* TLS from the first byte (RFC 8314 3.3): smtps://, --implicit-tls */
    CHECK_START_PLAIN,    /* plain SMTP, STARTTLS when offered (RFC 3207): smtp:// */
};

/* What the TLS handshake showed (from tls_describe). */
struct check_tls {
    bool done;    /* a handshake completed */
    char how[16]; /* "starttls" or "implicit" */
    char version[16];
    char cipher[64];
    char subject[256]; /* the certificate's CN */
    char sans[512];    /* DNS and IP SANs, comma separated */
    char issuer[256];
    long long not_after; /* time_t */
    long days_left;
    bool chain_ok;
    char verify_text[128];
    bool name_ok;
    char error[256]; /* when the handshake failed */
};

struct check_port {
    unsigned port;
    enum check_tls_start start; /* set by the caller; zero: by port */
    enum check_port_state state;
    double connect_ms, greeting_ms;
    char greeting[512];
    char ehlo[1024]; /* the extension lines of the last EHLO (inside TLS when TLS was
                      * done), comma separated, printable ASCII */
    bool auth_before_tls;
    char source[64]; /* the local address the probe connected from ("" when it did not) */
    struct check_tls tls;
    struct check_findings findings;
};

/*
 * A host to probe. The caller sets name, and addr when it knows it, and the
 * ports (state and the rest zero). check_probe_hosts() resolves a host
 * whose addr is "" (A and AAAA through src/dns with o->resolver; the first
 * address of the answer, IPv6 first) and writes that address into addr; a
 * name that does not resolve leaves addr "", every port CHECK_PORT_ERROR
 * and a "resolve-failed" host finding.
 */
struct check_host {
    char name[256]; /* as given, or an MX name */
    char addr[64];  /* the address checked: IPv4 or IPv6 text, without brackets */
    char ptr[256];  /* reverse DNS, "" when none */
    bool fcrdns;    /* the PTR name resolves back to addr */
    struct check_port *ports;
    size_t n_ports;
    struct check_findings findings; /* host level: reverse DNS, MX facts */
};

struct check_opts {
    unsigned timeout_ms;  /* per step: connect, each reply, the handshake */
    bool intrusive;       /* run the smuggling test */
    const char *resolver; /* "ADDR:PORT", or NULL: the system's */
    const char *helo;     /* our EHLO name */
    const char *ca_file;  /* for chain verification, or NULL: the system store */
    const char *domain;   /* the mail domain the hosts serve (--mx DOMAIN): the smuggling
                           * test writes to postmaster@domain; NULL: the host name without
                           * its first label, or <postmaster> for an address */
};

/*
 * Probes every port of every host, concurrently, on one loop; fills each
 * check_port (findings included). Needs o->timeout_ms and o->helo. A port
 * speaks as its start says: CHECK_START_BY_PORT is implicit TLS on 465 and
 * plain SMTP with STARTTLS on every other port. Sends no
 * DATA unless o->intrusive (see probe.c for the bytes of the smuggling
 * test). SIGPIPE is ignored during the call. Returns 0, or -1 with err on
 * local trouble (no loop, a bad resolver or CA file).
 *
 * The contract with check.c, which builds hosts from the command line:
 * - name is what the user wrote without port or brackets: a host name, or
 *   an address literal ("192.0.2.1", "2001:db8::1"). For a literal check.c
 *   also sets addr (as inet_ntop writes it); for a name addr is "" and
 *   check_probe_hosts resolves it (A and AAAA through o->resolver when set,
 *   the first address, IPv6 first) and writes the address it probes into
 *   addr. A name that does not resolve gets a host finding ("resolve-failed",
 *   warn) and every port state CHECK_PORT_ERROR; that is not -1.
 * - ports[0..n_ports) are allocated by check.c (xcalloc) with only .port
 *   and .start set, each port once; check_host_free frees them.
 * - check.c then calls check_rdns for each host whose addr is not "" (for
 *   --mx, check_mx_hosts has done it), and derives the exit status from the
 *   worst finding of hosts, ports and domain.
 */
int check_probe_hosts(struct check_host *hosts, size_t n_hosts, const struct check_opts *o,
                      char *err, size_t errcap);

/*
 * --mx: the MX hosts of domain, one check_host per address (ports to be set
 * by the caller), with host-level findings (null MX, no MX). Also fills ptr
 * and fcrdns of each. Returns 0, or -1 with err (NXDOMAIN, DNS trouble).
 * The caller owns *hosts: check_host_free() each, then free(*hosts) (also
 * when *n_hosts is 0). Domain findings: "mx" (info, one per record),
 * "null-mx" (info, no host), "no-mx" (info: the domain's own addresses are
 * the hosts, RFC 5321 5.1), "mx-no-address" (warn).
 */
int check_mx_hosts(const char *domain, const struct check_opts *o, struct check_host **hosts,
                   size_t *n_hosts, struct check_findings *domain_findings, char *err,
                   size_t errcap);

/*
 * Reverse DNS and forward confirmation of h->addr into h->ptr (the first
 * PTR name), h->fcrdns, h->findings ("fcrdns" ok, "no-ptr" warn,
 * "ptr-not-confirmed" warn, "ptr-failed" info on DNS trouble). An address
 * that needs no PTR (loopback and the private ranges of
 * check_addr_is_private) gets neither "no-ptr" nor "ptr-failed". Returns 0,
 * or -1 with err when no resolver can be made.
 */
int check_rdns(struct check_host *h, const struct check_opts *o, char *err, size_t errcap);

void check_host_free(struct check_host *h);
/* The worst finding of hosts[0..n) (their ports' included) and of domain_findings (may be NULL). */
enum check_level check_hosts_worst(const struct check_host *h, size_t n,
                                   const struct check_findings *domain_findings);

/* ---- report (report.c) ---- */

/* The table, in colour when colour is true. */
void check_print_local(FILE *out, const struct check_local *l, bool colour);
void check_print_hosts(FILE *out, const struct check_host *h, size_t n,
                       const struct check_findings *domain_findings, bool colour);
/*
 * The pieces of both, for other reports of findings (gate26 audit): the
 * lines "LEVEL  ID  TEXT" (and "fix: FIX" under a finding with a fix), each
 * after indent; the last line "result: LEVEL (exit N)"; whether stdout
 * gets colour (a terminal, NO_COLOR unset or empty).
 */
void check_print_findings(FILE *out, const struct check_findings *f, const char *indent,
                          bool colour);
void check_print_verdict(FILE *out, enum check_level worst, bool colour);
bool check_want_colour(void);
/*
 * JSON pieces: the array of findings ({"id", "level", "text"} and "fix"
 * when it has one); the end of a report object, `, "level": L, "exit": N}`
 * and a newline; a string as check_json_str() writes it (json.h).
 */
void check_json_findings(FILE *out, const struct check_findings *f);
void check_json_verdict(FILE *out, enum check_level worst);
void check_json_str(FILE *out, const char *s);
/* The same content as JSON (one object, newline at the end). */
void check_json_local(FILE *out, const struct check_local *l);
void check_json_hosts(FILE *out, const struct check_host *h, size_t n,
                      const struct check_findings *domain_findings);

/* ---- the command (check.c) ---- */

/*
 * gate26 check ...: argv after "check"; returns the exit status (0..4).
 * default_conf is the configuration a remote check reads, when it can, to
 * explain a relay found on this machine's own door (no -c given); NULL: none.
 */
int check_main(int argc, char **argv, const char *default_conf);

#endif
