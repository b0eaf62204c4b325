/*
 * topic.h - the topics of cohort-pub and cohort-sub: the event header
 * carried at the start of every event's payload, and the subscriber's
 * topic filter.
 *
 * Event layout (docs/protocol.md, "Events of cohort-pub"), integers
 * big-endian, checked field by field on decode, never cast:
 *
 *   offset size field
 *        0    2 magic 0xC0 0xE7
 *        2    1 format version (1)
 *        3    1 flags (0; any other value is rejected)
 *        4    1 topic length T (1..TOPIC_MAX)
 *        5    T topic (a valid topic, see topic_check())
 *      5+T      the event's payload: any bytes, possibly none
 *
 * A topic is 1..TOPIC_MAX bytes of UTF-8 made of levels separated by '/':
 * every level is non-empty, and it holds no control character (bytes
 * < 0x20, 0x7f, or a C1 control U+0080..U+009F), no space, and no '*' or
 * '#' (those two are the filter's wildcards).
 *
 * A pattern is a topic whose levels may also be exactly "*" (matches
 * exactly one level, whatever it holds) or, as the last level only,
 * exactly "#" (matches the rest: zero or more levels). So "a/#" matches
 * "a", "a/b" and "a/b/c"; a/ then * (a pattern C comments
 * cannot spell) matches "a/b" only, not "a" or "a/b/c";
 * "#" matches every topic. A wildcard inside a level ("a*") is refused, as MQTT does.
 */
#ifndef COHORT_TOOLS_TOPIC_H
#define COHORT_TOOLS_TOPIC_H

#include <stddef.h>
#include <stdint.h>

#define TOPIC_MAX 200
#define TOPIC_MAGIC0 0xC0
#define TOPIC_MAGIC1 0xE7
#define TOPIC_VERSION 1
#define TOPIC_FIXED_BYTES 5                        /* before the topic */
#define TOPIC_HEADER_MAX (TOPIC_FIXED_BYTES + TOPIC_MAX)

/* Why an event or a topic was refused (topic_error_text() names it). */
enum topic_error {
    TOPIC_OK = 0,
    TOPIC_ERR_TRUNCATED = -1,   /* shorter than its header says */
    TOPIC_ERR_MAGIC = -2,       /* not a cohort-pub event */
    TOPIC_ERR_VERSION = -3,     /* a format version this build does not
                                   read */
    TOPIC_ERR_FLAGS = -4,       /* unknown flag bits */
    TOPIC_ERR_LENGTH = -5,      /* topic empty or longer than TOPIC_MAX */
    TOPIC_ERR_LEVEL = -6,       /* an empty level ("a//b", "/a", "a/") */
    TOPIC_ERR_BYTE = -7,        /* a control byte or a space */
    TOPIC_ERR_UTF8 = -8,        /* not valid UTF-8 */
    TOPIC_ERR_WILDCARD = -9,    /* '*' or '#' in a topic, or misplaced in
                                   a pattern */
};

/* A static description of a topic_error; never NULL. */
const char *topic_error_text(int err);

/* Is topic[0..len) a valid topic (pattern 0) or pattern (pattern 1)?
 * 0 or a TOPIC_ERR_*. */
int topic_check(const char *topic, size_t len, int pattern);

/* Does the valid pattern match the valid topic? 1 or 0. */
int topic_match(const char *pattern, size_t pattern_len, const char *topic,
                size_t topic_len);

/* Write the header for topic (valid, checked by the caller) into
 * out[0..cap); returns its length, or 0 if cap is too small. */
size_t topic_header_encode(uint8_t *out, size_t cap, const char *topic,
                           size_t topic_len);

/* A decoded event: pointers into the buffer given to topic_decode(). */
struct topic_event {
    const char *topic;          /* not NUL-terminated */
    size_t topic_len;
    const uint8_t *payload;
    size_t payload_len;
};

/* Decode data[0..len) into *ev. 0 or a TOPIC_ERR_* (*ev then unset). */
int topic_decode(const void *data, size_t len, struct topic_event *ev);

#endif /* COHORT_TOOLS_TOPIC_H */
