/*
 * event.c - the session's event queue, the arena its data lives in, and
 * the public readers of an event's MQTT 5 property block.
 *
 * Events hold pointers into an arena of chunks that never move (a chunk is
 * never reallocated), so an event handed out stays valid while new ones
 * are pushed.  A pull first forgets the events of the previous pull and
 * frees the chunks only they used: data is appended in push order, so the
 * chunks before the first remaining event's chunk are done with.  When
 * the queue runs empty, the ring and the arena go back to the allocator
 * (an idle client holds neither); the next busy spell starts at the size
 * the last one reached, so a steady stream does not regrow them in steps.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "session/session_int.h"

#define LMQ_CHUNK_MIN 1024u     /* the first chunk of a spell, at least */
#define LMQ_CHUNK_MAX 65536u    /* chunks double up to this (or one event's need) */
#define LMQ_RING_MIN 8u

struct lmq_arena_chunk {
    struct lmq_arena_chunk *next;
    size_t cap, used;
    uint8_t data[];
};

static void chunk_free_list(lmq_arena_chunk *c)
{
    while (c) {
        lmq_arena_chunk *n = c->next;
        free(c);
        c = n;
    }
}

void lmq_evq_free(lmq_evq *q)
{
    chunk_free_list(q->first);
    free(q->spare);
    free(q->ev);
    free(q->chunk);
    memset(q, 0, sizeof *q);
}

static int ring_grow(lmq_evq *q)
{
    uint32_t cap = q->cap ? q->cap * 2 : q->ring_hint > LMQ_RING_MIN ? q->ring_hint : LMQ_RING_MIN;
    lmq_event *ev = malloc(cap * sizeof *ev);
    lmq_arena_chunk **ch = malloc(cap * sizeof *ch);
    if (!ev || !ch) {
        free(ev);
        free(ch);
        return LMQ_ENOMEM;
    }
    for (uint32_t i = 0; i < q->count; i++) {
        ev[i] = q->ev[(q->head + i) % q->cap];
        ch[i] = q->chunk[(q->head + i) % q->cap];
    }
    free(q->ev);
    free(q->chunk);
    q->ev = ev;
    q->chunk = ch;
    q->cap = cap;
    q->head = 0;
    return 0;
}

lmq_event *lmq_evq_push(lmq_evq *q, int type)
{
    if (q->count == q->cap && ring_grow(q))
        return NULL;
    uint32_t i = (q->head + q->count) % q->cap;
    q->count++;
    q->pushed++;
    if (q->count > q->peak)
        q->peak = q->count;
    memset(&q->ev[i], 0, sizeof q->ev[i]);
    q->ev[i].type = type;
    q->chunk[i] = q->last;      /* its data, if any, starts at or after here */
    return &q->ev[i];
}

static lmq_arena_chunk *chunk_new(lmq_evq *q, size_t need)
{
    lmq_arena_chunk *c;
    if (q->spare && q->spare->cap >= need) {
        c = q->spare;
        q->spare = NULL;
    } else {
        size_t cap = q->last ? q->last->cap * 2 : q->chunk_hint;
        if (cap > LMQ_CHUNK_MAX)
            cap = LMQ_CHUNK_MAX;
        if (cap < LMQ_CHUNK_MIN)
            cap = LMQ_CHUNK_MIN;
        if (cap < need)
            cap = need;
        c = malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->cap = cap;
    }
    c->next = NULL;
    c->used = 0;
    if (q->last)
        q->last->next = c;
    else
        q->first = c;
    q->last = c;
    return c;
}

void *lmq_evq_copy(lmq_evq *q, const void *p, size_t n)
{
    lmq_arena_chunk *c = q->last;
    /* NUL after the bytes, so text and topics read as C strings too. */
    size_t need = n + 1;
    if (!c || c->cap - c->used < need) {
        if (!(c = chunk_new(q, need)))
            return NULL;
        /* An event pushed before this chunk existed starts here. */
        uint32_t last = (q->head + q->count - 1) % q->cap;
        if (q->count && !q->chunk[last])
            q->chunk[last] = c;
    }
    uint8_t *dst = c->data + c->used;
    if (n)
        memcpy(dst, p, n);
    dst[n] = 0;
    c->used += (need + 7) & ~(size_t)7;
    q->spell_bytes += (need + 7) & ~(size_t)7;
    if (c->used > c->cap)
        c->used = c->cap;
    return dst;
}

/* Free the chunks before `keep` (the first one still referenced). */
static void arena_trim(lmq_evq *q, lmq_arena_chunk *keep)
{
    while (q->first && q->first != keep) {
        lmq_arena_chunk *c = q->first;
        q->first = c->next;
        if (!q->spare || q->spare->cap < c->cap) {
            free(q->spare);
            q->spare = c;
        } else {
            free(c);
        }
    }
}

/* Copy one event into the caller's lmq_event of `size` bytes: never past
 * it, the bytes the engine has no field for zeroed, struct_size telling
 * how much is filled. */
static void event_out(uint8_t *dst, const lmq_event *ev, size_t size)
{
    if (size == sizeof *ev) {
        memcpy(dst, ev, sizeof *ev);
        ((lmq_event *)(void *)dst)->struct_size = (uint32_t)sizeof *ev;
        return;
    }
    size_t n = size < sizeof *ev ? size : sizeof *ev;
    uint32_t filled = (uint32_t)n;
    memcpy(dst, ev, n);
    memcpy(dst + offsetof(lmq_event, struct_size), &filled, sizeof filled);
    if (size > n)
        memset(dst + n, 0, size - n);
}

/* Nothing queued nor handed out: give everything back, remembering the
 * sizes this spell needed (powers of two, bounded like the growth). */
static void evq_release(lmq_evq *q)
{
    uint32_t ring = LMQ_RING_MIN;
    size_t chunk = LMQ_CHUNK_MIN;

    if (!q->ev && !q->first && !q->spare)
        return;
    while (ring < q->peak && ring < 65536u)
        ring *= 2;
    while (chunk < q->spell_bytes && chunk < LMQ_CHUNK_MAX)
        chunk *= 2;
    q->ring_hint = ring;
    q->chunk_hint = chunk;
    q->peak = 0;
    q->spell_bytes = 0;
    chunk_free_list(q->first);
    free(q->spare);
    free(q->ev);
    free(q->chunk);
    q->first = q->last = q->spare = NULL;
    q->ev = NULL;
    q->chunk = NULL;
    q->cap = q->head = 0;
}

int lmq_evq_pull(lmq_evq *q, void *out, int max, size_t size)
{
    q->head = q->cap ? (q->head + q->delivered) % q->cap : 0;
    q->count -= q->delivered;
    q->delivered = 0;
    if (q->count == 0) {
        evq_release(q);
        return 0;
    } else if (q->chunk[q->head])
        arena_trim(q, q->chunk[q->head]);
    /* else: the first remaining event came before any chunk existed, so
     * every chunk is still needed. */
    int n = 0;
    while (n < max && (uint32_t)n < q->count) {
        event_out((uint8_t *)out + (size_t)n * size,
                  &q->ev[(q->head + (uint32_t)n) % q->cap], size);
        n++;
    }
    q->delivered = (uint32_t)n;
    return n;
}

/* ------------------------------------------------ public property readers */

static lmq_props raw_of(const lmq_event *ev)
{
    lmq_props p;
    memset(&p, 0, sizeof p);
    if (ev && ev->props && ev->props_len > 0) {
        p.raw.p = ev->props;
        p.raw.n = (uint32_t)ev->props_len;
    }
    return p;
}

LMQ_API int lmq_event_prop_int(const lmq_event *ev, int id, int32_t index, int64_t *value)
{
    uint32_t pos = 0, num;
    uint8_t got;
    lmq_slice a, b;

    if (!ev || index < 0 || id < 0 || id > 0xFF)
        return LMQ_EINVAL;
    const lmq_prop_info *info = lmq_prop_lookup((uint8_t)id);
    if (!info || info->kind > LMQ_PK_VARINT)
        return LMQ_EINVAL;
    lmq_props p = raw_of(ev);
    while (lmq_props_next(&p, &pos, &got, &num, &a, &b)) {
        if (got != id || index-- > 0)
            continue;
        if (value)
            *value = num;
        return 1;
    }
    return 0;
}

LMQ_API int lmq_event_prop_str(const lmq_event *ev, int id, const char **s, int32_t *len)
{
    uint32_t pos = 0, num;
    uint8_t got;
    lmq_slice a, b;

    if (!ev || id < 0 || id > 0xFF)
        return LMQ_EINVAL;
    const lmq_prop_info *info = lmq_prop_lookup((uint8_t)id);
    if (!info || (info->kind != LMQ_PK_UTF8 && info->kind != LMQ_PK_BINARY))
        return LMQ_EINVAL;
    lmq_props p = raw_of(ev);
    while (lmq_props_next(&p, &pos, &got, &num, &a, &b)) {
        if (got != id)
            continue;
        if (s)
            *s = (const char *)a.p;
        if (len)
            *len = (int32_t)a.n;
        return 1;
    }
    return 0;
}

LMQ_API int lmq_event_prop_user(const lmq_event *ev, int32_t index, const char **key,
                                int32_t *klen, const char **val, int32_t *vlen)
{
    uint32_t pos = 0, num;
    uint8_t got;
    lmq_slice a, b;

    if (!ev || index < 0)
        return LMQ_EINVAL;
    lmq_props p = raw_of(ev);
    while (lmq_props_next(&p, &pos, &got, &num, &a, &b)) {
        if (got != LMQ_PROP_USER || index-- > 0)
            continue;
        if (key)
            *key = (const char *)a.p;
        if (klen)
            *klen = (int32_t)a.n;
        if (val)
            *val = (const char *)b.p;
        if (vlen)
            *vlen = (int32_t)b.n;
        return 1;
    }
    return 0;
}
