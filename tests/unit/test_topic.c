/*
 * test_topic.c - topic name and filter validation and matching, as tables
 * worked out from MQTT 5.0 sections 4.7 and 4.8.2.
 *
 * Every string is copied into a heap buffer of exactly its length, with no
 * NUL after it, and passed with that length: the code must not read past
 * it (the sanitizer build catches an over-read).
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lunamq.h"
#include "topic/topic.h"

/* A heap copy of s[0..n) with nothing after it. */
static char *exact(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    if (p != NULL && n > 0)
        memcpy(p, s, n);
    return p;
}

/* A string case: len < 0 means strlen(s); explicit lengths carry NULs. */
struct str_case {
    const char *s;
    int32_t len;
    int code;
};

static size_t case_len(const struct str_case *c)
{
    return c->len < 0 ? strlen(c->s) : (size_t)c->len;
}

static const struct str_case name_cases[] = {
    /* valid */
    { "a", -1, 0 },
    { "/", -1, 0 },                 /* two empty levels */
    { "a/b", -1, 0 },
    { "a//b", -1, 0 },
    { "/a", -1, 0 },
    { "a/", -1, 0 },
    { " ", -1, 0 },
    { "sport/tennis/player1", -1, 0 },
    { "$SYS/broker/load", -1, 0 },
    { "$share/g/x", -1, 0 },        /* just a name: no wildcards in it */
    { "$share/g", -1, 0 },
    { "a$b", -1, 0 },
    { "caf\xc3\xa9/\xe2\x82\xac", -1, 0 },
    { "\xef\xbb\xbf" "bom", -1, 0 },/* [MQTT-1.5.4-3] U+FEFF is kept */
    { "\xf0\x9f\x8c\x99", -1, 0 },  /* 4-byte sequence */
    /* [MQTT-4.7.3-1] at least one character */
    { "", 0, LMQ_ETOPIC_EMPTY },
    /* [MQTT-4.7.0-1] [MQTT-3.3.2-2] no wildcard in a name */
    { "+", -1, LMQ_ETOPIC_WILDCARD },
    { "#", -1, LMQ_ETOPIC_WILDCARD },
    { "a/+", -1, LMQ_ETOPIC_WILDCARD },
    { "a/#", -1, LMQ_ETOPIC_WILDCARD },
    { "a+b", -1, LMQ_ETOPIC_WILDCARD },
    { "a#b", -1, LMQ_ETOPIC_WILDCARD },
    /* [MQTT-4.7.3-2] [MQTT-1.5.4-2] no U+0000 */
    { "a\0b", 3, LMQ_EUTF8_NUL },
    { "\0", 1, LMQ_EUTF8_NUL },
    /* [MQTT-1.5.4-1] well-formed UTF-8 */
    { "\xff", -1, LMQ_EUTF8 },
    { "a/\x80", -1, LMQ_EUTF8 },            /* stray continuation */
    { "\xc3", -1, LMQ_EUTF8 },              /* truncated */
    { "\xc0\xaf", -1, LMQ_EUTF8 },          /* overlong '/' */
    { "\xed\xa0\x80", -1, LMQ_EUTF8 },      /* surrogate U+D800 */
    { "\xf4\x90\x80\x80", -1, LMQ_EUTF8 },  /* above U+10FFFF */
    /* UTF-8 is checked before wildcards */
    { "+\xff", -1, LMQ_EUTF8 },
};

static const struct str_case filter_cases[] = {
    /* valid */
    { "a", -1, 0 },
    { "#", -1, 0 },
    { "+", -1, 0 },
    { "a/#", -1, 0 },
    { "a/+", -1, 0 },
    { "+/+", -1, 0 },
    { "+/#", -1, 0 },
    { "/+", -1, 0 },
    { "+/", -1, 0 },
    { "/#", -1, 0 },
    { "a/+/b", -1, 0 },
    { "a//b", -1, 0 },
    { "/", -1, 0 },
    { "$SYS/#", -1, 0 },
    { "caf\xc3\xa9/+", -1, 0 },
    /* [MQTT-4.8.2-1] [MQTT-4.8.2-2] shared subscriptions */
    { "$share/g/a", -1, 0 },
    { "$share/g/#", -1, 0 },
    { "$share/g/+/x", -1, 0 },
    { "$share/group1/$SYS/#", -1, 0 },
    { "$share/g//", -1, 0 },        /* inner filter "/" */
    { "$share/g/$share/h/x", -1, 0 },/* inner "$share/h/x" is plain */
    { "$share", -1, 0 },            /* no "$share/" prefix: plain */
    { "$shared/x", -1, 0 },
    { "$SHARE/g", -1, 0 },          /* the prefix is case-sensitive */
    /* [MQTT-4.7.3-1] */
    { "", 0, LMQ_ETOPIC_EMPTY },
    /* [MQTT-4.7.1-1] '#' alone in the last level */
    { "a#", -1, LMQ_EFILTER_HASH },
    { "#a", -1, LMQ_EFILTER_HASH },
    { "#/a", -1, LMQ_EFILTER_HASH },
    { "a/#/b", -1, LMQ_EFILTER_HASH },
    { "a/b#", -1, LMQ_EFILTER_HASH },
    { "##", -1, LMQ_EFILTER_HASH },
    { "#/", -1, LMQ_EFILTER_HASH },
    /* [MQTT-4.7.1-2] '+' fills a whole level */
    { "a+", -1, LMQ_EFILTER_PLUS },
    { "+a", -1, LMQ_EFILTER_PLUS },
    { "a/+b/c", -1, LMQ_EFILTER_PLUS },
    { "++", -1, LMQ_EFILTER_PLUS },
    { "+#", -1, LMQ_EFILTER_PLUS },
    /* [MQTT-4.8.2-1] non-empty ShareName; [MQTT-4.8.2-2] without '/',
     * '+', '#', followed by '/' and a filter */
    { "$share/", -1, LMQ_ESHARE },
    { "$share/g", -1, LMQ_ESHARE },
    { "$share/g/", -1, LMQ_ESHARE },
    { "$share//a", -1, LMQ_ESHARE },
    { "$share/+/a", -1, LMQ_ESHARE },
    { "$share/#/a", -1, LMQ_ESHARE },
    { "$share/g+h/a", -1, LMQ_ESHARE },
    { "$share/g#/a", -1, LMQ_ESHARE },
    /* the inner filter follows the filter rules */
    { "$share/g/a#", -1, LMQ_EFILTER_HASH },
    { "$share/g/#/a", -1, LMQ_EFILTER_HASH },
    { "$share/g/a+", -1, LMQ_EFILTER_PLUS },
    /* [MQTT-4.7.3-2] [MQTT-1.5.4-1] */
    { "a/\0", 3, LMQ_EUTF8_NUL },
    { "\xfe/#", -1, LMQ_EUTF8 },
    { "a#\xc3", -1, LMQ_EUTF8 },    /* UTF-8 is checked first */
    { "$share/\xff/a", -1, LMQ_EUTF8 },
};

static void check_table(const struct str_case *cases, size_t n, int filter)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = case_len(&cases[i]);
        char *buf = exact(cases[i].s, len);
        int got = filter ? lmq_topic_validate_filter(buf, (int32_t)len)
                         : lmq_topic_validate_name(buf, (int32_t)len);
        int internal = filter ? lmq_topic_filter_check(buf, len)
                              : lmq_topic_name_check(buf, len);
        if (got != cases[i].code)
            fprintf(stderr, "  %s case %zu \"%s\": got %d (%s)\n",
                    filter ? "filter" : "name", i, cases[i].s, got,
                    lmq_errname(got));
        CHECK_INT(got, cases[i].code);
        CHECK_INT(internal, cases[i].code);
        free(buf);
    }
}

static void test_name_validation_table(void)
{
    check_table(name_cases, sizeof name_cases / sizeof name_cases[0], 0);
}

static void test_filter_validation_table(void)
{
    check_table(filter_cases, sizeof filter_cases / sizeof filter_cases[0], 1);
}

static void test_valid_names_without_share_prefix_are_valid_filters(void)
{
    for (size_t i = 0; i < sizeof name_cases / sizeof name_cases[0]; i++) {
        const struct str_case *c = &name_cases[i];
        size_t len = case_len(c);
        if (c->code != 0 || strncmp(c->s, "$share/", 7) == 0)
            continue;
        CHECK_INT(lmq_topic_validate_filter(c->s, (int32_t)len), 0);
        /* and a name matches itself as a filter */
        CHECK_INT(lmq_topic_matches(c->s, (int32_t)len, c->s, (int32_t)len), 1);
    }
}

static void test_negative_length_means_nul_terminated(void)
{
    CHECK_INT(lmq_topic_validate_name("a/b", -1), 0);
    CHECK_INT(lmq_topic_validate_name("a/+", -1), LMQ_ETOPIC_WILDCARD);
    CHECK_INT(lmq_topic_validate_name("", -1), LMQ_ETOPIC_EMPTY);
    CHECK_INT(lmq_topic_validate_filter("a/#", -1), 0);
    CHECK_INT(lmq_topic_validate_filter("a#", -7), LMQ_EFILTER_HASH);
    CHECK_INT(lmq_topic_matches("a/#", -1, "a/b/c", -1), 1);
    /* an explicit length stops before the NUL: only "a/" is checked */
    CHECK_INT(lmq_topic_validate_name("a/+", 2), 0);
    CHECK_INT(lmq_topic_matches("a/+", 1, "a/b", 1), 1);
}

static void test_null_pointer_is_invalid_argument(void)
{
    CHECK_INT(lmq_topic_validate_name(NULL, 0), LMQ_EINVAL);
    CHECK_INT(lmq_topic_validate_name(NULL, -1), LMQ_EINVAL);
    CHECK_INT(lmq_topic_validate_filter(NULL, 3), LMQ_EINVAL);
    CHECK_INT(lmq_topic_matches(NULL, -1, "a", -1), LMQ_EINVAL);
    CHECK_INT(lmq_topic_matches("a", -1, NULL, -1), LMQ_EINVAL);
}

/* [MQTT-4.7.3-3] a name or filter is at most 65535 bytes */
static void test_length_limit_is_65535_bytes(void)
{
    size_t max = 65535;
    char *s = malloc(max + 1);
    memset(s, 'a', max + 1);
    char *b = exact(s, max);
    CHECK_INT(lmq_topic_validate_name(b, (int32_t)max), 0);
    CHECK_INT(lmq_topic_validate_filter(b, (int32_t)max), 0);
    CHECK_INT(lmq_topic_matches(b, (int32_t)max, b, (int32_t)max), 1);
    free(b);
    b = exact(s, max + 1);
    CHECK_INT(lmq_topic_validate_name(b, (int32_t)max + 1), LMQ_ETOPIC_LONG);
    CHECK_INT(lmq_topic_validate_filter(b, (int32_t)max + 1), LMQ_ETOPIC_LONG);
    CHECK_INT(lmq_topic_matches(b, (int32_t)max + 1, "a", 1), LMQ_ETOPIC_LONG);
    CHECK_INT(lmq_topic_matches("#", 1, b, (int32_t)max + 1), LMQ_ETOPIC_LONG);
    /* the length is checked before the wildcards */
    b[0] = '+';
    CHECK_INT(lmq_topic_validate_name(b, (int32_t)max + 1), LMQ_ETOPIC_LONG);
    free(b);

    /* 32767 levels of "+/" then "+": the longest filter of '+' levels */
    for (size_t i = 0; i < max; i++)
        s[i] = (i % 2) ? '/' : '+';
    b = exact(s, max);
    CHECK_INT(lmq_topic_validate_filter(b, (int32_t)max), 0);
    for (size_t i = 0; i < max; i++)
        s[i] = (i % 2) ? '/' : 'x';
    char *t = exact(s, max);
    CHECK_INT(lmq_topic_matches(b, (int32_t)max, t, (int32_t)max), 1);
    CHECK_INT(lmq_topic_matches(b, (int32_t)max, t, (int32_t)max - 2), 0);
    free(t);
    free(b);
    free(s);
}

struct match_case {
    const char *filter;
    const char *topic;
    int expect;
};

static const struct match_case match_cases[] = {
    /* [MQTT-4.7.1-1] '#' matches the parent and any number of children */
    { "foo/#", "foo/bar", 1 },
    { "foo/#", "foo", 1 },
    { "foo/#", "foo/bar/baz", 1 },
    { "foo/#", "foo/", 1 },
    { "foo/#", "foobar", 0 },
    { "foo/#", "fo", 0 },
    { "foo/#", "bar/foo", 0 },
    { "#", "a", 1 },
    { "#", "/", 1 },
    { "#", "a/b/c", 1 },
    { "/#", "/", 1 },
    { "/#", "a", 0 },
    /* [MQTT-4.7.1-2] '+' matches exactly one level, an empty one too */
    { "+/bar", "foo/bar", 1 },
    { "+/bar", "/bar", 1 },
    { "+/bar", "foo/baz", 0 },
    { "+/bar", "bar", 0 },
    { "+/bar", "a/b/bar", 0 },
    { "non/+/+", "non/matching", 0 },
    { "non/+/+", "non/a/b", 1 },
    { "+", "a", 1 },
    { "+", "/", 0 },
    { "+/+", "/", 1 },
    { "/+", "/", 1 },
    { "/+", "/a", 1 },
    { "+/", "a/", 1 },
    { "a/+", "a/", 1 },
    { "a/+", "a", 0 },
    { "a/+/b", "a//b", 1 },
    { "sport/tennis/+", "sport/tennis/player1", 1 },
    { "sport/tennis/+", "sport/tennis/player1/ranking", 0 },
    { "sport/tennis/+", "sport/tennis", 0 },
    { "sport/+", "sport/", 1 },
    { "sport/+", "sport", 0 },
    { "+/+/#", "a/b", 1 },
    { "+/+/#", "a", 0 },
    { "a/+/#", "a/b", 1 },
    { "a/+/#", "a", 0 },
    /* exact levels: byte for byte, case-sensitive, empty levels count */
    { "a/b", "a/b", 1 },
    { "a/b", "a/b/", 0 },
    { "a/b/", "a/b", 0 },
    { "a/b", "a/bc", 0 },
    { "a/bc", "a/b", 0 },
    { "a//b", "a/b", 0 },
    { "a/b", "a//b", 0 },
    { "/a", "a", 0 },
    { "a", "/a", 0 },
    { "A", "a", 0 },
    { "caf\xc3\xa9/+", "caf\xc3\xa9/x", 1 },
    { "caf\xc3\xa9", "cafe", 0 },
    /* [MQTT-4.7.2-1] a leading wildcard does not match a '$' topic */
    { "#", "$SYS", 0 },
    { "#", "$SYS/x", 0 },
    { "#", "$", 0 },
    { "+", "$SYS", 0 },
    { "+/x", "$SYS/x", 0 },
    { "+/#", "$SYS/x", 0 },
    { "+/+", "$a/b", 0 },
    { "$SYS/#", "$SYS/x", 1 },
    { "$SYS/#", "$SYS", 1 },
    { "$SYS/#", "$SYS/broker/load", 1 },
    { "$SYS/+", "$SYS/x", 1 },
    { "$SYS/x", "$SYS/x", 1 },
    { "$SYS/x", "$sys/x", 0 },
    { "$foo", "$foo", 1 },
    { "a/#", "a/$b", 1 },           /* only the first character counts */
    { "+/$b", "a/$b", 1 },
    { "#", "a$", 1 },
    /* [MQTT-4.8.2-1] [MQTT-4.8.2-2] a shared filter matches as its inner
     * filter */
    { "$share/g/foo/#", "foo/bar", 1 },
    { "$share/g/foo/#", "foo", 1 },
    { "$share/g/+/bar", "foo/bar", 1 },
    { "$share/g/a", "a", 1 },
    { "$share/g/a", "$share/g/a", 0 },
    { "$share/g/#", "a/b", 1 },
    { "$share/g/#", "$SYS/x", 0 },
    { "$share/g/+", "$SYS", 0 },
    { "$share/g/$SYS/#", "$SYS/x", 1 },
    { "$share/g/$share/h/x", "$share/h/x", 1 },
    { "$share", "$share", 1 },      /* not shared: a plain filter */
    { "$share/g/x", "g/x", 0 },
};

/* The server sends a subscriber only topic names that match its filter by
 * these rules [MQTT-3.3.2-3] (the server's duty); the Lua and Python
 * bindings route each message to its handlers by this matcher, so this
 * table is what both ends agree on. */
static void test_matching_table(void)
{
    for (size_t i = 0; i < sizeof match_cases / sizeof match_cases[0]; i++) {
        const struct match_case *c = &match_cases[i];
        size_t fl = strlen(c->filter), tl = strlen(c->topic);
        char *f = exact(c->filter, fl), *t = exact(c->topic, tl);
        int got = lmq_topic_matches(f, (int32_t)fl, t, (int32_t)tl);
        if (got != c->expect)
            fprintf(stderr, "  match case %zu \"%s\" \"%s\": got %d\n", i,
                    c->filter, c->topic, got);
        CHECK_INT(got, c->expect);
        CHECK_INT(lmq_topic_match_n(f, fl, t, tl), c->expect);
        free(f);
        free(t);
    }
}

static void test_matching_reports_the_invalid_argument(void)
{
    CHECK_INT(lmq_topic_matches("a+", 2, "a", 1), LMQ_EFILTER_PLUS);
    CHECK_INT(lmq_topic_matches("a/#/b", 5, "a", 1), LMQ_EFILTER_HASH);
    CHECK_INT(lmq_topic_matches("$share/g", 8, "a", 1), LMQ_ESHARE);
    CHECK_INT(lmq_topic_matches("", 0, "a", 1), LMQ_ETOPIC_EMPTY);
    CHECK_INT(lmq_topic_matches("#", 1, "", 0), LMQ_ETOPIC_EMPTY);
    CHECK_INT(lmq_topic_matches("#", 1, "a/+", 3), LMQ_ETOPIC_WILDCARD);
    CHECK_INT(lmq_topic_matches("#", 1, "a\0", 2), LMQ_EUTF8_NUL);
    CHECK_INT(lmq_topic_matches("#", 1, "\xc3(", 2), LMQ_EUTF8);
    /* the filter is checked first */
    CHECK_INT(lmq_topic_matches("a+", 2, "a/+", 3), LMQ_EFILTER_PLUS);
}

static int part_is(const lmq_topic_part *p, const char *s)
{
    if (s == NULL)
        return p->p == NULL && p->n == 0;
    return p->p != NULL && p->n == strlen(s) && memcmp(p->p, s, p->n) == 0;
}

static void test_share_split_gives_group_and_inner_filter(void)
{
    lmq_topic_part g, in;
    const char *f = "$share/grp/a/+/#";
    CHECK_INT(lmq_topic_share_split(f, strlen(f), &g, &in), 1);
    CHECK(part_is(&g, "grp"));
    CHECK(part_is(&in, "a/+/#"));
    CHECK(g.p == f + 7);

    /* only the first '/' after the group ends it */
    f = "$share/g//";
    CHECK_INT(lmq_topic_share_split(f, strlen(f), &g, &in), 1);
    CHECK(part_is(&g, "g"));
    CHECK(part_is(&in, "/"));

    f = "a/b";
    CHECK_INT(lmq_topic_share_split(f, strlen(f), &g, &in), 0);
    CHECK(part_is(&g, NULL));
    CHECK(in.p == f && in.n == 3);

    /* the length bounds the prefix test: "$share" alone is not shared */
    CHECK_INT(lmq_topic_share_split("$share/g/x", 6, &g, &in), 0);
    CHECK(in.n == 6);
    /* either output may be omitted */
    CHECK_INT(lmq_topic_share_split("$share/g/x", 10, NULL, NULL), 1);
}

static void test_share_split_rejects_malformed_share(void)
{
    static const char *const bad[] = {
        "$share/", "$share/g", "$share/g/", "$share//x", "$share/+/x",
        "$share/#/x", "$share/a+/x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lmq_topic_part g = { "untouched", 9 }, in = { "untouched", 9 };
        CHECK_INT(lmq_topic_share_split(bad[i], strlen(bad[i]), &g, &in),
                  LMQ_ESHARE);
        CHECK(part_is(&g, "untouched") && part_is(&in, "untouched"));
        /* and the raw matcher matches nothing with it */
        CHECK_INT(lmq_topic_match_n(bad[i], strlen(bad[i]), "x", 1), 0);
    }
}

int main(void)
{
    RUN(test_name_validation_table);
    RUN(test_filter_validation_table);
    RUN(test_valid_names_without_share_prefix_are_valid_filters);
    RUN(test_negative_length_means_nul_terminated);
    RUN(test_null_pointer_is_invalid_argument);
    RUN(test_length_limit_is_65535_bytes);
    RUN(test_matching_table);
    RUN(test_matching_reports_the_invalid_argument);
    RUN(test_share_split_gives_group_and_inner_filter);
    RUN(test_share_split_rejects_malformed_share);
    return check_done();
}
