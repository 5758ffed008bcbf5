/*
 * client.h - what the drivers need from the client beyond lunamq.h.
 *
 * The client (client.c) owns the session, the transport and the reconnect
 * policy, and exposes the external-driver entry points of lunamq.h.  A
 * driver (the libev one in driver/ev.c) plugs in through this small hook
 * table: the client tells it when fd, want or deadline may have changed
 * and when it goes away; the driver calls lmq_client_on_readable & co.
 *
 * Internal to the library.
 */
#ifndef LMQ_CLIENT_H
#define LMQ_CLIENT_H

#include <stdint.h>

#include "lunamq.h"

struct lmq_plugin_watch;        /* plugin/plugin.h */

typedef struct lmq_client_driver {
    /* fd, want or deadline may have changed: re-arm.  Called with the
     * client lock held, from whichever thread made the change. */
    void (*changed)(void *ctx);
    /* The client is being freed: stop watchers, threads; free ctx.
     * Called without the client lock. */
    void (*release)(void *ctx);
    /* 1 when the calling thread is not the one running the loop (a
     * background thread runs it): the client then leaves closing fds to
     * the loop thread, since an fd closed under a loop that still watches
     * it may be reused for something else.  NULL: always 0. */
    int (*foreign_thread)(void *ctx);
    /* Plugins' fd watches (lunamq_plugin.h watch_fd): start w (or change
     * its events), stop it.  Called with the client lock held, on the
     * loop thread.  NULL: the driver has no loop to watch in. */
    int (*watch)(void *ctx, struct lmq_plugin_watch *w);
    void (*unwatch)(void *ctx, struct lmq_plugin_watch *w);
} lmq_client_driver;

/* A plugin's watched fd is ready: the driver calls this without the lock
 * (it takes it, runs the plugin's callback, then the end of a step). */
void lmq_client_watch_fire(lmq_client *c, struct lmq_plugin_watch *w, int revents);

/* Install a driver; LMQ_ESTATE when one is there already. */
int lmq_client_set_driver(lmq_client *c, const lmq_client_driver *d, void *ctx);
/* The driver's ctx when d is the installed driver, else NULL. */
void *lmq_client_driver_ctx(const lmq_client *c, const lmq_client_driver *d);

/* The client's lock (recursive): every public call takes it, so calls from
 * other threads are safe while a driver thread runs the loop.  Callbacks
 * run with it let go.  The outermost unlock frees the client when a
 * callback called lmq_client_free() meanwhile (lmq_client_doomed). */
void lmq_client_lock(const lmq_client *c);
void lmq_client_unlock(const lmq_client *c);

/* The outcome of the last lmq_client_connect(): 1 still trying, 0
 * connected (a CONNACK accepted us), or the LMQ_E* code it gave up with. */
int lmq_client_outcome(const lmq_client *c);
/* 1 while the client has something to do (connecting, connected, waiting
 * to reconnect); 0 once stopped (never connected, disconnected, gave up). */
int lmq_client_active(const lmq_client *c);
/* The error the client stopped with (0 after our own disconnect). */
int lmq_client_stop_error(const lmq_client *c);
/* lmq_session_request under the client's lock (error may be NULL). */
int lmq_client_request(lmq_client *c, int32_t msg_id, int *error);

/* Deliver queued events to the callback: the loop thread calls it when
 * another thread's API call woke it (in thread mode only the loop thread
 * runs callbacks). */
void lmq_client_deliver(lmq_client *c);
/* 1 when a callback called lmq_client_free(c): the client goes at the
 * outermost lmq_client_unlock(), so a driver that holds the lock around
 * several calls must not use c after its own unlock. */
int lmq_client_doomed(const lmq_client *c);

/* Changes whenever the client opens a new fd, even one that reuses the
 * number of the fd it just closed: loops must then re-register it. */
unsigned lmq_client_fd_gen(const lmq_client *c);

/* The absolute time (monotonic ms) of the client's next deadline, INT64_MAX
 * when none: what lmq_client_timeout_ms() counts down to, without reading
 * the clock. */
int64_t lmq_client_deadline(const lmq_client *c);

/* Monotonic clock in milliseconds. */
int64_t lmq_client_now_ms(void);

#endif /* LMQ_CLIENT_H */
