/*
 * test_jsonlog.c - the jsonlog module loaded by path into a session driven
 * by the unit tests' fake server: one JSON line per message in and out,
 * text or base64 payloads, properties, the topic filter, the direction
 * switch, and config errors reported through the load error.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_session_fx.h"
#include "plugin/plugin.h"

static char path[64];

static void temp_path(void)
{
    snprintf(path, sizeof path, "/tmp/lmq_jsonlog_%d.log", (int)getpid());
    unlink(path);
}

/* The whole log file, NUL-terminated (static buffer). */
static const char *slurp(void)
{
    static char buf[8192];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void start(fx *f, const char *extra)
{
    char cfg[256];
    temp_path();
    snprintf(cfg, sizeof cfg, "file=%s %s", path, extra);
    fx_init(f, 5);
    CHECK_INT(lmq_plugin_session_load(f->s, LMQ_PLUGIN_JSONLOG, cfg), 0);
    fx_connect(f, 0);
}

static void test_message_in_is_one_json_line_with_properties(void)
{
    fx f;
    start(&f, "");
    lmq_packet in = fx_publish("a/b", "say \"hi\"\n", 1, 3);
    in.u.publish.retain = 1;
    lmq_props *pr = &in.u.publish.props;
    pr->content_type.p = (const uint8_t *)"text/plain";
    pr->content_type.n = 10;
    lmq_props_set(pr, LMQ_PROP_CONTENT_TYPE);
    pr->correlation_data.p = (const uint8_t *)"\x01\x02\x03";
    pr->correlation_data.n = 3;
    lmq_props_set(pr, LMQ_PROP_CORRELATION_DATA);
    lmq_strpair up = { { (const uint8_t *)"k", 1 }, { (const uint8_t *)"v", 1 } };
    pr->user = &up;
    pr->n_user = 1;
    CHECK_INT(fx_feed(&f, &in), 0);
    const char *log = slurp();
    CHECK_INT(lines(log), 1);
    CHECK(strncmp(log, "{\"ts\":\"20", 9) == 0);
    CHECK(strstr(log, "\"dir\":\"in\",\"topic\":\"a/b\",\"qos\":1,\"retain\":true,"
                      "\"dup\":false,\"payload\":\"say \\\"hi\\\"\\n\"") != NULL);
    CHECK(strstr(log, "{\"name\":\"Content Type\",\"value\":\"text/plain\"}") != NULL);
    CHECK(strstr(log, "{\"name\":\"Correlation Data\",\"value_b64\":\"AQID\"}") != NULL);
    CHECK(strstr(log, "{\"name\":\"User Property\",\"key\":\"k\",\"value\":\"v\"}") != NULL);
    /* The message still reaches the application: jsonlog only observes. */
    fx_events(&f);
    CHECK(fx_find(&f, LMQ_EV_MESSAGE) != NULL);
    fx_free(&f);
    unlink(path);
}

static void test_binary_payload_out_is_base64(void)
{
    fx f;
    start(&f, "");
    static const uint8_t bin[] = { 0xFF, 0x00, 0xC3 };
    CHECK(lmq_session_publish(f.s, (const uint8_t *)"x/y", 3, bin, 3, 2, 0, NULL, f.now) > 0);
    const char *log = slurp();
    CHECK_INT(lines(log), 1);
    CHECK(strstr(log, "\"dir\":\"out\",\"topic\":\"x/y\",\"qos\":2,\"retain\":false,"
                      "\"payload_b64\":\"/wDD\",\"props\":[]}") != NULL);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);   /* and it is sent */
    fx_free(&f);
    unlink(path);
}

static void test_topic_filter_and_direction_select_what_is_logged(void)
{
    fx f;
    start(&f, "filter=keep/# filter=+/also dir=in");
    lmq_packet a = fx_publish("keep/1", "1", 0, 0);
    lmq_packet b = fx_publish("skip/1", "2", 0, 0);
    lmq_packet c = fx_publish("x/also", "3", 0, 0);
    CHECK_INT(fx_feed(&f, &a), 0);
    CHECK_INT(fx_feed(&f, &b), 0);
    CHECK_INT(fx_feed(&f, &c), 0);
    CHECK(fx_pub(&f, "keep/out", "4", 0) > 0);      /* dir=in: not logged */
    const char *log = slurp();
    CHECK_INT(lines(log), 2);
    CHECK(strstr(log, "\"keep/1\"") && strstr(log, "\"x/also\""));
    CHECK(!strstr(log, "skip/1") && !strstr(log, "keep/out"));
    fx_free(&f);
    unlink(path);
}

static void test_bad_config_refuses_the_load_saying_why(void)
{
    fx f;
    fx_init(&f, 5);
    CHECK_INT(lmq_plugin_session_load(f.s, LMQ_PLUGIN_JSONLOG, "filter=a/#/b"),
              LMQ_EPLUGIN_INIT);
    CHECK(strstr(lmq_session_errmsg(f.s), "invalid topic filter 'a/#/b'") != NULL);
    CHECK_INT(lmq_plugin_session_load(f.s, LMQ_PLUGIN_JSONLOG, "colour=blue"),
              LMQ_EPLUGIN_INIT);
    CHECK(strstr(lmq_session_errmsg(f.s), "unknown key 'colour'") != NULL);
    CHECK_INT(lmq_plugin_session_load(f.s, LMQ_PLUGIN_JSONLOG, "file=/nonexistent/dir/x"),
              LMQ_EPLUGIN_INIT);
    CHECK(strstr(lmq_session_errmsg(f.s), "cannot open /nonexistent/dir/x") != NULL);
    fx_free(&f);
}

int main(void)
{
    RUN(test_message_in_is_one_json_line_with_properties);
    RUN(test_binary_payload_out_is_base64);
    RUN(test_topic_filter_and_direction_select_what_is_logged);
    RUN(test_bad_config_refuses_the_load_saying_why);
    return check_done();
}
