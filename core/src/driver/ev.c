/*
 * ev.c - the libev driver, and the blocking conveniences built on it.
 *
 * The only file that includes <ev.h>.  Each attached client gets one ev_io
 * and one ev_timer, re-armed from lmq_client_fd / _want / _timeout_ms after
 * every step (the client calls back through its driver hook), so the
 * driver holds no protocol knowledge: it is the external driver's caller.
 * An ev_async per client lets other threads wake the loop after an API
 * call while lmq_client_thread_start runs it; it is unreferenced so it
 * never keeps ev_run(loop, 0) alive on its own.
 */
#define _GNU_SOURCE
#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "client/client.h"
#include "plugin/plugin.h"

/* A plugin's fd watch (lunamq_plugin.h watch_fd) served by an ev_io. */
typedef struct evwatch {
    ev_io io;
    struct evwatch *prev, *next;
    struct evclient *e;
    lmq_plugin_watch *w;
} evwatch;

struct lmq_loop {
    struct ev_loop *ev;
    int owned;                  /* ev_loop_new'd by us: destroy on free */
    atomic_int stop_req;        /* lmq_loop_stop: lmq_client_run & co return */
};

typedef struct evclient {
    lmq_client *c;
    lmq_loop *loop;
    int own_loop;               /* private loop made for the blocking calls */
    ev_io io;
    int io_fd;
    int io_events;
    unsigned io_gen;
    ev_timer timer;
    int64_t timer_at;           /* the deadline the active timer was set for */
    ev_async async;
    pthread_t thread;
    int thread_on;              /* written under the client lock */
    atomic_int thread_stop;
    int in_run;                 /* run_until is inside ev_run (its thread) */
    atomic_int stop_req;        /* lmq_client_run_stop: run_until returns */
    int orphaned;               /* client freed from a callback: see abandon() */
    evwatch *watches;           /* plugins' fds */
} evclient;

/* ------------------------------------------------------------------ loops */

LMQ_API lmq_loop *lmq_loop_new(void)
{
    lmq_loop *l = calloc(1, sizeof *l);

    if (!l)
        return NULL;
    /* NOSIGMASK: the embedding program's signal mask is not ours. */
    l->ev = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
    if (!l->ev) {
        free(l);
        return NULL;
    }
    l->owned = 1;
    return l;
}

LMQ_API lmq_loop *lmq_loop_wrap(void *ev_loop)
{
    lmq_loop *l;

    if (!ev_loop)
        return NULL;
    l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->ev = ev_loop;
    return l;
}

LMQ_API void lmq_loop_free(lmq_loop *loop)
{
    if (!loop)
        return;
    if (loop->owned)
        ev_loop_destroy(loop->ev);
    free(loop);
}

LMQ_API int lmq_loop_run(lmq_loop *loop, int32_t mode)
{
    static const int how[] = {
        [LMQ_RUN_DEFAULT] = 0, [LMQ_RUN_ONCE] = EVRUN_ONCE, [LMQ_RUN_NOWAIT] = EVRUN_NOWAIT
    };

    if (!loop || mode < 0 || mode > LMQ_RUN_NOWAIT)
        return LMQ_EINVAL;
    ev_run(loop->ev, how[mode]);
    return 0;
}

/* Also ends the lmq_client_run / lmq_client_wait of a client on this
 * loop, which run it one iteration at a time (run_until). */
LMQ_API void lmq_loop_stop(lmq_loop *loop)
{
    if (!loop)
        return;
    atomic_store(&loop->stop_req, 1);
    ev_break(loop->ev, EVBREAK_ONE);
}

/* --------------------------------------------------------------- watchers */

static void rearm(evclient *e)
{
    struct ev_loop *loop = e->loop->ev;
    lmq_client *c = e->c;
    int fd, want, events;
    unsigned gen;
    int64_t at;

    lmq_client_lock(c);
    fd = lmq_client_fd(c);
    want = lmq_client_want(c);
    gen = lmq_client_fd_gen(c);
    at = lmq_client_deadline(c);
    lmq_client_unlock(c);

    events = (want & LMQ_WANT_READ ? EV_READ : 0) | (want & LMQ_WANT_WRITE ? EV_WRITE : 0);
    if (fd < 0)
        events = 0;
    /* A new socket with a reused number must be set again (ev_io_set makes
     * libev re-register the fd): hence the generation check. */
    if (fd != e->io_fd || events != e->io_events || gen != e->io_gen) {
        ev_io_stop(loop, &e->io);
        if (events) {
            ev_io_set(&e->io, fd, events);
            ev_io_start(loop, &e->io);
        }
        e->io_fd = fd;
        e->io_events = events;
        e->io_gen = gen;
    }
    if (at == INT64_MAX) {
        ev_timer_stop(loop, &e->timer);
        return;
    }
    /* Every packet sent moves the keepalive deadline a little later.  A
     * timer already set for an earlier time is left alone: it fires early,
     * the client finds nothing due, and the next rearm sets the new time.
     * That saves a clock read and a timer restart per message. */
    if (ev_is_active(&e->timer) && e->timer_at <= at)
        return;
    int64_t left = at - lmq_client_now_ms();
    ev_timer_stop(loop, &e->timer);
    /* libev times from its cached "now", stale when the loop has not run
     * for a while (between two lmq_client_run calls): refresh it so the
     * timer does not fire early. */
    ev_now_update(loop);
    ev_timer_set(&e->timer, left > 0 ? (double)left / 1000.0 : 0.0, 0.0);
    ev_timer_start(loop, &e->timer);
    e->timer_at = at;
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    evclient *e = w->data;
    lmq_client *c = e->c;
    unsigned gen;

    (void)loop;
    /* Held across both calls: a callback in the first may free the
     * client, which then happens at our unlock, not under the second. */
    lmq_client_lock(c);
    gen = lmq_client_fd_gen(c);
    if (revents & EV_READ)
        lmq_client_on_readable(c);
    /* Readiness was for the fd we watched: skip it if the read replaced it. */
    if ((revents & EV_WRITE) && lmq_client_fd_gen(c) == gen && !lmq_client_doomed(c))
        lmq_client_on_writable(c);
    lmq_client_unlock(c);       /* e and c may be gone from here on */
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    evclient *e = w->data;

    (void)loop;
    (void)revents;
    lmq_client_on_timeout(e->c);
}

static void async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    evclient *e = w->data;

    (void)revents;
    if (atomic_load(&e->thread_stop)) {
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    if (atomic_load(&e->stop_req)) {
        ev_break(loop, EVBREAK_ONE);    /* run_until sees the request */
        return;
    }
    /* Another thread's API call queued events: callbacks run here, on the
     * loop thread, never on the caller's. */
    lmq_client_lock(e->c);
    lmq_client_deliver(e->c);
    rearm(e);
    lmq_client_unlock(e->c);    /* e may be gone from here on */
}

/* ------------------------------------------------------------ client hooks */

static int drv_foreign_thread(void *ctx)
{
    evclient *e = ctx;

    return e->thread_on && !pthread_equal(pthread_self(), e->thread);
}

static void drv_changed(void *ctx)
{
    evclient *e = ctx;

    /* Watchers belong to the loop's thread: other threads only wake it. */
    if (drv_foreign_thread(e))
        ev_async_send(e->loop->ev, &e->async);
    else
        rearm(e);
}

static void thread_join(evclient *e)
{
    atomic_store(&e->thread_stop, 1);
    ev_async_send(e->loop->ev, &e->async);
    pthread_join(e->thread, NULL);
    lmq_client_lock(e->c);
    e->thread_on = 0;
    lmq_client_unlock(e->c);
    ev_unref(e->loop->ev);
}

/* ------------------------------------------------------- plugins' fds */

static void watch_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    evwatch *ew = (evwatch *)io;

    (void)loop;
    lmq_client_watch_fire(ew->e->c, ew->w, (revents & EV_READ ? LMQ_PLUGIN_WATCH_READ : 0) |
                                               (revents & EV_WRITE ? LMQ_PLUGIN_WATCH_WRITE : 0));
}

/* Started unreferenced: a plugin's listening socket must not keep
 * lmq_loop_run(loop, 0) going once the clients are done. */
static void watch_start(evclient *e, evwatch *ew)
{
    int ev = (ew->w->events & LMQ_PLUGIN_WATCH_READ ? EV_READ : 0) |
             (ew->w->events & LMQ_PLUGIN_WATCH_WRITE ? EV_WRITE : 0);
    ev_io_set(&ew->io, ew->w->fd, ev);
    ev_io_start(e->loop->ev, &ew->io);
    ev_unref(e->loop->ev);
}

static void watch_stop(evclient *e, evwatch *ew)
{
    ev_ref(e->loop->ev);
    ev_io_stop(e->loop->ev, &ew->io);
}

static int drv_watch(void *ctx, lmq_plugin_watch *w)
{
    evclient *e = ctx;
    evwatch *ew = w->drv;

    if (ew) {
        watch_stop(e, ew);
        watch_start(e, ew);
        return 0;
    }
    if (!(ew = calloc(1, sizeof *ew)))
        return LMQ_ENOMEM;
    ev_io_init(&ew->io, watch_cb, w->fd, 0);
    ew->e = e;
    ew->w = w;
    ew->next = e->watches;
    if (e->watches)
        e->watches->prev = ew;
    e->watches = ew;
    w->drv = ew;
    watch_start(e, ew);
    return 0;
}

static void drv_unwatch(void *ctx, lmq_plugin_watch *w)
{
    evclient *e = ctx;
    evwatch *ew = w->drv;

    if (!ew)
        return;
    watch_stop(e, ew);
    if (ew->prev)
        ew->prev->next = ew->next;
    else
        e->watches = ew->next;
    if (ew->next)
        ew->next->prev = ew->prev;
    w->drv = NULL;
    free(ew);
}

static void watches_stop(evclient *e)
{
    while (e->watches)
        drv_unwatch(e, e->watches->w);
}

/* Freed from a callback while this thread runs the loop: ev_run is still
 * on the stack, so the loop cannot be destroyed yet, and a thread cannot
 * join itself.  Stop the watchers (that drops their pending events too),
 * let the thread go, and leave e and the loop to whoever runs ev_run,
 * once it returns (run_until, thread_main). */
static void abandon(evclient *e)
{
    struct ev_loop *loop = e->loop->ev;

    watches_stop(e);
    ev_io_stop(loop, &e->io);
    ev_timer_stop(loop, &e->timer);
    ev_ref(loop);               /* balances the ev_unref at attach */
    ev_async_stop(loop, &e->async);
    if (e->thread_on) {
        ev_unref(loop);         /* balances the ev_ref at thread start */
        atomic_store(&e->thread_stop, 1);
        pthread_detach(e->thread);
    }
    e->c = NULL;
    e->orphaned = 1;
    ev_break(loop, EVBREAK_ALL);
}

static void finish_orphan(evclient *e)
{
    if (e->own_loop)
        lmq_loop_free(e->loop);
    free(e);
}

static void drv_release(void *ctx)
{
    evclient *e = ctx;
    struct ev_loop *loop = e->loop->ev;

    if (e->thread_on ? !drv_foreign_thread(e) : e->in_run) {
        abandon(e);
        return;
    }
    if (e->thread_on)
        thread_join(e);
    watches_stop(e);
    ev_io_stop(loop, &e->io);
    ev_timer_stop(loop, &e->timer);
    ev_ref(loop);               /* balances the ev_unref at attach */
    ev_async_stop(loop, &e->async);
    if (e->own_loop)
        lmq_loop_free(e->loop);
    free(e);
}

static const lmq_client_driver ev_driver = { drv_changed, drv_release, drv_foreign_thread,
                                             drv_watch, drv_unwatch };

static evclient *attach(lmq_client *c, lmq_loop *loop, int *rc)
{
    evclient *e = calloc(1, sizeof *e);

    if (!e) {
        *rc = LMQ_ENOMEM;
        return NULL;
    }
    e->c = c;
    e->loop = loop;
    e->io_fd = -1;
    ev_io_init(&e->io, io_cb, 0, 0);
    ev_timer_init(&e->timer, timer_cb, 0.0, 0.0);
    ev_async_init(&e->async, async_cb);
    e->io.data = e->timer.data = e->async.data = e;
    *rc = lmq_client_set_driver(c, &ev_driver, e);
    if (*rc < 0) {
        free(e);
        return NULL;
    }
    ev_async_start(loop->ev, &e->async);
    ev_unref(loop->ev);
    lmq_client_lock(c);
    rearm(e);
    lmq_client_unlock(c);
    return e;
}

LMQ_API int lmq_client_attach(lmq_client *c, lmq_loop *loop)
{
    int rc;

    if (!c || !loop)
        return LMQ_EINVAL;
    attach(c, loop, &rc);
    return rc;
}

/* The client's libev driver, made with a private loop if it has none. */
static evclient *ensure_loop(lmq_client *c, int *rc)
{
    evclient *e = lmq_client_driver_ctx(c, &ev_driver);
    lmq_loop *loop;

    *rc = 0;
    if (e)
        return e;
    loop = lmq_loop_new();
    if (!loop) {
        *rc = LMQ_ENOMEM;
        return NULL;
    }
    e = attach(c, loop, rc);
    if (!e) {
        lmq_loop_free(loop);
        return NULL;
    }
    e->own_loop = 1;
    return e;
}

/* ------------------------------------------------------ blocking helpers */

static void wake_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
}

static int want_connect_outcome(const lmq_client *c)
{
    return lmq_client_outcome(c) != 1;
}

static int want_stopped(const lmq_client *c)
{
    return !lmq_client_active(c);
}

/* One ev_run, then stop the caller's wake timer; 1 when a callback freed
 * the client meanwhile (e and a private loop are gone too then). */
static int run_once(evclient *e, int how, ev_timer *wake)
{
    e->in_run = 1;
    ev_run(e->loop->ev, how);
    ev_timer_stop(e->loop->ev, wake);
    if (e->orphaned) {
        finish_orphan(e);
        return 1;
    }
    e->in_run = 0;
    return 0;
}

/* A stop request (lmq_client_run_stop, lmq_loop_stop) came: taken. */
static int stop_requested(evclient *e)
{
    int a = atomic_exchange(&e->stop_req, 0);
    int b = atomic_exchange(&e->loop->stop_req, 0);
    return a || b;
}

/* Run the loop one iteration at a time until done(c), a stop request or
 * timeout_ms passed (-1: no limit).  A one-shot timer bounds each blocking
 * iteration.  1 when a callback freed the client (see run_once). */
static int run_until(evclient *e, int64_t timeout_ms, int (*done)(const lmq_client *))
{
    struct ev_loop *loop = e->loop->ev;
    int64_t end = timeout_ms < 0 ? -1 : lmq_client_now_ms() + timeout_ms;
    ev_timer wake;

    int first = 1;

    ev_timer_init(&wake, wake_cb, 0.0, 0.0);
    /* A stop asked for before this run is not this run's. */
    atomic_store(&e->stop_req, 0);
    atomic_store(&e->loop->stop_req, 0);
    while (!done(e->c)) {
        if (!first && stop_requested(e))
            return 0;
        int64_t left = end < 0 ? -1 : end - lmq_client_now_ms();
        if (end >= 0 && left <= 0) {
            /* timeout 0 still gets one look at what is ready */
            return first ? run_once(e, EVRUN_NOWAIT, &wake) : 0;
        }
        first = 0;
        if (left >= 0) {
            ev_timer_set(&wake, (double)left / 1000.0, 0.0);
            ev_timer_start(loop, &wake);
        }
        if (run_once(e, EVRUN_ONCE, &wake))
            return 1;
    }
    stop_requested(e);
    return 0;
}

static evclient *blocking_driver(lmq_client *c, int *rc)
{
    evclient *e = ensure_loop(c, rc);

    if (e && e->thread_on) {
        /* the loop belongs to the background thread now */
        *rc = LMQ_ESTATE;
        return NULL;
    }
    return e;
}

LMQ_API int lmq_client_connect_wait(lmq_client *c, int32_t timeout_ms)
{
    evclient *e;
    int rc, outcome, freed;

    if (!c)
        return LMQ_EINVAL;
    e = blocking_driver(c, &rc);
    if (!e)
        return rc;
    /* Held: a callback run by the connect call may free the client,
     * which then happens at the unlock, before the loop is used. */
    lmq_client_lock(c);
    rc = lmq_client_active(c) ? 0 : lmq_client_connect(c);
    freed = lmq_client_doomed(c);
    lmq_client_unlock(c);
    if (freed)
        return LMQ_ECLOSED;
    if (rc < 0)
        return rc;
    if (run_until(e, timeout_ms, want_connect_outcome))
        return LMQ_ECLOSED;
    outcome = lmq_client_outcome(c);
    /* Still trying: the attempt goes on; the caller may wait again or
     * call lmq_client_disconnect. */
    return outcome == 1 ? LMQ_ETIMEOUT : outcome;
}

LMQ_API int lmq_client_run(lmq_client *c, int32_t timeout_ms)
{
    evclient *e;
    int rc;

    if (!c)
        return LMQ_EINVAL;
    e = blocking_driver(c, &rc);
    if (!e)
        return rc;
    if (run_until(e, timeout_ms, want_stopped))
        return LMQ_ECLOSED;
    return lmq_client_active(c) ? 0 : lmq_client_stop_error(c);
}

LMQ_API int lmq_client_run_stop(lmq_client *c)
{
    evclient *e;

    if (!c)
        return LMQ_EINVAL;
    e = lmq_client_driver_ctx(c, &ev_driver);
    if (!e)
        return 0;               /* nothing runs the client */
    atomic_store(&e->stop_req, 1);
    /* From the callback the iteration ends by itself; from another thread
     * the loop may sleep: wake it. */
    ev_async_send(e->loop->ev, &e->async);
    return 0;
}

/* lmq_client_wait's request, per call (the loop runs one wait at a time). */
static __thread int32_t wait_id;

static int want_request_done(const lmq_client *c)
{
    return lmq_client_request((lmq_client *)c, wait_id, NULL) != 1 ||
           !lmq_client_active(c);
}

LMQ_API int lmq_client_wait(lmq_client *c, int32_t msg_id, int32_t timeout_ms)
{
    evclient *e;
    int rc, err = 0;

    if (!c || msg_id <= 0)
        return LMQ_EINVAL;
    rc = lmq_client_request(c, msg_id, &err);
    if (rc <= 0)
        return rc < 0 ? rc : err;
    e = blocking_driver(c, &rc);
    if (!e)
        return rc;
    int32_t outer = wait_id;
    wait_id = msg_id;
    int freed = run_until(e, timeout_ms, want_request_done);
    wait_id = outer;
    if (freed)
        return LMQ_ECLOSED;
    rc = lmq_client_request(c, msg_id, &err);
    if (rc == 0)
        return err;
    if (rc < 0)
        return rc;
    return lmq_client_active(c) ? LMQ_ETIMEOUT : LMQ_ESTATE;
}

static void *thread_main(void *arg)
{
    evclient *e = arg;

    while (!atomic_load(&e->thread_stop))
        ev_run(e->loop->ev, 0);
    /* Freed from a callback: nobody joins us; the rest is ours to free. */
    if (e->orphaned)
        finish_orphan(e);
    return NULL;
}

LMQ_API int lmq_client_thread_start(lmq_client *c)
{
    evclient *e;
    int rc;

    if (!c)
        return LMQ_EINVAL;
    e = blocking_driver(c, &rc);
    if (!e)
        return rc;
    lmq_client_lock(c);
    atomic_store(&e->thread_stop, 0);
    /* Referenced while the thread runs: ev_run(loop, 0) then waits for
     * work (or the stop request) instead of returning when idle. */
    ev_ref(e->loop->ev);
    e->thread_on = 1;
    if (pthread_create(&e->thread, NULL, thread_main, e) != 0) {
        e->thread_on = 0;
        ev_unref(e->loop->ev);
        rc = LMQ_ENOMEM;
    }
    lmq_client_unlock(c);
    return rc;
}

LMQ_API int lmq_client_thread_stop(lmq_client *c)
{
    evclient *e;

    if (!c)
        return LMQ_EINVAL;
    e = lmq_client_driver_ctx(c, &ev_driver);
    if (!e || !e->thread_on || pthread_equal(pthread_self(), e->thread))
        return LMQ_ESTATE;
    thread_join(e);
    return 0;
}
