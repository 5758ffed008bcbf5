/*
 * socket.c - the TCP and Unix domain socket transports.
 *
 * Both are plain non-blocking stream sockets and share everything but the
 * set-up: TCP may bind a local address and turns Nagle off (MQTT packets
 * are small and latency matters more than coalescing).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/netopts.h"
#include "transport/proxy.h"
#include "transport/transport.h"

void lmq_transport_init(lmq_transport *t, const lmq_transport_ops *ops)
{
    memset(t, 0, sizeof *t);
    t->ops = ops;
    t->fd = -1;
}

static int sock_fail(lmq_transport *t, int code, const char *what, int err)
{
    snprintf(t->err, sizeof t->err, "%s: %s", what, strerror(err));
    return code;
}

/* Bind to a numeric local address of the same family as the target: the
 * lookup must not block the loop, so names are not accepted here. */
static int sock_bind(lmq_transport *t, int family, const char *addr)
{
    struct addrinfo hints, *res = NULL;
    int rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
    rc = getaddrinfo(addr, NULL, &hints, &res);
    if (rc != 0) {
        snprintf(t->err, sizeof t->err, "bind address %s: %s", addr, gai_strerror(rc));
        return LMQ_ECONNECT;
    }
    rc = bind(t->fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc != 0)
        return sock_fail(t, LMQ_ECONNECT, "bind", errno);
    return 0;
}

static int sock_open(lmq_transport *t, const struct sockaddr *sa, socklen_t salen,
                     const lmq_transport_opts *o, int is_tcp)
{
    int rc;

    t->err[0] = '\0';
    t->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (t->fd < 0)
        return sock_fail(t, LMQ_ECONNECT, "socket", errno);
    if (is_tcp && o && o->tcp_nodelay) {
        int one = 1;
        (void)setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (is_tcp && o && o->bind_address && o->bind_address[0]) {
        rc = sock_bind(t, sa->sa_family, o->bind_address);
        if (rc < 0)
            goto fail;
    }
    if (is_tcp && t->net && t->net->proxy.kind) {
        /* sa is the proxy's: its handshake follows the connect (proxy.c) */
        rc = lmq_proxy_begin(t, o);
        if (rc < 0)
            goto fail;
    }
    do
        rc = connect(t->fd, sa, salen);
    while (rc != 0 && errno == EINTR);
    if (rc == 0 && t->proxy) {
        t->connecting = 1;      /* connected to the proxy: its handshake is next */
        return 1;
    }
    if (rc == 0)
        return 0;
    if (errno == EINPROGRESS) {
        /* A Unix socket with a full backlog says EAGAIN instead: that one
         * is not pending, so it fails here and the attempt is retried. */
        t->connecting = 1;
        return 1;
    }
    rc = sock_fail(t, LMQ_ECONNECT, "connect", errno);
fail:
    lmq_proxy_end(t);
    close(t->fd);
    t->fd = -1;
    return rc;
}

static int tcp_open(lmq_transport *t, const struct sockaddr *sa, socklen_t salen,
                    const lmq_transport_opts *o)
{
    return sock_open(t, sa, salen, o, 1);
}

static int unix_open(lmq_transport *t, const struct sockaddr *sa, socklen_t salen,
                     const lmq_transport_opts *o)
{
    return sock_open(t, sa, salen, o, 0);
}

static int sock_connect_progress(lmq_transport *t)
{
    struct pollfd pfd = { t->fd, POLLOUT, 0 };
    int err = 0;
    socklen_t len = sizeof err;
    int rc;

    if (!t->connecting)
        return 0;
    if (t->proxy && lmq_proxy_started(t))
        goto handshake;
    /* SO_ERROR reads 0 while the connect is still pending too, so first make
     * sure the socket really is writable (a caller may ask early). */
    if (poll(&pfd, 1, 0) == 0)
        return 1;
    if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err == EINPROGRESS || err == EALREADY)
        return 1;
    if (err != 0)
        return sock_fail(t, LMQ_ECONNECT, "connect", err);
    t->connecting = 0;
    if (!t->proxy)
        return 0;
    /* Connected to the proxy; the server is still to be asked for, and
     * the layers above wait until then. */
    t->connecting = 1;
handshake:
    rc = lmq_proxy_step(t);
    if (rc == 0)
        t->connecting = 0;
    return rc;
}

static ptrdiff_t sock_read(lmq_transport *t, uint8_t *buf, size_t n)
{
    ssize_t r;

    do
        r = recv(t->fd, buf, n, 0);
    while (r < 0 && errno == EINTR);
    if (r > 0)
        return r;
    if (r == 0) {
        snprintf(t->err, sizeof t->err, "connection closed by the server");
        return LMQ_ECLOSED;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
    return sock_fail(t, LMQ_EIO, "recv", errno);
}

static ptrdiff_t sock_write(lmq_transport *t, const uint8_t *buf, size_t n)
{
    ssize_t w;

    /* MSG_NOSIGNAL: a closed peer is an error to report, not a SIGPIPE that
     * kills the embedding program. */
    do
        w = send(t->fd, buf, n, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w >= 0)
        return w;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
    return sock_fail(t, LMQ_EIO, "send", errno);
}

static void sock_close(lmq_transport *t)
{
    lmq_proxy_end(t);
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    t->connecting = 0;
}

static int sock_fd(const lmq_transport *t)
{
    return t->fd;
}

static int sock_want(const lmq_transport *t)
{
    if (t->fd < 0)
        return 0;
    if (t->connecting)
        return t->proxy ? lmq_proxy_want(t) : LMQ_WANT_WRITE;
    return LMQ_WANT_READ;
}

const lmq_transport_ops lmq_transport_tcp = {
    "tcp", tcp_open, sock_connect_progress, sock_read, sock_write,
    sock_close, sock_fd, sock_want
};

const lmq_transport_ops lmq_transport_unix = {
    "unix", unix_open, sock_connect_progress, sock_read, sock_write,
    sock_close, sock_fd, sock_want
};
