/*
 * test_escape.c - cohort-sub's output writers: UTF-8 validation (overlong
 * forms, surrogates, the end of Unicode, cut sequences), JSON strings for
 * quotes, backslashes, control bytes and invalid bytes, base64 against
 * RFC 4648's vectors, and the one-line text form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "escape.h"

typedef void (*writer_fn)(FILE *f, const uint8_t *s, size_t len);

/* What writer makes of s[0..len), NUL-terminated; free() it. */
static char *written(writer_fn writer, const void *s, size_t len)
{
    char *out = NULL;
    size_t out_len = 0;
    FILE *f = open_memstream(&out, &out_len);
    assert_non_null(f);
    writer(f, s, len);
    assert_int_equal(fclose(f), 0);
    return out;
}

static void expect(writer_fn writer, const char *in, size_t len,
                   const char *want)
{
    char *got = written(writer, in, len);
    assert_string_equal(got, want);
    free(got);
}

#define EXPECT(w, lit, want) expect((w), (lit), sizeof(lit) - 1, (want))

static int valid(const char *s)
{
    return esc_utf8_valid((const uint8_t *)s, strlen(s));
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(valid(""));
    assert_true(valid("plain ascii"));
    assert_true(valid("caf\xc3\xa9"));                  /* U+00E9 */
    assert_true(valid("\xe2\x82\xac"));                 /* U+20AC */
    assert_true(valid("\xf0\x9f\x98\x80"));             /* U+1F600 */
    assert_true(valid("\xf4\x8f\xbf\xbf"));             /* U+10FFFF */
    assert_true(valid("\xed\x9f\xbf"));                 /* U+D7FF */
    assert_false(valid("\x80"));                        /* stray */
    assert_false(valid("\xc0\xaf"));                    /* overlong '/' */
    assert_false(valid("\xc1\xbf"));
    assert_false(valid("\xe0\x80\xaf"));                /* overlong */
    assert_false(valid("\xf0\x80\x80\xaf"));            /* overlong */
    assert_false(valid("\xed\xa0\x80"));                /* surrogate */
    assert_false(valid("\xf4\x90\x80\x80"));            /* > U+10FFFF */
    assert_false(valid("\xf5\x80\x80\x80"));
    assert_false(valid("\xff"));
    assert_false(valid("\xc3"));                        /* cut short */
    assert_false(valid("\xe2\x82"));
    assert_false(valid("\xe2\x28\xa1"));                /* bad middle */
    assert_int_equal(esc_utf8_seq((const uint8_t *)"\xe2\x82\xac", 3), 3);
    assert_int_equal(esc_utf8_seq((const uint8_t *)"\xe2\x82\xac", 2), 0);
    assert_int_equal(esc_utf8_seq(NULL, 0), 0);
}

static void test_json(void **state)
{
    (void)state;
    EXPECT(esc_json_string, "", "\"\"");
    EXPECT(esc_json_string, "say \"hi\"", "\"say \\\"hi\\\"\"");
    EXPECT(esc_json_string, "a\\b", "\"a\\\\b\"");
    EXPECT(esc_json_string, "l1\nl2\r\t", "\"l1\\nl2\\r\\t\"");
    EXPECT(esc_json_string, "\b\f", "\"\\b\\f\"");
    EXPECT(esc_json_string, "\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
    EXPECT(esc_json_string, "nul\0x", "\"nul\\u0000x\"");
    EXPECT(esc_json_string, "caf\xc3\xa9 \xe2\x82\xac", "\"caf\xc3\xa9 \xe2\x82\xac\"");
    EXPECT(esc_json_string, "/", "\"/\"");
    /* Invalid bytes never reach the output: one U+FFFD each. */
    EXPECT(esc_json_string, "a\xff" "b", "\"a\\ufffdb\"");
    EXPECT(esc_json_string, "\xc3", "\"\\ufffd\"");
    EXPECT(esc_json_string, "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
}

static void test_base64(void **state)
{
    (void)state;
    /* RFC 4648, section 10 */
    EXPECT(esc_base64, "", "");
    EXPECT(esc_base64, "f", "Zg==");
    EXPECT(esc_base64, "fo", "Zm8=");
    EXPECT(esc_base64, "foo", "Zm9v");
    EXPECT(esc_base64, "foob", "Zm9vYg==");
    EXPECT(esc_base64, "fooba", "Zm9vYmE=");
    EXPECT(esc_base64, "foobar", "Zm9vYmFy");
    EXPECT(esc_base64, "\xff\xfe\x00\x80", "//4AgA==");
    EXPECT(esc_base64, "\xfb\xff", "+/8=");
}

static void test_text(void **state)
{
    (void)state;
    EXPECT(esc_text, "hello world", "hello world");
    EXPECT(esc_text, "a\nb\tc\rd", "a\\nb\\tc\\rd");
    EXPECT(esc_text, "back\\slash", "back\\\\slash");
    EXPECT(esc_text, "\x1b[31mred", "\\x1b[31mred");
    EXPECT(esc_text, "\x7f\x00", "\\x7f\\x00");
    EXPECT(esc_text, "caf\xc3\xa9", "caf\xc3\xa9");
    EXPECT(esc_text, "\xc2\x9b" "x", "\\xc2\\x9bx");          /* C1 CSI */
    EXPECT(esc_text, "\xc2\xa0", "\xc2\xa0");                /* U+00A0 */
    EXPECT(esc_text, "\xff\xfe", "\\xff\\xfe");
    EXPECT(esc_text, "\xe2\x82", "\\xe2\\x82");
}

/* Whatever the bytes: JSON output is valid UTF-8 with no raw control
 * byte, text output is one line. */
static void test_random(void **state)
{
    uint8_t in[48];
    uint32_t x = 99;
    (void)state;
    for (int round = 0; round < 5000; round++) {
        char *j, *t;
        size_t len;
        x = x * 1103515245u + 12345u;
        len = (x >> 16) % sizeof in;
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            in[i] = (uint8_t)(x >> 16);
        }
        j = written(esc_json_string, in, len);
        t = written(esc_text, in, len);
        assert_true(esc_utf8_valid((const uint8_t *)j, strlen(j)));
        for (size_t i = 0; j[i] != '\0'; i++)
            assert_true((unsigned char)j[i] >= 0x20);
        assert_null(strchr(t, '\n'));
        assert_true(esc_utf8_valid((const uint8_t *)t, strlen(t)));
        free(j);
        free(t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
