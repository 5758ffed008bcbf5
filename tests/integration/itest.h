/*
 * itest.h - what every integration test includes: the unit tests' check.h
 * assertions, the broker / fake broker / wait helpers, and two glue macros.
 *
 * REQUIRE(cond) fails the test and jumps to its `done:` label (where it
 * frees what it made) when going on makes no sense (no broker, no
 * connection).  it_broker_stop() prints the broker's log first when the
 * running test has failed, so a failure shows both sides.
 */
#ifndef LMQ_ITEST_H
#define LMQ_ITEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lunamq.h"
#include "check.h"
#include "broker.h"
#include "fakebroker.h"
#include "wait.h"

/* Deadlines: generous against a loaded CI machine, never slept out in a
 * passing run. */
#define IT_SHORT_MS 3000
#define IT_LONG_MS 10000

#define REQUIRE(cond)                                                      \
    do {                                                                   \
        if (!(cond)) {                                                     \
            CHECK(cond);                                                   \
            goto done;                                                     \
        }                                                                  \
    } while (0)

static inline void it_broker_stop(tb_broker *b)
{
    if (b && check_failed_now)
        tb_broker_dump_log(b);
    tb_broker_stop(b);
}

/* ---------------------------------------------------- fake broker glue */

/* A client aimed at the fake broker, driven through the external driver
 * (the fake's waits pump it), with reconnect off so the script decides
 * when a new connection comes. */
static inline tw_client *it_fake_client(tf_fake *f, const char *name, int level)
{
    tw_client *t = tw_new(name);

    if (!t)
        return NULL;
    tw_set_external(t, 1);
    lmq_client_set_str(t->c, LMQ_OPT_HOST, "127.0.0.1", -1);
    lmq_client_set_int(t->c, LMQ_OPT_PORT, tf_fake_port(f));
    lmq_client_set_str(t->c, LMQ_OPT_CLIENT_ID, name, -1);
    lmq_client_set_int(t->c, LMQ_OPT_PROTOCOL, level);
    lmq_client_set_int(t->c, LMQ_OPT_RECONNECT, 0);
    tf_fake_set_idle(f, tw_idle, NULL);
    return t;
}

/* Start the client connecting and take its CONNECT; the packet is left in
 * *connect when not NULL.  0 or -1. */
static inline int it_fake_take_connect(tf_fake *f, tw_client *t, tf_packet *connect)
{
    tf_packet p = {0};
    int rc;

    if (tw_start(t) != 0)
        return -1;
    if (tf_fake_accept(f, IT_SHORT_MS) != 0)
        return -1;
    rc = tf_fake_expect(f, LMQ_CONNECT, IT_SHORT_MS, &p);
    if (connect)
        *connect = p;
    else
        tf_packet_clear(&p);
    return rc;
}

/* A whole good handshake: CONNECT in, CONNACK (success, with `props` for
 * v5) out, the client's CONNECTED event.  0 or -1. */
static inline int it_fake_handshake(tf_fake *f, tw_client *t, int level,
                                    const lmq_props *props)
{
    if (it_fake_take_connect(f, t, NULL) != 0)
        return -1;
    if (tf_fake_send_connack(f, level, 0, 0, level == LMQ_MQTT_5 ? props : NULL) != 0)
        return -1;
    return tw_wait(t, LMQ_EV_CONNECTED, IT_SHORT_MS) ? 0 : -1;
}

#endif /* LMQ_ITEST_H */
