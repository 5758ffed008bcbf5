/*
 * topic.c - topic name and filter validation, shared-filter splitting and
 * matching (MQTT 5.0 section 4.7 and 4.8.2; 3.1.1 section 4.7 is the same
 * less shared subscriptions).
 */
#include <string.h>

#include "common/text.h"
#include "topic/topic.h"

/* The end of the level starting at s[i]: the index of the next '/', or n. */
static size_t level_end(const char *s, size_t n, size_t i)
{
    const char *slash = i < n ? memchr(s + i, '/', n - i) : NULL;
    return slash ? (size_t)(slash - s) : n;
}

/* The checks a name and a filter share, in the order they are reported. */
static int string_check(const char *s, size_t n)
{
    if (s == NULL)
        return LMQ_EINVAL;
    if (n == 0)
        return LMQ_ETOPIC_EMPTY;            /* [MQTT-4.7.3-1] */
    if (n > LMQ_TOPIC_MAX)
        return LMQ_ETOPIC_LONG;             /* [MQTT-4.7.3-3] */
    /* [MQTT-4.7.3-2] no U+0000, and well-formed UTF-8 [MQTT-1.5.4-1] */
    return lmq_utf8_check((const uint8_t *)s, n);
}

int lmq_topic_name_check(const char *s, size_t n)
{
    int rc = string_check(s, n);
    if (rc != 0)
        return rc;
    /* [MQTT-4.7.0-1] [MQTT-3.3.2-2] wildcards never appear in a name */
    for (size_t i = 0; i < n; i++)
        if (s[i] == '+' || s[i] == '#')
            return LMQ_ETOPIC_WILDCARD;
    return 0;
}

/* The wildcard rules on a (non-shared) filter s[0..n), n > 0. */
static int wildcard_check(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int starts_level = i == 0 || s[i - 1] == '/';
        if (s[i] == '+') {
            /* [MQTT-4.7.1-2] '+' is a whole level */
            if (!starts_level || (i + 1 < n && s[i + 1] != '/'))
                return LMQ_EFILTER_PLUS;
        } else if (s[i] == '#') {
            /* [MQTT-4.7.1-1] '#' is a whole level, and the last one */
            if (!starts_level || i + 1 != n)
                return LMQ_EFILTER_HASH;
        }
    }
    return 0;
}

int lmq_topic_filter_check(const char *s, size_t n)
{
    int rc = string_check(s, n);
    if (rc != 0)
        return rc;
    lmq_topic_part inner;
    rc = lmq_topic_share_split(s, n, NULL, &inner);
    if (rc < 0)
        return rc;
    return wildcard_check(inner.p, inner.n);
}

static int is_level(const char *s, size_t from, size_t to, char c)
{
    return to - from == 1 && s[from] == c;
}

int lmq_topic_match_n(const char *f, size_t flen, const char *t, size_t tlen)
{
    lmq_topic_part inner;
    if (lmq_topic_share_split(f, flen, NULL, &inner) < 0)
        return 0;
    f = inner.p;
    flen = inner.n;

    /* [MQTT-4.7.2-1] "#" and "+/..." leave "$SYS/..." and co alone */
    if (tlen > 0 && t[0] == '$' && flen > 0 && (f[0] == '+' || f[0] == '#'))
        return 0;

    size_t fi = 0, ti = 0;
    for (;;) {
        size_t fe = level_end(f, flen, fi);
        size_t te = level_end(t, tlen, ti);
        if (is_level(f, fi, fe, '#'))
            return 1;
        if (!is_level(f, fi, fe, '+')
            && (fe - fi != te - ti || memcmp(f + fi, t + ti, fe - fi) != 0))
            return 0;
        int fmore = fe < flen, tmore = te < tlen;
        if (!tmore) {
            if (!fmore)
                return 1;
            /* [MQTT-4.7.1-1] "a/#" matches "a": '#' also stands for the
             * parent level */
            return flen - fe == 2 && f[fe + 1] == '#';
        }
        if (!fmore)
            return 0;
        fi = fe + 1;
        ti = te + 1;
    }
}

/* ------------------------------------------------------------ public API */

size_t lmq_topic_api_len(const char *s, int32_t len)
{
    if (s == NULL)
        return 0;
    return len < 0 ? strlen(s) : (size_t)len;
}

LMQ_API int lmq_topic_validate_name(const char *topic, int32_t len)
{
    return lmq_topic_name_check(topic, lmq_topic_api_len(topic, len));
}

LMQ_API int lmq_topic_validate_filter(const char *filter, int32_t len)
{
    return lmq_topic_filter_check(filter, lmq_topic_api_len(filter, len));
}

LMQ_API int lmq_topic_matches(const char *filter, int32_t flen,
                              const char *topic, int32_t tlen)
{
    size_t fn = lmq_topic_api_len(filter, flen);
    size_t tn = lmq_topic_api_len(topic, tlen);
    int rc = lmq_topic_filter_check(filter, fn);
    if (rc != 0)
        return rc;
    rc = lmq_topic_name_check(topic, tn);
    if (rc != 0)
        return rc;
    return lmq_topic_match_n(filter, fn, topic, tn);
}
