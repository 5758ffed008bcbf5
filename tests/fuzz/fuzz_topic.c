/*
 * fuzz_topic.c - libFuzzer target for topic validation, matching and the
 * trie.
 *
 * The input is "filter NUL topic" (no NUL: the whole input is both).  A
 * valid string never holds a NUL, so either half can be valid.  Invariants:
 *   - the public functions agree with the internal ones;
 *   - a valid name not starting with "$share/" is a valid filter, and
 *     matches itself ("$share/g" is a fine name but a malformed shared
 *     filter, hence the exception);
 *   - a shared filter matches exactly what its inner filter matches;
 *   - with both valid: a trie holding only that filter collects the topic
 *     exactly when lmq_topic_matches says 1, reporting the share group;
 *     removing the filter leaves an empty trie of one node; the public
 *     lmq_trie_add / _match / _remove agree.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lunamq.h"
#include "topic/topic.h"

#define REQUIRE(cond)                                                      \
    do {                                                                   \
        if (!(cond))                                                       \
            abort();                                                       \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Heap copies of exactly n bytes, so ASan sees any read past the end. */
static char *copy(const uint8_t *p, size_t n)
{
    char *s = malloc(n ? n : 1);
    REQUIRE(s != NULL);
    if (n > 0)
        memcpy(s, p, n);
    return s;
}

static void check_name(const char *t, size_t tn)
{
    int rc = lmq_topic_validate_name(t, (int32_t)tn);
    REQUIRE(rc == lmq_topic_name_check(t, tn));
    REQUIRE(rc <= 0);
    if (rc != 0 || (tn >= 7 && memcmp(t, "$share/", 7) == 0))
        return;
    REQUIRE(lmq_topic_validate_filter(t, (int32_t)tn) == 0);
    REQUIRE(lmq_topic_matches(t, (int32_t)tn, t, (int32_t)tn) == 1);
}

static void check_pair(const char *f, size_t fn, const char *t, size_t tn)
{
    int fv = lmq_topic_validate_filter(f, (int32_t)fn);
    int tv = lmq_topic_validate_name(t, (int32_t)tn);
    REQUIRE(fv == lmq_topic_filter_check(f, fn));
    int m = lmq_topic_matches(f, (int32_t)fn, t, (int32_t)tn);
    if (fv != 0 || tv != 0) {
        REQUIRE(m == (fv != 0 ? fv : tv));
        /* the raw matcher answers anything without crashing */
        int raw = lmq_topic_match_n(f, fn, t, tn);
        REQUIRE(raw == 0 || raw == 1);
        return;
    }
    REQUIRE(m == 0 || m == 1);
    REQUIRE(m == lmq_topic_match_n(f, fn, t, tn));

    lmq_topic_part group, inner;
    int shared = lmq_topic_share_split(f, fn, &group, &inner);
    REQUIRE(shared == 0 || shared == 1);
    /* (an inner filter that itself starts with "$share/" is a plain filter,
     * which match_n given it alone would split again) */
    if (shared && !(inner.n >= 7 && memcmp(inner.p, "$share/", 7) == 0))
        REQUIRE(lmq_topic_match_n(inner.p, inner.n, t, tn) == m);

    lmq_trie *trie = lmq_trie_new();
    REQUIRE(trie != NULL);
    void *value = (void *)&check_pair;
    REQUIRE(lmq_trie_insert(trie, f, fn, value) == 1);
    REQUIRE(lmq_trie_insert(trie, f, fn, value) == 0);
    lmq_trie_hit hit[2];
    int n = lmq_trie_collect(trie, t, tn, hit, 2);
    REQUIRE(n == m);
    if (n == 1) {
        REQUIRE(hit[0].value == value);
        if (shared)
            REQUIRE(hit[0].group != NULL && hit[0].group_len == group.n
                    && memcmp(hit[0].group, group.p, group.n) == 0);
        else
            REQUIRE(hit[0].group == NULL);
    }
    REQUIRE(lmq_trie_erase(trie, f, fn, value) == 1);
    REQUIRE(lmq_trie_size(trie) == 0 && lmq_trie_node_count(trie) == 1);
    REQUIRE(lmq_trie_collect(trie, t, tn, hit, 2) == 0);

    /* the public trie says the same, with a value of the caller's */
    REQUIRE(lmq_trie_add(trie, f, (int32_t)fn, 42) == 1);
    REQUIRE(lmq_trie_add(trie, f, (int32_t)fn, 42) == 0);
    REQUIRE(lmq_trie_count(trie) == 1);
    int32_t out[2] = { 0, 0 };
    REQUIRE(lmq_trie_match(trie, t, (int32_t)tn, out, 2) == m);
    REQUIRE(m == 0 || out[0] == 42);
    REQUIRE(lmq_trie_remove(trie, f, (int32_t)fn, 42) == 1);
    REQUIRE(lmq_trie_count(trie) == 0);
    lmq_trie_free(trie);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 2 * (LMQ_TOPIC_MAX + 1))
        return 0;
    const uint8_t *nul = memchr(data, 0, size);
    size_t fn = nul ? (size_t)(nul - data) : size;
    const uint8_t *tp = nul ? nul + 1 : data;
    size_t tn = nul ? size - fn - 1 : size;

    char *f = copy(data, fn);
    char *t = copy(tp, tn);
    check_name(t, tn);
    check_name(f, fn);
    check_pair(f, fn, t, tn);
    free(f);
    free(t);
    return 0;
}
