/*
 * wait.h - drive clients until something happens, with a deadline.
 *
 * A tw_client wraps an lmq_client and keeps a test-owned copy of every
 * event it produced (event pointers are borrowed until the next pull, so
 * topic, payload, reasons, properties and text are copied).  Every wait
 * drives ALL live tw_clients, so a publisher's acks keep flowing while the
 * test waits on a subscriber.  No bare sleeps: each wait polls the clients
 * in short slices until its condition holds or its deadline passes, and on
 * a deadline it prints what the client did see.
 *
 * Two ways to drive a client:
 *   - "run" (the default): lmq_client_connect_wait, then lmq_client_run in
 *     short slices (the blocking conveniences over the libev driver);
 *   - "external": lmq_client_connect, then a plain poll() on
 *     lmq_client_fd / lmq_client_want / lmq_client_timeout_ms calling
 *     on_readable / on_writable / on_timeout.
 * LMQ_TEST_DRIVER=external in the environment makes external the default.
 */
#ifndef LMQ_TEST_WAIT_H
#define LMQ_TEST_WAIT_H

#include <stdint.h>

#include "lunamq.h"

struct tb_broker;

/* A copy of an lmq_event that outlives the next pull. */
typedef struct tw_event {
    lmq_event ev;           /* pointers here point at the copies below */
    char *topic;            /* NUL-terminated copy (topic_len in ev) */
    uint8_t *payload;       /* copy, NUL-terminated for convenience */
    uint8_t *reasons;
    uint8_t *props;
    char *text;
    int consumed;           /* returned by a tw_wait_* already */
    int64_t at_ms;          /* monotonic time it was collected */
} tw_event;

typedef struct tw_client {
    lmq_client *c;
    char name[32];
    int external;           /* driven through the external driver */
    int started;            /* lmq_client_connect called (external mode) */
    tw_event *ev;
    int n, cap;
} tw_client;

/* Monotonic milliseconds. */
int64_t tw_now_ms(void);

/* A new client (not connected), registered for pumping. */
tw_client *tw_new(const char *name);
/* Free the client (no DISCONNECT: lmq_client_free closes the socket) and
 * its event copies.  NULL is a no-op. */
void tw_free(tw_client *t);
void tw_set_external(tw_client *t, int external);

/* A client set up for a broker: host/port (or the Unix path when
 * use_unix), client id `name`, protocol level, fast reconnect (100..500
 * ms) so tests that restart the broker stay quick. */
tw_client *tw_new_for(const struct tb_broker *b, const char *name, int level);

/* Connect and wait for LMQ_EV_CONNECTED.  0, or the error (the
 * CONNECT_FAILED event's error, or LMQ_ETIMEOUT). */
int tw_connect(tw_client *t, int timeout_ms);

/* Start connecting without waiting (for scripted fake brokers). */
int tw_start(tw_client *t);

/* Pull t's pending events into its log without driving anything (for
 * tests that drive clients themselves). */
void tw_collect_events(tw_client *t);

/* Drive every live client once for up to ms and collect their events. */
void tw_pump(int ms);
/* The fake broker's idle hook: tw_pump(0)-ish, arg unused. */
void tw_idle(void *arg);

/* The first unconsumed event of `type` (msg_id too when msg_id > 0);
 * marks it consumed.  NULL at the deadline (with the log printed). */
tw_event *tw_wait(tw_client *t, int type, int timeout_ms);
tw_event *tw_wait_id(tw_client *t, int type, int msg_id, int timeout_ms);
/* The first unconsumed LMQ_EV_MESSAGE on exactly this topic. */
tw_event *tw_wait_msg(tw_client *t, const char *topic, int timeout_ms);

/* Wait until the client has produced at least n events of `type` in all
 * (consumed or not); returns how many it has. */
int tw_wait_count(tw_client *t, int type, int n, int timeout_ms);
int tw_count(const tw_client *t, int type);
/* How many LMQ_EV_MESSAGE on exactly this topic t has received so far. */
int tw_count_msgs(const tw_client *t, const char *topic);

/* Drive all clients for ms; 1 when no new event of `type` came to t
 * meanwhile (proving an absence needs a bounded wait), else 0. */
int tw_expect_none(tw_client *t, int type, int ms);

/* Subscribe to one filter and wait for the SUBACK: the reason code
 * (granted QoS), or a negative code. */
int tw_subscribe(tw_client *t, const char *filter, int options, int timeout_ms);
/* Publish a NUL-terminated payload: the message id or a negative code. */
int tw_publish(tw_client *t, const char *topic, const char *payload, int qos,
               int retain);
/* Publish and wait for its LMQ_EV_PUBLISHED: that event's error (0 ok). */
int tw_publish_wait(tw_client *t, const char *topic, const char *payload, int qos,
                    int retain, int timeout_ms);

/* Print the client's collected events to stderr. */
void tw_dump(const tw_client *t);
/* Name of an event type, for messages. */
const char *tw_type_name(int type);

#endif /* LMQ_TEST_WAIT_H */
