/*
 * oneshot.c - connect, publish or subscribe, disconnect: the one-call
 * helpers of lunamq.h (lmq_publish_single & co).
 *
 * Each call owns a private client with reconnect off, so a lost connection
 * ends the call instead of being retried behind the caller's back.  Events
 * go to a callback that counts completions and, once the job is done, sends
 * DISCONNECT itself: lmq_client_run then returns as soon as the client has
 * stopped, so no call waits out its timeout when it has nothing left to do.
 */
#define _POSIX_C_SOURCE 200809L
#include <time.h>

#include "lunamq.h"

/* After a timeout or failure, how long the clean DISCONNECT may take. */
#define ONESHOT_GRACE_MS 1000

typedef struct oneshot {
    lmq_client *c;
    int closing;            /* we sent DISCONNECT: the stop is ours */
    int err;                /* first failure seen (0: none) */
    /* publishing */
    int32_t expected;       /* completions that end the call */
    int32_t completed;
    /* subscribing */
    lmq_message_fn fn;
    void *userdata;
    int32_t count;          /* <= 0: no limit */
    int32_t handled;
} oneshot;

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before `end` (-1: no deadline), at least 0. */
static int32_t left_ms(int64_t end)
{
    int64_t left;

    if (end < 0)
        return -1;
    left = end - now_ms();
    if (left < 0)
        return 0;
    return left > INT32_MAX ? INT32_MAX : (int32_t)left;
}

static void fail(oneshot *s, int err)
{
    if (s->err == 0)
        s->err = err;
}

/* Send DISCONNECT once; a client already stopped has nothing to close. */
static void finish(oneshot *s)
{
    if (s->closing)
        return;
    s->closing = 1;
    lmq_client_disconnect(s->c, 0, NULL);
}

static void on_event(lmq_client *c, const lmq_event *ev, void *userdata)
{
    oneshot *s = userdata;

    (void)c;
    switch (ev->type) {
    case LMQ_EV_PUBLISHED:
        if (ev->error != 0)
            fail(s, ev->error);
        if (++s->completed >= s->expected)
            finish(s);
        break;
    case LMQ_EV_SUBSCRIBED:
        /* A SUBACK reason >= 0x80 refuses the filter (3.1.1 [MQTT-3.9.3-2],
         * 5.0 SUBACK reason codes). */
        if (ev->n_reasons < 1 || ev->reasons[0] >= 0x80) {
            fail(s, LMQ_EREJECTED);
            finish(s);
        }
        break;
    case LMQ_EV_MESSAGE:
        /* Messages that were in flight when we stopped are not handed on. */
        if (s->closing || !s->fn)
            break;
        s->handled++;
        if (s->fn(ev, s->userdata) != 0 || (s->count > 0 && s->handled >= s->count))
            finish(s);
        break;
    case LMQ_EV_DISCONNECTED:
        if (!s->closing)
            fail(s, ev->error != 0 ? ev->error : LMQ_EDISCONNECTED);
        break;
    default:
        break;
    }
}

/* A private client aimed at url and connected; 0 or an LMQ_E* code (the
 * client is freed then). */
static int open_client(oneshot *s, const char *url, int64_t end)
{
    int rc;

    s->c = lmq_client_new();
    if (!s->c)
        return LMQ_ENOMEM;
    rc = lmq_client_set_url(s->c, url ? url : "mqtt://localhost", -1);
    if (rc == 0)
        rc = lmq_client_set_int(s->c, LMQ_OPT_RECONNECT, 0);
    if (rc == 0)
        rc = lmq_client_set_callback(s->c, on_event, s, NULL);
    if (rc == 0)
        rc = lmq_client_connect_wait(s->c, left_ms(end));
    if (rc != 0) {
        lmq_client_free(s->c);
        s->c = NULL;
    }
    return rc;
}

/* Run until the job is done or `end`, close cleanly, free the client.
 * 0 or the first failure (LMQ_ETIMEOUT when the deadline cut it short). */
static int close_client(oneshot *s, int64_t end, int timed_out_is_error)
{
    int rc;

    rc = lmq_client_run(s->c, left_ms(end));
    if (rc < 0 && !s->closing)
        fail(s, rc);
    if (!s->closing) {
        if (timed_out_is_error)
            fail(s, LMQ_ETIMEOUT);
        finish(s);
    }
    rc = lmq_client_run(s->c, ONESHOT_GRACE_MS);
    if (rc < 0)
        fail(s, rc);
    lmq_client_free(s->c);
    s->c = NULL;
    return s->err;
}

static int64_t deadline(int32_t timeout_ms)
{
    return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

static int check_message(const lmq_message_out *m)
{
    if (!m || (!m->payload && m->payload_len > 0) || m->payload_len < 0)
        return LMQ_EINVAL;
    if (m->qos < 0 || m->qos > 2)
        return LMQ_EINVAL;
    /* A topic name carries no wildcard [MQTT-3.3.2-2]: refused before any
     * connection is made. */
    return lmq_topic_validate_name(m->topic, m->topic_len);
}

LMQ_API int lmq_publish_multiple(const char *url, const lmq_message_out *msgs, int32_t n,
                                 int32_t timeout_ms)
{
    oneshot s = {0};
    int64_t end = deadline(timeout_ms);
    int32_t i;
    int rc;

    if (!msgs || n <= 0)
        return LMQ_EINVAL;
    for (i = 0; i < n; i++) {
        rc = check_message(&msgs[i]);
        if (rc != 0)
            return rc;
    }
    rc = open_client(&s, url, end);
    if (rc != 0)
        return rc;
    s.expected = n;
    /* At most MULTI_WINDOW incomplete at a time: the engine's queue is
     * bounded, and a long list must not meet LMQ_EQUEUE_FULL. */
    enum { MULTI_WINDOW = 1000 };
    int32_t ids[MULTI_WINDOW];
    for (i = 0; i < n && !s.closing; i++) {
        const lmq_message_out *m = &msgs[i];

        if (i >= MULTI_WINDOW) {
            int w = lmq_client_wait(s.c, ids[i % MULTI_WINDOW], left_ms(end));
            if (w < 0 && w != LMQ_EINVAL) {     /* EINVAL: completed long ago */
                fail(&s, w);
                finish(&s);
                break;
            }
        }
        rc = lmq_client_publish(s.c, m->topic, m->topic_len, m->payload, m->payload_len,
                                m->qos, m->retain, NULL);
        if (rc < 0) {
            fail(&s, rc);
            finish(&s);
            break;
        }
        ids[i % MULTI_WINDOW] = rc;
    }
    rc = close_client(&s, end, 1);
    return rc != 0 ? rc : n;
}

LMQ_API int lmq_publish_single(const char *url, const char *topic, int32_t topic_len,
                               const void *payload, int32_t payload_len, int32_t qos,
                               int32_t retain, int32_t timeout_ms)
{
    lmq_message_out m = {topic, topic_len, payload, payload_len, qos, retain};
    int rc = lmq_publish_multiple(url, &m, 1, timeout_ms);

    return rc < 0 ? rc : 0;
}

LMQ_API int lmq_subscribe_callback(const char *url, const char *filter, int32_t filter_len,
                                   int32_t qos, lmq_message_fn fn, void *userdata,
                                   int32_t count, int32_t timeout_ms)
{
    oneshot s = {0};
    int64_t end = deadline(timeout_ms);
    lmq_subscription sub;
    int rc;

    if (!fn || qos < 0 || qos > 2)
        return LMQ_EINVAL;
    rc = lmq_topic_validate_filter(filter, filter_len);
    if (rc != 0)
        return rc;
    s.fn = fn;
    s.userdata = userdata;
    s.count = count;
    rc = open_client(&s, url, end);
    if (rc != 0)
        return rc;
    sub.filter = filter;
    sub.filter_len = filter_len;
    sub.options = qos;
    rc = lmq_client_subscribe(s.c, &sub, 1, NULL);
    if (rc < 0) {
        fail(&s, rc);
        finish(&s);
    }
    /* Without a count the deadline is the normal end, not a failure. */
    rc = close_client(&s, end, count > 0);
    return rc != 0 ? rc : s.handled;
}
