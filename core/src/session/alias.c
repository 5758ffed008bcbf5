/*
 * alias.c - outgoing topic aliases (MQTT 5, section 3.3.2.3.4).
 *
 * The first PUBLISH to a topic sends the topic and a fresh alias; later
 * ones send an empty topic and the alias.  Aliases are handed out in
 * order, at most min(server's Topic Alias Maximum, LMQ_ALIAS_OUT_LIMIT),
 * never above the server's maximum [MQTT-3.3.2-9], and never reassigned
 * (once all are used, new topics go without one).  The table lives for one
 * connection [MQTT-3.3.2-7].  Lookup is a small open-addressing hash.
 */
#include <stdlib.h>
#include <string.h>

#include "session/session_int.h"

void lmq_alias_out_free(lmq_alias_out *a)
{
    if (a->topic) {
        for (uint32_t i = 1; i <= a->n; i++)
            free(a->topic[i]);
    }
    free(a->topic);
    free(a->tlen);
    free(a->bucket);
    memset(a, 0, sizeof *a);
}

/* Tables are allocated on first use, so a connection without aliases
 * costs nothing. */
void lmq_alias_out_reset(lmq_alias_out *a, uint16_t max)
{
    lmq_alias_out_free(a);
    a->max = max > LMQ_ALIAS_OUT_LIMIT ? (uint16_t)LMQ_ALIAS_OUT_LIMIT : max;
}

static uint32_t hash(const uint8_t *t, uint32_t n)
{
    uint32_t h = 2166136261u;           /* FNV-1a */
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ t[i]) * 16777619u;
    return h;
}

uint16_t lmq_alias_out_find(const lmq_alias_out *a, const uint8_t *t, uint32_t n)
{
    if (!a->bucket)
        return 0;
    uint32_t mask = a->nbuckets - 1;
    for (uint32_t i = hash(t, n) & mask;; i = (i + 1) & mask) {
        uint16_t id = a->bucket[i];
        if (id == 0)
            return 0;
        if (a->tlen[id] == n && memcmp(a->topic[id], t, n) == 0)
            return id;
    }
}

uint16_t lmq_alias_out_next(const lmq_alias_out *a)
{
    return a->n < a->max ? (uint16_t)(a->n + 1) : 0;
}

static int alloc_tables(lmq_alias_out *a)
{
    a->nbuckets = 2u * LMQ_ALIAS_OUT_LIMIT;   /* load stays <= 1/2 */
    a->bucket = calloc(a->nbuckets, sizeof *a->bucket);
    a->topic = calloc((size_t)a->max + 1, sizeof *a->topic);
    a->tlen = calloc((size_t)a->max + 1, sizeof *a->tlen);
    if (!a->bucket || !a->topic || !a->tlen) {
        uint16_t max = a->max;
        lmq_alias_out_free(a);
        a->max = max;
        return LMQ_ENOMEM;
    }
    return 0;
}

int lmq_alias_out_add(lmq_alias_out *a, const uint8_t *t, uint32_t n)
{
    uint16_t id = lmq_alias_out_next(a);
    if (id == 0)
        return LMQ_EINVAL;
    if (!a->bucket && alloc_tables(a))
        return LMQ_ENOMEM;
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        return LMQ_ENOMEM;
    memcpy(copy, t, n);
    a->topic[id] = copy;
    a->tlen[id] = n;
    a->n = id;
    uint32_t mask = a->nbuckets - 1;
    uint32_t i = hash(t, n) & mask;
    while (a->bucket[i])
        i = (i + 1) & mask;
    a->bucket[i] = id;
    return 0;
}
