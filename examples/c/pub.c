/*
 * pub.c - connect, publish "Hello World!" at QoS 1, wait for the PUBACK,
 * disconnect.  The "getting started" publisher, written for lunamq.
 *
 *   pub [host] [port]          (default localhost 1883)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lunamq.h>

#define TOPIC "MQTT Examples"
#define PAYLOAD "Hello World!"
#define QOS 1
#define TIMEOUT_MS 10000

static void on_event(lmq_client *c, const lmq_event *ev, void *userdata)
{
    (void)c;
    (void)userdata;
    if (ev->type == LMQ_EV_DISCONNECTED && ev->error)
        fprintf(stderr, "disconnected: %s\n", lmq_strerror(ev->error));
    else if (ev->type == LMQ_EV_ERROR)
        fprintf(stderr, "%s\n", ev->text);
}

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : "localhost";
    int port = argc > 2 ? atoi(argv[2]) : 1883;
    lmq_client *c = lmq_client_new();
    int rc = 1, id, err;

    if (!c)
        return 1;
    lmq_client_set_str(c, LMQ_OPT_HOST, host, -1);
    lmq_client_set_int(c, LMQ_OPT_PORT, port);
    lmq_client_set_str(c, LMQ_OPT_CLIENT_ID, "ExampleClientPub", -1);
    lmq_client_set_int(c, LMQ_OPT_KEEPALIVE, 20);
    lmq_client_set_callback(c, on_event, NULL, NULL);

    if (lmq_client_connect_wait(c, TIMEOUT_MS) != 0) {
        fprintf(stderr, "failed to connect: %s\n", lmq_client_errmsg(c));
        goto out;
    }
    id = lmq_client_publish(c, TOPIC, -1, PAYLOAD, (int32_t)strlen(PAYLOAD), QOS, 0, NULL);
    if (id < 0) {
        fprintf(stderr, "failed to publish: %s\n", lmq_strerror(id));
        goto out;
    }
    printf("Waiting for publication of %s\non topic %s\n", PAYLOAD, TOPIC);
    /* Runs the loop until the PUBACK completes the message, and no longer
     * (paho's wait_for_publish). */
    err = lmq_client_wait(c, id, TIMEOUT_MS);
    if (err) {
        fprintf(stderr, "message not delivered: %s\n", lmq_strerror(err));
        goto out;
    }
    printf("Message with id %d delivered\n", id);
    lmq_client_disconnect(c, 0, NULL);
    lmq_client_run(c, TIMEOUT_MS);     /* returns once the connection is closed */
    rc = 0;
out:
    lmq_client_free(c);
    return rc;
}
