/* SPDX-License-Identifier: MIT */
/*
 * TLS for gate26 with OpenSSL 3: the contexts that the SMTP server
 * (STARTTLS, RFC 3207, and implicit TLS on 465, RFC 8314) and the SMTP
 * client (STARTTLS to the next hop) make their SSL objects from, and a
 * description of a finished handshake for log lines, Received headers and
 * `gate26 check`. Moving bytes (bufferevent_openssl) is left to src/smtp and
 * src/deliver; choosing a policy is left to the router and the conf.
 *
 * Both sides speak TLS 1.2 and 1.3 only, with the conf's TLS 1.2 cipher list
 * (TLS_DEFAULT_CIPHERS when it names none), without compression or
 * renegotiation. The server serves one certificate per cert/key pair of the
 * tls block and picks one by SNI (RFC 6066 3); the client verifies the
 * server's chain and name (RFC 6125) under `verify` and records the result
 * under `may` and `encrypt` (RFC 7435).
 *
 * Threads: contexts are built on the main thread (before privileges drop,
 * and again at SIGHUP); reference counts and SSL objects are the loop
 * thread's.
 */
#ifndef GATE26_TLS_TLS_H
#define GATE26_TLS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/ssl.h>

#include "conf/conf.h"

/* The TLS 1.2 cipher list when the conf has no ciphers key: forward secrecy and AEAD only. */
#define TLS_DEFAULT_CIPHERS                                                                        \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                   \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* ---- Server ---- */

struct tls_server;

/*
 * Loads every cert/key pair of c's tls block (PEM; the certificate, then its
 * chain; an unencrypted key that matches it) and builds one context per
 * pair; the first pair serves clients whose SNI matches no certificate.
 * Reads the files now: call it before privileges drop, at start and at each
 * reload. Returns a server with one reference (tls_server_unref), or NULL
 * with one line in err (capacity errcap) naming the file or key at fault:
 * "cannot read certificate '/x': No such file or directory", "key '/k' does
 * not match certificate '/c'", "ciphers 'X' name no cipher". c is borrowed.
 */
struct tls_server *tls_server_new(const struct conf *c, char *err, size_t errcap);

/* Takes one more reference; returns s. */
struct tls_server *tls_server_ref(struct tls_server *s);

/* Drops one reference and frees s with the last; tls_server_unref(NULL) does nothing. */
void tls_server_unref(struct tls_server *s);

/*
 * A server-side SSL for one accepted connection (accept state set). It
 * holds a reference to s until SSL_free(), so s may be unreferenced (a
 * reload) while sessions still handshake. The caller owns the SSL (or hands
 * it to bufferevent_openssl with BEV_OPT_CLOSE_ON_FREE). NULL when OpenSSL
 * is out of memory (its error queue says more).
 */
SSL *tls_server_ssl_new(struct tls_server *s);

/*
 * When the first of s's certificates (the leaf of each cert/key pair) ends
 * (notAfter), in seconds since the epoch; 0 when s is NULL or no date
 * could be read. For gate26_tls_certificate_expiry_timestamp_seconds.
 */
time_t tls_server_not_after(const struct tls_server *s);

/* ---- Client ---- */

struct tls_client;

/*
 * The client context: TLS 1.2+, the conf's ciphers, and the CA store of
 * ca-file (or the system's default paths when there is none). Returns a
 * client with one reference (tls_client_unref), or NULL with one line in err
 * naming the file at fault. c is borrowed.
 */
struct tls_client *tls_client_new(const struct conf *c, char *err, size_t errcap);

/* Takes one more reference; returns cl. */
struct tls_client *tls_client_ref(struct tls_client *cl);

/* Drops one reference and frees cl with the last; tls_client_unref(NULL) does nothing. */
void tls_client_unref(struct tls_client *cl);

/*
 * A client-side SSL (connect state set) for a connection to peer_name: the
 * host the client meant to reach (an MX host, or the relay URL's host), a
 * DNS name (one trailing dot allowed) or an IPv4/IPv6 address literal
 * without brackets. A name goes into SNI; both are what the certificate
 * must match. Under CONF_TLS_POLICY_VERIFY the handshake fails unless the
 * chain leads to a trusted CA and the certificate matches peer_name; under
 * MAY and ENCRYPT it never fails for the certificate, and tls_describe()
 * tells what a verification found. peer_name may be NULL or "" under MAY and
 * ENCRYPT (nothing to match). Returns a new SSL the caller owns, or NULL
 * with errno EINVAL (peer_name is not a host name or an address, or is
 * missing under VERIFY) or ENOMEM. Asking for CONF_TLS_POLICY_NONE is a bug.
 * The SSL does not need cl to stay alive.
 */
SSL *tls_client_ssl_new(struct tls_client *cl, const char *peer_name, enum conf_tls_policy policy);

/* ---- Describing a connection ---- */

/* Field sizes of struct tls_info, with the NUL. */
#define TLS_INFO_NAME    256 /* a host name, a CN */
#define TLS_INFO_DN      256 /* a distinguished name */
#define TLS_INFO_SANS    512 /* the joined subjectAltName list */
#define TLS_INFO_SAN_MAX 16  /* names put in the list */

/*
 * What a handshake gave, as printable ASCII (0x20 to 0x7e; any other octet
 * is written '?', and a value cut short ends in "..."). Peer bytes may still
 * hold '"', '\\', '(' or ')': quote them (log_quote) where that matters.
 */
struct tls_info {
    char version[16];               /* "TLSv1.3", "TLSv1.2" */
    char cipher[64];                /* "TLS_AES_256_GCM_SHA384", "ECDHE-RSA-AES128-GCM-SHA256" */
    int bits;                       /* secret bits of the cipher */
    char servername[TLS_INFO_NAME]; /* SNI: asked for (server side) or sent (client); "" */

    bool has_peer_cert;            /* the fields below describe the peer's certificate */
    char peer_cn[TLS_INFO_NAME];   /* subject commonName; "" when it has none */
    char peer_issuer[TLS_INFO_DN]; /* issuer, RFC 2253 ("CN=Test CA,O=Example") */
    char peer_san[TLS_INFO_SANS];  /* DNS names and addresses, joined by ',' */
    unsigned n_peer_san;           /* how many the certificate has (listed: TLS_INFO_SAN_MAX) */
    time_t peer_not_after;         /* end of validity; 0 when unknown */

    long verify_result;            /* X509_V_OK, or the X509_V_ERR_ code of the chain's check */
    char verify_text[128];         /* "ok", or X509_verify_cert_error_string() */
    bool name_checked;             /* a peer name was given (client side): */
    char peer_name[TLS_INFO_NAME]; /* that name, */
    bool name_matched;             /* and whether the certificate matches it (RFC 6125) */
};

/*
 * Fills out from ssl after its handshake (before it, what is known yet).
 * After a handshake that failed, OpenSSL has dropped the peer's
 * certificate (has_peer_cert is false) but verify_result still says why.
 * Never fails; fields it cannot fill are "" or 0.
 */
void tls_describe(const SSL *ssl, struct tls_info *out);

/*
 * The first certificate of the PEM file at path (a tls block's cert: the
 * certificate, then its chain) described into out's peer_* fields as
 * tls_describe() describes a peer's: subject CN, issuer, SANs, notAfter.
 * Returns 0, or -1 with why (capacity whycap): the file cannot be read, or
 * holds no certificate.
 */
int tls_describe_file(const char *path, struct tls_info *out, char *why, size_t whycap);

/*
 * Writes OpenSSL's error queue (this thread's) into dst (capacity cap) as
 * one line for a log field, oldest first, joined by "; " ("error:0A000086:SSL
 * routines::certificate verify failed"), and clears the queue. An empty
 * queue gives "no OpenSSL error". Printable ASCII only; cut with "..." when
 * long. Returns dst.
 */
const char *tls_error_text(char *dst, size_t cap);

#endif
