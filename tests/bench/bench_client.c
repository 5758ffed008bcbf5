/*
 * bench_client.c - lunamq publishing and receiving flat out through a real
 * broker: one half of the `client` suite of scripts/bench, whose other
 * half is bench_mosq.c (the same workload with libmosquitto).
 *
 *   bench_client --role pub|sub --port P [--host H] [--qos 0|1] [--count N]
 *                [--size BYTES] [--proto 4|5] [--window W] [--batch B]
 *                [--topic T] [--idle-ms MS]
 *   bench_client --smoke        a tiny pub + sub run against a mosquitto
 *                               started here (ctest bench.client_smoke)
 *
 * The subscriber subscribes at --qos, prints "ready" once the SUBACK came,
 * counts what arrives and stops when it has --count distinct messages or
 * nothing came for --idle-ms.  The publisher sends --count messages of
 * --size bytes (the first 8 carry a sequence number, so the subscriber can
 * tell lost and duplicated ones apart), drives the loop without blocking
 * every --batch messages until the socket has taken everything, and at
 * QoS 1 blocks in the loop while --window messages are unacknowledged.
 * Both print one line "result key=value ...": times are CLOCK_MONOTONIC
 * nanoseconds (one clock for every process of the host, so the script may
 * set one program's times against the other's), CPU is getrusage
 * user + sys over the measured span, divided by --count.
 *
 * The publisher's span runs from the first publish to the last completion:
 * the last PUBACK at QoS 1; at QoS 0, the last byte taken by the socket
 * (what libmosquitto's on_publish means for QoS 0, so both are measured
 * alike).  The subscriber's span runs from the first message to the last.
 *
 * Public API only (lunamq.h): this is what an application would write.
 */
#define _GNU_SOURCE

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lunamq.h"

#ifdef LMQ_BENCH_SMOKE
#include "broker.h"
#endif

#define BENCH_SEQ_BYTES 8
#define BENCH_MAX_SIZE 65536
/* The whole run may take no longer; a wedged run must not hang the suite. */
#define BENCH_WATCHDOG_S 120
#define BENCH_CONNECT_MS 5000
/* A subscriber that got no message at all this long after "ready" gives up. */
#define BENCH_START_WAIT_MS 30000
/* Slice of the subscriber's loop: how late it notices it has been idle. */
#define BENCH_SLICE_MS 50

/* CPU seconds, user and system apart. */
typedef struct bench_cpu {
    double user;
    double sys;
} bench_cpu;

typedef struct bench_opts {
    const char *role;
    const char *host;
    const char *topic;
    int port;
    int qos;
    int proto;
    int size;
    int window;
    int batch;
    int idle_ms;
    long count;
    int smoke;
} bench_opts;

typedef struct bench_state {
    const bench_opts *o;
    /* publisher */
    long completed;             /* LMQ_EV_PUBLISHED */
    long failed;                /* ... with an error */
    int first_error;
    /* subscriber */
    int subscribed;             /* SUBACK seen */
    int granted;                /* its reason code */
    long received;
    long distinct;
    uint8_t *seen;              /* one bit per sequence number */
    int64_t t_first;
    int64_t t_last;
    bench_cpu cpu_done;            /* CPU seconds when the last one came */
    /* both */
    int lost_conn;
    int lost_error;
} bench_state;

/* ------------------------------------------------------------------ helpers */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CPU seconds of this process so far, user and system apart: the system
 * share is mostly the loopback TCP stack, the user share the library. */
static bench_cpu cpu_now(void)
{
    struct rusage ru;
    bench_cpu t;

    getrusage(RUSAGE_SELF, &ru);
    t.user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    t.sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    return t;
}

static double cpu_total(bench_cpu from, bench_cpu to)
{
    return (to.user - from.user) + (to.sys - from.sys);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_client --role pub|sub --port P [--host H] [--qos 0|1]\n"
            "                    [--count N] [--size BYTES] [--proto 4|5]\n"
            "                    [--window W] [--batch B] [--topic T] [--idle-ms MS]\n"
            "       bench_client --smoke\n");
}

static int parse_args(int argc, char **argv, bench_opts *o)
{
    o->role = NULL;
    o->host = "127.0.0.1";
    o->topic = "bench/lunamq";
    o->port = 0;
    o->qos = 0;
    o->proto = LMQ_MQTT_311;
    o->size = 64;
    o->window = 1000;
    o->batch = 100;
    o->idle_ms = 2000;
    o->count = 1000;
    o->smoke = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--smoke")) {
            o->smoke = 1;
            continue;
        }
        if (!v) {
            usage();
            return -1;
        }
        i++;
        if (!strcmp(a, "--role"))
            o->role = v;
        else if (!strcmp(a, "--host"))
            o->host = v;
        else if (!strcmp(a, "--topic"))
            o->topic = v;
        else if (!strcmp(a, "--port"))
            o->port = atoi(v);
        else if (!strcmp(a, "--qos"))
            o->qos = atoi(v);
        else if (!strcmp(a, "--proto"))
            o->proto = atoi(v);
        else if (!strcmp(a, "--size"))
            o->size = atoi(v);
        else if (!strcmp(a, "--window"))
            o->window = atoi(v);
        else if (!strcmp(a, "--batch"))
            o->batch = atoi(v);
        else if (!strcmp(a, "--idle-ms"))
            o->idle_ms = atoi(v);
        else if (!strcmp(a, "--count"))
            o->count = atol(v);
        else {
            usage();
            return -1;
        }
    }
    if (o->smoke)
        return 0;
    if (!o->role || (strcmp(o->role, "pub") && strcmp(o->role, "sub")) ||
        o->port <= 0 || o->qos < 0 || o->qos > 1 ||
        (o->proto != LMQ_MQTT_311 && o->proto != LMQ_MQTT_5) ||
        o->size < BENCH_SEQ_BYTES || o->size > BENCH_MAX_SIZE ||
        o->window < 1 || o->batch < 1 || o->idle_ms < 1 || o->count < 1) {
        usage();
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------- events */

static void on_message(bench_state *st, const lmq_event *ev)
{
    uint64_t seq;

    st->received++;
    st->t_last = now_ns();
    if (st->received == 1)
        st->t_first = st->t_last;
    if (ev->payload_len != st->o->size)
        return;                 /* not one of ours: counted, never distinct */
    memcpy(&seq, ev->payload, sizeof seq);
    if (seq >= (uint64_t)st->o->count || (st->seen[seq >> 3] & (1u << (seq & 7))))
        return;
    st->seen[seq >> 3] |= (uint8_t)(1u << (seq & 7));
    if (++st->distinct == st->o->count)
        st->cpu_done = cpu_now();
}

static void on_event(lmq_client *c, const lmq_event *ev, void *userdata)
{
    bench_state *st = userdata;

    (void)c;
    switch (ev->type) {
    case LMQ_EV_MESSAGE:
        on_message(st, ev);
        break;
    case LMQ_EV_PUBLISHED:
        st->completed++;
        if (ev->error) {
            if (!st->failed)
                st->first_error = ev->error;
            st->failed++;
        }
        break;
    case LMQ_EV_SUBSCRIBED:
        st->subscribed = 1;
        st->granted = ev->n_reasons > 0 ? ev->reasons[0] : 0x80;
        break;
    case LMQ_EV_DISCONNECTED:
        st->lost_conn = 1;
        st->lost_error = ev->error;
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------- client */

static lmq_client *open_client(const bench_opts *o, lmq_loop *loop, bench_state *st,
                               const char *role)
{
    char id[64];
    lmq_client *c = lmq_client_new();
    int rc;

    if (!c)
        return NULL;
    snprintf(id, sizeof id, "bench-lunamq-%s-%d", role, (int)getpid());
    lmq_client_set_str(c, LMQ_OPT_HOST, o->host, -1);
    lmq_client_set_int(c, LMQ_OPT_PORT, o->port);
    lmq_client_set_str(c, LMQ_OPT_CLIENT_ID, id, -1);
    lmq_client_set_int(c, LMQ_OPT_PROTOCOL, o->proto);
    lmq_client_set_int(c, LMQ_OPT_TCP_NODELAY, 1);
    lmq_client_set_int(c, LMQ_OPT_RECONNECT, 0);
    lmq_client_set_int(c, LMQ_OPT_KEEPALIVE, 60);
    /* Our own incoming window, the subscriber's side of the 1000 the
     * publisher keeps to (v5 only; 3.1.1 has no Receive Maximum). */
    if (o->proto == LMQ_MQTT_5)
        lmq_client_set_int(c, LMQ_OPT_RECEIVE_MAXIMUM, o->window);
    lmq_client_set_callback(c, on_event, st, NULL);
    if ((rc = lmq_client_attach(c, loop)) < 0 ||
        (rc = lmq_client_connect_wait(c, BENCH_CONNECT_MS)) != 0) {
        fprintf(stderr, "bench_client: %s: connect to %s:%d failed: %s (%s)\n", role,
                o->host, o->port, lmq_strerror(rc), lmq_client_errmsg(c));
        lmq_client_free(c);
        return NULL;
    }
    return c;
}

static void close_client(lmq_client *c)
{
    if (!c)
        return;
    if (lmq_client_disconnect(c, 0, NULL) == 0)
        lmq_client_run(c, BENCH_CONNECT_MS);
    lmq_client_free(c);
}

/* One blocking turn of the loop; -1 once the connection is gone. */
static int turn(lmq_loop *loop, const bench_state *st, int blocking)
{
    lmq_loop_run(loop, blocking ? 1 : 2);
    return st->lost_conn ? -1 : 0;
}

/* Let the socket take everything the client has written so far. */
static int drain(lmq_client *c, lmq_loop *loop, const bench_state *st)
{
    if (turn(loop, st, 0))
        return -1;
    while (lmq_client_want(c) & LMQ_WANT_WRITE)
        if (turn(loop, st, 1))
            return -1;
    return 0;
}

/* ---------------------------------------------------------------- publisher */

static int run_pub(const bench_opts *o)
{
    bench_state st;
    lmq_loop *loop = lmq_loop_new();
    lmq_client *c = NULL;
    uint8_t payload[BENCH_MAX_SIZE];
    int32_t tlen = (int32_t)strlen(o->topic);
    int64_t t0, t1;
    bench_cpu cpu0, cpu1;
    int rc = 1;

    memset(&st, 0, sizeof st);
    st.o = o;
    memset(payload, 'x', (size_t)o->size);
    if (!loop || !(c = open_client(o, loop, &st, "pub")))
        goto out;
    cpu0 = cpu_now();
    t0 = now_ns();
    for (long i = 0; i < o->count; i++) {
        uint64_t seq = (uint64_t)i;
        int id;
        memcpy(payload, &seq, sizeof seq);
        /* The pending queue is bounded (LMQ_OPT_OFFLINE_MAX_MSGS): full,
         * let the loop make room and try again. */
        while ((id = lmq_client_publish(c, o->topic, tlen, payload, o->size, o->qos, 0,
                                        NULL)) == LMQ_EQUEUE_FULL)
            if (turn(loop, &st, 1))
                goto lost;
        if (id < 0) {
            fprintf(stderr, "bench_client: publish %ld failed: %s (%s)\n", i,
                    lmq_strerror(id), lmq_client_errmsg(c));
            goto out;
        }
        if ((i + 1) % o->batch == 0 && drain(c, loop, &st))
            goto lost;
        while (o->qos > 0 && (i + 1) - st.completed >= o->window)
            if (turn(loop, &st, 1))
                goto lost;
    }
    while (st.completed < o->count)
        if (turn(loop, &st, 1))
            goto lost;
    if (drain(c, loop, &st))
        goto lost;
    t1 = now_ns();
    cpu1 = cpu_now();
    if (st.failed) {
        fprintf(stderr, "bench_client: %ld publishes failed, the first with %s\n",
                st.failed, lmq_strerror(st.first_error));
        goto out;
    }
    printf("result lib=lunamq libver=%s role=pub proto=%d qos=%d count=%ld size=%d "
           "t_first_ns=%lld t_last_ns=%lld secs=%.6f msgs_per_s=%.0f "
           "cpu_s=%.4f cpu_us_per_msg=%.3f user_us_per_msg=%.3f sys_us_per_msg=%.3f\n",
           lmq_version(), o->proto, o->qos, o->count, o->size, (long long)t0, (long long)t1,
           (double)(t1 - t0) / 1e9, (double)o->count * 1e9 / (double)(t1 - t0),
           cpu_total(cpu0, cpu1), cpu_total(cpu0, cpu1) * 1e6 / (double)o->count,
           (cpu1.user - cpu0.user) * 1e6 / (double)o->count,
           (cpu1.sys - cpu0.sys) * 1e6 / (double)o->count);
    fflush(stdout);
    rc = 0;
    goto out;
lost:
    fprintf(stderr, "bench_client: pub: connection lost: %s (%s)\n",
            lmq_strerror(st.lost_error), lmq_client_errmsg(c));
out:
    close_client(c);
    lmq_loop_free(loop);
    return rc;
}

/* --------------------------------------------------------------- subscriber */

/* Which messages never came, as ranges of sequence numbers on stderr (the
 * first few): a tail means the subscriber stopped early, holes in the
 * middle mean messages went missing on the way. */
static void report_missing(const bench_state *st)
{
    long shown = 0, i = 0, n = st->o->count;

    while (i < n && shown < 8) {
        if (st->seen[i >> 3] & (1u << (i & 7))) {
            i++;
            continue;
        }
        long from = i;
        while (i < n && !(st->seen[i >> 3] & (1u << (i & 7))))
            i++;
        fprintf(stderr, "bench_client: missing %ld..%ld (%ld)\n", from, i - 1, i - from);
        shown++;
    }
}


static int run_sub(const bench_opts *o, int ready_fd)
{
    bench_state st;
    lmq_loop *loop = lmq_loop_new();
    lmq_client *c = NULL;
    lmq_subscription sub = { o->topic, -1, o->qos };
    int64_t t_ready, deadline;
    bench_cpu cpu0, cpu1;
    int rc = 1;

    memset(&st, 0, sizeof st);
    st.o = o;
    st.seen = calloc((size_t)o->count / 8 + 1, 1);
    if (!loop || !st.seen || !(c = open_client(o, loop, &st, "sub")))
        goto out;
    if ((rc = lmq_client_subscribe(c, &sub, 1, NULL)) < 0) {
        fprintf(stderr, "bench_client: subscribe failed: %s\n", lmq_strerror(rc));
        rc = 1;
        goto out;
    }
    rc = 1;
    deadline = now_ns() + (int64_t)BENCH_CONNECT_MS * 1000000;
    while (!st.subscribed && now_ns() < deadline)
        if (lmq_client_run(c, BENCH_SLICE_MS) != 0 || st.lost_conn)
            goto lost;
    if (!st.subscribed || st.granted != o->qos) {
        fprintf(stderr, "bench_client: SUBACK %s (granted 0x%02x)\n",
                st.subscribed ? "refused" : "never came", st.granted);
        goto out;
    }
    cpu0 = cpu_now();
    t_ready = now_ns();
    if (ready_fd >= 0) {
        if (write(ready_fd, "r", 1) != 1)
            goto out;
    } else {
        printf("ready\n");
        fflush(stdout);
    }
    /* Idle: nothing came for idle_ms (before the first message: for
     * BENCH_START_WAIT_MS).  A process stalled by a busy host may wake
     * with data waiting, so one more look without blocking comes before
     * giving up. */
    int64_t quiet_since = t_ready;
    long seen_before = 0;
    for (;;) {
        if (lmq_client_run(c, BENCH_SLICE_MS) != 0 || st.lost_conn)
            goto lost;
        if (st.distinct == o->count)
            break;
        int64_t now = now_ns();
        if (st.received != seen_before) {
            seen_before = st.received;
            quiet_since = now;
            continue;
        }
        if (now - quiet_since <= (int64_t)(st.received ? o->idle_ms : BENCH_START_WAIT_MS) * 1000000)
            continue;
        if (lmq_client_run(c, 0) != 0 || st.lost_conn)
            goto lost;
        if (st.received == seen_before)
            break;
    }
    cpu1 = st.distinct == o->count ? st.cpu_done : cpu_now();
    {
        int64_t span = st.t_last - st.t_first;
        printf("result lib=lunamq libver=%s role=sub proto=%d qos=%d count=%ld size=%d "
               "received=%ld distinct=%ld lost=%ld dups=%ld "
               "t_first_ns=%lld t_last_ns=%lld secs=%.6f msgs_per_s=%.0f "
               "cpu_s=%.4f cpu_us_per_msg=%.3f user_us_per_msg=%.3f sys_us_per_msg=%.3f\n",
               lmq_version(), o->proto, o->qos, o->count, o->size, st.received, st.distinct,
               o->count - st.distinct, st.received - st.distinct,
               (long long)st.t_first, (long long)st.t_last, (double)span / 1e9,
               span > 0 ? (double)st.received * 1e9 / (double)span : 0.0,
               cpu_total(cpu0, cpu1), cpu_total(cpu0, cpu1) * 1e6 / (double)o->count,
           (cpu1.user - cpu0.user) * 1e6 / (double)o->count,
           (cpu1.sys - cpu0.sys) * 1e6 / (double)o->count);
        fflush(stdout);
    }
    if (st.distinct != o->count)
        report_missing(&st);
    rc = st.distinct == o->count ? 0 : 3;
    goto out;
lost:
    fprintf(stderr, "bench_client: sub: connection lost: %s (%s)\n",
            lmq_strerror(st.lost_error), lmq_client_errmsg(c));
out:
    close_client(c);
    lmq_loop_free(loop);
    free(st.seen);
    return rc;
}

/* -------------------------------------------------------------------- smoke */

#ifdef LMQ_BENCH_SMOKE
/* Both roles once at each QoS and protocol, a few hundred messages,
 * against a mosquitto of the test harness: keeps the program building and
 * working as the client changes.  Measures nothing. */
static int smoke_one(bench_opts o)
{
    int fds[2];
    pid_t pid;
    char b;
    int status = 0, rc;

    if (pipe(fds) != 0)
        return 1;
    fflush(stdout);
    pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        close(fds[0]);
        o.role = "sub";
        _exit(run_sub(&o, fds[1]));
    }
    close(fds[1]);
    if (read(fds[0], &b, 1) != 1) {
        close(fds[0]);
        waitpid(pid, &status, 0);
        fprintf(stderr, "bench_client: smoke: the subscriber never got ready\n");
        return 1;
    }
    close(fds[0]);
    o.role = "pub";
    rc = run_pub(&o);
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
        rc = 1;
    return rc;
}

static int smoke(void)
{
    tb_broker_opts bo;
    tb_broker *b;
    bench_opts o;
    int rc = 0;

    memset(&bo, 0, sizeof bo);
    bo.max_inflight = 1000;
    if (!(b = tb_broker_start(&bo)))
        return 1;
    memset(&o, 0, sizeof o);
    o.host = tb_broker_host(b);
    o.port = tb_broker_port(b);
    o.topic = "bench/smoke";
    o.size = 64;
    o.window = 50;
    o.batch = 10;
    o.idle_ms = 2000;
    o.count = 500;
    for (int proto = LMQ_MQTT_311; proto <= LMQ_MQTT_5; proto++)
        for (int qos = 0; qos <= 1; qos++) {
            o.proto = proto;
            o.qos = qos;
            if (smoke_one(o) != 0) {
                fprintf(stderr, "bench_client: smoke failed at proto %d qos %d\n",
                        proto, qos);
                rc = 1;
            }
        }
    if (rc)
        tb_broker_dump_log(b);
    tb_broker_stop(b);
    return rc;
}
#endif

int main(int argc, char **argv)
{
    bench_opts o;

    if (parse_args(argc, argv, &o) != 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    alarm(BENCH_WATCHDOG_S);
    if (o.smoke) {
#ifdef LMQ_BENCH_SMOKE
        return smoke();
#else
        fprintf(stderr, "bench_client: built without the test harness: no --smoke\n");
        return 2;
#endif
    }
    return !strcmp(o.role, "pub") ? run_pub(&o) : run_sub(&o, -1);
}
