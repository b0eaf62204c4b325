/*
 * test_topic.c - cohort-pub's event header and cohort-sub's topic filter:
 * valid and invalid topics and patterns, '*' and '#' matching, the header
 * layout in known bytes, every truncation and every single-byte change of
 * an encoded event, and random bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "topic.h"

static int check(const char *t, int pattern)
{
    return topic_check(t, strlen(t), pattern);
}

static int match(const char *p, const char *t)
{
    assert_int_equal(check(p, 1), TOPIC_OK);
    assert_int_equal(check(t, 0), TOPIC_OK);
    return topic_match(p, strlen(p), t, strlen(t));
}

static void test_topics(void **state)
{
    char longest[TOPIC_MAX + 2];
    (void)state;
    assert_int_equal(check("a", 0), TOPIC_OK);
    assert_int_equal(check("svc/db/state", 0), TOPIC_OK);
    assert_int_equal(check("caf\xc3\xa9/+/x", 0), TOPIC_OK); /* '+' plain */
    assert_int_equal(check("", 0), TOPIC_ERR_LENGTH);
    assert_int_equal(topic_check(NULL, 0, 0), TOPIC_ERR_LENGTH);
    assert_int_equal(check("/a", 0), TOPIC_ERR_LEVEL);
    assert_int_equal(check("a/", 0), TOPIC_ERR_LEVEL);
    assert_int_equal(check("a//b", 0), TOPIC_ERR_LEVEL);
    assert_int_equal(check("/", 0), TOPIC_ERR_LEVEL);
    assert_int_equal(check("a b", 0), TOPIC_ERR_BYTE);
    assert_int_equal(check("a\nb", 0), TOPIC_ERR_BYTE);
    assert_int_equal(check("a\x7f", 0), TOPIC_ERR_BYTE);
    assert_int_equal(check("a\xc2\x9b" "b", 0), TOPIC_ERR_BYTE); /* C1 CSI */
    assert_int_equal(check("a\xc2\xa0", 0), TOPIC_OK);        /* U+00A0 */
    assert_int_equal(check("a\xff", 0), TOPIC_ERR_UTF8);
    assert_int_equal(check("a\xc3", 0), TOPIC_ERR_UTF8);
    assert_int_equal(check("*", 0), TOPIC_ERR_WILDCARD);
    assert_int_equal(check("a/#", 0), TOPIC_ERR_WILDCARD);
    assert_int_equal(topic_check("a\0b", 3, 0), TOPIC_ERR_BYTE);
    memset(longest, 'x', sizeof longest);
    assert_int_equal(topic_check(longest, TOPIC_MAX, 0), TOPIC_OK);
    assert_int_equal(topic_check(longest, TOPIC_MAX + 1, 0),
                     TOPIC_ERR_LENGTH);
    for (int e = 0; e >= -9; e--)
        assert_string_not_equal(topic_error_text(e), "?");
    assert_string_equal(topic_error_text(-100), "?");
}

static void test_patterns(void **state)
{
    (void)state;
    assert_int_equal(check("#", 1), TOPIC_OK);
    assert_int_equal(check("*", 1), TOPIC_OK);
    assert_int_equal(check("a/*/c/#", 1), TOPIC_OK);
    assert_int_equal(check("*/*", 1), TOPIC_OK);
    assert_int_equal(check("#/a", 1), TOPIC_ERR_WILDCARD);
    assert_int_equal(check("a#", 1), TOPIC_ERR_WILDCARD);
    assert_int_equal(check("a*", 1), TOPIC_ERR_WILDCARD);
    assert_int_equal(check("a/**", 1), TOPIC_ERR_WILDCARD);
    assert_int_equal(check("a/##", 1), TOPIC_ERR_WILDCARD);
    assert_int_equal(check("a//#", 1), TOPIC_ERR_LEVEL);
}

static void test_match(void **state)
{
    (void)state;
    assert_true(match("a", "a"));
    assert_false(match("a", "b"));
    assert_false(match("a", "ab"));
    assert_false(match("ab", "a"));
    assert_false(match("a", "a/b"));
    assert_false(match("a/b", "a"));
    /* '*': exactly one level */
    assert_true(match("*", "a"));
    assert_false(match("*", "a/b"));
    assert_true(match("a/*", "a/b"));
    assert_false(match("a/*", "a"));
    assert_false(match("a/*", "a/b/c"));
    assert_true(match("*/b", "a/b"));
    assert_true(match("a/*/c", "a/xyz/c"));
    assert_false(match("a/*/c", "a/b/d"));
    assert_true(match("*/*", "a/b"));
    /* '#': zero or more levels, at the end */
    assert_true(match("#", "a"));
    assert_true(match("#", "a/b/c"));
    assert_true(match("a/#", "a"));
    assert_true(match("a/#", "a/b"));
    assert_true(match("a/#", "a/b/c"));
    assert_false(match("a/#", "b/a"));
    assert_false(match("a/#", "ab"));
    assert_true(match("*/#", "a"));
    assert_true(match("a/*/#", "a/b"));
    assert_false(match("a/*/#", "a"));
    assert_true(match("svc/*/state", "svc/db/state"));
    /* '+' is an ordinary character here */
    assert_false(match("a/+", "a/b"));
    assert_true(match("a/+", "a/+"));
}

static void test_header_bytes(void **state)
{
    uint8_t buf[64];
    struct topic_event ev;
    static const uint8_t want[] = { 0xC0, 0xE7, 1, 0, 3, 'a', '/', 'b',
                                    'h', 'i' };
    (void)state;
    assert_int_equal(topic_header_encode(buf, sizeof buf, "a/b", 3), 8);
    memcpy(buf + 8, "hi", 2);
    assert_memory_equal(buf, want, sizeof want);
    assert_int_equal(topic_decode(buf, 10, &ev), TOPIC_OK);
    assert_int_equal(ev.topic_len, 3);
    assert_memory_equal(ev.topic, "a/b", 3);
    assert_int_equal(ev.payload_len, 2);
    assert_ptr_equal(ev.payload, buf + 8);
    /* An empty payload is an event too. */
    assert_int_equal(topic_decode(buf, 8, &ev), TOPIC_OK);
    assert_int_equal(ev.payload_len, 0);
    /* No room, bad lengths. */
    assert_int_equal(topic_header_encode(buf, 7, "a/b", 3), 0);
    assert_int_equal(topic_header_encode(buf, sizeof buf, "", 0), 0);
    assert_int_equal(topic_header_encode(buf, sizeof buf, "a", TOPIC_MAX + 1),
                     0);
}

static void test_decode_rejects(void **state)
{
    uint8_t buf[16], copy[16];
    struct topic_event ev;
    size_t n;
    (void)state;
    n = topic_header_encode(buf, sizeof buf, "x/y", 3);
    buf[n++] = 'p';
    assert_int_equal(topic_decode(NULL, 0, &ev), TOPIC_ERR_MAGIC);
    /* Every truncation of the header is refused, never read past. */
    for (size_t len = 0; len < 8; len++) {
        uint8_t *heap = malloc(len ? len : 1);
        assert_non_null(heap);
        memcpy(heap, buf, len);
        assert_int_not_equal(topic_decode(heap, len, &ev), TOPIC_OK);
        free(heap);
    }
    memcpy(copy, buf, n);
    copy[0] ^= 1;
    assert_int_equal(topic_decode(copy, n, &ev), TOPIC_ERR_MAGIC);
    memcpy(copy, buf, n);
    copy[2] = 2;
    assert_int_equal(topic_decode(copy, n, &ev), TOPIC_ERR_VERSION);
    memcpy(copy, buf, n);
    copy[3] = 0x80;
    assert_int_equal(topic_decode(copy, n, &ev), TOPIC_ERR_FLAGS);
    memcpy(copy, buf, n);
    copy[4] = 0;
    assert_int_equal(topic_decode(copy, n, &ev), TOPIC_ERR_LENGTH);
    memcpy(copy, buf, n);
    copy[4] = 5;                                 /* runs past the end */
    assert_int_equal(topic_decode(copy, n, &ev), TOPIC_ERR_TRUNCATED);
    memcpy(copy, buf, n);
    copy[6] = '#';
    assert_int_equal(topic_decode(copy, n, &ev), TOPIC_ERR_WILDCARD);
    memcpy(copy, buf, n);
    copy[5] = '/';
    assert_int_equal(topic_decode(copy, n, &ev), TOPIC_ERR_LEVEL);
}

static void test_random(void **state)
{
    uint8_t buf[64];
    struct topic_event ev;
    uint32_t x = 12345;
    (void)state;
    /* Whatever the bytes, decode answers and a success points inside. */
    for (int round = 0; round < 20000; round++) {
        size_t len;
        x = x * 1103515245u + 12345u;
        len = (x >> 16) % sizeof buf;
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = (uint8_t)(x >> 16);
        }
        if (len >= 5 && round % 2 == 0) {
            buf[0] = TOPIC_MAGIC0;
            buf[1] = TOPIC_MAGIC1;
            buf[2] = TOPIC_VERSION;
            buf[3] = 0;
            buf[4] = (uint8_t)(buf[4] % 8);
        }
        if (topic_decode(buf, len, &ev) == TOPIC_OK) {
            assert_true(ev.payload + ev.payload_len == buf + len);
            assert_int_equal(topic_check(ev.topic, ev.topic_len, 0), 0);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topics),
        cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_header_bytes),
        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
