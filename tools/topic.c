/*
 * topic.c - event header and topic filter of cohort-pub / cohort-sub
 * (see topic.h).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "topic.h"

#include <string.h>

#include "escape.h"

const char *topic_error_text(int err)
{
    switch (err) {
    case TOPIC_OK: return "ok";
    case TOPIC_ERR_TRUNCATED: return "shorter than its header says";
    case TOPIC_ERR_MAGIC: return "not a cohort-pub event";
    case TOPIC_ERR_VERSION: return "an event format version this build "
                                   "does not read";
    case TOPIC_ERR_FLAGS: return "unknown flags in the event header";
    case TOPIC_ERR_LENGTH: return "a topic is 1 to 200 bytes";
    case TOPIC_ERR_LEVEL: return "a topic level is empty (\"a//b\", "
                                 "\"/a\" or \"a/\")";
    case TOPIC_ERR_BYTE: return "a topic holds no space or control byte";
    case TOPIC_ERR_UTF8: return "a topic is valid UTF-8";
    case TOPIC_ERR_WILDCARD: return "'*' and '#' are wildcards: in a "
                                    "pattern, '*' is a whole level and "
                                    "'#' the whole last level; a topic "
                                    "holds neither";
    default: return "?";
    }
}

/* Check one level t[0..len) (no '/' inside); last says whether it ends
 * the topic. */
static int check_level(const char *t, size_t len, int pattern, int last)
{
    const uint8_t *u = (const uint8_t *)t;
    if (len == 0)
        return TOPIC_ERR_LEVEL;
    if (pattern && len == 1 && (t[0] == '*' || (t[0] == '#' && last)))
        return TOPIC_OK;
    for (size_t i = 0; i < len; i++) {
        /* C1 controls (U+0080..U+009F, C2 80..C2 9F) drive terminals as
         * C0 ones do: a topic is printed as it is. */
        int c1 = u[i] == 0xC2 && i + 1 < len && u[i + 1] <= 0x9F;
        if (u[i] <= 0x20 || u[i] == 0x7f || c1)
            return TOPIC_ERR_BYTE;
        if (u[i] == '*' || u[i] == '#')
            return TOPIC_ERR_WILDCARD;
    }
    return esc_utf8_valid(u, len) ? TOPIC_OK : TOPIC_ERR_UTF8;
}

int topic_check(const char *topic, size_t len, int pattern)
{
    size_t start = 0;
    if (topic == NULL || len == 0 || len > TOPIC_MAX)
        return TOPIC_ERR_LENGTH;
    for (;;) {
        const char *slash = memchr(topic + start, '/', len - start);
        size_t end = slash ? (size_t)(slash - topic) : len;
        int r = check_level(topic + start, end - start, pattern,
                            slash == NULL);
        if (r != TOPIC_OK)
            return r;
        if (slash == NULL)
            return TOPIC_OK;
        start = end + 1;
    }
}

/* The level of s[*pos..len) up to the next '/': its length; *pos moves
 * past it and its '/'. *more says whether a level follows. */
static size_t next_level(const char *s, size_t len, size_t *pos, int *more)
{
    const char *slash = memchr(s + *pos, '/', len - *pos);
    size_t end = slash ? (size_t)(slash - s) : len;
    size_t n = end - *pos;
    *more = slash != NULL;
    *pos = slash ? end + 1 : len;
    return n;
}

int topic_match(const char *pattern, size_t pattern_len, const char *topic,
                size_t topic_len)
{
    size_t pp = 0, tp = 0;
    int pmore = 1, tmore = 1;
    /* Both are valid, so every level is non-empty and the loop takes one
     * level of each per turn: at most TOPIC_MAX turns. */
    while (pmore) {
        size_t ps = pp;
        size_t pn = next_level(pattern, pattern_len, &pp, &pmore);
        size_t ts = tp, tn;
        if (pn == 1 && pattern[ps] == '#')
            return 1;               /* the rest, even nothing */
        if (!tmore)
            return 0;               /* the pattern wants more levels */
        tn = next_level(topic, topic_len, &tp, &tmore);
        if (pn == 1 && pattern[ps] == '*')
            continue;
        if (pn != tn || memcmp(pattern + ps, topic + ts, pn) != 0)
            return 0;
    }
    return !tmore;
}

size_t topic_header_encode(uint8_t *out, size_t cap, const char *topic,
                           size_t topic_len)
{
    size_t n = TOPIC_FIXED_BYTES + topic_len;
    if (topic_len == 0 || topic_len > TOPIC_MAX || cap < n)
        return 0;
    out[0] = TOPIC_MAGIC0;
    out[1] = TOPIC_MAGIC1;
    out[2] = TOPIC_VERSION;
    out[3] = 0;
    out[4] = (uint8_t)topic_len;
    memcpy(out + TOPIC_FIXED_BYTES, topic, topic_len);
    return n;
}

int topic_decode(const void *data, size_t len, struct topic_event *ev)
{
    const uint8_t *p = data;
    size_t tlen;
    int r;
    if (p == NULL || len < 2 || p[0] != TOPIC_MAGIC0 || p[1] != TOPIC_MAGIC1)
        return TOPIC_ERR_MAGIC;
    if (len < TOPIC_FIXED_BYTES)
        return TOPIC_ERR_TRUNCATED;
    if (p[2] != TOPIC_VERSION)
        return TOPIC_ERR_VERSION;
    if (p[3] != 0)
        return TOPIC_ERR_FLAGS;
    tlen = p[4];
    if (len - TOPIC_FIXED_BYTES < tlen)
        return TOPIC_ERR_TRUNCATED;
    r = topic_check((const char *)p + TOPIC_FIXED_BYTES, tlen, 0);
    if (r != TOPIC_OK)
        return r;
    ev->topic = (const char *)p + TOPIC_FIXED_BYTES;
    ev->topic_len = tlen;
    ev->payload = p + TOPIC_FIXED_BYTES + tlen;
    ev->payload_len = len - TOPIC_FIXED_BYTES - tlen;
    return TOPIC_OK;
}
