/*
 * topic.h - topic names, topic filters and the subscription trie.
 *
 * Internal to the library (hidden symbols).  The public entry points
 * (lmq_topic_validate_name, lmq_topic_validate_filter, lmq_topic_matches)
 * are in lunamq.h; what is here works on (pointer, length) pairs, needs no
 * NUL terminator and never calls strlen, so the session can hand it the
 * topic of a decoded PUBLISH as it sits in the receive buffer.
 *
 * Vocabulary: a topic is split into levels by '/'; empty levels are
 * levels ("a//b" has three, "/a" two).  In a filter, a level that is
 * exactly "+" matches any one level (an empty one too) and a last level
 * that is exactly "#" matches any number of levels, zero included, so
 * "a/#" matches "a".  A shared filter "$share/{group}/{filter}" matches as
 * its inner filter does.
 */
#ifndef LMQ_TOPIC_H
#define LMQ_TOPIC_H

#include <stddef.h>
#include <stdint.h>

#include "lunamq.h"
#include "common/text.h"

/* The longest topic name or filter: its length is a two-byte integer on
 * the wire [MQTT-4.7.3-3]. */
#define LMQ_TOPIC_MAX 65535u

/* ------------------------------------------------------------- validation */

/*
 * Check a topic name s[0..n).  0 when valid, else the code of the first
 * rule broken, tested in this order: LMQ_EINVAL (s NULL), LMQ_ETOPIC_EMPTY,
 * LMQ_ETOPIC_LONG, LMQ_EUTF8 / LMQ_EUTF8_NUL, LMQ_ETOPIC_WILDCARD.
 */
int lmq_topic_name_check(const char *s, size_t n);

/*
 * Check a topic filter s[0..n).  0 when valid, else, in this order:
 * LMQ_EINVAL, LMQ_ETOPIC_EMPTY, LMQ_ETOPIC_LONG, LMQ_EUTF8 / LMQ_EUTF8_NUL,
 * LMQ_ESHARE (a "$share/" prefix without a proper group and inner filter),
 * then LMQ_EFILTER_PLUS / LMQ_EFILTER_HASH for the first misplaced
 * wildcard.
 */
int lmq_topic_filter_check(const char *s, size_t n);

/* The length of (s, len) as the public API passes strings: len < 0 means
 * NUL-terminated; s NULL is 0 (the checks then say LMQ_EINVAL). */
size_t lmq_topic_api_len(const char *s, int32_t len);

/* ---------------------------------------------------------------- sharing */


/* lmq_topic_share_split: common/text.h (the codec checks it too). */

/* ---------------------------------------------------------------- matching */

/*
 * Does topic name t[0..tlen) match filter f[0..flen)?  1 or 0.  Both are
 * assumed valid (checked once, when they entered the library), so nothing
 * is validated here; on invalid input the answer is meaningless but the
 * call stays memory-safe.  A shared filter matches as its inner filter; a
 * malformed "$share/" filter matches nothing.  [MQTT-4.7.2-1] a filter
 * whose first character is a wildcard does not match a topic whose first
 * character is '$'.
 */
int lmq_topic_match_n(const char *f, size_t flen, const char *t, size_t tlen);

/* ---------------------------------------------------------------- the trie */

/*
 * A subscription trie: filters, each with any number of values (opaque
 * pointers: handlers, subscriptions, ...), and for a topic name the values
 * of every filter that matches it.
 *
 * One entry is (filter, value).  Inserting an entry that is already there
 * changes nothing (idempotent, not counted): one remove takes it out.  The
 * same filter with different values is different entries, and so are
 * "a/b", "$share/g1/a/b" and "$share/g2/a/b" with the same value.
 *
 * A shared filter is stored under its inner filter, so it is found as the
 * inner filter matches; its entry carries the group name, which tells the
 * caller the value came from a shared subscription and which one.
 *
 * Levels are nodes; a node finds a child by hashing the level (open
 * addressing), and keeps its '+' child and the values of filters ending in
 * "/#" at the node apart, so collect visits only the nodes a topic can
 * reach.  A branch left with no values is freed on remove.
 *
 * Not thread-safe: one thread at a time, or the caller locks.  Collecting
 * does not modify the trie, so concurrent collects without writers are
 * fine.
 */
/* typedef struct lmq_trie lmq_trie; is in lunamq.h, and so are
 * lmq_trie_new and lmq_trie_free: the public API (lmq_trie_add,
 * lmq_trie_match, ...) is a wrapper storing int32_t values as pointers. */

/* One entry, as the trie stores it and hands it to the caller. */
typedef struct lmq_trie_hit {
    void *value;
    /* The share group for a "$share/{group}/..." filter, NUL-terminated,
     * owned by the trie and valid until the entry is removed; NULL for an
     * ordinary filter. */
    const char *group;
    uint32_t group_len;
} lmq_trie_hit;

/* Called once per entry; return 0 to go on, anything else to stop.  *hit
 * is the trie's own copy: read it during the call, keep what you need. */
typedef int (*lmq_trie_visit_fn)(void *ctx, const lmq_trie_hit *hit);

/* lmq_trie_new (NULL when out of memory) and lmq_trie_free (everything
 * the trie allocated, not the values: they are the caller's;
 * lmq_trie_foreach first if they need freeing; NULL is fine) are
 * declared in lunamq.h. */

/*
 * Add (filter, value).  The filter is validated (lmq_topic_filter_check)
 * and copied.  1 added, 0 was already there, negative LMQ_E* (an invalid
 * filter, LMQ_ENOMEM: then the trie is as it was).
 */
int lmq_trie_insert(lmq_trie *t, const char *filter, size_t len, void *value);

/* Take (filter, value) out.  1 removed, 0 not there, negative LMQ_E* for
 * an invalid filter. */
int lmq_trie_erase(lmq_trie *t, const char *filter, size_t len, void *value);

/* The number of entries. */
size_t lmq_trie_size(const lmq_trie *t);

/* The number of nodes, the root included (1 for an empty trie): one per
 * distinct filter prefix.  For memory accounting and for the tests that
 * prove remove frees what it no longer needs. */
size_t lmq_trie_node_count(const lmq_trie *t);

/*
 * Call fn for every entry whose filter matches topic name topic[0..len),
 * honouring [MQTT-4.7.2-1].  No allocation, no recursion.  An entry
 * reached through two filters (say "a/+" and "a/#") is visited once per
 * filter; no order is promised.  Returns the number of calls made (the
 * last one included when fn stopped the walk), or LMQ_EINVAL,
 * LMQ_ETOPIC_EMPTY, LMQ_ETOPIC_LONG.  The topic is otherwise not
 * validated (that is the codec's job when it arrives): pass a valid name.
 * fn must not change the trie.
 */
int lmq_trie_visit(const lmq_trie *t, const char *topic, size_t len,
                   lmq_trie_visit_fn fn, void *ctx);

/*
 * lmq_trie_visit into an array: the first `cap` matching entries are
 * copied to out[0..cap), and the return value is the number that match
 * (which may exceed cap: call again with a bigger array), or a negative
 * code as lmq_trie_visit.
 */
int lmq_trie_collect(const lmq_trie *t, const char *topic, size_t len,
                     lmq_trie_hit *out, size_t cap);

/* Call fn for every entry in the trie (no order promised); same return as
 * lmq_trie_visit.  fn must not change the trie. */
int lmq_trie_foreach(const lmq_trie *t, lmq_trie_visit_fn fn, void *ctx);

#endif /* LMQ_TOPIC_H */
