/*
 * test_trie.c - the subscription trie: inserts, removes and collects, and
 * a cross-check of everything it collects against the plain matcher
 * (lmq_topic_matches) on random filters and topics.
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
    return lmq_trie_remove(t, f, strlen(f), V(v));
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
    CHECK_INT(lmq_trie_count(t), 8);

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
    CHECK_INT(lmq_trie_count(t), 2);
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
    CHECK_INT(lmq_trie_count(t), 0);
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
    CHECK_INT(lmq_trie_count(t), 3);

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
    CHECK_INT(lmq_trie_count(t), 0);
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
    CHECK_INT(lmq_trie_count(t), 0);
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
    CHECK_INT(lmq_trie_remove(t, f, max, V(1)), 1);
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
            CHECK_INT(lmq_trie_remove(t, f, strlen(f), V(values[i])), in[i]);
            count -= in[i];
            in[i] = 0;
        }
        CHECK(lmq_trie_count(t) == count);

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
        CHECK_INT(lmq_trie_remove(t, filters[i], strlen(filters[i]),
                                  V(values[i])), in[i]);
    CHECK_INT(lmq_trie_count(t), 0);
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
    CHECK_INT(lmq_trie_count(t), NFILTERS);

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
        CHECK_INT(lmq_trie_remove(t, filters[i], strlen(filters[i]), V(i + 1)), 1);
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
    return check_done();
}
