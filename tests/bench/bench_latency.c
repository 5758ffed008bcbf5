/*
 * bench_latency.c - round-trip latency of lunamq and libmosquitto, for the
 * `peers` suite of scripts/bench (bench_paho.c and bench_paho.py have the
 * same measurement as their --role rtt).
 *
 *   bench_latency --lib lunamq|mosquitto --port P [--host H] [--qos 0|1|2]
 *                 [--count N] [--size BYTES] [--topic T]
 *
 * One client subscribes to --topic at --qos, then publishes one message on
 * it and waits until the broker brings it back, --count times (after a few
 * unmeasured ones): publish call to delivery, with TCP_NODELAY on.  Prints
 *   result lib=... libver=... role=rtt qos=Q count=N size=S p50_us= p99_us= max_us=
 * Both clients run in this thread on their own loop (lunamq's libev loop,
 * mosquitto_loop()).  libmosquitto is optional: without it (no
 * LMQ_BENCH_HAVE_MOSQUITTO) --lib mosquitto is refused.
 */
#define _GNU_SOURCE

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lunamq.h"

#ifdef LMQ_BENCH_HAVE_MOSQUITTO
#include <mosquitto.h>
#endif

#define BENCH_MAX_SIZE 65536
#define BENCH_WATCHDOG_S 120
#define BENCH_CONNECT_MS 5000
#define BENCH_WAIT_MS 5000
#define BENCH_WARMUP 20

typedef struct bench_opts {
    const char *lib;
    const char *host;
    const char *topic;
    int port;
    int qos;
    int size;
    long count;
} bench_opts;

/* What the callbacks of either library report. */
typedef struct bench_state {
    int connected;              /* 1 ok, -1 failed */
    int subscribed;             /* 1 SUBACK */
    int granted;
    int lost;
    long received;
} bench_state;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void print_result(const bench_opts *o, const char *libver, int64_t *rtt)
{
    qsort(rtt, (size_t)o->count, sizeof *rtt, cmp_i64);
    printf("result lib=%s libver=%s role=rtt proto=4 qos=%d count=%ld size=%d "
           "p50_us=%.1f p99_us=%.1f max_us=%.1f nodelay_was=1\n",
           o->lib, libver, o->qos, o->count, o->size, (double)rtt[o->count / 2] / 1e3,
           (double)rtt[(o->count * 99) / 100] / 1e3, (double)rtt[o->count - 1] / 1e3);
    fflush(stdout);
}

/* ------------------------------------------------------------------- lunamq */

static void lmq_on_event(lmq_client *c, const lmq_event *ev, void *userdata)
{
    bench_state *st = userdata;

    (void)c;
    switch (ev->type) {
    case LMQ_EV_MESSAGE:
        st->received++;
        break;
    case LMQ_EV_SUBSCRIBED:
        st->subscribed = 1;
        st->granted = ev->n_reasons > 0 ? ev->reasons[0] : 0x80;
        break;
    case LMQ_EV_DISCONNECTED:
        st->lost = 1;
        break;
    default:
        break;
    }
}

/* Run the loop until *counter moves past `from`, the connection goes or
 * ms pass; 0 when it moved. */
static int lmq_wait(lmq_loop *loop, const bench_state *st, const long *counter, long from, int ms)
{
    int64_t deadline = now_ns() + (int64_t)ms * 1000000;

    while (*counter == from && !st->lost && now_ns() < deadline)
        lmq_loop_run(loop, 1);
    return *counter == from ? -1 : 0;
}

static int run_lunamq(const bench_opts *o, int64_t *rtt)
{
    uint8_t payload[BENCH_MAX_SIZE];
    bench_state st;
    lmq_client *c = lmq_client_new();
    lmq_loop *loop = lmq_loop_new();
    lmq_subscription sub = { o->topic, -1, o->qos };
    long sub_done = 0;
    int rc = 1;

    memset(&st, 0, sizeof st);
    memset(payload, 'x', (size_t)o->size);
    if (!c || !loop)
        goto out;
    lmq_client_set_str(c, LMQ_OPT_HOST, o->host, -1);
    lmq_client_set_int(c, LMQ_OPT_PORT, o->port);
    lmq_client_set_int(c, LMQ_OPT_PROTOCOL, LMQ_MQTT_311);
    lmq_client_set_int(c, LMQ_OPT_TCP_NODELAY, 1);
    lmq_client_set_int(c, LMQ_OPT_RECONNECT, 0);
    lmq_client_set_callback(c, lmq_on_event, &st, NULL);
    if (lmq_client_attach(c, loop) < 0 || lmq_client_connect_wait(c, BENCH_CONNECT_MS) != 0) {
        fprintf(stderr, "bench_latency: lunamq: connect failed: %s\n", lmq_client_errmsg(c));
        goto out;
    }
    if (lmq_client_subscribe(c, &sub, 1, NULL) < 0)
        goto out;
    {
        int64_t deadline = now_ns() + (int64_t)BENCH_CONNECT_MS * 1000000;
        while (!st.subscribed && !st.lost && now_ns() < deadline)
            lmq_loop_run(loop, 1);
        sub_done = st.subscribed;
    }
    if (!sub_done || st.granted != o->qos) {
        fprintf(stderr, "bench_latency: lunamq: SUBACK missing or refused\n");
        goto out;
    }
    for (long i = 0; i < o->count + BENCH_WARMUP; i++) {
        long before = st.received;
        int64_t t0 = now_ns();

        if (lmq_client_publish(c, o->topic, -1, payload, o->size, o->qos, 0, NULL) < 0 ||
            lmq_wait(loop, &st, &st.received, before, BENCH_WAIT_MS)) {
            fprintf(stderr, "bench_latency: lunamq: message %ld never came back\n", i);
            goto out;
        }
        if (i >= BENCH_WARMUP)
            rtt[i - BENCH_WARMUP] = now_ns() - t0;
    }
    print_result(o, lmq_version(), rtt);
    rc = 0;
out:
    if (c && lmq_client_disconnect(c, 0, NULL) == 0)
        lmq_client_run(c, 1000);
    lmq_client_free(c);
    lmq_loop_free(loop);
    return rc;
}

/* -------------------------------------------------------------- libmosquitto */

#ifdef LMQ_BENCH_HAVE_MOSQUITTO
static void mosq_on_connect(struct mosquitto *m, void *ud, int rc)
{
    bench_state *st = ud;
    (void)m;
    st->connected = rc == 0 ? 1 : -1;
}

static void mosq_on_disconnect(struct mosquitto *m, void *ud, int rc)
{
    bench_state *st = ud;
    (void)m;
    (void)rc;
    st->lost = 1;
}

static void mosq_on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted)
{
    bench_state *st = ud;
    (void)m;
    (void)mid;
    st->subscribed = 1;
    st->granted = n > 0 ? granted[0] : 0x80;
}

static void mosq_on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
    bench_state *st = ud;
    (void)m;
    (void)msg;
    st->received++;
}

/* Loop until cond() holds or ms pass: 0 when it holds. */
static int mosq_wait(struct mosquitto *m, const bench_state *st, const int *flag,
                     const long *counter, long from, int ms)
{
    int64_t deadline = now_ns() + (int64_t)ms * 1000000;

    for (;;) {
        if (flag ? *flag != 0 : *counter != from)
            return 0;
        if (st->lost || now_ns() >= deadline ||
            mosquitto_loop(m, 100, 1) != MOSQ_ERR_SUCCESS)
            return -1;
    }
}

static int run_mosquitto(const bench_opts *o, int64_t *rtt)
{
    uint8_t payload[BENCH_MAX_SIZE];
    bench_state st;
    struct mosquitto *m;
    char libver[32];
    int major, minor, rev, rc = 1;

    memset(&st, 0, sizeof st);
    memset(payload, 'x', (size_t)o->size);
    mosquitto_lib_version(&major, &minor, &rev);
    snprintf(libver, sizeof libver, "%d.%d.%d", major, minor, rev);
    if (!(m = mosquitto_new(NULL, true, &st)))
        return 1;
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_connect_callback_set(m, mosq_on_connect);
    mosquitto_disconnect_callback_set(m, mosq_on_disconnect);
    mosquitto_subscribe_callback_set(m, mosq_on_subscribe);
    mosquitto_message_callback_set(m, mosq_on_message);
    if (mosquitto_connect(m, o->host, o->port, 60) != MOSQ_ERR_SUCCESS ||
        mosq_wait(m, &st, &st.connected, NULL, 0, BENCH_CONNECT_MS) || st.connected != 1) {
        fprintf(stderr, "bench_latency: mosquitto: connect failed\n");
        goto out;
    }
    if (mosquitto_subscribe(m, NULL, o->topic, o->qos) != MOSQ_ERR_SUCCESS ||
        mosq_wait(m, &st, &st.subscribed, NULL, 0, BENCH_CONNECT_MS) || st.granted != o->qos) {
        fprintf(stderr, "bench_latency: mosquitto: SUBACK missing or refused\n");
        goto out;
    }
    for (long i = 0; i < o->count + BENCH_WARMUP; i++) {
        long before = st.received;
        int64_t t0 = now_ns();

        if (mosquitto_publish(m, NULL, o->topic, o->size, payload, o->qos, false) !=
                MOSQ_ERR_SUCCESS ||
            mosq_wait(m, &st, NULL, &st.received, before, BENCH_WAIT_MS)) {
            fprintf(stderr, "bench_latency: mosquitto: message %ld never came back\n", i);
            goto out;
        }
        if (i >= BENCH_WARMUP)
            rtt[i - BENCH_WARMUP] = now_ns() - t0;
    }
    print_result(o, libver, rtt);
    rc = 0;
out:
    mosquitto_disconnect(m);
    mosquitto_destroy(m);
    return rc;
}
#endif

int main(int argc, char **argv)
{
    bench_opts o = { NULL, "127.0.0.1", "bench/latency", 0, 0, 64, 1000 };
    int64_t *rtt;
    int rc = 2;

    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--lib"))
            o.lib = v;
        else if (!strcmp(a, "--host"))
            o.host = v;
        else if (!strcmp(a, "--topic"))
            o.topic = v;
        else if (!strcmp(a, "--port"))
            o.port = atoi(v);
        else if (!strcmp(a, "--qos"))
            o.qos = atoi(v);
        else if (!strcmp(a, "--size"))
            o.size = atoi(v);
        else if (!strcmp(a, "--count"))
            o.count = atol(v);
    }
    if (!o.lib || o.port <= 0 || o.qos < 0 || o.qos > 2 || o.size < 1 ||
        o.size > BENCH_MAX_SIZE || o.count < 1 || (argc - 1) % 2) {
        fprintf(stderr, "usage: bench_latency --lib lunamq|mosquitto --port P [--host H]\n"
                        "                     [--qos 0|1|2] [--count N] [--size BYTES]"
                        " [--topic T]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    alarm(BENCH_WATCHDOG_S);
    if (!(rtt = calloc((size_t)o.count, sizeof *rtt)))
        return 1;
    if (!strcmp(o.lib, "lunamq")) {
        rc = run_lunamq(&o, rtt);
    } else if (!strcmp(o.lib, "mosquitto")) {
#ifdef LMQ_BENCH_HAVE_MOSQUITTO
        mosquitto_lib_init();
        rc = run_mosquitto(&o, rtt);
        mosquitto_lib_cleanup();
#else
        fprintf(stderr, "bench_latency: built without libmosquitto\n");
#endif
    } else {
        fprintf(stderr, "bench_latency: --lib lunamq or mosquitto\n");
    }
    free(rtt);
    return rc;
}
