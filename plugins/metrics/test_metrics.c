/*
 * test_metrics.c - the metrics plugin in a client talking to a real
 * mosquitto: publish and receive at every QoS, then scrape /metrics with
 * curl (and with plain sockets) while the client's loop runs, and check
 * the figures: messages and bytes per direction and QoS, the publish
 * latency histogram, connects, SUBACKs, reconnects after a broker restart,
 * 404 elsewhere, many scrapes in a row, and a slow client that does not
 * hold the others up.
 *
 * Run twice by ctest: with the libev driver (the plugin serves on the
 * engine's loop, lunamq_metrics_on_loop 1) and with the external driver
 * (it polls from its tick, lunamq_metrics_on_loop 0).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

#ifndef LMQ_PLUGIN_METRICS
#define LMQ_PLUGIN_METRICS ""
#endif

extern char **environ;

static tb_broker *broker;
static int port;

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = calloc(1, 1 << 17);
    if (f && buf)
        buf[fread(buf, 1, (1 << 17) - 1, f)] = '\0';
    if (f)
        fclose(f);
    return buf;
}

/* curl the URL path into a fresh buffer (headers included), pumping the
 * clients meanwhile: the plugin answers from their loop.  NULL when curl
 * did not finish in time or failed. */
static char *curl(const char *path)
{
    char url[128], out[64];
    pid_t pid;
    int status = 0;

    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    snprintf(out, sizeof out, "/tmp/lmq_metrics_%d.out", (int)getpid());
    unlink(out);
    char *argv[] = { "curl", "-s", "-S", "-i", "--max-time", "5", "-o", out, url, NULL };
    if (posix_spawnp(&pid, "curl", NULL, NULL, argv, environ) != 0) {
        fprintf(stderr, "cannot run curl (scripts/bootstrap installs it)\n");
        return NULL;
    }
    int64_t deadline = tw_now_ms() + IT_LONG_MS;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (tw_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return NULL;
        }
        tw_pump(5);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "curl %s: exit status %d\n", url, status);
        return NULL;
    }
    char *body = slurp(out);
    unlink(out);
    return body;
}

/* The value of the sample line that starts with `series ` (name and
 * labels exactly as exposed), or -1. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, series, n) && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

/* A socket connected to the plugin, non-blocking. */
static int dial(void)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 &&
        errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Send req on a new connection and read the answer to its end, pumping
 * the clients between tries.  Returns a buffer (free it) or NULL. */
static char *http(const char *req)
{
    int fd = dial();
    size_t sent = 0, len = strlen(req), got = 0, cap = 1 << 17;
    char *buf = calloc(1, cap);
    int64_t deadline = tw_now_ms() + IT_LONG_MS;

    if (fd < 0 || !buf)
        goto fail;
    while (tw_now_ms() < deadline) {
        if (sent < len) {
            ssize_t k = send(fd, req + sent, len - sent, MSG_NOSIGNAL);
            if (k > 0)
                sent += (size_t)k;
            else if (k < 0 && errno != EAGAIN && errno != ENOTCONN)
                goto fail;
        } else {
            ssize_t k = recv(fd, buf + got, cap - 1 - got, 0);
            if (k == 0) {
                close(fd);
                return buf;
            }
            if (k > 0)
                got += (size_t)k;
            else if (errno != EAGAIN)
                goto fail;
        }
        tw_pump(2);
    }
fail:
    if (fd >= 0)
        close(fd);
    free(buf);
    return NULL;
}

static void test_metrics_served_while_publishing_and_receiving(void)
{
    tw_client *t = NULL;
    char cfg[160], pf[64], *m = NULL, *page = NULL;
    int slow = -1;

    REQUIRE(broker);
    REQUIRE(LMQ_PLUGIN_METRICS[0]);
    snprintf(pf, sizeof pf, "/tmp/lmq_metrics_port_%d", (int)getpid());
    t = tw_new_for(broker, "metrics-it", LMQ_MQTT_5);
    REQUIRE(t);
    lmq_client_set_int(t->c, LMQ_OPT_LOG_LEVEL, LMQ_LOG_INFO);
    /* Refusals say why. */
    CHECK_INT(lmq_client_load_plugin(t->c, LMQ_PLUGIN_METRICS, "port=70000"), LMQ_EPLUGIN_INIT);
    CHECK(strstr(lmq_client_errmsg(t->c), "port must be 0..65535") != NULL);
    CHECK_INT(lmq_client_load_plugin(t->c, LMQ_PLUGIN_METRICS, "bind=localhost"),
              LMQ_EPLUGIN_INIT);
    snprintf(cfg, sizeof cfg, "port=0 bind=127.0.0.1 port_file=%s", pf);
    REQUIRE(lmq_client_load_plugin(t->c, LMQ_PLUGIN_METRICS, cfg) == 0);
    char *pt = slurp(pf);
    port = pt ? atoi(pt) : 0;
    free(pt);
    unlink(pf);
    REQUIRE(port > 0);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    /* port=0 picked one and said which. */
    char want_log[80];
    snprintf(want_log, sizeof want_log, "[metrics] serving http://127.0.0.1:%d/metrics", port);
    int logged = 0;
    for (int i = 0; i < t->n; i++)
        logged |= t->ev[i].ev.type == LMQ_EV_LOG && t->ev[i].text &&
                  strstr(t->ev[i].text, want_log) != NULL;
    CHECK(logged);

    CHECK_INT(tw_subscribe(t, "it/metrics/#", 1, IT_SHORT_MS), 1);
    CHECK_INT(tw_publish_wait(t, "it/metrics/q0", "abc", 0, 0, IT_SHORT_MS), 0);
    CHECK_INT(tw_publish_wait(t, "it/metrics/q1", "hello", 1, 0, IT_SHORT_MS), 0);
    CHECK_INT(tw_publish_wait(t, "it/metrics/q1", "world", 1, 0, IT_SHORT_MS), 0);
    CHECK_INT(tw_publish_wait(t, "it/metrics/q2", "xy", 2, 0, IT_SHORT_MS), 0);
    CHECK(tw_wait_count(t, LMQ_EV_MESSAGE, 4, IT_SHORT_MS) >= 4);

    /* A slow scraper: half a request, then nothing. */
    slow = dial();
    CHECK(slow >= 0);
    CHECK(send(slow, "GET /metr", 9, MSG_NOSIGNAL) == 9);
    tw_pump(20);

    m = curl("/metrics");
    REQUIRE(m);
    CHECK(!strncmp(m, "HTTP/1.1 200 OK\r\n", 17));
    CHECK(strstr(m, "Content-Type: text/plain; version=0.0.4") != NULL);
    CHECK(strstr(m, "# TYPE lunamq_messages_total counter") != NULL);
    CHECK(strstr(m, "# TYPE lunamq_publish_ack_latency_seconds histogram") != NULL);
    /* Out as published; in at the subscription's QoS 1 at most. */
    CHECK(sample(m, "lunamq_messages_total{direction=\"out\",qos=\"0\"}") == 1);
    CHECK(sample(m, "lunamq_messages_total{direction=\"out\",qos=\"1\"}") == 2);
    CHECK(sample(m, "lunamq_messages_total{direction=\"out\",qos=\"2\"}") == 1);
    CHECK(sample(m, "lunamq_messages_total{direction=\"in\",qos=\"0\"}") == 1);
    CHECK(sample(m, "lunamq_messages_total{direction=\"in\",qos=\"1\"}") == 3);
    CHECK(sample(m, "lunamq_payload_bytes_total{direction=\"out\",qos=\"1\"}") == 10);
    CHECK(sample(m, "lunamq_payload_bytes_total{direction=\"in\",qos=\"1\"}") == 12);
    CHECK(sample(m, "lunamq_publish_ack_latency_seconds_count{qos=\"1\"}") == 2);
    CHECK(sample(m, "lunamq_publish_ack_latency_seconds_bucket{qos=\"1\",le=\"+Inf\"}") == 2);
    CHECK(sample(m, "lunamq_publish_ack_latency_seconds_bucket{qos=\"1\",le=\"10\"}") == 2);
    CHECK(sample(m, "lunamq_publish_ack_latency_seconds_count{qos=\"2\"}") == 1);
    CHECK(sample(m, "lunamq_publish_ack_latency_seconds_sum{qos=\"1\"}") >= 0);
    CHECK(sample(m, "lunamq_publish_ack_latency_seconds_sum{qos=\"1\"}") < 10);
    CHECK(sample(m, "lunamq_connects_total") == 1);
    CHECK(sample(m, "lunamq_subacks_total") == 1);
    CHECK(sample(m, "lunamq_connected") == 1);
    CHECK(sample(m, "lunamq_queue_messages{queue=\"inflight_out\"}") == 0);
    CHECK(sample(m, "lunamq_publish_failed_total{qos=\"1\"}") == 0);
    CHECK(sample(m, "lunamq_plugin_dropped_total{direction=\"in\"}") == 0);
    CHECK(sample(m, "lunamq_metrics_on_loop") == (t->external ? 0 : 1));
    CHECK(sample(m, "lunamq_metrics_scrapes_total") == 1);
    if (check_failed_now)
        fprintf(stderr, "%s\n", m);
    free(m);
    m = NULL;

    /* Anything but /metrics is a 404; many scrapes in a row all answer. */
    page = curl("/");
    CHECK(page && !strncmp(page, "HTTP/1.1 404 Not Found\r\n", 24));
    free(page);
    page = http("POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(page && !strncmp(page, "HTTP/1.1 405", 12));
    free(page);
    for (int i = 0; i < 20; i++) {
        page = http("GET /metrics HTTP/1.0\r\n\r\n");
        CHECK(page && sample(strstr(page, "\r\n\r\n") ? page : "",
                             "lunamq_metrics_scrapes_total") == 2 + i);
        free(page);
    }
    page = NULL;

    /* Lost connection: the reconnect is counted, and the connect after it. */
    CHECK_INT(tb_broker_restart(broker), 0);
    CHECK(tw_wait_count(t, LMQ_EV_CONNECTED, 2, IT_LONG_MS) >= 2);
    m = curl("/metrics");
    REQUIRE(m);
    CHECK(sample(m, "lunamq_reconnects_total") >= 1);
    CHECK(sample(m, "lunamq_disconnects_total") >= 1);
    CHECK(sample(m, "lunamq_connects_total") == 2);
done:
    if (slow >= 0)
        close(slow);
    free(m);
    tw_free(t);
}

/* lmq_client_plugin_event: summed per name, the name escaped as a label
 * value, a negative value not added (a counter), and names past the 64th
 * counted under name="other". */
static void test_app_events_are_counted_by_name(void)
{
    tw_client *t = NULL;
    char cfg[160], pf[64], *m = NULL;

    REQUIRE(broker);
    REQUIRE(LMQ_PLUGIN_METRICS[0]);
    snprintf(pf, sizeof pf, "/tmp/lmq_metrics_port_%d", (int)getpid());
    t = tw_new_for(broker, "metrics-app", LMQ_MQTT_5);
    REQUIRE(t);
    snprintf(cfg, sizeof cfg, "port=0 port_file=%s", pf);
    REQUIRE(lmq_client_load_plugin(t->c, LMQ_PLUGIN_METRICS, cfg) == 0);
    char *pt = slurp(pf);
    port = pt ? atoi(pt) : 0;
    free(pt);
    unlink(pf);
    REQUIRE(port > 0);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);

    for (int i = 0; i < 3; i++)
        CHECK_INT(lmq_client_plugin_event(t->c, "host_handler_errors", -1, 1), 0);
    CHECK_INT(lmq_client_plugin_event(t->c, "host_handler_errors", -1, -5), 0);
    CHECK_INT(lmq_client_plugin_event(t->c, "q\"b\\n\nl", -1, 2), 0);
    CHECK_INT(lmq_client_plugin_event(t->c, "bad\xff", -1, 1), LMQ_EINVAL);
    for (int i = 0; i < 70; i++) {      /* 2 names so far: n0..n61 fit */
        char name[16];
        snprintf(name, sizeof name, "n%d", i);
        CHECK_INT(lmq_client_plugin_event(t->c, name, -1, 1), 0);
    }
    CHECK_INT(lmq_client_plugin_event(t->c, "n0", -1, 10), 0);
    CHECK_INT(lmq_client_plugin_event(t->c, "n69", -1, 10), 0);

    m = curl("/metrics");
    REQUIRE(m);
    CHECK(strstr(m, "# HELP lunamq_app_events_total ") != NULL);
    CHECK(strstr(m, "# TYPE lunamq_app_events_total counter") != NULL);
    CHECK(sample(m, "lunamq_app_events_total{name=\"host_handler_errors\"}") == 3);
    CHECK(sample(m, "lunamq_app_events_total{name=\"q\\\"b\\\\n\\nl\"}") == 2);
    CHECK(sample(m, "lunamq_app_events_total{name=\"n0\"}") == 11);
    CHECK(sample(m, "lunamq_app_events_total{name=\"n61\"}") == 1);
    CHECK(sample(m, "lunamq_app_events_total{name=\"n62\"}") == -1);
    CHECK(sample(m, "lunamq_app_events_total{name=\"other\"}") == 18);
    CHECK(strstr(m, "bad") == NULL);
    if (check_failed_now)
        fprintf(stderr, "%s\n", m);
done:
    free(m);
    tw_free(t);
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Hostile scrapers: a NUL in the request is answered 400 at once (not
 * left to the deadline); with the process out of fds the plugin neither
 * spins on its listening socket (a pending connection it cannot accept
 * keeps it readable) nor stops serving once fds are back; with every slot
 * taken by slow scrapers the next one is told 503. */
static void test_hostile_scrapers(void)
{
    tw_client *t = NULL;
    char cfg[160], pf[64], *page = NULL;
    int held[300], nheld = 0, pending = -1;
    struct rlimit old_lim, lim;
    int lim_set = 0;

    REQUIRE(broker);
    REQUIRE(LMQ_PLUGIN_METRICS[0]);
    snprintf(pf, sizeof pf, "/tmp/lmq_metrics_port_%d", (int)getpid());
    t = tw_new_for(broker, "metrics-hostile", LMQ_MQTT_5);
    REQUIRE(t);
    snprintf(cfg, sizeof cfg, "port=0 port_file=%s", pf);
    REQUIRE(lmq_client_load_plugin(t->c, LMQ_PLUGIN_METRICS, cfg) == 0);
    char *pt = slurp(pf);
    port = pt ? atoi(pt) : 0;
    free(pt);
    unlink(pf);
    REQUIRE(port > 0);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);

    int64_t t0 = tw_now_ms();
    static const char nul_req[] = "GET /met\0rics HTTP/1.1\r\n\r\n";
    int fd = dial();
    REQUIRE(fd >= 0);
    size_t got = 0;
    char ans[256];
    int sent = 0;
    while (tw_now_ms() - t0 < IT_LONG_MS) {
        if (!sent && send(fd, nul_req, sizeof nul_req - 1, MSG_NOSIGNAL) > 0)
            sent = 1;
        ssize_t k = sent ? recv(fd, ans + got, sizeof ans - 1 - got, 0) : -1;
        if (k == 0 || got == sizeof ans - 1)
            break;
        if (k > 0)
            got += (size_t)k;
        tw_pump(2);
    }
    close(fd);
    ans[got] = '\0';
    CHECK(!strncmp(ans, "HTTP/1.1 400", 12));
    CHECK(tw_now_ms() - t0 < 4000);     /* the slot deadline is 5 s */

    /* Every slot held by a slow scraper: the next one hears 503, not a
     * bare close. */
    int slow[16], nslow = 0;
    while (nslow < 16 && (slow[nslow] = dial()) >= 0)
        (void)!send(slow[nslow++], "GET /me", 7, MSG_NOSIGNAL);
    CHECK_INT(nslow, 16);
    for (int64_t w = tw_now_ms(); tw_now_ms() - w < 300;)
        tw_pump(20);
    page = http("GET /metrics HTTP/1.1\r\n\r\n");
    CHECK(page && !strncmp(page, "HTTP/1.1 503", 12));
    free(page);
    page = NULL;
    while (nslow > 0)
        close(slow[--nslow]);

    /* Every fd taken but one, which a connection to the plugin takes. */
    REQUIRE(getrlimit(RLIMIT_NOFILE, &old_lim) == 0);
    int probe = dup(0);
    REQUIRE(probe >= 0 && probe < 200);
    close(probe);
    lim = old_lim;
    lim.rlim_cur = (rlim_t)probe + 250;
    REQUIRE(setrlimit(RLIMIT_NOFILE, &lim) == 0);
    lim_set = 1;
    while (nheld < (int)(sizeof held / sizeof held[0])) {
        int d = dup(0);
        if (d < 0)
            break;
        held[nheld++] = d;
    }
    CHECK(errno == EMFILE);
    REQUIRE(nheld > 0);
    close(held[--nheld]);
    pending = dial();
    CHECK(pending >= 0);
    double c0 = cpu_seconds();
    int64_t w0 = tw_now_ms();
    while (tw_now_ms() - w0 < 1500)
        tw_pump(50);
    double cpu = cpu_seconds() - c0, wall = (double)(tw_now_ms() - w0) / 1000.0;
    fprintf(stderr, "out of fds: %.3f s of CPU in %.3f s\n", cpu, wall);
    CHECK(cpu < wall * 0.3);            /* a spinning loop burns all of it */
    while (nheld > 0)
        close(held[--nheld]);
    setrlimit(RLIMIT_NOFILE, &old_lim);
    lim_set = 0;
    /* Back in business once fds are free again. */
    page = http("GET /metrics HTTP/1.0\r\n\r\n");
    CHECK(page && !strncmp(page, "HTTP/1.1 200 OK", 15));
done:
    while (nheld > 0)
        close(held[--nheld]);
    if (lim_set)
        setrlimit(RLIMIT_NOFILE, &old_lim);
    if (pending >= 0)
        close(pending);
    free(page);
    tw_free(t);
}

int main(void)
{
    broker = tb_broker_start(NULL);
    RUN(test_metrics_served_while_publishing_and_receiving);
    RUN(test_hostile_scrapers);
    RUN(test_app_events_are_counted_by_name);
    it_broker_stop(broker);
    return check_done();
}
