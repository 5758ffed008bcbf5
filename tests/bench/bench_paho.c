/*
 * bench_paho.c - the Eclipse Paho C (MQTTAsync) peer of bench_client.c and
 * bench_mosq.c for the `peers` suite of scripts/bench: the same workload,
 * options and result line, so the suite can set the libraries side by side.
 *
 *   bench_paho --role pub|sub|rtt --port P [--host H] [--qos 0|1|2]
 *              [--count N] [--size BYTES] [--window W] [--topic T]
 *              [--idle-ms MS]
 *
 * pub: --count messages of --size bytes (the first 8 carry the sequence
 * number), never more than --window unfinished; its span runs from the
 * first publish to the last completion (the onSuccess of the send: written
 * at QoS 0, PUBACK at 1, PUBCOMP at 2).  Unlike libmosquitto, MQTTAsync
 * queues every send for its own thread, so the window bounds QoS 0 too.
 * sub: prints "ready" after the SUBACK, counts distinct and duplicated
 * sequence numbers, stops once all came or after --idle-ms of silence
 * (exit 3: messages missing).
 * rtt: one client subscribed to --topic publishes one message and waits
 * for it to come back, --count times; prints p50/p99 of the round trip.
 *
 * MQTTAsync runs its own threads and calls back on them; the counters are
 * shared under one mutex, the main thread waits on a condition variable.
 * CPU is getrusage(RUSAGE_SELF): every thread of the process.
 *
 * TCP_NODELAY: Paho C 1.3 never sets it and has no hook for its socket, so
 * once connected the program finds its own socket (the one whose peer is
 * the broker's port) and sets it; without it a QoS 1 round trip waits for
 * the peer's delayed ACK (about 40 ms).  The result line says what the
 * library had left it at (nodelay_was=).
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <MQTTAsync.h>

#define BENCH_SEQ_BYTES 8
#define BENCH_MAX_SIZE 65536
#define BENCH_WATCHDOG_S 120
#define BENCH_CONNECT_MS 5000
#define BENCH_START_WAIT_MS 30000
#define BENCH_SLICE_MS 50
#define BENCH_RTT_WARMUP 20

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
    int size;
    int window;
    int idle_ms;
    long count;
} bench_opts;

/* Everything the callbacks touch, under mu. */
typedef struct bench_state {
    const bench_opts *o;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int connected;              /* 1 ok, -1 failed */
    int lost_conn;
    int subscribed;             /* 1 ok, -1 failed */
    int granted;
    long completed;
    long want;                  /* wake the main thread at this many completed */
    int wake_each;              /* rtt: wake it for every message */
    long failed;
    long received;
    long distinct;
    uint8_t *seen;
    int64_t t_first;
    int64_t t_last;
    bench_cpu cpu_done;
} bench_state;

/* ------------------------------------------------------------------ helpers */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bench_cpu cpu_now(void)
{
    struct rusage ru;
    bench_cpu t;

    getrusage(RUSAGE_SELF, &ru);
    t.user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    t.sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    return t;
}

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static const char *paho_version(void)
{
    MQTTAsync_nameValue *nv = MQTTAsync_getVersionInfo();

    for (; nv && nv->name; nv++)
        if (!strcmp(nv->name, "Version"))
            return nv->value;
    return "?";
}

/* Wait (mu held) until a callback signals or ms pass; callers loop on
 * their own condition and deadline. */
static void wait_slice(bench_state *st, int ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&st->cv, &st->mu, &ts);
}

static int64_t deadline_in(int ms)
{
    return now_ns() + (int64_t)ms * 1000000;
}

/* Paho C has no TCP_NODELAY option: find the socket connected to the
 * broker's port and set it.  Returns what it was (0/1), -1 not found. */
static int set_nodelay(int port)
{
    for (int fd = 3; fd < 1024; fd++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int was = 0, one = 1;
        socklen_t wl = sizeof was;

        if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
            continue;
        if (ss.ss_family == AF_INET && ntohs(((struct sockaddr_in *)&ss)->sin_port) != port)
            continue;
        if (ss.ss_family == AF_INET6 && ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) != port)
            continue;
        if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)
            continue;
        getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &was, &wl);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return was != 0;
    }
    return -1;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_paho --role pub|sub|rtt --port P [--host H] [--qos 0|1|2]\n"
            "                  [--count N] [--size BYTES] [--window W] [--topic T]\n"
            "                  [--idle-ms MS]\n");
}

static int parse_args(int argc, char **argv, bench_opts *o)
{
    o->role = NULL;
    o->host = "127.0.0.1";
    o->topic = "bench/paho";
    o->port = 0;
    o->qos = 0;
    o->size = 64;
    o->window = 1000;
    o->idle_ms = 10000;
    o->count = 1000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
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
        else if (!strcmp(a, "--size"))
            o->size = atoi(v);
        else if (!strcmp(a, "--window"))
            o->window = atoi(v);
        else if (!strcmp(a, "--idle-ms"))
            o->idle_ms = atoi(v);
        else if (!strcmp(a, "--count"))
            o->count = atol(v);
        else if (!strcmp(a, "--proto") || !strcmp(a, "--batch"))
            continue;           /* accepted for symmetry: 3.1.1 only, no batches */
        else {
            usage();
            return -1;
        }
    }
    if (!o->role || (strcmp(o->role, "pub") && strcmp(o->role, "sub") && strcmp(o->role, "rtt")) ||
        o->port <= 0 || o->qos < 0 || o->qos > 2 || o->size < BENCH_SEQ_BYTES ||
        o->size > BENCH_MAX_SIZE || o->window < 1 || o->idle_ms < 1 || o->count < 1) {
        usage();
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- callbacks */

static void on_conn_ok(void *ctx, MQTTAsync_successData *r)
{
    bench_state *st = ctx;
    (void)r;
    pthread_mutex_lock(&st->mu);
    st->connected = 1;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

static void on_conn_fail(void *ctx, MQTTAsync_failureData *r)
{
    bench_state *st = ctx;
    (void)r;
    pthread_mutex_lock(&st->mu);
    st->connected = -1;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

static void on_lost(void *ctx, char *cause)
{
    bench_state *st = ctx;
    (void)cause;
    pthread_mutex_lock(&st->mu);
    st->lost_conn = 1;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

static void on_sub_ok(void *ctx, MQTTAsync_successData *r)
{
    bench_state *st = ctx;
    pthread_mutex_lock(&st->mu);
    st->subscribed = 1;
    st->granted = r ? r->alt.qos : 0x80;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

static void on_sub_fail(void *ctx, MQTTAsync_failureData *r)
{
    bench_state *st = ctx;
    (void)r;
    pthread_mutex_lock(&st->mu);
    st->subscribed = -1;
    st->granted = 0x80;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

static void on_sent(void *ctx, MQTTAsync_successData *r)
{
    bench_state *st = ctx;
    (void)r;
    pthread_mutex_lock(&st->mu);
    /* waking the main thread only when it waits for this: a wake-up per
     * message would be the program's cost, not the library's */
    if (++st->completed >= st->want)
        pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

static void on_send_fail(void *ctx, MQTTAsync_failureData *r)
{
    bench_state *st = ctx;
    (void)r;
    pthread_mutex_lock(&st->mu);
    st->completed++;
    st->failed++;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
    bench_state *st = ctx;
    uint64_t seq = UINT64_MAX;

    (void)topic_len;
    if (msg->payloadlen == st->o->size)
        memcpy(&seq, msg->payload, sizeof seq);
    pthread_mutex_lock(&st->mu);
    st->received++;
    st->t_last = now_ns();
    if (st->received == 1)
        st->t_first = st->t_last;
    if (seq < (uint64_t)st->o->count && !(st->seen[seq >> 3] & (1u << (seq & 7)))) {
        st->seen[seq >> 3] |= (uint8_t)(1u << (seq & 7));
        if (++st->distinct == st->o->count)
            st->cpu_done = cpu_now();
    }
    if (st->wake_each || st->distinct == st->o->count)
        pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
    MQTTAsync_freeMessage(&msg);
    MQTTAsync_free(topic);
    return 1;
}

/* ------------------------------------------------------------------- client */

/* Create and connect; the TCP_NODELAY the library had is put in *nodelay_was. */
static MQTTAsync open_client(const bench_opts *o, bench_state *st, const char *role,
                             int *nodelay_was)
{
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
    MQTTAsync c = NULL;
    char uri[300], id[64];
    int64_t deadline;

    snprintf(uri, sizeof uri, "tcp://%s:%d", o->host, o->port);
    snprintf(id, sizeof id, "bench-paho-%s-%d", role, (int)getpid());
    if (MQTTAsync_create(&c, uri, id, MQTTCLIENT_PERSISTENCE_NONE, NULL) != MQTTASYNC_SUCCESS)
        return NULL;
    MQTTAsync_setCallbacks(c, st, on_lost, on_message, NULL);
    co.keepAliveInterval = 60;
    co.cleansession = 1;
    co.MQTTVersion = MQTTVERSION_3_1_1;
    co.maxInflight = o->window;
    co.onSuccess = on_conn_ok;
    co.onFailure = on_conn_fail;
    co.context = st;
    if (MQTTAsync_connect(c, &co) != MQTTASYNC_SUCCESS)
        goto fail;
    deadline = deadline_in(BENCH_CONNECT_MS);
    pthread_mutex_lock(&st->mu);
    while (!st->connected && !st->lost_conn && now_ns() < deadline)
        wait_slice(st, BENCH_SLICE_MS);
    pthread_mutex_unlock(&st->mu);
    if (st->connected != 1)
        goto fail;
    *nodelay_was = set_nodelay(o->port);
    return c;
fail:
    fprintf(stderr, "bench_paho: %s: connect to %s failed\n", role, uri);
    MQTTAsync_destroy(&c);
    return NULL;
}

static void close_client(MQTTAsync c)
{
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;

    if (!c)
        return;
    d.timeout = 1000;
    MQTTAsync_disconnect(c, &d);
    for (int i = 0; i < 100 && MQTTAsync_isConnected(c); i++)
        usleep(10000);
    MQTTAsync_destroy(&c);
}

static int subscribe(MQTTAsync c, bench_state *st)
{
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    int64_t deadline = deadline_in(BENCH_CONNECT_MS);

    ro.onSuccess = on_sub_ok;
    ro.onFailure = on_sub_fail;
    ro.context = st;
    if (MQTTAsync_subscribe(c, st->o->topic, st->o->qos, &ro) != MQTTASYNC_SUCCESS)
        return -1;
    pthread_mutex_lock(&st->mu);
    while (!st->subscribed && !st->lost_conn && now_ns() < deadline)
        wait_slice(st, BENCH_SLICE_MS);
    pthread_mutex_unlock(&st->mu);
    if (st->subscribed != 1 || st->granted != st->o->qos) {
        fprintf(stderr, "bench_paho: SUBACK %s (granted 0x%02x)\n",
                st->subscribed ? "refused" : "never came", st->granted);
        return -1;
    }
    return 0;
}

static int send_one(MQTTAsync c, bench_state *st, uint8_t *payload, uint64_t seq)
{
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    const bench_opts *o = st->o;
    int rc;

    ro.onSuccess = on_sent;
    ro.onFailure = on_send_fail;
    ro.context = st;
    memcpy(payload, &seq, sizeof seq);
    rc = MQTTAsync_send(c, o->topic, o->size, payload, o->qos, 0, &ro);
    if (rc != MQTTASYNC_SUCCESS) {
        fprintf(stderr, "bench_paho: publish %llu failed: %d\n", (unsigned long long)seq, rc);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- publisher */

/* Wait until at least n publishes completed; -1 when the connection went
 * or nothing completed for 10 s. */
static int wait_completed(bench_state *st, long n)
{
    int64_t deadline = deadline_in(10000);
    long seen;
    int rc = 0;

    pthread_mutex_lock(&st->mu);
    st->want = n;
    seen = st->completed;
    while (st->completed < n && !rc) {
        if (st->lost_conn)
            rc = -1;
        else if (st->completed != seen) {
            seen = st->completed;
            deadline = deadline_in(10000);
        } else if (now_ns() > deadline)
            rc = -1;
        else
            wait_slice(st, 1000);
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

static int run_pub(const bench_opts *o, bench_state *st)
{
    uint8_t payload[BENCH_MAX_SIZE];
    MQTTAsync c;
    int64_t t0, t1;
    bench_cpu cpu0, cpu1;
    int nodelay_was = -1, rc = 1;

    memset(payload, 'x', (size_t)o->size);
    if (!(c = open_client(o, st, "pub", &nodelay_was)))
        return 1;
    cpu0 = cpu_now();
    t0 = now_ns();
    for (long i = 0; i < o->count; i++) {
        if (send_one(c, st, payload, (uint64_t)i))
            goto out;
        if (wait_completed(st, i + 1 - o->window + 1))
            goto lost;
    }
    if (wait_completed(st, o->count))
        goto lost;
    t1 = now_ns();
    cpu1 = cpu_now();
    printf("result lib=paho-c libver=%s role=pub proto=4 qos=%d count=%ld size=%d "
           "t_first_ns=%lld t_last_ns=%lld secs=%.6f msgs_per_s=%.0f "
           "cpu_s=%.4f cpu_us_per_msg=%.3f user_us_per_msg=%.3f sys_us_per_msg=%.3f "
           "failed=%ld maxrss_kb=%ld nodelay_was=%d\n",
           paho_version(), o->qos, o->count, o->size, (long long)t0, (long long)t1,
           (double)(t1 - t0) / 1e9, (double)o->count * 1e9 / (double)(t1 - t0),
           (cpu1.user - cpu0.user) + (cpu1.sys - cpu0.sys),
           ((cpu1.user - cpu0.user) + (cpu1.sys - cpu0.sys)) * 1e6 / (double)o->count,
           (cpu1.user - cpu0.user) * 1e6 / (double)o->count,
           (cpu1.sys - cpu0.sys) * 1e6 / (double)o->count, st->failed, maxrss_kb(),
           nodelay_was);
    fflush(stdout);
    rc = st->failed ? 1 : 0;
    goto out;
lost:
    fprintf(stderr, "bench_paho: pub: connection lost or stalled (%ld of %ld done)\n",
            st->completed, o->count);
out:
    close_client(c);
    return rc;
}

/* --------------------------------------------------------------- subscriber */

static int run_sub(const bench_opts *o, bench_state *st)
{
    MQTTAsync c;
    bench_cpu cpu0, cpu1;
    int nodelay_was = -1, rc = 1;
    long before = -1;

    if (!(c = open_client(o, st, "sub", &nodelay_was)))
        return 1;
    if (subscribe(c, st))
        goto out;
    cpu0 = cpu_now();
    printf("ready\n");
    fflush(stdout);
    pthread_mutex_lock(&st->mu);
    /* Done when all came; otherwise when nothing came for idle_ms (before
     * the first message: BENCH_START_WAIT_MS). */
    while (st->distinct < o->count && !st->lost_conn && st->received != before) {
        before = st->received;
        int ms = st->received ? o->idle_ms : BENCH_START_WAIT_MS;
        int64_t deadline = deadline_in(ms);
        while (st->received == before && !st->lost_conn && now_ns() < deadline)
            wait_slice(st, BENCH_SLICE_MS);
    }
    cpu1 = st->distinct == o->count ? st->cpu_done : cpu_now();
    {
        int64_t span = st->t_last - st->t_first;
        double cpu = (cpu1.user - cpu0.user) + (cpu1.sys - cpu0.sys);
        printf("result lib=paho-c libver=%s role=sub proto=4 qos=%d count=%ld size=%d "
               "received=%ld distinct=%ld lost=%ld dups=%ld "
               "t_first_ns=%lld t_last_ns=%lld secs=%.6f msgs_per_s=%.0f "
               "cpu_s=%.4f cpu_us_per_msg=%.3f user_us_per_msg=%.3f sys_us_per_msg=%.3f "
               "maxrss_kb=%ld nodelay_was=%d\n",
               paho_version(), o->qos, o->count, o->size, st->received, st->distinct,
               o->count - st->distinct, st->received - st->distinct, (long long)st->t_first,
               (long long)st->t_last, (double)span / 1e9,
               span > 0 ? (double)st->received * 1e9 / (double)span : 0.0, cpu,
               cpu * 1e6 / (double)o->count, (cpu1.user - cpu0.user) * 1e6 / (double)o->count,
               (cpu1.sys - cpu0.sys) * 1e6 / (double)o->count, maxrss_kb(), nodelay_was);
        fflush(stdout);
    }
    rc = st->distinct == o->count ? 0 : 3;
    pthread_mutex_unlock(&st->mu);
out:
    close_client(c);
    return rc;
}

/* ---------------------------------------------------------------- round trip */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int run_rtt(const bench_opts *o, bench_state *st)
{
    uint8_t payload[BENCH_MAX_SIZE];
    int64_t *rtt = calloc((size_t)o->count, sizeof *rtt);
    MQTTAsync c = NULL;
    int nodelay_was = -1, rc = 1;
    long total = o->count + BENCH_RTT_WARMUP;

    memset(payload, 'x', (size_t)o->size);
    st->wake_each = 1;
    if (!rtt || !(c = open_client(o, st, "rtt", &nodelay_was)) || subscribe(c, st))
        goto out;
    for (long i = 0; i < total; i++) {
        int64_t t0 = now_ns();
        long before;

        pthread_mutex_lock(&st->mu);
        before = st->received;
        pthread_mutex_unlock(&st->mu);
        /* the sequence number is ignored here: one message in flight */
        if (send_one(c, st, payload, (uint64_t)o->count))
            goto out;
        int64_t deadline = deadline_in(5000);
        pthread_mutex_lock(&st->mu);
        while (st->received == before && !st->lost_conn && now_ns() < deadline)
            wait_slice(st, 1000);
        pthread_mutex_unlock(&st->mu);
        if (st->received == before) {
            fprintf(stderr, "bench_paho: rtt: message %ld never came back\n", i);
            goto out;
        }
        if (i >= BENCH_RTT_WARMUP)
            rtt[i - BENCH_RTT_WARMUP] = now_ns() - t0;
    }
    qsort(rtt, (size_t)o->count, sizeof *rtt, cmp_i64);
    printf("result lib=paho-c libver=%s role=rtt proto=4 qos=%d count=%ld size=%d "
           "p50_us=%.1f p99_us=%.1f max_us=%.1f nodelay_was=%d\n",
           paho_version(), o->qos, o->count, o->size, (double)rtt[o->count / 2] / 1e3,
           (double)rtt[(o->count * 99) / 100] / 1e3, (double)rtt[o->count - 1] / 1e3,
           nodelay_was);
    fflush(stdout);
    rc = 0;
out:
    close_client(c);
    free(rtt);
    return rc;
}

int main(int argc, char **argv)
{
    bench_opts o;
    bench_state st;
    int rc;

    if (parse_args(argc, argv, &o) != 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    alarm(BENCH_WATCHDOG_S);
    memset(&st, 0, sizeof st);
    st.o = &o;
    pthread_mutex_init(&st.mu, NULL);
    pthread_cond_init(&st.cv, NULL);
    st.seen = calloc((size_t)o.count / 8 + 1, 1);
    if (!st.seen)
        return 1;
    if (!strcmp(o.role, "pub"))
        rc = run_pub(&o, &st);
    else if (!strcmp(o.role, "sub"))
        rc = run_sub(&o, &st);
    else
        rc = run_rtt(&o, &st);
    free(st.seen);
    return rc;
}
