/*
 * bench_client.c - lunamq publishing and receiving flat out through a real
 * broker: one half of the `client` suite of scripts/bench, whose other
 * half is bench_mosq.c (the same workload with libmosquitto).
 *
 *   bench_client --role pub|sub --port P [--host H] [--qos 0|1|2] [--count N]
 *                [--size BYTES] [--proto 4|5] [--window W] [--batch B]
 *                [--topic T] [--idle-ms MS] [--driver ev|external]
 *                [--state-dir DIR [--durability fsync|os]]
 *   bench_client --smoke        a tiny pub + sub run against a mosquitto
 *                               started here (ctest bench.client_smoke)
 *
 * The subscriber subscribes at --qos, prints "ready" once the SUBACK came
 * and counts what arrives.  The publisher sends --count messages of --size
 * bytes (the first 8 carry a sequence number, so the subscriber can tell
 * lost and duplicated ones apart), drives the loop without blocking every
 * --batch messages until the socket has taken everything, and at QoS 1
 * and 2 blocks in the loop while --window messages are unfinished (QoS 2:
 * a message counts against the window until its PUBCOMP, as in
 * libmosquitto's max_inflight_messages).
 *
 * How the subscriber knows it is done, without guessing from the clock:
 * once all --count messages completed, the publisher sends one more on the
 * same topic at the same QoS, the end marker (sequence number --count).  The
 * broker forwards one publisher's messages on one topic in order (section
 * 4.6, Ordered Topic, [MQTT-4.6.0-6]), so a message still missing when the
 * marker comes was lost, not late.  The subscriber stops when it has every
 * message; or when the marker came and then nothing more for --idle-ms
 * (what still comes then is counted "late": an ordering fault, not a
 * loss); or, as a last resort when no marker ever comes (a publisher that
 * sends none, or died), after --idle-ms without a message.  Idle time is
 * the subscriber's own waiting: a loop slice that took far longer than it
 * asked for means this process or the whole host was stalled, and counts
 * as two slices, so a stall can never pass for silence.  (The 2 s
 * wall-clock cut-off this replaces ran out across host stalls and
 * reported the messages still on their way as lost.)
 *
 * Both print one line "result key=value ...": times are CLOCK_MONOTONIC
 * nanoseconds (one clock for every process of the host, so the script may
 * set one program's times against the other's), CPU is getrusage
 * user + sys over the measured span, divided by --count.  The subscriber's
 * line says how it ended: end=all, end=marker (lost= is proven) or
 * end=idle (lost= is what did not come in time: undetermined).  Exit
 * status of the subscriber: 0 everything came, 3 messages proven lost,
 * 4 gave up without a marker.
 *
 * The publisher's span runs from the first publish to the last completion:
 * the last PUBACK at QoS 1, the last PUBCOMP at QoS 2; at QoS 0, the last
 * byte taken by the socket (what libmosquitto's on_publish means for QoS
 * 0, so both are measured alike); the end marker comes after it.  The subscriber's span runs from
 * the first message to the last.
 *
 * --driver ev (the default) runs the client on lunamq's libev loop;
 * --driver external polls the socket here and calls the external driver's
 * entry points (lmq_client_on_readable & co).
 *
 * Public API only (lunamq.h): this is what an application would write.
 */
#define _GNU_SOURCE

#include <poll.h>
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
/* Default --idle-ms.  It only ends a run whose end marker never came (or
 * the wait for late messages after it), so it can be long. */
#define BENCH_IDLE_MS 10000

/* Subscriber exit status: messages proven lost, or no marker and silence. */
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
    int external;               /* --driver external */
    const char *state_dir;      /* --state-dir: a durable session (store suite) */
    int durability;             /* --durability: enum lmq_durability */
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
    long received;              /* the end marker not included */
    long distinct;
    long late;                  /* received after the end marker */
    int marker;                 /* the end marker came */
    uint8_t *seen;              /* one bit per sequence number */
    int64_t t_first;
    int64_t t_last;
    bench_cpu cpu_done;            /* CPU seconds when the last one came */
    /* both */
    int connected;              /* LMQ_EV_CONNECTED (external driver) */
    int connect_error;          /* LMQ_EV_CONNECT_FAILED's error */
    int lost_conn;
    int lost_error;
} bench_state;

/* The client and what drives it: lunamq's libev loop, or poll() here. */
typedef struct bench_io {
    lmq_client *c;
    lmq_loop *loop;             /* NULL with --driver external */
} bench_io;

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
            "usage: bench_client --role pub|sub --port P [--host H] [--qos 0|1|2]\n"
            "                    [--count N] [--size BYTES] [--proto 4|5]\n"
            "                    [--window W] [--batch B] [--topic T] [--idle-ms MS]\n"
            "                    [--driver ev|external]\n"
            "                    [--state-dir DIR [--durability fsync|os]]\n"
            "       bench_client --smoke\n");
}

static int parse_args(int argc, char **argv, bench_opts *o)
{
    const char *driver = "ev";

    o->role = NULL;
    o->host = "127.0.0.1";
    o->topic = "bench/lunamq";
    o->port = 0;
    o->qos = 0;
    o->proto = LMQ_MQTT_311;
    o->size = 64;
    o->window = 1000;
    o->batch = 100;
    o->idle_ms = BENCH_IDLE_MS;
    o->external = 0;
    o->state_dir = NULL;
    o->durability = LMQ_DURABILITY_FSYNC;
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
        else if (!strcmp(a, "--driver"))
            driver = v;
        else if (!strcmp(a, "--state-dir"))
            o->state_dir = v;
        else if (!strcmp(a, "--durability") && (!strcmp(v, "fsync") || !strcmp(v, "os")))
            o->durability = !strcmp(v, "os") ? LMQ_DURABILITY_OS : LMQ_DURABILITY_FSYNC;
        else {
            usage();
            return -1;
        }
    }
    if (o->smoke)
        return 0;
    o->external = !strcmp(driver, "external");
    if (!o->role || (strcmp(o->role, "pub") && strcmp(o->role, "sub")) ||
        (strcmp(driver, "ev") && !o->external) ||
        o->port <= 0 || o->qos < 0 || o->qos > 2 ||
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
    uint64_t seq = UINT64_MAX;

    if (ev->payload_len == st->o->size)
        memcpy(&seq, ev->payload, sizeof seq);
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
    case LMQ_EV_CONNECTED:
        st->connected = 1;
        break;
    case LMQ_EV_CONNECT_FAILED:
        st->connect_error = ev->error ? ev->error : LMQ_ECONNECT;
        break;
    case LMQ_EV_DISCONNECTED:
        st->lost_conn = 1;
        st->lost_error = ev->error;
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------ driving */

/* The external driver: wait in poll() for what the client wants, then call
 * its entry points. */
static void poll_turn(lmq_client *c, int ms)
{
    struct pollfd p;
    int want = lmq_client_want(c);
    int64_t due = lmq_client_timeout_ms(c);
    int wait = ms;

    p.fd = lmq_client_fd(c);
    p.events = (short)((want & LMQ_WANT_READ ? POLLIN : 0) |
                       (want & LMQ_WANT_WRITE ? POLLOUT : 0));
    p.revents = 0;
    if (due >= 0 && (wait < 0 || due < wait))
        wait = (int)due;
    if (poll(&p, p.fd >= 0 ? 1 : 0, wait) > 0) {
        if ((p.revents & (POLLOUT | POLLERR | POLLHUP)) && (want & LMQ_WANT_WRITE))
            lmq_client_on_writable(c);
        /* the write may have closed the socket (and a new one taken its
         * number): only read the one poll() reported on */
        if ((p.revents & (POLLIN | POLLERR | POLLHUP)) && lmq_client_fd(c) == p.fd)
            lmq_client_on_readable(c);
    }
    if (lmq_client_timeout_ms(c) == 0)
        lmq_client_on_timeout(c);
}

/* One turn: ms < 0 waits until something happens, 0 only runs what is
 * ready, > 0 waits at most that long.  -1 once the connection is gone. */
static int io_turn(const bench_io *io, const bench_state *st, int ms)
{
    if (!io->loop)
        poll_turn(io->c, ms);
    else if (ms < 0)
        lmq_loop_run(io->loop, 1);
    else if (ms == 0)
        lmq_loop_run(io->loop, 2);
    else if (lmq_client_run(io->c, ms) != 0)
        return -1;
    return st->lost_conn ? -1 : 0;
}

/* ------------------------------------------------------------------- client */

static int open_client(bench_io *io, const bench_opts *o, bench_state *st, const char *role)
{
    char id[64];
    lmq_client *c = lmq_client_new();
    int rc = LMQ_ENOMEM;

    io->c = c;
    io->loop = NULL;
    if (!c)
        goto fail;
    snprintf(id, sizeof id, "bench-lunamq-%s-%d", role, (int)getpid());
    lmq_client_set_str(c, LMQ_OPT_HOST, o->host, -1);
    lmq_client_set_int(c, LMQ_OPT_PORT, o->port);
    lmq_client_set_str(c, LMQ_OPT_CLIENT_ID, id, -1);
    lmq_client_set_int(c, LMQ_OPT_PROTOCOL, o->proto);
    lmq_client_set_int(c, LMQ_OPT_TCP_NODELAY, 1);
    lmq_client_set_int(c, LMQ_OPT_RECONNECT, 0);
    lmq_client_set_int(c, LMQ_OPT_KEEPALIVE, 60);
    /* Our own incoming window, the subscriber's side of the 1000 the
     * publisher keeps to (v5 only; 3.1.1 has no Receive Maximum).  Not at
     * QoS 2: there mosquitto 2.0.11 now and then sends a subscriber that
     * falls behind one PUBLISH over its Receive Maximum, which we must
     * answer with DISCONNECT 0x93 [MQTT-3.3.4-9] (seen in the sanitizer
     * build's smoke at 50, and from libmosquitto's subscriber at 1000, so
     * it is not this client's count); the largest value keeps the run
     * going.  bench_mosq does the same, so both are measured alike. */
    if (o->proto == LMQ_MQTT_5)
        lmq_client_set_int(c, LMQ_OPT_RECEIVE_MAXIMUM, o->qos < 2 ? o->window : 65535);
    /* A durable session: the store (store suite of scripts/bench) on a
     * persistent session, as an application would run it. */
    if (o->state_dir) {
        lmq_client_set_int(c, LMQ_OPT_CLEAN_START, 0);
        if (o->proto == LMQ_MQTT_5)
            lmq_client_set_int(c, LMQ_OPT_SESSION_EXPIRY, 300);
        lmq_client_set_int(c, LMQ_OPT_DURABILITY, o->durability);
        if ((rc = lmq_client_set_str(c, LMQ_OPT_STATE_DIR, o->state_dir, -1)) < 0)
            goto fail;
    }
    lmq_client_set_callback(c, on_event, st, NULL);
    if (!o->external) {
        if (!(io->loop = lmq_loop_new()))
            goto fail;
        if ((rc = lmq_client_attach(c, io->loop)) < 0 ||
            (rc = lmq_client_connect_wait(c, BENCH_CONNECT_MS)) != 0)
            goto fail;
        return 0;
    }
    if ((rc = lmq_client_connect(c)) < 0)
        goto fail;
    int64_t deadline = now_ns() + (int64_t)BENCH_CONNECT_MS * 1000000;
    while (!st->connected && !st->connect_error && now_ns() < deadline)
        poll_turn(c, BENCH_SLICE_MS);
    if (st->connected)
        return 0;
    rc = st->connect_error ? st->connect_error : LMQ_ETIMEOUT;
fail:
    fprintf(stderr, "bench_client: %s: connect to %s:%d failed: %s (%s)\n", role, o->host,
            o->port, lmq_strerror(rc), c ? lmq_client_errmsg(c) : "");
    lmq_client_free(c);
    lmq_loop_free(io->loop);
    io->c = NULL;
    io->loop = NULL;
    return -1;
}

static void close_client(bench_io *io, bench_state *st)
{
    if (!io->c)
        return;
    if (lmq_client_disconnect(io->c, 0, NULL) == 0) {
        if (io->loop) {
            lmq_client_run(io->c, BENCH_CONNECT_MS);
        } else {
            int64_t deadline = now_ns() + (int64_t)BENCH_CONNECT_MS * 1000000;
            while (!st->lost_conn && now_ns() < deadline)
                poll_turn(io->c, BENCH_SLICE_MS);
        }
    }
    lmq_client_free(io->c);
    lmq_loop_free(io->loop);
    io->c = NULL;
    io->loop = NULL;
}

/* Let the socket take everything the client has written so far. */
static int drain(const bench_io *io, const bench_state *st)
{
    if (io_turn(io, st, 0))
        return -1;
    while (lmq_client_want(io->c) & LMQ_WANT_WRITE)
        if (io_turn(io, st, -1))
            return -1;
    return 0;
}

/* ---------------------------------------------------------------- publisher */

/* Publish message seq, waiting for room in the pending queue. */
static int publish_seq(const bench_io *io, const bench_state *st, uint8_t *payload,
                       uint64_t seq)
{
    const bench_opts *o = st->o;
    int id;

    memcpy(payload, &seq, sizeof seq);
    /* The pending queue is bounded (LMQ_OPT_OFFLINE_MAX_MSGS): full, let
     * the loop make room and try again. */
    while ((id = lmq_client_publish(io->c, o->topic, (int32_t)strlen(o->topic), payload,
                                    o->size, o->qos, 0, NULL)) == LMQ_EQUEUE_FULL)
        if (io_turn(io, st, -1))
            return -1;
    if (id < 0) {
        fprintf(stderr, "bench_client: publish %llu failed: %s (%s)\n",
                (unsigned long long)seq, lmq_strerror(id), lmq_client_errmsg(io->c));
        return -2;
    }
    return 0;
}

/* Wait until `n` publishes completed and the socket took every byte. */
static int settle(const bench_io *io, const bench_state *st, long n)
{
    while (st->completed < n)
        if (io_turn(io, st, -1))
            return -1;
    return drain(io, st);
}

static int run_pub(const bench_opts *o)
{
    bench_state st;
    bench_io io = { NULL, NULL };
    uint8_t payload[BENCH_MAX_SIZE];
    int64_t t0, t1;
    bench_cpu cpu0, cpu1;
    int rc = 1, prc;

    memset(&st, 0, sizeof st);
    st.o = o;
    memset(payload, 'x', (size_t)o->size);
    if (open_client(&io, o, &st, "pub"))
        goto out;
    cpu0 = cpu_now();
    t0 = now_ns();
    for (long i = 0; i < o->count; i++) {
        if ((prc = publish_seq(&io, &st, payload, (uint64_t)i)) == -1)
            goto lost;
        if (prc)
            goto out;
        if ((i + 1) % o->batch == 0 && drain(&io, &st))
            goto lost;
        while (o->qos > 0 && (i + 1) - st.completed >= o->window)
            if (io_turn(&io, &st, -1))
                goto lost;
    }
    if (settle(&io, &st, o->count))
        goto lost;
    t1 = now_ns();
    cpu1 = cpu_now();
    /* The end marker, outside the measured span: every message before it
     * has completed, so the broker has them all and forwards the marker
     * after them. */
    if ((prc = publish_seq(&io, &st, payload, (uint64_t)o->count)) == -1)
        goto lost;
    if (prc)
        goto out;
    if (settle(&io, &st, o->count + 1))
        goto lost;
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
            lmq_strerror(st.lost_error), lmq_client_errmsg(io.c));
out:
    close_client(&io, &st);
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

/*
 * Receive until every message came, or the end marker came and then
 * nothing for idle_ms, or (no marker) nothing came for idle_ms (before the
 * first message: BENCH_START_WAIT_MS).  Idle counts this process's own
 * waiting: a slice that took more than twice what it asked for was a
 * stall (of this process, whose messages then wait in the socket, or of
 * the whole host, during which nothing moved) and counts as two slices,
 * so no stall ends a run however long it lasts.  One more look without blocking comes
 * before giving up.  Returns BENCH_END_*, or -1 when the connection is
 * lost.
 */
static int receive(const bench_io *io, bench_state *st)
{
    const int64_t slice = (int64_t)BENCH_SLICE_MS * 1000000;
    int64_t quiet = 0, prev = now_ns();
    long seen_before = 0;
    int marker_before = 0;

    for (;;) {
        if (io_turn(io, st, BENCH_SLICE_MS))
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
        if (io_turn(io, st, 0))
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
                "bench_client: %ld messages lost: the end marker came after them "
                "(one topic is forwarded in order) and nothing more for %d ms\n",
                missing, o->idle_ms);
    else
        fprintf(stderr,
                "bench_client: gave up: %ld messages missing, no end marker and no "
                "message for %d ms of waiting; lost, or the publisher or broker stopped: "
                "undetermined\n",
                missing, o->idle_ms);
    if (st->late)
        fprintf(stderr, "bench_client: %ld messages came after the end marker\n", st->late);
    report_missing(st);
}

static int run_sub(const bench_opts *o, int ready_fd)
{
    static const char *const ends[] = { "all", "marker", "idle" };
    bench_state st;
    bench_io io = { NULL, NULL };
    lmq_subscription sub = { o->topic, -1, o->qos };
    int64_t deadline;
    bench_cpu cpu0, cpu1;
    int rc = 1, end;

    memset(&st, 0, sizeof st);
    st.o = o;
    st.seen = calloc((size_t)o->count / 8 + 1, 1);
    if (!st.seen || open_client(&io, o, &st, "sub"))
        goto out;
    if ((rc = lmq_client_subscribe(io.c, &sub, 1, NULL)) < 0) {
        fprintf(stderr, "bench_client: subscribe failed: %s\n", lmq_strerror(rc));
        rc = 1;
        goto out;
    }
    rc = 1;
    deadline = now_ns() + (int64_t)BENCH_CONNECT_MS * 1000000;
    while (!st.subscribed && now_ns() < deadline)
        if (io_turn(&io, &st, BENCH_SLICE_MS))
            goto lost;
    if (!st.subscribed || st.granted != o->qos) {
        fprintf(stderr, "bench_client: SUBACK %s (granted 0x%02x)\n",
                st.subscribed ? "refused" : "never came", st.granted);
        goto out;
    }
    cpu0 = cpu_now();
    if (ready_fd >= 0) {
        if (write(ready_fd, "r", 1) != 1)
            goto out;
    } else {
        printf("ready\n");
        fflush(stdout);
    }
    if ((end = receive(&io, &st)) < 0)
        goto lost;
    cpu1 = end == BENCH_END_ALL ? st.cpu_done : cpu_now();
    {
        int64_t span = st.t_last - st.t_first;
        printf("result lib=lunamq libver=%s role=sub proto=%d qos=%d count=%ld size=%d "
               "received=%ld distinct=%ld lost=%ld dups=%ld late=%ld end=%s "
               "t_first_ns=%lld t_last_ns=%lld secs=%.6f msgs_per_s=%.0f "
               "cpu_s=%.4f cpu_us_per_msg=%.3f user_us_per_msg=%.3f sys_us_per_msg=%.3f\n",
               lmq_version(), o->proto, o->qos, o->count, o->size, st.received, st.distinct,
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
    fprintf(stderr, "bench_client: sub: connection lost: %s (%s)\n",
            lmq_strerror(st.lost_error), lmq_client_errmsg(io.c));
out:
    close_client(&io, &st);
    free(st.seen);
    return rc;
}

/* -------------------------------------------------------------------- smoke */

#ifdef LMQ_BENCH_SMOKE
/* Both roles once at each QoS, protocol and driver, a few hundred
 * messages, against a mosquitto of the test harness: keeps the program
 * building and working as the client changes.  Measures nothing. */
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
    o.idle_ms = BENCH_IDLE_MS;
    o.count = 500;
    for (int external = 0; external <= 1; external++)
        for (int proto = LMQ_MQTT_311; proto <= LMQ_MQTT_5; proto++)
            for (int qos = 0; qos <= 2; qos++) {
                o.external = external;
                o.proto = proto;
                o.qos = qos;
                if (smoke_one(o) != 0) {
                    fprintf(stderr, "bench_client: smoke failed at proto %d qos %d driver %s\n",
                            proto, qos, external ? "external" : "ev");
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
