/* SPDX-License-Identifier: MIT */
/*
 * The account page (GET /account, every user; docs/console.md): the second
 * factor (enrolment with a QR code, recovery codes, removal) and app
 * passwords (create, list, revoke).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <qrencode.h>

#include "account/account.h"
#include "console/console_impl.h"
#include "lib/log.h"
#include "lib/str.h"

/* An inline SVG of the QR code of text (libqrencode), or nothing when it cannot be made. */
static void
qr_svg(struct evbuffer *b, const char *text)
{
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    int w;

    if (qr == NULL)
        return;
    w = qr->width;
    evbuffer_add_printf(b,
                        "<svg class=\"qr\" id=\"qr\" xmlns=\"http://www.w3.org/2000/svg\" "
                        "viewBox=\"-4 -4 %d %d\" shape-rendering=\"crispEdges\" role=\"img\" "
                        "aria-label=\"QR code\"><path fill=\"#000\" d=\"",
                        w + 8, w + 8);
    for (int y = 0; y < w; y++) {
        for (int x = 0; x < w; x++) {
            if (qr->data[y * w + x] & 1)
                evbuffer_add_printf(b, "M%d %dh1v1h-1z", x, y);
        }
    }
    evbuffer_add_printf(b, "\"/></svg>\n");
    QRcode_free(qr);
}

/*
 * The account page, with what an action just made shown once: a new TOTP
 * secret (enrol), recovery codes (confirm), a new app password (create).
 */
struct shown {
    const char *note, *error;
    const unsigned char *secret; /* TOTP_SECRET_LEN octets */
    char (*codes)[ACCOUNT_RECOVERY_LEN + 1];
    const char *app_password;
};

static void
account_page(struct req *q, int code, const char *reason, const struct shown *sh)
{
    struct account_store *st = q->con->store;
    const struct session *s = q->s;
    struct evbuffer *b = evbuffer_new();
    struct account_app_password *list = NULL;
    size_t n = 0;
    int enrolled = account_totp_is_enrolled(st, s->user);

    page_begin(b, "Account", s);
    if (sh->note != NULL) {
        evbuffer_add_printf(b, "<p class=\"ok\" id=\"note\">");
        web_escapez(b, sh->note);
        evbuffer_add_printf(b, "</p>\n");
    }
    if (sh->error != NULL) {
        evbuffer_add_printf(b, "<p class=\"error\" id=\"error\">");
        web_escapez(b, sh->error);
        evbuffer_add_printf(b, "</p>\n");
    }
    evbuffer_add_printf(b, "<h2>Second factor (TOTP)</h2>\n");
    if (sh->secret != NULL) {
        char b32[TOTP_B32_LEN(TOTP_SECRET_LEN) + 1], uri[TOTP_URI_CAP];

        (void)totp_base32_encode(sh->secret, TOTP_SECRET_LEN, false, b32, sizeof b32);
        (void)totp_uri(s->user, sh->secret, TOTP_SECRET_LEN, uri, sizeof uri);
        evbuffer_add_printf(b, "<p>Scan this code with your authenticator app, or type the "
                               "secret, then confirm with the code it shows.</p>\n");
        qr_svg(b, uri);
        evbuffer_add_printf(b, "<p>Secret: <span class=\"secret\" id=\"secret\">");
        web_escapez(b, b32);
        evbuffer_add_printf(b, "</span></p><p>URI: <code id=\"uri\">");
        web_escapez(b, uri);
        evbuffer_add_printf(b, "</code></p>\n<form method=\"post\" "
                               "action=\"/account/totp/confirm\">");
        csrf_field(b, s);
        evbuffer_add_printf(b, "<label>Code <input name=\"code\" id=\"confirm-code\" "
                               "autocomplete=\"one-time-code\" maxlength=\"6\" required></label>"
                               "<button type=\"submit\" id=\"confirm\">Confirm</button></form>\n");
    } else if (sh->codes != NULL) {
        evbuffer_add_printf(b, "<p>Enrolled. Your recovery codes, shown this once (each works "
                               "once, in place of a code):</p><ul id=\"recovery\">");
        for (size_t i = 0; i < ACCOUNT_RECOVERY_CODES; i++) {
            evbuffer_add_printf(b, "<li><code>");
            web_escapez(b, sh->codes[i]);
            evbuffer_add_printf(b, "</code></li>");
        }
        evbuffer_add_printf(b, "</ul>\n");
    } else if (enrolled == 1) {
        evbuffer_add_printf(b,
                            "<p id=\"totp-state\">Enrolled: your code is asked at every "
                            "login. Recovery codes left: %d.</p>\n",
                            account_recovery_left(st, s->user));
    } else {
        evbuffer_add_printf(b, "<p id=\"totp-state\">Not enrolled.</p>\n");
    }
    if (sh->secret == NULL && enrolled == 1) {
        /* Removing it takes a code: a session left open is not enough to turn it off. */
        evbuffer_add_printf(b, "<form method=\"post\" action=\"/account/totp/remove\">");
        csrf_field(b, s);
        evbuffer_add_printf(b, "<label>Code (or a recovery code) <input name=\"code\" "
                               "id=\"remove-code\" autocomplete=\"one-time-code\" "
                               "maxlength=\"32\" required></label><button type=\"submit\" "
                               "id=\"totp-remove\">Remove the second factor</button></form>\n");
    } else if (sh->secret == NULL) {
        evbuffer_add_printf(b, "<form method=\"post\" action=\"/account/totp/enrol\">");
        csrf_field(b, s);
        evbuffer_add_printf(b, "<button type=\"submit\" id=\"totp-enrol\">Enrol</button>"
                               "</form>\n");
    }

    evbuffer_add_printf(b, "<h2>App passwords</h2>\n");
    if (sh->app_password != NULL) {
        evbuffer_add_printf(b, "<p>Your new app password, shown this once: <span "
                               "class=\"secret\" id=\"app-password\">");
        web_escapez(b, sh->app_password);
        evbuffer_add_printf(b, "</span></p>\n");
    }
    if (account_app_password_list(st, s->user, &list, &n) == -1) {
        evbuffer_add_printf(b, "<p class=\"error\">The account store cannot be read.</p>\n");
        n = 0;
    }
    evbuffer_add_printf(b, "<table id=\"app-passwords\"><tr><th>Id</th><th>Name</th><th>Doors"
                           "</th><th>Created</th><th>Last used</th><th>From</th><th>State</th>"
                           "<th></th></tr>\n");
    for (size_t i = 0; i < n; i++) {
        const struct account_app_password *a = &list[i];
        char created[64], used[64];

        fmt_time(created, sizeof created, a->created);
        fmt_time(used, sizeof used, a->last_used);
        evbuffer_add_printf(b, "<tr><td>%" PRId64 "</td><td>", a->id);
        web_escapez(b, a->name);
        evbuffer_add_printf(b, "</td><td>");
        web_escapez(b, a->doors);
        evbuffer_add_printf(b, "</td><td>%s</td><td>%s</td><td>", created, used);
        web_escapez(b, a->last_from);
        evbuffer_add_printf(b, "</td><td>%s</td><td>", a->revoked != 0 ? "revoked" : "active");
        if (a->revoked == 0) {
            evbuffer_add_printf(b,
                                "<form method=\"post\" action=\"/account/app-password/revoke\">");
            csrf_field(b, s);
            evbuffer_add_printf(b,
                                "<input type=\"hidden\" name=\"id\" value=\"%" PRId64
                                "\"><button type=\"submit\" id=\"revoke-%" PRId64
                                "\">Revoke</button></form>",
                                a->id, a->id);
        }
        evbuffer_add_printf(b, "</td></tr>\n");
    }
    free(list);
    evbuffer_add_printf(b, "</table>\n<form method=\"post\" action=\"/account/app-password/"
                           "create\">");
    csrf_field(b, s);
    evbuffer_add_printf(
        b, "<label>Name <input name=\"name\" id=\"app-name\" maxlength=\"64\" required></label>"
           "<label><input type=\"checkbox\" name=\"door\" value=\"submission\" checked> "
           "submission</label>"
           "<label><input type=\"checkbox\" name=\"door\" value=\"submissions\" checked> "
           "submissions</label>"
           "<label><input type=\"checkbox\" name=\"door\" value=\"internal\"> internal</label>"
           "<button type=\"submit\" id=\"app-create\">Create</button></form>\n");
    send_page(q, code, reason, b);
    evbuffer_free(b);
}

void
account_show(struct req *q)
{
    struct shown sh = {0};

    account_page(q, 200, "OK", &sh);
}

static void
account_error(struct req *q, int code, const char *reason, const char *error)
{
    struct shown sh = {.error = error};

    account_page(q, code, reason, &sh);
}

void
do_totp_enrol(struct req *q)
{
    unsigned char secret[TOTP_SECRET_LEN];
    struct shown sh = {.secret = secret};

    switch (account_totp_enrol(q->con->store, q->s->user, secret)) {
    case ACCOUNT_OK:
        log_action(q, "totp-enrol", "");
        account_page(q, 200, "OK", &sh);
        break;
    case ACCOUNT_EXISTS:
        account_error(q, 409, "Conflict", "You are enrolled already: remove it first.");
        break;
    default:
        account_error(q, 503, "Service Unavailable", "The account store failed.");
        break;
    }
    OPENSSL_cleanse(secret, sizeof secret);
}

void
do_totp_confirm(struct req *q)
{
    const char *code = field(q, "code");
    char codes[ACCOUNT_RECOVERY_CODES][ACCOUNT_RECOVERY_LEN + 1];
    struct shown sh = {.codes = codes, .note = "Second factor enrolled."};

    switch (account_totp_confirm(q->con->store, q->s->user, code != NULL ? code : "",
                                 (int64_t)time(NULL))) {
    case ACCOUNT_OK:
        break;
    case ACCOUNT_NONE:
        account_error(q, 409, "Conflict", "No enrolment to confirm: enrol first.");
        return;
    case ACCOUNT_EXISTS:
        account_error(q, 409, "Conflict", "You are enrolled already.");
        return;
    case ACCOUNT_BAD_CODE:
        log_action(q, "totp-confirm", "result=bad-code");
        account_error(q, 403, "Forbidden", "Wrong code: enrol again and confirm with a new code.");
        return;
    default:
        account_error(q, 503, "Service Unavailable", "The account store failed.");
        return;
    }
    log_action(q, "totp-confirm", "result=enrolled");
    if (account_recovery_make(q->con->store, q->s->user, codes) != ACCOUNT_OK) {
        account_error(q, 503, "Service Unavailable", "Enrolled, but no recovery codes were made.");
        return;
    }
    account_page(q, 200, "OK", &sh);
    OPENSSL_cleanse(codes, sizeof codes);
}

void
do_totp_remove(struct req *q)
{
    struct shown sh = {.note = "Second factor removed."};
    bool recovery;

    switch (account_totp_is_enrolled(q->con->store, q->s->user)) {
    case 1:
        break;
    case 0:
        account_error(q, 409, "Conflict", "You are not enrolled.");
        return;
    default:
        account_error(q, 503, "Service Unavailable", "The account store failed.");
        return;
    }
    if (second_factor_check(q, q->s->user, field(q, "code"), &recovery) != ACCOUNT_OK) {
        log_action(q, "totp-remove", "result=bad-code");
        account_error(q, 403, "Forbidden", "Wrong code: the second factor stays.");
        return;
    }
    if (account_totp_remove(q->con->store, q->s->user) == ACCOUNT_ERROR) {
        account_error(q, 503, "Service Unavailable", "The account store failed.");
        return;
    }
    log_action(q, "totp-remove",
               recovery ? "result=removed, with=recovery-code" : "result=removed");
    account_page(q, 200, "OK", &sh);
}

void
do_app_create(struct req *q)
{
    static const char *const known[] = {"internal", "submission", "submissions"};
    const char *name = field(q, "name");
    char doors[64] = "", shown[ACCOUNT_APP_PASSWORD_SHOWN + 1], detail[LOG_QUOTE_CAP + 128],
         nq[LOG_QUOTE_CAP];
    bool seen[3] = {false, false, false};
    struct shown sh = {.app_password = shown, .note = "App password created."};
    struct evkeyval *kv;
    int64_t id = 0;

    TAILQ_FOREACH(kv, &q->form, next)
    {
        size_t k;

        if (strcmp(kv->key, "door") != 0)
            continue;
        for (k = 0; k < 3 && strcmp(kv->value, known[k]) != 0; k++)
            ;
        if (k == 3 || seen[k]) {
            account_error(q, 400, "Bad Request", "Unknown door, or a door named twice.");
            return;
        }
        seen[k] = true;
    }
    for (size_t k = 0; k < 3; k++) {
        if (seen[k])
            (void)str_fmt(doors + strlen(doors), sizeof doors - strlen(doors), "%s%s",
                          doors[0] ? "," : "", known[k]);
    }
    if (doors[0] == '\0') {
        account_error(q, 400, "Bad Request", "Choose at least one door.");
        return;
    }
    if (name == NULL) {
        account_error(q, 400, "Bad Request", "A name is needed.");
        return;
    }
    switch (account_app_password_create(q->con->store, q->s->user, name, doors, (int64_t)time(NULL),
                                        shown, &id)) {
    case ACCOUNT_OK:
        break;
    case ACCOUNT_EXISTS:
        account_error(q, 409, "Conflict", "You have the most app passwords there may be.");
        return;
    case ACCOUNT_NONE:
        account_error(q, 400, "Bad Request",
                      "A name is 1 to 64 octets of UTF-8 without control characters.");
        return;
    default:
        account_error(q, 503, "Service Unavailable", "The account store failed.");
        return;
    }
    (void)str_fmt(detail, sizeof detail, "id=%" PRId64 ", name=\"%s\", doors=%s", id,
                  log_quote(nq, sizeof nq, name, strlen(name)), doors);
    log_action(q, "app-password-create", detail);
    account_page(q, 200, "OK", &sh);
    OPENSSL_cleanse(shown, sizeof shown);
}

void
do_app_revoke(struct req *q)
{
    const char *text = field(q, "id");
    char *end = NULL, detail[64];
    long long id;
    struct shown sh = {.note = "App password revoked."};

    errno = 0;
    id = text != NULL ? strtoll(text, &end, 10) : 0;
    if (text == NULL || text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || id <= 0) {
        account_error(q, 400, "Bad Request", "No such app password.");
        return;
    }
    switch (
        account_app_password_revoke(q->con->store, q->s->user, (int64_t)id, (int64_t)time(NULL))) {
    case ACCOUNT_OK:
        break;
    case ACCOUNT_NONE:
        account_error(q, 404, "Not Found", "No such app password.");
        return;
    case ACCOUNT_REVOKED:
        account_error(q, 409, "Conflict", "That app password is revoked already.");
        return;
    default:
        account_error(q, 503, "Service Unavailable", "The account store failed.");
        return;
    }
    (void)str_fmt(detail, sizeof detail, "id=%lld", id);
    log_action(q, "app-password-revoke", detail);
    account_page(q, 200, "OK", &sh);
}
