/*
 * fuzz_decode.c - libFuzzer target for the MQTT decoder.
 *
 * The first input byte picks the level, the side, the chunk size and a
 * max_packet for the incremental decoder; the rest is the bytes.  They go
 * to lmq_decode() at every level and from both sides, and through two
 * lmq_decoders (whole, and in chunks, half of the time by space/commit).
 * Every packet that decodes is walked completely (properties,
 * subscription entries) and checked to lie inside the input; the chunked
 * decoder must give the same packets and the same final answer as the
 * whole one.  And the decoder and the encoder must agree: every packet
 * lmq_decode() accepts re-encodes as its sender (lmq_encode_as), the bytes
 * decode again, and encoding that gives the same bytes (a decoded packet
 * may be re-encoded in a shorter form, e.g. a v5 ack's reason 0, so the
 * first encoding is the fixed point, not the input).  A broken invariant
 * aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(c)                                                     \
    do {                                                                   \
        if (!(c))                                                          \
            abort();                                                       \
    } while (0)

/* Read every byte of a slice, so the sanitizer sees any bad pointer. */
static unsigned touch(lmq_slice s, const uint8_t *b, size_t n)
{
    unsigned sum = 0;
    if (!s.p) {
        FUZZ_ASSERT(s.n == 0);
        return 0;
    }
    FUZZ_ASSERT(s.p >= b && s.n <= n && (size_t)(s.p - b) <= n - s.n);
    for (uint32_t k = 0; k < s.n; k++)
        sum += s.p[k];
    return sum;
}

static unsigned walk_props(const lmq_props *pr, const uint8_t *b, size_t n)
{
    uint32_t pos = 0, num, users = 0, subids = 0;
    uint8_t id;
    lmq_slice x, y;
    unsigned sum = touch(pr->raw, b, n);

    while (lmq_props_next(pr, &pos, &id, &num, &x, &y)) {
        FUZZ_ASSERT(lmq_props_has(pr, id));
        sum += touch(x, b, n) + touch(y, b, n) + num;
        if (id == LMQ_PROP_USER)
            users++;
        if (id == LMQ_PROP_SUBSCRIPTION_ID) {
            FUZZ_ASSERT(num != 0);
            if (subids++ == 0)
                FUZZ_ASSERT(num == pr->sub_id);
        }
    }
    /* the walk covers the whole block the decoder accepted */
    FUZZ_ASSERT(pos == pr->raw.n);
    FUZZ_ASSERT(users == pr->n_user);
    FUZZ_ASSERT(subids == pr->n_sub_id);
    return sum;
}

static unsigned walk_subs(const lmq_subscribe *s, uint8_t type,
                          const uint8_t *b, size_t n)
{
    uint32_t pos = 0, count = 0;
    lmq_sub_entry e;
    unsigned sum = touch(s->list, b, n);

    while (lmq_subs_next(s, type, &pos, &e)) {
        FUZZ_ASSERT(e.filter.n > 0);
        FUZZ_ASSERT(lmq_utf8_check(e.filter.p, e.filter.n) == 0);
        FUZZ_ASSERT(type == LMQ_SUBSCRIBE || e.options == 0);
        sum += touch(e.filter, b, n) + e.options;
        count++;
    }
    FUZZ_ASSERT(pos == s->list.n);
    FUZZ_ASSERT(count == s->count && count > 0);
    return sum;
}

static unsigned walk(const lmq_packet *p, const uint8_t *b, size_t n)
{
    unsigned sum = 0;
    switch (p->type) {
    case LMQ_CONNECT: {
        const lmq_connect *c = &p->u.connect;
        FUZZ_ASSERT(c->level >= 3 && c->level <= 5);
        sum += touch(c->client_id, b, n) + touch(c->username, b, n) +
               touch(c->password, b, n) + touch(c->will_topic, b, n) +
               touch(c->will_payload, b, n);
        sum += walk_props(&c->props, b, n) + walk_props(&c->will_props, b, n);
        break;
    }
    case LMQ_CONNACK:
        sum += walk_props(&p->u.connack.props, b, n);
        break;
    case LMQ_PUBLISH:
        FUZZ_ASSERT(p->u.publish.qos <= 2);
        FUZZ_ASSERT((p->u.publish.qos == 0) == (p->u.publish.packet_id == 0));
        sum += touch(p->u.publish.topic, b, n) + touch(p->u.publish.payload, b, n);
        sum += walk_props(&p->u.publish.props, b, n);
        break;
    case LMQ_PUBACK: case LMQ_PUBREC: case LMQ_PUBREL: case LMQ_PUBCOMP:
        FUZZ_ASSERT(p->u.ack.packet_id != 0);
        sum += walk_props(&p->u.ack.props, b, n);
        break;
    case LMQ_SUBSCRIBE: case LMQ_UNSUBSCRIBE:
        sum += walk_subs(&p->u.subscribe, p->type, b, n);
        sum += walk_props(&p->u.subscribe.props, b, n);
        break;
    case LMQ_SUBACK: case LMQ_UNSUBACK:
        sum += touch(p->u.suback.reasons, b, n);
        sum += walk_props(&p->u.suback.props, b, n);
        break;
    case LMQ_PINGREQ: case LMQ_PINGRESP:
        break;
    case LMQ_DISCONNECT: case LMQ_AUTH:
        sum += walk_props(&p->u.disconnect.props, b, n);
        break;
    default:
        FUZZ_ASSERT(0);
    }
    return sum;
}

/*
 * decode -> encode -> decode -> encode: both encodings succeed, have the
 * size lmq_encode_size_as() announced, and are the same bytes; the second
 * decode gives the same type and flags.  Whatever the decoder lets in,
 * the encoder must be willing to write (as the same sender), and what it
 * writes the decoder must take back.
 */
static void reencode(const lmq_packet *p, uint8_t level, int dir)
{
    static uint8_t once[1u << 16], twice[1u << 16];
    int64_t size = lmq_encode_size_as(p, level, dir);
    FUZZ_ASSERT(size > 0);
    if ((uint64_t)size > sizeof once)
        return;                     /* inputs are smaller; never mind */
    int64_t n = lmq_encode_as(p, level, dir, once, sizeof once);
    FUZZ_ASSERT(n == size);

    lmq_packet q;
    FUZZ_ASSERT(lmq_decode(once, (size_t)n, level, dir, &q) == 0);
    FUZZ_ASSERT(q.type == p->type);
    walk(&q, once, (size_t)n);
    int64_t m = lmq_encode_as(&q, level, dir, twice, sizeof twice);
    FUZZ_ASSERT(m == n);
    FUZZ_ASSERT(memcmp(once, twice, (size_t)n) == 0);
}

/* What the two decoders are compared on. */
#define MAX_SEEN 64
typedef struct run {
    int n;
    int last;
    uint8_t types[MAX_SEEN];
} run;

static void note(run *r, const lmq_packet *p)
{
    if (r->n < MAX_SEEN)
        r->types[r->n] = p->type;
    r->n++;
}

static void drain(lmq_decoder *d, run *r)
{
    lmq_packet p;
    int rc;
    while ((rc = lmq_decoder_next(d, &p)) == 1) {
        walk(&p, d->buf, d->end);
        note(r, &p);
    }
    r->last = rc;
}

static void through_decoder(const uint8_t *b, size_t n, uint8_t level,
                            int dir, size_t chunk, uint32_t max, int spaced)
{
    lmq_decoder whole, parts;
    run rw, rp;
    memset(&rw, 0, sizeof rw);
    memset(&rp, 0, sizeof rp);

    lmq_decoder_init(&whole, level, dir, max);
    if (n)
        FUZZ_ASSERT(lmq_decoder_feed(&whole, b, n) == 0);
    drain(&whole, &rw);

    lmq_decoder_init(&parts, level, dir, max);
    for (size_t k = 0; k < n && rp.last == 0; k += chunk) {
        size_t take = n - k < chunk ? n - k : chunk;
        if (spaced) {
            uint8_t *room;
            int got = lmq_decoder_space(&parts, take, &room);
            FUZZ_ASSERT(got >= (int)take);
            memcpy(room, b + k, take);
            lmq_decoder_commit(&parts, take);
        } else {
            FUZZ_ASSERT(lmq_decoder_feed(&parts, b + k, take) == 0);
        }
        drain(&parts, &rp);
    }

    /* Same packets and the same final answer, whatever the chunking.  The
     * chunked decoder stops at its first error, the whole one too. */
    FUZZ_ASSERT(rw.n == rp.n);
    FUZZ_ASSERT(rw.last == rp.last);
    for (int k = 0; k < rw.n && k < MAX_SEEN; k++)
        FUZZ_ASSERT(rw.types[k] == rp.types[k]);
    lmq_decoder_free(&whole);
    lmq_decoder_free(&parts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t ctl = data[0];
    const uint8_t *b = data + 1;
    size_t n = size - 1;

    /* Copy to an exact-size heap block so reads past the end are caught. */
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        return 0;
    if (n)
        memcpy(copy, b, n);

    for (uint8_t level = 3; level <= 5; level++) {
        for (int dir = LMQ_FROM_SERVER; dir <= LMQ_FROM_CLIENT; dir++) {
            lmq_packet p;
            if (lmq_decode(copy, n, level, dir, &p) == 0) {
                walk(&p, copy, n);
                reencode(&p, level, dir);
            }
        }
    }
    uint8_t tf;
    uint32_t rem;
    int h = lmq_decode_header(copy, n, &tf, &rem);
    FUZZ_ASSERT(h <= 5 && (h <= 0 || (size_t)h <= n));

    uint8_t level = (uint8_t)(3 + ctl % 3);
    int dir = (ctl >> 2) & 1;
    size_t chunk = ((ctl >> 3) & 7) + 1;
    if (chunk == 8)
        chunk = n ? n : 1;          /* one piece */
    uint32_t max = (ctl & 0x40) ? 64 : 0;
    int spaced = (ctl >> 7) & 1;
    through_decoder(copy, n, level, dir, chunk, max, spaced);

    free(copy);
    return 0;
}
