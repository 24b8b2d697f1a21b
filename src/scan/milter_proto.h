/* SPDX-License-Identifier: MIT */
/*
 * The Sendmail milter protocol, version 6 (the one libmilter 8.14 and later
 * speak, as its mfdef.h defines it), as a pure codec: no I/O, no loop.
 *
 * A packet is a 4-octet length in network order, then a command octet, then
 * length - 1 octets of data. The MTA (we) sends SMFIC_* commands; the milter
 * answers SMFIR_* responses. Strings inside are NUL-terminated. The encoders
 * build whole packets into a struct milter_out; the decoder checks one
 * whole response packet strictly: every field present, every string
 * NUL-terminated, nothing left over, the codes and names in their grammar.
 * Anything else is an error with a reason, never a guess.
 *
 * The client that moves these packets is milter.c (scan/milter.h).
 */
#ifndef GATE26_SCAN_MILTER_PROTO_H
#define GATE26_SCAN_MILTER_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/slice.h"

#define MILTER_VERSION 6
/* Octets of the length field of a packet. */
#define MILTER_LEN_BYTES 4
/* A body chunk (SMFIC_BODY) is at most this long (libmilter's MILTER_CHUNK_SIZE). */
#define MILTER_CHUNK_MAX 65535
/*
 * A packet we read or write is at most this long (command octet and data):
 * libmilter accepts 64 KiB, 256 KiB or 1 MiB of data depending on
 * SMFIP_MDS_*; a milter that sends more breaks the protocol.
 */
#define MILTER_PACKET_MAX (1024 * 1024)
/* A reason for a quarantine or a REPLYCODE text kept: longer ones are an error. */
#define MILTER_TEXT_MAX 4096

/* Commands, MTA to milter. */
enum {
    SMFIC_ABORT = 'A',
    SMFIC_BODY = 'B',
    SMFIC_CONNECT = 'C',
    SMFIC_MACRO = 'D',
    SMFIC_BODYEOB = 'E',
    SMFIC_HELO = 'H',
    SMFIC_QUIT_NC = 'K',
    SMFIC_HEADER = 'L',
    SMFIC_MAIL = 'M',
    SMFIC_EOH = 'N',
    SMFIC_OPTNEG = 'O',
    SMFIC_QUIT = 'Q',
    SMFIC_RCPT = 'R',
    SMFIC_DATA = 'T',
    SMFIC_UNKNOWN = 'U',
};

/* Responses, milter to MTA. */
enum {
    SMFIR_ADDRCPT = '+',
    SMFIR_DELRCPT = '-',
    SMFIR_ADDRCPT_PAR = '2',
    SMFIR_SHUTDOWN = '4',
    SMFIR_ACCEPT = 'a',
    SMFIR_REPLBODY = 'b',
    SMFIR_CONTINUE = 'c',
    SMFIR_DISCARD = 'd',
    SMFIR_CHGFROM = 'e',
    SMFIR_CONN_FAIL = 'f',
    SMFIR_ADDHEADER = 'h',
    SMFIR_INSHEADER = 'i',
    SMFIR_SETSYMLIST = 'l',
    SMFIR_CHGHEADER = 'm',
    SMFIR_PROGRESS = 'p',
    SMFIR_QUARANTINE = 'q',
    SMFIR_REJECT = 'r',
    SMFIR_SKIP = 's',
    SMFIR_TEMPFAIL = 't',
    SMFIR_REPLYCODE = 'y',
};

/* Actions a milter may take (the second word of OPTNEG). */
#define SMFIF_ADDHDRS     0x01u
#define SMFIF_CHGBODY     0x02u
#define SMFIF_ADDRCPT     0x04u
#define SMFIF_DELRCPT     0x08u
#define SMFIF_CHGHDRS     0x10u
#define SMFIF_QUARANTINE  0x20u
#define SMFIF_CHGFROM     0x40u
#define SMFIF_ADDRCPT_PAR 0x80u
#define SMFIF_SETSYMLIST  0x100u
/* What we offer: no envelope changes (the recipients are decided before the dot). */
#define MILTER_ACTIONS                                                                             \
    (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_QUARANTINE | SMFIF_SETSYMLIST)

/* Protocol steps (the third word of OPTNEG). */
#define SMFIP_NOCONNECT   0x01u
#define SMFIP_NOHELO      0x02u
#define SMFIP_NOMAIL      0x04u
#define SMFIP_NORCPT      0x08u
#define SMFIP_NOBODY      0x10u
#define SMFIP_NOHDRS      0x20u
#define SMFIP_NOEOH       0x40u
#define SMFIP_NR_HDR      0x80u
#define SMFIP_NOUNKNOWN   0x100u
#define SMFIP_NODATA      0x200u
#define SMFIP_SKIP        0x400u
#define SMFIP_RCPT_REJ    0x800u
#define SMFIP_NR_CONN     0x1000u
#define SMFIP_NR_HELO     0x2000u
#define SMFIP_NR_MAIL     0x4000u
#define SMFIP_NR_RCPT     0x8000u
#define SMFIP_NR_DATA     0x10000u
#define SMFIP_NR_UNKN     0x20000u
#define SMFIP_NR_EOH      0x40000u
#define SMFIP_NR_BODY     0x80000u
#define SMFIP_HDR_LEADSPC 0x100000u
#define SMFIP_MDS_256K    0x10000000u
#define SMFIP_MDS_1M      0x20000000u
/*
 * What we offer: every step may be skipped, every reply left out, SMFIR_SKIP
 * honoured. Not offered: SMFIP_RCPT_REJ (we only send recipients we took)
 * and SMFIP_HDR_LEADSPC (values are sent without the space after the colon).
 */
#define MILTER_PROTOCOL                                                                            \
    (SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL | SMFIP_NORCPT | SMFIP_NOBODY | SMFIP_NOHDRS |  \
     SMFIP_NOEOH | SMFIP_NR_HDR | SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_SKIP | SMFIP_NR_CONN |    \
     SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_DATA | SMFIP_NR_UNKN |               \
     SMFIP_NR_EOH | SMFIP_NR_BODY)
/* Flags of the data size a milter may ask for: it only means we may send bigger chunks. */
#define MILTER_PROTOCOL_MDS (SMFIP_MDS_256K | SMFIP_MDS_1M)

/* The macro stages of SMFIC_MACRO and the symbol lists (SMFIM_*). */
enum milter_stage {
    MILTER_STAGE_CONNECT = 0,
    MILTER_STAGE_HELO = 1,
    MILTER_STAGE_MAIL = 2,
    MILTER_STAGE_RCPT = 3,
    MILTER_STAGE_DATA = 4,
    MILTER_STAGE_EOM = 5,
    MILTER_STAGE_EOH = 6,
    MILTER_STAGE_COUNT = 7,
};

/*
 * Packets being built. The buffer grows up to MILTER_PACKET_MAX plus the
 * length field; an encoder that would go past it fails and leaves the
 * buffer as it was. Several packets may be appended before the caller
 * sends and resets it.
 */
struct milter_out {
    char *p;
    size_t len;
    size_t alloc;
};

void milter_out_init(struct milter_out *o);
void milter_out_clear(struct milter_out *o);
static inline void
milter_out_reset(struct milter_out *o)
{
    o->len = 0;
}

/* One macro: {name} (braces included, or a single letter) and its value. */
struct milter_macro {
    const char *name;
    const char *value;
};

/*
 * The encoders. Each appends one whole packet to o and returns 0, or -1
 * when a string holds a NUL (it would end the field early), a value is out
 * of its range, or the packet would pass MILTER_PACKET_MAX; o is then
 * unchanged.
 */
int milter_enc_optneg(struct milter_out *o, uint32_t version, uint32_t actions, uint32_t protocol);
/* family: 0 (unknown: only the name is sent), '4', '6' or 'L' (a UNIX socket: addr is its path). */
int milter_enc_connect(struct milter_out *o, const char *hostname, char family, unsigned port,
                       const char *addr);
int milter_enc_helo(struct milter_out *o, const char *helo);
/* MAIL and RCPT: the address in angle brackets first, then each ESMTP argument. */
int milter_enc_mail(struct milter_out *o, const char *const *args, size_t n);
int milter_enc_rcpt(struct milter_out *o, const char *const *args, size_t n);
/* The name and the value as given (the value without the space after the colon). */
int milter_enc_header(struct milter_out *o, struct slice name, struct slice value);
/* At most MILTER_CHUNK_MAX octets. */
int milter_enc_body(struct milter_out *o, struct slice chunk);
/* The macros of the stage whose command (SMFIC_CONNECT, ...) follows. */
int milter_enc_macro(struct milter_out *o, char command, const struct milter_macro *m, size_t n);
int milter_enc_unknown(struct milter_out *o, const char *line);
/* SMFIC_DATA, SMFIC_EOH, SMFIC_BODYEOB, SMFIC_ABORT, SMFIC_QUIT, SMFIC_QUIT_NC: no data. */
int milter_enc_bare(struct milter_out *o, char command);

/* What the framing of the input says. */
enum milter_frame_rc {
    MILTER_FRAME_MORE, /* not a whole packet yet */
    MILTER_FRAME_OK,   /* *len octets of command and data follow the length field */
    MILTER_FRAME_BAD,  /* a length of 0 or over MILTER_PACKET_MAX */
};

/* Looks at the first n octets of the input (at least the length field for an answer). */
enum milter_frame_rc milter_frame(const unsigned char *p, size_t n, size_t *len);

/* A decoded response. Its slices point into the packet given to milter_reply_parse(). */
struct milter_reply {
    char cmd; /* SMFIR_* or SMFIC_OPTNEG */
    /* OPTNEG */
    uint32_t version, actions, protocol;
    /* OPTNEG with SETSYMLIST, and SMFIR_SETSYMLIST: the list of each stage asked for. */
    bool has_symlist[MILTER_STAGE_COUNT];
    struct slice symlist[MILTER_STAGE_COUNT];
    /* REPLYCODE: 400..599 and the whole text (the code first); QUARANTINE: the reason. */
    unsigned code;
    struct slice text;
    /* ADDHEADER, INSHEADER, CHGHEADER */
    uint32_t index;
    struct slice name, value;
    /* REPLBODY */
    struct slice body;
};

/*
 * Decodes the response packet pkt (the command octet and the data, without
 * the length field). Returns 0 with *r filled, or -1 with the reason in err
 * (capacity cap): a packet too short or too long for its command, a string
 * without its NUL or with one inside, a REPLYCODE not 4xx or 5xx, a header
 * name outside RFC 5322's field-name or a value that would start a new
 * field, a symbol list for an unknown stage, and a command we do not know
 * or did not offer (ADDRCPT, DELRCPT, ADDRCPT_PAR, CHGFROM, SHUTDOWN,
 * CONN_FAIL).
 */
int milter_reply_parse(struct slice pkt, struct milter_reply *r, char *err, size_t cap);

/* The name of a response or command octet ("ACCEPT", "OPTNEG"), "?" when unknown. */
const char *milter_cmd_name(char cmd);

/*
 * One header field at the start of in (the header section of a message,
 * lines ending in CRLF or LF). Returns MILTER_HDR_FIELD with the name, the
 * value (after the colon and one space, its folding kept, its final line
 * end left out) and *used (the octets the field took); MILTER_HDR_END at
 * the empty line ending the section (*used: that line) or at a line that is
 * not a field (the body starts there; *used: 0); MILTER_HDR_MORE when in
 * holds no whole field yet and more may come (at_eof false).
 */
enum milter_hdr_rc {
    MILTER_HDR_FIELD,
    MILTER_HDR_END,
    MILTER_HDR_MORE,
};
enum milter_hdr_rc milter_header_next(struct slice in, bool at_eof, struct slice *name,
                                      struct slice *value, size_t *used);

#endif
