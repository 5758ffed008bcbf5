/* wait.c - drive test clients until a condition holds, with deadlines. */
#define _GNU_SOURCE
#include "wait.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.h"

#define TW_MAX_CLIENTS 16
/* One pump slice: short, so waits notice their condition quickly. */
#define TW_SLICE_MS 10

static tw_client *tw_live[TW_MAX_CLIENTS];

int64_t tw_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *tw_type_name(int type)
{
    static const char *const names[] = {
        "?", "CONNECTED", "CONNECT_FAILED", "DISCONNECTED", "MESSAGE", "PUBLISHED",
        "SUBSCRIBED", "UNSUBSCRIBED", "AUTH", "LOG", "FD_CHANGED", "ERROR",
    };
    return type > 0 && type <= LMQ_EV_ERROR ? names[type] : "?";
}

static void *tw_dup(const void *p, int32_t n)
{
    uint8_t *d;

    if (!p || n < 0)
        return NULL;
    d = malloc((size_t)n + 1);
    if (!d) {
        fprintf(stderr, "wait: out of memory\n");
        abort();
    }
    memcpy(d, p, (size_t)n);
    d[n] = 0;
    return d;
}

static void tw_event_clear(tw_event *e)
{
    free(e->topic);
    free(e->payload);
    free(e->reasons);
    free(e->props);
    free(e->text);
}

static void tw_keep(tw_client *t, const lmq_event *src)
{
    tw_event *e;

    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 64;
        tw_event *p = realloc(t->ev, (size_t)cap * sizeof *p);
        if (!p) {
            fprintf(stderr, "wait: out of memory\n");
            abort();
        }
        t->ev = p;
        t->cap = cap;
    }
    e = &t->ev[t->n++];
    memset(e, 0, sizeof *e);
    e->ev = *src;
    e->at_ms = tw_now_ms();
    e->topic = tw_dup(src->topic, src->topic_len);
    e->payload = tw_dup(src->payload, src->payload_len);
    e->reasons = tw_dup(src->reasons, src->n_reasons);
    e->props = tw_dup(src->props, src->props_len);
    e->text = src->text ? tw_dup(src->text, (int32_t)strlen(src->text)) : NULL;
    e->ev.topic = e->topic;
    e->ev.payload = e->payload;
    e->ev.reasons = e->reasons;
    e->ev.props = e->props;
    e->ev.text = e->text;
}

static void tw_collect(tw_client *t)
{
    lmq_event evs[32];
    int n;

    do {
        n = lmq_client_events(t->c, evs, 32, sizeof(lmq_event));
        for (int i = 0; i < n; i++)
            tw_keep(t, &evs[i]);
    } while (n == 32);
}

void tw_collect_events(tw_client *t)
{
    tw_collect(t);
}

tw_client *tw_new(const char *name)
{
    tw_client *t = calloc(1, sizeof *t);
    const char *drv = getenv("LMQ_TEST_DRIVER");

    if (!t)
        return NULL;
    t->c = lmq_client_new();
    if (!t->c) {
        free(t);
        return NULL;
    }
    snprintf(t->name, sizeof t->name, "%s", name);
    t->external = drv && strcmp(drv, "external") == 0;
    for (int i = 0; i < TW_MAX_CLIENTS; i++)
        if (!tw_live[i]) {
            tw_live[i] = t;
            return t;
        }
    fprintf(stderr, "wait: more than %d live clients\n", TW_MAX_CLIENTS);
    abort();
}

void tw_free(tw_client *t)
{
    if (!t)
        return;
    for (int i = 0; i < TW_MAX_CLIENTS; i++)
        if (tw_live[i] == t)
            tw_live[i] = NULL;
    lmq_client_free(t->c);
    for (int i = 0; i < t->n; i++)
        tw_event_clear(&t->ev[i]);
    free(t->ev);
    free(t);
}

void tw_set_external(tw_client *t, int external)
{
    t->external = external;
}

tw_client *tw_new_for(const struct tb_broker *b, const char *name, int level)
{
    tw_client *t = tw_new(name);

    if (!t)
        return NULL;
    lmq_client_set_str(t->c, LMQ_OPT_HOST, tb_broker_host(b), -1);
    lmq_client_set_int(t->c, LMQ_OPT_PORT, tb_broker_port(b));
    lmq_client_set_str(t->c, LMQ_OPT_CLIENT_ID, name, -1);
    lmq_client_set_int(t->c, LMQ_OPT_PROTOCOL, level);
    lmq_client_set_int(t->c, LMQ_OPT_RECONNECT_MIN_MS, 100);
    lmq_client_set_int(t->c, LMQ_OPT_RECONNECT_MAX_MS, 500);
    return t;
}

int tw_start(tw_client *t)
{
    int rc = lmq_client_connect(t->c);

    if (rc == 0)
        t->started = 1;
    return rc;
}

/* Call the external driver's entry points for what poll() reported. */
static void tw_drive_external(tw_client *t, short revents)
{
    int want = lmq_client_want(t->c);
    int fd = lmq_client_fd(t->c);

    if ((revents & (POLLOUT | POLLERR | POLLHUP)) && (want & LMQ_WANT_WRITE))
        lmq_client_on_writable(t->c);
    if ((revents & (POLLIN | POLLERR | POLLHUP)) && lmq_client_fd(t->c) == fd && fd >= 0)
        lmq_client_on_readable(t->c);
    if (lmq_client_timeout_ms(t->c) == 0)
        lmq_client_on_timeout(t->c);
}

void tw_pump(int ms)
{
    struct pollfd pfd[TW_MAX_CLIENTS];
    tw_client *who[TW_MAX_CLIENTS];
    tw_client *run[TW_MAX_CLIENTS];
    int np = 0, nrun = 0, nwait = 0;
    int64_t tmo = ms;

    for (int i = 0; i < TW_MAX_CLIENTS; i++) {
        tw_client *t = tw_live[i];
        if (!t)
            continue;
        if (!t->external) {
            run[nrun++] = t;
            continue;
        }
        if (!t->started)
            continue;
        int64_t to = lmq_client_timeout_ms(t->c);
        if (to >= 0 && to < tmo)
            tmo = to;
        nwait++;
        int fd = lmq_client_fd(t->c);
        if (fd < 0)
            continue;
        pfd[np].fd = fd;
        pfd[np].events = POLLIN;
        if (lmq_client_want(t->c) & LMQ_WANT_WRITE)
            pfd[np].events |= POLLOUT;
        pfd[np].revents = 0;
        who[np++] = t;
    }
    /* Run-mode clients block in their own loops: share the slice among
     * them and only peek at the external ones. */
    if (nrun > 0)
        tmo = 0;
    if (np > 0 || (nwait > 0 && tmo > 0))
        poll(pfd, (nfds_t)np, (int)tmo);
    for (int i = 0; i < np; i++)
        tw_drive_external(who[i], pfd[i].revents);
    for (int i = 0; i < TW_MAX_CLIENTS; i++) {
        tw_client *t = tw_live[i];
        if (t && t->external && t->started && lmq_client_timeout_ms(t->c) == 0)
            lmq_client_on_timeout(t->c);
    }
    for (int i = 0; i < nrun; i++) {
        int slice = ms / nrun;
        lmq_client_run(run[i]->c, slice > 0 ? slice : 1);
    }
    for (int i = 0; i < TW_MAX_CLIENTS; i++)
        if (tw_live[i])
            tw_collect(tw_live[i]);
}

void tw_idle(void *arg)
{
    (void)arg;
    tw_pump(1);
}

static tw_event *tw_find(tw_client *t, int type, int msg_id, const char *topic)
{
    for (int i = 0; i < t->n; i++) {
        tw_event *e = &t->ev[i];
        if (e->consumed || e->ev.type != type)
            continue;
        if (msg_id > 0 && e->ev.msg_id != msg_id)
            continue;
        if (topic && (!e->topic || strcmp(e->topic, topic) != 0))
            continue;
        return e;
    }
    return NULL;
}

static tw_event *tw_wait_for(tw_client *t, int type, int msg_id, const char *topic,
                             int timeout_ms)
{
    int64_t deadline = tw_now_ms() + timeout_ms;

    for (;;) {
        tw_collect(t);
        tw_event *e = tw_find(t, type, msg_id, topic);
        if (e) {
            e->consumed = 1;
            return e;
        }
        if (tw_now_ms() >= deadline)
            break;
        tw_pump(TW_SLICE_MS);
    }
    fprintf(stderr, "wait: %s: no %s", t->name, tw_type_name(type));
    if (msg_id > 0)
        fprintf(stderr, " for msg_id %d", msg_id);
    if (topic)
        fprintf(stderr, " on topic '%s'", topic);
    fprintf(stderr, " within %d ms\n", timeout_ms);
    tw_dump(t);
    return NULL;
}

tw_event *tw_wait(tw_client *t, int type, int timeout_ms)
{
    return tw_wait_for(t, type, 0, NULL, timeout_ms);
}

tw_event *tw_wait_id(tw_client *t, int type, int msg_id, int timeout_ms)
{
    return tw_wait_for(t, type, msg_id, NULL, timeout_ms);
}

tw_event *tw_wait_msg(tw_client *t, const char *topic, int timeout_ms)
{
    return tw_wait_for(t, LMQ_EV_MESSAGE, 0, topic, timeout_ms);
}

int tw_count(const tw_client *t, int type)
{
    int k = 0;

    for (int i = 0; i < t->n; i++)
        if (t->ev[i].ev.type == type)
            k++;
    return k;
}

int tw_count_msgs(const tw_client *t, const char *topic)
{
    int k = 0;

    for (int i = 0; i < t->n; i++)
        if (t->ev[i].ev.type == LMQ_EV_MESSAGE && t->ev[i].topic &&
            strcmp(t->ev[i].topic, topic) == 0)
            k++;
    return k;
}

int tw_wait_count(tw_client *t, int type, int n, int timeout_ms)
{
    int64_t deadline = tw_now_ms() + timeout_ms;
    int k;

    for (;;) {
        tw_collect(t);
        k = tw_count(t, type);
        if (k >= n || tw_now_ms() >= deadline)
            break;
        tw_pump(TW_SLICE_MS);
    }
    if (k < n) {
        fprintf(stderr, "wait: %s: %d of %d %s events within %d ms\n", t->name, k, n,
                tw_type_name(type), timeout_ms);
        tw_dump(t);
    }
    return k;
}

int tw_expect_none(tw_client *t, int type, int ms)
{
    int64_t deadline = tw_now_ms() + ms;
    int before;

    tw_collect(t);
    before = tw_count(t, type);
    while (tw_now_ms() < deadline)
        tw_pump(TW_SLICE_MS);
    if (tw_count(t, type) == before)
        return 1;
    fprintf(stderr, "wait: %s: unexpected %s within %d ms\n", t->name,
            tw_type_name(type), ms);
    tw_dump(t);
    return 0;
}

int tw_connect(tw_client *t, int timeout_ms)
{
    tw_event *e;
    int rc;

    if (t->external) {
        rc = tw_start(t);
        if (rc != 0)
            return rc;
    } else {
        rc = lmq_client_connect_wait(t->c, timeout_ms);
        tw_collect(t);
        if (rc != 0) {
            fprintf(stderr, "wait: %s: lmq_client_connect_wait: %s (%s)\n", t->name,
                    lmq_strerror(rc), lmq_client_errmsg(t->c));
            return rc;
        }
    }
    /* The outcome is an event whichever way the client was driven. */
    int64_t deadline = tw_now_ms() + timeout_ms;
    for (;;) {
        tw_collect(t);
        if ((e = tw_find(t, LMQ_EV_CONNECTED, 0, NULL))) {
            e->consumed = 1;
            return 0;
        }
        if ((e = tw_find(t, LMQ_EV_CONNECT_FAILED, 0, NULL))) {
            e->consumed = 1;
            return e->ev.error ? e->ev.error : LMQ_ECONNECT;
        }
        if (tw_now_ms() >= deadline)
            break;
        tw_pump(TW_SLICE_MS);
    }
    fprintf(stderr, "wait: %s: no CONNECTED or CONNECT_FAILED event within %d ms\n",
            t->name, timeout_ms);
    tw_dump(t);
    return LMQ_ETIMEOUT;
}

int tw_subscribe(tw_client *t, const char *filter, int options, int timeout_ms)
{
    lmq_subscription s = {filter, -1, options};
    int id = lmq_client_subscribe(t->c, &s, 1, NULL);
    tw_event *e;

    if (id <= 0) {
        fprintf(stderr, "wait: %s: subscribe %s: %s\n", t->name, filter, lmq_strerror(id));
        return id < 0 ? id : LMQ_EINVAL;
    }
    e = tw_wait_id(t, LMQ_EV_SUBSCRIBED, id, timeout_ms);
    if (!e)
        return LMQ_ETIMEOUT;
    if (e->ev.error)
        return e->ev.error;
    return e->ev.n_reasons == 1 ? e->reasons[0] : LMQ_EPROTOCOL;
}

int tw_publish(tw_client *t, const char *topic, const char *payload, int qos, int retain)
{
    return lmq_client_publish(t->c, topic, -1, payload, (int32_t)strlen(payload), qos,
                              retain, NULL);
}

int tw_publish_wait(tw_client *t, const char *topic, const char *payload, int qos,
                    int retain, int timeout_ms)
{
    int id = tw_publish(t, topic, payload, qos, retain);
    tw_event *e;

    if (id <= 0)
        return id < 0 ? id : LMQ_EINVAL;
    e = tw_wait_id(t, LMQ_EV_PUBLISHED, id, timeout_ms);
    return e ? e->ev.error : LMQ_ETIMEOUT;
}

void tw_dump(const tw_client *t)
{
    fprintf(stderr, "  events of %s (%d):\n", t->name, t->n);
    for (int i = 0; i < t->n; i++) {
        const tw_event *e = &t->ev[i];
        if (i >= 40 && i < t->n - 20) {
            if (i == 40)
                fprintf(stderr, "    ... %d more ...\n", t->n - 60);
            continue;
        }
        fprintf(stderr, "    %c %-14s err=%d (%s) reason=0x%02x id=%d", e->consumed ? '*' : ' ',
                tw_type_name(e->ev.type), e->ev.error,
                e->ev.error ? lmq_errname(e->ev.error) : "-", (unsigned)e->ev.reason,
                e->ev.msg_id);
        if (e->topic)
            fprintf(stderr, " topic='%s' qos=%d", e->topic, e->ev.qos);
        if (e->text && *e->text)
            fprintf(stderr, " text='%s'", e->text);
        fprintf(stderr, "\n");
    }
}
