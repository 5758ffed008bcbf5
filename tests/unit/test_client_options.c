/*
 * test_client_options.c - the client layer without a broker: option
 * validation, the idle state, connection failures, the reconnect policy
 * and event delivery, against sockets the test makes itself playing a
 * minimal server (it accepts, reads CONNECT, answers with a CONNACK).
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "lunamq.h"

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- helpers */

static int listen_tcp(int *port)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 4) != 0)
        return -1;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* One step of an external-driver loop: poll what the client wants (at most
 * slice ms), then hand over readiness and deadlines. */
static void step(lmq_client *c, int slice)
{
    struct pollfd p = { lmq_client_fd(c), 0, 0 };
    int want = lmq_client_want(c);
    int64_t to = lmq_client_timeout_ms(c);

    p.events = (want & LMQ_WANT_READ ? POLLIN : 0) | (want & LMQ_WANT_WRITE ? POLLOUT : 0);
    if (poll(&p, 1, to >= 0 && to < slice ? (int)to : slice) > 0) {
        if (p.revents & (POLLOUT | POLLERR | POLLHUP))
            lmq_client_on_writable(c);
        if ((p.revents & (POLLIN | POLLERR | POLLHUP)) && lmq_client_fd(c) == p.fd)
            lmq_client_on_readable(c);
    }
    if (lmq_client_timeout_ms(c) == 0)
        lmq_client_on_timeout(c);
}

/* Drive c until an event of `type` comes out (copying its error), or the
 * deadline passes.  1 found, 0 not. */
static int drive_until_event(lmq_client *c, int type, int timeout_ms, int *error)
{
    int64_t end = now_ms() + timeout_ms;
    lmq_event evs[16];
    int i, n;

    while (now_ms() < end) {
        n = lmq_client_events(c, evs, 16, sizeof(lmq_event));
        for (i = 0; i < n; i++) {
            if (evs[i].type == type) {
                if (error)
                    *error = evs[i].error;
                return 1;
            }
        }
        if (n == 0)
            step(c, 20);
    }
    return 0;
}

/* Accept the client's connection while driving it, read its CONNECT. */
static int accept_connect(lmq_client *c, int lfd, uint8_t *first)
{
    int64_t end = now_ms() + 5000;
    struct pollfd p = { lfd, POLLIN, 0 };
    int fd;

    while (now_ms() < end && poll(&p, 1, 0) == 0)
        step(c, 10);
    fd = accept(lfd, NULL, NULL);
    if (fd < 0)
        return -1;
    /* let the client write CONNECT */
    p.fd = fd;
    while (now_ms() < end && poll(&p, 1, 0) == 0)
        step(c, 10);
    if (read(fd, first, 1) != 1)
        *first = 0;
    /* throw away the rest of CONNECT */
    {
        uint8_t junk[512];
        while (poll(&p, 1, 20) > 0 && read(fd, junk, sizeof junk) > 0) {
        }
    }
    return fd;
}

static lmq_client *client_for_port(int port)
{
    lmq_client *c = lmq_client_new();

    lmq_client_set_str(c, LMQ_OPT_HOST, "127.0.0.1", -1);
    lmq_client_set_int(c, LMQ_OPT_PORT, port);
    lmq_client_set_str(c, LMQ_OPT_CLIENT_ID, "unit", -1);
    return c;
}

/* ------------------------------------------------------------ validation */

static void test_port_outside_1_to_65535_is_refused(void)
{
    lmq_client *c = lmq_client_new();

    CHECK_INT(lmq_client_set_int(c, LMQ_OPT_PORT, 0), LMQ_EINVAL);
    CHECK(lmq_client_errmsg(c)[0] != '\0');
    CHECK_INT(lmq_client_set_int(c, LMQ_OPT_PORT, 65536), LMQ_EINVAL);
    CHECK_INT(lmq_client_set_int(c, LMQ_OPT_PORT, 8883), 0);
    CHECK_INT(lmq_client_set_int(c, LMQ_OPT_PORT, 1), 0);
    lmq_client_free(c);
}

/* 70 was LMQ_OPT_FOLLOW_REDIRECT, accepted and never acted on: refused now. */
static void test_the_retired_follow_redirect_option_is_refused(void)
{
    lmq_client *c = lmq_client_new();

    CHECK_INT(lmq_client_set_int(c, 70, 1), LMQ_EINVAL);
    CHECK_INT(lmq_client_set_int(c, 70, 0), LMQ_EINVAL);
    CHECK(strstr(lmq_client_errmsg(c), "70") != NULL);
    lmq_client_free(c);
}

static void test_boolean_options_take_only_0_or_1(void)
{
    static const int opts[] = { LMQ_OPT_TCP_NODELAY, LMQ_OPT_RECONNECT,
                                LMQ_OPT_RECONNECT_FIRST };
    lmq_client *c = lmq_client_new();
    size_t i;

    for (i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        CHECK_INT(lmq_client_set_int(c, opts[i], 2), LMQ_EINVAL);
        CHECK_INT(lmq_client_set_int(c, opts[i], -1), LMQ_EINVAL);
        CHECK_INT(lmq_client_set_int(c, opts[i], 0), 0);
        CHECK_INT(lmq_client_set_int(c, opts[i], 1), 0);
    }
    lmq_client_free(c);
}

static void test_timeouts_and_log_level_are_range_checked(void)
{
    lmq_client *c = lmq_client_new();

    CHECK_INT(lmq_client_set_int(c, LMQ_OPT_CONNECT_TIMEOUT_MS, 0), LMQ_EINVAL);
    CHECK_INT(lmq_client_set_int(c, LMQ_OPT_CONNECT_TIMEOUT_MS, 5000), 0);
    CHECK_INT(lmq_client_set_int(c, LMQ_OPT_RECONNECT_MIN_MS, -1), LMQ_EINVAL);
    CHECK_INT(lmq_client_set_int(c, LMQ_OPT_RECONNECT_MAX_MS, (int64_t)1 << 40), LMQ_EINVAL);
    CHECK_INT(lmq_client_set_int(c, LMQ_OPT_LOG_LEVEL, 0), LMQ_EINVAL);
    CHECK_INT(lmq_client_set_int(c, LMQ_OPT_LOG_LEVEL, 5), LMQ_EINVAL);
    CHECK_INT(lmq_client_set_int(c, LMQ_OPT_LOG_LEVEL, LMQ_LOG_DEBUG), 0);
    lmq_client_free(c);
}

static void test_string_and_integer_options_are_not_interchangeable(void)
{
    lmq_client *c = lmq_client_new();

    CHECK_INT(lmq_client_set_int(c, LMQ_OPT_HOST, 1), LMQ_EINVAL);
    CHECK_INT(lmq_client_set_int(c, LMQ_OPT_UNIX_PATH, 1), LMQ_EINVAL);
    CHECK_INT(lmq_client_set_str(c, LMQ_OPT_PORT, "1883", -1), LMQ_EINVAL);
    CHECK_INT(lmq_client_set_str(c, LMQ_OPT_RECONNECT, "1", -1), LMQ_EINVAL);
    CHECK_INT(lmq_client_set_int(c, 9999, 1), LMQ_EINVAL);
    lmq_client_free(c);
}

static void test_bad_strings_are_refused_with_a_message(void)
{
    char longpath[200];
    lmq_client *c = lmq_client_new();

    CHECK_INT(lmq_client_set_str(c, LMQ_OPT_HOST, "", -1), LMQ_EINVAL);
    CHECK(strstr(lmq_client_errmsg(c), "empty") != NULL);
    CHECK_INT(lmq_client_set_str(c, LMQ_OPT_HOST, "a\0b", 3), LMQ_EINVAL);
    CHECK_INT(lmq_client_set_str(c, LMQ_OPT_HOST, NULL, 4), LMQ_EINVAL);
    memset(longpath, 'x', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    CHECK_INT(lmq_client_set_str(c, LMQ_OPT_UNIX_PATH, longpath, -1), LMQ_EINVAL);
    CHECK_INT(lmq_client_set_str(c, LMQ_OPT_HOST, "broker.example", -1), 0);
    CHECK_INT(lmq_client_errmsg(c)[0], '\0');
    /* empty clears the optional ones */
    CHECK_INT(lmq_client_set_str(c, LMQ_OPT_BIND_ADDRESS, "", 0), 0);
    CHECK_INT(lmq_client_set_str(c, LMQ_OPT_UNIX_PATH, NULL, 0), 0);
    lmq_client_free(c);
}

static void test_reconnect_min_above_max_is_refused_at_connect(void)
{
    lmq_client *c = lmq_client_new();

    CHECK_INT(lmq_client_set_int(c, LMQ_OPT_RECONNECT_MIN_MS, 5000), 0);
    CHECK_INT(lmq_client_set_int(c, LMQ_OPT_RECONNECT_MAX_MS, 1000), 0);
    CHECK_INT(lmq_client_connect(c), LMQ_EINVAL);
    CHECK(strstr(lmq_client_errmsg(c), "RECONNECT_MIN_MS") != NULL);
    CHECK_INT(lmq_client_fd(c), -1);
    lmq_client_free(c);
}

/* ------------------------------------------------------------ idle state */

static void test_idle_client_has_no_fd_no_want_no_deadline(void)
{
    lmq_client *c = lmq_client_new();
    lmq_event ev;

    CHECK_INT(lmq_client_fd(c), -1);
    CHECK_INT(lmq_client_want(c), 0);
    CHECK_INT(lmq_client_timeout_ms(c), -1);
    CHECK_INT(lmq_client_events(c, &ev, 1, sizeof(lmq_event)), 0);
    CHECK_INT(lmq_client_on_readable(c), 0);
    CHECK_INT(lmq_client_on_writable(c), 0);
    CHECK_INT(lmq_client_on_timeout(c), 0);
    CHECK_INT(lmq_client_disconnect(c, 0, NULL), LMQ_ENOT_CONNECTED);
    lmq_client_free(c);
    lmq_client_free(NULL);
}

/* ---------------------------------------------------- the event's size */

/* lmq_event grows at the end: the caller says how big its lmq_event is,
 * the engine strides by that, fills no more than it (struct_size says how
 * much it filled), zeroes what it has no field for, and refuses a size
 * below the first growable layout. */
static void test_events_are_written_to_the_callers_size_and_no_further(void)
{
    struct newer {
        lmq_event ev;
        uint8_t later[24];      /* fields a newer header would have */
    } out[9];
    lmq_client *c = lmq_client_new();
    int n, logs = 0, failed = 0;

    CHECK_INT(lmq_client_set_int(c, LMQ_OPT_LOG_LEVEL, LMQ_LOG_DEBUG), 0);
    CHECK_INT(lmq_client_set_str(c, LMQ_OPT_UNIX_PATH, "/nonexistent/lmq.sock", -1), 0);
    CHECK_INT(lmq_client_connect(c), 0);
    memset(out, 0xAB, sizeof out);
    CHECK_INT(lmq_client_events(c, &out[0].ev, 8, (int32_t)offsetof(lmq_event, text)),
              LMQ_EINVAL);
    CHECK_INT(lmq_client_events(c, &out[0].ev, 8, -1), LMQ_EINVAL);
    n = lmq_client_events(c, &out[0].ev, 8, (int32_t)sizeof out[0]);
    CHECK(n >= 2 && n <= 8);
    for (int i = 0; i < n; i++) {
        static const uint8_t zero[24];
        CHECK_INT(out[i].ev.struct_size, (int)sizeof(lmq_event));
        CHECK_MEM(out[i].later, zero, sizeof zero);
        if (out[i].ev.type == LMQ_EV_LOG) {
            logs++;
            CHECK(out[i].ev.log_level >= LMQ_LOG_ERROR && out[i].ev.log_level <= LMQ_LOG_DEBUG);
            CHECK_INT(out[i].ev.reason, 0);
            CHECK(out[i].ev.text != NULL);
        }
        failed += out[i].ev.type == LMQ_EV_CONNECT_FAILED;
    }
    CHECK(logs >= 1);
    CHECK_INT(failed, 1);
    CHECK_INT(((const uint8_t *)&out[n])[0], 0xAB);     /* the rest untouched */
    lmq_client_free(c);
}

/* ------------------------------------------------------ connect failures */

static void test_missing_unix_socket_fails_the_connect_without_retry(void)
{
    lmq_client *c = lmq_client_new();
    int err = 0;

    CHECK_INT(lmq_client_set_str(c, LMQ_OPT_UNIX_PATH, "/nonexistent/lmq.sock", -1), 0);
    CHECK_INT(lmq_client_connect(c), 0);
    CHECK(drive_until_event(c, LMQ_EV_CONNECT_FAILED, 2000, &err));
    CHECK_INT(err, LMQ_ECONNECT);
    /* LMQ_OPT_RECONNECT_FIRST is off: the client stops */
    CHECK_INT(lmq_client_fd(c), -1);
    CHECK_INT(lmq_client_timeout_ms(c), -1);
    CHECK(strstr(lmq_client_errmsg(c), "/nonexistent/lmq.sock") != NULL);
    lmq_client_free(c);
}

static void test_failed_first_connect_is_retried_within_backoff_bounds(void)
{
    lmq_client *c = lmq_client_new();
    int64_t to;
    int err = 0;

    lmq_client_set_str(c, LMQ_OPT_UNIX_PATH, "/nonexistent/lmq.sock", -1);
    lmq_client_set_int(c, LMQ_OPT_RECONNECT_FIRST, 1);
    lmq_client_set_int(c, LMQ_OPT_RECONNECT_MIN_MS, 200);
    lmq_client_set_int(c, LMQ_OPT_RECONNECT_MAX_MS, 400);
    CHECK_INT(lmq_client_connect(c), 0);
    CHECK(drive_until_event(c, LMQ_EV_CONNECT_FAILED, 2000, &err));
    CHECK_INT(lmq_client_fd(c), -1);
    to = lmq_client_timeout_ms(c);
    CHECK(to >= 0 && to <= 400);
    /* a second attempt comes after the delay, and fails again */
    CHECK(drive_until_event(c, LMQ_EV_CONNECT_FAILED, 2000, &err));
    CHECK(lmq_client_timeout_ms(c) >= 0);
    /* disconnect ends the retrying, and says so with a closing event */
    CHECK_INT(lmq_client_disconnect(c, 0, NULL), 0);
    CHECK_INT(lmq_client_timeout_ms(c), -1);
    {
        lmq_event ev[8];
        int n = lmq_client_events(c, ev, 8, sizeof(lmq_event)), closing = 0;
        for (int i = 0; i < n; i++)
            closing += ev[i].type == LMQ_EV_DISCONNECTED && ev[i].error == 0;
        CHECK_INT(closing, 1);
    }
    CHECK_INT(lmq_client_connect(c), 0);
    CHECK_INT(lmq_client_connect(c), LMQ_ESTATE);
    lmq_client_free(c);
}

static void test_unresolvable_host_fails_with_eresolve(void)
{
    lmq_client *c = lmq_client_new();
    int err = 0;

    /* .invalid never resolves (RFC 2606) */
    lmq_client_set_str(c, LMQ_OPT_HOST, "lunamq-test.invalid", -1);
    CHECK_INT(lmq_client_connect(c), 0);
    CHECK(drive_until_event(c, LMQ_EV_CONNECT_FAILED, 15000, &err));
    CHECK(err == LMQ_ERESOLVE || err == LMQ_ETIMEOUT);
    lmq_client_free(c);
}

/* ------------------------------------------- a minimal server's view */

static const uint8_t connack_v5[] = { 0x20, 0x03, 0x00, 0x00, 0x00 };

static void test_client_sends_connect_and_reports_connack(void)
{
    int port, lfd = listen_tcp(&port), sfd, err = -1;
    lmq_client *c = client_for_port(port);
    uint8_t first = 0;

    CHECK_INT(lmq_client_connect(c), 0);
    sfd = accept_connect(c, lfd, &first);
    CHECK(sfd >= 0);
    CHECK_INT(first, 0x10);     /* CONNECT */
    CHECK_INT(write(sfd, connack_v5, sizeof connack_v5), (int)sizeof connack_v5);
    CHECK(drive_until_event(c, LMQ_EV_CONNECTED, 3000, &err));
    CHECK_INT(err, 0);
    CHECK_INT(lmq_client_connect_wait(c, 1000), 0);
    close(sfd);
    close(lfd);
    lmq_client_free(c);
}

static void test_client_connects_over_ipv6(void)
{
    struct sockaddr_in6 sa;
    socklen_t len = sizeof sa;
    int lfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), sfd, err = -1;
    lmq_client *c;
    uint8_t first = 0;

    memset(&sa, 0, sizeof sa);
    sa.sin6_family = AF_INET6;
    sa.sin6_addr = in6addr_loopback;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 4) != 0) {
        printf("     (no IPv6 loopback here: skipped)\n");
        if (lfd >= 0)
            close(lfd);
        return;
    }
    getsockname(lfd, (struct sockaddr *)&sa, &len);
    c = lmq_client_new();
    lmq_client_set_str(c, LMQ_OPT_HOST, "::1", -1);
    lmq_client_set_int(c, LMQ_OPT_PORT, ntohs(sa.sin6_port));
    CHECK_INT(lmq_client_connect(c), 0);
    sfd = accept_connect(c, lfd, &first);
    CHECK(sfd >= 0);
    CHECK_INT(first, 0x10);
    CHECK(write(sfd, connack_v5, sizeof connack_v5) == (ssize_t)sizeof connack_v5);
    CHECK(drive_until_event(c, LMQ_EV_CONNECTED, 3000, &err));
    CHECK_INT(err, 0);
    close(sfd);
    close(lfd);
    lmq_client_free(c);
}

/* "localhost" may resolve to ::1 before 127.0.0.1: nobody listens on ::1
 * at that port, so the client must go on to the next address. */
static void test_next_resolved_address_is_tried_when_one_refuses(void)
{
    int port, lfd = listen_tcp(&port), sfd, err = -1;
    lmq_client *c = client_for_port(port);
    uint8_t first = 0;

    lmq_client_set_str(c, LMQ_OPT_HOST, "localhost", -1);
    CHECK_INT(lmq_client_connect(c), 0);
    sfd = accept_connect(c, lfd, &first);
    CHECK(sfd >= 0);
    CHECK_INT(first, 0x10);
    CHECK(write(sfd, connack_v5, sizeof connack_v5) == (ssize_t)sizeof connack_v5);
    CHECK(drive_until_event(c, LMQ_EV_CONNECTED, 3000, &err));
    CHECK_INT(err, 0);
    close(sfd);
    close(lfd);
    lmq_client_free(c);
}

static void test_lost_connection_is_reported_and_reconnected_after_backoff(void)
{
    int port, lfd = listen_tcp(&port), sfd, err = 0;
    lmq_client *c = client_for_port(port);
    uint8_t first = 0;
    int64_t to;

    lmq_client_set_int(c, LMQ_OPT_RECONNECT_MIN_MS, 100);
    lmq_client_set_int(c, LMQ_OPT_RECONNECT_MAX_MS, 300);
    CHECK_INT(lmq_client_connect(c), 0);
    sfd = accept_connect(c, lfd, &first);
    CHECK(write(sfd, connack_v5, sizeof connack_v5) == (ssize_t)sizeof connack_v5);
    CHECK(drive_until_event(c, LMQ_EV_CONNECTED, 3000, NULL));

    close(sfd);                 /* the server drops us */
    CHECK(drive_until_event(c, LMQ_EV_DISCONNECTED, 3000, &err));
    CHECK_INT(err, LMQ_ECLOSED);
    CHECK_INT(lmq_client_fd(c), -1);
    to = lmq_client_timeout_ms(c);
    CHECK(to >= 0 && to <= 300);

    /* it comes back by itself and sends a new CONNECT */
    first = 0;
    sfd = accept_connect(c, lfd, &first);
    CHECK(sfd >= 0);
    CHECK_INT(first, 0x10);
    CHECK(write(sfd, connack_v5, sizeof connack_v5) == (ssize_t)sizeof connack_v5);
    CHECK(drive_until_event(c, LMQ_EV_CONNECTED, 3000, NULL));
    close(sfd);
    close(lfd);
    lmq_client_free(c);
}

static void test_disconnect_sends_disconnect_and_stops_reconnecting(void)
{
    int port, lfd = listen_tcp(&port), sfd;
    lmq_client *c = client_for_port(port);
    uint8_t first = 0, b = 0;
    struct pollfd p;
    int64_t end;

    CHECK_INT(lmq_client_connect(c), 0);
    sfd = accept_connect(c, lfd, &first);
    CHECK(write(sfd, connack_v5, sizeof connack_v5) == (ssize_t)sizeof connack_v5);
    CHECK(drive_until_event(c, LMQ_EV_CONNECTED, 3000, NULL));
    CHECK_INT(lmq_client_disconnect(c, 0, NULL), 0);
    end = now_ms() + 3000;
    while (lmq_client_fd(c) >= 0 && now_ms() < end)
        step(c, 10);
    p.fd = sfd;
    p.events = POLLIN;
    CHECK_INT(poll(&p, 1, 1000), 1);
    CHECK_INT(read(sfd, &b, 1), 1);
    CHECK_INT(b, 0xE0);         /* DISCONNECT */
    CHECK_INT(lmq_client_fd(c), -1);
    CHECK_INT(lmq_client_timeout_ms(c), -1);   /* no reconnect pending */
    close(sfd);
    close(lfd);
    lmq_client_free(c);
}

/* ----------------------------------------------------- event delivery */

static int cb_count, fin_count;

static void count_cb(lmq_client *c, const lmq_event *ev, void *ud)
{
    (void)c;
    (void)ev;
    *(int *)ud += 1;
    cb_count++;
}

static void count_fin(void *ud)
{
    (void)ud;
    fin_count++;
}

static void test_callback_takes_events_and_finalizer_runs_on_replace_and_free(void)
{
    lmq_client *c = lmq_client_new();
    lmq_event ev;
    int mine = 0;

    cb_count = fin_count = 0;
    lmq_client_set_str(c, LMQ_OPT_UNIX_PATH, "/nonexistent/lmq.sock", -1);
    CHECK_INT(lmq_client_set_callback(c, count_cb, &mine, count_fin), 0);
    CHECK_INT(lmq_client_connect(c), 0);
    CHECK(mine >= 1);           /* CONNECT_FAILED went to the callback */
    CHECK_INT(lmq_client_events(c, &ev, 1, sizeof(lmq_event)), 0);
    CHECK_INT(lmq_client_set_callback(c, count_cb, &mine, count_fin), 0);
    CHECK_INT(fin_count, 1);    /* replaced */
    lmq_client_free(c);
    CHECK_INT(fin_count, 2);    /* freed */
}

static void test_fd_change_is_announced(void)
{
    int port, lfd = listen_tcp(&port);
    lmq_client *c = client_for_port(port);

    CHECK_INT(lmq_client_connect(c), 0);
    CHECK(drive_until_event(c, LMQ_EV_FD_CHANGED, 1000, NULL));
    close(lfd);
    lmq_client_free(c);
}


/* The default port follows the transport: 1883, 8883 with TLS, 80 for
 * WebSocket, 443 for WebSocket over TLS; a port that was set wins. */
static void test_default_port_follows_the_transport(void)
{
    static const struct { int tls, ws, port; const char *want; } t[] = {
        { 0, 0, 0, ":1883" }, { 1, 0, 0, ":8883" }, { 0, 1, 0, ":80" },
        { 1, 1, 0, ":443" }, { 1, 0, 1884, ":1884" },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        lmq_client *c = lmq_client_new();
        int err = 0;
        lmq_client_set_str(c, LMQ_OPT_HOST, "127.0.0.1", -1);
        lmq_client_set_int(c, LMQ_OPT_TLS, t[i].tls);
        lmq_client_set_int(c, LMQ_OPT_WEBSOCKET, t[i].ws);
        if (t[i].port)
            lmq_client_set_int(c, LMQ_OPT_PORT, t[i].port);
        lmq_client_set_int(c, LMQ_OPT_CONNECT_TIMEOUT_MS, 2000);
        CHECK_INT(lmq_client_connect(c), 0);
        CHECK(drive_until_event(c, LMQ_EV_CONNECT_FAILED, 3000, &err));
        /* nothing listens there on a test machine: the message names it */
        if (!strstr(lmq_client_errmsg(c), t[i].want)) {
            fprintf(stderr, "case %zu: %s\n", i, lmq_client_errmsg(c));
            CHECK(0);
        }
        lmq_client_free(c);
    }
}

int main(void)
{
    RUN(test_port_outside_1_to_65535_is_refused);
    RUN(test_boolean_options_take_only_0_or_1);
    RUN(test_the_retired_follow_redirect_option_is_refused);
    RUN(test_timeouts_and_log_level_are_range_checked);
    RUN(test_string_and_integer_options_are_not_interchangeable);
    RUN(test_bad_strings_are_refused_with_a_message);
    RUN(test_reconnect_min_above_max_is_refused_at_connect);
    RUN(test_idle_client_has_no_fd_no_want_no_deadline);
    RUN(test_events_are_written_to_the_callers_size_and_no_further);
    RUN(test_missing_unix_socket_fails_the_connect_without_retry);
    RUN(test_failed_first_connect_is_retried_within_backoff_bounds);
    RUN(test_unresolvable_host_fails_with_eresolve);
    RUN(test_client_sends_connect_and_reports_connack);
    RUN(test_client_connects_over_ipv6);
    RUN(test_next_resolved_address_is_tried_when_one_refuses);
    RUN(test_lost_connection_is_reported_and_reconnected_after_backoff);
    RUN(test_disconnect_sends_disconnect_and_stops_reconnecting);
    RUN(test_callback_takes_events_and_finalizer_runs_on_replace_and_free);
    RUN(test_fd_change_is_announced);
    RUN(test_default_port_follows_the_transport);
    return check_done();
}
