/*
 * bench_mosq.c - the libmosquitto peer of bench_client.c: the same
 * workload, options and output, so scripts/bench (suite `client`) can set
 * lunamq's figures beside libmosquitto's, measured through the same broker
 * in the same run.
 *
 *   bench_mosq --role pub|sub --port P [--host H] [--qos 0|1|2] [--count N]
 *              [--size BYTES] [--proto 4|5] [--window W] [--batch B]
 *              [--topic T] [--idle-ms MS]
 *
 * What is measured and printed is described in bench_client.c; only the
 * calls differ.  The loop is libmosquitto's own mosquitto_loop() in the
 * calling thread (no background thread), the way bench_client drives
 * lunamq's loop.  mosquitto_publish() already writes to the socket when it
 * can; mosquitto_loop() reads the acknowledgements and writes what the
 * socket refused before.  The window is libmosquitto's own
 * (mosquitto_max_inflight_messages_set) and the program also stops
 * publishing while that many are unacknowledged, as bench_client does, so
 * neither library queues more than the window.
 *
 * For QoS 0, on_publish comes once the PUBLISH has been written to the
 * socket: that is the publisher's completion here and in bench_client.  At
 * QoS 1 it comes with the PUBACK, at QoS 2 with the PUBCOMP, and a QoS 2
 * message holds its place in libmosquitto's inflight window until then,
 * as in bench_client.
 *
 * The end of a run is decided as in bench_client (its comment says why):
 * the publisher sends the end marker (sequence number --count) once every
 * message completed, the subscriber stops at all messages, or at the
 * marker and then --idle-ms of silence, or without a marker after --idle-ms
 * of its own waiting (a loop turn that took far longer than asked counts
 * as two slices, so a stalled host is never taken for silence).  Same
 * result line fields (end=, late=) and the same exit status: 3 messages
 * proven lost, 4 gave up without a marker.
 */
#define _GNU_SOURCE

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#define BENCH_SEQ_BYTES 8
#define BENCH_MAX_SIZE 65536
#define BENCH_WATCHDOG_S 120
#define BENCH_CONNECT_MS 5000
#define BENCH_START_WAIT_MS 30000
#define BENCH_SLICE_MS 50
#define BENCH_IDLE_MS 10000

/* Subscriber exit status, as bench_client's. */
#define BENCH_EXIT_LOST 3
#define BENCH_EXIT_NO_MARKER 4

/* How the subscriber's run ended. */
enum { BENCH_END_ALL, BENCH_END_MARKER, BENCH_END_IDLE };

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
} bench_opts;

typedef struct bench_state {
    const bench_opts *o;
    int connected;              /* 1 CONNACK accepted, < 0 refused */
    int lost_conn;
    int lost_rc;
    long completed;
    int subscribed;
    int granted;
    long received;              /* the end marker not included */
    long distinct;
    long late;                  /* received after the end marker */
    int marker;                 /* the end marker came */
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

/* "2.0.11": the library actually loaded, not the header's. */
static const char *mosq_version(void)
{
    static char v[32];
    int major, minor, rev;

    mosquitto_lib_version(&major, &minor, &rev);
    snprintf(v, sizeof v, "%d.%d.%d", major, minor, rev);
    return v;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_mosq --role pub|sub --port P [--host H] [--qos 0|1|2]\n"
            "                  [--count N] [--size BYTES] [--proto 4|5]\n"
            "                  [--window W] [--batch B] [--topic T] [--idle-ms MS]\n");
}

static int parse_args(int argc, char **argv, bench_opts *o)
{
    o->role = NULL;
    o->host = "127.0.0.1";
    o->topic = "bench/mosq";
    o->port = 0;
    o->qos = 0;
    o->proto = 4;
    o->size = 64;
    o->window = 1000;
    o->batch = 100;
    o->idle_ms = BENCH_IDLE_MS;
    o->count = 1000;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            usage();
            return -1;
        }
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
    if (!o->role || (strcmp(o->role, "pub") && strcmp(o->role, "sub")) ||
        o->port <= 0 || o->qos < 0 || o->qos > 2 || (o->proto != 4 && o->proto != 5) ||
        o->size < BENCH_SEQ_BYTES || o->size > BENCH_MAX_SIZE ||
        o->window < 1 || o->batch < 1 || o->idle_ms < 1 || o->count < 1) {
        usage();
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- callbacks */

static void on_connect(struct mosquitto *m, void *ud, int rc)
{
    bench_state *st = ud;
    (void)m;
    st->connected = rc == 0 ? 1 : -1;
}

static void on_disconnect(struct mosquitto *m, void *ud, int rc)
{
    bench_state *st = ud;
    (void)m;
    st->lost_conn = 1;
    st->lost_rc = rc;
}

static void on_publish(struct mosquitto *m, void *ud, int mid)
{
    bench_state *st = ud;
    (void)m;
    (void)mid;
    st->completed++;
}

static void on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted)
{
    bench_state *st = ud;
    (void)m;
    (void)mid;
    st->subscribed = 1;
    st->granted = n > 0 ? granted[0] : 0x80;
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
    bench_state *st = ud;
    uint64_t seq = UINT64_MAX;

    (void)m;
    if (msg->payloadlen == st->o->size)
        memcpy(&seq, msg->payload, sizeof seq);
    if (seq == (uint64_t)st->o->count) {
        st->marker = 1;         /* the end marker: not a message of the run */
        return;
    }
    st->received++;
    st->t_last = now_ns();
    if (st->received == 1)
        st->t_first = st->t_last;
    if (st->marker)
        st->late++;
    if (seq >= (uint64_t)st->o->count || (st->seen[seq >> 3] & (1u << (seq & 7))))
        return;                 /* not one of ours, or a duplicate */
    st->seen[seq >> 3] |= (uint8_t)(1u << (seq & 7));
    if (++st->distinct == st->o->count)
        st->cpu_done = cpu_now();
}

/* ------------------------------------------------------------------- client */

static struct mosquitto *open_client(const bench_opts *o, bench_state *st, const char *role)
{
    char id[64];
    struct mosquitto *m;
    int64_t deadline;
    int rc;

    snprintf(id, sizeof id, "bench-mosq-%s-%d", role, (int)getpid());
    m = mosquitto_new(id, true, st);
    if (!m)
        return NULL;
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION,
                         o->proto == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_max_inflight_messages_set(m, (unsigned)o->window);
    /* The subscriber's incoming window, as bench_client's (v5 only), and
     * as there not at QoS 2: mosquitto 2.0.11 now and then sends a
     * subscriber that falls behind one QoS 2 PUBLISH over its Receive
     * Maximum, and libmosquitto then drops the connection with a protocol
     * error (about 1 run in 4 of 20,000 messages at 1000; bench_client's
     * subscriber trips on it too).  Left unset it failed as well, so at
     * QoS 2 both programs advertise 65535 explicitly. */
    if (o->proto == 5)
        mosquitto_int_option(m, MOSQ_OPT_RECEIVE_MAXIMUM, o->qos < 2 ? o->window : 65535);
    mosquitto_connect_callback_set(m, on_connect);
    mosquitto_disconnect_callback_set(m, on_disconnect);
    mosquitto_publish_callback_set(m, on_publish);
    mosquitto_subscribe_callback_set(m, on_subscribe);
    mosquitto_message_callback_set(m, on_message);
    rc = mosquitto_connect(m, o->host, o->port, 60);
    deadline = now_ns() + (int64_t)BENCH_CONNECT_MS * 1000000;
    while (rc == MOSQ_ERR_SUCCESS && !st->connected && !st->lost_conn && now_ns() < deadline)
        rc = mosquitto_loop(m, BENCH_SLICE_MS, 1);
    if (rc != MOSQ_ERR_SUCCESS || st->connected != 1) {
        fprintf(stderr, "bench_mosq: %s: connect to %s:%d failed: %s\n", role, o->host,
                o->port, rc ? mosquitto_strerror(rc) : "refused or timed out");
        mosquitto_destroy(m);
        return NULL;
    }
    return m;
}

static void close_client(struct mosquitto *m, bench_state *st)
{
    if (!m)
        return;
    if (!st->lost_conn && mosquitto_disconnect(m) == MOSQ_ERR_SUCCESS) {
        int64_t deadline = now_ns() + (int64_t)BENCH_CONNECT_MS * 1000000;
        while (!st->lost_conn && now_ns() < deadline &&
               mosquitto_loop(m, BENCH_SLICE_MS, 1) == MOSQ_ERR_SUCCESS) {
        }
    }
    mosquitto_destroy(m);
}

/* One turn of the loop (timeout 0: no waiting); -1 once the connection is
 * gone. */
static int turn(struct mosquitto *m, const bench_state *st, int timeout_ms)
{
    int rc = mosquitto_loop(m, timeout_ms, 1);
    return rc != MOSQ_ERR_SUCCESS || st->lost_conn ? -1 : 0;
}

static int drain(struct mosquitto *m, const bench_state *st)
{
    if (turn(m, st, 0))
        return -1;
    while (mosquitto_want_write(m))
        if (turn(m, st, 1000))
            return -1;
    return 0;
}

/* ---------------------------------------------------------------- publisher */

/* Publish message seq; libmosquitto queues what its window has no room
 * for, so there is no waiting here.  0, or -1 after saying why. */
static int publish_seq(struct mosquitto *m, const bench_opts *o, uint8_t *payload,
                       uint64_t seq)
{
    int prc;

    memcpy(payload, &seq, sizeof seq);
    prc = mosquitto_publish(m, NULL, o->topic, o->size, payload, o->qos, false);
    if (prc == MOSQ_ERR_SUCCESS)
        return 0;
    fprintf(stderr, "bench_mosq: publish %llu failed: %s\n", (unsigned long long)seq,
            mosquitto_strerror(prc));
    return -1;
}

/* Wait until `n` publishes completed and the socket took every byte. */
static int settle(struct mosquitto *m, const bench_state *st, long n)
{
    while (st->completed < n)
        if (turn(m, st, 1000))
            return -1;
    return drain(m, st);
}

static int run_pub(const bench_opts *o)
{
    bench_state st;
    struct mosquitto *m;
    uint8_t payload[BENCH_MAX_SIZE];
    int64_t t0, t1;
    bench_cpu cpu0, cpu1;
    int rc = 1;

    memset(&st, 0, sizeof st);
    st.o = o;
    memset(payload, 'x', (size_t)o->size);
    if (!(m = open_client(o, &st, "pub")))
        return 1;
    cpu0 = cpu_now();
    t0 = now_ns();
    for (long i = 0; i < o->count; i++) {
        if (publish_seq(m, o, payload, (uint64_t)i))
            goto out;
        if ((i + 1) % o->batch == 0 && drain(m, &st))
            goto lost;
        while (o->qos > 0 && (i + 1) - st.completed >= o->window)
            if (turn(m, &st, 1000))
                goto lost;
    }
    if (settle(m, &st, o->count))
        goto lost;
    t1 = now_ns();
    cpu1 = cpu_now();
    /* The end marker, outside the measured span: every message before it
     * has completed, so the broker has them all and forwards the marker
     * after them. */
    if (publish_seq(m, o, payload, (uint64_t)o->count))
        goto out;
    if (settle(m, &st, o->count + 1))
        goto lost;
    printf("result lib=mosquitto libver=%s role=pub proto=%d qos=%d count=%ld size=%d "
           "t_first_ns=%lld t_last_ns=%lld secs=%.6f msgs_per_s=%.0f "
           "cpu_s=%.4f cpu_us_per_msg=%.3f user_us_per_msg=%.3f sys_us_per_msg=%.3f\n",
           mosq_version(), o->proto, o->qos, o->count, o->size, (long long)t0, (long long)t1,
           (double)(t1 - t0) / 1e9, (double)o->count * 1e9 / (double)(t1 - t0),
           cpu_total(cpu0, cpu1), cpu_total(cpu0, cpu1) * 1e6 / (double)o->count,
           (cpu1.user - cpu0.user) * 1e6 / (double)o->count,
           (cpu1.sys - cpu0.sys) * 1e6 / (double)o->count);
    fflush(stdout);
    rc = 0;
    goto out;
lost:
    fprintf(stderr, "bench_mosq: pub: connection lost (%s)\n",
            mosquitto_strerror(st.lost_rc));
out:
    close_client(m, &st);
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
        fprintf(stderr, "bench_mosq: missing %ld..%ld (%ld)\n", from, i - 1, i - from);
        shown++;
    }
}

/*
 * Receive until every message came, or the end marker came and then
 * nothing for idle_ms, or (no marker) nothing came for idle_ms (before the
 * first message: BENCH_START_WAIT_MS).  Idle counts this process's own
 * waiting: a turn that took more than twice the slice it asked for was a
 * stall and counts as two slices, so no stall ends a run however long it
 * lasts.  One more look without blocking comes before giving up.  Returns
 * BENCH_END_*, or -1 when the connection is lost.
 */
static int receive(struct mosquitto *m, bench_state *st)
{
    const int64_t slice = (int64_t)BENCH_SLICE_MS * 1000000;
    int64_t quiet = 0, prev = now_ns();
    long seen_before = 0;
    int marker_before = 0;

    for (;;) {
        if (turn(m, st, BENCH_SLICE_MS))
            return -1;
        if (st->distinct == st->o->count)
            return BENCH_END_ALL;
        int64_t now = now_ns(), step = now - prev;
        prev = now;
        if (st->received != seen_before || st->marker != marker_before) {
            seen_before = st->received;
            marker_before = st->marker;
            quiet = 0;
            continue;
        }
        quiet += step < 2 * slice ? step : 2 * slice;
        int limit = st->received || st->marker ? st->o->idle_ms : BENCH_START_WAIT_MS;
        if (quiet <= (int64_t)limit * 1000000)
            continue;
        if (turn(m, st, 0))
            return -1;
        if (st->received != seen_before || st->marker != marker_before ||
            st->distinct == st->o->count)
            continue;
        return st->marker ? BENCH_END_MARKER : BENCH_END_IDLE;
    }
}

static void report_end(const bench_state *st, int end)
{
    const bench_opts *o = st->o;
    long missing = o->count - st->distinct;

    if (end == BENCH_END_MARKER)
        fprintf(stderr,
                "bench_mosq: %ld messages lost: the end marker came after them "
                "(one topic is forwarded in order) and nothing more for %d ms\n",
                missing, o->idle_ms);
    else
        fprintf(stderr,
                "bench_mosq: gave up: %ld messages missing, no end marker and no "
                "message for %d ms of waiting; lost, or the publisher or broker stopped: "
                "undetermined\n",
                missing, o->idle_ms);
    if (st->late)
        fprintf(stderr, "bench_mosq: %ld messages came after the end marker\n", st->late);
    report_missing(st);
}

static int run_sub(const bench_opts *o)
{
    static const char *const ends[] = { "all", "marker", "idle" };
    bench_state st;
    struct mosquitto *m = NULL;
    int64_t deadline;
    bench_cpu cpu0, cpu1;
    int rc = 1, end;

    memset(&st, 0, sizeof st);
    st.o = o;
    st.seen = calloc((size_t)o->count / 8 + 1, 1);
    if (!st.seen || !(m = open_client(o, &st, "sub")))
        goto out;
    if (mosquitto_subscribe(m, NULL, o->topic, o->qos) != MOSQ_ERR_SUCCESS)
        goto out;
    deadline = now_ns() + (int64_t)BENCH_CONNECT_MS * 1000000;
    while (!st.subscribed && now_ns() < deadline)
        if (turn(m, &st, BENCH_SLICE_MS))
            goto lost;
    if (!st.subscribed || st.granted != o->qos) {
        fprintf(stderr, "bench_mosq: SUBACK %s (granted 0x%02x)\n",
                st.subscribed ? "refused" : "never came", st.granted);
        goto out;
    }
    cpu0 = cpu_now();
    printf("ready\n");
    fflush(stdout);
    if ((end = receive(m, &st)) < 0)
        goto lost;
    cpu1 = end == BENCH_END_ALL ? st.cpu_done : cpu_now();
    {
        int64_t span = st.t_last - st.t_first;
        printf("result lib=mosquitto libver=%s role=sub proto=%d qos=%d count=%ld size=%d "
               "received=%ld distinct=%ld lost=%ld dups=%ld late=%ld end=%s "
               "t_first_ns=%lld t_last_ns=%lld secs=%.6f msgs_per_s=%.0f "
               "cpu_s=%.4f cpu_us_per_msg=%.3f user_us_per_msg=%.3f sys_us_per_msg=%.3f\n",
               mosq_version(), o->proto, o->qos, o->count, o->size, st.received, st.distinct,
               o->count - st.distinct, st.received - st.distinct, st.late, ends[end],
               (long long)st.t_first, (long long)st.t_last, (double)span / 1e9,
               span > 0 ? (double)st.received * 1e9 / (double)span : 0.0,
               cpu_total(cpu0, cpu1), cpu_total(cpu0, cpu1) * 1e6 / (double)o->count,
               (cpu1.user - cpu0.user) * 1e6 / (double)o->count,
               (cpu1.sys - cpu0.sys) * 1e6 / (double)o->count);
        fflush(stdout);
    }
    rc = end == BENCH_END_ALL ? 0 : end == BENCH_END_MARKER ? BENCH_EXIT_LOST
                                                             : BENCH_EXIT_NO_MARKER;
    if (rc)
        report_end(&st, end);
    goto out;
lost:
    fprintf(stderr, "bench_mosq: sub: connection lost (%s)\n",
            mosquitto_strerror(st.lost_rc));
out:
    close_client(m, &st);
    free(st.seen);
    return rc;
}

int main(int argc, char **argv)
{
    bench_opts o;
    int rc;

    if (parse_args(argc, argv, &o) != 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    alarm(BENCH_WATCHDOG_S);
    mosquitto_lib_init();
    rc = !strcmp(o.role, "pub") ? run_pub(&o) : run_sub(&o);
    mosquitto_lib_cleanup();
    return rc;
}
