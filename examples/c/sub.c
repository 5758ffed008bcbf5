/*
 * sub.c - connect, subscribe to "MQTT Examples" at QoS 1 and print every
 * message until interrupted.  The "getting started" subscriber, written
 * for lunamq: the client runs on a background thread, the callback prints.
 *
 *   sub [host] [port]          (default localhost 1883; Ctrl-C or 'q' quits)
 */
#include <stdio.h>
#include <stdlib.h>

#include <lunamq.h>

#define TOPIC "MQTT Examples"
#define TIMEOUT_MS 10000

static void on_event(lmq_client *c, const lmq_event *ev, void *userdata)
{
    (void)c;
    (void)userdata;
    switch (ev->type) {
    case LMQ_EV_MESSAGE:
        printf("Message arrived\n     topic: %.*s\n   message: %.*s\n",
               (int)ev->topic_len, ev->topic, (int)ev->payload_len,
               (const char *)ev->payload);
        fflush(stdout);
        break;
    case LMQ_EV_SUBSCRIBED:
        printf("Subscribed (granted QoS %d)\n", ev->n_reasons > 0 ? ev->reasons[0] : -1);
        break;
    case LMQ_EV_DISCONNECTED:
        if (ev->error)      /* 0: our own disconnect */
            fprintf(stderr, "Connection lost: %s (reconnecting)\n", lmq_strerror(ev->error));
        break;
    case LMQ_EV_CONNECTED:
        fprintf(stderr, "Connected\n");
        break;
    default:
        break;
    }
}

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : "localhost";
    int port = argc > 2 ? atoi(argv[2]) : 1883;
    lmq_subscription sub = { TOPIC, -1, 1 };
    lmq_client *c = lmq_client_new();
    int ch, rc = 1;

    if (!c)
        return 1;
    lmq_client_set_str(c, LMQ_OPT_HOST, host, -1);
    lmq_client_set_int(c, LMQ_OPT_PORT, port);
    lmq_client_set_str(c, LMQ_OPT_CLIENT_ID, "ExampleClientSub", -1);
    lmq_client_set_int(c, LMQ_OPT_KEEPALIVE, 20);
    lmq_client_set_callback(c, on_event, NULL, NULL);

    if (lmq_client_connect_wait(c, TIMEOUT_MS) != 0) {
        fprintf(stderr, "failed to connect: %s\n", lmq_client_errmsg(c));
        goto out;
    }
    /* Subscriptions are renewed after a reconnect (LMQ_OPT_AUTO_RESUBSCRIBE). */
    if (lmq_client_subscribe(c, &sub, 1, NULL) < 0) {
        fprintf(stderr, "failed to subscribe: %s\n", lmq_client_errmsg(c));
        goto out;
    }
    printf("Subscribing to topic %s\nPress Q<Enter> to quit\n\n", TOPIC);
    if (lmq_client_thread_start(c) != 0)
        goto out;
    do
        ch = getchar();
    while (ch != 'Q' && ch != 'q' && ch != EOF);
    lmq_client_disconnect(c, 0, NULL);      /* safe while the thread runs */
    lmq_client_thread_stop(c);
    rc = 0;
out:
    lmq_client_free(c);
    return rc;
}
