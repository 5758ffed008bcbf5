/*
 * metrics.c - a lunamq plugin that counts what the client does and serves
 * the figures as Prometheus text (exposition format 0.0.4) over HTTP on a
 * loopback port, on the engine's own loop: no thread.
 *
 * The listening socket and every scrape connection are non-blocking and
 * watched with api->watch_fd when the client runs on the libev driver;
 * under the external driver (no loop of the engine's) they are polled from
 * the tick hook instead, and watch_fd is tried again at each tick so the
 * plugin moves onto the loop once one is attached.  A scrape reads one
 * request, answers it (GET /metrics: 200, anything else 404 or 405) with
 * Connection: close and closes; a client that is slow to send or to read
 * only holds its own slot until a deadline, never the loop.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lunamq_plugin.h"

#define MAX_CONNS 16
#define REQ_MAX 4096             /* request head bigger than this: 431 */
#define CONN_DEADLINE_MS 5000    /* a scrape must be done within this */
#define POLL_TICK_MS 50          /* tick while polling (no loop to watch in) */
#define LOOP_TICK_MS 1000        /* tick on the loop: deadlines only */
#define APP_NAMES 64             /* distinct app event names; more: "other" */

/* Publish-to-ack latency buckets, seconds (the upper bounds, le). */
static const double buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                  0.25,  0.5,    1.0,   2.5,  5.0,   10.0 };
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

typedef struct hist {
    uint64_t le[NBUCKETS];        /* cumulative when printed, not when counted */
    uint64_t count;
    double sum;
} hist;

/* One name of lmq_client_plugin_event (1-255 bytes, the engine checked). */
typedef struct app_event {
    char name[256];
    int32_t len;
    uint64_t sum;
} app_event;

typedef struct conn {
    int fd;                       /* -1: free slot */
    int events;                   /* what is watched */
    char req[REQ_MAX];
    size_t req_n;
    char *out;                    /* the response */
    size_t out_n, out_off;
    int64_t deadline;
} conn;

typedef struct metrics {
    const lmq_plugin_api *api;
    int lfd;
    int on_loop;                  /* watched by the engine's loop */
    int listen_paused;            /* on the loop, lfd unwatched after an
                                     accept error until the next tick */
    int port;
    uint32_t bind_addr;           /* network order */
    conn conns[MAX_CONNS];

    uint64_t msgs[2][3], bytes[2][3];   /* [in, out][qos] */
    uint64_t failed[3];                 /* publishes that failed, by qos */
    hist lat[3];                        /* qos 1, 2 used */
    uint64_t connects, refused, disconnects, reconnects, scrapes, subscribed;
    app_event app[APP_NAMES];           /* on_app_event, first come */
    int n_app;
    uint64_t app_other;                 /* names past APP_NAMES */
    int app_overflow;                   /* app_other is shown */
} metrics;

/* ------------------------------------------------------------ buffers */

typedef struct buf {
    char *p;
    size_t n, cap;
    int oom;
} buf;

static void bprintf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void bprintf(buf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        size_t room = b->cap - b->n;
        va_start(ap, fmt);
        int k = b->p ? vsnprintf(b->p + b->n, room, fmt, ap) : -1;
        va_end(ap);
        if (k >= 0 && (size_t)k < room) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (k >= 0 && cap - b->n <= (size_t)k)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

/* ------------------------------------------------------ the exposition */

static void counter(buf *b, const char *name, const char *help)
{
    bprintf(b, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
}

/* A counter without labels. */
static void counter1(buf *b, const char *name, const char *help, uint64_t v)
{
    counter(b, name, help);
    bprintf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge(buf *b, const char *name, const char *help, int64_t v)
{
    bprintf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", name, help, name, name,
            (long long)v);
}

/* A label value as the text format wants it: \\, \" and \n escaped. */
static void label_value(buf *b, const char *s, int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        if (s[i] == '\\')
            bprintf(b, "\\\\");
        else if (s[i] == '"')
            bprintf(b, "\\\"");
        else if (s[i] == '\n')
            bprintf(b, "\\n");
        else
            bprintf(b, "%c", s[i]);
    }
}

static int64_t stat_of(const metrics *m, int which)
{
    int64_t v = m->api->stat(m->api, which);
    return v < 0 ? 0 : v;
}

static void render(metrics *m, buf *b)
{
    static const char *dir[2] = { "in", "out" };

    counter(b, "lunamq_messages_total", "PUBLISH messages by direction and QoS.");
    for (int d = 0; d < 2; d++)
        for (int q = 0; q < 3; q++)
            bprintf(b, "lunamq_messages_total{direction=\"%s\",qos=\"%d\"} %llu\n", dir[d], q,
                    (unsigned long long)m->msgs[d][q]);
    counter(b, "lunamq_payload_bytes_total", "Payload bytes by direction and QoS.");
    for (int d = 0; d < 2; d++)
        for (int q = 0; q < 3; q++)
            bprintf(b, "lunamq_payload_bytes_total{direction=\"%s\",qos=\"%d\"} %llu\n", dir[d],
                    q, (unsigned long long)m->bytes[d][q]);
    counter(b, "lunamq_publish_failed_total", "Published messages that failed, by QoS.");
    for (int q = 0; q < 3; q++)
        bprintf(b, "lunamq_publish_failed_total{qos=\"%d\"} %llu\n", q,
                (unsigned long long)m->failed[q]);

    const char *h = "lunamq_publish_ack_latency_seconds";
    bprintf(b, "# HELP %s From lmq_client_publish to PUBACK (QoS 1) or PUBCOMP (QoS 2).\n"
               "# TYPE %s histogram\n", h, h);
    for (int q = 1; q <= 2; q++) {
        uint64_t cum = 0;
        for (size_t i = 0; i < NBUCKETS; i++) {
            cum += m->lat[q].le[i];
            bprintf(b, "%s_bucket{qos=\"%d\",le=\"%g\"} %llu\n", h, q, buckets[i],
                    (unsigned long long)cum);
        }
        bprintf(b, "%s_bucket{qos=\"%d\",le=\"+Inf\"} %llu\n", h, q,
                (unsigned long long)m->lat[q].count);
        bprintf(b, "%s_sum{qos=\"%d\"} %.6f\n", h, q, m->lat[q].sum);
        bprintf(b, "%s_count{qos=\"%d\"} %llu\n", h, q, (unsigned long long)m->lat[q].count);
    }

    counter1(b, "lunamq_connects_total", "CONNACKs that accepted the connection.", m->connects);
    counter1(b, "lunamq_connects_refused_total", "CONNACKs that refused it.", m->refused);
    counter1(b, "lunamq_disconnects_total", "Connections lost or attempts failed.",
             m->disconnects);
    counter1(b, "lunamq_reconnects_total", "Reconnect attempts scheduled.", m->reconnects);
    counter1(b, "lunamq_subacks_total", "SUBACKs received.", m->subscribed);
    counter(b, "lunamq_plugin_dropped_total", "Messages a plugin of the chain dropped.");
    bprintf(b, "lunamq_plugin_dropped_total{direction=\"in\"} %lld\n",
            (long long)stat_of(m, LMQ_PLUGIN_STAT_DROPPED_IN));
    bprintf(b, "lunamq_plugin_dropped_total{direction=\"out\"} %lld\n",
            (long long)stat_of(m, LMQ_PLUGIN_STAT_DROPPED_OUT));
    counter(b, "lunamq_plugin_denied_subscribes_total", "Subscribe calls a plugin denied.");
    bprintf(b, "lunamq_plugin_denied_subscribes_total %lld\n",
            (long long)stat_of(m, LMQ_PLUGIN_STAT_SUBS_DENIED));

    gauge(b, "lunamq_connected", "1 while connected.", stat_of(m, LMQ_PLUGIN_STAT_CONNECTED));
    bprintf(b, "# HELP lunamq_queue_messages Messages waiting, by queue.\n"
               "# TYPE lunamq_queue_messages gauge\n");
    bprintf(b, "lunamq_queue_messages{queue=\"offline\"} %lld\n",
            (long long)stat_of(m, LMQ_PLUGIN_STAT_OFFLINE_MSGS));
    bprintf(b, "lunamq_queue_messages{queue=\"waiting\"} %lld\n",
            (long long)stat_of(m, LMQ_PLUGIN_STAT_WAITING_OUT));
    bprintf(b, "lunamq_queue_messages{queue=\"inflight_out\"} %lld\n",
            (long long)stat_of(m, LMQ_PLUGIN_STAT_INFLIGHT_OUT));
    bprintf(b, "lunamq_queue_messages{queue=\"inflight_in\"} %lld\n",
            (long long)stat_of(m, LMQ_PLUGIN_STAT_INFLIGHT_IN));
    gauge(b, "lunamq_offline_queue_bytes", "Bytes queued while not connected.",
          stat_of(m, LMQ_PLUGIN_STAT_OFFLINE_BYTES));
    counter(b, "lunamq_app_events_total",
            "Sum of the values of the application's events (lmq_client_plugin_event), by name.");
    for (int i = 0; i < m->n_app; i++) {
        bprintf(b, "lunamq_app_events_total{name=\"");
        label_value(b, m->app[i].name, m->app[i].len);
        bprintf(b, "\"} %llu\n", (unsigned long long)m->app[i].sum);
    }
    if (m->app_overflow)
        bprintf(b, "lunamq_app_events_total{name=\"other\"} %llu\n",
                (unsigned long long)m->app_other);
    counter1(b, "lunamq_metrics_scrapes_total", "GET /metrics served.", m->scrapes);
    gauge(b, "lunamq_metrics_on_loop",
          "1 when served on the engine's loop, 0 when polled from the tick.", m->on_loop);
}

/* ----------------------------------------------------------- HTTP */

static void conn_close(metrics *m, conn *c)
{
    if (c->fd < 0)
        return;
    if (c->events)
        m->api->unwatch_fd(m->api, c->fd);
    close(c->fd);
    free(c->out);
    c->out = NULL;
    c->fd = -1;
    c->events = 0;
}

static void conn_cb(void *ud, int32_t fd, int32_t revents);

/* Watch what c waits for next (on the loop only). */
static void conn_want(metrics *m, conn *c, int events)
{
    if (!m->on_loop || c->events == events)
        return;
    if (m->api->watch_fd(m->api, c->fd, events, conn_cb, m) == 0)
        c->events = events;
}

/* head: the answer to a HEAD, the length of what GET would send. */
static void respond(metrics *m, conn *c, const char *status, const char *type,
                    const buf *body, int head)
{
    buf r = { 0 };
    bprintf(&r, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                "Connection: close\r\n\r\n", status, type, body->n);
    if (body->n && !head)
        bprintf(&r, "%.*s", (int)body->n, body->p);
    if (r.oom) {
        free(r.p);
        conn_close(m, c);
        return;
    }
    c->out = r.p;
    c->out_n = r.n;
    c->out_off = 0;
}

static void answer(metrics *m, conn *c)
{
    buf body = { 0 };
    char method[8], path[256];

    c->req[c->req_n] = '\0';
    if (memchr(c->req, '\0', c->req_n) ||
        sscanf(c->req, "%7s %255s HTTP/1.%*c", method, path) != 2) {
        bprintf(&body, "bad request\n");
        respond(m, c, "400 Bad Request", "text/plain", &body, 0);
    } else if (strcmp(path, "/metrics") != 0 && strncmp(path, "/metrics?", 9) != 0) {
        bprintf(&body, "not found: try /metrics\n");
        respond(m, c, "404 Not Found", "text/plain", &body, 0);
    } else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        bprintf(&body, "only GET\n");
        respond(m, c, "405 Method Not Allowed", "text/plain", &body, 0);
    } else {
        m->scrapes++;
        render(m, &body);
        respond(m, c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", &body,
                !strcmp(method, "HEAD"));
    }
    free(body.p);
}

/* Read what is there; answer once the head is whole; write what fits. */
static void conn_step(metrics *m, conn *c)
{
    while (!c->out) {
        ssize_t k = recv(c->fd, c->req + c->req_n, REQ_MAX - 1 - c->req_n, 0);
        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            conn_close(m, c);
            return;
        }
        if (k < 0) {
            if (errno == EINTR)
                continue;
            conn_want(m, c, LMQ_PLUGIN_WATCH_READ);
            return;
        }
        c->req_n += (size_t)k;
        c->req[c->req_n] = '\0';
        /* memmem: a NUL in the request must not hide its end. */
        if (memmem(c->req, c->req_n, "\r\n\r\n", 4) || memmem(c->req, c->req_n, "\n\n", 2)) {
            answer(m, c);
            if (c->fd < 0)
                return;
        } else if (c->req_n == REQ_MAX - 1) {
            buf body = { 0 };
            respond(m, c, "431 Request Header Fields Too Large", "text/plain", &body, 0);
            if (c->fd < 0)
                return;
        }
    }
    while (c->out_off < c->out_n) {
        ssize_t k = send(c->fd, c->out + c->out_off, c->out_n - c->out_off, MSG_NOSIGNAL);
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            conn_want(m, c, LMQ_PLUGIN_WATCH_WRITE);
            return;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        c->out_off += (size_t)k;
    }
    conn_close(m, c);
}

static void conn_cb(void *ud, int32_t fd, int32_t revents)
{
    metrics *m = ud;
    (void)revents;
    for (int i = 0; i < MAX_CONNS; i++)
        if (m->conns[i].fd == fd) {
            conn_step(m, &m->conns[i]);
            return;
        }
}

static void accept_all(metrics *m)
{
    for (;;) {
        int fd = accept4(m->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
            continue;
        if (fd < 0 && errno != EAGAIN && errno != EWOULDBLOCK && m->on_loop &&
            !m->listen_paused) {
            /* Out of fds (EMFILE, ENFILE) or memory: the connection stays
             * in the backlog and the socket readable, so the loop would
             * call back at once, forever.  Stop listening until the next
             * tick tries again. */
            if (m->api->unwatch_fd(m->api, m->lfd) == 0)
                m->listen_paused = 1;
        }
        if (fd < 0)
            return;             /* EAGAIN, or an error the next round retries */
        conn *c = NULL;
        for (int i = 0; i < MAX_CONNS && !c; i++)
            if (m->conns[i].fd < 0)
                c = &m->conns[i];
        if (!c) {
            /* All slots busy: say so (what the request sent so far read
             * first, or the close would reset the answer away). */
            static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
                                       "Content-Length: 0\r\nRetry-After: 1\r\n"
                                       "Connection: close\r\n\r\n";
            char sink[512];
            while (recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0)
                ;
            (void)!send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            shutdown(fd, SHUT_WR);
            close(fd);
            continue;
        }
        memset(c, 0, sizeof *c);
        c->fd = fd;
        c->deadline = m->api->now_ms(m->api) + CONN_DEADLINE_MS;
        conn_step(m, c);
    }
}

static void listen_cb(void *ud, int32_t fd, int32_t revents)
{
    (void)fd;
    (void)revents;
    accept_all(ud);
}

/* Onto the engine's loop, if it has one now. */
static void try_loop(metrics *m)
{
    if (m->on_loop ||
        m->api->watch_fd(m->api, m->lfd, LMQ_PLUGIN_WATCH_READ, listen_cb, m) != 0)
        return;
    m->on_loop = 1;
    m->api->set_tick(m->api, LOOP_TICK_MS);
    for (int i = 0; i < MAX_CONNS; i++)
        if (m->conns[i].fd >= 0)
            conn_want(m, &m->conns[i],
                      m->conns[i].out ? LMQ_PLUGIN_WATCH_WRITE : LMQ_PLUGIN_WATCH_READ);
}

static void on_tick(void *state, int64_t now)
{
    metrics *m = state;
    try_loop(m);
    if (m->listen_paused &&
        m->api->watch_fd(m->api, m->lfd, LMQ_PLUGIN_WATCH_READ, listen_cb, m) == 0) {
        m->listen_paused = 0;
        accept_all(m);
    }
    if (!m->on_loop) {
        accept_all(m);
        for (int i = 0; i < MAX_CONNS; i++)
            if (m->conns[i].fd >= 0)
                conn_step(m, &m->conns[i]);
    }
    /* Slow or stuck scrapers give their slot back. */
    for (int i = 0; i < MAX_CONNS; i++)
        if (m->conns[i].fd >= 0 && now >= m->conns[i].deadline)
            conn_close(m, &m->conns[i]);
}

/* ------------------------------------------------------------ hooks */

static int qos_of(int32_t q)
{
    return q >= 0 && q <= 2 ? q : 0;
}

/* d: 0 in, 1 out */
static int count_msg(metrics *m, int d, const lmq_plugin_msg *msg)
{
    m->msgs[d][qos_of(msg->qos)]++;
    m->bytes[d][qos_of(msg->qos)] += (uint64_t)msg->payload_len;
    return LMQ_PLUGIN_CONTINUE;
}

static int on_in(void *state, lmq_plugin_msg *msg)
{
    return count_msg(state, 0, msg);
}

static int on_out(void *state, lmq_plugin_msg *msg)
{
    return count_msg(state, 1, msg);
}

static void on_done(void *state, const lmq_plugin_done *d)
{
    metrics *m = state;
    int q = qos_of(d->qos);
    if (d->error) {
        m->failed[q]++;
        return;
    }
    if (q == 0 || d->published_ms <= 0)
        return;                 /* no ack to wait for, or restored: unknown */
    double s = (double)(d->done_ms - d->published_ms) / 1000.0;
    size_t i = 0;
    while (i < NBUCKETS && s > buckets[i])
        i++;
    if (i < NBUCKETS)
        m->lat[q].le[i]++;
    m->lat[q].count++;
    m->lat[q].sum += s;
}

static void on_connack(void *state, const lmq_plugin_conn *c)
{
    metrics *m = state;
    if (c->protocol == 5 ? c->reason < 0x80 : c->reason == 0)
        m->connects++;
    else
        m->refused++;
}

static void on_disconnect(void *state, const lmq_plugin_conn *c)
{
    metrics *m = state;
    (void)c;
    m->disconnects++;
}

static void on_reconnect(void *state, int32_t attempt, int64_t delay_ms)
{
    metrics *m = state;
    (void)attempt;
    (void)delay_ms;
    m->reconnects++;
}

static void on_subscribed(void *state, const lmq_plugin_suback *ack)
{
    metrics *m = state;
    (void)ack;
    m->subscribed++;
}

/* Sum value under name; names past APP_NAMES go to "other" (the table's
 * own "other" when it has one, so the series is never printed twice).  A
 * counter never goes down: a negative value is not added. */
static void on_app_event(void *state, const char *name, int32_t len, int64_t value)
{
    metrics *m = state;
    uint64_t v = value > 0 ? (uint64_t)value : 0;
    app_event *e = NULL;
    if (len < 1 || len > 255)
        return;
    for (int i = 0; i < m->n_app && !e; i++)
        if (m->app[i].len == len && !memcmp(m->app[i].name, name, (size_t)len))
            e = &m->app[i];
    if (!e && m->n_app < APP_NAMES) {
        e = &m->app[m->n_app++];
        memcpy(e->name, name, (size_t)len);
        e->len = len;
    }
    if (!e) {
        for (int i = 0; i < m->n_app && !e; i++)
            if (m->app[i].len == 5 && !memcmp(m->app[i].name, "other", 5))
                e = &m->app[i];
    }
    if (e) {
        e->sum += v;
        return;
    }
    m->app_other += v;
    m->app_overflow = 1;
}

/* ------------------------------------------------------- init, shutdown */

static void metrics_free(metrics *m)
{
    if (!m)
        return;
    for (int i = 0; i < MAX_CONNS; i++)
        conn_close(m, &m->conns[i]);
    if (m->lfd >= 0) {
        if (m->on_loop && !m->listen_paused)
            m->api->unwatch_fd(m->api, m->lfd);
        close(m->lfd);
    }
    free(m);
}

static int config(metrics *m, const char *cfg, char *why, size_t wn, char *port_file,
                  size_t pfn)
{
    for (const char *p = cfg; *p;) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (!n)
            break;
        const char *eq = memchr(p, '=', n);
        if (!eq) {
            snprintf(why, wn, "config: '%.*s' is not key=value", (int)n, p);
            return -1;
        }
        size_t kl = (size_t)(eq - p), vl = n - kl - 1;
        char v[256];
        if (vl >= sizeof v) {
            snprintf(why, wn, "config: value of '%.*s' too long", (int)kl, p);
            return -1;
        }
        memcpy(v, eq + 1, vl);
        v[vl] = '\0';
        if (kl == 4 && !memcmp(p, "port", 4)) {
            char *end;
            long port = strtol(v, &end, 10);
            if (!vl || *end || port < 0 || port > 65535) {
                snprintf(why, wn, "config: port must be 0..65535, not '%s'", v);
                return -1;
            }
            m->port = (int)port;
        } else if (kl == 4 && !memcmp(p, "bind", 4)) {
            struct in_addr a;
            if (inet_pton(AF_INET, v, &a) != 1) {
                snprintf(why, wn, "config: bind must be an IPv4 address, not '%s'", v);
                return -1;
            }
            m->bind_addr = a.s_addr;
        } else if (kl == 9 && !memcmp(p, "port_file", 9)) {
            snprintf(port_file, pfn, "%s", v);
        } else {
            snprintf(why, wn, "config: unknown key '%.*s'", (int)kl, p);
            return -1;
        }
        p += n;
    }
    return 0;
}

static int metrics_init(const lmq_plugin_api *api, const char *cfg, void **state)
{
    char why[300] = "out of memory", port_file[256] = "", line[160];
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    int one = 1;

    /* Needs the 1.1 table: stat, watch_fd, the publish_done times. */
    if ((api->abi_version & 0xFFFFu) < 1 ||
        api->struct_size < offsetof(lmq_plugin_api, stat) + sizeof api->stat) {
        api->set_error(api, "needs plugin ABI 1.1 or later");
        return -1;
    }
    metrics *m = calloc(1, sizeof *m);
    if (!m)
        goto fail;
    m->api = api;
    m->lfd = -1;
    m->port = 9100;
    m->bind_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < MAX_CONNS; i++)
        m->conns[i].fd = -1;
    if (config(m, cfg, why, sizeof why, port_file, sizeof port_file))
        goto fail;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)m->port);
    sa.sin_addr.s_addr = m->bind_addr;
    m->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (m->lfd < 0 || setsockopt(m->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        bind(m->lfd, (struct sockaddr *)&sa, sizeof sa) || listen(m->lfd, MAX_CONNS) ||
        getsockname(m->lfd, (struct sockaddr *)&sa, &sl)) {
        char addr[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &m->bind_addr, addr, sizeof addr);
        snprintf(why, sizeof why, "cannot listen on %s:%d: %s", addr, m->port, strerror(errno));
        goto fail;
    }
    m->port = ntohs(sa.sin_port);
    if (port_file[0]) {
        FILE *f = fopen(port_file, "w");
        if (!f || fprintf(f, "%d\n", m->port) < 0 || fclose(f)) {
            snprintf(why, sizeof why, "cannot write port_file %s: %s", port_file,
                     strerror(errno));
            goto fail;
        }
    }
    char addr[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &m->bind_addr, addr, sizeof addr);
    snprintf(line, sizeof line, "serving http://%s:%d/metrics", addr, m->port);
    api->log(api, 3 /* LMQ_LOG_INFO */, line);
    api->set_tick(api, POLL_TICK_MS);
    try_loop(m);
    *state = m;
    return 0;
fail:
    api->set_error(api, why);
    metrics_free(m);
    return -1;
}

static void metrics_shutdown(void *state)
{
    metrics_free(state);
}

static const lmq_plugin metrics_plugin = {
    .abi_version = LMQ_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(lmq_plugin),
    .name = "metrics",
    .version = "0.1.0",
    .init = metrics_init,
    .shutdown = metrics_shutdown,
    .on_connack = on_connack,
    .on_message_in = on_in,
    .on_publish_out = on_out,
    .on_disconnect = on_disconnect,
    .on_tick = on_tick,
    .on_publish_done = on_done,
    .on_subscribed = on_subscribed,
    .on_reconnect = on_reconnect,
    .on_app_event = on_app_event,
};

LMQ_PLUGIN_EXPORT const lmq_plugin *lmq_plugin_entry(void);

LMQ_PLUGIN_EXPORT const lmq_plugin *lmq_plugin_entry(void)
{
    return &metrics_plugin;
}
