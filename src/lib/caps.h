/* SPDX-License-Identifier: MIT */
/*
 * Every fixed cap in one place, so that per-session memory adds up and a
 * reviewer can see each limit next to the RFC that sets it.
 */
#ifndef GATE26_LIB_CAPS_H
#define GATE26_LIB_CAPS_H

/* RFC 5321 4.5.3.1.4: a command line is at most 512 octets with its CRLF. */
#define CAP_CMD_LINE 512
/*
 * Extensions lengthen MAIL and RCPT: SIZE adds 26 (RFC 1870 3), ENVID and
 * RET add 100 to MAIL and NOTIFY and ORCPT add 500 to RCPT (RFC 3461 4),
 * SMTPUTF8 adds 10 (RFC 6531 3.4), AUTH= adds 500 (RFC 4954 5).
 */
#define CAP_MAIL_LINE (CAP_CMD_LINE + 26 + 100 + 10 + 500)
#define CAP_RCPT_LINE (CAP_CMD_LINE + 500)
/* The longest line the reader holds before it decides "too long". */
#define CAP_LINE_READ CAP_MAIL_LINE
/* AUTH PLAIN with an initial response: three SASL fields of 255 octets in base64 (RFC 4954 4
 * lets it be longer; PLAIN never needs more). Its response lines have the same cap. */
#define CAP_AUTH_LINE CAP_LINE_READ

/* RFC 5321 4.5.3.1.6: a text line is at most 1000 octets with its CRLF. */
#define CAP_TEXT_LINE 1000

/* RFC 5321 4.5.3.1.1 and 4.5.3.1.2. */
#define CAP_LOCAL_PART 64
#define CAP_DOMAIN     255
/* local "@" domain, as text, without angle brackets. */
#define CAP_MAILBOX (CAP_LOCAL_PART + 1 + CAP_DOMAIN)

/* RFC 3461 4.4: ENVID is at most 100 characters; ORCPT's value fits in the
 * 500 octets the extension adds to RCPT. */
#define CAP_ENVID 100
#define CAP_ORCPT 500
/* RFC 4954 5: AUTH= adds at most 500 octets to MAIL. */
#define CAP_AUTH_PARAM 500

/* The HELO/EHLO argument we keep (a domain or an address literal). */
#define CAP_HELO CAP_DOMAIN
/* An AUTH user name (RFC 4954 authcid; the passwd file allows 1 to 64). */
#define CAP_AUTH_USER 64
/* Why a message is held, "alert RULE, client KEY" (watch_hold()): a rule name and a key. */
#define CAP_HOLD_REASON 512

/* Hostnames and paths from the configuration. */
#define CAP_HOSTNAME CAP_DOMAIN
#define CAP_PATH     4096

/* Session buffers: input is read up to this much ahead of the parser,
 * output is not produced while more than this is waiting to be sent. */
#define CAP_SESSION_INPUT  (64 * 1024)
#define CAP_SESSION_OUTPUT (64 * 1024)

/* The spool writer collects this much before a write(2). */
#define CAP_SPOOL_WRITE_BUF (64 * 1024)

/*
 * Keys of each counting table of the limits against abuse (policy/limit.h):
 * clients (addresses and IPv6 /64s, about 100 octets an entry) and names
 * (senders, users: up to about 420 octets). Seven tables: at most about
 * 4 * 65536 * 100 + 3 * 16384 * 420 octets, 47 MiB, whatever attackers do.
 */
#define CAP_LIMIT_CLIENTS 65536
#define CAP_LIMIT_NAMES   16384

/*
 * Rows of the scanner table (watch/scanner.h, docs/scanners.md): as many
 * sources and as many /24 networks, about 200 octets a row: 1.6 MiB
 * whatever a flood of spoofed SYNs does.
 */
#define CAP_SCANNER_SOURCES 4096

/*
 * Facts of each namespace of the shared-state store (state/state.h): callout
 * answers (about 450 octets an entry) and remembered logins (about 150).
 * At most about 60 MiB whatever attackers do.
 */
#define CAP_STATE_CALLOUT 100000
#define CAP_STATE_LOGIN   100000

/*
 * The Message-ID of a message being received, for its log line: the field
 * body is kept up to the line limit of RFC 5322 2.1.1 (998 octets), and the
 * header section is looked at for at most CAP_HEADER_SCAN octets (Postfix's
 * header_size_limit).
 */
#define CAP_MESSAGE_ID  998
#define CAP_HEADER_SCAN (100 * 1024)

/*
 * Recipient callouts in flight at once (src/verify/): each is a connection
 * to one of our own relays. Past it a recipient is answered "try later" at
 * once, so that a dictionary attack queues nothing and cannot flood the
 * internal server.
 */
#define CAP_CALLOUTS 100

/* A log line, including the quoted peer data in it. */
#define CAP_LOG_LINE 2048
/* Peer bytes quoted into one log field. */
#define CAP_LOG_PEER 200

/*
 * DNS answers kept per query: MX records of a domain after sorting by
 * preference (RFC 5321 5.1 lets a client stop trying after some), and
 * addresses of a host. The rest of a longer answer is dropped.
 */
#define CAP_DNS_MX    32
#define CAP_DNS_ADDRS 32
/* Names kept from one PTR answer (RFC 1035 3.5 allows several). */
#define CAP_DNS_PTR 8
/* TXT records kept from one answer (SPF, DKIM keys, DMARC, DNSBL texts),
 * and A records from one DNSBL answer. */
#define CAP_DNS_TXT 32
#define CAP_DNS_A   32

/*
 * Replies the SMTP client reads (src/deliver/). RFC 5321 4.5.3.1.5 allows
 * 512 octets a reply line; servers send longer ones, so one line may have
 * CAP_REPLY_LINE octets with its CRLF, and one whole reply CAP_REPLY_LINES
 * lines and CAP_REPLY octets. A server past any of them has broken the
 * protocol: the client gives up on the connection instead of growing.
 */
#define CAP_REPLY_LINE  2048
#define CAP_REPLY_LINES 100
#define CAP_REPLY       (64 * 1024)

/* The client reads the content from the spool file this much at a time
 * and queues no more than CAP_SESSION_OUTPUT for the peer. */
#define CAP_DELIVER_CHUNK (16 * 1024)

/*
 * Seconds a connection from a door's proxy-protocol networks may take to
 * send its PROXY header (less when the door's timeout-command is shorter).
 * A proxy sends it at once with its connect (HAProxy's proxy-protocol.txt,
 * 2.1 and 2.2); the wait holds a place in max-sessions.
 */
#define CAP_PROXY_WAIT 10

#endif
