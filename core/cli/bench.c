/*
 * bench.c - `lunamq bench conn|pub|sub`, in the manner of emqtt-bench:
 * N clients on one libev loop in one process, each connecting, then (pub)
 * publishing at a pace or flat out within an inflight window, or (sub)
 * subscribing and timing what arrives.  A progress line a second on
 * stderr; a summary at the end on stdout (one JSON object with --json).
 *
 * Payloads of 16 bytes or more carry "lmqbench" and the wall-clock send
 * time in nanoseconds, so a `bench sub` (in this or another process on
 * the same host) reports end-to-end latency percentiles.
 */
#define _GNU_SOURCE
#include <ev.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli.h"

#define BENCH_MAGIC "lmqbench"
#define BENCH_STAMP 16          /* magic + int64 send time */
#define HIST_SUB 32             /* buckets per power of two */
#define HIST_N 1400

enum { MODE_CONN, MODE_PUB, MODE_SUB };

/* Log-linear histogram of microseconds (3% resolution). */
typedef struct hist {
    uint64_t n[HIST_N];
    uint64_t total;
} hist;

typedef struct bench bench;

typedef struct bclient {
    bench *b;
    lmq_client *c;
    int idx;
    int connected;
    int ever;                   /* got a CONNACK once */
    int done;                   /* stopped: failed, or disconnected at the end */
    int64_t sent, completed;
    int64_t next_due_ns;
    int64_t start_ns;
    char topic[256];
} bclient;

struct bench {
    cli_conn conn;
    int mode;
    int64_t clients;
    double conn_interval_ms;
    const char *topic;
    int qos, retain;
    int64_t size;
    double msg_interval_ms;     /* -I: per client */
    double rate;                /* --rate: all clients together */
    int64_t limit;              /* per client, 0: none */
    int64_t inflight;
    double duration_s;
    int json;

    struct ev_loop *ev;
    lmq_loop *loop;
    bclient *cl;
    int64_t started;            /* clients started so far */
    int64_t interval_ns;        /* per client, 0: flat out */
    ev_timer start_t, tick_t, progress_t, end_t;
    ev_signal sig_int, sig_term;
    char *payload;

    int64_t t0_ns;
    int64_t n_connected, n_failed, n_reconnects, n_lost;
    int64_t pub_sent, pub_done, pub_failed, recv, recv_bytes;
    int64_t last_pub, last_recv;
    hist lat, lat_tick, conn_lat;
    int stopping;
    int exit_code;
};

static const char bench_usage[] =
    "Usage: lunamq bench conn|pub|sub [options]\n\n"
    "  -c N               clients (default 1), all on one loop\n"
    "  -i MS              pause between two clients' connects (default 0)\n"
    "  -t TOPIC           topic (pub) or filter (sub); %i is the client index\n"
    "                     (defaults bench/%i and bench/#)\n"
    "  -q QOS             0, 1 or 2;  -r: retained\n"
    "  -s BYTES           payload size (default 256; >= 16 carries a timestamp)\n"
    "  -I MS              pause between two messages of a client\n"
    "  --rate N           messages per second, all clients together\n"
    "                     (neither -I nor --rate: flat out)\n"
    "  --limit N          messages per client, then stop (pub)\n"
    "  --inflight N       unfinished messages per client (default 64)\n"
    "  --duration S       stop after S seconds\n"
    "  --json             the summary as one JSON object\n\n";

/* ------------------------------------------------------------- histogram */

static int hist_index(uint64_t us)
{
    if (us < HIST_SUB)
        return (int)us;
    int e = 63 - __builtin_clzll(us);   /* >= 5 */
    int idx = (e - 4) * HIST_SUB + (int)((us >> (e - 5)) - HIST_SUB);
    return idx < HIST_N ? idx : HIST_N - 1;
}

static double hist_value_ms(int idx)
{
    if (idx < HIST_SUB)
        return idx / 1000.0;
    int e = idx / HIST_SUB + 4;
    uint64_t lo = (uint64_t)(idx % HIST_SUB + HIST_SUB) << (e - 5);
    uint64_t width = (uint64_t)1 << (e - 5);
    return ((double)lo + (double)width / 2) / 1000.0;
}

static void hist_add(hist *h, int64_t ns)
{
    h->n[hist_index(ns > 0 ? (uint64_t)ns / 1000 : 0)]++;
    h->total++;
}

/* The p-th percentile in ms; -1 when empty. */
static double hist_pct(const hist *h, double p)
{
    uint64_t want = (uint64_t)((double)h->total * p / 100.0 + 0.5), cum = 0;

    if (!h->total)
        return -1;
    if (want < 1)
        want = 1;
    for (int i = 0; i < HIST_N; i++) {
        cum += h->n[i];
        if (cum >= want)
            return hist_value_ms(i);
    }
    return hist_value_ms(HIST_N - 1);
}

/* -------------------------------------------------------------- clients */

static void stop_all(bench *b, int code);

static void pattern(char *out, size_t cap, const char *pat, int idx)
{
    size_t o = 0;

    for (const char *p = pat; *p && o + 1 < cap; p++) {
        if (p[0] == '%' && p[1] == 'i') {
            int n = snprintf(out + o, cap - o, "%d", idx);
            o += n > 0 ? (size_t)n : 0;
            p++;
        } else {
            out[o++] = *p;
        }
    }
    out[o < cap ? o : cap - 1] = '\0';
}

static void publish_one(bclient *k)
{
    bench *b = k->b;
    int64_t now = cli_wall_ns();

    if (b->size >= BENCH_STAMP)
        memcpy(b->payload + 8, &now, sizeof now);
    int rc = lmq_client_publish(k->c, k->topic, -1, b->payload, (int32_t)b->size,
                                b->qos, b->retain, NULL);
    if (rc < 0) {
        b->pub_failed++;
        return;
    }
    k->sent++;
    b->pub_sent++;
}

/* Publish what is due for one client. */
static void client_pump(bclient *k, int64_t now)
{
    bench *b = k->b;

    while (k->connected && !b->stopping && k->sent - k->completed < b->inflight &&
           (!b->limit || k->sent < b->limit)) {
        if (b->interval_ns) {
            if (now < k->next_due_ns)
                break;
            k->next_due_ns += b->interval_ns;
            /* fallen far behind (window full): do not burst to catch up */
            if (k->next_due_ns < now - 1000000000LL)
                k->next_due_ns = now;
        }
        publish_one(k);
    }
}

static int all_published(const bench *b)
{
    if (!b->limit || b->started < b->clients)
        return 0;
    for (int64_t i = 0; i < b->clients; i++)
        if (!b->cl[i].done && b->cl[i].completed < b->limit)
            return 0;
    return 1;
}

static int all_done(const bench *b)
{
    for (int64_t i = 0; i < b->started; i++)
        if (!b->cl[i].done)
            return 0;
    return 1;
}

static void on_message(bench *b, const lmq_event *ev)
{
    int64_t sent;

    b->recv++;
    b->recv_bytes += ev->payload_len;
    if (ev->payload_len >= BENCH_STAMP && !memcmp(ev->payload, BENCH_MAGIC, 8)) {
        memcpy(&sent, (const char *)ev->payload + 8, sizeof sent);
        int64_t lat = cli_wall_ns() - sent;
        hist_add(&b->lat, lat);
        hist_add(&b->lat_tick, lat);
    }
}

static void on_connected(bclient *k)
{
    bench *b = k->b;

    if (k->ever) {
        b->n_reconnects++;
    } else {
        k->ever = 1;
        hist_add(&b->conn_lat, cli_now_ns() - k->start_ns);
    }
    k->connected = 1;
    b->n_connected++;
    k->next_due_ns = cli_now_ns();
    if (b->mode == MODE_SUB) {
        lmq_subscription s = { k->topic, -1, b->qos };
        /* after a reconnect the library renews it */
        if (k->ever == 1 && lmq_client_subscribe(k->c, &s, 1, NULL) < 0)
            cli_err(&b->conn, "client %d: subscribe: %s", k->idx, lmq_client_errmsg(k->c));
        k->ever = 2;
    }
}

static void on_event(lmq_client *c, const lmq_event *ev, void *ud)
{
    bclient *k = ud;
    bench *b = k->b;

    (void)c;
    switch (ev->type) {
    case LMQ_EV_CONNECTED:
        on_connected(k);
        break;
    case LMQ_EV_CONNECT_FAILED:
        if (!k->ever && !b->stopping) {
            b->n_failed++;
            if (b->n_failed == 1)
                cli_err(&b->conn, "client %d: %s", k->idx,
                        ev->reason ? cli_connack_text(b->conn.protocol, ev->reason)
                                   : ev->text && *ev->text ? ev->text : lmq_strerror(ev->error));
        }
        if (!k->ever || b->stopping)
            k->done = 1;
        break;
    case LMQ_EV_DISCONNECTED:
        if (k->connected)
            b->n_connected--;
        k->connected = 0;
        if (b->stopping)
            k->done = 1;
        else
            b->n_lost++;
        break;
    case LMQ_EV_PUBLISHED:
        k->completed++;
        b->pub_done++;
        if (ev->error || ev->reason >= 0x80)
            b->pub_failed++;
        /* QoS 0 completes when written: topping up here would never give
         * the loop back; the tick does it.  Acks need reads, so at QoS 1
         * and 2 this is bounded by the window. */
        if (b->qos > 0)
            client_pump(k, cli_now_ns());
        if (b->limit && all_published(b))
            stop_all(b, CLI_EXIT_OK);
        break;
    case LMQ_EV_MESSAGE:
        on_message(b, ev);
        break;
    case LMQ_EV_SUBSCRIBED:
        if (ev->n_reasons && ev->reasons[0] >= 0x80)
            cli_err(&b->conn, "client %d: subscription refused (0x%02x)", k->idx, ev->reasons[0]);
        break;
    default:
        break;
    }
    if (b->stopping && all_done(b))
        ev_break(b->ev, EVBREAK_ALL);
}

static int start_client(bench *b, int64_t i)
{
    bclient *k = &b->cl[i];
    char id[96];

    k->b = b;
    k->idx = (int)i;
    k->c = lmq_client_new();
    if (!k->c)
        return -1;
    pattern(k->topic, sizeof k->topic, b->topic, (int)i);
    snprintf(id, sizeof id, "lunamq-bench-%s-%ld-%lld",
             b->mode == MODE_CONN ? "conn" : b->mode == MODE_PUB ? "pub" : "sub",
             (long)getpid(), (long long)i);
    if (cli_conn_apply(&b->conn, k->c, id) < 0)
        return -1;
    if (b->conn.id_prefix || b->conn.id) {
        /* every client needs its own id: the index goes after the given one */
        char own[160];
        snprintf(own, sizeof own, "%s%s%lld", b->conn.id ? b->conn.id : b->conn.id_prefix,
                 "-", (long long)i);
        lmq_client_set_str(k->c, LMQ_OPT_CLIENT_ID, own, -1);
    }
    lmq_client_set_callback(k->c, on_event, k, NULL);
    k->start_ns = cli_now_ns();
    b->started++;
    if (lmq_client_attach(k->c, b->loop) < 0 || lmq_client_connect(k->c) < 0) {
        b->n_failed++;
        k->done = 1;
        cli_err(&b->conn, "client %lld: %s", (long long)i, lmq_client_errmsg(k->c));
    }
    return 0;
}

/* --------------------------------------------------------------- timers */

static void on_start(struct ev_loop *loop, ev_timer *w, int revents)
{
    bench *b = w->data;

    (void)loop;
    (void)revents;
    /* interval 0: everyone at once; otherwise one per tick of -i */
    do {
        if (start_client(b, b->started) < 0) {
            stop_all(b, CLI_EXIT_FAIL);
            return;
        }
    } while (b->conn_interval_ms <= 0 && b->started < b->clients);
    if (b->started >= b->clients)
        ev_timer_stop(b->ev, w);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    bench *b = w->data;
    int64_t now = cli_now_ns();

    (void)loop;
    (void)revents;
    for (int64_t i = 0; i < b->started && !b->stopping; i++)
        client_pump(&b->cl[i], now);
}

static void on_progress(struct ev_loop *loop, ev_timer *w, int revents)
{
    bench *b = w->data;
    double secs = (double)(cli_now_ns() - b->t0_ns) / 1e9;

    (void)loop;
    (void)revents;
    fprintf(stderr, "%6.0fs conn %lld/%lld", secs, (long long)b->n_connected,
            (long long)b->clients);
    if (b->mode == MODE_PUB)
        fprintf(stderr, "  pub %lld msg/s total %lld", (long long)(b->pub_done - b->last_pub),
                (long long)b->pub_done);
    if (b->mode == MODE_SUB)
        fprintf(stderr, "  recv %lld msg/s total %lld", (long long)(b->recv - b->last_recv),
                (long long)b->recv);
    if (b->lat_tick.total)
        fprintf(stderr, "  p50 %.2fms p99 %.2fms", hist_pct(&b->lat_tick, 50),
                hist_pct(&b->lat_tick, 99));
    fprintf(stderr, "  reconnects %lld\n", (long long)b->n_reconnects);
    b->last_pub = b->pub_done;
    b->last_recv = b->recv;
    memset(&b->lat_tick, 0, sizeof b->lat_tick);
}

static void stop_all(bench *b, int code)
{
    if (code > b->exit_code)
        b->exit_code = code;
    if (b->stopping)
        return;
    b->stopping = 1;
    ev_timer_stop(b->ev, &b->start_t);
    ev_timer_stop(b->ev, &b->tick_t);
    ev_timer_stop(b->ev, &b->end_t);
    for (int64_t i = 0; i < b->started; i++) {
        bclient *k = &b->cl[i];
        if (k->done)
            continue;
        /* connected: DISCONNECTED will say it is over; otherwise the
         * attempt or the wait for the next one is simply cancelled */
        if (lmq_client_disconnect(k->c, 0, NULL) < 0 || !k->connected)
            k->done = 1;
    }
    if (all_done(b))
        ev_break(b->ev, EVBREAK_ALL);
}

static void on_end(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    stop_all(w->data, CLI_EXIT_OK);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)revents;
    stop_all(w->data, CLI_EXIT_OK);
}

static void summary(const bench *b)
{
    double secs = (double)(cli_now_ns() - b->t0_ns) / 1e9;
    static const char *const modes[] = { "conn", "pub", "sub" };
    int64_t ok = 0;

    for (int64_t i = 0; i < b->started; i++)
        ok += b->cl[i].ever != 0;
    if (b->json) {
        printf("{\"mode\":\"%s\",\"clients\":%lld,\"connected\":%lld,\"failed\":%lld,"
               "\"reconnects\":%lld,\"seconds\":%.3f,\"connect_p50_ms\":%.3f,"
               "\"connect_p99_ms\":%.3f,\"published\":%lld,\"publish_failed\":%lld,"
               "\"received\":%lld,\"received_bytes\":%lld,\"pub_rate\":%.1f,"
               "\"recv_rate\":%.1f,\"latency_p50_ms\":%.3f,\"latency_p99_ms\":%.3f}\n",
               modes[b->mode], (long long)b->clients, (long long)ok, (long long)b->n_failed,
               (long long)b->n_reconnects, secs, hist_pct(&b->conn_lat, 50),
               hist_pct(&b->conn_lat, 99), (long long)b->pub_done, (long long)b->pub_failed,
               (long long)b->recv, (long long)b->recv_bytes,
               secs > 0 ? (double)b->pub_done / secs : 0, secs > 0 ? (double)b->recv / secs : 0,
               hist_pct(&b->lat, 50), hist_pct(&b->lat, 99));
    } else {
        printf("%s: %lld clients, %lld connected, %lld failed, %lld reconnects in %.2f s\n",
               modes[b->mode], (long long)b->clients, (long long)ok, (long long)b->n_failed,
               (long long)b->n_reconnects, secs);
        if (b->conn_lat.total)
            printf("connect: p50 %.2f ms, p99 %.2f ms\n", hist_pct(&b->conn_lat, 50),
                   hist_pct(&b->conn_lat, 99));
        if (b->mode == MODE_PUB)
            printf("published: %lld (%lld failed), %.1f msg/s\n", (long long)b->pub_done,
                   (long long)b->pub_failed, secs > 0 ? (double)b->pub_done / secs : 0);
        if (b->mode == MODE_SUB)
            printf("received: %lld (%lld bytes), %.1f msg/s\n", (long long)b->recv,
                   (long long)b->recv_bytes, secs > 0 ? (double)b->recv / secs : 0);
        if (b->lat.total)
            printf("latency: p50 %.2f ms, p99 %.2f ms\n", hist_pct(&b->lat, 50),
                   hist_pct(&b->lat, 99));
    }
    fflush(stdout);
}

/* ----------------------------------------------------------------- setup */

static int num(bench *b, const char *f, const char *v, double lo, double hi, double *out)
{
    char *end;
    double d = strtod(v, &end);

    if (*end || !*v || !(d >= lo && d <= hi)) {
        cli_err(&b->conn, "%s: '%s' is not a number in [%g, %g]", f, v, lo, hi);
        return -1;
    }
    *out = d;
    return 0;
}

/* bench's own flags, read before the shared ones: -c, -i and -I mean
 * what they mean to emqtt-bench here. 1 taken, 0 not ours, -1 bad. */
static int bench_flag(bench *b, int argc, char **argv, int *i)
{
    static const char *const valued[] = {
        "-c", "-i", "-t", "-q", "-s", "-I", "--rate", "--limit", "--inflight", "--duration", NULL,
    };
    const char *f = argv[*i], *v;
    double d;
    int k;

    if (!strcmp(f, "-r")) { b->retain = 1; return 1; }
    if (!strcmp(f, "--json")) { b->json = 1; return 1; }
    for (k = 0; valued[k] && strcmp(f, valued[k]); k++)
        ;
    if (!valued[k])
        return 0;
    if (!(v = cli_value(b->conn.prog, argc, argv, i)))
        return -1;
    switch (k) {
    case 0: if (num(b, f, v, 1, 1000000, &d) < 0) return -1; b->clients = (int64_t)d; break;
    case 1: if (num(b, f, v, 0, 3600000, &d) < 0) return -1; b->conn_interval_ms = d; break;
    case 2: b->topic = v; break;
    case 3: if (num(b, f, v, 0, 2, &d) < 0) return -1; b->qos = (int)d; break;
    case 4: if (num(b, f, v, 0, 268435455, &d) < 0) return -1; b->size = (int64_t)d; break;
    case 5: if (num(b, f, v, 0, 3600000, &d) < 0) return -1; b->msg_interval_ms = d; break;
    case 6: if (num(b, f, v, 0, 1e9, &d) < 0) return -1; b->rate = d; break;
    case 7: if (num(b, f, v, 0, 1e12, &d) < 0) return -1; b->limit = (int64_t)d; break;
    case 8: if (num(b, f, v, 1, 65535, &d) < 0) return -1; b->inflight = (int64_t)d; break;
    default: if (num(b, f, v, 0, 1e7, &d) < 0) return -1; b->duration_s = d; break;
    }
    return 1;
}

/* 1 parsed, 0 --help, -1 bad */
static int parse(bench *b, int argc, char **argv)
{
    if (argc < 2) {
        cli_err(&b->conn, "which mode: conn, pub or sub? (try --help)");
        return -1;
    }
    if (!strcmp(argv[1], "--help"))
        return 0;
    if (!strcmp(argv[1], "conn")) b->mode = MODE_CONN;
    else if (!strcmp(argv[1], "pub")) b->mode = MODE_PUB;
    else if (!strcmp(argv[1], "sub")) b->mode = MODE_SUB;
    else {
        cli_err(&b->conn, "unknown mode '%s' (conn, pub or sub)", argv[1]);
        return -1;
    }
    for (int i = 2; i < argc; i++) {
        int rc = bench_flag(b, argc, argv, &i);
        if (rc == 0)
            rc = cli_conn_flag(&b->conn, argc, argv, &i);
        if (rc < 0)
            return -1;
        if (rc > 0)
            continue;
        if (!strcmp(argv[i], "--help"))
            return 0;
        cli_err(&b->conn, "unknown option '%s' (try --help)", argv[i]);
        return -1;
    }
    if (!b->topic)
        b->topic = b->mode == MODE_SUB ? "bench/#" : "bench/%i";
    char t[256];
    pattern(t, sizeof t, b->topic, 0);
    int rc = b->mode == MODE_SUB ? lmq_topic_validate_filter(t, -1)
                                 : lmq_topic_validate_name(t, -1);
    if (rc < 0) {
        cli_err(&b->conn, "-t '%s': %s", b->topic, lmq_strerror(rc));
        return -1;
    }
    if (b->rate && b->msg_interval_ms) {
        cli_err(&b->conn, "--rate and -I set the same pace: give one");
        return -1;
    }
    /* the engine resolves names on a thread per client: a numeric
     * default spares thousands of lookups of "localhost" */
    if (!b->conn.host && !b->conn.unix_path)
        b->conn.host = "127.0.0.1";
    return cli_conn_check(&b->conn) < 0 ? -1 : 1;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int run(bench *b)
{
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    b->ev = ev_loop_new(EVFLAG_AUTO);
    b->loop = b->ev ? lmq_loop_wrap(b->ev) : NULL;
    b->cl = calloc((size_t)b->clients, sizeof *b->cl);
    b->payload = malloc((size_t)b->size + 1);
    if (!b->loop || !b->cl || !b->payload) {
        cli_err(&b->conn, "out of memory");
        return CLI_EXIT_FAIL;
    }
    memset(b->payload, 'x', (size_t)b->size);
    if (b->size >= BENCH_STAMP)
        memcpy(b->payload, BENCH_MAGIC, 8);
    if (b->rate > 0)
        b->interval_ns = (int64_t)(1e9 * (double)b->clients / b->rate);
    else if (b->msg_interval_ms > 0)
        b->interval_ns = (int64_t)(b->msg_interval_ms * 1e6);

    double tick = b->interval_ns ? (double)b->interval_ns / 4e9 : 0.001;
    tick = tick < 0.001 ? 0.001 : tick > 0.05 ? 0.05 : tick;
    ev_timer_init(&b->start_t, on_start, 0.0, b->conn_interval_ms / 1000.0);
    ev_timer_init(&b->tick_t, on_tick, tick, tick);
    ev_timer_init(&b->progress_t, on_progress, 1.0, 1.0);
    ev_timer_init(&b->end_t, on_end, b->duration_s, 0.0);
    ev_signal_init(&b->sig_int, on_signal, SIGINT);
    ev_signal_init(&b->sig_term, on_signal, SIGTERM);
    b->start_t.data = b->tick_t.data = b->progress_t.data = b->end_t.data = b;
    b->sig_int.data = b->sig_term.data = b;
    b->t0_ns = cli_now_ns();
    ev_timer_start(b->ev, &b->start_t);
    ev_timer_start(b->ev, &b->progress_t);
    if (b->mode == MODE_PUB)
        ev_timer_start(b->ev, &b->tick_t);
    if (b->duration_s > 0)
        ev_timer_start(b->ev, &b->end_t);
    ev_signal_start(b->ev, &b->sig_int);
    ev_signal_start(b->ev, &b->sig_term);
    lmq_loop_run(b->loop, 0);
    summary(b);
    if (b->n_failed && b->n_failed == b->clients && b->exit_code == 0)
        b->exit_code = CLI_EXIT_FAIL;
    return b->exit_code;
}

int cli_bench_main(int argc, char **argv)
{
    bench *b = calloc(1, sizeof *b);
    int rc;

    if (!b)
        return CLI_EXIT_FAIL;
    cli_conn_init(&b->conn, "lunamq bench");
    b->clients = 1;
    b->size = 256;
    b->inflight = 64;
    rc = parse(b, argc, argv);
    if (rc == 0) {
        printf("%s%s", bench_usage, cli_conn_usage);
        rc = CLI_EXIT_OK;
    } else if (rc < 0) {
        rc = CLI_EXIT_USAGE;
    } else {
        rc = run(b);
    }
    for (int64_t i = 0; b->cl && i < b->started; i++)
        lmq_client_free(b->cl[i].c);
    if (b->ev) {
        ev_timer_stop(b->ev, &b->start_t);
        ev_timer_stop(b->ev, &b->tick_t);
        ev_timer_stop(b->ev, &b->progress_t);
        ev_timer_stop(b->ev, &b->end_t);
        ev_signal_stop(b->ev, &b->sig_int);
        ev_signal_stop(b->ev, &b->sig_term);
    }
    lmq_loop_free(b->loop);
    if (b->ev)
        ev_loop_destroy(b->ev);
    free(b->cl);
    free(b->payload);
    cli_conn_free(&b->conn);
    free(b);
    return rc;
}
