/* SPDX-License-Identifier: MIT */
/*
 * The verifier with a probe of the test's own (verify_new_with) and the
 * memory store on a clock of the test's own: list answers, callouts and
 * their cache (one probe per address per time to live: 1 day known, 1 hour
 * unknown, temporary failures not kept), coalescing, the cap on callouts in
 * flight, the budget, cancels in every state, a store value that is not
 * ours, and the end with callouts in flight. Every answer comes on a later
 * turn of the loop, never inside verify_start().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "state/state.h"
#include "verify/verify_impl.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- The test's probe ---- */

struct fake_probe {
    verify_probe_fn *fn;
    void *arg;
    char addr[CAP_MAILBOX + 1];
    char domain[CAP_DOMAIN + 1];
    bool utf8;
    bool live, cancelled;
    bool known; /* peek says the answer is known */
};

static struct fake_probe probes[CAP_CALLOUTS + 8];
static size_t n_probes;
static bool probe_refuses; /* start returns NULL */

static void *
fake_start(struct verify *v, const struct conf *c, const char *domain, const char *addr, bool utf8,
           verify_probe_fn *fn, void *arg)
{
    struct fake_probe *p;

    (void)v;
    (void)c;
    if (probe_refuses)
        return NULL;
    assert_true(n_probes < N_OF(probes));
    p = &probes[n_probes++];
    memset(p, 0, sizeof(*p));
    p->fn = fn;
    p->arg = arg;
    p->utf8 = utf8;
    p->live = true;
    (void)snprintf(p->addr, sizeof(p->addr), "%s", addr);
    (void)snprintf(p->domain, sizeof(p->domain), "%s", domain);
    return p;
}

static bool
fake_peek(void *probe, struct verify_probe_result *r)
{
    struct fake_probe *p = probe;

    if (!p->known)
        return false;
    r->result = VERIFY_OK;
    r->relay = "relay.test[10.0.0.5]:25";
    r->reply = "250 2.1.5 Ok (in reply to RCPT TO command)";
    return true;
}

static void
fake_cancel(void *probe)
{
    struct fake_probe *p = probe;

    assert_true(p->live);
    p->live = false;
    p->cancelled = true;
}

static const struct verify_probe_ops fake_ops = {fake_start, fake_peek, fake_cancel};

/* Probe i answers. */
static void
answer(size_t i, enum verify_result result, const char *reply)
{
    struct verify_probe_result r = {result, "relay.test[10.0.0.5]:25", reply};

    assert_true(i < n_probes && probes[i].live);
    probes[i].live = false;
    probes[i].fn(probes[i].arg, &r);
}

/* ---- Answers ---- */

struct got {
    int calls;
    enum verify_result result;
    enum verify_source source;
    char relay[128], reply[600], reason[32];
};

static bool in_start;

static void
got_cb(void *arg, const struct verify_answer *a)
{
    struct got *g = arg;

    assert_false(in_start);
    g->calls++;
    g->result = a->result;
    g->source = a->source;
    (void)snprintf(g->relay, sizeof(g->relay), "%s", a->relay);
    (void)snprintf(g->reply, sizeof(g->reply), "%s", a->reply);
    (void)snprintf(g->reason, sizeof(g->reason), "%s", a->reason != NULL ? a->reason : "");
}

/* ---- Fixture ---- */

static uint64_t fake_now;

static uint64_t
fake_clock(void)
{
    return fake_now;
}

static char list_path[] = "/tmp/gate26-verify-list-XXXXXX";

struct fx {
    struct event_base *base;
    struct state *st;
    struct verify *v;
    struct conf *c;
};

static struct fx
fx_new(unsigned timeout)
{
    static const unsigned char seed[16] = {7};
    size_t max[STATE_NS_COUNT] = {[STATE_NS_CALLOUT] = 1000, [STATE_NS_LOGIN] = 10};
    char text[1024], err[512];
    struct fx f;

    fake_now = 5000000;
    n_probes = 0;
    probe_refuses = false;
    f.base = event_base_new();
    assert_non_null(f.base);
    f.st = state_mem_new(f.base, max, seed, fake_clock);
    f.v = verify_new_with(f.base, NULL, f.st, &fake_ops);
    (void)snprintf(text, sizeof(text),
                   "callout-timeout %u\n"
                   "listen inbound {\n address 127.0.0.1:2525\n}\n"
                   "domain example.com {\n relay smtp://10.0.0.5:25\n}\n"
                   "domain listed.example {\n verify-recipients %s\n}\n"
                   "domain open.example {\n}\n",
                   timeout, list_path);
    f.c = conf_load_text("/tmp/test.conf", text, strlen(text), err, sizeof(err));
    if (f.c == NULL)
        fail_msg("%s", err);
    return f;
}

static void
fx_free(struct fx *f)
{
    verify_free(f->v);
    state_free(f->st);
    conf_unref(f->c);
    event_base_free(f->base);
}

static void
turns(struct fx *f, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_not_equal(event_base_loop(f->base, EVLOOP_NONBLOCK), -1);
}

/* Starts a request for addr (local part up to its last '@'). */
static struct verify_req *
ask(struct fx *f, const char *addr, struct got *g)
{
    const char *at = strrchr(addr, '@');
    const struct conf_domain *d = conf_find_domain(f->c, at + 1, strlen(at + 1));
    struct verify_req *r;

    assert_non_null(d);
    in_start = true;
    r = verify_start(f->v, f->c, d, addr, strlen(addr), (size_t)(at - addr), false, got_cb, g);
    in_start = false;
    assert_non_null(r);
    return r;
}

/* ---- Tests ---- */

static void
test_names(void **state)
{
    (void)state;
    assert_string_equal(verify_result_name(VERIFY_OK), "ok");
    assert_string_equal(verify_result_name(VERIFY_UNKNOWN), "unknown");
    assert_string_equal(verify_result_name(VERIFY_TEMP), "tempfail");
    assert_string_equal(verify_source_name(VERIFY_SRC_FILE), "file");
    assert_string_equal(verify_source_name(VERIFY_SRC_CACHE), "cache");
    assert_string_equal(verify_source_name(VERIFY_SRC_CALLOUT), "callout");
}

/* A list domain: from the committed list, never a probe; before a commit the list is gone. */
static void
test_list(void **state)
{
    struct fx f = fx_new(30);
    struct got g[4] = {0};
    char err[512];

    (void)state;
    assert_false(verify_wanted(conf_find_domain(f.c, "open.example", 12)));
    assert_true(verify_wanted(conf_find_domain(f.c, "listed.example", 14)));
    assert_true(verify_wanted(conf_find_domain(f.c, "example.com", 11)));
    (void)ask(&f, "alice@listed.example", &g[0]);
    assert_int_equal(g[0].calls, 0);
    turns(&f, 1);
    assert_int_equal(g[0].calls, 1);
    assert_int_equal(g[0].result, VERIFY_TEMP);
    assert_string_equal(g[0].reason, "list-gone");

    assert_int_equal(verify_prepare(f.v, f.c, err, sizeof(err)), 0);
    (void)ask(&f, "alice@listed.example", &g[1]); /* prepared is not committed */
    verify_commit(f.v, NULL);
    (void)ask(&f, "\"ALICE\"@Listed.Example", &g[2]);
    (void)ask(&f, "mallory@listed.example", &g[3]);
    turns(&f, 1);
    assert_int_equal(g[1].result, VERIFY_TEMP);
    assert_int_equal(g[2].result, VERIFY_OK);
    assert_int_equal(g[2].source, VERIFY_SRC_FILE);
    assert_int_equal(g[3].result, VERIFY_UNKNOWN);
    assert_int_equal(g[3].source, VERIFY_SRC_FILE);
    assert_string_equal(g[3].relay, "none");
    assert_int_equal(n_probes, 0);
    fx_free(&f);
}

/* A broken list fails the prepare and changes nothing. */
static void
test_prepare_fails(void **state)
{
    struct fx f = fx_new(30);
    struct got g = {0};
    char err[512];
    FILE *fp;

    (void)state;
    assert_int_equal(verify_prepare(f.v, f.c, err, sizeof(err)), 0);
    verify_commit(f.v, NULL);
    fp = fopen(list_path, "w");
    assert_non_null(fp);
    (void)fputs("bob@listed.example\nbad@@x\n", fp);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(verify_prepare(f.v, f.c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":2: expected local@domain"));
    assert_int_equal(strncmp(err, list_path, strlen(list_path)), 0);
    /* The failed prepare kept nothing aside: a commit now (the daemon makes none after a
     * failed prepare) would put no list at all in use, not the broken one. */
    verify_commit(f.v, NULL);
    fp = fopen(list_path, "w");
    assert_non_null(fp);
    (void)fputs("alice@listed.example\n", fp);
    assert_int_equal(fclose(fp), 0);
    (void)ask(&f, "alice@listed.example", &g);
    turns(&f, 1);
    assert_int_equal(g.result, VERIFY_TEMP);
    assert_string_equal(g.reason, "list-gone");
    fx_free(&f);
}

/* A callout: its answer, then the cache for every spelling of the address. */
static void
test_callout_and_cache(void **state)
{
    struct fx f = fx_new(30);
    struct got g[6] = {0};

    (void)state;
    (void)ask(&f, "Bob@Example.com", &g[0]);
    assert_int_equal(n_probes, 0); /* the cache is read first, later */
    turns(&f, 1);
    assert_int_equal(n_probes, 1);
    assert_string_equal(probes[0].addr, "Bob@Example.com"); /* as the client wrote it */
    assert_string_equal(probes[0].domain, "example.com");
    assert_int_equal(verify_callouts(f.v), 1);
    answer(0, VERIFY_OK, "250 2.1.5 Ok (in reply to RCPT TO command)");
    assert_int_equal(g[0].calls, 0);
    turns(&f, 1);
    assert_int_equal(g[0].calls, 1);
    assert_int_equal(g[0].result, VERIFY_OK);
    assert_int_equal(g[0].source, VERIFY_SRC_CALLOUT);
    assert_string_equal(g[0].relay, "relay.test[10.0.0.5]:25");
    assert_int_equal(verify_callouts(f.v), 0);

    (void)ask(&f, "bob@example.com", &g[1]);
    (void)ask(&f, "\"BOB\"@EXAMPLE.COM", &g[2]);
    turns(&f, 3);
    assert_int_equal(n_probes, 1);
    assert_int_equal(g[1].result, VERIFY_OK);
    assert_int_equal(g[1].source, VERIFY_SRC_CACHE);
    assert_string_equal(g[1].relay, "relay.test[10.0.0.5]:25");
    assert_string_equal(g[1].reply, "250 2.1.5 Ok (in reply to RCPT TO command)");
    assert_int_equal(g[2].source, VERIFY_SRC_CACHE);

    /* Unknown is cached too; a temporary failure is not. */
    (void)ask(&f, "nobody@example.com", &g[3]);
    turns(&f, 1);
    answer(1, VERIFY_UNKNOWN, "550 5.1.1 <nobody@example.com>: User unknown");
    turns(&f, 1);
    assert_int_equal(g[3].result, VERIFY_UNKNOWN);
    (void)ask(&f, "nobody@example.com", &g[4]);
    turns(&f, 3);
    assert_int_equal(g[4].result, VERIFY_UNKNOWN);
    assert_int_equal(g[4].source, VERIFY_SRC_CACHE);
    assert_string_equal(g[4].reply, "550 5.1.1 <nobody@example.com>: User unknown");
    assert_int_equal(n_probes, 2);

    (void)ask(&f, "carol@example.com", &g[5]);
    turns(&f, 1);
    answer(2, VERIFY_TEMP, "connect to relay: Connection refused");
    turns(&f, 1);
    assert_int_equal(g[5].result, VERIFY_TEMP);
    assert_string_equal(g[5].reason, "");
    memset(&g[5], 0, sizeof(g[5]));
    (void)ask(&f, "carol@example.com", &g[5]);
    turns(&f, 1);
    assert_int_equal(n_probes, 4);
    answer(3, VERIFY_OK, "250 ok");
    turns(&f, 1);
    assert_int_equal(g[5].result, VERIFY_OK);
    fx_free(&f);
}

/* Known answers live a day, unknown ones an hour, by the store's clock. */
static void
test_ttl(void **state)
{
    static const struct {
        enum verify_result result;
        unsigned ttl;
    } rows[] = {{VERIFY_OK, VERIFY_TTL_OK}, {VERIFY_UNKNOWN, VERIFY_TTL_UNKNOWN}};

    (void)state;
    assert_int_equal(VERIFY_TTL_OK, 86400);
    assert_int_equal(VERIFY_TTL_UNKNOWN, 3600);
    for (size_t i = 0; i < N_OF(rows); i++) {
        struct fx f = fx_new(30);
        struct got g[3] = {0};

        (void)ask(&f, "dave@example.com", &g[0]);
        turns(&f, 1);
        answer(0, rows[i].result, "reply");
        turns(&f, 1);
        fake_now += (uint64_t)rows[i].ttl * 1000 - 1000;
        (void)ask(&f, "dave@example.com", &g[1]);
        turns(&f, 2);
        assert_int_equal(g[1].source, VERIFY_SRC_CACHE);
        assert_int_equal(g[1].result, rows[i].result);
        assert_int_equal(n_probes, 1);
        fake_now += 2000;
        (void)ask(&f, "dave@example.com", &g[2]);
        turns(&f, 1);
        assert_int_equal(n_probes, 2); /* expired: asked again */
        answer(1, VERIFY_OK, "250 ok");
        turns(&f, 1);
        assert_int_equal(g[2].source, VERIFY_SRC_CALLOUT);
        fx_free(&f);
    }
}

/* Requests for one address at once share one probe, whether they came before or after it began. */
static void
test_coalesce(void **state)
{
    struct fx f = fx_new(30);
    struct got g[6] = {0};

    (void)state;
    (void)ask(&f, "erin@example.com", &g[0]);
    (void)ask(&f, "Erin@example.com", &g[1]); /* both read the cache */
    turns(&f, 1);
    (void)ask(&f, "erin@EXAMPLE.com", &g[2]); /* joins the callout at once */
    (void)ask(&f, "frank@example.com", &g[3]);
    turns(&f, 1);
    assert_int_equal(n_probes, 2);
    assert_int_equal(verify_callouts(f.v), 2);
    answer(0, VERIFY_UNKNOWN, "550 5.1.1 unknown");
    turns(&f, 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(g[i].calls, 1);
        assert_int_equal(g[i].result, VERIFY_UNKNOWN);
        assert_int_equal(g[i].source, VERIFY_SRC_CALLOUT);
    }
    assert_int_equal(g[3].calls, 0);
    answer(1, VERIFY_OK, "250 ok");
    turns(&f, 1);
    assert_int_equal(g[3].result, VERIFY_OK);
    fx_free(&f);
}

/* At most CAP_CALLOUTS in flight: one more is "busy" at once, and nothing waits. */
static void
test_cap(void **state)
{
    struct fx f = fx_new(30);
    static struct got g[CAP_CALLOUTS + 2];
    char addr[64];

    (void)state;
    memset(g, 0, sizeof(g));
    for (int i = 0; i <= CAP_CALLOUTS; i++) {
        (void)snprintf(addr, sizeof(addr), "guess%d@example.com", i);
        (void)ask(&f, addr, &g[i]);
    }
    turns(&f, 2);
    assert_int_equal(n_probes, CAP_CALLOUTS);
    assert_int_equal(verify_callouts(f.v), CAP_CALLOUTS);
    assert_int_equal(g[CAP_CALLOUTS].calls, 1);
    assert_int_equal(g[CAP_CALLOUTS].result, VERIFY_TEMP);
    assert_string_equal(g[CAP_CALLOUTS].reason, "busy");
    /* A known address is still answered from the cache; a new one waits for room. */
    answer(0, VERIFY_UNKNOWN, "550 5.1.1");
    turns(&f, 1);
    (void)ask(&f, "guess0@example.com", &g[CAP_CALLOUTS + 1]);
    turns(&f, 2);
    assert_int_equal(g[CAP_CALLOUTS + 1].source, VERIFY_SRC_CACHE);
    memset(&g[CAP_CALLOUTS], 0, sizeof(g[0]));
    (void)ask(&f, "late@example.com", &g[CAP_CALLOUTS]);
    turns(&f, 2);
    assert_int_equal(n_probes, CAP_CALLOUTS + 1);
    fx_free(&f); /* the callouts in flight are cancelled */
    for (size_t i = 1; i < n_probes; i++)
        assert_true(probes[i].cancelled);
}

/* Cancelled in each state: no callback, and a callout goes on to fill the cache. */
static void
test_cancel(void **state)
{
    struct fx f = fx_new(30);
    struct got g[5] = {0};
    struct verify_req *r;

    (void)state;
    r = ask(&f, "gina@example.com", &g[0]); /* reading the cache */
    verify_cancel(r);
    turns(&f, 2);
    assert_int_equal(n_probes, 0);
    r = ask(&f, "gina@example.com", &g[1]);
    (void)ask(&f, "gina@example.com", &g[2]);
    turns(&f, 1);
    assert_int_equal(n_probes, 1);
    verify_cancel(r); /* waiting for the callout */
    answer(0, VERIFY_OK, "250 ok");
    r = ask(&f, "hank@listed.example", &g[3]); /* answered, its event not yet run */
    verify_cancel(r);
    turns(&f, 2);
    assert_int_equal(g[0].calls + g[1].calls + g[3].calls, 0);
    assert_int_equal(g[2].calls, 1);
    /* Every waiter gone: the callout still ends and caches. */
    r = ask(&f, "ivy@example.com", &g[4]);
    turns(&f, 1);
    verify_cancel(r);
    answer(1, VERIFY_UNKNOWN, "550 no");
    memset(&g[4], 0, sizeof(g[4]));
    (void)ask(&f, "ivy@example.com", &g[4]);
    turns(&f, 3);
    assert_int_equal(g[4].source, VERIFY_SRC_CACHE);
    assert_int_equal(g[4].result, VERIFY_UNKNOWN);
    verify_cancel(NULL);
    fx_free(&f);
}

/* Runs the loop (real time) until g has its answer, for at most seconds. */
static void
wait_answer(struct fx *f, struct got *g, int seconds)
{
    for (int i = 0; i < seconds * 100 && g->calls == 0; i++) {
        turns(f, 1);
        (void)usleep(10000);
    }
    assert_int_equal(g->calls, 1);
}

/* callout-timeout: no answer in time is "try later"; an answer known by then is used. */
static void
test_budget(void **state)
{
    struct fx f = fx_new(1);
    struct got g[3] = {0};

    (void)state;
    (void)ask(&f, "jack@example.com", &g[0]);
    turns(&f, 1);
    wait_answer(&f, &g[0], 5);
    assert_int_equal(g[0].result, VERIFY_TEMP);
    assert_string_equal(g[0].reply, "no answer within 1s (callout-timeout)");
    assert_true(probes[0].cancelled);
    (void)ask(&f, "jack@example.com", &g[1]);
    turns(&f, 1);
    assert_int_equal(n_probes, 2); /* not cached */
    probes[1].known = true;        /* RCPT answered, QUIT not yet */
    wait_answer(&f, &g[1], 5);
    assert_int_equal(g[1].result, VERIFY_OK);
    assert_string_equal(g[1].relay, "relay.test[10.0.0.5]:25");
    assert_true(probes[1].cancelled);
    (void)ask(&f, "jack@example.com", &g[2]);
    turns(&f, 2);
    assert_int_equal(g[2].source, VERIFY_SRC_CACHE);
    fx_free(&f);
}

/* A probe that cannot start, and a store value that is not one of ours. */
static void
test_hostile(void **state)
{
    struct fx f = fx_new(30);
    struct got g[3] = {0};

    (void)state;
    probe_refuses = true;
    (void)ask(&f, "kim@example.com", &g[0]);
    turns(&f, 2);
    assert_int_equal(g[0].result, VERIFY_TEMP);
    assert_int_equal(verify_callouts(f.v), 0);
    probe_refuses = false;
    state_put(f.st, STATE_NS_CALLOUT, "kim@example.com", 15, "+no line end", 12, 60);
    (void)ask(&f, "kim@example.com", &g[1]);
    turns(&f, 1);
    assert_int_equal(n_probes, 1);
    answer(0, VERIFY_OK, "250 ok");
    turns(&f, 1);
    assert_int_equal(g[1].result, VERIFY_OK);
    state_put(f.st, STATE_NS_CALLOUT, "kim@example.com", 15, "?x\ny", 4, 60);
    (void)ask(&f, "kim@example.com", &g[2]);
    turns(&f, 1);
    assert_int_equal(n_probes, 2);
    fx_free(&f);
}

static int
group_setup(void **state)
{
    int fd = mkstemp(list_path);

    (void)state;
    if (fd == -1)
        return -1;
    if (write(fd, "alice@listed.example\n", 21) != 21)
        return -1;
    return close(fd);
}

static int
group_teardown(void **state)
{
    (void)state;
    return unlink(list_path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),         cmocka_unit_test(test_list),
        cmocka_unit_test(test_prepare_fails), cmocka_unit_test(test_callout_and_cache),
        cmocka_unit_test(test_ttl),           cmocka_unit_test(test_coalesce),
        cmocka_unit_test(test_cap),           cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_budget),        cmocka_unit_test(test_hostile),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
