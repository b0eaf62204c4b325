/*
 * test_chat_msg.c - cohort-chat's message format and the neutralising of
 * text from the network (tools/chat_msg.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "chat_msg.h"

static void test_round_trip(void **state)
{
    (void)state;
    uint8_t b[128];
    struct chat_msg m;
    size_t n = chat_msg_encode(b, sizeof b, CHAT_MSG_SAY, "alice", 5,
                               "hi all", 6);
    assert_int_equal(n, CHAT_MSG_HEADER_BYTES + 5 + 6);
    assert_int_equal(b[0], CHAT_MSG_MARKER);
    assert_int_equal(b[1], CHAT_MSG_VERSION);
    assert_int_equal(b[2], CHAT_MSG_SAY);
    assert_int_equal(b[3], 5);
    assert_int_equal(chat_msg_decode(b, n, &m), CHAT_MSG_SAY);
    assert_int_equal(m.name_len, 5);
    assert_memory_equal(m.name, "alice", 5);
    assert_int_equal(m.text_len, 6);
    assert_memory_equal(m.text, "hi all", 6);
    n = chat_msg_encode(b, sizeof b, CHAT_MSG_NAME, "bob", 3, "", 0);
    assert_int_equal(chat_msg_decode(b, n, &m), CHAT_MSG_NAME);
    assert_int_equal(m.text_len, 0);
}

static void test_encode_refuses(void **state)
{
    (void)state;
    uint8_t b[16];
    char name[CHAT_NAME_MAX + 2];
    memset(name, 'n', sizeof name);
    assert_int_equal(chat_msg_encode(b, sizeof b, CHAT_MSG_SAY, "a", 1,
                                     "this is too long", 16), 0);
    assert_int_equal(chat_msg_encode(b, sizeof b, CHAT_MSG_SAY, "", 0,
                                     "x", 1), 0);
    assert_int_equal(chat_msg_encode(b, sizeof b, CHAT_MSG_PLAIN, "a", 1,
                                     "x", 1), 0);
    uint8_t big[256];
    assert_int_equal(chat_msg_encode(big, sizeof big, CHAT_MSG_SAY, name,
                                     CHAT_NAME_MAX + 1, "x", 1), 0);
    assert_int_not_equal(chat_msg_encode(big, sizeof big, CHAT_MSG_SAY,
                                         name, CHAT_NAME_MAX, "x", 1), 0);
}

static void test_plain_text_passes(void **state)
{
    (void)state;
    struct chat_msg m;
    assert_int_equal(chat_msg_decode("hello", 5, &m), CHAT_MSG_PLAIN);
    assert_int_equal(m.text_len, 5);
    assert_int_equal(m.name_len, 0);
    assert_int_equal(chat_msg_decode("", 0, &m), CHAT_MSG_PLAIN);
}

static void test_bad_messages_are_refused(void **state)
{
    (void)state;
    struct chat_msg m;
    static const uint8_t short_hdr[] = { 0xFF, 1, 1 };
    static const uint8_t version2[] = { 0xFF, 2, 1, 1, 'a' };
    static const uint8_t kind0[] = { 0xFF, 1, 0, 1, 'a' };
    static const uint8_t kind9[] = { 0xFF, 1, 9, 1, 'a' };
    static const uint8_t noname[] = { 0xFF, 1, 1, 0, 'x' };
    static const uint8_t past_end[] = { 0xFF, 1, 1, 5, 'a', 'b' };
    static const uint8_t too_long[] = { 0xFF, 1, 1, 64, 'a' };
    assert_int_equal(chat_msg_decode(short_hdr, sizeof short_hdr, &m),
                     CHAT_MSG_BAD);
    assert_int_equal(chat_msg_decode(version2, sizeof version2, &m),
                     CHAT_MSG_BAD);
    assert_int_equal(chat_msg_decode(kind0, sizeof kind0, &m), CHAT_MSG_BAD);
    assert_int_equal(chat_msg_decode(kind9, sizeof kind9, &m), CHAT_MSG_BAD);
    assert_int_equal(chat_msg_decode(noname, sizeof noname, &m),
                     CHAT_MSG_BAD);
    assert_int_equal(chat_msg_decode(past_end, sizeof past_end, &m),
                     CHAT_MSG_BAD);
    assert_int_equal(chat_msg_decode(too_long, sizeof too_long, &m),
                     CHAT_MSG_BAD);
    assert_null(m.name);
}

/* Every prefix of a valid message decodes or is refused, never read
 * past its end (run under ASan in CI). */
static void test_every_truncation(void **state)
{
    (void)state;
    uint8_t b[64];
    struct chat_msg m;
    size_t n = chat_msg_encode(b, sizeof b, CHAT_MSG_ME, "carol", 5,
                               "waves", 5);
    for (size_t len = 1; len < CHAT_MSG_HEADER_BYTES + 5; len++)
        assert_int_equal(chat_msg_decode(b, len, &m), CHAT_MSG_BAD);
    for (size_t len = CHAT_MSG_HEADER_BYTES + 5; len <= n; len++) {
        assert_int_equal(chat_msg_decode(b, len, &m), CHAT_MSG_ME);
        assert_int_equal(m.text_len, len - CHAT_MSG_HEADER_BYTES - 5);
    }
}

static const char *clean(const char *in, size_t len)
{
    static char out[256];
    chat_sanitize(in, len, out, sizeof out);
    return out;
}
#define CLEAN(s) clean((s), sizeof(s) - 1)

static void test_sanitize_controls(void **state)
{
    (void)state;
    assert_string_equal(CLEAN("plain text"), "plain text");
    assert_string_equal(CLEAN("a\033[2Jb"), "a?[2Jb");
    assert_string_equal(CLEAN("bell\a del\x7f"), "bell? del?");
    assert_string_equal(CLEAN("tab\there"), "tab here");
    assert_string_equal(CLEAN("line\r\n"), "line");
    assert_string_equal(CLEAN("mid\rline"), "mid?line");
    /* C1 control CSI (U+009B), as UTF-8 */
    assert_string_equal(CLEAN("x\xc2\x9b" "2Jy"), "x?2Jy");
    /* a right-to-left override */
    assert_string_equal(CLEAN("a\xe2\x80\xae" "b"), "a?b");
}

static void test_sanitize_utf8(void **state)
{
    (void)state;
    assert_string_equal(CLEAN("z\xc3\xa9ro \xe2\x82\xac \xf0\x9f\x98\x80"),
                        "z\xc3\xa9ro \xe2\x82\xac \xf0\x9f\x98\x80");
    assert_string_equal(CLEAN("bad \xff\xfe end"), "bad ?? end");
    assert_string_equal(CLEAN("cut \xe2\x82"), "cut ??");
    /* overlong '/' and a UTF-16 surrogate are not text */
    assert_string_equal(CLEAN("\xc0\xaf"), "??");
    assert_string_equal(CLEAN("\xed\xa0\x80"), "???");
    assert_string_equal(CLEAN("\xf4\x90\x80\x80"), "????");
}

static void test_sanitize_bounds(void **state)
{
    (void)state;
    char out[6];
    /* "ab" + a 3-byte euro sign would need 6 bytes with the NUL. */
    assert_int_equal(chat_sanitize("ab\xe2\x82\xac", 5, out, sizeof out), 5);
    assert_string_equal(out, "ab\xe2\x82\xac");
    assert_int_equal(chat_sanitize("abc\xe2\x82\xac", 6, out, sizeof out),
                     3);
    assert_string_equal(out, "abc");
    char one[1];
    assert_int_equal(chat_sanitize("abc", 3, one, 1), 0);
    assert_string_equal(one, "");
}

static void test_names(void **state)
{
    (void)state;
    assert_true(chat_name_ok("alice", 5));
    assert_true(chat_name_ok("bob@vm", 6));
    assert_false(chat_name_ok("", 0));
    assert_false(chat_name_ok(" x", 2));
    assert_false(chat_name_ok("x ", 2));
    assert_false(chat_name_ok("a\nb", 3));
    assert_false(chat_name_ok("\xe2\x80\xae" "x", 4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_encode_refuses),
        cmocka_unit_test(test_plain_text_passes),
        cmocka_unit_test(test_bad_messages_are_refused),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_sanitize_controls),
        cmocka_unit_test(test_sanitize_utf8),
        cmocka_unit_test(test_sanitize_bounds),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
