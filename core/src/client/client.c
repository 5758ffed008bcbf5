/*
 * client.c - the client: a session, a transport, and the reconnect policy.
 *
 * The session (session/) speaks MQTT without I/O; this file gives it a
 * socket and a clock.  It resolves the host off the loop thread, connects
 * to each resolved address in turn, feeds received bytes to the session,
 * writes what the session queues, and when the connection is lost waits
 * an exponential, jittered delay (backoff.c) and starts over.  It is also
 * the external driver of lunamq.h: the caller's loop asks for the fd, what
 * it waits for and the deadline, and calls on_readable / on_writable /
 * on_timeout.  The libev driver (driver/ev.c) is one such caller.
 *
 * Connection states (cs):
 *   IDLE        nothing to do: never connected, disconnected, or gave up
 *   RESOLVING   a name lookup runs; the fd is the resolver's pipe
 *   CONNECTING  a non-blocking connect to one address runs
 *   OPEN        the transport is up; the session runs the protocol on it
 *   WAITING     connection lost or attempt failed; reconnect at `deadline`
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client/backoff.h"
#include "client/client.h"
#include "session/session.h"
#include "client/url.h"
#include "plugin/hooks.h"
#include "plugin/plugin.h"
#include "transport/netopts.h"
#include "transport/resolve.h"
#include "transport/transport.h"

enum { CS_IDLE, CS_RESOLVING, CS_CONNECTING, CS_OPEN, CS_WAITING };

/* Reads go straight into the session's decoder, sized to the traffic: a
 * read that fills its room doubles the next one (up to READ_MAX), one that
 * fills under a quarter halves it (down to READ_MIN).  A few reads per
 * step, so one busy client does not starve the others sharing a loop. */
#define READ_MIN 1024
#define READ_MAX 65536
#define READS_PER_STEP 4
#define NO_DEADLINE INT64_MAX

struct lmq_client {
    pthread_mutex_t mu;
    lmq_session *s;
    lmq_transport t;
    int cs;

    /* transport options, kept here (the session never sees them) */
    char *host;
    int port;
    char *unix_path;
    char *bind_address;
    lmq_netopts net;            /* TLS and WebSocket settings (netopts.h) */
    int tcp_nodelay;
    int64_t connect_timeout;
    int reconnect;
    int64_t reconnect_min;
    int64_t reconnect_max;
    int reconnect_first;
    int reconnect_taken_over;   /* LMQ_OPT_RECONNECT_TAKEN_OVER */
    int64_t drain_timeout;      /* LMQ_OPT_DRAIN_TIMEOUT_MS (the session's copy rules) */
    int log_level;

    /* the current connection attempt */
    lmq_resolver *resolver;
    int resolving_target;       /* socks5://: the server's name first, then the proxy's */
    struct addrinfo *targets;   /* socks5://: the server's addresses, */
    struct addrinfo *target_next;   /* the one after the one being asked for */
    struct sockaddr_storage proxy_target;   /* the server's address for socks5:// */
    socklen_t proxy_target_len;
    struct addrinfo *addrs;
    struct addrinfo *addr_next;
    char last_connect_err[160];
    int64_t deadline;           /* attempt timeout, backoff end, or CLOSING bound */
    unsigned attempt;           /* reconnects since the last CONNACK */
    unsigned attempt_at_connack; /* `attempt` when this connection's CONNACK came */
    unsigned fault_streak;      /* connections in a row the server's bytes broke */
    int faulted;                /* this connection ends on the server's fault */
    uint32_t rng;

    int outcome;                /* see lmq_client_outcome() */
    int ever_connected;         /* a CONNACK since lmq_client_connect() */
    int session_up;             /* this connection got its CONNACK */
    int user_stop;              /* lmq_client_disconnect(): no reconnect */
    int close_pending;          /* disconnect from another thread: the loop closes */
    int stop_error;
    int reported_fd;            /* for LMQ_EV_FD_CHANGED */
    unsigned fd_gen;            /* bumped for every new fd, even a reused number */
    unsigned reported_gen;
    uint32_t read_size;         /* the next read's size: see READ_MIN */

    lmq_event_fn cb;
    void *cb_ud;
    lmq_finalizer_fn cb_fin;
    int dispatching;
    pthread_t dispatcher;       /* the thread running dispatch() */
    int cb_in_use;              /* cb_ud is in a callback right now */
    lmq_finalizer_fn fin_later; /* its finalizer, when replaced meanwhile */
    void *fin_later_ud;
    int lock_depth;             /* recursion of mu by its holder */
    int free_pending;           /* lmq_client_free() from a callback */

    const lmq_client_driver *drv;
    void *drv_ctx;

    char errmsg[256];
};

/* ------------------------------------------------------------- helpers */

int64_t lmq_client_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void lmq_client_lock(const lmq_client *c)
{
    pthread_mutex_lock((pthread_mutex_t *)&c->mu);
    ((lmq_client *)c)->lock_depth++;
}

static void free_now(lmq_client *c);

/* The outermost unlock after a callback asked for lmq_client_free() is
 * where the client goes: by then every frame that used it has finished. */
void lmq_client_unlock(const lmq_client *c)
{
    lmq_client *m = (lmq_client *)c;
    int doomed;

    m->lock_depth--;
    doomed = m->lock_depth == 0 && m->free_pending && !m->dispatching;
    pthread_mutex_unlock(&m->mu);
    if (doomed)
        free_now(m);
}

int lmq_client_doomed(const lmq_client *c)
{
    return c->free_pending;
}

__attribute__((format(printf, 2, 3)))
static void set_err(lmq_client *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
    va_end(ap);
}

/* A failed session call: its message becomes the client's. */
static int session_err(lmq_client *c, int rc)
{
    const char *m = lmq_session_errmsg(c->s);

    if (m && m[0])
        set_err(c, "%s", m);
    else
        set_err(c, "%s", lmq_strerror(rc));
    return rc;
}

/* Logs are events (LMQ_EV_LOG), so they come out in order with the rest.
 * Nothing logged here ever contains a password or auth data. */
__attribute__((format(printf, 3, 4)))
static void log_ev(lmq_client *c, int level, const char *fmt, ...)
{
    char text[256];
    va_list ap;

    if (level > c->log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    lmq_session_push_log(c->s, level, text);
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);

    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* ------------------------------------------------------ lifetime, options */

LMQ_API lmq_client *lmq_client_new(void)
{
    lmq_client *c = calloc(1, sizeof *c);
    pthread_mutexattr_t ma;

    if (!c)
        return NULL;
    /* Recursive: the driver holds it around steps that call the API;
     * callbacks run with it let go (deliver()). */
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&c->mu, &ma);
    pthread_mutexattr_destroy(&ma);
    c->s = lmq_session_new();
    c->read_size = READ_MIN;
    c->host = dup_n("localhost", 9);
    if (!c->s || !c->host)
        goto fail;
    lmq_transport_init(&c->t, &lmq_transport_tcp);
    lmq_netopts_init(&c->net);
    c->port = 0;                /* the transport's default: see client_port() */
    c->tcp_nodelay = 1;
    c->connect_timeout = 10000;
    c->drain_timeout = 10000;
    c->reconnect = 1;
    c->reconnect_min = 500;
    c->reconnect_max = 30000;
    c->log_level = LMQ_LOG_WARNING;
    c->deadline = NO_DEADLINE;
    c->outcome = LMQ_ENOT_CONNECTED;
    c->reported_fd = -1;
    c->rng = (uint32_t)lmq_client_now_ms() ^ (uint32_t)(uintptr_t)c ^ (uint32_t)getpid() << 16;
    return c;
fail:
    lmq_session_free(c->s);
    free(c->host);
    pthread_mutex_destroy(&c->mu);
    free(c);
    return NULL;
}

static void attempt_cleanup(lmq_client *c)
{
    lmq_resolver_free(c->resolver);
    c->resolver = NULL;
    if (c->addrs)
        freeaddrinfo(c->addrs);
    c->addrs = c->addr_next = NULL;
    if (c->targets)
        freeaddrinfo(c->targets);
    c->targets = c->target_next = NULL;
    c->t.ops->close(&c->t);
}

/* From inside a callback the client cannot go yet: the dispatch loop,
 * the API call or driver step that ran it, and (in thread mode) the loop
 * thread itself still use it.  It goes at the outermost unlock. */
LMQ_API void lmq_client_free(lmq_client *c)
{
    int defer;

    if (!c)
        return;
    lmq_client_lock(c);
    defer = c->dispatching && pthread_equal(c->dispatcher, pthread_self());
    if (defer)
        c->free_pending = 1;
    lmq_client_unlock(c);
    if (!defer)
        free_now(c);
}

static void free_now(lmq_client *c)
{
    /* The driver first, without the lock: it may join a thread that is
     * waiting for that lock. */
    if (c->drv && c->drv->release)
        c->drv->release(c->drv_ctx);
    c->drv = NULL;
    /* The driver stopped the plugins' watchers with its own. */
    lmq_plugin_chain_io_gone(lmq_plugin_session_chain_get(c->s));
    attempt_cleanup(c);
    if (c->cb_fin)
        c->cb_fin(c->cb_ud);
    lmq_session_free(c->s);
    free(c->host);
    free(c->unix_path);
    free(c->bind_address);
    lmq_netopts_free(&c->net);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static int bool_opt(lmq_client *c, int *dst, int64_t v)
{
    if (v != 0 && v != 1) {
        set_err(c, "option takes 0 or 1, not %lld", (long long)v);
        return LMQ_EINVAL;
    }
    *dst = (int)v;
    return 0;
}

static int ms_opt(lmq_client *c, int64_t *dst, int64_t v, int64_t lo)
{
    if (v < lo || v > INT32_MAX) {
        set_err(c, "milliseconds out of range: %lld", (long long)v);
        return LMQ_EINVAL;
    }
    *dst = v;
    return 0;
}

/* The port to connect to: the one set, or the default of the transport
 * (1883, 8883 with TLS, 80 for WebSocket, 443 for WebSocket over TLS). */
static int client_port(const lmq_client *c)
{
    if (c->port)
        return c->port;
    if (c->net.websocket)
        return c->net.tls ? 443 : 80;
    return c->net.tls ? 8883 : 1883;
}

static int set_int_locked(lmq_client *c, int option, int64_t v)
{
    int rc;

    switch (option) {
    case LMQ_OPT_PORT:
        if (v < 1 || v > 65535) {
            set_err(c, "port out of range 1..65535: %lld", (long long)v);
            return LMQ_EINVAL;
        }
        c->port = (int)v;
        return 0;
    case LMQ_OPT_TCP_NODELAY:
        return bool_opt(c, &c->tcp_nodelay, v);
    case LMQ_OPT_CONNECT_TIMEOUT_MS:
        /* Both layers use it: the client bounds resolution and the TCP
         * connect, the session the wait for CONNACK. */
        rc = ms_opt(c, &c->connect_timeout, v, 1);
        if (rc == 0 && (rc = lmq_session_set_int(c->s, option, v)) < 0)
            return session_err(c, rc);
        return rc;
    case LMQ_OPT_DRAIN_TIMEOUT_MS:
        rc = ms_opt(c, &c->drain_timeout, v, 0);
        if (rc == 0 && (rc = lmq_session_set_int(c->s, option, v)) < 0)
            return session_err(c, rc);
        return rc;
    case LMQ_OPT_RECONNECT:
        return bool_opt(c, &c->reconnect, v);
    case LMQ_OPT_RECONNECT_MIN_MS:
        return ms_opt(c, &c->reconnect_min, v, 0);
    case LMQ_OPT_RECONNECT_MAX_MS:
        return ms_opt(c, &c->reconnect_max, v, 0);
    case LMQ_OPT_RECONNECT_FIRST:
        return bool_opt(c, &c->reconnect_first, v);
    case LMQ_OPT_RECONNECT_TAKEN_OVER:
        return bool_opt(c, &c->reconnect_taken_over, v);
    case LMQ_OPT_LOG_LEVEL:
        if (v < LMQ_LOG_ERROR || v > LMQ_LOG_DEBUG) {
            set_err(c, "log level out of range 1..4: %lld", (long long)v);
            return LMQ_EINVAL;
        }
        c->log_level = (int)v;
        rc = lmq_session_set_int(c->s, option, v);
        return rc < 0 ? session_err(c, rc) : 0;
    case LMQ_OPT_HOST:
    case LMQ_OPT_UNIX_PATH:
    case LMQ_OPT_BIND_ADDRESS:
        set_err(c, "option %d takes a string", option);
        return LMQ_EINVAL;
    default:
        rc = lmq_netopts_set_int(&c->net, option, v, c->errmsg, sizeof c->errmsg);
        if (rc != LMQ_NETOPT_NOT_MINE)
            return rc;
        rc = lmq_session_set_int(c->s, option, v);
        return rc < 0 ? session_err(c, rc) : 0;
    }
}

LMQ_API int lmq_client_set_int(lmq_client *c, int option, int64_t value)
{
    int rc;

    if (!c)
        return LMQ_EINVAL;
    lmq_client_lock(c);
    c->errmsg[0] = '\0';
    rc = set_int_locked(c, option, value);
    lmq_client_unlock(c);
    return rc;
}

/* Replace a string option; an empty string clears it when `clearable`. */
static int str_opt(lmq_client *c, char **dst, const char *s, size_t n, int clearable)
{
    char *d;

    if (memchr(s, '\0', n)) {
        set_err(c, "string option contains a NUL byte");
        return LMQ_EINVAL;
    }
    if (n == 0 && !clearable) {
        set_err(c, "string option must not be empty");
        return LMQ_EINVAL;
    }
    d = n ? dup_n(s, n) : NULL;
    if (n && !d)
        return LMQ_ENOMEM;
    free(*dst);
    *dst = d;
    return 0;
}

static int set_str_locked(lmq_client *c, int option, const char *s, size_t n)
{
    int rc;

    switch (option) {
    case LMQ_OPT_HOST:
        return str_opt(c, &c->host, s, n, 0);
    case LMQ_OPT_UNIX_PATH:
        if (n >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
            set_err(c, "Unix socket path longer than %zu bytes",
                    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
            return LMQ_EINVAL;
        }
        return str_opt(c, &c->unix_path, s, n, 1);
    case LMQ_OPT_BIND_ADDRESS:
        return str_opt(c, &c->bind_address, s, n, 1);
    case LMQ_OPT_PORT:
    case LMQ_OPT_TCP_NODELAY:
    case LMQ_OPT_CONNECT_TIMEOUT_MS:
    case LMQ_OPT_DRAIN_TIMEOUT_MS:
    case LMQ_OPT_RECONNECT:
    case LMQ_OPT_RECONNECT_MIN_MS:
    case LMQ_OPT_RECONNECT_MAX_MS:
    case LMQ_OPT_RECONNECT_FIRST:
    case LMQ_OPT_RECONNECT_TAKEN_OVER:
    case LMQ_OPT_LOG_LEVEL:
        set_err(c, "option %d takes an integer", option);
        return LMQ_EINVAL;
    case LMQ_OPT_URL:
        return lmq_url_apply(c, s, n, c->errmsg, sizeof c->errmsg);
    default:
        rc = lmq_netopts_set_str(&c->net, option, s, n, c->errmsg, sizeof c->errmsg);
        if (rc != LMQ_NETOPT_NOT_MINE)
            return rc;
        rc = lmq_session_set_str(c->s, option, (const uint8_t *)s, n);
        return rc < 0 ? session_err(c, rc) : 0;
    }
}

LMQ_API int lmq_client_set_str(lmq_client *c, int option, const char *s, int32_t len)
{
    size_t n;
    int rc;

    if (!c)
        return LMQ_EINVAL;
    if (!s && len != 0) {
        lmq_client_lock(c);
        set_err(c, "NULL string with a non-zero length");
        lmq_client_unlock(c);
        return LMQ_EINVAL;
    }
    n = !s ? 0 : len < 0 ? strlen(s) : (size_t)len;
    lmq_client_lock(c);
    c->errmsg[0] = '\0';
    rc = set_str_locked(c, option, s ? s : "", n);
    lmq_client_unlock(c);
    return rc;
}

LMQ_API int lmq_client_set_props(lmq_client *c, int target, const lmq_proplist *pl)
{
    int rc;

    if (!c)
        return LMQ_EINVAL;
    lmq_client_lock(c);
    c->errmsg[0] = '\0';
    rc = lmq_session_set_props(c->s, target, pl);
    if (rc < 0)
        session_err(c, rc);
    lmq_client_unlock(c);
    return rc;
}

LMQ_API const char *lmq_client_errmsg(const lmq_client *c)
{
    return c ? c->errmsg : "";
}

/* -------------------------------------------------------- event delivery */

LMQ_API int lmq_client_fd(const lmq_client *c)
{
    int fd = -1;

    if (!c)
        return -1;
    lmq_client_lock(c);
    if (c->cs == CS_RESOLVING)
        fd = lmq_resolver_fd(c->resolver);
    else if (c->cs == CS_CONNECTING || c->cs == CS_OPEN)
        fd = c->t.ops->fd(&c->t);
    lmq_client_unlock(c);
    return fd;
}

static int foreign_thread(const lmq_client *c);

/* One event to the callback, with the client lock let go entirely: an
 * application that holds a lock of its own while calling the API, and
 * takes it in its callback, must not deadlock against the loop thread.
 * Other threads may call the API meanwhile; what they queue is delivered
 * by the dispatch loop that runs here. */
static void deliver(lmq_client *c, const lmq_event *ev)
{
    lmq_event_fn fn = c->cb;
    void *ud = c->cb_ud;
    lmq_finalizer_fn fin;
    int depth = c->lock_depth, i;

    c->cb_in_use = 1;
    c->lock_depth = 0;
    for (i = 0; i < depth; i++)
        pthread_mutex_unlock(&c->mu);
    fn(c, ev, ud);
    for (i = 0; i < depth; i++)
        pthread_mutex_lock(&c->mu);
    c->lock_depth = depth;
    c->cb_in_use = 0;
    /* The callback replaced itself: its userdata is done with only now. */
    fin = c->fin_later;
    ud = c->fin_later_ud;
    c->fin_later = NULL;
    if (fin)
        fin(ud);
}

/* Events go to the callback when one is set, one at a time: a callback
 * that goes back to pulling (or frees the client) stops the loop, and
 * what it did not get stays queued for lmq_client_events().  The flag
 * keeps a callback that calls the API from dispatching recursively.  In
 * thread mode only the loop thread delivers; an API call from another
 * thread wakes it (the driver's changed hook) and it delivers there. */
static void dispatch(lmq_client *c)
{
    lmq_event ev;

    if (!c->cb || c->dispatching || foreign_thread(c))
        return;
    c->dispatching = 1;
    c->dispatcher = pthread_self();
    /* A durable session records (and acknowledges) a message once the
     * callback that got it returned: what it wrote out is written before
     * the QoS 2 id is on record, so a process killed in between gets the
     * message again rather than lose it [MQTT-4.3.3-10]. */
    while (c->cb && !c->free_pending && lmq_session_events_take(c->s, &ev, 1) == 1) {
        deliver(c, &ev);
        lmq_session_events_done(c->s);
    }
    c->dispatching = 0;
}

void lmq_client_deliver(lmq_client *c)
{
    lmq_client_lock(c);
    dispatch(c);
    lmq_client_unlock(c);
}

/* The end of every step and API call: tell about a new fd, deliver events
 * to the callback, let the driver re-arm. */
static void step_end(lmq_client *c)
{
    int fd = lmq_client_fd(c);

    /* A new socket may get the number of the one just closed: the
     * generation tells them apart, and loops must re-register it. */
    if (fd != c->reported_fd || (fd >= 0 && c->fd_gen != c->reported_gen)) {
        c->reported_fd = fd;
        c->reported_gen = c->fd_gen;
        lmq_session_push_event(c->s, LMQ_EV_FD_CHANGED, 0, 0, NULL);
    }
    dispatch(c);
    if (c->drv && c->drv->changed)
        c->drv->changed(c->drv_ctx);
}

/* The first growable layout of lmq_event ends with `text`: nothing
 * smaller was ever a valid lmq_event. */
#define EVENT_SIZE_MIN (offsetof(lmq_event, text) + sizeof(const char *))

LMQ_API int lmq_client_events(lmq_client *c, lmq_event *out, int32_t max, int32_t event_size)
{
    int n;

    if (!c || (!out && max > 0) || max < 0 || event_size < 0 ||
        (size_t)event_size < EVENT_SIZE_MIN)
        return LMQ_EINVAL;
    lmq_client_lock(c);
    /* Not while another thread's callback still reads the event it got
     * (a pull reuses its memory); that dispatch stops at the next event,
     * and leaves the rest to the next pull. */
    if (c->cb || (c->dispatching && !pthread_equal(c->dispatcher, pthread_self())))
        n = 0;
    else
        n = lmq_session_events_sized(c->s, out, max, (size_t)event_size);
    /* A durable session acknowledges messages as they are pulled: the
     * PUBACK / PUBREC now waiting to be written needs the driver, and so
     * does one held for the fsync (the deadline is a millisecond away). */
    if (n > 0 && c->drv && c->drv->changed &&
        (lmq_session_out(c->s, NULL) > 0 || lmq_session_out_held(c->s)))
        c->drv->changed(c->drv_ctx);
    lmq_client_unlock(c);
    return n;
}

LMQ_API int lmq_client_set_callback(lmq_client *c, lmq_event_fn fn, void *userdata,
                                    lmq_finalizer_fn fin)
{
    lmq_finalizer_fn old_fin;
    void *old_ud;

    if (!c)
        return LMQ_EINVAL;
    lmq_client_lock(c);
    old_fin = c->cb_fin;
    old_ud = c->cb_ud;
    c->cb = fn;
    c->cb_ud = userdata;
    c->cb_fin = fin;
    if (c->cb_in_use) {
        /* The old callback is running (this may be it): finalize its
         * userdata when it returns, not under its feet. */
        c->cb_in_use = 0;
        c->fin_later = old_fin;
        c->fin_later_ud = old_ud;
    } else if (old_fin) {
        old_fin(old_ud);
    }
    lmq_client_unlock(c);
    return 0;
}

/* Plugins' fd watches go to the driver, when it has a loop (libev). */
static int plugin_watch(void *ctx, lmq_plugin_watch *w)
{
    lmq_client *c = ctx;

    if (!c->drv || !c->drv->watch)
        return LMQ_EPLUGIN_NOLOOP;
    if (c->drv->foreign_thread && c->drv->foreign_thread(c->drv_ctx))
        return LMQ_ESTATE;      /* the loop's watchers are its thread's */
    return c->drv->watch(c->drv_ctx, w);
}

static int plugin_unwatch(void *ctx, lmq_plugin_watch *w)
{
    lmq_client *c = ctx;

    /* A hook on the application's thread (thread mode: publish & co)
     * must not stop a watcher of the loop another thread runs. */
    if (c->drv && c->drv->foreign_thread && c->drv->foreign_thread(c->drv_ctx))
        return LMQ_ESTATE;
    if (c->drv && c->drv->unwatch)
        c->drv->unwatch(c->drv_ctx, w);
    return 0;
}

static const lmq_plugin_io plugin_io = { plugin_watch, plugin_unwatch };

void lmq_client_watch_fire(lmq_client *c, lmq_plugin_watch *w, int revents)
{
    lmq_plugin_chain *ch;

    lmq_client_lock(c);
    if ((ch = lmq_plugin_session_chain_get(c->s)))
        lmq_plugin_watch_fire(ch, w, revents, lmq_client_now_ms());
    step_end(c);
    lmq_client_unlock(c);
}

/* The chain lives in the session, whose hook points call it. */
LMQ_API int lmq_client_load_plugin(lmq_client *c, const char *path, const char *config)
{
    int rc;

    if (!c || !path)
        return LMQ_EINVAL;
    lmq_client_lock(c);
    c->errmsg[0] = '\0';
    /* Before init runs: a plugin may watch an fd from there. */
    lmq_plugin_chain_set_io(lmq_plugin_session_chain(c->s), &plugin_io, c);
    rc = lmq_plugin_session_load(c->s, path, config);
    if (rc < 0)
        session_err(c, rc);
    step_end(c);
    lmq_client_unlock(c);
    return rc;
}

LMQ_API int lmq_client_plugin_event(lmq_client *c, const char *name, int32_t len,
                                    int64_t value)
{
    lmq_plugin_chain *ch;

    if (!c || !name)
        return LMQ_EINVAL;
    if (len < 0) {
        size_t n = strnlen(name, 256);
        if (n > 255)
            return LMQ_EINVAL;
        len = (int32_t)n;
    }
    if (len < 1 || len > 255 || lmq_utf8_check((const uint8_t *)name, (size_t)len))
        return LMQ_EINVAL;
    lmq_client_lock(c);
    if ((ch = lmq_plugin_session_chain_get(c->s)) &&
        (lmq_plugin_chain_hooks(ch) & LMQ_HOOK_APP_EVENT))
        lmq_plugin_run_app_event(ch, name, len, value, lmq_client_now_ms());
    step_end(c);    /* a hook that logged queued an event */
    lmq_client_unlock(c);
    return 0;
}

/* ------------------------------------------------- connection lifecycle */

static void go_idle(lmq_client *c, int err)
{
    c->cs = CS_IDLE;
    c->deadline = NO_DEADLINE;
    c->stop_error = err;
    if (c->outcome == 1)
        c->outcome = err ? err : LMQ_ECLOSED;
}

/* The connection (or the attempt at one) is over: wait and retry, or stop.
 * A first connect that never got a CONNACK is retried only with
 * LMQ_OPT_RECONNECT_FIRST; after a CONNACK, losses are retried while
 * LMQ_OPT_RECONNECT is on. */
static void after_lost(lmq_client *c, int err, int64_t now)
{
    int64_t delay;
    char msg[256];

    /* A connection the server's own bytes broke (a protocol error, a bad
     * topic alias...) does not restart the backoff at its CONNACK: a
     * server that does it on every connection would otherwise be met
     * with a reconnect every half second for ever. */
    if (c->session_up) {
        if (c->faulted) {
            c->fault_streak++;
            c->attempt = c->attempt_at_connack;
        } else {
            c->fault_streak = 0;
        }
    }
    c->faulted = 0;
    c->session_up = 0;
    if (c->user_stop) {
        go_idle(c, 0);
        return;
    }
    /* DISCONNECT 0x8E: another connection took our client id over.
     * Reconnecting would throw it out in turn, and it us, for ever. */
    if (err == LMQ_EDISCONNECTED && lmq_session_server_reason(c->s) == 0x8E &&
        c->reconnect && !c->reconnect_taken_over) {
        snprintf(msg, sizeof msg, "not reconnecting: the server sent DISCONNECT 0x8E "
                 "Session taken over (another client connected with this client id); "
                 "LMQ_OPT_RECONNECT_TAKEN_OVER reconnects anyway");
        set_err(c, "%s", msg);
        lmq_session_push_event(c->s, LMQ_EV_ERROR, LMQ_ETAKEN_OVER, 0, msg);
        go_idle(c, LMQ_ETAKEN_OVER);
        return;
    }
    if (!c->reconnect || !(c->ever_connected || c->reconnect_first)) {
        go_idle(c, err);
        return;
    }
    delay = lmq_backoff_delay(c->reconnect_min, c->reconnect_max, c->attempt, &c->rng);
    if (c->attempt < 64)
        c->attempt++;
    c->cs = CS_WAITING;
    c->deadline = now + delay;
    if (c->fault_streak >= 2) {
        snprintf(msg, sizeof msg, "the server broke the protocol on %u connections in a "
                 "row (last: %s); reconnecting in %lld ms", c->fault_streak,
                 lmq_errname(err) ? lmq_errname(err) : "?", (long long)delay);
        lmq_session_push_event(c->s, LMQ_EV_ERROR, err, 0, msg);
        log_ev(c, LMQ_LOG_WARNING, "%s", msg);
    } else {
        log_ev(c, LMQ_LOG_INFO, "reconnecting in %lld ms", (long long)delay);
    }
    lmq_plugin_hook_reconnect(c->s, (int32_t)c->attempt, delay, now);
}

static void attempt_failed(lmq_client *c, int err, const char *msg, int64_t now)
{
    attempt_cleanup(c);
    set_err(c, "%s", msg);
    lmq_session_push_event(c->s, LMQ_EV_CONNECT_FAILED, err, 0, msg);
    after_lost(c, err, now);
}

/* The transport is closed or broken; the session learns it, which queues
 * LMQ_EV_DISCONNECTED (or LMQ_EV_CONNECT_FAILED before CONNACK). */
static void conn_lost(lmq_client *c, int err, int64_t now)
{
    if (err && c->t.err[0])
        set_err(c, "%s", c->t.err);
    attempt_cleanup(c);
    lmq_session_lost(c->s, now, err);
    /* Our disconnect left messages undelivered: the session said so in an
     * event; the client's message says it too. */
    if (c->user_stop && lmq_session_undelivered(c->s))
        set_err(c, "%s", lmq_session_errmsg(c->s));
    after_lost(c, err, now);
}

/* Write what the session has until the socket would block.  0 or LMQ_E*. */
static int flush(lmq_client *c, int64_t now)
{
    const uint8_t *p;
    size_t n;
    ptrdiff_t w;

    while ((n = lmq_session_out(c->s, &p)) > 0) {
        w = c->t.ops->write(&c->t, p, n);
        if (w < 0)
            return (int)w;
        if (w == 0)
            break;
        lmq_session_sent(c->s, (size_t)w, now);
    }
    /* A transport that took bytes into a buffer of its own (WebSocket
     * frames) pushes them on when the socket takes more. */
    if (c->t.pending_out) {
        w = c->t.ops->write(&c->t, NULL, 0);
        if (w < 0)
            return (int)w;
    }
    return 0;
}

static void begin_attempt(lmq_client *c, int64_t now);

/* The session refused the peer's bytes or timed out: it has queued what it
 * owes (a v5 DISCONNECT); send it if the socket takes it, then close. */
static void fatal(lmq_client *c, int err, int64_t now)
{
    session_err(c, err);
    (void)flush(c, now);
    /* LMQ_MQTT_AUTO met a 3.1.1 server: connect again at once with 3.1.1
     * (the session changed its level; nothing was reported). */
    if (err == LMQ_ENOT_MQTT5 && lmq_session_fell_back(c->s)) {
        attempt_cleanup(c);
        lmq_session_lost(c->s, now, err);
        begin_attempt(c, now);
        return;
    }
    /* The server's bytes broke the rules (an error that has a v5 reason
     * code to answer with): see after_lost.  (The CONNACK may have come
     * in the same read as the bad packet: check_connack never ran.) */
    if (lmq_session_got_connack(c->s) && !c->session_up) {
        c->session_up = 1;
        c->ever_connected = 1;
        c->attempt_at_connack = c->attempt;
        c->outcome = 0;
    }
    c->faulted = lmq_error_reason(err) != 0;
    conn_lost(c, err, now);
}

static void check_connack(lmq_client *c)
{
    if (c->session_up || lmq_session_state(c->s) != LMQ_SS_CONNECTED)
        return;
    c->session_up = 1;
    c->ever_connected = 1;
    c->attempt_at_connack = c->attempt;
    c->attempt = 0;              /* backoff starts over after a CONNACK */
    c->outcome = 0;
}

/* After reading or writing on an open connection. */
static void after_io(lmq_client *c, int64_t now)
{
    if (c->cs != CS_OPEN)
        return;
    check_connack(c);
    if (lmq_session_wants_close(c->s))
        conn_lost(c, c->user_stop ? 0 : LMQ_ECLOSED, now);
}

static void read_open(lmq_client *c, int64_t now);

static void transport_up(lmq_client *c, int64_t now)
{
    int rc;

    if (c->addrs)
        freeaddrinfo(c->addrs);
    c->addrs = c->addr_next = NULL;
    c->cs = CS_OPEN;
    c->deadline = NO_DEADLINE;
    log_ev(c, LMQ_LOG_DEBUG, "%s connection up, sending CONNECT", c->t.ops->name);
    rc = lmq_session_start(c->s, now);
    if (rc < 0) {
        char msg[256];
        session_err(c, rc);
        snprintf(msg, sizeof msg, "%s", c->errmsg);
        attempt_failed(c, rc, msg, now);
        return;
    }
    rc = flush(c, now);
    if (rc < 0) {
        conn_lost(c, rc, now);
        return;
    }
    /* Bytes the transport took in with its handshake (a WebSocket frame
     * right behind the upgrade answer) will not wake poll(): read now. */
    if (c->t.pending_in)
        read_open(c, now);
}

/* Connect to the next resolved address; on failure the one after. */
static void try_addresses(lmq_client *c, int64_t now)
{
    lmq_transport_opts o = { c->bind_address, c->tcp_nodelay, NULL, 0 };
    struct addrinfo *a;
    char msg[256];
    int rc;

    if (c->proxy_target_len) {
        o.proxy_target = (const struct sockaddr *)&c->proxy_target;
        o.proxy_target_len = c->proxy_target_len;
    }
    while ((a = c->addr_next) != NULL) {
        c->addr_next = a->ai_next;
        c->fd_gen++;
        rc = c->t.ops->open(&c->t, a->ai_addr, a->ai_addrlen, &o);
        if (rc == 0) {
            transport_up(c, now);
            return;
        }
        if (rc == 1) {
            c->cs = CS_CONNECTING;
            return;
        }
        snprintf(c->last_connect_err, sizeof c->last_connect_err, "%s", c->t.err);
        if (rc != LMQ_ECONNECT) {
            /* Not the address but the settings (TLS): the next address
             * would fail alike, and the specific code must not be lost. */
            snprintf(msg, sizeof msg, "%s:%d: %s", c->host, client_port(c), c->t.err);
            attempt_failed(c, rc, msg, now);
            return;
        }
    }
    if (c->net.proxy.kind) {
        snprintf(msg, sizeof msg, "cannot connect to the %s proxy %s:%d: %s",
                 lmq_proxy_kind_name(c->net.proxy.kind), c->net.proxy.host,
                 c->net.proxy.port, c->last_connect_err);
        attempt_failed(c, LMQ_EPROXY_UNREACHABLE, msg, now);
        return;
    }
    snprintf(msg, sizeof msg, "cannot connect to %s:%d: %s", c->host, client_port(c),
             c->last_connect_err);
    attempt_failed(c, LMQ_ECONNECT, msg, now);
}

/* socks5://: the next of the server's addresses to ask the proxy for;
 * 0 when none is left. */
static int next_proxy_target(lmq_client *c)
{
    struct addrinfo *a = c->target_next;

    if (!a)
        return 0;
    memcpy(&c->proxy_target, a->ai_addr, a->ai_addrlen);
    c->proxy_target_len = a->ai_addrlen;
    c->target_next = a->ai_next;
    return 1;
}

static void resolve_check(lmq_client *c, int64_t now)
{
    struct addrinfo *res;
    char msg[256];
    int rc;

    rc = lmq_resolver_result(c->resolver, &res, msg, sizeof msg);
    if (rc == 0)
        return;
    lmq_resolver_free(c->resolver);
    c->resolver = NULL;
    if (rc < 0 && c->net.proxy.kind && !c->resolving_target) {
        char pmsg[300];
        snprintf(pmsg, sizeof pmsg, "%s proxy: %s", lmq_proxy_kind_name(c->net.proxy.kind), msg);
        attempt_failed(c, LMQ_EPROXY_UNREACHABLE, pmsg, now);
        return;
    }
    if (rc < 0) {
        attempt_failed(c, rc, msg, now);
        return;
    }
    if (c->resolving_target) {
        /* socks5://: the server's address is sent to the proxy; now find
         * the proxy itself. */
        c->targets = res;
        c->target_next = res;
        next_proxy_target(c);
        c->resolving_target = 0;
        rc = lmq_resolver_start(c->net.proxy.host, c->net.proxy.port, &c->resolver);
        if (rc < 0) {
            attempt_failed(c, rc, "out of memory starting name resolution", now);
            return;
        }
        c->fd_gen++;
        resolve_check(c, now);
        return;
    }
    c->addrs = c->addr_next = res;
    c->last_connect_err[0] = '\0';
    try_addresses(c, now);
}

static void connect_unix(lmq_client *c, int64_t now)
{
    lmq_transport_opts o = { NULL, 0, NULL, 0 };
    struct sockaddr_un sun;
    char msg[256];
    int rc;

    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, c->unix_path, strlen(c->unix_path));
    c->fd_gen++;
    rc = c->t.ops->open(&c->t, (struct sockaddr *)&sun, sizeof sun, &o);
    if (rc == 0) {
        transport_up(c, now);
    } else if (rc == 1) {
        c->cs = CS_CONNECTING;
    } else {
        snprintf(msg, sizeof msg, "cannot connect to %s: %s", c->unix_path, c->t.err);
        attempt_failed(c, rc, msg, now);
    }
}

/* One connection attempt: resolve (again: DNS may have changed), then
 * connect to each address in turn, all within LMQ_OPT_CONNECT_TIMEOUT_MS. */
static void begin_attempt(lmq_client *c, int64_t now)
{
    int rc;

    c->deadline = now + c->connect_timeout;
    c->session_up = 0;
    if (c->unix_path) {
        c->t.ops = &lmq_transport_unix;
        log_ev(c, LMQ_LOG_INFO, "connecting to unix:%s", c->unix_path);
        connect_unix(c, now);
        return;
    }
    c->t.ops = lmq_netopts_transport(&c->net);
    c->t.host = c->host;
    c->t.port = client_port(c);
    c->t.net = &c->net;
    log_ev(c, LMQ_LOG_INFO, "connecting to %s:%d (%s)", c->host, client_port(c), c->t.ops->name);
    /* Said again at every attempt, as the choice is made again. */
    if (c->net.tls && c->net.no_verify)
        log_ev(c, LMQ_LOG_WARNING, "TLS certificate verification is OFF "
               "(LMQ_OPT_TLS_NO_VERIFY): anyone can pose as %s", c->host);
    else if (c->net.tls && c->net.insecure)
        log_ev(c, LMQ_LOG_WARNING, "TLS host name check is off (LMQ_OPT_TLS_INSECURE): "
               "any certificate from a trusted CA passes for %s", c->host);
    c->proxy_target_len = 0;
    c->resolving_target = c->net.proxy.kind &&
                          lmq_proxy_resolves_locally(&c->net.proxy, c->host);
    if (c->net.proxy.kind)
        log_ev(c, LMQ_LOG_INFO, "through the %s proxy %s:%d (%s resolves %s)",
               lmq_proxy_kind_name(c->net.proxy.kind), c->net.proxy.host, c->net.proxy.port,
               c->resolving_target ? "this host" : "the proxy", c->host);
    /* With a proxy, the addresses tried are the proxy's. */
    if (c->net.proxy.kind && !c->resolving_target)
        rc = lmq_resolver_start(c->net.proxy.host, c->net.proxy.port, &c->resolver);
    else
        rc = lmq_resolver_start(c->host, client_port(c), &c->resolver);
    if (rc < 0) {
        attempt_failed(c, rc, "out of memory starting name resolution", now);
        return;
    }
    c->cs = CS_RESOLVING;
    c->fd_gen++;
    resolve_check(c, now);
}

LMQ_API int lmq_client_connect(lmq_client *c)
{
    int rc = 0;

    if (!c)
        return LMQ_EINVAL;
    lmq_client_lock(c);
    c->errmsg[0] = '\0';
    if (c->cs != CS_IDLE) {
        set_err(c, "already connecting or connected");
        rc = LMQ_ESTATE;
        goto out;
    }
    if (c->reconnect_min > c->reconnect_max) {
        set_err(c, "LMQ_OPT_RECONNECT_MIN_MS (%lld) exceeds LMQ_OPT_RECONNECT_MAX_MS (%lld)",
                (long long)c->reconnect_min, (long long)c->reconnect_max);
        rc = LMQ_EINVAL;
        goto out;
    }
    /* Refused here, naming the id and the rule, rather than after the TCP
     * connect as "invalid argument". */
    if ((rc = lmq_session_check_client_id(c->s)) < 0) {
        session_err(c, rc);
        goto out;
    }
    c->user_stop = 0;
    c->close_pending = 0;
    c->ever_connected = 0;
    c->attempt = 0;
    c->fault_streak = 0;
    c->faulted = 0;
    c->stop_error = 0;
    c->outcome = 1;
    begin_attempt(c, lmq_client_now_ms());
    step_end(c);
out:
    lmq_client_unlock(c);
    return rc;
}

/* Called from a thread other than the loop's (see lmq_client_driver). */
static int foreign_thread(const lmq_client *c)
{
    return c->drv && c->drv->foreign_thread && c->drv->foreign_thread(c->drv_ctx);
}

/* Leave the closing to the loop thread: a deadline due now makes its
 * next step on_timeout, which sees close_pending. */
static void defer_close(lmq_client *c)
{
    c->close_pending = 1;
    c->deadline = 0;
}

/* Disconnected while no connection could deliver the backlog. */
static void report_undelivered(lmq_client *c)
{
    lmq_session_report_undelivered(c->s);
    if (lmq_session_undelivered(c->s))
        set_err(c, "%s", lmq_session_errmsg(c->s));
}

static void cancel_connect(lmq_client *c)
{
    report_undelivered(c);
    attempt_cleanup(c);
    lmq_session_push_event(c->s, LMQ_EV_CONNECT_FAILED, LMQ_ECLOSED, 0,
                           "connect cancelled by lmq_client_disconnect");
    go_idle(c, 0);
}

LMQ_API int lmq_client_disconnect(lmq_client *c, int32_t reason, const lmq_proplist *props)
{
    int64_t now = lmq_client_now_ms();
    int rc = 0;

    if (!c)
        return LMQ_EINVAL;
    lmq_client_lock(c);
    c->errmsg[0] = '\0';
    switch (c->cs) {
    case CS_IDLE:
        set_err(c, "not connected");
        rc = LMQ_ENOT_CONNECTED;
        goto out;
    case CS_OPEN:
        c->user_stop = 1;
        if (lmq_session_disconnect(c->s, reason, props, now) < 0) {
            /* Nothing to say to the server (e.g. already closing): close. */
            if (foreign_thread(c))
                defer_close(c);
            else
                conn_lost(c, 0, now);
            break;
        }
        /* Bound the goodbye: a peer that stops reading must not keep the
         * connection open forever.  The session drains the backlog first
         * for up to its drain timeout, then sends DISCONNECT. */
        c->deadline = now + c->drain_timeout + c->connect_timeout;
        if (foreign_thread(c))
            break;              /* the loop thread writes DISCONNECT and closes */
        rc = flush(c, now);
        if (rc < 0) {
            conn_lost(c, 0, now);
            rc = 0;
            break;
        }
        after_io(c, now);
        break;
    case CS_RESOLVING:
    case CS_CONNECTING:
        c->user_stop = 1;
        if (foreign_thread(c))
            defer_close(c);
        else
            cancel_connect(c);
        break;
    default: /* CS_WAITING: the loss was reported already */
        c->user_stop = 1;
        report_undelivered(c);
        /* Still one closing event, so a caller that waits for the end of
         * the client after lmq_client_disconnect always gets it. */
        lmq_session_push_event(c->s, LMQ_EV_DISCONNECTED, 0, 0,
                               "reconnecting stopped by lmq_client_disconnect");
        go_idle(c, 0);
        break;
    }
    step_end(c);
out:
    lmq_client_unlock(c);
    return rc;
}

/* ------------------------------------------------------------- API calls */

LMQ_API int lmq_client_publish(lmq_client *c, const char *topic, int32_t topic_len,
                               const void *payload, int32_t payload_len,
                               int32_t qos, int32_t retain, const lmq_proplist *props)
{
    size_t tlen, plen;
    int rc;

    if (!c || !topic || (!payload && payload_len > 0))
        return LMQ_EINVAL;
    tlen = topic_len < 0 ? strlen(topic) : (size_t)topic_len;
    plen = payload_len >= 0 ? (size_t)payload_len : payload ? strlen(payload) : 0;
    lmq_client_lock(c);
    c->errmsg[0] = '\0';
    rc = lmq_session_publish(c->s, (const uint8_t *)topic, tlen, payload, plen, qos,
                             retain, props, lmq_client_now_ms());
    if (rc < 0)
        session_err(c, rc);
    step_end(c);
    lmq_client_unlock(c);
    return rc;
}

LMQ_API int lmq_client_subscribe(lmq_client *c, const lmq_subscription *subs, int32_t n,
                                 const lmq_proplist *props)
{
    int rc;

    if (!c || !subs || n <= 0)
        return LMQ_EINVAL;
    lmq_client_lock(c);
    c->errmsg[0] = '\0';
    rc = lmq_session_subscribe(c->s, subs, n, props, lmq_client_now_ms());
    if (rc < 0)
        session_err(c, rc);
    step_end(c);
    lmq_client_unlock(c);
    return rc;
}

LMQ_API int lmq_client_unsubscribe(lmq_client *c, const char *const *filters,
                                   const int32_t *filter_lens, int32_t n,
                                   const lmq_proplist *props)
{
    int rc;

    if (!c || !filters || n <= 0)
        return LMQ_EINVAL;
    lmq_client_lock(c);
    c->errmsg[0] = '\0';
    rc = lmq_session_unsubscribe(c->s, filters, filter_lens, n, props, lmq_client_now_ms());
    if (rc < 0)
        session_err(c, rc);
    step_end(c);
    lmq_client_unlock(c);
    return rc;
}

LMQ_API int lmq_client_ack(lmq_client *c, int32_t ack_id, int32_t reason)
{
    int rc;

    if (!c)
        return LMQ_EINVAL;
    lmq_client_lock(c);
    c->errmsg[0] = '\0';
    rc = lmq_session_ack(c->s, ack_id, reason, lmq_client_now_ms());
    if (rc < 0)
        session_err(c, rc);
    step_end(c);
    lmq_client_unlock(c);
    return rc;
}

LMQ_API int lmq_client_auth(lmq_client *c, int32_t reason, const lmq_proplist *props)
{
    int rc;

    if (!c)
        return LMQ_EINVAL;
    lmq_client_lock(c);
    c->errmsg[0] = '\0';
    rc = lmq_session_auth(c->s, reason, props, lmq_client_now_ms());
    if (rc < 0)
        session_err(c, rc);
    step_end(c);
    lmq_client_unlock(c);
    return rc;
}

LMQ_API int lmq_client_pause_delivery(lmq_client *c, int32_t paused)
{
    int rc;

    if (!c)
        return LMQ_EINVAL;
    lmq_client_lock(c);
    rc = lmq_session_hold(c->s, paused != 0);
    /* Resumed: the released events go to the callback, and the driver
     * re-arms for the released acks and a socket left unread (hold full). */
    step_end(c);
    lmq_client_unlock(c);
    return rc;
}

/* ------------------------------------------------------ external driver */

LMQ_API int lmq_client_want(const lmq_client *c)
{
    const uint8_t *p;
    int want = 0;

    if (!c)
        return 0;
    lmq_client_lock(c);
    switch (c->cs) {
    case CS_RESOLVING:
        want = lmq_resolver_fd(c->resolver) >= 0 ? LMQ_WANT_READ : 0;
        break;
    case CS_CONNECTING:
        want = c->t.ops->want(&c->t);
        break;
    case CS_OPEN:
        /* WRITE only while there is something to write: a writable socket
         * is nearly always writable, asking for it otherwise would spin. */
        want = c->t.ops->want(&c->t);
        /* Delivery paused with too much held: TCP holds the server back. */
        if (lmq_session_hold_full(c->s))
            want &= ~LMQ_WANT_READ;
        if (lmq_session_out(((lmq_client *)c)->s, &p) > 0)
            want |= LMQ_WANT_WRITE;
        break;
    default:
        break;
    }
    lmq_client_unlock(c);
    return want;
}

int64_t lmq_client_deadline(const lmq_client *c)
{
    int64_t d;

    lmq_client_lock(c);
    d = c->deadline;
    if (c->cs == CS_OPEN) {
        int64_t sd = lmq_session_deadline(c->s);
        if (sd < d)
            d = sd;
    } else if (c->cs != CS_IDLE) {
        /* Plugin ticks go on while offline (not once stopped). */
        int64_t td = lmq_plugin_tick_deadline(lmq_plugin_session_chain_get(c->s));
        if (td < d)
            d = td;
    }
    lmq_client_unlock(c);
    return d;
}

LMQ_API int64_t lmq_client_timeout_ms(const lmq_client *c)
{
    int64_t d, left;

    if (!c)
        return -1;
    d = lmq_client_deadline(c);
    if (d == NO_DEADLINE)
        return -1;
    left = d - lmq_client_now_ms();
    return left > 0 ? left : 0;
}

static void read_open(lmq_client *c, int64_t now)
{
    ptrdiff_t r;
    uint8_t *p;
    int i, rc, room;

    /* Past the limit too while the transport holds decrypted or
     * unframed bytes: poll() would not report those. */
    for (i = 0; i < READS_PER_STEP || c->t.pending_in; i++) {
        if (lmq_session_hold_full(c->s))
            break;              /* delivery paused, too much held */
        room = lmq_session_input_space(c->s, c->read_size, &p);
        if (room < 0) {
            fatal(c, room, now);
            return;
        }
        if (room > READ_MAX)
            room = READ_MAX;        /* a step reads at most READS_PER_STEP x this */
        r = c->t.ops->read(&c->t, p, (size_t)room);
        if (r == 0)
            break;
        if (r < 0) {
            conn_lost(c, (int)r, now);
            return;
        }
        if (r == room && c->read_size < READ_MAX)
            c->read_size *= 2;
        else if (r < room / 4 && c->read_size > READ_MIN)
            c->read_size /= 2;
        rc = lmq_session_input_commit(c->s, (size_t)r, now);
        if (rc < 0) {
            fatal(c, rc, now);
            return;
        }
        check_connack(c);
        if (r < room && !c->t.pending_in)
            break;
    }
    /* Answer at once (PUBACK, PINGREQ...) rather than a loop turn later:
     * everything this batch of reads owes goes in one write. */
    rc = flush(c, now);
    if (rc < 0) {
        conn_lost(c, rc, now);
        return;
    }
    /* Caught up: the buffers that hold nothing go back until needed. */
    if (!c->t.pending_in)
        lmq_session_trim(c->s);
    after_io(c, now);
}

static void connect_progress(lmq_client *c, int64_t now);

LMQ_API int lmq_client_on_readable(lmq_client *c)
{
    int64_t now = lmq_client_now_ms();
    char b[16];

    if (!c)
        return LMQ_EINVAL;
    lmq_client_lock(c);
    if (c->cs == CS_RESOLVING) {
        while (read(lmq_resolver_fd(c->resolver), b, sizeof b) > 0) {
            /* drain the wake-up byte */
        }
        resolve_check(c, now);
    } else if (c->cs == CS_CONNECTING) {
        connect_progress(c, now);     /* a TLS / WebSocket handshake reads */
    } else if (c->cs == CS_OPEN) {
        read_open(c, now);
    }
    step_end(c);
    lmq_client_unlock(c);
    return 0;
}

static void connect_progress(lmq_client *c, int64_t now)
{
    int rc = c->t.ops->connect_progress(&c->t);

    if (rc == 1)
        return;
    if (rc == 0) {
        transport_up(c, now);
        return;
    }
    snprintf(c->last_connect_err, sizeof c->last_connect_err, "%s", c->t.err);
    log_ev(c, LMQ_LOG_DEBUG, "%s", c->t.err);
    c->t.ops->close(&c->t);
    if (rc == LMQ_EPROXY_TARGET && next_proxy_target(c)) {
        /* socks5://: the proxy could not reach that address of the
         * server; ask it for the next one (as a direct connect would). */
        c->addr_next = c->addrs;
        try_addresses(c, now);
        return;
    }
    if (!c->unix_path && rc != LMQ_ECONNECT) {
        /* A handshake failed (TLS, WebSocket): the server answered, so no
         * other address is tried, and the specific code is kept. */
        char msg[256];
        snprintf(msg, sizeof msg, "%s:%d: %s", c->host, client_port(c), c->last_connect_err);
        attempt_failed(c, rc, msg, now);
        return;
    }
    if (c->unix_path) {
        char msg[256];
        snprintf(msg, sizeof msg, "cannot connect to %s: %s", c->unix_path,
                 c->last_connect_err);
        attempt_failed(c, rc, msg, now);
        return;
    }
    try_addresses(c, now);
}

LMQ_API int lmq_client_on_writable(lmq_client *c)
{
    int64_t now = lmq_client_now_ms();
    int rc;

    if (!c)
        return LMQ_EINVAL;
    lmq_client_lock(c);
    if (c->cs == CS_CONNECTING) {
        connect_progress(c, now);
    } else if (c->cs == CS_OPEN) {
        rc = flush(c, now);
        if (rc < 0)
            conn_lost(c, rc, now);
        else
            after_io(c, now);
    }
    step_end(c);
    lmq_client_unlock(c);
    return 0;
}

LMQ_API int lmq_client_on_timeout(lmq_client *c)
{
    int64_t now = lmq_client_now_ms();
    int rc;

    if (!c)
        return LMQ_EINVAL;
    lmq_client_lock(c);
    if (c->close_pending) {
        c->close_pending = 0;
        if (c->cs == CS_OPEN)
            conn_lost(c, 0, now);
        else if (c->cs == CS_RESOLVING || c->cs == CS_CONNECTING)
            cancel_connect(c);
    } else if (c->deadline <= now) {
        switch (c->cs) {
        case CS_RESOLVING:
            attempt_failed(c, LMQ_ETIMEOUT, "timed out resolving the host name", now);
            break;
        case CS_CONNECTING:
        {
            char via[160] = "", msg[400];
            if (c->net.proxy.kind)
                snprintf(via, sizeof via, " (through the %s proxy %s:%d)",
                         lmq_proxy_kind_name(c->net.proxy.kind), c->net.proxy.host,
                         c->net.proxy.port);
            if (c->t.handshaking) {
                snprintf(msg, sizeof msg, "%s:%d: %s handshake timed out%s", c->host,
                         client_port(c), c->t.ops->name, via);
                attempt_failed(c, LMQ_EHANDSHAKE_TIMEOUT, msg, now);
                break;
            }
            snprintf(msg, sizeof msg, "timed out connecting%s", via);
            attempt_failed(c, LMQ_ETIMEOUT, msg, now);
            break;
        }
        case CS_WAITING:
            begin_attempt(c, now);
            break;
        case CS_OPEN:
            /* our DISCONNECT could not be delivered in time */
            conn_lost(c, 0, now);
            break;
        default:
            break;
        }
    }
    if (c->cs != CS_OPEN && c->cs != CS_IDLE &&
        lmq_plugin_session_chain_get(c->s))
        lmq_plugin_run_tick(lmq_plugin_session_chain_get(c->s), now);
    if (c->cs == CS_OPEN) {
        rc = lmq_session_tick(c->s, now);
        if (rc < 0) {
            fatal(c, rc, now);
        } else if ((rc = flush(c, now)) < 0) {
            conn_lost(c, rc, now);
        } else {
            after_io(c, now);
        }
    }
    step_end(c);
    lmq_client_unlock(c);
    return 0;
}

/* -------------------------------------------------------- driver support */

int lmq_client_set_driver(lmq_client *c, const lmq_client_driver *d, void *ctx)
{
    int rc = 0;

    lmq_client_lock(c);
    if (c->drv) {
        set_err(c, "the client already has a driver");
        rc = LMQ_ESTATE;
    } else {
        c->drv = d;
        c->drv_ctx = ctx;
    }
    lmq_client_unlock(c);
    return rc;
}

void *lmq_client_driver_ctx(const lmq_client *c, const lmq_client_driver *d)
{
    void *ctx;

    lmq_client_lock(c);
    ctx = c->drv == d ? c->drv_ctx : NULL;
    lmq_client_unlock(c);
    return ctx;
}

int lmq_client_outcome(const lmq_client *c)
{
    int o;

    lmq_client_lock(c);
    o = c->outcome;
    lmq_client_unlock(c);
    return o;
}

int lmq_client_active(const lmq_client *c)
{
    int a;

    lmq_client_lock(c);
    a = c->cs != CS_IDLE;
    lmq_client_unlock(c);
    return a;
}

unsigned lmq_client_fd_gen(const lmq_client *c)
{
    unsigned g;

    lmq_client_lock(c);
    g = c->fd_gen;
    lmq_client_unlock(c);
    return g;
}

int lmq_client_request(lmq_client *c, int32_t msg_id, int *error)
{
    int rc, e = 0;

    lmq_client_lock(c);
    rc = lmq_session_request(c->s, msg_id, &e);
    lmq_client_unlock(c);
    if (error)
        *error = e;
    return rc;
}

LMQ_API int lmq_client_backlog(lmq_client *c, lmq_backlog *out, int32_t size)
{
    lmq_session_stats st;
    lmq_backlog b;

    if (!c || !out || size < 8)
        return LMQ_EINVAL;
    lmq_client_lock(c);
    lmq_session_stats_get(c->s, &st);
    memset(&b, 0, sizeof b);
    b.struct_size = (uint32_t)size < sizeof b ? (uint32_t)size : (uint32_t)sizeof b;
    b.unwritten_msgs = (int32_t)st.unwritten_msgs;
    b.inflight_msgs = (int32_t)st.inflight_out;
    b.incomplete_msgs = b.unwritten_msgs + b.inflight_msgs;
    b.undelivered = (int32_t)lmq_session_undelivered(c->s);
    b.requests = (int32_t)st.requests;
    b.unwritten_bytes = (int64_t)st.unwritten_bytes;
    b.stray_acks = (int64_t)st.stray_acks;
    lmq_client_unlock(c);
    /* A caller built against an older, shorter struct gets its part. */
    memcpy(out, &b, b.struct_size);
    return 0;
}

int lmq_client_stop_error(const lmq_client *c)
{
    int e;

    lmq_client_lock(c);
    e = c->stop_error;
    lmq_client_unlock(c);
    return e;
}
