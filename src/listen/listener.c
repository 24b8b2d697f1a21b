/* SPDX-License-Identifier: MIT */
/*
 * Listening sockets and accept: see listen.h. IPv6 sockets are IPV6_V6ONLY
 * so that 0.0.0.0:25 and [::]:25 are two listeners, and each client's
 * address is seen in its own family by the allow lists. A connection from
 * one of the door's proxy-protocol networks waits for its PROXY header
 * (proxy.c) holding its place in the session counts, then goes on like a
 * direct one from the address the header carries.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "lib/log.h"
#include "lib/now.h"
#include "lib/sock.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "listen/listen.h"
#include "listen/proxy.h"
#include "policy/policy.h"
#include "watch/watch.h"

/* One accepted connection, for what its session reports back when it ends. */
struct listen_conn {
    struct listen_set *set;
    enum door_role role;
    bool held; /* it holds a place in the per-client count */
    int family;
    unsigned char addr[16];
};

struct listener {
    struct listener *next;
    struct listen_set *set;
    struct conf *conf; /* a reference */
    const struct conf_listen *door;
    const struct conf_listen *next_door; /* during listen_set_apply */
    struct conf_addr addr;
    int fd;                    /* until el owns it */
    struct evconnlistener *el; /* NULL until started */
    struct event *pause;       /* re-enables accept after a resource error */
};

/* A connection from a door's proxy-protocol network, waiting for its header. */
struct listen_pending {
    struct listen_pending *next, *prev;
    struct listen_set *set;
    struct conf *conf; /* a reference: its session starts under the conf of its accept */
    const struct conf_listen *door; /* inside conf */
    struct proxy_wait *wait;
};

struct listen_set {
    const struct smtp_env *env;
    struct listener *list;
    struct listen_pending *pending;
    size_t total; /* sessions and connections waiting for their PROXY header */
    size_t per_role[DOOR_ROLE_COUNT];
};

struct listen_set *
listen_set_new(const struct smtp_env *env)
{
    struct listen_set *ls = xcalloc(1, sizeof(*ls));

    ls->env = env;
    return ls;
}

size_t
listen_sessions(const struct listen_set *ls, enum door_role role)
{
    return ls->per_role[role];
}

static void
listen_session_ended(void *arg)
{
    struct listen_conn *lc = arg;

    lc->set->total--;
    lc->set->per_role[lc->role]--;
    if (lc->held)
        policy_session_end(lc->set->env->limits, lc->role, lc->family, lc->addr);
    free(lc);
}

/* The client's address as the policy sees it: an IPv4-mapped IPv6 address is IPv4. */
static void
listen_client(const struct sockaddr *sa, struct listen_conn *lc)
{
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            lc->family = AF_INET;
            memcpy(lc->addr, in6->sin6_addr.s6_addr + 12, 4);
        } else {
            lc->family = AF_INET6;
            memcpy(lc->addr, in6->sin6_addr.s6_addr, 16);
        }
    } else {
        lc->family = AF_INET;
        memcpy(lc->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    }
}

/* A connection the listener refuses before any session, for the watcher. */
static void
listen_watch(const struct listen_set *ls, enum door_role role, const struct listen_conn *lc,
             enum watch_connect result)
{
    struct watch_event ev = {.kind = WATCH_CONNECT,
                             .door = role,
                             .family = lc->family,
                             .addr = lc->addr,
                             .connect = result};

    watch_note(ls->env->watch, &ev);
}

/*
 * The per-client limits of the door (max-sessions-per-client, connection-rate).
 * A client the door refuses by its lists is not counted: its session answers
 * 554 and ends. Returns false when the connection was refused (and closed).
 */
static bool
listen_client_limits(struct listen_set *ls, const struct conf *c, const struct conf_listen *door,
                     int fd, struct listen_conn *lc)
{
    char text[600], client[INET6_ADDRSTRLEN];
    enum policy_connect_verdict v;
    enum smtp_refusal why;
    const char *limit;
    char value[32];

    if (ls->env->limits == NULL || !policy_may_connect(door, lc->family, lc->addr))
        return true;
    v = policy_session_begin(ls->env->limits, door, lc->family, lc->addr, now_ms(), &lc->held);
    switch (v) {
    case POLICY_CONNECT_OK:
        return true;
    case POLICY_CONNECT_CLIENT_SESSIONS:
        why = SMTP_REFUSE_CLIENT_SESSIONS;
        limit = "max-sessions-per-client";
        (void)str_fmt(value, sizeof value, "%u", door->max_sessions_per_client);
        break;
    case POLICY_CONNECT_CLIENT_RATE:
        why = SMTP_REFUSE_CLIENT_RATE;
        limit = "connection-rate";
        (void)str_fmt(value, sizeof value, "%u/%us", door->connection_rate.n,
                      door->connection_rate.period);
        break;
    case POLICY_CONNECT_NO_ROOM:
    default:
        why = SMTP_REFUSE_BUSY;
        limit = "client-table";
        (void)str_fmt(value, sizeof value, "%d", CAP_LIMIT_CLIENTS);
        break;
    }
    smtp_refuse(fd, why, c->hostname, text, sizeof text);
    listen_watch(ls, door->role, lc,
                 v == POLICY_CONNECT_NO_ROOM ? WATCH_CONNECT_CAPACITY : WATCH_CONNECT_CLIENT_LIMIT);
    if (inet_ntop(lc->family, lc->addr, client, sizeof client) == NULL)
        log_panic("inet_ntop: %s", strerror(errno));
    log_info("-: client=[%s], door=%s, event=reject, cmd=CONNECT, reply=\"%s\", limit=%s, "
             "value=%s",
             client, conf_role_name(door->role), text, limit, value);
    return false;
}

/*
 * A connection that holds its place in the session counts goes on from the
 * client address sa (the one a PROXY header carried, or the connection's
 * own): the per-client limits, then its session. A refused one gives its
 * place back.
 */
static void
listen_admit(struct listen_set *ls, struct conf *c, const struct conf_listen *door, int fd,
             const struct sockaddr *sa, socklen_t salen)
{
    struct listen_conn *lc = xcalloc(1, sizeof(*lc));
    struct smtp_accept a;
    bool refused = true;

    lc->set = ls;
    lc->role = door->role;
    listen_client(sa, lc);
    /* scanners refuse: a fingerprinted source is closed unanswered (counted, logged). */
    if (watch_scanner_refuse(ls->env->watch, door, lc->family, lc->addr))
        (void)close(fd);
    else if (listen_client_limits(ls, c, door, fd, lc))
        refused = false;
    if (refused) {
        free(lc);
        ls->total--;
        ls->per_role[door->role]--;
        return;
    }
    a.conf = c;
    a.door = door;
    a.fd = fd;
    a.peer = sa;
    a.peer_len = salen;
    a.on_end = listen_session_ended;
    a.on_end_arg = lc;
    smtp_session_start(ls->env, &a);
}

static void
listen_pending_unlink(struct listen_pending *p)
{
    struct listen_set *ls = p->set;

    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        ls->pending = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
}

/* The PROXY header was read (fd >= 0) or the connection is gone (fd == -1): see proxy.h. */
static void
listen_proxy_done(void *arg, int fd, const struct sockaddr *client, socklen_t client_len)
{
    struct listen_pending *p = arg;
    struct listen_set *ls = p->set;

    listen_pending_unlink(p);
    if (fd == -1) {
        struct listen_conn lc = {0};
        struct watch_event ev = {
            .kind = WATCH_CONNECT, .door = p->door->role, .connect = WATCH_CONNECT_PROXY_ERROR};

        ls->total--;
        ls->per_role[p->door->role]--;
        listen_client(client, &lc);
        ev.family = lc.family;
        ev.addr = lc.addr;
        watch_note(ls->env->watch, &ev);
    } else {
        listen_admit(ls, p->conf, p->door, fd, client, client_len);
    }
    conf_unref(p->conf);
    free(p);
}

/* A connection from the door's proxy-protocol networks: its header first, within the door's
 * timeout-command and at most CAP_PROXY_WAIT seconds. */
static void
listen_proxy_wait(struct listener *l, int fd, const struct sockaddr *sa, socklen_t salen)
{
    struct listen_set *ls = l->set;
    struct listen_pending *p = xcalloc(1, sizeof(*p));
    unsigned seconds = l->door->timeout_command;

    if (seconds > CAP_PROXY_WAIT)
        seconds = CAP_PROXY_WAIT;
    p->set = ls;
    p->conf = conf_ref(l->conf);
    p->door = l->door;
    p->next = ls->pending;
    if (ls->pending != NULL)
        ls->pending->prev = p;
    ls->pending = p;
    p->wait =
        proxy_wait_new(ls->env->base, fd, sa, salen, l->door->role, seconds, listen_proxy_done, p);
}

static void
listen_accept_cb(struct evconnlistener *el, evutil_socket_t fd, struct sockaddr *sa, int salen,
                 void *arg)
{
    struct listener *l = arg;
    struct listen_set *ls = l->set;
    const struct conf_listen *door = l->door;
    enum door_role role = door->role;
    struct listen_conn peer;
    int one = 1;

    (void)el;
    memset(&peer, 0, sizeof(peer));
    listen_client(sa, &peer);
    if (ls->total >= l->conf->max_sessions || ls->per_role[role] >= door->max_sessions) {
        log_warning("-: door=%s, event=busy, sessions=%zu, door_sessions=%zu", conf_role_name(role),
                    ls->total, ls->per_role[role]);
        smtp_refuse_busy(fd, l->conf->hostname);
        listen_watch(ls, role, &peer, WATCH_CONNECT_CAPACITY);
        return;
    }
    /* Replies are whole lines written once per loop turn: no need for Nagle. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* Counted from now on, also while a PROXY header is awaited: a flood of silent
     * connections from a proxy's address stays within max-sessions. */
    ls->total++;
    ls->per_role[role]++;
    if (door->n_proxy_from > 0 &&
        conf_cidr_match(door->proxy_from, door->n_proxy_from, peer.family, peer.addr)) {
        listen_proxy_wait(l, fd, sa, (socklen_t)salen);
        return;
    }
    listen_admit(ls, l->conf, door, fd, sa, (socklen_t)salen);
}

static void
listen_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    struct listener *l = arg;

    (void)fd;
    (void)what;
    (void)evconnlistener_enable(l->el);
}

/* accept(2) failed: out of descriptors or memory. Pause this socket for a
 * second instead of spinning on the error. */
static void
listen_error_cb(struct evconnlistener *el, void *arg)
{
    struct listener *l = arg;
    struct timeval second = {1, 0};

    log_warning("-: listener=%s, event=accept-error, error=\"%s\"", l->addr.text, strerror(errno));
    (void)evconnlistener_disable(el);
    (void)event_add(l->pause, &second);
}

/*
 * A port below net.ipv4.ip_unprivileged_port_start needs root or
 * CAP_NET_BIND_SERVICE; after the switch to `user` neither is left, so a
 * reload cannot bind one that was not bound at start. Said before any old
 * socket is closed to make room (it could not be bound again either).
 */
static int
listen_check_privileged(const struct conf *c, const struct conf_addr *a, char *err, size_t errcap)
{
    unsigned port = sock_port((const struct sockaddr *)&a->sa);

    if (sock_may_bind(port))
        return 0;
    (void)str_fmt(err, errcap,
                  "%s:%u: address %s: port %u needs root to bind and was not bound at start "
                  "(gate26 runs as uid %ld now): restart gate26 to listen there",
                  c->path, a->line, a->text, port, (long)geteuid());
    return -1;
}

/* A socket bound and listening on addr, or -1 with the reason in err. */
static int
listen_bind(const struct conf_addr *addr, char *err, size_t errcap)
{
    /* The kernel caps the backlog at net.core.somaxconn. */
    int fd = sock_listen((const struct sockaddr *)&addr->sa, addr->sa_len, 4096);

    if (fd == -1)
        (void)str_fmt(err, errcap, "%s: cannot listen: %s", addr->text, strerror(errno));
    return fd;
}

static bool
listen_same_addr(const struct conf_addr *a, const struct conf_addr *b)
{
    return a->sa_len == b->sa_len && memcmp(&a->sa, &b->sa, a->sa_len) == 0;
}

static void
listener_free(struct listener *l)
{
    if (l->el != NULL)
        evconnlistener_free(l->el);
    else if (l->fd != -1)
        (void)close(l->fd);
    if (l->pause != NULL)
        event_free(l->pause);
    conf_unref(l->conf);
    free(l);
}

static void
listener_start(struct listener *l)
{
    /* Backlog 0: the socket already listens (-1 would listen(2) again with 128). */
    l->el = evconnlistener_new(l->set->env->base, listen_accept_cb, l,
                               LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, l->fd);
    if (l->el == NULL)
        log_panic("evconnlistener_new failed for %s", l->addr.text);
    evconnlistener_set_error_cb(l->el, listen_error_cb);
    if (l->pause == NULL)
        l->pause = evtimer_new(l->set->env->base, listen_resume_cb, l);
    if (l->pause == NULL)
        log_panic("evtimer_new failed");
    log_info("-: listener=%s, door=%s, event=listening", l->addr.text,
             conf_role_name(l->door->role));
}

/* Takes the listener for addr out of *list, or returns NULL. */
static struct listener *
listen_take(struct listener **list, const struct conf_addr *addr)
{
    for (struct listener **pp = list; *pp != NULL; pp = &(*pp)->next) {
        struct listener *l = *pp;

        if (listen_same_addr(&l->addr, addr)) {
            *pp = l->next;
            l->next = NULL;
            return l;
        }
    }
    return NULL;
}

/* True when a and b are one address and port of one family, or one of them is the family's
 * wildcard on the other's port: the kernel lets only one of them listen. */
static bool
listen_overlap(const struct conf_addr *a, const struct conf_addr *b)
{
    if (a->sa.ss_family != b->sa.ss_family)
        return false;
    if (a->sa.ss_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)&a->sa;
        const struct sockaddr_in *y = (const struct sockaddr_in *)&b->sa;

        return x->sin_port == y->sin_port &&
               (x->sin_addr.s_addr == y->sin_addr.s_addr || x->sin_addr.s_addr == INADDR_ANY ||
                y->sin_addr.s_addr == INADDR_ANY);
    }
    const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)&a->sa;
    const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)&b->sa;

    return x->sin6_port == y->sin6_port &&
           (IN6_ARE_ADDR_EQUAL(&x->sin6_addr, &y->sin6_addr) ||
            IN6_IS_ADDR_UNSPECIFIED(&x->sin6_addr) || IN6_IS_ADDR_UNSPECIFIED(&y->sin6_addr));
}

/* Closes l's socket but keeps l, so that it can be bound again. */
static void
listener_unbind(struct listener *l)
{
    if (l->pause != NULL)
        (void)event_del(l->pause);
    if (l->el != NULL)
        evconnlistener_free(l->el);
    l->el = NULL;
    l->fd = -1;
}

/*
 * A reload failed after old listeners were unbound to make room: bind them
 * again. If that fails too (someone took the port meanwhile) the listener
 * is lost, and said so.
 */
static void
listener_rebind(struct listener *l)
{
    char err[256];

    l->fd = listen_bind(&l->addr, err, sizeof(err));
    if (l->fd == -1) {
        log_error("-: listener=%s, event=lost, error=\"%s\"", l->addr.text, err);
        return;
    }
    listener_start(l);
}

/* Moves every listener of *from onto *to. */
static void
listen_splice(struct listener **to, struct listener **from)
{
    while (*from != NULL) {
        struct listener *l = *from;

        *from = l->next;
        l->next = *to;
        *to = l;
    }
}

int
listen_set_apply(struct listen_set *ls, struct conf *c, char *err, size_t errcap)
{
    struct listener *fresh = NULL;     /* to bind, then start */
    struct listener *kept = NULL;      /* taken from the old list as they are */
    struct listener *displaced = NULL; /* old, unbound to make room for a fresh one */
    struct listener *l;

    for (size_t i = 0; i < c->n_listens; i++) {
        const struct conf_listen *door = &c->listens[i];

        for (size_t j = 0; j < door->n_addrs; j++) {
            l = listen_take(&ls->list, &door->addrs[j]);
            if (l != NULL) {
                /* Switched to c only once nothing can fail any more. */
                l->next_door = door;
                l->next = kept;
                kept = l;
                continue;
            }
            l = xcalloc(1, sizeof(*l));
            l->set = ls;
            l->fd = -1;
            l->addr = door->addrs[j];
            l->conf = conf_ref(c);
            l->door = door;
            l->next = fresh;
            fresh = l;
        }
    }
    for (l = fresh; l != NULL; l = l->next) {
        if (listen_check_privileged(c, &l->addr, err, errcap) == -1) {
            displaced = NULL;
            goto rollback;
        }
    }
    /* An old socket that is going anyway and overlaps a new one (0.0.0.0:26
     * becoming 10.0.0.1:26) must close first, or the new bind fails. */
    for (struct listener **pp = &ls->list; *pp != NULL;) {
        bool overlaps = false;

        l = *pp;
        for (struct listener *f = fresh; f != NULL && !overlaps; f = f->next)
            overlaps = listen_overlap(&l->addr, &f->addr);
        if (!overlaps) {
            pp = &l->next;
            continue;
        }
        *pp = l->next;
        listener_unbind(l);
        l->next = displaced;
        displaced = l;
    }
    for (l = fresh; l != NULL; l = l->next) {
        char why[256];

        l->fd = listen_bind(&l->addr, why, sizeof(why));
        if (l->fd == -1) {
            (void)str_fmt(err, errcap, "%s:%u: address %s", c->path, l->addr.line, why);
            goto rollback;
        }
    }
    /* Everything bound: close what is no longer configured, start the rest. */
    listen_splice(&ls->list, &displaced);
    while (ls->list != NULL) {
        l = ls->list;
        ls->list = l->next;
        log_info("-: listener=%s, event=closed", l->addr.text);
        listener_free(l);
    }
    for (l = kept; l != NULL; l = l->next) {
        conf_unref(l->conf);
        l->conf = conf_ref(c);
        l->door = l->next_door;
    }
    for (l = fresh; l != NULL; l = l->next)
        listener_start(l);
    listen_splice(&ls->list, &fresh);
    listen_splice(&ls->list, &kept);
    return 0;

rollback:
    while (fresh != NULL) {
        l = fresh;
        fresh = l->next;
        listener_free(l);
    }
    /* The old ones go back, still serving their old configuration. */
    for (l = displaced; l != NULL; l = l->next)
        listener_rebind(l);
    listen_splice(&ls->list, &displaced);
    listen_splice(&ls->list, &kept);
    return -1;
}

void
listen_set_close(struct listen_set *ls)
{
    while (ls->list != NULL) {
        struct listener *l = ls->list;

        ls->list = l->next;
        listener_free(l);
    }
    /* Connections still waiting for their PROXY header have no session to finish. */
    while (ls->pending != NULL) {
        struct listen_pending *p = ls->pending;

        listen_pending_unlink(p);
        proxy_wait_free(p->wait);
        ls->total--;
        ls->per_role[p->door->role]--;
        conf_unref(p->conf);
        free(p);
    }
}

void
listen_set_free(struct listen_set *ls)
{
    if (ls == NULL)
        return;
    if (ls->total != 0)
        log_panic("listen_set_free with %zu sessions alive", ls->total);
    listen_set_close(ls);
    free(ls);
}
