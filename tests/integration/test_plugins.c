/*
 * test_plugins.c - C plugins loaded by path into a client: the loader's
 * refusals name the file (missing file, missing entry symbol, ABI major
 * mismatch), and the jsonlog plugin logs every message in and out of a
 * client talking to a real mosquitto, two instances chained with their own
 * configs, without changing what the application sees.
 *
 * The module paths come from plugins/CMakeLists.txt.
 */
#define _POSIX_C_SOURCE 200809L

#include <unistd.h>

#include "itest.h"

#ifndef LMQ_PLUGIN_JSONLOG
#define LMQ_PLUGIN_JSONLOG ""
#define LMQ_PLUGIN_BAD_ABI ""
#define LMQ_PLUGIN_NO_ENTRY ""
#endif

static tb_broker *broker;

static int contains(const char *hay, const char *needle)
{
    return hay && needle && needle[0] && strstr(hay, needle) != NULL;
}

static void test_loader_refusals_name_the_file(void)
{
    lmq_client *c = lmq_client_new();
    REQUIRE(c);
    REQUIRE(LMQ_PLUGIN_JSONLOG[0]);     /* built with the plugin paths */
    CHECK_INT(lmq_client_load_plugin(c, NULL, NULL), LMQ_EINVAL);
    CHECK_INT(lmq_client_load_plugin(c, "/nonexistent/lunamq_x.so", NULL), LMQ_EPLUGIN_LOAD);
    CHECK(contains(lmq_client_errmsg(c), "/nonexistent/lunamq_x.so"));
    CHECK_INT(lmq_client_load_plugin(c, LMQ_PLUGIN_NO_ENTRY, ""), LMQ_EPLUGIN_SYMBOL);
    CHECK(contains(lmq_client_errmsg(c), LMQ_PLUGIN_NO_ENTRY));
    CHECK(contains(lmq_client_errmsg(c), "lmq_plugin_entry"));
    CHECK_INT(lmq_client_load_plugin(c, LMQ_PLUGIN_BAD_ABI, ""), LMQ_EPLUGIN_ABI);
    CHECK(contains(lmq_client_errmsg(c), LMQ_PLUGIN_BAD_ABI));
    CHECK(contains(lmq_client_errmsg(c), "ABI 2.0"));
    CHECK(contains(lmq_strerror(LMQ_EPLUGIN_ABI), "ABI"));
    CHECK(lmq_errname(LMQ_EPLUGIN_DROP) && !strcmp(lmq_errname(LMQ_EPLUGIN_DROP),
                                                   "LMQ_EPLUGIN_DROP"));
done:
    lmq_client_free(c);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = calloc(1, 65536);
    if (f && buf)
        buf[fread(buf, 1, 65535, f)] = '\0';
    if (f)
        fclose(f);
    return buf;
}

static int count(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void jsonlog_through_mosquitto(int level)
{
    tw_client *t = NULL;
    char all[64], only_b[64], cfg[160], *log = NULL, *log_b = NULL;

    snprintf(all, sizeof all, "/tmp/lmq_itplug_all_%d_%d.log", (int)getpid(), level);
    snprintf(only_b, sizeof only_b, "/tmp/lmq_itplug_b_%d_%d.log", (int)getpid(), level);
    unlink(all);
    unlink(only_b);
    REQUIRE(broker);
    t = tw_new_for(broker, level == 5 ? "plug-v5" : "plug-v4", level);
    REQUIRE(t);
    snprintf(cfg, sizeof cfg, "file=%s", all);
    REQUIRE(lmq_client_load_plugin(t->c, LMQ_PLUGIN_JSONLOG, cfg) == 0);
    /* The same module again, its own state and config: the second in the chain. */
    snprintf(cfg, sizeof cfg, "file=%s dir=in filter=it/plugins/b", only_b);
    REQUIRE(lmq_client_load_plugin(t->c, LMQ_PLUGIN_JSONLOG, cfg) == 0);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    CHECK_INT(tw_subscribe(t, "it/plugins/#", 1, IT_SHORT_MS), 1);
    CHECK_INT(tw_publish_wait(t, "it/plugins/a", "first", 1, 0, IT_SHORT_MS), 0);
    CHECK_INT(tw_publish_wait(t, "it/plugins/b", "second", 0, 0, IT_SHORT_MS), 0);
    tw_event *a = tw_wait_msg(t, "it/plugins/a", IT_SHORT_MS);
    tw_event *b = tw_wait_msg(t, "it/plugins/b", IT_SHORT_MS);
    REQUIRE(a && b);
    CHECK(a->ev.payload_len == 5 && !memcmp(a->payload, "first", 5));
    CHECK(b->ev.payload_len == 6 && !memcmp(b->payload, "second", 6));

    log = slurp(all);
    log_b = slurp(only_b);
    CHECK_INT(count(log, "\n"), 4);
    CHECK_INT(count(log, "\"dir\":\"out\",\"topic\":\"it/plugins/a\",\"qos\":1"), 1);
    CHECK_INT(count(log, "\"dir\":\"out\",\"topic\":\"it/plugins/b\",\"qos\":0"), 1);
    CHECK_INT(count(log, "\"dir\":\"in\",\"topic\":\"it/plugins/a\",\"qos\":1"), 1);
    CHECK_INT(count(log, "\"payload\":\"second\""), 2);
    CHECK_INT(count(log, "\"props\":["), level == 5 ? 4 : 0);
    CHECK_INT(count(log_b, "\n"), 1);
    CHECK_INT(count(log_b, "\"dir\":\"in\",\"topic\":\"it/plugins/b\""), 1);
    if (check_failed_now)
        fprintf(stderr, "log:\n%s\nlog b:\n%s\n", log ? log : "", log_b ? log_b : "");
done:
    tw_free(t);
    free(log);
    free(log_b);
    unlink(all);
    unlink(only_b);
}

static void test_jsonlog_logs_both_ways_with_mqtt_5(void)
{
    jsonlog_through_mosquitto(LMQ_MQTT_5);
}

static void test_jsonlog_logs_both_ways_with_mqtt_311(void)
{
    jsonlog_through_mosquitto(LMQ_MQTT_311);
}

int main(void)
{
    broker = tb_broker_start(NULL);
    RUN(test_loader_refusals_name_the_file);
    RUN(test_jsonlog_logs_both_ways_with_mqtt_5);
    RUN(test_jsonlog_logs_both_ways_with_mqtt_311);
    it_broker_stop(broker);
    return check_done();
}
