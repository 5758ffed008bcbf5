/*
 * trie.c - the subscription trie: a node per filter level, children found
 * by hash, and walks that use parent pointers instead of recursion or a
 * stack, so a 30,000-level filter costs no stack and collecting allocates
 * nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "topic/topic.h"

/* The values of filters ending at one node. */
typedef struct entry_vec {
    lmq_trie_hit *v;
    uint32_t n, cap;
} entry_vec;

typedef struct node {
    struct node *parent;
    struct node *plus;          /* the "+" child */
    struct node **slots;        /* other children: open addressing */
    uint32_t cap, used;         /* cap is 0 or a power of two */
    entry_vec exact;            /* filters that end here */
    entry_vec multi;            /* filters that end here with "/#" */
    uint32_t hash;              /* of label, with the trie's seed */
    uint32_t len;
    char label[];               /* the level (not NUL-terminated) */
} node;

struct lmq_trie {
    node *root;
    size_t count;               /* entries */
    size_t nodes;               /* root included */
    uint32_t seed;
};

/* ------------------------------------------------------------------ hash */

/* FNV-1a with a per-trie starting value, so colliding level names cannot
 * be worked out once for every trie; then a final mix, since probing
 * uses the low bits. */
static uint32_t level_hash(uint32_t seed, const char *s, size_t n)
{
    uint32_t h = seed;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 16777619u;
    }
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    return h;
}

static node *child_find(const node *n, uint32_t h, const char *s, size_t len)
{
    if (n->cap == 0)
        return NULL;
    uint32_t mask = n->cap - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        node *c = n->slots[i];
        if (c == NULL)
            return NULL;
        if (c->hash == h && c->len == len && memcmp(c->label, s, len) == 0)
            return c;
    }
}

/* The slot holding child c (which is there). */
static uint32_t child_slot(const node *n, const node *c)
{
    uint32_t mask = n->cap - 1;
    uint32_t i = c->hash & mask;
    while (n->slots[i] != c)
        i = (i + 1) & mask;
    return i;
}

static void slot_put(node **slots, uint32_t cap, node *c)
{
    uint32_t mask = cap - 1;
    uint32_t i = c->hash & mask;
    while (slots[i] != NULL)
        i = (i + 1) & mask;
    slots[i] = c;
}

/* Room for one more child, keeping the load at or under 3/4. */
static int child_reserve(node *n)
{
    if ((n->used + 1) * 4 <= n->cap * 3)
        return 0;
    uint32_t cap = n->cap ? n->cap * 2 : 4;
    node **slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return LMQ_ENOMEM;
    for (uint32_t i = 0; i < n->cap; i++)
        if (n->slots[i] != NULL)
            slot_put(slots, cap, n->slots[i]);
    free(n->slots);
    n->slots = slots;
    n->cap = cap;
    return 0;
}

/* Take child c out of n's table, shifting later members of its probe run
 * back so lookups need no tombstones. */
static void child_unlink(node *n, node *c)
{
    uint32_t mask = n->cap - 1;
    uint32_t hole = child_slot(n, c);
    n->slots[hole] = NULL;
    for (uint32_t j = (hole + 1) & mask; n->slots[j] != NULL; j = (j + 1) & mask) {
        uint32_t home = n->slots[j]->hash & mask;
        /* slots[j] may move into the hole unless its home lies cyclically
         * in (hole, j]. */
        int stays = hole <= j ? (home > hole && home <= j)
                              : (home > hole || home <= j);
        if (stays)
            continue;
        n->slots[hole] = n->slots[j];
        n->slots[j] = NULL;
        hole = j;
    }
    if (--n->used == 0) {
        free(n->slots);
        n->slots = NULL;
        n->cap = 0;
    }
}

/* ----------------------------------------------------------------- nodes */

static node *node_new(node *parent, uint32_t h, const char *s, size_t len)
{
    node *n = calloc(1, sizeof *n + len);
    if (n == NULL)
        return NULL;
    n->parent = parent;
    n->hash = h;
    n->len = (uint32_t)len;
    memcpy(n->label, s, len);
    return n;
}

static int node_is_empty(const node *n)
{
    return n->used == 0 && n->plus == NULL && n->exact.n == 0
           && n->multi.n == 0;
}

static void vec_release(entry_vec *v)
{
    for (uint32_t i = 0; i < v->n; i++)
        free((char *)v->v[i].group);
    free(v->v);
}

static void node_release(node *n)
{
    vec_release(&n->exact);
    vec_release(&n->multi);
    free(n->slots);
    free(n);
}

/* Free n and its ancestors for as long as they hold nothing. */
static void prune(lmq_trie *t, node *n)
{
    while (n != t->root && node_is_empty(n)) {
        node *p = n->parent;
        if (p->plus == n)
            p->plus = NULL;
        else
            child_unlink(p, n);
        node_release(n);
        t->nodes--;
        n = p;
    }
}

/* The child of n for level s[0..len), created when `create` is set.
 * NULL when absent (or out of memory, with create). */
static node *child_get(lmq_trie *t, node *n, const char *s, size_t len,
                       int create)
{
    if (len == 1 && s[0] == '+') {
        if (n->plus == NULL && create) {
            n->plus = node_new(n, 0, s, len);
            t->nodes += n->plus != NULL;
        }
        return n->plus;
    }
    uint32_t h = level_hash(t->seed, s, len);
    node *c = child_find(n, h, s, len);
    if (c != NULL || !create)
        return c;
    if (child_reserve(n) != 0)
        return NULL;
    c = node_new(n, h, s, len);
    if (c == NULL)
        return NULL;
    slot_put(n->slots, n->cap, c);
    n->used++;
    t->nodes++;
    return c;
}

/* -------------------------------------------------------------- entries */

static int same_group(const lmq_trie_hit *e, const lmq_topic_part *g)
{
    if (e->group == NULL || g->p == NULL)
        return e->group == NULL && g->p == NULL;
    return e->group_len == g->n && memcmp(e->group, g->p, g->n) == 0;
}

static uint32_t vec_find(const entry_vec *v, void *value,
                         const lmq_topic_part *g)
{
    for (uint32_t i = 0; i < v->n; i++)
        if (v->v[i].value == value && same_group(&v->v[i], g))
            return i;
    return UINT32_MAX;
}

static int vec_add(entry_vec *v, void *value, const lmq_topic_part *g)
{
    if (v->n == v->cap) {
        uint32_t cap = v->cap ? v->cap * 2 : 2;
        lmq_trie_hit *nv = realloc(v->v, cap * sizeof *nv);
        if (nv == NULL)
            return LMQ_ENOMEM;
        v->v = nv;
        v->cap = cap;
    }
    char *group = NULL;
    if (g->p != NULL) {
        group = malloc(g->n + 1);
        if (group == NULL)
            return LMQ_ENOMEM;
        memcpy(group, g->p, g->n);
        group[g->n] = '\0';
    }
    lmq_trie_hit *e = &v->v[v->n++];
    e->value = value;
    e->group = group;
    e->group_len = (uint32_t)g->n;
    return 0;
}

/* Remove entry i, keeping the others in insertion order. */
static void vec_del(entry_vec *v, uint32_t i)
{
    free((char *)v->v[i].group);
    memmove(&v->v[i], &v->v[i + 1], (v->n - i - 1) * sizeof v->v[0]);
    if (--v->n == 0) {
        free(v->v);
        v->v = NULL;
        v->cap = 0;
    }
}

/* ---------------------------------------------------------------- entries */

LMQ_API lmq_trie *lmq_trie_new(void)
{
    lmq_trie *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->root = node_new(NULL, 0, "", 0);
    if (t->root == NULL) {
        free(t);
        return NULL;
    }
    t->nodes = 1;
    /* Any value unknown to a peer will do; the addresses vary per run. */
    uint64_t a = (uint64_t)(uintptr_t)t ^ ((uint64_t)(uintptr_t)t->root << 7);
    t->seed = 2166136261u ^ (uint32_t)(a ^ (a >> 32));
    return t;
}

LMQ_API void lmq_trie_free(lmq_trie *t)
{
    if (t == NULL)
        return;
    /* Tear down without recursion: the parent field, no longer needed,
     * threads a list of nodes still to free. */
    node *todo = t->root;
    todo->parent = NULL;
    while (todo != NULL) {
        node *n = todo;
        todo = n->parent;
        for (uint32_t i = 0; i < n->cap; i++) {
            if (n->slots[i] != NULL) {
                n->slots[i]->parent = todo;
                todo = n->slots[i];
            }
        }
        if (n->plus != NULL) {
            n->plus->parent = todo;
            todo = n->plus;
        }
        node_release(n);
    }
    free(t);
}

/*
 * Find the node and entry list for `filter` (validated).  With create,
 * missing nodes are made (pruned again by the caller on failure).
 * NULL when absent or out of memory; *group gets the share group.
 */
static entry_vec *filter_vec(lmq_trie *t, const char *filter, size_t len,
                             int create, lmq_topic_part *group, node **at)
{
    lmq_topic_part inner;
    lmq_topic_share_split(filter, len, group, &inner);
    node *n = t->root;
    size_t i = 0;
    for (;;) {
        const char *s = inner.p + i;
        size_t end = i;
        while (end < inner.n && inner.p[end] != '/')
            end++;
        *at = n;
        if (end - i == 1 && s[0] == '#')
            return &n->multi;   /* valid filters have '#' only last */
        n = child_get(t, n, s, end - i, create);
        if (n == NULL)
            return NULL;
        *at = n;
        if (end == inner.n)
            return &n->exact;
        i = end + 1;
    }
}

int lmq_trie_insert(lmq_trie *t, const char *filter, size_t len, void *value)
{
    if (t == NULL)
        return LMQ_EINVAL;
    int rc = lmq_topic_filter_check(filter, len);
    if (rc != 0)
        return rc;
    lmq_topic_part group;
    node *at = NULL;
    entry_vec *v = filter_vec(t, filter, len, 1, &group, &at);
    if (v == NULL) {
        rc = LMQ_ENOMEM;
        goto fail;
    }
    if (vec_find(v, value, &group) != UINT32_MAX)
        return 0;
    rc = vec_add(v, value, &group);
    if (rc != 0)
        goto fail;
    t->count++;
    return 1;
fail:
    prune(t, at);
    return rc;
}

int lmq_trie_erase(lmq_trie *t, const char *filter, size_t len, void *value)
{
    if (t == NULL)
        return LMQ_EINVAL;
    int rc = lmq_topic_filter_check(filter, len);
    if (rc != 0)
        return rc;
    lmq_topic_part group;
    node *at = NULL;
    entry_vec *v = filter_vec(t, filter, len, 0, &group, &at);
    if (v == NULL)
        return 0;
    uint32_t i = vec_find(v, value, &group);
    if (i == UINT32_MAX)
        return 0;
    vec_del(v, i);
    t->count--;
    prune(t, at);
    return 1;
}

size_t lmq_trie_size(const lmq_trie *t)
{
    return t ? t->count : 0;
}

size_t lmq_trie_node_count(const lmq_trie *t)
{
    return t ? t->nodes : 0;
}

/* Call fn for each entry of v; 1 when fn asked to stop. */
static int emit(const entry_vec *v, lmq_trie_visit_fn fn, void *ctx,
                int *calls)
{
    for (uint32_t i = 0; i < v->n; i++) {
        ++*calls;
        if (fn(ctx, &v->v[i]) != 0)
            return 1;
    }
    return 0;
}

/*
 * The walk: at a node of depth d, `next` is where level d+1 starts in the
 * topic (len + 1 once every level is consumed).  From a node we go down
 * the exact child for the next level, then, coming back, down the '+'
 * child; coming back from that, up again.  Coming back to the parent the
 * start of the level just left is found by scanning back to the '/'
 * before it, so no stack of positions is kept.
 */
int lmq_trie_visit(const lmq_trie *t, const char *topic, size_t len,
                   lmq_trie_visit_fn fn, void *ctx)
{
    if (t == NULL || topic == NULL || fn == NULL)
        return LMQ_EINVAL;
    if (len == 0)
        return LMQ_ETOPIC_EMPTY;
    if (len > LMQ_TOPIC_MAX)
        return LMQ_ETOPIC_LONG;
    /* [MQTT-4.7.2-1] "#" and "+" at the first level skip "$..." topics */
    int dollar = topic[0] == '$';
    const node *root = t->root, *n = root;
    size_t next = 0, lend = 0;
    int calls = 0;

arrive:
    if (!(n == root && dollar) && emit(&n->multi, fn, ctx, &calls))
        return calls;
    if (next > len) {
        if (emit(&n->exact, fn, ctx, &calls))
            return calls;
        goto back;
    }
    lend = next;
    while (lend < len && topic[lend] != '/')
        lend++;
    {
        const node *c = child_find(n, level_hash(t->seed, topic + next,
                                                 lend - next),
                                   topic + next, lend - next);
        if (c != NULL) {
            n = c;
            next = lend + 1;
            goto arrive;
        }
    }
try_plus:
    if (n->plus != NULL && !(n == root && dollar)) {
        n = n->plus;
        next = lend + 1;
        goto arrive;
    }
back:
    while (n != root) {
        const node *p = n->parent;
        int was_plus = p->plus == n;
        /* next - 1 is the '/' (or the end) after the level n consumed */
        lend = next - 1;
        next = lend;
        while (next > 0 && topic[next - 1] != '/')
            next--;
        n = p;
        if (!was_plus)
            goto try_plus;
    }
    return calls;
}

struct collect_ctx {
    lmq_trie_hit *out;
    size_t cap, n;
};

static int collect_one(void *ctx, const lmq_trie_hit *hit)
{
    struct collect_ctx *c = ctx;
    if (c->n < c->cap)
        c->out[c->n] = *hit;
    c->n++;
    return 0;
}

int lmq_trie_collect(const lmq_trie *t, const char *topic, size_t len,
                     lmq_trie_hit *out, size_t cap)
{
    if (out == NULL && cap > 0)
        return LMQ_EINVAL;
    struct collect_ctx c = { out, cap, 0 };
    return lmq_trie_visit(t, topic, len, collect_one, &c);
}

int lmq_trie_foreach(const lmq_trie *t, lmq_trie_visit_fn fn, void *ctx)
{
    if (t == NULL || fn == NULL)
        return LMQ_EINVAL;
    const node *n = t->root;
    uint32_t i = 0;             /* next slot of n to visit; cap: the '+' */
    int calls = 0;

    for (;;) {
        if (i == 0 && (emit(&n->exact, fn, ctx, &calls)
                       || emit(&n->multi, fn, ctx, &calls)))
            return calls;
        while (i < n->cap && n->slots[i] == NULL)
            i++;
        if (i < n->cap) {
            n = n->slots[i];
            i = 0;
            continue;
        }
        if (i == n->cap && n->plus != NULL) {
            n = n->plus;
            i = 0;
            continue;
        }
        /* n is done: resume its parent after it */
        for (;;) {
            if (n == t->root)
                return calls;
            const node *p = n->parent;
            if (p->plus != n) {
                i = child_slot(p, n) + 1;
                n = p;
                break;
            }
            n = p;
        }
    }
}

/* ------------------------------------------------------------ public API */

/* int32_t values ride in the pointer-sized slot (two's complement kept by
 * going through intptr_t). */
#define VALUE_PTR(v) ((void *)(intptr_t)(v))

LMQ_API int lmq_trie_add(lmq_trie *t, const char *filter, int32_t len,
                         int32_t value)
{
    return lmq_trie_insert(t, filter, lmq_topic_api_len(filter, len),
                           VALUE_PTR(value));
}

LMQ_API int lmq_trie_remove(lmq_trie *t, const char *filter, int32_t len,
                            int32_t value)
{
    return lmq_trie_erase(t, filter, lmq_topic_api_len(filter, len),
                          VALUE_PTR(value));
}

LMQ_API int lmq_trie_count(const lmq_trie *t)
{
    if (t == NULL)
        return LMQ_EINVAL;
    return t->count > INT32_MAX ? INT32_MAX : (int)t->count;
}

struct match_ctx {
    int32_t *out;
    int32_t cap, n;
};

static int match_one(void *ctx, const lmq_trie_hit *hit)
{
    struct match_ctx *m = ctx;
    if (m->n < m->cap)
        m->out[m->n] = (int32_t)(intptr_t)hit->value;
    m->n++;
    return 0;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

LMQ_API int lmq_trie_match(const lmq_trie *t, const char *topic, int32_t len,
                           int32_t *out, int32_t cap)
{
    if (t == NULL || cap < 0 || (out == NULL && cap > 0))
        return LMQ_EINVAL;
    size_t n = lmq_topic_api_len(topic, len);
    /* unlike lmq_trie_visit, the whole name is checked: the caller's topic
     * has not been through the codec */
    int rc = lmq_topic_name_check(topic, n);
    if (rc != 0)
        return rc;
    struct match_ctx m = { out, cap, 0 };
    rc = lmq_trie_visit(t, topic, n, match_one, &m);
    if (rc < 0)
        return rc;
    /* sorted, so that values handed out in registration order come back
     * in it */
    if (m.n <= cap && m.n > 1)
        qsort(out, (size_t)m.n, sizeof *out, cmp_i32);
    return m.n;
}
