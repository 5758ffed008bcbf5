/*
 * bench_conns.c - idle connections from one process, lunamq beside
 * libmosquitto, for the `peers` suite of scripts/bench.
 *
 *   bench_conns --lib lunamq|mosquitto --port P [--host H] [--count N] [--hold S]
 *
 * lunamq: N clients attached to one lmq_loop (the libev driver), each
 * connected with lmq_client_connect; what an application holding many
 * connections would write (`lunamq bench conn` does the same but keeps
 * per-client statistics besides, so it is not used for memory).
 * libmosquitto: N handles in this one thread, driven the way an event loop
 * would drive them: one poll() over all their sockets, then
 * mosquitto_loop_read / _write / _misc on each handle that needs it.
 * (mosquitto_loop() would select() on one socket at a time and cannot take
 * a descriptor above FD_SETSIZE; mosquitto_loop_start() is a thread per
 * connection: 10,000 threads, not what "idle connections" measures.)
 * Every handle connects (CONNACK accepted; up to BENCH_CONNECT_S for them
 * all), then all stay connected --hold seconds more, then the process
 * exits.
 *
 * The script measures the memory from outside (peak RSS of the process,
 * N connections against one); the line printed here says how many
 * connections were up at once, so a run where the broker refused some is
 * not read as a cheap one:
 *   result lib=L role=conns clients=N connected=K failed=F connect_s=S
 * RLIMIT_NOFILE is raised here (see raise_nofile).
 */
#define _GNU_SOURCE

#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "lunamq.h"

#ifdef LMQ_BENCH_HAVE_MOSQUITTO
#include <mosquitto.h>
#endif

#define BENCH_WATCHDOG_S 300
#define BENCH_CONNECT_S 60

/* 0 waiting for CONNACK, 1 connected, -1 failed */
typedef struct lconn {
    lmq_client *c;
    int state;
} lconn;

typedef struct bench_opts {
    const char *lib;
    const char *host;
    int port;
    long n;
    double hold;
} bench_opts;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void raise_nofile(long n)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)n * 3 + 64;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    if (rl.rlim_max < want) {
        struct rlimit up = { want, want };
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            return;
    }
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

/* ------------------------------------------------------------------- lunamq */

static void lmq_on_event(lmq_client *c, const lmq_event *ev, void *userdata)
{
    lconn *k = userdata;

    (void)c;
    if (ev->type == LMQ_EV_CONNECTED)
        k->state = 1;
    else if (ev->type == LMQ_EV_CONNECT_FAILED || ev->type == LMQ_EV_DISCONNECTED)
        k->state = -1;
}

static long lcount(const lconn *ks, long n, int state)
{
    long c = 0;
    for (long i = 0; i < n; i++)
        c += ks[i].state == state;
    return c;
}

static int run_lunamq(const bench_opts *o)
{
    lmq_loop *loop = lmq_loop_new();
    lconn *ks = calloc((size_t)o->n, sizeof *ks);
    int64_t t0 = now_ms(), end = t0 + (int64_t)BENCH_CONNECT_S * 1000, hold_end;
    long up;
    int rc = 1;

    if (!loop || !ks)
        goto out;
    for (long i = 0; i < o->n; i++) {
        char id[64];
        lmq_client *c = lmq_client_new();

        ks[i].c = c;
        if (!c) {
            ks[i].state = -1;
            continue;
        }
        snprintf(id, sizeof id, "bench-conns-%d-%ld", (int)getpid(), i);
        lmq_client_set_str(c, LMQ_OPT_HOST, o->host, -1);
        lmq_client_set_int(c, LMQ_OPT_PORT, o->port);
        lmq_client_set_str(c, LMQ_OPT_CLIENT_ID, id, -1);
        lmq_client_set_int(c, LMQ_OPT_PROTOCOL, LMQ_MQTT_311);
        lmq_client_set_int(c, LMQ_OPT_RECONNECT, 0);
        lmq_client_set_int(c, LMQ_OPT_KEEPALIVE, 60);
        lmq_client_set_callback(c, lmq_on_event, &ks[i], NULL);
        if (lmq_client_attach(c, loop) < 0 || lmq_client_connect(c) < 0)
            ks[i].state = -1;
        /* take CONNACKs as they come, so the broker's backlog stays short */
        if (i % 100 == 99)
            lmq_loop_run(loop, 2);
    }
    while (lcount(ks, o->n, 0) > 0 && now_ms() < end)
        lmq_loop_run(loop, 1);
    up = lcount(ks, o->n, 1);
    hold_end = now_ms() + (int64_t)(o->hold * 1000);
    while (now_ms() < hold_end)
        lmq_loop_run(loop, 1);
    printf("result lib=lunamq role=conns clients=%ld connected=%ld failed=%ld connect_s=%.3f\n",
           o->n, lcount(ks, o->n, 1), o->n - up, (double)(hold_end - t0) / 1e3 - o->hold);
    rc = lcount(ks, o->n, 1) == o->n ? 0 : 1;
out:
    for (long i = 0; ks && i < o->n; i++)
        lmq_client_free(ks[i].c);
    free(ks);
    lmq_loop_free(loop);
    return rc;
}

/* ------------------------------------------------------------- libmosquitto */

#ifdef LMQ_BENCH_HAVE_MOSQUITTO
typedef struct conn {
    struct mosquitto *m;
    int state;                  /* 0 waiting for CONNACK, 1 connected, -1 failed */
} conn;

static void on_connect(struct mosquitto *m, void *ud, int rc)
{
    conn *k = ud;
    (void)m;
    k->state = rc == 0 ? 1 : -1;
}

static void on_disconnect(struct mosquitto *m, void *ud, int rc)
{
    conn *k = ud;
    (void)m;
    (void)rc;
    k->state = -1;
}

/* libmosquitto 2.0 opens a socket pair in every handle (to interrupt its
 * loop), so one of its connections costs three descriptors; lunamq's one.
 * Raise the soft limit to what the worse needs, and the hard one too when
 * allowed (CAP_SYS_RESOURCE); else to the hard limit. */
/* One poll over every live socket, then the reads, writes and timers. */
static void turn(conn *ks, struct pollfd *pf, long n, int ms)
{
    long np = 0;

    for (long i = 0; i < n; i++) {
        int fd = ks[i].state >= 0 ? mosquitto_socket(ks[i].m) : -1;
        pf[i].fd = fd;
        pf[i].events = (short)(POLLIN | (fd >= 0 && mosquitto_want_write(ks[i].m) ? POLLOUT : 0));
        pf[i].revents = 0;
        np += fd >= 0;
    }
    if (np == 0)
        return;
    poll(pf, (nfds_t)n, ms);
    for (long i = 0; i < n; i++) {
        if (pf[i].fd < 0)
            continue;
        if (pf[i].revents & (POLLIN | POLLERR | POLLHUP))
            mosquitto_loop_read(ks[i].m, 1);
        if (pf[i].revents & POLLOUT)
            mosquitto_loop_write(ks[i].m, 1);
        mosquitto_loop_misc(ks[i].m);
    }
}

static long count_state(const conn *ks, long n, int state)
{
    long c = 0;
    for (long i = 0; i < n; i++)
        c += ks[i].state == state;
    return c;
}

static int run_mosquitto(const bench_opts *o)
{
    const char *host = o->host;
    int port = o->port, rc = 1;
    long n = o->n;
    double hold = o->hold;
    conn *ks = NULL;
    struct pollfd *pf = NULL;
    int64_t t0, end, hold_end;

    mosquitto_lib_init();
    ks = calloc((size_t)n, sizeof *ks);
    pf = calloc((size_t)n, sizeof *pf);
    if (!ks || !pf)
        goto out;
    t0 = now_ms();
    end = t0 + (int64_t)BENCH_CONNECT_S * 1000;
    for (long i = 0; i < n; i++) {
        char id[64];

        snprintf(id, sizeof id, "bench-conns-%d-%ld", (int)getpid(), i);
        ks[i].m = mosquitto_new(id, true, &ks[i]);
        if (!ks[i].m) {
            ks[i].state = -1;
            continue;
        }
        mosquitto_int_option(ks[i].m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
        mosquitto_connect_callback_set(ks[i].m, on_connect);
        mosquitto_disconnect_callback_set(ks[i].m, on_disconnect);
        /* blocking TCP connect, then CONNECT written */
        if (mosquitto_connect(ks[i].m, host, port, 60) != MOSQ_ERR_SUCCESS)
            ks[i].state = -1;
        /* take CONNACKs as they come, so the broker's backlog stays short */
        if (i % 100 == 99)
            turn(ks, pf, i + 1, 0);
    }
    while (count_state(ks, n, 0) > 0 && now_ms() < end)
        turn(ks, pf, n, 50);
    {
        long up = count_state(ks, n, 1);
        double secs = (double)(now_ms() - t0) / 1e3;
        hold_end = now_ms() + (int64_t)(hold * 1000);
        while (now_ms() < hold_end)
            turn(ks, pf, n, 100);
        /* connected= counts the handles still up at the end of the hold */
        printf("result lib=mosquitto role=conns clients=%ld connected=%ld failed=%ld "
               "connect_s=%.3f\n",
               n, count_state(ks, n, 1), n - up, secs);
        rc = count_state(ks, n, 1) == n ? 0 : 1;
    }
out:
    for (long i = 0; ks && i < n; i++)
        if (ks[i].m)
            mosquitto_destroy(ks[i].m);
    free(ks);
    free(pf);
    mosquitto_lib_cleanup();
    return rc;
}
#endif

int main(int argc, char **argv)
{
    bench_opts o = { NULL, "127.0.0.1", 0, 1000, 2 };
    int rc = 2;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--lib"))
            o.lib = argv[i + 1];
        else if (!strcmp(argv[i], "--port"))
            o.port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--host"))
            o.host = argv[i + 1];
        else if (!strcmp(argv[i], "--count"))
            o.n = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--hold"))
            o.hold = atof(argv[i + 1]);
    }
    if (!o.lib || o.port <= 0 || o.n < 1 || o.hold < 0 || (argc - 1) % 2) {
        fprintf(stderr, "usage: bench_conns --lib lunamq|mosquitto --port P [--host H]"
                        " [--count N] [--hold S]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    alarm(BENCH_WATCHDOG_S);
    raise_nofile(o.n);
    if (!strcmp(o.lib, "lunamq"))
        rc = run_lunamq(&o);
#ifdef LMQ_BENCH_HAVE_MOSQUITTO
    else if (!strcmp(o.lib, "mosquitto"))
        rc = run_mosquitto(&o);
#endif
    else
        fprintf(stderr, "bench_conns: no library '%s' here\n", o.lib);
    return rc;
}
