/*
 * bench_plugins.c - what the plugin chain costs on the message path, in
 * the session alone (no sockets, no broker: only the engine's own work,
 * where a plugin's cost is the largest share it can be).
 *
 *   bench_plugins [--quick] [--rounds N] [--json FILE] --jsonlog PATH
 *
 * Four set-ups, timed round-robin in the same run so machine noise hits
 * them alike: no plugin; an empty chain (one plugin with no hooks); one
 * plugin with every hook set, each returning CONTINUE at once; jsonlog
 * writing to /dev/null.  Two paths: lmq_session_publish at QoS 0 of a
 * 64-byte payload (output drained every 64 messages), and a QoS 0 PUBLISH
 * from the server fed to lmq_session_input, events pulled.  ns per
 * message: the median over rounds, and each set-up's ratio to no plugin
 * (median of the per-round ratios).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/codec.h"
#include "lunamq_plugin.h"
#include "plugin/plugin.h"
#include "session/session.h"

#ifndef LMQ_BENCH_BUILD_TYPE
#define LMQ_BENCH_BUILD_TYPE "unknown"
#endif

enum { NONE, EMPTY, ALL, JSONLOG, NSETUPS };
static const char *setup_name[NSETUPS] = { "none", "empty_chain", "all_hooks_continue",
                                           "jsonlog_devnull" };
enum { OUT, IN, NPATHS };
static const char *path_name[NPATHS] = { "publish_out_qos0", "message_in_qos0" };

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* --------------------------------------------------- the two test plugins */

static int p_init(const lmq_plugin_api *api, const char *config, void **state)
{
    (void)api;
    (void)config;
    *state = NULL;
    return 0;
}

static void v_conn(void *s, const lmq_plugin_conn *c) { (void)s; (void)c; }
static int i_msg(void *s, lmq_plugin_msg *m) { (void)s; (void)m; return LMQ_PLUGIN_CONTINUE; }
static void v_log(void *s, int32_t l, const char *t) { (void)s; (void)l; (void)t; }
static void v_tick(void *s, int64_t n) { (void)s; (void)n; }
static void v_done(void *s, const lmq_plugin_done *d) { (void)s; (void)d; }
static int i_sub(void *s, const lmq_plugin_sub *u, int32_t n)
{
    (void)s; (void)u; (void)n;
    return LMQ_PLUGIN_CONTINUE;
}
static int i_csend(void *s, lmq_plugin_conn *c) { (void)s; (void)c; return LMQ_PLUGIN_CONTINUE; }
static int i_auth(void *s, const lmq_plugin_auth *a) { (void)s; (void)a; return LMQ_PLUGIN_CONTINUE; }
static void v_suback(void *s, const lmq_plugin_suback *a) { (void)s; (void)a; }
static void v_reconn(void *s, int32_t a, int64_t d) { (void)s; (void)a; (void)d; }

static const lmq_plugin empty_plugin = {
    .abi_version = LMQ_PLUGIN_ABI_VERSION, .struct_size = sizeof(lmq_plugin),
    .name = "empty", .version = "1", .init = p_init,
};

static const lmq_plugin all_plugin = {
    .abi_version = LMQ_PLUGIN_ABI_VERSION, .struct_size = sizeof(lmq_plugin),
    .name = "all", .version = "1", .init = p_init,
    .on_connect = v_conn, .on_connack = v_conn, .on_message_in = i_msg,
    .on_publish_out = i_msg, .on_disconnect = v_conn, .on_log = v_log, .on_tick = v_tick,
    .on_publish_done = v_done, .on_subscribe = i_sub, .on_connect_send = i_csend,
    .on_auth = i_auth, .on_subscribed = v_suback, .on_reconnect = v_reconn,
};

/* ------------------------------------------------------------ sessions */

static const char *jsonlog_path;
static lmq_event evs[256];

static void drain(lmq_session *s)
{
    const uint8_t *p;
    size_t n;
    while ((n = lmq_session_out(s, &p)) > 0)
        lmq_session_sent(s, n, 1000);
}

/* A connected v5 session with the set-up's plugin. */
static lmq_session *session(int setup)
{
    lmq_session *s = lmq_session_new();
    uint8_t buf[64];
    lmq_packet ca;
    int rc = 0;

    lmq_session_set_int(s, LMQ_OPT_PROTOCOL, 5);
    lmq_session_set_str(s, LMQ_OPT_CLIENT_ID, (const uint8_t *)"bench", 5);
    if (setup == EMPTY)
        rc = lmq_plugin_session_add(s, &empty_plugin, "", "empty");
    else if (setup == ALL)
        rc = lmq_plugin_session_add(s, &all_plugin, "", "all");
    else if (setup == JSONLOG)
        rc = lmq_plugin_session_load(s, jsonlog_path, "file=/dev/null");  /* flushed per line, its default */
    if (rc) {
        fprintf(stderr, "bench_plugins: %s: %s\n", setup_name[setup], lmq_session_errmsg(s));
        exit(1);
    }
    if (lmq_session_start(s, 1000)) {
        fprintf(stderr, "bench_plugins: start failed\n");
        exit(1);
    }
    drain(s);
    memset(&ca, 0, sizeof ca);
    ca.type = LMQ_CONNACK;
    int64_t n = lmq_encode_as(&ca, 5, LMQ_FROM_SERVER, buf, sizeof buf);
    if (n <= 0 || lmq_session_input(s, buf, (size_t)n, 1000) ||
        lmq_session_state(s) != LMQ_SS_CONNECTED) {
        fprintf(stderr, "bench_plugins: no connection\n");
        exit(1);
    }
    lmq_session_events(s, evs, 256);
    return s;
}

/* One server PUBLISH, QoS 0, 64-byte payload, encoded once. */
static uint8_t in_pkt[128];
static size_t in_len;

static void make_in(void)
{
    static const char payload[65] = "0123456789012345678901234567890123456789012345678901234567890123";
    lmq_packet p;
    memset(&p, 0, sizeof p);
    p.type = LMQ_PUBLISH;
    p.u.publish.topic = (lmq_slice){ (const uint8_t *)"bench/in", 8 };
    p.u.publish.payload = (lmq_slice){ (const uint8_t *)payload, 64 };
    int64_t n = lmq_encode_as(&p, 5, LMQ_FROM_SERVER, in_pkt, sizeof in_pkt);
    if (n <= 0)
        exit(1);
    in_len = (size_t)n;
}

/* ns per message of n messages along one path. */
static double run(int setup, int path, long n)
{
    static const char payload[65] = "0123456789012345678901234567890123456789012345678901234567890123";
    lmq_session *s = session(setup);
    int64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        if (path == OUT) {
            if (lmq_session_publish(s, (const uint8_t *)"bench/out", 9, (const uint8_t *)payload,
                                    64, 0, 0, NULL, 1000) <= 0)
                exit(1);
            if ((i & 63) == 63)
                drain(s);
        } else {
            if (lmq_session_input(s, in_pkt, in_len, 1000))
                exit(1);
            if ((i & 63) == 63)
                lmq_session_events(s, evs, 256);
        }
    }
    int64_t t1 = now_ns();
    lmq_session_free(s);
    return (double)(t1 - t0) / (double)n;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    int rounds = 9, quick = 0;
    long n = 200000;
    const char *json = NULL;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json = argv[++i];
        else if (!strcmp(argv[i], "--jsonlog") && i + 1 < argc)
            jsonlog_path = argv[++i];
        else {
            fprintf(stderr, "usage: bench_plugins [--quick] [--rounds N] [--json FILE] "
                            "--jsonlog PATH\n");
            return 2;
        }
    }
    if (!jsonlog_path) {
        fprintf(stderr, "bench_plugins: --jsonlog PATH (lunamq_jsonlog.so) is needed\n");
        return 2;
    }
    if (quick) {
        rounds = 3;
        n = 2000;
    }
    if (rounds < 1 || rounds > 99)
        rounds = 9;
    make_in();

    double ns[NPATHS][NSETUPS][99], ratio[NPATHS][NSETUPS][99];
    for (int r = 0; r < rounds; r++)
        for (int p = 0; p < NPATHS; p++)
            for (int k = 0; k < NSETUPS; k++) {
                /* Rotate the order each round: no set-up always goes first. */
                int su = (k + r) % NSETUPS;
                ns[p][su][r] = run(su, p, n);
            }
    for (int p = 0; p < NPATHS; p++)
        for (int su = 0; su < NSETUPS; su++)
            for (int r = 0; r < rounds; r++)
                ratio[p][su][r] = ns[p][su][r] / ns[p][NONE][r];

    double med[NPATHS][NSETUPS], rat[NPATHS][NSETUPS];
    printf("plugin chain cost, session only (%s build, %d rounds x %ld messages)\n",
           LMQ_BENCH_BUILD_TYPE, rounds, n);
    printf("%-20s %-20s %10s %8s\n", "path", "set-up", "ns/msg", "x none");
    for (int p = 0; p < NPATHS; p++)
        for (int su = 0; su < NSETUPS; su++) {
            med[p][su] = median(ns[p][su], rounds);
            rat[p][su] = median(ratio[p][su], rounds);
            printf("%-20s %-20s %10.1f %8.3f\n", path_name[p], setup_name[su], med[p][su],
                   rat[p][su]);
        }
    if (json) {
        FILE *f = fopen(json, "w");
        if (!f) {
            perror(json);
            return 1;
        }
        fprintf(f, "{\n  \"suite\": \"plugins\",\n  \"library_version\": \"%s\",\n",
                lmq_version());
        fprintf(f, "  \"build_type\": \"%s\",\n  \"quick\": %s,\n  \"rounds\": %d,\n"
                   "  \"messages_per_run\": %ld,\n", LMQ_BENCH_BUILD_TYPE,
                quick ? "true" : "false", rounds, n);
        fprintf(f, "  \"unit_note\": \"ns per message in the session alone (no I/O): median "
                   "over rounds; ratio: median of per-round ratios to no plugin, same run\",\n");
        fprintf(f, "  \"results\": [\n");
        for (int p = 0; p < NPATHS; p++)
            for (int su = 0; su < NSETUPS; su++)
                fprintf(f, "    {\"path\": \"%s\", \"setup\": \"%s\", \"ns_per_msg\": %.1f, "
                           "\"ratio_to_none\": %.3f}%s\n", path_name[p], setup_name[su],
                        med[p][su], rat[p][su],
                        p == NPATHS - 1 && su == NSETUPS - 1 ? "" : ",");
        fprintf(f, "  ]\n}\n");
        fclose(f);
    }
    return 0;
}
