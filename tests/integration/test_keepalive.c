/*
 * test_keepalive.c - PINGREQ keeps an idle connection alive; a broker that
 * stops answering (SIGSTOP: the kernel still takes our bytes, nobody
 * replies) is detected within the keepalive bound.
 */
#include "itest.h"

/* [MQTT-3.1.2-20] an idle client sends PINGREQ within the keepalive, and
 * mosquitto's PINGRESP keeps it connected well past 1.5 x keepalive, the
 * point where the broker would drop a silent client [MQTT-3.1.2-22]. */
static void test_idle_connection_survives_several_keepalive_periods(void)
{
    tb_broker *b = tb_broker_start(NULL);
    tw_client *t = NULL;

    REQUIRE(b);
    t = tw_new_for(b, "idle", LMQ_MQTT_5);
    REQUIRE(t);
    lmq_client_set_int(t->c, LMQ_OPT_KEEPALIVE, 1);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    CHECK(tw_expect_none(t, LMQ_EV_DISCONNECTED, 3000));
    /* Still usable afterwards. */
    CHECK_INT(tw_publish_wait(t, "it/keepalive/idle", "x", 1, 0, IT_SHORT_MS), 0);
done:
    tw_free(t);
    it_broker_stop(b);
}

/* MQTT 5 section 3.1.2.10: a client that gets no PINGRESP within a
 * reasonable time after its PINGREQ closes the connection.  With keepalive
 * 2 s, a broker that goes silent is noticed, the connection closed and
 * LMQ_EKEEPALIVE reported, within about 3-4 s. */
static void test_silent_broker_is_detected_by_keepalive(void)
{
    tb_broker *b = tb_broker_start(NULL);
    tw_client *t = NULL;

    REQUIRE(b);
    t = tw_new_for(b, "watcher", LMQ_MQTT_5);
    REQUIRE(t);
    lmq_client_set_int(t->c, LMQ_OPT_KEEPALIVE, 2);
    lmq_client_set_int(t->c, LMQ_OPT_RECONNECT, 0);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);

    int64_t t0 = tw_now_ms();
    REQUIRE(tb_broker_pause(b) == 0);
    tw_event *d = tw_wait(t, LMQ_EV_DISCONNECTED, 8000);
    int64_t elapsed = tw_now_ms() - t0;
    REQUIRE(d);
    CHECK_INT(d->ev.error, LMQ_EKEEPALIVE);
    /* Not before the keepalive interval has passed with no answer, and
     * not much after the PINGRESP should have come. */
    if (elapsed < 1900 || elapsed > 4500)
        fprintf(stderr, "keepalive loss detected after %lld ms\n", (long long)elapsed);
    CHECK(elapsed >= 1900);
    CHECK(elapsed <= 4500);
done:
    if (b)
        tb_broker_resume(b);
    tw_free(t);
    it_broker_stop(b);
}

/* After the keepalive loss the client reconnects once the broker is back. */
static void test_client_reconnects_after_keepalive_loss_when_broker_answers_again(void)
{
    tb_broker *b = tb_broker_start(NULL);
    tw_client *t = NULL;

    REQUIRE(b);
    t = tw_new_for(b, "comeback", LMQ_MQTT_311);
    REQUIRE(t);
    lmq_client_set_int(t->c, LMQ_OPT_KEEPALIVE, 1);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    REQUIRE(tb_broker_pause(b) == 0);
    tw_event *d = tw_wait(t, LMQ_EV_DISCONNECTED, 6000);
    CHECK(d && d->ev.error == LMQ_EKEEPALIVE);
    REQUIRE(tb_broker_resume(b) == 0);
    CHECK(tw_wait(t, LMQ_EV_CONNECTED, IT_LONG_MS) != NULL);
    CHECK_INT(tw_publish_wait(t, "it/keepalive/back", "x", 1, 0, IT_SHORT_MS), 0);
done:
    tw_free(t);
    it_broker_stop(b);
}

int main(void)
{
    RUN(test_idle_connection_survives_several_keepalive_periods);
    RUN(test_silent_broker_is_detected_by_keepalive);
    RUN(test_client_reconnects_after_keepalive_loss_when_broker_answers_again);
    return check_done();
}
