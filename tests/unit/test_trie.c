/*
 * test_trie.c - the subscription trie: inserts, removes and collects, and
 * a cross-check of everything it collects against the plain matcher
 * (lmq_topic_matches) on random filters and topics; then the same through
 * the public wrapper (lmq_trie_add / _remove / _match / _count).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lunamq.h"
#include "topic/topic.h"

#define V(n) ((void *)(uintptr_t)(n))

static int ins(lmq_trie *t, const char *f, uintptr_t v)
{
    return lmq_trie_insert(t, f, strlen(f), V(v));
}

static int rem(lmq_trie *t, const char *f, uintptr_t v)
{
    return lmq_trie_erase(t, f, strlen(f), V(v));
}

/* Collect for topic and return the values found as a bit set (values 0..63
 * only), or -1 on an error or a value seen twice. */
static int64_t hits(const lmq_trie *t, const char *topic)
{
    lmq_trie_hit out[64];
    int n = lmq_trie_collect(t, topic, strlen(topic), out, 64);
    if (n < 0 || n > 64)
        return -1;
    int64_t set = 0;
    for (int i = 0; i < n; i++) {
        uintptr_t v = (uintptr_t)out[i].value;
        if (v >= 63 || (set & ((int64_t)1 << v)))
            return -1;
        set |= (int64_t)1 << v;
    }
    return set;
}

#define B(n) ((int64_t)1 << (n))

static void test_insert_then_collect_finds_matching_filters(void)
{
    lmq_trie *t = lmq_trie_new();
    CHECK(t != NULL);
    CHECK_INT(ins(t, "a/b", 1), 1);
    CHECK_INT(ins(t, "a/+", 2), 1);
    CHECK_INT(ins(t, "a/#", 3), 1);
    CHECK_INT(ins(t, "#", 4), 1);
    CHECK_INT(ins(t, "+/+", 5), 1);
    CHECK_INT(ins(t, "a", 6), 1);
    CHECK_INT(ins(t, "a/b/c", 7), 1);
    CHECK_INT(ins(t, "+/b/+", 8), 1);
    CHECK_INT(lmq_trie_size(t), 8);

    CHECK_INT(hits(t, "a/b"), B(1) | B(2) | B(3) | B(4) | B(5));
    /* [MQTT-4.7.1-1] "a/#" matches "a" */
    CHECK_INT(hits(t, "a"), B(3) | B(4) | B(6));
    CHECK_INT(hits(t, "a/b/c"), B(3) | B(4) | B(7) | B(8));
    CHECK_INT(hits(t, "x/b/y"), B(4) | B(8));
    CHECK_INT(hits(t, "x"), B(4));
    /* '+' matches an empty level */
    CHECK_INT(hits(t, "a/"), B(2) | B(3) | B(4) | B(5));
    CHECK_INT(hits(t, "/"), B(4) | B(5));
    lmq_trie_free(t);
}

static void test_dollar_topics_skip_leading_wildcards(void)
{
    lmq_trie *t = lmq_trie_new();
    ins(t, "#", 1);
    ins(t, "+/x", 2);
    ins(t, "$SYS/#", 3);
    ins(t, "$SYS/+", 4);
    ins(t, "+/#", 5);
    ins(t, "$share/g/#", 6);
    ins(t, "$share/g/$SYS/x", 7);
    /* [MQTT-4.7.2-1] */
    CHECK_INT(hits(t, "$SYS/x"), B(3) | B(4) | B(7));
    CHECK_INT(hits(t, "$SYS"), B(3));
    CHECK_INT(hits(t, "SYS/x"), B(1) | B(2) | B(5) | B(6));
    CHECK_INT(hits(t, "a/$x"), B(1) | B(5) | B(6));
    lmq_trie_free(t);
}

static void test_insert_is_idempotent_and_remove_takes_one_entry(void)
{
    lmq_trie *t = lmq_trie_new();
    CHECK_INT(ins(t, "a/b", 1), 1);
    CHECK_INT(ins(t, "a/b", 1), 0);     /* already there: no change */
    CHECK_INT(ins(t, "a/b", 2), 1);     /* same filter, other value */
    CHECK_INT(lmq_trie_size(t), 2);
    CHECK_INT(hits(t, "a/b"), B(1) | B(2));
    CHECK_INT(rem(t, "a/b", 1), 1);
    CHECK_INT(rem(t, "a/b", 1), 0);     /* one remove undid both inserts */
    CHECK_INT(hits(t, "a/b"), B(2));
    CHECK_INT(rem(t, "a/c", 2), 0);
    CHECK_INT(rem(t, "a", 2), 0);       /* a prefix node holds no entry */
    CHECK_INT(rem(t, "a/b/c", 2), 0);
    CHECK_INT(rem(t, "a/b", 3), 0);
    CHECK_INT(rem(t, "a/b", 2), 1);
    CHECK_INT(hits(t, "a/b"), 0);
    CHECK_INT(lmq_trie_size(t), 0);
    lmq_trie_free(t);
}

struct seen {
    int n;
    void *value[8];
    const char *group[8];
};

static int record(void *ctx, const lmq_trie_hit *hit)
{
    struct seen *s = ctx;
    if (s->n < 8) {
        s->value[s->n] = hit->value;
        s->group[s->n] = hit->group;
    }
    s->n++;
    return 0;
}

/* [MQTT-4.8.2-1] shared filters are found as their inner filter and carry
 * their group */
static void test_shared_filters_match_as_inner_and_carry_the_group(void)
{
    lmq_trie *t = lmq_trie_new();
    CHECK_INT(ins(t, "a/+", 1), 1);
    CHECK_INT(ins(t, "$share/g1/a/+", 1), 1);   /* distinct entries */
    CHECK_INT(ins(t, "$share/g2/a/+", 1), 1);
    CHECK_INT(ins(t, "$share/g1/a/+", 1), 0);
    CHECK_INT(lmq_trie_size(t), 3);

    struct seen s = { 0 };
    CHECK_INT(lmq_trie_visit(t, "a/b", 3, record, &s), 3);
    CHECK_INT(s.n, 3);
    int plain = 0, g1 = 0, g2 = 0;
    for (int i = 0; i < 3 && i < s.n; i++) {
        CHECK(s.value[i] == V(1));
        if (s.group[i] == NULL)
            plain++;
        else if (strcmp(s.group[i], "g1") == 0)
            g1++;
        else if (strcmp(s.group[i], "g2") == 0)
            g2++;
    }
    CHECK(plain == 1 && g1 == 1 && g2 == 1);

    /* the share prefix is not a level: its topic does not reach it */
    s.n = 0;
    CHECK_INT(lmq_trie_visit(t, "$share/g1/a/b", 13, record, &s), 0);

    CHECK_INT(rem(t, "$share/g1/a/+", 1), 1);
    CHECK_INT(rem(t, "$share/g3/a/+", 1), 0);
    s.n = 0;
    CHECK_INT(lmq_trie_visit(t, "a/b", 3, record, &s), 2);
    for (int i = 0; i < 2; i++)
        CHECK(s.group[i] == NULL || strcmp(s.group[i], "g2") == 0);
    lmq_trie_hit h[2];
    CHECK_INT(lmq_trie_collect(t, "a/x", 3, h, 2), 2);
    CHECK(h[0].group_len == (h[0].group ? 2u : 0u));
    lmq_trie_free(t);
}

static void test_invalid_filter_is_rejected_with_its_code(void)
{
    lmq_trie *t = lmq_trie_new();
    CHECK_INT(ins(t, "a/#/b", 1), LMQ_EFILTER_HASH);
    CHECK_INT(ins(t, "a+", 1), LMQ_EFILTER_PLUS);
    CHECK_INT(ins(t, "$share/g", 1), LMQ_ESHARE);
    CHECK_INT(lmq_trie_insert(t, "", 0, V(1)), LMQ_ETOPIC_EMPTY);
    CHECK_INT(lmq_trie_insert(t, "a\0", 2, V(1)), LMQ_EUTF8_NUL);
    CHECK_INT(lmq_trie_insert(NULL, "a", 1, V(1)), LMQ_EINVAL);
    CHECK_INT(rem(t, "a#", 1), LMQ_EFILTER_HASH);
    CHECK_INT(lmq_trie_size(t), 0);
    CHECK_INT(lmq_trie_node_count(t), 1);
    lmq_trie_hit h[1];
    CHECK_INT(lmq_trie_collect(t, "", 0, h, 1), LMQ_ETOPIC_EMPTY);
    CHECK_INT(lmq_trie_collect(t, NULL, 1, h, 1), LMQ_EINVAL);
    lmq_trie_free(t);
}

static void test_collect_counts_past_a_full_array(void)
{
    lmq_trie *t = lmq_trie_new();
    for (uintptr_t v = 1; v <= 10; v++)
        ins(t, "a/+", v);
    ins(t, "#", 11);
    lmq_trie_hit h[4];
    memset(h, 0, sizeof h);
    CHECK_INT(lmq_trie_collect(t, "a/b", 3, h, 4), 11);
    for (int i = 0; i < 4; i++)
        CHECK(h[i].value != NULL);
    CHECK_INT(lmq_trie_collect(t, "a/b", 3, NULL, 0), 11);
    lmq_trie_free(t);
}

static int stop_at_third(void *ctx, const lmq_trie_hit *hit)
{
    (void)hit;
    return ++*(int *)ctx == 3;
}

static void test_visit_stops_when_the_callback_says_so(void)
{
    lmq_trie *t = lmq_trie_new();
    ins(t, "a/b", 1);
    ins(t, "a/+", 2);
    ins(t, "+/b", 3);
    ins(t, "#", 4);
    ins(t, "a/#", 5);
    int calls = 0;
    CHECK_INT(lmq_trie_visit(t, "a/b", 3, stop_at_third, &calls), 3);
    CHECK_INT(calls, 3);
    calls = 0;
    CHECK_INT(lmq_trie_foreach(t, stop_at_third, &calls), 3);
    CHECK_INT(calls, 3);
    lmq_trie_free(t);
}

static int add_value(void *ctx, const lmq_trie_hit *hit)
{
    *(uintptr_t *)ctx += (uintptr_t)hit->value;
    return 0;
}

static void test_foreach_visits_every_entry_once(void)
{
    lmq_trie *t = lmq_trie_new();
    static const char *const f[] = {
        "a", "a/b", "a/#", "#", "+", "+/+/c", "$share/g/a/b", "x/y/z",
        "//", "a/b/c/d/e", "$SYS/#",
    };
    uintptr_t want = 0;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        CHECK_INT(ins(t, f[i], (uintptr_t)1 << i), 1);
        want += (uintptr_t)1 << i;
    }
    /* enough children under one node to grow its table several times */
    char buf[16];
    for (uintptr_t i = 0; i < 100; i++) {
        snprintf(buf, sizeof buf, "k/%u", (unsigned)i);
        CHECK_INT(ins(t, buf, 1u << 20), 1);
        want += 1u << 20;
    }
    uintptr_t sum = 0;
    CHECK_INT(lmq_trie_foreach(t, add_value, &sum),
              (int)(sizeof f / sizeof f[0]) + 100);
    CHECK(sum == want);
    lmq_trie_free(t);
}

static void test_remove_frees_branches_left_empty(void)
{
    lmq_trie *t = lmq_trie_new();
    CHECK_INT(lmq_trie_node_count(t), 1);
    ins(t, "a/b/c", 1);
    CHECK_INT(lmq_trie_node_count(t), 4);
    ins(t, "a/b/#", 2);                 /* '#' lives on node "a/b" */
    ins(t, "a/+/c", 3);
    CHECK_INT(lmq_trie_node_count(t), 6);
    CHECK_INT(rem(t, "a/b/c", 1), 1);
    CHECK_INT(lmq_trie_node_count(t), 5);   /* "a/b/c" went */
    CHECK_INT(rem(t, "a/b/#", 2), 1);
    CHECK_INT(lmq_trie_node_count(t), 4);   /* then "a/b" */
    CHECK_INT(rem(t, "a/+/c", 3), 1);
    CHECK_INT(lmq_trie_node_count(t), 1);   /* all the way up */

    /* many siblings removed in any order leave the table consistent */
    char buf[16];
    for (unsigned i = 0; i < 500; i++) {
        snprintf(buf, sizeof buf, "s/%u", i);
        ins(t, buf, i + 1);
    }
    for (unsigned i = 0; i < 500; i += 2) {
        snprintf(buf, sizeof buf, "s/%u", i);
        CHECK_INT(rem(t, buf, i + 1), 1);
    }
    for (unsigned i = 0; i < 500; i++) {
        snprintf(buf, sizeof buf, "s/%u", i);
        lmq_trie_hit h[2];
        int n = lmq_trie_collect(t, buf, strlen(buf), h, 2);
        CHECK_INT(n, i % 2);
        if (n == 1)
            CHECK(h[0].value == V(i + 1));
    }
    for (unsigned i = 1; i < 500; i += 2) {
        snprintf(buf, sizeof buf, "s/%u", i);
        CHECK_INT(rem(t, buf, i + 1), 1);
    }
    CHECK_INT(lmq_trie_node_count(t), 1);
    CHECK_INT(lmq_trie_size(t), 0);
    lmq_trie_free(t);
}

/* A filter of 32768 levels: the walks keep no stack, so this works. */
static void test_deep_filters_need_no_stack(void)
{
    size_t max = 65535;
    char *f = malloc(max), *tp = malloc(max);
    for (size_t i = 0; i < max; i++) {
        f[i] = (i % 2) ? '/' : '+';
        tp[i] = (i % 2) ? '/' : 'x';
    }
    lmq_trie *t = lmq_trie_new();
    CHECK_INT(lmq_trie_insert(t, f, max, V(1)), 1);
    CHECK_INT(lmq_trie_insert(t, tp, max, V(2)), 1);
    CHECK_INT(lmq_trie_node_count(t), 1 + 2 * 32768);
    lmq_trie_hit h[4];
    CHECK_INT(lmq_trie_collect(t, tp, max, h, 4), 2);
    CHECK_INT(lmq_trie_collect(t, tp, max - 2, h, 4), 0);
    int calls = 0;
    CHECK_INT(lmq_trie_foreach(t, stop_at_third, &calls), 2);
    CHECK_INT(lmq_trie_erase(t, f, max, V(1)), 1);
    CHECK_INT(lmq_trie_node_count(t), 1 + 32768);
    lmq_trie_free(t);                   /* frees the other deep branch */
    free(f);
    free(tp);
}

/* ------------------------------------------------------------ randomized */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    /* xorshift64*, fixed seed: every run sees the same cases */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ull) >> 33) % n;
}

/* Levels from a small alphabet so that filters and topics meet often;
 * "$s" makes '$' topics when it comes first. */
static const char *const level_words[] = { "a", "b", "c", "", "$s" };

static void random_topic(char *buf, size_t cap)
{
    int levels = 1 + (int)rnd(5);
    size_t n = 0;
    for (int i = 0; i < levels; i++) {
        const char *w = level_words[rnd(5)];
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? "/" : "", w);
    }
    if (n == 0)                         /* "" is not a name */
        snprintf(buf, cap, "a");
}

static void random_filter(char *buf, size_t cap)
{
    static const char *const share[] = { "", "", "", "$share/g1/", "$share/g2/" };
    size_t n = (size_t)snprintf(buf, cap, "%s", share[rnd(5)]);
    int levels = 1 + (int)rnd(5);
    for (int i = 0; i < levels; i++) {
        uint32_t r = rnd(10);
        const char *w = r < 3 ? "+" : level_words[rnd(5)];
        if (i == levels - 1 && r == 9)
            w = "#";
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? "/" : "", w);
    }
    if (lmq_topic_validate_filter(buf, -1) != 0)    /* "" or "$share/g1/" */
        snprintf(buf, cap, "#");
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* A hit as one number: value * 4 + group (0 none, 1 "g1", 2 "g2"). */
static uint64_t hit_key(const lmq_trie_hit *h)
{
    uint64_t g = 0;
    if (h->group != NULL)
        g = strcmp(h->group, "g1") == 0 ? 1 : strcmp(h->group, "g2") == 0 ? 2 : 3;
    return (uint64_t)(uintptr_t)h->value * 4 + g;
}

static uint64_t filter_key(const char *filter, uintptr_t value)
{
    uint64_t g = 0;
    if (strncmp(filter, "$share/g1/", 10) == 0)
        g = 1;
    else if (strncmp(filter, "$share/g2/", 10) == 0)
        g = 2;
    return (uint64_t)value * 4 + g;
}

#define POOL 300

/*
 * A pool of distinct (filter, value) entries, each in or out of the trie;
 * random inserts and removes; after each step a random topic is collected
 * and compared with the entries the plain matcher says match.
 */
static void test_trie_agrees_with_matcher_on_random_cases(void)
{
    static char filters[POOL][64];
    static uintptr_t values[POOL];
    static int in[POOL];
    static lmq_trie_hit out[POOL + 1];
    static uint64_t got[POOL + 1], want[POOL + 1];
    rng_state = 0x9e3779b97f4a7c15ull;

    for (int i = 0; i < POOL; i++) {
        /* a few values shared by several filters, as handlers are */
        values[i] = i % 7 == 0 ? 1 : (uintptr_t)i + 1;
        int again;
        do {
            random_filter(filters[i], sizeof filters[i]);
            again = 0;
            for (int j = 0; j < i; j++)
                if (values[j] == values[i] && strcmp(filters[j], filters[i]) == 0)
                    again = 1;
        } while (again);
        in[i] = 0;
    }
    lmq_trie *t = lmq_trie_new();
    int mismatches = 0, matched_total = 0;
    size_t count = 0;
    for (int step = 0; step < 20000; step++) {
        int i = (int)rnd(POOL);
        const char *f = filters[i];
        if (rnd(3)) {
            CHECK_INT(lmq_trie_insert(t, f, strlen(f), V(values[i])), !in[i]);
            count += !in[i];
            in[i] = 1;
        } else {
            CHECK_INT(lmq_trie_erase(t, f, strlen(f), V(values[i])), in[i]);
            count -= in[i];
            in[i] = 0;
        }
        CHECK(lmq_trie_size(t) == count);

        char topic[64];
        random_topic(topic, sizeof topic);
        size_t tl = strlen(topic);
        int n = lmq_trie_collect(t, topic, tl, out, POOL + 1);
        CHECK(n >= 0 && n <= POOL);
        if (n < 0 || n > POOL)
            break;
        for (int k = 0; k < n; k++)
            got[k] = hit_key(&out[k]);
        int m = 0;
        for (int j = 0; j < POOL; j++) {
            if (!in[j])
                continue;
            int r = lmq_topic_matches(filters[j], -1, topic, (int32_t)tl);
            CHECK(r == 0 || r == 1);
            if (r == 1)
                want[m++] = filter_key(filters[j], values[j]);
        }
        qsort(got, (size_t)n, sizeof got[0], cmp_u64);
        qsort(want, (size_t)m, sizeof want[0], cmp_u64);
        if (n != m || memcmp(got, want, (size_t)n * sizeof got[0]) != 0) {
            if (mismatches++ < 5)
                fprintf(stderr, "  step %d topic \"%s\": trie %d, matcher %d\n",
                        step, topic, n, m);
        }
        matched_total += m;
    }
    CHECK_INT(mismatches, 0);
    CHECK(matched_total > 20000);       /* the cases do meet */

    /* emptying the trie frees every node */
    for (int i = 0; i < POOL; i++)
        CHECK_INT(lmq_trie_erase(t, filters[i], strlen(filters[i]),
                                 V(values[i])), in[i]);
    CHECK_INT(lmq_trie_size(t), 0);
    CHECK_INT(lmq_trie_node_count(t), 1);
    lmq_trie_free(t);
}

/* A wider alphabet: 10,000 filters, and collect checked against the plain
 * matcher run over all of them for a sample of topics. */
static const char *const wide_words[] = {
    "home", "kitchen", "light", "temp", "zigbee2mqtt", "sensor", "1", "2",
    "state", "set", "", "$SYS",
};
#define NWIDE (sizeof wide_words / sizeof wide_words[0])
#define NFILTERS 10000

static void wide_filter(char *buf, size_t cap)
{
    int levels = 1 + (int)rnd(6);
    size_t n = 0;
    if (rnd(20) == 0)
        n = (size_t)snprintf(buf, cap, "$share/g%u/", rnd(3));
    for (int i = 0; i < levels; i++) {
        uint32_t r = rnd(100);
        const char *w = r < 12 ? "+" : wide_words[rnd(NWIDE)];
        if (i == levels - 1 && r >= 94)
            w = "#";
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? "/" : "", w);
    }
    if (lmq_topic_validate_filter(buf, -1) != 0)
        snprintf(buf, cap, "home/#");
}

static void wide_topic(char *buf, size_t cap)
{
    int levels = 1 + (int)rnd(6);
    size_t n = 0;
    for (int i = 0; i < levels; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? "/" : "",
                              wide_words[rnd(NWIDE)]);
    if (n == 0)
        snprintf(buf, cap, "home");
}

static void test_ten_thousand_filters_collect_what_the_matcher_says(void)
{
    static char filters[NFILTERS][96];
    static lmq_trie_hit out[NFILTERS];
    static unsigned char expect[NFILTERS];
    rng_state = 0x1234567887654321ull;
    lmq_trie *t = lmq_trie_new();
    for (int i = 0; i < NFILTERS; i++) {
        wide_filter(filters[i], sizeof filters[i]);
        CHECK_INT(lmq_trie_insert(t, filters[i], strlen(filters[i]),
                                  V(i + 1)), 1);
    }
    CHECK_INT(lmq_trie_size(t), NFILTERS);

    int bad = 0;
    long total = 0;
    for (int s = 0; s < 2000; s++) {
        char topic[128];
        wide_topic(topic, sizeof topic);
        size_t tl = strlen(topic);
        int n = lmq_trie_collect(t, topic, tl, out, NFILTERS);
        int m = 0;
        for (int i = 0; i < NFILTERS; i++) {
            expect[i] = (unsigned char)lmq_topic_match_n(
                filters[i], strlen(filters[i]), topic, tl);
            m += expect[i];
        }
        int ok = n == m;
        for (int k = 0; ok && k < n; k++) {
            uintptr_t v = (uintptr_t)out[k].value;
            ok = v >= 1 && v <= NFILTERS && expect[v - 1] == 1;
            if (ok)
                expect[v - 1] = 2;      /* each filter reported once */
        }
        if (!ok && bad++ < 5)
            fprintf(stderr, "  topic \"%s\": trie %d, matcher %d\n", topic, n, m);
        total += m;
    }
    CHECK_INT(bad, 0);
    CHECK(total > 2000);

    /* remove every other filter, then check again */
    for (int i = 0; i < NFILTERS; i += 2)
        CHECK_INT(lmq_trie_erase(t, filters[i], strlen(filters[i]), V(i + 1)), 1);
    for (int s = 0; s < 300; s++) {
        char topic[128];
        wide_topic(topic, sizeof topic);
        size_t tl = strlen(topic);
        int n = lmq_trie_collect(t, topic, tl, out, NFILTERS);
        int m = 0;
        for (int i = 1; i < NFILTERS; i += 2)
            m += lmq_topic_match_n(filters[i], strlen(filters[i]), topic, tl);
        CHECK_INT(n, m);
        for (int k = 0; k < n && k < NFILTERS; k++)
            CHECK((uintptr_t)out[k].value % 2 == 0);
    }
    lmq_trie_free(t);
}

/* ------------------------------------------------------------ public API */

static int add(lmq_trie *t, const char *f, int32_t v)
{
    return lmq_trie_add(t, f, -1, v);
}

/* lmq_trie_match into a 16-slot array; the values as "v,v,..." (or the
 * negative return as "error N"), so vectors read as one string. */
static const char *match_str(const lmq_trie *t, const char *topic)
{
    static char buf[256];
    int32_t out[16];
    int n = lmq_trie_match(t, topic, -1, out, 16);
    if (n < 0 || n > 16) {
        snprintf(buf, sizeof buf, "error %d", n);
        return buf;
    }
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < n; i++)
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%d", i ? "," : "",
                              (int)out[i]);
    return buf;
}

#define CHECK_STR(a, b)                                                    \
    do {                                                                   \
        const char *check_s_ = (a);                                        \
        if (strcmp(check_s_, (b)) != 0) {                                  \
            fprintf(stderr, "%s:%d: %s == \"%s\" failed: \"%s\"\n",        \
                    __FILE__, __LINE__, #a, (b), check_s_);                \
            check_failed_now = 1;                                          \
        }                                                                  \
    } while (0)

static void test_api_match_returns_sorted_values_of_matching_filters(void)
{
    lmq_trie *t = lmq_trie_new();
    CHECK(t != NULL);
    CHECK_INT(add(t, "a/b", 30), 1);
    CHECK_INT(add(t, "a/+", 20), 1);
    CHECK_INT(add(t, "a/#", 10), 1);
    CHECK_INT(add(t, "a/#", 40), 1);    /* one filter, many values */
    CHECK_INT(add(t, "a/#", 40), 0);    /* already there */
    CHECK_INT(add(t, "+/c", -5), 1);    /* negative values survive */
    CHECK_INT(add(t, "x", INT32_MAX), 1);
    CHECK_INT(add(t, "x", INT32_MIN), 1);
    CHECK_INT(lmq_trie_count(t), 7);

    CHECK_STR(match_str(t, "a/b"), "10,20,30,40");
    CHECK_STR(match_str(t, "a/c"), "-5,10,20,40");
    CHECK_STR(match_str(t, "a"), "10,40");  /* [MQTT-4.7.1-1] parent level */
    CHECK_STR(match_str(t, "a/b/c"), "10,40");
    CHECK_STR(match_str(t, "b"), "");
    CHECK_STR(match_str(t, "x"), "-2147483648,2147483647");

    /* the same value under two matching filters comes once per filter */
    CHECK_INT(add(t, "a/b", 10), 1);
    CHECK_STR(match_str(t, "a/b"), "10,10,20,30,40");

    /* (topic, len) need not be NUL-terminated */
    int32_t out[8];
    CHECK_INT(lmq_trie_match(t, "a/bzzz", 3, out, 8), 5);

    CHECK_INT(lmq_trie_remove(t, "a/#", -1, 40), 1);
    CHECK_INT(lmq_trie_remove(t, "a/#", -1, 40), 0);
    CHECK_INT(lmq_trie_remove(t, "a/#", -1, 99), 0);
    CHECK_INT(lmq_trie_remove(t, "q/r", -1, 10), 0);
    CHECK_STR(match_str(t, "a/b"), "10,10,20,30");
    CHECK_INT(lmq_trie_count(t), 7);
    lmq_trie_free(t);
    lmq_trie_free(NULL);                /* a no-op */
}

static void test_api_dollar_topics_and_shared_filters_as_the_matcher(void)
{
    lmq_trie *t = lmq_trie_new();
    CHECK_INT(add(t, "#", 1), 1);
    CHECK_INT(add(t, "+/x", 2), 1);
    CHECK_INT(add(t, "$SYS/#", 3), 1);
    CHECK_INT(add(t, "$share/g/a/+", 4), 1);
    CHECK_INT(add(t, "$share/h/a/+", 4), 1);    /* another filter */
    CHECK_INT(add(t, "a/+", 4), 1);             /* and another */
    CHECK_INT(add(t, "$share/g/#", 5), 1);
    /* [MQTT-4.7.2-1] no leading wildcard reaches a '$' topic, shared or not */
    CHECK_STR(match_str(t, "$SYS/x"), "3");
    CHECK_INT(lmq_topic_matches("$share/g/#", -1, "$SYS/x", -1), 0);
    CHECK_STR(match_str(t, "a/x"), "1,2,4,4,4,5");
    /* a topic name is never taken for a filter */
    CHECK_STR(match_str(t, "$share/g/a/x"), "");
    CHECK_INT(lmq_trie_remove(t, "$share/h/a/+", -1, 4), 1);
    CHECK_STR(match_str(t, "a/x"), "1,2,4,4,5");
    lmq_trie_free(t);
}

static void test_api_bad_input_gets_its_code(void)
{
    lmq_trie *t = lmq_trie_new();
    int32_t out[4];
    CHECK_INT(add(t, "", 1), LMQ_ETOPIC_EMPTY);
    CHECK_INT(add(t, "a/#/b", 1), LMQ_EFILTER_HASH);
    CHECK_INT(add(t, "a+", 1), LMQ_EFILTER_PLUS);
    CHECK_INT(add(t, "$share/g", 1), LMQ_ESHARE);
    CHECK_INT(add(t, "$share//a", 1), LMQ_ESHARE);
    CHECK_INT(add(t, "\xff", 1), LMQ_EUTF8);
    CHECK_INT(lmq_trie_add(t, "a\0b", 3, 1), LMQ_EUTF8_NUL);
    CHECK_INT(lmq_trie_add(t, NULL, 1, 1), LMQ_EINVAL);
    CHECK_INT(lmq_trie_add(NULL, "a", 1, 1), LMQ_EINVAL);
    CHECK_INT(lmq_trie_remove(t, "a/#/b", -1, 1), LMQ_EFILTER_HASH);
    CHECK_INT(lmq_trie_remove(NULL, "a", -1, 1), LMQ_EINVAL);
    CHECK_INT(lmq_trie_count(t), 0);
    CHECK_INT(lmq_trie_count(NULL), LMQ_EINVAL);

    CHECK_INT(add(t, "#", 1), 1);
    CHECK_INT(lmq_trie_match(t, "a/+", -1, out, 4), LMQ_ETOPIC_WILDCARD);
    CHECK_INT(lmq_trie_match(t, "a/#", -1, out, 4), LMQ_ETOPIC_WILDCARD);
    CHECK_INT(lmq_trie_match(t, "", -1, out, 4), LMQ_ETOPIC_EMPTY);
    CHECK_INT(lmq_trie_match(t, "a\xc3", -1, out, 4), LMQ_EUTF8);
    CHECK_INT(lmq_trie_match(t, "a\0b", 3, out, 4), LMQ_EUTF8_NUL);
    CHECK_INT(lmq_trie_match(t, NULL, 1, out, 4), LMQ_EINVAL);
    CHECK_INT(lmq_trie_match(NULL, "a", -1, out, 4), LMQ_EINVAL);
    CHECK_INT(lmq_trie_match(t, "a", -1, out, -1), LMQ_EINVAL);
    CHECK_INT(lmq_trie_match(t, "a", -1, NULL, 4), LMQ_EINVAL);

    char *big = malloc(65537);
    memset(big, 'a', 65536);
    big[65536] = '\0';
    CHECK_INT(lmq_trie_match(t, big, 65536, out, 4), LMQ_ETOPIC_LONG);
    CHECK_INT(lmq_trie_add(t, big, 65536, 1), LMQ_ETOPIC_LONG);
    CHECK_INT(lmq_trie_match(t, big, 65535, out, 4), 1);
    free(big);
    lmq_trie_free(t);
}

static void test_api_match_past_cap_returns_the_total_to_retry_with(void)
{
    lmq_trie *t = lmq_trie_new();
    for (int32_t v = 100; v > 0; v--)
        CHECK_INT(lmq_trie_add(t, v % 2 ? "s/+" : "s/#", -1, v), 1);
    int32_t small[8], big[100];
    for (int i = 0; i < 8; i++)
        small[i] = -1;
    CHECK_INT(lmq_trie_match(t, "s/1", -1, NULL, 0), 100);  /* just count */
    CHECK_INT(lmq_trie_match(t, "s/1", -1, small, 8), 100);
    for (int i = 0; i < 8; i++)     /* 8 of them, whichever */
        CHECK(small[i] >= 1 && small[i] <= 100);
    CHECK_INT(lmq_trie_match(t, "s/1", -1, big, 100), 100);
    for (int i = 0; i < 100; i++)
        CHECK_INT(big[i], i + 1);
    CHECK_INT(lmq_trie_match(t, "s", -1, big, 100), 50);    /* "s/#" only */
    CHECK_INT(big[0], 2);
    CHECK_INT(big[49], 100);
    lmq_trie_free(t);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

#define NAPI 1000

/*
 * 1,000 filters through lmq_trie_add, values shared by a few of them and
 * negative ones among them; for random topics lmq_trie_match must give
 * exactly the sorted values of the filters lmq_topic_matches says match;
 * then half are removed through lmq_trie_remove and it is checked again.
 */
static void test_api_agrees_with_lmq_topic_matches_on_1000_filters(void)
{
    static char filters[NAPI][96];
    static int32_t values[NAPI], got[NAPI], want[NAPI];
    static int live[NAPI];
    rng_state = 0x243f6a8885a308d3ull;
    lmq_trie *t = lmq_trie_new();
    int entries = 0;
    for (int i = 0; i < NAPI; i++) {
        if (rnd(4) == 0)
            random_filter(filters[i], sizeof filters[i]);
        else
            wide_filter(filters[i], sizeof filters[i]);
        values[i] = (int32_t)(i % 13 == 0 ? 7 : i * 3 - 1500);
        int rc = lmq_trie_add(t, filters[i], -1, values[i]);
        live[i] = rc == 1;          /* 0: a repeat of an earlier entry */
        CHECK(rc == 0 || rc == 1);
        entries += rc == 1;
    }
    CHECK_INT(lmq_trie_count(t), entries);

    int bad = 0;
    long total = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int s = 0; s < 3000; s++) {
            char topic[128];
            if (rnd(4) == 0)
                random_topic(topic, sizeof topic);
            else
                wide_topic(topic, sizeof topic);
            /* a small array now and then: the count, then a retry */
            int32_t cap = rnd(8) == 0 ? 1 : NAPI;
            int n = lmq_trie_match(t, topic, -1, got, cap);
            if (n > cap)
                n = lmq_trie_match(t, topic, -1, got, n);
            int m = 0;
            for (int i = 0; i < NAPI; i++)
                if (live[i] && lmq_topic_matches(filters[i], -1, topic, -1) == 1)
                    want[m++] = values[i];
            qsort(want, (size_t)m, sizeof want[0], cmp_i32);
            if ((n != m || memcmp(got, want, (size_t)m * sizeof got[0]) != 0)
                && bad++ < 5)
                fprintf(stderr, "  pass %d topic \"%s\": trie %d, matcher %d\n",
                        pass, topic, n, m);
            total += m;
        }
        for (int i = 0; i < NAPI; i += 2) {
            if (!live[i])
                continue;
            CHECK_INT(lmq_trie_remove(t, filters[i], -1, values[i]), 1);
            live[i] = 0;
            entries--;
        }
        CHECK_INT(lmq_trie_count(t), entries);
    }
    CHECK_INT(bad, 0);
    CHECK(total > 6000);                /* the cases do meet */
    lmq_trie_free(t);
}

int main(void)
{
    RUN(test_insert_then_collect_finds_matching_filters);
    RUN(test_dollar_topics_skip_leading_wildcards);
    RUN(test_insert_is_idempotent_and_remove_takes_one_entry);
    RUN(test_shared_filters_match_as_inner_and_carry_the_group);
    RUN(test_invalid_filter_is_rejected_with_its_code);
    RUN(test_collect_counts_past_a_full_array);
    RUN(test_visit_stops_when_the_callback_says_so);
    RUN(test_foreach_visits_every_entry_once);
    RUN(test_remove_frees_branches_left_empty);
    RUN(test_deep_filters_need_no_stack);
    RUN(test_trie_agrees_with_matcher_on_random_cases);
    RUN(test_ten_thousand_filters_collect_what_the_matcher_says);
    RUN(test_api_match_returns_sorted_values_of_matching_filters);
    RUN(test_api_dollar_topics_and_shared_filters_as_the_matcher);
    RUN(test_api_bad_input_gets_its_code);
    RUN(test_api_match_past_cap_returns_the_total_to_retry_with);
    RUN(test_api_agrees_with_lmq_topic_matches_on_1000_filters);
    return check_done();
}
