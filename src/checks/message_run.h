/* SPDX-License-Identifier: MIT */
/*
 * Private to checks/: one message's checks at the end of its data
 * (message_checks.c runs them and decides, message_edit.c writes the
 * decision's headers, the milters' changes and the DKIM signatures into the
 * spool).
 */
#ifndef GATE26_CHECKS_MESSAGE_RUN_H
#define GATE26_CHECKS_MESSAGE_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "checks/checks_impl.h"
#include "scan/clamd.h"
#include "scan/milter.h"
#include "scan/rspamd.h"

struct event;

/* The most octets of header section read back for editing; a longer one is left as it is. */
#define CHECKS_HEADER_MAX (256 * 1024)

/* A sequential reader of the message in the spool, for one consumer. */
struct checks_reader {
    struct spool_msg *msg;
    uint64_t off, end;
};

/* One milter's conversation and a copy of its result. */
struct checks_milter {
    struct checks_message_run *run;
    struct milter *m; /* in flight, or NULL */
    struct checks_reader rd;
    bool done;
    enum milter_verdict verdict;
    unsigned code;
    char *text, *quarantine;
    struct milter_mod *mods;
    size_t n_mods;
    bool body_replaced;
    char *body;
    size_t body_len;
    char spec[CONF_CHECKS_TARGET_MAX];
};

struct checks_message_run {
    struct checks_session *cs;
    struct checks_message m;
    checks_done_fn *done;
    void *arg;
    struct event *finish; /* decides from the loop once nothing is pending */
    unsigned pending;

    /* The header section from the message's first octet (our Received first). */
    char *hdr;
    size_t hdr_len;    /* up to the CRLF of its last field; without the empty line */
    uint64_t body_off; /* where the body starts (after the empty line); the size without one */
    bool has_sep;      /* an empty line ends the header section */
    bool hdr_ok;       /* the header section is whole and parses as fields */
    uint64_t size;

    /* DKIM verification and DMARC */
    struct dkim_verify *dv;
    struct dkim_result *dkim;
    size_t n_dkim;
    struct dmarc_eval *de;
    bool dmarc_ran;
    struct dmarc_result dmarc;

    /* clamd and rspamd */
    struct clamd_scan *clamd;
    struct checks_reader clamd_rd;
    bool clamd_ran;
    struct clamd_result clamd_res;
    struct rspamd_scan *rspamd;
    struct checks_reader rspamd_rd;
    bool rspamd_ran;
    struct rspamd_result rspamd_res;

    /* milters, in the block's order; their envelope (borrowed by each until it ends) */
    struct milter_env milter_env;
    char client_name[80];
    struct checks_milter milters[CONF_CHECKS_MILTERS_MAX];
    size_t n_milters;
};

/*
 * The domain of the one From address of a header section (for DMARC and for
 * signing): false with why ("no From field", "more than one From field",
 * "From field: syntax", ...) when there is not exactly one usable address.
 */
bool checks_from_domain(const char *hdr, size_t len, char *out, size_t cap, char *why,
                        size_t whycap);

/* message_edit.c: writes what the checks add into the spool; 0, or -1 with a reason in err. */
int checks_message_edit(struct checks_message_run *run, char *err, size_t errcap);

/* Reads the next octets for a consumer (clamd, rspamd and milter read functions). */
ssize_t checks_reader_read(void *arg, char *buf, size_t cap);

#endif
