/*
 * poll_loop.c - drive a client from a plain poll() loop with the external
 * driver: no libev, no callbacks, no threads.  Subscribes to a filter,
 * publishes one message to it, prints what comes back, and quits after
 * `count` messages.
 *
 *   poll_loop [host] [port] [count]     (default localhost 1883 1)
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#include <lunamq.h>

#define TOPIC "lunamq/examples/poll_loop"

/* Ask the client what it waits for, wait for it, hand the result back. */
static void step(lmq_client *c)
{
    struct pollfd p = { lmq_client_fd(c), 0, 0 };
    int want = lmq_client_want(c);
    int64_t to = lmq_client_timeout_ms(c);

    if (want & LMQ_WANT_READ)
        p.events |= POLLIN;
    if (want & LMQ_WANT_WRITE)
        p.events |= POLLOUT;
    /* fd -1 (waiting to reconnect) is ignored by poll: only the timeout */
    if (poll(&p, 1, to < 0 || to > 1000 ? 1000 : (int)to) > 0) {
        if (p.revents & (POLLOUT | POLLERR | POLLHUP))
            lmq_client_on_writable(c);
        /* the write may have replaced the socket: check before reading */
        if ((p.revents & (POLLIN | POLLERR | POLLHUP)) && lmq_client_fd(c) == p.fd)
            lmq_client_on_readable(c);
    }
    if (lmq_client_timeout_ms(c) == 0)
        lmq_client_on_timeout(c);
}

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : "localhost";
    int port = argc > 2 ? atoi(argv[2]) : 1883;
    int count = argc > 3 ? atoi(argv[3]) : 1;
    lmq_subscription sub = { TOPIC, -1, 1 };
    lmq_client *c = lmq_client_new();
    lmq_event evs[16];
    int got = 0, rc = 1, running = 1;

    if (!c)
        return 1;
    lmq_client_set_str(c, LMQ_OPT_HOST, host, -1);
    lmq_client_set_int(c, LMQ_OPT_PORT, port);
    lmq_client_set_int(c, LMQ_OPT_RECONNECT, 0);
    if (lmq_client_connect(c) != 0)
        goto out;
    while (running) {
        /* Events first: an API call (here: disconnect) may have produced
         * some, and step() could block on a client with nothing to wait
         * for. */
        int n = lmq_client_events(c, evs, 16, sizeof(lmq_event));
        if (n == 0) {
            step(c);
            continue;
        }
        for (int i = 0; i < n; i++) {
            const lmq_event *ev = &evs[i];
            switch (ev->type) {
            case LMQ_EV_CONNECTED:
                printf("connected\n");
                lmq_client_subscribe(c, &sub, 1, NULL);
                break;
            case LMQ_EV_SUBSCRIBED:
                lmq_client_publish(c, TOPIC, -1, "hello from poll()", -1, 1, 0, NULL);
                break;
            case LMQ_EV_MESSAGE:
                printf("%.*s: %.*s\n", (int)ev->topic_len, ev->topic,
                       (int)ev->payload_len, (const char *)ev->payload);
                if (++got >= count) {
                    lmq_client_disconnect(c, 0, NULL);
                    rc = 0;
                }
                break;
            case LMQ_EV_CONNECT_FAILED:
            case LMQ_EV_DISCONNECTED:
                if (ev->error)
                    fprintf(stderr, "%s: %s\n", lmq_strerror(ev->error),
                            ev->text ? ev->text : "");
                running = 0;
                break;
            default:
                break;
            }
        }
    }
out:
    lmq_client_free(c);
    return rc;
}
