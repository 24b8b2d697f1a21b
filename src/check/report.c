/* SPDX-License-Identifier: MIT */
/*
 * The output of gate26 check: a table for people and one JSON object for
 * scripts, with the same facts in both (each field of check.h, each finding
 * with its id, level and text, the worst level and the exit status). Colour
 * is the caller's choice (check.c: a terminal without NO_COLOR); the table
 * reads the same without it, since each finding also names its level.
 * The JSON is written by hand: a few flat objects need no library, and
 * check_json_str() keeps any peer's bytes valid JSON (RFC 8259).
 */
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "check/check.h"
#include "check/json.h"

/* ---- JSON ---- */

void
check_json_str(FILE *out, const char *s)
{
    if (s == NULL) {
        fputs("null", out);
        return;
    }
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        default:
            if (*p < 0x20 || *p >= 0x7f)
                fprintf(out, "\\u%04x", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}

void
check_json_findings(FILE *out, const struct check_findings *f)
{
    fputc('[', out);
    for (size_t i = 0; i < f->n; i++) {
        fputs(i > 0 ? ", {\"id\": " : "{\"id\": ", out);
        check_json_str(out, f->v[i].id);
        fputs(", \"level\": ", out);
        check_json_str(out, check_level_name(f->v[i].level));
        fputs(", \"text\": ", out);
        check_json_str(out, f->v[i].text);
        if (f->v[i].fix[0] != '\0') {
            fputs(", \"fix\": ", out);
            check_json_str(out, f->v[i].fix);
        }
        fputc('}', out);
    }
    fputc(']', out);
}

static void
json_bool(FILE *out, const char *key, bool v)
{
    fprintf(out, ", \"%s\": %s", key, v ? "true" : "false");
}

static void
json_strkey(FILE *out, const char *key, const char *v)
{
    fprintf(out, ", \"%s\": ", key);
    check_json_str(out, v);
}

/* The end of a report: its worst level and the exit status that follows. */
void
check_json_verdict(FILE *out, enum check_level worst)
{
    fputs(", \"level\": ", out);
    check_json_str(out, check_level_name(worst));
    fprintf(out, ", \"exit\": %d}\n", check_exit_status(worst));
}

void
check_json_local(FILE *out, const struct check_local *l)
{
    fputs("{\"check\": \"local\", \"ports\": [", out);
    for (size_t i = 0; i < l->n_ports; i++)
        fprintf(out, "%s%u", i > 0 ? ", " : "", l->ports[i]);
    fputs("], \"listeners\": [", out);
    for (size_t i = 0; i < l->n; i++) {
        const struct check_listener *x = &l->v[i];

        fprintf(out, "%s{\"port\": %u, \"family\": \"%s\"", i > 0 ? ", " : "", x->port,
                x->family == AF_INET6 ? "ipv6" : "ipv4");
        json_strkey(out, "addr", x->addr);
        json_strkey(out, "scope", x->scope);
        json_bool(out, "dual_stack", x->dual_stack);
        if (x->pid == -1)
            fputs(", \"pid\": null", out);
        else
            fprintf(out, ", \"pid\": %ld", x->pid);
        json_strkey(out, "command", x->command);
        json_strkey(out, "user", x->user);
        json_bool(out, "is_gate26", x->is_gate26);
        json_strkey(out, "role", x->role[0] != '\0' ? x->role : NULL);
        fputs(", \"findings\": ", out);
        check_json_findings(out, &x->findings);
        fputs(", \"level\": ", out);
        check_json_str(out, check_level_name(check_worst(&x->findings)));
        fputc('}', out);
    }
    fputs("], \"not_listening\": [", out);
    for (size_t i = 0; i < l->n_free; i++)
        fprintf(out, "%s%u", i > 0 ? ", " : "", l->ports_free[i]);
    fputs("], \"findings\": ", out);
    check_json_findings(out, &l->findings);
    check_json_verdict(out, check_local_worst(l));
}

/* ISO 8601 (UTC) of a time_t, or "" for 0. */
static void
iso_time(long long t, char *out, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;

    out[0] = '\0';
    if (t != 0 && gmtime_r(&tt, &tm) != NULL)
        (void)strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
json_tls(FILE *out, const struct check_tls *t)
{
    char when[32];

    iso_time(t->not_after, when, sizeof(when));
    fprintf(out, "{\"done\": %s", t->done ? "true" : "false");
    json_strkey(out, "how", t->how);
    json_strkey(out, "version", t->version);
    json_strkey(out, "cipher", t->cipher);
    json_strkey(out, "subject", t->subject);
    json_strkey(out, "sans", t->sans);
    json_strkey(out, "issuer", t->issuer);
    fprintf(out, ", \"not_after\": %lld", t->not_after);
    json_strkey(out, "not_after_iso", when);
    fprintf(out, ", \"days_left\": %ld", t->days_left);
    json_bool(out, "chain_ok", t->chain_ok);
    json_strkey(out, "verify_text", t->verify_text);
    json_bool(out, "name_ok", t->name_ok);
    json_strkey(out, "error", t->error);
    fputc('}', out);
}

void
check_json_hosts(FILE *out, const struct check_host *h, size_t n,
                 const struct check_findings *domain_findings)
{
    fputs("{\"check\": \"remote\", \"hosts\": [", out);
    for (size_t i = 0; i < n; i++) {
        fputs(i > 0 ? ", {\"name\": " : "{\"name\": ", out);
        check_json_str(out, h[i].name);
        json_strkey(out, "addr", h[i].addr);
        json_strkey(out, "ptr", h[i].ptr);
        json_bool(out, "fcrdns", h[i].fcrdns);
        fputs(", \"ports\": [", out);
        for (size_t j = 0; j < h[i].n_ports; j++) {
            const struct check_port *p = &h[i].ports[j];

            fprintf(out, "%s{\"port\": %u", j > 0 ? ", " : "", p->port);
            json_strkey(out, "state", check_port_state_name(p->state));
            fprintf(out, ", \"connect_ms\": %.1f, \"greeting_ms\": %.1f", p->connect_ms,
                    p->greeting_ms);
            json_strkey(out, "greeting", p->greeting);
            json_strkey(out, "ehlo", p->ehlo);
            json_bool(out, "auth_before_tls", p->auth_before_tls);
            json_strkey(out, "source", p->source);
            fputs(", \"tls\": ", out);
            json_tls(out, &p->tls);
            fputs(", \"findings\": ", out);
            check_json_findings(out, &p->findings);
            fputs(", \"level\": ", out);
            check_json_str(out, check_level_name(check_worst(&p->findings)));
            fputc('}', out);
        }
        fputs("], \"findings\": ", out);
        check_json_findings(out, &h[i].findings);
        fputc('}', out);
    }
    fputs("], \"findings\": ", out);
    if (domain_findings != NULL) {
        check_json_findings(out, domain_findings);
    } else {
        fputs("[]", out);
    }
    check_json_verdict(out, check_hosts_worst(h, n, domain_findings));
}

/* ---- the table ---- */

static const char *
level_colour(enum check_level l)
{
    switch (l) {
    case CHECK_OK:
        return "\033[32m"; /* green */
    case CHECK_INFO:
        return "\033[36m"; /* cyan */
    case CHECK_WARN:
        return "\033[33m"; /* yellow */
    case CHECK_CRIT:
        return "\033[1;31m"; /* bold red */
    }
    return "";
}

/* "  LEVEL  ID  TEXT", indented; the level word is there with or without colour. */
void
check_print_findings(FILE *out, const struct check_findings *f, const char *indent, bool colour)
{
    for (size_t i = 0; i < f->n; i++) {
        const struct check_finding *x = &f->v[i];

        fprintf(out, "%s%s%-8s%s %-26s %s\n", indent, colour ? level_colour(x->level) : "",
                check_level_name(x->level), colour ? "\033[0m" : "", x->id, x->text);
        if (x->fix[0] != '\0')
            fprintf(out, "%s%-8s %-26s fix: %s\n", indent, "", "", x->fix);
    }
}

void
check_print_verdict(FILE *out, enum check_level worst, bool colour)
{
    fprintf(out, "\nresult: %s%s%s (exit %d)\n", colour ? level_colour(worst) : "",
            check_level_name(worst), colour ? "\033[0m" : "", check_exit_status(worst));
}

void
check_print_local(FILE *out, const struct check_local *l, bool colour)
{
    fputs("gate26 check --local: ports", out);
    for (size_t i = 0; i < l->n_ports; i++)
        fprintf(out, " %u", l->ports[i]);
    fprintf(out, "\n\n%-6s %-6s %-26s %-9s %-8s %-12s %-7s %-12s %s\n", "PORT", "FAMILY", "ADDRESS",
            "SCOPE", "PID", "USER", "GATE26", "ROLE", "COMMAND");
    for (size_t k = 0; k < l->n_ports; k++) {
        bool any = false;

        for (size_t i = 0; i < l->n; i++) {
            const struct check_listener *x = &l->v[i];
            char pid[24];

            if (x->port != l->ports[k])
                continue;
            any = true;
            if (x->pid == -1)
                (void)snprintf(pid, sizeof(pid), "-");
            else
                (void)snprintf(pid, sizeof(pid), "%ld", x->pid);
            fprintf(out, "%-6u %-6s %-26s %-9s %-8s %-12s %-7s %-12s %s\n", x->port,
                    x->family == AF_INET6 ? "ipv6" : "ipv4", x->addr,
                    x->dual_stack ? "all+ipv4" : x->scope, pid, x->user,
                    x->is_gate26 ? "yes" : "no", x->role[0] != '\0' ? x->role : "-",
                    x->command[0] != '\0' ? x->command : "-");
            check_print_findings(out, &x->findings, "       ", colour);
        }
        if (!any)
            fprintf(out, "%-6u %s\n", l->ports[k], "nobody listens");
    }
    if (l->findings.n > 0) {
        fputs("\n", out);
        check_print_findings(out, &l->findings, "", colour);
    }
    check_print_verdict(out, check_local_worst(l), colour);
}

static void
print_port(FILE *out, const struct check_port *p, bool colour)
{
    const struct check_tls *t = &p->tls;

    fprintf(out, "  port %-5u %-9s", p->port, check_port_state_name(p->state));
    if (p->state == CHECK_PORT_OPEN)
        fprintf(out, " connect %.1f ms, greeting %.1f ms, from %s", p->connect_ms, p->greeting_ms,
                p->source[0] != '\0' ? p->source : "-");
    fputc('\n', out);
    if (p->greeting[0] != '\0')
        fprintf(out, "    %-10s %s\n", "greeting", p->greeting);
    if (p->ehlo[0] != '\0')
        fprintf(out, "    %-10s %s\n", "ehlo", p->ehlo);
    if (p->auth_before_tls)
        fprintf(out, "    %-10s %s\n", "auth", "offered before TLS");
    if (t->done) {
        char when[32];

        iso_time(t->not_after, when, sizeof(when));
        fprintf(out, "    %-10s %s %s %s\n", "tls", t->how, t->version, t->cipher);
        fprintf(out, "    %-10s subject %s; sans %s; issuer %s\n", "cert", t->subject,
                t->sans[0] != '\0' ? t->sans : "-", t->issuer);
        fprintf(out, "    %-10s not after %s (%ld days left); chain %s%s%s; name %s\n", "",
                when[0] != '\0' ? when : "-", t->days_left, t->chain_ok ? "ok" : "not ok",
                t->verify_text[0] != '\0' ? ": " : "", t->verify_text,
                t->name_ok ? "ok" : "not ok");
    } else if (t->how[0] != '\0' || t->error[0] != '\0') {
        fprintf(out, "    %-10s %s failed: %s\n", "tls", t->how[0] != '\0' ? t->how : "-",
                t->error[0] != '\0' ? t->error : "-");
    }
    check_print_findings(out, &p->findings, "    ", colour);
}

void
check_print_hosts(FILE *out, const struct check_host *h, size_t n,
                  const struct check_findings *domain_findings, bool colour)
{
    if (domain_findings != NULL && domain_findings->n > 0) {
        check_print_findings(out, domain_findings, "", colour);
        fputc('\n', out);
    }
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "%shost %s  address %s  ptr %s  fcrdns %s\n", i > 0 ? "\n" : "", h[i].name,
                h[i].addr[0] != '\0' ? h[i].addr : "-", h[i].ptr[0] != '\0' ? h[i].ptr : "-",
                h[i].fcrdns ? "yes" : "no");
        check_print_findings(out, &h[i].findings, "  ", colour);
        for (size_t j = 0; j < h[i].n_ports; j++)
            print_port(out, &h[i].ports[j], colour);
    }
    check_print_verdict(out, check_hosts_worst(h, n, domain_findings), colour);
}
