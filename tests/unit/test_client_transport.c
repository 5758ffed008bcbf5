/*
 * test_client_transport.c - the TCP and Unix transports and the resolver,
 * against listening sockets made by the test itself (no broker).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "transport/resolve.h"
#include "transport/transport.h"

/* A listening TCP socket on 127.0.0.1 with a kernel-chosen port. */
static int listen_tcp(struct sockaddr_in *sa)
{
    socklen_t len = sizeof *sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)sa, sizeof *sa) != 0 || listen(fd, 4) != 0)
        return -1;
    getsockname(fd, (struct sockaddr *)sa, &len);
    return fd;
}

/* Wait (bounded) until the transport's fd is ready for what it wants. */
static int wait_ready(lmq_transport *t, int want)
{
    struct pollfd p = { t->ops->fd(t), 0, 0 };

    p.events = (want & LMQ_WANT_READ ? POLLIN : 0) | (want & LMQ_WANT_WRITE ? POLLOUT : 0);
    return poll(&p, 1, 5000);
}

static int connect_fully(lmq_transport *t, const struct sockaddr *sa, socklen_t len,
                         const lmq_transport_opts *o)
{
    int rc = t->ops->open(t, sa, len, o);

    while (rc == 1) {
        CHECK_INT(t->ops->want(t), LMQ_WANT_WRITE);
        if (wait_ready(t, LMQ_WANT_WRITE) <= 0)
            return -999;
        rc = t->ops->connect_progress(t);
    }
    return rc;
}

static void test_tcp_connects_and_moves_bytes_both_ways(void)
{
    struct sockaddr_in sa;
    lmq_transport_opts o = { NULL, 1, NULL, 0 };
    lmq_transport t;
    uint8_t buf[16];
    int lfd = listen_tcp(&sa), peer;

    CHECK(lfd >= 0);
    lmq_transport_init(&t, &lmq_transport_tcp);
    CHECK_INT(connect_fully(&t, (struct sockaddr *)&sa, sizeof sa, &o), 0);
    CHECK_INT(t.ops->want(&t), LMQ_WANT_READ);
    peer = accept(lfd, NULL, NULL);
    CHECK(peer >= 0);

    /* nothing to read yet: "would block" is 0, not an error */
    CHECK_INT(t.ops->read(&t, buf, sizeof buf), 0);
    CHECK_INT(t.ops->write(&t, (const uint8_t *)"\xc0\x00", 2), 2);
    CHECK_INT(read(peer, buf, sizeof buf), 2);
    CHECK_MEM(buf, "\xc0\x00", 2);
    CHECK_INT(write(peer, "\xd0\x00", 2), 2);
    CHECK(wait_ready(&t, LMQ_WANT_READ) > 0);
    CHECK_INT(t.ops->read(&t, buf, sizeof buf), 2);
    CHECK_MEM(buf, "\xd0\x00", 2);

    /* the peer goes away: end of stream is LMQ_ECLOSED */
    close(peer);
    CHECK(wait_ready(&t, LMQ_WANT_READ) > 0);
    CHECK_INT(t.ops->read(&t, buf, sizeof buf), LMQ_ECLOSED);
    t.ops->close(&t);
    CHECK_INT(t.ops->fd(&t), -1);
    CHECK_INT(t.ops->want(&t), 0);
    close(lfd);
}

static void test_tcp_connect_to_a_closed_port_fails_with_econnect(void)
{
    struct sockaddr_in sa;
    lmq_transport t;
    int lfd = listen_tcp(&sa);

    close(lfd);                 /* nobody listens on that port any more */
    lmq_transport_init(&t, &lmq_transport_tcp);
    CHECK_INT(connect_fully(&t, (struct sockaddr *)&sa, sizeof sa, NULL), LMQ_ECONNECT);
    CHECK(strstr(t.err, "connect") != NULL);
    t.ops->close(&t);
}

static void test_tcp_binds_the_requested_local_address(void)
{
    struct sockaddr_in sa, local;
    socklen_t len = sizeof local;
    lmq_transport_opts o = { "127.0.0.1", 1, NULL, 0 };
    lmq_transport t;
    int lfd = listen_tcp(&sa);

    lmq_transport_init(&t, &lmq_transport_tcp);
    CHECK_INT(connect_fully(&t, (struct sockaddr *)&sa, sizeof sa, &o), 0);
    getsockname(t.fd, (struct sockaddr *)&local, &len);
    CHECK_INT(ntohl(local.sin_addr.s_addr), INADDR_LOOPBACK);
    t.ops->close(&t);

    /* a name is refused: looking it up here would block the loop */
    o.bind_address = "localhost";
    lmq_transport_init(&t, &lmq_transport_tcp);
    CHECK_INT(t.ops->open(&t, (struct sockaddr *)&sa, sizeof sa, &o), LMQ_ECONNECT);
    CHECK_INT(t.fd, -1);
    close(lfd);
}

static void test_unix_socket_connects_and_moves_bytes(void)
{
    struct sockaddr_un sun;
    lmq_transport t;
    uint8_t buf[4];
    int lfd, peer;

    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof sun.sun_path, "/tmp/lmq-test-%d.sock", (int)getpid());
    unlink(sun.sun_path);
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_INT(bind(lfd, (struct sockaddr *)&sun, sizeof sun), 0);
    CHECK_INT(listen(lfd, 4), 0);

    lmq_transport_init(&t, &lmq_transport_unix);
    CHECK_INT(connect_fully(&t, (struct sockaddr *)&sun, sizeof sun, NULL), 0);
    peer = accept(lfd, NULL, NULL);
    CHECK_INT(t.ops->write(&t, (const uint8_t *)"ab", 2), 2);
    CHECK_INT(read(peer, buf, sizeof buf), 2);
    close(peer);
    t.ops->close(&t);
    close(lfd);
    unlink(sun.sun_path);

    /* no listener at the path: refused at once */
    lmq_transport_init(&t, &lmq_transport_unix);
    CHECK_INT(t.ops->open(&t, (struct sockaddr *)&sun, sizeof sun, NULL), LMQ_ECONNECT);
}

static void test_numeric_address_resolves_without_a_thread(void)
{
    lmq_resolver *r;
    struct addrinfo *res;
    char msg[128];

    CHECK_INT(lmq_resolver_start("127.0.0.1", 1883, &r), 0);
    CHECK_INT(lmq_resolver_fd(r), -1);
    CHECK_INT(lmq_resolver_result(r, &res, msg, sizeof msg), 1);
    CHECK(res != NULL);
    if (res) {
        CHECK_INT(res->ai_family, AF_INET);
        CHECK_INT(ntohs(((struct sockaddr_in *)res->ai_addr)->sin_port), 1883);
        freeaddrinfo(res);
    }
    lmq_resolver_free(r);

    CHECK_INT(lmq_resolver_start("::1", 8883, &r), 0);
    CHECK_INT(lmq_resolver_fd(r), -1);
    CHECK_INT(lmq_resolver_result(r, &res, msg, sizeof msg), 1);
    if (res) {
        CHECK_INT(res->ai_family, AF_INET6);
        freeaddrinfo(res);
    }
    lmq_resolver_free(r);
}

static void test_host_name_resolves_on_a_thread_and_wakes_the_fd(void)
{
    lmq_resolver *r;
    struct addrinfo *res = NULL;
    char msg[128];
    struct pollfd p;
    int rc;

    CHECK_INT(lmq_resolver_start("localhost", 1883, &r), 0);
    p.fd = lmq_resolver_fd(r);
    p.events = POLLIN;
    CHECK(p.fd >= 0);
    CHECK_INT(poll(&p, 1, 10000), 1);
    rc = lmq_resolver_result(r, &res, msg, sizeof msg);
    CHECK_INT(rc, 1);
    CHECK(res != NULL);
    if (res)
        freeaddrinfo(res);
    lmq_resolver_free(r);
}

static void test_resolver_may_be_abandoned_while_the_lookup_runs(void)
{
    lmq_resolver *r;

    /* freed at once: the thread finishes alone and frees the rest (ASan
     * would report a leak or a use after free) */
    CHECK_INT(lmq_resolver_start("localhost", 1, &r), 0);
    CHECK(r != NULL);
    lmq_resolver_free(r);
}

int main(void)
{
    RUN(test_tcp_connects_and_moves_bytes_both_ways);
    RUN(test_tcp_connect_to_a_closed_port_fails_with_econnect);
    RUN(test_tcp_binds_the_requested_local_address);
    RUN(test_unix_socket_connects_and_moves_bytes);
    RUN(test_numeric_address_resolves_without_a_thread);
    RUN(test_host_name_resolves_on_a_thread_and_wakes_the_fd);
    RUN(test_resolver_may_be_abandoned_while_the_lookup_runs);
    return check_done();
}
