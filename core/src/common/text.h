/*
 * text.h - the checks on MQTT text that more than one layer makes: UTF-8
 * as MQTT wants it, and the structure of a shared subscription filter.
 * The codec checks what the wire carries with them and topic/ builds
 * names, filters and matching on them, so they live below both.
 *
 * Internal to the library.
 */
#ifndef LMQ_COMMON_TEXT_H
#define LMQ_COMMON_TEXT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Check a UTF-8 string as MQTT requires [MQTT-1.5.4-1] [MQTT-1.5.4-2]:
 * well-formed (no overlong forms, no surrogates U+D800..U+DFFF, nothing
 * above U+10FFFF) and no U+0000.  A BOM (U+FEFF) is allowed and kept
 * [MQTT-1.5.4-3].  0, LMQ_EUTF8 or LMQ_EUTF8_NUL.
 */
int lmq_utf8_check(const uint8_t *s, size_t n);

/* A borrowed run of characters. */
typedef struct lmq_topic_part {
    const char *p;
    size_t n;
} lmq_topic_part;

/*
 * Split a shared filter "$share/{group}/{inner}" [MQTT-4.8.2-1]
 * [MQTT-4.8.2-2].
 *   1            shared: *group and *inner point into filter
 *   0            not shared (no "$share/" prefix): *group is {NULL, 0},
 *                *inner is the whole filter
 *   LMQ_ESHARE   "$share/" followed by an empty group, a group holding
 *                '+' or '#', no '/' after the group, or an empty inner
 *                filter; *group and *inner are left alone
 * Only the structure is checked; the inner filter's wildcards are not.
 * group or inner may be NULL when the caller does not want them.
 */
int lmq_topic_share_split(const char *filter, size_t len,
                          lmq_topic_part *group, lmq_topic_part *inner);

#endif /* LMQ_COMMON_TEXT_H */
