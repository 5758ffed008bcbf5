/*
 * text.c - UTF-8 and shared-filter checks (text.h).
 */
#include <string.h>

#include "lunamq.h"
#include "common/text.h"

/* ------------------------------------------------------------------- UTF-8 */

int lmq_utf8_check(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80u) {
            if (c == 0)
                return LMQ_EUTF8_NUL;           /* [MQTT-1.5.4-2] */
            i++;
            continue;
        }
        uint32_t cp;
        size_t len;
        uint32_t min;
        if ((c & 0xE0u) == 0xC0u) {
            cp = c & 0x1Fu; len = 2; min = 0x80u;
        } else if ((c & 0xF0u) == 0xE0u) {
            cp = c & 0x0Fu; len = 3; min = 0x800u;
        } else if ((c & 0xF8u) == 0xF0u) {
            cp = c & 0x07u; len = 4; min = 0x10000u;
        } else {
            return LMQ_EUTF8;                   /* stray continuation, 0xF8.. */
        }
        if (n - i < len)
            return LMQ_EUTF8;                   /* truncated sequence */
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0u) != 0x80u)
                return LMQ_EUTF8;
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        /* [MQTT-1.5.4-1] overlong forms, surrogates and code points past
         * U+10FFFF are ill-formed.  U+FEFF (BOM) is fine and kept
         * [MQTT-1.5.4-3]. */
        if (cp < min || cp > 0x10FFFFu || (cp >= 0xD800u && cp <= 0xDFFFu))
            return LMQ_EUTF8;
        i += len;
    }
    return 0;
}

/* ----------------------------------------------------------- shared filters */

static const char lmq_share_prefix[] = "$share/";
#define LMQ_SHARE_PREFIX_LEN (sizeof lmq_share_prefix - 1)

/* The end of the level starting at s[i]: the index of the next '/', or n. */
static size_t level_end(const char *s, size_t n, size_t i)
{
    const char *slash = i < n ? memchr(s + i, '/', n - i) : NULL;
    return slash ? (size_t)(slash - s) : n;
}

int lmq_topic_share_split(const char *filter, size_t len,
                          lmq_topic_part *group, lmq_topic_part *inner)
{
    if (len < LMQ_SHARE_PREFIX_LEN
        || memcmp(filter, lmq_share_prefix, LMQ_SHARE_PREFIX_LEN) != 0) {
        if (group) {
            group->p = NULL;
            group->n = 0;
        }
        if (inner) {
            inner->p = filter;
            inner->n = len;
        }
        return 0;
    }
    size_t g = LMQ_SHARE_PREFIX_LEN;
    size_t gend = level_end(filter, len, g);
    /* [MQTT-4.8.2-1] a group of at least one character; [MQTT-4.8.2-2]
     * without '+' or '#', followed by '/' and a filter (which a filter
     * needs at least one character to be [MQTT-4.7.3-1]). */
    if (gend == g || gend + 1 >= len)
        return LMQ_ESHARE;
    for (size_t i = g; i < gend; i++)
        if (filter[i] == '+' || filter[i] == '#')
            return LMQ_ESHARE;
    if (group) {
        group->p = filter + g;
        group->n = gend - g;
    }
    if (inner) {
        inner->p = filter + gend + 1;
        inner->n = len - gend - 1;
    }
    return 1;
}
