/* fakebroker.c - a scripted MQTT server that sends exactly what a test says. */
#define _GNU_SOURCE
#include "fakebroker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* How long one poll() may block before the idle hook drives the client. */
#define TF_SLICE_MS 5

struct tf_fake {
    int lfd;                /* listening socket */
    int cfd;                /* the accepted client, or -1 */
    int port;
    int level;
    tf_idle_fn idle;
    void *idle_arg;
    uint8_t *rx;            /* bytes received, not yet returned as packets */
    size_t rx_len, rx_cap;
    int eof;
};

static int64_t tf_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tf_packet_clear(tf_packet *p)
{
    free(p->bytes);
    memset(p, 0, sizeof *p);
}

tf_fake *tf_fake_new(void)
{
    tf_fake *f = calloc(1, sizeof *f);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int one = 1;

    if (!f)
        return NULL;
    f->cfd = -1;
    f->level = 5;
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (f->lfd < 0)
        goto fail;
    setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(f->lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(f->lfd, 4) != 0 ||
        getsockname(f->lfd, (struct sockaddr *)&a, &len) != 0)
        goto fail;
    f->port = ntohs(a.sin_port);
    return f;
fail:
    perror("fakebroker");
    if (f->lfd >= 0)
        close(f->lfd);
    free(f);
    return NULL;
}

void tf_fake_close_client(tf_fake *f)
{
    if (f->cfd >= 0)
        close(f->cfd);
    f->cfd = -1;
    f->rx_len = 0;
    f->eof = 0;
}

void tf_fake_free(tf_fake *f)
{
    if (!f)
        return;
    tf_fake_close_client(f);
    close(f->lfd);
    free(f->rx);
    free(f);
}

int tf_fake_port(const tf_fake *f)
{
    return f->port;
}

void tf_fake_set_idle(tf_fake *f, tf_idle_fn fn, void *arg)
{
    f->idle = fn;
    f->idle_arg = arg;
}

/* Wait up to one slice for fd to be readable, then let the client run. */
static int tf_poll_slice(tf_fake *f, int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    int rc = poll(&p, 1, f->idle ? 1 : TF_SLICE_MS);

    if (f->idle)
        f->idle(f->idle_arg);
    return rc;
}

int tf_fake_accept(tf_fake *f, int timeout_ms)
{
    int64_t deadline = tf_now_ms() + timeout_ms;
    int one = 1;

    tf_fake_close_client(f);
    while (tf_now_ms() < deadline) {
        int fd = accept4(f->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            f->cfd = fd;
            return 0;
        }
        tf_poll_slice(f, f->lfd);
    }
    fprintf(stderr, "fakebroker: no client connected within %d ms\n", timeout_ms);
    return -1;
}

/* Read what the socket has.  1 got bytes, 0 nothing now, -2 EOF/error. */
static int tf_fill(tf_fake *f)
{
    if (f->cfd < 0 || f->eof)
        return -2;
    if (f->rx_cap - f->rx_len < 4096) {
        size_t cap = f->rx_cap ? f->rx_cap * 2 : 8192;
        uint8_t *p = realloc(f->rx, cap);
        if (!p)
            return -2;
        f->rx = p;
        f->rx_cap = cap;
    }
    ssize_t n = recv(f->cfd, f->rx + f->rx_len, f->rx_cap - f->rx_len, 0);
    if (n > 0) {
        f->rx_len += (size_t)n;
        return 1;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    f->eof = 1;
    return -2;
}

/* A whole packet at the front of rx?  > 0 its size, 0 not yet, -3 broken. */
static long tf_framed(const tf_fake *f)
{
    uint8_t tf;
    uint32_t remaining;
    int h = lmq_decode_header(f->rx, f->rx_len, &tf, &remaining);

    if (h < 0)
        return -3;
    if (h == 0 || f->rx_len < (size_t)h + remaining)
        return 0;
    return (long)h + (long)remaining;
}

static int tf_take(tf_fake *f, size_t n, tf_packet *out)
{
    tf_packet_clear(out);
    out->bytes = malloc(n ? n : 1);
    if (!out->bytes)
        return -3;
    memcpy(out->bytes, f->rx, n);
    out->len = n;
    memmove(f->rx, f->rx + n, f->rx_len - n);
    f->rx_len -= n;
    out->type = out->bytes[0] >> 4;
    out->flags = out->bytes[0] & 0x0F;
    out->decode_rc = lmq_decode(out->bytes, n, (uint8_t)f->level, LMQ_FROM_CLIENT,
                                &out->pkt);
    /* What follows CONNECT is spoken at the level CONNECT named. */
    if (out->type == LMQ_CONNECT && out->decode_rc == 0)
        f->level = out->pkt.u.connect.level;
    return out->type;
}

int tf_fake_read(tf_fake *f, int timeout_ms, tf_packet *out)
{
    int64_t deadline = tf_now_ms() + timeout_ms;

    for (;;) {
        long n = tf_framed(f);
        if (n < 0)
            return -3;
        if (n > 0)
            return tf_take(f, (size_t)n, out);
        int rc = tf_fill(f);
        if (rc == -2)
            return -2;
        if (rc == 1)
            continue;
        if (tf_now_ms() >= deadline)
            return -1;
        tf_poll_slice(f, f->cfd);
    }
}

static const char *tf_type_name(int type)
{
    static const char *const names[] = {
        "none", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL",
        "PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ",
        "PINGRESP", "DISCONNECT", "AUTH",
    };
    return type >= 0 && type <= 15 ? names[type] : "?";
}

int tf_fake_expect(tf_fake *f, int type, int timeout_ms, tf_packet *out)
{
    int64_t deadline = tf_now_ms() + timeout_ms;

    for (;;) {
        int64_t left = deadline - tf_now_ms();
        int rc = tf_fake_read(f, left > 0 ? (int)left : 0, out);
        if (rc == LMQ_PINGREQ)
            continue;
        if (rc == type)
            return 0;
        if (rc > 0)
            fprintf(stderr, "fakebroker: expected %s, got %s\n", tf_type_name(type),
                    tf_type_name(rc));
        else
            fprintf(stderr, "fakebroker: expected %s, got %s\n", tf_type_name(type),
                    rc == -1 ? "nothing before the deadline"
                    : rc == -2 ? "the connection closed" : "broken framing");
        return -1;
    }
}

int tf_fake_expect_silence(tf_fake *f, int ms, tf_packet *out)
{
    int64_t deadline = tf_now_ms() + ms;
    tf_packet tmp = {0};

    for (;;) {
        int64_t left = deadline - tf_now_ms();
        if (left <= 0)
            return 0;
        int rc = tf_fake_read(f, (int)left, out ? out : &tmp);
        if (!out)
            tf_packet_clear(&tmp);
        if (rc == LMQ_PINGREQ)
            continue;
        if (rc == -1)
            return 0;
        return rc == -2 ? -2 : 1;
    }
}

int tf_fake_send(tf_fake *f, const void *bytes, size_t len)
{
    const uint8_t *p = bytes;
    int64_t deadline = tf_now_ms() + 5000;

    while (len > 0) {
        if (f->cfd < 0)
            return -1;
        ssize_t n = send(f->cfd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        if (tf_now_ms() >= deadline)
            return -1;
        /* The client must read for the socket to drain. */
        if (f->idle)
            f->idle(f->idle_arg);
    }
    return 0;
}

int tf_fake_send_packet(tf_fake *f, const lmq_packet *pkt, int level)
{
    uint8_t stack[1024];
    int64_t size = lmq_encode_size_as(pkt, (uint8_t)level, LMQ_FROM_SERVER);
    uint8_t *buf = stack;
    int rc = -1;

    if (size < 0) {
        fprintf(stderr, "fakebroker: cannot encode packet type %d: %s\n", pkt->type,
                lmq_strerror((int)size));
        return -1;
    }
    if ((size_t)size > sizeof stack && !(buf = malloc((size_t)size)))
        return -1;
    if (lmq_encode_as(pkt, (uint8_t)level, LMQ_FROM_SERVER, buf, (size_t)size) == size)
        rc = tf_fake_send(f, buf, (size_t)size);
    if (buf != stack)
        free(buf);
    return rc;
}

int tf_fake_wait_close(tf_fake *f, int timeout_ms, int *disconnect_reason)
{
    int64_t deadline = tf_now_ms() + timeout_ms;
    tf_packet p = {0};
    int rc;

    *disconnect_reason = -1;
    for (;;) {
        int64_t left = deadline - tf_now_ms();
        rc = tf_fake_read(f, left > 0 ? (int)left : 0, &p);
        if (rc == LMQ_DISCONNECT && *disconnect_reason < 0)
            *disconnect_reason = p.decode_rc == 0 ? p.pkt.u.disconnect.reason
                                 /* undecodable: keep the raw reason byte */
                                 : p.len > 2 ? p.bytes[2] : 0;
        tf_packet_clear(&p);
        if (rc == -2 || rc == -3)
            return 0;
        if (rc == -1) {
            fprintf(stderr, "fakebroker: the client did not close within %d ms\n",
                    timeout_ms);
            return -1;
        }
    }
}

int tf_fake_send_connack(tf_fake *f, int level, int session_present, int reason,
                         const lmq_props *props)
{
    lmq_packet pkt;

    memset(&pkt, 0, sizeof pkt);
    pkt.type = LMQ_CONNACK;
    pkt.u.connack.session_present = (uint8_t)session_present;
    pkt.u.connack.reason = (uint8_t)reason;
    if (props)
        pkt.u.connack.props = *props;
    return tf_fake_send_packet(f, &pkt, level);
}
