/*
 * bench_codec.c - how fast the codec turns packets into bytes and back.
 *
 *   bench_codec [--quick] [--runs N] [--json FILE]
 *
 * Measures, at MQTT 3.1.1 and 5:
 *   - encoding one QoS 1 PUBLISH with a 64-byte payload (lmq_encode_size +
 *     lmq_encode into a reused buffer), and decoding it (lmq_decode of the
 *     whole packet);
 *   - decoding a stream of mixed packets as a server sends them (PUBLISH of
 *     varied sizes and QoS, the acknowledgements, SUBACK, UNSUBACK,
 *     PINGRESP, CONNACK), a few MB built once with the encoder and pushed
 *     through lmq_decoder in 4096-byte chunks, as a socket read would.
 *
 * Each figure is the median of several runs (5 by default) of about 0.2 s
 * each; the best run is kept too.  The iteration count per run is
 * calibrated first, which also warms caches and branch predictors.
 * Every decoded field that matters feeds a checksum that is printed, so
 * the compiler cannot drop the work; the codec lives in another
 * translation unit anyway (no LTO here).
 *
 * Any codec error ends the program with status 1: `--quick` is run by
 * ctest (bench.codec_smoke), so this program also proves that what the
 * encoder writes, the decoder reads back.  Timing itself is never tested.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/codec.h"

#ifndef LMQ_BENCH_BUILD_TYPE
#define LMQ_BENCH_BUILD_TYPE ""
#endif

#define BENCH_STR_(x) #x
#define BENCH_STR(x) BENCH_STR_(x)
#if defined(__clang__)
#define BENCH_COMPILER "clang " BENCH_STR(__clang_major__) "." \
    BENCH_STR(__clang_minor__) "." BENCH_STR(__clang_patchlevel__)
#elif defined(__GNUC__)
#define BENCH_COMPILER "gcc " __VERSION__
#else
#define BENCH_COMPILER "unknown compiler"
#endif

#define BENCH_CHUNK 4096u               /* bytes per lmq_decoder_feed */
#define BENCH_STREAM_BYTES (4u << 20)   /* the mixed stream: 4 MiB */
#define BENCH_QUICK_STREAM_BYTES (64u << 10)
#define BENCH_MAX_RUNS 101

typedef struct bench_opts {
    int quick;
    int runs;
    double target_ns;       /* wanted length of one run */
    size_t stream_bytes;
    const char *json_path;
} bench_opts;

/* One timed loop: run `iters` iterations, return a checksum of the work. */
typedef uint64_t (*bench_body)(void *ctx, uint64_t iters);

/* ns per iteration over the runs. */
typedef struct measure {
    double median_ns;
    double best_ns;
    uint64_t iters;         /* iterations in each run */
} measure;

/* Every checksum lands here and is printed at the end.  It changes with
 * the calibrated iteration counts: it keeps the work alive, it verifies
 * nothing. */
static uint64_t bench_sink;

static const char *const type_names[16] = {
    "reserved", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC",
    "PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK",
    "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"
};

/* ------------------------------------------------------------------ helpers */

static void die(const char *what, int code)
{
    const char *name = lmq_errname(code);
    fprintf(stderr, "bench_codec: %s failed: %d %s (%s)\n", what, code,
            name ? name : "?", lmq_strerror(code));
    exit(1);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* xorshift64*: a fixed seed gives the same stream on every run. */
static uint32_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return (uint32_t)((x * UINT64_C(2685821657736338717)) >> 32);
}

static uint32_t rng_range(uint64_t *s, uint32_t lo, uint32_t hi)
{
    return lo + rng_next(s) % (hi - lo + 1u);
}

static lmq_slice slice_str(const char *s)
{
    lmq_slice sl = { (const uint8_t *)s, (uint32_t)strlen(s) };
    return sl;
}

/* Fields a receiver would look at, folded into one number. */
static inline uint64_t packet_sum(const lmq_packet *p)
{
    uint64_t s = p->type;
    switch (p->type) {
    case LMQ_PUBLISH: {
        const lmq_publish *pub = &p->u.publish;
        s += pub->packet_id + pub->qos + pub->topic.n + pub->payload.n +
             pub->props.n_user;
        if (pub->payload.n)
            s += pub->payload.p[pub->payload.n - 1];
        break;
    }
    case LMQ_PUBACK:
    case LMQ_PUBREC:
    case LMQ_PUBREL:
    case LMQ_PUBCOMP:
        s += p->u.ack.packet_id + p->u.ack.reason;
        break;
    case LMQ_SUBACK:
    case LMQ_UNSUBACK:
        s += p->u.suback.packet_id + p->u.suback.reasons.n;
        if (p->u.suback.reasons.n)
            s += p->u.suback.reasons.p[0];
        break;
    case LMQ_CONNACK:
        s += p->u.connack.session_present + p->u.connack.reason +
             p->u.connack.props.receive_maximum;
        break;
    default:
        break;
    }
    return s;
}

/* -------------------------------------------------------------- the timer */

static double time_once(bench_body fn, void *ctx, uint64_t iters)
{
    double t0 = now_ns();
    bench_sink += fn(ctx, iters);
    return now_ns() - t0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/*
 * Find an iteration count that takes about target_ns (doubling until a run
 * is long enough to scale from), then time `runs` runs of it.
 */
static measure bench_run(bench_body fn, void *ctx, const bench_opts *o)
{
    uint64_t iters = 1;
    double t;
    for (;;) {
        t = time_once(fn, ctx, iters);
        if (t >= o->target_ns / 8 || iters >= (UINT64_C(1) << 40))
            break;
        iters *= t < o->target_ns / 1000 ? 16 : 2;
    }
    double scaled = (double)iters * o->target_ns / (t > 1 ? t : 1);
    iters = scaled < 1 ? 1 : (uint64_t)scaled;

    double per[BENCH_MAX_RUNS];
    for (int i = 0; i < o->runs; i++)
        per[i] = time_once(fn, ctx, iters) / (double)iters;
    qsort(per, (size_t)o->runs, sizeof per[0], cmp_double);

    measure m;
    m.iters = iters;
    m.best_ns = per[0];
    m.median_ns = o->runs % 2 ? per[o->runs / 2]
                              : (per[o->runs / 2 - 1] + per[o->runs / 2]) / 2;
    return m;
}

/* ------------------------------------------------- one PUBLISH, both ways */

static const char bench_topic[] = "sensors/room1/temperature";
static const lmq_strpair bench_user[2] = {
    { { (const uint8_t *)"site", 4 }, { (const uint8_t *)"plant-7", 7 } },
    { { (const uint8_t *)"unit", 4 }, { (const uint8_t *)"celsius", 7 } },
};
static uint8_t bench_payload[64];

/* The QoS 1 PUBLISH both single-packet benchmarks use; at level 5 it
 * carries the two user properties. */
static void make_publish(lmq_packet *p, uint8_t level)
{
    memset(p, 0, sizeof *p);
    p->type = LMQ_PUBLISH;
    p->flags = 1u << 1;                 /* QoS 1 */
    p->u.publish.qos = 1;
    p->u.publish.packet_id = 1;
    p->u.publish.topic = slice_str(bench_topic);
    p->u.publish.payload.p = bench_payload;
    p->u.publish.payload.n = sizeof bench_payload;
    if (level == LMQ_MQTT_5) {
        p->u.publish.props.user = bench_user;
        p->u.publish.props.n_user = 2;
        lmq_props_set(&p->u.publish.props, LMQ_PROP_USER);
    }
}

typedef struct encode_ctx {
    lmq_packet pkt;
    uint8_t level;
    uint8_t buf[256];
} encode_ctx;

static uint64_t body_encode(void *vctx, uint64_t iters)
{
    encode_ctx *c = vctx;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < iters; i++) {
        /* A changing packet id: nothing can be computed once for all. */
        c->pkt.u.publish.packet_id = (uint16_t)(i | 1u);
        int64_t need = lmq_encode_size(&c->pkt, c->level);
        if (need < 0 || (size_t)need > sizeof c->buf)
            die("lmq_encode_size", need < 0 ? (int)need : LMQ_EBUFSIZE);
        int64_t n = lmq_encode(&c->pkt, c->level, c->buf, sizeof c->buf);
        if (n != need)
            die("lmq_encode", n < 0 ? (int)n : LMQ_EINVAL);
        sum += (uint64_t)n + c->buf[n - 1] + c->buf[n / 2];
    }
    return sum;
}

typedef struct decode_ctx {
    uint8_t level;
    size_t len;
    uint8_t buf[256];
} decode_ctx;

static uint64_t body_decode(void *vctx, uint64_t iters)
{
    decode_ctx *c = vctx;
    uint64_t sum = 0;
    lmq_packet p;
    for (uint64_t i = 0; i < iters; i++) {
        int rc = lmq_decode(c->buf, c->len, c->level, LMQ_FROM_SERVER, &p);
        if (rc != 0)
            die("lmq_decode", rc);
        sum += packet_sum(&p);
    }
    return sum;
}

/* ------------------------------------------------------ the mixed stream */

typedef struct stream_ctx {
    uint8_t *bytes;
    size_t len;
    size_t cap;
    uint64_t packets;               /* in one pass */
    uint64_t by_type[16];
    lmq_decoder dec;
} stream_ctx;

static void stream_add(stream_ctx *c, const lmq_packet *p)
{
    int64_t need = lmq_encode_size(p, LMQ_MQTT_5);
    if (need < 0)
        die("lmq_encode_size (stream)", (int)need);
    if (c->len + (size_t)need > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1u << 16;
        while (cap < c->len + (size_t)need)
            cap *= 2;
        uint8_t *nb = realloc(c->bytes, cap);
        if (!nb)
            die("realloc", LMQ_ENOMEM);
        c->bytes = nb;
        c->cap = cap;
    }
    int64_t n = lmq_encode(p, LMQ_MQTT_5, c->bytes + c->len, c->cap - c->len);
    if (n != need)
        die("lmq_encode (stream)", n < 0 ? (int)n : LMQ_EINVAL);
    c->len += (size_t)n;
    c->packets++;
    c->by_type[p->type]++;
}

static const char *const stream_topics[] = {
    "sensors/room1/temperature",
    "sensors/room2/humidity",
    "factory/line3/press7/status",
    "home/kitchen/light",
    "vehicles/4711/gps",
    "$SYS/broker/load/messages/received/1min",
    "alerts",
    "a/b",
};

/* Payload bytes come from here (random, so nothing compresses). */
static uint8_t stream_pool[16384];

/* A PUBLISH as a server forwards it: mostly small payloads, some of a few
 * hundred bytes, a few large; QoS 0, 1 and 2; some v5 properties. */
static void mixed_publish(uint64_t *rng, lmq_packet *p)
{
    static const lmq_strpair trace = {
        { (const uint8_t *)"trace-id", 8 },
        { (const uint8_t *)"4bf92f3577b34da6", 16 },
    };
    static const char ctype[] = "application/json";
    static const char reply_to[] = "replies/client-42";
    static uint32_t sub_id;
    lmq_publish *pub = &p->u.publish;
    uint32_t r = rng_next(rng) % 100;
    uint32_t size = r < 70 ? rng_range(rng, 8, 128)
                  : r < 95 ? rng_range(rng, 129, 1024)
                           : rng_range(rng, 1025, sizeof stream_pool);

    p->type = LMQ_PUBLISH;
    r = rng_next(rng) % 10;
    pub->qos = r < 4 ? 0 : r < 8 ? 1 : 2;
    pub->retain = rng_next(rng) % 20 == 0;
    pub->packet_id = pub->qos ? (uint16_t)rng_range(rng, 1, 65535) : 0;
    p->flags = (uint8_t)(pub->qos << 1 | pub->retain);
    pub->topic = slice_str(stream_topics[rng_next(rng) % 8]);
    pub->payload.p = stream_pool + (sizeof stream_pool - size);
    pub->payload.n = size;

    r = rng_next(rng) % 10;
    if (r < 3) {
        pub->props.user = &trace;
        pub->props.n_user = 1;
        lmq_props_set(&pub->props, LMQ_PROP_USER);
    } else if (r == 3) {
        pub->props.message_expiry = 3600;
        lmq_props_set(&pub->props, LMQ_PROP_MESSAGE_EXPIRY);
        pub->props.content_type = slice_str(ctype);
        lmq_props_set(&pub->props, LMQ_PROP_CONTENT_TYPE);
        pub->props.response_topic = slice_str(reply_to);
        lmq_props_set(&pub->props, LMQ_PROP_RESPONSE_TOPIC);
        pub->props.correlation_data.p = stream_pool;
        pub->props.correlation_data.n = 16;
        lmq_props_set(&pub->props, LMQ_PROP_CORRELATION_DATA);
    } else if (r == 4) {
        sub_id = rng_range(rng, 1, 300);
        pub->props.sub_id = sub_id;
        pub->props.sub_ids = &sub_id;
        pub->props.n_sub_id = 1;
        lmq_props_set(&pub->props, LMQ_PROP_SUBSCRIPTION_ID);
    }
}

/* PUBACK, PUBREC, PUBREL or PUBCOMP; mostly the short v5 form (reason 0,
 * no properties), sometimes a reason code. */
static void mixed_ack(uint64_t *rng, lmq_packet *p, uint8_t type)
{
    p->type = type;
    p->flags = type == LMQ_PUBREL ? 0x2 : 0;    /* [MQTT-3.6.1-1] */
    p->u.ack.packet_id = (uint16_t)rng_range(rng, 1, 65535);
    if (rng_next(rng) % 10 == 0)
        p->u.ack.reason = type == LMQ_PUBACK || type == LMQ_PUBREC
                          ? 0x10    /* no matching subscribers */
                          : 0x92;   /* packet identifier not found */
}

static void mixed_suback(uint64_t *rng, lmq_packet *p, uint8_t type)
{
    static uint8_t codes[4];
    uint32_t n = type == LMQ_SUBACK ? rng_range(rng, 1, 4)
                                    : rng_range(rng, 1, 2);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r = rng_next(rng) % 8;
        if (type == LMQ_SUBACK)
            codes[i] = r < 7 ? (uint8_t)(r % 3) : 0x80;     /* granted / failure */
        else
            codes[i] = r < 7 ? 0x00 : 0x11;     /* success / no subscription */
    }
    p->type = type;
    p->u.suback.packet_id = (uint16_t)rng_range(rng, 1, 65535);
    p->u.suback.reasons.p = codes;
    p->u.suback.reasons.n = n;
}

static void mixed_connack(lmq_packet *p)
{
    static const char assigned[] = "auto-8F3A29C1-77D0-4E51";
    lmq_props *pr = &p->u.connack.props;
    p->type = LMQ_CONNACK;
    p->u.connack.session_present = 1;
    pr->receive_maximum = 100;
    lmq_props_set(pr, LMQ_PROP_RECEIVE_MAXIMUM);
    pr->topic_alias_maximum = 10;
    lmq_props_set(pr, LMQ_PROP_TOPIC_ALIAS_MAXIMUM);
    pr->retain_available = 1;
    lmq_props_set(pr, LMQ_PROP_RETAIN_AVAILABLE);
    pr->assigned_client_id = slice_str(assigned);
    lmq_props_set(pr, LMQ_PROP_ASSIGNED_CLIENT_ID);
}

/* One packet of the mix: about 60% PUBLISH, 35% acknowledgements, the rest
 * SUBACK, UNSUBACK, PINGRESP and CONNACK. */
static void mixed_packet(uint64_t *rng, lmq_packet *p)
{
    uint32_t r = rng_next(rng) % 100;
    memset(p, 0, sizeof *p);
    if (r < 60)
        mixed_publish(rng, p);
    else if (r < 75)
        mixed_ack(rng, p, LMQ_PUBACK);
    else if (r < 82)
        mixed_ack(rng, p, LMQ_PUBREC);
    else if (r < 87)
        mixed_ack(rng, p, LMQ_PUBREL);
    else if (r < 92)
        mixed_ack(rng, p, LMQ_PUBCOMP);
    else if (r < 95)
        mixed_suback(rng, p, LMQ_SUBACK);
    else if (r < 97)
        mixed_suback(rng, p, LMQ_UNSUBACK);
    else if (r < 99)
        p->type = LMQ_PINGRESP;
    else
        mixed_connack(p);
}

static void stream_build(stream_ctx *c, size_t target)
{
    uint64_t rng = UINT64_C(0x9E3779B97F4A7C15);
    lmq_packet p;
    for (size_t i = 0; i < sizeof stream_pool; i++)
        stream_pool[i] = (uint8_t)rng_next(&rng);
    memset(&p, 0, sizeof p);
    mixed_connack(&p);                  /* a session starts with one */
    stream_add(c, &p);
    while (c->len < target) {
        mixed_packet(&rng, &p);
        stream_add(c, &p);
    }
}

/* One iteration is one pass over the whole stream.  The stream ends on a
 * packet boundary, so the decoder is empty again after each pass. */
static uint64_t body_stream(void *vctx, uint64_t iters)
{
    stream_ctx *c = vctx;
    uint64_t sum = 0, seen = 0;
    lmq_packet p;
    for (uint64_t i = 0; i < iters; i++) {
        for (size_t off = 0; off < c->len; off += BENCH_CHUNK) {
            size_t n = c->len - off < BENCH_CHUNK ? c->len - off : BENCH_CHUNK;
            int rc = lmq_decoder_feed(&c->dec, c->bytes + off, n);
            if (rc != 0)
                die("lmq_decoder_feed", rc);
            while ((rc = lmq_decoder_next(&c->dec, &p)) == 1) {
                sum = sum * 31 + packet_sum(&p);
                seen++;
            }
            if (rc < 0)
                die("lmq_decoder_next", rc);
        }
    }
    if (seen != c->packets * iters) {
        fprintf(stderr, "bench_codec: the stream decoded to %llu packets, "
                "%llu expected\n", (unsigned long long)seen,
                (unsigned long long)(c->packets * iters));
        exit(1);
    }
    return sum;
}

/* Before timing: one pass must give back each packet type as many times
 * as it was encoded. */
static void stream_verify(stream_ctx *c)
{
    uint64_t got[16] = { 0 };
    lmq_packet p;
    int rc;
    for (size_t off = 0; off < c->len; off += BENCH_CHUNK) {
        size_t n = c->len - off < BENCH_CHUNK ? c->len - off : BENCH_CHUNK;
        if ((rc = lmq_decoder_feed(&c->dec, c->bytes + off, n)) != 0)
            die("lmq_decoder_feed", rc);
        while ((rc = lmq_decoder_next(&c->dec, &p)) == 1)
            got[p.type & 15]++;
        if (rc < 0)
            die("lmq_decoder_next (verify)", rc);
    }
    for (int t = 0; t < 16; t++) {
        if (got[t] != c->by_type[t]) {
            fprintf(stderr, "bench_codec: %s: %llu decoded, %llu encoded\n",
                    type_names[t], (unsigned long long)got[t],
                    (unsigned long long)c->by_type[t]);
            exit(1);
        }
    }
}

/* ----------------------------------------------------------------- report */

typedef struct op_result {
    const char *key;        /* JSON name */
    const char *label;      /* table row */
    size_t bytes;           /* encoded packet size */
    measure m;
} op_result;

static void print_ops(const op_result *r, int n)
{
    printf("%-44s %9s %9s %11s\n", "single packet", "median", "best",
           "ops/s");
    for (int i = 0; i < n; i++)
        printf("%-44s %6.1f ns %6.1f ns %9.2f M\n", r[i].label,
               r[i].m.median_ns, r[i].m.best_ns, 1e3 / r[i].m.median_ns);
}

static void print_stream(const stream_ctx *c, const measure *m)
{
    double pkt_ns = m->median_ns / (double)c->packets;
    printf("\nmixed stream, v5, fed in %u-byte chunks: %zu bytes, %llu "
           "packets per pass\n", BENCH_CHUNK, c->len,
           (unsigned long long)c->packets);
    printf("  mix:");
    for (int t = 0; t < 16; t++)
        if (c->by_type[t])
            printf(" %s %llu", type_names[t],
                   (unsigned long long)c->by_type[t]);
    printf("\n");
    printf("  %8.1f MB/s   %6.2f M packets/s   %6.1f ns/packet   "
           "(best %.1f MB/s)\n",
           (double)c->len * 1e3 / m->median_ns, 1e3 / pkt_ns, pkt_ns,
           (double)c->len * 1e3 / m->best_ns);
}

static int write_json(const bench_opts *o, const op_result *r, int n,
                      const stream_ctx *c, const measure *sm)
{
    FILE *f = fopen(o->json_path, "w");
    if (!f) {
        fprintf(stderr, "bench_codec: %s: %s\n", o->json_path,
                strerror(errno));
        return -1;
    }
    fprintf(f, "{\n  \"suite\": \"codec\",\n");
    fprintf(f, "  \"library_version\": \"%s\",\n", lmq_version());
    fprintf(f, "  \"compiler\": \"%s\",\n", BENCH_COMPILER);
    fprintf(f, "  \"build_type\": \"%s\",\n", LMQ_BENCH_BUILD_TYPE);
    fprintf(f, "  \"quick\": %s,\n", o->quick ? "true" : "false");
    fprintf(f, "  \"runs\": %d,\n", o->runs);
    fprintf(f, "  \"seconds_per_run\": %.3f,\n", o->target_ns / 1e9);
    fprintf(f, "  \"unit_note\": \"ns per operation; MB = 1e6 bytes; "
            "figures are the median of the runs, best_* the fastest run\",\n");
    fprintf(f, "  \"single\": [\n");
    for (int i = 0; i < n; i++)
        fprintf(f, "    {\"name\": \"%s\", \"packet_bytes\": %zu, "
                "\"ns_per_op\": %.2f, \"best_ns_per_op\": %.2f, "
                "\"ops_per_s\": %.0f, \"iterations_per_run\": %llu}%s\n",
                r[i].key, r[i].bytes, r[i].m.median_ns, r[i].m.best_ns,
                1e9 / r[i].m.median_ns, (unsigned long long)r[i].m.iters,
                i + 1 < n ? "," : "");
    fprintf(f, "  ],\n");
    double pkt_ns = sm->median_ns / (double)c->packets;
    fprintf(f, "  \"stream\": {\"name\": \"decode_stream_v5\", "
            "\"chunk_bytes\": %u, \"stream_bytes\": %zu, "
            "\"stream_packets\": %llu,\n", BENCH_CHUNK, c->len,
            (unsigned long long)c->packets);
    fprintf(f, "    \"mb_per_s\": %.1f, \"best_mb_per_s\": %.1f, "
            "\"packets_per_s\": %.0f, \"ns_per_packet\": %.2f, "
            "\"passes_per_run\": %llu,\n",
            (double)c->len * 1e3 / sm->median_ns,
            (double)c->len * 1e3 / sm->best_ns, 1e9 / pkt_ns, pkt_ns,
            (unsigned long long)sm->iters);
    fprintf(f, "    \"mix\": {");
    int first = 1;
    for (int t = 0; t < 16; t++) {
        if (!c->by_type[t])
            continue;
        fprintf(f, "%s\"%s\": %llu", first ? "" : ", ", type_names[t],
                (unsigned long long)c->by_type[t]);
        first = 0;
    }
    fprintf(f, "}},\n");
    fprintf(f, "  \"checksum\": \"%016llx\"\n}\n",
            (unsigned long long)bench_sink);
    if (fclose(f) != 0) {
        fprintf(stderr, "bench_codec: %s: %s\n", o->json_path,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------- main */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: bench_codec [--quick] [--runs N] [--json FILE]\n"
        "  --quick      tiny runs and a small stream (a smoke test, not a measure)\n"
        "  --runs N     timed runs per figure, median reported (default 5)\n"
        "  --json FILE  also write the figures as JSON to FILE\n");
}

static int parse_args(int argc, char **argv, bench_opts *o)
{
    o->quick = 0;
    o->runs = 5;
    o->json_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            o->quick = 1;
        } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > BENCH_MAX_RUNS) {
                fprintf(stderr, "bench_codec: --runs takes 1..%d\n",
                        BENCH_MAX_RUNS);
                return 2;
            }
            o->runs = (int)v;
        } else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
            o->json_path = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            exit(0);
        } else {
            usage(stderr);
            return 2;
        }
    }
    o->target_ns = o->quick ? 2e6 : 2e8;
    o->stream_bytes = o->quick ? BENCH_QUICK_STREAM_BYTES : BENCH_STREAM_BYTES;
    return 0;
}

/* Encode and decode benchmarks for the PUBLISH at one level. */
static void bench_single(const bench_opts *o, uint8_t level, op_result *enc,
                         op_result *dec)
{
    encode_ctx ec;
    decode_ctx dc;
    memset(&ec, 0, sizeof ec);
    ec.level = level;
    make_publish(&ec.pkt, level);
    int64_t n = lmq_encode(&ec.pkt, level, ec.buf, sizeof ec.buf);
    if (n <= 0)
        die("lmq_encode", (int)n);
    enc->bytes = (size_t)n;
    enc->m = bench_run(body_encode, &ec, o);

    dc.level = level;
    dc.len = (size_t)n;
    memcpy(dc.buf, ec.buf, (size_t)n);
    dec->bytes = (size_t)n;
    dec->m = bench_run(body_decode, &dc, o);
}

int main(int argc, char **argv)
{
    bench_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof bench_payload; i++)
        bench_payload[i] = (uint8_t)(i * 7 + 3);

    const char *bt = LMQ_BENCH_BUILD_TYPE[0] ? LMQ_BENCH_BUILD_TYPE : "unknown";
    printf("lunamq %s codec benchmark: %s build, %s\n", lmq_version(), bt,
           BENCH_COMPILER);
    printf("median of %d runs of ~%.3g s each%s\n\n", o.runs,
           o.target_ns / 1e9, o.quick ? " (--quick: not a measure)" : "");
    if (strcmp(bt, "Release") != 0 && !o.quick)
        printf("note: not a Release build; scripts/bench makes one\n\n");

    op_result r[4] = {
        { "encode_publish_qos1_64b_v311",
          "encode PUBLISH QoS 1, 64 B payload, 3.1.1", 0, { 0, 0, 0 } },
        { "encode_publish_qos1_64b_v5_2user",
          "encode PUBLISH QoS 1, 64 B, 5 + 2 user props", 0, { 0, 0, 0 } },
        { "decode_publish_qos1_64b_v311",
          "decode PUBLISH QoS 1, 64 B payload, 3.1.1", 0, { 0, 0, 0 } },
        { "decode_publish_qos1_64b_v5_2user",
          "decode PUBLISH QoS 1, 64 B, 5 + 2 user props", 0, { 0, 0, 0 } },
    };
    bench_single(&o, LMQ_MQTT_311, &r[0], &r[2]);
    bench_single(&o, LMQ_MQTT_5, &r[1], &r[3]);
    print_ops(r, 4);

    stream_ctx sc;
    memset(&sc, 0, sizeof sc);
    stream_build(&sc, o.stream_bytes);
    lmq_decoder_init(&sc.dec, LMQ_MQTT_5, LMQ_FROM_SERVER, 0);
    stream_verify(&sc);
    measure sm = bench_run(body_stream, &sc, &o);
    print_stream(&sc, &sm);

    printf("\nchecksum %016llx\n", (unsigned long long)bench_sink);
    rc = 0;
    if (o.json_path && write_json(&o, r, 4, &sc, &sm) != 0)
        rc = 1;
    lmq_decoder_free(&sc.dec);
    free(sc.bytes);
    return rc;
}
